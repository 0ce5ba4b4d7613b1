//! Recent replication lag per member, for the members table's sparkline.

use std::collections::{HashMap, VecDeque};

use super::topology::Topology;

/// The last few lag samples (bytes) of every member, oldest first.
#[derive(Debug, Clone)]
pub struct LagHistory {
    samples: HashMap<String, VecDeque<u64>>,
    depth: usize,
}

impl Default for LagHistory {
    fn default() -> Self {
        LagHistory::with_depth(30)
    }
}

impl LagHistory {
    pub fn with_depth(depth: usize) -> Self {
        LagHistory {
            samples: HashMap::new(),
            depth: depth.max(1),
        }
    }

    /// Adds one sample per member that reports a lag and forgets members that are gone.
    pub fn record(&mut self, topology: &Topology) {
        let mut seen = std::collections::HashSet::new();
        for member in topology.clusters.iter().flat_map(|c| &c.members) {
            let Some(lag) = member.lag_bytes else {
                continue;
            };
            seen.insert(member.id.as_str());
            let samples = self.samples.entry(member.id.clone()).or_default();
            if samples.len() == self.depth {
                samples.pop_front();
            }
            samples.push_back(lag);
        }
        self.samples.retain(|id, _| seen.contains(id.as_str()));
    }

    pub fn samples(&self, member: &str) -> Vec<u64> {
        self.samples
            .get(member)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }
}
