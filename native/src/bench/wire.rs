//! One ZooKeeper session over TCP, as lean as a load generator needs: the connect handshake,
//! requests framed and encoded with `zk_core::proto`, replies matched to requests by xid.
//!
//! A benchmark session keeps many requests outstanding, so reading and writing go on together
//! ([`Conn::pump`]): requests are appended to a send buffer and written as the socket takes them,
//! replies are read into a receive buffer and split into frames. ZooKeeper answers a session's
//! requests in the order they were sent, so the caller keeps its outstanding requests in a queue
//! and checks each reply's xid against the head of it: a reply out of order is a wrong answer.
//!
//! Setup, checks and cleanup use the simpler [`Conn::call`] and [`Conn::pipeline`].

use std::io;
use std::ops::Range;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use zk_core::proto::{self, ProtoError};
use zk_core::request::{xid, ConnectRequest, Reply, Request};
use zk_core::{SessionId, Zxid};

/// The largest frame a benchmark expects: ZooKeeper's default `jute.maxbuffer` plus headers.
const MAX_FRAME: usize = proto::DEFAULT_MAX_BUFFER + 1024;

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
    #[error("{addr}: a reply to xid {got} came while xid {want} was the oldest outstanding request: replies out of order")]
    OutOfOrder { addr: String, got: i32, want: i32 },
    #[error("{addr}: no answer within {after:?}")]
    Timeout { addr: String, after: Duration },
}

impl WireError {
    /// A protocol-level wrong answer (as opposed to a connection that failed).
    pub fn is_wrong_answer(&self) -> bool {
        matches!(self, WireError::OutOfOrder { .. } | WireError::Proto { .. })
    }
}

/// A connected session.
pub struct Conn {
    pub addr: String,
    pub session_id: SessionId,
    /// The session timeout the server granted, in milliseconds.
    pub timeout_ms: i32,
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    next_xid: i32,
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
            let (rd, wr) = stream.into_split();
            let mut c = Conn {
                addr: addr_s.clone(),
                session_id: SessionId(0),
                timeout_ms: 0,
                rd,
                wr,
                rbuf: Vec::with_capacity(64 * 1024),
                rpos: 0,
                wbuf: Vec::with_capacity(64 * 1024),
                wpos: 0,
                next_xid: 1,
            };
            let req = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: Zxid(0),
                timeout: timeout_ms,
                session_id: SessionId(0),
                passwd: vec![0; 16],
                read_only: Some(false),
            };
            proto::frame_into(&mut c.wbuf, &proto::encode_connect_request(&req));
            c.flush().await?;
            let range = c.read_frame().await?;
            let rsp = proto::decode_connect_response(&c.rbuf[range], MAX_FRAME)
                .map_err(|source| c.proto_err(source))?;
            if rsp.timeout <= 0 || rsp.session_id.0 == 0 {
                return Err(WireError::SessionRefused {
                    addr: addr_s.clone(),
                });
            }
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

    /// Encodes `req` into the send buffer under a fresh xid, which it returns. Nothing is sent
    /// until [`Conn::pump`] or [`Conn::flush`].
    pub fn queue(&mut self, req: &Request) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        proto::frame_into(&mut self.wbuf, &proto::encode_request(x, req));
        x
    }

    /// Queues a ping (xid -2); its answer is skipped by [`Conn::next_reply_range`] callers.
    pub fn queue_ping(&mut self) {
        proto::frame_into(
            &mut self.wbuf,
            &proto::encode_request(xid::PING, &Request::Ping),
        );
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
            ..
        } = self;
        if *wpos < wbuf.len() {
            tokio::select! {
                r = rd.read_buf(rbuf) => Self::after_read(addr, r).map(|_| Pumped::Read),
                w = wr.write(&wbuf[*wpos..]) => match w {
                    Ok(n) => {
                        *wpos += n;
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

    /// The next complete frame already received, as a range of [`Conn::frame`], or `None`.
    pub fn next_frame(&mut self) -> Result<Option<Range<usize>>, WireError> {
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

    /// The bytes of a frame [`Conn::next_frame`] returned (valid until the next pump).
    pub fn frame(&self, r: Range<usize>) -> &[u8] {
        &self.rbuf[r]
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

    /// The next reply to a request (pings' answers and notifications are skipped), decoded for
    /// `op_of(xid)`'s opcode.
    async fn read_reply(&mut self, op_of: impl Fn(i32) -> i32) -> Result<Reply, WireError> {
        loop {
            let r = self.read_frame().await?;
            let body = &self.rbuf[r];
            let h = proto::decode_reply_header(body).map_err(|e| self.proto_err(e))?;
            if h.xid == xid::PING || h.xid == xid::NOTIFICATION {
                continue;
            }
            return proto::decode_reply(body, op_of(h.xid), MAX_FRAME)
                .map_err(|e| self.proto_err(e));
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
            let mut sent: std::collections::VecDeque<(i32, i32)> = Default::default();
            let mut next = 0;
            while out.len() < reqs.len() {
                while next < reqs.len() && sent.len() < window.max(1) {
                    let x = self.queue(&reqs[next]);
                    sent.push_back((x, reqs[next].op_code()));
                    next += 1;
                }
                self.flush().await?;
                let (want, op) = sent.front().copied().unwrap_or((0, 0));
                let reply = self.read_reply(|_| op).await?;
                if reply.xid != want {
                    return Err(WireError::OutOfOrder {
                        addr: self.addr.clone(),
                        got: reply.xid,
                        want,
                    });
                }
                sent.pop_front();
                out.push(reply);
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
