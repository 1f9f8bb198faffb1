//! An index over the Player's event log, kept up to date frame by frame: what each message id
//! was (a `Delivered { id }` only names the id) and each server's recent vote changes (the vote
//! panel's history). It reads only entries it has not seen; when the log shrinks (the timeline
//! moved back) it starts over.

use std::collections::{BTreeMap, HashMap};
use zk_core::peer::election::VoteChange;
use zk_core::peer::messages::Vote;
use zk_core::peer::PeerEvent;
use zk_core::{Millis, ServerId};
use zk_sim::play::LogEntry;
use zk_sim::TraceEvent;

/// Vote changes kept per server.
const VOTES_KEPT: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageInfo {
    pub from: ServerId,
    pub to: ServerId,
    pub kind: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoteRecord {
    pub at: Millis,
    pub vote: Vote,
    pub why: VoteChange,
}

#[derive(Default)]
pub struct LogIndex {
    seen: usize,
    messages: HashMap<u64, MessageInfo>,
    votes: BTreeMap<ServerId, Vec<VoteRecord>>,
}

impl LogIndex {
    pub fn update(&mut self, log: &[LogEntry]) {
        if log.len() < self.seen {
            *self = LogIndex::default();
        }
        for e in &log[self.seen..] {
            match &e.event {
                TraceEvent::Sent {
                    id, from, to, msg, ..
                } => {
                    self.messages.insert(
                        *id,
                        MessageInfo {
                            from: *from,
                            to: *to,
                            kind: msg.kind(),
                        },
                    );
                }
                TraceEvent::Peer {
                    server,
                    event: PeerEvent::Vote { vote, why },
                } => {
                    let v = self.votes.entry(*server).or_default();
                    v.push(VoteRecord {
                        at: e.at,
                        vote: *vote,
                        why: why.clone(),
                    });
                    if v.len() > VOTES_KEPT {
                        v.remove(0);
                    }
                }
                _ => {}
            }
        }
        self.seen = log.len();
    }

    pub fn message(&self, id: u64) -> Option<&MessageInfo> {
        self.messages.get(&id)
    }

    /// A server's last vote changes, oldest first.
    pub fn votes(&self, server: ServerId) -> &[VoteRecord] {
        self.votes.get(&server).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_sim::play::{Player, Setup};

    #[test]
    fn follows_the_log_and_starts_over_when_it_shrinks() {
        let mut p = Player::new(Setup::playground(1));
        p.advance_to(8_000, usize::MAX);
        let mut idx = LogIndex::default();
        idx.update(&p.log);
        assert!(!idx.votes(ServerId(1)).is_empty(), "server 1 voted");
        let delivered = p
            .log
            .iter()
            .find_map(|e| match e.event {
                TraceEvent::Delivered { id } => Some(id),
                _ => None,
            })
            .expect("a message was delivered");
        assert_eq!(idx.message(delivered).unwrap().kind, "NOTIFICATION");

        p.seek(100);
        idx.update(&p.log);
        assert!(idx.votes(ServerId(1)).iter().all(|v| v.at <= 100));
    }
}
