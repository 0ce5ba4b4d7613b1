//! What a recorded leader means over time: how long the record has named
//! its value, and since when it has disagreed with the leader observed. A
//! record that names another member than the one acting as leader for
//! longer than the grace (two poll intervals: a record lags the election
//! that changed it by up to one read) is a split brain, raised as a
//! leaders conflict naming both.

use std::time::Duration;

use super::topology::LEADERS_CONFLICT_ALARM;
use super::{RecordedLeader, Timestamp, Topology};

/// Carries `since` and `disagrees_since` over from the previous view and
/// raises the conflicts that outlived `grace`.
pub fn carry(old: &Topology, new: &mut Topology, now: Timestamp, grace: Duration) {
    // By cluster id: a fleet of recorded clusters is not searched per cluster.
    let records: foldhash::HashMap<&str, &RecordedLeader> = old
        .clusters
        .iter()
        .filter_map(|c| Some((c.id.as_str(), c.recorded_leader.as_ref()?)))
        .collect();
    for cluster in &mut new.clusters {
        let Some(recorded) = &mut cluster.recorded_leader else {
            continue;
        };
        let before = records
            .get(cluster.id.as_str())
            .copied()
            .filter(|b| b.from == recorded.from);
        let same_value = before.filter(|b| b.address == recorded.address);
        recorded.since = same_value.and_then(|b| b.since).or(Some(now));
        if cluster.recorded_leader_agrees != Some(false) || cluster.leader.is_none() {
            recorded.disagrees_since = None;
            continue;
        }
        let since = before.and_then(|b| b.disagrees_since).unwrap_or(now);
        recorded.disagrees_since = Some(since);
        if (now - since).unsigned_abs() < grace {
            continue;
        }
        let named = recorded
            .holder
            .clone()
            .unwrap_or_else(|| recorded.address.clone());
        let leader = cluster.leader.clone();
        let conflict = &mut cluster.leaders_conflict;
        for id in [Some(named), leader].into_iter().flatten() {
            if !conflict.contains(&id) {
                conflict.push(id);
            }
        }
        conflict.sort();
        if let Some(consensus) = &mut cluster.consensus {
            consensus.alarm = Some(LEADERS_CONFLICT_ALARM.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Authority, ClusterObservation, Health, MemberObservation, RecordedLeader, SourceKind,
        SourceReport, SourceStatus, Tier,
    };

    fn at(seconds: i64) -> Timestamp {
        time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(seconds)
    }

    /// node1 leads; the record names `recorded`.
    fn view(recorded: &str) -> Topology {
        view_in(recorded, None)
    }

    fn view_in(recorded: &str, cluster: Option<&str>) -> Topology {
        let member = |name: &str, port: u16, leader: bool| MemberObservation {
            cluster: "pg".into(),
            name: name.into(),
            address: Some(format!("127.0.0.1:{port}")),
            authority: Authority::Application,
            tier: if leader { Tier::Master } else { Tier::Copy },
            leader,
            health: Health::Ok,
            ..Default::default()
        };
        let probe = SourceReport {
            source: "probe#0".into(),
            kind: SourceKind::Probe,
            target: "patroni".into(),
            status: SourceStatus::Ok,
            at: at(0),
            clusters: vec![ClusterObservation {
                id: "pg".into(),
                kind: "patroni".into(),
                name: "pg".into(),
                precedence: 1,
                ..Default::default()
            }],
            members: vec![member("node1", 5001, true), member("node2", 5002, false)],
            notes: Vec::new(),
        };
        let record = SourceReport {
            source: "registry#0".into(),
            kind: SourceKind::Registry,
            target: "etcd".into(),
            clusters: vec![ClusterObservation {
                id: "record/etcd".into(),
                kind: "record".into(),
                name: "leader".into(),
                recorded_leader: Some(RecordedLeader {
                    address: recorded.into(),
                    from: "etcd key /service/pg/leader".into(),
                    cluster: cluster.map(str::to_string),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            members: Vec::new(),
            ..probe.clone()
        };
        Topology::merge(&[probe, record])
    }

    fn step(old: &Topology, recorded: &str, now: i64) -> Topology {
        let mut new = view(recorded);
        carry(old, &mut new, at(now), Duration::from_secs(2));
        new
    }

    #[test]
    fn a_record_naming_the_leader_by_name_agrees_and_is_held_since_first_seen() {
        let first = step(&Topology::default(), "node1", 0);
        let later = step(&first, "node1", 5);
        let cluster = &later.clusters[0];
        assert_eq!(cluster.recorded_leader_agrees, Some(true), "{cluster:#?}");
        let recorded = cluster.recorded_leader.as_ref().unwrap();
        assert_eq!(recorded.since, Some(at(0)));
        assert!(recorded.holder.is_some());
        assert!(cluster.leaders_conflict.is_empty());
    }

    #[test]
    fn a_disagreement_becomes_a_conflict_after_the_grace_and_clears_when_fixed() {
        let mut view = step(&Topology::default(), "node2", 0);
        assert!(
            view.clusters[0].leaders_conflict.is_empty(),
            "within the grace"
        );
        view = step(&view, "node2", 1);
        assert!(view.clusters[0].leaders_conflict.is_empty());
        view = step(&view, "node2", 2);
        let cluster = &view.clusters[0];
        assert_eq!(cluster.leaders_conflict.len(), 2, "{cluster:#?}");
        assert_eq!(
            cluster.recorded_leader.as_ref().unwrap().disagrees_since,
            Some(at(0))
        );
        view = step(&view, "node1", 3);
        assert!(view.clusters[0].leaders_conflict.is_empty());
        assert_eq!(
            view.clusters[0].recorded_leader.as_ref().unwrap().since,
            Some(at(3))
        );
    }

    #[test]
    fn a_record_naming_no_member_joins_only_the_cluster_it_is_told() {
        let view = step(&Topology::default(), "ghost", 0);
        assert_eq!(view.clusters.len(), 2, "not joined: nothing names it");
        let mut new = view_in("ghost", Some("pg"));
        carry(&Topology::default(), &mut new, at(0), Duration::ZERO);
        assert_eq!(new.clusters.len(), 1);
        let conflict = &new.clusters[0].leaders_conflict;
        assert_eq!(conflict.len(), 2, "{conflict:?}");
        assert!(conflict.contains(&"ghost".to_string()), "{conflict:?}");
    }
}
