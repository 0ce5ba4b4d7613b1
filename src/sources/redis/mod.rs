//! The Redis source: polls `INFO replication` on every instance it knows,
//! discovers the rest of each replication group from what instances report,
//! and reads Sentinel's view and registry keys.
//!
//! - [`info`], [`role`], [`sentinel`]: pure parsers of replies.
//! - [`connection`]: one cached connection with timeouts, on the shared
//!   [`Reconnect`](crate::sources::poll::Reconnect) backoff.
//! - [`group`]: a replication group and the rules for leader, lag and health.
//! - [`watch_sentinel`], [`registry`]: the Sentinel and registry sources.
//! - [`target`]: a checked, redactable Redis URL.
//! - [`trust`]: where credentials may go (`--allow-net`) and TLS files.
//!
//! Each is polled by the shared [`run_polling`] loop.

pub mod connection;
pub mod group;
pub mod info;
pub mod registry;
pub mod role;
pub mod sentinel;
pub mod target;
pub mod trust;
pub(crate) mod value;
pub mod watch_sentinel;
pub mod wire;

#[cfg(test)]
mod failover_replay;

pub use target::{PasswordFiles, Passwords, RedisTarget, TargetError};
pub use trust::{AllowList, Credentials, Net, TlsFiles, Trust, TrustArgs, UrlKind};

use std::time::Duration;

use super::SourceContext;
use super::poll::{Poll, run_polling};
use crate::model::SourceReport;

/// Watches one Redis instance and every instance reachable through its
/// replication links, as one cluster `redis/<seed address>`.
pub async fn run_instance(ctx: SourceContext, target: RedisTarget) {
    run_polling(&ctx, group::ReplicationGroup::new(target)).await;
}

/// Watches one Sentinel and the masters, replicas and sentinels it lists;
/// `nodes` carries the data nodes' own credentials, if they have any.
pub async fn run_sentinel(
    ctx: SourceContext,
    target: RedisTarget,
    masters: Vec<String>,
    nodes: Option<RedisTarget>,
) {
    let watch = watch_sentinel::SentinelWatch::new(target, masters, nodes);
    run_polling(&ctx, watch).await;
}

/// Reads a registry key whose value is a leader's `host:port`.
impl Poll for group::ReplicationGroup {
    async fn poll(&mut self, source: &str, timeout: Duration) -> SourceReport {
        group::ReplicationGroup::poll(self, source, timeout).await
    }
}

impl Poll for watch_sentinel::SentinelWatch {
    async fn poll(&mut self, source: &str, timeout: Duration) -> SourceReport {
        watch_sentinel::SentinelWatch::poll(self, source, timeout).await
    }
}
