//! What the operator trusts a Redis source with: where credentials may be
//! sent (the named hosts and the networks allowed with `--allow-net`), and
//! how TLS is verified (a CA file, a client certificate, or, loudly, not at
//! all). Every [`super::RedisTarget`] carries one, and the targets made for
//! discovered instances share it, so an instance that announces an address
//! outside the allowed set is never sent `AUTH`: it is not probed at all.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::target::{PasswordFiles, Passwords, RedisTarget, TargetError};

/// The longest certificate or key file read.
const PEM_LIMIT: u64 = 1 << 20;

/// Where credentials may go and how TLS is checked, shared by every target
/// of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// `None`: no restriction (targets built in code, not from the operator).
    allowed: Option<AllowList>,
    pub tls: TlsFiles,
}

/// PEM bytes read once, at start.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: Option<Vec<u8>>,
    pub client: Option<(Vec<u8>, Vec<u8>)>,
    /// `--tls-insecure`: no verification of the server's certificate.
    pub insecure: bool,
}

impl std::fmt::Debug for TlsFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsFiles")
            .field("ca", &self.ca.is_some())
            .field("client", &self.client.is_some())
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// Hosts named on the command line and allowed networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    hosts: Vec<String>,
    nets: Vec<Net>,
}

/// An address block, `10.0.0.0/8` or `fd00::/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    base: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parses `ADDR/PREFIX` or a single address.
    pub fn parse(text: &str) -> Result<Net, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let base: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{text:?} is not an address or network (e.g. 10.0.0.0/8)"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: prefix must be 0 to {max}"))?,
        };
        Ok(Net { base, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u32) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((base, width), (ip, ip_width)) = (bits(self.base), bits(ip));
        if width != ip_width {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        shift >= width || (base >> shift) == (ip >> shift)
    }
}

impl AllowList {
    pub fn new(hosts: Vec<String>, nets: Vec<Net>) -> AllowList {
        let hosts = hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect();
        AllowList { hosts, nets }
    }

    /// The host (of a normalised `host:port`) is named or in an allowed
    /// network. A name a cluster announces is matched as a name, never
    /// looked up: its DNS answer could point anywhere.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
            return true;
        }
        host.parse::<IpAddr>()
            .is_ok_and(|ip| self.nets.iter().any(|n| n.contains(ip)))
    }
}

impl Trust {
    pub fn new(allowed: AllowList, tls: TlsFiles) -> Arc<Trust> {
        Arc::new(Trust {
            allowed: Some(allowed),
            tls,
        })
    }

    /// Credentials may be sent to `host`.
    pub fn allows(&self, host: &str) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.allows(host))
    }
}

impl TlsFiles {
    /// Reads the CA and the client certificate and key named on the command line.
    pub fn load(
        ca: Option<&Path>,
        cert: Option<&Path>,
        key: Option<&Path>,
        insecure: bool,
    ) -> Result<TlsFiles, TargetError> {
        let client = match (cert, key) {
            (Some(cert), Some(key)) => Some((read_pem(cert)?, read_pem(key)?)),
            (None, None) => None,
            _ => {
                return Err(TargetError::Tls(
                    "--tls-cert and --tls-key go together".into(),
                ));
            }
        };
        Ok(TlsFiles {
            ca: ca.map(read_pem).transpose()?,
            client,
            insecure,
        })
    }

    /// Something beyond the system's defaults is set.
    pub fn is_custom(&self) -> bool {
        self.ca.is_some() || self.client.is_some()
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>, TargetError> {
    let text = crate::bounded::read_text(path, PEM_LIMIT)
        .map_err(|e| TargetError::Tls(format!("{}: {e}", path.display())))?;
    if !text.contains("-----BEGIN") {
        return Err(TargetError::Tls(format!(
            "{}: not a PEM file (no -----BEGIN line)",
            path.display()
        )));
    }
    Ok(text.into_bytes())
}

/// The trust flags, shared by `--redis`, `--sentinel` and `--registry`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TrustArgs {
    /// Password for every Redis URL that has none, read from the first line
    /// of FILE (else $REDIS_PASSWORD). Keeps it out of the process list.
    #[arg(long = "password-file", value_name = "FILE", global = true)]
    pub password_file: Option<PathBuf>,
    /// Password for --sentinel URLs (else $SENTINEL_PASSWORD).
    #[arg(long = "sentinel-password-file", value_name = "FILE", global = true)]
    pub sentinel_password_file: Option<PathBuf>,
    /// Password for the --registry URL (else $REGISTRY_PASSWORD, else the above).
    #[arg(long = "registry-password-file", value_name = "FILE", global = true)]
    pub registry_password_file: Option<PathBuf>,
    /// Also send credentials to discovered instances in this network
    /// (repeatable, e.g. 10.0.0.0/8); by default only to the named hosts.
    #[arg(long = "allow-net", value_name = "CIDR", global = true, value_parser = Net::parse)]
    pub allow_net: Vec<Net>,
    /// CA certificate (PEM) that rediss:// servers must be signed by,
    /// instead of the system's roots.
    #[arg(long = "tls-ca", value_name = "FILE", global = true)]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for rediss:// servers that ask for one.
    #[arg(
        long = "tls-cert",
        value_name = "FILE",
        global = true,
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long = "tls-key",
        value_name = "FILE",
        global = true,
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Do not verify rediss:// servers' certificates (shown in the header).
    #[arg(long = "tls-insecure", global = true)]
    pub tls_insecure: bool,
    /// The addresses the named host names resolve to, looked up once at
    /// start ([`TrustArgs::resolve_named`]): a named host's own addresses
    /// are allowed too.
    #[arg(skip)]
    pub resolved: Vec<Net>,
}

/// Which kind of source a URL is for: each may have its own password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlKind {
    Redis,
    Sentinel,
    Registry,
}

/// The run's trust and passwords, applied to every URL the operator names.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    trust: Arc<Trust>,
    passwords: Passwords,
}

impl Credentials {
    /// The data nodes' password (`--password-file` or `REDIS_PASSWORD`).
    pub fn redis_password(&self) -> Option<&str> {
        self.passwords.redis.as_deref()
    }

    /// `target` with its kind's password (if its URL has none) and the
    /// run's trust.
    pub fn apply(&self, target: RedisTarget, kind: UrlKind) -> RedisTarget {
        let password = match kind {
            UrlKind::Redis => &self.passwords.redis,
            UrlKind::Sentinel => &self.passwords.sentinel,
            UrlKind::Registry => &self.passwords.registry,
        };
        target
            .with_default_password(password.as_deref())
            .with_trust(Arc::clone(&self.trust))
    }
}

impl TrustArgs {
    /// Reads the password and TLS files, and allows the hosts of `urls`
    /// (those that parse; the others fail later, naming their flag) and
    /// the `--allow-net` networks.
    pub fn credentials(&self, urls: &[&str]) -> Result<Credentials, TargetError> {
        let hosts = urls
            .iter()
            .filter_map(|u| RedisTarget::parse(u).ok())
            .map(|t| t.host().to_string())
            .collect();
        let tls = TlsFiles::load(
            self.tls_ca.as_deref(),
            self.tls_cert.as_deref(),
            self.tls_key.as_deref(),
            self.tls_insecure,
        )?;
        let passwords = Passwords::load(PasswordFiles {
            redis: self.password_file.as_deref(),
            sentinel: self.sentinel_password_file.as_deref(),
            registry: self.registry_password_file.as_deref(),
        })?;
        let nets = self
            .allow_net
            .iter()
            .chain(&self.resolved)
            .copied()
            .collect();
        Ok(Credentials {
            trust: Trust::new(AllowList::new(hosts, nets), tls),
            passwords,
        })
    }

    /// Looks up the named hosts that are names (not addresses), each
    /// within `timeout`, and keeps their addresses in
    /// [`TrustArgs::resolved`]. A name that does not resolve adds nothing:
    /// its source reports the failure itself.
    pub async fn resolve_named(&mut self, urls: &[&str], timeout: std::time::Duration) {
        for url in urls {
            let Ok(target) = RedisTarget::parse(url) else {
                continue;
            };
            if target.host().parse::<IpAddr>().is_ok() {
                continue;
            }
            let lookup = tokio::net::lookup_host(target.address().to_string());
            if let Ok(Ok(addresses)) = tokio::time::timeout(timeout, lookup).await {
                for address in addresses {
                    let ip = address.ip();
                    let prefix = if ip.is_ipv4() { 32 } else { 128 };
                    self.resolved.push(Net { base: ip, prefix });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_contain_their_addresses_only() {
        let net = Net::parse("10.1.0.0/16").unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!(
            Net::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("example.com").is_err());
    }

    #[test]
    fn allowed_are_the_named_hosts_and_networks() {
        let list = AllowList::new(
            vec!["127.0.0.1".into(), "Redis.local".into()],
            vec![Net::parse("fd00::/8").unwrap()],
        );
        assert!(list.allows("127.0.0.1") && list.allows("redis.LOCAL"));
        assert!(list.allows("[fd00::5]"));
        assert!(!list.allows("127.0.0.2") && !list.allows("evil.example"));
        assert!(Trust::default().allows("anything"));
    }

    #[tokio::test]
    async fn a_named_host_names_addresses_are_allowed() {
        let mut args = TrustArgs::default();
        // Addresses and bad URLs are not looked up.
        let named = ["redis://:pw@10.0.0.1:1", "::bad::"];
        args.resolve_named(&named, std::time::Duration::from_secs(1))
            .await;
        assert!(args.resolved.is_empty());
        // What a name resolved to is allowed, as the name itself is.
        args.resolved.push(Net::parse("10.0.0.7").unwrap());
        let url = "redis://:pw@cache.internal:7000";
        let creds = args.credentials(&[url]).unwrap();
        let seed = creds.apply(RedisTarget::parse(url).unwrap(), UrlKind::Redis);
        assert!(seed.is_allowed());
        assert!(seed.with_address("10.0.0.7", 7001).is_allowed());
        assert!(!seed.with_address("10.0.0.8", 7001).is_allowed());
    }
}
