//! A real Kubernetes control plane on 127.0.0.1 for the tests: Debian's etcd,
//! kube-apiserver and kube-controller-manager v1.20.2 built from Debian's
//! source package by `scripts/real-kube/build.sh` (cached outside the clone),
//! and two stand-ins for the kubelet (`scripts/real-kube/fake-kubelet*.py`):
//! one binds pods to `node-1`, gives them a 127.0.0.x IP and readiness and
//! finishes deletions after their grace period; the other answers `exec`.
//!
//! Each [`ControlPlane`] is a test's own: its folder, free ports, static
//! tokens for a few users (`admin` for the test's own setup, `operator` for
//! the console, `viewer`, `podsonly` and `scaler` limited by RBAC), and an
//! audit log to count what each user asked. Its processes are killed when it
//! is dropped, even when the test fails, and die with the test process
//! (`PR_SET_PDEATHSIG`) if that is killed.
//!
//! A missing binary fails the test with what to install and build.

#![allow(dead_code)]

use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What to run when the control plane's parts are missing.
pub const BUILD_HINT: &str = "apt-get install -y golang-1.19-go etcd-server etcd-client \
     golang-github-modern-go-reflect2-dev openssl python3, then scripts/real-kube/build.sh \
     (about 7 min cold; cached in ~/.cache/clusterdeck/real-kube)";

/// The API server version these tests run against.
pub const SERVER_VERSION: &str = "v1.20.2";

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/real-kube")
}

/// The folder holding the built binaries, or a panic saying how to get them.
fn binaries() -> PathBuf {
    let out = Command::new(scripts().join("build.sh"))
        .arg("--check")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/real-kube/build.sh: {e}"));
    if !out.status.success() {
        panic!(
            "no real kube-apiserver here: {}\n{BUILD_HINT}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn require(program: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "{program} is not installed: {BUILD_HINT}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// One running control plane.
pub struct ControlPlane {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub api_port: u16,
    etcd_port: u16,
    etcd_peer_port: u16,
    kubelet_port: u16,
    children: Vec<(&'static str, Child)>,
}

impl ControlPlane {
    /// Starts etcd, the API server, the controller manager and the kubelet
    /// stand-ins; returns once the API server is ready and node-1 is Ready.
    pub fn start() -> ControlPlane {
        require("etcd");
        require("openssl");
        require("python3");
        let bin = binaries();
        let dir = tempfile::Builder::new()
            .prefix("clusterdeck-real-kube-")
            .tempdir()
            .unwrap();
        let status = Command::new(scripts().join("pki.sh"))
            .arg(dir.path().join("pki"))
            .status()
            .expect("run pki.sh");
        assert!(status.success(), "pki.sh failed");
        let mut plane = ControlPlane {
            dir,
            bin,
            api_port: free_port(),
            etcd_port: free_port(),
            etcd_peer_port: free_port(),
            kubelet_port: free_port(),
            children: Vec::new(),
        };
        plane.write_kubeconfig("kube-controller-manager", "system_kube-controller-manager");
        for user in ["admin", "operator", "viewer", "podsonly", "scaler"] {
            plane.write_kubeconfig(user, user);
        }
        plane.start_etcd();
        plane.start_apiserver();
        plane.start_controller_manager();
        plane.start_kubelet();
        plane
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn pki(&self, file: &str) -> PathBuf {
        self.dir.path().join("pki").join(file)
    }

    fn log(&self, name: &str) -> std::fs::File {
        std::fs::File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{name}.log")))
            .unwrap()
    }

    /// The kubeconfig for `user` (one of the static tokens).
    pub fn kubeconfig(&self, user: &str) -> PathBuf {
        self.dir.path().join(format!("{user}.kubeconfig"))
    }

    pub fn server(&self) -> String {
        format!("https://127.0.0.1:{}", self.api_port)
    }

    fn write_kubeconfig(&self, name: &str, token_user: &str) {
        let token = std::fs::read_to_string(self.pki(&format!("token-{token_user}"))).unwrap();
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: real\n  cluster:\n    server: {}\n    \
             certificate-authority: {}\nusers:\n- name: {name}\n  user:\n    token: {token}\n\
             contexts:\n- name: real-{name}\n  context:\n    cluster: real\n    user: {name}\n    \
             namespace: ag\ncurrent-context: real-{name}\n",
            self.server(),
            self.pki("ca.crt").display()
        );
        std::fs::write(self.kubeconfig(name), text).unwrap();
    }

    fn spawn(&mut self, name: &'static str, command: &mut Command) {
        let log = self.log(name);
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; the child dies with the test.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.children.push((name, child));
    }

    fn start_etcd(&mut self) {
        let client = format!("http://127.0.0.1:{}", self.etcd_port);
        let peer = format!("http://127.0.0.1:{}", self.etcd_peer_port);
        let data = self.dir.path().join("etcd-data");
        self.spawn(
            "etcd",
            Command::new("etcd")
                .arg("--name=test")
                .arg(format!("--data-dir={}", data.display()))
                .arg(format!("--listen-client-urls={client}"))
                .arg(format!("--advertise-client-urls={client}"))
                .arg(format!("--listen-peer-urls={peer}"))
                .arg(format!("--initial-advertise-peer-urls={peer}"))
                .arg(format!("--initial-cluster=test={peer}"))
                .arg("--initial-cluster-state=new"),
        );
    }

    fn apiserver_command(&self) -> Command {
        let mut c = Command::new(self.bin.join("kube-apiserver"));
        let pki = |f: &str| self.pki(f).display().to_string();
        c.arg(format!(
            "--etcd-servers=http://127.0.0.1:{}",
            self.etcd_port
        ))
        .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
        .arg(format!("--secure-port={}", self.api_port))
        .arg("--insecure-port=0")
        .arg(format!("--tls-cert-file={}", pki("server.crt")))
        .arg(format!("--tls-private-key-file={}", pki("server.key")))
        .arg(format!("--client-ca-file={}", pki("ca.crt")))
        .arg(format!("--token-auth-file={}", pki("tokens.csv")))
        .arg("--authorization-mode=RBAC")
        .arg(format!("--service-account-key-file={}", pki("sa.pub")))
        .arg(format!(
            "--service-account-signing-key-file={}",
            pki("sa.key")
        ))
        .arg("--service-account-issuer=https://kubernetes.default.svc")
        .arg("--api-audiences=https://kubernetes.default.svc")
        .args([
            "--service-cluster-ip-range=10.0.0.0/24",
            "--endpoint-reconciler-type=none",
        ])
        .arg("--kubelet-preferred-address-types=InternalIP")
        .arg(format!("--kubelet-certificate-authority={}", pki("ca.crt")))
        .args(["--allow-privileged=true", "--profiling=false"])
        .arg(format!(
            "--audit-policy-file={}",
            scripts().join("audit-policy.yaml").display()
        ))
        .arg(format!("--audit-log-path={}", self.audit_path().display()))
        .arg("--audit-log-maxsize=200");
        c
    }

    fn start_apiserver(&mut self) {
        let mut command = self.apiserver_command();
        self.spawn("apiserver", &mut command);
        self.wait_ready(Duration::from_secs(90));
    }

    /// Waits until `/readyz` answers ok for the admin.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if self
                .curl("admin", "GET", "/readyz", None)
                .is_ok_and(|b| b == "ok")
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver not ready within {within:?}; log: {}",
                self.tail("apiserver")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn start_controller_manager(&mut self) {
        let kubeconfig = self.kubeconfig("kube-controller-manager");
        let mut command = Command::new(self.bin.join("kube-controller-manager"));
        command
            .arg(format!("--kubeconfig={}", kubeconfig.display()))
            .arg("--leader-elect=false")
            .arg(
                "--controllers=*,-nodelifecycle,-nodeipam,-cloud-node-lifecycle,-attachdetach,\
                 -persistentvolume-binder,-persistentvolume-expander,-pvc-protection,-pv-protection",
            )
            .arg(format!("--service-account-private-key-file={}", self.pki("sa.key").display()))
            .arg(format!("--root-ca-file={}", self.pki("ca.crt").display()))
            .args(["--use-service-account-credentials=false", "--port=0", "--secure-port=0"])
            // The default 20 requests a second makes 5,000 pods take minutes.
            .args(["--kube-api-qps=300", "--kube-api-burst=600"]);
        self.spawn("controller-manager", &mut command);
    }

    fn start_kubelet(&mut self) {
        let envs = [
            ("K8S_SERVER", self.server()),
            (
                "K8S_TOKEN_FILE",
                self.pki("token-fake-kubelet").display().to_string(),
            ),
            ("K8S_CA", self.pki("ca.crt").display().to_string()),
            ("KUBELET_PORT", self.kubelet_port.to_string()),
            (
                "KUBELET_CERT",
                self.pki("kubelet.crt").display().to_string(),
            ),
            ("KUBELET_KEY", self.pki("kubelet.key").display().to_string()),
        ];
        for (name, script) in [
            ("kubelet", "fake-kubelet.py"),
            ("kubelet-exec", "fake-kubelet-exec.py"),
        ] {
            let mut command = Command::new("python3");
            command
                .arg("-u")
                .arg(scripts().join(script))
                .envs(envs.clone());
            self.spawn(name, &mut command);
        }
        self.wait_for("node-1 Ready", Duration::from_secs(30), |p| {
            p.get("admin", "/api/v1/nodes/node-1").is_ok_and(|n| {
                n["status"]["conditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready"))
            })
        });
    }

    /// The last lines of a component's log, for failure messages.
    pub fn tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// One request as `user`, with curl (so the test's own client is not the
    /// one under test); the body on success, else the status and body.
    pub fn curl(
        &self,
        user: &str,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> Result<String, String> {
        let token = std::fs::read_to_string(self.pki(&format!("token-{user}"))).unwrap();
        let mut c = Command::new("curl");
        c.args([
            "-sS",
            "-m",
            "10",
            "-X",
            method,
            "-w",
            "\n%{http_code}",
            "--cacert",
        ])
        .arg(self.pki("ca.crt"))
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"))
        .arg(format!("{}{path}", self.server()));
        if let Some((content_type, data)) = body {
            c.arg("-H").arg(format!("Content-Type: {content_type}"));
            c.arg("--data-binary").arg(data);
        }
        let out = c.output().map_err(|e| format!("curl: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or((&text, "000"));
        match code.parse::<u16>() {
            Ok(code) if (200..300).contains(&code) => Ok(body.to_string()),
            _ => Err(format!(
                "HTTP {code}: {body} {}",
                String::from_utf8_lossy(&out.stderr)
            )),
        }
    }

    pub fn get(&self, user: &str, path: &str) -> Result<Value, String> {
        let body = self.curl(user, "GET", path, None)?;
        serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))
    }

    /// Creates an object (JSON) at `path` as the admin.
    pub fn create(&self, path: &str, object: &Value) {
        let body = object.to_string();
        if let Err(e) = self.curl("admin", "POST", path, Some(("application/json", &body))) {
            panic!("create {path}: {e}");
        }
    }

    /// A merge patch as the admin.
    pub fn patch(&self, path: &str, patch: &Value) {
        let body = patch.to_string();
        let kind = "application/merge-patch+json";
        if let Err(e) = self.curl("admin", "PATCH", path, Some((kind, &body))) {
            panic!("patch {path}: {e}");
        }
    }

    /// Polls `done` every 100 ms until it holds; panics after `within`.
    pub fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + within;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}\nkubelet: {}\ncontroller-manager: {}",
                self.tail("kubelet"),
                self.tail("controller-manager")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Namespace `ag` with the AllegroGraph layout (`controlling` 1, `copy`
    /// `copies`) and the RBAC roles of the limited users; waits until every
    /// pod runs and is ready.
    pub fn allegrograph(&self, copies: u32) {
        self.create(
            "/api/v1/namespaces",
            &serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ag"}}),
        );
        for (name, replicas) in [("controlling", 1), ("copy", copies)] {
            self.create(
                "/apis/apps/v1/namespaces/ag/statefulsets",
                &statefulset(name, replicas),
            );
        }
        self.rbac();
        self.wait_running(&format!("{} running pods", copies + 1), copies as usize + 1);
    }

    /// Waits until exactly `n` pods in `ag` are Running with an IP.
    pub fn wait_running(&self, what: &str, n: usize) {
        self.wait_for(what, Duration::from_secs(60), |p| {
            p.running_pods().len() == n
        });
    }

    /// Waits (up to `within`, polling every 2 s) until `n` pods in `ag` run.
    pub fn wait_for_pods(&self, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.running_pods().len() < n {
            assert!(
                Instant::now() < deadline,
                "{n} pods not running within {within:?}"
            );
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// Sets pod `ag/<pod>`'s readiness, as a kubelet's probe would.
    pub fn set_ready(&self, pod: &str, ready: bool) {
        let status = if ready { "True" } else { "False" };
        let conditions: Vec<Value> = ["Initialized", "Ready", "ContainersReady", "PodScheduled"]
            .iter()
            .map(|t| {
                let ready_kind = *t == "Ready" || *t == "ContainersReady";
                let s = if ready_kind { status } else { "True" };
                serde_json::json!({"type": t, "status": s})
            })
            .collect();
        self.patch(
            &format!("/api/v1/namespaces/ag/pods/{pod}/status"),
            &serde_json::json!({"status": {"conditions": conditions}}),
        );
    }

    /// Names of the pods in `ag` that run with an IP and are not terminating.
    pub fn running_pods(&self) -> Vec<String> {
        let Ok(list) = self.get("admin", "/api/v1/namespaces/ag/pods") else {
            return Vec::new();
        };
        let mut names: Vec<String> = list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| {
                p["status"]["phase"] == "Running"
                    && p["status"]["podIP"].is_string()
                    && p["metadata"]["deletionTimestamp"].is_null()
            })
            .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    fn rbac(&self) {
        let read = |groups: &[&str], resources: &[&str]| {
            serde_json::json!({"apiGroups": groups, "resources": resources,
                               "verbs": ["get", "list", "watch"]})
        };
        let roles = [
            (
                "viewers",
                vec![
                    read(&[""], &["pods", "nodes"]),
                    read(&["apps"], &["statefulsets"]),
                    read(&["networking.k8s.io"], &["networkpolicies"]),
                ],
            ),
            (
                "pods-only",
                vec![read(&[""], &["pods"]), read(&["apps"], &["statefulsets"])],
            ),
            (
                "scalers",
                vec![serde_json::json!({"apiGroups": ["apps"],
                    "resources": ["statefulsets/scale"], "verbs": ["patch"]})],
            ),
        ];
        for (group, rules) in roles {
            let name = format!("clusterdeck-{group}");
            self.create(
                "/apis/rbac.authorization.k8s.io/v1/clusterroles",
                &serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules}),
            );
            self.create(
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
                &serde_json::json!({"apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding", "metadata": {"name": name},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io",
                                "kind": "ClusterRole", "name": name},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                  "name": format!("clusterdeck:{group}")}]}),
            );
        }
    }

    fn audit_path(&self) -> PathBuf {
        self.dir.path().join("audit.log")
    }

    /// The audit log's entries (stage ResponseComplete) made for `user`.
    pub fn audit(&self, user: &str) -> Vec<Value> {
        let Ok(file) = std::fs::File::open(self.audit_path()) else {
            return Vec::new();
        };
        std::io::BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .filter(|e| e["user"]["username"] == user && e["stage"] == "ResponseComplete")
            .collect()
    }

    /// `verb resource[/subresource] code` of every audited request of `user`
    /// whose verb is not a read.
    pub fn mutations(&self, user: &str) -> Vec<String> {
        self.audit(user)
            .iter()
            .filter(|e| !matches!(e["verb"].as_str(), Some("get" | "list" | "watch")))
            .map(audit_line)
            .collect()
    }

    /// Stops the API server (SIGTERM, then waits), leaving the rest running.
    pub fn stop_apiserver(&mut self) {
        if let Some(i) = self.children.iter().position(|(n, _)| *n == "apiserver") {
            let (_, mut child) = self.children.remove(i);
            stop_child(&mut child, libc::SIGTERM, Duration::from_secs(10));
        }
    }

    /// Starts the API server again on the same port and waits until it is ready.
    pub fn restart_apiserver(&mut self) {
        self.stop_apiserver();
        self.start_apiserver();
    }

    /// Compacts etcd at its current revision, so a watch or list at an older
    /// resourceVersion gets 410 Gone.
    pub fn compact_etcd(&self) {
        let endpoint = format!("http://127.0.0.1:{}", self.etcd_port);
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &endpoint, "endpoint", "status", "-w", "json"])
            .output()
            .expect("run etcdctl (apt-get install etcd-client)");
        let status: Value = serde_json::from_slice(&out.stdout).expect("etcdctl status JSON");
        let revision = status[0]["Status"]["header"]["revision"]
            .as_u64()
            .expect("a revision in etcdctl's status");
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &endpoint, "compact", &revision.to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "etcdctl compact: {out:?}");
    }
}

fn audit_line(e: &Value) -> String {
    let resource = e["objectRef"]["resource"].as_str().unwrap_or("-");
    let sub = e["objectRef"]["subresource"]
        .as_str()
        .map(|s| format!("/{s}"))
        .unwrap_or_default();
    format!(
        "{} {resource}{sub} {}",
        e["verb"].as_str().unwrap_or("-"),
        e["responseStatus"]["code"]
    )
}

/// Sends `signal` to a child the test started and reaps it; SIGKILL if it
/// is still there after `within` (a guard's drop must not hang). The other
/// harnesses use it too (`common::stop_child`); it lives here because the
/// `real_kube` example includes this file alone.
pub fn stop_child(child: &mut Child, signal: i32, within: Duration) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, signal) };
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // The kubelet stand-ins first, etcd last, as a real shutdown would.
        while let Some((_, mut child)) = self.children.pop() {
            stop_child(&mut child, libc::SIGTERM, Duration::from_secs(10));
        }
    }
}

/// A StatefulSet of the AllegroGraph layout: pods labelled `app: ag` and
/// `tier: NAME`, port 10035.
pub fn statefulset(name: &str, replicas: u32) -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "ag", "labels": {"app": "ag"}},
        "spec": {
            "replicas": replicas, "serviceName": "ag",
            "selector": {"matchLabels": {"app": "ag", "tier": name}},
            "template": {
                "metadata": {"labels": {"app": "ag", "tier": name}},
                "spec": {"terminationGracePeriodSeconds": 30, "containers": [{
                    "name": "ag", "image": "franzinc/agraph:v8.0.0",
                    "ports": [{"containerPort": 10035, "name": "http"}]}]}
            }
        }
    })
}
