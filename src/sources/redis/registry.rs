//! A registry key: a Redis string naming the leader's `host:port`, as the
//! first Dgraph zero writes `zero`. The console compares it with the leader
//! it observes; the key itself adds no members.

use std::time::Duration;

use redis::Value;

use crate::model::{
    ClusterObservation, RecordedLeader, SourceKind, SourceReport, SourceStatus, normalize_address,
};

use super::connection::Connection;
use super::target::RedisTarget;
use super::value::{text, truncate};

/// One key on one Redis, read every interval.
pub struct RegistryKey {
    connection: Connection,
    key: String,
}

impl RegistryKey {
    pub fn new(target: RedisTarget, key: String) -> Self {
        RegistryKey {
            connection: Connection::new(target),
            key,
        }
    }

    /// Reads the key and builds the report.
    pub async fn poll(&mut self, source: &str, timeout: Duration) -> SourceReport {
        let target = self.connection.target().redacted().to_string();
        let read = self
            .connection
            .query(redis::cmd("GET").arg(&self.key), timeout)
            .await;
        let (status, clusters) = match read {
            Ok(value) => match recorded_address(&value) {
                Ok(address) => (SourceStatus::Ok, vec![self.cluster(&target, address)]),
                Err(what) => (
                    SourceStatus::Error(format!("{target} key {}: {what}", self.key)),
                    Vec::new(),
                ),
            },
            Err(e) => (
                SourceStatus::Error(format!("{target} key {}: {e}", self.key)),
                Vec::new(),
            ),
        };
        SourceReport {
            source: source.to_string(),
            kind: SourceKind::Registry,
            target,
            status,
            at: time::OffsetDateTime::now_utc(),
            clusters,
            members: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn cluster(&self, target: &str, address: String) -> ClusterObservation {
        ClusterObservation {
            id: format!("registry/{}", self.key),
            kind: "registry".into(),
            name: self.key.clone(),
            recorded_leader: Some(RecordedLeader {
                address,
                from: format!("{target} key {}", self.key),
            }),
            ..ClusterObservation::default()
        }
    }
}

/// The normalised address a key's value names, or what is wrong with it.
fn recorded_address(value: &Value) -> Result<String, String> {
    if *value == Value::Nil {
        return Err("no such key".into());
    }
    let raw = text(value).ok_or_else(|| "value is not a string".to_string())?;
    parse_host_port(raw.trim())
        .map(|(host, port)| normalize_address(host, port))
        .ok_or_else(|| format!("value {:?} is not host:port", truncate(&raw, 60)))
}

/// `host:port` or `[v6]:port`.
pub fn parse_host_port(text: &str) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, rest) = rest.split_once(']')?;
        (host, rest.strip_prefix(':')?)
    } else {
        let (host, port) = text.rsplit_once(':')?;
        if host.contains(':') {
            return None;
        }
        (host, port)
    };
    let valid_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c));
    let port: u16 = port.parse().ok().filter(|p| *p != 0)?;
    valid_host.then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(parse_host_port("10.0.0.1:5080"), Some(("10.0.0.1", 5080)));
        assert_eq!(
            parse_host_port("zero-0.zero:5080"),
            Some(("zero-0.zero", 5080))
        );
        assert_eq!(parse_host_port("[::1]:6379"), Some(("::1", 6379)));
        assert_eq!(parse_host_port("::1:6379"), None);
        assert_eq!(parse_host_port("host"), None);
        assert_eq!(parse_host_port("host:0"), None);
        assert_eq!(parse_host_port("host:http"), None);
        assert_eq!(parse_host_port("a b:1"), None);
    }

    #[test]
    fn values_say_what_is_wrong() {
        assert_eq!(
            recorded_address(&Value::BulkString(b"LOCALHOST:7000".to_vec())),
            Ok("127.0.0.1:7000".into())
        );
        assert_eq!(recorded_address(&Value::Nil), Err("no such key".into()));
        let e = recorded_address(&Value::BulkString(b"not an address".to_vec())).unwrap_err();
        assert!(e.contains("not an address"), "{e}");
        let long = "x".repeat(500);
        let e = recorded_address(&Value::BulkString(long.into_bytes())).unwrap_err();
        assert!(e.len() < 120, "{e}");
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC*") {
            let _ = parse_host_port(&text);
            let _ = recorded_address(&Value::BulkString(text.into_bytes()));
        }
    }
}
