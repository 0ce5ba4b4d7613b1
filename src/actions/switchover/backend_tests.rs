//! The HTTP calls against a loopback server that replays what Patroni
//! answered (recorded from Patroni 3.0.2 on loopback:
//! tests/fixtures/probes/patroni/switchover/post-switchover-reply.http, see
//! NOTES.md there) and what etcd 3.4.23 answers a follower; the real etcd
//! and Redis calls are in tests/switchover.rs.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

const PATRONI_REPLY: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/probes/patroni/switchover/post-switchover-reply.http"
));

/// Serves one request with `reply` (a head with bare LF line ends made CRLF)
/// and hands back the request as it came.
async fn serve_once(reply: &'static str) -> (String, tokio::task::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // The head, then as much body as it announces.
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_string)
                    })
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if body.len() >= length || n == 0 {
                    break;
                }
            }
        }
        // The recorded reply is as it came over the wire, CRLF and all.
        let wire = match reply.split_once("\n\n") {
            Some((head, body)) if !reply.contains("\r\n\r\n") => {
                format!("{}\r\n\r\n{body}", head.replace('\n', "\r\n"))
            }
            _ => reply.to_string(),
        };
        stream.write_all(wire.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
        String::from_utf8_lossy(&request).to_string()
    });
    (address, server)
}

fn switchover(call: AppCall) -> Action {
    Action::Switchover {
        member: "m".into(),
        cluster: "c".into(),
        call,
    }
}

fn backend() -> AppBackend {
    AppBackend::new(AppAccess::default(), Duration::from_secs(5))
}

#[tokio::test]
async fn patroni_gets_the_documented_request_and_its_answer_is_the_outcome() {
    let (address, server) = serve_once(PATRONI_REPLY).await;
    let action = switchover(AppCall::Patroni {
        api: address.clone(),
        api_of: "node1".into(),
        leader: "node1".into(),
        candidate: "node2".into(),
    });
    let message = backend().perform(&action).await.unwrap();
    assert_eq!(
        message,
        format!(
            r#"POST http://{address}/switchover: HTTP 200 Successfully switched over to "node2""#
        )
    );
    let request = server.await.unwrap();
    assert!(
        request.starts_with("POST /switchover HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{request}"
    );
    assert!(
        request.ends_with(r#"{"leader":"node1","candidate":"node2"}"#),
        "{request}"
    );
}

/// What etcd 3.4.23 answered a `MoveLeader` sent to a follower (curl on a
/// loopback cluster); the gateway's trailer left out.
const ETCD_NOT_LEADER: &str = "HTTP/1.1 412 Precondition Failed\nContent-Type: application/json\nContent-Length: 78\n\n{\"error\":\"etcdserver: not leader\",\"message\":\"etcdserver: not leader\",\"code\":9}";

#[tokio::test]
async fn a_refusal_is_an_error_quoting_the_application() {
    let (address, server) = serve_once(ETCD_NOT_LEADER).await;
    let action = switchover(AppCall::EtcdMoveLeader {
        endpoint: address.clone(),
        leader: "m0".into(),
        candidate: "m1".into(),
        target_id: "17133004061987981073".into(),
    });
    let error = backend().perform(&action).await.unwrap_err().to_string();
    assert!(
        error.starts_with(&format!(
            "POST http://{address}/v3/maintenance/transfer-leadership: HTTP 412 "
        )) && error.contains("etcdserver: not leader"),
        "{error}"
    );
    let request = server.await.unwrap();
    assert!(
        request.ends_with(r#"{"targetID":"17133004061987981073"}"#),
        "{request}"
    );
}

#[tokio::test]
async fn nobody_listening_says_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let action = switchover(AppCall::EtcdMoveLeader {
        endpoint: format!("127.0.0.1:{port}"),
        leader: "m0".into(),
        candidate: "m1".into(),
        target_id: "1".into(),
    });
    let error = backend().perform(&action).await.unwrap_err().to_string();
    assert!(error.contains("cannot connect"), "{error}");
}

#[test]
fn replies_are_one_bounded_escaped_line() {
    assert_eq!(shown(b"a\n  b\x1b[31m"), "a b\\e[31m");
    assert_eq!(shown(&[b'x'; 5000]).chars().count(), 300);
}

#[test]
fn sentinel_connections_are_found_by_their_names() {
    // As Redis 7.0 lists them (fields cut short).
    let list = "id=3 addr=127.0.0.1:50120 laddr=127.0.0.1:6379 fd=8 name=sentinel-1a2b3c4d-cmd age=9 cmd=ping\n\
                id=4 addr=127.0.0.1:50122 laddr=127.0.0.1:6379 fd=9 name=sentinel-1a2b3c4d-pubsub age=9 cmd=subscribe\n\
                id=5 addr=127.0.0.1:50130 laddr=127.0.0.1:6379 fd=10 name= age=1 cmd=client|list\n";
    assert_eq!(sentinel_clients(list), 2);
    assert_eq!(
        sentinel_clients("id=5 addr=x name=not-sentinel-x cmd=info\n"),
        0
    );
}

fn spec_redis(url: &str) -> SourceSpec {
    SourceSpec::Redis(RedisTarget::parse(url).unwrap())
}

#[test]
fn redis_credentials_come_from_the_source_that_found_the_group() {
    let specs = [
        spec_redis("redis://:first@127.0.0.1:7000"),
        spec_redis("redis://:second@127.0.0.1:6379"),
    ];
    let apps = AppAccess::from_sources(&specs);
    let node = apps.node("redis/127.0.0.1:6379", "127.0.0.1:6380").unwrap();
    assert_eq!(
        (node.address(), node.password()),
        ("127.0.0.1:6380", Some("second"))
    );
    let other = apps.node("redis/10.0.0.1:6379", "127.0.0.1:6381").unwrap();
    assert_eq!(other.password(), Some("first"));
    let e = apps
        .sentinel("mymaster", "127.0.0.1:26379")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "no Sentinel source of this session holds the credentials for 127.0.0.1:26379"
    );
    let e = apps.node("c", "not an address").unwrap_err().to_string();
    assert_eq!(e, "not an address is not host:port");
    assert_eq!(apps.http("etcd").0, "http", "no etcd probe: plain HTTP");
}
