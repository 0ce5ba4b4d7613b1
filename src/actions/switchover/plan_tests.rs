//! Switchover plans against hand-built clusters shaped as the sources build
//! them: Patroni's members as its probe shows them (names, PostgreSQL
//! address, REST API as the `asked at` fact; names and ports from the
//! recorded switchover in tests/fixtures/probes/patroni/switchover), etcd's,
//! Redis with and without Sentinel.

use super::*;
use crate::model::{ConsensusView, Link, SentinelView};

fn member(name: &str, address: &str, tier: Tier, role: &str) -> Member {
    Member {
        id: address.into(),
        name: name.into(),
        address: Some(address.into()),
        tier,
        leader: tier == Tier::Master,
        native_role: Some(role.into()),
        health: Health::Ok,
        ..Member::default()
    }
}

fn cluster(kind: &str, id: &str, members: Vec<Member>) -> Cluster {
    Cluster {
        id: id.into(),
        kind: kind.into(),
        name: id.rsplit('/').next().unwrap_or(id).into(),
        leader: members.iter().find(|m| m.leader).map(|m| m.id.clone()),
        recorded_leader: None,
        recorded_leader_agrees: None,
        consensus: None,
        leaders_conflict: Vec::new(),
        problem: None,
        members,
    }
}

fn with_fact(mut m: Member, name: &str, value: &str) -> Member {
    m.raw.insert(name.into(), value.into());
    m
}

/// node1 leads; each member's REST API is where the probe asked it.
fn patroni() -> Cluster {
    let node = |name: &str, pg: &str, api: &str, tier, role: &str| {
        with_fact(member(name, pg, tier, role), ASKED_AT, api)
    };
    cluster(
        "patroni",
        "probe/patroni/demo",
        vec![
            node(
                "node1",
                "127.0.0.1:48315",
                "127.0.0.1:52065",
                Tier::Master,
                "leader",
            ),
            node(
                "node2",
                "127.0.0.1:34081",
                "127.0.0.1:50923",
                Tier::Copy,
                "replica",
            ),
            node(
                "node3",
                "127.0.0.1:56033",
                "127.0.0.1:43301",
                Tier::Copy,
                "replica",
            ),
        ],
    )
}

fn call(action: Action) -> AppCall {
    match action {
        Action::Switchover { call, .. } => call,
        other => panic!("not a switchover: {other:?}"),
    }
}

#[test]
fn patroni_is_asked_at_the_leaders_rest_api() {
    let c = patroni();
    let action = plan(&c.members[1], &c).unwrap();
    assert_eq!(action.member(), "127.0.0.1:34081");
    let text = action.describe();
    assert_eq!(
        call(action),
        AppCall::Patroni {
            api: "127.0.0.1:52065".into(),
            api_of: "node1".into(),
            leader: "node1".into(),
            candidate: "node2".into(),
        }
    );
    // The request recorded from Patroni 3.0.2 (post-switchover-request.txt).
    assert!(
        text.contains(
            r#"POST /switchover {"leader":"node1","candidate":"node2"} to 127.0.0.1:52065 (the REST API of node1)"#
        ),
        "{text}"
    );
}

#[test]
fn patroni_without_the_leaders_api_asks_the_candidates() {
    let mut c = patroni();
    c.members[0].raw.clear();
    c.members[0].address = None;
    let AppCall::Patroni { api, api_of, .. } = call(plan(&c.members[2], &c).unwrap()) else {
        panic!("not Patroni");
    };
    assert_eq!(
        (api.as_str(), api_of.as_str()),
        ("127.0.0.1:43301", "node3")
    );
}

#[test]
fn the_leader_a_down_member_and_no_leader_are_refused_in_one_sentence() {
    let mut c = patroni();
    let e = plan(&c.members[0], &c).unwrap_err();
    assert_eq!(e, "node1 leads demo already");
    c.members[1].health = Health::Down;
    let e = plan(&c.members[1], &c).unwrap_err();
    assert_eq!(e, "node2 is down: only a member that answers can take over");
    c.leader = None;
    let e = plan(&c.members[2], &c).unwrap_err();
    assert!(e.contains("demo has no leader the console sees"), "{e}");
}

fn etcd() -> Cluster {
    let node = |name: &str, port: u16, id: &str, tier, role: &str| {
        with_fact(
            member(name, &format!("127.0.0.1:{port}"), tier, role),
            "etcd id",
            id,
        )
    };
    cluster(
        "etcd",
        "probe/etcd/6472715139648809476",
        vec![
            node("m0", 2379, "9885631790972387233", Tier::Master, "leader"),
            node("m1", 2381, "17133004061987981073", Tier::Copy, "follower"),
            node("m2", 2383, "1426396557286979772", Tier::Unknown, "learner"),
        ],
    )
}

#[test]
fn etcd_moves_leadership_from_the_leaders_endpoint() {
    let c = etcd();
    let action = plan(&c.members[1], &c).unwrap();
    assert_eq!(
        call(action.clone()),
        AppCall::EtcdMoveLeader {
            endpoint: "127.0.0.1:2379".into(),
            leader: "m0".into(),
            candidate: "m1".into(),
            target_id: "17133004061987981073".into(),
        }
    );
    let json = serde_json::to_value(&action).unwrap();
    assert_eq!(json["action"], "switchover");
    assert_eq!(json["call"]["kind"], "etcd_move_leader");
    let back: Action = serde_json::from_value(json).unwrap();
    assert_eq!(back, action);
}

#[test]
fn etcd_refuses_a_learner_and_an_unknown_id() {
    let mut c = etcd();
    let e = plan(&c.members[2], &c).unwrap_err();
    assert!(e.starts_with("m2 is a learner"), "{e}");
    c.members[1]
        .raw
        .insert("etcd id".into(), "12; rm -rf".into());
    let e = plan(&c.members[1], &c).unwrap_err();
    assert_eq!(e, "the console does not know m1's etcd member id");
}

fn sentinel_cluster() -> Cluster {
    let mut sentinel_down = member(
        "127.0.0.1:26380",
        "127.0.0.1:26380",
        Tier::Unknown,
        "sentinel",
    );
    sentinel_down.health = Health::Down;
    let replica = |port: u16, offset: u64| {
        let mut m = member(
            &format!("127.0.0.1:{port}"),
            &format!("127.0.0.1:{port}"),
            Tier::Copy,
            "slave",
        );
        m.link = Some(Link::Up);
        m.repl_offset = Some(offset);
        m.raw.insert("slave_priority".into(), "100".into());
        m
    };
    let mut c = cluster(
        "redis",
        "sentinel/mymaster",
        vec![
            member("127.0.0.1:6379", "127.0.0.1:6379", Tier::Master, "master"),
            replica(6380, 100),
            replica(6381, 900),
            member(
                "127.0.0.1:26379",
                "127.0.0.1:26379",
                Tier::Unknown,
                "sentinel",
            ),
            sentinel_down,
        ],
    );
    c.consensus = Some(ConsensusView::from_sentinel(SentinelView {
        master_name: "mymaster".into(),
        master_address: Some("127.0.0.1:6379".into()),
        flags: vec!["master".into()],
        ..SentinelView::default()
    }));
    c
}

#[test]
fn sentinel_is_asked_and_the_dialog_names_its_likely_pick() {
    let c = sentinel_cluster();
    let action = plan(&c.members[1], &c).unwrap();
    let text = action.describe();
    assert_eq!(
        call(action),
        AppCall::SentinelFailover {
            master_name: "mymaster".into(),
            sentinels: vec!["127.0.0.1:26379".into()],
            candidate: "127.0.0.1:6380".into(),
            likely: Some("127.0.0.1:6381".into()),
        }
    );
    assert!(
        text.contains("Sentinel chooses the replica") && text.contains("not 127.0.0.1:6380"),
        "{text}"
    );
    let e = plan(&c.members[3], &c).unwrap_err();
    assert!(e.starts_with("127.0.0.1:26379 is a Sentinel"), "{e}");
}

#[test]
fn no_sentinel_that_answers_means_no_failover() {
    let mut c = sentinel_cluster();
    c.members[3].health = Health::Down;
    let e = plan(&c.members[1], &c).unwrap_err();
    assert!(
        e.starts_with("no Sentinel watching mymaster answers"),
        "{e}"
    );
}

fn plain_redis() -> Cluster {
    let mut down = member("127.0.0.1:6382", "127.0.0.1:6382", Tier::Copy, "slave");
    down.health = Health::Down;
    cluster(
        "redis",
        "redis/127.0.0.1:6379",
        vec![
            member("127.0.0.1:6379", "127.0.0.1:6379", Tier::Master, "master"),
            member("127.0.0.1:6380", "127.0.0.1:6380", Tier::Copy, "slave"),
            member("127.0.0.1:6381", "127.0.0.1:6381", Tier::Copy, "slave"),
            down,
        ],
    )
}

#[test]
fn without_sentinel_the_candidate_is_promoted_and_the_rest_follow_it() {
    let c = plain_redis();
    assert_eq!(
        call(plan(&c.members[2], &c).unwrap()),
        AppCall::RedisReplicaOf {
            candidate: "127.0.0.1:6381".into(),
            master: "127.0.0.1:6379".into(),
            replicas: vec!["127.0.0.1:6380".into()],
            left_out: vec!["127.0.0.1:6382".into()],
        }
    );
}

#[test]
fn a_sentinel_in_the_group_forbids_replicaof() {
    let mut c = plain_redis();
    c.members.push(member(
        "127.0.0.1:26379",
        "127.0.0.1:26379",
        Tier::Unknown,
        "sentinel",
    ));
    let e = plan(&c.members[1], &c).unwrap_err();
    assert!(
        e.starts_with("Sentinel watches 127.0.0.1:6379: REPLICAOF would fight it"),
        "{e}"
    );
}

#[test]
fn other_applications_say_what_switchover_works_on() {
    let c = cluster(
        "zookeeper",
        "probe/zookeeper/zk",
        vec![
            member("zk1", "127.0.0.1:2181", Tier::Master, "leader"),
            member("zk2", "127.0.0.1:2182", Tier::Copy, "follower"),
        ],
    );
    let e = plan(&c.members[1], &c).unwrap_err();
    assert_eq!(
        e,
        "switchover works on Patroni, etcd and Redis; zk is zookeeper"
    );
}

/// The recorded steady Patroni cluster (Patroni 3.0.2, see
/// tests/fixtures/probes/patroni/NOTES.md) read by the built-in Patroni
/// definition and merged as the console merges it: the contract between
/// the probe and the switchover (kind, names, `asked at`) on real replies.
fn patroni_as_probed() -> Cluster {
    use crate::model::{SourceKind, SourceReport, SourceStatus, Topology};
    use crate::sources::probes::assemble::{ClusterSpec, Look, assemble};
    use crate::sources::probes::definition::Catalog;
    use crate::sources::probes::said::read;
    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/probes/patroni/steady/"
    );
    let json = |file: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}{file}")).unwrap()).unwrap()
    };
    let def = Catalog::new(&[]).unwrap().get("patroni").unwrap();
    let look = |endpoint: &str, file: &str| {
        let doc = serde_json::json!({
            "endpoint": endpoint, "patroni": json(file), "cluster": json("cluster.json")
        });
        Look {
            endpoint: endpoint.into(),
            address: None,
            name: None,
            result: read(&def, &doc),
        }
    };
    let looks = [
        look("127.0.0.1:52065", "patroni-leader.json"),
        look("127.0.0.1:50923", "patroni-replica.json"),
    ];
    let spec = ClusterSpec {
        id: "patroni:127.0.0.1:52065".into(),
        name: "patroni".into(),
        precedence: 1,
    };
    let out = assemble(&def, &spec, &looks, |p| p.endpoint.clone());
    let report = SourceReport {
        source: "probe#0".into(),
        kind: SourceKind::Probe,
        target: "patroni=http://127.0.0.1:52065".into(),
        status: SourceStatus::Ok,
        at: time::OffsetDateTime::now_utc(),
        clusters: vec![out.cluster],
        members: out.members,
        notes: Vec::new(),
    };
    Topology::merge([&report]).clusters.remove(0)
}

#[test]
fn patroni_as_its_probe_shows_it_is_asked_as_recorded() {
    let c = patroni_as_probed();
    assert_eq!(c.kind, "patroni");
    let node2 = c.members.iter().find(|m| m.name == "node2").unwrap();
    assert_eq!(
        call(plan(node2, &c).unwrap()),
        AppCall::Patroni {
            api: "127.0.0.1:52065".into(),
            api_of: "node1".into(),
            leader: "node1".into(),
            candidate: "node2".into(),
        }
    );
    // node3 was never asked: its API is known from /cluster's api_url.
    let node3 = c.members.iter().find(|m| m.name == "node3").unwrap();
    assert!(plan(node3, &c).is_ok());
    let node1 = c.members.iter().find(|m| m.name == "node1").unwrap();
    assert_eq!(plan(node1, &c).unwrap_err(), "node1 leads patroni already");
}
