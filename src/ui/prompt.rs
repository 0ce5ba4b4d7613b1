//! The question dialog of a draft action: what is being planned, the
//! question, what is accepted, the answer being typed (prefilled with the
//! default) and why the last answer was refused. It knows no platform: the
//! draft carries the words.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Wrap};

use super::Mode;
use super::help::centered;
use super::view::View;

const WIDTH: u16 = 72;

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let Mode::Ask(asking) = app.ui.mode() else {
        return;
    };
    let Some(question) = asking.draft.question() else {
        return;
    };
    let theme = app.ui.theme();
    let mut lines = vec![
        Line::styled(question.prompt.clone(), theme.heading()),
        Line::styled(format!("({})", question.hint()), theme.dim()),
        Line::default(),
        Line::from(vec![
            Span::styled("> ", theme.key()),
            Span::raw(asking.input.clone()),
        ]),
    ];
    if let Some(error) = &asking.error {
        lines.push(Line::styled(error.clone(), theme.bad()));
    }
    lines.push(Line::default());
    lines.push(Line::styled("Enter: next   Esc: cancel", theme.dim()));
    let width = WIDTH.min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let popup = centered(area, width, height);
    let block = Block::bordered()
        .border_style(theme.warn())
        .title(Span::styled(
            format!(" {} ", asking.draft.action().name()),
            theme.warn(),
        ))
        .padding(Padding::horizontal(1));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    frame.render_widget(
        Paragraph::new(super::shown_all(lines)).wrap(Wrap { trim: false }),
        inner,
    );
    let cursor_x = inner.x + 2 + asking.input.chars().count() as u16;
    frame.set_cursor_position(Position::new(
        cursor_x.min(inner.right().saturating_sub(1)),
        inner.y + 3,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::plan::{AnswerKind, Field, Question, swarm_service};
    use crate::actions::{Action, Draft};
    use crate::ui::Asking;
    use crate::ui::testing::{self, SMALL};

    #[test]
    fn shows_the_question_the_default_and_a_refusal() {
        let mut app = testing::scenario();
        let action = Action::Scale {
            member: "m".into(),
            workload: swarm_service("abc", "redis"),
            current: Some(1),
            replicas: 1,
        };
        let question = Question::new(
            "Replicas of Swarm service redis",
            "1",
            AnswerKind::Count { min: 0, max: 9 },
            Field::Replicas,
        );
        app.ui.mode = Mode::Ask(Asking {
            draft: Draft::new(action, vec![question]),
            input: "12".into(),
            edited: true,
            error: Some("\"12\" is not a number 0..9".into()),
        });
        let text = testing::render_pane(&app, SMALL.0, SMALL.1, draw);
        assert!(text.contains("Replicas of Swarm service redis"), "{text}");
        assert!(
            text.contains("> 12") && text.contains("is not a number 0..9"),
            "{text}"
        );
        assert!(text.contains(" scale "), "{text}");
    }
}
