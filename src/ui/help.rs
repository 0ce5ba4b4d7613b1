//! The help overlay: every key and `:` command that exists in this session,
//! generated from the same tables [`keymap`] matches keys with, so help cannot
//! drift from behaviour. Read-only sessions list no mutating entry; lab
//! entries appear only in lab mode.

use ratatui::Frame;

use super::view::View;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::keymap::{self, Binding, CommandSpec, Key};
use super::theme::Theme;

const KEY_WIDTH: usize = 14;

pub fn draw(frame: &mut Frame, area: Rect, app: &View) {
    let theme = app.ui.theme();
    let keys = key_lines(app);
    let commands = command_lines(app);
    let widest = |lines: &[Line]| lines.iter().map(Line::width).max().unwrap_or(0) as u16;
    let (keys_width, commands_width) = (widest(&keys), widest(&commands));
    // Side by side when both fit, else one scrollable column.
    let two_columns = keys_width + commands_width + 4 <= area.width;
    let (width, content_height) = if two_columns {
        (
            keys_width + commands_width + 4,
            keys.len().max(commands.len()),
        )
    } else {
        (
            keys_width.max(commands_width) + 2,
            keys.len() + commands.len(),
        )
    };
    let height = (content_height as u16 + 2).min(area.height);
    let popup = centered(area, width, height);
    let block = Block::bordered()
        .border_style(theme.border(true))
        .title(Span::styled(
            " Help (j/k scroll, other keys close) ",
            theme.title(true),
        ));
    let inner = block.inner(popup);
    frame.render_widget(Clear, popup);
    frame.render_widget(block, popup);
    let scroll = u16::try_from(app.ui.help_scroll.min(content_height)).unwrap_or(0);
    if two_columns {
        let [left, _, right] = Layout::horizontal([
            Constraint::Length(keys_width),
            Constraint::Length(2),
            Constraint::Fill(1),
        ])
        .areas(inner);
        frame.render_widget(Paragraph::new(keys).scroll((scroll, 0)), left);
        frame.render_widget(Paragraph::new(commands).scroll((scroll, 0)), right);
    } else {
        let mut all = keys;
        all.extend(commands);
        frame.render_widget(Paragraph::new(all).scroll((scroll, 0)), inner);
    }
}

/// Lines help holds in one column, to bound scrolling.
pub fn line_count(app: &View) -> usize {
    key_lines(app).len() + command_lines(app).len()
}

/// A rectangle of at most `width` x `height` in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn key_lines(app: &View) -> Vec<Line<'static>> {
    let theme = app.ui.theme();
    let mut lines = vec![Line::styled("Keys", theme.heading())];
    lines.extend(keymap::bindings(&app.header).map(|b| binding_line(theme, b)));
    lines.push(Line::styled("In describe and logs", theme.heading()));
    lines.extend(
        super::viewer::keys::VIEW_BINDINGS
            .iter()
            .map(|b| keys_line(theme, b.keys, b.help)),
    );
    lines
}

fn keys_line(theme: Theme, keys: &[Key], help: &'static str) -> Line<'static> {
    let keys: Vec<String> = keys.iter().map(|k: &Key| k.label()).collect();
    Line::from(vec![
        Span::styled(format!(" {:<KEY_WIDTH$}", keys.join(", ")), theme.key()),
        Span::raw(help),
    ])
}

fn binding_line(theme: Theme, binding: &Binding) -> Line<'static> {
    keys_line(theme, binding.keys, binding.help)
}

fn command_lines(app: &View) -> Vec<Line<'static>> {
    let theme = app.ui.theme();
    let mut lines = vec![Line::styled("Commands", theme.heading())];
    let usages: Vec<(String, &CommandSpec)> = keymap::commands(&app.header)
        .map(|c| (usage(c), c))
        .collect();
    // As wide as the longest usage, so that none runs into its help.
    let width = usages
        .iter()
        .map(|(u, _)| u.chars().count() + 1)
        .fold(KEY_WIDTH, usize::max);
    lines.extend(usages.iter().map(|(u, c)| command_line(theme, u, c, width)));
    lines.push(Line::default());
    lines.push(Line::styled("/ matches member name, address,", theme.dim()));
    lines.push(Line::styled("  role and placement, any case.", theme.dim()));
    lines
}

/// `:name, :other ARGUMENT`.
fn usage(spec: &CommandSpec) -> String {
    let names: Vec<String> = spec.names.iter().map(|n| format!(":{n}")).collect();
    let mut usage = names.join(", ");
    if let Some(argument) = spec.argument {
        usage = format!("{usage} {argument}");
    }
    usage
}

fn command_line(theme: Theme, usage: &str, spec: &CommandSpec, width: usize) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!(" {usage:<width$}"), theme.key()),
        Span::raw(spec.help),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::keymap::{BINDINGS, COMMANDS, Scope};
    use crate::ui::testing::{self, LARGE, SMALL};

    fn help_text(app: &testing::TestApp, (w, h): (u16, u16)) -> String {
        testing::render_pane(app, w, h, draw)
    }

    #[test]
    fn snapshot_small() {
        insta::assert_snapshot!(help_text(&testing::scenario(), SMALL));
    }

    #[test]
    fn snapshot_lab_large() {
        insta::assert_snapshot!(help_text(&testing::lab_scenario(), LARGE));
    }

    #[test]
    fn lists_every_available_entry_of_the_tables() {
        let app = testing::lab_scenario();
        let text = help_text(&app, LARGE);
        for b in BINDINGS {
            assert!(text.contains(b.help), "{} missing", b.help);
        }
        for c in COMMANDS {
            assert!(text.contains(c.help), "{} missing", c.help);
        }
    }

    #[test]
    fn read_only_lists_nothing_mutating_and_non_lab_no_lab_entry() {
        let mut app = testing::lab_scenario();
        app.header.read_only = true;
        let read_only = help_text(&app, LARGE);
        app.header.read_only = false;
        app.header.lab = false;
        let not_lab = help_text(&app, LARGE);
        for (text, absent) in [
            (read_only, [Scope::Lab, Scope::Mutating]),
            (not_lab, [Scope::Lab; 2]),
        ] {
            for b in BINDINGS.iter().filter(|b| absent.contains(&b.scope)) {
                assert!(!text.contains(b.help), "{} listed", b.help);
            }
            for c in COMMANDS.iter().filter(|c| absent.contains(&c.scope)) {
                assert!(!text.contains(c.help), "{} listed", c.help);
            }
        }
    }
}
