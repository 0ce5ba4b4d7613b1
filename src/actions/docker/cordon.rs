//! Swarm node availability: `pause` stops new tasks, `drain` also moves the
//! running ones away, `active` undoes both. The full inspected spec is sent
//! back with its version, as for services.

use std::time::Duration;

use bollard::Docker;
use bollard::models::NodeSpecAvailabilityEnum;
use bollard::query_parameters::UpdateNodeOptions;

use super::{DockerError, timed};

/// The node's availability now (`active`, `pause`, `drain`).
pub async fn availability(
    docker: &Docker,
    id: &str,
    timeout: Duration,
) -> Result<String, DockerError> {
    let node = timed(
        timeout,
        &format!("inspect node {id}"),
        docker.inspect_node(id),
    )
    .await?;
    Ok(node
        .spec
        .and_then(|s| s.availability)
        .map_or_else(|| "active".into(), |a| a.to_string()))
}

/// Sets the node's availability; says what changed.
pub async fn set_availability(
    docker: &Docker,
    id: &str,
    hostname: &str,
    availability: &str,
    timeout: Duration,
) -> Result<String, DockerError> {
    let wanted = match availability {
        "active" => NodeSpecAvailabilityEnum::ACTIVE,
        "pause" => NodeSpecAvailabilityEnum::PAUSE,
        "drain" => NodeSpecAvailabilityEnum::DRAIN,
        other => {
            return Err(DockerError::Refused(format!(
                "unknown node availability {other:?}"
            )));
        }
    };
    let node = timed(
        timeout,
        &format!("inspect node {hostname}"),
        docker.inspect_node(id),
    )
    .await?;
    let version = node.version.and_then(|v| v.index).ok_or_else(|| {
        DockerError::Refused(format!("node {hostname} has no version to update against"))
    })?;
    let mut spec = node.spec.unwrap_or_default();
    let before = spec
        .availability
        .map_or_else(|| "?".into(), |a| a.to_string());
    spec.availability = Some(wanted);
    let options = UpdateNodeOptions {
        version: version as i64,
    };
    let what = format!("update node {hostname} (version {version})");
    timed(timeout, &what, docker.update_node(id, spec, options)).await?;
    Ok(format!(
        "node {hostname}: availability {before} -> {availability}"
    ))
}
