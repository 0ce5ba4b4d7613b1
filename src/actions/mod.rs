//! Actions: what the console does to a cluster, as data. A key builds an
//! [`Action`]; the UI shows [`Action::describe`] and asks y/N; only a confirmed
//! action reaches an executor, which runs it in its own task and answers with
//! an [`ActionOutcome`]. A read-only console refuses every action here too,
//! not only at the keymap.

pub mod audit;
pub mod executor;
pub mod kube;
pub mod lab;

pub use audit::AuditLog;
pub use executor::Executor;
pub use lab::LabHandle;

use serde::Serialize;

/// One mutating request, complete enough to describe and to execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Kill one process of the local lab (SIGKILL), as a crash would.
    LabKill { member: String, address: String },
    /// Start a killed lab process again with its original configuration.
    LabRestart { member: String, address: String },
}

impl Action {
    /// Short name for logs and the timeline.
    pub fn name(&self) -> &'static str {
        match self {
            Action::LabKill { .. } => "lab-kill",
            Action::LabRestart { .. } => "lab-restart",
        }
    }

    /// The exact target and what will be called, for the confirm dialog.
    pub fn describe(&self) -> String {
        match self {
            Action::LabKill { member, address } => {
                format!(
                    "Kill the lab process at {} with SIGKILL, as a crash would",
                    named(member, address)
                )
            }
            Action::LabRestart { member, address } => {
                format!(
                    "Start the lab process at {} again with its original config",
                    named(member, address)
                )
            }
        }
    }

    /// The member the action is about.
    pub fn member(&self) -> &str {
        match self {
            Action::LabKill { member, .. } | Action::LabRestart { member, .. } => member,
        }
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

/// How an action ended; goes to the timeline and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionOutcome {
    pub action: Action,
    pub ok: bool,
    /// What happened, already redacted.
    pub message: String,
}
