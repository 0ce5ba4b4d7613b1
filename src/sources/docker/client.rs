//! Reaching a Docker Engine: which host (`--docker[=HOST]`, `DOCKER_HOST`,
//! the local socket), a client that speaks the engine's API version, and
//! errors that say what failed and where. Shared by the source and the
//! actions.

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
    pub async fn connect(&self, timeout: Duration) -> Result<Docker, String> {
        let secs = timeout.as_secs().max(1);
        let docker = if let Some(path) = self.0.strip_prefix("unix://") {
            Docker::connect_with_unix(path, secs, bollard::API_DEFAULT_VERSION)
        } else if self.0.starts_with("tcp://") || self.0.starts_with("http://") {
            Docker::connect_with_http(&self.0, secs, bollard::API_DEFAULT_VERSION)
        } else {
            return Err(format!(
                "docker host {:?}: use unix:///path/to/docker.sock or tcp://host:port",
                self.0
            ));
        }
        .map_err(|e| format!("docker {}: {e}", self.0))?;
        timed(
            timeout,
            &format!("docker {}: version", self.0),
            docker.negotiate_version(),
        )
        .await
    }
}

/// Runs one engine call with a deadline; the error names the call.
pub async fn timed<T>(
    timeout: Duration,
    what: &str,
    call: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{what}: {}", describe(&e))),
        Err(_) => Err(format!(
            "{what}: no answer within {}",
            humantime::format_duration(timeout)
        )),
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
pub fn is_not_found(error: &str) -> bool {
    error.contains("(HTTP 404)")
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
}
