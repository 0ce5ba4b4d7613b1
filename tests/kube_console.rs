//! The Kubernetes actions wired into the console: planned from members the
//! Kubernetes source saw, run by the executor (ledger first for faults),
//! healed by the ledger and by `clusterdeck heal`, and driven end to end
//! through the real binary in a pseudo-terminal, all against the emulated
//! API server in `tests/k8s_emulator`. Conditions are polled with
//! deadlines, never slept for.

mod common;
mod k8s_emulator;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clusterdeck::actions::executor::{ExecContext, heal, perform, sweep_console_policies};
use clusterdeck::actions::kube::KubePlatform;
use clusterdeck::actions::kube::isolate::FAULT_LABEL;
use clusterdeck::actions::plan::{Intent, PlanContext, plan};
use clusterdeck::actions::{
    Action, AuditLog, FaultLedger, Instance, Isolation, Platforms, RemoveMethod, Undo,
};
use clusterdeck::config::Config;
use clusterdeck::sources::SourceSpec;
use clusterdeck::sources::kube::{KubeTarget, Namespaces};
use common::Watcher;
use common::pty::PtyConsole;
use k8s_emulator::{Emulator, Kind, Verb};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const TIMEOUT: Duration = Duration::from_secs(5);

struct Setup {
    emu: Emulator,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl Setup {
    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn target(&self) -> KubeTarget {
        KubeTarget {
            kubeconfig: Some(self.kubeconfig.clone()),
            context: None,
            namespaces: Namespaces::Named("ag".into()),
        }
    }

    /// What the console's executor gets, with the ledger in the test's state dir.
    fn exec(&self) -> (ExecContext, AuditLog) {
        let ctx = ExecContext {
            platforms: Platforms {
                docker: None,
                kube: Some(KubePlatform::new(self.target())),
                apps: Default::default(),
            },
            ledger: FaultLedger::in_dir(self.state()),
            run: "test-run".into(),
            timeout: TIMEOUT,
            lab: None,
        };
        (ctx, AuditLog::new(self.dir.path().join("audit.jsonl")))
    }

    /// The console in a pseudo-terminal on this emulator, Docker off.
    fn console(&self, extra: &[&str]) -> PtyConsole {
        let mut args = vec!["--kube"];
        args.extend_from_slice(extra);
        let state = self.state();
        let docker = format!("unix://{}/no-docker.sock", self.dir.path().display());
        PtyConsole::spawn(
            &args,
            160,
            40,
            &[
                ("KUBECONFIG", self.kubeconfig.to_str().unwrap()),
                ("CLUSTERDECK_STATE_DIR", state.to_str().unwrap()),
                ("DOCKER_HOST", &docker),
            ],
        )
    }

    fn policies(&self) -> Vec<Value> {
        self.emu.read(|s| {
            s.list(Kind::NetworkPolicy, Some("ag"), &Default::default())
                .into_iter()
                .map(|(_, v)| v.clone())
                .collect()
        })
    }

    fn replicas(&self, statefulset: &str) -> u64 {
        self.emu.read(|s| {
            s.get(Kind::StatefulSet, "ag", statefulset).unwrap()["spec"]["replicas"]
                .as_u64()
                .unwrap()
        })
    }
}

/// The AllegroGraph layout: one `controlling` pod and `copies` copies.
async fn setup(copies: u32) -> Setup {
    let emu = Emulator::start().await;
    emu.add_nodes(&["node-1", "node-2"]);
    emu.create_statefulset("ag", "controlling", 1, &[("app", "controlling")], 10035);
    emu.create_statefulset("ag", "copy", copies, &[("app", "copy")], 10035);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emu.write_kubeconfig(dir.path(), "emulator", "ag");
    Setup {
        emu,
        kubeconfig,
        dir,
    }
}

/// Polls `done` until it holds or `within` runs out.
async fn eventually(what: &str, within: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn run_binary(setup: &Setup, args: &[&str]) -> (i32, String, String) {
    let state = setup.state();
    let env = [
        ("KUBECONFIG", setup.kubeconfig.as_os_str()),
        ("CLUSTERDECK_STATE_DIR", state.as_os_str()),
    ];
    common::run_clusterdeck(args, &env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_in_the_console_brings_the_new_pods_on_screen() {
    let s = setup(2).await;
    let mut console = s.console(&[]);
    console.wait_for("the pods", WAIT, |sc| {
        sc.contains("copy-1") && sc.contains("controlling-0")
    });
    // Select a copy: the first row may be either StatefulSet's pod.
    console.select_member("copy-0");
    console.send("s");
    console.wait_for_text("Replicas of StatefulSet ag/copy", WAIT);
    console.send("4\r");
    console.wait_for_text("statefulsets/copy/scale", WAIT);
    console.send("y");
    console.wait_for("the new copies on screen", WAIT, |sc| {
        sc.contains("copy-2") && sc.contains("copy-3")
    });
    assert_eq!(s.emu.requests(Verb::Patch, Kind::StatefulSet), 1);
    assert_eq!((s.replicas("copy"), s.replicas("controlling")), (4, 1));
    console.send("q");
    console.wait_exit(WAIT);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_console_sends_no_mutating_request() {
    let s = setup(2).await;
    let mut console = s.console(&["--read-only"]);
    console.wait_for_text("copy-1", WAIT);
    for key in ["s", "c", "C", "n", "N", "x", "H"] {
        console.send(key);
        console.send("\r");
        console.send("y");
        console.send("\x1b");
    }
    // An Esc right before `:` can read as Alt-`:`, and the rest of the
    // line as keys (`l` opens the logs view, which then takes `q`): a
    // harmless `g` after each Esc keeps the `:` a command line.
    console.send("g");
    console.send(":scale 5\r");
    console.send("\x1b");
    console.send("g");
    console.send(":ns ag\r");
    // The source restarts on `:ns`: wait until it shows the pods again.
    console.wait_for("the pods after :ns", WAIT, |sc| {
        sc.contains("copy-1") && sc.contains("kube:emulator/ag")
    });
    console.send("q");
    console.wait_exit(WAIT);
    assert_eq!(s.emu.mutating_requests(), 0);
    assert_eq!(s.replicas("copy"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn isolation_is_recorded_first_labelled_and_healed() {
    let s = setup(2).await;
    let (ctx, audit) = s.exec();
    let action = Action::Disconnect {
        member: "10.0.0.9:10035".into(),
        isolation: Isolation::KubePod {
            namespace: "ag".into(),
            pod: "copy-1".into(),
        },
        ttl_secs: 60,
    };
    let outcome = perform(&audit, &ctx, action).await;
    assert!(outcome.ok, "{}", outcome.message);
    let records = ctx.ledger.records().unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    match &record.undo {
        Undo::KubeDeleteNetworkPolicy {
            context,
            namespace,
            policy,
            ..
        } => {
            assert_eq!(context.as_deref(), Some("emulator"));
            assert_eq!(
                (namespace.as_str(), policy.as_str()),
                ("ag", "clusterdeck-isolate-copy-1")
            );
        }
        other => panic!("{other:?}"),
    }
    let policies = s.policies();
    assert_eq!(policies.len(), 1);
    let policy = &policies[0];
    assert_eq!(
        policy["metadata"]["labels"][FAULT_LABEL],
        record.id.as_str()
    );
    assert_eq!(
        policy["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "clusterdeck"
    );
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"],
        serde_json::json!({"statefulset.kubernetes.io/pod-name": "copy-1"})
    );

    heal(&ctx, std::slice::from_ref(&record.id)).await.unwrap();
    assert!(s.policies().is_empty(), "healed");
    assert!(ctx.ledger.records().unwrap().is_empty());

    // A policy the ledger lost is still found by its label and swept.
    let again = Action::Disconnect {
        member: "m".into(),
        isolation: Isolation::KubePod {
            namespace: "ag".into(),
            pod: "copy-0".into(),
        },
        ttl_secs: 60,
    };
    assert!(perform(&audit, &ctx, again).await.ok);
    std::fs::remove_file(ctx.ledger.path()).unwrap();
    let swept = sweep_console_policies(&s.target(), TIMEOUT).await.unwrap();
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert!(s.policies().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_console_killed_mid_isolation_is_healed_by_clusterdeck_heal() {
    let s = setup(2).await;
    let mut console = s.console(&[]);
    console.wait_for_text("copy-1", WAIT);
    console.select_member("copy-1");
    console.send("n");
    console.wait_for_text("Heal (delete the policy) after", WAIT);
    console.send("\r");
    console.wait_for_text("clusterdeck-isolate-copy-1", WAIT);
    console.send("y");
    eventually("the policy", WAIT, || s.policies().len() == 1).await;
    eventually("the ledger record", WAIT, || {
        FaultLedger::in_dir(s.state())
            .records()
            .is_ok_and(|r| r.len() == 1)
    })
    .await;
    console.signal(libc::SIGKILL);
    console.wait_exit(WAIT);
    assert_eq!(s.policies().len(), 1, "a killed console heals nothing");

    let (code, stdout, stderr) = run_binary(&s, &["heal"]).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("healed fault-"), "{stdout}");
    assert!(s.policies().is_empty(), "{stdout}");
    assert!(FaultLedger::in_dir(s.state()).records().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_instance_deletes_the_pod_with_the_grace_period_asked() {
    let s = setup(2).await;
    let (ctx, audit) = s.exec();
    let action = Action::RemoveInstance {
        member: "m".into(),
        instance: Instance::KubePod {
            namespace: "ag".into(),
            name: "copy-1".into(),
        },
        method: RemoveMethod::Terminate { grace_secs: 7 },
    };
    let outcome = perform(&audit, &ctx, action).await;
    assert!(outcome.ok, "{}", outcome.message);
    let deletes = s.emu.delete_requests(Kind::Pod);
    assert_eq!(deletes.len(), 1);
    assert_eq!(
        (deletes[0].name.as_str(), deletes[0].grace_period_seconds),
        ("copy-1", Some(7))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_copy_through_the_planner_changes_only_the_copies() {
    let s = setup(3).await;
    let mut watcher = Watcher::new();
    watcher.start(SourceSpec::Kube(s.target(), Default::default()));
    watcher
        .until("the four pods", WAIT, |w| {
            w.cluster("k8s/ag").is_some_and(|c| c.members.len() == 4)
        })
        .await;
    let cluster = watcher.cluster("k8s/ag").unwrap().clone();
    let member = cluster
        .members
        .iter()
        .find(|m| m.name == "copy-0")
        .unwrap()
        .clone();
    let config = Config::default();
    let pctx = PlanContext {
        config: &config,
        faults: &[],
    };
    let mut draft = plan(Intent::Scale, &member, &cluster, &pctx).unwrap();
    assert_eq!(draft.question().unwrap().default, "4");
    draft.answer("5").unwrap();
    let (ctx, audit) = s.exec();
    let outcome = perform(&audit, &ctx, draft.into_action()).await;
    assert!(outcome.ok, "{}", outcome.message);
    assert_eq!((s.replicas("copy"), s.replicas("controlling")), (5, 1));
    watcher
        .until("five copies", WAIT, |w| {
            w.cluster("k8s/ag").is_some_and(|c| c.members.len() == 6)
        })
        .await;
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_follow_ctx_to_the_other_cluster() {
    let one = Emulator::start().await;
    one.add_nodes(&["node-1"]);
    one.create_statefulset("db", "apple", 1, &[("app", "apple")], 7000);
    let two = Emulator::start().await;
    two.add_nodes(&["node-1"]);
    two.create_statefulset("db", "berry", 1, &[("app", "berry")], 7000);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        k8s_emulator::kubeconfig(&[("one", &one, "db"), ("two", &two, "db")]),
    )
    .unwrap();
    let state = dir.path().join("state");
    let docker = format!("unix://{}/no-docker.sock", dir.path().display());
    let mut console = PtyConsole::spawn(
        &["--kube"],
        160,
        40,
        &[
            ("KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("CLUSTERDECK_STATE_DIR", state.to_str().unwrap()),
            ("DOCKER_HOST", &docker),
        ],
    );
    console.wait_for_text("apple-0", WAIT);
    console.send(":ctx two\r");
    console.wait_for("the other context", WAIT, |sc| {
        sc.contains("berry-0") && sc.contains("kube:two/db") && sc.contains("1 cluster, 1 member")
    });
    console.select_member("berry-0");
    console.send("s");
    console.wait_for_text("Replicas of StatefulSet db/berry", WAIT);
    console.send("3\r");
    console.wait_for_text("statefulsets/berry/scale", WAIT);
    console.send("y");
    console.wait_for("berry's new pods", WAIT, |sc| sc.contains("berry-2"));
    assert_eq!(two.requests(Verb::Patch, Kind::StatefulSet), 1);
    assert_eq!(
        one.mutating_requests(),
        0,
        "the first context is left alone"
    );
    console.send("q");
    console.wait_exit(WAIT);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_configured_remove_command_runs_in_the_pod_with_its_output_and_exit_code() {
    let s = setup(2).await;
    s.emu.script_exec(
        "/remove.sh",
        k8s_emulator::ExecScript {
            stdout: "left the cluster\n".into(),
            stderr: String::new(),
            exit_code: 0,
        },
    );
    s.emu.script_exec(
        "/broken.sh",
        k8s_emulator::ExecScript {
            stdout: String::new(),
            stderr: "no quorum\n".into(),
            exit_code: 3,
        },
    );
    let (ctx, audit) = s.exec();
    let remove = |program: &str| Action::RemoveInstance {
        member: "m".into(),
        instance: Instance::KubePod {
            namespace: "ag".into(),
            name: "copy-1".into(),
        },
        method: RemoveMethod::Exec {
            command: vec![program.into()],
            timeout_secs: 10,
        },
    };
    let outcome = perform(&audit, &ctx, remove("/remove.sh")).await;
    assert!(outcome.ok, "{}", outcome.message);
    assert!(
        outcome.message.contains("exited 0") && outcome.message.contains("left the cluster"),
        "{}",
        outcome.message
    );
    let outcome = perform(&audit, &ctx, remove("/broken.sh")).await;
    assert!(!outcome.ok);
    assert!(
        outcome.message.contains('3') && outcome.message.contains("no quorum"),
        "{}",
        outcome.message
    );
    let execs = s.emu.exec_requests();
    assert_eq!(execs.len(), 2);
    assert_eq!(execs[0].pod, "copy-1");
    assert!(
        s.emu.delete_requests(Kind::Pod).is_empty(),
        "exec deletes nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cordon_is_a_fault_healed_by_uncordoning() {
    let s = setup(1).await;
    let (ctx, audit) = s.exec();
    let unschedulable = |node: &str| {
        s.emu.read(|st| {
            st.get(Kind::Node, "", node).unwrap()["spec"]["unschedulable"].as_bool() == Some(true)
        })
    };
    let cordon = Action::Cordon {
        member: "m".into(),
        node: clusterdeck::actions::NodeRef::KubeNode {
            name: "node-1".into(),
        },
        mode: clusterdeck::actions::CordonMode::Pause,
        ttl_secs: 600,
    };
    let outcome = perform(&audit, &ctx, cordon.clone()).await;
    assert!(outcome.ok, "{}", outcome.message);
    assert!(unschedulable("node-1"));
    let records = ctx.ledger.records().unwrap();
    assert!(matches!(
        &records[..],
        [r] if matches!(&r.undo, Undo::KubeUncordon { node, .. } if node == "node-1")
    ));
    // Cordoning a cordoned node leaves nothing to heal.
    let outcome = perform(&audit, &ctx, cordon).await;
    assert!(
        outcome.message.contains("cordoned already"),
        "{}",
        outcome.message
    );
    assert_eq!(ctx.ledger.records().unwrap().len(), 1);

    heal(&ctx, &[records[0].id.clone()]).await.unwrap();
    assert!(!unschedulable("node-1"));
    assert!(ctx.ledger.records().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn clusterdeck_heal_sweeps_a_console_policy_the_ledger_lost() {
    let s = setup(2).await;
    let (ctx, audit) = s.exec();
    let isolate = Action::Disconnect {
        member: "m".into(),
        isolation: Isolation::KubePod {
            namespace: "ag".into(),
            pod: "copy-0".into(),
        },
        ttl_secs: 60,
    };
    assert!(perform(&audit, &ctx, isolate).await.ok);
    std::fs::remove_file(ctx.ledger.path()).unwrap();
    assert_eq!(s.policies().len(), 1);

    let (code, stdout, stderr) = run_binary(&s, &["heal", "--kube"]).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        stdout.contains("deleted NetworkPolicy ag/clusterdeck-isolate-copy-0"),
        "{stdout}"
    );
    assert!(s.policies().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn clusterdeck_heal_sweeps_even_with_a_damaged_ledger_and_keeps_it_aside() {
    let s = setup(2).await;
    let (ctx, audit) = s.exec();
    let isolate = Action::Disconnect {
        member: "m".into(),
        isolation: Isolation::KubePod {
            namespace: "ag".into(),
            pod: "copy-0".into(),
        },
        ttl_secs: 60,
    };
    assert!(perform(&audit, &ctx, isolate).await.ok);
    // As a disk that filled up under an older writer: the file is cut short.
    let text = std::fs::read_to_string(ctx.ledger.path()).unwrap();
    let cut = &text[..text.len() / 2];
    std::fs::write(ctx.ledger.path(), cut).unwrap();

    let (code, stdout, stderr) = run_binary(&s, &["heal", "--kube"]).await;
    assert_eq!(
        code, 1,
        "the lost records are reported: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stdout.contains("deleted NetworkPolicy ag/clusterdeck-isolate-copy-0"),
        "{stdout}"
    );
    assert!(s.policies().is_empty(), "swept without the ledger");
    let kept: Vec<_> = std::fs::read_dir(s.state())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().contains("faults.json.damaged-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(std::fs::read_to_string(&kept[0]).unwrap(), cut);
    assert!(
        stdout.contains(&format!("kept as {}", kept[0].display())),
        "{stdout}"
    );
}
