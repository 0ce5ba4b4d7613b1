//! The Docker Engine and Swarm calls behind each action. Every call has a
//! timeout ([`timed`]); errors name the call and carry the engine's message.
//!
//! - [`plan`]: drafts for members the Docker source saw;
//! - [`scale`]: service update with the full inspected spec and its version;
//! - [`cordon`]: node availability `pause`/`drain`/`active`;
//! - [`disconnect`]: save endpoint settings, disconnect, reconnect with them;
//! - [`remove`]: SIGTERM and a grace period, or a command run inside;
//! - [`describe`]: the confirm dialog's text for each action;
//! - [`backend`]: [`DockerBackend`], which of the above serves an action or
//!   an undo (the executor's view of Docker).

pub mod backend;
pub mod cordon;
pub mod describe;
pub mod disconnect;
pub mod plan;
pub mod remove;
pub mod scale;

pub use crate::sources::docker::client::{DockerError, DockerHost, timed};
pub use backend::DockerBackend;
