//! A real Kubernetes control plane on 127.0.0.1 (kube-apiserver and
//! kube-controller-manager v1.20.2 built by `scripts/real-kube/build.sh`,
//! Debian's etcd, the kubelet stand-ins of `scripts/real-kube/`), the same
//! one `tests/real_kube.rs` starts, for a demo and for the 5,000-pod
//! measurement (a benchmark, not a test).
//!
//! ```sh
//! # A demo: the AllegroGraph layout; prints a KUBECONFIG, serves until Ctrl-C.
//! cargo run --example real_kube -- serve
//! # 5,000 pods in 50 StatefulSets, the numbers of `kube_emulator -- bench`.
//! cargo build --release && cargo run --release --example real_kube -- bench [STATEFULSETS] [REPLICAS]
//! ```

#[path = "../tests/common/real_kube.rs"]
mod real_kube;
#[path = "support/watch_bench.rs"]
mod watch_bench;

use std::time::{Duration, Instant};

use real_kube::ControlPlane;
use serde_json::json;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number =
        |i: usize, default: u32| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("serve") => serve(),
        Some("bench") => bench(number(1, 50), number(2, 100)).await,
        _ => eprintln!("usage: real_kube serve | bench [STATEFULSETS] [REPLICAS]"),
    }
}

fn serve() {
    let plane = ControlPlane::start();
    plane.allegrograph(3);
    println!(
        "kube-apiserver {} on {}; try:",
        real_kube::SERVER_VERSION,
        plane.server()
    );
    println!(
        "  KUBECONFIG={} cargo run -- --kube",
        plane.kubeconfig("operator").display()
    );
    println!("(Ctrl-C stops it and removes {})", plane.dir().display());
    let (tx, rx) = std::sync::mpsc::channel();
    let _ = ctrlc_channel(tx);
    let _ = rx.recv();
}

/// Ctrl-C as a message, so the control plane is dropped (and stopped).
fn ctrlc_channel(tx: std::sync::mpsc::Sender<()>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let _ = tokio::signal::ctrl_c().await;
        });
        let _ = tx.send(());
    })
}

async fn bench(statefulsets: u32, replicas: u32) {
    let plane = ControlPlane::start();
    let pods = (statefulsets * replicas) as usize;
    let started = Instant::now();
    plane.create(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ag"}}),
    );
    for i in 0..statefulsets {
        let mut sts = real_kube::statefulset(&format!("db-{i:02}"), replicas);
        // All at once, not one after another as the default does.
        sts["spec"]["podManagementPolicy"] = json!("Parallel");
        plane.create("/apis/apps/v1/namespaces/ag/statefulsets", &sts);
    }
    plane.wait_for_pods(pods, Duration::from_secs(900));
    println!(
        "{statefulsets} StatefulSets of {replicas} pods on kube-apiserver {}: running in {:.0} s",
        real_kube::SERVER_VERSION,
        started.elapsed().as_secs_f64()
    );
    let state = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = plane.kubeconfig("operator");
    let pod = |round: u32| format!("db-{:02}-{}", round % statefulsets, round % replicas);
    let flip = |pod: &str, ready: bool| plane.set_ready(pod, ready);
    watch_bench::run(&kubeconfig, state.path(), pods, pod, flip).await;
}
