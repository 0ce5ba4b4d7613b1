//! Unit tests for the merge and the timeline.

use time::macros::datetime;

use super::*;

fn t(s: i64) -> Timestamp {
    datetime!(2026-01-01 00:00:00 UTC) + time::Duration::seconds(s)
}

fn redis_member(cluster: &str, address: &str, tier: Tier, leader: bool) -> MemberObservation {
    MemberObservation {
        cluster: cluster.into(),
        name: address.into(),
        address: Some(address.into()),
        authority: Authority::Application,
        tier,
        leader,
        native_role: Some(
            if tier == Tier::Master {
                "master"
            } else {
                "slave"
            }
            .into(),
        ),
        health: Health::Ok,
        link: (tier == Tier::Copy).then_some(Link::Up),
        ..Default::default()
    }
}

fn cluster(id: &str, precedence: u8) -> ClusterObservation {
    ClusterObservation {
        id: id.into(),
        kind: "redis".into(),
        name: id.into(),
        precedence,
        ..Default::default()
    }
}

fn report(
    source: &str,
    clusters: Vec<ClusterObservation>,
    members: Vec<MemberObservation>,
) -> SourceReport {
    SourceReport {
        source: source.into(),
        kind: SourceKind::Redis,
        target: format!("redis://{source}"),
        status: SourceStatus::Ok,
        at: t(0),
        clusters,
        members,
        notes: Vec::new(),
    }
}

fn three(leader: &str) -> SourceReport {
    let addrs = ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"];
    let members = addrs
        .iter()
        .map(|a| {
            let lead = *a == leader;
            redis_member(
                "redis/a",
                a,
                if lead { Tier::Master } else { Tier::Copy },
                lead,
            )
        })
        .collect();
    report("redis#0", vec![cluster("redis/a", 1)], members)
}

#[test]
fn one_cluster_one_leader_two_copies() {
    let topo = Topology::merge([&three("10.0.0.1:6379")]);
    assert_eq!(topo.clusters.len(), 1);
    let c = &topo.clusters[0];
    assert_eq!(c.leader.as_deref(), Some("10.0.0.1:6379"));
    assert_eq!(c.members[0].tier, Tier::Master);
    assert!(c.members[0].leader);
    assert_eq!(c.members.iter().filter(|m| m.tier == Tier::Copy).count(), 2);
}

#[test]
fn same_address_from_two_sources_is_one_member_in_the_higher_precedence_cluster() {
    let a = three("10.0.0.1:6379");
    let mut s = report(
        "sentinel#0",
        vec![cluster("sentinel/mymaster", 5)],
        vec![redis_member(
            "sentinel/mymaster",
            "10.0.0.1:6379",
            Tier::Master,
            true,
        )],
    );
    s.kind = SourceKind::Sentinel;
    let topo = Topology::merge([&a, &s]);
    assert_eq!(topo.clusters.len(), 1, "{topo:#?}");
    let c = &topo.clusters[0];
    assert_eq!(c.id, "sentinel/mymaster");
    assert_eq!(c.members.len(), 3);
    let master = c.member("10.0.0.1:6379").unwrap();
    assert_eq!(master.sources, vec!["redis#0", "sentinel#0"]);
}

#[test]
fn application_roles_beat_platform_labels_and_placement_is_filled_from_both() {
    let app = three("10.0.0.1:6379");
    let platform = MemberObservation {
        cluster: "compose/lab".into(),
        name: "lab-redis-2".into(),
        address: Some("10.0.0.2:6379".into()),
        authority: Authority::Platform,
        tier: Tier::Master,
        health: Health::Ok,
        placement: Placement {
            platform: Some(crate::model::Platform::Docker),
            container: Some("lab-redis-2".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let docker = report("docker#0", vec![cluster("compose/lab", 0)], vec![platform]);
    let topo = Topology::merge([&app, &docker]);
    assert_eq!(
        topo.clusters.len(),
        1,
        "an emptied platform cluster is dropped"
    );
    let m = topo.clusters[0].member("10.0.0.2:6379").unwrap();
    assert_eq!(m.tier, Tier::Copy);
    assert_eq!(m.name, "lab-redis-2");
    assert_eq!(m.placement.container.as_deref(), Some("lab-redis-2"));
}

#[test]
fn a_down_master_does_not_lead() {
    let mut r = three("10.0.0.1:6379");
    r.members[0].health = Health::Down;
    let topo = Topology::merge([&r]);
    assert_eq!(topo.clusters[0].leader, None);
    assert!(topo.clusters[0].members.iter().all(|m| !m.leader));
}

#[test]
fn registry_record_joins_the_cluster_at_its_address_and_is_compared() {
    let mut registry = report("registry#0", vec![], vec![]);
    registry.clusters.push(ClusterObservation {
        id: "registry/zero".into(),
        kind: "registry".into(),
        name: "zero".into(),
        recorded_leader: Some(RecordedLeader {
            address: "10.0.0.2:6379".into(),
            from: "redis://x key zero".into(),
            ..RecordedLeader::default()
        }),
        ..Default::default()
    });
    let topo = Topology::merge([&three("10.0.0.1:6379"), &registry]);
    assert_eq!(topo.clusters.len(), 1);
    assert_eq!(topo.clusters[0].recorded_leader_agrees, Some(false));
    let topo = Topology::merge([&three("10.0.0.2:6379"), &registry]);
    assert_eq!(topo.clusters[0].recorded_leader_agrees, Some(true));
}

#[test]
fn failover_gives_leader_lost_then_leader_changed_with_leaderless_time() {
    let mut timeline = Timeline::default();
    let empty = Topology::default();
    let before = Topology::merge([&three("10.0.0.1:6379")]);
    let added = timeline.observe(&empty, &before, t(0));
    assert_eq!(
        added
            .iter()
            .filter(|e| e.kind == EventKind::MemberAdded)
            .count(),
        3
    );
    assert!(added.iter().all(|e| e.kind == EventKind::MemberAdded));

    let mut down = three("10.0.0.1:6379");
    down.members[0].health = Health::Down;
    down.members[1].link = Some(Link::Down);
    let down = Topology::merge([&down]);
    let ev = timeline.observe(&before, &down, t(1));
    let kinds: Vec<_> = ev.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&EventKind::LeaderLost), "{kinds:?}");
    assert!(kinds.contains(&EventKind::LinkDown));
    assert!(kinds.contains(&EventKind::HealthChanged));
    assert_eq!(timeline.leaderless_since("redis/a"), Some(t(1)));

    let after = Topology::merge([&three("10.0.0.2:6379")]);
    let ev = timeline.observe(&down, &after, t(4));
    let change = ev
        .iter()
        .find(|e| e.kind == EventKind::LeaderChanged)
        .unwrap();
    assert_eq!(change.details["from"], "10.0.0.1:6379");
    assert_eq!(change.details["to"], "10.0.0.2:6379");
    assert_eq!(change.details["leaderless_ms"], 3000);
    assert_eq!(timeline.leaderless_since("redis/a"), None);
}

#[test]
fn direct_leader_switch_between_two_looks_is_a_change_with_zero_leaderless_time() {
    let mut timeline = Timeline::default();
    let a = Topology::merge([&three("10.0.0.1:6379")]);
    timeline.observe(&Topology::default(), &a, t(0));
    let b = Topology::merge([&three("10.0.0.3:6379")]);
    let ev = timeline.observe(&a, &b, t(1));
    let change = ev
        .iter()
        .find(|e| e.kind == EventKind::LeaderChanged)
        .unwrap();
    assert_eq!(change.details["leaderless_ms"], 0);
    assert!(ev.iter().any(|e| e.kind == EventKind::TierChanged));
}

#[test]
fn source_error_is_reported_once_and_recovery_once() {
    let mut timeline = Timeline::default();
    let ok = Topology::merge([&three("10.0.0.1:6379")]);
    timeline.observe(&Topology::default(), &ok, t(0));
    let mut failing = three("10.0.0.1:6379");
    failing.status = SourceStatus::Error("connection refused".into());
    let failing = Topology::merge([&failing]);
    assert_eq!(timeline.observe(&ok, &failing, t(1)).len(), 1);
    assert_eq!(timeline.observe(&failing, &failing, t(2)).len(), 0);
    let ev = timeline.observe(&failing, &ok, t(3));
    assert_eq!(ev[0].kind, EventKind::SourceRecovered);
}

#[test]
fn events_serialise_with_the_contract_field_names() {
    let e = Event::new(t(0), EventKind::LinkDown)
        .cluster("c")
        .member("m");
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["kind"], "link_down");
    assert_eq!(v["at"], "2026-01-01T00:00:00Z");
    assert_eq!(v["cluster"], "c");
    assert_eq!(v["member"], "m");
    assert!(v["details"].is_object());
}

#[test]
fn timeline_is_bounded() {
    let mut timeline = Timeline::with_capacity(3);
    for i in 0..10 {
        timeline.push(Event::new(t(i), EventKind::LinkUp));
    }
    assert_eq!(timeline.len(), 3);
    assert_eq!(timeline.events().next().unwrap().at, t(7));
}

#[test]
fn addresses_are_normalised() {
    assert_eq!(normalize_address("localhost", 6379), "127.0.0.1:6379");
    assert_eq!(normalize_address("Redis-0.Redis", 1), "redis-0.redis:1");
    assert_eq!(normalize_address("::1", 7), "[::1]:7");
    assert_eq!(normalize_address("[::1]", 7), "[::1]:7");
}

#[test]
fn lag_history_keeps_recent_samples_of_present_members() {
    let mut history = LagHistory::with_depth(2);
    let mut r = three("10.0.0.1:6379");
    let at = |s: i64| time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_000_000 + s);
    for (second, lag) in [(0, 5), (1, 6), (7, 7)] {
        r.members[1].lag_bytes = Some(lag);
        history.record(&Topology::merge([&r]), at(second));
    }
    assert_eq!(history.samples("10.0.0.2:6379"), vec![6, 7]);
    // Five-second buckets, the worst lag in each, the newest last.
    let minutes = history.minutes("10.0.0.2:6379", at(7));
    assert_eq!(minutes.len(), crate::model::history::BUCKETS);
    assert_eq!(&minutes[minutes.len() - 2..], [Some(6), Some(7)]);
    assert!(minutes[..minutes.len() - 2].iter().all(Option::is_none));
    let later = history.minutes("10.0.0.2:6379", at(7 + 5 * 60));
    assert!(
        later.iter().all(Option::is_none),
        "five minutes on, all gone"
    );
    r.members[1].lag_bytes = None;
    history.record(&Topology::merge([&r]), at(8));
    assert!(history.samples("10.0.0.2:6379").is_empty());
}

#[test]
fn lag_history_leaves_quiet_buckets_empty_and_folds_a_clock_step_back() {
    let mut history = LagHistory::default();
    let mut r = three("10.0.0.1:6379");
    let at = |s: i64| time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_000_000 + s);
    // Buckets 0, then 3 (1 and 2 quiet), then a sample stamped back in 0.
    for (second, lag) in [(0, 40), (15, 9), (1, 70)] {
        r.members[1].lag_bytes = Some(lag);
        history.record(&Topology::merge([&r]), at(second));
    }
    let minutes = history.minutes("10.0.0.2:6379", at(15));
    let last = minutes.len() - 1;
    assert_eq!(
        &minutes[last - 3..],
        [Some(70), None, None, Some(9)],
        "the worst of bucket 0 is the late sample"
    );
    assert_eq!(history.samples("10.0.0.2:6379"), vec![40, 9, 70]);
    // A gap longer than the chart starts it over.
    r.members[1].lag_bytes = Some(5);
    history.record(&Topology::merge([&r]), at(15 + 3600));
    let minutes = history.minutes("10.0.0.2:6379", at(15 + 3600));
    assert_eq!(minutes.iter().flatten().collect::<Vec<_>>(), [&5]);
}

#[test]
fn an_observer_in_two_clusters_is_shown_in_both_and_joins_neither() {
    let mut sentinel = report(
        "sentinel#0",
        vec![cluster("sentinel/a", 5), cluster("sentinel/b", 5)],
        vec![],
    );
    sentinel.members.push(redis_member(
        "sentinel/a",
        "10.0.0.1:6379",
        Tier::Master,
        true,
    ));
    sentinel.members.push(redis_member(
        "sentinel/b",
        "10.0.1.1:6379",
        Tier::Master,
        true,
    ));
    for c in ["sentinel/a", "sentinel/b"] {
        let mut observer = redis_member(c, "10.0.9.9:26379", Tier::Unknown, false);
        observer.native_role = Some("sentinel".into());
        observer.link = None;
        sentinel.members.push(observer);
    }
    let topo = Topology::merge([&sentinel]);
    assert_eq!(topo.clusters.len(), 2, "{topo:#?}");
    for c in &topo.clusters {
        assert_eq!(c.members.len(), 2);
        assert!(c.member("10.0.9.9:26379").is_some());
    }
}

#[test]
fn events_name_members_as_the_platform_does() {
    let mut pods = report("kube#0", vec![], Vec::new());
    pods.kind = SourceKind::Kube;
    for (i, address) in ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"]
        .iter()
        .enumerate()
    {
        pods.members.push(MemberObservation {
            cluster: "k8s/cache/redis".into(),
            name: format!("redis-{i}"),
            address: Some((*address).into()),
            authority: Authority::Platform,
            ..Default::default()
        });
    }
    let before = Topology::merge([&three("10.0.0.1:6379"), &pods]);
    let after = Topology::merge([&three("10.0.0.2:6379"), &pods]);
    let mut timeline = Timeline::default();
    timeline.observe(&Topology::default(), &before, t(0));
    let events = timeline.observe(&before, &after, t(1));
    let change = events
        .iter()
        .find(|e| e.kind == EventKind::LeaderChanged)
        .expect("a leader change");
    assert_eq!(change.details["from_name"], "redis-0");
    assert_eq!(change.details["to_name"], "redis-1");
    assert_eq!(
        change.member.as_deref(),
        Some("10.0.0.2:6379"),
        "ids stay addresses"
    );
    assert!(
        change.summary().starts_with("redis-0 -> redis-1"),
        "{}",
        change.summary()
    );
}

#[test]
fn a_cluster_without_master_tier_is_not_leaderless() {
    let mut member = redis_member("c", "10.0.0.1:1", Tier::Unknown, false);
    member.authority = Authority::Platform;
    let topology = Topology::merge([&report("kube#0", vec![cluster("c", 0)], vec![member])]);
    let mut timeline = Timeline::default();
    timeline.observe(&Topology::default(), &topology, t(0));
    assert_eq!(timeline.leaderless_since("c"), None);
}

/// A Sentinel-decided cluster observation naming `master`.
fn sentinel_cluster(name: &str, master: &str) -> ClusterObservation {
    ClusterObservation {
        consensus: Some(ConsensusView::from_sentinel(SentinelView {
            master_name: name.into(),
            master_address: Some(master.into()),
            flags: vec!["master".into()],
            ..SentinelView::default()
        })),
        ..cluster(&format!("sentinel/{name}"), 5)
    }
}

/// A Redis instance that answered `role:master` (claims) or `role:slave`.
fn answered(cluster: &str, address: &str, master: bool) -> MemberObservation {
    let tier = if master { Tier::Master } else { Tier::Copy };
    MemberObservation {
        claims_leader: master,
        ..redis_member(cluster, address, tier, false)
    }
}

const OLD: &str = "10.0.0.1:6379";
const NEW: &str = "10.0.0.2:6379";

#[test]
fn the_master_sentinel_names_leads_and_a_stale_master_is_shown_claiming() {
    // The old master's group (first, as `--redis` sources are planned)
    // still picks it as it has more replicas; Sentinel has switched.
    let stale = report(
        "redis#0",
        vec![cluster("redis/a", 1)],
        vec![
            MemberObservation {
                leader: true,
                ..answered("redis/a", OLD, true)
            },
            answered("redis/a", NEW, true),
        ],
    );
    let sentinel = report(
        "sentinel#0",
        vec![sentinel_cluster("mymaster", NEW)],
        vec![
            answered("sentinel/mymaster", OLD, true),
            MemberObservation {
                leader: true,
                ..answered("sentinel/mymaster", NEW, true)
            },
        ],
    );
    let topo = Topology::merge([&stale, &sentinel]);
    assert_eq!(topo.clusters.len(), 1);
    let c = &topo.clusters[0];
    assert_eq!(c.leader.as_deref(), Some(NEW));
    let old = c.member(OLD).unwrap();
    assert_eq!((old.tier, old.leader), (Tier::Master, false));
    assert_eq!(old.native_role.as_deref(), Some("master"));
    assert_eq!(
        old.role_dispute.as_deref(),
        Some("claims master; Sentinel names 10.0.0.2:6379")
    );
    assert_eq!(c.member(NEW).unwrap().role_dispute, None);
    assert_eq!(c.leaders_conflict, [OLD, NEW]);
    let alarm = c.consensus.as_ref().and_then(|v| v.alarm.as_deref());
    assert_eq!(alarm, Some(topology::LEADERS_CONFLICT_ALARM));
    assert_eq!(
        c.alarm().as_deref(),
        Some("2 members claim master: 10.0.0.1:6379, 10.0.0.2:6379")
    );
    let json = serde_json::to_value(c).unwrap();
    assert_eq!(json["leaders_conflict"][1], NEW);
    assert_eq!(
        json["members"][1]["role_dispute"],
        old.role_dispute.clone().unwrap()
    );
}

#[test]
fn the_newest_answer_gives_the_role() {
    let mut before = report(
        "redis#0",
        vec![cluster("redis/a", 1)],
        vec![answered("redis/a", OLD, true)],
    );
    let mut after = report(
        "redis#1",
        vec![cluster("redis/b", 1)],
        vec![answered("redis/b", OLD, false)],
    );
    after.at = t(1);
    let topo = Topology::merge([&before, &after]);
    let m = topo.clusters[0].member(OLD).unwrap();
    assert_eq!((m.tier, m.claims_leader), (Tier::Copy, false));
    before.at = t(2);
    let topo = Topology::merge([&before, &after]);
    let m = topo.clusters[0].member(OLD).unwrap();
    assert_eq!((m.tier, m.claims_leader), (Tier::Master, true));
}

#[test]
fn two_masters_in_a_group_are_a_conflict_then_agree() {
    let split = report(
        "redis#0",
        vec![cluster("redis/a", 1)],
        vec![
            MemberObservation {
                leader: true,
                ..answered("redis/a", OLD, true)
            },
            answered("redis/a", NEW, true),
        ],
    );
    let healed = report(
        "redis#0",
        vec![cluster("redis/a", 1)],
        vec![
            MemberObservation {
                leader: true,
                ..answered("redis/a", OLD, true)
            },
            answered("redis/a", NEW, false),
        ],
    );
    let mut timeline = Timeline::default();
    let start = Topology::merge([&healed]);
    let quiet = timeline.observe(&Topology::default(), &start, t(0));
    assert!(quiet.iter().all(|e| e.kind != EventKind::LeadersConflict));
    let topo = Topology::merge([&split]);
    let c = &topo.clusters[0];
    assert_eq!(c.leader.as_deref(), Some(OLD), "the group's choice leads");
    assert_eq!(
        c.member(NEW).unwrap().role_dispute.as_deref(),
        Some("claims master; 10.0.0.1:6379 leads")
    );
    let events = timeline.observe(&start, &topo, t(1));
    let conflict = events
        .iter()
        .find(|e| e.kind == EventKind::LeadersConflict)
        .expect("leaders_conflict");
    assert_eq!(conflict.details["members"], serde_json::json!([OLD, NEW]));
    assert_eq!(conflict.details["leader"], OLD);
    assert!(conflict.summary().contains("2 members claim to lead"));
    let again = timeline.observe(&topo, &Topology::merge([&split]), t(2));
    assert!(again.is_empty(), "once, not every look: {again:?}");
    let events = timeline.observe(&topo, &start, t(3));
    let agree: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::LeadersAgree)
        .collect();
    assert_eq!(agree.len(), 1, "{events:?}");
    assert_eq!(agree[0].details["leader"], OLD);
    let json = serde_json::to_value(agree[0]).unwrap();
    assert_eq!(json["kind"], "leaders_agree");
}

#[test]
fn one_master_under_two_sentinel_names_is_two_clusters() {
    let members = |name: &str| {
        vec![
            answered(&format!("sentinel/{name}"), OLD, true),
            answered(&format!("sentinel/{name}"), NEW, false),
        ]
    };
    let mut all = members("a");
    all.extend(members("b"));
    let sentinel = report(
        "sentinel#0",
        vec![sentinel_cluster("a", OLD), sentinel_cluster("b", OLD)],
        all,
    );
    let group = report(
        "redis#0",
        vec![cluster("redis/x", 1)],
        vec![answered("redis/x", OLD, true)],
    );
    let topo = Topology::merge([&group, &sentinel]);
    let ids: Vec<&str> = topo.clusters.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["sentinel/a", "sentinel/b"]);
    for c in &topo.clusters {
        assert_eq!(c.members.len(), 2, "{c:#?}");
        assert_eq!(c.leader.as_deref(), Some(OLD));
        assert!(c.leaders_conflict.is_empty());
    }
    let mut timeline = Timeline::default();
    let first = timeline.observe(&Topology::default(), &topo, t(0));
    let again = timeline.observe(&topo, &Topology::merge([&group, &sentinel]), t(1));
    assert!(
        again.iter().all(|e| e.kind != EventKind::MemberRemoved),
        "{first:?} {again:?}"
    );
}

#[test]
fn clusters_are_in_the_order_people_count() {
    use super::topology::natural_cmp;
    let mut ids = vec!["ag-10", "ag-2", "ag-1", "b", "ag-02", "ag"];
    ids.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(ids, ["ag", "ag-1", "ag-2", "ag-02", "ag-10", "b"]);
    assert_eq!(natural_cmp("x9", "x10"), std::cmp::Ordering::Less);
    assert_eq!(natural_cmp("é2", "é10"), std::cmp::Ordering::Less);
}

/// `three(leader)` with a raft group's view at `term`.
fn raft_three(leader: &str, term: u64) -> SourceReport {
    let mut report = three(leader);
    report.clusters[0].consensus = Some(ConsensusView {
        arbiter: Arbiter::Raft {
            group: "etcd".into(),
        },
        leader: Some(leader.into()),
        term: Some(term),
        voters: Some(3),
        quorum: Some(2),
        in_progress: None,
        alarm: None,
        facts: Vec::new(),
    });
    report
}

#[test]
fn a_raft_leader_change_carries_its_term_and_a_reelection_is_a_term_change() {
    let mut timeline = Timeline::default();
    let first = Topology::merge(&[raft_three("10.0.0.1:6379", 2)]);
    timeline.observe(&Topology::default(), &first, t(0));
    let moved = Topology::merge(&[raft_three("10.0.0.2:6379", 3)]);
    let events = timeline.observe(&first, &moved, t(1));
    let changed = events
        .iter()
        .find(|e| e.kind == EventKind::LeaderChanged)
        .expect("leader_changed");
    assert_eq!(changed.details["term"], 3);
    assert!(
        changed.summary().contains("term 3"),
        "{}",
        changed.summary()
    );
    let reelected = Topology::merge(&[raft_three("10.0.0.2:6379", 5)]);
    let events = timeline.observe(&moved, &reelected, t(2));
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::TermChanged]);
    assert_eq!(
        (
            events[0].details["from"].clone(),
            events[0].details["to"].clone()
        ),
        (3.into(), 5.into())
    );
}
