//! `d`, `l` and `e` on a pod, end to end: the real binary in a
//! pseudo-terminal against the emulated API server in `tests/k8s_emulator`.
//! Pods there are not processes: describe is the real thing (a GET of the
//! pod), while logs and a shell can only be followed to the request and
//! the emulator's answer (it serves no `log` subresource; its `exec` runs
//! nothing, and kubectl stops earlier: the emulator serves no API
//! discovery). Conditions are polled with deadlines.

mod common;
mod k8s_emulator;

use std::time::Duration;

use common::pty::PtyConsole;
use k8s_emulator::{Emulator, Kind};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

struct Setup {
    emu: Emulator,
    dir: tempfile::TempDir,
}

/// One StatefulSet `copy` of one pod in `ag`, its pod carrying managed
/// fields and a label with a terminal sequence in it.
async fn setup() -> Setup {
    let emu = Emulator::start().await;
    emu.add_nodes(&["node-1"]);
    emu.create_statefulset("ag", "copy", 1, &[("app", "copy")], 6379);
    emu.edit(|s| {
        s.update(Kind::Pod, "ag", "copy-0", |pod| {
            pod["metadata"]["managedFields"] = json!([{"manager": "kubectl-client-side-apply"}]);
            pod["metadata"]["annotations"] = json!({"note": "evil \u{1b}]52;c;aGk=\u{7} end"});
        })
    })
    .expect("the pod is there to edit");
    Setup {
        emu,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    fn console(&self) -> PtyConsole {
        let kubeconfig = self.emu.write_kubeconfig(self.dir.path(), "emulator", "ag");
        let state = self.dir.path().join("state");
        let docker = format!("unix://{}/no-docker.sock", self.dir.path().display());
        let mut console = PtyConsole::spawn(
            &["--kube"],
            160,
            45,
            &[
                ("KUBECONFIG", kubeconfig.to_str().unwrap()),
                ("CLUSTERDECK_STATE_DIR", state.to_str().unwrap()),
                ("DOCKER_HOST", &docker),
            ],
        );
        console.wait_for("the pod", WAIT, |s| s.contains("copy-0"));
        console.select_member("copy-0");
        console
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn d_describes_the_pod_without_managed_fields_and_escaped() {
    let s = setup().await;
    let mut c = s.console();
    c.send("d");
    let screen = c.wait_for("the pod as YAML", WAIT, |sc| {
        sc.contains("describe pod ag/copy-0") && sc.contains("name: copy-0")
    });
    assert!(screen.contains("kind: Pod"), "{screen}");
    assert!(!screen.contains("managedFields"), "{screen}");
    // YAML writes the control characters as its own escapes; nothing raw
    // reaches the terminal either way.
    assert!(
        screen.contains(r#"note: "evil \e]52;c;aGk=\a end""#),
        "{screen}"
    );
    c.send("q");
    c.wait_for("the view closed", WAIT, |sc| !sc.contains("describe pod"));
    c.send("q");
    c.wait_exit(WAIT);
}

#[tokio::test(flavor = "multi_thread")]
async fn l_asks_for_the_pod_log_and_shows_the_servers_answer() {
    let s = setup().await;
    let mut c = s.console();
    c.send("l");
    let screen = c.wait_for("the log request's answer", WAIT, |sc| {
        sc.contains("logs of pod ag/copy-0: HTTP 404")
    });
    assert!(
        screen.contains("logs pod ag/copy-0 · tail 500 · since all"),
        "{screen}"
    );
    // p asks again for the previous container's log.
    c.send("p");
    c.wait_for_text("· previous container", WAIT);
    c.send("q");
    c.wait_for("the view closed", WAIT, |sc| !sc.contains("logs pod"));
    c.send("q");
    c.wait_exit(WAIT);
}

#[tokio::test(flavor = "multi_thread")]
async fn e_runs_kubectl_exec_on_the_pod_and_the_console_comes_back() {
    let kubectl = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output();
    assert!(
        kubectl.is_ok_and(|o| o.status.success()),
        "this test runs kubectl: install it (it is on the machine image; else a kubectl binary on PATH)"
    );
    let s = setup().await;
    let mut c = s.console();
    c.send("e");
    let confirm = c.wait_for_text("y/N", WAIT);
    assert!(
        confirm.contains("kubectl exec -it -n ag copy-0") && confirm.contains("-- sh`?"),
        "{confirm}"
    );
    c.send("y");
    c.wait_for("the console back after kubectl", WAIT, |sc| {
        sc.contains("Clusters") && sc.contains("shell in copy-0 ended")
    });
    assert!(c.on_alternate_screen());
    c.send("q");
    c.wait_exit(WAIT);
    // kubectl ran on the console's kubeconfig, against the emulator, and
    // stopped at its API discovery, which the emulator does not serve; its
    // error stayed on the terminal's main screen.
    let main_screen = c.screen();
    assert!(
        main_screen.contains("couldn't get current server API group list"),
        "{main_screen}"
    );
}
