//! The probe's [`Poll`]: every interval, ask every known member at once
//! (a bounded number in flight, each within the request timeout), read
//! what each said, and assemble the cluster. Members come from the seeds
//! and the peers they listed (a `--probe` URL), or from what Docker or
//! Kubernetes found (a config rule's `probe:`), grouped by their cluster.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::access::Access;
use super::assemble::{ClusterSpec, Look, assemble};
use super::definition::{Compiled, PeersAt};
use super::fetch::{Ask, Clients, document};
use super::said::{Peer, read};
use super::{MAX_MEMBERS, ProbeSpec, Seeds};
use crate::model::{SourceKind, SourceReport, SourceStatus};
use crate::sources::poll::{Poll, Target};

/// Members asked at the same time.
const IN_FLIGHT: usize = 16;

pub struct ProbePoller {
    spec: ProbeSpec,
    clients: Clients,
    /// Peers found by the last poll, asked next time.
    found: Vec<String>,
    targets: Vec<Target>,
}

impl ProbePoller {
    pub fn new(spec: ProbeSpec) -> Result<ProbePoller, String> {
        let clients = Clients::new(&spec.access, spec.postgres.clone())?;
        Ok(ProbePoller {
            spec,
            clients,
            found: Vec::new(),
            targets: Vec::new(),
        })
    }

    async fn look_all(&self, asks: Vec<Pending>, timeout: Duration) -> Vec<Look> {
        let def: &Compiled = &self.spec.def;
        let access: &Access = &self.spec.access;
        let clients = &self.clients;
        let scheme = self.spec.scheme.as_str();
        futures::stream::iter(asks)
            .map(|pending| async move {
                let ask = Ask {
                    def,
                    access,
                    clients,
                    scheme,
                    endpoint: &pending.endpoint,
                };
                let result = document(&ask, timeout)
                    .await
                    .and_then(|doc| read(def, &doc));
                Look {
                    endpoint: pending.endpoint,
                    address: pending.address,
                    name: pending.name,
                    result,
                }
            })
            .buffered(IN_FLIGHT)
            .collect()
            .await
    }

    async fn poll_seeds(&mut self, seeds: &Seeds, timeout: Duration) -> SourceReport {
        let mut endpoints: Vec<String> = seeds.endpoints.clone();
        self.add_found(&mut endpoints, &self.found.clone());
        let mut looks = self
            .look_all(
                endpoints.iter().cloned().map(Pending::at).collect(),
                timeout,
            )
            .await;
        let seed_port = port_of(&seeds.endpoints[0]);
        let spec = ClusterSpec {
            id: format!("{}:{}", self.spec.def.def.kind, seeds.endpoints[0]),
            name: format!("{} {}", self.spec.def.def.kind, seeds.endpoints[0]),
            precedence: 1,
        };
        let at = self.spec.def.def.peers_at;
        let def = Arc::clone(&self.spec.def);
        let mut assembled = assemble(&def, &spec, &looks, |p| peer_endpoint(p, at, seed_port));
        // Peers heard of for the first time are asked at once, so one look
        // (a snapshot) shows every member, not only the seed.
        let before = endpoints.len();
        self.add_found(&mut endpoints, &assembled.endpoints);
        if endpoints.len() > before {
            let more = endpoints[before..]
                .iter()
                .cloned()
                .map(Pending::at)
                .collect();
            looks.extend(self.look_all(more, timeout).await);
            assembled = assemble(&def, &spec, &looks, |p| peer_endpoint(p, at, seed_port));
        }
        let forgotten: Vec<&String> = assembled
            .forgotten
            .iter()
            .filter(|e| !seeds.endpoints.contains(e))
            .collect();
        if !forgotten.is_empty() {
            looks.retain(|l| !forgotten.contains(&&l.endpoint));
            assembled = assemble(&def, &spec, &looks, |p| peer_endpoint(p, at, seed_port));
        }
        self.found = assembled.endpoints.clone();
        let mut report = self.report(&looks);
        report.clusters.push(assembled.cluster);
        report.members = assembled.members;
        report
    }

    fn add_found(&self, endpoints: &mut Vec<String>, found: &[String]) {
        for endpoint in found {
            if !endpoints.contains(endpoint) && endpoints.len() < MAX_MEMBERS {
                endpoints.push(endpoint.clone());
            }
        }
    }

    async fn poll_targets(&mut self, timeout: Duration) -> SourceReport {
        let port = self.spec.port;
        let asks = self
            .targets
            .iter()
            .map(|t| Pending {
                endpoint: t.at_port(port),
                address: Some(t.address.clone()),
                name: Some(t.name.clone()),
            })
            .collect();
        let looks = self.look_all(asks, timeout).await;
        let mut report = self.report(&looks);
        // Each cluster once, in the order its first member came.
        let mut clusters: Vec<&str> = Vec::new();
        for target in &self.targets {
            if !clusters.contains(&target.cluster.as_str()) {
                clusters.push(&target.cluster);
            }
        }
        for cluster in clusters {
            let mine: Vec<Look> = self
                .targets
                .iter()
                .zip(&looks)
                .filter(|(t, _)| t.cluster == cluster)
                .map(|(_, l)| l.clone())
                .collect();
            let spec = ClusterSpec {
                id: cluster.to_string(),
                name: cluster.rsplit('/').next().unwrap_or(cluster).to_string(),
                precedence: 0,
            };
            let at = self.spec.def.def.peers_at;
            let assembled = assemble(&self.spec.def, &spec, &mine, |p| peer_endpoint(p, at, port));
            report.clusters.push(assembled.cluster);
            report.members.extend(assembled.members);
        }
        report
    }

    /// The report's frame: ok while any member answered.
    fn report(&self, looks: &[Look]) -> SourceReport {
        let status = if looks.iter().any(|l| l.result.is_ok()) || looks.is_empty() {
            SourceStatus::Ok
        } else {
            let first = &looks[0];
            let error = first.result.as_ref().err().cloned().unwrap_or_default();
            SourceStatus::Error(format!(
                "{} {}: {error}",
                self.spec.def.def.kind, first.endpoint
            ))
        };
        SourceReport {
            source: String::new(),
            kind: SourceKind::Probe,
            target: self.spec.label(),
            status,
            at: time::OffsetDateTime::now_utc(),
            clusters: Vec::new(),
            members: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// One member to ask.
struct Pending {
    endpoint: String,
    address: Option<String>,
    name: Option<String>,
}

impl Pending {
    fn at(endpoint: String) -> Pending {
        Pending {
            endpoint,
            address: None,
            name: None,
        }
    }
}

fn port_of(endpoint: &str) -> u16 {
    endpoint
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(0)
}

/// Where a peer is asked: at its address, or at its host on the seed's port.
fn peer_endpoint(peer: &Peer, at: PeersAt, seed_port: u16) -> Option<String> {
    if let Some(endpoint) = &peer.endpoint {
        return Some(endpoint.clone());
    }
    let address = peer.address.as_deref()?;
    Some(match at {
        PeersAt::Address => address.to_string(),
        PeersAt::SeedPort => {
            let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
            format!("{host}:{seed_port}")
        }
    })
}

impl Poll for ProbePoller {
    async fn poll(&mut self, source: &str, timeout: Duration) -> SourceReport {
        let mut report = match self.spec.seeds.clone() {
            Some(seeds) => self.poll_seeds(&seeds, timeout).await,
            None => self.poll_targets(timeout).await,
        };
        report.source = source.to_string();
        report
    }

    fn set_targets(&mut self, targets: &[Target]) {
        let rule = self.spec.rule.as_deref();
        self.targets = targets
            .iter()
            .filter(|t| rule.is_none_or(|r| t.rule.as_deref() == Some(r)))
            .take(MAX_MEMBERS)
            .cloned()
            .collect();
    }
}

/// Runs a probe until shutdown; a probe that cannot be set up reports why.
pub async fn run(ctx: crate::sources::SourceContext, spec: ProbeSpec) {
    let label = spec.label();
    let poller = ProbePoller::new(spec);
    crate::sources::poll::run_or_report(&ctx, SourceKind::Probe, label, poller).await;
}
