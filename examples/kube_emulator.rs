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

use std::process::Stdio;
use std::time::{Duration, Instant};

use k8s_emulator::Emulator;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStdout;

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
    let pods = (statefulsets * replicas) as usize;
    let emulator = populated(statefulsets, replicas).await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = emulator.write_kubeconfig(dir.path(), "emulator", NAMESPACE);
    let binary = std::env::var("CLUSTERDECK_BIN")
        .unwrap_or_else(|_| "target/release/clusterdeck".to_string());

    let started = Instant::now();
    let mut child = tokio::process::Command::new(&binary)
        .args([
            "watch",
            "--events",
            "--read-only",
            "--request-timeout",
            "10s",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env("CLUSTERDECK_STATE_DIR", dir.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {binary} ({e}); build it with cargo build --release")
        });
    let pid = child.id().expect("a pid");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut added = 0;
    while added < pods {
        let event = next_event(&mut lines).await;
        if event["kind"] == "member_added" {
            added += 1;
        }
    }
    let first_view = started.elapsed();
    let (rss, peak) = memory(pid);
    println!("pods: {pods} in {statefulsets} StatefulSets");
    println!(
        "first full view: {:.0} ms after start",
        first_view.as_secs_f64() * 1e3
    );
    println!("memory after the first view: VmRSS {rss} kB, VmHWM {peak} kB");

    let mut latencies = Vec::new();
    for round in 0..20u32 {
        let sts = round % statefulsets;
        let pod = format!("db-{sts:02}-{}", round % replicas);
        for ready in [false, true] {
            let at = Instant::now();
            emulator.set_pod_ready(NAMESPACE, &pod, ready);
            loop {
                let event = next_event(&mut lines).await;
                if event["kind"] == "health_changed" && event["details"]["name"] == pod.as_str() {
                    break;
                }
            }
            latencies.push(at.elapsed());
        }
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "watch event to output ({} changes): median {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        latencies.len(),
        ms(latencies[latencies.len() / 2]),
        ms(latencies[latencies.len() * 9 / 10]),
        ms(*latencies.last().unwrap())
    );
    let (rss, peak) = memory(pid);
    println!("memory at the end: VmRSS {rss} kB, VmHWM {peak} kB");
    let _ = child.kill().await;
}

async fn next_event(lines: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
        .await
        .expect("output within 60 s")
        .expect("readable output")
        .expect("the console is still running");
    serde_json::from_str(&line).expect("a JSON line")
}

/// VmRSS and VmHWM of a process, in kB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
