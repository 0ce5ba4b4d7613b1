//! The Sentinel source: what one Sentinel says about the masters it watches,
//! checked against the instances themselves.
//!
//! One cluster per master name (`sentinel/<name>`). The master and replicas
//! are polled with `INFO replication` exactly as the instance poller does,
//! so link, offset and lag mean the same with `--sentinel` as with
//! `--redis`; an instance the console cannot reach is shown as Sentinel sees
//! it. The sentinels themselves are members too, so a dead sentinel shows.
//!
//! A Sentinel and the instances it names may have their own credentials:
//! the instances are reached with a node target (the data nodes' password,
//! `--redis-password-file`), the other sentinels with the Sentinel's own.
//! When the instances refuse the console, the cluster says why where its
//! alarm is, not only in a member's details.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::model::{
    Authority, ClusterObservation, ConsensusView, Health, Link, MemberObservation, SentinelView,
    SourceKind, SourceReport, SourceStatus, Tier, normalize_address,
};

use super::connection::{Connection, ProbeError};
use super::group::{GroupView, InstanceState, PolledInstance, poll_all};
use super::sentinel::{
    SentinelEntry, SentinelMaster, SentinelPeer, SentinelReplica, parse_master, parse_master_addr,
    parse_masters, parse_replicas, parse_sentinels,
};
use super::target::RedisTarget;
use super::value::describe;

/// The target the instances a Sentinel names are reached with: the
/// Sentinel's host, scheme and TLS, with the data nodes' `password` (and the
/// default user) instead of the Sentinel's credentials.
pub fn node_target(sentinel: &RedisTarget, password: &str) -> RedisTarget {
    sentinel.clone().with_password(password)
}

/// Everything Sentinel said about one master in its latest answer.
#[derive(Debug, Clone)]
pub struct MasterReport {
    pub master: SentinelMaster,
    /// The address Sentinel gives clients (`GET-MASTER-ADDR-BY-NAME`): the
    /// promoted replica as soon as a failover promoted it, before `master`
    /// itself switches.
    pub current: Option<(String, u16)>,
    pub replicas: Vec<SentinelReplica>,
    pub sentinels: Vec<SentinelPeer>,
}

/// Another sentinel, checked with `PING`.
struct Peer {
    connection: Connection,
    reached: Result<(), ProbeError>,
}

/// The state of the Sentinel source between polls.
pub struct SentinelWatch {
    target: RedisTarget,
    /// Credentials and TLS for the instances Sentinel names.
    nodes: RedisTarget,
    /// Whether `nodes` has its own password (not the Sentinel's).
    own_node_password: bool,
    names: Vec<String>,
    sentinel: Connection,
    /// The latest answer; kept while the sentinel is unreachable so the
    /// instances it named are still polled and shown.
    masters: Vec<MasterReport>,
    instances: BTreeMap<String, PolledInstance>,
    peers: BTreeMap<String, Peer>,
}

impl SentinelWatch {
    /// Watches every master the sentinel knows, or only `names` if not
    /// empty; reaches the instances with `nodes` (else the Sentinel's own
    /// credentials).
    pub fn new(target: RedisTarget, names: Vec<String>, nodes: Option<RedisTarget>) -> Self {
        SentinelWatch {
            sentinel: Connection::new(target.clone()),
            own_node_password: nodes.is_some(),
            nodes: nodes.unwrap_or_else(|| target.clone()),
            target,
            names,
            masters: Vec::new(),
            instances: BTreeMap::new(),
            peers: BTreeMap::new(),
        }
    }

    /// Asks the sentinel, polls what it names, and builds the report.
    pub async fn poll(&mut self, source: &str, timeout: Duration) -> SourceReport {
        let read = self.read_sentinel(timeout).await;
        if let Ok(masters) = &read {
            self.masters.clone_from(masters);
        }
        self.sync_instances();
        self.sync_peers();
        let peers = self.peers.values_mut().map(|peer| async move {
            peer.reached = peer
                .connection
                .query(&redis::cmd("PING"), timeout)
                .await
                .map(|_| ());
        });
        futures::future::join(
            poll_all(self.instances.values_mut(), timeout),
            futures::future::join_all(peers),
        )
        .await;
        self.report(source, read.err())
    }

    async fn read_sentinel(&mut self, timeout: Duration) -> Result<Vec<MasterReport>, ProbeError> {
        let masters = self.read_masters(timeout).await?;
        let mut reports = Vec::with_capacity(masters.len());
        for master in masters {
            let name = master.entry.name.clone();
            let mut pipe = redis::pipe();
            pipe.cmd("SENTINEL").arg("REPLICAS").arg(&name);
            pipe.cmd("SENTINEL").arg("SENTINELS").arg(&name);
            pipe.cmd("SENTINEL")
                .arg("GET-MASTER-ADDR-BY-NAME")
                .arg(&name);
            let values = self.sentinel.query_pipeline(&pipe, timeout).await?;
            let [replicas, sentinels, current] = values.as_slice() else {
                return self.garbage(format!("{} replies to 3 commands", values.len()));
            };
            let current = match parse_master_addr(current) {
                Ok(c) => c,
                Err(e) => return self.garbage(e.to_string()),
            };
            let replicas = match parse_replicas(replicas) {
                Ok(r) => r,
                Err(e) => return self.garbage(e.to_string()),
            };
            let sentinels = match parse_sentinels(sentinels) {
                Ok(s) => s,
                Err(e) => return self.garbage(e.to_string()),
            };
            reports.push(MasterReport {
                master,
                current,
                replicas,
                sentinels,
            });
        }
        reports.sort_by(|a, b| a.master.entry.name.cmp(&b.master.entry.name));
        Ok(reports)
    }

    async fn read_masters(&mut self, timeout: Duration) -> Result<Vec<SentinelMaster>, ProbeError> {
        if self.names.is_empty() {
            let value = self
                .sentinel
                .query(redis::cmd("SENTINEL").arg("MASTERS"), timeout)
                .await?;
            return match parse_masters(&value) {
                Ok(masters) => Ok(masters),
                Err(e) => self.garbage(e.to_string()),
            };
        }
        let mut masters = Vec::new();
        for name in self.names.clone() {
            let value = self
                .sentinel
                .query(redis::cmd("SENTINEL").arg("MASTER").arg(&name), timeout)
                .await
                .map_err(|e| match e {
                    ProbeError::Command(detail) => {
                        ProbeError::Command(format!("master {name:?}: {detail}"))
                    }
                    other => other,
                })?;
            match parse_master(&value) {
                Ok(master) => masters.push(master),
                Err(e) => return self.garbage(format!("{e} (got {})", describe(&value))),
            }
        }
        Ok(masters)
    }

    fn garbage<T>(&mut self, detail: String) -> Result<T, ProbeError> {
        self.sentinel.fail(ProbeError::Garbage(detail))
    }

    /// Polls exactly the instances Sentinel names (it never forgets them
    /// itself, short of `SENTINEL RESET`).
    fn sync_instances(&mut self) {
        let wanted: BTreeMap<String, RedisTarget> = self
            .masters
            .iter()
            .flat_map(|m| {
                std::iter::once(&m.master.entry).chain(m.replicas.iter().map(|r| &r.entry))
            })
            .map(|e| {
                let target = self.nodes.with_address(&e.ip, e.port);
                (target.address().to_string(), target)
            })
            .collect();
        self.instances.retain(|a, _| wanted.contains_key(a));
        for (address, target) in wanted {
            self.instances
                .entry(address)
                .or_insert_with(|| PolledInstance::new(target));
        }
    }

    fn sync_peers(&mut self) {
        let wanted: BTreeMap<String, RedisTarget> = self
            .masters
            .iter()
            .flat_map(|m| m.sentinels.iter())
            .map(|s| {
                let target = self.target.with_address(&s.entry.ip, s.entry.port);
                (target.address().to_string(), target)
            })
            .filter(|(address, _)| address != self.target.address())
            .collect();
        self.peers.retain(|a, _| wanted.contains_key(a));
        for (address, target) in wanted {
            self.peers.entry(address).or_insert_with(|| Peer {
                connection: Connection::new(target),
                reached: Ok(()),
            });
        }
    }

    fn report(&self, source: &str, error: Option<ProbeError>) -> SourceReport {
        let mut clusters = Vec::new();
        let mut members = Vec::new();
        for master in &self.masters {
            let cluster = ClusterView::new(master, &self.instances);
            let mut observation = cluster.observation();
            observation.problem = cluster.refused().then(|| self.refusal());
            clusters.push(observation);
            members.extend(cluster.members());
            // Sentinels have tier Unknown, so the merge shows them in every
            // cluster they watch without joining those clusters.
            members.extend(self.sentinel_members(&cluster.id, error.as_ref()));
        }
        SourceReport {
            source: source.to_string(),
            kind: SourceKind::Sentinel,
            target: self.target.redacted().to_string(),
            status: match &error {
                Some(e) => SourceStatus::Error(format!("{}: {e}", self.target.redacted())),
                None => SourceStatus::Ok,
            },
            at: time::OffsetDateTime::now_utc(),
            clusters,
            members,
            notes: Vec::new(),
        }
    }

    /// Why the instances refuse the console, and which flag fixes it.
    fn refusal(&self) -> String {
        if self.own_node_password {
            "AUTH: data nodes refuse the password of --redis-password-file".into()
        } else if self.target.password().is_some() {
            "AUTH: data nodes refuse the Sentinel's password \
             (give theirs with --redis-password-file)"
                .into()
        } else {
            "NOAUTH: data nodes need a password (--redis-password-file)".into()
        }
    }

    fn sentinel_members(
        &self,
        cluster: &str,
        own_error: Option<&ProbeError>,
    ) -> Vec<MemberObservation> {
        let flags: BTreeMap<String, &SentinelEntry> = self
            .masters
            .iter()
            .flat_map(|m| m.sentinels.iter())
            .map(|s| (normalize_address(&s.entry.ip, s.entry.port), &s.entry))
            .collect();
        let own = sentinel_member(cluster, self.target.address(), own_error, None);
        let peers = self.peers.iter().map(|(address, peer)| {
            sentinel_member(
                cluster,
                address,
                peer.reached.as_ref().err(),
                flags.get(address).copied(),
            )
        });
        std::iter::once(own).chain(peers).collect()
    }
}

fn sentinel_member(
    cluster: &str,
    address: &str,
    error: Option<&ProbeError>,
    entry: Option<&SentinelEntry>,
) -> MemberObservation {
    let mut raw = BTreeMap::new();
    if let Some(entry) = entry {
        raw.insert("sentinel-flags".into(), entry.flags.join(","));
        if let Some(run_id) = &entry.run_id {
            raw.insert("run_id".into(), run_id.clone());
        }
    }
    MemberObservation {
        cluster: cluster.to_string(),
        name: address.to_string(),
        address: Some(address.to_string()),
        authority: Authority::Application,
        tier: Tier::Unknown,
        native_role: Some("sentinel".into()),
        health: if error.is_some() {
            Health::Down
        } else {
            Health::Ok
        },
        error: error.map(|e| format!("{address}: {e}")),
        raw: raw.into(),
        ..MemberObservation::default()
    }
}

/// One master's cluster: Sentinel's word plus the instances' own answers.
pub(super) struct ClusterView<'a> {
    id: String,
    report: &'a MasterReport,
    master_address: String,
    /// (address, Sentinel's entry, the instance's state), master first.
    instances: Vec<(String, &'a SentinelEntry, Option<&'a InstanceState>)>,
}

impl<'a> ClusterView<'a> {
    pub(super) fn new(
        report: &'a MasterReport,
        polled: &'a BTreeMap<String, PolledInstance>,
    ) -> Self {
        let entries =
            std::iter::once(&report.master.entry).chain(report.replicas.iter().map(|r| &r.entry));
        let mut seen = BTreeSet::new();
        let instances = entries
            .map(|e| (normalize_address(&e.ip, e.port), e))
            .filter(|(address, _)| seen.insert(address.clone()))
            .map(|(address, e)| {
                let state = polled.get(&address).map(|p| &p.state);
                (address, e, state)
            })
            .collect();
        let master = &report.master.entry;
        let (host, port) = match &report.current {
            Some((host, port)) => (host.as_str(), *port),
            None => (master.ip.as_str(), master.port),
        };
        ClusterView {
            id: format!("sentinel/{}", master.name),
            master_address: normalize_address(host, port),
            report,
            instances,
        }
    }

    pub(super) fn observation(&self) -> ClusterObservation {
        let master = &self.report.master;
        ClusterObservation {
            id: self.id.clone(),
            kind: "redis".into(),
            name: master.entry.name.clone(),
            precedence: 5,
            consensus: Some(ConsensusView::from_sentinel(SentinelView {
                master_name: master.entry.name.clone(),
                master_address: Some(self.master_address.clone()),
                flags: master.entry.flags.clone(),
                failover_state: master.failover_state.clone(),
                quorum: master.quorum,
                sentinels: master.num_other_sentinels.map(|n| n + 1),
            })),
            ..ClusterObservation::default()
        }
    }

    /// Some instance refused the console's credentials.
    fn refused(&self) -> bool {
        self.instances
            .iter()
            .filter_map(|(_, _, state)| state.and_then(|s| s.error()))
            .any(ProbeError::is_auth)
    }

    /// The leader is the master Sentinel names, if it answers as a master.
    fn leader(&self) -> Option<&str> {
        let (address, _, state) = self
            .instances
            .iter()
            .find(|(a, _, _)| *a == self.master_address)?;
        state
            .and_then(|s| s.answer())
            .filter(|info| info.is_master())
            .map(|_| address.as_str())
    }

    pub(super) fn members(&self) -> Vec<MemberObservation> {
        let states = self.instances.iter().filter_map(|(_, _, s)| *s);
        let group = GroupView::new(&self.id, states, self.leader());
        self.instances
            .iter()
            .map(|(address, entry, state)| match state {
                Some(state) if state.answer().is_some() => {
                    let mut member = group.observe(state);
                    member
                        .raw
                        .insert("sentinel-flags".into(), entry.flags.join(","));
                    member
                }
                _ => self.as_sentinel_sees_it(&group, address, entry, *state),
            })
            .collect()
    }

    /// An instance the console cannot reach, described from Sentinel's entry.
    fn as_sentinel_sees_it(
        &self,
        group: &GroupView<'_>,
        address: &str,
        entry: &SentinelEntry,
        state: Option<&InstanceState>,
    ) -> MemberObservation {
        let replica = self.report.replicas.iter().find(|r| &r.entry == entry);
        let tier = self.tier_said(address, entry);
        let why = state
            .and_then(|s| s.error())
            .map_or_else(|| "not polled yet".to_string(), |e| e.to_string());
        let (health, verdict) = if entry.is_down() {
            (Health::Down, "Sentinel also reports it down")
        } else {
            (Health::Degraded, "shown as Sentinel sees it")
        };
        let repl_offset = replica.and_then(|r| r.slave_repl_offset);
        MemberObservation {
            cluster: self.id.clone(),
            name: address.to_string(),
            address: Some(address.to_string()),
            authority: Authority::Application,
            tier,
            native_role: Some(
                if tier == Tier::Master {
                    "master"
                } else {
                    "slave"
                }
                .into(),
            ),
            health,
            link: replica.and_then(|r| match r.master_link_status.as_deref()? {
                "ok" => Some(Link::Up),
                _ => Some(Link::Down),
            }),
            repl_offset,
            lag_bytes: group
                .leader
                .and_then(|(_, l)| l.master_repl_offset)
                .zip(repl_offset)
                .map(|(m, r)| m.saturating_sub(r)),
            error: Some(format!("{address}: {why}; {verdict}")),
            raw: entry.fields.clone().into(),
            secondhand_epoch: Some(self.epoch()),
            ..MemberObservation::default()
        }
    }

    /// The tier Sentinel gives an instance by its entry. The master entry
    /// of an instance Sentinel no longer gives clients (a failover promoted
    /// another) is a copy already: Sentinel will make it one when it is back.
    fn tier_said(&self, address: &str, entry: &SentinelEntry) -> Tier {
        if entry.has_flag("master") && address == self.master_address {
            Tier::Master
        } else if entry.has_flag("master") || entry.has_flag("slave") {
            Tier::Copy
        } else {
            Tier::Unknown
        }
    }

    /// Sentinel's configuration epoch for this master (0 when it gives
    /// none): it grows with every failover, so a Sentinel that has not
    /// heard of the latest one says so by a lower number.
    fn epoch(&self) -> u64 {
        let fields = &self.report.master.entry.fields;
        fields
            .get("config-epoch")
            .and_then(|e| e.trim().parse().ok())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::redis::group::Probe;
    use crate::sources::redis::info::parse_info;

    fn entry(port: u16, flags: &str) -> SentinelEntry {
        SentinelEntry::on_loopback(port, flags)
    }

    fn report() -> MasterReport {
        let mut master = entry(1, "master");
        master.name = "mymaster".into();
        MasterReport {
            current: None,
            master: SentinelMaster {
                entry: master,
                quorum: Some(2),
                num_slaves: Some(1),
                num_other_sentinels: Some(2),
                failover_state: None,
            },
            replicas: vec![SentinelReplica {
                entry: entry(2, "slave,s_down,disconnected"),
                master_link_status: Some("err".into()),
                master_host: Some("127.0.0.1".into()),
                master_port: Some(1),
                slave_repl_offset: Some(50),
            }],
            sentinels: Vec::new(),
        }
    }

    #[test]
    fn sentinel_view_and_fallback() {
        let report = report();
        let polled = BTreeMap::new();
        let view = ClusterView::new(&report, &polled);
        let obs = view.observation();
        assert_eq!(obs.id, "sentinel/mymaster");
        assert_eq!(obs.precedence, 5);
        let sentinel = obs.consensus.unwrap().sentinel().unwrap();
        assert_eq!(sentinel.sentinels, Some(3));
        assert_eq!(sentinel.master_address.as_deref(), Some("127.0.0.1:1"));
        // Nothing polled: no leader, both as Sentinel sees them.
        assert_eq!(view.leader(), None);
        let members = view.members();
        assert_eq!(members.len(), 2);
        assert_eq!(
            (members[0].tier, members[0].health),
            (Tier::Master, Health::Degraded)
        );
        assert_eq!(
            (members[1].tier, members[1].health, members[1].link),
            (Tier::Copy, Health::Down, Some(Link::Down))
        );
        assert!(members[1].error.as_deref().unwrap_or("").contains("down"));
    }

    #[test]
    fn reachable_master_leads() {
        let report = report();
        let mut polled = BTreeMap::new();
        let target = RedisTarget::parse("redis://127.0.0.1:1").unwrap();
        let mut instance = PolledInstance::new(target);
        let info = parse_info("role:master\nconnected_slaves:0\nmaster_repl_offset:80\n").unwrap();
        instance.state.probe = Probe::Answered(Box::new(info));
        polled.insert("127.0.0.1:1".to_string(), instance);
        let view = ClusterView::new(&report, &polled);
        assert_eq!(view.leader(), Some("127.0.0.1:1"));
        let members = view.members();
        assert!(members[0].leader && members[0].health == Health::Ok);
        assert_eq!(members[1].lag_bytes, Some(30));
    }

    #[test]
    fn the_promoted_replica_leads_once_sentinel_gives_it_to_clients() {
        let mut report = report();
        report.current = Some(("127.0.0.1".into(), 2));
        let mut polled = BTreeMap::new();
        for (port, text) in [(1, "role:master\n"), (2, "role:master\n")] {
            let target = RedisTarget::parse(&format!("redis://127.0.0.1:{port}")).unwrap();
            let mut instance = PolledInstance::new(target);
            let info = parse_info(text).unwrap();
            instance.state.probe = Probe::Answered(Box::new(info));
            polled.insert(format!("127.0.0.1:{port}"), instance);
        }
        let view = ClusterView::new(&report, &polled);
        assert_eq!(view.leader(), Some("127.0.0.1:2"));
        let consensus = view.observation().consensus.unwrap();
        assert_eq!(consensus.leader.as_deref(), Some("127.0.0.1:2"));
        let members = view.members();
        assert!(!members[0].leader && members[0].claims_leader);
        assert!(members[1].leader && members[1].claims_leader);
    }
}
