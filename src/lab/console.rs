//! `clusterdeck lab`: the console on a real local Redis cluster.

use std::time::Duration;

use color_eyre::eyre::{Result, bail};

use crate::app::HeaderInfo;

/// Starts the lab, runs the console on it, and stops the lab on every way out.
pub async fn run(header: HeaderInfo, timeout: Duration, replicas: u8, sentinels: u8) -> Result<()> {
    let _ = (header, timeout, replicas, sentinels);
    bail!("the lab is not built yet")
}
