//! Real PostgreSQL 15 servers for the probe tests: a primary and streaming
//! standbys (made with `pg_basebackup -R -X stream`) on free loopback
//! ports, in a `/tmp/cd-pg-<label>-…` directory that goes away with the
//! guard. Each server is `postgres -D` itself, run as the `postgres` user
//! through `setpriv … --pdeathsig=KILL` (not `pg_ctl`, which detaches), so
//! it is this process's child: the guard stops and reaps it, and a test
//! process that dies takes it along. Missing binaries fail the test with
//! the install command. See scripts/pg/NOTES.md for why each choice.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Where Debian's `postgresql-15` puts the server's programs.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const INSTALL: &str = "apt-get install -y postgresql-15 util-linux";
/// How long a server may take to start, a standby to stream, a promotion.
const WITHIN: Duration = Duration::from_secs(60);

/// How clients on 127.0.0.1 must log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Trust,
    /// SCRAM-SHA-256 with this password for `postgres` (the socket stays
    /// trusted, for the test's own psql and for the standbys' streaming).
    Scram(&'static str),
}

/// One server: its port, its `cluster_name` (node1, node2…), its data.
pub struct Server {
    pub port: u16,
    pub name: String,
    data: PathBuf,
    child: Option<Child>,
}

/// A primary (server 0) and its standbys; dropped, every server is stopped
/// and reaped and the directory removed, also when the test panicked.
pub struct PgCluster {
    dir: PathBuf,
    pub servers: Vec<Server>,
}

/// Fails the test (never skips) when PostgreSQL or setpriv is missing.
pub fn require_postgres() {
    for binary in ["initdb", "postgres", "pg_basebackup", "psql"] {
        let path = Path::new(PG_BIN).join(binary);
        assert!(
            path.exists(),
            "{} is missing; install it: {INSTALL}",
            path.display()
        );
    }
    let setpriv = Command::new("setpriv").arg("--version").output();
    assert!(setpriv.is_ok(), "setpriv is missing; install it: {INSTALL}");
    let user = Command::new("id").arg("postgres").output();
    assert!(
        user.is_ok_and(|o| o.status.success()),
        "no `postgres` user; install it: {INSTALL}"
    );
}

fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// `cmd` as the `postgres` user, dying with this process.
fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("setpriv");
    command.args([
        "--reuid=postgres",
        "--regid=postgres",
        "--init-groups",
        "--reset-env",
        "--pdeathsig=KILL",
        "--",
        &format!("{PG_BIN}/{program}"),
    ]);
    command
}

fn checked(mut command: Command, what: &str) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}; install: {INSTALL}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl PgCluster {
    /// A primary and `standbys` streaming standbys, every one ready
    /// (standbys only with [`Auth::Trust`]: they stream without a password).
    pub fn start(label: &str, standbys: usize, auth: Auth) -> PgCluster {
        require_postgres();
        assert!(
            standbys == 0 || auth == Auth::Trust,
            "standbys stream without a password"
        );
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        // Short (socket paths are limited to 107 bytes) and under /tmp,
        // which `postgres` may search.
        let dir = PathBuf::from(format!(
            "/tmp/cd-pg-{label}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("the cluster's directory");
        let mut cluster = PgCluster {
            dir,
            servers: Vec::new(),
        };
        checked(
            {
                let mut c = Command::new("chown");
                c.args(["postgres:postgres", cluster.dir.to_str().unwrap()]);
                c
            },
            "chown",
        );
        let ports = free_ports(standbys + 1);
        cluster.init_primary(ports[0], auth);
        for (i, port) in ports.iter().enumerate().skip(1) {
            cluster.add_standby(i, *port);
        }
        cluster.wait_streaming(standbys);
        cluster
    }

    fn init_primary(&mut self, port: u16, auth: Auth) {
        let data = self.dir.join("1");
        let mut initdb = as_postgres("initdb");
        initdb.args(["-D", data.to_str().unwrap(), "-U", "postgres", "-E", "UTF8"]);
        initdb.args(["--locale=C", "--no-sync", "--auth-local=trust"]);
        match auth {
            Auth::Trust => {
                initdb.arg("--auth-host=trust");
            }
            Auth::Scram(password) => {
                let file = self.dir.join("pwfile");
                std::fs::write(&file, format!("{password}\n")).unwrap();
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
                initdb.args(["--auth-host=scram-sha-256", "--pwfile"]);
                initdb.arg(&file);
            }
        }
        checked(initdb, "initdb");
        let _ = std::fs::remove_file(self.dir.join("pwfile"));
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
             cluster_name = 'node1'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             shared_buffers = 16MB\nmax_connections = 30\nwal_keep_size = 64MB\n\
             dynamic_shared_memory_type = mmap\nlogging_collector = off\n",
            self.dir.display()
        );
        append(&data.join("postgresql.conf"), &conf);
        self.servers.push(Server {
            port,
            name: "node1".into(),
            data,
            child: None,
        });
        self.spawn(0);
        self.wait_ready(0);
    }

    fn add_standby(&mut self, i: usize, port: u16) {
        let data = self.dir.join((i + 1).to_string());
        let mut backup = as_postgres("pg_basebackup");
        // Over TCP, as the standby then streams (its primary_conninfo):
        // pg_stat_wal_receiver names the primary by 127.0.0.1:PORT.
        backup.args(["-h", "127.0.0.1", "-p"]);
        backup.arg(self.servers[0].port.to_string());
        backup.args(["-U", "postgres", "-D", data.to_str().unwrap()]);
        backup.args(["-R", "-X", "stream", "-c", "fast"]);
        checked(backup, "pg_basebackup");
        let name = format!("node{}", i + 1);
        // Later lines win; cluster_name is also the walreceiver's
        // application_name, which names it in pg_stat_replication.
        append(
            &data.join("postgresql.conf"),
            &format!("port = {port}\ncluster_name = '{name}'\n"),
        );
        self.servers.push(Server {
            port,
            name,
            data,
            child: None,
        });
        self.spawn(i);
        self.wait_ready(i);
    }

    fn spawn(&mut self, i: usize) {
        let server = &mut self.servers[i];
        let log = std::fs::File::create(self.dir.join(format!("{}.log", server.name))).unwrap();
        let mut postgres = as_postgres("postgres");
        postgres
            .args(["-D", server.data.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        server.child = Some(postgres.spawn().expect("start postgres"));
    }

    fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + WITHIN;
        while self.psql(i, "select 1").as_deref() != Ok("1") {
            assert!(
                Instant::now() < deadline,
                "{} did not accept connections within {WITHIN:?}\n{}",
                self.servers[i].name,
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the primary (server 0) streams to `n` standbys.
    pub fn wait_streaming(&self, n: usize) {
        let want = n.to_string();
        let sql = "select count(*) from pg_stat_replication where state = 'streaming'";
        self.wait_for(0, sql, &want, "the standbys to stream");
    }

    /// Waits until `sql` on server `i` gives `want`.
    pub fn wait_for(&self, i: usize, sql: &str, want: &str, what: &str) {
        let deadline = Instant::now() + WITHIN;
        loop {
            let got = self.psql(i, sql);
            if got.as_deref() == Ok(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {WITHIN:?} ({sql} gave {got:?})\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// One query on server `i` through its socket, as `postgres`: the
    /// output unaligned and without headers, trimmed.
    pub fn psql(&self, i: usize, sql: &str) -> Result<String, String> {
        let out = Command::new(format!("{PG_BIN}/psql"))
            .args(["-h", self.dir.to_str().unwrap(), "-p"])
            .arg(self.servers[i].port.to_string())
            .args(["-U", "postgres", "-d", "postgres", "-XAtc", sql])
            .env_remove("PGPASSFILE")
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// Like [`psql`](Self::psql), failing the test on an error.
    pub fn sql(&self, i: usize, sql: &str) -> String {
        self.psql(i, sql)
            .unwrap_or_else(|e| panic!("{sql} on {}: {e}", self.servers[i].name))
    }

    /// `127.0.0.1:PORT` of server `i`.
    pub fn endpoint(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.servers[i].port)
    }

    /// `postgres=postgres://postgres@127.0.0.1:P0,127.0.0.1:P1,…`.
    pub fn probe(&self) -> String {
        let all: Vec<String> = (0..self.servers.len()).map(|i| self.endpoint(i)).collect();
        format!("postgres=postgres://postgres@{}", all.join(","))
    }

    /// Promotes standby `i` (pg_promote waits until it is done).
    pub fn promote(&self, i: usize) {
        assert_eq!(self.sql(i, "select pg_promote()"), "t", "pg_promote");
        self.wait_for(i, "select pg_is_in_recovery()", "f", "end of recovery");
    }

    /// A fast shutdown (SIGINT) of server `i`, waited for.
    pub fn stop(&mut self, i: usize) {
        let Some(mut child) = self.servers[i].child.take() else {
            return;
        };
        super::stop_child(&mut child, libc::SIGINT, Duration::from_secs(20));
    }

    /// Makes the primary serve TLS with `tls`'s server certificate and
    /// take TCP clients only over TLS with a client certificate signed by
    /// `tls`'s CA (the socket stays trusted, for the test's psql).
    pub fn require_tls(&self, tls: &super::etcd::Tls) {
        let data = &self.servers[0].data;
        for (from, name) in [
            (&tls.server_cert, "server.crt"),
            (&tls.server_key, "server.key"),
            (&tls.ca, "root.crt"),
        ] {
            let to = data.join(name);
            std::fs::copy(from, &to).expect("copy a TLS file");
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
            let mut chown = Command::new("chown");
            chown.arg("postgres:postgres").arg(&to);
            checked(chown, "chown");
        }
        append(
            &data.join("postgresql.conf"),
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             ssl_ca_file = 'root.crt'\n",
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust clientcert=verify-ca\n",
        )
        .expect("pg_hba.conf");
        assert_eq!(self.sql(0, "select pg_reload_conf()"), "t");
        self.wait_for(0, "show ssl", "on", "TLS on after the reload");
    }

    pub fn logs(&self) -> String {
        self.servers
            .iter()
            .map(|s| {
                let log = std::fs::read_to_string(self.dir.join(format!("{}.log", s.name)));
                let log = log.unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!("--- {} ---\n{}", s.name, tail.join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.write_all(text.as_bytes()).unwrap();
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            if let Some(mut child) = server.child.take() {
                // Immediate shutdown: quick, and shared memory is removed.
                super::stop_child(&mut child, libc::SIGQUIT, Duration::from_secs(20));
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
