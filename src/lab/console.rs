//! `clusterdeck lab`: the console on a real local Redis cluster, with keys to
//! kill and restart its processes. Without the Redis binaries it says what to
//! install and shows a simulated cluster instead, marked SIMULATED.
//! With `--docker`, the lab runs as containers instead ([`super::docker`]).
//! With `--app etcd`, the lab is a raft cluster ([`super::etcd_console`]).

use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Context, Result};
use tokio::sync::mpsc;

use super::{INSTALL_HINT, LabConfig, LabError, LocalLab, RedisLab};
use crate::actions::lab::{LabCommand, LabHandle, LabRequest};
use crate::app::HeaderInfo;
use crate::app::console::{self, ConsoleOptions};
use crate::cli::{LabApp, SourceArgs};
use crate::config::Config;
use crate::sources::docker::DockerHost;
use crate::sources::plan::{Discovered, PlannedSource, platforms};

use super::docker::{DockerLab, DockerLabConfig};

/// What `clusterdeck lab` was asked for.
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// What the lab runs: Redis with Sentinel, or etcd.
    pub app: LabApp,
    pub replicas: u8,
    pub sentinels: u8,
    /// Run the lab on this Docker Engine instead of local processes.
    pub docker: Option<DockerHost>,
    pub image: String,
    pub swarm: bool,
    pub config: Arc<Config>,
    pub keep_faults: bool,
}

/// How long the lab may take to have replication and Sentinel agreed.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Members of the simulated stand-in when Redis is not installed.
const SIMULATED_MEMBERS: u32 = 12;

/// Starts the lab, runs the console on it, and stops the lab on every way out
/// (its processes also die with this process, whatever kills it).
pub async fn run(
    mut header: HeaderInfo,
    request_timeout: Duration,
    options: LabOptions,
) -> Result<()> {
    if options.app == LabApp::Etcd {
        return super::etcd_console::run(header, request_timeout, options).await;
    }
    if let Some(host) = options.docker.clone() {
        return run_on_docker(header, request_timeout, host, options).await;
    }
    let config = LabConfig {
        replicas: options.replicas.into(),
        sentinels: options.sentinels.into(),
        ..LabConfig::default()
    };
    let theme = crate::ui::Theme::from_env();
    super::say("starting Redis on loopback…");
    let lab = match RedisLab::start(config).await {
        Ok(lab) => Arc::new(lab),
        Err(LabError::Missing { binary }) => {
            return run_simulated(header, binary, INSTALL_HINT, request_timeout, options).await;
        }
        Err(e) => return Err(e).wrap_err("cannot start the lab"),
    };
    lab.wait_ready(READY_TIMEOUT)
        .await
        .wrap_err("the lab started but did not come together")?;
    tracing::info!(dir = %lab.dir().display(), "lab ready");

    header.lab = true;
    header.notice = Some(lab_notice(&lab, header.read_only));
    let sources = lab_sources(&lab)?;
    let (handle, requests) = LabHandle::channel();
    let owner = tokio::spawn(serve(Arc::clone(&lab), requests));
    let result = console::run(ConsoleOptions {
        header,
        sources,
        request_timeout,
        lab: Some(handle),
        theme,
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

/// Without the Redis binaries: says what to install and shows a simulated
/// cluster instead, marked SIMULATED.
pub(super) async fn run_simulated(
    mut header: HeaderInfo,
    binary: &str,
    hint: &str,
    request_timeout: Duration,
    options: LabOptions,
) -> Result<()> {
    tracing::warn!(binary, "lab falls back to a simulation");
    header.simulated = true;
    header.notice = Some(format!(
        "{binary} not found: install it with `{hint}`. Showing a SIMULATED cluster."
    ));
    let sources = simulated_sources()?;
    console::run(ConsoleOptions {
        header,
        sources,
        request_timeout,
        lab: None,
        theme: crate::ui::Theme::from_env(),
        config: options.config,
        platforms: Default::default(),
        keep_faults: options.keep_faults,
    })
    .await
}

/// The line under the header: where the lab is and its keys.
fn lab_notice(lab: &RedisLab, read_only: bool) -> String {
    if read_only {
        format!("lab in {} (read-only)", lab.dir().display())
    } else {
        format!(
            "lab in {}: K kills the selected process, R restarts it, :kill-master kills the leader",
            lab.dir().display()
        )
    }
}

/// The lab as containers: Docker source, plus the Redis source on the
/// master's address for a standalone lab; removed on every way out of the
/// console (a SIGKILLed console leaves them, labelled `clusterdeck.lab`).
async fn run_on_docker(
    mut header: HeaderInfo,
    request_timeout: Duration,
    host: DockerHost,
    options: LabOptions,
) -> Result<()> {
    let config = DockerLabConfig {
        image: options.image.clone(),
        replicas: options.replicas.into(),
        swarm: options.swarm,
    };
    // Creating containers and pulling can take longer than one API call.
    let setup_timeout = request_timeout.max(Duration::from_secs(30));
    super::say(&format!(
        "starting Redis containers on {} (the image is built the first time)…",
        host.as_str()
    ));
    let lab = DockerLab::start(&host, &config, setup_timeout)
        .await
        .map_err(color_eyre::eyre::Report::msg)
        .wrap_err("cannot start the Docker lab")?;
    header.notice = Some(format!(
        "Docker lab {} on network {}: n cuts the selected container off, N reconnects it{}",
        lab.id,
        lab.network,
        if options.swarm {
            ", s scales the copies' service, c/C cordon the node"
        } else {
            ""
        }
    ));
    let args = SourceArgs {
        redis: lab.master_url.clone().into_iter().collect(),
        docker: Some(host.as_str().to_string()),
        config: Arc::clone(&options.config),
        read_only: header.read_only,
        ..SourceArgs::default()
    };
    let sources = args.plan_with(&Discovered::default())?;
    let result = console::run(ConsoleOptions {
        header,
        platforms: platforms(&sources),
        sources,
        request_timeout,
        lab: None,
        theme: crate::ui::Theme::from_env(),
        config: options.config,
        keep_faults: options.keep_faults,
    })
    .await;
    super::say("removing the containers and the network…");
    lab.stop(setup_timeout).await;
    super::say("removed");
    result
}

/// One source per sentinel, so the view survives killing any one of them.
fn lab_sources(lab: &RedisLab) -> Result<Vec<PlannedSource>> {
    let args = SourceArgs {
        sentinel: lab.sentinel_urls(),
        redis: if lab.sentinel_urls().is_empty() {
            vec![lab.redis_url()]
        } else {
            Vec::new()
        },
        ..SourceArgs::default()
    };
    Ok(args.plan_with(&Discovered::default())?)
}

fn simulated_sources() -> Result<Vec<PlannedSource>> {
    let args = SourceArgs {
        sim: Some(SIMULATED_MEMBERS),
        seed: 1,
        ..SourceArgs::default()
    };
    Ok(args.plan_with(&Discovered::default())?)
}

/// Carries out kill and restart requests, by member address.
pub(super) async fn serve<L: LocalLab>(lab: Arc<L>, mut requests: mpsc::Receiver<LabRequest>) {
    while let Some(request) = requests.recv().await {
        let answer = match &request.command {
            LabCommand::Kill(address) => match name_at(lab.as_ref(), address) {
                Ok(name) => lab
                    .kill(&name)
                    .map(|()| format!("killed lab process {name} ({address}) with SIGKILL"))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
            LabCommand::Restart(address) => match name_at(lab.as_ref(), address) {
                Ok(name) => lab
                    .restart(&name)
                    .await
                    .map(|()| format!("restarted lab process {name} ({address})"))
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
        };
        let _ = request.reply.send(answer);
    }
}

fn name_at<L: LocalLab>(lab: &L, address: &str) -> Result<String, String> {
    lab.members()
        .into_iter()
        .find(|m| m.address == address)
        .map(|m| m.name)
        .ok_or_else(|| format!("{address} is not a process of this lab"))
}
