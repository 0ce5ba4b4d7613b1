//! The application state: one owner, fed by messages. Sources' reports and
//! actions' outcomes come in; the topology, timeline and lag history are
//! rebuilt here. The UI only reads this; its own state (selection, focus,
//! dialogs) is a separate [`crate::ui::UiState`] that the console loop owns
//! beside it, so the headless modes carry no UI at all.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::actions::plan::{faults_on, heal_action};
use crate::actions::{Action, ActionOutcome, FaultRecord, HealReason};
use crate::config::Config;
use crate::model::records;
use crate::model::timeline::action_event;
use crate::model::{
    Event, EventKind, LagHistory, SourceKind, SourceReport, SourceStatus, Timeline, Timestamp,
    Topology,
};

/// What the header shows besides the sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderInfo {
    pub interval: Duration,
    pub read_only: bool,
    /// The data is simulated (`--sim`, or the lab fell back to it).
    pub simulated: bool,
    /// The console runs on `clusterdeck lab`: lab keys are active.
    pub lab: bool,
    /// A line to show under the header (e.g. why the lab is simulated).
    pub notice: Option<String>,
}

/// A source as it is started, before it has said anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLabel {
    pub id: String,
    pub kind: SourceKind,
    pub target: String,
}

/// Everything the console knows and shows.
#[derive(Debug)]
pub struct AppState {
    pub header: HeaderInfo,
    /// The latest report of each source, in the order the sources were started.
    pub reports: Vec<SourceReport>,
    pub topology: Topology,
    /// Bumped whenever the topology shows something new (see
    /// [`Topology::same_view`]): the console redraws for a report only then,
    /// and what is derived from it (the filtered clusters) is recomputed
    /// only then.
    pub generation: u64,
    pub timeline: Timeline,
    pub lag: LagHistory,
    /// The time of the last update, for "no leader for 3.2s".
    pub now: Timestamp,
    /// The cluster config (`--config`), for the action planners.
    pub config: Arc<Config>,
    /// The fault ledger as last read; members show the faults held on them.
    pub faults: Vec<FaultRecord>,
    /// This console run's id in the ledger, when it can inject faults.
    pub run: Option<String>,
    /// Sources that have not sent a real report yet; the timeline starts
    /// once this is empty so that start-up is not reported as changes.
    waiting_for: Vec<String>,
    /// Sources replaced by another (`:ctx`, `:ns`): their late reports are dropped.
    retired: Vec<String>,
    /// Faults whose heal was requested and has not answered yet.
    healing: HashSet<String>,
}

impl AppState {
    pub fn new(header: HeaderInfo, sources: Vec<SourceLabel>, now: Timestamp) -> Self {
        let reports: Vec<SourceReport> = sources
            .into_iter()
            .map(|s| SourceReport {
                source: s.id,
                kind: s.kind,
                target: s.target,
                status: SourceStatus::Connecting,
                at: now,
                clusters: Vec::new(),
                members: Vec::new(),
                notes: Vec::new(),
            })
            .collect();
        let waiting_for = reports.iter().map(|r| r.source.clone()).collect();
        AppState {
            header,
            topology: Topology::merge(&reports),
            generation: 0,
            reports,
            timeline: Timeline::default(),
            lag: LagHistory::default(),
            now,
            config: Arc::new(Config::default()),
            faults: Vec::new(),
            run: None,
            waiting_for,
            retired: Vec::new(),
            healing: HashSet::new(),
        }
    }

    /// Replaces a source by another (a Kubernetes source switched to another
    /// context or namespace): what the old one said goes, the new one starts
    /// as connecting, and reports still on their way from the old one are
    /// ignored.
    pub fn replace_source(&mut self, old: &str, new: SourceLabel, now: Timestamp) -> Vec<Event> {
        self.retired.push(old.to_string());
        let fresh = SourceReport {
            source: new.id,
            kind: new.kind,
            target: new.target,
            status: SourceStatus::Connecting,
            at: now,
            clusters: Vec::new(),
            members: Vec::new(),
            notes: Vec::new(),
        };
        match self.reports.iter_mut().find(|r| r.source == old) {
            Some(slot) => *slot = fresh,
            None => self.reports.push(fresh),
        }
        let next = self.merged(now);
        let events = self.timeline.observe(&self.topology, &next, now);
        self.topology = next;
        self.generation += 1;
        events
    }

    /// The reports merged, with what records mean over time carried over
    /// (a record that disagrees for two intervals is a conflict).
    fn merged(&self, now: Timestamp) -> Topology {
        let mut next = Topology::merge(&self.reports);
        records::carry(&self.topology, &mut next, now, self.header.interval * 2);
        next
    }

    /// Takes a source's report; returns the timeline events it caused.
    pub fn apply_report(&mut self, report: SourceReport, now: Timestamp) -> Vec<Event> {
        self.apply_reports(vec![report], now)
    }

    /// Takes several sources' reports and merges once: thirty Redis groups
    /// polled together are one merge and one frame, not thirty. Returns the
    /// timeline events they caused together.
    pub fn apply_reports(&mut self, reports: Vec<SourceReport>, now: Timestamp) -> Vec<Event> {
        self.now = now;
        let was_started = self.is_started();
        let mut taken = false;
        for report in reports {
            if self.retired.contains(&report.source) {
                continue;
            }
            taken = true;
            self.waiting_for.retain(|id| *id != report.source);
            match self.reports.iter_mut().find(|r| r.source == report.source) {
                Some(slot) => *slot = report,
                None => self.reports.push(report),
            }
        }
        if !taken {
            return Vec::new();
        }
        let next = self.merged(now);
        self.lag.record(&next, now);
        let events = match (was_started, self.is_started()) {
            (true, _) => self.timeline.observe(&self.topology, &next, now),
            // The first full view is described from nothing: what is there,
            // not what changed while the sources were starting.
            (false, true) => self.timeline.observe(&Topology::default(), &next, now),
            (false, false) => Vec::new(),
        };
        // Faults are marked on the new members before comparing: the old
        // ones carry theirs.
        let same = {
            let mut next = next;
            mark_faults_on(&mut next, &self.faults, now);
            let same = next.same_view(&self.topology);
            self.topology = next;
            same
        };
        if !same {
            self.generation += 1;
        }
        events
    }

    /// Takes the ledger as read; members show what is held on them.
    pub fn set_faults(&mut self, faults: Vec<FaultRecord>) {
        self.healing.retain(|id| faults.iter().any(|f| &f.id == id));
        self.faults = faults;
        self.mark_faults();
    }

    /// Writes each member's faults (with the time left) from the ledger.
    pub fn mark_faults(&mut self) {
        mark_faults_on(&mut self.topology, &self.faults, self.now);
    }

    /// This run's faults whose time to live ran out and whose heal is not
    /// under way yet, as one heal action.
    pub fn take_expired(&mut self, now: Timestamp) -> Option<Action> {
        let run = self.run.as_deref()?;
        let expired: Vec<&FaultRecord> = self
            .faults
            .iter()
            .filter(|f| f.run == run && f.is_expired(now) && !self.healing.contains(&f.id))
            .collect();
        if expired.is_empty() {
            return None;
        }
        let action = heal_action(None, &expired, HealReason::Expired);
        self.healing.extend(expired.iter().map(|f| f.id.clone()));
        Some(action)
    }

    /// Every source has reported at least once.
    pub fn is_started(&self) -> bool {
        self.waiting_for.is_empty()
    }

    /// Records an action's request in the timeline.
    pub fn record_request(&mut self, action: &crate::actions::Action, now: Timestamp) -> Event {
        let event = action_event(
            now,
            EventKind::ActionRequested,
            action.name(),
            &action.describe(),
        )
        .member(action.member());
        self.timeline.push(event.clone());
        event
    }

    /// Records an action's outcome in the timeline.
    pub fn apply_outcome(&mut self, outcome: &ActionOutcome, now: Timestamp) -> Event {
        self.now = now;
        if let Some(faults) = &outcome.faults {
            self.set_faults(faults.clone());
        }
        let kind = match (
            outcome.ok,
            outcome.action.injects_fault(),
            outcome.action.heals(),
        ) {
            (true, true, _) => EventKind::FaultInjected,
            (true, _, true) => EventKind::FaultHealed,
            (true, _, _) => EventKind::ActionSucceeded,
            (false, _, _) => EventKind::ActionFailed,
        };
        let event = action_event(now, kind, outcome.action.name(), &outcome.message)
            .member(outcome.action.member());
        self.timeline.push(event.clone());
        event
    }
}

/// Writes each member's faults (with the time left at `now`) from the ledger.
fn mark_faults_on(topology: &mut Topology, faults: &[FaultRecord], now: Timestamp) {
    for member in topology
        .clusters
        .iter_mut()
        .flat_map(|c| c.members.iter_mut())
    {
        member.faults = faults_on(member, faults)
            .into_iter()
            .map(|f| f.label(now))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Authority, ClusterObservation, Health, MemberObservation, Tier};

    fn report(source: &str, leader: bool) -> SourceReport {
        SourceReport {
            source: source.into(),
            kind: SourceKind::Sentinel,
            target: source.into(),
            status: SourceStatus::Ok,
            at: time::OffsetDateTime::UNIX_EPOCH,
            clusters: vec![ClusterObservation {
                id: "c".into(),
                kind: "redis".into(),
                name: "c".into(),
                ..Default::default()
            }],
            members: vec![MemberObservation {
                cluster: "c".into(),
                name: "m".into(),
                address: Some("10.0.0.1:1".into()),
                authority: Authority::Application,
                tier: Tier::Master,
                leader,
                health: Health::Ok,
                ..Default::default()
            }],
            notes: Vec::new(),
        }
    }

    #[test]
    fn start_up_is_described_once_from_nothing_not_as_changes() {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let mut app = two_sources(now);
        assert!(
            app.apply_report(report("a", false), now).is_empty(),
            "waits for every source"
        );
        let events = app.apply_report(report("b", true), now);
        let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, vec![EventKind::MemberAdded], "{events:#?}");
    }

    fn two_sources(now: Timestamp) -> AppState {
        let header = HeaderInfo {
            interval: Duration::from_secs(1),
            read_only: false,
            simulated: false,
            lab: false,
            notice: None,
        };
        let labels = ["a", "b"]
            .map(|id| SourceLabel {
                id: id.into(),
                kind: SourceKind::Sentinel,
                target: id.into(),
            })
            .to_vec();
        AppState::new(header, labels, now)
    }

    #[test]
    fn reports_applied_together_are_one_merge_with_the_same_outcome() {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let mut one_by_one = two_sources(now);
        one_by_one.apply_report(report("a", false), now);
        let separate = one_by_one.apply_report(report("b", true), now);
        let mut together = two_sources(now);
        let events = together.apply_reports(vec![report("a", false), report("b", true)], now);
        assert_eq!(together.topology, one_by_one.topology);
        assert_eq!(events, separate, "start-up described once, from nothing");
        assert_eq!(together.generation, 1, "one merge, one new view");
        // A source replaced meanwhile: its late report in a batch is dropped.
        together.replace_source(
            "a",
            SourceLabel {
                id: "c".into(),
                kind: SourceKind::Sentinel,
                target: "c".into(),
            },
            now,
        );
        let before = together.generation;
        assert!(
            together
                .apply_reports(vec![report("a", true)], now)
                .is_empty()
        );
        assert_eq!(together.generation, before, "nothing taken, nothing merged");
        assert!(together.reports.iter().all(|r| r.source != "a"));
    }
}
