//! What a Kubernetes action will do, for the confirm dialog: each
//! operation's own `describe_*` (the exact object and API call) plus how
//! the console heals it.

use std::time::Duration;

use super::super::{Action, Instance, Isolation, NodeRef, RemoveMethod, Workload, secs};
use super::super::{grace_u32, replica_count};

/// The text for a Kubernetes action; `None` for another platform's.
pub fn describe(action: &Action) -> Option<String> {
    Some(match action {
        Action::Scale {
            workload: Workload::StatefulSet { namespace, name },
            replicas,
            ..
        } => super::scale::describe_scale(namespace, name, replica_count(*replicas)),
        Action::Cordon {
            node: NodeRef::KubeNode { name },
            ttl_secs,
            ..
        } => format!(
            "{}; heals (uncordons) after {}",
            super::cordon::describe_cordon(name, true),
            secs(*ttl_secs)
        ),
        Action::Uncordon {
            node: NodeRef::KubeNode { name },
            ..
        } => super::cordon::describe_cordon(name, false),
        Action::Disconnect {
            isolation: Isolation::KubePod { namespace, pod },
            ttl_secs,
            ..
        } => format!(
            "{}; the policy is written to the fault ledger first and deleted after {}",
            super::isolate::describe_isolate(namespace, pod, Duration::from_secs(*ttl_secs)),
            secs(*ttl_secs)
        ),
        Action::RemoveInstance {
            instance: Instance::KubePod { namespace, name },
            method,
            ..
        } => describe_remove(namespace, name, method),
        _ => return None,
    })
}

fn describe_remove(namespace: &str, name: &str, method: &RemoveMethod) -> String {
    match method {
        RemoveMethod::Terminate { grace_secs } => {
            super::remove::describe_remove(namespace, name, grace_u32(*grace_secs))
        }
        RemoveMethod::Exec {
            command,
            timeout_secs,
        } => format!(
            "{}; show its output and exit code (at most {})",
            super::remove::describe_exec(namespace, name, None, command),
            secs(*timeout_secs)
        ),
    }
}
