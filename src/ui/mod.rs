//! The terminal UI: a pure function of [`AppState`] and [`UiState`] to a
//! frame, and the key table that turns keys into requests. The console loop
//! owns both states; the app state knows nothing of the UI.
//!
//! Where things live:
//! - one file per pane or dialog, each with the same
//!   `draw(frame, area, &View)` ([`view::View`] is the app state with the
//!   filter and selection resolved once per frame, and the [`UiState`]
//!   beside it; it derefs to [`AppState`]):
//!   [`header`], [`clusters`], [`members`], [`details`], [`timeline`],
//!   [`footer`], and the overlays [`help`], [`prompt`] (a draft action's
//!   questions) and [`confirm`]; the describe/logs [`viewer`] over all;
//! - [`keymap`]: the key and `:` command tables that drive matching, the help
//!   screen and the footer hints;
//! - [`input`]: what a key does to [`UiState`]; [`inspect`]: the keys that
//!   open a view or a shell;
//! - [`view`]: the per-frame [`view::View`], the selection kept by id, text
//!   formatters;
//! - [`theme`]: colours, or none under `NO_COLOR`.
//!
//! Drawing reads the state and nothing else: no locks, no I/O, no env.

pub mod clusters;
pub mod columns;
pub mod confirm;
pub mod details;
pub mod footer;
pub mod header;
pub mod help;
pub mod input;
pub mod inspect;
pub mod keymap;
pub mod members;
pub mod prompt;
pub mod sort;
pub mod theme;
pub mod timeline;
pub mod view;
pub mod viewer;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use crate::actions::{Action, ActionOutcome, Draft};
use crate::app::AppState;

pub use theme::Theme;
use view::{Selection, View};

/// The panes, in `Tab` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Clusters,
    Members,
    Details,
    Timeline,
}

impl Pane {
    const ORDER: [Pane; 4] = [Pane::Clusters, Pane::Members, Pane::Details, Pane::Timeline];

    fn cycle(self, forward: bool) -> Pane {
        let i = Pane::ORDER.iter().position(|p| *p == self).unwrap_or(0);
        let n = Pane::ORDER.len();
        Pane::ORDER[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// What has the keyboard besides the panes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// Typing the `/` filter (the text is [`UiState::filter`]).
    Filter,
    /// Typing a `:` command.
    Command(String),
    Help,
    /// Asking y/N before an action.
    Confirm(Action),
    /// Asking a draft action's questions, one at a time.
    Ask(Asking),
    /// Asking y/N before a shell in a member (`e`).
    ConfirmShell(crate::actions::shell::ShellCommand),
}

/// A draft action and the answer being typed to its current question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asking {
    pub draft: Draft,
    /// Starts as the question's default; the first key typed replaces it.
    pub input: String,
    pub edited: bool,
    /// Why the last answer was not accepted.
    pub error: Option<String>,
}

/// A line for the footer: an action's result, a command's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub is_error: bool,
}

/// UI-only state: selection, focus, filter, dialogs, theme.
#[derive(Debug, Default)]
pub struct UiState {
    theme: Theme,
    focus: Pane,
    zoom: Option<Pane>,
    mode: Mode,
    filter: String,
    /// The members list's order when the operator asked for one (`o`).
    sort: Option<sort::SortBy>,
    clusters: Selection,
    members: Selection,
    details_scroll: usize,
    /// Rows of text the details pane showed at the last draw: a page, and
    /// how far down the last page starts.
    details_rows: std::cell::Cell<usize>,
    /// Its inner width, for the lines an address is moved down to.
    details_width: std::cell::Cell<u16>,
    /// The whole screen as last drawn, to find the pane under the mouse.
    screen: std::cell::Cell<Rect>,
    timeline_scroll: usize,
    help_scroll: usize,
    message: Option<Message>,
    /// The clusters the filter lets through, kept until the topology or the
    /// filter changes.
    filtered: view::FilterCache,
    /// The describe or logs view, over everything else while open.
    viewer: Option<viewer::Viewer>,
    /// Views opened so far: the next one's number.
    views_opened: u64,
}

impl UiState {
    /// UI state drawing with `theme`; pick it once with [`Theme::from_env`].
    pub fn new(theme: Theme) -> Self {
        UiState {
            theme,
            ..UiState::default()
        }
    }

    pub fn theme(&self) -> Theme {
        self.theme
    }

    pub fn focus(&self) -> Pane {
        self.focus
    }

    pub fn zoom(&self) -> Option<Pane> {
        self.zoom
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The member filter, kept while not being typed.
    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The members list's order asked for with `o`, if any.
    pub fn sort(&self) -> Option<sort::SortBy> {
        self.sort
    }

    /// Opens a dialog from outside the key handler (the start-up offer to
    /// heal faults left behind).
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub fn selected_cluster_id<'a>(&self, app: &'a AppState) -> Option<&'a str> {
        view::selected_cluster(app, self).map(|c| c.id.as_str())
    }

    pub(crate) fn cluster_selection(&self) -> &Selection {
        &self.clusters
    }

    pub(crate) fn member_selection(&self) -> &Selection {
        &self.members
    }

    /// Shows a line in the footer until the next key.
    pub fn notify(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            is_error: false,
        });
    }

    /// Shows an error in the footer until the next key.
    pub fn notify_error(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            is_error: true,
        });
    }

    /// The one place an action's outcome becomes something the user reads.
    pub fn show_outcome(&mut self, outcome: &ActionOutcome) {
        let text = format!("{}: {}", outcome.action.name(), outcome.message);
        if outcome.ok {
            self.notify(text);
        } else {
            self.notify_error(text);
        }
    }
}

/// What a key asks of the app loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiRequest {
    Quit,
    /// Ctrl-Z: give the terminal back and stop as a shell job.
    Suspend,
    /// A confirmed action.
    Execute(Action),
    /// `y`: put this text on the terminal's clipboard (OSC 52).
    Copy(String),
    /// `:ctx` / `:ns`: watch another Kubernetes context or namespace.
    SwitchKube {
        context: Option<String>,
        namespace: Option<String>,
    },
    /// `d`: fetch `subject` for the view numbered `view`.
    Describe {
        view: u64,
        subject: crate::sources::inspect::Subject,
    },
    /// `l`: follow the logs of `target` for the view numbered `view`
    /// (replacing any stream the open view had).
    Logs {
        view: u64,
        target: crate::sources::inspect::LogTarget,
        options: crate::sources::inspect::LogOptions,
    },
    /// The view closed: stop its task.
    CloseView,
    /// `e`: complete the shell command with the session's platforms, then
    /// ask y/N ([`UiState::ask_shell`]).
    PlanShell {
        member: String,
        target: crate::actions::shell::ShellTarget,
    },
    /// A confirmed shell: run it in the terminal, the console suspended.
    Shell(crate::actions::shell::ShellCommand),
}

/// Where each part of the screen goes; `None` for panes hidden by a zoom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub clusters: Option<Rect>,
    pub members: Option<Rect>,
    pub details: Option<Rect>,
    pub timeline: Option<Rect>,
    pub footer: Rect,
}

/// Splits the screen: header; clusters beside members; details beside the
/// timeline; footer. A zoomed pane takes the whole body.
pub fn layout(area: Rect, app: &View) -> Areas {
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(header::height(app)),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let mut areas = Areas {
        header,
        clusters: None,
        members: None,
        details: None,
        timeline: None,
        footer,
    };
    if let Some(zoomed) = app.ui.zoom {
        *areas.slot(zoomed) = Some(body);
        return areas;
    }
    let top_height = (body.height * 45 / 100).max(11).min(body.height);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(top_height), Constraint::Min(0)]).areas(body);
    let clusters_width = (top.width * 30 / 100).clamp(30, 60).min(top.width);
    let [clusters, members] =
        Layout::horizontal([Constraint::Length(clusters_width), Constraint::Min(0)]).areas(top);
    let [details, timeline] =
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(bottom);
    areas.clusters = Some(clusters);
    areas.members = Some(members);
    areas.details = Some(details);
    areas.timeline = Some(timeline);
    areas
}

impl Areas {
    fn slot(&mut self, pane: Pane) -> &mut Option<Rect> {
        match pane {
            Pane::Clusters => &mut self.clusters,
            Pane::Members => &mut self.members,
            Pane::Details => &mut self.details,
            Pane::Timeline => &mut self.timeline,
        }
    }
}

/// The signature every pane's `draw` has.
pub type PaneDraw = fn(&mut Frame, Rect, &View);

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &AppState, ui: &UiState) {
    let app = &View::new(app, ui);
    ui.screen.set(frame.area());
    let areas = layout(frame.area(), app);
    header::draw(frame, areas.header, app);
    let panes: [(Option<Rect>, PaneDraw); 4] = [
        (areas.clusters, clusters::draw),
        (areas.members, members::draw),
        (areas.details, details::draw),
        (areas.timeline, timeline::draw),
    ];
    for (area, draw_pane) in panes {
        if let Some(area) = area {
            draw_pane(frame, area, app);
        }
    }
    footer::draw(frame, areas.footer, app);
    match app.ui.mode {
        Mode::Help => help::draw(frame, frame.area(), app),
        Mode::Confirm(_) => confirm::draw(frame, frame.area(), app),
        Mode::Ask(_) => prompt::draw(frame, frame.area(), app),
        Mode::ConfirmShell(_) => confirm::draw(frame, frame.area(), app),
        _ => {}
    }
    if let Some(open) = &app.ui.viewer {
        viewer::draw::draw(frame, frame.area(), open, app.ui.theme);
    }
}

/// Applies a key to the UI state, reading the app state; returns what the
/// app must do, if anything.
pub fn handle_key(
    ui: &mut UiState,
    app: &AppState,
    key: crossterm::event::KeyEvent,
) -> Option<UiRequest> {
    input::handle_key(ui, app, key)
}

/// A click selects the row under it (and focuses its pane); the wheel
/// moves the selection, or scrolls, in the pane under the pointer. True
/// when that changed anything to draw (moves and drags do not).
pub fn handle_mouse(ui: &mut UiState, app: &AppState, mouse: crossterm::event::MouseEvent) -> bool {
    use crossterm::event::{MouseButton, MouseEventKind};
    let acts = matches!(
        mouse.kind,
        MouseEventKind::Down(MouseButton::Left)
            | MouseEventKind::ScrollDown
            | MouseEventKind::ScrollUp
    );
    if acts {
        input::handle_mouse(ui, app, mouse);
    }
    acts
}

/// A line as a person may see it: every span's text escaped (cluster text
/// may carry terminal sequences, which ratatui would drop without a trace).
/// Every pane and dialog passes its lines through here before drawing.
pub(crate) fn shown(mut line: Line<'_>) -> Line<'_> {
    for span in &mut line.spans {
        if let std::borrow::Cow::Owned(escaped) = crate::escape::escape(&span.content) {
            span.content = escaped.into();
        }
    }
    line
}

/// [`shown`] for every line.
pub(crate) fn shown_all(lines: Vec<Line<'_>>) -> Vec<Line<'_>> {
    lines.into_iter().map(shown).collect()
}

/// A pane's frame: its title, reversed when focused so focus reads without
/// colour, and extra text after it (counts, position).
pub(crate) fn pane_block<'a>(app: &View, pane: Pane, title: &'a str, extra: String) -> Block<'a> {
    let theme = app.ui.theme;
    let focused = app.ui.focus == pane;
    let mut spans = vec![Span::styled(format!(" {title} "), theme.title(focused))];
    if !extra.is_empty() {
        spans.push(Span::styled(format!(" {extra} "), theme.dim()));
    }
    Block::bordered()
        .border_style(theme.border(focused))
        .title(shown(Line::from(spans)))
        .style(Style::new())
}
