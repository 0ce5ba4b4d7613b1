//! An emulated Kubernetes API server for the tests and the 5,000-pod
//! benchmark: a real HTTP server on 127.0.0.1 that the real binary reaches
//! through a generated kubeconfig, since no real API server can be had on
//! these machines.
//!
//! It keeps the API's semantics for what the console uses: list and watch
//! with `resourceVersion` and bookmarks, label selectors, pagination
//! (`limit`/`continue`), merge and strategic-merge patch, the `scale`
//! subresource, a StatefulSet controller that creates and deletes pods
//! `<name>-<ordinal>`, deletion with a grace period, NetworkPolicy create and
//! delete, field selectors on `metadata.name`, `Status` answers
//! 404/409/410/422/500, and watches that expire (410 Gone) so clients must
//! re-list. It counts requests by verb and resource so tests can prove
//! "watch, not re-list" and "no mutating request", and records each delete
//! request with the grace period it asked for. The pod `exec` subresource
//! speaks WebSocket (`v4.channel.k8s.io`) and answers scripted output.
//!
//! Tests drive it through [`Emulator`]: [`Emulator::edit`] runs a closure on
//! the [`Store`] under its lock (so several changes and an expiry are one
//! step), and the helpers below cover the usual moves.
//!
//! Included by tests (`mod k8s_emulator;`) and by `examples/kube_emulator.rs`.

#![allow(dead_code)]

mod exec;
mod http;
pub mod patch;
pub mod selector;
pub mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

pub use exec::{ExecRequest, ExecScript};
pub use store::{DeleteRequest, InjectedFailure, Kind, Store, Verb};

/// How the emulator behaves where the real server has knobs.
#[derive(Debug, Clone)]
pub struct Options {
    /// How often an idle watch that asked for bookmarks gets one; none by
    /// default, because a real API server does not promise them (1.20
    /// sends none on an idle watch), so the console must not depend on them.
    pub bookmark_every: Option<Duration>,
    /// Changes kept for watches to replay; older ones are compacted (410).
    pub history_limit: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bookmark_every: None,
            history_limit: 200_000,
        }
    }
}

/// State shared by the server's handlers and the test's handle.
pub struct Shared {
    store: Mutex<Store>,
    /// Carries the latest resourceVersion; every change wakes the watches.
    changed: watch::Sender<u64>,
    options: Options,
    open_watches: AtomicUsize,
}

impl Shared {
    /// Runs `f` on the store under the lock, then starts the grace-period
    /// timers it queued and wakes the watches.
    pub fn edit<T>(self: &Arc<Self>, f: impl FnOnce(&mut Store) -> T) -> T {
        let (out, removals, rv) = {
            let mut store = self.store.lock().expect("emulator store");
            let out = f(&mut store);
            let removals = std::mem::take(&mut store.removals);
            (out, removals, store.resource_version())
        };
        self.after_edit(removals, rv);
        out
    }

    fn after_edit(self: &Arc<Self>, removals: Vec<(Duration, store::PendingRemoval)>, rv: u64) {
        for (after, removal) in removals {
            let shared = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                shared.finish_removal(&removal);
            });
        }
        self.changed.send_replace(rv);
    }

    /// A grace period ended: the pod goes (and the controller may replace it).
    fn finish_removal(self: &Arc<Self>, removal: &store::PendingRemoval) {
        let (removals, rv) = {
            let mut store = self.store.lock().expect("emulator store");
            store.finish_removal(removal);
            (
                std::mem::take(&mut store.removals),
                store.resource_version(),
            )
        };
        self.after_edit(removals, rv);
    }

    pub fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.store.lock().expect("emulator store"))
    }
}

/// A running emulated API server. Stops when dropped.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Emulator {
    /// Starts on a free port of 127.0.0.1, on the current tokio runtime.
    pub async fn start() -> Emulator {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Emulator {
        let (changed, _) = watch::channel(1);
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(options.history_limit)),
            changed,
            options,
            open_watches: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the emulator on 127.0.0.1");
        let addr = listener.local_addr().expect("emulator address");
        let app = http::router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Emulator {
            shared,
            addr,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig whose only context (`context`) points here.
    pub fn kubeconfig(&self, context: &str, namespace: &str) -> String {
        kubeconfig(&[(context, self, namespace)])
    }

    /// Writes [`Emulator::kubeconfig`] to `dir/kubeconfig`.
    pub fn write_kubeconfig(&self, dir: &Path, context: &str, namespace: &str) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(&path, self.kubeconfig(context, namespace)).expect("write kubeconfig");
        path
    }

    pub fn edit<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        self.shared.edit(f)
    }

    pub fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        self.shared.read(f)
    }

    /// Waits until a watch on `kind` has been opened: a source reports its
    /// first list at once, possibly before the watch that follows it.
    pub async fn until_watching(&self, kind: Kind, within: std::time::Duration) {
        let deadline = std::time::Instant::now() + within;
        while self.requests(Verb::Watch, kind) == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no watch within {within:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// Requests of a verb on a resource so far.
    pub fn requests(&self, verb: Verb, kind: Kind) -> u64 {
        self.read(|s| s.requests(verb, kind))
    }

    pub fn mutating_requests(&self) -> u64 {
        self.read(Store::mutating_requests)
    }

    /// Delete requests of a kind accepted so far, with the grace period each asked for.
    pub fn delete_requests(&self, kind: Kind) -> Vec<DeleteRequest> {
        self.read(|s| {
            s.delete_requests
                .iter()
                .filter(|d| d.kind == kind)
                .cloned()
                .collect()
        })
    }

    /// Watches being served right now.
    pub fn open_watches(&self) -> usize {
        self.shared.open_watches.load(Ordering::SeqCst)
    }

    pub fn add_nodes(&self, names: &[&str]) {
        self.edit(|s| {
            for name in names {
                s.add_node(name);
            }
        });
    }

    /// Creates a StatefulSet whose pods carry `labels` and one container
    /// listening on `port`; the controller creates its pods at once.
    pub fn create_statefulset(
        &self,
        namespace: &str,
        name: &str,
        replicas: u32,
        labels: &[(&str, &str)],
        port: u16,
    ) -> Value {
        let object = statefulset(name, replicas, labels, port);
        self.edit(|s| s.create(Kind::StatefulSet, namespace, object))
            .expect("create the StatefulSet")
    }

    /// Sets `spec.replicas` directly (not through HTTP: no request counted).
    pub fn scale(&self, namespace: &str, name: &str, replicas: u32) {
        self.edit(|s| {
            s.update(Kind::StatefulSet, namespace, name, |sts| {
                sts["spec"]["replicas"] = json!(replicas);
                store::remove_resource_version(sts);
            })
        })
        .expect("scale the StatefulSet");
    }

    pub fn set_pod_ready(&self, namespace: &str, pod: &str, ready: bool) {
        self.edit(|s| s.edit_pod(namespace, pod, |p| store::set_ready(p, ready)))
            .expect("set pod readiness");
    }

    /// Pods of a namespace, by name.
    pub fn pods(&self, namespace: &str) -> Vec<Value> {
        self.read(|s| {
            s.list(Kind::Pod, Some(namespace), &Default::default())
                .into_iter()
                .map(|(_, v)| v.clone())
                .collect()
        })
    }

    /// What `program` answers when a test's client executes it in any pod.
    pub fn script_exec(&self, program: &str, script: ExecScript) {
        self.edit(|s| s.exec_scripts.insert(program.to_string(), script));
    }

    /// Execs accepted so far.
    pub fn exec_requests(&self) -> Vec<ExecRequest> {
        self.read(|s| s.exec_requests.clone())
    }

    /// The next `times` requests of `verb` on `kind` (any when None) fail with `code`.
    pub fn inject_failure(&self, verb: Option<Verb>, kind: Option<Kind>, code: u16, times: u32) {
        self.edit(|s| {
            s.inject_failure(InjectedFailure {
                verb,
                kind,
                code,
                times,
            })
        });
    }
}

/// A kubeconfig with one context per `(name, emulator, namespace)`; the
/// first is current. Each user carries a token so that tests can check it
/// never shows in any output.
pub fn kubeconfig(contexts: &[(&str, &Emulator, &str)]) -> String {
    let mut clusters = String::new();
    let mut users = String::new();
    let mut ctxs = String::new();
    for (name, emulator, namespace) in contexts {
        clusters.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: {}\n",
            emulator.url()
        ));
        users.push_str(&format!(
            "- name: {name}\n  user:\n    token: emulator-secret-token-{name}\n"
        ));
        ctxs.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n    namespace: {namespace}\n"
        ));
    }
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {}\nclusters:\n{clusters}users:\n{users}contexts:\n{ctxs}",
        contexts.first().map_or("", |c| c.0)
    )
}

/// A StatefulSet manifest as a test would apply it.
pub fn statefulset(name: &str, replicas: u32, labels: &[(&str, &str)], port: u16) -> Value {
    let mut pod_labels = serde_json::Map::new();
    for (k, v) in labels {
        pod_labels.insert((*k).to_string(), json!(v));
    }
    json!({
        "metadata": {"name": name, "labels": pod_labels.clone(), "generation": 1},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": pod_labels.clone()},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{
                        "name": "main", "image": "registry.invalid/db:1",
                        "ports": [{"name": "main", "containerPort": port, "protocol": "TCP"}],
                    }],
                },
            },
        },
    })
}
