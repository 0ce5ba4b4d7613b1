//! Scaling a Swarm service as the docker CLI does: inspect it, change the
//! replica count in the full spec, and send that spec back with the version
//! it was read at, so a concurrent change is refused rather than overwritten.

use std::time::Duration;

use bollard::Docker;
use bollard::models::{ServiceSpecMode, ServiceSpecModeReplicated};
use bollard::query_parameters::{InspectServiceOptions, UpdateServiceOptions};

use super::{DockerError, timed};

/// Sets the replicas of service `id`; says what changed.
pub async fn scale(
    docker: &Docker,
    id: &str,
    name: &str,
    replicas: u64,
    timeout: Duration,
) -> Result<String, DockerError> {
    let what = format!("inspect service {name}");
    let service = timed(
        timeout,
        &what,
        docker.inspect_service(id, None::<InspectServiceOptions>),
    )
    .await?;
    let version = service.version.and_then(|v| v.index).ok_or_else(|| {
        DockerError::Refused(format!("service {name} has no version to update against"))
    })?;
    let mut spec = service
        .spec
        .ok_or_else(|| DockerError::Refused(format!("service {name} has no spec")))?;
    let mode = spec.mode.get_or_insert_with(ServiceSpecMode::default);
    let Some(replicated) = mode.replicated.as_mut() else {
        if mode.global.is_some() {
            return Err(DockerError::Refused(format!(
                "service {name} runs in global mode: it does not scale"
            )));
        }
        mode.replicated = Some(ServiceSpecModeReplicated {
            replicas: Some(replicas as i64),
        });
        return update(docker, id, name, spec, version, None, replicas, timeout).await;
    };
    let before = replicated.replicas;
    replicated.replicas = Some(replicas as i64);
    update(docker, id, name, spec, version, before, replicas, timeout).await
}

#[allow(clippy::too_many_arguments)]
async fn update(
    docker: &Docker,
    id: &str,
    name: &str,
    spec: bollard::models::ServiceSpec,
    version: u64,
    before: Option<i64>,
    replicas: u64,
    timeout: Duration,
) -> Result<String, DockerError> {
    let options = UpdateServiceOptions {
        version: i32::try_from(version).map_err(|_| {
            DockerError::Refused(format!("service {name}: version {version} out of range"))
        })?,
        ..Default::default()
    };
    let what = format!("update service {name} (version {version})");
    let response = timed(
        timeout,
        &what,
        docker.update_service(id, spec, options, None),
    )
    .await?;
    let warnings = response.warnings.unwrap_or_default();
    let from = before.map_or_else(|| "?".into(), |b| b.to_string());
    let mut message =
        format!("service {name}: {from} -> {replicas} replicas (spec version {version})");
    if !warnings.is_empty() {
        message.push_str(&format!("; engine warnings: {}", warnings.join("; ")));
    }
    Ok(message)
}
