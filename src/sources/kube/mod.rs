//! The Kubernetes source: watches (never polls) StatefulSets, their pods,
//! nodes, and the NetworkPolicies the console labelled as its own, through
//! kube-runtime watchers merged into one stream with backoff, and sends a
//! whole report shortly after each change.
//!
//! - [`client`]: kubeconfig, context and namespace to a client.
//! - [`inventory`]: the objects seen, trimmed to facts; re-lists replace.
//! - [`tiers`]: tier and cluster rules from names and labels (pure).
//! - [`report`]: the inventory as cluster and member observations (pure).
//!
//! A member's address is `<pod IP>:<first container port>`, so a Redis
//! source watching the same instance joins it to the pod; its name is the
//! pod's name, which the timeline then shows.

pub mod client;
pub mod inventory;
pub mod report;
pub mod tiers;
pub mod watch;

use std::sync::Arc;

use crate::config::Config;
use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::{BoxStream, SelectAll};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::Api;
use kube::runtime::watcher::{self, Event};
use tokio::time::Instant;

pub use client::{KubeTarget, Namespaces};

use super::SourceContext;
use crate::model::{SourceKind, SourceReport, SourceStatus};
use inventory::{
    Inventory, NodeFacts, POD_NAME_LABEL, PodFacts, PolicyFacts, StatefulSetFacts, reduce,
};

/// The label on everything the console creates (NetworkPolicies today).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
pub const MANAGED_BY_VALUE: &str = "clusterdeck";

/// The least time between two reports: a burst of changes (a StatefulSet of
/// 50 scaling at once) is a few reports, not fifty. The first change after a
/// quiet period goes out at once (see [`due_after`]). Short, because a
/// change that follows the last report closely (an operator's next step in
/// a failover) waits for it: at 50 ms every such change took 50 ms.
const DEBOUNCE: Duration = Duration::from_millis(20);

/// When a change seen `now` is reported: at once after a quiet period,
/// else [`DEBOUNCE`] after the last report, gathering what comes meanwhile.
fn due_after(last_sent: Option<Instant>, now: Instant) -> Instant {
    last_sent.map_or(now, |sent| (sent + DEBOUNCE).max(now))
}

/// The watched resources, for errors and readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Resource {
    Pods,
    StatefulSets,
    Nodes,
    NetworkPolicies,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::Pods => "pods",
            Resource::StatefulSets => "statefulsets",
            Resource::Nodes => "nodes",
            Resource::NetworkPolicies => "networkpolicies",
        }
    }

    /// What the console cannot show when this user may not read the resource.
    fn hidden_means(self) -> &'static str {
        match self {
            Resource::Nodes => "node readiness and cordon state are not shown",
            Resource::NetworkPolicies => {
                "isolations are known only from the fault ledger, not seen on the cluster"
            }
            Resource::Pods | Resource::StatefulSets => "nothing can be shown",
        }
    }

    /// Without pods or StatefulSets there is nothing to show; nodes and
    /// policies only add detail (and are often forbidden to read).
    fn essential(self) -> bool {
        matches!(self, Resource::Pods | Resource::StatefulSets)
    }
}

/// One item of the merged watch stream.
enum Update {
    Pods(Event<PodFacts>),
    StatefulSets(Event<StatefulSetFacts>),
    Nodes(Event<NodeFacts>),
    Policies(Event<PolicyFacts>),
    Failed(Resource, watch::Failure),
}

/// Runs the source until shutdown: connects (retrying with backoff while
/// the kubeconfig or context is wrong), then watches.
pub async fn run(ctx: SourceContext, target: KubeTarget, config: Arc<Config>) {
    let mut retry = Duration::from_millis(500);
    loop {
        let connected = tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            c = client::connect(&target, ctx.timeout) => c,
        };
        match connected {
            Ok(connected) => return watch(&ctx, connected, &config).await,
            Err(e) => {
                tracing::warn!(source = %ctx.id, error = %e, "kubernetes source cannot connect");
                let report = base_report(&ctx, target.label(), SourceStatus::Error(e.to_string()));
                if !ctx.send(report).await {
                    return;
                }
            }
        }
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            _ = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(Duration::from_secs(30));
    }
}

fn base_report(ctx: &SourceContext, target: String, status: SourceStatus) -> SourceReport {
    SourceReport {
        source: ctx.id.clone(),
        kind: SourceKind::Kube,
        target,
        status,
        at: time::OffsetDateTime::now_utc(),
        clusters: Vec::new(),
        members: Vec::new(),
        notes: Vec::new(),
    }
}

/// One resource's watch (see [`watch`]), its events reduced to facts.
fn watch_one<K, F>(
    api: Api<K>,
    config: watcher::Config,
    resource: Resource,
    facts: fn(&K) -> F,
    wrap: fn(Event<F>) -> Update,
) -> BoxStream<'static, Update>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    F: Send + 'static,
{
    watch::resource(api, config)
        .map(move |item| match item {
            watch::Item::Event(event) => wrap(reduce(event, facts)),
            watch::Item::Failure(failure) => Update::Failed(resource, failure),
        })
        .boxed()
}

fn streams(connected: &Connected) -> SelectAll<BoxStream<'static, Update>> {
    fn api<K>(client: &kube::Client, namespace: &Option<String>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        K::DynamicType: Default,
    {
        match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let (client, ns) = (&connected.client, &connected.namespace);
    let ours = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
    let config = || watcher::Config::default().timeout(client::WATCH_SECONDS);
    futures::stream::select_all([
        watch_one(
            api::<Pod>(client, ns),
            // Every pod a StatefulSet makes carries this label; others are not ours to show.
            config().labels(POD_NAME_LABEL),
            Resource::Pods,
            PodFacts::from_pod,
            Update::Pods,
        ),
        watch_one(
            api::<StatefulSet>(client, ns),
            config(),
            Resource::StatefulSets,
            StatefulSetFacts::from_statefulset,
            Update::StatefulSets,
        ),
        watch_one(
            Api::<Node>::all(client.clone()),
            config(),
            Resource::Nodes,
            NodeFacts::from_node,
            Update::Nodes,
        ),
        watch_one(
            api::<NetworkPolicy>(client, ns),
            config().labels(&ours),
            Resource::NetworkPolicies,
            PolicyFacts::from_policy,
            Update::Policies,
        ),
    ])
}

use client::Connected;

/// The state of the watch loop between reports.
struct Watching {
    inventory: Inventory,
    /// The latest error of each resource, cleared by its next good event.
    errors: BTreeMap<Resource, String>,
    /// Detail resources this user may not read, and what that leaves out.
    hidden: BTreeMap<Resource, String>,
    /// Resources that failed before their first list (they do not hold up
    /// the first report).
    failed_early: Vec<Resource>,
}

impl Watching {
    /// Applies one update; true when the report would change.
    fn apply(&mut self, update: Update) -> bool {
        let (resource, answered, changed) = match update {
            Update::Pods(e) => (Resource::Pods, answered(&e), self.inventory.pods.apply(e)),
            Update::StatefulSets(e) => (
                Resource::StatefulSets,
                answered(&e),
                self.inventory.statefulsets.apply(e),
            ),
            Update::Nodes(e) => (Resource::Nodes, answered(&e), self.inventory.nodes.apply(e)),
            Update::Policies(e) => (
                Resource::NetworkPolicies,
                answered(&e),
                self.inventory.policies.apply(e),
            ),
            Update::Failed(resource, failure) => return self.failed(resource, failure),
        };
        // Only an answer from the server clears an error: `Init` is said
        // before the list is even asked.
        if !answered {
            return changed;
        }
        let cleared = self.errors.remove(&resource).is_some();
        changed | cleared | self.hidden.remove(&resource).is_some()
    }

    fn failed(&mut self, resource: Resource, failure: watch::Failure) -> bool {
        if !self.failed_early.contains(&resource) && !self.synced(resource) {
            self.failed_early.push(resource);
        }
        let text = match failure {
            // A detail this user may not read is not the source failing:
            // said once, with what it leaves out.
            watch::Failure::Forbidden(text) if !resource.essential() => {
                tracing::warn!(resource = resource.name(), error = %text, "not visible to this user");
                let note = format!("{text}; {}", resource.hidden_means());
                return self.hidden.insert(resource, note.clone()) != Some(note);
            }
            watch::Failure::Forbidden(text) | watch::Failure::Failed(text) => text,
        };
        tracing::warn!(resource = resource.name(), error = %text, "kubernetes watch failed");
        let message = format!("{}: {text}", resource.name());
        self.errors.insert(resource, message.clone()) != Some(message)
    }

    fn synced(&self, resource: Resource) -> bool {
        match resource {
            Resource::Pods => self.inventory.pods.synced,
            Resource::StatefulSets => self.inventory.statefulsets.synced,
            Resource::Nodes => self.inventory.nodes.synced,
            Resource::NetworkPolicies => self.inventory.policies.synced,
        }
    }

    /// Every watcher has listed once or failed trying: a first report now is whole.
    fn settled(&self) -> bool {
        [
            Resource::Pods,
            Resource::StatefulSets,
            Resource::Nodes,
            Resource::NetworkPolicies,
        ]
        .into_iter()
        .all(|r| self.synced(r) || self.failed_early.contains(&r))
    }

    fn status(&self) -> SourceStatus {
        let essential: Vec<&str> = self
            .errors
            .iter()
            .filter(|(r, _)| r.essential())
            .map(|(_, e)| e.as_str())
            .collect();
        if essential.is_empty() {
            SourceStatus::Ok
        } else {
            SourceStatus::Error(essential.join("; "))
        }
    }
}

/// Watches until shutdown, sending a report on a change (see [`due_after`]).
async fn watch(ctx: &SourceContext, connected: Connected, config: &Config) {
    let label = connected.label();
    let all_namespaces = connected.namespace.is_none();
    tracing::info!(source = %ctx.id, target = %label, "watching kubernetes");
    let mut updates = streams(&connected);
    let mut state = Watching {
        inventory: Inventory::default(),
        errors: BTreeMap::new(),
        hidden: BTreeMap::new(),
        failed_early: Vec::new(),
    };
    let mut due: Option<Instant> = None;
    let mut last_sent: Option<Instant> = None;
    loop {
        let ready = due.filter(|_| state.settled());
        tokio::select! {
            biased;
            _ = ctx.shutdown.cancelled() => return,
            _ = sleep_until(ready), if ready.is_some() => {
                due = None;
                last_sent = Some(Instant::now());
                let report = report(ctx, &label, &state, all_namespaces, config);
                if !ctx.send(report).await {
                    return;
                }
            }
            update = next(&mut updates) => {
                if state.apply(update) {
                    due.get_or_insert_with(|| due_after(last_sent, Instant::now()));
                }
            }
        }
    }
}

/// True for an event that only the server's answer produces.
fn answered<F>(event: &Event<F>) -> bool {
    !matches!(event, Event::Init)
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// The next update; the merged watchers never end, so neither does this.
async fn next(updates: &mut (impl Stream<Item = Update> + Unpin)) -> Update {
    match updates.next().await {
        Some(update) => update,
        None => std::future::pending().await,
    }
}

fn report(
    ctx: &SourceContext,
    label: &str,
    state: &Watching,
    all_namespaces: bool,
    config: &Config,
) -> SourceReport {
    let (clusters, members) = report::observations(&state.inventory, all_namespaces, config);
    SourceReport {
        clusters,
        members,
        notes: state.hidden.values().cloned().collect(),
        ..base_report(ctx, label.to_string(), state.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_after_a_quiet_period_goes_out_at_once_and_a_burst_is_gathered() {
        let start = Instant::now();
        assert_eq!(due_after(None, start), start, "the first change");
        let long_after = start + Duration::from_secs(5);
        assert_eq!(
            due_after(Some(start), long_after),
            long_after,
            "quiet since"
        );
        let soon = start + Duration::from_millis(10);
        assert_eq!(due_after(Some(start), soon), start + DEBOUNCE, "in a burst");
    }
}
