//! Drafts for members the Kubernetes source saw: the namespace, pod,
//! StatefulSet and node come from the member's placement, so a draft names
//! exactly the objects the API server will be asked about. The context is
//! not in the draft: the executor acts on the source's current target and
//! writes the context it reached into the fault ledger.

use crate::actions::plan::{Draft, Intent, PlanContext};
use crate::actions::{Action, CordonMode, Instance, Isolation, NodeRef, Workload};
use crate::config::Config;
use crate::model::{Cluster, Member};

use crate::actions::plan::{
    CORDON_TTL_SECS, CUT_OFF_TTL_SECS, GRACE_SECS, heal_after_question, replicas_question,
};
pub fn plan(
    intent: Intent,
    member: &Member,
    cluster: &Cluster,
    ctx: &PlanContext,
) -> Result<Draft, String> {
    match intent {
        Intent::Scale => scale(member, cluster),
        Intent::Cordon => cordon(member),
        Intent::Uncordon => uncordon(member),
        Intent::Disconnect => isolate(member),
        Intent::Remove => remove(member, cluster, ctx.config),
        Intent::Reconnect | Intent::HealAll => {
            Err(format!("{intent} is planned from the fault ledger"))
        }
        Intent::Switchover => Err(format!("{intent} is planned from the application")),
    }
}

fn pod_of(member: &Member, intent: Intent) -> Result<(String, String), String> {
    match (
        member.placement.namespace.as_deref(),
        member.placement.pod.as_deref(),
    ) {
        (Some(ns), Some(pod)) if !ns.is_empty() && !pod.is_empty() => {
            Ok((ns.to_string(), pod.to_string()))
        }
        _ => Err(format!("{intent} needs a pod; {} has none", member.name)),
    }
}

fn statefulset_of(member: &Member) -> Option<&str> {
    member
        .placement
        .service
        .as_deref()
        .or_else(|| {
            let kube = member.placement.handles.kube.as_ref()?;
            kube.statefulset.as_deref()
        })
        .filter(|s| !s.is_empty())
}

fn scale(member: &Member, cluster: &Cluster) -> Result<Draft, String> {
    let (namespace, _) = pod_of(member, Intent::Scale)?;
    let Some(name) = statefulset_of(member) else {
        return Err(format!(
            "scale needs a StatefulSet; pod {} belongs to none",
            member.name
        ));
    };
    // The pods of this StatefulSet the console sees now.
    let current = cluster
        .members
        .iter()
        .filter(|m| {
            statefulset_of(m) == Some(name)
                && m.placement.namespace.as_deref() == Some(namespace.as_str())
        })
        .count() as u64;
    let current = current.max(1);
    let action = Action::Scale {
        member: member.id.clone(),
        workload: Workload::StatefulSet {
            namespace: namespace.clone(),
            name: name.to_string(),
        },
        current: Some(current),
        replicas: current + 1,
    };
    let question = replicas_question(
        format!("Replicas of StatefulSet {namespace}/{name} (now {current})"),
        current + 1,
    );
    Ok(Draft::new(action, vec![question]))
}

fn node_of(member: &Member, intent: Intent) -> Result<String, String> {
    member
        .placement
        .node
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            format!(
                "{intent} needs a node; pod {} is not scheduled on one",
                member.name
            )
        })
}

fn cordon(member: &Member) -> Result<Draft, String> {
    let node = node_of(member, Intent::Cordon)?;
    if member
        .placement
        .handles
        .kube
        .as_ref()
        .is_some_and(|k| k.node_cordoned)
    {
        return Err(format!("node {node} is cordoned already (C uncordons)"));
    }
    let action = Action::Cordon {
        member: member.id.clone(),
        node: NodeRef::KubeNode { name: node },
        // Kubernetes has one strength: no new pods; running ones stay.
        mode: CordonMode::Pause,
        ttl_secs: CORDON_TTL_SECS,
    };
    let question = heal_after_question("Heal (uncordon) after", CORDON_TTL_SECS);
    Ok(Draft::new(action, vec![question]))
}

fn uncordon(member: &Member) -> Result<Draft, String> {
    let node = node_of(member, Intent::Uncordon)?;
    Ok(Draft::new(
        Action::Uncordon {
            member: member.id.clone(),
            node: NodeRef::KubeNode { name: node },
        },
        Vec::new(),
    ))
}

fn isolate(member: &Member) -> Result<Draft, String> {
    let (namespace, pod) = pod_of(member, Intent::Disconnect)?;
    let isolated_by = member.placement.handles.kube.as_ref();
    if let Some(by) = isolated_by
        .and_then(|k| k.isolated_by.as_deref())
        .filter(|v| !v.is_empty())
    {
        return Err(format!(
            "pod {namespace}/{pod} is isolated already (NetworkPolicy {by}; N heals it)"
        ));
    }
    let action = Action::Disconnect {
        member: member.id.clone(),
        isolation: Isolation::KubePod { namespace, pod },
        ttl_secs: CUT_OFF_TTL_SECS,
    };
    let question = heal_after_question("Heal (delete the policy) after", CUT_OFF_TTL_SECS);
    Ok(Draft::new(action, vec![question]))
}

/// The cluster's remove rule: by the config rule the member matched, else
/// by the cluster's id.
fn remove(member: &Member, cluster: &Cluster, config: &Config) -> Result<Draft, String> {
    let (namespace, pod) = pod_of(member, Intent::Remove)?;
    let rule = crate::actions::plan::remove_rule(member, cluster, config);
    let prompt = format!("Grace period for pod {namespace}/{pod}");
    let instance = Instance::KubePod {
        namespace,
        name: pod,
    };
    Ok(crate::actions::plan::remove_draft(
        member, instance, rule, GRACE_SECS, prompt, 0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{KubeHandle, Placement, Platform};

    fn pod(sts: &str, ordinal: u32) -> Member {
        Member {
            id: format!("10.0.0.{ordinal}:10035"),
            name: format!("{sts}-{ordinal}"),
            placement: Placement {
                platform: Some(Platform::Kubernetes),
                namespace: Some("ag".into()),
                pod: Some(format!("{sts}-{ordinal}")),
                service: Some(sts.into()),
                node: Some("node-1".into()),
                ..Placement::default()
            },
            ..Member::default()
        }
    }

    fn cluster(members: Vec<Member>) -> Cluster {
        Cluster {
            id: "kube/ag/ag".into(),
            kind: "kubernetes".into(),
            name: "ag".into(),
            leader: None,
            recorded_leader: None,
            recorded_leader_agrees: None,
            consensus: None,
            leaders_conflict: Vec::new(),
            problem: None,
            members,
        }
    }

    fn ctx(config: &Config) -> PlanContext<'_> {
        PlanContext {
            config,
            faults: &[],
        }
    }

    #[test]
    fn scale_counts_the_statefulsets_pods_and_asks() {
        let config = Config::default();
        let c = cluster(vec![pod("copy", 0), pod("copy", 1), pod("controlling", 0)]);
        let mut draft = plan(Intent::Scale, &pod("copy", 1), &c, &ctx(&config)).unwrap();
        assert_eq!(draft.question().unwrap().default, "3");
        draft.answer("4").unwrap();
        match draft.into_action() {
            Action::Scale {
                workload: Workload::StatefulSet { namespace, name },
                current: Some(2),
                replicas: 4,
                ..
            } => assert_eq!((namespace.as_str(), name.as_str()), ("ag", "copy")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn isolate_asks_how_long_and_describes_the_policy() {
        let config = Config::default();
        let c = cluster(vec![pod("copy", 0)]);
        let mut draft = plan(Intent::Disconnect, &pod("copy", 0), &c, &ctx(&config)).unwrap();
        assert_eq!(draft.question().unwrap().default, "60s");
        draft.answer("2m").unwrap();
        let action = draft.into_action();
        let text = action.describe();
        assert!(text.contains("clusterdeck-isolate-copy-0"), "{text}");
        assert!(
            text.contains("network plugin enforces NetworkPolicy"),
            "{text}"
        );
        assert!(matches!(action, Action::Disconnect { ttl_secs: 120, .. }));
    }

    #[test]
    fn cordon_is_a_fault_with_a_time_to_live() {
        let config = Config::default();
        let c = cluster(vec![pod("copy", 0)]);
        let mut draft = plan(Intent::Cordon, &pod("copy", 0), &c, &ctx(&config)).unwrap();
        draft.answer("30s").unwrap();
        let action = draft.into_action();
        assert!(action.describe().contains("PATCH /api/v1/nodes/node-1"));
        assert!(matches!(action, Action::Cordon { ttl_secs: 30, .. }));
        let mut cordoned = pod("copy", 0);
        cordoned.placement.handles.kube = Some(KubeHandle {
            node_cordoned: true,
            ..KubeHandle::default()
        });
        assert!(plan(Intent::Cordon, &cordoned, &c, &ctx(&config)).is_err());
    }

    #[test]
    fn remove_asks_the_grace_period_or_uses_the_configured_command() {
        let config = Config::default();
        let c = cluster(vec![pod("copy", 0)]);
        let mut draft = plan(Intent::Remove, &pod("copy", 0), &c, &ctx(&config)).unwrap();
        assert_eq!(draft.question().unwrap().default, "30s");
        draft.answer("7s").unwrap();
        let text = draft.action().describe();
        assert!(text.contains(r#"{"gracePeriodSeconds":7}"#), "{text}");
        let config = Config::parse(
            "clusters:\n  - name: graph\n    match: {names: ['copy-*']}\n    remove: {exec: ['/remove.sh'], grace: 5s}\n",
            std::path::Path::new("c.yaml"),
        )
        .unwrap();
        let mut member = pod("copy", 0);
        member.placement.handles.config_rule = Some("graph".into());
        let draft = plan(Intent::Remove, &member, &c, &ctx(&config)).unwrap();
        assert!(draft.question().is_none());
        assert!(draft.action().describe().contains("/exec?"));
    }
}
