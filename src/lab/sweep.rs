//! What a Docker lab leaves when its console is SIGKILLed (no way out ran,
//! so nothing was removed) is removed by the next lab started on the same
//! machine: everything a lab creates says which process on which host made
//! it, and a lab whose process is gone is swept. Labs of consoles that still
//! run, or that another host made, are left alone.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, ListServicesOptions, RemoveContainerOptions,
};

use super::docker::LAB_LABEL;
use crate::sources::docker::client::timed;

/// The process that made a lab's resources.
const PID_LABEL: &str = "clusterdeck.lab.pid";
/// The host that process ran on.
const HOST_LABEL: &str = "clusterdeck.lab.host";

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// The owner's labels for a new lab's resources.
pub(super) fn owner_labels() -> HashMap<String, String> {
    HashMap::from([
        (PID_LABEL.to_string(), std::process::id().to_string()),
        (HOST_LABEL.to_string(), hostname()),
    ])
}

/// Removes the services, containers and networks of labs whose console
/// (on this host) is not running any more. Best effort: a failure here must
/// not stop a new lab, so it is only logged.
pub(super) async fn sweep_dead_labs(docker: &Docker, timeout: Duration) {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![format!("{HOST_LABEL}={}", hostname())],
    )]);
    let mut dead = BTreeSet::new();
    let host = hostname();
    let mut consider = |labels: Option<&HashMap<String, String>>| {
        if let Some(id) = labels.and_then(|l| dead_lab(l, &host)) {
            dead.insert(id.to_string());
        }
    };
    let containers = ListContainersOptions {
        all: true,
        filters: Some(filters.clone()),
        ..Default::default()
    };
    let found = timed(
        timeout,
        "list labs",
        docker.list_containers(Some(containers)),
    )
    .await;
    for c in found.unwrap_or_default() {
        consider(c.labels.as_ref());
    }
    let networks = ListNetworksOptions {
        filters: Some(filters),
    };
    let found = timed(timeout, "list labs", docker.list_networks(Some(networks))).await;
    for n in found.unwrap_or_default() {
        consider(n.labels.as_ref());
    }
    for id in dead {
        tracing::info!(lab = %id, "removing a Docker lab its console left");
        remove_lab(docker, &id, timeout).await;
    }
}

/// The lab's id, if these labels say a console on `host` made it and that
/// process is gone.
fn dead_lab<'a>(labels: &'a HashMap<String, String>, host: &str) -> Option<&'a str> {
    if labels.get(HOST_LABEL).map(String::as_str) != Some(host) {
        return None;
    }
    let pid = labels.get(PID_LABEL)?.parse::<u32>().ok()?;
    let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
    (!alive).then(|| labels.get(LAB_LABEL).map(String::as_str))?
}

/// Removes one lab's services, containers and network, by its label.
async fn remove_lab(docker: &Docker, id: &str, timeout: Duration) {
    let filters = HashMap::from([("label".to_string(), vec![format!("{LAB_LABEL}={id}")])]);
    let services = ListServicesOptions {
        filters: Some(filters.clone()),
        ..Default::default()
    };
    // Not a Swarm manager: no services to remove.
    let found = timed(
        timeout,
        "list services",
        docker.list_services(Some(services)),
    )
    .await;
    for name in found.unwrap_or_default().into_iter().filter_map(|s| s.id) {
        let _ = timed(timeout, "remove a service", docker.delete_service(&name)).await;
    }
    let containers = ListContainersOptions {
        all: true,
        filters: Some(filters.clone()),
        ..Default::default()
    };
    let found = timed(timeout, "list", docker.list_containers(Some(containers))).await;
    for c in found.unwrap_or_default().into_iter().filter_map(|c| c.id) {
        let force = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        let _ = timed(timeout, "remove", docker.remove_container(&c, Some(force))).await;
    }
    let networks = ListNetworksOptions {
        filters: Some(filters),
    };
    let found = timed(timeout, "list", docker.list_networks(Some(networks))).await;
    for n in found.unwrap_or_default().into_iter().filter_map(|n| n.id) {
        if let Err(e) = timed(timeout, "remove a network", docker.remove_network(&n)).await {
            tracing::warn!(error = %e, "a dead lab's network stays");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_labs_of_gone_consoles_on_this_host_are_swept() {
        let mut labels = owner_labels();
        labels.insert(LAB_LABEL.into(), "abc123".into());
        let host = hostname();
        assert_eq!(dead_lab(&labels, &host), None, "this process runs");
        // Above any pid the kernel hands out (pid_max is at most 2^22).
        labels.insert(PID_LABEL.into(), "99999999".into());
        assert_eq!(dead_lab(&labels, &host), Some("abc123"));
        assert_eq!(dead_lab(&labels, "another-host"), None);
        labels.remove(PID_LABEL);
        assert_eq!(dead_lab(&labels, &host), None, "no owner: not ours");
    }
}
