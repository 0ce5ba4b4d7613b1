//! A Redis or Sentinel address from the command line: parsed once, checked,
//! and never shown with its password.

use std::fmt;

use std::sync::Arc;

use url::Url;

use super::trust::Trust;

use crate::model::normalize_address;

/// Why a Redis URL was refused. The message never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0:?} is not a URL: {1} (expected redis://[user:password@]host:port[/db])")]
    NotAUrl(String, String),
    #[error("{0}: scheme {1:?} is not supported (use redis:// or rediss://)")]
    Scheme(String, String),
    #[error("{0}: no host (expected redis://host:port)")]
    NoHost(String),
    #[error("{0}: database {1:?} is not a number")]
    Database(String, String),
    #[error("{0}: a #fragment is not supported (to skip TLS verification, use --tls-insecure)")]
    Fragment(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("password file {0}: {1}")]
    PasswordFile(String, String),
    #[error("password file {0} is empty")]
    EmptyPasswordFile(String),
}

/// The longest password file read: a password, not a document.
const PASSWORD_FILE_LIMIT: u64 = 4096;

/// Reads a password from a file: its first line, without the line ending.
pub fn read_password_file(path: &std::path::Path) -> Result<String, TargetError> {
    let shown = path.display().to_string();
    let text = crate::bounded::read_text(path, PASSWORD_FILE_LIMIT)
        .map_err(|e| TargetError::PasswordFile(shown.clone(), e.to_string()))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(TargetError::EmptyPasswordFile(shown));
    }
    Ok(line.to_string())
}

/// One Redis endpoint with its credentials. `Display` and `Debug` redact.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    url: Url,
    redacted: String,
    address: String,
    trust: Arc<Trust>,
}

impl RedisTarget {
    /// Parses `redis://` or `rediss://` URLs; a bare `host:port` means `redis://host:port`.
    pub fn parse(input: &str) -> Result<RedisTarget, TargetError> {
        let input = input.trim();
        let with_scheme = if input.contains("://") {
            input.to_string()
        } else {
            format!("redis://{input}")
        };
        let url = Url::parse(&with_scheme)
            .map_err(|e| TargetError::NotAUrl(redact_unparsed(input), e.to_string()))?;
        let redacted = redact_url(&url);
        if url.scheme() != "redis" && url.scheme() != "rediss" {
            return Err(TargetError::Scheme(redacted, url.scheme().to_string()));
        }
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| TargetError::NoHost(redacted.clone()))?
            .to_string();
        let db = url.path().trim_start_matches('/');
        if !db.is_empty() && db.parse::<u32>().is_err() {
            return Err(TargetError::Database(redacted, db.to_string()));
        }
        if url.fragment().is_some() {
            return Err(TargetError::Fragment(redacted));
        }
        let port = url.port().unwrap_or(6379);
        Ok(RedisTarget {
            address: normalize_address(&host, port),
            url,
            redacted,
            trust: Arc::default(),
        })
    }

    /// The same credentials and TLS setting, another host and port: for
    /// instances discovered from this one.
    pub fn with_address(&self, host: &str, port: u16) -> RedisTarget {
        let mut url = self.url.clone();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        // A host that the URL crate refuses would leave the old one in place, so
        // the address is set from what we were given either way.
        let _ = url.set_host(Some(host));
        let _ = url.set_port(Some(port));
        RedisTarget {
            redacted: redact_url(&url),
            address: normalize_address(host, port),
            url,
            trust: Arc::clone(&self.trust),
        }
    }

    /// This target under the run's trust settings (which targets made from
    /// it with [`RedisTarget::with_address`] share).
    pub fn with_trust(mut self, trust: Arc<Trust>) -> RedisTarget {
        self.trust = trust;
        self
    }

    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// The host of [`RedisTarget::address`], for the allow list.
    pub fn host(&self) -> &str {
        self.address
            .rsplit_once(':')
            .map_or(self.address.as_str(), |(h, _)| h)
    }

    /// This target may be probed: it carries no credentials, or it was
    /// named, or is in an allowed network.
    pub fn is_allowed(&self) -> bool {
        !self.has_credentials() || self.trust.allows(self.host())
    }

    /// Opening a connection would send a secret: a user or password (AUTH),
    /// or a client certificate.
    pub fn has_credentials(&self) -> bool {
        !self.url.username().is_empty()
            || self.url.password().is_some()
            || (self.is_tls() && self.trust.tls.client.is_some())
    }

    /// `host:port`, normalised: the join key for this instance.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The URL without its password, for screens and logs.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    pub fn is_tls(&self) -> bool {
        self.url.scheme() == "rediss"
    }

    pub fn password(&self) -> Option<&str> {
        self.url.password()
    }

    /// The user and password as typed, percent-decoded (for a program
    /// that takes them apart from a URL: `redis-cli`).
    pub fn login(&self) -> (Option<String>, Option<String>) {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = Some(self.url.username()).filter(|u| !u.is_empty());
        (user.map(decode), self.url.password().map(decode))
    }

    /// This target with `password` when its URL gives none (a password
    /// from a file or the environment; the URL's own wins).
    pub fn with_default_password(mut self, password: Option<&str>) -> RedisTarget {
        if let Some(password) = password.filter(|_| self.url.password().is_none()) {
            let _ = self.url.set_password(Some(password));
            self.redacted = redact_url(&self.url);
        }
        self
    }

    /// This target with `password` (and no user) in place of its own: the
    /// data nodes a Sentinel names, when they have a password of their own.
    pub fn with_password(mut self, password: &str) -> RedisTarget {
        let _ = self.url.set_username("");
        let _ = self.url.set_password(Some(password));
        self.redacted = redact_url(&self.url);
        self
    }

    /// The full URL, password included: only for opening a connection.
    /// With `--tls-insecure`, `#insecure` tells the client not to verify.
    pub fn connection_url(&self) -> String {
        if self.trust.tls.insecure && self.is_tls() {
            let mut url = self.url.clone();
            url.set_fragment(Some("insecure"));
            return url.into();
        }
        self.url.to_string()
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisTarget({})", self.redacted)
    }
}

/// A URL with its password replaced by `***`.
pub fn redact_url(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    url.to_string()
}

/// Passwords for URLs that carry none, from files or the environment, so
/// that no password needs to be on the command line (where every user of
/// the machine can read it in `/proc/PID/cmdline`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Passwords {
    /// `--password-file` or `REDIS_PASSWORD`: every Redis source.
    pub redis: Option<String>,
    /// `--sentinel-password-file` or `SENTINEL_PASSWORD`: Sentinels. Not the
    /// data nodes' one: a Sentinel without a password refuses any AUTH.
    pub sentinel: Option<String>,
    /// `--registry-password-file` or `REGISTRY_PASSWORD`: the registry, else `redis`.
    pub registry: Option<String>,
}

/// The password files the command line names, one per kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordFiles<'a> {
    pub redis: Option<&'a std::path::Path>,
    pub sentinel: Option<&'a std::path::Path>,
    pub registry: Option<&'a std::path::Path>,
}

impl Passwords {
    /// Each kind's file if named, else its environment variable (empty
    /// counts as unset).
    pub fn load(files: PasswordFiles<'_>) -> Result<Passwords, TargetError> {
        let one = |file: Option<&std::path::Path>, var: &str| match file {
            Some(path) => read_password_file(path).map(Some),
            None => Ok(std::env::var(var).ok().filter(|p| !p.is_empty())),
        };
        let redis = one(files.redis, "REDIS_PASSWORD")?;
        Ok(Passwords {
            sentinel: one(files.sentinel, "SENTINEL_PASSWORD")?,
            registry: one(files.registry, "REGISTRY_PASSWORD")?.or_else(|| redis.clone()),
            redis,
        })
    }
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passwords(***)")
    }
}

/// Input that did not parse as a URL, with everything before its last `@`
/// (after any scheme) replaced: where the password ends cannot be known,
/// so the whole user part goes.
pub fn redact_unparsed(input: &str) -> String {
    let Some(at) = input.rfind('@') else {
        return input.to_string();
    };
    let start = input.find("://").map_or(0, |i| i + 3).min(at);
    format!("{}***{}", &input[..start], &input[at..])
}

/// Redacts anything that looks like `user:password@` in free text (error
/// messages from libraries may echo a URL).
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_inclusive(char::is_whitespace) {
        match (word.find("://"), word.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let creds = &word[scheme_end + 3..at];
                match creds.find(':') {
                    Some(colon) => {
                        out.push_str(&word[..scheme_end + 3 + colon + 1]);
                        out.push_str("***");
                        out.push_str(&word[at..]);
                    }
                    None => out.push_str(word),
                }
            }
            _ => out.push_str(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_shows() {
        let t = RedisTarget::parse("redis://app:s3cret@Localhost:7000/2").unwrap();
        assert_eq!(t.address(), "127.0.0.1:7000");
        assert!(!t.to_string().contains("s3cret"));
        assert!(!format!("{t:?}").contains("s3cret"));
        assert!(t.redacted().contains("app:***@"));
        assert_eq!(t.password(), Some("s3cret"));
        let d = t.with_address("10.1.2.3", 6380);
        assert_eq!(d.address(), "10.1.2.3:6380");
        assert_eq!(d.password(), Some("s3cret"));
        assert!(!d.redacted().contains("s3cret"));
    }

    #[test]
    fn bare_host_port_and_tls() {
        let t = RedisTarget::parse("10.0.0.1:6380").unwrap();
        assert_eq!(t.address(), "10.0.0.1:6380");
        assert!(!t.is_tls());
        let t = RedisTarget::parse("rediss://:pw@cache.example").unwrap();
        assert!(t.is_tls());
        assert_eq!(t.address(), "cache.example:6379");
    }

    #[test]
    fn bad_urls_say_what_and_never_leak() {
        let e = RedisTarget::parse("http://u:hunter2@h:1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("http") && !e.contains("hunter2"), "{e}");
        let e = RedisTarget::parse("redis://u:hunter2@h:99999")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let e = RedisTarget::parse("redis://h:1/abc")
            .unwrap_err()
            .to_string();
        assert!(e.contains("abc"), "{e}");
    }

    #[test]
    fn unparseable_urls_never_show_their_password() {
        for input in [
            "u:hunter2@h:99999",
            "app:hun,ter2@[::1",
            "redis://u:p@ss:hunter2@h:1:2",
            ":hunter2@",
        ] {
            let e = RedisTarget::parse(input).unwrap_err().to_string();
            assert!(
                !e.contains("hunter2") && !e.contains("ter2"),
                "{input}: {e}"
            );
        }
    }

    #[test]
    fn a_default_password_fills_only_a_url_without_one() {
        let t = RedisTarget::parse("h:1")
            .unwrap()
            .with_default_password(Some("pw1"));
        assert_eq!(t.password(), Some("pw1"));
        assert!(!t.redacted().contains("pw1"), "{}", t.redacted());
        let t = RedisTarget::parse("redis://:own@h:1")
            .unwrap()
            .with_default_password(Some("pw1"));
        assert_eq!(t.password(), Some("own"));
    }

    #[test]
    fn free_text_redaction() {
        assert_eq!(
            redact_text("failed redis://a:b@h:1 now"),
            "failed redis://a:***@h:1 now"
        );
        assert_eq!(redact_text("plain text"), "plain text");
    }
}
