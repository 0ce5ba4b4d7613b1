//! Scaling a StatefulSet through its `scale` subresource, as `kubectl
//! scale` does: only `spec.replicas` changes, the StatefulSet controller
//! does the rest (new ordinals on the way up, highest ordinals first on the
//! way down). The subresource, not a patch of the StatefulSet, because RBAC
//! can grant `statefulsets/scale` alone, and an autoscaler uses the same.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v1::Scale;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::{KubeActionError, KubeActions, ObjectRef, compact};

/// A scale that the API server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleChange {
    pub namespace: String,
    pub statefulset: String,
    /// `spec.replicas` as the console last saw it through its watch (none
    /// when it had not seen the StatefulSet).
    pub previous: Option<i32>,
    /// `spec.replicas` as the server stored it.
    pub replicas: i32,
}

impl ScaleChange {
    /// One line for the outcome and the timeline.
    pub fn summary(&self) -> String {
        let from = self
            .previous
            .map(|p| format!(" from {p}"))
            .unwrap_or_default();
        format!(
            "StatefulSet {}/{} scaled{from} to {} replicas",
            self.namespace, self.statefulset, self.replicas
        )
    }
}

/// `/apis/apps/v1/namespaces/<ns>/statefulsets/<name>/scale`.
pub fn scale_path(namespace: &str, statefulset: &str) -> String {
    format!("/apis/apps/v1/namespaces/{namespace}/statefulsets/{statefulset}/scale")
}

/// The merge patch that sets the replicas.
pub fn scale_body(replicas: i32) -> Value {
    json!({"spec": {"replicas": replicas}})
}

/// The confirm dialog's text.
pub fn describe_scale(namespace: &str, statefulset: &str, replicas: i32) -> String {
    format!(
        "Scale StatefulSet {namespace}/{statefulset} to {replicas} replicas: PATCH {} {}",
        scale_path(namespace, statefulset),
        compact(&scale_body(replicas))
    )
}

/// `spec.replicas` of a Scale. The API omits zero (`omitempty`), so a
/// missing value is 0, not an error.
fn replicas_of(scale: &Scale) -> i32 {
    scale.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0)
}

impl KubeActions {
    /// Sets a StatefulSet's replicas with one PATCH of the scale
    /// subresource, the one right `kubectl scale` needs (no GET first: a
    /// user allowed only `patch` on `statefulsets/scale` can scale), and
    /// answers the count as the server stored it; `previous` is the count
    /// the console's watch last saw. Negative counts are the server's to
    /// refuse (422).
    pub async fn scale_statefulset(
        &self,
        namespace: &str,
        statefulset: &str,
        replicas: i32,
        previous: Option<i32>,
    ) -> Result<ScaleChange, KubeActionError> {
        let object = ObjectRef::namespaced("StatefulSet", namespace, statefulset);
        let api: Api<StatefulSet> = Api::namespaced(self.client.clone(), namespace);
        let failed = |e| KubeActionError::from_kube(object.clone(), e);
        self.bounded(object.clone(), async {
            let patch = Patch::Merge(scale_body(replicas));
            let after = api
                .patch_scale(statefulset, &PatchParams::default(), &patch)
                .await
                .map_err(failed)?;
            Ok(ScaleChange {
                namespace: namespace.to_string(),
                statefulset: statefulset.to_string(),
                previous,
                replicas: replicas_of(&after),
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
            describe_scale("ns", "copy", 5),
            r#"Scale StatefulSet ns/copy to 5 replicas: PATCH /apis/apps/v1/namespaces/ns/statefulsets/copy/scale {"spec":{"replicas":5}}"#
        );
    }

    #[test]
    fn a_scale_without_replicas_is_zero() {
        let scale: Scale = serde_json::from_value(json!({"metadata": {}, "spec": {}})).unwrap();
        assert_eq!(replicas_of(&scale), 0);
    }
}
