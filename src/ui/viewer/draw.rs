//! Draws the describe/logs view over the whole screen: the text from the
//! top line, search matches highlighted (the current match's line marked),
//! and a status line: loading, errors, position, following, the search.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::{Status, Viewer, matches};
use crate::ui::theme::Theme;

/// Draws `viewer` over `area`.
pub fn draw(frame: &mut Frame, area: Rect, viewer: &Viewer, theme: Theme) {
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(crate::ui::shown(Line::styled(
            format!(" {} ", viewer.title),
            theme.title(true),
        )))
        .title_bottom(Line::styled(
            " j/k PgUp/PgDn g/G scroll · / search · n/N match · Esc close ",
            theme.dim(),
        ));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    let [text_area, status_area] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(inner);
    viewer.set_rows(usize::from(text_area.height));
    let shown: Vec<Line> = viewer
        .lines()
        .iter()
        .enumerate()
        .skip(viewer.top())
        .take(usize::from(text_area.height))
        .map(|(i, line)| text_line(viewer, i, line, theme))
        .collect();
    frame.render_widget(Paragraph::new(shown), text_area);
    frame.render_widget(Paragraph::new(status_line(viewer, theme)), status_area);
}

/// One line of text with its matches reversed; the current match's line
/// also bold. The line was escaped when it arrived.
fn text_line<'a>(viewer: &Viewer, index: usize, line: &'a str, theme: Theme) -> Line<'a> {
    let found = matches(line, &viewer.search.query);
    if found.is_empty() {
        return Line::raw(line);
    }
    let mut hit = Style::new().add_modifier(Modifier::REVERSED);
    if viewer.search.current == Some(index) {
        hit = hit.patch(theme.warn()).add_modifier(Modifier::BOLD);
    }
    let mut spans = Vec::new();
    let mut at = 0;
    for (start, end) in found {
        spans.push(Span::raw(&line[at..start]));
        spans.push(Span::styled(&line[start..end], hit));
        at = end;
    }
    spans.push(Span::raw(&line[at..]));
    Line::from(spans)
}

/// What the view is doing, where it is, and the search.
fn status_line(viewer: &Viewer, theme: Theme) -> Line<'static> {
    let mut spans = Vec::new();
    if let Some(typing) = &viewer.search.typing {
        spans.push(Span::styled(format!("/{typing}▏"), theme.key()));
        return crate::ui::shown(Line::from(spans));
    }
    match &viewer.status {
        Status::Loading => spans.push(Span::styled("loading…  ", theme.warn())),
        Status::Failed(why) => spans.push(Span::styled(format!("{why}  "), theme.bad())),
        Status::Ended(why) => spans.push(Span::styled(format!("{why}  "), theme.dim())),
        Status::Live => {}
    }
    let total = viewer.lines().len();
    let last = (viewer.top() + viewer.rows()).min(total);
    spans.push(Span::raw(format!(
        "lines {}-{last} of {total}",
        (viewer.top() + 1).min(total)
    )));
    if viewer.dropped() > 0 {
        spans.push(Span::styled(
            format!(" ({} older dropped)", viewer.dropped()),
            theme.dim(),
        ));
    }
    if viewer.follows() {
        spans.push(Span::styled("  following", theme.good()));
    }
    if let Some(note) = &viewer.note {
        spans.push(Span::styled(format!("  {note}"), theme.warn()));
    }
    if !viewer.search.query.is_empty() {
        let count = viewer.match_count();
        spans.push(Span::raw(format!(
            "  /{}: {count} line(s)",
            viewer.search.query
        )));
    }
    if let Some(message) = &viewer.message {
        spans.push(Span::styled(format!("  {message}"), theme.warn()));
    }
    crate::ui::shown(Line::from(spans))
}
