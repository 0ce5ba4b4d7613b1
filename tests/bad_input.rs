//! Bad input to the real binary: a clear error that says what and where,
//! at once, with the usage exit code, one line, no backtrace and no colour
//! codes into a pipe, and never a panic.

mod common;

use std::ffi::OsStr;
use std::time::{Duration, Instant};

/// Runs the binary with `RUST_BACKTRACE=1` (as many shells have it) and
/// checks what every error shares.
async fn fails(args: &[&str]) -> (i32, String) {
    let started = Instant::now();
    let env = [("RUST_BACKTRACE", OsStr::new("1"))];
    let run = common::run_clusterdeck(args, &env);
    let Ok((code, stdout, stderr)) = tokio::time::timeout(Duration::from_secs(10), run).await
    else {
        panic!("{args:?} still ran after 10s");
    };
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{args:?} took {:?}",
        started.elapsed()
    );
    assert_ne!(code, 0, "{args:?} succeeded: {stdout}");
    assert_ne!(code, 101, "{args:?} panicked: {stderr}");
    assert!(!stderr.contains("Location:"), "{stderr}");
    assert!(!stderr.contains("BACKTRACE"), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "colour codes into a pipe: {stderr:?}"
    );
    (code, stderr)
}

#[tokio::test]
async fn a_config_that_is_a_device_a_fifo_or_too_deep_is_refused_at_once() {
    let (code, stderr) = fails(&["snapshot", "--sim", "3", "--config", "/dev/zero"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("--config /dev/zero") && stderr.contains("not a regular file"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("config.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) in our own temporary folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (code, stderr) =
        fails(&["snapshot", "--sim", "3", "--config", fifo.to_str().unwrap()]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("FIFO"), "{stderr}");

    let deep = dir.path().join("deep.yaml");
    std::fs::write(&deep, format!("clusters: {}", "[".repeat(100_000))).unwrap();
    let (code, stderr) =
        fails(&["snapshot", "--sim", "3", "--config", deep.to_str().unwrap()]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("levels deep"), "{stderr}");

    let big = dir.path().join("big.yaml");
    std::fs::write(&big, format!("# {}\n", "x".repeat(2 * 1024 * 1024))).unwrap();
    let (code, stderr) =
        fails(&["snapshot", "--sim", "3", "--config", big.to_str().unwrap()]).await;
    assert_eq!(code, 2);
    assert!(stderr.contains("larger than 1048576 bytes"), "{stderr}");
}

#[tokio::test]
async fn a_log_file_that_cannot_be_written_is_one_line_before_anything_runs() {
    let (code, stderr) = fails(&["snapshot", "--sim", "3", "--log-file", "/dev/full"]).await;
    assert_eq!(
        stderr.trim(),
        "clusterdeck: cannot write log file /dev/full: No space left on device (os error 28)"
    );
    assert_eq!(code, 2, "{stderr}");
}

#[tokio::test]
async fn a_huge_duration_is_refused_with_its_bound() {
    for args in [
        &["snapshot", "--sim", "3", "--timeout", "500000000000y"][..],
        &["watch", "--sim", "3", "--for", "500000000000y"],
        &["snapshot", "--sim", "3", "--interval", "500000000000y"],
        &[
            "snapshot",
            "--sim",
            "3",
            "--request-timeout",
            "500000000000y",
        ],
    ] {
        let (code, stderr) = fails(args).await;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("500000000000y") && stderr.contains("the longest is 366 days"),
            "{args:?}: {stderr}"
        );
    }
}

#[tokio::test]
async fn an_empty_redis_url_is_refused_not_a_reason_to_look_around() {
    let (code, stderr) = fails(&["snapshot", "--redis", ""]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--redis is empty"), "{stderr}");
}

#[tokio::test]
async fn a_docker_host_or_kubeconfig_that_cannot_work_names_its_flag() {
    let (code, stderr) = fails(&["snapshot", "--docker=ftp://x"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--docker=\"ftp://x\""), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-kubeconfig");
    let missing = missing.to_str().unwrap();
    for mode in ["snapshot", "heal"] {
        let (code, stderr) = fails(&[mode, "--kubeconfig", missing]).await;
        assert_eq!(code, 2, "{mode}: {stderr}");
        assert!(
            stderr.contains(&format!("--kubeconfig {missing}: No such file")),
            "{mode}: {stderr}"
        );
    }
}

#[tokio::test]
async fn the_console_refuses_to_draw_into_a_pipe() {
    for args in [&["--sim", "3"][..], &["lab"]] {
        let (code, stderr) = fails(args).await;
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(
            stderr.contains("needs a terminal") && stderr.contains("clusterdeck snapshot"),
            "{args:?}: {stderr}"
        );
    }
}
