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
    let (code, stdout, stderr) = common::run_clusterdeck(args, &env).await;
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
