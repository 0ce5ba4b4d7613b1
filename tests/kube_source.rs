//! The Kubernetes source against the emulated API server in
//! `tests/k8s_emulator` (no real API server can be had on these machines):
//! watches that expire and are re-listed, new pods arriving through the
//! watch, the AllegroGraph layout through the real binary, and Redis in
//! pods joined to the pods on real `redis-server`s on 127.0.0.x.

mod common;
mod k8s_emulator;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clusterdeck::model::{Cluster, EventKind, Tier};
use clusterdeck::sources::SourceSpec;
use clusterdeck::sources::kube::{KubeTarget, Namespaces};
use clusterdeck::sources::redis::RedisTarget;
use common::Watcher;
use k8s_emulator::{Emulator, Kind, Verb};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

/// An emulator with two nodes.
async fn emulator() -> Emulator {
    let emulator = Emulator::start().await;
    emulator.add_nodes(&["node-1", "node-2"]);
    emulator
}

fn target(kubeconfig: &Path, namespace: &str) -> SourceSpec {
    SourceSpec::Kube(
        KubeTarget {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
            namespaces: Namespaces::Named(namespace.into()),
        },
        Default::default(),
    )
}

/// Member names of a cluster, sorted.
fn names(cluster: Option<&Cluster>) -> Vec<String> {
    let mut names: Vec<String> = cluster
        .map(|c| c.members.iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn pod_address(emulator: &Emulator, namespace: &str, pod: &str, port: u16) -> String {
    let pods = emulator.pods(namespace);
    let pod = pods
        .iter()
        .find(|p| p["metadata"]["name"] == pod)
        .unwrap_or_else(|| panic!("no pod {pod}"));
    format!("{}:{port}", pod["status"]["podIP"].as_str().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_watch_is_recovered_by_a_relist_without_lost_or_duplicated_members() {
    let emu = emulator().await;
    emu.create_statefulset("db", "cache", 3, &[("app", "cache")], 6379);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emu.write_kubeconfig(dir.path(), "emulator", "db");
    let mut watcher = Watcher::new();
    watcher.start(target(&kubeconfig, "db"));
    watcher
        .until("three pods", WAIT, |w| {
            names(w.cluster("k8s/db/cache")) == ["cache-0", "cache-1", "cache-2"]
        })
        .await;
    let old_address = pod_address(&emu, "db", "cache-0", 6379);
    let lists = emu.requests(Verb::List, Kind::Pod);

    // In one step no watch can see: cache-3 is added, cache-0 is deleted at
    // once (the controller recreates it with a new IP), then the history is
    // compacted and every open watch gets 410 Gone.
    emu.edit(|s| {
        s.update(Kind::StatefulSet, "db", "cache", |sts| {
            sts["spec"]["replicas"] = 4.into();
            k8s_emulator::store::remove_resource_version(sts);
        })
        .unwrap();
        s.delete(Kind::Pod, "db", "cache-0", Some(0)).unwrap();
        s.expire_watches();
    });
    let new_address = pod_address(&emu, "db", "cache-0", 6379);
    assert_ne!(old_address, new_address, "the emulator gives a new IP");

    watcher
        .until("the re-listed view", WAIT, |w| {
            w.cluster("k8s/db/cache")
                .is_some_and(|c| c.member(&new_address).is_some() && c.members.len() == 4)
        })
        .await;
    let cluster = watcher.cluster("k8s/db/cache").unwrap();
    assert_eq!(
        names(Some(cluster)),
        ["cache-0", "cache-1", "cache-2", "cache-3"],
        "no member lost or doubled"
    );
    assert!(
        cluster.member(&old_address).is_none(),
        "the old pod is gone"
    );
    assert_eq!(watcher.app.topology.member_count(), 4);
    assert!(
        emu.requests(Verb::List, Kind::Pod) > lists,
        "recovered by a re-list"
    );
    let errors = watcher.events(EventKind::SourceError);
    assert!(errors.is_empty(), "410 is not an error: {errors:?}");
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_the_controller_creates_arrive_through_the_watch_not_a_relist() {
    let emu = emulator().await;
    emu.create_statefulset("db", "graph", 2, &[("app", "graph")], 9080);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emu.write_kubeconfig(dir.path(), "emulator", "db");
    let mut watcher = Watcher::new();
    watcher.start(target(&kubeconfig, "db"));
    watcher
        .until("two pods", WAIT, |w| {
            names(w.cluster("k8s/db/graph")).len() == 2
        })
        .await;
    emu.until_watching(Kind::Pod, WAIT).await;
    let lists = emu.requests(Verb::List, Kind::Pod);
    let watches = emu.requests(Verb::Watch, Kind::Pod);

    emu.scale("db", "graph", 5);
    watcher
        .until("five pods", WAIT, |w| {
            names(w.cluster("k8s/db/graph")).len() == 5
        })
        .await;
    assert_eq!(emu.requests(Verb::List, Kind::Pod), lists, "no re-list");
    assert_eq!(
        emu.requests(Verb::Watch, Kind::Pod),
        watches,
        "the same watch"
    );
    let added: Vec<_> = watcher
        .events(EventKind::MemberAdded)
        .iter()
        .filter_map(|e| {
            e.details
                .get("name")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .collect();
    for pod in ["graph-2", "graph-3", "graph-4"] {
        assert!(added.iter().any(|a| a == pod), "{pod} added: {added:?}");
    }

    // Scaling down removes the highest ordinals once their grace period ends.
    emu.scale("db", "graph", 1);
    watcher
        .until("one pod", WAIT, |w| {
            names(w.cluster("k8s/db/graph")) == ["graph-0"]
        })
        .await;
    assert_eq!(
        emu.requests(Verb::List, Kind::Pod),
        lists,
        "still no re-list"
    );
    assert_eq!(emu.mutating_requests(), 0, "the console only looks");
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_api_is_an_error_that_clears_when_it_answers_again() {
    let emu = emulator().await;
    emu.create_statefulset("db", "kv", 1, &[("app", "kv")], 2379);
    emu.inject_failure(Some(Verb::List), Some(Kind::Pod), 500, 1);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emu.write_kubeconfig(dir.path(), "emulator", "db");
    let mut watcher = Watcher::new();
    let id = watcher.start(target(&kubeconfig, "db"));
    watcher
        .until("the pod after a 500", WAIT, |w| {
            names(w.cluster("k8s/db/kv")) == ["kv-0"]
                && w.report(&id)
                    .is_some_and(|r| r.status == clusterdeck::model::SourceStatus::Ok)
        })
        .await;
    assert!(
        emu.requests(Verb::List, Kind::Pod) >= 2,
        "listed again after the 500"
    );
    watcher.stop().await;
}

/// Runs the real binary with `KUBECONFIG`: only the kubeconfig is on offer.
async fn run_binary(kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
    common::run_clusterdeck(args, &[("KUBECONFIG", kubeconfig.as_os_str())]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_allegrograph_layout_shows_one_master_and_three_copies() {
    let emu = emulator().await;
    emu.create_statefulset("ag", "controlling", 1, &[("app", "controlling")], 10035);
    emu.create_statefulset("ag", "copy", 3, &[("app", "copy")], 10035);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emu.write_kubeconfig(dir.path(), "emulator", "ag");

    // No source named and a kubeconfig present: Kubernetes starts by itself.
    let (code, stdout, stderr) = run_binary(&kubeconfig, &["snapshot", "--read-only"]).await;
    assert_eq!(code, 0, "stderr: {stderr}\nstdout: {stdout}");
    assert!(
        !stdout.contains("emulator-secret-token"),
        "no token in the output"
    );
    let doc: Value = serde_json::from_str(&stdout).expect("snapshot JSON");
    let clusters = doc["clusters"].as_array().unwrap();
    assert_eq!(
        clusters.len(),
        1,
        "controlling and copy are one cluster: {doc:#}"
    );
    let cluster = &clusters[0];
    assert_eq!(cluster["id"], "k8s/ag");
    assert_eq!(cluster["kind"], "statefulset");
    let members = cluster["members"].as_array().unwrap();
    assert_eq!(members.len(), 4);
    let masters: Vec<_> = members.iter().filter(|m| m["tier"] == "master").collect();
    assert_eq!(masters.len(), 1);
    let master = masters[0];
    assert_eq!(master["name"], "controlling-0");
    assert_eq!(master["leader"], true);
    assert_eq!(master["native_role"], "controlling");
    assert_eq!(cluster["leader"], master["id"]);
    let placement = &master["placement"];
    assert_eq!(placement["platform"], "kubernetes");
    assert_eq!(placement["namespace"], "ag");
    assert_eq!(placement["pod"], "controlling-0");
    assert_eq!(placement["service"], "controlling");
    assert!(placement["node"].as_str().unwrap().starts_with("node-"));
    let mut copies: Vec<_> = members
        .iter()
        .filter(|m| m["tier"] == "copy")
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    copies.sort();
    assert_eq!(copies, ["copy-0", "copy-1", "copy-2"]);
    assert!(
        members
            .iter()
            .all(|m| m["health"] == "ok" && m["raw"]["phase"] == "Running")
    );
    let source = &doc["sources"][0];
    assert_eq!(source["kind"], "kube");
    assert_eq!(source["status"], "ok");
    assert_eq!(source["target"], "kube:emulator/ag");
    assert_eq!(
        emu.mutating_requests(),
        0,
        "a snapshot sends no mutating request"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_context_is_a_source_error_naming_it() {
    let emu = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emu.write_kubeconfig(dir.path(), "emulator", "ag");
    let (code, stdout, _) = run_binary(
        &kubeconfig,
        &["snapshot", "--context", "nowhere", "--timeout", "2s"],
    )
    .await;
    assert_eq!(code, 1, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let error = doc["sources"][0]["error"].as_str().unwrap();
    assert!(error.contains("nowhere"), "{error}");
}

// ---- Redis in pods: real redis-server on 127.0.0.x ----

/// redis-server processes bound to their own loopback addresses, as pods
/// have their own IPs. Killed when dropped.
struct RedisPods {
    port: u16,
    ips: Vec<String>,
    children: Vec<Child>,
    _dir: tempfile::TempDir,
}

impl Drop for RedisPods {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl RedisPods {
    /// Starts `n` instances on `127.0.<block>.1..=n`, one port for all (as a
    /// StatefulSet's pods share their container port); the first is master.
    fn start(n: usize) -> RedisPods {
        let binary = which("redis-server").unwrap_or_else(|| {
            panic!(
                "redis-server is not on the PATH; install it with: {}",
                clusterdeck::lab::INSTALL_HINT
            )
        });
        let (port, ips) = free_port_on_addresses(n);
        let dir = tempfile::tempdir().unwrap();
        let mut children = Vec::new();
        for (i, ip) in ips.iter().enumerate() {
            let port_text = port.to_string();
            let mut args = vec![
                "--bind",
                ip,
                "--port",
                &port_text,
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--replica-announce-ip",
                ip,
                "--repl-diskless-sync",
                "yes",
                "--repl-diskless-sync-delay",
                "0",
            ];
            let data = dir.path().join(format!("r{i}"));
            std::fs::create_dir_all(&data).unwrap();
            let data = data.to_string_lossy().into_owned();
            args.extend(["--dir", &data]);
            if i > 0 {
                args.extend(["--replicaof", &ips[0], &port_text]);
            }
            let child = Command::new(&binary)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            children.push(child);
        }
        RedisPods {
            port,
            ips,
            children,
            _dir: dir,
        }
    }

    fn address(&self, i: usize) -> String {
        format!("{}:{}", self.ips[i], self.port)
    }

    /// Runs a command on instance `i` (bounded by a timeout).
    async fn command(&self, i: usize, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let client = redis::Client::open(format!("redis://{}/", self.address(i)))?;
        let call = async {
            let mut conn = client.get_multiplexed_async_connection().await?;
            let mut cmd = redis::cmd(args[0]);
            for a in &args[1..] {
                cmd.arg(*a);
            }
            cmd.query_async(&mut conn).await
        };
        match tokio::time::timeout(Duration::from_secs(2), call).await {
            Ok(r) => r,
            Err(_) => Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))),
        }
    }

    /// Waits until every instance answers PING and every replica's link is up.
    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let mut ready = true;
            for i in 0..self.ips.len() {
                let info = self.command(i, &["INFO", "replication"]).await;
                let text = match info {
                    Ok(redis::Value::BulkString(b)) => String::from_utf8_lossy(&b).into_owned(),
                    Ok(redis::Value::VerbatimString { text, .. }) => text,
                    _ => String::new(),
                };
                let ok = if i == 0 {
                    text.contains(&format!("connected_slaves:{}", self.ips.len() - 1))
                } else {
                    text.contains("master_link_status:up")
                };
                ready &= ok;
            }
            if ready {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "redis pods not ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn which(binary: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(binary))
            .find(|p| p.is_file())
    })
}

/// A port free on `n` addresses `127.0.<block>.1..=n` for some block:
/// Linux routes all of 127.0.0.0/8 to the loopback interface.
fn free_port_on_addresses(n: usize) -> (u16, Vec<String>) {
    for _ in 0..50 {
        let block = fastrand::u8(2..250);
        let ips: Vec<String> = (1..=n).map(|i| format!("127.0.{block}.{i}")).collect();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let free = ips
            .iter()
            .all(|ip| std::net::TcpListener::bind((ip.as_str(), port)).is_ok());
        if free {
            return (port, ips);
        }
    }
    panic!("no port free on a block of 127.0.x.y addresses");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_in_pods_is_joined_to_the_pods_and_a_failover_shows_pod_names() {
    let redis = RedisPods::start(3);
    let emu = emulator().await;
    emu.edit(|s| {
        for i in 0..3 {
            s.plan_pod_ip("cache", &format!("redis-{i}"), &redis.ips[i]);
        }
    });
    emu.create_statefulset("cache", "redis", 3, &[("app", "redis")], redis.port);
    redis.wait_ready().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emu.write_kubeconfig(dir.path(), "emulator", "cache");

    let mut watcher = Watcher::new();
    watcher.start(target(&kubeconfig, "cache"));
    let seed = RedisTarget::parse(&redis.address(0)).unwrap();
    watcher.start(SourceSpec::Redis(seed));
    let redis_cluster = format!("redis/{}", redis.address(0));
    let joined = |w: &Watcher| {
        w.cluster(&format!("redis/{}", redis.address(0)))
            .is_some_and(|c| {
                c.members.len() == 3
                    && c.members
                        .iter()
                        .all(|m| m.placement.pod.is_some() && m.sources.len() == 2)
            })
    };
    watcher
        .until("Redis joined to the pods", WAIT, joined)
        .await;
    let cluster = watcher.cluster(&redis_cluster).unwrap();
    assert_eq!(
        watcher.app.topology.clusters.len(),
        1,
        "one cluster, not two"
    );
    let leader = cluster.leader_member().unwrap();
    assert_eq!(leader.name, "redis-0");
    assert_eq!(leader.native_role.as_deref(), Some("master"));
    assert_eq!(leader.placement.namespace.as_deref(), Some("cache"));
    assert_eq!(leader.placement.service.as_deref(), Some("redis"));
    let copies: Vec<_> = cluster
        .members
        .iter()
        .filter(|m| m.tier == Tier::Copy)
        .collect();
    assert_eq!(copies.len(), 2);
    assert!(
        copies
            .iter()
            .all(|m| m.native_role.as_deref() == Some("slave"))
    );

    // Fail over by hand: redis-1 becomes master, the others follow it.
    let port = redis.port.to_string();
    redis.command(1, &["REPLICAOF", "NO", "ONE"]).await.unwrap();
    for i in [0, 2] {
        redis
            .command(i, &["REPLICAOF", &redis.ips[1], &port])
            .await
            .unwrap();
    }
    watcher
        .until("redis-1 leads", WAIT, |w| {
            w.cluster(&format!("redis/{}", redis.address(0)))
                .and_then(|c| c.leader_member())
                .is_some_and(|m| m.name == "redis-1")
        })
        .await;
    let changes = watcher.events(EventKind::LeaderChanged);
    let change = changes.last().expect("a leader change");
    assert_eq!(change.details["to_name"], "redis-1");
    assert_eq!(change.details["from_name"], "redis-0");
    let summary = change.summary();
    assert!(summary.contains("redis-0 -> redis-1"), "{summary}");
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ctx_and_ns_switch_the_console_live() {
    use common::pty::PtyConsole;
    let one = emulator().await;
    one.create_statefulset("db", "apple", 1, &[("app", "apple")], 7000);
    one.create_statefulset("other", "cherry", 1, &[("app", "cherry")], 7000);
    let two = emulator().await;
    two.create_statefulset("db", "berry", 1, &[("app", "berry")], 7000);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        k8s_emulator::kubeconfig(&[("one", &one, "db"), ("two", &two, "db")]),
    )
    .unwrap();
    let state = dir.path().join("state");
    let mut console = PtyConsole::spawn(
        &["--kube"],
        120,
        36,
        &[
            ("KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("CLUSTERDECK_STATE_DIR", state.to_str().unwrap()),
        ],
    );
    let deadline = Duration::from_secs(30);
    console.wait_for_text("apple-0", deadline);
    console.send(":ctx two\r");
    console.wait_for("the other context's pods only", deadline, |s| {
        s.contains("berry-0") && s.contains("kube:two/db") && s.contains("1 cluster, 1 member")
    });
    console.send(":ctx one\r");
    console.wait_for("the first context again", deadline, |s| {
        s.contains("kube:one/db") && s.contains("1 cluster, 1 member")
    });
    console.send(":ns other\r");
    console.wait_for("the other namespace's pods", deadline, |s| {
        s.contains("cherry-0") && s.contains("kube:one/other") && s.contains("1 cluster, 1 member")
    });
    console.send("q");
    console.wait_exit(deadline);
    assert_eq!(one.mutating_requests() + two.mutating_requests(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_file_decides_cluster_and_tiers_of_statefulsets() {
    let emu = emulator().await;
    // Names with no tier word in them: only the config can tell.
    emu.create_statefulset("db", "store-a", 1, &[("app", "store")], 7000);
    emu.create_statefulset("db", "store-b", 2, &[("app", "store")], 7000);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emu.write_kubeconfig(dir.path(), "emulator", "db");
    let config = dir.path().join("deck.yaml");
    std::fs::write(
        &config,
        "clusters:\n  - name: store\n    match: {labels: {app: store}}\n    master: {names: ['store-a*']}\n    copy: {names: ['store-b*']}\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let (code, stdout, stderr) =
        run_binary(&kubeconfig, &["snapshot", "--kube", "--config", config]).await;
    assert_eq!(code, 0, "stderr: {stderr}\nstdout: {stdout}");
    let doc: Value = serde_json::from_str(&stdout).expect("snapshot JSON");
    let clusters = doc["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{doc:#}");
    assert_eq!(clusters[0]["id"], "config/store");
    let tier_of = |name: &str| {
        clusters[0]["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .map(|m| m["tier"].clone())
    };
    assert_eq!(tier_of("store-a-0"), Some(Value::from("master")));
    assert_eq!(tier_of("store-b-0"), Some(Value::from("copy")));
    assert_eq!(tier_of("store-b-1"), Some(Value::from("copy")));
}
