//! `d` describe, `l` logs and `e` shell end to end on the real Docker
//! Engine: the real binary in a pseudo-terminal, a real container of the
//! test image (busybox and redis-server). Conditions are polled with
//! deadlines; every container is labelled and removed by its guard.

mod common;

use std::time::Duration;

use common::docker::{DockerTest, docker};
use common::pty::PtyConsole;

const DEADLINE: Duration = Duration::from_secs(40);

/// A container that prints a unique line and one with an escape sequence,
/// then copies whatever is appended to /tmp/feed to its output.
fn talker(test: &mut DockerTest, marker: &str) -> String {
    let script = format!(
        "echo hello-{marker}; printf 'colour \\033[31mred\\033[0m {marker}\\n'; \
         touch /tmp/feed; exec tail -f /tmp/feed"
    );
    test.run("talker", &[], &["sh", "-c", &script])
}

/// The console on Docker, filtered down to `container`'s row.
fn console(container: &str, extra: &[&str]) -> (PtyConsole, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let mut args = vec!["--docker", "--interval", "300ms"];
    args.extend(extra);
    let dir = state.path().to_str().unwrap().to_string();
    let mut c = PtyConsole::spawn(&args, 150, 45, &[("CLUSTERDECK_STATE_DIR", &dir)]);
    c.wait_for_text("Clusters", DEADLINE);
    c.send("/");
    c.send(container);
    c.send("\r");
    c.wait_for("the container's details", DEADLINE, |s| {
        s.lines()
            .any(|l| l.contains("│name") && l.contains(container))
    });
    // The members pane: the selected member is the container.
    c.send("\t");
    (c, state)
}

fn marker() -> String {
    format!("{}-{:06x}", std::process::id(), fastrand::u32(..0xff_ffff))
}

#[test]
fn d_describes_the_container_and_search_moves_to_a_match() {
    let mut test = DockerTest::new("describe");
    let container = talker(&mut test, &marker());
    let id = docker(&["inspect", "--format", "{{.Id}}", &container]);
    let (mut c, _state) = console(&container, &[]);
    c.send("d");
    let screen = c.wait_for("the container inspect as YAML", DEADLINE, |s| {
        s.contains(&format!("describe container {container}")) && s.contains(&id)
    });
    assert!(screen.contains("Image:"), "{screen}");
    // A search for a line below the first page moves the view to it.
    let top = c.screen();
    assert!(top.contains("lines 1-"), "{top}");
    c.send("/");
    c.send("workingdir: /data");
    c.send("\r");
    let found = c.wait_for("the match line in view", DEADLINE, |s| {
        s.contains("WorkingDir: /data") && s.contains(": 1 line(s)")
    });
    assert!(!found.contains("lines 1-"), "the view moved down:\n{found}");
    c.send("\x1b");
    c.wait_for("the view closed", DEADLINE, |s| {
        !s.contains("describe container")
    });
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
}

#[test]
fn l_shows_the_logs_escaped_and_follows_new_lines() {
    let mut test = DockerTest::new("logs");
    let marker = marker();
    let container = talker(&mut test, &marker);
    let (mut c, _state) = console(&container, &[]);
    c.send("l");
    let screen = c.wait_for("the container's first lines", DEADLINE, |s| {
        s.contains(&format!("hello-{marker}"))
    });
    assert!(
        screen.contains(&format!(r"colour \e[31mred\e[0m {marker}")),
        "the escape sequence is shown escaped:\n{screen}"
    );
    assert!(screen.contains("following"), "{screen}");
    // A line printed after the view opened appears.
    let later = format!("later-{marker}");
    docker(&[
        "exec",
        &container,
        "sh",
        "-c",
        &format!("echo {later} >> /tmp/feed"),
    ]);
    c.wait_for("the followed line", DEADLINE, |s| s.contains(&later));
    c.send("\x1b");
    c.wait_for("the view closed", DEADLINE, |s| {
        !s.contains("logs container")
    });
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
}

#[test]
fn e_opens_a_shell_in_the_container_and_the_console_comes_back() {
    let mut test = DockerTest::new("shell");
    let container = talker(&mut test, &marker());
    let (mut c, _state) = console(&container, &[]);
    c.send("e");
    let confirm = c.wait_for_text("y/N", DEADLINE);
    assert!(
        confirm.contains("docker exec -it") && confirm.contains(" sh"),
        "the dialog names the command:\n{confirm}"
    );
    c.send("y");
    c.wait_for("the console's screen given back", DEADLINE, |_| {
        !c.on_alternate_screen()
    });
    let marker = marker();
    // Typed into the container's shell: its output (the sum is worked out
    // by the shell, so the typed echo alone cannot match) is on the
    // terminal, and the file proves it ran in the container.
    c.send(&format!(
        "echo shell-$((6*7))-{marker} > /tmp/x; cat /tmp/x\r"
    ));
    c.wait_for("the shell's output", DEADLINE, |s| {
        s.contains(&format!("shell-42-{marker}"))
    });
    c.send("exit\r");
    c.wait_for("the console back", DEADLINE, |s| {
        s.contains("Clusters") && s.contains("ended (exit code 0)")
    });
    assert!(c.on_alternate_screen());
    let inside = docker(&["exec", &container, "cat", "/tmp/x"]);
    assert_eq!(inside, format!("shell-42-{marker}"));
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
}

#[test]
fn read_only_has_no_e_and_says_why() {
    let mut test = DockerTest::new("ro-shell");
    let container = talker(&mut test, &marker());
    let (mut c, _state) = console(&container, &["--read-only"]);
    c.send("?");
    let help = c.wait_for_text("In describe and logs", DEADLINE);
    assert!(
        help.contains("describe:") && !help.contains("shell in it"),
        "{help}"
    );
    c.send("\x1b");
    // Esc and the next key apart, or they read as Alt-e.
    c.wait_for("help closed", DEADLINE, |s| {
        !s.contains("In describe and logs")
    });
    c.send("e");
    c.wait_for_text("is off: the console is read-only", DEADLINE);
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
}
