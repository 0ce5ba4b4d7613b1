//! The Kubernetes platform calls behind the console's actions, one file per
//! operation, each with a pure `describe_*` that gives the confirm dialog
//! the exact target and API call:
//!
//! - [`scale`]: a StatefulSet's replicas through the `scale` subresource.
//! - [`cordon`]: a node's `spec.unschedulable`.
//! - [`isolate`]: cut a pod off the network with a deny-all NetworkPolicy
//!   labelled as the console's; heal by deleting it; find them all.
//! - [`remove`]: delete a pod with a grace period; wait until it is gone or
//!   replaced; or run a configured command in it (`exec`).
//!
//! [`KubeBackend`] is the executor's view: which call serves an action or an
//! undo, and which cluster it reaches; [`describe`] gives the confirm
//! dialog's text for each action.
//!
//! Everything goes through [`KubeActions`], which holds a client and the
//! bound on each operation. Errors are [`KubeActionError`]s naming the
//! object, the HTTP status and the server's message. The fault ledger,
//! planning and confirmation live elsewhere: this module only talks to the
//! API server, so it is tested against the emulator in `tests/k8s_emulator`.

pub mod backend;
pub mod cordon;
pub mod describe;
mod error;
pub mod isolate;
pub mod plan;
pub mod remove;
pub mod scale;

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kube::Client;

use crate::sources::kube::client::connect;
use crate::sources::kube::{KubeTarget, Namespaces};

pub use backend::{KubeBackend, sweep_console_policies};
pub use cordon::CordonChange;
pub use error::{KubeActionError, ObjectRef};
pub use isolate::{ConsolePolicy, Healed, IsolatedPod, IsolationRequest, PodSelection};
pub use remove::{ExecOutput, PodDeletion, PodFate};
pub use scale::ScaleChange;

/// The Kubernetes target actions reach: the source's, shared so that `:ctx`
/// and `:ns` move the actions with the source. Cheap to clone; the lock is
/// held only to copy or replace the target, never across a call.
#[derive(Debug, Clone)]
pub struct KubePlatform {
    target: Arc<RwLock<KubeTarget>>,
}

impl KubePlatform {
    pub fn new(target: KubeTarget) -> KubePlatform {
        KubePlatform {
            target: Arc::new(RwLock::new(target)),
        }
    }

    /// The target as it is now.
    pub fn current(&self) -> KubeTarget {
        self.target
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Follows the source to another context or namespace.
    pub fn set(&self, target: KubeTarget) {
        *self
            .target
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = target;
    }
}

/// A connected client and where it points: the context it resolved to (the
/// kubeconfig's current one when none was named), for the fault ledger.
pub struct KubeConnection {
    pub actions: KubeActions,
    pub context: String,
    pub kubeconfig: Option<PathBuf>,
}

/// Connects to `target`; the error is what the user reads.
pub async fn connect_actions(
    target: &KubeTarget,
    timeout: Duration,
) -> Result<KubeConnection, String> {
    let connected = connect(target, timeout)
        .await
        .map_err(|e| format!("cannot reach Kubernetes ({}): {e}", target.label()))?;
    Ok(KubeConnection {
        actions: KubeActions::new(connected.client, timeout),
        context: connected.context,
        kubeconfig: target.kubeconfig.clone().or_else(kubeconfig_from_env),
    })
}

/// `KUBECONFIG` when it names one file, so a record made under it is
/// healed on the same cluster by a process with another environment.
fn kubeconfig_from_env() -> Option<PathBuf> {
    let value = std::env::var_os("KUBECONFIG")?;
    let mut paths = std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty());
    match (paths.next(), paths.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// The target a ledger record names: its kubeconfig and context.
pub fn target_for_undo(context: Option<&str>, kubeconfig: Option<&PathBuf>) -> KubeTarget {
    KubeTarget {
        kubeconfig: kubeconfig.cloned(),
        context: context.map(str::to_string),
        namespaces: Namespaces::FromContext,
    }
}

/// A client to act with and how long one operation may take.
#[derive(Clone)]
pub struct KubeActions {
    client: Client,
    timeout: Duration,
}

impl KubeActions {
    /// `timeout` bounds each operation as a whole (a read and a write count
    /// as one), so the caller's budget is what it asked for.
    pub fn new(client: Client, timeout: Duration) -> KubeActions {
        KubeActions { client, timeout }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Runs one operation about `object` within the action's timeout.
    async fn bounded<T>(
        &self,
        object: ObjectRef,
        operation: impl Future<Output = Result<T, KubeActionError>>,
    ) -> Result<T, KubeActionError> {
        bounded(object, self.timeout, operation).await
    }
}

async fn bounded<T>(
    object: ObjectRef,
    timeout: Duration,
    operation: impl Future<Output = Result<T, KubeActionError>>,
) -> Result<T, KubeActionError> {
    match tokio::time::timeout(timeout, operation).await {
        Ok(result) => result,
        Err(_) => Err(KubeActionError::Timeout { object, timeout }),
    }
}

/// A JSON body as the describe texts and the requests both write it, so
/// what the dialog shows is byte for byte what is sent.
fn compact(body: &serde_json::Value) -> String {
    body.to_string()
}
