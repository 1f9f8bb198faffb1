//! The leader (`Leader` and its `LearnerHandler`s): discovery (FOLLOWERINFO → a new epoch →
//! LEADERINFO → ACKEPOCH), synchronization (DIFF, TRUNC or SNAP, then NEWLEADER, its quorum ACK,
//! UPTODATE) and broadcast (PROPOSAL, ACK, COMMIT, INFORM), with pings that keep learners and
//! the leader honest, and syncs answered only after a quorum has confirmed the leadership.

use super::messages::{ext, Forwarded, LearnerInfo, PeerMsg, QuorumPacket, ZAB_PROTOCOL};
use super::reason::{Notice, StateReason};
use super::Durable;
use super::{Output, Peer, PeerEvent, PersistOp, Role, SyncMode};
use crate::acl::Id;
use crate::prep::{Prep, PrepConfig, RequestCtx};
use crate::server::BufferStats;
use crate::session::SessionTracker;
use crate::txn::{Txn, TxnEntry, TxnHeader};
use crate::types::{ConnId, Millis, ServerId, SessionId, Zxid};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How far a learner has come with this leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Stage {
    /// FOLLOWERINFO received; LEADERINFO sent once the epoch is decided.
    Info,
    /// ACKEPOCH received; synced once a quorum has acknowledged the epoch.
    EpochAcked,
    /// The sync stream and NEWLEADER are on their way; waiting for the ACK of NEWLEADER.
    Syncing,
    /// NEWLEADER acknowledged: part of the broadcast.
    Synced,
}

/// One connected learner (`LearnerHandler`).
#[derive(Clone, Debug)]
pub(super) struct Handler {
    pub observer: bool,
    pub stage: Stage,
    pub last_heard: Millis,
    /// Cumulative: every proposal up to here is on its disk.
    pub acked: Zxid,
    pub ping_round: u64,
    pub peer_last: Zxid,
    pub uptodate_sent: bool,
    /// A snapshot on its way to this learner (a SNAP in progress).
    pub snap: Option<SnapOut>,
    /// The extensions this learner and we both speak ([`ext`]): none for Apache ZooKeeper.
    pub ext: i32,
}

/// Pieces of a snapshot that go out to a learner at most [`SNAP_WINDOW`] pieces' worth at a
/// time: the next one is taken from the tree only when the learner has put earlier ones on its
/// disk (SNAPACK, between servers that both speak it) or, with Apache ZooKeeper, when the
/// connection has taken them ([`crate::peer::Peer::snap_written`]), so that this side never
/// holds the whole snapshot as bytes. The snapshot is fuzzy — the tree goes on changing between
/// pieces — and exact once the learner has replayed every proposal after its label, which is
/// why everything else for this learner waits in `held` until the last piece is out (as
/// ZooKeeper queues a syncing learner's packets behind its snapshot).
#[derive(Clone, Debug)]
pub(super) struct SnapOut {
    writer: crate::snapshot::SnapshotWriter,
    /// The session table and ACL cache, sent with the first piece.
    header: Vec<u8>,
    /// Bytes sent, and bytes the learner has on disk (or the connection took).
    sent: u64,
    acked: u64,
    held: Vec<QuorumPacket>,
}

/// How many pieces' worth of snapshot may be unacknowledged.
const SNAP_WINDOW: u64 = 4;

impl Handler {
    /// A follower past its sync's start: it gets every PROPOSAL and COMMIT.
    fn gets_proposals(&self) -> bool {
        !self.observer && self.stage >= Stage::Syncing
    }

    /// An observer past its sync's start: it gets an INFORM of every commit.
    fn gets_informs(&self) -> bool {
        self.observer && self.stage >= Stage::Syncing
    }
}

/// Who asked for a sync.
#[derive(Clone, Debug)]
pub(super) enum SyncFrom {
    Local { conn: ConnId, cxid: i32 },
    Learner { sid: ServerId },
}

/// A sync waits until a quorum has answered a ping sent after it arrived (so this server is
/// still the leader) and everything proposed before it is applied.
#[derive(Clone, Debug)]
pub(super) struct PendingSync {
    pub from: SyncFrom,
    pub round: u64,
    pub zxid: Zxid,
}

/// The leader's state.
#[derive(Clone, Debug)]
pub(super) struct LeaderState {
    /// The epoch being established (decided once a quorum has sent FOLLOWERINFO).
    pub epoch: u32,
    pub epoch_decided: bool,
    /// LEADERINFO may go out (our acceptedEpoch is durable).
    pub epoch_ready: bool,
    pub epoch_acks_done: bool,
    pub established: bool,
    /// Discovery and sync must finish by then (`initLimit` ticks).
    pub phase_deadline: Millis,
    pub learners: BTreeMap<ServerId, Handler>,
    /// Participants that sent FOLLOWERINFO (ourselves included).
    pub connecting: BTreeSet<ServerId>,
    pub epoch_acks: BTreeSet<ServerId>,
    pub newleader_acks: BTreeSet<ServerId>,
    /// Our (currentEpoch, last logged zxid) when elected: no learner may be ahead of it.
    pub summary: (u32, Zxid),
    pub prep: Prep,
    pub sessions: SessionTracker,
    pub last_proposed: Zxid,
    /// Proposals waiting for a quorum, with who has acknowledged them.
    pub outstanding: BTreeMap<Zxid, BTreeSet<ServerId>>,
    pub ping_round: u64,
    /// Our own answer to every ping round: we are alive by definition.
    pub next_ping: Millis,
    pub pending_syncs: Vec<PendingSync>,
    pub next_container_check: Millis,
    /// Serialized sizes of the proposals broadcast in this epoch (ZooKeeper's
    /// `Leader.getProposalStats()`); reset by `srst`.
    pub proposal_sizes: BufferStats,
}

impl LeaderState {
    pub fn deadline(&self) -> Option<Millis> {
        if !self.established {
            return Some(self.phase_deadline);
        }
        let mut d = self.next_ping.min(self.next_container_check);
        if let Some(s) = self.sessions.next_deadline() {
            d = d.min(s);
        }
        Some(d)
    }

    pub fn synced_learners(&self) -> Vec<(ServerId, bool)> {
        self.learners
            .iter()
            .filter(|(_, h)| h.stage == Stage::Synced)
            .map(|(s, h)| (*s, h.observer))
            .collect()
    }

    pub fn learner_list(&self) -> Vec<(ServerId, bool)> {
        self.learners
            .iter()
            .map(|(s, h)| (*s, h.observer))
            .collect()
    }

    /// The learners `pick` chooses, in id order.
    fn learners_where(&self, pick: impl Fn(&Handler) -> bool) -> Vec<ServerId> {
        self.learners
            .iter()
            .filter(|(_, h)| pick(h))
            .map(|(s, _)| *s)
            .collect()
    }
}

impl Peer {
    fn leader(&mut self) -> &mut LeaderState {
        self.role.leader_mut().expect("leader state")
    }

    /// [`Peer::send_q`] to every learner `pick` chooses, in id order, without collecting
    /// their ids first (this runs for every proposal and commit).
    fn send_learners(&mut self, pick: impl Fn(&Handler) -> bool, p: QuorumPacket) {
        let id = self.cfg.id;
        let l = self.role.leader_mut().expect("leader state");
        for (&to, h) in l.learners.iter_mut() {
            // `send` drops a quorum packet to ourselves.
            if to != id && pick(h) {
                match &mut h.snap {
                    Some(s) => s.held.push(p.clone()),
                    None => {
                        let msg = PeerMsg::Quorum(p.clone());
                        self.out.push_back(Output::Send { to, msg });
                    }
                }
            }
        }
    }

    /// Sends a packet to one learner, behind its snapshot if one is on its way.
    fn send_learner(&mut self, sid: ServerId, p: QuorumPacket) {
        match self
            .role
            .leader_mut()
            .and_then(|l| l.learners.get_mut(&sid))
            .and_then(|h| h.snap.as_mut())
        {
            Some(s) => s.held.push(p),
            None => self.send_q(sid, p),
        }
    }

    /// Sends a learner the next pieces of its snapshot, as many as its window allows; after
    /// the last one, everything that waited behind it.
    fn pump_snapshot(&mut self, sid: ServerId) {
        loop {
            let tree = &self.server.tree;
            let budget = self.cfg.snap_piece.max(1);
            let Some(h) = self
                .role
                .leader_mut()
                .and_then(|l| l.learners.get_mut(&sid))
            else {
                return;
            };
            let Some(s) = h.snap.as_mut() else { return };
            if s.sent.saturating_sub(s.acked) >= SNAP_WINDOW * budget as u64 {
                return;
            }
            let mut piece = std::mem::take(&mut s.header);
            let done = s.writer.step(tree, &mut piece, budget);
            s.sent += piece.len() as u64;
            let data = Arc::new(piece);
            self.out.push_back(Output::Send {
                to: sid,
                msg: PeerMsg::Quorum(QuorumPacket::SnapPiece { data, last: done }),
            });
            if done {
                let held = h.snap.take().map(|s| s.held).unwrap_or_default();
                for p in held {
                    self.send_q(sid, p);
                }
                return;
            }
        }
    }

    fn new_leader_state(&self, epoch: u32, established: bool) -> LeaderState {
        let cfg = &self.cfg.server;
        let mut sessions = SessionTracker::new(self.cfg.id, cfg.tick_time, cfg.wall(self.now));
        for (s, t) in self.server.tree.sessions() {
            sessions.track(*s, *t, self.now);
        }
        LeaderState {
            epoch,
            epoch_decided: established,
            epoch_ready: established,
            epoch_acks_done: established,
            established,
            phase_deadline: self.now + self.cfg.init_limit as Millis * self.cfg.tick_time as Millis,
            learners: BTreeMap::new(),
            connecting: BTreeSet::new(),
            epoch_acks: BTreeSet::new(),
            newleader_acks: BTreeSet::new(),
            summary: (self.current_epoch, self.last_logged),
            prep: Prep::new(PrepConfig {
                skip_acl: cfg.skip_acl,
                extended_types: cfg.extended_types,
                digest: self.cfg.digest_enabled,
                schemes: cfg.auth.schemes,
            }),
            sessions,
            last_proposed: Zxid::new(epoch, 0),
            outstanding: BTreeMap::new(),
            ping_round: 0,
            next_ping: self.now + (self.cfg.tick_time as Millis / 2).max(1),
            pending_syncs: Vec::new(),
            next_container_check: self.now + cfg.container_check_interval,
            proposal_sizes: BufferStats::default(),
        }
    }

    /// A standalone server: the leader of itself in epoch 0, established at once.
    pub(super) fn become_standalone(&mut self) {
        let mut l = self.new_leader_state(0, true);
        l.last_proposed = self.last_logged;
        self.set_role(Role::Standalone(Box::new(l)), StateReason::Standalone);
    }

    /// Won the election: start discovery.
    pub(super) fn become_leader(&mut self) {
        let mut l = self.new_leader_state(self.accepted_epoch + 1, false);
        if !self.cfg.is_observer() {
            l.connecting.insert(self.cfg.id);
        }
        self.set_role(Role::Leading(Box::new(l)), StateReason::Elected);
        self.maybe_decide_epoch();
    }

    /// `getEpochToPropose`: once a quorum (ourselves included) has connected, the new epoch is
    /// one more than any accepted epoch among them; we accept it first.
    fn maybe_decide_epoch(&mut self) {
        let l = self.leader();
        if l.epoch_decided
            || !self
                .cfg
                .quorum
                .is_quorum(self.role.leader().expect("leader").connecting.iter())
        {
            return;
        }
        let l = self.leader();
        l.epoch_decided = true;
        let e = l.epoch;
        self.persist(PersistOp::AcceptedEpoch(e), Durable::AcceptedEpoch(e));
    }

    pub(super) fn leader_accepted_epoch_durable(&mut self, e: u32) {
        self.accepted_epoch = e;
        let id = self.cfg.id;
        let participant = !self.cfg.is_observer();
        let l = self.leader();
        if l.established || l.epoch != e {
            return;
        }
        l.epoch_ready = true;
        if participant {
            l.epoch_acks.insert(id);
        }
        let waiting: Vec<(ServerId, i32)> = l
            .learners
            .iter()
            .filter(|(_, h)| h.stage == Stage::Info)
            .map(|(s, h)| (*s, h.ext))
            .collect();
        for (sid, ext) in waiting {
            self.send_leader_info(sid, e, ext);
        }
        self.maybe_epoch_acks_done();
    }

    /// `waitForEpochAck` is over once a quorum has acknowledged the epoch: record our current
    /// epoch (after our history, which is already on its way to disk) and sync every learner.
    fn maybe_epoch_acks_done(&mut self) {
        let l = self.role.leader().expect("leader");
        if l.epoch_acks_done || !l.epoch_ready || !self.cfg.quorum.is_quorum(l.epoch_acks.iter()) {
            return;
        }
        let e = l.epoch;
        self.leader().epoch_acks_done = true;
        self.persist(PersistOp::CurrentEpoch(e), Durable::CurrentEpoch(e));
        let ready = self
            .leader()
            .learners_where(|h| h.stage == Stage::EpochAcked);
        for sid in ready {
            self.sync_learner(sid);
        }
    }

    pub(super) fn leader_current_epoch_durable(&mut self, e: u32) {
        // Only the epoch this leader leads vouches for it: a currentEpoch written for an earlier
        // leader (queued while following, done after this server was elected) does not.
        let l = self.leader();
        if l.established || !l.epoch_acks_done || l.epoch != e {
            return;
        }
        let id = self.cfg.id;
        if !self.cfg.is_observer() {
            self.leader().newleader_acks.insert(id);
        }
        self.maybe_establish();
    }

    /// A quorum holds our history in the new epoch: it is all committed; start serving.
    fn maybe_establish(&mut self) {
        let l = self.role.leader().expect("leader");
        if l.established || !self.cfg.quorum.is_quorum(l.newleader_acks.iter()) {
            return;
        }
        let epoch = l.epoch;
        let commit = self.last_logged;
        self.commit_point = commit;
        self.apply_committed();
        let mut fresh = self.new_leader_state(epoch, true);
        let l = self.leader();
        std::mem::swap(&mut l.learners, &mut fresh.learners);
        std::mem::swap(&mut l.summary, &mut fresh.summary);
        std::mem::swap(&mut l.connecting, &mut fresh.connecting);
        std::mem::swap(&mut l.epoch_acks, &mut fresh.epoch_acks);
        std::mem::swap(&mut l.newleader_acks, &mut fresh.newleader_acks);
        fresh.last_proposed = Zxid::new(epoch, 0);
        *l = fresh;
        self.current_vote.peer_epoch = epoch;
        self.event(PeerEvent::Established { epoch });
        let synced = self.leader().learners_where(|h| h.stage == Stage::Synced);
        for sid in synced {
            self.send_uptodate(sid);
        }
    }

    fn send_uptodate(&mut self, sid: ServerId) {
        if let Some(h) = self.leader().learners.get_mut(&sid) {
            h.uptodate_sent = true;
        }
        self.send_learner(sid, QuorumPacket::UpToDate);
    }

    /// LEADERINFO: the epoch, and our protocol version with the extensions both ends speak.
    fn send_leader_info(&mut self, sid: ServerId, epoch: u32, ext: i32) {
        let protocol = if ext != 0 {
            ZAB_PROTOCOL | ext
        } else {
            ZAB_PROTOCOL
        };
        self.send_q(
            sid,
            QuorumPacket::LeaderInfo {
                new_epoch: epoch,
                protocol,
            },
        );
    }

    /// The driver wrote `bytes` of snapshot to learner `sid`'s connection: for a learner that
    /// does not acknowledge pieces itself, that is what makes room for the next ones.
    pub(super) fn leader_snap_written(&mut self, sid: ServerId, bytes: u64) {
        let Some(h) = self
            .role
            .leader_mut()
            .and_then(|l| l.learners.get_mut(&sid))
        else {
            return;
        };
        if h.ext & ext::SNAP_ACK != 0 {
            return;
        }
        if let Some(s) = h.snap.as_mut() {
            s.acked += bytes;
        }
        self.pump_snapshot(sid);
    }

    /// The learner's history and ours: choose DIFF, TRUNC or SNAP, send the stream, then
    /// NEWLEADER (`LearnerHandler.syncFollower`).
    fn sync_learner(&mut self, sid: ServerId) {
        let Some(h) = self
            .role
            .leader()
            .and_then(|l| l.learners.get(&sid))
            .cloned()
        else {
            return;
        };
        let (epoch, established) = {
            let l = self.leader();
            (l.epoch, l.established)
        };
        let peer = h.peer_last;
        // Our history: the committed window, then the tail. Observers get the tail too: what of
        // it is not committed yet they learn with an INFORM when it is (and before our epoch is
        // established, none of it is).
        let mut history: Vec<&Arc<TxnEntry>> = self.committed_log.iter().collect();
        history.extend(self.tail.iter());
        let last = history.last().map(|e| e.zxid()).unwrap_or(self.log_base);
        // A DIFF can start from any entry of the window, or from just before it.
        let base = self.log_base;
        let can_diff_from = |z: Zxid| z == base || history.iter().any(|e| e.zxid() == z);
        // What the stream hands over as committed. A leader whose epoch is not established
        // yet counts its whole history, as ZooKeeper's does: it will be committed once a
        // quorum has it, and learners apply nothing of it before UPTODATE.
        let committed = if established { self.commit_point } else { last };
        enum Mode {
            Diff(Zxid),
            Trunc(Zxid),
            Snap,
        }
        let mode = if peer == last || can_diff_from(peer) {
            Mode::Diff(peer)
        } else {
            // The learner has something we do not. Logs agree within an epoch, so if we have
            // entries of its last epoch below its last zxid, truncate it to our last one.
            let same_epoch_below: Option<Zxid> = history
                .iter()
                .map(|e| e.zxid())
                .filter(|z| z.epoch() == peer.epoch() && *z < peer)
                .max();
            match same_epoch_below {
                Some(z) if can_diff_from(z) => Mode::Trunc(z),
                _ => Mode::Snap,
            }
        };
        let (label, from) = match mode {
            Mode::Diff(z) => {
                // ZooKeeper sends its last committed zxid: what of its log the learner has up
                // to there is committed.
                self.send_q(sid, QuorumPacket::Diff { zxid: committed });
                (SyncMode::Diff, z)
            }
            Mode::Trunc(z) => {
                self.send_q(sid, QuorumPacket::Trunc { zxid: z });
                (SyncMode::Trunc, z)
            }
            Mode::Snap => {
                let mut header = Vec::new();
                let writer =
                    crate::snapshot::SnapshotWriter::start(&self.server.tree, false, &mut header);
                let z = writer.zxid();
                self.send_q(sid, QuorumPacket::Snap { zxid: z });
                if let Some(h) = self.leader().learners.get_mut(&sid) {
                    h.snap = Some(SnapOut {
                        writer,
                        header,
                        sent: 0,
                        acked: 0,
                        held: Vec::new(),
                    });
                }
                (SyncMode::Snap, z)
            }
        };
        self.event(PeerEvent::Sync {
            learner: sid,
            mode: label,
            from,
            to: last,
        });
        // Every entry of our history after the learner's starting point, as ZooKeeper's
        // `queueCommittedProposals` and `startForwarding` send them: a committed one with its
        // COMMIT; one still waiting for a quorum to followers only, its COMMIT to come with the
        // broadcast (observers hear of it by INFORM then).
        let mut stream: Vec<Arc<TxnEntry>> = self
            .committed_log
            .iter()
            .filter(|e| e.zxid() > from)
            .cloned()
            .collect();
        stream.extend(self.tail.iter().filter(|e| e.zxid() > from).cloned());
        for e in stream {
            let z = e.zxid();
            if z <= committed {
                self.send_learner(sid, QuorumPacket::Proposal(e));
                self.send_learner(sid, QuorumPacket::Commit { zxid: z });
            } else if !h.observer {
                self.send_learner(sid, QuorumPacket::Proposal(e));
            }
        }
        let config = self.cfg.config_text.clone();
        self.send_learner(
            sid,
            QuorumPacket::NewLeader {
                zxid: Zxid::new(epoch, 0),
                config,
            },
        );
        if let Some(h) = self.leader().learners.get_mut(&sid) {
            h.stage = Stage::Syncing;
        }
        self.pump_snapshot(sid);
    }

    /// A packet from a learner.
    pub(super) fn leader_packet(&mut self, from: ServerId, p: QuorumPacket) {
        let now = self.now;
        if let Some(h) = self.leader().learners.get_mut(&from) {
            h.last_heard = now;
        }
        match p {
            QuorumPacket::FollowerInfo(info) | QuorumPacket::ObserverInfo(info) => {
                let LearnerInfo { accepted_epoch, .. } = info;
                let ext = info.extensions() & ext::ALL;
                let observer = matches!(p, QuorumPacket::ObserverInfo(_))
                    || self.cfg.observers.contains(&from)
                    || !self.cfg.quorum.is_voter(from);
                if self.cfg.standalone {
                    return;
                }
                let (established, epoch) = {
                    let l = self.leader();
                    (l.established, l.epoch)
                };
                if established && accepted_epoch > epoch {
                    // It promised a later epoch to a leader that never made it; it can never
                    // follow ours. As in ZooKeeper it would retry forever: instead make room for
                    // an election that picks an epoch above its promise.
                    self.enter_looking(StateReason::EpochNotBelow {
                        server: from,
                        accepted: accepted_epoch,
                        ours: epoch,
                    });
                    return;
                }
                let existing = self.leader().learners.get(&from).map(|h| h.stage);
                match existing {
                    Some(Stage::Info) => {}
                    Some(_) => return, // a repeat of one already handled
                    None => {
                        self.leader().learners.insert(
                            from,
                            Handler {
                                observer,
                                stage: Stage::Info,
                                last_heard: now,
                                acked: Zxid(0),
                                ping_round: 0,
                                peer_last: Zxid(0),
                                uptodate_sent: false,
                                snap: None,
                                ext,
                            },
                        );
                    }
                }
                let l = self.leader();
                if !l.epoch_decided {
                    if accepted_epoch >= l.epoch {
                        l.epoch = accepted_epoch + 1;
                    }
                    if !observer {
                        l.connecting.insert(from);
                    }
                    self.maybe_decide_epoch();
                } else if l.epoch_ready {
                    let e = l.epoch;
                    self.send_leader_info(from, e, ext);
                }
            }
            QuorumPacket::AckEpoch {
                current_epoch,
                last_zxid,
            } => {
                let (summary, acks_done) = {
                    let l = self.leader();
                    (l.summary, l.epoch_acks_done)
                };
                let Some(h) = self.leader().learners.get_mut(&from) else {
                    return;
                };
                if h.stage != Stage::Info {
                    return;
                }
                h.stage = Stage::EpochAcked;
                h.peer_last = last_zxid;
                let observer = h.observer;
                if let Some(ce) = current_epoch {
                    if !acks_done && (ce > summary.0 || (ce == summary.0 && last_zxid > summary.1))
                    {
                        self.enter_looking(StateReason::FollowerAhead {
                            follower: from,
                            epoch: ce,
                            zxid: last_zxid,
                            our_epoch: summary.0,
                            our_zxid: summary.1,
                        });
                        return;
                    }
                    if !observer {
                        self.leader().epoch_acks.insert(from);
                    }
                }
                if acks_done {
                    self.sync_learner(from);
                } else {
                    self.maybe_epoch_acks_done();
                }
            }
            QuorumPacket::SnapAck { bytes } => {
                if let Some(s) = self
                    .leader()
                    .learners
                    .get_mut(&from)
                    .and_then(|h| h.snap.as_mut())
                {
                    s.acked = s.acked.max(bytes);
                }
                self.pump_snapshot(from);
            }
            QuorumPacket::Ack { zxid } => {
                let epoch = self.leader().epoch;
                let Some(h) = self.leader().learners.get_mut(&from) else {
                    return;
                };
                if h.stage == Stage::Syncing && zxid == Zxid::new(epoch, 0) {
                    h.stage = Stage::Synced;
                    let observer = h.observer;
                    if !observer {
                        self.leader().newleader_acks.insert(from);
                    }
                    if self.leader().established {
                        self.send_uptodate(from);
                    } else {
                        self.maybe_establish();
                    }
                    return;
                }
                // A follower ACKs each proposal it logs. ZooKeeper's may ACK the proposals of
                // its sync stream before its ACK of NEWLEADER has come: those count too. ACKs
                // of zxids before our epoch (NEWLEADER's, UPTODATE's) mean nothing more.
                if h.stage < Stage::Syncing || h.observer || zxid.epoch() != epoch {
                    return;
                }
                if zxid > h.acked {
                    h.acked = zxid;
                }
                self.event(PeerEvent::Acked { from, zxid });
                let l = self.leader();
                for (_, acks) in l.outstanding.range_mut(..=zxid) {
                    acks.insert(from);
                }
                self.try_commit();
            }
            QuorumPacket::PingReply { zxid, sessions } => {
                let Some(h) = self.leader().learners.get_mut(&from) else {
                    return;
                };
                h.ping_round = h.ping_round.max(zxid.0);
                let l = self.leader();
                for (s, t) in sessions {
                    l.sessions.touch(s, t, now);
                }
                self.check_syncs();
            }
            QuorumPacket::Request {
                session,
                cxid,
                op,
                auth,
            } => {
                let synced = self
                    .leader()
                    .learners
                    .get(&from)
                    .is_some_and(|h| h.stage == Stage::Synced);
                if synced && self.leader().established {
                    self.leader_request(from, None, session, cxid, *op, &auth);
                }
            }
            QuorumPacket::Revalidate { session, timeout } => {
                let valid = self.leader_revalidate(session, timeout, from);
                self.send_learner(from, QuorumPacket::RevalidateReply { session, valid });
            }
            _ => {}
        }
    }

    pub(super) fn leader_link_down(&mut self, peer: ServerId) {
        let l = self.leader();
        if l.learners.remove(&peer).is_some() {
            l.connecting.remove(&peer);
            l.pending_syncs
                .retain(|s| !matches!(s.from, SyncFrom::Learner { sid, .. } if sid == peer));
            self.event(PeerEvent::Notice(Notice::LearnerDisconnected {
                learner: peer,
            }));
        }
    }

    /// A client of some server re-attached there: is the session still alive?
    pub(super) fn leader_revalidate(
        &mut self,
        session: SessionId,
        timeout: i32,
        owner: ServerId,
    ) -> bool {
        let now = self.now;
        let l = self.leader();
        if l.sessions.touch(session, timeout, now) {
            let _ = l.sessions.set_owner(session, owner);
            true
        } else {
            false
        }
    }

    /// A write, session change or sync from one of our clients (`conn`) or a learner's.
    pub(super) fn leader_request(
        &mut self,
        owner: ServerId,
        conn: Option<ConnId>,
        session: SessionId,
        cxid: i32,
        op: Forwarded,
        auth: &[Id],
    ) {
        if !matches!(op, Forwarded::Sync { .. }) && self.counter_spent() {
            return;
        }
        let now = self.now;
        let zxid = self.leader().last_proposed.next();
        let time = self.cfg.server.wall(now);
        let txn = match op {
            Forwarded::CreateSession { timeout } => {
                let l = self.leader();
                l.sessions.track(session, timeout, now);
                let _ = l.sessions.set_owner(session, owner);
                l.prep.prepare_create_session(timeout)
            }
            Forwarded::CloseSession => {
                let l = self.role.leader_mut().expect("leader");
                l.prep
                    .prepare_close_session(&self.server.tree, &mut l.sessions, session, zxid)
            }
            Forwarded::Client(req) => {
                let ctx = RequestCtx {
                    session,
                    cxid,
                    auth,
                    owner,
                };
                let l = self.role.leader_mut().expect("leader");
                l.prep
                    .prepare(&self.server.tree, &mut l.sessions, &ctx, &req, zxid, time)
            }
            Forwarded::Sync { .. } => {
                let from = match conn {
                    Some(conn) => SyncFrom::Local { conn, cxid },
                    None => SyncFrom::Learner { sid: owner },
                };
                let l = self.leader();
                let round = l.ping_round + 1;
                let pending = l.last_proposed;
                l.pending_syncs.push(PendingSync {
                    from,
                    round,
                    zxid: pending,
                });
                self.send_pings();
                self.check_syncs();
                return;
            }
        };
        self.propose(
            TxnHeader {
                session,
                cxid,
                zxid,
                time,
            },
            txn,
        );
    }

    /// Whether the next zxid's counter would be 0xffffffff. ZooKeeper never proposes it: its
    /// leader steps down instead, and the election that follows starts a new epoch, whose
    /// counter starts again (ZOOKEEPER-1277, `Leader.propose`). The request that found it is not
    /// proposed; its client loses the connection with everyone else's. A standalone server has no
    /// epochs; its zxid carries on as ZooKeeper's does.
    fn counter_spent(&mut self) -> bool {
        if self.cfg.standalone || self.leader().last_proposed.next().counter() != u32::MAX {
            return false;
        }
        self.enter_looking(StateReason::ZxidRollover);
        true
    }

    /// Test only: the leader's next proposal takes counter `counter + 1`, so that a test reaches
    /// the end of the counter quickly. Learners take a jump in zxids as ZooKeeper's do (they
    /// expect order, not contiguity).
    #[doc(hidden)]
    pub fn jump_zxid_counter(&mut self, counter: u32) {
        if let Some(l) = self.role.leader_mut() {
            let epoch = l.last_proposed.epoch();
            l.last_proposed = l.last_proposed.max(Zxid::new(epoch, counter));
        }
    }

    /// Logs and broadcasts a proposal.
    fn propose(&mut self, hdr: TxnHeader, txn: Txn) {
        // The tree's digest after this transaction, as the pending changes say it will be.
        // ZooKeeper's error transactions carry none.
        let digest = match txn {
            Txn::Error { .. } => None,
            _ => self
                .role
                .leader()
                .and_then(|l| l.prep.txn_digest(&self.server.tree)),
        };
        let entry = Arc::new(TxnEntry { hdr, txn, digest });
        let zxid = entry.zxid();
        self.leader().last_proposed = zxid;
        self.leader().outstanding.insert(zxid, BTreeSet::new());
        if !self.cfg.standalone {
            // What a PROPOSAL carries: the transaction as logged.
            let size = crate::codec::txn_bytes(&entry).len();
            self.leader().proposal_sizes.record(size);
        }
        if self.trace {
            self.event(PeerEvent::Proposed {
                entry: entry.clone(),
            });
        }
        self.send_learners(
            Handler::gets_proposals,
            QuorumPacket::Proposal(entry.clone()),
        );
        self.log_txn(entry);
    }

    /// Our own disk caught up: that is our ACK.
    pub(super) fn leader_durable(&mut self) {
        let id = self.cfg.id;
        if self.cfg.is_observer() {
            return;
        }
        let durable = self.durable;
        let l = self.leader();
        for (_, acks) in l.outstanding.range_mut(..=durable) {
            acks.insert(id);
        }
        self.try_commit();
    }

    /// Commits, in zxid order, every proposal a quorum has acknowledged.
    fn try_commit(&mut self) {
        let mut any = false;
        loop {
            let l = self.role.leader().expect("leader");
            let Some((&z, acks)) = l.outstanding.iter().next() else {
                break;
            };
            if !self.cfg.quorum.is_quorum(acks.iter()) {
                break;
            }
            self.leader().outstanding.remove(&z);
            self.commit_point = z;
            any = true;
            self.event(PeerEvent::Committed { zxid: z });
            // One COMMIT per proposal, in order: a ZooKeeper follower insists on it.
            self.send_learners(Handler::gets_proposals, QuorumPacket::Commit { zxid: z });
            if self.leader().learners.values().any(Handler::gets_informs) {
                let at = self.tail.partition_point(|e| e.zxid() < z);
                if let Some(e) = self.tail.get(at).filter(|e| e.zxid() == z).cloned() {
                    self.send_learners(Handler::gets_informs, QuorumPacket::Inform(e));
                }
            }
        }
        if any {
            self.apply_committed();
            self.check_syncs();
        }
    }

    fn send_pings(&mut self) {
        let l = self.leader();
        l.ping_round += 1;
        let round = l.ping_round;
        self.send_learners(
            |h| h.stage >= Stage::Syncing,
            QuorumPacket::Ping { zxid: Zxid(round) },
        );
    }

    /// Answers the syncs whose quorum round is complete and whose writes are applied.
    pub(super) fn check_syncs(&mut self) {
        let id = self.cfg.id;
        let applied = self.server.tree.last_processed_zxid();
        let Some(l) = self.role.leader() else {
            return;
        };
        if l.pending_syncs.is_empty() {
            return;
        }
        let mut done = Vec::new();
        let mut keep = Vec::new();
        for s in l.pending_syncs.iter().cloned() {
            let mut confirmed: Vec<ServerId> = vec![id];
            confirmed.extend(
                l.learners
                    .iter()
                    .filter(|(_, h)| {
                        !h.observer && h.stage == Stage::Synced && h.ping_round >= s.round
                    })
                    .map(|(sid, _)| *sid),
            );
            let quorum = self.cfg.quorum.is_quorum(confirmed.iter());
            let ready = self.commit_point >= s.zxid
                && (matches!(s.from, SyncFrom::Learner { .. }) || applied >= s.zxid);
            if quorum && ready {
                done.push(s);
            } else {
                keep.push(s);
            }
        }
        self.leader().pending_syncs = keep;
        let now = self.now;
        for s in done {
            match s.from {
                SyncFrom::Local { conn, cxid } => {
                    self.server.sync_done(&mut self.scratch, conn, cxid, now)
                }
                // A learner matches SYNCs with its syncs in order.
                SyncFrom::Learner { sid } => self.send_learner(sid, QuorumPacket::Sync),
            }
        }
    }

    pub(super) fn leader_tick(&mut self, now: Millis) {
        let tick = self.cfg.tick_time as Millis;
        let (established, deadline) = {
            let l = self.leader();
            (l.established, l.phase_deadline)
        };
        if !established {
            if now >= deadline {
                self.enter_looking(StateReason::SyncTimedOut);
            }
            return;
        }
        if now >= self.leader().next_ping {
            self.leader().next_ping = now + (tick / 2).max(1);
            // Drop learners not heard from for syncLimit ticks (initLimit while they sync: a
            // learner says nothing between its ACKEPOCH and its ACK of NEWLEADER but, between
            // two of this server's, SNAPACKs), then check we still have a quorum.
            let limit = self.cfg.sync_limit as Millis * tick;
            let init = self.cfg.init_limit as Millis * tick;
            let silent = self.leader().learners_where(|h| {
                let l = if h.stage == Stage::Synced {
                    limit
                } else {
                    init
                };
                now.saturating_sub(h.last_heard) > l
            });
            for sid in silent {
                self.leader().learners.remove(&sid);
                self.out.push_back(Output::Disconnect { peer: sid });
                self.event(PeerEvent::Notice(Notice::LearnerTimedOut { learner: sid }));
            }
            let id = self.cfg.id;
            let mut synced: Vec<ServerId> = vec![id];
            synced.extend(
                self.leader()
                    .learners
                    .iter()
                    .filter(|(_, h)| h.stage == Stage::Synced)
                    .map(|(s, _)| *s),
            );
            if !self.cfg.standalone && !self.cfg.quorum.is_quorum(synced.iter()) {
                self.enter_looking(StateReason::QuorumLost);
                return;
            }
            self.send_pings();
            self.check_syncs();
        }
        if self.disk_full.is_some() {
            // Expiring a session and reaping a container are writes: neither happens while
            // the disk is full. Sessions live on (their clocks start again when it has room).
            let every = self.cfg.server.container_check_interval.max(1);
            let l = self.leader();
            let ids: Vec<SessionId> = l.sessions.iter().map(|(s, _)| *s).collect();
            for s in ids {
                l.sessions.touch_existing(s, now);
            }
            let none = l.sessions.expire(now);
            debug_assert!(none.is_empty(), "no session expires while the disk is full");
            l.next_container_check = now + every;
            return;
        }
        let expired = self.leader().sessions.expire(now);
        for session in expired {
            if self.counter_spent() {
                return;
            }
            self.event(PeerEvent::Notice(Notice::ExpiringSession { session }));
            let zxid = self.leader().last_proposed.next();
            let txn = {
                let l = self.role.leader_mut().expect("leader");
                l.prep
                    .prepare_close_session(&self.server.tree, &mut l.sessions, session, zxid)
            };
            let time = self.cfg.server.wall(now);
            self.propose(
                TxnHeader {
                    session,
                    cxid: 0,
                    zxid,
                    time,
                },
                txn,
            );
        }
        // Containers and TTL nodes.
        if now >= self.leader().next_container_check {
            let cfg = self.cfg.server.clone();
            self.leader().next_container_check = now + cfg.container_check_interval.max(1);
            let budget = ((cfg.container_max_per_minute as u64
                * cfg.container_check_interval.max(1))
                / 60_000)
                .max(1);
            let candidates = self
                .server
                .tree
                .container_candidates(cfg.wall(now), cfg.container_max_never_used);
            for path in candidates.into_iter().take(budget as usize) {
                if self.counter_spent() {
                    return;
                }
                let zxid = self.leader().last_proposed.next();
                let txn = {
                    let l = self.role.leader_mut().expect("leader");
                    l.prep
                        .prepare_delete_container(&self.server.tree, &path, zxid)
                };
                if matches!(
                    txn,
                    Txn::Error {
                        err: crate::ErrorCode::NoNode
                    }
                ) {
                    continue;
                }
                self.propose(
                    TxnHeader {
                        session: SessionId(0),
                        cxid: 0,
                        zxid,
                        time: cfg.wall(now),
                    },
                    txn,
                );
            }
        }
    }
}
