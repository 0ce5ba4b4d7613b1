//! A Redis or Sentinel address from the command line: parsed once, checked,
//! and never shown with its password.

use std::fmt;

use url::Url;

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
}

/// One Redis endpoint with its credentials. `Display` and `Debug` redact.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    url: Url,
    redacted: String,
    address: String,
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
            .map_err(|e| TargetError::NotAUrl(redact_text(input), e.to_string()))?;
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
        let port = url.port().unwrap_or(6379);
        Ok(RedisTarget {
            address: normalize_address(&host, port),
            url,
            redacted,
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
        }
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

    /// The full URL, password included: only for opening a connection.
    pub fn connection_url(&self) -> &str {
        self.url.as_str()
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
    fn free_text_redaction() {
        assert_eq!(
            redact_text("failed redis://a:b@h:1 now"),
            "failed redis://a:***@h:1 now"
        );
        assert_eq!(redact_text("plain text"), "plain text");
    }
}
