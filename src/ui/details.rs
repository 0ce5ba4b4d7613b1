//! Every field of the selected member, then the raw fields its sources gave,
//! then its cluster's registry and Sentinel views; scrollable, and zoomed to
//! the whole screen with Enter. Empty member fields are shown as `-` rather
//! than left out, so the operator sees what is not known; placement rows no
//! platform filled are left out (a process has no pod).

use ratatui::Frame;

use super::view::View;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{Pane, members, pane_block, view};
use crate::model::{Cluster, ConsensusView, Member, RecordedLeader};

/// Width of the field names.
const LABEL: usize = 12;

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let width = area.width.saturating_sub(2);
    app.ui.details_width.set(width);
    let lines = addresses_whole(lines(app), width);
    let rows = usize::from(area.height.saturating_sub(2));
    app.ui.details_rows.set(rows);
    let scroll = app.ui.details_scroll.min(last_top(lines.len(), rows));
    let title = app.member().map_or("Details", |m| m.name.as_str());
    let extra = format!("{}/{}", (scroll + 1).min(lines.len()), lines.len());
    let block = pane_block(app, Pane::Details, title, extra);
    let paragraph = Paragraph::new(super::shown_all(lines))
        .block(block)
        .scroll((u16::try_from(scroll).unwrap_or(u16::MAX), 0));
    frame.render_widget(paragraph, area);
}

/// How many lines the pane holds, to bound scrolling.
pub fn line_count(app: &View) -> usize {
    addresses_whole(lines(app), app.ui.details_width.get()).len()
}

/// A value the pane's edge would cut goes on a line of its own under its
/// label; one still too wide keeps its end, marked `…` (names differ at
/// the end). An address is never cut: a cut port is a valid but wrong port.
fn addresses_whole(lines: Vec<Line<'static>>, width: u16) -> Vec<Line<'static>> {
    if width < 8 {
        return lines;
    }
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        if line.width() <= usize::from(width) || line.spans.len() < 2 {
            out.push(line);
            continue;
        }
        let mut spans = line.spans;
        let value: Vec<Span<'static>> = spans.drain(1..).collect();
        out.push(Line::from(spans));
        out.push(indented(value, width - 2));
    }
    out
}

/// `value` under its label, two columns in, kept to `width`.
fn indented(value: Vec<Span<'static>>, width: u16) -> Line<'static> {
    let text: String = value.iter().map(|s| s.content.as_ref()).collect();
    let mut spans = vec![Span::raw("  ")];
    if super::columns::width_of(&text) <= width || super::columns::is_address(text.trim()) {
        spans.extend(value);
    } else {
        let style = value.first().map(|s| s.style).unwrap_or_default();
        spans.push(Span::styled(super::columns::keep_end(&text, width), style));
    }
    Line::from(spans)
}

/// Rows of the lag chart, each with eight levels.
const CHART_ROWS: usize = 3;
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The member's lag over the last minutes, one column per bucket (the
/// worst lag in it), scaled to the largest; blank where nothing was
/// reported. Only for a member that reported a lag in that time.
fn chart_lines(app: &View, m: &Member, out: &mut Vec<Line<'static>>) {
    use crate::model::history::{BUCKET_SECS, BUCKETS};
    let theme = app.ui.theme();
    let minutes = app.app.lag.minutes(&m.id, app.app.now);
    let Some(max) = minutes.iter().flatten().copied().max() else {
        return;
    };
    let shown = |v: u64| match &m.lag {
        Some(native) if native.unit != "bytes" => format!("{v} {}", native.unit),
        _ => view::bytes(v),
    };
    let span = BUCKETS as i64 * BUCKET_SECS / 60;
    out.push(section(
        theme,
        &format!("lag, last {span} min (top {})", shown(max)),
    ));
    let heights: Vec<Option<usize>> = minutes
        .iter()
        .map(|v| v.map(|v| (v.saturating_mul(CHART_ROWS as u64 * 8) / max.max(1)) as usize))
        .collect();
    for row in (0..CHART_ROWS).rev() {
        let text: String = heights
            .iter()
            .map(|h| match h {
                None => ' ',
                Some(h) if *h > row * 8 => LEVELS[(h - row * 8 - 1).min(7)],
                // The bottom row marks a sample of zero, so it is told from none.
                Some(_) if row == 0 => '▁',
                Some(_) => ' ',
            })
            .collect();
        out.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(text, theme.copy_badge()),
        ]));
    }
    let axis = format!("-{span}m{:>width$}", "now", width = BUCKETS - 2);
    out.push(Line::from(vec![
        Span::raw("  "),
        Span::styled(axis, theme.dim()),
    ]));
}

/// The top line when scrolled to the end: the last page is full.
pub fn last_top(lines: usize, rows: usize) -> usize {
    lines.saturating_sub(rows.max(1))
}

fn lines(app: &View) -> Vec<Line<'static>> {
    let theme = app.ui.theme();
    let Some(cluster) = app.cluster() else {
        return vec![Line::styled("nothing to show yet", theme.dim())];
    };
    let mut out = Vec::new();
    match app.member() {
        Some(member) => {
            member_lines(theme, member, &mut out);
            chart_lines(app, member, &mut out);
            raw_lines(theme, member, &mut out);
        }
        None => out.push(Line::styled("no member matches", theme.dim())),
    }
    cluster_lines(app, cluster, &mut out);
    out
}

fn field(theme: Theme, label: &str, value: impl Into<String>) -> Line<'static> {
    styled_field(theme, label, value, Style::new())
}

fn styled_field(
    theme: Theme,
    label: &str,
    value: impl Into<String>,
    style: Style,
) -> Line<'static> {
    line_with(theme, label, vec![Span::styled(value.into(), style)])
}

fn line_with(theme: Theme, label: &str, value: Vec<Span<'static>>) -> Line<'static> {
    labelled(theme, label, LABEL, value)
}

/// `label` padded to `width`, and always a space before the value (a raw
/// key longer than the column must not run into its value).
fn labelled(theme: Theme, label: &str, width: usize, value: Vec<Span<'static>>) -> Line<'static> {
    let mut spans = vec![Span::styled(format!("{label:<width$} "), theme.dim())];
    spans.extend(value);
    Line::from(spans)
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn section(theme: Theme, title: &str) -> Line<'static> {
    Line::styled(format!("── {title} ──"), theme.heading())
}

fn member_lines(theme: Theme, m: &Member, out: &mut Vec<Line<'static>>) {
    let leader = if m.leader {
        Span::styled("★ yes, leads now", theme.leader())
    } else {
        Span::raw("no")
    };
    out.extend([
        field(theme, "id", m.id.clone()),
        field(theme, "name", m.name.clone()),
        field(theme, "address", or_dash(m.address.as_ref())),
        line_with(theme, "tier", vec![members::tier_badge(theme, m.tier)]),
        line_with(theme, "leader", vec![leader]),
        field(theme, "native role", or_dash(m.native_role.as_ref())),
        line_with(theme, "health", vec![members::health(theme, m.health)]),
    ]);
    if let Some(term) = m.term {
        out.push(field(theme, "term", term.to_string()));
    }
    if let Some(dispute) = &m.role_dispute {
        out.push(styled_field(theme, "dispute", dispute.clone(), theme.bad()));
    }
    // A fault the console holds goes high up, where it is seen first.
    if !m.faults.is_empty() {
        out.push(styled_field(theme, "faults", list(&m.faults), theme.warn()));
    }
    out.extend([
        line_with(theme, "link", vec![members::link(theme, m.link)]),
        field(theme, "repl offset", or_dash(m.repl_offset)),
        field(theme, "lag", lag_bytes(m)),
        field(
            theme,
            "lag seconds",
            or_dash(m.lag_seconds.map(view::seconds)),
        ),
        field(theme, "sync", sync(m)),
    ]);
    placement_lines(theme, m, out);
    out.push(field(theme, "sources", list(&m.sources)));
    if m.faults.is_empty() {
        out.push(field(theme, "faults", list(&m.faults)));
    }
    let error_style = if m.error.is_some() {
        theme.bad()
    } else {
        Style::new()
    };
    out.push(styled_field(
        theme,
        "error",
        or_dash(m.error.as_ref()),
        error_style,
    ));
}

fn lag_bytes(m: &Member) -> String {
    match (m.lag_bytes, &m.lag) {
        (Some(b), _) => format!("{} ({b} bytes)", view::bytes(b)),
        (None, Some(native)) => native.to_string(),
        (None, None) => "-".into(),
    }
}

fn sync(m: &Member) -> String {
    match m.sync {
        None => "-".into(),
        Some(s) => match s.percent() {
            Some(p) => format!(
                "{p:.1}% ({} of {} bytes)",
                s.read_bytes,
                or_dash(s.total_bytes)
            ),
            None => format!("{} bytes read", s.read_bytes),
        },
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "-".into()
    } else {
        items.join(", ")
    }
}

/// Where it runs: only what a platform said (a process has no pod).
fn placement_lines(theme: Theme, m: &Member, out: &mut Vec<Line<'static>>) {
    let p = &m.placement;
    let networks = (!p.networks.is_empty()).then(|| list(&p.networks));
    let rows = [
        ("platform", p.platform.map(|p| p.to_string())),
        ("node", p.node.clone()),
        ("namespace", p.namespace.clone()),
        ("pod", p.pod.clone()),
        ("service", p.service.clone()),
        ("task", p.task.clone()),
        ("container", p.container.clone()),
        ("networks", networks),
    ];
    let before = out.len();
    for (label, value) in rows {
        if let Some(value) = value {
            out.push(field(theme, label, value));
        }
    }
    if out.len() == before {
        out.push(field(theme, "placement", "- (no platform sees it)"));
    }
}

fn raw_lines(theme: Theme, m: &Member, out: &mut Vec<Line<'static>>) {
    out.push(section(theme, "raw fields"));
    if m.raw.is_empty() {
        out.push(Line::styled("(none)", theme.dim()));
    }
    // Raw keys are the source's own (`master_failover_state`): their
    // column fits the longest, within reason.
    let width = m
        .raw
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(LABEL, 32);
    for (key, value) in &m.raw {
        out.push(labelled(theme, key, width, vec![Span::raw(value.clone())]));
    }
}

fn cluster_lines(app: &View, c: &Cluster, out: &mut Vec<Line<'static>>) {
    let theme = app.ui.theme();
    out.push(section(theme, &format!("cluster {}", c.name)));
    out.push(field(theme, "id", c.id.clone()));
    out.push(field(theme, "kind", c.kind.clone()));
    let leader = c.leader_member().map(|m| m.name.clone());
    let leader_style = if leader.is_none() {
        theme.bad()
    } else {
        Style::new()
    };
    out.push(styled_field(
        theme,
        "leader",
        leader.unwrap_or_else(|| "NONE".into()),
        leader_style,
    ));
    if let Some(recorded) = &c.recorded_leader {
        record_lines(app, c, recorded, out);
    }
    if let Some(consensus) = &c.consensus {
        consensus_lines(theme, consensus, out);
    }
}

/// The leader a record names beside the one observed: who holds it, for
/// how long, its time to live, and since when it disagrees.
fn record_lines(app: &View, c: &Cluster, recorded: &RecordedLeader, out: &mut Vec<Line<'static>>) {
    let theme = app.ui.theme();
    let now = app.app.now;
    let agrees = match (c.recorded_leader_agrees, recorded.disagrees_since) {
        (Some(false), Some(since)) => Span::styled(
            format!(
                " ≠ DISAGREES with observed for {}",
                view::elapsed(since, now)
            ),
            theme.bad(),
        ),
        (Some(false), None) => Span::styled(" ≠ DISAGREES with observed", theme.bad()),
        _ => Span::styled(" (agrees)", theme.good()),
    };
    let holder = recorded.holder.as_deref().and_then(|id| c.member(id));
    let named = match holder {
        Some(m) if m.name != recorded.address => format!("{} ({})", recorded.address, m.name),
        Some(_) => recorded.address.clone(),
        None => format!("{} (no such member)", recorded.address),
    };
    out.push(line_with(theme, "recorded", vec![Span::raw(named), agrees]));
    if let Some(since) = recorded.since {
        out.push(field(theme, "  held for", view::elapsed(since, now)));
    }
    if let Some(ttl) = recorded.ttl_ms {
        out.push(field(
            theme,
            "  expires in",
            view::seconds(ttl as f64 / 1000.0),
        ));
    }
    out.push(field(theme, "  read from", recorded.from.clone()));
}

/// How the cluster agrees on its leader, in the arbiter's own words
/// (`sentinel` / `master` / `failover`, `raft` / `leader` / `election`).
fn consensus_lines(theme: Theme, view: &ConsensusView, out: &mut Vec<Line<'static>>) {
    let arbiter = &view.arbiter;
    out.push(field(theme, arbiter.label(), arbiter.name().to_string()));
    let leader = format!("  {}", arbiter.leader_word());
    out.push(field(theme, &leader, or_dash(view.leader.as_ref())));
    if let Some(term) = view.term {
        out.push(field(theme, "  term", term.to_string()));
    }
    for fact in &view.facts {
        let style = if fact.alarming {
            theme.bad()
        } else {
            Style::new()
        };
        let name = format!("  {}", fact.name);
        out.push(styled_field(theme, &name, fact.value.clone(), style));
    }
    let change = format!("  {}", arbiter.change_word());
    out.push(field(theme, &change, or_dash(view.in_progress.as_ref())));
    let quorum = format!(
        "{} of {} {}",
        or_dash(view.quorum),
        or_dash(view.voters),
        arbiter.voters_word()
    );
    out.push(field(theme, "  quorum", quorum));
}

#[cfg(test)]
mod tests {
    use ratatui::style::Color;

    use super::*;
    use crate::ui::testing::{self, LARGE, SMALL};

    /// Issue #13: the selected member's lag over the last minutes, one
    /// column per five seconds, scaled to the worst.
    #[test]
    fn a_copy_shows_its_lag_over_the_last_minutes() {
        let mut app = testing::real_lengths();
        let start = app.now;
        let mut report = app.reports[0].clone();
        for (second, lag) in [(5, 2_000_000u64), (10, 500_000), (15, 0)] {
            let now = start + time::Duration::seconds(second);
            for m in report.members.iter_mut().filter(|m| m.lag_bytes.is_some()) {
                m.lag_bytes = Some(lag);
            }
            app.apply_report(report.clone(), now);
        }
        testing::handle_key(&mut app, testing::key(crossterm::event::KeyCode::Tab));
        testing::type_keys(&mut app, "j");
        let text: Vec<String> = lines(&app.view()).iter().map(|l| l.to_string()).collect();
        let title = text
            .iter()
            .position(|l| l.contains("lag, last 5 min (top 1.9M"));
        let title = title.unwrap_or_else(|| panic!("no chart: {text:#?}"));
        let rows = &text[title + 1..title + 4];
        let columns: Vec<Vec<char>> = rows.iter().map(|r| r.chars().skip(2).collect()).collect();
        assert!(
            columns
                .iter()
                .all(|c| c.len() == crate::model::history::BUCKETS),
            "{rows:#?}"
        );
        let last = crate::model::history::BUCKETS - 1;
        // The worst, a quarter of it, and zero: full, low, the floor.
        assert_eq!(columns[0][last - 2], '█', "{rows:#?}");
        assert_eq!(columns[2][last - 1], '▆', "{rows:#?}");
        assert_eq!(
            (columns[1][last - 1], columns[2][last]),
            (' ', '▁'),
            "{rows:#?}"
        );
        assert!(text[title + 4].contains("-5m") && text[title + 4].ends_with("now"));
    }

    #[test]
    fn snapshot_narrow() {
        let app = testing::scenario();
        insta::assert_snapshot!(testing::render_pane(&app, SMALL.0 * 4 / 10, 10, draw));
    }

    #[test]
    fn snapshot_zoomed_wide() {
        let app = testing::scenario();
        insta::assert_snapshot!(testing::render_pane(&app, LARGE.0, LARGE.1 - 3, draw));
    }

    #[test]
    fn shows_every_field_and_the_raw_ones() {
        let app = testing::scenario();
        let text: Vec<String> = lines(&View::new(&app.app, &app.ui))
            .iter()
            .map(|l| l.to_string())
            .collect();
        for label in [
            "id",
            "address",
            "tier",
            "leader",
            "native role",
            "health",
            "link",
            "repl offset",
            "lag",
            "lag seconds",
            "sync",
            "platform",
            "node",
            "pod",
            "sources",
            "faults",
            "error",
            "── raw fields ──",
            "sim_step",
        ] {
            assert!(text.iter().any(|l| l.starts_with(label)), "{label} missing");
        }
    }

    #[test]
    fn empty_placement_rows_are_left_out_and_long_raw_keys_keep_a_space() {
        let mut app = testing::scenario();
        let now = app.now;
        app.apply_report(testing::split_brain(now), now);
        let view = View::new(&app.app, &app.ui);
        let cluster = view
            .clusters
            .iter()
            .find(|c| c.name == "split")
            .expect("split");
        let mut member = cluster.members[0].clone();
        member
            .raw
            .insert("master_failover_state".into(), "no-failover".into());
        let mut out = Vec::new();
        placement_lines(app.ui.theme(), &member, &mut out);
        raw_lines(app.ui.theme(), &member, &mut out);
        let text: Vec<String> = out.iter().map(|l| l.to_string()).collect();
        assert!(!text.iter().any(|l| l.starts_with("container")), "{text:?}");
        assert!(
            text.iter()
                .any(|l| l == "master_failover_state no-failover"),
            "{text:?}"
        );
    }

    #[test]
    fn the_end_shows_a_full_last_page_and_a_page_is_the_pane() {
        let mut app = testing::scenario();
        app.ui.focus = Pane::Details;
        let _ = testing::render_buffer(&app, 40, 10, draw);
        testing::type_keys(&mut app, "G");
        let buffer = testing::render_buffer(&app, 40, 10, draw);
        let total = line_count(&View::new(&app.app, &app.ui));
        assert!(
            testing::row_text(&buffer, 8).trim_end_matches('│').trim() != "",
            "the last row is filled"
        );
        assert_eq!(app.ui.details_scroll, total - 8);
        testing::type_keys(&mut app, "g");
        testing::handle_key(&mut app, testing::key(crossterm::event::KeyCode::PageDown));
        assert_eq!(
            app.ui.details_scroll, 7,
            "a page is the pane's 8 rows less one"
        );
    }

    #[test]
    fn scrolling_moves_the_text() {
        let mut app = testing::scenario();
        app.ui.focus = Pane::Details;
        testing::type_keys(&mut app, "jjj");
        let buffer = testing::render_buffer(&app, 40, 10, draw);
        assert!(testing::row_text(&buffer, 1).contains("tier"));
        let (x, y) = testing::find(&buffer, "MASTER").expect("tier badge");
        assert_eq!(buffer[(x, y)].fg, Color::Magenta);
    }
}
