//! Kubernetes behind [`ActionPlatform`]: actions reach the source's current
//! target (following `:ctx` / `:ns`); undos reach the cluster their record
//! names, whatever the session points at now.

use std::path::PathBuf;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{
    Healed, IsolationRequest, KubeConnection, KubePlatform, connect_actions, target_for_undo,
};
use crate::actions::ledger::{FaultRecord, Undo};
use crate::actions::platform::{ActionError, ActionPlatform, Injected, PreparedFault};
use crate::actions::{
    Action, Instance, Isolation, NodeRef, RemoveMethod, Workload, grace_u32, replica_count,
};

/// The session's Kubernetes target, if any, and the bound on each call.
#[derive(Debug, Clone)]
pub struct KubeBackend {
    platform: Option<KubePlatform>,
    timeout: Duration,
}

impl KubeBackend {
    pub fn new(platform: Option<KubePlatform>, timeout: Duration) -> KubeBackend {
        KubeBackend { platform, timeout }
    }

    /// A client for the session's target as it is now.
    async fn connect(&self) -> Result<KubeConnection, ActionError> {
        let platform = self.platform.as_ref().ok_or_else(|| {
            ActionError::Unavailable("no Kubernetes in this session (start with --kube)".into())
        })?;
        connect_actions(&platform.current(), self.timeout)
            .await
            .map_err(ActionError::Unavailable)
    }

    /// The cluster a fault was injected on, as its record names it.
    async fn connect_for_undo(
        &self,
        context: Option<&str>,
        kubeconfig: Option<&PathBuf>,
    ) -> Result<KubeConnection, ActionError> {
        let mut target = target_for_undo(context, kubeconfig);
        // A record without a kubeconfig was made with the default one; the
        // session's may name it explicitly.
        if target.kubeconfig.is_none() {
            target.kubeconfig = self.platform.as_ref().and_then(|k| k.current().kubeconfig);
        }
        connect_actions(&target, self.timeout)
            .await
            .map_err(ActionError::Unavailable)
    }

    async fn run(&self, action: &Action) -> Result<String, ActionError> {
        let kube = self.connect().await?;
        match action {
            Action::Scale {
                workload: Workload::StatefulSet { namespace, name },
                replicas,
                current,
                ..
            } => {
                let previous = current.map(replica_count);
                let change = kube
                    .actions
                    .scale_statefulset(namespace, name, replica_count(*replicas), previous)
                    .await?;
                Ok(change.summary())
            }
            Action::Uncordon {
                node: NodeRef::KubeNode { name },
                ..
            } => Ok(kube.actions.uncordon(name).await?.summary()),
            Action::RemoveInstance {
                instance: Instance::KubePod { namespace, name },
                method,
                ..
            } => remove(&kube, namespace, name, method).await,
            other => Err(not_mine(other)),
        }
    }

    async fn prepare(&self, action: &Action) -> Result<PreparedFault, ActionError> {
        let kube = self.connect().await?;
        match action {
            Action::Disconnect {
                isolation: Isolation::KubePod { namespace, pod },
                ..
            } => Ok(prepare_isolation(kube, namespace, pod)),
            Action::Cordon {
                node: NodeRef::KubeNode { name },
                ..
            } => Ok(prepare_cordon(kube, name)),
            other => Err(not_mine(other)),
        }
    }

    async fn heal(&self, undo: &Undo) -> Result<String, ActionError> {
        match undo {
            Undo::KubeDeleteNetworkPolicy {
                context,
                kubeconfig,
                namespace,
                policy,
            } => {
                let kube = self
                    .connect_for_undo(context.as_deref(), kubeconfig.as_ref())
                    .await?;
                Ok(
                    match kube.actions.heal_isolation(namespace, policy).await? {
                        Healed::Removed => format!("NetworkPolicy {namespace}/{policy} deleted"),
                        Healed::AlreadyGone => {
                            format!("NetworkPolicy {namespace}/{policy} was gone already")
                        }
                    },
                )
            }
            Undo::KubeUncordon {
                context,
                kubeconfig,
                node,
            } => {
                let kube = self
                    .connect_for_undo(context.as_deref(), kubeconfig.as_ref())
                    .await?;
                Ok(kube.actions.uncordon(node).await?.summary())
            }
            other => Err(ActionError::Internal(format!(
                "Kubernetes cannot undo {}",
                other.summary()
            ))),
        }
    }
}

/// Isolates a pod: the record (with the context reached) goes to the ledger
/// first, and its id labels the policy.
fn prepare_isolation(kube: KubeConnection, namespace: &str, pod: &str) -> PreparedFault {
    let undo = Undo::KubeDeleteNetworkPolicy {
        context: Some(kube.context.clone()),
        kubeconfig: kube.kubeconfig.clone(),
        namespace: namespace.to_string(),
        policy: super::isolate::isolation_policy_name(pod),
    };
    let (namespace, pod_name) = (namespace.to_string(), pod.to_string());
    PreparedFault {
        target: pod.to_string(),
        summary: "isolated by a deny-all NetworkPolicy".into(),
        undo,
        inject: Box::new(move |record: &FaultRecord| {
            let request = IsolationRequest {
                namespace,
                pod: pod_name,
                fault_id: record.id.clone(),
                expires_at: record.expires_at,
            };
            async move {
                let isolated = kube.actions.isolate_pod(&request).await?;
                Ok(Injected::Done(isolated.summary()))
            }
            .boxed()
        }),
    }
}

/// Cordons a node as a fault; a node that was cordoned already is left as
/// it was, and says so, so that healing does not uncordon it.
fn prepare_cordon(kube: KubeConnection, node: &str) -> PreparedFault {
    let undo = Undo::KubeUncordon {
        context: Some(kube.context.clone()),
        kubeconfig: kube.kubeconfig.clone(),
        node: node.to_string(),
    };
    let name = node.to_string();
    PreparedFault {
        target: node.to_string(),
        summary: format!("node {node} cordoned"),
        undo,
        inject: Box::new(move |_record: &FaultRecord| {
            async move {
                let change = kube.actions.cordon(&name).await?;
                Ok(if change.was_unschedulable {
                    Injected::AlreadyThere(format!(
                        "node {name} was cordoned already: nothing to heal"
                    ))
                } else {
                    Injected::Done(change.summary())
                })
            }
            .boxed()
        }),
    }
}

async fn remove(
    kube: &KubeConnection,
    namespace: &str,
    pod: &str,
    method: &RemoveMethod,
) -> Result<String, ActionError> {
    match method {
        RemoveMethod::Terminate { grace_secs } => Ok(kube
            .actions
            .delete_pod(namespace, pod, grace_u32(*grace_secs))
            .await?
            .summary()),
        RemoveMethod::Exec {
            command,
            timeout_secs,
        } => {
            let limit = Duration::from_secs(*timeout_secs);
            let output = kube
                .actions
                .exec_in_pod(namespace, pod, None, command, limit)
                .await?;
            Ok(format!(
                "`{}` in pod {namespace}/{pod} exited 0: {}",
                command.join(" "),
                output_text(&output.stdout, &output.stderr)
            ))
        }
    }
}

/// A command's output in one line for the outcome.
fn output_text(stdout: &str, stderr: &str) -> String {
    let text = [stdout.trim(), stderr.trim()]
        .into_iter()
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if text.is_empty() {
        "(no output)".into()
    } else {
        text.lines().collect::<Vec<_>>().join(" / ")
    }
}

fn not_mine(action: &Action) -> ActionError {
    ActionError::Internal(format!("{} is not a Kubernetes action", action.name()))
}

/// Deletes every console-labelled NetworkPolicy on `target`, whether or not
/// the ledger remembers it (`clusterdeck heal`); answers one line per policy.
pub async fn sweep_console_policies(
    target: &crate::sources::kube::KubeTarget,
    timeout: Duration,
) -> Result<Vec<String>, ActionError> {
    let kube = connect_actions(target, timeout)
        .await
        .map_err(ActionError::Unavailable)?;
    let found = kube.actions.find_console_policies(None).await?;
    let mut lines = Vec::new();
    for policy in found {
        kube.actions
            .heal_isolation(&policy.namespace, &policy.name)
            .await?;
        lines.push(format!(
            "deleted NetworkPolicy {}/{} (fault {})",
            policy.namespace,
            policy.name,
            policy.fault_id.as_deref().unwrap_or("?")
        ));
    }
    Ok(lines)
}

impl ActionPlatform for KubeBackend {
    fn perform<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, ActionError>> {
        self.run(action).boxed()
    }

    fn prepare_fault<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<PreparedFault, ActionError>> {
        self.prepare(action).boxed()
    }

    fn undo<'a>(&'a self, undo: &'a Undo) -> BoxFuture<'a, Result<String, ActionError>> {
        self.heal(undo).boxed()
    }
}
