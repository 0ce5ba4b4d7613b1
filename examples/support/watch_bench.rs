//! The 5,000-pod measurement shared by the emulator's and the real API
//! server's benches: the real binary as `watch --events --kube`, the first
//! full view (the last pod's `member_added` line), its memory, and the time
//! from flipping a pod's readiness to the `health_changed` line naming it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::ChildStdout;

/// Runs the console against `kubeconfig` until it shows `pods` members, then
/// flips readiness 40 times (`BENCH_ROUNDS` x 2) with `flip(pod, ready)` on
/// pods named by `pod(i)`.
pub async fn run(
    kubeconfig: &Path,
    state: &Path,
    pods: usize,
    pod: impl Fn(u32) -> String,
    mut flip: impl FnMut(&str, bool),
) {
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
        .arg(kubeconfig)
        .env("CLUSTERDECK_STATE_DIR", state)
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
    println!("pods: {pods}");
    println!(
        "first full view: {:.0} ms after start",
        first_view.as_secs_f64() * 1e3
    );
    println!("memory after the first view: VmRSS {rss} kB, VmHWM {peak} kB");

    let mut latencies = Vec::new();
    // Twenty rounds by default; more show whether memory stays flat.
    let rounds: u32 = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    for round in 0..rounds {
        let name = pod(round);
        for ready in [false, true] {
            let at = Instant::now();
            flip(&name, ready);
            loop {
                let event = next_event(&mut lines).await;
                if event["kind"] == "health_changed" && event["details"]["name"] == name.as_str() {
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
    let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
        .await
        .expect("output within 120 s")
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
