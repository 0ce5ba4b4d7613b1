//! The Redis, Sentinel and registry sources against real `redis-server` and
//! `redis-sentinel` processes (a [`RedisLab`] per test, on free ports, so
//! tests run in parallel). A missing binary fails the test with the command
//! that installs it.

mod common;

use std::time::Duration;

use clusterdeck::lab::LabConfig;
use clusterdeck::model::{EventKind, Health, Link, SourceStatus, Tier};
use clusterdeck::sources::SourceSpec;
use clusterdeck::sources::records::{RecordSpec, Store};
use clusterdeck::sources::redis::RedisTarget;
use common::{INTERVAL, Watcher, config, lab};

const SOON: Duration = Duration::from_secs(15);

fn target(url: &str) -> RedisTarget {
    RedisTarget::parse(url).expect("lab URLs parse")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_and_two_replicas_form_one_cluster() {
    let lab = lab(config(2, 0)).await;
    let master = lab.address_of("master").unwrap();
    let cluster_id = format!("redis/{master}");
    let mut watcher = Watcher::new();
    watcher.start(SourceSpec::Redis(target(&lab.redis_url())));
    watcher
        .until("a leader and two linked copies", SOON, |w| {
            w.cluster(&cluster_id).is_some_and(|c| {
                c.leader.as_deref() == Some(master.as_str())
                    && c.members
                        .iter()
                        .filter(|m| m.link == Some(Link::Up))
                        .count()
                        == 2
            })
        })
        .await;
    assert_eq!(watcher.app.topology.clusters.len(), 1);
    let cluster = watcher.cluster(&cluster_id).unwrap();
    assert_eq!(cluster.members.len(), 3);
    let leader = cluster.leader_member().unwrap();
    assert_eq!((leader.tier, leader.health), (Tier::Master, Health::Ok));
    assert_eq!(leader.native_role.as_deref(), Some("master"));
    assert!(leader.raw.contains_key("run_id") && leader.raw.contains_key("master_replid"));
    let copies: Vec<_> = cluster
        .members
        .iter()
        .filter(|m| m.tier == Tier::Copy)
        .collect();
    assert_eq!(copies.len(), 2);
    for copy in copies {
        assert!(!copy.leader);
        assert_eq!(copy.health, Health::Ok, "{copy:?}");
        assert_eq!(copy.native_role.as_deref(), Some("slave"));
        assert!(
            copy.lag_bytes.is_some() && copy.lag_seconds.is_some(),
            "{copy:?}"
        );
        assert!(copy.repl_offset.is_some());
    }
    assert_eq!(watcher.report("redis#0").unwrap().status, SourceStatus::Ok);
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_promotion_changes_the_leader_in_the_same_cluster() {
    let lab = lab(config(2, 0)).await;
    let master = lab.address_of("master").unwrap();
    let promoted = lab.address_of("replica-1").unwrap();
    let cluster_id = format!("redis/{master}");
    let mut watcher = Watcher::new();
    watcher.start(SourceSpec::Redis(target(&lab.redis_url())));
    watcher
        .until("the master leading two copies", SOON, |w| {
            w.cluster(&cluster_id).is_some_and(|c| {
                c.leader.as_deref() == Some(master.as_str())
                    && c.members
                        .iter()
                        .filter(|m| m.link == Some(Link::Up))
                        .count()
                        == 2
            })
        })
        .await;

    lab.command("replica-1", &["REPLICAOF", "NO", "ONE"])
        .await
        .unwrap();
    let port = promoted.rsplit_once(':').map(|(_, p)| p).unwrap();
    lab.command("replica-2", &["REPLICAOF", "127.0.0.1", port])
        .await
        .unwrap();

    watcher
        .until("replica-1 leading", SOON, |w| {
            w.cluster(&cluster_id)
                .is_some_and(|c| c.leader.as_deref() == Some(promoted.as_str()))
        })
        .await;
    let changes = watcher.events(EventKind::LeaderChanged);
    assert!(
        changes
            .iter()
            .any(|e| e.member.as_deref() == Some(promoted.as_str())
                && e.details["from"] == master.as_str()),
        "{changes:#?}"
    );
    assert_eq!(
        watcher.app.topology.clusters.len(),
        1,
        "the group never splits"
    );
    let cluster = watcher.cluster(&cluster_id).unwrap();
    let old = cluster.member(&master).unwrap();
    assert_eq!((old.tier, old.leader), (Tier::Master, false));
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_is_a_leader_change_with_a_leaderless_time() {
    let lab = lab(config(2, 3)).await;
    let master = lab.address_of("master").unwrap();
    let cluster_id = "sentinel/mymaster";
    let mut watcher = Watcher::new();
    watcher.start(SourceSpec::Sentinel {
        target: target(&lab.sentinel_urls()[0]),
        masters: Vec::new(),
        nodes: None,
    });
    watcher
        .until("Sentinel's master leading, three sentinels up", SOON, |w| {
            w.cluster(cluster_id).is_some_and(|c| {
                c.leader.as_deref() == Some(master.as_str())
                    && c.members
                        .iter()
                        .filter(|m| m.native_role.as_deref() == Some("sentinel"))
                        .filter(|m| m.health == Health::Ok)
                        .count()
                        == 3
            })
        })
        .await;
    {
        let cluster = watcher.cluster(cluster_id).unwrap();
        let sentinel = cluster.sentinel().unwrap();
        assert_eq!(sentinel.quorum, Some(2));
        assert_eq!(sentinel.sentinels, Some(3));
        assert_eq!(cluster.members.len(), 6, "{:#?}", cluster.members);
        for m in cluster.members.iter().filter(|m| m.tier == Tier::Copy) {
            assert_eq!((m.health, m.link), (Health::Ok, Some(Link::Up)), "{m:?}");
            assert!(m.lag_bytes.is_some());
        }
    }

    lab.kill("master").unwrap();
    watcher
        .until(
            "a new master leading after failover",
            Duration::from_secs(40),
            |w| {
                w.cluster(cluster_id).is_some_and(|c| {
                    c.leader_member()
                        .is_some_and(|m| m.id != master && m.health == Health::Ok)
                })
            },
        )
        .await;
    let cluster = watcher.cluster(cluster_id).unwrap();
    assert_eq!(
        cluster.member(&master).map(|m| m.health),
        Some(Health::Down)
    );
    let change = watcher
        .events(EventKind::LeaderChanged)
        .into_iter()
        .find(|e| e.cluster.as_deref() == Some(cluster_id))
        .cloned()
        .expect("a leader_changed event");
    let leaderless = change.details["leaderless_ms"].as_u64().unwrap_or(0);
    assert!(leaderless > 0, "{change:?}");
    assert_eq!(change.details["from"], master.as_str());
    assert_eq!(watcher.app.topology.clusters.len(), 1);

    // The old master comes back and Sentinel makes it a replica of the new one.
    lab.restart("master").await.unwrap();
    watcher
        .until(
            "the old master back as a linked copy",
            Duration::from_secs(40),
            |w| {
                w.cluster(cluster_id)
                    .and_then(|c| c.member(&master))
                    .is_some_and(|m| m.tier == Tier::Copy && m.link == Some(Link::Up))
            },
        )
        .await;
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_goes_down_and_recovers_without_restarting_the_source() {
    let lab = lab(config(2, 0)).await;
    let master = lab.address_of("master").unwrap();
    let victim = lab.address_of("replica-1").unwrap();
    let other = lab.address_of("replica-2").unwrap();
    let cluster_id = format!("redis/{master}");
    let mut watcher = Watcher::new();
    watcher.start(SourceSpec::Redis(target(&lab.redis_url())));
    let all_ok = |w: &Watcher| {
        w.cluster(&cluster_id).is_some_and(|c| {
            c.members.len() == 3 && c.members.iter().all(|m| m.health == Health::Ok)
        })
    };
    watcher.until("three healthy members", SOON, all_ok).await;

    lab.kill("replica-1").unwrap();
    watcher
        .until("replica-1 down", SOON, |w| {
            w.cluster(&cluster_id)
                .and_then(|c| c.member(&victim))
                .is_some_and(|m| m.health == Health::Down)
        })
        .await;
    let cluster = watcher.cluster(&cluster_id).unwrap();
    let down = cluster.member(&victim).unwrap();
    assert_eq!(down.tier, Tier::Copy, "keeps its last known tier");
    assert!(
        down.error.as_deref().unwrap_or("").contains(&victim),
        "{down:?}"
    );
    let leader = cluster.member(&master).unwrap();
    assert!(leader.leader && leader.health == Health::Ok);
    let fine = cluster.member(&other).unwrap();
    assert_eq!((fine.health, fine.link), (Health::Ok, Some(Link::Up)));
    assert_eq!(watcher.report("redis#0").unwrap().status, SourceStatus::Ok);

    lab.restart("replica-1").await.unwrap();
    watcher
        .until("replica-1 back with its link up", SOON, |w| {
            w.cluster(&cluster_id)
                .and_then(|c| c.member(&victim))
                .is_some_and(|m| m.health == Health::Ok && m.link == Some(Link::Up))
        })
        .await;
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_an_auth_error_that_never_shows_a_password() {
    const RIGHT: &str = "lab-S3cret-pw";
    const WRONG: &str = "Wr0ng-guess-pw";
    let lab = lab(LabConfig {
        password: Some(RIGHT.into()),
        quorum: 1,
        ..config(1, 1)
    })
    .await;
    let address = lab.address_of("master").unwrap();
    let mut watcher = Watcher::new();
    let bad = watcher.start(SourceSpec::Redis(target(&format!(
        "redis://:{WRONG}@{address}"
    ))));
    let good = watcher.start(SourceSpec::Redis(target(&lab.redis_url())));
    let sentinel = lab.address_of("sentinel-1").unwrap();
    let bad_sentinel = watcher.start(SourceSpec::Sentinel {
        target: target(&format!("redis://:{WRONG}@{sentinel}")),
        masters: vec!["mymaster".into()],
        nodes: None,
    });
    let good_sentinel = watcher.start(SourceSpec::Sentinel {
        target: target(&lab.sentinel_urls()[0]),
        masters: vec!["mymaster".into()],
        nodes: None,
    });
    let failed = |w: &Watcher, id: &str| {
        w.report(id)
            .is_some_and(|r| matches!(r.status, SourceStatus::Error(_)))
    };
    let all_ok = |w: &Watcher, id: &str, count: usize| {
        w.report(id).is_some_and(|r| {
            r.status == SourceStatus::Ok
                && r.members.len() == count
                && r.members.iter().all(|m| m.health == Health::Ok)
        })
    };
    watcher
        .until(
            "errors from wrong passwords, all well with the right one",
            SOON,
            |w| {
                failed(w, &bad)
                    && failed(w, &bad_sentinel)
                    && all_ok(w, &good, 2)
                    && all_ok(w, &good_sentinel, 3)
            },
        )
        .await;
    let SourceStatus::Error(message) = &watcher.report(&bad_sentinel).unwrap().status else {
        unreachable!()
    };
    assert!(message.to_lowercase().contains("auth"), "{message}");
    let report = watcher.report(&bad).unwrap();
    let SourceStatus::Error(message) = &report.status else {
        unreachable!()
    };
    assert!(message.to_lowercase().contains("auth"), "{message}");
    assert!(message.contains(&address), "{message}");
    let member = &report.members[0];
    assert_eq!(member.health, Health::Down);
    assert!(
        member.error.as_deref().unwrap_or("").contains("auth"),
        "{member:?}"
    );
    let reports: Vec<_> = [&bad, &good, &bad_sentinel, &good_sentinel]
        .iter()
        .map(|id| watcher.report(id))
        .collect();
    let shown = format!("{reports:?} {:?}", watcher.app.topology);
    for secret in [RIGHT, WRONG] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_key_agrees_or_not_with_the_observed_leader() {
    let lab = lab(config(1, 0)).await;
    let master = lab.address_of("master").unwrap();
    let replica = lab.address_of("replica-1").unwrap();
    lab.command("master", &["SET", "zero", &master])
        .await
        .unwrap();
    let mut watcher = Watcher::new();
    watcher.start(SourceSpec::Redis(target(&lab.redis_url())));
    let registry = watcher.start(SourceSpec::Registry(RecordSpec {
        store: Store::Redis(target(&lab.redis_url())),
        key: "zero".into(),
        field: None,
        election: false,
        cluster: None,
    }));
    let cluster_id = format!("redis/{master}");
    watcher
        .until("the registry agreeing", SOON, |w| {
            w.cluster(&cluster_id)
                .is_some_and(|c| c.recorded_leader_agrees == Some(true))
        })
        .await;
    let recorded = watcher
        .cluster(&cluster_id)
        .unwrap()
        .recorded_leader
        .clone()
        .unwrap();
    assert_eq!(recorded.address, master);
    assert!(recorded.from.ends_with("key zero"), "{recorded:?}");

    lab.command("master", &["SET", "zero", &replica])
        .await
        .unwrap();
    watcher
        .until("the registry disagreeing", SOON, |w| {
            w.cluster(&cluster_id)
                .is_some_and(|c| c.recorded_leader_agrees == Some(false))
        })
        .await;
    assert!(!watcher.events(EventKind::RegistryMismatch).is_empty());
    // The Dgraph zero split brain: a record naming a member that does not
    // lead, for longer than two intervals, is a leaders conflict naming
    // both; it clears once the record is fixed.
    watcher
        .until("the disagreement raised as a conflict", SOON, |w| {
            w.cluster(&cluster_id)
                .is_some_and(|c| c.leaders_conflict.len() == 2)
        })
        .await;
    let cluster = watcher.cluster(&cluster_id).unwrap();
    let recorded = cluster.recorded_leader.clone().unwrap();
    assert_eq!(
        recorded.holder.as_deref(),
        cluster.member(&replica).map(|m| m.id.as_str())
    );
    let conflict = &cluster.leaders_conflict;
    assert!(
        conflict.contains(cluster.leader.as_ref().unwrap()),
        "{conflict:?}"
    );
    let since = recorded.disagrees_since.expect("since when it disagrees");
    let raised = watcher.events(EventKind::LeadersConflict);
    assert_eq!(raised.len(), 1, "raised once");
    assert!(
        raised[0].at - since >= time::Duration::try_from(INTERVAL * 2).unwrap(),
        "not before two intervals: {since} {}",
        raised[0].at
    );
    lab.command("master", &["SET", "zero", &master])
        .await
        .unwrap();
    watcher
        .until("the conflict cleared", SOON, |w| {
            w.cluster(&cluster_id).is_some_and(|c| {
                c.leaders_conflict.is_empty() && c.recorded_leader_agrees == Some(true)
            })
        })
        .await;
    assert_eq!(watcher.events(EventKind::LeadersAgree).len(), 1);

    lab.command("master", &["SET", "zero", "not an address"])
        .await
        .unwrap();
    watcher
        .until("the registry reporting a bad value", SOON, |w| {
            w.report(&registry).is_some_and(|r| {
                matches!(&r.status, SourceStatus::Error(e) if e.contains("zero") && e.contains("not an address"))
            })
        })
        .await;
    watcher.stop().await;
}

/// Set in the child process of `lab_processes_die_with_their_parent`.
const LAB_CHILD: &str = "CLUSTERDECK_TEST_LAB_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_processes_die_with_their_parent() {
    if std::env::var_os(LAB_CHILD).is_some() {
        // The child: start a lab, say where it is, and wait to be killed.
        let lab = lab(config(0, 0)).await;
        println!(
            "LAB-ADDRESS {} {}",
            lab.address_of("master").unwrap(),
            lab.dir().display()
        );
        tokio::time::sleep(Duration::from_secs(60)).await;
        return;
    }
    use std::io::BufRead;
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new(exe)
        .args([
            "--exact",
            "lab_processes_die_with_their_parent",
            "--nocapture",
        ])
        .env(LAB_CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let started = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("LAB-ADDRESS ").map(str::to_string));
    child.kill().unwrap();
    child.wait().unwrap();
    let started = started.expect("the child started a lab");
    let (address, dir) = started.split_once(' ').expect("address and directory");
    // A killed process removes nothing: its lab's files are ours to clean.
    let _ = std::fs::remove_dir_all(dir);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(address).is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "redis-server at {address} outlived its parent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A leader recorded in a Redis hash's field (`--registry-field`), with the
/// key's time to live read by PTTL; a value over the record bound is
/// refused, naming the bound, without reading it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_field_record_and_its_time_to_live() {
    let lab = lab(config(1, 0)).await;
    let master = lab.address_of("master").unwrap();
    lab.command(
        "master",
        &["HSET", "dgraph", "leader", &master, "epoch", "7"],
    )
    .await
    .unwrap();
    lab.command("master", &["EXPIRE", "dgraph", "100"])
        .await
        .unwrap();
    let mut watcher = Watcher::new();
    watcher.start(SourceSpec::Redis(target(&lab.redis_url())));
    let record = watcher.start(SourceSpec::Registry(RecordSpec {
        store: Store::Redis(target(&lab.redis_url())),
        key: "dgraph".into(),
        field: Some("leader".into()),
        election: false,
        cluster: None,
    }));
    let cluster_id = format!("redis/{master}");
    watcher
        .until("the hash field agreeing", SOON, |w| {
            w.cluster(&cluster_id)
                .is_some_and(|c| c.recorded_leader_agrees == Some(true))
        })
        .await;
    let recorded = watcher
        .cluster(&cluster_id)
        .unwrap()
        .recorded_leader
        .clone()
        .unwrap();
    assert!(
        recorded.from.ends_with("key dgraph field leader"),
        "{recorded:?}"
    );
    let ttl = recorded.ttl_ms.expect("the key's TTL");
    assert!(ttl > 0 && ttl <= 100_000, "{ttl}");
    let huge = "x".repeat(10_000);
    lab.command("master", &["HSET", "dgraph", "leader", &huge])
        .await
        .unwrap();
    watcher
        .until("the oversized value refused", SOON, |w| {
            w.report(&record).is_some_and(|r| {
                matches!(&r.status, SourceStatus::Error(e) if e.contains("10000 bytes") && e.contains("4096"))
            })
        })
        .await;
    watcher.stop().await;
}
