//! The header: product and version, mode badges (SIMULATED, LAB, READ-ONLY),
//! the poll interval and clock, one line per source with its status, and the
//! notice line when there is one.

use ratatui::Frame;

use super::view::View;
use crate::app::AppState;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::view;
use crate::model::SourceState;

/// More sources than this are summarised on the last line.
const MAX_SOURCE_LINES: usize = 3;

/// Rows the header needs: title, sources, notice.
pub fn height(app: &AppState) -> u16 {
    let sources = app.topology.sources.len().clamp(1, MAX_SOURCE_LINES);
    let alarm = app.topology.clusters.iter().any(|c| c.alarm().is_some());
    (1 + sources + usize::from(app.header.notice.is_some()) + usize::from(alarm)) as u16
}

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let mut lines = vec![title(app)];
    lines.extend(alarm_line(app));
    lines.extend(source_lines(app));
    if let Some(notice) = &app.header.notice {
        lines.push(Line::styled(format!("  {notice}"), app.ui.theme().warn()));
    }
    frame.render_widget(Paragraph::new(super::shown_all(lines)), area);
}

fn title(app: &View) -> Line<'static> {
    let theme = app.ui.theme();
    let mut spans = vec![Span::styled(
        format!("clusterdeck {}", env!("CARGO_PKG_VERSION")),
        theme.heading(),
    )];
    let badges = [
        (app.header.simulated, " SIMULATED ", theme.badge_simulated()),
        (app.header.lab, " LAB ", theme.badge_lab()),
        (app.header.read_only, " READ-ONLY ", theme.badge_read_only()),
    ];
    for (on, text, style) in badges {
        if on {
            spans.push(Span::raw(" "));
            spans.push(Span::styled(text, style));
        }
    }
    let topology = &app.topology;
    spans.push(Span::styled(
        format!(
            "  every {}  {}, {}  {} UTC",
            humantime::format_duration(app.header.interval),
            counted(topology.clusters.len(), "cluster"),
            counted(topology.member_count(), "member"),
            view::clock(app.now),
        ),
        theme.dim(),
    ));
    Line::from(spans)
}

/// "1 cluster", "3 clusters".
fn counted(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The first cluster alarm (two leaders, a source's problem), in red right
/// under the title, and how many more clusters have one.
fn alarm_line(app: &View) -> Option<Line<'static>> {
    let mut alarms = app
        .topology
        .clusters
        .iter()
        .filter_map(|c| Some((c, c.alarm()?)));
    let (cluster, alarm) = alarms.next()?;
    let more = alarms.count();
    let mut text = format!("  ALARM {}: {alarm}", cluster.name);
    if more > 0 {
        text.push_str(&format!(" (+{more} more clusters)"));
    }
    Some(Line::styled(text, app.ui.theme().bad()))
}

fn source_lines(app: &View) -> Vec<Line<'static>> {
    let sources = &app.topology.sources;
    if sources.is_empty() {
        return vec![Line::styled("  no sources", app.ui.theme().dim())];
    }
    if sources.len() <= MAX_SOURCE_LINES {
        return sources.iter().map(|s| source_line(app, s)).collect();
    }
    let mut lines: Vec<Line> = sources[..MAX_SOURCE_LINES - 1]
        .iter()
        .map(|s| source_line(app, s))
        .collect();
    let rest = &sources[MAX_SOURCE_LINES - 1..];
    let failing = rest.iter().filter(|s| s.is_error()).count();
    let style = if failing > 0 {
        app.ui.theme().bad()
    } else {
        app.ui.theme().dim()
    };
    lines.push(Line::styled(
        format!("  +{} more sources, {failing} in error", rest.len()),
        style,
    ));
    lines
}

fn source_line(app: &View, source: &SourceState) -> Line<'static> {
    let theme = app.ui.theme();
    let status_style = match source.status {
        "ok" => theme.good(),
        "error" => theme.bad(),
        _ => theme.warn(),
    };
    let mut spans = vec![
        Span::raw(format!("  {} ", source.id)),
        Span::styled(format!("{} ", source.kind.as_str()), theme.dim()),
        Span::raw(format!("{} ", source.target)),
        Span::styled(source.status.to_uppercase(), status_style),
    ];
    if let Some(error) = &source.error {
        spans.push(Span::styled(format!(": {error}"), theme.bad()));
    } else if source.status == "ok" {
        spans.push(Span::styled(
            format!("  {} members", source.members),
            theme.dim(),
        ));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use ratatui::style::Color;

    use super::*;

    #[test]
    fn counts_are_singular_for_one() {
        assert_eq!(counted(1, "cluster"), "1 cluster");
        assert_eq!(counted(0, "member"), "0 members");
        assert_eq!(counted(3, "cluster"), "3 clusters");
    }
    use crate::ui::testing::{self, SMALL};

    #[test]
    fn snapshot_simulated() {
        let app = testing::scenario();
        insta::assert_snapshot!(testing::render_pane(&app, 80, 2, draw));
    }

    #[test]
    fn snapshot_lab_read_only_with_notice_and_an_error() {
        let mut app = testing::scenario();
        app.header.lab = true;
        app.header.read_only = true;
        app.header.notice = Some("docker not found: the lab is simulated".into());
        let now = app.now;
        app.apply_report(testing::failing_source(now), now);
        let text = testing::render_pane(&app, 160, height(&app), draw);
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_cluster_alarm_is_a_red_line_under_the_title() {
        let mut app = testing::scenario();
        let now = app.now;
        app.apply_report(testing::split_brain(now), now);
        let sources = app.topology.sources.len().min(MAX_SOURCE_LINES);
        assert_eq!(
            usize::from(height(&app)),
            1 + 1 + sources,
            "title, alarm, sources"
        );
        let buffer = testing::render_buffer(&app, 160, height(&app), draw);
        let (x, y) = testing::find(&buffer, "ALARM split").expect("the alarm line");
        assert_eq!((y, buffer[(x, y)].fg), (1, Color::Red));
        let row = testing::row_text(&buffer, y);
        assert!(
            row.contains("2 members claim leader: 10.7.0.1:6379, 10.7.0.2:6379"),
            "{row}"
        );
    }

    #[test]
    fn an_error_status_is_red_and_simulated_is_a_badge() {
        let mut app = testing::scenario();
        let now = app.now;
        app.apply_report(testing::failing_source(now), now);
        let buffer = testing::render_buffer(&app, SMALL.0, height(&app), draw);
        let (x, y) = testing::find(&buffer, "ERROR").expect("error status shown");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        let (x, y) = testing::find(&buffer, "SIMULATED").expect("badge shown");
        assert_eq!(buffer[(x, y)].bg, Color::Yellow);
    }
}
