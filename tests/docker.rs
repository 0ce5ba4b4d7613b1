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
use clusterdeck::actions::{
    Action, AuditLog, FaultLedger, HealReason, Instance, Isolation, Platforms, RemoveMethod,
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
    })
}

fn redis_source(ip: &str) -> SourceSpec {
    SourceSpec::Redis(RedisTarget::parse(&format!("redis://{ip}:6379")).unwrap())
}

/// `redis-server` arguments; replicas notice a lost master within seconds.
fn redis_command(master: Option<&str>) -> Vec<String> {
    let mut cmd: Vec<String> = [
        "redis-server",
        "--protected-mode",
        "no",
        "--save",
        "",
        "--repl-ping-replica-period",
        "1",
        "--repl-timeout",
        "3",
    ]
    .map(String::from)
    .to_vec();
    if let Some(ip) = master {
        cmd.extend(["--replicaof".into(), ip.into(), "6379".into()]);
    }
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
    assert_eq!(master.placement.platform.as_deref(), Some("docker"));
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

/// Joins the engine to a Swarm for the test, and leaves again if it was not
/// in one before (also when the test fails).
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
    w.until("one running task", DEADLINE, |w| {
        running_tasks(w, &service) == 1
    })
    .await;
    let task = w.cluster(&format!("swarm/{service}")).unwrap().members[0].clone();
    assert_eq!(task.placement.platform.as_deref(), Some("swarm"));
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
