//! From a key on the selected member to a draft action, whatever the platform.
//!
//! [`plan`] looks at the member's platform and asks that platform's planner
//! (Docker/Swarm, Kubernetes) to build a [`Draft`]: an [`Action`]
//! with the values still to be asked ([`Question`]s, each with a default and a
//! validation). The UI asks them one by one in a generic prompt and knows
//! nothing of the platform; when the draft has no question left, it becomes
//! an action for the confirm dialog. When the intent does not apply to the
//! member, the planner says why in one sentence.
//!
//! Healing (`N`, `H`) is planned from the fault ledger, so it is the same on
//! every platform: the [`Undo`](super::Undo) in each record knows what to call.
//! A switchover (`F`) is planned from the cluster's application, whatever
//! platform runs it ([`super::switchover::plan`]).

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use super::ledger::{FaultRecord, Undo};
use super::{Action, HealReason, Instance, Isolation, NodeRef, RemoveMethod, Workload};
use crate::config::{Config, RemoveRule};
use crate::model::{Cluster, Member, Platform};

/// What the user asked for with a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intent {
    Scale,
    Cordon,
    Uncordon,
    Disconnect,
    Reconnect,
    Remove,
    HealAll,
    /// Make the member the leader through its application.
    Switchover,
}

impl fmt::Display for Intent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Intent::Scale => "scale",
            Intent::Cordon => "cordon",
            Intent::Uncordon => "uncordon",
            Intent::Disconnect => "disconnect",
            Intent::Reconnect => "reconnect",
            Intent::Remove => "remove",
            Intent::HealAll => "heal",
            Intent::Switchover => "switchover",
        })
    }
}

/// What the planners may look at besides the member.
#[derive(Debug, Clone, Copy)]
pub struct PlanContext<'a> {
    pub config: &'a Config,
    /// The fault ledger as last read.
    pub faults: &'a [FaultRecord],
}

/// The kind of value a question takes, and its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerKind {
    Count {
        min: u64,
        max: u64,
    },
    /// A duration such as `60s` or `2m`, in whole seconds.
    Duration {
        min_secs: u64,
        max_secs: u64,
    },
    Choice(Vec<String>),
}

/// Which part of the draft's action an answer fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Replicas,
    TimeToLive,
    Network,
    CordonMode,
    Grace,
}

/// One question of a draft.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub prompt: String,
    /// Prefilled in the prompt; Enter accepts it.
    pub default: String,
    pub kind: AnswerKind,
    pub field: Field,
}

impl Question {
    pub fn new(
        prompt: impl Into<String>,
        default: impl Into<String>,
        kind: AnswerKind,
        field: Field,
    ) -> Self {
        Question {
            prompt: prompt.into(),
            default: default.into(),
            kind,
            field,
        }
    }

    /// A hint of what is accepted, e.g. `1..100` or `pause | drain`.
    pub fn hint(&self) -> String {
        match &self.kind {
            AnswerKind::Count { min, max } => format!("a number {min}..{max}"),
            AnswerKind::Duration { min_secs, max_secs } => format!(
                "a duration {}..{} (e.g. 60s, 5m)",
                fmt_secs(*min_secs),
                fmt_secs(*max_secs)
            ),
            AnswerKind::Choice(options) => options.join(" | "),
        }
    }

    /// Checks an answer; the error says what is accepted.
    fn parse(&self, text: &str) -> Result<Value, String> {
        let text = text.trim();
        match &self.kind {
            AnswerKind::Count { min, max } => match text.parse::<u64>() {
                Ok(n) if (*min..=*max).contains(&n) => Ok(Value::Number(n)),
                _ => Err(format!("{text:?} is not {}", self.hint())),
            },
            AnswerKind::Duration { min_secs, max_secs } => {
                let secs = humantime::parse_duration(text)
                    .ok()
                    .or_else(|| text.parse::<u64>().ok().map(Duration::from_secs))
                    .map(|d| d.as_secs());
                match secs {
                    Some(s) if (*min_secs..=*max_secs).contains(&s) => Ok(Value::Number(s)),
                    _ => Err(format!("{text:?} is not {}", self.hint())),
                }
            }
            AnswerKind::Choice(options) => options
                .iter()
                .find(|o| o.as_str() == text)
                .map(|o| Value::Text(o.clone()))
                .ok_or_else(|| format!("{text:?} is not one of {}", self.hint())),
        }
    }
}

fn fmt_secs(s: u64) -> String {
    humantime::format_duration(Duration::from_secs(s)).to_string()
}

enum Value {
    Number(u64),
    Text(String),
}

/// An action still being asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    action: Action,
    questions: VecDeque<Question>,
}

impl Draft {
    pub fn new(action: Action, questions: Vec<Question>) -> Draft {
        Draft {
            action,
            questions: questions.into(),
        }
    }

    /// The question to ask now; `None` when the action is complete.
    pub fn question(&self) -> Option<&Question> {
        self.questions.front()
    }

    /// The action as it stands (complete when no question is left).
    pub fn action(&self) -> &Action {
        &self.action
    }

    pub fn into_action(self) -> Action {
        self.action
    }

    /// Takes the answer to the current question; on error, the question stays.
    pub fn answer(&mut self, text: &str) -> Result<(), String> {
        let Some(question) = self.questions.front() else {
            return Ok(());
        };
        let value = question.parse(text)?;
        apply(&mut self.action, question.field, value)?;
        self.questions.pop_front();
        Ok(())
    }
}

/// Writes an answer into the action.
fn apply(action: &mut Action, field: Field, value: Value) -> Result<(), String> {
    match (action, field, value) {
        (Action::Scale { replicas, .. }, Field::Replicas, Value::Number(n)) => *replicas = n,
        (Action::Disconnect { ttl_secs, .. }, Field::TimeToLive, Value::Number(n))
        | (Action::Cordon { ttl_secs, .. }, Field::TimeToLive, Value::Number(n)) => *ttl_secs = n,
        (
            Action::Disconnect {
                isolation: Isolation::DockerNetwork { network, .. },
                ..
            },
            Field::Network,
            Value::Text(t),
        ) => *network = t,
        (Action::Cordon { mode, .. }, Field::CordonMode, Value::Text(t)) => {
            *mode = match t.as_str() {
                "drain" => super::CordonMode::Drain,
                _ => super::CordonMode::Pause,
            }
        }
        (
            Action::RemoveInstance {
                method: RemoveMethod::Terminate { grace_secs },
                ..
            },
            Field::Grace,
            Value::Number(n),
        ) => *grace_secs = n,
        (action, field, _) => {
            return Err(format!(
                "internal: {field:?} does not apply to {}",
                action.name()
            ));
        }
    }
    Ok(())
}

/// Plans `intent` on `member` of `cluster`.
pub fn plan(
    intent: Intent,
    member: &Member,
    cluster: &Cluster,
    ctx: &PlanContext,
) -> Result<Draft, String> {
    match intent {
        Intent::HealAll => return heal_all(ctx.faults),
        Intent::Reconnect => return reconnect(member, ctx.faults),
        // The application decides, whatever platform runs it.
        Intent::Switchover => {
            return super::switchover::plan::plan(member, cluster)
                .map(|action| Draft::new(action, Vec::new()));
        }
        _ => {}
    }
    match member.placement.platform {
        Some(Platform::Docker | Platform::Swarm) => {
            super::docker::plan::plan(intent, member, cluster, ctx)
        }
        Some(Platform::Kubernetes) => super::kube::plan::plan(intent, member, cluster, ctx),
        other => Err(not_applicable(intent, member, other)),
    }
}

/// "scale needs a Swarm service; redis-1 is a plain process".
/// Default time to live of a cut-off: a Docker disconnect, a pod isolation.
pub const CUT_OFF_TTL_SECS: u64 = 60;
/// Default time to live of a cordon done as a fault.
pub const CORDON_TTL_SECS: u64 = 600;
/// Default grace period between SIGTERM and SIGKILL when removing an instance.
pub const GRACE_SECS: u64 = 30;
/// Longest time to live a question accepts: faults are for demos and drills.
const MAX_TTL_SECS: u64 = 24 * 3600;
/// Most replicas the scale question accepts.
const MAX_REPLICAS: u64 = 1000;

/// "How many replicas?", the same on every platform.
pub fn replicas_question(prompt: String, default: u64) -> Question {
    Question::new(
        prompt,
        default.to_string(),
        AnswerKind::Count {
            min: 0,
            max: MAX_REPLICAS,
        },
        Field::Replicas,
    )
}

/// "Heal after how long?" for a fault, prefilled with `default_secs`.
pub fn heal_after_question(prompt: &str, default_secs: u64) -> Question {
    // Whole minutes read better from ten minutes up; below, seconds.
    let default = if default_secs >= 600 && default_secs.is_multiple_of(60) {
        format!("{}m", default_secs / 60)
    } else {
        format!("{default_secs}s")
    };
    Question::new(
        prompt,
        default,
        AnswerKind::Duration {
            min_secs: 1,
            max_secs: MAX_TTL_SECS,
        },
        Field::TimeToLive,
    )
}

/// The config's remove rule for a member: the rule the platform source
/// assigned it by (its `config_rule` handle), else its cluster's.
pub fn remove_rule<'a>(
    member: &Member,
    cluster: &Cluster,
    config: &'a Config,
) -> Option<&'a RemoveRule> {
    let by_name = member
        .placement
        .handles
        .config_rule
        .as_ref()
        .and_then(|name| config.clusters.iter().find(|r| &r.name == name));
    by_name
        .or_else(|| config.rule_for_cluster(&cluster.id))
        .and_then(|r| r.remove.as_ref())
}

/// Remove-instance, the same on every platform: the configured command when
/// there is one (nothing more to ask), else SIGTERM with the grace period
/// asked (`prompt`), never SIGKILL first.
pub fn remove_draft(
    member: &Member,
    instance: Instance,
    rule: Option<&RemoveRule>,
    default_grace_secs: u64,
    prompt: String,
    min_grace_secs: u64,
) -> Draft {
    let grace = rule.map_or(default_grace_secs, |r| r.grace.as_secs());
    if let Some(command) = rule.and_then(|r| r.exec.clone()) {
        let method = RemoveMethod::Exec {
            command,
            timeout_secs: grace,
        };
        let action = Action::RemoveInstance {
            member: member.id.clone(),
            instance,
            method,
        };
        return Draft::new(action, Vec::new());
    }
    let action = Action::RemoveInstance {
        member: member.id.clone(),
        instance,
        method: RemoveMethod::Terminate { grace_secs: grace },
    };
    let question = Question::new(
        prompt,
        format!("{grace}s"),
        AnswerKind::Duration {
            min_secs: min_grace_secs,
            max_secs: 3600,
        },
        Field::Grace,
    );
    Draft::new(action, vec![question])
}

fn not_applicable(intent: Intent, member: &Member, platform: Option<Platform>) -> String {
    let what = match platform {
        Some(Platform::Process) | None => {
            "a plain process (no platform source sees it)".to_string()
        }
        Some(Platform::Simulated) => "simulated".to_string(),
        Some(p) => format!("on {p}, which has no {intent} action yet"),
    };
    let needs = match intent {
        Intent::Scale => "a Swarm service or a StatefulSet",
        Intent::Cordon | Intent::Uncordon => "a Swarm or Kubernetes node",
        Intent::Disconnect | Intent::Remove => "a container or a pod",
        Intent::Reconnect | Intent::HealAll => "a fault",
        Intent::Switchover => "Patroni, etcd or Redis",
    };
    format!("{intent} needs {needs}; {} is {what}", member.name)
}

/// Faults held on this member: by member id, else by the object it is held on.
pub fn faults_on<'a>(member: &Member, faults: &'a [FaultRecord]) -> Vec<&'a FaultRecord> {
    faults
        .iter()
        .filter(|f| {
            f.member == member.id
                || member.placement.container.as_deref() == Some(f.target.as_str())
                || member.placement.pod.as_deref() == Some(f.target.as_str())
                || member.name == f.target
        })
        .collect()
}

fn reconnect(member: &Member, faults: &[FaultRecord]) -> Result<Draft, String> {
    let held: Vec<&FaultRecord> = faults_on(member, faults)
        .into_iter()
        .filter(|f| {
            matches!(
                f.undo,
                Undo::DockerReconnect { .. } | Undo::KubeDeleteNetworkPolicy { .. }
            )
        })
        .collect();
    if held.is_empty() {
        return Err(format!(
            "{} holds no disconnect fault of this console (n disconnects)",
            member.name
        ));
    }
    Ok(Draft::new(
        heal_action(Some(member.id.clone()), &held, HealReason::Asked),
        Vec::new(),
    ))
}

fn heal_all(faults: &[FaultRecord]) -> Result<Draft, String> {
    if faults.is_empty() {
        return Err("no faults to heal: the ledger is empty".into());
    }
    let all: Vec<&FaultRecord> = faults.iter().collect();
    Ok(Draft::new(
        heal_action(None, &all, HealReason::Asked),
        Vec::new(),
    ))
}

/// The action that undoes `faults`.
pub fn heal_action(member: Option<String>, faults: &[&FaultRecord], reason: HealReason) -> Action {
    Action::Heal {
        member,
        faults: faults.iter().map(|f| f.id.clone()).collect(),
        summaries: faults
            .iter()
            .map(|f| format!("{} [{}]", f.undo.summary(), f.id))
            .collect(),
        reason,
    }
}

/// A Swarm service as a scale target (used by the Docker planner; public so
/// tests and other platforms can build the same shapes).
pub fn swarm_service(id: &str, name: &str) -> Workload {
    Workload::SwarmService {
        id: id.into(),
        name: name.into(),
    }
}

/// A Swarm node as a cordon target.
pub fn swarm_node(id: &str, hostname: &str) -> NodeRef {
    NodeRef::SwarmNode {
        id: id.into(),
        hostname: hostname.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Placement;

    fn member(platform: Option<Platform>) -> Member {
        Member {
            id: "10.0.0.2:6379".into(),
            name: "redis-1".into(),
            placement: Placement {
                platform,
                ..Placement::default()
            },
            ..Member::default()
        }
    }

    fn cluster() -> Cluster {
        Cluster {
            id: "c".into(),
            kind: "redis".into(),
            name: "c".into(),
            leader: None,
            recorded_leader: None,
            recorded_leader_agrees: None,
            consensus: None,
            leaders_conflict: Vec::new(),
            problem: None,
            members: Vec::new(),
        }
    }

    #[test]
    fn an_intent_that_does_not_apply_says_why() {
        let config = Config::default();
        let ctx = PlanContext {
            config: &config,
            faults: &[],
        };
        let e = plan(
            Intent::Scale,
            &member(Some(Platform::Process)),
            &cluster(),
            &ctx,
        )
        .unwrap_err();
        assert_eq!(
            e,
            "scale needs a Swarm service or a StatefulSet; redis-1 is a plain process (no platform source sees it)"
        );
        let e = plan(Intent::Reconnect, &member(None), &cluster(), &ctx).unwrap_err();
        assert!(e.contains("no disconnect fault"), "{e}");
        let e = plan(Intent::HealAll, &member(None), &cluster(), &ctx).unwrap_err();
        assert!(e.contains("ledger is empty"), "{e}");
    }

    #[test]
    fn questions_validate_and_fill_the_action() {
        let action = Action::Scale {
            member: "m".into(),
            workload: swarm_service("id", "svc"),
            current: Some(1),
            replicas: 1,
        };
        let q = Question::new(
            "Replicas",
            "1",
            AnswerKind::Count { min: 0, max: 100 },
            Field::Replicas,
        );
        let mut draft = Draft::new(action, vec![q]);
        assert!(draft.answer("many").unwrap_err().contains("0..100"));
        assert!(draft.answer("101").is_err());
        assert!(
            draft.question().is_some(),
            "a wrong answer keeps the question"
        );
        draft.answer(" 3 ").unwrap();
        assert!(draft.question().is_none());
        assert!(matches!(
            draft.into_action(),
            Action::Scale { replicas: 3, .. }
        ));
    }

    #[test]
    fn durations_accept_units_and_bare_seconds() {
        let q = Question::new(
            "For how long",
            "60s",
            AnswerKind::Duration {
                min_secs: 1,
                max_secs: 3600,
            },
            Field::TimeToLive,
        );
        assert!(matches!(q.parse("2m"), Ok(Value::Number(120))));
        assert!(matches!(q.parse("45"), Ok(Value::Number(45))));
        assert!(q.parse("0s").is_err());
        assert!(q.parse("2h").is_err());
    }

    #[test]
    fn reconnect_heals_a_pods_isolation_from_the_ledger() {
        let now = time::OffsetDateTime::now_utc();
        let fault = FaultRecord {
            id: "fault-1".into(),
            run: "r".into(),
            member: "10.0.0.9:10035".into(),
            target: "copy-1".into(),
            summary: "isolated".into(),
            injected_at: now,
            expires_at: now,
            undo: Undo::KubeDeleteNetworkPolicy {
                context: Some("prod".into()),
                kubeconfig: None,
                namespace: "ag".into(),
                policy: "clusterdeck-isolate-copy-1".into(),
            },
        };
        let config = Config::default();
        let faults = [fault];
        let ctx = PlanContext {
            config: &config,
            faults: &faults,
        };
        // The member's address changed; its pod is what the fault is held on.
        let mut m = member(Some(Platform::Kubernetes));
        m.placement.pod = Some("copy-1".into());
        let draft = plan(Intent::Reconnect, &m, &cluster(), &ctx).unwrap();
        let text = draft.action().describe();
        assert!(
            text.contains("delete NetworkPolicy ag/clusterdeck-isolate-copy-1 (context prod)"),
            "{text}"
        );
    }
}
