//! Merging the latest report of every source into clusters of members.
//!
//! The same instance seen by several sources (a pod, its container, the Redis
//! at its IP) becomes one [`Member`]: observations are joined on address, then
//! on name. Roles come from the strongest [`Authority`] that has them; where
//! it runs is filled in from every source. Two sources that name one cluster
//! differently (a Sentinel master name and a seed address) are folded into the
//! cluster with the higher precedence.

use std::collections::{BTreeMap, HashMap};

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::Timestamp;
use super::consensus::{ConsensusView, SentinelView};
use super::member::{Member, Tier};
use super::observation::{
    Authority, ClusterObservation, MemberObservation, RecordedLeader, SourceKind, SourceReport,
    SourceStatus,
};

/// A source as the header and `snapshot` show it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SourceState {
    pub id: String,
    pub kind: SourceKind,
    pub target: String,
    /// `connecting`, `ok` or `error`.
    pub status: &'static str,
    pub error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_report: Option<Timestamp>,
    pub members: usize,
    /// What the source cannot see (see [`SourceReport::notes`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl SourceState {
    fn from_report(report: &SourceReport) -> Self {
        let (status, error) = match &report.status {
            SourceStatus::Connecting => ("connecting", None),
            SourceStatus::Ok => ("ok", None),
            SourceStatus::Error(e) => ("error", Some(e.clone())),
        };
        SourceState {
            id: report.source.clone(),
            kind: report.kind,
            target: report.target.clone(),
            status,
            error,
            last_report: Some(report.at),
            members: report.members.len(),
            notes: report.notes.clone(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.status == "error"
    }
}

/// A group of members that replicate one data set or elect one leader.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub id: String,
    pub kind: String,
    pub name: String,
    /// Id of the member that leads now, if one does and is not down.
    pub leader: Option<String>,
    pub recorded_leader: Option<RecordedLeader>,
    /// Whether the recorded leader is the observed one (None: nothing to compare).
    pub recorded_leader_agrees: Option<bool>,
    /// How the cluster agrees on its leader, when something decides it.
    pub consensus: Option<ConsensusView>,
    pub members: Vec<Member>,
}

impl Cluster {
    /// What Sentinel says, when a Sentinel quorum decides (`sentinel` in
    /// snapshots).
    pub fn sentinel(&self) -> Option<SentinelView> {
        self.consensus.as_ref().and_then(ConsensusView::sentinel)
    }

    /// The member with this id, else the one at this address.
    pub fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id).or_else(|| {
            self.members
                .iter()
                .find(|m| m.address.as_deref() == Some(id))
        })
    }

    pub fn leader_member(&self) -> Option<&Member> {
        self.leader.as_deref().and_then(|id| self.member(id))
    }
}

/// By hand so that `sentinel` stays in snapshots where scripts read it,
/// derived from the consensus view that now carries it.
impl Serialize for Cluster {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut doc = serializer.serialize_struct("Cluster", 9)?;
        doc.serialize_field("id", &self.id)?;
        doc.serialize_field("kind", &self.kind)?;
        doc.serialize_field("name", &self.name)?;
        doc.serialize_field("leader", &self.leader)?;
        doc.serialize_field("recorded_leader", &self.recorded_leader)?;
        doc.serialize_field("recorded_leader_agrees", &self.recorded_leader_agrees)?;
        doc.serialize_field("sentinel", &self.sentinel())?;
        doc.serialize_field("consensus", &self.consensus)?;
        doc.serialize_field("members", &self.members)?;
        doc.end()
    }
}

/// Every cluster and source, as of the latest reports.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Topology {
    pub clusters: Vec<Cluster>,
    pub sources: Vec<SourceState>,
}

impl Topology {
    /// Builds the topology from the latest report of each source, in source order.
    pub fn merge<'a>(reports: impl IntoIterator<Item = &'a SourceReport>) -> Topology {
        let reports: Vec<&SourceReport> = reports.into_iter().collect();
        let sources = reports
            .iter()
            .map(|r| SourceState::from_report(r))
            .collect();
        let groups = group_observations(&reports);
        let members: Vec<(Member, Vec<String>)> = groups.iter().map(|g| merge_member(g)).collect();
        let cluster_obs: Vec<&ClusterObservation> =
            reports.iter().flat_map(|r| r.clusters.iter()).collect();
        let mut sets = join_cluster_ids(&members, &cluster_obs);
        let keyed = build_clusters(&mut sets, &cluster_obs);
        let mut clusters = place_members(keyed, &mut sets, members);
        clusters.retain(|c| {
            !c.members.is_empty() || c.recorded_leader.is_some() || c.consensus.is_some()
        });
        for cluster in &mut clusters {
            finish_cluster(cluster);
        }
        clusters.sort_by(|a, b| a.id.cmp(&b.id));
        Topology { clusters, sources }
    }

    pub fn cluster(&self, id: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.id == id)
    }

    pub fn member_count(&self) -> usize {
        self.clusters.iter().map(|c| c.members.len()).sum()
    }

    /// True when any source is in error: `snapshot` and `watch` exit 1.
    pub fn any_source_failed(&self) -> bool {
        self.sources.iter().any(SourceState::is_error)
    }
}

/// Which cluster ids name one cluster: those a data-bearing member is put
/// in by its strongest sources, and a registry record with the cluster that
/// has a member at its address.
fn join_cluster_ids(
    members: &[(Member, Vec<String>)],
    cluster_obs: &[&ClusterObservation],
) -> ClusterSets {
    let mut sets = ClusterSets::default();
    for (member, candidates) in members {
        // A data-bearing instance belongs to one replication group, so two
        // names for its cluster are one cluster. An observer (tier unknown,
        // like a Sentinel) may watch several clusters and joins none.
        if member.tier != Tier::Unknown {
            for pair in candidates.windows(2) {
                sets.union(&pair[0], &pair[1]);
            }
        }
        for candidate in candidates {
            sets.find(candidate);
        }
    }
    for obs in cluster_obs {
        sets.find(&obs.id);
        if let Some(recorded) = &obs.recorded_leader {
            let holder = members
                .iter()
                .find(|(m, _)| m.address.as_deref() == Some(recorded.address.as_str()));
            if let Some((_, candidates)) = holder
                && let Some(first) = candidates.first()
            {
                sets.union(&obs.id, first);
            }
        }
    }
    sets
}

/// Puts each member in its cluster: a data-bearing member in one, an
/// observer in every cluster it watches.
fn place_members(
    mut keyed: Vec<(String, Cluster)>,
    sets: &mut ClusterSets,
    members: Vec<(Member, Vec<String>)>,
) -> Vec<Cluster> {
    let index: HashMap<String, usize> = keyed
        .iter()
        .enumerate()
        .map(|(i, (root, _))| (root.clone(), i))
        .collect();
    for (member, candidates) in members {
        let mut roots: Vec<String> = candidates.iter().map(|c| sets.find(c)).collect();
        if member.tier == Tier::Unknown {
            roots.sort();
            roots.dedup();
        } else {
            roots.truncate(1);
        }
        for root in roots {
            match index.get(&root) {
                Some(&i) => keyed[i].1.members.push(member.clone()),
                // Unreachable: every candidate was registered above.
                None => keyed.push((root, orphan_cluster(member.clone()))),
            }
        }
    }
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// Groups observations of one instance: same address, or same name where one
/// of them has no address.
fn group_observations<'a>(
    reports: &[&'a SourceReport],
) -> Vec<Vec<(&'a str, &'a MemberObservation)>> {
    let mut groups: Vec<Vec<(&str, &MemberObservation)>> = Vec::new();
    let mut by_address: HashMap<&str, usize> = HashMap::new();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    let mut nameless: Vec<(&str, &MemberObservation)> = Vec::new();
    for report in reports {
        for obs in &report.members {
            let entry = (report.source.as_str(), obs);
            match obs.address.as_deref() {
                Some(address) => {
                    let i = *by_address.entry(address).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[i].push(entry);
                    by_name.entry(obs.name.as_str()).or_insert(i);
                }
                None => nameless.push(entry),
            }
        }
    }
    for entry in nameless {
        let i = *by_name.entry(entry.1.name.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(entry);
    }
    groups
}

/// One member from all its observations, and the cluster ids its strongest
/// observations put it in.
fn merge_member(group: &[(&str, &MemberObservation)]) -> (Member, Vec<String>) {
    let mut strongest: Vec<&(&str, &MemberObservation)> = group.iter().collect();
    // Stable sort keeps source order among equals.
    strongest.sort_by_key(|o| std::cmp::Reverse(o.1.authority));
    let top: Authority = strongest[0].1.authority;
    let obs = || strongest.iter().map(|(_, o)| *o);

    let address = obs().find_map(|o| o.address.clone());
    // The weakest source usually has the most human name (container, pod).
    let name = strongest
        .last()
        .map(|(_, o)| o.name.clone())
        .unwrap_or_default();
    let mut member = Member {
        id: obs()
            .find_map(|o| o.identity.clone())
            .or_else(|| address.clone())
            .unwrap_or_else(|| name.clone()),
        name,
        address,
        tier: obs()
            .map(|o| o.tier)
            .find(|t| *t != Tier::Unknown)
            .unwrap_or_default(),
        leader: strongest[0].1.leader,
        native_role: obs().find_map(|o| o.native_role.clone()),
        health: obs()
            .map(|o| o.health)
            .find(|h| *h != super::member::Health::Unknown)
            .unwrap_or_default(),
        link: obs().find_map(|o| o.link),
        repl_offset: obs().find_map(|o| o.repl_offset),
        lag_bytes: obs().find_map(|o| o.lag_bytes),
        lag_seconds: obs().find_map(|o| o.lag_seconds),
        sync: obs().find_map(|o| o.sync),
        error: obs().find_map(|o| o.error.clone()),
        ..Member::default()
    };
    for o in obs() {
        member.placement.fill_from(&o.placement);
        for (k, v) in &o.raw {
            member.raw.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    for (source, _) in group {
        if !member.sources.iter().any(|s| s == source) {
            member.sources.push((*source).to_string());
        }
    }
    let mut candidates: Vec<String> = Vec::new();
    for o in obs().filter(|o| o.authority == top) {
        if !candidates.contains(&o.cluster) {
            candidates.push(o.cluster.clone());
        }
    }
    (member, candidates)
}

/// One cluster per set of joined ids, keyed by the set's root; named after its
/// highest-precedence observation.
fn build_clusters(
    sets: &mut ClusterSets,
    cluster_obs: &[&ClusterObservation],
) -> Vec<(String, Cluster)> {
    let mut by_root: BTreeMap<String, Vec<&ClusterObservation>> = BTreeMap::new();
    for obs in cluster_obs {
        by_root.entry(sets.find(&obs.id)).or_default().push(obs);
    }
    sets.roots()
        .into_iter()
        .map(|root| {
            let mut observations = by_root.remove(&root).unwrap_or_default();
            observations.sort_by(|a, b| b.precedence.cmp(&a.precedence).then(a.id.cmp(&b.id)));
            let head = observations.first();
            let cluster = Cluster {
                id: head.map_or_else(|| root.clone(), |o| o.id.clone()),
                kind: head.map_or_else(|| "unknown".into(), |o| o.kind.clone()),
                name: head.map_or_else(|| root.clone(), |o| o.name.clone()),
                leader: None,
                recorded_leader: observations.iter().find_map(|o| o.recorded_leader.clone()),
                recorded_leader_agrees: None,
                consensus: observations.iter().find_map(|o| o.consensus.clone()),
                members: Vec::new(),
            };
            (root, cluster)
        })
        .collect()
}

/// Picks one leader, orders members, and compares with the recorded leader.
fn finish_cluster(cluster: &mut Cluster) {
    use super::member::Health;
    // Among members claiming to lead, the one the arbiter names wins.
    let named = cluster.consensus.as_ref().and_then(|c| c.leader.clone());
    let claimants: Vec<usize> = cluster
        .members
        .iter()
        .enumerate()
        .filter(|(_, m)| m.leader && m.health != Health::Down)
        .map(|(i, _)| i)
        .collect();
    let chosen = claimants
        .iter()
        .copied()
        .find(|&i| cluster.members[i].address.is_some() && cluster.members[i].address == named)
        .or_else(|| {
            claimants
                .iter()
                .copied()
                .min_by(|&a, &b| cluster.members[a].id.cmp(&cluster.members[b].id))
        });
    for (i, member) in cluster.members.iter_mut().enumerate() {
        member.leader = Some(i) == chosen;
    }
    cluster.leader = chosen.map(|i| cluster.members[i].id.clone());
    cluster.members.sort_by(|a, b| {
        tier_rank(a.tier)
            .cmp(&tier_rank(b.tier))
            .then(b.leader.cmp(&a.leader))
            .then(a.name.cmp(&b.name))
    });
    cluster.recorded_leader_agrees = cluster.recorded_leader.as_ref().map(|recorded| {
        cluster
            .leader_member()
            .and_then(|m| m.address.as_deref())
            .is_some_and(|a| a == recorded.address)
    });
}

fn orphan_cluster(member: Member) -> Cluster {
    Cluster {
        id: "unassigned".into(),
        kind: "unknown".into(),
        name: "unassigned".into(),
        leader: None,
        recorded_leader: None,
        recorded_leader_agrees: None,
        consensus: None,
        members: vec![member],
    }
}

fn tier_rank(tier: Tier) -> u8 {
    match tier {
        Tier::Master => 0,
        Tier::Copy => 1,
        Tier::Unknown => 2,
    }
}

/// Union-find over cluster ids.
#[derive(Default)]
struct ClusterSets {
    parent: HashMap<String, String>,
}

impl ClusterSets {
    fn find(&mut self, id: &str) -> String {
        let parent = self
            .parent
            .entry(id.to_string())
            .or_insert_with(|| id.to_string())
            .clone();
        if parent == id {
            return parent;
        }
        let root = self.find(&parent);
        self.parent.insert(id.to_string(), root.clone());
        root
    }

    fn union(&mut self, a: &str, b: &str) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller id becomes the root so the result does not depend on order.
            let (root, child) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent.insert(child, root);
        }
    }

    fn roots(&mut self) -> Vec<String> {
        let ids: Vec<String> = self.parent.keys().cloned().collect();
        let mut roots: Vec<String> = ids.iter().map(|id| self.find(id)).collect();
        roots.sort();
        roots.dedup();
        roots
    }
}
