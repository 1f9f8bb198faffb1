//! # zk-sim: a deterministic ZooKeeper ensemble
//!
//! N zk-core [`Peer`]s — the code zkserver runs — and their clients on a virtual clock, driven
//! by one seeded generator. The same code runs the tests, the randomized fault search (DST), the
//! browser playground and the tutorials ([`tutorial`], played by [`play::Player`]).
//!
//! ## The world it models
//!
//! * **Network.** Between every two servers there is an election channel and a quorum channel,
//!   each a TCP-like link: in order, reliable while up, with a latency drawn per message. A
//!   partition (any grouping, or a one-way cut) holds quorum messages back — as TCP would
//!   retransmit them — and drops election messages (ZooKeeper keeps only the latest vote per
//!   peer anyway). When a server drops a quorum connection (or dies), everything in flight on it
//!   is lost and the other end hears `link_down` before anything sent on a new connection.
//! * **Disks.** Each server has a disk that completes persist requests in order after a latency,
//!   many at once (group commit). A killed server keeps exactly what its disk completed.
//! * **Processes.** Servers can be started, killed, restarted from their disk, and paused (a
//!   long GC): a paused server handles nothing until resumed, then everything at once.
//! * **Clients.** [`client::SimClient`]s talk to one server at a time, ping, and move to another
//!   server with their session when the connection breaks, as kazoo and Curator do.
//!
//! Every observable step is a [`TraceEvent`]; [`check`] verifies the invariants after each step.

pub mod check;
pub mod client;
pub mod play;
pub mod recipes;
pub mod tutorial;

use check::Checker;
use client::{ClientId, SimClient};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
use std::sync::Arc;
use zk_core::output::ClientOutput;
use zk_core::peer::messages::{PeerMsg, QuorumPacket, ServerState};
use zk_core::peer::quorum::QuorumVerifier;
use zk_core::peer::{Output, Peer, PeerConfig, PeerEvent, PersistFailure, PersistOp, Restored};
use zk_core::request::{ConnectRequest, Request};
use zk_core::server::ServerConfig;
use zk_core::snapshot;
use zk_core::tree::DataTree;
use zk_core::txn::TxnEntry;
use zk_core::types::{ConnId, Millis, ServerId, Zxid};

/// A latency range in milliseconds, drawn uniformly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub min: Millis,
    pub max: Millis,
}

impl Latency {
    pub const fn fixed(ms: Millis) -> Latency {
        Latency { min: ms, max: ms }
    }
    fn draw(&self, rng: &mut ChaCha8Rng) -> Millis {
        if self.max <= self.min {
            self.min
        } else {
            rng.gen_range(self.min..=self.max)
        }
    }
}

/// The cluster to simulate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SimConfig {
    pub voters: Vec<ServerId>,
    pub observers: Vec<ServerId>,
    pub seed: u64,
    pub tick_time: u32,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub network: Latency,
    pub disk: Latency,
    /// Committed transactions kept for DIFFs (small values exercise SNAP).
    pub commit_log_count: usize,
    /// Take a disk snapshot after this many applied transactions (0: never).
    pub snap_count: u64,
    /// Bytes of snapshot a server writes per step of its walk (zkserver: 256 kB per turn of
    /// its loop); small, so that a snapshot spans many events while the tree changes.
    pub snap_budget: usize,
    /// Record the trace (the browser wants it; the fault search may not).
    pub trace: bool,
    /// Check invariants after every step.
    pub check: bool,
    /// `readonlymode.enabled` on every server.
    pub read_only_mode: bool,
    /// See [`PeerConfig::snap_piece`].
    #[serde(default = "default_snap_piece")]
    pub snap_piece: usize,
    pub server: ServerConfig,
    /// Every message goes through the bytes zkserver puts on the wire — Apache ZooKeeper's
    /// ([`zk_core::wire`]): encoded by the sender, decoded by a per-connection decoder, and what
    /// comes out is delivered. A message the codec cannot carry is an invariant violation.
    #[serde(default = "default_true")]
    pub wire: bool,
}

fn default_true() -> bool {
    true
}

fn default_snap_piece() -> usize {
    zk_core::peer::DEFAULT_SNAP_PIECE
}

impl SimConfig {
    /// `n` voters with ids 1..=n and `observers` more after them; ZooKeeper's default timing.
    pub fn new(n: u64, observers: u64, seed: u64) -> SimConfig {
        let server = ServerConfig {
            wall_clock_base: 1_767_225_600_000,
            ..ServerConfig::with_tick(2000)
        };
        SimConfig {
            voters: (1..=n).map(ServerId).collect(),
            observers: (n + 1..=n + observers).map(ServerId).collect(),
            seed,
            tick_time: 2000,
            init_limit: 10,
            sync_limit: 5,
            network: Latency { min: 1, max: 5 },
            disk: Latency { min: 1, max: 3 },
            commit_log_count: 500,
            snap_count: 0,
            snap_budget: 1024,
            trace: true,
            check: true,
            read_only_mode: false,
            snap_piece: zk_core::peer::DEFAULT_SNAP_PIECE,
            server,
            wire: true,
        }
    }

    fn peer_config(&self, id: ServerId) -> PeerConfig {
        let mut server = self.server.clone();
        server.tick_time = self.tick_time;
        PeerConfig {
            id,
            quorum: QuorumVerifier::majority(self.voters.iter().copied()),
            observers: self.observers.iter().copied().collect(),
            standalone: false,
            tick_time: self.tick_time,
            init_limit: self.init_limit,
            sync_limit: self.sync_limit,
            server,
            commit_log_count: self.commit_log_count,
            sync_enabled: true,
            read_only_mode: self.read_only_mode,
            snap_piece: self.snap_piece,
            ..PeerConfig::ensemble(id, &self.voters, &self.observers, self.server.clone())
        }
    }
}

/// The two connections between a pair of servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Chan {
    Election,
    Quorum,
}

/// A message on a link.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InFlight {
    pub id: u64,
    pub from: ServerId,
    pub to: ServerId,
    pub msg: PeerMsg,
    pub sent_at: Millis,
    /// When it will arrive, if it is on its way (None: held back by a partition or a pause).
    pub deliver_at: Option<Millis>,
}

/// One direction of one channel between two servers.
#[derive(Clone, Debug, Default)]
struct Link {
    queue: VecDeque<InFlight>,
    last_scheduled: Millis,
    /// A link_down waits to be told to the receiver, before anything newer.
    down_pending: bool,
}

/// A server's simulated disk.
#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    /// The newest snapshot: a `snapshot.<zxid>` file's bytes (with its checksum), or — when
    /// `snapshot_stream` — the body a SNAP carried.
    pub snapshot: Option<(Zxid, Arc<Vec<u8>>)>,
    snapshot_stream: bool,
    /// The snapshot before it, kept with the log after it as a server keeps older snapshots
    /// (`snapRetainCount`): recovery falls back on it when the newest cannot be read.
    older_snapshot: Option<(Zxid, Arc<Vec<u8>>, bool)>,
    pub log: Vec<Arc<TxnEntry>>,
    pub accepted_epoch: u32,
    pub current_epoch: u32,
    /// `currentEpoch.tmp`: a crash came between writing the new currentEpoch aside and
    /// renaming it into place.
    current_tmp: Option<Vec<u8>>,
    queue: VecDeque<(u64, PersistOp)>,
    /// A snapshot from the leader being written aside, piece by piece.
    receiving: Option<(Zxid, Vec<u8>)>,
    busy: bool,
    /// This process's periodic snapshots (with `snap_count` set), as zkserver takes them.
    snaps: Option<snapshot::Snapshotter>,
    /// The snapshot file being written as the walk goes.
    writing: Option<Writing>,
    /// Counts the times the history was replaced (a TRUNC, a SNAP installed): a snapshot begun
    /// in an older history is not put in place.
    history: u64,
    /// The log as the bytes of ZooKeeper's transaction log files (`FileTxnLog`), named for
    /// their first zxid: what recovery reads at every start. A new file begins with every
    /// snapshot, as a server rolls its log.
    pub log_files: Vec<(Zxid, Vec<u8>)>,
    /// The next append starts a new log file.
    roll: bool,
    /// The disk has no room until then: writes that need room fail with NoSpace.
    pub full_until: Option<Millis>,
    /// The next write batch fails as a failed fsync does; this many of its ops reached the
    /// disk anyway (the kernel wrote some pages before it gave up).
    fail_sync: Option<usize>,
    /// After a failure, ops handed over are dropped until the next probe (the driver's
    /// contract, [`zk_core::peer::Peer::persist_failed`]).
    discarding: bool,
}

/// A snapshot file being written: its label, its bytes so far, its framing and the history it
/// belongs to.
#[derive(Clone, Debug)]
struct Writing {
    zxid: Zxid,
    bytes: Vec<u8>,
    framer: snapshot::FileFramer,
    history: u64,
}

/// Whether `op` needs room on the disk (a truncation frees some; a probe writes nothing).
fn needs_room(op: &PersistOp) -> bool {
    !matches!(op, PersistOp::Truncate(_) | PersistOp::Probe)
}

impl SimDisk {
    /// Appends `e`'s record to the last log file (starting one if there is none).
    fn append_bytes(&mut self, e: &TxnEntry) {
        // A record too large for the format cannot be in a log: nothing to write.
        let _ = zk_core::txnlog::encode_record(e, self.file_for(e));
    }

    /// The log file `e`'s record goes to: the last one, or a new one named for `e` when there
    /// is none or the log rolls.
    fn file_for(&mut self, e: &TxnEntry) -> &mut Vec<u8> {
        if self.log_files.is_empty() || std::mem::take(&mut self.roll) {
            // A file already named for `e` holds no record (its name is above everything
            // logged; at most a torn one, cut or not): it is replaced, as zkserver's new log
            // file replaces it.
            let name = e.zxid();
            self.log_files.retain(|(z, _)| *z != name);
            self.log_files
                .push((name, zk_core::txnlog::header().to_vec()));
        }
        let last = self.log_files.len() - 1;
        &mut self.log_files[last].1
    }

    /// The log files rewritten from the log, in one file (after a truncation or a snapshot).
    fn rebuild_bytes(&mut self) {
        self.log_files.clear();
        let log = std::mem::take(&mut self.log);
        for e in &log {
            self.append_bytes(e);
        }
        self.log = log;
    }

    /// Recovery at start, from the log's bytes, as zkserver recovers from its files
    /// ([`zk_core::txnlog::LogRecovery`]): a torn tail is cut off the bytes. Returns what the
    /// log holds after `base`, or why it cannot be read.
    fn recover_log(&mut self, base: Zxid) -> Result<Vec<TxnEntry>, String> {
        let first = self
            .log_files
            .iter()
            .rposition(|(z, _)| *z <= base)
            .unwrap_or(0);
        let n = self.log_files.len();
        let mut rec = zk_core::txnlog::LogRecovery::new(base);
        for (i, (start, bytes)) in self.log_files.iter().enumerate().skip(first) {
            rec.file(*start, bytes, i + 1 == n).map_err(|e| {
                format!(
                    "the log file named for {} cannot be read at offset {}: {}",
                    e.file, e.offset, e.what
                )
            })?;
        }
        let (entries, torn) = rec.finish();
        if let Some(t) = torn {
            if t.remove_file {
                self.log_files.retain(|(z, _)| *z != t.file);
            } else if let Some((_, f)) = self.log_files.iter_mut().find(|(z, _)| *z == t.file) {
                f.truncate(t.offset as usize);
            }
        }
        // Appends go to a new file, as a restarted server's do (zeros a torn write left at the
        // end of this one read as ZooKeeper's preallocation).
        self.roll = true;
        Ok(entries)
    }
    /// The writes handed to the disk and not yet done, in order.
    pub fn queued(&self) -> impl Iterator<Item = &PersistOp> {
        self.queue.iter().map(|(_, op)| op)
    }

    /// Carries out one write, telling the checker what a truncation removes.
    fn write(&mut self, id: ServerId, op: PersistOp, checker: &mut Checker) {
        if let PersistOp::Truncate(z) = op {
            let removed: Vec<Arc<TxnEntry>> =
                self.log.iter().filter(|e| e.zxid() > z).cloned().collect();
            if !removed.is_empty() {
                checker.truncating(id, &removed);
            }
        }
        self.apply(op);
    }

    fn apply(&mut self, op: PersistOp) {
        match op {
            PersistOp::Append(e) => {
                self.append_bytes(&e);
                self.log.push(e);
            }
            PersistOp::Truncate(z) => {
                self.history += 1;
                self.log.retain(|e| e.zxid() <= z);
                self.rebuild_bytes();
            }
            PersistOp::SnapshotPiece { zxid, first, bytes } => {
                if first {
                    self.receiving = Some((zxid, Vec::new()));
                }
                match &mut self.receiving {
                    Some((z, buf)) if *z == zxid => buf.extend_from_slice(&bytes),
                    _ => panic!("snapshot piece for {zxid} without its first piece"),
                }
            }
            PersistOp::SnapshotInstall { zxid } => match self.receiving.take() {
                Some((z, buf)) if z == zxid => {
                    self.history += 1;
                    self.snapshot = Some((zxid, Arc::new(buf)));
                    self.snapshot_stream = true;
                    self.older_snapshot = None;
                    self.log.clear();
                    self.log_files.clear();
                }
                _ => panic!("snapshot {zxid} installed but not received"),
            },
            PersistOp::AcceptedEpoch(e) => self.accepted_epoch = e,
            PersistOp::CurrentEpoch(e) => self.current_epoch = e,
            PersistOp::Probe => {}
        }
    }

    /// Hands `op` to the disk, or drops it after a failure until the next probe.
    fn enqueue(&mut self, seq: u64, op: PersistOp) {
        if op == PersistOp::Probe {
            self.discarding = false;
        } else if self.discarding {
            return;
        }
        self.queue.push_back((seq, op));
    }

    /// A write failed: nothing queued after it is done, up to the next probe.
    fn fail(&mut self) {
        self.discarding = true;
        while let Some((_, op)) = self.queue.front() {
            if *op == PersistOp::Probe {
                self.discarding = false;
                break;
            }
            self.queue.pop_front();
        }
    }

    /// A periodic snapshot file labelled `z`, complete, put in place. Snapshots are named for
    /// their zxid, so one of the same zxid replaces that file; the two of highest zxid are kept
    /// (the newest may be older than the tree a server restarted on, if it fell back), and the
    /// log files that follow the older one ([`snapshot::purge_plan`]).
    fn place_snapshot(&mut self, z: Zxid, file: Vec<u8>) {
        let mut all: Vec<(Zxid, Arc<Vec<u8>>, bool)> = Vec::new();
        if let Some((nz, d)) = self.snapshot.take() {
            all.push((nz, d, self.snapshot_stream));
        }
        all.extend(self.older_snapshot.take());
        all.retain(|(x, _, _)| *x != z);
        all.push((z, Arc::new(file), false));
        all.sort_by_key(|(x, _, _)| std::cmp::Reverse(*x));
        all.truncate(2);
        let mut it = all.into_iter();
        if let Some((nz, d, stream)) = it.next() {
            self.snapshot = Some((nz, d));
            self.snapshot_stream = stream;
        }
        self.older_snapshot = it.next();
        // zkserver's autopurge (snapRetainCount 2), by the core's plan: whole log files go,
        // those holding only what the older snapshot has. The log rolls: the next append
        // starts a new file, as zkserver's does once a snapshot is in place.
        let snaps: Vec<(Zxid, bool)> = self
            .snapshot
            .iter()
            .map(|(z, _)| (*z, true))
            .chain(self.older_snapshot.iter().map(|(z, _, _)| (*z, true)))
            .collect();
        let logs: Vec<Zxid> = self.log_files.iter().map(|(z, _)| *z).collect();
        let plan = snapshot::purge_plan(&snaps, &logs, 2);
        self.log_files.retain(|(z, _)| !plan.logs.contains(z));
        let first = self.log_files.first().map(|(z, _)| *z);
        self.log.retain(|e| first.is_some_and(|f| e.zxid() >= f));
        self.roll = true;
    }

    /// What a restarting server finds: the newest snapshot that reads back whole (chosen as
    /// zkserver chooses, [`snapshot::newest_valid`]) and the log after it. Err when there are
    /// snapshots but none can be read (a server refuses to start then; here it starts empty
    /// and the checker reports it).
    fn restore(&self, extended_types: bool) -> (Restored, Result<(), String>) {
        let opts = snapshot::LoadOptions {
            extended_types,
            ..Default::default()
        };
        let mut all: Vec<(Zxid, Arc<Vec<u8>>, bool)> = Vec::new();
        if let Some((z, d)) = &self.snapshot {
            all.push((*z, d.clone(), self.snapshot_stream));
        }
        if let Some(o) = &self.older_snapshot {
            all.push(o.clone());
        }
        let mut next = all.iter();
        let found = snapshot::newest_valid::<std::convert::Infallible>(
            all.iter().map(|(z, _, _)| *z),
            |z| {
                let Some((_, data, stream)) = next.next() else {
                    return Ok(Err("gone".into()));
                };
                let read = if *stream {
                    snapshot::deserialize(data, z, opts)
                } else {
                    snapshot::deserialize_file(data, z, opts)
                };
                Ok(read.map_err(|e| e.to_string()))
            },
        );
        let (chosen, skipped) = match found {
            Ok(x) => x,
            Err(never) => match never {},
        };
        let ok = if chosen.is_none() && !all.is_empty() {
            Err(format!("no snapshot can be read: {skipped:?}"))
        } else {
            Ok(())
        };
        let tree = chosen.map_or_else(|| DataTree::new(extended_types), |(_, t)| t);
        let base = tree.last_processed_zxid();
        // The epoch files, read as zkserver reads them.
        let last = self.log.last().map_or(base, |e| e.zxid().max(base));
        let found = zk_core::epochs::EpochFiles {
            accepted: Some(zk_core::epochs::bytes(self.accepted_epoch)),
            current: Some(zk_core::epochs::bytes(self.current_epoch)),
            current_tmp: self.current_tmp.clone(),
            updating: false,
            log_epoch: last.epoch(),
        };
        let (accepted_epoch, current_epoch, ok) = match zk_core::epochs::recover(&found) {
            Ok(e) => (e.accepted, e.current, ok),
            Err(e) => (
                self.accepted_epoch,
                self.current_epoch,
                Err(format!("the epoch files cannot be used: {e}")),
            ),
        };
        let restored = Restored {
            log: self
                .log
                .iter()
                .filter(|e| e.zxid() > base)
                .map(|e| (**e).clone())
                .collect(),
            tree,
            accepted_epoch,
            current_epoch,
        };
        (restored, ok)
    }
}

/// Up, down, or paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    Down,
    Up,
    Paused,
}

/// One simulated server: its process (if running) and its disk.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: ServerId,
    pub peer: Option<Peer>,
    pub status: Status,
    pub disk: SimDisk,
    /// Bumped at every start, so events meant for an earlier life are ignored.
    generation: u64,
    tick_at: Option<Millis>,
    /// Client connections to this server.
    conns: BTreeMap<ConnId, ClientId>,
}

/// Everything the simulator records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TraceEvent {
    Sent {
        id: u64,
        from: ServerId,
        to: ServerId,
        kind: String,
        msg: PeerMsg,
        deliver_at: Option<Millis>,
    },
    Delivered {
        id: u64,
    },
    Dropped {
        id: u64,
        why: String,
    },
    LinkDown {
        at: ServerId,
        peer: ServerId,
    },
    Peer {
        server: ServerId,
        event: PeerEvent,
    },
    Started {
        server: ServerId,
    },
    Killed {
        server: ServerId,
    },
    Paused {
        server: ServerId,
    },
    Resumed {
        server: ServerId,
    },
    Partition {
        groups: Vec<Vec<ServerId>>,
    },
    Cut {
        from: ServerId,
        to: ServerId,
    },
    Healed,
    DiskWrite {
        server: ServerId,
        ops: Vec<String>,
    },
    Client {
        client: ClientId,
        event: client::ClientEvent,
    },
    Violation(String),
}

#[derive(Clone, Debug)]
enum Ev {
    Deliver {
        from: ServerId,
        to: ServerId,
        chan: Chan,
        id: u64,
    },
    LinkDown {
        at: ServerId,
        peer: ServerId,
    },
    Tick {
        node: ServerId,
        generation: u64,
    },
    DiskDone {
        node: ServerId,
        generation: u64,
        upto: u64,
    },
    ToServer {
        client: ClientId,
        conn: ConnId,
        server: ServerId,
        generation: u64,
        msg: client::ToServer,
    },
    ToClient {
        client: ClientId,
        conn: ConnId,
        out: client::FromServer,
    },
    ClientTick {
        client: ClientId,
    },
}

/// Pending events: the heap orders small keys (time, then scheduling order); the events
/// themselves wait in a slab, so the heap never moves them around.
#[derive(Clone, Debug, Default)]
struct Agenda {
    heap: BinaryHeap<Reverse<(Millis, u64, u32)>>,
    slab: Vec<Option<Ev>>,
    free: Vec<u32>,
}

impl Agenda {
    fn push(&mut self, at: Millis, seq: u64, ev: Ev) {
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(ev);
                i
            }
            None => {
                self.slab.push(Some(ev));
                (self.slab.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((at, seq, slot)));
    }

    fn peek_time(&self) -> Option<Millis> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    fn pop(&mut self) -> Option<(Millis, Ev)> {
        let Reverse((at, _, slot)) = self.heap.pop()?;
        let ev = self.slab[slot as usize].take()?;
        self.free.push(slot);
        Some((at, ev))
    }
}

/// The simulation.
#[derive(Clone, Debug)]
pub struct Sim {
    pub cfg: SimConfig,
    pub now: Millis,
    rng: ChaCha8Rng,
    pub nodes: BTreeMap<ServerId, Node>,
    links: BTreeMap<(ServerId, ServerId, Chan), Link>,
    queue: Agenda,
    seq: u64,
    next_msg: u64,
    /// Pairs (from, to) that cannot reach each other.
    blocked: BTreeSet<(ServerId, ServerId)>,
    pub trace: Vec<(Millis, TraceEvent)>,
    pub clients: BTreeMap<ClientId, SimClient>,
    next_client: u64,
    next_conn: u64,
    pub checker: Checker,
    /// Events processed (for the speed benchmark).
    pub steps: u64,
    /// What the disk faults led to, counted (for DST's summary).
    pub disk_outcomes: BTreeMap<&'static str, u64>,
    /// With [`SimConfig::wire`]: each quorum connection's decoder, per direction (a connection
    /// starts afresh when it breaks).
    wires: BTreeMap<(ServerId, ServerId), zk_core::wire::QuorumDecoder>,
    /// Each client connection's latest delivery time, per direction (true: to the server):
    /// a connection is TCP, in order.
    conn_clock: BTreeMap<(ConnId, bool), Millis>,
}

impl Sim {
    pub fn new(cfg: SimConfig) -> Sim {
        let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut nodes = BTreeMap::new();
        for id in cfg.voters.iter().chain(cfg.observers.iter()) {
            nodes.insert(
                *id,
                Node {
                    id: *id,
                    peer: None,
                    status: Status::Down,
                    disk: SimDisk::default(),
                    generation: 0,
                    tick_at: None,
                    conns: BTreeMap::new(),
                },
            );
        }
        let checker = Checker::new(cfg.server.extended_types);
        Sim {
            cfg,
            now: 0,
            rng,
            nodes,
            links: BTreeMap::new(),
            queue: Agenda::default(),
            seq: 0,
            next_msg: 1,
            blocked: BTreeSet::new(),
            trace: Vec::new(),
            clients: BTreeMap::new(),
            next_client: 1,
            next_conn: 1,
            checker,
            steps: 0,
            disk_outcomes: BTreeMap::new(),
            wires: BTreeMap::new(),
            conn_clock: BTreeMap::new(),
        }
    }

    /// When a message sent now on client connection `conn` arrives: after a latency, and not
    /// before anything sent earlier the same way.
    fn conn_arrival(&mut self, conn: ConnId, to_server: bool) -> Millis {
        let at = self.now + self.cfg.network.draw(&mut self.rng);
        let last = self.conn_clock.entry((conn, to_server)).or_insert(0);
        *last = (*last).max(at);
        *last
    }

    fn record(&mut self, e: TraceEvent) {
        if self.cfg.trace {
            self.trace.push((self.now, e));
        }
    }

    fn schedule(&mut self, at: Millis, ev: Ev) {
        self.seq += 1;
        self.queue.push(at, self.seq, ev);
    }

    pub fn ids(&self) -> Vec<ServerId> {
        self.nodes.keys().copied().collect()
    }

    pub fn peer(&self, id: ServerId) -> Option<&Peer> {
        self.nodes.get(&id).and_then(|n| n.peer.as_ref())
    }

    pub fn peer_mut(&mut self, id: ServerId) -> Option<&mut Peer> {
        self.nodes.get_mut(&id).and_then(|n| n.peer.as_mut())
    }

    pub fn status(&self, id: ServerId) -> Status {
        self.nodes.get(&id).map_or(Status::Down, |n| n.status)
    }

    pub fn state(&self, id: ServerId) -> Option<ServerState> {
        self.peer(id)
            .filter(|_| self.status(id) != Status::Down)
            .map(|p| p.state())
    }

    /// The established leader, if exactly one running server is one.
    pub fn leader(&self) -> Option<ServerId> {
        let leaders: Vec<ServerId> = self
            .nodes
            .values()
            .filter(|n| n.status == Status::Up)
            .filter_map(|n| n.peer.as_ref())
            .filter(|p| p.is_established_leader())
            .map(|p| p.id())
            .collect();
        if leaders.len() == 1 {
            Some(leaders[0])
        } else {
            None
        }
    }

    // ---- setting the stage ---------------------------------------------------------------

    /// Gives a server that is down a disk holding the first `upto` transactions of `history`,
    /// with both epochs at `epoch`: how scenarios start from "server 1 has zxid 123".
    pub fn preset_disk(&mut self, id: ServerId, history: &[TxnEntry], upto: usize, epoch: u32) {
        if let Some(n) = self.nodes.get_mut(&id) {
            let log: Vec<Arc<TxnEntry>> = history[..upto.min(history.len())]
                .iter()
                .cloned()
                .map(Arc::new)
                .collect();
            self.checker.preset(&log);
            n.disk = SimDisk {
                log,
                accepted_epoch: epoch,
                current_epoch: epoch,
                ..SimDisk::default()
            };
            n.disk.rebuild_bytes();
        }
    }

    /// Test only: the leader `id`'s next proposal takes zxid counter `counter + 1`, so that a
    /// test reaches the end of the counter quickly (see `Peer::jump_zxid_counter`).
    pub fn jump_zxid_counter(&mut self, id: ServerId, counter: u32) {
        let Some(p) = self.nodes.get_mut(&id).and_then(|n| n.peer.as_mut()) else {
            return;
        };
        let Some(before) = p.last_proposed() else {
            return;
        };
        p.jump_zxid_counter(counter);
        if let Some(after) = p.last_proposed().filter(|a| *a != before) {
            self.checker.jumped(after.next());
        }
    }

    // ---- processes -----------------------------------------------------------------------

    /// Starts a server, fresh or from what its disk kept.
    pub fn start(&mut self, id: ServerId) {
        let extended = self.cfg.server.extended_types;
        // One draw per start, as when peers took a seed: recorded scripts (the playground's
        // addresses, the tutorials) replay as they were recorded.
        let _: u64 = self.rng.gen();
        let pcfg = self.cfg.peer_config(id);
        let now = self.now;
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if node.status != Status::Down {
            return;
        }
        let (restored, readable) = node.disk.restore(extended);
        let base = restored.tree.last_processed_zxid();
        // What recovery decided is written back; the temporary file goes.
        node.disk.accepted_epoch = restored.accepted_epoch;
        node.disk.current_epoch = restored.current_epoch;
        node.disk.current_tmp = None;
        if let Err(why) = readable {
            let v = check::violation(check::Invariant::Recoverable, format!("server {id}: {why}"));
            self.checker.violations.push(v);
        }
        // Recovery from the log's bytes must give back exactly what the disk completed.
        self.checker.eval(check::Invariant::Recoverable);
        let from_bytes = node.disk.recover_log(base);
        let same = match &from_bytes {
            Ok(log) => {
                log.len() == restored.log.len()
                    && log.iter().zip(&restored.log).all(|(a, b)| a == b)
            }
            Err(_) => false,
        };
        if !same {
            let got = match from_bytes {
                Ok(log) => format!(
                    "{} transactions to {}",
                    log.len(),
                    log.last().map_or(base, TxnEntry::zxid)
                ),
                Err(e) => e,
            };
            let v = check::violation(
                check::Invariant::Recoverable,
                format!(
                    "server {id}'s log recovers from its bytes as {got}, but its disk completed {} transactions to {}",
                    restored.log.len(),
                    restored.log.last().map_or(base, TxnEntry::zxid)
                ),
            );
            self.record(TraceEvent::Violation(v.clone()));
            self.checker.violations.push(v);
        }
        // A new process has no connections: nothing queued for or from its previous life
        // reaches it.
        for (&(a, b, _), link) in self.links.iter_mut() {
            if a == id || b == id {
                link.queue.clear();
            }
        }
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        node.disk.queue.clear();
        node.disk.busy = false;
        node.generation += 1;
        node.status = Status::Up;
        let mut peer = Peer::new(pcfg, restored, now);
        peer.trace = true;
        node.peer = Some(peer);
        node.tick_at = None;
        self.record(TraceEvent::Started { server: id });
        self.checker.restarted(id, base);
        self.pump(id);
    }

    /// kill -9: the process is gone; its disk keeps what it completed.
    pub fn kill(&mut self, id: ServerId) {
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if node.status == Status::Down {
            return;
        }
        node.status = Status::Down;
        node.peer = None;
        node.disk.queue.clear();
        node.disk.busy = false;
        node.disk.discarding = false;
        node.disk.fail_sync = None;
        // A new process: a new snapshot schedule, and the file being written is left behind.
        node.disk.snaps = None;
        node.disk.writing = None;
        node.tick_at = None;
        node.generation += 1;
        let conns: Vec<(ConnId, ClientId)> = std::mem::take(&mut node.conns).into_iter().collect();
        self.record(TraceEvent::Killed { server: id });
        // Every connection of the dead process breaks.
        for other in self.ids() {
            if other != id {
                self.break_link(id, other, false);
            }
        }
        for (conn, client) in conns {
            let at = self.conn_arrival(conn, false);
            self.schedule(
                at,
                Ev::ToClient {
                    client,
                    conn,
                    out: client::FromServer::Closed("server died".into()),
                },
            );
        }
        self.checker.killed(id);
    }

    /// kill -9 in the middle of a group commit: the disk has done the writes queued to it, in
    /// order, up to and including the first one `last` picks, and none after. Returns false (and
    /// kills no one) if no queued write is picked.
    pub fn kill_after_write(&mut self, id: ServerId, last: impl Fn(&PersistOp) -> bool) -> bool {
        let Some(n) = self.nodes.get_mut(&id) else {
            return false;
        };
        let Some(upto) = n.disk.queue.iter().position(|(_, op)| last(op)) else {
            return false;
        };
        for (_, op) in n.disk.queue.drain(..=upto).collect::<Vec<_>>() {
            n.disk.write(id, op, &mut self.checker);
        }
        self.kill(id);
        true
    }

    /// A bit of the newest snapshot file flips (`at` picks which; not in its last 64 bytes,
    /// the checksum and digest trailer): the next start must fall back on the older snapshot.
    /// Returns false when there is no readable older snapshot to fall back on, or the newest
    /// is not a file.
    pub fn flip_snapshot_bit(&mut self, id: ServerId, at: u64) -> bool {
        let Some(n) = self.nodes.get_mut(&id) else {
            return false;
        };
        let d = &mut n.disk;
        // Only with a readable older snapshot to fall back on (two damaged snapshots stop a
        // server, here as in ZooKeeper).
        let opts = snapshot::LoadOptions {
            extended_types: self.cfg.server.extended_types,
            ..Default::default()
        };
        let older_ok = d.older_snapshot.as_ref().is_some_and(|(z, data, stream)| {
            if *stream {
                snapshot::deserialize(data, *z, opts).is_ok()
            } else {
                snapshot::deserialize_file(data, *z, opts).is_ok()
            }
        });
        if d.snapshot_stream || !older_ok {
            return false;
        }
        let Some((_, data)) = d.snapshot.as_mut() else {
            return false;
        };
        let span = data.len().saturating_sub(64) as u64 * 8;
        if span == 0 {
            return false;
        }
        let bit = at % span;
        Arc::make_mut(data)[(bit / 8) as usize] ^= 1 << (bit % 8);
        true
    }

    /// kill -9 while a group commit's appends are being written: the first `whole` of the
    /// appends at the head of the queue reach the disk, then `per_mille`‰ of the next one's
    /// bytes (a torn tail: never synced, so never acknowledged); nothing after. Returns false
    /// (and kills no one) if no append heads the queue.
    pub fn kill_torn(&mut self, id: ServerId, whole: usize, per_mille: u32) -> bool {
        let Some(n) = self.nodes.get_mut(&id) else {
            return false;
        };
        let appends = n
            .disk
            .queue
            .iter()
            .take_while(|(_, op)| matches!(op, PersistOp::Append(_)))
            .count();
        if appends == 0 {
            return false;
        }
        let whole = whole % appends;
        for (_, op) in n.disk.queue.drain(..whole).collect::<Vec<_>>() {
            n.disk.write(id, op, &mut self.checker);
        }
        if let Some((_, PersistOp::Append(e))) = n.disk.queue.front() {
            let e = e.clone();
            let mut record = Vec::new();
            if zk_core::txnlog::encode_record(&e, &mut record).is_some() {
                let cut = (record.len() * per_mille.min(999) as usize / 1000).max(1);
                n.disk.file_for(&e).extend_from_slice(&record[..cut]);
            }
        }
        self.kill(id);
        true
    }

    /// kill -9 in the middle of a group commit: the disk has done the first `n` of the writes
    /// queued to it, and none after. Returns how many it did (the queue may be shorter).
    pub fn kill_after_writes(&mut self, id: ServerId, n: usize) -> usize {
        let Some(node) = self.nodes.get_mut(&id) else {
            return 0;
        };
        let n = n.min(node.disk.queue.len());
        for (_, op) in node.disk.queue.drain(..n).collect::<Vec<_>>() {
            node.disk.write(id, op, &mut self.checker);
        }
        // Cut off while writing a currentEpoch: the new value is in the temporary file, not
        // yet renamed into place.
        if let Some((_, PersistOp::CurrentEpoch(e))) = node.disk.queue.front() {
            node.disk.current_tmp = Some(zk_core::epochs::bytes(*e));
            *self
                .disk_outcomes
                .entry("crash mid currentEpoch write")
                .or_default() += 1;
        }
        self.kill(id);
        n
    }

    /// The disk of `id` has no room for `ms` ms: its writes fail with NoSpace until then (the
    /// server refuses writes and leaves the quorum; its probes find room afterwards).
    pub fn fill_disk(&mut self, id: ServerId, ms: Millis) {
        let until = self.now + ms;
        if let Some(n) = self.nodes.get_mut(&id) {
            n.disk.full_until = Some(until);
        }
    }

    /// The next write batch of `id` fails as a failed fsync does, with the first `reach` of its
    /// ops on the disk all the same: the server must halt, acknowledging none of them.
    pub fn fail_next_fsync(&mut self, id: ServerId, reach: usize) {
        if let Some(n) = self.nodes.get_mut(&id) {
            n.disk.fail_sync = Some(reach);
        }
    }

    /// Every disk has room and syncs again (no fault pending).
    pub fn heal_disks(&mut self) {
        for n in self.nodes.values_mut() {
            n.disk.full_until = None;
            n.disk.fail_sync = None;
        }
    }

    /// kill, then start: the server comes back from its disk.
    pub fn restart(&mut self, id: ServerId) {
        self.kill(id);
        self.start(id);
    }

    /// A long pause (GC): the process handles nothing until resumed.
    pub fn pause(&mut self, id: ServerId) {
        if let Some(n) = self.nodes.get_mut(&id) {
            if n.status == Status::Up {
                n.status = Status::Paused;
                self.record(TraceEvent::Paused { server: id });
            }
        }
    }

    pub fn resume(&mut self, id: ServerId) {
        let Some(n) = self.nodes.get_mut(&id) else {
            return;
        };
        if n.status != Status::Paused {
            return;
        }
        n.status = Status::Up;
        self.record(TraceEvent::Resumed { server: id });
        // What arrived meanwhile is delivered now, in order; timers fire.
        for other in self.ids() {
            for chan in [Chan::Election, Chan::Quorum] {
                self.reschedule(other, id, chan);
            }
        }
        let now = self.now;
        if let Some(p) = self.peer_mut(id) {
            p.tick(now);
        }
        self.flush_disk(id);
        self.pump(id);
    }

    // ---- network -------------------------------------------------------------------------

    /// Splits the servers into groups that cannot reach each other (servers not named are on
    /// their own).
    pub fn partition(&mut self, groups: Vec<Vec<ServerId>>) {
        self.blocked.clear();
        let ids = self.ids();
        let group_of = |id: &ServerId| groups.iter().position(|g| g.contains(id));
        for a in &ids {
            for b in &ids {
                if a != b && (group_of(a).is_none() || group_of(a) != group_of(b)) {
                    self.blocked.insert((*a, *b));
                }
            }
        }
        self.record(TraceEvent::Partition { groups });
    }

    /// One-way: `from` can no longer reach `to`.
    pub fn cut(&mut self, from: ServerId, to: ServerId) {
        self.blocked.insert((from, to));
        self.record(TraceEvent::Cut { from, to });
    }

    /// Every server can reach every other again; held messages move on.
    pub fn heal(&mut self) {
        self.blocked.clear();
        self.record(TraceEvent::Healed);
        for a in self.ids() {
            for b in self.ids() {
                if a != b {
                    for chan in [Chan::Election, Chan::Quorum] {
                        self.reschedule(a, b, chan);
                    }
                }
            }
        }
    }

    pub fn reachable(&self, from: ServerId, to: ServerId) -> bool {
        !self.blocked.contains(&(from, to))
    }

    /// Messages on their way (or held back), oldest first.
    pub fn in_flight(&self) -> Vec<&InFlight> {
        let mut v: Vec<&InFlight> = self.links.values().flat_map(|l| l.queue.iter()).collect();
        v.sort_by_key(|m| m.id);
        v
    }

    /// Drops a message in flight. A quorum message cannot vanish from a TCP stream alone: its
    /// connection breaks with it.
    pub fn drop_message(&mut self, id: u64) -> bool {
        let found = self
            .links
            .iter()
            .find(|(_, l)| l.queue.iter().any(|m| m.id == id))
            .map(|(k, _)| *k);
        let Some((from, to, chan)) = found else {
            return false;
        };
        match chan {
            Chan::Election => {
                if let Some(l) = self.links.get_mut(&(from, to, chan)) {
                    l.queue.retain(|m| m.id != id);
                }
                self.record(TraceEvent::Dropped {
                    id,
                    why: "dropped by hand".into(),
                });
            }
            Chan::Quorum => {
                self.record(TraceEvent::Dropped {
                    id,
                    why: "dropped by hand: the quorum connection breaks".into(),
                });
                self.break_link(from, to, true);
            }
        }
        true
    }

    fn send(&mut self, from: ServerId, to: ServerId, msg: PeerMsg) {
        if !self.cfg.wire {
            return self.send_one(from, to, msg);
        }
        for m in self.through_wire(from, to, msg) {
            self.send_one(from, to, m);
        }
    }

    /// A message as its receiver reads it off the wire: encoded as zkserver encodes it, and
    /// decoded by the connection's decoder (which, for a SNAP's snapshot, may hand it on in
    /// other pieces). A message the codec cannot carry is a violation.
    fn through_wire(&mut self, from: ServerId, to: ServerId, msg: PeerMsg) -> Vec<PeerMsg> {
        use zk_core::wire;
        match msg {
            PeerMsg::Election(n) => {
                let config = self
                    .nodes
                    .get(&from)
                    .and_then(|x| x.peer.as_ref())
                    .map(|p| p.cfg().config_text.clone())
                    .unwrap_or_default();
                self.checker.eval(check::Invariant::MessageLegal);
                let body = wire::encode_notification(&n, &config);
                match wire::decode_notification(&body, from) {
                    Ok(r) if r.notification == n => vec![PeerMsg::Election(r.notification)],
                    Ok(r) => {
                        self.wire_violation(
                            from,
                            to,
                            format!("{n:?} reads back as {:?}", r.notification),
                        );
                        Vec::new()
                    }
                    Err(e) => {
                        self.wire_violation(from, to, format!("{n:?} does not read back: {e}"));
                        Vec::new()
                    }
                }
            }
            PeerMsg::Quorum(p) => {
                // Which end of the connection the sender is: its role says, and FOLLOWERINFO
                // or OBSERVERINFO opens a new connection.
                if matches!(
                    p,
                    QuorumPacket::FollowerInfo(_) | QuorumPacket::ObserverInfo(_)
                ) {
                    self.wires.remove(&(from, to));
                    self.wires.remove(&(to, from));
                }
                let role = self
                    .nodes
                    .get(&from)
                    .and_then(|x| x.peer.as_ref())
                    .map(|p| p.state());
                let dir = match role {
                    Some(ServerState::Leading) => wire::From::Leader,
                    Some(ServerState::Following | ServerState::Observing) => wire::From::Learner,
                    _ => match self.wires.get(&(from, to)) {
                        Some(d) => d.from(),
                        None => wire::From::Learner,
                    },
                };
                self.checker.eval(check::Invariant::MessageLegal);
                let mut bytes = Vec::new();
                wire::encode_packet(&p, &mut bytes);
                let d = self
                    .wires
                    .entry((from, to))
                    .or_insert_with(|| wire::QuorumDecoder::new(dir, wire::DEFAULT_JUTE_MAXBUFFER));
                if d.from() != dir {
                    *d = wire::QuorumDecoder::new(dir, wire::DEFAULT_JUTE_MAXBUFFER);
                }
                let mut out = Vec::new();
                if let Err(e) = d.feed(&bytes, &mut out) {
                    self.wires.remove(&(from, to));
                    self.wire_violation(from, to, format!("{} does not read back: {e}", p.kind()));
                    return Vec::new();
                }
                // A snapshot may come out in other pieces; anything else exactly as sent.
                if !matches!(p, QuorumPacket::SnapPiece { .. }) && out.as_slice() != [p.clone()] {
                    self.wire_violation(from, to, format!("{p:?} reads back as {out:?}"));
                    return Vec::new();
                }
                out.into_iter().map(PeerMsg::Quorum).collect()
            }
        }
    }

    fn wire_violation(&mut self, from: ServerId, to: ServerId, what: String) {
        let v = check::violation(
            check::Invariant::MessageLegal,
            format!("server {from} to {to}: {what}"),
        );
        self.checker.violations.push(v.clone());
        self.record(TraceEvent::Violation(v));
    }

    fn send_one(&mut self, from: ServerId, to: ServerId, msg: PeerMsg) {
        let chan = match msg {
            PeerMsg::Election(_) => Chan::Election,
            PeerMsg::Quorum(_) => Chan::Quorum,
        };
        let id = self.next_msg;
        self.next_msg += 1;
        let kind = if self.cfg.trace {
            msg.kind().to_string()
        } else {
            String::new()
        };
        let receiver_down = self.status(to) == Status::Down;
        // The receiver closed this connection and the sender has not heard yet: what it writes
        // meanwhile never reaches the receiver (TCP answers with a reset).
        let closed = chan == Chan::Quorum
            && self
                .links
                .get(&(to, from, Chan::Quorum))
                .is_some_and(|l| l.down_pending);
        let dropped = if closed {
            Some("the receiver closed the connection")
        } else if receiver_down {
            if chan == Chan::Quorum {
                // Nobody listens there: the connection is refused and the sender hears so.
                self.notify_link_down(to, from);
            }
            Some("receiver is down")
        } else if chan == Chan::Election && !self.reachable(from, to) {
            Some("partitioned")
        } else {
            None
        };
        if let Some(why) = dropped {
            if self.cfg.trace {
                self.record(TraceEvent::Sent {
                    id,
                    from,
                    to,
                    kind,
                    msg,
                    deliver_at: None,
                });
                self.record(TraceEvent::Dropped {
                    id,
                    why: why.into(),
                });
            }
            return;
        }
        let trace_msg = if self.cfg.trace {
            Some(msg.clone())
        } else {
            None
        };
        let link = self.links.entry((from, to, chan)).or_default();
        link.queue.push_back(InFlight {
            id,
            from,
            to,
            msg,
            sent_at: self.now,
            deliver_at: None,
        });
        self.reschedule(from, to, chan);
        if let Some(msg) = trace_msg {
            let deliver_at = self
                .links
                .get(&(from, to, chan))
                .and_then(|l| l.queue.back())
                .and_then(|m| m.deliver_at);
            self.record(TraceEvent::Sent {
                id,
                from,
                to,
                kind,
                msg,
                deliver_at,
            });
        }
    }

    /// Schedules delivery of everything held on a link that can move now.
    fn reschedule(&mut self, from: ServerId, to: ServerId, chan: Chan) {
        if !self.reachable(from, to) {
            return;
        }
        let receiver_up = self.status(to) == Status::Up;
        if !receiver_up {
            return;
        }
        let now = self.now;
        let Some(link) = self.links.get_mut(&(from, to, chan)) else {
            return;
        };
        let mut to_schedule = Vec::new();
        for m in link.queue.iter_mut() {
            if m.deliver_at.is_none() {
                let lat = self.cfg.network.draw(&mut self.rng);
                let at = (now + lat).max(link.last_scheduled);
                link.last_scheduled = at;
                m.deliver_at = Some(at);
                to_schedule.push((at, m.id));
            }
        }
        for (at, id) in to_schedule {
            self.schedule(at, Ev::Deliver { from, to, chan, id });
        }
    }

    /// The connection (both directions) between `a` and `b` breaks: in-flight messages are lost
    /// and each end hears link_down when it can.
    fn break_link(&mut self, a: ServerId, b: ServerId, notify_a: bool) {
        self.wires.remove(&(a, b));
        self.wires.remove(&(b, a));
        for (x, y) in [(a, b), (b, a)] {
            if let Some(l) = self.links.get_mut(&(x, y, Chan::Quorum)) {
                let lost: Vec<u64> = l.queue.drain(..).map(|m| m.id).collect();
                for id in lost {
                    self.record(TraceEvent::Dropped {
                        id,
                        why: "connection broke".into(),
                    });
                }
            }
        }
        let had_quorum_link = true;
        if had_quorum_link {
            if notify_a {
                self.notify_link_down(b, a);
            }
            self.notify_link_down(a, b);
        }
    }

    /// Tells `at` that its quorum connection to `peer` is gone: after a latency if it can hear,
    /// else when the partition heals, before anything newer on that link.
    fn notify_link_down(&mut self, peer: ServerId, at: ServerId) {
        if self.status(at) == Status::Down {
            return;
        }
        let link = self.links.entry((peer, at, Chan::Quorum)).or_default();
        link.down_pending = true;
        let lat = self.cfg.network.draw(&mut self.rng);
        let when = (self.now + lat).max(link.last_scheduled);
        link.last_scheduled = when;
        self.schedule(when, Ev::LinkDown { at, peer });
    }

    // ---- clients -------------------------------------------------------------------------

    /// A new client with the given servers to try, connecting to the first reachable one.
    pub fn add_client(&mut self, servers: Vec<ServerId>, timeout: i32) -> ClientId {
        let id = ClientId(self.next_client);
        self.next_client += 1;
        let c = SimClient::new(id, servers, timeout, false);
        self.clients.insert(id, c);
        self.client_connect(id);
        id
    }

    /// A client that accepts a read-only session (`canBeReadOnly`), as kazoo's `read_only=True`.
    pub fn add_read_only_client(&mut self, servers: Vec<ServerId>, timeout: i32) -> ClientId {
        let id = ClientId(self.next_client);
        self.next_client += 1;
        let c = SimClient::new(id, servers, timeout, true);
        self.clients.insert(id, c);
        self.client_connect(id);
        id
    }

    pub fn client(&self, id: ClientId) -> Option<&SimClient> {
        self.clients.get(&id)
    }

    pub fn client_mut(&mut self, id: ClientId) -> Option<&mut SimClient> {
        self.clients.get_mut(&id)
    }

    /// Sends a request from a client (queued until it is connected). Returns its xid.
    pub fn client_request(&mut self, id: ClientId, req: Request) -> i32 {
        let now = self.now;
        let Some(c) = self.clients.get_mut(&id) else {
            return 0;
        };
        let xid = c.enqueue(req, now);
        self.client_flush(id);
        xid
    }

    /// Moves a client to `server` (or lets it pick), as zkCli's `connect` does.
    pub fn client_move(&mut self, id: ClientId, server: Option<ServerId>) {
        let now = self.now;
        let old = self.clients.get_mut(&id).and_then(|c| {
            if let Some(s) = server {
                c.servers.retain(|x| *x != s);
                c.servers.insert(0, s);
            }
            c.drop_connection(now, "moved by the user")
        });
        if let Some((srv, conn)) = old {
            self.server_disconnect(srv, conn);
        }
        self.client_connect(id);
    }

    /// Closes a client's session (closeSession) — or just drops it when `abandon`.
    pub fn client_close(&mut self, id: ClientId, abandon: bool) {
        let now = self.now;
        if abandon {
            let old = self.clients.get_mut(&id).and_then(|c| c.abandon(now));
            if let Some((srv, conn)) = old {
                self.server_disconnect(srv, conn);
            }
        } else {
            self.client_request(id, Request::CloseSession);
        }
    }

    fn server_disconnect(&mut self, server: ServerId, conn: ConnId) {
        let generation = self.nodes.get(&server).map_or(0, |n| n.generation);
        let at = self.conn_arrival(conn, true);
        self.schedule(
            at,
            Ev::ToServer {
                client: ClientId(0),
                conn,
                server,
                generation,
                msg: client::ToServer::Disconnect,
            },
        );
    }

    fn client_connect(&mut self, id: ClientId) {
        let now = self.now;
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let Some((server, req)) = c.start_connect(conn, now) else {
            return;
        };
        let generation = self.nodes.get(&server).map_or(0, |n| n.generation);
        if self.status(server) == Status::Down {
            let at = self.conn_arrival(conn, false);
            self.schedule(
                at,
                Ev::ToClient {
                    client: id,
                    conn,
                    out: client::FromServer::Closed("connection refused".into()),
                },
            );
            return;
        }
        let at = self.conn_arrival(conn, true);
        self.schedule(
            at,
            Ev::ToServer {
                client: id,
                conn,
                server,
                generation,
                msg: client::ToServer::Connect(req),
            },
        );
        let tick = now + 1;
        self.schedule(tick, Ev::ClientTick { client: id });
    }

    fn client_flush(&mut self, id: ClientId) {
        let now = self.now;
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let Some((server, conn)) = c.connection() else {
            return;
        };
        let msgs = c.take_sendable(now);
        let generation = self.nodes.get(&server).map_or(0, |n| n.generation);
        for (xid, req) in msgs {
            let at = self.conn_arrival(conn, true);
            self.schedule(
                at,
                Ev::ToServer {
                    client: id,
                    conn,
                    server,
                    generation,
                    msg: client::ToServer::Request(xid, req),
                },
            );
        }
    }

    // ---- the loop ------------------------------------------------------------------------

    /// Carries out a peer's outputs.
    fn pump(&mut self, id: ServerId) {
        loop {
            let Some(node) = self.nodes.get_mut(&id) else {
                return;
            };
            if node.status != Status::Up {
                return;
            }
            let Some(peer) = node.peer.as_mut() else {
                return;
            };
            let outs = peer.drain_outputs();
            let events = peer.take_events();
            let deadline = peer.next_deadline();
            let generation = node.generation;
            // One timer event per server: schedule only when the deadline comes earlier than
            // the pending one (a later deadline is picked up when the pending one fires).
            let earlier = match (deadline, node.tick_at) {
                (Some(d), Some(t)) => d < t || t < self.now,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if earlier {
                node.tick_at = deadline;
                if let Some(d) = deadline {
                    self.schedule(
                        d.max(self.now),
                        Ev::Tick {
                            node: id,
                            generation,
                        },
                    );
                }
            }
            // What the peer handed to its disk in this batch is queued first: the checks on
            // its events count writes handed over (a server stepping down as its zxid counter
            // runs out proposes and votes in one batch).
            let mut disk_ops = false;
            let mut rest = Vec::with_capacity(outs.len());
            for o in outs {
                match o {
                    Output::Persist { seq, op } => {
                        if let Some(n) = self.nodes.get_mut(&id) {
                            n.disk.enqueue(seq, op);
                            disk_ops = true;
                        }
                    }
                    o => rest.push(o),
                }
            }
            let replaced = events.iter().any(|(_, e)| e.replaces_history_or_role());
            self.snapshot_step(id, replaced);
            for (_, e) in events {
                if e == PeerEvent::Notice(zk_core::peer::Notice::DiskSpaceBack) {
                    *self
                        .disk_outcomes
                        .entry("room again: writes resume")
                        .or_default() += 1;
                }
                let before = self.checker.violations.len();
                self.checker.peer_event(id, &e, &self.nodes, self.now);
                self.record(TraceEvent::Peer {
                    server: id,
                    event: e,
                });
                if self.checker.violations.len() > before {
                    let v = self.checker.violations[before].clone();
                    self.record(TraceEvent::Violation(v));
                }
            }
            if rest.is_empty() && !disk_ops {
                return;
            }
            let mut halted = false;
            for o in rest {
                match o {
                    Output::Send { to, msg } => self.send(id, to, msg),
                    Output::Persist { .. } => {}
                    Output::Client(c) => self.client_output(id, c),
                    Output::Disconnect { peer } => self.break_link(id, peer, true),
                    // The process exits (zkserver does); it is started again like a killed one.
                    Output::Halt { .. } => halted = true,
                }
            }
            if halted {
                *self
                    .disk_outcomes
                    .entry("halted: failed fsync")
                    .or_default() += 1;
                self.kill(id);
                return;
            }
            if disk_ops {
                self.flush_disk(id);
            }
        }
    }

    /// One step of `id`'s periodic snapshot, as zkserver's peer loop takes it (the core's
    /// [`snapshot::Snapshotter`]): a fuzzy walk of the live tree a budget at a time, the file's
    /// bytes gathering as it goes; at its end the file is put in place unless the history was
    /// replaced meanwhile. A change of role or history drops the one under way.
    fn snapshot_step(&mut self, id: ServerId, replaced: bool) {
        let now = self.now;
        let Some((due, busy)) = self
            .nodes
            .get(&id)
            .and_then(|n| n.disk.snaps.as_ref())
            .map(|s| (s.due(), s.under_way()))
        else {
            return;
        };
        if !due && !busy {
            return;
        }
        // Drawn only when a snapshot begins: a run without snapshots draws nothing here.
        let draw = if due { self.rng.gen() } else { 0 };
        let Some(Node { disk, peer, .. }) = self.nodes.get_mut(&id) else {
            return;
        };
        let (Some(snaps), Some(peer)) = (disk.snaps.as_mut(), peer.as_ref()) else {
            return;
        };
        if replaced && snaps.abort().is_some() {
            disk.writing = None;
        }
        let full = disk.full_until.is_some_and(|u| now < u);
        let tree = &peer.server().tree;
        for step in snaps.step(tree, full, draw) {
            match step {
                snapshot::SnapStep::Begin { zxid, bytes } => {
                    let mut file = Vec::with_capacity(bytes.len() + 64);
                    let mut framer = snapshot::FileFramer::start(&mut file);
                    framer.body(&bytes);
                    file.extend_from_slice(&bytes);
                    disk.writing = Some(Writing {
                        zxid,
                        bytes: file,
                        framer,
                        history: disk.history,
                    });
                }
                snapshot::SnapStep::Piece(bytes) => {
                    if let Some(w) = disk.writing.as_mut() {
                        w.framer.body(&bytes);
                        w.bytes.extend_from_slice(&bytes);
                    }
                }
                snapshot::SnapStep::End { digest } => {
                    if let Some(mut w) = disk.writing.take() {
                        // No room for the file: dropped, as zkserver drops one it cannot
                        // write.
                        if w.history == disk.history && !full {
                            w.framer.finish(digest, tree.digest_enabled(), &mut w.bytes);
                            let moved = tree.last_processed_zxid() > w.zxid;
                            disk.place_snapshot(w.zxid, w.bytes);
                            *self
                                .disk_outcomes
                                .entry(if moved {
                                    "snapshot placed, fuzzy"
                                } else {
                                    "snapshot placed, still"
                                })
                                .or_default() += 1;
                        }
                    }
                }
                snapshot::SnapStep::Abort => disk.writing = None,
            }
        }
    }

    /// Starts a disk write of everything queued, if the disk is idle.
    fn flush_disk(&mut self, id: ServerId) {
        let lat = self.cfg.disk.draw(&mut self.rng);
        let now = self.now;
        let trace = self.cfg.trace;
        let Some(node) = self.nodes.get_mut(&id) else {
            return;
        };
        if node.disk.busy || node.disk.queue.is_empty() || node.status == Status::Down {
            return;
        }
        let upto = node.disk.queue.back().map(|(s, _)| *s).unwrap_or(0);
        node.disk.busy = true;
        let generation = node.generation;
        let ops: Vec<String> = if trace {
            node.disk
                .queue
                .iter()
                .map(|(_, op)| persist_label(op))
                .collect()
        } else {
            Vec::new()
        };
        self.schedule(
            now + lat,
            Ev::DiskDone {
                node: id,
                generation,
                upto,
            },
        );
        if trace {
            self.record(TraceEvent::DiskWrite { server: id, ops });
        }
    }

    fn client_output(&mut self, server: ServerId, o: ClientOutput) {
        let conn = o.conn();
        let Some(client) = self
            .nodes
            .get(&server)
            .and_then(|n| n.conns.get(&conn))
            .copied()
        else {
            return;
        };
        if let ClientOutput::Close { .. } = o {
            if let Some(n) = self.nodes.get_mut(&server) {
                n.conns.remove(&conn);
            }
        }
        let at = self.conn_arrival(conn, false);
        self.schedule(
            at,
            Ev::ToClient {
                client,
                conn,
                out: client::FromServer::Output(o),
            },
        );
    }

    /// The time of the next event, if any.
    pub fn next_event_time(&self) -> Option<Millis> {
        self.queue.peek_time()
    }

    /// Processes one event. False when nothing is left to do.
    pub fn step(&mut self) -> bool {
        let Some((at, ev)) = self.queue.pop() else {
            return false;
        };
        self.now = self.now.max(at);
        self.steps += 1;
        self.handle(ev);
        if self.cfg.check {
            if let Err(v) = self.checker.check_step(&self.nodes) {
                self.record(TraceEvent::Violation(v.clone()));
                self.checker.violations.push(v);
            }
        }
        true
    }

    /// Runs until virtual time `t` (events at `t` included).
    pub fn run_until(&mut self, t: Millis) {
        while let Some(next) = self.next_event_time() {
            if next > t {
                break;
            }
            self.step();
        }
        self.now = self.now.max(t);
    }

    pub fn run_for(&mut self, d: Millis) {
        let t = self.now + d;
        self.run_until(t);
    }

    /// Runs until `pred` holds or `limit` ms pass; true if it held.
    pub fn run_until_pred(&mut self, limit: Millis, mut pred: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            if pred(self) {
                return true;
            }
            match self.next_event_time() {
                Some(t) if t <= end => {
                    self.step();
                }
                _ => {
                    self.now = end;
                    return pred(self);
                }
            }
        }
    }

    fn handle(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::Deliver { from, to, chan, id } => {
                let status = self.status(to);
                let reachable = self.reachable(from, to);
                let Some(link) = self.links.get_mut(&(from, to, chan)) else {
                    return;
                };
                let Some(front) = link.queue.front() else {
                    return;
                };
                if front.id != id {
                    return; // lost with a broken connection
                }
                if !reachable || status == Status::Paused {
                    // Held back until the partition heals or the process resumes.
                    for m in link.queue.iter_mut() {
                        m.deliver_at = None;
                    }
                    link.last_scheduled = now;
                    return;
                }
                let Some(m) = link.queue.pop_front() else {
                    return;
                };
                if status == Status::Down {
                    self.record(TraceEvent::Dropped {
                        id,
                        why: "receiver is down".into(),
                    });
                    return;
                }
                self.record(TraceEvent::Delivered { id });
                let before = self.checker.violations.len();
                self.checker.deliver(from, to, &m.msg, &self.nodes);
                if self.checker.violations.len() > before {
                    let v = self.checker.violations[before].clone();
                    self.record(TraceEvent::Violation(v));
                }
                if let Some(p) = self.peer_mut(to) {
                    p.message(from, m.msg, now);
                }
                self.pump(to);
            }
            Ev::LinkDown { at, peer } => {
                if self.status(at) == Status::Paused {
                    let when = now + 1;
                    self.schedule(when, Ev::LinkDown { at, peer });
                    return;
                }
                if let Some(l) = self.links.get_mut(&(peer, at, Chan::Quorum)) {
                    l.down_pending = false;
                }
                self.record(TraceEvent::LinkDown { at, peer });
                if let Some(p) = self.peer_mut(at) {
                    p.link_down(peer, now);
                }
                self.pump(at);
            }
            Ev::Tick { node, generation } => {
                let Some(n) = self.nodes.get_mut(&node) else {
                    return;
                };
                if n.generation != generation || n.status != Status::Up {
                    return;
                }
                if n.tick_at.is_some_and(|t| t > now) {
                    return; // an earlier timer replaced this one
                }
                n.tick_at = None;
                if let Some(p) = n.peer.as_mut() {
                    p.tick(now);
                }
                self.pump(node);
            }
            Ev::DiskDone {
                node,
                generation,
                upto,
            } => {
                let snap_count = self.cfg.snap_count;
                let Some(n) = self.nodes.get_mut(&node) else {
                    return;
                };
                if n.generation != generation {
                    return;
                }
                if n.status == Status::Paused {
                    // The write finished, but the process hears of it when it runs again.
                    let when = now + 1;
                    self.schedule(
                        when,
                        Ev::DiskDone {
                            node,
                            generation,
                            upto,
                        },
                    );
                    return;
                }
                n.disk.busy = false;
                let full = n.disk.full_until.is_some_and(|u| now < u);
                if !full {
                    n.disk.full_until = None;
                }
                let mut appended = 0;
                let mut done = None;
                let mut failed = None;
                let mut reach = n.disk.fail_sync.take();
                while n.disk.queue.front().is_some_and(|(s, _)| *s <= upto) {
                    let Some((seq, op)) = n.disk.queue.pop_front() else {
                        break;
                    };
                    if let Some(left) = reach.as_mut() {
                        // The fsync fails: what reached the disk stays there, unacknowledged.
                        if *left > 0 && op != PersistOp::Probe {
                            *left -= 1;
                            n.disk.write(node, op, &mut self.checker);
                        } else {
                            *left = 0;
                        }
                        if failed.is_none() {
                            failed = Some((seq, PersistFailure::Failed));
                        }
                        continue;
                    }
                    if full && (op == PersistOp::Probe || needs_room(&op)) {
                        // No room: nothing of this op is written; the rest is dropped.
                        if op != PersistOp::Probe {
                            *self
                                .disk_outcomes
                                .entry("write undone: no room")
                                .or_default() += 1;
                        }
                        failed = Some((seq, PersistFailure::NoSpace));
                        n.disk.fail();
                        break;
                    }
                    if matches!(op, PersistOp::Append(_)) {
                        appended += 1;
                    }
                    n.disk.write(node, op, &mut self.checker);
                    done = Some(seq);
                }
                if let Some((seq, PersistFailure::Failed)) = failed {
                    // Reported at the batch's first op: none of it is known durable.
                    done = None;
                    n.disk.fail();
                    failed = Some((seq, PersistFailure::Failed));
                }
                if snap_count > 0 && n.disk.snaps.is_none() {
                    let budget = self.cfg.snap_budget;
                    n.disk.snaps = Some(snapshot::Snapshotter::new(
                        snap_count,
                        self.rng.gen(),
                        budget,
                    ));
                }
                if let Some(s) = n.disk.snaps.as_mut() {
                    s.logged(appended);
                }
                if let Some(p) = n.peer.as_mut() {
                    if let Some(d) = done {
                        p.persisted(d, now);
                    }
                    if let Some((seq, why)) = failed {
                        p.persist_failed(seq, why, now);
                    }
                }
                self.flush_disk(node);
                self.pump(node);
            }
            Ev::ToServer {
                client,
                conn,
                server,
                generation,
                msg,
            } => {
                let alive = self
                    .nodes
                    .get(&server)
                    .is_some_and(|n| n.generation == generation && n.status != Status::Down);
                if !alive {
                    if client.0 != 0 {
                        let at = self.conn_arrival(conn, false);
                        self.schedule(
                            at,
                            Ev::ToClient {
                                client,
                                conn,
                                out: client::FromServer::Closed("connection reset".into()),
                            },
                        );
                    }
                    return;
                }
                if self.status(server) == Status::Paused {
                    let at = now + 1;
                    self.schedule(
                        at,
                        Ev::ToServer {
                            client,
                            conn,
                            server,
                            generation,
                            msg,
                        },
                    );
                    return;
                }
                match msg {
                    client::ToServer::Connect(req) => {
                        self.server_connect(server, client, conn, req)
                    }
                    client::ToServer::Request(xid, req) => {
                        if self
                            .nodes
                            .get(&server)
                            .is_some_and(|n| n.conns.contains_key(&conn))
                        {
                            if let Some(p) = self.peer_mut(server) {
                                p.request(conn, xid, req, now);
                            }
                        }
                    }
                    client::ToServer::Disconnect => {
                        if let Some(n) = self.nodes.get_mut(&server) {
                            n.conns.remove(&conn);
                        }
                        if let Some(p) = self.peer_mut(server) {
                            p.disconnected(conn, now);
                        }
                    }
                }
                self.pump(server);
            }
            Ev::ToClient { client, conn, out } => {
                if matches!(out, client::FromServer::Closed(_)) {
                    self.conn_clock.remove(&(conn, false));
                    self.conn_clock.remove(&(conn, true));
                }
                let events = match self.clients.get_mut(&client) {
                    Some(c) => c.receive(conn, out, now),
                    None => return,
                };
                let reconnect = self.clients.get(&client).is_some_and(|c| c.wants_connect());
                for e in events {
                    self.checker.client_event(client, &e, now);
                    self.record(TraceEvent::Client { client, event: e });
                }
                if reconnect {
                    let at = now + 50 + self.rng.gen_range(0..100);
                    self.schedule(at, Ev::ClientTick { client });
                }
                self.client_flush(client);
            }
            Ev::ClientTick { client } => {
                let Some(c) = self.clients.get_mut(&client) else {
                    return;
                };
                if c.wants_connect() {
                    let pick: u64 = self.rng.gen();
                    if let Some(c) = self.clients.get_mut(&client) {
                        c.rotate(pick);
                    }
                    self.client_connect(client);
                    return;
                }
                let next = c.tick(now);
                self.client_flush(client);
                if let Some(next) = next {
                    self.schedule(next, Ev::ClientTick { client });
                }
            }
        }
    }

    fn server_connect(
        &mut self,
        server: ServerId,
        client: ClientId,
        conn: ConnId,
        req: ConnectRequest,
    ) {
        let now = self.now;
        let addr = format!("10.0.0.{}", 100 + client.0 % 100);
        let accepted = match self.nodes.get_mut(&server).and_then(|n| n.peer.as_mut()) {
            Some(p) => p.accept(conn, &addr, now),
            None => false,
        };
        if let Some(n) = self.nodes.get_mut(&server) {
            n.conns.insert(conn, client);
        }
        if accepted {
            if let Some(p) = self.peer_mut(server) {
                p.connect(conn, &req, now);
            }
        }
    }

    // ---- checks --------------------------------------------------------------------------

    /// Every invariant violation seen so far.
    pub fn violations(&self) -> &[String] {
        &self.checker.violations
    }

    /// The deep check: every running server's tree equals the replay of the committed history
    /// up to where it has applied.
    pub fn check_trees(&mut self) -> Result<(), String> {
        let r = self.checker.check_trees(&self.nodes);
        if let Err(v) = &r {
            self.checker.violations.push(v.clone());
        }
        r
    }

    /// Watch delivery ([`check::Invariant::WatchDelivery`]), once the run has gone quiet: the
    /// sessions of connected clients must have seen every watch fire that their server has
    /// applied a change for.
    pub fn check_watches(&mut self) -> Result<(), String> {
        let mut live = BTreeMap::new();
        for c in self.clients.values() {
            let Some((server, _)) = c.connection() else {
                continue;
            };
            if let Some(p) = self.peer(server) {
                live.insert(c.session_id(), p.server().tree.last_processed_zxid());
            }
        }
        let r = self.checker.check_watches(&live);
        if let Err(v) = &r {
            self.checker.violations.push(v.clone());
        }
        r
    }
}

/// `count` transactions of epoch `epoch` (zxids `epoch|1` to `epoch|count`), each creating a
/// node `/txn-N`: a stand-in history for scenarios that start from given zxids.
pub fn synthetic_history(epoch: u32, count: u32, time: i64) -> Vec<TxnEntry> {
    use zk_core::acl::Acl;
    use zk_core::txn::{Txn, TxnHeader};
    (1..=count)
        .map(|i| {
            TxnEntry::new(
                TxnHeader {
                    session: zk_core::SessionId(0),
                    cxid: 0,
                    zxid: Zxid::new(epoch, i),
                    time: time + i as i64,
                },
                Txn::Create {
                    path: format!("/txn-{i}"),
                    data: Some(format!("{i}").into_bytes()),
                    acl: Acl::open_unsafe(),
                    ephemeral: false,
                    parent_cversion: i as i32,
                    create2: false,
                },
            )
        })
        .collect()
}

fn persist_label(op: &PersistOp) -> String {
    match op {
        PersistOp::Append(e) => format!("append {} {}", e.zxid(), e.txn.name()),
        PersistOp::Truncate(z) => format!("truncate after {z}"),
        PersistOp::SnapshotPiece { zxid, bytes, .. } => {
            format!("snapshot at {zxid}: {} bytes", bytes.len())
        }
        PersistOp::SnapshotInstall { zxid } => format!("install snapshot at {zxid}"),
        PersistOp::AcceptedEpoch(e) => format!("acceptedEpoch = {e}"),
        PersistOp::CurrentEpoch(e) => format!("currentEpoch = {e}"),
        PersistOp::Probe => "probe: is there room again?".into(),
    }
}
