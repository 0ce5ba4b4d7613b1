//! One instance of a cluster, as the console shows it after merging what every
//! source said about it.

use std::collections::BTreeMap;

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

/// Where an instance runs. Every field is optional because each source knows
/// only part of it (Redis knows an address, Docker a container, Kubernetes a pod).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    /// `process`, `docker`, `swarm`, `kubernetes`, `simulated`.
    pub platform: Option<String>,
    pub node: Option<String>,
    pub namespace: Option<String>,
    pub pod: Option<String>,
    pub service: Option<String>,
    pub task: Option<String>,
    pub container: Option<String>,
    #[serde(default)]
    pub networks: Vec<String>,
}

impl Placement {
    /// Fills the fields this placement lacks from `other`; fields already set win.
    pub fn fill_from(&mut self, other: &Placement) {
        fn fill(mine: &mut Option<String>, theirs: &Option<String>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
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
            (None, None) => self.platform.clone().unwrap_or_default(),
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
    /// The system's own word for the role: master, slave, sentinel, zero, ...
    pub native_role: Option<String>,
    pub health: Health,
    pub link: Option<Link>,
    pub repl_offset: Option<u64>,
    pub lag_bytes: Option<u64>,
    pub lag_seconds: Option<f64>,
    pub sync: Option<SyncProgress>,
    pub placement: Placement,
    /// Ids of the sources that contributed.
    pub sources: Vec<String>,
    /// Faults the console holds on this member.
    pub faults: Vec<String>,
    /// The last error a source had with this member, already redacted.
    pub error: Option<String>,
    /// The raw fields the source gave (for the details pane), redacted.
    pub raw: BTreeMap<String, String>,
}
