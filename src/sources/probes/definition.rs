//! What a probe asks a member and how it reads the answers, as data: the
//! requests to send, and jq expressions that pick role, leader, term, lag
//! and peers out of the replies. The built-in kinds are written this way in
//! `assets/probes/*.yaml` (copy one into the config file's `probes:` and
//! adapt it); ZooKeeper's four-letter words are turned into JSON first
//! ([`super::fourletter`]), and PostgreSQL's rows come as JSON arrays
//! ([`super::postgres`]), so the same expressions read them.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;

use super::jq::Expr;
use crate::model::Tier;

/// A definition as written in YAML.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    /// The name `--probe KIND=URL` and a config rule's `probe.kind` use.
    pub kind: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub transport: Transport,
    /// The port a member is probed on when a URL or rule gives none.
    pub default_port: u16,
    /// Who decides the leader.
    #[serde(default)]
    pub arbiter: ArbiterKind,
    /// The unit of `member.lag` and of differences of `member.position`
    /// (`entries`, `transactions`).
    #[serde(default)]
    pub lag_unit: Option<String>,
    /// `member.position` counts from zero again in every term (ZooKeeper's
    /// zxid counter restarts with each epoch): a member whose term is older
    /// than the leader's has none of the leader's term, so it is behind by
    /// all of the leader's position rather than by a difference of
    /// positions from two terms, which means nothing.
    #[serde(default)]
    pub position_per_term: bool,
    /// Named requests; each reply is put under its name in the document the
    /// expressions read (plus `endpoint`, the `host:port` asked).
    pub requests: BTreeMap<String, Request>,
    /// How to present credentials, when the operator gives some.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// The cluster's own name or id (jq), shown beside the seed.
    #[serde(default)]
    pub cluster: Option<String>,
    pub member: MemberExprs,
    /// The members this one knows (jq): an array of objects with `address`
    /// and optionally `id`, `name`, `role`, `tier`, `leader`, `voter`,
    /// `healthy`, `endpoint` (where it is polled, when not at its address),
    /// `lag`, `term` and `facts` (what this member knows of that one, shown
    /// when that one says nothing itself: Patroni's `/cluster` lags).
    #[serde(default)]
    pub peers: Option<String>,
    /// Whether the peers found are polled too (false when one member's reply
    /// already tells about every member, as Dgraph zero's `/state` does).
    #[serde(default = "yes")]
    pub poll_peers: bool,
    /// Where a peer is polled: at its `address`, or at its host with the
    /// seed's port (when the address is a raft address, not the API's).
    #[serde(default)]
    pub peers_at: PeersAt,
    /// The system's role words to tiers; a word not listed is `unknown`.
    #[serde(default)]
    pub tiers: BTreeMap<String, Tier>,
}

fn m_role_missing(def: &Definition) -> bool {
    def.member.role.is_none()
}

fn yes() -> bool {
    true
}

/// How a member is asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// HTTP or HTTPS, by the URL's scheme.
    #[default]
    Http,
    /// ZooKeeper's four-letter words over TCP; each request's `path` is the word.
    Fourletter,
    /// PostgreSQL's protocol; each request's `sql` is a query whose rows
    /// come as a JSON array of objects.
    Postgres,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArbiterKind {
    #[default]
    Raft,
    Lock,
    /// Nobody is elected: the members are equals (Dynomite) or the one that
    /// leads is designated by the operator (AllegroGraph's controlling
    /// instance). No consensus is shown, so no election is ever reported.
    None,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeersAt {
    #[default]
    Address,
    SeedPort,
}

/// One request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default = "get")]
    pub method: String,
    /// The HTTP path, or the four-letter word.
    #[serde(default)]
    pub path: String,
    /// The query, for `transport: postgres`.
    #[serde(default)]
    pub sql: Option<String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A failure of this request leaves `null` in the document instead of
    /// failing the member (a status only some versions serve).
    #[serde(default)]
    pub optional: bool,
}

fn get() -> String {
    "GET".into()
}

/// How credentials are presented.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "scheme", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// HTTP basic authentication with the user and password.
    Basic,
    /// The password as a token in this header (Consul's `X-Consul-Token`).
    Header { header: String },
    /// A login request whose reply holds a token for `header` (etcd's
    /// `/v3/auth/authenticate`); `body` is jq over `{user, password}`.
    Login {
        request: Request,
        body: String,
        token: String,
        header: String,
    },
}

/// What a member says about itself (each a jq expression).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberExprs {
    pub id: Option<String>,
    pub name: Option<String>,
    /// The `host:port` it is shown and joined under, when that is not the
    /// endpoint asked (Patroni's REST API is asked; its PostgreSQL address
    /// is what a pod or container running it is known by).
    pub address: Option<String>,
    /// The system's word for its role (`leader`, `follower`, `learner`);
    /// needed unless peers are not polled.
    pub role: Option<String>,
    /// True when it says it leads.
    pub leader: Option<String>,
    /// The id or address of the leader it follows.
    pub leader_id: Option<String>,
    pub term: Option<String>,
    /// How far behind it is, in `lag_unit`.
    pub lag: Option<String>,
    /// Its place in the log; lag is the leader's minus its own when `lag`
    /// is not given.
    pub position: Option<String>,
    /// Facts shown in the details pane: an object of names to values.
    pub facts: Option<String>,
    /// False when it answers but says it is not fit to serve (a ZooKeeper
    /// server without quorum): shown as degraded, not as down, since it is
    /// up and answering.
    pub healthy: Option<String>,
}

/// A definition with its expressions compiled.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub def: Definition,
    pub cluster: Option<Expr>,
    pub id: Option<Expr>,
    pub name: Option<Expr>,
    pub address: Option<Expr>,
    pub role: Option<Expr>,
    pub leader: Option<Expr>,
    pub leader_id: Option<Expr>,
    pub term: Option<Expr>,
    pub lag: Option<Expr>,
    pub position: Option<Expr>,
    pub facts: Option<Expr>,
    pub healthy: Option<Expr>,
    pub peers: Option<Expr>,
    pub login: Option<(Expr, Expr)>,
}

impl Definition {
    /// Compiles every expression; the error names the kind and the field.
    pub fn compile(self) -> Result<Compiled, String> {
        let kind = self.kind.clone();
        let one = |field: &str, code: &str| {
            Expr::compile(code).map_err(|e| format!("probe `{kind}`, {field}: {e}"))
        };
        let opt =
            |field: &str, code: &Option<String>| code.as_deref().map(|c| one(field, c)).transpose();
        if self.poll_peers && m_role_missing(&self) {
            return Err(format!(
                "probe `{kind}`: `member.role` is needed when peers are polled"
            ));
        }
        if self.requests.is_empty() {
            return Err(format!("probe `{kind}`: `requests` is empty"));
        }
        for (name, request) in &self.requests {
            check_request(&kind, self.transport, &format!("requests.{name}"), request)?;
        }
        let m = &self.member;
        let login = match &self.auth {
            Some(Auth::Login {
                body,
                token,
                request,
                ..
            }) => {
                check_request(&kind, Transport::Http, "auth.request", request)?;
                Some((one("auth.body", body)?, one("auth.token", token)?))
            }
            _ => None,
        };
        Ok(Compiled {
            cluster: opt("cluster", &self.cluster)?,
            id: opt("member.id", &m.id)?,
            name: opt("member.name", &m.name)?,
            address: opt("member.address", &m.address)?,
            role: opt("member.role", &m.role)?,
            leader: opt("member.leader", &m.leader)?,
            leader_id: opt("member.leader_id", &m.leader_id)?,
            term: opt("member.term", &m.term)?,
            lag: opt("member.lag", &m.lag)?,
            position: opt("member.position", &m.position)?,
            facts: opt("member.facts", &m.facts)?,
            healthy: opt("member.healthy", &m.healthy)?,
            peers: opt("peers", &self.peers)?,
            login,
            def: self,
        })
    }
}

/// A request has what its transport sends: a path, or a query.
fn check_request(
    kind: &str,
    transport: Transport,
    name: &str,
    request: &Request,
) -> Result<(), String> {
    let (needs, has, stray) = match transport {
        Transport::Postgres => ("sql", request.sql.is_some(), !request.path.is_empty()),
        Transport::Http | Transport::Fourletter => {
            ("path", !request.path.is_empty(), request.sql.is_some())
        }
    };
    if !has {
        return Err(format!("probe `{kind}`, {name}: `{needs}` is needed"));
    }
    if stray {
        let other = if needs == "sql" { "path" } else { "sql" };
        return Err(format!(
            "probe `{kind}`, {name}: `{other}` does not go with this transport (it needs `{needs}`)"
        ));
    }
    Ok(())
}

impl Compiled {
    /// The tier a role word means.
    pub fn tier(&self, role: &str) -> Tier {
        self.def.tiers.get(role).copied().unwrap_or(Tier::Unknown)
    }
}

/// The definitions shipped in `assets/probes/`.
const BUILT_IN: &[(&str, &str)] = &[
    ("etcd", include_str!("../../../assets/probes/etcd.yaml")),
    (
        "zookeeper",
        include_str!("../../../assets/probes/zookeeper.yaml"),
    ),
    (
        "orchestrator",
        include_str!("../../../assets/probes/orchestrator.yaml"),
    ),
    ("consul", include_str!("../../../assets/probes/consul.yaml")),
    ("dgraph", include_str!("../../../assets/probes/dgraph.yaml")),
    (
        "patroni",
        include_str!("../../../assets/probes/patroni.yaml"),
    ),
    (
        "allegrograph",
        include_str!("../../../assets/probes/allegrograph.yaml"),
    ),
    (
        "dynomite",
        include_str!("../../../assets/probes/dynomite.yaml"),
    ),
    (
        "postgres",
        include_str!("../../../assets/probes/postgres.yaml"),
    ),
];

/// Every kind a probe can be: the built-in ones and the config file's.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    kinds: BTreeMap<String, Arc<Compiled>>,
}

impl Catalog {
    /// The built-in kinds, then the config file's (which may replace one).
    pub fn new(extra: &[Definition]) -> Result<Catalog, String> {
        let mut kinds = BTreeMap::new();
        for (file, text) in BUILT_IN {
            let def: Definition = serde_yaml::from_str(text)
                .map_err(|e| format!("assets/probes/{file}.yaml: {e}"))?;
            let compiled = def.compile()?;
            kinds.insert(compiled.def.kind.clone(), Arc::new(compiled));
        }
        for def in extra {
            let compiled = def.clone().compile()?;
            kinds.insert(compiled.def.kind.clone(), Arc::new(compiled));
        }
        Ok(Catalog { kinds })
    }

    pub fn get(&self, kind: &str) -> Result<Arc<Compiled>, String> {
        self.kinds.get(kind).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.kinds.keys().map(String::as_str).collect();
            format!(
                "unknown probe kind `{kind}` (known: {}; define others under `probes:` in the config file)",
                known.join(", ")
            )
        })
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.kinds.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_definition_compiles() {
        let catalog = Catalog::new(&[]).unwrap();
        let kinds: Vec<&str> = catalog.kinds().collect();
        assert_eq!(
            kinds,
            [
                "allegrograph",
                "consul",
                "dgraph",
                "dynomite",
                "etcd",
                "orchestrator",
                "patroni",
                "postgres",
                "zookeeper"
            ]
        );
    }

    #[test]
    fn a_request_must_carry_what_its_transport_sends() {
        let def = |text: &str| -> Result<Compiled, String> {
            serde_yaml::from_str::<Definition>(text)
                .map_err(|e| e.to_string())?
                .compile()
        };
        let head = "kind: k\ndefault_port: 1\nmember: {role: .r}\n";
        let error = def(&format!(
            "{head}transport: postgres\nrequests: {{a: {{path: /}}}}\n"
        ))
        .unwrap_err();
        assert!(error.contains("requests.a: `sql` is needed"), "{error}");
        let error = def(&format!("{head}requests: {{a: {{sql: select 1}}}}\n")).unwrap_err();
        assert!(error.contains("requests.a: `path` is needed"), "{error}");
        let error = def(&format!(
            "{head}transport: postgres\nrequests: {{a: {{sql: select 1, path: /x}}}}\n"
        ))
        .unwrap_err();
        assert!(error.contains("`path` does not go"), "{error}");
        assert!(
            def(&format!(
                "{head}transport: postgres\nrequests: {{a: {{sql: select 1}}}}\n"
            ))
            .is_ok()
        );
    }

    #[test]
    fn a_bad_expression_names_the_kind_and_the_field() {
        let text =
            "kind: mine\ndefault_port: 80\nrequests: {s: {path: /}}\nmember: {role: '.s |'}\n";
        let def: Definition = serde_yaml::from_str(text).unwrap();
        let error = def.compile().unwrap_err();
        assert!(error.contains("probe `mine`, member.role"), "{error}");
        let error = Catalog::new(&[]).unwrap().get("nosuch").unwrap_err();
        assert!(
            error.contains("known: allegrograph, consul, dgraph, dynomite, etcd"),
            "{error}"
        );
    }
}
