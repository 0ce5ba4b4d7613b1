//! Colours, and the monochrome theme used when `NO_COLOR` is set.
//!
//! Every meaning a colour carries is also written as text (`DOWN`, `NO LEADER`,
//! `★`, `!`), so the monochrome theme only has to keep emphasis: it uses bold,
//! reverse and underline and never sets a colour. The environment is read once,
//! by [`Theme::from_env`] at start-up; drawing only looks at the chosen theme,
//! so tests pick either one explicitly.

use ratatui::style::{Color, Modifier, Style};

use crate::model::EventKind;

/// The styles the panes draw with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::COLOR
    }
}

impl Theme {
    pub const COLOR: Theme = Theme { color: true };
    pub const MONOCHROME: Theme = Theme { color: false };

    /// Monochrome when `NO_COLOR` is set to anything but the empty string
    /// (<https://no-color.org>). Call once at start-up.
    pub fn from_env() -> Self {
        Theme::from_no_color(std::env::var_os("NO_COLOR"))
    }

    /// The choice [`Theme::from_env`] makes, given `NO_COLOR`'s value.
    pub fn from_no_color(value: Option<std::ffi::OsString>) -> Self {
        match value {
            Some(v) if !v.is_empty() => Theme::MONOCHROME,
            _ => Theme::COLOR,
        }
    }

    pub fn is_monochrome(self) -> bool {
        !self.color
    }

    fn pick(self, color: Style, mono: Style) -> Style {
        if self.color { color } else { mono }
    }

    pub fn text(self) -> Style {
        Style::new()
    }

    /// Secondary text: labels, placeholders, table headers' neighbours.
    pub fn dim(self) -> Style {
        self.pick(Style::new().fg(Color::DarkGray), Style::new())
    }

    pub fn good(self) -> Style {
        self.pick(Style::new().fg(Color::Green), Style::new())
    }

    pub fn warn(self) -> Style {
        self.pick(Style::new().fg(Color::Yellow), Style::new())
    }

    /// Down, errors, no leader: what an operator must see first.
    pub fn bad(self) -> Style {
        self.pick(
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub fn leader(self) -> Style {
        self.pick(
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub fn master_badge(self) -> Style {
        self.pick(
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    pub fn copy_badge(self) -> Style {
        self.pick(Style::new().fg(Color::Cyan), Style::new())
    }

    pub fn heading(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn table_header(self) -> Style {
        self.pick(
            Style::new()
                .fg(Color::Gray)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            Style::new().add_modifier(Modifier::UNDERLINED),
        )
    }

    pub fn border(self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => Style::new().fg(Color::Cyan),
            (true, false) => Style::new().fg(Color::DarkGray),
            (false, true) => Style::new().add_modifier(Modifier::BOLD),
            (false, false) => Style::new(),
        }
    }

    /// A focused pane's title is reversed so focus reads without colour.
    pub fn title(self, focused: bool) -> Style {
        if focused {
            self.pick(
                Style::new()
                    .fg(Color::Cyan)
                    .add_modifier(Modifier::BOLD | Modifier::REVERSED),
                Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
            )
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    /// The selected row; only a background, so the cells keep their colours.
    pub fn selection(self, focused: bool) -> Style {
        match (self.color, focused) {
            (true, true) => Style::new()
                .bg(Color::DarkGray)
                .add_modifier(Modifier::BOLD),
            (true, false) => Style::new().bg(Color::Black),
            (false, true) => Style::new().add_modifier(Modifier::REVERSED),
            (false, false) => Style::new().add_modifier(Modifier::UNDERLINED),
        }
    }

    pub fn badge_simulated(self) -> Style {
        self.badge(Color::Yellow)
    }

    pub fn badge_lab(self) -> Style {
        self.badge(Color::Magenta)
    }

    pub fn badge_read_only(self) -> Style {
        self.badge(Color::Blue)
    }

    fn badge(self, background: Color) -> Style {
        self.pick(
            Style::new()
                .fg(Color::Black)
                .bg(background)
                .add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        )
    }

    pub fn key(self) -> Style {
        self.pick(
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            Style::new().add_modifier(Modifier::BOLD),
        )
    }

    /// Failovers and losses red, recoveries green, the rest quieter.
    pub fn event(self, kind: EventKind) -> Style {
        use EventKind::*;
        match kind {
            LeaderChanged | LeaderLost | LinkDown | MemberRemoved | RegistryMismatch
            | LeadersConflict | SourceError | ActionFailed => self.bad(),
            LeaderRestored | LinkUp | RegistryAgrees | LeadersAgree | SourceRecovered
            | ActionSucceeded | FaultHealed => self.good(),
            HealthChanged | TierChanged | TermChanged | FaultInjected => self.warn(),
            MemberAdded | ActionRequested => self.pick(Style::new().fg(Color::Cyan), Style::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_set_and_not_empty_means_monochrome() {
        assert_eq!(Theme::from_no_color(None), Theme::COLOR);
        assert_eq!(Theme::from_no_color(Some("".into())), Theme::COLOR);
        assert_eq!(Theme::from_no_color(Some("1".into())), Theme::MONOCHROME);
    }
}
