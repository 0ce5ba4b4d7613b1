//! The emulated Kubernetes API server of `tests/k8s_emulator`, served for
//! demos and for the 5,000-pod measurement (a benchmark, not a test).
//!
//! ```sh
//! # A demo: prints a KUBECONFIG to point the console at, serves until Ctrl-C.
//! cargo run --example kube_emulator -- serve [STATEFULSETS] [REPLICAS]
//! # 5,000 pods in 50 StatefulSets: time to the first full view, memory, and
//! # the latency from a watch event to the console's output.
//! cargo build --release && cargo run --release --example kube_emulator -- bench
//! ```
//!
//! `bench` runs the real binary (`target/release/clusterdeck`, or `$CLUSTERDECK_BIN`)
//! as `watch --events` against the emulator and reads its output: the first
//! full view is the moment the last pod's `member_added` line is out, memory
//! is the child's VmRSS / VmHWM, and each latency is from flipping a pod's
//! readiness on the emulator to the `health_changed` line naming that pod.

#[path = "../tests/k8s_emulator/mod.rs"]
#[allow(unused_imports)]
mod k8s_emulator;

#[path = "support/watch_bench.rs"]
mod watch_bench;

use std::time::Instant;

use k8s_emulator::Emulator;

const NAMESPACE: &str = "bench";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number =
        |i: usize, default: u32| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("serve") => serve(number(1, 3), number(2, 3)).await,
        Some("bench") => bench(number(1, 50), number(2, 100)).await,
        _ => eprintln!(
            "usage: kube_emulator serve [STATEFULSETS] [REPLICAS] | bench [STATEFULSETS] [REPLICAS]"
        ),
    }
}

/// An emulator holding `statefulsets` StatefulSets of `replicas` pods on ten nodes.
async fn populated(statefulsets: u32, replicas: u32) -> Emulator {
    let emulator = Emulator::start().await;
    let nodes: Vec<String> = (1..=10).map(|i| format!("node-{i:02}")).collect();
    emulator.add_nodes(&nodes.iter().map(String::as_str).collect::<Vec<_>>());
    let started = Instant::now();
    for i in 0..statefulsets {
        let name = format!("db-{i:02}");
        emulator.create_statefulset(NAMESPACE, &name, replicas, &[("app", &name)], 6379);
    }
    eprintln!(
        "emulator: {} pods in {statefulsets} StatefulSets created in {:?}",
        statefulsets * replicas,
        started.elapsed()
    );
    emulator
}

async fn serve(statefulsets: u32, replicas: u32) {
    let emulator = populated(statefulsets, replicas).await;
    let dir = std::env::temp_dir().join(format!("clusterdeck-emulator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let kubeconfig = emulator.write_kubeconfig(&dir, "emulator", NAMESPACE);
    println!("serving {} ; try:", emulator.url());
    println!("  KUBECONFIG={} cargo run -- --kube", kubeconfig.display());
    let _ = tokio::signal::ctrl_c().await;
}

async fn bench(statefulsets: u32, replicas: u32) {
    let emulator = populated(statefulsets, replicas).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = emulator.write_kubeconfig(dir.path(), "emulator", NAMESPACE);
    println!("{statefulsets} StatefulSets of {replicas} pods on the emulator");
    let pod = |round: u32| format!("db-{:02}-{}", round % statefulsets, round % replicas);
    let flip = |pod: &str, ready: bool| emulator.set_pod_ready(NAMESPACE, pod, ready);
    let pods = (statefulsets * replicas) as usize;
    watch_bench::run(&kubeconfig, dir.path(), pods, pod, flip).await;
}
