//! One look at the engine: every container (inspected, for aliases and
//! exposed ports), every network, and, on a Swarm manager, services (with
//! their running counts), tasks and nodes. Only GET requests: a read-only
//! console sends nothing else to the engine.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerInspectResponse, LocalNodeState, Network, Node, Service, Task};
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptions, ListNetworksOptions, ListNodesOptions,
    ListServicesOptions, ListTasksOptions,
};
use futures::future::join_all;

use super::client::{DockerError, timed};

/// What the engine holds now.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub containers: Vec<ContainerInspectResponse>,
    pub networks: Vec<Network>,
    /// Present when this engine is a Swarm manager.
    pub swarm: Option<SwarmInventory>,
}

#[derive(Debug, Clone, Default)]
pub struct SwarmInventory {
    pub services: Vec<Service>,
    pub tasks: Vec<Task>,
    pub nodes: Vec<Node>,
}

impl Inventory {
    /// Takes the inventory; any call that fails fails the look (a partial
    /// view would make members vanish and come back).
    pub async fn fetch(docker: &Docker, timeout: Duration) -> Result<Inventory, DockerError> {
        let options = ListContainersOptions {
            all: true,
            ..Default::default()
        };
        let listed = timed(
            timeout,
            "list containers",
            docker.list_containers(Some(options)),
        )
        .await?;
        let ids: Vec<String> = listed.into_iter().filter_map(|c| c.id).collect();
        let inspected = join_all(ids.iter().map(|id| inspect(docker, id, timeout))).await;
        let mut containers = Vec::new();
        for result in inspected {
            match result {
                Ok(Some(c)) => containers.push(c),
                // Removed between the list and the inspect.
                Ok(None) => {}
                Err(e) => return Err(e),
            }
        }
        let networks = timed(
            timeout,
            "list networks",
            docker.list_networks(None::<ListNetworksOptions>),
        )
        .await?;
        let swarm = swarm_inventory(docker, timeout).await?;
        Ok(Inventory {
            containers,
            networks,
            swarm,
        })
    }
}

async fn inspect(
    docker: &Docker,
    id: &str,
    timeout: Duration,
) -> Result<Option<ContainerInspectResponse>, DockerError> {
    let what = format!("inspect container {}", crate::actions::short(id));
    match timed(
        timeout,
        &what,
        docker.inspect_container(id, None::<InspectContainerOptions>),
    )
    .await
    {
        Ok(c) => Ok(Some(c)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Services, tasks and nodes, when this engine manages a Swarm.
async fn swarm_inventory(
    docker: &Docker,
    timeout: Duration,
) -> Result<Option<SwarmInventory>, DockerError> {
    let info = timed(timeout, "info", docker.info()).await?;
    let swarm = info.swarm.unwrap_or_default();
    let manager = swarm.local_node_state == Some(LocalNodeState::ACTIVE)
        && swarm.control_available == Some(true);
    if !manager {
        return Ok(None);
    }
    let services = timed(
        timeout,
        "list services",
        docker.list_services(Some(ListServicesOptions {
            status: Some(true),
            ..Default::default()
        })),
    )
    .await?;
    let tasks = timed(
        timeout,
        "list tasks",
        docker.list_tasks(None::<ListTasksOptions>),
    )
    .await?;
    let nodes = timed(
        timeout,
        "list nodes",
        docker.list_nodes(None::<ListNodesOptions>),
    )
    .await?;
    Ok(Some(SwarmInventory {
        services,
        tasks,
        nodes,
    }))
}

/// Networks by name and by id.
pub fn networks_by_name(networks: &[Network]) -> HashMap<&str, &Network> {
    let mut map = HashMap::new();
    for n in networks {
        if let Some(name) = &n.name {
            map.insert(name.as_str(), n);
        }
        if let Some(id) = &n.id {
            map.insert(id.as_str(), n);
        }
    }
    map
}
