//! PostgreSQL as a probe transport: each request's SQL is run on the
//! server wrapped so its rows come back as one JSON text (an array of row
//! objects), which the definition's jq then reads like any HTTP reply.
//!
//! One connection per member is kept between polls: connecting costs the
//! server a backend process and, with SCRAM, both sides thousands of hash
//! rounds, which at a 1 s interval would be most of the probe's work.
//! Sessions are read-only (`default_transaction_read_only`), so a query in
//! an operator's definition cannot write. Every reply is bounded twice:
//! the server refuses to send a JSON text over [`MAX_REPLY`], and the
//! socket itself stops reading past that (a hostile server ignores the
//! first). Credentials (the password given, else the matching line of
//! `~/.pgpass`) go only to hosts the operator allowed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::net::TcpStream;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, NoTls};

use super::access::Access;
use super::fetch::MAX_REPLY;
use super::pgpass;
use crate::escape::escape;
use crate::sources::capped::{Capped, TOO_LARGE};

/// The user when neither the URL nor `--probe-user` names one.
pub const DEFAULT_USER: &str = "postgres";
/// The database when the URL names none.
pub const DEFAULT_DATABASE: &str = "postgres";
/// Room for the protocol around a reply (row description, completion).
const SLACK: usize = 64 * 1024;
/// How long the server lets one probe query run.
const STATEMENT_TIMEOUT_MS: u32 = 10_000;

/// Who to connect as and how, for every member of one probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// From the URL; else `--probe-user`; else [`DEFAULT_USER`].
    pub user: Option<String>,
    pub database: Option<String>,
    /// TLS verified against `--probe-ca` (else the system's roots).
    pub tls: bool,
}

/// The open connections of one probe, by member endpoint.
#[derive(Debug, Default, Clone)]
pub struct Sessions {
    target: Target,
    open: Arc<Mutex<HashMap<String, Slot>>>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Session>>>;

struct Session {
    client: Client,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Session")
    }
}

impl Sessions {
    pub fn new(target: Target) -> Sessions {
        Sessions {
            target,
            open: Arc::default(),
        }
    }

    fn slot(&self, endpoint: &str) -> Slot {
        let mut open = self.open.lock().expect("sessions");
        Arc::clone(open.entry(endpoint.to_string()).or_default())
    }
}

/// Runs `sql` on the member at `endpoint` and gives its rows as JSON.
pub async fn query(
    sessions: &Sessions,
    access: &Access,
    endpoint: &str,
    sql: &str,
) -> Result<Value, String> {
    let slot = sessions.slot(endpoint);
    let mut held = slot.lock().await;
    if held.as_ref().is_some_and(|s| s.client.is_closed()) {
        *held = None;
    }
    if held.is_none() {
        *held = Some(connect(&sessions.target, access, endpoint).await?);
    }
    let session = held.as_ref().expect("just connected");
    let result = run(session, sql).await;
    if session.client.is_closed() {
        // A lost connection is made anew on the next ask.
        *held = None;
    }
    result
}

/// The SQL actually sent: the rows as one JSON text, withheld by the
/// server itself when over [`MAX_REPLY`] (its length still says why).
pub fn wrapped(sql: &str) -> String {
    let sql = sql.trim().trim_end_matches(';');
    format!(
        "select octet_length(j)::int8, case when octet_length(j) <= {MAX_REPLY} then j end \
         from (select coalesce(json_agg(t), '[]'::json)::text as j from ({sql}\n) t) s"
    )
}

/// One statement through the extended protocol, in one round trip: a
/// definition's SQL cannot end the wrapper and run a second statement.
async fn run(session: &Session, sql: &str) -> Result<Value, String> {
    let row = session
        .client
        .query_typed_one(&wrapped(sql), &[])
        .await
        .map_err(|e| describe(&e, None))?;
    let length: i64 = row.try_get(0).map_err(|e| e.to_string())?;
    let json: Option<&str> = row.try_get(1).map_err(|e| e.to_string())?;
    match json {
        Some(json) => {
            serde_json::from_str(json).map_err(|e| format!("the server's JSON does not parse: {e}"))
        }
        None => Err(format!(
            "reply of {length} bytes over {} MiB, refused",
            MAX_REPLY >> 20
        )),
    }
}

async fn connect(target: &Target, access: &Access, endpoint: &str) -> Result<Session, String> {
    let (host, port) = split_endpoint(endpoint)?;
    let user = target
        .user
        .clone()
        .or_else(|| access.user.clone())
        .unwrap_or_else(|| DEFAULT_USER.into());
    let database = target
        .database
        .clone()
        .unwrap_or_else(|| DEFAULT_DATABASE.into());
    let trusted = access.allows(host);
    let (password, note) = if trusted {
        password(access, host, port, &database, &user)
    } else {
        (None, None)
    };
    let mut config = tokio_postgres::Config::new();
    config
        .user(&user)
        .dbname(&database)
        .application_name("clusterdeck")
        .options(format!(
            "-c default_transaction_read_only=on -c statement_timeout={STATEMENT_TIMEOUT_MS}"
        ));
    if let Some(password) = &password {
        config.password(password.as_bytes());
    }
    let stream = TcpStream::connect(endpoint)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let stream = Capped::new(stream, MAX_REPLY + SLACK);
    let client = handshake(target, access, trusted, host, config, stream)
        .await
        .map_err(|failure| {
            let mut text = match failure {
                Failure::Setup(text) => text,
                Failure::Pg(e) => describe(&e, Some((trusted, password.is_some()))),
            };
            if let Some(note) = &note {
                text.push_str(&format!(" ({})", escape(note)));
            }
            text
        })?;
    Ok(Session { client })
}

/// The password given (file or environment), else the one `~/.pgpass`
/// holds for this host, port, database and user; with a note on why the
/// password file was not read, if it was not.
fn password(
    access: &Access,
    host: &str,
    port: u16,
    database: &str,
    user: &str,
) -> (Option<String>, Option<String>) {
    if let Some(password) = &access.password {
        return (Some(password.clone()), None);
    }
    let Some(path) = pgpass::path() else {
        return (None, None);
    };
    let wanted = pgpass::Wanted {
        host: host.trim_start_matches('[').trim_end_matches(']'),
        port,
        database,
        user,
    };
    match pgpass::password(&path, wanted) {
        Ok(found) => (found, None),
        Err(why) => (None, Some(why)),
    }
}

/// Why a connection was not made: before speaking to the server (TLS
/// settings), or the server's or the protocol's word.
enum Failure {
    Setup(String),
    Pg(tokio_postgres::Error),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Failure {
        Failure::Pg(error)
    }
}

/// The startup and authentication exchange, TLS first when asked for; the
/// connection's task runs until its client is dropped.
async fn handshake(
    target: &Target,
    access: &Access,
    trusted: bool,
    host: &str,
    mut config: tokio_postgres::Config,
    stream: Capped<TcpStream>,
) -> Result<Client, Failure> {
    if !target.tls {
        config.ssl_mode(tokio_postgres::config::SslMode::Disable);
        let (client, connection) = config.connect_raw(stream, NoTls).await?;
        tokio::spawn(connection);
        return Ok(client);
    }
    config.ssl_mode(tokio_postgres::config::SslMode::Require);
    let tls = access.tls_config(trusted).map_err(Failure::Setup)?;
    let mut maker = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let connector = MakeTlsConnect::<Capped<TcpStream>>::make_tls_connect(&mut maker, host)
        .map_err(|e| Failure::Setup(format!("bad TLS server name `{}`: {e}", escape(host))))?;
    let (client, connection) = config.connect_raw(stream, connector).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// `(host, port)` of `host:port` (`[v6]:port`).
fn split_endpoint(endpoint: &str) -> Result<(&str, u16), String> {
    endpoint
        .rsplit_once(':')
        .and_then(|(host, port)| Some((host, port.parse().ok()?)))
        .ok_or_else(|| format!("`{}` is not host:port", escape(endpoint)))
}

/// An error in one line: the server's own message when it sent one (a
/// refused password, a missing grant), with what to do where that is
/// clear. `auth` is (host trusted, password given) while connecting.
fn describe(error: &tokio_postgres::Error, auth: Option<(bool, bool)>) -> String {
    let text = match error.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                let more = cause.to_string();
                if !text.contains(&more) {
                    text = format!("{text}: {more}");
                }
                source = cause.source();
            }
            text
        }
    };
    // The socket's bound (the JSON's own bound is the server's, above).
    if text.contains(TOO_LARGE) {
        return format!("reply over {} MiB, refused", MAX_REPLY >> 20);
    }
    let text: String = escape(&text).chars().take(300).collect();
    let hint = match auth {
        Some((false, _)) => {
            " (credentials withheld: the host is not named in --probe and not in --allow-net)"
        }
        Some((true, false)) if text.contains("password missing") => {
            " (the server asks for a password: give --probe-password-file, $PROBE_PASSWORD, or a line in ~/.pgpass / $PGPASSFILE)"
        }
        _ => "",
    };
    format!("{text}{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sql_is_wrapped_whole_whatever_ends_it() {
        let sql = wrapped("select 1 as a; -- done");
        assert!(sql.contains("from (select 1 as a; -- done\n) t)"), "{sql}");
        let sql = wrapped("  select 1 as a ;;\n");
        assert!(sql.contains("from (select 1 as a \n) t)"), "{sql}");
        assert!(sql.contains(&format!("<= {MAX_REPLY}")));
    }

    #[test]
    fn an_endpoint_splits_into_host_and_port() {
        assert_eq!(
            split_endpoint("127.0.0.1:5432").unwrap(),
            ("127.0.0.1", 5432)
        );
        assert_eq!(split_endpoint("[::1]:6432").unwrap(), ("[::1]", 6432));
        assert!(split_endpoint("nohost").is_err());
    }
}
