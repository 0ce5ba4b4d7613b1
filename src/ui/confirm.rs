//! The confirm popup: what the pending action will do, exactly
//! ([`Action::describe`](crate::actions::Action::describe)), and `y/N` with No
//! as the default. Only `y` goes on; see [`super::input`].

use ratatui::Frame;

use super::view::View;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Wrap};

use super::Mode;
use super::help::centered;

const WIDTH: u16 = 64;

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let (name, description) = match app.ui.mode() {
        Mode::Confirm(action) => (action.name().to_string(), action.describe()),
        Mode::ConfirmShell(command) => (
            "shell".to_string(),
            format!(
                "open a shell in {} with `{}`? It runs in this terminal; the console \
                 comes back when it exits.",
                command.member,
                command.shown()
            ),
        ),
        _ => return,
    };
    let theme = app.ui.theme();
    // Escaped before measuring, so the wrap counts what is shown.
    let description = crate::escape::escape(&description).into_owned();
    let width = WIDTH.min(area.width);
    // Borders and padding take four columns.
    let text_width = usize::from(width.saturating_sub(4)).max(1);
    let text_height = wrapped_lines(&description, text_width) as u16;
    let popup = centered(area, width, text_height + 4);
    let block = Block::bordered()
        .border_style(theme.bad())
        .title(super::shown(Line::styled(
            format!(" Confirm {name} "),
            theme.bad(),
        )))
        .padding(Padding::horizontal(1));
    let inner = block.inner(popup);
    // The prompt has its own row so a long description can never push it out.
    let [text_area, _, prompt_area] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let prompt = Line::from(vec![
        Span::raw("Go ahead? "),
        Span::styled("y", theme.key()),
        Span::raw("/"),
        Span::styled("N", theme.key()),
        Span::styled("   (y: yes, any other key: no)", theme.dim()),
    ]);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    frame.render_widget(
        Paragraph::new(Line::styled(description, theme.heading())).wrap(Wrap { trim: true }),
        text_area,
    );
    frame.render_widget(Paragraph::new(prompt), prompt_area);
}

/// Lines a greedy word wrap at `width` takes, as `Wrap` does it.
fn wrapped_lines(text: &str, width: usize) -> usize {
    let mut lines = 1;
    let mut used = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        let needed = if used == 0 { len } else { used + 1 + len };
        if used > 0 && needed > width {
            lines += 1;
            used = len;
        } else {
            used = needed;
        }
        // A word longer than the line is broken across lines.
        while used > width {
            lines += 1;
            used -= width;
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use ratatui::style::Color;

    use super::*;
    use crate::actions::Action;
    use crate::ui::testing::{self, SMALL};

    fn asking() -> testing::TestApp {
        let mut app = testing::lab_scenario();
        app.ui.mode = Mode::Confirm(Action::LabKill {
            member: "10.0.0.10:6379".into(),
            address: "10.0.0.10:6379".into(),
        });
        app
    }

    #[test]
    fn wrap_estimate_matches_word_wrap() {
        assert_eq!(wrapped_lines("short", 10), 1);
        assert_eq!(wrapped_lines("aaaa bbbb cccc", 9), 2);
        assert_eq!(wrapped_lines("aaaa bbbb cccc", 8), 3);
        assert_eq!(wrapped_lines("abcdefghijkl", 5), 3);
    }

    #[test]
    fn the_prompt_survives_a_narrow_screen() {
        let text = testing::render_pane(&asking(), 30, 12, draw);
        assert!(text.contains("Go ahead? y/N"), "{text}");
    }

    #[test]
    fn snapshot() {
        insta::assert_snapshot!(testing::render_pane(&asking(), SMALL.0, 9, draw));
    }

    #[test]
    fn border_is_red_and_nothing_is_drawn_without_a_pending_action() {
        let buffer = testing::render_buffer(&asking(), SMALL.0, 9, draw);
        let (x, y) = testing::find(&buffer, "Confirm").expect("title");
        assert_eq!(buffer[(x, y)].fg, Color::Red);
        let idle = testing::render_pane(&testing::scenario(), SMALL.0, 9, draw);
        assert!(idle.chars().all(|c| c == ' ' || c == '"' || c == '\n'));
    }
}
