//! Looking closer at one member, read-only: `d` describes it ([`describe`]:
//! its container, task or pod as YAML) and `l` follows its logs
//! ([`logs`]). Each runs in its own task and reports [`Feed`]s to the app
//! loop over a channel; the loop aborts the task when the view closes, so
//! a followed log stops with it. Nothing here waits on the UI.
//!
//! - [`subject`]: what a member offers to describe and to read logs from;
//! - [`lines`]: log bytes into bounded lines.

pub mod describe;
pub mod lines;
pub mod logs;
pub mod subject;

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use describe::{DESCRIBE_LIMIT, Described};
pub use logs::{LogOptions, Since};
pub use subject::{LogTarget, Subject, log_target};

use super::docker::DockerHost;
use super::kube::KubeTarget;

/// What a view's task sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// A describe's whole text.
    Described(Described),
    /// Log lines, in order.
    Lines(Vec<String>),
    /// The log stream ended; the text says why.
    Ended(String),
    /// It failed; the text says what and where.
    Failed(String),
}

/// A feed event for the view `view` (a closed view's late events are
/// dropped by its number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    pub view: u64,
    pub event: FeedEvent,
}

/// The platforms a view may read from in this session.
#[derive(Debug, Clone)]
pub struct Reach {
    pub docker: Option<DockerHost>,
    /// The Kubernetes target as it is now (following `:ctx` / `:ns`).
    pub kube: Option<KubeTarget>,
    /// Bound on connecting and on each request (not on a followed log).
    pub timeout: Duration,
}

impl Reach {
    async fn docker(&self) -> Result<bollard::Docker, String> {
        let host = self
            .docker
            .as_ref()
            .ok_or("no Docker in this session (start with --docker)")?;
        Ok(host.connect(self.timeout).await?)
    }

    async fn kube(&self) -> Result<kube::Client, String> {
        self.kube_with(Some(self.timeout * 4)).await
    }

    /// A client whose reads never time out, for a followed log.
    async fn kube_streaming(&self) -> Result<kube::Client, String> {
        self.kube_with(None).await
    }

    async fn kube_with(&self, read_timeout: Option<Duration>) -> Result<kube::Client, String> {
        let target = self
            .kube
            .as_ref()
            .ok_or("no Kubernetes in this session (start with --kube)")?;
        super::kube::client::connect_with(target, self.timeout, read_timeout)
            .await
            .map(|c| c.client)
            .map_err(|e| format!("cannot reach Kubernetes ({}): {e}", target.label()))
    }
}

/// A kube error as people read it: the server's status, else the transport's.
fn kube_error(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            format!("HTTP {} {}: {}", status.code, status.reason, status.message)
        }
        other => other.to_string(),
    }
}

/// Starts describing `subject` for view `view`.
pub fn spawn_describe(
    view: u64,
    subject: Subject,
    reach: Reach,
    feeds: mpsc::Sender<Feed>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let event = match describe::describe(&subject, &reach).await {
            Ok(described) => FeedEvent::Described(described),
            Err(e) => FeedEvent::Failed(e),
        };
        let _ = feeds.send(Feed { view, event }).await;
    })
}

/// Starts following `target`'s logs for view `view`; the task runs until
/// the log ends or it is aborted.
pub fn spawn_logs(
    view: u64,
    target: LogTarget,
    options: LogOptions,
    reach: Reach,
    feeds: mpsc::Sender<Feed>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Batches go through a small channel of their own, tagged on the way.
        let (tx, mut rx) = mpsc::channel::<FeedEvent>(8);
        let tag = {
            let feeds = feeds.clone();
            async move {
                while let Some(event) = rx.recv().await {
                    if feeds.send(Feed { view, event }).await.is_err() {
                        break;
                    }
                }
            }
        };
        let run = async move {
            let end = match logs::stream(&target, options, &reach, &tx).await {
                Ok(why) => FeedEvent::Ended(why),
                Err(e) => FeedEvent::Failed(e),
            };
            let _ = tx.send(end).await;
        };
        tokio::join!(run, tag);
    })
}
