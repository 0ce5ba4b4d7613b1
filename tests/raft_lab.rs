//! End to end: `clusterdeck lab --app etcd`, the real binary in a
//! pseudo-terminal on three real etcd members (the `etcd` on the PATH). `K`
//! on the leader: the others elect a new one, the old one is shown down;
//! `R`: it comes back as a follower; `q`: no member process is left. With
//! `--docker`: `n` cuts the leader's container off, a new leader is shown,
//! `N` brings it back as a follower, and `q` leaves nothing labelled; a
//! closed terminal removes the lab too, and one left by a SIGKILLed console
//! is swept by the next start.
//! Read-only: no key kills, restarts or cuts anything. Without etcd: what
//! to install, and a simulation.
//!
//! The Docker test uses the machine's engine; run it under
//! `flock /tmp/clusterdeck-docker.lock` with the other Docker tests.

mod common;

use std::path::Path;
use std::time::Duration;

use common::pty::PtyConsole;

/// Elections take a second; starting three members a few. Generous for a
/// loaded machine, never waited out when things work.
const DEADLINE: Duration = Duration::from_secs(60);

const INSTALL: &str = "apt-get install -y etcd-server";

fn require_etcd() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|d| d.join("etcd").is_file());
    assert!(found, "etcd is not on the PATH; install it: {INSTALL}");
}

fn state_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    (dir, path)
}

/// The members table's rows: the right-hand box of the upper half.
fn table(screen: &str) -> impl Iterator<Item = &str> {
    screen
        .lines()
        .take_while(|l| !l.contains("Timeline"))
        .filter_map(|l| l.split('│').nth(3))
}

/// The members-table row of member `key` (`etcd-2`: the etcd member's
/// name, and the start of its container's, which the table may cut short).
fn row<'a>(screen: &'a str, key: &str) -> Option<&'a str> {
    table(screen).find(|r| r.split_whitespace().any(|w| is_member(w, key)))
}

fn is_member(name: &str, key: &str) -> bool {
    name == key || name.starts_with(&format!("{key}-"))
}

/// The key (`etcd-N`) of the one MASTER row, when exactly one member leads.
fn leader(screen: &str) -> Option<String> {
    let leaders: Vec<String> = table(screen)
        .filter_map(|table| {
            let mut words = table.split_whitespace().skip_while(|w| *w != "MASTER");
            words.next()?;
            words.next().and_then(|w| w.get(..6)).map(str::to_string)
        })
        .collect();
    match &leaders[..] {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Three members, one of them the leader and two following.
fn three_with_one_leader(screen: &str) -> bool {
    leader(screen).is_some()
        && table(screen)
            .filter(|r| r.contains(" COPY ") && r.contains("follower"))
            .count()
            == 2
}

/// The timeline says how long the cluster went without a leader.
fn leaderless_time_shown(screen: &str) -> bool {
    screen.lines().any(|l| {
        // Wide: `leader_changed  a -> b (0.4s without leader, term 3)`;
        // narrow: `leader  b (0.4s leaderless, term 3, was a)`.
        (l.contains("leader_changed") && l.contains("without leader"))
            || (l.contains(" leader ") && l.contains("leaderless"))
    })
}

/// `member` is back: a follower, healthy.
fn follows(screen: &str, member: &str) -> bool {
    row(screen, member).is_some_and(|r| r.contains("COPY") && r.contains("follower"))
        && leader(screen).is_some_and(|l| l != member)
}

/// Processes whose command line names `dir` (the lab's members).
fn processes_in(dir: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(dir) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

/// Focuses the members pane (`Tab` when `focus`), and selects member
/// `key`, from the first member down.
fn select(c: &mut PtyConsole, key: &str, focus: bool) {
    if focus {
        c.send("\t");
    }
    c.send("g");
    c.wait_for("the first member selected", DEADLINE, |s| {
        table(s).nth(1).is_some_and(|r| r.starts_with('›'))
    });
    for _ in 0..5 {
        let now = common::pty::selected(&c.screen());
        if now.as_deref().is_some_and(|n| is_member(n, key)) {
            return;
        }
        c.send("j");
        c.wait_for("the selection to move", DEADLINE, |s| {
            common::pty::selected(s) != now
        });
    }
    panic!("cannot select {key}; screen:\n{}", c.screen());
}

/// `y` on the confirm dialog, whose text must mention `what`.
fn confirm(c: &mut PtyConsole, what: &str) {
    let dialog = c.wait_for_text("y/N", DEADLINE);
    assert!(dialog.contains(what), "{dialog}");
    c.send("y");
}

#[test]
fn the_etcd_lab_kills_the_leader_elects_another_and_restarts_it_as_a_follower() {
    require_etcd();
    let (_state, state) = state_dir();
    let mut c = PtyConsole::spawn(
        &["lab", "--app", "etcd", "--interval", "200ms"],
        160,
        50,
        &[("CLUSTERDECK_STATE_DIR", &state)],
    );
    let screen = c.wait_for("three members, one leader", DEADLINE, three_with_one_leader);
    let lab_dir = screen
        .split_whitespace()
        .skip_while(|w| *w != "in")
        .nth(1)
        .map(|d| d.trim_end_matches(':').to_string())
        .expect("the notice names the lab directory");
    assert_eq!(
        processes_in(&lab_dir).len(),
        3,
        "{:?}",
        processes_in(&lab_dir)
    );
    let old = leader(&screen).unwrap();

    select(&mut c, &old, true);
    c.send("K");
    confirm(&mut c, "Kill the lab process");
    c.wait_for(
        "another leader, the old one down, the time without one",
        DEADLINE,
        |s| {
            leader(s).is_some_and(|l| l != old)
                && row(s, &old).is_some_and(|r| r.contains("DOWN"))
                && leaderless_time_shown(s)
        },
    );
    assert_eq!(processes_in(&lab_dir).len(), 2);

    // The table sorts the new leader first: select the old one again.
    select(&mut c, &old, false);
    c.send("R");
    confirm(&mut c, "Start the lab process");
    c.wait_for("the old leader back as a follower", DEADLINE, |s| {
        follows(s, &old)
    });

    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
    assert!(
        processes_in(&lab_dir).is_empty(),
        "{:?}",
        processes_in(&lab_dir)
    );
    assert!(!Path::new(&lab_dir).exists(), "the lab's files are removed");
}

#[test]
fn a_read_only_etcd_lab_kills_restarts_and_cuts_nothing() {
    require_etcd();
    let (_state, state) = state_dir();
    let mut c = PtyConsole::spawn(
        &["lab", "--app", "etcd", "--read-only", "--interval", "200ms"],
        160,
        50,
        &[("CLUSTERDECK_STATE_DIR", &state)],
    );
    let screen = c.wait_for("the lab, read-only", DEADLINE, |s| {
        three_with_one_leader(s) && s.contains("READ-ONLY")
    });
    let old = leader(&screen).unwrap();
    let keys = screen
        .trim_end()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert!(
        !keys.contains("kill") && !keys.contains("restart") && !keys.contains(" cut"),
        "the key line offers no mutating key: {keys}"
    );
    select(&mut c, &old, true);
    // Unbound in read-only: typed, they do nothing; the help typed after
    // them opens, which a dialog they had opened would have kept closed.
    c.send("KRn");
    c.send(":kill-master\r");
    let screen = c.wait_for("the status line to explain", DEADLINE, |s| {
        s.trim_end()
            .lines()
            .last()
            .is_some_and(|l| l.contains("read-only"))
    });
    assert!(!screen.contains("y/N"), "no confirm dialog:\n{screen}");
    c.send("?");
    let help = c.wait_for_text("Help (", DEADLINE);
    assert!(
        !help.contains("kill") && !help.contains("restart"),
        "{help}"
    );
    c.send("\x1b");
    c.wait_for("help closed", DEADLINE, |s| !s.contains("Help ("));
    assert_eq!(leader(&c.screen()).as_deref(), Some(old.as_str()));
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
    assert!(
        !Path::new(&state).join("audit.jsonl").exists(),
        "nothing was asked of the executor"
    );
}

#[test]
fn without_etcd_the_lab_says_what_to_install_and_shows_a_simulation() {
    let (_state, state) = state_dir();
    // A PATH with nothing on it: the lab cannot find etcd.
    let empty = tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap().to_string();
    let mut c = PtyConsole::spawn(
        &["lab", "--app", "etcd"],
        160,
        40,
        &[("CLUSTERDECK_STATE_DIR", &state), ("PATH", &path)],
    );
    let screen = c.wait_for("the simulated stand-in", DEADLINE, |s| {
        s.contains("SIMULATED") && s.contains(INSTALL)
    });
    assert!(!screen.contains(" LAB "), "no lab keys:\n{screen}");
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
}

/// The Docker lab tests run one at a time: each starts three containers and
/// a console, and run together on two cores a closed terminal's cleanup once
/// took longer than its deadline (a process started meanwhile by the other
/// test can also hold a copy of the terminal open).
fn docker_labs_in_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes a Docker lab's resources when the test ends, however it ends.
struct LabSweep(String);

impl Drop for LabSweep {
    fn drop(&mut self) {
        common::docker::remove_labelled(&format!("clusterdeck.lab={}", self.0));
    }
}

/// Nothing labelled with the lab's id is left: no container, no network.
fn labelled(id: &str) -> (String, String) {
    let filter = format!("label=clusterdeck.lab={id}");
    (
        common::docker::docker(&["ps", "-aq", "--filter", &filter]),
        common::docker::docker(&["network", "ls", "-q", "--filter", &filter]),
    )
}

/// `n` on the selected member: the network (the only one), the default
/// time to live, `y`.
fn cut_off(c: &mut PtyConsole) {
    c.send("n");
    c.wait_for_text("from which network?", DEADLINE);
    c.send("\r");
    c.wait_for_text("Reconnect it after", DEADLINE);
    c.send("\r");
    confirm(c, "/disconnect;");
}

/// `lab --app etcd --docker` in a pseudo-terminal, its id from the
/// notice, and a sweep of its resources if the test fails.
/// No `--image`: the lab builds its own from busybox-static and the host's
/// etcd, as it must on a machine with no registry.
fn docker_lab(state: &str) -> (PtyConsole, LabSweep, String) {
    common::docker::require_engine();
    let c = PtyConsole::spawn(
        &["lab", "--app", "etcd", "--docker", "--interval", "200ms"],
        // Wide enough for the timeline's line naming both containers.
        240,
        50,
        &[("CLUSTERDECK_STATE_DIR", state)],
    );
    let notice = c.wait_for_text("etcd Docker lab", DEADLINE);
    let id = notice
        .split_whitespace()
        .skip_while(|w| *w != "lab")
        .nth(1)
        .expect("the notice names the lab")
        .to_string();
    (c, LabSweep(id.clone()), id)
}

#[test]
fn the_etcd_lab_on_docker_cuts_the_leader_off_and_takes_it_back_as_a_follower() {
    require_etcd();
    let _one_at_a_time = docker_labs_in_turn();
    let (_state, state) = state_dir();
    let (mut c, _sweep, id) = docker_lab(&state);
    let screen = c.wait_for("three members, one leader", DEADLINE, three_with_one_leader);
    let old = leader(&screen).unwrap();
    let container = format!("{old}-clusterdeck-lab-{id}");
    assert!(screen.contains(&container), "{screen}");
    assert_eq!(labelled(&id).0.lines().count(), 3);

    select(&mut c, &old, true);
    cut_off(&mut c);
    c.wait_for("another leader, the time without one", DEADLINE, |s| {
        leader(s).is_some_and(|l| l != old) && leaderless_time_shown(s)
    });
    let networks = common::docker::docker(&[
        "inspect",
        "--format",
        "{{len .NetworkSettings.Networks}}",
        &container,
    ]);
    assert_eq!(networks, "0", "the old leader is cut off");

    select(&mut c, &old, false);
    c.send("N");
    confirm(&mut c, "reconnect container");
    c.wait_for("the old leader back as a follower", DEADLINE, |s| {
        follows(s, &old)
    });

    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
    let (containers, networks) = labelled(&id);
    assert!(containers.is_empty(), "containers left: {containers}");
    assert!(networks.is_empty(), "networks left: {networks}");
}

#[test]
fn a_closed_terminal_removes_the_etcd_docker_lab_and_a_killed_one_goes_at_the_next_start() {
    require_etcd();
    let _one_at_a_time = docker_labs_in_turn();
    let (_state, state) = state_dir();
    let (mut killed, _sweep_killed, killed_id) = docker_lab(&state);
    killed.wait_for("three members, one leader", DEADLINE, three_with_one_leader);
    // SIGKILL: no way out runs, the containers stay...
    killed.signal(libc::SIGKILL);
    killed.wait_exit(DEADLINE);
    assert_eq!(labelled(&killed_id).0.lines().count(), 3);

    // ...until the next lab starts, which sweeps them first.
    let (mut c, _sweep, id) = docker_lab(&state);
    assert_ne!(id, killed_id);
    let (containers, networks) = labelled(&killed_id);
    assert!(containers.is_empty(), "containers left: {containers}");
    assert!(networks.is_empty(), "networks left: {networks}");
    c.wait_for("three members, one leader", DEADLINE, three_with_one_leader);

    // A closed terminal (SIGHUP, then every write fails) still removes it.
    c.close_terminal();
    assert!(c.wait_exit(DEADLINE).success());
    let (containers, networks) = labelled(&id);
    assert!(containers.is_empty(), "containers left: {containers}");
    assert!(networks.is_empty(), "networks left: {networks}");
}
