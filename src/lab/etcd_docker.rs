//! `clusterdeck lab --app etcd --docker`: three etcd members as containers
//! on a private bridge with its own subnet, each at a fixed address of it
//! (`<subnet>.11`, `.12`, `.13`: the members name each other by address
//! before any of them runs, and a reconnected container gets its address
//! back). Everything carries the lab's label and goes with
//! [`DockerLab::stop`], as the Redis Docker lab's containers do.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::NetworkingConfig;
use bollard::models::{ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig};
use bollard::query_parameters::CreateContainerOptions;

use super::docker::{DockerLab, LAB_LABEL, ensure_image};
use super::etcd::RAFT_FLAGS;
use crate::config::{ClusterRule, Config, Selector};
use crate::sources::docker::DockerHost;
use crate::sources::docker::client::timed;
use crate::sources::probes::RuleProbe;

/// etcd's client port in each container, where the probe asks.
pub const CLIENT_PORT: u16 = 2379;
const PEER_PORT: u16 = 2380;
const MEMBERS: usize = 3;

/// A running etcd Docker lab: the containers and network, and where the
/// members answer (`IP:2379`, reachable from the host through the bridge).
pub struct EtcdDockerLab {
    pub lab: DockerLab,
    pub addresses: Vec<String>,
}

impl EtcdDockerLab {
    /// Starts the members; on failure, removes what it had created.
    pub async fn start(
        host: &DockerHost,
        image: &str,
        timeout: Duration,
    ) -> Result<EtcdDockerLab, String> {
        let lab = DockerLab::connect(host, timeout).await?;
        let mut lab = EtcdDockerLab {
            lab,
            addresses: Vec::new(),
        };
        match lab.build(image, timeout).await {
            Ok(()) => Ok(lab),
            Err(e) => {
                lab.lab.stop(timeout).await;
                Err(e)
            }
        }
    }

    async fn build(&mut self, image: &str, timeout: Duration) -> Result<(), String> {
        let image = if image == super::image::LOCAL {
            super::image::local(&self.lab.docker, &super::image::ETCD, timeout).await?
        } else {
            ensure_image(&self.lab.docker, image, timeout).await?
        };
        let prefix = self.lab.create_network(false, timeout).await?;
        let ips: Vec<String> = (1..=MEMBERS)
            .map(|n| format!("{prefix}.{}", 10 + n))
            .collect();
        let cluster: Vec<String> = ips
            .iter()
            .enumerate()
            .map(|(i, ip)| format!("etcd-{}=http://{ip}:{PEER_PORT}", i + 1))
            .collect();
        let token = format!("clusterdeck-lab-{}", self.lab.id);
        for (i, ip) in ips.iter().enumerate() {
            let name = format!("etcd-{}", i + 1);
            let cmd = etcd_command(&name, ip, &cluster.join(","), &token);
            self.run_member(&name, &image, ip, cmd, timeout).await?;
            self.addresses.push(format!("{ip}:{CLIENT_PORT}"));
        }
        Ok(())
    }

    async fn run_member(
        &mut self,
        member: &str,
        image: &str,
        ip: &str,
        cmd: Vec<String>,
        timeout: Duration,
    ) -> Result<(), String> {
        // The member first: the console's name column shows the start.
        let name = format!("{member}-clusterdeck-lab-{}", self.lab.id);
        let endpoint = EndpointSettings {
            aliases: Some(vec![member.to_string()]),
            ipam_config: Some(EndpointIpamConfig {
                ipv4_address: Some(ip.to_string()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(cmd),
            labels: Some(self.lab.labels()),
            exposed_ports: Some(vec![
                format!("{CLIENT_PORT}/tcp"),
                format!("{PEER_PORT}/tcp"),
            ]),
            host_config: Some(HostConfig {
                network_mode: Some(self.lab.network.clone()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(self.lab.network.clone(), endpoint)])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(name.clone()),
            ..Default::default()
        };
        let create = self.lab.docker.create_container(Some(options), body);
        let created = timed(timeout, &format!("create {name}"), create).await?;
        self.lab.containers.push(created.id.clone());
        let start = self.lab.docker.start_container(&created.id, None);
        timed(timeout, &format!("start {name}"), start).await?;
        Ok(())
    }

    /// The console's config: the user's rules after one for this lab, which
    /// puts its containers in one cluster at `IP:2379` and asks each of
    /// them what etcd says (leader, term, followers).
    pub fn config(&self, user: &Config) -> Config {
        let rule = ClusterRule {
            name: format!("etcd-lab-{}", self.lab.id),
            selector: Selector {
                names: Vec::new(),
                labels: [(LAB_LABEL.to_string(), self.lab.id.clone())].into(),
            },
            master: None,
            copy: None,
            port: Some(CLIENT_PORT),
            remove: None,
            probe: Some(RuleProbe {
                kind: "etcd".into(),
                port: Some(CLIENT_PORT),
                scheme: None,
                access: Default::default(),
            }),
        };
        let mut config = user.clone();
        // First match wins: the lab's containers are the lab's cluster.
        config.clusters.insert(0, rule);
        config
    }
}

/// `etcd` and its flags for the member `name` at `ip`, data inside the
/// container (it goes with the container).
fn etcd_command(name: &str, ip: &str, cluster: &str, token: &str) -> Vec<String> {
    let client = format!("http://{ip}:{CLIENT_PORT}");
    let peer = format!("http://{ip}:{PEER_PORT}");
    let mut cmd: Vec<String> = vec!["etcd".into()];
    for (flag, value) in [
        ("--name", name),
        ("--data-dir", "/var/lib/etcd"),
        (
            "--listen-client-urls",
            &format!("http://0.0.0.0:{CLIENT_PORT}"),
        ),
        ("--advertise-client-urls", &client),
        ("--listen-peer-urls", &format!("http://0.0.0.0:{PEER_PORT}")),
        ("--initial-advertise-peer-urls", &peer),
        ("--initial-cluster", cluster),
        ("--initial-cluster-state", "new"),
        ("--initial-cluster-token", token),
    ] {
        cmd.extend([flag.to_string(), value.to_string()]);
    }
    cmd.extend(RAFT_FLAGS.map(String::from));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_name_each_other_by_address_and_elect_fast() {
        let cmd = etcd_command("etcd-2", "10.213.7.12", "etcd-1=http://a:2380", "t");
        let text = cmd.join(" ");
        assert!(text.starts_with("etcd --name etcd-2 "), "{text}");
        assert!(text.contains("--advertise-client-urls http://10.213.7.12:2379"));
        assert!(text.contains("--initial-advertise-peer-urls http://10.213.7.12:2380"));
        assert!(text.contains("--election-timeout 500") && text.contains("--pre-vote=true"));
    }
}
