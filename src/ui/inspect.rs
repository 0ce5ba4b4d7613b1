//! What `d` (describe), `l` (logs) and `e` (shell) do to the UI state:
//! open a view and ask the app loop to feed it, or ask the loop to work
//! out a shell command; and the keys while a view is open.

use crossterm::event::{KeyCode, KeyEvent};

use super::viewer::keys::{self as view_keys, ViewRequest};
use super::viewer::{ViewKind, Viewer};
use super::{Mode, UiRequest, UiState, view};
use crate::actions::shell::{ShellCommand, ShellTarget};
use crate::app::AppState;
use crate::sources::inspect::{LogOptions, LogTarget, Since, Subject, log_target};

/// `d`: the selected member's object, in a view that loads it.
pub fn describe(ui: &mut UiState, app: &AppState) -> Option<UiRequest> {
    let Some(member) = view::selected_member(app, ui) else {
        ui.notify_error("no member selected");
        return None;
    };
    let subject = Subject::of(member);
    let view = ui.open_view(format!("describe {}", subject.label()), ViewKind::Describe);
    Some(UiRequest::Describe { view, subject })
}

/// `l`, `:logs [since DUR]`: the selected member's logs, followed.
pub fn logs(ui: &mut UiState, app: &AppState, since: Option<&str>) -> Option<UiRequest> {
    let mut options = LogOptions::default();
    if let Some(text) = since {
        let text = text.strip_prefix("since").unwrap_or(text).trim();
        match Since::parse(text) {
            Ok(since) => options.since = since,
            Err(e) => {
                ui.notify_error(e);
                return None;
            }
        }
    }
    let Some(member) = view::selected_member(app, ui) else {
        ui.notify_error("no member selected");
        return None;
    };
    match log_target(member) {
        Ok(target) => Some(open_logs(ui, target, options)),
        Err(why) => {
            ui.notify_error(why);
            None
        }
    }
}

/// A new log view (also after `p` or `s` changed its options).
fn open_logs(ui: &mut UiState, target: LogTarget, options: LogOptions) -> UiRequest {
    let title = logs_title(&target, options);
    let kind = ViewKind::Logs {
        target: target.clone(),
        options,
    };
    let view = ui.open_view(title, kind);
    UiRequest::Logs {
        view,
        target,
        options,
    }
}

/// `logs container x · tail 500 · since 5m · previous`.
fn logs_title(target: &LogTarget, options: LogOptions) -> String {
    let mut title = format!(
        "logs {} · tail {} · since {}",
        target.label(),
        options.tail,
        options.since.label()
    );
    if options.previous {
        title.push_str(" · previous container");
    }
    title
}

/// `e`, `:shell`: what to open a shell in; the app loop completes the
/// command with the session's platforms and opens the y/N dialog.
pub fn shell(ui: &mut UiState, app: &AppState) -> Option<UiRequest> {
    let (Some(member), Some(cluster)) = (
        view::selected_member(app, ui),
        view::selected_cluster(app, ui),
    ) else {
        ui.notify_error("no member selected");
        return None;
    };
    match ShellTarget::of(member, cluster) {
        Ok(target) => Some(UiRequest::PlanShell {
            member: member.name.clone(),
            target,
        }),
        Err(why) => {
            ui.notify_error(why);
            None
        }
    }
}

/// `y` runs the shell; any other key (Enter too) cancels.
pub fn confirm_shell(ui: &mut UiState, key: &KeyEvent, command: ShellCommand) -> Option<UiRequest> {
    ui.mode = Mode::Normal;
    if matches!(key.code, KeyCode::Char('y' | 'Y')) {
        Some(UiRequest::Shell(command))
    } else {
        ui.notify("cancelled");
        None
    }
}

/// A key while a view is open.
pub fn view_key(ui: &mut UiState, key: &KeyEvent) -> Option<UiRequest> {
    let viewer = ui.viewer.as_mut()?;
    match view_keys::handle(viewer, key)? {
        ViewRequest::Close => {
            ui.viewer = None;
            Some(UiRequest::CloseView)
        }
        ViewRequest::Restart(options) => {
            let ViewKind::Logs { target, .. } = &viewer.kind else {
                return None;
            };
            let target = target.clone();
            Some(open_logs(ui, target, options))
        }
    }
}

impl UiState {
    /// Opens a view (replacing any) and numbers it for its feed.
    fn open_view(&mut self, title: String, kind: ViewKind) -> u64 {
        self.views_opened += 1;
        self.viewer = Some(Viewer::new(self.views_opened, title, kind));
        self.views_opened
    }

    /// The open view, if any.
    pub fn viewer(&self) -> Option<&Viewer> {
        self.viewer.as_ref()
    }

    /// Gives the open view what its task sent; a closed or replaced
    /// view's feed is dropped. True when something changed on screen.
    pub fn apply_feed(&mut self, feed: crate::sources::inspect::Feed) -> bool {
        match self.viewer.as_mut() {
            Some(viewer) if viewer.id == feed.view => {
                viewer.apply(feed.event);
                true
            }
            _ => false,
        }
    }

    /// Asks y/N before running `command`.
    pub fn ask_shell(&mut self, command: ShellCommand) {
        self.mode = Mode::ConfirmShell(command);
    }
}
