//! What `d` (describe) and `l` (logs) look at, worked out from a member:
//! its container, its Swarm task, its pod, or only the facts its sources
//! gave (a Redis or a probe with no platform object). Pure: no clients.

use crate::model::{Member, Platform};

/// The object a describe fetches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A container on the session's Docker Engine.
    Container { id: String, name: String },
    /// A Swarm task, and its container when it runs on this engine.
    SwarmTask {
        task: String,
        container: Option<String>,
        name: String,
    },
    /// A pod, GET from the API server.
    Pod { namespace: String, pod: String },
    /// No platform object: the member's facts as its sources gave them,
    /// already serialised (they are in the app state, nothing to fetch).
    Facts { name: String, yaml: String },
}

/// Whose logs `l` streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    Container { id: String, name: String },
    Pod { namespace: String, pod: String },
}

impl LogTarget {
    /// How the view's title names it.
    pub fn label(&self) -> String {
        match self {
            LogTarget::Container { name, .. } => format!("container {name}"),
            LogTarget::Pod { namespace, pod } => format!("pod {namespace}/{pod}"),
        }
    }
}

impl Subject {
    /// The platform object behind `member`, else its facts.
    pub fn of(member: &Member) -> Subject {
        let placement = &member.placement;
        let handles = &placement.handles;
        let container_id = handles.container.as_ref().map(|c| c.id.clone());
        let container_name = placement.container.clone().unwrap_or(member.name.clone());
        if let (Some(namespace), Some(pod)) = (&placement.namespace, &placement.pod) {
            return Subject::Pod {
                namespace: namespace.clone(),
                pod: pod.clone(),
            };
        }
        if let Some(task) = &handles.swarm.task_id {
            return Subject::SwarmTask {
                task: task.clone(),
                container: container_id,
                name: placement.task.clone().unwrap_or(container_name),
            };
        }
        match container_id {
            Some(id) => Subject::Container {
                id,
                name: container_name,
            },
            None => Subject::Facts {
                name: member.name.clone(),
                yaml: facts_yaml(member),
            },
        }
    }

    /// How the view's title names it.
    pub fn label(&self) -> String {
        match self {
            Subject::Container { name, .. } => format!("container {name}"),
            Subject::SwarmTask { name, .. } => format!("task {name}"),
            Subject::Pod { namespace, pod } => format!("pod {namespace}/{pod}"),
            Subject::Facts { name, .. } => format!("{name} (what its sources said)"),
        }
    }
}

/// The member's facts as YAML: what the console merged, with the raw
/// fields its sources gave (already redacted by them).
fn facts_yaml(member: &Member) -> String {
    serde_yaml::to_string(member)
        .unwrap_or_else(|e| format!("# cannot serialise the member's facts: {e}\n"))
}

/// The container or pod whose logs `l` streams, or why there is none.
pub fn log_target(member: &Member) -> Result<LogTarget, String> {
    match Subject::of(member) {
        Subject::Container { id, name } => Ok(LogTarget::Container { id, name }),
        Subject::SwarmTask {
            container: Some(id),
            name,
            ..
        } => Ok(LogTarget::Container { id, name }),
        Subject::SwarmTask { name, .. } => Err(format!(
            "logs need the task's container; {name} runs on another Swarm node"
        )),
        Subject::Pod { namespace, pod } => Ok(LogTarget::Pod { namespace, pod }),
        Subject::Facts { .. } => Err(no_container(member)),
    }
}

/// Why a member has nothing to read logs from.
fn no_container(member: &Member) -> String {
    let what = member.address.as_deref().unwrap_or(&member.name);
    match member.placement.platform {
        Some(Platform::Process) => {
            format!("logs need a container or pod; {what} is a process clusterdeck does not run")
        }
        Some(Platform::Simulated) => format!("logs need a container or pod; {what} is simulated"),
        _ => format!(
            "logs need a container or pod; {what} is known only through its application \
             (start with --docker or --kube to see where it runs)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContainerHandle, Placement};

    fn member(placement: Placement) -> Member {
        Member {
            id: "10.0.0.2:6379".into(),
            name: "redis-1".into(),
            address: Some("10.0.0.2:6379".into()),
            placement,
            ..Member::default()
        }
    }

    #[test]
    fn a_container_a_pod_and_a_bare_process_are_told_apart() {
        let mut placement = Placement {
            platform: Some(Platform::Docker),
            container: Some("redis-1".into()),
            ..Placement::default()
        };
        placement.handles.container = Some(ContainerHandle {
            id: "abc".into(),
            undetachable: Vec::new(),
        });
        let docker = member(placement);
        assert_eq!(
            Subject::of(&docker),
            Subject::Container {
                id: "abc".into(),
                name: "redis-1".into()
            }
        );
        let pod = member(Placement {
            namespace: Some("ag".into()),
            pod: Some("copy-0".into()),
            ..Placement::default()
        });
        assert_eq!(
            log_target(&pod),
            Ok(LogTarget::Pod {
                namespace: "ag".into(),
                pod: "copy-0".into()
            })
        );
        let process = member(Placement {
            platform: Some(Platform::Process),
            ..Placement::default()
        });
        assert!(
            matches!(Subject::of(&process), Subject::Facts { ref yaml, .. } if yaml.contains("10.0.0.2:6379"))
        );
        assert_eq!(
            log_target(&process),
            Err(
                "logs need a container or pod; 10.0.0.2:6379 is a process clusterdeck does not run"
                    .into()
            )
        );
    }
}
