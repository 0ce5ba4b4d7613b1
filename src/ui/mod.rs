//! The terminal UI: a pure function of [`AppState`] to a frame, and the key
//! table that turns keys into requests. (Filled in by the UI work.)

use crate::actions::Action;
use crate::app::AppState;

/// UI-only state: selection, focus, filter, dialogs.
#[derive(Debug, Default)]
pub struct UiState {}

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
