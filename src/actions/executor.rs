//! Carries out confirmed actions in their own tasks and reports outcomes to
//! the app loop. The executor is the second gate of read-only mode: it
//! refuses every action there, whatever asked for it.
//!
//! This is the protocol, the same for every platform; the calls are behind
//! [`ActionPlatform`](super::platform::ActionPlatform), one per platform
//! and one for the calls to applications, chosen through [`Backends`]:
//! - every action is audited when requested and when finished;
//! - a fault goes through [`inject`]: the platform prepares it (reads what
//!   the undo needs), the ledger record is written, then the fault is
//!   injected, and the record is taken back if the injection failed;
//! - healing goes through [`heal`], which applies each record's [`Undo`] and
//!   forgets the records that were undone;
//! - an uncordon forgets the cordon faults held on its node;
//! - every action task is tracked, so quitting can wait for the ones in
//!   flight ([`Executor::settle`]) before it heals: a disconnect between its
//!   ledger record and its injection must land before the heal reads the
//!   ledger, or it would land after and leave a fault with no record.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::audit::AuditLog;
use super::docker::{DockerBackend, DockerHost};
use super::kube::{KubeBackend, KubePlatform};
use super::lab::{LabBackend, LabHandle};
use super::ledger::{FaultLedger, FaultRecord, Undo, new_fault_id};
use super::platform::{ActionError, Backends, Injected, PreparedFault};
use super::switchover::{AppAccess, AppBackend};
use super::{Action, ActionOutcome};
use crate::model::Platform;

pub use super::kube::sweep_console_policies;

/// The platforms actions can reach in this session.
#[derive(Debug, Clone, Default)]
pub struct Platforms {
    pub docker: Option<DockerHost>,
    /// The Kubernetes source's target, following `:ctx` / `:ns`.
    pub kube: Option<KubePlatform>,
    /// How the applications the sources watch are reached (their
    /// credentials and TLS), for a switchover.
    pub apps: AppAccess,
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

impl ExecContext {
    /// The real platforms behind this context: Docker serves Docker and
    /// Swarm, Kubernetes its own, the lab plain processes.
    pub fn backends(&self) -> Backends {
        let docker = Arc::new(DockerBackend::new(
            self.platforms.docker.clone(),
            self.timeout,
        ));
        Backends::default()
            .with(Platform::Docker, docker.clone())
            .with(Platform::Swarm, docker)
            .with(
                Platform::Kubernetes,
                Arc::new(KubeBackend::new(self.platforms.kube.clone(), self.timeout)),
            )
            .with(
                Platform::Process,
                Arc::new(LabBackend::new(self.lab.clone())),
            )
            .with_application(Arc::new(AppBackend::new(
                self.platforms.apps.clone(),
                self.timeout,
            )))
    }
}

/// Runs actions; one per console.
pub struct Executor {
    read_only: bool,
    audit: Arc<AuditLog>,
    ctx: ExecContext,
    backends: Backends,
    outcomes: mpsc::Sender<ActionOutcome>,
    /// The action tasks started by [`Executor::execute`].
    tasks: TaskTracker,
}

impl Executor {
    pub fn new(
        read_only: bool,
        audit: AuditLog,
        ctx: ExecContext,
        outcomes: mpsc::Sender<ActionOutcome>,
    ) -> Executor {
        let backends = ctx.backends();
        Executor::with_backends(read_only, audit, ctx, backends, outcomes)
    }

    /// An executor whose platforms are `backends` (a fake in tests).
    pub fn with_backends(
        read_only: bool,
        audit: AuditLog,
        ctx: ExecContext,
        backends: Backends,
        outcomes: mpsc::Sender<ActionOutcome>,
    ) -> Executor {
        Executor {
            read_only,
            audit: Arc::new(audit),
            ctx,
            backends,
            outcomes,
            tasks: TaskTracker::new(),
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
            self.tasks.spawn(async move {
                let _ = outcomes.send(outcome).await;
            });
            return;
        }
        let ctx = self.ctx.clone();
        let backends = self.backends.clone();
        self.tasks.spawn(async move {
            let outcome = perform_with(&audit, &ctx, &backends, action).await;
            let _ = outcomes.send(outcome).await;
        });
    }

    /// Waits, at most `within`, for the actions still running (for
    /// quitting, before healing); true when none is left. Actions started
    /// later are still tracked, so a second call waits for them too.
    pub async fn settle(&self, within: Duration) -> bool {
        self.tasks.close();
        let settled = tokio::time::timeout(within, self.tasks.wait())
            .await
            .is_ok();
        self.tasks.reopen();
        settled
    }

    /// Runs the action here and now (for quitting and `clusterdeck heal`).
    pub async fn execute_now(&self, action: Action) -> ActionOutcome {
        if self.read_only {
            return refuse(&self.audit, action);
        }
        perform_with(&self.audit, &self.ctx, &self.backends, action).await
    }
}

fn refuse(audit: &AuditLog, action: Action) -> ActionOutcome {
    let message = "refused: the console is read-only";
    log_audit(audit, "refused", &action, Some(message));
    ActionOutcome::new(action, false, message)
}

/// Runs one action on the context's real platforms, audited.
pub async fn perform(audit: &AuditLog, ctx: &ExecContext, action: Action) -> ActionOutcome {
    perform_with(audit, ctx, &ctx.backends(), action).await
}

/// Runs one action with audit entries before and after. This is the one
/// place an [`ActionError`] becomes the text the user reads.
pub async fn perform_with(
    audit: &AuditLog,
    ctx: &ExecContext,
    backends: &Backends,
    action: Action,
) -> ActionOutcome {
    log_audit(audit, "requested", &action, None);
    tracing::info!(
        action = action.name(),
        target = action.member(),
        "action requested"
    );
    let (ok, message) = match run(&action, ctx, backends).await {
        Ok(m) => (true, m),
        Err(e) => (false, e.to_string()),
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

/// The protocol for one action: heal from the ledger, inject a fault with
/// its record first, or just perform it.
async fn run(
    action: &Action,
    ctx: &ExecContext,
    backends: &Backends,
) -> Result<String, ActionError> {
    if let Action::Heal { faults, .. } = action {
        return heal_with(ctx, backends, faults).await;
    }
    let platform = backends.for_action(action)?;
    if action.injects_fault() {
        let prepared = platform.prepare_fault(action).await?;
        let ttl_secs = action.ttl_secs().unwrap_or(0);
        return inject(ctx, action.member(), ttl_secs, prepared).await;
    }
    let message = platform.perform(action).await?;
    if let Action::Uncordon { node, .. } = action {
        ctx.ledger
            .update(|faults| faults.retain(|f| !f.undo.is_cordon_of(node)))
            .map_err(|e| {
                ActionError::Ledger(format!(
                    "{message}, but the fault ledger could not be updated: {e}"
                ))
            })?;
    }
    Ok(message)
}

/// A ledger record for a fault about to be injected.
fn record(ctx: &ExecContext, member: &str, ttl_secs: u64, prepared: &PreparedFault) -> FaultRecord {
    let now = OffsetDateTime::now_utc();
    FaultRecord {
        id: new_fault_id(),
        run: ctx.run.clone(),
        member: member.to_string(),
        target: prepared.target.clone(),
        summary: prepared.summary.clone(),
        injected_at: now,
        expires_at: now + time::Duration::seconds(ttl_secs.min(i64::MAX as u64) as i64),
        undo: prepared.undo.clone(),
    }
}

/// Writes the record, then injects; takes the record back if injecting
/// failed, or if the fault was there before the console acted.
pub async fn inject(
    ctx: &ExecContext,
    member: &str,
    ttl_secs: u64,
    prepared: PreparedFault,
) -> Result<String, ActionError> {
    let record = record(ctx, member, ttl_secs, &prepared);
    let id = record.id.clone();
    let expires = record.expires_at;
    // A future does nothing until awaited: the injection starts only once
    // the record is on disk.
    let injection = (prepared.inject)(&record);
    ctx.ledger.add(record).map_err(|e| {
        ActionError::Ledger(format!(
            "cannot write the fault ledger, nothing was done: {e}"
        ))
    })?;
    match injection.await {
        Ok(Injected::Done(message)) => {
            let left = (expires - OffsetDateTime::now_utc()).whole_seconds().max(0);
            Ok(format!("{message}; fault {id} heals in {left}s"))
        }
        Ok(Injected::AlreadyThere(message)) => {
            ctx.ledger.remove(&id).map_err(|e| {
                ActionError::Ledger(format!(
                    "{message}, but the fault ledger could not be updated: {e}"
                ))
            })?;
            Ok(message)
        }
        Err(e) => {
            if let Err(le) = ctx.ledger.remove(&id) {
                tracing::warn!(error = %le, fault = %id, "cannot take back a ledger record");
            }
            Err(e)
        }
    }
}

/// Undoes each fault by id on the context's real platforms.
pub async fn heal(ctx: &ExecContext, ids: &[String]) -> Result<String, ActionError> {
    heal_with(ctx, &ctx.backends(), ids).await
}

/// Undoes each fault by id; a record already gone counts as healed.
async fn heal_with(
    ctx: &ExecContext,
    backends: &Backends,
    ids: &[String],
) -> Result<String, ActionError> {
    let records = ctx
        .ledger
        .records()
        .map_err(|e| ActionError::Ledger(format!("cannot read the fault ledger: {e}")))?;
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for id in ids {
        let Some(record) = records.iter().find(|r| &r.id == id) else {
            done.push(format!("{id}: already healed"));
            continue;
        };
        match undo(backends, &record.undo).await {
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
        Err(ActionError::Heal(
            failed
                .into_iter()
                .chain(done)
                .collect::<Vec<_>>()
                .join("; "),
        ))
    }
}

/// Applies one undo on the platform its record names.
async fn undo(backends: &Backends, undo: &Undo) -> Result<String, ActionError> {
    backends.get(Some(undo.platform()))?.undo(undo).await
}

fn log_audit(audit: &AuditLog, phase: &str, action: &Action, message: Option<&str>) {
    if let Err(e) = audit.record(phase, action, message) {
        tracing::warn!(path = %audit.path().display(), error = %e, "cannot write the audit log");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Mutex;

    use futures::FutureExt;
    use futures::future::BoxFuture;

    use super::*;
    use crate::actions::ledger::SavedEndpoint;
    use crate::actions::platform::ActionPlatform;
    use crate::actions::{HealReason, Isolation, NodeRef};

    /// A platform that keeps its "faults in place" in a set, by target, and
    /// writes down what it was asked, so the tests see the protocol's order.
    #[derive(Default)]
    pub(super) struct FakePlatform {
        pub in_place: Mutex<BTreeSet<String>>,
        pub calls: Mutex<Vec<String>>,
        pub ledger: Option<FaultLedger>,
        pub inject_fails: bool,
        pub already_there: bool,
        /// Holds each injection until the test lets it go.
        pub gate: Option<Arc<Gate>>,
    }

    /// An injection in flight, held: `started` says it is under way (its
    /// record written), `release` lets it finish.
    #[derive(Default)]
    pub(super) struct Gate {
        pub started: tokio::sync::Notify,
        pub release: tokio::sync::Notify,
    }

    impl FakePlatform {
        fn call(&self, what: String) {
            self.calls.lock().unwrap().push(what);
        }

        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }

        fn in_place(&self) -> BTreeSet<String> {
            self.in_place.lock().unwrap().clone()
        }
    }

    /// Shared so that the injection (a `'static` future) can reach it.
    struct Shared(Arc<FakePlatform>);

    impl ActionPlatform for Shared {
        fn perform<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, ActionError>> {
            self.0.call(format!("perform {}", action.name()));
            async move { Ok(format!("{} done", action.name())) }.boxed()
        }

        fn prepare_fault<'a>(
            &'a self,
            action: &'a Action,
        ) -> BoxFuture<'a, Result<PreparedFault, ActionError>> {
            self.0.call(format!("prepare {}", action.name()));
            let fake = Arc::clone(&self.0);
            let target = "redis-1".to_string();
            async move {
                Ok(PreparedFault {
                    target: target.clone(),
                    summary: "disconnected from net".into(),
                    undo: Undo::DockerReconnect {
                        container_id: "abc".into(),
                        container: target.clone(),
                        network: "net".into(),
                        endpoint: SavedEndpoint::default(),
                    },
                    inject: Box::new(move |record: &FaultRecord| {
                        let id = record.id.clone();
                        async move {
                            let recorded = fake
                                .ledger
                                .as_ref()
                                .is_some_and(|l| l.records().unwrap().iter().any(|r| r.id == id));
                            fake.call(format!("inject (recorded first: {recorded})"));
                            if let Some(gate) = &fake.gate {
                                gate.started.notify_one();
                                gate.release.notified().await;
                            }
                            if fake.inject_fails {
                                return Err(ActionError::Unavailable("the engine said no".into()));
                            }
                            if fake.already_there {
                                return Ok(Injected::AlreadyThere("it was so already".into()));
                            }
                            fake.in_place.lock().unwrap().insert(target);
                            Ok(Injected::Done("disconnected".into()))
                        }
                        .boxed()
                    }),
                })
            }
            .boxed()
        }

        fn undo<'a>(&'a self, undo: &'a Undo) -> BoxFuture<'a, Result<String, ActionError>> {
            self.0.call("undo".into());
            if let Undo::DockerReconnect { container, .. } = undo {
                self.0.in_place.lock().unwrap().remove(container);
            }
            async move { Ok("reconnected".to_string()) }.boxed()
        }
    }

    pub(super) struct Bench {
        /// Holds the ledger and audit log until the test ends.
        pub _dir: tempfile::TempDir,
        pub ctx: ExecContext,
        pub audit: AuditLog,
    }

    pub(super) fn bench() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let ctx = ExecContext {
            platforms: Platforms::default(),
            ledger: FaultLedger::in_dir(dir.path()),
            run: "run-1".into(),
            timeout: Duration::from_secs(5),
            lab: None,
        };
        let audit = AuditLog::new(dir.path().join("audit.jsonl"));
        Bench {
            _dir: dir,
            ctx,
            audit,
        }
    }

    fn backends(fake: &Arc<FakePlatform>) -> Backends {
        let shared: Arc<dyn ActionPlatform> = Arc::new(Shared(Arc::clone(fake)));
        Backends::default()
            .with(Platform::Docker, Arc::clone(&shared))
            .with(Platform::Swarm, shared)
    }

    pub(super) fn disconnect() -> Action {
        Action::Disconnect {
            member: "10.0.0.2:6379".into(),
            isolation: Isolation::DockerNetwork {
                container_id: "abc".into(),
                container: "redis-1".into(),
                network: "net".into(),
            },
            ttl_secs: 60,
        }
    }

    fn audit_phases(b: &Bench) -> Vec<String> {
        std::fs::read_to_string(b.audit.path())
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|v| v["phase"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[tokio::test]
    async fn a_fault_is_written_down_before_it_is_injected() {
        let b = bench();
        let fake = Arc::new(FakePlatform {
            ledger: Some(b.ctx.ledger.clone()),
            ..FakePlatform::default()
        });
        let outcome = perform_with(&b.audit, &b.ctx, &backends(&fake), disconnect()).await;
        assert!(outcome.ok, "{}", outcome.message);
        assert!(
            outcome.message.starts_with("disconnected; fault "),
            "{}",
            outcome.message
        );
        assert_eq!(
            fake.calls(),
            ["prepare disconnect", "inject (recorded first: true)"]
        );
        let records = b.ctx.ledger.records().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].run, "run-1");
        assert_eq!(records[0].target, "redis-1");
        assert_eq!(outcome.faults.as_deref(), Some(records.as_slice()));
        assert_eq!(audit_phases(&b), ["requested", "fault_injected"]);
    }

    #[tokio::test]
    async fn a_failed_injection_takes_its_record_back_and_says_why() {
        let b = bench();
        let fake = Arc::new(FakePlatform {
            inject_fails: true,
            ..FakePlatform::default()
        });
        let outcome = perform_with(&b.audit, &b.ctx, &backends(&fake), disconnect()).await;
        assert!(!outcome.ok);
        assert_eq!(outcome.message, "the engine said no");
        assert!(b.ctx.ledger.records().unwrap().is_empty());
        assert_eq!(audit_phases(&b), ["requested", "failed"]);
    }

    #[tokio::test]
    async fn a_fault_that_was_there_already_leaves_no_record() {
        let b = bench();
        let fake = Arc::new(FakePlatform {
            already_there: true,
            ..FakePlatform::default()
        });
        let outcome = perform_with(&b.audit, &b.ctx, &backends(&fake), disconnect()).await;
        assert!(outcome.ok);
        assert_eq!(outcome.message, "it was so already");
        assert!(b.ctx.ledger.records().unwrap().is_empty());
    }

    #[tokio::test]
    async fn healing_undoes_each_record_and_forgets_it() {
        let b = bench();
        let fake = Arc::new(FakePlatform::default());
        let backends = backends(&fake);
        assert!(
            perform_with(&b.audit, &b.ctx, &backends, disconnect())
                .await
                .ok
        );
        let records = b.ctx.ledger.records().unwrap();
        let refs: Vec<&FaultRecord> = records.iter().collect();
        let heal = crate::actions::plan::heal_action(None, &refs, HealReason::Asked);
        let outcome = perform_with(&b.audit, &b.ctx, &backends, heal.clone()).await;
        assert!(outcome.ok, "{}", outcome.message);
        assert!(fake.in_place().is_empty());
        assert!(b.ctx.ledger.records().unwrap().is_empty());
        let again = perform_with(&b.audit, &b.ctx, &backends, heal).await;
        assert!(
            again.message.ends_with(": already healed"),
            "{}",
            again.message
        );
    }

    #[tokio::test]
    async fn an_uncordon_forgets_the_cordon_faults_on_its_node() {
        let b = bench();
        let fake = Arc::new(FakePlatform::default());
        let now = OffsetDateTime::now_utc();
        let cordon = |id: &str, node: &str| FaultRecord {
            id: id.into(),
            run: "run-1".into(),
            member: "node/a".into(),
            target: node.into(),
            summary: "paused".into(),
            injected_at: now,
            expires_at: now,
            undo: Undo::SwarmNodeAvailability {
                node_id: node.into(),
                hostname: node.into(),
                availability: "active".into(),
            },
        };
        b.ctx.ledger.add(cordon("f1", "n1")).unwrap();
        b.ctx.ledger.add(cordon("f2", "n2")).unwrap();
        let uncordon = Action::Uncordon {
            member: "node/n1".into(),
            node: NodeRef::SwarmNode {
                id: "n1".into(),
                hostname: "n1".into(),
            },
        };
        let outcome = perform_with(&b.audit, &b.ctx, &backends(&fake), uncordon).await;
        assert!(outcome.ok, "{}", outcome.message);
        let left: Vec<String> = b
            .ctx
            .ledger
            .records()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(left, ["f2"]);
    }

    #[tokio::test]
    async fn a_read_only_executor_refuses_without_calling_the_platform() {
        let b = bench();
        let fake = Arc::new(FakePlatform::default());
        let (tx, _rx) = mpsc::channel(1);
        let executor = Executor::with_backends(
            true,
            AuditLog::new(b.audit.path()),
            b.ctx.clone(),
            backends(&fake),
            tx,
        );
        let outcome = executor.execute_now(disconnect()).await;
        assert!(!outcome.ok);
        assert_eq!(outcome.message, "refused: the console is read-only");
        assert!(fake.calls().is_empty());
        assert_eq!(audit_phases(&b), ["refused"]);
    }

    fn switchover() -> Action {
        Action::Switchover {
            member: "127.0.0.1:2381".into(),
            cluster: "probe/etcd/1".into(),
            call: crate::actions::switchover::AppCall::EtcdMoveLeader {
                endpoint: "127.0.0.1:2379".into(),
                leader: "m0".into(),
                candidate: "m1".into(),
                target_id: "42".into(),
            },
        }
    }

    #[tokio::test]
    async fn a_switchover_goes_to_the_application_and_leaves_the_ledger_alone() {
        let b = bench();
        let platform = Arc::new(FakePlatform::default());
        let app = Arc::new(FakePlatform::default());
        let backends = backends(&platform).with_application(Arc::new(Shared(Arc::clone(&app))));
        let outcome = perform_with(&b.audit, &b.ctx, &backends, switchover()).await;
        assert!(outcome.ok, "{}", outcome.message);
        assert_eq!(app.calls(), ["perform switchover"]);
        assert!(platform.calls().is_empty(), "no platform is asked");
        assert_eq!(outcome.faults, None);
        assert!(b.ctx.ledger.records().unwrap().is_empty());
        assert_eq!(audit_phases(&b), ["requested", "succeeded"]);
        let audit = std::fs::read_to_string(b.audit.path()).unwrap();
        let first: serde_json::Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
        assert_eq!(first["action"], "switchover");
        assert!(
            first["describe"]
                .as_str()
                .unwrap()
                .contains(r#"POST /v3/maintenance/transfer-leadership {"targetID":"42"}"#),
            "{first}"
        );
    }

    #[tokio::test]
    async fn a_read_only_executor_refuses_a_switchover_without_calling() {
        let b = bench();
        let app = Arc::new(FakePlatform::default());
        let backends = Backends::default().with_application(Arc::new(Shared(Arc::clone(&app))));
        let (tx, _rx) = mpsc::channel(1);
        let executor = Executor::with_backends(
            true,
            AuditLog::new(b.audit.path()),
            b.ctx.clone(),
            backends,
            tx,
        );
        let outcome = executor.execute_now(switchover()).await;
        assert_eq!(
            (outcome.ok, outcome.message.as_str()),
            (false, "refused: the console is read-only")
        );
        assert!(app.calls().is_empty());
        assert_eq!(audit_phases(&b), ["refused"]);
    }

    #[tokio::test]
    async fn an_action_no_platform_serves_fails_with_a_reason() {
        let b = bench();
        let outcome = perform_with(&b.audit, &b.ctx, &Backends::default(), disconnect()).await;
        assert!(!outcome.ok);
        assert!(
            outcome.message.starts_with("internal: no platform serves"),
            "{}",
            outcome.message
        );
    }

    fn gated() -> (Bench, Arc<Gate>, Arc<FakePlatform>, Executor) {
        let b = bench();
        let gate = Arc::new(Gate::default());
        let fake = Arc::new(FakePlatform {
            gate: Some(Arc::clone(&gate)),
            ..FakePlatform::default()
        });
        let (tx, _rx) = mpsc::channel(4);
        let audit = AuditLog::new(b.audit.path());
        let executor = Executor::with_backends(false, audit, b.ctx.clone(), backends(&fake), tx);
        (b, gate, fake, executor)
    }

    /// Heal-on-quit as the console does it: this run's faults, from the ledger.
    async fn heal_this_run(executor: &Executor, ledger: &FaultLedger) -> ActionOutcome {
        let records: Vec<FaultRecord> = ledger
            .records()
            .unwrap()
            .into_iter()
            .filter(|r| r.run == "run-1")
            .collect();
        let refs: Vec<&FaultRecord> = records.iter().collect();
        let heal = crate::actions::plan::heal_action(None, &refs, HealReason::Quitting);
        executor.execute_now(heal).await
    }

    #[tokio::test]
    async fn quitting_waits_for_an_action_in_flight_before_healing() {
        let (b, gate, fake, executor) = gated();
        executor.execute(disconnect());
        // The record is written and the injection is under way: `q` now.
        gate.started.notified().await;
        let settle = executor.settle(Duration::from_secs(30));
        tokio::pin!(settle);
        assert!(
            futures::poll!(&mut settle).is_pending(),
            "quitting waits while the injection is in flight"
        );
        gate.release.notify_one();
        assert!(settle.await, "the action finished within the bound");
        assert_eq!(fake.in_place().len(), 1, "the fault landed before healing");
        let outcome = heal_this_run(&executor, &b.ctx.ledger).await;
        assert!(outcome.ok, "{}", outcome.message);
        assert!(fake.in_place().is_empty(), "no fault outlives the console");
        assert!(b.ctx.ledger.records().unwrap().is_empty());
    }

    /// The race the waiting closes: a heal that runs while an injection is
    /// in flight drops the record, and the fault lands after it.
    #[tokio::test]
    async fn healing_under_an_injection_in_flight_would_leave_a_fault_with_no_record() {
        let (b, gate, fake, executor) = gated();
        executor.execute(disconnect());
        gate.started.notified().await;
        assert!(heal_this_run(&executor, &b.ctx.ledger).await.ok);
        gate.release.notify_one();
        assert!(executor.settle(Duration::from_secs(30)).await);
        assert!(b.ctx.ledger.records().unwrap().is_empty());
        assert_eq!(fake.in_place().len(), 1, "a fault nobody will heal");
    }

    #[tokio::test]
    async fn waiting_for_actions_is_bounded() {
        let (_b, gate, _fake, executor) = gated();
        executor.execute(disconnect());
        gate.started.notified().await;
        // Never released: the bound is what ends the wait.
        assert!(!executor.settle(Duration::from_millis(50)).await);
    }
}
