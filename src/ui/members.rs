//! The members of the selected cluster: tier badge, leader star, name, the
//! system's own role word, health, replication link, lag in bytes and seconds
//! with a sparkline of recent lag, where it runs, and a marker: `F` when the
//! console holds a fault on it, else `!` when a source has an error with it.
//!
//! Columns have priorities: on a narrow terminal the least needed ones go
//! first, so 80 columns still show tier, leader, name, role, health and lag.

use ratatui::Frame;

use super::view::View;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{HighlightSpacing, Row, Table, TableState};

use super::theme::Theme;
use super::{Pane, pane_block, view};
use crate::model::{Health, Link, Member, Tier};

/// Sparkline levels, lowest first.
const BLOCKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Leader,
    Tier,
    Name,
    Role,
    Health,
    Link,
    Lag,
    LagSeconds,
    Trend,
    Where,
    Error,
}

/// Display order, title, width (minimum for flexible ones), flexible,
/// priority (0 always shown, higher dropped first).
const COLUMNS: [(Column, &str, u16, bool, u8); 11] = [
    (Column::Error, "!", 1, false, 0),
    (Column::Leader, "★", 1, false, 0),
    (Column::Tier, "Tier", 6, false, 0),
    (Column::Name, "Name", 10, true, 0),
    (Column::Role, "Role", 8, true, 2),
    (Column::Health, "Health", 8, false, 0),
    (Column::Link, "Link", 4, false, 3),
    (Column::Lag, "Lag", 6, false, 1),
    (Column::LagSeconds, "Lag s", 6, false, 3),
    (Column::Trend, "Trend", 10, false, 4),
    (Column::Where, "Where", 12, true, 5),
];

/// The columns that fit in `width`, in display order.
fn columns_for(width: u16) -> Vec<(Column, &'static str, u16, bool)> {
    let mut chosen = [false; COLUMNS.len()];
    let mut used: u16 = 0;
    for priority in 0..=5 {
        for (i, (_, _, w, _, p)) in COLUMNS.iter().enumerate() {
            // One cell of spacing per column.
            if *p == priority && used + w < width {
                used += w + 1;
                chosen[i] = true;
            }
        }
    }
    COLUMNS
        .iter()
        .zip(chosen)
        .filter(|(_, keep)| *keep)
        .map(|((c, t, w, f, _), _)| (*c, *t, *w, *f))
        .collect()
}

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let cluster = app.cluster();
    let members = &app.members;
    let selected = app.member_index;
    let (title, extra) = match cluster {
        Some(c) => (c.name.as_str(), format!("{} · {}", c.kind, members.len())),
        None => ("Members", String::new()),
    };
    let block = pane_block(app, Pane::Members, title, extra);
    let inner = block.inner(area);
    // The highlight symbol takes one column.
    let columns = columns_for(inner.width.saturating_sub(1));
    let height = inner.height.saturating_sub(1) as usize;
    let start = view::window_start(members.len(), selected, height);
    let rows: Vec<Row> = members
        .iter()
        .skip(start)
        .take(height)
        .map(|m| row(app, m, &columns))
        .collect();
    let theme = app.ui.theme();
    let header = Row::new(columns.iter().map(|c| c.1)).style(theme.table_header());
    let widths = columns.iter().map(|(_, _, w, flexible)| {
        if *flexible {
            Constraint::Fill(*w)
        } else {
            Constraint::Length(*w)
        }
    });
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme.selection(app.ui.focus() == Pane::Members))
        .highlight_symbol("›")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(selected.map(|i| i - start));
    frame.render_stateful_widget(table, area, &mut state);
}

fn row<'a>(app: &View, member: &'a Member, columns: &[(Column, &str, u16, bool)]) -> Row<'a> {
    let theme = app.ui.theme();
    let cells = columns
        .iter()
        .map(|(column, _, width, _)| super::shown(cell(app, theme, member, *column, *width)));
    let style = if member.leader {
        theme.heading()
    } else {
        Style::new()
    };
    Row::new(cells).style(style)
}

fn cell<'a>(app: &View, theme: Theme, member: &'a Member, column: Column, width: u16) -> Line<'a> {
    match column {
        // A fault the console holds (a disconnect, a cordon) says more than an error.
        Column::Error if !member.faults.is_empty() => Line::styled("F", theme.warn()),
        Column::Error => match member.error {
            Some(_) => Line::styled("!", theme.bad()),
            None => Line::default(),
        },
        Column::Leader if member.leader => Line::styled("★", theme.leader()),
        // Claims to lead but the cluster names another: never a silent master.
        Column::Leader if member.role_dispute.is_some() => Line::styled("≠", theme.bad()),
        Column::Leader => Line::default(),
        Column::Tier => tier_badge(theme, member.tier).into(),
        Column::Name => Line::from(member.name.as_str()),
        Column::Role => match &member.role_dispute {
            Some(dispute) => Line::styled(dispute.as_str(), theme.bad()),
            None => Line::from(member.native_role.as_deref().unwrap_or("-")),
        },
        Column::Health => health(theme, member.health).into(),
        Column::Link => link(theme, member.link).into(),
        Column::Lag => Line::from(view::lag(member)),
        Column::LagSeconds => {
            Line::from(member.lag_seconds.map_or_else(|| "-".into(), view::seconds))
        }
        Column::Trend => Line::styled(
            sparkline(&app.lag.samples(&member.id), width as usize),
            theme.copy_badge(),
        ),
        Column::Where => Line::styled(member.placement.short(), theme.dim()),
    }
}

pub fn tier_badge(theme: Theme, tier: Tier) -> Span<'static> {
    match tier {
        Tier::Master => Span::styled("MASTER", theme.master_badge()),
        Tier::Copy => Span::styled("COPY", theme.copy_badge()),
        Tier::Unknown => Span::styled("—", theme.dim()),
    }
}

/// Health in words, upper case when it is bad so it reads without colour.
pub fn health(theme: Theme, health: Health) -> Span<'static> {
    match health {
        Health::Ok => Span::styled("ok", theme.good()),
        Health::Degraded => Span::styled("degraded", theme.warn()),
        Health::Down => Span::styled("DOWN", theme.bad()),
        Health::Unknown => Span::styled("?", theme.dim()),
    }
}

pub fn link(theme: Theme, link: Option<Link>) -> Span<'static> {
    match link {
        Some(Link::Up) => Span::styled("up", theme.good()),
        Some(Link::Down) => Span::styled("DOWN", theme.bad()),
        None => Span::styled("-", theme.dim()),
    }
}

/// The last `width` samples as block characters, scaled to their maximum.
pub fn sparkline(samples: &[u64], width: usize) -> String {
    let recent = &samples[samples.len().saturating_sub(width)..];
    let max = recent.iter().copied().max().unwrap_or(0).max(1);
    recent
        .iter()
        .map(|&v| {
            let level = (v.saturating_mul(7) / max) as usize;
            BLOCKS[level.min(7)]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ratatui::style::{Color, Modifier};

    use super::*;
    use crate::ui::testing::{self, LARGE, SMALL};

    #[test]
    fn snapshot_narrow() {
        let app = testing::scenario();
        insta::assert_snapshot!(testing::render_pane(&app, SMALL.0 - 28, 11, draw));
    }

    #[test]
    fn snapshot_wide() {
        let app = testing::scenario();
        insta::assert_snapshot!(testing::render_pane(&app, LARGE.0 - 48, 20, draw));
    }

    #[test]
    fn narrow_keeps_the_essential_columns() {
        let names: Vec<&str> = columns_for(50).iter().map(|c| c.1).collect();
        for wanted in ["★", "Tier", "Name", "Role", "Health", "Lag", "!"] {
            assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
        }
        assert_eq!(columns_for(200).len(), COLUMNS.len());
    }

    #[test]
    fn sparkline_scales_to_the_maximum() {
        assert_eq!(sparkline(&[0, 7, 14], 10), "▁▄█");
        assert_eq!(sparkline(&[0, 0], 10), "▁▁");
        assert_eq!(sparkline(&[1, 2, 3, 4], 2), "▆█");
        assert_eq!(sparkline(&[], 5), "");
    }

    #[test]
    fn the_leader_row_is_bold_with_a_yellow_star() {
        let app = testing::scenario();
        let buffer = testing::render_buffer(&app, LARGE.0 - 48, 20, draw);
        let cluster = crate::ui::view::selected_cluster(&app.app, &app.ui).expect("a cluster");
        let leader = cluster.leader_member().expect("first cluster has a leader");
        let (x, y) = testing::find(&buffer, &leader.name).expect("leader listed");
        assert!(buffer[(x, y)].modifier.contains(Modifier::BOLD));
        let star = (0..x).find(|&cx| buffer[(cx, y)].symbol() == "★");
        let star = star.expect("a star on the leader's row");
        assert_eq!(buffer[(star, y)].fg, Color::Yellow);
        let (copy_x, copy_y) = testing::find(&buffer, "COPY").expect("a copy");
        assert_eq!(buffer[(copy_x, copy_y)].fg, Color::Cyan);
        assert!(!buffer[(copy_x, copy_y)].modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn a_down_member_reads_down_in_red_with_an_error_marker() {
        let mut app = testing::scenario();
        // The scenario's second cluster, dgraph-1, has its zero down.
        testing::type_keys(&mut app, "j");
        let buffer = testing::render_buffer(&app, LARGE.0 - 48, 20, draw);
        let (x, y) = testing::find(&buffer, "DOWN").expect("a down member");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        let marker = (0..x).find(|&cx| buffer[(cx, y)].symbol() == "!");
        let marker = marker.expect("an error marker on the row");
        assert_eq!(buffer[(marker, y)].fg, Color::Red);
    }

    #[test]
    fn a_member_claiming_to_lead_is_marked_in_red() {
        let mut app = testing::scenario();
        let now = app.now;
        app.apply_report(testing::split_brain(now), now);
        let index = app.topology.clusters.iter().position(|c| c.name == "split");
        let steps = "j".repeat(index.expect("the split cluster"));
        testing::type_keys(&mut app, &steps);
        let buffer = testing::render_buffer(&app, LARGE.0 - 48, 20, draw);
        let text = "claims master";
        let (x, y) = testing::find(&buffer, text).expect("the dispute in the role column");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        assert!(testing::row_text(&buffer, y).contains("10.7.0.2:6379"));
        let mark = (0..x).find(|&cx| buffer[(cx, y)].symbol() == "≠");
        assert_eq!(buffer[(mark.expect("a ≠ mark"), y)].fg, Color::Red);
    }
}
