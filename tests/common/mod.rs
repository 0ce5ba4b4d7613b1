//! Helpers shared by the integration tests: a lab that fails loudly when
//! Redis is not installed, and a watcher that runs sources the way the app
//! does (reports over a channel, merged into a topology, diffed into a
//! timeline) and waits for a condition with a deadline.

#![allow(dead_code)]

pub mod docker;
pub mod etcd;
pub mod patroni;
pub mod postgres;
pub mod pty;
pub mod real_kube;
pub use real_kube::stop_child;
pub mod watch;
pub mod zookeeper;

use std::time::Duration;

use clusterdeck::app::{AppState, HeaderInfo};
use clusterdeck::lab::{LabConfig, RedisLab};
use clusterdeck::model::{Cluster, Event, EventKind, SourceReport};
use clusterdeck::sources::mailbox::{self, Mailbox, Outbox};
use clusterdeck::sources::{SourceContext, SourceSpec};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Poll interval of sources under test: short, so tests are quick.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// Starts a lab and waits until it is whole; fails the test (never skips)
/// with the install command if Redis is missing.
pub async fn lab(config: LabConfig) -> RedisLab {
    let lab = match RedisLab::start(config).await {
        Ok(lab) => lab,
        Err(e) => panic!("cannot start the Redis lab: {e}"),
    };
    if let Err(e) = lab.wait_ready(Duration::from_secs(30)).await {
        panic!("Redis lab not ready: {e} (logs in {})", lab.dir().display());
    }
    lab
}

pub fn config(replicas: usize, sentinels: usize) -> LabConfig {
    LabConfig {
        replicas,
        sentinels,
        ..LabConfig::default()
    }
}

fn header() -> HeaderInfo {
    HeaderInfo {
        interval: INTERVAL,
        read_only: true,
        simulated: false,
        lab: false,
        notice: None,
    }
}

/// Sources running against a lab, and what the app would make of them.
pub struct Watcher {
    reports: Mailbox,
    sender: Outbox,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The app's own state: reports merged and diffed exactly as the console does.
    pub app: AppState,
}

impl Watcher {
    pub fn new() -> Self {
        let (sender, reports) = mailbox::mailbox();
        Watcher {
            reports,
            sender,
            shutdown: CancellationToken::new(),
            tasks: Vec::new(),
            app: AppState::new(header(), Vec::new(), time::OffsetDateTime::now_utc()),
        }
    }

    pub fn start(&mut self, spec: SourceSpec) -> String {
        let id = format!("{}#{}", spec.kind_name(), self.tasks.len());
        let ctx = SourceContext {
            id: id.clone(),
            interval: INTERVAL,
            timeout: Duration::from_secs(1),
            reports: self.sender.clone(),
            shutdown: self.shutdown.clone(),
            targets: None,
        };
        self.tasks.push(spec.spawn(ctx));
        id
    }

    /// The latest report of a source.
    pub fn report(&self, source: &str) -> Option<&SourceReport> {
        self.app.reports.iter().find(|r| r.source == source)
    }

    /// Reads reports until `done` holds for the merged topology, or panics
    /// after `within` showing what was seen last.
    pub async fn until(&mut self, what: &str, within: Duration, done: impl Fn(&Watcher) -> bool) {
        let deadline = Instant::now() + within;
        while !done(self) {
            let next = tokio::time::timeout_at(deadline, self.reports.recv()).await;
            match next {
                Ok(Some(report)) => self.apply(report),
                Ok(None) => panic!("every source stopped while waiting for {what}"),
                Err(_) => panic!(
                    "timed out after {within:?} waiting for {what}\ntopology: {:#?}\nevents: {:#?}",
                    self.app.topology,
                    self.app
                        .timeline
                        .events()
                        .map(Event::summary)
                        .collect::<Vec<_>>()
                ),
            }
        }
    }

    fn apply(&mut self, report: SourceReport) {
        self.app
            .apply_report(report, time::OffsetDateTime::now_utc());
    }

    pub fn cluster(&self, id: &str) -> Option<&Cluster> {
        self.app.topology.cluster(id)
    }

    pub fn events(&self, kind: EventKind) -> Vec<&Event> {
        self.app
            .timeline
            .events()
            .filter(|e| e.kind == kind)
            .collect()
    }

    /// Cancels the sources and checks they stop promptly.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            let stopped = tokio::time::timeout(Duration::from_secs(2), task).await;
            assert!(
                stopped.is_ok(),
                "a source did not stop within 2 s of shutdown"
            );
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Runs `clusterdeck ARGS` to completion and returns (exit code, stdout,
/// stderr). The machine offers it nothing by default — no Docker Engine, no
/// kubeconfig, no `REDIS_URL`, a state directory of its own — so only the
/// sources named on the command line start; `env` adds or overrides.
pub async fn run_clusterdeck(
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
) -> (i32, String, String) {
    let state = tempfile::tempdir().unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_clusterdeck"));
    command
        .args(args)
        .env("CLUSTERDECK_STATE_DIR", state.path())
        .env(
            "DOCKER_HOST",
            format!("unix://{}/no-docker.sock", state.path().display()),
        )
        .env("KUBECONFIG", state.path().join("no-kubeconfig"))
        .env_remove("REDIS_URL")
        // A caller that gives up waiting (a timeout) leaves no process behind.
        .kill_on_drop(true);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().await.expect("run clusterdeck");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
