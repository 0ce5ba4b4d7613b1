//! What changed, and when: the difference between two topologies as events,
//! plus the actions and faults the console itself caused.
//!
//! A failover is a leader change. The time a cluster spent without a healthy
//! leader is measured from the first topology that showed none to the first
//! that showed one again, so its resolution is the sources' poll interval.

use std::collections::{BTreeMap, VecDeque};

use foldhash::{HashMap, HashMapExt, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::Timestamp;
use super::member::{Link, Member, Tier};
use super::topology::{Cluster, Topology};

/// Kinds of timeline events; the names are part of the `watch --events` contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Another member leads now (details: `from`, `to`, `leaderless_ms`,
    /// and `term` where the system has one).
    LeaderChanged,
    /// The cluster has no healthy leader any more (details: `previous`).
    LeaderLost,
    /// The same leader is back after a time without one.
    LeaderRestored,
    LinkDown,
    LinkUp,
    MemberAdded,
    MemberRemoved,
    HealthChanged,
    TierChanged,
    /// More than one member claims to lead the cluster (two Redis masters,
    /// two raft leaders): details `members` (ids), `leader` (who the
    /// console shows as leader). Again when the set of claimants changes.
    LeadersConflict,
    /// One leader again after a conflict (details: `leader`).
    LeadersAgree,
    /// A new raft term or epoch with the same leader (an election that
    /// re-elected it; details: `from`, `to`).
    TermChanged,
    /// The registry's recorded leader is not the observed one.
    RegistryMismatch,
    RegistryAgrees,
    SourceError,
    SourceRecovered,
    ActionRequested,
    ActionSucceeded,
    ActionFailed,
    FaultInjected,
    FaultHealed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LeaderChanged => "leader_changed",
            EventKind::LeaderLost => "leader_lost",
            EventKind::LeaderRestored => "leader_restored",
            EventKind::LinkDown => "link_down",
            EventKind::LinkUp => "link_up",
            EventKind::MemberAdded => "member_added",
            EventKind::MemberRemoved => "member_removed",
            EventKind::HealthChanged => "health_changed",
            EventKind::TierChanged => "tier_changed",
            EventKind::LeadersConflict => "leaders_conflict",
            EventKind::LeadersAgree => "leaders_agree",
            EventKind::TermChanged => "term_changed",
            EventKind::RegistryMismatch => "registry_mismatch",
            EventKind::RegistryAgrees => "registry_agrees",
            EventKind::SourceError => "source_error",
            EventKind::SourceRecovered => "source_recovered",
            EventKind::ActionRequested => "action_requested",
            EventKind::ActionSucceeded => "action_succeeded",
            EventKind::ActionFailed => "action_failed",
            EventKind::FaultInjected => "fault_injected",
            EventKind::FaultHealed => "fault_healed",
        }
    }
}

/// One line of `watch --events` and one row of the timeline pane.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Event {
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    pub kind: EventKind,
    pub cluster: Option<String>,
    pub member: Option<String>,
    pub details: BTreeMap<String, Value>,
    /// From an earlier run, read back from the state directory.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub history: bool,
}

impl Event {
    pub fn new(at: Timestamp, kind: EventKind) -> Self {
        Event {
            at,
            kind,
            cluster: None,
            member: None,
            history: false,
            details: BTreeMap::new(),
        }
    }

    pub fn cluster(mut self, id: &str) -> Self {
        self.cluster = Some(id.to_string());
        self
    }

    pub fn member(mut self, id: &str) -> Self {
        self.member = Some(id.to_string());
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// A one-line human summary for the timeline pane.
    pub fn summary(&self) -> String {
        let d = |k: &str| self.text(k);
        let named = |name_key: &str, id_key: &str| self.named(name_key, id_key);
        let member = match self.details.get("name") {
            Some(Value::String(name)) => name.as_str(),
            _ => self.member.as_deref().unwrap_or("-"),
        };
        match self.kind {
            EventKind::LeaderChanged => format!(
                "{} -> {} ({} without leader{})",
                named("from_name", "from"),
                named("to_name", "to"),
                format_ms(self.details.get("leaderless_ms")),
                self.term_suffix()
            ),
            EventKind::TermChanged => format!("term {} -> {} (same leader)", d("from"), d("to")),
            EventKind::LeaderLost => format!("was {}", named("previous_name", "previous")),
            EventKind::LeaderRestored => format!(
                "{} back ({} without leader)",
                named("to_name", "to"),
                format_ms(self.details.get("leaderless_ms"))
            ),
            EventKind::LinkDown | EventKind::LinkUp | EventKind::MemberRemoved => {
                member.to_string()
            }
            EventKind::MemberAdded => format!("{member} ({})", d("tier")),
            EventKind::HealthChanged => format!("{member} {} -> {}", d("from"), d("to")),
            EventKind::TierChanged => format!("{member} {} -> {}", d("from"), d("to")),
            EventKind::LeadersConflict | EventKind::LeadersAgree => self.conflict_summary(),
            EventKind::RegistryMismatch => {
                format!("records {}, observed {}", d("recorded"), d("observed"))
            }
            EventKind::RegistryAgrees => format!("records {}, as observed", d("recorded")),
            EventKind::SourceError => format!("{}: {}", d("source"), d("error")),
            EventKind::SourceRecovered => d("source"),
            EventKind::ActionRequested
            | EventKind::ActionSucceeded
            | EventKind::ActionFailed
            | EventKind::FaultInjected
            | EventKind::FaultHealed => {
                format!("{}: {}", d("action"), d("message"))
            }
        }
    }
}

impl Event {
    /// A detail as text, `-` when absent.
    fn text(&self, key: &str) -> String {
        match self.details.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => "-".to_string(),
            Some(v) => v.to_string(),
        }
    }

    /// Members are named as people know them (a pod name) when a source
    /// gave a name; the id (the address) otherwise.
    fn named(&self, name_key: &str, id_key: &str) -> String {
        match self.details.get(name_key) {
            Some(Value::String(s)) => s.clone(),
            _ => self.text(id_key),
        }
    }

    /// The summary for a narrow pane: what matters first (the new leader,
    /// the time without one), what is left after.
    pub fn short_summary(&self) -> String {
        let leaderless = format_ms(self.details.get("leaderless_ms"));
        match self.kind {
            EventKind::LeaderChanged => format!(
                "{} ({leaderless} leaderless{}, was {})",
                self.named("to_name", "to"),
                self.term_suffix(),
                self.named("from_name", "from")
            ),
            EventKind::LeaderRestored => {
                format!(
                    "{} back ({leaderless} leaderless)",
                    self.named("to_name", "to")
                )
            }
            _ => self.summary(),
        }
    }

    /// `, term 7` when the event carries a term.
    fn term_suffix(&self) -> String {
        self.details
            .get("term")
            .and_then(Value::as_u64)
            .map_or_else(String::new, |t| format!(", term {t}"))
    }

    /// `2 members claim to lead: a, b` / `one leader again: a`.
    fn conflict_summary(&self) -> String {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or("-").to_string();
        if self.kind == EventKind::LeadersAgree {
            return format!("one leader again: {}", text(self.details.get("leader")));
        }
        let members = self.details.get("members").and_then(Value::as_array);
        let words: Vec<&str> = members
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        format!(
            "{} members claim to lead: {}",
            words.len(),
            words.join(", ")
        )
    }
}

fn format_ms(value: Option<&Value>) -> String {
    match value.and_then(Value::as_u64) {
        Some(ms) => format!("{:.1}s", ms as f64 / 1000.0),
        None => "?".to_string(),
    }
}

#[derive(Debug, Default, Clone)]
struct LeaderState {
    current: Option<String>,
    term: Option<u64>,
    last: Option<String>,
    leaderless_since: Option<Timestamp>,
}

/// Bounded history of events, and what it needs to remember between topologies.
#[derive(Debug, Clone)]
pub struct Timeline {
    events: VecDeque<Event>,
    capacity: usize,
    leaders: HashMap<String, LeaderState>,
    /// Events pushed since the start, history excluded (to know which are new).
    pushed: u64,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::with_capacity(2000)
    }
}

impl Timeline {
    pub fn with_capacity(capacity: usize) -> Self {
        Timeline {
            events: VecDeque::new(),
            capacity: capacity.max(1),
            leaders: HashMap::new(),
            pushed: 0,
        }
    }

    /// Puts earlier runs' events before this run's, marked as history.
    pub fn prepend_history(&mut self, history: Vec<Event>) {
        let room = self.capacity.saturating_sub(self.events.len());
        let skip = history.len().saturating_sub(room);
        for mut event in history.into_iter().skip(skip).rev() {
            event.history = true;
            self.events.push_front(event);
        }
    }

    /// How many events this run has pushed so far.
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// This run's events pushed after the first `seen` ones (those still kept).
    pub fn pushed_since(&self, seen: u64) -> impl Iterator<Item = &Event> {
        let new = usize::try_from(self.pushed.saturating_sub(seen)).unwrap_or(usize::MAX);
        let skip = self.events.len().saturating_sub(new);
        self.events.iter().skip(skip).filter(|e| !e.history)
    }

    /// Events, oldest first.
    pub fn events(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.events.iter()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Since when a cluster has had no healthy leader, if it has none now.
    pub fn leaderless_since(&self, cluster: &str) -> Option<Timestamp> {
        self.leaders.get(cluster).and_then(|s| s.leaderless_since)
    }

    /// Appends an event the console caused (an action, a fault).
    pub fn push(&mut self, event: Event) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(event);
        self.pushed += 1;
    }

    /// Records what changed from `old` to `new` and returns the new events.
    pub fn observe(&mut self, old: &Topology, new: &Topology, now: Timestamp) -> Vec<Event> {
        let mut out = Vec::new();
        source_events(old, new, now, &mut out);
        // By id: thousands of clusters are not searched once per cluster.
        let before_by_id: HashMap<&str, &Cluster> =
            old.clusters.iter().map(|c| (c.id.as_str(), c)).collect();
        for cluster in &new.clusters {
            let before = before_by_id.get(cluster.id.as_str()).copied();
            member_events(before, cluster, now, &mut out);
            self.leader_events(before.is_none(), cluster, now, &mut out);
            registry_events(before, cluster, now, &mut out);
            conflict_events(before, cluster, now, &mut out);
        }
        let now_ids: HashSet<&str> = new.clusters.iter().map(|c| c.id.as_str()).collect();
        for gone in old
            .clusters
            .iter()
            .filter(|c| !now_ids.contains(c.id.as_str()))
        {
            for member in &gone.members {
                out.push(removed(gone, member, now));
            }
            self.leaders.remove(&gone.id);
        }
        if !out.is_empty() {
            let names = member_names(old, new);
            for event in &mut out {
                name_members(event, &names);
            }
        }
        for event in &out {
            self.push(event.clone());
        }
        out
    }

    fn leader_events(
        &mut self,
        is_new: bool,
        cluster: &Cluster,
        now: Timestamp,
        out: &mut Vec<Event>,
    ) {
        let state = super::slot(&mut self.leaders, &cluster.id);
        let next = cluster.leader.as_deref();
        let term = cluster.consensus.as_ref().and_then(|c| c.term);
        let previous_term = state.term;
        state.term = term.or(previous_term);
        if !is_new && state.current.as_deref() == next {
            out.extend(term_changed(cluster, next, previous_term, term, now));
            return;
        }
        match next {
            None => state.lost(cluster, now, out),
            Some(leader) => state.found(leader.to_string(), term, is_new, cluster, now, out),
        }
    }
}

impl LeaderState {
    /// No healthy leader now: `leader_lost` if there was one.
    fn lost(&mut self, cluster: &Cluster, now: Timestamp, out: &mut Vec<Event>) {
        if let Some(previous) = self.current.take() {
            out.push(
                Event::new(now, EventKind::LeaderLost)
                    .cluster(&cluster.id)
                    .member(&previous)
                    .detail("previous", previous.clone()),
            );
            self.last = Some(previous);
        }
        // A cluster that never had a leader and has no master tier
        // (a StatefulSet whose roles nobody knows) is not leaderless:
        // who leads is unknown there, not missing.
        let expects_leader =
            self.last.is_some() || cluster.members.iter().any(|m| m.tier == Tier::Master);
        if expects_leader {
            self.leaderless_since.get_or_insert(now);
        }
    }

    /// A leader now: changed, or back after a time without one.
    fn found(
        &mut self,
        leader: String,
        term: Option<u64>,
        is_new: bool,
        cluster: &Cluster,
        now: Timestamp,
        out: &mut Vec<Event>,
    ) {
        let leaderless_ms = self
            .leaderless_since
            .take()
            .map(|since| (now - since).whole_milliseconds().max(0) as u64);
        let previous = self.current.clone().or_else(|| self.last.clone());
        if !is_new {
            let kind = if previous.as_deref() == Some(leader.as_str()) {
                EventKind::LeaderRestored
            } else {
                EventKind::LeaderChanged
            };
            let mut event = Event::new(now, kind)
                .cluster(&cluster.id)
                .member(&leader)
                .detail("from", previous.map_or(Value::Null, Value::from))
                .detail("to", leader.clone())
                .detail("leaderless_ms", leaderless_ms.unwrap_or(0));
            if let Some(term) = term {
                event = event.detail("term", term);
            }
            out.push(event);
        }
        self.current = Some(leader.clone());
        self.last = Some(leader);
    }
}

/// A new term under the same leader: it was re-elected.
fn term_changed(
    cluster: &Cluster,
    leader: Option<&str>,
    from: Option<u64>,
    to: Option<u64>,
    now: Timestamp,
) -> Option<Event> {
    let (from, to, leader) = (from?, to?, leader?);
    (to > from).then(|| {
        Event::new(now, EventKind::TermChanged)
            .cluster(&cluster.id)
            .member(leader)
            .detail("from", from)
            .detail("to", to)
    })
}

/// Member names that differ from their ids (a pod name for an address), as
/// known before or after the change.
fn member_names<'a>(old: &'a Topology, new: &'a Topology) -> HashMap<&'a str, &'a str> {
    old.clusters
        .iter()
        .chain(&new.clusters)
        .flat_map(|c| &c.members)
        .filter(|m| m.name != m.id && !m.name.is_empty())
        .map(|m| (m.id.as_str(), m.name.as_str()))
        .collect()
}

/// Adds `name` (the member's), and `from_name`, `to_name`, `previous_name`
/// beside the ids a leader event carries, for people and the summary.
fn name_members(event: &mut Event, names: &HashMap<&str, &str>) {
    if let Some(name) = event.member.as_deref().and_then(|id| names.get(id)) {
        event.details.insert("name".into(), Value::from(*name));
    }
    for (id_key, name_key) in [
        ("from", "from_name"),
        ("to", "to_name"),
        ("previous", "previous_name"),
    ] {
        let name = match event.details.get(id_key) {
            Some(Value::String(id)) => names.get(id.as_str()).copied(),
            _ => None,
        };
        if let Some(name) = name {
            event.details.insert(name_key.into(), Value::from(name));
        }
    }
}

fn source_events(old: &Topology, new: &Topology, now: Timestamp, out: &mut Vec<Event>) {
    for source in &new.sources {
        let before = old.sources.iter().find(|s| s.id == source.id);
        let was_error = before.is_some_and(|s| s.is_error());
        let same_error = before.is_some_and(|s| s.error == source.error);
        if source.is_error() && !(was_error && same_error) {
            out.push(
                Event::new(now, EventKind::SourceError)
                    .detail("source", source.id.clone())
                    .detail("target", source.target.clone())
                    .detail("error", source.error.clone().unwrap_or_default()),
            );
        } else if was_error && source.status == "ok" {
            out.push(
                Event::new(now, EventKind::SourceRecovered)
                    .detail("source", source.id.clone())
                    .detail("target", source.target.clone()),
            );
        }
    }
}

fn member_events(
    before: Option<&Cluster>,
    cluster: &Cluster,
    now: Timestamp,
    out: &mut Vec<Event>,
) {
    let old_members = Members::of(before.map_or(&[][..], |c| &c.members));
    for (i, member) in cluster.members.iter().enumerate() {
        let at = |kind| {
            Event::new(now, kind)
                .cluster(&cluster.id)
                .member(&member.id)
        };
        match old_members.get(i, &member.id) {
            None => out.push(added(at(EventKind::MemberAdded), member)),
            Some(old) => member_changes(old, member, at, out),
        }
    }
    if let Some(before) = before {
        let new_members = Members::of(&cluster.members);
        for (i, member) in before.members.iter().enumerate() {
            // What `Cluster::member` finds: an id, or an address (a member
            // now known by a longer-lived identity is not gone).
            if new_members.get(i, &member.id).is_none()
                && new_members.by_address(&member.id).is_none()
            {
                out.push(removed(cluster, member, now));
            }
        }
    }
}

/// One cluster's members looked up by id, at the same place first: between
/// two reports members rarely move, and most clusters are a handful, so
/// a map is built only for a large cluster whose members moved.
struct Members<'a> {
    members: &'a [Member],
    map: std::cell::OnceCell<HashMap<&'a str, &'a Member>>,
}

impl<'a> Members<'a> {
    fn of(members: &'a [Member]) -> Self {
        Members {
            members,
            map: std::cell::OnceCell::new(),
        }
    }

    fn get(&self, hint: usize, id: &str) -> Option<&'a Member> {
        match self.members.get(hint) {
            Some(m) if m.id == id => Some(m),
            _ if self.members.len() <= 16 => self.members.iter().find(|m| m.id == id),
            _ => self
                .map
                .get_or_init(|| self.members.iter().map(|m| (m.id.as_str(), m)).collect())
                .get(id)
                .copied(),
        }
    }

    fn by_address(&self, address: &str) -> Option<&'a Member> {
        self.members
            .iter()
            .find(|m| m.address.as_deref() == Some(address))
    }
}

fn or_null(value: &Option<String>) -> Value {
    value.clone().map_or(Value::Null, Value::from)
}

fn added(event: Event, member: &Member) -> Event {
    event
        .detail("tier", member.tier.as_str())
        .detail("native_role", or_null(&member.native_role))
        .detail("address", or_null(&member.address))
}

/// What changed on a member seen before: tier, health, replication link.
fn member_changes(
    old: &Member,
    member: &Member,
    at: impl Fn(EventKind) -> Event,
    out: &mut Vec<Event>,
) {
    if old.tier != member.tier {
        out.push(
            at(EventKind::TierChanged)
                .detail("from", old.tier.as_str())
                .detail("to", member.tier.as_str())
                .detail("native_role", or_null(&member.native_role)),
        );
    }
    if old.health != member.health {
        out.push(
            at(EventKind::HealthChanged)
                .detail("from", old.health.as_str())
                .detail("to", member.health.as_str())
                .detail("error", or_null(&member.error)),
        );
    }
    match (old.link, member.link) {
        (Some(Link::Up) | None, Some(Link::Down)) => out.push(at(EventKind::LinkDown)),
        (Some(Link::Down), Some(Link::Up)) => out.push(at(EventKind::LinkUp)),
        _ => {}
    }
}

fn removed(cluster: &Cluster, member: &Member, now: Timestamp) -> Event {
    Event::new(now, EventKind::MemberRemoved)
        .cluster(&cluster.id)
        .member(&member.id)
        .detail("tier", member.tier.as_str())
}

fn registry_events(
    before: Option<&Cluster>,
    cluster: &Cluster,
    now: Timestamp,
    out: &mut Vec<Event>,
) {
    let was = before.and_then(|c| c.recorded_leader_agrees);
    let recorded = cluster.recorded_leader.as_ref().map(|r| r.address.clone());
    let observed = cluster.leader_member().and_then(|m| m.address.clone());
    let event = |kind| {
        Event::new(now, kind)
            .cluster(&cluster.id)
            .detail(
                "recorded",
                recorded.clone().map_or(Value::Null, Value::from),
            )
            .detail(
                "observed",
                observed.clone().map_or(Value::Null, Value::from),
            )
    };
    match (was, cluster.recorded_leader_agrees) {
        (Some(true) | None, Some(false)) => out.push(event(EventKind::RegistryMismatch)),
        (Some(false), Some(true)) => out.push(event(EventKind::RegistryAgrees)),
        _ => {}
    }
}

/// A conflict appears (or its claimants change), or it clears.
fn conflict_events(
    before: Option<&Cluster>,
    cluster: &Cluster,
    now: Timestamp,
    out: &mut Vec<Event>,
) {
    let was: &[String] = before.map_or(&[], |c| &c.leaders_conflict);
    let is = &cluster.leaders_conflict;
    if was == is.as_slice() {
        return;
    }
    let leader = cluster.leader.clone().map_or(Value::Null, Value::from);
    let event = if is.is_empty() {
        Event::new(now, EventKind::LeadersAgree)
    } else {
        Event::new(now, EventKind::LeadersConflict).detail("members", is.clone())
    };
    out.push(event.cluster(&cluster.id).detail("leader", leader));
}

/// Builds the JSON object of an action or fault event.
pub fn action_event(now: Timestamp, kind: EventKind, action: &str, message: &str) -> Event {
    Event::new(now, kind)
        .detail("action", action)
        .detail("message", message)
}
