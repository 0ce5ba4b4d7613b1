//! How a cluster agrees on its leader, whatever decides it: a Sentinel
//! quorum, a raft group, a lock in shared storage. One [`ConsensusView`]
//! carries who decides ([`Arbiter`]), the leader they name, the term or
//! epoch, voters and quorum, whether an election or failover is under way,
//! and the system's own facts; the UI draws it with one details section
//! whatever the system, and application probes fill it.
//!
//! [`SentinelView`] is kept as the shape of `sentinel` in `snapshot` output
//! (a contract scripts rely on), derived from a Sentinel-decided view.

use serde::{Deserialize, Serialize};

/// Who decides which member leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arbiter {
    /// Redis Sentinels voting with a quorum on the master named `master_name`.
    SentinelQuorum {
        master_name: String,
        /// Sentinel's flags for the master: `master`, `s_down`, `o_down`, ...
        flags: Vec<String>,
    },
    /// A raft group electing its leader for a term (etcd, Dgraph zero,
    /// orchestrator, Consul).
    Raft { group: String },
    /// A lock or lease in shared storage; whoever holds it leads (Patroni's
    /// leader key, a Kubernetes lease).
    Lock { key: String },
}

impl Arbiter {
    /// The heading of the details section.
    pub fn label(&self) -> &'static str {
        match self {
            Arbiter::SentinelQuorum { .. } => "sentinel",
            Arbiter::Raft { .. } => "raft",
            Arbiter::Lock { .. } => "lock",
        }
    }

    /// Who decides, as a sentence names it: `Sentinel names 10.0.0.2:6379`.
    pub fn title(&self) -> &'static str {
        match self {
            Arbiter::SentinelQuorum { .. } => "Sentinel",
            Arbiter::Raft { .. } => "the raft group",
            Arbiter::Lock { .. } => "the lock",
        }
    }

    /// What the arbiter is called: the master name, the group, the key.
    pub fn name(&self) -> &str {
        match self {
            Arbiter::SentinelQuorum { master_name, .. } => master_name,
            Arbiter::Raft { group } => group,
            Arbiter::Lock { key } => key,
        }
    }

    /// The system's word for the one it names.
    pub fn leader_word(&self) -> &'static str {
        match self {
            Arbiter::SentinelQuorum { .. } => "master",
            Arbiter::Raft { .. } => "leader",
            Arbiter::Lock { .. } => "holder",
        }
    }

    /// The system's word for a change of leader under way.
    pub fn change_word(&self) -> &'static str {
        match self {
            Arbiter::SentinelQuorum { .. } => "failover",
            Arbiter::Raft { .. } => "election",
            Arbiter::Lock { .. } => "takeover",
        }
    }

    /// The system's word for those who vote.
    pub fn voters_word(&self) -> &'static str {
        match self {
            Arbiter::SentinelQuorum { .. } => "sentinels",
            Arbiter::Raft { .. } => "voters",
            Arbiter::Lock { .. } => "candidates",
        }
    }
}

/// One thing the system says about its agreement, shown as it says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub name: String,
    pub value: String,
    /// The value is a warning sign (drawn in red).
    pub alarming: bool,
}

/// How one cluster agrees on its leader, as the deciders see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsensusView {
    pub arbiter: Arbiter,
    /// The address of the member the arbiter names as leader.
    pub leader: Option<String>,
    /// The raft term or epoch of that decision.
    pub term: Option<u64>,
    /// How many vote.
    pub voters: Option<u32>,
    /// How many votes a decision needs.
    pub quorum: Option<u32>,
    /// An election or failover under way, in the system's words (its state).
    pub in_progress: Option<String>,
    /// The strongest thing wrong, in a word, for the clusters list (e.g.
    /// `o_down`); the facts have the detail.
    pub alarm: Option<String>,
    pub facts: Vec<Fact>,
}

impl ConsensusView {
    /// The view of a Sentinel quorum.
    pub fn from_sentinel(sentinel: SentinelView) -> ConsensusView {
        // Only the strongest down flag fits in the clusters list.
        let alarm = ["o_down", "s_down"]
            .into_iter()
            .find(|flag| sentinel.flags.iter().any(|f| f == flag))
            .map(String::from);
        let facts = vec![Fact {
            name: "flags".into(),
            value: sentinel.flags.join(","),
            alarming: sentinel.is_down(),
        }];
        ConsensusView {
            arbiter: Arbiter::SentinelQuorum {
                master_name: sentinel.master_name,
                flags: sentinel.flags,
            },
            leader: sentinel.master_address,
            term: None,
            voters: sentinel.sentinels,
            quorum: sentinel.quorum,
            in_progress: sentinel.failover_state,
            alarm,
            facts,
        }
    }

    /// The Sentinel view this was made from, for `sentinel` in snapshots;
    /// None when something else decides.
    pub fn sentinel(&self) -> Option<SentinelView> {
        let Arbiter::SentinelQuorum { master_name, flags } = &self.arbiter else {
            return None;
        };
        Some(SentinelView {
            master_name: master_name.clone(),
            master_address: self.leader.clone(),
            flags: flags.clone(),
            failover_state: self.in_progress.clone(),
            quorum: self.quorum,
            sentinels: self.voters,
        })
    }
}

/// What a Sentinel says about the master it watches: the `sentinel` object
/// of `snapshot` output.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SentinelView {
    pub master_name: String,
    pub master_address: Option<String>,
    /// Sentinel's flags for the master: `master`, `s_down`, `o_down`, ...
    pub flags: Vec<String>,
    pub failover_state: Option<String>,
    pub quorum: Option<u32>,
    pub sentinels: Option<u32>,
}

impl SentinelView {
    pub fn is_down(&self) -> bool {
        self.flags.iter().any(|f| f == "s_down" || f == "o_down")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentinel(flags: &[&str], failover: Option<&str>) -> SentinelView {
        SentinelView {
            master_name: "mymaster".into(),
            master_address: Some("10.0.0.1:6379".into()),
            flags: flags.iter().map(|f| f.to_string()).collect(),
            failover_state: failover.map(String::from),
            quorum: Some(2),
            sentinels: Some(3),
        }
    }

    #[test]
    fn a_sentinel_view_goes_through_the_consensus_view_unchanged() {
        for view in [
            sentinel(&["master"], None),
            sentinel(&["master", "s_down", "o_down"], Some("wait_promotion")),
            sentinel(&[], None),
        ] {
            let consensus = ConsensusView::from_sentinel(view.clone());
            assert_eq!(consensus.sentinel(), Some(view));
        }
    }

    #[test]
    fn the_strongest_down_flag_is_the_alarm() {
        let down = ConsensusView::from_sentinel(sentinel(&["master", "s_down", "o_down"], None));
        assert_eq!(down.alarm.as_deref(), Some("o_down"));
        assert!(down.facts[0].alarming);
        let up = ConsensusView::from_sentinel(sentinel(&["master"], None));
        assert_eq!((up.alarm, up.facts[0].alarming), (None, false));
    }

    #[test]
    fn only_a_sentinel_quorum_has_a_sentinel_view() {
        let raft = ConsensusView {
            arbiter: Arbiter::Raft {
                group: "etcd".into(),
            },
            leader: Some("10.0.0.2:2379".into()),
            term: Some(7),
            voters: Some(3),
            quorum: Some(2),
            in_progress: None,
            alarm: None,
            facts: Vec::new(),
        };
        assert_eq!(raft.sentinel(), None);
        assert_eq!(raft.arbiter.leader_word(), "leader");
    }
}
