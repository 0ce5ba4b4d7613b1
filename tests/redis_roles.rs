//! What the screen claims about Redis roles, against real `redis-server` and
//! `redis-sentinel` processes: the master Sentinel names leads as soon as it
//! switched, a stale master is shown claiming, two masters are an alarm with
//! `leaders_conflict` / `leaders_agree`, data nodes with a password of their
//! own, and one master watched under two Sentinel names.

mod common;

use std::time::Duration;

use clusterdeck::lab::{LabConfig, RedisLab};
use clusterdeck::model::{Cluster, EventKind, Health, Tier};
use clusterdeck::sources::SourceSpec;
use clusterdeck::sources::redis::RedisTarget;
use common::{INTERVAL, Watcher, config, lab};
use serde_json::Value;
use tokio::time::Instant;

const SOON: Duration = Duration::from_secs(15);

fn target(url: &str) -> RedisTarget {
    RedisTarget::parse(url).expect("lab URLs parse")
}

fn port_of(address: &str) -> &str {
    address.rsplit_once(':').map_or(address, |(_, p)| p)
}

/// Where Sentinel says the master is now, as `127.0.0.1:port`.
async fn sentinel_master(lab: &RedisLab) -> Option<String> {
    let reply = lab
        .command(
            "sentinel-1",
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", lab.master_name()],
        )
        .await
        .ok()?;
    let redis::Value::Array(items) = reply else {
        return None;
    };
    let text = |v: &redis::Value| match v {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    };
    Some(format!(
        "{}:{}",
        text(items.first()?)?,
        text(items.get(1)?)?
    ))
}

/// Asks Sentinel to fail over and polls until it names another master
/// than `old`; returns it. A failover Sentinel aborts (a promotion not seen
/// within its 3 s failover timeout on a loaded machine) is asked again.
async fn fail_over(lab: &RedisLab, old: &str) -> String {
    for _ in 0..3 {
        // INPROG while an earlier attempt still runs: it may yet switch.
        let _ = lab
            .command("sentinel-1", &["SENTINEL", "FAILOVER", lab.master_name()])
            .await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(now) = sentinel_master(lab).await.filter(|m| m != old) {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    panic!("Sentinel never switched (logs in {})", lab.dir().display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_sentinel_failover_the_new_master_leads_and_the_old_one_claims() {
    let lab = lab(config(3, 3)).await;
    let old = lab.address_of("master").unwrap();
    let cluster_id = "sentinel/mymaster";
    let mut watcher = Watcher::new();
    // As `--sentinel S --redis M --redis R1 ...` plans them: the instances'
    // own groups first.
    for name in ["master", "replica-1", "replica-2", "replica-3"] {
        watcher.start(SourceSpec::Redis(target(&lab.url_of(name).unwrap())));
    }
    watcher.start(SourceSpec::Sentinel {
        target: target(&lab.sentinel_urls()[0]),
        masters: Vec::new(),
        nodes: None,
    });
    watcher
        .until("the lab's master leading, three copies", SOON, |w| {
            w.cluster(cluster_id).is_some_and(|c| {
                c.leader.as_deref() == Some(old.as_str())
                    && c.members.iter().filter(|m| m.tier == Tier::Copy).count() == 3
                    && c.leaders_conflict.is_empty()
            })
        })
        .await;
    assert_eq!(watcher.app.topology.clusters.len(), 1);
    // Neither the old master nor replica-3 can be reconfigured, so the old
    // master stays a master with a replica as long as this test needs (a
    // real stale master does for ~10 s), and the instances' own groups keep
    // preferring it: only Sentinel knows better.
    for name in ["master", "replica-3"] {
        lab.command(
            name,
            &["ACL", "SETUSER", "default", "-replicaof", "-slaveof"],
        )
        .await
        .unwrap();
    }
    lab.command("replica-3", &["CONFIG", "SET", "replica-priority", "0"])
        .await
        .unwrap();

    let new = fail_over(&lab, &old).await;
    // One poll of every source after the switch (and their timeouts' slack).
    watcher
        .until("the new master leading", INTERVAL * 10, |w| {
            w.cluster(cluster_id)
                .is_some_and(|c| c.leader.as_deref() == Some(new.as_str()))
        })
        .await;
    let claims = |c: &Cluster| {
        c.member(&old)
            .is_some_and(|m| m.tier == Tier::Master && m.role_dispute.is_some())
    };
    watcher
        .until("the old master shown claiming", SOON, |w| {
            w.cluster(cluster_id).is_some_and(claims)
        })
        .await;
    let cluster = watcher.cluster(cluster_id).unwrap();
    assert_eq!(cluster.leader.as_deref(), Some(new.as_str()));
    let stale = cluster.member(&old).unwrap();
    assert!(!stale.leader && stale.native_role.as_deref() == Some("master"));
    assert_eq!(
        stale.role_dispute.as_deref(),
        Some(format!("claims master; Sentinel names {new}").as_str())
    );
    let mut both = vec![old.clone(), new.clone()];
    both.sort();
    assert_eq!(cluster.leaders_conflict, both);
    assert!(cluster.alarm().unwrap().contains("2 members claim master"));
    let conflict = watcher.events(EventKind::LeadersConflict);
    assert!(
        conflict
            .iter()
            .any(|e| e.details["members"] == serde_json::json!(both)),
        "{conflict:#?}"
    );
    let leaders = watcher
        .events(EventKind::LeaderChanged)
        .iter()
        .filter(|e| e.cluster.as_deref() == Some(cluster_id))
        .map(|e| e.details["to"].clone())
        .collect::<Vec<_>>();
    assert_eq!(leaders, [Value::from(new.clone())], "no flapping back");

    // Reconfigured, the old master follows the new one: one leader again.
    lab.command("master", &["ACL", "SETUSER", "default", "+@all"])
        .await
        .unwrap();
    lab.command("master", &["REPLICAOF", "127.0.0.1", port_of(&new)])
        .await
        .unwrap();
    watcher
        .until("leaders_agree", SOON, |w| {
            !w.events(EventKind::LeadersAgree).is_empty()
        })
        .await;
    let cluster = watcher.cluster(cluster_id).unwrap();
    assert!(cluster.leaders_conflict.is_empty() && cluster.alarm().is_none());
    assert_eq!(cluster.member(&old).unwrap().role_dispute, None);
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_masters_in_one_group_are_a_conflict_until_fixed() {
    let lab = lab(config(2, 0)).await;
    let master = lab.address_of("master").unwrap();
    let rogue = lab.address_of("replica-1").unwrap();
    let cluster_id = format!("redis/{master}");
    let mut watcher = Watcher::new();
    watcher.start(SourceSpec::Redis(target(&lab.redis_url())));
    watcher
        .until("three members, one master", SOON, |w| {
            w.cluster(&cluster_id).is_some_and(|c| {
                c.members.len() == 3 && c.leader.as_deref() == Some(master.as_str())
            })
        })
        .await;

    lab.command("replica-1", &["REPLICAOF", "NO", "ONE"])
        .await
        .unwrap();
    watcher
        .until("leaders_conflict", SOON, |w| {
            !w.events(EventKind::LeadersConflict).is_empty()
        })
        .await;
    let event = watcher.events(EventKind::LeadersConflict)[0].clone();
    let mut both = vec![master.clone(), rogue.clone()];
    both.sort();
    assert_eq!(event.details["members"], serde_json::json!(both));
    assert_eq!(event.details["leader"], master.as_str());
    let cluster = watcher.cluster(&cluster_id).unwrap();
    assert_eq!(cluster.leader.as_deref(), Some(master.as_str()));
    let claimant = cluster.member(&rogue).unwrap();
    assert_eq!((claimant.tier, claimant.leader), (Tier::Master, false));
    assert_eq!(
        claimant.role_dispute.as_deref(),
        Some(format!("claims master; {master} leads").as_str())
    );

    lab.command("replica-1", &["REPLICAOF", "127.0.0.1", port_of(&master)])
        .await
        .unwrap();
    watcher
        .until("leaders_agree", SOON, |w| {
            !w.events(EventKind::LeadersAgree).is_empty()
        })
        .await;
    let agree = watcher.events(EventKind::LeadersAgree)[0].clone();
    assert_eq!(agree.details["leader"], master.as_str());
    let cluster = watcher.cluster(&cluster_id).unwrap();
    assert!(cluster.leaders_conflict.is_empty());
    assert_eq!(cluster.member(&rogue).unwrap().tier, Tier::Copy);
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_master_under_two_sentinel_names_is_two_steady_clusters() {
    let lab = lab(LabConfig {
        quorum: 1,
        ..config(1, 1)
    })
    .await;
    let master = lab.address_of("master").unwrap();
    let port = port_of(&master).to_string();
    lab.command(
        "sentinel-1",
        &["SENTINEL", "MONITOR", "second", "127.0.0.1", &port, "1"],
    )
    .await
    .unwrap();
    let mut watcher = Watcher::new();
    let source = watcher.start(SourceSpec::Sentinel {
        target: target(&lab.sentinel_urls()[0]),
        masters: Vec::new(),
        nodes: None,
    });
    let whole = |c: Option<&Cluster>| {
        c.is_some_and(|c| {
            c.leader.as_deref() == Some(master.as_str())
                && c.members.iter().filter(|m| m.tier != Tier::Unknown).count() == 2
        })
    };
    watcher
        .until("both names, each with master and replica", SOON, |w| {
            whole(w.cluster("sentinel/mymaster")) && whole(w.cluster("sentinel/second"))
        })
        .await;
    // Several more looks: neither cluster may lose its members.
    let seen = watcher.report(&source).unwrap().at;
    watcher
        .until("five more reports", SOON, |w| {
            w.report(&source)
                .is_some_and(|r| r.at - seen > INTERVAL * 5)
        })
        .await;
    assert!(whole(watcher.cluster("sentinel/mymaster")));
    assert!(whole(watcher.cluster("sentinel/second")));
    let removed = watcher.events(EventKind::MemberRemoved);
    assert!(removed.is_empty(), "{removed:#?}");
    watcher.stop().await;
}

/// `snapshot -o json` of one Sentinel, with more arguments and maybe
/// `REDIS_PASSWORD`.
async fn snapshot(sentinel: &str, args: &[&str], password: Option<&str>) -> (i32, String, String) {
    let mut all = vec![
        "snapshot",
        "--sentinel",
        sentinel,
        "-o",
        "json",
        "--timeout",
        "5s",
    ];
    all.extend(args);
    let env: Vec<(&str, &std::ffi::OsStr)> = password
        .map(|pw| ("REDIS_PASSWORD", std::ffi::OsStr::new(pw)))
        .into_iter()
        .collect();
    common::run_clusterdeck(&all, &env).await
}

/// A Sentinel that asks no password watching data nodes that do.
async fn open_sentinel_lab(password: &str) -> RedisLab {
    lab(LabConfig {
        password: Some(password.into()),
        open_sentinels: true,
        quorum: 1,
        ..config(1, 1)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_nodes_with_their_own_password_are_healthy_and_without_it_say_why() {
    const SECRET: &str = "data-N0des-pw";
    let lab = open_sentinel_lab(SECRET).await;
    let master = lab.address_of("master").unwrap();
    let sentinel = lab.sentinel_urls()[0].clone();
    assert!(!sentinel.contains(SECRET), "the Sentinel asks no password");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redis-password");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let file = file.to_str().unwrap();

    let (_, stdout, stderr) = snapshot(&sentinel, &[], None).await;
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let cluster = &doc["clusters"][0];
    assert_eq!(
        cluster["problem"], "NOAUTH: data nodes need a password (--redis-password-file)",
        "{cluster:#}"
    );

    let with_file = ["--redis-password-file", file];
    for (args, env) in [(&with_file[..], None), (&[][..], Some(SECRET))] {
        let (code, stdout, stderr) = snapshot(&sentinel, args, env).await;
        assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
        let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
        assert_eq!(code, 0, "{stderr} {doc:#}");
        let cluster = &doc["clusters"][0];
        assert_eq!(cluster["leader"], master.as_str(), "{cluster:#}");
        assert_eq!(cluster["problem"], Value::Null);
        let members = cluster["members"].as_array().unwrap();
        assert_eq!(members.len(), 3, "master, replica, sentinel: {cluster:#}");
        for m in members {
            assert_eq!(m["health"], Health::Ok.as_str(), "{m:#}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_node_password_file_that_cannot_be_read_is_a_usage_error() {
    let (code, stdout, stderr) = common::run_clusterdeck(
        &[
            "snapshot",
            "--sentinel",
            "127.0.0.1:1",
            "--redis-password-file",
            "/nonexistent/clusterdeck-pw",
        ],
        &[],
    )
    .await;
    assert_eq!(code, 2, "{stdout} {stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("--redis-password-file /nonexistent/clusterdeck-pw: No such file"),
        "{stderr}"
    );
}
