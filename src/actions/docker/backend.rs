//! Docker Engine and Swarm behind [`ActionPlatform`]: which engine each
//! action and undo reaches, and which call serves it. The calls themselves
//! live in the sibling modules.

use std::time::Duration;

use bollard::Docker;
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{DockerError, DockerHost};
use crate::actions::ledger::{FaultRecord, Undo};
use crate::actions::platform::{ActionError, ActionPlatform, Injected, PreparedFault};
use crate::actions::{Action, Instance, Isolation, NodeRef, RemoveMethod, Workload};

/// The session's engine (`--docker`), and the bound on each call.
#[derive(Debug, Clone)]
pub struct DockerBackend {
    host: Option<DockerHost>,
    timeout: Duration,
}

impl DockerBackend {
    pub fn new(host: Option<DockerHost>, timeout: Duration) -> DockerBackend {
        DockerBackend { host, timeout }
    }

    async fn connect(&self) -> Result<Docker, ActionError> {
        let host = self.host.as_ref().ok_or_else(|| {
            ActionError::Unavailable(
                "no Docker Engine in this session (start with --docker)".into(),
            )
        })?;
        Ok(host.connect(self.timeout).await?)
    }

    /// The engine a fault was injected on: this session's, else the default
    /// one (`clusterdeck heal` and a console without `--docker` still heal).
    async fn connect_for_undo(&self) -> Result<Docker, DockerError> {
        let host = self
            .host
            .clone()
            .unwrap_or_else(|| DockerHost::resolve(None));
        host.connect(self.timeout).await
    }

    async fn run(&self, action: &Action) -> Result<String, ActionError> {
        let docker = self.connect().await?;
        let timeout = self.timeout;
        let done = match action {
            Action::Scale {
                workload: Workload::SwarmService { id, name },
                replicas,
                ..
            } => super::scale::scale(&docker, id, name, *replicas, timeout).await,
            Action::Uncordon {
                node: NodeRef::SwarmNode { id, hostname },
                ..
            } => super::cordon::set_availability(&docker, id, hostname, "active", timeout).await,
            Action::RemoveInstance {
                instance: Instance::DockerContainer { id, name },
                method: RemoveMethod::Terminate { grace_secs },
                ..
            } => {
                let grace = Duration::from_secs(*grace_secs);
                super::remove::terminate(&docker, id, name, grace, timeout).await
            }
            Action::RemoveInstance {
                instance: Instance::DockerContainer { id, name },
                method:
                    RemoveMethod::Exec {
                        command,
                        timeout_secs,
                    },
                ..
            } => {
                let limit = Duration::from_secs(*timeout_secs);
                super::remove::exec(&docker, id, name, command, limit, timeout).await
            }
            other => return Err(not_mine(other)),
        };
        Ok(done?)
    }

    async fn prepare(&self, action: &Action) -> Result<PreparedFault, ActionError> {
        match action {
            Action::Disconnect {
                isolation:
                    Isolation::DockerNetwork {
                        container_id,
                        container,
                        network,
                    },
                ..
            } => {
                self.prepare_disconnect(container_id, container, network)
                    .await
            }
            Action::Cordon {
                node: NodeRef::SwarmNode { id, hostname },
                mode,
                ..
            } => self.prepare_cordon(id, hostname, mode.as_str()).await,
            other => Err(not_mine(other)),
        }
    }

    /// Saves the endpoint settings the reconnect will ask for again.
    async fn prepare_disconnect(
        &self,
        container_id: &str,
        container: &str,
        network: &str,
    ) -> Result<PreparedFault, ActionError> {
        let docker = self.connect().await?;
        let timeout = self.timeout;
        let endpoint =
            super::disconnect::save_endpoint(&docker, container_id, container, network, timeout)
                .await?;
        let (id, name, net) = (
            container_id.to_string(),
            container.to_string(),
            network.to_string(),
        );
        Ok(PreparedFault {
            target: container.to_string(),
            summary: format!("disconnected from {network}"),
            undo: Undo::DockerReconnect {
                container_id: id.clone(),
                container: name.clone(),
                network: net.clone(),
                endpoint,
            },
            inject: Box::new(move |_record: &FaultRecord| {
                async move {
                    let message =
                        super::disconnect::disconnect(&docker, &id, &name, &net, timeout).await?;
                    Ok(Injected::Done(message))
                }
                .boxed()
            }),
        })
    }

    /// Reads the node's availability now, to put it back when healing.
    async fn prepare_cordon(
        &self,
        id: &str,
        hostname: &str,
        mode: &'static str,
    ) -> Result<PreparedFault, ActionError> {
        let docker = self.connect().await?;
        let timeout = self.timeout;
        let before = super::cordon::availability(&docker, id, timeout).await?;
        let (id, hostname) = (id.to_string(), hostname.to_string());
        Ok(PreparedFault {
            target: hostname.clone(),
            summary: format!("node {hostname} set to {mode}"),
            undo: Undo::SwarmNodeAvailability {
                node_id: id.clone(),
                hostname: hostname.clone(),
                availability: before,
            },
            inject: Box::new(move |_record: &FaultRecord| {
                async move {
                    let message =
                        super::cordon::set_availability(&docker, &id, &hostname, mode, timeout)
                            .await?;
                    Ok(Injected::Done(message))
                }
                .boxed()
            }),
        })
    }

    async fn heal(&self, undo: &Undo) -> Result<String, ActionError> {
        let timeout = self.timeout;
        let healed = match undo {
            Undo::DockerReconnect {
                container_id,
                container,
                network,
                endpoint,
            } => {
                let docker = self.connect_for_undo().await?;
                super::disconnect::reconnect(
                    &docker,
                    container_id,
                    container,
                    network,
                    endpoint,
                    timeout,
                )
                .await
            }
            Undo::SwarmNodeAvailability {
                node_id,
                hostname,
                availability,
            } => {
                let docker = self.connect_for_undo().await?;
                super::cordon::set_availability(&docker, node_id, hostname, availability, timeout)
                    .await
            }
            other => {
                return Err(ActionError::Internal(format!(
                    "Docker cannot undo {}",
                    other.summary()
                )));
            }
        };
        Ok(healed?)
    }
}

fn not_mine(action: &Action) -> ActionError {
    ActionError::Internal(format!("{} is not a Docker action", action.name()))
}

impl ActionPlatform for DockerBackend {
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
