//! The client's session, without IO (`ClientCnxn` in Java): one state machine that the
//! simulator, zk-native's client library (and so zkcli) and zkbench all drive.
//!
//! ```text
//!   driver ──start_connect / connected / connect_failed / connection_lost──▶ ┌─────────┐
//!          ──request / add_auth / remove_watches / close──────────────────▶ │ Session │
//!          ──on_frame (bytes) or on_reply / on_event (typed), tick(now)───▶ └────┬────┘
//!          ◀──────── poll(): Send, State, Drop, Reply, Auth, Removed, Closed, Watch ┘
//! ```
//!
//! What it decides, as ZooKeeper's Java client does:
//! * a connection starts with `ConnectRequest` (the session id, password and last zxid seen once
//!   there is a session); a `ConnectResponse` with a timeout of 0 means the session expired;
//! * on every new connection it sends the auth packets first (every `addauth` so far), then the
//!   watches it holds (`setWatches`, relative to the last zxid seen, so the server fires what
//!   changed meanwhile), then the requests that waited for a connection;
//! * requests are answered strictly in the order they went out; a reply with another xid breaks
//!   the connection (`Xid out of order`). Auth answers come ahead of that order, pings and
//!   `setWatches` answers outside it;
//! * it pings when nothing was sent for a third of the negotiated timeout, and gives a connection
//!   up when nothing was heard for two thirds (an attempt to connect: the timeout divided by the
//!   number of hosts);
//! * a broken connection fails what was sent with ConnectionLoss, the session moves to the next
//!   server the driver picks; the end of the session (expired, closed, auth failed) fails
//!   everything and tells every watcher once.
//!
//! Watches live in a [`WatchRegistry`]: registered when the reply to the read that set them
//! arrives, fired by notifications, sent again after reconnects. Which host to try next, how long
//! to pause between attempts and how to hand results to callers stay with the driver.

pub mod watches;

use std::collections::VecDeque;

use crate::proto::{decode_reply, decode_reply_header, decode_watch_event};
use crate::request::{
    xid, ConnectRequest, ConnectResponse, EventType, KeeperState, Reply, Request, WatchedEvent,
};
use crate::types::{Millis, SessionId, Zxid};
use crate::ErrorCode;

pub use watches::{Removed, WatchRegistry, WatchRequest, WatcherId, WatcherType};

/// The path the server sees for a client path under `chroot` (`ZooKeeper.prependChroot`).
pub fn to_server_path(chroot: Option<&str>, client_path: &str) -> String {
    match chroot {
        None => client_path.to_string(),
        Some(c) if client_path == "/" => c.to_string(),
        Some(c) => format!("{c}{client_path}"),
    }
}

/// The client's path for a server path, as `ClientCnxn` strips a chroot from event paths: the
/// chroot itself is `/`; a path too short to be under the chroot is left as it is.
pub fn to_client_path(chroot: Option<&str>, server_path: &str) -> String {
    match chroot {
        None => server_path.to_string(),
        Some(c) if server_path == c => "/".to_string(),
        Some(c) if server_path.len() > c.len() && server_path.starts_with(c) => {
            server_path[c.len()..].to_string()
        }
        Some(_) => server_path.to_string(),
    }
}

/// The state of a client's session (`ZooKeeper.States`). Displays as Java names it, which zkCli
/// shows in its prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum States {
    /// No connection yet, or between connections.
    Connecting,
    Connected,
    /// Connected to a server that is cut off from its quorum and serves reads only.
    ConnectedReadOnly,
    /// The server refused an auth packet and closed the session's connection.
    AuthFailed,
    /// The session expired; the client is done. Java shows this as CLOSED.
    Expired,
    /// Closed by the client (or given up).
    Closed,
}

impl States {
    /// Can the client still be used (Java's `isAlive`)?
    pub fn is_alive(self) -> bool {
        !matches!(self, States::AuthFailed | States::Expired | States::Closed)
    }
    pub fn is_connected(self) -> bool {
        matches!(self, States::Connected | States::ConnectedReadOnly)
    }
}

impl std::fmt::Display for States {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            States::Connecting => "CONNECTING",
            States::Connected => "CONNECTED",
            States::ConnectedReadOnly => "CONNECTEDREADONLY",
            States::AuthFailed => "AUTH_FAILED",
            States::Expired | States::Closed => "CLOSED",
        })
    }
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Closed by the client, or abandoned.
    Closed,
    /// The server said the session is gone.
    Expired,
    /// The server refused an auth packet.
    AuthFailed,
}

/// Why a request got no answer from the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A ZooKeeper error code: ConnectionLoss, SessionExpired, AuthFailed, or one the server's
    /// answer implied (NoWatcher for a `removeWatches` with nothing to remove).
    Code(ErrorCode),
    /// The client was closed.
    Closed,
}

impl From<End> for Failure {
    fn from(e: End) -> Failure {
        match e {
            End::Closed => Failure::Closed,
            End::Expired => Failure::Code(ErrorCode::SessionExpired),
            End::AuthFailed => Failure::Code(ErrorCode::AuthFailed),
        }
    }
}

const CONNECTION_LOSS: Failure = Failure::Code(ErrorCode::ConnectionLoss);

/// A watch a read asks for: registered for `watcher` if the reply says it was set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    pub request: WatchRequest,
    /// Client path (chroot not included).
    pub path: String,
    pub watcher: WatcherId,
}

impl Registration {
    /// The default watcher's watch a request asks for: a read's own flag (`exists`,
    /// `getData`, `getChildren` with `watch` set, as ZooKeeper's `watch: boolean` overloads
    /// register it), or `addWatch` with the default watcher (as zkCli's `addWatch` does).
    pub fn by_flag(request: &Request, chroot: Option<&str>) -> Option<Registration> {
        let (kind, path) = match request {
            Request::AddWatch { path, mode } => (
                if *mode == crate::request::add_watch_mode::PERSISTENT_RECURSIVE {
                    WatchRequest::PersistentRecursive
                } else {
                    WatchRequest::Persistent
                },
                path,
            ),
            Request::Exists { path, watch: true } => (WatchRequest::Exists, path),
            Request::GetData { path, watch: true } => (WatchRequest::Data, path),
            Request::GetChildren { path, watch: true }
            | Request::GetChildren2 { path, watch: true } => (WatchRequest::Children, path),
            _ => return None,
        };
        Some(Registration {
            request: kind,
            path: to_client_path(chroot, path),
            watcher: WatcherId::Default,
        })
    }
}

/// What the session needs to start.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The session timeout asked for, in ms.
    pub timeout_ms: i32,
    /// Accept a read-only server (`canBeReadOnly`).
    pub read_only: bool,
    pub chroot: Option<String>,
    /// How many hosts the connect string names (an attempt gets the timeout divided by it).
    pub hosts: usize,
    /// A session to resume (id and password).
    pub session: Option<(SessionId, Vec<u8>)>,
    /// Auth packets to send on every connection.
    pub auths: Vec<(String, Vec<u8>)>,
    /// How long one attempt to connect may take, instead of Java's rule (the timeout divided
    /// by the number of hosts). The simulator, whose network and disks are slowed down to be
    /// watched, gives two thirds of the timeout.
    pub connect_timeout: Option<Millis>,
}

impl SessionConfig {
    pub fn new(timeout_ms: i32, hosts: usize) -> SessionConfig {
        SessionConfig {
            timeout_ms,
            read_only: false,
            chroot: None,
            hosts,
            session: None,
            auths: Vec::new(),
            connect_timeout: None,
        }
    }
}

/// What the session tells its driver. `T` is the driver's token for whoever waits on an answer.
#[derive(Clone, Debug)]
pub enum Output<T> {
    /// Write this request on the connection.
    Send { xid: i32, request: Request },
    /// The session's state changed; `keeper` is the event the default watcher hears.
    State { state: States, keeper: KeeperState },
    /// The session gives the connection up (read timeout, a reply out of order, a frame it
    /// cannot read, an auth refused, the session closed): close it.
    Drop { cause: DropCause },
    /// The answer to [`Session::request`].
    Reply {
        tag: T,
        xid: i32,
        result: Result<Reply, Failure>,
    },
    /// The answer to [`Session::add_auth`].
    Auth { tag: T, result: Result<(), Failure> },
    /// The answer to [`Session::remove_watches`] (with the xid it went with).
    Removed {
        tag: T,
        xid: i32,
        result: Result<(), Failure>,
    },
    /// [`Session::close`] is done: the session has ended. `reply` is the server's answer to
    /// closeSession, when there was one.
    Closed {
        tag: T,
        xid: i32,
        reply: Option<Reply>,
    },
    /// Tell this watcher this event.
    Watch {
        watcher: WatcherId,
        event: WatchedEvent,
    },
    /// A watcher handed to [`Session::request`] that will never be told anything: its read
    /// failed or set no watch.
    Unregistered { watcher: WatcherId },
}

#[derive(Clone, Debug)]
enum Op<T> {
    Request {
        xid: i32,
        request: Request,
        watch: Option<Registration>,
        tag: T,
    },
    Auth {
        scheme: String,
        auth: Vec<u8>,
        tag: T,
    },
    RemoveWatches(RemoveWatches<T>),
    Close {
        xid: i32,
        tag: T,
    },
}

#[derive(Clone, Debug)]
struct RemoveWatches<T> {
    xid: i32,
    path: String,
    watcher_type: WatcherType,
    local: bool,
    tag: T,
}

#[derive(Clone, Debug)]
struct Pending<T> {
    xid: i32,
    op: i32,
    kind: PendingKind<T>,
}

#[derive(Clone, Debug)]
enum PendingKind<T> {
    Request { watch: Option<Registration>, tag: T },
    RemoveWatches(RemoveWatches<T>),
    Close { tag: T },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No connection: before the first, between two, or after a failed attempt.
    Idle,
    Connecting {
        since: Millis,
    },
    Connected {
        read_only: bool,
    },
    Ended(End),
}

/// Why the session gives a connection up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropCause {
    /// Nothing heard from the server for two thirds of the negotiated timeout.
    Silent { ms: Millis, session: SessionId },
    /// No session within the connect timeout.
    NoSession { ms: Millis },
    /// A reply to another request than the oldest one outstanding (`want`; None: nothing was).
    OutOfOrder {
        got: i32,
        want: Option<i32>,
        err: ErrorCode,
    },
    /// A frame that cannot be read.
    Unreadable(String),
    /// The server refused an auth packet.
    AuthFailed,
    /// closeSession was answered, or went unanswered too long.
    Closed,
}

impl DropCause {
    /// The server answered wrongly (as opposed to going silent or away).
    pub fn is_wrong_answer(&self) -> bool {
        matches!(
            self,
            DropCause::OutOfOrder { .. } | DropCause::Unreadable(_)
        )
    }
}

impl std::fmt::Display for DropCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DropCause::Silent { ms, session } => write!(
                f,
                "Client session timed out, have not heard from server in {ms}ms for session id {session}"
            ),
            DropCause::NoSession { ms } => write!(f, "no session within {ms} ms"),
            DropCause::OutOfOrder {
                got,
                want: Some(want),
                err,
            } => write!(
                f,
                "Xid out of order. Got Xid {got} with err {} expected Xid {want}",
                err.code()
            ),
            DropCause::OutOfOrder { got, want: None, .. } => {
                write!(f, "Nothing in the queue, but got {got}")
            }
            DropCause::Unreadable(why) => f.write_str(why),
            DropCause::AuthFailed => f.write_str("authentication failed"),
            DropCause::Closed => f.write_str("session closed"),
        }
    }
}

/// One connection's bookkeeping.
#[derive(Clone, Debug)]
struct Conn<T> {
    pending: VecDeque<Pending<T>>,
    /// Auth packets are answered by the server as soon as it reads them, ahead of requests still
    /// in its pipeline, so they have a queue of their own. `None` for re-sent ones.
    auth_waiters: VecDeque<Option<T>>,
    last_send: Millis,
    last_recv: Millis,
    /// Set once closeSession is sent: the session ends by then, answered or not.
    close_deadline: Option<Millis>,
}

impl<T> Conn<T> {
    fn new(now: Millis) -> Conn<T> {
        Conn {
            pending: VecDeque::new(),
            auth_waiters: VecDeque::new(),
            last_send: now,
            last_recv: now,
            close_deadline: None,
        }
    }
}

/// The largest frame the client reads from a server. Servers refuse requests over
/// `jute.maxbuffer` (1 MiB by default), but a reply (the children of a big node) can be larger.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// One client session; see the module's documentation.
#[derive(Clone, Debug)]
pub struct Session<T> {
    cfg: SessionConfig,
    id: SessionId,
    passwd: Vec<u8>,
    negotiated: i32,
    last_zxid: Zxid,
    auths: Vec<(String, Vec<u8>)>,
    watches: WatchRegistry,
    next_xid: i32,
    phase: Phase,
    conn: Conn<T>,
    /// What was asked while there was no connection, for the next one.
    queued: VecDeque<Op<T>>,
    out: VecDeque<Output<T>>,
}

impl<T> Session<T> {
    pub fn new(mut cfg: SessionConfig) -> Session<T> {
        let (id, passwd) = cfg
            .session
            .take()
            .unwrap_or_else(|| (SessionId(0), vec![0; 16]));
        cfg.hosts = cfg.hosts.max(1);
        let auths = std::mem::take(&mut cfg.auths);
        Session {
            cfg,
            id,
            passwd,
            negotiated: 0,
            last_zxid: Zxid(0),
            auths,
            watches: WatchRegistry::default(),
            next_xid: 1,
            phase: Phase::Idle,
            conn: Conn::new(0),
            queued: VecDeque::new(),
            out: VecDeque::new(),
        }
    }

    // ---- what the driver reads ----------------------------------------------------------

    /// The next thing to do or tell.
    pub fn poll(&mut self) -> Option<Output<T>> {
        self.out.pop_front()
    }

    pub fn state(&self) -> States {
        match self.phase {
            Phase::Idle | Phase::Connecting { .. } => States::Connecting,
            Phase::Connected { read_only: false } => States::Connected,
            Phase::Connected { read_only: true } => States::ConnectedReadOnly,
            Phase::Ended(End::Closed) => States::Closed,
            Phase::Ended(End::Expired) => States::Expired,
            Phase::Ended(End::AuthFailed) => States::AuthFailed,
        }
    }

    /// How the session ended, if it has.
    pub fn ended(&self) -> Option<End> {
        match self.phase {
            Phase::Ended(e) => Some(e),
            _ => None,
        }
    }

    /// An attempt to connect is under way.
    pub fn is_connecting(&self) -> bool {
        matches!(self.phase, Phase::Connecting { .. })
    }

    /// No connection and none being made: the driver may start one.
    pub fn is_idle(&self) -> bool {
        self.phase == Phase::Idle
    }

    pub fn session_id(&self) -> SessionId {
        self.id
    }

    pub fn password(&self) -> &[u8] {
        &self.passwd
    }

    /// The negotiated timeout in ms (0 before the first connection).
    pub fn negotiated_timeout(&self) -> i32 {
        self.negotiated
    }

    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    pub fn chroot(&self) -> Option<&str> {
        self.cfg.chroot.as_deref()
    }

    pub fn watches(&self) -> &WatchRegistry {
        &self.watches
    }

    /// Requests sent on the current connection and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.conn.pending.len()
    }

    /// How long one attempt to connect may take (`connectTimeout`: the session timeout divided
    /// by the number of hosts, at least 100 ms).
    pub fn connect_timeout(&self) -> Millis {
        if let Some(t) = self.cfg.connect_timeout {
            return t;
        }
        let t = if self.negotiated > 0 {
            self.negotiated
        } else {
            self.cfg.timeout_ms
        };
        ((t.max(1) as Millis) / self.cfg.hosts as Millis).max(100)
    }

    fn read_timeout(&self) -> Millis {
        (self.negotiated.max(1) as Millis * 2 / 3).max(1)
    }

    fn ping_every(&self) -> Millis {
        (self.negotiated.max(1) as Millis / 3).max(1)
    }

    // ---- connections --------------------------------------------------------------------

    /// Starts an attempt to connect: the `ConnectRequest` to send. None when the session is
    /// over or a connection is already up or under way.
    pub fn start_connect(&mut self, now: Millis) -> Option<ConnectRequest> {
        if self.phase != Phase::Idle {
            return None;
        }
        self.phase = Phase::Connecting { since: now };
        Some(ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.last_zxid,
            timeout: self.cfg.timeout_ms,
            session_id: self.id,
            passwd: self.passwd.clone(),
            read_only: Some(self.cfg.read_only),
        })
    }

    /// The server answered the `ConnectRequest`. The driver has forgotten watchers nobody
    /// listens to any more ([`Session::forget_watcher`]) before this, as their paths go back now.
    pub fn connected(&mut self, resp: &ConnectResponse, now: Millis) {
        if !self.is_connecting() {
            return;
        }
        if resp.timeout <= 0 || resp.session_id.0 == 0 {
            self.end(End::Expired);
            return;
        }
        self.id = resp.session_id;
        self.passwd = resp.passwd.clone();
        self.negotiated = resp.timeout;
        self.phase = Phase::Connected {
            read_only: resp.read_only,
        };
        self.conn = Conn::new(now);
        let (state, keeper) = if resp.read_only {
            (States::ConnectedReadOnly, KeeperState::ConnectedReadOnly)
        } else {
            (States::Connected, KeeperState::SyncConnected)
        };
        self.publish(state, keeper);
        // First the auth packets, then the watches, then what waited.
        for (scheme, auth) in self.auths.clone() {
            self.conn.auth_waiters.push_back(None);
            self.send(xid::AUTH, auth_request(&scheme, &auth), now);
        }
        let sets = self.watches.set_watches(self.chroot(), self.last_zxid);
        for (v2, watches) in sets {
            self.send(xid::SET_WATCHES, Request::SetWatches { v2, watches }, now);
        }
        while let Some(op) = self.queued.pop_front() {
            self.submit(op, now);
            if !matches!(self.phase, Phase::Connected { .. }) {
                break;
            }
        }
    }

    /// The attempt to connect failed (refused, timed out, or no answer that could be read).
    /// What waited for it fails with ConnectionLoss; a close that waited ends the session.
    pub fn connect_failed(&mut self, _why: &str) {
        if !self.is_connecting() {
            return;
        }
        self.phase = Phase::Idle;
        self.fail_queued();
    }

    /// The connection broke (or the driver dropped it). What was sent on it fails with
    /// ConnectionLoss; a close that was sent ends the session.
    pub fn connection_lost(&mut self, why: &str) {
        match self.phase {
            Phase::Connecting { .. } => self.connect_failed(why),
            Phase::Connected { .. } => {
                self.phase = Phase::Idle;
                let conn = std::mem::replace(&mut self.conn, Conn::new(0));
                let mut closed = Vec::new();
                for p in conn.pending {
                    match p.kind {
                        PendingKind::Request { watch, tag } => {
                            self.fail_request(tag, p.xid, watch, CONNECTION_LOSS)
                        }
                        PendingKind::RemoveWatches(rw) => self.fail_remove(rw, CONNECTION_LOSS),
                        PendingKind::Close { tag } => closed.push((tag, p.xid)),
                    }
                }
                for tag in conn.auth_waiters.into_iter().flatten() {
                    self.out.push_back(Output::Auth {
                        tag,
                        result: Err(CONNECTION_LOSS),
                    });
                }
                if !closed.is_empty() {
                    // Nobody to tell the close to now: the server times the session out, as
                    // with Java's client.
                    self.end(End::Closed);
                    for (tag, xid) in closed {
                        self.out.push_back(Output::Closed {
                            tag,
                            xid,
                            reply: None,
                        });
                    }
                    return;
                }
                self.publish(States::Connecting, KeeperState::Disconnected);
            }
            Phase::Idle | Phase::Ended(_) => {}
        }
    }

    /// Gives the connection up from inside: the driver must close it.
    fn drop_connection(&mut self, cause: DropCause) {
        let why = cause.to_string();
        self.out.push_back(Output::Drop { cause });
        self.connection_lost(&why);
    }

    // ---- what callers ask ---------------------------------------------------------------

    fn xid(&mut self) -> i32 {
        let x = self.next_xid;
        // Negative xids are reserved for pings, auth, notifications and setWatches.
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }

    /// A request, with the watch it may set. Returns its xid; the answer comes as
    /// [`Output::Reply`] (and [`Output::Unregistered`] when `watch` was not set).
    pub fn request(
        &mut self,
        request: Request,
        watch: Option<Registration>,
        tag: T,
        now: Millis,
    ) -> i32 {
        let xid = self.xid();
        self.submit(
            Op::Request {
                xid,
                request,
                watch,
                tag,
            },
            now,
        );
        xid
    }

    /// `addauth`: remembered for every later connection, sent now (or on the next connection).
    pub fn add_auth(&mut self, scheme: &str, auth: &[u8], tag: T, now: Millis) {
        self.submit(
            Op::Auth {
                scheme: scheme.to_string(),
                auth: auth.to_vec(),
                tag,
            },
            now,
        );
    }

    /// `removeWatches` on the server, then the matching watchers here; with `local`, here even
    /// when the server cannot be reached. Returns the xid it goes with.
    pub fn remove_watches(
        &mut self,
        path: &str,
        watcher_type: WatcherType,
        local: bool,
        tag: T,
        now: Millis,
    ) -> i32 {
        let xid = self.xid();
        self.submit(
            Op::RemoveWatches(RemoveWatches {
                xid,
                path: path.to_string(),
                watcher_type,
                local,
                tag,
            }),
            now,
        );
        xid
    }

    /// Closes the session: closeSession on the connection, or at once when there is none.
    /// Returns the xid closeSession goes with.
    pub fn close(&mut self, tag: T, now: Millis) -> i32 {
        let xid = self.xid();
        self.submit(Op::Close { xid, tag }, now);
        xid
    }

    /// Ends the session here without telling the server, as a process that dies does.
    pub fn abandon(&mut self) {
        if self.ended().is_none() {
            self.end(End::Closed);
        }
    }

    /// Forgets one watcher everywhere (nobody listens to it any more).
    pub fn forget_watcher(&mut self, watcher: WatcherId) {
        self.watches.forget(watcher);
    }

    fn submit(&mut self, op: Op<T>, now: Millis) {
        match self.phase {
            Phase::Ended(e) => self.refuse(op, e.into()),
            Phase::Connected { .. } if self.conn.close_deadline.is_none() => self.issue(op, now),
            // After closeSession went out nothing else goes.
            Phase::Connected { .. } => self.refuse(op, Failure::Closed),
            Phase::Connecting { .. } => self.queued.push_back(op),
            Phase::Idle => match op {
                Op::Close { tag, xid } => {
                    // Between attempts there is nobody to tell; a session the client had times
                    // out on the server, as with Java's client.
                    self.end(End::Closed);
                    self.out.push_back(Output::Closed {
                        tag,
                        xid,
                        reply: None,
                    });
                }
                op => self.queued.push_back(op),
            },
        }
    }

    fn issue(&mut self, op: Op<T>, now: Millis) {
        match op {
            Op::Request {
                xid,
                request,
                watch,
                tag,
            } => {
                self.conn.pending.push_back(Pending {
                    xid,
                    op: request.op_code(),
                    kind: PendingKind::Request { watch, tag },
                });
                self.send(xid, request, now);
            }
            Op::Auth { scheme, auth, tag } => {
                let request = auth_request(&scheme, &auth);
                self.auths.push((scheme, auth));
                self.conn.auth_waiters.push_back(Some(tag));
                self.send(xid::AUTH, request, now);
            }
            Op::RemoveWatches(rw) => {
                let xid = rw.xid;
                let request = Request::RemoveWatches {
                    path: to_server_path(self.chroot(), &rw.path),
                    watcher_type: rw.watcher_type.code(),
                };
                self.conn.pending.push_back(Pending {
                    xid,
                    op: request.op_code(),
                    kind: PendingKind::RemoveWatches(rw),
                });
                self.send(xid, request, now);
            }
            Op::Close { xid, tag } => {
                self.conn.pending.push_back(Pending {
                    xid,
                    op: Request::CloseSession.op_code(),
                    kind: PendingKind::Close { tag },
                });
                self.conn.close_deadline = Some(now + self.read_timeout());
                self.send(xid, Request::CloseSession, now);
            }
        }
    }

    fn send(&mut self, xid: i32, request: Request, now: Millis) {
        self.conn.last_send = now;
        self.out.push_back(Output::Send { xid, request });
    }

    /// An operation that cannot be carried out any more.
    fn refuse(&mut self, op: Op<T>, f: Failure) {
        match op {
            Op::Request {
                xid, watch, tag, ..
            } => self.fail_request(tag, xid, watch, f),
            Op::Auth {
                scheme, auth, tag, ..
            } => {
                // Kept: it goes to the server with the next connection, as in Java.
                if f == CONNECTION_LOSS {
                    self.auths.push((scheme, auth));
                }
                self.out.push_back(Output::Auth {
                    tag,
                    result: Err(f),
                });
            }
            Op::RemoveWatches(rw) => self.fail_remove(rw, f),
            Op::Close { tag, xid } => self.out.push_back(Output::Closed {
                tag,
                xid,
                reply: None,
            }),
        }
    }

    fn fail_request(&mut self, tag: T, xid: i32, watch: Option<Registration>, f: Failure) {
        self.out.push_back(Output::Reply {
            tag,
            xid,
            result: Err(f),
        });
        if let Some(w) = watch {
            self.unregistered(w.watcher);
        }
    }

    fn unregistered(&mut self, watcher: WatcherId) {
        if watcher != WatcherId::Default {
            self.out.push_back(Output::Unregistered { watcher });
        }
    }

    /// A `removeWatches` the server did not answer: `local` still removes the watchers here
    /// (with the failure's code, so they hear Disconnected), as Java's client does.
    fn fail_remove(&mut self, rw: RemoveWatches<T>, f: Failure) {
        let result = match f {
            Failure::Code(rc) if rw.local => self.remove_here(&rw, rc),
            f => Err(f),
        };
        self.out.push_back(Output::Removed {
            tag: rw.tag,
            xid: rw.xid,
            result,
        });
    }

    fn fail_queued(&mut self) {
        let mut close = None;
        while let Some(op) = self.queued.pop_front() {
            match op {
                Op::Close { tag, xid } => close = Some((tag, xid)),
                op => self.refuse(op, CONNECTION_LOSS),
            }
        }
        if let Some((tag, xid)) = close {
            self.end(End::Closed);
            self.out.push_back(Output::Closed {
                tag,
                xid,
                reply: None,
            });
        }
    }

    // ---- what the server sends ----------------------------------------------------------

    /// One frame from the server (length prefix removed).
    pub fn on_frame(&mut self, body: &[u8], now: Millis) {
        if !matches!(self.phase, Phase::Connected { .. }) {
            return;
        }
        self.conn.last_recv = now;
        let h = match decode_reply_header(body) {
            Ok(h) => h,
            Err(e) => return self.drop_connection(DropCause::Unreadable(e.to_string())),
        };
        if h.xid == xid::NOTIFICATION {
            match decode_watch_event(body, MAX_FRAME) {
                Ok(ev) => self.on_event(ev, now),
                Err(e) => self.drop_connection(DropCause::Unreadable(e.to_string())),
            }
            return;
        }
        let op = match h.xid {
            xid::PING | xid::AUTH | xid::SET_WATCHES => 0,
            x => match self.conn.pending.front() {
                Some(p) if p.xid == x => p.op,
                _ => return self.out_of_order(x, h.err),
            },
        };
        let reply = if op == 0 {
            Reply {
                xid: h.xid,
                zxid: h.zxid,
                err: h.err,
                body: crate::request::Response::Empty,
            }
        } else {
            match decode_reply(body, op, MAX_FRAME) {
                Ok(r) => r,
                Err(e) => {
                    return self.drop_connection(DropCause::Unreadable(format!(
                        "cannot read the reply to xid {}: {e}",
                        h.xid
                    )))
                }
            }
        };
        self.on_reply(reply, now);
    }

    fn out_of_order(&mut self, got: i32, err: ErrorCode) {
        let want = self.conn.pending.front().map(|p| p.xid);
        self.drop_connection(DropCause::OutOfOrder { got, want, err });
    }

    /// A reply from the server, already read.
    pub fn on_reply(&mut self, reply: Reply, now: Millis) {
        if !matches!(self.phase, Phase::Connected { .. }) {
            return;
        }
        self.conn.last_recv = now;
        match reply.xid {
            xid::PING | xid::SET_WATCHES => return,
            xid::AUTH => {
                let waiter = self.conn.auth_waiters.pop_front().flatten();
                let refused = reply.err == ErrorCode::AuthFailed;
                if let Some(tag) = waiter {
                    let result = if reply.err.is_ok() {
                        Ok(())
                    } else {
                        Err(Failure::Code(reply.err))
                    };
                    self.out.push_back(Output::Auth { tag, result });
                }
                if refused {
                    self.out.push_back(Output::Drop {
                        cause: DropCause::AuthFailed,
                    });
                    self.end(End::AuthFailed);
                }
                return;
            }
            _ => {}
        }
        match self.conn.pending.front() {
            Some(p) if p.xid == reply.xid => {}
            _ => return self.out_of_order(reply.xid, reply.err),
        }
        let p = self.conn.pending.pop_front().expect("checked");
        if reply.zxid.as_i64() > 0 {
            self.last_zxid = reply.zxid;
        }
        match p.kind {
            PendingKind::Request { watch, tag } => {
                if let Some(w) = watch {
                    if !self
                        .watches
                        .register(w.request, &w.path, w.watcher, reply.err)
                    {
                        self.unregistered(w.watcher);
                    }
                }
                self.out.push_back(Output::Reply {
                    tag,
                    xid: p.xid,
                    result: Ok(reply),
                });
            }
            PendingKind::RemoveWatches(rw) => {
                let result = self.remove_here(&rw, reply.err);
                self.out.push_back(Output::Removed {
                    tag: rw.tag,
                    xid: rw.xid,
                    result,
                });
            }
            PendingKind::Close { tag } => {
                self.out.push_back(Output::Drop {
                    cause: DropCause::Closed,
                });
                self.end(End::Closed);
                self.out.push_back(Output::Closed {
                    tag,
                    xid: p.xid,
                    reply: Some(reply),
                });
            }
        }
    }

    /// A watch notification from the server (its path as the server sent it).
    pub fn on_event(&mut self, mut ev: WatchedEvent, now: Millis) {
        if !matches!(self.phase, Phase::Connected { .. }) {
            return;
        }
        self.conn.last_recv = now;
        ev.path = to_client_path(self.chroot(), &ev.path);
        for watcher in self.watches.materialize(ev.event_type, &ev.path) {
            self.out.push_back(Output::Watch {
                watcher,
                event: ev.clone(),
            });
        }
    }

    /// The client's half of `removeWatches` (`ZKWatchManager.removeWatcher`): after the
    /// server's answer `rc`, the watchers go, each told a WatchRemoved event.
    fn remove_here(&mut self, rw: &RemoveWatches<T>, rc: ErrorCode) -> Result<(), Failure> {
        if !rc.is_ok() && !rw.local {
            return Err(Failure::Code(rc));
        }
        let removed = self.watches.remove(&rw.path, rw.watcher_type);
        if removed.is_empty() {
            return Err(Failure::Code(ErrorCode::NoWatcher));
        }
        let state = if matches!(rc, ErrorCode::ConnectionLoss | ErrorCode::SessionExpired) {
            KeeperState::Disconnected
        } else {
            KeeperState::SyncConnected
        };
        for (event_type, ids) in removed.by_event() {
            let event = WatchedEvent {
                event_type,
                state,
                path: rw.path.clone(),
            };
            for watcher in ids {
                self.out.push_back(Output::Watch {
                    watcher,
                    event: event.clone(),
                });
            }
        }
        Ok(())
    }

    // ---- time ---------------------------------------------------------------------------

    /// Pings, read and connect timeouts. Returns when to call again (None: no need).
    pub fn tick(&mut self, now: Millis) -> Option<Millis> {
        match self.phase {
            Phase::Connecting { since } => {
                let limit = self.connect_timeout();
                if now >= since + limit {
                    self.connect_failed("no session in time");
                    self.out.push_back(Output::Drop {
                        cause: DropCause::NoSession { ms: limit },
                    });
                    return None;
                }
                Some(since + limit)
            }
            Phase::Connected { .. } => {
                if let Some(d) = self.conn.close_deadline {
                    if now >= d {
                        self.out.push_back(Output::Drop {
                            cause: DropCause::Closed,
                        });
                        self.end(End::Closed);
                        return None;
                    }
                }
                let read_timeout = self.read_timeout();
                if now >= self.conn.last_recv + read_timeout {
                    self.drop_connection(DropCause::Silent {
                        ms: now - self.conn.last_recv,
                        session: self.id,
                    });
                    return None;
                }
                let ping_every = self.ping_every();
                if now >= self.conn.last_send + ping_every {
                    self.send(xid::PING, Request::Ping, now);
                }
                let mut wake =
                    (self.conn.last_recv + read_timeout).min(self.conn.last_send + ping_every);
                if let Some(d) = self.conn.close_deadline {
                    wake = wake.min(d);
                }
                Some(wake)
            }
            Phase::Idle | Phase::Ended(_) => None,
        }
    }

    // ---- the end ------------------------------------------------------------------------

    /// The end of the session: everything outstanding fails, everyone hears why.
    fn end(&mut self, e: End) {
        let f: Failure = e.into();
        let was = self.phase;
        self.phase = Phase::Ended(e);
        if matches!(was, Phase::Connected { .. }) {
            let conn = std::mem::replace(&mut self.conn, Conn::new(0));
            for p in conn.pending {
                match p.kind {
                    PendingKind::Request { watch, tag } => self.fail_request(tag, p.xid, watch, f),
                    PendingKind::RemoveWatches(rw) => self.fail_remove(rw, f),
                    PendingKind::Close { tag } => self.out.push_back(Output::Closed {
                        tag,
                        xid: p.xid,
                        reply: None,
                    }),
                }
            }
            for tag in conn.auth_waiters.into_iter().flatten() {
                self.out.push_back(Output::Auth {
                    tag,
                    result: Err(f),
                });
            }
        }
        while let Some(op) = self.queued.pop_front() {
            self.refuse(op, f);
        }
        let (state, keeper) = match e {
            End::Expired => (States::Expired, KeeperState::Expired),
            End::AuthFailed => (States::AuthFailed, KeeperState::AuthFailed),
            End::Closed => (States::Closed, KeeperState::Closed),
        };
        self.publish(state, keeper);
    }

    /// A state change: to the driver (for the default watcher), and an event of type None to
    /// every persistent watcher — and, when the session is over, to every watcher, since they
    /// will never fire otherwise.
    fn publish(&mut self, state: States, keeper: KeeperState) {
        self.out.push_back(Output::State { state, keeper });
        let event = WatchedEvent {
            event_type: EventType::None,
            state: keeper,
            path: String::new(),
        };
        let watchers = if state.is_alive() {
            self.watches.persistent_watchers()
        } else {
            self.watches.drain()
        };
        for watcher in watchers {
            if watcher != WatcherId::Default {
                self.out.push_back(Output::Watch {
                    watcher,
                    event: event.clone(),
                });
            }
        }
    }
}

fn auth_request(scheme: &str, auth: &[u8]) -> Request {
    Request::Auth {
        auth_type: 0,
        scheme: scheme.to_string(),
        auth: auth.to_vec(),
    }
}

#[cfg(test)]
mod tests;
