//! Actions: what the console does to a cluster, as data. A key on the
//! selected member asks the [`plan`] module for a [`plan::Draft`]; the UI asks
//! the draft's questions one by one, then shows [`Action::describe`] and asks
//! y/N; only a confirmed action reaches the [`Executor`], which runs it in its
//! own task (each platform call with a timeout) and answers with an
//! [`ActionOutcome`]. A read-only console refuses every action here too, not
//! only at the keymap.
//!
//! - [`plan`]: from an intent (scale, cordon, disconnect, ...) and a member to
//!   a draft, whatever the platform;
//! - [`ledger`]: the fault ledger: every fault written down, with its undo,
//!   before it is injected;
//! - [`docker`]: the Docker Engine and Swarm calls;
//! - [`kube`]: the Kubernetes calls, and [`kube::KubePlatform`], the target
//!   the actions share with the source so they follow `:ctx` / `:ns`;
//! - [`platform`]: the seam: [`platform::ActionPlatform`], one per platform
//!   (Docker/Swarm, Kubernetes, the lab), and [`platform::ActionError`];
//! - [`switchover`]: a planned switchover, asked of the application itself
//!   (Patroni, etcd, Redis with or without Sentinel), whatever runs it;
//! - [`shell`]: `e`, an interactive shell in a member (`docker exec`,
//!   `kubectl exec`, `redis-cli`, `psql`), run in the console's terminal;
//! - [`executor`], [`audit`], [`lab`]: the protocol (audit, ledger record
//!   before the fault, outcome), logging, the local lab.

pub mod audit;
pub mod docker;
pub mod executor;
pub mod kube;
pub mod lab;
pub mod ledger;
pub mod plan;
pub mod platform;
pub mod shell;
pub mod switchover;

pub use audit::AuditLog;
pub use executor::{Executor, Platforms};
pub use lab::LabHandle;
pub use ledger::{FaultLedger, FaultRecord, RunId, Undo};
pub use plan::{Draft, Intent, PlanContext, Question};
pub use platform::{ActionError, ActionPlatform, Backends};

use serde::{Deserialize, Serialize};

/// A set of replicas an orchestrator keeps running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Workload {
    SwarmService {
        id: String,
        name: String,
    },
    /// Scaled through its `scale` subresource.
    StatefulSet {
        namespace: String,
        name: String,
    },
}

/// A machine the orchestrator schedules on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeRef {
    SwarmNode {
        id: String,
        hostname: String,
    },
    /// Cordoned through `spec.unschedulable`.
    KubeNode {
        name: String,
    },
}

/// How an instance is cut off from the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Isolation {
    /// `network disconnect` of one container from one network.
    DockerNetwork {
        container_id: String,
        container: String,
        network: String,
    },
    /// A deny-all NetworkPolicy selecting the pod, labelled as the console's.
    KubePod { namespace: String, pod: String },
}

/// One running instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Instance {
    DockerContainer { id: String, name: String },
    KubePod { namespace: String, name: String },
}

/// How an instance is removed: never SIGKILL first, since a remove-instance
/// handler cannot trap SIGKILL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RemoveMethod {
    /// SIGTERM, then wait up to the grace period before the engine kills it.
    Terminate { grace_secs: u64 },
    /// Run a command inside the instance (a remove script), at most `timeout_secs`.
    Exec {
        command: Vec<String>,
        timeout_secs: u64,
    },
}

/// Cordon strength: stop new work, or also move the running work away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CordonMode {
    /// Swarm availability `pause`: no new tasks, running ones stay.
    Pause,
    /// Swarm availability `drain`: running tasks are moved elsewhere.
    Drain,
}

impl CordonMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CordonMode::Pause => "pause",
            CordonMode::Drain => "drain",
        }
    }
}

/// Why faults are being healed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealReason {
    /// Asked for (`N`, `C`, `H`, `clusterdeck heal`).
    Asked,
    /// Its time to live ran out.
    Expired,
    /// The console is quitting.
    Quitting,
    /// Left behind by a console that is not running any more.
    LeftBehind,
}

/// One mutating request, complete enough to describe and to execute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Kill one process of the local lab (SIGKILL), as a crash would.
    LabKill { member: String, address: String },
    /// Start a killed lab process again with its original configuration.
    LabRestart { member: String, address: String },
    /// Set the number of replicas of a workload.
    Scale {
        member: String,
        workload: Workload,
        current: Option<u64>,
        replicas: u64,
    },
    /// Stop scheduling on a node (a fault: healed by making it active again).
    Cordon {
        member: String,
        node: NodeRef,
        mode: CordonMode,
        ttl_secs: u64,
    },
    /// Make a node schedulable again.
    Uncordon { member: String, node: NodeRef },
    /// Cut an instance off the network (a fault: healed by reconnecting it).
    Disconnect {
        member: String,
        isolation: Isolation,
        ttl_secs: u64,
    },
    /// Undo faults from the ledger, by id.
    Heal {
        member: Option<String>,
        faults: Vec<String>,
        /// What each undo does, for the confirm dialog and the audit log.
        summaries: Vec<String>,
        reason: HealReason,
    },
    /// Remove an instance gracefully.
    RemoveInstance {
        member: String,
        instance: Instance,
        method: RemoveMethod,
    },
    /// Make the member the leader through its application (no fault:
    /// nothing to undo; switching back is another switchover).
    Switchover {
        member: String,
        /// The cluster's id: whose sources' credentials the call uses.
        cluster: String,
        call: switchover::AppCall,
    },
}

impl Action {
    /// Short name for logs and the timeline.
    pub fn name(&self) -> &'static str {
        match self {
            Action::LabKill { .. } => "lab-kill",
            Action::LabRestart { .. } => "lab-restart",
            Action::Scale { .. } => "scale",
            Action::Cordon { .. } => "cordon",
            Action::Uncordon { .. } => "uncordon",
            Action::Disconnect { .. } => "disconnect",
            Action::Heal { .. } => "heal",
            Action::RemoveInstance { .. } => "remove-instance",
            Action::Switchover { .. } => "switchover",
        }
    }

    /// The exact target and what will be called, for the confirm dialog:
    /// each platform module describes its own actions; healing is the same
    /// on every platform.
    pub fn describe(&self) -> String {
        if let Action::Heal {
            summaries, reason, ..
        } = self
        {
            return describe_heal(summaries, *reason);
        }
        if let Action::Switchover { call, .. } = self {
            return call.describe();
        }
        lab::describe(self)
            .or_else(|| docker::describe::describe(self))
            .or_else(|| kube::describe::describe(self))
            .unwrap_or_else(|| format!("{} on {}", self.name(), self.member()))
    }

    /// The member the action is about.
    pub fn member(&self) -> &str {
        match self {
            Action::LabKill { member, .. }
            | Action::LabRestart { member, .. }
            | Action::Scale { member, .. }
            | Action::Cordon { member, .. }
            | Action::Uncordon { member, .. }
            | Action::Disconnect { member, .. }
            | Action::RemoveInstance { member, .. }
            | Action::Switchover { member, .. } => member,
            Action::Heal { member, .. } => member.as_deref().unwrap_or("-"),
        }
    }

    /// How long a fault lives before it heals itself; `None` for actions
    /// that inject no fault.
    pub fn ttl_secs(&self) -> Option<u64> {
        match self {
            Action::Cordon { ttl_secs, .. } | Action::Disconnect { ttl_secs, .. } => {
                Some(*ttl_secs)
            }
            _ => None,
        }
    }

    /// True for actions that inject a fault (written to the ledger first).
    pub fn injects_fault(&self) -> bool {
        matches!(self, Action::Disconnect { .. } | Action::Cordon { .. })
    }

    /// True for actions that undo faults.
    pub fn heals(&self) -> bool {
        matches!(self, Action::Heal { .. })
    }
}

/// A replica count as the Kubernetes API takes it (an `i32`); the scale
/// question never asks above a thousand.
pub fn replica_count(replicas: u64) -> i32 {
    i32::try_from(replicas).unwrap_or(i32::MAX)
}

/// A grace period as the Kubernetes API takes it (a `u32` of seconds).
pub fn grace_u32(secs: u64) -> u32 {
    u32::try_from(secs).unwrap_or(u32::MAX)
}

/// An id as people read it: the first 12 characters.
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Seconds as people read them: `1m`, `10m`, `45s`.
fn secs(s: u64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(s)).to_string()
}

fn describe_heal(summaries: &[String], reason: HealReason) -> String {
    let why = match reason {
        HealReason::Asked => "",
        HealReason::Expired => " (time to live ran out)",
        HealReason::Quitting => " (quitting)",
        HealReason::LeftBehind => " left behind by a console that is not running",
    };
    format!(
        "Heal {} fault(s){why}: {}",
        summaries.len(),
        summaries.join("; ")
    )
}

/// How an action ended; goes to the timeline and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionOutcome {
    pub action: Action,
    pub ok: bool,
    /// What happened, already redacted.
    pub message: String,
    /// The ledger as it is after the action, when the action touched it.
    #[serde(skip)]
    pub faults: Option<Vec<FaultRecord>>,
}

impl ActionOutcome {
    pub fn new(action: Action, ok: bool, message: impl Into<String>) -> Self {
        ActionOutcome {
            action,
            ok,
            message: message.into(),
            faults: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_the_target_and_the_call() {
        let action = Action::Disconnect {
            member: "10.1.0.2:6379".into(),
            isolation: Isolation::DockerNetwork {
                container_id: "0123456789abcdef".into(),
                container: "redis-1".into(),
                network: "net".into(),
            },
            ttl_secs: 60,
        };
        let text = action.describe();
        assert!(text.contains("redis-1 (0123456789ab)"), "{text}");
        assert!(text.contains("POST /networks/net/disconnect") && text.contains("1m"));
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json["action"], "disconnect");
        assert_eq!(json["isolation"]["kind"], "docker_network");
        let back: Action = serde_json::from_value(json).unwrap();
        assert_eq!(back, action);
    }
}
