//! The server: a tokio driver around one [`zk_core::peer::Peer`].
//!
//! Everything the core decides stays in the core. This module only moves things:
//!
//! * client bytes in and out (the [`clients`] module owns the sockets: framing, four-letter
//!   words, decoding with `zk_core::proto`);
//! * transactions and epochs to the disk and completions back (the [`disk`] thread owns
//!   [`crate::storage::Storage`], and commits many appends with one fsync);
//! * messages to and from other servers (the [`crate::quorum`] networking);
//! * time (a deadline timer).
//!
//! One task, the *peer loop*, owns the `Peer`. Every socket and the disk thread send it
//! [`Input`]s over one channel; it feeds them to the peer, then carries out what the peer asks
//! for. Taking every input that is already waiting before carrying out the outputs is what lets
//! many pending writes share one fsync.

pub mod clients;
pub mod disk;

use crate::quorum::{QuorumHandle, QuorumNet};
use crate::stats::metrics::{DiskMetric, Metrics};
use crate::stats::{self, Effect, ServerTotals};
use crate::storage::{Storage, StorageOptions};
use crate::tls::Tls;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};
use zk_core::config::Config;
use zk_core::output::ClientOutput;
use zk_core::peer::messages::PeerMsg;
use zk_core::peer::{Output, Peer, PeerConfig, PeerEvent};
use zk_core::proto;
use zk_core::request::{ConnectRequest, Request};
use zk_core::snapshot::{SnapStep, Snapshotter};
use zk_core::{ConnId, Millis, ServerId};

/// What a server is started with.
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub config: Config,
    /// The zoo.cfg it came from (None for the embedded default).
    pub config_path: Option<PathBuf>,
    pub my_id: ServerId,
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        addr: String,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("the disk failed: {0}; stopping rather than acknowledge what may not be durable")]
    Disk(String),
}

/// Something for the peer loop.
pub enum Input {
    /// A client connected; `tx` carries what is sent back to it.
    Accept {
        conn: ConnId,
        addr: SocketAddr,
        tx: mpsc::UnboundedSender<ConnOut>,
        /// The subject of the TLS client certificate, if one was shown.
        subject: Option<String>,
        /// The connection's counters: outstanding requests, queued reply bytes.
        gate: Arc<clients::Gate>,
    },
    Connect {
        conn: ConnId,
        req: ConnectRequest,
    },
    Request {
        conn: ConnId,
        xid: i32,
        req: Request,
    },
    Disconnected {
        conn: ConnId,
    },
    /// A four-letter word from the connection at `asker`, answered as text.
    FourLetter {
        cmd: String,
        asker: SocketAddr,
        reply: oneshot::Sender<String>,
    },
    /// An AdminServer command with its URL arguments, answered as JSON text.
    Admin {
        cmd: String,
        args: Vec<(String, String)>,
        reply: oneshot::Sender<String>,
    },
    /// The Prometheus metrics text.
    Metrics {
        reply: oneshot::Sender<String>,
    },
    /// The disk did everything up to `seq`.
    Persisted {
        seq: u64,
    },
    /// The disk could not do the op `seq` (see [`zk_core::peer::Peer::persist_failed`]).
    PersistFailed {
        seq: u64,
        failure: zk_core::peer::PersistFailure,
        error: String,
    },
    /// How long the disk took (for `mntr` and Prometheus).
    Disk(DiskMetric),
    /// The snapshot thread finished a snapshot file: back to the disk thread to put in place.
    SnapshotWritten(disk::SnapshotWritten),
    Peer {
        from: ServerId,
        msg: PeerMsg,
    },
    LinkDown {
        peer: ServerId,
    },
    /// The connection to learner `peer` has written `bytes` more of a snapshot.
    SnapWritten {
        peer: ServerId,
        bytes: u64,
    },
    Shutdown,
}

/// What the peer loop sends a client connection.
#[derive(Debug)]
pub enum ConnOut {
    /// The body of a frame: the connection's writer puts the length in front
    /// ([`write_frame`]), off the peer loop.
    Frame(Vec<u8>),
    /// Send what is queued, then close.
    Close,
}

/// A client connection as the peer loop sees it.
struct ConnHandle {
    tx: mpsc::UnboundedSender<ConnOut>,
    addr: SocketAddr,
    gate: Arc<clients::Gate>,
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// About how many bytes of snapshot the loop writes per turn: a few milliseconds' work.
const SNAPSHOT_PIECE: usize = 256 << 10;

/// The peer loop's state.
struct Driver {
    peer: Peer,
    start: Instant,
    conns: HashMap<ConnId, ConnHandle>,
    disk: disk::DiskHandle,
    net: Option<QuorumHandle>,
    /// Periodic snapshots: taken a piece per turn of the loop while requests go on.
    snapper: Snapshotter,
    /// The peer halted ([`Output::Halt`]): the server stops.
    halted: bool,
    cfg: Arc<Config>,
    totals: ServerTotals,
    data_dir: PathBuf,
    data_log_dir: PathBuf,
    started_wall: i64,
    /// ZooKeeper's `ServerMetrics` the core does not keep.
    metrics: Metrics,
    /// zoo.cfg as read at start (`initial_configuration`).
    initial_config: String,
    /// The newest snapshot: zxid and when it was written (seconds since the epoch).
    last_snapshot: Option<(zk_core::Zxid, i64)>,
    trace_mask: i64,
    fsync_threshold_exceeded: u64,
    /// The tree's count of digest mismatches when last looked at.
    digest_mismatches: u64,
}

impl Driver {
    fn now(&self) -> Millis {
        self.start.elapsed().as_millis() as Millis
    }

    fn handle(&mut self, input: Input) -> bool {
        let now = self.now();
        match input {
            Input::Accept {
                conn,
                addr,
                tx,
                subject,
                gate,
            } => {
                self.conns.insert(conn, ConnHandle { tx, addr, gate });
                // A refusal comes back as a Close output, logged with its reason.
                if self.peer.accept(conn, &addr.ip().to_string(), now) {
                    if let Some(s) = subject {
                        self.peer.certificate(conn, &s);
                    }
                }
            }
            Input::Connect { conn, req } => {
                self.totals.packets_received += 1;
                self.metrics.count("connection_request_count", 1);
                if req.session_id.0 != 0 {
                    self.metrics.count("connection_revalidate_count", 1);
                }
                self.peer.connect(conn, &req, now);
            }
            Input::Request { conn, xid, req } => {
                self.totals.packets_received += 1;
                if !matches!(req, Request::Auth { .. }) {
                    self.metrics.request_in(conn, xid, req.is_write(), now);
                }
                let read = !req.is_write();
                self.peer.request(conn, xid, req, now);
                if read {
                    // A read's reply goes to its connection now, not at the end of the batch:
                    // a client that pipelines large reads and never reads the replies is cut
                    // off at its queue's limit instead of the batch building them all.
                    self.flush_outputs();
                }
            }
            Input::Disconnected { conn } => {
                self.conns.remove(&conn);
                self.metrics.conn_gone(conn);
                self.peer.disconnected(conn, now);
            }
            Input::FourLetter { cmd, asker, reply } => {
                // ZooKeeper counts the word as a packet in, and its answer as one out.
                self.totals.packets_received += 1;
                if let Some(e) = stats::effect_of_word(&cmd, self.peer.is_serving()) {
                    self.apply(e);
                }
                let mut view = self.view();
                view.asker = Some(asker);
                let text = stats::four_letter(&cmd, &view);
                self.totals.packets_sent += 1;
                let _ = reply.send(text);
            }
            Input::Admin { cmd, args, reply } => {
                if let Some(e) = stats::effect_of_admin(&cmd, &args, self.peer.is_serving()) {
                    self.apply(e);
                }
                let _ = reply.send(stats::admin(&cmd, &args, &self.view()));
            }
            Input::Metrics { reply } => {
                let _ = reply.send(stats::prometheus(&self.view()));
            }
            Input::Persisted { seq } => self.peer.persisted(seq, now),
            Input::SnapshotWritten(w) => self.disk.snapshot_written(w),
            Input::PersistFailed {
                seq,
                failure,
                error: e,
            } => {
                error!("writing to the disk failed: {e}");
                self.peer.persist_failed(seq, failure, now);
            }
            Input::Disk(m) => {
                match m {
                    DiskMetric::Fsync { ms, .. } if ms > self.cfg.fsync_warning_threshold_ms => {
                        self.fsync_threshold_exceeded += 1;
                    }
                    DiskMetric::Snapshot { zxid, .. } => {
                        self.last_snapshot = Some((zxid, wall_ms() / 1000));
                    }
                    _ => {}
                }
                self.metrics.disk(m);
            }
            Input::Peer { from, msg } => {
                if let PeerMsg::Quorum(q) = &msg {
                    use zk_core::peer::messages::{QuorumPacket, ServerState};
                    let learner = matches!(
                        self.peer.state(),
                        ServerState::Following | ServerState::Observing
                    );
                    match q {
                        QuorumPacket::Proposal(_) if learner => {
                            self.metrics.count("learner_proposal_received_count", 1)
                        }
                        QuorumPacket::Commit { .. } | QuorumPacket::Inform(_) if learner => {
                            self.metrics.count("learner_commit_received_count", 1)
                        }
                        _ => {}
                    }
                }
                self.peer.message(from, msg, now)
            }
            Input::LinkDown { peer } => self.peer.link_down(peer, now),
            Input::SnapWritten { peer, bytes } => self.peer.snap_written(peer, bytes, now),
            Input::Shutdown => return false,
        }
        true
    }

    fn view(&self) -> stats::ServerView<'_> {
        stats::ServerView {
            peer: &self.peer,
            cfg: &self.cfg,
            conn_addrs: self.conns.iter().map(|(c, h)| (*c, h.addr)).collect(),
            totals: &self.totals,
            metrics: &self.metrics,
            now: self.now(),
            data_dir: &self.data_dir,
            data_log_dir: &self.data_log_dir,
            started_wall: self.started_wall,
            asker: None,
            initial_config: &self.initial_config,
            last_snapshot: self.last_snapshot,
            trace_mask: self.trace_mask,
            fsync_threshold_exceeded: self.fsync_threshold_exceeded,
        }
    }

    /// Carries out what a four-letter word or an AdminServer command changes.
    fn apply(&mut self, e: Effect) {
        match e {
            Effect::ResetServerStats => {
                self.totals = ServerTotals::default();
                self.peer.server_mut().latency = Default::default();
                self.peer.reset_proposal_sizes();
                self.metrics.reset();
            }
            Effect::ResetConnStats => self.peer.server_mut().reset_conn_stats(),
            Effect::SetTraceMask(mask) => self.trace_mask = mask,
        }
    }

    fn send_client(&mut self, o: ClientOutput) {
        let conn = o.conn();
        let Some(h) = self.conns.get(&conn) else {
            return;
        };
        let body = match &o {
            ClientOutput::Connected {
                resp,
                read_only_flag,
                ..
            } => {
                h.gate.establish();
                proto::encode_connect_response(resp, *read_only_flag)
            }
            ClientOutput::Reply { reply, .. } => {
                h.gate.replied();
                let b = proto::encode_reply(reply);
                self.metrics.reply_out(conn, reply.xid, self.now());
                self.metrics.client_response.record(b.len());
                b
            }
            ClientOutput::Event { event, .. } => {
                let b = proto::encode_watch_event(event);
                self.metrics.client_response.record(b.len());
                b
            }
            ClientOutput::Close { reason, .. } => {
                info!(conn = conn.0, addr = %h.addr, "closing client connection: {reason}");
                h.gate.close(false);
                let _ = h.tx.send(ConnOut::Close);
                self.conns.remove(&conn);
                return;
            }
        };
        self.totals.packets_sent += 1;
        if !h.gate.queue(body.len()) {
            warn!(
                conn = conn.0,
                addr = %h.addr,
                "closing client connection: it does not read its replies ({} bytes waiting; the \
                 limits are {} for one connection, {} for all)",
                h.gate.queued(),
                clients::SLOW_READER_LIMIT,
                clients::TOTAL_QUEUE_LIMIT
            );
            h.gate.close(true);
            self.conns.remove(&conn);
            // The session lives on; its requests still queued in this batch find no connection.
            let now = self.now();
            self.peer.disconnected(conn, now);
            return;
        }
        let len = body.len();
        if h.tx.send(ConnOut::Frame(body)).is_err() {
            // The writer is gone (the connection is ending): the reply never queued.
            h.gate.dequeue(len);
        }
    }

    /// Carries out everything the peer asked for.
    /// Carries out the peer's outputs, in order: replies to their connections, ops to the disk
    /// thread, messages to other servers.
    fn flush_outputs(&mut self) {
        let mut ops = Vec::new();
        for o in self.peer.drain_outputs() {
            match o {
                Output::Client(c) => self.send_client(c),
                Output::Persist { seq, op } => {
                    if matches!(op, zk_core::peer::PersistOp::Append(_)) {
                        self.snapper.logged(1);
                    }
                    ops.push((seq, op));
                }
                Output::Send { to, msg } => {
                    if let Some(n) = &self.net {
                        n.send(to, msg);
                    }
                }
                Output::Disconnect { peer } => {
                    if let Some(n) = &self.net {
                        n.disconnect(peer);
                    }
                }
                Output::Halt { why } => {
                    error!("{why}");
                    self.halted = true;
                }
            }
        }
        if !ops.is_empty() {
            self.disk.persist(ops);
        }
    }

    /// Carries out everything the peer asked for, then what follows a turn of the loop: its
    /// events logged, a piece of snapshot, the digest check.
    fn flush(&mut self) {
        self.flush_outputs();
        let mut replaced = false;
        for (at, e) in self.peer.take_events() {
            replaced |= e.replaces_history_or_role();
            self.metrics.peer_event(&e, self.peer.state(), at);
            log_event(&e);
        }
        self.snapshot_step(replaced);
        self.check_digests();
    }

    /// A transaction after which this server's tree had another digest than the one its leader
    /// recorded means the replicas have diverged: counted (`digest_mismatches_count`) and
    /// logged, as ZooKeeper does.
    fn check_digests(&mut self) {
        let tree = &self.peer.server().tree;
        let n = tree.digest_mismatches();
        if n < self.digest_mismatches {
            // A new tree (a SNAP from the leader) counts afresh.
            self.digest_mismatches = n;
        }
        if n > self.digest_mismatches {
            self.metrics
                .count("digest_mismatches_count", n - self.digest_mismatches);
            if let Some(m) = tree.first_digest_mismatch() {
                error!(
                    zxid = %m.zxid,
                    expected = m.expected,
                    actual = m.actual,
                    mismatches = n,
                    "digests are not matching: after this transaction the tree's digest differs from the one recorded (the first such transaction; the replicas have diverged)"
                );
            }
            self.digest_mismatches = n;
        }
    }

    /// A snapshot of the committed tree every snapCount-or-so transactions, taken a piece per
    /// turn of the loop (a fuzzy snapshot: see [`SnapshotWriter`]), so that requests are not
    /// held up while a large tree is written. A change of state (a new election, a SNAP or a
    /// TRUNC from a leader) drops the snapshot under way: the history it belongs to may be
    /// replaced.
    fn snapshot_step(&mut self, replaced: bool) {
        if replaced && self.snapper.abort().is_some() {
            info!("snapshot dropped: the server changed state");
            self.disk.snapshot_abort();
        }
        let tree = &self.peer.server().tree;
        // Not while the disk has no room: the log must be able to grow first.
        let hold = self.peer.is_disk_full();
        for step in self.snapper.step(tree, hold, fastrand::u64(..)) {
            match step {
                SnapStep::Begin { zxid, bytes } => {
                    info!("taking a snapshot at {zxid} ({} znodes)", tree.node_count());
                    self.disk.snapshot_begin(zxid, bytes);
                }
                SnapStep::Piece(bytes) => self.disk.snapshot_piece(bytes),
                SnapStep::End { digest } => self.disk.snapshot_end(digest),
                SnapStep::Abort => self.disk.snapshot_abort(),
            }
        }
    }
}

/// Writes a frame of `body` into a buffered writer: its length (4 bytes, big-endian, as
/// `zk_core::proto::frame` puts it), then the body itself, with no framed copy made. Client and
/// quorum connections frame alike.
pub(crate) async fn write_frame<W: tokio::io::AsyncWrite + Unpin>(
    w: &mut W,
    body: &[u8],
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    w.write_all(&(body.len() as u32).to_be_bytes()).await?;
    w.write_all(body).await
}

/// Logs what the core reports: why an election started, who won with which vote, epochs, syncs.
fn log_event(e: &PeerEvent) {
    match e {
        PeerEvent::State { from, to, why } => info!("{from} -> {to}: {why}"),
        PeerEvent::Elected { vote, state } => info!(
            "election finished: {state}, leader {} (zxid {}, epoch {}, round {})",
            vote.leader, vote.zxid, vote.peer_epoch, vote.election_epoch
        ),
        PeerEvent::AcceptedEpoch(e) => info!("acceptedEpoch = {e}"),
        PeerEvent::CurrentEpoch(e) => info!("currentEpoch = {e}"),
        PeerEvent::Established { epoch } => info!("leading epoch {epoch} with a quorum"),
        PeerEvent::Sync {
            learner,
            mode,
            from,
            to,
        } => info!("syncing learner {learner} with {mode} from {from} to {to}"),
        PeerEvent::SyncedBy { leader, mode, zxid } => {
            info!("leader {leader} brings us up to date with {mode} at {zxid}")
        }
        PeerEvent::Truncated { zxid } => warn!("leader truncated our log after {zxid}"),
        PeerEvent::SnapshotInstalled { zxid } => info!("installed the leader's snapshot at {zxid}"),
        PeerEvent::Notice(n) => info!("{n}"),
        _ => {}
    }
}

/// Runs a server until `shutdown` resolves (or the disk fails).
pub async fn run(
    opts: ServerOptions,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), ServerError> {
    let cfg = Arc::new(opts.config);
    let data_dir = PathBuf::from(&cfg.data_dir);
    let data_log_dir = PathBuf::from(&cfg.data_log_dir);
    let storage_opts = StorageOptions::from_config(&cfg);
    let loading = Instant::now();
    let (storage, restored, report) = Storage::open(&data_dir, &data_log_dir, storage_opts)?;
    let mut metrics = Metrics::new();
    if !cfg.is_standalone() {
        // The peer starts LOOKING (at the core's time 0).
        metrics.looking(0);
    }
    metrics.observe("dbinittime", loading.elapsed().as_millis() as i64);
    metrics.observe("startup_txns_loaded", restored.log.len() as i64);
    let last_snapshot = report.snapshot.as_ref().map(|(path, zxid)| {
        let written = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(-1, |d| d.as_secs() as i64);
        (*zxid, written)
    });
    let initial_config = opts
        .config_path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    if let Some(t) = &report.torn_tail {
        warn!(
            "cut a damaged tail off {} at offset {}: {} (the record was never acknowledged)",
            t.file.display(),
            t.offset,
            t.why
        );
    }
    for (p, why) in &report.skipped_snapshots {
        warn!("skipped snapshot {}: {why}", p.display());
    }
    info!(
        "recovered: snapshot {:?}, {} log records after it, last zxid {}",
        report.snapshot.as_ref().map(|(_, z)| *z),
        restored.log.len(),
        report.last_logged
    );

    let started_wall = wall_ms();
    let mut pcfg = PeerConfig::from_config(&cfg, opts.my_id, started_wall);
    pcfg.server.auth.sasl_users = sasl_users(&cfg).map_err(ServerError::Config)?;
    pcfg.server.auth.nonce_seed = fastrand::u64(..);
    let mut peer = Peer::new(pcfg.clone(), restored, 0);
    peer.trace = true;

    let (tx, mut rx) = mpsc::unbounded_channel::<Input>();
    let disk = disk::spawn(storage, tx.clone());

    // Clients.
    let plain = cfg
        .client_address(if pcfg.standalone {
            None
        } else {
            Some(opts.my_id)
        })
        .map_err(ServerError::Config)?;
    if plain.is_none() && cfg.secure_client_port.is_none() {
        return Err(ServerError::Config(
            "no clientPort: set clientPort (or secureClientPort), or ;port in this server's server.N line".into(),
        ));
    }
    let limits = clients::Limits {
        max_buffer: cfg.jute_max_buffer as usize,
        max_cnxns: cfg.max_cnxns,
    };
    let tls = match (cfg.secure_client_port, cfg.client_port_unification) {
        (None, false) => None,
        _ => {
            let t = Tls::load(&cfg.tls, "client port").map_err(ServerError::Config)?;
            if cfg.client_cert_reload {
                t.watch();
            }
            Some(t)
        }
    };
    let shared = clients::Shared {
        tx: tx.clone(),
        limits,
        cfg: cfg.clone(),
        bytes_received: metrics.bytes_received.clone(),
        open: clients::OpenCount::default(),
        throttle: clients::Throttle::new(cfg.global_outstanding_limit),
    };
    let plain_mode = match (&tls, cfg.client_port_unification) {
        (Some(t), true) => clients::PortMode::Unified(
            t.clone(),
            Duration::from_millis(cfg.tls.handshake_detection_timeout_ms as u64),
        ),
        _ => clients::PortMode::Plain,
    };
    let mut ports: Vec<_> = plain
        .into_iter()
        .map(|(host, port)| (host, port, plain_mode.clone(), "clientPort"))
        .collect();
    if let (Some(t), Some(sp)) = (&tls, cfg.secure_client_port) {
        let shost = cfg
            .secure_client_port_address
            .clone()
            .unwrap_or_else(|| "0.0.0.0".to_string());
        ports.push((
            shost,
            sp,
            clients::PortMode::Tls(t.clone()),
            "secureClientPort",
        ));
    }
    for (host, port, mode, what) in ports {
        let listen = format!(
            "{}:{}",
            if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            },
            port
        );
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: listen.clone(),
                what,
                source,
            })?;
        let kind = match &mode {
            clients::PortMode::Plain => "",
            clients::PortMode::Tls(_) => " with TLS",
            clients::PortMode::Unified(..) => " with and without TLS",
        };
        info!("serving clients on {listen}{kind}");
        tokio::spawn(clients::accept_loop(listener, mode, shared.clone()));
    }

    // Other servers.
    let net = if pcfg.standalone {
        None
    } else {
        Some(
            QuorumNet::start(&cfg, opts.my_id, pcfg.config_text.clone(), tx.clone())
                .await
                .map_err(ServerError::Config)?,
        )
    };

    // The AdminServer and metrics.
    if cfg.admin.enable_server {
        stats::spawn_admin(&cfg, tx.clone()).await;
    }
    stats::spawn_metrics(&cfg, tx.clone()).await;

    let mut d = Driver {
        snapper: Snapshotter::new(cfg.snap_count as u64, fastrand::u64(..), SNAPSHOT_PIECE),
        halted: false,
        peer,
        start: Instant::now(),
        conns: HashMap::new(),
        disk,
        net,
        cfg: cfg.clone(),
        totals: ServerTotals::default(),
        data_dir,
        data_log_dir,
        started_wall,
        metrics,
        initial_config,
        last_snapshot,
        trace_mask: stats::DEFAULT_TRACE_MASK,
        fsync_threshold_exceeded: 0,
        digest_mismatches: 0,
    };
    d.flush();

    // autopurge
    if cfg.autopurge_purge_interval_hours > 0 {
        let every = Duration::from_secs(cfg.autopurge_purge_interval_hours as u64 * 3600);
        let retain = cfg.autopurge_snap_retain_count as usize;
        let purge = d.disk.clone();
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            loop {
                t.tick().await;
                purge.purge(retain);
            }
        });
    }

    tokio::pin!(shutdown);
    loop {
        let deadline = d.peer.next_deadline();
        let sleep = async {
            match deadline {
                Some(at) => {
                    let now = d.start.elapsed().as_millis() as Millis;
                    tokio::time::sleep(Duration::from_millis(at.saturating_sub(now))).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = &mut shutdown => {
                info!("shutting down");
                break;
            }
            input = rx.recv() => {
                let Some(input) = input else { break };
                if !d.handle(input) {
                    break;
                }
                // Take everything already waiting: writes that arrive together share a fsync.
                let mut more = 0;
                while more < 4096 {
                    match rx.try_recv() {
                        Ok(i) => {
                            if !d.handle(i) {
                                d.flush();
                                return finish(d, false).await;
                            }
                            more += 1;
                        }
                        Err(_) => break,
                    }
                }
            }
            _ = sleep => {
                let now = d.now();
                d.peer.tick(now);
            }
            // A snapshot under way takes its next piece when nothing else is waiting.
            _ = std::future::ready(()), if d.snapper.under_way() => {}
        }
        d.flush();
        if d.halted {
            return finish(d, false).await;
        }
    }
    finish(d, true).await
}

/// The DIGEST-MD5 users of the JAAS file's `Server` section (none without a JAAS file, or
/// without that section: SASL is then off, as in ZooKeeper).
fn sasl_users(cfg: &Config) -> Result<std::collections::BTreeMap<String, String>, String> {
    let Some(path) = &cfg.auth.jaas_config else {
        return Ok(Default::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("java.security.auth.login.config: cannot read {path}: {e}"))?;
    let jaas = zk_core::sasl::JaasConfig::parse(&text).map_err(|e| format!("{path}: {e}"))?;
    let Some(section) = jaas.section("Server") else {
        info!("{path} has no Server section: SASL is off");
        return Ok(Default::default());
    };
    let users = zk_core::sasl::jaas::digest_users(section);
    info!("SASL (DIGEST-MD5) on, {} users from {path}", users.len());
    Ok(users)
}

async fn finish(mut d: Driver, clean: bool) -> Result<(), ServerError> {
    for (_, h) in d.conns.drain() {
        let _ = h.tx.send(ConnOut::Close);
    }
    if let Some(n) = d.net.take() {
        n.shutdown();
    }
    d.disk.stop();
    if clean {
        Ok(())
    } else {
        Err(ServerError::Disk("see the log above".into()))
    }
}
