//! One ZooKeeper server (`QuorumPeer`) as a sans-IO state machine: FastLeaderElection, Zab's
//! discovery, synchronization and broadcast, and the client-facing [`Server`], in one place.
//!
//! ## The drive loop
//!
//! ```text
//!        accept / connect / request / disconnected        (client connections)
//!        message(from, PeerMsg) / link_down(peer)         (other servers)
//!        persisted(seq)                                   (the disk caught up)
//!        tick(now)            at next_deadline()          (time)
//!                               │
//!                               ▼
//!                             Peer  ──poll_output()──▶  Send { to, msg }      → network
//!                                                       Persist { seq, op }   → disk, then persisted(seq)
//!                                                       Client(...)           → client sockets
//!                                                       Disconnect { peer }   → drop a quorum link
//! ```
//!
//! ## The persistence contract
//!
//! Nothing counts until it is durable, and things become durable in the order they were asked
//! for. A follower ACKs a proposal only once it is persisted; any server applies a committed
//! transaction only once it is persisted locally; a learner records its new epoch only after the
//! history that epoch vouches for (the NEWLEADER case of ZOOKEEPER-4643); the tree holds only
//! committed transactions, and everything logged but not known committed stays in the *tail*
//! until the leader confirms or truncates it.
//!
//! A standalone server is a leader of a one-server ensemble in epoch 0, with no election: the
//! same broadcast code commits a write when its own disk has it.

mod disk;
pub mod election;
mod leader;
mod learner;
pub mod messages;
pub mod quorum;
pub mod reason;

use crate::config::{Config, PeerRole};
use crate::error::ErrorCode;
use crate::output::{ClientOutput, Output as ServerOutput};
use crate::request::{ConnectRequest, Request};
use crate::server::{ConnectAction, RequestAction, Server, ServerConfig};
use crate::session::initial_session_id;
use crate::tree::DataTree;
use crate::txn::{Txn, TxnEntry};
use crate::types::{ConnId, Millis, ServerId, SessionId, Zxid};
use election::{Election, ElectionOut, Me, VoteChange};
use leader::LeaderState;
use learner::LearnerState;
use messages::{Forwarded, Notification, PeerMsg, QuorumPacket, ServerState, Vote};
use quorum::QuorumVerifier;
pub use reason::{HaltReason, Notice, SnapshotProblem, StateReason};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// How a peer is configured (what `zoo.cfg` says, minus addresses, which are the driver's).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerConfig {
    pub id: ServerId,
    /// Voting servers and how they make a quorum.
    pub quorum: QuorumVerifier,
    pub observers: BTreeSet<ServerId>,
    /// A standalone server: no election, epoch 0, commits on its own disk.
    pub standalone: bool,
    pub tick_time: u32,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub server: ServerConfig,
    /// Committed transactions kept in memory to bring learners up to date with a DIFF
    /// (`zookeeper.commitLogCount`).
    pub commit_log_count: usize,
    /// Observers persist what they learn (`syncEnabled`).
    pub sync_enabled: bool,
    /// `readonlymode.enabled`: while out of a quorum, serve reads to clients that allow it.
    #[serde(default)]
    pub read_only_mode: bool,
    /// About how many bytes of a SNAP's snapshot go in one piece (small in the simulator's
    /// fault search, so that it streams there too).
    #[serde(default = "default_snap_piece")]
    pub snap_piece: usize,
    /// `digest.enabled`: transactions and snapshots carry the tree's digest, and a server
    /// checks the ones it applies.
    #[serde(default = "default_true")]
    pub digest_enabled: bool,
    /// The ensemble as ZooKeeper prints it (`QuorumVerifier.toString()`): what NEWLEADER and
    /// notifications carry.
    #[serde(default)]
    pub config_text: Arc<str>,
}

fn default_true() -> bool {
    true
}

/// See [`PeerConfig::snap_piece`].
pub const DEFAULT_SNAP_PIECE: usize = 1 << 20;

fn default_snap_piece() -> usize {
    DEFAULT_SNAP_PIECE
}

impl PeerConfig {
    /// A standalone server.
    pub fn standalone(id: ServerId, server: ServerConfig) -> PeerConfig {
        PeerConfig {
            standalone: true,
            ..PeerConfig::ensemble(id, &[id], &[], server)
        }
    }

    /// A member of a majority ensemble of `voters` plus `observers`.
    pub fn ensemble(
        id: ServerId,
        voters: &[ServerId],
        observers: &[ServerId],
        server: ServerConfig,
    ) -> PeerConfig {
        PeerConfig {
            id,
            quorum: QuorumVerifier::majority(voters.iter().copied()),
            observers: observers.iter().copied().collect(),
            standalone: false,
            tick_time: server.tick_time,
            init_limit: 10,
            sync_limit: 5,
            server,
            commit_log_count: 500,
            sync_enabled: true,
            read_only_mode: false,
            snap_piece: DEFAULT_SNAP_PIECE,
            digest_enabled: true,
            config_text: ensemble_text(voters, observers).into(),
        }
    }

    /// A server as zoo.cfg describes it: `my_id` among its `server.N` lines (standalone when
    /// there are none, or only this one and standaloneEnabled), majority or hierarchical
    /// quorums (`group.x`, `weight.x`), its role, and the timings; `wall_clock_base` is the
    /// wall-clock time (ms since the epoch) at the driver's time 0.
    pub fn from_config(cfg: &Config, my_id: ServerId, wall_clock_base: i64) -> PeerConfig {
        let server = ServerConfig {
            tick_time: cfg.tick_time,
            min_session_timeout: cfg.min_session_timeout as i32,
            max_session_timeout: cfg.max_session_timeout as i32,
            max_client_cnxns: cfg.max_client_cnxns,
            skip_acl: cfg.skip_acl,
            super_digest: cfg.super_digest.clone(),
            extended_types: cfg.extended_types_enabled,
            container_check_interval: cfg.container_check_interval_ms as Millis,
            container_max_per_minute: cfg.container_max_per_minute,
            container_max_never_used: cfg.container_max_never_used_interval_ms as i64,
            wall_clock_base,
            auth: crate::server::ServerAuth::from_config(cfg),
        };
        let standalone = cfg.is_standalone();
        let quorum = if standalone {
            QuorumVerifier::majority([my_id])
        } else if cfg.is_hierarchical() {
            QuorumVerifier::Hierarchical {
                groups: cfg
                    .groups
                    .iter()
                    .map(|(g, ids)| (*g, ids.iter().copied().collect()))
                    .collect(),
                weights: cfg.weights.clone(),
            }
        } else {
            QuorumVerifier::majority(cfg.participants().map(|s| s.id))
        };
        let mut observers: BTreeSet<ServerId> = cfg.observers().map(|s| s.id).collect();
        if standalone {
            observers.clear();
        } else if cfg.role_of(my_id) == PeerRole::Observer {
            observers.insert(my_id);
        }
        PeerConfig {
            id: my_id,
            quorum,
            observers,
            standalone,
            tick_time: cfg.tick_time,
            init_limit: cfg.init_limit.max(1),
            sync_limit: cfg.sync_limit.max(1),
            server,
            commit_log_count: cfg.commit_log_count as usize,
            sync_enabled: cfg.sync_enabled,
            read_only_mode: cfg.read_only_mode_enabled && !standalone,
            snap_piece: DEFAULT_SNAP_PIECE,
            digest_enabled: cfg.digest_enabled,
            config_text: cfg.quorum_config_text(0).into(),
        }
    }

    pub fn is_observer(&self) -> bool {
        self.observers.contains(&self.id)
    }

    /// Every other server (voters and observers).
    pub fn others(&self) -> Vec<ServerId> {
        let mut all: BTreeSet<ServerId> = self.quorum.voters();
        all.extend(self.observers.iter().copied());
        all.remove(&self.id);
        all.into_iter().collect()
    }
}

/// A configuration text for an ensemble without addresses (the simulator's): the server lines
/// with made-up loopback ports, as `QuorumVerifier.toString()` would print them.
fn ensemble_text(voters: &[ServerId], observers: &[ServerId]) -> String {
    let mut all: Vec<(ServerId, &str)> = voters.iter().map(|v| (*v, "participant")).collect();
    all.extend(observers.iter().map(|o| (*o, "observer")));
    all.sort();
    let mut out = String::new();
    for (id, role) in all {
        let n = id.0 % 1000;
        out.push_str(&format!(
            "server.{id}=127.0.0.1:{}:{}:{role}\n",
            2880 + n,
            3880 + n
        ));
    }
    out.push_str("version=0");
    out
}

/// What a server finds on its disk when it starts.
#[derive(Clone, Debug, Default)]
pub struct Restored {
    /// The newest snapshot's tree (a fresh tree if there is none).
    pub tree: DataTree,
    /// Logged transactions after the snapshot, in zxid order.
    pub log: Vec<TxnEntry>,
    pub accepted_epoch: u32,
    pub current_epoch: u32,
}

/// Something to make durable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersistOp {
    /// Append a transaction to the log.
    Append(Arc<TxnEntry>),
    /// Remove every logged transaction after `zxid` (a TRUNC from the leader).
    Truncate(Zxid),
    /// The next piece of a snapshot at `zxid` coming from the leader (a SNAP); `first` begins
    /// it (its bytes hold the header, which names `zxid`). Written aside: the history stays
    /// as it is until [`PersistOp::SnapshotInstall`].
    SnapshotPiece {
        zxid: Zxid,
        first: bool,
        bytes: Arc<Vec<u8>>,
    },
    /// The snapshot at `zxid` is complete: it replaces the whole history, and an empty log
    /// follows it.
    SnapshotInstall {
        zxid: Zxid,
    },
    AcceptedEpoch(u32),
    CurrentEpoch(u32),
    /// Nothing to write: check that the disk has room again (after a
    /// [`PersistFailure::NoSpace`]), then `persisted(seq)` if it has, `persist_failed(seq,
    /// NoSpace)` if not. The driver resumes carrying out ops with this one.
    Probe,
}

/// Why the disk could not carry out a persist op (see [`Peer::persist_failed`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersistFailure {
    /// No room (ENOSPC, a quota, a file size limit). The driver has undone what the failed op
    /// and those after it had begun to write: the files are as the last op reported done left
    /// them.
    NoSpace,
    /// Anything else: an IO error, a failed fsync. What the files hold is unknown.
    Failed,
}

/// How long a server with a full disk waits between two [`PersistOp::Probe`]s.
pub const DISK_PROBE_MS: Millis = 1000;

/// One thing the peer wants done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    Send {
        to: ServerId,
        msg: PeerMsg,
    },
    /// Do `op`, after every op with a smaller `seq`, then call `persisted(seq)`.
    Persist {
        seq: u64,
        op: PersistOp,
    },
    Client(ClientOutput),
    /// Drop the quorum connection to `peer` (it timed out, or a new leader was chosen).
    Disconnect {
        peer: ServerId,
    },
    /// Stop this server: it can no longer promise that what it acknowledges is durable. The
    /// peer does nothing more, whatever it is given.
    Halt {
        why: HaltReason,
    },
}

/// Observable steps, for the trace the playground draws and the logs the native server writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeerEvent {
    State {
        from: ServerState,
        to: ServerState,
        why: StateReason,
    },
    Vote {
        vote: Vote,
        why: VoteChange,
    },
    Filed {
        from: ServerId,
        vote: Vote,
        state: ServerState,
        out_of_election: bool,
    },
    Finalizing {
        until: Millis,
    },
    Elected {
        vote: Vote,
        state: ServerState,
    },
    AcceptedEpoch(u32),
    CurrentEpoch(u32),
    /// The leader proposed a transaction.
    Proposed {
        entry: Arc<TxnEntry>,
    },
    Acked {
        from: ServerId,
        zxid: Zxid,
    },
    Committed {
        zxid: Zxid,
    },
    /// A committed transaction was applied to the tree.
    Applied {
        entry: Arc<TxnEntry>,
    },
    /// A leader chose how to bring a learner up to date.
    Sync {
        learner: ServerId,
        mode: SyncMode,
        from: Zxid,
        to: Zxid,
    },
    /// The leader has a quorum in its new epoch.
    Established {
        epoch: u32,
    },
    Truncated {
        zxid: Zxid,
    },
    /// A learner replaced its state with the leader's snapshot.
    SnapshotInstalled {
        zxid: Zxid,
    },
    /// A learner heard how its leader brings it up to date: DIFF, TRUNC or SNAP, with the
    /// packet's zxid.
    SyncedBy {
        leader: ServerId,
        mode: SyncMode,
        zxid: Zxid,
    },
    Notice(Notice),
}

impl PeerEvent {
    /// Whether a periodic snapshot under way must be dropped: the server changed role, or its
    /// history was replaced (a SNAP installed, a TRUNC).
    pub fn replaces_history_or_role(&self) -> bool {
        matches!(
            self,
            PeerEvent::State { .. }
                | PeerEvent::SnapshotInstalled { .. }
                | PeerEvent::Truncated { .. }
        )
    }
}

/// How a leader brings a learner up to date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncMode {
    Diff,
    Trunc,
    Snap,
}

impl std::fmt::Display for SyncMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SyncMode::Diff => "DIFF",
            SyncMode::Trunc => "TRUNC",
            SyncMode::Snap => "SNAP",
        })
    }
}

/// Zab's phases (ZooKeeper's `QuorumPeer.ZabState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ZabPhase {
    /// Looking for a leader (FastLeaderElection).
    Election,
    /// Agreeing on the new epoch: FOLLOWERINFO, LEADERINFO, ACKEPOCH.
    Discovery,
    /// Bringing learners up to date: DIFF/TRUNC/SNAP, NEWLEADER, UPTODATE.
    Synchronization,
    /// Proposals, ACKs and COMMITs.
    Broadcast,
}

/// What a server is doing, with the state of that role: one value, so that a server's
/// `ServerState` and the leader's or learner's bookkeeping cannot disagree.
#[derive(Clone, Debug)]
enum Role {
    Looking,
    /// Elected: discovery, synchronization, then broadcast.
    Leading(Box<LeaderState>),
    /// A one-server ensemble: the leader of itself, established at once.
    Standalone(Box<LeaderState>),
    Following(Box<LearnerState>),
    Observing(Box<LearnerState>),
}

impl Role {
    fn state(&self) -> ServerState {
        match self {
            Role::Looking => ServerState::Looking,
            Role::Leading(_) => ServerState::Leading,
            Role::Standalone(_) => ServerState::Standalone,
            Role::Following(_) => ServerState::Following,
            Role::Observing(_) => ServerState::Observing,
        }
    }

    /// The leader's bookkeeping, when this server leads (or is standalone).
    fn leader(&self) -> Option<&LeaderState> {
        match self {
            Role::Leading(l) | Role::Standalone(l) => Some(l),
            _ => None,
        }
    }
    fn leader_mut(&mut self) -> Option<&mut LeaderState> {
        match self {
            Role::Leading(l) | Role::Standalone(l) => Some(l),
            _ => None,
        }
    }
    /// The learner's bookkeeping, when this server follows or observes.
    fn learner(&self) -> Option<&LearnerState> {
        match self {
            Role::Following(l) | Role::Observing(l) => Some(l),
            _ => None,
        }
    }
    fn learner_mut(&mut self) -> Option<&mut LearnerState> {
        match self {
            Role::Following(l) | Role::Observing(l) => Some(l),
            _ => None,
        }
    }

    /// Serving clients or not.
    fn serving(&self) -> bool {
        match self {
            Role::Standalone(_) => true,
            Role::Leading(l) => l.established,
            Role::Following(l) | Role::Observing(l) => l.up_to_date,
            Role::Looking => false,
        }
    }
}

/// What becomes durable at a persist sequence number.
#[derive(Clone, Debug)]
enum Durable {
    Zxid(Zxid),
    Truncated(Zxid),
    Snapshot(Zxid),
    /// Snapshot pieces from this leader are on disk, this many bytes in all: ask for more.
    SnapPiece(ServerId, u64),
    AcceptedEpoch(u32),
    CurrentEpoch(u32),
    /// A [`PersistOp::Probe`] found room on the disk.
    Probe,
}

/// A server whose disk is full: when it next asks the disk whether it has room again.
#[derive(Clone, Copy, Debug)]
struct DiskFull {
    next_probe: Millis,
    /// The probe on its way to the disk.
    probing: Option<u64>,
}

/// One ZooKeeper server.
#[derive(Clone, Debug)]
pub struct Peer {
    cfg: PeerConfig,
    server: Server,
    /// What this server is doing (its ZooKeeper `ServerState`), with that role's state.
    role: Role,
    election: Election,
    /// The vote this server stands by when not LOOKING (what it answers a LOOKING server).
    current_vote: Vote,
    /// Epochs as persisted (`acceptedEpoch`, `currentEpoch` files).
    accepted_epoch: u32,
    current_epoch: u32,
    /// Logged (or being logged) transactions not applied to the tree, in zxid order.
    tail: VecDeque<Arc<TxnEntry>>,
    /// The last zxid handed to the disk (or found on it).
    last_logged: Zxid,
    /// The last zxid known durable.
    durable: Zxid,
    /// Everything up to here is committed.
    commit_point: Zxid,
    /// The last committed transactions, for DIFFs.
    committed_log: VecDeque<Arc<TxnEntry>>,
    /// The zxid just before the first entry of `committed_log` (what a DIFF can start from).
    log_base: Zxid,
    persist_seq: u64,
    persisted_seq: u64,
    markers: VecDeque<(u64, Durable)>,
    next_session_id: i64,
    /// Learner: sessions seen alive since the last ping reply.
    touched: BTreeMap<SessionId, i32>,
    /// Sessions being created or re-validated through the leader, with the waiting connection.
    creating: BTreeMap<SessionId, ConnId>,
    revalidating: BTreeMap<SessionId, ConnId>,
    out: VecDeque<Output>,
    scratch: VecDeque<ServerOutput>,
    events: Vec<(Millis, PeerEvent)>,
    /// Record events (the simulator and tests do; a busy server may not).
    pub trace: bool,
    /// Notifications to ourselves (FastLeaderElection sends its vote to every voter, itself too).
    self_inbox: VecDeque<Notification>,
    /// LOOKING notifications that came while we were not looking, with when: the first votes of
    /// an election we are about to join (see [`Peer::enter_looking`]).
    early_votes: BTreeMap<ServerId, (Notification, Millis)>,
    /// FOLLOWERINFO and OBSERVERINFO that came while we were looking: held until the election
    /// ends, for the learner may have decided a moment before we did.
    held_infos: Vec<(ServerId, QuorumPacket)>,
    now: Millis,
    /// When this server last started looking for a leader.
    looking_since: Millis,
    /// Sessions of the read-only server (local: the ensemble never hears of them).
    ro_sessions: BTreeSet<SessionId>,
    /// Syncs with a leader that failed before they were done: that leader, how many in a row,
    /// and when the last one failed — so that a learner that cannot sync with a leader (its
    /// stream is unreadable, say) does not reconnect in a tight loop.
    failed_syncs: Option<(ServerId, u32, Millis)>,
    /// The disk had no room for a write: writes are refused until a probe finds room.
    disk_full: Option<DiskFull>,
    /// The server stopped itself (see [`Output::Halt`]).
    halted: Option<HaltReason>,
}

impl Peer {
    /// A server starting from what it finds on disk.
    pub fn new(cfg: PeerConfig, restored: Restored, now: Millis) -> Peer {
        let Restored {
            tree,
            log,
            accepted_epoch,
            current_epoch,
        } = restored;
        let mut tree = tree;
        tree.set_digest_enabled(cfg.digest_enabled);
        let mut server = Server::new(cfg.server.clone(), tree);
        let mut last_logged = server.tree.last_processed_zxid();
        let mut tail = VecDeque::new();
        for e in log {
            if e.zxid() > last_logged {
                last_logged = e.zxid();
                tail.push_back(Arc::new(e));
            }
        }
        let next_session_id = initial_session_id(cfg.id, cfg.server.wall(now));
        let commit_point = server.tree.last_processed_zxid();
        server.committed = 0;
        let mut p = Peer {
            server,
            role: Role::Looking,
            election: Election::default(),
            current_vote: Vote {
                leader: cfg.id,
                zxid: last_logged,
                election_epoch: 0,
                peer_epoch: current_epoch,
            },
            accepted_epoch,
            current_epoch,
            tail,
            last_logged,
            durable: last_logged,
            commit_point,
            committed_log: VecDeque::new(),
            log_base: commit_point,
            persist_seq: 0,
            persisted_seq: 0,
            markers: VecDeque::new(),
            next_session_id,
            touched: BTreeMap::new(),
            creating: BTreeMap::new(),
            revalidating: BTreeMap::new(),
            out: VecDeque::new(),
            scratch: VecDeque::new(),
            events: Vec::new(),
            trace: true,
            self_inbox: VecDeque::new(),
            early_votes: BTreeMap::new(),
            held_infos: Vec::new(),
            now,
            looking_since: now,
            ro_sessions: BTreeSet::new(),
            failed_syncs: None,
            disk_full: None,
            halted: None,
            cfg,
        };
        if p.cfg.standalone {
            // Everything a standalone server logged was committed.
            p.commit_point = p.last_logged;
            p.apply_committed();
            p.become_standalone();
        } else {
            p.enter_looking(StateReason::Started);
        }
        p.drain_self();
        p
    }

    // ---- observation -------------------------------------------------------------------

    pub fn id(&self) -> ServerId {
        self.cfg.id
    }
    pub fn last_logged(&self) -> Zxid {
        self.last_logged
    }
    pub fn last_committed(&self) -> Zxid {
        self.commit_point
    }
    /// Serving reads only, out of a quorum (`readonlymode.enabled`), or with a full disk.
    pub fn is_read_only(&self) -> bool {
        self.server.read_only
    }
    /// The disk had no room for a write and has not been found to have room since.
    pub fn is_disk_full(&self) -> bool {
        self.disk_full.is_some()
    }
    /// Why the server stopped itself, if it did.
    pub fn halted(&self) -> Option<HaltReason> {
        self.halted
    }
    pub fn durable(&self) -> Zxid {
        self.durable
    }
    /// Transactions logged but not applied.
    pub fn tail(&self) -> &VecDeque<Arc<TxnEntry>> {
        &self.tail
    }
    /// Is this server answering clients?
    pub fn is_serving(&self) -> bool {
        self.role.serving()
    }
    /// The leader this server follows or is, once known.
    pub fn leader_id(&self) -> Option<ServerId> {
        match self.state() {
            ServerState::Leading | ServerState::Standalone => Some(self.cfg.id),
            ServerState::Following | ServerState::Observing => {
                self.role.learner().map(|l| l.leader)
            }
            ServerState::Looking => None,
        }
    }
    /// The leader's epoch is established (it has a quorum in it).
    pub fn is_established_leader(&self) -> bool {
        self.role.leader().is_some_and(|l| l.established)
    }
    /// The epoch this leader leads in, once established.
    pub fn leader_epoch(&self) -> Option<u32> {
        self.role
            .leader()
            .filter(|l| l.established)
            .map(|l| l.epoch)
    }
    /// ZooKeeper's `ServerState`: LOOKING, FOLLOWING, LEADING, OBSERVING (or standalone).
    pub fn state(&self) -> ServerState {
        self.role.state()
    }
    pub fn cfg(&self) -> &PeerConfig {
        &self.cfg
    }
    /// The client-facing server: connections, the tree, watches.
    pub fn server(&self) -> &Server {
        &self.server
    }
    /// For a driver's statistics commands (`srst`, `crst`), which reset counters.
    pub fn server_mut(&mut self) -> &mut Server {
        &mut self.server
    }
    /// FastLeaderElection's state (round, votes received).
    pub fn election(&self) -> &Election {
        &self.election
    }
    /// The vote this server stands by when not looking.
    pub fn current_vote(&self) -> &Vote {
        &self.current_vote
    }
    /// The epochs as written to disk (`acceptedEpoch`, `currentEpoch`).
    pub fn accepted_epoch(&self) -> u32 {
        self.accepted_epoch
    }
    pub fn current_epoch(&self) -> u32 {
        self.current_epoch
    }

    /// Where this server is in Zab, as ZooKeeper's `QuorumPeer.ZabState` names the phases.
    pub fn zab_phase(&self) -> ZabPhase {
        if let Some(l) = self.role.leader() {
            return if l.established {
                ZabPhase::Broadcast
            } else if l.epoch_acks_done {
                ZabPhase::Synchronization
            } else {
                ZabPhase::Discovery
            };
        }
        if let Some(l) = self.role.learner() {
            return match l.stage {
                learner::LStage::Connecting | learner::LStage::AcceptingEpoch => {
                    ZabPhase::Discovery
                }
                learner::LStage::Syncing
                | learner::LStage::PersistingEpoch
                | learner::LStage::WaitUpToDate => ZabPhase::Synchronization,
                learner::LStage::Broadcast => ZabPhase::Broadcast,
            };
        }
        ZabPhase::Election
    }
    /// The epoch this leader leads (or is establishing), once decided.
    pub fn leading_epoch(&self) -> Option<u32> {
        self.role
            .leader()
            .filter(|l| l.epoch_decided)
            .map(|l| l.epoch)
    }
    /// A leader's last proposed zxid.
    pub fn last_proposed(&self) -> Option<Zxid> {
        self.role.leader().map(|l| l.last_proposed)
    }
    /// Whether this leader has a connection (a learner handler) from `sid`.
    pub fn has_learner(&self, sid: ServerId) -> bool {
        self.role
            .leader()
            .is_some_and(|l| l.learners.contains_key(&sid))
    }
    /// Learners synced with this leader (`zk_synced_followers` and observers).
    pub fn synced_learners(&self) -> Vec<(ServerId, bool)> {
        self.role
            .leader()
            .map(|l| l.synced_learners())
            .unwrap_or_default()
    }
    /// Learners connected to this leader, with whether each is an observer.
    pub fn learners(&self) -> Vec<(ServerId, bool)> {
        self.role
            .leader()
            .map(|l| l.learner_list())
            .unwrap_or_default()
    }
    /// Proposals waiting for a quorum (`zk_outstanding_proposals`... of the leader).
    pub fn outstanding_proposals(&self) -> usize {
        self.role.leader().map(|l| l.outstanding.len()).unwrap_or(0)
    }
    /// The sessions this server expires (a standalone server or a leader), with the tick
    /// boundary each expires at unless touched; `None` on a learner.
    pub fn session_expiries(&self) -> Option<Vec<(Millis, SessionId)>> {
        self.role.leader().map(|l| {
            l.sessions
                .iter()
                .map(|(id, s)| (s.expires_at, *id))
                .collect()
        })
    }
    /// Sizes of the proposals this leader broadcast (`None` unless leading an ensemble).
    pub fn proposal_sizes(&self) -> Option<crate::server::BufferStats> {
        if self.cfg.standalone {
            return None;
        }
        self.role.leader().map(|l| l.proposal_sizes)
    }
    /// `srst` on a leader also forgets the proposal sizes.
    pub fn reset_proposal_sizes(&mut self) {
        if let Some(l) = self.role.leader_mut() {
            l.proposal_sizes = Default::default();
        }
    }
    /// Syncs waiting for a quorum round (`zk_pending_syncs`).
    pub fn pending_syncs(&self) -> usize {
        self.role
            .leader()
            .map(|l| l.pending_syncs.len())
            .unwrap_or(0)
    }
    /// Live sessions as the leader tracks them.
    pub fn session_count(&self) -> usize {
        match self.role.leader() {
            Some(l) => l.sessions.len(),
            None => self.server.tree.sessions().len(),
        }
    }
    /// The committed transactions kept for DIFFs.
    pub fn committed_log(&self) -> &VecDeque<Arc<TxnEntry>> {
        &self.committed_log
    }

    /// Recorded events since the last call.
    pub fn take_events(&mut self) -> Vec<(Millis, PeerEvent)> {
        std::mem::take(&mut self.events)
    }

    fn event(&mut self, e: PeerEvent) {
        if self.trace {
            self.events.push((self.now, e));
        }
    }

    // ---- outputs -----------------------------------------------------------------------

    pub fn poll_output(&mut self) -> Option<Output> {
        self.flush_server();
        self.out.pop_front()
    }

    /// Everything queued, at once.
    pub fn drain_outputs(&mut self) -> Vec<Output> {
        self.flush_server();
        self.out.drain(..).collect()
    }

    fn flush_server(&mut self) {
        while let Some(o) = self.scratch.pop_front() {
            match o {
                ServerOutput::Client(c) => self.out.push_back(Output::Client(c)),
                ServerOutput::Persist(_) => {}
            }
        }
    }

    fn send(&mut self, to: ServerId, msg: PeerMsg) {
        if to == self.cfg.id {
            if let PeerMsg::Election(n) = msg {
                self.self_inbox.push_back(n);
            }
            return;
        }
        self.out.push_back(Output::Send { to, msg });
    }

    fn send_q(&mut self, to: ServerId, p: QuorumPacket) {
        self.send(to, PeerMsg::Quorum(p));
    }

    fn persist(&mut self, op: PersistOp, durable: Durable) -> u64 {
        self.persist_seq += 1;
        let seq = self.persist_seq;
        self.markers.push_back((seq, durable));
        self.out.push_back(Output::Persist { seq, op });
        seq
    }

    /// Forgets the tail's entries after `zxid` (a TRUNC, or what was never logged).
    fn drop_tail_after(&mut self, zxid: Zxid) {
        while self.tail.back().is_some_and(|e| e.zxid() > zxid) {
            self.tail.pop_back();
        }
        self.last_logged = self
            .tail
            .back()
            .map(|e| e.zxid())
            .unwrap_or(self.server.tree.last_processed_zxid());
    }

    /// Logs a transaction (appends it to the tail and asks the disk for it).
    fn log_txn(&mut self, entry: Arc<TxnEntry>) {
        self.last_logged = entry.zxid();
        let z = entry.zxid();
        self.tail.push_back(entry.clone());
        self.persist(PersistOp::Append(entry), Durable::Zxid(z));
    }

    // ---- time --------------------------------------------------------------------------

    /// When `tick` must next be called.
    pub fn next_deadline(&self) -> Option<Millis> {
        let mut d: Option<Millis> = None;
        let mut add = |x: Option<Millis>| {
            if let Some(x) = x {
                d = Some(d.map_or(x, |y: Millis| y.min(x)));
            }
        };
        if self.state() == ServerState::Looking {
            if self.disk_full.is_none() {
                add(self.election.deadline());
            }
            add(self.read_only_starts());
        }
        if let Some(l) = self.role.leader() {
            add(l.deadline());
        }
        if let Some(l) = self.role.learner() {
            add(Some(l.deadline(&self.cfg)));
        }
        if let Some(f) = self.disk_full.filter(|f| f.probing.is_none()) {
            add(Some(f.next_probe));
        }
        if self.halted.is_some() {
            return None;
        }
        d
    }

    pub fn tick(&mut self, now: Millis) {
        self.now = now;
        if self.halted.is_some() {
            return;
        }
        self.probe_disk();
        if self.read_only_starts().is_some_and(|at| at <= now) {
            // ZooKeeper's QuorumPeer starts its ReadOnlyZooKeeperServer after
            // max(2000, tickTime) ms of looking.
            self.server.read_only = true;
            self.event(PeerEvent::Notice(Notice::ReadOnly));
        }
        if self.state() == ServerState::Looking && self.disk_full.is_none() {
            let me = self.me();
            let mut out = Vec::new();
            self.election.timeout(now, &me, &self.cfg.quorum, &mut out);
            self.election_outputs(out);
        }
        if self.role.leader().is_some() {
            self.leader_tick(now);
        }
        if self.role.learner().is_some() {
            self.learner_tick(now);
        }
        self.drain_self();
    }

    // ---- disk --------------------------------------------------------------------------

    /// The disk has done every persist op up to `seq`.
    pub fn persisted(&mut self, seq: u64, now: Millis) {
        self.now = now;
        if seq <= self.persisted_seq || self.halted.is_some() {
            return;
        }
        let mut room = false;
        self.persisted_seq = seq;
        let mut epochs = Vec::new();
        let mut piece_acks = Vec::new();
        while self.markers.front().is_some_and(|(s, _)| *s <= seq) {
            let Some((_, d)) = self.markers.pop_front() else {
                break;
            };
            match d {
                Durable::Zxid(z) => self.durable = self.durable.max(z),
                Durable::Truncated(z) | Durable::Snapshot(z) => self.durable = z,
                Durable::SnapPiece(leader, bytes) => piece_acks.push((leader, bytes)),
                Durable::AcceptedEpoch(e) => epochs.push((true, e)),
                Durable::CurrentEpoch(e) => epochs.push((false, e)),
                Durable::Probe => room = true,
            }
        }
        if room {
            self.disk_space_back();
        }
        for (leader, bytes) in piece_acks {
            self.learner_snap_piece_durable(leader, bytes);
        }
        for (accepted, e) in epochs {
            // The file holds it now, whatever role this server has since taken: it is what a
            // restart would read, and what this server stands on (ZooKeeper's setCurrentEpoch
            // writes the file and the field together).
            if accepted {
                debug_assert!(e >= self.accepted_epoch, "acceptedEpoch only grows");
                self.accepted_epoch = self.accepted_epoch.max(e);
            } else {
                debug_assert!(e >= self.current_epoch, "currentEpoch only grows");
                self.current_epoch = self.current_epoch.max(e);
            }
            if accepted {
                self.event(PeerEvent::AcceptedEpoch(e));
                self.on_accepted_epoch_durable(e);
            } else {
                self.event(PeerEvent::CurrentEpoch(e));
                self.on_current_epoch_durable(e);
            }
        }
        self.on_durable();
        self.drain_self();
    }

    fn on_accepted_epoch_durable(&mut self, e: u32) {
        if self.role.leader().is_some() {
            self.leader_accepted_epoch_durable(e);
        }
        if self.role.learner().is_some() {
            self.learner_accepted_epoch_durable(e);
        }
    }

    fn on_current_epoch_durable(&mut self, e: u32) {
        if self.role.leader().is_some() {
            self.leader_current_epoch_durable(e);
        }
        if self.role.learner().is_some() {
            self.learner_current_epoch_durable(e);
        }
    }

    /// More of the log is durable: acknowledge and apply what may now be.
    fn on_durable(&mut self) {
        if self.role.leader().is_some() {
            self.leader_durable();
        }
        if self.role.learner().is_some() {
            self.learner_durable();
        }
        self.apply_committed();
        if self.role.learner().is_some() {
            self.learner_serve_when_consistent();
            self.learner_synced_check();
        }
        if self.role.leader().is_some() {
            self.check_syncs();
        }
    }

    /// Applies tail entries that are both committed and durable, in zxid order.
    fn apply_committed(&mut self) {
        let limit = self.commit_point.min(self.durable);
        while self.tail.front().is_some_and(|e| e.zxid() <= limit) {
            let Some(entry) = self.tail.pop_front() else {
                break;
            };
            self.apply(entry);
        }
    }

    fn apply(&mut self, entry: Arc<TxnEntry>) {
        let now = self.now;
        // The contracts: transactions are applied in zxid order, each only once committed and
        // durable here.
        debug_assert!(
            entry.zxid() > self.server.tree.last_processed_zxid(),
            "applies are in zxid order: {} after {}",
            entry.zxid(),
            self.server.tree.last_processed_zxid()
        );
        debug_assert!(
            entry.zxid() <= self.commit_point && entry.zxid() <= self.durable,
            "applied only once committed ({}) and durable ({}): {}",
            self.commit_point,
            self.durable,
            entry.zxid()
        );
        self.server.commit(&mut self.scratch, &entry, now);
        if self.trace {
            self.event(PeerEvent::Applied {
                entry: entry.clone(),
            });
        }
        let session = entry.hdr.session;
        match &entry.txn {
            Txn::CreateSession { timeout } => {
                let now = self.now;
                if let Some(l) = self.role.leader_mut() {
                    if !l.sessions.contains(session) {
                        l.sessions.track(session, *timeout, now);
                    }
                }
                if let Some(conn) = self.creating.remove(&session) {
                    self.established(conn, session);
                }
            }
            Txn::CloseSession { .. } => {
                if let Some(l) = self.role.leader_mut() {
                    l.sessions.remove(session);
                }
                self.server
                    .close_session_conn(&mut self.scratch, session, "session closed");
            }
            _ => {}
        }
        if let Some(l) = self.role.leader_mut() {
            l.prep.applied(entry.zxid());
        }
        self.committed_log.push_back(entry);
        while self.committed_log.len() > self.cfg.commit_log_count.max(1) {
            if let Some(old) = self.committed_log.pop_front() {
                self.log_base = old.zxid();
            }
        }
    }

    // ---- peers -------------------------------------------------------------------------

    fn me(&self) -> Me {
        Me {
            id: self.cfg.id,
            last_zxid: self.last_logged,
            epoch: self.current_epoch,
            participant: !self.cfg.is_observer(),
        }
    }

    /// A message from another server.
    pub fn message(&mut self, from: ServerId, msg: PeerMsg, now: Millis) {
        self.now = now;
        if self.halted.is_some() {
            return;
        }
        match msg {
            PeerMsg::Election(n) => self.notification(from, n),
            PeerMsg::Quorum(p) => {
                if self.role.leader().is_some() {
                    self.leader_packet(from, p);
                } else if matches!(
                    p,
                    QuorumPacket::FollowerInfo(_) | QuorumPacket::ObserverInfo(_)
                ) {
                    if self.state() == ServerState::Looking {
                        // The learner decided a moment before we did (its finalize wait began
                        // at its last vote, ours at ours). ZooKeeper refuses the connect and the
                        // learner tries again 100 ms later; we hold its FOLLOWERINFO until our
                        // own election ends instead.
                        self.held_infos.retain(|(sid, _)| *sid != from);
                        self.held_infos.push((from, p));
                    } else {
                        // Only a leader listens on the quorum port: a learner that picked us
                        // while we follow someone is refused, as its connect would be.
                        self.out.push_back(Output::Disconnect { peer: from });
                    }
                } else if self.role.learner().is_some() {
                    self.learner_packet(from, p);
                }
                // Anything else (a quorum packet while LOOKING) is stale: dropped.
            }
        }
        self.drain_self();
    }

    /// The connection to learner `peer` took `bytes` more of a snapshot (what paces a SNAP to a
    /// learner that does not acknowledge pieces itself, such as Apache ZooKeeper).
    pub fn snap_written(&mut self, peer: ServerId, bytes: u64, now: Millis) {
        self.now = now;
        if self.halted.is_some() {
            return;
        }
        if self.role.leader().is_some() {
            self.leader_snap_written(peer, bytes);
        }
        self.drain_self();
    }

    /// The quorum connection to `peer` broke (the election connection breaking needs no
    /// action: notifications are re-sent).
    pub fn link_down(&mut self, peer: ServerId, now: Millis) {
        self.now = now;
        if self.halted.is_some() {
            return;
        }
        // A FOLLOWERINFO held while looking came on the connection that just closed: there is
        // no one to answer any more.
        self.held_infos.retain(|(sid, _)| *sid != peer);
        if self.role.leader().is_some() {
            self.leader_link_down(peer);
        } else if self.role.learner().is_some_and(|l| l.leader == peer)
            && !self.learner_refused(now)
        {
            self.enter_looking(StateReason::LostLeader { leader: peer });
        }
        self.drain_self();
    }

    fn drain_self(&mut self) {
        while let Some(n) = self.self_inbox.pop_front() {
            self.notification(self.cfg.id, n);
        }
    }

    /// FastLeaderElection's receiver: every notification comes here, in any state.
    fn notification(&mut self, from: ServerId, n: Notification) {
        // A server with a full disk is out of elections: to the others it is down.
        if self.cfg.standalone || self.disk_full.is_some() {
            return;
        }
        let voter = self.cfg.quorum.is_voter(from);
        if self.state() == ServerState::Looking {
            if !voter {
                // An observer looking for the leader: tell it what we propose. (ZooKeeper answers
                // a non-looking observer too, and the two then answer each other for as long as
                // we look; answering only a looking one ends that storm.)
                if n.state == ServerState::Looking {
                    let reply = self.looking_notification();
                    self.send(from, PeerMsg::Election(reply));
                }
                return;
            }
            if n.state == ServerState::Looking
                && n.election_epoch < self.election.logicalclock
                && from != self.cfg.id
            {
                let reply = self.looking_notification();
                self.send(from, PeerMsg::Election(reply));
            }
            let me = self.me();
            let mut out = Vec::new();
            self.election
                .receive(self.now, n, &me, &self.cfg.quorum, &mut out);
            self.election_outputs(out);
        } else if n.state == ServerState::Looking && from != self.cfg.id {
            if voter {
                self.early_votes.insert(from, (n, self.now));
            }
            // Not looking: answer a LOOKING server with the vote we stand by.
            let state = if self.state() == ServerState::Standalone {
                ServerState::Leading
            } else {
                self.state()
            };
            let reply = self.current_vote.notification(state, self.cfg.id);
            self.send(from, PeerMsg::Election(reply));
        }
    }

    fn looking_notification(&self) -> Notification {
        self.election
            .proposal()
            .notification(ServerState::Looking, self.cfg.id)
    }

    fn election_outputs(&mut self, out: Vec<ElectionOut>) {
        for o in out {
            match o {
                ElectionOut::Broadcast(n) => {
                    for v in self.cfg.quorum.voters() {
                        self.send(v, PeerMsg::Election(n));
                    }
                }
                ElectionOut::VoteChanged { vote, why } => self.event(PeerEvent::Vote { vote, why }),
                ElectionOut::Filed {
                    from,
                    vote,
                    state,
                    out_of_election,
                } => self.event(PeerEvent::Filed {
                    from,
                    vote,
                    state,
                    out_of_election,
                }),
                ElectionOut::Finalizing { until } => self.event(PeerEvent::Finalizing { until }),
                ElectionOut::Decided { vote, state } => {
                    self.event(PeerEvent::Elected { vote, state });
                    self.current_vote = vote;
                    match state {
                        ServerState::Leading => self.become_leader(),
                        ServerState::Following | ServerState::Observing => {
                            self.become_learner(vote.leader, state)
                        }
                        _ => {}
                    }
                    // The learners that came while we looked: ours now if we lead, refused if
                    // we do not.
                    for (from, p) in std::mem::take(&mut self.held_infos) {
                        if self.role.leader().is_some() {
                            self.leader_packet(from, p);
                        } else {
                            self.out.push_back(Output::Disconnect { peer: from });
                        }
                    }
                }
            }
        }
    }

    /// When the read-only server will start, if it is due to.
    fn read_only_starts(&self) -> Option<Millis> {
        (self.cfg.read_only_mode && self.state() == ServerState::Looking && !self.server.read_only)
            .then(|| self.looking_since + (self.cfg.tick_time as Millis).max(2000))
    }

    /// Leaves read-only mode: its connections close, its local sessions are gone.
    fn stop_read_only(&mut self) {
        if self.server.read_only {
            self.server.read_only = false;
            self.server
                .close_all(&mut self.scratch, "read-only mode ends: back in a quorum");
            self.ro_sessions.clear();
        }
    }

    /// Takes up a role.
    fn set_role(&mut self, role: Role, why: StateReason) {
        let from = self.state();
        let to = role.state();
        if to != ServerState::Looking {
            self.stop_read_only();
        }
        self.role = role;
        self.state_changed(from, why);
    }

    fn state_changed(&mut self, from: ServerState, why: StateReason) {
        let to = self.state();
        if from != to {
            self.event(PeerEvent::State { from, to, why });
        }
    }

    /// Leaves whatever role this server had and starts an election. Client connections are
    /// closed: their sessions live on in the ensemble, and clients reconnect.
    fn enter_looking(&mut self, why: StateReason) {
        if self.cfg.standalone {
            return;
        }
        let was_serving = self.is_serving();
        let from = self.state();
        let old = std::mem::replace(&mut self.role, Role::Looking);
        if let Role::Leading(l) | Role::Standalone(l) = &old {
            for sid in l.learners.keys() {
                self.out.push_back(Output::Disconnect { peer: *sid });
            }
        }
        if let Role::Following(l) | Role::Observing(l) = old {
            self.out.push_back(Output::Disconnect { peer: l.leader });
            if !l.up_to_date && l.stage > learner::LStage::Connecting {
                let n = match self.failed_syncs {
                    Some((leader, n, _)) if leader == l.leader => n + 1,
                    _ => 1,
                };
                self.failed_syncs = Some((l.leader, n, self.now));
            }
            // Proposals held back until NEWLEADER were never logged: forget them.
            if let Some(first) = l.deferred.first() {
                self.drop_tail_after(Zxid(first.zxid().0 - 1));
            }
        }
        if was_serving || self.server.conn_count() > 0 {
            self.server.close_all(
                &mut self.scratch,
                "server is not serving: looking for a leader",
            );
        }
        self.creating.clear();
        self.revalidating.clear();
        self.touched.clear();
        self.stop_read_only();
        self.looking_since = self.now;
        self.state_changed(from, why);
        if self.disk_full.is_none() {
            self.start_election();
        }
    }

    /// Starts FastLeaderElection's round (this server is looking).
    fn start_election(&mut self) {
        let me = self.me();
        let mut out = Vec::new();
        self.election.start(self.now, &me, &mut out);
        self.election_outputs(out);
        // Votes of this round that reached us while we still followed (a follower that saw the
        // leader go a moment before us): ZooKeeper drops them after answering, and the round
        // then waits for a timeout (200 ms, then 400) to hear them again. We count them now.
        // Only recent ones of this round or a later one: anything older is stale.
        let recent = self.cfg.tick_time as Millis;
        let clock = self.election.logicalclock;
        for (from, (n, at)) in std::mem::take(&mut self.early_votes) {
            if n.election_epoch >= clock && self.now.saturating_sub(at) <= recent {
                self.notification(from, n);
            }
        }
    }

    // ---- clients -----------------------------------------------------------------------

    /// A client connection was accepted. Refused (false, and a Close) while not serving or over
    /// `maxClientCnxns`.
    pub fn accept(&mut self, conn: ConnId, addr: &str, now: Millis) -> bool {
        self.now = now;
        if self.halted.is_some() || (!self.is_serving() && !self.server.read_only) {
            self.out.push_back(Output::Client(ClientOutput::Close {
                conn,
                reason: "this server is not serving clients: it is not in a quorum".into(),
            }));
            return false;
        }
        self.server.accept(&mut self.scratch, conn, addr, now)
    }

    /// The connection's TLS client certificate, by subject (see [`crate::server::Server::certificate`]).
    pub fn certificate(&mut self, conn: ConnId, subject: &str) {
        self.server.certificate(conn, subject);
    }

    pub fn disconnected(&mut self, conn: ConnId, now: Millis) {
        self.now = now;
        self.server.disconnected(conn);
    }

    pub fn connect(&mut self, conn: ConnId, req: &ConnectRequest, now: Millis) {
        self.now = now;
        if self.halted.is_some() {
            return;
        }
        if self.server.read_only {
            self.connect_read_only(conn, req);
            self.drain_self();
            return;
        }
        // A client that saw a newer zxid than we have applied must look elsewhere.
        match self.server.connect(&mut self.scratch, conn, req) {
            ConnectAction::Done => {}
            ConnectAction::CreateSession { timeout } => {
                let session = SessionId(self.next_session_id);
                self.next_session_id = self.next_session_id.wrapping_add(1);
                self.creating.insert(session, conn);
                self.submit(
                    conn,
                    session,
                    0,
                    Forwarded::CreateSession { timeout },
                    Vec::new(),
                );
            }
            ConnectAction::Revalidate { session, timeout } => {
                if self.role.leader().is_some() {
                    let valid = self.leader_revalidate(session, timeout, self.cfg.id);
                    if valid {
                        self.established(conn, session);
                    } else {
                        self.server.session_invalid(&mut self.scratch, conn);
                    }
                } else if let Some(leader) = self.role.learner().map(|l| l.leader) {
                    self.revalidating.insert(session, conn);
                    self.send_q(leader, QuorumPacket::Revalidate { session, timeout });
                }
            }
        }
        self.drain_self();
    }

    /// A session on the read-only server: only clients that allow read-only mode, with a local
    /// session (ZooKeeper's ReadOnlyZooKeeperServer does the same).
    fn connect_read_only(&mut self, conn: ConnId, req: &ConnectRequest) {
        // A standalone server whose disk is full keeps the sessions it has: they reconnect.
        let keeps_sessions = self.disk_full.is_some() && self.role.leader().is_some();
        if req.read_only != Some(true) && !(keeps_sessions && req.session_id.0 != 0) {
            if keeps_sessions {
                self.server.refuse(
                    &mut self.scratch,
                    conn,
                    "the disk is full: no new sessions until it has room",
                );
                return;
            }
            self.server.refuse(
                &mut self.scratch,
                conn,
                "refusing a session for a client that does not allow read-only mode",
            );
            return;
        }
        match self.server.connect(&mut self.scratch, conn, req) {
            ConnectAction::Done => {}
            ConnectAction::CreateSession { .. } => {
                let session = SessionId(self.next_session_id);
                self.next_session_id = self.next_session_id.wrapping_add(1);
                self.ro_sessions.insert(session);
                self.established(conn, session);
            }
            ConnectAction::Revalidate { session, timeout } => {
                if self.ro_sessions.contains(&session)
                    || (keeps_sessions && self.leader_revalidate(session, timeout, self.cfg.id))
                {
                    self.established(conn, session);
                } else {
                    self.server.session_invalid(&mut self.scratch, conn);
                }
            }
        }
    }

    pub fn request(&mut self, conn: ConnId, xid: i32, req: Request, now: Millis) {
        self.now = now;
        if self.halted.is_some() {
            return;
        }
        if self.server.read_only {
            if let (Some(l), Some(s)) = (self.role.leader_mut(), self.server.session_of(conn)) {
                // A standalone server with a full disk: its sessions live on.
                l.sessions.touch_existing(s, now);
            }
            // Reads are answered; writes and syncs get NotReadOnly; closeSession ends the
            // local session.
            if req == Request::CloseSession {
                if let Some(s) = self.server.session_of(conn) {
                    self.ro_sessions.remove(&s);
                }
            }
            self.server.request(&mut self.scratch, conn, xid, req, now);
            self.drain_self();
            return;
        }
        if let Some(session) = self.server.session_of(conn) {
            // Every packet renews the session: on the leader directly, on a learner at the
            // next ping.
            if let Some(l) = self.role.leader_mut() {
                if !l.sessions.touch_existing(session, now) {
                    self.server
                        .close_session_conn(&mut self.scratch, session, "session expired");
                    return;
                }
            } else {
                let timeout = self.server.conn(conn).map(|c| c.timeout).unwrap_or(0);
                self.touched.insert(session, timeout);
            }
        }
        match self.server.request(&mut self.scratch, conn, xid, req, now) {
            RequestAction::None | RequestAction::Close => {}
            RequestAction::Sync {
                session,
                cxid,
                path,
            } => {
                self.submit(conn, session, cxid, Forwarded::Sync { path }, Vec::new());
            }
            RequestAction::Write { session, cxid, req } => {
                let auth = self
                    .server
                    .conn(conn)
                    .map(|c| c.auth.clone())
                    .unwrap_or_default();
                let op = if req == Request::CloseSession {
                    Forwarded::CloseSession
                } else {
                    Forwarded::Client(req)
                };
                self.submit(conn, session, cxid, op, auth);
            }
        }
        self.drain_self();
    }

    /// A session is attached to `conn`: answer the ConnectRequest, then the requests the client
    /// sent right behind it.
    fn established(&mut self, conn: ConnId, session: SessionId) {
        self.server
            .session_established(&mut self.scratch, conn, session);
        let now = self.now;
        for (xid, req) in self.server.take_early_requests(conn) {
            self.request(conn, xid, req, now);
        }
    }

    /// Hands a write, a session change or a sync to the leader: ourselves, or over the wire.
    fn submit(
        &mut self,
        conn: ConnId,
        session: SessionId,
        cxid: i32,
        op: Forwarded,
        auth: Vec<crate::acl::Id>,
    ) {
        if self.role.leader().is_some() {
            let owner = self.cfg.id;
            self.leader_request(owner, Some(conn), session, cxid, op, &auth);
        } else if let Some(leader) = self.role.learner().map(|l| l.leader) {
            if let Forwarded::Sync { .. } = op {
                if let Some(l) = self.role.learner_mut() {
                    l.syncs.push_back((session, cxid, conn));
                }
            }
            self.send_q(
                leader,
                QuorumPacket::Request {
                    session,
                    cxid,
                    op: Box::new(op),
                    auth,
                },
            );
        } else {
            let now = self.now;
            self.server.fail_write(
                &mut self.scratch,
                conn,
                cxid,
                ErrorCode::ConnectionLoss,
                now,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(text: &str, id: u64) -> PeerConfig {
        let (cfg, _) = crate::config::parse(text, "zoo.cfg").unwrap();
        PeerConfig::from_config(&cfg, ServerId(id), 0)
    }

    const BASE: &str =
        "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/zk\nclientPort=2181\n";

    #[test]
    fn zoo_cfg_makes_the_peer() {
        let alone = peer(BASE, 1);
        assert!(alone.standalone && alone.observers.is_empty());
        assert_eq!(alone.quorum.voters(), BTreeSet::from([ServerId(1)]));

        let three = format!(
            "{BASE}server.1=h:2888:3888\nserver.2=h:2889:3889\nserver.3=h:2890:3890:observer\n"
        );
        let p = peer(&three, 3);
        assert!(!p.standalone && p.is_observer());
        assert_eq!(
            p.quorum.voters(),
            BTreeSet::from([ServerId(1), ServerId(2)])
        );
        assert_eq!((p.init_limit, p.sync_limit), (10, 5));

        let groups = format!(
            "{BASE}server.1=h:2888:3888\nserver.2=h:2889:3889\nserver.3=h:2890:3890\n\
             server.4=h:2891:3891\ngroup.1=1:2\ngroup.2=3:4\n\
             weight.1=1\nweight.2=1\nweight.3=1\nweight.4=1\n"
        );
        let p = peer(&groups, 1);
        assert!(matches!(p.quorum, QuorumVerifier::Hierarchical { .. }));
        // A majority of the weight in a majority of the groups.
        assert!(p
            .quorum
            .is_quorum(&[ServerId(1), ServerId(2), ServerId(3), ServerId(4)]));
        assert!(!p.quorum.is_quorum(&[ServerId(1), ServerId(3)]));
    }
}
