//! The clusters list: name, kind, member count, and who leads — or a red
//! `NO LEADER 3.2s` counting since the leader was lost — followed by what
//! disagrees: a registry record naming another leader (`≠registry`), the
//! Sentinel's strongest down flag and whether it is failing over. A state
//! column sums up each cluster's health (members down, the worst lag,
//! faults held) so that many clusters can be scanned.
//!
//! Only the rows that fit are built, so ten thousand members cost nothing here.

use ratatui::Frame;

use super::view::View;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{HighlightSpacing, Row, Table, TableState};

use super::{Pane, pane_block, view};
use crate::model::Cluster;
use crate::model::topology::LEADERS_CONFLICT_ALARM;

/// Below this inner width the kind column is left out (the members pane
/// names the kind too).
const KIND_MIN_WIDTH: u16 = 56;
/// Cluster names are shown whole up to this width.
const NAME_MAX_WIDTH: usize = 24;

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let clusters = &app.clusters;
    let selected = app.cluster_index;
    let extra = if app.ui.filter().is_empty() {
        clusters.len().to_string()
    } else {
        format!("{}/{} match", clusters.len(), app.topology.clusters.len())
    };
    let block = pane_block(app, Pane::Clusters, "Clusters", extra);
    let inner = block.inner(area);
    let height = inner.height.saturating_sub(1) as usize;
    let start = view::window_start(clusters.len(), selected, height);
    let shown = &clusters[start..(start + height).min(clusters.len())];
    let layout = Layout::choose(app, shown, inner.width);
    let rows: Vec<Row> = shown.iter().map(|c| row(app, c, &layout)).collect();
    let theme = app.ui.theme();
    let mut header = vec!["Cluster", "N"];
    let mut widths = vec![
        Constraint::Length(layout.name),
        Constraint::Length(layout.count),
    ];
    if layout.kind {
        header.push("Kind");
        widths.push(Constraint::Length(12));
    }
    if let Some((width, _)) = layout.state {
        header.push("State");
        widths.push(Constraint::Length(width));
    }
    header.push("Leader");
    widths.push(Constraint::Fill(1));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.table_header()))
        .block(block)
        .row_highlight_style(theme.selection(app.ui.focus() == Pane::Clusters))
        .highlight_symbol("›")
        .highlight_spacing(HighlightSpacing::Always);
    let mut state = TableState::new().with_selected(selected.map(|i| i - start));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Which columns the clusters list shows, and how wide.
struct Layout {
    name: u16,
    count: u16,
    kind: bool,
    /// The state column's width and whether it shows the worst lag; left
    /// out when the leader (or `NO LEADER 3.2s`) would not fit beside it.
    state: Option<(u16, bool)>,
}

impl Layout {
    fn choose(app: &View, shown: &[&Cluster], width: u16) -> Layout {
        // Names matter most: as wide as the longest shown, the leader gets the rest.
        let name = shown
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0)
            .clamp(4, NAME_MAX_WIDTH.min(usize::from(width / 2)).max(4)) as u16;
        let count = shown
            .iter()
            .map(|c| c.members.len().to_string().len())
            .max()
            .unwrap_or(1) as u16;
        let kind = width >= KIND_MIN_WIDTH;
        // Who leads, or since when nobody does, must fit; the alarms after
        // it may be cut.
        let leader = shown
            .iter()
            .map(|c| essential_width(&leader_cell(app, c)))
            .max()
            .unwrap_or(1) as u16;
        // The highlight symbol and the gaps between columns.
        let fixed = 1 + name + 1 + count + 1 + if kind { 13 } else { 0 } + leader;
        let state = [true, false].into_iter().find_map(|with_lag| {
            let cells = shown.iter().map(|c| state_cell(app, c, with_lag).width());
            let w = cells.max().unwrap_or(2).max(5) as u16;
            (fixed + w < width).then_some((w, with_lag))
        });
        Layout {
            name,
            count,
            kind,
            state,
        }
    }
}

fn row<'a>(app: &View, cluster: &'a Cluster, layout: &Layout) -> Row<'a> {
    let mut cells = vec![
        Line::from(cluster.name.as_str()),
        Line::from(cluster.members.len().to_string()),
    ];
    if layout.kind {
        cells.push(Line::styled(cluster.kind.as_str(), app.ui.theme().dim()));
    }
    if let Some((_, with_lag)) = layout.state {
        cells.push(state_cell(app, cluster, with_lag));
    }
    cells.push(leader_cell(app, cluster));
    Row::new(cells.into_iter().map(super::shown))
}

/// The cluster's health in a few characters, for scanning many: members
/// down (`2↓`) and degraded (`1~`), the worst lag, faults held (`F1`); `ok`
/// when nothing is wrong.
pub fn state_cell(app: &View, cluster: &Cluster, with_lag: bool) -> Line<'static> {
    use crate::model::Health;
    let theme = app.ui.theme();
    let count = |h: Health| cluster.members.iter().filter(|m| m.health == h).count();
    let mut spans = Vec::new();
    let mut push = |text: String, style| {
        if !spans.is_empty() {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(text, style));
    };
    match count(Health::Down) {
        0 => {}
        n => push(format!("{n}↓"), theme.bad()),
    }
    match count(Health::Degraded) {
        0 => {}
        n => push(format!("{n}~"), theme.warn()),
    }
    if let Some(worst) = worst_lag(cluster).filter(|_| with_lag) {
        push(worst, theme.dim());
    }
    match cluster
        .members
        .iter()
        .filter(|m| !m.faults.is_empty())
        .count()
    {
        0 => {}
        n => push(format!("F{n}"), theme.warn()),
    }
    if spans.is_empty() {
        spans.push(Span::styled("ok", theme.good()));
    }
    Line::from(spans)
}

/// The largest lag of a member that is up, as the members list writes it.
fn worst_lag(cluster: &Cluster) -> Option<String> {
    let up = cluster
        .members
        .iter()
        .filter(|m| m.health != crate::model::Health::Down);
    let bytes = up.clone().filter_map(|m| m.lag_bytes).max();
    let native = up
        .filter(|m| m.lag_bytes.is_none())
        .filter_map(|m| m.lag.as_ref())
        .max_by_key(|l| l.value);
    match (bytes, native) {
        (Some(b), _) if b > 0 => Some(view::bytes(b)),
        (_, Some(l)) if l.value > 0 => Some(format!(
            "{}{}",
            l.value,
            l.unit.chars().next().unwrap_or(' ')
        )),
        _ => None,
    }
}

/// True when some member is of the master tier, or an arbiter (Sentinel,
/// raft, a lock) or registry says there should be a leader.
fn may_lead(cluster: &Cluster) -> bool {
    cluster.consensus.is_some()
        || cluster.recorded_leader.is_some()
        || cluster
            .members
            .iter()
            .any(|m| m.tier == crate::model::Tier::Master)
}

/// The width of a leader cell up to its alarms (each starts with a space).
fn essential_width(cell: &Line<'_>) -> usize {
    cell.spans
        .iter()
        .take_while(|s| !s.content.starts_with(' '))
        .map(Span::width)
        .sum::<usize>()
        .max(1)
}

/// The leader (or how long without one), then every disagreement.
pub fn leader_cell<'a>(app: &View, cluster: &'a Cluster) -> Line<'a> {
    let theme = app.ui.theme();
    let mut spans = match cluster.leader_member() {
        Some(leader) => vec![
            Span::styled("★", theme.leader()),
            Span::raw(leader.name.as_str()),
        ],
        // Plain containers or tasks with no master tier and no Sentinel:
        // nothing there is meant to lead, so no alarm.
        None if !may_lead(cluster) => vec![Span::styled("-", theme.dim())],
        None => {
            let since = app.timeline.leaderless_since(&cluster.id);
            let text = match since {
                Some(since) => format!("NO LEADER {}", view::elapsed(since, app.now)),
                None => "NO LEADER".to_string(),
            };
            vec![Span::styled(text, theme.bad())]
        }
    };
    if cluster.recorded_leader_agrees == Some(false) {
        spans.push(Span::styled(" ≠registry", theme.bad()));
    }
    spans.extend(alarm_spans(app, cluster));
    if let Some(consensus) = &cluster.consensus
        && consensus.in_progress.is_some()
    {
        let change = consensus.arbiter.change_word();
        spans.push(Span::styled(format!(" {change}"), theme.warn()));
    }
    Line::from(spans)
}

/// Two members claiming to lead, a source's problem with the cluster, and
/// the arbiter's own alarm word (only the strongest fits; details has every
/// fact), in red.
fn alarm_spans<'a>(app: &View, cluster: &'a Cluster) -> Vec<Span<'a>> {
    let bad = app.ui.theme().bad();
    let consensus = cluster.consensus.as_ref();
    let mut spans = Vec::new();
    if !cluster.leaders_conflict.is_empty() {
        let word = consensus.map_or("leader", |c| c.arbiter.leader_word());
        let n = cluster.leaders_conflict.len();
        spans.push(Span::styled(format!(" {n} {word}s!"), bad));
    }
    if let Some(problem) = &cluster.problem {
        spans.push(Span::styled(format!(" {problem}"), bad));
    }
    let alarm = consensus.and_then(|c| c.alarm.as_deref());
    if let Some(alarm) = alarm.filter(|a| *a != LEADERS_CONFLICT_ALARM) {
        spans.push(Span::styled(format!(" {alarm}"), bad));
    }
    spans
}

#[cfg(test)]
mod tests {
    use ratatui::style::Color;

    use super::*;
    use crate::ui::testing::{self, LARGE, SMALL};

    #[test]
    fn snapshot_narrow() {
        let app = testing::scenario();
        insta::assert_snapshot!(testing::render_pane(&app, 28, 11, draw));
    }

    #[test]
    fn snapshot_wide() {
        let app = testing::scenario();
        insta::assert_snapshot!(testing::render_pane(&app, 48, 20, draw));
    }

    #[test]
    fn a_leaderless_cluster_is_red_with_its_duration() {
        let app = testing::scenario();
        let buffer = testing::render_buffer(&app, 48, 20, draw);
        let (x, y) = testing::find(&buffer, "NO LEADER").expect("a leaderless cluster");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        // The scenario's dgraph-1 lost its leader three seconds ago.
        let row = testing::row_text(&buffer, y);
        assert!(
            row.contains("dgraph-1") && row.contains("NO LEADER 3.0s"),
            "{row}"
        );
        assert!(row.contains("≠registry"), "{row}");
    }

    #[test]
    fn two_members_claiming_to_lead_are_red_on_the_cluster_row() {
        let mut app = testing::scenario();
        let now = app.now;
        app.apply_report(testing::split_brain(now), now);
        let buffer = testing::render_buffer(&app, LARGE.0, LARGE.1, draw);
        let (x, y) = testing::find(&buffer, "2 leaders!").expect("the conflict shown");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        let row = testing::row_text(&buffer, y);
        assert!(
            row.contains("split") && row.contains("10.7.0.1:6379"),
            "{row}"
        );
    }

    #[test]
    fn the_selected_row_is_highlighted_and_follows_the_id() {
        let mut app = testing::scenario();
        testing::type_keys(&mut app, "jj");
        let id = app.ui.selected_cluster_id(&app).map(str::to_string);
        let buffer = testing::render_buffer(&app, SMALL.0, LARGE.1, draw);
        let (_, y) = testing::find(&buffer, "›").expect("selection marker");
        assert_eq!(buffer[(2, y)].bg, Color::DarkGray);
        assert_eq!(id.as_deref(), Some(app.topology.clusters[2].id.as_str()));
    }

    #[test]
    fn the_state_column_counts_members_down_and_the_worst_lag() {
        let app = testing::scenario();
        let buffer = testing::render_buffer(&app, LARGE.0 * 3 / 10, 12, draw);
        let (x, y) = testing::find(&buffer, "1↓").expect("a cluster with a member down");
        assert_eq!(buffer[(x, y)].fg, ratatui::style::Color::Red);
        assert!(testing::row_text(&buffer, y).contains("NO LEADER"));
        assert!(
            testing::find(&buffer, "ok").is_some(),
            "a healthy cluster reads ok"
        );
        let narrow = testing::render_buffer(&app, 30, 12, draw);
        assert!(
            testing::find(&narrow, "State").is_none(),
            "who leads needs the room"
        );
    }
}
