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
//! Everything goes through [`KubeActions`], which holds a client and the
//! bound on each operation. Errors are [`KubeActionError`]s naming the
//! object, the HTTP status and the server's message. The fault ledger,
//! planning and confirmation live elsewhere: this module only talks to the
//! API server, so it is tested against the emulator in `tests/k8s_emulator`.

pub mod cordon;
mod error;
pub mod isolate;
pub mod remove;
pub mod scale;

use std::future::Future;
use std::time::Duration;

use kube::Client;

pub use cordon::CordonChange;
pub use error::{KubeActionError, ObjectRef};
pub use isolate::{ConsolePolicy, Healed, Isolation, IsolationRequest, PodSelection};
pub use remove::{ExecOutput, PodDeletion, PodFate};
pub use scale::ScaleChange;

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
