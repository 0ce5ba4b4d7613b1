//! `l`: a container's or a pod's logs, followed. Docker through the
//! engine's logs endpoint (stdout and stderr), Kubernetes through the pod
//! `log` subresource (`follow`, `tailLines`, `previous`, `sinceSeconds`).
//! Lines go to the view in batches over a bounded channel: a chatty
//! container slows the reader down instead of growing a queue.

use bollard::query_parameters::LogsOptions;
use futures::{AsyncReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use tokio::sync::mpsc;

use super::lines::LineSplitter;
use super::{FeedEvent, LogTarget, Reach};

/// Lines of history asked for when the view opens.
pub const DEFAULT_TAIL: u32 = 500;

/// How far back the logs start, cycled by a key in the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Since {
    /// The last [`LogOptions::tail`] lines, however old.
    #[default]
    All,
    Seconds(u64),
}

impl Since {
    /// The next step of the cycle: all, 1m, 5m, 1h, all.
    pub fn next(self) -> Since {
        match self {
            Since::All => Since::Seconds(60),
            Since::Seconds(60) => Since::Seconds(300),
            Since::Seconds(300) => Since::Seconds(3600),
            Since::Seconds(_) => Since::All,
        }
    }

    /// `10m`, `90s`, `2h` (humantime), or `all`.
    pub fn parse(text: &str) -> Result<Since, String> {
        if text == "all" {
            return Ok(Since::All);
        }
        humantime::parse_duration(text)
            .map(|d| Since::Seconds(d.as_secs().max(1)))
            .map_err(|e| format!("since {text}: {e} (e.g. 30s, 10m, 1h, all)"))
    }

    pub fn label(self) -> String {
        match self {
            Since::All => "all".into(),
            Since::Seconds(s) => {
                humantime::format_duration(std::time::Duration::from_secs(s)).to_string()
            }
        }
    }
}

/// What a log stream asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    pub tail: u32,
    pub since: Since,
    /// The previous container's logs (a pod's restarted container).
    pub previous: bool,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            tail: DEFAULT_TAIL,
            since: Since::All,
            previous: false,
        }
    }
}

/// Streams `target`'s logs to `sink` until they end, the view goes (the
/// channel closes), or the task is aborted; the text says how it ended.
pub async fn stream(
    target: &LogTarget,
    options: LogOptions,
    reach: &Reach,
    sink: &mpsc::Sender<FeedEvent>,
) -> Result<String, String> {
    match target {
        LogTarget::Container { id, .. } => docker_logs(reach, id, options, sink).await,
        LogTarget::Pod { namespace, pod } => pod_logs(reach, namespace, pod, options, sink).await,
    }
}

/// Sends the lines `bytes` finished; false when the view is gone.
async fn forward(split: &mut LineSplitter, bytes: &[u8], sink: &mpsc::Sender<FeedEvent>) -> bool {
    let mut lines = Vec::new();
    split.push(bytes, &mut lines);
    lines.is_empty() || sink.send(FeedEvent::Lines(lines)).await.is_ok()
}

async fn docker_logs(
    reach: &Reach,
    id: &str,
    options: LogOptions,
    sink: &mpsc::Sender<FeedEvent>,
) -> Result<String, String> {
    let docker = reach.docker().await?;
    let since = match options.since {
        Since::All => 0,
        Since::Seconds(s) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            i32::try_from(now - s as i64).unwrap_or(0)
        }
    };
    let query = LogsOptions {
        follow: true,
        stdout: true,
        stderr: true,
        since,
        tail: options.tail.to_string(),
        ..LogsOptions::default()
    };
    let mut logs = docker.logs(id, Some(query));
    let mut split = LineSplitter::default();
    while let Some(chunk) = logs.next().await {
        let chunk = chunk.map_err(|e| {
            format!(
                "logs of container {id}: {}",
                crate::sources::docker::client::describe(&e)
            )
        })?;
        if !forward(&mut split, &chunk.into_bytes(), sink).await {
            return Ok("closed".into());
        }
    }
    finish(split, sink).await;
    Ok("the container's log ended (it stopped)".into())
}

async fn finish(mut split: LineSplitter, sink: &mpsc::Sender<FeedEvent>) {
    let mut lines = Vec::new();
    split.finish(&mut lines);
    if !lines.is_empty() {
        let _ = sink.send(FeedEvent::Lines(lines)).await;
    }
}

async fn pod_logs(
    reach: &Reach,
    namespace: &str,
    pod: &str,
    options: LogOptions,
    sink: &mpsc::Sender<FeedEvent>,
) -> Result<String, String> {
    let client = reach.kube_streaming().await?;
    let params = LogParams {
        follow: true,
        tail_lines: Some(i64::from(options.tail)),
        previous: options.previous,
        since_seconds: match options.since {
            Since::All => None,
            Since::Seconds(s) => i64::try_from(s).ok(),
        },
        ..LogParams::default()
    };
    let what = format!("logs of pod {namespace}/{pod}");
    let api: Api<Pod> = Api::namespaced(client, namespace);
    let opened = tokio::time::timeout(reach.timeout, api.log_stream(pod, &params)).await;
    let mut reader = opened
        .map_err(|_| format!("{what}: no answer within {:?}", reach.timeout))?
        .map_err(|e| format!("{what}: {}", super::kube_error(&e)))?;
    let mut split = LineSplitter::default();
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let n = reader
            .read(&mut buffer)
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        if n == 0 {
            break;
        }
        if !forward(&mut split, &buffer[..n], sink).await {
            return Ok("closed".into());
        }
    }
    finish(split, sink).await;
    Ok("the pod's log ended (its container stopped)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_cycles_and_parses() {
        let mut since = Since::All;
        let mut seen = Vec::new();
        for _ in 0..4 {
            since = since.next();
            seen.push(since.label());
        }
        assert_eq!(seen, ["1m", "5m", "1h", "all"]);
        assert_eq!(Since::parse("10m"), Ok(Since::Seconds(600)));
        assert!(Since::parse("soon").unwrap_err().contains("since soon"));
    }
}
