//! The console loop: one task that owns the state and never awaits the
//! network. It selects over terminal input, source reports, action outcomes,
//! stop signals and a tick, and redraws only when something changed.

use std::time::Duration;

use color_eyre::eyre::{Context, Result};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::actions::{AuditLog, Executor, LabHandle};
use crate::cli::PlannedSource;
use crate::terminal::TerminalGuard;
use crate::ui::{self, UiRequest};

use super::runtime::{RunningSources, StopSignals};
use super::{AppState, HeaderInfo};

/// Everything the console needs to start.
pub struct ConsoleOptions {
    pub header: HeaderInfo,
    pub sources: Vec<PlannedSource>,
    pub request_timeout: Duration,
    pub lab: Option<LabHandle>,
    pub theme: ui::Theme,
}

/// How long sources get to stop after the console quits.
const STOP_BUDGET: Duration = Duration::from_secs(3);

/// Runs the console until `q`, a stop signal, or an error; the terminal is
/// restored on every path (the guard's drop, and the panic hook).
pub async fn run(options: ConsoleOptions) -> Result<()> {
    let mut signals = StopSignals::install().wrap_err("cannot install signal handlers")?;
    let interval = options.header.interval;
    let labels = options
        .sources
        .iter()
        .map(|p| super::SourceLabel {
            id: p.id.clone(),
            kind: p.kind,
            target: p.target.clone(),
        })
        .collect();
    let mut app = AppState::new(options.header, labels, OffsetDateTime::now_utc());
    app.ui = ui::UiState::new(options.theme);

    let mut guard = TerminalGuard::enter().wrap_err("cannot set up the terminal")?;
    // The first frame goes out before any source has been started.
    draw(&mut guard, &app)?;
    // A hook for the tests that prove a panic restores the terminal.
    if std::env::var_os("CLUSTERDECK_TEST_PANIC").is_some() {
        panic!("CLUSTERDECK_TEST_PANIC is set: panicking after the first frame");
    }

    let mut sources = RunningSources::start(options.sources, interval, options.request_timeout);
    let (outcome_tx, mut outcomes) = mpsc::channel(16);
    let executor = Executor::new(
        app.header.read_only,
        AuditLog::default_location(),
        options.lab,
        outcome_tx,
    );
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let result = loop {
        let dirty = tokio::select! {
            name = signals.recv() => {
                tracing::info!(signal = name, "stopping on signal");
                break Ok(());
            }
            event = input.next() => match event {
                Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => {
                    tracing::trace!(?key, "key");
                    match ui::handle_key(&mut app, key) {
                        Some(UiRequest::Quit) => break Ok(()),
                        Some(UiRequest::Execute(action)) => {
                            app.record_request(&action, OffsetDateTime::now_utc());
                            executor.execute(action);
                        }
                        Some(UiRequest::SwitchKube { context, namespace }) => {
                            if let Some(replaced) = sources.switch_kube(context, namespace) {
                                tracing::info!(old = %replaced.old, new = %replaced.new.target, "switching the Kubernetes source");
                                app.replace_source(&replaced.old, replaced.new, OffsetDateTime::now_utc());
                            }
                        }
                        None => {}
                    }
                    true
                }
                Some(Ok(TermEvent::Resize(..))) => true,
                Some(Ok(_)) => false,
                Some(Err(e)) => break Err(e).wrap_err("cannot read the terminal"),
                None => break Ok(()),
            },
            Some(report) = sources.reports.recv() => {
                app.apply_report(report, OffsetDateTime::now_utc());
                // Several sources often report together: take them all, draw once.
                while let Ok(report) = sources.reports.try_recv() {
                    app.apply_report(report, OffsetDateTime::now_utc());
                }
                true
            }
            Some(outcome) = outcomes.recv() => {
                app.apply_outcome(&outcome, OffsetDateTime::now_utc());
                app.ui.show_outcome(&outcome);
                true
            }
            _ = tick.tick() => {
                app.now = OffsetDateTime::now_utc();
                // Only "no leader for 3.2s" changes with the clock alone.
                app.topology.clusters.iter().any(|c| app.timeline.leaderless_since(&c.id).is_some())
            }
        };
        if dirty && let Err(e) = draw(&mut guard, &app) {
            break Err(e);
        }
    };
    drop(guard);
    sources.stop(STOP_BUDGET).await;
    result
}

fn draw(guard: &mut TerminalGuard, app: &AppState) -> Result<()> {
    guard
        .terminal
        .draw(|frame| ui::draw(frame, app))
        .wrap_err("cannot draw on the terminal")?;
    Ok(())
}
