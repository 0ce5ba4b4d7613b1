//! Which tier a pod is in, and which cluster its StatefulSet belongs to,
//! decided from names and labels alone (the platform's word, the weakest:
//! the application's own answer, e.g. Redis `INFO replication`, overrides it
//! when a source asks the application).
//!
//! Tier, first rule that answers:
//! 1. the label `clusterdeck.io/tier` = `master` | `copy`;
//! 2. the label `role` (or `app.kubernetes.io/component`) holding a tier word;
//! 3. the StatefulSet's name, or its last `-` part, being a tier word.
//!
//! Tier words: master tier `controlling`, `master`, `primary`, `leader`,
//! `zero`; copy tier `copy`, `copies`, `replica`, `replicas`, `slave`,
//! `secondary`, `follower`, `alpha`, `worker`. (`server` is not one:
//! `redis-server` is no copy.)
//!
//! A master-tier StatefulSet of exactly one replica names its leader (the
//! AllegroGraph controlling instance); with more, who leads is the
//! application's to say.
//!
//! Cluster (StatefulSets of one application form one cluster), first rule
//! that answers:
//! 1. the label `app.kubernetes.io/instance` (a Helm release), else
//!    `app.kubernetes.io/part-of`;
//! 2. the name with a trailing tier word removed (`ag-controlling` and
//!    `ag-copy` are cluster `ag`);
//! 3. a name that is only a tier word (`controlling`, `copy`, as in the
//!    AllegroGraph write-up): every such StatefulSet of the namespace is one
//!    cluster, named after the namespace;
//! 4. otherwise the StatefulSet alone.

use std::collections::BTreeMap;

use crate::model::Tier;

/// Labels of a StatefulSet's pods (or the StatefulSet itself).
pub type Labels = BTreeMap<String, String>;

/// The label that states a tier outright.
pub const TIER_LABEL: &str = "clusterdeck.io/tier";

const MASTER_WORDS: &[&str] = &["controlling", "master", "primary", "leader", "zero"];
const COPY_WORDS: &[&str] = &[
    "copy",
    "copies",
    "replica",
    "replicas",
    "slave",
    "secondary",
    "follower",
    "alpha",
    "worker",
];

/// What naming and labels say about a pod's role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformRole {
    pub tier: Tier,
    /// The word that decided it (`controlling`, `copy`, `zero`), if any.
    pub native_role: Option<String>,
}

fn word_tier(word: &str) -> Option<Tier> {
    let word = word.to_ascii_lowercase();
    if MASTER_WORDS.contains(&word.as_str()) {
        Some(Tier::Master)
    } else if COPY_WORDS.contains(&word.as_str()) {
        Some(Tier::Copy)
    } else {
        None
    }
}

/// The tier of a pod of StatefulSet `statefulset` with pod labels `labels`.
pub fn platform_role(statefulset: &str, labels: &Labels) -> PlatformRole {
    if let Some(value) = labels.get(TIER_LABEL) {
        match value.as_str() {
            "master" => return role(Tier::Master, None),
            "copy" => return role(Tier::Copy, None),
            _ => {}
        }
    }
    for key in ["role", "app.kubernetes.io/component"] {
        if let Some(value) = labels.get(key)
            && let Some(tier) = word_tier(value)
        {
            return role(tier, Some(value.clone()));
        }
    }
    let last = statefulset.rsplit('-').next().unwrap_or(statefulset);
    for word in [statefulset, last] {
        if let Some(tier) = word_tier(word) {
            return role(tier, Some(word.to_string()));
        }
    }
    role(Tier::Unknown, None)
}

fn role(tier: Tier, native_role: Option<String>) -> PlatformRole {
    PlatformRole { tier, native_role }
}

/// The cluster a StatefulSet belongs to within its namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grouping {
    /// Named by a label or a name prefix.
    Named(String),
    /// Every bare-tier-word StatefulSet of the namespace.
    Namespace,
}

/// Which cluster StatefulSet `name` with labels `labels` is part of.
pub fn grouping(name: &str, labels: &Labels) -> Grouping {
    for key in ["app.kubernetes.io/instance", "app.kubernetes.io/part-of"] {
        if let Some(value) = labels.get(key).filter(|v| !v.is_empty()) {
            return Grouping::Named(value.clone());
        }
    }
    if word_tier(name).is_some() {
        return Grouping::Namespace;
    }
    match name.rsplit_once('-') {
        Some((prefix, last)) if word_tier(last).is_some() && !prefix.is_empty() => {
            Grouping::Named(prefix.to_string())
        }
        _ => Grouping::Named(name.to_string()),
    }
}

/// The cluster id: `k8s/<namespace>/<group>`, or `k8s/<namespace>` for the
/// namespace's bare-tier-word group.
pub fn cluster_id(namespace: &str, grouping: &Grouping) -> String {
    match grouping {
        Grouping::Named(group) => format!("k8s/{namespace}/{group}"),
        Grouping::Namespace => format!("k8s/{namespace}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn allegrograph_names_give_master_and_copy() {
        let none = Labels::new();
        let controlling = platform_role("controlling", &none);
        assert_eq!(controlling.tier, Tier::Master);
        assert_eq!(controlling.native_role.as_deref(), Some("controlling"));
        assert_eq!(platform_role("copy", &none).tier, Tier::Copy);
        assert_eq!(platform_role("ag-copy", &none).tier, Tier::Copy);
        assert_eq!(platform_role("dgraph-zero", &none).tier, Tier::Master);
        assert_eq!(platform_role("dgraph-alpha", &none).tier, Tier::Copy);
        assert_eq!(platform_role("redis", &none).tier, Tier::Unknown);
    }

    #[test]
    fn labels_beat_names() {
        let l = labels(&[(TIER_LABEL, "copy")]);
        assert_eq!(platform_role("controlling", &l).tier, Tier::Copy);
        let l = labels(&[("role", "primary")]);
        let r = platform_role("db", &l);
        assert_eq!(
            (r.tier, r.native_role.as_deref()),
            (Tier::Master, Some("primary"))
        );
        let l = labels(&[("app.kubernetes.io/component", "replica")]);
        assert_eq!(platform_role("db", &l).tier, Tier::Copy);
        // A label that is no tier word falls through to the name.
        let l = labels(&[("role", "cache"), (TIER_LABEL, "bogus")]);
        assert_eq!(platform_role("db-master", &l).tier, Tier::Master);
    }

    #[test]
    fn statefulsets_of_one_application_are_one_cluster() {
        let none = Labels::new();
        assert_eq!(grouping("controlling", &none), Grouping::Namespace);
        assert_eq!(grouping("copy", &none), Grouping::Namespace);
        assert_eq!(
            grouping("ag-controlling", &none),
            grouping("ag-copy", &none)
        );
        assert_eq!(grouping("ag-copy", &none), Grouping::Named("ag".into()));
        assert_eq!(grouping("redis", &none), Grouping::Named("redis".into()));
        assert_eq!(
            grouping("my-cache", &none),
            Grouping::Named("my-cache".into())
        );
        let helm = labels(&[("app.kubernetes.io/instance", "prod-db")]);
        assert_eq!(
            grouping("anything", &helm),
            Grouping::Named("prod-db".into())
        );
        assert_eq!(cluster_id("db", &Grouping::Namespace), "k8s/db");
        assert_eq!(cluster_id("db", &Grouping::Named("ag".into())), "k8s/db/ag");
    }
}
