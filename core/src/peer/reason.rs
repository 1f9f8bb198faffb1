//! Why a server changed its state, and what else it tells its driver: typed, so that each driver
//! renders them its own way — zkserver's log in English (`Display`, the words ZooKeeper's own
//! log uses where it has some), the playground in English or Chinese — and a new reason cannot
//! reach a screen untranslated.

use crate::types::{ServerId, SessionId, Zxid};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a server went into the state a [`super::PeerEvent::State`] reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StateReason {
    /// The process started (and looks for a leader).
    Started,
    /// A one-server configuration: no election, no quorum.
    Standalone,
    /// FastLeaderElection chose this server.
    Elected,
    /// FastLeaderElection chose `leader`; this server follows (or observes) it.
    Following { leader: ServerId },
    /// No packet from the leader within syncLimit (initLimit while syncing).
    LeaderSilent { leader: ServerId },
    /// The quorum connection to the leader broke.
    LostLeader { leader: ServerId },
    /// An established leader no longer hears a quorum of synced followers.
    QuorumLost,
    /// A new leader did not get a quorum synced within initLimit.
    SyncTimedOut,
    /// The leader's zxid counter reached 0xffffffff: a new epoch must start (ZOOKEEPER-1277).
    ZxidRollover,
    /// LEADERINFO proposed an epoch below the one this server accepted.
    EpochBelowAccepted {
        leader: ServerId,
        proposed: u32,
        accepted: u32,
    },
    /// TRUNC asked to drop transactions this server has already applied.
    TruncBelowApplied {
        leader: ServerId,
        zxid: Zxid,
        applied: Zxid,
    },
    /// The leader's snapshot stream was broken; `problem` says how.
    BadSnapshot {
        leader: ServerId,
        problem: SnapshotProblem,
    },
    /// A learner has accepted an epoch not below the one this leader proposes.
    EpochNotBelow {
        server: ServerId,
        accepted: u32,
        ours: u32,
    },
    /// A follower's history is ahead of this leader's.
    FollowerAhead {
        follower: ServerId,
        epoch: u32,
        zxid: Zxid,
        our_epoch: u32,
        our_zxid: Zxid,
    },
    /// The disk is full: a server that cannot log cannot follow or lead, so it leaves the
    /// quorum (and takes no part in elections) until the disk has room again.
    DiskFull,
}

/// How a snapshot streamed after SNAP was broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SnapshotProblem {
    /// Snapshot bytes came with no SNAP before them.
    WithoutSnap,
    /// Bytes followed the snapshot's end.
    TrailingBytes { bytes: usize },
    /// It ended before its last node.
    EndedEarly { nodes: u64 },
    /// It holds the tree at another zxid than its SNAP said.
    WrongZxid { got: Zxid, want: Zxid },
    /// It could not be read (the reader's words).
    Unreadable { error: String },
}

impl fmt::Display for StateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateReason::Started => write!(f, "server started"),
            StateReason::Standalone => write!(f, "standalone mode"),
            StateReason::Elected => write!(f, "elected leader"),
            StateReason::Following { leader } => write!(f, "following leader {leader}"),
            StateReason::LeaderSilent { leader } => {
                write!(f, "leader {leader} not heard from in time")
            }
            StateReason::LostLeader { leader } => {
                write!(f, "lost the connection to leader {leader}")
            }
            StateReason::QuorumLost => {
                write!(f, "not sufficient followers synced: lost the quorum")
            }
            StateReason::SyncTimedOut => write!(
                f,
                "timed out waiting for a quorum of followers to sync (initLimit)"
            ),
            StateReason::ZxidRollover => write!(
                f,
                "zxid lower 32 bits have rolled over, forcing re-election, and therefore new \
                 epoch start"
            ),
            StateReason::EpochBelowAccepted {
                leader,
                proposed,
                accepted,
            } => write!(
                f,
                "leader {leader} proposed epoch {proposed}, less than our accepted epoch \
                 {accepted}"
            ),
            StateReason::TruncBelowApplied {
                leader,
                zxid,
                applied,
            } => write!(
                f,
                "leader {leader} asked to truncate to {zxid}, below our applied {applied}"
            ),
            StateReason::BadSnapshot { leader, problem } => match problem {
                SnapshotProblem::WithoutSnap => {
                    write!(f, "leader {leader} sent snapshot bytes without a SNAP")
                }
                SnapshotProblem::TrailingBytes { bytes } => write!(
                    f,
                    "snapshot from leader {leader} has {bytes} bytes after its end"
                ),
                SnapshotProblem::EndedEarly { nodes } => write!(
                    f,
                    "snapshot from leader {leader} ended before its last node ({nodes} read)"
                ),
                SnapshotProblem::WrongZxid { got, want } => write!(
                    f,
                    "snapshot from leader {leader} holds the tree at {got}, not at {want} as \
                     its SNAP said"
                ),
                SnapshotProblem::Unreadable { error } => {
                    write!(f, "snapshot from leader {leader} is unreadable: {error}")
                }
            },
            StateReason::EpochNotBelow {
                server,
                accepted,
                ours,
            } => write!(
                f,
                "server {server} has accepted epoch {accepted}, not below ours ({ours}): \
                 re-electing"
            ),
            StateReason::FollowerAhead {
                follower,
                epoch,
                zxid,
                our_epoch,
                our_zxid,
            } => write!(
                f,
                "follower {follower} is ahead of the leader (its epoch {epoch}, zxid {zxid}; \
                 ours {our_epoch}, {our_zxid})"
            ),
            StateReason::DiskFull => write!(
                f,
                "the disk is full: out of the quorum and out of elections until it has room"
            ),
        }
    }
}

/// Something a server did that is worth a line in its log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    /// A leader lost its connection to a learner.
    LearnerDisconnected { learner: ServerId },
    /// A leader dropped a learner it had not heard from within syncLimit.
    LearnerTimedOut { learner: ServerId },
    /// A leader expires a session (and proposes its closeSession).
    ExpiringSession { session: SessionId },
    /// A learner is in sync with its leader and serves clients.
    Serving { leader: ServerId, epoch: u32 },
    /// Out of a quorum for long enough, a server serves reads to read-only clients.
    ReadOnly,
    /// The disk had no room for what the server had to write: the writes in flight were undone
    /// and not applied; writes are refused (NotReadOnly) until the disk has room again. A
    /// standalone server goes on serving reads.
    DiskFull,
    /// The disk has room again: writes are accepted (an ensemble member rejoins by election).
    DiskSpaceBack,
    /// The server stopped itself.
    Halted { why: HaltReason },
}

/// Why a server stops itself: it could no longer promise that what it acknowledges is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HaltReason {
    /// Writing or syncing the disk failed. After a failed fsync what the files hold is unknown,
    /// and a second fsync proves nothing (the kernel may have dropped the pages it could not
    /// write), so the server stops; a restart recovers from what the files do hold.
    DiskFailed,
    /// The disk filled while a TRUNC or a SNAP from the leader was replacing this server's
    /// history: what it holds in memory no longer matches its files.
    DiskFullMidSync,
}

impl fmt::Display for HaltReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HaltReason::DiskFailed => write!(
                f,
                "the disk failed: stopping rather than acknowledge what may not be durable"
            ),
            HaltReason::DiskFullMidSync => write!(
                f,
                "the disk filled while the leader's TRUNC or SNAP was replacing this server's \
                 history: stopping, for memory no longer matches the files"
            ),
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::LearnerDisconnected { learner } => write!(f, "learner {learner} disconnected"),
            Notice::LearnerTimedOut { learner } => {
                write!(f, "learner {learner} timed out (syncLimit)")
            }
            Notice::ExpiringSession { session } => write!(f, "expiring session {session}"),
            Notice::Serving { leader, epoch } => write!(
                f,
                "synced with leader {leader} in epoch {epoch}: serving clients"
            ),
            Notice::ReadOnly => write!(
                f,
                "read-only mode: out of a quorum, serving reads to read-only clients"
            ),
            Notice::DiskFull => write!(
                f,
                "the disk is full: the writes in flight were undone; refusing writes until it \
                 has room"
            ),
            Notice::DiskSpaceBack => write!(f, "the disk has room again: accepting writes"),
            Notice::Halted { why } => write!(f, "{why}"),
        }
    }
}
