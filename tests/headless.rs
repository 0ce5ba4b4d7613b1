//! `snapshot` and `watch` of the real binary against real Redis and Sentinel:
//! the JSON contract, exit codes, and secrets kept out of the output.

mod common;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_clusterdeck");

/// Runs the binary where no Docker Engine answers and no kubeconfig exists,
/// so that only the sources named on the command line start.
async fn run(args: &[&str]) -> (i32, String, String) {
    common::run_clusterdeck(args, &[]).await
}

async fn run_with_docker(args: &[&str], docker_host: &str) -> (i32, String, String) {
    common::run_clusterdeck(args, &[("DOCKER_HOST", docker_host.as_ref())]).await
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("snapshot is not JSON ({e}):\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_json_shows_one_master_leading_two_linked_copies() {
    let lab = common::lab(common::config(2, 0)).await;
    let url = lab.redis_url();
    let (code, stdout, stderr) = run(&["snapshot", "--redis", &url, "--interval", "200ms"]).await;
    assert_eq!(code, 0, "stderr: {stderr}");
    let doc = json(&stdout);
    let clusters = doc["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{doc:#}");
    let cluster = &clusters[0];
    let master_address = lab.address_of("master").unwrap();
    assert_eq!(cluster["leader"], master_address.as_str());
    let members = cluster["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    let masters: Vec<_> = members.iter().filter(|m| m["tier"] == "master").collect();
    assert_eq!(masters.len(), 1);
    assert_eq!(masters[0]["leader"], true);
    assert_eq!(masters[0]["native_role"], "master");
    assert_eq!(masters[0]["address"], master_address.as_str());
    let copies: Vec<_> = members.iter().filter(|m| m["tier"] == "copy").collect();
    assert_eq!(copies.len(), 2);
    for copy in copies {
        assert_eq!(copy["leader"], false);
        assert_eq!(copy["link"], "up");
        assert_eq!(copy["health"], "ok");
        assert!(copy["lag_bytes"].is_u64(), "lag computed: {copy:#}");
        assert!(copy.get("placement").is_some() && copy.get("lag_seconds").is_some());
    }
    let sources = doc["sources"].as_array().unwrap();
    assert_eq!(sources[0]["kind"], "redis");
    assert_eq!(sources[0]["status"], "ok");
    assert!(sources[0]["error"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_yaml_and_table_show_the_same_members() {
    let lab = common::lab(common::config(1, 0)).await;
    let url = lab.redis_url();
    let (code, yaml, _) = run(&[
        "snapshot",
        "-o",
        "yaml",
        "--redis",
        &url,
        "--interval",
        "200ms",
    ])
    .await;
    assert_eq!(code, 0);
    let doc: Value = serde_yaml::from_str(&yaml).expect("yaml");
    assert_eq!(doc["clusters"][0]["members"].as_array().unwrap().len(), 2);
    let (code, table, _) = run(&[
        "snapshot",
        "-o",
        "table",
        "--redis",
        &url,
        "--interval",
        "200ms",
    ])
    .await;
    assert_eq!(code, 0);
    assert!(table.starts_with("CLUSTER"), "{table}");
    assert!(
        table.contains(&lab.address_of("replica-1").unwrap()),
        "{table}"
    );
    assert!(
        table.contains("master") && table.contains("copy"),
        "{table}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_through_sentinel_shows_its_view_and_the_sentinels() {
    let lab = common::lab(common::config(2, 3)).await;
    let sentinel = lab.sentinel_urls()[0].clone();
    let (code, stdout, stderr) =
        run(&["snapshot", "--sentinel", &sentinel, "--interval", "200ms"]).await;
    assert_eq!(code, 0, "stderr: {stderr}");
    let doc = json(&stdout);
    let cluster = &doc["clusters"][0];
    assert_eq!(cluster["id"], "sentinel/mymaster");
    assert_eq!(cluster["sentinel"]["master_name"], "mymaster");
    assert_eq!(
        cluster["sentinel"]["master_address"],
        lab.address_of("master").unwrap().as_str()
    );
    let members = cluster["members"].as_array().unwrap();
    let sentinels = members
        .iter()
        .filter(|m| m["native_role"] == "sentinel")
        .count();
    assert_eq!(sentinels, 3, "{cluster:#}");
    assert_eq!(members.iter().filter(|m| m["tier"] == "copy").count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_an_auth_error_exit_1_and_never_printed() {
    let secret = "right-horse-battery";
    let wrong = "wrong-staple-9431";
    let config = clusterdeck::lab::LabConfig {
        password: Some(secret.to_string()),
        ..common::config(1, 0)
    };
    let lab = common::lab(config).await;
    let address = lab.address_of("master").unwrap();
    let url = format!("redis://:{wrong}@{address}");
    let (code, stdout, stderr) = run(&["snapshot", "--redis", &url, "--timeout", "3s"]).await;
    assert_eq!(code, 1, "a failed source exits 1; stderr: {stderr}");
    let doc = json(&stdout);
    let source = &doc["sources"][0];
    assert_eq!(source["status"], "error");
    let error = source["error"].as_str().unwrap().to_lowercase();
    assert!(
        error.contains("auth") || error.contains("wrongpass") || error.contains("password"),
        "{error}"
    );
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains(wrong) && !text.contains(secret),
            "a password leaked:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_source_is_reported_with_exit_1() {
    // A port nobody listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}");
    let (code, stdout, _) = run(&["snapshot", "--redis", &url, "--timeout", "2s"]).await;
    assert_eq!(code, 1);
    let doc = json(&stdout);
    assert_eq!(doc["sources"][0]["status"], "error");
    let member = &doc["clusters"][0]["members"][0];
    assert_eq!(member["health"], "down", "{doc:#}");
    assert!(member["error"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_usage_exits_2_with_a_message_naming_the_flag() {
    let (code, _, stderr) = run(&["snapshot", "--redis", "http://user:pa55word@h:1"]).await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--redis") && stderr.contains("http"),
        "{stderr}"
    );
    assert!(!stderr.contains("pa55word"), "{stderr}");
    let (code, _, stderr) = run(&["snapshot"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("nothing to watch"), "{stderr}");
    let (code, _, stderr) = run(&[
        "--config",
        "/nonexistent/deck.yaml",
        "snapshot",
        "--sim",
        "3",
    ])
    .await;
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--config /nonexistent/deck.yaml"),
        "{stderr}"
    );
    let (code, _, stderr) = run(&["--interval", "often", "snapshot", "--sim", "3"]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("often"), "{stderr}");
    let (code, _, _) = run(&["--no-such-flag"]).await;
    assert_eq!(code, 2);
    let (code, stdout, _) = run(&["--version"]).await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("clusterdeck "));
}

/// Reads `watch` output lines until one satisfies `done`.
async fn read_until(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    seen: &mut Vec<Value>,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no {what} within 30 s; saw: {seen:#?}"))
            .expect("read watch output")
            .unwrap_or_else(|| panic!("watch ended before {what}; saw: {seen:#?}"));
        let event: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        seen.push(event.clone());
        if done(&event) {
            return event;
        }
    }
}

fn spawn_watch(args: &[&str], state: &std::path::Path) -> Child {
    Command::new(BIN)
        .arg("watch")
        .args(args)
        .env("CLUSTERDECK_STATE_DIR", state)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start clusterdeck watch")
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_events_reports_a_manual_promotion_as_leader_changed() {
    let lab = common::lab(common::config(2, 0)).await;
    let state = tempfile::tempdir().unwrap();
    let url = lab.redis_url();
    let mut child = spawn_watch(
        &["--events", "--redis", &url, "--interval", "200ms"],
        state.path(),
    );
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let added = read_until(&mut lines, &mut seen, "member_added", |e| {
            e["kind"] == "member_added"
        })
        .await;
        assert!(
            added["at"].is_string() && added["cluster"].is_string() && added["member"].is_string()
        );
        assert!(added["details"]["tier"].is_string());
    }

    let new_master = lab.address_of("replica-1").unwrap();
    let (host, port) = new_master.split_once(':').unwrap();
    lab.command("replica-1", &["REPLICAOF", "NO", "ONE"])
        .await
        .unwrap();
    lab.command("replica-2", &["REPLICAOF", host, port])
        .await
        .unwrap();

    let change = read_until(&mut lines, &mut seen, "leader_changed", |e| {
        e["kind"] == "leader_changed"
    })
    .await;
    assert_eq!(
        change["details"]["from"],
        lab.address_of("master").unwrap().as_str()
    );
    assert_eq!(change["details"]["to"], new_master.as_str());
    assert!(change["details"]["leaderless_ms"].is_u64());
    assert_eq!(change["member"], new_master.as_str());

    // SIGTERM ends watch cleanly.
    let pid = child.id().unwrap() as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("watch stops on SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_source_named_a_reachable_docker_engine_is_used() {
    common::docker::require_engine();
    let (code, stdout, stderr) = run_with_docker(
        &["snapshot", "--timeout", "10s"],
        "unix:///var/run/docker.sock",
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let doc = json(&stdout);
    assert_eq!(doc["sources"][0]["kind"], "docker", "{doc:#}");
    assert_eq!(doc["sources"][0]["status"], "ok", "{doc:#}");
}

/// Bytes waiting in a pipe, and the pipe's capacity.
fn pipe_fill(fd: std::os::fd::RawFd) -> (i32, i32) {
    let mut queued: libc::c_int = 0;
    // SAFETY: FIONREAD and F_GETPIPE_SZ on a pipe fd we own, into our int.
    let capacity = unsafe {
        libc::ioctl(fd, libc::FIONREAD, &mut queued);
        libc::fcntl(fd, libc::F_GETPIPE_SZ)
    };
    (queued, capacity)
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_stops_on_sigterm_while_nobody_reads_its_output() {
    use std::os::fd::AsRawFd;
    let state = tempfile::tempdir().unwrap();
    let mut child = spawn_watch(&["--events", "--sim", "2000"], state.path());
    let stdout = child.stdout.take().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (queued, capacity) = pipe_fill(stdout.as_raw_fd());
        if queued >= capacity {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pipe never filled: {queued} of {capacity} bytes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.id().unwrap() as i32;
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("watch still ran 5 s after SIGTERM with its output blocked")
        .unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    drop(stdout);
}
