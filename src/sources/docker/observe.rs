//! From an [`Inventory`] to what the Docker source reports: pure, no I/O.
//!
//! - A container is a member at `<its IP>:<app port>` (the port from the
//!   config, the `clusterdeck.port` label, or the image's lowest exposed TCP
//!   port), so it joins the Redis the Redis source sees at that address.
//! - A Swarm task is a member named `<service>.<slot>`, with its container
//!   when the container runs on this engine.
//! - A Swarm node is a member of the `swarm/nodes` cluster; the leading
//!   manager leads it.
//! - Clusters: a config rule, else the Swarm service, else the compose
//!   project, else `docker/standalone`.

use std::collections::{BTreeMap, HashMap, HashSet};

use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, EndpointSettings, HealthStatusEnum,
    Network, Node, NodeSpecAvailabilityEnum, NodeSpecRoleEnum, NodeState, Service, Task, TaskState,
};

use super::inventory::{Inventory, SwarmInventory, networks_by_name};
use super::raw;
use crate::config::Config;
use crate::model::{
    Authority, ClusterObservation, ContainerHandle, Health, MemberObservation, Placement, Platform,
    SwarmServiceHandle, Tier, normalize_address,
};

/// Labels the engine and compose put on containers.
const TASK_ID: &str = "com.docker.swarm.task.id";
const COMPOSE_PROJECT: &str = "com.docker.compose.project";
const COMPOSE_SERVICE: &str = "com.docker.compose.service";
const STACK: &str = "com.docker.stack.namespace";
/// Labels a user may set to help the console.
pub const PORT_LABEL: &str = "clusterdeck.port";
pub const TIER_LABEL: &str = "clusterdeck.tier";
pub const NETWORK_LABEL: &str = "clusterdeck.network";

/// Memory between looks: the last address of each container, so a container
/// cut off its network keeps its identity (and stays joined with its Redis).
#[derive(Debug, Default, Clone)]
pub struct Memory {
    addresses: HashMap<String, String>,
    networks: HashMap<String, Vec<String>>,
}

/// What one look produced.
#[derive(Debug, Default)]
pub struct Observed {
    pub clusters: Vec<ClusterObservation>,
    pub members: Vec<MemberObservation>,
}

/// Builds the report's clusters and members.
pub fn observe(inventory: &Inventory, config: &Config, memory: &mut Memory) -> Observed {
    let look = Look {
        networks: networks_by_name(&inventory.networks),
        containers: inventory
            .containers
            .iter()
            .filter_map(|c| c.id.as_deref().map(|id| (id, c)))
            .collect(),
        config,
    };
    let mut pass = Pass::default();
    if let Some(swarm) = &inventory.swarm {
        observe_swarm(&look, swarm, memory, &mut pass);
    }
    observe_containers(&look, &inventory.containers, memory, &mut pass);
    memory.addresses.retain(|id, _| pass.seen.contains(id));
    memory.networks.retain(|id, _| pass.seen.contains(id));
    Observed {
        clusters: pass.clusters.into_values().collect(),
        members: pass.members,
    }
}

/// What every member of one look is built against.
struct Look<'a> {
    networks: HashMap<&'a str, &'a Network>,
    containers: HashMap<&'a str, &'a ContainerInspectResponse>,
    config: &'a Config,
}

/// What one look has built so far.
#[derive(Default)]
struct Pass {
    clusters: BTreeMap<String, ClusterObservation>,
    members: Vec<MemberObservation>,
    /// Containers this look saw: the memory forgets the others.
    seen: HashSet<String>,
    /// Containers shown as their Swarm task, not on their own.
    task_containers: HashSet<String>,
}

/// The Swarm's current tasks (with their containers) and its nodes.
fn observe_swarm(look: &Look, swarm: &SwarmInventory, memory: &mut Memory, pass: &mut Pass) {
    let nodes: HashMap<&str, &Node> = swarm
        .nodes
        .iter()
        .filter_map(|n| n.id.as_deref().map(|id| (id, n)))
        .collect();
    let services: HashMap<&str, &Service> = swarm
        .services
        .iter()
        .filter_map(|s| s.id.as_deref().map(|id| (id, s)))
        .collect();
    for task in swarm.tasks.iter().filter(|t| is_current(t)) {
        let Some(service) = task.service_id.as_deref().and_then(|id| services.get(id)) else {
            continue;
        };
        let container = task_container_id(task).and_then(|id| look.containers.get(id).copied());
        if let Some(id) = container.and_then(|c| c.id.as_deref()) {
            pass.task_containers.insert(id.to_string());
            pass.seen.insert(id.to_string());
        }
        let ctx = TaskContext {
            task,
            service,
            node: task
                .node_id
                .as_deref()
                .and_then(|id| nodes.get(id).copied()),
        };
        let member = task_member(&ctx, container, &look.networks, look.config, memory);
        register_cluster(&mut pass.clusters, &member, look.config, Some(service));
        pass.members.push(member);
    }
    for node in &swarm.nodes {
        pass.members.push(node_member(node));
    }
    if !swarm.nodes.is_empty() {
        pass.clusters.insert(
            NODES_CLUSTER.into(),
            ClusterObservation {
                id: NODES_CLUSTER.into(),
                kind: "swarm-nodes".into(),
                name: "swarm nodes".into(),
                ..ClusterObservation::default()
            },
        );
    }
}

/// Containers that are not a Swarm task's.
fn observe_containers(
    look: &Look,
    containers: &[ContainerInspectResponse],
    memory: &mut Memory,
    pass: &mut Pass,
) {
    for container in containers {
        let Some(id) = container.id.as_deref() else {
            continue;
        };
        pass.seen.insert(id.to_string());
        // A task's container that this look saw without its task (a task
        // just removed): its task member already went, so should it.
        if pass.task_containers.contains(id) || label(container, TASK_ID).is_some() {
            continue;
        }
        let member = container_member(container, &look.networks, look.config, memory);
        register_cluster(&mut pass.clusters, &member, look.config, None);
        pass.members.push(member);
    }
}

/// The cluster of Swarm nodes.
pub const NODES_CLUSTER: &str = "swarm/nodes";

fn label<'a>(container: &'a ContainerInspectResponse, key: &str) -> Option<&'a str> {
    container
        .config
        .as_ref()?
        .labels
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn container_name(container: &ContainerInspectResponse) -> String {
    container
        .name
        .as_deref()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string()
}

/// Adds the member's cluster if it is new.
fn register_cluster(
    clusters: &mut BTreeMap<String, ClusterObservation>,
    member: &MemberObservation,
    config: &Config,
    service: Option<&Service>,
) {
    if clusters.contains_key(&member.cluster) {
        return;
    }
    let (kind, name) = if let Some(rule) = config.rule_for_cluster(&member.cluster) {
        ("config".to_string(), rule.name.clone())
    } else if let Some(service) = service {
        ("swarm-service".to_string(), service_title(service))
    } else if let Some(project) = member.cluster.strip_prefix("compose/") {
        ("compose".to_string(), project.to_string())
    } else {
        ("docker".to_string(), "standalone containers".to_string())
    };
    clusters.insert(
        member.cluster.clone(),
        ClusterObservation {
            id: member.cluster.clone(),
            kind,
            name,
            ..ClusterObservation::default()
        },
    );
}

/// `redis 3/3`: the service's name with running and desired tasks.
fn service_title(service: &Service) -> String {
    let name = service_name(service);
    match &service.service_status {
        Some(status) => format!(
            "{name} {}/{}",
            status.running_tasks.unwrap_or(0),
            status.desired_tasks.unwrap_or(0)
        ),
        None => name,
    }
}

fn service_name(service: &Service) -> String {
    service
        .spec
        .as_ref()
        .and_then(|s| s.name.clone())
        .unwrap_or_else(|| service.id.clone().unwrap_or_default())
}

/// The cluster a container or task belongs to, and its tier from the config
/// or the `clusterdeck.tier` label.
fn assign(
    names: &[&str],
    labels: &HashMap<String, String>,
    config: &Config,
    fallback: String,
) -> (String, Tier, Option<String>, Option<u16>) {
    let lookup = |k: &str| labels.get(k).map(String::as_str);
    let label_tier = match lookup(TIER_LABEL) {
        Some("master") => Tier::Master,
        Some("copy") => Tier::Copy,
        _ => Tier::Unknown,
    };
    match config.assign(names, &lookup) {
        Some(a) => {
            let tier = if a.tier == Tier::Unknown {
                label_tier
            } else {
                a.tier
            };
            (
                a.rule.cluster_id(),
                tier,
                Some(a.rule.name.clone()),
                a.rule.port,
            )
        }
        None => (fallback, label_tier, None, None),
    }
}

fn container_cluster(labels: &HashMap<String, String>) -> String {
    if let Some(project) = labels.get(COMPOSE_PROJECT) {
        format!("compose/{project}")
    } else {
        "docker/standalone".to_string()
    }
}

fn container_member(
    container: &ContainerInspectResponse,
    networks: &HashMap<&str, &Network>,
    config: &Config,
    memory: &mut Memory,
) -> MemberObservation {
    let name = container_name(container);
    let labels = container
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    let mut names = vec![name.as_str()];
    if let Some(s) = labels.get(COMPOSE_SERVICE) {
        names.push(s);
    }
    let (cluster, tier, rule, port) = assign(&names, &labels, config, container_cluster(&labels));
    let mut member = MemberObservation {
        cluster,
        name: name.clone(),
        authority: Authority::Platform,
        tier,
        health: container_health(container),
        placement: Placement {
            platform: Some(Platform::Docker),
            container: Some(name),
            ..Placement::default()
        },
        ..MemberObservation::default()
    };
    fill_container(&mut member, container, networks, port, memory);
    if let Some(rule) = rule {
        member.raw.insert(raw::CONFIG_CLUSTER.into(), rule.clone());
        member.placement.handles.config_rule = Some(rule);
    }
    for (key, raw_key) in [(COMPOSE_PROJECT, "compose.project"), (STACK, "stack")] {
        if let Some(v) = labels.get(key) {
            member.raw.insert(raw_key.into(), v.clone());
        }
    }
    member
}

/// Address, networks and container facts, shared by plain and task containers.
fn fill_container(
    member: &mut MemberObservation,
    container: &ContainerInspectResponse,
    networks: &HashMap<&str, &Network>,
    config_port: Option<u16>,
    memory: &mut Memory,
) {
    let id = container.id.clone().unwrap_or_default();
    let endpoints = endpoints(container);
    member.placement.networks = endpoints.iter().map(|(n, _)| n.clone()).collect();
    let port = config_port
        .or_else(|| label(container, PORT_LABEL).and_then(|p| p.parse().ok()))
        .or_else(|| exposed_port(container));
    let ip = pick_ip(&endpoints, label(container, NETWORK_LABEL));
    let address = match (ip, port) {
        (Some(ip), Some(port)) => Some(normalize_address(&ip, port)),
        _ => None,
    };
    place_address(member, container, &id, address, memory);
    container_facts(member, container, id, &endpoints, networks);
}

/// The address the member is known by. A container cut off a network it
/// was on keeps the address it had there, and says it is cut off.
fn place_address(
    member: &mut MemberObservation,
    container: &ContainerInspectResponse,
    id: &str,
    address: Option<String>,
    memory: &mut Memory,
) {
    let was_on = memory
        .networks
        .insert(id.to_string(), member.placement.networks.clone());
    let lost: Vec<String> = was_on
        .unwrap_or_default()
        .into_iter()
        .filter(|n| !member.placement.networks.contains(n))
        .collect();
    let cut_off = !lost.is_empty() && is_running(container);
    member.address = match (address, memory.addresses.get(id)) {
        // Cut off the network its address is on, it would show up at its
        // address on another network: keep the one it is known by.
        (_, Some(known)) if cut_off => Some(known.clone()),
        (Some(address), _) => {
            memory.addresses.insert(id.to_string(), address.clone());
            Some(address)
        }
        (None, known) => known.cloned(),
    };
    if cut_off {
        let lost_text = lost.join(", ");
        member.error = Some(format!("cut off: not attached to {lost_text} any more"));
        member.health = Health::Degraded;
        member.raw.insert(raw::CUT_OFF_FROM.into(), lost_text);
        // Keep saying it until it is back: the memory keeps the old list.
        let mut remembered = member.placement.networks.clone();
        remembered.extend(lost);
        memory.networks.insert(id.to_string(), remembered);
    }
}

/// The container's facts for the details pane, and its handle (id and the
/// networks it cannot leave) for the planners.
fn container_facts(
    member: &mut MemberObservation,
    container: &ContainerInspectResponse,
    id: String,
    endpoints: &[(String, EndpointSettings)],
    networks: &HashMap<&str, &Network>,
) {
    member.raw.insert(raw::CONTAINER_ID.into(), id.clone());
    if let Some(image) = container.config.as_ref().and_then(|c| c.image.clone()) {
        member.raw.insert("docker.image".into(), image);
    }
    member
        .raw
        .insert("docker.state".into(), state_word(container));
    let managed = is_task_container(container);
    for (network, endpoint) in endpoints {
        member.raw.insert(
            format!("{}{network}", raw::NETWORK_PREFIX),
            endpoint_summary(endpoint, networks.get(network.as_str()).copied(), managed),
        );
    }
    let fixed: Vec<String> = endpoints
        .iter()
        .filter(|(n, _)| !can_disconnect(networks.get(n.as_str()).copied(), managed))
        .map(|(n, _)| n.clone())
        .collect();
    if !fixed.is_empty() {
        member.raw.insert(raw::UNDETACHABLE.into(), fixed.join(","));
    }
    if !id.is_empty() {
        member.placement.handles.container = Some(ContainerHandle {
            id,
            undetachable: fixed,
        });
    }
}

/// The container's endpoints, sorted by network name.
fn endpoints(container: &ContainerInspectResponse) -> Vec<(String, EndpointSettings)> {
    let mut list: Vec<(String, EndpointSettings)> = container
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.clone())
        .unwrap_or_default()
        .into_iter()
        .collect();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list
}

/// The IP the application is reached at: on the labelled network, else on
/// a user network, else on the default bridge; never on the Swarm ingress.
fn pick_ip(endpoints: &[(String, EndpointSettings)], preferred: Option<&str>) -> Option<String> {
    let ip_of = |e: &EndpointSettings| e.ip_address.clone().filter(|ip| !ip.is_empty());
    if let Some(wanted) = preferred
        && let Some((_, e)) = endpoints.iter().find(|(n, _)| n == wanted)
    {
        return ip_of(e);
    }
    let rank = |name: &str| match name {
        "ingress" => 2,
        "bridge" => 1,
        _ => 0,
    };
    let mut ordered: Vec<&(String, EndpointSettings)> = endpoints.iter().collect();
    ordered.sort_by_key(|(n, _)| rank(n));
    ordered
        .into_iter()
        .filter(|(n, _)| rank(n) < 2)
        .find_map(|(_, e)| ip_of(e))
}

/// False for networks a container cannot be cut off from and brought back
/// to: `host` (the engine refuses) and `none` (no network to lose); and a
/// Swarm network that is not attachable (or the ingress) unless the
/// container is a Swarm task's (`managed`). The engine lets a task's
/// container go from any of its Swarm networks and takes it back with its
/// address (verified on Engine 20.10 in `tests/docker.rs`); a plain
/// container is only ever on attachable ones.
pub fn can_disconnect(network: Option<&Network>, managed: bool) -> bool {
    let Some(network) = network else {
        return true;
    };
    if matches!(network.name.as_deref(), Some("host" | "none")) {
        return false;
    }
    let swarm_only = network.scope.as_deref() == Some("swarm")
        && (network.ingress == Some(true) || network.attachable != Some(true));
    managed || !swarm_only
}

/// True for a Swarm task's container (the engine manages its networks).
pub fn is_task_container(container: &ContainerInspectResponse) -> bool {
    label(container, TASK_ID).is_some()
}

fn endpoint_summary(
    endpoint: &EndpointSettings,
    network: Option<&Network>,
    managed: bool,
) -> String {
    let mut text = endpoint
        .ip_address
        .clone()
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| "-".into());
    if let Some(aliases) = endpoint.aliases.as_ref().filter(|a| !a.is_empty()) {
        text.push_str(&format!(" aliases {}", aliases.join(",")));
    }
    if !can_disconnect(network, managed) {
        text.push_str(" (cannot be disconnected)");
    }
    text
}

fn exposed_port(container: &ContainerInspectResponse) -> Option<u16> {
    container
        .config
        .as_ref()?
        .exposed_ports
        .as_ref()?
        .iter()
        .filter_map(|p| p.strip_suffix("/tcp").and_then(|n| n.parse::<u16>().ok()))
        .min()
}

fn is_running(container: &ContainerInspectResponse) -> bool {
    container.state.as_ref().and_then(|s| s.running) == Some(true)
}

fn state_word(container: &ContainerInspectResponse) -> String {
    container
        .state
        .as_ref()
        .and_then(|s| s.status)
        .map_or_else(|| "unknown".into(), |s| s.to_string())
}

fn container_health(container: &ContainerInspectResponse) -> Health {
    let Some(state) = &container.state else {
        return Health::Unknown;
    };
    let check = state.health.as_ref().and_then(|h| h.status);
    match state.status {
        Some(ContainerStateStatusEnum::RUNNING) => match check {
            Some(HealthStatusEnum::UNHEALTHY) => Health::Degraded,
            Some(HealthStatusEnum::STARTING) => Health::Unknown,
            _ => Health::Ok,
        },
        Some(ContainerStateStatusEnum::PAUSED | ContainerStateStatusEnum::RESTARTING) => {
            Health::Degraded
        }
        Some(
            ContainerStateStatusEnum::EXITED
            | ContainerStateStatusEnum::DEAD
            | ContainerStateStatusEnum::CREATED
            | ContainerStateStatusEnum::REMOVING,
        ) => Health::Down,
        _ => Health::Unknown,
    }
}

/// A task the service still wants, or one still winding down.
fn is_current(task: &Task) -> bool {
    let desired_running = task.desired_state == Some(TaskState::RUNNING);
    let state = task.status.as_ref().and_then(|s| s.state);
    let terminal = matches!(
        state,
        Some(
            TaskState::COMPLETE
                | TaskState::SHUTDOWN
                | TaskState::FAILED
                | TaskState::REJECTED
                | TaskState::ORPHANED
                | TaskState::REMOVE
        )
    );
    desired_running || !terminal
}

fn task_container_id(task: &Task) -> Option<&str> {
    task.status
        .as_ref()?
        .container_status
        .as_ref()?
        .container_id
        .as_deref()
}

struct TaskContext<'a> {
    task: &'a Task,
    service: &'a Service,
    node: Option<&'a Node>,
}

fn task_member(
    ctx: &TaskContext,
    container: Option<&ContainerInspectResponse>,
    networks: &HashMap<&str, &Network>,
    config: &Config,
    memory: &mut Memory,
) -> MemberObservation {
    let service = service_name(ctx.service);
    let task_id = ctx.task.id.clone().unwrap_or_default();
    let name = match ctx.task.slot {
        Some(slot) => format!("{service}.{slot}"),
        None => format!(
            "{service}.{}",
            node_hostname(ctx.node).unwrap_or_else(|| crate::actions::short(&task_id).to_string())
        ),
    };
    let labels = ctx
        .service
        .spec
        .as_ref()
        .and_then(|s| s.labels.clone())
        .unwrap_or_default();
    let cname = container.map(container_name);
    let mut names = vec![service.as_str(), name.as_str()];
    if let Some(c) = &cname {
        names.push(c);
    }
    let (cluster, tier, rule, port) = assign(&names, &labels, config, format!("swarm/{service}"));
    let state = ctx.task.status.as_ref().and_then(|s| s.state);
    let mut member = MemberObservation {
        cluster,
        name: name.clone(),
        authority: Authority::Platform,
        tier,
        health: task_health(state, container),
        placement: Placement {
            platform: Some(Platform::Swarm),
            node: node_hostname(ctx.node),
            service: Some(service.clone()),
            task: Some(name),
            container: cname,
            ..Placement::default()
        },
        error: ctx.task.status.as_ref().and_then(|s| s.err.clone()),
        ..MemberObservation::default()
    };
    if let Some(c) = container {
        fill_container(&mut member, c, networks, port, memory);
    }
    if let Some(rule) = rule {
        member.raw.insert(raw::CONFIG_CLUSTER.into(), rule.clone());
        member.placement.handles.config_rule = Some(rule);
    }
    task_raw(&mut member.raw, ctx, state);
    task_handles(&mut member.placement, ctx);
    member
}

/// The ids the planners need: the task's, its node's and its service's.
fn task_handles(placement: &mut Placement, ctx: &TaskContext) {
    let swarm = &mut placement.handles.swarm;
    swarm.task_id = ctx.task.id.clone().filter(|id| !id.is_empty());
    swarm.node_id = ctx.task.node_id.clone().filter(|id| !id.is_empty());
    let mode = ctx.service.spec.as_ref().and_then(|s| s.mode.as_ref());
    let replicas = mode
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas);
    let replicated = replicas.is_some() || mode.is_some_and(|m| m.replicated.is_some());
    swarm.service = ctx
        .service
        .id
        .clone()
        .filter(|id| !id.is_empty())
        .map(|id| SwarmServiceHandle {
            id,
            global: !replicated,
            replicas: replicas.and_then(|n| u64::try_from(n).ok()),
        });
}

fn task_raw(raw: &mut BTreeMap<String, String>, ctx: &TaskContext, state: Option<TaskState>) {
    let word = |s: Option<TaskState>| s.map_or_else(|| "-".into(), |s| s.to_string());
    raw.insert(raw::TASK_ID.into(), ctx.task.id.clone().unwrap_or_default());
    raw.insert("swarm.task_state".into(), word(state));
    raw.insert("swarm.desired_state".into(), word(ctx.task.desired_state));
    if let Some(slot) = ctx.task.slot {
        raw.insert("swarm.slot".into(), slot.to_string());
    }
    if let Some(node) = &ctx.task.node_id {
        raw.insert(raw::NODE_ID.into(), node.clone());
    }
    raw.insert(
        raw::SERVICE_ID.into(),
        ctx.service.id.clone().unwrap_or_default(),
    );
    let mode = ctx.service.spec.as_ref().and_then(|s| s.mode.as_ref());
    let replicas = mode
        .and_then(|m| m.replicated.as_ref())
        .and_then(|r| r.replicas);
    raw.insert(
        raw::SERVICE_MODE.into(),
        if replicas.is_some() || mode.is_some_and(|m| m.replicated.is_some()) {
            "replicated".into()
        } else {
            "global".into()
        },
    );
    if let Some(n) = replicas {
        raw.insert(raw::REPLICAS.into(), n.to_string());
    }
    if let Some(status) = &ctx.service.service_status {
        raw.insert(
            "swarm.running".into(),
            status.running_tasks.unwrap_or(0).to_string(),
        );
    }
}

fn task_health(state: Option<TaskState>, container: Option<&ContainerInspectResponse>) -> Health {
    match state {
        Some(TaskState::RUNNING) => container.map_or(Health::Ok, container_health),
        Some(
            TaskState::FAILED
            | TaskState::REJECTED
            | TaskState::ORPHANED
            | TaskState::SHUTDOWN
            | TaskState::COMPLETE,
        ) => Health::Down,
        _ => Health::Degraded,
    }
}

fn node_hostname(node: Option<&Node>) -> Option<String> {
    node?.description.as_ref()?.hostname.clone()
}

fn node_member(node: &Node) -> MemberObservation {
    let hostname = node_hostname(Some(node)).unwrap_or_else(|| node.id.clone().unwrap_or_default());
    let spec = node.spec.clone().unwrap_or_default();
    let role = spec.role.unwrap_or(NodeSpecRoleEnum::EMPTY);
    let availability = spec.availability.unwrap_or(NodeSpecAvailabilityEnum::EMPTY);
    let state = node.status.as_ref().and_then(|s| s.state);
    let manager = node.manager_status.as_ref();
    let leads = manager.and_then(|m| m.leader) == Some(true);
    let native = match (role, leads) {
        (NodeSpecRoleEnum::MANAGER, true) => "manager (leader)".to_string(),
        (role, _) => role.to_string(),
    };
    let health = match (state, availability) {
        (Some(NodeState::READY), NodeSpecAvailabilityEnum::ACTIVE) => Health::Ok,
        (Some(NodeState::READY), _) => Health::Degraded,
        (Some(NodeState::DOWN | NodeState::DISCONNECTED), _) => Health::Down,
        _ => Health::Unknown,
    };
    let mut member = MemberObservation {
        cluster: NODES_CLUSTER.into(),
        name: format!("node/{hostname}"),
        authority: Authority::Platform,
        leader: leads,
        native_role: Some(native),
        health,
        placement: Placement {
            platform: Some(Platform::Swarm),
            node: Some(hostname),
            ..Placement::default()
        },
        ..MemberObservation::default()
    };
    member.placement.handles.swarm.node_id = node.id.clone().filter(|id| !id.is_empty());
    let raw = &mut member.raw;
    raw.insert(raw::NODE_ID.into(), node.id.clone().unwrap_or_default());
    raw.insert(raw::AVAILABILITY.into(), availability.to_string());
    raw.insert(
        "swarm.node_state".into(),
        state.map_or_else(|| "-".into(), |s| s.to_string()),
    );
    if let Some(m) = manager {
        raw.insert(
            "swarm.reachability".into(),
            m.reachability.map_or_else(|| "-".into(), |r| r.to_string()),
        );
    }
    if let Some(addr) = node.status.as_ref().and_then(|s| s.addr.clone()) {
        raw.insert("swarm.node_addr".into(), addr);
    }
    member
}

#[cfg(test)]
mod tests {
    use bollard::models::{ContainerConfig, ContainerState, NetworkSettings};

    use super::*;

    fn container(id: &str, name: &str, ip: Option<&str>) -> ContainerInspectResponse {
        let mut networks = HashMap::new();
        if let Some(ip) = ip {
            networks.insert(
                "net".to_string(),
                EndpointSettings {
                    ip_address: Some(ip.into()),
                    aliases: Some(vec!["redis".into()]),
                    ..Default::default()
                },
            );
        }
        ContainerInspectResponse {
            id: Some(id.into()),
            name: Some(format!("/{name}")),
            state: Some(ContainerState {
                status: Some(ContainerStateStatusEnum::RUNNING),
                running: Some(true),
                ..Default::default()
            }),
            config: Some(ContainerConfig {
                exposed_ports: Some(vec!["6379/tcp".into()]),
                ..Default::default()
            }),
            network_settings: Some(NetworkSettings {
                networks: Some(networks),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_container_is_a_member_at_its_ip_and_exposed_port() {
        let inventory = Inventory {
            containers: vec![container("c1", "redis-1", Some("10.9.0.2"))],
            ..Inventory::default()
        };
        let mut memory = Memory::default();
        let seen = observe(&inventory, &Config::default(), &mut memory);
        let m = &seen.members[0];
        assert_eq!(m.address.as_deref(), Some("10.9.0.2:6379"));
        assert_eq!(m.cluster, "docker/standalone");
        assert_eq!(m.placement.networks, ["net"]);
        assert_eq!(m.raw[raw::CONTAINER_ID], "c1");
        assert!(m.raw["docker.network.net"].contains("aliases redis"));
    }

    #[test]
    fn a_cut_off_container_keeps_its_address_and_says_so() {
        let mut memory = Memory::default();
        let before = Inventory {
            containers: vec![container("c1", "redis-1", Some("10.9.0.2"))],
            ..Inventory::default()
        };
        observe(&before, &Config::default(), &mut memory);
        let after = Inventory {
            containers: vec![container("c1", "redis-1", None)],
            ..Inventory::default()
        };
        for _ in 0..2 {
            let seen = observe(&after, &Config::default(), &mut memory);
            let m = &seen.members[0];
            assert_eq!(m.address.as_deref(), Some("10.9.0.2:6379"));
            assert!(m.placement.networks.is_empty());
            assert_eq!(m.raw[raw::CUT_OFF_FROM], "net");
        }
        let back = observe(&before, &Config::default(), &mut memory);
        assert!(!back.members[0].raw.contains_key(raw::CUT_OFF_FROM));
    }

    #[test]
    fn a_task_container_can_leave_any_swarm_network_but_nothing_leaves_host() {
        let net = |name: &str, scope: &str, attachable: bool, ingress: bool| Network {
            name: Some(name.into()),
            scope: Some(scope.into()),
            attachable: Some(attachable),
            ingress: Some(ingress),
            ..Default::default()
        };
        let stack = net("stack_net", "swarm", false, false);
        let ingress = net("ingress", "swarm", false, true);
        let attachable = net("shared", "swarm", true, false);
        let host = net("host", "local", false, false);
        assert!(can_disconnect(Some(&stack), true));
        assert!(can_disconnect(Some(&ingress), true));
        assert!(!can_disconnect(Some(&stack), false));
        assert!(can_disconnect(Some(&attachable), false));
        assert!(!can_disconnect(Some(&host), true));
        assert!(!can_disconnect(Some(&host), false));
    }

    #[test]
    fn a_container_cut_off_one_of_two_networks_keeps_its_address() {
        let mut two = container("c1", "redis-1", Some("10.9.0.2"));
        let other = EndpointSettings {
            ip_address: Some("10.8.0.7".into()),
            ..Default::default()
        };
        let networks = two
            .network_settings
            .as_mut()
            .unwrap()
            .networks
            .as_mut()
            .unwrap();
        networks.insert("other".into(), other.clone());
        let mut one = container("c1", "redis-1", None);
        let only_other = one
            .network_settings
            .as_mut()
            .unwrap()
            .networks
            .as_mut()
            .unwrap();
        only_other.insert("other".into(), other);
        let mut memory = Memory::default();
        let look = |c: &ContainerInspectResponse, memory: &mut Memory| {
            let inventory = Inventory {
                containers: vec![c.clone()],
                ..Inventory::default()
            };
            observe(&inventory, &Config::default(), memory)
                .members
                .remove(0)
        };
        assert_eq!(
            look(&two, &mut memory).address.as_deref(),
            Some("10.9.0.2:6379")
        );
        let cut = look(&one, &mut memory);
        assert_eq!(cut.address.as_deref(), Some("10.9.0.2:6379"));
        assert_eq!(cut.raw[raw::CUT_OFF_FROM], "net");
        let back = look(&two, &mut memory);
        assert_eq!(back.address.as_deref(), Some("10.9.0.2:6379"));
        assert!(!back.raw.contains_key(raw::CUT_OFF_FROM));
    }
}
