//! The pure, synchronous model: members, clusters, the merge of source reports
//! into a topology, and the timeline of changes. No tokio, no clients, no
//! terminal: everything here is driven by plain data and tested beside the code.
//!
//! - [`observation`]: what sources send; [`member`]: a merged instance;
//! - [`consensus`]: how a cluster agrees on its leader;
//! - [`topology`]: the merge; [`timeline`]: the diff into events;
//!   [`history`]: lag over time.

pub mod consensus;
pub mod history;
pub mod member;
pub mod observation;
pub mod records;
pub mod timeline;
pub mod topology;

pub use consensus::{Arbiter, ConsensusView, Fact, SentinelView};
pub use history::LagHistory;
pub use member::{
    ContainerHandle, Handles, Health, KubeHandle, Link, Member, NativeLag, Placement, Platform,
    PlatformHandles, RawFields, SwarmHandle, SwarmServiceHandle, SyncProgress, Tier,
};
pub use observation::{
    Authority, ClusterObservation, MemberObservation, RecordedLeader, SourceKind, SourceReport,
    SourceStatus,
};
pub use timeline::{Event, EventKind, Timeline};
pub use topology::{Cluster, SourceState, Topology};

/// The value under `key`, the default inserted first if there is none.
/// The key is copied only then: the model's per-report maps (by member or
/// cluster id) are looked up once per member and report, and grow rarely.
pub(crate) fn slot<'m, V: Default>(
    map: &'m mut foldhash::HashMap<String, V>,
    key: &str,
) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_string(), V::default());
    }
    map.get_mut(key).expect("inserted above when missing")
}

/// Wall-clock time of an observation or event (UTC).
pub type Timestamp = time::OffsetDateTime;

/// Normalises `host:port` so that sources agree on the join key: `localhost`
/// becomes `127.0.0.1`, host names are lower-cased, IPv6 hosts are bracketed.
pub fn normalize_address(host: &str, port: u16) -> String {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    let host = if host.eq_ignore_ascii_case("localhost") {
        "127.0.0.1".to_string()
    } else {
        host.to_ascii_lowercase()
    };
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests;
