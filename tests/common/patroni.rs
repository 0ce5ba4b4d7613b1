//! A real Patroni cluster for the probe tests: three members (Patroni 3.0
//! and PostgreSQL 15 from Debian) on free loopback ports, one etcd as their
//! DCS, in a short directory under /tmp that goes away with the guard.
//! PostgreSQL refuses root, so each Patroni runs as `postgres` through
//! `setpriv`, with a parent-death signal: if the test process dies, Patroni
//! gets SIGTERM and shuts its PostgreSQL down. The guard's drop kills
//! Patroni first (alive, it would restart what is stopped), then each
//! postmaster (SIGQUIT: an immediate shutdown that frees shared memory),
//! then etcd. How this was worked out is in scripts/pg/NOTES.md.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::etcd::{EtcdCluster, free_ports};

/// The PostgreSQL binaries Patroni runs.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// What a test needs.
const INSTALL: &str =
    "apt-get install -y patroni python3-etcd postgresql-15 etcd-server etcd-client util-linux curl";

/// How long three members may take to have a leader and two streaming
/// replicas (about 20 s measured on two busy cores).
const READY_WITHIN: Duration = Duration::from_secs(120);

/// The scope (cluster name) in the DCS.
pub const SCOPE: &str = "cdtest";

/// One member: its name, REST and PostgreSQL ports, and its Patroni.
pub struct Node {
    pub name: String,
    pub rest: u16,
    pub pg: u16,
    child: Option<Child>,
}

/// A running cluster; dropping it stops and removes everything.
pub struct PatroniCluster {
    pub dir: PathBuf,
    pub etcd: EtcdCluster,
    pub nodes: Vec<Node>,
}

/// Fails the test (never skips) when something needed is not installed.
pub fn require_patroni() {
    let pg = Path::new(PG_BIN).join("postgres");
    assert!(pg.exists(), "no {}; install it: {INSTALL}", pg.display());
    for binary in ["patroni", "setpriv", "curl"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {binary}")])
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(found, "cannot find `{binary}`; install it: {INSTALL}");
    }
    let uid = unsafe { libc::geteuid() };
    assert_eq!(
        uid, 0,
        "the Patroni tests run PostgreSQL as `postgres` through setpriv: run them as root"
    );
}

impl PatroniCluster {
    /// Three members, waited for until one leads and two stream from it.
    pub fn start(label: &str) -> PatroniCluster {
        require_patroni();
        let etcd = EtcdCluster::start(1);
        let dir = PathBuf::from(format!("/tmp/cd-pt-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        chown_postgres(&dir);
        let ports = free_ports(6);
        let mut cluster = PatroniCluster {
            dir,
            etcd,
            nodes: Vec::new(),
        };
        for i in 0..3 {
            let name = format!("node{}", i + 1);
            let (rest, pg) = (ports[2 * i], ports[2 * i + 1]);
            cluster.nodes.push(Node {
                name,
                rest,
                pg,
                child: None,
            });
            cluster.spawn(i);
        }
        cluster.wait_ready(READY_WITHIN);
        cluster
    }

    /// `http://127.0.0.1:PORT` of member `i`'s REST API.
    pub fn rest_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.nodes[i].rest)
    }

    /// Member `i`'s PostgreSQL `host:port`.
    pub fn pg_address(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.nodes[i].pg)
    }

    /// The etcd's client URL.
    pub fn dcs_url(&self) -> String {
        self.etcd.client_url(0)
    }

    /// Patroni's leader key in the DCS.
    pub fn leader_key(&self) -> String {
        format!("/service/{SCOPE}/leader")
    }

    fn spawn(&mut self, i: usize) {
        let node = &self.nodes[i];
        let home = self.dir.join(&node.name);
        std::fs::create_dir_all(&home).unwrap();
        chown_postgres(&home);
        let config = home.join("patroni.yml");
        std::fs::write(&config, self.config(node, &home)).unwrap();
        chown_postgres(&config);
        let log = std::fs::File::create(self.dir.join(format!("{}.log", node.name))).unwrap();
        let child = Command::new("setpriv")
            .args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--reset-env",
            ])
            .arg("--pdeathsig=TERM")
            .arg("--")
            .arg("patroni")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start patroni ({e}); install it: {INSTALL}"));
        self.nodes[i].child = Some(child);
    }

    /// Fast loop (loop_wait 1 s, ttl 10 s), trust on loopback only, shared
    /// memory as files in the data directory so a killed server leaks none.
    fn config(&self, node: &Node, home: &Path) -> String {
        let dcs = self.etcd.address(0);
        let dir = self.dir.display();
        let data = home.join("data");
        format!(
            "scope: {SCOPE}
name: {name}
restapi: {{listen: '127.0.0.1:{rest}', connect_address: '127.0.0.1:{rest}'}}
etcd3: {{hosts: '{dcs}', protocol: http}}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: {MAX_LAG_ON_FAILOVER}
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters: {{fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off',
                    shared_buffers: 16MB, max_connections: 30, wal_keep_size: 64MB}}
  initdb: [{{encoding: UTF8}}, {{locale: C}}]
postgresql:
  listen: '127.0.0.1:{pg}'
  connect_address: '127.0.0.1:{pg}'
  data_dir: '{data}'
  bin_dir: '{PG_BIN}'
  pgpass: '{home}/pgpass'
  pg_hba: ['local all all trust', 'host replication all 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 trust']
  authentication: {{superuser: {{username: postgres}}, replication: {{username: postgres}}}}
  parameters: {{unix_socket_directories: '{dir}', dynamic_shared_memory_type: mmap}}
",
            name = node.name,
            rest = node.rest,
            pg = node.pg,
            data = data.display(),
            home = home.display(),
        )
    }

    /// `GET /cluster` from the first member that answers.
    pub fn cluster_view(&self) -> Option<Value> {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .find_map(|n| get(n.rest, "/cluster"))
    }

    /// The index of the member /cluster names as leader.
    pub fn leader(&self) -> Option<usize> {
        let view = self.cluster_view()?;
        let name = view["members"]
            .as_array()?
            .iter()
            .find(|m| m["role"] == "leader" && m["state"] == "running")?["name"]
            .as_str()?
            .to_string();
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Waits until one member leads and both replicas could take over.
    pub fn wait_ready(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(view) = self.cluster_view()
                && ready(&view)
            {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "no leader and two streaming replicas within {within:?}; last /cluster: {:?}\n{}",
                    self.cluster_view(),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Waits until /cluster names a leader that satisfies `good`.
    pub fn wait_leader(&self, within: Duration, good: impl Fn(usize) -> bool) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(i) = self.leader().filter(|&i| good(i)) {
                return i;
            }
            assert!(
                Instant::now() < deadline,
                "no such leader within {within:?}; /cluster: {:?}",
                self.cluster_view()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILL member `i`'s Patroni and its PostgreSQL, as a crashed host.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(pid) = self.postmaster(i) {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// The postmaster of member `i`, when its pid file is its own (a pid
    /// file can be stale and its pid reused: a postmaster's cwd is its data
    /// directory).
    fn postmaster(&self, i: usize) -> Option<i32> {
        let data = self.dir.join(&self.nodes[i].name).join("data");
        let text = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok()?;
        (cwd == data).then_some(pid)
    }

    /// `etcdctl put KEY VALUE` (no lease) on the DCS.
    pub fn put(&self, key: &str, value: &str) {
        self.etcd
            .etcdctl(&["put", key, value])
            .expect("etcdctl put");
    }

    /// `etcdctl del KEY` on the DCS.
    pub fn delete(&self, key: &str) {
        self.etcd.etcdctl(&["del", key]).expect("etcdctl del");
    }

    /// Every member's log, for failure messages.
    pub fn logs(&self) -> String {
        let tail = |name: &str| {
            let text =
                std::fs::read_to_string(self.dir.join(format!("{name}.log"))).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(15)..].join("\n")
        };
        self.nodes
            .iter()
            .map(|n| format!("--- {} ---\n{}", n.name, tail(&n.name)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Patroni's `maximum_lag_on_failover` in the config below: a replica
/// further behind may not take over (a switchover to it fails with 503).
const MAX_LAG_ON_FAILOVER: u64 = 1_048_576;

/// One leader running and two replicas close enough to take over (a
/// replica's lag right after its base backup is megabytes for a while).
fn ready(view: &Value) -> bool {
    let Some(members) = view["members"].as_array() else {
        return false;
    };
    let leaders = members
        .iter()
        .filter(|m| m["role"] == "leader" && m["state"] == "running")
        .count();
    let replicas = members
        .iter()
        .filter(|m| {
            m["role"] == "replica"
                && m["state"] == "running"
                && m["lag"]
                    .as_u64()
                    .is_some_and(|lag| lag <= MAX_LAG_ON_FAILOVER)
        })
        .count();
    leaders == 1 && replicas == 2
}

/// `GET path` on a REST port, as JSON; None when it does not answer.
pub fn get(port: u16, path: &str) -> Option<Value> {
    let out = Command::new("curl")
        .args(["-fsS", "--max-time", "2"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn chown_postgres(path: &Path) {
    let status = Command::new("chown")
        .arg("postgres:postgres")
        .arg(path)
        .status()
        .expect("chown");
    assert!(status.success(), "chown postgres {}", path.display());
}

impl Drop for PatroniCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let postmasters: Vec<i32> = (0..self.nodes.len())
            .filter_map(|i| self.postmaster(i))
            .collect();
        for &pid in &postmasters {
            unsafe { libc::kill(pid, libc::SIGQUIT) };
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for &pid in &postmasters {
            while alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for node in &self.nodes {
            // A killed postmaster leaves its SysV segment, keyed on the
            // data directory's inode.
            let data = self.dir.join(&node.name).join("data");
            if let Ok(meta) = std::fs::metadata(&data) {
                use std::os::unix::fs::MetadataExt;
                let _ = Command::new("ipcrm")
                    .args(["-M", &meta.ino().to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Alive and not a zombie (this machine's init reaps orphans late).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}
