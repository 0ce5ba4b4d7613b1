//! Removing an instance: delete its pod with a grace period (the kubelet
//! sends SIGTERM, then SIGKILL when the period ends), as `kubectl delete
//! pod --grace-period`. The call returns once the API server accepted the
//! deletion; a StatefulSet's controller then creates the pod again under the
//! same name with a new uid, which [`KubeActions::wait_pod_replaced`] waits
//! for.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::DeleteParams;
use kube::runtime::wait::await_condition;
use kube::{Api, ResourceExt};
use serde_json::{Value, json};

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

#[cfg(test)]
mod tests {
    use super::*;

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
