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

use super::columns::{self, Need};
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
    Address,
    Role,
    Health,
    Link,
    Lag,
    LagSeconds,
    Trend,
    Where,
    Error,
}

/// Display order, title, priority (0 always shown, higher dropped first),
/// and the order in which spare width is handed out.
const COLUMNS: [(Column, &str, u8, u8); 12] = [
    (Column::Error, "!", 0, 9),
    (Column::Leader, "★", 0, 9),
    (Column::Tier, "Tier", 0, 9),
    (Column::Name, "Name", 0, 0),
    (Column::Address, "Address", 2, 9),
    (Column::Role, "Role", 2, 2),
    (Column::Health, "Health", 0, 9),
    (Column::Link, "Link", 3, 9),
    (Column::Lag, "Lag", 1, 9),
    (Column::LagSeconds, "Lag s", 3, 9),
    (Column::Trend, "Trend", 4, 9),
    (Column::Where, "Where", 5, 3),
];

/// `redis · 3`, and the order when one was asked for (`· by lag`).
fn title_extra(
    cluster: &crate::model::Cluster,
    count: usize,
    order: Option<super::sort::SortBy>,
) -> String {
    match order {
        Some(order) => format!("{} · {count} · by {}", cluster.kind, order.label()),
        None => format!("{} · {count}", cluster.kind),
    }
}

/// Width of the lag sparkline.
const TREND: u16 = 10;

/// What each column needs for these rows (cells already drawn).
fn needs(cells: &[Vec<Line<'_>>]) -> Vec<Need> {
    COLUMNS
        .iter()
        .enumerate()
        .map(|(i, (column, title, priority, grow_order))| {
            let texts = cells.iter().map(|row| row[i].to_string());
            let content = texts
                .clone()
                .map(|t| columns::width_of(&t))
                .chain([columns::width_of(title)])
                .max()
                .unwrap_or(1);
            let addresses = texts.clone().any(|t| columns::is_address(&t));
            let (content, min) = match column {
                // Only where some member is named otherwise than its address.
                Column::Address if texts.clone().all(|t| t.is_empty()) => (0, 0),
                Column::Trend => (TREND, TREND),
                // A name or place that is an address is never cut.
                Column::Name | Column::Where | Column::Address if addresses => (content, content),
                Column::Name => (content.min(48), content.min(12)),
                Column::Where => (content.min(40), content.min(10)),
                Column::Role => (content.min(24), content.min(6)),
                _ => (content, content),
            };
            Need {
                content,
                min,
                priority: *priority,
                grow_order: *grow_order,
            }
        })
        .collect()
}

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let cluster = app.cluster();
    let members = &app.members;
    let selected = app.member_index;
    let (title, extra) = match cluster {
        Some(c) => (
            c.name.as_str(),
            title_extra(c, members.len(), app.ui.sort()),
        ),
        None => ("Members", String::new()),
    };
    let block = pane_block(app, Pane::Members, title, extra);
    let inner = block.inner(area);
    let height = inner.height.saturating_sub(1) as usize;
    let start = view::window_start(members.len(), selected, height);
    let theme = app.ui.theme();
    let cells: Vec<Vec<Line>> = members
        .iter()
        .skip(start)
        .take(height)
        .map(|m| {
            COLUMNS
                .iter()
                .map(|c| super::shown(cell(app, theme, m, c.0, TREND)))
                .collect()
        })
        .collect();
    // The highlight symbol takes one column.
    let widths = columns::fit(&needs(&cells), inner.width.saturating_sub(1));
    let rows: Vec<Row> = members
        .iter()
        .skip(start)
        .zip(cells)
        .map(|(m, line)| row(m, theme, line, &widths))
        .collect();
    let header = Row::new(
        COLUMNS
            .iter()
            .zip(&widths)
            .filter(|(_, w)| w.is_some())
            .map(|(c, _)| c.1),
    )
    .style(theme.table_header());
    let constraints = widths.iter().flatten().map(|w| Constraint::Length(*w));
    let table = Table::new(rows, constraints)
        .header(header)
        .block(block)
        .row_highlight_style(theme.selection(app.ui.focus() == Pane::Members))
        .highlight_symbol("›")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(selected.map(|i| i - start));
    frame.render_stateful_widget(table, area, &mut state);
}

fn row<'a>(member: &Member, theme: Theme, cells: Vec<Line<'a>>, widths: &[Option<u16>]) -> Row<'a> {
    let cells = COLUMNS
        .iter()
        .zip(cells)
        .zip(widths)
        .filter_map(|((column, line), width)| Some(fitted(column.0, line, (*width)?)));
    let style = if member.leader {
        theme.heading()
    } else {
        Style::new()
    };
    Row::new(cells).style(style)
}

/// A cell cut to its column, marked with `…`: names and places keep their
/// end, words their start.
fn fitted(column: Column, line: Line<'_>, width: u16) -> Line<'_> {
    if line.width() <= width as usize {
        return line;
    }
    let style = line
        .spans
        .first()
        .map_or(line.style, |s| line.style.patch(s.style));
    let text = line.to_string();
    let cut = match column {
        Column::Name | Column::Where => columns::keep_end(&text, width),
        _ => columns::keep_start(&text, width),
    };
    Line::styled(cut, style)
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
        Column::Address => match member.address.as_deref() {
            Some(address) if address != member.name => Line::from(address),
            _ => Line::default(),
        },
        Column::Role => match &member.role_dispute {
            Some(dispute) => Line::styled(dispute.as_str(), theme.bad()),
            None => Line::from(member.native_role.as_deref().unwrap_or("-")),
        },
        Column::Health => health(theme, member.health).into(),
        // A dead member has no link and no lag: stale numbers would read as
        // a copy falling behind.
        Column::Link | Column::Lag | Column::LagSeconds if member.health == Health::Down => {
            Line::styled("-", theme.dim())
        }
        Column::Trend if member.health == Health::Down => Line::default(),
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
    fn narrow_keeps_the_essential_columns_and_addresses_whole() {
        let app = testing::scenario();
        let buffer = testing::render_buffer(&app, 50, 11, draw);
        let header = testing::row_text(&buffer, 1);
        for wanted in ["★", "Tier", "Name", "Health", "Lag", "!"] {
            assert!(header.contains(wanted), "{wanted} missing from {header:?}");
        }
        let cluster = crate::ui::view::selected_cluster(&app.app, &app.ui).expect("a cluster");
        for member in &cluster.members {
            assert!(
                testing::find(&buffer, &member.name).is_some(),
                "{} cut",
                member.name
            );
        }
    }

    #[test]
    fn a_dead_member_shows_no_lag() {
        let mut app = testing::scenario();
        testing::type_keys(&mut app, "j");
        let buffer = testing::render_buffer(&app, LARGE.0 - 48, 20, draw);
        let (_, y) = testing::find(&buffer, "DOWN").expect("a down member");
        let row = testing::row_text(&buffer, y);
        assert_eq!(row.matches("DOWN").count(), 1, "{row}");
        assert!(!row.contains('█') && !row.contains('▁'), "no trend: {row}");
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
