//! From parsed arguments to a running mode and an exit code.

use std::process::ExitCode;

use color_eyre::eyre::Result;

use crate::app::HeaderInfo;
use crate::app::console::{self, ConsoleOptions};
use crate::cli::{Cli, Command, UsageError};
use crate::headless::{self, Outcome, WatchOutput};

/// Exit code for bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a source failed (output still printed).
pub const EXIT_SOURCE_FAILED: u8 = 1;

/// Runs the mode the command line asks for.
pub fn run(cli: Cli) -> ExitCode {
    match try_run(cli) {
        Ok(code) => code,
        Err(report) => match report.downcast_ref::<UsageError>() {
            Some(usage) => {
                eprintln!("clusterdeck: {usage}");
                eprintln!("Try 'clusterdeck --help' for more information.");
                ExitCode::from(EXIT_USAGE)
            }
            None => {
                eprintln!("clusterdeck: {report:?}");
                ExitCode::FAILURE
            }
        },
    }
}

fn try_run(cli: Cli) -> Result<ExitCode> {
    let log_path = crate::logging::init(cli.common.log_file.as_deref())?;
    tracing::info!(version = env!("CARGO_PKG_VERSION"), log = %log_path.display(), "starting");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(cli))
}

async fn dispatch(cli: Cli) -> Result<ExitCode> {
    let header = HeaderInfo {
        interval: cli.common.interval,
        read_only: cli.common.read_only,
        simulated: cli.sources.sim.is_some(),
        lab: false,
        notice: None,
    };
    let timeout = cli.common.request_timeout;
    match cli.command {
        Some(Command::Lab {
            replicas,
            sentinels,
        }) => {
            crate::lab::console::run(header, timeout, replicas, sentinels).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Snapshot {
            output,
            timeout: wait,
        }) => {
            let planned = cli.sources.plan()?;
            let outcome = headless::snapshot(planned, header, timeout, output, wait).await?;
            Ok(exit_code(outcome))
        }
        Some(Command::Watch {
            snapshots,
            duration,
            ..
        }) => {
            let planned = cli.sources.plan()?;
            let output = if snapshots {
                WatchOutput::Snapshots
            } else {
                WatchOutput::Events
            };
            let outcome = headless::watch(planned, header, timeout, output, duration).await?;
            Ok(exit_code(outcome))
        }
        None => {
            let planned = cli.sources.plan()?;
            console::run(ConsoleOptions {
                header,
                sources: planned,
                request_timeout: timeout,
                lab: None,
                theme: crate::ui::Theme::from_env(),
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn exit_code(outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::SourceFailed => ExitCode::from(EXIT_SOURCE_FAILED),
    }
}
