//! One instance of a cluster, as the console shows it after merging what every
//! source said about it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Which tier of the cluster an instance belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Holds or may hold the authoritative copy (Redis master, Dgraph zero,
    /// AllegroGraph controlling instance).
    Master,
    /// Follows a master (Redis replica, Dgraph alpha, AllegroGraph copy).
    Copy,
    /// Neither, or not known (a Sentinel, a member not yet reached).
    #[default]
    Unknown,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Master => "master",
            Tier::Copy => "copy",
            Tier::Unknown => "unknown",
        }
    }
}

/// How well an instance is doing, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Ok,
    Degraded,
    Down,
    #[default]
    Unknown,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Ok => "ok",
            Health::Degraded => "degraded",
            Health::Down => "down",
            Health::Unknown => "unknown",
        }
    }
}

/// State of a copy's replication link to its master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    Up,
    Down,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Up => "up",
            Link::Down => "down",
        }
    }
}

/// The platform an instance runs on. Serialised as the words the JSON
/// contract has always used (`process`, `docker`, `swarm`, `kubernetes`,
/// `simulated`), so scripts reading `placement.platform` see no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// A plain process no platform source sees (Redis found by address).
    Process,
    /// A container on a Docker Engine, outside Swarm.
    Docker,
    /// A Swarm task, its container, or a Swarm node.
    Swarm,
    Kubernetes,
    /// The simulator's made-up members.
    Simulated,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Process => "process",
            Platform::Docker => "docker",
            Platform::Swarm => "swarm",
            Platform::Kubernetes => "kubernetes",
            Platform::Simulated => "simulated",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far behind an instance is in its system's own unit (raft entries,
/// ZooKeeper transactions), when that is not bytes or seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeLag {
    pub value: u64,
    pub unit: String,
}

impl std::fmt::Display for NativeLag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.value, self.unit)
    }
}

/// Where an instance runs. Every field is optional because each source knows
/// only part of it (Redis knows an address, Docker a container, Kubernetes a pod).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub platform: Option<Platform>,
    pub node: Option<String>,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub service: Option<String>,
    pub task: Option<String>,
    pub container: Option<String>,
    #[serde(default)]
    pub networks: Vec<String>,
    /// The ids the platform's API wants, for the action planners. Not part
    /// of the JSON contract: the names above are what people and scripts read.
    #[serde(skip)]
    pub handles: PlatformHandles,
}

/// [`Handles`] kept only where a platform source set some: most members
/// (Redis found by address, a probe's, the simulator's) have none, and at
/// a hundred thousand members the empty ones were a fifth of the memory.
/// Reads see empty handles when none are kept; a write keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformHandles(Option<Box<Handles>>);

/// What a member without handles has.
static NO_HANDLES: Handles = Handles {
    container: None,
    swarm: SwarmHandle {
        service: None,
        task_id: None,
        node_id: None,
    },
    kube: None,
    config_rule: None,
};

impl PlatformHandles {
    /// Whether a source set any.
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Fills what these lack from `other` (see [`Handles::fill_from`]),
    /// keeping none when neither has any.
    pub fn fill_from(&mut self, other: &PlatformHandles) {
        match (&mut self.0, &other.0) {
            (_, None) => {}
            (Some(mine), Some(theirs)) => mine.fill_from(theirs),
            (None, Some(theirs)) => self.0 = Some(theirs.clone()),
        }
    }
}

impl std::ops::Deref for PlatformHandles {
    type Target = Handles;

    fn deref(&self) -> &Handles {
        self.0.as_deref().unwrap_or(&NO_HANDLES)
    }
}

impl std::ops::DerefMut for PlatformHandles {
    fn deref_mut(&mut self) -> &mut Handles {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<Handles> for PlatformHandles {
    fn from(handles: Handles) -> Self {
        PlatformHandles(Some(Box::new(handles)))
    }
}

/// Typed handles a platform source gives the action planners: the contract
/// between sources and planners (`Member::raw` is for the details pane only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handles {
    pub container: Option<ContainerHandle>,
    pub swarm: SwarmHandle,
    pub kube: Option<KubeHandle>,
    /// The config rule (cluster name) the platform source assigned the
    /// member by: its remove rule wins over the cluster's.
    pub config_rule: Option<String>,
}

/// A container on this engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerHandle {
    pub id: String,
    /// Networks it cannot be disconnected from (`host`, `none`, a Swarm
    /// network that is not attachable for a plain container).
    pub undetachable: Vec<String>,
}

/// What Swarm knows of a task or a node; each part is there when known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmHandle {
    pub service: Option<SwarmServiceHandle>,
    pub task_id: Option<String>,
    pub node_id: Option<String>,
}

/// The Swarm service a task belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SwarmServiceHandle {
    pub id: String,
    /// Global mode: one task per node, nothing to scale.
    pub global: bool,
    /// Desired replicas of a replicated service.
    pub replicas: Option<u64>,
}

/// What the Kubernetes source knows of a pod beyond its placement names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeHandle {
    pub statefulset: Option<String>,
    /// Its node is unschedulable already.
    pub node_cordoned: bool,
    /// The console NetworkPolicy that isolates it, if one does.
    pub isolated_by: Option<String>,
}

impl Handles {
    /// Fills what these handles lack from `other`; what is set already wins.
    pub fn fill_from(&mut self, other: &Handles) {
        fill(&mut self.container, &other.container);
        fill(&mut self.swarm.service, &other.swarm.service);
        fill(&mut self.swarm.task_id, &other.swarm.task_id);
        fill(&mut self.swarm.node_id, &other.swarm.node_id);
        fill(&mut self.kube, &other.kube);
        fill(&mut self.config_rule, &other.config_rule);
    }
}

fn fill<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
    if mine.is_none() {
        mine.clone_from(theirs);
    }
}

impl Placement {
    /// Fills the fields this placement lacks from `other`; fields already set win.
    pub fn fill_from(&mut self, other: &Placement) {
        fill(&mut self.platform, &other.platform);
        fill(&mut self.node, &other.node);
        fill(&mut self.namespace, &other.namespace);
        fill(&mut self.pod, &other.pod);
        fill(&mut self.service, &other.service);
        fill(&mut self.task, &other.task);
        fill(&mut self.container, &other.container);
        for network in &other.networks {
            if !self.networks.contains(network) {
                self.networks.push(network.clone());
            }
        }
        self.handles.fill_from(&other.handles);
    }

    /// A short "where": the most specific thing known, for a table cell.
    pub fn short(&self) -> String {
        let place = self
            .pod
            .as_ref()
            .or(self.task.as_ref())
            .or(self.container.as_ref())
            .or(self.service.as_ref());
        match (place, &self.node) {
            (Some(p), Some(n)) => format!("{p}@{n}"),
            (Some(p), None) => p.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => self
                .platform
                .map(Platform::as_str)
                .unwrap_or_default()
                .to_string(),
        }
    }
}

/// A full resynchronisation in progress on a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncProgress {
    pub read_bytes: u64,
    pub total_bytes: Option<u64>,
}

impl SyncProgress {
    /// Percent done, when the total is known and not zero.
    pub fn percent(&self) -> Option<f64> {
        match self.total_bytes {
            Some(total) if total > 0 => Some(self.read_bytes as f64 * 100.0 / total as f64),
            _ => None,
        }
    }
}

/// One instance after merging every source's observation of it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Member {
    /// Stable identity: the address when one is known, else the source's name.
    pub id: String,
    pub name: String,
    pub address: Option<String>,
    pub tier: Tier,
    /// This member leads its cluster right now.
    pub leader: bool,
    /// The instance itself says it leads (see
    /// [`MemberObservation::claims_leader`](super::MemberObservation)).
    #[serde(skip)]
    pub claims_leader: bool,
    /// It claims a role its cluster does not give it, in words: `claims
    /// master; Sentinel names 10.0.0.2:6379`. None when nothing is disputed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_dispute: Option<String>,
    /// The system's own word for the role: master, slave, sentinel, zero, ...
    pub native_role: Option<String>,
    pub health: Health,
    pub link: Option<Link>,
    pub repl_offset: Option<u64>,
    pub lag_bytes: Option<u64>,
    pub lag_seconds: Option<f64>,
    /// Lag in the system's own unit (`lag` in snapshots), from a probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<NativeLag>,
    /// The raft term or epoch this member is in, from a probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
    pub sync: Option<SyncProgress>,
    pub placement: Placement,
    /// Ids of the sources that contributed.
    pub sources: Vec<String>,
    /// Faults the console holds on this member.
    pub faults: Vec<String>,
    /// The last error a source had with this member, already redacted.
    pub error: Option<String>,
    /// The raw fields the source gave (for the details pane), redacted.
    pub raw: RawFields,
}

/// Fields as a source gave them, shared between a source's observation and
/// the member merged from it: a fleet's raw fields are kept once, not
/// copied on every report. Reads go through `Deref`; a write copies them
/// first if they are shared (`Arc::make_mut`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawFields(Arc<BTreeMap<String, String>>);

impl std::ops::Deref for RawFields {
    type Target = BTreeMap<String, String>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for RawFields {
    fn deref_mut(&mut self) -> &mut Self::Target {
        Arc::make_mut(&mut self.0)
    }
}

impl From<BTreeMap<String, String>> for RawFields {
    fn from(fields: BTreeMap<String, String>) -> Self {
        RawFields(Arc::new(fields))
    }
}

impl<'a> IntoIterator for &'a RawFields {
    type Item = (&'a String, &'a String);
    type IntoIter = std::collections::btree_map::Iter<'a, String, String>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_serialises_as_the_words_of_the_json_contract() {
        for (platform, word) in [
            (Platform::Process, "process"),
            (Platform::Docker, "docker"),
            (Platform::Swarm, "swarm"),
            (Platform::Kubernetes, "kubernetes"),
            (Platform::Simulated, "simulated"),
        ] {
            assert_eq!(serde_json::to_value(platform).unwrap(), word);
            assert_eq!(platform.as_str(), word);
            let back: Platform = serde_json::from_value(word.into()).unwrap();
            assert_eq!(back, platform);
        }
    }

    #[test]
    fn handles_stay_out_of_the_json_and_fill_like_the_names() {
        let mut mine = Placement {
            platform: Some(Platform::Swarm),
            handles: Handles {
                swarm: SwarmHandle {
                    task_id: Some("t1".into()),
                    ..SwarmHandle::default()
                },
                ..Handles::default()
            }
            .into(),
            ..Placement::default()
        };
        let json = serde_json::to_value(&mine).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "container",
                "namespace",
                "networks",
                "node",
                "platform",
                "pod",
                "service",
                "task"
            ]
        );
        let theirs = Placement {
            handles: Handles {
                container: Some(ContainerHandle {
                    id: "c1".into(),
                    undetachable: Vec::new(),
                }),
                swarm: SwarmHandle {
                    task_id: Some("t2".into()),
                    node_id: Some("n1".into()),
                    ..SwarmHandle::default()
                },
                ..Handles::default()
            }
            .into(),
            ..Placement::default()
        };
        mine.fill_from(&theirs);
        assert_eq!(mine.handles.swarm.task_id.as_deref(), Some("t1"));
        assert_eq!(mine.handles.swarm.node_id.as_deref(), Some("n1"));
        assert_eq!(mine.handles.container.as_ref().unwrap().id, "c1");
        assert!(
            !Placement::default().handles.is_set(),
            "none kept until set"
        );
    }
}
