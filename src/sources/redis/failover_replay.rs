//! A failover replayed as three Sentinels reported it, to check that the
//! killed master's tier changes once (master, then copy) however the
//! Sentinels' answers interleave.
//!
//! The rows were recorded on this machine: `redis-server` on 27401 (master),
//! 27402 and 27403, three `redis-sentinel`s (quorum 2, down-after 1 s,
//! failover-timeout 3 s), the master killed with SIGKILL at 0 ms, and each
//! Sentinel asked every 100 ms for `SENTINEL MASTER`, `SENTINEL REPLICAS`
//! and `GET-MASTER-ADDR-BY-NAME`; a row is kept where a Sentinel's answer
//! changed. Sentinel 1 led the failover: from 2256 ms it gives clients
//! 27402 at epoch 1 while its master entry still names 27401 (until
//! 3618 ms); Sentinels 2 and 3 switched at 2323 and 2380 ms.

use std::collections::BTreeMap;

use crate::model::{EventKind, SourceReport, Tier, Timeline, Topology};

use super::connection::ProbeError;
use super::group::{PolledInstance, Probe};
use super::info::parse_info;
use super::sentinel::{SentinelEntry, SentinelMaster, SentinelReplica};
use super::target::RedisTarget;
use super::watch_sentinel::{ClusterView, MasterReport};

const OLD: u16 = 27401;

/// One Sentinel's answer from a moment on: (ms, sentinel, config epoch,
/// the master entry's port and flags, the address given to clients, the
/// flags of the old master's replica entry if it has one).
type Row = (
    u64,
    usize,
    u64,
    u16,
    &'static str,
    u16,
    Option<&'static str>,
);

const RECORDED: [Row; 15] = [
    (79, 1, 0, OLD, "master,disconnected", OLD, None),
    (145, 2, 0, OLD, "master,disconnected", OLD, None),
    (292, 3, 0, OLD, "master,disconnected", OLD, None),
    (1146, 3, 0, OLD, "s_down,master,disconnected", OLD, None),
    (
        1320,
        1,
        0,
        OLD,
        "s_down,o_down,master,disconnected,failover_in_progress",
        OLD,
        None,
    ),
    (
        1388,
        2,
        0,
        OLD,
        "s_down,o_down,master,disconnected",
        OLD,
        None,
    ),
    (
        2256,
        1,
        1,
        OLD,
        "s_down,o_down,master,disconnected,failover_in_progress",
        27402,
        None,
    ),
    (
        2323,
        2,
        1,
        27402,
        "master,disconnected",
        27402,
        Some("slave,disconnected"),
    ),
    (
        2380,
        3,
        1,
        27402,
        "master,disconnected",
        27402,
        Some("slave,disconnected"),
    ),
    (
        3209,
        2,
        1,
        27402,
        "master",
        27402,
        Some("slave,disconnected"),
    ),
    (
        3288,
        3,
        1,
        27402,
        "master",
        27402,
        Some("slave,disconnected"),
    ),
    (
        3618,
        1,
        1,
        27402,
        "master,disconnected",
        27402,
        Some("slave,disconnected"),
    ),
    (
        3678,
        2,
        1,
        27402,
        "master",
        27402,
        Some("s_down,slave,disconnected"),
    ),
    (
        3723,
        3,
        1,
        27402,
        "master",
        27402,
        Some("s_down,slave,disconnected"),
    ),
    (
        4386,
        1,
        1,
        27402,
        "master",
        27402,
        Some("s_down,slave,disconnected"),
    ),
];

fn entry(port: u16, flags: &str) -> SentinelEntry {
    SentinelEntry::on_loopback(port, flags)
}

fn replica(port: u16, flags: &str) -> SentinelReplica {
    SentinelReplica {
        entry: entry(port, flags),
        master_link_status: None,
        master_host: None,
        master_port: None,
        slave_repl_offset: None,
    }
}

/// What the Sentinel of `row` said, as the source reads it.
fn master_report(&(_, _, epoch, port, flags, current, old): &Row) -> MasterReport {
    let mut master = entry(port, flags);
    master.name = "mymaster".into();
    master
        .fields
        .insert("config-epoch".into(), epoch.to_string());
    let others = [27401, 27402, 27403].into_iter().filter(|p| *p != port);
    let replicas = others
        .filter_map(|p| match (p, old) {
            (OLD, Some(flags)) => Some(replica(p, flags)),
            (OLD, None) => None,
            (p, _) => Some(replica(p, "slave")),
        })
        .collect();
    MasterReport {
        master: SentinelMaster {
            entry: master,
            quorum: Some(2),
            num_slaves: Some(2),
            num_other_sentinels: Some(2),
            failover_state: None,
        },
        current: Some(("127.0.0.1".into(), current)),
        replicas,
        sentinels: Vec::new(),
    }
}

/// The instances as the console's own polls find them at `ms`: the old
/// master refuses connections, 27402 answers as master once promoted.
fn polled(ms: u64) -> BTreeMap<String, PolledInstance> {
    let mut polled = BTreeMap::new();
    for port in [27401, 27402, 27403] {
        let target = RedisTarget::parse(&format!("redis://127.0.0.1:{port}")).unwrap();
        let mut instance = PolledInstance::new(target);
        instance.state.probe = match port {
            OLD => Probe::Failed(ProbeError::Connect("connection refused".into())),
            27402 if ms >= 2256 => Probe::Answered(Box::new(parse_info("role:master\n").unwrap())),
            _ => Probe::Answered(Box::new(
                parse_info("role:slave\nmaster_host:127.0.0.1\nmaster_link_status:down\n").unwrap(),
            )),
        };
        polled.insert(format!("127.0.0.1:{port}"), instance);
    }
    polled
}

fn source_report(sentinel: usize, ms: u64, row: &Row) -> SourceReport {
    let report = master_report(row);
    let instances = polled(ms);
    let view = ClusterView::new(&report, &instances);
    SourceReport {
        source: format!("sentinel#{sentinel}"),
        kind: crate::model::SourceKind::Sentinel,
        target: format!("redis://sentinel-{sentinel}"),
        status: crate::model::SourceStatus::Ok,
        at: time::OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(ms as i64),
        clusters: vec![view.observation()],
        members: view.members(),
        notes: Vec::new(),
    }
}

/// Every tier change of the old master while the three Sentinels are
/// polled in turn every `step` ms, starting `offset` ms apart.
fn tier_changes(step: u64, offsets: [u64; 3]) -> Vec<(String, String)> {
    let mut latest: BTreeMap<usize, SourceReport> = BTreeMap::new();
    let (mut timeline, mut before) = (Timeline::default(), Topology::default());
    let mut changes = Vec::new();
    for tick in 0..(4600 / step) {
        for sentinel in 1..=3 {
            let ms = tick * step + offsets[sentinel - 1];
            let mut said = RECORDED.iter().filter(|r| r.1 == sentinel && r.0 <= ms);
            let Some(row) = said.next_back() else {
                continue;
            };
            latest.insert(sentinel, source_report(sentinel, ms, row));
            let after = Topology::merge(latest.values());
            let events = timeline.observe(&before, &after, after_time(ms));
            changes.extend(
                events
                    .iter()
                    .filter(|e| {
                        e.kind == EventKind::TierChanged
                            && e.member.as_deref() == Some("127.0.0.1:27401")
                    })
                    .map(|e| (e.details["from"].to_string(), e.details["to"].to_string())),
            );
            before = after;
        }
    }
    changes
}

fn after_time(ms: u64) -> crate::model::Timestamp {
    time::OffsetDateTime::UNIX_EPOCH + time::Duration::milliseconds(ms as i64)
}

#[test]
fn the_killed_master_becomes_a_copy_once_however_the_sentinels_interleave() {
    for (step, offsets) in [
        (100, [0, 33, 66]),
        (100, [50, 10, 90]),
        (250, [0, 120, 240]),
    ] {
        let changes = tier_changes(step, offsets);
        assert_eq!(
            changes,
            [("\"master\"".to_string(), "\"copy\"".to_string())],
            "polled every {step} ms at offsets {offsets:?}"
        );
    }
    let last = RECORDED.iter().rev().find(|r| r.1 == 1).unwrap();
    let view_report = master_report(last);
    let instances = polled(4400);
    let members = ClusterView::new(&view_report, &instances).members();
    let old = members
        .iter()
        .find(|m| m.name == "127.0.0.1:27401")
        .unwrap();
    assert_eq!((old.tier, old.secondhand_epoch), (Tier::Copy, Some(1)));
}
