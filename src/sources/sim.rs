//! A deterministic simulated fleet, for UI tests, benchmarks and a look at the
//! console without any cluster.
//!
//! [`Simulation`] is pure: the same [`SimConfig`] gives the same reports, step
//! for step, and each step sits on a virtual clock (step `k` is
//! 2026-01-01T00:00:00Z + `k` seconds) so snapshots of the UI stay stable.
//! [`run`] wraps it in a task that stamps real time and sends the reports.
//!
//! The fleet mixes the systems the console is for, each with its own words
//! for roles: Redis (master/slave, with a Sentinel view), Dgraph (zero leads,
//! alpha copies, and a registry record of the leading zero that lags behind a
//! failover), AllegroGraph (controlling/copy) and orchestrator's raft
//! (Leader/Follower). Lags wander, links drop, copies go down, and now and
//! then a leader dies and another takes over after a short time without one.

use std::collections::BTreeMap;
use std::time::Duration;

use time::OffsetDateTime;
use time::macros::datetime;

use super::SourceContext;
use crate::model::{
    Authority, ClusterObservation, ConsensusView, Health, Link, MemberObservation, Placement,
    RecordedLeader, SentinelView, SourceKind, SourceReport, SourceStatus, Tier, Timestamp,
};

/// How big the simulation is and where its randomness starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    pub members: usize,
    pub seed: u64,
}

/// Chance per step that a cluster's leader dies.
const FAILOVER_RATE: f64 = 1.0 / 90.0;
/// Chance per step that an up copy's replication link drops.
const LINK_DROP_RATE: f64 = 1.0 / 120.0;
/// Chance per step that an up copy goes down.
const MEMBER_DOWN_RATE: f64 = 1.0 / 300.0;
/// Replication throughput used to turn lag bytes into lag seconds.
const BYTES_PER_SECOND: f64 = 20_000.0;

/// The systems the simulation imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SystemKind {
    Redis,
    Dgraph,
    AllegroGraph,
    Orchestrator,
}

impl SystemKind {
    const ALL: [SystemKind; 4] = [
        SystemKind::Redis,
        SystemKind::Dgraph,
        SystemKind::AllegroGraph,
        SystemKind::Orchestrator,
    ];

    /// Short, because cluster names must fit a narrow list.
    fn short_name(self) -> &'static str {
        match self {
            SystemKind::AllegroGraph => "ag",
            SystemKind::Orchestrator => "orc",
            other => other.name(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            SystemKind::Redis => "redis",
            SystemKind::Dgraph => "dgraph",
            SystemKind::AllegroGraph => "allegrograph",
            SystemKind::Orchestrator => "orchestrator",
        }
    }

    /// Raft clusters have no data tiers: every member may lead.
    fn has_tiers(self) -> bool {
        self != SystemKind::Orchestrator
    }
}

/// One simulated instance and the faults it is going through.
#[derive(Debug, Clone)]
struct SimMember {
    name: String,
    address: String,
    /// Master tier (Redis master, Dgraph zero, AllegroGraph controlling).
    master_tier: bool,
    leader: bool,
    /// Step at which a down member comes back.
    down_until: Option<u64>,
    /// Step at which a dropped link comes back.
    link_down_until: Option<u64>,
    lag_bytes: u64,
    placement: Placement,
}

impl SimMember {
    fn is_up(&self, step: u64) -> bool {
        self.down_until.is_none_or(|until| step >= until)
    }

    fn link_up(&self, step: u64) -> bool {
        self.link_down_until.is_none_or(|until| step >= until)
    }
}

/// One simulated cluster.
#[derive(Debug, Clone)]
struct SimCluster {
    kind: SystemKind,
    id: String,
    name: String,
    members: Vec<SimMember>,
    /// The leader's replication offset; copies are `lag_bytes` behind it.
    offset: u64,
    /// While leaderless: the step at which a new leader is elected.
    elect_at: Option<u64>,
    /// Dgraph: the member the registry record names, updated late on purpose.
    recorded: Option<usize>,
    recorded_update_at: Option<u64>,
}

/// A deterministic fleet that moves one step per call.
#[derive(Debug, Clone)]
pub struct Simulation {
    config: SimConfig,
    rng: fastrand::Rng,
    clusters: Vec<SimCluster>,
    step: u64,
}

impl Simulation {
    pub fn new(config: SimConfig) -> Self {
        let mut rng = fastrand::Rng::with_seed(config.seed);
        let nodes = (config.members / 8).clamp(3, 500);
        let mut clusters = Vec::new();
        let mut per_kind = [0usize; 4];
        let mut remaining = config.members;
        while remaining > 0 {
            let size = cluster_size(&mut rng, remaining);
            remaining -= size;
            let kind_index = clusters.len() % SystemKind::ALL.len();
            per_kind[kind_index] += 1;
            let spec = ClusterSpec {
                kind: SystemKind::ALL[kind_index],
                global: clusters.len(),
                number: per_kind[kind_index],
                size,
                nodes,
            };
            clusters.push(spec.build(&mut rng));
        }
        Simulation {
            config,
            rng,
            clusters,
            step: 0,
        }
    }

    /// The virtual time of the next report.
    pub fn now(&self) -> Timestamp {
        virtual_time(self.step)
    }

    /// Moves the fleet one step and reports it, stamped with virtual time.
    pub fn step(&mut self) -> SourceReport {
        let step = self.step;
        for cluster in &mut self.clusters {
            advance(cluster, &mut self.rng, step);
        }
        let report = SourceReport {
            source: "sim#0".into(),
            kind: SourceKind::Sim,
            target: format!("sim:{}@seed{}", self.config.members, self.config.seed),
            status: SourceStatus::Ok,
            at: virtual_time(step),
            clusters: self.clusters.iter().map(cluster_observation).collect(),
            members: self
                .clusters
                .iter()
                .flat_map(|c| {
                    c.members
                        .iter()
                        .map(move |m| member_observation(c, m, step))
                })
                .collect(),
            notes: Vec::new(),
        };
        self.step += 1;
        report
    }
}

fn virtual_time(step: u64) -> Timestamp {
    let seconds = i64::try_from(step).unwrap_or(i64::MAX);
    datetime!(2026-01-01 00:00:00 UTC) + time::Duration::seconds(seconds)
}

/// 3 to 7 members, never leaving fewer than 3 for the next cluster.
fn cluster_size(rng: &mut fastrand::Rng, remaining: usize) -> usize {
    if remaining <= 7 {
        remaining
    } else {
        rng.usize(3..=7).min(remaining - 3)
    }
}

/// What a new cluster is: kind, position, size.
struct ClusterSpec {
    kind: SystemKind,
    global: usize,
    number: usize,
    size: usize,
    nodes: usize,
}

impl ClusterSpec {
    fn build(&self, rng: &mut fastrand::Rng) -> SimCluster {
        let name = format!("{}-{}", self.kind.short_name(), self.number);
        let members: Vec<SimMember> = (0..self.size).map(|i| self.member(rng, &name, i)).collect();
        let recorded = (self.kind == SystemKind::Dgraph).then_some(0);
        SimCluster {
            kind: self.kind,
            id: format!("sim/{name}"),
            name,
            members,
            offset: rng.u64(1_000_000..50_000_000),
            elect_at: None,
            recorded,
            recorded_update_at: None,
        }
    }

    fn member(&self, rng: &mut fastrand::Rng, cluster: &str, i: usize) -> SimMember {
        let zeros = if self.size >= 5 { 3 } else { 1 };
        let master_tier = match self.kind {
            SystemKind::Dgraph => i < zeros,
            _ => i == 0,
        };
        let (name, port) = match self.kind {
            SystemKind::Redis => (format!("{cluster}-{i}"), 6379),
            SystemKind::Dgraph if master_tier => (format!("{cluster}-zero-{i}"), 5080),
            SystemKind::Dgraph => (format!("{cluster}-alpha-{}", i - zeros), 7080),
            SystemKind::AllegroGraph => (format!("{cluster}-{i}"), 10035),
            SystemKind::Orchestrator => (format!("{cluster}-{i}"), 3000),
        };
        let address = format!(
            "10.{}.{}.{}:{port}",
            (self.global / 250) % 250,
            self.global % 250,
            10 + i
        );
        let node = format!("node-{}", (self.global * 3 + i) % self.nodes + 1);
        let placement = self.placement(rng, &name, node);
        SimMember {
            name,
            address,
            master_tier,
            leader: i == 0,
            down_until: None,
            link_down_until: None,
            lag_bytes: if master_tier { 0 } else { rng.u64(0..4_000) },
            placement,
        }
    }

    /// Each system runs somewhere else, so every placement field gets used.
    fn placement(&self, rng: &mut fastrand::Rng, name: &str, node: String) -> Placement {
        let mut placement = Placement {
            platform: Some(crate::model::Platform::Simulated),
            node: Some(node),
            ..Placement::default()
        };
        match self.kind {
            SystemKind::Redis => {
                placement.namespace = Some("cache".into());
                placement.pod = Some(name.to_string());
            }
            SystemKind::AllegroGraph => {
                placement.namespace = Some("graph".into());
                placement.pod = Some(name.to_string());
            }
            SystemKind::Dgraph => {
                let (service, slot) = name.rsplit_once('-').unwrap_or((name, "0"));
                let suffix: String = (0..6)
                    .map(|_| rng.alphanumeric().to_ascii_lowercase())
                    .collect();
                placement.service = Some(service.to_string());
                placement.task = Some(format!("{service}.{slot}.{suffix}"));
                placement.networks = vec!["dgraph_net".into()];
            }
            SystemKind::Orchestrator => {
                placement.container = Some(name.to_string());
                placement.networks = vec!["bridge".into()];
            }
        }
        placement
    }
}

/// One step of one cluster: elections, faults, recoveries and lag.
fn advance(cluster: &mut SimCluster, rng: &mut fastrand::Rng, step: u64) {
    cluster.offset += rng.u64(0..5_000);
    recover_members(cluster, step);
    match cluster.elect_at {
        Some(at) if step >= at => elect(cluster, step),
        Some(_) => {}
        None if step > 0 && rng.f64() < FAILOVER_RATE => kill_leader(cluster, rng, step),
        None => {}
    }
    if cluster.recorded_update_at.is_some_and(|at| step >= at) {
        cluster.recorded = cluster.members.iter().position(|m| m.leader);
        cluster.recorded_update_at = None;
    }
    for member in cluster.members.iter_mut().filter(|m| !m.leader) {
        copy_faults(member, rng, step);
        walk_lag(member, rng, step);
    }
}

/// Members whose fault has run out come back (a dead leader as a copy).
fn recover_members(cluster: &mut SimCluster, step: u64) {
    let tiered = cluster.kind.has_tiers() && cluster.kind != SystemKind::Dgraph;
    for member in &mut cluster.members {
        if member.down_until.is_some_and(|until| step >= until) {
            member.down_until = None;
            member.lag_bytes += 50_000;
            if tiered && !member.leader {
                member.master_tier = false;
            }
        }
        if member.link_down_until.is_some_and(|until| step >= until) {
            member.link_down_until = None;
        }
    }
}

fn kill_leader(cluster: &mut SimCluster, rng: &mut fastrand::Rng, step: u64) {
    let Some(leader) = cluster.members.iter_mut().find(|m| m.leader) else {
        return;
    };
    leader.leader = false;
    leader.down_until = Some(step + rng.u64(4..10));
    cluster.elect_at = Some(step + rng.u64(1..=3));
}

/// The healthiest eligible member takes over; without one, try again next step.
fn elect(cluster: &mut SimCluster, step: u64) {
    let eligible =
        |m: &SimMember| m.is_up(step) && (cluster.kind != SystemKind::Dgraph || m.master_tier);
    let winner = cluster
        .members
        .iter()
        .enumerate()
        .filter(|(_, m)| eligible(m))
        .min_by_key(|(_, m)| m.lag_bytes)
        .map(|(i, _)| i);
    let Some(winner) = winner else {
        cluster.elect_at = Some(step + 1);
        return;
    };
    let promote = cluster.kind.has_tiers() && cluster.kind != SystemKind::Dgraph;
    for (i, member) in cluster.members.iter_mut().enumerate() {
        member.leader = i == winner;
        if promote && i == winner {
            member.master_tier = true;
            member.lag_bytes = 0;
            member.link_down_until = None;
        }
        if promote && i != winner && member.is_up(step) {
            member.master_tier = false;
        }
    }
    cluster.elect_at = None;
    if cluster.kind == SystemKind::Dgraph {
        // The registry record follows a few steps late, as a real one does.
        cluster.recorded_update_at = Some(step + 3);
    }
}

fn copy_faults(member: &mut SimMember, rng: &mut fastrand::Rng, step: u64) {
    if !member.is_up(step) {
        return;
    }
    let roll = rng.f64();
    if roll < MEMBER_DOWN_RATE {
        member.down_until = Some(step + rng.u64(3..10));
    } else if roll < MEMBER_DOWN_RATE + LINK_DROP_RATE && member.link_up(step) {
        member.link_down_until = Some(step + rng.u64(2..6));
    }
}

/// Lag wanders while the link is up and only grows while it is down.
fn walk_lag(member: &mut SimMember, rng: &mut fastrand::Rng, step: u64) {
    if !member.is_up(step) {
        return;
    }
    if member.link_up(step) {
        let delta = rng.i64(-3_000..=2_800);
        member.lag_bytes = member.lag_bytes.saturating_add_signed(delta);
        if member.lag_bytes > 20_000 {
            // Catching up after an outage goes faster than ordinary wander.
            member.lag_bytes /= 2;
        }
    } else {
        member.lag_bytes += rng.u64(5_000..40_000);
    }
}

fn cluster_observation(cluster: &SimCluster) -> ClusterObservation {
    let leaderless = cluster.elect_at.is_some();
    let leader_address = cluster
        .members
        .iter()
        .find(|m| m.leader)
        .map(|m| m.address.clone());
    let sentinel = (cluster.kind == SystemKind::Redis).then(|| SentinelView {
        master_name: cluster.name.clone(),
        master_address: leader_address.clone(),
        flags: if leaderless {
            vec!["master".into(), "s_down".into(), "o_down".into()]
        } else {
            vec!["master".into()]
        },
        failover_state: leaderless.then(|| "wait_promotion".into()),
        quorum: Some(2),
        sentinels: Some(3),
    });
    let recorded_leader = cluster.recorded.map(|i| RecordedLeader {
        address: cluster.members[i].address.clone(),
        from: format!("sim registry {} key zero", cluster.name),
        ..RecordedLeader::default()
    });
    ClusterObservation {
        id: cluster.id.clone(),
        kind: cluster.kind.name().into(),
        name: cluster.name.clone(),
        precedence: 0,
        recorded_leader,
        problem: None,
        consensus: sentinel.map(ConsensusView::from_sentinel),
    }
}

fn member_observation(cluster: &SimCluster, member: &SimMember, step: u64) -> MemberObservation {
    let up = member.is_up(step);
    let follows = up && !member.leader && cluster.kind.has_tiers() && !member.master_tier;
    let link = follows.then(|| {
        if member.link_up(step) {
            Link::Up
        } else {
            Link::Down
        }
    });
    let health = match (up, link) {
        (false, _) => Health::Down,
        (true, Some(Link::Down)) => Health::Degraded,
        _ => Health::Ok,
    };
    let lag_bytes = follows.then_some(member.lag_bytes);
    let tier = match (cluster.kind.has_tiers(), member.master_tier) {
        (false, _) => Tier::Unknown,
        (true, true) => Tier::Master,
        (true, false) => Tier::Copy,
    };
    MemberObservation {
        cluster: cluster.id.clone(),
        name: member.name.clone(),
        address: Some(member.address.clone()),
        identity: None,
        authority: Authority::Application,
        tier,
        leader: member.leader && up,
        claims_leader: member.leader && up,
        native_role: Some(native_role(cluster.kind, member).into()),
        health,
        link,
        repl_offset: Some(cluster.offset.saturating_sub(lag_bytes.unwrap_or(0))),
        lag_bytes,
        lag_seconds: lag_bytes.map(|b| (b as f64 / BYTES_PER_SECOND * 10.0).round() / 10.0),
        lag: None,
        term: None,
        secondhand_epoch: None,
        sync: None,
        placement: member.placement.clone(),
        error: (!up).then(|| format!("dial {}: connection refused", member.address)),
        raw: raw_fields(cluster, member, step).into(),
    }
}

/// The role in the system's own word.
fn native_role(kind: SystemKind, member: &SimMember) -> &'static str {
    match (kind, member.master_tier, member.leader) {
        (SystemKind::Redis, true, _) => "master",
        (SystemKind::Redis, false, _) => "slave",
        (SystemKind::Dgraph, true, _) => "zero",
        (SystemKind::Dgraph, false, _) => "alpha",
        (SystemKind::AllegroGraph, true, _) => "controlling",
        (SystemKind::AllegroGraph, false, _) => "copy",
        (SystemKind::Orchestrator, _, true) => "Leader",
        (SystemKind::Orchestrator, _, false) => "Follower",
    }
}

/// What the system itself would print, so the details pane has raw fields.
fn raw_fields(cluster: &SimCluster, member: &SimMember, step: u64) -> BTreeMap<String, String> {
    let mut raw = BTreeMap::new();
    let up = member.is_up(step);
    match cluster.kind {
        SystemKind::Redis => {
            raw.insert("role".into(), native_role(cluster.kind, member).into());
            if !member.master_tier {
                let status = if up && member.link_up(step) {
                    "up"
                } else {
                    "down"
                };
                raw.insert("master_link_status".into(), status.into());
            }
        }
        SystemKind::Dgraph => {
            let group = if member.master_tier { "0" } else { "1" };
            raw.insert("group".into(), group.into());
            raw.insert("leader".into(), member.leader.to_string());
        }
        SystemKind::AllegroGraph => {
            raw.insert("instance".into(), native_role(cluster.kind, member).into());
        }
        SystemKind::Orchestrator => {
            raw.insert(
                "raft_state".into(),
                native_role(cluster.kind, member).into(),
            );
        }
    }
    raw.insert("sim_step".into(), step.to_string());
    raw
}

/// Runs the simulation: one step per interval, stamped with real time, until
/// shutdown or until the app stops listening.
pub async fn run(ctx: SourceContext, config: SimConfig) {
    let mut simulation = Simulation::new(config);
    // tokio's interval panics on a zero period.
    let mut ticker = tokio::time::interval(ctx.interval.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let mut report = simulation.step();
        report.source = ctx.id.clone();
        report.at = OffsetDateTime::now_utc();
        tokio::select! {
            _ = ctx.shutdown.cancelled() => return,
            sent = ctx.send(report) => if !sent { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sim(members: usize, seed: u64) -> Simulation {
        Simulation::new(SimConfig { members, seed })
    }

    #[test]
    fn same_seed_same_reports() {
        let (mut a, mut b) = (sim(40, 7), sim(40, 7));
        for _ in 0..50 {
            assert_eq!(a.step(), b.step());
        }
    }

    #[test]
    fn reports_exactly_the_requested_members_in_clusters_of_three_to_seven() {
        for members in [3, 10, 24, 101, 1000] {
            let report = sim(members, 1).step();
            assert_eq!(report.members.len(), members);
            for cluster in &report.clusters {
                let size = report
                    .members
                    .iter()
                    .filter(|m| m.cluster == cluster.id)
                    .count();
                assert!((3..=7).contains(&size), "{} has {size}", cluster.id);
            }
        }
    }

    #[test]
    fn virtual_clock_moves_one_second_per_step() {
        let mut s = sim(10, 1);
        assert_eq!(s.step().at, datetime!(2026-01-01 00:00:00 UTC));
        assert_eq!(s.step().at, datetime!(2026-01-01 00:00:01 UTC));
    }

    #[test]
    fn report_names_the_source_and_target() {
        let report = sim(24, 9).step();
        assert_eq!(report.kind, SourceKind::Sim);
        assert_eq!(report.target, "sim:24@seed9");
        assert_eq!(report.status, SourceStatus::Ok);
        assert!(report.clusters.iter().any(|c| c.id == "sim/redis-1"));
        let kinds: Vec<&str> = report.clusters.iter().map(|c| c.kind.as_str()).collect();
        for kind in ["redis", "dgraph", "allegrograph", "orchestrator"] {
            assert!(kinds.contains(&kind), "{kind} missing");
        }
    }

    #[test]
    fn every_system_uses_its_own_role_words() {
        let report = sim(40, 3).step();
        let roles: Vec<&str> = report
            .members
            .iter()
            .filter_map(|m| m.native_role.as_deref())
            .collect();
        for role in [
            "master",
            "slave",
            "zero",
            "alpha",
            "controlling",
            "copy",
            "Leader",
            "Follower",
        ] {
            assert!(roles.contains(&role), "{role} missing");
        }
    }

    #[test]
    fn failovers_happen_and_leave_a_gap_without_leader() {
        let mut s = sim(40, 5);
        let mut leaderless_seen = false;
        let mut leaders_moved = false;
        let first = s.step();
        let leader_of = |r: &SourceReport, c: &str| {
            r.members
                .iter()
                .find(|m| m.cluster == c && m.leader)
                .map(|m| m.name.clone())
        };
        for _ in 0..300 {
            let report = s.step();
            for cluster in &first.clusters {
                let now = leader_of(&report, &cluster.id);
                leaderless_seen |= now.is_none();
                leaders_moved |= now.is_some() && now != leader_of(&first, &cluster.id);
            }
        }
        assert!(leaderless_seen && leaders_moved);
    }

    #[tokio::test]
    async fn run_sends_reports_until_shutdown() {
        let (tx, mut rx) = crate::sources::mailbox::mailbox();
        let shutdown = tokio_util::sync::CancellationToken::new();
        let ctx = SourceContext {
            id: "sim#3".into(),
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(1),
            reports: tx,
            shutdown: shutdown.clone(),
            targets: None,
        };
        let task = tokio::spawn(run(
            ctx,
            SimConfig {
                members: 12,
                seed: 1,
            },
        ));
        let first = rx.recv().await.expect("a report");
        assert_eq!(first.source, "sim#3");
        assert!(first.at.year() >= 2024);
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stops on shutdown")
            .expect("no panic");
    }
}
