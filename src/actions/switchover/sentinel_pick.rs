//! Which replica Sentinel will promote on `SENTINEL FAILOVER`, by what the
//! console saw last, so the confirm dialog can say so when it is not the
//! one selected. Sentinel's own rule (redis/src/sentinel.c,
//! `sentinelSelectSlave` and `compareSlavesForPromotion`, Redis 7.0): leave
//! out replicas that are down, disconnected or have `replica-priority 0`;
//! then the lowest priority, then the largest replication offset, then the
//! smallest run id. Offsets move between the look and the failover, so this
//! is a forecast, worded as one.

use std::cmp::Ordering;

use crate::model::{Cluster, Health, Link, Member, Tier};

/// One replica as Sentinel ranks it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ranked<'a> {
    id: &'a str,
    priority: u64,
    offset: u64,
    run_id: Option<&'a str>,
}

/// The id of the replica Sentinel will likely promote; None when a replica
/// it could pick lacks what the rule needs (priority, offset, a run id to
/// break a tie), or none is eligible.
pub fn likely_pick(cluster: &Cluster) -> Option<String> {
    let mut ranked = Vec::new();
    for member in cluster.members.iter().filter(|m| is_candidate(m)) {
        let priority = field(
            member,
            &["slave_priority", "slave-priority", "replica-priority"],
        )?;
        if priority == 0 {
            continue;
        }
        ranked.push(Ranked {
            id: &member.id,
            priority,
            offset: member.repl_offset?,
            run_id: text(member, &["run_id", "run-id"]),
        });
    }
    ranked.sort_by(compare);
    let best = ranked.first()?;
    // A tie Sentinel breaks by a run id the console does not know.
    let tied = ranked
        .get(1)
        .is_some_and(|second| compare(best, second) == Ordering::Equal);
    (!tied).then(|| best.id.to_string())
}

/// A replica Sentinel would consider: a copy, not down (by the console
/// or by Sentinel's flags), its link up.
fn is_candidate(member: &Member) -> bool {
    member.tier == Tier::Copy
        && !member.leader
        && member.health != Health::Down
        && member.link != Some(Link::Down)
        && member.native_role.as_deref() != Some("sentinel")
        && !member.raw.get("sentinel-flags").is_some_and(|flags| {
            flags
                .split(',')
                .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"))
        })
}

/// Sentinel's order: lower priority, larger offset, smaller run id (one
/// with no run id goes last, as Sentinel puts a NULL run id last).
fn compare(a: &Ranked<'_>, b: &Ranked<'_>) -> Ordering {
    a.priority
        .cmp(&b.priority)
        .then(b.offset.cmp(&a.offset))
        .then(match (a.run_id, b.run_id) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
}

fn field(member: &Member, names: &[&str]) -> Option<u64> {
    text(member, names).and_then(|v| v.trim().parse().ok())
}

fn text<'a>(member: &'a Member, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| member.raw.get(*n))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(port: u16, priority: &str, offset: u64, run_id: &str) -> Member {
        let mut m = Member {
            id: format!("127.0.0.1:{port}"),
            name: format!("127.0.0.1:{port}"),
            tier: Tier::Copy,
            health: Health::Ok,
            link: Some(Link::Up),
            repl_offset: Some(offset),
            native_role: Some("slave".into()),
            ..Member::default()
        };
        m.raw.insert("slave_priority".into(), priority.into());
        m.raw.insert("run_id".into(), run_id.into());
        m
    }

    fn cluster(members: Vec<Member>) -> Cluster {
        Cluster {
            id: "sentinel/mymaster".into(),
            kind: "redis".into(),
            name: "mymaster".into(),
            leader: None,
            recorded_leader: None,
            recorded_leader_agrees: None,
            consensus: None,
            leaders_conflict: Vec::new(),
            problem: None,
            members,
        }
    }

    #[test]
    fn priority_then_offset_then_run_id() {
        let c = cluster(vec![
            replica(1, "100", 500, "b"),
            replica(2, "50", 100, "c"),
        ]);
        assert_eq!(likely_pick(&c).as_deref(), Some("127.0.0.1:2"));
        let c = cluster(vec![
            replica(1, "100", 500, "b"),
            replica(2, "100", 100, "a"),
        ]);
        assert_eq!(likely_pick(&c).as_deref(), Some("127.0.0.1:1"));
        let c = cluster(vec![
            replica(1, "100", 500, "b"),
            replica(2, "100", 500, "a"),
        ]);
        assert_eq!(likely_pick(&c).as_deref(), Some("127.0.0.1:2"));
    }

    #[test]
    fn priority_zero_and_down_replicas_are_never_picked() {
        let mut down = replica(2, "1", 900, "a");
        down.health = Health::Down;
        let c = cluster(vec![
            replica(1, "0", 900, "a"),
            down,
            replica(3, "100", 1, "z"),
        ]);
        assert_eq!(likely_pick(&c).as_deref(), Some("127.0.0.1:3"));
    }

    #[test]
    fn what_the_console_does_not_know_it_does_not_guess() {
        let mut unknown = replica(1, "100", 500, "b");
        unknown.raw.remove("slave_priority");
        assert_eq!(likely_pick(&cluster(vec![unknown])), None);
        let mut a = replica(1, "100", 500, "");
        let mut b = replica(2, "100", 500, "");
        a.raw.remove("run_id");
        b.raw.remove("run_id");
        assert_eq!(likely_pick(&cluster(vec![a, b])), None, "a tie");
        assert_eq!(likely_pick(&cluster(Vec::new())), None);
    }
}
