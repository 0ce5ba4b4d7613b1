//! Carries out confirmed actions in their own tasks and reports outcomes to
//! the app loop. The executor is the second gate of read-only mode: it
//! refuses every action there, whatever asked for it.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::audit::AuditLog;
use super::lab::{LabCommand, LabHandle};
use super::{Action, ActionOutcome};

/// Runs actions; one per console.
pub struct Executor {
    read_only: bool,
    audit: Arc<AuditLog>,
    lab: Option<LabHandle>,
    outcomes: mpsc::Sender<ActionOutcome>,
}

impl Executor {
    pub fn new(
        read_only: bool,
        audit: AuditLog,
        lab: Option<LabHandle>,
        outcomes: mpsc::Sender<ActionOutcome>,
    ) -> Executor {
        Executor {
            read_only,
            audit: Arc::new(audit),
            lab,
            outcomes,
        }
    }

    /// Starts the action; its outcome arrives on the outcomes channel.
    pub fn execute(&self, action: Action) {
        let audit = Arc::clone(&self.audit);
        let outcomes = self.outcomes.clone();
        if self.read_only {
            let message = "refused: the console is read-only".to_string();
            log_audit(&audit, "refused", &action, Some(&message));
            tokio::spawn(async move {
                let _ = outcomes
                    .send(ActionOutcome {
                        action,
                        ok: false,
                        message,
                    })
                    .await;
            });
            return;
        }
        let lab = self.lab.clone();
        tokio::spawn(async move {
            log_audit(&audit, "requested", &action, None);
            tracing::info!(
                action = action.name(),
                target = action.member(),
                "action requested"
            );
            let result = run(&action, lab.as_ref()).await;
            let (ok, message) = match result {
                Ok(m) => (true, m),
                Err(m) => (false, m),
            };
            log_audit(
                &audit,
                if ok { "succeeded" } else { "failed" },
                &action,
                Some(&message),
            );
            tracing::info!(action = action.name(), ok, %message, "action finished");
            let _ = outcomes
                .send(ActionOutcome {
                    action,
                    ok,
                    message,
                })
                .await;
        });
    }
}

async fn run(action: &Action, lab: Option<&LabHandle>) -> Result<String, String> {
    match action {
        Action::LabKill { address, .. } => {
            let lab = lab.ok_or_else(not_a_lab)?;
            lab.request(LabCommand::Kill(address.clone())).await
        }
        Action::LabRestart { address, .. } => {
            let lab = lab.ok_or_else(not_a_lab)?;
            lab.request(LabCommand::Restart(address.clone())).await
        }
    }
}

fn not_a_lab() -> String {
    "this console is not running a lab (start it with `clusterdeck lab`)".to_string()
}

fn log_audit(audit: &AuditLog, phase: &str, action: &Action, message: Option<&str>) {
    if let Err(e) = audit.record(phase, action, message) {
        tracing::warn!(path = %audit.path().display(), error = %e, "cannot write the audit log");
    }
}
