//! The calls a switchover makes, to the application itself: one HTTP
//! request to Patroni or etcd, `SENTINEL FAILOVER` to a Sentinel, or the
//! `REPLICAOF` sequence to the Redis instances. Every call is bounded;
//! every reply read is bounded and escaped before it is shown.
//!
//! [`AppAccess`] is what the session's sources hold to reach each
//! application: Redis and Sentinel targets with their passwords, and each
//! probe's scheme and TLS settings. Nothing new is asked of the operator.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{AppCall, split_address};
use crate::actions::Action;
use crate::actions::ledger::Undo;
use crate::actions::platform::{ActionError, ActionPlatform, PreparedFault};
use crate::escape::escape;
use crate::sources::SourceSpec;
use crate::sources::probes::access::Access;
use crate::sources::redis::RedisTarget;
use crate::sources::redis::connection::{Connection, ProbeError};
use crate::sources::redis::registry::parse_host_port;

/// How long an application may take over a switchover it answers only
/// once done (Patroni took about 2 s on a quiet loopback cluster; etcd's
/// `MoveLeader` waits for the new leader): far above the polling timeout.
pub const APP_CALL_BOUND: Duration = Duration::from_secs(60);
/// The most of a reply read: a status line's worth of text, not a document.
const REPLY_LIMIT: usize = 64 * 1024;
/// The most of a reply shown.
const SHOWN_CHARS: usize = 300;

/// How the session reaches the applications its sources watch.
#[derive(Debug, Clone, Default)]
pub struct AppAccess {
    /// Each `--redis` source's seed, with the data nodes' credentials.
    redis: Vec<RedisTarget>,
    sentinels: Vec<SentinelAccess>,
    /// Scheme and TLS of each probe, by the application's kind.
    http: BTreeMap<String, HttpAccess>,
}

/// A Redis login for a shell; its Debug leaves the password out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RedisLogin {
    pub user: Option<String>,
    pub password: Option<String>,
    pub tls: bool,
}

/// A probe's login for a shell; its Debug leaves the password out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProbeLogin {
    pub scheme: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for RedisLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLogin")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls)
            .finish()
    }
}

impl std::fmt::Debug for ProbeLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeLogin")
            .field("scheme", &self.scheme)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone)]
struct SentinelAccess {
    target: RedisTarget,
    /// The masters it is limited to (`--sentinel-master`); empty: all.
    masters: Vec<String>,
    /// How the data nodes it names are reached.
    nodes: RedisTarget,
}

#[derive(Debug, Clone)]
struct HttpAccess {
    scheme: String,
    access: Arc<Access>,
}

impl AppAccess {
    /// What the sources about to start hold.
    pub fn from_sources<'a>(specs: impl IntoIterator<Item = &'a SourceSpec>) -> AppAccess {
        let mut apps = AppAccess::default();
        for spec in specs {
            match spec {
                SourceSpec::Redis(target) => apps.redis.push(target.clone()),
                SourceSpec::Sentinel {
                    target,
                    masters,
                    nodes,
                } => apps.sentinels.push(SentinelAccess {
                    target: target.clone(),
                    masters: masters.clone(),
                    nodes: nodes.clone().unwrap_or_else(|| target.clone()),
                }),
                SourceSpec::Probe(probe) => {
                    let kind = probe.def.def.kind.clone();
                    apps.http.entry(kind).or_insert_with(|| HttpAccess {
                        scheme: probe.scheme.clone(),
                        access: Arc::clone(&probe.access),
                    });
                }
                _ => {}
            }
        }
        apps
    }

    /// A data node of `cluster` at `address`, with the credentials of the
    /// source that watches it: the `--redis` source it was found from, else
    /// the first Redis source, else a Sentinel's data node credentials.
    fn node(&self, cluster: &str, address: &str) -> Result<RedisTarget, ActionError> {
        let (host, port) = host_port(address)?;
        let seed = cluster.strip_prefix("redis/");
        let from_seed = self.redis.iter().find(|t| Some(t.address()) == seed);
        let template = from_seed
            .or(self.redis.first())
            .or(self.sentinels.first().map(|s| &s.nodes))
            .ok_or_else(|| no_source("Redis", address))?;
        Ok(template.with_address(host, port))
    }

    /// How a shell logs in to the Redis at `address` of `cluster`: the
    /// watching source's user and password (the password only where that
    /// source may send it), and TLS. None when no source holds it.
    pub fn redis_login(&self, cluster: &str, address: &str) -> Option<RedisLogin> {
        let target = self.node(cluster, address).ok()?;
        let (user, password) = target.login();
        Some(RedisLogin {
            user,
            password: password.filter(|_| target.is_allowed()),
            tls: target.is_tls(),
        })
    }

    /// How a shell reaches a probe's application of `kind` on `host`: the
    /// probe's scheme, user and password (only where it may be sent).
    pub fn probe_login(&self, kind: &str, host: &str) -> Option<ProbeLogin> {
        let http = self.http.get(kind)?;
        let access = &http.access;
        Some(ProbeLogin {
            scheme: http.scheme.clone(),
            user: access.user.clone(),
            password: access.password.clone().filter(|_| access.allows(host)),
        })
    }

    /// The Sentinel at `address`, with the credentials of a `--sentinel`
    /// source that watches `master_name`.
    fn sentinel(&self, master_name: &str, address: &str) -> Result<RedisTarget, ActionError> {
        let (host, port) = host_port(address)?;
        let watches = |s: &&SentinelAccess| {
            s.masters.is_empty() || s.masters.iter().any(|m| m == master_name)
        };
        let template = self
            .sentinels
            .iter()
            .find(watches)
            .ok_or_else(|| no_source("Sentinel", address))?;
        Ok(template.target.with_address(host, port))
    }

    /// The probe's scheme and TLS settings for `kind`; plain HTTP and
    /// nothing to present when no probe of that kind runs.
    fn http(&self, kind: &str) -> (String, Arc<Access>) {
        self.http.get(kind).map_or_else(
            || ("http".to_string(), Arc::default()),
            |h| (h.scheme.clone(), Arc::clone(&h.access)),
        )
    }
}

fn host_port(address: &str) -> Result<(&str, u16), ActionError> {
    parse_host_port(address)
        .ok_or_else(|| ActionError::App(format!("{} is not host:port", escape(address))))
}

fn no_source(what: &str, address: &str) -> ActionError {
    ActionError::App(format!(
        "no {what} source of this session holds the credentials for {address}"
    ))
}

/// The application calls behind [`ActionPlatform`]: a switchover injects
/// no fault, so there is nothing to prepare or undo.
#[derive(Debug, Clone)]
pub struct AppBackend {
    access: AppAccess,
    /// Bound on connecting, and on each Redis command.
    timeout: Duration,
}

impl AppBackend {
    pub fn new(access: AppAccess, timeout: Duration) -> AppBackend {
        AppBackend { access, timeout }
    }

    async fn run(&self, action: &Action) -> Result<String, ActionError> {
        let Action::Switchover { cluster, call, .. } = action else {
            return Err(ActionError::Internal(format!(
                "{} is not a call to an application",
                action.name()
            )));
        };
        match call {
            AppCall::Patroni { api, .. } => self.http(call, api).await,
            AppCall::EtcdMoveLeader { endpoint, .. } => self.http(call, endpoint).await,
            AppCall::SentinelFailover {
                master_name,
                sentinels,
                ..
            } => self.sentinel_failover(master_name, sentinels).await,
            AppCall::RedisReplicaOf {
                candidate,
                master,
                replicas,
                ..
            } => {
                let plan = Promotion {
                    cluster,
                    candidate,
                    master,
                    replicas,
                };
                self.replicaof(plan).await
            }
        }
    }

    /// The call's one HTTP request, with the probe's scheme and TLS; the
    /// answer (success or not) is quoted, bounded and escaped.
    async fn http(&self, call: &AppCall, endpoint: &str) -> Result<String, ActionError> {
        let (method, path, body) = call
            .http()
            .ok_or_else(|| ActionError::Internal("not an HTTP call".into()))?;
        let (scheme, access) = self.access.http(call.probe_kind().unwrap_or_default());
        let url = format!("{scheme}://{endpoint}{path}");
        let failed = |what: String| ActionError::App(format!("{method} {url}: {what}"));
        let host = split_address(endpoint).0;
        let tls = access.tls_config(access.allows(host)).map_err(failed)?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .user_agent(concat!("clusterdeck/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.timeout)
            .timeout(APP_CALL_BOUND)
            .build()
            .map_err(|e| failed(format!("cannot set up HTTP: {e}")))?;
        let response = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| failed(reqwest_error(&e)))?;
        let status = response.status().as_u16();
        let reply = read_reply(response).await.map_err(failed)?;
        if (200..300).contains(&status) {
            Ok(format!("{method} {url}: HTTP {status} {reply}"))
        } else {
            Err(failed(format!("HTTP {status} {reply}")))
        }
    }

    /// `SENTINEL FAILOVER` to the first Sentinel that can be reached: one
    /// that answers with an error (a failover in progress, no good replica)
    /// has spoken for them all.
    async fn sentinel_failover(
        &self,
        master_name: &str,
        sentinels: &[String],
    ) -> Result<String, ActionError> {
        let mut unreachable = Vec::new();
        for address in sentinels {
            let target = self.access.sentinel(master_name, address)?;
            let mut cmd = redis::cmd("SENTINEL");
            cmd.arg("FAILOVER").arg(master_name);
            match self.query(target, &cmd).await {
                Ok(_) => {
                    return Ok(format!(
                        "the Sentinel at {address} started the failover of {master_name}; \
                         it promotes the replica it prefers"
                    ));
                }
                Err(ProbeError::Command(refusal)) => {
                    return Err(ActionError::App(format!(
                        "the Sentinel at {address} refused SENTINEL FAILOVER {master_name}: {}",
                        escape(&refusal)
                    )));
                }
                Err(e) => unreachable.push(format!("{address}: {e}")),
            }
        }
        Err(ActionError::App(format!(
            "no Sentinel took SENTINEL FAILOVER {master_name}: {}",
            unreachable.join("; ")
        )))
    }

    /// One command on a fresh connection, bounded.
    async fn query(
        &self,
        target: RedisTarget,
        cmd: &redis::Cmd,
    ) -> Result<redis::Value, ProbeError> {
        Connection::new(target).query(cmd, self.timeout).await
    }
}

/// A promotion without Sentinel, as planned.
struct Promotion<'a> {
    cluster: &'a str,
    candidate: &'a str,
    master: &'a str,
    replicas: &'a [String],
}

impl AppBackend {
    /// Checks that no Sentinel watches the group, promotes the candidate,
    /// then points the old master and the other replicas at it. A step
    /// that fails after the promotion is reported with what is left to do
    /// by hand: nothing is rolled back, since the promotion cannot be.
    async fn replicaof(&self, plan: Promotion<'_>) -> Result<String, ActionError> {
        let (host, port) = split_address(plan.candidate);
        let master = self.access.node(plan.cluster, plan.master)?;
        self.no_sentinel_on(master.clone(), plan.master).await?;
        let candidate = self.access.node(plan.cluster, plan.candidate)?;
        let mut promote = redis::cmd("REPLICAOF");
        promote.arg("NO").arg("ONE");
        self.query(candidate, &promote).await.map_err(|e| {
            ActionError::App(format!(
                "REPLICAOF NO ONE on {}: {e}; nothing was changed",
                plan.candidate
            ))
        })?;
        let mut follow = redis::cmd("REPLICAOF");
        follow.arg(host).arg(port);
        let mut told = Vec::new();
        let mut failed = Vec::new();
        let others = std::iter::once(plan.master).chain(plan.replicas.iter().map(String::as_str));
        for address in others {
            let target = self.access.node(plan.cluster, address)?;
            match self.query(target, &follow).await {
                Ok(_) => told.push(address.to_string()),
                Err(e) => failed.push(format!("{address}: {e}")),
            }
        }
        let done = format!(
            "{} promoted (REPLICAOF NO ONE); REPLICAOF {host} {port} taken by {}",
            plan.candidate,
            if told.is_empty() {
                "none".to_string()
            } else {
                told.join(", ")
            }
        );
        if failed.is_empty() {
            return Ok(done);
        }
        Err(ActionError::App(format!(
            "{done}; refused by {} (send them REPLICAOF {host} {port} by hand)",
            failed.join("; ")
        )))
    }

    /// Refuses when Sentinel's connections show on the master: Sentinel
    /// would undo a promotion it did not make. A master that does not
    /// let the console look is not refused for that.
    async fn no_sentinel_on(&self, master: RedisTarget, address: &str) -> Result<(), ActionError> {
        let mut list = redis::cmd("CLIENT");
        list.arg("LIST");
        let Ok(value) = self.query(master, &list).await else {
            return Ok(());
        };
        let text = crate::sources::redis::value::text(&value).unwrap_or_default();
        if sentinel_clients(&text) > 0 {
            return Err(ActionError::App(format!(
                "Sentinel watches {address} (its connections show in CLIENT LIST): REPLICAOF \
                 would fight it; nothing was changed (watch it with --sentinel to switch \
                 over through Sentinel)"
            )));
        }
        Ok(())
    }
}

/// Connections Sentinel opened (it names them `sentinel-<id>-cmd` and
/// `sentinel-<id>-pubsub`), in a `CLIENT LIST` reply.
fn sentinel_clients(client_list: &str) -> usize {
    client_list
        .lines()
        .filter(|l| l.split(' ').any(|f| f.starts_with("name=sentinel-")))
        .count()
}

/// Reads at most [`REPLY_LIMIT`] of the body, as one escaped line of at
/// most [`SHOWN_CHARS`].
async fn read_reply(mut response: reqwest::Response) -> Result<String, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| reqwest_error(&e))? {
        let room = REPLY_LIMIT.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    Ok(shown(&body))
}

/// A reply as one line, bounded and escaped.
pub fn shown(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(SHOWN_CHARS)
        .collect();
    escape(&line).into_owned()
}

/// What went wrong with a request, with its deepest cause.
fn reqwest_error(error: &reqwest::Error) -> String {
    let what = if error.is_connect() {
        "cannot connect"
    } else if error.is_timeout() {
        "no answer in time"
    } else {
        "request failed"
    };
    let mut cause = std::error::Error::source(error);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(last) => format!("{what}: {}", escape(&last)),
        None => what.to_string(),
    }
}

impl ActionPlatform for AppBackend {
    fn perform<'a>(&'a self, action: &'a Action) -> BoxFuture<'a, Result<String, ActionError>> {
        self.run(action).boxed()
    }

    fn prepare_fault<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<PreparedFault, ActionError>> {
        let error = ActionError::Internal(format!("{} injects no fault", action.name()));
        async move { Err(error) }.boxed()
    }

    fn undo<'a>(&'a self, undo: &'a Undo) -> BoxFuture<'a, Result<String, ActionError>> {
        let error = ActionError::Internal(format!("no application undoes {}", undo.summary()));
        async move { Err(error) }.boxed()
    }
}

#[cfg(test)]
#[path = "backend_tests.rs"]
mod tests;
