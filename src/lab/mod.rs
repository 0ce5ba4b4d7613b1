//! A real, local Redis cluster for demos and tests: one master, N replicas
//! and M sentinels, started from `redis-server` and `redis-sentinel` on the
//! PATH, each on a free `127.0.0.1` port, with configs and data in a
//! temporary directory that goes away with the lab.
//!
//! ```no_run
//! # async fn demo() -> Result<(), clusterdeck::lab::LabError> {
//! use std::time::Duration;
//! use clusterdeck::lab::{LabConfig, RedisLab};
//!
//! let lab = RedisLab::start(LabConfig::default()).await?;
//! lab.wait_ready(Duration::from_secs(20)).await?;
//! println!("watch it with --redis {}", lab.redis_url());
//! lab.kill("master")?; // Sentinel fails over to a replica
//! # Ok(()) }
//! ```
//!
//! Processes are killed and reaped when the lab is dropped, and die with the
//! process that started them however it dies (`PR_SET_PDEATHSIG`). That
//! signal follows the *thread* that spawned them: start and restart members
//! from a thread that lives as long as the lab (a runtime worker or the main
//! thread, not `spawn_blocking`).
//!
//! `clusterdeck lab --app etcd` runs three etcd members instead ([`etcd`],
//! or as containers, [`etcd_docker`]); both local labs answer the console's
//! kill and restart through [`LocalLab`].

pub mod console;
pub mod docker;
pub mod etcd;
mod etcd_console;
pub mod etcd_docker;
pub mod image;
mod process;
mod sweep;

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use redis::Value;
use tokio::time::Instant;

use crate::sources::redis::sentinel::parse_master;
use crate::sources::redis::value::text;
use process::{LabProcess, find_binary, free_ports};

/// A line on the terminal while the console is not on it (before it opens
/// and after it closes), so that a lab taking seconds to start or to be
/// removed is never a silent blank screen ([`crate::terminal::say`]: a
/// terminal that is gone drops it). These lines do not name the lab, so that
/// nothing reads them as the console's notice that does.
pub fn say(text: &str) {
    crate::terminal::say(format_args!("clusterdeck: {text}"));
}

/// Asks `missing` every 100 ms until it names nothing missing, or fails
/// after `timeout` with the last thing it named: how every lab waits to be
/// whole.
pub(crate) async fn poll_ready<F, Fut>(timeout: Duration, mut missing: F) -> Result<(), LabError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let start = Instant::now();
    loop {
        let Some(detail) = missing().await else {
            return Ok(());
        };
        if start.elapsed() >= timeout {
            return Err(LabError::NotReady {
                waited: start.elapsed(),
                detail,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The one command that installs what the lab needs.
pub const INSTALL_HINT: &str = "apt-get install -y redis-server redis-sentinel";

/// The command that installs `binary` (the etcd lab's, or the Redis lab's).
pub fn install_hint(binary: &str) -> &'static str {
    if binary == "etcd" {
        etcd::INSTALL_HINT
    } else {
        INSTALL_HINT
    }
}

/// What the console's `K` and `R` reach: a local lab's processes, by name.
pub trait LocalLab: Send + Sync + 'static {
    /// Every process, with its address.
    fn members(&self) -> Vec<LabMember>;
    /// SIGKILL (a crash), and reap.
    fn kill(&self, name: &str) -> Result<(), LabError>;
    /// Start it again as it was (same config, port and data) and wait until it answers.
    fn restart<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), LabError>>;
}

impl LocalLab for RedisLab {
    fn members(&self) -> Vec<LabMember> {
        RedisLab::members(self)
    }

    fn kill(&self, name: &str) -> Result<(), LabError> {
        RedisLab::kill(self, name)
    }

    fn restart<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), LabError>> {
        RedisLab::restart(self, name).boxed()
    }
}

/// What to start.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Replicas of the master (default 2).
    pub replicas: usize,
    /// Sentinels watching it (default 3); 0 for a plain replication group.
    pub sentinels: usize,
    /// The name sentinels monitor the master under (default `mymaster`).
    pub master_name: String,
    /// Sentinel's `down-after-milliseconds` (default 1 s).
    pub down_after: Duration,
    /// Sentinel's `failover-timeout` (default 3 s).
    pub failover_timeout: Duration,
    /// Sentinels that must agree the master is down (default 2).
    pub quorum: u32,
    /// When set: `requirepass`/`masterauth` on every instance and sentinel.
    pub password: Option<String>,
    /// Sentinels ask no password of their clients even when `password` is
    /// set (they still give it to the instances): a Sentinel and its data
    /// nodes with credentials of their own.
    pub open_sentinels: bool,
    /// How long each process may take to answer `PING` after it is spawned.
    pub start_timeout: Duration,
}

impl Default for LabConfig {
    fn default() -> Self {
        LabConfig {
            replicas: 2,
            sentinels: 3,
            master_name: "mymaster".into(),
            down_after: Duration::from_millis(1000),
            failover_timeout: Duration::from_millis(3000),
            quorum: 2,
            password: None,
            open_sentinels: false,
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// Why the lab could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error(
        "{binary} is not on the PATH; install it with: {}",
        install_hint(binary)
    )]
    Missing { binary: &'static str },
    #[error("lab: {what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("lab member {name} did not start: {detail}")]
    Start { name: String, detail: String },
    #[error("lab not ready after {} ms: {detail}", waited.as_millis())]
    NotReady { waited: Duration, detail: String },
    #[error("lab member {name} refused a command: {detail}")]
    Command { name: String, detail: String },
    #[error("no lab member is named {0:?} (try master, replica-1, sentinel-1)")]
    NoSuchMember(String),
}

/// The role a member was started with. Failovers change the real roles;
/// ask the cluster (or a source) for those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabRole {
    Master,
    Replica,
    Sentinel,
    /// An etcd member: raft, not the lab, decides which one leads.
    Raft,
}

/// One process of the lab, as [`RedisLab::members`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabMember {
    /// `master`, `replica-1`, ..., `sentinel-1`, ...
    pub name: String,
    pub role: LabRole,
    /// `127.0.0.1:port`, the address sources report it under.
    pub address: String,
    /// Started and not killed (nor exited).
    pub running: bool,
}

/// A running local cluster. Dropping it kills every process and removes its files.
pub struct RedisLab {
    config: LabConfig,
    processes: Vec<LabProcess>,
    // Declared last so the processes are gone before their directory is.
    dir: tempfile::TempDir,
}

impl RedisLab {
    /// Starts every process and waits until each answers `PING` (not until
    /// replication is up: see [`RedisLab::wait_ready`]).
    pub async fn start(config: LabConfig) -> Result<RedisLab, LabError> {
        let server = find_binary("redis-server")?;
        let sentinel = if config.sentinels > 0 {
            Some(find_binary("redis-sentinel")?)
        } else {
            None
        };
        // A free port can be taken by someone else between choosing and
        // binding it (tests run in parallel): try again with new ports.
        let mut last = None;
        for _ in 0..3 {
            match Self::start_once(&config, &server, sentinel.as_deref()).await {
                Ok(lab) => return Ok(lab),
                Err(e @ LabError::Start { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| LabError::Start {
            name: "lab".into(),
            detail: "gave up".into(),
        }))
    }

    async fn start_once(
        config: &LabConfig,
        server: &Path,
        sentinel: Option<&Path>,
    ) -> Result<RedisLab, LabError> {
        let dir = tempfile::Builder::new()
            .prefix("clusterdeck-lab-")
            .tempdir()
            .map_err(|source| LabError::Io {
                what: "creating a temporary directory".into(),
                source,
            })?;
        let processes = Self::processes(config, dir.path(), server, sentinel)?;
        let lab = RedisLab {
            config: config.clone(),
            processes,
            dir,
        };
        for process in &lab.processes {
            process.spawn()?;
        }
        for process in &lab.processes {
            lab.wait_answering(process).await?;
        }
        Ok(lab)
    }

    /// The master, its replicas and the sentinels, each on a free port,
    /// configured in `dir` but not started.
    fn processes(
        config: &LabConfig,
        dir: &Path,
        server: &Path,
        sentinel: Option<&Path>,
    ) -> Result<Vec<LabProcess>, LabError> {
        let ports = free_ports(1 + config.replicas + config.sentinels)?;
        let master_port = ports[0];
        let mut processes = Vec::new();
        let master = LabRole::Master;
        processes.push(LabProcess::redis(
            dir,
            server,
            "master",
            master,
            master_port,
            None,
            config,
        )?);
        for i in 0..config.replicas {
            let name = format!("replica-{}", i + 1);
            let (role, port) = (LabRole::Replica, ports[1 + i]);
            processes.push(LabProcess::redis(
                dir,
                server,
                &name,
                role,
                port,
                Some(master_port),
                config,
            )?);
        }
        for i in 0..config.sentinels {
            let Some(binary) = sentinel else { break };
            let name = format!("sentinel-{}", i + 1);
            let port = ports[1 + config.replicas + i];
            processes.push(LabProcess::sentinel(
                dir,
                binary,
                &name,
                port,
                master_port,
                config,
            )?);
        }
        Ok(processes)
    }

    /// Waits until the group is whole: one master with every running replica
    /// linked to it, and every running sentinel agreeing on that master and
    /// knowing the other sentinels. Polls; never sleeps a fixed time.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), LabError> {
        poll_ready(timeout, || self.not_ready_because()).await
    }

    /// Every process, in start order: master, replicas, sentinels.
    pub fn members(&self) -> Vec<LabMember> {
        self.processes.iter().map(LabProcess::member).collect()
    }

    /// Kills a member with SIGKILL (no shutdown, no save) and reaps it.
    pub fn kill(&self, name: &str) -> Result<(), LabError> {
        self.process(name)?.kill();
        Ok(())
    }

    /// Starts a member again with the same config and port (killing it first
    /// if it runs) and waits until it answers `PING`. A restarted old master
    /// comes back as a master; Sentinel then turns it into a replica.
    pub async fn restart(&self, name: &str) -> Result<(), LabError> {
        let process = self.process(name)?;
        process.kill();
        process.spawn()?;
        self.wait_answering(process).await
    }

    /// The URL of the master the lab started with (password included).
    pub fn redis_url(&self) -> String {
        self.url_of("master").unwrap_or_default()
    }

    /// The URL of any member (password included).
    pub fn url_of(&self, name: &str) -> Result<String, LabError> {
        Ok(self.url(self.process(name)?.port))
    }

    /// The URLs of the sentinels (password included).
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.processes
            .iter()
            .filter(|p| p.role == LabRole::Sentinel)
            .map(|p| self.url(p.port))
            .collect()
    }

    /// `127.0.0.1:port` of a member.
    pub fn address_of(&self, name: &str) -> Result<String, LabError> {
        Ok(self.process(name)?.address())
    }

    pub fn master_name(&self) -> &str {
        &self.config.master_name
    }

    pub fn password(&self) -> Option<&str> {
        self.config.password.as_deref()
    }

    /// Where configs, data and logs (`<name>.log`) live.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Sends one command to a member and returns its answer, bounded by 2 s.
    pub async fn command(&self, name: &str, args: &[&str]) -> Result<Value, LabError> {
        let process = self.process(name)?;
        let mut cmd = redis::Cmd::new();
        for arg in args {
            cmd.arg(*arg);
        }
        self.query(process.port, &cmd)
            .await
            .map_err(|detail| LabError::Command {
                name: name.to_string(),
                detail,
            })
    }

    fn url(&self, port: u16) -> String {
        let open = self.config.open_sentinels
            && self
                .processes
                .iter()
                .any(|p| p.port == port && p.role == LabRole::Sentinel);
        match self.config.password.as_ref().filter(|_| !open) {
            Some(p) => format!("redis://:{p}@127.0.0.1:{port}"),
            None => format!("redis://127.0.0.1:{port}"),
        }
    }

    fn process(&self, name: &str) -> Result<&LabProcess, LabError> {
        self.processes
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| LabError::NoSuchMember(name.to_string()))
    }

    async fn query(&self, port: u16, cmd: &redis::Cmd) -> Result<Value, String> {
        let timeout = Duration::from_secs(2);
        let client = redis::Client::open(self.url(port)).map_err(|e| e.to_string())?;
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let work = async {
            let mut connection = client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            cmd.query_async::<Value>(&mut connection).await
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("no answer within 2 s".into()),
        }
    }

    async fn wait_answering(&self, process: &LabProcess) -> Result<(), LabError> {
        let start = Instant::now();
        loop {
            if let Some(status) = process.exited() {
                return Err(LabError::Start {
                    name: process.name.clone(),
                    detail: format!("exited with {status}; {}", process.log_tail()),
                });
            }
            let ping = self.query(process.port, &redis::cmd("PING")).await;
            if ping.is_ok() {
                return Ok(());
            }
            if start.elapsed() >= self.config.start_timeout {
                return Err(LabError::Start {
                    name: process.name.clone(),
                    detail: format!("no PING answer: {}", ping.err().unwrap_or_default()),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What is still missing before the lab is ready, or None.
    async fn not_ready_because(&self) -> Option<String> {
        let mut master = None;
        let mut replicas = 0;
        for process in self.running(|r| r != LabRole::Sentinel) {
            let info = self
                .query(process.port, redis::cmd("INFO").arg("replication"))
                .await;
            let info = match info.map(|v| text(&v)) {
                Ok(Some(text)) => text,
                Ok(None) => return Some(format!("{}: INFO gave no text", process.name)),
                Err(e) => return Some(format!("{}: {e}", process.name)),
            };
            if info.contains("role:master") {
                if master.is_some() {
                    return Some("more than one master".into());
                }
                master = Some((process.port, info));
            } else if !info.contains("master_link_status:up") {
                return Some(format!("{}: replication link not up", process.name));
            } else {
                replicas += 1;
            }
        }
        let Some((master_port, info)) = master else {
            return Some("no master".into());
        };
        let online = info.matches("state=online").count();
        if online < replicas {
            return Some(format!(
                "master sees {online} of {replicas} replicas online"
            ));
        }
        self.sentinels_not_ready(master_port, replicas).await
    }

    async fn sentinels_not_ready(&self, master_port: u16, replicas: usize) -> Option<String> {
        let sentinels: Vec<&LabProcess> = self.running(|r| r == LabRole::Sentinel).collect();
        for process in &sentinels {
            let reply = self
                .query(
                    process.port,
                    redis::cmd("SENTINEL")
                        .arg("MASTER")
                        .arg(&self.config.master_name),
                )
                .await;
            let fields = match reply {
                Ok(v) => parse_master(&v),
                Err(e) => return Some(format!("{}: {e}", process.name)),
            };
            let master = match fields {
                Ok(m) => m,
                Err(e) => return Some(format!("{}: {e}", process.name)),
            };
            if master.entry.port != master_port || master.entry.flags != ["master"] {
                return Some(format!(
                    "{} sees master at port {} flags {:?}",
                    process.name, master.entry.port, master.entry.flags
                ));
            }
            // Sentinel learns replicas from the master's INFO every 10 s; it
            // cannot fail over to one it does not know.
            let known = master.num_slaves.unwrap_or(0) as usize;
            if known < replicas {
                return Some(format!(
                    "{} knows {known} of {replicas} replicas",
                    process.name
                ));
            }
            let others = master.num_other_sentinels.unwrap_or(0) as usize;
            if others + 1 < sentinels.len() {
                return Some(format!("{} knows {others} other sentinels", process.name));
            }
        }
        None
    }

    fn running(&self, role: impl Fn(LabRole) -> bool) -> impl Iterator<Item = &LabProcess> {
        self.processes
            .iter()
            .filter(move |p| role(p.role) && p.exited().is_none() && p.is_started())
    }
}
