//! The view on its own: scrolling, following, search, the line bound,
//! escaping, and what a draw shows.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::keys::{ViewRequest, handle};
use super::*;
use crate::sources::inspect::{Described, FeedEvent, LogOptions, LogTarget};
use crate::ui::theme::Theme;

fn logs() -> Viewer {
    let target = LogTarget::Container {
        id: "abc".into(),
        name: "redis-1".into(),
    };
    let kind = ViewKind::Logs {
        target,
        options: LogOptions::default(),
    };
    Viewer::new(1, "logs container redis-1".into(), kind)
}

fn numbered(from: usize, to: usize) -> FeedEvent {
    FeedEvent::Lines((from..to).map(|i| format!("line {i}")).collect())
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn typed(viewer: &mut Viewer, text: &str) {
    for c in text.chars() {
        handle(viewer, &key(c));
    }
}

/// The screen after drawing `viewer` in 60x12, as text.
fn screen(viewer: &Viewer) -> String {
    let mut terminal = Terminal::new(TestBackend::new(60, 12)).unwrap();
    terminal
        .draw(|f| draw::draw(f, f.area(), viewer, Theme::from_no_color(Some("1".into()))))
        .unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_log_follows_the_end_until_scrolled_up_and_again_after_g() {
    let mut v = logs();
    v.set_rows(10);
    v.apply(numbered(0, 50));
    assert_eq!((v.top(), v.follows()), (40, true));
    handle(&mut v, &key('k'));
    assert_eq!((v.top(), v.follows()), (39, false));
    v.apply(numbered(50, 60));
    assert_eq!(v.top(), 39, "scrolled up: new lines do not move the view");
    handle(&mut v, &key('G'));
    assert_eq!((v.top(), v.follows()), (50, true));
    v.apply(numbered(60, 61));
    assert_eq!(v.top(), 51);
    handle(&mut v, &key('g'));
    assert_eq!(v.top(), 0);
    handle(&mut v, &code(KeyCode::PageDown));
    assert_eq!(v.top(), 9);
}

#[test]
fn search_finds_highlights_and_wraps_with_n_and_capital_n() {
    let mut v = logs();
    v.set_rows(5);
    v.apply(numbered(0, 30));
    handle(&mut v, &key('g'));
    handle(&mut v, &key('/'));
    typed(&mut v, "LINE 2");
    assert!(
        screen(&v).contains("/LINE 2"),
        "the search is typed at the bottom"
    );
    handle(&mut v, &code(KeyCode::Enter));
    assert_eq!(v.search.current, Some(2));
    handle(&mut v, &key('n'));
    assert_eq!(
        v.search.current,
        Some(20),
        "line 20 is the next holding `line 2`"
    );
    assert!(v.top() <= 20 && 20 < v.top() + 5, "the match is in view");
    handle(&mut v, &key('N'));
    assert_eq!(v.search.current, Some(2));
    handle(&mut v, &key('N'));
    assert_eq!(v.search.current, Some(29), "wraps around backwards");
    assert_eq!(v.match_count(), 11);
    assert!(screen(&v).contains("/LINE 2: 11 line(s)"));
    handle(&mut v, &key('/'));
    typed(&mut v, "nowhere");
    handle(&mut v, &code(KeyCode::Enter));
    assert_eq!(v.message.as_deref(), Some("not found: nowhere"));
}

#[test]
fn the_ring_keeps_the_last_lines_and_says_how_many_went() {
    let mut v = logs();
    v.apply(numbered(0, MAX_LINES + 25));
    assert_eq!(v.lines().len(), MAX_LINES);
    assert_eq!(v.lines()[0], "line 25");
    assert_eq!(v.dropped(), 25);
    assert!(screen(&v).contains("(25 older dropped)"));
}

#[test]
fn control_characters_are_shown_escaped() {
    let mut v = logs();
    v.apply(FeedEvent::Lines(vec![
        "evil \x1b]52;c;aGk=\x07 \x1b[2J end".into(),
    ]));
    let shown = screen(&v);
    assert!(
        shown.contains(r"evil \e]52;c;aGk=\x07 \e[2J end"),
        "{shown}"
    );
    assert!(!v.lines()[0].contains('\x1b'));
}

#[test]
fn a_describe_starts_at_the_top_loading_first_and_says_when_cut() {
    let mut v = Viewer::new(2, "describe container x".into(), ViewKind::Describe);
    assert!(screen(&v).contains("loading…"));
    v.apply(FeedEvent::Described(Described {
        text: (0..40).map(|i| format!("key{i}: {i}\n")).collect(),
        truncated: true,
    }));
    let shown = screen(&v);
    assert!(
        shown.contains("key0: 0") && !shown.contains("loading…"),
        "{shown}"
    );
    assert!(!v.follows());
    assert!(shown.contains("cut at 4 MiB"), "{shown}");
    v.apply(FeedEvent::Failed(
        "inspect container x: gone (HTTP 404)".into(),
    ));
    assert!(screen(&v).contains("gone (HTTP 404)"));
}

#[test]
fn esc_closes_p_is_for_pods_and_s_restarts_with_the_next_since() {
    let mut v = logs();
    assert_eq!(handle(&mut v, &key('p')), None);
    assert_eq!(
        v.message.as_deref(),
        Some("p (previous container) is for pods")
    );
    let Some(ViewRequest::Restart(options)) = handle(&mut v, &key('s')) else {
        panic!("s restarts the stream");
    };
    assert_eq!(options.since, crate::sources::inspect::Since::Seconds(60));
    assert_eq!(
        handle(&mut v, &code(KeyCode::Esc)),
        Some(ViewRequest::Close)
    );
    // Esc while typing a search only stops the search.
    handle(&mut v, &key('/'));
    assert_eq!(handle(&mut v, &code(KeyCode::Esc)), None);
    assert_eq!(v.search.typing, None);
}
