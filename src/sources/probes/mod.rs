//! Application probes: the application's own word on who leads, who
//! follows, the term and how far behind each member is, for systems the
//! orchestrator only half understands (etcd, ZooKeeper, orchestrator,
//! Consul, Dgraph, PostgreSQL, and any HTTP API a definition describes).
//!
//! - [`definition`]: a probe kind as data (requests and jq expressions),
//!   the built-in ones from `assets/probes/`;
//! - [`fetch`], [`fourletter`] and [`postgres`]: asking one member, bounded
//!   ([`pgpass`]: libpq's password file);
//! - [`said`]: what one member said, read by the definition;
//! - [`assemble`]: the cluster out of what its members said (pure);
//! - [`poller`]: the [`crate::sources::poll::Poll`] that ties them.
//!
//! A probe starts from `--probe KIND=URL` (one member or several, comma
//! separated; the rest are found from them) or from a config rule's `probe:` (every member Docker or
//! Kubernetes finds for that rule is asked at its IP).

pub mod access;
pub mod args;
pub mod assemble;
pub mod definition;
pub mod fetch;
pub mod fourletter;
pub mod jq;
pub mod pgpass;
pub mod poller;
pub mod postgres;
pub mod said;
#[cfg(test)]
mod tests_patroni;
#[cfg(test)]
mod tests_postgres;
#[cfg(test)]
mod tests_zookeeper;

use std::sync::Arc;

use serde::Deserialize;

use crate::escape::escape;
pub use access::{Access, AccessFiles};
pub use definition::{Catalog, Compiled, Definition};

/// The most members one probe keeps (peers listed, targets asked): a
/// hostile member list cannot grow the console without bound.
pub const MAX_MEMBERS: usize = 512;

/// The members a `--probe` URL starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeds {
    /// `host:port`, the first one naming the cluster.
    pub endpoints: Vec<String>,
}

/// One probe to run.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    pub def: Arc<Compiled>,
    /// `http`, `https`, or `postgres`.
    pub scheme: String,
    /// From a `--probe` URL; None for a rule's probe, which asks the
    /// members platforms found.
    pub seeds: Option<Seeds>,
    /// For a rule's probe: the rule (cluster name) whose members it asks,
    /// and the port it asks them on.
    pub rule: Option<String>,
    pub port: u16,
    pub access: Arc<Access>,
    /// PostgreSQL's user, database and TLS, from the URL.
    pub postgres: postgres::Target,
}

/// One member named in a `--probe` URL.
struct Seed {
    scheme: String,
    endpoint: String,
    postgres: postgres::Target,
}

impl ProbeSpec {
    /// `KIND=URL` as given to `--probe`: `etcd=http://127.0.0.1:2379`,
    /// `zookeeper=127.0.0.1:2181`, several members of one cluster with
    /// commas: `postgres=postgres://monitor@10.0.0.1,10.0.0.2:5433/app`.
    /// A URL never carries a password.
    pub fn parse(flag: &str, catalog: &Catalog, access: Arc<Access>) -> Result<ProbeSpec, String> {
        let (kind, url) = flag.split_once('=').ok_or_else(|| {
            format!("--probe {flag}: expected KIND=URL, e.g. etcd=http://127.0.0.1:2379")
        })?;
        // Not the URL: whatever it holds stays out of messages.
        let bad = |e: String| format!("--probe {kind}=...: {e}");
        let def = catalog.get(kind.trim()).map_err(bad)?;
        let mut endpoints = Vec::new();
        let mut first = None;
        for one in split_seeds(url.trim()).map_err(bad)? {
            let seed = seed(&one, &def.def).map_err(bad)?;
            if !endpoints.contains(&seed.endpoint) {
                endpoints.push(seed.endpoint.clone());
            }
            first.get_or_insert(seed);
        }
        let first = first.ok_or_else(|| bad("no member named".into()))?;
        if endpoints.len() > MAX_MEMBERS {
            return Err(bad(format!("more than {MAX_MEMBERS} members named")));
        }
        Ok(ProbeSpec {
            port: def.def.default_port,
            def,
            scheme: first.scheme,
            seeds: Some(Seeds { endpoints }),
            rule: None,
            access,
            postgres: first.postgres,
        })
    }

    /// What the header and errors call it: `etcd http://127.0.0.1:2379`,
    /// `postgres postgres://127.0.0.1:5432,127.0.0.1:5433`.
    pub fn label(&self) -> String {
        match &self.seeds {
            Some(seeds) => {
                let mut shown = seeds.endpoints[..seeds.endpoints.len().min(3)].join(",");
                if seeds.endpoints.len() > 3 {
                    shown.push_str(&format!(" (+{} more)", seeds.endpoints.len() - 3));
                }
                format!("{} {}://{shown}", self.def.def.kind, self.scheme)
            }
            None => format!(
                "{} on members of {} (port {})",
                self.def.def.kind,
                self.rule.as_deref().unwrap_or("every cluster"),
                self.port
            ),
        }
    }

    /// The hosts the operator named, to whom credentials may go.
    pub fn seed_hosts(&self) -> Vec<String> {
        let Some(seeds) = &self.seeds else {
            return Vec::new();
        };
        seeds
            .endpoints
            .iter()
            .map(|e| {
                e.rsplit_once(':')
                    .map_or(e.as_str(), |(h, _)| h)
                    .to_string()
            })
            .collect()
    }
}

/// One URL per member of `a://user@h1:1,h2:2/db?x`: each host with the
/// scheme, user, path and query they share.
fn split_seeds(url: &str) -> Result<Vec<String>, String> {
    let (prefix, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (user, hosts) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    hosts
        .split(',')
        .map(|host| {
            let host = host.trim();
            if host.is_empty() {
                return Err("an empty member in the list (two commas, or one at an end)".into());
            }
            Ok(format!("{prefix}{user}{host}{tail}"))
        })
        .collect()
}

/// One member's URL; a bare `host[:port]` is HTTP, or PostgreSQL for a
/// kind asked over PostgreSQL's protocol.
fn seed(url: &str, def: &Definition) -> Result<Seed, String> {
    let postgres = def.transport == definition::Transport::Postgres;
    let with_scheme = match (url.contains("://"), postgres) {
        (true, _) => url.to_string(),
        (false, true) => format!("postgres://{url}"),
        (false, false) => format!("http://{url}"),
    };
    let parsed = url::Url::parse(&with_scheme).map_err(|e| format!("bad URL: {e}"))?;
    if !parsed.password().unwrap_or("").is_empty() {
        return Err(
            "a password in the URL would show in the process list; use --probe-password-file or $PROBE_PASSWORD"
                .into(),
        );
    }
    let scheme = match (postgres, parsed.scheme()) {
        (false, s @ ("http" | "https")) => s.to_string(),
        (false, "tcp") => "http".to_string(),
        (false, other) => return Err(format!("scheme `{other}` is not http, https or tcp")),
        (true, "postgres" | "postgresql") => "postgres".to_string(),
        (true, other) => return Err(format!("scheme `{other}` is not postgres or postgresql")),
    };
    let host = parsed.host_str().ok_or("no host in the URL")?;
    let port = parsed.port().unwrap_or(def.default_port);
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Ok(Seed {
        scheme,
        endpoint: format!("{host}:{port}"),
        postgres: if postgres {
            postgres_target(&parsed)?
        } else {
            postgres::Target::default()
        },
    })
}

/// The user, database and `sslmode` of a `postgres://` URL.
fn postgres_target(url: &url::Url) -> Result<postgres::Target, String> {
    let decode = |text: &str| -> Result<Option<String>, String> {
        let text = percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map_err(|_| "the URL's user or database is not UTF-8".to_string())?;
        Ok((!text.is_empty()).then(|| text.into_owned()))
    };
    let mut tls = false;
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("sslmode", "disable") => tls = false,
            ("sslmode", "verify-full") => tls = true,
            ("sslmode", other) => {
                return Err(format!(
                    "sslmode `{}` is not supported: verify-full (TLS, the server's certificate checked against --probe-ca) or disable (the default)",
                    escape(other)
                ));
            }
            (other, _) => {
                return Err(format!(
                    "URL parameter `{}` is not understood (only sslmode is)",
                    escape(other)
                ));
            }
        }
    }
    Ok(postgres::Target {
        user: decode(url.username())?,
        database: decode(url.path().trim_start_matches('/'))?,
        tls,
    })
}

/// A config rule's `probe:`: ask every member of the rule with this kind.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleProbe {
    pub kind: String,
    /// The port asked (the kind's default when omitted).
    #[serde(default)]
    pub port: Option<u16>,
    /// `http` (default) or `https`; `postgres` (the default) for a kind
    /// asked over PostgreSQL's protocol.
    #[serde(default)]
    pub scheme: Option<String>,
    #[serde(default, flatten)]
    pub access: AccessFiles,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(flag: &str) -> Result<ProbeSpec, String> {
        ProbeSpec::parse(flag, &Catalog::new(&[]).unwrap(), Arc::default())
    }

    #[test]
    fn a_flag_names_a_kind_and_one_member() {
        let spec = parse("etcd=https://127.0.0.1:23790").unwrap();
        assert_eq!(spec.scheme, "https");
        assert_eq!(spec.seeds.unwrap().endpoints, ["127.0.0.1:23790"]);
        let spec = parse("zookeeper=127.0.0.1").unwrap();
        assert_eq!(
            spec.seeds.unwrap().endpoints,
            ["127.0.0.1:2181"],
            "the kind's port"
        );
    }

    #[test]
    fn bad_flags_say_what_is_wrong() {
        assert!(parse("etcd").unwrap_err().contains("KIND=URL"));
        assert!(
            parse("mongo=http://x:1")
                .unwrap_err()
                .contains("unknown probe kind `mongo`")
        );
        let error = parse("etcd=http://root:secret@127.0.0.1:2379").unwrap_err();
        assert!(
            error.contains("--probe-password-file") && !error.contains("secret"),
            "{error}"
        );
        assert!(
            parse("etcd=ftp://h:1")
                .unwrap_err()
                .contains("scheme `ftp`")
        );
    }

    #[test]
    fn several_members_of_any_kind_are_named_with_commas() {
        let spec = parse("etcd=https://10.0.0.1:2379,10.0.0.2,[::1]:2380").unwrap();
        assert_eq!(spec.scheme, "https");
        assert_eq!(
            spec.seeds.as_ref().unwrap().endpoints,
            ["10.0.0.1:2379", "10.0.0.2:2379", "[::1]:2380"]
        );
        assert_eq!(spec.seed_hosts(), ["10.0.0.1", "10.0.0.2", "[::1]"]);
        let spec = parse("zookeeper=a:2181, b:2182 ,a:2181").unwrap();
        assert_eq!(
            spec.seeds.as_ref().unwrap().endpoints,
            ["a:2181", "b:2182"],
            "trimmed, each once"
        );
        assert_eq!(spec.label(), "zookeeper http://a:2181,b:2182");
        let error = parse("etcd=http://a:1,,b:2").unwrap_err();
        assert!(error.contains("empty member"), "{error}");
        let error = parse("etcd=http://a:1,").unwrap_err();
        assert!(error.contains("empty member"), "{error}");
        let error = parse("etcd=http://u:secret@a:1,b:2").unwrap_err();
        assert!(
            !error.contains("secret") && error.contains("password"),
            "{error}"
        );
    }

    #[test]
    fn a_postgres_url_carries_user_database_and_sslmode_but_no_password() {
        let spec = parse("postgres=postgres://monitor@127.0.0.1:5433,127.0.0.1/app").unwrap();
        assert_eq!(spec.scheme, "postgres");
        assert_eq!(
            spec.seeds.as_ref().unwrap().endpoints,
            ["127.0.0.1:5433", "127.0.0.1:5432"]
        );
        assert_eq!(spec.postgres.user.as_deref(), Some("monitor"));
        assert_eq!(spec.postgres.database.as_deref(), Some("app"));
        assert!(!spec.postgres.tls);
        assert_eq!(
            spec.label(),
            "postgres postgres://127.0.0.1:5433,127.0.0.1:5432"
        );
        let bare = parse("postgres=db1,db2:6432").unwrap();
        assert_eq!(bare.seeds.unwrap().endpoints, ["db1:5432", "db2:6432"]);
        assert_eq!(bare.postgres, postgres::Target::default());
        let tls = parse("postgres=postgresql://h1,h2/d%20b?sslmode=verify-full").unwrap();
        assert!(tls.postgres.tls);
        assert_eq!(tls.postgres.database.as_deref(), Some("d b"));
        let error = parse("postgres=postgres://u:pw-Secret@h1,h2").unwrap_err();
        assert!(
            error.contains("--probe-password-file") && !error.contains("pw-Secret"),
            "{error}"
        );
        let error = parse("postgres=postgres://h?sslmode=require").unwrap_err();
        assert!(
            error.contains("sslmode `require` is not supported"),
            "{error}"
        );
        let error = parse("postgres=postgres://h?password=x").unwrap_err();
        assert!(error.contains("`password` is not understood"), "{error}");
        let error = parse("postgres=http://h:5432").unwrap_err();
        assert!(error.contains("not postgres or postgresql"), "{error}");
        let error = parse("etcd=postgres://h:2379").unwrap_err();
        assert!(error.contains("scheme `postgres`"), "{error}");
    }
}
