//! `--probe zookeeper=...` of the real binary against real ZooKeeper
//! servers (Debian's `zookeeper` package, see [`common::zookeeper`]): who
//! leads and in which epoch, as the servers' own `srvr` says; a failover by
//! SIGKILL of the leader; an ensemble that lost its quorum; a standalone
//! server. A missing ZooKeeper or Java fails with the install command.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::zookeeper::{self, START, ZooKeeper};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;

/// How long a watch may take to tell of a change (an election takes ~0.5 s).
const SOON: Duration = Duration::from_secs(30);

fn probe(port: u16) -> String {
    format!("zookeeper=127.0.0.1:{port}")
}

/// `clusterdeck snapshot --probe zookeeper=127.0.0.1:PORT -o json`.
async fn snapshot(port: u16) -> Value {
    let probe = probe(port);
    let (code, stdout, stderr) =
        common::run_clusterdeck(&["snapshot", "--probe", &probe, "-o", "json"], &[]).await;
    assert_eq!(code, 0, "snapshot failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

/// The one cluster of a snapshot.
fn only_cluster(doc: &Value) -> &Value {
    let clusters = doc["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{doc:#}");
    &clusters[0]
}

fn member<'a>(cluster: &'a Value, address: &str) -> &'a Value {
    cluster["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["address"] == address)
        .unwrap_or_else(|| panic!("no member {address} in {cluster:#}"))
}

/// The leader `srvr` names leads in the snapshot, in its epoch, the two
/// others follow and carry their lag in transactions.
fn assert_led_by(cluster: &Value, zk: &ZooKeeper, leader: usize, epoch: u64) {
    let address = zk.address(leader);
    assert_eq!(cluster["leader"], address.as_str(), "{cluster:#}");
    let consensus = &cluster["consensus"];
    assert_eq!(consensus["term"], epoch, "{cluster:#}");
    assert_eq!(
        (&consensus["voters"], &consensus["quorum"]),
        (&3.into(), &2.into())
    );
    assert_eq!(
        cluster["members"].as_array().unwrap().len(),
        3,
        "{cluster:#}"
    );
    let head = member(cluster, &address);
    assert_eq!(head["tier"], "master", "{head:#}");
    assert_eq!(head["native_role"], "leader");
    assert_eq!(
        (&head["leader"], &head["term"]),
        (&true.into(), &epoch.into())
    );
    for i in (0..3).filter(|&i| i != leader) {
        let follower = member(cluster, &zk.address(i));
        assert_eq!(follower["tier"], "copy", "{follower:#}");
        assert_eq!(follower["native_role"], "follower");
        assert_eq!(follower["leader"], false);
        assert_eq!(follower["health"], "ok");
        assert_eq!(follower["lag"]["unit"], "transactions", "{follower:#}");
        assert!(follower["lag"]["value"].is_u64(), "{follower:#}");
        assert_eq!(
            follower["raw"]["zookeeper id"],
            zk.servers[i].id.to_string()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_of_any_member_shows_the_leader_srvr_names_and_two_followers() {
    let zk = ZooKeeper::ensemble();
    let leader = zk.wait_ready(START).await;
    let epoch = zookeeper::epoch(zk.port(leader)).await.unwrap();
    assert!(epoch >= 1, "a fresh ensemble is in epoch 1");
    let follower = (0..3).find(|&i| i != leader).unwrap();
    for seed in [follower, leader] {
        let doc = snapshot(zk.port(seed)).await;
        assert_led_by(only_cluster(&doc), &zk, leader, epoch);
        assert_eq!(doc["sources"][0]["status"], "ok", "{doc:#}");
    }
}

/// `clusterdeck watch --events` on a machine offering it nothing else.
fn spawn_watch(port: u16, state: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_clusterdeck"))
        .args(["watch", "--events", "--interval", "200ms", "--probe"])
        .arg(probe(port))
        .env("CLUSTERDECK_STATE_DIR", state)
        .env(
            "DOCKER_HOST",
            format!("unix://{}/no-docker.sock", state.display()),
        )
        .env("KUBECONFIG", state.join("no-kubeconfig"))
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start clusterdeck watch")
}

/// Events of a running watch, and every one seen (for failure messages).
struct Events {
    lines: tokio::io::Lines<BufReader<ChildStdout>>,
    seen: Vec<Value>,
}

impl Events {
    fn of(child: &mut Child) -> Events {
        Events {
            lines: BufReader::new(child.stdout.take().unwrap()).lines(),
            seen: Vec::new(),
        }
    }

    /// The next event of one of `kinds`.
    async fn next(&mut self, kinds: &[&str]) -> Value {
        let deadline = Instant::now() + SOON;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {kinds:?} within {SOON:?}; saw {:#?}", self.seen))
                .expect("read watch output")
                .unwrap_or_else(|| panic!("watch ended before {kinds:?}; saw {:#?}", self.seen));
            let event: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            self.seen.push(event.clone());
            if kinds.iter().any(|k| event["kind"] == *k) {
                return event;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_leader_is_a_leader_change_to_the_one_the_survivors_elect() {
    let mut zk = ZooKeeper::ensemble();
    let old = zk.wait_ready(START).await;
    let seed = (0..3).find(|&i| i != old).unwrap();
    let state = tempfile::tempdir().unwrap();
    let mut watch = spawn_watch(zk.port(seed), state.path());
    let mut events = Events::of(&mut watch);
    for _ in 0..3 {
        events.next(&["member_added"]).await;
    }

    zk.kill(old);
    let change = events.next(&["leader_changed"]).await;
    // The other survivor may take a moment more to sync and serve.
    let new = zk.wait_ready(SOON).await;
    let epoch = zookeeper::epoch(zk.port(new)).await.unwrap();
    let details = &change["details"];
    assert_eq!(details["from"], zk.address(old).as_str(), "{change:#}");
    assert_eq!(details["to"], zk.address(new).as_str(), "{change:#}");
    assert_eq!(change["member"], zk.address(new).as_str());
    assert_eq!(details["term"], epoch, "the new epoch: {change:#}");
    assert!(details["leaderless_ms"].is_u64());

    // The survivors still list the dead one: down, with the reason.
    let doc = snapshot(zk.port(seed)).await;
    let cluster = only_cluster(&doc);
    assert_eq!(cluster["leader"], zk.address(new).as_str(), "{cluster:#}");
    assert_eq!(cluster["consensus"]["term"], epoch);
    let dead = member(cluster, &zk.address(old));
    assert_eq!(dead["health"], "down", "{dead:#}");
    assert!(dead["error"].is_string(), "{dead:#}");
    assert_eq!(dead["leader"], false);
    let head = member(cluster, &zk.address(new));
    assert_eq!(
        (&head["tier"], &head["native_role"]),
        (&"master".into(), &"leader".into())
    );
    let other = (0..3).find(|&i| i != old && i != new).unwrap();
    let follower = member(cluster, &zk.address(other));
    assert_eq!(follower["native_role"], "follower", "{follower:#}");
    assert_eq!(follower["lag"]["unit"], "transactions");

    lose_quorum_then_restart(&mut zk, &mut events, [old, new, other]).await;
    stop(watch).await;
}

/// With the new leader killed too the last server serves nobody; one
/// server restarted gives back a quorum and a leader.
async fn lose_quorum_then_restart(
    zk: &mut ZooKeeper,
    events: &mut Events,
    [old, new, last]: [usize; 3],
) {
    zk.kill(new);
    let lost = events.next(&["leader_lost"]).await;
    assert_eq!(
        lost["details"]["previous"],
        zk.address(new).as_str(),
        "{lost:#}"
    );
    let doc = snapshot(zk.port(last)).await;
    let cluster = only_cluster(&doc);
    assert_eq!(cluster["leader"], Value::Null, "{cluster:#}");
    assert_eq!(
        cluster["consensus"]["in_progress"], "election",
        "{cluster:#}"
    );
    let lonely = member(cluster, &zk.address(last));
    assert_eq!(lonely["native_role"], "not serving", "{lonely:#}");
    assert_eq!(
        lonely["health"], "degraded",
        "up but serving nobody: {lonely:#}"
    );
    assert_eq!(lonely["tier"], "unknown");

    zk.start(old);
    let back = events.next(&["leader_changed", "leader_restored"]).await;
    let leader = zk.wait_leader(SOON).await;
    assert_eq!(
        back["details"]["to"],
        zk.address(leader).as_str(),
        "{back:#}"
    );
    assert!(leader == old || leader == last, "a running server leads");
}

/// SIGTERM ends a watch cleanly.
async fn stop(mut watch: Child) {
    let pid = watch.id().unwrap() as i32;
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(10), watch.wait())
        .await
        .expect("watch stops on SIGTERM")
        .unwrap();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standalone_server_leads_alone() {
    let zk = ZooKeeper::standalone();
    zk.wait_ready(START).await;
    let epoch = zookeeper::epoch(zk.port(0)).await.unwrap();
    let doc = snapshot(zk.port(0)).await;
    let cluster = only_cluster(&doc);
    assert_eq!(cluster["leader"], zk.address(0).as_str(), "{cluster:#}");
    assert_eq!(cluster["members"].as_array().unwrap().len(), 1);
    let alone = member(cluster, &zk.address(0));
    assert_eq!(alone["native_role"], "standalone", "{alone:#}");
    assert_eq!(
        (&alone["tier"], &alone["leader"]),
        (&"master".into(), &true.into())
    );
    assert_eq!(alone["health"], "ok");
    assert_eq!(alone["term"], epoch);
}
