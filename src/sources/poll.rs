//! The shared machinery of polled sources, so that a new application probe
//! is one file with a pure parser and a [`Poll`] implementation:
//!
//! - [`Poll`] and [`run_polling`]: poll once per interval into a whole
//!   report, send it, and leave as soon as shutdown is asked or the app is
//!   gone;
//! - [`Backoff`] and [`Reconnect`]: one cached connection of any client,
//!   dropped on failure and reopened no sooner than the backoff allows, so a
//!   dead instance is not hammered yet one that comes back is seen again
//!   within seconds;
//! - [`Target`] and [`TargetFeed`]: the members the platform sources
//!   (Docker, Kubernetes) discovered, sent by the app loop to the sources that
//!   asked for them, so a probe can poll instances nobody named on the
//!   command line. A probe that polls another port than the member's
//!   application port still reports under the member's identity address
//!   ([`Target::address`]), which is what joins its word to the member.
//!
//! Adding an application probe (etcd, ZooKeeper, Patroni, PostgreSQL...):
//! one file with a pure parser of the application's answer and a type that
//! implements [`Poll`] (keeping a [`Reconnect`] of its client, taking
//! [`Poll::set_targets`] when it polls discovered members) and fills
//! [`crate::model::ConsensusView`] with leader, term, voters and quorum.
//! Starting it is then a [`super::SourceSpec`] variant (spawning
//! [`run_polling`], answering `wants_targets`), its [`SourceKind`] and its
//! command-line flag.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::SourceContext;
use crate::model::{SourceKind, SourceReport, Topology};

/// Something polled once per interval into a whole report.
pub trait Poll {
    /// One look at everything the poller knows, bounded by `timeout` per call.
    fn poll(
        &mut self,
        source: &str,
        timeout: Duration,
    ) -> impl Future<Output = SourceReport> + Send;

    /// The discovered members changed (only called for sources that asked
    /// for targets): the next poll looks at these.
    fn set_targets(&mut self, targets: &[Target]) {
        let _ = targets;
    }
}

/// The loop every polled source shares: poll, send, wait for the next tick,
/// and leave as soon as shutdown is asked or the app is gone. New targets
/// are taken before the next poll, which comes at once rather than a whole
/// interval later.
/// Runs a poller until shutdown, or, when it could not be set up, sends
/// one report saying why (a bad CA file, a jq expression that does not
/// compile) under its `kind` and `target`.
pub async fn run_or_report(
    ctx: &SourceContext,
    kind: crate::model::SourceKind,
    target: String,
    poller: Result<impl Poll, String>,
) {
    match poller {
        Ok(poller) => run_polling(ctx, poller).await,
        Err(error) => {
            let report = SourceReport {
                source: ctx.id.clone(),
                kind,
                target,
                status: crate::model::SourceStatus::Error(error),
                at: time::OffsetDateTime::now_utc(),
                clusters: Vec::new(),
                members: Vec::new(),
                notes: Vec::new(),
            };
            let _ = ctx.send(report).await;
        }
    }
}

pub async fn run_polling(ctx: &SourceContext, mut poller: impl Poll) {
    let mut targets = ctx.targets.clone();
    let mut ticker = tokio::time::interval(ctx.interval);
    // After a slow poll, wait a whole interval rather than firing a burst.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // `changed()` marks what it saw as seen, hence the flag.
        let arrived = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            _ = ticker.tick() => false,
            () = targets_changed(&mut targets) => true,
        };
        if let Some(receiver) = &mut targets
            && (arrived || receiver.has_changed().unwrap_or(false))
        {
            poller.set_targets(&receiver.borrow_and_update());
        }
        let report = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            report = poller.poll(&ctx.id, ctx.timeout) => report,
        };
        let sent = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            sent = ctx.send(report) => sent,
        };
        if !sent {
            return;
        }
    }
}

/// Resolves when new targets arrive; never for a source without targets or
/// once the app has dropped the sender.
async fn targets_changed(targets: &mut Option<watch::Receiver<Vec<Target>>>) {
    let arrived = match targets {
        Some(receiver) => receiver.changed().await.is_ok(),
        None => false,
    };
    if !arrived {
        std::future::pending::<()>().await;
    }
}

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// When to try connecting again after a failure: 0.5 s, doubling to 5 s.
#[derive(Debug, Clone)]
pub struct Backoff {
    delay: Duration,
    not_before: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            delay: FIRST_RETRY,
            not_before: None,
        }
    }
}

impl Backoff {
    pub fn failed(&mut self, now: Instant) {
        self.not_before = Some(now + self.delay);
        self.delay = (self.delay * 2).min(MAX_RETRY);
    }

    pub fn succeeded(&mut self) {
        *self = Backoff::default();
    }

    pub fn may_try(&self, now: Instant) -> bool {
        self.not_before.is_none_or(|t| now >= t)
    }
}

/// A lazily opened, cached connection of any client `C`, with the error `E`
/// its failures are told by. Any failure drops the connection; the next
/// open waits for the [`Backoff`] and meanwhile answers with the last error.
#[derive(Debug)]
pub struct Reconnect<C, E> {
    open: Option<C>,
    backoff: Backoff,
    last_error: Option<E>,
}

impl<C, E> Default for Reconnect<C, E> {
    fn default() -> Self {
        Reconnect {
            open: None,
            backoff: Backoff::default(),
            last_error: None,
        }
    }
}

impl<C, E: Clone> Reconnect<C, E> {
    /// The open connection, if there is one.
    pub fn current(&self) -> Option<&C> {
        self.open.as_ref()
    }

    /// The open connection, opening one with `connect` if the backoff
    /// allows; while it does not, the last error (or `waiting()`).
    pub async fn open_with<F>(
        &mut self,
        connect: impl FnOnce() -> F,
        waiting: impl FnOnce() -> E,
    ) -> Result<&mut C, E>
    where
        F: Future<Output = Result<C, E>>,
    {
        if self.open.is_none() {
            if !self.backoff.may_try(Instant::now()) {
                return Err(self.last_error.clone().unwrap_or_else(waiting));
            }
            match connect().await {
                Ok(connection) => self.open = Some(connection),
                Err(e) => {
                    self.backoff.failed(Instant::now());
                    self.last_error = Some(e.clone());
                    return Err(e);
                }
            }
        }
        // Just set above when it was missing.
        Ok(self.open.as_mut().expect("a connection was just opened"))
    }

    /// A call on the connection answered: the backoff starts over.
    pub fn succeeded(&mut self) {
        self.backoff.succeeded();
        self.last_error = None;
    }

    /// A call failed, or its answer could not be read: the connection is
    /// dropped so the next poll starts clean, after the backoff.
    pub fn fail(&mut self, error: E) -> E {
        self.open = None;
        self.backoff.failed(Instant::now());
        self.last_error = Some(error.clone());
        error
    }
}

/// A member a platform source discovered, given to a source to poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The cluster the platform puts it in.
    pub cluster: String,
    /// The platform's name for it (container, pod).
    pub name: String,
    /// Its identity: IP and application port, normalised. A probe reports
    /// under this address even when it polls another port, so that its
    /// observation joins the member.
    pub address: String,
    /// The config rule (cluster name) that put it in its cluster, for a
    /// probe configured on that rule.
    pub rule: Option<String>,
}

impl Target {
    /// The host part of the identity address (brackets kept for IPv6).
    pub fn host(&self) -> &str {
        self.address
            .rsplit_once(':')
            .map_or(self.address.as_str(), |(host, _)| host)
    }

    /// Where to poll this member on another port (an HTTP status port, a
    /// client port) than its application port.
    pub fn at_port(&self, port: u16) -> String {
        format!("{}:{port}", self.host())
    }
}

/// The members with an address that a Docker or Kubernetes source found, in
/// topology order.
pub fn discovered_targets(topology: &Topology) -> Vec<Target> {
    let platform_sources: Vec<&str> = topology
        .sources
        .iter()
        .filter(|s| matches!(s.kind, SourceKind::Docker | SourceKind::Kube))
        .map(|s| s.id.as_str())
        .collect();
    if platform_sources.is_empty() {
        return Vec::new();
    }
    topology
        .clusters
        .iter()
        .flat_map(|c| c.members.iter().map(move |m| (c, m)))
        .filter(|(_, m)| {
            m.sources
                .iter()
                .any(|s| platform_sources.contains(&s.as_str()))
        })
        .filter_map(|(c, m)| {
            Some(Target {
                cluster: c.id.clone(),
                name: m.name.clone(),
                address: m.address.clone()?,
                rule: m.placement.handles.config_rule.clone(),
            })
        })
        .collect()
}

/// The app loop's end of the targets channel: one sender that every source
/// asking for targets subscribes to.
#[derive(Debug)]
pub struct TargetFeed {
    sender: watch::Sender<Vec<Target>>,
}

impl Default for TargetFeed {
    fn default() -> Self {
        TargetFeed {
            sender: watch::Sender::new(Vec::new()),
        }
    }
}

impl TargetFeed {
    /// A receiver for one more source; it sees the current targets at once.
    pub fn subscribe(&self) -> watch::Receiver<Vec<Target>> {
        let mut receiver = self.sender.subscribe();
        receiver.mark_changed();
        receiver
    }

    /// Offers the members discovered in `topology` to the sources that asked;
    /// wakes them only when the set changed. Costs nothing when none asked.
    pub fn offer(&self, topology: &Topology) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        let targets = discovered_targets(topology);
        self.sender.send_if_modified(|current| {
            let changed = *current != targets;
            if changed {
                *current = targets;
            }
            changed
        });
    }
}

#[cfg(test)]
mod tests {
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::model::{
        ClusterObservation, MemberObservation, SourceKind, SourceReport, SourceStatus,
    };

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut backoff = Backoff::default();
        let start = Instant::now();
        assert!(backoff.may_try(start));
        backoff.failed(start);
        assert!(!backoff.may_try(start));
        assert!(backoff.may_try(start + FIRST_RETRY));
        for _ in 0..10 {
            backoff.failed(start);
        }
        assert!(backoff.may_try(start + MAX_RETRY));
        assert!(!backoff.may_try(start + MAX_RETRY - Duration::from_millis(1)));
        backoff.succeeded();
        assert!(backoff.may_try(start));
    }

    #[tokio::test]
    async fn a_failed_connection_waits_for_the_backoff_with_its_error() {
        let mut link: Reconnect<u32, String> = Reconnect::default();
        let opened = link.open_with(|| async { Err("refused".to_string()) }, String::new);
        assert_eq!(opened.await.unwrap_err(), "refused");
        let again = link.open_with(|| async { Ok(1) }, String::new).await;
        assert_eq!(
            again.unwrap_err(),
            "refused",
            "no new attempt within the backoff"
        );
        link.backoff = Backoff::default();
        assert_eq!(
            link.open_with(|| async { Ok(7) }, String::new).await,
            Ok(&mut 7)
        );
        assert_eq!(link.fail("lost".into()), "lost");
        assert!(link.current().is_none());
    }

    #[test]
    fn a_target_is_polled_on_another_port_under_its_identity() {
        let target = Target {
            cluster: "c".into(),
            name: "etcd-0".into(),
            address: "10.0.0.7:2380".into(),
            rule: None,
        };
        assert_eq!(target.at_port(2379), "10.0.0.7:2379");
        let v6 = Target {
            address: "[fd00::1]:5432".into(),
            ..target
        };
        assert_eq!(v6.at_port(8008), "[fd00::1]:8008");
    }

    fn report(source: &str, kind: SourceKind, members: &[(&str, &str)]) -> SourceReport {
        SourceReport {
            source: source.into(),
            kind,
            target: source.into(),
            status: SourceStatus::Ok,
            at: time::OffsetDateTime::UNIX_EPOCH,
            clusters: vec![ClusterObservation {
                id: "c".into(),
                kind: "docker".into(),
                name: "c".into(),
                ..Default::default()
            }],
            members: members
                .iter()
                .map(|(name, address)| MemberObservation {
                    cluster: "c".into(),
                    name: (*name).into(),
                    address: Some((*address).into()),
                    ..Default::default()
                })
                .collect(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn only_members_a_platform_found_are_targets() {
        let topology = Topology::merge(&[
            report("docker#0", SourceKind::Docker, &[("db-1", "10.0.0.1:6379")]),
            report("redis#0", SourceKind::Redis, &[("r", "10.0.0.2:6379")]),
        ]);
        let targets = discovered_targets(&topology);
        assert_eq!(
            targets,
            vec![Target {
                cluster: "c".into(),
                name: "db-1".into(),
                address: "10.0.0.1:6379".into(),
                rule: None,
            }]
        );
    }

    /// Reports the targets it was given as members, one poll at a time.
    struct Echo(Vec<Target>);

    impl Poll for Echo {
        async fn poll(&mut self, source: &str, _timeout: Duration) -> SourceReport {
            let members: Vec<(&str, &str)> = self
                .0
                .iter()
                .map(|t| (t.name.as_str(), t.address.as_str()))
                .collect();
            report(source, SourceKind::Redis, &members)
        }

        fn set_targets(&mut self, targets: &[Target]) {
            self.0 = targets.to_vec();
        }
    }

    #[tokio::test]
    async fn a_target_sent_by_the_app_loop_is_polled() {
        let feed = TargetFeed::default();
        let (reports, mut received) = crate::sources::mailbox::mailbox();
        let shutdown = CancellationToken::new();
        let ctx = SourceContext {
            id: "probe#0".into(),
            // Long: the new target must be polled without waiting for a tick.
            interval: Duration::from_secs(3600),
            timeout: Duration::from_secs(1),
            reports,
            shutdown: shutdown.clone(),
            targets: Some(feed.subscribe()),
        };
        let task = tokio::spawn(async move { run_polling(&ctx, Echo(Vec::new())).await });
        let first = received.recv().await.unwrap();
        assert!(first.members.is_empty(), "{first:?}");
        let discovered = Topology::merge(&[report(
            "kube#0",
            SourceKind::Kube,
            &[("pg-0", "10.1.0.9:5432")],
        )]);
        feed.offer(&discovered);
        let next = tokio::time::timeout(Duration::from_secs(5), received.recv())
            .await
            .expect("polled at once")
            .unwrap();
        assert_eq!(next.members[0].address.as_deref(), Some("10.1.0.9:5432"));
        shutdown.cancel();
        task.await.unwrap();
    }
}
