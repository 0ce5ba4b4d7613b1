//! Carries out confirmed actions in their own tasks and reports outcomes to
//! the app loop. The executor is the second gate of read-only mode: it
//! refuses every action there, whatever asked for it.
//!
//! Faults go through [`inject`]: the ledger record (with its undo) is written
//! first, then the fault is injected, and the record is taken back if the
//! injection failed. Healing goes through [`heal`], which applies each
//! record's [`Undo`] and forgets the records that were undone. Both are the
//! same for every platform; only the calls differ.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc;

use super::audit::AuditLog;
use super::docker::{self, DockerHost};
use super::lab::{LabCommand, LabHandle};
use super::ledger::{FaultLedger, FaultRecord, Undo, new_fault_id};
use super::{Action, ActionOutcome, Instance, Isolation, NodeRef, RemoveMethod, Workload};

/// The platforms actions can reach in this session.
#[derive(Debug, Clone, Default)]
pub struct Platforms {
    pub docker: Option<DockerHost>,
}

/// Everything an action's task needs.
#[derive(Debug, Clone)]
pub struct ExecContext {
    pub platforms: Platforms,
    pub ledger: FaultLedger,
    /// The console run faults are recorded under.
    pub run: String,
    /// Bound on each platform call.
    pub timeout: Duration,
    pub lab: Option<LabHandle>,
}

/// Runs actions; one per console.
pub struct Executor {
    read_only: bool,
    audit: Arc<AuditLog>,
    ctx: ExecContext,
    outcomes: mpsc::Sender<ActionOutcome>,
}

impl Executor {
    pub fn new(
        read_only: bool,
        audit: AuditLog,
        ctx: ExecContext,
        outcomes: mpsc::Sender<ActionOutcome>,
    ) -> Executor {
        Executor {
            read_only,
            audit: Arc::new(audit),
            ctx,
            outcomes,
        }
    }

    /// Starts the action; its outcome arrives on the outcomes channel.
    pub fn execute(&self, action: Action) {
        let audit = Arc::clone(&self.audit);
        let outcomes = self.outcomes.clone();
        if self.read_only {
            let outcome = refuse(&audit, action);
            tokio::spawn(async move {
                let _ = outcomes.send(outcome).await;
            });
            return;
        }
        let ctx = self.ctx.clone();
        tokio::spawn(async move {
            let outcome = perform(&audit, &ctx, action).await;
            let _ = outcomes.send(outcome).await;
        });
    }

    /// Runs the action here and now (for quitting and `clusterdeck heal`).
    pub async fn execute_now(&self, action: Action) -> ActionOutcome {
        if self.read_only {
            return refuse(&self.audit, action);
        }
        perform(&self.audit, &self.ctx, action).await
    }
}

fn refuse(audit: &AuditLog, action: Action) -> ActionOutcome {
    let message = "refused: the console is read-only";
    log_audit(audit, "refused", &action, Some(message));
    ActionOutcome::new(action, false, message)
}

/// Runs one action with audit entries before and after.
pub async fn perform(audit: &AuditLog, ctx: &ExecContext, action: Action) -> ActionOutcome {
    log_audit(audit, "requested", &action, None);
    tracing::info!(
        action = action.name(),
        target = action.member(),
        "action requested"
    );
    let result = run(&action, ctx).await;
    let (ok, message) = match result {
        Ok(m) => (true, m),
        Err(m) => (false, m),
    };
    let phase = match (ok, action.injects_fault(), action.heals()) {
        (true, true, _) => "fault_injected",
        (true, _, true) => "fault_healed",
        (true, _, _) => "succeeded",
        (false, _, _) => "failed",
    };
    log_audit(audit, phase, &action, Some(&message));
    tracing::info!(action = action.name(), ok, %message, "action finished");
    let touches_ledger =
        action.injects_fault() || action.heals() || matches!(action, Action::Uncordon { .. });
    let faults = if touches_ledger {
        ctx.ledger.records().ok()
    } else {
        None
    };
    ActionOutcome {
        action,
        ok,
        message,
        faults,
    }
}

async fn run(action: &Action, ctx: &ExecContext) -> Result<String, String> {
    match action {
        Action::LabKill { address, .. } => {
            lab(ctx)?.request(LabCommand::Kill(address.clone())).await
        }
        Action::LabRestart { address, .. } => {
            lab(ctx)?
                .request(LabCommand::Restart(address.clone()))
                .await
        }
        Action::Scale {
            workload: Workload::SwarmService { id, name },
            replicas,
            ..
        } => docker::scale::scale(&connect(ctx).await?, id, name, *replicas, ctx.timeout).await,
        Action::Cordon { .. } => cordon(action, ctx).await,
        Action::Uncordon {
            node: NodeRef::SwarmNode { id, hostname },
            ..
        } => uncordon(ctx, id, hostname).await,
        Action::Disconnect { .. } => disconnect(action, ctx).await,
        Action::Heal { faults, .. } => heal(ctx, faults).await,
        Action::RemoveInstance {
            instance: Instance::DockerContainer { id, name },
            method,
            ..
        } => {
            let docker = connect(ctx).await?;
            match method {
                RemoveMethod::Terminate { grace_secs } => {
                    docker::remove::terminate(
                        &docker,
                        id,
                        name,
                        Duration::from_secs(*grace_secs),
                        ctx.timeout,
                    )
                    .await
                }
                RemoveMethod::Exec {
                    command,
                    timeout_secs,
                } => {
                    docker::remove::exec(
                        &docker,
                        id,
                        name,
                        command,
                        Duration::from_secs(*timeout_secs),
                        ctx.timeout,
                    )
                    .await
                }
            }
        }
    }
}

fn lab(ctx: &ExecContext) -> Result<&LabHandle, String> {
    ctx.lab.as_ref().ok_or_else(|| {
        "this console is not running a lab (start it with `clusterdeck lab`)".to_string()
    })
}

async fn connect(ctx: &ExecContext) -> Result<bollard::Docker, String> {
    let host = ctx
        .platforms
        .docker
        .as_ref()
        .ok_or("no Docker Engine in this session (start with --docker)")?;
    host.connect(ctx.timeout).await
}

/// The engine a fault was injected on: this session's, else the default one
/// (`clusterdeck heal` and a console without `--docker` still heal).
async fn connect_for_undo(ctx: &ExecContext) -> Result<bollard::Docker, String> {
    let host = ctx
        .platforms
        .docker
        .clone()
        .unwrap_or_else(|| DockerHost::resolve(None));
    host.connect(ctx.timeout).await
}

/// A ledger record for a fault about to be injected.
fn record(
    ctx: &ExecContext,
    member: &str,
    target: &str,
    summary: String,
    ttl_secs: u64,
    undo: Undo,
) -> FaultRecord {
    let now = OffsetDateTime::now_utc();
    FaultRecord {
        id: new_fault_id(),
        run: ctx.run.clone(),
        member: member.to_string(),
        target: target.to_string(),
        summary,
        injected_at: now,
        expires_at: now + time::Duration::seconds(ttl_secs.min(i64::MAX as u64) as i64),
        undo,
    }
}

/// Writes the record, then injects; takes the record back if injecting failed.
pub async fn inject(
    ctx: &ExecContext,
    record: FaultRecord,
    injection: impl Future<Output = Result<String, String>>,
) -> Result<String, String> {
    let id = record.id.clone();
    let expires = record.expires_at;
    ctx.ledger
        .add(record)
        .map_err(|e| format!("cannot write the fault ledger, nothing was done: {e}"))?;
    match injection.await {
        Ok(message) => {
            let left = (expires - OffsetDateTime::now_utc()).whole_seconds().max(0);
            Ok(format!("{message}; fault {id} heals in {left}s"))
        }
        Err(e) => {
            if let Err(le) = ctx.ledger.remove(&id) {
                tracing::warn!(error = %le, fault = %id, "cannot take back a ledger record");
            }
            Err(e)
        }
    }
}

async fn disconnect(action: &Action, ctx: &ExecContext) -> Result<String, String> {
    let Action::Disconnect {
        member,
        isolation:
            Isolation::DockerNetwork {
                container_id,
                container,
                network,
            },
        ttl_secs,
    } = action
    else {
        return Err("internal: not a disconnect".into());
    };
    let docker = connect(ctx).await?;
    let endpoint =
        docker::disconnect::save_endpoint(&docker, container_id, container, network, ctx.timeout)
            .await?;
    let undo = Undo::DockerReconnect {
        container_id: container_id.clone(),
        container: container.clone(),
        network: network.clone(),
        endpoint,
    };
    let fault = record(
        ctx,
        member,
        container,
        format!("disconnected from {network}"),
        *ttl_secs,
        undo,
    );
    inject(
        ctx,
        fault,
        docker::disconnect::disconnect(&docker, container_id, container, network, ctx.timeout),
    )
    .await
}

async fn cordon(action: &Action, ctx: &ExecContext) -> Result<String, String> {
    let Action::Cordon {
        member,
        node: NodeRef::SwarmNode { id, hostname },
        mode,
        ttl_secs,
    } = action
    else {
        return Err("internal: not a cordon".into());
    };
    let docker = connect(ctx).await?;
    let before = docker::cordon::availability(&docker, id, ctx.timeout).await?;
    let undo = Undo::SwarmNodeAvailability {
        node_id: id.clone(),
        hostname: hostname.clone(),
        availability: before,
    };
    let summary = format!("node {hostname} set to {}", mode.as_str());
    let fault = record(ctx, member, hostname, summary, *ttl_secs, undo);
    inject(
        ctx,
        fault,
        docker::cordon::set_availability(&docker, id, hostname, mode.as_str(), ctx.timeout),
    )
    .await
}

/// Makes the node active and forgets the cordon faults held on it.
async fn uncordon(ctx: &ExecContext, id: &str, hostname: &str) -> Result<String, String> {
    let docker = connect(ctx).await?;
    let message =
        docker::cordon::set_availability(&docker, id, hostname, "active", ctx.timeout).await?;
    ctx.ledger
        .update(|faults| faults.retain(|f| !matches!(&f.undo, Undo::SwarmNodeAvailability { node_id, .. } if node_id == id)))
        .map_err(|e| format!("{message}, but the fault ledger could not be updated: {e}"))?;
    Ok(message)
}

/// Undoes each fault by id; a record already gone counts as healed.
pub async fn heal(ctx: &ExecContext, ids: &[String]) -> Result<String, String> {
    let records = ctx
        .ledger
        .records()
        .map_err(|e| format!("cannot read the fault ledger: {e}"))?;
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for id in ids {
        let Some(record) = records.iter().find(|r| &r.id == id) else {
            done.push(format!("{id}: already healed"));
            continue;
        };
        match undo(ctx, &record.undo).await {
            Ok(message) => {
                if let Err(e) = ctx.ledger.remove(id) {
                    failed.push(format!(
                        "{id}: healed, but the ledger could not be updated: {e}"
                    ));
                } else {
                    done.push(message);
                }
            }
            Err(e) => failed.push(format!("{id}: {e}")),
        }
    }
    if failed.is_empty() {
        Ok(done.join("; "))
    } else {
        Err(failed
            .into_iter()
            .chain(done)
            .collect::<Vec<_>>()
            .join("; "))
    }
}

/// Applies one undo; the platform is chosen by the variant.
async fn undo(ctx: &ExecContext, undo: &Undo) -> Result<String, String> {
    match undo {
        Undo::DockerReconnect {
            container_id,
            container,
            network,
            endpoint,
        } => {
            let docker = connect_for_undo(ctx).await?;
            docker::disconnect::reconnect(
                &docker,
                container_id,
                container,
                network,
                endpoint,
                ctx.timeout,
            )
            .await
        }
        Undo::SwarmNodeAvailability {
            node_id,
            hostname,
            availability,
        } => {
            let docker = connect_for_undo(ctx).await?;
            docker::cordon::set_availability(&docker, node_id, hostname, availability, ctx.timeout)
                .await
        }
    }
}

fn log_audit(audit: &AuditLog, phase: &str, action: &Action, message: Option<&str>) {
    if let Err(e) = audit.record(phase, action, message) {
        tracing::warn!(path = %audit.path().display(), error = %e, "cannot write the audit log");
    }
}
