//! Reading Redis through the engine, for containers the console cannot
//! reach (a Swarm overlay network is not routed to the host): a running
//! container labelled `clusterdeck.read=redis`, or a task of a service so
//! labelled, has `redis-cli -p <port> INFO replication` run inside it by
//! the Engine's exec API, its output bounded and timed, and parsed by the
//! Redis source's own parser. Its member then carries role, link and lag
//! with the application's authority, like a member the Redis source polls.
//!
//! The command is fixed and only reads. It runs only where the operator
//! asked for it by the label, so an engine without such containers sees
//! nothing but GET requests. `redis-cli` must be in the image, and the
//! instance must not ask for a password (this read has none to give).

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use futures::{Stream, StreamExt};

use super::client::timed;
use super::inventory::Inventory;
use crate::model::{Authority, MemberObservation, normalize_address};
use crate::sources::redis::group::{GroupView, InstanceState, Probe};
use crate::sources::redis::info::{ReplicationInfo, parse_info};
use crate::sources::redis::value::truncate;

/// The label that asks for the read, on a container or a Swarm service.
pub const READ_LABEL: &str = "clusterdeck.read";
/// The one value it knows.
pub const READ_REDIS: &str = "redis";
/// The most output read from one command: `INFO replication` is a few
/// hundred bytes even with many replicas.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// A container to read, and who it is among the Docker source's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadTarget {
    pub container: String,
    /// The member's name (task or container), for messages.
    pub name: String,
    /// The member's address, `<IP>:<port>`: the port is the one read.
    pub address: String,
    pub port: u16,
}

/// One read's outcome.
pub type Read = (ReadTarget, Result<ReplicationInfo, String>);

/// The members to read: running, labelled, with an address.
pub fn targets(members: &[MemberObservation], inventory: &Inventory) -> Vec<ReadTarget> {
    let service_labels = |id: &str| {
        let swarm = inventory.swarm.as_ref()?;
        let service = swarm
            .services
            .iter()
            .find(|s| s.id.as_deref() == Some(id))?;
        service.spec.as_ref()?.labels.as_ref()
    };
    members
        .iter()
        .filter_map(|member| {
            let handles = &member.placement.handles;
            let id = handles.container.as_ref()?.id.as_str();
            let container = inventory
                .containers
                .iter()
                .find(|c| c.id.as_deref() == Some(id))?;
            let running = container.state.as_ref().and_then(|s| s.running) == Some(true);
            let own = container.config.as_ref().and_then(|c| c.labels.as_ref());
            let service = handles.swarm.service.as_ref();
            let by_service = service.and_then(|s| service_labels(&s.id));
            let asked = [own, by_service]
                .into_iter()
                .flatten()
                .any(|labels| labels.get(READ_LABEL).map(String::as_str) == Some(READ_REDIS));
            let address = member.address.clone()?;
            let port = address.rsplit_once(':')?.1.parse().ok()?;
            (running && asked).then(|| ReadTarget {
                container: id.to_string(),
                name: member.name.clone(),
                address,
                port,
            })
        })
        .collect()
}

/// Reads every target at once: one slow container costs one timeout.
pub async fn read_all(docker: &Docker, targets: &[ReadTarget], timeout: Duration) -> Vec<Read> {
    let reads = targets.iter().map(|target| async move {
        let info = read_one(docker, target, timeout).await;
        (target.clone(), info)
    });
    futures::future::join_all(reads).await
}

/// `redis-cli INFO replication` inside one container, within `timeout`.
async fn read_one(
    docker: &Docker,
    target: &ReadTarget,
    timeout: Duration,
) -> Result<ReplicationInfo, String> {
    let command = [
        "redis-cli",
        "-p",
        &target.port.to_string(),
        "INFO",
        "replication",
    ];
    let options = CreateExecOptions {
        cmd: Some(command.iter().map(|s| s.to_string()).collect()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let what = format!("INFO through the engine in {}", target.name);
    let work = async {
        let created = timed(
            timeout,
            &what,
            docker.create_exec(&target.container, options),
        )
        .await
        .map_err(|e| e.to_string())?;
        let started = timed(timeout, &what, docker.start_exec(&created.id, None))
            .await
            .map_err(|e| e.to_string())?;
        match started {
            StartExecResults::Attached { output, .. } => collect(output).await,
            StartExecResults::Detached => Err("the engine gave no output".into()),
        }
    };
    let (stdout, stderr) = tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| {
            format!(
                "{what}: no answer within {}",
                humantime::format_duration(timeout)
            )
        })?
        .map_err(|e| format!("{what}: {e}"))?;
    parse_info(&stdout).map_err(|e| {
        let said = if stderr.trim().is_empty() {
            &stdout
        } else {
            &stderr
        };
        format!("{what}: {e}; it said {:?}", truncate(said.trim(), 120))
    })
}

/// The command's standard output and error, refused beyond [`OUTPUT_LIMIT`].
async fn collect(
    mut stream: impl Stream<Item = Result<LogOutput, bollard::errors::Error>> + Unpin,
) -> Result<(String, String), String> {
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    while let Some(chunk) = stream.next().await {
        match chunk.map_err(|e| super::client::describe(&e))? {
            LogOutput::StdOut { message } => stdout.extend_from_slice(&message),
            LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
            LogOutput::Console { message } => stdout.extend_from_slice(&message),
            LogOutput::StdIn { .. } => {}
        }
        if stdout.len() + stderr.len() > OUTPUT_LIMIT {
            return Err(format!("more than {OUTPUT_LIMIT} bytes of output"));
        }
    }
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Ok((text(stdout), text(stderr)))
}

/// What the reads say of their members, beside the Docker source's own
/// observations (joined with them by address). A master leads the replicas
/// it lists; a read that failed says why and leaves the role to the labels.
pub fn observations(members: &[MemberObservation], reads: &[Read]) -> Vec<MemberObservation> {
    let states: Vec<InstanceState> = reads
        .iter()
        .filter_map(|(target, read)| read.as_ref().ok().map(|info| answered(target, info)))
        .collect();
    let mut out = Vec::new();
    for (target, read) in reads {
        let Some(member) = members.iter().find(|m| m.name == target.name) else {
            continue;
        };
        let mut seen = match read {
            Ok(_) => {
                let state = states.iter().find(|s| s.address == target.address);
                match state {
                    Some(state) => group_of(state, &states, &member.cluster).observe(state),
                    None => continue,
                }
            }
            Err(error) => MemberObservation {
                address: Some(target.address.clone()),
                authority: Authority::Application,
                error: Some(error.clone()),
                ..MemberObservation::default()
            },
        };
        seen.cluster = member.cluster.clone();
        seen.name = member.name.clone();
        out.push(seen);
    }
    out
}

fn answered(target: &ReadTarget, info: &ReplicationInfo) -> InstanceState {
    InstanceState {
        address: target.address.clone(),
        probe: Probe::Answered(Box::new(info.clone())),
        last_info: Some(info.clone()),
        server: BTreeMap::new(),
    }
}

/// The group an instance is seen in: a master with the replicas it lists
/// (it leads them), or a replica with the master that lists it.
fn group_of<'a>(
    state: &'a InstanceState,
    states: &'a [InstanceState],
    cluster: &'a str,
) -> GroupView<'a> {
    let lists = |master: &InstanceState, replica: &str| {
        master.answer().is_some_and(|info| {
            info.is_master()
                && info
                    .slaves
                    .iter()
                    .any(|s| normalize_address(&s.ip, s.port) == replica)
        })
    };
    let master = match state.answer() {
        Some(info) if info.is_master() => Some(state),
        _ => states.iter().find(|m| lists(m, &state.address)),
    };
    let Some(master) = master else {
        return GroupView::new(cluster, [state], None);
    };
    let group = states
        .iter()
        .filter(|s| s.address == master.address || lists(master, &s.address));
    GroupView::new(cluster, group, Some(&master.address))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Health, Link, Tier};

    fn target(name: &str, address: &str) -> ReadTarget {
        ReadTarget {
            container: format!("c-{name}"),
            name: name.into(),
            address: address.into(),
            port: 6379,
        }
    }

    fn task(name: &str, cluster: &str, address: &str) -> MemberObservation {
        MemberObservation {
            cluster: cluster.into(),
            name: name.into(),
            address: Some(address.into()),
            tier: Tier::Copy,
            ..MemberObservation::default()
        }
    }

    #[test]
    fn a_master_leads_the_replicas_it_lists_across_services() {
        let members = [
            task("lab-master.1", "swarm/lab-master", "10.0.9.2:6379"),
            task("lab-copies.1", "swarm/lab-copies", "10.0.9.3:6379"),
        ];
        let master = "role:master\nconnected_slaves:1\n\
                      slave0:ip=10.0.9.3,port=6379,state=online,offset=90,lag=0\n\
                      master_repl_offset:100\n";
        let replica = "role:slave\nmaster_host:tasks.lab-master\nmaster_port:6379\n\
                       master_link_status:up\nslave_repl_offset:90\n";
        let reads = [
            (target("lab-master.1", "10.0.9.2:6379"), parse_info(master)),
            (target("lab-copies.1", "10.0.9.3:6379"), parse_info(replica)),
        ]
        .map(|(t, info)| (t, info.map_err(|e| e.to_string())));
        let seen = observations(&members, &reads);
        let (m, r) = (&seen[0], &seen[1]);
        assert_eq!(
            (m.cluster.as_str(), m.name.as_str()),
            ("swarm/lab-master", "lab-master.1")
        );
        assert!(m.leader && m.claims_leader && m.tier == Tier::Master);
        assert_eq!(m.authority, Authority::Application);
        assert_eq!(r.cluster, "swarm/lab-copies");
        assert_eq!(
            (r.tier, r.link, r.health),
            (Tier::Copy, Some(Link::Up), Health::Ok)
        );
        assert_eq!((r.lag_bytes, r.lag_seconds), (Some(10), Some(0.0)));
        assert_eq!(r.native_role.as_deref(), Some("slave"));
    }

    #[test]
    fn a_failed_read_says_why_and_leaves_the_role_alone() {
        let members = [task("t.1", "swarm/t", "10.0.9.4:6379")];
        let reads = [(
            target("t.1", "10.0.9.4:6379"),
            Err("INFO through the engine in t.1: exec failed".to_string()),
        )];
        let seen = observations(&members, &reads);
        assert_eq!(seen[0].tier, Tier::Unknown);
        assert_eq!(seen[0].address.as_deref(), Some("10.0.9.4:6379"));
        assert!(
            seen[0]
                .error
                .as_deref()
                .unwrap_or("")
                .contains("exec failed")
        );
    }
}
