//! The seam between the executor's protocol and each platform's calls.
//!
//! The executor knows the protocol (audit, ledger record before the fault,
//! outcome); a platform knows its API. Each platform module implements
//! [`ActionPlatform`] once ([`DockerBackend`](super::docker::DockerBackend)
//! for Docker and Swarm, [`KubeBackend`](super::kube::KubeBackend),
//! [`LabBackend`](super::lab::LabBackend) for the local lab's processes) and
//! its own `describe` for the confirm dialog. [`Backends`] picks the one an
//! action or an undo belongs to by its [`Platform`]; tests put a fake there.
//!
//! Calls to an application (a switchover) are not a platform's: they go to
//! the one application backend [`Backends::with_application`] registers,
//! whatever platform runs the application.
//!
//! A new platform: a module with a describe function and an
//! `ActionPlatform`, an entry in [`Backends::new`], and the variants of
//! [`Action`]/[`Undo`] its targets need. A new action: its [`Action`]
//! variant, its planner, and an arm in each platform's describe/perform.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::docker::DockerError;
use super::kube::KubeActionError;
use super::ledger::{FaultRecord, Undo};
use super::{Action, NodeRef};
use crate::model::Platform;

/// Why an action failed, typed by where it failed; its text is what the
/// user reads (the executor turns it into the outcome's message, once).
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Kube(#[from] KubeActionError),
    /// The platform is not reachable in this session, or refused before any
    /// call (no `--docker`, no lab, a Kubernetes target that does not connect).
    #[error("{0}")]
    Unavailable(String),
    /// The lab's owner said no.
    #[error("{0}")]
    Lab(String),
    /// The application (Patroni, etcd, Redis, Sentinel) refused the call or
    /// could not be reached; the text says which and why.
    #[error("{0}")]
    App(String),
    /// The fault ledger could not be read or written.
    #[error("{0}")]
    Ledger(String),
    /// Several faults failed to heal; the text lists each.
    #[error("{0}")]
    Heal(String),
    /// An action reached a platform that does not serve it: a bug.
    #[error("internal: {0}")]
    Internal(String),
}

/// A fault about to be injected: what its ledger record says, and the
/// injection itself, to run once the record is written. The injection keeps
/// the connection the undo was read with, so both reach the same cluster.
pub struct PreparedFault {
    /// The platform object it is held on (container, node, pod).
    pub target: String,
    /// What is done, e.g. `disconnected from net-a`.
    pub summary: String,
    pub undo: Undo,
    pub inject: Injection,
}

/// The injection of a prepared fault; it gets the record as written (its id
/// labels what the platform creates).
pub type Injection = Box<dyn FnOnce(&FaultRecord) -> BoxFuture<'static, InjectResult> + Send>;

pub type InjectResult = Result<Injected, ActionError>;

/// What an injection did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injected {
    /// The fault is in place; the text says what was done.
    Done(String),
    /// It was in place before the console acted (a node cordoned already):
    /// the record is taken back so healing does not undo someone else's
    /// change; the text says so.
    AlreadyThere(String),
}

/// One platform's calls behind the actions. Futures are boxed so that the
/// executor can hold any platform (and a fake in tests) behind one pointer.
pub trait ActionPlatform: Send + Sync {
    /// Runs an action that injects no fault (scale, uncordon, remove, a lab
    /// kill); answers what was done.
    fn perform<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, ActionError>>;

    /// Reads what undoing the fault `action` injects will need, before
    /// anything changes.
    fn prepare_fault<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<PreparedFault, ActionError>>;

    /// Undoes one fault from its record.
    fn undo<'a>(&'a self, undo: &'a Undo) -> BoxFuture<'a, Result<String, ActionError>>;
}

/// The platform implementation for each kind of target.
#[derive(Clone, Default)]
pub struct Backends {
    by_platform: HashMap<Platform, Arc<dyn ActionPlatform>>,
    /// The calls that go to the application itself.
    application: Option<Arc<dyn ActionPlatform>>,
}

impl Backends {
    /// Serves `platform` with `backend` (replacing any there).
    pub fn with(mut self, platform: Platform, backend: Arc<dyn ActionPlatform>) -> Backends {
        self.by_platform.insert(platform, backend);
        self
    }

    /// Serves the calls to applications (a switchover) with `backend`.
    pub fn with_application(mut self, backend: Arc<dyn ActionPlatform>) -> Backends {
        self.application = Some(backend);
        self
    }

    /// The backend that carries `action` out: the application's for a
    /// call to the application, else its platform's.
    pub fn for_action(&self, action: &Action) -> Result<&dyn ActionPlatform, ActionError> {
        if !action.calls_application() {
            return self.get(action.platform());
        }
        self.application
            .as_deref()
            .ok_or_else(|| ActionError::Internal("no backend serves application calls".into()))
    }

    /// The backend for `platform`, or why there is none.
    pub fn get(&self, platform: Option<Platform>) -> Result<&dyn ActionPlatform, ActionError> {
        platform
            .and_then(|p| self.by_platform.get(&p))
            .map(|b| b.as_ref())
            .ok_or_else(|| ActionError::Internal(format!("no platform serves {platform:?}")))
    }
}

impl std::fmt::Debug for Backends {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut platforms: Vec<&str> = self.by_platform.keys().map(|p| p.as_str()).collect();
        platforms.sort_unstable();
        f.debug_struct("Backends")
            .field("platforms", &platforms)
            .field("application", &self.application.is_some())
            .finish()
    }
}

impl Action {
    /// True for a call the application itself takes (a switchover).
    pub fn calls_application(&self) -> bool {
        matches!(self, Action::Switchover { .. })
    }

    /// The platform that carries the action out; `None` for healing, which
    /// goes by each record's [`Undo::platform`], and for calls to the
    /// application, which no platform makes.
    pub fn platform(&self) -> Option<Platform> {
        use super::{Instance, Isolation, Workload};
        Some(match self {
            Action::LabKill { .. } | Action::LabRestart { .. } => Platform::Process,
            Action::Scale {
                workload: Workload::SwarmService { .. },
                ..
            } => Platform::Swarm,
            Action::Cordon { node, .. } | Action::Uncordon { node, .. } => node.platform(),
            Action::Disconnect {
                isolation: Isolation::DockerNetwork { .. },
                ..
            }
            | Action::RemoveInstance {
                instance: Instance::DockerContainer { .. },
                ..
            } => Platform::Docker,
            Action::Scale {
                workload: Workload::StatefulSet { .. },
                ..
            }
            | Action::Disconnect {
                isolation: Isolation::KubePod { .. },
                ..
            }
            | Action::RemoveInstance {
                instance: Instance::KubePod { .. },
                ..
            } => Platform::Kubernetes,
            Action::Heal { .. } | Action::Switchover { .. } => return None,
        })
    }
}

impl NodeRef {
    pub fn platform(&self) -> Platform {
        match self {
            NodeRef::SwarmNode { .. } => Platform::Swarm,
            NodeRef::KubeNode { .. } => Platform::Kubernetes,
        }
    }
}

impl Undo {
    /// The platform the fault is held on.
    pub fn platform(&self) -> Platform {
        match self {
            Undo::DockerReconnect { .. } => Platform::Docker,
            Undo::SwarmNodeAvailability { .. } => Platform::Swarm,
            Undo::KubeDeleteNetworkPolicy { .. } | Undo::KubeUncordon { .. } => {
                Platform::Kubernetes
            }
        }
    }

    /// True for a cordon fault on `node`: uncordoning it heals the fault.
    pub fn is_cordon_of(&self, node: &NodeRef) -> bool {
        match (self, node) {
            (Undo::SwarmNodeAvailability { node_id, .. }, NodeRef::SwarmNode { id, .. }) => {
                node_id == id
            }
            (Undo::KubeUncordon { node, .. }, NodeRef::KubeNode { name }) => node == name,
            _ => false,
        }
    }
}
