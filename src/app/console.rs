//! The console loop: one task that owns the state and never awaits the
//! network. It selects over terminal input, source reports, action outcomes,
//! stop signals and a tick, and redraws only when something changed.
//!
//! Faults: the tick heals this run's faults whose time to live ran out;
//! quitting first waits (bounded) for the actions still in flight, then heals
//! what this run injected within [`CLEANUP_BUDGET`], which
//! Ctrl-C and SIGTERM do not cut short (the signal handlers stay installed and
//! unheeded while it runs); a start finds faults left by consoles that are
//! not running any more and offers to heal them.

use std::sync::Arc;
use std::time::Duration;

use color_eyre::eyre::{Context, Result};
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::actions::executor::ExecContext;
use crate::actions::plan::heal_action;
use crate::actions::shell::{self, ShellCommand, ShellTarget, shell_access};
use crate::actions::{AuditLog, Executor, FaultLedger, HealReason, LabHandle, Platforms, RunId};
use crate::config::Config;
use crate::sources::inspect::{Feed, Reach};
use crate::sources::plan::PlannedSource;
use crate::terminal::TerminalGuard;
use crate::ui::{self, Mode, UiRequest};

use super::history::History;
use super::runtime::{RunningSources, StopSignals, SuspendSignal};
use super::views::Views;
use super::{AppState, HeaderInfo};

/// Everything the console needs to start.
pub struct ConsoleOptions {
    pub header: HeaderInfo,
    pub sources: Vec<PlannedSource>,
    pub request_timeout: Duration,
    pub lab: Option<LabHandle>,
    pub theme: ui::Theme,
    pub config: Arc<Config>,
    /// The platforms actions may call.
    pub platforms: Platforms,
    /// Leave this run's faults in place on quit (`--keep-faults`).
    pub keep_faults: bool,
}

/// How long sources get to stop after the console quits.
const STOP_BUDGET: Duration = Duration::from_secs(3);
/// How long quitting may spend healing this run's faults.
pub const CLEANUP_BUDGET: Duration = Duration::from_secs(20);
/// How long quitting waits for actions still in flight before healing.
const ACTIONS_BUDGET: Duration = Duration::from_secs(10);

/// Runs the console until `q`, a stop signal, or an error; the terminal is
/// restored on every path (the guard's drop, and the panic hook).
pub async fn run(options: ConsoleOptions) -> Result<()> {
    let (signals, suspend) = install_signals()?;
    let interval = options.header.interval;
    let (mut app, mut ui) = initial_state(&options);
    let history = history(&options, &mut app);
    let ledger = FaultLedger::default_location();
    let run_id = claim_run(&app)?;
    app.run = run_id.as_ref().map(|r| r.id.clone());
    offer_left_behind(&mut app, &mut ui, &ledger);

    let mut guard = TerminalGuard::enter().wrap_err("cannot set up the terminal")?;
    // The first frame goes out before any source has been started.
    draw(&mut guard, &app, &ui)?;
    // A hook for the tests that prove a panic restores the terminal.
    if std::env::var_os("CLUSTERDECK_TEST_PANIC").is_some() {
        panic!("CLUSTERDECK_TEST_PANIC is set: panicking after the first frame");
    }

    let sources = RunningSources::start(options.sources, interval, options.request_timeout);
    let (executor, outcomes) = start_executor(
        &app,
        &ledger,
        options.platforms,
        options.request_timeout,
        options.lab,
    );
    let mut looping = Loop {
        app,
        ui,
        guard,
        signals,
        suspend,
        sources,
        outcomes,
        executor,
        history,
        views: Views::new(options.request_timeout),
        pending_shell: None,
    };
    let result = looping.run().await;
    let Loop {
        guard,
        signals,
        sources,
        executor,
        app,
        ..
    } = looping;
    drop(guard);
    tokio::join!(sources.stop(STOP_BUDGET), settle_actions(&executor));
    if !options.keep_faults {
        heal_on_quit(&executor, &ledger, app.run.as_deref()).await;
    }
    // Signals stay caught until cleanup is over: Ctrl-C cannot cut it short.
    drop(signals);
    drop(run_id);
    result
}

/// The executor of this run's actions, and where their outcomes come.
fn start_executor(
    app: &AppState,
    ledger: &FaultLedger,
    platforms: Platforms,
    timeout: Duration,
    lab: Option<LabHandle>,
) -> (Executor, mpsc::Receiver<crate::actions::ActionOutcome>) {
    let (outcome_tx, outcomes) = mpsc::channel(16);
    let context = ExecContext {
        platforms,
        ledger: ledger.clone(),
        run: app.run.clone().unwrap_or_default(),
        timeout,
        lab,
    };
    let audit = AuditLog::default_location();
    let executor = Executor::new(app.header.read_only, audit, context, outcome_tx);
    (executor, outcomes)
}

/// The signals the loop answers: every one that would end the process,
/// and SIGTSTP, installed before the terminal is touched.
fn install_signals() -> Result<(StopSignals, SuspendSignal)> {
    let stop = StopSignals::install().wrap_err("cannot install signal handlers")?;
    let suspend = SuspendSignal::install().wrap_err("cannot install signal handlers")?;
    Ok((stop, suspend))
}

/// The timeline earlier runs on these sources kept, put before this run's;
/// none for a lab, whose sources are new every run, nor for a simulation.
fn history(options: &ConsoleOptions, app: &mut AppState) -> Option<History> {
    if options.lab.is_some() || options.header.simulated {
        return None;
    }
    let targets = options.sources.iter().map(|s| s.target.as_str());
    let history = History::for_sources(&crate::paths::state_dir(), targets);
    app.timeline.prepend_history(history.load());
    Some(history)
}

/// The app state before any source reported, and the UI state beside it.
fn initial_state(options: &ConsoleOptions) -> (AppState, ui::UiState) {
    let labels = options
        .sources
        .iter()
        .map(|p| super::SourceLabel {
            id: p.id.clone(),
            kind: p.kind,
            target: p.target.clone(),
        })
        .collect();
    let mut app = AppState::new(options.header.clone(), labels, OffsetDateTime::now_utc());
    app.config = Arc::clone(&options.config);
    (app, ui::UiState::new(options.theme))
}

/// Registers this console run in the ledger's directory; a read-only
/// console injects nothing, so it claims no run.
fn claim_run(app: &AppState) -> Result<Option<RunId>> {
    if app.header.read_only {
        return Ok(None);
    }
    RunId::claim(&crate::paths::state_dir())
        .wrap_err("cannot register this console run")
        .map(Some)
}

/// Opens the y/N dialog for faults left by consoles that are gone.
fn offer_left_behind(app: &mut AppState, ui: &mut ui::UiState, ledger: &FaultLedger) {
    match ledger.load() {
        Ok(contents) => {
            if let Some(trouble) = contents.trouble() {
                ui.notify_error(trouble);
            }
            app.set_faults(contents.records);
        }
        Err(e) => {
            ui.notify_error(format!("cannot read the fault ledger: {e}"));
            return;
        }
    }
    if app.header.read_only {
        return;
    }
    let left: Vec<_> = match ledger.left_behind() {
        Ok(left) => left,
        Err(_) => return,
    };
    if !left.is_empty() {
        let refs: Vec<_> = left.iter().collect();
        ui.set_mode(Mode::Confirm(heal_action(
            None,
            &refs,
            HealReason::LeftBehind,
        )));
    }
}

/// Lets the actions in flight land before healing: a disconnect between its
/// ledger record and its injection would otherwise land after the heal, a
/// fault with no record.
async fn settle_actions(executor: &Executor) {
    if !executor.settle(ACTIONS_BUDGET).await {
        crate::terminal::say(format_args!(
            "clusterdeck: an action was still running after {}s; healing anyway",
            ACTIONS_BUDGET.as_secs()
        ));
    }
}

/// Heals this run's faults, within the cleanup budget, saying so on stderr
/// (the terminal is restored by now).
async fn heal_on_quit(executor: &Executor, ledger: &FaultLedger, run: Option<&str>) {
    let Some(run) = run else { return };
    let mine: Vec<_> = match ledger.records() {
        Ok(all) => all.into_iter().filter(|f| f.run == run).collect(),
        Err(e) => {
            crate::terminal::say(format_args!(
                "clusterdeck: cannot read the fault ledger to heal this run's faults: {e}"
            ));
            return;
        }
    };
    if mine.is_empty() {
        return;
    }
    crate::terminal::say(format_args!(
        "clusterdeck: healing {} fault(s) this run injected...",
        mine.len()
    ));
    let refs: Vec<_> = mine.iter().collect();
    let action = heal_action(None, &refs, HealReason::Quitting);
    match tokio::time::timeout(CLEANUP_BUDGET, executor.execute_now(action)).await {
        Ok(outcome) if outcome.ok => {
            crate::terminal::say(format_args!("clusterdeck: healed: {}", outcome.message))
        }
        Ok(outcome) => crate::terminal::say(format_args!(
            "clusterdeck: not all healed: {}; run `clusterdeck heal` to retry",
            outcome.message
        )),
        Err(_) => crate::terminal::say(format_args!(
            "clusterdeck: healing took longer than {}s; run `clusterdeck heal` to finish",
            CLEANUP_BUDGET.as_secs()
        )),
    }
}

/// The loop's state: what the select reads from and writes to.
struct Loop {
    app: AppState,
    /// Selection, focus and dialogs: the UI's own state, beside the app's.
    ui: ui::UiState,
    guard: TerminalGuard,
    signals: StopSignals,
    /// SIGTSTP: stop as a shell job, the terminal given back meanwhile.
    suspend: SuspendSignal,
    sources: RunningSources,
    outcomes: mpsc::Receiver<crate::actions::ActionOutcome>,
    executor: Executor,
    /// The timeline kept for the next run (none in a lab).
    history: Option<History>,
    /// The describe/logs view's task and what it sends.
    views: Views,
    /// A confirmed shell, run once the input reader is stopped.
    pending_shell: Option<ShellCommand>,
}

impl Loop {
    async fn run(&mut self) -> Result<()> {
        let mut input = EventStream::new();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let dirty = tokio::select! {
                // In order: a key is answered before a fleet's report is merged.
                biased;
                name = self.signals.recv() => {
                    tracing::info!(signal = name, "stopping on signal");
                    return Ok(());
                }
                _ = self.suspend.recv() => self.suspend()?,
                event = input.next() => match event {
                    Some(Ok(TermEvent::Key(key))) if key.kind != KeyEventKind::Release => {
                        tracing::trace!(?key, "key");
                        let request = ui::handle_key(&mut self.ui, &self.app, key);
                        if self.on_request(request)? {
                            return Ok(());
                        }
                        true
                    }
                    // Moves and drags redraw nothing.
                    Some(Ok(TermEvent::Mouse(mouse))) => ui::handle_mouse(&mut self.ui, &self.app, mouse),
                    Some(Ok(TermEvent::Resize(..))) => true,
                    Some(Ok(_)) => false,
                    // EIO: the terminal is gone (a closed pane, a dropped SSH
                    // session), as SIGHUP says too; whichever comes first
                    // ends the console the same way.
                    Some(Err(e)) if e.raw_os_error() == Some(libc::EIO) => {
                        tracing::info!("the terminal is gone; stopping");
                        return Ok(());
                    }
                    Some(Err(e)) => return Err(e).wrap_err("cannot read the terminal"),
                    None => return Ok(()),
                },
                Some(report) = self.sources.reports.recv() => self.on_reports(report).await,
                Some(feed) = self.views.feeds.recv() => self.on_feed(feed),
                Some(outcome) = self.outcomes.recv() => {
                    self.app.apply_outcome(&outcome, OffsetDateTime::now_utc());
                    self.ui.show_outcome(&outcome);
                    true
                }
                _ = tick.tick() => self.on_tick(),
            };
            if let Some(command) = self.pending_shell.take() {
                // The input reader would take the shell's keystrokes: it
                // stops while the shell runs, and a new one reads after.
                drop(input);
                self.run_shell(command).await?;
                input = EventStream::new();
            }
            if dirty {
                if let Some(history) = &mut self.history {
                    history.save(&self.app.timeline);
                }
                draw(&mut self.guard, &self.app, &self.ui)?;
            }
        }
    }

    /// Carries out what a key asked for; true when it asked to quit.
    fn on_request(&mut self, request: Option<UiRequest>) -> Result<bool> {
        match request {
            Some(UiRequest::Quit) => return Ok(true),
            // Raw mode turns Ctrl-Z into a key: suspend as the shell would.
            Some(UiRequest::Suspend) => {
                self.suspend()?;
            }
            Some(UiRequest::Execute(action)) => self.execute(action),
            Some(UiRequest::Copy(text)) => crate::terminal::copy_to_clipboard(&text),
            Some(UiRequest::SwitchKube { context, namespace }) => {
                self.switch_kube(context, namespace)
            }
            Some(UiRequest::Describe { view, subject }) => {
                let reach = self.reach();
                self.views.describe(view, subject, reach);
            }
            Some(UiRequest::Logs {
                view,
                target,
                options,
            }) => {
                let reach = self.reach();
                self.views.logs(view, target, options, reach);
            }
            Some(UiRequest::CloseView) => self.views.stop(),
            Some(UiRequest::PlanShell { member, target }) => self.plan_shell(&member, &target),
            Some(UiRequest::Shell(command)) => self.pending_shell = Some(command),
            None => {}
        }
        Ok(false)
    }

    /// Feeds the open view, with any other feed already waiting (a busy
    /// log sends many batches; one draw serves them).
    fn on_feed(&mut self, feed: Feed) -> bool {
        let mut dirty = self.ui.apply_feed(feed);
        while let Ok(feed) = self.views.feeds.try_recv() {
            dirty |= self.ui.apply_feed(feed);
        }
        dirty
    }

    /// Where a view may read from: the session's platforms as they are now.
    fn reach(&self) -> Reach {
        let platforms = self.executor.platforms();
        Reach {
            docker: platforms.docker.clone(),
            kube: platforms.kube.as_ref().map(|k| k.current()),
            timeout: self.views.timeout,
        }
    }

    /// Completes the shell command with the session's platforms and
    /// credentials, and asks y/N; or says why there is none.
    fn plan_shell(&mut self, member: &str, target: &ShellTarget) {
        let access = shell_access(self.executor.platforms(), target);
        match ShellCommand::plan(member, target, &access).and_then(|c| c.check().map(|()| c)) {
            Ok(command) => self.ui.ask_shell(command),
            Err(why) => self.ui.notify_error(why),
        }
    }

    /// Runs a confirmed shell in the terminal, the console's screen given
    /// back meanwhile and repainted whole after.
    async fn run_shell(&mut self, command: ShellCommand) -> Result<()> {
        tracing::info!(member = %command.member, command = %command.shown(), "shell: starting");
        self.guard.release();
        let status = shell::run(&command).await;
        self.guard
            .retake()
            .wrap_err("cannot take the terminal back after the shell")?;
        match status {
            Ok(code) => {
                tracing::info!(member = %command.member, code = ?code, "shell: ended");
                self.ui.notify(format!(
                    "shell in {} ended ({})",
                    command.member,
                    code.map_or("by a signal".to_string(), |c| format!("exit code {c}"))
                ));
            }
            Err(e) => {
                tracing::warn!(member = %command.member, error = %e, "shell: did not start");
                self.ui
                    .notify_error(format!("cannot run {}: {e}", command.program));
            }
        }
        Ok(())
    }

    /// Applies a report and those that follow it closely (see [`gather`]):
    /// several sources often report together, and one merge and one draw
    /// serve them all. True when the screen would show something new (most
    /// polls change nothing).
    async fn on_reports(&mut self, report: crate::model::SourceReport) -> bool {
        let before = self.app.generation;
        let pushed = self.app.timeline.pushed();
        let batch = gather(&mut self.sources.reports, report).await;
        self.app.apply_reports(batch, OffsetDateTime::now_utc());
        self.sources.offer_targets(&self.app.topology);
        self.app.generation != before || self.app.timeline.pushed() != pushed
    }

    /// Gives the terminal back and stops until the shell continues the
    /// process; true: the screen is repainted whole.
    fn suspend(&mut self) -> Result<bool> {
        tracing::info!("suspending");
        self.guard
            .suspend()
            .wrap_err("cannot take the terminal back after a stop")?;
        tracing::info!("continued");
        Ok(true)
    }

    /// `:ctx` / `:ns`: restarts the Kubernetes source on another context or namespace.
    fn switch_kube(&mut self, context: Option<String>, namespace: Option<String>) {
        if let Some(replaced) = self.sources.switch_kube(context, namespace) {
            tracing::info!(old = %replaced.old, new = %replaced.new.target, "switching the Kubernetes source");
            if let Some(kube) = &self.executor.platforms().kube {
                kube.set(replaced.target.clone());
            }
            self.app
                .replace_source(&replaced.old, replaced.new, OffsetDateTime::now_utc());
        }
    }

    fn execute(&mut self, action: crate::actions::Action) {
        self.app.record_request(&action, OffsetDateTime::now_utc());
        self.executor.execute(action);
    }

    /// Heals expired faults; true: the header's clock, "no leader for
    /// 3.2s" and "heals in 42s" change with the clock alone (a frame that
    /// changes a few cells writes only those).
    fn on_tick(&mut self) -> bool {
        let now = OffsetDateTime::now_utc();
        self.app.now = now;
        if let Some(action) = self.app.take_expired(now) {
            self.execute(action);
        }
        self.app.mark_faults();
        true
    }
}

/// How long reports are gathered after the first: sources polled on one
/// interval answer a few milliseconds apart, and one merge and one frame
/// serve them all. Never longer than a frame.
const GATHER_GAP: Duration = Duration::from_millis(2);
const GATHER_MAX: Duration = Duration::from_millis(16);

/// `first` and the reports that follow it within [`GATHER_GAP`] of each
/// other, for at most [`GATHER_MAX`].
async fn gather(
    mailbox: &mut crate::sources::mailbox::Mailbox,
    first: crate::model::SourceReport,
) -> Vec<crate::model::SourceReport> {
    let deadline = tokio::time::Instant::now() + GATHER_MAX;
    let mut batch = vec![first];
    loop {
        while let Some(report) = mailbox.try_recv() {
            batch.push(report);
        }
        let until = deadline.min(tokio::time::Instant::now() + GATHER_GAP);
        match tokio::time::timeout_at(until, mailbox.recv()).await {
            Ok(Some(report)) => batch.push(report),
            _ => return batch,
        }
    }
}

fn draw(guard: &mut TerminalGuard, app: &AppState, ui: &ui::UiState) -> Result<()> {
    match guard.terminal.draw(|frame| ui::draw(frame, app, ui)) {
        Ok(_) => Ok(()),
        // The terminal is gone: SIGHUP or the input's EIO ends the loop
        // next, and the cleanup after it writes nothing it needs.
        Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(()),
        Err(e) => Err(e).wrap_err("cannot draw on the terminal"),
    }
}
