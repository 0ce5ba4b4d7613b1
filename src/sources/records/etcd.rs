//! A recorded leader in etcd, read through its v3 JSON gateway (what
//! `etcdctl get` and `etcdctl lease timetolive` ask): one key (Patroni's
//! `/service/<scope>/leader`), or an election (`etcdctl elect NAME`), whose
//! leader is the key under `NAME/` created first. The key's lease gives
//! the record's time to live.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::Reading;
use super::value::recorded_value;
use crate::sources::probes::fetch::{Clients, send};

/// Reads `key` (or the election `key`) from the etcd at `url`.
pub async fn read(
    clients: &Clients,
    url: &str,
    key: &str,
    election: bool,
    timeout: Duration,
) -> Result<Reading, String> {
    let reply = post(
        clients,
        url,
        "/v3/kv/range",
        range_body(key, election),
        timeout,
    )
    .await?;
    let (value, lease) = current(&reply)?;
    let ttl_ms = match lease {
        Some(id) => {
            let body = json!({"ID": id});
            let reply = post(clients, url, "/v3/lease/timetolive", body, timeout).await?;
            ttl_of(&reply)
        }
        None => None,
    };
    Ok(Reading {
        value: recorded_value(&value)?,
        ttl_ms,
    })
}

/// The range request: the key, or the election's oldest candidate.
pub fn range_body(key: &str, election: bool) -> Value {
    if !election {
        return json!({"key": STANDARD.encode(key)});
    }
    let prefix = format!("{}/", key.trim_end_matches('/'));
    json!({
        "key": STANDARD.encode(&prefix),
        "range_end": STANDARD.encode(prefix_end(prefix.as_bytes())),
        "sort_order": "ASCEND",
        "sort_target": "CREATE",
        "limit": 1
    })
}

/// The first key after every key starting with `prefix`.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The value and lease id (etcd sends 64-bit numbers as strings; `0` is
/// no lease) of the range reply's first key.
pub fn current(reply: &Value) -> Result<(String, Option<String>), String> {
    let kv = reply
        .get("kvs")
        .and_then(|k| k.get(0))
        .ok_or("no such key")?;
    let encoded = kv.get("value").and_then(Value::as_str).unwrap_or("");
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|_| "the value is not base64 (is this etcd's gateway?)".to_string())?;
    let lease = match kv.get("lease") {
        Some(Value::String(s)) if s != "0" => Some(s.clone()),
        Some(Value::Number(n)) if n.as_u64() != Some(0) => Some(n.to_string()),
        _ => None,
    };
    Ok((String::from_utf8_lossy(&bytes).into_owned(), lease))
}

/// Milliseconds the lease has left, from `lease/timetolive`.
pub fn ttl_of(reply: &Value) -> Option<u64> {
    let ttl = match reply.get("TTL")? {
        Value::String(s) => s.parse::<i64>().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    (ttl >= 0).then(|| ttl as u64 * 1000)
}

async fn post(
    clients: &Clients,
    url: &str,
    path: &str,
    body: Value,
    timeout: Duration,
) -> Result<Value, String> {
    let request = clients
        .anonymous()
        .post(format!("{}{path}", url.trim_end_matches('/')))
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(timeout);
    let (status, reply) = send(request).await?;
    if !status.is_success() {
        return Err(format!("HTTP {} from POST {path}", status.as_u16()));
    }
    serde_json::from_slice(&reply).map_err(|e| format!("POST {path}: not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `etcdctl get --prefix /service/ -w json` and `lease timetolive`
    /// against Patroni's etcd (tests/fixtures/probes/patroni/steady).
    #[test]
    fn patronis_leader_key_and_its_lease() {
        let reply = json!({"kvs": [{"key": STANDARD.encode("/service/cdtest/leader"),
            "value": STANDARD.encode("node1"), "lease": "7587892434466592775"}]});
        let (value, lease) = current(&reply).unwrap();
        assert_eq!(value, "node1");
        assert_eq!(lease.as_deref(), Some("7587892434466592775"));
        let ttl = json!({"ID": "7587892434466592775", "TTL": "9", "grantedTTL": "10"});
        assert_eq!(ttl_of(&ttl), Some(9000));
        assert_eq!(ttl_of(&json!({"ID": "1", "TTL": "-1"})), None, "expired");
    }

    #[test]
    fn a_missing_key_and_garbage_are_errors() {
        assert_eq!(current(&json!({"count": "0"})).unwrap_err(), "no such key");
        let bad = json!({"kvs": [{"value": "%%%"}]});
        assert!(current(&bad).unwrap_err().contains("base64"));
    }

    #[test]
    fn an_election_reads_the_oldest_candidate_under_its_prefix() {
        let body = range_body("dgraph-zero", true);
        assert_eq!(body["key"], STANDARD.encode("dgraph-zero/"));
        assert_eq!(body["range_end"], STANDARD.encode("dgraph-zero0"));
        assert_eq!(
            (body["sort_target"].as_str(), body["limit"].as_u64()),
            (Some("CREATE"), Some(1))
        );
        assert_eq!(prefix_end(&[0x61, 0xff]), vec![0x62]);
    }
}
