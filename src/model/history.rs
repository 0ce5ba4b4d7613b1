//! Recent replication lag per member: the last samples as reported (the
//! members table's sparkline), and the last minutes in buckets of a few
//! seconds, each the worst lag seen in it (the details pane's chart). The
//! lag is in bytes (Redis), else in the probe's own unit.

use std::collections::VecDeque;

use foldhash::{HashMap, HashMapExt};

use super::Timestamp;
use super::topology::Topology;

/// Seconds a bucket of the long history spans.
pub const BUCKET_SECS: i64 = 5;
/// Buckets kept: five minutes.
pub const BUCKETS: usize = 60;

#[derive(Debug, Clone, Default)]
struct Samples {
    recent: VecDeque<u64>,
    /// The worst lag of each bucket, oldest first; the last is bucket
    /// `newest` (a bucket nothing was reported in holds [`NONE`]). One
    /// number a bucket, not a (bucket, lag) pair: half the memory, for
    /// every member of a fleet.
    buckets: VecDeque<u64>,
    newest: i64,
    /// The record that last saw it: members not seen by the latest go.
    seen: u64,
}

/// A bucket nothing was reported in.
const NONE: u64 = u64::MAX;

/// The lag samples of every member that reports one, oldest first.
#[derive(Debug, Clone)]
pub struct LagHistory {
    samples: HashMap<String, Samples>,
    depth: usize,
    records: u64,
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
            records: 0,
        }
    }

    /// Adds one sample per member that reports a lag, at `now`, and forgets
    /// members that are gone.
    pub fn record(&mut self, topology: &Topology, now: Timestamp) {
        let bucket = now.unix_timestamp().div_euclid(BUCKET_SECS);
        self.records += 1;
        let record = self.records;
        for member in topology.clusters.iter().flat_map(|c| &c.members) {
            let Some(lag) = member.lag_bytes.or(member.lag.as_ref().map(|l| l.value)) else {
                continue;
            };
            let samples = super::slot(&mut self.samples, &member.id);
            samples.seen = record;
            if samples.recent.len() == self.depth {
                samples.recent.pop_front();
            }
            samples.recent.push_back(lag);
            samples.add(bucket, lag.min(NONE - 1));
        }
        self.samples.retain(|_, s| s.seen == record);
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
            let count = samples.buckets.len() as i64;
            for (i, worst) in samples.buckets.iter().enumerate() {
                let age = last - (samples.newest - (count - 1 - i as i64));
                if *worst != NONE && (0..BUCKETS as i64).contains(&age) {
                    out[BUCKETS - 1 - age as usize] = Some(*worst);
                }
            }
        }
        out
    }
}

impl Samples {
    /// Folds `lag` into `bucket`'s worst, opening buckets up to it (empty
    /// ones for a gap) and keeping the last [`BUCKETS`].
    fn add(&mut self, bucket: i64, lag: u64) {
        if self.buckets.is_empty() || bucket - self.newest >= BUCKETS as i64 {
            self.buckets.clear();
            self.buckets.push_back(lag);
            self.newest = bucket;
            return;
        }
        if bucket > self.newest {
            for _ in self.newest..bucket {
                self.buckets.push_back(NONE);
            }
            self.newest = bucket;
            while self.buckets.len() > BUCKETS {
                self.buckets.pop_front();
            }
        }
        // At or before the newest (a clock stepped back): the bucket it falls in.
        let back = (self.newest - bucket) as usize;
        if let Some(i) = self.buckets.len().checked_sub(1 + back) {
            let slot = &mut self.buckets[i];
            *slot = if *slot == NONE { lag } else { (*slot).max(lag) };
        }
    }
}
