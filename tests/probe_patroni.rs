//! The Patroni probe against a real cluster (Patroni 3.0 and PostgreSQL 15
//! from Debian, etcd as the DCS), through the real binary: what the
//! console shows is compared with what Patroni's own `/cluster` says.
//! Patroni's leader key in etcd is read as the recorded leader
//! (`--registry etcd=URL --registry-key /service/SCOPE/leader`).

mod common;

use std::time::Duration;

use common::patroni::PatroniCluster;
use common::watch::Watch;
use serde_json::Value;

/// Patroni elects a new leader once the dead one's key expires (ttl 10 s).
const FAILOVER_WITHIN: Duration = Duration::from_secs(60);

async fn snapshot(args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["snapshot", "-o", "json", "--interval", "300ms"];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = common::run_clusterdeck(&all, &[]).await;
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("snapshot is not JSON ({e}):\n{stdout}\nstderr: {stderr}"));
    (code, doc, stderr)
}

/// The probe of member `i` and the DCS leader key as the record.
fn args(patroni: &PatroniCluster, i: usize) -> Vec<String> {
    vec![
        "--probe".into(),
        format!("patroni={}", patroni.rest_url(i)),
        "--registry".into(),
        format!("etcd={}", patroni.dcs_url()),
        "--registry-key".into(),
        patroni.leader_key(),
    ]
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn patroni_cluster(doc: &Value) -> &Value {
    let found: Vec<&Value> = doc["clusters"]
        .as_array()
        .unwrap_or_else(|| panic!("no clusters: {doc:#}"))
        .iter()
        .filter(|c| c["kind"] == "patroni")
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one Patroni cluster, the record joined to it: {doc:#}"
    );
    found[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_leader_replicas_lag_and_the_recorded_leader_as_patroni_says() {
    let patroni = PatroniCluster::start("steady");
    let leader = patroni.wait_leader(Duration::from_secs(30), |_| true);
    let (code, doc, stderr) = snapshot(&strs(&args(&patroni, 0))).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = patroni_cluster(&doc);
    let members = cluster["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{cluster:#}");
    assert_eq!(
        cluster["leader"],
        patroni.pg_address(leader).as_str(),
        "{cluster:#}"
    );
    for (i, node) in patroni.nodes.iter().enumerate() {
        let member = members
            .iter()
            .find(|m| m["address"] == patroni.pg_address(i).as_str())
            .unwrap_or_else(|| panic!("{} under its PostgreSQL address: {cluster:#}", node.name));
        assert_eq!(member["name"], node.name.as_str());
        assert_eq!(
            member["raw"]["asked at"],
            format!("127.0.0.1:{}", node.rest).as_str()
        );
        assert!(member["term"].is_u64(), "the timeline: {member:#}");
        if i == leader {
            assert_eq!(
                (member["tier"].as_str(), member["native_role"].as_str()),
                (Some("master"), Some("leader")),
                "{member:#}"
            );
        } else {
            assert_eq!(member["tier"], "copy", "{member:#}");
            assert_eq!(member["lag"]["unit"], "bytes", "{member:#}");
            assert!(member["lag"]["value"].is_u64(), "{member:#}");
        }
    }
    let recorded = &cluster["recorded_leader"];
    assert_eq!(
        recorded["address"],
        patroni.nodes[leader].name.as_str(),
        "{cluster:#}"
    );
    assert_eq!(cluster["recorded_leader_agrees"], true, "{cluster:#}");
    assert_eq!(recorded["holder"], cluster["leader"], "{cluster:#}");
    let ttl = recorded["ttl_ms"].as_u64().expect("the leader key's lease");
    assert!(ttl <= 10_000, "Patroni's ttl is 10 s: {recorded:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_leader_is_replaced_and_the_leaderless_time_is_told() {
    let mut patroni = PatroniCluster::start("failover");
    let old = patroni.wait_leader(Duration::from_secs(30), |_| true);
    let seed = (old + 1) % 3;
    let mut args = args(&patroni, seed);
    args.extend(["--events", "--interval", "500ms"].map(String::from));
    let mut watch = Watch::spawn(&strs(&args));
    for _ in 0..3 {
        watch
            .until("member_added", Duration::from_secs(20), |e| {
                e["kind"] == "member_added"
            })
            .await;
    }
    patroni.kill(old);
    let old_address = patroni.pg_address(old);
    let change = watch
        .until("leader_changed", FAILOVER_WITHIN, |e| {
            e["kind"] == "leader_changed" && e["details"]["from"] == old_address.as_str()
        })
        .await;
    let new = patroni.wait_leader(FAILOVER_WITHIN, |i| i != old);
    assert_eq!(
        change["details"]["to"],
        patroni.pg_address(new).as_str(),
        "{change:#}"
    );
    let leaderless = change["details"]["leaderless_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("the time without a leader: {change:#}"));
    assert!(leaderless > 0, "{change:#}");
    // Down at once (its API refuses), long before Patroni's key expires.
    let down = watch.seen.iter().position(|e| {
        e["kind"] == "health_changed"
            && e["member"] == old_address.as_str()
            && e["details"]["to"] == "down"
    });
    let changed = watch
        .seen
        .iter()
        .position(|e| e["kind"] == "leader_changed");
    assert!(
        down.is_some() && down < changed,
        "the dead leader shown down first: {:#?}",
        watch.seen
    );
    // The dead member keeps its identity until Patroni forgets it: never
    // shown under its API's address.
    let rest = format!("127.0.0.1:{}", patroni.nodes[old].rest);
    assert!(
        watch.seen.iter().all(|e| e["member"] != rest.as_str()),
        "{:#?}",
        watch.seen
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_written_leader_key_is_shown_against_the_acting_leader() {
    let patroni = PatroniCluster::start("record");
    let leader = patroni.wait_leader(Duration::from_secs(30), |_| true);
    let mut args = args(&patroni, leader);
    args.extend(["--events", "--interval", "300ms"].map(String::from));
    let mut watch = Watch::spawn(&strs(&args));
    for _ in 0..3 {
        watch
            .until("member_added", Duration::from_secs(20), |e| {
                e["kind"] == "member_added"
            })
            .await;
    }
    // A name no member has: every member follows the ghost, nobody leads,
    // and the key (written without a lease) stays until deleted.
    patroni.put(&patroni.leader_key(), "ghost");
    let mismatch = watch
        .until("registry_mismatch", Duration::from_secs(20), |e| {
            e["kind"] == "registry_mismatch" && e["details"]["recorded"] == "ghost"
        })
        .await;
    assert!(mismatch["cluster"].is_string(), "{mismatch:#}");
    patroni.delete(&patroni.leader_key());
    let agreed = watch
        .until("registry_agrees", FAILOVER_WITHIN, |e| {
            e["kind"] == "registry_agrees"
        })
        .await;
    let now = patroni.wait_leader(FAILOVER_WITHIN, |_| true);
    assert_eq!(
        agreed["details"]["observed"],
        patroni.pg_address(now).as_str(),
        "{agreed:#}"
    );
    // Patroni takes a key naming another member as a handover (when that
    // member could take over: after the ghost, the replicas must follow
    // the new leader first): the recorded and the acting leader agree again.
    patroni.wait_ready(FAILOVER_WITHIN);
    let now = patroni.wait_leader(FAILOVER_WITHIN, |_| true);
    let other = (now + 1) % 3;
    patroni.put(&patroni.leader_key(), &patroni.nodes[other].name);
    watch
        .until("the leader the key names", FAILOVER_WITHIN, |e| {
            e["kind"] == "leader_changed"
                && e["details"]["to"] == patroni.pg_address(other).as_str()
        })
        .await;
}

/// `F` on a replica in the pseudo-terminal console: the confirm dialog
/// shows Patroni's own call, `y` sends it, Patroni switches over and the
/// screen follows. The time from `y` to the new leader on screen is
/// printed (`figure:`), never asserted.
#[tokio::test(flavor = "multi_thread")]
async fn f_on_a_replica_switches_over_through_patroni_and_the_screen_follows() {
    let patroni = PatroniCluster::start("switch");
    let leader = patroni.wait_leader(Duration::from_secs(30), |_| true);
    let candidate = (leader + 1) % 3;
    let name = patroni.nodes[candidate].name.clone();
    let state = tempfile::tempdir().unwrap();
    let probe = format!("patroni={}", patroni.rest_url(leader));
    let mut console = common::pty::PtyConsole::spawn(
        &["--probe", &probe, "--interval", "300ms"],
        160,
        44,
        &[("CLUSTERDECK_STATE_DIR", state.path().to_str().unwrap())],
    );
    console.wait_for("three Patroni members", FAILOVER_WITHIN, |s| {
        patroni.nodes.iter().all(|n| s.contains(&n.name))
    });
    console.select_member(&name);
    console.send("F");
    let dialog = console.wait_for_text("Go ahead? y/N", FAILOVER_WITHIN);
    let flat: String = dialog.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("/switchover"), "the call is shown:\n{dialog}");
    let sent = std::time::Instant::now();
    console.send("y");
    let row_of = |screen: &str, name: &str| {
        screen
            .lines()
            .take_while(|l| !l.contains("Timeline"))
            .find(|l| {
                l.split_whitespace().any(|w| w == name)
                    && (l.contains("MASTER") || l.contains("COPY"))
            })
            .map(str::to_string)
    };
    console.wait_for("the candidate leading on screen", FAILOVER_WITHIN, |s| {
        row_of(s, &name).is_some_and(|r| r.contains("MASTER") && r.contains('★'))
    });
    println!(
        "figure: patroni switchover, y to the new leader on screen: {} ms",
        sent.elapsed().as_millis()
    );
    assert_eq!(
        patroni.wait_leader(FAILOVER_WITHIN, |i| i == candidate),
        candidate,
        "Patroni agrees"
    );
    let audit = std::fs::read_to_string(state.path().join("audit.jsonl")).unwrap_or_default();
    assert!(
        audit.contains("switchover") && audit.contains(&name),
        "{audit}"
    );
    console.send("q");
    assert!(console.wait_exit(FAILOVER_WITHIN).success());
}

/// `--read-only`: `F` is not a key (pressing it says why) and nothing
/// reaches Patroni: a switchover request, even one Patroni refuses later,
/// is written to the DCS first (`/service/SCOPE/failover`), and there is
/// none; the leader is unchanged and no action is audited.
#[tokio::test(flavor = "multi_thread")]
async fn read_only_has_no_switchover_and_patroni_gets_no_request() {
    let patroni = PatroniCluster::start("readonly");
    let leader = patroni.wait_leader(Duration::from_secs(30), |_| true);
    let candidate = (leader + 1) % 3;
    let state = tempfile::tempdir().unwrap();
    let probe = format!("patroni={}", patroni.rest_url(leader));
    let mut console = common::pty::PtyConsole::spawn(
        &["--probe", &probe, "--interval", "300ms", "--read-only"],
        160,
        44,
        &[("CLUSTERDECK_STATE_DIR", state.path().to_str().unwrap())],
    );
    console.wait_for("three Patroni members", FAILOVER_WITHIN, |s| {
        patroni.nodes.iter().all(|n| s.contains(&n.name))
    });
    console.select_member(&patroni.nodes[candidate].name);
    console.send("F");
    console.wait_for("F refused as read-only", FAILOVER_WITHIN, |s| {
        s.lines().any(|l| l.contains("read-only")) && !s.contains("Go ahead?")
    });
    console.send(":switchover ");
    console.send(&patroni.nodes[candidate].name);
    console.send("\r");
    console.wait_for(":switchover refused as read-only", FAILOVER_WITHIN, |s| {
        s.lines().any(|l| l.contains("read-only")) && !s.contains("Go ahead?")
    });
    console.send("?");
    let help = console.wait_for_text("Help (", FAILOVER_WITHIN);
    assert!(
        !help.contains("switchover"),
        "help lists no switchover:\n{help}"
    );
    console.send("q");
    console.send("q");
    assert!(console.wait_exit(FAILOVER_WITHIN).success());
    let failover = format!("/service/{}/failover", common::patroni::SCOPE);
    let keys = patroni.etcd.etcdctl(&["get", &failover]).unwrap();
    assert!(
        keys.trim().is_empty(),
        "a switchover reached Patroni: {keys}"
    );
    assert_eq!(patroni.leader(), Some(leader), "the leader is unchanged");
    assert!(
        !state.path().join("audit.jsonl").exists(),
        "nothing audited"
    );
}
