//! Connections between servers: the election port (3888 in the docs) and the quorum port (2888).
//!
//! **Election connections** follow ZooKeeper's `QuorumCnxManager`: one connection per pair of
//! servers, and the server with the larger id keeps the connection it initiated — when a smaller
//! id connects, the larger closes that connection and connects back. Each peer has its own send
//! queue holding only the latest notification (ZooKeeper's capacity of one: a newer vote makes an
//! older one pointless), so a slow or dead peer never blocks the peer loop. Connecting honours
//! `cnxTimeout`, and a peer that cannot be reached is retried with a growing back-off.
//!
//! **Quorum connections** are opened by learners to their leader's quorum port. The leader
//! answers on the connection the learner opened. When a quorum connection ends, the peer loop
//! hears `LinkDown` after every message that came over it, and a newer connection from the same
//! server supersedes an older one: the older one is reported down first, and anything it still
//! delivers is dropped.
//!
//! Every message is a 4-byte length and an encoding from `zk_core::codec`; each connection
//! starts with a handshake naming the sender's id.

use crate::server::{write_frame, Input};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use zk_core::codec::{decode_peer_msg, encode_peer_msg};
use zk_core::config::Config;
use zk_core::peer::messages::PeerMsg;
use zk_core::ServerId;

const MAGIC: &[u8; 4] = b"ZKRS";
const PROTOCOL: u32 = 1;
/// Largest message between servers (a SNAP carries the whole tree).
const MAX_MESSAGE: usize = 2 << 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chan {
    Election = 1,
    Quorum = 2,
}

/// A connection's identity, so that messages of a superseded connection can be told apart.
static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

/// One server's address book.
#[derive(Clone, Debug)]
struct Peers {
    me: ServerId,
    election: HashMap<ServerId, String>,
    quorum: HashMap<ServerId, String>,
}

fn addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Sends to one peer over one channel: a queue, a writer task, reconnection.
struct Outbox {
    tx: mpsc::UnboundedSender<Vec<u8>>,
}

/// The peer loop's handle on the network.
#[derive(Clone)]
pub struct QuorumHandle {
    inner: Arc<Inner>,
}

struct Inner {
    peers: Peers,
    input: mpsc::UnboundedSender<Input>,
    cnx_timeout: Duration,
    init_timeout: Duration,
    /// Election: the latest notification waiting for each peer, and the writer feeding it.
    election: Mutex<HashMap<ServerId, ElectionLink>>,
    /// Quorum: the live connection to each peer (inbound or outbound).
    quorum: Mutex<HashMap<ServerId, QuorumLink>>,
    shutdown: tokio::sync::watch::Sender<bool>,
}

#[derive(Default)]
struct ElectionLink {
    /// The latest notification not sent yet.
    pending: Option<Vec<u8>>,
    /// The connection's writer, if connected.
    writer: Option<mpsc::UnboundedSender<Vec<u8>>>,
    link: u64,
    connecting: bool,
    backoff: Duration,
    next_attempt: Option<tokio::time::Instant>,
}

struct QuorumLink {
    link: u64,
    out: Outbox,
}

/// Starts listening on this server's election and quorum ports.
pub struct QuorumNet;

impl QuorumNet {
    pub async fn start(
        cfg: &Config,
        me: ServerId,
        input: mpsc::UnboundedSender<Input>,
    ) -> Result<QuorumHandle, String> {
        let mut peers = Peers {
            me,
            election: HashMap::new(),
            quorum: HashMap::new(),
        };
        for s in cfg.servers.values() {
            if let Some((host, qport, eport)) = s.addresses.first() {
                peers.election.insert(s.id, addr(host, *eport));
                peers.quorum.insert(s.id, addr(host, *qport));
            }
        }
        let mine = cfg
            .servers
            .get(&me)
            .ok_or_else(|| format!("server.{me} is not in the configuration"))?;
        let (host, qport, eport) = mine.addresses.first().cloned().ok_or("no address")?;
        let bind_host = if cfg.quorum_listen_on_all_ips {
            "0.0.0.0".to_string()
        } else {
            host.clone()
        };
        let (sd_tx, sd_rx) = tokio::sync::watch::channel(false);
        let inner = Arc::new(Inner {
            peers,
            input,
            cnx_timeout: Duration::from_millis(cfg.cnx_timeout_ms as u64),
            init_timeout: Duration::from_millis(
                cfg.tick_time as u64 * cfg.init_limit.max(1) as u64,
            ),
            election: Mutex::new(HashMap::new()),
            quorum: Mutex::new(HashMap::new()),
            shutdown: sd_tx,
        });
        let el = addr(&bind_host, eport);
        let ql = addr(&bind_host, qport);
        let election = bind_retry(&el, cfg.election_port_bind_retry).await?;
        let quorum = TcpListener::bind(&ql)
            .await
            .map_err(|e| format!("cannot listen on the quorum port {ql}: {e}"))?;
        info!("election port {el}, quorum port {ql}");
        tokio::spawn(accept(
            election,
            Chan::Election,
            inner.clone(),
            sd_rx.clone(),
        ));
        tokio::spawn(accept(quorum, Chan::Quorum, inner.clone(), sd_rx));
        Ok(QuorumHandle { inner })
    }
}

async fn bind_retry(a: &str, retries: u32) -> Result<TcpListener, String> {
    let mut attempt = 0;
    loop {
        match TcpListener::bind(a).await {
            Ok(l) => return Ok(l),
            Err(e) => {
                attempt += 1;
                if retries != 0 && attempt >= retries {
                    return Err(format!("cannot listen on the election port {a}: {e}"));
                }
                warn!("cannot listen on the election port {a}: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

fn handshake(chan: Chan, me: ServerId) -> Vec<u8> {
    let mut v = Vec::with_capacity(17);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&PROTOCOL.to_be_bytes());
    v.push(chan as u8);
    v.extend_from_slice(&me.0.to_be_bytes());
    v
}

async fn read_handshake(s: &mut TcpStream) -> Result<(Chan, ServerId), String> {
    let mut h = [0u8; 17];
    s.read_exact(&mut h)
        .await
        .map_err(|e| format!("no handshake: {e}"))?;
    if &h[..4] != MAGIC {
        return Err("not a zk-rs server (bad handshake)".into());
    }
    let version = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    if version != PROTOCOL {
        return Err(format!(
            "protocol version {version}, this server speaks {PROTOCOL}"
        ));
    }
    let chan = match h[8] {
        1 => Chan::Election,
        2 => Chan::Quorum,
        c => return Err(format!("unknown channel {c}")),
    };
    let mut id = [0u8; 8];
    id.copy_from_slice(&h[9..17]);
    Ok((chan, ServerId(u64::from_be_bytes(id))))
}

async fn accept(
    l: TcpListener,
    chan: Chan,
    inner: Arc<Inner>,
    mut sd: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (mut s, remote) = tokio::select! {
            r = l.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!("accept on the {chan:?} port failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = sd.changed() => return,
        };
        let _ = s.set_nodelay(true);
        let inner = inner.clone();
        tokio::spawn(async move {
            let hs = tokio::time::timeout(inner.cnx_timeout, read_handshake(&mut s)).await;
            let (c, from) = match hs {
                Ok(Ok(x)) => x,
                Ok(Err(e)) => {
                    info!(%remote, "refused a server connection: {e}");
                    return;
                }
                Err(_) => {
                    info!(%remote, "refused a server connection: no handshake within cnxTimeout");
                    return;
                }
            };
            if c != chan || !inner.peers.election.contains_key(&from) || from == inner.peers.me {
                info!(%remote, "refused a connection from unknown server {from} on the {chan:?} port");
                return;
            }
            match chan {
                Chan::Election => inner.election_inbound(from, s),
                Chan::Quorum => inner.quorum_inbound(from, s),
            }
        });
    }
}

impl Inner {
    // ---- election ----------------------------------------------------------------------

    fn election_send(self: &Arc<Self>, to: ServerId, bytes: Vec<u8>) {
        let mut map = self.election.lock().expect("election links");
        let l = map.entry(to).or_default();
        match &l.writer {
            Some(w) if w.send(bytes.clone()).is_ok() => return,
            _ => {}
        }
        l.writer = None;
        l.pending = Some(bytes);
        if !l.connecting {
            let now = tokio::time::Instant::now();
            if l.next_attempt.is_some_and(|t| t > now) {
                return;
            }
            l.connecting = true;
            drop(map);
            let me = self.clone();
            tokio::spawn(async move { me.election_connect(to).await });
        }
    }

    /// Connects to `to`'s election port. If `to` has the larger id it will drop this connection
    /// and connect back; our queued vote goes out on that one.
    async fn election_connect(self: Arc<Self>, to: ServerId) {
        let Some(a) = self.peers.election.get(&to).cloned() else {
            return;
        };
        let r = tokio::time::timeout(self.cnx_timeout, TcpStream::connect(&a)).await;
        let stream = match r {
            Ok(Ok(s)) => Some(s),
            Ok(Err(e)) => {
                debug!("cannot connect to server {to} at {a}: {e}");
                None
            }
            Err(_) => {
                debug!("connecting to server {to} at {a} timed out (cnxTimeout)");
                None
            }
        };
        let stream = {
            let mut map = self.election.lock().expect("election links");
            let l = map.entry(to).or_default();
            l.connecting = false;
            match stream {
                Some(s) => {
                    l.backoff = Duration::ZERO;
                    l.next_attempt = None;
                    Some(s)
                }
                None => {
                    l.backoff =
                        (l.backoff * 2).clamp(Duration::from_millis(100), Duration::from_secs(2));
                    l.next_attempt = Some(tokio::time::Instant::now() + l.backoff);
                    None
                }
            }
        };
        let Some(mut s) = stream else { return };
        let _ = s.set_nodelay(true);
        if s.write_all(&handshake(Chan::Election, self.peers.me))
            .await
            .is_err()
        {
            return;
        }
        if to > self.peers.me {
            // The larger id keeps the connection it initiates: wait for it to connect back.
            let _ = s.shutdown().await;
            return;
        }
        self.election_attach(to, s);
    }

    fn election_inbound(self: &Arc<Self>, from: ServerId, s: TcpStream) {
        if from < self.peers.me {
            // We have the larger id: drop theirs and use our own.
            drop(s);
            let connect = {
                let mut map = self.election.lock().expect("election links");
                let l = map.entry(from).or_default();
                let connect = l.writer.is_none() && !l.connecting;
                if connect {
                    l.connecting = true;
                    l.next_attempt = None;
                }
                connect
            };
            if connect {
                let me = self.clone();
                tokio::spawn(async move { me.election_connect(from).await });
            }
            return;
        }
        self.election_attach(from, s);
    }

    /// Makes `s` the election connection with `peer`: a writer draining its queue and a reader
    /// feeding notifications to the peer loop.
    fn election_attach(self: &Arc<Self>, peer: ServerId, s: TcpStream) {
        let (mut rd, wr) = s.into_split();
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let link = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
        {
            let mut map = self.election.lock().expect("election links");
            let l = map.entry(peer).or_default();
            if let Some(p) = l.pending.take() {
                let _ = tx.send(p);
            }
            l.writer = Some(tx);
            l.link = link;
        }
        tokio::spawn(write_frames(wr, rx));
        let me = self.clone();
        tokio::spawn(async move {
            let _ = read_frames(&mut rd, peer, |msg| {
                if matches!(msg, PeerMsg::Election(_)) {
                    me.input.send(Input::Peer { from: peer, msg }).is_ok()
                } else {
                    false
                }
            })
            .await;
            let mut map = me.election.lock().expect("election links");
            if let Some(l) = map.get_mut(&peer) {
                if l.link == link {
                    l.writer = None;
                }
            }
        });
    }

    // ---- quorum ------------------------------------------------------------------------

    fn quorum_send(self: &Arc<Self>, to: ServerId, bytes: Vec<u8>) {
        let mut map = self.quorum.lock().expect("quorum links");
        if let Some(q) = map.get(&to) {
            if q.out.tx.send(bytes.clone()).is_ok() {
                return;
            }
            map.remove(&to);
        }
        // No connection: we are the learner, connecting to the leader.
        let Some(a) = self.peers.quorum.get(&to).cloned() else {
            return;
        };
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let _ = tx.send(bytes);
        let link = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
        map.insert(
            to,
            QuorumLink {
                link,
                out: Outbox { tx },
            },
        );
        drop(map);
        let me = self.clone();
        tokio::spawn(async move {
            let r = tokio::time::timeout(
                me.init_timeout.min(me.cnx_timeout * 2),
                TcpStream::connect(&a),
            )
            .await;
            let mut s = match r {
                Ok(Ok(s)) => s,
                _ => {
                    debug!("cannot connect to the quorum port of server {to} at {a}");
                    me.quorum_closed(to, link);
                    return;
                }
            };
            let _ = s.set_nodelay(true);
            if s.write_all(&handshake(Chan::Quorum, me.peers.me))
                .await
                .is_err()
            {
                me.quorum_closed(to, link);
                return;
            }
            me.quorum_run(to, link, s, rx).await;
        });
    }

    fn quorum_inbound(self: &Arc<Self>, from: ServerId, s: TcpStream) {
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let link = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
        let old = {
            let mut map = self.quorum.lock().expect("quorum links");
            map.insert(
                from,
                QuorumLink {
                    link,
                    out: Outbox { tx },
                },
            )
        };
        if old.is_some() {
            // The newer connection supersedes: the peer loop hears the old one is gone first.
            let _ = self.input.send(Input::LinkDown { peer: from });
        }
        let me = self.clone();
        tokio::spawn(async move { me.quorum_run(from, link, s, rx).await });
    }

    async fn quorum_run(
        self: Arc<Self>,
        peer: ServerId,
        link: u64,
        s: TcpStream,
        rx: mpsc::UnboundedReceiver<Vec<u8>>,
    ) {
        let (mut rd, wr) = s.into_split();
        let writer = tokio::spawn(write_frames(wr, rx));
        let me = self.clone();
        let r = read_frames(&mut rd, peer, |msg| {
            // Only the current connection speaks for the peer.
            let current = me
                .quorum
                .lock()
                .expect("quorum links")
                .get(&peer)
                .is_some_and(|q| q.link == link);
            current
                && matches!(msg, PeerMsg::Quorum(_))
                && me.input.send(Input::Peer { from: peer, msg }).is_ok()
        })
        .await;
        if let Err(e) = r {
            debug!("quorum connection with server {peer} ended: {e}");
        }
        writer.abort();
        self.quorum_closed(peer, link);
    }

    fn quorum_closed(&self, peer: ServerId, link: u64) {
        let mut map = self.quorum.lock().expect("quorum links");
        if map.get(&peer).is_some_and(|q| q.link == link) {
            map.remove(&peer);
            drop(map);
            let _ = self.input.send(Input::LinkDown { peer });
        }
    }

    fn quorum_disconnect(&self, peer: ServerId) {
        let removed = self.quorum.lock().expect("quorum links").remove(&peer);
        // Dropping the sender ends the writer; the reader sees the socket close.
        drop(removed);
    }
}

/// Writes frames from a channel, batching whatever is queued into one write.
async fn write_frames(
    wr: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut w = BufWriter::with_capacity(64 * 1024, wr);
    while let Some(b) = rx.recv().await {
        if write_frame(&mut w, &b).await.is_err() {
            return;
        }
        while let Ok(b) = rx.try_recv() {
            if write_frame(&mut w, &b).await.is_err() {
                return;
            }
        }
        if w.flush().await.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// Reads frames until the connection ends or `deliver` says stop.
async fn read_frames(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    peer: ServerId,
    mut deliver: impl FnMut(PeerMsg) -> bool,
) -> Result<(), String> {
    let mut len = [0u8; 4];
    loop {
        if rd.read_exact(&mut len).await.is_err() {
            return Ok(());
        }
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_MESSAGE {
            return Err(format!(
                "server {peer} sent a {n}-byte message, over the limit"
            ));
        }
        let mut buf = vec![0u8; n];
        rd.read_exact(&mut buf)
            .await
            .map_err(|e| format!("truncated message: {e}"))?;
        let msg = decode_peer_msg(&buf, MAX_MESSAGE)
            .map_err(|e| format!("unreadable message from server {peer}: {e}"))?;
        if !deliver(msg) {
            return Ok(());
        }
    }
}

impl QuorumHandle {
    pub fn send(&self, to: ServerId, msg: PeerMsg) {
        let bytes = encode_peer_msg(&msg);
        match msg {
            PeerMsg::Election(_) => self.inner.election_send(to, bytes),
            PeerMsg::Quorum(_) => self.inner.quorum_send(to, bytes),
        }
    }

    pub fn disconnect(&self, peer: ServerId) {
        self.inner.quorum_disconnect(peer);
    }

    pub fn shutdown(&self) {
        let _ = self.inner.shutdown.send(true);
        self.inner.quorum.lock().expect("quorum links").clear();
        self.inner.election.lock().expect("election links").clear();
    }
}
