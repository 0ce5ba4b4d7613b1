//! Requests to the task that owns the local lab's processes. The lab has one
//! owner (the `lab` command); actions reach it through this handle and wait
//! for its answer, as a client of a connection-owning task would.

use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::{mpsc, oneshot};

use super::Action;
use super::ledger::Undo;
use super::platform::{ActionError, ActionPlatform, PreparedFault};

/// What the lab is asked to do, by member address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabCommand {
    Kill(String),
    Restart(String),
}

/// One request and where to send the answer (what was done, or why not).
#[derive(Debug)]
pub struct LabRequest {
    pub command: LabCommand,
    pub reply: oneshot::Sender<Result<String, String>>,
}

/// A cheap, cloneable way to reach the lab's owner.
#[derive(Debug, Clone)]
pub struct LabHandle {
    requests: mpsc::Sender<LabRequest>,
}

impl LabHandle {
    /// A handle and the receiving end its owner serves.
    pub fn channel() -> (LabHandle, mpsc::Receiver<LabRequest>) {
        let (requests, rx) = mpsc::channel(8);
        (LabHandle { requests }, rx)
    }

    pub async fn request(&self, command: LabCommand) -> Result<String, String> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(LabRequest { command, reply })
            .await
            .map_err(|_| "the lab is not running any more".to_string())?;
        answer
            .await
            .map_err(|_| "the lab stopped before answering".to_string())?
    }
}

/// The local lab behind [`ActionPlatform`]: kill and restart its processes.
/// Lab actions inject no fault, so there is nothing to prepare or undo.
#[derive(Debug, Clone, Default)]
pub struct LabBackend {
    lab: Option<LabHandle>,
}

impl LabBackend {
    pub fn new(lab: Option<LabHandle>) -> LabBackend {
        LabBackend { lab }
    }

    async fn run(&self, action: &Action) -> Result<String, ActionError> {
        let lab = self.lab.as_ref().ok_or_else(|| {
            ActionError::Unavailable(
                "this console is not running a lab (start it with `clusterdeck lab`)".into(),
            )
        })?;
        let command = match action {
            Action::LabKill { address, .. } => LabCommand::Kill(address.clone()),
            Action::LabRestart { address, .. } => LabCommand::Restart(address.clone()),
            other => return Err(not_mine(other.name())),
        };
        lab.request(command).await.map_err(ActionError::Lab)
    }
}

fn not_mine(what: &str) -> ActionError {
    ActionError::Internal(format!("{what} is not a lab action"))
}

impl ActionPlatform for LabBackend {
    fn perform<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, ActionError>> {
        self.run(action).boxed()
    }

    fn prepare_fault<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<PreparedFault, ActionError>> {
        let error = not_mine(action.name());
        async move { Err(error) }.boxed()
    }

    fn undo<'a>(&'a self, undo: &'a Undo) -> BoxFuture<'a, Result<String, ActionError>> {
        let error = ActionError::Internal(format!("the lab cannot undo {}", undo.summary()));
        async move { Err(error) }.boxed()
    }
}

/// The text for a lab action, for the confirm dialog; `None` for others.
pub fn describe(action: &Action) -> Option<String> {
    match action {
        Action::LabKill { member, address } => Some(format!(
            "Kill the lab process at {} with SIGKILL, as a crash would",
            named(member, address)
        )),
        Action::LabRestart { member, address } => Some(format!(
            "Start the lab process at {} again with its original config",
            named(member, address)
        )),
        _ => None,
    }
}

/// `address`, or `name (address)` when the member has a name of its own.
fn named(member: &str, address: &str) -> String {
    if member == address {
        address.to_string()
    } else {
        format!("{member} ({address})")
    }
}
