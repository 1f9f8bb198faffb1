//! Followers and observers (`Learner`, `Follower`, `Observer`): connect to the leader, accept
//! its epoch, take its history (DIFF, TRUNC or SNAP), record the new epoch only after that
//! history is durable, acknowledge NEWLEADER, and from UPTODATE on follow the broadcast —
//! persisting each proposal before acknowledging it and applying each commit only once it is
//! persisted here too.
//!
//! The leader may be this server or Apache ZooKeeper: what it sends is the same. COMMITs that
//! come with the sync stream are held until UPTODATE (as ZooKeeper's DIFF case holds them), so
//! nothing of a leader's history is applied before a quorum has it.

use super::messages::{ext, LearnerInfo, PeerMsg, QuorumPacket, ServerState, ZAB_PROTOCOL};
use super::reason::{Notice, SnapshotProblem, StateReason};
use super::{Durable, Peer, PeerConfig, PeerEvent, PersistOp, Role, SyncMode};
use crate::snapshot;
use crate::types::{ConnId, Millis, ServerId, SessionId, Zxid};
use std::collections::VecDeque;

/// How far this learner has come with its leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum LStage {
    /// FOLLOWERINFO sent (and re-sent each second); waiting for LEADERINFO.
    Connecting,
    /// The new epoch is being recorded; ACKEPOCH goes out when it is durable.
    AcceptingEpoch,
    /// Receiving the sync stream.
    Syncing,
    /// NEWLEADER received: the history, then the new current epoch, are being persisted.
    PersistingEpoch,
    /// NEWLEADER acknowledged; waiting for UPTODATE.
    WaitUpToDate,
    /// Following the broadcast and serving clients.
    Broadcast,
}

/// The learner's state.
#[derive(Clone, Debug)]
pub(super) struct LearnerState {
    pub leader: ServerId,
    pub observer: bool,
    pub stage: LStage,
    pub new_epoch: u32,
    pub last_heard: Millis,
    pub next_info: Millis,
    pub up_to_date: bool,
    pub newleader_zxid: Zxid,
    /// The last proposal acknowledged.
    pub acked: Zxid,
    /// Syncs forwarded to the leader, in order (the leader answers them in order).
    pub syncs: VecDeque<(SessionId, i32, ConnId)>,
    /// Syncs the leader answered, waiting for the commits before them to be applied here.
    pub synced: VecDeque<(Zxid, ConnId, i32)>,
    /// Connection attempts the leader refused (it was not leading yet, or not at all).
    pub refused: u32,
    /// A SNAP being received: its label, and the tree being built from its pieces.
    pub snap_in: Option<SnapIn>,
    /// The extensions the leader and we both speak (from LEADERINFO).
    pub ext: i32,
    /// COMMITs (and INFORMs) that came before UPTODATE: applied from UPTODATE on.
    pub held_commit: Zxid,
    /// Proposals of the new epoch that came before NEWLEADER: logged right after the new epoch
    /// is recorded, as ZooKeeper's learners log them — so that a log never holds a zxid of an
    /// epoch its currentEpoch file does not cover (ZooKeeper refuses to start on that).
    pub deferred: Vec<std::sync::Arc<crate::txn::TxnEntry>>,
    /// The currentEpoch last handed to the disk while syncing: the sync stream may bring
    /// transactions of epochs between ours and the new one, and each such epoch is recorded
    /// just before its first transaction.
    pub epoch_queued: u32,
}

/// A snapshot arriving from the leader, a piece at a time. Each piece goes into the tree being
/// built and on to the disk, and is then dropped: the snapshot's bytes are never all in memory.
#[derive(Clone, Debug)]
pub(super) struct SnapIn {
    pub zxid: Zxid,
    pub reader: snapshot::SnapshotReader,
    pub pieces: u64,
    /// Bytes written aside so far (what a SNAPACK reports).
    pub bytes: u64,
}

/// A refused connection is tried again after `leaderConnectDelayDuringRetryMs`, five tries in
/// all (`Learner.connectToLeader`).
const REFUSED_RETRY: Millis = 100;
const CONNECT_TRIES: u32 = 5;
/// No retry due.
const NEVER: Millis = Millis::MAX;
/// The first wait before syncing again with a leader whose last sync failed.
const SYNC_RETRY: Millis = 100;

impl LearnerState {
    pub fn deadline(&self, cfg: &PeerConfig) -> Millis {
        let limit = if self.up_to_date {
            cfg.sync_limit
        } else {
            cfg.init_limit
        } as Millis
            * cfg.tick_time as Millis;
        let lost = self.last_heard + limit + 1;
        if self.stage == LStage::Connecting && self.next_info != NEVER {
            lost.min(self.next_info)
        } else {
            lost
        }
    }
}

impl Peer {
    fn learner(&mut self) -> &mut LearnerState {
        self.role.learner_mut().expect("learner state")
    }

    /// Elected someone else: connect to it.
    pub(super) fn become_learner(&mut self, leader: ServerId, state: ServerState) {
        let observer = state == ServerState::Observing;
        let now = self.now;
        let l = Box::new(LearnerState {
            leader,
            observer,
            stage: LStage::Connecting,
            new_epoch: 0,
            last_heard: now,
            next_info: NEVER,
            up_to_date: false,
            newleader_zxid: Zxid(0),
            acked: Zxid(0),
            syncs: VecDeque::new(),
            synced: VecDeque::new(),
            refused: 0,
            snap_in: None,
            ext: 0,
            held_commit: Zxid(0),
            deferred: Vec::new(),
            epoch_queued: self.current_epoch,
        });
        let role = if observer {
            Role::Observing(l)
        } else {
            Role::Following(l)
        };
        self.set_role(role, StateReason::Following { leader });
        // After syncs with this leader that failed just now, wait a while before the next:
        // 100 ms, doubling, at most 2 s.
        match self.failed_syncs {
            Some((l, n, at)) if l == leader && now.saturating_sub(at) < 10_000 => {
                let wait = (SYNC_RETRY << (n - 1).min(5)).min(2000);
                self.learner().next_info = now + wait;
            }
            _ => self.send_info(),
        }
    }

    /// The leader-to-be closed our connection before we got anywhere: try again shortly, up to
    /// ZooKeeper's five tries. False when we give up (or were past connecting).
    pub(super) fn learner_refused(&mut self, now: Millis) -> bool {
        let l = self.learner();
        if l.stage != LStage::Connecting {
            return false;
        }
        l.refused += 1;
        if l.refused >= CONNECT_TRIES {
            return false;
        }
        l.next_info = now + REFUSED_RETRY;
        true
    }

    /// A piece of the leader's snapshot: read it into the tree being built, write it aside on
    /// disk (the ACK goes back once it is there), and once the last piece is in, put the tree
    /// and the snapshot in place of our whole history.
    fn snap_piece(&mut self, from: ServerId, data: std::sync::Arc<Vec<u8>>, last: bool) {
        let Some(mut s) = self.learner().snap_in.take() else {
            self.enter_looking(StateReason::BadSnapshot {
                leader: from,
                problem: SnapshotProblem::WithoutSnap,
            });
            return;
        };
        match s.reader.feed(&data) {
            Ok(n) if n == data.len() => {}
            Ok(n) => {
                self.enter_looking(StateReason::BadSnapshot {
                    leader: from,
                    problem: SnapshotProblem::TrailingBytes {
                        bytes: data.len() - n,
                    },
                });
                return;
            }
            Err(e) => {
                self.enter_looking(StateReason::BadSnapshot {
                    leader: from,
                    problem: SnapshotProblem::Unreadable {
                        error: e.to_string(),
                    },
                });
                return;
            }
        }
        let zxid = s.zxid;
        if !data.is_empty() {
            let first = s.pieces == 0;
            s.pieces += 1;
            s.bytes += data.len() as u64;
            self.persist(
                PersistOp::SnapshotPiece {
                    zxid,
                    first,
                    bytes: data,
                },
                Durable::SnapPiece(from, s.bytes),
            );
        }
        if !last {
            self.learner().snap_in = Some(s);
            return;
        }
        if !s.reader.is_done() {
            self.enter_looking(StateReason::BadSnapshot {
                leader: from,
                problem: SnapshotProblem::EndedEarly {
                    nodes: s.reader.nodes(),
                },
            });
            return;
        }
        let tree = match s.reader.finish() {
            Ok(t) if t.last_processed_zxid() == zxid => t,
            Ok(t) => {
                let got = t.last_processed_zxid();
                self.enter_looking(StateReason::BadSnapshot {
                    leader: from,
                    problem: SnapshotProblem::WrongZxid { got, want: zxid },
                });
                return;
            }
            Err(e) => {
                self.enter_looking(StateReason::BadSnapshot {
                    leader: from,
                    problem: SnapshotProblem::Unreadable {
                        error: e.to_string(),
                    },
                });
                return;
            }
        };
        // The snapshot is fuzzy (taken while the leader went on applying): the proposals that
        // follow it, from its label on, make it exact.
        self.server.tree = tree;
        self.server.watches = crate::watch::WatchManager::new();
        self.tail.clear();
        self.committed_log.clear();
        self.log_base = zxid;
        self.last_logged = zxid;
        self.commit_point = zxid;
        self.persist(PersistOp::SnapshotInstall { zxid }, Durable::Snapshot(zxid));
        self.event(PeerEvent::SnapshotInstalled { zxid });
    }

    /// Snapshot bytes are on our disk: tell a leader that wants to know (SNAPACK).
    pub(super) fn learner_snap_piece_durable(&mut self, leader: ServerId, bytes: u64) {
        if self.role.learner().is_some_and(|l| {
            l.leader == leader && l.stage == LStage::Syncing && l.ext & ext::SNAP_ACK != 0
        }) {
            self.send_q(leader, QuorumPacket::SnapAck { bytes });
        }
    }

    /// FOLLOWERINFO or OBSERVERINFO: the first packet on a connection to the leader (the
    /// connection is made by sending it). It is sent once per connection.
    fn send_info(&mut self) {
        let l = self.role.learner_mut().expect("learner");
        l.next_info = NEVER;
        let (leader, observer) = (l.leader, l.observer);
        let info = LearnerInfo {
            sid: self.cfg.id,
            accepted_epoch: self.accepted_epoch,
            protocol: ZAB_PROTOCOL | ext::ALL,
            config_version: 0,
        };
        let p = if observer {
            QuorumPacket::ObserverInfo(info)
        } else {
            QuorumPacket::FollowerInfo(info)
        };
        self.send_q(leader, p);
    }

    pub(super) fn learner_tick(&mut self, now: Millis) {
        let (deadline, stage) = {
            let l = self.role.learner().expect("learner");
            let limit = if l.up_to_date {
                self.cfg.sync_limit
            } else {
                self.cfg.init_limit
            } as Millis
                * self.cfg.tick_time as Millis;
            (l.last_heard + limit, l.stage)
        };
        if now > deadline {
            let leader = self.learner().leader;
            self.enter_looking(StateReason::LeaderSilent { leader });
            return;
        }
        if stage == LStage::Connecting && now >= self.learner().next_info {
            self.send_info();
        }
    }

    /// A packet from the leader.
    pub(super) fn learner_packet(&mut self, from: ServerId, p: QuorumPacket) {
        let now = self.now;
        let l = self.learner();
        // Only what a leader sends shows the leader is alive. A learner's packet from the server
        // we follow means it is not leading at all (it follows someone, maybe us): ignore it and
        // let our timeout send us back to the election.
        let from_a_leader = !matches!(
            p,
            QuorumPacket::FollowerInfo(_)
                | QuorumPacket::ObserverInfo(_)
                | QuorumPacket::AckEpoch { .. }
                | QuorumPacket::Ack { .. }
                | QuorumPacket::PingReply { .. }
                | QuorumPacket::SnapAck { .. }
                | QuorumPacket::Request { .. }
                | QuorumPacket::Revalidate { .. }
        );
        if from != l.leader || !from_a_leader {
            return;
        }
        l.last_heard = now;
        let stage = l.stage;
        match p {
            QuorumPacket::LeaderInfo {
                new_epoch,
                protocol,
            } if stage == LStage::Connecting => {
                self.learner().new_epoch = new_epoch;
                self.learner().ext = if protocol > ZAB_PROTOCOL {
                    protocol & ext::ALL
                } else {
                    0
                };
                if new_epoch > self.accepted_epoch {
                    self.learner().stage = LStage::AcceptingEpoch;
                    self.persist(
                        PersistOp::AcceptedEpoch(new_epoch),
                        Durable::AcceptedEpoch(new_epoch),
                    );
                } else if new_epoch == self.accepted_epoch {
                    // Already accepted this epoch once: say so (ZooKeeper sends -1).
                    self.learner().stage = LStage::Syncing;
                    let last_zxid = self.last_logged;
                    self.send_q(
                        from,
                        QuorumPacket::AckEpoch {
                            current_epoch: None,
                            last_zxid,
                        },
                    );
                } else {
                    let accepted = self.accepted_epoch;
                    self.enter_looking(StateReason::EpochBelowAccepted {
                        leader: from,
                        proposed: new_epoch,
                        accepted,
                    });
                }
            }
            // The leader's last committed zxid (ZooKeeper's own learners, which apply their
            // whole log at start, have no use for it): what we have up to there is committed.
            QuorumPacket::Diff { zxid } if stage == LStage::Syncing => {
                self.synced_by(from, SyncMode::Diff, zxid);
                self.learner_commit(zxid);
            }
            QuorumPacket::Trunc { zxid } if stage == LStage::Syncing => {
                self.synced_by(from, SyncMode::Trunc, zxid);
                if zxid < self.server.tree.last_processed_zxid() {
                    // The leader would take back something we applied as committed: this must
                    // never happen, and the simulator's invariants would flag it.
                    let applied = self.server.tree.last_processed_zxid();
                    self.enter_looking(StateReason::TruncBelowApplied {
                        leader: from,
                        zxid,
                        applied,
                    });
                    return;
                }
                self.drop_tail_after(zxid);
                self.durable = self.durable.min(zxid);
                self.persist(PersistOp::Truncate(zxid), Durable::Truncated(zxid));
                self.event(PeerEvent::Truncated { zxid });
                // A leader truncates to a committed zxid.
                self.learner_commit(zxid);
            }
            QuorumPacket::Snap { zxid } if stage == LStage::Syncing => {
                self.synced_by(from, SyncMode::Snap, zxid);
                let opts = snapshot::LoadOptions {
                    extended_types: self.cfg.server.extended_types,
                    digest: self.cfg.digest_enabled,
                    skim: false,
                };
                self.learner().snap_in = Some(SnapIn {
                    zxid,
                    reader: snapshot::SnapshotReader::new(snapshot::Form::Stream, zxid, opts),
                    pieces: 0,
                    bytes: 0,
                });
            }
            QuorumPacket::SnapPiece { data, last } if stage == LStage::Syncing => {
                self.snap_piece(from, data, last);
            }
            QuorumPacket::Proposal(entry)
                if stage >= LStage::Syncing && entry.zxid() > self.last_logged =>
            {
                self.learner_log(entry);
            }
            QuorumPacket::Inform(entry) if stage >= LStage::Syncing => {
                let z = entry.zxid();
                if z > self.last_logged {
                    self.learner_log(entry);
                }
                self.learner_commit(z);
            }
            QuorumPacket::Commit { zxid } if stage >= LStage::Syncing => {
                self.learner_commit(zxid);
            }
            QuorumPacket::NewLeader { zxid, .. } if stage == LStage::Syncing => {
                // Our history first (already queued to the disk), then the epoch that vouches for it.
                let e = self.learner().new_epoch;
                let l = self.learner();
                l.newleader_zxid = zxid;
                l.stage = LStage::PersistingEpoch;
                let deferred = std::mem::take(&mut l.deferred);
                self.persist(PersistOp::CurrentEpoch(e), Durable::CurrentEpoch(e));
                for entry in deferred {
                    let z = entry.zxid();
                    self.persist(PersistOp::Append(entry), Durable::Zxid(z));
                }
            }
            QuorumPacket::UpToDate if stage >= LStage::WaitUpToDate => {
                let held = self.learner().held_commit;
                self.commit_point = self.commit_point.max(held);
                let e = self.learner().new_epoch;
                // ZooKeeper's learners acknowledge UPTODATE too (its leader ignores the ACK).
                self.send_q(
                    from,
                    QuorumPacket::Ack {
                        zxid: Zxid::new(e, 0),
                    },
                );
                self.learner().stage = LStage::Broadcast;
                self.current_vote.peer_epoch = e;
                self.apply_committed();
                self.learner_serve_when_consistent();
            }
            // ZooKeeper's learners answer pings only once synced: its leader wants the ACK of
            // NEWLEADER to be the first thing after the sync stream, and drops a learner that
            // sends anything else.
            QuorumPacket::Ping { zxid } if stage == LStage::Broadcast => {
                let sessions: Vec<(SessionId, i32)> =
                    std::mem::take(&mut self.touched).into_iter().collect();
                self.send_q(from, QuorumPacket::PingReply { zxid, sessions });
            }
            QuorumPacket::RevalidateReply { session, valid } => {
                if let Some(conn) = self.revalidating.remove(&session) {
                    if valid {
                        self.established(conn, session);
                    } else {
                        self.server.session_invalid(&mut self.scratch, conn);
                    }
                }
            }
            QuorumPacket::Sync => {
                // The oldest sync we forwarded (`FollowerZooKeeperServer.sync`).
                if let Some((_, cxid, conn)) = self.learner().syncs.pop_front() {
                    let need = self.commit_point;
                    self.learner().synced.push_back((need, conn, cxid));
                    self.learner_synced_check();
                }
            }
            _ => {}
        }
    }

    /// Answers syncs whose preceding commits are now applied here.
    /// Synced (UPTODATE received): serve clients — once the tree is consistent. A tree from
    /// the leader's fuzzy snapshot may hold some changes of the transactions after its label
    /// and not others, until those transactions are applied here too.
    pub(super) fn learner_serve_when_consistent(&mut self) {
        let consistent = self.server.tree.is_consistent();
        let Some(l) = self.role.learner_mut() else {
            return;
        };
        if l.stage != LStage::Broadcast || l.up_to_date || !consistent {
            return;
        }
        l.up_to_date = true;
        self.failed_syncs = None;
        let (leader, e) = (l.leader, l.new_epoch);
        self.event(PeerEvent::Notice(Notice::Serving { leader, epoch: e }));
    }

    pub(super) fn learner_synced_check(&mut self) {
        let applied = self.server.tree.last_processed_zxid();
        let now = self.now;
        loop {
            let Some(l) = self.role.learner_mut() else {
                return;
            };
            match l.synced.front() {
                Some(&(need, conn, cxid)) if need <= applied => {
                    l.synced.pop_front();
                    self.server.sync_done(&mut self.scratch, conn, cxid, now);
                }
                _ => return,
            }
        }
    }

    pub(super) fn learner_accepted_epoch_durable(&mut self, e: u32) {
        self.accepted_epoch = e;
        let l = self.learner();
        if l.stage == LStage::AcceptingEpoch && l.new_epoch == e {
            l.stage = LStage::Syncing;
            let leader = l.leader;
            let current_epoch = Some(self.current_epoch);
            let last_zxid = self.last_logged;
            self.send_q(
                leader,
                QuorumPacket::AckEpoch {
                    current_epoch,
                    last_zxid,
                },
            );
        }
    }

    pub(super) fn learner_current_epoch_durable(&mut self, e: u32) {
        self.current_epoch = e;
        let l = self.learner();
        if l.stage == LStage::PersistingEpoch && l.new_epoch == e {
            l.stage = LStage::WaitUpToDate;
            let (leader, zxid) = (l.leader, l.newleader_zxid);
            self.send_q(leader, QuorumPacket::Ack { zxid });
        }
    }

    /// More of our log is durable: a follower acknowledges it (cumulatively); anyone applies the
    /// committed part.
    pub(super) fn learner_durable(&mut self) {
        let durable = self.durable;
        let l = self.role.learner().expect("learner");
        if l.observer || l.stage < LStage::WaitUpToDate || durable <= l.acked {
            return;
        }
        // One ACK per proposal, as ZooKeeper's followers send them (its leader counts an ACK
        // for that proposal alone), and only for proposals of the current epoch: everything
        // before it is acknowledged by the ACK of NEWLEADER.
        let (leader, epoch, acked) = (l.leader, l.new_epoch, l.acked);
        let from = self.tail.partition_point(|e| e.zxid() <= acked);
        let mut last = acked;
        for e in self.tail.range(from..) {
            let z = e.zxid();
            if z > durable {
                break;
            }
            last = z;
            if z.epoch() == epoch {
                self.out.push_back(super::Output::Send {
                    to: leader,
                    msg: PeerMsg::Quorum(QuorumPacket::Ack { zxid: z }),
                });
            }
        }
        self.learner().acked = last;
        self.apply_committed();
        self.learner_serve_when_consistent();
        self.learner_synced_check();
    }

    /// Logs a transaction from the leader — later, if it is of the new epoch and NEWLEADER has
    /// not come yet (see [`LearnerState::deferred`]).
    fn learner_log(&mut self, entry: std::sync::Arc<crate::txn::TxnEntry>) {
        let l = self.role.learner().expect("learner");
        let z = entry.zxid();
        if l.stage < LStage::PersistingEpoch && z.epoch() >= l.new_epoch {
            self.last_logged = z;
            self.tail.push_back(entry.clone());
            self.learner().deferred.push(entry);
            return;
        }
        // A transaction of an epoch this server never recorded (it was away while that epoch's
        // leader led): record that epoch first, so that the log never outruns the currentEpoch
        // file (ZooKeeper refuses to start on that) — and never the new epoch, which would let
        // a crash leave this server claiming the new epoch without the history NEWLEADER ended
        // (ZOOKEEPER-4643, across epochs).
        if l.stage < LStage::PersistingEpoch && z.epoch() > l.epoch_queued {
            let e = z.epoch();
            self.learner().epoch_queued = e;
            self.persist(PersistOp::CurrentEpoch(e), Durable::CurrentEpoch(e));
        }
        self.log_txn(entry);
    }

    fn synced_by(&mut self, leader: ServerId, mode: SyncMode, zxid: Zxid) {
        self.event(PeerEvent::SyncedBy { leader, mode, zxid });
    }

    /// A COMMIT (or INFORM) of `zxid`: applied once durable here — from UPTODATE on; before
    /// it, held (see the module docs).
    fn learner_commit(&mut self, zxid: Zxid) {
        let l = self.learner();
        if l.stage < LStage::Broadcast {
            l.held_commit = l.held_commit.max(zxid);
            return;
        }
        self.commit_point = self.commit_point.max(zxid);
        self.apply_committed();
        self.learner_serve_when_consistent();
        self.learner_synced_check();
    }
}
