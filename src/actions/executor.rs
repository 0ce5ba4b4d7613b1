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
use super::kube::{KubeConnection, KubePlatform, connect_actions, target_for_undo};
use super::lab::{LabCommand, LabHandle};
use super::ledger::{FaultLedger, FaultRecord, Undo, new_fault_id};
use super::{
    Action, ActionOutcome, Instance, Isolation, NodeRef, RemoveMethod, Workload, grace_u32,
    replica_count,
};

/// The platforms actions can reach in this session.
#[derive(Debug, Clone, Default)]
pub struct Platforms {
    pub docker: Option<DockerHost>,
    /// The Kubernetes source's target, following `:ctx` / `:ns`.
    pub kube: Option<KubePlatform>,
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

    /// The platforms this executor reaches (to follow `:ctx` / `:ns`).
    pub fn platforms(&self) -> &Platforms {
        &self.ctx.platforms
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
        Action::Scale {
            workload: Workload::StatefulSet { namespace, name },
            replicas,
            ..
        } => kube(ctx)
            .await?
            .actions
            .scale_statefulset(namespace, name, replica_count(*replicas))
            .await
            .map(|change| change.summary())
            .map_err(|e| e.to_string()),
        Action::Cordon {
            node: NodeRef::KubeNode { .. },
            ..
        } => kube_cordon(action, ctx).await,
        Action::Cordon { .. } => cordon(action, ctx).await,
        Action::Uncordon {
            node: NodeRef::SwarmNode { id, hostname },
            ..
        } => uncordon(ctx, id, hostname).await,
        Action::Uncordon {
            node: NodeRef::KubeNode { name },
            ..
        } => kube_uncordon(ctx, name).await,
        Action::Disconnect {
            isolation: Isolation::KubePod { .. },
            ..
        } => isolate(action, ctx).await,
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
        Action::RemoveInstance {
            instance: Instance::KubePod { namespace, name },
            method,
            ..
        } => kube_remove(ctx, namespace, name, method).await,
    }
}

/// A client for the session's Kubernetes target as it is now.
async fn kube(ctx: &ExecContext) -> Result<KubeConnection, String> {
    let platform = ctx
        .platforms
        .kube
        .as_ref()
        .ok_or("no Kubernetes in this session (start with --kube)")?;
    connect_actions(&platform.current(), ctx.timeout).await
}

/// The cluster a Kubernetes fault was injected on, as its record names it.
async fn kube_for_undo(
    ctx: &ExecContext,
    context: Option<&str>,
    kubeconfig: Option<&std::path::PathBuf>,
) -> Result<KubeConnection, String> {
    let mut target = target_for_undo(context, kubeconfig);
    // A record without a kubeconfig was made with the default one; the
    // session's may name it explicitly.
    if target.kubeconfig.is_none() {
        target.kubeconfig = ctx
            .platforms
            .kube
            .as_ref()
            .and_then(|k| k.current().kubeconfig);
    }
    connect_actions(&target, ctx.timeout).await
}

async fn kube_remove(
    ctx: &ExecContext,
    namespace: &str,
    pod: &str,
    method: &RemoveMethod,
) -> Result<String, String> {
    let kube = kube(ctx).await?;
    match method {
        RemoveMethod::Terminate { grace_secs } => kube
            .actions
            .delete_pod(namespace, pod, grace_u32(*grace_secs))
            .await
            .map(|deletion| deletion.summary())
            .map_err(|e| e.to_string()),
        RemoveMethod::Exec {
            command,
            timeout_secs,
        } => match kube
            .actions
            .exec_in_pod(
                namespace,
                pod,
                None,
                command,
                Duration::from_secs(*timeout_secs),
            )
            .await
        {
            Ok(output) => Ok(format!(
                "`{}` in pod {namespace}/{pod} exited 0: {}",
                command.join(" "),
                output_text(&output.stdout, &output.stderr)
            )),
            Err(e) => Err(e.to_string()),
        },
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

/// Isolates a pod: the record (with the context reached) goes to the ledger
/// first, and its id labels the policy.
async fn isolate(action: &Action, ctx: &ExecContext) -> Result<String, String> {
    let Action::Disconnect {
        member,
        isolation: Isolation::KubePod { namespace, pod },
        ttl_secs,
    } = action
    else {
        return Err("internal: not an isolation".into());
    };
    let kube = kube(ctx).await?;
    let policy = super::kube::isolate::isolation_policy_name(pod);
    let undo = Undo::KubeDeleteNetworkPolicy {
        context: Some(kube.context.clone()),
        kubeconfig: kube.kubeconfig.clone(),
        namespace: namespace.clone(),
        policy,
    };
    let fault = record(
        ctx,
        member,
        pod,
        "isolated by a deny-all NetworkPolicy".into(),
        *ttl_secs,
        undo,
    );
    let request = super::kube::IsolationRequest {
        namespace: namespace.clone(),
        pod: pod.clone(),
        fault_id: fault.id.clone(),
        expires_at: fault.expires_at,
    };
    inject(ctx, fault, async {
        kube.actions
            .isolate_pod(&request)
            .await
            .map(|isolation| isolation.summary())
            .map_err(|e| e.to_string())
    })
    .await
}

/// Cordons a node as a fault; a node that was cordoned already is left as
/// it was and its record taken back, so healing does not uncordon it.
async fn kube_cordon(action: &Action, ctx: &ExecContext) -> Result<String, String> {
    let Action::Cordon {
        member,
        node: NodeRef::KubeNode { name },
        ttl_secs,
        ..
    } = action
    else {
        return Err("internal: not a Kubernetes cordon".into());
    };
    let kube = kube(ctx).await?;
    let undo = Undo::KubeUncordon {
        context: Some(kube.context.clone()),
        kubeconfig: kube.kubeconfig.clone(),
        node: name.clone(),
    };
    let fault = record(
        ctx,
        member,
        name,
        format!("node {name} cordoned"),
        *ttl_secs,
        undo,
    );
    let id = fault.id.clone();
    let mut was_cordoned = false;
    let message = inject(ctx, fault, async {
        let change = kube.actions.cordon(name).await.map_err(|e| e.to_string())?;
        was_cordoned = change.was_unschedulable;
        Ok(change.summary())
    })
    .await?;
    if was_cordoned {
        ctx.ledger
            .remove(&id)
            .map_err(|e| format!("{message}, but the fault ledger could not be updated: {e}"))?;
        return Ok(format!("node {name} was cordoned already: nothing to heal"));
    }
    Ok(message)
}

/// Uncordons a node and forgets the cordon faults held on it.
async fn kube_uncordon(ctx: &ExecContext, node: &str) -> Result<String, String> {
    let kube = kube(ctx).await?;
    let message = kube
        .actions
        .uncordon(node)
        .await
        .map(|change| change.summary())
        .map_err(|e| e.to_string())?;
    ctx.ledger
        .update(|faults| {
            faults.retain(|f| !matches!(&f.undo, Undo::KubeUncordon { node: n, .. } if n == node))
        })
        .map_err(|e| format!("{message}, but the fault ledger could not be updated: {e}"))?;
    Ok(message)
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
        Undo::KubeDeleteNetworkPolicy {
            context,
            kubeconfig,
            namespace,
            policy,
        } => {
            let kube = kube_for_undo(ctx, context.as_deref(), kubeconfig.as_ref()).await?;
            match kube.actions.heal_isolation(namespace, policy).await {
                Ok(super::kube::Healed::Removed) => {
                    Ok(format!("NetworkPolicy {namespace}/{policy} deleted"))
                }
                Ok(super::kube::Healed::AlreadyGone) => Ok(format!(
                    "NetworkPolicy {namespace}/{policy} was gone already"
                )),
                Err(e) => Err(e.to_string()),
            }
        }
        Undo::KubeUncordon {
            context,
            kubeconfig,
            node,
        } => {
            let kube = kube_for_undo(ctx, context.as_deref(), kubeconfig.as_ref()).await?;
            kube.actions
                .uncordon(node)
                .await
                .map(|change| change.summary())
                .map_err(|e| e.to_string())
        }
    }
}

/// Deletes every console-labelled NetworkPolicy on `target`, whether or not
/// the ledger remembers it (`clusterdeck heal`); answers one line per policy.
pub async fn sweep_console_policies(
    target: &crate::sources::kube::KubeTarget,
    timeout: Duration,
) -> Result<Vec<String>, String> {
    let kube = connect_actions(target, timeout).await?;
    let found = kube
        .actions
        .find_console_policies(None)
        .await
        .map_err(|e| e.to_string())?;
    let mut lines = Vec::new();
    for policy in found {
        let line = match kube
            .actions
            .heal_isolation(&policy.namespace, &policy.name)
            .await
        {
            Ok(_) => format!(
                "deleted NetworkPolicy {}/{} (fault {})",
                policy.namespace,
                policy.name,
                policy.fault_id.as_deref().unwrap_or("?")
            ),
            Err(e) => return Err(e.to_string()),
        };
        lines.push(line);
    }
    Ok(lines)
}

fn log_audit(audit: &AuditLog, phase: &str, action: &Action, message: Option<&str>) {
    if let Err(e) = audit.record(phase, action, message) {
        tracing::warn!(path = %audit.path().display(), error = %e, "cannot write the audit log");
    }
}
