//! A deterministic simulated fleet, for UI tests, benchmarks and a look at the
//! console without any cluster.

use super::SourceContext;

/// How big the simulation is and where its randomness starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    pub members: usize,
    pub seed: u64,
}

/// Runs the simulation. (Filled in by the UI work.)
pub async fn run(ctx: SourceContext, config: SimConfig) {
    let _ = (ctx, config);
}
