//! # An async ZooKeeper client
//!
//! Speaks ZooKeeper's client protocol (the jute records of [`zk_core::proto`]) to any ZooKeeper
//! server — Apache's or ours — the way the Java client, kazoo and the `zookeeper-client` crate do.
//!
//! ```no_run
//! # async fn demo() -> Result<(), zk_native::client::ClientError> {
//! use std::time::Duration;
//! use zk_native::client::{Acl, Client, CreateMode};
//!
//! let zk = Client::connect("127.0.0.1:2181,127.0.0.1:2182/app", Duration::from_secs(10)).await?;
//! zk.create("/config", Some(b"v1"), &Acl::open_unsafe(), CreateMode::Persistent).await?;
//! let (data, stat, watch) = zk.get_data_and_watch("/config").await?;
//! // ... someone runs `set /app/config v2` ...
//! let event = watch.await; // NodeDataChanged on /config
//! zk.close().await?;
//! # Ok(()) }
//! ```
//!
//! ## How it is built
//!
//! A [`Client`] is a cheap handle; one background task (`driver.rs`) owns the TCP connection, the
//! session and the watches. Every call becomes a command to that task and waits on a oneshot for
//! its reply; the task writes requests in order, matches replies by xid, pings when idle and, when
//! the connection breaks, fails what was pending with ConnectionLoss and reconnects to the next
//! server with the same session, putting back its auth and its watches. `watches.rs` holds the
//! rules for which watcher a notification reaches.
//!
//! ## Watches
//!
//! * `exists`, `get_data`, `get_children` and `get_children2` take `watch: bool`, which sets a
//!   watch for the session's *default watcher*, as Java's `getData(path, true)`: its events come out
//!   of every [`EventStream`] ([`Client::events`]), together with the session's state changes
//!   (SyncConnected, Disconnected, Expired, AuthFailed, Closed). A default watch set twice on a
//!   path fires once.
//! * `exists_and_watch`, `get_data_and_watch` and `get_children_and_watch` return a
//!   [`OneshotWatch`] of their own, a future of the one event that fires it.
//! * [`Client::add_watch`] returns a [`PersistentWatch`], a stream of every event of a persistent
//!   (or persistent recursive) watch until it is removed or the session ends.
//!
//! ## Errors
//!
//! [`ClientError::Keeper`] carries ZooKeeper's [`ErrorCode`] and the path, and prints as Java's
//! `KeeperException` does (`KeeperErrorCode = NoNode for /a`).
//!
//! ## Raw requests
//!
//! [`Client::request`] sends a `zk_core` [`Request`] as it is — with the chroot and watch
//! bookkeeping of the typed methods — for front ends that build requests themselves: zkcli
//! drives `zk_cli`'s commands through it.

mod connect_string;
mod driver;
mod error;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use zk_core::path::{validate_path, validate_path_sequential};
use zk_core::request::{CreateRequest, Reply};
use zk_core::stat::MAX_TTL;
use zk_core::txn::op;

pub use connect_string::{ConnectString, DEFAULT_PORT};
pub use error::ClientError;
pub use zk_core::acl::{perms, Acl, Id};
pub use zk_core::client::{States, WatcherType};
pub use zk_core::request::{
    ClientInfo, CreateMode, EventType, KeeperState, OpResult, Request, Response, WatchedEvent,
};
pub use zk_core::stat::Stat;
pub use zk_core::{ErrorCode, SessionId, Zxid};

use connect_string::{to_client_path, to_server_path};
use driver::{Command, Driver, Registration, RemoveWatches, SessionInfo, Setup, Shared, Watcher};
use zk_core::client::WatchRequest;

/// The path of the ensemble's configuration node (`ZooDefs.CONFIG_NODE`).
pub const CONFIG_NODE: &str = zk_core::path::CONFIG;

/// `AddWatchMode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddWatchMode {
    /// Data and child events of the path itself, until removed.
    Persistent,
    /// Created, deleted and data-changed events of the path and everything below it.
    PersistentRecursive,
}

impl AddWatchMode {
    fn code(self) -> i32 {
        use zk_core::request::add_watch_mode as m;
        match self {
            AddWatchMode::Persistent => m::PERSISTENT,
            AddWatchMode::PersistentRecursive => m::PERSISTENT_RECURSIVE,
        }
    }
}

/// One operation of a [`Client::multi`] (Create, Delete, SetData, Check) or
/// [`Client::multi_read`] (GetData, GetChildren).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Create {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        mode: CreateMode,
        /// Only for the TTL modes: the time to live in ms.
        ttl: Option<i64>,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    GetData {
        path: String,
    },
    GetChildren {
        path: String,
    },
}

impl Op {
    pub fn create(path: &str, data: Option<&[u8]>, acl: &[Acl], mode: CreateMode) -> Op {
        Op::Create {
            path: path.to_string(),
            data: data.map(<[u8]>::to_vec),
            acl: acl.to_vec(),
            mode,
            ttl: None,
        }
    }
    pub fn delete(path: &str, version: i32) -> Op {
        Op::Delete {
            path: path.to_string(),
            version,
        }
    }
    pub fn set_data(path: &str, data: Option<&[u8]>, version: i32) -> Op {
        Op::SetData {
            path: path.to_string(),
            data: data.map(<[u8]>::to_vec),
            version,
        }
    }
    pub fn check(path: &str, version: i32) -> Op {
        Op::Check {
            path: path.to_string(),
            version,
        }
    }
    pub fn get_data(path: &str) -> Op {
        Op::GetData {
            path: path.to_string(),
        }
    }
    pub fn get_children(path: &str) -> Op {
        Op::GetChildren {
            path: path.to_string(),
        }
    }
    /// The client path the operation names.
    pub fn path(&self) -> &str {
        match self {
            Op::Create { path, .. }
            | Op::Delete { path, .. }
            | Op::SetData { path, .. }
            | Op::Check { path, .. }
            | Op::GetData { path }
            | Op::GetChildren { path } => path,
        }
    }
}

/// The event that fires a one-shot watch: a future. A session that ends first resolves it with
/// the session's last state (Expired, Closed, AuthFailed) and event type None.
pub struct OneshotWatch {
    rx: oneshot::Receiver<WatchedEvent>,
}

impl OneshotWatch {
    /// Waits for the event.
    pub async fn changed(self) -> WatchedEvent {
        self.await
    }
}

impl Future for OneshotWatch {
    type Output = WatchedEvent;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WatchedEvent> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or_else(|_| state_event(KeeperState::Closed)))
    }
}

/// The events of a persistent watch, and the session's state changes meanwhile; it ends after
/// PersistentWatchRemoved or the session's end. Dropping it stops delivery (the server keeps the
/// watch until the next reconnect or [`Client::remove_watches`]).
pub struct PersistentWatch {
    path: String,
    rx: mpsc::UnboundedReceiver<WatchedEvent>,
}

impl PersistentWatch {
    pub async fn next(&mut self) -> Option<WatchedEvent> {
        self.rx.recv().await
    }
    /// The path the watch was added on.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// The session's default watcher: state changes, and the events of watches set with
/// `watch: true`.
pub struct EventStream {
    rx: mpsc::UnboundedReceiver<WatchedEvent>,
}

impl EventStream {
    /// The next event; `None` once the session is over and every event was read.
    pub async fn next(&mut self) -> Option<WatchedEvent> {
        self.rx.recv().await
    }
    /// The next event if one is already there.
    pub fn try_next(&mut self) -> Option<WatchedEvent> {
        self.rx.try_recv().ok()
    }
}

fn state_event(state: KeeperState) -> WatchedEvent {
    WatchedEvent {
        event_type: EventType::None,
        state,
        path: String::new(),
    }
}

/// Options for a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    connect_string: String,
    session_timeout: Duration,
    connect_timeout: Option<Duration>,
    auths: Vec<(String, Vec<u8>)>,
    read_only: bool,
    session: Option<(SessionId, Vec<u8>)>,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("connect_string", &self.connect_string)
            .field("session_timeout", &self.session_timeout)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Authenticates every connection with `scheme` and `auth` (`addauth digest user:password`).
    pub fn auth(mut self, scheme: &str, auth: &[u8]) -> Self {
        self.auths.push((scheme.to_string(), auth.to_vec()));
        self
    }
    /// Accepts a read-only server (one cut off from its quorum).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }
    /// Re-attaches to an existing session instead of creating one.
    pub fn session(mut self, id: SessionId, password: Vec<u8>) -> Self {
        self.session = Some((id, password));
        self
    }
    /// Connects with TLS (`zookeeper.client.secure`): see [`crate::tls::client_config`].
    pub fn tls(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }
    /// How long [`ClientBuilder::connect`] waits for a session (default: the session timeout).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = Some(t);
        self
    }

    /// Starts the client and returns at once, as Java's `new ZooKeeper(...)` does: calls made
    /// before the session is up wait for it (and fail with ConnectionLoss if the attempt fails).
    /// Must be called inside a tokio runtime.
    pub fn spawn(self) -> Result<Client, ClientError> {
        let cs = ConnectString::parse(&self.connect_string)?;
        let timeout_ms = i32::try_from(self.session_timeout.as_millis()).unwrap_or(i32::MAX);
        let (state, _) = watch::channel(States::Connecting);
        let shared = Arc::new(Shared {
            state,
            session: Mutex::new(SessionInfo::default()),
            subscribers: Mutex::new(Vec::new()),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let setup = Setup {
            servers: cs.servers,
            chroot: cs.chroot.clone(),
            session_timeout_ms: timeout_ms,
            read_only: self.read_only,
            session: self.session,
            auths: self.auths,
            tls: self.tls,
        };
        tokio::spawn(Driver::new(setup, shared.clone(), rx).run());
        Ok(Client {
            inner: Arc::new(Inner {
                commands: tx,
                shared,
                chroot: cs.chroot,
                connect_string: self.connect_string,
            }),
        })
    }

    /// Starts the client and waits until it has a session. Fails with SessionExpired when
    /// re-attaching to a session that is gone, and with [`ClientError::ConnectTimeout`] when no
    /// server answers in time.
    pub async fn connect(self) -> Result<Client, ClientError> {
        let limit = self.connect_timeout.unwrap_or(self.session_timeout);
        let client = self.spawn()?;
        let mut st = client.inner.shared.state.subscribe();
        let outcome = tokio::time::timeout(limit, async {
            st.wait_for(|s| *s != States::Connecting)
                .await
                .map(|s| *s)
                .unwrap_or(States::Closed)
        })
        .await;
        match outcome {
            Ok(States::Connected | States::ConnectedReadOnly) => Ok(client),
            Ok(States::Expired) => Err(ClientError::code(ErrorCode::SessionExpired)),
            Ok(States::AuthFailed) => Err(ClientError::code(ErrorCode::AuthFailed)),
            Ok(_) => Err(ClientError::Closed),
            Err(_) => {
                let connect_string = client.inner.connect_string.clone();
                client.abandon().await;
                Err(ClientError::ConnectTimeout {
                    connect_string,
                    timeout_ms: limit.as_millis() as u64,
                })
            }
        }
    }
}

struct Inner {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    chroot: Option<String>,
    connect_string: String,
}

/// A handle on one ZooKeeper session. Clones share the session; when the last one is dropped
/// the session is closed.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

type Result<T, E = ClientError> = std::result::Result<T, E>;

impl Client {
    pub fn builder(connect_string: &str, session_timeout: Duration) -> ClientBuilder {
        ClientBuilder {
            connect_string: connect_string.to_string(),
            session_timeout,
            connect_timeout: None,
            auths: Vec::new(),
            read_only: false,
            session: None,
            tls: None,
        }
    }

    /// Connects to one of the servers of `connect_string` (`host:port,host:port[/chroot]`) and
    /// waits for a session.
    pub async fn connect(connect_string: &str, session_timeout: Duration) -> Result<Client> {
        Client::builder(connect_string, session_timeout)
            .connect()
            .await
    }

    pub fn state(&self) -> States {
        *self.inner.shared.state.borrow()
    }

    fn session(&self) -> SessionInfo {
        self.inner.shared.session.lock().unwrap().clone()
    }

    /// The session id (0 before the first connection).
    pub fn session_id(&self) -> SessionId {
        self.session().id
    }
    /// The session's password, to re-attach with [`ClientBuilder::session`].
    pub fn session_password(&self) -> Vec<u8> {
        self.session().passwd
    }
    /// The timeout the server granted.
    pub fn session_timeout(&self) -> Duration {
        Duration::from_millis(self.session().timeout_ms.max(0) as u64)
    }
    /// The last zxid seen in a reply.
    pub fn last_zxid(&self) -> Zxid {
        self.session().last_zxid
    }
    /// `host:port` of the server the client is (or was last) connected to.
    pub fn server(&self) -> Option<String> {
        self.session().server
    }
    pub fn chroot(&self) -> Option<&str> {
        self.inner.chroot.as_deref()
    }

    /// A stream of the default watcher's events: state changes and the events of watches set
    /// with `watch: true`. It starts with the current state when the client is connected (or
    /// over), so that a stream taken right after [`ClientBuilder::spawn`] sees the first
    /// SyncConnected whether or not it came before.
    pub fn events(&self) -> EventStream {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut subs = self.inner.shared.subscribers.lock().unwrap();
        let state = *self.inner.shared.state.borrow();
        let first = match state {
            States::Connecting => None,
            States::Connected => Some(KeeperState::SyncConnected),
            States::ConnectedReadOnly => Some(KeeperState::ConnectedReadOnly),
            States::AuthFailed => Some(KeeperState::AuthFailed),
            States::Expired => Some(KeeperState::Expired),
            States::Closed => Some(KeeperState::Closed),
        };
        if let Some(k) = first {
            let _ = tx.send(state_event(k));
        }
        if state.is_alive() {
            subs.push(tx);
        }
        EventStream { rx }
    }

    // -----------------------------------------------------------------------------------------
    // Plumbing

    /// The error for a call made after the task ended.
    fn gone(&self) -> ClientError {
        match self.state() {
            States::Expired => ClientError::code(ErrorCode::SessionExpired),
            States::AuthFailed => ClientError::code(ErrorCode::AuthFailed),
            _ => ClientError::Closed,
        }
    }

    async fn command<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        if self.inner.commands.send(make(tx)).is_err() {
            return Err(self.gone());
        }
        rx.await.unwrap_or_else(|_| Err(self.gone()))
    }

    /// Sends a request and returns its reply, whatever its error code; connection errors name
    /// `path`.
    async fn call(
        &self,
        path: &str,
        request: Request,
        watch: Option<Registration>,
    ) -> Result<Reply> {
        self.command(|reply| Command::Request {
            request,
            watch,
            reply,
        })
        .await
        .map_err(|e| e.at(path))
    }

    /// Sends a request and returns the body of a successful reply.
    async fn ok(
        &self,
        path: &str,
        request: Request,
        watch: Option<Registration>,
    ) -> Result<Response> {
        let r = self.call(path, request, watch).await?;
        if r.err.is_ok() {
            Ok(r.body)
        } else {
            Err(ClientError::code(r.err).at(path))
        }
    }

    fn server_path(&self, path: &str) -> Result<String> {
        validate_path(path)?;
        Ok(to_server_path(self.chroot(), path))
    }

    fn client_path(&self, server_path: &str) -> String {
        to_client_path(self.chroot(), server_path)
    }

    fn default_watch(request: WatchRequest, path: &str, watch: bool) -> Option<Registration> {
        watch.then(|| Registration {
            request,
            path: path.to_string(),
            watcher: Watcher::Default,
        })
    }

    fn oneshot_watch(request: WatchRequest, path: &str) -> (Registration, OneshotWatch) {
        let (tx, rx) = oneshot::channel();
        (
            Registration {
                request,
                path: path.to_string(),
                watcher: Watcher::Oneshot(tx),
            },
            OneshotWatch { rx },
        )
    }

    // -----------------------------------------------------------------------------------------
    // Operations

    /// Creates a node; returns its path (with the sequence number, for sequential modes).
    /// `data: None` stores a null buffer, which reads back as `None`.
    pub async fn create(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<String> {
        let opcode = if mode.is_container() {
            op::CREATE_CONTAINER
        } else {
            op::CREATE
        };
        let (p, _) = self.create_op(opcode, path, data, acl, mode, -1).await?;
        Ok(p)
    }

    /// Creates a node (`create2`); returns its path and stat.
    pub async fn create2(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<(String, Stat)> {
        let opcode = if mode.is_container() {
            op::CREATE_CONTAINER
        } else {
            op::CREATE2
        };
        let (p, s) = self.create_op(opcode, path, data, acl, mode, -1).await?;
        Ok((p, s.unwrap_or_default()))
    }

    /// Creates a node that the server deletes `ttl` ms after it was last changed if it has no
    /// children (`createTTL`, modes PersistentWithTtl and PersistentSequentialWithTtl).
    pub async fn create_ttl(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        ttl: i64,
    ) -> Result<(String, Stat)> {
        let (p, s) = self
            .create_op(op::CREATE_TTL, path, data, acl, mode, ttl)
            .await?;
        Ok((p, s.unwrap_or_default()))
    }

    async fn create_op(
        &self,
        opcode: i32,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        ttl: i64,
    ) -> Result<(String, Option<Stat>)> {
        let req = self.to_server_request(create_request(opcode, path, data, acl, mode, ttl))?;
        match self.to_client_response(self.ok(path, req, None).await?) {
            Response::Create { path } => Ok((path, None)),
            Response::Create2 { path, stat } => Ok((path, Some(stat))),
            other => Err(unexpected(path, other)),
        }
    }

    /// Deletes a node if its version is `version` (-1: any version).
    pub async fn delete(&self, path: &str, version: i32) -> Result<()> {
        let p = self.server_path(path)?;
        self.ok(path, Request::Delete { path: p, version }, None)
            .await
            .map(drop)
    }

    /// The node's stat, or `None` when it does not exist. `watch` sets a default watch that fires
    /// when the node is created, changed or deleted.
    pub async fn exists(&self, path: &str, watch: bool) -> Result<Option<Stat>> {
        let reg = Self::default_watch(WatchRequest::Exists, path, watch);
        self.exists_inner(path, reg).await
    }

    /// [`Client::exists`] with a watch of its own.
    pub async fn exists_and_watch(&self, path: &str) -> Result<(Option<Stat>, OneshotWatch)> {
        let (reg, w) = Self::oneshot_watch(WatchRequest::Exists, path);
        let s = self.exists_inner(path, Some(reg)).await?;
        Ok((s, w))
    }

    async fn exists_inner(&self, path: &str, reg: Option<Registration>) -> Result<Option<Stat>> {
        let p = self.server_path(path)?;
        let watch = reg.is_some();
        let r = self
            .call(path, Request::Exists { path: p, watch }, reg)
            .await?;
        match (r.err, r.body) {
            (ErrorCode::Ok, Response::Stat(s)) => Ok(Some(s)),
            (ErrorCode::NoNode, _) => Ok(None),
            (ErrorCode::Ok, other) => Err(unexpected(path, other)),
            (err, _) => Err(ClientError::code(err).at(path)),
        }
    }

    /// The node's data (`None` for a null buffer) and stat.
    pub async fn get_data(&self, path: &str, watch: bool) -> Result<(Option<Vec<u8>>, Stat)> {
        let reg = Self::default_watch(WatchRequest::Data, path, watch);
        self.get_data_inner(path, reg).await
    }

    /// [`Client::get_data`] with a watch of its own.
    pub async fn get_data_and_watch(
        &self,
        path: &str,
    ) -> Result<(Option<Vec<u8>>, Stat, OneshotWatch)> {
        let (reg, w) = Self::oneshot_watch(WatchRequest::Data, path);
        let (d, s) = self.get_data_inner(path, Some(reg)).await?;
        Ok((d, s, w))
    }

    async fn get_data_inner(
        &self,
        path: &str,
        reg: Option<Registration>,
    ) -> Result<(Option<Vec<u8>>, Stat)> {
        let p = self.server_path(path)?;
        let watch = reg.is_some();
        match self
            .ok(path, Request::GetData { path: p, watch }, reg)
            .await?
        {
            Response::GetData { data, stat } => Ok((data, stat)),
            other => Err(unexpected(path, other)),
        }
    }

    /// The ensemble's configuration (`/zookeeper/config`, whatever the chroot), as
    /// `ZooKeeper.getConfig`.
    pub async fn get_config(&self, watch: bool) -> Result<(Option<Vec<u8>>, Stat)> {
        let reg = Self::default_watch(WatchRequest::Data, CONFIG_NODE, watch);
        let req = Request::GetData {
            path: CONFIG_NODE.to_string(),
            watch,
        };
        match self.ok(CONFIG_NODE, req, reg).await? {
            Response::GetData { data, stat } => Ok((data, stat)),
            other => Err(unexpected(CONFIG_NODE, other)),
        }
    }

    /// Sets the node's data if its version is `version` (-1: any); returns the new stat.
    pub async fn set_data(&self, path: &str, data: Option<&[u8]>, version: i32) -> Result<Stat> {
        let p = self.server_path(path)?;
        let req = Request::SetData {
            path: p,
            data: data.map(<[u8]>::to_vec),
            version,
        };
        match self.ok(path, req, None).await? {
            Response::Stat(s) => Ok(s),
            other => Err(unexpected(path, other)),
        }
    }

    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        let p = self.server_path(path)?;
        match self.ok(path, Request::GetAcl { path: p }, None).await? {
            Response::GetAcl { acl, stat } => Ok((acl, stat)),
            other => Err(unexpected(path, other)),
        }
    }

    /// Sets the node's ACL if its ACL version is `version` (-1: any); returns the new stat.
    pub async fn set_acl(&self, path: &str, acl: &[Acl], version: i32) -> Result<Stat> {
        let req = self.to_server_request(Request::SetAcl {
            path: path.to_string(),
            acl: acl.to_vec(),
            version,
        })?;
        match self.ok(path, req, None).await? {
            Response::Stat(s) => Ok(s),
            other => Err(unexpected(path, other)),
        }
    }

    /// The names of the node's children, in the server's order.
    pub async fn get_children(&self, path: &str, watch: bool) -> Result<Vec<String>> {
        let reg = Self::default_watch(WatchRequest::Children, path, watch);
        self.get_children_inner(path, reg).await
    }

    /// [`Client::get_children`] with a watch of its own.
    pub async fn get_children_and_watch(&self, path: &str) -> Result<(Vec<String>, OneshotWatch)> {
        let (reg, w) = Self::oneshot_watch(WatchRequest::Children, path);
        let children = self.get_children_inner(path, Some(reg)).await?;
        Ok((children, w))
    }

    async fn get_children_inner(
        &self,
        path: &str,
        reg: Option<Registration>,
    ) -> Result<Vec<String>> {
        let p = self.server_path(path)?;
        let watch = reg.is_some();
        match self
            .ok(path, Request::GetChildren { path: p, watch }, reg)
            .await?
        {
            Response::GetChildren { children } => Ok(children),
            other => Err(unexpected(path, other)),
        }
    }

    /// The children and the node's stat (`getChildren2`).
    pub async fn get_children2(&self, path: &str, watch: bool) -> Result<(Vec<String>, Stat)> {
        let reg = Self::default_watch(WatchRequest::Children, path, watch);
        let p = self.server_path(path)?;
        match self
            .ok(path, Request::GetChildren2 { path: p, watch }, reg)
            .await?
        {
            Response::GetChildren2 { children, stat } => Ok((children, stat)),
            other => Err(unexpected(path, other)),
        }
    }

    /// How many nodes are below `path` (all descendants, not only children).
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32> {
        let p = self.server_path(path)?;
        match self
            .ok(path, Request::GetAllChildrenNumber { path: p }, None)
            .await?
        {
            Response::AllChildrenNumber(n) => Ok(n),
            other => Err(unexpected(path, other)),
        }
    }

    /// The session's ephemeral nodes whose path starts with `prefix` (`/` for all). Unlike Java's
    /// client (which ignores it here), the chroot applies: to the prefix and to the paths back.
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>> {
        let p = self.server_path(prefix)?;
        let body = self
            .ok(prefix, Request::GetEphemerals { prefix: p }, None)
            .await?;
        match self.to_client_response(body) {
            Response::Ephemerals(paths) => Ok(paths),
            other => Err(unexpected(prefix, other)),
        }
    }

    /// Waits until the server this client talks to has every change the leader committed before
    /// the call; returns the path.
    pub async fn sync(&self, path: &str) -> Result<String> {
        let p = self.server_path(path)?;
        match self.to_client_response(self.ok(path, Request::Sync { path: p }, None).await?) {
            Response::Sync { path } => Ok(path),
            other => Err(unexpected(path, other)),
        }
    }

    /// Succeeds if the node's version is `version` (BadVersion if not, NoNode if there is no
    /// node). Sent as a multi of one check: ZooKeeper 3.8 answers a standalone `check` (opcode
    /// 13) only when it fails — one that succeeds gets no reply at all.
    pub async fn check(&self, path: &str, version: i32) -> Result<()> {
        match self.multi(vec![Op::check(path, version)]).await {
            Ok(_) => Ok(()),
            Err(ClientError::MultiFailed { code, path, .. }) => {
                Err(ClientError::code(code).at(&path))
            }
            Err(e) => Err(e.at(path)),
        }
    }

    /// Runs Create, Delete, SetData and Check operations as one transaction: all or nothing.
    /// When one fails, [`ClientError::MultiFailed`] says which and why.
    pub async fn multi(&self, ops: Vec<Op>) -> Result<Vec<OpResult>> {
        let reqs = ops.iter().map(Self::op_request).collect();
        let results = self.multi_call(Request::Multi(reqs)).await?;
        if let Some((index, code)) = results.iter().enumerate().find_map(|(i, r)| match r {
            // Ops before the failed one report Ok, ops after it RuntimeInconsistency.
            OpResult::Error { err } if !err.is_ok() => Some((i, *err)),
            _ => None,
        }) {
            return Err(ClientError::MultiFailed {
                index,
                code,
                path: ops[index].path().to_string(),
            });
        }
        Ok(results)
    }

    /// Runs GetData and GetChildren operations together; each result is its own success or
    /// error.
    pub async fn multi_read(&self, ops: Vec<Op>) -> Result<Vec<OpResult>> {
        let reqs = ops.iter().map(Self::op_request).collect();
        self.multi_call(Request::MultiRead(reqs)).await
    }

    async fn multi_call(&self, request: Request) -> Result<Vec<OpResult>> {
        let r = self
            .call("", self.to_server_request(request)?, None)
            .await?;
        match self.to_client_response(r.body) {
            Response::Multi(results) => Ok(results),
            _ if !r.err.is_ok() => Err(ClientError::code(r.err)),
            other => Err(unexpected("", other)),
        }
    }

    /// An [`Op`] as the request it stands for, with client paths.
    fn op_request(o: &Op) -> Request {
        match o.clone() {
            Op::Create {
                path,
                data,
                acl,
                mode,
                ttl,
            } => {
                let opcode = if mode.is_ttl() {
                    op::CREATE_TTL
                } else if mode.is_container() {
                    op::CREATE_CONTAINER
                } else {
                    op::CREATE
                };
                create_request(
                    opcode,
                    &path,
                    data.as_deref(),
                    &acl,
                    mode,
                    ttl.unwrap_or(-1),
                )
            }
            Op::Delete { path, version } => Request::Delete { path, version },
            Op::SetData {
                path,
                data,
                version,
            } => Request::SetData {
                path,
                data,
                version,
            },
            Op::Check { path, version } => Request::Check { path, version },
            Op::GetData { path } => Request::GetData { path, watch: false },
            Op::GetChildren { path } => Request::GetChildren { path, watch: false },
        }
    }

    /// Adds a persistent (or persistent recursive) watch on `path`; its events come out of the
    /// returned stream. The node need not exist.
    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> Result<PersistentWatch> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.add_watch_inner(path, mode, Watcher::Persistent(tx))
            .await?;
        Ok(PersistentWatch {
            path: path.to_string(),
            rx,
        })
    }

    /// Adds a persistent (or persistent recursive) watch for the default watcher: its events
    /// come out of [`Client::events`], as with Java's `addWatch(path, mode)`.
    pub async fn add_default_watch(&self, path: &str, mode: AddWatchMode) -> Result<()> {
        self.add_watch_inner(path, mode, Watcher::Default).await
    }

    async fn add_watch_inner(
        &self,
        path: &str,
        mode: AddWatchMode,
        watcher: Watcher,
    ) -> Result<()> {
        let p = self.server_path(path)?;
        let request = match mode {
            AddWatchMode::Persistent => WatchRequest::Persistent,
            AddWatchMode::PersistentRecursive => WatchRequest::PersistentRecursive,
        };
        let reg = Registration {
            request,
            path: path.to_string(),
            watcher,
        };
        let req = Request::AddWatch {
            path: p,
            mode: mode.code(),
        };
        self.ok(path, req, Some(reg)).await.map(drop)
    }

    /// Removes every watch of `watcher_type` on `path`, on the server and here
    /// (`removeAllWatches`); each watcher removed is told DataWatchRemoved, ChildWatchRemoved or
    /// PersistentWatchRemoved. `local` removes them here even when the server cannot be reached.
    /// NoWatcher when there is none.
    pub async fn remove_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
        local: bool,
    ) -> Result<()> {
        validate_path(path)?;
        self.command(|reply| {
            Command::RemoveWatches(RemoveWatches {
                path: path.to_string(),
                watcher_type,
                local,
                reply,
            })
        })
        .await
        .map_err(|e| e.at(path))
    }

    /// Asks the server whether this session has a watch of `watcher_type` on `path`: NoWatcher
    /// when it has none.
    pub async fn check_watches(&self, path: &str, watcher_type: WatcherType) -> Result<()> {
        let p = self.server_path(path)?;
        let req = Request::CheckWatches {
            path: p,
            watcher_type: watcher_type.code(),
        };
        self.ok(path, req, None).await.map(drop)
    }

    /// Adds an identity to the session (`addauth digest user:password`), for this connection and
    /// every later one. A refused one (AuthFailed) ends the session's connection, as in Java.
    ///
    /// The auth is queued when this is called, ahead of any later call: the future only waits
    /// for the server's verdict, and may be dropped to go on at once, as Java's `addAuthInfo`
    /// does (a refusal then shows as the AuthFailed event, and as AuthFailed from the calls
    /// queued behind it).
    pub fn add_auth(&self, scheme: &str, auth: &[u8]) -> impl Future<Output = Result<()>> {
        let (tx, rx) = oneshot::channel();
        let sent = self
            .inner
            .commands
            .send(Command::AddAuth {
                scheme: scheme.to_string(),
                auth: auth.to_vec(),
                reply: tx,
            })
            .is_ok();
        let client = self.clone();
        async move {
            if !sent {
                return Err(client.gone());
            }
            rx.await.unwrap_or_else(|_| Err(client.gone()))
        }
    }

    /// The identities the server knows this session by.
    pub async fn who_am_i(&self) -> Result<Vec<ClientInfo>> {
        match self.ok("", Request::WhoAmI, None).await? {
            Response::WhoAmI(infos) => Ok(infos),
            other => Err(unexpected("", other)),
        }
    }

    /// Runs a zkCli command ([`zk_cli::Exec`]): each request it asks for goes to the
    /// server, each answer back to it. `addauth` is queued and not waited for, as zkCli's
    /// `addAuthInfo` does: a refusal shows as the AuthFailed event.
    pub async fn run_command(&self, mut exec: zk_cli::Exec) -> zk_cli::Exec {
        let mut step = exec.start();
        while let zk_cli::Step::Send(request) = step {
            let outcome = match request {
                Request::Auth { scheme, auth, .. } => {
                    drop(self.add_auth(&scheme, &auth));
                    Ok(Response::Empty)
                }
                request => self.request(request).await.map_err(|e| e.zk_code()),
            };
            step = exec.resume(outcome);
        }
        exec
    }

    /// Sends any request as it is, for front ends that build [`Request`]s themselves (such as
    /// `zk_cli`'s `Exec`, which zkcli drives), with the bookkeeping the typed methods do:
    /// the chroot goes in front of the paths sent and comes off the paths answered, a `watch`
    /// flag (`exists`, `getData`, `getChildren`, `getChildren2`) and `addWatch` register the
    /// default watcher, `removeWatches` removes the watchers here too, `auth` is remembered for
    /// reconnects and `closeSession` closes the client. A reply with an error is
    /// [`ClientError::Keeper`]; a multi's reply is returned whole, its failures in its results.
    /// `/zookeeper/config` is read without the chroot, as Java's `getConfig` reads it. Pings and
    /// setWatches are the client's own business and are refused.
    pub async fn request(&self, request: Request) -> Result<Response> {
        let path = request.path().unwrap_or("").to_string();
        match request {
            Request::Auth { scheme, auth, .. } => {
                self.add_auth(&scheme, &auth).await?;
                return Ok(Response::Empty);
            }
            Request::CloseSession => {
                self.close().await?;
                return Ok(Response::Empty);
            }
            Request::RemoveWatches { watcher_type, .. } => {
                let t = WatcherType::from_code(watcher_type);
                self.remove_watches(&path, t, false).await?;
                return Ok(Response::Empty);
            }
            Request::Ping | Request::SetWatches { .. } => {
                return Err(ClientError::InvalidArgument(format!(
                    "{} requests are sent by the client itself",
                    request.name()
                )))
            }
            _ => {}
        }
        let watch = match &request {
            Request::Exists { watch: true, .. } => Some(WatchRequest::Exists),
            Request::GetData { watch: true, .. } => Some(WatchRequest::Data),
            Request::GetChildren { watch: true, .. }
            | Request::GetChildren2 { watch: true, .. } => Some(WatchRequest::Children),
            Request::AddWatch { mode, .. } if *mode == AddWatchMode::Persistent.code() => {
                Some(WatchRequest::Persistent)
            }
            Request::AddWatch { .. } => Some(WatchRequest::PersistentRecursive),
            _ => None,
        };
        let reg = watch.map(|request| Registration {
            request,
            path: path.clone(),
            watcher: Watcher::Default,
        });
        let request = self.to_server_request(request)?;
        let r = self.call(&path, request, reg).await?;
        let body = self.to_client_response(r.body);
        if r.err.is_ok() || matches!(body, Response::Multi(_)) {
            Ok(body)
        } else {
            Err(ClientError::code(r.err).at(&path))
        }
    }

    /// An answer with the chroot taken off the paths in it (a created node's, sync's, the
    /// ephemerals', which also lose those outside the chroot, a multi's creates').
    fn to_client_response(&self, body: Response) -> Response {
        match body {
            Response::Create { path } => Response::Create {
                path: self.client_path(&path),
            },
            Response::Create2 { path, stat } => Response::Create2 {
                path: self.client_path(&path),
                stat,
            },
            Response::Sync { path } => Response::Sync {
                path: self.client_path(&path),
            },
            Response::Ephemerals(paths) => Response::Ephemerals(
                paths
                    .iter()
                    .filter(|p| self.under_chroot(p))
                    .map(|p| self.client_path(p))
                    .collect(),
            ),
            Response::Multi(results) => Response::Multi(
                results
                    .into_iter()
                    .map(|res| match res {
                        OpResult::Create { op, path, stat } => OpResult::Create {
                            op,
                            path: self.client_path(&path),
                            stat,
                        },
                        other => other,
                    })
                    .collect(),
            ),
            other => other,
        }
    }

    /// Is a server path inside the chroot?
    fn under_chroot(&self, server_path: &str) -> bool {
        match self.chroot() {
            None => true,
            Some(c) => server_path == c || server_path.starts_with(&format!("{c}/")),
        }
    }

    /// A request with the chroot in front of its paths (which are checked first).
    fn to_server_request(&self, mut request: Request) -> Result<Request> {
        let sp = |p: &mut String| -> Result<()> {
            if p != CONFIG_NODE {
                *p = self.server_path(p)?;
            }
            Ok(())
        };
        match &mut request {
            Request::Create { req, .. } => {
                // ZooKeeper.create's checks: the path (which may end in '/' when sequential),
                // the ttl for the mode, a non-empty ACL.
                let mode = CreateMode::from_flags(req.flags);
                if mode.is_some_and(CreateMode::is_sequential) {
                    validate_path_sequential(&req.path)?;
                    req.path = to_server_path(self.chroot(), &req.path);
                } else {
                    sp(&mut req.path)?;
                }
                if let Some(mode) = mode {
                    validate_ttl(mode, req.ttl)?;
                }
                validate_acl(&req.acl)?;
            }
            Request::SetAcl { path, acl, .. } => {
                validate_acl(acl)?;
                sp(path)?;
            }
            Request::Delete { path, .. }
            | Request::Exists { path, .. }
            | Request::GetData { path, .. }
            | Request::SetData { path, .. }
            | Request::GetAcl { path }
            | Request::GetChildren { path, .. }
            | Request::GetChildren2 { path, .. }
            | Request::Sync { path }
            | Request::Check { path, .. }
            | Request::GetAllChildrenNumber { path }
            | Request::GetEphemerals { prefix: path }
            | Request::AddWatch { path, .. }
            | Request::CheckWatches { path, .. } => sp(path)?,
            Request::Multi(ops) | Request::MultiRead(ops) => {
                *ops = std::mem::take(ops)
                    .into_iter()
                    .map(|o| self.to_server_request(o))
                    .collect::<Result<_>>()?;
            }
            _ => {}
        }
        Ok(request)
    }

    /// Drops the connection as a network fault would; the client reconnects with the same
    /// session and puts its watches back.
    pub fn reconnect(&self) {
        let _ = self.inner.commands.send(Command::Reconnect);
    }

    /// Closes the session: its ephemeral nodes go, watchers hear Closed. Later calls fail with
    /// [`ClientError::Closed`].
    pub async fn close(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Close { reply: tx })
            .is_ok()
        {
            let _ = rx.await;
        }
        Ok(())
    }

    /// Stops the client without closing the session, as a process that dies leaves it: the
    /// server expires the session after its timeout unless someone re-attaches to it.
    pub async fn abandon(self) {
        let mut st = self.inner.shared.state.subscribe();
        if self.inner.commands.send(Command::Abandon).is_ok() {
            let _ = st.wait_for(|s| !s.is_alive()).await;
        }
    }
}

/// A create request with the client's path, checked and given the chroot by
/// [`Client::to_server_request`].
fn create_request(
    opcode: i32,
    path: &str,
    data: Option<&[u8]>,
    acl: &[Acl],
    mode: CreateMode,
    ttl: i64,
) -> Request {
    Request::Create {
        op: opcode,
        req: CreateRequest {
            path: path.to_string(),
            data: data.map(<[u8]>::to_vec),
            acl: acl.to_vec(),
            flags: mode.flags(),
            ttl,
        },
    }
}

/// A reply whose body does not fit its request; never expected from a correct server.
fn unexpected(path: &str, body: Response) -> ClientError {
    tracing::warn!(path, ?body, "unexpected reply body");
    ClientError::code(ErrorCode::MarshallingError).at(path)
}

/// `ZooKeeper.validateACL`: an empty ACL is refused before sending, with no path.
fn validate_acl(acl: &[Acl]) -> Result<()> {
    if acl.is_empty() {
        return Err(ClientError::code(ErrorCode::InvalidAcl));
    }
    Ok(())
}

/// `EphemeralType.validateTTL`: a TTL mode needs a ttl in range, the others none (-1).
fn validate_ttl(mode: CreateMode, ttl: i64) -> Result<()> {
    if mode.is_ttl() {
        if ttl <= 0 || ttl > MAX_TTL {
            return Err(ClientError::InvalidArgument(format!(
                "ttl must be positive and cannot be larger than: {MAX_TTL}"
            )));
        }
    } else if ttl >= 0 {
        return Err(ClientError::InvalidArgument(format!(
            "ttl not valid for mode: {}",
            java_mode_name(mode)
        )));
    }
    Ok(())
}

fn java_mode_name(mode: CreateMode) -> &'static str {
    match mode {
        CreateMode::Persistent => "PERSISTENT",
        CreateMode::Ephemeral => "EPHEMERAL",
        CreateMode::PersistentSequential => "PERSISTENT_SEQUENTIAL",
        CreateMode::EphemeralSequential => "EPHEMERAL_SEQUENTIAL",
        CreateMode::Container => "CONTAINER",
        CreateMode::PersistentWithTtl => "PERSISTENT_WITH_TTL",
        CreateMode::PersistentSequentialWithTtl => "PERSISTENT_SEQUENTIAL_WITH_TTL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_side_checks() {
        assert!(validate_ttl(CreateMode::Persistent, -1).is_ok());
        assert!(validate_ttl(CreateMode::PersistentWithTtl, 1000).is_ok());
        assert_eq!(
            validate_ttl(CreateMode::PersistentWithTtl, 0)
                .unwrap_err()
                .to_string(),
            "ttl must be positive and cannot be larger than: 1099511627775"
        );
        assert_eq!(
            validate_ttl(CreateMode::Ephemeral, 5)
                .unwrap_err()
                .to_string(),
            "ttl not valid for mode: EPHEMERAL"
        );
        assert_eq!(
            validate_acl(&[]).unwrap_err().to_string(),
            "KeeperErrorCode = InvalidACL"
        );
    }

    #[test]
    fn states_print_as_java() {
        assert_eq!(States::Connected.to_string(), "CONNECTED");
        assert_eq!(States::Expired.to_string(), "CLOSED");
        assert!(!States::AuthFailed.is_alive());
        assert!(States::Connecting.is_alive() && !States::Connecting.is_connected());
    }

    #[tokio::test]
    async fn unreachable_servers_fail_fast_then_time_out() {
        // Port 1 on loopback refuses at once: calls made meanwhile fail with ConnectionLoss,
        // and connect gives up after its timeout.
        let c = Client::builder("127.0.0.1:1", Duration::from_millis(300))
            .spawn()
            .unwrap();
        let e = c.get_data("/a", false).await.unwrap_err();
        assert!(e.is_connection_loss(), "{e}");
        assert_eq!(e.to_string(), "KeeperErrorCode = ConnectionLoss for /a");
        let e = Client::builder("127.0.0.1:1", Duration::from_millis(300))
            .connect()
            .await
            .err()
            .unwrap();
        assert!(matches!(e, ClientError::ConnectTimeout { .. }), "{e}");
        assert!(matches!(
            c.get_data("bad", false).await,
            Err(ClientError::InvalidPath(_))
        ));
        c.close().await.unwrap();
        assert_eq!(c.state(), States::Closed);
        assert_eq!(c.exists("/a", false).await, Err(ClientError::Closed));
    }
}
