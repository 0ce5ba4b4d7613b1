//! A leader recorded in Redis: a string key (the first Dgraph zero writes
//! `zero`) or a hash's field naming the leader's `host:port` or name, with
//! the key's time to live. See [`crate::sources::records`].

use std::time::Duration;

use redis::Value;

use super::connection::Connection;
use super::value::{text, truncate};
use crate::sources::records::Reading;
use crate::sources::records::value::recorded_value;

/// The largest value read: a leader's name or address is short, and a key
/// holding megabytes is not a record (STRLEN is asked first).
const MAX_VALUE: i64 = 4096;

/// Reads a key (or a hash's field) and its time to live, in one round trip.
pub async fn read(
    connection: &mut Connection,
    key: &str,
    field: Option<&str>,
    timeout: Duration,
) -> Result<Reading, String> {
    let mut pipe = redis::pipe();
    match field {
        Some(field) => pipe.cmd("HSTRLEN").arg(key).arg(field),
        None => pipe.cmd("STRLEN").arg(key),
    };
    pipe.cmd("PTTL").arg(key);
    let sizes = connection
        .query_pipeline(&pipe, timeout)
        .await
        .map_err(|e| e.to_string())?;
    let (length, ttl) = match sizes.as_slice() {
        [Value::Int(length), Value::Int(ttl)] => (*length, *ttl),
        _ => return Err("unexpected reply to STRLEN/PTTL".into()),
    };
    if length > MAX_VALUE {
        return Err(format!(
            "value of {length} bytes is over the {MAX_VALUE}-byte bound for a record"
        ));
    }
    let get = match field {
        Some(field) => redis::cmd("HGET").arg(key).arg(field).clone(),
        None => redis::cmd("GET").arg(key).clone(),
    };
    let value = connection
        .query(&get, timeout)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Reading {
        value: recorded_address(&value)?,
        // -1: no expiry; -2: no key (already said by the GET).
        ttl_ms: u64::try_from(ttl).ok(),
    })
}

/// The value a key holds, as the model compares it, or what is wrong with it.
fn recorded_address(value: &Value) -> Result<String, String> {
    if *value == Value::Nil {
        return Err("no such key".into());
    }
    let raw = text(value).ok_or_else(|| "value is not a string".to_string())?;
    recorded_value(&truncate(&raw, 300))
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
        let long = "x y".repeat(500);
        let e = recorded_address(&Value::BulkString(long.into_bytes())).unwrap_err();
        assert!(e.len() < 140, "{e}");
    }

    proptest! {
        #[test]
        fn never_panics(text in "\\PC*") {
            let _ = parse_host_port(&text);
            let _ = recorded_address(&Value::BulkString(text.into_bytes()));
        }
    }
}
