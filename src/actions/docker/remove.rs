//! Removing an instance gently. SIGTERM first, never SIGKILL first: a
//! remove-instance handler (AllegroGraph's `agtool repl remove`) runs on
//! SIGTERM and cannot run on SIGKILL. Only when the grace period is over is
//! the container stopped outright. Or, when the cluster's config names one, a
//! command runs inside the instance, and its output and exit code are shown.

use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptions, StopContainerOptions,
};
use futures::{Stream, StreamExt};
use tokio::time::Instant;

use super::{DockerError, timed};

/// How often a stopping container is looked at.
const POLL: Duration = Duration::from_millis(200);
/// At most this much of a command's output goes into the message.
const OUTPUT_LIMIT: usize = 600;

/// SIGTERM, then wait up to `grace` for the container to exit.
pub async fn terminate(
    docker: &Docker,
    id: &str,
    name: &str,
    grace: Duration,
    timeout: Duration,
) -> Result<String, DockerError> {
    let signal = KillContainerOptions {
        signal: "SIGTERM".into(),
    };
    timed(
        timeout,
        &format!("send SIGTERM to {name}"),
        docker.kill_container(id, Some(signal)),
    )
    .await?;
    let started = Instant::now();
    let deadline = started + grace;
    while Instant::now() < deadline {
        match state(docker, id, timeout).await? {
            None => {
                return Ok(format!(
                    "container {name} exited on SIGTERM after {} ms and was removed",
                    started.elapsed().as_millis()
                ));
            }
            Some((false, code)) => {
                return Ok(format!(
                    "container {name} exited on SIGTERM after {} ms (exit code {code})",
                    started.elapsed().as_millis()
                ));
            }
            Some((true, _)) => tokio::time::sleep(POLL).await,
        }
    }
    let stop = StopContainerOptions {
        t: Some(0),
        ..Default::default()
    };
    match timed(
        timeout,
        &format!("stop {name}"),
        docker.stop_container(id, Some(stop)),
    )
    .await
    {
        Ok(()) => Ok(format!(
            "container {name} did not exit within {} of SIGTERM; stopped it",
            humantime::format_duration(grace)
        )),
        Err(e) if e.is_not_found() => Ok(format!("container {name} exited and was removed")),
        Err(e) => Err(e),
    }
}

/// Running or not and the exit code; `None` once the container is gone.
async fn state(
    docker: &Docker,
    id: &str,
    timeout: Duration,
) -> Result<Option<(bool, i64)>, DockerError> {
    match timed(
        timeout,
        "inspect container",
        docker.inspect_container(id, None::<InspectContainerOptions>),
    )
    .await
    {
        Ok(c) => {
            let s = c.state.unwrap_or_default();
            Ok(Some((s.running == Some(true), s.exit_code.unwrap_or(-1))))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Runs `command` inside the container and reports its exit code and output;
/// a non-zero exit is a failure.
pub async fn exec(
    docker: &Docker,
    id: &str,
    name: &str,
    command: &[String],
    limit: Duration,
    timeout: Duration,
) -> Result<String, DockerError> {
    let options = CreateExecOptions {
        cmd: Some(command.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let created = timed(
        timeout,
        &format!("create exec in {name}"),
        docker.create_exec(id, options),
    )
    .await?;
    let started = timed(
        timeout,
        &format!("start exec in {name}"),
        docker.start_exec(&created.id, None),
    )
    .await?;
    let output = match started {
        StartExecResults::Attached { output, .. } => {
            collect_output(output, command, name, limit).await?
        }
        StartExecResults::Detached => String::new(),
    };
    let inspected = timed(timeout, "inspect exec", docker.inspect_exec(&created.id)).await?;
    let code = inspected.exit_code.unwrap_or(-1);
    let shown = tail(output.trim(), OUTPUT_LIMIT);
    let message = format!("{command:?} in {name} exited with code {code}; output: {shown}");
    if code == 0 {
        Ok(message)
    } else {
        Err(DockerError::Refused(message))
    }
}

/// The command's output until it ends, at most `limit` long.
async fn collect_output(
    mut stream: impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
    command: &[String],
    name: &str,
    limit: Duration,
) -> Result<String, DockerError> {
    let mut output = String::new();
    let collect = async {
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(log) => output.push_str(&String::from_utf8_lossy(&log.into_bytes())),
                Err(e) => {
                    return Err(DockerError::Refused(format!(
                        "reading the output of {command:?} in {name}: {e}"
                    )));
                }
            }
        }
        Ok(())
    };
    match tokio::time::timeout(limit, collect).await {
        Ok(result) => result?,
        Err(_) => {
            return Err(DockerError::Refused(format!(
                "{command:?} in {name} did not finish within {}",
                humantime::format_duration(limit)
            )));
        }
    }
    Ok(output)
}

/// The last `limit` characters, on a character boundary.
fn tail(text: &str, limit: usize) -> String {
    let count = text.chars().count();
    if count <= limit {
        return if text.is_empty() {
            "(none)".into()
        } else {
            text.to_string()
        };
    }
    let skipped: String = text.chars().skip(count - limit).collect();
    format!("...{skipped}")
}
