//! The audit log: every action the console was asked to take, and how it
//! ended, one JSON object a line, appended to `audit.jsonl` in the state
//! directory.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use time::OffsetDateTime;

use super::Action;

/// An append-only JSON-lines file. Writes are serialised by a mutex because
/// actions run in their own tasks.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    lock: Mutex<()>,
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    phase: &'a str,
    #[serde(flatten)]
    action: &'a Action,
    describe: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
    user: String,
}

impl AuditLog {
    pub fn new(path: impl Into<PathBuf>) -> AuditLog {
        AuditLog {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The audit log in the state directory.
    pub fn default_location() -> AuditLog {
        AuditLog::new(crate::paths::state_dir().join("audit.jsonl"))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry; `phase` is `requested`, `refused`, `succeeded` or `failed`.
    pub fn record(
        &self,
        phase: &str,
        action: &Action,
        message: Option<&str>,
    ) -> std::io::Result<()> {
        let entry = Entry {
            at: OffsetDateTime::now_utc(),
            phase,
            action,
            describe: action.describe(),
            message,
            user: std::env::var("USER").unwrap_or_default(),
        };
        let mut line = serde_json::to_string(&entry).map_err(std::io::Error::other)?;
        line.push('\n');
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        file.write_all(line.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::new(dir.path().join("a/audit.jsonl"));
        let action = Action::LabKill {
            member: "127.0.0.1:1".into(),
            address: "127.0.0.1:1".into(),
        };
        log.record("requested", &action, None).unwrap();
        log.record("succeeded", &action, Some("killed")).unwrap();
        let text = fs::read_to_string(log.path()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["phase"], "requested");
        assert_eq!(lines[0]["action"], "lab_kill");
        assert_eq!(lines[1]["message"], "killed");
    }
}
