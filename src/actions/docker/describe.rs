//! What a Docker or Swarm action will do, for the confirm dialog: the exact
//! target and the engine calls, so the operator confirms what is sent.

use super::super::{Action, Instance, Isolation, NodeRef, RemoveMethod, Workload, secs, short};

/// The text for a Docker or Swarm action; `None` for another platform's.
pub fn describe(action: &Action) -> Option<String> {
    Some(match action {
        Action::Scale {
            workload: Workload::SwarmService { id, name },
            current,
            replicas,
            ..
        } => {
            let from = current.map_or_else(|| "?".into(), |c| c.to_string());
            format!(
                "Scale Swarm service {name} ({}) from {from} to {replicas} replicas: \
                 GET /services/{id}, then POST /services/{id}/update?version=<its version> \
                 with the full inspected spec",
                short(id)
            )
        }
        Action::Cordon {
            node: NodeRef::SwarmNode { id, hostname },
            mode,
            ttl_secs,
            ..
        } => format!(
            "Set Swarm node {hostname} ({}) availability to {}: POST /nodes/{id}/update \
             with its inspected spec; heals (back to its current availability) after {}",
            short(id),
            mode.as_str(),
            secs(*ttl_secs)
        ),
        Action::Uncordon {
            node: NodeRef::SwarmNode { id, hostname },
            ..
        } => format!(
            "Set Swarm node {hostname} ({}) availability to active: POST /nodes/{id}/update",
            short(id)
        ),
        Action::Disconnect {
            isolation:
                Isolation::DockerNetwork {
                    container_id,
                    container,
                    network,
                },
            ttl_secs,
            ..
        } => format!(
            "Disconnect container {container} ({}) from network {network}: \
             POST /networks/{network}/disconnect; its endpoint settings are saved to the \
             fault ledger first, and it is reconnected with them after {}",
            short(container_id),
            secs(*ttl_secs)
        ),
        Action::RemoveInstance {
            instance: Instance::DockerContainer { id, name },
            method,
            ..
        } => describe_remove(id, name, method),
        _ => return None,
    })
}

fn describe_remove(id: &str, name: &str, method: &RemoveMethod) -> String {
    match method {
        RemoveMethod::Terminate { grace_secs } => format!(
            "Remove container {name} ({}): POST /containers/{id}/kill?signal=SIGTERM, \
             wait up to {} for it to exit, then POST /containers/{id}/stop",
            short(id),
            secs(*grace_secs)
        ),
        RemoveMethod::Exec {
            command,
            timeout_secs,
        } => format!(
            "Run {command:?} in container {name} ({}): POST /containers/{id}/exec, \
             show its output and exit code (at most {})",
            short(id),
            secs(*timeout_secs)
        ),
    }
}
