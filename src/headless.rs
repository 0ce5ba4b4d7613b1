//! Headless modes for scripts: `snapshot` (one look, then exit) and `watch`
//! (one JSON object a line). Field names are a contract; see the README.
//! Exit codes: 0 ok, 1 a source failed (the output still says what was seen).

use std::io::{self, Write};
use std::time::Duration;

use color_eyre::eyre::{Context, Result};
use serde::Serialize;
use time::OffsetDateTime;
use tokio::time::Instant;

use crate::app::runtime::{RunningSources, StopSignals};
use crate::app::{AppState, HeaderInfo};
use crate::cli::OutputFormat;
use crate::model::{Cluster, SourceState, Topology};
use crate::sources::plan::PlannedSource;

const STOP_BUDGET: Duration = Duration::from_secs(2);

/// The `snapshot` document.
#[derive(Debug, Serialize)]
pub struct Snapshot<'a> {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub clusters: &'a [Cluster],
    pub sources: &'a [SourceState],
}

impl<'a> Snapshot<'a> {
    pub fn of(topology: &'a Topology, at: OffsetDateTime) -> Self {
        Snapshot {
            at,
            clusters: &topology.clusters,
            sources: &topology.sources,
        }
    }
}

/// How a headless run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    SourceFailed,
}

/// Looks until every source has answered once (a source's first report is
/// complete: pollers look at what they discover in the same round, watchers
/// report after their first full list) or `timeout` passes, then prints.
pub async fn snapshot(
    planned: Vec<PlannedSource>,
    header: HeaderInfo,
    request_timeout: Duration,
    format: OutputFormat,
    timeout: Duration,
) -> Result<Outcome> {
    let mut sources = RunningSources::start(planned, header.interval, request_timeout);
    let mut app = AppState::new(header, sources.labels.clone(), OffsetDateTime::now_utc());
    load_faults(&mut app);
    let mut answered: std::collections::HashSet<String> = Default::default();
    let deadline = Instant::now() + timeout;
    while answered.len() < app.reports.len() {
        match tokio::time::timeout_at(deadline, sources.reports.recv()).await {
            Ok(Some(report)) => {
                answered.insert(report.source.clone());
                app.apply_report(report, OffsetDateTime::now_utc());
                sources.offer_targets(&app.topology);
            }
            Ok(None) | Err(_) => break,
        }
    }
    sources.stop(STOP_BUDGET).await;
    mark_silent_sources(&mut app, timeout);
    let doc = Snapshot::of(&app.topology, OffsetDateTime::now_utc());
    let text = match format {
        OutputFormat::Json => serde_json::to_string_pretty(&doc)? + "\n",
        OutputFormat::Yaml => serde_yaml::to_string(&doc)?,
        OutputFormat::Table => table(&app.topology),
    };
    write_stdout(text.as_bytes())?;
    Ok(outcome(&app.topology))
}

/// Members show the faults the ledger holds on them (read once: headless
/// modes inject nothing).
fn load_faults(app: &mut AppState) {
    match crate::actions::FaultLedger::default_location().records() {
        Ok(faults) => app.set_faults(faults),
        Err(e) => tracing::warn!(error = %e, "cannot read the fault ledger"),
    }
}

/// A source that never answered is a failed source, not a silent one.
fn mark_silent_sources(app: &mut AppState, timeout: Duration) {
    for source in &mut app.topology.sources {
        if source.status == "connecting" {
            source.status = "error";
            source.error = Some(format!(
                "no answer within {}",
                humantime::format_duration(timeout)
            ));
        }
    }
}

/// What `watch` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchOutput {
    Events,
    Snapshots,
}

/// Prints events (or snapshots) as JSON lines until a signal, `duration`, or
/// a closed stdout. Lines go to stdout from a thread of their own through a
/// bounded queue, so a reader that stops reading holds the output back but
/// never the signals: a signal ends the run at once, lines still queued or
/// half written are dropped.
pub async fn watch(
    planned: Vec<PlannedSource>,
    header: HeaderInfo,
    request_timeout: Duration,
    output: WatchOutput,
    duration: Option<Duration>,
) -> Result<Outcome> {
    let mut signals = StopSignals::install().wrap_err("cannot install signal handlers")?;
    let mut sources = RunningSources::start(planned, header.interval, request_timeout);
    let mut app = AppState::new(header, sources.labels.clone(), OffsetDateTime::now_utc());
    load_faults(&mut app);
    let (lines, mut written) = StdoutWriter::spawn();
    let stop_at = duration.map(|d| Instant::now() + d);
    let ended = loop {
        let report = tokio::select! {
            _ = signals.recv() => break Ended::Signal,
            _ = sleep_until(stop_at) => break Ended::Done,
            report = sources.reports.recv() => match report {
                Some(r) => r,
                None => break Ended::Done,
            },
        };
        let out = watch_lines(&mut app, report, output)?;
        sources.offer_targets(&app.topology);
        if out.is_empty() {
            continue;
        }
        tokio::select! {
            _ = signals.recv() => break Ended::Signal,
            sent = lines.send(out) => if sent.is_err() {
                // The writer stopped: stdout failed.
                break Ended::Done;
            },
        }
    };
    drop(lines);
    let result = match ended {
        Ended::Signal => Ok(()),
        // What was printed is flushed, unless a signal comes first.
        Ended::Done => tokio::select! {
            _ = signals.recv() => Ok(()),
            result = &mut written => result.unwrap_or(Ok(())),
        },
    };
    sources.stop(STOP_BUDGET).await;
    match result {
        Ok(()) => Ok(outcome(&app.topology)),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(outcome(&app.topology)),
        Err(e) => Err(e).wrap_err("cannot write to stdout"),
    }
}

/// Why the watch loop stopped.
enum Ended {
    Signal,
    Done,
}

/// The lines one report makes: its events, or a snapshot when it changed
/// something.
fn watch_lines(
    app: &mut AppState,
    report: crate::model::SourceReport,
    output: WatchOutput,
) -> Result<Vec<u8>> {
    let before = (output == WatchOutput::Snapshots).then(|| app.topology.clone());
    let events = app.apply_report(report, OffsetDateTime::now_utc());
    let mut out = Vec::new();
    match output {
        WatchOutput::Events => {
            for event in &events {
                serde_json::to_writer(&mut out, event)?;
                out.push(b'\n');
            }
        }
        WatchOutput::Snapshots if app.is_started() && before.as_ref() != Some(&app.topology) => {
            serde_json::to_writer(&mut out, &Snapshot::of(&app.topology, app.now))?;
            out.push(b'\n');
        }
        WatchOutput::Snapshots => {}
    }
    Ok(out)
}

/// How many batches of lines may wait for stdout before the loop waits too.
const QUEUED_WRITES: usize = 64;

/// Writes batches of lines to stdout on a thread of its own (not a tokio
/// blocking task: the runtime waits for those on shutdown, and a write to a
/// pipe nobody reads never returns).
struct StdoutWriter;

impl StdoutWriter {
    /// The queue to send to, and the writer's result once the queue is
    /// closed and drained (or a write failed).
    fn spawn() -> (
        tokio::sync::mpsc::Sender<Vec<u8>>,
        tokio::sync::oneshot::Receiver<io::Result<()>>,
    ) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(QUEUED_WRITES);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let mut result = Ok(());
            while let Some(bytes) = rx.blocking_recv() {
                if let Err(e) = write_stdout(&bytes) {
                    result = Err(e);
                    break;
                }
            }
            let _ = done_tx.send(result);
        });
        (tx, done)
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn outcome(topology: &Topology) -> Outcome {
    if topology.any_source_failed() {
        Outcome::SourceFailed
    } else {
        Outcome::Ok
    }
}

fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()
}

/// A plain table for people: one row a member, then the sources.
pub fn table(topology: &Topology) -> String {
    let mut rows = vec![
        [
            "CLUSTER", "MEMBER", "TIER", "LEADER", "ROLE", "HEALTH", "LINK", "LAG", "WHERE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for cluster in &topology.clusters {
        for m in &cluster.members {
            let lag = match (m.lag_bytes, m.lag_seconds, &m.lag) {
                (Some(b), Some(s), _) => format!("{b}B/{s:.0}s"),
                (Some(b), None, _) => format!("{b}B"),
                (None, _, Some(native)) => native.to_string(),
                _ => "-".into(),
            };
            rows.push(vec![
                cluster.name.clone(),
                m.name.clone(),
                m.tier.as_str().into(),
                if m.leader { "*".into() } else { "".into() },
                m.native_role.clone().unwrap_or_else(|| "-".into()),
                m.health.as_str().into(),
                m.link.map_or("-", |l| l.as_str()).into(),
                lag,
                m.placement.short(),
            ]);
        }
    }
    let mut text = align(&rows);
    text.push('\n');
    let mut source_rows = vec![
        ["SOURCE", "TARGET", "STATUS", "ERROR"]
            .map(String::from)
            .to_vec(),
    ];
    for s in &topology.sources {
        source_rows.push(vec![
            s.id.clone(),
            s.target.clone(),
            s.status.into(),
            s.error.clone().unwrap_or_default(),
        ]);
    }
    text.push_str(&align(&source_rows));
    text
}

/// Columns padded to their widest cell; every cell escaped first (cluster
/// text may carry terminal sequences), so widths count what is shown.
fn align(rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<_>> = rows
        .iter()
        .map(|r| r.iter().map(|c| crate::escape::escape(c)).collect())
        .collect();
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, cell)| format!("{cell:<width$}", width = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
