//! What servers say to each other, with ZooKeeper's names: FastLeaderElection notifications on
//! the election port, and Zab's quorum packets (FOLLOWERINFO, LEADERINFO, ACKEPOCH, DIFF, TRUNC,
//! SNAP, PROPOSAL, ACK, COMMIT, INFORM, NEWLEADER, UPTODATE, PING, REQUEST, REVALIDATE, SYNC) on
//! the quorum port.

use crate::acl::Id;
use crate::request::Request;
use crate::txn::TxnEntry;
use crate::types::{ServerId, SessionId, Zxid};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// `QuorumPeer.ServerState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ServerState {
    Looking,
    Following,
    Leading,
    Observing,
    /// Not part of ZooKeeper's enum: a standalone server (zkServer.sh says "standalone").
    Standalone,
}

impl ServerState {
    /// The state's code in a notification: ZooKeeper's (LOOKING 0, FOLLOWING 1, LEADING 2,
    /// OBSERVING 3), and 4 for a standalone server, which ZooKeeper never puts in one.
    pub fn code(self) -> i32 {
        match self {
            ServerState::Looking => 0,
            ServerState::Following => 1,
            ServerState::Leading => 2,
            ServerState::Observing => 3,
            ServerState::Standalone => 4,
        }
    }
    pub fn from_code(c: i32) -> Option<ServerState> {
        Some(match c {
            0 => ServerState::Looking,
            1 => ServerState::Following,
            2 => ServerState::Leading,
            3 => ServerState::Observing,
            4 => ServerState::Standalone,
            _ => return None,
        })
    }
    /// As `srvr` and `zkServer.sh status` print the mode.
    pub fn mode(self) -> &'static str {
        match self {
            ServerState::Looking => "looking",
            ServerState::Following => "follower",
            ServerState::Leading => "leader",
            ServerState::Observing => "observer",
            ServerState::Standalone => "standalone",
        }
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerState::Looking => "LOOKING",
            ServerState::Following => "FOLLOWING",
            ServerState::Leading => "LEADING",
            ServerState::Observing => "OBSERVING",
            ServerState::Standalone => "STANDALONE",
        })
    }
}

/// A vote: who should lead, and the credentials that back it (`Vote`). `zxid` is the last
/// logged zxid of the proposed leader, `peer_epoch` its current epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub leader: ServerId,
    pub zxid: Zxid,
    pub election_epoch: u64,
    pub peer_epoch: u32,
}

impl Vote {
    /// This vote, sent by `sid` in `state`.
    pub fn notification(self, state: ServerState, sid: ServerId) -> Notification {
        Notification {
            leader: self.leader,
            zxid: self.zxid,
            election_epoch: self.election_epoch,
            peer_epoch: self.peer_epoch,
            state,
            sid,
        }
    }
}

/// A FastLeaderElection notification (`FastLeaderElection.Notification` / `ToSend`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// Proposed leader.
    pub leader: ServerId,
    /// Its last logged zxid.
    pub zxid: Zxid,
    /// The sender's logicalclock (election round).
    pub election_epoch: u64,
    /// The proposed leader's epoch.
    pub peer_epoch: u32,
    /// The sender's state.
    pub state: ServerState,
    pub sid: ServerId,
}

impl Notification {
    /// The vote it carries.
    pub fn vote(&self) -> Vote {
        Vote {
            leader: self.leader,
            zxid: self.zxid,
            election_epoch: self.election_epoch,
            peer_epoch: self.peer_epoch,
        }
    }
}

/// Learners tell the leader which client sessions they saw alive (ZooKeeper piggybacks this on
/// its PING replies).
pub type SessionTouches = Vec<(SessionId, i32)>;

/// `0x10000`: the Zab 1.0 protocol version ZooKeeper 3.4–3.9 announce in `LearnerInfo` and
/// LEADERINFO.
pub const ZAB_PROTOCOL: i32 = 0x10000;
/// Extensions only this server announces, in the low bits of the protocol version (ZooKeeper
/// only checks that the version is at least [`ZAB_PROTOCOL`]). A leader answers with the
/// extensions both ends have; against Apache ZooKeeper, none is used.
pub mod ext {
    /// SNAPACK: a learner tells the leader how much of a SNAP's snapshot it has on disk, and
    /// the leader keeps only a few pieces unacknowledged.
    pub const SNAP_ACK: i32 = 0x0001;
    /// Every extension this server speaks.
    pub const ALL: i32 = SNAP_ACK;
}

/// What FOLLOWERINFO and OBSERVERINFO carry: the learner's id, its protocol version and the
/// version of its configuration (`LearnerInfo`), and in the packet's zxid the last epoch it
/// accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerInfo {
    pub sid: ServerId,
    pub accepted_epoch: u32,
    pub protocol: i32,
    pub config_version: i64,
}

impl LearnerInfo {
    /// The extensions this learner announced.
    pub fn extensions(&self) -> i32 {
        if self.protocol > ZAB_PROTOCOL {
            self.protocol & 0xffff
        } else {
            0
        }
    }
}

/// A write request a learner forwards to the leader (`REQUEST`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Forwarded {
    Client(Request),
    CreateSession {
        timeout: i32,
    },
    CloseSession,
    /// `sync`: answered with [`QuorumPacket::Sync`] once it is safe to read.
    Sync {
        path: String,
    },
}

/// Zab's quorum packets, as ZooKeeper 3.8's `Leader`, `LearnerHandler` and `Learner` send them
/// (see [`crate::wire`] for their bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QuorumPacket {
    /// Learner → leader, first thing on a connection: who it is and the last epoch it accepted.
    FollowerInfo(LearnerInfo),
    ObserverInfo(LearnerInfo),
    /// Leader → learner: the epoch it proposes, and its protocol version (with the extensions
    /// both ends have).
    LeaderInfo {
        new_epoch: u32,
        protocol: i32,
    },
    /// Learner → leader: the epoch was accepted; here is my current epoch and last zxid.
    /// `None` when the learner had already accepted this epoch (ZooKeeper sends -1).
    AckEpoch {
        current_epoch: Option<u32>,
        last_zxid: Zxid,
    },
    /// Sync: the learner's log is a prefix of the leader's; proposals follow, each committed
    /// one with its COMMIT. `zxid` is the leader's last committed zxid.
    Diff {
        zxid: Zxid,
    },
    /// Sync: drop everything after `zxid`, then proposals follow.
    Trunc {
        zxid: Zxid,
    },
    /// Sync: replace everything with the snapshot labelled `zxid`, whose bytes follow in
    /// [`QuorumPacket::SnapPiece`]s, then proposals.
    Snap {
        zxid: Zxid,
    },
    /// Leader → learner: the next bytes of the snapshot a SNAP announced. On the wire they
    /// follow the SNAP unframed, and the last is followed by the signature "BenWasHere".
    SnapPiece {
        data: Arc<Vec<u8>>,
        last: bool,
    },
    /// Learner → leader ([`ext::SNAP_ACK`]): this many bytes of the snapshot are on its disk.
    SnapAck {
        bytes: u64,
    },
    /// Shared: one copy for the log and every learner.
    Proposal(Arc<TxnEntry>),
    /// The sender has logged the proposal `zxid` (and, since it logs in order, every one
    /// before it); also the answer to NEWLEADER and UPTODATE.
    Ack {
        zxid: Zxid,
    },
    /// The proposal `zxid` is committed (and, since the leader commits in order, every one
    /// before it).
    Commit {
        zxid: Zxid,
    },
    /// Leader → observer: a committed transaction.
    Inform(Arc<TxnEntry>),
    /// End of the sync stream: the learner persists its history, then its new epoch, then
    /// ACKs. `config` is the leader's configuration, as ZooKeeper's `QuorumVerifier` prints it.
    NewLeader {
        zxid: Zxid,
        config: Arc<str>,
    },
    /// The leader has a quorum: serve clients.
    UpToDate,
    /// Leader → learner each half tick. ZooKeeper puts its last proposed zxid here and never
    /// reads it back; this leader numbers its pings for sync's quorum check, and learners echo
    /// the number.
    Ping {
        zxid: Zxid,
    },
    /// Learner → leader, answering a ping, with the sessions it saw alive.
    PingReply {
        zxid: Zxid,
        sessions: SessionTouches,
    },
    Request {
        session: SessionId,
        cxid: i32,
        /// Boxed: the largest packet by far, it would make every message as large.
        op: Box<Forwarded>,
        auth: Vec<Id>,
    },
    Revalidate {
        session: SessionId,
        timeout: i32,
    },
    RevalidateReply {
        session: SessionId,
        valid: bool,
    },
    /// Leader → learner: the oldest sync this learner forwarded is complete (syncs are
    /// answered in the order they came, and the packet names none).
    Sync,
}

impl QuorumPacket {
    /// ZooKeeper's name of the packet type.
    pub fn kind(&self) -> &'static str {
        match self {
            QuorumPacket::FollowerInfo(_) => "FOLLOWERINFO",
            QuorumPacket::ObserverInfo(_) => "OBSERVERINFO",
            QuorumPacket::LeaderInfo { .. } => "LEADERINFO",
            QuorumPacket::AckEpoch { .. } => "ACKEPOCH",
            QuorumPacket::Diff { .. } => "DIFF",
            QuorumPacket::Trunc { .. } => "TRUNC",
            QuorumPacket::Snap { .. } => "SNAP",
            QuorumPacket::SnapPiece { .. } => "SNAPPIECE",
            QuorumPacket::SnapAck { .. } => "SNAPACK",
            QuorumPacket::Proposal(_) => "PROPOSAL",
            QuorumPacket::Ack { .. } => "ACK",
            QuorumPacket::Commit { .. } => "COMMIT",
            QuorumPacket::Inform(_) => "INFORM",
            QuorumPacket::NewLeader { .. } => "NEWLEADER",
            QuorumPacket::UpToDate => "UPTODATE",
            QuorumPacket::Ping { .. } => "PING",
            QuorumPacket::PingReply { .. } => "PING",
            QuorumPacket::Request { .. } => "REQUEST",
            QuorumPacket::Revalidate { .. } | QuorumPacket::RevalidateReply { .. } => "REVALIDATE",
            QuorumPacket::Sync => "SYNC",
        }
    }
}

/// Anything one server sends another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerMsg {
    /// On the election connection (port 3888 in the docs).
    Election(Notification),
    /// On the quorum connection (port 2888), learner ↔ leader.
    Quorum(QuorumPacket),
}

impl PeerMsg {
    pub fn kind(&self) -> &'static str {
        match self {
            PeerMsg::Election(_) => "NOTIFICATION",
            PeerMsg::Quorum(q) => q.kind(),
        }
    }
}
