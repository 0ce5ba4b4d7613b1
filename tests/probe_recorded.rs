//! Application probes against replies recorded from the projects' own
//! source and documentation (orchestrator, Consul, Dgraph Zero, AllegroGraph
//! and Dynomite cannot run here), served on loopback; members that misbehave
//! (refuse, hang, answer garbage); and a fuzz of every built-in definition.
//!
//! Where each reply comes from is in `tests/fixtures/probes/SOURCES.md`:
//! - orchestrator (openark/orchestrator): `go/http/api.go` (RaftState,
//!   RaftLeader, RaftHealth, RaftPeers, Health handlers), `go/raft/raft.go`,
//!   `go/process/health.go`, `docs/configuration-raft.md`;
//! - Consul (hashicorp/consul): `website/content/api-docs/status.mdx`,
//!   `operator/raft.mdx`, `operator/autopilot.mdx`, `agent/index.mdx`,
//!   `agent/consul/status_endpoint.go`, `agent/structs/structs.go`, and
//!   hashicorp/raft `api.go` (`Stats()`);
//! - Dgraph (dgraph-io/dgraph): `wiki/content/deploy/dgraph-zero.md`,
//!   `protos/pb.proto`, `dgraph/cmd/zero/http.go`, `conn/node.go`;
//! - AllegroGraph (franzinc): the `repl/status?form=json` endpoint from
//!   agraph-python `src/franz/miniclient/repository.py` (`get_MMR_status`),
//!   instance names from agraph-examples `clustering/kubernetes/mmr`; the
//!   reply's JSON layout is ASSUMED (no source here prints it);
//! - Dynomite (Netflix/dynomite): `src/dyn_stats.c` (`/info`,
//!   `/cluster_describe`, `/state/get_state` and their byte layout and HTTP
//!   framing), `src/dyn_stats.h` (metric names), `src/dyn_core.h`
//!   (`get_state`), `src/dyn_node_snitch.c` (how a node names itself).
//!
//! The fixtures use the docs' private addresses (10.x). Traffic may only go
//! to loopback, so each node is served on its own loopback address (Linux
//! routes all of 127.0.0.0/8 to `lo`): 10.A.B.C becomes 127.A.B.C in the
//! index and in every body. Raft addresses keep their raft port: the
//! orchestrator and Consul definitions poll a peer at its host on the seed's
//! HTTP port (`peers_at: seed_port`), so every node of a kind listens on the
//! same port.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::watch::Watch;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// One recorded reply.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Path (with its query, when the index names one) to reply.
type Routes = HashMap<String, Reply>;

/// A kind's fixtures: scenario -> node host (127.x) -> routes.
#[derive(Debug, Default)]
struct Recorded {
    scenarios: HashMap<String, HashMap<String, Routes>>,
}

impl Recorded {
    fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<String> = self
            .scenarios
            .values()
            .flat_map(|nodes| nodes.keys().cloned())
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

fn fixtures(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/probes")
        .join(kind)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// `text` with every 10.A.B.C address turned into 127.A.B.C.
fn loopback(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i..].starts_with(b"10.")
            && (i == 0 || !(bytes[i - 1].is_ascii_digit() || bytes[i - 1] == b'.'))
            && is_ipv4(&text[i..]);
        if starts {
            out.push_str("127.");
            i += 3;
        } else {
            let c = text[i..].chars().next().expect("a char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Whether `text` starts with four dotted decimal groups.
fn is_ipv4(text: &str) -> bool {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let groups: Vec<&str> = text[..end].trim_end_matches('.').split('.').collect();
    groups.len() == 4 && groups.iter().all(|g| g.parse::<u8>().is_ok())
}

fn host_of(address: &str) -> String {
    address
        .rsplit_once(':')
        .map_or(address, |(h, _)| h)
        .to_string()
}

/// The endpoints of one node entry of an index (keys starting with `/`).
fn routes(dir: &Path, entry: &Value) -> Routes {
    let mut out = Routes::new();
    for (path, spec) in entry.as_object().expect("node entry") {
        if !path.starts_with('/') {
            continue;
        }
        let file = dir.join(spec["file"].as_str().expect("file"));
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let reply = Reply {
            status: spec["status"].as_u64().expect("status") as u16,
            content_type: spec["content_type"]
                .as_str()
                .unwrap_or("application/json; charset=utf-8")
                .to_string(),
            body: loopback(&text).into_bytes(),
        };
        out.insert(path.clone(), reply);
    }
    out
}

/// Where a node of the index lives: its `address`, or (Consul) the
/// address its own agent/self reply gives.
fn node_host(dir: &Path, entry: &Value) -> String {
    if let Some(address) = entry["address"].as_str() {
        return loopback(&host_of(address));
    }
    let file = entry["/v1/agent/self"]["file"]
        .as_str()
        .expect("a node with neither address nor agent/self");
    let self_doc = read_json(&dir.join(file));
    loopback(self_doc["Member"]["Addr"].as_str().expect("Member.Addr"))
}

/// Loads `tests/fixtures/probes/KIND/index.json`. `_any*` entries apply to
/// every node of the scenario (Dgraph's `_any_zero` to every zero);
/// `_stale_snapshot` (a shape, not a capture: see SOURCES.md) is left out.
fn load(kind: &str) -> Recorded {
    let dir = fixtures(kind);
    let index = read_json(&dir.join("index.json"));
    let zeros: Vec<String> = index["zero_http"]
        .as_object()
        .map(|m| {
            m.values()
                .map(|v| loopback(&host_of(v.as_str().unwrap())))
                .collect()
        })
        .unwrap_or_default();
    let mut recorded = Recorded::default();
    for (scenario, nodes) in index["scenarios"].as_object().expect("scenarios") {
        let mut hosts: HashMap<String, Routes> = HashMap::new();
        let mut any = Routes::new();
        for (node, entry) in nodes.as_object().expect("nodes") {
            if node.starts_with("_any") {
                any.extend(routes(&dir, entry));
            } else if !node.starts_with('_') {
                hosts.insert(node_host(&dir, entry), routes(&dir, entry));
            }
        }
        if hosts.is_empty() {
            hosts.extend(zeros.iter().map(|z| (z.clone(), Routes::new())));
        }
        for routes in hosts.values_mut() {
            for (path, reply) in &any {
                routes.entry(path.clone()).or_insert_with(|| reply.clone());
            }
        }
        recorded.scenarios.insert(scenario.clone(), hosts);
    }
    recorded
}

/// Swaps every `a` for `b` and `b` for `a` in `text`.
fn swap(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut text = text.to_string();
    for (a, b) in pairs {
        text = text.replace(a, "\u{0}").replace(b, a).replace('\u{0}', b);
    }
    text
}

/// A scenario made from `from` by exchanging two nodes (their addresses and
/// host names, in the bodies and in where they are served): a new leader
/// out of the recorded steady state, nothing else changed.
fn derive_swapped(recorded: &mut Recorded, from: &str, name: &str, pairs: &[(&str, &str)]) {
    let source = recorded.scenarios[from].clone();
    let swapped = source
        .into_iter()
        .map(|(host, routes)| {
            let routes = routes
                .into_iter()
                .map(|(path, mut reply)| {
                    let body = String::from_utf8(reply.body).expect("UTF-8 fixture");
                    reply.body = swap(&body, pairs).into_bytes();
                    (path, reply)
                })
                .collect();
            (swap(&host, pairs), routes)
        })
        .collect();
    recorded.scenarios.insert(name.to_string(), swapped);
}

/// What a node answers instead of its recording.
#[derive(Debug, Clone)]
enum Misbehaviour {
    /// Accepts the connection, reads the request, never answers.
    Hang,
    /// Answers 200 with these bytes.
    Garbage(Vec<u8>),
}

/// What every node task shares.
struct Shared {
    recorded: Recorded,
    scenario: Mutex<String>,
    misbehaving: Mutex<HashMap<String, Misbehaviour>>,
}

/// The recorded nodes of one kind, each on its own loopback address and
/// the same port; the scenario switches at run time. Dropping it stops
/// every server.
struct Fake {
    port: u16,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Fake {
    /// Serves every host of `recorded` but those in `refuse` (nothing
    /// listens there: a connection is refused).
    fn start(recorded: Recorded, scenario: &str, refuse: &[&str]) -> Fake {
        assert!(
            recorded.scenarios.contains_key(scenario),
            "no scenario {scenario}"
        );
        let hosts: Vec<String> = recorded
            .hosts()
            .into_iter()
            .filter(|h| !refuse.contains(&h.as_str()))
            .collect();
        let (port, listeners) = bind_all(&hosts);
        let shared = Arc::new(Shared {
            recorded,
            scenario: Mutex::new(scenario.to_string()),
            misbehaving: Mutex::default(),
        });
        let tasks = hosts
            .into_iter()
            .zip(listeners)
            .map(|(host, listener)| serve(host, listener, Arc::clone(&shared)))
            .collect();
        Fake {
            port,
            shared,
            tasks,
        }
    }

    fn switch(&self, scenario: &str) {
        assert!(
            self.shared.recorded.scenarios.contains_key(scenario),
            "no scenario {scenario}"
        );
        *self.shared.scenario.lock().unwrap() = scenario.to_string();
    }

    fn misbehave(&self, host: &str, how: Misbehaviour) {
        self.shared
            .misbehaving
            .lock()
            .unwrap()
            .insert(host.to_string(), how);
    }

    fn url(&self, host: &str) -> String {
        format!("http://{host}:{}", self.port)
    }

    fn at(&self, host: &str) -> String {
        format!("{host}:{}", self.port)
    }
}

/// One port free on every host (tried a few times: another test may take
/// it between the probe and the binds).
fn bind_all(hosts: &[String]) -> (u16, Vec<std::net::TcpListener>) {
    let mut last = String::new();
    'attempt: for _ in 0..20 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port();
        let mut listeners = Vec::new();
        for host in hosts {
            match std::net::TcpListener::bind((host.as_str(), port)) {
                Ok(listener) => listeners.push(listener),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                    last = format!("{host}:{port} in use");
                    continue 'attempt;
                }
                Err(e) => panic!(
                    "cannot bind {host}:{port}: {e}. Each recorded node is served on its own \
                     loopback address; Linux routes all of 127.0.0.0/8 to lo, this system does not"
                ),
            }
        }
        return (port, listeners);
    }
    panic!("no port free on every host of {hosts:?} after 20 tries ({last})");
}

fn serve(host: String, listener: std::net::TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    listener.set_nonblocking(true).expect("non-blocking");
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    let node = Arc::new((host, shared));
    let app = axum::Router::new().fallback(answer).with_state(node);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

async fn answer(State(node): State<Arc<(String, Arc<Shared>)>>, uri: Uri) -> Response {
    let (host, shared) = (&node.0, &node.1);
    let misbehaving = shared.misbehaving.lock().unwrap().get(host).cloned();
    match misbehaving {
        Some(Misbehaviour::Hang) => return std::future::pending::<Response>().await,
        Some(Misbehaviour::Garbage(bytes)) => return (StatusCode::OK, bytes).into_response(),
        None => {}
    }
    let scenario = shared.scenario.lock().unwrap().clone();
    let routes = shared.recorded.scenarios[&scenario].get(host);
    let wanted = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    match routes.and_then(|r| r.get(wanted).or_else(|| r.get(uri.path()))) {
        Some(reply) => (
            StatusCode::from_u16(reply.status).expect("status"),
            [(header::CONTENT_TYPE, reply.content_type.clone())],
            reply.body.clone(),
        )
            .into_response(),
        // What orchestrator's martini and Go's mux answer.
        None => (StatusCode::NOT_FOUND, "404 page not found\n").into_response(),
    }
}

/// `snapshot --probe KIND=URL -o json` (plus `extra`): exit code and document.
async fn snapshot(kind: &str, url: &str, extra: &[&str]) -> (i32, Value, String) {
    let probe = format!("{kind}={url}");
    let mut args = vec!["snapshot", "--probe", &probe, "-o", "json"];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = common::run_clusterdeck(&args, &[]).await;
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("snapshot is not JSON ({e}):\n{stdout}\nstderr: {stderr}"));
    (code, doc, stderr)
}

fn only_cluster(doc: &Value) -> &Value {
    let clusters = doc["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), 1, "{doc:#}");
    &clusters[0]
}

fn member<'a>(cluster: &'a Value, address: &str) -> &'a Value {
    cluster["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["address"] == address)
        .unwrap_or_else(|| panic!("no member at {address}: {cluster:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn orchestrator_steady_shows_the_leader_raft_state_names_and_two_followers() {
    let fake = Fake::start(load("orchestrator"), "steady", &[]);
    let (code, doc, stderr) = snapshot("orchestrator", &fake.url("127.0.0.11"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    let leader = fake.at("127.0.0.11");
    assert_eq!(cluster["leader"], leader.as_str(), "{cluster:#}");
    assert_eq!(cluster["members"].as_array().unwrap().len(), 3);
    let consensus = &cluster["consensus"];
    assert_eq!(consensus["leader"], leader.as_str());
    assert_eq!(
        (consensus["voters"].as_u64(), consensus["quorum"].as_u64()),
        (Some(3), Some(2))
    );
    assert!(consensus["in_progress"].is_null(), "{consensus:#}");
    assert!(
        consensus["term"].is_null(),
        "orchestrator publishes no term"
    );
    let led = member(cluster, &leader);
    assert_eq!(
        (led["tier"].as_str(), led["native_role"].as_str()),
        (Some("master"), Some("leader"))
    );
    assert_eq!(led["name"], "orc-1");
    for (host, name) in [("127.0.0.12", "orc-2"), ("127.0.0.13", "orc-3")] {
        let follower = member(cluster, &fake.at(host));
        assert_eq!(follower["tier"], "copy", "{follower:#}");
        assert_eq!(follower["native_role"], "follower");
        assert_eq!(follower["name"], name);
        assert_eq!(follower["leader"], false);
        assert_eq!(follower["health"], "ok");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn orchestrator_election_has_no_leader_and_says_so() {
    let fake = Fake::start(load("orchestrator"), "election", &[]);
    let (code, doc, stderr) = snapshot("orchestrator", &fake.url("127.0.0.11"), &[]).await;
    assert_eq!(code, 0, "every member answered: {stderr}");
    let cluster = only_cluster(&doc);
    assert!(cluster["leader"].is_null(), "{cluster:#}");
    assert_eq!(cluster["consensus"]["in_progress"], "election");
    for member in cluster["members"].as_array().unwrap() {
        assert_eq!(member["native_role"], "candidate", "{member:#}");
        assert_eq!(member["tier"], "unknown");
        assert_eq!(
            member["raw"]["raft health"], "unhealthy",
            "HTTP 500 read as such"
        );
    }
    assert_eq!(cluster["members"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn orchestrator_stale_leader_is_a_conflict_and_the_majority_leader_leads() {
    let fake = Fake::start(load("orchestrator"), "stale-leader", &[]);
    let (code, doc, stderr) = snapshot("orchestrator", &fake.url("127.0.0.11"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    let (stale, elected) = (fake.at("127.0.0.11"), fake.at("127.0.0.12"));
    // No term to compare: node2 and node3 both name node2.
    assert_eq!(cluster["leader"], elected.as_str(), "{cluster:#}");
    let mut conflict: Vec<&str> = cluster["leaders_conflict"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    conflict.sort();
    assert_eq!(conflict, [stale.as_str(), elected.as_str()]);
    let old = member(cluster, &stale);
    assert_eq!(old["leader"], false, "{old:#}");
    assert!(
        old["role_dispute"].is_string(),
        "its claim is shown: {old:#}"
    );
    assert!(
        member(cluster, &fake.at("127.0.0.13"))
            .get("role_dispute")
            .is_none()
    );
}

/// `watch --events` on one probe, as these tests run it.
fn watch(probe: &str) -> Watch {
    Watch::spawn(&[
        "--events",
        "--interval",
        "200ms",
        "--request-timeout",
        "1s",
        "--probe",
        probe,
    ])
}

/// The next event of this kind, within 30 s.
async fn next(watch: &mut Watch, kind: &str) -> Value {
    watch
        .until(kind, Duration::from_secs(30), |e| e["kind"] == kind)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn orchestrator_watch_follows_an_election_a_new_leader_and_a_stale_leader() {
    let mut recorded = load("orchestrator");
    let pairs = [("127.0.0.11", "127.0.0.12"), ("orc-1", "orc-2")];
    derive_swapped(&mut recorded, "steady", "steady-new-leader", &pairs);
    let fake = Fake::start(recorded, "steady", &[]);
    let (old, new) = (fake.at("127.0.0.11"), fake.at("127.0.0.12"));
    let mut watch = watch(&format!("orchestrator={}", fake.url("127.0.0.11")));
    for _ in 0..3 {
        next(&mut watch, "member_added").await;
    }
    fake.switch("election");
    let lost = next(&mut watch, "leader_lost").await;
    assert_eq!(lost["member"], old.as_str(), "{lost:#}");
    fake.switch("steady-new-leader");
    let change = next(&mut watch, "leader_changed").await;
    assert_eq!(change["details"]["from"], old.as_str(), "{change:#}");
    assert_eq!(change["details"]["to"], new.as_str());
    assert!(change["details"]["leaderless_ms"].is_u64(), "{change:#}");
    eprintln!("leader_changed: {}", change["details"]);
    // node1 was cut off and still says it leads; node2 and node3 elected node2.
    fake.switch("stale-leader");
    let conflict = next(&mut watch, "leaders_conflict").await;
    let mut claimants: Vec<&str> = conflict["details"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    claimants.sort();
    assert_eq!(claimants, [old.as_str(), new.as_str()], "{conflict:#}");
    assert_eq!(
        conflict["details"]["leader"],
        new.as_str(),
        "the majority's leader"
    );
    fake.switch("steady-new-leader");
    let agree = next(&mut watch, "leaders_agree").await;
    assert_eq!(agree["details"]["leader"], new.as_str(), "{agree:#}");
    drop(watch);
}

#[tokio::test(flavor = "multi_thread")]
async fn consul_healthy_shows_three_voters_the_leader_and_its_term() {
    let fake = Fake::start(load("consul"), "healthy", &[]);
    // Seeded at a follower: the rest is found from its raft configuration.
    let (code, doc, stderr) = snapshot("consul", &fake.url("127.1.10.11"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    let alice = fake.at("127.1.10.12");
    assert_eq!(cluster["leader"], alice.as_str(), "{cluster:#}");
    let consensus = &cluster["consensus"];
    assert_eq!(
        consensus["term"], 4,
        "Stats.raft.term, a string in agent/self"
    );
    assert_eq!(
        (consensus["voters"].as_u64(), consensus["quorum"].as_u64()),
        (Some(3), Some(2))
    );
    assert!(consensus["in_progress"].is_null());
    let leader = member(cluster, &alice);
    assert_eq!(
        (leader["name"].as_str(), leader["tier"].as_str()),
        (Some("alice"), Some("master"))
    );
    assert_eq!(leader["term"], 4);
    for (host, name) in [("127.1.10.11", "bob"), ("127.1.10.10", "carol")] {
        let follower = member(cluster, &fake.at(host));
        assert_eq!(follower["name"], name, "{follower:#}");
        assert_eq!(follower["tier"], "copy");
        assert_eq!(follower["native_role"], "follower");
        assert_eq!(follower["lag"]["value"], 0, "commit_index = applied_index");
    }
    assert_eq!(cluster["members"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn consul_non_voter_is_shown_apart_and_not_counted_as_a_voter() {
    let fake = Fake::start(load("consul"), "nonvoter", &[]);
    let (code, doc, stderr) = snapshot("consul", &fake.url("127.1.10.12"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    assert_eq!(
        cluster["members"].as_array().unwrap().len(),
        4,
        "{cluster:#}"
    );
    let dave = member(cluster, &fake.at("127.1.10.13"));
    assert_eq!(dave["name"], "dave");
    assert_eq!(dave["tier"], "unknown", "{dave:#}");
    assert_eq!(dave["native_role"], "non-voter");
    assert_eq!(dave["leader"], false);
    let consensus = &cluster["consensus"];
    assert_eq!(
        (consensus["voters"].as_u64(), consensus["quorum"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(cluster["leader"], fake.at("127.1.10.12").as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn consul_election_has_no_leader_and_keeps_its_members() {
    let fake = Fake::start(load("consul"), "election", &[]);
    let (code, doc, stderr) = snapshot("consul", &fake.url("127.1.10.12"), &[]).await;
    assert_eq!(code, 0, "every server answered: {stderr}");
    let cluster = only_cluster(&doc);
    assert!(cluster["leader"].is_null(), "{cluster:#}");
    let consensus = &cluster["consensus"];
    assert_eq!(consensus["in_progress"], "election", "{consensus:#}");
    // carol's vote request went out in term 6; alice and bob are in 5.
    assert_eq!(consensus["term"], 6, "the highest term a candidate is in");
    assert_eq!(consensus["voters"], 3);
    let members = cluster["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    for member in members {
        assert_eq!(member["native_role"], "candidate", "{member:#}");
        assert_eq!(member["health"], "ok");
    }
    // The configuration read through the leader fails without one.
    let plain = raw_get(&format!(
        "{}/v1/operator/raft/configuration",
        fake.url("127.1.10.12")
    ))
    .await;
    assert_eq!((plain.0, plain.1.trim()), (500, "No cluster leader"));
}

#[tokio::test(flavor = "multi_thread")]
async fn consul_election_names_a_server_that_is_down_from_the_local_configuration() {
    // carol is down; without a leader only `?stale` reads the configuration.
    let fake = Fake::start(load("consul"), "election", &["127.1.10.10"]);
    let (code, doc, stderr) = snapshot("consul", &fake.url("127.1.10.12"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    let carol = member(cluster, &fake.at("127.1.10.10"));
    assert_eq!(carol["name"], "carol", "{carol:#}");
    assert_eq!(carol["health"], "down");
    assert_eq!(
        carol["raw"]["consul id"], "1fd52e5e-2f72-47d3-8cfc-2af760a0c8c2",
        "{carol:#}"
    );
    assert_eq!(cluster["consensus"]["voters"], 3);
    assert!(cluster["leader"].is_null());
}

/// A GET on the fake, over a raw TCP HTTP/1.0 exchange (no client crate
/// needed): status and body.
async fn raw_get(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("http URL");
    let (at, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(at).await.expect("connect");
    let request = format!("GET {path} HTTP/1.0\r\nHost: {at}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    let status = reply[9..12].parse().expect("status");
    let body = reply
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn dgraph_steady_shows_zeros_as_masters_and_alphas_in_their_groups() {
    let fake = Fake::start(load("dgraph"), "steady", &[]);
    let (code, doc, stderr) = snapshot("dgraph", &fake.url("127.0.2.11"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    let members = cluster["members"].as_array().unwrap();
    assert_eq!(
        members.len(),
        9,
        "3 zeros and 6 alphas, each once: {cluster:#}"
    );
    let zeros: Vec<&Value> = members.iter().filter(|m| m["tier"] == "master").collect();
    assert_eq!(zeros.len(), 3, "{cluster:#}");
    let leaders: Vec<&&Value> = zeros.iter().filter(|m| m["leader"] == true).collect();
    assert_eq!(leaders.len(), 1);
    assert_eq!(leaders[0]["name"], "zero 1");
    assert_eq!(leaders[0]["native_role"], "zero leader");
    assert_eq!(cluster["leader"], leaders[0]["id"]);
    let alphas: Vec<&Value> = members.iter().filter(|m| m["tier"] == "copy").collect();
    assert_eq!(alphas.len(), 6);
    let roles: Vec<&str> = alphas
        .iter()
        .filter_map(|m| m["native_role"].as_str())
        .collect();
    assert_eq!(roles.iter().filter(|r| r.contains("(group 1)")).count(), 3);
    assert_eq!(roles.iter().filter(|r| r.contains("(group 2)")).count(), 3);
    assert!(roles.contains(&"alpha leader (group 1)") && roles.contains(&"alpha leader (group 2)"));
    let consensus = &cluster["consensus"];
    assert_eq!(
        (consensus["voters"].as_u64(), consensus["quorum"].as_u64()),
        (Some(3), Some(2))
    );
    assert!(consensus["in_progress"].is_null(), "{consensus:#}");
    let cid = consensus["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "cluster");
    assert_eq!(
        cid.unwrap()["value"],
        "7d3c2a91-5f0e-4b8a-9c61-2e4f8d0b1a37"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dgraph_membership_with_no_zero_leader_is_an_election() {
    // The index's `_stale_snapshot`: the steady document with every zero
    // `leader: false` (a shape, not a capture; see SOURCES.md).
    let mut recorded = load("dgraph");
    let dir = fixtures("dgraph");
    let text = std::fs::read_to_string(dir.join("zero-election/state.json")).unwrap();
    let mut hosts = recorded.scenarios["steady"].clone();
    for routes in hosts.values_mut() {
        let reply = routes.get_mut("/state").expect("/state");
        reply.body = loopback(&text).into_bytes();
    }
    recorded.scenarios.insert("no-zero-leader".into(), hosts);
    let fake = Fake::start(recorded, "no-zero-leader", &[]);
    let (code, doc, stderr) = snapshot("dgraph", &fake.url("127.0.2.12"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    assert!(cluster["leader"].is_null(), "{cluster:#}");
    assert_eq!(cluster["consensus"]["in_progress"], "election");
    assert_eq!(cluster["members"].as_array().unwrap().len(), 9);
    assert!(cluster["leaders_conflict"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dgraph_zero_election_is_a_clear_source_error_and_exit_1() {
    let fake = Fake::start(load("dgraph"), "zero-election", &[]);
    let (code, doc, stderr) = snapshot("dgraph", &fake.url("127.0.2.11"), &[]).await;
    assert_eq!(code, 1, "{stderr}");
    let source = &doc["sources"][0];
    assert_eq!(source["status"], "error", "{doc:#}");
    let error = source["error"].as_str().expect("an error");
    eprintln!("dgraph source error: {error}");
    assert!(
        error.contains("HTTP 500") && error.contains("Cannot get linearized read"),
        "{error}"
    );
    assert!(!error.contains("\\n"), "the body on one line: {error}");
    let cluster = only_cluster(&doc);
    assert!(cluster["leader"].is_null());
    let member = &cluster["members"][0];
    assert_eq!(member["health"], "down", "{member:#}");
    assert!(member["error"].as_str().unwrap().contains("HTTP 500"));
}

/// Whether `text` holds a character a terminal would act on.
fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c))
}

/// One snapshot with `--request-timeout 500ms`, under a generous deadline
/// (no timed assertion: the wall time is printed).
async fn snapshot_bounded(kind: &str, url: &str, output: &str) -> (i32, String) {
    let probe = format!("{kind}={url}");
    let args = [
        "snapshot",
        "--probe",
        &probe,
        "-o",
        output,
        "--request-timeout",
        "500ms",
        "--timeout",
        "20s",
    ];
    let started = Instant::now();
    let run = common::run_clusterdeck(&args, &[]);
    let (code, stdout, stderr) = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("snapshot returns although members hang");
    eprintln!(
        "snapshot -o {output}: {:?}, stderr: {stderr}",
        started.elapsed()
    );
    (code, stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_that_refuses_and_one_that_never_answers_fail_alone() {
    // bob listens nowhere (refused); carol accepts and never answers.
    let fake = Fake::start(load("consul"), "healthy", &["127.1.10.11"]);
    fake.misbehave("127.1.10.10", Misbehaviour::Hang);
    let (code, stdout) = snapshot_bounded("consul", &fake.url("127.1.10.12"), "json").await;
    assert_eq!(code, 0, "the leader answered: the source is ok\n{stdout}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    let cluster = only_cluster(&doc);
    assert_eq!(
        cluster["leader"],
        fake.at("127.1.10.12").as_str(),
        "{cluster:#}"
    );
    assert_eq!(cluster["consensus"]["term"], 4);
    let bob = member(cluster, &fake.at("127.1.10.11"));
    assert_eq!(bob["health"], "down", "{bob:#}");
    assert!(
        bob["error"].as_str().unwrap().contains("cannot connect"),
        "{bob:#}"
    );
    let carol = member(cluster, &fake.at("127.1.10.10"));
    assert_eq!(carol["health"], "down", "{carol:#}");
    let error = carol["error"].as_str().unwrap();
    assert!(error.contains("no answer within 500ms"), "{error}");
    let unreachable = cluster["consensus"]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "unreachable");
    assert_eq!(unreachable.expect("an unreachable fact")["value"], "2");
}

/// Bytes no member should send: a terminal escape (OSC 52 clipboard write,
/// screen clear), NUL, invalid UTF-8 and a bidi override.
fn binary_garbage() -> Vec<u8> {
    let mut bytes = b"\x1b]52;c;aGk=\x07\x1b[2J\x00\x01\x7f".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
    bytes.extend_from_slice("\u{202e}evil".as_bytes());
    bytes
}

#[tokio::test(flavor = "multi_thread")]
async fn members_that_answer_garbage_show_an_escaped_error_and_the_rest_is_unaffected() {
    let fake = Fake::start(load("consul"), "nonvoter", &[]);
    let garbage = [
        (
            "127.1.10.11",
            b"<html><body>502 Bad Gateway</body></html>".to_vec(),
        ),
        ("127.1.10.10", binary_garbage()),
        ("127.1.10.13", vec![b'x'; (4 << 20) + 1]),
    ];
    for (host, bytes) in &garbage {
        fake.misbehave(host, Misbehaviour::Garbage(bytes.clone()));
    }
    let (code, stdout) = snapshot_bounded("consul", &fake.url("127.1.10.12"), "json").await;
    assert_eq!(code, 0, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    let cluster = only_cluster(&doc);
    assert_eq!(
        cluster["leader"],
        fake.at("127.1.10.12").as_str(),
        "{cluster:#}"
    );
    assert_eq!(
        cluster["consensus"]["voters"], 3,
        "alice's configuration still counts"
    );
    for (host, _) in &garbage {
        let bad = member(cluster, &fake.at(host));
        assert_eq!(bad["health"], "down", "{bad:#}");
        let error = bad["error"].as_str().expect("an error");
        eprintln!("{host}: {error}");
        assert!(!has_control(error), "unescaped: {error:?}");
        assert!(
            error.len() < 4096,
            "a bounded message: {} bytes",
            error.len()
        );
    }
    let huge = member(cluster, &fake.at("127.1.10.13"));
    assert!(
        huge["error"].as_str().unwrap().contains("over 4 MiB"),
        "{huge:#}"
    );
    let (_, table) = snapshot_bounded("consul", &fake.url("127.1.10.12"), "table").await;
    assert!(
        !table
            .chars()
            .any(|c| c != '\n' && has_control(&c.to_string())),
        "{table:?}"
    );
    assert!(table.contains("alice"), "{table}");
}

/// The fuzz: any JSON in any reply, read by every built-in definition and
/// assembled, never panics and never lets a control character through.
mod fuzz {
    use std::collections::BTreeMap;

    use clusterdeck::sources::probes::assemble::{ClusterSpec, Look, assemble};
    use clusterdeck::sources::probes::definition::Catalog;
    use clusterdeck::sources::probes::said::read;
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::has_control;

    /// 256 cases; failures kept beside this file (proptest looks for a
    /// lib.rs or main.rs to put them by, which tests/ has not).
    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 256,
            failure_persistence: Some(Box::new(
                proptest::test_runner::FileFailurePersistence::Direct(
                    "tests/probe_recorded.proptest-regressions",
                ),
            )),
            ..ProptestConfig::default()
        }
    }

    /// Compiled once: compiling every definition's jq per case would be
    /// most of the fuzz's time.
    static CATALOG: std::sync::LazyLock<Catalog> =
        std::sync::LazyLock::new(|| Catalog::new(&[]).expect("built-in definitions"));

    /// Words the definitions look for, so random documents reach deep.
    const WORDS: &[&str] = &[
        "status",
        "header",
        "member_id",
        "cluster_id",
        "leader",
        "members",
        "ID",
        "name",
        "clientURLs",
        "isLearner",
        "raftTerm",
        "raftIndex",
        "raftAppliedIndex",
        "self",
        "Config",
        "NodeID",
        "NodeName",
        "Stats",
        "raft",
        "state",
        "term",
        "config",
        "Servers",
        "Voter",
        "Address",
        "peers",
        "health",
        "Details",
        "Hostname",
        "zeros",
        "groups",
        "addr",
        "id",
        "cid",
        "Leader",
        "Follower",
        "Candidate",
        "healthy",
        "mntr",
        "srvr",
        "conf",
        "zk_server_state",
        "Mode",
        "127.0.0.1:2379",
        "0",
        "1",
        "",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(WORDS).prop_map(str::to_string),
            "[\\x00-\\x1f\\x7f\\u{202e}a-z0-9:.\\[\\]\\\\ -]{0,16}",
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e20f64..1e20).prop_map(|f| json!(f)),
            text().prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..6)
                    .prop_map(|m: BTreeMap<String, Value>| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// One member's document: a random reply under each request's name.
    fn document(requests: &[String], replies: &[Value], endpoint: &str) -> Value {
        let mut doc = Map::new();
        doc.insert("endpoint".into(), json!(endpoint));
        for (name, reply) in requests.iter().zip(replies.iter().cycle()) {
            doc.insert(name.clone(), reply.clone());
        }
        Value::Object(doc)
    }

    fn check_shown(kind: &str, members: &[clusterdeck::model::MemberObservation]) {
        for m in members {
            let texts = [
                Some(&m.name),
                m.address.as_ref(),
                m.native_role.as_ref(),
                m.error.as_ref(),
            ];
            for text in texts
                .into_iter()
                .flatten()
                .chain(m.raw.keys())
                .chain(m.raw.values())
            {
                assert!(!has_control(text), "{kind}: {text:?}");
            }
        }
    }

    proptest! {
        #![proptest_config(config())]
        #[test]
        fn any_reply_is_read_and_assembled_without_panic(
            replies in prop::collection::vec(json_value(), 1..5),
            members in 1usize..4,
        ) {
            let catalog = &*CATALOG;
            let kinds: Vec<String> = catalog.kinds().map(str::to_string).collect();
            for kind in kinds {
                let def = catalog.get(&kind).unwrap();
                let requests: Vec<String> = def.def.requests.keys().cloned().collect();
                let looks: Vec<Look> = (0..members)
                    .map(|i| {
                        let endpoint = format!("127.0.0.{}:2379", i + 1);
                        let turned: Vec<Value> = replies.iter().skip(i).cloned().collect();
                        let replies = if turned.is_empty() { replies.clone() } else { turned };
                        let result = read(&def, &document(&requests, &replies, &endpoint));
                        Look { endpoint, address: None, name: None, result }
                    })
                    .collect();
                let spec = ClusterSpec { id: kind.clone(), name: kind.clone(), precedence: 1 };
                let assembled = assemble(&def, &spec, &looks, |p| p.address.clone());
                check_shown(&kind, &assembled.members);
            }
        }
    }

    /// A recorded document of each kind that has one (what its members say
    /// in a healthy cluster), in the shape the expressions read.
    fn recorded_documents() -> Vec<(&'static str, Value)> {
        let dir = super::fixtures("");
        let file = |path: &str| super::read_json(&dir.join(path));
        vec![
            (
                "orchestrator",
                json!({
                    "endpoint": "127.0.0.11:3000",
                    "state": file("orchestrator/leader/raft-state.json"),
                    "leader": file("orchestrator/leader/raft-leader.json"),
                    "peers": file("orchestrator/leader/raft-peers.json"),
                    "raft_health": file("orchestrator/leader/raft-health.json"),
                    "health": file("orchestrator/leader/health.json"),
                }),
            ),
            (
                "consul",
                json!({
                    "endpoint": "127.1.10.12:8500",
                    "self": file("consul/nonvoter/alice/agent-self.json"),
                    "leader": file("consul/nonvoter/alice/status-leader.json"),
                    "peers": file("consul/nonvoter/alice/status-peers.json"),
                    "config": file("consul/nonvoter/operator-raft-configuration.json"),
                }),
            ),
            (
                "dgraph",
                json!({
                    "endpoint": "10.0.2.11:6080",
                    "state": file("dgraph/steady/state.json"),
                }),
            ),
            (
                "allegrograph",
                json!({
                    "endpoint": "10.0.4.12:10035",
                    "status": file("allegrograph/steady-i-10.0.4.12.json"),
                }),
            ),
            (
                "dynomite",
                json!({
                    "endpoint": "10.0.3.11:22222",
                    "info": file("dynomite/node1-info.json"),
                    "cluster_describe": file("dynomite/node1-cluster_describe.json"),
                    "state": "State: NORMAL\n",
                }),
            ),
        ]
    }

    /// Every place in `value` (JSON pointers), the root included.
    fn places(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let key = key.replace('~', "~0").replace('/', "~1");
                    places(inner, format!("{at}/{key}"), out);
                }
            }
            Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    places(inner, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }

    proptest! {
        #![proptest_config(config())]
        /// A recorded document with one place (a leaf or a whole subtree)
        /// replaced by anything: reaches every expression's deep paths.
        #[test]
        fn a_recorded_reply_changed_anywhere_never_panics(
            picks in prop::collection::vec((any::<prop::sample::Index>(), json_value()), 1..4),
        ) {
            let catalog = &*CATALOG;
            for (kind, base) in recorded_documents() {
                let def = catalog.get(kind).unwrap();
                let mut doc = base.clone();
                for (index, replacement) in &picks {
                    let mut all = Vec::new();
                    places(&doc, String::new(), &mut all);
                    let at = index.get(&all).clone();
                    match doc.pointer_mut(&at) {
                        Some(place) => *place = replacement.clone(),
                        None => doc = replacement.clone(),
                    }
                }
                let looks = vec![
                    Look { endpoint: "127.0.0.1:1".into(), address: None, name: None, result: read(&def, &base) },
                    Look { endpoint: "127.0.0.2:1".into(), address: None, name: None, result: read(&def, &doc) },
                ];
                let spec = ClusterSpec { id: kind.into(), name: kind.into(), precedence: 1 };
                let assembled = assemble(&def, &spec, &looks, |p| p.address.clone());
                check_shown(kind, &assembled.members);
            }
        }
    }
}

/// The recorded Dynomite nodes, served as `dyn_stats.c` serves them: one
/// thread per node answering one request per connection, in its own framing
/// (`HTTP/1.1 200 OK \n` and header lines ended by a bare LF, then closing),
/// `OK\r\n` for a path it does not know. Every reply is HTTP 200, even
/// `ERR`.
impl Fake {
    fn start_dynomite(recorded: Recorded, scenario: &str, refuse: &[&str]) -> Fake {
        assert!(
            recorded.scenarios.contains_key(scenario),
            "no scenario {scenario}"
        );
        let hosts: Vec<String> = recorded
            .hosts()
            .into_iter()
            .filter(|h| !refuse.contains(&h.as_str()))
            .collect();
        let (port, listeners) = bind_all(&hosts);
        let shared = Arc::new(Shared {
            recorded,
            scenario: Mutex::new(scenario.to_string()),
            misbehaving: Mutex::default(),
        });
        let tasks = hosts
            .into_iter()
            .zip(listeners)
            .map(|(host, listener)| serve_dynomite(host, listener, Arc::clone(&shared)))
            .collect();
        Fake {
            port,
            shared,
            tasks,
        }
    }
}

fn serve_dynomite(
    host: String,
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
) -> JoinHandle<()> {
    listener.set_nonblocking(true).expect("non-blocking");
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    tokio::spawn(async move {
        // One at a time, as the stats thread accepts them.
        while let Ok((stream, _)) = listener.accept().await {
            answer_dynomite(&host, stream, &shared).await;
        }
    })
}

async fn answer_dynomite(host: &str, mut stream: tokio::net::TcpStream, shared: &Shared) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut head = Vec::new();
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let body = match shared.misbehaving.lock().unwrap().get(host).cloned() {
        Some(Misbehaviour::Garbage(bytes)) => bytes,
        _ => {
            let scenario = shared.scenario.lock().unwrap().clone();
            let routes = shared.recorded.scenarios[&scenario].get(host);
            match routes.and_then(|r| r.get(&path)) {
                Some(reply) => reply.body.clone(),
                None => b"OK\r\n".to_vec(),
            }
        }
    };
    let header = format!(
        "HTTP/1.1 200 OK \nContent-Type: application/json; charset=utf-8 \nContent-Length: {} \r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(header.as_bytes()).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
}

fn members(cluster: &Value) -> &Vec<Value> {
    cluster["members"].as_array().expect("members")
}

#[tokio::test(flavor = "multi_thread")]
async fn allegrograph_steady_shows_the_controlling_instance_as_master_and_two_copies() {
    let fake = Fake::start(load("allegrograph"), "steady", &[]);
    // Seeded at a copy: the others are found from its repl/status.
    let (code, doc, stderr) = snapshot("allegrograph", &fake.url("127.0.4.12"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    assert_eq!(members(cluster).len(), 3, "{cluster:#}");
    let controlling = fake.at("127.0.4.11");
    assert_eq!(cluster["leader"], controlling.as_str(), "{cluster:#}");
    assert!(
        cluster["consensus"].is_null(),
        "designated, not elected: {cluster:#}"
    );
    let ctl = member(cluster, &controlling);
    assert_eq!(
        (ctl["name"].as_str(), ctl["tier"].as_str()),
        (Some("controlling"), Some("master"))
    );
    assert_eq!(ctl["native_role"], "controlling");
    assert_eq!(ctl["raw"]["repository"], "myrepl", "{ctl:#}");
    assert_eq!(ctl["raw"]["allegrograph id"], "controlling");
    // The instance names carry their IPs (`i-$myip` in Franz's scripts),
    // rewritten to loopback with every address.
    for (host, name) in [
        ("127.0.4.12", "i-127.0.4.12"),
        ("127.0.4.13", "i-127.0.4.13"),
    ] {
        let copy = member(cluster, &fake.at(host));
        assert_eq!(copy["name"], name, "{copy:#}");
        assert_eq!(copy["tier"], "copy");
        assert_eq!(copy["native_role"], "copy");
        assert_eq!(copy["leader"], false);
        assert_eq!(copy["health"], "ok");
        assert_eq!(copy["raw"]["instance status"], "running");
        assert_eq!(copy["raw"]["controlling instance"], "controlling");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn allegrograph_a_stopped_copy_is_degraded_and_a_copy_down_is_down() {
    // i-10.0.4.12 was stopped by the controlling instance; i-10.0.4.13's
    // server listens nowhere.
    let fake = Fake::start(load("allegrograph"), "stopped", &["127.0.4.13"]);
    let (code, doc, stderr) = snapshot("allegrograph", &fake.url("127.0.4.11"), &[]).await;
    assert_eq!(code, 0, "the seed answered: {stderr}");
    let cluster = only_cluster(&doc);
    assert_eq!(members(cluster).len(), 3, "{cluster:#}");
    assert_eq!(cluster["leader"], fake.at("127.0.4.11").as_str());
    let stopped = member(cluster, &fake.at("127.0.4.12"));
    assert_eq!(stopped["health"], "degraded", "{stopped:#}");
    assert_eq!(stopped["raw"]["instance status"], "stopped");
    assert_eq!(stopped["tier"], "copy");
    let down = member(cluster, &fake.at("127.0.4.13"));
    assert_eq!(down["health"], "down", "{down:#}");
    assert_eq!(
        down["name"], "i-127.0.4.13",
        "named by the controlling instance"
    );
    let error = down["error"].as_str().expect("an error");
    assert!(error.contains("cannot connect"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn allegrograph_a_reply_without_instances_or_garbage_is_a_clear_error() {
    let fake = Fake::start(load("allegrograph"), "missing-instances", &[]);
    let (code, doc, stderr) = snapshot("allegrograph", &fake.url("127.0.4.11"), &[]).await;
    assert_eq!(code, 1, "{stderr}");
    let error = doc["sources"][0]["error"].as_str().unwrap_or_default();
    let seed = &only_cluster(&doc)["members"][0];
    let said = seed["error"].as_str().expect("the member's error");
    eprintln!("source: {error}; member: {said}");
    assert!(
        said.contains("repl/status has no `instances` list"),
        "{said}"
    );
    assert_eq!(seed["health"], "down");

    fake.switch("steady");
    fake.misbehave("127.0.4.13", Misbehaviour::Garbage(binary_garbage()));
    let (code, stdout) = snapshot_bounded("allegrograph", &fake.url("127.0.4.11"), "json").await;
    assert_eq!(code, 0, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    let bad = member(only_cluster(&doc), &fake.at("127.0.4.13"));
    assert_eq!(bad["health"], "down", "{bad:#}");
    let error = bad["error"].as_str().expect("an error");
    assert!(error.contains("repl/status is not JSON"), "{error}");
    assert!(!has_control(error), "unescaped: {error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dynomite_steady_shows_four_equal_nodes_and_no_leader() {
    let fake = Fake::start_dynomite(load("dynomite"), "steady", &[]);
    let (code, doc, stderr) = snapshot("dynomite", &fake.url("127.0.3.11"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    assert_eq!(
        members(cluster).len(),
        4,
        "the seed lists itself as 0.0.0.0, once: {cluster:#}"
    );
    assert!(cluster["leader"].is_null(), "{cluster:#}");
    assert!(
        cluster["consensus"].is_null(),
        "no leader is not an election: {cluster:#}"
    );
    let nodes = [
        ("127.0.3.11", "dyno-0", "rack1", "dc1/rack1/0"),
        ("127.0.3.12", "dyno-1", "rack1", "dc1/rack1/2147483647"),
        ("127.0.3.21", "dyno-2", "rack2", "dc1/rack2/0"),
        ("127.0.3.22", "dyno-3", "rack2", "dc1/rack2/2147483647"),
    ];
    for (n, (host, name, rack, id)) in nodes.into_iter().enumerate() {
        let node = member(cluster, &fake.at(host));
        assert_eq!(node["name"], name, "{node:#}");
        assert_eq!(
            (node["tier"].as_str(), node["native_role"].as_str()),
            (Some("copy"), Some("node"))
        );
        assert_eq!(node["leader"], false);
        assert_eq!(node["health"], "ok");
        let raw = &node["raw"];
        assert_eq!(raw["state"], "NORMAL", "{node:#}");
        assert_eq!(
            (raw["dc"].as_str(), raw["rack"].as_str()),
            (Some("dc1"), Some(rack))
        );
        assert_eq!(raw["pool"], "dyn_o_mite");
        assert_eq!(raw["client connections"], (12 + n).to_string());
        assert_eq!(raw["uptime s"], (86400 + n).to_string());
        assert_eq!(raw["dynomite id"], id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dynomite_a_node_in_standby_is_degraded_and_a_node_down_is_down() {
    let fake = Fake::start_dynomite(load("dynomite"), "degraded", &["127.0.3.22"]);
    let (code, doc, stderr) = snapshot("dynomite", &fake.url("127.0.3.11"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    assert_eq!(members(cluster).len(), 4, "{cluster:#}");
    let standby = member(cluster, &fake.at("127.0.3.21"));
    assert_eq!(standby["health"], "degraded", "{standby:#}");
    assert_eq!(standby["raw"]["state"], "STANDBY");
    let down = member(cluster, &fake.at("127.0.3.22"));
    assert_eq!(down["health"], "down", "{down:#}");
    assert!(down["error"].as_str().unwrap().contains("cannot connect"));
    assert_eq!(
        down["raw"]["dynomite id"], "dc1/rack2/2147483647",
        "known from the seed's cluster_describe"
    );
    for host in ["127.0.3.11", "127.0.3.12"] {
        assert_eq!(member(cluster, &fake.at(host))["health"], "ok");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dynomite_err_replies_and_garbage_are_clear_errors() {
    // dyno-1's /info and dyno-2's /cluster_describe answer "ERR", as
    // dyn_stats.c does when it cannot build them; dyno-3 predates
    // /state/get_state and answers "OK".
    let fake = Fake::start_dynomite(load("dynomite"), "err", &[]);
    let (code, doc, stderr) = snapshot("dynomite", &fake.url("127.0.3.11"), &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    assert_eq!(members(cluster).len(), 4, "{cluster:#}");
    let no_info = member(cluster, &fake.at("127.0.3.12"));
    assert_eq!(no_info["health"], "down", "{no_info:#}");
    let error = no_info["error"].as_str().expect("an error");
    assert!(
        error.contains("/info answered ERR instead of JSON"),
        "{error}"
    );
    let no_peers = member(cluster, &fake.at("127.0.3.21"));
    assert_eq!(
        no_peers["health"], "ok",
        "its own state is known: {no_peers:#}"
    );
    let fact = no_peers["raw"]["cluster_describe"]
        .as_str()
        .unwrap_or_default();
    assert!(
        fact.contains("answered ERR instead of JSON"),
        "{no_peers:#}"
    );
    let old = member(cluster, &fake.at("127.0.3.22"));
    assert_eq!(old["health"], "ok", "{old:#}");
    assert!(old["raw"].get("state").is_none(), "{old:#}");

    fake.misbehave("127.0.3.12", Misbehaviour::Garbage(binary_garbage()));
    fake.misbehave(
        "127.0.3.21",
        Misbehaviour::Garbage(vec![b'x'; (4 << 20) + 1]),
    );
    let (code, stdout) = snapshot_bounded("dynomite", &fake.url("127.0.3.11"), "json").await;
    assert_eq!(code, 0, "{stdout}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    let cluster = only_cluster(&doc);
    for host in ["127.0.3.12", "127.0.3.21"] {
        let bad = member(cluster, &fake.at(host));
        assert_eq!(bad["health"], "down", "{bad:#}");
        let error = bad["error"].as_str().expect("an error");
        assert!(!has_control(error), "unescaped: {error:?}");
        assert!(error.len() < 4096, "bounded: {} bytes", error.len());
    }
    let huge = member(cluster, &fake.at("127.0.3.21"));
    assert!(
        huge["error"].as_str().unwrap().contains("over 4 MiB"),
        "{huge:#}"
    );
}

/// A leader recorded in a JSON document over HTTP (`--registry http=URL`,
/// the key a jq expression): a Digital Rebar cluster profile's param, in
/// the shape `drpcli profiles show` prints (seed 004: the shared profile's
/// `Params`, a leader param set by JSON PATCH), served on loopback beside
/// the recorded Dgraph zeros. Here the param holds the zero's address, as
/// the console knows members by address or name.
#[tokio::test(flavor = "multi_thread")]
async fn a_leader_recorded_in_a_profile_param_is_compared_with_the_zero_leader() {
    let fake = Fake::start(load("dgraph"), "steady", &[]);
    let (_, doc, _) = snapshot("dgraph", &fake.url("127.0.2.11"), &[]).await;
    let cluster = only_cluster(&doc);
    let zeros: Vec<&Value> = cluster["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["tier"] == "master")
        .collect();
    let leader = zeros.iter().find(|m| m["leader"] == true).unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    let follower = zeros.iter().find(|m| m["leader"] != true).unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    let param = Arc::new(Mutex::new(leader.clone()));
    let served = Arc::clone(&param);
    let app = axum::Router::new().route(
        "/api/v3/profiles/dgraph-cluster",
        axum::routing::get(move || {
            let value = served.lock().unwrap().clone();
            async move {
                axum::Json(serde_json::json!({
                    "Name": "dgraph-cluster", "Description": "shared cluster profile",
                    "Params": {"cluster-profile": "dgraph-cluster", "my/leader": value},
                    "Available": true, "Validated": true
                }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let registry = format!("http=http://127.0.0.1:{port}/api/v3/profiles/dgraph-cluster");
    let extra = [
        "--registry",
        registry.as_str(),
        "--registry-key",
        r#".Params["my/leader"]"#,
    ];
    let (code, doc, stderr) = snapshot("dgraph", &fake.url("127.0.2.11"), &extra).await;
    assert_eq!(code, 0, "{stderr}");
    let cluster = only_cluster(&doc);
    assert_eq!(
        cluster["recorded_leader"]["address"],
        leader.as_str(),
        "{cluster:#}"
    );
    assert_eq!(cluster["recorded_leader_agrees"], true, "{cluster:#}");
    *param.lock().unwrap() = follower.clone();
    let (_, doc, _) = snapshot("dgraph", &fake.url("127.0.2.11"), &extra).await;
    let cluster = only_cluster(&doc);
    assert_eq!(
        cluster["recorded_leader"]["holder"],
        follower.as_str(),
        "{cluster:#}"
    );
    assert_eq!(cluster["recorded_leader_agrees"], false, "{cluster:#}");
    // A key that picks nothing is the source's error, said plainly.
    let bad = [
        "--registry",
        registry.as_str(),
        "--registry-key",
        ".Params.nosuch",
    ];
    let (code, doc, _) = snapshot("dgraph", &fake.url("127.0.2.11"), &bad).await;
    assert_eq!(code, 1);
    let errors: Vec<String> = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["error"].as_str().map(str::to_string))
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("picks nothing")),
        "{doc:#}"
    );
    server.abort();
}
