//! One ZooKeeper session over TCP, as lean as a load generator needs. The session itself — the
//! handshake, xids, replies matched to requests in order, pings — is zk-core's client
//! [`Session`], the one zkserver's client library and the simulator run; this module carries its
//! frames.
//!
//! A benchmark session keeps many requests outstanding, so reading and writing go on together
//! ([`Conn::pump`]): requests are appended to a send buffer and written as the socket takes them,
//! replies are read into a receive buffer and handed to the session ([`Conn::next_reply`]). A
//! reply out of order or one that cannot be read ends the connection as a wrong answer.
//!
//! Setup, checks and cleanup use the simpler [`Conn::call`] and [`Conn::pipeline`].

use std::collections::VecDeque;
use std::io;
use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use zk_core::client::{DropCause, Output, Session, SessionConfig};
use zk_core::proto::{self, ProtoError};
use zk_core::request::{Reply, Request};
use zk_core::types::Millis;
use zk_core::SessionId;

/// The largest frame a benchmark expects: ZooKeeper's default `jute.maxbuffer` plus headers.
const MAX_FRAME: usize = proto::DEFAULT_MAX_BUFFER + 1024;

/// TLS for every benchmark connection (`zkbench --client-configuration`), set once at start.
static TLS: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();

/// Makes every connection from now on use TLS.
pub fn use_tls(config: Arc<rustls::ClientConfig>) {
    let _ = TLS.set(config);
}

/// What went wrong on a connection. Every variant names the server.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("{addr}: {source}")]
    Io { addr: String, source: io::Error },
    #[error("{addr} closed the connection")]
    Closed { addr: String },
    #[error("{addr} refused the session (not serving, or the session expired)")]
    SessionRefused { addr: String },
    #[error("{addr}: {source}")]
    Proto { addr: String, source: ProtoError },
    #[error("{addr}: {cause}")]
    Dropped { addr: String, cause: DropCause },
    #[error("{addr}: no answer within {after:?}")]
    Timeout { addr: String, after: Duration },
}

impl WireError {
    /// A protocol-level wrong answer (as opposed to a connection that failed).
    pub fn is_wrong_answer(&self) -> bool {
        match self {
            WireError::Proto { .. } => true,
            WireError::Dropped { cause, .. } => cause.is_wrong_answer(),
            _ => false,
        }
    }
}

/// A connected session.
pub struct Conn {
    pub addr: String,
    pub session_id: SessionId,
    /// The session timeout the server granted, in milliseconds.
    pub timeout_ms: i32,
    session: Session<()>,
    /// The session's clock starts here.
    epoch: Instant,
    /// Replies the session has matched and not handed out yet.
    replies: VecDeque<Reply>,
    rd: ReadHalf<crate::tls::BoxStream>,
    wr: WriteHalf<crate::tls::BoxStream>,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    /// Bytes were written since the last flush: TLS may hold them until flushed.
    unflushed: bool,
}

/// What one [`Conn::pump`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pumped {
    Read,
    Wrote,
}

impl Conn {
    /// Opens a TCP connection to `addr` and establishes a new session asking for `timeout_ms`;
    /// gives up after `within`.
    pub async fn connect(addr: &str, timeout_ms: i32, within: Duration) -> Result<Conn, WireError> {
        let addr_s = addr.to_string();
        let fut = async {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|source| WireError::Connect {
                    addr: addr_s.clone(),
                    source,
                })?;
            let _ = stream.set_nodelay(true);
            let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let stream = crate::tls::connect_stream(stream, host, TLS.get().cloned())
                .await
                .map_err(|e| WireError::Connect {
                    addr: addr_s.clone(),
                    source: io::Error::other(e),
                })?;
            let (rd, wr) = tokio::io::split(stream);
            let mut c = Conn {
                addr: addr_s.clone(),
                session_id: SessionId(0),
                timeout_ms: 0,
                session: Session::new(SessionConfig::new(timeout_ms, 1)),
                epoch: Instant::now(),
                replies: VecDeque::new(),
                rd,
                wr,
                rbuf: Vec::with_capacity(64 * 1024),
                rpos: 0,
                wbuf: Vec::with_capacity(64 * 1024),
                wpos: 0,
                unflushed: false,
            };
            let req = c.session.start_connect(0).expect("a new session");
            proto::frame_into(&mut c.wbuf, &proto::encode_connect_request(&req));
            c.flush().await?;
            let range = c.read_frame().await?;
            let rsp = proto::decode_connect_response(&c.rbuf[range], MAX_FRAME)
                .map_err(|source| c.proto_err(source))?;
            let now = c.now();
            c.session.connected(&rsp, now);
            if !c.session.state().is_connected() {
                return Err(WireError::SessionRefused {
                    addr: addr_s.clone(),
                });
            }
            c.emit()?;
            c.session_id = rsp.session_id;
            c.timeout_ms = rsp.timeout;
            Ok(c)
        };
        match tokio::time::timeout(within, fut).await {
            Ok(r) => r,
            Err(_) => Err(WireError::Timeout {
                addr: addr.to_string(),
                after: within,
            }),
        }
    }

    fn proto_err(&self, source: ProtoError) -> WireError {
        WireError::Proto {
            addr: self.addr.clone(),
            source,
        }
    }

    fn io_err(&self, source: io::Error) -> WireError {
        WireError::Io {
            addr: self.addr.clone(),
            source,
        }
    }

    fn now(&self) -> Millis {
        self.epoch.elapsed().as_millis() as Millis
    }

    /// Carries out what the session said: requests into the send buffer, replies into the
    /// queue [`Conn::next_reply`] hands out. `Err` when the session gave the connection up.
    fn emit(&mut self) -> Result<(), WireError> {
        let mut dropped = None;
        while let Some(out) = self.session.poll() {
            match out {
                Output::Send { xid, request } => {
                    proto::frame_into(&mut self.wbuf, &proto::encode_request(xid, &request))
                }
                Output::Reply {
                    result: Ok(reply), ..
                } => self.replies.push_back(reply),
                Output::Drop { cause } => {
                    dropped.get_or_insert(cause);
                }
                _ => {}
            }
        }
        match dropped {
            Some(cause) => Err(WireError::Dropped {
                addr: self.addr.clone(),
                cause,
            }),
            None => Ok(()),
        }
    }

    /// Encodes `req` into the send buffer under a fresh xid, which it returns. Nothing is sent
    /// until [`Conn::pump`] or [`Conn::flush`].
    pub fn queue(&mut self, req: Request) -> i32 {
        let now = self.now();
        let x = self.session.request(req, None, (), now);
        // Sending cannot give a connection up.
        let _ = self.emit();
        x
    }

    /// Pings when nothing was sent for a third of the session timeout; gives the connection up
    /// when nothing was heard for two thirds.
    pub fn tick(&mut self) -> Result<(), WireError> {
        let now = self.now();
        self.session.tick(now);
        self.emit()
    }

    /// Bytes queued and not yet written.
    pub fn unsent(&self) -> usize {
        self.wbuf.len() - self.wpos
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), WireError> {
        if self.unsent() > 0 {
            let r = self.wr.write_all(&self.wbuf[self.wpos..]).await;
            r.map_err(|e| self.io_err(e))?;
        }
        if self.unsent() > 0 || self.unflushed {
            let r = self.wr.flush().await;
            r.map_err(|e| self.io_err(e))?;
            self.unflushed = false;
        }
        self.wbuf.clear();
        self.wpos = 0;
        Ok(())
    }

    /// Makes progress on whichever side can: writes some queued bytes, or reads what arrived.
    pub async fn pump(&mut self) -> Result<Pumped, WireError> {
        self.make_room();
        let Conn {
            rd,
            wr,
            rbuf,
            wbuf,
            wpos,
            addr,
            unflushed,
            ..
        } = self;
        if *wpos == wbuf.len() && *unflushed {
            // Everything is written: make TLS send what it holds before waiting for replies.
            *unflushed = false;
            return match wr.flush().await {
                Ok(()) => Ok(Pumped::Wrote),
                Err(source) => Err(WireError::Io {
                    addr: addr.clone(),
                    source,
                }),
            };
        }
        if *wpos < wbuf.len() {
            tokio::select! {
                r = rd.read_buf(rbuf) => Self::after_read(addr, r).map(|_| Pumped::Read),
                w = wr.write(&wbuf[*wpos..]) => match w {
                    Ok(n) => {
                        *wpos += n;
                        *unflushed = true;
                        if *wpos == wbuf.len() {
                            wbuf.clear();
                            *wpos = 0;
                        }
                        Ok(Pumped::Wrote)
                    }
                    Err(source) => Err(WireError::Io { addr: addr.clone(), source }),
                },
            }
        } else {
            let r = rd.read_buf(rbuf).await;
            Self::after_read(addr, r).map(|_| Pumped::Read)
        }
    }

    fn after_read(addr: &str, r: io::Result<usize>) -> Result<(), WireError> {
        match r {
            Ok(0) => Err(WireError::Closed {
                addr: addr.to_string(),
            }),
            Ok(_) => Ok(()),
            Err(source) => Err(WireError::Io {
                addr: addr.to_string(),
                source,
            }),
        }
    }

    /// Keeps spare room in the receive buffer, moving unread bytes to its front first.
    fn make_room(&mut self) {
        if self.rpos > 0 && (self.rpos == self.rbuf.len() || self.rpos > 256 * 1024) {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        if self.rbuf.capacity() - self.rbuf.len() < 16 * 1024 {
            self.rbuf.reserve(64 * 1024);
        }
    }

    /// The next reply among what was already received (pings' answers and notifications are
    /// skipped), or `None`.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, WireError> {
        loop {
            if let Some(r) = self.replies.pop_front() {
                return Ok(Some(r));
            }
            let Some(range) = self.next_frame()? else {
                return Ok(None);
            };
            let now = self.now();
            self.session.on_frame(&self.rbuf[range], now);
            self.emit()?;
        }
    }

    /// The next complete frame already received, as a range of the receive buffer, or `None`.
    fn next_frame(&mut self) -> Result<Option<Range<usize>>, WireError> {
        match proto::split_frame(&self.rbuf[self.rpos..], MAX_FRAME) {
            Ok(Some((n, body))) => {
                let start = self.rpos + (n - body.len());
                self.rpos += n;
                Ok(Some(start..self.rpos))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(self.proto_err(e)),
        }
    }

    async fn read_frame(&mut self) -> Result<Range<usize>, WireError> {
        loop {
            if let Some(r) = self.next_frame()? {
                return Ok(r);
            }
            self.make_room();
            let r = self.rd.read_buf(&mut self.rbuf).await;
            Self::after_read(&self.addr, r)?;
        }
    }

    /// The next reply to a request (pings' answers and notifications are skipped).
    async fn read_reply(&mut self) -> Result<Reply, WireError> {
        loop {
            if let Some(r) = self.next_reply()? {
                return Ok(r);
            }
            self.make_room();
            let r = self.rd.read_buf(&mut self.rbuf).await;
            Self::after_read(&self.addr, r)?;
        }
    }

    /// Sends one request and waits (at most `within`) for its reply.
    pub async fn call(&mut self, req: &Request, within: Duration) -> Result<Reply, WireError> {
        let mut v = self.pipeline(std::slice::from_ref(req), 1, within).await?;
        Ok(v.remove(0))
    }

    /// Sends `reqs` with at most `window` outstanding and returns their replies in order; the
    /// whole batch must finish within `within`.
    pub async fn pipeline(
        &mut self,
        reqs: &[Request],
        window: usize,
        within: Duration,
    ) -> Result<Vec<Reply>, WireError> {
        let addr = self.addr.clone();
        let fut = async {
            let mut out = Vec::with_capacity(reqs.len());
            let mut next = 0;
            while out.len() < reqs.len() {
                while next < reqs.len() && next - out.len() < window.max(1) {
                    self.queue(reqs[next].clone());
                    next += 1;
                }
                self.flush().await?;
                // The session matched it to the oldest request outstanding.
                out.push(self.read_reply().await?);
            }
            Ok(out)
        };
        match tokio::time::timeout(within, fut).await {
            Ok(r) => r,
            Err(_) => Err(WireError::Timeout {
                addr,
                after: within,
            }),
        }
    }

    /// Closes the session (closeSession, then the socket), waiting at most `within`.
    pub async fn close(mut self, within: Duration) {
        let _ = self.call(&Request::CloseSession, within).await;
    }
}
