//! What the watchers have seen, trimmed to the facts the console shows.
//!
//! Each object is reduced on arrival to a small struct (no managed fields,
//! no spec beyond what is used), which keeps 5,000 pods in a few megabytes.
//! A [`Table`] applies a watcher's events the way a reflector store does:
//! objects listed after an `Init` are buffered and replace the table at
//! `InitDone`, so a re-list after `410 Gone` neither loses nor duplicates.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::runtime::watcher::Event;

use super::tiers::Labels;

/// The label every pod of a StatefulSet carries (the pod's own name).
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";

/// One pod of a StatefulSet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodFacts {
    pub namespace: String,
    pub name: String,
    /// The owning StatefulSet (controller owner reference).
    pub statefulset: Option<String>,
    /// `<statefulset>-<ordinal>`.
    pub ordinal: Option<u32>,
    pub labels: Labels,
    pub ip: Option<String>,
    /// The first container port declared (the instance's own port).
    pub port: Option<u16>,
    pub node: Option<String>,
    pub phase: Option<String>,
    pub ready: bool,
    pub restarts: u32,
    /// Deletion asked; the grace period runs.
    pub terminating: bool,
}

impl PodFacts {
    pub fn from_pod(pod: &Pod) -> PodFacts {
        let meta = &pod.metadata;
        let name = meta.name.clone().unwrap_or_default();
        let statefulset = meta
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "StatefulSet" && o.controller == Some(true))
            .map(|o| o.name.clone());
        let ordinal = statefulset.as_deref().and_then(|sts| {
            name.strip_prefix(sts)?
                .strip_prefix('-')?
                .parse::<u32>()
                .ok()
        });
        let status = pod.status.as_ref();
        let containers = pod.spec.as_ref().map(|s| s.containers.as_slice());
        PodFacts {
            namespace: meta.namespace.clone().unwrap_or_default(),
            statefulset,
            ordinal,
            labels: meta.labels.clone().unwrap_or_default(),
            ip: status
                .and_then(|s| s.pod_ip.clone())
                .filter(|ip| !ip.is_empty()),
            port: containers.and_then(|cs| {
                cs.iter()
                    .flat_map(|c| c.ports.iter().flatten())
                    .find_map(|p| u16::try_from(p.container_port).ok())
            }),
            node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
            phase: status.and_then(|s| s.phase.clone()),
            ready: status
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            restarts: status
                .and_then(|s| s.container_statuses.as_ref())
                .map(|cs| cs.iter().map(|c| c.restart_count.max(0) as u32).sum())
                .unwrap_or(0),
            terminating: meta.deletion_timestamp.is_some(),
            name,
        }
    }
}

/// One StatefulSet.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatefulSetFacts {
    pub namespace: String,
    pub name: String,
    /// Its own labels with its pod template's (its own win).
    pub labels: Labels,
    pub replicas: Option<i32>,
    pub ready_replicas: Option<i32>,
}

impl StatefulSetFacts {
    pub fn from_statefulset(sts: &StatefulSet) -> StatefulSetFacts {
        let meta = &sts.metadata;
        let mut labels: Labels = sts
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        labels.extend(meta.labels.clone().unwrap_or_default());
        StatefulSetFacts {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            labels,
            replicas: sts.spec.as_ref().and_then(|s| s.replicas),
            ready_replicas: sts.status.as_ref().and_then(|s| s.ready_replicas),
        }
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeFacts {
    pub name: String,
    /// Cordoned (`spec.unschedulable`).
    pub unschedulable: bool,
    /// The Ready condition, when reported.
    pub ready: Option<bool>,
}

impl NodeFacts {
    pub fn from_node(node: &Node) -> NodeFacts {
        NodeFacts {
            name: node.metadata.name.clone().unwrap_or_default(),
            unschedulable: node
                .spec
                .as_ref()
                .and_then(|s| s.unschedulable)
                .unwrap_or(false),
            ready: node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
                .map(|c| c.status == "True"),
        }
    }
}

/// A NetworkPolicy the console created (labelled as its own).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyFacts {
    pub namespace: String,
    pub name: String,
    /// The pod it selects by `statefulset.kubernetes.io/pod-name`.
    pub pod: Option<String>,
}

impl PolicyFacts {
    pub fn from_policy(policy: &NetworkPolicy) -> PolicyFacts {
        PolicyFacts {
            namespace: policy.metadata.namespace.clone().unwrap_or_default(),
            name: policy.metadata.name.clone().unwrap_or_default(),
            pod: policy
                .spec
                .as_ref()
                .and_then(|s| s.pod_selector.as_ref())
                .and_then(|s| s.match_labels.as_ref())
                .and_then(|l| l.get(POD_NAME_LABEL).cloned()),
        }
    }
}

/// Facts that have a `namespace/name` key.
pub trait Keyed {
    fn key(&self) -> String;
}

macro_rules! keyed {
    ($($t:ty),*) => {$(
        impl Keyed for $t {
            fn key(&self) -> String {
                format!("{}/{}", self.namespace, self.name)
            }
        }
    )*};
}
keyed!(PodFacts, StatefulSetFacts, PolicyFacts);

impl Keyed for NodeFacts {
    fn key(&self) -> String {
        self.name.clone()
    }
}

/// One watcher's objects, applied as a reflector store applies events.
/// Ordered by key (`namespace/name`): a report lists pods in that order,
/// and sorting a fleet that is already in order costs one pass.
#[derive(Debug)]
pub struct Table<F> {
    items: BTreeMap<String, F>,
    /// Objects listed since the last `Init`, until `InitDone` swaps them in.
    listing: Option<BTreeMap<String, F>>,
    /// A whole list has been taken in at least once.
    pub synced: bool,
}

impl<F> Default for Table<F> {
    fn default() -> Self {
        Table {
            items: BTreeMap::new(),
            listing: None,
            synced: false,
        }
    }
}

impl<F: Keyed> Table<F> {
    /// Applies one event; true when what the table holds changed (events
    /// inside a listing change nothing until it is done).
    pub fn apply(&mut self, event: Event<F>) -> bool {
        match event {
            Event::Init => {
                self.listing = Some(BTreeMap::new());
                false
            }
            Event::InitApply(f) => {
                self.listing
                    .get_or_insert_with(BTreeMap::new)
                    .insert(f.key(), f);
                false
            }
            Event::InitDone => {
                self.items = self.listing.take().unwrap_or_default();
                self.synced = true;
                true
            }
            Event::Apply(f) => {
                self.items.insert(f.key(), f);
                true
            }
            Event::Delete(f) => self.items.remove(&f.key()).is_some(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&F> {
        self.items.get(key)
    }

    pub fn values(&self) -> impl Iterator<Item = &F> {
        self.items.values()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Maps a watcher event of objects into an event of their facts.
pub fn reduce<K, F>(event: Event<K>, facts: impl Fn(&K) -> F) -> Event<F> {
    match event {
        Event::Init => Event::Init,
        Event::InitApply(k) => Event::InitApply(facts(&k)),
        Event::InitDone => Event::InitDone,
        Event::Apply(k) => Event::Apply(facts(&k)),
        Event::Delete(k) => Event::Delete(facts(&k)),
    }
}

/// Everything the four watchers have seen.
#[derive(Debug, Default)]
pub struct Inventory {
    pub pods: Table<PodFacts>,
    pub statefulsets: Table<StatefulSetFacts>,
    pub nodes: Table<NodeFacts>,
    pub policies: Table<PolicyFacts>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> PodFacts {
        PodFacts {
            namespace: "db".into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_relist_replaces_the_table_without_duplicates_or_ghosts() {
        let mut table = Table::default();
        table.apply(Event::Init);
        table.apply(Event::InitApply(pod("a-0")));
        table.apply(Event::InitApply(pod("a-1")));
        assert!(table.is_empty(), "nothing shows before the list is done");
        assert!(table.apply(Event::InitDone));
        assert_eq!(table.len(), 2);
        // The watch expires; a-1 went and a-2 came while nobody watched.
        table.apply(Event::Init);
        table.apply(Event::InitApply(pod("a-0")));
        table.apply(Event::InitApply(pod("a-2")));
        assert_eq!(table.len(), 2, "the old view stays until the list is done");
        table.apply(Event::InitDone);
        let mut names: Vec<_> = table.values().map(|p| p.name.clone()).collect();
        names.sort();
        assert_eq!(names, ["a-0", "a-2"]);
        assert!(table.apply(Event::Delete(pod("a-0"))));
        assert!(!table.apply(Event::Delete(pod("a-0"))));
    }
}
