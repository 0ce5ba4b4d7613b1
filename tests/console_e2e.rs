//! End to end: the real binary in a pseudo-terminal against real Redis and
//! Sentinel. Keys are typed, the screen is read through a terminal emulator.

mod common;

use std::time::Duration;

use common::pty::PtyConsole;

const DEADLINE: Duration = Duration::from_secs(30);

fn state_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    (dir, path)
}

/// The members-table line that shows `address`, if any.
fn row<'a>(screen: &'a str, address: &str) -> Option<&'a str> {
    screen
        .lines()
        .find(|l| l.contains(address) && (l.contains("COPY") || l.contains("MASTER")))
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_move_filter_help_and_quit_on_real_redis() {
    let lab = common::lab(common::config(2, 0)).await;
    let (_state, state) = state_dir();
    let master = lab.address_of("master").unwrap();
    let replica1 = lab.address_of("replica-1").unwrap();
    let replica2 = lab.address_of("replica-2").unwrap();
    let url = lab.redis_url();
    let mut console = PtyConsole::spawn(
        &["--redis", &url, "--interval", "200ms"],
        120,
        36,
        &[("CLUSTERDECK_STATE_DIR", &state)],
    );
    let screen = console.wait_for("three members with the master leading", DEADLINE, |s| {
        row(s, &master).is_some_and(|r| r.contains("MASTER") && r.contains('★'))
            && row(s, &replica1).is_some_and(|r| r.contains("COPY") && r.contains("up"))
            && row(s, &replica2).is_some()
    });
    assert!(
        screen.contains("redis#0"),
        "the header names the source:\n{screen}"
    );

    // Tab to the members pane, move down: the details pane follows the selection.
    console.send("\t");
    console.send("j");
    console.wait_for("details of the second member", DEADLINE, |s| {
        // The details pane is the left box of its line.
        s.lines()
            .filter_map(|l| l.split('│').nth(1))
            .any(|d| d.starts_with("address") && (d.contains(&replica1) || d.contains(&replica2)))
    });

    // Filter on one replica's port: the other members leave the table.
    let port2 = replica2.rsplit(':').next().unwrap();
    console.send("/");
    console.send(port2);
    console.send("\r");
    console.wait_for("only replica-2 in the table", DEADLINE, |s| {
        row(s, &replica2).is_some() && row(s, &replica1).is_none()
    });
    // Esc in the filter line clears it.
    console.send("/");
    console.wait_for_text("/", DEADLINE);
    console.send("\x1b");
    console.wait_for("the filter cleared", DEADLINE, |s| {
        row(s, &replica1).is_some()
    });

    console.send("?");
    let help = console.wait_for_text("Help (", DEADLINE);
    assert!(
        help.contains("filter") && help.contains("quit"),
        "help lists the keys:\n{help}"
    );
    assert!(
        !help.contains("kill"),
        "no lab keys outside the lab:\n{help}"
    );
    console.send("\x1b");
    console.wait_for("help closed", DEADLINE, |s| !s.contains("Help ("));

    console.send("q");
    let status = console.wait_exit(DEADLINE);
    assert!(status.success(), "{status:?}");
    assert!(!console.on_alternate_screen());
    assert!(console.is_cooked());
}

#[test]
fn the_lab_demo_kills_the_master_and_shows_the_failover() {
    let (_state, state) = state_dir();
    let mut console = PtyConsole::spawn(&["lab"], 140, 40, &[("CLUSTERDECK_STATE_DIR", &state)]);
    let screen = console.wait_for(
        "the lab's master and two copies",
        Duration::from_secs(60),
        |s| {
            s.matches(" COPY ").count() >= 2
                && s.contains("MASTER")
                && s.matches(" OK ").count() >= 3
        },
    );
    let lab_dir = screen
        .split_whitespace()
        .skip_while(|w| *w != "in")
        .nth(1)
        .map(|d| d.trim_end_matches(':').to_string())
        .expect("the notice names the lab directory");
    assert!(std::path::Path::new(&lab_dir).exists(), "{lab_dir}");

    console.send(":kill-master\r");
    console.wait_for_text("y/N", DEADLINE);
    console.send("y");
    let screen = console.wait_for(
        "a new leader after Sentinel's failover",
        Duration::from_secs(60),
        |s| s.contains("leader_changed"),
    );
    // The loss came first: with the health and tier changes of a failover
    // it may be below the pane's fold, so the timeline is zoomed to see it.
    if !screen.contains("leader_lost") {
        console.send("\t\t\t\r");
        console.wait_for("the loss in the zoomed timeline", DEADLINE, |s| {
            s.contains("leader_lost")
        });
    }

    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());
    assert!(
        !std::path::Path::new(&lab_dir).exists(),
        "the lab's files are removed on exit"
    );
    let audit = std::fs::read_to_string(std::path::Path::new(&state).join("audit.jsonl")).unwrap();
    let phases: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(phases[0]["phase"], "requested");
    assert_eq!(phases[0]["action"], "lab_kill");
    assert_eq!(phases[1]["phase"], "succeeded");
}

#[test]
fn a_read_only_lab_has_no_mutating_keys() {
    let (_state, state) = state_dir();
    let mut console = PtyConsole::spawn(
        &["lab", "--read-only", "--sentinels", "1"],
        120,
        36,
        &[("CLUSTERDECK_STATE_DIR", &state)],
    );
    console.wait_for("the lab", Duration::from_secs(60), |s| {
        s.contains("MASTER") && s.contains("READ-ONLY")
    });
    console.send("\tK");
    console.send(":kill-master\r");
    let screen = console.wait_for("the status line to explain", DEADLINE, |s| {
        s.trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.contains("read-only"))
    });
    assert!(
        !screen.contains("y/N"),
        "no confirm dialog in read-only:\n{screen}"
    );
    console.send("?");
    let help = console.wait_for_text("Help (", DEADLINE);
    assert!(!help.contains("kill"), "{help}");
    console.send("\x1b");
    console.wait_for("help closed", DEADLINE, |s| !s.contains("Help ("));
    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());
    assert!(
        !std::path::Path::new(&state).join("audit.jsonl").exists(),
        "nothing was asked of the executor"
    );
}

#[test]
fn without_redis_the_lab_says_what_to_install_and_shows_a_simulation() {
    let (_state, state) = state_dir();
    // A PATH with nothing on it: the lab cannot find redis-server.
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap().to_string();
    let mut console = PtyConsole::spawn(
        &["lab"],
        140,
        40,
        &[("CLUSTERDECK_STATE_DIR", &state), ("PATH", &path)],
    );
    let screen = console.wait_for("the simulated stand-in", DEADLINE, |s| {
        s.contains("SIMULATED") && s.contains("apt-get install -y redis-server redis-sentinel")
    });
    assert!(
        !screen.contains(" LAB "),
        "no lab keys on a simulation:\n{screen}"
    );
    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());
}

/// Issue #13: the timeline survives a restart. What one console saw is
/// kept in the state directory (owner-only) and the next console on the
/// same sources shows it as history, under a "before this run" line.
#[tokio::test(flavor = "multi_thread")]
async fn the_timeline_of_an_earlier_run_is_shown_as_history() {
    let lab = common::lab(common::config(1, 0)).await;
    let (_state, state) = state_dir();
    let master = lab.address_of("master").unwrap();
    let url = lab.redis_url();
    let args = ["--redis", url.as_str(), "--interval", "200ms"];
    let envs = [("CLUSTERDECK_STATE_DIR", state.as_str())];
    let mut first = PtyConsole::spawn(&args, 120, 36, &envs);
    first.wait_for("the members added in the timeline", DEADLINE, |s| {
        s.matches("added").count() >= 2
    });
    first.send("q");
    assert!(first.wait_exit(DEADLINE).success());
    let kept: Vec<_> = std::fs::read_dir(&state)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("timeline-"))
        .collect();
    assert_eq!(kept.len(), 1, "one timeline file for these sources");
    use std::os::unix::fs::PermissionsExt;
    let meta = kept[0].metadata().unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(kept[0].path()).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("member_added") && l.contains(&master)),
        "{text}"
    );

    let mut second = PtyConsole::spawn(&args, 120, 36, &envs);
    let screen = second.wait_for("the earlier run under a marker", DEADLINE, |s| {
        s.contains("before this run")
    });
    let below: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.contains("before this run"))
        .collect();
    assert!(below.iter().any(|l| l.contains("added")), "{screen}");
    second.send("q");
    assert!(second.wait_exit(DEADLINE).success());
}

/// Issue #13: the mouse. A click on a member's row selects it (the details
/// follow), the wheel moves the selection, and the mouse is given back on
/// quit; `CLUSTERDECK_NO_MOUSE` leaves it to the terminal.
#[tokio::test(flavor = "multi_thread")]
async fn a_click_selects_a_member_and_the_mouse_is_given_back_on_quit() {
    let lab = common::lab(common::config(2, 0)).await;
    let (_state, state) = state_dir();
    let url = lab.redis_url();
    let replica2 = lab.address_of("replica-2").unwrap();
    let mut console = PtyConsole::spawn(
        &["--redis", &url, "--interval", "200ms"],
        120,
        36,
        &[("CLUSTERDECK_STATE_DIR", &state)],
    );
    let screen = console.wait_for("three members", DEADLINE, |s| row(s, &replica2).is_some());
    assert!(console.mouse_captured(), "the console takes the mouse");
    let (y, line) = screen
        .lines()
        .enumerate()
        .find(|(_, l)| row(l, &replica2).is_some())
        .unwrap();
    let at = line.find(replica2.as_str()).unwrap();
    let x = line[..at].chars().count() as u16;
    console.click(x + 1, y as u16);
    console.wait_for("replica-2 in the details after the click", DEADLINE, |s| {
        common::pty::selected(s).as_deref() == Some(replica2.as_str())
    });
    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());
    assert!(!console.mouse_captured(), "the mouse is given back");

    let mut plain = PtyConsole::spawn(
        &["--redis", &url, "--interval", "200ms"],
        120,
        36,
        &[
            ("CLUSTERDECK_STATE_DIR", &state),
            ("CLUSTERDECK_NO_MOUSE", "1"),
        ],
    );
    plain.wait_for("three members", DEADLINE, |s| row(s, &replica2).is_some());
    assert!(
        !plain.mouse_captured(),
        "CLUSTERDECK_NO_MOUSE leaves the mouse alone"
    );
    plain.send("q");
    assert!(plain.wait_exit(DEADLINE).success());
}
