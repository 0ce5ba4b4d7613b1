//! Test fixtures shared by the panes' tests: an app state (with the UI state
//! beside it, as the console loop keeps them) built from the simulation with
//! a fixed seed, rendering on a `TestBackend`, and key helpers.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::view::View;
use super::{Theme, UiRequest, UiState};
use crate::app::{AppState, HeaderInfo, SourceLabel};
use crate::model::{SourceKind, SourceReport, SourceStatus, Timestamp};
use crate::sources::sim::{SimConfig, Simulation};

pub const SMALL: (u16, u16) = (80, 24);
pub const LARGE: (u16, u16) = (160, 48);
pub const MEDIUM: (u16, u16) = (120, 36);

/// The fleet every snapshot shows; the step count lands in a failover with
/// a leaderless cluster, a registry that lags, and members down.
pub const SCENARIO: SimConfig = SimConfig {
    members: 30,
    seed: 12,
};
pub const SCENARIO_STEPS: usize = 90;

pub fn header() -> HeaderInfo {
    HeaderInfo {
        interval: Duration::from_secs(1),
        read_only: false,
        simulated: true,
        lab: false,
        notice: None,
    }
}

/// The app state and the UI state beside it, as the console loop keeps
/// them; derefs to the app state so tests read like the loop.
#[derive(Debug)]
pub struct TestApp {
    pub app: AppState,
    pub ui: UiState,
}

impl Deref for TestApp {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.app
    }
}

impl DerefMut for TestApp {
    fn deref_mut(&mut self) -> &mut AppState {
        &mut self.app
    }
}

impl TestApp {
    /// The view the panes would get.
    pub fn view(&self) -> View<'_> {
        View::new(&self.app, &self.ui)
    }
}

/// A key pressed on the test app, as the console loop passes it.
pub fn handle_key(app: &mut TestApp, key: KeyEvent) -> Option<UiRequest> {
    super::handle_key(&mut app.ui, &app.app, key)
}

/// An app state after `steps` steps of the simulation, drawn in colour.
pub fn sim_app(config: SimConfig, steps: usize) -> TestApp {
    let mut simulation = Simulation::new(config);
    let label = SourceLabel {
        id: "sim#0".into(),
        kind: SourceKind::Sim,
        target: format!("sim:{}@seed{}", config.members, config.seed),
    };
    let mut app = AppState::new(header(), vec![label], simulation.now());
    for _ in 0..steps {
        let report = simulation.step();
        let at = report.at;
        app.apply_report(report, at);
    }
    TestApp {
        app,
        ui: UiState::new(Theme::COLOR),
    }
}

pub fn scenario() -> TestApp {
    sim_app(SCENARIO, SCENARIO_STEPS)
}

pub fn lab_scenario() -> TestApp {
    let mut app = scenario();
    app.header.lab = true;
    app
}

pub fn failing_source(now: Timestamp) -> SourceReport {
    SourceReport {
        source: "redis#1".into(),
        kind: SourceKind::Redis,
        target: "redis://10.9.9.9:6379".into(),
        status: SourceStatus::Error("connect 10.9.9.9:6379: connection refused".into()),
        at: now,
        clusters: Vec::new(),
        members: Vec::new(),
        notes: Vec::new(),
    }
}

/// A Redis group with two members answering `role:master` (a split brain).
pub fn split_brain(now: Timestamp) -> SourceReport {
    let master = |address: &str, leader: bool| crate::model::MemberObservation {
        cluster: "redis/10.7.0.1:6379".into(),
        name: address.into(),
        address: Some(address.into()),
        authority: crate::model::Authority::Application,
        tier: crate::model::Tier::Master,
        leader,
        claims_leader: true,
        native_role: Some("master".into()),
        health: crate::model::Health::Ok,
        ..Default::default()
    };
    SourceReport {
        source: "redis#2".into(),
        kind: SourceKind::Redis,
        target: "redis://10.7.0.1:6379".into(),
        status: SourceStatus::Ok,
        at: now,
        clusters: vec![crate::model::ClusterObservation {
            id: "redis/10.7.0.1:6379".into(),
            kind: "redis".into(),
            name: "split".into(),
            precedence: 1,
            ..Default::default()
        }],
        members: vec![
            master("10.7.0.1:6379", true),
            master("10.7.0.2:6379", false),
        ],
        notes: Vec::new(),
    }
}

/// What a Docker lab and a Patroni cluster look like: names as long as the
/// lab gives them (`clusterdeck-lab-<id>-redis-N`), loopback addresses with
/// five-digit ports, and an IPv6 member.
pub fn real_lengths() -> TestApp {
    let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let label = SourceLabel {
        id: "redis#0".into(),
        kind: SourceKind::Redis,
        target: "redis://127.0.0.1:44347".into(),
    };
    let header = HeaderInfo {
        simulated: false,
        ..header()
    };
    let mut app = TestApp {
        app: AppState::new(header, vec![label], now),
        ui: UiState::new(Theme::COLOR),
    };
    let lab = "clusterdeck-lab-3f9c2a1b7d";
    let member = |cluster: &str, name: String, address: &str, leader: bool| {
        crate::model::MemberObservation {
            cluster: cluster.into(),
            name,
            address: Some(address.into()),
            authority: crate::model::Authority::Application,
            tier: if leader {
                crate::model::Tier::Master
            } else {
                crate::model::Tier::Copy
            },
            leader,
            native_role: Some(if leader { "master" } else { "slave" }.into()),
            health: crate::model::Health::Ok,
            lag_bytes: (!leader).then_some(1_234_567),
            ..Default::default()
        }
    };
    let cluster = |id: &str, name: &str| crate::model::ClusterObservation {
        id: id.into(),
        kind: "redis".into(),
        name: name.into(),
        precedence: 1,
        ..Default::default()
    };
    let members = vec![
        member("lab", format!("{lab}-redis-1"), "127.0.0.1:44347", true),
        member("lab", format!("{lab}-redis-2"), "127.0.0.1:44351", false),
        member("lab", format!("{lab}-redis-3"), "127.0.0.1:52103", false),
        member("v6", "pg-0".into(), "[fd00:10:96::a]:5432", true),
        member("v6", "pg-1".into(), "[fd00:10:96::1b]:5432", false),
    ];
    let report = SourceReport {
        source: "redis#0".into(),
        kind: SourceKind::Redis,
        target: "redis://127.0.0.1:44347".into(),
        status: SourceStatus::Ok,
        at: now,
        clusters: vec![cluster("lab", lab), cluster("v6", "pg-ipv6")],
        members,
        notes: Vec::new(),
    };
    app.apply_report(report, now);
    app
}

/// The lab's failover as `lab` shows it: Sentinel's cluster of three
/// loopback instances with five-digit ports; the master dies, and two
/// seconds later a copy leads.
pub fn lab_failover() -> TestApp {
    let start = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let label = SourceLabel {
        id: "sentinel#0".into(),
        kind: SourceKind::Sentinel,
        target: "redis://127.0.0.1:36301".into(),
    };
    let header = HeaderInfo {
        simulated: false,
        lab: true,
        ..header()
    };
    let mut app = TestApp {
        app: AppState::new(header, vec![label], start),
        ui: UiState::new(Theme::COLOR),
    };
    let (old, new, other) = ("127.0.0.1:36299", "127.0.0.1:43775", "127.0.0.1:44347");
    for (seconds, leader) in [(0, Some(old)), (1, None), (3, Some(new))] {
        let at = start + time::Duration::seconds(seconds);
        let members = [old, new, other]
            .into_iter()
            .map(|address| sentinel_member(address, leader, address == old && seconds > 0))
            .collect();
        let report = SourceReport {
            source: "sentinel#0".into(),
            kind: SourceKind::Sentinel,
            target: "redis://127.0.0.1:36301".into(),
            status: SourceStatus::Ok,
            at,
            clusters: vec![crate::model::ClusterObservation {
                id: "sentinel/mymaster".into(),
                kind: "redis".into(),
                name: "mymaster".into(),
                precedence: 5,
                ..Default::default()
            }],
            members,
            notes: Vec::new(),
        };
        app.apply_report(report, at);
    }
    app
}

/// A data node as the Sentinel source reports it.
fn sentinel_member(
    address: &str,
    leader: Option<&str>,
    down: bool,
) -> crate::model::MemberObservation {
    use crate::model::{Health, Tier};
    let leads = leader == Some(address);
    let was_master = leader.is_none() && down;
    crate::model::MemberObservation {
        cluster: "sentinel/mymaster".into(),
        name: address.into(),
        address: Some(address.into()),
        authority: crate::model::Authority::Application,
        tier: if leads || was_master {
            Tier::Master
        } else {
            Tier::Copy
        },
        leader: leads,
        claims_leader: leads,
        health: if down { Health::Down } else { Health::Ok },
        ..Default::default()
    }
}

pub fn render_buffer(
    app: &TestApp,
    width: u16,
    height: u16,
    draw: impl Fn(&mut ratatui::Frame, Rect, &View),
) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
    terminal
        .draw(|frame| draw(frame, frame.area(), &View::new(&app.app, &app.ui)))
        .expect("draws");
    terminal.backend().buffer().clone()
}

/// One pane alone, as text with the version masked so snapshots survive releases.
pub fn render_pane(
    app: &TestApp,
    width: u16,
    height: u16,
    draw: impl Fn(&mut ratatui::Frame, Rect, &View),
) -> String {
    text(&render_buffer(app, width, height, draw))
}

pub fn screen_buffer(app: &TestApp, (width, height): (u16, u16)) -> Buffer {
    render_buffer(app, width, height, |frame, _, view| {
        super::draw(frame, view.app, view.ui)
    })
}

pub fn render_screen(app: &TestApp, size: (u16, u16)) -> String {
    text(&screen_buffer(app, size))
}

pub fn text(buffer: &Buffer) -> String {
    let version = env!("CARGO_PKG_VERSION");
    let mut backend = TestBackend::new(buffer.area.width, buffer.area.height);
    let cells = buffer.content().iter().enumerate().map(|(i, cell)| {
        let (x, y) = buffer.pos_of(i);
        (x, y, cell)
    });
    ratatui::backend::Backend::draw(&mut backend, cells).expect("infallible");
    backend
        .to_string()
        .replace(version, &"#".repeat(version.len()))
}

/// The position of the first cell where `needle` starts.
pub fn find(buffer: &Buffer, needle: &str) -> Option<(u16, u16)> {
    let area = buffer.area;
    (area.top()..area.bottom()).find_map(|y| {
        let row: Vec<&str> = (area.left()..area.right())
            .map(|x| buffer[(x, y)].symbol())
            .collect();
        let line: String = row.concat();
        let byte = line.find(needle)?;
        // Count cells, not bytes, up to the match.
        let mut seen = 0;
        let x = row.iter().position(|s| {
            let here = seen;
            seen += s.len();
            here >= byte
        })?;
        Some((area.left() + x as u16, y))
    })
}

pub fn row_text(buffer: &Buffer, y: u16) -> String {
    let area = buffer.area;
    (area.left()..area.right())
        .map(|x| buffer[(x, y)].symbol())
        .collect()
}

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn char_key(c: char) -> KeyEvent {
    let modifiers = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    KeyEvent::new(KeyCode::Char(c), modifiers)
}

/// Presses each character in turn; returns the last request.
pub fn type_keys(app: &mut TestApp, keys: &str) -> Option<UiRequest> {
    let mut last = None;
    for c in keys.chars() {
        last = handle_key(app, char_key(c));
    }
    last
}
