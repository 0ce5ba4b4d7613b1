//! The Kubernetes actions (`clusterdeck::actions::kube`) against the
//! emulated API server in `tests/k8s_emulator`, with a client made the way
//! the console makes it (kubeconfig, context, `connect`), and their effects
//! read back through the Kubernetes source's own watch where the console
//! would see them. Conditions are polled with deadlines, never slept for.

mod common;
mod k8s_emulator;

use std::path::PathBuf;
use std::time::Duration;

use clusterdeck::actions::kube::isolate::{FAULT_LABEL, MEMBER_ANNOTATION};
use clusterdeck::actions::kube::{
    Healed, IsolationRequest, KubeActionError, KubeActions, PodFate, PodSelection,
};
use clusterdeck::model::{Cluster, Member};
use clusterdeck::sources::SourceSpec;
use clusterdeck::sources::kube::client::connect;
use clusterdeck::sources::kube::{KubeTarget, Namespaces};
use common::Watcher;
use k8s_emulator::{Emulator, Kind, Verb};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);
const TIMEOUT: Duration = Duration::from_secs(5);

/// An emulator with two nodes, a kubeconfig for it, and actions through it.
struct Setup {
    emu: Emulator,
    kubeconfig: PathBuf,
    actions: KubeActions,
    _dir: tempfile::TempDir,
}

async fn setup(namespace: &str) -> Setup {
    let emu = Emulator::start().await;
    emu.add_nodes(&["node-1", "node-2"]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = emu.write_kubeconfig(dir.path(), "emulator", namespace);
    let connected = connect(&target(&kubeconfig, namespace), TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("connect to the emulator: {e}"));
    Setup {
        actions: KubeActions::new(connected.client, TIMEOUT),
        emu,
        kubeconfig,
        _dir: dir,
    }
}

fn target(kubeconfig: &std::path::Path, namespace: &str) -> KubeTarget {
    KubeTarget {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
        namespaces: Namespaces::Named(namespace.into()),
    }
}

fn watch(setup: &Setup, namespace: &str) -> Watcher {
    let mut watcher = Watcher::new();
    watcher.start(SourceSpec::Kube(
        target(&setup.kubeconfig, namespace),
        Default::default(),
    ));
    watcher
}

fn names(cluster: Option<&Cluster>) -> Vec<String> {
    let mut names: Vec<String> = cluster
        .map(|c| c.members.iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn member<'a>(cluster: Option<&'a Cluster>, name: &str) -> Option<&'a Member> {
    cluster.and_then(|c| c.members.iter().find(|m| m.name == name))
}

fn pod(emu: &Emulator, namespace: &str, name: &str) -> Option<Value> {
    emu.read(|s| s.get(Kind::Pod, namespace, name).cloned())
}

fn uid(emu: &Emulator, namespace: &str, name: &str) -> String {
    let pod = pod(emu, namespace, name).unwrap_or_else(|| panic!("no pod {name}"));
    pod["metadata"]["uid"].as_str().unwrap().to_string()
}

fn replicas(emu: &Emulator, namespace: &str, sts: &str) -> Value {
    emu.read(|s| s.get(Kind::StatefulSet, namespace, sts).cloned())
        .unwrap()["spec"]["replicas"]
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_up_shows_the_new_pods_through_the_sources_watch_and_back_down() {
    let s = setup("db").await;
    s.emu
        .create_statefulset("db", "graph", 2, &[("app", "graph")], 9080);
    let mut watcher = watch(&s, "db");
    watcher
        .until("two pods", WAIT, |w| {
            names(w.cluster("k8s/db/graph")).len() == 2
        })
        .await;
    s.emu.until_watching(Kind::Pod, WAIT).await;
    let lists = s.emu.requests(Verb::List, Kind::Pod);
    let watches = s.emu.requests(Verb::Watch, Kind::Pod);

    let change = s
        .actions
        .scale_statefulset("db", "graph", 5, Some(2))
        .await
        .unwrap();
    assert_eq!((change.previous, change.replicas), (Some(2), 5));
    assert_eq!(
        change.summary(),
        "StatefulSet db/graph scaled from 2 to 5 replicas"
    );
    watcher
        .until("five pods", WAIT, |w| {
            names(w.cluster("k8s/db/graph"))
                == ["graph-0", "graph-1", "graph-2", "graph-3", "graph-4"]
        })
        .await;
    assert_eq!(s.emu.requests(Verb::List, Kind::Pod), lists, "no re-list");
    assert_eq!(
        s.emu.requests(Verb::Watch, Kind::Pod),
        watches,
        "the same watch"
    );

    let change = s
        .actions
        .scale_statefulset("db", "graph", 2, Some(5))
        .await
        .unwrap();
    assert_eq!((change.previous, change.replicas), (Some(5), 2));
    watcher
        .until("two pods again", WAIT, |w| {
            names(w.cluster("k8s/db/graph")) == ["graph-0", "graph-1"]
        })
        .await;
    assert_eq!(
        s.emu.requests(Verb::List, Kind::Pod),
        lists,
        "still no re-list"
    );
    assert_eq!(
        s.emu.requests(Verb::Patch, Kind::StatefulSet),
        2,
        "one PATCH of the scale subresource per scale"
    );
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_allegrograph_copies_leaves_the_controlling_instance_alone() {
    let s = setup("ag").await;
    s.emu
        .create_statefulset("ag", "controlling", 1, &[("app", "controlling")], 10035);
    s.emu
        .create_statefulset("ag", "copy", 3, &[("app", "copy")], 10035);
    let controlling_uid = uid(&s.emu, "ag", "controlling-0");
    let mut watcher = watch(&s, "ag");
    watcher
        .until("one controlling and three copies", WAIT, |w| {
            names(w.cluster("k8s/ag")).len() == 4
        })
        .await;

    let change = s
        .actions
        .scale_statefulset("ag", "copy", 5, Some(3))
        .await
        .unwrap();
    assert_eq!((change.previous, change.replicas), (Some(3), 5));
    watcher
        .until("five copies", WAIT, |w| {
            names(w.cluster("k8s/ag"))
                == [
                    "controlling-0",
                    "copy-0",
                    "copy-1",
                    "copy-2",
                    "copy-3",
                    "copy-4",
                ]
        })
        .await;
    let cluster = watcher.cluster("k8s/ag");
    let controlling = member(cluster, "controlling-0").unwrap();
    assert!(controlling.leader, "the controlling instance still leads");
    assert_eq!(replicas(&s.emu, "ag", "controlling"), json!(1));
    assert_eq!(
        uid(&s.emu, "ag", "controlling-0"),
        controlling_uid,
        "the controlling pod is the same pod"
    );
    watcher.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cordoned_node_shows_in_the_sources_report_until_uncordoned() {
    let s = setup("db").await;
    s.emu
        .create_statefulset("db", "kv", 2, &[("app", "kv")], 2379);
    let mut watcher = watch(&s, "db");
    let on_node_1 = |w: &Watcher, cordoned: bool| {
        let members: Vec<&Member> = w
            .cluster("k8s/db/kv")
            .map(|c| c.members.iter().collect())
            .unwrap_or_default();
        let here: Vec<&&Member> = members
            .iter()
            .filter(|m| m.placement.node.as_deref() == Some("node-1"))
            .collect();
        members.len() == 2
            && !here.is_empty()
            && here.iter().all(|m| {
                (m.raw.get("node_cordoned").map(String::as_str) == Some("true")) == cordoned
            })
    };
    watcher
        .until("pods, one on node-1", WAIT, |w| on_node_1(w, false))
        .await;

    let change = s.actions.cordon("node-1").await.unwrap();
    assert!(!change.was_unschedulable && change.unschedulable && change.changed());
    watcher
        .until("node-1 cordoned in the report", WAIT, |w| {
            on_node_1(w, true)
        })
        .await;
    let again = s.actions.cordon("node-1").await.unwrap();
    assert!(!again.changed(), "cordoning twice changes nothing");

    let change = s.actions.uncordon("node-1").await.unwrap();
    assert!(change.was_unschedulable && !change.unschedulable);
    watcher
        .until("node-1 schedulable in the report", WAIT, |w| {
            on_node_1(w, false)
        })
        .await;
    let node = s.emu.read(|st| st.get(Kind::Node, "", "node-1").cloned());
    assert_eq!(
        node.unwrap()["spec"].get("unschedulable"),
        None,
        "uncordon removes the field"
    );
    watcher.stop().await;
}

fn isolation(namespace: &str, pod: &str, fault: &str) -> IsolationRequest {
    IsolationRequest {
        namespace: namespace.into(),
        pod: pod.into(),
        fault_id: fault.into(),
        expires_at: time::OffsetDateTime::now_utc() + time::Duration::minutes(5),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn isolating_a_pod_makes_a_deny_all_policy_that_heal_removes_and_find_sees() {
    let s = setup("db").await;
    s.emu
        .create_statefulset("db", "copy", 3, &[("app", "copy")], 10035);
    let mut watcher = watch(&s, "db");
    watcher
        .until("three pods", WAIT, |w| {
            names(w.cluster("k8s/db")).len() == 3
        })
        .await;

    let isolated = s
        .actions
        .isolate_pod(&isolation("db", "copy-1", "fault-42"))
        .await
        .unwrap();
    assert_eq!(isolated.policy, "clusterdeck-isolate-copy-1");
    assert_eq!(isolated.selection, PodSelection::PodNameLabel);
    let policy = s
        .emu
        .read(|st| st.get(Kind::NetworkPolicy, "db", &isolated.policy).cloned())
        .expect("the policy exists");
    assert_eq!(
        policy["spec"],
        json!({"podSelector": {"matchLabels": {"statefulset.kubernetes.io/pod-name": "copy-1"}},
               "policyTypes": ["Ingress", "Egress"]}),
        "exactly this pod, both directions, no rules"
    );
    let labels = &policy["metadata"]["labels"];
    assert_eq!(labels["app.kubernetes.io/managed-by"], "clusterdeck");
    assert_eq!(labels[FAULT_LABEL], "fault-42");
    assert_eq!(
        policy["metadata"]["annotations"][MEMBER_ANNOTATION],
        "db/copy-1"
    );
    watcher
        .until("copy-1 isolated in the report", WAIT, |w| {
            member(w.cluster("k8s/db"), "copy-1")
                .is_some_and(|m| m.raw.get("isolated_by") == Some(&isolated.policy))
        })
        .await;

    // Found by its label alone, as `clusterdeck heal` without a ledger would.
    for namespace in [Some("db"), None] {
        let found = s.actions.find_console_policies(namespace).await.unwrap();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].name, isolated.policy);
        assert_eq!(found[0].namespace, "db");
        assert_eq!(found[0].fault_id.as_deref(), Some("fault-42"));
        assert_eq!(found[0].member.as_deref(), Some("db/copy-1"));
        assert!(found[0].expires_at.is_some());
    }

    let healed = s.actions.heal_isolation("db", &isolated.policy).await;
    assert_eq!(healed.unwrap(), Healed::Removed);
    let again = s.actions.heal_isolation("db", &isolated.policy).await;
    assert_eq!(again.unwrap(), Healed::AlreadyGone, "a second heal is fine");
    assert!(
        s.actions
            .find_console_policies(None)
            .await
            .unwrap()
            .is_empty()
    );
    watcher
        .until("copy-1 no longer isolated", WAIT, |w| {
            member(w.cluster("k8s/db"), "copy-1")
                .is_some_and(|m| !m.raw.contains_key("isolated_by"))
        })
        .await;
    watcher.stop().await;
}

/// A bare pod (no StatefulSet, so no pod-name label) with these labels.
fn bare_pod(emu: &Emulator, namespace: &str, name: &str, labels: Value) {
    emu.edit(|st| {
        st.create(
            Kind::Pod,
            namespace,
            json!({"metadata": {"name": name, "labels": labels},
                   "spec": {"containers": [{"name": "main", "image": "registry.invalid/tool:1"}]}}),
        )
    })
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_without_the_pod_name_label_is_selected_by_all_its_labels_only_when_they_are_unique()
{
    let s = setup("db").await;
    bare_pod(
        &s.emu,
        "db",
        "tool-a",
        json!({"app": "tool", "instance": "a"}),
    );
    let isolated = s
        .actions
        .isolate_pod(&isolation("db", "tool-a", "fault-1"))
        .await
        .unwrap();
    assert_eq!(isolated.selection, PodSelection::AllLabels);
    assert!(
        isolated.summary().contains("as it has no pod-name label"),
        "{}",
        isolated.summary()
    );
    let policy = s
        .emu
        .read(|st| st.get(Kind::NetworkPolicy, "db", &isolated.policy).cloned())
        .unwrap();
    assert_eq!(
        policy["spec"]["podSelector"],
        json!({"matchLabels": {"app": "tool", "instance": "a"}})
    );

    // Two pods share these labels: a policy would cut off both, so none is made.
    bare_pod(&s.emu, "db", "web-1", json!({"app": "web"}));
    bare_pod(&s.emu, "db", "web-2", json!({"app": "web"}));
    let creates = s.emu.requests(Verb::Create, Kind::NetworkPolicy);
    let e = s
        .actions
        .isolate_pod(&isolation("db", "web-1", "fault-2"))
        .await
        .unwrap_err();
    assert!(matches!(e, KubeActionError::Refused { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("Pod db/web-1") && text.contains("web-2"),
        "{text}"
    );
    assert_eq!(s.emu.requests(Verb::Create, Kind::NetworkPolicy), creates);
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_a_pod_asks_its_grace_period_and_the_controller_replaces_it() {
    let s = setup("db").await;
    s.emu
        .create_statefulset("db", "copy", 3, &[("app", "copy")], 10035);
    let old = uid(&s.emu, "db", "copy-1");

    let deletion = s.actions.delete_pod("db", "copy-1", 2).await.unwrap();
    assert_eq!(deletion.uid.as_deref(), Some(old.as_str()));
    let asked = s.emu.delete_requests(Kind::Pod);
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert_eq!(asked[0].name, "copy-1");
    assert_eq!(asked[0].uid, old);
    assert_eq!(
        asked[0].grace_period_seconds,
        Some(2),
        "the grace period asked"
    );

    let fate = s
        .actions
        .wait_pod_gone("db", "copy-1", &old, WAIT)
        .await
        .unwrap();
    if let PodFate::Replaced { uid } = &fate {
        assert_ne!(uid, &old);
    }
    let new = s
        .actions
        .wait_pod_replaced("db", "copy-1", &old, WAIT)
        .await
        .unwrap();
    assert_ne!(new, old, "a new pod");
    assert_eq!(uid(&s.emu, "db", "copy-1"), new);
    assert!(
        pod(&s.emu, "db", "copy-1").unwrap()["metadata"]
            .get("deletionTimestamp")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_are_typed_errors_naming_the_object_and_the_status() {
    let s = setup("db").await;
    s.emu
        .create_statefulset("db", "copy", 2, &[("app", "copy")], 10035);

    let e = s
        .actions
        .scale_statefulset("db", "nope", 3, None)
        .await
        .unwrap_err();
    assert!(matches!(e, KubeActionError::NotFound { .. }), "{e:?}");
    assert_eq!(e.object().to_string(), "StatefulSet db/nope");
    let text = e.to_string();
    assert!(
        text.contains("StatefulSet db/nope") && text.contains("HTTP 404"),
        "{text}"
    );

    let e = s
        .actions
        .scale_statefulset("db", "copy", -1, None)
        .await
        .unwrap_err();
    assert!(matches!(e, KubeActionError::Invalid { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("StatefulSet db/copy")
            && text.contains("HTTP 422")
            && text.contains("spec.replicas"),
        "{text}"
    );
    assert_eq!(replicas(&s.emu, "db", "copy"), json!(2), "nothing changed");

    s.actions
        .isolate_pod(&isolation("db", "copy-0", "fault-1"))
        .await
        .unwrap();
    let e = s
        .actions
        .isolate_pod(&isolation("db", "copy-0", "fault-2"))
        .await
        .unwrap_err();
    match &e {
        KubeActionError::AlreadyIsolated { policy, .. } => {
            assert_eq!(policy, "clusterdeck-isolate-copy-0")
        }
        other => panic!("expected AlreadyIsolated, got {other:?}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("Pod db/copy-0") && text.contains("HTTP 409"),
        "{text}"
    );

    s.emu
        .inject_failure(Some(Verb::Patch), Some(Kind::Node), 500, 1);
    let e = s.actions.cordon("node-1").await.unwrap_err();
    assert_eq!(e.http_status(), Some(500));
    let text = e.to_string();
    assert!(
        text.contains("Node node-1") && text.contains("HTTP 500"),
        "{text}"
    );

    let e = s.actions.delete_pod("db", "nowhere", 1).await.unwrap_err();
    assert!(matches!(e, KubeActionError::NotFound { .. }), "{e:?}");
    assert_eq!(e.object().to_string(), "Pod db/nowhere");

    let e = s
        .actions
        .isolate_pod(&isolation("db", "copy-1", "not a label"))
        .await
        .unwrap_err();
    assert!(matches!(e, KubeActionError::Refused { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_never_answers_is_a_timeout_naming_the_object() {
    // Accepts connections (the kernel's backlog does) but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = kube::Config::new(
        format!("http://{}", silent.local_addr().unwrap())
            .parse()
            .unwrap(),
    );
    config.auth_info = Default::default();
    let client = kube::Client::try_from(config).unwrap();
    let actions = KubeActions::new(client, Duration::from_millis(300));
    let e = actions.cordon("node-1").await.unwrap_err();
    assert!(matches!(e, KubeActionError::Timeout { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "Node node-1: no answer from the API server within 300ms"
    );
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_never_carry_the_token() {
    let s = setup("db").await;
    s.emu.inject_failure(None, None, 500, 10);
    let errors = [
        s.actions
            .scale_statefulset("db", "copy", 1, None)
            .await
            .unwrap_err(),
        s.actions.cordon("node-1").await.unwrap_err(),
        s.actions.delete_pod("db", "copy-0", 1).await.unwrap_err(),
        s.actions.find_console_policies(None).await.unwrap_err(),
    ];
    for e in errors {
        let text = format!("{e} {e:?}");
        assert!(!text.contains("emulator-secret-token"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_command_runs_in_the_pod_through_exec() {
    use k8s_emulator::ExecScript;
    let s = setup("db").await;
    s.emu
        .create_statefulset("db", "copy", 2, &[("app", "copy")], 10035);
    s.emu.script_exec(
        "/opt/db/remove-instance",
        ExecScript {
            stdout: "left the cluster\n".into(),
            ..ExecScript::default()
        },
    );
    s.emu.script_exec(
        "/opt/db/refuse",
        ExecScript {
            stderr: "this instance leads; fail over first\n".into(),
            exit_code: 3,
            ..ExecScript::default()
        },
    );
    let command = |words: &[&str]| words.iter().map(|w| w.to_string()).collect::<Vec<_>>();

    let out = s
        .actions
        .exec_in_pod(
            "db",
            "copy-1",
            Some("main"),
            &command(&["/opt/db/remove-instance", "--graceful"]),
            WAIT,
        )
        .await
        .unwrap();
    assert_eq!(out.stdout, "left the cluster\n");
    let ran = s.emu.exec_requests();
    assert_eq!(ran.len(), 1);
    assert_eq!(ran[0].pod, "copy-1");
    assert_eq!(ran[0].container.as_deref(), Some("main"));
    assert_eq!(ran[0].command, ["/opt/db/remove-instance", "--graceful"]);

    let e = s
        .actions
        .exec_in_pod("db", "copy-0", None, &command(&["/opt/db/refuse"]), WAIT)
        .await
        .unwrap_err();
    match &e {
        KubeActionError::CommandFailed {
            exit_code, stderr, ..
        } => {
            assert_eq!(*exit_code, 3);
            assert_eq!(stderr, "this instance leads; fail over first");
        }
        other => panic!("expected CommandFailed, got {other:?}"),
    }
    assert!(
        e.to_string()
            .starts_with("Pod db/copy-0: the command exited with code 3")
    );

    let e = s
        .actions
        .exec_in_pod("db", "copy-0", None, &command(&["/no/such"]), WAIT)
        .await
        .unwrap_err();
    assert_eq!(e.http_status(), Some(500), "{e}");
    assert!(e.to_string().contains("executable file not found"), "{e}");
    let e = s
        .actions
        .exec_in_pod("db", "nowhere", None, &command(&["echo"]), WAIT)
        .await
        .unwrap_err();
    assert!(matches!(e, KubeActionError::NotFound { .. }), "{e:?}");
}
