//! Merging the latest report of every source into clusters of members.
//!
//! The same instance seen by several sources (a pod, its container, the Redis
//! at its IP) becomes one [`Member`]: observations are joined on address, then
//! on name. Roles come from the strongest [`Authority`] that has them; where
//! it runs is filled in from every source. Two sources that name one cluster
//! differently (a Sentinel master name and a seed address) are folded into the
//! cluster with the higher precedence.

use foldhash::{HashMap, HashMapExt, HashSet};

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
    /// What keeps a source from seeing this cluster as it is (see
    /// [`ClusterObservation::problem`]).
    pub problem: Option<String>,
    /// Ids of the members that claim to lead, when more than one does (two
    /// Redis masters, two raft leaders): a split brain. Empty otherwise.
    pub leaders_conflict: Vec<String>,
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

    /// The strongest thing wrong with the cluster, as a sentence for the
    /// header: a leaders conflict, else a source's problem with it.
    pub fn alarm(&self) -> Option<String> {
        if !self.leaders_conflict.is_empty() {
            let word = self
                .consensus
                .as_ref()
                .map_or("leader", |c| c.arbiter.leader_word());
            return Some(format!(
                "{} members claim {word}: {}",
                self.leaders_conflict.len(),
                self.leaders_conflict.join(", ")
            ));
        }
        self.problem.clone()
    }
}

/// By hand so that `sentinel` stays in snapshots where scripts read it,
/// derived from the consensus view that now carries it.
impl Serialize for Cluster {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut doc = serializer.serialize_struct("Cluster", 11)?;
        doc.serialize_field("id", &self.id)?;
        doc.serialize_field("kind", &self.kind)?;
        doc.serialize_field("name", &self.name)?;
        doc.serialize_field("leader", &self.leader)?;
        doc.serialize_field("recorded_leader", &self.recorded_leader)?;
        doc.serialize_field("recorded_leader_agrees", &self.recorded_leader_agrees)?;
        doc.serialize_field("sentinel", &self.sentinel())?;
        doc.serialize_field("consensus", &self.consensus)?;
        doc.serialize_field("leaders_conflict", &self.leaders_conflict)?;
        doc.serialize_field("problem", &self.problem)?;
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
        let members: Vec<(Member, Vec<&str>)> = groups.iter().map(|g| merge_member(g)).collect();
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
        clusters.sort_by(|a, b| natural_cmp(&a.id, &b.id));
        Topology { clusters, sources }
    }

    pub fn cluster(&self, id: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.id == id)
    }

    /// Whether `other` shows the same: the same clusters and sources, but
    /// for when each source last reported (most polls change nothing, and
    /// a screen that would look the same is not redrawn for them).
    pub fn same_view(&self, other: &Topology) -> bool {
        let source = |a: &SourceState, b: &SourceState| {
            a.id == b.id
                && a.status == b.status
                && a.error == b.error
                && a.members == b.members
                && a.notes == b.notes
                && a.target == b.target
        };
        self.sources.len() == other.sources.len()
            && self
                .sources
                .iter()
                .zip(&other.sources)
                .all(|(a, b)| source(a, b))
            && self.clusters == other.clusters
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
fn join_cluster_ids<'a>(
    members: &[(Member, Vec<&'a str>)],
    cluster_obs: &[&'a ClusterObservation],
) -> ClusterSets<'a> {
    let mut sets = ClusterSets::default();
    // A set: every member's candidates are checked against it.
    let arbitrated: HashSet<&str> = cluster_obs
        .iter()
        .filter(|o| o.consensus.is_some())
        .map(|o| o.id.as_str())
        .collect();
    for (member, candidates) in members {
        // A data-bearing instance belongs to one replication group, so two
        // names for its cluster are one cluster. An observer (tier unknown,
        // like a Sentinel) may watch several clusters and joins none. Two
        // arbiters (one master under two Sentinel names) are two clusters
        // that share members: each decides on its own.
        if member.tier != Tier::Unknown {
            let (decided, plain): (Vec<&str>, Vec<&str>) =
                candidates.iter().partition(|c| arbitrated.contains(*c));
            let joined = plain.iter().chain(decided.first());
            for (a, b) in joined.clone().zip(joined.skip(1)) {
                sets.union(a, b);
            }
        }
        for candidate in candidates {
            sets.find(candidate);
        }
    }
    let named = NamedMembers::of(members);
    for obs in cluster_obs {
        sets.find(&obs.id);
        if let Some(recorded) = &obs.recorded_leader {
            if let Some(named) = recorded.cluster.as_deref() {
                if let Some(other) = cluster_obs.iter().find(|o| is_called(o, named)) {
                    sets.union(&obs.id, &other.id);
                }
                continue;
            }
            let holder = named.get(&recorded.address).map(|&i| &members[i]);
            if let Some((_, candidates)) = holder
                && let Some(&first) = candidates.first()
            {
                sets.union(&obs.id, first);
            }
        }
    }
    sets
}

/// Members by every string a record may name them by (address, name, id;
/// see [`RecordedLeader::names`]): the first member with it, as a search
/// in order would find, without searching a fleet once per record.
struct NamedMembers<'a>(HashMap<&'a str, usize>);

impl<'a> NamedMembers<'a> {
    fn of(members: &'a [(Member, Vec<&str>)]) -> Self {
        let mut index = HashMap::new();
        for (i, (m, _)) in members.iter().enumerate() {
            let keys = [
                m.address.as_deref(),
                Some(m.name.as_str()),
                Some(m.id.as_str()),
            ];
            for key in keys.into_iter().flatten() {
                index.entry(key).or_insert(i);
            }
        }
        NamedMembers(index)
    }

    fn get(&self, named: &str) -> Option<&usize> {
        self.0.get(named)
    }
}

/// Whether the operator's name for a cluster is this observation: its id,
/// its name, the config rule's name, or the application's own name for it.
fn is_called(obs: &ClusterObservation, named: &str) -> bool {
    obs.recorded_leader.is_none()
        && (obs.id == named
            || obs.name == named
            || obs.id == format!("config/{named}")
            || obs.consensus.as_ref().is_some_and(|c| {
                c.facts
                    .iter()
                    .any(|f| f.name == "cluster" && f.value == named)
            }))
}

/// Puts each member in its cluster: a data-bearing member in one (or one per
/// arbiter that names it), an observer in every cluster it watches.
fn place_members<'a>(
    mut keyed: Vec<(usize, Cluster)>,
    sets: &mut ClusterSets<'a>,
    members: Vec<(Member, Vec<&'a str>)>,
) -> Vec<Cluster> {
    let index: HashMap<usize, usize> = keyed
        .iter()
        .enumerate()
        .map(|(i, (root, _))| (*root, i))
        .collect();
    for (member, candidates) in members {
        let mut roots: Vec<usize> = candidates.iter().map(|c| sets.find(c)).collect();
        roots.sort_by_key(|&root| sets.name(root));
        roots.dedup();
        // Cloned only for a member shared by several arbiters' clusters.
        let mut member = Some(member);
        let last = roots.len().saturating_sub(1);
        for (n, root) in roots.into_iter().enumerate() {
            let Some(placed) = (if n == last {
                member.take()
            } else {
                member.clone()
            }) else {
                break;
            };
            match index.get(&root) {
                Some(&i) => keyed[i].1.members.push(placed),
                // Unreachable: every candidate was registered above.
                None => keyed.push((root, orphan_cluster(placed))),
            }
        }
    }
    keyed.into_iter().map(|(_, c)| c).collect()
}

/// One observation with the source that made it and when.
type Seen<'a> = (&'a str, Timestamp, &'a MemberObservation);

/// Orders names as people count: `ag-2` before `ag-10` (runs of digits
/// compare by value, the rest by character).
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a, b);
    loop {
        let (Some(x), Some(y)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len());
        };
        let order = if x.is_ascii_digit() && y.is_ascii_digit() {
            let da = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let db = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let (na, nb) = (
                a[..da].trim_start_matches('0'),
                b[..db].trim_start_matches('0'),
            );
            let by_value = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            let order = by_value.then_with(|| da.cmp(&db));
            (a, b) = (&a[da..], &b[db..]);
            order
        } else {
            (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            x.cmp(&y)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

/// Groups observations of one instance: same address, or same name where one
/// of them has no address.
fn group_observations<'a>(reports: &[&'a SourceReport]) -> Vec<Vec<Seen<'a>>> {
    let mut groups: Vec<Vec<Seen<'a>>> = Vec::new();
    let mut by_address: HashMap<&str, usize> = HashMap::new();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    let mut nameless: Vec<Seen<'a>> = Vec::new();
    for report in reports {
        for obs in &report.members {
            let entry = (report.source.as_str(), report.at, obs);
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
        let i = *by_name.entry(entry.2.name.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(entry);
    }
    groups
}

/// One member from all its observations, and the cluster ids its strongest
/// observations put it in.
fn merge_member<'a>(group: &[Seen<'a>]) -> (Member, Vec<&'a str>) {
    let mut strongest: Vec<&Seen<'_>> = group.iter().collect();
    // Stable sort keeps source order among equals.
    strongest.sort_by_key(|o| std::cmp::Reverse(o.2.authority));
    let top: Authority = strongest[0].2.authority;
    let obs = || strongest.iter().map(|(_, _, o)| *o);
    let role = role_source(&strongest);

    let address = obs().find_map(|o| o.address.clone());
    // The weakest source usually has the most human name (container, pod).
    let name = strongest
        .last()
        .map(|(_, _, o)| o.name.clone())
        .unwrap_or_default();
    let mut member = Member {
        id: obs()
            .find_map(|o| o.identity.clone())
            .or_else(|| address.clone())
            .unwrap_or_else(|| name.clone()),
        name,
        address,
        tier: role.tier,
        leader: role.leader,
        claims_leader: role.claims_leader,
        native_role: role
            .native_role
            .clone()
            .or_else(|| obs().find_map(|o| o.native_role.clone())),
        health: obs()
            .map(|o| o.health)
            .find(|h| *h != super::member::Health::Unknown)
            .unwrap_or_default(),
        link: obs().find_map(|o| o.link),
        repl_offset: obs().find_map(|o| o.repl_offset),
        lag_bytes: obs().find_map(|o| o.lag_bytes),
        lag_seconds: obs().find_map(|o| o.lag_seconds),
        lag: obs().find_map(|o| o.lag.clone()),
        term: obs().find_map(|o| o.term),
        sync: obs().find_map(|o| o.sync),
        error: obs().find_map(|o| o.error.clone()),
        ..Member::default()
    };
    for o in obs() {
        fill_from(&mut member, o);
    }
    add_sources(&mut member, group);
    let mut candidates: Vec<&'a str> = Vec::new();
    for (_, _, o) in group.iter().filter(|(_, _, o)| o.authority == top) {
        if !candidates.contains(&o.cluster.as_str()) {
            candidates.push(o.cluster.as_str());
        }
    }
    (member, candidates)
}

/// Where it runs and its raw fields, from one more observation: what is
/// set already wins.
fn fill_from(member: &mut Member, o: &MemberObservation) {
    member.placement.fill_from(&o.placement);
    if member.raw.is_empty() {
        // Shared, not copied: most members have one source of raw fields.
        member.raw = o.raw.clone();
        return;
    }
    for (k, v) in &o.raw {
        if !member.raw.contains_key(k) {
            member.raw.insert(k.clone(), v.clone());
        }
    }
}

fn add_sources(member: &mut Member, group: &[Seen<'_>]) {
    for (source, _, _) in group {
        if !member.sources.iter().any(|s| s == source) {
            member.sources.push((*source).to_string());
        }
    }
}

/// The observation a member's role comes from: among the strongest that
/// know its tier, the newest that the instance gave itself. Two sources
/// polling one instance a moment apart during a failover disagree; the
/// later answer is the truth now. An instance nobody reached is described
/// second-hand (Sentinel's entry, a last answer): the newest decision (the
/// highest epoch) gives its tier, then the newest report, so views of
/// arbiters a moment behind do not flip it back and forth.
fn role_source<'a>(strongest: &[&Seen<'a>]) -> &'a MemberObservation {
    let known = strongest
        .iter()
        .filter(|(_, _, o)| o.tier != Tier::Unknown)
        .collect::<Vec<_>>();
    let Some(first) = known.first() else {
        return strongest[0].2;
    };
    let top = first.2.authority;
    let top_known = || known.iter().filter(|(_, _, o)| o.authority == top);
    let firsthand = |o: &MemberObservation| {
        o.secondhand_epoch.is_none() && o.health != super::member::Health::Down
    };
    // max_by_key keeps the last of equals: reverse to keep the first.
    let chosen = if top_known().any(|(_, _, o)| firsthand(o)) {
        top_known()
            .filter(|(_, _, o)| firsthand(o))
            .rev()
            .max_by_key(|(_, at, _)| *at)
    } else {
        top_known()
            .rev()
            .max_by_key(|(_, at, o)| (o.secondhand_epoch, *at))
    };
    chosen.map_or(first.2, |(_, _, o)| *o)
}

/// One cluster per set of joined ids, keyed by the set's root; named after its
/// highest-precedence observation.
fn build_clusters<'a>(
    sets: &mut ClusterSets<'a>,
    cluster_obs: &[&'a ClusterObservation],
) -> Vec<(usize, Cluster)> {
    let mut by_root: HashMap<usize, Vec<&ClusterObservation>> = HashMap::new();
    for obs in cluster_obs {
        by_root.entry(sets.find(&obs.id)).or_default().push(obs);
    }
    sets.roots()
        .into_iter()
        .map(|root| {
            let mut observations = by_root.remove(&root).unwrap_or_default();
            observations.sort_by(|a, b| b.precedence.cmp(&a.precedence).then(a.id.cmp(&b.id)));
            let head = observations.first();
            let named = sets.name(root);
            let cluster = Cluster {
                id: head.map_or_else(|| named.to_string(), |o| o.id.clone()),
                kind: head.map_or_else(|| "unknown".into(), |o| o.kind.clone()),
                name: head.map_or_else(|| named.to_string(), |o| o.name.clone()),
                leader: None,
                recorded_leader: observations.iter().find_map(|o| o.recorded_leader.clone()),
                recorded_leader_agrees: None,
                consensus: observations.iter().find_map(|o| o.consensus.clone()),
                leaders_conflict: Vec::new(),
                problem: observations.iter().find_map(|o| o.problem.clone()),
                members: Vec::new(),
            };
            (root, cluster)
        })
        .collect()
}

/// Picks one leader, marks disputed claims, orders members, and compares
/// with the recorded leader.
fn finish_cluster(cluster: &mut Cluster) {
    let claimants = claimants(cluster);
    let chosen = choose_leader(cluster, &claimants);
    for (i, member) in cluster.members.iter_mut().enumerate() {
        member.leader = Some(i) == chosen;
    }
    cluster.leader = chosen.map(|i| cluster.members[i].id.clone());
    cluster.leaders_conflict = if claimants.len() > 1 {
        let mut ids: Vec<String> = claimants
            .iter()
            .map(|&i| cluster.members[i].id.clone())
            .collect();
        ids.sort();
        ids
    } else {
        Vec::new()
    };
    mark_disputes(cluster, &claimants, chosen);
    if !cluster.leaders_conflict.is_empty()
        && let Some(consensus) = &mut cluster.consensus
    {
        // Two leaders outrank a down flag: both take writes.
        consensus.alarm = Some(LEADERS_CONFLICT_ALARM.into());
    }
    cluster.members.sort_by(|a, b| {
        tier_rank(a.tier)
            .cmp(&tier_rank(b.tier))
            .then(b.leader.cmp(&a.leader))
            .then_with(|| natural_cmp(&a.name, &b.name))
    });
    cluster.recorded_leader_agrees = cluster
        .recorded_leader
        .as_ref()
        .map(|recorded| cluster.leader_member().is_some_and(|m| recorded.names(m)));
    let holder = cluster.recorded_leader.as_ref().and_then(|recorded| {
        let found = cluster.members.iter().find(|m| recorded.names(m));
        found.map(|m| m.id.clone())
    });
    if let Some(recorded) = &mut cluster.recorded_leader {
        recorded.holder = holder;
    }
}

/// The alarm word of a cluster with more than one member claiming to lead.
pub const LEADERS_CONFLICT_ALARM: &str = "leaders_conflict";

/// Members not down that lead by a source's choice or by their own word.
fn claimants(cluster: &Cluster) -> Vec<usize> {
    use super::member::Health;
    cluster
        .members
        .iter()
        .enumerate()
        .filter(|(_, m)| (m.leader || m.claims_leader) && m.health != Health::Down)
        .map(|(i, _)| i)
        .collect()
}

/// The arbiter knows best: when it names a member of this cluster, that
/// member leads if it claims to and is up, and no other does (its switch is
/// newer than any answer that still says master). Without one, the
/// claimant a source chose, else the lowest id.
fn choose_leader(cluster: &Cluster, claimants: &[usize]) -> Option<usize> {
    let at = |i: usize| &cluster.members[i];
    let named = cluster.consensus.as_ref().and_then(|c| c.leader.as_deref());
    let named = named
        .and_then(|n| (0..cluster.members.len()).find(|&i| at(i).address.as_deref() == Some(n)));
    if let Some(i) = named {
        return claimants.contains(&i).then_some(i);
    }
    let lowest = |a: &usize, b: &usize| at(*a).id.cmp(&at(*b).id);
    let by_source = claimants.iter().copied().filter(|&i| at(i).leader);
    by_source
        .min_by(lowest)
        .or_else(|| claimants.iter().copied().min_by(lowest))
}

/// Every claimant that is not the leader says so: what it claims, and who
/// the cluster's arbiter (or the sources) name instead.
fn mark_disputes(cluster: &mut Cluster, claimants: &[usize], chosen: Option<usize>) {
    let arbiter = cluster.consensus.as_ref().and_then(|c| {
        Some(format!(
            "{} names {}",
            c.arbiter.title(),
            c.leader.as_ref()?
        ))
    });
    let leader = chosen.map(|i| {
        let m = &cluster.members[i];
        format!("{} leads", m.address.as_ref().unwrap_or(&m.id))
    });
    let Some(instead) = arbiter.or(leader) else {
        return;
    };
    for &i in claimants.iter().filter(|&&i| Some(i) != chosen) {
        let member = &mut cluster.members[i];
        let role = member.native_role.as_deref().unwrap_or("leader");
        member.role_dispute = Some(format!("claims {role}; {instead}"));
    }
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
        leaders_conflict: Vec::new(),
        problem: None,
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

/// Union-find over cluster ids, by index: each id is looked up once and a
/// fleet's members are joined without allocating. A set's root is its
/// smallest id, so the result does not depend on the order of the joins.
#[derive(Default)]
struct ClusterSets<'a> {
    index: HashMap<&'a str, usize>,
    ids: Vec<&'a str>,
    parent: Vec<usize>,
}

impl<'a> ClusterSets<'a> {
    /// The root of the set holding `id` (added as a set of its own if new).
    fn find(&mut self, id: &'a str) -> usize {
        let next = self.ids.len();
        let mut at = *self.index.entry(id).or_insert(next);
        if at == next {
            self.ids.push(id);
            self.parent.push(next);
        }
        while self.parent[at] != at {
            // Path halving: every other step now points at its grandparent.
            self.parent[at] = self.parent[self.parent[at]];
            at = self.parent[at];
        }
        at
    }

    fn union(&mut self, a: &'a str, b: &'a str) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (root, child) = if self.ids[ra] < self.ids[rb] {
                (ra, rb)
            } else {
                (rb, ra)
            };
            self.parent[child] = root;
        }
    }

    /// The id a root stands for.
    fn name(&self, root: usize) -> &'a str {
        self.ids[root]
    }

    /// Every set's root, ordered by id.
    fn roots(&self) -> Vec<usize> {
        let mut roots: Vec<usize> = (0..self.ids.len())
            .filter(|&i| self.parent[i] == i)
            .collect();
        roots.sort_by_key(|&root| self.ids[root]);
        roots
    }
}
