//! The fault ledger: a promise to undo every fault the console injects.
//!
//! Each fault is written to `faults.json` in the state directory BEFORE it is
//! injected, with everything needed to undo it (a typed [`Undo`]), the console
//! run that made it and when it expires. Writes replace the file atomically
//! (temporary file + rename) under an exclusive `flock` on `faults.lock`, so
//! two consoles (or a console and `clusterdeck heal`) never lose each other's
//! records.
//!
//! A console run holds a lock on `runs/<run id>.lock` for as long as it lives
//! ([`RunId::claim`]); a record whose run's lock is free was left behind by a
//! console that died, and is offered for healing at the next start.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Endpoint settings of a container on a network, saved before a disconnect
/// so that the reconnect brings it back as it was.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SavedEndpoint {
    pub network_id: Option<String>,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub ipv6_address: Option<String>,
    pub links: Vec<String>,
    /// The addresses were given by hand (IPAM config) or the network has a
    /// configured subnet: only then can the engine be asked for them again.
    pub can_pin_address: bool,
}

/// How to undo one fault. Kubernetes undos name the kubeconfig and the
/// context the fault was injected through, so they reach that cluster after
/// `:ctx` and from `clusterdeck heal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Undo {
    /// Reconnect a container to a network with its saved endpoint settings.
    DockerReconnect {
        container_id: String,
        container: String,
        network: String,
        endpoint: SavedEndpoint,
    },
    /// Put a Swarm node's availability back.
    SwarmNodeAvailability {
        node_id: String,
        hostname: String,
        availability: String,
    },
    /// Delete the deny-all NetworkPolicy that isolates a pod.
    KubeDeleteNetworkPolicy {
        #[serde(default)]
        context: Option<String>,
        #[serde(default)]
        kubeconfig: Option<PathBuf>,
        namespace: String,
        policy: String,
    },
    /// Make a cordoned node schedulable again.
    KubeUncordon {
        #[serde(default)]
        context: Option<String>,
        #[serde(default)]
        kubeconfig: Option<PathBuf>,
        node: String,
    },
}

impl Undo {
    /// What undoing does, for people.
    pub fn summary(&self) -> String {
        match self {
            Undo::DockerReconnect {
                container,
                network,
                endpoint,
                ..
            } => {
                let mut text = format!("reconnect container {container} to network {network}");
                if let Some(ip) = &endpoint.ipv4_address {
                    text.push_str(&format!(" as {ip}"));
                }
                if !endpoint.aliases.is_empty() {
                    text.push_str(&format!(" (aliases {})", endpoint.aliases.join(", ")));
                }
                text
            }
            Undo::SwarmNodeAvailability {
                hostname,
                availability,
                ..
            } => format!("set Swarm node {hostname} availability back to {availability}"),
            Undo::KubeDeleteNetworkPolicy {
                context,
                namespace,
                policy,
                ..
            } => format!(
                "delete NetworkPolicy {namespace}/{policy}{}",
                in_context(context.as_deref())
            ),
            Undo::KubeUncordon { context, node, .. } => {
                format!("uncordon node {node}{}", in_context(context.as_deref()))
            }
        }
    }
}

fn in_context(context: Option<&str>) -> String {
    context.map_or_else(String::new, |c| format!(" (context {c})"))
}

/// One fault the console holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub id: String,
    /// The console run that injected it ([`RunId`]).
    pub run: String,
    /// The member id it was injected on (as the console showed it).
    pub member: String,
    /// The platform object it is held on (container, node), for matching
    /// members when their id changed (a disconnected member loses its address).
    pub target: String,
    /// What was done, e.g. `disconnected from net-a`.
    pub summary: String,
    #[serde(with = "time::serde::rfc3339")]
    pub injected_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub undo: Undo,
}

impl FaultRecord {
    /// How the member list shows it: `disconnected from net (heals in 42s)`.
    pub fn label(&self, now: OffsetDateTime) -> String {
        let left = (self.expires_at - now).whole_seconds().max(0);
        format!("{} (heals in {left}s)", self.summary)
    }

    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct LedgerFile {
    #[serde(default)]
    faults: Vec<FaultRecord>,
}

/// The ledger file and its lock.
#[derive(Debug, Clone)]
pub struct FaultLedger {
    dir: PathBuf,
}

impl FaultLedger {
    /// The ledger in `dir` (the state directory in normal use).
    pub fn in_dir(dir: impl Into<PathBuf>) -> FaultLedger {
        FaultLedger { dir: dir.into() }
    }

    pub fn default_location() -> FaultLedger {
        FaultLedger::in_dir(crate::paths::state_dir())
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("faults.json")
    }

    /// Every record, under the lock.
    pub fn records(&self) -> io::Result<Vec<FaultRecord>> {
        let _lock = self.lock()?;
        self.read()
    }

    /// Writes a record down (before its fault is injected).
    pub fn add(&self, record: FaultRecord) -> io::Result<Vec<FaultRecord>> {
        self.update(|faults| faults.push(record))
    }

    /// Forgets a record (after its fault was undone, or was never injected).
    pub fn remove(&self, id: &str) -> io::Result<Vec<FaultRecord>> {
        self.update(|faults| faults.retain(|f| f.id != id))
    }

    /// Reads, changes and atomically rewrites the file under the lock;
    /// returns the records as written.
    pub fn update(
        &self,
        change: impl FnOnce(&mut Vec<FaultRecord>),
    ) -> io::Result<Vec<FaultRecord>> {
        let _lock = self.lock()?;
        let mut faults = self.read()?;
        change(&mut faults);
        self.write(&faults)?;
        Ok(faults)
    }

    fn read(&self) -> io::Result<Vec<FaultRecord>> {
        match fs::read_to_string(self.path()) {
            Ok(text) if text.trim().is_empty() => Ok(Vec::new()),
            Ok(text) => serde_json::from_str::<LedgerFile>(&text)
                .map(|f| f.faults)
                .map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("{}: {e}", self.path().display()),
                    )
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn write(&self, faults: &[FaultRecord]) -> io::Result<()> {
        let doc = LedgerFile {
            faults: faults.to_vec(),
        };
        let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
        let mut temp = tempfile::NamedTempFile::new_in(&self.dir)?;
        temp.write_all(text.as_bytes())?;
        temp.as_file().sync_all()?;
        temp.persist(self.path()).map_err(|e| e.error)?;
        Ok(())
    }

    fn lock(&self) -> io::Result<FileLock> {
        fs::create_dir_all(&self.dir)?;
        FileLock::exclusive(&self.dir.join("faults.lock"), true)?
            .ok_or_else(|| io::Error::other("the fault ledger lock is held"))
    }

    /// Records whose console run is not running any more.
    pub fn left_behind(&self) -> io::Result<Vec<FaultRecord>> {
        let records = self.records()?;
        Ok(records
            .into_iter()
            .filter(|r| !RunId::is_alive(&self.dir, &r.run))
            .collect())
    }
}

/// An exclusive `flock`, released when dropped (and by the kernel when the
/// process dies, however it dies: that is what makes a crash detectable).
#[derive(Debug)]
struct FileLock {
    _file: File,
}

impl FileLock {
    /// Takes the lock, waiting for it when `wait`; `None` when it is held
    /// elsewhere and `wait` is false.
    fn exclusive(path: &Path, wait: bool) -> io::Result<Option<FileLock>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        let flags = libc::LOCK_EX | if wait { 0 } else { libc::LOCK_NB };
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), flags) };
        if rc == 0 {
            return Ok(Some(FileLock { _file: file }));
        }
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(error)
        }
    }
}

/// This console run: an id, and the lock that says it is alive.
#[derive(Debug)]
pub struct RunId {
    pub id: String,
    _alive: FileLock,
}

impl RunId {
    /// A new run id, locked for as long as the value lives.
    pub fn claim(state_dir: &Path) -> io::Result<RunId> {
        let runs = state_dir.join("runs");
        fs::create_dir_all(&runs)?;
        let millis = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let id = format!("{}-{millis}", std::process::id());
        let lock = FileLock::exclusive(&runs.join(format!("{id}.lock")), false)?
            .ok_or_else(|| io::Error::other(format!("run {id} is already claimed")))?;
        Ok(RunId { id, _alive: lock })
    }

    /// True while the console run `id` holds its lock.
    pub fn is_alive(state_dir: &Path, id: &str) -> bool {
        let path = state_dir.join("runs").join(format!("{id}.lock"));
        if !path.exists() {
            return false;
        }
        match FileLock::exclusive(&path, false) {
            Ok(Some(_free)) => {
                let _ = fs::remove_file(&path);
                false
            }
            Ok(None) => true,
            // Cannot tell: treat as alive so its faults are not healed under it.
            Err(_) => true,
        }
    }
}

/// A fresh fault id.
pub fn new_fault_id() -> String {
    format!("fault-{:08x}", fastrand::u32(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, run: &str) -> FaultRecord {
        let now = OffsetDateTime::now_utc();
        FaultRecord {
            id: id.into(),
            run: run.into(),
            member: "10.0.0.2:6379".into(),
            target: "redis-1".into(),
            summary: "disconnected from net".into(),
            injected_at: now,
            expires_at: now + time::Duration::seconds(60),
            undo: Undo::DockerReconnect {
                container_id: "abc".into(),
                container: "redis-1".into(),
                network: "net".into(),
                endpoint: SavedEndpoint {
                    aliases: vec!["redis".into()],
                    ipv4_address: Some("10.0.0.2".into()),
                    can_pin_address: true,
                    ..SavedEndpoint::default()
                },
            },
        }
    }

    #[test]
    fn records_survive_a_round_trip_and_are_removed_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FaultLedger::in_dir(dir.path());
        assert!(ledger.records().unwrap().is_empty());
        ledger.add(record("a", "r1")).unwrap();
        ledger.add(record("b", "r1")).unwrap();
        let text = fs::read_to_string(ledger.path()).unwrap();
        assert!(text.contains("\"kind\": \"docker_reconnect\""), "{text}");
        assert_eq!(ledger.records().unwrap().len(), 2);
        let left = ledger.remove("a").unwrap();
        assert_eq!(
            left.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
    }

    #[test]
    fn a_run_is_alive_while_its_lock_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunId::claim(dir.path()).unwrap();
        assert!(RunId::is_alive(dir.path(), &run.id));
        let ledger = FaultLedger::in_dir(dir.path());
        ledger.add(record("mine", &run.id)).unwrap();
        ledger.add(record("theirs", "1-2")).unwrap();
        let left: Vec<String> = ledger
            .left_behind()
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(left, ["theirs"]);
        let id = run.id.clone();
        drop(run);
        assert!(!RunId::is_alive(dir.path(), &id));
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let ledger = FaultLedger::in_dir(dir.path());
                std::thread::spawn(move || {
                    for j in 0..10 {
                        ledger.add(record(&format!("{i}-{j}"), "r")).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(FaultLedger::in_dir(dir.path()).records().unwrap().len(), 80);
    }

    #[test]
    fn summaries_say_what_undo_does() {
        let r = record("a", "r");
        assert_eq!(
            r.undo.summary(),
            "reconnect container redis-1 to network net as 10.0.0.2 (aliases redis)"
        );
    }

    /// A ledger written by the console before the action seam (one record
    /// of each undo kind) still loads, field for field.
    #[test]
    fn a_ledger_written_by_the_old_code_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"faults":[
          {"id":"f1","run":"r","member":"10.0.0.2:6379","target":"redis-1",
           "summary":"disconnected from net","injected_at":"2026-01-01T00:00:00Z",
           "expires_at":"2026-01-01T00:01:00Z",
           "undo":{"kind":"docker_reconnect","container_id":"abc","container":"redis-1",
             "network":"net","endpoint":{"network_id":null,"aliases":["redis"],
             "ipv4_address":"10.0.0.2","ipv6_address":null,"links":[],"can_pin_address":true}}},
          {"id":"f2","run":"r","member":"node/a","target":"a","summary":"node a set to pause",
           "injected_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-01T00:10:00Z",
           "undo":{"kind":"swarm_node_availability","node_id":"n1","hostname":"a",
             "availability":"active"}},
          {"id":"f3","run":"r","member":"copy-0","target":"copy-0",
           "summary":"isolated by a deny-all NetworkPolicy",
           "injected_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-01T00:01:00Z",
           "undo":{"kind":"kube_delete_network_policy","namespace":"ag",
             "policy":"clusterdeck-isolate-copy-0"}},
          {"id":"f4","run":"r","member":"copy-0","target":"node-1","summary":"node node-1 cordoned",
           "injected_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-01T00:10:00Z",
           "undo":{"kind":"kube_uncordon","context":"prod","kubeconfig":"/k/config",
             "node":"node-1"}}]}"#;
        fs::write(dir.path().join("faults.json"), old).unwrap();
        let records = FaultLedger::in_dir(dir.path()).records().unwrap();
        let undos: Vec<&Undo> = records.iter().map(|r| &r.undo).collect();
        assert_eq!(
            undos,
            [
                &Undo::DockerReconnect {
                    container_id: "abc".into(),
                    container: "redis-1".into(),
                    network: "net".into(),
                    endpoint: SavedEndpoint {
                        aliases: vec!["redis".into()],
                        ipv4_address: Some("10.0.0.2".into()),
                        can_pin_address: true,
                        ..SavedEndpoint::default()
                    },
                },
                &Undo::SwarmNodeAvailability {
                    node_id: "n1".into(),
                    hostname: "a".into(),
                    availability: "active".into(),
                },
                &Undo::KubeDeleteNetworkPolicy {
                    context: None,
                    kubeconfig: None,
                    namespace: "ag".into(),
                    policy: "clusterdeck-isolate-copy-0".into(),
                },
                &Undo::KubeUncordon {
                    context: Some("prod".into()),
                    kubeconfig: Some(PathBuf::from("/k/config")),
                    node: "node-1".into(),
                },
            ]
        );
        assert_eq!(records[1].summary, "node a set to pause");
    }
}
