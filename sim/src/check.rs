//! Invariants, checked as the simulation runs (TigerBeetle's VOPR in spirit), named as ZooKeeper's
//! TLA+ specifications name them (apache/zookeeper `zookeeper-specifications/`, and the test
//! specifications the model-checking work on them wrote, which found ZOOKEEPER-2845, -3911,
//! -4643, -4646 and -4685). [`Invariant`] lists them with what each means here.
//!
//! The specifications evaluate their state invariants over whole histories after every action;
//! here each is evaluated where the state it reads changes — a transaction applied, a leader
//! elected or established, a disk truncated, a learner synced, a vote cast — which is after
//! every step in which it could break, at a cost that keeps a seed under a second. The action
//! checks (`stateConsistent` … `messageLegal`) are made as each message is delivered, against
//! the receiver's state, as the specifications make them inside the receiving action.
//!
//! Ghost state, kept by the checker alone: the committed history as servers apply it, every
//! proposal any leader made (`proposalMsgsLog`), the highest zxid an established leader committed
//! (the end of `committedLog`), the highest zxid each client session has seen, and per
//! leader–learner connection what NEWLEADER said and which ACKs came back.
//!
//! Besides the specifications' invariants, three of this project's own: each server's tree equals
//! the replay of the history ([`Checker::check_trees`], the expensive one, at the end of a run);
//! acknowledged writes are durable and linearizable ([`Checker::check_clients`]); and Apache
//! ZooKeeper could start on every server's disk.

use super::client::{ClientEvent, ClientId};
use super::{Node, SimDisk, Status};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use zk_core::peer::election::VoteChange;
use zk_core::peer::messages::{PeerMsg, QuorumPacket, ServerState};
use zk_core::peer::{Notice, Peer, PeerEvent, PersistOp, ZabPhase};
use zk_core::request::{EventType, Request};
use zk_core::snapshot;
use zk_core::tree::DataTree;
use zk_core::txn::TxnEntry;
use zk_core::types::{Millis, ServerId, SessionId, Zxid};

/// What the checker verifies. The first twelve are the TLA+ specifications' state invariants,
/// the next five their action checks; the last four are this project's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Invariant {
    /// At most one leader per epoch: one server leads each epoch into synchronization, and at
    /// most one is established in it; no zxid is proposed twice with different transactions.
    Leadership,
    /// Every server applies exactly the committed history, position by position.
    PrefixConsistency,
    /// Everything applied was proposed by some leader (`proposalMsgsLog`).
    Integrity,
    /// Two servers never deliver transactions the other cannot deliver: no server applies a
    /// transaction below the end of the history that nobody applied before.
    Agreement,
    /// A transaction is applied only after every transaction before it, by every server.
    TotalOrder,
    /// A leader's proposals have increasing zxids, and a transaction of an epoch is committed
    /// only after every proposal of that epoch before it (the intended ∀ form: the
    /// specifications' ∃ form holds trivially).
    LocalPrimaryOrder,
    /// A server applies the transactions of an older epoch before those of a newer one.
    GlobalPrimaryOrder,
    /// A learner, synced in broadcast, applied nothing of an older epoch that its leader lacks.
    PrimaryIntegrity,
    /// Committed transactions never disappear: an established leader holds all of them, and no
    /// client session sees a zxid older than one it saw before.
    MonotonicRead,
    /// Once synced, a learner's log on disk is a prefix of its leader's history.
    ProcessConsistency,
    /// A leader brings learners up to date (its epoch accepted by a quorum) only if its log
    /// holds every committed transaction.
    LeaderLogCompleteness,
    /// No truncation removes a committed transaction from a disk.
    CommittedLogDurability,
    /// Each server's state fits what it says and receives: a server's vote and ACKEPOCH claim
    /// exactly the last zxid its disk holds (ZOOKEEPER-2845, -4712), and DIFF, TRUNC and SNAP
    /// reach a learner only while it synchronizes.
    StateConsistent,
    /// A proposal a learner receives in broadcast is the next zxid after its last logged one.
    ProposalConsistent,
    /// A learner is told to commit the next transaction it has logged, and a leader commits in
    /// zxid order.
    CommitConsistent,
    /// An ACK acknowledges what the leader proposed, in order; the ACK of NEWLEADER is for the
    /// new epoch and comes from a learner whose disk holds the history NEWLEADER ended and the
    /// new currentEpoch (ZOOKEEPER-3911, -4643, -4646).
    AckConsistent,
    /// Every message reads back from its bytes as sent, and only comes to a server in a role
    /// that can receive it; no learner ACKs a proposal before NEWLEADER (ZOOKEEPER-4685).
    MessageLegal,
    /// Each running server's tree equals the replay of the committed history to where it is.
    TreesMatchHistory,
    /// Acknowledged writes are in the history as sent, in real-time order.
    Linearizable,
    /// Apache ZooKeeper could start on every disk, and no server serves a tree that a fuzzy
    /// snapshot left inconsistent.
    Recoverable,
    /// Every watch a client sets fires once, for a change made after it was set, across
    /// reconnects and session moves (`setWatches`) — unless the session ends. The one change
    /// ZooKeeper lets go unseen: a node created and deleted again while the client had no
    /// connection (its `setWatches` finds no node).
    WatchDelivery,
}

impl Invariant {
    pub const ALL: [Invariant; 21] = [
        Invariant::Leadership,
        Invariant::PrefixConsistency,
        Invariant::Integrity,
        Invariant::Agreement,
        Invariant::TotalOrder,
        Invariant::LocalPrimaryOrder,
        Invariant::GlobalPrimaryOrder,
        Invariant::PrimaryIntegrity,
        Invariant::MonotonicRead,
        Invariant::ProcessConsistency,
        Invariant::LeaderLogCompleteness,
        Invariant::CommittedLogDurability,
        Invariant::StateConsistent,
        Invariant::ProposalConsistent,
        Invariant::CommitConsistent,
        Invariant::AckConsistent,
        Invariant::MessageLegal,
        Invariant::TreesMatchHistory,
        Invariant::Linearizable,
        Invariant::Recoverable,
        Invariant::WatchDelivery,
    ];

    /// The name the TLA+ specifications use (camelCase for their action checks).
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Leadership => "Leadership",
            Invariant::PrefixConsistency => "PrefixConsistency",
            Invariant::Integrity => "Integrity",
            Invariant::Agreement => "Agreement",
            Invariant::TotalOrder => "TotalOrder",
            Invariant::LocalPrimaryOrder => "LocalPrimaryOrder",
            Invariant::GlobalPrimaryOrder => "GlobalPrimaryOrder",
            Invariant::PrimaryIntegrity => "PrimaryIntegrity",
            Invariant::MonotonicRead => "MonotonicRead",
            Invariant::ProcessConsistency => "ProcessConsistency",
            Invariant::LeaderLogCompleteness => "LeaderLogCompleteness",
            Invariant::CommittedLogDurability => "CommittedLogDurability",
            Invariant::StateConsistent => "stateConsistent",
            Invariant::ProposalConsistent => "proposalConsistent",
            Invariant::CommitConsistent => "commitConsistent",
            Invariant::AckConsistent => "ackConsistent",
            Invariant::MessageLegal => "messageLegal",
            Invariant::TreesMatchHistory => "treesMatchHistory",
            Invariant::Linearizable => "linearizable",
            Invariant::Recoverable => "recoverable",
            Invariant::WatchDelivery => "watchDelivery",
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A violation as the checker reports it: the invariant's name, then what happened.
pub fn violation(inv: Invariant, what: impl fmt::Display) -> String {
    format!("{inv}: {what}")
}

/// An acknowledged write.
#[derive(Clone, Debug)]
pub struct AckedWrite {
    pub client: ClientId,
    pub session: SessionId,
    pub xid: i32,
    pub zxid: Zxid,
    pub sent_at: Millis,
    pub acked_at: Millis,
    pub request: Request,
}

/// What the checker knows of one leader–learner connection.
#[derive(Clone, Debug, Default)]
struct Conn {
    /// The last transaction of an older epoch the sync stream brought the learner (DIFF's
    /// proposals, TRUNC's or SNAP's zxid).
    stream_end: Zxid,
    /// The zxid NEWLEADER carried to the learner (the new epoch, counter 0).
    newleader: Option<Zxid>,
    /// The learner acknowledged NEWLEADER.
    newleader_acked: bool,
    /// The last proposal it acknowledged.
    last_ack: Zxid,
}

#[derive(Clone, Debug)]
pub struct Checker {
    pub violations: Vec<String>,
    /// The one committed history, as servers apply it.
    pub history: BTreeMap<Zxid, Arc<TxnEntry>>,
    /// Where each server has applied to.
    applied: BTreeMap<ServerId, Zxid>,
    /// Established leader per epoch.
    pub leaders: BTreeMap<u32, ServerId>,
    /// The server that led each epoch into synchronization (recorded its currentEpoch).
    epoch_leaders: BTreeMap<u32, ServerId>,
    /// Each leader's last proposal in this life.
    proposed: BTreeMap<ServerId, Zxid>,
    /// Every proposal any leader made (the specifications' `proposalMsgsLog`).
    proposals: BTreeMap<Zxid, Arc<TxnEntry>>,
    /// The committed log: what established leaders committed (as they held it), whether or not
    /// anyone applied it yet.
    committed: BTreeMap<Zxid, Arc<TxnEntry>>,
    /// Each leader's last commit in this life.
    last_commit: BTreeMap<ServerId, Zxid>,
    /// Zxids a test jumped a leader's counter to (their predecessors never existed).
    jumps: BTreeSet<Zxid>,
    /// Leader–learner connections, by (leader, learner).
    conns: BTreeMap<(ServerId, ServerId), Conn>,
    /// Who acknowledged each leader's NEWLEADER, by (leader, epoch) (on any connection).
    newleader_acks: BTreeMap<(ServerId, u32), BTreeSet<ServerId>>,
    /// The highest zxid each session has seen in a reply.
    seen: BTreeMap<SessionId, Zxid>,
    pub acked: Vec<AckedWrite>,
    sessions: BTreeMap<ClientId, SessionId>,
    extended_types: bool,
    /// How many times each invariant was evaluated, in [`Invariant::ALL`]'s order.
    pub evaluations: [u64; 21],
    /// Watches clients set and have not seen fire, with the zxid of the read that set them.
    watches: BTreeMap<(SessionId, String, WatchKind), Zxid>,
    /// Watches that fired: (client, session, path, kind, set at, the event's type).
    fired: Vec<(ClientId, SessionId, String, WatchKind, Zxid, EventType)>,
    /// Persistent watches (`addWatch`): (session, path) → recursive.
    persistent: BTreeMap<(SessionId, String), bool>,
}

impl Checker {
    pub fn new(extended_types: bool) -> Checker {
        Checker {
            violations: Vec::new(),
            history: BTreeMap::new(),
            applied: BTreeMap::new(),
            leaders: BTreeMap::new(),
            epoch_leaders: BTreeMap::new(),
            proposed: BTreeMap::new(),
            proposals: BTreeMap::new(),
            committed: BTreeMap::new(),
            last_commit: BTreeMap::new(),
            jumps: BTreeSet::new(),
            conns: BTreeMap::new(),
            newleader_acks: BTreeMap::new(),
            seen: BTreeMap::new(),
            acked: Vec::new(),
            sessions: BTreeMap::new(),
            extended_types,
            evaluations: [0; 21],
            watches: BTreeMap::new(),
            fired: Vec::new(),
            persistent: BTreeMap::new(),
        }
    }

    /// Counts one evaluation of `inv`.
    pub fn eval(&mut self, inv: Invariant) {
        self.evaluations[inv as usize] += 1;
    }

    fn fail(&mut self, inv: Invariant, what: impl fmt::Display) {
        self.violations.push(violation(inv, what));
    }

    /// Each invariant with the number of times it was evaluated.
    pub fn evaluated(&self) -> Vec<(Invariant, u64)> {
        Invariant::ALL
            .iter()
            .map(|&i| (i, self.evaluations[i as usize]))
            .collect()
    }

    /// Transactions a scenario put on a disk before the run: proposed in an earlier life.
    pub fn preset(&mut self, entries: &[Arc<TxnEntry>]) {
        for e in entries {
            self.proposals.entry(e.zxid()).or_insert_with(|| e.clone());
        }
    }

    /// A test moved a leader's zxid counter on: the next proposal after `zxid`'s predecessor
    /// is `zxid`.
    pub fn jumped(&mut self, zxid: Zxid) {
        self.jumps.insert(zxid);
    }

    /// A server (re)started with its tree at `base`.
    pub fn restarted(&mut self, id: ServerId, base: Zxid) {
        self.eval(Invariant::PrefixConsistency);
        if base.0 != 0 && !self.history.contains_key(&base) {
            self.fail(
                Invariant::PrefixConsistency,
                format!("server {id} restarted at {base}, which is not in the committed history"),
            );
        }
        self.applied.insert(id, base);
        self.forget(id);
    }

    pub fn killed(&mut self, id: ServerId) {
        self.forget(id);
    }

    /// A process's connections and its life as a leader end with it.
    fn forget(&mut self, id: ServerId) {
        self.proposed.remove(&id);
        self.last_commit.remove(&id);
        self.conns.retain(|(l, f), _| *l != id && *f != id);
        self.newleader_acks.retain(|(l, _), _| *l != id);
    }

    /// Checks one event of a server's.
    pub fn peer_event(
        &mut self,
        id: ServerId,
        e: &PeerEvent,
        nodes: &BTreeMap<ServerId, Node>,
        now: Millis,
    ) {
        let _ = now;
        let node = nodes.get(&id);
        let peer = node.and_then(|n| n.peer.as_ref());
        match e {
            PeerEvent::Applied { entry } => self.applied_entry(id, entry),
            PeerEvent::SnapshotInstalled { zxid } => {
                self.eval(Invariant::PrefixConsistency);
                if zxid.0 != 0 && !self.history.contains_key(zxid) {
                    self.fail(
                        Invariant::PrefixConsistency,
                        format!("server {id} installed a snapshot at {zxid}, which is not in the committed history"),
                    );
                }
                self.applied.insert(id, *zxid);
            }
            PeerEvent::CurrentEpoch(epoch) => {
                if let Some(p) = peer.filter(|p| {
                    p.state() == ServerState::Leading && p.leading_epoch() == Some(*epoch)
                }) {
                    // A quorum accepted its epoch: it now brings learners up to date from its
                    // log, which must hold everything committed, or some committed transaction
                    // is about to be lost (ZOOKEEPER-2845, -3911, -4643, -4646). (Before, it
                    // may have been elected on stale votes, as with ZooKeeper's
                    // FastLeaderElection, and will time out finding no quorum.)
                    self.eval(Invariant::LeaderLogCompleteness);
                    self.leader_has_committed(id, p, &format!("leads epoch {epoch}"));
                    self.eval(Invariant::Leadership);
                    match self.epoch_leaders.get(epoch) {
                        Some(other) if *other != id => {
                            let other = *other;
                            self.fail(
                                Invariant::Leadership,
                                format!("servers {other} and {id} both lead epoch {epoch}"),
                            );
                        }
                        _ => {
                            self.epoch_leaders.insert(*epoch, id);
                        }
                    }
                }
            }
            PeerEvent::Established { epoch } => {
                self.eval(Invariant::Leadership);
                match self.leaders.get(epoch) {
                    Some(other) if *other != id => {
                        let other = *other;
                        self.fail(
                            Invariant::Leadership,
                            format!("two leaders established in epoch {epoch}: {other} and {id}"),
                        );
                    }
                    _ => {
                        self.leaders.insert(*epoch, id);
                    }
                }
                if let (Some(p), Some(n)) = (peer, node) {
                    // Established by a quorum that accepted NEWLEADER: learners that acknowledged
                    // it, and the leader itself once its own currentEpoch is on its disk.
                    let mut acked: Vec<ServerId> = self
                        .newleader_acks
                        .get(&(id, *epoch))
                        .map(|s| s.iter().copied().collect())
                        .unwrap_or_default();
                    if n.disk.current_epoch == *epoch {
                        acked.push(id);
                    }
                    if !p.cfg().quorum.is_quorum(acked.iter()) {
                        self.fail(
                            Invariant::Leadership,
                            format!("leader {id} established epoch {epoch} with NEWLEADER accepted only by {acked:?}"),
                        );
                    }
                }
                self.eval(Invariant::MonotonicRead);
                if let Some(p) = peer {
                    self.leader_has_committed(id, p, "was established");
                    if let Some((&last, _)) = self.history.iter().next_back() {
                        let has = p.server().tree.last_processed_zxid();
                        if has < last {
                            self.fail(
                                Invariant::MonotonicRead,
                                format!("leader {id} established epoch {epoch} with history to {has}, missing committed {last}"),
                            );
                        }
                    }
                    // Its whole history is committed now.
                    let to = p.last_committed();
                    for e in p.tail().iter().take_while(|e| e.zxid() <= to) {
                        self.committed.insert(e.zxid(), e.clone());
                    }
                }
            }
            PeerEvent::Proposed { entry } => {
                let zxid = entry.zxid();
                self.eval(Invariant::LocalPrimaryOrder);
                let prev = self.proposed.get(&id).copied().unwrap_or(Zxid(0));
                if zxid <= prev && zxid.epoch() == prev.epoch() {
                    self.fail(
                        Invariant::LocalPrimaryOrder,
                        format!("leader {id} proposed {zxid} after {prev}"),
                    );
                }
                self.proposed.insert(id, zxid);
                self.eval(Invariant::Leadership);
                match self.proposals.get(&zxid) {
                    Some(other) if other != entry => self.fail(
                        Invariant::Leadership,
                        format!("leader {id} proposed {zxid}, which another leader proposed as a different transaction"),
                    ),
                    Some(_) => {}
                    None => {
                        self.proposals.insert(zxid, entry.clone());
                    }
                }
            }
            PeerEvent::Committed { zxid } => {
                self.eval(Invariant::CommitConsistent);
                let prev = self.last_commit.get(&id).copied().unwrap_or(Zxid(0));
                let proposed = peer.and_then(|p| p.last_proposed()).unwrap_or(Zxid(0));
                if *zxid <= prev || *zxid > proposed {
                    self.fail(
                        Invariant::CommitConsistent,
                        format!(
                            "leader {id} committed {zxid} after {prev}, having proposed up to {proposed}"
                        ),
                    );
                }
                self.last_commit.insert(id, *zxid);
                if let Some(p) = peer {
                    let at = p.tail().partition_point(|e| e.zxid() < *zxid);
                    if let Some(e) = p.tail().get(at).filter(|e| e.zxid() == *zxid) {
                        self.committed.insert(*zxid, e.clone());
                    }
                }
            }
            PeerEvent::Notice(Notice::Serving { leader, .. }) => {
                if let (Some(n), Some(l)) = (node, nodes.get(leader)) {
                    self.synced(n, l);
                }
            }
            PeerEvent::Vote {
                vote,
                why: VoteChange::Initial,
            } if vote.leader == id => {
                // A server stands on exactly what its disk holds, or will once the writes it
                // queued are done: not on what it applied (ZOOKEEPER-2845), nor without writes
                // still in flight (ZOOKEEPER-4712). (Later it may adopt a vote naming itself
                // with another zxid, a stale one from its earlier life, as FastLeaderElection
                // does; the leader then compares real logs in ACKEPOCH.)
                self.eval(Invariant::StateConsistent);
                if let Some(n) = node {
                    // (An epoch still being written may or may not count yet.)
                    let (last, epoch) = effective(&n.disk);
                    let (_, written) = durable(&n.disk);
                    if vote.zxid != last || vote.peer_epoch < written || vote.peer_epoch > epoch {
                        self.fail(
                            Invariant::StateConsistent,
                            format!(
                                "server {id} votes for itself with zxid {} and epoch {}, but its disk holds {last} and currentEpoch {epoch}",
                                vote.zxid, vote.peer_epoch
                            ),
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// A transaction applied by a server: it must continue that server's prefix of the one
    /// committed history.
    fn applied_entry(&mut self, id: ServerId, entry: &Arc<TxnEntry>) {
        let z = entry.zxid();
        let prev = self.applied.get(&id).copied().unwrap_or(Zxid(0));
        self.eval(Invariant::GlobalPrimaryOrder);
        self.eval(Invariant::TotalOrder);
        if z <= prev {
            let inv = if z.epoch() < prev.epoch() {
                Invariant::GlobalPrimaryOrder
            } else {
                Invariant::TotalOrder
            };
            self.fail(
                inv,
                format!("server {id} applied {z} after {prev}: zxids must increase"),
            );
            return;
        }
        self.eval(Invariant::PrefixConsistency);
        match self.history.get(&z) {
            Some(h) if h != entry => self.fail(
                Invariant::PrefixConsistency,
                format!(
                    "server {id} applied a different transaction at {z} than the history holds"
                ),
            ),
            Some(_) => {
                if let Some((&skipped, _)) = self
                    .history
                    .range((
                        std::ops::Bound::Excluded(prev),
                        std::ops::Bound::Excluded(z),
                    ))
                    .next()
                {
                    self.fail(
                        Invariant::TotalOrder,
                        format!("server {id} applied {z} but skipped committed {skipped}"),
                    );
                }
            }
            None => {
                let last = self.history.iter().next_back().map(|(z, _)| *z);
                self.eval(Invariant::Agreement);
                match last {
                    Some(last) if last > z => self.fail(
                        Invariant::Agreement,
                        format!("server {id} applied {z}, below the end of the history {last}, that no one applied before"),
                    ),
                    Some(last) if last > prev => self.fail(
                        Invariant::TotalOrder,
                        format!("server {id} applied {z} but skipped committed {last}"),
                    ),
                    _ => {}
                }
                self.new_in_history(id, entry, last.unwrap_or(Zxid(0)));
                self.history.insert(z, entry.clone());
            }
        }
        self.applied.insert(id, z);
    }

    /// A transaction enters the committed history (after `last`).
    fn new_in_history(&mut self, id: ServerId, entry: &Arc<TxnEntry>, last: Zxid) {
        let z = entry.zxid();
        self.eval(Invariant::Integrity);
        match self.proposals.get(&z) {
            Some(p) if p == entry => {}
            Some(_) => self.fail(
                Invariant::Integrity,
                format!(
                    "server {id} applied {z}, which is not the transaction proposed with that zxid"
                ),
            ),
            None => self.fail(
                Invariant::Integrity,
                format!("server {id} applied {z}, which no leader proposed"),
            ),
        }
        // Every proposal of z's epoch before it must be committed before it.
        self.eval(Invariant::LocalPrimaryOrder);
        let from = if last.epoch() == z.epoch() {
            last
        } else {
            Zxid::new(z.epoch(), 0)
        };
        if let Some((&missing, _)) = self
            .proposals
            .range((
                std::ops::Bound::Excluded(from),
                std::ops::Bound::Excluded(z),
            ))
            .next()
        {
            self.fail(
                Invariant::LocalPrimaryOrder,
                format!("{z} was committed, but {missing}, proposed before it in the same epoch, was not"),
            );
        }
    }

    /// The last committed zxid: of the committed log, or of what servers applied.
    fn committed_end(&self) -> Zxid {
        let a = self
            .committed
            .keys()
            .next_back()
            .copied()
            .unwrap_or(Zxid(0));
        let b = self.history.keys().next_back().copied().unwrap_or(Zxid(0));
        a.max(b)
    }

    /// A new leader's log must hold the end of the committed log, as committed.
    fn leader_has_committed(&mut self, id: ServerId, p: &Peer, when: &str) {
        let c = self.committed_end();
        if c.0 == 0 {
            return;
        }
        let has = p.last_logged();
        if has < c {
            self.fail(
                Invariant::LeaderLogCompleteness,
                format!("server {id} {when} with a log to {has}, missing committed {c}"),
            );
            return;
        }
        let known = self.committed.get(&c).or_else(|| self.history.get(&c));
        let at = p.tail().partition_point(|e| e.zxid() < c);
        if let (Some(want), Some(got)) = (known, p.tail().get(at).filter(|e| e.zxid() == c)) {
            if want != got {
                self.fail(
                    Invariant::LeaderLogCompleteness,
                    format!("server {id} {when} holding another transaction at committed {c}"),
                );
            }
        }
    }

    /// A learner finished syncing with its leader (UPTODATE): what is on its disk is a prefix
    /// of the leader's history, and nothing it applied of an older epoch is missing there.
    fn synced(&mut self, learner: &Node, leader: &Node) {
        let (Some(lp), Some(fp)) = (leader.peer.as_ref(), learner.peer.as_ref()) else {
            return;
        };
        self.eval(Invariant::PrimaryIntegrity);
        let epoch = lp.leader_epoch().unwrap_or(0);
        let applied = fp.server().tree.last_processed_zxid();
        if applied.epoch() < epoch && lp.last_logged() < applied {
            self.fail(
                Invariant::PrimaryIntegrity,
                format!(
                    "server {} applied {applied} of an older epoch, but its leader {} logged only to {}",
                    learner.id,
                    leader.id,
                    lp.last_logged()
                ),
            );
        }
        self.eval(Invariant::ProcessConsistency);
        // The leader's history: its disk, and what it logged or keeps since.
        let mut theirs: BTreeMap<Zxid, &Arc<TxnEntry>> = BTreeMap::new();
        for e in leader
            .disk
            .log
            .iter()
            .chain(lp.committed_log().iter())
            .chain(lp.tail().iter())
        {
            theirs.insert(e.zxid(), e);
        }
        let base = leader
            .disk
            .snapshot
            .as_ref()
            .map(|(z, _)| *z)
            .unwrap_or(Zxid(0));
        let last = lp.last_logged();
        for e in &learner.disk.log {
            let z = e.zxid();
            let same = match theirs.get(&z) {
                Some(t) => *t == e,
                // Older than what the leader keeps: it must be committed history.
                None if z <= base || theirs.keys().next().is_some_and(|f| z < *f) => {
                    self.history.get(&z).is_none_or(|h| h == e)
                }
                None => false,
            };
            if !same || z > last {
                self.fail(
                    Invariant::ProcessConsistency,
                    format!(
                        "server {} synced with leader {}, but its disk logs {z}, which the leader's history {}",
                        learner.id,
                        leader.id,
                        if z > last { "does not reach" } else { "does not hold as logged" }
                    ),
                );
                return;
            }
        }
    }

    /// A disk is about to drop `removed` (a TRUNC): none of it may be committed.
    pub fn truncating(&mut self, id: ServerId, removed: &[Arc<TxnEntry>]) {
        self.eval(Invariant::CommittedLogDurability);
        for e in removed {
            let z = e.zxid();
            let committed = self
                .committed
                .get(&z)
                .or_else(|| self.history.get(&z))
                .is_some_and(|c| c == e);
            if committed {
                self.fail(
                    Invariant::CommittedLogDurability,
                    format!("server {id} truncated committed {z} from its disk"),
                );
                return;
            }
        }
    }

    /// The action checks: a message as its receiver is about to handle it.
    pub fn deliver(
        &mut self,
        from: ServerId,
        to: ServerId,
        msg: &PeerMsg,
        nodes: &BTreeMap<ServerId, Node>,
    ) {
        let PeerMsg::Quorum(p) = msg else {
            return;
        };
        let Some(peer) = nodes.get(&to).and_then(|n| n.peer.as_ref()) else {
            return;
        };
        let state = peer.state();
        let phase = peer.zab_phase();
        let from_learner = matches!(
            p,
            QuorumPacket::FollowerInfo(_)
                | QuorumPacket::ObserverInfo(_)
                | QuorumPacket::AckEpoch { .. }
                | QuorumPacket::Ack { .. }
                | QuorumPacket::SnapAck { .. }
                | QuorumPacket::PingReply { .. }
                | QuorumPacket::Request { .. }
                | QuorumPacket::Revalidate { .. }
        ) || (matches!(p, QuorumPacket::Sync) && state == ServerState::Leading);
        // messageLegal: a leader hears learner packets from its learners; a learner hears
        // leader packets from its leader; a server looking for a leader hears nothing. A new
        // connection (FOLLOWERINFO, OBSERVERINFO) may reach any server: one that does not lead
        // refuses it, as ZooKeeper's does.
        self.eval(Invariant::MessageLegal);
        let connecting = matches!(
            p,
            QuorumPacket::FollowerInfo(_) | QuorumPacket::ObserverInfo(_)
        );
        let legal = connecting
            || match state {
                ServerState::Leading => from_learner && peer.has_learner(from),
                ServerState::Following | ServerState::Observing => {
                    !from_learner && peer.leader_id() == Some(from)
                }
                ServerState::Looking | ServerState::Standalone => false,
            };
        if !legal {
            self.fail(
                Invariant::MessageLegal,
                format!(
                    "server {to}, {state:?}, received {} from server {from}",
                    p.kind()
                ),
            );
            return;
        }
        match p {
            QuorumPacket::FollowerInfo(_) | QuorumPacket::ObserverInfo(_) => {
                self.conns.insert((to, from), Conn::default());
            }
            QuorumPacket::AckEpoch { last_zxid, .. } => {
                // The leader chooses DIFF, TRUNC or SNAP by this: it must be what the learner's
                // disk holds (ZOOKEEPER-2845).
                self.eval(Invariant::StateConsistent);
                if let Some(n) = nodes.get(&from) {
                    let (last, _) = effective(&n.disk);
                    if *last_zxid != last {
                        self.fail(
                            Invariant::StateConsistent,
                            format!("server {from} sent ACKEPOCH with last zxid {last_zxid}, but its disk holds {last}"),
                        );
                    }
                }
            }
            QuorumPacket::Diff { .. } | QuorumPacket::Trunc { .. } | QuorumPacket::Snap { .. } => {
                self.eval(Invariant::StateConsistent);
                if phase != ZabPhase::Synchronization {
                    self.fail(
                        Invariant::StateConsistent,
                        format!("server {to} received {} in {phase:?}", p.kind()),
                    );
                }
                if let (QuorumPacket::Trunc { zxid } | QuorumPacket::Snap { zxid }, Some(c)) =
                    (p, self.conns.get_mut(&(from, to)))
                {
                    c.stream_end = *zxid;
                }
            }
            QuorumPacket::Proposal(e) if phase == ZabPhase::Synchronization => {
                if let Some(c) = self.conns.get_mut(&(from, to)) {
                    if c.newleader.is_none_or(|n| e.zxid().epoch() < n.epoch()) {
                        c.stream_end = c.stream_end.max(e.zxid());
                    }
                }
            }
            QuorumPacket::NewLeader { zxid, .. } => {
                if let Some(c) = self.conns.get_mut(&(from, to)) {
                    c.newleader = Some(*zxid);
                }
            }
            QuorumPacket::Proposal(e) if phase == ZabPhase::Broadcast => {
                self.eval(Invariant::ProposalConsistent);
                let z = e.zxid();
                let last = peer.last_logged();
                let next = (z.epoch() == last.epoch() && z.0 == last.0 + 1)
                    || (z.epoch() > last.epoch() && z.counter() == 1)
                    || (z > last && self.jumps.contains(&z));
                if !next {
                    self.fail(
                        Invariant::ProposalConsistent,
                        format!("server {to} logged to {last} received PROPOSAL {z}"),
                    );
                }
            }
            QuorumPacket::Commit { zxid } if phase == ZabPhase::Broadcast => {
                self.eval(Invariant::CommitConsistent);
                let committed = peer.last_committed();
                let tail = peer.tail();
                let at = tail.partition_point(|e| e.zxid() <= committed);
                let next = tail.get(at).map(|e| e.zxid());
                if next != Some(*zxid) {
                    self.fail(
                        Invariant::CommitConsistent,
                        format!(
                            "server {to} committed to {committed} received COMMIT {zxid}, its next logged being {next:?}"
                        ),
                    );
                }
            }
            QuorumPacket::Ack { zxid } if state == ServerState::Leading => {
                self.ack(from, to, *zxid, peer, nodes)
            }
            _ => {}
        }
    }

    /// An ACK arrives at leader `to` from learner `from`.
    fn ack(
        &mut self,
        from: ServerId,
        to: ServerId,
        zxid: Zxid,
        leader: &Peer,
        nodes: &BTreeMap<ServerId, Node>,
    ) {
        self.eval(Invariant::AckConsistent);
        let conn = self.conns.entry((to, from)).or_default().clone();
        if zxid.counter() == 0 {
            // The ACK of NEWLEADER (or of UPTODATE, after it).
            if conn.newleader_acked {
                return;
            }
            let Some(newleader) = conn.newleader else {
                self.fail(
                    Invariant::AckConsistent,
                    format!("server {from} acknowledged NEWLEADER {zxid} it never received"),
                );
                return;
            };
            // What it vouches for: the history the sync stream brought it, then the new epoch,
            // both on its disk (ZooKeeper 3.8 acknowledged before writing the history:
            // ZOOKEEPER-3911, -4646; and wrote the epoch first: ZOOKEEPER-4643).
            let epoch = newleader.epoch();
            let disk = nodes.get(&from).map(|n| &n.disk);
            let (durable, current) = disk.map(durable).unwrap_or((Zxid(0), 0));
            if zxid != newleader || current != epoch || durable < conn.stream_end {
                self.fail(
                    Invariant::AckConsistent,
                    format!(
                        "server {from} acknowledged NEWLEADER {newleader} with {zxid} while its disk held {durable} (the sync stream went to {}) and currentEpoch {current}",
                        conn.stream_end
                    ),
                );
            }
            if let Some(c) = self.conns.get_mut(&(to, from)) {
                c.newleader_acked = true;
            }
            self.newleader_acks
                .entry((to, epoch))
                .or_default()
                .insert(from);
            return;
        }
        // ZOOKEEPER-4685: a proposal's ACK before NEWLEADER's makes ZooKeeper's leader miss the
        // learner's NEWLEADER ACK.
        self.eval(Invariant::MessageLegal);
        if !conn.newleader_acked {
            self.fail(
                Invariant::MessageLegal,
                format!("server {from} acknowledged {zxid} before acknowledging NEWLEADER"),
            );
            return;
        }
        let proposed = leader.last_proposed().unwrap_or(Zxid(0));
        if zxid > proposed || zxid <= conn.last_ack {
            self.fail(
                Invariant::AckConsistent,
                format!(
                    "server {from} acknowledged {zxid} after {}, the leader having proposed up to {proposed}",
                    conn.last_ack
                ),
            );
        }
        if let Some(c) = self.conns.get_mut(&(to, from)) {
            c.last_ack = zxid;
        }
    }

    /// A client event: record acknowledged writes, and what each session has seen.
    pub fn client_event(&mut self, client: ClientId, e: &ClientEvent, now: Millis) {
        match e {
            ClientEvent::Connected { session, .. } => {
                self.sessions.insert(client, *session);
            }
            ClientEvent::Reply {
                request,
                reply,
                sent_at,
                server,
            } => {
                let session = self.sessions.get(&client).copied().unwrap_or_default();
                // MonotonicRead as clients see it: a session never sees an older state.
                if reply.zxid.0 > 0 && reply.zxid.0 < i64::MAX as u64 {
                    self.eval(Invariant::MonotonicRead);
                    let seen = self.seen.entry(session).or_default();
                    if reply.zxid < *seen {
                        let before = *seen;
                        self.fail(
                            Invariant::MonotonicRead,
                            format!(
                                "session {session} saw {before}, then server {server} answered {} with {}",
                                request.name(),
                                reply.zxid
                            ),
                        );
                    } else {
                        *seen = reply.zxid;
                    }
                }
                let write = matches!(
                    request,
                    Request::Create { .. }
                        | Request::Delete { .. }
                        | Request::SetData { .. }
                        | Request::Multi(_)
                );
                match request {
                    Request::AddWatch { path, mode } if reply.err.is_ok() => {
                        let recursive =
                            *mode == zk_core::request::add_watch_mode::PERSISTENT_RECURSIVE;
                        self.persistent.insert((session, path.clone()), recursive);
                    }
                    Request::RemoveWatches { path, .. } if reply.err.is_ok() => {
                        // Whatever was removed, nothing more is owed on that path.
                        self.persistent.remove(&(session, path.clone()));
                        for kind in [WatchKind::Data, WatchKind::Exist, WatchKind::Child] {
                            self.watches.remove(&(session, path.clone(), kind));
                        }
                    }
                    _ => {}
                }
                if let Some((path, kind)) = watch_set(request, reply.err) {
                    let at = self
                        .watches
                        .entry((session, path, kind))
                        .or_insert(reply.zxid);
                    *at = (*at).min(reply.zxid);
                }
                if write && reply.err.is_ok() {
                    self.acked.push(AckedWrite {
                        client,
                        session,
                        xid: reply.xid,
                        zxid: reply.zxid,
                        sent_at: *sent_at,
                        acked_at: now,
                        request: request.clone(),
                    });
                }
            }
            ClientEvent::Watch { event, .. } => {
                let session = self.sessions.get(&client).copied().unwrap_or_default();
                if WatchKind::fired_by(event.event_type).is_empty() {
                    // The client's own WatchRemoved events.
                    return;
                }
                self.eval(Invariant::WatchDelivery);
                let mut any = self.persistent.iter().any(|((s, p), recursive)| {
                    *s == session
                        && (*p == event.path
                            || *recursive
                                && event.event_type != EventType::NodeChildrenChanged
                                && (p == "/" || event.path.starts_with(&format!("{p}/"))))
                });
                for &kind in WatchKind::fired_by(event.event_type) {
                    if let Some(at) = self.watches.remove(&(session, event.path.clone(), kind)) {
                        any = true;
                        self.fired.push((
                            client,
                            session,
                            event.path.clone(),
                            kind,
                            at,
                            event.event_type,
                        ));
                    }
                }
                if !any {
                    self.fail(
                        Invariant::WatchDelivery,
                        format!(
                            "client {client:?} (session {session}) told {:?} on {} without a watch set there",
                            event.event_type, event.path
                        ),
                    );
                }
            }
            _ => {}
        }
    }

    /// Cheap checks after every step (most are made as events arrive).
    pub fn check_step(&mut self, nodes: &BTreeMap<ServerId, Node>) -> Result<(), String> {
        self.eval(Invariant::Recoverable);
        // Apache ZooKeeper could start on every disk: no logged zxid is of an epoch its
        // currentEpoch does not cover (ZooKeeper refuses "the current epoch is older than the
        // last zxid"). (A snapshot installed from a leader may be, until the epoch that
        // follows it is recorded, as with ZooKeeper's own learners.)
        for n in nodes.values() {
            if let Some(e) = n.disk.log.last() {
                if e.zxid().epoch() > n.disk.current_epoch {
                    return Err(violation(
                        Invariant::Recoverable,
                        format!(
                            "server {}'s disk logs {} with currentEpoch {}: Apache ZooKeeper would refuse to start on it",
                            n.id,
                            e.zxid(),
                            n.disk.current_epoch
                        ),
                    ));
                }
            }
        }
        // A server serves only a consistent tree: never one from a fuzzy snapshot that has not
        // replayed far enough.
        for n in nodes.values() {
            if n.status == Status::Down {
                continue;
            }
            if let Some(p) = &n.peer {
                let t = &p.server().tree;
                if p.is_serving() && !t.is_consistent() {
                    return Err(violation(
                        Invariant::Recoverable,
                        format!(
                            "server {} serves a tree at {} that holds changes up to {}",
                            n.id,
                            t.last_processed_zxid(),
                            t.fuzzy_until()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every running server's tree equals the replay of the history up to where it applied.
    pub fn check_trees(&mut self, nodes: &BTreeMap<ServerId, Node>) -> Result<(), String> {
        self.eval(Invariant::TreesMatchHistory);
        let mut targets: Vec<(Zxid, ServerId, Vec<u8>)> = Vec::new();
        for n in nodes.values() {
            if n.status == Status::Down {
                continue;
            }
            if let Some(p) = &n.peer {
                let z = p.server().tree.last_processed_zxid();
                targets.push((z, n.id, snapshot::serialize(&p.server().tree)));
            }
        }
        targets.sort();
        let mut tree = DataTree::new(self.extended_types);
        let mut it = self.history.values().peekable();
        for (z, id, bytes) in targets {
            while let Some(e) = it.peek() {
                if e.zxid() > z {
                    break;
                }
                tree.apply(&e.hdr, &e.txn, &mut Vec::new());
                it.next();
            }
            if tree.last_processed_zxid() != z && z.0 != 0 {
                return Err(violation(
                    Invariant::TreesMatchHistory,
                    format!("server {id} is at {z}, which the history does not reach"),
                ));
            }
            if snapshot::serialize(&tree) != bytes {
                return Err(violation(
                    Invariant::TreesMatchHistory,
                    format!("server {id}'s tree at {z} differs from the replay of the committed history"),
                ));
            }
        }
        Ok(())
    }

    /// Watch delivery, at the end of a run: every watch fired for a change after it was set,
    /// and every watch of a session still connected (`live`: session → how far its server has
    /// applied) that a change reached has fired.
    pub fn check_watches(&mut self, live: &BTreeMap<SessionId, Zxid>) -> Result<(), String> {
        self.eval(Invariant::WatchDelivery);
        // The changes each path saw, replayed from the committed history.
        let mut tree = DataTree::new(self.extended_types);
        let mut changes: BTreeMap<(String, WatchKind), Vec<Zxid>> = BTreeMap::new();
        let mut events = Vec::new();
        for (z, e) in &self.history {
            events.clear();
            tree.apply_entry(e, &mut events);
            for ev in &events {
                let path = ev.path().to_string();
                let mut add = |p: &str, k: WatchKind| {
                    changes.entry((p.to_string(), k)).or_default().push(*z);
                };
                match ev.event_type() {
                    EventType::NodeCreated => {
                        add(&path, WatchKind::Exist);
                        if let Some(parent) = zk_core::path::parent_of(&path) {
                            add(parent, WatchKind::Child);
                        }
                    }
                    EventType::NodeDeleted => {
                        add(&path, WatchKind::Data);
                        add(&path, WatchKind::Child);
                        if let Some(parent) = zk_core::path::parent_of(&path) {
                            add(parent, WatchKind::Child);
                        }
                    }
                    _ => add(&path, WatchKind::Data),
                }
            }
        }
        let first_after = |path: &str, kind: WatchKind, at: Zxid| {
            changes
                .get(&(path.to_string(), kind))
                .and_then(|v| v.iter().find(|z| **z > at).copied())
        };
        for (client, session, path, kind, at, ty) in &self.fired {
            if first_after(path, *kind, *at).is_none() {
                return Err(violation(
                    Invariant::WatchDelivery,
                    format!(
                        "client {client:?} (session {session}) was told {ty:?} on {path} for its {kind:?} watch set at {at}, but nothing changed there after it"
                    ),
                ));
            }
        }
        for ((session, path, kind), at) in &self.watches {
            let Some(applied) = live.get(session) else {
                continue;
            };
            let Some(f) = first_after(path, *kind, *at) else {
                continue;
            };
            if f > *applied {
                continue;
            }
            // A node created and deleted again while the client was away: setWatches finds
            // no node, and ZooKeeper sets the exist watch again without an event.
            if *kind == WatchKind::Exist && tree.get(path).is_none() {
                continue;
            }
            return Err(violation(
                Invariant::WatchDelivery,
                format!(
                    "session {session}'s {kind:?} watch on {path}, set at {at}, never fired, though {f} changed it and its server has applied to {applied}"
                ),
            ));
        }
        Ok(())
    }

    /// Acknowledged writes are in the history as sent, and in real-time order.
    pub fn check_clients(&mut self) -> Result<(), String> {
        self.eval(Invariant::Linearizable);
        let mut writes: Vec<(AckedWrite, Millis)> = Vec::new();
        for w in &self.acked {
            let Some(e) = self.history.get(&w.zxid) else {
                return Err(violation(
                    Invariant::Linearizable,
                    format!(
                        "client {:?}'s write xid {} acknowledged at {} is not in the committed history",
                        w.client, w.xid, w.zxid
                    ),
                ));
            };
            if e.hdr.session != w.session || e.hdr.cxid != w.xid {
                return Err(violation(
                    Invariant::Linearizable,
                    format!(
                        "the history at {} holds session {} cxid {}, not client {:?}'s write (session {} xid {})",
                        w.zxid, e.hdr.session, e.hdr.cxid, w.client, w.session, w.xid
                    ),
                ));
            }
            writes.push((w.clone(), w.acked_at));
        }
        // Real-time order: acknowledged before the other was sent ⇒ ordered before it.
        let mut by_ack: Vec<&(AckedWrite, Millis)> = writes.iter().collect();
        by_ack.sort_by_key(|(w, at)| (*at, w.zxid));
        let mut by_sent: Vec<&(AckedWrite, Millis)> = writes.iter().collect();
        by_sent.sort_by_key(|(w, _)| w.sent_at);
        // For each write B, every write acked strictly before B was sent must have a smaller zxid.
        let mut max_zxid_acked_before = Zxid(0);
        let mut i = 0;
        for (b, _) in by_sent {
            while i < by_ack.len() && by_ack[i].1 < b.sent_at {
                max_zxid_acked_before = max_zxid_acked_before.max(by_ack[i].0.zxid);
                i += 1;
            }
            if b.zxid <= max_zxid_acked_before && max_zxid_acked_before.0 != 0 {
                return Err(violation(
                    Invariant::Linearizable,
                    format!(
                        "write {} of client {:?} was sent after a write at {} was acknowledged, yet is ordered before it",
                        b.zxid, b.client, max_zxid_acked_before
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The last zxid and currentEpoch a disk holds once the writes queued to it are done.
fn effective(disk: &SimDisk) -> (Zxid, u32) {
    let (mut last, mut epoch) = durable(disk);
    for (_, op) in &disk.queue {
        match op {
            PersistOp::Append(e) => last = e.zxid(),
            PersistOp::Truncate(z) => last = last.min(*z),
            PersistOp::SnapshotInstall { zxid } => last = *zxid,
            PersistOp::CurrentEpoch(e) => epoch = *e,
            _ => {}
        }
    }
    (last, epoch)
}

/// The last zxid and currentEpoch on a disk.
fn durable(disk: &SimDisk) -> (Zxid, u32) {
    let snap = disk.snapshot.as_ref().map(|(z, _)| *z).unwrap_or(Zxid(0));
    let log = disk.log.last().map(|e| e.zxid()).unwrap_or(Zxid(0));
    (snap.max(log), disk.current_epoch)
}

/// The kinds of watch a client keeps for its default watcher (as `ZKWatchManager` does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum WatchKind {
    /// On a node that exists: its data changing, or its deletion.
    Data,
    /// On a node that does not exist: its creation.
    Exist,
    /// On a node's children, or its deletion.
    Child,
}

impl WatchKind {
    /// The watches a notification of this type fires on its path.
    fn fired_by(t: EventType) -> &'static [WatchKind] {
        match t {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                &[WatchKind::Data, WatchKind::Exist]
            }
            EventType::NodeChildrenChanged => &[WatchKind::Child],
            EventType::NodeDeleted => &[WatchKind::Data, WatchKind::Exist, WatchKind::Child],
            _ => &[],
        }
    }
}

/// The watch a read with its watch flag set, answered with `rc`, leaves (`exists` on a missing
/// node sets an exist watch; a failed `getData` or `getChildren` sets none).
fn watch_set(request: &Request, rc: zk_core::ErrorCode) -> Option<(String, WatchKind)> {
    use zk_core::ErrorCode::{NoNode, Ok as Fine};
    match (request, rc) {
        (Request::Exists { path, watch: true }, Fine) => Some((path.clone(), WatchKind::Data)),
        (Request::Exists { path, watch: true }, NoNode) => Some((path.clone(), WatchKind::Exist)),
        (Request::GetData { path, watch: true }, Fine) => Some((path.clone(), WatchKind::Data)),
        (
            Request::GetChildren { path, watch: true }
            | Request::GetChildren2 { path, watch: true },
            Fine,
        ) => Some((path.clone(), WatchKind::Child)),
        _ => None,
    }
}
