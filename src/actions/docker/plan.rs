//! Drafts for members the Docker source saw: the ids come from the
//! member's typed handles ([`Handles`](crate::model::Handles)), so a draft
//! names exactly what the engine will be asked about. Refusals happen here, before anything is asked,
//! e.g. a container whose only network is the host's.

use crate::actions::ledger::{FaultRecord, Undo};
use crate::actions::plan::{
    AnswerKind, Draft, Field, Intent, PlanContext, Question, swarm_node, swarm_service,
};
use crate::actions::{Action, CordonMode, Instance, Isolation};
use crate::config::Config;
use crate::model::{Cluster, Member};

use crate::actions::plan::{
    CORDON_TTL_SECS, CUT_OFF_TTL_SECS, GRACE_SECS, heal_after_question, replicas_question,
};

/// Plans `intent` on a container, a Swarm task or a Swarm node.
pub fn plan(
    intent: Intent,
    member: &Member,
    cluster: &Cluster,
    ctx: &PlanContext,
) -> Result<Draft, String> {
    match intent {
        Intent::Scale => scale(member),
        Intent::Cordon => cordon(member),
        Intent::Uncordon => uncordon(member, ctx.faults),
        Intent::Disconnect => disconnect(member),
        Intent::Remove => remove(member, cluster, ctx.config),
        Intent::Reconnect | Intent::HealAll => {
            Err(format!("{intent} is planned from the fault ledger"))
        }
        Intent::Switchover => Err(format!("{intent} is planned from the application")),
    }
}

fn scale(member: &Member) -> Result<Draft, String> {
    let (Some(service), Some(name)) = (
        member.placement.handles.swarm.service.as_ref(),
        member.placement.service.as_deref(),
    ) else {
        return Err(format!(
            "scale needs a Swarm service; {} is a plain container",
            member.name
        ));
    };
    if service.global {
        return Err(format!(
            "Swarm service {name} runs in global mode (one task per node): it does not scale"
        ));
    }
    let current = service.replicas;
    let action = Action::Scale {
        member: member.id.clone(),
        workload: swarm_service(&service.id, name),
        current,
        replicas: current.unwrap_or(1),
    };
    let question = replicas_question(
        format!("Replicas of Swarm service {name}"),
        current.unwrap_or(1),
    );
    Ok(Draft::new(action, vec![question]))
}

fn node_of(member: &Member) -> Result<(String, String), String> {
    match (
        member.placement.handles.swarm.node_id.as_deref(),
        member.placement.node.as_deref(),
    ) {
        (Some(id), Some(host)) => Ok((id.to_string(), host.to_string())),
        // A task no node accepts (after a drain) is on no node yet.
        _ if member.placement.handles.swarm.task_id.is_some() => Err(format!(
            "{} is a Swarm task on no node (pending: no node accepts it); select a node \
             in the swarm nodes cluster to uncordon it, or H to heal the console's cordon",
            member.name
        )),
        _ => Err(format!(
            "cordon needs a Swarm node; {} is a container outside Swarm",
            member.name
        )),
    }
}

fn cordon(member: &Member) -> Result<Draft, String> {
    let (id, host) = node_of(member)?;
    let action = Action::Cordon {
        member: member.id.clone(),
        node: swarm_node(&id, &host),
        mode: CordonMode::Pause,
        ttl_secs: CORDON_TTL_SECS,
    };
    let questions = vec![
        Question::new(
            format!("Node {host}: pause (no new tasks) or drain (move its tasks away)?"),
            "pause",
            AnswerKind::Choice(vec!["pause".into(), "drain".into()]),
            Field::CordonMode,
        ),
        heal_after_question("Heal (make it active again) after", CORDON_TTL_SECS),
    ];
    Ok(Draft::new(action, questions))
}

fn uncordon(member: &Member, faults: &[FaultRecord]) -> Result<Draft, String> {
    let (id, host) = match node_of(member) {
        Ok(node) => node,
        Err(error) => node_cordoned_for(member, faults).ok_or(error)?,
    };
    Ok(Draft::new(
        Action::Uncordon {
            member: member.id.clone(),
            node: swarm_node(&id, &host),
        },
        Vec::new(),
    ))
}

/// The node to make active again for a task on no node (pending after the
/// console drained the node it ran on): the node the console cordoned, this
/// member's cordon first; none when that is not one node.
fn node_cordoned_for(member: &Member, faults: &[FaultRecord]) -> Option<(String, String)> {
    member.placement.handles.swarm.task_id.as_ref()?;
    let cordoned: Vec<(&str, &String, &String)> = faults
        .iter()
        .filter_map(|f| match &f.undo {
            Undo::SwarmNodeAvailability {
                node_id, hostname, ..
            } => Some((f.member.as_str(), node_id, hostname)),
            _ => None,
        })
        .collect();
    let own: Vec<_> = cordoned.iter().filter(|c| c.0 == member.id).collect();
    let mut nodes: Vec<(&String, &String)> = match own.is_empty() {
        true => cordoned.iter().map(|c| (c.1, c.2)).collect(),
        false => own.iter().map(|c| (c.1, c.2)).collect(),
    };
    nodes.sort();
    nodes.dedup();
    match nodes.as_slice() {
        [(id, host)] => Some((id.to_string(), host.to_string())),
        _ => None,
    }
}

fn container_of(member: &Member, intent: Intent) -> Result<(String, String), String> {
    match (
        member.placement.handles.container.as_ref(),
        member.placement.container.as_deref(),
    ) {
        (Some(handle), Some(name)) => Ok((handle.id.clone(), name.to_string())),
        _ => Err(format!(
            "{intent} needs a container on this engine; {} has none here",
            member.name
        )),
    }
}

fn disconnect(member: &Member) -> Result<Draft, String> {
    let (id, name) = container_of(member, Intent::Disconnect)?;
    let fixed: Vec<&str> = member
        .placement
        .handles
        .container
        .iter()
        .flat_map(|c| c.undetachable.iter().map(String::as_str))
        .collect();
    let choices: Vec<String> = member
        .placement
        .networks
        .iter()
        .filter(|n| !fixed.contains(&n.as_str()))
        .cloned()
        .collect();
    let Some(first) = choices.first().cloned() else {
        return Err(match fixed.as_slice() {
            [] => format!("{name} is not attached to any network"),
            [network, ..] => format!(
                "{name} cannot be cut off from {}: {}",
                fixed.join(", "),
                crate::actions::docker::disconnect::why_not(network)
            ),
        });
    };
    let action = Action::Disconnect {
        member: member.id.clone(),
        isolation: Isolation::DockerNetwork {
            container_id: id,
            container: name.clone(),
            network: first.clone(),
        },
        ttl_secs: CUT_OFF_TTL_SECS,
    };
    let questions = vec![
        Question::new(
            format!("Disconnect {name} from which network?"),
            first,
            AnswerKind::Choice(choices),
            Field::Network,
        ),
        heal_after_question("Reconnect it after", CUT_OFF_TTL_SECS),
    ];
    Ok(Draft::new(action, questions))
}

fn remove(member: &Member, cluster: &Cluster, config: &Config) -> Result<Draft, String> {
    let (id, name) = container_of(member, Intent::Remove)?;
    let rule = crate::actions::plan::remove_rule(member, cluster, config);
    let prompt = format!("Grace period for {name} after SIGTERM");
    let instance = Instance::DockerContainer { id, name };
    Ok(crate::actions::plan::remove_draft(
        member, instance, rule, GRACE_SECS, prompt, 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::RemoveMethod;
    use crate::model::{ContainerHandle, Handles, Placement, Platform};

    fn container(networks: &[&str], undetachable: Option<&str>) -> Member {
        Member {
            id: "10.0.0.2:6379".into(),
            name: "redis-1".into(),
            placement: Placement {
                platform: Some(Platform::Docker),
                container: Some("redis-1".into()),
                networks: networks.iter().map(|n| n.to_string()).collect(),
                handles: Handles {
                    container: Some(ContainerHandle {
                        id: "abc".into(),
                        undetachable: undetachable
                            .map(|u| u.split(',').map(str::to_string).collect())
                            .unwrap_or_default(),
                    }),
                    ..Handles::default()
                }
                .into(),
                ..Placement::default()
            },
            ..Member::default()
        }
    }

    fn cluster() -> Cluster {
        Cluster {
            id: "docker/standalone".into(),
            kind: "docker".into(),
            name: "x".into(),
            leader: None,
            recorded_leader: None,
            recorded_leader_agrees: None,
            consensus: None,
            leaders_conflict: Vec::new(),
            problem: None,
            members: Vec::new(),
        }
    }

    fn ctx(config: &Config) -> PlanContext<'_> {
        PlanContext {
            config,
            faults: &[],
        }
    }

    #[test]
    fn uncordon_on_a_pending_task_says_it_is_a_task_on_no_node() {
        let config = Config::default();
        let mut task = container(&["a"], None);
        task.placement.platform = Some(Platform::Swarm);
        task.placement.handles.swarm.task_id = Some("t1".into());
        let error = plan(Intent::Uncordon, &task, &cluster(), &ctx(&config)).unwrap_err();
        assert!(
            error.contains("Swarm task on no node") && !error.contains("outside Swarm"),
            "{error}"
        );
        let plain = plan(
            Intent::Uncordon,
            &container(&["a"], None),
            &cluster(),
            &ctx(&config),
        );
        assert!(plain.unwrap_err().contains("outside Swarm"));
    }

    fn node_cordon(member: &str, node: &str) -> FaultRecord {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        FaultRecord {
            id: format!("f-{node}"),
            run: "run".into(),
            member: member.into(),
            target: node.into(),
            summary: format!("node {node} drained"),
            injected_at: now,
            expires_at: now + time::Duration::minutes(5),
            undo: Undo::SwarmNodeAvailability {
                node_id: format!("id-{node}"),
                hostname: node.into(),
                availability: "active".into(),
            },
        }
    }

    #[test]
    fn uncordon_on_a_pending_task_makes_the_node_the_console_drained_active() {
        let config = Config::default();
        let mut task = container(&["a"], None);
        task.placement.platform = Some(Platform::Swarm);
        task.placement.handles.swarm.task_id = Some("t1".into());
        let faults = [node_cordon("10.0.0.5:6379", "host-1")];
        let ctx = PlanContext {
            config: &config,
            faults: &faults,
        };
        let draft = plan(Intent::Uncordon, &task, &cluster(), &ctx).unwrap();
        match draft.action() {
            Action::Uncordon { node, .. } => assert_eq!(*node, swarm_node("id-host-1", "host-1")),
            other => panic!("{other:?}"),
        }
        // Two nodes drained, neither for this task: which one is not a guess.
        let faults = [node_cordon("x", "host-1"), node_cordon("y", "host-2")];
        let ctx = PlanContext {
            config: &config,
            faults: &faults,
        };
        let error = plan(Intent::Uncordon, &task, &cluster(), &ctx).unwrap_err();
        assert!(error.contains("Swarm task on no node"), "{error}");
        // A plain container is never planned from the ledger.
        let plain = plan(Intent::Uncordon, &container(&["a"], None), &cluster(), &ctx);
        assert!(plain.unwrap_err().contains("outside Swarm"));
    }

    #[test]
    fn disconnect_asks_which_network_and_how_long() {
        let config = Config::default();
        let mut draft = plan(
            Intent::Disconnect,
            &container(&["a", "b"], None),
            &cluster(),
            &ctx(&config),
        )
        .unwrap();
        assert_eq!(draft.question().unwrap().default, "a");
        draft.answer("b").unwrap();
        assert_eq!(draft.question().unwrap().default, "60s");
        draft.answer("2m").unwrap();
        match draft.into_action() {
            Action::Disconnect {
                isolation: Isolation::DockerNetwork { network, .. },
                ttl_secs,
                ..
            } => {
                assert_eq!((network.as_str(), ttl_secs), ("b", 120));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_network_it_cannot_leave_is_refused_before_asking() {
        let config = Config::default();
        let e = plan(
            Intent::Disconnect,
            &container(&["host"], Some("host")),
            &cluster(),
            &ctx(&config),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "redis-1 cannot be cut off from host: the engine does not disconnect a \
             container from the host network"
        );
        let e = plan(
            Intent::Disconnect,
            &container(&["stack_net"], Some("stack_net")),
            &cluster(),
            &ctx(&config),
        )
        .unwrap_err();
        assert!(
            e.ends_with(
                "only a Swarm task's container can leave a Swarm network that is not attachable"
            ),
            "{e}"
        );
    }

    #[test]
    fn scale_and_cordon_need_swarm() {
        let config = Config::default();
        let e = plan(
            Intent::Scale,
            &container(&["a"], None),
            &cluster(),
            &ctx(&config),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "scale needs a Swarm service; redis-1 is a plain container"
        );
        let e = plan(
            Intent::Cordon,
            &container(&["a"], None),
            &cluster(),
            &ctx(&config),
        )
        .unwrap_err();
        assert!(e.starts_with("cordon needs a Swarm node"), "{e}");
    }

    #[test]
    fn remove_uses_the_configured_command() {
        let config = Config::parse(
            "clusters:\n  - name: graph\n    match: {names: ['redis-*']}\n    remove: {exec: ['/remove.sh'], grace: 5s}\n",
            std::path::Path::new("c.yaml"),
        )
        .unwrap();
        let mut member = container(&["a"], None);
        member.placement.handles.config_rule = Some("graph".into());
        let draft = plan(Intent::Remove, &member, &cluster(), &ctx(&config)).unwrap();
        assert!(draft.question().is_none());
        assert!(matches!(
            draft.action(),
            Action::RemoveInstance {
                method: RemoveMethod::Exec {
                    timeout_secs: 5,
                    ..
                },
                ..
            }
        ));
        let draft = plan(
            Intent::Remove,
            &container(&["a"], None),
            &cluster(),
            &ctx(&Config::default()),
        )
        .unwrap();
        assert_eq!(draft.question().unwrap().default, "30s");
    }
}
