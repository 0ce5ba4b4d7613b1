//! `clusterdeck lab --app etcd`: the console on a real three-member etcd
//! cluster, seen through the etcd probe (leader, term, followers). Locally,
//! `K` kills the selected member and `R` starts it again on its data (it
//! rejoins as a follower); with `--docker`, `n` cuts the selected member's
//! container off the lab's network and `N` (or the fault's time to live)
//! puts it back. Without `etcd` on the PATH it says what to install and
//! shows a simulated cluster, as the Redis lab does.

use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Context, Result};

use super::LabError;
use super::console::{LabOptions, run_simulated, serve};
use super::etcd::{EtcdLab, INSTALL_HINT, wait_leader};
use super::etcd_docker::EtcdDockerLab;
use crate::actions::lab::LabHandle;
use crate::app::HeaderInfo;
use crate::app::console::{self, ConsoleOptions};
use crate::cli::SourceArgs;
use crate::sources::docker::DockerHost;
use crate::sources::plan::{Discovered, PlannedSource, platforms};
use crate::sources::probes::args::ProbeArgs;

/// Members of the lab: the smallest cluster that survives losing one.
const MEMBERS: usize = 3;

/// How long the members may take to elect their first leader.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Starts the lab, runs the console on it, and stops the lab on every way
/// out (its processes also die with this process, whatever kills it).
pub(super) async fn run(
    mut header: HeaderInfo,
    request_timeout: Duration,
    options: LabOptions,
) -> Result<()> {
    if let Some(host) = options.docker.clone() {
        return run_on_docker(header, request_timeout, host, options).await;
    }
    super::say("starting three etcd members on loopback…");
    let lab = match EtcdLab::start(MEMBERS).await {
        Ok(lab) => Arc::new(lab),
        Err(LabError::Missing { binary }) => {
            return run_simulated(header, binary, INSTALL_HINT, request_timeout, options).await;
        }
        Err(e) => return Err(e).wrap_err("cannot start the etcd lab"),
    };
    lab.wait_leader(READY_TIMEOUT)
        .await
        .wrap_err("the etcd lab started but elected no leader")?;
    tracing::info!(dir = %lab.dir().display(), "etcd lab ready");

    header.lab = true;
    header.notice = Some(if header.read_only {
        format!("etcd lab in {} (read-only)", lab.dir().display())
    } else {
        format!(
            "etcd lab in {}: K kills the selected member, R restarts it (it rejoins as a follower)",
            lab.dir().display()
        )
    });
    let sources = probe_sources(&lab, &options)?;
    let (handle, requests) = LabHandle::channel();
    let owner = tokio::spawn(serve(Arc::clone(&lab), requests));
    let result = console::run(ConsoleOptions {
        header,
        sources,
        request_timeout,
        lab: Some(handle),
        theme: crate::ui::Theme::from_env(),
        config: options.config,
        platforms: Default::default(),
        keep_faults: options.keep_faults,
    })
    .await;
    // The executor's handles are gone with the console, so the owner ends.
    let _ = owner.await;
    drop(lab);
    result
}

/// The etcd probe on the first member; it finds the others in the member
/// list and keeps asking them when the first one is killed.
fn probe_sources(lab: &EtcdLab, options: &LabOptions) -> Result<Vec<PlannedSource>> {
    let first = lab.client_urls().into_iter().next().unwrap_or_default();
    let args = SourceArgs {
        probes: ProbeArgs {
            probe: vec![format!("etcd={first}")],
            ..ProbeArgs::default()
        },
        config: Arc::clone(&options.config),
        ..SourceArgs::default()
    };
    Ok(args.plan_with(&Discovered::default())?)
}

/// The members as containers: the Docker source, and the etcd probe on
/// each container through a config rule; removed on every way out of the
/// console (a SIGKILLed console leaves them to the next lab's sweep).
async fn run_on_docker(
    header: HeaderInfo,
    request_timeout: Duration,
    host: DockerHost,
    options: LabOptions,
) -> Result<()> {
    // Creating containers and pulling can take longer than one API call.
    let setup_timeout = request_timeout.max(Duration::from_secs(30));
    super::say(&format!(
        "starting etcd containers on {} (the image is built the first time)…",
        host.as_str()
    ));
    let lab = EtcdDockerLab::start(&host, &options.image, setup_timeout)
        .await
        .map_err(color_eyre::eyre::Report::msg)
        .wrap_err("cannot start the etcd Docker lab")?;
    let result = console_on_docker(header, request_timeout, &host, &lab, options).await;
    super::say("removing the containers and the network…");
    lab.lab.stop(setup_timeout).await;
    super::say("removed");
    result
}

async fn console_on_docker(
    mut header: HeaderInfo,
    request_timeout: Duration,
    host: &DockerHost,
    lab: &EtcdDockerLab,
    options: LabOptions,
) -> Result<()> {
    wait_leader(&lab.addresses, READY_TIMEOUT)
        .await
        .wrap_err("the etcd Docker lab started but elected no leader")?;
    header.notice = Some(format!(
        "etcd Docker lab {} on network {}: n cuts the selected member off, N reconnects it",
        lab.lab.id, lab.lab.network
    ));
    let config = Arc::new(lab.config(&options.config));
    let args = SourceArgs {
        docker: Some(host.as_str().to_string()),
        config: Arc::clone(&config),
        read_only: header.read_only,
        ..SourceArgs::default()
    };
    let sources = args.plan_with(&Discovered::default())?;
    console::run(ConsoleOptions {
        header,
        platforms: platforms(&sources),
        sources,
        request_timeout,
        lab: None,
        theme: crate::ui::Theme::from_env(),
        config,
        keep_faults: options.keep_faults,
    })
    .await
}
