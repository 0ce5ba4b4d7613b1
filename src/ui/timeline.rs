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
            let line = line(app, event, show_cluster, short);
            // The top event is the one Enter goes to from the zoomed
            // timeline: marked while focused.
            lines.push(match i == 0 && app.ui.focus() == Pane::Timeline {
                true => line.style(app.ui.theme().selection(true)),
                false => line,
            });
        }
        lines.truncate(inner.height as usize);
        lines
    };
    frame.render_widget(Paragraph::new(super::shown_all(lines)).block(block), area);
}

fn line(app: &View, event: &Event, show_cluster: bool, short: bool) -> Line<'static> {
    let theme = app.ui.theme();
    let kind = if short {
        format!("{:<SHORT_KIND_WIDTH$}", short_kind(event.kind))
    } else {
        format!("{:<KIND_WIDTH$}", event.kind.as_str())
    };
    let mut spans = vec![
        Span::styled(view::clock(event.at), theme.dim()),
        Span::raw(" "),
        Span::styled(kind, theme.event(event.kind)),
        Span::raw(" "),
    ];
    if show_cluster {
        let cluster = event.cluster.as_deref().unwrap_or("-");
        spans.push(Span::styled(format!("{cluster:<20} "), theme.dim()));
    }
    let summary = if short {
        event.short_summary()
    } else {
        event.summary()
    };
    spans.push(Span::raw(summary));
    // An earlier run's: dim, and dated when not today.
    if event.history {
        let date = event.at.date();
        if date != app.now.date() {
            spans[0] = Span::styled(format!("{date} {}", view::clock(event.at)), theme.dim());
        }
        return Line::from(spans).style(theme.dim());
    }
    Line::from(spans)
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
        let (_, y) = testing::find(&buffer, " back (").expect("a leader back in view");
        let row = testing::row_text(&buffer, y);
        let time = row.split(" back (").nth(1).unwrap_or("");
        assert!(row.contains("leader "), "{row}");
        let digit = time.starts_with(|c: char| c.is_ascii_digit());
        assert!(
            digit && time.contains('s'),
            "the time without a leader: {row}"
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
