//! The built-in PostgreSQL definition against what its own queries
//! returned from real PostgreSQL 15.18 servers (recorded by
//! scripts/pg/record-probe.sh into tests/fixtures/probes/postgres/probe/,
//! see the NOTES.md there): read by the definition, then assembled, as the
//! poller does it.

use std::sync::Arc;

use serde_json::{Value, json};

use super::assemble::{Assembled, ClusterSpec, Look, assemble};
use super::definition::{Catalog, Compiled};
use super::said::{Said, read};
use crate::model::Tier;

macro_rules! fixture {
    ($dir:literal, $node:literal, $request:literal) => {
        include_str!(concat!(
            "../../../tests/fixtures/probes/postgres/probe/",
            $dir,
            "/",
            $node,
            "-",
            $request,
            ".json"
        ))
    };
}

macro_rules! document {
    ($dir:literal, $node:literal, $endpoint:expr) => {
        json!({
            "endpoint": $endpoint,
            "server": parse(fixture!($dir, $node, "server")),
            "receiver": parse(fixture!($dir, $node, "receiver")),
            "replication": parse(fixture!($dir, $node, "replication")),
        })
    };
}

/// Where the recorded servers listened (node1 is the primary).
const NODE1: &str = "127.0.0.1:51487";
const NODE2: &str = "127.0.0.1:55093";
const NODE3: &str = "127.0.0.1:36211";
/// `select system_identifier from pg_control_system()` on all three.
const SYSTEM_ID: &str = "7714727229640616195";

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("recorded JSON")
}

/// Compiled once: compiling every built-in kind per call made the fuzz
/// test slow.
static POSTGRES: std::sync::LazyLock<Arc<Compiled>> =
    std::sync::LazyLock::new(|| Catalog::new(&[]).unwrap().get("postgres").unwrap());

fn postgres() -> Arc<Compiled> {
    Arc::clone(&POSTGRES)
}

fn said(document: &Value) -> Said {
    read(&postgres(), document).unwrap()
}

fn look(endpoint: &str, document: &Value) -> Look {
    Look {
        endpoint: endpoint.into(),
        address: None,
        name: None,
        result: read(&postgres(), document),
    }
}

fn cluster(looks: &[Look]) -> Assembled {
    let spec = ClusterSpec {
        id: "pg".into(),
        name: "pg".into(),
        precedence: 1,
    };
    assemble(&postgres(), &spec, looks, |p| p.address.clone())
}

/// `0/4010BC8` as bytes from 0/0, as pg_wal_lsn_diff counts them.
fn lsn(text: &str) -> u64 {
    let (high, low) = text.split_once('/').unwrap();
    (u64::from_str_radix(high, 16).unwrap() << 32) + u64::from_str_radix(low, 16).unwrap()
}

#[test]
fn the_primary_leads_on_its_timeline_at_its_wal_position_and_lists_both_standbys() {
    let doc = document!("streaming", "node1", NODE1);
    let primary = said(&doc);
    assert_eq!(primary.role.as_deref(), Some("primary"));
    assert!(primary.leader);
    assert_eq!(primary.id.as_deref(), Some("node1"));
    assert_eq!(primary.cluster.as_deref(), Some(SYSTEM_ID));
    assert_eq!(primary.term, Some(1));
    let current = doc["server"][0]["current_lsn"].as_str().unwrap();
    assert_eq!(primary.position, Some(lsn(current)));
    assert_eq!(primary.leader_id, None, "a primary follows nobody");
    assert_eq!(primary.facts["lsn"], current);
    assert_eq!(primary.facts["standbys"], "2");
    assert!(primary.facts["version"].starts_with("15.18"));
    let names: Vec<_> = primary.peers.iter().map(|p| p.id.as_deref()).collect();
    assert_eq!(names, [Some("node2"), Some("node3")]);
    for peer in &primary.peers {
        assert_eq!(peer.role.as_deref(), Some("standby"));
        assert_eq!((peer.leader, peer.voter), (Some(false), Some(false)));
        assert_eq!(
            peer.address, None,
            "pg_stat_replication has no serving address"
        );
    }
}

#[test]
fn a_standby_follows_its_sender_on_the_received_timeline_at_its_replay_position() {
    let doc = document!("streaming", "node3", NODE3);
    let standby = said(&doc);
    assert_eq!(standby.role.as_deref(), Some("standby"));
    assert!(!standby.leader);
    assert_eq!(standby.id.as_deref(), Some("node3"));
    assert_eq!(standby.leader_id.as_deref(), Some(NODE1));
    assert_eq!(standby.term, Some(1));
    let replay = doc["server"][0]["replay_lsn"].as_str().unwrap();
    assert_eq!(standby.position, Some(lsn(replay)));
    assert_eq!(standby.facts["upstream"], NODE1);
    assert_eq!(standby.facts["wal receiver"], "streaming");
    assert!(standby.facts["replay paused"].starts_with("yes"));
    assert!(standby.peers.is_empty());
}

#[test]
fn three_answers_make_one_primary_and_two_standbys_behind_by_bytes() {
    let docs = [
        document!("streaming", "node1", NODE1),
        document!("streaming", "node2", NODE2),
        document!("streaming", "node3", NODE3),
    ];
    let looks: Vec<Look> = [NODE1, NODE2, NODE3]
        .iter()
        .zip(&docs)
        .map(|(endpoint, doc)| look(endpoint, doc))
        .collect();
    let assembled = cluster(&looks);
    assert_eq!(assembled.members.len(), 3, "{:#?}", assembled.members);
    let by_name = |name: &str| {
        assembled
            .members
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no {name}: {:#?}", assembled.members))
    };
    let primary = by_name("node1");
    assert!(primary.leader && primary.claims_leader);
    assert_eq!(primary.tier, Tier::Master);
    assert_eq!(primary.address.as_deref(), Some(NODE1));
    let position = |doc: &Value, field: &str| lsn(doc["server"][0][field].as_str().unwrap());
    let head = position(&docs[0], "current_lsn");
    for (name, doc) in [("node2", &docs[1]), ("node3", &docs[2])] {
        let standby = by_name(name);
        assert_eq!(standby.tier, Tier::Copy, "{standby:#?}");
        assert_eq!(standby.native_role.as_deref(), Some("standby"));
        assert!(!standby.claims_leader);
        let lag = standby.lag.as_ref().expect("a lag");
        assert_eq!(lag.unit, "bytes");
        let replay = position(doc, "replay_lsn");
        assert_eq!(lag.value, head.saturating_sub(replay), "{name}");
    }
    // node3's replay is paused behind what it received: 64 KiB and more.
    assert!(by_name("node3").lag.as_ref().unwrap().value >= 0x10000);
    for member in &assembled.members {
        assert_eq!(member.raw["system identifier"], SYSTEM_ID, "{member:#?}");
    }
    assert!(
        assembled.cluster.consensus.is_none(),
        "nobody is elected: no raft view"
    );
}

#[test]
fn standbys_only_the_primary_lists_show_what_it_knows_of_them() {
    let doc = document!("streaming", "node1", NODE1);
    let assembled = cluster(&[look(NODE1, &doc)]);
    assert_eq!(assembled.members.len(), 3, "{:#?}", assembled.members);
    assert_eq!(
        assembled.endpoints,
        [NODE1],
        "standbys have no address to ask"
    );
    for (row, name) in doc["replication"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["node2", "node3"])
    {
        let standby = assembled
            .members
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no {name}: {:#?}", assembled.members));
        assert_eq!(standby.tier, Tier::Copy);
        let lag = standby.lag.as_ref().expect("the primary's lag_bytes");
        assert_eq!(Some(lag.value), row["lag_bytes"].as_u64());
        assert_eq!(standby.raw["state"], "streaming");
        assert_eq!(standby.raw["sync state"], "async");
        assert_eq!(
            standby.raw["replay lsn"],
            row["replay_lsn"].as_str().unwrap()
        );
    }
}

#[test]
fn a_promoted_standby_beside_the_old_primary_is_a_second_claimant_on_a_newer_timeline() {
    let docs = [
        document!("split-brain", "node1", NODE1),
        document!("split-brain", "node2", NODE2),
        document!("split-brain", "node3", NODE3),
    ];
    let promoted = said(&docs[1]);
    assert!(promoted.leader);
    assert_eq!(
        promoted.term,
        Some(2),
        "the WAL file's timeline, not the checkpoint's (still 1)"
    );
    assert_eq!(docs[1]["server"][0]["checkpoint_timeline"], 1);
    let looks: Vec<Look> = [NODE1, NODE2, NODE3]
        .iter()
        .zip(&docs)
        .map(|(endpoint, doc)| look(endpoint, doc))
        .collect();
    let assembled = cluster(&looks);
    assert_eq!(assembled.members.len(), 3, "{:#?}", assembled.members);
    let claimants: Vec<&str> = assembled
        .members
        .iter()
        .filter(|m| m.claims_leader)
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(claimants.len(), 2, "{:#?}", assembled.members);
    assert!(claimants.contains(&"node1") && claimants.contains(&"node2"));
    // The same system identifier: one cluster split, not two clusters.
    assert_eq!(said(&docs[0]).cluster, promoted.cluster);
}

#[test]
fn control_characters_in_a_reply_are_escaped() {
    let mut doc = document!("streaming", "node1", NODE1);
    doc["server"][0]["cluster_name"] = json!("evil\u{1b}[2J");
    doc["replication"][0]["application_name"] = json!("bell\u{7}");
    let said = said(&doc);
    assert!(!said.id.unwrap().contains('\u{1b}'));
    assert!(!said.peers[0].id.as_deref().unwrap().contains('\u{7}'));
}

#[test]
fn without_a_cluster_name_a_server_is_known_by_its_endpoint() {
    let mut doc = document!("streaming", "node2", NODE2);
    doc["server"][0]["cluster_name"] = json!("");
    let said = said(&doc);
    assert_eq!(said.id.as_deref(), Some(NODE2));
    assert_eq!(said.name, None);
}

mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "(?s).{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z_]{1,12}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn has_control(text: &str) -> bool {
        text.chars().any(char::is_control)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// A recorded primary's document with one request's reply, or one
        /// field of its first row, replaced by anything: read and
        /// assembled without a panic or a control character shown.
        #[test]
        fn a_recorded_document_with_any_part_replaced_is_read_safely(
            request in 0usize..3,
            field in "[a-z_]{1,16}",
            whole in any::<bool>(),
            replacement in value(),
        ) {
            let mut doc = document!("streaming", "node1", NODE1);
            let name = ["server", "receiver", "replication"][request];
            if whole {
                doc[name] = replacement;
            } else if let Some(row) = doc[name].get_mut(0).and_then(Value::as_object_mut) {
                row.insert(field, replacement);
            }
            let looks = [look(NODE1, &doc), look(NODE3, &document!("streaming", "node3", NODE3))];
            for member in cluster(&looks).members {
                let texts = [Some(&member.name), member.native_role.as_ref(), member.error.as_ref()];
                for text in texts.into_iter().flatten().chain(member.raw.keys()).chain(member.raw.values()) {
                    prop_assert!(!has_control(text), "{text:?}");
                }
            }
        }
    }
}
