//! The probe flags (`--probe KIND=URL`, its TLS files and credentials) and
//! the probe sources they and the config file's rules start.

use std::path::PathBuf;
use std::sync::Arc;

use super::{AccessFiles, ProbeSpec, RuleProbe};
use crate::config::Config;
use crate::sources::SourceSpec;
use crate::sources::redis::trust::{AllowList, Net};

/// The probe flags.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ProbeArgs {
    /// An application's own view of its members and leader, from one
    /// member or several (comma separated; repeatable):
    /// etcd=http://10.0.0.5:2379, zookeeper=HOST:2181, orchestrator=URL,
    /// consul=URL, dgraph=URL (zero's HTTP), allegrograph=URL (an MMR
    /// instance, repository myrepl), dynomite=HOST:22222 (stats port),
    /// postgres=postgres://USER@HOST1:5432,HOST2:5432/DB, or a kind defined
    /// under `probes:` in the config file.
    #[arg(long = "probe", value_name = "KIND=URL", global = true)]
    pub probe: Vec<String>,
    /// CA certificate (PEM) https:// probe URLs must be signed by.
    #[arg(long = "probe-ca", value_name = "FILE", global = true)]
    pub probe_ca: Option<PathBuf>,
    /// Client certificate (PEM) presented to probed members that ask for one.
    #[arg(
        long = "probe-cert",
        value_name = "FILE",
        global = true,
        requires = "probe_key"
    )]
    pub probe_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long = "probe-key",
        value_name = "FILE",
        global = true,
        requires = "probe_cert"
    )]
    pub probe_key: Option<PathBuf>,
    /// User for probed members that need one (etcd auth, orchestrator basic
    /// auth, PostgreSQL when the URL names none: `postgres` by default).
    #[arg(long = "probe-user", value_name = "USER", global = true)]
    pub probe_user: Option<String>,
    /// The probe password's file (first line); else $PROBE_PASSWORD; for
    /// PostgreSQL else the matching line of $PGPASSFILE or ~/.pgpass.
    #[arg(long = "probe-password-file", value_name = "FILE", global = true)]
    pub probe_password_file: Option<PathBuf>,
}

/// The environment variable the probe password may come from.
pub const PASSWORD_ENV: &str = "PROBE_PASSWORD";

impl ProbeArgs {
    /// One source per `--probe` and one per config rule with a `probe:`.
    /// Credentials go to the hosts named in `--probe` URLs and `nets`.
    pub fn plan(&self, config: &Config, nets: &[Net]) -> Result<Vec<(String, SourceSpec)>, String> {
        let catalog = config.probe_catalog()?;
        let files = AccessFiles {
            ca: self.probe_ca.clone(),
            cert: self.probe_cert.clone(),
            key: self.probe_key.clone(),
            user: self.probe_user.clone(),
            password_file: self.probe_password_file.clone(),
            password_env: Some(PASSWORD_ENV.into()),
        };
        // Parsed once without access to learn the hosts, then with it.
        let mut hosts = Vec::new();
        for flag in &self.probe {
            let spec = ProbeSpec::parse(flag, &catalog, Arc::default())?;
            hosts.extend(spec.seed_hosts());
        }
        let access = Arc::new(files.load(AllowList::new(hosts, nets.to_vec()))?);
        let mut out = Vec::new();
        for flag in &self.probe {
            let spec = ProbeSpec::parse(flag, &catalog, Arc::clone(&access))?;
            out.push((spec.label(), SourceSpec::Probe(spec)));
        }
        for rule in &config.clusters {
            if let Some(probe) = &rule.probe {
                let spec = rule_probe(&rule.name, probe, &catalog, nets)?;
                out.push((spec.label(), SourceSpec::Probe(spec)));
            }
        }
        Ok(out)
    }

    pub fn names_any(&self) -> bool {
        !self.probe.is_empty()
    }
}

/// A config rule's probe: its members are asked wherever the platform
/// puts them, so credentials go to the allowed networks only.
fn rule_probe(
    rule: &str,
    probe: &RuleProbe,
    catalog: &super::Catalog,
    nets: &[Net],
) -> Result<ProbeSpec, String> {
    let def = catalog.get(&probe.kind)?;
    let postgres = def.def.transport == super::definition::Transport::Postgres;
    let default = if postgres { "postgres" } else { "http" };
    let scheme = probe.scheme.clone().unwrap_or_else(|| default.into());
    let known: &[&str] = if postgres {
        &["postgres"]
    } else {
        &["http", "https"]
    };
    if !known.contains(&scheme.as_str()) {
        return Err(format!(
            "cluster `{rule}`: probe scheme `{scheme}` is not {}",
            known.join(" or ")
        ));
    }
    let access = probe
        .access
        .load(AllowList::new(Vec::new(), nets.to_vec()))
        .map_err(|e| format!("cluster `{rule}`: probe: {e}"))?;
    Ok(ProbeSpec {
        port: probe.port.unwrap_or(def.def.default_port),
        def,
        scheme,
        seeds: None,
        rule: Some(rule.to_string()),
        access: Arc::new(access),
        postgres: super::postgres::Target::default(),
    })
}
