//! Starting and stopping the sources; shared by the console and headless modes.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::model::{SourceKind, Topology};
use crate::sources::kube::{KubeTarget, Namespaces};
use crate::sources::mailbox::{self, Mailbox, Outbox};
use crate::sources::plan::PlannedSource;
use crate::sources::poll::TargetFeed;
use crate::sources::{SourceContext, SourceSpec};

use super::SourceLabel;

/// Running sources: their labels, their report channel, and how to stop them.
pub struct RunningSources {
    pub labels: Vec<SourceLabel>,
    pub reports: Mailbox,
    sender: Outbox,
    interval: Duration,
    timeout: Duration,
    shutdown: CancellationToken,
    running: Vec<RunningSource>,
    /// Sources started so far, so a restarted source gets a fresh id.
    started: usize,
    /// The discovered members, for the sources that asked for them.
    targets: TargetFeed,
}

/// One source task, with what it needs to be restarted differently.
struct RunningSource {
    id: String,
    spec: SourceSpec,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// A source replaced by [`RunningSources::switch_kube`]: reports from the
/// old id still in the channel must be ignored.
pub struct Replaced {
    pub old: String,
    pub new: SourceLabel,
    /// What the new source watches (the actions follow it).
    pub target: KubeTarget,
}

impl RunningSources {
    /// Spawns one task per planned source.
    pub fn start(
        planned: Vec<PlannedSource>,
        interval: Duration,
        timeout: Duration,
    ) -> RunningSources {
        // The newest report per source: a loop that falls behind skips
        // stale views instead of queueing whole fleets.
        let (sender, reports) = mailbox::mailbox();
        let mut sources = RunningSources {
            labels: Vec::new(),
            reports,
            sender,
            interval,
            timeout,
            shutdown: CancellationToken::new(),
            running: Vec::new(),
            started: 0,
            targets: TargetFeed::default(),
        };
        for source in planned {
            sources.labels.push(SourceLabel {
                id: source.id.clone(),
                kind: source.kind,
                target: source.target.clone(),
            });
            sources.spawn(source.id, source.spec);
        }
        sources
    }

    fn spawn(&mut self, id: String, spec: SourceSpec) {
        let stop = self.shutdown.child_token();
        let ctx = SourceContext {
            id: id.clone(),
            interval: self.interval,
            timeout: self.timeout,
            reports: self.sender.clone(),
            shutdown: stop.clone(),
            targets: spec.wants_targets().then(|| self.targets.subscribe()),
        };
        let task = spec.clone().spawn(ctx);
        self.started += 1;
        self.running.push(RunningSource {
            id,
            spec,
            stop,
            task,
        });
    }

    /// Restarts the Kubernetes source on another context and/or namespace
    /// (`:ctx`, `:ns`; `:ns *` for all). None when there is no such source.
    pub fn switch_kube(
        &mut self,
        context: Option<String>,
        namespace: Option<String>,
    ) -> Option<Replaced> {
        let i = self
            .running
            .iter()
            .position(|r| matches!(r.spec, SourceSpec::Kube(..)))?;
        let old = self.running.remove(i);
        // Cancelled, not awaited: the loop never waits; its last reports are
        // told apart by the new id.
        old.stop.cancel();
        let SourceSpec::Kube(mut target, config) = old.spec else {
            unreachable!("found as a Kube source above")
        };
        if let Some(context) = context {
            target.context = Some(context);
        }
        if let Some(namespace) = namespace {
            target.namespaces = match namespace.as_str() {
                "*" => Namespaces::All,
                _ => Namespaces::Named(namespace),
            };
        }
        let new = SourceLabel {
            id: format!("kube#{}", self.started),
            kind: SourceKind::Kube,
            target: target.label(),
        };
        self.labels.retain(|l| l.id != old.id);
        self.labels.push(new.clone());
        self.spawn(new.id.clone(), SourceSpec::Kube(target.clone(), config));
        Some(Replaced {
            old: old.id,
            new,
            target,
        })
    }

    /// Sends the members the platform sources discovered to the sources that
    /// asked for them (after every merge; nothing is sent when none asked or
    /// nothing changed).
    pub fn offer_targets(&self, topology: &Topology) {
        self.targets.offer(topology);
    }

    /// Cancels every source and waits for them, at most `budget`.
    pub async fn stop(self, budget: Duration) {
        self.shutdown.cancel();
        drop(self.reports);
        let all = futures::future::join_all(self.running.into_iter().map(|r| r.task));
        if tokio::time::timeout(budget, all).await.is_err() {
            tracing::warn!(?budget, "sources did not stop in time");
        }
    }
}

/// The signals that end the process by default (SIGTERM, SIGHUP, SIGINT,
/// SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM), registered when created so that a
/// signal sent during start-up is not lost (or left to kill the process with
/// the terminal still in raw mode): each one is a clean quit instead, with
/// the terminal restored and this run's faults healed. SIGPIPE is not among
/// them: Rust ignores it, and a closed stdout is an error on write.
pub struct StopSignals {
    signals: Vec<(&'static str, Signal)>,
}

impl StopSignals {
    pub fn install() -> std::io::Result<StopSignals> {
        let kinds = [
            ("SIGTERM", SignalKind::terminate()),
            ("SIGHUP", SignalKind::hangup()),
            ("SIGINT", SignalKind::interrupt()),
            ("SIGQUIT", SignalKind::quit()),
            ("SIGUSR1", SignalKind::user_defined1()),
            ("SIGUSR2", SignalKind::user_defined2()),
            ("SIGALRM", SignalKind::alarm()),
        ];
        let signals = kinds
            .into_iter()
            .map(|(name, kind)| Ok((name, signal(kind)?)))
            .collect::<std::io::Result<_>>()?;
        Ok(StopSignals { signals })
    }

    /// Resolves with the signal's name when one arrives.
    pub async fn recv(&mut self) -> &'static str {
        let all = self
            .signals
            .iter_mut()
            .map(|(name, signal)| Box::pin(async move { signal.recv().await.map(|_| *name) }));
        let (name, ..) = futures::future::select_all(all).await;
        // A signal stream never ends while its handle lives.
        name.unwrap_or("signal")
    }
}

/// SIGTSTP (`kill -TSTP`, or Ctrl-Z where the terminal is not in raw mode):
/// caught, so the console gives the terminal back before it stops.
pub struct SuspendSignal(Signal);

impl SuspendSignal {
    pub fn install() -> std::io::Result<SuspendSignal> {
        Ok(SuspendSignal(signal(SignalKind::from_raw(libc::SIGTSTP))?))
    }

    pub async fn recv(&mut self) {
        self.0.recv().await;
    }
}
