//! A planned switchover: the selected member made the leader by the
//! application itself, the way its operators would do it by hand, never by
//! killing or cutting anything off:
//! - Patroni: `POST /switchover` to its REST API;
//! - etcd: `MoveLeader` through its JSON gateway, sent to the leader (only
//!   the leader can hand its leadership over);
//! - Redis watched by Sentinel: `SENTINEL FAILOVER`; Sentinel picks the
//!   replica itself, and the confirm dialog says which one it will likely
//!   pick when that is not the one selected;
//! - Redis without Sentinel: `REPLICAOF NO ONE` on the candidate, then
//!   `REPLICAOF` it on the old master and every other replica.
//!
//! [`plan`] turns the member and its cluster into an [`AppCall`] (or says
//! why not); [`backend::AppBackend`] carries it out. The backend is not a
//! [`Platform`](crate::model::Platform): the call goes to the application,
//! whatever runs it, so it sits beside the platforms in
//! [`Backends`](super::Backends) and the model's JSON is unchanged.
//!
//! Patroni and etcd are called without credentials for now (TLS and the
//! client certificate follow the probe's settings); Redis and Sentinel get
//! the passwords their sources already hold.

pub mod backend;
pub mod plan;
pub mod sentinel_pick;

pub use backend::{AppAccess, AppBackend};

use serde::{Deserialize, Serialize};

/// etcd's JSON gateway path for `MoveLeader` (`etcdctl move-leader`),
/// served since etcd 3.3 (checked on 3.4.23).
pub const ETCD_MOVE_LEADER: &str = "/v3/maintenance/transfer-leadership";
/// Patroni's REST API path for a switchover.
pub const PATRONI_SWITCHOVER: &str = "/switchover";

/// How the application is asked to hand its leadership over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AppCall {
    /// Patroni: `POST /switchover` to `api` (`host:port` of a member's REST
    /// API, the leader's when known); Patroni answers once it is done.
    Patroni {
        api: String,
        /// Whose API `api` is, for the dialog.
        api_of: String,
        leader: String,
        candidate: String,
    },
    /// etcd: `MoveLeader` sent to the leader's client `endpoint`.
    EtcdMoveLeader {
        endpoint: String,
        leader: String,
        candidate: String,
        /// The candidate's member id, decimal.
        target_id: String,
    },
    /// `SENTINEL FAILOVER master_name` to the first of `sentinels` that
    /// answers; Sentinel chooses the replica.
    SentinelFailover {
        master_name: String,
        sentinels: Vec<String>,
        /// The replica selected (its address).
        candidate: String,
        /// The replica Sentinel will likely promote, by what the console
        /// saw last; None when it cannot tell.
        likely: Option<String>,
    },
    /// `REPLICAOF NO ONE` on `candidate`, then `REPLICAOF candidate` on
    /// `master` and on each of `replicas`.
    RedisReplicaOf {
        candidate: String,
        master: String,
        replicas: Vec<String>,
        /// Members down or out of reach, not told (named in the dialog).
        left_out: Vec<String>,
    },
}

impl AppCall {
    /// The HTTP request, for the calls that are one: method, path, JSON body.
    pub fn http(&self) -> Option<(&'static str, &'static str, String)> {
        match self {
            AppCall::Patroni {
                leader, candidate, ..
            } => {
                // In the order Patroni's documentation writes it.
                let body = format!(
                    r#"{{"leader":{},"candidate":{}}}"#,
                    json_string(leader),
                    json_string(candidate)
                );
                Some(("POST", PATRONI_SWITCHOVER, body))
            }
            AppCall::EtcdMoveLeader { target_id, .. } => {
                let body = serde_json::json!({ "targetID": target_id });
                Some(("POST", ETCD_MOVE_LEADER, body.to_string()))
            }
            _ => None,
        }
    }

    /// The application's kind, as its probe names it (for the probe's TLS
    /// settings); None for Redis.
    pub fn probe_kind(&self) -> Option<&'static str> {
        match self {
            AppCall::Patroni { .. } => Some("patroni"),
            AppCall::EtcdMoveLeader { .. } => Some("etcd"),
            _ => None,
        }
    }

    /// The exact call, for the confirm dialog and the audit log.
    pub fn describe(&self) -> String {
        let http = self
            .http()
            .map(|(method, path, body)| format!("{method} {path} {body}"));
        match (self, http) {
            (
                AppCall::Patroni {
                    api,
                    api_of,
                    leader,
                    candidate,
                },
                Some(call),
            ) => format!(
                "Switch over from {leader} to {candidate} through Patroni: {call} \
                 to {api} (the REST API of {api_of}); Patroni answers once done"
            ),
            (
                AppCall::EtcdMoveLeader {
                    endpoint,
                    leader,
                    candidate,
                    ..
                },
                Some(call),
            ) => format!(
                "Move etcd's leadership from {leader} to {candidate}: {call} to {endpoint}, \
                 the leader's client endpoint (only the leader can hand over)"
            ),
            (AppCall::SentinelFailover { .. }, _) => self.describe_sentinel(),
            (AppCall::RedisReplicaOf { .. }, _) => self.describe_replicaof(),
            _ => "switchover".into(),
        }
    }

    fn describe_sentinel(&self) -> String {
        let AppCall::SentinelFailover {
            master_name,
            sentinels,
            candidate,
            likely,
        } = self
        else {
            return String::new();
        };
        let to = match sentinels.as_slice() {
            [one] => format!("to the Sentinel at {one}"),
            [first, ..] => {
                format!("to the Sentinel at {first} (the next one if it does not answer)")
            }
            [] => "to no Sentinel".into(),
        };
        let pick = match likely {
            Some(l) if l == candidate => format!(
                "Sentinel chooses the replica itself; by what the console saw last it \
                 will be {candidate}, the one selected"
            ),
            Some(l) => format!(
                "Sentinel chooses the replica: by what the console saw last it will \
                 promote {l}, not {candidate}"
            ),
            None => format!(
                "Sentinel chooses the replica: it may not be {candidate} \
                 (the console cannot tell which it prefers)"
            ),
        };
        format!(
            "Fail over {master_name} through Sentinel: SENTINEL FAILOVER {master_name} {to}. {pick}"
        )
    }

    fn describe_replicaof(&self) -> String {
        let AppCall::RedisReplicaOf {
            candidate,
            master,
            replicas,
            left_out,
        } = self
        else {
            return String::new();
        };
        let (host, port) = split_address(candidate);
        let mut told = format!("{master} (the old master)");
        for replica in replicas {
            told.push_str(&format!(", {replica}"));
        }
        let mut text = format!(
            "Promote {candidate} without Sentinel: REPLICAOF NO ONE on {candidate}, \
             then REPLICAOF {host} {port} on {told}"
        );
        if !left_out.is_empty() {
            text.push_str(&format!(
                "; not told (down or out of reach): {}",
                left_out.join(", ")
            ));
        }
        text
    }
}

/// A string as a JSON literal, quoted and escaped.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `host` and `port` of a `host:port` (`[v6]:port` too), as REPLICAOF takes
/// them; the whole text as the host when it has no port.
pub fn split_address(address: &str) -> (&str, &str) {
    match address.rsplit_once(':') {
        Some((host, port)) => (host.trim_start_matches('[').trim_end_matches(']'), port),
        None => (address, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_calls_carry_the_exact_body() {
        let call = AppCall::EtcdMoveLeader {
            endpoint: "127.0.0.1:2379".into(),
            leader: "m0".into(),
            candidate: "m1".into(),
            target_id: "17133004061987981073".into(),
        };
        let (method, path, body) = call.http().unwrap();
        assert_eq!((method, path), ("POST", ETCD_MOVE_LEADER));
        // A string: the id is beyond what a JSON number holds exactly.
        assert_eq!(body, r#"{"targetID":"17133004061987981073"}"#);
        let text = call.describe();
        assert!(
            text.contains(
                r#"POST /v3/maintenance/transfer-leadership {"targetID":"17133004061987981073"} to 127.0.0.1:2379"#
            ),
            "{text}"
        );
    }

    #[test]
    fn names_from_the_cluster_are_escaped_in_the_body() {
        let call = AppCall::Patroni {
            api: "10.0.0.1:8008".into(),
            api_of: "pg\"1".into(),
            leader: "pg\"1".into(),
            candidate: "pg-2\n".into(),
        };
        let (_, _, body) = call.http().unwrap();
        let back: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(back["leader"], "pg\"1");
        assert_eq!(back["candidate"], "pg-2\n");
    }

    #[test]
    fn replicaof_names_every_command() {
        let call = AppCall::RedisReplicaOf {
            candidate: "127.0.0.1:6380".into(),
            master: "127.0.0.1:6379".into(),
            replicas: vec!["127.0.0.1:6381".into()],
            left_out: vec!["127.0.0.1:6382".into()],
        };
        assert_eq!(
            call.describe(),
            "Promote 127.0.0.1:6380 without Sentinel: REPLICAOF NO ONE on 127.0.0.1:6380, \
             then REPLICAOF 127.0.0.1 6380 on 127.0.0.1:6379 (the old master), 127.0.0.1:6381; \
             not told (down or out of reach): 127.0.0.1:6382"
        );
        assert_eq!(split_address("[::1]:6379"), ("::1", "6379"));
    }

    #[test]
    fn sentinel_says_honestly_who_it_will_pick() {
        let call = |likely: Option<&str>| AppCall::SentinelFailover {
            master_name: "mymaster".into(),
            sentinels: vec!["127.0.0.1:26379".into(), "127.0.0.1:26380".into()],
            candidate: "127.0.0.1:6380".into(),
            likely: likely.map(String::from),
        };
        let other = call(Some("127.0.0.1:6381")).describe();
        assert!(
            other.contains("SENTINEL FAILOVER mymaster to the Sentinel at 127.0.0.1:26379")
                && other.contains(
                    "Sentinel chooses the replica: by what the console saw last it will promote 127.0.0.1:6381, not 127.0.0.1:6380"
                ),
            "{other}"
        );
        let same = call(Some("127.0.0.1:6380")).describe();
        assert!(same.contains("the one selected"), "{same}");
        let unknown = call(None).describe();
        assert!(
            unknown.contains("Sentinel chooses the replica: it may not be 127.0.0.1:6380"),
            "{unknown}"
        );
    }
}
