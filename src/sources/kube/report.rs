//! From the inventory to observations: one cluster per application (see
//! [`super::tiers`] for how StatefulSets are grouped), one member per pod.
//! Pure, so the rules are tested without a server.

use std::collections::{BTreeMap, HashMap};

use crate::model::{
    Authority, ClusterObservation, Handles, Health, KubeHandle, MemberObservation, Placement,
    Platform, Tier, normalize_address,
};

use super::inventory::{Inventory, NodeFacts, PodFacts};
use super::tiers::{Grouping, cluster_id, grouping, platform_role};
use crate::config::Config;

/// Cluster and member observations for everything in `inventory`. Pod names
/// are qualified by namespace (`ns/pod`) when several namespaces are watched.
pub fn observations(
    inventory: &Inventory,
    all_namespaces: bool,
    config: &Config,
) -> (Vec<ClusterObservation>, Vec<MemberObservation>) {
    let policies = isolated_pods(inventory);
    let mut clusters: BTreeMap<String, ClusterObservation> = BTreeMap::new();
    let mut pods: Vec<&PodFacts> = inventory
        .pods
        .values()
        .filter(|p| p.statefulset.is_some())
        .collect();
    pods.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let members = pods
        .into_iter()
        .map(|pod| {
            let sts_name = pod.statefulset.as_deref().unwrap_or_default();
            let sts = inventory
                .statefulsets
                .get(&format!("{}/{sts_name}", pod.namespace));
            let labels = sts.map_or(&pod.labels, |s| &s.labels);
            let configured = configured(config, pod, sts_name, labels);
            // Each cluster is described once, not once per pod.
            let cluster = match &configured {
                Some(c) => {
                    let id = c.cluster.clone();
                    clusters
                        .entry(id.clone())
                        .or_insert_with(|| configured_cluster(c));
                    id
                }
                None => {
                    let group = grouping(sts_name, labels);
                    let id = cluster_id(&pod.namespace, &group);
                    clusters
                        .entry(id.clone())
                        .or_insert_with(|| cluster_observation(&id, &pod.namespace, &group));
                    id
                }
            };
            let node = pod.node.as_deref().and_then(|n| inventory.nodes.get(n));
            let single = sts.and_then(|s| s.replicas) == Some(1);
            let key = format!("{}/{}", pod.namespace, pod.name);
            let mut member = member(pod, node, cluster, single, all_namespaces);
            if let Some(c) = &configured {
                apply_config(&mut member, pod, c);
            }
            if let Some(policy) = policies.get(&key) {
                member
                    .raw
                    .insert("isolated_by".into(), (*policy).to_string());
                if let Some(kube) = member.placement.handles.kube.as_mut() {
                    kube.isolated_by = Some((*policy).to_string());
                }
            }
            member
        })
        .collect();
    (clusters.into_values().collect(), members)
}

/// What a config rule says of a pod: its cluster, tier and port.
struct Configured {
    cluster: String,
    name: String,
    tier: Tier,
    port: Option<u16>,
}

/// The first config rule the pod (by pod or StatefulSet name, pod or
/// StatefulSet labels) belongs to. Config beats labels and naming.
fn configured(
    config: &Config,
    pod: &PodFacts,
    statefulset: &str,
    labels: &super::tiers::Labels,
) -> Option<Configured> {
    let names = [pod.name.as_str(), statefulset];
    let lookup = |k: &str| {
        pod.labels
            .get(k)
            .or_else(|| labels.get(k))
            .map(String::as_str)
    };
    let assignment = config.assign(&names, &lookup)?;
    Some(Configured {
        cluster: assignment.rule.cluster_id(),
        name: assignment.rule.name.clone(),
        tier: assignment.tier,
        port: assignment.rule.port,
    })
}

fn configured_cluster(c: &Configured) -> ClusterObservation {
    ClusterObservation {
        id: c.cluster.clone(),
        kind: "config".into(),
        name: c.name.clone(),
        precedence: 0,
        ..ClusterObservation::default()
    }
}

/// The rule's tier (when it names one) and port override what naming found.
fn apply_config(member: &mut MemberObservation, pod: &PodFacts, c: &Configured) {
    if c.tier != Tier::Unknown {
        member.tier = c.tier;
        member.native_role = Some(c.tier.as_str().to_string());
    }
    if let (Some(ip), Some(port)) = (&pod.ip, c.port) {
        member.address = Some(normalize_address(ip, port));
    }
    member.placement.handles.config_rule = Some(c.name.clone());
}

fn cluster_observation(id: &str, namespace: &str, group: &Grouping) -> ClusterObservation {
    let name = match group {
        Grouping::Named(name) => name.clone(),
        Grouping::Namespace => namespace.to_string(),
    };
    ClusterObservation {
        id: id.to_string(),
        kind: "statefulset".into(),
        name,
        precedence: 0,
        ..ClusterObservation::default()
    }
}

/// Pods a console NetworkPolicy cuts off, by `namespace/pod`, with the policy's name.
fn isolated_pods(inventory: &Inventory) -> HashMap<String, &str> {
    inventory
        .policies
        .values()
        .filter_map(|p| {
            let pod = p.pod.as_ref()?;
            Some((format!("{}/{pod}", p.namespace), p.name.as_str()))
        })
        .collect()
}

fn member(
    pod: &PodFacts,
    node: Option<&NodeFacts>,
    cluster: String,
    single_replica: bool,
    all_namespaces: bool,
) -> MemberObservation {
    let sts_name = pod.statefulset.clone().unwrap_or_default();
    let role = platform_role(&sts_name, &pod.labels);
    let name = if all_namespaces {
        format!("{}/{}", pod.namespace, pod.name)
    } else {
        pod.name.clone()
    };
    MemberObservation {
        cluster,
        name,
        address: match (&pod.ip, pod.port) {
            (Some(ip), Some(port)) => Some(normalize_address(ip, port)),
            _ => None,
        },
        identity: Some(format!("{}/{}", pod.namespace, pod.name)),
        authority: Authority::Platform,
        tier: role.tier,
        // One master-tier instance leads by construction (AllegroGraph's
        // controlling instance); among several, the application decides.
        leader: role.tier == Tier::Master && single_replica && !pod.terminating,
        native_role: role.native_role,
        health: health(pod, node),
        placement: Placement {
            platform: Some(Platform::Kubernetes),
            node: pod.node.clone(),
            namespace: Some(pod.namespace.clone()),
            pod: Some(pod.name.clone()),
            service: Some(sts_name),
            handles: Handles {
                kube: Some(KubeHandle {
                    statefulset: pod.statefulset.clone(),
                    node_cordoned: node.is_some_and(|n| n.unschedulable),
                    isolated_by: None,
                }),
                ..Handles::default()
            }
            .into(),
            ..Placement::default()
        },
        error: None,
        raw: raw(pod, node).into(),
        ..MemberObservation::default()
    }
}

/// Running and ready is ok; running but not ready, terminating, or on a node
/// that is not ready is degraded; anything else is down.
pub fn health(pod: &PodFacts, node: Option<&NodeFacts>) -> Health {
    let running = pod.phase.as_deref() == Some("Running");
    let node_ready = node.and_then(|n| n.ready).unwrap_or(true);
    match (running, pod.ready && node_ready && !pod.terminating) {
        (true, true) => Health::Ok,
        (true, false) => Health::Degraded,
        (false, _) => Health::Down,
    }
}

fn raw(pod: &PodFacts, node: Option<&NodeFacts>) -> BTreeMap<String, String> {
    let mut raw = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        raw.insert(k.to_string(), v);
    };
    put(
        "phase",
        pod.phase.clone().unwrap_or_else(|| "Unknown".into()),
    );
    put("ready", pod.ready.to_string());
    put("restarts", pod.restarts.to_string());
    if let Some(ordinal) = pod.ordinal {
        put("ordinal", ordinal.to_string());
    }
    if let Some(sts) = &pod.statefulset {
        put("statefulset", sts.clone());
    }
    if let Some(ip) = &pod.ip {
        put("pod_ip", ip.clone());
    }
    if pod.terminating {
        put("terminating", "true".into());
    }
    if let Some(node) = node {
        if node.unschedulable {
            put("node_cordoned", "true".into());
        }
        if node.ready == Some(false) {
            put("node_ready", "false".into());
        }
    }
    raw
}

#[cfg(test)]
mod tests {
    use kube::runtime::watcher::Event;

    use super::super::inventory::StatefulSetFacts;
    use super::*;

    fn pod(sts: &str, ordinal: u32, ip: &str) -> PodFacts {
        PodFacts {
            namespace: "ag".into(),
            name: format!("{sts}-{ordinal}"),
            statefulset: Some(sts.into()),
            ordinal: Some(ordinal),
            ip: Some(ip.into()),
            port: Some(10035),
            node: Some("node-1".into()),
            phase: Some("Running".into()),
            ready: true,
            ..Default::default()
        }
    }

    fn sts(name: &str, replicas: i32) -> StatefulSetFacts {
        StatefulSetFacts {
            namespace: "ag".into(),
            name: name.into(),
            replicas: Some(replicas),
            ..Default::default()
        }
    }

    fn allegrograph() -> Inventory {
        let mut inv = Inventory::default();
        inv.statefulsets.apply(Event::Apply(sts("controlling", 1)));
        inv.statefulsets.apply(Event::Apply(sts("copy", 3)));
        inv.pods
            .apply(Event::Apply(pod("controlling", 0, "10.0.0.1")));
        for i in 0..3 {
            inv.pods
                .apply(Event::Apply(pod("copy", i, &format!("10.0.1.{i}"))));
        }
        inv
    }

    #[test]
    fn controlling_and_copy_are_one_cluster_with_one_leading_master() {
        let (clusters, members) = observations(&allegrograph(), false, &Config::default());
        assert_eq!(clusters.len(), 1);
        assert_eq!(clusters[0].id, "k8s/ag");
        assert!(members.iter().all(|m| m.cluster == "k8s/ag"));
        let masters: Vec<_> = members.iter().filter(|m| m.tier == Tier::Master).collect();
        assert_eq!(masters.len(), 1);
        assert!(masters[0].leader);
        assert_eq!(masters[0].name, "controlling-0");
        assert_eq!(masters[0].address.as_deref(), Some("10.0.0.1:10035"));
        assert_eq!(masters[0].placement.service.as_deref(), Some("controlling"));
        let copies = members.iter().filter(|m| m.tier == Tier::Copy).count();
        assert_eq!(copies, 3);
        assert!(members.iter().all(|m| m.health == Health::Ok));
    }

    #[test]
    fn a_config_rule_beats_naming_for_cluster_tier_and_port() {
        let mut inv = Inventory::default();
        inv.statefulsets
            .apply(Event::Apply(sts("graph-primary", 1)));
        inv.statefulsets
            .apply(Event::Apply(sts("graph-replica", 2)));
        inv.pods
            .apply(Event::Apply(pod("graph-primary", 0, "10.0.0.1")));
        for i in 0..2 {
            inv.pods.apply(Event::Apply(pod(
                "graph-replica",
                i,
                &format!("10.0.1.{i}"),
            )));
        }
        let yaml = "clusters:\n  - name: graph\n    match: {names: ['graph-*']}\n    master: {names: ['graph-primary*']}\n    copy: {names: ['graph-replica*']}\n    port: 7000\n";
        let config = Config::parse(yaml, std::path::Path::new("graph.yaml")).unwrap();
        let (clusters, members) = observations(&inv, false, &config);
        assert_eq!(clusters.len(), 1, "{clusters:?}");
        assert_eq!(clusters[0].id, "config/graph");
        let tier = |name: &str| members.iter().find(|m| m.name == name).map(|m| m.tier);
        assert_eq!(tier("graph-primary-0"), Some(Tier::Master));
        assert_eq!(tier("graph-replica-1"), Some(Tier::Copy));
        let primary = members
            .iter()
            .find(|m| m.name == "graph-primary-0")
            .unwrap();
        assert!(primary.leader, "a single master-tier instance leads");
        assert_eq!(primary.address.as_deref(), Some("10.0.0.1:7000"));
        // Without the rule, naming decides: another cluster, the declared port.
        let (_, members) = observations(&inv, false, &Config::default());
        assert!(members.iter().all(|m| !m.cluster.starts_with("config/")));
        assert!(
            members
                .iter()
                .all(|m| m.address.as_deref().is_some_and(|a| a.ends_with(":10035")))
        );
    }

    #[test]
    fn health_follows_phase_readiness_and_node() {
        let mut p = pod("copy", 0, "10.0.0.1");
        assert_eq!(health(&p, None), Health::Ok);
        let sick_node = NodeFacts {
            name: "node-1".into(),
            unschedulable: false,
            ready: Some(false),
        };
        assert_eq!(health(&p, Some(&sick_node)), Health::Degraded);
        p.ready = false;
        assert_eq!(health(&p, None), Health::Degraded);
        p.phase = Some("Pending".into());
        assert_eq!(health(&p, None), Health::Down);
    }

    #[test]
    fn all_namespaces_qualifies_names_and_pods_without_ip_have_no_address() {
        let mut inv = allegrograph();
        let mut pending = pod("copy", 3, "");
        pending.ip = None;
        pending.phase = Some("Pending".into());
        inv.pods.apply(Event::Apply(pending));
        let (_, members) = observations(&inv, true, &Config::default());
        let m = members.iter().find(|m| m.name == "ag/copy-3").unwrap();
        assert_eq!(m.address, None);
        assert_eq!(m.health, Health::Down);
    }
}
