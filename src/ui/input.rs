//! What a key does to the UI state. The normal mode goes through the key
//! table ([`keymap`]); the filter and command lines take text; the help and
//! confirm dialogs take the few keys they show.
//!
//! An [`Action`] leaves here only as [`UiRequest::Execute`], and only after
//! the user pressed `y` in the confirm dialog.

use std::ops::Deref;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use super::keymap::{self, Command, LineCommand, QUIT_ANYWHERE, SUSPEND_ANYWHERE};
use super::view::{self, View};
use super::{Asking, Mode, Pane, UiRequest, UiState, details, help, inspect};
use crate::actions::plan::{self, PlanContext};
use crate::actions::{Action, Draft, Intent};
use crate::app::AppState;
use crate::model::{Cluster, Member};

/// How far PgUp/PgDn move; the key handler does not know pane heights.
const PAGE: usize = 10;

/// What a key works on: the UI state it changes and the app state it only
/// reads (it derefs to [`AppState`]).
struct Keys<'a> {
    ui: &'a mut UiState,
    app: &'a AppState,
}

impl Deref for Keys<'_> {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        self.app
    }
}

impl Keys<'_> {
    /// The filter and selection resolved against the app state now.
    fn view(&self) -> View<'_> {
        View::new(self.app, self.ui)
    }
}

pub fn handle_key(ui: &mut UiState, app: &AppState, key: KeyEvent) -> Option<UiRequest> {
    let app = &mut Keys { ui, app };
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if QUIT_ANYWHERE.matches(&key) {
        return Some(UiRequest::Quit);
    }
    if SUSPEND_ANYWHERE.matches(&key) {
        return Some(UiRequest::Suspend);
    }
    if app.ui.viewer.is_some() {
        return inspect::view_key(app.ui, &key);
    }
    match app.ui.mode.clone() {
        Mode::Normal => normal(app, key),
        Mode::Filter => {
            filter_line(app, key);
            None
        }
        Mode::Command(line) => command_line(app, key, line),
        Mode::Help => {
            help(app, key);
            None
        }
        Mode::Confirm(action) => confirm(app, key, action),
        Mode::Ask(asking) => {
            ask_line(app, key, asking);
            None
        }
        Mode::ConfirmShell(command) => inspect::confirm_shell(app.ui, &key, command),
    }
}

fn normal(app: &mut Keys<'_>, key: KeyEvent) -> Option<UiRequest> {
    // A message answers the previous key; the next one dismisses it.
    app.ui.message = None;
    let Some(command) = keymap::lookup(&key, &app.header) else {
        if let Some(why) = keymap::why_not(&key, &app.header) {
            app.ui.notify_error(why);
        }
        return None;
    };
    match command {
        Command::Quit => return Some(UiRequest::Quit),
        Command::Suspend => return Some(UiRequest::Suspend),
        Command::Help => open_help(app),
        Command::NextPane | Command::PreviousPane => cycle_focus(app, command == Command::NextPane),
        Command::Down => move_by(app, 1),
        Command::Up => move_by(app, -1),
        Command::PageDown => move_by(app, page(app) as isize),
        Command::PageUp => move_by(app, -(page(app) as isize)),
        Command::Top => move_by(app, isize::MIN),
        Command::Bottom => move_by(app, isize::MAX),
        Command::Zoom => zoom(app),
        Command::Back => back(app),
        Command::Filter => app.ui.mode = Mode::Filter,
        Command::Sort => {
            app.ui.sort = super::sort::SortBy::after(app.ui.sort);
            let order = app
                .ui
                .sort
                .map_or("the cluster's own (masters first)", |s| s.label());
            app.ui.notify(format!("members ordered by {order}"));
        }
        Command::CommandLine => app.ui.mode = Mode::Command(String::new()),
        Command::LabKill => ask_about_member(app, kill),
        Command::LabRestart => ask_about_member(app, restart),
        Command::Copy => return copy(app),
        Command::Act(intent) => start_draft(app, intent),
        Command::Describe => return inspect::describe(app.ui, app.app),
        Command::Logs => return inspect::logs(app.ui, app.app, None),
        Command::Shell => return inspect::shell(app.ui, app.app),
    }
    None
}

/// The selected member's address, else its name, for the clipboard.
fn copy(app: &mut Keys<'_>) -> Option<UiRequest> {
    let Some(member) = view::selected_member(app.app, app.ui) else {
        app.ui.notify_error("no member selected");
        return None;
    };
    let text = member
        .address
        .clone()
        .unwrap_or_else(|| member.name.clone());
    app.ui
        .notify(format!("copied {text} (through the terminal: OSC 52)"));
    Some(UiRequest::Copy(text))
}

/// See [`super::handle_mouse`]. Dialogs and prompts take no mouse; over
/// a describe or logs view the wheel scrolls it.
pub fn handle_mouse(ui: &mut UiState, app: &AppState, mouse: crossterm::event::MouseEvent) {
    use crossterm::event::{MouseButton, MouseEventKind};
    if let Some(viewer) = ui.viewer.as_mut() {
        // Over a describe or logs view, the wheel scrolls it.
        match mouse.kind {
            MouseEventKind::ScrollDown => viewer.scroll(3),
            MouseEventKind::ScrollUp => viewer.scroll(-3),
            _ => {}
        }
        return;
    }
    if ui.mode != Mode::Normal {
        return;
    }
    let mut keys = Keys { ui, app };
    let at = ratatui::layout::Position::new(mouse.column, mouse.row);
    let areas = super::layout(keys.ui.screen.get(), &keys.view());
    let panes = [
        (Pane::Clusters, areas.clusters),
        (Pane::Members, areas.members),
        (Pane::Details, areas.details),
        (Pane::Timeline, areas.timeline),
    ];
    let Some((pane, area)) = panes
        .into_iter()
        .find_map(|(pane, area)| area.filter(|a| a.contains(at)).map(|a| (pane, a)))
    else {
        return;
    };
    keys.ui.message = None;
    keys.ui.focus = pane;
    match mouse.kind {
        MouseEventKind::ScrollDown => move_by(&mut keys, 1),
        MouseEventKind::ScrollUp => move_by(&mut keys, -1),
        MouseEventKind::Down(MouseButton::Left) => click_row(&mut keys, pane, area, mouse.row),
        _ => {}
    }
}

/// Selects the list row at screen row `y` of a table pane (a border, then
/// its header, then the rows from the window's start).
fn click_row(app: &mut Keys<'_>, pane: Pane, area: ratatui::layout::Rect, y: u16) {
    let view = app.view();
    let (len, selected) = match pane {
        Pane::Clusters => (view.clusters.len(), view.cluster_index),
        Pane::Members => (view.members.len(), view.member_index),
        Pane::Details | Pane::Timeline => return,
    };
    let height = usize::from(area.height.saturating_sub(3));
    let first = area.y + 2;
    let (Some(current), true) = (selected, y >= first) else {
        return;
    };
    let target = view::window_start(len, selected, height) + usize::from(y - first);
    if target < len {
        move_by(app, target as isize - current as isize);
    }
}

/// Plans `intent` on the selection and starts asking its questions.
fn start_draft(app: &mut Keys<'_>, intent: Intent) {
    let nobody = Member::default();
    let member = match view::selected_member(app.app, app.ui) {
        Some(m) => m,
        None if intent == Intent::HealAll => &nobody,
        None => return app.ui.notify_error("no member selected"),
    };
    let Some(cluster) = view::selected_cluster(app.app, app.ui) else {
        return app.ui.notify_error("no cluster selected");
    };
    draft_on(app, intent, member, cluster);
}

/// Plans `intent` on `member` of `cluster` and starts asking.
fn draft_on(app: &mut Keys<'_>, intent: Intent, member: &Member, cluster: &Cluster) {
    let ctx = PlanContext {
        config: &app.config,
        faults: &app.faults,
    };
    match plan::plan(intent, member, cluster, &ctx) {
        Ok(draft) => next_question(app, draft),
        Err(message) => app.ui.notify_error(message),
    }
}

/// `:switchover NAME`: plans the switchover to the member called NAME.
fn switchover_to(app: &mut Keys<'_>, name: Option<String>) {
    let Some(name) = name else {
        return;
    };
    let state = app.app;
    match named_member(state, app.ui, &name) {
        Ok((member, cluster)) => draft_on(app, Intent::Switchover, member, cluster),
        Err(message) => app.ui.notify_error(message),
    }
}

/// The member NAME (its name, id or address) in the selected cluster,
/// else in the one cluster that has it.
fn named_member<'a>(
    state: &'a AppState,
    ui: &UiState,
    name: &str,
) -> Result<(&'a Member, &'a Cluster), String> {
    let is_named =
        |m: &&Member| m.name == name || m.id == name || m.address.as_deref() == Some(name);
    if let Some(cluster) = view::selected_cluster(state, ui)
        && let Some(member) = cluster.members.iter().find(is_named)
    {
        return Ok((member, cluster));
    }
    let mut found = state
        .topology
        .clusters
        .iter()
        .filter_map(|c| c.members.iter().find(is_named).map(|m| (m, c)));
    match (found.next(), found.next()) {
        (Some(one), None) => Ok(one),
        (Some(_), Some(_)) => Err(format!(
            "{name} names members of several clusters: select the cluster first"
        )),
        (None, _) => Err(format!(
            "no member is named {name} (the members pane lists them)"
        )),
    }
}

/// Asks the draft's next question, or confirms the finished action.
fn next_question(app: &mut Keys<'_>, draft: Draft) {
    app.ui.mode = match draft.question() {
        Some(question) => Mode::Ask(Asking {
            input: question.default.clone(),
            edited: false,
            error: None,
            draft,
        }),
        None => Mode::Confirm(draft.into_action()),
    };
}

/// Typing an answer: Enter checks it (and asks again on error), Esc cancels.
fn ask_line(app: &mut Keys<'_>, key: KeyEvent, mut asking: Asking) {
    match key.code {
        KeyCode::Esc => {
            app.ui.mode = Mode::Normal;
            app.ui.notify("cancelled");
            return;
        }
        KeyCode::Enter => {
            let answer = asking.input.clone();
            match asking.draft.answer(&answer) {
                Ok(()) => return next_question(app, asking.draft),
                Err(e) => asking.error = Some(e),
            }
        }
        KeyCode::Backspace => {
            asking.input.pop();
            asking.edited = true;
        }
        KeyCode::Char(c) if !c.is_control() => {
            if !asking.edited {
                asking.input.clear();
                asking.edited = true;
            }
            asking.input.push(c);
        }
        _ => {}
    }
    app.ui.mode = Mode::Ask(asking);
}

fn open_help(app: &mut Keys<'_>) {
    app.ui.help_scroll = 0;
    app.ui.mode = Mode::Help;
}

fn cycle_focus(app: &mut Keys<'_>, forward: bool) {
    app.ui.focus = app.ui.focus.cycle(forward);
    if app.ui.zoom.is_some() {
        app.ui.zoom = Some(app.ui.focus);
    }
}

/// Moves the focused pane's selection or scroll by `delta` rows, clamped;
/// `isize::MIN`/`MAX` go to the first/last row.
fn move_by(app: &mut Keys<'_>, delta: isize) {
    match app.ui.focus {
        Pane::Clusters => move_cluster(app, delta),
        Pane::Members => move_member(app, delta),
        Pane::Details => {
            let rows = app.ui.details_rows.get();
            let last = details::last_top(details::line_count(&app.view()), rows);
            app.ui.details_scroll = step(app.ui.details_scroll.min(last), delta, last);
        }
        Pane::Timeline => {
            let last = app.timeline.len().saturating_sub(1);
            app.ui.timeline_scroll = step(app.ui.timeline_scroll, delta, last);
        }
    }
}

/// Rows a page moves: the details pane's height as last drawn, else a
/// fixed page.
fn page(app: &Keys<'_>) -> usize {
    match (app.ui.focus, app.ui.details_rows.get()) {
        (Pane::Details, rows) if rows > 1 => rows - 1,
        _ => PAGE,
    }
}

fn step(from: usize, delta: isize, last: usize) -> usize {
    from.saturating_add_signed(delta).min(last)
}

fn move_cluster(app: &mut Keys<'_>, delta: isize) {
    let view = app.view();
    let Some(current) = view.cluster_index else {
        return;
    };
    let next = step(current, delta, view.clusters.len() - 1);
    let id = view.clusters[next].id.clone();
    app.ui.clusters.set(next, &id);
    if next != current {
        app.ui.members.reset();
        app.ui.details_scroll = 0;
    }
}

fn move_member(app: &mut Keys<'_>, delta: isize) {
    let view = app.view();
    let Some(current) = view.member_index else {
        return;
    };
    let next = step(current, delta, view.members.len() - 1);
    let id = view.members[next].id.clone();
    app.ui.members.set(next, &id);
    if next != current {
        app.ui.details_scroll = 0;
    }
}

/// Enter drills from clusters into members, and zooms the other panes.
fn zoom(app: &mut Keys<'_>) {
    match app.ui.focus {
        Pane::Clusters => app.ui.focus = Pane::Members,
        Pane::Members | Pane::Details => {
            app.ui.focus = Pane::Details;
            app.ui.zoom = Some(Pane::Details);
        }
        // Zoomed in, Enter goes to the top event's member.
        Pane::Timeline if app.ui.zoom == Some(Pane::Timeline) => {
            if jump_to_event(app) {
                app.ui.zoom = None;
            }
        }
        Pane::Timeline => app.ui.zoom = Some(Pane::Timeline),
    }
}

/// Enter on a timeline event (the top one shown, in the zoomed timeline):
/// its cluster and member selected and the members pane focused. False
/// when the event names no cluster (an action's outcome).
fn jump_to_event(app: &mut Keys<'_>) -> bool {
    let app_state = app.app;
    let Some(event) = app_state
        .timeline
        .events()
        .rev()
        .nth(app.ui.timeline_scroll)
    else {
        return false;
    };
    let Some(cluster_id) = event.cluster.as_deref() else {
        return false;
    };
    let Some(cluster) = app_state.topology.cluster(cluster_id) else {
        app.ui.notify_error(format!("cluster {cluster_id} is gone"));
        return true;
    };
    // A kept filter that hides the event's member would make the jump land
    // elsewhere.
    app.ui.filter.clear();
    let view = app.view();
    let Some(index) = view.clusters.iter().position(|c| c.id == cluster.id) else {
        return false;
    };
    app.ui.clusters.set(index, &cluster.id);
    app.ui.members.reset();
    app.ui.details_scroll = 0;
    app.ui.focus = Pane::Members;
    let Some(member) = event.member.as_deref().and_then(|m| cluster.member(m)) else {
        app.ui.notify(format!("at {}", cluster.name));
        return true;
    };
    let view = app.view();
    if let Some(i) = view.members.iter().position(|m| m.id == member.id) {
        app.ui.members.set(i, &member.id);
    }
    app.ui
        .notify(format!("at {} in {}", member.name, cluster.name));
    true
}

/// Esc: one step back at a time, always in this order: out of a zoom,
/// then a kept filter cleared (said, as the lists change), then back to
/// the clusters pane.
fn back(app: &mut Keys<'_>) {
    if app.ui.zoom.take().is_some() {
        return;
    }
    if !app.ui.filter.is_empty() {
        app.ui.filter.clear();
        app.ui.notify("filter cleared");
    } else if app.ui.focus != Pane::Clusters {
        app.ui.focus = Pane::Clusters;
    }
}

/// Typing the filter applies it at once; Enter keeps it, Esc clears it.
fn filter_line(app: &mut Keys<'_>, key: KeyEvent) {
    match key.code {
        KeyCode::Enter => app.ui.mode = Mode::Normal,
        KeyCode::Esc => {
            app.ui.filter.clear();
            app.ui.mode = Mode::Normal;
        }
        KeyCode::Backspace => {
            app.ui.filter.pop();
        }
        KeyCode::Char(c) if !c.is_control() => app.ui.filter.push(c),
        _ => {}
    }
}

fn command_line(app: &mut Keys<'_>, key: KeyEvent, mut line: String) -> Option<UiRequest> {
    match key.code {
        KeyCode::Enter => {
            app.ui.mode = Mode::Normal;
            return run_command(app, &line);
        }
        KeyCode::Esc => app.ui.mode = Mode::Normal,
        KeyCode::Backspace if line.is_empty() => app.ui.mode = Mode::Normal,
        KeyCode::Backspace => {
            line.pop();
            app.ui.mode = Mode::Command(line);
        }
        KeyCode::Char(c) if !c.is_control() => {
            line.push(c);
            app.ui.mode = Mode::Command(line);
        }
        _ => {}
    }
    None
}

fn run_command(app: &mut Keys<'_>, line: &str) -> Option<UiRequest> {
    let parsed = match keymap::parse_command(line, &app.header) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return None,
        Err(message) => {
            app.ui.notify_error(message);
            return None;
        }
    };
    match parsed.command {
        LineCommand::Quit => return Some(UiRequest::Quit),
        LineCommand::Help => open_help(app),
        LineCommand::Context | LineCommand::Namespace => return switch_kube(app, parsed),
        LineCommand::KillMaster => ask_about_leader(app),
        LineCommand::Kill => ask_about_member(app, kill),
        LineCommand::Restart => ask_about_member(app, restart),
        LineCommand::Switchover => switchover_to(app, parsed.argument),
        LineCommand::Describe => return inspect::describe(app.ui, app.app),
        LineCommand::Logs => return inspect::logs(app.ui, app.app, parsed.argument.as_deref()),
        LineCommand::Shell => return inspect::shell(app.ui, app.app),
    }
    None
}

/// `:ctx NAME` / `:ns NAME`: the app loop restarts the Kubernetes source.
fn switch_kube(app: &mut Keys<'_>, parsed: keymap::ParsedCommand) -> Option<UiRequest> {
    use crate::model::SourceKind;
    if !app.reports.iter().any(|r| r.kind == SourceKind::Kube) {
        app.ui.notify_error("no Kubernetes source in this session");
        return None;
    }
    let name = parsed.argument?;
    app.ui.notify(format!("switching to {name}"));
    Some(match parsed.command {
        LineCommand::Context => UiRequest::SwitchKube {
            context: Some(name),
            namespace: None,
        },
        _ => UiRequest::SwitchKube {
            context: None,
            namespace: Some(name),
        },
    })
}

fn kill(member: String, address: String) -> Action {
    Action::LabKill { member, address }
}

fn restart(member: String, address: String) -> Action {
    Action::LabRestart { member, address }
}

/// Opens the confirm dialog for an action on the selected member.
fn ask_about_member(app: &mut Keys<'_>, build: fn(String, String) -> Action) {
    let action = match view::selected_member(app.app, app.ui) {
        Some(member) => action_on(member, build),
        None => Err("no member selected".to_string()),
    };
    ask(app, action);
}

/// Opens the confirm dialog to kill the selected cluster's current leader.
fn ask_about_leader(app: &mut Keys<'_>) {
    let action = match view::selected_cluster(app.app, app.ui) {
        None => Err("no cluster selected".to_string()),
        Some(cluster) => match cluster.leader_member() {
            Some(leader) => action_on(leader, kill),
            None => Err(format!("{} has no leader to kill", cluster.name)),
        },
    };
    ask(app, action);
}

fn action_on(member: &Member, build: fn(String, String) -> Action) -> Result<Action, String> {
    match &member.address {
        Some(address) => Ok(build(member.id.clone(), address.clone())),
        None => Err(format!("{} has no address", member.name)),
    }
}

fn ask(app: &mut Keys<'_>, action: Result<Action, String>) {
    match action {
        Ok(action) => app.ui.mode = Mode::Confirm(action),
        Err(message) => app.ui.notify_error(message),
    }
}

/// `y` confirms; everything else, Enter included, keeps the default: No.
fn confirm(app: &mut Keys<'_>, key: KeyEvent, action: Action) -> Option<UiRequest> {
    app.ui.mode = Mode::Normal;
    if matches!(key.code, KeyCode::Char('y' | 'Y')) {
        app.ui.notify(format!("requested: {}", action.describe()));
        Some(UiRequest::Execute(action))
    } else {
        app.ui.notify("cancelled");
        None
    }
}

fn help(app: &mut Keys<'_>, key: KeyEvent) {
    match keymap::lookup(&key, &app.header) {
        Some(Command::Down) => {
            let last = help::line_count(&app.view()).saturating_sub(1);
            app.ui.help_scroll = step(app.ui.help_scroll, 1, last);
        }
        Some(Command::Up) => app.ui.help_scroll = app.ui.help_scroll.saturating_sub(1),
        Some(Command::Top) => app.ui.help_scroll = 0,
        // Any other key closes help, so nobody is stuck in it.
        _ => app.ui.mode = Mode::Normal,
    }
}
