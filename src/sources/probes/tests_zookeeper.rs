//! The built-in ZooKeeper definition against replies recorded from a real
//! ZooKeeper 3.8.0 ensemble (tests/fixtures/probes/zookeeper/, see its
//! NOTES.md): each reply through [`fourletter::to_json`], read by the
//! definition, then assembled, as the poller does it.

use std::sync::Arc;

use serde_json::{Value, json};

use super::assemble::{Assembled, ClusterSpec, Look, assemble};
use super::definition::{Catalog, Compiled};
use super::fourletter;
use super::said::{Said, read};
use crate::model::{Health, Tier};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/probes/zookeeper/", $name))
    };
}

const LEADER_SRVR: &str = fixture!("leader-srvr.txt");
const LEADER_CONF: &str = fixture!("leader-conf.txt");
const FOLLOWER_SRVR: &str = fixture!("follower-srvr.txt");
const FOLLOWER_CONF: &str = fixture!("follower-conf.txt");
const NOQUORUM_SRVR: &str = fixture!("noquorum-srvr.txt");
const NOQUORUM_CONF: &str = fixture!("noquorum-conf.txt");
const STANDALONE_SRVR: &str = fixture!("standalone-srvr.txt");
const STANDALONE_CONF: &str = fixture!("standalone-conf.txt");
const LEGACY_CONF: &str = fixture!("legacy-cfg-follower-conf.txt");
const FAILOVER_LEADER_SRVR: &str = fixture!("failover-leader-srvr.txt");
const FAILOVER_FOLLOWER_SRVR: &str = fixture!("failover-follower-srvr.txt");
const NOT_WHITELISTED: &str = fixture!("not-whitelisted-mntr.txt");

/// Client ports of servers 1, 2 and 3 in the recorded ensemble.
const SERVER_1: &str = "127.0.0.1:38945";
const SERVER_2: &str = "127.0.0.1:51315";
const SERVER_3: &str = "127.0.0.1:45845";

fn zookeeper() -> Arc<Compiled> {
    Catalog::new(&[]).unwrap().get("zookeeper").unwrap()
}

/// The document the poller builds for one member.
fn document(endpoint: &str, srvr: &str, conf: &str) -> Value {
    json!({
        "endpoint": endpoint,
        "srvr": fourletter::to_json("srvr", srvr, "127.0.0.1"),
        "conf": fourletter::to_json("conf", conf, "127.0.0.1"),
    })
}

fn said(endpoint: &str, srvr: &str, conf: &str) -> Said {
    read(&zookeeper(), &document(endpoint, srvr, conf)).unwrap()
}

fn look(endpoint: &str, result: Result<Said, String>) -> Look {
    Look {
        endpoint: endpoint.into(),
        address: None,
        name: None,
        result,
    }
}

fn cluster(looks: &[Look]) -> Assembled {
    let spec = ClusterSpec {
        id: "zk".into(),
        name: "zk".into(),
        precedence: 1,
    };
    assemble(&zookeeper(), &spec, looks, |p| p.address.clone())
}

#[test]
fn the_leader_says_it_leads_in_epoch_one_and_lists_three_voters() {
    let leader = said(SERVER_3, LEADER_SRVR, LEADER_CONF);
    assert_eq!(leader.role.as_deref(), Some("leader"));
    assert!(leader.leader);
    assert_eq!(leader.id.as_deref(), Some("3"), "serverId of conf");
    assert_eq!((leader.term, leader.position), (Some(1), Some(4)));
    assert_eq!(leader.healthy, Some(true));
    assert_eq!(leader.facts["zxid"], "0x100000004");
    let peers: Vec<_> = leader
        .peers
        .iter()
        .map(|p| (p.id.as_deref().unwrap(), p.address.as_deref().unwrap()))
        .collect();
    assert_eq!(peers, [("1", SERVER_1), ("2", SERVER_2), ("3", SERVER_3)]);
    assert!(leader.peers.iter().all(|p| p.voter == Some(true)));
    assert!(!leader.facts.contains_key("state"));
}

#[test]
fn a_follower_follows_and_knows_the_same_ensemble() {
    let follower = said(SERVER_1, FOLLOWER_SRVR, FOLLOWER_CONF);
    assert_eq!(follower.role.as_deref(), Some("follower"));
    assert!(!follower.leader);
    assert_eq!(follower.id.as_deref(), Some("1"));
    assert_eq!(follower.peers.len(), 3);
    assert_eq!(zookeeper().tier("follower"), Tier::Copy);
}

#[test]
fn a_server_without_quorum_answers_but_is_not_serving() {
    let lonely = said(SERVER_1, NOQUORUM_SRVR, NOQUORUM_CONF);
    assert_eq!(lonely.role.as_deref(), Some("not serving"));
    assert!(!lonely.leader);
    assert_eq!(lonely.healthy, Some(false));
    assert_eq!((lonely.term, lonely.id.as_deref()), (None, None));
    assert!(lonely.peers.is_empty(), "its conf is refused too");
    assert!(lonely.facts["state"].contains("no quorum"));

    let assembled = cluster(&[look(SERVER_1, Ok(lonely))]);
    let member = &assembled.members[0];
    assert_eq!(member.health, Health::Degraded, "up, but serving nobody");
    assert_eq!(member.tier, Tier::Unknown);
    let consensus = assembled.cluster.consensus.unwrap();
    assert_eq!(consensus.leader, None);
    assert_eq!(consensus.in_progress.as_deref(), Some("election"));
}

#[test]
fn a_standalone_server_leads_alone() {
    let alone = said("127.0.0.1:40685", STANDALONE_SRVR, STANDALONE_CONF);
    assert_eq!(alone.role.as_deref(), Some("standalone"));
    assert!(alone.leader);
    assert_eq!(alone.id.as_deref(), Some("0"));
    assert!(alone.peers.is_empty(), "no membership block");
    let assembled = cluster(&[look("127.0.0.1:40685", Ok(alone))]);
    let member = &assembled.members[0];
    assert_eq!((member.tier, member.leader), (Tier::Master, true));
    assert_eq!(member.native_role.as_deref(), Some("standalone"));
}

#[test]
fn configured_the_old_way_only_the_server_itself_has_an_address() {
    let follower = said("127.0.0.1:35097", FOLLOWER_SRVR, LEGACY_CONF);
    let addresses: Vec<_> = follower
        .peers
        .iter()
        .map(|p| (p.id.as_deref().unwrap(), p.address.as_deref()))
        .collect();
    assert_eq!(
        addresses,
        [("1", Some("127.0.0.1:35097")), ("2", None), ("3", None)],
        "no `host:null` addresses"
    );
}

#[test]
fn a_word_left_out_of_the_whitelist_is_named() {
    let value = fourletter::to_json("mntr", NOT_WHITELISTED, "127.0.0.1");
    assert_eq!(value["whitelisted"], false);
    // The same reply for `conf` (the server words it "<word> is not
    // executed ..."; recorded for mntr, the word swapped here).
    let conf = NOT_WHITELISTED.replace("mntr", "conf");
    let follower = said(SERVER_1, FOLLOWER_SRVR, &conf);
    assert_eq!(follower.role.as_deref(), Some("follower"));
    assert!(follower.peers.is_empty());
    assert!(follower.facts["conf"].contains("4lw.commands.whitelist"));
}

#[test]
fn the_ensemble_assembles_with_the_leader_its_epoch_and_follower_lag() {
    let assembled = cluster(&[
        look(SERVER_1, Ok(said(SERVER_1, FOLLOWER_SRVR, FOLLOWER_CONF))),
        look(SERVER_3, Ok(said(SERVER_3, LEADER_SRVR, LEADER_CONF))),
        look(SERVER_2, Err("connection refused".into())),
    ]);
    let consensus = assembled.cluster.consensus.as_ref().unwrap();
    assert_eq!(consensus.leader.as_deref(), Some(SERVER_3));
    assert_eq!(
        (consensus.term, consensus.voters, consensus.quorum),
        (Some(1), Some(3), Some(2))
    );
    let by = |address: &str| {
        assembled
            .members
            .iter()
            .find(|m| m.address.as_deref() == Some(address))
            .unwrap()
    };
    assert_eq!(by(SERVER_3).tier, Tier::Master);
    let follower = by(SERVER_1);
    assert_eq!(follower.tier, Tier::Copy);
    let lag = follower.lag.as_ref().unwrap();
    assert_eq!((lag.value, lag.unit.as_str()), (0, "transactions"));
    assert_eq!(by(SERVER_2).health, Health::Down);
}

#[test]
fn after_a_failover_a_follower_of_the_old_epoch_is_not_billions_behind() {
    // Recorded: the new leader at 0x200000000, a follower still at
    // 0x100000006 (nothing written in epoch 2 yet).
    let conf = LEADER_CONF.replace("serverId=3", "serverId=2");
    let leader = said(SERVER_2, FAILOVER_LEADER_SRVR, &conf);
    let follower = said(SERVER_1, FAILOVER_FOLLOWER_SRVR, FOLLOWER_CONF);
    assert_eq!((leader.term, follower.term), (Some(2), Some(1)));
    let assembled = cluster(&[look(SERVER_1, Ok(follower)), look(SERVER_2, Ok(leader))]);
    assert_eq!(assembled.cluster.consensus.unwrap().term, Some(2));
    let lag = assembled.members[0].lag.as_ref().unwrap();
    assert_eq!(lag.value, 0);

    // Not recorded: three writes of epoch 2 that have not reached it yet.
    let ahead = FAILOVER_LEADER_SRVR.replace("0x200000000", "0x200000003");
    let leader = said(SERVER_2, &ahead, &conf);
    let follower = said(SERVER_1, FAILOVER_FOLLOWER_SRVR, FOLLOWER_CONF);
    let assembled = cluster(&[look(SERVER_1, Ok(follower)), look(SERVER_2, Ok(leader))]);
    assert_eq!(assembled.members[0].lag.as_ref().unwrap().value, 3);
}
