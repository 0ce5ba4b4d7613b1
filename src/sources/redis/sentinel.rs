//! Parsing Sentinel's replies: `SENTINEL MASTERS`, `SENTINEL MASTER name`,
//! `SENTINEL REPLICAS name`, `SENTINEL SENTINELS name` and `SENTINEL
//! GET-MASTER-ADDR-BY-NAME name` (the address Sentinel gives clients: the
//! promoted replica as soon as a failover has promoted it). Each entry is a
//! flat field/value array in RESP2 or a map in RESP3; both read the same.
//! Every field is kept in `fields`, the ones the console uses are typed.

use std::collections::BTreeMap;

use redis::Value;

use super::value::{describe, integer, items, pairs, text};

/// Why a Sentinel reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SentinelReplyError {
    #[error("SENTINEL {command} reply is not a list of entries: {found}")]
    NotAList {
        command: &'static str,
        found: String,
    },
    #[error("SENTINEL {command} entry {index} is not field/value pairs: {found}")]
    NotPairs {
        command: &'static str,
        index: usize,
        found: String,
    },
    #[error("SENTINEL {command} entry {index} has no {field}")]
    Missing {
        command: &'static str,
        index: usize,
        field: &'static str,
    },
    #[error("SENTINEL {command} entry {index} has a bad {field}: {value:?}")]
    BadField {
        command: &'static str,
        index: usize,
        field: &'static str,
        value: String,
    },
}

/// The fields every Sentinel entry has: which instance, and Sentinel's flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelEntry {
    pub name: String,
    pub ip: String,
    pub port: u16,
    /// `master`, `slave`, `sentinel`, `s_down`, `o_down`, `disconnected`, ...
    pub flags: Vec<String>,
    pub run_id: Option<String>,
    /// Every field, as Sentinel gave it.
    pub fields: BTreeMap<String, String>,
}

impl SentinelEntry {
    /// An entry for `127.0.0.1:PORT` with comma-separated flags, for tests.
    #[cfg(test)]
    pub fn on_loopback(port: u16, flags: &str) -> SentinelEntry {
        SentinelEntry {
            name: format!("127.0.0.1:{port}"),
            ip: "127.0.0.1".into(),
            port,
            flags: flags.split(',').map(str::to_string).collect(),
            run_id: None,
            fields: BTreeMap::new(),
        }
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// Sentinel thinks it is down (subjectively or objectively) or cannot reach it.
    pub fn is_down(&self) -> bool {
        self.has_flag("s_down") || self.has_flag("o_down") || self.has_flag("disconnected")
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.fields.get(key).and_then(|v| v.trim().parse().ok())
    }
}

/// A master as `SENTINEL MASTERS` / `SENTINEL MASTER` describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelMaster {
    pub entry: SentinelEntry,
    pub quorum: Option<u32>,
    pub num_slaves: Option<u32>,
    pub num_other_sentinels: Option<u32>,
    /// Present while a failover runs (`wait_start`, `select_slave`, ...).
    pub failover_state: Option<String>,
}

/// A replica as `SENTINEL REPLICAS` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelReplica {
    pub entry: SentinelEntry,
    pub master_link_status: Option<String>,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub slave_repl_offset: Option<u64>,
}

/// Another Sentinel as `SENTINEL SENTINELS` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelPeer {
    pub entry: SentinelEntry,
}

/// Parses `SENTINEL MASTERS`.
pub fn parse_masters(value: &Value) -> Result<Vec<SentinelMaster>, SentinelReplyError> {
    entries(value, "MASTERS")?
        .into_iter()
        .enumerate()
        .map(|(i, fields)| master(fields, "MASTERS", i))
        .collect()
}

/// Parses `SENTINEL MASTER name`: one entry, not a list.
pub fn parse_master(value: &Value) -> Result<SentinelMaster, SentinelReplyError> {
    let fields = entry_pairs(value, "MASTER", 0)?;
    master(fields, "MASTER", 0)
}

/// Parses `SENTINEL REPLICAS name` (or the older `SENTINEL SLAVES name`).
pub fn parse_replicas(value: &Value) -> Result<Vec<SentinelReplica>, SentinelReplyError> {
    entries(value, "REPLICAS")?
        .into_iter()
        .enumerate()
        .map(|(i, fields)| {
            let entry = entry(fields, "REPLICAS", i)?;
            Ok(SentinelReplica {
                master_link_status: entry.fields.get("master-link-status").cloned(),
                master_host: entry.fields.get("master-host").cloned(),
                master_port: entry.number("master-port"),
                slave_repl_offset: entry.number("slave-repl-offset"),
                entry,
            })
        })
        .collect()
}

/// Parses `SENTINEL SENTINELS name`.
pub fn parse_sentinels(value: &Value) -> Result<Vec<SentinelPeer>, SentinelReplyError> {
    entries(value, "SENTINELS")?
        .into_iter()
        .enumerate()
        .map(|(i, fields)| {
            Ok(SentinelPeer {
                entry: entry(fields, "SENTINELS", i)?,
            })
        })
        .collect()
}

/// Parses `SENTINEL GET-MASTER-ADDR-BY-NAME name`: `[host, port]`, or nil
/// for a name Sentinel does not know.
pub fn parse_master_addr(value: &Value) -> Result<Option<(String, u16)>, SentinelReplyError> {
    if *value == Value::Nil {
        return Ok(None);
    }
    let bad = || SentinelReplyError::NotAList {
        command: "GET-MASTER-ADDR-BY-NAME",
        found: describe(value),
    };
    let [host, port] = items(value).ok_or_else(bad)? else {
        return Err(bad());
    };
    let port = text(port)
        .and_then(|p| p.trim().parse().ok())
        .or_else(|| integer(port).and_then(|p| u16::try_from(p).ok()));
    match (text(host), port) {
        (Some(host), Some(port)) => Ok(Some((host, port))),
        _ => Err(bad()),
    }
}

fn master(
    fields: Vec<(String, String)>,
    command: &'static str,
    index: usize,
) -> Result<SentinelMaster, SentinelReplyError> {
    let entry = entry(fields, command, index)?;
    Ok(SentinelMaster {
        quorum: entry.number("quorum"),
        num_slaves: entry.number("num-slaves"),
        num_other_sentinels: entry.number("num-other-sentinels"),
        failover_state: entry.fields.get("failover-state").cloned(),
        entry,
    })
}

fn entries(
    value: &Value,
    command: &'static str,
) -> Result<Vec<Vec<(String, String)>>, SentinelReplyError> {
    let list = items(value).ok_or_else(|| SentinelReplyError::NotAList {
        command,
        found: describe(value),
    })?;
    list.iter()
        .enumerate()
        .map(|(i, v)| entry_pairs(v, command, i))
        .collect()
}

fn entry_pairs(
    value: &Value,
    command: &'static str,
    index: usize,
) -> Result<Vec<(String, String)>, SentinelReplyError> {
    pairs(value).ok_or_else(|| SentinelReplyError::NotPairs {
        command,
        index,
        found: describe(value),
    })
}

fn entry(
    pairs: Vec<(String, String)>,
    command: &'static str,
    index: usize,
) -> Result<SentinelEntry, SentinelReplyError> {
    let fields: BTreeMap<String, String> = pairs.into_iter().collect();
    let get = |field: &'static str| {
        fields
            .get(field)
            .cloned()
            .ok_or(SentinelReplyError::Missing {
                command,
                index,
                field,
            })
    };
    let name = get("name")?;
    let ip = get("ip")?;
    let port_text = get("port")?;
    let port = port_text
        .trim()
        .parse()
        .map_err(|_| SentinelReplyError::BadField {
            command,
            index,
            field: "port",
            value: super::value::truncate(&port_text, 20),
        })?;
    let flags = fields
        .get("flags")
        .map(|f| {
            f.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(SentinelEntry {
        name,
        ip,
        port,
        flags,
        run_id: fields.get("runid").cloned(),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::redis::role::tests::any_value;
    use proptest::prelude::*;

    fn flat(pairs: &[(&str, &str)]) -> Value {
        Value::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| {
                    [
                        Value::BulkString(k.as_bytes().to_vec()),
                        Value::BulkString(v.as_bytes().to_vec()),
                    ]
                })
                .collect(),
        )
    }

    /// Field order and values as redis-sentinel 7.0.15 sends them.
    const MASTER: &[(&str, &str)] = &[
        ("name", "mymaster"),
        ("ip", "127.0.0.1"),
        ("port", "7301"),
        ("runid", "4e1c3bd3c6bb1a5c3bde1f6d24d8f8f3a6b6e1d2"),
        ("flags", "master"),
        ("link-pending-commands", "0"),
        ("link-refcount", "1"),
        ("last-ping-sent", "0"),
        ("last-ok-ping-reply", "310"),
        ("last-ping-reply", "310"),
        ("down-after-milliseconds", "1000"),
        ("info-refresh", "3405"),
        ("role-reported", "master"),
        ("role-reported-time", "20530"),
        ("config-epoch", "0"),
        ("num-slaves", "2"),
        ("num-other-sentinels", "2"),
        ("quorum", "2"),
        ("failover-timeout", "3000"),
        ("parallel-syncs", "1"),
    ];

    const REPLICA: &[(&str, &str)] = &[
        ("name", "127.0.0.1:7302"),
        ("ip", "127.0.0.1"),
        ("port", "7302"),
        ("runid", "9d0a7c8b1e"),
        ("flags", "slave"),
        ("master-link-down-time", "0"),
        ("master-link-status", "ok"),
        ("master-host", "127.0.0.1"),
        ("master-port", "7301"),
        ("slave-priority", "100"),
        ("slave-repl-offset", "53512"),
        ("replica-announced", "1"),
    ];

    #[test]
    fn masters_resp2() {
        let reply = Value::Array(vec![flat(MASTER)]);
        let masters = parse_masters(&reply).unwrap();
        assert_eq!(masters.len(), 1);
        let m = &masters[0];
        assert_eq!(m.entry.name, "mymaster");
        assert_eq!(m.entry.port, 7301);
        assert_eq!(m.quorum, Some(2));
        assert_eq!(m.num_other_sentinels, Some(2));
        assert_eq!(m.failover_state, None);
        assert!(!m.entry.is_down());
        assert_eq!(m.entry.fields["parallel-syncs"], "1");
        assert_eq!(parse_master(&flat(MASTER)).unwrap(), masters[0]);
    }

    #[test]
    fn master_in_failover_resp3() {
        let mut fields: Vec<(Value, Value)> = MASTER
            .iter()
            .map(|(k, v)| {
                let value = if *k == "flags" {
                    Value::SimpleString("master,s_down,o_down,failover_in_progress".into())
                } else {
                    Value::BulkString(v.as_bytes().to_vec())
                };
                (Value::SimpleString(k.to_string()), value)
            })
            .collect();
        fields.push((
            Value::SimpleString("failover-state".into()),
            Value::SimpleString("wait_promotion".into()),
        ));
        let m = parse_master(&Value::Map(fields)).unwrap();
        assert!(m.entry.is_down() && m.entry.has_flag("o_down"));
        assert_eq!(m.failover_state.as_deref(), Some("wait_promotion"));
    }

    #[test]
    fn replicas_and_sentinels() {
        let replicas = parse_replicas(&Value::Array(vec![flat(REPLICA)])).unwrap();
        assert_eq!(replicas[0].master_link_status.as_deref(), Some("ok"));
        assert_eq!(replicas[0].slave_repl_offset, Some(53512));
        assert_eq!(replicas[0].master_port, Some(7301));
        let peer = flat(&[
            ("name", "abc"),
            ("ip", "127.0.0.1"),
            ("port", "26380"),
            ("runid", "abc"),
            ("flags", "sentinel"),
        ]);
        let peers = parse_sentinels(&Value::Array(vec![peer])).unwrap();
        assert_eq!(peers[0].entry.port, 26380);
        assert!(parse_sentinels(&Value::Array(vec![])).unwrap().is_empty());
    }

    #[test]
    fn malformed_replies_say_what() {
        let e = parse_masters(&Value::Nil).unwrap_err().to_string();
        assert!(e.contains("MASTERS") && e.contains("nil"), "{e}");
        let e = parse_masters(&Value::Array(vec![Value::Int(3)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("entry 0"), "{e}");
        let e = parse_replicas(&Value::Array(vec![flat(&[("name", "x"), ("ip", "h")])]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no port"), "{e}");
        let e = parse_sentinels(&Value::Array(vec![flat(&[
            ("name", "x"),
            ("ip", "h"),
            ("port", "http"),
        ])]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("bad port") && e.contains("http"), "{e}");
    }

    #[test]
    fn master_address_as_sentinel_gives_it_to_clients() {
        let reply = Value::Array(vec![
            Value::BulkString(b"127.0.0.1".to_vec()),
            Value::BulkString(b"7302".to_vec()),
        ]);
        assert_eq!(
            parse_master_addr(&reply).unwrap(),
            Some(("127.0.0.1".into(), 7302))
        );
        assert_eq!(parse_master_addr(&Value::Nil).unwrap(), None);
        let e = parse_master_addr(&Value::Array(vec![Value::Int(1)])).unwrap_err();
        assert!(e.to_string().contains("GET-MASTER-ADDR-BY-NAME"), "{e}");
    }

    proptest! {
        #[test]
        fn never_panics(value in any_value()) {
            let _ = parse_master_addr(&value);
            let _ = parse_masters(&value);
            let _ = parse_master(&value);
            let _ = parse_replicas(&value);
            let _ = parse_sentinels(&value);
        }
    }
}
