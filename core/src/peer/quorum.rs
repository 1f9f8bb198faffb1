//! Quorum arithmetic (ZooKeeper's `QuorumVerifier`): which sets of servers are a quorum.
//!
//! Two kinds, behind one type:
//! * majority (`QuorumMaj`): more than half of the voting servers;
//! * hierarchical (`QuorumHierarchical`, from `group.x` and `weight.x`): more than half of the
//!   groups, each counting only when the servers of it in the set weigh more than half of the
//!   group's weight.
//!
//! Observers never count. A server with weight 0 is a voter that can never be elected.

use crate::types::ServerId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Which sets of servers form a quorum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuorumVerifier {
    Majority {
        voters: BTreeSet<ServerId>,
    },
    Hierarchical {
        groups: BTreeMap<u64, BTreeSet<ServerId>>,
        weights: BTreeMap<ServerId, u64>,
    },
}

impl QuorumVerifier {
    pub fn majority(voters: impl IntoIterator<Item = ServerId>) -> QuorumVerifier {
        QuorumVerifier::Majority {
            voters: voters.into_iter().collect(),
        }
    }

    /// Voting servers.
    pub fn voters(&self) -> BTreeSet<ServerId> {
        match self {
            QuorumVerifier::Majority { voters } => voters.clone(),
            QuorumVerifier::Hierarchical { groups, .. } => {
                groups.values().flatten().copied().collect()
            }
        }
    }

    pub fn is_voter(&self, id: ServerId) -> bool {
        match self {
            QuorumVerifier::Majority { voters } => voters.contains(&id),
            QuorumVerifier::Hierarchical { groups, .. } => groups.values().any(|g| g.contains(&id)),
        }
    }

    /// A server's weight: 1 for majority voters, `weight.x` (default 1) for hierarchical ones,
    /// 0 for anyone else. FastLeaderElection never elects a weight-0 server.
    pub fn weight(&self, id: ServerId) -> u64 {
        match self {
            QuorumVerifier::Majority { voters } => voters.contains(&id) as u64,
            QuorumVerifier::Hierarchical { weights, groups } => {
                if groups.values().any(|g| g.contains(&id)) {
                    weights.get(&id).copied().unwrap_or(1)
                } else {
                    0
                }
            }
        }
    }

    /// `containsQuorum` of a set of distinct servers (the keys of a map or a set). Called on
    /// every ACK, so a majority is counted without building anything.
    pub fn is_quorum<'a>(&self, set: impl IntoIterator<Item = &'a ServerId>) -> bool {
        match self {
            QuorumVerifier::Majority { voters } => {
                let n = set.into_iter().filter(|s| voters.contains(s)).count();
                n * 2 > voters.len()
            }
            QuorumVerifier::Hierarchical { groups, weights } => {
                let set: BTreeSet<ServerId> = set.into_iter().copied().collect();
                let w = |s: &ServerId| weights.get(s).copied().unwrap_or(1);
                let mut majorities = 0;
                let mut counted = 0;
                for g in groups.values() {
                    let total: u64 = g.iter().map(w).sum();
                    if total == 0 {
                        continue;
                    }
                    counted += 1;
                    let have: u64 = g.iter().filter(|s| set.contains(s)).map(w).sum();
                    if have * 2 > total {
                        majorities += 1;
                    }
                }
                majorities * 2 > counted
            }
        }
    }

    /// The smallest number of voters that can make a quorum (for the playground's captions).
    pub fn quorum_size(&self) -> usize {
        match self {
            QuorumVerifier::Majority { voters } => voters.len() / 2 + 1,
            QuorumVerifier::Hierarchical { .. } => {
                let voters: Vec<ServerId> = self.voters().into_iter().collect();
                (1..=voters.len())
                    .find(|&k| subsets_of(&voters, k).any(|s| self.is_quorum(s.iter())))
                    .unwrap_or(voters.len())
            }
        }
    }
}

fn subsets_of(items: &[ServerId], k: usize) -> impl Iterator<Item = Vec<ServerId>> + '_ {
    let n = items.len();
    (0u64..(1u64 << n.min(20)))
        .filter(move |m| m.count_ones() as usize == k)
        .map(move |m| {
            (0..n)
                .filter(|i| m & (1 << i) != 0)
                .map(|i| items[i])
                .collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u64]) -> Vec<ServerId> {
        v.iter().map(|&i| ServerId(i)).collect()
    }

    /// Table-driven, as raft-rs tests its quorum module: voters, set, is it a quorum.
    #[test]
    fn majority_table() {
        let table: &[(&[u64], &[u64], bool)] = &[
            (&[1], &[1], true),
            (&[1], &[], false),
            (&[1, 2, 3], &[1], false),
            (&[1, 2, 3], &[1, 2], true),
            (&[1, 2, 3], &[2, 3], true),
            (&[1, 2, 3, 4], &[1, 2], false),
            (&[1, 2, 3, 4], &[1, 2, 3], true),
            (&[1, 2, 3, 4, 5], &[3, 4], false),
            (&[1, 2, 3, 4, 5], &[1, 4, 5], true),
            // Non-voters (observers) in the set do not count.
            (&[1, 2, 3], &[1, 9, 8], false),
        ];
        for (voters, set, want) in table {
            let q = QuorumVerifier::majority(ids(voters));
            assert_eq!(
                q.is_quorum(ids(set).iter()),
                *want,
                "voters {voters:?} set {set:?}"
            );
        }
        assert_eq!(
            QuorumVerifier::majority(ids(&[1, 2, 3, 4, 5])).quorum_size(),
            3
        );
        assert_eq!(
            QuorumVerifier::majority(ids(&[1, 2, 3, 4])).quorum_size(),
            3
        );
    }

    #[test]
    fn hierarchical_table() {
        // Three groups of three; a quorum needs a majority in two groups.
        let groups: BTreeMap<u64, BTreeSet<ServerId>> = [
            (1, ids(&[1, 2, 3]).into_iter().collect()),
            (2, ids(&[4, 5, 6]).into_iter().collect()),
            (3, ids(&[7, 8, 9]).into_iter().collect()),
        ]
        .into_iter()
        .collect();
        let q = QuorumVerifier::Hierarchical {
            groups: groups.clone(),
            weights: BTreeMap::new(),
        };
        let table: &[(&[u64], bool)] = &[
            (&[1, 2, 4, 5], true),
            (&[1, 2, 3, 4], false),
            (&[1, 2, 3, 4, 5, 6], true),
            (&[1, 4, 7], false),
            (&[2, 3, 8, 9], true),
        ];
        for (set, want) in table {
            assert_eq!(q.is_quorum(ids(set).iter()), *want, "set {set:?}");
        }
        assert_eq!(q.quorum_size(), 4);
        // Weights: server 1 weighs 3 in a group of 1+1+3, so it alone is that group's majority.
        let weights = [(ServerId(1), 3)].into_iter().collect();
        let q = QuorumVerifier::Hierarchical { groups, weights };
        assert!(q.is_quorum(ids(&[1, 4, 5]).iter()));
        assert_eq!(q.weight(ServerId(1)), 3);
        assert_eq!(q.weight(ServerId(2)), 1);
        assert_eq!(q.weight(ServerId(42)), 0);
    }

    #[test]
    fn zero_weight_group_is_ignored() {
        let groups: BTreeMap<u64, BTreeSet<ServerId>> = [
            (1, ids(&[1, 2, 3]).into_iter().collect()),
            (2, ids(&[4]).into_iter().collect()),
        ]
        .into_iter()
        .collect();
        let weights = [(ServerId(4), 0)].into_iter().collect();
        let q = QuorumVerifier::Hierarchical { groups, weights };
        assert!(q.is_quorum(ids(&[1, 2]).iter()));
        assert_eq!(q.weight(ServerId(4)), 0);
    }
}
