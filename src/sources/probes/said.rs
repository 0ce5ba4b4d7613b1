//! What one member said, read out of its replies by the definition's jq
//! expressions. Pure: a document in, a [`Said`] or an error out.

use std::collections::BTreeMap;

use serde_json::Value;

use super::definition::Compiled;
use super::jq::Expr;
use crate::escape::escape;
use crate::model::Tier;

/// A member's own word about itself and the members it knows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Said {
    pub cluster: Option<String>,
    pub id: Option<String>,
    pub name: Option<String>,
    /// Its `host:port` when not the endpoint asked.
    pub address: Option<String>,
    pub role: Option<String>,
    pub leader: bool,
    pub leader_id: Option<String>,
    pub term: Option<u64>,
    pub lag: Option<u64>,
    pub position: Option<u64>,
    /// Its own word on whether it is fit to serve; None when it gives none.
    pub healthy: Option<bool>,
    pub facts: BTreeMap<String, String>,
    pub peers: Vec<Peer>,
}

/// A member as another one lists it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Peer {
    pub id: Option<String>,
    pub name: Option<String>,
    pub address: Option<String>,
    /// Where it is polled, when not at `address`.
    pub endpoint: Option<String>,
    pub role: Option<String>,
    pub tier: Option<Tier>,
    pub leader: Option<bool>,
    pub voter: Option<bool>,
    pub healthy: Option<bool>,
    /// What the lister knows of it: its lag, term and facts.
    pub lag: Option<u64>,
    pub term: Option<u64>,
    pub facts: BTreeMap<String, String>,
}

/// Reads `document` (`{endpoint, <request>: <reply>, ...}`) with `def`.
pub fn read(def: &Compiled, document: &Value) -> Result<Said, String> {
    Ok(Said {
        cluster: text(&def.cluster, document)?,
        id: text(&def.id, document)?,
        name: text(&def.name, document)?,
        address: text(&def.address, document)?,
        role: text(&def.role, document)?,
        leader: run(&def.leader, document)?.is_some_and(|v| v.as_bool() == Some(true)),
        leader_id: text(&def.leader_id, document)?,
        term: number(&def.term, document)?,
        lag: number(&def.lag, document)?,
        position: number(&def.position, document)?,
        healthy: run(&def.healthy, document)?.and_then(|v| v.as_bool()),
        facts: facts(&def.facts, document)?,
        peers: peers(&def.peers, document)?,
    })
}

fn run(expr: &Option<Expr>, document: &Value) -> Result<Option<Value>, String> {
    match expr {
        Some(expr) => expr.first(document),
        None => Ok(None),
    }
}

/// A value as text, escaped: replies are hostile.
fn shown(value: &Value) -> String {
    match value {
        Value::String(s) => escape(s).into_owned(),
        other => escape(&other.to_string()).into_owned(),
    }
}

fn text(expr: &Option<Expr>, document: &Value) -> Result<Option<String>, String> {
    Ok(run(expr, document)?.map(|v| shown(&v)))
}

fn number(expr: &Option<Expr>, document: &Value) -> Result<Option<u64>, String> {
    Ok(run(expr, document)?.and_then(|v| as_u64(&v)))
}

/// A count as JSON gives it: a number, or digits in a string (etcd's 64-bit ids).
fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn facts(expr: &Option<Expr>, document: &Value) -> Result<BTreeMap<String, String>, String> {
    Ok(run(expr, document)?
        .map(|v| fact_map(&v))
        .unwrap_or_default())
}

/// An object's non-empty fields as escaped text; anything else is none.
fn fact_map(value: &Value) -> BTreeMap<String, String> {
    let Value::Object(map) = value else {
        return BTreeMap::new();
    };
    map.iter()
        .filter(|(_, v)| !v.is_null() && *v != &Value::String(String::new()))
        .take(MAX_FACTS)
        .map(|(k, v)| (escape(k).into_owned(), shown(v)))
        .collect()
}

/// The most facts one member shows: a hostile reply cannot flood the pane.
const MAX_FACTS: usize = 64;

fn peers(expr: &Option<Expr>, document: &Value) -> Result<Vec<Peer>, String> {
    let Some(Value::Array(items)) = run(expr, document)? else {
        return Ok(Vec::new());
    };
    Ok(items.iter().take(super::MAX_MEMBERS).map(peer).collect())
}

fn peer(item: &Value) -> Peer {
    let field = |name: &str| item.get(name).filter(|v| !v.is_null());
    let string = |name: &str| field(name).map(shown);
    let flag = |name: &str| field(name).and_then(Value::as_bool);
    Peer {
        id: string("id"),
        name: string("name"),
        address: string("address"),
        endpoint: string("endpoint"),
        role: string("role"),
        tier: field("tier").and_then(|v| serde_json::from_value(v.clone()).ok()),
        leader: flag("leader"),
        voter: flag("voter"),
        healthy: flag("healthy"),
        lag: field("lag").and_then(as_u64),
        term: field("term").and_then(as_u64),
        facts: field("facts").map(fact_map).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sources::probes::definition::Catalog;

    #[test]
    fn an_etcd_leaders_status_reads_as_the_leader_with_its_term() {
        let etcd = Catalog::new(&[]).unwrap().get("etcd").unwrap();
        let document = json!({
            "endpoint": "127.0.0.1:2379",
            "status": {
                "header": {"cluster_id": "17", "member_id": "42", "raft_term": "3"},
                "version": "3.4.23", "dbSize": "20480", "leader": "42",
                "raftIndex": "9", "raftTerm": "3", "raftAppliedIndex": "7"
            },
            "members": {"members": [
                {"ID": "42", "name": "a", "clientURLs": ["http://127.0.0.1:2379"]},
                {"ID": "43", "name": "", "peerURLs": ["http://127.0.0.1:2382"], "isLearner": true}
            ]}
        });
        let said = read(&etcd, &document).unwrap();
        assert_eq!(said.role.as_deref(), Some("leader"));
        assert!(said.leader);
        assert_eq!((said.term, said.lag), (Some(3), Some(2)));
        assert_eq!(said.name.as_deref(), Some("a"));
        assert_eq!(said.peers.len(), 2);
        assert_eq!(said.peers[0].address.as_deref(), Some("127.0.0.1:2379"));
        assert_eq!(
            said.peers[1].address, None,
            "a learner not started has no client URL"
        );
        assert_eq!(said.peers[1].voter, Some(false));
    }

    #[test]
    fn control_characters_in_a_reply_are_escaped() {
        let etcd = Catalog::new(&[]).unwrap().get("etcd").unwrap();
        let document = json!({
            "status": {"header": {"member_id": "1"}, "leader": "1", "version": "3\u{1b}[2J"},
            "members": {"members": [{"ID": "1", "name": "evil\u{7}"}]}
        });
        let said = read(&etcd, &document).unwrap();
        assert!(!said.name.unwrap().contains('\u{7}'));
        assert!(!said.facts["version"].contains('\u{1b}'));
    }
}
