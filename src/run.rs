//! From parsed arguments to a running mode and an exit code.

use std::process::ExitCode;
use std::time::Duration;

use color_eyre::eyre::Result;

use std::sync::Arc;

use crate::terminal::say;

use crate::actions::executor::{ExecContext, Executor, sweep_console_policies};
use crate::actions::kube::{KubePlatform, target_for_undo};
use crate::actions::plan::heal_action;
use crate::actions::{AuditLog, FaultLedger, FaultRecord, HealReason, Platforms, Undo};
use crate::app::HeaderInfo;
use crate::app::console::{self, ConsoleOptions};
use crate::cli::{Cli, Command, LabApp, SourceArgs, UsageError};
use crate::headless::{self, Outcome, WatchOutput};
use crate::lab::console::LabOptions;
use crate::sources::docker::DockerHost;
use crate::sources::kube::KubeTarget;
use crate::sources::plan::platforms;

/// Exit code for bad usage or configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code when a source failed (output still printed).
pub const EXIT_SOURCE_FAILED: u8 = 1;

/// Runs the mode the command line asks for.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(code) = crate::manual::run(cli.command.as_ref()) {
        return code;
    }
    // A log file that cannot be written is bad input, said before anything runs.
    let log_path = match crate::logging::init(cli.common.log_file.as_deref()) {
        Ok(path) => path,
        Err(e) => {
            say(format_args!("clusterdeck: {e:#}"));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match try_run(cli, &log_path) {
        Ok(code) => code,
        Err(report) => match report.downcast_ref::<UsageError>() {
            Some(usage) => {
                say(format_args!("clusterdeck: {usage}"));
                say(format_args!(
                    "Try 'clusterdeck --help' for more information."
                ));
                ExitCode::from(EXIT_USAGE)
            }
            // One line, the causes after colons: an error is for the
            // operator, not a backtrace (and stderr may be gone).
            None => {
                say(format_args!("clusterdeck: {report:#}"));
                ExitCode::FAILURE
            }
        },
    }
}

fn try_run(cli: Cli, log_path: &std::path::Path) -> Result<ExitCode> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), log = %log_path.display(), "starting");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(dispatch(cli))
}

/// The addresses of the hosts named by `--redis`, `--sentinel` and
/// `--registry`: credentials may go there too.
async fn resolve_named_hosts(sources: &mut SourceArgs, timeout: std::time::Duration) {
    let urls = sources.redis.iter().chain(&sources.sentinel);
    let urls: Vec<String> = urls.chain(&sources.registry).cloned().collect();
    let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
    sources.trust.resolve_named(&urls, timeout).await;
}

/// Skipping TLS verification is said in the header, loudly.
fn tls_notice(sources: &SourceArgs) -> Option<String> {
    let text = "TLS NOT VERIFIED (--tls-insecure): any server can pose as a rediss:// one";
    sources.trust.tls_insecure.then(|| text.to_string())
}

async fn dispatch(mut cli: Cli) -> Result<ExitCode> {
    cli.sources.config = Arc::new(cli.common.load_config()?);
    cli.sources.read_only = cli.common.read_only;
    check_usage(&cli)?;
    resolve_named_hosts(&mut cli.sources, cli.common.request_timeout).await;
    let header = HeaderInfo {
        interval: cli.common.interval,
        read_only: cli.common.read_only,
        simulated: cli.sources.sim.is_some(),
        lab: false,
        notice: tls_notice(&cli.sources),
    };
    let timeout = cli.common.request_timeout;
    match cli.command {
        Some(Command::Heal) => heal(timeout, cli.common.read_only, cli.sources.kube_target()).await,
        Some(Command::Lab {
            app,
            replicas,
            sentinels,
            image,
            swarm,
        }) => {
            let options = LabOptions {
                app,
                replicas,
                sentinels,
                docker: lab_engine(&cli.sources, swarm),
                image: image.unwrap_or_else(|| app.default_image().to_string()),
                swarm,
                config: Arc::clone(&cli.sources.config),
                keep_faults: cli.common.keep_faults,
            };
            crate::lab::console::run(header, timeout, options).await?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Snapshot {
            output,
            timeout: wait,
        }) => {
            let planned = cli.sources.plan().await?;
            let outcome = headless::snapshot(planned, header, timeout, output, wait).await?;
            Ok(exit_code(outcome))
        }
        Some(Command::Watch {
            snapshots,
            duration,
            ..
        }) => {
            let planned = cli.sources.plan().await?;
            let output = watch_output(snapshots);
            let outcome = headless::watch(planned, header, timeout, output, duration).await?;
            Ok(exit_code(outcome))
        }
        // Printed by `run` before anything started.
        Some(Command::Completions { .. } | Command::Man | Command::Help { .. }) => {
            Ok(ExitCode::SUCCESS)
        }
        None => run_console(&cli, header, timeout).await,
    }
}

/// Events unless `--snapshots` (`--events` only says so).
fn watch_output(snapshots: bool) -> WatchOutput {
    if snapshots {
        WatchOutput::Snapshots
    } else {
        WatchOutput::Events
    }
}

/// What every mode checks before it starts: the source flags, and a
/// terminal for the console (it draws escape codes and reads keys: into a
/// file or from a pipe it would only make a mess).
fn check_usage(cli: &Cli) -> Result<(), UsageError> {
    use std::io::IsTerminal;
    cli.sources.check()?;
    if let Some(Command::Lab { app, swarm, .. }) = &cli.command
        && *swarm
        && *app != LabApp::Redis
    {
        return Err(UsageError::SwarmLab);
    }
    let console = matches!(cli.command, None | Some(Command::Lab { .. }));
    if console && !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) {
        return Err(UsageError::NotATerminal);
    }
    Ok(())
}

/// `--swarm` means the lab runs on an engine: `--docker`'s, or the one
/// DOCKER_HOST (or the default socket) names.
fn lab_engine(sources: &SourceArgs, swarm: bool) -> Option<DockerHost> {
    match (sources.docker.as_deref(), swarm) {
        (Some(host), _) => Some(DockerHost::resolve(Some(host))),
        (None, true) => Some(DockerHost::resolve(None)),
        (None, false) => None,
    }
}

/// The console on the sources the command line names.
async fn run_console(cli: &Cli, header: HeaderInfo, timeout: Duration) -> Result<ExitCode> {
    let planned = cli.sources.plan().await?;
    console::run(ConsoleOptions {
        header,
        platforms: platforms(&planned),
        sources: planned,
        request_timeout: timeout,
        lab: None,
        theme: crate::ui::Theme::from_env(),
        config: Arc::clone(&cli.sources.config),
        keep_faults: cli.common.keep_faults,
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

fn exit_code(outcome: Outcome) -> ExitCode {
    match outcome {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::SourceFailed => ExitCode::from(EXIT_SOURCE_FAILED),
    }
}

/// `clusterdeck heal`: undoes every fault in the ledger and says what it did,
/// then deletes every console-labelled NetworkPolicy left on the Kubernetes
/// clusters it knows of (the `--kube` flags' and those the ledger named),
/// so an isolation is healed even when its record is lost; exit 0 when all
/// are healed (or there were none), 1 otherwise. A damaged ledger heals
/// what it still holds (and sweeps); what it cannot read is reported.
async fn heal(timeout: Duration, read_only: bool, kube: Option<KubeTarget>) -> Result<ExitCode> {
    let ledger = FaultLedger::default_location();
    let (faults, read_whole) = read_ledger(&ledger);
    let sweep = sweep_targets(kube.as_ref(), &faults);
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let executor = Executor::new(
        read_only,
        AuditLog::default_location(),
        ExecContext {
            platforms: Platforms {
                docker: None,
                kube: kube.map(KubePlatform::new),
                apps: Default::default(),
            },
            ledger: ledger.clone(),
            run: String::new(),
            timeout,
            lab: None,
        },
        tx,
    );
    let mut all_healed = read_whole;
    for fault in &faults {
        let action = heal_action(Some(fault.member.clone()), &[fault], HealReason::Asked);
        let outcome = executor.execute_now(action).await;
        all_healed &= outcome.ok;
        let word = if outcome.ok { "healed" } else { "NOT healed" };
        println!(
            "{word} {} on {} ({}): {}",
            fault.id, fault.target, fault.summary, outcome.message
        );
    }
    if read_only {
        for target in &sweep {
            println!("NOT swept {} (read-only)", target.label());
        }
        return Ok(exit_healed(all_healed && sweep.is_empty()));
    }
    all_healed &= sweep_all(&sweep, timeout).await;
    Ok(exit_healed(all_healed))
}

/// The records `heal` can heal, saying on stdout what it cannot read;
/// false when something could not be read.
fn read_ledger(ledger: &FaultLedger) -> (Vec<FaultRecord>, bool) {
    let path = ledger.path();
    let contents = match ledger.load() {
        Ok(contents) => contents,
        Err(e) => {
            println!("NOT read {}: {e}", path.display());
            return (Vec::new(), false);
        }
    };
    if let Some(damaged) = &contents.damaged {
        println!(
            "NOT read {}: {}; kept as {}",
            path.display(),
            damaged.error.escape_debug(),
            damaged.kept_as.display()
        );
    }
    for record in &contents.unreadable {
        let id = record.id.as_deref().unwrap_or("without an id");
        println!(
            "NOT healed record {}: {}",
            id.escape_debug(),
            record.error.escape_debug()
        );
    }
    let whole = contents.damaged.is_none() && contents.unreadable.is_empty();
    if whole && contents.records.is_empty() {
        println!("no faults in {}", path.display());
    }
    (contents.records, whole)
}

/// The Kubernetes clusters to sweep for console NetworkPolicies: the
/// `--kube` flags' and every one a ledger record names.
fn sweep_targets(kube: Option<&KubeTarget>, faults: &[FaultRecord]) -> Vec<KubeTarget> {
    let mut sweep: Vec<KubeTarget> = kube.into_iter().cloned().collect();
    for fault in faults {
        if let Undo::KubeDeleteNetworkPolicy {
            context,
            kubeconfig,
            ..
        } = &fault.undo
        {
            let target = target_for_undo(context.as_deref(), kubeconfig.as_ref());
            if !sweep.contains(&target) {
                sweep.push(target);
            }
        }
    }
    sweep
}

/// Deletes the console's NetworkPolicies on each target, one line each;
/// true when every sweep succeeded.
async fn sweep_all(sweep: &[KubeTarget], timeout: Duration) -> bool {
    let mut all_swept = true;
    for target in sweep {
        match sweep_console_policies(target, timeout).await {
            Ok(lines) if lines.is_empty() => {
                println!("no console NetworkPolicy left on {}", target.label())
            }
            Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
            Err(e) => {
                all_swept = false;
                println!("NOT swept {}: {e}", target.label());
            }
        }
    }
    all_swept
}

fn exit_healed(all_healed: bool) -> ExitCode {
    if all_healed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_SOURCE_FAILED)
    }
}
