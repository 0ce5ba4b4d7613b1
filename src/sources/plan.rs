//! Planning which sources to start: the [`PlannedSource`]s the command line
//! (or the lab) asks for, what the machine offers when nothing is named
//! ([`Discovered`]), and the platforms those sources reach, for the actions.
//!
//! The command line only maps flags onto a [`SourcePlan`]; this module owns
//! the ids and the environment look-up. Looking is asynchronous and bounded:
//! it runs on the tokio runtime before the first frame, so a blocking connect
//! here would stall every other task for as long as the engine takes to not
//! answer.

use std::time::Duration;

use crate::actions::Platforms;
use crate::model::SourceKind;
use crate::sources::SourceSpec;
use crate::sources::docker::DockerHost;

/// How long a Docker Engine gets to accept a connection before it counts as
/// absent: long enough for a local socket or a LAN host, short enough that a
/// console with nothing named still opens at once.
pub const DISCOVERY_TIMEOUT: Duration = Duration::from_millis(300);

/// A source to start and how the header names it before it reports.
#[derive(Debug, Clone)]
pub struct PlannedSource {
    pub id: String,
    pub kind: SourceKind,
    pub target: String,
    pub spec: SourceSpec,
}

/// The sources to start, in order, each with a run-unique id (`redis#0`).
#[derive(Debug, Default)]
pub struct SourcePlan {
    planned: Vec<PlannedSource>,
}

impl SourcePlan {
    /// Adds a source; its id counts the sources of its kind before it.
    pub fn push(&mut self, kind: SourceKind, target: String, spec: SourceSpec) {
        let n = self.planned.iter().filter(|p| p.kind == kind).count();
        self.planned.push(PlannedSource {
            id: format!("{}#{n}", kind.as_str()),
            kind,
            target,
            spec,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.planned.is_empty()
    }

    pub fn into_sources(self) -> Vec<PlannedSource> {
        self.planned
    }
}

/// What the machine offers that a source could start on without being named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovered {
    /// A kubeconfig exists (KUBECONFIG's files, or ~/.kube/config).
    pub kubeconfig: bool,
    /// A Docker Engine answers at DOCKER_HOST or the local socket.
    pub docker: bool,
}

impl Discovered {
    /// Looks at the environment and the home directory, and tries the
    /// Docker Engine without blocking the runtime (at most
    /// [`DISCOVERY_TIMEOUT`]).
    pub async fn from_environment() -> Discovered {
        Discovered {
            kubeconfig: !crate::sources::kube::client::kubeconfig_paths().is_empty(),
            docker: answers(&DockerHost::resolve(None), DISCOVERY_TIMEOUT).await,
        }
    }
}

/// The engine at `host` accepts a connection within `timeout`.
pub async fn answers(host: &DockerHost, timeout: Duration) -> bool {
    tokio::time::timeout(timeout, connects(host.as_str()))
        .await
        .unwrap_or(false)
}

async fn connects(host: &str) -> bool {
    if let Some(path) = host.strip_prefix("unix://") {
        return tokio::net::UnixStream::connect(path).await.is_ok();
    }
    let rest = host
        .strip_prefix("tcp://")
        .or_else(|| host.strip_prefix("http://"))
        .unwrap_or(host);
    // The first address only, as the engine's own clients do.
    let first = tokio::net::lookup_host(rest)
        .await
        .ok()
        .and_then(|mut a| a.next());
    match first {
        Some(address) => tokio::net::TcpStream::connect(address).await.is_ok(),
        None => false,
    }
}

/// The platforms the planned sources reach, and how their applications
/// are reached (credentials, TLS), for the actions.
pub fn platforms(planned: &[PlannedSource]) -> Platforms {
    let docker = planned.iter().find_map(|p| match &p.spec {
        SourceSpec::Docker(spec) => Some(spec.host.clone()),
        _ => None,
    });
    let kube = planned.iter().find_map(|p| match &p.spec {
        SourceSpec::Kube(target, _) => {
            Some(crate::actions::kube::KubePlatform::new(target.clone()))
        }
        _ => None,
    });
    let apps = crate::actions::switchover::AppAccess::from_sources(planned.iter().map(|p| &p.spec));
    Platforms { docker, kube, apps }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::sim::SimConfig;

    #[test]
    fn ids_count_sources_of_the_same_kind() {
        let mut plan = SourcePlan::default();
        let sim = || {
            SourceSpec::Sim(SimConfig {
                members: 1,
                seed: 1,
            })
        };
        plan.push(SourceKind::Sim, "a".into(), sim());
        plan.push(SourceKind::Redis, "b".into(), sim());
        plan.push(SourceKind::Sim, "c".into(), sim());
        let ids: Vec<_> = plan.into_sources().into_iter().map(|p| p.id).collect();
        assert_eq!(ids, ["sim#0", "redis#0", "sim#1"]);
    }

    #[tokio::test]
    async fn an_engine_that_is_not_there_does_not_answer() {
        let host = DockerHost::new("unix:///nonexistent/docker.sock");
        assert!(!answers(&host, DISCOVERY_TIMEOUT).await);
        // A port nothing listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let host = DockerHost::new(&format!("tcp://127.0.0.1:{port}"));
        assert!(!answers(&host, DISCOVERY_TIMEOUT).await);
    }

    #[tokio::test]
    async fn a_listening_socket_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let host = DockerHost::new(&format!("tcp://127.0.0.1:{port}"));
        assert!(answers(&host, DISCOVERY_TIMEOUT).await);
    }
}
