//! A real etcd cluster for the probe tests: N members on free loopback
//! ports with quick elections, in a temporary directory that goes away
//! with the guard. Members can be killed (SIGKILL), restarted, joined as
//! learners; a cluster can serve TLS with client certificates (made with
//! the `openssl` CLI) or require a password. The leader is the one
//! `etcdctl endpoint status` names, so tests compare the console with
//! etcd's own word. A missing etcd fails the test with the install command.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What a test needs to start etcd.
const INSTALL: &str = "apt-get install -y etcd-server etcd-client";

/// How long a cluster may take to elect its first leader.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// One etcd process and where it listens.
pub struct Member {
    pub name: String,
    pub client_port: u16,
    pub peer_port: u16,
    /// Whether it joined as a learner.
    pub learner: bool,
    child: Option<Child>,
    /// `--initial-cluster` it was started with (kept for restarts).
    initial_cluster: String,
    state: &'static str,
}

/// The files of a cluster serving TLS: its CA, the server's pair, and a
/// client pair signed by the same CA.
pub struct Tls {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// A running cluster; dropping it kills and reaps every member and removes
/// the data (also when the test panics).
pub struct EtcdCluster {
    dir: tempfile::TempDir,
    pub members: Vec<Member>,
    pub tls: Option<Tls>,
    /// `user:password` given to etcdctl once auth is on.
    auth: Option<String>,
    token: String,
}

/// Fails the test (never skips) when etcd or etcdctl is not installed.
pub fn require_etcd() {
    for binary in ["etcd", "etcdctl"] {
        let found = Command::new(binary)
            .arg("version")
            .env("ETCDCTL_API", "3")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Err(e) = found {
            panic!("cannot run `{binary}` ({e}); install it: {INSTALL}");
        }
    }
}

/// `n` free loopback ports, held open together so they differ.
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free loopback port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

impl EtcdCluster {
    /// `n` members over plain HTTP, started and agreed on a leader.
    pub fn start(n: usize) -> EtcdCluster {
        Self::launch(n, false)
    }

    /// `n` members whose clients must use HTTPS and present a certificate
    /// signed by the cluster's CA (peers talk plain HTTP).
    pub fn start_tls(n: usize) -> EtcdCluster {
        Self::launch(n, true)
    }

    fn launch(n: usize, tls: bool) -> EtcdCluster {
        require_etcd();
        let dir = tempfile::Builder::new()
            .prefix("clusterdeck-etcd-")
            .tempdir()
            .expect("temp dir");
        let tls = tls.then(|| make_tls(dir.path()));
        let ports = free_ports(2 * n);
        let token = format!("clusterdeck-test-{}-{}", std::process::id(), ports[0]);
        let members: Vec<Member> = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client_port: ports[2 * i],
                peer_port: ports[2 * i + 1],
                learner: false,
                child: None,
                initial_cluster: String::new(),
                state: "new",
            })
            .collect();
        let initial = members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = EtcdCluster {
            dir,
            members,
            tls,
            auth: None,
            token,
        };
        for i in 0..n {
            cluster.members[i].initial_cluster = initial.clone();
            cluster.spawn(i);
        }
        cluster.wait_leader(READY_WITHIN);
        cluster
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// `127.0.0.1:PORT` of member `i`'s client side.
    pub fn address(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.members[i].client_port)
    }

    /// The URL `--probe etcd=` takes for member `i`.
    pub fn client_url(&self, i: usize) -> String {
        format!("{}://{}", self.scheme(), self.address(i))
    }

    /// Client addresses of the members running now.
    pub fn endpoints(&self) -> Vec<String> {
        self.running().map(|i| self.address(i)).collect()
    }

    /// Indices of the members running now.
    pub fn running(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.members.len()).filter(|&i| self.members[i].child.is_some())
    }

    /// Starts member `i` as it was configured (again after a kill).
    fn spawn(&mut self, i: usize) {
        let data = self
            .dir
            .path()
            .join(format!("{}.data", self.members[i].name));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .expect("etcd log file");
        let member = &self.members[i];
        let client = format!("{}://127.0.0.1:{}", self.scheme(), member.client_port);
        let mut command = Command::new("etcd");
        command
            .args(["--name", &member.name])
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen-client-urls", &client])
            .args(["--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &member.peer_url()])
            .args(["--initial-advertise-peer-urls", &member.peer_url()])
            .args(["--initial-cluster", &member.initial_cluster])
            .args(["--initial-cluster-state", member.state])
            .args(["--initial-cluster-token", &self.token])
            // Quick elections: a killed leader is replaced within a second.
            .args(["--heartbeat-interval", "100", "--election-timeout", "500"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        if let Some(tls) = &self.tls {
            command
                .arg("--cert-file")
                .arg(&tls.server_cert)
                .arg("--key-file")
                .arg(&tls.server_key)
                .arg("--trusted-ca-file")
                .arg(&tls.ca)
                .arg("--client-cert-auth");
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start etcd ({e}); install it: {INSTALL}"));
        self.members[i].child = Some(child);
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir
            .path()
            .join(format!("{}.log", self.members[i].name))
    }

    /// The last lines every member logged, for a failure message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for (i, member) in self.members.iter().enumerate() {
            let text = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(15)..].join("\n");
            out.push_str(&format!("--- {} ---\n{tail}\n", member.name));
        }
        out
    }

    /// Runs `etcdctl` (API 3) against the running members with the
    /// cluster's TLS files and credentials; its stdout, or why it failed.
    pub fn etcdctl(&self, args: &[&str]) -> Result<String, String> {
        self.etcdctl_at(&self.endpoints(), args)
    }

    /// `etcdctl` against these endpoints only.
    pub fn etcdctl_at(&self, endpoints: &[String], args: &[&str]) -> Result<String, String> {
        let mut command = Command::new("etcdctl");
        command
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .args(["--dial-timeout", "1s", "--command-timeout", "2s"]);
        if let Some(tls) = &self.tls {
            command
                .arg("--cacert")
                .arg(&tls.ca)
                .arg("--cert")
                .arg(&tls.client_cert)
                .arg("--key")
                .arg(&tls.client_key);
        }
        if let Some(auth) = &self.auth {
            command.arg(format!("--user={auth}"));
        }
        let out = command
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run etcdctl ({e}); install it: {INSTALL}"));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "etcdctl {args:?}: {}{stdout}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `etcdctl endpoint status -w json` of each running member that
    /// answers: (member index, its Status object).
    pub fn statuses(&self) -> Vec<(usize, Value)> {
        let mut out = Vec::new();
        for i in self.running().collect::<Vec<_>>() {
            let Ok(text) =
                self.etcdctl_at(&[self.address(i)], &["endpoint", "status", "-w", "json"])
            else {
                continue;
            };
            let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if let Some(status) = items.first().map(|s| s["Status"].clone()) {
                out.push((i, status));
            }
        }
        out
    }

    /// The member running members agree leads: the one whose status has
    /// `leader` equal to its own `header.member_id`, named by every other
    /// voter that answers. None during an election.
    pub fn leader(&self) -> Option<usize> {
        let statuses = self.statuses();
        let (leader, status) = statuses
            .iter()
            .find(|(_, s)| s["leader"] == s["header"]["member_id"] && s["leader"] != 0)?;
        let agreed = statuses
            .iter()
            .all(|(_, s)| s["leader"] == status["leader"]);
        agreed.then_some(*leader)
    }

    /// etcd's member id of member `i`, as etcdctl gives it.
    pub fn member_id(&self, i: usize) -> Option<u64> {
        let text = self
            .etcdctl_at(&[self.address(i)], &["endpoint", "status", "-w", "json"])
            .ok()?;
        let items: Value = serde_json::from_str(&text).ok()?;
        items[0]["Status"]["header"]["member_id"].as_u64()
    }

    /// Waits until the running members agree on a leader; panics with the
    /// members' logs after `within`.
    pub fn wait_leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(leader) = self.leader() {
                return leader;
            }
            assert!(
                Instant::now() < deadline,
                "etcd elected no leader within {within:?}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILLs member `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed member again on its data.
    pub fn restart(&mut self, i: usize) {
        assert!(self.members[i].child.is_none(), "member {i} still runs");
        self.members[i].state = "existing";
        self.spawn(i);
    }

    /// Adds a learner with `etcdctl member add --learner`; started (as a
    /// member of an existing cluster) when `start`. Returns its index.
    pub fn add_learner(&mut self, name: &str, start: bool) -> usize {
        let ports = free_ports(2);
        let (client_port, peer_port) = (ports[0], ports[1]);
        let peer = format!("http://127.0.0.1:{peer_port}");
        // etcd refuses a new member until every peer has been connected for
        // a while (its strict reconfiguration check): asked again until then.
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            match self.etcdctl(&["member", "add", name, "--learner", "--peer-urls", &peer]) {
                Ok(_) => break,
                Err(e) if e.contains("unhealthy cluster") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot add learner {name}: {e}"),
            }
        }
        let mut initial: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect();
        initial.push(format!("{name}={peer}"));
        self.members.push(Member {
            name: name.to_string(),
            client_port,
            peer_port,
            learner: true,
            child: None,
            initial_cluster: initial.join(","),
            state: "existing",
        });
        let i = self.members.len() - 1;
        if start {
            self.spawn(i);
        }
        i
    }

    /// Creates `root` with `password` and turns authentication on; etcdctl
    /// uses the credentials from then on.
    pub fn enable_auth(&mut self, password: &str) {
        let root = format!("root:{password}");
        self.etcdctl(&["user", "add", &root])
            .unwrap_or_else(|e| panic!("cannot add root: {e}"));
        // etcdctl grants root the root role itself when auth is enabled.
        self.etcdctl(&["auth", "enable"])
            .unwrap_or_else(|e| panic!("cannot enable auth: {e}"));
        self.auth = Some(root);
    }
}

impl Member {
    fn peer_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.peer_port)
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
        // The temp dir (data, logs, keys) is removed when `dir` drops.
    }
}

/// Runs `openssl ARGS` in `dir`, panicking with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run openssl ({e}); install it: apt-get install -y openssl")
        });
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA in `dir` as `PREFIX.pem` / `PREFIX-key.pem`.
pub fn make_ca(dir: &Path, prefix: &str) -> PathBuf {
    let cert = format!("{prefix}.pem");
    let key = format!("{prefix}-key.pem");
    let subject = format!("/CN=clusterdeck test {prefix}");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &subject,
            "-keyout",
            &key,
            "-out",
            &cert,
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(cert)
}

/// A certificate for `cn` signed by the CA `ca` (`ca.pem`, `ca-key.pem`)
/// with these extensions, as `PREFIX.pem` / `PREFIX-key.pem` in `dir`.
fn make_leaf(dir: &Path, prefix: &str, cn: &str, extensions: &str) -> (PathBuf, PathBuf) {
    let (cert, key, csr, ext) = (
        format!("{prefix}.pem"),
        format!("{prefix}-key.pem"),
        format!("{prefix}.csr"),
        format!("{prefix}.ext"),
    );
    std::fs::write(dir.join(&ext), extensions).unwrap();
    let subject = format!("/CN={cn}");
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", &subject, "-keyout", &key, "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
    );
    (dir.join(cert), dir.join(key))
}

/// The CA, a server certificate for 127.0.0.1 and a client certificate.
pub fn make_tls(dir: &Path) -> Tls {
    let ca = make_ca(dir, "ca");
    // The server's certificate is a client one too: etcd's JSON gateway
    // dials its own gRPC port with it when clients must present one.
    let (server_cert, server_key) = make_leaf(
        dir,
        "server",
        "etcd",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    );
    let (client_cert, client_key) = make_leaf(
        dir,
        "client",
        "clusterdeck",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=clientAuth\n",
    );
    Tls {
        ca,
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}
