//! Leaders recorded in shared storage rather than observed: a Redis key or
//! hash field (Dgraph's first zero writes `zero`), an etcd key or election
//! (Patroni's `/service/<scope>/leader`, an `etcdctl elect` lock), or a
//! field of a JSON document over HTTP picked by jq (a Digital Rebar
//! profile's param). A record adds no members: the model puts it beside
//! the cluster whose member it names and compares it with the leader it
//! observes (see `model::records`).
//!
//! - [`value`]: what a recorded value may be (an address or a member's name);
//! - [`etcd`], [`http`]: reading one record from etcd's JSON gateway or a
//!   JSON document; Redis is read in `sources::redis::registry`.

pub mod etcd;
pub mod http;
pub mod spec;
pub mod value;

use std::time::Duration;

use crate::model::{ClusterObservation, RecordedLeader, SourceKind, SourceReport, SourceStatus};
use crate::sources::poll::Poll;
use crate::sources::probes::fetch::Clients;
use crate::sources::redis::connection::Connection;

pub use spec::{RecordConfig, RecordSpec, Store};

/// One read of a record: the value and the time it has left to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub value: String,
    pub ttl_ms: Option<u64>,
}

/// Polls one record.
pub struct RecordPoller {
    spec: RecordSpec,
    redis: Option<Connection>,
    clients: Option<Clients>,
    expr: Option<crate::sources::probes::jq::Expr>,
}

impl RecordPoller {
    pub fn new(spec: RecordSpec) -> Result<RecordPoller, String> {
        let redis = match &spec.store {
            Store::Redis(target) => Some(Connection::new(target.clone())),
            _ => None,
        };
        let clients = match &spec.store {
            Store::Redis(_) => None,
            Store::Etcd { .. } | Store::Http { .. } => {
                Some(Clients::new(&Default::default(), Default::default())?)
            }
        };
        let expr = match &spec.store {
            Store::Http { .. } => Some(crate::sources::probes::jq::Expr::compile(&spec.key)?),
            _ => None,
        };
        Ok(RecordPoller {
            spec,
            redis,
            clients,
            expr,
        })
    }

    async fn read(&mut self, timeout: Duration) -> Result<Reading, String> {
        let spec = &self.spec;
        match (&spec.store, &mut self.redis, &self.clients, &self.expr) {
            (Store::Redis(_), Some(connection), _, _) => {
                let field = spec.field.as_deref();
                crate::sources::redis::registry::read(connection, &spec.key, field, timeout).await
            }
            (Store::Etcd { url }, _, Some(clients), _) => {
                etcd::read(clients, url, &spec.key, spec.election, timeout).await
            }
            (Store::Http { url }, _, Some(clients), Some(expr)) => {
                http::read(clients, url, expr, timeout).await
            }
            _ => Err("record store not set up".into()),
        }
    }

    fn cluster(&self, reading: Reading) -> ClusterObservation {
        ClusterObservation {
            id: format!("record/{}", self.spec.label()),
            kind: "record".into(),
            name: self.spec.key.clone(),
            recorded_leader: Some(RecordedLeader {
                address: reading.value,
                from: self.spec.label(),
                ttl_ms: reading.ttl_ms,
                cluster: self.spec.cluster.clone(),
                ..RecordedLeader::default()
            }),
            ..ClusterObservation::default()
        }
    }
}

impl Poll for RecordPoller {
    async fn poll(&mut self, source: &str, timeout: Duration) -> SourceReport {
        let (status, clusters) = match self.read(timeout).await {
            Ok(reading) => (SourceStatus::Ok, vec![self.cluster(reading)]),
            Err(e) => (
                SourceStatus::Error(format!("{}: {e}", self.spec.label())),
                Vec::new(),
            ),
        };
        SourceReport {
            source: source.to_string(),
            kind: SourceKind::Registry,
            target: self.spec.label(),
            status,
            at: time::OffsetDateTime::now_utc(),
            clusters,
            members: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// Runs one record's poller until shutdown; one that cannot be set up
/// reports why.
pub async fn run(ctx: crate::sources::SourceContext, spec: RecordSpec) {
    let label = spec.label();
    let poller = RecordPoller::new(spec);
    crate::sources::poll::run_or_report(&ctx, SourceKind::Registry, label, poller).await;
}
