//! clusterdeck: one live screen for highly available, stateful clusters.
//!
//! Where things live:
//! - [`model`]: pure data: members, the merge of source reports into a
//!   topology, how a cluster agrees on its leader ([`model::consensus`]),
//!   the timeline of changes. No tokio, no clients.
//! - [`sources`]: tokio tasks that watch something (Redis, Sentinel, Docker
//!   and Swarm, Kubernetes, a simulation) and send whole
//!   [`model::SourceReport`]s over a channel; [`sources::plan`] decides which
//!   to start (the named ones, else what the machine offers), and
//!   [`sources::poll`] is the loop, backoff and discovered targets every
//!   polled source (and every application probe) shares.
//! - [`actions`]: what the console does to a cluster, as data, and the tasks
//!   that carry it out.
//! - [`app`]: the single owner of state; the loop over input, reports,
//!   outcomes and ticks, which owns the app state and the UI state side by
//!   side and feeds discovered members back to the sources.
//! - [`ui`]: rendering, a pure function of the app state and the UI's own
//!   state, and the key table.
//! - [`headless`]: `snapshot` and `watch` for scripts.
//! - [`lab`]: a real local Redis cluster for demos and tests.
//! - [`bounded`]: reading files with a bound on size and kind.
//! - [`config`]: the cluster config file (names and labels to clusters and tiers).
//! - [`escape`]: cluster text made safe to show in a terminal.
//! - [`cli`]: the command line, mapping flags onto a source plan.
//! - [`manual`]: shell completions and the man page, from the clap definitions.
//! - [`run`]: from parsed arguments to a running mode and an exit code.
//! - [`terminal`]: entering the terminal and restoring it on every way out.
//! - [`logging`]: logs to a file, never to the terminal.
//! - [`paths`]: where logs, the audit log and the fault ledger live.

pub mod actions;
pub mod app;
pub mod bounded;
pub mod cli;
pub mod config;
pub mod escape;
pub mod headless;
pub mod lab;
pub mod logging;
pub mod manual;
pub mod model;
pub mod paths;
pub mod run;
pub mod sources;
pub mod terminal;
pub mod ui;
