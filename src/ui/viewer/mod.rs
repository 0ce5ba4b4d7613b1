//! The describe and logs view: a full-screen, scrollable, searchable text
//! over the panes (like k9s's). Its text arrives from a task through the
//! app loop ([`Viewer::apply`]); this module only holds and moves it.
//!
//! - Lines are escaped when they arrive ([`crate::escape`]): what is
//!   searched is what is shown, and no byte from a cluster reaches the
//!   terminal raw.
//! - A log keeps at most [`MAX_LINES`] lines (the oldest go) and follows
//!   the end until the user scrolls up; `G` follows again.
//! - [`keys`]: what a key does in the view; [`draw`]: the overlay.

pub mod draw;
pub mod keys;

use std::cell::Cell;
use std::collections::VecDeque;

use crate::sources::inspect::{FeedEvent, LogOptions, LogTarget};

/// The most lines a log view keeps.
pub const MAX_LINES: usize = 10_000;

/// What the view shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewKind {
    Describe,
    Logs {
        target: LogTarget,
        options: LogOptions,
    },
}

/// Where the text stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Loading,
    /// A describe arrived whole, or a log is streaming.
    Live,
    /// A log ended; the text says why.
    Ended(String),
    Failed(String),
}

/// A `/` search: the text being typed, the query kept, the match line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// Some while typing after `/`.
    pub typing: Option<String>,
    pub query: String,
    /// The line of the current match (an index into the lines).
    pub current: Option<usize>,
}

/// An open describe or logs view.
#[derive(Debug)]
pub struct Viewer {
    /// Numbers the view, so a closed view's late feed is told apart.
    pub id: u64,
    pub title: String,
    pub kind: ViewKind,
    lines: VecDeque<String>,
    /// Lines dropped from the front to keep [`MAX_LINES`].
    dropped: u64,
    pub status: Status,
    /// Said under the text: the describe was cut, and where.
    pub note: Option<String>,
    top: usize,
    /// Keep the end in view as lines arrive.
    follow: bool,
    pub search: Search,
    /// A line for the status bar, answering the last key.
    pub message: Option<String>,
    /// Text rows at the last draw: a page, and where the last page starts.
    rows: Cell<usize>,
}

impl Viewer {
    pub fn new(id: u64, title: String, kind: ViewKind) -> Viewer {
        let follow = matches!(kind, ViewKind::Logs { .. });
        Viewer {
            id,
            title,
            kind,
            lines: VecDeque::new(),
            dropped: 0,
            status: Status::Loading,
            note: None,
            top: 0,
            follow,
            search: Search::default(),
            message: None,
            rows: Cell::new(20),
        }
    }

    pub fn lines(&self) -> &VecDeque<String> {
        &self.lines
    }

    pub fn top(&self) -> usize {
        self.top
    }

    pub fn follows(&self) -> bool {
        self.follow
    }

    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Records how many text rows the last draw had.
    pub fn set_rows(&self, rows: usize) {
        self.rows.set(rows.max(1));
    }

    fn rows(&self) -> usize {
        self.rows.get()
    }

    /// The first line of the last page.
    fn last_top(&self) -> usize {
        self.lines.len().saturating_sub(self.rows())
    }

    /// Takes what the view's task sent.
    pub fn apply(&mut self, event: FeedEvent) {
        match event {
            FeedEvent::Described(described) => {
                self.push_lines(described.text.lines().map(str::to_string));
                if described.truncated {
                    let limit = crate::sources::inspect::DESCRIBE_LIMIT / (1024 * 1024);
                    self.note = Some(format!("cut at {limit} MiB: the object is larger"));
                }
                self.status = Status::Live;
            }
            FeedEvent::Lines(lines) => {
                self.push_lines(lines.into_iter());
                self.status = Status::Live;
            }
            FeedEvent::Ended(why) => self.status = Status::Ended(why),
            FeedEvent::Failed(why) => self.status = Status::Failed(why),
        }
    }

    /// Appends lines, escaped, dropping the oldest past [`MAX_LINES`].
    fn push_lines(&mut self, lines: impl Iterator<Item = String>) {
        for line in lines {
            let shown = match crate::escape::escape(&line) {
                std::borrow::Cow::Borrowed(_) => line,
                std::borrow::Cow::Owned(escaped) => escaped,
            };
            self.lines.push_back(shown);
        }
        let over = self.lines.len().saturating_sub(MAX_LINES);
        if over > 0 {
            self.lines.drain(..over);
            self.dropped += over as u64;
            self.top = self.top.saturating_sub(over);
            self.search.current = self.search.current.and_then(|c| c.checked_sub(over));
        }
        if self.follow {
            self.top = self.last_top();
        }
    }

    /// Moves by `delta` lines; `isize::MIN`/`MAX` go to the start/end. At
    /// the end it follows again; anywhere above, it stays put.
    pub fn scroll(&mut self, delta: isize) {
        let last = self.last_top();
        self.top = self.top.saturating_add_signed(delta).min(last);
        self.follow = matches!(self.kind, ViewKind::Logs { .. }) && self.top >= last;
    }

    /// A page: the text rows of the last draw, less one kept for context.
    pub fn page(&self) -> isize {
        self.rows().saturating_sub(1).max(1) as isize
    }

    /// The next (`forward`) or previous line holding the query, after or
    /// before the current match (else the top), wrapping around; it is
    /// brought into view. False when nothing matches.
    pub fn find(&mut self, forward: bool) -> bool {
        let query = self.search.query.clone();
        if query.is_empty() || self.lines.is_empty() {
            return false;
        }
        let n = self.lines.len();
        let from = self.search.current.unwrap_or(if forward {
            self.top.wrapping_sub(1)
        } else {
            self.top
        });
        let found = (1..=n)
            .map(|step| {
                if forward {
                    from.wrapping_add(step) % n
                } else {
                    (from + n * 2 - step) % n
                }
            })
            .find(|&i| !matches(&self.lines[i], &query).is_empty());
        self.search.current = found;
        if let Some(line) = found {
            self.bring_into_view(line);
        }
        found.is_some()
    }

    /// Scrolls so that `line` is shown, a few rows below the top.
    fn bring_into_view(&mut self, line: usize) {
        if line < self.top || line >= self.top + self.rows() {
            self.top = line.saturating_sub(self.rows() / 3).min(self.last_top());
        }
        self.follow = false;
    }

    /// How many lines hold the query.
    pub fn match_count(&self) -> usize {
        let query = &self.search.query;
        if query.is_empty() {
            return 0;
        }
        self.lines
            .iter()
            .filter(|l| !matches(l, query).is_empty())
            .count()
    }
}

/// Where `query` occurs in `line`, ignoring ASCII case, as byte ranges
/// (ASCII case folding keeps byte offsets, so they index `line` itself).
pub fn matches(line: &str, query: &str) -> Vec<(usize, usize)> {
    if query.is_empty() {
        return Vec::new();
    }
    let haystack = line.to_ascii_lowercase();
    let needle = query.to_ascii_lowercase();
    haystack
        .match_indices(&needle)
        .map(|(at, m)| (at, at + m.len()))
        .collect()
}

#[cfg(test)]
mod tests;
