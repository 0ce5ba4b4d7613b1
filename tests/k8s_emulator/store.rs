//! The emulator's state: objects as JSON, one global `resourceVersion`
//! counter, the history of changes that watches replay, request counters,
//! injected failures, and the StatefulSet controller that keeps pods
//! `<name>-<ordinal>` in line with `spec.replicas`.
//!
//! Everything here runs under one lock, so a test can make several changes
//! and expire the watches in one step: the open watches then see `410 Gone`
//! before any of those changes, and only a re-list shows them.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::{Value, json};

use super::exec::{self, ExecRequest, ExecRun, ExecScript};
use super::selector::LabelSelector;

/// The resources the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Pod,
    Node,
    StatefulSet,
    NetworkPolicy,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Pod,
        Kind::Node,
        Kind::StatefulSet,
        Kind::NetworkPolicy,
    ];

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Pod => "pods",
            Kind::Node => "nodes",
            Kind::StatefulSet => "statefulsets",
            Kind::NetworkPolicy => "networkpolicies",
        }
    }

    pub fn from_plural(plural: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == plural)
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Node => "Node",
            Kind::StatefulSet => "StatefulSet",
            Kind::NetworkPolicy => "NetworkPolicy",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Pod | Kind::Node => "v1",
            Kind::StatefulSet => "apps/v1",
            Kind::NetworkPolicy => "networking.k8s.io/v1",
        }
    }

    pub fn namespaced(self) -> bool {
        self != Kind::Node
    }
}

/// What a request did, for the counters tests read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verb {
    List,
    Watch,
    Get,
    Create,
    Update,
    Patch,
    Delete,
    /// The pod `exec` subresource (RBAC: `create` on `pods/exec`).
    Exec,
}

impl Verb {
    pub fn mutates(self) -> bool {
        matches!(
            self,
            Verb::Create | Verb::Update | Verb::Patch | Verb::Delete | Verb::Exec
        )
    }
}

/// An API error, answered as a `Status` object.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }

    pub fn not_found(kind: Kind, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", kind.plural()),
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub fn status(&self) -> Value {
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": self.message,
            "reason": self.reason, "code": self.code,
        })
    }
}

/// `(kind, namespace or "", name)`.
pub type Key = (Kind, String, String);

/// One change, as a watch replays it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub kind: Kind,
    pub namespace: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub event: &'static str,
    pub object: Value,
}

/// A failure a test asked for: the next `times` matching requests get `code`.
#[derive(Debug, Clone)]
pub struct InjectedFailure {
    pub verb: Option<Verb>,
    pub kind: Option<Kind>,
    pub code: u16,
    pub times: u32,
}

/// A pod whose grace period is running: removed at `due` (emulator time).
#[derive(Debug, Clone)]
pub struct PendingRemoval {
    pub key: Key,
    pub uid: String,
}

/// A delete request the server accepted, with the grace period the client
/// asked for (None: it asked for none, so the pod's own applies).
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteRequest {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub grace_period_seconds: Option<u64>,
}

/// The whole state.
pub struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Change>,
    /// Changes up to this version are gone: a watch from before it gets 410.
    compacted: u64,
    history_limit: usize,
    /// Bumped by [`Store::expire_watches`]; open watches compare it.
    pub expiry_epoch: u64,
    counters: HashMap<(Verb, Kind), u64>,
    failures: Vec<InjectedFailure>,
    /// Pod IPs chosen by the test, by `(namespace, pod name)`.
    planned_ips: HashMap<(String, String), String>,
    next_ip: u32,
    next_uid: u64,
    next_node: usize,
    /// Execs accepted, oldest first.
    pub exec_requests: Vec<ExecRequest>,
    /// What a program answers when executed, by program (`command[0]`).
    pub exec_scripts: HashMap<String, ExecScript>,
    /// Delete requests accepted over HTTP, oldest first.
    pub delete_requests: Vec<DeleteRequest>,
    /// Pods whose deletion grace period runs; the server removes them later.
    pub removals: Vec<(std::time::Duration, PendingRemoval)>,
}

impl Store {
    pub fn new(history_limit: usize) -> Store {
        Store {
            rv: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            compacted: 0,
            history_limit,
            expiry_epoch: 0,
            counters: HashMap::new(),
            failures: Vec::new(),
            planned_ips: HashMap::new(),
            next_ip: 0,
            next_uid: 0,
            next_node: 0,
            delete_requests: Vec::new(),
            exec_requests: Vec::new(),
            exec_scripts: HashMap::new(),
            removals: Vec::new(),
        }
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    // ---- requests: counting and injected failures ----

    pub fn count(&mut self, verb: Verb, kind: Kind) {
        *self.counters.entry((verb, kind)).or_default() += 1;
    }

    pub fn requests(&self, verb: Verb, kind: Kind) -> u64 {
        self.counters.get(&(verb, kind)).copied().unwrap_or(0)
    }

    /// Every mutating request of any kind so far.
    pub fn mutating_requests(&self) -> u64 {
        self.counters
            .iter()
            .filter(|((verb, _), _)| verb.mutates())
            .map(|(_, n)| n)
            .sum()
    }

    /// Notes an accepted delete request; `object` is what the server answered.
    pub fn record_delete_request(&mut self, kind: Kind, object: &Value, grace: Option<u64>) {
        let meta = &object["metadata"];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        self.delete_requests.push(DeleteRequest {
            kind,
            namespace: text(&meta["namespace"]),
            name: text(&meta["name"]),
            uid: text(&meta["uid"]),
            grace_period_seconds: grace,
        });
    }

    /// Checks an exec as the API server does before upgrading (the pod and
    /// container exist, a command is given), records it, and runs it.
    pub fn exec(&mut self, request: ExecRequest) -> Result<ExecRun, ApiError> {
        let pod = self
            .get(Kind::Pod, &request.namespace, &request.pod)
            .ok_or_else(|| ApiError::not_found(Kind::Pod, &request.pod))?;
        let containers: Vec<&str> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default();
        if let Some(container) = &request.container
            && !containers.contains(&container.as_str())
        {
            return Err(ApiError::new(
                400,
                "BadRequest",
                format!("container {container} is not valid for pod {}", request.pod),
            ));
        }
        if request.command.is_empty() {
            return Err(ApiError::new(
                400,
                "BadRequest",
                "you must specify at least 1 command",
            ));
        }
        let script = self.exec_scripts.get(&request.command[0]);
        let run = exec::run(&request.command, script);
        self.exec_requests.push(request);
        Ok(run)
    }

    pub fn inject_failure(&mut self, failure: InjectedFailure) {
        self.failures.push(failure);
    }

    /// The injected failure this request meets, if any (and uses it up).
    pub fn take_failure(&mut self, verb: Verb, kind: Kind) -> Option<ApiError> {
        let hit = self.failures.iter_mut().find(|f| {
            f.times > 0 && f.verb.is_none_or(|v| v == verb) && f.kind.is_none_or(|k| k == kind)
        })?;
        hit.times -= 1;
        let code = hit.code;
        self.failures.retain(|f| f.times > 0);
        Some(ApiError::new(
            code,
            "InternalError",
            format!("injected failure {code} for {verb:?} {}", kind.plural()),
        ))
    }

    // ---- reading ----

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<&Value> {
        self.objects
            .get(&(kind, namespace.to_string(), name.to_string()))
    }

    /// Objects of a kind, in one namespace or all, sorted by key (the order
    /// pagination relies on).
    pub fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        selector: &LabelSelector,
    ) -> Vec<(&Key, &Value)> {
        self.objects
            .range((kind, String::new(), String::new())..)
            .take_while(|((k, _, _), _)| *k == kind)
            .filter(|((_, ns, _), _)| namespace.is_none_or(|n| n == ns))
            .filter(|(_, v)| selector.matches(v))
            .collect()
    }

    /// Changes after `rv` for a kind, or `Err` when they are compacted away.
    pub fn changes_after(&self, kind: Kind, rv: u64) -> Result<Vec<&Change>, ApiError> {
        if rv < self.compacted {
            return Err(gone(rv));
        }
        Ok(self
            .history
            .iter()
            .filter(|c| c.rv > rv && c.kind == kind)
            .collect())
    }

    /// True when a watch from `rv` can no longer be served.
    pub fn is_expired(&self, rv: u64) -> bool {
        rv < self.compacted
    }

    // ---- writing ----

    fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn record(&mut self, kind: Kind, namespace: &str, event: &'static str, object: Value) {
        let rv = self.rv;
        self.history.push_back(Change {
            rv,
            kind,
            namespace: namespace.to_string(),
            event,
            object,
        });
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
    }

    /// Drops the whole history and makes every open watch end with 410 Gone,
    /// as an etcd compaction does: clients must re-list.
    pub fn expire_watches(&mut self) {
        // A fresh version past every one handed out so far: any watch or
        // continue token from before now is too old, a new list is not.
        self.bump();
        self.compacted = self.rv;
        self.history.clear();
        self.expiry_epoch += 1;
    }

    fn stamp(&mut self, kind: Kind, object: &mut Value) -> u64 {
        let rv = self.bump();
        object["apiVersion"] = json!(kind.api_version());
        object["kind"] = json!(kind.name());
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        rv
    }

    /// Creates an object; 409 when it exists, 422 without a valid name.
    pub fn create(
        &mut self,
        kind: Kind,
        namespace: &str,
        mut object: Value,
    ) -> Result<Value, ApiError> {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        validate_name(kind, &name)?;
        let key = (kind, namespace.to_string(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", kind.plural()),
            ));
        }
        validate(kind, &object)?;
        self.next_uid += 1;
        object["metadata"]["uid"] = json!(format!("emu-{:08}", self.next_uid));
        object["metadata"]["creationTimestamp"] = json!(now_rfc3339());
        if kind.namespaced() {
            object["metadata"]["namespace"] = json!(namespace);
        }
        self.stamp(kind, &mut object);
        self.objects.insert(key, object.clone());
        self.record(kind, namespace, "ADDED", object.clone());
        if kind == Kind::StatefulSet {
            self.reconcile(namespace, &name);
        }
        Ok(object)
    }

    /// Replaces an object with `edit`'s result. A `resourceVersion` in the
    /// result other than the stored one is a conflict (409), as optimistic
    /// concurrency requires.
    pub fn update(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        edit: impl FnOnce(&mut Value),
    ) -> Result<Value, ApiError> {
        let key = (kind, namespace.to_string(), name.to_string());
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        let stored_rv = stored.pointer("/metadata/resourceVersion").cloned();
        let mut next = stored.clone();
        edit(&mut next);
        let sent_rv = next.pointer("/metadata/resourceVersion").cloned();
        if sent_rv.is_some() && sent_rv != stored_rv {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": the object has been modified",
                    kind.plural()
                ),
            ));
        }
        // Identity is not the client's to change.
        next["metadata"]["name"] = json!(name);
        next["metadata"]["uid"] = stored["metadata"]["uid"].clone();
        next["metadata"]["resourceVersion"] = stored_rv.unwrap_or(Value::Null);
        validate(kind, &next)?;
        if next == *stored {
            return Ok(next);
        }
        self.stamp(kind, &mut next);
        self.objects.insert(key, next.clone());
        self.record(kind, namespace, "MODIFIED", next.clone());
        if kind == Kind::StatefulSet {
            self.reconcile(namespace, name);
        }
        Ok(next)
    }

    /// Deletes an object. Pods with a grace period are marked terminating and
    /// go when it ends (the server calls [`Store::finish_removal`]).
    pub fn delete(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        grace: Option<u64>,
    ) -> Result<Value, ApiError> {
        let key = (kind, namespace.to_string(), name.to_string());
        let Some(object) = self.objects.get(&key).cloned() else {
            return Err(ApiError::not_found(kind, name));
        };
        if kind == Kind::Pod {
            let grace = grace.unwrap_or_else(|| {
                object
                    .pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_u64)
                    .unwrap_or(30)
            });
            if grace > 0 {
                return self.start_termination(&key, grace);
            }
        }
        Ok(self.remove(&key).unwrap_or(object))
    }

    fn start_termination(&mut self, key: &Key, grace: u64) -> Result<Value, ApiError> {
        let (_, namespace, name) = key.clone();
        let already = self.objects[key]
            .pointer("/metadata/deletionTimestamp")
            .is_some();
        let uid = self.objects[key]["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if already {
            return Ok(self.objects[key].clone());
        }
        let marked = self.update(Kind::Pod, &namespace, &name, |pod| {
            pod["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            pod["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            pod["metadata"]
                .as_object_mut()
                .map(|m| m.remove("resourceVersion"));
        })?;
        self.removals.push((
            std::time::Duration::from_secs(grace),
            PendingRemoval {
                key: key.clone(),
                uid,
            },
        ));
        Ok(marked)
    }

    /// Ends a grace period: the pod is gone (if it is still the same pod).
    pub fn finish_removal(&mut self, removal: &PendingRemoval) {
        let same = self
            .objects
            .get(&removal.key)
            .is_some_and(|o| o["metadata"]["uid"] == json!(removal.uid));
        if same {
            self.remove(&removal.key);
        }
    }

    fn remove(&mut self, key: &Key) -> Option<Value> {
        let mut object = self.objects.remove(key)?;
        let (kind, namespace, name) = key.clone();
        self.stamp(kind, &mut object);
        self.record(kind, &namespace, "DELETED", object.clone());
        match kind {
            Kind::Pod => {
                if let Some(owner) = owner_statefulset(&object) {
                    self.reconcile(&namespace, &owner);
                }
            }
            Kind::StatefulSet => {
                // Cascading (background) deletion of its pods.
                let pods: Vec<Key> = self
                    .list(Kind::Pod, Some(&namespace), &LabelSelector::default())
                    .into_iter()
                    .filter(|(_, p)| owner_statefulset(p).as_deref() == Some(name.as_str()))
                    .map(|(k, _)| k.clone())
                    .collect();
                for pod in pods {
                    self.remove(&pod);
                }
            }
            Kind::Node | Kind::NetworkPolicy => {}
        }
        Some(object)
    }

    // ---- nodes and pod IPs ----

    /// Adds a ready, schedulable node.
    pub fn add_node(&mut self, name: &str) -> Value {
        let index = self.list(Kind::Node, None, &LabelSelector::default()).len() + 1;
        let node = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {
                "addresses": [{"type": "InternalIP", "address": format!("172.18.0.{index}")}],
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        });
        self.create(Kind::Node, "", node).expect("a new node")
    }

    /// The IP the pod `namespace/name` gets when it is created.
    pub fn plan_pod_ip(&mut self, namespace: &str, pod: &str, ip: &str) {
        self.planned_ips
            .insert((namespace.to_string(), pod.to_string()), ip.to_string());
    }

    fn pod_ip(&mut self, namespace: &str, pod: &str) -> String {
        if let Some(ip) = self
            .planned_ips
            .get(&(namespace.to_string(), pod.to_string()))
        {
            return ip.clone();
        }
        self.next_ip += 1;
        let n = self.next_ip;
        format!("10.244.{}.{}", n / 250, n % 250 + 1)
    }

    fn schedule(&mut self) -> Option<String> {
        let nodes: Vec<String> = self
            .list(Kind::Node, None, &LabelSelector::default())
            .into_iter()
            .filter(|(_, n)| n.pointer("/spec/unschedulable") != Some(&json!(true)))
            .map(|((_, _, name), _)| name.clone())
            .collect();
        if nodes.is_empty() {
            return None;
        }
        self.next_node += 1;
        Some(nodes[self.next_node % nodes.len()].clone())
    }

    // ---- the StatefulSet controller ----

    /// Creates pods `<name>-<ordinal>` missing below `spec.replicas`, deletes
    /// those at or above it (all at once, like `podManagementPolicy:
    /// Parallel`), and writes `status`. A pod still terminating blocks its
    /// ordinal until it is gone, as the real controller does.
    pub fn reconcile(&mut self, namespace: &str, name: &str) {
        let Some(sts) = self.get(Kind::StatefulSet, namespace, name).cloned() else {
            return;
        };
        let replicas = sts
            .pointer("/spec/replicas")
            .and_then(Value::as_u64)
            .unwrap_or(1);
        let pods = self.owned_pods(namespace, name);
        for ordinal in 0..replicas {
            let pod_name = format!("{name}-{ordinal}");
            if !pods.iter().any(|(n, _)| *n == pod_name) {
                let pod = self.pod_from_template(&sts, name, ordinal);
                self.create(Kind::Pod, namespace, pod).expect("a new pod");
                self.start_pod(namespace, &pod_name);
            }
        }
        for (pod_name, ordinal) in pods.iter().rev() {
            if *ordinal >= replicas {
                // Terminating pods stay until their grace period ends.
                let _ = self.delete(Kind::Pod, namespace, pod_name, None);
            }
        }
        self.write_statefulset_status(namespace, name);
    }

    /// Pods owned by a StatefulSet, with their ordinals, by ordinal.
    fn owned_pods(&self, namespace: &str, sts: &str) -> Vec<(String, u64)> {
        // Only names `<sts>-...` can be its pods: a range of the sorted keys,
        // so a controller pass does not walk all 5,000 pods of a namespace.
        let prefix = format!("{sts}-");
        let start = (Kind::Pod, namespace.to_string(), prefix.clone());
        let mut out: Vec<(String, u64)> = self
            .objects
            .range(start..)
            .take_while(|((k, ns, name), _)| {
                *k == Kind::Pod && ns == namespace && name.starts_with(&prefix)
            })
            .filter(|(_, p)| owner_statefulset(p).as_deref() == Some(sts))
            .filter_map(|((_, _, pod), _)| {
                let ordinal = pod.strip_prefix(&prefix)?.parse().ok()?;
                Some((pod.clone(), ordinal))
            })
            .collect();
        out.sort_by_key(|(_, o)| *o);
        out
    }

    fn pod_from_template(&self, sts: &Value, name: &str, ordinal: u64) -> Value {
        let pod_name = format!("{name}-{ordinal}");
        let template = sts.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let mut labels = template
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or(json!({}));
        labels["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
        labels["apps.kubernetes.io/pod-index"] = json!(ordinal.to_string());
        let mut spec = template.get("spec").cloned().unwrap_or(json!({}));
        spec["hostname"] = json!(pod_name);
        if let Some(service) = sts.pointer("/spec/serviceName") {
            spec["subdomain"] = service.clone();
        }
        // As on a real cluster, a new pod is Pending with no node and no IP
        // until it is scheduled and run (`start_pod`, a second write).
        let status = json!({"phase": "Pending"});
        json!({
            "metadata": {
                "name": pod_name,
                "labels": labels,
                "annotations": template.pointer("/metadata/annotations").cloned().unwrap_or(json!({})),
                "ownerReferences": [{
                    "apiVersion": "apps/v1", "kind": "StatefulSet", "name": name,
                    "uid": sts["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
                }],
            },
            "spec": spec,
            "status": status,
        })
    }

    /// What the scheduler and the kubelet do to a new pod: bind it to a
    /// node and run it with an IP, or leave it Pending and unschedulable
    /// when no node takes pods.
    fn start_pod(&mut self, namespace: &str, pod_name: &str) {
        let node = self.schedule();
        let running = node.as_ref().map(|node| {
            let ip = self.pod_ip(namespace, pod_name);
            (node.clone(), ip, self.host_ip(node))
        });
        let _ = self.update(Kind::Pod, namespace, pod_name, |pod| {
            match &running {
                Some((node, ip, host_ip)) => {
                    pod["spec"]["nodeName"] = json!(node);
                    pod["status"] = running_status(&pod["spec"], ip, host_ip);
                }
                None => {
                    pod["status"] = json!({"phase": "Pending", "conditions": [
                        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]});
                }
            }
            remove_resource_version(pod);
        });
    }

    fn host_ip(&self, node: &str) -> String {
        self.get(Kind::Node, "", node)
            .and_then(|n| n.pointer("/status/addresses/0/address"))
            .and_then(Value::as_str)
            .unwrap_or("172.18.0.1")
            .to_string()
    }

    fn write_statefulset_status(&mut self, namespace: &str, name: &str) {
        let pods: Vec<Value> = self
            .owned_pods(namespace, name)
            .iter()
            .filter_map(|(p, _)| self.get(Kind::Pod, namespace, p).cloned())
            .collect();
        let ready = pods.iter().filter(|p| pod_is_ready(p)).count();
        let _ = self.update(Kind::StatefulSet, namespace, name, |sts| {
            let status = json!({
                "replicas": pods.len(),
                "readyReplicas": ready,
                "availableReplicas": ready,
                "currentReplicas": pods.len(),
                "updatedReplicas": pods.len(),
                "observedGeneration": sts.pointer("/metadata/generation").cloned().unwrap_or(json!(1)),
            });
            sts["status"] = status;
            remove_resource_version(sts);
        });
    }

    /// Changes a pod in place (IP, readiness, restarts) as the kubelet would.
    pub fn edit_pod(
        &mut self,
        namespace: &str,
        pod: &str,
        edit: impl FnOnce(&mut Value),
    ) -> Result<Value, ApiError> {
        let out = self.update(Kind::Pod, namespace, pod, |p| {
            edit(p);
            remove_resource_version(p);
        })?;
        if let Some(owner) = owner_statefulset(&out) {
            self.write_statefulset_status(namespace, &owner);
        }
        Ok(out)
    }
}

/// The status of a pod that runs: every container ready, no restarts.
fn running_status(spec: &Value, ip: &str, host_ip: &str) -> Value {
    let containers: Vec<Value> = spec
        .get("containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    json!({
                        "name": c["name"], "image": c["image"], "ready": true, "started": true,
                        "restartCount": 0, "state": {"running": {"startedAt": now_rfc3339()}},
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": host_ip,
        "startTime": now_rfc3339(),
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": "True"},
            {"type": "Ready", "status": "True"},
        ],
        "containerStatuses": containers,
    })
}

pub fn pod_is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Marks a pod's Ready and ContainersReady conditions and containers.
pub fn set_ready(pod: &mut Value, ready: bool) {
    let status = if ready { "True" } else { "False" };
    if let Some(conditions) = pod
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        for c in conditions.iter_mut() {
            if c["type"] == "Ready" || c["type"] == "ContainersReady" {
                c["status"] = json!(status);
            }
        }
    }
    if let Some(cs) = pod
        .pointer_mut("/status/containerStatuses")
        .and_then(Value::as_array_mut)
    {
        for c in cs.iter_mut() {
            c["ready"] = json!(ready);
        }
    }
}

pub fn remove_resource_version(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
    }
}

pub fn owner_statefulset(pod: &Value) -> Option<String> {
    pod.pointer("/metadata/ownerReferences")?
        .as_array()?
        .iter()
        .find(|o| o["kind"] == "StatefulSet" && o["controller"] == json!(true))
        .and_then(|o| o["name"].as_str())
        .map(str::to_string)
}

fn gone(rv: u64) -> ApiError {
    ApiError::new(410, "Expired", format!("too old resource version: {rv}"))
}

/// DNS-1123 subdomain names, as the API server requires of most kinds.
fn validate_name(kind: Kind, name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "{} \"{name}\" is invalid: metadata.name: Invalid value: a lowercase RFC 1123 subdomain is required",
            kind.name()
        )))
    }
}

/// The few field rules the console can trip over (422 Unprocessable Entity).
fn validate(kind: Kind, object: &Value) -> Result<(), ApiError> {
    if kind == Kind::StatefulSet
        && let Some(replicas) = object.pointer("/spec/replicas")
        && replicas.as_u64().is_none_or(|r| r > i32::MAX as u64)
    {
        return Err(ApiError::invalid(format!(
            "StatefulSet is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
        )));
    }
    if kind == Kind::NetworkPolicy && object.pointer("/spec/podSelector").is_none() {
        return Err(ApiError::invalid(
            "NetworkPolicy is invalid: spec.podSelector: Required value",
        ));
    }
    Ok(())
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("zero nanoseconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a UTC time formats")
}
