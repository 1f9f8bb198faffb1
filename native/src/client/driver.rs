//! The one task that owns a client's TCP connection (`ClientCnxn.SendThread` in Java).
//!
//! ```text
//!   Client::get_data ──Command──▶ ┌────────── driver task ──────────┐ ──frames──▶ server
//!        ◀── oneshot (Reply) ──── │ pending: xid → reply sender     │ ◀─frames──
//!   EventStream / watches ◀────── │ WatchRegistry, session, auths   │
//!                                 └─────────────────────────────────┘
//! ```
//!
//! What the session decides — the handshake, auth and `setWatches` on every new connection, xid
//! order, pings and timeouts, which requests fail how, who hears which event — is
//! [`zk_core::client::Session`], the one the simulator drives too. This task does the IO: it
//! loops over servers (in a shuffled order, after a random pause below a second between
//! attempts, as Java does, so that a crowd of clients does not come back at once), carries
//! frames both ways, and hands each answer to whoever waits for it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use zk_core::client::{
    self as core, Failure, Output, Session, SessionConfig, WatchRequest, WatcherId, WatcherType,
    MAX_FRAME,
};
use zk_core::proto::{
    decode_connect_response, encode_connect_request, encode_request, frame, split_frame,
};
use zk_core::request::{
    ConnectRequest, ConnectResponse, EventType, KeeperState, Reply, Request, WatchedEvent,
};
use zk_core::types::Millis;
use zk_core::{SessionId, Zxid};

use super::error::ClientError;
use super::States;

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
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

type Conn = crate::tls::BoxStream;

/// Whoever waits for an answer from the session.
enum Tag {
    Reply(oneshot::Sender<Result<Reply, ClientError>>),
    Auth(oneshot::Sender<Result<(), ClientError>>),
    Removed(oneshot::Sender<Result<(), ClientError>>),
    Close(oneshot::Sender<()>),
}

fn client_error(f: Failure) -> ClientError {
    match f {
        Failure::Code(c) => ClientError::code(c),
        Failure::Closed => ClientError::Closed,
    }
}

/// How a connection ended.
enum Served {
    /// The connection is gone; try the next server.
    Lost(String),
    /// The session is over.
    Ended,
}

pub(crate) struct Driver {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    servers: Vec<(String, u16)>,
    next_server: usize,
    session: Session<Tag>,
    /// The session's clock starts here.
    epoch: Instant,
    oneshots: HashMap<u64, oneshot::Sender<WatchedEvent>>,
    persistents: HashMap<u64, mpsc::UnboundedSender<WatchedEvent>>,
    next_watcher: u64,
    /// `host:port` of the server being tried or served.
    server: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Driver {
    pub(crate) fn new(
        setup: Setup,
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
    ) -> Driver {
        let mut servers = setup.servers;
        fastrand::shuffle(&mut servers);
        let session = Session::new(SessionConfig {
            timeout_ms: setup.session_timeout_ms,
            read_only: setup.read_only,
            chroot: setup.chroot,
            hosts: servers.len(),
            session: setup.session,
            auths: setup.auths,
            connect_timeout: None,
        });
        Driver {
            shared,
            commands,
            servers,
            next_server: 0,
            session,
            epoch: Instant::now(),
            oneshots: HashMap::new(),
            persistents: HashMap::new(),
            next_watcher: 0,
            server: String::new(),
            tls: setup.tls,
        }
    }

    fn now(&self) -> Millis {
        self.epoch.elapsed().as_millis() as Millis
    }

    /// The task: connect, serve, reconnect, until the session ends.
    pub(crate) async fn run(mut self) {
        let mut attempts = 0u64;
        while self.session.ended().is_none() {
            if attempts > 0 {
                let pause = sleep(Duration::from_millis(fastrand::u64(0..1000)));
                self.while_disconnected(pause).await;
                if self.session.ended().is_some() {
                    break;
                }
            }
            attempts += 1;
            let (host, port) = self.servers[self.next_server % self.servers.len()].clone();
            self.next_server += 1;
            self.server = format!("{host}:{port}");
            let now = self.now();
            let Some(request) = self.session.start_connect(now) else {
                break;
            };
            let limit = Duration::from_millis(self.session.connect_timeout());
            let attempt = connect_once(host, port, request, limit, self.tls.clone());
            let Some(outcome) = self.while_disconnected(attempt).await else {
                break;
            };
            let (stream, response) = match outcome {
                Ok(x) => x,
                Err(reason) => {
                    debug!(server = %self.server, %reason, "connection attempt failed");
                    self.session.connect_failed(&reason);
                    self.drain(None).await;
                    continue;
                }
            };
            if response.timeout <= 0 {
                warn!(
                    session = %self.session.session_id(),
                    "Unable to reconnect to ZooKeeper service, session {} has expired",
                    self.session.session_id()
                );
            } else {
                info!(
                    "Session establishment complete on server {}, session id = {}, negotiated timeout = {}{}",
                    self.server,
                    response.session_id,
                    response.timeout,
                    if response.read_only { " (READ-ONLY mode)" } else { "" }
                );
            }
            self.prune_dead_watchers();
            let now = self.now();
            self.session.connected(&response, now);
            match self.serve(stream).await {
                Served::Lost(reason) => {
                    info!(session = %self.session.session_id(), server = %self.server, %reason, "connection lost, reconnecting");
                }
                Served::Ended => break,
            }
        }
        self.finish();
    }

    /// Runs `fut` while no connection is up, handing commands to the session (which keeps them
    /// for the next connection). None when the session ended meanwhile (closed, abandoned, or
    /// every handle dropped).
    async fn while_disconnected<T>(&mut self, fut: impl Future<Output = T>) -> Option<T> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                out = &mut fut => return Some(out),
                cmd = self.commands.recv() => {
                    self.on_command(cmd.unwrap_or(Command::Abandon));
                    self.drain(None).await;
                    if self.session.ended().is_some() {
                        return None;
                    }
                }
            }
        }
    }

    /// Serves one connection until it ends.
    async fn serve(&mut self, stream: Conn) -> Served {
        let (mut rd, wr) = tokio::io::split(stream);
        let mut wr = Some(wr);
        if let Some(end) = self.drain(wr.as_mut()).await {
            return end;
        }
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        loop {
            let now = self.now();
            let wake = self.session.tick(now);
            if let Some(end) = self.drain(wr.as_mut()).await {
                return end;
            }
            let wake = self.epoch + Duration::from_millis(wake.unwrap_or(now + 1000));
            tokio::select! {
                r = rd.read_buf(&mut buf) => {
                    let lost = match r {
                        Ok(0) => Some("the server closed the connection".to_string()),
                        Err(e) => Some(format!("read failed: {e}")),
                        Ok(_) => None,
                    };
                    if let Some(reason) = lost {
                        self.session.connection_lost(&reason);
                        self.drain(None).await;
                        return self.after(reason);
                    }
                    let now = self.now();
                    let mut used = 0;
                    loop {
                        match split_frame(&buf[used..], MAX_FRAME) {
                            Ok(Some((n, body))) => {
                                used += n;
                                self.session.on_frame(body, now);
                                if let Some(end) = self.drain(wr.as_mut()).await {
                                    return end;
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                let reason = e.to_string();
                                self.session.connection_lost(&reason);
                                self.drain(None).await;
                                return self.after(reason);
                            }
                        }
                    }
                    buf.drain(..used);
                }
                cmd = self.commands.recv() => {
                    self.on_command(cmd.unwrap_or(Command::Close { reply: oneshot::channel().0 }));
                    if let Some(end) = self.drain(wr.as_mut()).await {
                        return end;
                    }
                }
                _ = sleep_until(wake) => {}
            }
        }
    }

    /// What follows the loss of a connection: the next server, or the end.
    fn after(&self, reason: String) -> Served {
        if self.session.ended().is_some() {
            Served::Ended
        } else {
            Served::Lost(reason)
        }
    }

    fn on_command(&mut self, cmd: Command) {
        let now = self.now();
        match cmd {
            Command::Request {
                request,
                watch,
                reply,
            } => {
                let watch = watch.map(|reg| self.watcher(reg));
                self.session.request(request, watch, Tag::Reply(reply), now);
            }
            Command::AddAuth {
                scheme,
                auth,
                reply,
            } => self.session.add_auth(&scheme, &auth, Tag::Auth(reply), now),
            Command::RemoveWatches(rw) => {
                self.session.remove_watches(
                    &rw.path,
                    rw.watcher_type,
                    rw.local,
                    Tag::Removed(rw.reply),
                    now,
                );
            }
            Command::Reconnect => self.session.connection_lost("reconnect requested"),
            Command::Close { reply } => {
                self.session.close(Tag::Close(reply), now);
            }
            Command::Abandon => self.session.abandon(),
        }
    }

    /// A watch a read asks for, with its watcher given a number.
    fn watcher(&mut self, reg: Registration) -> core::Registration {
        let n = self.next_watcher;
        self.next_watcher += 1;
        let watcher = match reg.watcher {
            Watcher::Default => WatcherId::Default,
            Watcher::Oneshot(tx) => {
                self.oneshots.insert(n, tx);
                WatcherId::Oneshot(n)
            }
            Watcher::Persistent(tx) => {
                self.persistents.insert(n, tx);
                WatcherId::Persistent(n)
            }
        };
        core::Registration {
            request: reg.request,
            path: reg.path,
            watcher,
        }
    }

    /// Carries out what the session said: frames go on `wr` (when there is a connection),
    /// answers to whoever waits. `Some` when the connection is over.
    async fn drain(&mut self, mut wr: Option<&mut WriteHalf<Conn>>) -> Option<Served> {
        let mut gone: Option<String> = None;
        let mut wrote = false;
        while let Some(out) = self.session.poll() {
            match out {
                Output::Send { xid, request } => {
                    if gone.is_some() {
                        continue;
                    }
                    if let Some(w) = wr.as_deref_mut() {
                        wrote = true;
                        if let Err(e) = w.write_all(&frame(&encode_request(xid, &request))).await {
                            let reason = format!("write failed: {e}");
                            self.session.connection_lost(&reason);
                            gone = Some(reason);
                        }
                    }
                }
                Output::Drop { cause } => {
                    gone.get_or_insert(cause.to_string());
                }
                out => self.answer(out),
            }
        }
        // TLS may hold written bytes until flushed.
        if let (true, None, Some(w)) = (wrote, &gone, wr.as_deref_mut()) {
            if let Err(e) = w.flush().await {
                let reason = format!("write failed: {e}");
                self.session.connection_lost(&reason);
                gone = Some(reason);
            }
        }
        if self.session.ended().is_some() {
            return Some(Served::Ended);
        }
        if wr.is_some() && (gone.is_some() || self.session.is_idle()) {
            return Some(Served::Lost(
                gone.unwrap_or_else(|| "connection given up".into()),
            ));
        }
        None
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
                    self.session.forget_watcher(id);
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
            self.session.forget_watcher(id);
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

    /// A session state change, to the handles and the default watcher (`EventStream`s).
    fn publish_state(&mut self, state: States, keeper: KeeperState) {
        if state.is_connected() {
            let mut s = self.shared.session.lock().unwrap();
            s.id = self.session.session_id();
            s.passwd = self.session.password().to_vec();
            s.timeout_ms = self.session.negotiated_timeout();
            s.server = Some(self.server.clone());
        }
        let ev = WatchedEvent {
            event_type: EventType::None,
            state: keeper,
            path: String::new(),
        };
        let mut subs = self.shared.subscribers.lock().unwrap();
        self.shared.state.send_replace(state);
        subs.retain(|s| s.send(ev.clone()).is_ok());
        if is_terminal(keeper) {
            // Nothing more will come: the streams end once their events are read.
            subs.clear();
        }
    }

    /// The end of the task: the session has ended (or is ended now), everyone has heard.
    fn finish(mut self) {
        self.session.abandon();
        self.commands.close();
        while let Ok(cmd) = self.commands.try_recv() {
            self.on_command(cmd);
        }
        while let Some(out) = self.session.poll() {
            self.answer(out);
        }
    }

    /// Hands on what the session answered: results to whoever waits, events to watchers, state
    /// changes to the handles. (Frames to send and dropped connections are the caller's.)
    fn answer(&mut self, out: Output<Tag>) {
        match out {
            Output::State { state, keeper } => self.publish_state(state, keeper),
            Output::Reply { tag, result, .. } => {
                if let Tag::Reply(tx) = tag {
                    if result.as_ref().is_ok_and(|r| r.zxid.as_i64() > 0) {
                        self.shared.session.lock().unwrap().last_zxid = self.session.last_zxid();
                    }
                    let _ = tx.send(result.map_err(client_error));
                }
            }
            Output::Auth { tag, result } | Output::Removed { tag, result, .. } => match tag {
                Tag::Auth(tx) | Tag::Removed(tx) => {
                    let _ = tx.send(result.map_err(client_error));
                }
                _ => {}
            },
            Output::Closed { tag, .. } => {
                if let Tag::Close(tx) = tag {
                    let _ = tx.send(());
                }
            }
            Output::Watch { watcher, event } => self.deliver(watcher, event),
            Output::Unregistered { watcher } => match watcher {
                WatcherId::Oneshot(n) => {
                    self.oneshots.remove(&n);
                }
                WatcherId::Persistent(n) => {
                    self.persistents.remove(&n);
                }
                WatcherId::Default => {}
            },
            Output::Send { .. } | Output::Drop { .. } => {}
        }
    }
}

fn is_terminal(s: KeeperState) -> bool {
    matches!(
        s,
        KeeperState::Expired | KeeperState::Closed | KeeperState::AuthFailed
    )
}

/// One connection attempt: TCP, `ConnectRequest`, `ConnectResponse`, all within `limit`.
async fn connect_once(
    host: String,
    port: u16,
    request: ConnectRequest,
    limit: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<(Conn, ConnectResponse), String> {
    let attempt = async {
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let mut s = crate::tls::connect_stream(tcp, &host, tls).await?;
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
