//! Parsing the reply of `ROLE` into a [`Role`]. The reply is an array whose
//! first element names the role; the rest depends on it. RESP3 types are
//! accepted wherever RESP2 would give a string or an integer.

use redis::Value;

use super::value::{describe, integer, items, text};

/// Why a `ROLE` reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("ROLE reply is not an array: {0}")]
    NotAnArray(String),
    #[error("ROLE reply names no role")]
    Empty,
    #[error("ROLE reply has an unknown role {0:?}")]
    UnknownRole(String),
    #[error("ROLE reply for {role} has a bad {what}: {found}")]
    Field {
        role: &'static str,
        what: &'static str,
        found: String,
    },
}

/// One replica as a master's `ROLE` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleReplica {
    pub host: String,
    pub port: u16,
    pub offset: u64,
}

/// What an instance says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Master {
        offset: u64,
        replicas: Vec<RoleReplica>,
    },
    Replica {
        host: String,
        port: u16,
        /// `connect`, `connecting`, `sync`, `connected`, `handshake`, ...
        state: String,
        /// -1 while the replica has not synchronised yet.
        offset: i64,
    },
    Sentinel {
        masters: Vec<String>,
    },
}

/// Parses a `ROLE` reply.
pub fn parse_role(value: &Value) -> Result<Role, RoleError> {
    let parts = items(value).ok_or_else(|| RoleError::NotAnArray(describe(value)))?;
    let name = parts.first().and_then(text).ok_or(RoleError::Empty)?;
    match name.as_str() {
        "master" => parse_master(&parts[1..]),
        "slave" | "replica" => parse_replica(&parts[1..]),
        "sentinel" => parse_sentinel(&parts[1..]),
        other => Err(RoleError::UnknownRole(other.chars().take(40).collect())),
    }
}

fn field<'a>(
    parts: &'a [Value],
    index: usize,
    role: &'static str,
    what: &'static str,
) -> Result<&'a Value, RoleError> {
    parts.get(index).ok_or(RoleError::Field {
        role,
        what,
        found: "nothing".to_string(),
    })
}

fn bad(role: &'static str, what: &'static str, value: &Value) -> RoleError {
    RoleError::Field {
        role,
        what,
        found: describe(value),
    }
}

fn parse_master(parts: &[Value]) -> Result<Role, RoleError> {
    let offset_value = field(parts, 0, "master", "offset")?;
    let offset = integer(offset_value)
        .and_then(|o| u64::try_from(o).ok())
        .ok_or_else(|| bad("master", "offset", offset_value))?;
    let list = match parts.get(1) {
        None => &[][..],
        Some(v) => items(v).ok_or_else(|| bad("master", "replica list", v))?,
    };
    let replicas = list
        .iter()
        .map(parse_role_replica)
        .collect::<Result<_, _>>()?;
    Ok(Role::Master { offset, replicas })
}

fn parse_role_replica(value: &Value) -> Result<RoleReplica, RoleError> {
    let entry = items(value)
        .filter(|e| e.len() >= 3)
        .ok_or_else(|| bad("master", "replica entry", value))?;
    let host = text(&entry[0]).ok_or_else(|| bad("master", "replica host", &entry[0]))?;
    let port = integer(&entry[1])
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| bad("master", "replica port", &entry[1]))?;
    let offset = integer(&entry[2])
        .and_then(|o| u64::try_from(o).ok())
        .ok_or_else(|| bad("master", "replica offset", &entry[2]))?;
    Ok(RoleReplica { host, port, offset })
}

fn parse_replica(parts: &[Value]) -> Result<Role, RoleError> {
    let host_value = field(parts, 0, "replica", "master host")?;
    let host = text(host_value).ok_or_else(|| bad("replica", "master host", host_value))?;
    let port_value = field(parts, 1, "replica", "master port")?;
    let port = integer(port_value)
        .and_then(|p| u16::try_from(p).ok())
        .ok_or_else(|| bad("replica", "master port", port_value))?;
    let state_value = field(parts, 2, "replica", "state")?;
    let state = text(state_value).ok_or_else(|| bad("replica", "state", state_value))?;
    let offset_value = field(parts, 3, "replica", "offset")?;
    let offset = integer(offset_value).ok_or_else(|| bad("replica", "offset", offset_value))?;
    Ok(Role::Replica {
        host,
        port,
        state,
        offset,
    })
}

fn parse_sentinel(parts: &[Value]) -> Result<Role, RoleError> {
    let list = match parts.first() {
        None => &[][..],
        Some(v) => items(v).ok_or_else(|| bad("sentinel", "master list", v))?,
    };
    let masters = list
        .iter()
        .map(|m| text(m).ok_or_else(|| bad("sentinel", "master name", m)))
        .collect::<Result<_, _>>()?;
    Ok(Role::Sentinel { masters })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn master_reply_as_redis_7_sends_it() {
        // ROLE on a master with one replica: offsets and ports are bulk strings
        // inside the replica entries, an integer at the top.
        let reply = Value::Array(vec![
            bulk("master"),
            Value::Int(3129659),
            Value::Array(vec![Value::Array(vec![
                bulk("127.0.0.1"),
                bulk("9001"),
                bulk("3129242"),
            ])]),
        ]);
        let role = parse_role(&reply).unwrap();
        assert_eq!(
            role,
            Role::Master {
                offset: 3129659,
                replicas: vec![RoleReplica {
                    host: "127.0.0.1".into(),
                    port: 9001,
                    offset: 3129242
                }]
            }
        );
    }

    #[test]
    fn replica_and_sentinel_replies() {
        let reply = Value::Array(vec![
            bulk("slave"),
            bulk("127.0.0.1"),
            Value::Int(7301),
            bulk("handshake"),
            Value::Int(-1),
        ]);
        assert!(matches!(
            parse_role(&reply).unwrap(),
            Role::Replica { port: 7301, offset: -1, ref state, .. } if state == "handshake"
        ));
        let reply = Value::Array(vec![
            Value::SimpleString("sentinel".into()),
            Value::Set(vec![bulk("mymaster"), bulk("other")]),
        ]);
        assert_eq!(
            parse_role(&reply).unwrap(),
            Role::Sentinel {
                masters: vec!["mymaster".into(), "other".into()]
            }
        );
    }

    #[test]
    fn malformed_replies_say_what() {
        assert!(matches!(
            parse_role(&Value::Nil),
            Err(RoleError::NotAnArray(_))
        ));
        assert_eq!(parse_role(&Value::Array(vec![])), Err(RoleError::Empty));
        let e = parse_role(&Value::Array(vec![bulk("leader")])).unwrap_err();
        assert!(e.to_string().contains("leader"));
        let e = parse_role(&Value::Array(vec![bulk("slave"), bulk("h"), bulk("x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("master port"), "{e}");
        let e = parse_role(&Value::Array(vec![bulk("master"), Value::Int(-5)]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("offset"), "{e}");
    }

    /// Random `redis::Value` trees, a few levels deep.
    pub(crate) fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Nil),
            Just(Value::Okay),
            any::<i64>().prop_map(Value::Int),
            "[a-z0-9_=,.:-]{0,12}".prop_map(|s| Value::BulkString(s.into_bytes())),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(Value::BulkString),
            "(master|slave|sentinel|name|ip|port|flags)".prop_map(Value::SimpleString),
            any::<f64>().prop_map(Value::Double),
            any::<bool>().prop_map(Value::Boolean),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Set),
                proptest::collection::vec((inner.clone(), inner.clone()), 0..4)
                    .prop_map(Value::Map),
                (
                    inner.clone(),
                    proptest::collection::vec((inner.clone(), inner), 0..2)
                )
                    .prop_map(|(data, attributes)| Value::Attribute {
                        data: Box::new(data),
                        attributes
                    }),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics(value in any_value()) {
            let _ = parse_role(&value);
        }

        #[test]
        fn never_panics_on_role_shaped_arrays(
            head in "(master|slave|sentinel)",
            rest in proptest::collection::vec(any_value(), 0..6),
        ) {
            let mut parts = vec![Value::BulkString(head.into_bytes())];
            parts.extend(rest);
            let _ = parse_role(&Value::Array(parts));
        }
    }
}
