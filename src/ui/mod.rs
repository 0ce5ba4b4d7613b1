//! The terminal UI: a pure function of [`AppState`] to a frame, and the key
//! table that turns keys into requests. (Filled in by the UI work.)

use crate::actions::Action;
use crate::app::AppState;

/// UI-only state: selection, focus, filter, dialogs.
#[derive(Debug, Default)]
pub struct UiState {}

impl UiState {
    pub fn new(theme: Theme) -> Self {
        let _ = theme;
        UiState {}
    }

    /// Shows how an action ended in the status line.
    pub fn show_outcome(&mut self, outcome: &crate::actions::ActionOutcome) {
        let _ = outcome;
    }
}

/// Colours, or none (`NO_COLOR`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Theme;

impl Theme {
    pub fn from_env() -> Self {
        Theme
    }
}

/// What a key asks of the app loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiRequest {
    Quit,
    /// A confirmed action.
    Execute(Action),
}

/// Draws the whole screen.
pub fn draw(frame: &mut ratatui::Frame, app: &AppState) {
    let _ = (frame, app);
}

/// Applies a key to the UI state; returns what the app must do, if anything.
pub fn handle_key(app: &mut AppState, key: crossterm::event::KeyEvent) -> Option<UiRequest> {
    let _ = (app, key);
    None
}
