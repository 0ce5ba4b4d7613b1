//! Recent replication lag per member: the last samples as reported (the
//! members table's sparkline), and the last minutes in buckets of a few
//! seconds, each the worst lag seen in it (the details pane's chart). The
//! lag is in bytes (Redis), else in the probe's own unit.

use std::collections::{HashMap, VecDeque};

use super::Timestamp;
use super::topology::Topology;

/// Seconds a bucket of the long history spans.
pub const BUCKET_SECS: i64 = 5;
/// Buckets kept: five minutes.
pub const BUCKETS: usize = 60;

#[derive(Debug, Clone, Default)]
struct Samples {
    recent: VecDeque<u64>,
    /// (bucket number since the epoch, worst lag in it), oldest first.
    buckets: VecDeque<(i64, u64)>,
}

/// The lag samples of every member that reports one, oldest first.
#[derive(Debug, Clone)]
pub struct LagHistory {
    samples: HashMap<String, Samples>,
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

    /// Adds one sample per member that reports a lag, at `now`, and forgets
    /// members that are gone.
    pub fn record(&mut self, topology: &Topology, now: Timestamp) {
        let bucket = now.unix_timestamp().div_euclid(BUCKET_SECS);
        let mut seen = std::collections::HashSet::new();
        for member in topology.clusters.iter().flat_map(|c| &c.members) {
            let Some(lag) = member.lag_bytes.or(member.lag.as_ref().map(|l| l.value)) else {
                continue;
            };
            seen.insert(member.id.as_str());
            let samples = self.samples.entry(member.id.clone()).or_default();
            if samples.recent.len() == self.depth {
                samples.recent.pop_front();
            }
            samples.recent.push_back(lag);
            match samples.buckets.back_mut() {
                Some((at, worst)) if *at == bucket => *worst = (*worst).max(lag),
                _ => samples.buckets.push_back((bucket, lag)),
            }
            while samples
                .buckets
                .front()
                .is_some_and(|(at, _)| bucket - at >= BUCKETS as i64)
            {
                samples.buckets.pop_front();
            }
        }
        self.samples.retain(|id, _| seen.contains(id.as_str()));
    }

    /// The last samples as reported.
    pub fn samples(&self, member: &str) -> Vec<u64> {
        self.samples
            .get(member)
            .map(|s| s.recent.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The last [`BUCKETS`] buckets up to `now`, oldest first: the worst lag
    /// in each, None where nothing was reported.
    pub fn minutes(&self, member: &str, now: Timestamp) -> Vec<Option<u64>> {
        let last = now.unix_timestamp().div_euclid(BUCKET_SECS);
        let mut out = vec![None; BUCKETS];
        if let Some(samples) = self.samples.get(member) {
            for (at, worst) in &samples.buckets {
                let age = last - at;
                if (0..BUCKETS as i64).contains(&age) {
                    out[BUCKETS - 1 - age as usize] = Some(*worst);
                }
            }
        }
        out
    }
}
