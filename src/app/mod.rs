//! The application: its state, and the loop that feeds it.

pub mod state;

pub use state::{AppState, HeaderInfo, SourceLabel};
