//! Removing an instance: delete its pod with a grace period (the kubelet
//! sends SIGTERM, then SIGKILL when the period ends), as `kubectl delete
//! pod --grace-period`. The call returns once the API server accepted the
//! deletion; a StatefulSet's controller then creates the pod again under the
//! same name with a new uid, which [`KubeActions::wait_pod_replaced`] waits
//! for.
//!
//! The alternative is a configured command run in the pod through the
//! `exec` subresource (a WebSocket speaking `v4.channel.k8s.io`), e.g. a
//! database's own remove-instance script: [`KubeActions::exec_in_pod`].

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{AttachParams, DeleteParams};
use kube::runtime::wait::await_condition;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{KubeActionError, KubeActions, ObjectRef, bounded, compact};

/// A deletion the API server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDeletion {
    pub namespace: String,
    pub pod: String,
    /// The deleted pod's uid, to tell it from its replacement.
    pub uid: Option<String>,
    pub grace_period_seconds: u32,
}

impl PodDeletion {
    pub fn summary(&self) -> String {
        format!(
            "Pod {}/{} deleted with a {}s grace period",
            self.namespace, self.pod, self.grace_period_seconds
        )
    }
}

/// What became of a deleted pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodFate {
    /// No pod of that name exists.
    Gone,
    /// A pod of that name exists again, with this new uid.
    Replaced { uid: String },
}

/// What a command run in a pod printed; it exited 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    /// At most [`OUTPUT_LIMIT`] bytes of each, decoded lossily.
    pub stdout: String,
    pub stderr: String,
}

/// How much of a command's stdout and stderr is kept (each); the rest is
/// read and dropped, so a chatty script cannot stall or bloat the console.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// `/api/v1/namespaces/<ns>/pods/<pod>`.
pub fn pod_path(namespace: &str, pod: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{pod}")
}

/// The delete request's body, as kube sends `DeleteParams`.
pub fn delete_body(grace_period_seconds: u32) -> Value {
    json!({"gracePeriodSeconds": grace_period_seconds})
}

/// The confirm dialog's text.
pub fn describe_remove(namespace: &str, pod: &str, grace_period_seconds: u32) -> String {
    format!(
        "Delete pod {namespace}/{pod} with a {grace_period_seconds}s grace period (SIGTERM now, SIGKILL after {grace_period_seconds}s; its StatefulSet creates it again): DELETE {} {}",
        pod_path(namespace, pod),
        compact(&delete_body(grace_period_seconds))
    )
}

/// The exec request's path and query, as kube builds it.
pub fn exec_path(
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("stdout", "true");
    query.append_pair("stderr", "true");
    if let Some(container) = container {
        query.append_pair("container", container);
    }
    for part in command {
        query.append_pair("command", part);
    }
    format!("{}/exec?{}", pod_path(namespace, pod), query.finish())
}

/// The confirm dialog's text for running a configured command.
pub fn describe_exec(
    namespace: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
) -> String {
    let inside = match container {
        Some(c) => format!("pod {namespace}/{pod} (container {c})"),
        None => format!("pod {namespace}/{pod}"),
    };
    format!(
        "Run `{}` in {inside}: GET {} (WebSocket upgrade, v4.channel.k8s.io)",
        shell_words(command),
        exec_path(namespace, pod, container, command)
    )
}

/// The command as a shell would read it: words with spaces or quotes quoted.
fn shell_words(command: &[String]) -> String {
    command
        .iter()
        .map(|word| {
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
            if plain {
                word.clone()
            } else {
                format!("'{}'", word.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads `reader` to its end, keeping the first [`OUTPUT_LIMIT`] bytes.
async fn read_capped(reader: Option<impl AsyncRead + Unpin>) -> String {
    let Some(mut reader) = reader else {
        return String::new();
    };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = reader.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        let room = OUTPUT_LIMIT.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// The exit code a `v4.channel.k8s.io` status reports: Success is 0,
/// `NonZeroExitCode` carries it in a cause; any other failure is the
/// server's (no container, no such program) and is an error.
fn exit_code(object: &ObjectRef, status: Option<Status>) -> Result<i32, KubeActionError> {
    let Some(status) = status else {
        return Err(KubeActionError::Transport {
            object: object.clone(),
            message: "the exec stream ended without an exit status".into(),
        });
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let code = status
        .details
        .as_ref()
        .filter(|_| status.reason.as_deref() == Some("NonZeroExitCode"))
        .and_then(|d| d.causes.as_ref())
        .and_then(|causes| {
            causes
                .iter()
                .find(|c| c.reason.as_deref() == Some("ExitCode"))
        })
        .and_then(|c| c.message.as_deref())
        .and_then(|m| m.parse().ok());
    code.ok_or_else(|| KubeActionError::Api {
        object: object.clone(),
        code: status
            .code
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(500),
        reason: status.reason.clone().unwrap_or_default(),
        message: status.message.clone().unwrap_or_default(),
    })
}

impl KubeActions {
    /// Deletes a pod with the grace period asked; returns once the server
    /// accepted it (the pod may still be terminating).
    pub async fn delete_pod(
        &self,
        namespace: &str,
        pod: &str,
        grace_period_seconds: u32,
    ) -> Result<PodDeletion, KubeActionError> {
        let object = ObjectRef::namespaced("Pod", namespace, pod);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = DeleteParams {
            grace_period_seconds: Some(grace_period_seconds),
            ..DeleteParams::default()
        };
        self.bounded(object.clone(), async {
            let answer = api
                .delete(pod, &params)
                .await
                .map_err(|e| KubeActionError::from_kube(object.clone(), e))?;
            // A terminating pod comes back as the object; one deleted at
            // once may come back as a Status naming its uid.
            let uid = answer.either(
                |deleted| deleted.uid(),
                |status| status.details.map(|d| d.uid).filter(|u| !u.is_empty()),
            );
            Ok(PodDeletion {
                namespace: namespace.to_string(),
                pod: pod.to_string(),
                uid,
                grace_period_seconds,
            })
        })
        .await
    }

    /// Waits until the pod `uid` is no longer there: gone, or replaced by
    /// a pod of the same name (whichever is seen first), watching the pod
    /// by name. Bounded by `within`, not by the action's timeout, since a
    /// grace period may be long.
    pub async fn wait_pod_gone(
        &self,
        namespace: &str,
        pod: &str,
        uid: &str,
        within: Duration,
    ) -> Result<PodFate, KubeActionError> {
        let found = self
            .await_pod(namespace, pod, within, |p| {
                p.is_none_or(|p| p.uid().as_deref() != Some(uid))
            })
            .await?;
        Ok(match found.and_then(|p| p.uid()) {
            Some(uid) => PodFate::Replaced { uid },
            None => PodFate::Gone,
        })
    }

    /// Waits until a pod of this name exists with another uid than `uid`
    /// (a controller made it again), and answers the new uid.
    pub async fn wait_pod_replaced(
        &self,
        namespace: &str,
        pod: &str,
        uid: &str,
        within: Duration,
    ) -> Result<String, KubeActionError> {
        let object = ObjectRef::namespaced("Pod", namespace, pod);
        let found = self
            .await_pod(namespace, pod, within, |p| {
                p.and_then(ResourceExt::uid).is_some_and(|u| u != uid)
            })
            .await?;
        found
            .and_then(|p| p.uid())
            .ok_or(KubeActionError::Malformed {
                object,
                field: "metadata.uid",
            })
    }

    /// Runs `command` in the pod (in `container`, else the pod's default)
    /// and waits for it to exit, bounded by `within` (a remove script may
    /// take longer than one API call). A non-zero exit is
    /// [`KubeActionError::CommandFailed`] with the end of its stderr.
    pub async fn exec_in_pod(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[String],
        within: Duration,
    ) -> Result<ExecOutput, KubeActionError> {
        let object = ObjectRef::namespaced("Pod", namespace, pod);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let mut params = AttachParams::default()
            .stdout(true)
            .stderr(true)
            .stdin(false);
        if let Some(container) = container {
            params = params.container(container);
        }
        bounded(object.clone(), within, async {
            let mut process = api
                .exec(pod, command.to_vec(), &params)
                .await
                .map_err(|e| KubeActionError::from_kube(object.clone(), e))?;
            let status = process.take_status();
            let (stdout, stderr) =
                tokio::join!(read_capped(process.stdout()), read_capped(process.stderr()));
            let status = match status {
                Some(status) => status.await,
                None => None,
            };
            // The exit status is what counts; a close without a handshake is not worth failing for.
            let _ = process.join().await;
            match exit_code(&object, status)? {
                0 => Ok(ExecOutput { stdout, stderr }),
                exit_code => Err(KubeActionError::CommandFailed {
                    object: object.clone(),
                    exit_code,
                    stderr: tail(&stderr),
                }),
            }
        })
        .await
    }

    /// The pod as it is once `done` holds for it (None: no such pod).
    async fn await_pod(
        &self,
        namespace: &str,
        pod: &str,
        within: Duration,
        done: impl Fn(Option<&Pod>) -> bool,
    ) -> Result<Option<Pod>, KubeActionError> {
        let object = ObjectRef::namespaced("Pod", namespace, pod);
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        // The watch asks for this name only; checking the name again keeps
        // a server that ignores field selectors from answering for another pod.
        let condition = move |p: Option<&Pod>| done(p.filter(|p| p.name_any() == pod));
        bounded(object.clone(), within, async {
            await_condition(api, pod, condition)
                .await
                .map_err(|e| KubeActionError::Transport {
                    object: object.clone(),
                    message: e.to_string(),
                })
        })
        .await
    }
}

/// The last line or so of a command's stderr, for an error message.
fn tail(stderr: &str) -> String {
    const KEEP: usize = 400;
    let trimmed = stderr.trim_end();
    match trimmed.char_indices().rev().nth(KEEP) {
        Some((start, _)) => format!("...{}", &trimmed[start..]),
        None => trimmed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exec_dialog_shows_the_command_and_the_call() {
        let command = [
            "/opt/db/remove-instance".to_string(),
            "--reason".into(),
            "a demo".into(),
        ];
        assert_eq!(
            describe_exec("ns", "copy-1", Some("main"), &command),
            "Run `/opt/db/remove-instance --reason 'a demo'` in pod ns/copy-1 (container main): GET /api/v1/namespaces/ns/pods/copy-1/exec?stdout=true&stderr=true&container=main&command=%2Fopt%2Fdb%2Fremove-instance&command=--reason&command=a+demo (WebSocket upgrade, v4.channel.k8s.io)"
        );
    }

    #[test]
    fn exit_codes_come_from_the_status_channel() {
        let object = ObjectRef::namespaced("Pod", "ns", "copy-1");
        let status = |v: serde_json::Value| Some(serde_json::from_value::<Status>(v).unwrap());
        assert_eq!(
            exit_code(&object, status(json!({"status": "Success"}))),
            Ok(0)
        );
        let failed = json!({"status": "Failure", "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}});
        assert_eq!(exit_code(&object, status(failed)), Ok(3));
        let missing = json!({"status": "Failure", "reason": "InternalError", "code": 500,
            "message": "executable file not found"});
        let e = exit_code(&object, status(missing)).unwrap_err();
        assert_eq!(e.http_status(), Some(500));
        assert!(exit_code(&object, None).is_err());
    }

    #[test]
    fn the_dialog_shows_the_exact_call() {
        assert_eq!(
            describe_remove("ns", "copy-1", 30),
            r#"Delete pod ns/copy-1 with a 30s grace period (SIGTERM now, SIGKILL after 30s; its StatefulSet creates it again): DELETE /api/v1/namespaces/ns/pods/copy-1 {"gracePeriodSeconds":30}"#
        );
    }

    #[test]
    fn the_body_is_what_kube_sends() {
        let params = DeleteParams {
            grace_period_seconds: Some(30),
            ..DeleteParams::default()
        };
        assert_eq!(serde_json::to_value(&params).unwrap(), delete_body(30));
    }
}
