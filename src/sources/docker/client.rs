//! Reaching a Docker Engine: which host (`--docker[=HOST]`, `DOCKER_HOST`,
//! the local socket), a client that speaks the engine's API version, and
//! [`DockerError`]s that say what failed and where. Shared by the source and
//! the actions; callers branch on the variant (a 404 is [`DockerError::NotFound`]),
//! never on the text.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use bollard::Docker;

/// The engine's local socket, used when neither `--docker=HOST` nor
/// `DOCKER_HOST` says otherwise.
pub const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";

/// Where the engine is: `unix:///path` or `tcp://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerHost(String);

impl DockerHost {
    /// `--docker=HOST` if given a value, else `DOCKER_HOST`, else the local socket.
    pub fn resolve(flag: Option<&str>) -> DockerHost {
        let chosen = flag
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_string)
            .or_else(|| {
                std::env::var("DOCKER_HOST")
                    .ok()
                    .filter(|h| !h.trim().is_empty())
            })
            .unwrap_or_else(|| DEFAULT_SOCKET.to_string());
        DockerHost::new(&chosen)
    }

    /// A host as written; a bare path is a Unix socket.
    pub fn new(host: &str) -> DockerHost {
        let host = host.trim();
        if host.starts_with('/') {
            DockerHost(format!("unix://{host}"))
        } else {
            DockerHost(host.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the client can speak to such a host at all (what
    /// [`DockerHost::connect`] accepts): unix://, tcp:// or http://.
    pub fn is_supported(&self) -> bool {
        ["unix://", "tcp://", "http://"]
            .iter()
            .any(|scheme| self.0.starts_with(scheme))
    }

    /// Whether something answers there, checked without the API and within
    /// a fraction of a second: the basis of turning Docker on by itself.
    pub fn is_reachable(&self) -> bool {
        if let Some(path) = self.0.strip_prefix("unix://") {
            return Path::new(path).exists()
                && std::os::unix::net::UnixStream::connect(path).is_ok();
        }
        let rest = self
            .0
            .strip_prefix("tcp://")
            .or_else(|| self.0.strip_prefix("http://"))
            .unwrap_or(&self.0);
        use std::net::ToSocketAddrs;
        rest.to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .is_some_and(|a| {
                std::net::TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok()
            })
    }

    /// A client that speaks the engine's API version (an old engine refuses
    /// a newer client's version).
    pub async fn connect(&self, timeout: Duration) -> Result<Docker, DockerError> {
        let secs = timeout.as_secs().max(1);
        let docker = if let Some(path) = self.0.strip_prefix("unix://") {
            Docker::connect_with_unix(path, secs, bollard::API_DEFAULT_VERSION)
        } else if self.0.starts_with("tcp://") || self.0.starts_with("http://") {
            Docker::connect_with_http(&self.0, secs, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(DockerError::BadHost(self.0.clone()));
        }
        .map_err(|source| DockerError::Client {
            what: format!("docker {}", self.0),
            source,
        })?;
        timed(
            timeout,
            &format!("docker {}: version", self.0),
            docker.negotiate_version(),
        )
        .await
    }
}

/// What went wrong with the engine. The texts are what the user reads; the
/// variants are what callers branch on.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The engine answered 404: the object is gone.
    #[error("{what}: {message} (HTTP 404)")]
    NotFound { what: String, message: String },
    /// The engine answered with another error status.
    #[error("{what}: {message} (HTTP {status})")]
    Api {
        what: String,
        status: u16,
        message: String,
    },
    /// The call did not reach the engine or its answer was unreadable.
    #[error("{what}: {source}")]
    Client {
        what: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("{what}: no answer within {}", humantime::format_duration(*.after))]
    Timeout { what: String, after: Duration },
    #[error("docker host {0:?}: use unix:///path/to/docker.sock or tcp://host:port")]
    BadHost(String),
    /// The engine's state does not allow the request (a service without a
    /// version, a command that exited non-zero); the text says which.
    #[error("{0}")]
    Refused(String),
}

impl DockerError {
    /// A bollard error from the call `what`.
    pub fn from_call(what: &str, error: bollard::errors::Error) -> DockerError {
        match error {
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message,
            } => DockerError::NotFound {
                what: what.to_string(),
                message,
            },
            bollard::errors::Error::DockerResponseServerError {
                status_code,
                message,
            } => DockerError::Api {
                what: what.to_string(),
                status: status_code,
                message,
            },
            source => DockerError::Client {
                what: what.to_string(),
                source,
            },
        }
    }

    /// True when the engine answered 404 (the object is gone).
    pub fn is_not_found(&self) -> bool {
        matches!(self, DockerError::NotFound { .. })
    }
}

/// Where a caller still carries errors as text (the lab, the source's
/// report), the error becomes the text the user reads.
impl From<DockerError> for String {
    fn from(error: DockerError) -> String {
        error.to_string()
    }
}

/// Runs one engine call with a deadline; the error names the call.
pub async fn timed<T>(
    timeout: Duration,
    what: &str,
    call: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, DockerError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(DockerError::from_call(what, e)),
        Err(_) => Err(DockerError::Timeout {
            what: what.to_string(),
            after: timeout,
        }),
    }
}

/// A bollard error as people read it: the engine's own message when it sent one.
pub fn describe(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => format!("{message} (HTTP {status_code})"),
        other => other.to_string(),
    }
}

/// True when the engine answered 404 (the object is gone).
pub fn is_not_found(error: &DockerError) -> bool {
    error.is_not_found()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(
            DockerHost::new("/run/d.sock").as_str(),
            "unix:///run/d.sock"
        );
        assert_eq!(
            DockerHost::new("tcp://127.0.0.1:2375").as_str(),
            "tcp://127.0.0.1:2375"
        );
        assert_eq!(
            DockerHost::resolve(Some("/x.sock")).as_str(),
            "unix:///x.sock"
        );
        assert!(!DockerHost::new("unix:///nonexistent/docker.sock").is_reachable());
    }

    #[test]
    fn a_404_is_not_found_by_its_variant_and_reads_as_before() {
        let gone = DockerError::from_call(
            "inspect container redis-1",
            bollard::errors::Error::DockerResponseServerError {
                status_code: 404,
                message: "No such container: redis-1".into(),
            },
        );
        assert!(gone.is_not_found());
        assert_eq!(
            gone.to_string(),
            "inspect container redis-1: No such container: redis-1 (HTTP 404)"
        );
        let conflict = DockerError::from_call(
            "update service s",
            bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                message: "out of sequence".into(),
            },
        );
        assert!(!conflict.is_not_found());
        assert_eq!(
            conflict.to_string(),
            "update service s: out of sequence (HTTP 409)"
        );
    }
}
