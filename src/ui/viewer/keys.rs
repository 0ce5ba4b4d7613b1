//! The describe/logs view's own key table: it drives both what a key does
//! in the view and the help screen's section for it.

use crossterm::event::{KeyCode, KeyEvent};

use super::{ViewKind, Viewer};
use crate::sources::inspect::LogOptions;
use crate::ui::keymap::Key;

/// What a key does in the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewCommand {
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    Search,
    NextMatch,
    PreviousMatch,
    Close,
    /// Logs: the previous container's (a pod's) or the current one's.
    TogglePrevious,
    /// Logs: since 1m, 5m, 1h, all.
    CycleSince,
}

/// One row of the view's key table.
pub struct ViewBinding {
    pub keys: &'static [Key],
    pub command: ViewCommand,
    pub help: &'static str,
}

const fn bind(keys: &'static [Key], command: ViewCommand, help: &'static str) -> ViewBinding {
    ViewBinding {
        keys,
        command,
        help,
    }
}

/// The view's keys, in the order help lists them.
#[rustfmt::skip]
pub const VIEW_BINDINGS: &[ViewBinding] = &[
    bind(&[Key::Char('j'), Key::Code(KeyCode::Down)], ViewCommand::Down, "scroll down"),
    bind(&[Key::Char('k'), Key::Code(KeyCode::Up)], ViewCommand::Up, "scroll up (a log stops following)"),
    bind(&[Key::Code(KeyCode::PageDown), Key::Ctrl('f')], ViewCommand::PageDown, "page down"),
    bind(&[Key::Code(KeyCode::PageUp), Key::Ctrl('b')], ViewCommand::PageUp, "page up"),
    bind(&[Key::Char('g'), Key::Code(KeyCode::Home)], ViewCommand::Top, "first line"),
    bind(&[Key::Char('G'), Key::Code(KeyCode::End)], ViewCommand::Bottom, "last line (a log follows again)"),
    bind(&[Key::Char('/')], ViewCommand::Search, "search (Enter finds, Esc cancels)"),
    bind(&[Key::Char('n')], ViewCommand::NextMatch, "next match"),
    bind(&[Key::Char('N')], ViewCommand::PreviousMatch, "previous match"),
    bind(&[Key::Char('p')], ViewCommand::TogglePrevious, "logs: previous container (pods)"),
    bind(&[Key::Char('s')], ViewCommand::CycleSince, "logs: since 1m, 5m, 1h, all"),
    bind(&[Key::Code(KeyCode::Esc), Key::Char('q')], ViewCommand::Close, "close the view"),
];

/// What the app loop must do after a key in the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewRequest {
    /// The view closed: stop its task.
    Close,
    /// Restart the log stream with these options.
    Restart(LogOptions),
}

/// Applies `key` to the view (a line for its status bar goes to
/// [`Viewer::message`]); what the loop must do, if anything.
pub fn handle(viewer: &mut Viewer, key: &KeyEvent) -> Option<ViewRequest> {
    viewer.message = None;
    if let Some(typing) = viewer.search.typing.take() {
        viewer.message = type_search(viewer, key, typing);
        return None;
    }
    let Some(command) = VIEW_BINDINGS
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(key)))
        .map(|b| b.command)
    else {
        viewer.message = Some("no such key here (? lists the keys; Esc closes)".into());
        return None;
    };
    match command {
        ViewCommand::Down => viewer.scroll(1),
        ViewCommand::Up => viewer.scroll(-1),
        ViewCommand::PageDown => viewer.scroll(viewer.page()),
        ViewCommand::PageUp => viewer.scroll(-viewer.page()),
        ViewCommand::Top => viewer.scroll(isize::MIN),
        ViewCommand::Bottom => viewer.scroll(isize::MAX),
        ViewCommand::Search => viewer.search.typing = Some(String::new()),
        ViewCommand::NextMatch | ViewCommand::PreviousMatch => {
            viewer.message = find(viewer, command == ViewCommand::NextMatch);
        }
        ViewCommand::Close => return Some(ViewRequest::Close),
        ViewCommand::TogglePrevious | ViewCommand::CycleSince => return restart(viewer, command),
    }
    None
}

/// Typing the search: Enter finds the first match from the top shown.
fn type_search(viewer: &mut Viewer, key: &KeyEvent, mut typing: String) -> Option<String> {
    match key.code {
        KeyCode::Enter => {
            viewer.search.query = typing;
            viewer.search.current = None;
            return find(viewer, true);
        }
        KeyCode::Esc => return None,
        KeyCode::Backspace => {
            typing.pop();
        }
        KeyCode::Char(c) if !c.is_control() => typing.push(c),
        _ => {}
    }
    viewer.search.typing = Some(typing);
    None
}

fn find(viewer: &mut Viewer, forward: bool) -> Option<String> {
    if viewer.search.query.is_empty() {
        return Some("no search yet: / to search".into());
    }
    (!viewer.find(forward)).then(|| format!("not found: {}", viewer.search.query))
}

/// `p` / `s` in a log view: the stream again with other options.
fn restart(viewer: &mut Viewer, command: ViewCommand) -> Option<ViewRequest> {
    let ViewKind::Logs { target, options } = &viewer.kind else {
        viewer.message = Some("p and s work in a logs view".into());
        return None;
    };
    let mut options = *options;
    if command == ViewCommand::TogglePrevious {
        if !matches!(target, crate::sources::inspect::LogTarget::Pod { .. }) {
            viewer.message = Some("p (previous container) is for pods".into());
            return None;
        }
        options.previous = !options.previous;
    } else {
        options.since = options.since.next();
    }
    Some(ViewRequest::Restart(options))
}
