//! End to end: a planned switchover (`F`, `:switchover NAME`) from the real
//! binary in a pseudo-terminal, on real etcd and Redis on loopback. The
//! screen is read through a terminal emulator and the applications are
//! asked themselves whether it happened (etcdctl, `ROLE`, Sentinel) and
//! what reached them (etcd's gRPC metrics, Redis `INFO commandstats`).
//!
//! The time from `y` to the new leader on screen is printed as
//! `figure: ...` (see scripts/switchover-figures.sh), never asserted.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use clusterdeck::lab::RedisLab;
use common::etcd::EtcdCluster;
use common::pty::PtyConsole;
use redis::Value;

/// Starting clusters and elections take seconds on a loaded machine;
/// never waited out when things work.
const DEADLINE: Duration = Duration::from_secs(60);

fn state_dir() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    (dir, path)
}

fn console(args: &[&str], state: &str) -> PtyConsole {
    let mut all = args.to_vec();
    all.extend(["--interval", "200ms"]);
    PtyConsole::spawn(&all, 160, 44, &[("CLUSTERDECK_STATE_DIR", state)])
}

/// The members table's rows: the right-hand box of the upper half.
fn table(screen: &str) -> impl Iterator<Item = &str> {
    screen
        .lines()
        .take_while(|l| !l.contains("Timeline"))
        .filter_map(|l| l.split('│').nth(3))
}

/// The members-table row of the member called `name`.
fn row<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    table(screen).find(|r| r.split_whitespace().any(|w| w == name))
}

/// The row of `name` says it is the master (the leader's tier).
fn leads(screen: &str, name: &str) -> bool {
    row(screen, name).is_some_and(|r| r.contains("MASTER"))
}

fn follows(screen: &str, name: &str) -> bool {
    row(screen, name).is_some_and(|r| r.contains("COPY"))
}

/// The status line: the screen's last line with text.
fn status_line(screen: &str) -> &str {
    screen.trim_end().lines().last().unwrap_or_default()
}

/// The confirm dialog's text as one line: the popup's rows from its title
/// to its prompt, inside its borders, joined.
fn confirm_text(screen: &str) -> String {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let Some((top, left)) = lines.iter().enumerate().find_map(|(i, l)| {
        let text: String = l.iter().collect();
        let at = text.find("┌ Confirm")?;
        Some((i, text[..at].chars().count()))
    }) else {
        return String::new();
    };
    let mut words = Vec::new();
    for line in &lines[top + 1..] {
        let inside: String = line
            .iter()
            .skip(left + 1)
            .take_while(|c| **c != '│')
            .collect();
        if inside.contains("Go ahead?") {
            break;
        }
        words.extend(inside.split_whitespace().map(str::to_string));
    }
    words.join(" ")
}

/// Waits for the confirm dialog and gives its text.
fn dialog(console: &PtyConsole) -> String {
    confirm_text(&console.wait_for_text("Go ahead? y/N", DEADLINE))
}

/// The audit log's entries (phase, action, describe, message).
fn audit(state: &str) -> Vec<serde_json::Value> {
    let path = std::path::Path::new(state).join("audit.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn check_audit(state: &str, describe: &str) {
    let entries = audit(state);
    let phases: Vec<&str> = entries
        .iter()
        .map(|e| e["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["requested", "succeeded"], "{entries:#?}");
    assert!(entries.iter().all(|e| e["action"] == "switchover"));
    assert!(
        entries[0]["describe"].as_str().unwrap().contains(describe),
        "{entries:#?}"
    );
}

/// How often etcd member `i` started serving `MoveLeader` (its gRPC
/// counter, which the JSON gateway's calls go through too).
fn move_leader_calls(etcd: &EtcdCluster, i: usize) -> u64 {
    let mut stream = TcpStream::connect(etcd.address(i)).expect("etcd's client port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let request = format!("GET /metrics HTTP/1.0\r\nHost: {}\r\n\r\n", etcd.address(i));
    stream.write_all(request.as_bytes()).unwrap();
    let mut text = String::new();
    stream
        .take(16 << 20)
        .read_to_string(&mut text)
        .expect("etcd's metrics");
    let counters: Vec<u64> = text
        .lines()
        .filter(|l| {
            l.starts_with("grpc_server_started_total{") && l.contains("grpc_method=\"MoveLeader\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .collect();
    assert!(
        !counters.is_empty(),
        "etcd {} lists no MoveLeader counter in /metrics",
        etcd.address(i)
    );
    counters.iter().sum()
}

#[test]
fn f_on_an_etcd_follower_makes_it_the_leader() {
    let etcd = EtcdCluster::start(3);
    let leader = etcd.wait_leader(DEADLINE);
    let follower = (leader + 1) % 3;
    let (old, name) = (
        etcd.members[leader].name.clone(),
        etcd.members[follower].name.clone(),
    );
    let id = etcd
        .member_id(follower)
        .expect("the follower's id")
        .to_string();
    let (_state, state) = state_dir();
    let probe = format!("etcd={}", etcd.client_url(0));
    let mut console = console(&["--probe", &probe], &state);
    console.wait_for(
        "three etcd members, the leader as etcd says",
        DEADLINE,
        |s| leads(s, &old) && follows(s, &name),
    );
    console.select_member(&name);
    console.send("F");
    let text = dialog(&console);
    let call = format!(
        r#"POST /v3/maintenance/transfer-leadership {{"targetID":"{id}"}} to {}"#,
        etcd.address(leader)
    );
    assert!(text.contains(&call), "the dialog shows {call}:\n{text}");
    let pressed = Instant::now();
    console.send("y");
    let screen = console.wait_for(&format!("{name} leading on screen"), DEADLINE, |s| {
        leads(s, &name) && follows(s, &old)
    });
    eprintln!(
        "figure: etcd switchover: y to {name} leading on screen in {} ms",
        pressed.elapsed().as_millis()
    );
    assert!(
        screen.contains("switchover"),
        "the outcome is in the timeline:\n{screen}"
    );
    assert_eq!(etcd.wait_leader(DEADLINE), follower, "etcd agrees");
    assert_eq!(
        move_leader_calls(&etcd, leader),
        1,
        "one call, to the leader"
    );
    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());
    check_audit(&state, "/v3/maintenance/transfer-leadership");
}

/// A Redis lab's reply as text (`INFO`, `ROLE`'s first word).
fn text(value: &Value) -> String {
    match value {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::VerbatimString { text, .. } | Value::SimpleString(text) => text.clone(),
        Value::Array(items) => items.first().map(text).unwrap_or_default(),
        other => format!("{other:?}"),
    }
}

async fn info(lab: &RedisLab, name: &str, section: &str) -> String {
    let reply = lab.command(name, &["INFO", section]).await;
    text(&reply.unwrap_or_else(|e| panic!("INFO {section} on {name}: {e}")))
}

/// Waits until `cond` holds for what `ask` reads, or panics with the last.
async fn until<F, Fut>(what: &str, ask: F, cond: impl Fn(&str) -> bool) -> String
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        let seen = ask().await;
        if cond(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last:\n{seen}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Three data members on screen, the lab's master leading.
fn group_on_screen(lab: &RedisLab) -> impl Fn(&str) -> bool {
    let names: Vec<String> = ["master", "replica-1", "replica-2"]
        .iter()
        .map(|n| lab.address_of(n).unwrap())
        .collect();
    move |s: &str| leads(s, &names[0]) && follows(s, &names[1]) && follows(s, &names[2])
}

#[tokio::test(flavor = "multi_thread")]
async fn switchover_through_sentinel_shows_the_master_sentinel_promotes() {
    let lab = common::lab(common::config(2, 3)).await;
    let old = lab.address_of("master").unwrap();
    let replica = lab.address_of("replica-1").unwrap();
    let (_state, state) = state_dir();
    let sentinel = lab.sentinel_urls()[0].clone();
    let mut console = console(&["--sentinel", &sentinel], &state);
    console.wait_for("the group and its three sentinels", DEADLINE, |s| {
        group_on_screen(&lab)(s) && table(s).filter(|r| r.contains("sentinel")).count() == 3
    });
    console.send(&format!(":switchover {replica}\r"));
    let text = dialog(&console);
    assert!(
        text.contains("SENTINEL FAILOVER mymaster to the Sentinel at")
            && text.contains("Sentinel chooses the replica"),
        "{text}"
    );
    let pressed = Instant::now();
    console.send("y");
    let replicas = [
        lab.address_of("replica-1").unwrap(),
        lab.address_of("replica-2").unwrap(),
    ];
    let screen = console.wait_for("a replica promoted by Sentinel", DEADLINE, |s| {
        replicas.iter().any(|r| leads(s, r))
    });
    eprintln!(
        "figure: Sentinel switchover: y to the new master on screen in {} ms",
        pressed.elapsed().as_millis()
    );
    // Sentinel turns the old master into a replica once it next reads its
    // INFO, every 10 s outside a failover.
    console.wait_for("the old master following", DEADLINE, |s| follows(s, &old));
    eprintln!(
        "figure: Sentinel switchover: y to the old master shown as a replica in {} ms",
        pressed.elapsed().as_millis()
    );
    let promoted = replicas.iter().find(|a| leads(&screen, a)).unwrap();
    let port = promoted.rsplit(':').next().unwrap().to_string();
    let sentinel_says = || async {
        let reply = lab
            .command(
                "sentinel-2",
                &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"],
            )
            .await;
        format!("{reply:?}")
    };
    until(
        "every sentinel to name the new master",
        sentinel_says,
        |s| s.contains(&port),
    )
    .await;
    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());
    check_audit(&state, "SENTINEL FAILOVER mymaster");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_sentinel_f_promotes_the_replica_and_the_others_follow_it() {
    let lab = common::lab(common::config(2, 0)).await;
    let old = lab.address_of("master").unwrap();
    let candidate = lab.address_of("replica-1").unwrap();
    let port = candidate.rsplit(':').next().unwrap().to_string();
    let (_state, state) = state_dir();
    let mut console = console(&["--redis", &lab.redis_url()], &state);
    console.wait_for("the group", DEADLINE, group_on_screen(&lab));
    console.select_member(&candidate);
    console.send("F");
    let text = dialog(&console);
    let (host, port_of) = candidate.rsplit_once(':').unwrap();
    let call = format!("REPLICAOF NO ONE on {candidate}, then REPLICAOF {host} {port_of} on {old}");
    assert!(text.contains(&call), "{text}");
    console.send("y");
    console.wait_for("the replica leading", DEADLINE, |s| {
        leads(s, &candidate) && follows(s, &old)
    });
    for other in ["master", "replica-2"] {
        let replication = || info(&lab, other, "replication");
        until(
            &format!("{other} to replicate {candidate}"),
            replication,
            |i| i.contains(&format!("master_port:{port}")) && i.contains("master_link_status:up"),
        )
        .await;
    }
    let stats = info(&lab, "replica-1", "commandstats").await;
    assert!(stats.contains("cmdstat_replicaof:calls=1"), "{stats}");
    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());
    check_audit(&state, "REPLICAOF NO ONE");
}

#[tokio::test(flavor = "multi_thread")]
async fn replicaof_is_refused_when_sentinel_watches_unseen() {
    // The console is given the master only: it sees no Sentinel, but the
    // master's CLIENT LIST shows Sentinel's connections.
    let lab = common::lab(common::config(2, 3)).await;
    let candidate = lab.address_of("replica-1").unwrap();
    let (_state, state) = state_dir();
    let mut console = console(&["--redis", &lab.redis_url()], &state);
    console.wait_for("the group", DEADLINE, group_on_screen(&lab));
    console.select_member(&candidate);
    console.send("F");
    assert!(dialog(&console).contains("REPLICAOF NO ONE"));
    console.send("y");
    console.wait_for("the refusal", DEADLINE, |s| {
        s.contains("its connections show in CLIENT LIST")
    });
    let role = lab.command("replica-1", &["ROLE"]).await.unwrap();
    assert_eq!(text(&role), "slave", "nothing was changed");
    let stats = info(&lab, "replica-1", "commandstats").await;
    assert!(!stats.contains("cmdstat_replicaof"), "{stats}");
    let phases: Vec<String> = audit(&state)
        .iter()
        .map(|e| e["phase"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(phases, ["requested", "failed"]);
    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());
}

/// One field of what a Sentinel says of `mymaster`.
async fn sentinel_field(lab: &RedisLab, name: &str, field: &str) -> String {
    let reply = lab
        .command(name, &["SENTINEL", "MASTER", "mymaster"])
        .await
        .unwrap_or_else(|e| panic!("SENTINEL MASTER on {name}: {e}"));
    let Value::Array(items) = &reply else {
        panic!("SENTINEL MASTER on {name}: {reply:?}");
    };
    let words: Vec<String> = items.iter().map(text).collect();
    words
        .chunks(2)
        .find(|pair| pair[0] == field)
        .map(|pair| pair[1].clone())
        .unwrap_or_else(|| panic!("{name} gives no {field}: {words:?}"))
}

/// Commands that change who leads, as `INFO commandstats` names them.
const MUTATING: &[&str] = &["cmdstat_replicaof", "cmdstat_slaveof", "cmdstat_failover"];

/// No command that changes who leads reached the Redis group (its
/// commandstats), its Sentinels (their epoch) or etcd (its counter).
async fn nothing_reached(lab: &RedisLab, etcd: &EtcdCluster) {
    for name in ["master", "replica-1", "replica-2"] {
        let stats = info(lab, name, "commandstats").await;
        assert!(
            stats.contains("cmdstat_"),
            "{name} counts commands:\n{stats}"
        );
        for command in MUTATING {
            assert!(
                !stats.contains(command),
                "{command} reached {name}:\n{stats}"
            );
        }
    }
    // Sentinel 7.0 keeps no commandstats: a failover it started would have
    // raised its configuration epoch.
    for name in ["sentinel-1", "sentinel-2", "sentinel-3"] {
        let epoch = sentinel_field(lab, name, "config-epoch").await;
        assert_eq!(epoch, "0", "{name} saw a failover");
    }
    for i in 0..3 {
        assert_eq!(
            move_leader_calls(etcd, i),
            0,
            "MoveLeader reached member {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_has_no_switchover_and_sends_nothing() {
    let lab = common::lab(common::config(2, 3)).await;
    let etcd = EtcdCluster::start(3);
    let leader = etcd.wait_leader(DEADLINE);
    let replica = lab.address_of("replica-1").unwrap();
    let (_state, state) = state_dir();
    let probe = format!("etcd={}", etcd.client_url(0));
    let sentinel = lab.sentinel_urls()[0].clone();
    let mut console = console(
        &["--read-only", "--sentinel", &sentinel, "--probe", &probe],
        &state,
    );
    console.wait_for("the Redis group", DEADLINE, group_on_screen(&lab));
    console.send("\tF");
    let screen = console.wait_for("F refused", DEADLINE, |s| {
        status_line(s).contains("read-only")
    });
    assert!(
        status_line(&screen).contains("F (switchover: make it the leader) is off"),
        "{screen}"
    );
    console.send(&format!(":switchover {replica}\r"));
    console.wait_for(":switchover refused", DEADLINE, |s| {
        status_line(s).contains(":switchover is not available: the console is read-only")
    });
    console.send("?");
    let help = console.wait_for_text("Help (", DEADLINE);
    assert!(!help.contains("switchover"), "{help}");
    console.send("q");
    console.send("q");
    assert!(console.wait_exit(DEADLINE).success());

    nothing_reached(&lab, &etcd).await;
    assert_eq!(etcd.leader(), Some(leader));
    assert!(
        audit(&state).is_empty(),
        "nothing was asked of the executor"
    );
}
