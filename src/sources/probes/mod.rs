//! Application probes: the application's own word on who leads, who
//! follows, the term and how far behind each member is, for systems the
//! orchestrator only half understands (etcd, ZooKeeper, orchestrator,
//! Consul, Dgraph, and any HTTP API a definition describes).
//!
//! - [`definition`]: a probe kind as data (requests and jq expressions),
//!   the built-in ones from `assets/probes/`;
//! - [`fetch`] and [`fourletter`]: asking one member, bounded;
//! - [`said`]: what one member said, read by the definition;
//! - [`assemble`]: the cluster out of what its members said (pure);
//! - [`poller`]: the [`crate::sources::poll::Poll`] that ties them.
//!
//! A probe starts from `--probe KIND=URL` (one member; the rest are found
//! from it) or from a config rule's `probe:` (every member Docker or
//! Kubernetes finds for that rule is asked at its IP).

pub mod access;
pub mod args;
pub mod assemble;
pub mod definition;
pub mod fetch;
pub mod fourletter;
pub mod jq;
pub mod poller;
pub mod said;
#[cfg(test)]
mod tests_patroni;
#[cfg(test)]
mod tests_zookeeper;

use std::sync::Arc;

use serde::Deserialize;

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
    /// `http` or `https`.
    pub scheme: String,
    /// From a `--probe` URL; None for a rule's probe, which asks the
    /// members platforms found.
    pub seeds: Option<Seeds>,
    /// For a rule's probe: the rule (cluster name) whose members it asks,
    /// and the port it asks them on.
    pub rule: Option<String>,
    pub port: u16,
    pub access: Arc<Access>,
}

impl ProbeSpec {
    /// `KIND=URL` as given to `--probe`: `etcd=http://127.0.0.1:2379`,
    /// `zookeeper=127.0.0.1:2181`. A URL never carries a password.
    pub fn parse(flag: &str, catalog: &Catalog, access: Arc<Access>) -> Result<ProbeSpec, String> {
        let (kind, url) = flag.split_once('=').ok_or_else(|| {
            format!("--probe {flag}: expected KIND=URL, e.g. etcd=http://127.0.0.1:2379")
        })?;
        // Not the URL: whatever it holds stays out of messages.
        let def = catalog
            .get(kind.trim())
            .map_err(|e| format!("--probe {kind}=...: {e}"))?;
        let (scheme, endpoint) = endpoint(url.trim(), def.def.default_port)
            .map_err(|e| format!("--probe {kind}=...: {e}"))?;
        Ok(ProbeSpec {
            port: def.def.default_port,
            def,
            scheme,
            seeds: Some(Seeds {
                endpoints: vec![endpoint],
            }),
            rule: None,
            access,
        })
    }

    /// What the header and errors call it: `etcd http://127.0.0.1:2379`.
    pub fn label(&self) -> String {
        match &self.seeds {
            Some(seeds) => format!(
                "{} {}://{}",
                self.def.def.kind, self.scheme, seeds.endpoints[0]
            ),
            None => format!(
                "{} on members of {} (port {})",
                self.def.def.kind,
                self.rule.as_deref().unwrap_or("every cluster"),
                self.port
            ),
        }
    }

    /// The host the operator named, to whom credentials may go.
    pub fn seed_host(&self) -> Option<String> {
        let endpoint = self.seeds.as_ref()?.endpoints.first()?;
        Some(
            endpoint
                .rsplit_once(':')
                .map_or(endpoint.as_str(), |(h, _)| h)
                .to_string(),
        )
    }
}

/// `(scheme, host:port)` of a probe URL; a bare `host[:port]` is HTTP.
fn endpoint(url: &str, default_port: u16) -> Result<(String, String), String> {
    let with_scheme = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let parsed = url::Url::parse(&with_scheme).map_err(|e| format!("bad URL: {e}"))?;
    if !parsed.password().unwrap_or("").is_empty() {
        return Err(
            "a password in the URL would show in the process list; use --probe-password-file or $PROBE_PASSWORD"
                .into(),
        );
    }
    let scheme = match parsed.scheme() {
        s @ ("http" | "https") => s.to_string(),
        "tcp" => "http".to_string(),
        other => return Err(format!("scheme `{other}` is not http, https or tcp")),
    };
    let host = parsed.host_str().ok_or("no host in the URL")?;
    let port = parsed.port().unwrap_or(default_port);
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Ok((scheme, format!("{host}:{port}")))
}

/// A config rule's `probe:`: ask every member of the rule with this kind.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleProbe {
    pub kind: String,
    /// The port asked (the kind's default when omitted).
    #[serde(default)]
    pub port: Option<u16>,
    /// `http` (default) or `https`.
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
}
