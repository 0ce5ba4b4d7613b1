//! Starting and stopping the sources; shared by the console and headless modes.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::cli::PlannedSource;
use crate::model::SourceReport;
use crate::sources::SourceContext;

use super::SourceLabel;

/// Running sources: their labels, their report channel, and how to stop them.
pub struct RunningSources {
    pub labels: Vec<SourceLabel>,
    pub reports: mpsc::Receiver<SourceReport>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSources {
    /// Spawns one task per planned source.
    pub fn start(
        planned: Vec<PlannedSource>,
        interval: Duration,
        timeout: Duration,
    ) -> RunningSources {
        // Deep enough that a burst of reports never blocks a source for long;
        // a slow consumer still applies back-pressure instead of growing memory.
        let (tx, reports) = mpsc::channel(64);
        let shutdown = CancellationToken::new();
        let mut labels = Vec::new();
        let mut tasks = Vec::new();
        for source in planned {
            labels.push(SourceLabel {
                id: source.id.clone(),
                kind: source.kind,
                target: source.target.clone(),
            });
            let ctx = SourceContext {
                id: source.id,
                interval,
                timeout,
                reports: tx.clone(),
                shutdown: shutdown.child_token(),
            };
            tasks.push(source.spec.spawn(ctx));
        }
        RunningSources {
            labels,
            reports,
            shutdown,
            tasks,
        }
    }

    /// Cancels every source and waits for them, at most `budget`.
    pub async fn stop(self, budget: Duration) {
        self.shutdown.cancel();
        drop(self.reports);
        let all = futures::future::join_all(self.tasks);
        if tokio::time::timeout(budget, all).await.is_err() {
            tracing::warn!(?budget, "sources did not stop in time");
        }
    }
}

/// SIGTERM, SIGHUP and SIGINT, registered when created so that a signal sent
/// during start-up is not lost (or left to kill the process with the terminal
/// still in raw mode).
pub struct StopSignals {
    term: Signal,
    hup: Signal,
    int: Signal,
}

impl StopSignals {
    pub fn install() -> std::io::Result<StopSignals> {
        Ok(StopSignals {
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves with the signal's name when one arrives.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
