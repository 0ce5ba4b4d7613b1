//! What sources send: owned data, no handles. A source sends a whole
//! [`SourceReport`] each time; it replaces everything that source said before,
//! so a member a source stops reporting is gone without a separate message.

use serde::{Deserialize, Serialize};

use super::Timestamp;
use super::consensus::ConsensusView;
use super::member::{Health, Link, NativeLag, Placement, SyncProgress, Tier};

/// How much a source's word about roles counts, weakest first. When sources
/// disagree about a member's tier or cluster, the strongest one wins.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Authority {
    /// Orchestrator naming and labels (StatefulSet name, `role` label).
    #[default]
    Platform,
    /// A registry record (a Redis key naming the leader).
    Registry,
    /// The application itself (Redis `INFO replication`, Sentinel, raft status).
    Application,
}

/// The state of one source as the header shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "error")]
pub enum SourceStatus {
    /// Started, nothing heard yet.
    #[default]
    Connecting,
    Ok,
    /// The message is already redacted and says what failed and where.
    Error(String),
}

/// One member as one source sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MemberObservation {
    /// The cluster this source puts the member in (a [`ClusterObservation::id`]).
    pub cluster: String,
    /// The source's own name for it (container, pod, `host:port`).
    pub name: String,
    /// `host:port`, normalised (see `model::normalize_address`); the join key.
    pub address: Option<String>,
    /// A name for the instance that outlives its address (a pod's
    /// `<namespace>/<name>`: Pending without an IP, then running, then
    /// recreated with another IP, it is one member). The member's id when set.
    pub identity: Option<String>,
    pub authority: Authority,
    pub tier: Tier,
    pub leader: bool,
    /// The instance itself says it leads (Redis `role:master`): true for
    /// every master of a split group, whichever one the source picked as
    /// `leader`. Two claimants in one cluster are a conflict.
    pub claims_leader: bool,
    pub native_role: Option<String>,
    pub health: Health,
    pub link: Option<Link>,
    pub repl_offset: Option<u64>,
    pub lag_bytes: Option<u64>,
    pub lag_seconds: Option<f64>,
    /// Lag in the system's own unit (raft entries), from a probe.
    pub lag: Option<NativeLag>,
    /// The raft term or epoch the member is in.
    pub term: Option<u64>,
    /// Set when an arbiter describes a member the source could not reach
    /// (Sentinel's entry for an instance that does not answer): the
    /// arbiter's configuration epoch. Sentinels learn of a failover a moment
    /// apart, so among such descriptions the newest decision gives the
    /// tier, not the newest poll.
    pub secondhand_epoch: Option<u64>,
    pub sync: Option<SyncProgress>,
    pub placement: Placement,
    pub error: Option<String>,
    pub raw: super::member::RawFields,
}

/// A cluster as one source sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterObservation {
    pub id: String,
    /// `redis`, `simulated`, `swarm-service`, `statefulset`, ...
    pub kind: String,
    pub name: String,
    /// When two sources name the same cluster differently, the higher wins
    /// (a Sentinel master name beats a seed address).
    pub precedence: u8,
    /// The leader's address as a registry records it (Dgraph's `zero` key).
    pub recorded_leader: Option<RecordedLeader>,
    /// What keeps the source from seeing the cluster as it is, in words the
    /// operator can act on (`NOAUTH: data nodes need a password
    /// (--redis-password-file)`); shown where the cluster's alarm is.
    pub problem: Option<String>,
    /// How the cluster agrees on its leader, from whoever decides it.
    pub consensus: Option<ConsensusView>,
}

/// A leader named by a record in shared storage rather than observed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedLeader {
    /// The value recorded: a normalised `host:port`, or a member's name.
    pub address: String,
    /// Where it was read, e.g. `redis://127.0.0.1:6379 key zero` (redacted).
    pub from: String,
    /// The time the record has left to live (an etcd lease, a Redis TTL).
    #[serde(default)]
    pub ttl_ms: Option<u64>,
    /// The cluster the operator said it belongs to (config `records:`).
    #[serde(default, skip_serializing)]
    pub cluster: Option<String>,
    /// The id of the member it names, in its cluster (set by the model).
    #[serde(default)]
    pub holder: Option<String>,
    /// Since when it has named this value, as far as this console saw.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub since: Option<super::Timestamp>,
    /// Since when it has disagreed with the leader observed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub disagrees_since: Option<super::Timestamp>,
}

impl RecordedLeader {
    /// Whether it names this member (by address, name or id).
    pub fn names(&self, member: &super::Member) -> bool {
        member.address.as_deref() == Some(self.address.as_str())
            || member.name == self.address
            || member.id == self.address
    }
}

/// Which kind of thing a source watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Redis,
    Sentinel,
    Registry,
    Docker,
    Kube,
    Sim,
    /// An application probe (etcd, ZooKeeper, ...).
    Probe,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Redis => "redis",
            SourceKind::Sentinel => "sentinel",
            SourceKind::Registry => "registry",
            SourceKind::Docker => "docker",
            SourceKind::Kube => "kube",
            SourceKind::Sim => "sim",
            SourceKind::Probe => "probe",
        }
    }
}

/// Everything one source knows right now. Replaces its previous report.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceReport {
    /// Unique per source for the run, e.g. `redis#0`.
    pub source: String,
    pub kind: SourceKind,
    /// What it watches, redacted (no password ever).
    pub target: String,
    pub status: SourceStatus,
    pub at: Timestamp,
    pub clusters: Vec<ClusterObservation>,
    pub members: Vec<MemberObservation>,
    /// What the source cannot see and what that leaves out, said while it
    /// lasts (a resource this user may not read); not an error.
    pub notes: Vec<String>,
}
