//! The terminal is restored however the console ends: SIGTERM, SIGHUP, a
//! panic, or `q`. Runs the real binary in a pseudo-terminal.

mod common;

use std::time::Duration;

use common::pty::PtyConsole;

const DEADLINE: Duration = Duration::from_secs(20);

fn start(envs: &[(&str, &str)]) -> (PtyConsole, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_str().unwrap().to_string();
    let mut all: Vec<(&str, &str)> = vec![("CLUSTERDECK_STATE_DIR", &state_dir)];
    all.extend_from_slice(envs);
    let console = PtyConsole::spawn(&["--sim", "12", "--seed", "7"], 100, 30, &all);
    (console, state)
}

fn wait_until_raw(console: &PtyConsole) {
    let end = std::time::Instant::now() + DEADLINE;
    while !console.on_alternate_screen() || console.is_cooked() {
        assert!(
            std::time::Instant::now() < end,
            "the console never entered raw mode and the alternate screen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_restored(console: &PtyConsole) {
    assert!(
        !console.on_alternate_screen(),
        "still on the alternate screen:\n{}",
        console.screen()
    );
    assert!(console.is_cooked(), "raw mode was left on");
}

#[test]
fn sigterm_restores_the_terminal() {
    let (mut console, _state) = start(&[]);
    wait_until_raw(&console);
    console.signal(libc::SIGTERM);
    let status = console.wait_exit(DEADLINE);
    assert!(status.success(), "exit status {status:?}");
    assert_restored(&console);
}

#[test]
fn sighup_restores_the_terminal() {
    let (mut console, _state) = start(&[]);
    wait_until_raw(&console);
    console.signal(libc::SIGHUP);
    console.wait_exit(DEADLINE);
    assert_restored(&console);
}

#[test]
fn a_panic_restores_the_terminal_and_reports() {
    let (mut console, _state) = start(&[("CLUSTERDECK_TEST_PANIC", "1"), ("RUST_BACKTRACE", "0")]);
    let status = console.wait_exit(DEADLINE);
    assert!(!status.success());
    assert_restored(&console);
    let screen = console.screen();
    assert!(
        screen.contains("CLUSTERDECK_TEST_PANIC"),
        "the panic message is shown after restore:\n{screen}"
    );
}

/// The lab's folder, as its notice names it (`... in /tmp/...:`).
fn lab_dir(screen: &str) -> String {
    screen
        .split_whitespace()
        .skip_while(|w| *w != "in")
        .nth(1)
        .map(|d| d.trim_end_matches(':').to_string())
        .expect("the notice names the lab directory")
}

#[test]
fn a_closed_terminal_still_cleans_up_the_lab() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().to_str().unwrap().to_string();
    let mut console =
        PtyConsole::spawn(&["lab"], 140, 40, &[("CLUSTERDECK_STATE_DIR", &state_dir)]);
    let screen = console.wait_for("the lab's master", Duration::from_secs(60), |s| {
        s.contains("MASTER") && s.matches(" OK ").count() >= 3
    });
    let dir = lab_dir(&screen);
    assert!(std::path::Path::new(&dir).exists(), "{dir}");
    // As a closed tmux pane or a dropped SSH session: SIGHUP, then every
    // write to the terminal fails.
    console.close_terminal();
    let status = console.wait_exit(DEADLINE);
    let log = std::fs::read_to_string(state.path().join("clusterdeck.log")).unwrap_or_default();
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(
        !std::path::Path::new(&dir).exists(),
        "the lab's folder is removed with the terminal gone"
    );
}
