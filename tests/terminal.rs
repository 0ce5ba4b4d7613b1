//! The terminal is restored however the console ends: SIGTERM, SIGHUP, the
//! other signals that end a process, a panic, or `q`; a stop (SIGTSTP,
//! Ctrl-Z) gives it back and a continue takes it again. Runs the real binary
//! in a pseudo-terminal.

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
    assert!(!console.mouse_captured(), "the mouse was left captured");
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
fn every_signal_that_ends_a_process_restores_the_terminal() {
    for signal in [libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2, libc::SIGALRM] {
        let (mut console, _state) = start(&[]);
        wait_until_raw(&console);
        console.signal(signal);
        let status = console.wait_exit(DEADLINE);
        assert!(status.success(), "signal {signal}: exit status {status:?}");
        assert_restored(&console);
    }
}

/// The process state letter in `/proc/PID/stat` (`T`: stopped).
fn process_state(pid: i32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name is in parentheses and may hold spaces: the state
    // follows the last `)`.
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.trim_start().chars().next().unwrap()
}

fn poll(what: &str, cond: impl Fn() -> bool) {
    let end = std::time::Instant::now() + DEADLINE;
    while !cond() {
        assert!(std::time::Instant::now() < end, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the console with `stop` and checks it gave the terminal back, then
/// continues it and checks it took the terminal again and redrew it whole.
fn stop_and_continue(console: &mut PtyConsole, stop: impl FnOnce(&mut PtyConsole)) {
    wait_until_raw(console);
    console.wait_for_text("clusterdeck", DEADLINE);
    stop(console);
    let pid = console.pid();
    poll("the process stopped", || process_state(pid) == 'T');
    poll("the terminal cooked and on the main screen", || {
        console.is_cooked() && !console.on_alternate_screen()
    });
    assert!(
        !console.screen().contains("clusterdeck"),
        "the main screen shows the console:
{}",
        console.screen()
    );
    // Another full-screen program, run from the shell meanwhile, leaves its
    // text on the alternate screen (as this emulator keeps it).
    console.emulate_output(b"\x1b[?1049h\x1b[2J\x1b[HSOMEONE ELSE\x1b[?1049l");
    console.signal(libc::SIGCONT);
    poll("raw mode and the alternate screen again", || {
        !console.is_cooked() && console.on_alternate_screen()
    });
    console.wait_for("the console redrawn whole", DEADLINE, |s| {
        s.contains("clusterdeck") && !s.contains("SOMEONE ELSE")
    });
    assert_ne!(process_state(pid), 'T');
}

#[test]
fn sigtstp_gives_the_terminal_back_and_sigcont_takes_it_again() {
    let (mut console, _state) = start(&[]);
    stop_and_continue(&mut console, |c| c.signal(libc::SIGTSTP));
    console.send("q");
    let status = console.wait_exit(DEADLINE);
    assert!(status.success(), "{status:?}:\n{}", console.screen());
    assert_restored(&console);
}

#[test]
fn ctrl_z_suspends_like_the_shell_would() {
    let (mut console, _state) = start(&[]);
    stop_and_continue(&mut console, |c| c.send("\x1a"));
    console.send("q");
    let status = console.wait_exit(DEADLINE);
    assert!(status.success(), "{status:?}:\n{}", console.screen());
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

#[test]
fn a_damaged_ledger_is_said_on_screen_and_kept_aside() {
    let state = tempfile::tempdir().unwrap();
    std::fs::write(state.path().join("faults.json"), "{\"faults\": [").unwrap();
    let state_dir = state.path().to_str().unwrap().to_string();
    let mut console = PtyConsole::spawn(
        &["--sim", "12", "--seed", "7"],
        200,
        30,
        &[("CLUSTERDECK_STATE_DIR", &state_dir)],
    );
    let screen = console.wait_for_text("the fault ledger was damaged", DEADLINE);
    let kept: Vec<_> = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("faults.json.damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(screen.contains(&kept[0]), "{screen}");
    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());
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
