//! Cutting a container off a network and bringing it back as it was.
//!
//! Before the disconnect, the container's endpoint on that network (aliases,
//! IPv4 and IPv6 address, links) is read and saved in the fault ledger; the
//! reconnect asks the engine for exactly those again. An address can only be
//! asked for on a network with a configured subnet; where the engine refuses
//! that, the reconnect goes ahead without it and says so.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    EndpointIpamConfig, EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest,
};
use bollard::query_parameters::{InspectContainerOptions, InspectNetworkOptions};

use super::{DockerError, timed};
use crate::actions::ledger::SavedEndpoint;
use crate::sources::docker::observe::{can_disconnect, is_task_container};

/// Reads what a reconnect will need, and refuses a network the container
/// cannot be cut off from and brought back to (see [`can_disconnect`]).
pub async fn save_endpoint(
    docker: &Docker,
    container_id: &str,
    container: &str,
    network: &str,
    timeout: Duration,
) -> Result<SavedEndpoint, DockerError> {
    let inspected = timed(
        timeout,
        &format!("inspect container {container}"),
        docker.inspect_container(container_id, None::<InspectContainerOptions>),
    )
    .await?;
    let managed = is_task_container(&inspected);
    let endpoint = inspected
        .network_settings
        .and_then(|n| n.networks)
        .and_then(|mut n| n.remove(network))
        .ok_or_else(|| {
            DockerError::Refused(format!(
                "container {container} is not attached to network {network}"
            ))
        })?;
    let net = timed(
        timeout,
        &format!("inspect network {network}"),
        docker.inspect_network(network, None::<InspectNetworkOptions>),
    )
    .await?;
    let as_network = bollard::models::Network {
        name: net.name.clone(),
        scope: net.scope.clone(),
        attachable: net.attachable,
        ingress: net.ingress,
        ..Default::default()
    };
    if !can_disconnect(Some(&as_network), managed) {
        return Err(DockerError::Refused(format!(
            "{container} cannot be cut off from {network}: {}; nothing was changed",
            why_not(network)
        )));
    }
    let configured_subnet = net
        .ipam
        .and_then(|i| i.config)
        .is_some_and(|c| c.iter().any(|c| c.subnet.is_some()));
    Ok(saved(
        endpoint,
        configured_subnet && net.name.as_deref() != Some("bridge"),
    ))
}

/// Why a container cannot be cut off from `network`, in one clause.
pub fn why_not(network: &str) -> &'static str {
    match network {
        "host" => "the engine does not disconnect a container from the host network",
        "none" => "`none` is no network to lose",
        _ => "only a Swarm task's container can leave a Swarm network that is not attachable",
    }
}

fn saved(endpoint: EndpointSettings, can_pin: bool) -> SavedEndpoint {
    let ipam = endpoint.ipam_config.unwrap_or_default();
    let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
    SavedEndpoint {
        network_id: endpoint.network_id,
        aliases: endpoint.aliases.unwrap_or_default(),
        ipv4_address: non_empty(ipam.ipv4_address).or_else(|| non_empty(endpoint.ip_address)),
        ipv6_address: non_empty(ipam.ipv6_address)
            .or_else(|| non_empty(endpoint.global_ipv6_address)),
        links: endpoint.links.unwrap_or_default(),
        can_pin_address: can_pin,
    }
}

/// `POST /networks/{network}/disconnect`.
pub async fn disconnect(
    docker: &Docker,
    container_id: &str,
    container: &str,
    network: &str,
    timeout: Duration,
) -> Result<String, DockerError> {
    let request = NetworkDisconnectRequest {
        container: container_id.to_string(),
        force: Some(false),
    };
    timed(
        timeout,
        &format!("disconnect {container} from {network}"),
        docker.disconnect_network(network, request),
    )
    .await?;
    Ok(format!(
        "disconnected container {container} from network {network}"
    ))
}

/// `POST /networks/{network}/connect` with the saved settings. Already
/// connected counts as done: the fault is healed either way.
pub async fn reconnect(
    docker: &Docker,
    container_id: &str,
    container: &str,
    network: &str,
    endpoint: &SavedEndpoint,
    timeout: Duration,
) -> Result<String, DockerError> {
    let connected = match is_connected(docker, container_id, network, timeout).await {
        Err(e) if e.is_not_found() => {
            return Ok(format!(
                "container {container} is gone: nothing to reconnect"
            ));
        }
        other => other?,
    };
    if connected {
        return Ok(format!(
            "container {container} was already on network {network}"
        ));
    }
    let what = format!("reconnect {container} to {network}");
    let pinned = endpoint.can_pin_address
        && (endpoint.ipv4_address.is_some() || endpoint.ipv6_address.is_some());
    let first = timed(
        timeout,
        &what,
        docker.connect_network(network, request(container_id, endpoint, pinned)),
    )
    .await;
    match first {
        Ok(()) => Ok(format!(
            "reconnected container {container} to network {network}{}",
            as_before(endpoint, pinned)
        )),
        Err(e) if pinned && refuses_pinned_address(&e) => {
            timed(
                timeout,
                &what,
                docker.connect_network(network, request(container_id, endpoint, false)),
            )
            .await?;
            Ok(format!(
                "reconnected container {container} to network {network} with its aliases; the engine \
                 would not give back its address ({e})"
            ))
        }
        Err(e) => Err(e),
    }
}

/// The engine will not give an address back on a network without a
/// configured subnet; the reconnect then goes ahead without it.
fn refuses_pinned_address(error: &DockerError) -> bool {
    matches!(error, DockerError::Api { message, .. } if message.contains("user specified IP address"))
}

fn as_before(endpoint: &SavedEndpoint, pinned: bool) -> String {
    let mut parts = Vec::new();
    if pinned && let Some(ip) = &endpoint.ipv4_address {
        parts.push(format!("as {ip}"));
    }
    if !endpoint.aliases.is_empty() {
        parts.push(format!("aliases {}", endpoint.aliases.join(",")));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn request(container_id: &str, endpoint: &SavedEndpoint, pinned: bool) -> NetworkConnectRequest {
    let ipam = pinned.then(|| EndpointIpamConfig {
        ipv4_address: endpoint.ipv4_address.clone(),
        ipv6_address: endpoint.ipv6_address.clone(),
        ..Default::default()
    });
    let list = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    NetworkConnectRequest {
        container: container_id.to_string(),
        endpoint_config: Some(EndpointSettings {
            ipam_config: ipam,
            aliases: list(&endpoint.aliases),
            links: list(&endpoint.links),
            ..Default::default()
        }),
    }
}

async fn is_connected(
    docker: &Docker,
    container_id: &str,
    network: &str,
    timeout: Duration,
) -> Result<bool, DockerError> {
    let inspected = timed(
        timeout,
        "inspect container",
        docker.inspect_container(container_id, None::<InspectContainerOptions>),
    )
    .await?;
    let networks = inspected
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    Ok(networks
        .iter()
        .any(|(name, e)| name == network || e.network_id.as_deref() == Some(network)))
}
