//! Elections, partitions and unreachable members, assembled without servers.

use super::*;
use crate::sources::probes::definition::Catalog;

fn etcd() -> std::sync::Arc<Compiled> {
    Catalog::new(&[]).unwrap().get("etcd").unwrap()
}

fn peer(id: &str, port: u16) -> Peer {
    Peer {
        id: Some(id.into()),
        name: Some(id.into()),
        address: Some(format!("127.0.0.1:{port}")),
        voter: Some(true),
        ..Peer::default()
    }
}

fn peers() -> Vec<Peer> {
    vec![peer("a", 1), peer("b", 2), peer("c", 3)]
}

fn said(id: &str, role: &str, leader_id: Option<&str>, term: u64) -> Said {
    Said {
        id: Some(id.into()),
        role: Some(role.into()),
        leader: role == "leader",
        leader_id: leader_id.map(str::to_string),
        term: Some(term),
        peers: peers(),
        ..Said::default()
    }
}

fn look(port: u16, result: Result<Said, String>) -> Look {
    Look {
        endpoint: format!("127.0.0.1:{port}"),
        address: None,
        name: None,
        result,
    }
}

fn spec() -> ClusterSpec {
    ClusterSpec {
        id: "etcd:a".into(),
        name: "etcd a".into(),
        precedence: 1,
    }
}

fn run(looks: &[Look]) -> Assembled {
    assemble(&etcd(), &spec(), looks, |p| p.address.clone())
}

#[test]
fn the_member_that_says_it_leads_leads_and_the_others_follow() {
    let out = run(&[
        look(1, Ok(said("a", "follower", Some("b"), 4))),
        look(2, Ok(said("b", "leader", Some("b"), 4))),
        look(3, Ok(said("c", "follower", Some("b"), 4))),
    ]);
    let leaders: Vec<&str> = out
        .members
        .iter()
        .filter(|m| m.leader)
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(leaders, ["b"]);
    let consensus = out.cluster.consensus.unwrap();
    assert_eq!(consensus.leader.as_deref(), Some("127.0.0.1:2"));
    assert_eq!(
        (consensus.term, consensus.voters, consensus.quorum),
        (Some(4), Some(3), Some(2))
    );
    assert_eq!(consensus.in_progress, None);
    assert_eq!(out.members[0].tier, Tier::Copy);
    assert_eq!(out.endpoints.len(), 3, "every peer is asked next time");
}

#[test]
fn during_an_election_nobody_leads_and_the_view_says_so() {
    let out = run(&[
        look(1, Ok(said("a", "follower", None, 5))),
        look(2, Err("cannot connect".into())),
        look(3, Ok(said("c", "follower", None, 5))),
    ]);
    assert!(out.members.iter().all(|m| !m.leader));
    let consensus = out.cluster.consensus.unwrap();
    assert_eq!(consensus.in_progress.as_deref(), Some("election"));
    assert!(
        consensus
            .facts
            .iter()
            .any(|f| f.name == "unreachable" && f.alarming)
    );
    let b = out.members.iter().find(|m| m.name == "b").unwrap();
    assert_eq!(
        (b.health, b.error.as_deref()),
        (Health::Down, Some("cannot connect"))
    );
}

#[test]
fn a_stale_leader_claims_too_the_higher_term_leads_and_both_are_claimants() {
    let out = run(&[
        look(1, Ok(said("a", "leader", Some("a"), 3))),
        look(2, Ok(said("b", "leader", Some("b"), 4))),
        look(3, Ok(said("c", "follower", Some("b"), 4))),
    ]);
    let leader: Vec<&str> = out
        .members
        .iter()
        .filter(|m| m.leader)
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(leader, ["b"], "the newer term wins");
    let claimants: Vec<&str> = out
        .members
        .iter()
        .filter(|m| m.claims_leader)
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(
        claimants,
        ["a", "b"],
        "the model raises leaders_conflict from these"
    );
}

#[test]
fn a_leader_this_console_cannot_reach_is_the_one_its_followers_name() {
    let out = run(&[
        look(1, Ok(said("a", "follower", Some("c"), 2))),
        look(2, Ok(said("b", "follower", Some("c"), 2))),
        look(3, Err("no answer within 2s".into())),
    ]);
    let consensus = out.cluster.consensus.unwrap();
    assert_eq!(consensus.leader.as_deref(), Some("127.0.0.1:3"));
}

#[test]
fn a_seed_known_by_another_address_is_matched_by_its_id() {
    let mut seed = look(9, Ok(said("a", "follower", Some("b"), 1)));
    seed.endpoint = "localhost:1".into();
    let out = run(&[seed]);
    assert_eq!(out.members.len(), 3, "{:?}", out.members);
    let a = out.members.iter().find(|m| m.name == "a").unwrap();
    assert_eq!(a.health, Health::Ok);
    // The next poll asks it at its own address too: still one member.
    let mut seed = look(9, Ok(said("a", "follower", Some("b"), 1)));
    seed.endpoint = "localhost:1".into();
    let out = run(&[seed, look(1, Ok(said("a", "follower", Some("b"), 1)))]);
    assert_eq!(out.members.len(), 3, "{:?}", out.members);
}

#[test]
fn peers_not_asked_take_their_role_and_tier_from_the_list() {
    let dgraph = Catalog::new(&[]).unwrap().get("dgraph").unwrap();
    let listed = Said {
        peers: vec![
            Peer {
                leader: Some(true),
                role: Some("zero leader".into()),
                ..peer("zero-1", 5080)
            },
            Peer {
                role: Some("alpha (group 1)".into()),
                tier: Some(Tier::Copy),
                voter: Some(false),
                ..peer("alpha-1", 7080)
            },
        ],
        ..Said::default()
    };
    let out = assemble(&dgraph, &spec(), &[look(6080, Ok(listed))], |p| {
        p.address.clone()
    });
    let tiers: Vec<(Tier, bool)> = out.members.iter().map(|m| (m.tier, m.leader)).collect();
    assert_eq!(tiers[..2], [(Tier::Master, true), (Tier::Copy, false)]);
    assert!(out.endpoints.is_empty(), "dgraph's peers are not polled");
}

#[test]
fn where_nobody_is_elected_no_leader_is_no_election() {
    let dynomite = Catalog::new(&[]).unwrap().get("dynomite").unwrap();
    let node = |id: &str| Said {
        id: Some(id.into()),
        role: Some("node".into()),
        peers: peers(),
        ..Said::default()
    };
    let looks = [look(1, Ok(node("a"))), look(2, Ok(node("b")))];
    let out = assemble(&dynomite, &spec(), &looks, |p| p.address.clone());
    assert!(out.cluster.consensus.is_none(), "{:?}", out.cluster);
    assert_eq!(out.members.len(), 3);
    assert!(out.members.iter().all(|m| !m.leader), "{:?}", out.members);
    assert_eq!(
        (out.members[0].tier, out.members[1].tier),
        (Tier::Copy, Tier::Copy)
    );
}
