//! Cordoning a node: `spec.unschedulable` set, so no new pod is placed
//! there (running pods stay; draining is another matter). Uncordoning
//! removes the field, as `kubectl uncordon` leaves a node.

use k8s_openapi::api::core::v1::Node;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::{KubeActionError, KubeActions, ObjectRef, compact};

/// A cordon or uncordon that the API server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CordonChange {
    pub node: String,
    /// `spec.unschedulable` before the patch; what undoing it restores.
    pub was_unschedulable: bool,
    /// `spec.unschedulable` as the server stored it.
    pub unschedulable: bool,
}

impl CordonChange {
    /// False when the node already was as asked: then there is nothing to undo.
    pub fn changed(&self) -> bool {
        self.was_unschedulable != self.unschedulable
    }

    pub fn summary(&self) -> String {
        let state = |cordoned| if cordoned { "cordoned" } else { "schedulable" };
        if self.changed() {
            format!(
                "Node {} is {} (was {})",
                self.node,
                state(self.unschedulable),
                state(self.was_unschedulable)
            )
        } else {
            format!(
                "Node {} was already {}",
                self.node,
                state(self.unschedulable)
            )
        }
    }
}

/// `/api/v1/nodes/<node>`.
pub fn node_path(node: &str) -> String {
    format!("/api/v1/nodes/{node}")
}

/// The merge patch: `true` to cordon, the field removed (null) to uncordon.
pub fn cordon_body(unschedulable: bool) -> Value {
    let value = if unschedulable {
        json!(true)
    } else {
        Value::Null
    };
    json!({"spec": {"unschedulable": value}})
}

/// The confirm dialog's text.
pub fn describe_cordon(node: &str, unschedulable: bool) -> String {
    let what = if unschedulable {
        format!("Cordon node {node} (no new pods are scheduled there; running pods stay)")
    } else {
        format!("Uncordon node {node} (pods may be scheduled there again)")
    };
    format!(
        "{what}: PATCH {} {}",
        node_path(node),
        compact(&cordon_body(unschedulable))
    )
}

fn unschedulable(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false)
}

impl KubeActions {
    /// Sets `spec.unschedulable` and answers what it was before (read with a
    /// GET just before the PATCH).
    pub async fn set_node_unschedulable(
        &self,
        node: &str,
        cordoned: bool,
    ) -> Result<CordonChange, KubeActionError> {
        let object = ObjectRef::cluster_scoped("Node", node);
        let api: Api<Node> = Api::all(self.client.clone());
        let failed = |e| KubeActionError::from_kube(object.clone(), e);
        self.bounded(object.clone(), async {
            let before = api.get(node).await.map_err(failed)?;
            let patch = Patch::Merge(cordon_body(cordoned));
            let after = api
                .patch(node, &PatchParams::default(), &patch)
                .await
                .map_err(failed)?;
            Ok(CordonChange {
                node: node.to_string(),
                was_unschedulable: unschedulable(&before),
                unschedulable: unschedulable(&after),
            })
        })
        .await
    }

    pub async fn cordon(&self, node: &str) -> Result<CordonChange, KubeActionError> {
        self.set_node_unschedulable(node, true).await
    }

    pub async fn uncordon(&self, node: &str) -> Result<CordonChange, KubeActionError> {
        self.set_node_unschedulable(node, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dialog_shows_the_exact_call() {
        assert_eq!(
            describe_cordon("node-1", true),
            r#"Cordon node node-1 (no new pods are scheduled there; running pods stay): PATCH /api/v1/nodes/node-1 {"spec":{"unschedulable":true}}"#
        );
        assert_eq!(
            describe_cordon("node-1", false),
            r#"Uncordon node node-1 (pods may be scheduled there again): PATCH /api/v1/nodes/node-1 {"spec":{"unschedulable":null}}"#
        );
    }

    #[test]
    fn a_change_knows_whether_there_is_anything_to_undo() {
        let change = CordonChange {
            node: "node-1".into(),
            was_unschedulable: true,
            unschedulable: true,
        };
        assert!(!change.changed());
        assert_eq!(change.summary(), "Node node-1 was already cordoned");
    }
}
