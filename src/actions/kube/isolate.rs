//! Cutting a pod off the network: a NetworkPolicy that selects exactly that
//! pod, lists both policy types and allows nothing, so neither ingress nor
//! egress is allowed. It is labelled as the console's and with the fault's
//! id, so `clusterdeck heal` finds it without the ledger; deleting it heals.
//!
//! A StatefulSet's pod is selected by `statefulset.kubernetes.io/pod-name`,
//! which only that pod carries. Any other pod is selected by its whole label
//! set, which may match its siblings too: the console checks that it
//! matches this pod alone and refuses otherwise, and says which way the pod
//! was selected. A policy only works where the network plugin enforces
//! NetworkPolicy; the API server accepts it everywhere.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, ResourceExt};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{KubeActionError, KubeActions, ObjectRef};
use crate::sources::kube::inventory::POD_NAME_LABEL;
use crate::sources::kube::{MANAGED_BY_LABEL, MANAGED_BY_VALUE};

/// The label carrying the ledger's fault id.
pub const FAULT_LABEL: &str = "clusterdeck.io/fault";
/// Annotation: the isolated member, `namespace/pod`.
pub const MEMBER_ANNOTATION: &str = "clusterdeck.io/member";
/// Annotation: when the fault heals itself (RFC 3339, UTC).
pub const EXPIRES_ANNOTATION: &str = "clusterdeck.io/expires-at";
/// Annotation: how the pod is selected (the pod-name label or all labels).
pub const SELECTED_BY_ANNOTATION: &str = "clusterdeck.io/selected-by";

const NAME_PREFIX: &str = "clusterdeck-isolate-";
/// Object names the console makes stay DNS-1123 labels.
const MAX_NAME: usize = 63;

/// What to isolate, and the fault it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsolationRequest {
    pub namespace: String,
    pub pod: String,
    /// The ledger's id for this fault; becomes a label value, so at most 63
    /// characters of `[A-Za-z0-9._-]`, starting and ending alphanumeric.
    pub fault_id: String,
    /// When the fault heals itself; written on the policy for anyone looking.
    pub expires_at: OffsetDateTime,
}

/// How a policy selects its pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodSelection {
    /// `statefulset.kubernetes.io/pod-name: <pod>`: this pod and no other.
    PodNameLabel,
    /// Every label of a pod that has no pod-name label; checked to match
    /// only this pod when the policy was made.
    AllLabels,
}

impl PodSelection {
    fn annotation(self) -> &'static str {
        match self {
            PodSelection::PodNameLabel => POD_NAME_LABEL,
            PodSelection::AllLabels => "all labels of the pod",
        }
    }
}

/// An isolation the API server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsolatedPod {
    pub namespace: String,
    pub pod: String,
    /// The NetworkPolicy's name; deleting it heals.
    pub policy: String,
    pub selection: PodSelection,
    pub selector: BTreeMap<String, String>,
    pub fault_id: String,
}

impl IsolatedPod {
    pub fn summary(&self) -> String {
        let how = match self.selection {
            PodSelection::PodNameLabel => "its pod-name label".to_string(),
            PodSelection::AllLabels => format!(
                "all its labels ({}), as it has no pod-name label",
                selector_text(&self.selector)
            ),
        };
        format!(
            "Pod {}/{} isolated by NetworkPolicy {}, selected by {how}",
            self.namespace, self.pod, self.policy
        )
    }
}

/// How a heal ended; both mean the policy is not there any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Healed {
    Removed,
    /// 404: someone (or an earlier heal) removed it already.
    AlreadyGone,
}

/// A NetworkPolicy labelled as the console's, as found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsolePolicy {
    pub namespace: String,
    pub name: String,
    pub fault_id: Option<String>,
    /// `namespace/pod`, from the annotation.
    pub member: Option<String>,
    /// RFC 3339, from the annotation.
    pub expires_at: Option<String>,
}

/// `clusterdeck-isolate-<pod>`, or, when the pod's name is too long or not
/// a DNS-1123 label, its start and a hash of the whole name, so two pods
/// never share a policy.
pub fn isolation_policy_name(pod: &str) -> String {
    let clean: String = pod
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            _ => '-',
        })
        .collect();
    if clean == pod && NAME_PREFIX.len() + pod.len() <= MAX_NAME {
        return format!("{NAME_PREFIX}{pod}");
    }
    let hash = format!("{:08x}", fnv1a(pod));
    let room = MAX_NAME - NAME_PREFIX.len() - hash.len() - 1;
    let head: String = clean.chars().take(room).collect();
    match head.trim_matches('-') {
        "" => format!("{NAME_PREFIX}{hash}"),
        head => format!("{NAME_PREFIX}{head}-{hash}"),
    }
}

/// 32-bit FNV-1a: stable across runs and builds, unlike the std hasher.
fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

/// `/apis/networking.k8s.io/v1/namespaces/<ns>/networkpolicies`.
pub fn policies_path(namespace: &str) -> String {
    format!("/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies")
}

/// The confirm dialog's text. It assumes the pod-name label, which every
/// pod the Kubernetes source shows carries; the outcome says otherwise.
pub fn describe_isolate(namespace: &str, pod: &str, ttl: Duration) -> String {
    format!(
        "Cut pod {namespace}/{pod} off the network for {}: POST {} (NetworkPolicy {}: deny-all ingress+egress for pod {pod}, selected by {POD_NAME_LABEL}={pod}; takes effect only where the network plugin enforces NetworkPolicy)",
        humantime::format_duration(ttl),
        policies_path(namespace),
        isolation_policy_name(pod),
    )
}

/// The confirm dialog's text for healing one isolation.
pub fn describe_heal_isolation(namespace: &str, policy: &str) -> String {
    format!(
        "Heal: delete NetworkPolicy {namespace}/{policy}: DELETE {}/{policy}",
        policies_path(namespace)
    )
}

/// Which labels select the pod, and how; Err says why none can.
pub fn pod_selection(
    pod: &str,
    labels: &BTreeMap<String, String>,
) -> Result<(PodSelection, BTreeMap<String, String>), String> {
    if labels.get(POD_NAME_LABEL).map(String::as_str) == Some(pod) {
        let only = BTreeMap::from([(POD_NAME_LABEL.to_string(), pod.to_string())]);
        return Ok((PodSelection::PodNameLabel, only));
    }
    if labels.is_empty() {
        // An empty podSelector selects every pod of the namespace.
        return Err("the pod has no labels, so no policy can select it alone".into());
    }
    Ok((PodSelection::AllLabels, labels.clone()))
}

/// The policy for `request`, selecting with `selector`.
pub fn isolation_policy(
    request: &IsolationRequest,
    selection: PodSelection,
    selector: &BTreeMap<String, String>,
) -> NetworkPolicy {
    let labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
        (FAULT_LABEL.to_string(), request.fault_id.clone()),
    ]);
    let expires = request
        .expires_at
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default();
    let annotations = BTreeMap::from([
        (
            MEMBER_ANNOTATION.to_string(),
            format!("{}/{}", request.namespace, request.pod),
        ),
        (EXPIRES_ANNOTATION.to_string(), expires),
        (
            SELECTED_BY_ANNOTATION.to_string(),
            selection.annotation().to_string(),
        ),
    ]);
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(isolation_policy_name(&request.pod)),
            namespace: Some(request.namespace.clone()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector.clone()),
                match_expressions: None,
            }),
            // Both types and no rules: nothing in, nothing out.
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: None,
            egress: None,
        }),
    }
}

/// `k=v,k2=v2`, the query form of a selector.
fn selector_text(selector: &BTreeMap<String, String>) -> String {
    selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Label values: at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn valid_label_value(value: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    value.len() <= 63
        && edge(value.chars().next())
        && edge(value.chars().last())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl ConsolePolicy {
    fn from_policy(policy: &NetworkPolicy) -> ConsolePolicy {
        let annotation = |key: &str| policy.annotations().get(key).cloned();
        ConsolePolicy {
            namespace: policy.namespace().unwrap_or_default(),
            name: policy.name_any(),
            fault_id: policy.labels().get(FAULT_LABEL).cloned(),
            member: annotation(MEMBER_ANNOTATION),
            expires_at: annotation(EXPIRES_ANNOTATION),
        }
    }
}

impl KubeActions {
    /// Creates the deny-all policy for the pod. The pod is read first for
    /// its labels (404 if it is not there); a 409 means the pod's policy
    /// exists already: [`KubeActionError::AlreadyIsolated`].
    pub async fn isolate_pod(
        &self,
        request: &IsolationRequest,
    ) -> Result<IsolatedPod, KubeActionError> {
        let pod_ref = ObjectRef::namespaced("Pod", &request.namespace, &request.pod);
        if !valid_label_value(&request.fault_id) {
            return Err(KubeActionError::Refused {
                object: pod_ref,
                reason: format!("fault id {:?} is not a valid label value", request.fault_id),
            });
        }
        self.bounded(pod_ref.clone(), self.isolate_unbounded(request, pod_ref))
            .await
    }

    async fn isolate_unbounded(
        &self,
        request: &IsolationRequest,
        pod_ref: ObjectRef,
    ) -> Result<IsolatedPod, KubeActionError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &request.namespace);
        let pod = pods
            .get(&request.pod)
            .await
            .map_err(|e| KubeActionError::from_kube(pod_ref.clone(), e))?;
        let (selection, selector) =
            pod_selection(&request.pod, pod.labels()).map_err(|reason| {
                KubeActionError::Refused {
                    object: pod_ref.clone(),
                    reason,
                }
            })?;
        if selection == PodSelection::AllLabels {
            self.check_selects_only(&pods, &pod_ref, &selector).await?;
        }
        let policy = isolation_policy(request, selection, &selector);
        let name = policy.name_any();
        let policies: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), &request.namespace);
        match policies.create(&PostParams::default(), &policy).await {
            Ok(_) => Ok(IsolatedPod {
                namespace: request.namespace.clone(),
                pod: request.pod.clone(),
                policy: name,
                selection,
                selector,
                fault_id: request.fault_id.clone(),
            }),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                Err(KubeActionError::AlreadyIsolated {
                    object: pod_ref,
                    policy: name,
                    message: status.message,
                })
            }
            Err(e) => Err(KubeActionError::from_kube(
                ObjectRef::namespaced("NetworkPolicy", &request.namespace, &name),
                e,
            )),
        }
    }

    /// Refuses a selector that matches other pods than this one.
    async fn check_selects_only(
        &self,
        pods: &Api<Pod>,
        pod_ref: &ObjectRef,
        selector: &BTreeMap<String, String>,
    ) -> Result<(), KubeActionError> {
        let text = selector_text(selector);
        let matched = pods
            .list(&ListParams::default().labels(&text))
            .await
            .map_err(|e| KubeActionError::from_kube(pod_ref.clone(), e))?;
        let others: Vec<String> = matched
            .items
            .iter()
            .map(ResourceExt::name_any)
            .filter(|n| *n != pod_ref.name)
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        Err(KubeActionError::Refused {
            object: pod_ref.clone(),
            reason: format!(
                "it has no {POD_NAME_LABEL} label, and its labels ({text}) also select {}",
                others.join(", ")
            ),
        })
    }

    /// Deletes an isolation policy. Already gone (404) is a heal too.
    pub async fn heal_isolation(
        &self,
        namespace: &str,
        policy: &str,
    ) -> Result<Healed, KubeActionError> {
        let object = ObjectRef::namespaced("NetworkPolicy", namespace, policy);
        let api: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), namespace);
        self.bounded(object.clone(), async {
            match api.delete(policy, &DeleteParams::default()).await {
                Ok(_) => Ok(Healed::Removed),
                Err(e) => match KubeActionError::from_kube(object.clone(), e) {
                    KubeActionError::NotFound { .. } => Ok(Healed::AlreadyGone),
                    other => Err(other),
                },
            }
        })
        .await
    }

    /// Every NetworkPolicy labelled as the console's, in one namespace or
    /// all (None), sorted by namespace and name: what `clusterdeck heal`
    /// removes even when the ledger is lost.
    pub async fn find_console_policies(
        &self,
        namespace: Option<&str>,
    ) -> Result<Vec<ConsolePolicy>, KubeActionError> {
        let object = ObjectRef::list("NetworkPolicy", namespace);
        let api: Api<NetworkPolicy> = match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        };
        let ours = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
        self.bounded(object.clone(), async {
            let list = api
                .list(&ListParams::default().labels(&ours))
                .await
                .map_err(|e| KubeActionError::from_kube(object.clone(), e))?;
            let mut found: Vec<ConsolePolicy> =
                list.items.iter().map(ConsolePolicy::from_policy).collect();
            found.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            Ok(found)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(pod: &str) -> IsolationRequest {
        IsolationRequest {
            namespace: "ns".into(),
            pod: pod.into(),
            fault_id: "f-20261122-0001".into(),
            expires_at: time::macros::datetime!(2026-11-22 14:05 UTC),
        }
    }

    #[test]
    fn names_are_dns_labels_and_unique_per_pod() {
        assert_eq!(
            isolation_policy_name("copy-1"),
            "clusterdeck-isolate-copy-1"
        );
        let long = "a".repeat(60);
        let other = format!("{}b", "a".repeat(59));
        let (a, b) = (isolation_policy_name(&long), isolation_policy_name(&other));
        assert_ne!(a, b);
        let dotted = isolation_policy_name("web.v2-0");
        for name in [&a, &b, &dotted] {
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(
                name.ends_with(|c: char| c.is_ascii_alphanumeric()),
                "{name}"
            );
        }
        assert!(
            dotted.starts_with("clusterdeck-isolate-web-v2-0-"),
            "{dotted}"
        );
    }

    #[test]
    fn the_policy_denies_everything_for_exactly_the_pod() {
        let labels = BTreeMap::from([
            ("app".to_string(), "copy".to_string()),
            (POD_NAME_LABEL.to_string(), "copy-1".to_string()),
        ]);
        let (selection, selector) = pod_selection("copy-1", &labels).unwrap();
        assert_eq!(selection, PodSelection::PodNameLabel);
        let policy = isolation_policy(&request("copy-1"), selection, &selector);
        let value = serde_json::to_value(&policy).unwrap();
        assert_eq!(
            value["spec"],
            json!({"podSelector": {"matchLabels": {POD_NAME_LABEL: "copy-1"}},
                   "policyTypes": ["Ingress", "Egress"]})
        );
        assert_eq!(
            value["metadata"]["labels"],
            json!({"app.kubernetes.io/managed-by": "clusterdeck",
                   "clusterdeck.io/fault": "f-20261122-0001"})
        );
        assert_eq!(
            value["metadata"]["annotations"][EXPIRES_ANNOTATION],
            "2026-11-22T14:05:00Z"
        );
        assert_eq!(
            value["metadata"]["annotations"][MEMBER_ANNOTATION],
            "ns/copy-1"
        );
    }

    #[test]
    fn pods_without_the_pod_name_label_fall_back_to_all_labels_but_never_to_none() {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let (selection, selector) = pod_selection("web-abc", &labels).unwrap();
        assert_eq!(selection, PodSelection::AllLabels);
        assert_eq!(selector, labels);
        assert!(pod_selection("bare", &BTreeMap::new()).is_err());
    }

    #[test]
    fn fault_ids_must_be_label_values() {
        assert!(valid_label_value("f-1.a_b"));
        for bad in ["", "-f", "f/1", &"f".repeat(64)] {
            assert!(!valid_label_value(bad), "{bad}");
        }
    }

    #[test]
    fn the_dialog_shows_the_exact_call() {
        assert_eq!(
            describe_isolate("ns", "copy-1", Duration::from_secs(300)),
            "Cut pod ns/copy-1 off the network for 5m: POST /apis/networking.k8s.io/v1/namespaces/ns/networkpolicies (NetworkPolicy clusterdeck-isolate-copy-1: deny-all ingress+egress for pod copy-1, selected by statefulset.kubernetes.io/pod-name=copy-1; takes effect only where the network plugin enforces NetworkPolicy)"
        );
        assert_eq!(
            describe_heal_isolation("ns", "clusterdeck-isolate-copy-1"),
            "Heal: delete NetworkPolicy ns/clusterdeck-isolate-copy-1: DELETE /apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/clusterdeck-isolate-copy-1"
        );
    }
}
