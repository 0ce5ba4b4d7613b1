//! A real, local etcd cluster for `clusterdeck lab --app etcd`: three
//! members of the `etcd` on the PATH, each on two free `127.0.0.1` ports
//! (clients, peers), with fast elections (100 ms heartbeats, 500 ms election
//! timeout) and pre-vote (a restarted member rejoins as a follower instead
//! of forcing an election), data and logs in a temporary directory that
//! goes away with the lab. Processes die with the lab as the Redis lab's do
//! ([`super::process`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::process::{LabProcess, find_binary, free_ports};
use super::{LabError, LabMember, LabRole, LocalLab};

/// The one command that installs what the etcd lab needs.
pub const INSTALL_HINT: &str = "apt-get install -y etcd-server";

/// Raft timings for a demo: a leader lost is replaced within a second or two.
pub const RAFT_FLAGS: [&str; 5] = [
    "--heartbeat-interval",
    "100",
    "--election-timeout",
    "500",
    "--pre-vote=true",
];

/// How long a member may take to answer after it is spawned.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running local etcd cluster. Dropping it kills the members and removes
/// their data.
pub struct EtcdLab {
    processes: Vec<LabProcess>,
    // Declared last so the processes are gone before their directory is.
    dir: tempfile::TempDir,
}

impl EtcdLab {
    /// Starts `members` members and waits until each answers (not until
    /// they have a leader: see [`EtcdLab::wait_leader`]).
    pub async fn start(members: usize) -> Result<EtcdLab, LabError> {
        let binary = find_binary("etcd")?;
        // A free port can be taken by someone else between choosing and
        // binding it (tests run in parallel): try again with new ports.
        let mut last = None;
        for _ in 0..3 {
            match Self::start_once(&binary, members).await {
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

    async fn start_once(binary: &Path, members: usize) -> Result<EtcdLab, LabError> {
        let dir = tempfile::Builder::new()
            .prefix("clusterdeck-etcd-lab-")
            .tempdir()
            .map_err(|source| LabError::Io {
                what: "creating a temporary directory".into(),
                source,
            })?;
        let processes = processes(dir.path(), binary, members)?;
        let lab = EtcdLab { processes, dir };
        for process in &lab.processes {
            process.spawn()?;
        }
        for process in &lab.processes {
            wait_answering(process).await?;
        }
        Ok(lab)
    }

    /// Waits until every running member names the same leader. Polls.
    pub async fn wait_leader(&self, timeout: Duration) -> Result<(), LabError> {
        let addresses: Vec<String> = self
            .members()
            .into_iter()
            .filter(|m| m.running)
            .map(|m| m.address)
            .collect();
        wait_leader(&addresses, timeout).await
    }

    /// `http://127.0.0.1:port` of each member's client port, in start order.
    pub fn client_urls(&self) -> Vec<String> {
        self.processes
            .iter()
            .map(|p| format!("http://{}", p.address()))
            .collect()
    }

    /// Where data and logs (`<name>.log`) live.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    fn process(&self, name: &str) -> Result<&LabProcess, LabError> {
        self.processes
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| LabError::NoSuchMember(name.to_string()))
    }
}

impl LocalLab for EtcdLab {
    fn members(&self) -> Vec<LabMember> {
        self.processes.iter().map(LabProcess::member).collect()
    }

    fn kill(&self, name: &str) -> Result<(), LabError> {
        self.process(name)?.kill();
        Ok(())
    }

    /// Same flags and data directory: the member rejoins the cluster it
    /// left, as a follower.
    fn restart<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<(), LabError>> {
        async move {
            let process = self.process(name)?;
            process.kill();
            process.spawn()?;
            wait_answering(process).await
        }
        .boxed()
    }
}

/// The members `etcd-1`... on free ports, configured but not started.
fn processes(dir: &Path, binary: &Path, members: usize) -> Result<Vec<LabProcess>, LabError> {
    let ports = free_ports(2 * members)?;
    let (clients, peers) = ports.split_at(members);
    let name = |i: usize| format!("etcd-{}", i + 1);
    let cluster: Vec<String> = peers
        .iter()
        .enumerate()
        .map(|(i, port)| format!("{}=http://127.0.0.1:{port}", name(i)))
        .collect();
    // Each lab is a cluster of its own, even with a port reused.
    let token = format!("clusterdeck-lab-{:08x}", fastrand::u32(..));
    let mut out = Vec::new();
    for i in 0..members {
        let (client, peer) = (clients[i], peers[i]);
        let data = dir.join(name(i));
        let log = dir.join(format!("{}.log", name(i)));
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut args: Vec<OsString> = vec!["--name".into(), name(i).into()];
        for (flag, value) in [
            ("--data-dir", data.into_os_string()),
            ("--listen-client-urls", client_url.clone().into()),
            ("--advertise-client-urls", client_url.into()),
            ("--listen-peer-urls", peer_url.clone().into()),
            ("--initial-advertise-peer-urls", peer_url.into()),
            ("--initial-cluster", cluster.join(",").into()),
            ("--initial-cluster-state", "new".into()),
            ("--initial-cluster-token", token.clone().into()),
            ("--logger", "zap".into()),
            ("--log-outputs", log.clone().into_os_string()),
        ] {
            args.extend([flag.into(), value]);
        }
        args.extend(RAFT_FLAGS.map(OsString::from));
        out.push(LabProcess::with_args(
            binary,
            &name(i),
            LabRole::Raft,
            client,
            args,
            log,
        ));
    }
    Ok(out)
}

async fn wait_answering(process: &LabProcess) -> Result<(), LabError> {
    let start = Instant::now();
    loop {
        if let Some(status) = process.exited() {
            return Err(LabError::Start {
                name: process.name.clone(),
                detail: format!("exited with {status}; {}", process.log_tail()),
            });
        }
        let status = status(&process.address(), Duration::from_secs(2)).await;
        if status.is_ok() {
            return Ok(());
        }
        if start.elapsed() >= START_TIMEOUT {
            return Err(LabError::Start {
                name: process.name.clone(),
                detail: format!("no status answer: {}", status.err().unwrap_or_default()),
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every member at `addresses` answers and all name the same
/// leader. Polls; never sleeps a fixed time.
pub async fn wait_leader(addresses: &[String], timeout: Duration) -> Result<(), LabError> {
    super::poll_ready(timeout, || leader_missing(addresses)).await
}

/// Why the members have no agreed leader yet, or None.
async fn leader_missing(addresses: &[String]) -> Option<String> {
    let mut leaders = Vec::new();
    for address in addresses {
        let reply = match status(address, Duration::from_secs(2)).await {
            Ok(reply) => reply,
            Err(e) => return Some(format!("{address}: {e}")),
        };
        match reply["leader"].as_str().filter(|l| *l != "0") {
            Some(leader) => leaders.push(leader.to_string()),
            None => return Some(format!("{address} knows no leader")),
        }
    }
    leaders.dedup();
    (leaders.len() > 1).then(|| format!("the members name different leaders: {leaders:?}"))
}

/// One `POST /v3/maintenance/status` (etcd's JSON gateway) to `address`.
/// HTTP/1.0 by hand: the server closes when done, so the reply is what was
/// read, and the lab needs no HTTP client of its own.
pub async fn status(address: &str, timeout: Duration) -> Result<Value, String> {
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(address).await?;
        let request = format!(
            "POST /v3/maintenance/status HTTP/1.0\r\nHost: {address}\r\n\
             Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{}}"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut reply = Vec::new();
        // A status reply is a few hundred bytes.
        stream.take(64 * 1024).read_to_end(&mut reply).await?;
        Ok::<_, std::io::Error>(reply)
    };
    let reply = match tokio::time::timeout(timeout, ask).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err(format!("no answer within {} ms", timeout.as_millis())),
    };
    let text = String::from_utf8_lossy(&reply);
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP reply")?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(head.lines().next().unwrap_or_default().to_string());
    }
    serde_json::from_str(body).map_err(|e| format!("status is not JSON: {e}"))
}
