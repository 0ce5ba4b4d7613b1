//! Real ZooKeeper servers for the probe tests, from Debian's `zookeeper`
//! package, run as plain JVMs on free loopback ports (never the system
//! service): a three-server ensemble or one standalone server, each in a
//! temporary directory. Servers are SIGKILLed when the guard drops, even on
//! panic, and by the kernel if the test's thread dies first
//! (`PR_SET_PDEATHSIG`). How the command line and timings were found:
//! tests/fixtures/probes/zookeeper/NOTES.md.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const JAR: &str = "/usr/share/java/zookeeper.jar";
/// Only so the servers log somewhere (the jar has no slf4j binding).
const SLF4J: &str = "/usr/share/java/slf4j-simple.jar";
const INSTALL: &str = "apt-get install -y zookeeper";

/// How long a fresh ensemble may take to elect (3.5 s measured, alone).
pub const START: Duration = Duration::from_secs(60);

/// One server: its id (myid), client port and process.
pub struct Server {
    pub id: u32,
    pub client_port: u16,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// Running servers, killed on drop.
pub struct ZooKeeper {
    dir: tempfile::TempDir,
    pub servers: Vec<Server>,
}

/// Fails the test, naming the package, when ZooKeeper or Java is missing.
fn require_installed() {
    let java = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(java, Ok(s) if s.success()) {
        panic!("no `java` to run ZooKeeper; run: {INSTALL}");
    }
    if !Path::new(JAR).is_file() {
        panic!("{JAR} missing; run: {INSTALL}");
    }
}

/// `n` distinct free ports: all bound at once, then released (a small race
/// with other programs remains).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// zoo.cfg lines common to both shapes: short ticks so elections and
/// timeouts are quick, no admin HTTP server, every four-letter word.
fn common_config(data: &Path) -> String {
    format!(
        "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
        data.display()
    )
}

impl ZooKeeper {
    /// A three-server ensemble (server ids 1..3), started; call
    /// [`ZooKeeper::wait_leader`] before using it.
    pub fn ensemble() -> ZooKeeper {
        require_installed();
        let dir = tempfile::Builder::new()
            .prefix("clusterdeck-zk-")
            .tempdir()
            .unwrap();
        let ports = free_ports(9);
        // The client address in each server line, so `conf` lists every
        // member's client port; standaloneEnabled=false keeps quorum rules.
        let members: String = (1..=3)
            .map(|i| {
                let p = &ports[(i - 1) * 3..i * 3];
                format!(
                    "server.{i}=127.0.0.1:{}:{};127.0.0.1:{}\n",
                    p[1], p[2], p[0]
                )
            })
            .collect();
        let servers = (1..=3)
            .map(|i| {
                let home = dir.path().join(i.to_string());
                let extra = format!("standaloneEnabled=false\n{members}");
                Server::configure(&home, i as u32, ports[(i - 1) * 3], &extra)
            })
            .collect();
        let mut zk = ZooKeeper { dir, servers };
        for i in 0..3 {
            zk.start(i);
        }
        zk
    }

    /// One standalone server (no `server.N` lines), bound to 127.0.0.1.
    pub fn standalone() -> ZooKeeper {
        require_installed();
        let dir = tempfile::Builder::new()
            .prefix("clusterdeck-zk-")
            .tempdir()
            .unwrap();
        let port = free_ports(1)[0];
        let extra = format!("clientPort={port}\nclientPortAddress=127.0.0.1\n");
        let server = Server::configure(&dir.path().join("0"), 0, port, &extra);
        let mut zk = ZooKeeper {
            dir,
            servers: vec![server],
        };
        zk.start(0);
        zk
    }

    /// Starts (or restarts) server `i` (an index into `servers`). It gets
    /// SIGKILL when the calling thread ends: call it from the test's body.
    pub fn start(&mut self, i: usize) {
        let server = &mut self.servers[i];
        assert!(server.child.is_none(), "server {} already runs", server.id);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&server.log)
            .unwrap();
        let mut command = Command::new("java");
        command
            // Small heap and serial GC: several JVMs on a 2-core machine.
            .args(["-Xmx128m", "-XX:+UseSerialGC"])
            .arg("-Dzookeeper.jmx.log4j.disable=true")
            .args(["-cp", &format!("{JAR}:{SLF4J}")])
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&server.config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls (prctl, getppid) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The test may have died before prctl took effect.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start java ({e}); run: {INSTALL}"));
        server.child = Some(child);
    }

    /// SIGKILLs server `i` and reaps it: its sockets close at once, as
    /// when a machine's process dies.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.servers[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn port(&self, i: usize) -> u16 {
        self.servers[i].client_port
    }

    pub fn address(&self, i: usize) -> String {
        self.servers[i].address()
    }

    /// The index of the server whose `srvr` says `Mode: leader` (or
    /// `standalone`), polled until `within` has passed; panics with the logs.
    pub async fn wait_leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(i) = self.leader().await {
                return i;
            }
            if Instant::now() >= deadline {
                panic!(
                    "no ZooKeeper leader within {within:?}; logs:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for a leader and for every running server to serve (a
    /// follower answers "not serving" until it has synced with the
    /// leader); the leader's index.
    pub async fn wait_ready(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        let leader = self.wait_leader(within).await;
        loop {
            let mut serving = true;
            for server in self.servers.iter().filter(|s| s.child.is_some()) {
                serving &= mode(server.client_port).await.is_some();
            }
            if serving {
                return leader;
            }
            if Instant::now() >= deadline {
                panic!(
                    "not every server serves within {within:?}; logs:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The running server that says it leads, now.
    pub async fn leader(&self) -> Option<usize> {
        for (i, server) in self.servers.iter().enumerate() {
            if server.child.is_none() {
                continue;
            }
            let mode = mode(server.client_port).await;
            if matches!(mode.as_deref(), Some("leader" | "standalone")) {
                return Some(i);
            }
        }
        None
    }

    /// The tail of every server's log, for a failure message.
    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .map(|s| {
                let text = fs::read_to_string(&s.log).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!(
                    "--- server {} ({})\n{}",
                    s.id,
                    s.log.display(),
                    tail.join("\n")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Server {
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// Writes `home/zoo.cfg` and `home/data/myid`.
    fn configure(home: &Path, id: u32, client_port: u16, extra: &str) -> Server {
        let data = home.join("data");
        fs::create_dir_all(&data).unwrap();
        fs::write(data.join("myid"), format!("{id}\n")).unwrap();
        let config = home.join("zoo.cfg");
        fs::write(&config, format!("{}{extra}", common_config(&data))).unwrap();
        Server {
            id,
            client_port,
            config,
            log: home.join("log"),
            child: None,
        }
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
    }
}

/// One four-letter word to `127.0.0.1:port`, its whole reply; None when the
/// server does not answer within 2 s.
pub async fn four_letters(port: u16, word: &str) -> Option<String> {
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        stream.write_all(word.as_bytes()).await.ok()?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.ok()?;
        Some(reply)
    };
    tokio::time::timeout(Duration::from_secs(2), ask)
        .await
        .ok()
        .flatten()
}

/// `srvr`'s `Mode:` (leader, follower, standalone), or None (not serving,
/// not answering).
pub async fn mode(port: u16) -> Option<String> {
    srvr_field(port, "Mode").await
}

/// `srvr`'s epoch: the high 32 bits of its `Zxid`.
pub async fn epoch(port: u16) -> Option<u64> {
    let zxid = srvr_field(port, "Zxid").await?;
    let zxid = u64::from_str_radix(zxid.trim_start_matches("0x"), 16).ok()?;
    Some(zxid >> 32)
}

async fn srvr_field(port: u16, name: &str) -> Option<String> {
    let reply = four_letters(port, "srvr").await?;
    reply.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_string())
    })
}
