//! From the selected member and its cluster to the switchover call its
//! application takes, or one sentence saying why there is none: the member
//! leads already, is down, is a Sentinel or a learner, the cluster has no
//! leader to hand over from, or the console lacks an address or an id.

use super::{AppCall, sentinel_pick};
use crate::actions::Action;
use crate::model::{Arbiter, Cluster, Health, Member, Tier};

/// The fact a probe gives where it asked a member, when that is not the
/// address it shows (Patroni's REST API beside its PostgreSQL address).
pub use crate::sources::probes::assemble::ASKED_AT;

/// The switchover that makes `member` the leader of `cluster`.
pub fn plan(member: &Member, cluster: &Cluster) -> Result<Action, String> {
    let name = &member.name;
    if member.native_role.as_deref() == Some("sentinel") {
        return Err(format!(
            "{name} is a Sentinel, which never leads: select the replica to promote"
        ));
    }
    if member.leader || cluster.leader.as_deref() == Some(member.id.as_str()) {
        return Err(format!("{name} leads {} already", cluster.name));
    }
    if member.health == Health::Down {
        return Err(format!(
            "{name} is down: only a member that answers can take over"
        ));
    }
    let call = match cluster.kind.as_str() {
        "patroni" => patroni(member, cluster)?,
        "etcd" => etcd(member, cluster)?,
        "redis" => redis(member, cluster)?,
        other => {
            return Err(format!(
                "switchover works on Patroni, etcd and Redis; {} is {other}",
                cluster.name
            ));
        }
    };
    Ok(Action::Switchover {
        member: member.id.clone(),
        cluster: cluster.id.clone(),
        call,
    })
}

/// Where the console asked a member: its `asked at` fact, else its address.
pub fn asked_at(member: &Member) -> Option<&str> {
    member
        .raw
        .get(ASKED_AT)
        .map(String::as_str)
        .or(member.address.as_deref())
        .filter(|a| !a.is_empty())
}

/// The member leading now, or why there is none to hand over from.
fn current_leader(cluster: &Cluster) -> Result<&Member, String> {
    cluster.leader_member().ok_or_else(|| {
        format!(
            "{} has no leader the console sees: there is nothing to switch over from",
            cluster.name
        )
    })
}

fn patroni(member: &Member, cluster: &Cluster) -> Result<AppCall, String> {
    let leader = current_leader(cluster)?;
    // The leader's API is best (Patroni checks the leader's name against
    // its own); any member's API takes a switchover too.
    let (api, api_of) = asked_at(leader)
        .map(|a| (a, leader))
        .or_else(|| asked_at(member).map(|a| (a, member)))
        .ok_or_else(|| {
            format!(
                "the console does not know the REST API address of {} or {}",
                leader.name, member.name
            )
        })?;
    Ok(AppCall::Patroni {
        api: api.to_string(),
        api_of: api_of.name.clone(),
        leader: leader.name.clone(),
        candidate: member.name.clone(),
    })
}

fn etcd(member: &Member, cluster: &Cluster) -> Result<AppCall, String> {
    if member.native_role.as_deref() == Some("learner") {
        return Err(format!(
            "{} is a learner: etcd hands leadership only to a voting member",
            member.name
        ));
    }
    let leader = current_leader(cluster)?;
    let target_id = member
        .raw
        .get("etcd id")
        .filter(|id| id.parse::<u64>().is_ok())
        .ok_or_else(|| format!("the console does not know {}'s etcd member id", member.name))?;
    let endpoint = asked_at(leader).ok_or_else(|| {
        format!(
            "the console does not know the client endpoint of {}, the leader",
            leader.name
        )
    })?;
    Ok(AppCall::EtcdMoveLeader {
        endpoint: endpoint.to_string(),
        leader: leader.name.clone(),
        candidate: member.name.clone(),
        target_id: target_id.clone(),
    })
}

fn redis(member: &Member, cluster: &Cluster) -> Result<AppCall, String> {
    let arbiter = cluster.consensus.as_ref().map(|c| &c.arbiter);
    if let Some(Arbiter::SentinelQuorum { master_name, .. }) = arbiter {
        return sentinel(member, cluster, master_name);
    }
    if cluster.members.iter().any(is_sentinel) {
        return Err(format!(
            "Sentinel watches {}: REPLICAOF would fight it (watch it with --sentinel to \
             switch over through Sentinel)",
            cluster.name
        ));
    }
    replicaof(member, cluster)
}

fn is_sentinel(member: &Member) -> bool {
    member.native_role.as_deref() == Some("sentinel")
}

fn sentinel(member: &Member, cluster: &Cluster, master_name: &str) -> Result<AppCall, String> {
    if member.tier != Tier::Copy {
        return Err(format!(
            "{} is not a replica of {master_name}: Sentinel promotes only replicas",
            member.name
        ));
    }
    let sentinels: Vec<String> = cluster
        .members
        .iter()
        .filter(|m| is_sentinel(m) && m.health != Health::Down)
        .filter_map(|m| m.address.clone())
        .collect();
    if sentinels.is_empty() {
        return Err(format!(
            "no Sentinel watching {master_name} answers the console: there is none to ask"
        ));
    }
    Ok(AppCall::SentinelFailover {
        master_name: master_name.to_string(),
        sentinels,
        candidate: member.id.clone(),
        likely: sentinel_pick::likely_pick(cluster),
    })
}

fn replicaof(member: &Member, cluster: &Cluster) -> Result<AppCall, String> {
    let master = cluster.leader_member().ok_or_else(|| {
        format!(
            "{} has no master the console sees: REPLICAOF needs one to hand over from",
            cluster.name
        )
    })?;
    if member.tier != Tier::Copy {
        return Err(format!(
            "{} is not a replica: only a replica can be promoted",
            member.name
        ));
    }
    let address = |m: &Member| {
        m.address
            .clone()
            .ok_or_else(|| format!("the console does not know {}'s address", m.name))
    };
    let (candidate, master_address) = (address(member)?, address(master)?);
    let mut replicas = Vec::new();
    let mut left_out = Vec::new();
    let others = cluster.members.iter().filter(|m| {
        m.id != member.id && m.id != master.id && matches!(m.tier, Tier::Copy | Tier::Master)
    });
    for other in others {
        match (&other.address, other.health) {
            (Some(a), health) if health != Health::Down => replicas.push(a.clone()),
            _ => left_out.push(other.name.clone()),
        }
    }
    Ok(AppCall::RedisReplicaOf {
        candidate,
        master: master_address,
        replicas,
        left_out,
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
