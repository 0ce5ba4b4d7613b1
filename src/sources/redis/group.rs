//! A Redis replication group: the seed instance plus every instance reached
//! through replication links, polled together, turned into one cluster's
//! member observations.
//!
//! The group never splits. A replica promoted by hand stays in it, so the
//! cluster id (`redis/<seed address>`) survives failovers and the timeline
//! sees a leader change rather than a new cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::model::{
    Authority, ClusterObservation, Health, Link, MemberObservation, SourceKind, SourceReport,
    SourceStatus, SyncProgress, Tier, normalize_address,
};

use super::connection::{Connection, ProbeError, poll_replication};
use super::info::ReplicationInfo;
use super::target::RedisTarget;

/// How long an unreachable instance nobody mentions any more is kept.
const FORGET_AFTER: Duration = Duration::from_secs(300);
/// Discovery rounds per poll, so a chain of replicas shows up in one report
/// without an unbounded loop on a misbehaving group.
const DISCOVERY_ROUNDS: usize = 4;

/// The outcome of the latest poll of one instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Not polled yet.
    Unknown,
    Answered(Box<ReplicationInfo>),
    Failed(ProbeError),
}

/// What is known about one instance, without its connection: the input of
/// the pure functions that decide leaders and build observations.
#[derive(Debug, Clone)]
pub struct InstanceState {
    pub address: String,
    pub probe: Probe,
    /// The last answer it gave, kept while it is unreachable so it keeps its tier.
    pub last_info: Option<ReplicationInfo>,
    /// `run_id`, `redis_version`, ... of the process that answered.
    pub server: BTreeMap<String, String>,
}

impl InstanceState {
    pub fn new(address: String) -> Self {
        InstanceState {
            address,
            probe: Probe::Unknown,
            last_info: None,
            server: BTreeMap::new(),
        }
    }

    pub fn answer(&self) -> Option<&ReplicationInfo> {
        match &self.probe {
            Probe::Answered(info) => Some(info.as_ref()),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<&ProbeError> {
        match &self.probe {
            Probe::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// One instance and its connection.
pub struct PolledInstance {
    pub state: InstanceState,
    connection: Connection,
}

impl PolledInstance {
    pub fn new(target: RedisTarget) -> Self {
        PolledInstance {
            state: InstanceState::new(target.address().to_string()),
            connection: Connection::new(target),
        }
    }

    /// Polls `INFO replication` and records the outcome.
    pub async fn poll(&mut self, timeout: Duration) {
        match poll_replication(&mut self.connection, timeout).await {
            Ok(info) => {
                self.state.last_info = Some(info.clone());
                self.state.probe = Probe::Answered(Box::new(info));
                self.state.server = self.connection.server_fields().clone();
            }
            Err(e) => self.state.probe = Probe::Failed(e),
        }
    }

    pub fn target(&self) -> &RedisTarget {
        self.connection.target()
    }
}

/// Addresses an answer points at: a master's replicas, a replica's master.
pub fn referenced_addresses(info: &ReplicationInfo) -> Vec<(String, u16)> {
    let mut out: Vec<(String, u16)> = info.slaves.iter().map(|s| (s.ip.clone(), s.port)).collect();
    if let Some((host, port)) = info.master_address() {
        out.push((host.to_string(), port));
    }
    out
}

/// The leader within a group: among reachable masters, the one with the most
/// connected replicas; ties keep the previous leader, else the lowest address.
pub fn choose_leader<'a>(
    instances: impl IntoIterator<Item = &'a InstanceState>,
    previous: Option<&str>,
) -> Option<String> {
    let masters: Vec<(&str, usize)> = instances
        .into_iter()
        .filter_map(|i| Some((i.address.as_str(), i.answer().filter(|a| a.is_master())?)))
        .map(|(address, info)| (address, info.replica_count()))
        .collect();
    let most = masters.iter().map(|(_, n)| *n).max()?;
    let best: Vec<&str> = masters
        .iter()
        .filter(|(_, n)| *n == most)
        .map(|(a, _)| *a)
        .collect();
    match previous {
        Some(p) if best.contains(&p) => Some(p.to_string()),
        _ => best.into_iter().min().map(str::to_string),
    }
}

/// What a member's observation needs to know about the rest of its group.
pub struct GroupView<'a> {
    pub cluster: &'a str,
    /// The leader's answer: the reference for replicas' byte lag.
    pub leader: Option<(&'a str, &'a ReplicationInfo)>,
    /// Every answer, by address: a replica's own master gives its `lag=`.
    pub answers: BTreeMap<&'a str, &'a ReplicationInfo>,
}

impl<'a> GroupView<'a> {
    pub fn new(
        cluster: &'a str,
        instances: impl IntoIterator<Item = &'a InstanceState>,
        leader: Option<&str>,
    ) -> Self {
        let answers: BTreeMap<&str, &ReplicationInfo> = instances
            .into_iter()
            .filter_map(|i| Some((i.address.as_str(), i.answer()?)))
            .collect();
        let leader = leader.and_then(|l| answers.get_key_value(l).map(|(a, i)| (*a, *i)));
        GroupView {
            cluster,
            leader,
            answers,
        }
    }

    /// Seconds since the replica's master heard from it, as that master
    /// (or else the leader) reports it.
    fn master_lag(&self, address: &str, info: &ReplicationInfo) -> Option<u64> {
        let own_master = info
            .master_address()
            .map(|(h, p)| normalize_address(h, p))
            .and_then(|a| self.answers.get(a.as_str()).copied());
        let leader = self.leader.map(|(_, i)| i);
        [own_master, leader].into_iter().flatten().find_map(|m| {
            m.slaves
                .iter()
                .find(|s| normalize_address(&s.ip, s.port) == address)
                .and_then(|s| s.lag)
        })
    }

    /// The observation of one instance.
    pub fn observe(&self, instance: &InstanceState) -> MemberObservation {
        let mut member = MemberObservation {
            cluster: self.cluster.to_string(),
            name: instance.address.clone(),
            address: Some(instance.address.clone()),
            authority: Authority::Application,
            ..MemberObservation::default()
        };
        match &instance.probe {
            Probe::Unknown => {}
            Probe::Failed(error) => {
                if let Some(last) = &instance.last_info {
                    member.tier = tier_of(last);
                    member.native_role = Some(last.role.native().to_string());
                }
                // Not probed (credentials may not go there) says nothing of its health.
                member.health = if matches!(error, ProbeError::NotAllowed) {
                    Health::Unknown
                } else {
                    Health::Down
                };
                member.error = Some(format!("{}: {error}", instance.address));
            }
            Probe::Answered(info) => self.fill_answered(&mut member, instance, info),
        }
        member
    }

    fn fill_answered(
        &self,
        member: &mut MemberObservation,
        instance: &InstanceState,
        info: &ReplicationInfo,
    ) {
        member.tier = tier_of(info);
        member.native_role = Some(info.role.native().to_string());
        member.leader = self.leader.is_some_and(|(a, _)| a == instance.address);
        member.claims_leader = info.is_master();
        member.raw = raw_fields(info, &instance.server).into();
        if info.is_replica() {
            let link_up = info.link_up();
            member.link = Some(if link_up { Link::Up } else { Link::Down });
            member.repl_offset = info.slave_repl_offset;
            member.lag_bytes = self
                .leader
                .and_then(|(_, l)| l.master_repl_offset)
                .zip(info.slave_repl_offset)
                .map(|(master, replica)| master.saturating_sub(replica));
            member.lag_seconds = self
                .master_lag(&instance.address, info)
                .map(|s| s as f64)
                .or_else(|| {
                    info.master_last_io_seconds_ago
                        .filter(|s| *s >= 0)
                        .map(|s| s as f64)
                });
            member.sync = sync_progress(info);
            let healthy = link_up && !info.master_sync_in_progress && !info.loading;
            member.health = if healthy {
                Health::Ok
            } else {
                Health::Degraded
            };
        } else {
            member.repl_offset = info.master_repl_offset;
            member.health = if info.loading {
                Health::Degraded
            } else {
                Health::Ok
            };
        }
    }
}

fn tier_of(info: &ReplicationInfo) -> Tier {
    if info.is_master() {
        Tier::Master
    } else if info.is_replica() {
        Tier::Copy
    } else {
        Tier::Unknown
    }
}

fn sync_progress(info: &ReplicationInfo) -> Option<SyncProgress> {
    info.master_sync_in_progress.then(|| SyncProgress {
        read_bytes: info.master_sync_read_bytes.unwrap_or(0),
        total_bytes: info
            .master_sync_total_bytes
            .and_then(|t| u64::try_from(t).ok()),
    })
}

/// The `# Replication` fields, `loading`, and the server's identity.
fn raw_fields(
    info: &ReplicationInfo,
    server: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut raw = info
        .sections
        .get("replication")
        .cloned()
        .unwrap_or_default();
    if let Some(loading) = info.field("loading") {
        raw.insert("loading".into(), loading.to_string());
    }
    if !info.unreadable.is_empty() {
        // Shown so a blank offset or lag has its reason beside it.
        raw.insert("unreadable_fields".into(), info.unreadable.join(","));
    }
    raw.extend(server.iter().map(|(k, v)| (k.clone(), v.clone())));
    raw
}

/// The instances of one group and what the poller remembers between polls.
pub struct ReplicationGroup {
    seed: RedisTarget,
    cluster_id: String,
    instances: BTreeMap<String, PolledInstance>,
    /// When each unreachable, unmentioned instance was last needed.
    unreferenced_since: BTreeMap<String, Instant>,
    leader: Option<String>,
}

impl ReplicationGroup {
    pub fn new(seed: RedisTarget) -> Self {
        let mut instances = BTreeMap::new();
        instances.insert(
            seed.address().to_string(),
            PolledInstance::new(seed.clone()),
        );
        ReplicationGroup {
            cluster_id: format!("redis/{}", seed.address()),
            seed,
            instances,
            unreferenced_since: BTreeMap::new(),
            leader: None,
        }
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// Polls every instance, follows the links to new ones, and builds the report.
    pub async fn poll(&mut self, source: &str, timeout: Duration) -> SourceReport {
        poll_all(self.instances.values_mut(), timeout).await;
        for _ in 0..DISCOVERY_ROUNDS {
            let added = self.discover();
            if added.is_empty() {
                break;
            }
            let fresh = self
                .instances
                .iter_mut()
                .filter(|(a, _)| added.contains(*a))
                .map(|(_, i)| i);
            poll_all(fresh, timeout).await;
        }
        self.forget_stale(Instant::now());
        self.report(source)
    }

    /// Adds every instance an answer mentions; returns the new addresses.
    fn discover(&mut self) -> BTreeSet<String> {
        let mentioned: Vec<(String, u16)> = self
            .instances
            .values()
            .filter_map(|i| i.state.answer())
            .flat_map(referenced_addresses)
            .collect();
        let mut added = BTreeSet::new();
        for (host, port) in mentioned {
            let target = self.seed.with_address(&host, port);
            let address = target.address().to_string();
            if !self.instances.contains_key(&address) {
                self.instances
                    .insert(address.clone(), PolledInstance::new(target));
                added.insert(address);
            }
        }
        added
    }

    fn forget_stale(&mut self, now: Instant) {
        let mentioned: BTreeSet<String> = self
            .instances
            .values()
            .filter_map(|i| i.state.answer())
            .flat_map(referenced_addresses)
            .map(|(h, p)| normalize_address(&h, p))
            .collect();
        let seed = self.seed.address().to_string();
        let mut forget = Vec::new();
        for (address, instance) in &self.instances {
            let needed = *address == seed
                || instance.state.answer().is_some()
                || mentioned.contains(address);
            if needed {
                self.unreferenced_since.remove(address);
                continue;
            }
            let since = *self
                .unreferenced_since
                .entry(address.clone())
                .or_insert(now);
            if now.duration_since(since) >= FORGET_AFTER {
                forget.push(address.clone());
            }
        }
        for address in forget {
            self.instances.remove(&address);
            self.unreferenced_since.remove(&address);
        }
    }

    fn report(&mut self, source: &str) -> SourceReport {
        let states: Vec<&InstanceState> = self.instances.values().map(|i| &i.state).collect();
        self.leader = choose_leader(states.iter().copied(), self.leader.as_deref());
        let view = GroupView::new(
            &self.cluster_id,
            states.iter().copied(),
            self.leader.as_deref(),
        );
        let members = states.iter().map(|s| view.observe(s)).collect();
        let status = match self
            .instances
            .get(self.seed.address())
            .and_then(|i| i.state.error())
        {
            Some(error) => SourceStatus::Error(format!("{}: {error}", self.seed.redacted())),
            None => SourceStatus::Ok,
        };
        SourceReport {
            source: source.to_string(),
            kind: SourceKind::Redis,
            target: self.seed.redacted().to_string(),
            status,
            at: time::OffsetDateTime::now_utc(),
            clusters: vec![ClusterObservation {
                id: self.cluster_id.clone(),
                kind: "redis".into(),
                name: self.seed.address().to_string(),
                precedence: 1,
                ..ClusterObservation::default()
            }],
            members,
            notes: Vec::new(),
        }
    }
}

/// Polls instances concurrently: one slow instance costs one timeout, not one each.
pub async fn poll_all<'a>(
    instances: impl Iterator<Item = &'a mut PolledInstance>,
    timeout: Duration,
) {
    futures::future::join_all(instances.map(|i| i.poll(timeout))).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::redis::info::parse_info;

    fn answered(address: &str, text: &str) -> InstanceState {
        let info = parse_info(text).unwrap();
        InstanceState {
            address: address.into(),
            last_info: Some(info.clone()),
            probe: Probe::Answered(Box::new(info)),
            server: BTreeMap::new(),
        }
    }

    fn master(address: &str, replicas: &[(u16, u64, u64)], offset: u64) -> InstanceState {
        let mut text = format!("role:master\nconnected_slaves:{}\n", replicas.len());
        for (n, (port, off, lag)) in replicas.iter().enumerate() {
            text.push_str(&format!(
                "slave{n}:ip=127.0.0.1,port={port},state=online,offset={off},lag={lag}\n"
            ));
        }
        text.push_str(&format!("master_repl_offset:{offset}\n"));
        answered(address, &text)
    }

    fn replica(address: &str, master_port: u16, offset: u64, link: &str) -> InstanceState {
        answered(
            address,
            &format!(
                "role:slave\nmaster_host:127.0.0.1\nmaster_port:{master_port}\n\
                 master_link_status:{link}\nmaster_last_io_seconds_ago:7\n\
                 master_sync_in_progress:0\nslave_repl_offset:{offset}\nloading:0\n"
            ),
        )
    }

    #[test]
    fn most_replicas_leads_and_ties_keep_the_previous_leader() {
        let a = master("127.0.0.1:1", &[(3, 0, 0)], 0);
        let b = master("127.0.0.1:2", &[], 0);
        assert_eq!(
            choose_leader([&a, &b], None).as_deref(),
            Some("127.0.0.1:1")
        );
        let c = master("127.0.0.1:3", &[(4, 0, 0)], 0);
        assert_eq!(
            choose_leader([&a, &c], None).as_deref(),
            Some("127.0.0.1:1")
        );
        assert_eq!(
            choose_leader([&a, &c], Some("127.0.0.1:3")).as_deref(),
            Some("127.0.0.1:3")
        );
        let down = InstanceState {
            probe: Probe::Failed(ProbeError::Timeout(Duration::from_secs(1))),
            ..a.clone()
        };
        assert_eq!(choose_leader([&down], Some("127.0.0.1:1")), None);
    }

    #[test]
    fn replicas_get_link_lag_and_health() {
        let m = master("127.0.0.1:1", &[(2, 90, 1)], 100);
        let up = replica("127.0.0.1:2", 1, 90, "up");
        let down = replica("127.0.0.1:3", 1, 40, "down");
        let view = GroupView::new("redis/x", [&m, &up, &down], Some("127.0.0.1:1"));
        let obs = view.observe(&m);
        assert!(obs.leader && obs.tier == Tier::Master && obs.link.is_none());
        assert_eq!(obs.repl_offset, Some(100));
        let obs = view.observe(&up);
        assert_eq!(
            (obs.tier, obs.health, obs.link),
            (Tier::Copy, Health::Ok, Some(Link::Up))
        );
        assert_eq!(obs.lag_bytes, Some(10));
        assert_eq!(obs.lag_seconds, Some(1.0), "the master's lag= wins");
        assert_eq!(obs.native_role.as_deref(), Some("slave"));
        let obs = view.observe(&down);
        assert_eq!((obs.health, obs.link), (Health::Degraded, Some(Link::Down)));
        assert_eq!(obs.lag_bytes, Some(60));
        assert_eq!(obs.lag_seconds, Some(7.0), "else the replica's last io");
    }

    #[test]
    fn unreachable_keeps_its_tier_and_says_why() {
        let mut r = replica("127.0.0.1:2", 1, 90, "up");
        r.probe = Probe::Failed(ProbeError::Connect("refused".into()));
        let view = GroupView::new("redis/x", [&r], None);
        let obs = view.observe(&r);
        assert_eq!(
            (obs.tier, obs.health, obs.leader),
            (Tier::Copy, Health::Down, false)
        );
        assert_eq!(
            obs.error.as_deref(),
            Some("127.0.0.1:2: cannot connect: refused")
        );
        let fresh = InstanceState::new("127.0.0.1:9".into());
        assert_eq!(view.observe(&fresh).health, Health::Unknown);
    }

    #[test]
    fn an_unreadable_offset_leaves_the_instance_up() {
        let m = answered("127.0.0.1:1", "role:master\nmaster_repl_offset:-100\n");
        let obs = GroupView::new("c", [&m], Some("127.0.0.1:1")).observe(&m);
        assert_eq!((obs.health, obs.tier), (Health::Ok, Tier::Master));
        assert_eq!(obs.repl_offset, None);
        assert_eq!(obs.raw["unreadable_fields"], "master_repl_offset");
    }

    #[test]
    fn full_sync_shows_progress() {
        let r = answered(
            "127.0.0.1:2",
            "role:slave\nmaster_host:127.0.0.1\nmaster_port:1\nmaster_link_status:down\n\
             master_sync_in_progress:1\nmaster_sync_total_bytes:1000\nmaster_sync_read_bytes:250\n",
        );
        let obs = GroupView::new("c", [&r], None).observe(&r);
        assert_eq!(obs.sync.and_then(|s| s.percent()), Some(25.0));
        assert_eq!(obs.health, Health::Degraded);
    }

    #[test]
    fn references_follow_both_directions() {
        let m = master("127.0.0.1:1", &[(2, 0, 0)], 0);
        let r = replica("127.0.0.1:2", 1, 0, "up");
        let refs = referenced_addresses(m.answer().unwrap());
        assert_eq!(refs, vec![("127.0.0.1".to_string(), 2)]);
        let refs = referenced_addresses(r.answer().unwrap());
        assert_eq!(refs, vec![("127.0.0.1".to_string(), 1)]);
    }

    #[test]
    fn unreachable_unmentioned_instances_are_forgotten_but_never_the_seed() {
        let seed = RedisTarget::parse("redis://127.0.0.1:1").unwrap();
        let mut group = ReplicationGroup::new(seed.clone());
        let failed = Probe::Failed(ProbeError::Connect("refused".into()));
        for port in [2, 3] {
            let mut instance = PolledInstance::new(seed.with_address("127.0.0.1", port));
            instance.state.probe = failed.clone();
            group
                .instances
                .insert(format!("127.0.0.1:{port}"), instance);
        }
        // The seed answers and still names port 3 as its replica.
        let named = master("127.0.0.1:1", &[(3, 0, 0)], 0);
        if let Some(instance) = group.instances.get_mut("127.0.0.1:1") {
            instance.state.probe = named.probe.clone();
        }
        let start = Instant::now();
        group.forget_stale(start);
        group.forget_stale(start + FORGET_AFTER);
        let left: Vec<&String> = group.instances.keys().collect();
        assert_eq!(left, ["127.0.0.1:1", "127.0.0.1:3"]);
        // The seed stays even when it is down and nobody names it.
        if let Some(instance) = group.instances.get_mut("127.0.0.1:1") {
            instance.state.probe = failed;
        }
        group.forget_stale(start + FORGET_AFTER * 3);
        group.forget_stale(start + FORGET_AFTER * 5);
        let left: Vec<&String> = group.instances.keys().collect();
        assert_eq!(left, ["127.0.0.1:1"]);
    }
}
