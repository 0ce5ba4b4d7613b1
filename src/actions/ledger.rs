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
//! console that died, and is offered for healing at the next start. Lock
//! files of runs that are gone are removed.
//!
//! The file is read with a bound, and damage never stops healing: a record
//! this version cannot read (an unknown undo kind) is kept in the file and
//! reported while the others heal; a file that cannot be read at all is
//! moved aside as `faults.json.damaged-<timestamp>` (never overwriting one)
//! for a person to look at, and a fresh ledger starts. The temporary file a
//! write leaves when killed half-way is removed by the next reader.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::bounded::{self, ReadError};

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

/// The largest ledger read: tens of thousands of records.
pub const LEDGER_BYTES: u64 = 16 * 1024 * 1024;

/// The file as read: records are read one by one, so one that cannot be
/// read does not hide the others.
#[derive(Debug, Default, Deserialize)]
struct LedgerFile {
    #[serde(default)]
    faults: Vec<serde_json::Value>,
}

/// The file as written: the records, then the ones this version could not
/// read, unchanged (a newer version may heal them).
#[derive(Serialize)]
struct LedgerOut<'a> {
    faults: Vec<Entry<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Entry<'a> {
    Record(&'a FaultRecord),
    Kept(&'a serde_json::Value),
}

/// A record the ledger holds but cannot be read (an unknown undo kind, a
/// missing field): kept in the file, reported, not healed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableRecord {
    /// Its `id`, when it has one.
    pub id: Option<String>,
    pub error: String,
}

/// A ledger file that could not be read at all, and where it was moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedLedger {
    pub kept_as: PathBuf,
    pub error: String,
}

/// Everything reading the ledger found.
#[derive(Debug, Default)]
pub struct LedgerContents {
    pub records: Vec<FaultRecord>,
    pub unreadable: Vec<UnreadableRecord>,
    /// Set when the file was damaged (and moved aside) by this read.
    pub damaged: Option<DamagedLedger>,
    /// The unreadable records as they are in the file, written back as such.
    kept: Vec<serde_json::Value>,
}

impl LedgerContents {
    /// What a person should know about the file, if anything: it was
    /// damaged and kept aside, or holds records this version cannot read.
    pub fn trouble(&self) -> Option<String> {
        if let Some(damaged) = &self.damaged {
            return Some(format!(
                "the fault ledger was damaged ({}); kept as {}",
                damaged.error,
                damaged.kept_as.display()
            ));
        }
        let n = self.unreadable.len();
        (n > 0).then(|| {
            format!("{n} fault record(s) this version cannot read stay in the ledger, not healed")
        })
    }

    fn parse(entries: Vec<serde_json::Value>) -> LedgerContents {
        let mut contents = LedgerContents::default();
        for entry in entries {
            match serde_json::from_value::<FaultRecord>(entry.clone()) {
                Ok(record) => contents.records.push(record),
                Err(e) => {
                    let id = entry.get("id").and_then(|v| v.as_str()).map(str::to_string);
                    contents.unreadable.push(UnreadableRecord {
                        id,
                        error: e.to_string(),
                    });
                    contents.kept.push(entry);
                }
            }
        }
        contents
    }
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

    /// Every record that can be read, under the lock.
    pub fn records(&self) -> io::Result<Vec<FaultRecord>> {
        Ok(self.load()?.records)
    }

    /// Every record, what could not be read, and whether the file was
    /// damaged; also removes the lock files of runs that are gone.
    pub fn load(&self) -> io::Result<LedgerContents> {
        let contents = {
            let _lock = self.lock()?;
            self.read()?
        };
        RunId::remove_dead(&self.dir);
        Ok(contents)
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
        let mut contents = self.read()?;
        change(&mut contents.records);
        self.write(&contents.records, &contents.kept)?;
        Ok(contents.records)
    }

    /// The temporary file a write renames over the ledger. One name, as
    /// writes are serialised by the lock: a reader holding the lock knows
    /// that one left there is from a writer killed half-way.
    fn temporary(&self) -> PathBuf {
        self.dir.join("faults.json.tmp")
    }

    /// Reads the file (the lock held). A file that cannot be read at all
    /// is moved aside, and reads as empty.
    fn read(&self) -> io::Result<LedgerContents> {
        match fs::remove_file(self.temporary()) {
            Ok(()) => tracing::warn!("removed a fault ledger write left half-way"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(error = %e, "cannot remove the ledger's temporary file"),
        }
        let text = match bounded::read_text(&self.path(), LEDGER_BYTES) {
            Ok(text) => text,
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(LedgerContents::default());
            }
            Err(ReadError::Io(e)) => return Err(e),
            Err(e) => return self.set_aside(e.to_string()),
        };
        if text.trim().is_empty() {
            return Ok(LedgerContents::default());
        }
        match serde_json::from_str::<LedgerFile>(&text) {
            Ok(file) => Ok(LedgerContents::parse(file.faults)),
            Err(e) => self.set_aside(e.to_string()),
        }
    }

    /// Moves a damaged file to `faults.json.damaged-<timestamp>[-n]`, never
    /// over another (a hard link fails when the name is taken).
    fn set_aside(&self, error: String) -> io::Result<LedgerContents> {
        let stamp = OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .map_err(io::Error::other)?;
        let base = format!("faults.json.damaged-{stamp}");
        for n in 0..1000 {
            let name = if n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let kept_as = self.dir.join(name);
            match fs::hard_link(self.path(), &kept_as) {
                Ok(()) => {
                    fs::remove_file(self.path())?;
                    tracing::warn!(kept_as = %kept_as.display(), %error, "the fault ledger was damaged");
                    let damaged = Some(DamagedLedger { kept_as, error });
                    return Ok(LedgerContents {
                        damaged,
                        ..LedgerContents::default()
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("too many damaged ledgers kept aside"))
    }

    fn write(&self, faults: &[FaultRecord], kept: &[serde_json::Value]) -> io::Result<()> {
        let doc = LedgerOut {
            faults: (faults.iter().map(Entry::Record))
                .chain(kept.iter().map(Entry::Kept))
                .collect(),
        };
        let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
        let temporary = self.temporary();
        let mut file = File::create(&temporary)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&temporary, self.path())
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
    file: File,
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
            return Ok(Some(FileLock { file }));
        }
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(error)
        }
    }

    /// True when `path` still names the locked file (another process may
    /// have removed a lock file it found free between our open and flock).
    fn is_at(&self, path: &Path) -> bool {
        match (self.file.metadata(), fs::metadata(path)) {
            (Ok(mine), Ok(there)) => mine.ino() == there.ino() && mine.dev() == there.dev(),
            _ => false,
        }
    }
}

/// This console run: an id, and the lock that says it is alive.
#[derive(Debug)]
pub struct RunId {
    pub id: String,
    path: PathBuf,
    _alive: FileLock,
}

impl RunId {
    /// A new run id, locked for as long as the value lives (its lock file
    /// is removed when it is dropped).
    pub fn claim(state_dir: &Path) -> io::Result<RunId> {
        RunId::remove_dead(state_dir);
        let runs = state_dir.join("runs");
        fs::create_dir_all(&runs)?;
        let millis = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let id = format!("{}-{millis}", std::process::id());
        let path = runs.join(format!("{id}.lock"));
        // A few tries: a process tidying dead runs may lock and remove the
        // file between our open and our lock.
        for _ in 0..5 {
            match FileLock::exclusive(&path, false)? {
                Some(lock) if lock.is_at(&path) => {
                    return Ok(RunId {
                        id,
                        path,
                        _alive: lock,
                    });
                }
                _ => std::thread::sleep(std::time::Duration::from_millis(10)),
            }
        }
        Err(io::Error::other(format!(
            "cannot keep the lock file of run {id}"
        )))
    }

    /// Removes the lock files no run holds (their runs are gone); errors
    /// are ignored, as a file left is only untidy.
    pub fn remove_dead(state_dir: &Path) {
        let Ok(entries) = fs::read_dir(state_dir.join("runs")) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "lock")
                && entry.file_type().is_ok_and(|t| t.is_file())
                && let Ok(Some(_free)) = FileLock::exclusive(&path, false)
            {
                let _ = fs::remove_file(&path);
            }
        }
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

impl Drop for RunId {
    /// Removed while still locked, so no other process takes it for dead
    /// and alive at once.
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
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

    fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
            .collect();
        found.sort();
        found
    }

    #[test]
    fn a_damaged_ledger_is_kept_aside_never_overwritten_and_a_fresh_one_starts() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FaultLedger::in_dir(dir.path());
        fs::write(ledger.path(), "{\"faults\": [{\"id\": ").unwrap();
        let contents = ledger.load().unwrap();
        assert!(contents.records.is_empty());
        let damaged = contents.damaged.expect("reported as damaged");
        assert!(damaged.error.contains("EOF"), "{}", damaged.error);
        assert_eq!(
            fs::read_to_string(&damaged.kept_as).unwrap(),
            "{\"faults\": [{\"id\": "
        );
        assert!(!ledger.path().exists());
        // Damaged again within the same second: a second file, the first intact.
        fs::write(ledger.path(), "not json").unwrap();
        ledger.add(record("a", "r")).unwrap();
        let kept = files(dir.path(), "faults.json.damaged-");
        assert_eq!(kept.len(), 2, "{kept:?}");
        let texts: Vec<String> = kept
            .iter()
            .map(|p| fs::read_to_string(p).unwrap())
            .collect();
        assert!(texts.contains(&"not json".to_string()), "{texts:?}");
        assert_eq!(ledger.records().unwrap().len(), 1);
        // Too large to read is damaged too: read with a bound.
        let huge = format!(
            "{{\"faults\": [], \"pad\": \"{}\"}}",
            "x".repeat(LEDGER_BYTES as usize)
        );
        fs::write(ledger.path(), huge).unwrap();
        let damaged = ledger.load().unwrap().damaged.unwrap();
        assert!(damaged.error.contains("larger than"), "{}", damaged.error);
    }

    #[test]
    fn an_unknown_record_is_kept_and_reported_while_the_others_heal() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FaultLedger::in_dir(dir.path());
        ledger.add(record("good-1", "r")).unwrap();
        ledger.add(record("good-2", "r")).unwrap();
        let mut doc: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(ledger.path()).unwrap()).unwrap();
        let mut future = doc["faults"][0].clone();
        future["id"] = "future".into();
        future["undo"] = serde_json::json!({"kind": "teleport", "to": "mars"});
        doc["faults"]
            .as_array_mut()
            .unwrap()
            .insert(1, future.clone());
        fs::write(ledger.path(), doc.to_string()).unwrap();

        let contents = ledger.load().unwrap();
        let ids: Vec<&str> = contents.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["good-1", "good-2"]);
        assert_eq!(contents.unreadable.len(), 1);
        assert_eq!(contents.unreadable[0].id.as_deref(), Some("future"));
        assert!(contents.unreadable[0].error.contains("teleport"));
        assert!(contents.damaged.is_none());
        // Healing the others keeps the unknown record as it was.
        ledger.remove("good-1").unwrap();
        ledger.remove("good-2").unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(ledger.path()).unwrap()).unwrap();
        assert_eq!(doc["faults"], serde_json::json!([future]));
    }

    #[test]
    fn a_write_killed_half_way_leaves_nothing_after_the_next_read() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = FaultLedger::in_dir(dir.path());
        ledger.add(record("a", "r")).unwrap();
        assert_eq!(files(dir.path(), "faults.json.tmp"), Vec::<PathBuf>::new());
        // As a writer killed between writing its temporary file and renaming it.
        fs::write(dir.path().join("faults.json.tmp"), "{\"faults\": [").unwrap();
        assert_eq!(ledger.records().unwrap().len(), 1);
        assert_eq!(files(dir.path(), "faults.json.tmp"), Vec::<PathBuf>::new());
    }

    #[test]
    fn lock_files_of_runs_that_are_gone_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let runs = dir.path().join("runs");
        let run = RunId::claim(dir.path()).unwrap();
        let mine = runs.join(format!("{}.lock", run.id));
        // A console killed with SIGKILL leaves its lock file, unlocked.
        let dead = runs.join("1-2.lock");
        fs::write(&dead, "").unwrap();
        FaultLedger::in_dir(dir.path()).load().unwrap();
        assert!(!dead.exists(), "a dead run's lock file is removed");
        assert!(mine.exists(), "a live run's lock file stays");
        assert!(RunId::is_alive(dir.path(), &run.id));
        drop(run);
        assert!(!mine.exists(), "a run that ends removes its lock file");
        fs::write(&dead, "").unwrap();
        let next = RunId::claim(dir.path()).unwrap();
        assert!(!dead.exists(), "claiming a run tidies too");
        assert!(RunId::is_alive(dir.path(), &next.id));
    }
}
