//! The Docker source: containers, and on a Swarm manager its services, tasks
//! and nodes, as members with [`Authority::Platform`](crate::model::Authority).
//!
//! Updates are pushed: the engine's event stream (containers, services,
//! nodes, networks) triggers a new look within a few milliseconds. A slow
//! poll (ten intervals, at least 5 s) is the safety net for a lost event or a
//! dropped stream. Only GET requests are sent.
//!
//! - [`client`]: which engine, a version-negotiated client, timeouts;
//! - [`inventory`]: one look at the engine;
//! - [`observe`]: the pure mapping from a look to members and clusters;
//! - [`raw`]: the keys of `Member::raw` (the details pane); the planners
//!   read the typed [`Handles`](crate::model::Handles) instead.

pub mod client;
pub mod inventory;
pub mod observe;

use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::EventsOptions;
use futures::StreamExt;
use futures::stream::BoxStream;
use time::OffsetDateTime;

use super::SourceContext;
use crate::config::Config;
use crate::model::{SourceKind, SourceReport, SourceStatus};
pub use client::DockerHost;
use inventory::Inventory;
use observe::Memory;

/// Keys of `Member::raw` written by this source for the details pane. The
/// planners read the same ids from the typed placement handles.
pub mod raw {
    pub const CONTAINER_ID: &str = "docker.container_id";
    /// Networks the container cannot be disconnected from (comma-separated).
    pub const UNDETACHABLE: &str = "docker.undetachable";
    /// Networks the container was on and is not any more.
    pub const CUT_OFF_FROM: &str = "docker.cut_off_from";
    /// `docker.network.<name>`: IP and aliases on that network.
    pub const NETWORK_PREFIX: &str = "docker.network.";
    pub const SERVICE_ID: &str = "swarm.service_id";
    pub const SERVICE_MODE: &str = "swarm.mode";
    /// Desired replicas of a replicated service.
    pub const REPLICAS: &str = "swarm.replicas";
    pub const TASK_ID: &str = "swarm.task_id";
    pub const NODE_ID: &str = "swarm.node_id";
    pub const AVAILABILITY: &str = "swarm.availability";
    /// The config rule (cluster name) the member matched.
    pub const CONFIG_CLUSTER: &str = "config.cluster";
}

/// What the Docker source watches.
#[derive(Debug, Clone)]
pub struct DockerSpec {
    pub host: DockerHost,
    pub config: Arc<Config>,
}

/// How long a burst of events is gathered before one look.
const DEBOUNCE: Duration = Duration::from_millis(30);
/// Wait after a failure before trying the engine again.
const RETRY: Duration = Duration::from_secs(2);

/// Runs until shutdown: look, report, wait for an event or the safety poll.
pub async fn run(ctx: SourceContext, spec: DockerSpec) {
    let safety = (ctx.interval * 10).max(Duration::from_secs(5));
    let mut memory = Memory::default();
    let mut docker: Option<Docker> = None;
    let mut events: Option<
        BoxStream<'static, Result<bollard::models::EventMessage, bollard::errors::Error>>,
    > = None;
    loop {
        let report = match look(&ctx, &spec, &mut docker, &mut memory).await {
            Ok(report) => report,
            Err(error) => {
                docker = None;
                events = None;
                tracing::warn!(source = %ctx.id, %error, "docker look failed");
                error_report(&ctx, &spec, error)
            }
        };
        let healthy = docker.is_some();
        if !send(&ctx, report).await {
            return;
        }
        if events.is_none()
            && let Some(d) = &docker
        {
            events = Some(event_stream(d));
        }
        let wait = if healthy { safety } else { RETRY };
        if !wait_for_change(&ctx, &mut events, wait).await {
            return;
        }
    }
}

/// One look, connecting first if needed.
async fn look(
    ctx: &SourceContext,
    spec: &DockerSpec,
    docker: &mut Option<Docker>,
    memory: &mut Memory,
) -> Result<SourceReport, String> {
    if docker.is_none() {
        *docker = Some(spec.host.connect(ctx.timeout).await?);
    }
    let Some(client) = docker.as_ref() else {
        return Err("not connected".into());
    };
    let inventory = Inventory::fetch(client, ctx.timeout).await?;
    let observed = observe::observe(&inventory, &spec.config, memory);
    Ok(SourceReport {
        source: ctx.id.clone(),
        kind: SourceKind::Docker,
        target: spec.host.as_str().to_string(),
        status: SourceStatus::Ok,
        at: OffsetDateTime::now_utc(),
        clusters: observed.clusters,
        members: observed.members,
        notes: Vec::new(),
    })
}

fn error_report(ctx: &SourceContext, spec: &DockerSpec, error: String) -> SourceReport {
    SourceReport {
        source: ctx.id.clone(),
        kind: SourceKind::Docker,
        target: spec.host.as_str().to_string(),
        status: SourceStatus::Error(error),
        at: OffsetDateTime::now_utc(),
        clusters: Vec::new(),
        members: Vec::new(),
        notes: Vec::new(),
    }
}

async fn send(ctx: &SourceContext, report: SourceReport) -> bool {
    tokio::select! {
        biased;
        _ = ctx.shutdown.cancelled() => false,
        sent = ctx.send(report) => sent,
    }
}

fn event_stream(
    docker: &Docker,
) -> BoxStream<'static, Result<bollard::models::EventMessage, bollard::errors::Error>> {
    let filters = [(
        "type".to_string(),
        ["container", "service", "node", "network"]
            .map(String::from)
            .to_vec(),
    )]
    .into_iter()
    .collect();
    docker
        .events(Some(EventsOptions {
            filters: Some(filters),
            ..Default::default()
        }))
        .boxed()
}

/// Waits for an event (then gathers its burst), the safety poll, or
/// shutdown; false on shutdown. A broken stream is dropped, to be opened
/// again after the next look.
async fn wait_for_change(
    ctx: &SourceContext,
    events: &mut Option<
        BoxStream<'static, Result<bollard::models::EventMessage, bollard::errors::Error>>,
    >,
    wait: Duration,
) -> bool {
    let next_event = async {
        match events.as_mut() {
            Some(stream) => stream.next().await,
            None => std::future::pending().await,
        }
    };
    let got = tokio::select! {
        biased;
        _ = ctx.shutdown.cancelled() => return false,
        item = next_event => Some(item),
        _ = tokio::time::sleep(wait) => None,
    };
    match got {
        Some(Some(Ok(event))) => {
            tracing::debug!(source = %ctx.id, kind = ?event.typ, action = ?event.action, "docker event");
            gather_burst(ctx, events).await
        }
        Some(Some(Err(e))) => {
            tracing::warn!(source = %ctx.id, error = %client::describe(&e), "docker event stream failed");
            *events = None;
            true
        }
        Some(None) => {
            *events = None;
            true
        }
        None => true,
    }
}

/// Takes the rest of a burst of events so that one look covers them.
async fn gather_burst(
    ctx: &SourceContext,
    events: &mut Option<
        BoxStream<'static, Result<bollard::models::EventMessage, bollard::errors::Error>>,
    >,
) -> bool {
    let until = tokio::time::Instant::now() + DEBOUNCE;
    loop {
        let Some(stream) = events.as_mut() else {
            return true;
        };
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return false,
            _ = tokio::time::sleep_until(until) => return true,
            item = stream.next() => match item {
                Some(Ok(_)) => {}
                _ => {
                    *events = None;
                    return true;
                }
            },
        }
    }
}
