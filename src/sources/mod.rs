//! Sources (Redis, Sentinel, recorded leaders, Docker, Kubernetes, a
//! simulation): tokio tasks that each watch one thing and send whole
//! [`SourceReport`]s to the app loop (through a [`mailbox`] that keeps the
//! newest per source). A source never touches app state; it
//! reports errors in its report (redacted), retries with backoff and keeps
//! going until the shutdown token is cancelled.
//!
//! - [`plan`]: which sources to start, and what the machine offers.
//! - [`poll`]: the loop, reconnect backoff and discovered targets every
//!   polled source shares; an application probe is a parser plus a
//!   [`poll::Poll`].
//! - [`redis`], [`docker`], [`kube`], [`sim`]: the sources themselves;
//! - [`probes`]: applications' own word on their members (etcd, ZooKeeper, ...);
//! - [`inspect`]: one member looked at closer, on demand: its object as
//!   YAML (`d`) and its logs followed (`l`), in tasks of their own.

pub mod capped;
pub mod docker;
pub mod inspect;
pub mod kube;
pub mod mailbox;
pub mod plan;
pub mod poll;
pub mod probes;
pub mod records;
pub mod redis;
pub mod sim;

use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::model::SourceReport;

/// What every source task is given.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// Unique for the run, e.g. `redis#0`; goes into every report.
    pub id: String,
    /// How often a polled source looks.
    pub interval: Duration,
    /// Bound on every network call.
    pub timeout: Duration,
    /// Where reports go: the newest per source is kept (see [`mailbox`]).
    pub reports: mailbox::Outbox,
    pub shutdown: CancellationToken,
    /// The members platform sources discovered, kept current by the app
    /// loop; only for a source whose spec [asks for them](SourceSpec::wants_targets).
    pub targets: Option<watch::Receiver<Vec<poll::Target>>>,
}

impl SourceContext {
    /// Sends a report (never waits: it replaces this source's report the
    /// loop has not taken yet); false when the app is gone and the source
    /// should stop. Async so that sources keep one way to send whatever the
    /// transport.
    pub async fn send(&self, report: SourceReport) -> bool {
        self.reports.send(report)
    }
}

/// A source to start, as the command line describes it.
#[derive(Debug, Clone)]
pub enum SourceSpec {
    /// One Redis instance and everything its replication reports reach.
    Redis(redis::RedisTarget),
    /// One Sentinel; every master it lists unless `masters` names some.
    /// `nodes`: how to reach the instances it names, when their credentials
    /// are not the Sentinel's (see `watch_sentinel::node_target`).
    Sentinel {
        target: redis::RedisTarget,
        masters: Vec<String>,
        nodes: Option<redis::RedisTarget>,
    },
    /// A leader recorded in shared storage (Dgraph's `zero` key in Redis,
    /// Patroni's leader key in etcd).
    Registry(records::RecordSpec),
    /// A deterministic simulated fleet.
    Sim(sim::SimConfig),
    /// StatefulSets, pods and nodes of a Kubernetes context, watched.
    /// (with the cluster config: names and labels to clusters and tiers).
    Kube(kube::KubeTarget, std::sync::Arc<crate::config::Config>),
    /// A Docker Engine: containers, and Swarm services, tasks and nodes.
    Docker(docker::DockerSpec),
    /// An application's own view of its members (etcd, ZooKeeper, ...).
    Probe(probes::ProbeSpec),
}

impl SourceSpec {
    /// Short name used for the source id (`redis#0`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            SourceSpec::Redis(_) => "redis",
            SourceSpec::Sentinel { .. } => "sentinel",
            SourceSpec::Registry(_) => "registry",
            SourceSpec::Sim(_) => "sim",
            SourceSpec::Kube(..) => "kube",
            SourceSpec::Docker(_) => "docker",
            SourceSpec::Probe(_) => "probe",
        }
    }

    /// Whether the source polls the members Docker or Kubernetes discover
    /// (an application probe without fixed URLs); the app loop then sends
    /// them over [`SourceContext::targets`]: a probe a config rule asks for.
    pub fn wants_targets(&self) -> bool {
        match self {
            SourceSpec::Probe(spec) => spec.seeds.is_none(),
            SourceSpec::Redis(_)
            | SourceSpec::Sentinel { .. }
            | SourceSpec::Registry(_)
            | SourceSpec::Sim(_)
            | SourceSpec::Kube(..)
            | SourceSpec::Docker(_) => false,
        }
    }

    /// Starts the source's task.
    pub fn spawn(self, ctx: SourceContext) -> tokio::task::JoinHandle<()> {
        match self {
            SourceSpec::Redis(target) => tokio::spawn(redis::run_instance(ctx, target)),
            SourceSpec::Sentinel {
                target,
                masters,
                nodes,
            } => tokio::spawn(redis::run_sentinel(ctx, target, masters, nodes)),
            SourceSpec::Registry(spec) => tokio::spawn(records::run(ctx, spec)),
            SourceSpec::Sim(config) => tokio::spawn(sim::run(ctx, config)),
            SourceSpec::Kube(target, config) => tokio::spawn(kube::run(ctx, target, config)),
            SourceSpec::Docker(spec) => tokio::spawn(docker::run(ctx, spec)),
            SourceSpec::Probe(spec) => tokio::spawn(probes::poller::run(ctx, spec)),
        }
    }
}
