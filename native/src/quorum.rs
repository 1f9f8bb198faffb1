//! Connections between servers, in Apache ZooKeeper's own protocol ([`zk_core::wire`]), so that
//! this server and ZooKeeper 3.8 can make one ensemble: the election port (3888 in the docs)
//! and the quorum port (2888). This module only moves bytes; what they mean is the core's.
//!
//! **Election connections** follow ZooKeeper's `QuorumCnxManager`: the connecting server opens
//! with its initial message (protocol version, id, election address), then both ends send
//! length-prefixed notifications. There is one connection per pair of servers, and the server
//! with the larger id keeps the connection it initiated — when a smaller id connects, the larger
//! closes that connection and connects back. Each peer has its own send queue holding only the
//! latest notification (ZooKeeper's capacity of one: a newer vote makes an older one pointless),
//! so a slow or dead peer never blocks the peer loop. Connecting honours `cnxTimeout`, and a
//! peer that cannot be reached is retried with a growing back-off.
//!
//! **Quorum connections** are opened by learners to their leader's quorum port; the leader
//! answers on the connection the learner opened. There is no handshake: the first packet, the
//! learner's FOLLOWERINFO or OBSERVERINFO, says who it is, as ZooKeeper's `LearnerHandler`
//! reads it. Packets are jute records back to back, and a SNAP's snapshot follows its packet
//! unframed; [`zk_core::wire::QuorumDecoder`] follows all that. When a quorum connection ends,
//! the peer loop hears `LinkDown` after every packet that came over it, and a newer connection
//! from the same server supersedes an older one: the older one is reported down first, and
//! anything it still delivers is dropped. The writer reports the snapshot bytes it has written
//! ([`Input::SnapWritten`]): that paces a SNAP to a learner that does not acknowledge pieces.
//!
//! Servers not in the configuration, and initial messages or packets that cannot be read, are
//! refused with a log line naming the problem; nothing a peer claims is allocated before its
//! length is checked.

use crate::server::Input;
use crate::tls::{BoxStream, Tls};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};
use zk_core::config::Config;
use zk_core::peer::messages::{PeerMsg, QuorumPacket};
use zk_core::sasl::quorum::{Admission, LearnerStep, QuorumAuthLearner, QuorumAuthServer};
use zk_core::wire::{self, QuorumDecoder};
use zk_core::ServerId;

/// A connection's identity, so that messages of a superseded connection can be told apart.
static NEXT_LINK: AtomicU64 = AtomicU64::new(1);

/// One server's address book.
#[derive(Clone, Debug)]
struct Peers {
    me: ServerId,
    election: HashMap<ServerId, String>,
    quorum: HashMap<ServerId, String>,
    /// Our election address as the initial message names it.
    my_election: String,
}

fn addr(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// What a writer task is given: bytes, and how many of them are snapshot (to report once
/// written).
type Chunk = (Vec<u8>, u64);

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
    /// The initial message's protocol version (ZooKeeper's V1 unless `multiAddress.enabled`).
    hello_version: i64,
    /// `jute.maxbuffer`.
    max_buffer: usize,
    /// `peerAddressCheck`: a server must connect from its configured address.
    address_check: bool,
    /// TLS between servers (`ssl.quorum.*`), when `sslQuorum` or `portUnification` is set.
    tls: Option<QuorumTls>,
    /// Quorum SASL (`quorum.auth.*`), when `quorum.auth.enableSasl` is set.
    sasl: Option<QuorumSasl>,
    /// What notifications carry: the ensemble as ZooKeeper prints it.
    config_text: Arc<str>,
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
    writer: Option<mpsc::UnboundedSender<Chunk>>,
    link: u64,
    connecting: bool,
    backoff: Duration,
    next_attempt: Option<tokio::time::Instant>,
}

struct QuorumLink {
    link: u64,
    tx: mpsc::UnboundedSender<Chunk>,
    /// Bytes queued for the writer.
    queued: Arc<AtomicUsize>,
}

/// Bytes queued for one server's quorum connection beyond which the server is taken to be
/// stuck and the connection is dropped (it reconnects and syncs again): what a learner that
/// stopped reading may cost the leader.
const QUORUM_QUEUE_LIMIT: usize = 256 << 20;

/// Starts listening on this server's election and quorum ports.
pub struct QuorumNet;

impl QuorumNet {
    pub async fn start(
        cfg: &Config,
        me: ServerId,
        config_text: Arc<str>,
        input: mpsc::UnboundedSender<Input>,
    ) -> Result<QuorumHandle, String> {
        let mine = cfg
            .servers
            .get(&me)
            .ok_or_else(|| format!("server.{me} is not in the configuration"))?;
        let (host, qport, eport) = mine.addresses.first().cloned().ok_or("no address")?;
        let mut peers = Peers {
            me,
            election: HashMap::new(),
            quorum: HashMap::new(),
            my_election: mine
                .addresses
                .iter()
                .map(|(h, _, e)| addr(h, *e))
                .collect::<Vec<_>>()
                .join("|"),
        };
        for s in cfg.servers.values() {
            if let Some((host, qport, eport)) = s.addresses.first() {
                peers.election.insert(s.id, addr(host, *eport));
                peers.quorum.insert(s.id, addr(host, *qport));
            }
        }
        let bind_host = if cfg.quorum_listen_on_all_ips {
            "0.0.0.0".to_string()
        } else {
            host.clone()
        };
        let (sd_tx, sd_rx) = tokio::sync::watch::channel(false);
        let tls = QuorumTls::from_config(cfg)?;
        let inner = Arc::new(Inner {
            peers,
            input,
            cnx_timeout: Duration::from_millis(cfg.cnx_timeout_ms as u64),
            init_timeout: Duration::from_millis(
                cfg.tick_time as u64 * cfg.init_limit.max(1) as u64,
            ),
            hello_version: if cfg.multi_address_enabled {
                wire::PROTOCOL_VERSION_V2
            } else {
                wire::PROTOCOL_VERSION_V1
            },
            max_buffer: cfg.jute_max_buffer as usize,
            address_check: cfg.peer_address_check,
            tls,
            sasl: QuorumSasl::from_config(cfg)?,
            config_text,
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
        tokio::spawn(accept_election(election, inner.clone(), sd_rx.clone()));
        tokio::spawn(accept_quorum(quorum, inner.clone(), sd_rx));
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

/// Accepts on `l`, handing each connection to `handle` until shutdown.
async fn accept_loop<F, Fut>(
    l: TcpListener,
    what: &'static str,
    mut sd: tokio::sync::watch::Receiver<bool>,
    handle: F,
) where
    F: Fn(TcpStream, std::net::SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let (s, remote) = tokio::select! {
            r = l.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    warn!("accept on the {what} port failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = sd.changed() => return,
        };
        let _ = s.set_nodelay(true);
        tokio::spawn(handle(s, remote));
    }
}

async fn accept_election(
    l: TcpListener,
    inner: Arc<Inner>,
    sd: tokio::sync::watch::Receiver<bool>,
) {
    accept_loop(l, "election", sd, move |s, remote| {
        let inner = inner.clone();
        async move {
            let Some(s) = inner.secure_inbound(s, remote, "election").await else {
                return;
            };
            let hs = tokio::time::timeout(inner.cnx_timeout, read_hello(s)).await;
            let (hello, s, rest) = match hs {
                Ok(Ok(x)) => x,
                Ok(Err(e)) => {
                    info!(%remote, "refused an election connection: {e}");
                    return;
                }
                Err(_) => {
                    info!(%remote, "refused an election connection: no initial message within cnxTimeout");
                    return;
                }
            };
            let from = hello.sid;
            if from == inner.peers.me || !inner.peers.election.contains_key(&from) {
                info!(%remote, "refused an election connection from server {from}: not another server of the configuration");
                return;
            }
            if let Err(why) = inner.check_address(from, remote).await {
                info!(%remote, "refused an election connection: {why}");
                return;
            }
            let s = match inner.sasl_as_server(s, rest).await {
                Ok(s) => s,
                Err(why) => {
                    info!(%remote, "refused an election connection from server {from}: {why}");
                    return;
                }
            };
            inner.election_inbound(from, s, Vec::new());
        }
    })
    .await
}

/// Reads the initial message of an election connection; returns it with the stream and any
/// bytes read past it.
async fn read_hello(mut s: BoxStream) -> Result<(wire::Hello, BoxStream, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(64);
    let mut chunk = [0u8; 256];
    loop {
        if let Some((h, used)) = wire::decode_hello(&buf).map_err(|e| e.to_string())? {
            buf.drain(..used);
            return Ok((h, s, buf));
        }
        let n = s
            .read(&mut chunk)
            .await
            .map_err(|e| format!("no initial message: {e}"))?;
        if n == 0 {
            return Err("the connection closed before its initial message".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn accept_quorum(l: TcpListener, inner: Arc<Inner>, sd: tokio::sync::watch::Receiver<bool>) {
    accept_loop(l, "quorum", sd, move |s, remote| {
        let inner = inner.clone();
        async move { inner.quorum_inbound(s, remote).await }
    })
    .await
}

/// Quorum SASL with DIGEST-MD5, as ZooKeeper's SaslQuorumAuthServer / SaslQuorumAuthLearner:
/// the connecting server (the learner) authenticates to the one it connects to, right after its
/// initial message on the election port and before FOLLOWERINFO on the quorum port.
struct QuorumSasl {
    /// The `QuorumServer` section's users: whom this server lets in.
    users: std::collections::BTreeMap<String, String>,
    /// The `QuorumLearner` section's username and password: who this server is.
    me: Option<(String, String)>,
    /// `quorum.auth.learnerRequireSasl`: authenticate when connecting.
    learner_require: bool,
    /// `quorum.auth.serverRequireSasl`: refuse a server that does not authenticate.
    server_require: bool,
}

impl QuorumSasl {
    fn from_config(cfg: &Config) -> Result<Option<QuorumSasl>, String> {
        let a = &cfg.auth;
        if !a.quorum_sasl {
            return Ok(None);
        }
        let Some(path) = &a.jaas_config else {
            return Err("quorum.auth.enableSasl needs a JAAS file (java.security.auth.login.config) with the QuorumServer and QuorumLearner sections".into());
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let jaas = zk_core::sasl::JaasConfig::parse(&text).map_err(|e| format!("{path}: {e}"))?;
        let users = match jaas.section(&a.quorum_server_login_context) {
            Some(s) => s.quorum_digest_users().ok_or_else(|| {
                format!(
                    "{path}: section {} is not DIGEST-MD5 (Kerberos is not supported)",
                    a.quorum_server_login_context
                )
            })?,
            None if a.quorum_server_require_sasl => {
                return Err(format!(
                    "{path}: no {} section, but quorum.auth.serverRequireSasl is set",
                    a.quorum_server_login_context
                ))
            }
            None => Default::default(),
        };
        let me = jaas
            .section(&a.quorum_learner_login_context)
            .and_then(|s| s.digest_credentials())
            .map(|c| (c.username, c.password.unwrap_or_default()));
        if a.quorum_learner_require_sasl && me.is_none() {
            return Err(format!(
                "{path}: no {} section with a username, but quorum.auth.learnerRequireSasl is set",
                a.quorum_learner_login_context
            ));
        }
        info!(
            "quorum SASL (DIGEST-MD5): {} servers known, learnerRequireSasl={}, serverRequireSasl={}",
            users.len(),
            a.quorum_learner_require_sasl,
            a.quorum_server_require_sasl
        );
        Ok(Some(QuorumSasl {
            users,
            me,
            learner_require: a.quorum_learner_require_sasl,
            server_require: a.quorum_server_require_sasl,
        }))
    }
}

fn random_nonce() -> String {
    let mut b = [0u8; 30];
    for x in b.iter_mut() {
        *x = fastrand::u8(..);
    }
    zk_core::sasl::java_nonce(&b)
}

/// Reads one QuorumAuthPacket into `buf` and takes it off the front.
async fn read_auth(s: &mut BoxStream, buf: &mut Vec<u8>) -> Result<(i32, Vec<u8>), String> {
    loop {
        if let Some((status, token, used)) =
            wire::decode_quorum_auth(buf).map_err(|e| e.to_string())?
        {
            buf.drain(..used);
            return Ok((status, token));
        }
        let mut chunk = [0u8; 1024];
        let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed during quorum authentication".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn send_auth(s: &mut BoxStream, packet: &[u8]) -> Result<(), String> {
    s.write_all(packet).await.map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())
}

/// TLS between servers, as ZooKeeper's QuorumX509Util: the key store is both the server's
/// certificate and the client's, the trust store checks both sides.
struct QuorumTls {
    server: Arc<Tls>,
    client: Arc<rustls::ClientConfig>,
    /// `sslQuorum`: connect with TLS, and (without portUnification) accept only TLS.
    connect_tls: bool,
    /// `portUnification`: accept TLS and plain alike.
    unified: bool,
    /// `ssl.quorum.hostnameVerification`: an inbound server's certificate must name its address.
    verify_peer_address: bool,
    detect: Duration,
}

impl QuorumTls {
    fn from_config(cfg: &Config) -> Result<Option<QuorumTls>, String> {
        if !cfg.ssl_quorum && !cfg.port_unification {
            return Ok(None);
        }
        let server = Tls::load(&cfg.quorum_tls, "quorum and election ports")?;
        if cfg.ssl_quorum_reload_cert_files {
            server.watch();
        }
        let client = crate::tls::client_config(&cfg.quorum_tls)
            .map_err(|e| format!("TLS to other servers: {e}"))?;
        Ok(Some(QuorumTls {
            server,
            client: Arc::new(client),
            connect_tls: cfg.ssl_quorum,
            unified: cfg.port_unification,
            verify_peer_address: cfg.quorum_tls.hostname_verification,
            detect: Duration::from_millis(cfg.quorum_tls.handshake_detection_timeout_ms as u64),
        }))
    }
}

impl Inner {
    /// An accepted connection as TLS or plain, as `sslQuorum` and `portUnification` say; None
    /// (with a log line) when it is refused.
    async fn secure_inbound(
        &self,
        s: TcpStream,
        remote: std::net::SocketAddr,
        what: &str,
    ) -> Option<BoxStream> {
        let Some(t) = &self.tls else {
            return Some(Box::new(s));
        };
        let tls = if t.unified {
            let mut first = [0u8; 2];
            let peeked = tokio::time::timeout(t.detect, async {
                loop {
                    match s.peek(&mut first).await {
                        Ok(n) if n >= 2 => return true,
                        Ok(0) | Err(_) => return false,
                        Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            })
            .await;
            match peeked {
                Ok(true) => crate::tls::looks_like_tls(&first),
                Ok(false) => return None,
                Err(_) => {
                    info!(%remote, "refused a connection to the {what} port: nothing received within ssl.quorum.handshakeDetectionTimeoutMillis");
                    return None;
                }
            }
        } else {
            t.connect_tls
        };
        if !tls {
            return Some(Box::new(s));
        }
        let hs = tokio::time::timeout(self.cnx_timeout, t.server.acceptor().accept(s)).await;
        let s = match hs {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                info!(%remote, "refused a connection to the {what} port: TLS handshake failed: {e}");
                return None;
            }
            Err(_) => {
                info!(%remote, "refused a connection to the {what} port: the TLS handshake did not finish within cnxTimeout");
                return None;
            }
        };
        if t.verify_peer_address {
            let names_it = s
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .is_some_and(|c| crate::tls::names_ip(c, remote.ip()));
            if !names_it {
                info!(%remote, "refused a connection to the {what} port: its certificate does not name {} (ssl.quorum.hostnameVerification)", remote.ip());
                return None;
            }
        }
        Some(Box::new(s))
    }

    /// An outbound connection to server `to` at `addr`, in TLS when `sslQuorum` is set.
    async fn secure_outbound(
        &self,
        s: TcpStream,
        to: ServerId,
        addr: &str,
    ) -> Result<BoxStream, String> {
        match &self.tls {
            Some(t) if t.connect_tls => {
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                tokio::time::timeout(
                    self.cnx_timeout,
                    crate::tls::connect_stream(s, host, Some(t.client.clone())),
                )
                .await
                .map_err(|_| {
                    format!("the TLS handshake with server {to} did not finish within cnxTimeout")
                })?
            }
            _ => Ok(Box::new(s)),
        }
    }

    /// As the server a learner connected to: checks the learner's QuorumAuthPacket exchange
    /// when it starts one (`buf`: what was read already). Returns the stream with whatever
    /// was read past the exchange put back; an error when the server must be refused.
    async fn sasl_as_server(
        &self,
        mut s: BoxStream,
        mut buf: Vec<u8>,
    ) -> Result<BoxStream, String> {
        let Some(q) = &self.sasl else {
            return Ok(crate::tls::Prefixed::wrap(s, buf));
        };
        let run = async {
            while buf.len() < 8 {
                let mut chunk = [0u8; 256];
                let n = s.read(&mut chunk).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the connection closed".to_string());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let mut server = QuorumAuthServer::new(random_nonce(), q.server_require);
            let admission = if wire::is_quorum_auth(&buf) != Some(true) {
                server.no_auth()
            } else {
                loop {
                    let (status, token) = read_auth(&mut s, &mut buf).await?;
                    let step = server.on_packet(status, &token, &q.users);
                    if !step.reply.is_empty() {
                        send_auth(&mut s, &step.reply).await?;
                    }
                    if let Some(a) = step.done {
                        break a;
                    }
                }
            };
            match admission {
                Admission::Authenticated => Ok(()),
                Admission::LetIn(why) => {
                    warn!("{why}; let in all the same, as quorum.auth.serverRequireSasl is false");
                    Ok(())
                }
                Admission::Refused(why) => Err(why),
            }
        };
        match tokio::time::timeout(self.cnx_timeout, run).await {
            Ok(Ok(())) => Ok(crate::tls::Prefixed::wrap(s, buf)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("quorum authentication did not finish within cnxTimeout".into()),
        }
    }

    /// As a learner connecting to `to`: authenticates with the QuorumLearner credentials when
    /// `quorum.auth.learnerRequireSasl` is set.
    async fn sasl_as_learner(&self, mut s: BoxStream, to: ServerId) -> Result<BoxStream, String> {
        let Some(q) = self.sasl.as_ref().filter(|q| q.learner_require) else {
            return Ok(s);
        };
        let Some((user, password)) = &q.me else {
            return Ok(s);
        };
        let mut buf = Vec::new();
        let run = async {
            let mut learner = QuorumAuthLearner::new(user, password, random_nonce());
            send_auth(&mut s, &learner.start()).await?;
            loop {
                let (status, token) = read_auth(&mut s, &mut buf).await?;
                match learner.on_packet(status, &token) {
                    LearnerStep::Send(b) => send_auth(&mut s, &b).await?,
                    LearnerStep::Done => return Ok(()),
                    LearnerStep::Failed(why) => return Err(format!("server {to}: {why}")),
                }
            }
        };
        match tokio::time::timeout(self.cnx_timeout, run).await {
            Ok(Ok(())) => Ok(crate::tls::Prefixed::wrap(s, buf)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("quorum authentication did not finish within cnxTimeout".into()),
        }
    }

    /// A server connects from one of the addresses its `server.N` line names (resolved now),
    /// unless `peerAddressCheck=false` or a line names a wildcard address.
    async fn check_address(
        &self,
        sid: ServerId,
        remote: std::net::SocketAddr,
    ) -> Result<(), String> {
        if !self.address_check {
            return Ok(());
        }
        let mut known = Vec::new();
        for a in [self.peers.election.get(&sid), self.peers.quorum.get(&sid)]
            .into_iter()
            .flatten()
        {
            if let Ok(addrs) = tokio::net::lookup_host(a.as_str()).await {
                known.extend(addrs.map(|x| x.ip()));
            }
        }
        let ip = match remote.ip() {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
            v4 => v4,
        };
        if known.iter().any(|k| k.is_unspecified() || *k == ip) {
            return Ok(());
        }
        Err(format!(
            "it says it is server {sid}, but connects from {ip}, which is not an address of \
             server.{sid} ({}); set peerAddressCheck=false if servers connect from other addresses",
            known
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    // ---- election ----------------------------------------------------------------------

    fn election_send(self: &Arc<Self>, to: ServerId, bytes: Vec<u8>) {
        let mut map = self.election.lock().expect("election links");
        let l = map.entry(to).or_default();
        match &l.writer {
            Some(w) if w.send((bytes.clone(), 0)).is_ok() => return,
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
        let Some(s) = stream else { return };
        let _ = s.set_nodelay(true);
        let mut s = match self.secure_outbound(s, to, &a).await {
            Ok(s) => s,
            Err(e) => {
                warn!("election connection to server {to}: {e}");
                return;
            }
        };
        let hello = wire::encode_hello(self.hello_version, self.peers.me, &self.peers.my_election);
        // (TLS holds what is written until flushed.)
        if s.write_all(&hello).await.is_err() || s.flush().await.is_err() {
            return;
        }
        let s = match self.sasl_as_learner(s, to).await {
            Ok(s) => s,
            Err(e) => {
                warn!("election connection to server {to}: {e}");
                return;
            }
        };
        let mut s = s;
        if to > self.peers.me {
            // The larger id keeps the connection it initiates: wait for it to connect back.
            let _ = s.shutdown().await;
            return;
        }
        self.election_attach(to, s, Vec::new());
    }

    fn election_inbound(self: &Arc<Self>, from: ServerId, s: BoxStream, rest: Vec<u8>) {
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
        self.election_attach(from, s, rest);
    }

    /// Makes `s` the election connection with `peer`: a writer draining its queue and a reader
    /// feeding notifications to the peer loop.
    fn election_attach(self: &Arc<Self>, peer: ServerId, s: BoxStream, rest: Vec<u8>) {
        let (mut rd, wr) = tokio::io::split(s);
        let (tx, rx) = mpsc::unbounded_channel::<Chunk>();
        let link = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
        {
            let mut map = self.election.lock().expect("election links");
            let l = map.entry(peer).or_default();
            if let Some(p) = l.pending.take() {
                let _ = tx.send((p, 0));
            }
            l.writer = Some(tx);
            l.link = link;
        }
        tokio::spawn(write_chunks(wr, rx, None, None));
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = me.read_notifications(&mut rd, peer, rest).await {
                info!("election connection with server {peer} dropped: {e}");
            }
            let mut map = me.election.lock().expect("election links");
            if let Some(l) = map.get_mut(&peer) {
                if l.link == link {
                    l.writer = None;
                }
            }
        });
    }

    /// Reads length-prefixed notifications until the connection ends.
    async fn read_notifications(
        &self,
        rd: &mut ReadHalf<BoxStream>,
        peer: ServerId,
        mut buf: Vec<u8>,
    ) -> Result<(), String> {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            while buf.len() >= 4 {
                let len = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                let len = wire::election_message_len(len).map_err(|e| e.to_string())?;
                if buf.len() < 4 + len {
                    break;
                }
                match wire::decode_notification(&buf[4..4 + len], peer) {
                    Ok(r) => {
                        let msg = PeerMsg::Election(r.notification);
                        if self.input.send(Input::Peer { from: peer, msg }).is_err() {
                            return Ok(());
                        }
                    }
                    // ZooKeeper skips a notification it cannot use and reads on.
                    Err(e) => debug!("ignoring a notification from server {peer}: {e}"),
                }
                buf.drain(..4 + len);
            }
            let n = match rd.read(&mut chunk).await {
                Ok(n) => n,
                // A TLS peer that closes without close_notify has closed all the same.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                Err(e) => return Err(e.to_string()),
            };
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    // ---- quorum ------------------------------------------------------------------------

    fn quorum_send(self: &Arc<Self>, to: ServerId, chunk: Chunk) {
        let mut map = self.quorum.lock().expect("quorum links");
        if let Some(q) = map.get(&to) {
            let len = chunk.0.len();
            if q.queued.fetch_add(len, Ordering::AcqRel) + len > QUORUM_QUEUE_LIMIT {
                warn!(
                    "dropping the quorum connection with server {to}: it does not read what is \
                     sent ({} bytes waiting)",
                    q.queued.load(Ordering::Relaxed)
                );
                map.remove(&to);
                drop(map);
                let _ = self.input.send(Input::LinkDown { peer: to });
                return;
            }
            if q.tx.send(chunk.clone()).is_ok() {
                return;
            }
            map.remove(&to);
        }
        // No connection: we are the learner, connecting to the leader (the packet is our
        // FOLLOWERINFO).
        let Some(a) = self.peers.quorum.get(&to).cloned() else {
            return;
        };
        let (tx, rx) = mpsc::unbounded_channel::<Chunk>();
        let queued = Arc::new(AtomicUsize::new(chunk.0.len()));
        let _ = tx.send(chunk);
        let link = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
        map.insert(
            to,
            QuorumLink {
                link,
                tx,
                queued: queued.clone(),
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
            let s = match r {
                Ok(Ok(s)) => s,
                _ => {
                    debug!("cannot connect to the quorum port of server {to} at {a}");
                    me.quorum_closed(to, link);
                    return;
                }
            };
            let _ = s.set_nodelay(true);
            let s = match me.secure_outbound(s, to, &a).await {
                Ok(s) => s,
                Err(e) => {
                    warn!("quorum connection to server {to}: {e}");
                    me.quorum_closed(to, link);
                    return;
                }
            };
            let s = match me.sasl_as_learner(s, to).await {
                Ok(s) => s,
                Err(e) => {
                    warn!("quorum connection to server {to}: {e}");
                    me.quorum_closed(to, link);
                    return;
                }
            };
            let (rd, wr) = tokio::io::split(s);
            let decoder = QuorumDecoder::new(wire::From::Leader, me.max_buffer);
            me.quorum_run(to, link, rd, wr, (rx, queued), decoder).await;
        });
    }

    /// A learner connected: its first packet says who it is.
    async fn quorum_inbound(self: Arc<Self>, s: TcpStream, remote: std::net::SocketAddr) {
        let Some(s) = self.secure_inbound(s, remote, "quorum").await else {
            return;
        };
        let s = match self.sasl_as_server(s, Vec::new()).await {
            Ok(s) => s,
            Err(why) => {
                info!(%remote, "refused a quorum connection: {why}");
                return;
            }
        };
        let (mut rd, wr) = tokio::io::split(s);
        let mut decoder = QuorumDecoder::new(wire::From::Learner, self.max_buffer);
        let mut first = Vec::new();
        let mut chunk = vec![0u8; 4096];
        let read_first = async {
            while first.is_empty() {
                let n = rd.read(&mut chunk).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("the connection closed before FOLLOWERINFO".to_string());
                }
                decoder
                    .feed(&chunk[..n], &mut first)
                    .map_err(|e| e.to_string())?;
            }
            Ok::<(), String>(())
        };
        match tokio::time::timeout(self.init_timeout, read_first).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                info!(%remote, "refused a quorum connection: {e}");
                return;
            }
            Err(_) => {
                info!(%remote, "refused a quorum connection: no FOLLOWERINFO within initLimit");
                return;
            }
        }
        let from = match &first[0] {
            QuorumPacket::FollowerInfo(li) | QuorumPacket::ObserverInfo(li) => li.sid,
            p => {
                info!(%remote, "refused a quorum connection: its first packet is {}, not FOLLOWERINFO or OBSERVERINFO", p.kind());
                return;
            }
        };
        if from == self.peers.me || !self.peers.quorum.contains_key(&from) {
            info!(%remote, "refused a quorum connection from server {from}: not another server of the configuration");
            return;
        }
        if let Err(why) = self.check_address(from, remote).await {
            info!(%remote, "refused a quorum connection: {why}");
            return;
        }
        let (tx, rx) = mpsc::unbounded_channel::<Chunk>();
        let link = NEXT_LINK.fetch_add(1, Ordering::Relaxed);
        let queued = Arc::new(AtomicUsize::new(0));
        let old = {
            let mut map = self.quorum.lock().expect("quorum links");
            map.insert(
                from,
                QuorumLink {
                    link,
                    tx,
                    queued: queued.clone(),
                },
            )
        };
        if old.is_some() {
            // The newer connection supersedes: the peer loop hears the old one is gone first.
            let _ = self.input.send(Input::LinkDown { peer: from });
        }
        for p in first {
            let msg = PeerMsg::Quorum(p);
            if self.input.send(Input::Peer { from, msg }).is_err() {
                return;
            }
        }
        self.quorum_run(from, link, rd, wr, (rx, queued), decoder)
            .await;
    }

    async fn quorum_run(
        self: Arc<Self>,
        peer: ServerId,
        link: u64,
        mut rd: ReadHalf<BoxStream>,
        wr: WriteHalf<BoxStream>,
        (rx, queued): (mpsc::UnboundedReceiver<Chunk>, Arc<AtomicUsize>),
        mut decoder: QuorumDecoder,
    ) {
        let written = Some((self.input.clone(), peer));
        let writer = tokio::spawn(write_chunks(wr, rx, written, Some(queued)));
        let mut chunk = vec![0u8; 256 * 1024];
        let mut packets = Vec::new();
        let r: Result<(), String> = async {
            loop {
                let n = match rd.read(&mut chunk).await {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
                    Err(e) => return Err(e.to_string()),
                };
                if n == 0 {
                    return Ok(());
                }
                decoder
                    .feed(&chunk[..n], &mut packets)
                    .map_err(|e| format!("unreadable packet from server {peer}: {e}"))?;
                for p in packets.drain(..) {
                    // Only the current connection speaks for the peer.
                    let current = self
                        .quorum
                        .lock()
                        .expect("quorum links")
                        .get(&peer)
                        .is_some_and(|q| q.link == link);
                    let msg = PeerMsg::Quorum(p);
                    if !current || self.input.send(Input::Peer { from: peer, msg }).is_err() {
                        return Ok(());
                    }
                }
            }
        }
        .await;
        if let Err(e) = r {
            info!("quorum connection with server {peer} dropped: {e}");
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

/// Writes chunks from a channel, batching whatever is queued into one write; reports written
/// snapshot bytes to the peer loop when `report` says where.
async fn write_chunks(
    wr: WriteHalf<BoxStream>,
    mut rx: mpsc::UnboundedReceiver<Chunk>,
    report: Option<(mpsc::UnboundedSender<Input>, ServerId)>,
    queued: Option<Arc<AtomicUsize>>,
) {
    let mut w = BufWriter::with_capacity(64 * 1024, wr);
    let done = |n: usize| {
        if let Some(q) = &queued {
            q.fetch_sub(n, Ordering::AcqRel);
        }
    };
    while let Some((b, snap)) = rx.recv().await {
        let mut snap_bytes = snap;
        if w.write_all(&b).await.is_err() {
            return;
        }
        done(b.len());
        while let Ok((b, snap)) = rx.try_recv() {
            snap_bytes += snap;
            if w.write_all(&b).await.is_err() {
                return;
            }
            done(b.len());
        }
        if w.flush().await.is_err() {
            return;
        }
        if snap_bytes > 0 {
            if let Some((input, peer)) = &report {
                let _ = input.send(Input::SnapWritten {
                    peer: *peer,
                    bytes: snap_bytes,
                });
            }
        }
    }
    let _ = w.shutdown().await;
}

impl QuorumHandle {
    pub fn send(&self, to: ServerId, msg: PeerMsg) {
        match msg {
            PeerMsg::Election(n) => {
                let body = wire::encode_notification(&n, &self.inner.config_text);
                let mut b = Vec::with_capacity(4 + body.len());
                b.extend_from_slice(&(body.len() as u32).to_be_bytes());
                b.extend_from_slice(&body);
                self.inner.election_send(to, b);
            }
            PeerMsg::Quorum(p) => {
                let mut b = Vec::new();
                wire::encode_packet(&p, &mut b);
                let snap = match &p {
                    QuorumPacket::SnapPiece { data, .. } => data.len() as u64,
                    _ => 0,
                };
                self.inner.quorum_send(to, (b, snap));
            }
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
