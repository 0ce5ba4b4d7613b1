//! The console against a real Kubernetes control plane (kube-apiserver and
//! kube-controller-manager v1.20.2 built from Debian's source, Debian's etcd,
//! stand-ins for the kubelet: see `tests/common/real_kube.rs`). Every test
//! has its own control plane; what the console asked the server is read from
//! the server's own audit log. Conditions are polled with deadlines.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pty::PtyConsole;
use common::real_kube::ControlPlane;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

/// Runs `clusterdeck ARGS` as `user`, with nothing else on offer.
async fn run_as(plane: &ControlPlane, user: &str, args: &[&str]) -> (i32, String, String) {
    let kubeconfig = plane.kubeconfig(user);
    common::run_clusterdeck(args, &[("KUBECONFIG", kubeconfig.as_os_str())]).await
}

fn snapshot_json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("snapshot JSON: {e}\n{stdout}"))
}

/// `watch --events` as a child process whose lines are collected.
struct EventWatch {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    _state: tempfile::TempDir,
}

impl EventWatch {
    fn start(plane: &ControlPlane, user: &str) -> EventWatch {
        let state = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_clusterdeck"))
            .args(["watch", "--events", "--kube", "--read-only"])
            .env("KUBECONFIG", plane.kubeconfig(user))
            .env("CLUSTERDECK_STATE_DIR", state.path())
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env_remove("REDIS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start clusterdeck watch");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        EventWatch {
            child,
            lines,
            _state: state,
        }
    }

    /// Started, and the pods listed (copy-1 added).
    fn listed(plane: &ControlPlane, user: &str) -> EventWatch {
        let watch = EventWatch::start(plane, user);
        watch.wait_for("copy-1 listed", WAIT, |e| {
            e["kind"] == "member_added" && e["details"]["name"] == "copy-1"
        });
        watch
    }

    fn events(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until some event satisfies `pred`; returns it.
    fn wait_for(&self, what: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(e) = self.events().into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}; events:\n{}",
                self.summary()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn summary(&self) -> String {
        self.events()
            .iter()
            .map(|e| format!("{} {} {}", e["kind"], e["member"], e["details"]))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for EventWatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is(kind: &str) -> impl Fn(&Value) -> bool + '_ {
    move |e: &Value| e["kind"] == kind
}

/// Events about pod `name` (by its id or its name).
fn about(events: &[Value], name: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["details"]["name"] == name || e["member"] == name)
        .map(|e| e["kind"].as_str().unwrap_or("-").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_allegrograph_layout_on_a_real_api_server() {
    let plane = ControlPlane::start();
    plane.allegrograph(3);
    let (code, stdout, stderr) = run_as(&plane, "operator", &["snapshot", "--kube"]).await;
    assert_eq!(code, 0, "stderr: {stderr}\nstdout: {stdout}");
    let doc = snapshot_json(&stdout);
    let clusters = doc["clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 1, "{doc:#}");
    let members = clusters[0]["members"].as_array().unwrap();
    let mut names: Vec<(String, String)> = members
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().into(),
                m["tier"].as_str().unwrap().into(),
            )
        })
        .collect();
    names.sort();
    let expected = [
        ("controlling-0", "master"),
        ("copy-0", "copy"),
        ("copy-1", "copy"),
        ("copy-2", "copy"),
    ]
    .map(|(n, t)| (n.to_string(), t.to_string()));
    assert_eq!(names, expected);
    let leader = members.iter().find(|m| m["leader"] == true).unwrap();
    assert_eq!(leader["name"], "controlling-0");
    assert_eq!(leader["placement"]["node"], "node-1");
    assert!(members.iter().all(|m| m["health"] == "ok"), "{doc:#}");
    assert_eq!(doc["sources"][0]["status"], "ok");
    let token = std::fs::read_to_string(plane.dir().join("pki/token-operator")).unwrap();
    assert!(!stdout.contains(&token) && !stderr.contains(&token));
    assert_eq!(plane.mutations("operator"), Vec::<String>::new());
    // The console names itself to the server.
    let agents: Vec<String> = plane
        .audit("operator")
        .iter()
        .map(|e| e["userAgent"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(!agents.is_empty());
    let ours = format!("clusterdeck/{}", env!("CARGO_PKG_VERSION"));
    assert!(agents.iter().all(|a| *a == ours), "user agents: {agents:?}");
}

/// The console in a pseudo-terminal as `user`.
fn console(plane: &ControlPlane, user: &str, state: &Path, extra: &[&str]) -> PtyConsole {
    let mut args = vec!["--kube"];
    args.extend_from_slice(extra);
    let kubeconfig = plane.kubeconfig(user);
    PtyConsole::spawn(
        &args,
        160,
        40,
        &[
            ("KUBECONFIG", kubeconfig.to_str().unwrap()),
            ("CLUSTERDECK_STATE_DIR", state.to_str().unwrap()),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    )
}

/// `s` on copy-0, 4 replicas, y; the real controller makes copy-3 and the
/// kubelet stand-in runs it. Returns what `user` changed on the server.
fn scale_copies_to_four(plane: &ControlPlane, user: &str) -> Vec<String> {
    let state = tempfile::tempdir().unwrap();
    let mut console = console(plane, user, state.path(), &[]);
    console.wait_for("the pods", WAIT, |sc| {
        sc.contains("copy-2") && sc.contains("controlling-0")
    });
    console.select_member("copy-0");
    console.send("s");
    console.wait_for_text("Replicas of StatefulSet ag/copy", WAIT);
    console.send("4\r");
    console.wait_for_text("statefulsets/copy/scale", WAIT);
    console.send("y");
    console.wait_for("copy-3 on screen", WAIT, |sc| sc.contains("copy-3"));
    plane.wait_running("copy-3 running", 5);
    console.send("q");
    console.wait_exit(WAIT);
    plane.mutations(user)
}

#[tokio::test(flavor = "multi_thread")]
async fn scaling_in_the_console_is_one_patch_of_the_scale_subresource() {
    let plane = ControlPlane::start();
    plane.allegrograph(3);
    let changes = scale_copies_to_four(&plane, "operator");
    assert_eq!(changes, ["patch statefulsets/scale 200"]);
    let scale_reads = plane
        .audit("operator")
        .iter()
        .filter(|e| e["verb"] == "get" && e["objectRef"]["subresource"] == "scale")
        .count();
    assert_eq!(scale_reads, 0, "the current count comes from the watch");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_allowed_only_to_patch_the_scale_can_scale() {
    let plane = ControlPlane::start();
    plane.allegrograph(3);
    let changes = scale_copies_to_four(&plane, "scaler");
    assert_eq!(changes, ["patch statefulsets/scale 200"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_pod_is_one_member_from_pending_to_running() {
    let plane = ControlPlane::start();
    plane.allegrograph(2);
    let watch = EventWatch::listed(&plane, "operator");
    plane.patch(
        "/apis/apps/v1/namespaces/ag/statefulsets/copy/scale",
        &serde_json::json!({"spec": {"replicas": 3}}),
    );
    // The pod is created Pending (no IP, no node), then bound and run.
    watch.wait_for("copy-2 added", WAIT, |e| {
        e["kind"] == "member_added" && e["details"]["name"] == "copy-2"
    });
    plane.wait_running("copy-2 running", 4);
    watch.wait_for("copy-2 seen running", WAIT, |e| {
        (e["details"]["name"] == "copy-2" || e["member"] == "copy-2")
            && (e["kind"] == "health_changed" || e["kind"] == "member_removed")
    });
    let events = watch.events();
    let kinds = about(&events, "copy-2");
    assert_eq!(
        kinds.iter().filter(|k| *k == "member_added").count(),
        1,
        "{kinds:?}\n{}",
        watch.summary()
    );
    assert!(!kinds.contains(&"member_removed".to_string()), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_console_sends_no_mutating_request() {
    let plane = ControlPlane::start();
    plane.allegrograph(2);
    let state = tempfile::tempdir().unwrap();
    let mut console = console(&plane, "operator", state.path(), &["--read-only"]);
    console.wait_for_text("copy-1", WAIT);
    console.select_member("copy-0");
    // Were a key to open a dialog, "4", Enter and "y" would answer and confirm it.
    for key in ["s", "c", "C", "n", "N", "x", "H"] {
        console.send(key);
        console.send("4\r");
        console.send("y");
    }
    console.send(":scale 5\r");
    console.wait_for_text("unknown command: scale", WAIT);
    // Esc on its own: followed at once by a key, it would read as Alt+key.
    console.send("\x1b");
    console.wait_for("the key hints back", WAIT, |sc| sc.contains("q quit"));
    console.send("q");
    console.wait_exit(WAIT);
    assert_eq!(plane.mutations("operator"), Vec::<String>::new());
    assert!(!plane.audit("operator").is_empty(), "the console did read");
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_resources_are_said_once_and_retried_rarely() {
    let plane = ControlPlane::start();
    plane.allegrograph(2);
    // podsonly may read pods and StatefulSets, not nodes or NetworkPolicies.
    let watch = EventWatch::listed(&plane, "podsonly");
    let started = Instant::now();
    // Long enough for a retry loop of about one a second to show.
    plane.wait_for("20 s of watching", Duration::from_secs(30), |_| {
        started.elapsed() >= Duration::from_secs(20)
    });
    let lists = |resource: &str| {
        plane
            .audit("podsonly")
            .iter()
            .filter(|e| e["objectRef"]["resource"] == resource && e["verb"] == "list")
            .count()
    };
    assert!(lists("nodes") <= 2, "nodes listed {} times", lists("nodes"));
    assert!(
        lists("networkpolicies") <= 2,
        "{}",
        lists("networkpolicies")
    );
    let events = watch.events();
    assert!(
        !events.iter().any(|e| e["kind"] == "source_error"),
        "a forbidden detail is not the source failing:\n{}",
        watch.summary()
    );
    let (code, stdout, _) = run_as(&plane, "podsonly", &["snapshot", "--kube"]).await;
    assert_eq!(code, 0, "{stdout}");
    let doc = snapshot_json(&stdout);
    let source = &doc["sources"][0];
    assert_eq!(source["status"], "ok", "{doc:#}");
    let notes = source["notes"].as_array().cloned().unwrap_or_default();
    let text: Vec<&str> = notes.iter().filter_map(Value::as_str).collect();
    assert!(
        text.iter()
            .any(|n| n.contains("nodes") && n.contains("podsonly")),
        "the source says which resource this user cannot see: {doc:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_with_no_rights_gets_one_line_naming_user_and_resource() {
    let plane = ControlPlane::start();
    plane.allegrograph(1);
    // Without the viewers' binding, viewer is known to the server and may do nothing.
    plane
        .curl(
            "admin",
            "DELETE",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/clusterdeck-viewers",
            None,
        )
        .expect("remove the viewers' binding");
    let (code, stdout, stderr) = run_as(
        &plane,
        "viewer",
        &["snapshot", "--kube", "--timeout", "10s"],
    )
    .await;
    assert_eq!(code, 1, "stdout: {stdout}\nstderr: {stderr}");
    let doc = snapshot_json(&stdout);
    let error = doc["sources"][0]["error"].as_str().unwrap_or_default();
    assert!(
        !error.contains("Status {") && !error.contains('\n'),
        "{error}"
    );
    assert!(
        error.contains("viewer") && error.contains("pods"),
        "{error}"
    );
    assert!(error.contains("forbidden"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_server_restart_clears_the_error_when_the_watches_are_back() {
    let mut plane = ControlPlane::start();
    plane.allegrograph(2);
    let watch = EventWatch::listed(&plane, "operator");
    plane.stop_apiserver();
    watch.wait_for("source_error", WAIT, is("source_error"));
    plane.restart_apiserver();
    watch.wait_for("source_recovered", WAIT, is("source_recovered"));
    let kinds = watch.events();
    assert!(
        !kinds.iter().any(|e| e["kind"] == "member_removed"),
        "{}",
        watch.summary()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compaction_while_the_server_is_away_is_a_relist_without_lost_members() {
    let mut plane = ControlPlane::start();
    plane.allegrograph(2);
    let watch = EventWatch::listed(&plane, "operator");
    plane.stop_apiserver();
    watch.wait_for("source_error", WAIT, is("source_error"));
    // A compaction past the versions the console holds: watching again from
    // where it was is 410 Gone, so it must re-list.
    plane.compact_etcd();
    plane.restart_apiserver();
    watch.wait_for("source_recovered", WAIT, is("source_recovered"));
    // Then a change arrives through the new watch.
    plane.patch(
        "/apis/apps/v1/namespaces/ag/statefulsets/copy/scale",
        &serde_json::json!({"spec": {"replicas": 3}}),
    );
    watch.wait_for("copy-2 added", WAIT, |e| {
        e["kind"] == "member_added" && e["details"]["name"] == "copy-2"
    });
    let events = watch.events();
    for pod in ["controlling-0", "copy-0", "copy-1"] {
        assert_eq!(about(&events, pod), ["member_added"], "{}", watch.summary());
    }
}

/// The ledger of a console run with `state`, as `clusterdeck heal` reads it.
fn ledger_records(state: &Path) -> usize {
    clusterdeck::actions::FaultLedger::in_dir(state.to_path_buf())
        .records()
        .map(|r| r.len())
        .unwrap_or(0)
}

fn policies(plane: &ControlPlane) -> usize {
    plane
        .get(
            "admin",
            "/apis/networking.k8s.io/v1/namespaces/ag/networkpolicies",
        )
        .map(|l| l["items"].as_array().map_or(0, Vec::len))
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_isolation_left_by_a_killed_console_is_healed_by_clusterdeck_heal() {
    let plane = ControlPlane::start();
    plane.allegrograph(2);
    let state = tempfile::tempdir().unwrap();
    let mut console = console(&plane, "operator", state.path(), &[]);
    console.wait_for_text("copy-1", WAIT);
    console.select_member("copy-1");
    console.send("n");
    console.wait_for_text("Heal (delete the policy) after", WAIT);
    console.send("\r");
    console.wait_for_text("clusterdeck-isolate-copy-1", WAIT);
    console.send("y");
    plane.wait_for("the policy", WAIT, |p| policies(p) == 1);
    let recorded = Instant::now() + WAIT;
    while ledger_records(state.path()) != 1 {
        assert!(Instant::now() < recorded, "no ledger record");
        std::thread::sleep(Duration::from_millis(50));
    }
    console.signal(libc::SIGKILL);
    console.wait_exit(WAIT);
    assert_eq!(policies(&plane), 1, "a killed console heals nothing");

    let kubeconfig = plane.kubeconfig("operator");
    let env = [
        ("KUBECONFIG", kubeconfig.as_os_str()),
        ("CLUSTERDECK_STATE_DIR", state.path().as_os_str()),
    ];
    let (code, stdout, stderr) = common::run_clusterdeck(&["heal"], &env).await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("healed fault-"), "{stdout}");
    assert_eq!(policies(&plane), 0);
    assert_eq!(ledger_records(state.path()), 0);
    assert_eq!(
        plane.mutations("operator"),
        ["create networkpolicies 201", "delete networkpolicies 200"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cordon_and_uncordon_a_node_from_the_console() {
    let plane = ControlPlane::start();
    plane.allegrograph(1);
    let unschedulable = |p: &ControlPlane| {
        p.get("admin", "/api/v1/nodes/node-1")
            .is_ok_and(|n| n["spec"]["unschedulable"] == true)
    };
    let state = tempfile::tempdir().unwrap();
    let mut console = console(&plane, "operator", state.path(), &[]);
    console.wait_for_text("copy-0", WAIT);
    console.select_member("copy-0");
    console.send("c");
    console.wait_for_text("Heal (uncordon) after", WAIT);
    console.send("\r");
    console.wait_for_text("y/N", WAIT);
    console.send("y");
    plane.wait_for("node-1 cordoned", WAIT, |p| unschedulable(p));
    console.send("C");
    console.wait_for_text("y/N", WAIT);
    console.send("y");
    plane.wait_for("node-1 uncordoned", WAIT, |p| !unschedulable(p));
    console.send("q");
    console.wait_exit(WAIT);
    assert_eq!(
        plane.mutations("operator"),
        ["patch nodes 200", "patch nodes 200"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_instance_deletes_the_pod_with_the_grace_period_asked() {
    let plane = ControlPlane::start();
    plane.allegrograph(2);
    let state = tempfile::tempdir().unwrap();
    let mut console = console(&plane, "operator", state.path(), &[]);
    console.wait_for_text("copy-1", WAIT);
    console.select_member("copy-1");
    console.send("x");
    console.wait_for_text("Grace period for pod ag/copy-1", WAIT);
    console.send(&"\x7f".repeat(8)); // Backspace over the prefilled answer
    console.send("7s\r");
    console.wait_for_text("y/N", WAIT);
    console.send("y");
    plane.wait_for("the delete in the audit log", WAIT, |p| {
        !p.mutations("operator").is_empty()
    });
    let deletes: Vec<Value> = plane
        .audit("operator")
        .into_iter()
        .filter(|e| e["verb"] == "delete" && e["objectRef"]["resource"] == "pods")
        .collect();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0]["objectRef"]["name"], "copy-1");
    assert_eq!(deletes[0]["requestObject"]["gracePeriodSeconds"], 7);
    // The controller makes copy-1 again once the kubelet finished the deletion.
    plane.wait_running("copy-1 back", 3);
    console.send("q");
    console.wait_exit(WAIT);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configured_remove_command_runs_in_the_pod_through_exec() {
    let plane = ControlPlane::start();
    plane.allegrograph(2);
    let state = tempfile::tempdir().unwrap();
    let config = state.path().join("clusterdeck.yaml");
    // The kubelet stand-in answers "ran: <command>" and exits with N for "exit=N".
    std::fs::write(
        &config,
        "clusters:\n  - name: graph\n    match:\n      names: [\"controlling*\", \"copy*\"]\n    master:\n      names: [\"controlling*\"]\n    \
         copy:\n      names: [\"copy*\"]\n    remove:\n      \
         exec: [\"/bin/sh\", \"-c\", \"remove-instance.sh exit=3\"]\n      grace: 10s\n",
    )
    .unwrap();
    let mut console = console(
        &plane,
        "operator",
        state.path(),
        &["--config", config.to_str().unwrap()],
    );
    console.wait_for_text("copy-1", WAIT);
    console.select_member("copy-1");
    console.send("x");
    console.wait_for_text("remove-instance.sh", WAIT);
    console.send("y");
    // The exit code and the output the command gave, from inside the pod.
    console.wait_for("the command's outcome", WAIT, |sc| {
        sc.contains("exited with code 3") && sc.contains("failing with 3 as asked")
    });
    console.send("q");
    console.wait_exit(WAIT);
    let execs: Vec<Value> = plane
        .audit("operator")
        .into_iter()
        .filter(|e| e["objectRef"]["subresource"] == "exec")
        .collect();
    assert_eq!(execs.len(), 1, "one exec");
    assert_eq!(execs[0]["objectRef"]["name"], "copy-1");
    let uri = execs[0]["requestURI"].as_str().unwrap_or_default();
    assert!(uri.contains("remove-instance.sh"), "{uri}");
    assert_eq!(plane.running_pods().len(), 3, "exec deletes nothing");
}
