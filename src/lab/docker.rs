//! `clusterdeck lab --docker`: the lab's Redis as containers on a private
//! network (a bridge with its own subnet), a master and replicas; with
//! `--swarm`, a small stack on an attachable overlay: a `master` service of
//! one task and a `copies` service whose tasks replicate from it (by
//! `tasks.<master service>`), so that scale and cordon have something to act
//! on. The overlay is not routed to the host, so the services carry the
//! `clusterdeck.read=redis` label: the Docker source reads each task's
//! roles inside its container through the engine
//! ([`engine_read`](crate::sources::docker::engine_read)); the
//! `clusterdeck.tier` label is the fallback until then. Everything it
//! creates carries the label `clusterdeck.lab=<id>` and is removed by
//! [`DockerLab::stop`], which waits until the tasks' containers are gone.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Ipam, IpamConfig, NetworkAttachmentConfig,
    NetworkCreateRequest, NetworkingConfig, ServiceSpec, ServiceSpecMode,
    ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, InspectContainerOptions, ListContainersOptions,
    RemoveContainerOptions,
};
use futures::StreamExt;

use crate::sources::docker::DockerHost;
use crate::sources::docker::client::{is_not_found, timed};
use crate::sources::docker::engine_read::{READ_LABEL, READ_REDIS};
use crate::sources::docker::observe::TIER_LABEL;

/// The label on everything a lab creates.
pub const LAB_LABEL: &str = "clusterdeck.lab";
/// How long pulling the image may take.
const PULL_TIMEOUT: Duration = Duration::from_secs(300);

/// What a Docker lab is asked to start.
#[derive(Debug, Clone)]
pub struct DockerLabConfig {
    pub image: String,
    pub replicas: usize,
    pub swarm: bool,
}

/// A running Docker lab.
pub struct DockerLab {
    pub(super) docker: Docker,
    pub id: String,
    pub network: String,
    pub containers: Vec<String>,
    /// Swarm services (`master`, `copies`), in the order they were made.
    pub services: Vec<String>,
    /// `redis://<master IP>:6379` for a standalone lab (reachable from the
    /// host through the bridge); none for Swarm (overlays are not).
    pub master_url: Option<String>,
}

impl DockerLab {
    /// Starts the lab; on failure, removes what it had created.
    pub async fn start(
        host: &DockerHost,
        config: &DockerLabConfig,
        timeout: Duration,
    ) -> Result<DockerLab, String> {
        let mut lab = DockerLab::connect(host, timeout).await?;
        match lab.build(config, timeout).await {
            Ok(()) => Ok(lab),
            Err(e) => {
                lab.stop(timeout).await;
                Err(e)
            }
        }
    }

    /// A lab with a new id and nothing in it yet, after removing what labs
    /// of dead consoles left on the engine ([`super::sweep`]).
    pub(super) async fn connect(host: &DockerHost, timeout: Duration) -> Result<DockerLab, String> {
        let docker = host.connect(timeout).await?;
        super::sweep::sweep_dead_labs(&docker, timeout).await;
        let id = format!("{:06x}", fastrand::u32(..) & 0xff_ffff);
        Ok(DockerLab {
            docker,
            network: format!("clusterdeck-lab-{id}"),
            id,
            containers: Vec::new(),
            services: Vec::new(),
            master_url: None,
        })
    }

    /// The labels on everything it creates: the lab's id, and who made it
    /// (so that a later start can tell a dead console's lab from a live one).
    pub(super) fn labels(&self) -> HashMap<String, String> {
        let mut labels = super::sweep::owner_labels();
        labels.insert(LAB_LABEL.to_string(), self.id.clone());
        labels
    }

    async fn build(&mut self, config: &DockerLabConfig, timeout: Duration) -> Result<(), String> {
        let image = if config.image == super::image::LOCAL {
            super::image::local(&self.docker, &super::image::REDIS, timeout).await?
        } else {
            ensure_image(&self.docker, &config.image, timeout).await?
        };
        self.create_network(config.swarm, timeout).await?;
        if config.swarm {
            let master = self
                .create_service("master", &image, 1, None, timeout)
                .await?;
            return self
                .create_service("copies", &image, config.replicas, Some(&master), timeout)
                .await
                .map(drop);
        }
        let master = self.run_redis("master", &image, None, timeout).await?;
        let ip = self.ip_of(&master, timeout).await?;
        self.master_url = Some(format!("redis://{ip}:6379"));
        for n in 1..=config.replicas {
            self.run_redis(&format!("replica-{n}"), &image, Some(&ip), timeout)
                .await?;
        }
        Ok(())
    }

    /// A private network with its own subnet (so reconnects can ask for the
    /// same address): the first free one of a few candidates. Returns the
    /// subnet's first three octets (`10.213.x`).
    pub(super) async fn create_network(
        &self,
        overlay: bool,
        timeout: Duration,
    ) -> Result<String, String> {
        let mut last = String::new();
        let start = fastrand::u8(..);
        for step in 0..16u8 {
            let octet = start.wrapping_add(step.wrapping_mul(17));
            let request = NetworkCreateRequest {
                name: self.network.clone(),
                driver: Some(if overlay { "overlay" } else { "bridge" }.into()),
                attachable: Some(true),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(format!("10.213.{octet}.0/24")),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                labels: Some(self.labels()),
                ..Default::default()
            };
            match timed(
                timeout,
                "create the lab network",
                self.docker.create_network(request),
            )
            .await
            {
                Ok(_) => return Ok(format!("10.213.{octet}")),
                Err(e) if e.to_string().contains("overlap") => last = e.into(),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last)
    }

    async fn run_redis(
        &mut self,
        role: &str,
        image: &str,
        master: Option<&str>,
        timeout: Duration,
    ) -> Result<String, String> {
        let name = format!("clusterdeck-lab-{}-{role}", self.id);
        let cmd = redis_command(master);
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd),
            labels: Some(self.labels()),
            exposed_ports: Some(vec!["6379/tcp".into()]),
            host_config: Some(HostConfig {
                network_mode: Some(self.network.clone()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    self.network.clone(),
                    EndpointSettings {
                        aliases: Some(vec![role.to_string()]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let created = timed(
            timeout,
            &format!("create {name}"),
            self.docker.create_container(Some(options), body),
        )
        .await?;
        self.containers.push(created.id.clone());
        timed(
            timeout,
            &format!("start {name}"),
            self.docker.start_container(&created.id, None),
        )
        .await?;
        Ok(created.id)
    }

    async fn ip_of(&self, id: &str, timeout: Duration) -> Result<String, String> {
        let c = timed(
            timeout,
            "inspect the lab master",
            self.docker
                .inspect_container(id, None::<InspectContainerOptions>),
        )
        .await?;
        c.network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(&self.network))
            .and_then(|e| e.ip_address)
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| "the lab master has no address on the lab network".to_string())
    }

    /// A replicated service of `replicas` Redis tasks; with `master`, they
    /// replicate from that service's task.
    /// Returns the service's name.
    async fn create_service(
        &mut self,
        role: &str,
        image: &str,
        replicas: usize,
        master: Option<&str>,
        timeout: Duration,
    ) -> Result<String, String> {
        let name = format!("clusterdeck-lab-{}-{role}", self.id);
        // `tasks.<service>` is the task's own address: the service's virtual
        // IP needs the kernel's IPVS, which not every host has.
        let master = master.map(|m| format!("tasks.{m}"));
        let mut command = redis_command(master.as_deref());
        let args = command.split_off(1);
        let mut labels = self.labels();
        let tier = if master.is_some() { "copy" } else { "master" };
        labels.insert(TIER_LABEL.into(), tier.into());
        labels.insert(READ_LABEL.into(), READ_REDIS.into());
        let spec = ServiceSpec {
            name: Some(name.clone()),
            labels: Some(labels),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image.to_string()),
                    command: Some(command),
                    args: Some(args),
                    labels: Some(self.labels()),
                    ..Default::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig {
                    target: Some(self.network.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated {
                    replicas: Some(replicas as i64),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        timed(
            timeout,
            &format!("create service {name}"),
            self.docker.create_service(spec, None),
        )
        .await?;
        self.services.push(name.clone());
        Ok(name)
    }

    /// Removes everything the lab created; says what could not be removed.
    pub async fn stop(&self, timeout: Duration) {
        for service in self.services.iter().rev() {
            match timed(
                timeout,
                &format!("remove the lab service {service}"),
                self.docker.delete_service(service),
            )
            .await
            {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => crate::terminal::say(format_args!("clusterdeck: {e}")),
            }
        }
        for id in &self.containers {
            let options = RemoveContainerOptions {
                force: true,
                ..Default::default()
            };
            match timed(
                timeout,
                "remove a lab container",
                self.docker.remove_container(id, Some(options)),
            )
            .await
            {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => crate::terminal::say(format_args!("clusterdeck: {e}")),
            }
        }
        // The engine removes a service's task containers a moment after the
        // service, and only then lets go of the network.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        if !self.services.is_empty() {
            self.wait_for_task_containers(deadline, timeout).await;
        }
        loop {
            match timed(
                timeout,
                "remove the lab network",
                self.docker.remove_network(&self.network),
            )
            .await
            {
                Ok(()) => return,
                Err(e) if is_not_found(&e) => return,
                Err(e) if tokio::time::Instant::now() > deadline => {
                    return crate::terminal::say(format_args!("clusterdeck: {e}"));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

impl DockerLab {
    /// Waits (until `deadline`) for the lab's task containers to be gone.
    async fn wait_for_task_containers(&self, deadline: tokio::time::Instant, timeout: Duration) {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{LAB_LABEL}={}", self.id)],
        )]);
        let options = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        loop {
            let left = timed(
                timeout,
                "list the lab's containers",
                self.docker.list_containers(Some(options.clone())),
            )
            .await;
            match left {
                Ok(left) if left.is_empty() => return,
                Ok(left) if tokio::time::Instant::now() > deadline => {
                    return crate::terminal::say(format_args!(
                        "clusterdeck: {} task container(s) of the lab are still there",
                        left.len()
                    ));
                }
                Err(e) => return crate::terminal::say(format_args!("clusterdeck: {e}")),
                Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
}

/// The image's id, pulling it first if the engine does not have it. Services
/// get the id, so the engine does not try a registry for it.
pub(super) async fn ensure_image(
    docker: &Docker,
    image: &str,
    timeout: Duration,
) -> Result<String, String> {
    match timed(
        timeout,
        &format!("inspect image {image}"),
        docker.inspect_image(image),
    )
    .await
    {
        Ok(found) => return found.id.ok_or_else(|| format!("image {image} has no id")),
        Err(e) if !is_not_found(&e) => return Err(e.into()),
        Err(_) => {}
    }
    let options = CreateImageOptions {
        from_image: Some(image.to_string()),
        ..Default::default()
    };
    let pull = async {
        let mut stream = docker.create_image(Some(options), None, None);
        while let Some(step) = stream.next().await {
            step.map_err(|e| format!("pull {image}: {e} (give a local image with --image)"))?;
        }
        Ok::<(), String>(())
    };
    tokio::time::timeout(PULL_TIMEOUT, pull)
        .await
        .map_err(|_| format!("pull {image}: not done within {}s", PULL_TIMEOUT.as_secs()))??;
    let found = timed(
        timeout,
        &format!("inspect image {image}"),
        docker.inspect_image(image),
    )
    .await?;
    found.id.ok_or_else(|| format!("image {image} has no id"))
}

/// `redis-server` arguments for a lab container on port 6379, in memory
/// only; a replica of `master` (an IP, or a Swarm service's name) when given.
pub fn redis_command(master: Option<&str>) -> Vec<String> {
    let mut cmd: Vec<String> = [
        "redis-server",
        "--protected-mode",
        "no",
        "--save",
        "",
        "--appendonly",
        "no",
        // Demo-sized: a copy cut off from its master says so within
        // seconds, not after Redis's default 60 s (which would hide the cut
        // until just before the fault heals itself).
        "--repl-timeout",
        "5",
        "--repl-ping-replica-period",
        "1",
    ]
    .map(String::from)
    .to_vec();
    if let Some(ip) = master {
        cmd.extend(["--replicaof".into(), ip.to_string(), "6379".into()]);
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labs_redis_notices_a_cut_within_seconds() {
        let cmd = redis_command(Some("10.0.0.2"));
        let timeout = cmd.iter().position(|a| a == "--repl-timeout");
        assert_eq!(timeout.map(|i| cmd[i + 1].as_str()), Some("5"), "{cmd:?}");
        assert!(
            cmd.windows(3)
                .any(|w| w == ["--replicaof", "10.0.0.2", "6379"])
        );
    }
}
