//! `clusterdeck watch --events` as the probe tests read it: the real
//! binary, isolated from the machine (its own state folder, no Docker, no
//! kubeconfig, no REDIS_URL), its JSON lines read with a deadline, killed
//! when dropped so a failing test leaves nothing behind.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::time::Instant;

pub struct Watch {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// Every event read so far, shown when one that was awaited never comes.
    pub seen: Vec<Value>,
    _state: tempfile::TempDir,
}

impl Watch {
    /// `clusterdeck watch ARGS` (add `--events` and the sources).
    pub fn spawn(args: &[&str]) -> Watch {
        let state = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_clusterdeck"))
            .arg("watch")
            .args(args)
            .env("CLUSTERDECK_STATE_DIR", state.path())
            .env(
                "DOCKER_HOST",
                format!("unix://{}/no-docker.sock", state.path().display()),
            )
            .env("KUBECONFIG", state.path().join("no-kubeconfig"))
            .env_remove("REDIS_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start clusterdeck watch");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Watch {
            child,
            lines,
            seen: Vec::new(),
            _state: state,
        }
    }

    /// Reads events until one satisfies `done`, or panics after `within`
    /// showing what was seen.
    pub async fn until(
        &mut self,
        what: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {what} within {within:?}; saw: {:#?}", self.seen))
                .expect("read watch output")
                .unwrap_or_else(|| panic!("watch ended before {what}; saw: {:#?}", self.seen));
            let event: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            self.seen.push(event.clone());
            if done(&event) {
                return event;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
