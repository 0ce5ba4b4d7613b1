//! One cluster out of what its members said: who is a member (the peers
//! they list, and whoever answered), who leads (the one that says so; with
//! two, the higher term, and both marked as claiming), the term, voters and
//! quorum, and each member's lag. Pure, so elections, partitions and
//! garbage are tested without servers.

use serde_json::Value;

use super::definition::{ArbiterKind, Compiled};
use super::said::{Peer, Said};
use crate::model::{
    Arbiter, Authority, ClusterObservation, ConsensusView, Fact, Health, MemberObservation,
    NativeLag, Tier,
};

/// One member asked: where, under which address it is shown, and what it
/// said or why it could not be asked.
#[derive(Debug, Clone)]
pub struct Look {
    /// `host:port` polled.
    pub endpoint: String,
    /// The address the member is shown and joined under (a platform's
    /// identity address); the endpoint when None.
    pub address: Option<String>,
    /// The platform's name for it.
    pub name: Option<String>,
    pub result: Result<Said, String>,
}

impl Look {
    fn said(&self) -> Option<&Said> {
        self.result.as_ref().ok()
    }
}

/// The cluster a group of looks forms.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub id: String,
    pub name: String,
    pub precedence: u8,
}

/// The cluster, its members, and the endpoints of the peers to poll next.
#[derive(Debug, Clone, Default)]
pub struct Assembled {
    pub cluster: ClusterObservation,
    pub members: Vec<MemberObservation>,
    pub endpoints: Vec<String>,
    /// Endpoints asked that failed and that no member lists any more (a
    /// member the cluster forgot): the poller drops them unless they are
    /// seeds, rather than show the member again under its endpoint.
    pub forgotten: Vec<String>,
}

/// A member in the making: the look it answered with, the peer entry
/// listing it, or both.
struct Slot<'a> {
    look: Option<&'a Look>,
    peer: Option<&'a Peer>,
    endpoint: Option<String>,
}

/// Assembles one cluster. `peer_endpoint` says where a peer is polled.
pub fn assemble(
    def: &Compiled,
    spec: &ClusterSpec,
    looks: &[Look],
    peer_endpoint: impl Fn(&Peer) -> Option<String>,
) -> Assembled {
    let peers = membership(looks);
    let slots = slots(looks, &peers, &peer_endpoint);
    let claimants: Vec<usize> = (0..slots.len()).filter(|&i| claims(&slots[i])).collect();
    // Two claimants in one term (or with no term, as orchestrator gives):
    // the one most members name, not a stale leader cut off from them.
    let named = named_counts(&slots);
    let chosen = claimants
        .iter()
        .copied()
        .max_by_key(|&i| (term_of(&slots[i]), named[i], std::cmp::Reverse(i)))
        .or_else(|| named_leader(&slots));
    let leader_said = chosen.and_then(|i| slots[i].look?.said());
    let members: Vec<MemberObservation> = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| member(def, spec, slot, chosen == Some(i), leader_said))
        .collect();
    let endpoints = if def.def.poll_peers {
        slots.iter().filter_map(|s| s.endpoint.clone()).collect()
    } else {
        Vec::new()
    };
    // Where nobody is elected there is no agreement to show (and no
    // election to report when no member leads).
    let consensus = arbiter(def).map(|arbiter| consensus(arbiter, looks, &slots, &members, chosen));
    let listing = !peers.is_empty();
    let forgotten = slots
        .iter()
        .filter(|s| listing && s.peer.is_none())
        .filter_map(|s| s.look.filter(|l| l.result.is_err()))
        .map(|l| l.endpoint.clone())
        .collect();
    Assembled {
        cluster: ClusterObservation {
            id: spec.id.clone(),
            kind: def.def.kind.clone(),
            name: spec.name.clone(),
            precedence: spec.precedence,
            consensus,
            ..ClusterObservation::default()
        },
        members,
        endpoints,
        forgotten,
    }
}

/// The peers the best-informed member lists: one that says it leads (the
/// highest term), else the first that answered.
fn membership(looks: &[Look]) -> Vec<Peer> {
    let answered = looks.iter().filter_map(Look::said);
    let best = answered
        .clone()
        .filter(|s| s.leader && !s.peers.is_empty())
        .max_by_key(|s| s.term)
        .or_else(|| answered.clone().find(|s| !s.peers.is_empty()));
    best.map(|s| s.peers.clone()).unwrap_or_default()
}

fn slots<'a>(
    looks: &'a [Look],
    peers: &'a [Peer],
    peer_endpoint: &impl Fn(&Peer) -> Option<String>,
) -> Vec<Slot<'a>> {
    let mut used = vec![false; looks.len()];
    let mut out: Vec<Slot<'a>> = peers
        .iter()
        .map(|peer| {
            let endpoint = peer_endpoint(peer);
            // Where it was asked first: the seed may name it otherwise.
            let found = [true, false].into_iter().find_map(|by_address| {
                looks.iter().enumerate().position(|(i, look)| {
                    !used[i] && is_about(look, peer, endpoint.as_deref(), by_address)
                })
            });
            if let Some(i) = found {
                used[i] = true;
            }
            Slot {
                look: found.map(|i| &looks[i]),
                peer: Some(peer),
                endpoint,
            }
        })
        .collect();
    for (i, look) in looks.iter().enumerate() {
        // The same member asked under two addresses (the seed's and its
        // own) is one member.
        let id = look.said().and_then(|s| s.id.as_deref());
        let known = id.is_some() && out.iter().any(|s| slot_id(s) == id);
        if !used[i] && !known {
            out.push(Slot {
                look: Some(look),
                peer: None,
                endpoint: Some(look.endpoint.clone()),
            });
        }
    }
    out
}

fn slot_id<'a>(slot: &Slot<'a>) -> Option<&'a str> {
    slot.look
        .and_then(Look::said)
        .and_then(|s| s.id.as_deref())
        .or_else(|| slot.peer.and_then(|p| p.id.as_deref()))
}

fn is_about(look: &Look, peer: &Peer, endpoint: Option<&str>, by_address: bool) -> bool {
    if by_address {
        return endpoint == Some(look.endpoint.as_str())
            || peer.address.as_deref() == Some(look.endpoint.as_str());
    }
    matches!((look.said().and_then(|s| s.id.as_ref()), &peer.id), (Some(a), Some(b)) if a == b)
}

fn claims(slot: &Slot<'_>) -> bool {
    match slot.look.map(|l| &l.result) {
        Some(Ok(said)) => said.leader,
        Some(Err(_)) => false,
        None => slot.peer.and_then(|p| p.leader) == Some(true),
    }
}

fn term_of(slot: &Slot<'_>) -> Option<u64> {
    slot.look.and_then(Look::said).and_then(|s| s.term)
}

/// With nobody claiming to lead (the leader is not reachable from here),
/// the one most answering members name.
fn named_leader(slots: &[Slot<'_>]) -> Option<usize> {
    let votes = named_counts(slots);
    (0..slots.len())
        .filter(|&i| votes[i] > 0)
        .max_by_key(|&i| (votes[i], std::cmp::Reverse(i)))
}

/// How many answering members name each slot as their leader.
fn named_counts(slots: &[Slot<'_>]) -> Vec<usize> {
    let mut votes = vec![0; slots.len()];
    for said in slots.iter().filter_map(|s| s.look.and_then(Look::said)) {
        let Some(named) = &said.leader_id else {
            continue;
        };
        if let Some(i) = slots.iter().position(|s| names(s, named)) {
            votes[i] += 1;
        }
    }
    votes
}

fn names(slot: &Slot<'_>, named: &str) -> bool {
    let said_id = slot.look.and_then(Look::said).and_then(|s| s.id.as_deref());
    let peer = slot.peer;
    said_id == Some(named)
        || peer.and_then(|p| p.id.as_deref()) == Some(named)
        || peer.and_then(|p| p.address.as_deref()) == Some(named)
        || slot.look.is_some_and(|l| l.endpoint == named)
}

fn member(
    def: &Compiled,
    spec: &ClusterSpec,
    slot: &Slot<'_>,
    leads: bool,
    leader: Option<&Said>,
) -> MemberObservation {
    let said = slot.look.and_then(Look::said);
    let peer = slot.peer;
    let role = said
        .and_then(|s| s.role.clone())
        .or_else(|| peer.and_then(|p| p.role.clone()))
        .or_else(|| (peer.and_then(|p| p.voter) == Some(true)).then(|| "voter".to_string()));
    let tier = peer
        .and_then(|p| p.tier)
        .or_else(|| role.as_deref().map(|r| def.tier(r)))
        .unwrap_or(Tier::Unknown);
    let address = shown_address(slot, said);
    let name = slot
        .look
        .and_then(|l| l.name.clone())
        .or_else(|| said.and_then(|s| s.name.clone()))
        .or_else(|| peer.and_then(|p| p.name.clone()))
        .or_else(|| address.clone())
        .or_else(|| peer.and_then(|p| p.id.clone()))
        .unwrap_or_default();
    let lag = said
        .and_then(|s| s.lag.or_else(|| behind(def, s, leader?)))
        .or_else(|| peer.and_then(|p| p.lag));
    let mut raw = raw_facts(def, said, peer);
    let asked = slot.look.map(|l| &l.endpoint).or(slot.endpoint.as_ref());
    if let Some(asked) = asked.filter(|a| address.as_ref() != Some(*a)) {
        raw.insert(ASKED_AT.into(), asked.clone());
    }
    MemberObservation {
        cluster: spec.id.clone(),
        name,
        address,
        authority: Authority::Application,
        tier: if leads { Tier::Master } else { tier },
        leader: leads,
        claims_leader: claims(slot),
        native_role: role,
        health: health(slot),
        error: slot.look.and_then(|l| l.result.as_ref().err().cloned()),
        term: said
            .and_then(|s| s.term)
            .or_else(|| peer.and_then(|p| p.term)),
        lag: lag.map(|value| NativeLag {
            value,
            unit: def.def.lag_unit.clone().unwrap_or_else(|| "entries".into()),
        }),
        raw: raw.into(),
        ..MemberObservation::default()
    }
}

/// The fact naming where a member was asked, when it is shown under
/// another address (Patroni's REST API beside its PostgreSQL address);
/// actions that talk to the application use it.
pub const ASKED_AT: &str = "asked at";

/// Where a member is shown: the platform's address for it, its own word,
/// the address a lister gives beside a separate endpoint, else where it
/// was asked.
fn shown_address(slot: &Slot<'_>, said: Option<&Said>) -> Option<String> {
    let peer = slot.peer;
    slot.look
        .and_then(|l| l.address.clone())
        .or_else(|| said.and_then(|s| s.address.clone()))
        .or_else(|| {
            peer.filter(|p| p.endpoint.is_some())
                .and_then(|p| p.address.clone())
        })
        .or_else(|| slot.look.map(|l| l.endpoint.clone()))
        .or_else(|| slot.endpoint.clone())
        .or_else(|| peer.and_then(|p| p.address.clone()))
}

/// How far a member is behind the leader by their positions.
fn behind(def: &Compiled, said: &Said, leader: &Said) -> Option<u64> {
    let ahead = leader.position?;
    let older_term = matches!((said.term, leader.term), (Some(a), Some(b)) if a < b);
    if def.def.position_per_term && older_term {
        return Some(ahead);
    }
    Some(ahead.saturating_sub(said.position?))
}

/// The member's own facts and its id in its system, for the details pane.
fn raw_facts(
    def: &Compiled,
    said: Option<&Said>,
    peer: Option<&Peer>,
) -> std::collections::BTreeMap<String, String> {
    let mut raw = peer.map(|p| p.facts.clone()).unwrap_or_default();
    raw.extend(said.map(|s| s.facts.clone()).unwrap_or_default());
    let id = said
        .and_then(|s| s.id.clone())
        .or_else(|| peer.and_then(|p| p.id.clone()));
    if let Some(id) = id {
        raw.insert(format!("{} id", def.def.kind), id);
    }
    raw
}

fn health(slot: &Slot<'_>) -> Health {
    match slot.look.map(|l| &l.result) {
        // It answered but says it cannot serve: up, yet not usable.
        Some(Ok(said)) if said.healthy == Some(false) => Health::Degraded,
        Some(Ok(_)) => Health::Ok,
        Some(Err(_)) => Health::Down,
        None => match slot.peer.and_then(|p| p.healthy) {
            Some(true) => Health::Ok,
            Some(false) => Health::Down,
            None => Health::Unknown,
        },
    }
}

/// Who decides the leader, as the model names it; None when nobody does.
fn arbiter(def: &Compiled) -> Option<Arbiter> {
    let group = def.def.kind.clone();
    match def.def.arbiter {
        ArbiterKind::Raft => Some(Arbiter::Raft { group }),
        ArbiterKind::Lock => Some(Arbiter::Lock { key: group }),
        ArbiterKind::None => None,
    }
}

fn consensus(
    arbiter: Arbiter,
    looks: &[Look],
    slots: &[Slot<'_>],
    members: &[MemberObservation],
    chosen: Option<usize>,
) -> ConsensusView {
    let answered: Vec<&Said> = looks.iter().filter_map(Look::said).collect();
    let term = chosen
        .and_then(|i| members[i].term)
        .or_else(|| answered.iter().filter_map(|s| s.term).max());
    let voters = slots
        .iter()
        .filter(|s| s.peer.is_none_or(|p| p.voter != Some(false)))
        .count() as u32;
    let leader_said = chosen.and_then(|i| slots[i].look.and_then(Look::said));
    let facts_of = leader_said.or_else(|| answered.first().copied());
    let mut facts: Vec<Fact> = Vec::new();
    if let Some(name) = answered.iter().find_map(|s| s.cluster.clone()) {
        facts.push(fact("cluster", name, false));
    }
    if let Some(said) = facts_of {
        facts.extend(said.facts.iter().map(|(k, v)| fact(k, v.clone(), false)));
    }
    let unreachable = looks.iter().filter(|l| l.result.is_err()).count();
    if unreachable > 0 {
        facts.push(fact("unreachable", unreachable.to_string(), true));
    }
    ConsensusView {
        arbiter,
        leader: chosen.and_then(|i| members[i].address.clone()),
        term,
        voters: (voters > 0).then_some(voters),
        quorum: (voters > 0).then_some(voters / 2 + 1),
        in_progress: (chosen.is_none() && !answered.is_empty()).then(|| "election".to_string()),
        alarm: None,
        facts,
    }
}

fn fact(name: &str, value: String, alarming: bool) -> Fact {
    Fact {
        name: name.to_string(),
        value,
        alarming,
    }
}

/// A reply that is not JSON kept as text, so a definition can still read it.
pub fn reply_value(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

#[cfg(test)]
#[path = "assemble_tests.rs"]
mod tests;
