//! End to end on the real Docker Engine: the real binary in a pseudo-terminal.
//! `n` cuts a container off and `N` brings it back; a fault with a short time
//! to live heals itself; a console killed with SIGKILL leaves its fault in the
//! ledger, the next start offers to heal it, and `clusterdeck heal` does.
//! A read-only console sends no mutating request to the engine, counted on a
//! proxy in front of the engine's socket.

mod common;

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::docker::{DockerTest, SwarmGuard, wait_until};
use common::pty::PtyConsole;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

const DEADLINE: Duration = Duration::from_secs(40);

fn redis_container(test: &mut DockerTest, network: &str) -> String {
    test.run(
        "redis",
        &["--network", network, "--network-alias", "cache"],
        &["redis-server", "--protected-mode", "no", "--save", ""],
    )
}

/// Starts the console on Docker, filtered to one container.
fn console(state: &str, container: &str, extra: &[&str]) -> PtyConsole {
    let mut args = vec!["--docker", "--interval", "200ms"];
    args.extend(extra);
    let mut console = PtyConsole::spawn(&args, 150, 60, &[("CLUSTERDECK_STATE_DIR", state)]);
    filter_to(&mut console, container);
    console
}

/// Filters the members to `container` and waits for its row.
fn filter_to(console: &mut PtyConsole, container: &str) {
    // Keys typed before the first frame would arrive before raw mode.
    console.wait_for_text("Clusters", DEADLINE);
    console.send("/");
    console.send(container);
    console.send("\r");
    console.wait_for("the container's details", DEADLINE, |s| {
        s.lines()
            .any(|l| l.contains("│name") && l.contains(container))
    });
}

/// `n`, the network (default), the time to live, `y`.
fn disconnect(console: &mut PtyConsole, ttl: Option<&str>) {
    // Right after a reconnect the engine can report the container once more
    // without its network (an event's inspect racing the reconnect); the
    // console then rightly refuses, and an operator would press n again.
    for _ in 0..3 {
        console.send("n");
        let screen = console.wait_for("the network question or a refusal", DEADLINE, |s| {
            s.contains("from which network?") || s.contains("is not attached to any network")
        });
        if screen.contains("from which network?") {
            break;
        }
        // Any key dismisses the refusal ("g": the first member, where it is).
        console.send("g");
        console.wait_for("the refusal dismissed", DEADLINE, |s| {
            !s.contains("is not attached to any network")
        });
        console.wait_for("the network back on screen", DEADLINE, |s| {
            s.lines()
                .any(|l| l.contains("│networks") && !l.trim_end_matches('│').trim().ends_with('-'))
        });
    }
    console.wait_for_text("from which network?", DEADLINE);
    console.send("\r");
    console.wait_for_text("Reconnect it after", DEADLINE);
    if let Some(ttl) = ttl {
        console.send(ttl);
    }
    console.send("\r");
    let confirm = console.wait_for_text("y/N", DEADLINE);
    assert!(
        confirm.contains("/disconnect;"),
        "the dialog names the call:\n{confirm}"
    );
    console.send("y");
}

fn is_cut_off(screen: &str) -> bool {
    screen.contains("disconnected from")
}

/// No fault shown, and the Docker source shows the member on `network` again.
fn is_back(screen: &str, network: &str) -> bool {
    !is_cut_off(screen)
        && screen
            .lines()
            .any(|l| l.contains("│networks") && l.contains(network))
}

#[test]
fn n_cuts_off_n_reconnects_ttl_heals_and_a_crash_is_healed_later() {
    let mut test = DockerTest::new("e2e");
    let (network, _) = test.network("bridge");
    let container = redis_container(&mut test, &network);
    let ip = test.ip(&container, &network);
    let aliases = test.aliases(&container, &network);
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().to_str().unwrap().to_string();

    // n, confirm: shown disconnected; N: back as it was.
    let mut c = console(&state, &container, &[]);
    disconnect(&mut c, None);
    c.wait_for("the member shown disconnected", DEADLINE, is_cut_off);
    assert!(test.networks_of(&container).is_empty());
    c.send("N");
    let confirm = c.wait_for_text("y/N", DEADLINE);
    assert!(confirm.contains("reconnect container"), "{confirm}");
    c.send("y");
    c.wait_for("the member back", DEADLINE, |s| {
        is_back(s, &network) && s.contains("fault_healed")
    });
    assert_eq!(test.ip(&container, &network), ip);
    assert_eq!(test.aliases(&container, &network), aliases);

    // A fault with a short time to live heals itself.
    disconnect(&mut c, Some("2s"));
    c.wait_for("the fault injected", DEADLINE, is_cut_off);
    wait_until("the fault to heal itself", DEADLINE, || {
        test.networks_of(&container) == [network.clone()]
    });
    c.wait_for("the member back after its time to live", DEADLINE, |s| {
        is_back(s, &network)
    });
    assert_eq!(test.ip(&container, &network), ip);

    // Killed during a fault: the ledger keeps it.
    disconnect(&mut c, None);
    c.wait_for("the fault injected", DEADLINE, is_cut_off);
    c.signal(libc::SIGKILL);
    c.wait_exit(DEADLINE);
    let ledger = std::fs::read_to_string(state_dir.path().join("faults.json")).unwrap();
    assert!(
        ledger.contains("docker_reconnect") && ledger.contains(&container),
        "{ledger}"
    );
    assert!(
        test.networks_of(&container).is_empty(),
        "still cut off after the crash"
    );

    // The next start says so and offers to heal; declined, it stays.
    let mut c = PtyConsole::spawn(&["--docker"], 150, 40, &[("CLUSTERDECK_STATE_DIR", &state)]);
    let offer = c.wait_for_text("y/N", DEADLINE);
    assert!(
        offer.contains("left behind") && offer.contains(&container),
        "{offer}"
    );
    c.send("n");
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
    assert!(
        test.networks_of(&container).is_empty(),
        "declined: not healed"
    );

    // `clusterdeck heal` from a script.
    let out = Command::new(env!("CARGO_BIN_EXE_clusterdeck"))
        .arg("heal")
        .env("CLUSTERDECK_STATE_DIR", &state)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("healed") && stdout.contains(&container),
        "{stdout}"
    );
    assert_eq!(test.networks_of(&container), std::slice::from_ref(&network));
    assert_eq!(test.ip(&container, &network), ip, "same address after heal");
    assert_eq!(
        test.aliases(&container, &network),
        aliases,
        "same aliases after heal"
    );
    let ledger = std::fs::read_to_string(state_dir.path().join("faults.json")).unwrap();
    assert!(!ledger.contains("docker_reconnect"), "{ledger}");
}

#[test]
fn quitting_heals_what_this_run_injected() {
    let mut test = DockerTest::new("quit");
    let (network, _) = test.network("bridge");
    let container = redis_container(&mut test, &network);
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().to_str().unwrap().to_string();
    let mut c = console(&state, &container, &[]);
    disconnect(&mut c, None);
    c.wait_for("the fault injected", DEADLINE, is_cut_off);
    // Ctrl-C during cleanup must not cut it short: send it right after q.
    c.send("q");
    c.signal(libc::SIGINT);
    assert!(c.wait_exit(DEADLINE).success());
    assert_eq!(test.networks_of(&container), [network], "healed on quit");
}

/// Bytes clients sent through the proxy, one buffer per connection.
type Seen = Arc<Mutex<Vec<Vec<u8>>>>;

/// A proxy in front of the engine's socket that keeps what clients send.
async fn proxy(listener: UnixListener, seen: Seen) {
    while let Ok((client, _)) = listener.accept().await {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            let Ok(engine) = UnixStream::connect("/var/run/docker.sock").await else {
                return;
            };
            let index = {
                let mut all = seen.lock().unwrap();
                all.push(Vec::new());
                all.len() - 1
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut engine_read, mut engine_write) = engine.into_split();
            let upstream = async {
                let mut buf = [0u8; 16384];
                while let Ok(n) = client_read.read(&mut buf).await {
                    if n == 0 || engine_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    seen.lock().unwrap()[index].extend_from_slice(&buf[..n]);
                }
                let _ = engine_write.shutdown().await;
            };
            let downstream = async {
                let _ = tokio::io::copy(&mut engine_read, &mut client_write).await;
            };
            tokio::join!(upstream, downstream);
        });
    }
}

/// Request methods found at the start of request lines.
fn methods(seen: &Seen) -> Vec<String> {
    let all = seen.lock().unwrap();
    let mut found = Vec::new();
    for stream in all.iter() {
        let text = String::from_utf8_lossy(stream);
        for (i, _) in text.match_indices(" /") {
            let line_start = text[..i].rfind('\n').map_or(0, |p| p + 1);
            let word = &text[line_start..i];
            if ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"].contains(&word) {
                found.push(word.to_string());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_sends_no_mutating_request_to_the_engine() {
    let mut test = DockerTest::new("ro");
    let (network, _) = test.network("bridge");
    let container = redis_container(&mut test, &network);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let seen: Seen = Arc::default();
    tokio::spawn(proxy(
        UnixListener::bind(&socket).unwrap(),
        Arc::clone(&seen),
    ));
    let host = format!("--docker=unix://{}", socket.display());
    let state = dir.path().to_str().unwrap().to_string();
    let container_name = container.clone();
    let screen = tokio::task::spawn_blocking(move || {
        let mut c = PtyConsole::spawn(
            &[&host, "--read-only", "--interval", "200ms"],
            150,
            40,
            &[("CLUSTERDECK_STATE_DIR", &state)],
        );
        filter_to(&mut c, &container_name);
        for key in ["n", "s", "x", "c", "C", "N", "H", "y", "\r", "y"] {
            c.send(key);
        }
        c.send("?");
        let help = c.wait_for_text("Help (", DEADLINE);
        // Esc and a key sent together read as Alt-key: wait in between.
        c.send("\x1b");
        c.wait_for("help closed", DEADLINE, |s| !s.contains("Help ("));
        c.send("q");
        assert!(c.wait_exit(DEADLINE).success());
        help
    })
    .await
    .unwrap();
    assert!(
        !screen.contains("cut off network"),
        "no mutating key in help:\n{screen}"
    );
    let methods = methods(&seen);
    assert!(
        methods.iter().filter(|m| *m == "GET").count() >= 3,
        "the console looked: {methods:?}"
    );
    let mutating: Vec<&String> = methods
        .iter()
        .filter(|m| *m != "GET" && *m != "HEAD")
        .collect();
    assert!(
        mutating.is_empty(),
        "mutating requests reached the engine: {mutating:?}"
    );
    assert_eq!(test.networks_of(&container), [network]);
}

/// Removes a Docker lab's resources when the test ends, however it ends.
struct LabSweep(Option<String>);

impl Drop for LabSweep {
    fn drop(&mut self) {
        if let Some(id) = &self.0 {
            common::docker::remove_labelled(&format!("clusterdeck.lab={id}"));
        }
    }
}

#[test]
fn the_lab_on_docker_runs_redis_in_containers_and_removes_them_on_exit() {
    let state_dir = tempfile::tempdir().unwrap();
    let (mut c, _sweep, id) = docker_lab(state_dir.path());
    let master = format!("clusterdeck-lab-{id}-master");
    let screen = c.wait_for(
        "a master and two copies, joined with their containers",
        DEADLINE,
        |s| {
            s.lines()
                .any(|l| l.contains("│name") && l.contains(&master))
                && s.lines()
                    .any(|l| l.contains("MASTER") && l.contains("clusterdeck-lab-"))
                && s.lines()
                    .filter(|l| l.contains(" COPY ") && l.contains("clusterdeck-lab-"))
                    .count()
                    == 2
        },
    );
    let filter = format!("label=clusterdeck.lab={id}");
    let running = common::docker::docker(&["ps", "-q", "--filter", &filter]);
    assert_eq!(running.lines().count(), 3, "{screen}");
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
    assert_lab_gone(&id);
}

#[test]
fn a_closed_terminal_heals_the_fault_and_removes_the_docker_lab() {
    let state_dir = tempfile::tempdir().unwrap();
    let (mut c, _sweep, id) = docker_lab(state_dir.path());
    let master = format!("clusterdeck-lab-{id}-master");
    filter_to(&mut c, &master);
    disconnect(&mut c, None);
    c.wait_for("the fault injected", DEADLINE, is_cut_off);
    let ledger = clusterdeck::actions::FaultLedger::in_dir(state_dir.path().to_path_buf());
    assert_eq!(ledger.records().unwrap().len(), 1);
    // As a closed tmux pane or a dropped SSH session: SIGHUP, then every
    // write to the terminal fails; cleanup must not depend on writing.
    c.close_terminal();
    assert!(c.wait_exit(DEADLINE).success(), "not aborted");
    assert!(ledger.records().unwrap().is_empty(), "the fault was healed");
    assert_lab_gone(&id);
}

/// `lab --docker` in a pseudo-terminal with its state in `state`, its id
/// from the notice, and a sweep of its containers if the test fails.
fn docker_lab(state: &std::path::Path) -> (PtyConsole, LabSweep, String) {
    let image = common::docker::test_image();
    let c = PtyConsole::spawn(
        &["lab", "--docker", "--image", image, "--interval", "200ms"],
        160,
        50,
        &[("CLUSTERDECK_STATE_DIR", state.to_str().unwrap())],
    );
    let id = lab_id(&c.wait_for_text("Docker lab", DEADLINE));
    (c, LabSweep(Some(id.clone())), id)
}

/// Nothing labelled with the lab's id is left: no container, no network.
fn assert_lab_gone(id: &str) {
    let filter = format!("label=clusterdeck.lab={id}");
    assert!(
        common::docker::docker(&["ps", "-aq", "--filter", &filter]).is_empty(),
        "containers removed"
    );
    assert!(
        common::docker::docker(&["network", "ls", "-q", "--filter", &filter]).is_empty(),
        "network removed"
    );
}

/// The lab's id from its notice (`Docker lab <id> on network ...`).
fn lab_id(notice: &str) -> String {
    notice
        .split_whitespace()
        .skip_while(|w| *w != "lab")
        .nth(1)
        .expect("the notice names the lab")
        .to_string()
}

/// Filters the members to `service`'s tasks and waits until the members
/// pane's title says `<service> <running>/<desired>`.
fn filter_to_service(c: &mut PtyConsole, service: &str, tasks: u32) -> String {
    c.send("/");
    // Backspaces clear an earlier filter.
    c.send(&"\x7f".repeat(80));
    c.send(service);
    c.send("\r");
    let title = format!("{service} {tasks}/{tasks}");
    c.wait_for(&format!("the title {title:?}"), DEADLINE, |s| {
        s.lines().any(|l| l.starts_with('┌') && l.contains(&title))
    })
}

/// `lab --swarm` with one copy, polled every 200 ms, in a pseudo-terminal
/// at 160x50, its panes on screen; whatever it labelled is removed when this
/// is dropped, after the console.
struct SwarmLab {
    c: PtyConsole,
    id: String,
    master: String,
    copies: String,
    _sweep: LabSweep,
    _state: tempfile::TempDir,
}

impl SwarmLab {
    fn start() -> SwarmLab {
        let image = common::docker::test_image();
        let state = tempfile::tempdir().unwrap();
        let mut sweep = LabSweep(None);
        let args = ["lab", "--swarm", "--image", image, "--replicas", "1"];
        let c = PtyConsole::spawn(
            &[&args[..], &["--interval", "200ms"]].concat(),
            160,
            50,
            &[("CLUSTERDECK_STATE_DIR", state.path().to_str().unwrap())],
        );
        let id = lab_id(&c.wait_for_text("Docker lab", DEADLINE));
        sweep.0 = Some(id.clone());
        c.wait_for_text("Clusters", DEADLINE);
        SwarmLab {
            c,
            id: id.clone(),
            master: format!("clusterdeck-lab-{id}-master"),
            copies: format!("clusterdeck-lab-{id}-copies"),
            _sweep: sweep,
            _state: state,
        }
    }
}

#[test]
fn the_lab_on_swarm_scales_its_copies_with_s_and_removes_everything_on_exit() {
    let _swarm = SwarmGuard::enter();
    // Bound by name (not `..`) so the sweep lives to the end of the test;
    // bound first so it is dropped after the console.
    let SwarmLab {
        _state,
        _sweep,
        mut c,
        id,
        master,
        copies,
    } = SwarmLab::start();
    filter_to_service(&mut c, &master, 1);
    filter_to_service(&mut c, &copies, 1);
    // The copy replicates from the master service, by its name on the overlay.
    let service_filter = format!("label=com.docker.swarm.service.name={copies}");
    wait_until("the copy's link to the master up", DEADLINE, || {
        let copy = common::docker::docker(&["ps", "-q", "--filter", &service_filter]);
        copy.lines().next().is_some_and(|id| {
            common::docker::try_docker(&["exec", id, "redis-cli", "info", "replication"])
                .is_ok_and(|info| info.contains("master_link_status:up"))
        })
    });
    c.wait_for("a copy's details", DEADLINE, |s| {
        s.lines()
            .any(|l| l.contains("│name") && l.contains(&format!("{copies}.1")))
    });
    c.send("s");
    let question = c.wait_for_text("Replicas of Swarm service", DEADLINE);
    assert!(question.contains(&copies), "{question}");
    c.send("3");
    c.send("\r");
    let confirm = c.wait_for_text("y/N", DEADLINE);
    assert!(
        confirm.contains(&copies) && confirm.contains("/update?version="),
        "the dialog names the service and the call:\n{confirm}"
    );
    c.send("y");
    let screen = c.wait_for("three copies' tasks on screen", DEADLINE, |s| {
        s.lines()
            .any(|l| l.contains(&format!("{copies} 3/3")) && l.contains("· 3 "))
    });
    assert_eq!(
        screen
            .lines()
            .filter(|l| {
                // A members row: the tier badge, then the task's name.
                let words: Vec<&str> = l.split_whitespace().collect();
                words
                    .windows(2)
                    .any(|w| w[0] == "COPY" && w[1].starts_with(&format!("{copies}.")))
            })
            .count(),
        3,
        "{screen}"
    );
    let filter = format!("label=clusterdeck.lab={id}");
    let listed = |what: &[&str]| {
        let mut args = what.to_vec();
        args.extend(["-q", "--filter", &filter]);
        common::docker::docker(&args)
    };
    assert_eq!(listed(&["service", "ls"]).lines().count(), 2);
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
    assert_eq!(listed(&["service", "ls"]), "", "services removed");
    assert_eq!(listed(&["ps", "-a"]), "", "task containers removed");
    assert_eq!(listed(&["network", "ls"]), "", "network removed");
}

/// Issue #13: the overlay is not routed to the host, so the Docker source
/// reads each task's Redis inside its container through the engine: the
/// master service's task leads (no NO LEADER), a copy is a slave with its
/// link up.
#[test]
fn the_lab_on_swarm_shows_its_master_leading_and_a_copy_linked() {
    let _swarm = SwarmGuard::enter();
    let SwarmLab {
        _state,
        _sweep,
        mut c,
        master,
        copies,
        ..
    } = SwarmLab::start();
    filter_to_service(&mut c, &master, 1);
    let task = format!("{master}.1");
    // The members row: the leader's star, the tier, the task, its role.
    let row = format!("★ MASTER {task} ");
    c.wait_for("the master's task leading", DEADLINE, |s| {
        let leads = s
            .lines()
            .any(|l| l.contains(&row) && l.contains(" master "));
        leads && !s.contains("NO LEADER")
    });
    filter_to_service(&mut c, &copies, 1);
    let copy = format!("{copies}.1");
    c.wait_for("a copy with role slave and its link up", DEADLINE, |s| {
        s.lines().any(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.windows(2).any(|p| p[0] == "COPY" && p[1] == copy)
                && w.contains(&"slave")
                && w.contains(&"up")
        })
    });
    c.send("q");
    assert!(c.wait_exit(DEADLINE).success());
}

#[tokio::test(flavor = "multi_thread")]
async fn n_on_a_network_it_cannot_leave_says_so_before_acting() {
    let mut test = DockerTest::new("host");
    // The host's network: the engine does not disconnect a container from it.
    let container = test.run("host", &["--network", "host"], &["sleep", "600"]);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let seen: Seen = Arc::default();
    tokio::spawn(proxy(
        UnixListener::bind(&socket).unwrap(),
        Arc::clone(&seen),
    ));
    let host = format!("--docker=unix://{}", socket.display());
    let state = dir.path().to_str().unwrap().to_string();
    let name = container.clone();
    let screen = tokio::task::spawn_blocking(move || {
        let mut c = PtyConsole::spawn(
            &[&host, "--interval", "200ms"],
            // Wide enough for the whole reason beside the filter.
            220,
            40,
            &[("CLUSTERDECK_STATE_DIR", &state)],
        );
        filter_to(&mut c, &name);
        c.send("n");
        let screen = c.wait_for_text("cannot be cut off from host", DEADLINE);
        // Nothing was asked, so there is nothing to confirm.
        c.send("y");
        c.send("q");
        assert!(c.wait_exit(DEADLINE).success());
        screen
    })
    .await
    .unwrap();
    assert!(
        screen.contains("does not disconnect a container from the host"),
        "{screen}"
    );
    let methods = methods(&seen);
    assert!(methods.iter().any(|m| m == "GET"), "the console looked");
    let mutating: Vec<&String> = methods
        .iter()
        .filter(|m| *m != "GET" && *m != "HEAD")
        .collect();
    assert!(
        mutating.is_empty(),
        "mutating requests reached the engine: {mutating:?}"
    );
    assert_eq!(test.networks_of(&container), ["host"]);
}
