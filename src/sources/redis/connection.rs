//! One cached connection to one Redis or Sentinel instance, with bounded
//! calls, reconnect backoff and errors that say what failed without ever
//! showing a password.
//!
//! The connection is a `MultiplexedConnection` kept across polls in the
//! shared [`Reconnect`]: any failure drops it, and the next attempt waits for
//! the backoff (0.5 s doubling to 5 s) so a dead instance is not hammered, yet
//! one that comes back is seen again within a few seconds.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, IntoConnectionInfo, RedisError, Value};

use super::info::parse_info;
use super::target::{RedisTarget, redact_text};
use super::value::{describe, text, truncate};
use crate::sources::poll::Reconnect;

/// Why talking to one instance failed. Messages are redacted and name no
/// address: callers prefix the address or target they belong to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("no answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("authentication refused: {0}")]
    Auth(String),
    #[error("connection lost: {0}")]
    Lost(String),
    #[error("command refused: {0}")]
    Command(String),
    #[error("answer is not what Redis sends: {0}")]
    Garbage(String),
    #[error(
        "not probed: outside the allowed hosts and networks, so no credentials go there \
         (allow it with --allow-net)"
    )]
    NotAllowed,
}

impl ProbeError {
    pub fn is_auth(&self) -> bool {
        matches!(self, ProbeError::Auth(_))
    }
}

/// A lazily opened, cached connection to one instance.
pub struct Connection {
    target: RedisTarget,
    link: Reconnect<Open, ProbeError>,
}

/// An open connection and what was read when it opened.
struct Open {
    connection: MultiplexedConnection,
    /// A few `INFO server` fields read when the connection opened: they only
    /// change when the process restarts, which also means a new connection.
    server: BTreeMap<String, String>,
}

/// What [`Connection::server_fields`] lends while no connection is open.
static NO_FIELDS: BTreeMap<String, String> = BTreeMap::new();

/// `INFO server` fields worth showing with a member.
const SERVER_FIELDS: &[&str] = &["run_id", "redis_version", "redis_mode", "tcp_port"];

impl Connection {
    pub fn new(target: RedisTarget) -> Self {
        Connection {
            target,
            link: Reconnect::default(),
        }
    }

    pub fn target(&self) -> &RedisTarget {
        &self.target
    }

    /// `run_id`, `redis_version`, ... of the process currently connected.
    pub fn server_fields(&self) -> &BTreeMap<String, String> {
        self.link.current().map_or(&NO_FIELDS, |open| &open.server)
    }

    /// Sends one command, bounded by `timeout`.
    pub async fn query(
        &mut self,
        cmd: &redis::Cmd,
        timeout: Duration,
    ) -> Result<Value, ProbeError> {
        let connection = self.open(timeout).await?;
        let result = tokio::time::timeout(timeout, cmd.query_async::<Value>(connection)).await;
        self.settle(result, timeout)
    }

    /// Sends a pipeline, bounded by `timeout`; one value per command.
    pub async fn query_pipeline(
        &mut self,
        pipe: &redis::Pipeline,
        timeout: Duration,
    ) -> Result<Vec<Value>, ProbeError> {
        let connection = self.open(timeout).await?;
        let result =
            tokio::time::timeout(timeout, pipe.query_async::<Vec<Value>>(connection)).await;
        self.settle(result, timeout)
    }

    /// The open connection, opening one if the backoff allows.
    async fn open(&mut self, timeout: Duration) -> Result<&mut MultiplexedConnection, ProbeError> {
        let target = &self.target;
        let open = self
            .link
            .open_with(
                || connect(target, timeout),
                || ProbeError::Connect("waiting to retry".into()),
            )
            .await?;
        Ok(&mut open.connection)
    }

    fn settle<T>(
        &mut self,
        result: Result<Result<T, RedisError>, tokio::time::error::Elapsed>,
        timeout: Duration,
    ) -> Result<T, ProbeError> {
        let error = match result {
            Ok(Ok(value)) => {
                self.link.succeeded();
                return Ok(value);
            }
            Ok(Err(e)) => classify(&self.target, &e, false, timeout),
            Err(_) => ProbeError::Timeout(timeout),
        };
        self.fail(error)
    }

    /// Records a failure found by the caller (an answer it could not read):
    /// the connection is dropped so the next poll starts clean.
    pub fn fail<T>(&mut self, error: ProbeError) -> Result<T, ProbeError> {
        Err(self.link.fail(error))
    }
}

/// Opens a connection to `target` and reads its `INFO server` fields, all
/// within `timeout`.
async fn connect(target: &RedisTarget, timeout: Duration) -> Result<Open, ProbeError> {
    // Opening a connection sends AUTH: never to an address the operator did
    // not allow, whatever a cluster announces.
    if !target.is_allowed() {
        return Err(ProbeError::NotAllowed);
    }
    let info = target
        .connection_url()
        .into_connection_info()
        .map_err(|e| ProbeError::Connect(scrub(&e.to_string(), target.password())))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    // The whole (DNS, TCP, TLS, AUTH) within the timeout.
    let opened = tokio::time::timeout(timeout, async {
        let stream = super::wire::open(info.addr(), &target.trust().tls)
            .await
            .map_err(RedisError::from)?;
        MultiplexedConnection::new_with_config(info.redis_settings(), stream, config).await
    })
    .await
    .map_err(|_| ProbeError::Timeout(timeout))?;
    let (mut connection, driver) = opened.map_err(|e| classify(target, &e, true, timeout))?;
    // Reads and writes the stream; it ends when the connection is dropped.
    tokio::spawn(driver);
    let info = tokio::time::timeout(
        timeout,
        redis::cmd("INFO")
            .arg("server")
            .query_async::<Value>(&mut connection),
    )
    .await
    .map_err(|_| ProbeError::Timeout(timeout))?
    .map_err(|e| classify(target, &e, false, timeout))?;
    Ok(Open {
        connection,
        server: server_fields(&info),
    })
}

/// What kind of failure a client error is, its text redacted.
fn classify(
    target: &RedisTarget,
    error: &RedisError,
    connecting: bool,
    timeout: Duration,
) -> ProbeError {
    let detail = tls_hint(target, scrub(&error.to_string(), target.password()));
    let upper = detail.to_ascii_uppercase();
    let auth_code = matches!(error.code(), Some("WRONGPASS" | "NOAUTH"));
    if error.kind() == ErrorKind::AuthenticationFailed
        || auth_code
        || upper.contains("WRONGPASS")
        || upper.contains("NOAUTH")
        || (upper.contains("AUTH") && upper.contains("PASSWORD"))
    {
        ProbeError::Auth(detail)
    } else if error.is_timeout() {
        ProbeError::Timeout(timeout)
    } else if detail.contains(crate::sources::capped::TOO_LARGE)
        || matches!(
            error.kind(),
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType
        )
    {
        ProbeError::Garbage(detail)
    } else if connecting {
        ProbeError::Connect(detail)
    } else if error.is_io_error() || error.is_connection_dropped() {
        ProbeError::Lost(detail)
    } else {
        ProbeError::Command(detail)
    }
}

/// A TLS failure with what to do about it: the library's words name the
/// alert, not the flag.
fn tls_hint(target: &RedisTarget, detail: String) -> String {
    if !target.is_tls() {
        return detail;
    }
    let hint = if detail.contains("CertificateRequired") {
        "the server asks for a client certificate: give --tls-cert FILE --tls-key FILE"
    } else if detail.contains("UnknownIssuer") {
        "the server's certificate is not signed by a trusted CA: give its CA with --tls-ca FILE"
    } else if detail.contains("NotValidForName") {
        "the server's certificate is not for this host name or address"
    } else {
        return detail;
    };
    format!("{detail} ({hint})")
}

/// Redacts URLs with credentials and any occurrence of `password` (library
/// messages may echo the URL or, in theory, the password itself).
pub fn scrub(text: &str, password: Option<&str>) -> String {
    let redacted = redact_text(text);
    let redacted = match password {
        Some(p) if !p.is_empty() => redacted.replace(p, "***"),
        _ => redacted,
    };
    truncate(&redacted, 200)
}

fn server_fields(info: &Value) -> BTreeMap<String, String> {
    let Some(body) = text(info) else {
        return BTreeMap::new();
    };
    body.lines()
        .filter_map(|line| line.trim_end_matches('\r').split_once(':'))
        .filter(|(k, _)| SERVER_FIELDS.contains(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Polls `INFO replication` and `INFO persistence` (for `loading`) in one
/// round trip and parses them.
pub async fn poll_replication(
    connection: &mut Connection,
    timeout: Duration,
) -> Result<super::info::ReplicationInfo, ProbeError> {
    let mut pipe = redis::pipe();
    pipe.cmd("INFO")
        .arg("replication")
        .cmd("INFO")
        .arg("persistence");
    let values = connection.query_pipeline(&pipe, timeout).await?;
    let mut body = String::new();
    for value in &values {
        match text(value) {
            Some(t) => body.push_str(&t),
            None => {
                return connection.fail(ProbeError::Garbage(format!(
                    "INFO gave {}",
                    describe(value)
                )));
            }
        }
        body.push('\n');
    }
    match parse_info(&body) {
        Ok(info) => Ok(info),
        Err(e) => connection.fail(ProbeError::Garbage(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_urls_and_bare_passwords() {
        let text = "error connecting to redis://app:hunter2@h:1: WRONGPASS hunter2";
        let clean = scrub(text, Some("hunter2"));
        assert!(!clean.contains("hunter2"), "{clean}");
        assert!(clean.contains("WRONGPASS"), "{clean}");
        assert_eq!(scrub("plain", None), "plain");
    }

    #[test]
    fn server_fields_keep_only_the_useful_ones() {
        let info = Value::BulkString(
            b"# Server\r\nredis_version:7.0.15\r\nrun_id:abc\r\nexecutable:/x\r\n".to_vec(),
        );
        let fields = server_fields(&info);
        assert_eq!(
            fields.get("redis_version").map(String::as_str),
            Some("7.0.15")
        );
        assert_eq!(fields.get("run_id").map(String::as_str), Some("abc"));
        assert!(!fields.contains_key("executable"));
    }

    #[tokio::test]
    async fn unreachable_instance_fails_fast_then_waits() {
        // A port nothing listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let target = RedisTarget::parse(&format!("redis://:pw@127.0.0.1:{port}")).unwrap();
        let mut connection = Connection::new(target);
        let first = poll_replication(&mut connection, Duration::from_secs(1)).await;
        let Err(ProbeError::Connect(message)) = first else {
            panic!("expected a connect error, got {first:?}");
        };
        assert!(!message.contains("pw@"), "{message}");
        // Within the backoff the same error comes back without a new attempt.
        let again = poll_replication(&mut connection, Duration::from_secs(1)).await;
        assert_eq!(again.unwrap_err(), ProbeError::Connect(message));
    }

    /// A local server that answers every command with `reply` (or stays
    /// silent), for the failures a real Redis will not produce on demand.
    async fn fake_server(reply: Option<&'static [u8]>) -> RedisTarget {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            return;
                        }
                        // One reply per command (each starts with `*` at a line start).
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        let commands =
                            text.matches("\r\n*").count() + usize::from(text.starts_with('*'));
                        for _ in 0..commands.max(1) {
                            if let Some(reply) = reply {
                                let _ = socket.write_all(reply).await;
                            }
                        }
                    }
                });
            }
        });
        RedisTarget::parse(&format!("redis://127.0.0.1:{port}")).unwrap()
    }

    #[tokio::test]
    async fn a_silent_server_times_out_within_the_bound() {
        let mut connection = Connection::new(fake_server(None).await);
        let timeout = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let result = poll_replication(&mut connection, timeout).await;
        assert!(started.elapsed() < timeout * 4, "{:?}", started.elapsed());
        assert!(matches!(result, Err(ProbeError::Timeout(_))), "{result:?}");
    }

    #[tokio::test]
    async fn a_server_speaking_http_is_garbage_not_a_panic() {
        let reply: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        let mut connection = Connection::new(fake_server(Some(reply)).await);
        let result = poll_replication(&mut connection, Duration::from_secs(1)).await;
        let error = result.unwrap_err();
        assert!(
            matches!(
                error,
                ProbeError::Garbage(_) | ProbeError::Connect(_) | ProbeError::Lost(_)
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn a_50_mb_reply_is_refused_at_the_bound_naming_it() {
        let size = 50 * 1024 * 1024;
        let mut reply = format!("${size}\r\n").into_bytes();
        reply.resize(reply.len() + size, b'x');
        reply.extend_from_slice(b"\r\n");
        let reply: &'static [u8] = Box::leak(reply.into_boxed_slice());
        let mut connection = Connection::new(fake_server(Some(reply)).await);
        let result = poll_replication(&mut connection, Duration::from_secs(10)).await;
        let error = result.unwrap_err();
        assert!(
            error.to_string().contains("reply larger than 8 MiB"),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_info_without_a_role_is_garbage() {
        // A RESP bulk string that is not INFO text: the parser names the problem.
        let reply: &[u8] = b"$5\r\nhello\r\n";
        let mut connection = Connection::new(fake_server(Some(reply)).await);
        let result = poll_replication(&mut connection, Duration::from_secs(1)).await;
        let error = result.unwrap_err();
        assert!(matches!(error, ProbeError::Garbage(_)), "{error:?}");
    }
}
