//! The status line: the `/` filter or `:` command being typed; else the last
//! message; else key hints from the key table. The kept filter is shown on
//! the right so a narrowed view never looks like a missing cluster.

use ratatui::Frame;

use super::view::View;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Mode, keymap};

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let theme = app.ui.theme();
    let (left, cursor) = match app.ui.mode() {
        Mode::Filter => input_line("/", app.ui.filter(), "  Enter keeps, Esc clears"),
        Mode::Command(line) => input_line(":", line, "  Enter runs, Esc cancels"),
        _ => (status(app, area.width), None),
    };
    let filter = if app.ui.filter().is_empty() || *app.ui.mode() == Mode::Filter {
        Line::default()
    } else {
        Line::styled(format!("filter: {} ", app.ui.filter()), theme.warn()).right_aligned()
    };
    let filter_width = filter.width() as u16;
    let [left_area, right_area] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(filter_width)]).areas(area);
    frame.render_widget(Paragraph::new(super::shown(left)), left_area);
    frame.render_widget(Paragraph::new(super::shown(filter)), right_area);
    if let Some(column) = cursor {
        let x = left_area
            .x
            .saturating_add(column)
            .min(left_area.right().saturating_sub(1));
        frame.set_cursor_position(Position::new(x, left_area.y));
    }
}

/// The text being typed and where the cursor goes after it.
fn input_line(prompt: &str, text: &str, hint: &'static str) -> (Line<'static>, Option<u16>) {
    let cursor = (prompt.chars().count() + text.chars().count()) as u16;
    let line = Line::from(vec![
        Span::raw(format!("{prompt}{text}")),
        Span::raw(" "),
        Span::raw(hint),
    ]);
    (line, Some(cursor))
}

/// The last message, else as many key hints as fit in `width` (whole hints
/// only: a hint cut in half reads as a different key).
fn status(app: &View, width: u16) -> Line<'static> {
    let theme = app.ui.theme();
    if let Some(message) = app.ui.message() {
        let style = if message.is_error {
            theme.bad()
        } else {
            theme.good()
        };
        return Line::styled(message.text.clone(), style);
    }
    let mut spans = Vec::new();
    let mut used = 0;
    for binding in keymap::bindings(&app.header) {
        let Some(hint) = binding.hint else { continue };
        let key = binding.keys.first().map(|k| k.label()).unwrap_or_default();
        let text = format!(" {hint}  ");
        let needed = key.chars().count() + text.chars().count();
        if used + needed > usize::from(width) + 2 {
            break;
        }
        used += needed;
        spans.push(Span::styled(key, theme.key()));
        spans.push(Span::raw(text));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use crossterm::event::KeyCode;

    use super::*;
    use crate::ui::testing::{self, SMALL};

    fn footer(app: &testing::TestApp) -> String {
        testing::render_pane(app, SMALL.0, 1, draw)
    }

    #[test]
    fn snapshot_hints_in_lab_mode() {
        insta::assert_snapshot!(footer(&testing::lab_scenario()));
    }

    #[test]
    fn snapshot_typing_a_filter_and_a_command() {
        let mut app = testing::scenario();
        testing::type_keys(&mut app, "/Redis");
        let filter = footer(&app);
        testing::handle_key(&mut app, testing::key(KeyCode::Enter));
        testing::type_keys(&mut app, ":kill-ma");
        let command = footer(&app);
        insta::assert_snapshot!(format!("{filter}\n{command}"));
    }

    #[test]
    fn read_only_hints_have_no_mutating_key() {
        let mut app = testing::lab_scenario();
        app.header.read_only = true;
        let text = footer(&app);
        assert!(
            !text.contains("kill") && !text.contains("restart"),
            "{text}"
        );
    }

    #[test]
    fn a_message_replaces_the_hints_and_the_kept_filter_shows() {
        let mut app = testing::scenario();
        testing::type_keys(&mut app, "/orc");
        testing::handle_key(&mut app, testing::key(KeyCode::Enter));
        testing::type_keys(&mut app, ":foo");
        testing::handle_key(&mut app, testing::key(KeyCode::Enter));
        let text = footer(&app);
        assert!(text.contains("unknown command: foo"), "{text}");
        assert!(text.contains("filter: orc"), "{text}");
    }
}
