//! Client connections: accept, read frames, answer four-letter words, decode requests with
//! `zk_core::proto` and hand them to the peer loop; write what the peer loop sends back.
//!
//! Each connection is two tasks: a reader that turns bytes into [`Input`]s and a writer that
//! drains a channel of frames, flushing when the channel runs dry (many replies, one write).
//! Bad input never reaches the core as anything but an error: a frame over `jute.maxbuffer`, a
//! negative length, a truncated record or an unreadable ConnectRequest closes the connection
//! with a log line; a request body that cannot be read is answered with MarshallingError, as
//! ZooKeeper does.

use super::{write_frame, ConnOut, Input};
use crate::tls::Tls;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};
use zk_core::config::{Config, FOUR_LETTER_WORDS};
use zk_core::proto::{self, ProtoError};
use zk_core::ConnId;

/// Connection limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `jute.maxbuffer`: the largest frame accepted.
    pub max_buffer: usize,
    /// `maxCnxns`: connections in total, on all client ports (0: no limit). Per-address limits
    /// are the core's.
    pub max_cnxns: u32,
}

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// Replies queued for one connection's writer, in bytes, beyond which the client is taken to
/// be a reader that never reads and is cut off (its session lives on).
pub const SLOW_READER_LIMIT: usize = 64 << 20;

/// Replies queued for all connections together beyond which a connection that has more than
/// [`BUSY_QUEUE`] waiting is cut off the same way: many slow readers at once cannot add up.
pub const TOTAL_QUEUE_LIMIT: usize = 256 << 20;
pub const BUSY_QUEUE: usize = 1 << 20;

/// What a queued reply costs beyond its bytes (its allocation and its slot in the channel):
/// counted so that a flood of tiny replies is bounded by memory, not by payload.
const FRAME_OVERHEAD: usize = 64;

/// `globalOutstandingLimit`: requests handed to the peer loop and not answered yet, across all
/// connections. At the limit, connections stop reading (TCP pushes back on the clients) until
/// replies go out — so a slow disk slows writers down instead of growing memory.
pub struct Throttle {
    outstanding: AtomicUsize,
    limit: usize,
    wake: tokio::sync::Notify,
    /// Reply bytes queued for every connection's writer.
    queued: AtomicUsize,
}

impl Throttle {
    pub fn new(limit: u32) -> Arc<Throttle> {
        Arc::new(Throttle {
            outstanding: AtomicUsize::new(0),
            limit: (limit as usize).max(1),
            wake: tokio::sync::Notify::new(),
            queued: AtomicUsize::new(0),
        })
    }

    /// Waits until fewer than the limit are outstanding.
    async fn admit(&self) {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.outstanding.load(Ordering::Acquire) < self.limit {
                return;
            }
            woken.await;
        }
    }

    fn release(&self, n: usize) {
        if n > 0 {
            self.outstanding.fetch_sub(n, Ordering::AcqRel);
            self.wake.notify_waiters();
        }
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }
}

/// One connection's counters, shared by its reader, its writer and the peer loop.
pub struct Gate {
    throttle: Arc<Throttle>,
    /// Requests handed to the peer loop and not answered yet.
    in_flight: AtomicUsize,
    /// Bytes queued for the writer.
    queued: AtomicUsize,
    /// The peer loop closed the connection: the reader stops, nothing more counts.
    closed: std::sync::atomic::AtomicBool,
    /// ... and the writer gives up at once, replies unsent (a client that does not read).
    aborted: std::sync::atomic::AtomicBool,
    /// The ConnectResponse went out: requests behind the ConnectRequest may be read.
    established: std::sync::atomic::AtomicBool,
    wake: tokio::sync::Notify,
}

impl Gate {
    fn new(throttle: Arc<Throttle>) -> Arc<Gate> {
        Arc::new(Gate {
            throttle,
            in_flight: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            closed: std::sync::atomic::AtomicBool::new(false),
            aborted: std::sync::atomic::AtomicBool::new(false),
            established: std::sync::atomic::AtomicBool::new(false),
            wake: tokio::sync::Notify::new(),
        })
    }

    /// The peer loop is done with this connection: its outstanding requests stop counting
    /// against `globalOutstandingLimit`, the reader stops, and with `abort` the writer drops
    /// what is queued and the socket closes at once.
    pub fn close(&self, abort: bool) {
        self.closed.store(true, Ordering::Release);
        if abort {
            self.aborted.store(true, Ordering::Release);
        }
        self.gone();
        self.wake.notify_waiters();
    }

    /// The session is established (the ConnectResponse was sent).
    pub fn establish(&self) {
        self.established.store(true, Ordering::Release);
        self.wake.notify_waiters();
    }

    /// Waits until the session is established; false when the connection closed first.
    async fn until_established(&self) -> bool {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.is_closed() {
                return false;
            }
            if self.established.load(Ordering::Acquire) {
                return true;
            }
            woken.await;
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Resolves once [`Gate::close`] was called (with `abort`, when `abort` is asked).
    async fn until_closed(&self, abort: bool) {
        loop {
            let woken = self.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if (abort && self.is_aborted()) || (!abort && self.is_closed()) {
                return;
            }
            woken.await;
        }
    }

    fn request_in(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.throttle.outstanding.fetch_add(1, Ordering::AcqRel);
    }

    /// The peer loop answered one request of this connection.
    pub fn replied(&self) {
        let took = self
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok();
        if took {
            self.throttle.release(1);
        }
    }

    /// The connection is gone: what it had outstanding no longer counts.
    pub fn gone(&self) {
        self.throttle
            .release(self.in_flight.swap(0, Ordering::AcqRel));
    }

    /// A reply of `bytes` queued for the writer; false when the connection is then over
    /// [`SLOW_READER_LIMIT`], or all connections over [`TOTAL_QUEUE_LIMIT`] and this one busy.
    pub fn queue(&self, bytes: usize) -> bool {
        let cost = bytes + FRAME_OVERHEAD;
        let mine = self.queued.fetch_add(cost, Ordering::AcqRel) + cost;
        let all = self.throttle.queued.fetch_add(cost, Ordering::AcqRel) + cost;
        mine <= SLOW_READER_LIMIT && (all <= TOTAL_QUEUE_LIMIT || mine <= BUSY_QUEUE)
    }

    /// A reply of `bytes` was written, or dropped.
    pub fn dequeue(&self, bytes: usize) {
        let cost = bytes + FRAME_OVERHEAD;
        self.queued.fetch_sub(cost, Ordering::AcqRel);
        self.throttle.queued.fetch_sub(cost, Ordering::AcqRel);
    }

    /// The writer is gone: whatever it still held no longer counts.
    fn drop_queue(&self) {
        let left = self.queued.swap(0, Ordering::AcqRel);
        self.throttle.queued.fetch_sub(left, Ordering::AcqRel);
    }

    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

/// How a client port takes connections.
#[derive(Clone)]
pub enum PortMode {
    Plain,
    /// `secureClientPort`: TLS only.
    Tls(Arc<Tls>),
    /// `client.portUnification`: TLS when the first bytes are a TLS handshake, else plain.
    Unified(Arc<Tls>, Duration),
}

/// How long a connection may take to send its ConnectRequest (or a four-letter word), and
/// to finish a TLS handshake: ZooKeeper's `nio.sessionlessCnxnTimeout`.
const SESSIONLESS_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the last replies before a close may take to go out.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Connections open on every client port, for `maxCnxns`.
#[derive(Clone, Default)]
pub struct OpenCount(Arc<AtomicUsize>);

/// What every client port shares.
#[derive(Clone)]
pub struct Shared {
    pub tx: mpsc::UnboundedSender<Input>,
    pub limits: Limits,
    pub cfg: Arc<Config>,
    pub bytes_received: Arc<AtomicU64>,
    pub open: OpenCount,
    pub throttle: Arc<Throttle>,
}

/// Accepts client connections forever.
pub async fn accept_loop(listener: TcpListener, mode: PortMode, shared: Shared) {
    let Shared {
        tx,
        limits,
        cfg,
        bytes_received,
        open,
        throttle,
    } = shared;
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        if limits.max_cnxns > 0 && open.0.load(Ordering::Relaxed) >= limits.max_cnxns as usize {
            info!(%addr, "refused a connection: maxCnxns ({}) reached", limits.max_cnxns);
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let conn = ConnId(NEXT_CONN.fetch_add(1, Ordering::Relaxed));
        let tx = tx.clone();
        let open = open.clone();
        let cfg = cfg.clone();
        let bytes = bytes_received.clone();
        let mode = mode.clone();
        let gate = Gate::new(throttle.clone());
        open.0.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let ctx = ConnCtx {
                addr,
                conn,
                tx,
                limits,
                cfg,
                bytes_received: bytes,
                gate,
            };
            match mode {
                PortMode::Plain => {
                    let (rd, wr) = stream.into_split();
                    serve(rd, wr, ctx, None).await
                }
                PortMode::Tls(tls) => serve_tls(stream, &tls, ctx).await,
                PortMode::Unified(tls, wait) => {
                    let mut first = [0u8; 2];
                    let peeked = tokio::time::timeout(wait, async {
                        loop {
                            match stream.peek(&mut first).await {
                                Ok(n) if n >= 2 => return true,
                                Ok(0) | Err(_) => return false,
                                Ok(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                            }
                        }
                    })
                    .await;
                    match peeked {
                        Ok(true) if crate::tls::looks_like_tls(&first) => {
                            serve_tls(stream, &tls, ctx).await
                        }
                        Ok(true) => {
                            let (rd, wr) = stream.into_split();
                            serve(rd, wr, ctx, None).await
                        }
                        Ok(false) => {}
                        Err(_) => {
                            info!(%addr, "closing client connection: nothing received within ssl.handshakeDetectionTimeoutMillis")
                        }
                    }
                }
            }
            open.0.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

/// What every connection task carries.
struct ConnCtx {
    addr: SocketAddr,
    conn: ConnId,
    tx: mpsc::UnboundedSender<Input>,
    limits: Limits,
    cfg: Arc<Config>,
    bytes_received: Arc<AtomicU64>,
    gate: Arc<Gate>,
}

async fn serve_tls(stream: TcpStream, tls: &Tls, ctx: ConnCtx) {
    let addr = ctx.addr;
    let hs = tokio::time::timeout(SESSIONLESS_TIMEOUT, tls.acceptor().accept(stream)).await;
    let s = match hs {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            info!(%addr, "closing client connection: TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            info!(%addr, "closing client connection: the TLS handshake did not finish in time");
            return;
        }
    };
    let subject = s
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .and_then(|c| crate::tls::subject_of(c));
    let (rd, wr) = tokio::io::split(s);
    serve(rd, wr, ctx, subject).await
}

/// The first four bytes as a four-letter word, if they are one.
fn four_letter(buf: &[u8]) -> Option<String> {
    let w = std::str::from_utf8(buf.get(..4)?).ok()?;
    FOUR_LETTER_WORDS.contains(&w).then(|| w.to_string())
}

async fn serve<R, W>(mut rd: R, wr: W, ctx: ConnCtx, subject: Option<String>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let ConnCtx {
        addr,
        conn,
        tx,
        limits,
        cfg,
        bytes_received,
        gate,
    } = ctx;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    // Read at least four bytes: a four-letter word, or the start of the ConnectRequest frame.
    let first = tokio::time::timeout(SESSIONLESS_TIMEOUT, async {
        while buf.len() < 4 {
            let mut chunk = [0u8; 4096];
            match rd.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    bytes_received.fetch_add(n as u64, Ordering::Relaxed);
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
        true
    })
    .await;
    match first {
        Ok(true) => {}
        Ok(false) => return,
        Err(_) => {
            info!(%addr, "closing client connection: nothing received within {} s", SESSIONLESS_TIMEOUT.as_secs());
            return;
        }
    }
    if let Some(cmd) = four_letter(&buf) {
        let mut wr = wr;
        let text = if cfg.four_letter_allowed(&cmd) {
            let (reply, rx) = oneshot::channel();
            if tx
                .send(Input::FourLetter {
                    cmd: cmd.clone(),
                    asker: addr,
                    reply,
                })
                .is_err()
            {
                return;
            }
            rx.await.unwrap_or_default()
        } else {
            format!("{cmd} is not executed because it is not in the whitelist.\n")
        };
        let _ = wr.write_all(text.as_bytes()).await;
        let _ = wr.shutdown().await;
        return;
    }
    let (out_tx, out_rx) = mpsc::unbounded_channel::<ConnOut>();
    if tx
        .send(Input::Accept {
            conn,
            addr,
            tx: out_tx,
            subject,
            gate: gate.clone(),
        })
        .is_err()
    {
        return;
    }
    // The writer ends when the peer loop drops its sender (after a Close, or once it hears the
    // connection is gone), so replies already queued still go out.
    tokio::spawn(write_loop(wr, out_rx, gate.clone()));
    let why = read_loop(&mut rd, &mut buf, conn, &tx, limits, &bytes_received, &gate).await;
    if let Some(why) = why {
        info!(conn = conn.0, %addr, "closing client connection: {why}");
    }
    gate.gone();
    let _ = tx.send(Input::Disconnected { conn });
}

/// Reads frames until the connection ends; returns why it ended if it was our doing.
async fn read_loop(
    rd: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
    conn: ConnId,
    tx: &mpsc::UnboundedSender<Input>,
    limits: Limits,
    bytes_received: &AtomicU64,
    gate: &Gate,
) -> Option<String> {
    let mut connected = false;
    let mut start = 0usize;
    // The whole ConnectRequest must arrive within the sessionless timeout, not only its start.
    let deadline = tokio::time::Instant::now() + SESSIONLESS_TIMEOUT;
    loop {
        if gate.is_closed() {
            return None;
        }
        // Every complete frame in the buffer.
        loop {
            match proto::split_frame(&buf[start..], limits.max_buffer) {
                Ok(Some((used, body))) => {
                    let input = if !connected {
                        connected = true;
                        match proto::decode_connect_request(body, limits.max_buffer) {
                            Ok(req) => Input::Connect { conn, req },
                            Err(e) => return Some(format!("unreadable ConnectRequest: {e}")),
                        }
                    } else {
                        match proto::decode_request(body, limits.max_buffer) {
                            Ok((xid, req)) => Input::Request { conn, xid, req },
                            Err(e) => match e.request_header() {
                                Some(h) => {
                                    debug!(conn = conn.0, "unreadable request xid {}: {e}", h.xid);
                                    Input::Request {
                                        conn,
                                        xid: h.xid,
                                        req: zk_core::request::Request::Malformed { op: h.op },
                                    }
                                }
                                None => return Some(format!("unreadable request: {e}")),
                            },
                        }
                    };
                    if gate.is_closed() {
                        return None;
                    }
                    let connect = matches!(input, Input::Connect { .. });
                    if matches!(input, Input::Request { .. }) {
                        gate.request_in();
                    }
                    if tx.send(input).is_err() {
                        return None;
                    }
                    start += used;
                    if connect {
                        // As ZooKeeper does (disableRecv until the session is set up): nothing
                        // behind the ConnectRequest is read before its answer, so a client
                        // cannot pile requests up on a session being created.
                        let deadline = tokio::time::Instant::now() + SESSIONLESS_TIMEOUT;
                        match tokio::time::timeout_at(deadline, gate.until_established()).await {
                            Ok(true) => {}
                            Ok(false) => return None,
                            Err(_) => return Some("no session within 10 s".into()),
                        }
                    }
                }
                Ok(None) => break,
                Err(ProtoError::FrameTooLong { len, max }) => {
                    return Some(format!(
                        "Len error {len}: the packet is larger than jute.maxbuffer={max}"
                    ));
                }
                Err(e) => return Some(format!("bad frame: {e}")),
            }
        }
        if start > 0 {
            buf.drain(..start);
            start = 0;
        }
        // globalOutstandingLimit: read no more while the server has too much to answer.
        tokio::select! {
            _ = gate.throttle.admit() => {}
            _ = gate.until_closed(false) => return None,
        }
        let mut chunk = [0u8; 16 * 1024];
        let read = async {
            if connected {
                Ok(rd.read(&mut chunk).await)
            } else {
                tokio::time::timeout_at(deadline, rd.read(&mut chunk)).await
            }
        };
        let r = tokio::select! {
            r = read => r,
            _ = gate.until_closed(false) => return None,
        };
        let Ok(r) = r else {
            return Some(format!(
                "no complete ConnectRequest within {} s",
                SESSIONLESS_TIMEOUT.as_secs()
            ));
        };
        match r {
            Ok(0) => return None,
            Ok(n) => {
                bytes_received.fetch_add(n as u64, Ordering::Relaxed);
                buf.extend_from_slice(&chunk[..n]);
            }
            // A TLS client that closes without close_notify has closed all the same.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return None,
            Err(e) => return Some(format!("read error: {e}")),
        }
    }
}

async fn write_loop(
    wr: impl AsyncWrite + Unpin,
    mut rx: mpsc::UnboundedReceiver<ConnOut>,
    gate: Arc<Gate>,
) {
    let mut w = BufWriter::with_capacity(64 * 1024, wr);
    let work = async {
        while let Some(m) = rx.recv().await {
            let mut close = false;
            match m {
                ConnOut::Frame(b) => {
                    write_frame(&mut w, &b).await?;
                    gate.dequeue(b.len());
                }
                ConnOut::Close => close = true,
            }
            // Everything already queued goes in the same write.
            while !close {
                match rx.try_recv() {
                    Ok(ConnOut::Frame(b)) => {
                        write_frame(&mut w, &b).await?;
                        gate.dequeue(b.len());
                    }
                    Ok(ConnOut::Close) => close = true,
                    Err(_) => break,
                }
            }
            if close {
                // The last replies get a few seconds; a client that does not read them does
                // not keep the socket open.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    w.flush().await?;
                    w.shutdown().await
                })
                .await;
                return Ok(());
            }
            w.flush().await?;
        }
        Ok::<(), std::io::Error>(())
    };
    tokio::select! {
        _ = work => {}
        // Cut off: the queued replies are dropped with the socket.
        _ = gate.until_closed(true) => {}
    }
    // Nothing more is written: what is still queued (or comes later) is dropped with `rx`.
    rx.close();
    gate.drop_queue();
}
