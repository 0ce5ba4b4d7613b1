//! The Redis source: polls `INFO replication` and `ROLE` on every instance it
//! knows, discovers the rest of each replication group from what instances
//! report, and reads Sentinel's view and registry keys.

pub mod target;

pub use target::{RedisTarget, TargetError};

use super::SourceContext;

/// Watches one Redis instance and every instance reachable through its
/// replication links. (Filled in by the Redis source work.)
pub async fn run_instance(ctx: SourceContext, target: RedisTarget) {
    let _ = (ctx, target);
}

/// Watches one Sentinel and the masters, replicas and sentinels it lists.
pub async fn run_sentinel(ctx: SourceContext, target: RedisTarget, masters: Vec<String>) {
    let _ = (ctx, target, masters);
}

/// Reads a registry key whose value is a leader's `host:port`.
pub async fn run_registry(ctx: SourceContext, target: RedisTarget, key: String) {
    let _ = (ctx, target, key);
}
