//! The Docker source and the Docker actions against the machine's real
//! Docker Engine: Redis in containers on a private network, a real network
//! disconnect and reconnect, Swarm scale and node availability, and a remove
//! whose SIGTERM handler proves it ran. Images are built locally, never
//! pulled (see `common::docker`).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clusterdeck::actions::executor::{ExecContext, perform};
use clusterdeck::actions::plan::plan;
use clusterdeck::actions::{
    Action, AuditLog, FaultLedger, HealReason, Instance, Intent, Isolation, PlanContext, Platforms,
    RemoveMethod,
};
use clusterdeck::config::Config;
use clusterdeck::model::{EventKind, Health, Member, Topology};
use clusterdeck::sources::SourceSpec;
use clusterdeck::sources::docker::{DockerHost, DockerSpec, raw};
use clusterdeck::sources::redis::RedisTarget;
use common::Watcher;
use common::docker::{DockerTest, SwarmGuard, docker, try_docker, wait_until};

const DEADLINE: Duration = Duration::from_secs(40);

fn docker_source() -> SourceSpec {
    SourceSpec::Docker(DockerSpec {
        host: DockerHost::resolve(None),
        config: Arc::new(Config::default()),
        read_only: false,
    })
}

fn redis_source(ip: &str) -> SourceSpec {
    SourceSpec::Redis(RedisTarget::parse(&format!("redis://{ip}:6379")).unwrap())
}

/// `redis-server` arguments; replicas notice a lost master within seconds.
fn redis_command(master: Option<&str>) -> Vec<String> {
    let mut cmd = clusterdeck::lab::docker::redis_command(master);
    cmd.extend(["--repl-ping-replica-period", "1", "--repl-timeout", "3"].map(String::from));
    cmd
}

/// A master and two replicas in containers on a private network.
struct Trio {
    test: DockerTest,
    network: String,
    master: String,
    master_ip: String,
    replica_ips: Vec<String>,
}

fn trio(name: &str) -> Trio {
    let mut test = DockerTest::new(name);
    let (network, _) = test.network("bridge");
    let net = [
        "--network",
        network.as_str(),
        "--network-alias",
        "redis-master",
    ];
    let cmd = redis_command(None);
    let master = test.run(
        "master",
        &net,
        &cmd.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let master_ip = test.ip(&master, &network);
    let mut replica_ips = Vec::new();
    for n in 1..=2 {
        let cmd = redis_command(Some(&master_ip));
        let c = test.run(
            &format!("replica-{n}"),
            &["--network", &network],
            &cmd.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        replica_ips.push(test.ip(&c, &network));
    }
    Trio {
        test,
        network,
        master,
        master_ip,
        replica_ips,
    }
}

fn addr(ip: &str) -> String {
    format!("{ip}:6379")
}

fn member<'a>(topology: &'a Topology, address: &str) -> Option<&'a Member> {
    topology
        .clusters
        .iter()
        .flat_map(|c| &c.members)
        .find(|m| m.id == address)
}

/// Every member of the trio is one member of one cluster, joined from both sources.
fn joined(w: &Watcher, trio: &Trio) -> bool {
    let wanted: BTreeSet<String> = std::iter::once(&trio.master_ip)
        .chain(&trio.replica_ips)
        .map(|ip| addr(ip))
        .collect();
    let holding: Vec<_> = w
        .app
        .topology
        .clusters
        .iter()
        .filter(|c| c.members.iter().any(|m| wanted.contains(&m.id)))
        .collect();
    holding.len() == 1
        && wanted.iter().all(|a| {
            holding[0].members.iter().any(|m| {
                &m.id == a
                    && m.sources.len() == 2
                    && m.placement.container.is_some()
                    && m.native_role.is_some()
                    && m.health == Health::Ok
            })
        })
}

fn exec_context(state: &std::path::Path) -> (ExecContext, AuditLog) {
    let ctx = ExecContext {
        platforms: Platforms {
            docker: Some(DockerHost::resolve(None)),
            kube: None,
            apps: Default::default(),
        },
        ledger: FaultLedger::in_dir(state),
        run: "test-run".into(),
        timeout: Duration::from_secs(10),
        lab: None,
    };
    (ctx, AuditLog::new(state.join("audit.jsonl")))
}

fn container_id(name: &str) -> String {
    docker(&["inspect", "--format", "{{.Id}}", name])
}

#[tokio::test(flavor = "multi_thread")]
async fn three_redis_containers_are_one_cluster_with_placement_and_roles() {
    let trio = trio("join");
    let mut w = Watcher::new();
    w.start(docker_source());
    w.start(redis_source(&trio.master_ip));
    w.until("one cluster of three joined members", DEADLINE, |w| {
        joined(w, &trio)
    })
    .await;
    let master = member(&w.app.topology, &addr(&trio.master_ip)).unwrap();
    assert_eq!(master.native_role.as_deref(), Some("master"));
    assert!(master.leader);
    assert_eq!(
        master.placement.platform.map(|p| p.as_str()),
        Some("docker")
    );
    assert_eq!(
        master.placement.container.as_deref(),
        Some(trio.master.as_str())
    );
    assert_eq!(
        master.placement.networks,
        std::slice::from_ref(&trio.network)
    );
    assert_eq!(
        master.name, trio.master,
        "the container's name is the member's name"
    );
    for ip in &trio.replica_ips {
        let m = member(&w.app.topology, &addr(ip)).unwrap();
        assert_eq!(m.native_role.as_deref(), Some("slave"));
        assert!(m.raw.contains_key(raw::CONTAINER_ID));
    }
    w.stop().await;
}

/// Containers labelled `clusterdeck.read=redis` have their roles read
/// inside them through the engine, with no Redis source at all; under
/// `--read-only` nothing runs inside them and a note says so.
#[tokio::test(flavor = "multi_thread")]
async fn labelled_containers_are_read_through_the_engine_unless_read_only() {
    let mut test = DockerTest::new("read");
    let (network, _) = test.network("bridge");
    let net = [
        "--network",
        network.as_str(),
        "--label",
        "clusterdeck.read=redis",
    ];
    let master_cmd = redis_command(None);
    let master = test.run(
        "master",
        &net,
        &master_cmd.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let master_ip = test.ip(&master, &network);
    let replica_cmd = redis_command(Some(&master_ip));
    let replica = test.run(
        "replica",
        &net,
        &replica_cmd.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let replica_ip = test.ip(&replica, &network);
    let (master_at, replica_at) = (addr(&master_ip), addr(&replica_ip));
    let mut w = Watcher::new();
    w.start(docker_source());
    w.until("the master leading and the replica linked", DEADLINE, |w| {
        let (Some(m), Some(r)) = (
            member(&w.app.topology, &master_at),
            member(&w.app.topology, &replica_at),
        ) else {
            return false;
        };
        m.leader
            && m.native_role.as_deref() == Some("master")
            && r.native_role.as_deref() == Some("slave")
            && r.link == Some(clusterdeck::model::Link::Up)
    })
    .await;
    w.stop().await;
    let mut w = Watcher::new();
    let source = w.start(SourceSpec::Docker(DockerSpec {
        host: DockerHost::resolve(None),
        config: Arc::new(Config::default()),
        read_only: true,
    }));
    w.until("the read-only source's note", DEADLINE, |w| {
        w.report(&source)
            .is_some_and(|r| r.notes.iter().any(|n| n.contains("clusterdeck.read")))
    })
    .await;
    let m = member(&w.app.topology, &master_at).expect("the master container");
    assert_eq!((m.leader, m.native_role.as_deref()), (false, None));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disconnect_cuts_the_master_off_and_reconnect_brings_it_back_as_it_was() {
    let trio = trio("cut");
    let state = tempfile::tempdir().unwrap();
    let (ctx, audit) = exec_context(state.path());
    let ip_before = trio.master_ip.clone();
    let aliases_before = trio.test.aliases(&trio.master, &trio.network);
    assert!(
        aliases_before.contains(&"redis-master".to_string()),
        "{aliases_before:?}"
    );

    let mut w = Watcher::new();
    w.start(docker_source());
    w.start(redis_source(&trio.replica_ips[0]));
    w.until("the trio joined", DEADLINE, |w| joined(w, &trio))
        .await;

    let master = addr(&trio.master_ip);
    let action = Action::Disconnect {
        member: master.clone(),
        isolation: Isolation::DockerNetwork {
            container_id: container_id(&trio.master),
            container: trio.master.clone(),
            network: trio.network.clone(),
        },
        ttl_secs: 120,
    };
    let started = Instant::now();
    let outcome = perform(&audit, &ctx, action).await;
    assert!(outcome.ok, "{}", outcome.message);
    let faults = ctx.ledger.records().unwrap();
    assert_eq!(faults.len(), 1, "written to the ledger");
    w.until("the master shown cut off", DEADLINE, |w| {
        member(&w.app.topology, &master).is_some_and(|m| m.raw.contains_key(raw::CUT_OFF_FROM))
    })
    .await;
    let shown_cut_off = started.elapsed();
    w.until(
        "the master down and both replica links down",
        DEADLINE,
        |w| {
            let down = member(&w.app.topology, &master).is_some_and(|m| m.health == Health::Down);
            let links = w
                .events(EventKind::LinkDown)
                .iter()
                .filter(|e| {
                    trio.replica_ips
                        .iter()
                        .any(|ip| e.member.as_deref() == Some(&addr(ip)))
                })
                .count();
            down && links >= 2
        },
    )
    .await;
    let shown_down = started.elapsed();
    eprintln!(
        "MEASURED: disconnect -> Docker source shows it cut off: {} ms; -> Redis shows it down: {} ms",
        shown_cut_off.as_millis(),
        shown_down.as_millis()
    );
    assert!(trio.test.networks_of(&trio.master).is_empty());

    let heal = Action::Heal {
        member: Some(master.clone()),
        faults: faults.iter().map(|f| f.id.clone()).collect(),
        summaries: vec![],
        reason: HealReason::Asked,
    };
    let outcome = perform(&audit, &ctx, heal).await;
    assert!(outcome.ok, "{}", outcome.message);
    assert!(
        ctx.ledger.records().unwrap().is_empty(),
        "the record is gone once healed"
    );
    assert_eq!(
        trio.test.ip(&trio.master, &trio.network),
        ip_before,
        "same address"
    );
    assert_eq!(
        trio.test.aliases(&trio.master, &trio.network),
        aliases_before,
        "same aliases"
    );
    w.until("both replica links up again", DEADLINE, |w| {
        trio.replica_ips.iter().all(|ip| {
            member(&w.app.topology, &addr(ip))
                .is_some_and(|m| m.link == Some(clusterdeck::model::Link::Up))
        }) && w.events(EventKind::LinkUp).len() >= 2
            && member(&w.app.topology, &master)
                .is_some_and(|m| !m.raw.contains_key(raw::CUT_OFF_FROM))
    })
    .await;
    let audit_text = std::fs::read_to_string(state.path().join("audit.jsonl")).unwrap();
    assert!(
        audit_text.contains("\"phase\":\"fault_injected\""),
        "{audit_text}"
    );
    assert!(
        audit_text.contains("\"phase\":\"fault_healed\""),
        "{audit_text}"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_instance_runs_the_sigterm_handler_and_the_container_goes_away() {
    let mut test = DockerTest::new("remove");
    let (network, _) = test.network("bridge");
    let redis = test.run(
        "redis",
        &["--network", &network],
        &["redis-server", "--protected-mode", "no", "--save", ""],
    );
    let redis_ip = test.ip(&redis, &network);
    // The handler writes a key into Redis, then exits: its effect is the proof.
    let script = format!(
        "trap 'redis-cli -h {redis_ip} set removed-by handler-ran; exit 0' TERM; \
         while true; do sleep 0.1; done"
    );
    let worker = test.run(
        "worker",
        &["--rm", "--network", &network],
        &["sh", "-c", &script],
    );
    let id = container_id(&worker);
    let state = tempfile::tempdir().unwrap();
    let (ctx, audit) = exec_context(state.path());
    let action = Action::RemoveInstance {
        member: worker.clone(),
        instance: Instance::DockerContainer {
            id,
            name: worker.clone(),
        },
        method: RemoveMethod::Terminate { grace_secs: 20 },
    };
    let outcome = perform(&audit, &ctx, action).await;
    assert!(outcome.ok, "{}", outcome.message);
    assert!(
        outcome.message.contains("exited on SIGTERM"),
        "{}",
        outcome.message
    );
    let value = docker(&["exec", &redis, "redis-cli", "get", "removed-by"]);
    assert_eq!(value, "handler-ran", "the SIGTERM handler ran");
    wait_until("the container to go away", DEADLINE, || {
        try_docker(&["inspect", &worker]).is_err()
    });
}

fn running_tasks(w: &Watcher, service: &str) -> usize {
    w.cluster(&format!("swarm/{service}")).map_or(0, |c| {
        c.members
            .iter()
            .filter(|m| m.raw.get("swarm.task_state").map(String::as_str) == Some("running"))
            .count()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn swarm_scale_and_node_availability_through_the_actions() {
    let _swarm = SwarmGuard::enter();
    let mut test = DockerTest::new("swarm");
    let service = test.service("redis", 1, &[], &["redis-server", "--protected-mode", "no"]);
    let mut w = Watcher::new();
    w.start(docker_source());
    // A task runs a moment before the engine reports its container.
    w.until("one running task with its container", DEADLINE, |w| {
        running_tasks(w, &service) == 1
            && w.cluster(&format!("swarm/{service}"))
                .is_some_and(|c| c.members.iter().all(|m| m.placement.container.is_some()))
    })
    .await;
    let task = w.cluster(&format!("swarm/{service}")).unwrap().members[0].clone();
    assert_eq!(task.placement.platform.map(|p| p.as_str()), Some("swarm"));
    assert_eq!(task.name, format!("{service}.1"));
    assert!(
        task.placement.node.is_some() && task.placement.container.is_some(),
        "{task:?}"
    );
    let service_id = task.raw[raw::SERVICE_ID].clone();

    let state = tempfile::tempdir().unwrap();
    let (ctx, audit) = exec_context(state.path());
    for (replicas, current) in [(3, 1), (1, 3)] {
        let action = Action::Scale {
            member: task.id.clone(),
            workload: clusterdeck::actions::Workload::SwarmService {
                id: service_id.clone(),
                name: service.clone(),
            },
            current: Some(current),
            replicas,
        };
        let outcome = perform(&audit, &ctx, action).await;
        assert!(outcome.ok, "{}", outcome.message);
        w.until(&format!("{replicas} running tasks"), DEADLINE, |w| {
            running_tasks(w, &service) == replicas as usize
                && w.cluster(&format!("swarm/{service}"))
                    .unwrap()
                    .members
                    .len()
                    == replicas as usize
        })
        .await;
    }

    let node = w.cluster("swarm/nodes").unwrap().members[0].clone();
    assert_eq!(node.native_role.as_deref(), Some("manager (leader)"));
    let node_id = node.raw[raw::NODE_ID].clone();
    let hostname = node.placement.node.clone().unwrap();
    let node_ref = clusterdeck::actions::NodeRef::SwarmNode {
        id: node_id,
        hostname,
    };
    let cordon = Action::Cordon {
        member: node.id.clone(),
        node: node_ref.clone(),
        mode: clusterdeck::actions::CordonMode::Pause,
        ttl_secs: 600,
    };
    let outcome = perform(&audit, &ctx, cordon).await;
    assert!(outcome.ok, "{}", outcome.message);
    assert_eq!(
        ctx.ledger.records().unwrap().len(),
        1,
        "a cordon is a fault in the ledger"
    );
    w.until("the node paused", DEADLINE, |w| {
        w.cluster("swarm/nodes").is_some_and(|c| {
            c.members[0].raw.get(raw::AVAILABILITY).map(String::as_str) == Some("pause")
                && c.members[0].health == Health::Degraded
        })
    })
    .await;
    let uncordon = Action::Uncordon {
        member: node.id.clone(),
        node: node_ref,
    };
    let outcome = perform(&audit, &ctx, uncordon).await;
    assert!(outcome.ok, "{}", outcome.message);
    assert!(
        ctx.ledger.records().unwrap().is_empty(),
        "uncordon forgets the cordon"
    );
    w.until("the node active", DEADLINE, |w| {
        w.cluster("swarm/nodes").is_some_and(|c| {
            c.members[0].raw.get(raw::AVAILABILITY).map(String::as_str) == Some("active")
        })
    })
    .await;
    w.stop().await;
    drop(test);
}

#[tokio::test(flavor = "multi_thread")]
async fn services_of_one_stack_are_one_cluster_with_tiers_from_the_config() {
    let _swarm = SwarmGuard::enter();
    let mut test = DockerTest::new("stack");
    // Labelled as `docker stack deploy` labels a stack's services and tasks.
    let stack = test.run.clone();
    let label = format!("com.docker.stack.namespace={stack}");
    let options = ["--label", &label, "--container-label", &label];
    let command = ["redis-server", "--protected-mode", "no"];
    let zero = test.service("zero", 1, &options, &command);
    let server = test.service("server", 2, &options, &command);
    let yaml = format!(
        "clusters:\n  - name: dgraph\n    match: {{labels: {{com.docker.stack.namespace: {stack}}}}}\n    master: {{names: ['*-zero*']}}\n    copy: {{names: ['*-server*']}}\n"
    );
    let config = Config::parse(&yaml, std::path::Path::new("dgraph.yaml")).expect("config");
    let mut w = Watcher::new();
    w.start(SourceSpec::Docker(DockerSpec {
        host: DockerHost::resolve(None),
        config: Arc::new(config),
        read_only: false,
    }));
    let tiers = |w: &Watcher| {
        w.cluster("config/dgraph").map(|c| {
            let count = |tier| c.members.iter().filter(|m| m.tier == tier).count();
            (
                count(clusterdeck::model::Tier::Master),
                count(clusterdeck::model::Tier::Copy),
            )
        })
    };
    w.until(
        "zero as the master tier and two servers as copies",
        DEADLINE,
        |w| tiers(w) == Some((1, 2)),
    )
    .await;
    let cluster = w.cluster("config/dgraph").unwrap();
    let services: BTreeSet<_> = cluster
        .members
        .iter()
        .filter_map(|m| m.placement.service.clone())
        .collect();
    assert_eq!(services, BTreeSet::from([zero.clone(), server.clone()]));
    assert!(
        w.cluster(&format!("swarm/{zero}")).is_none(),
        "grouped, not one cluster per service"
    );
    w.stop().await;
}

/// The running task of a one-replica service, once its container is on
/// every one of `networks`.
fn task_on<'a>(
    w: &'a Watcher,
    service: &str,
    networks: &[&str],
) -> Option<&'a clusterdeck::model::Member> {
    w.cluster(&format!("swarm/{service}"))?
        .members
        .iter()
        .find(|m| {
            m.raw.get("swarm.task_state").map(String::as_str) == Some("running")
                && m.placement.container.is_some()
                && networks
                    .iter()
                    .all(|n| m.placement.networks.iter().any(|p| p == n))
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_swarm_task_is_cut_off_its_overlays_and_comes_back_as_it_was() {
    let _swarm = SwarmGuard::enter();
    let mut test = DockerTest::new("taskcut");
    // One overlay other containers may join, and one only services may (as
    // `docker stack deploy` makes them).
    let (shared, _) = test.overlay("shared", true);
    let (stack, _) = test.overlay("stack", false);
    let service = test.service(
        "redis",
        1,
        &[
            "--network",
            &format!("name={shared},alias=cache"),
            "--network",
            &stack,
        ],
        &["redis-server", "--protected-mode", "no"],
    );
    let mut w = Watcher::new();
    w.start(docker_source());
    w.until("the task running on both overlays", DEADLINE, |w| {
        task_on(w, &service, &[&shared, &stack]).is_some()
    })
    .await;
    let task = task_on(&w, &service, &[&shared, &stack]).unwrap().clone();
    let container = task.placement.container.clone().unwrap();
    let cluster = w.cluster(&format!("swarm/{service}")).unwrap().clone();
    let state = tempfile::tempdir().unwrap();
    let (ctx, audit) = exec_context(state.path());
    let config = Config::default();

    for network in [&shared, &stack] {
        let ip = test.ip(&container, network);
        let aliases = test.aliases(&container, network);
        assert!(ip.starts_with("10.215."), "{network}: {ip}");
        // The key's path: the planner offers the network, nothing refused.
        let mut draft = plan(
            Intent::Disconnect,
            &task,
            &cluster,
            &PlanContext {
                config: &config,
                faults: &[],
            },
        )
        .unwrap_or_else(|e| panic!("refused {network}: {e}"));
        draft.answer(network).unwrap();
        draft.answer("2m").unwrap();
        let outcome = perform(&audit, &ctx, draft.into_action()).await;
        assert!(outcome.ok, "{network}: {}", outcome.message);
        w.until(
            &format!("the task shown cut off {network}"),
            DEADLINE,
            |w| {
                w.cluster(&format!("swarm/{service}")).is_some_and(|c| {
                    c.members.iter().any(|m| {
                        m.id == task.id
                            && m.raw.get(raw::CUT_OFF_FROM).map(String::as_str)
                                == Some(network.as_str())
                            && m.health == Health::Degraded
                    })
                })
            },
        )
        .await;
        assert!(!test.networks_of(&container).contains(network));

        let faults = ctx.ledger.records().unwrap();
        assert_eq!(faults.len(), 1, "written to the ledger");
        let heal = Action::Heal {
            member: Some(task.id.clone()),
            faults: faults.iter().map(|f| f.id.clone()).collect(),
            summaries: vec![],
            reason: HealReason::Asked,
        };
        let outcome = perform(&audit, &ctx, heal).await;
        assert!(outcome.ok, "{network}: {}", outcome.message);
        assert!(ctx.ledger.records().unwrap().is_empty());
        assert_eq!(
            test.ip(&container, network),
            ip,
            "same address on {network}"
        );
        assert_eq!(
            test.aliases(&container, network),
            aliases,
            "same aliases on {network}"
        );
        w.until(&format!("the task back on {network}"), DEADLINE, |w| {
            task_on(w, &service, &[&shared, &stack])
                .is_some_and(|m| m.id == task.id && !m.raw.contains_key(raw::CUT_OFF_FROM))
        })
        .await;
    }
    // Swarm did not replace the task behind our back: the same container.
    assert_eq!(
        task_on(&w, &service, &[&shared, &stack])
            .and_then(|m| m.placement.container.clone())
            .as_deref(),
        Some(container.as_str())
    );
    w.stop().await;
    drop(test);
}

/// The member the Docker source made of `container`, and its cluster.
fn member_and_cluster(
    w: &Watcher,
    container: &str,
) -> Option<(Member, clusterdeck::model::Cluster)> {
    w.app.topology.clusters.iter().find_map(|c| {
        c.members
            .iter()
            .find(|m| m.placement.container.as_deref() == Some(container) && m.health == Health::Ok)
            .map(|m| (m.clone(), c.clone()))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_instance_runs_the_configured_command_and_shows_its_output_and_exit_code() {
    let mut test = DockerTest::new("rmexec");
    let redis = ["redis-server", "--protected-mode", "no", "--save", ""];
    let leaving = test.run("ag-leaving", &[], &redis);
    let stuck = test.run("ag-stuck", &[], &redis);
    let run = &test.run;
    // Like the AllegroGraph seed's remove script: the instance tells the
    // cluster it leaves (here: a key in its own Redis) and says so.
    let yaml = format!(
        r#"clusters:
  - name: graph-leaving
    match: {{names: ["{run}-ag-leaving"]}}
    remove:
      exec: ["/bin/sh", "-c", "redis-cli set removed-by remove-script && echo left the cluster"]
      grace: 20s
  - name: graph-stuck
    match: {{names: ["{run}-ag-stuck"]}}
    remove:
      exec: ["/bin/sh", "-c", "echo trying to leave; echo cannot leave: last copy >&2; exit 3"]
      grace: 20s
"#
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clusterdeck.yaml");
    std::fs::write(&path, yaml).unwrap();
    let config = Arc::new(Config::load(&path).unwrap());
    for c in [&leaving, &stuck] {
        wait_until("Redis to answer", DEADLINE, || {
            try_docker(&["exec", c, "redis-cli", "ping"]).is_ok_and(|o| o == "PONG")
        });
    }
    let mut w = Watcher::new();
    w.start(SourceSpec::Docker(DockerSpec {
        host: DockerHost::resolve(None),
        config: Arc::clone(&config),
        read_only: false,
    }));
    w.until(
        "both instances in their configured clusters",
        DEADLINE,
        |w| {
            [&leaving, &stuck].iter().all(|c| {
                member_and_cluster(w, c)
                    .is_some_and(|(_, cluster)| cluster.id.starts_with("config/"))
            })
        },
    )
    .await;
    let (ctx, audit) = exec_context(dir.path());
    let remove = |container: &str| {
        let (member, cluster) = member_and_cluster(&w, container).unwrap();
        let context = PlanContext {
            config: &config,
            faults: &[],
        };
        let draft = plan(Intent::Remove, &member, &cluster, &context).unwrap();
        assert!(
            draft.question().is_none(),
            "a configured command asks nothing"
        );
        let action = draft.into_action();
        assert!(
            matches!(
                &action,
                Action::RemoveInstance {
                    method: RemoveMethod::Exec {
                        timeout_secs: 20,
                        ..
                    },
                    ..
                }
            ),
            "{action:?}"
        );
        action
    };

    let outcome = perform(&audit, &ctx, remove(&leaving)).await;
    assert!(outcome.ok, "{}", outcome.message);
    assert!(
        outcome.message.contains("exited with code 0")
            && outcome.message.contains("left the cluster"),
        "{}",
        outcome.message
    );
    let value = docker(&["exec", &leaving, "redis-cli", "get", "removed-by"]);
    assert_eq!(value, "remove-script", "the remove script ran");

    let outcome = perform(&audit, &ctx, remove(&stuck)).await;
    assert!(
        !outcome.ok,
        "a non-zero exit is a failure: {}",
        outcome.message
    );
    assert!(
        outcome.message.contains("exited with code 3")
            && outcome.message.contains("trying to leave")
            && outcome.message.contains("cannot leave: last copy"),
        "{}",
        outcome.message
    );
    let audit_text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(audit_text.contains("\"phase\":\"failed\""), "{audit_text}");
    w.stop().await;
}
