//! The built-in Patroni definition against replies recorded from a real
//! Patroni 3.0.2 cluster (tests/fixtures/probes/patroni/, see its NOTES.md),
//! read and assembled as the poller does it. The live tests are in
//! tests/probe_patroni.rs.

use std::sync::Arc;

use serde_json::{Value, json};

use super::assemble::{ASKED_AT, Assembled, ClusterSpec, Look, assemble};
use super::definition::{Catalog, Compiled};
use super::said::read;
use crate::model::{Health, Tier};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/probes/patroni/", $name))
    };
}

/// REST ports of node1..3 in the recorded run.
const NODE1: &str = "127.0.0.1:52065";
const NODE2: &str = "127.0.0.1:50923";
const NODE3: &str = "127.0.0.1:43301";

fn patroni() -> Arc<Compiled> {
    Catalog::new(&[]).unwrap().get("patroni").unwrap()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn look(endpoint: &str, reply: &str, cluster: &str) -> Look {
    let doc = json!({"endpoint": endpoint, "patroni": json(reply), "cluster": json(cluster)});
    Look {
        endpoint: endpoint.into(),
        address: None,
        name: None,
        result: read(&patroni(), &doc),
    }
}

fn down(endpoint: &str) -> Look {
    Look {
        endpoint: endpoint.into(),
        address: None,
        name: None,
        result: Err("connection refused".into()),
    }
}

fn run(looks: &[Look]) -> Assembled {
    let spec = ClusterSpec {
        id: format!("patroni:{NODE1}"),
        name: "patroni".into(),
        precedence: 1,
    };
    assemble(&patroni(), &spec, looks, |p| p.endpoint.clone())
}

fn named<'a>(out: &'a Assembled, name: &str) -> &'a crate::model::MemberObservation {
    out.members.iter().find(|m| m.name == name).unwrap()
}

#[test]
fn the_leader_and_two_replicas_under_their_postgresql_addresses() {
    let cluster = fixture!("steady/cluster.json");
    let out = run(&[
        look(NODE1, fixture!("steady/patroni-leader.json"), cluster),
        look(NODE2, fixture!("steady/patroni-replica.json"), cluster),
    ]);
    assert_eq!(out.members.len(), 3, "node3 from /cluster: {out:#?}");
    let leader = named(&out, "node1");
    assert!(leader.leader && leader.claims_leader);
    assert_eq!(leader.tier, Tier::Master);
    assert_eq!(leader.native_role.as_deref(), Some("leader"));
    assert_eq!(leader.address.as_deref(), Some("127.0.0.1:48315"));
    assert_eq!(leader.raw[ASKED_AT], NODE1);
    assert_eq!(leader.term, Some(1), "the timeline stands in for a term");
    assert_eq!(leader.raw["state"], "running");
    let replica = named(&out, "node2");
    assert_eq!(
        (replica.tier, replica.native_role.as_deref()),
        (Tier::Copy, Some("replica"))
    );
    assert_eq!(
        replica.lag.as_ref().map(|l| (l.value, l.unit.as_str())),
        Some((0, "bytes"))
    );
    assert_eq!(replica.address.as_deref(), Some("127.0.0.1:34081"));
    let unasked = named(&out, "node3");
    assert_eq!(unasked.address.as_deref(), Some("127.0.0.1:56033"));
    assert_eq!(
        unasked.lag.as_ref().map(|l| l.value),
        Some(0),
        "lag from /cluster"
    );
    assert_eq!(unasked.health, Health::Ok);
    let consensus = out.cluster.consensus.unwrap();
    assert_eq!(consensus.leader.as_deref(), Some("127.0.0.1:48315"));
    assert!(
        consensus
            .facts
            .iter()
            .any(|f| f.name == "cluster" && f.value == "cdtest"),
        "the scope names the cluster"
    );
    let mut endpoints = out.endpoints.clone();
    endpoints.sort();
    assert_eq!(endpoints, [NODE3, NODE2, NODE1], "each API is polled");
}

#[test]
fn a_dead_leader_still_listed_does_not_lead() {
    let listed = fixture!("failover-kill9/cluster-dead-leader-still-listed.json");
    let replica = fixture!("steady/patroni-replica.json");
    let out = run(&[
        down(NODE2),
        look(NODE1, replica, listed),
        look(NODE3, replica, listed),
    ]);
    let dead = named(&out, "node2");
    assert_eq!(dead.health, Health::Down);
    assert!(
        !dead.claims_leader,
        "a member that does not answer claims nothing"
    );
    assert!(out.members.iter().all(|m| !m.claims_leader));
}

#[test]
fn during_a_switchover_the_old_leader_stops_and_its_lag_is_unknown() {
    let cluster = fixture!("switchover/cluster-new-leader-old-stopping.json");
    let leader = fixture!("steady/patroni-leader.json");
    let replica = fixture!("steady/patroni-replica.json");
    let out = run(&[
        look(NODE2, leader, cluster),
        look(NODE3, replica, cluster),
        down(NODE1),
    ]);
    let new = named(&out, "node2");
    assert!(new.leader, "{out:#?}");
    let old = named(&out, "node1");
    assert_eq!(old.lag, None, "\"unknown\" is no number");
    assert_eq!(old.raw["lag"], "unknown");
    assert_eq!(old.native_role.as_deref(), Some("replica"));
}

#[test]
fn hostile_replies_are_errors_or_escaped_never_panics() {
    let evil =
        r#"{"members": [{"name": "n\u001b[2J", "role": "leader", "api_url": 5, "host": null}]}"#;
    let out = run(&[look(
        NODE1,
        r#"{"role": "master", "state": "running"}"#,
        evil,
    )]);
    assert!(out.members.iter().all(|m| !m.name.contains('\u{1b}')));
    let garbage = Look {
        endpoint: NODE1.into(),
        address: None,
        name: None,
        result: read(
            &patroni(),
            &json!({"endpoint": NODE1, "patroni": "<html>", "cluster": null}),
        ),
    };
    let out = run(&[garbage]);
    assert_eq!(out.members.len(), 1);
}
