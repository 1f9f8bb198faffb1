//! The one task that owns a client's TCP connection (`ClientCnxn.SendThread` in Java).
//!
//! ```text
//!   Client::get_data ──Command──▶ ┌────────── driver task ──────────┐ ──frames──▶ server
//!        ◀── oneshot (Reply) ──── │ pending: xid → reply sender     │ ◀─frames──
//!   EventStream / watches ◀────── │ WatchRegistry, session, auths   │
//!                                 └─────────────────────────────────┘
//! ```
//!
//! The task loops over servers: connect, send `ConnectRequest` (with the session id, password and
//! last zxid seen when it has a session), read `ConnectResponse` — a timeout of 0 there means the
//! session expired, and the task reports Expired and ends — then re-send the auth packets and the
//! watches (`setWatches`) and serve. Serving is one `select!`: frames from the socket (replies,
//! answered strictly in the order the requests went out; watch notifications, xid -1; ping and
//! auth answers), commands from the handles, and a timer that sends a ping when nothing was sent
//! for a third of the session timeout and gives the connection up when nothing was heard for two
//! thirds. When the connection breaks every pending request fails with ConnectionLoss, handles see
//! Disconnected, and the task tries the next server (after a random pause below a second, as Java
//! does, so that a crowd of clients does not come back at once). Commands that arrive while there
//! is no connection wait for the next attempt, and fail with ConnectionLoss if it fails.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use zk_core::proto::{
    decode_connect_response, decode_reply, decode_reply_header, decode_watch_event,
    encode_connect_request, encode_request, frame, split_frame,
};
use zk_core::request::{
    xid, ConnectRequest, ConnectResponse, EventType, KeeperState, Reply, Request, WatchedEvent,
};
use zk_core::{ErrorCode, SessionId, Zxid};

use super::connect_string::{to_client_path, to_server_path};
use super::error::ClientError;
use super::watches::{WatchRegistry, WatchRequest, WatcherId, WatcherType};
use super::States;

/// The largest frame the client accepts from a server. Servers refuse requests over
/// `jute.maxbuffer` (1 MiB by default), but a reply (the children of a big node) can be larger.
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// What a handle asks of the task.
pub(crate) enum Command {
    /// A request to send; `watch` is the watch it sets, decided when the reply comes.
    Request {
        request: Request,
        watch: Option<Registration>,
        reply: oneshot::Sender<Result<Reply, ClientError>>,
    },
    /// `addauth`: remembered for every later connection, sent now.
    AddAuth {
        scheme: String,
        auth: Vec<u8>,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// `removeWatches` on the server, then the matching watchers here.
    RemoveWatches(RemoveWatches),
    /// Drop the connection (the session stays) and connect again.
    Reconnect,
    /// Close the session and end.
    Close { reply: oneshot::Sender<()> },
    /// End without closing the session, as a process that dies does.
    Abandon,
}

/// A `removeWatches`: what to remove, and who waits for the outcome.
pub(crate) struct RemoveWatches {
    /// Client path (chroot not included).
    pub path: String,
    pub watcher_type: WatcherType,
    /// Remove the watchers here even when the server cannot be reached.
    pub local: bool,
    pub reply: oneshot::Sender<Result<(), ClientError>>,
}

/// A watch a read asks for.
pub(crate) struct Registration {
    pub request: WatchRequest,
    /// Client path (chroot not included).
    pub path: String,
    pub watcher: Watcher,
}

/// Where a watch's events go.
pub(crate) enum Watcher {
    Default,
    Oneshot(oneshot::Sender<WatchedEvent>),
    Persistent(mpsc::UnboundedSender<WatchedEvent>),
}

/// What the task and the handles share.
pub(crate) struct Shared {
    pub state: watch::Sender<States>,
    pub session: Mutex<SessionInfo>,
    /// The default watcher: every `EventStream` handed out. Locked while the state changes, so
    /// that a new stream sees each state change exactly once.
    pub subscribers: Mutex<Vec<mpsc::UnboundedSender<WatchedEvent>>>,
}

/// The session as the handles can see it.
#[derive(Clone, Debug, Default)]
pub(crate) struct SessionInfo {
    pub id: SessionId,
    pub passwd: Vec<u8>,
    /// The negotiated timeout, in ms (0 before the first connection).
    pub timeout_ms: i32,
    pub last_zxid: Zxid,
    /// `host:port` of the server the client is (or was last) connected to.
    pub server: Option<String>,
}

/// Everything the task needs to start.
pub(crate) struct Setup {
    pub servers: Vec<(String, u16)>,
    pub chroot: Option<String>,
    pub session_timeout_ms: i32,
    pub read_only: bool,
    pub session: Option<(SessionId, Vec<u8>)>,
    pub auths: Vec<(String, Vec<u8>)>,
}

/// How a connection (or the whole task) ended.
#[derive(Debug)]
enum End {
    /// The connection broke; try again.
    Lost(String),
    /// The session was closed (or the client given up): end.
    Closed,
    /// The server refused an auth packet: end, as Java's client does.
    AuthFailed,
    /// The server said the session is gone: end.
    Expired,
}

impl End {
    /// What the requests left unanswered fail with.
    fn error(&self) -> ClientError {
        match self {
            End::Lost(_) => ClientError::code(ErrorCode::ConnectionLoss),
            End::Closed => ClientError::Closed,
            End::AuthFailed => ClientError::code(ErrorCode::AuthFailed),
            End::Expired => ClientError::code(ErrorCode::SessionExpired),
        }
    }
}

struct Pending {
    xid: i32,
    op: i32,
    kind: PendingKind,
}

enum PendingKind {
    Request {
        watch: Option<Registration>,
        reply: oneshot::Sender<Result<Reply, ClientError>>,
    },
    RemoveWatches(RemoveWatches),
    Close,
}

/// One live connection: the write half and what was sent on it and is not answered yet.
struct Conn {
    wr: OwnedWriteHalf,
    pending: VecDeque<Pending>,
    /// Auth packets are answered by the server as soon as it reads them, ahead of requests still
    /// in its pipeline, so they have a queue of their own. `None` for re-sent ones nobody waits on.
    auth_waiters: VecDeque<Option<oneshot::Sender<Result<(), ClientError>>>>,
    last_send: Instant,
    last_recv: Instant,
    /// Set once closeSession is sent: no more commands are read, and the task ends by then.
    close_deadline: Option<Instant>,
}

impl Conn {
    async fn send(&mut self, body: &[u8]) -> Result<(), String> {
        self.wr
            .write_all(&frame(body))
            .await
            .map_err(|e| format!("write failed: {e}"))?;
        self.last_send = Instant::now();
        Ok(())
    }
}

pub(crate) struct Driver {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    servers: Vec<(String, u16)>,
    next_server: usize,
    chroot: Option<String>,
    session_timeout_ms: i32,
    read_only: bool,
    session_id: SessionId,
    passwd: Vec<u8>,
    negotiated_ms: i32,
    last_zxid: Zxid,
    auths: Vec<(String, Vec<u8>)>,
    watches: WatchRegistry,
    oneshots: HashMap<u64, oneshot::Sender<WatchedEvent>>,
    persistents: HashMap<u64, mpsc::UnboundedSender<WatchedEvent>>,
    next_watcher: u64,
    next_xid: i32,
    /// Commands that arrived while there was no connection.
    queued: VecDeque<Command>,
    close_waiters: Vec<oneshot::Sender<()>>,
}

impl Driver {
    pub(crate) fn new(
        setup: Setup,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Driver {
        let mut servers = setup.servers;
        fastrand::shuffle(&mut servers);
        let (session_id, passwd) = setup.session.unwrap_or_else(|| (SessionId(0), vec![0; 16]));
        Driver {
            shared,
            commands,
            servers,
            next_server: 0,
            chroot: setup.chroot,
            session_timeout_ms: setup.session_timeout_ms,
            read_only: setup.read_only,
            session_id,
            passwd,
            negotiated_ms: 0,
            last_zxid: Zxid::ZERO,
            auths: setup.auths,
            watches: WatchRegistry::default(),
            oneshots: HashMap::new(),
            persistents: HashMap::new(),
            next_watcher: 0,
            next_xid: 1,
            queued: VecDeque::new(),
            close_waiters: Vec::new(),
        }
    }

    /// The task: connect, serve, reconnect, until the session ends.
    pub(crate) async fn run(mut self) {
        let mut attempts = 0u64;
        loop {
            if attempts > 0 {
                let pause = sleep(Duration::from_millis(fastrand::u64(0..1000)));
                if let Some(end) = self.while_disconnected(pause, false).await.err() {
                    return self.finish(end);
                }
            }
            attempts += 1;
            let (host, port) = self.servers[self.next_server % self.servers.len()].clone();
            self.next_server += 1;
            let request = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: self.last_zxid,
                timeout: self.session_timeout_ms,
                session_id: self.session_id,
                passwd: self.passwd.clone(),
                read_only: Some(self.read_only),
            };
            let timeout_ms = if self.negotiated_ms > 0 {
                self.negotiated_ms
            } else {
                self.session_timeout_ms
            };
            let per_server =
                Duration::from_millis((timeout_ms.max(1) as u64) / self.servers.len() as u64)
                    .max(Duration::from_millis(100));
            let attempt = connect_once(host.clone(), port, request, per_server);
            let outcome = match self.while_disconnected(attempt, true).await {
                Ok(o) => o,
                Err(end) => return self.finish(end),
            };
            let (stream, response) = match outcome {
                Ok(x) => x,
                Err(reason) => {
                    debug!(server = %format!("{host}:{port}"), %reason, "connection attempt failed");
                    self.fail_queued(ClientError::code(ErrorCode::ConnectionLoss));
                    if !self.close_waiters.is_empty() {
                        return self.finish(End::Closed);
                    }
                    continue;
                }
            };
            if response.timeout <= 0 {
                warn!(
                    session = %self.session_id,
                    "Unable to reconnect to ZooKeeper service, session {} has expired", self.session_id
                );
                return self.finish(End::Expired);
            }
            self.on_connected(&response, &host, port);
            let mut conn = None;
            let end = self.serve(stream, &mut conn).await;
            if let Some(conn) = conn {
                self.fail_connection(conn, end.error());
            }
            match end {
                End::Lost(reason) => {
                    info!(session = %self.session_id, server = %format!("{host}:{port}"), %reason, "connection lost, reconnecting");
                    self.publish_state(States::Connecting, KeeperState::Disconnected);
                }
                end => return self.finish(end),
            }
        }
    }

    /// Runs `fut` while no connection is up, keeping commands for the next connection. `Err` when
    /// the client is closed (or abandoned, or every handle dropped) meanwhile. During a connection
    /// `attempt` a close waits for it: the server may be creating the session right now, and the
    /// session is closed properly once it is there.
    async fn while_disconnected<T>(
        &mut self,
        fut: impl Future<Output = T>,
        attempt: bool,
    ) -> Result<T, End> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Ok(out),
                cmd = self.commands.recv() => match cmd {
                    None | Some(Command::Abandon) => return Err(End::Closed),
                    Some(c @ Command::Close { .. }) if attempt => self.queued.push_back(c),
                    Some(Command::Close { reply }) => {
                        // Between attempts there is nobody to tell; a session the client had
                        // times out on the server, as with Java's client.
                        self.close_waiters.push(reply);
                        return Err(End::Closed);
                    }
                    Some(Command::Reconnect) => {}
                    Some(c) => self.queued.push_back(c),
                },
            }
        }
    }

    fn on_connected(&mut self, r: &ConnectResponse, host: &str, port: u16) {
        self.session_id = r.session_id;
        self.passwd = r.passwd.clone();
        self.negotiated_ms = r.timeout;
        {
            let mut s = self.shared.session.lock().unwrap();
            s.id = r.session_id;
            s.passwd = r.passwd.clone();
            s.timeout_ms = r.timeout;
            s.server = Some(format!("{host}:{port}"));
        }
        info!(
            "Session establishment complete on server {host}:{port}, session id = {}, negotiated timeout = {}{}",
            r.session_id,
            r.timeout,
            if r.read_only { " (READ-ONLY mode)" } else { "" }
        );
        if r.read_only {
            self.publish_state(States::ConnectedReadOnly, KeeperState::ConnectedReadOnly);
        } else {
            self.publish_state(States::Connected, KeeperState::SyncConnected);
        }
    }

    /// Serves one connection until it ends. `conn` is left holding what was still pending.
    async fn serve(&mut self, stream: TcpStream, conn_slot: &mut Option<Conn>) -> End {
        let (mut rd, wr) = stream.into_split();
        let now = Instant::now();
        let conn = conn_slot.insert(Conn {
            wr,
            pending: VecDeque::new(),
            auth_waiters: VecDeque::new(),
            last_send: now,
            last_recv: now,
            close_deadline: None,
        });
        if let Err(reason) = self.prime(conn).await {
            return End::Lost(reason);
        }
        let negotiated = Duration::from_millis(self.negotiated_ms as u64);
        let read_timeout = negotiated * 2 / 3;
        let ping_every = negotiated / 3;
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        loop {
            let mut wake = (conn.last_recv + read_timeout).min(conn.last_send + ping_every);
            if let Some(d) = conn.close_deadline {
                wake = wake.min(d);
            }
            let reading_commands = conn.close_deadline.is_none();
            tokio::select! {
                r = rd.read_buf(&mut buf) => {
                    match r {
                        Ok(0) => return End::Lost("the server closed the connection".into()),
                        Err(e) => return End::Lost(format!("read failed: {e}")),
                        Ok(_) => conn.last_recv = Instant::now(),
                    }
                    let mut used = 0;
                    loop {
                        match split_frame(&buf[used..], MAX_FRAME) {
                            Ok(Some((n, body))) => {
                                used += n;
                                match self.on_frame(conn, body) {
                                    Ok(None) => {}
                                    Ok(Some(end)) => return end,
                                    Err(reason) => return End::Lost(reason),
                                }
                            }
                            Ok(None) => break,
                            Err(e) => return End::Lost(e.to_string()),
                        }
                    }
                    buf.drain(..used);
                }
                cmd = self.commands.recv(), if reading_commands => {
                    let cmd = cmd.unwrap_or(Command::Close { reply: oneshot::channel().0 });
                    match self.on_command(conn, cmd).await {
                        Ok(None) => {}
                        Ok(Some(end)) => return end,
                        Err(reason) => return End::Lost(reason),
                    }
                }
                _ = sleep_until(wake) => {
                    let now = Instant::now();
                    if conn.close_deadline.is_some_and(|d| now >= d) {
                        return End::Closed;
                    }
                    if now >= conn.last_recv + read_timeout {
                        return End::Lost(format!(
                            "Client session timed out, have not heard from server in {}ms for session id {}",
                            (now - conn.last_recv).as_millis(),
                            self.session_id
                        ));
                    }
                    if now >= conn.last_send + ping_every {
                        if let Err(reason) = conn.send(&encode_request(xid::PING, &Request::Ping)).await {
                            return End::Lost(reason);
                        }
                    }
                }
            }
        }
    }

    /// What a new connection sends before anything else: the auth packets, then the watches,
    /// then the commands that waited for it.
    async fn prime(&mut self, conn: &mut Conn) -> Result<(), String> {
        for (scheme, auth) in &self.auths {
            conn.auth_waiters.push_back(None);
            conn.send(&encode_request(xid::AUTH, &auth_request(scheme, auth)))
                .await?;
        }
        self.prune_dead_watchers();
        let chroot = self.chroot.clone();
        for (v2, watches) in self.watches.set_watches(chroot.as_deref(), self.last_zxid) {
            let req = Request::SetWatches { v2, watches };
            conn.send(&encode_request(xid::SET_WATCHES, &req)).await?;
        }
        // Abandon is never queued, so none of these ends the connection; a queued Close sends
        // closeSession and the serving loop then waits for its answer.
        while let Some(cmd) = self.queued.pop_front() {
            self.on_command(conn, cmd).await?;
        }
        Ok(())
    }

    fn xid(&mut self) -> i32 {
        let x = self.next_xid;
        // Negative xids are reserved for pings, auth, notifications and setWatches.
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }

    async fn on_command(&mut self, conn: &mut Conn, cmd: Command) -> Result<Option<End>, String> {
        match cmd {
            Command::Request {
                request,
                watch,
                reply,
            } => {
                let xid = self.xid();
                let bytes = encode_request(xid, &request);
                conn.pending.push_back(Pending {
                    xid,
                    op: request.op_code(),
                    kind: PendingKind::Request { watch, reply },
                });
                conn.send(&bytes).await?;
            }
            Command::AddAuth {
                scheme,
                auth,
                reply,
            } => {
                let bytes = encode_request(xid::AUTH, &auth_request(&scheme, &auth));
                self.auths.push((scheme, auth));
                conn.auth_waiters.push_back(Some(reply));
                conn.send(&bytes).await?;
            }
            Command::RemoveWatches(rw) => {
                let xid = self.xid();
                let request = Request::RemoveWatches {
                    path: to_server_path(self.chroot.as_deref(), &rw.path),
                    watcher_type: rw.watcher_type.code(),
                };
                conn.pending.push_back(Pending {
                    xid,
                    op: request.op_code(),
                    kind: PendingKind::RemoveWatches(rw),
                });
                conn.send(&encode_request(xid, &request)).await?;
            }
            Command::Reconnect => return Err("reconnect requested".into()),
            Command::Abandon => return Ok(Some(End::Closed)),
            Command::Close { reply } => {
                self.close_waiters.push(reply);
                let xid = self.xid();
                conn.pending.push_back(Pending {
                    xid,
                    op: Request::CloseSession.op_code(),
                    kind: PendingKind::Close,
                });
                let negotiated = Duration::from_millis(self.negotiated_ms as u64);
                conn.close_deadline = Some(Instant::now() + negotiated * 2 / 3);
                if conn
                    .send(&encode_request(xid, &Request::CloseSession))
                    .await
                    .is_err()
                {
                    return Ok(Some(End::Closed));
                }
            }
        }
        Ok(None)
    }

    /// One frame from the server. `Err` breaks the connection.
    fn on_frame(&mut self, conn: &mut Conn, body: &[u8]) -> Result<Option<End>, String> {
        let h = decode_reply_header(body).map_err(|e| e.to_string())?;
        match h.xid {
            xid::PING => return Ok(None),
            xid::NOTIFICATION => {
                let mut ev = decode_watch_event(body, MAX_FRAME).map_err(|e| e.to_string())?;
                ev.path = to_client_path(self.chroot.as_deref(), &ev.path);
                debug!(session = %self.session_id, ?ev, "notification");
                for id in self.watches.materialize(ev.event_type, &ev.path) {
                    self.deliver(id, ev.clone());
                }
                return Ok(None);
            }
            xid::AUTH => {
                let waiter = conn.auth_waiters.pop_front().flatten();
                if h.err == ErrorCode::AuthFailed {
                    if let Some(w) = waiter {
                        let _ = w.send(Err(ClientError::code(ErrorCode::AuthFailed)));
                    }
                    return Ok(Some(End::AuthFailed));
                }
                if let Some(w) = waiter {
                    let _ = w.send(if h.err.is_ok() {
                        Ok(())
                    } else {
                        Err(ClientError::code(h.err))
                    });
                }
                return Ok(None);
            }
            xid::SET_WATCHES => {
                if !h.err.is_ok() {
                    warn!(session = %self.session_id, err = %h.err, "setWatches failed");
                }
                return Ok(None);
            }
            _ => {}
        }
        let Some(p) = conn.pending.pop_front() else {
            return Err(format!("Nothing in the queue, but got {}", h.xid));
        };
        if p.xid != h.xid {
            let expected = p.xid;
            conn.pending.push_front(p);
            return Err(format!(
                "Xid out of order. Got Xid {} with err {} expected Xid {expected}",
                h.xid,
                h.err.code()
            ));
        }
        if h.zxid.as_i64() > 0 {
            self.last_zxid = h.zxid;
            self.shared.session.lock().unwrap().last_zxid = h.zxid;
        }
        let reply = match decode_reply(body, p.op, MAX_FRAME) {
            Ok(r) => r,
            Err(e) => {
                let reason = format!("cannot read the reply to xid {}: {e}", p.xid);
                conn.pending.push_front(p);
                return Err(reason);
            }
        };
        match p.kind {
            PendingKind::Request { watch, reply: tx } => {
                if let Some(reg) = watch {
                    self.register(reg, reply.err);
                }
                let _ = tx.send(Ok(reply));
            }
            PendingKind::RemoveWatches(rw) => {
                let result = self.remove_watches(&rw, reply.err);
                let _ = rw.reply.send(result);
            }
            PendingKind::Close => return Ok(Some(End::Closed)),
        }
        Ok(None)
    }

    fn register(&mut self, reg: Registration, rc: ErrorCode) {
        let n = self.next_watcher;
        let id = match &reg.watcher {
            Watcher::Default => WatcherId::Default,
            Watcher::Oneshot(_) => WatcherId::Oneshot(n),
            Watcher::Persistent(_) => WatcherId::Persistent(n),
        };
        if !self.watches.register(reg.request, &reg.path, id, rc) {
            return;
        }
        self.next_watcher += 1;
        match reg.watcher {
            Watcher::Default => {}
            Watcher::Oneshot(tx) => {
                self.oneshots.insert(n, tx);
            }
            Watcher::Persistent(tx) => {
                self.persistents.insert(n, tx);
            }
        }
    }

    /// The client's half of `removeWatches` (`ZKWatchManager.removeWatcher`): after the server's
    /// answer `rc` (or a connection loss, when `local` says to remove them anyway), the watchers
    /// go, each told a WatchRemoved event.
    fn remove_watches(&mut self, rw: &RemoveWatches, rc: ErrorCode) -> Result<(), ClientError> {
        if !rc.is_ok() && !rw.local {
            return Err(ClientError::code(rc));
        }
        let removed = self.watches.remove(&rw.path, rw.watcher_type);
        if removed.is_empty() {
            return Err(ClientError::code(ErrorCode::NoWatcher));
        }
        let state = if matches!(rc, ErrorCode::ConnectionLoss | ErrorCode::SessionExpired) {
            KeeperState::Disconnected
        } else {
            KeeperState::SyncConnected
        };
        for (event_type, ids) in removed.by_event() {
            let ev = WatchedEvent {
                event_type,
                state,
                path: rw.path.clone(),
            };
            for id in ids {
                self.deliver(id, ev.clone());
            }
        }
        Ok(())
    }

    /// Tells one watcher one event. A persistent watcher whose stream is gone is forgotten, and
    /// one that was removed or whose session ended is told its last event.
    fn deliver(&mut self, id: WatcherId, ev: WatchedEvent) {
        match id {
            WatcherId::Default => {
                let mut subs = self.shared.subscribers.lock().unwrap();
                subs.retain(|s| s.send(ev.clone()).is_ok());
            }
            WatcherId::Oneshot(n) => {
                if let Some(tx) = self.oneshots.remove(&n) {
                    let _ = tx.send(ev);
                }
            }
            WatcherId::Persistent(n) => {
                let last = ev.event_type == EventType::PersistentWatchRemoved
                    || is_terminal(ev.state) && ev.event_type == EventType::None;
                let gone = match self.persistents.get(&n) {
                    Some(tx) => tx.send(ev).is_err(),
                    None => false,
                };
                if gone {
                    self.watches.forget(id);
                }
                if gone || last {
                    self.persistents.remove(&n);
                }
            }
        }
    }

    /// Forgets the watchers nobody listens to any more, before their paths go back to a server.
    fn prune_dead_watchers(&mut self) {
        let dead: Vec<WatcherId> = self
            .oneshots
            .iter()
            .filter(|(_, tx)| tx.is_closed())
            .map(|(n, _)| WatcherId::Oneshot(*n))
            .chain(
                self.persistents
                    .iter()
                    .filter(|(_, tx)| tx.is_closed())
                    .map(|(n, _)| WatcherId::Persistent(*n)),
            )
            .collect();
        for id in dead {
            self.watches.forget(id);
            match id {
                WatcherId::Oneshot(n) => {
                    self.oneshots.remove(&n);
                }
                WatcherId::Persistent(n) => {
                    self.persistents.remove(&n);
                }
                WatcherId::Default => {}
            }
        }
    }

    /// A session state change: the new state, and an event of type None to the default watcher
    /// and every persistent watcher — and, when the session is over, to every one-shot watcher
    /// too, which will never fire otherwise.
    fn publish_state(&mut self, state: States, keeper: KeeperState) {
        let ev = WatchedEvent {
            event_type: EventType::None,
            state: keeper,
            path: String::new(),
        };
        {
            let mut subs = self.shared.subscribers.lock().unwrap();
            self.shared.state.send_replace(state);
            subs.retain(|s| s.send(ev.clone()).is_ok());
            if is_terminal(keeper) {
                // Nothing more will come: the streams end once their events are read.
                subs.clear();
            }
        }
        for id in self.watches.persistent_watchers() {
            self.deliver(id, ev.clone());
        }
        if is_terminal(keeper) {
            for (_, tx) in self.oneshots.drain() {
                let _ = tx.send(ev.clone());
            }
            self.watches.drain();
            self.persistents.clear();
        }
    }

    /// Fails what a broken connection leaves unanswered.
    fn fail_connection(&mut self, conn: Conn, err: ClientError) {
        for p in conn.pending {
            match p.kind {
                PendingKind::Request { reply, .. } => {
                    let _ = reply.send(Err(err.clone()));
                }
                PendingKind::RemoveWatches(rw) => self.fail_remove_watches(rw, &err),
                PendingKind::Close => {}
            }
        }
        for w in conn.auth_waiters.into_iter().flatten() {
            let _ = w.send(Err(err.clone()));
        }
    }

    /// A `removeWatches` the server did not answer: `local` still removes the watchers here (with
    /// the failure's code, so they hear Disconnected), as Java's client does.
    fn fail_remove_watches(&mut self, rw: RemoveWatches, err: &ClientError) {
        let result = match err.keeper_code() {
            Some(rc) if rw.local => self.remove_watches(&rw, rc),
            _ => Err(err.clone()),
        };
        let _ = rw.reply.send(result);
    }

    /// Fails the commands that waited for a connection that did not come.
    fn fail_queued(&mut self, err: ClientError) {
        while let Some(cmd) = self.queued.pop_front() {
            self.fail_command(cmd, &err);
        }
    }

    fn fail_command(&mut self, cmd: Command, err: &ClientError) {
        match cmd {
            Command::Request { reply, .. } => {
                let _ = reply.send(Err(err.clone()));
            }
            // Kept: it goes to the server with the next connection, as in Java.
            Command::AddAuth {
                scheme,
                auth,
                reply,
            } => {
                if err.is_connection_loss() {
                    self.auths.push((scheme, auth));
                }
                let _ = reply.send(Err(err.clone()));
            }
            Command::RemoveWatches(rw) => self.fail_remove_watches(rw, err),
            Command::Close { reply } => self.close_waiters.push(reply),
            Command::Reconnect | Command::Abandon => {}
        }
    }

    /// The end of the session: everything outstanding fails, everyone hears why.
    fn finish(mut self, end: End) {
        let err = end.error();
        let (state, keeper) = match end {
            End::Expired => (States::Expired, KeeperState::Expired),
            End::AuthFailed => (States::AuthFailed, KeeperState::AuthFailed),
            End::Closed | End::Lost(_) => (States::Closed, KeeperState::Closed),
        };
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            self.queued.push_back(cmd);
        }
        self.fail_queued(err);
        self.publish_state(state, keeper);
        for w in self.close_waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

fn is_terminal(s: KeeperState) -> bool {
    matches!(
        s,
        KeeperState::Expired | KeeperState::Closed | KeeperState::AuthFailed
    )
}

fn auth_request(scheme: &str, auth: &[u8]) -> Request {
    Request::Auth {
        auth_type: 0,
        scheme: scheme.to_string(),
        auth: auth.to_vec(),
    }
}

/// One connection attempt: TCP, `ConnectRequest`, `ConnectResponse`, all within `limit`.
async fn connect_once(
    host: String,
    port: u16,
    request: ConnectRequest,
    limit: Duration,
) -> Result<(TcpStream, ConnectResponse), String> {
    let attempt = async {
        let mut s = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = s.set_nodelay(true);
        s.write_all(&frame(&encode_connect_request(&request)))
            .await
            .map_err(|e| format!("sending ConnectRequest: {e}"))?;
        let mut len = [0u8; 4];
        s.read_exact(&mut len)
            .await
            .map_err(|e| format!("reading ConnectResponse: {e}"))?;
        let len = i32::from_be_bytes(len);
        if len < 0 || len as usize > MAX_FRAME {
            return Err(format!("ConnectResponse of length {len}"));
        }
        let mut body = vec![0; len as usize];
        s.read_exact(&mut body)
            .await
            .map_err(|e| format!("reading ConnectResponse: {e}"))?;
        let r = decode_connect_response(&body, MAX_FRAME).map_err(|e| e.to_string())?;
        Ok((s, r))
    };
    timeout(limit, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no session within {} ms", limit.as_millis())))
}
