//! The timeline, newest first: UTC time, kind, cluster and a one-line summary,
//! coloured by kind (failovers and losses red, recoveries green). The kind is
//! always written out (in a word when the pane is narrow), so the colour only
//! repeats what the text says.
//!
//! Only the visible rows are formatted: the timeline holds up to thousands.

use ratatui::Frame;

use super::view::View;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use super::{Pane, pane_block, view};
use crate::model::{Event, EventKind};

/// Below this inner width, or with a single cluster, the cluster column is
/// left out: the summary (who leads now, how long without) matters more.
const CLUSTER_MIN_WIDTH: u16 = 70;
/// Wide enough for the longest kind, `registry_mismatch`.
const KIND_WIDTH: usize = 17;
/// Below this inner width kinds are written short (`leader`, `link`), so
/// the summary (the new leader, the time without one) stays in view.
const LONG_KIND_MIN_WIDTH: u16 = 60;
/// Wide enough for the longest short kind.
const SHORT_KIND_WIDTH: usize = 9;

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let total = app.timeline.len();
    let scroll = app.ui.timeline_scroll.min(total.saturating_sub(1));
    let extra = if total == 0 {
        String::new()
    } else {
        format!("{}/{total}", scroll + 1)
    };
    let block = pane_block(app, Pane::Timeline, "Timeline", extra);
    let inner = block.inner(area);
    let show_cluster = inner.width >= CLUSTER_MIN_WIDTH && app.topology.clusters.len() > 1;
    let short = inner.width < LONG_KIND_MIN_WIDTH;
    let lines: Vec<Line> = if total == 0 {
        vec![Line::styled("no changes yet", app.ui.theme().dim())]
    } else {
        let mut lines = Vec::new();
        let mut newer_is_live = scroll > 0
            && app
                .timeline
                .events()
                .rev()
                .nth(scroll - 1)
                .is_some_and(|e| !e.history);
        for (i, event) in app
            .timeline
            .events()
            .rev()
            .skip(scroll)
            .take(inner.height as usize)
            .enumerate()
        {
            if event.history && (newer_is_live || (i == 0 && scroll == 0)) {
                lines.push(Line::styled("── before this run ──", app.ui.theme().dim()));
            }
            newer_is_live = !event.history;
            let rows = event_lines(app, event, show_cluster, short, inner.width);
            // The top event is the one Enter goes to from the zoomed
            // timeline: marked while focused.
            let marked = i == 0 && app.ui.focus() == Pane::Timeline;
            lines.extend(rows.into_iter().map(|line| match marked {
                true => line.style(app.ui.theme().selection(true)),
                false => line,
            }));
        }
        lines.truncate(inner.height as usize);
        lines
    };
    frame.render_widget(Paragraph::new(super::shown_all(lines)).block(block), area);
}

/// One event as one row, or more when its row would be cut: a change of
/// leader is then written with the news first (the new leader, the time
/// without one; the kind word unpadded, no cluster column) and wrapped under
/// its summary, so neither is ever cut at the pane's edge.
fn event_lines(
    app: &View,
    event: &Event,
    show_cluster: bool,
    short: bool,
    width: u16,
) -> Vec<Line<'static>> {
    let width = usize::from(width);
    let row = line(app, event, Layout::padded(show_cluster, short));
    let leader_news = matches!(
        event.kind,
        EventKind::LeaderChanged | EventKind::LeaderRestored
    );
    if row.width() <= width || !leader_news {
        return vec![row];
    }
    let compact = line(app, event, Layout::compact(short));
    if compact.width() <= width {
        return vec![compact];
    }
    wrap(compact, width)
}

/// How an event's row is laid out.
#[derive(Clone, Copy)]
struct Layout {
    show_cluster: bool,
    short: bool,
    /// The kind padded to its column, the summary in its usual order.
    padded: bool,
}

impl Layout {
    fn padded(show_cluster: bool, short: bool) -> Layout {
        Layout {
            show_cluster,
            short,
            padded: true,
        }
    }

    fn compact(short: bool) -> Layout {
        Layout {
            show_cluster: false,
            short,
            padded: false,
        }
    }
}

fn line(app: &View, event: &Event, layout: Layout) -> Line<'static> {
    let theme = app.ui.theme();
    let word = match layout.short {
        true => short_kind(event.kind),
        false => event.kind.as_str(),
    };
    let kind = match (layout.padded, layout.short) {
        (false, _) => word.to_string(),
        (true, true) => format!("{word:<SHORT_KIND_WIDTH$}"),
        (true, false) => format!("{word:<KIND_WIDTH$}"),
    };
    // An earlier run's is dated when not today.
    let date = event.at.date();
    let clock = match event.history && date != app.now.date() {
        true => format!("{date} {}", view::clock(event.at)),
        false => view::clock(event.at),
    };
    let mut spans = vec![
        Span::styled(clock, theme.dim()),
        Span::raw(" "),
        Span::styled(kind, theme.event(event.kind)),
        Span::raw(" "),
    ];
    if layout.show_cluster {
        let cluster = event.cluster.as_deref().unwrap_or("-");
        spans.push(Span::styled(format!("{cluster:<20} "), theme.dim()));
    }
    let summary = match layout.short || !layout.padded {
        true => event.short_summary(),
        false => event.summary(),
    };
    // Escaped here so that widths are measured as drawn.
    spans.push(Span::raw(crate::escape::escape(&summary).into_owned()));
    // An earlier run's: dim.
    match event.history {
        true => Line::from(spans).style(theme.dim()),
        false => Line::from(spans),
    }
}

/// A row's summary (its last span) wrapped onto rows of `width`, the later
/// ones indented under the kind. It breaks between clauses only (before
/// `(`, after `,`), so `2.0s leaderless` stays in one piece.
fn wrap(row: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let style = row.style;
    let mut current = row.spans;
    let summary = current.pop().map(|s| s.content.into_owned());
    let indent: usize = current.iter().take(2).map(Span::width).sum();
    let mut used: usize = current.iter().map(Span::width).sum();
    let mut rows = Vec::new();
    let mut text = String::new();
    for clause in clauses(&summary.unwrap_or_default()) {
        let needed = clause.width() + usize::from(!text.is_empty());
        if !text.is_empty() && used + needed > width {
            current.push(Span::raw(std::mem::take(&mut text)));
            rows.push(Line::from(std::mem::take(&mut current)).style(style));
            current = vec![Span::raw(" ".repeat(indent))];
            used = indent;
        }
        if !text.is_empty() {
            text.push(' ');
            used += 1;
        }
        text.push_str(clause);
        used += clause.width();
    }
    current.push(Span::raw(text));
    rows.push(Line::from(current).style(style));
    rows
}

/// `a (2.0s leaderless, was b)` as `a`, `(2.0s leaderless,`, `was b)`.
fn clauses(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut previous = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|(_, n)| *n);
        if c == ' ' && (previous == Some(',') || next == Some('(')) {
            out.push(&text[start..i]);
            start = i + 1;
        }
        previous = Some(c);
    }
    out.push(&text[start..]);
    out
}

/// A kind in a word, for a narrow pane; the summary says the rest.
fn short_kind(kind: EventKind) -> &'static str {
    use EventKind::*;
    match kind {
        LeaderChanged | LeaderRestored => "leader",
        LeaderLost => "no leader",
        LinkDown => "link down",
        LinkUp => "link up",
        MemberAdded => "added",
        MemberRemoved => "removed",
        HealthChanged => "health",
        TierChanged => "tier",
        TermChanged => "term",
        LeadersConflict => "CONFLICT",
        LeadersAgree => "agree",
        RegistryMismatch => "registry≠",
        RegistryAgrees => "registry",
        SourceError => "source !",
        SourceRecovered => "source ok",
        ActionRequested => "asked",
        ActionSucceeded => "done",
        ActionFailed => "FAILED",
        FaultInjected => "fault",
        FaultHealed => "healed",
    }
}

#[cfg(test)]
mod tests {
    use ratatui::style::Color;

    use super::*;
    use crate::ui::testing::{self, LARGE, SMALL};

    #[test]
    fn snapshot_narrow() {
        let app = testing::scenario();
        insta::assert_snapshot!(testing::render_pane(&app, SMALL.0 * 6 / 10, 10, draw));
    }

    #[test]
    fn snapshot_wide() {
        let app = testing::scenario();
        insta::assert_snapshot!(testing::render_pane(&app, LARGE.0 * 6 / 10, 24, draw));
    }

    #[test]
    fn a_narrow_pane_keeps_the_new_leader_and_the_time_without_one() {
        let app = testing::scenario();
        let buffer = testing::render_buffer(&app, 48, 60, draw);
        let (_, y) = testing::find(&buffer, " back").expect("a leader back in view");
        let row = testing::row_text(&buffer, y);
        assert!(row.contains("leader "), "{row}");
        // The time follows on the row, or whole on the next one.
        let next = testing::row_text(&buffer, y + 1);
        let inside = |text: &str| text.trim_matches(['│', ' ']).to_string();
        let both = format!("{} {}", inside(&row), inside(&next));
        let time = both.split(" back (").nth(1).unwrap_or("");
        let digit = time.starts_with(|c: char| c.is_ascii_digit());
        assert!(
            digit && time.contains("s leaderless)"),
            "the time without a leader: {both}"
        );
    }

    #[test]
    fn newest_first_and_coloured_by_kind() {
        let app = testing::scenario();
        let buffer = testing::render_buffer(&app, LARGE.0, 60, draw);
        let newest = app.timeline.events().last().expect("events");
        assert!(testing::row_text(&buffer, 1).contains(&view::clock(newest.at)));
        let (x, y) = testing::find(&buffer, "leader_changed").expect("a failover");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        if let Some((x, y)) = testing::find(&buffer, "link_up") {
            assert_eq!(buffer[(x, y)].fg, Color::Green);
        }
    }
}
