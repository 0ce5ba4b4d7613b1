//! The application: its state, the console loop that feeds it, and the
//! start/stop of sources shared with the headless modes.

pub mod console;
pub mod history;
pub mod runtime;
pub mod state;
pub mod views;

pub use state::{AppState, HeaderInfo, SourceLabel};
