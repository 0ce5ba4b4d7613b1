//! The Docker source: containers, and on a Swarm manager its services, tasks
//! and nodes, as members with [`Authority::Platform`](crate::model::Authority).
//!
//! Updates are pushed: the engine's event stream (containers, services,
//! nodes, networks) triggers a new look within a few milliseconds. A slow
//! poll (ten intervals, at least 5 s) is the safety net for a lost event or a
//! dropped stream. Only GET requests are sent, but for the reads a
//! `clusterdeck.read` label asks for ([`engine_read`]), repeated every
//! interval.
//!
//! - [`client`]: which engine, a version-negotiated client, timeouts;
//! - [`inventory`]: one look at the engine;
//! - [`observe`]: the pure mapping from a look to members and clusters;
//! - [`engine_read`]: Redis roles read inside labelled containers the
//!   console cannot reach, through the engine (the only non-GET requests,
//!   and only where a label asks for them);
//! - [`raw`]: the keys of `Member::raw` (the details pane); the planners
//!   read the typed [`Handles`](crate::model::Handles) instead.

pub mod client;
pub mod engine_read;
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
    /// `--read-only`: GET requests only, so no reads inside containers
    /// ([`engine_read`] runs a command there); a note says what is left out.
    pub read_only: bool,
}

/// How long a burst of events is gathered before one look.
const DEBOUNCE: Duration = Duration::from_millis(30);
/// Wait after a failure before trying the engine again.
const RETRY: Duration = Duration::from_secs(2);

type Events = BoxStream<'static, Result<bollard::models::EventMessage, bollard::errors::Error>>;

/// What the source keeps between looks.
#[derive(Default)]
struct Watch {
    memory: Memory,
    docker: Option<Docker>,
    events: Option<Events>,
    /// The latest look's own observations and what it reads through the
    /// engine ([`engine_read`]): read again every interval, since a role
    /// changes without an engine event.
    last: Option<(observe::Observed, Vec<engine_read::ReadTarget>)>,
    /// When the engine was last looked at in full.
    looked: Option<tokio::time::Instant>,
}

/// Runs until shutdown: look, report, wait for an event or the safety poll
/// (or, while members are read through the engine, the interval).
pub async fn run(ctx: SourceContext, spec: DockerSpec) {
    let safety = (ctx.interval * 10).max(Duration::from_secs(5));
    let mut watch = Watch::default();
    let mut full = true;
    loop {
        let result = match full {
            true => look(&ctx, &spec, &mut watch).await,
            false => reread(&ctx, &spec, &mut watch).await,
        };
        let report = result.unwrap_or_else(|error| {
            watch.docker = None;
            watch.events = None;
            tracing::warn!(source = %ctx.id, %error, "docker look failed");
            error_report(&ctx, &spec, error)
        });
        if !send(&ctx, report).await {
            return;
        }
        if watch.events.is_none()
            && let Some(d) = &watch.docker
        {
            watch.events = Some(event_stream(d));
        }
        let reading = watch.last.as_ref().is_some_and(|(_, t)| !t.is_empty());
        let wait = match (watch.docker.is_some(), reading) {
            (false, _) => RETRY,
            (true, true) => ctx.interval,
            (true, false) => safety,
        };
        match wait_for_change(&ctx, &mut watch.events, wait).await {
            Wake::Shutdown => return,
            Wake::Changed => full = true,
            Wake::Quiet => {
                let since = watch.looked.map_or(safety, |at| at.elapsed());
                full = !reading || since >= safety;
            }
        }
    }
}

/// One full look, connecting first if needed.
async fn look(
    ctx: &SourceContext,
    spec: &DockerSpec,
    watch: &mut Watch,
) -> Result<SourceReport, String> {
    if watch.docker.is_none() {
        watch.docker = Some(spec.host.connect(ctx.timeout).await?);
    }
    let Some(client) = watch.docker.as_ref() else {
        return Err("not connected".into());
    };
    let inventory = Inventory::fetch(client, ctx.timeout).await?;
    let observed = observe::observe(&inventory, &spec.config, &mut watch.memory);
    let mut targets = engine_read::targets(&observed.members, &inventory);
    let mut notes = Vec::new();
    if spec.read_only && !targets.is_empty() {
        targets.clear();
        notes.push(READ_ONLY_NOTE.to_string());
    }
    watch.looked = Some(tokio::time::Instant::now());
    watch.last = Some((observed, targets));
    let mut report = reread(ctx, spec, watch).await?;
    report.notes = notes;
    Ok(report)
}

/// What a read-only console leaves out on an engine with labelled containers.
const READ_ONLY_NOTE: &str = "read-only: containers labelled clusterdeck.read=redis are not \
     read through the engine (an exec is not a GET request); their roles come from labels";

/// The latest look again, with the members read through the engine anew.
async fn reread(
    ctx: &SourceContext,
    spec: &DockerSpec,
    watch: &mut Watch,
) -> Result<SourceReport, String> {
    let (Some(client), Some((observed, targets))) = (&watch.docker, &watch.last) else {
        return Err("not connected".into());
    };
    let reads = engine_read::read_all(client, targets, ctx.timeout).await;
    let mut members = observed.members.clone();
    members.extend(engine_read::observations(&observed.members, &reads));
    Ok(SourceReport {
        source: ctx.id.clone(),
        kind: SourceKind::Docker,
        target: spec.host.as_str().to_string(),
        status: SourceStatus::Ok,
        at: OffsetDateTime::now_utc(),
        clusters: observed.clusters.clone(),
        members,
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

fn event_stream(docker: &Docker) -> Events {
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

/// Why the source woke up.
enum Wake {
    Shutdown,
    /// An event (its burst gathered), or the stream broke: look in full.
    Changed,
    /// The wait ran out without an event.
    Quiet,
}

/// Waits for an event (then gathers its burst), the end of `wait`, or
/// shutdown. A broken stream is dropped, to be opened again after the next
/// look.
async fn wait_for_change(ctx: &SourceContext, events: &mut Option<Events>, wait: Duration) -> Wake {
    let next_event = async {
        match events.as_mut() {
            Some(stream) => stream.next().await,
            None => std::future::pending().await,
        }
    };
    let got = tokio::select! {
        biased;
        _ = ctx.shutdown.cancelled() => return Wake::Shutdown,
        item = next_event => Some(item),
        _ = tokio::time::sleep(wait) => None,
    };
    match got {
        Some(Some(Ok(event))) => {
            tracing::debug!(source = %ctx.id, kind = ?event.typ, action = ?event.action, "docker event");
            match gather_burst(ctx, events).await {
                true => Wake::Changed,
                false => Wake::Shutdown,
            }
        }
        Some(Some(Err(e))) => {
            tracing::warn!(source = %ctx.id, error = %client::describe(&e), "docker event stream failed");
            *events = None;
            Wake::Changed
        }
        Some(None) => {
            *events = None;
            Wake::Changed
        }
        None => Wake::Quiet,
    }
}

/// Takes the rest of a burst of events so that one look covers them.
async fn gather_burst(ctx: &SourceContext, events: &mut Option<Events>) -> bool {
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
