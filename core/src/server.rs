//! The client-facing half of a server (ZooKeeper's `ZooKeeperServer` connection handling,
//! `CommitProcessor` ordering and `FinalRequestProcessor`), shared by every role.
//!
//! A [`Server`] owns the data tree, the watch tables and the client connections. It answers
//! reads from the local tree, registers watches, and turns committed transactions into replies
//! and watch events. It never decides how a write gets committed: it hands writes (and syncs,
//! session creations, re-validations) to the role that drives it — the standalone pipeline in
//! [`crate::standalone`], or a leader or follower — and is told when they are done.
//!
//! Ordering, as in ZooKeeper: requests of one connection are answered in the order they came; a
//! read waits for the writes its connection sent before it; and the watch events a change
//! triggers are queued before any reply that reflects the change, so a client always hears of a
//! change before it reads its result.

use crate::acl::{authenticate, check_acl, perms, Acl, Id};
use crate::error::ErrorCode;
use crate::output::{ClientOutput, Output};
use crate::request::{
    add_watch_mode, ClientInfo, ConnectRequest, ConnectResponse, OpResult, Reply, Request,
    Response, WatchedEvent,
};
use crate::session::{negotiate_timeout, session_password};
use crate::tree::{DataTree, TreeEvent, TxnResult};
use crate::txn::{op, TxnEntry};
use crate::types::{ConnId, Millis, SessionId, Zxid};
use crate::watch::{Notification, WatchManager};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Server settings that shape client handling.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ServerConfig {
    pub tick_time: u32,
    pub min_session_timeout: i32,
    pub max_session_timeout: i32,
    /// Connections allowed from one address (0: no limit).
    pub max_client_cnxns: u32,
    pub skip_acl: bool,
    /// `user:base64(sha1(user:password))` of the super user, if any.
    pub super_digest: Option<String>,
    /// TTL nodes (`zookeeper.extendedTypesEnabled`).
    pub extended_types: bool,
    /// The container/TTL reaper's period and pace (`znode.container.*`).
    pub container_check_interval: Millis,
    pub container_max_per_minute: u32,
    pub container_max_never_used: i64,
    /// Wall-clock milliseconds at `now == 0`: txn times and session ids are wall-clock based.
    pub wall_clock_base: i64,
    /// SASL, x509 and what a session must authenticate with.
    #[serde(default)]
    pub auth: ServerAuth,
}

/// Authentication beyond `addauth digest`: the `sasl` and `x509` schemes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAuth {
    /// Schemes registered beyond world, auth, digest and ip.
    pub schemes: crate::acl::Schemes,
    /// DIGEST-MD5 users, name → password: the JAAS file's `Server` section. Empty: SASL is off.
    pub sasl_users: BTreeMap<String, String>,
    /// `zookeeper.superUser`: the SASL id that is a super user.
    pub sasl_super_user: Option<String>,
    /// `X509AuthenticationProvider.superUser`: the certificate subject that is a super user.
    pub x509_super_user: Option<String>,
    /// Schemes a session must have authenticated with before anything else is served.
    pub required_schemes: Vec<String>,
    /// Where SASL nonces come from: the driver draws it at random (the simulator from its
    /// seed); each nonce is the MD5 of it and a counter, so none repeats and none can be
    /// guessed without it.
    pub nonce_seed: u64,
}

impl ServerAuth {
    /// As zoo.cfg sets it. The DIGEST-MD5 users come from the JAAS file, which the driver
    /// reads ([`crate::sasl::jaas`]).
    pub fn from_config(cfg: &crate::config::Config) -> ServerAuth {
        let a = &cfg.auth;
        ServerAuth {
            schemes: crate::acl::Schemes {
                sasl: a.sasl_provider(),
                x509: cfg.secure_client_port.is_some()
                    || cfg.client_port_unification
                    || a.providers
                        .values()
                        .any(|p| p == crate::config::security::X509_AUTH_PROVIDER),
            },
            sasl_users: BTreeMap::new(),
            sasl_super_user: a.super_user.clone(),
            x509_super_user: a.x509_super_user.clone(),
            required_schemes: a.required_schemes(),
            nonce_seed: 0,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            tick_time: 2000,
            min_session_timeout: 4000,
            max_session_timeout: 40000,
            max_client_cnxns: 60,
            skip_acl: false,
            super_digest: None,
            extended_types: false,
            container_check_interval: 60_000,
            container_max_per_minute: 10_000,
            container_max_never_used: 0,
            wall_clock_base: 0,
            auth: ServerAuth::default(),
        }
    }
}

impl ServerConfig {
    /// Session timeouts default to 2 and 20 ticks.
    pub fn with_tick(tick_time: u32) -> ServerConfig {
        ServerConfig {
            tick_time,
            min_session_timeout: 2 * tick_time as i32,
            max_session_timeout: 20 * tick_time as i32,
            ..Default::default()
        }
    }
    pub fn wall(&self, now: Millis) -> i64 {
        self.wall_clock_base + now as i64
    }
}

/// A request waiting in a connection's queue.
#[derive(Clone, Debug)]
enum Pending {
    /// Handed to the role; answered when its transaction is committed.
    Write {
        xid: i32,
        req: Request,
        since: Millis,
    },
    /// Handed to the role; answered when the role says the sync is done.
    Sync {
        xid: i32,
        path: String,
        since: Millis,
    },
    /// Waits for the writes and syncs ahead of it.
    Read {
        xid: i32,
        req: Request,
        since: Millis,
    },
}

/// Counters `cons` and `stat` print per connection (ZooKeeper's `ServerCnxn` statistics).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConnStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub min_latency: Millis,
    pub max_latency: Millis,
    pub total_latency: Millis,
    pub completed: u64,
    /// The latency of the last answered request (`llat`).
    pub last_latency: Millis,
    pub last_op: String,
    /// The last non-negative xid answered; -1 before the first (pings and other special xids
    /// do not count, as in ZooKeeper).
    pub last_cxid: i32,
    /// The zxid of the last reply; `0xffffffffffffffff` (ZooKeeper's -1) before the first.
    pub last_zxid: Zxid,
    /// When the last reply went out; 0 before the first.
    pub last_response_time: Millis,
    pub established: Millis,
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats {
            packets_received: 0,
            packets_sent: 0,
            min_latency: 0,
            max_latency: 0,
            total_latency: 0,
            completed: 0,
            last_latency: 0,
            last_op: String::new(),
            last_cxid: -1,
            last_zxid: Zxid(u64::MAX),
            last_response_time: 0,
            established: 0,
        }
    }
}

/// Request latencies of the whole server (`srvr`'s "Latency min/avg/max"), reset by `srst`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LatencyStats {
    pub min: Millis,
    pub max: Millis,
    pub total: Millis,
    pub count: u64,
}

impl LatencyStats {
    pub fn record(&mut self, lat: Millis) {
        self.min = if self.count == 0 {
            lat
        } else {
            self.min.min(lat)
        };
        self.max = self.max.max(lat);
        self.total += lat;
        self.count += 1;
    }
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        }
    }
}

/// Sizes of a stream of buffers, as ZooKeeper's `BufferStats` keeps them: the last, smallest
/// and largest, each -1 until the first one. The leader's proposal sizes (`srvr`'s "Proposal
/// sizes last/min/max", `mntr`'s `zk_*_proposal_size`) and the client response sizes use it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BufferStats {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for BufferStats {
    fn default() -> Self {
        BufferStats {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl BufferStats {
    pub fn record(&mut self, size: usize) {
        let size = size as i64;
        self.last = size;
        if self.min == -1 || size < self.min {
            self.min = size;
        }
        self.max = self.max.max(size);
    }
}

impl std::fmt::Display for BufferStats {
    /// `last/min/max`, as `srvr` prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.last, self.min, self.max)
    }
}

/// One client connection.
#[derive(Clone, Debug)]
pub struct Conn {
    pub id: ConnId,
    /// The client's IP address, as the `ip` auth scheme and `maxClientCnxns` see it.
    pub addr: String,
    pub session: Option<SessionId>,
    pub timeout: i32,
    pub auth: Vec<Id>,
    /// The ConnectRequest carried the readOnly flag, so the response carries it too.
    pub read_only_flag: bool,
    /// A session is attached and the ConnectResponse was sent.
    pub established: bool,
    pub stats: ConnStats,
    queue: VecDeque<Pending>,
    /// A ConnectRequest arrived and its session is being created or re-validated.
    connecting: bool,
    /// Requests a client sent right behind its ConnectRequest, answered once the session is
    /// established (ZooKeeper queues them the same way).
    early: Vec<(i32, Request)>,
    /// The connection's SASL exchange, once begun.
    sasl: Option<Box<crate::sasl::DigestMd5Server>>,
}

impl Conn {
    pub fn outstanding(&self) -> usize {
        self.queue.len()
    }
}

/// What the role must do with a connect request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectAction {
    /// Already answered (refused, or the connection was closed).
    Done,
    /// A new session with this negotiated timeout: create it (a createSession transaction) and
    /// call [`Server::session_established`].
    CreateSession { timeout: i32 },
    /// A client re-attaching: check the session is alive (locally, or with the leader) and call
    /// [`Server::session_established`] or [`Server::session_invalid`].
    Revalidate { session: SessionId, timeout: i32 },
}

/// What the role must do with a request the server queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestAction {
    /// Nothing: it was a read and has been answered (or waits its turn).
    None,
    /// A write to commit; its transaction will come back through [`Server::commit`].
    Write {
        session: SessionId,
        cxid: i32,
        req: Request,
    },
    /// A sync to carry out; call [`Server::sync_done`] when it is.
    Sync {
        session: SessionId,
        cxid: i32,
        path: String,
    },
    /// The connection has no live session: close it.
    Close,
}

/// Data tree, watches and client connections of one server.
#[derive(Clone, Debug)]
pub struct Server {
    pub config: ServerConfig,
    pub tree: DataTree,
    pub watches: WatchManager,
    conns: BTreeMap<ConnId, Conn>,
    by_session: BTreeMap<SessionId, ConnId>,
    /// Commits applied (for `mntr`/`srvr` and the playground).
    pub committed: u64,
    /// Latency of every answered request.
    pub latency: LatencyStats,
    /// The read-only server: writes and syncs are refused with NotReadOnly, sessions say
    /// read-only in their ConnectResponse.
    pub read_only: bool,
    scratch_events: Vec<TreeEvent>,
    scratch_notes: Vec<Notification>,
    /// SASL nonces drawn so far.
    nonces: u64,
}

impl Server {
    pub fn new(config: ServerConfig, tree: DataTree) -> Server {
        Server {
            config,
            tree,
            watches: WatchManager::new(),
            conns: BTreeMap::new(),
            by_session: BTreeMap::new(),
            committed: 0,
            latency: LatencyStats::default(),
            read_only: false,
            scratch_events: Vec::new(),
            scratch_notes: Vec::new(),
            nonces: 0,
        }
    }

    pub fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.conns.get(&id)
    }

    pub fn conns(&self) -> impl Iterator<Item = &Conn> {
        self.conns.values()
    }

    /// `crst`: resets every connection's counters (`ServerCnxn.resetStats`).
    pub fn reset_conn_stats(&mut self) {
        for c in self.conns.values_mut() {
            let established = c.stats.established;
            c.stats = ConnStats {
                established,
                ..Default::default()
            };
        }
    }

    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }

    pub fn conn_of_session(&self, s: SessionId) -> Option<ConnId> {
        self.by_session.get(&s).copied()
    }

    /// Requests queued across all connections (`zk_outstanding_requests`).
    pub fn outstanding_requests(&self) -> usize {
        self.conns.values().map(|c| c.queue.len()).sum()
    }

    fn send(&mut self, out: &mut VecDeque<Output>, conn: ConnId, o: ClientOutput) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.packets_sent += 1;
        }
        let _ = conn;
        out.push_back(Output::Client(o));
    }

    fn close(&mut self, out: &mut VecDeque<Output>, conn: ConnId, reason: impl Into<String>) {
        if self.conns.contains_key(&conn) {
            out.push_back(Output::Client(ClientOutput::Close {
                conn,
                reason: reason.into(),
            }));
            self.drop_conn(conn);
        }
    }

    fn drop_conn(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(s) = c.session {
                if self.by_session.get(&s) == Some(&conn) {
                    self.by_session.remove(&s);
                }
            }
        }
        self.watches.remove_connection(conn);
    }

    /// A TCP connection was accepted. False (and a Close output) when `maxClientCnxns` refuses it.
    pub fn accept(
        &mut self,
        out: &mut VecDeque<Output>,
        conn: ConnId,
        addr: &str,
        now: Millis,
    ) -> bool {
        let from_addr = self.conns.values().filter(|c| c.addr == addr).count() as u32;
        if self.config.max_client_cnxns > 0 && from_addr >= self.config.max_client_cnxns {
            out.push_back(Output::Client(ClientOutput::Close {
                conn,
                reason: "too many connections from this address".into(),
            }));
            return false;
        }
        self.conns.insert(
            conn,
            Conn {
                id: conn,
                addr: addr.to_string(),
                session: None,
                timeout: 0,
                auth: vec![Id::new("ip", addr)],
                read_only_flag: false,
                established: false,
                stats: ConnStats {
                    established: now,
                    ..Default::default()
                },
                queue: VecDeque::new(),
                connecting: false,
                early: Vec::new(),
                sasl: None,
            },
        );
        true
    }

    /// One step of a connection's SASL exchange (`ZooKeeperServer.processSasl`), answered at
    /// once with zxid 0. Without a JAAS `Server` section ZooKeeper answers OK with no token.
    /// A failed exchange is answered AuthFailed (SessionClosedRequireSaslAuth when SASL is
    /// required) and closes the connection; a finished one adds the `sasl` id.
    fn sasl_step(
        &mut self,
        out: &mut VecDeque<Output>,
        conn: ConnId,
        xid: i32,
        token: &[u8],
    ) -> RequestAction {
        let reply = |err, token| Reply {
            xid,
            zxid: Zxid::ZERO,
            err,
            body: Response::Sasl(token),
        };
        if self.config.auth.sasl_users.is_empty() {
            self.send(
                out,
                conn,
                ClientOutput::Reply {
                    conn,
                    reply: reply(ErrorCode::Ok, None),
                },
            );
            return RequestAction::None;
        }
        let nonce = self.next_nonce();
        let Some(c) = self.conns.get_mut(&conn) else {
            return RequestAction::None;
        };
        let users = &self.config.auth.sasl_users;
        let exchange = c
            .sasl
            .get_or_insert_with(|| Box::new(crate::sasl::DigestMd5Server::zookeeper(nonce)));
        match exchange.evaluate(token, |u| users.get(u).cloned()) {
            Ok(next) => {
                if let Some(id) = exchange
                    .is_complete()
                    .then(|| exchange.authorization_id())
                    .flatten()
                {
                    let id = id.to_string();
                    if self.config.auth.sasl_super_user.as_deref() == Some(id.as_str()) {
                        c.auth.push(Id::new("super", ""));
                    }
                    let sasl = Id::new("sasl", id);
                    if !c.auth.contains(&sasl) {
                        c.auth.push(sasl);
                    }
                }
                self.send(
                    out,
                    conn,
                    ClientOutput::Reply {
                        conn,
                        reply: reply(ErrorCode::Ok, Some(next)),
                    },
                );
                RequestAction::None
            }
            Err(e) => {
                let err = if self
                    .config
                    .auth
                    .required_schemes
                    .iter()
                    .any(|s| s == "sasl")
                {
                    ErrorCode::SessionClosedRequireSaslAuth
                } else {
                    ErrorCode::AuthFailed
                };
                self.send(
                    out,
                    conn,
                    ClientOutput::Reply {
                        conn,
                        reply: reply(err, None),
                    },
                );
                self.close(out, conn, format!("SASL authentication failed: {e}"));
                RequestAction::Close
            }
        }
    }

    /// A SASL nonce: Java's format of 30 bytes derived from the seed and a counter.
    fn next_nonce(&mut self) -> String {
        use md5::{Digest, Md5};
        self.nonces += 1;
        let mut bytes = [0u8; 30];
        for (i, chunk) in bytes.chunks_mut(16).enumerate() {
            let mut h = Md5::new();
            h.update(self.config.auth.nonce_seed.to_be_bytes());
            h.update(self.nonces.to_be_bytes());
            h.update([i as u8]);
            let d = h.finalize();
            chunk.copy_from_slice(&d[..chunk.len()]);
        }
        crate::sasl::java_nonce(&bytes)
    }

    /// The connection proved, by TLS, that it holds the certificate with this subject (as Java's
    /// `X500Principal.getName()` prints it): `X509AuthenticationProvider.handleAuthentication`.
    pub fn certificate(&mut self, conn: ConnId, subject: &str) {
        if !self.config.auth.schemes.x509 {
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if self.config.auth.x509_super_user.as_deref() == Some(subject) {
            c.auth.push(Id::new("super", subject));
        }
        c.auth.push(Id::new("x509", subject));
    }

    /// The connection went away (closed by the client or the network). Its session lives on.
    pub fn disconnected(&mut self, conn: ConnId) {
        self.drop_conn(conn);
    }

    /// `processConnectRequest`: negotiates the timeout and says what the role must do.
    pub fn connect(
        &mut self,
        out: &mut VecDeque<Output>,
        conn: ConnId,
        req: &ConnectRequest,
    ) -> ConnectAction {
        let last = self.tree.last_processed_zxid();
        let Some(c) = self.conns.get_mut(&conn) else {
            return ConnectAction::Done;
        };
        c.stats.packets_received += 1;
        if c.session.is_some() || c.established || c.connecting {
            self.close(out, conn, "second connect request on one connection");
            return ConnectAction::Done;
        }
        c.read_only_flag = req.read_only.is_some();
        if req.last_zxid_seen > last {
            // The client has seen a newer state than ours; it must try another server.
            self.close(
                out,
                conn,
                "client has seen a zxid this server does not have yet",
            );
            return ConnectAction::Done;
        }
        let timeout = negotiate_timeout(
            req.timeout,
            self.config.min_session_timeout,
            self.config.max_session_timeout,
        );
        c.timeout = timeout;
        c.connecting = true;
        if req.session_id.0 == 0 {
            return ConnectAction::CreateSession { timeout };
        }
        if req.passwd != session_password(req.session_id) {
            self.session_invalid(out, conn);
            return ConnectAction::Done;
        }
        // A session re-attaching here closes its older connection to this server.
        if let Some(old) = self.by_session.get(&req.session_id).copied() {
            if old != conn {
                self.close(out, old, "session re-attached on another connection");
            }
        }
        ConnectAction::Revalidate {
            session: req.session_id,
            timeout,
        }
    }

    /// The session is valid: attach it and send the ConnectResponse.
    pub fn session_established(
        &mut self,
        out: &mut VecDeque<Output>,
        conn: ConnId,
        session: SessionId,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.session = Some(session);
        c.established = true;
        c.connecting = false;
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout: c.timeout,
            session_id: session,
            passwd: session_password(session),
            read_only: self.read_only,
        };
        let with_flag = c.read_only_flag;
        self.by_session.insert(session, conn);
        self.send(
            out,
            conn,
            ClientOutput::Connected {
                conn,
                resp,
                read_only_flag: with_flag,
            },
        );
    }

    /// The read-only server's answer to a write or a sync (ZooKeeper's
    /// ReadOnlyRequestProcessor): NotReadOnly, in turn with the reads before it. A closeSession
    /// is answered and the connection closed.
    fn refuse_read_only(
        &mut self,
        out: &mut VecDeque<Output>,
        conn: ConnId,
        xid: i32,
        req: Request,
        now: Millis,
    ) -> RequestAction {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.stats.packets_received += 1;
        }
        let close = req == Request::CloseSession;
        let reply = Reply {
            xid,
            zxid: self.tree.last_processed_zxid(),
            err: if close {
                ErrorCode::Ok
            } else {
                ErrorCode::NotReadOnly
            },
            body: Response::Empty,
        };
        self.finish(out, conn, reply, req.name(), now, now);
        if close {
            if let Some(s) = self.session_of(conn) {
                self.by_session.remove(&s);
            }
            self.close(out, conn, "session closed");
            return RequestAction::Close;
        }
        RequestAction::None
    }

    /// Closes a connection that asked for something this server does not give (a read-write
    /// session from the read-only server).
    pub fn refuse(&mut self, out: &mut VecDeque<Output>, conn: ConnId, reason: &'static str) {
        self.close(out, conn, reason);
    }

    /// The session is gone (expired, unknown, or a wrong password): say so and close.
    pub fn session_invalid(&mut self, out: &mut VecDeque<Output>, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout: 0,
            session_id: SessionId(0),
            passwd: vec![0; 16],
            read_only: false,
        };
        let with_flag = c.read_only_flag;
        self.send(
            out,
            conn,
            ClientOutput::Connected {
                conn,
                resp,
                read_only_flag: with_flag,
            },
        );
        self.close(out, conn, "session expired or unknown");
    }

    /// Requests that arrived before the session was established, to be handled now, in order.
    pub fn take_early_requests(&mut self, conn: ConnId) -> Vec<(i32, Request)> {
        self.conns
            .get_mut(&conn)
            .map(|c| std::mem::take(&mut c.early))
            .unwrap_or_default()
    }

    /// The session this connection carries, if established.
    pub fn session_of(&self, conn: ConnId) -> Option<SessionId> {
        self.conns
            .get(&conn)
            .filter(|c| c.established)
            .and_then(|c| c.session)
    }

    /// A request arrived on an established connection. Reads are answered here, in order;
    /// writes and syncs are handed to the role.
    pub fn request(
        &mut self,
        out: &mut VecDeque<Output>,
        conn: ConnId,
        xid: i32,
        req: Request,
        now: Millis,
    ) -> RequestAction {
        if self.read_only
            && self.session_of(conn).is_some()
            && (req.is_write() || matches!(req, Request::Sync { .. }))
        {
            return self.refuse_read_only(out, conn, xid, req, now);
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return RequestAction::None;
        };
        c.stats.packets_received += 1;
        let Some(session) = c.session.filter(|_| c.established) else {
            if c.connecting {
                c.early.push((xid, req));
                return RequestAction::None;
            }
            self.close(out, conn, "request before a ConnectRequest");
            return RequestAction::Close;
        };
        if !matches!(req, Request::Auth { .. } | Request::Sasl { .. })
            && !self.config.auth.required_schemes.is_empty()
            && !c
                .auth
                .iter()
                .any(|id| self.config.auth.required_schemes.contains(&id.scheme))
        {
            // AuthenticationHelper.enforceAuthentication: no id of a required scheme yet.
            let reply = Reply {
                xid,
                zxid: Zxid::ZERO,
                err: ErrorCode::SessionClosedRequireSaslAuth,
                body: Response::Empty,
            };
            self.send(out, conn, ClientOutput::Reply { conn, reply });
            self.close(
                out,
                conn,
                "the client has not authenticated with a scheme enforce.auth.schemes requires",
            );
            return RequestAction::Close;
        }
        match req {
            Request::Sasl { token } => self.sasl_step(out, conn, xid, &token),
            Request::Auth { scheme, auth, .. } => {
                // Processed at once, outside the queue, as ZooKeeper does; zxid 0.
                match authenticate(&scheme, &auth, self.config.super_digest.as_deref()) {
                    Ok(ids) => {
                        let c = self.conns.get_mut(&conn).expect("checked above");
                        for id in ids {
                            if !c.auth.contains(&id) {
                                c.auth.push(id);
                            }
                        }
                        let reply = Reply {
                            xid,
                            zxid: Zxid::ZERO,
                            err: ErrorCode::Ok,
                            body: Response::Empty,
                        };
                        self.send(out, conn, ClientOutput::Reply { conn, reply });
                    }
                    Err(err) => {
                        let reply = Reply {
                            xid,
                            zxid: Zxid::ZERO,
                            err,
                            body: Response::Empty,
                        };
                        self.send(out, conn, ClientOutput::Reply { conn, reply });
                        self.close(out, conn, "authentication failed");
                        return RequestAction::Close;
                    }
                }
                RequestAction::None
            }
            Request::Unsupported { op } => {
                let reply = Reply {
                    xid,
                    zxid: self.tree.last_processed_zxid(),
                    err: ErrorCode::Unimplemented,
                    body: Response::Empty,
                };
                self.send(out, conn, ClientOutput::Reply { conn, reply });
                let _ = op;
                self.close(out, conn, "unimplemented operation");
                RequestAction::Close
            }
            Request::Sync { path } => {
                c.queue.push_back(Pending::Sync {
                    xid,
                    path: path.clone(),
                    since: now,
                });
                RequestAction::Sync {
                    session,
                    cxid: xid,
                    path,
                }
            }
            req if req.is_write() => {
                c.queue.push_back(Pending::Write {
                    xid,
                    req: req.clone(),
                    since: now,
                });
                RequestAction::Write {
                    session,
                    cxid: xid,
                    req,
                }
            }
            req => {
                c.queue.push_back(Pending::Read {
                    xid,
                    req,
                    since: now,
                });
                self.drain(out, conn, now);
                RequestAction::None
            }
        }
    }

    /// Answers the reads at the head of a connection's queue.
    fn drain(&mut self, out: &mut VecDeque<Output>, conn: ConnId, now: Millis) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            match c.queue.front() {
                Some(Pending::Read { .. }) => {}
                _ => return,
            }
            let Some(Pending::Read { xid, req, since }) = c.queue.pop_front() else {
                return;
            };
            let auth = c.auth.clone();
            let session = c.session.unwrap_or_default();
            let reply = self.read(out, conn, session, &auth, xid, &req);
            self.finish(out, conn, reply, req.name(), since, now);
        }
    }

    fn finish(
        &mut self,
        out: &mut VecDeque<Output>,
        conn: ConnId,
        reply: Reply,
        op_name: &str,
        since: Millis,
        now: Millis,
    ) {
        let lat = now.saturating_sub(since);
        self.latency.record(lat);
        if let Some(c) = self.conns.get_mut(&conn) {
            let s = &mut c.stats;
            s.min_latency = if s.completed == 0 {
                lat
            } else {
                s.min_latency.min(lat)
            };
            s.max_latency = s.max_latency.max(lat);
            s.total_latency += lat;
            s.completed += 1;
            s.last_latency = lat;
            // Reuses the buffer: this runs for every reply.
            s.last_op.clear();
            s.last_op.push_str(op_short(op_name));
            if reply.xid >= 0 {
                s.last_cxid = reply.xid;
            }
            s.last_zxid = reply.zxid;
            s.last_response_time = now;
        }
        self.send(out, conn, ClientOutput::Reply { conn, reply });
    }

    /// `FinalRequestProcessor` for reads.
    fn read(
        &mut self,
        out: &mut VecDeque<Output>,
        conn: ConnId,
        session: SessionId,
        auth: &[Id],
        xid: i32,
        req: &Request,
    ) -> Reply {
        let zxid = self.tree.last_processed_zxid();
        let ok = |body| Reply {
            xid,
            zxid,
            err: ErrorCode::Ok,
            body,
        };
        let fail = |err| Reply {
            xid,
            zxid,
            err,
            body: Response::Empty,
        };
        let skip = self.config.skip_acl;
        match req {
            Request::Ping => Reply {
                xid: crate::request::xid::PING,
                zxid,
                err: ErrorCode::Ok,
                body: Response::Empty,
            },
            Request::Exists { path, watch } => {
                if path.contains('\0') {
                    return fail(ErrorCode::BadArguments);
                }
                if *watch {
                    self.watches.add_data_watch(path, conn);
                }
                match self.tree.stat(path) {
                    Some(s) => ok(Response::Stat(s)),
                    None => fail(ErrorCode::NoNode),
                }
            }
            Request::GetData { path, watch } => match self.get_data(conn, auth, path, *watch) {
                Ok((data, stat)) => ok(Response::GetData { data, stat }),
                Err(e) => fail(e),
            },
            Request::GetChildren { path, watch } => {
                match self.get_children(conn, auth, path, *watch) {
                    Ok(children) => ok(Response::GetChildren { children }),
                    Err(e) => fail(e),
                }
            }
            Request::GetChildren2 { path, watch } => {
                match self.get_children(conn, auth, path, *watch) {
                    Ok(children) => {
                        let stat = self.tree.stat(path).unwrap_or_default();
                        ok(Response::GetChildren2 { children, stat })
                    }
                    Err(e) => fail(e),
                }
            }
            Request::GetAcl { path } => {
                let Some(n) = self.tree.get(path) else {
                    return fail(ErrorCode::NoNode);
                };
                let acl = self.tree.acl_of(n).to_vec();
                if let Err(e) = check_acl(&acl, perms::READ | perms::ADMIN, auth, skip) {
                    return fail(e);
                }
                let stat = self.tree.stat_of(n);
                let acl = if check_acl(&acl, perms::ADMIN, auth, skip).is_ok() {
                    acl
                } else {
                    acl.into_iter()
                        .map(|a| {
                            if a.id.scheme == "digest" {
                                let user = a.id.id.split(':').next().unwrap_or("");
                                Acl::new(a.perms, Id::new("digest", format!("{user}:x")))
                            } else {
                                a
                            }
                        })
                        .collect()
                };
                ok(Response::GetAcl { acl, stat })
            }
            Request::GetAllChildrenNumber { path } => {
                let Some(n) = self.tree.get(path) else {
                    return fail(ErrorCode::NoNode);
                };
                if let Err(e) = check_acl(self.tree.acl_of(n), perms::READ, auth, skip) {
                    return fail(e);
                }
                ok(Response::AllChildrenNumber(
                    self.tree.all_children_number(path).unwrap_or(0) as i32,
                ))
            }
            Request::GetEphemerals { prefix } => {
                let all = self.tree.ephemerals(session);
                let p = prefix.trim();
                let list = if p.is_empty() || p == "/" {
                    all
                } else {
                    all.into_iter()
                        .filter(|e| e.starts_with(prefix.as_str()))
                        .collect()
                };
                ok(Response::Ephemerals(list))
            }
            Request::AddWatch { path, mode } => {
                match *mode {
                    add_watch_mode::PERSISTENT => self.watches.add_persistent(path, conn, false),
                    add_watch_mode::PERSISTENT_RECURSIVE => {
                        self.watches.add_persistent(path, conn, true)
                    }
                    _ => return fail(ErrorCode::MarshallingError),
                }
                ok(Response::ErrorResponse(0))
            }
            Request::CheckWatches { path, watcher_type } => {
                match self.watches.contains(path, *watcher_type, conn) {
                    Some(true) => ok(Response::Empty),
                    Some(false) => fail(ErrorCode::NoWatcher),
                    None => fail(ErrorCode::MarshallingError),
                }
            }
            Request::RemoveWatches { path, watcher_type } => {
                match self.watches.remove(path, *watcher_type, conn) {
                    Some(true) => ok(Response::Empty),
                    Some(false) => fail(ErrorCode::NoWatcher),
                    None => fail(ErrorCode::MarshallingError),
                }
            }
            Request::SetWatches { watches, .. } => {
                let mut notes = std::mem::take(&mut self.scratch_notes);
                self.watches
                    .set_watches(&self.tree, watches, conn, &mut notes);
                for (c, event) in notes.drain(..) {
                    self.send(out, c, ClientOutput::Event { conn: c, event });
                }
                self.scratch_notes = notes;
                ok(Response::Empty)
            }
            Request::WhoAmI => ok(Response::WhoAmI(
                auth.iter().map(ClientInfo::from).collect(),
            )),
            Request::MultiRead(ops) => {
                let mut results = Vec::with_capacity(ops.len());
                for o in ops {
                    results.push(match o {
                        Request::GetChildren { path, watch } => {
                            match self.get_children(conn, auth, path, *watch) {
                                Ok(children) => OpResult::GetChildren { children },
                                Err(err) => OpResult::Error { err },
                            }
                        }
                        Request::GetData { path, watch } => {
                            match self.get_data(conn, auth, path, *watch) {
                                Ok((data, stat)) => OpResult::GetData { data, stat },
                                Err(err) => OpResult::Error { err },
                            }
                        }
                        _ => OpResult::Error {
                            err: ErrorCode::BadArguments,
                        },
                    });
                }
                ok(Response::Multi(results))
            }
            Request::Malformed { .. } => fail(ErrorCode::MarshallingError),
            _ => fail(ErrorCode::Unimplemented),
        }
    }

    fn get_data(
        &mut self,
        conn: ConnId,
        auth: &[Id],
        path: &str,
        watch: bool,
    ) -> Result<(Option<Vec<u8>>, crate::stat::Stat), ErrorCode> {
        let n = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        check_acl(self.tree.acl_of(n), perms::READ, auth, self.config.skip_acl)?;
        let r = (n.data().map(<[u8]>::to_vec), self.tree.stat_of(n));
        if watch {
            self.watches.add_data_watch(path, conn);
        }
        Ok(r)
    }

    fn get_children(
        &mut self,
        conn: ConnId,
        auth: &[Id],
        path: &str,
        watch: bool,
    ) -> Result<Vec<String>, ErrorCode> {
        let n = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        check_acl(self.tree.acl_of(n), perms::READ, auth, self.config.skip_acl)?;
        let children = self.tree.children_of(n);
        if watch {
            self.watches.add_child_watch(path, conn);
        }
        Ok(children)
    }

    /// Applies a committed transaction: the tree changes, watch events go out, and if the
    /// request came through one of this server's connections it is answered (after the events).
    pub fn commit(
        &mut self,
        out: &mut VecDeque<Output>,
        entry: &TxnEntry,
        now: Millis,
    ) -> TxnResult {
        let mut events = std::mem::take(&mut self.scratch_events);
        let rc = self.tree.apply_entry(entry, &mut events);
        self.committed += 1;
        let mut notes = std::mem::take(&mut self.scratch_notes);
        for ev in events.drain(..) {
            self.watches.trigger(&ev, &mut notes);
        }
        for (c, event) in notes.drain(..) {
            self.send(out, c, ClientOutput::Event { conn: c, event });
        }
        self.scratch_events = events;
        self.scratch_notes = notes;

        let session = entry.hdr.session;
        let Some(conn) = self.by_session.get(&session).copied() else {
            return rc;
        };
        if entry.txn.op_code() == op::CLOSE_SESSION {
            // Answer a client's own closeSession; either way the session's connection goes.
            if let Some(Pending::Write {
                xid,
                req: Request::CloseSession,
                since,
            }) = self.conns.get(&conn).and_then(|c| c.queue.front()).cloned()
            {
                if xid == entry.hdr.cxid {
                    self.pop_front(conn);
                    let reply = Reply {
                        xid,
                        zxid: entry.zxid(),
                        err: ErrorCode::Ok,
                        body: Response::Empty,
                    };
                    self.finish(out, conn, reply, "closeSession", since, now);
                }
            }
            self.close(out, conn, "session closed");
            return rc;
        }
        let front = self.conns.get(&conn).and_then(|c| c.queue.front()).cloned();
        match front {
            Some(Pending::Write { xid, req, since }) if xid == entry.hdr.cxid => {
                self.pop_front(conn);
                if let Some(reply) = self.write_reply(xid, &req, entry, &rc) {
                    self.finish(out, conn, reply, req.name(), since, now);
                } else {
                    self.close(out, conn, "session moved to another server");
                    return rc;
                }
                self.drain(out, conn, now);
            }
            _ => {
                // A transaction of this session that its connection here is not waiting for
                // (sent through another server before the client moved): nothing to answer.
            }
        }
        rc
    }

    fn pop_front(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.pop_front();
        }
    }

    /// The reply to a write, from its request and its transaction's result. `None` when the
    /// connection must be closed instead (SessionMoved).
    fn write_reply(
        &self,
        xid: i32,
        req: &Request,
        entry: &TxnEntry,
        rc: &TxnResult,
    ) -> Option<Reply> {
        let zxid = entry.zxid();
        let body = |b| {
            Some(Reply {
                xid,
                zxid,
                err: ErrorCode::Ok,
                body: b,
            })
        };
        if rc.op == op::ERROR {
            if rc.err == ErrorCode::SessionMoved {
                return None;
            }
            return Some(Reply {
                xid,
                zxid,
                err: rc.err,
                body: Response::Empty,
            });
        }
        if !rc.err.is_ok() && rc.op != op::MULTI {
            return Some(Reply {
                xid,
                zxid,
                err: rc.err,
                body: Response::Empty,
            });
        }
        match req {
            Request::Create { op: o, .. } => {
                let path = rc.path.clone().unwrap_or_default();
                if *o == op::CREATE {
                    body(Response::Create { path })
                } else {
                    body(Response::Create2 {
                        path,
                        stat: rc.stat.unwrap_or_default(),
                    })
                }
            }
            Request::Delete { .. } => body(Response::Empty),
            Request::SetData { .. } | Request::SetAcl { .. } => {
                body(Response::Stat(rc.stat.unwrap_or_default()))
            }
            Request::Check { path, .. } => {
                body(Response::Stat(self.tree.stat(path).unwrap_or_default()))
            }
            Request::Multi(ops) => {
                let mut results = Vec::with_capacity(ops.len());
                for (o, sub) in ops.iter().zip(rc.multi.iter()) {
                    if sub.op == op::ERROR {
                        if sub.err == ErrorCode::SessionMoved {
                            return None;
                        }
                        results.push(OpResult::Error { err: sub.err });
                        continue;
                    }
                    results.push(match o {
                        Request::Create { op: co, .. } => OpResult::Create {
                            op: *co,
                            path: sub.path.clone().unwrap_or_default(),
                            stat: if *co == op::CREATE { None } else { sub.stat },
                        },
                        Request::Delete { .. } => OpResult::Delete,
                        Request::SetData { .. } => OpResult::SetData {
                            stat: sub.stat.unwrap_or_default(),
                        },
                        _ => OpResult::Check,
                    });
                }
                body(Response::Multi(results))
            }
            _ => body(Response::Empty),
        }
    }

    /// A write was refused before it became a transaction (the role could not take it): answer
    /// it with `err` so the connection's queue moves on.
    pub fn fail_write(
        &mut self,
        out: &mut VecDeque<Output>,
        conn: ConnId,
        xid: i32,
        err: ErrorCode,
        now: Millis,
    ) {
        let front = self.conns.get(&conn).and_then(|c| c.queue.front()).cloned();
        if let Some(Pending::Write { xid: x, req, since }) = front {
            if x == xid {
                self.pop_front(conn);
                let reply = Reply {
                    xid,
                    zxid: self.tree.last_processed_zxid(),
                    err,
                    body: Response::Empty,
                };
                self.finish(out, conn, reply, req.name(), since, now);
                self.drain(out, conn, now);
            }
        }
    }

    /// The sync at the head of `conn`'s queue is done: answer it and the reads behind it.
    pub fn sync_done(&mut self, out: &mut VecDeque<Output>, conn: ConnId, xid: i32, now: Millis) {
        let front = self.conns.get(&conn).and_then(|c| c.queue.front()).cloned();
        if let Some(Pending::Sync {
            xid: x,
            path,
            since,
        }) = front
        {
            if x == xid {
                self.pop_front(conn);
                let reply = Reply {
                    xid,
                    zxid: self.tree.last_processed_zxid(),
                    err: ErrorCode::Ok,
                    body: Response::Sync { path },
                };
                self.finish(out, conn, reply, "sync", since, now);
                self.drain(out, conn, now);
            }
        }
    }

    /// Closes every client connection (the server is leaving service, e.g. a follower that lost
    /// its leader). Sessions live on in the ensemble; clients reconnect.
    pub fn close_all(&mut self, out: &mut VecDeque<Output>, reason: &'static str) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(out, id, reason);
        }
    }

    /// Closes the connection carrying `session`, if any (the session expired).
    pub fn close_session_conn(
        &mut self,
        out: &mut VecDeque<Output>,
        session: SessionId,
        reason: &'static str,
    ) {
        if let Some(c) = self.by_session.get(&session).copied() {
            self.close(out, c, reason);
        }
    }

    /// Sends an event to one connection (used for connection-state events in tests and the
    /// playground's console).
    pub fn notify(&mut self, out: &mut VecDeque<Output>, conn: ConnId, event: WatchedEvent) {
        self.send(out, conn, ClientOutput::Event { conn, event });
    }
}

/// The four-letter operation names ZooKeeper's `cons` prints.
fn op_short(name: &str) -> &'static str {
    match name {
        "ping" => "PING",
        "createSession" => "SESS",
        "multi" => "MULT",
        "multiRead" => "MLTR",
        "create" | "create2" | "createTTL" | "createContainer" => "CREA",
        "delete" | "deleteContainer" => "DELE",
        "setData" => "SETD",
        "reconfig" => "RECO",
        "setACL" => "SETA",
        "closeSession" => "CLOS",
        "sync" => "SYNC",
        "check" => "CHEC",
        "exists" => "EXIS",
        "getData" => "GETD",
        "setWatches" => "SETW",
        "setWatches2" => "STW2",
        "addWatch" => "ADDW",
        "getACL" => "GETA",
        "getChildren" | "getChildren2" => "GETC",
        "getAllChildrenNumber" => "GETACN",
        "checkWatches" => "CHKW",
        "removeWatches" => "REMW",
        "whoAmI" => "HOMI",
        "getEphemerals" => "GETE",
        _ => "NA",
    }
}

#[cfg(test)]
mod buffer_stats_tests {
    use super::BufferStats;

    #[test]
    fn buffer_stats_start_at_minus_one_and_track_last_min_max() {
        let mut b = BufferStats::default();
        assert_eq!(b.to_string(), "-1/-1/-1");
        b.record(90);
        b.record(48);
        b.record(91);
        b.record(90);
        assert_eq!(b.to_string(), "90/48/91");
        assert_eq!((b.last, b.min, b.max), (90, 48, 91));
    }
}
