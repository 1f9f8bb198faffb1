//! FastLeaderElection (`FastLeaderElection.lookForLeader`), as an event-driven state machine.
//!
//! The ten steps of the docs, and where they live here:
//!
//! 1. increment the logical clock — [`Election::start`];
//! 2. vote for yourself (your id, last logged zxid, current epoch) — [`Election::start`];
//! 3. send the vote to every voter, yourself included — [`ElectionOut::Broadcast`];
//! 4. receive votes — [`Election::receive`];
//! 5. compare rounds: a larger round is adopted (recvset cleared, the vote re-compared against
//!    your own initial vote), a smaller one ignored, the same one compared;
//! 6. compare votes: peer epoch, then zxid, then server id ([`compare`]);
//! 7. change your vote if the other is better, and send it again;
//! 8. file every vote in the recvset, by sender;
//! 9. count: when a quorum in the recvset agrees with your vote, wait `finalizeWait` (200 ms) for
//!    a better one, then stop;
//! 10. become LEADING, FOLLOWING or OBSERVING.
//!
//! Votes from servers already FOLLOWING or LEADING let a newcomer join an established leader
//! without a new election (the `outofelection` set). When nothing arrives, the vote is sent again
//! with an exponential back-off from 200 ms to 60 s.

use super::messages::{Notification, ServerState, Vote};
use super::quorum::QuorumVerifier;
use crate::types::{Millis, ServerId, Zxid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `FastLeaderElection.finalizeWait`.
pub const FINALIZE_WAIT: Millis = 200;
/// `FastLeaderElection.maxNotificationInterval`.
pub const MAX_NOTIFICATION_INTERVAL: Millis = 60_000;

/// The id an observer votes for: nobody (ZooKeeper uses `Long.MIN_VALUE`).
pub const NOBODY: ServerId = ServerId(u64::MAX);

/// Which rule made one vote better than another: the order the docs teach.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rule {
    /// The larger peer epoch wins.
    Epoch,
    /// Same epoch: the larger zxid wins.
    Zxid,
    /// Same epoch and zxid: the larger server id wins.
    Sid,
    /// The current vote was an observer's vote for nobody.
    Nobody,
}

/// `totalOrderPredicate`: is `new` better than `cur`, and by which rule? A weight-0 server is
/// never better.
pub fn compare(
    q: &QuorumVerifier,
    new: (ServerId, Zxid, u32),
    cur: (ServerId, Zxid, u32),
) -> Option<Rule> {
    if q.weight(new.0) == 0 {
        return None;
    }
    if cur.0 == NOBODY {
        return Some(Rule::Nobody);
    }
    if new.2 > cur.2 {
        Some(Rule::Epoch)
    } else if new.2 < cur.2 {
        None
    } else if new.1 > cur.1 {
        Some(Rule::Zxid)
    } else if new.1 < cur.1 {
        None
    } else if new.0 > cur.0 {
        Some(Rule::Sid)
    } else {
        None
    }
}

/// A filed vote with the state of the server that sent it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiledVote {
    pub vote: Vote,
    pub state: ServerState,
}

/// `Vote.equals`: all four fields while either side is LOOKING; otherwise only the leader and
/// peer epoch (votes of servers out of the election may disagree on zxid and round).
fn same_vote(a: &FiledVote, b: &FiledVote) -> bool {
    if a.state == ServerState::Looking || b.state == ServerState::Looking {
        a.vote == b.vote
    } else {
        a.vote.leader == b.vote.leader && a.vote.peer_epoch == b.vote.peer_epoch
    }
}

/// Why a server changed its vote (for the playground's vote panel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VoteChange {
    /// A new round started with our own vote.
    Initial,
    /// A larger round arrived: we adopted it and re-compared against our own initial vote.
    NewRound {
        round: u64,
        from: ServerId,
        rule: Option<Rule>,
    },
    /// A better vote in the same round.
    Better { from: ServerId, rule: Rule },
}

/// What the election wants done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectionOut {
    /// Send our proposal to every voter (ourselves included).
    Broadcast(Notification),
    /// Our vote changed.
    VoteChanged { vote: Vote, why: VoteChange },
    /// A vote was filed in the recvset (or the out-of-election set).
    Filed {
        from: ServerId,
        vote: Vote,
        state: ServerState,
        out_of_election: bool,
    },
    /// A quorum agrees with our proposal; waiting `finalizeWait` for a better vote.
    Finalizing { until: Millis },
    /// Decided: this is the leader, and the state to take.
    Decided { vote: Vote, state: ServerState },
}

/// Who we are in the election.
#[derive(Clone, Copy, Debug)]
pub struct Me {
    pub id: ServerId,
    /// Our last logged zxid.
    pub last_zxid: Zxid,
    /// Our current epoch.
    pub epoch: u32,
    /// Observers vote for nobody and end OBSERVING.
    pub participant: bool,
}

impl Me {
    fn init_vote(&self) -> (ServerId, Zxid, u32) {
        if self.participant {
            (self.id, self.last_zxid, self.epoch)
        } else {
            (NOBODY, Zxid(0), 0)
        }
    }
}

/// One server's FastLeaderElection state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Election {
    /// The election round.
    pub logicalclock: u64,
    pub proposed_leader: ServerId,
    pub proposed_zxid: Zxid,
    pub proposed_epoch: u32,
    /// Votes received in this round, by sender.
    pub recvset: BTreeMap<ServerId, FiledVote>,
    /// Votes of servers that are FOLLOWING or LEADING.
    pub outofelection: BTreeMap<ServerId, FiledVote>,
    /// Whether an election is running (we are LOOKING).
    pub running: bool,
    not_timeout: Millis,
    /// When to send our vote again if nothing arrives.
    pub resend_at: Option<Millis>,
    /// While finalizing: when to decide if nothing better arrives.
    pub finalize_at: Option<Millis>,
}

impl Default for Election {
    fn default() -> Self {
        Election {
            logicalclock: 0,
            proposed_leader: NOBODY,
            proposed_zxid: Zxid(0),
            proposed_epoch: 0,
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            running: false,
            not_timeout: FINALIZE_WAIT,
            resend_at: None,
            finalize_at: None,
        }
    }
}

impl Election {
    /// Our current proposal.
    pub fn proposal(&self) -> Vote {
        Vote {
            leader: self.proposed_leader,
            zxid: self.proposed_zxid,
            election_epoch: self.logicalclock,
            peer_epoch: self.proposed_epoch,
        }
    }

    fn notification(&self, me: &Me) -> Notification {
        self.proposal().notification(ServerState::Looking, me.id)
    }

    /// Our proposal as [`compare`] takes it.
    fn proposed(&self) -> (ServerId, Zxid, u32) {
        (
            self.proposed_leader,
            self.proposed_zxid,
            self.proposed_epoch,
        )
    }

    fn update_proposal(&mut self, v: (ServerId, Zxid, u32)) {
        self.proposed_leader = v.0;
        self.proposed_zxid = v.1;
        self.proposed_epoch = v.2;
    }

    /// The next time the election needs `timeout` called.
    pub fn deadline(&self) -> Option<Millis> {
        if !self.running {
            return None;
        }
        match (self.finalize_at, self.resend_at) {
            (Some(f), Some(r)) => Some(f.min(r)),
            (f, r) => f.or(r),
        }
    }

    /// Steps 1–3: a new round with our own vote, sent to everyone.
    pub fn start(&mut self, now: Millis, me: &Me, out: &mut Vec<ElectionOut>) {
        self.running = true;
        self.recvset.clear();
        self.outofelection.clear();
        self.logicalclock += 1;
        self.update_proposal(me.init_vote());
        self.not_timeout = FINALIZE_WAIT;
        self.finalize_at = None;
        self.resend_at = Some(now + self.not_timeout);
        out.push(ElectionOut::VoteChanged {
            vote: self.proposal(),
            why: VoteChange::Initial,
        });
        out.push(ElectionOut::Broadcast(self.notification(me)));
    }

    /// Nothing arrived in time: send again with back-off; or the finalize wait ran out: decide.
    pub fn timeout(
        &mut self,
        now: Millis,
        me: &Me,
        q: &QuorumVerifier,
        out: &mut Vec<ElectionOut>,
    ) {
        if !self.running {
            return;
        }
        if let Some(f) = self.finalize_at {
            if now >= f {
                self.decide(self.proposal(), me, out);
                return;
            }
        }
        if let Some(r) = self.resend_at {
            if now >= r {
                out.push(ElectionOut::Broadcast(self.notification(me)));
                self.not_timeout = (self.not_timeout * 2).min(MAX_NOTIFICATION_INTERVAL);
                self.resend_at = Some(now + self.not_timeout);
            }
        }
        let _ = q;
    }

    /// Step 10: the election is over with `vote`.
    fn decide(&mut self, vote: Vote, me: &Me, out: &mut Vec<ElectionOut>) {
        let state = if vote.leader == me.id {
            ServerState::Leading
        } else if me.participant {
            ServerState::Following
        } else {
            ServerState::Observing
        };
        self.running = false;
        self.resend_at = None;
        self.finalize_at = None;
        out.push(ElectionOut::Decided { vote, state });
    }

    fn has_quorum(
        &self,
        q: &QuorumVerifier,
        set: &BTreeMap<ServerId, FiledVote>,
        target: &FiledVote,
    ) -> bool {
        q.is_quorum(
            set.iter()
                .filter(|(_, v)| same_vote(v, target))
                .map(|(s, _)| s),
        )
    }

    /// Step 8: files a vote in the recvset, or in the out-of-election set.
    fn file(
        &mut self,
        from: ServerId,
        filed: FiledVote,
        out_of_election: bool,
        out: &mut Vec<ElectionOut>,
    ) {
        let set = if out_of_election {
            &mut self.outofelection
        } else {
            &mut self.recvset
        };
        set.insert(from, filed);
        out.push(ElectionOut::Filed {
            from,
            vote: filed.vote,
            state: filed.state,
            out_of_election,
        });
    }

    /// `checkLeader`: the proposed leader must have told us it is LEADING (or be us, in this round).
    fn check_leader(
        &self,
        me: &Me,
        votes: &BTreeMap<ServerId, FiledVote>,
        leader: ServerId,
        election_epoch: u64,
    ) -> bool {
        if leader != me.id {
            votes
                .get(&leader)
                .is_some_and(|v| v.state == ServerState::Leading)
        } else {
            self.logicalclock == election_epoch
        }
    }

    /// Steps 4–10 for one notification from a voter while we are LOOKING.
    pub fn receive(
        &mut self,
        now: Millis,
        n: Notification,
        me: &Me,
        q: &QuorumVerifier,
        out: &mut Vec<ElectionOut>,
    ) {
        if !self.running {
            return;
        }
        if !q.is_voter(n.sid) || !q.is_voter(n.leader) {
            return;
        }
        // Any notification restarts the wait for the next one.
        self.resend_at = Some(now + self.not_timeout);
        let theirs = (n.leader, n.zxid, n.peer_epoch);
        if self.finalize_at.is_some() {
            if compare(q, theirs, self.proposed()).is_none() {
                // ZooKeeper's finalize loop consumes it and waits again.
                self.finalize_at = Some(now + FINALIZE_WAIT);
                return;
            }
            self.finalize_at = None;
        }
        match n.state {
            ServerState::Looking => {
                if n.election_epoch > self.logicalclock {
                    self.logicalclock = n.election_epoch;
                    self.recvset.clear();
                    let init = me.init_vote();
                    let rule = compare(q, theirs, init);
                    if rule.is_some() {
                        self.update_proposal(theirs);
                    } else {
                        self.update_proposal(init);
                    }
                    out.push(ElectionOut::VoteChanged {
                        vote: self.proposal(),
                        why: VoteChange::NewRound {
                            round: n.election_epoch,
                            from: n.sid,
                            rule,
                        },
                    });
                    out.push(ElectionOut::Broadcast(self.notification(me)));
                } else if n.election_epoch < self.logicalclock {
                    return;
                } else if let Some(rule) = compare(q, theirs, self.proposed()) {
                    self.update_proposal(theirs);
                    out.push(ElectionOut::VoteChanged {
                        vote: self.proposal(),
                        why: VoteChange::Better { from: n.sid, rule },
                    });
                    out.push(ElectionOut::Broadcast(self.notification(me)));
                }
                let filed = FiledVote {
                    vote: n.vote(),
                    state: ServerState::Looking,
                };
                self.file(n.sid, filed, false, out);
                let mine = FiledVote {
                    vote: self.proposal(),
                    state: ServerState::Looking,
                };
                if self.has_quorum(q, &self.recvset, &mine) {
                    self.finalize_at = Some(now + FINALIZE_WAIT);
                    out.push(ElectionOut::Finalizing {
                        until: now + FINALIZE_WAIT,
                    });
                }
            }
            ServerState::Observing | ServerState::Standalone => {}
            ServerState::Following | ServerState::Leading => {
                let filed = FiledVote {
                    vote: n.vote(),
                    state: n.state,
                };
                if n.election_epoch == self.logicalclock {
                    self.file(n.sid, filed, false, out);
                    if self.has_quorum(q, &self.recvset, &filed)
                        && self.check_leader(me, &self.recvset, n.leader, n.election_epoch)
                    {
                        self.decide(filed.vote, me, out);
                        return;
                    }
                }
                self.file(n.sid, filed, true, out);
                if self.has_quorum(q, &self.outofelection, &filed)
                    && self.check_leader(me, &self.outofelection, n.leader, n.election_epoch)
                {
                    self.logicalclock = n.election_epoch;
                    self.decide(filed.vote, me, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: u64) -> QuorumVerifier {
        QuorumVerifier::majority((1..=n).map(ServerId))
    }

    /// A participant with an empty log in epoch 0.
    fn me(id: u64) -> Me {
        Me {
            id: ServerId(id),
            last_zxid: Zxid(0),
            epoch: 0,
            participant: true,
        }
    }

    #[test]
    fn rules_in_order() {
        let q = q(5);
        let s = ServerId;
        assert_eq!(
            compare(&q, (s(1), Zxid(5), 2), (s(5), Zxid(9), 1)),
            Some(Rule::Epoch)
        );
        assert_eq!(
            compare(&q, (s(1), Zxid(9), 1), (s(5), Zxid(8), 1)),
            Some(Rule::Zxid)
        );
        assert_eq!(
            compare(&q, (s(5), Zxid(8), 1), (s(1), Zxid(8), 1)),
            Some(Rule::Sid)
        );
        assert_eq!(compare(&q, (s(1), Zxid(8), 1), (s(5), Zxid(8), 1)), None);
        assert_eq!(
            compare(&q, (s(9), Zxid(99), 9), (s(1), Zxid(0), 0)),
            None,
            "not a voter: weight 0"
        );
    }

    #[test]
    fn same_vote_rules() {
        let v = |l, z, e, p| Vote {
            leader: ServerId(l),
            zxid: Zxid(z),
            election_epoch: e,
            peer_epoch: p,
        };
        let a = FiledVote {
            vote: v(3, 5, 1, 1),
            state: ServerState::Following,
        };
        let b = FiledVote {
            vote: v(3, 9, 4, 1),
            state: ServerState::Leading,
        };
        assert!(
            same_vote(&a, &b),
            "out of the election only leader and epoch count"
        );
        let c = FiledVote {
            vote: v(3, 9, 4, 1),
            state: ServerState::Looking,
        };
        assert!(!same_vote(&a, &c));
    }

    /// Drives a set of elections with instant, ordered delivery: the first five steps of S1.
    #[test]
    fn three_of_five_elect_the_largest_id() {
        let q = q(5);
        let mut e: BTreeMap<u64, Election> = BTreeMap::new();
        let mut decided: BTreeMap<u64, (ServerId, ServerState)> = BTreeMap::new();
        let mut queue: Vec<(u64, Notification)> = Vec::new();
        for id in 1..=3u64 {
            let mut out = Vec::new();
            e.entry(id).or_default().start(0, &me(id), &mut out);
            for o in out {
                if let ElectionOut::Broadcast(n) = o {
                    for to in 1..=id {
                        queue.push((to, n));
                    }
                }
            }
            // Servers already running answer a LOOKING newcomer with their own proposal when
            // its round is older; here all are in round 1, so they exchange through broadcasts.
            let mut now = 0;
            while !queue.is_empty() {
                let batch = std::mem::take(&mut queue);
                for (to, n) in batch {
                    let mut out = Vec::new();
                    e.get_mut(&to)
                        .unwrap()
                        .receive(now, n, &me(to), &q, &mut out);
                    for o in out {
                        if let ElectionOut::Broadcast(n) = o {
                            for dest in 1..=id {
                                queue.push((dest, n));
                            }
                        }
                    }
                }
                now += 1;
            }
            // Let finalize waits run out.
            for (sid, el) in e.iter_mut() {
                let mut out = Vec::new();
                el.timeout(1000, &me(*sid), &q, &mut out);
                for o in out {
                    if let ElectionOut::Decided { vote, state } = o {
                        decided.insert(*sid, (vote.leader, state));
                    }
                }
            }
            if id < 3 {
                assert!(decided.is_empty(), "no quorum with {id} of 5");
            }
        }
        assert_eq!(decided.get(&3), Some(&(ServerId(3), ServerState::Leading)));
        assert_eq!(
            decided.get(&1),
            Some(&(ServerId(3), ServerState::Following))
        );
        assert_eq!(
            decided.get(&2),
            Some(&(ServerId(3), ServerState::Following))
        );
    }

    #[test]
    fn backoff_doubles_to_sixty_seconds() {
        let q = q(3);
        let me = me(1);
        let mut e = Election::default();
        let mut out = Vec::new();
        e.start(0, &me, &mut out);
        let mut now = 0;
        let mut gaps = Vec::new();
        for _ in 0..12 {
            let next = e.deadline().unwrap();
            gaps.push(next - now);
            now = next;
            e.timeout(now, &me, &q, &mut out);
        }
        assert_eq!(&gaps[..4], &[200, 400, 800, 1600]);
        assert_eq!(*gaps.last().unwrap(), 60_000);
    }

    #[test]
    fn joins_an_established_leader() {
        // S1's server 4: 1, 2 follow 3, which leads; all answer from round 1.
        let q = q(5);
        let me = me(4);
        let mut e = Election::default();
        let mut out = Vec::new();
        e.start(0, &me, &mut out);
        let v = |sid, state| Notification {
            leader: ServerId(3),
            zxid: Zxid(0),
            election_epoch: 1,
            peer_epoch: 1,
            state,
            sid: ServerId(sid),
        };
        for (sid, st) in [(1, ServerState::Following), (2, ServerState::Following)] {
            e.receive(1, v(sid, st), &me, &q, &mut out);
        }
        assert!(
            !out.iter().any(|o| matches!(o, ElectionOut::Decided { .. })),
            "no word from the leader yet"
        );
        e.receive(2, v(3, ServerState::Leading), &me, &q, &mut out);
        assert!(out.iter().any(|o| matches!(
            o,
            ElectionOut::Decided { vote, state: ServerState::Following } if vote.leader == ServerId(3)
        )));
    }
}
