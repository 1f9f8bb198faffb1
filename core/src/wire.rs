//! Apache ZooKeeper 3.8's server-to-server protocol, as bytes: the one protocol servers speak,
//! whether the other end is this server or Apache ZooKeeper.
//!
//! ## The election port (`QuorumCnxManager`, `FastLeaderElection`)
//!
//! The connecting server opens with an initial message ([`encode_hello`]):
//!
//! ```text
//!   protocol version: long   -65535 (3.6–3.9: addresses may be several, joined by "|"),
//!                            -65536 (3.5: one address), or ≥ 0 (before 3.5: it is the sid)
//!   sid: long, then the election address: int length, bytes "host:port"   (not before 3.5)
//! ```
//!
//! then both ends send messages, each an int length (1 to 512 kB, `PACKETMAXSIZE`) and a body.
//! The only message is a notification (`FastLeaderElection.buildMsg`):
//!
//! ```text
//!   state: int (LOOKING 0, FOLLOWING 1, LEADING 2, OBSERVING 3), leader: long, zxid: long,
//!   electionEpoch: long, peerEpoch: long, version: int (2), config: int length + bytes
//! ```
//!
//! Older servers send 28 bytes (no peerEpoch: it is the zxid's epoch) or 40 (no version); the
//! config is `QuorumVerifier.toString()`, which ZooKeeper acts on only when its version is newer
//! than its own (dynamic reconfiguration). Of two servers, the one with the larger id keeps the
//! connection: a connection from a smaller id is closed and made again the other way.
//!
//! ## The quorum port (`Learner`, `LearnerHandler`, `Leader`)
//!
//! A learner connects to the leader and both sides write jute `QuorumPacket` records back to
//! back, with no length in front:
//!
//! ```text
//!   QuorumPacket { type: int, zxid: long, data: buffer, authinfo: vector<Id> }
//! ```
//!
//! What each type puts in `zxid` and `data` is on [`QuorumPacket`]'s variants and in
//! [`encode_packet`]. One exception to the records: after a SNAP, the leader writes the
//! snapshot's body unframed ([`crate::snapshot`]) and the string "BenWasHere", and records
//! resume after that. [`QuorumDecoder`] follows all of this on a byte stream, whatever the read
//! sizes, and hands the snapshot on in pieces without holding it whole.
//!
//! Null buffers and vectors are written as length -1, as Java's `null` is; both -1 and 0 are
//! read as empty. Every length is checked against `jute.maxbuffer` (plus ZooKeeper's 1 kB of
//! extra) before anything is allocated for it, and a packet that cannot be read is an error
//! that names it: the connection must then be dropped, as ZooKeeper drops it.

use crate::acl::Id;
use crate::codec::{decode_txn, encode_txn};
use crate::jute::{JuteError, Reader, Writer};
use crate::peer::election::NOBODY;
use crate::peer::messages::{
    Forwarded, LearnerInfo, Notification, QuorumPacket, ServerState, SessionTouches,
};
use crate::proto::{self, ProtoError};
use crate::snapshot::{self, Form, LoadOptions, SnapshotError, SnapshotReader};
use crate::txn::{op, TxnEntry};
use crate::types::{ServerId, SessionId, Zxid};
use std::sync::Arc;

/// The initial message's protocol version of ZooKeeper 3.6 to 3.9.
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// The initial message's protocol version of ZooKeeper 3.5.
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// The notification version that carries a config.
pub const NOTIFICATION_VERSION: i32 = 2;
/// `QuorumCnxManager.PACKETMAXSIZE`: the largest election message.
pub const MAX_ELECTION_MESSAGE: usize = 512 * 1024;
/// The largest election address accepted in an initial message.
pub const MAX_HELLO_ADDRESS: usize = 4096;
/// ZooKeeper's default `jute.maxbuffer` (a byte short of 1 MB).
pub const DEFAULT_JUTE_MAXBUFFER: usize = 0xfffff;
/// `zookeeper.jute.maxbuffer.extrasize`'s default: what a server adds to `jute.maxbuffer` when
/// it reads from another server.
pub const JUTE_EXTRA: usize = 1024;

/// `Leader.java`'s packet types.
pub mod packet {
    pub const REQUEST: i32 = 1;
    pub const PROPOSAL: i32 = 2;
    pub const ACK: i32 = 3;
    pub const COMMIT: i32 = 4;
    pub const PING: i32 = 5;
    pub const REVALIDATE: i32 = 6;
    pub const SYNC: i32 = 7;
    pub const INFORM: i32 = 8;
    pub const COMMITANDACTIVATE: i32 = 9;
    pub const NEWLEADER: i32 = 10;
    pub const FOLLOWERINFO: i32 = 11;
    pub const UPTODATE: i32 = 12;
    pub const DIFF: i32 = 13;
    pub const TRUNC: i32 = 14;
    pub const SNAP: i32 = 15;
    pub const OBSERVERINFO: i32 = 16;
    pub const LEADERINFO: i32 = 17;
    pub const ACKEPOCH: i32 = 18;
    pub const INFORMANDACTIVATE: i32 = 19;
    /// Not ZooKeeper's: this server's SNAPACK extension, used only when both ends announced it.
    pub const SNAPACK: i32 = 0x7a6b01;

    /// ZooKeeper's name of a packet type.
    pub fn name(t: i32) -> &'static str {
        match t {
            REQUEST => "REQUEST",
            PROPOSAL => "PROPOSAL",
            ACK => "ACK",
            COMMIT => "COMMIT",
            PING => "PING",
            REVALIDATE => "REVALIDATE",
            SYNC => "SYNC",
            INFORM => "INFORM",
            COMMITANDACTIVATE => "COMMITANDACTIVATE",
            NEWLEADER => "NEWLEADER",
            FOLLOWERINFO => "FOLLOWERINFO",
            UPTODATE => "UPTODATE",
            DIFF => "DIFF",
            TRUNC => "TRUNC",
            SNAP => "SNAP",
            OBSERVERINFO => "OBSERVERINFO",
            LEADERINFO => "LEADERINFO",
            ACKEPOCH => "ACKEPOCH",
            INFORMANDACTIVATE => "INFORMANDACTIVATE",
            SNAPACK => "SNAPACK",
            _ => "unknown",
        }
    }
}

/// What was wrong with bytes from another server.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("initial message: protocol version {0} is not one ZooKeeper 3.4–3.9 sends")]
    UnknownProtocolVersion(i64),
    #[error("initial message: election address of {0} bytes (the limit is {MAX_HELLO_ADDRESS})")]
    BadAddressLength(i32),
    #[error("initial message: the election address is not UTF-8")]
    BadAddress,
    #[error("election message of {0} bytes (it must be 1 to {MAX_ELECTION_MESSAGE})")]
    BadMessageLength(i64),
    #[error("notification of {0} bytes is too short (at least 28)")]
    ShortNotification(usize),
    #[error("notification carries unknown server state {0}")]
    UnknownState(i32),
    #[error("notification config length {len} does not fit its {left} bytes")]
    BadConfigLength { len: i32, left: usize },
    #[error("unknown quorum packet type {0}")]
    UnknownType(i32),
    #[error("{kind} is not sent by a {from}")]
    WrongDirection {
        kind: &'static str,
        from: &'static str,
    },
    #[error("{0} (dynamic reconfiguration) is not supported by this server")]
    Reconfig(&'static str),
    #[error("malformed {kind}: {error}")]
    Malformed {
        kind: &'static str,
        error: JuteError,
    },
    #[error("{kind} carries a request that cannot be read: {error}")]
    Request {
        kind: &'static str,
        error: ProtoError,
    },
    #[error("the snapshot after SNAP is unreadable: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("the snapshot after SNAP ends with {0:?}, not the signature \"BenWasHere\"")]
    BadSignature(String),
    #[error("expected a quorum authentication packet (QuorumAuthPacket), got other bytes")]
    NotQuorumAuth,
    #[error("quorum authentication token of {0} bytes (the limit is {MAX_QUORUM_AUTH_TOKEN})")]
    QuorumAuthTooLong(usize),
}

// ---------------------------------------------------------------------------------------------
// Quorum SASL (QuorumAuth, SaslQuorumAuthServer / SaslQuorumAuthLearner)

/// `QuorumAuth.QUORUM_AUTH_MAGIC_NUMBER`: the first eight bytes of every `QuorumAuthPacket`,
/// which is how a server tells a learner that authenticates from one that does not.
pub const QUORUM_AUTH_MAGIC: i64 = 6855662812065295820;
/// `QuorumAuth.Status`.
pub const AUTH_IN_PROGRESS: i32 = 0;
pub const AUTH_SUCCESS: i32 = 1;
pub const AUTH_ERROR: i32 = -1;
/// The largest SASL token taken from a peer (a DIGEST-MD5 token is a few hundred bytes).
pub const MAX_QUORUM_AUTH_TOKEN: usize = 64 * 1024;

/// A `QuorumAuthPacket{magic, status, token}`, as a learner and a server exchange it (no
/// length in front: the record itself).
pub fn encode_quorum_auth(status: i32, token: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_capacity(16 + token.len());
    w.i64(QUORUM_AUTH_MAGIC).i32(status).buffer(token);
    w.into_inner()
}

/// Whether `buf` starts with a `QuorumAuthPacket` (`None`: fewer than eight bytes yet).
pub fn is_quorum_auth(buf: &[u8]) -> Option<bool> {
    let magic: [u8; 8] = buf.get(..8)?.try_into().ok()?;
    Some(i64::from_be_bytes(magic) == QUORUM_AUTH_MAGIC)
}

/// One `QuorumAuthPacket` from the front of `buf`: its status, token and length; `None` while
/// incomplete. A null token is an empty one.
pub fn decode_quorum_auth(buf: &[u8]) -> Result<Option<(i32, Vec<u8>, usize)>, WireError> {
    if buf.len() < 16 {
        return Ok(None);
    }
    if is_quorum_auth(buf) != Some(true) {
        return Err(WireError::NotQuorumAuth);
    }
    let status = i32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
    let len = i32::from_be_bytes([buf[12], buf[13], buf[14], buf[15]]);
    if len < 0 {
        return Ok(Some((status, Vec::new(), 16)));
    }
    let len = len as usize;
    if len > MAX_QUORUM_AUTH_TOKEN {
        return Err(WireError::QuorumAuthTooLong(len));
    }
    if buf.len() < 16 + len {
        return Ok(None);
    }
    Ok(Some((status, buf[16..16 + len].to_vec(), 16 + len)))
}

// ---------------------------------------------------------------------------------------------
// The election port

/// A connecting server's initial message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    pub version: i64,
    pub sid: ServerId,
    /// Its election addresses (none before 3.5).
    pub addresses: Vec<String>,
}

/// The initial message this server sends: our id and election address(es, joined by `|`),
/// under `version` — ZooKeeper 3.8 sends [`PROTOCOL_VERSION_V1`] unless `multiAddress.enabled`.
pub fn encode_hello(version: i64, sid: ServerId, address: &str) -> Vec<u8> {
    let mut w = Writer::with_capacity(32 + address.len());
    w.i64(version).i64(sid.0 as i64).i32(address.len() as i32);
    w.buf.extend_from_slice(address.as_bytes());
    w.into_inner()
}

/// Reads an initial message from the front of `buf`: `None` while it has not all arrived,
/// else the message and the bytes it took. Lengths are checked before anything is read.
pub fn decode_hello(buf: &[u8]) -> Result<Option<(Hello, usize)>, WireError> {
    let Some(v) = be_i64(buf, 0) else {
        return Ok(None);
    };
    if v >= 0 {
        return Ok(Some((
            Hello {
                version: v,
                sid: ServerId(v as u64),
                addresses: Vec::new(),
            },
            8,
        )));
    }
    if v != PROTOCOL_VERSION_V1 && v != PROTOCOL_VERSION_V2 {
        return Err(WireError::UnknownProtocolVersion(v));
    }
    let (Some(sid), Some(len)) = (be_i64(buf, 8), be_i32(buf, 16)) else {
        return Ok(None);
    };
    if len <= 0 || len as usize > MAX_HELLO_ADDRESS {
        return Err(WireError::BadAddressLength(len));
    }
    let end = 20 + len as usize;
    if buf.len() < end {
        return Ok(None);
    }
    let text = std::str::from_utf8(&buf[20..end]).map_err(|_| WireError::BadAddress)?;
    let addresses = text.split('|').map(str::to_string).collect();
    Ok(Some((
        Hello {
            version: v,
            sid: ServerId(sid as u64),
            addresses,
        },
        end,
    )))
}

/// Checks an election message's length (the int before it), as ZooKeeper's `RecvWorker` does,
/// before anything is allocated for it.
pub fn election_message_len(len: i32) -> Result<usize, WireError> {
    if len <= 0 || len as usize > MAX_ELECTION_MESSAGE {
        return Err(WireError::BadMessageLength(len as i64));
    }
    Ok(len as usize)
}

/// A notification's body (`buildMsg`), without the length in front. `config` is this server's
/// configuration as [`crate::config::Config::quorum_config_text`] prints it.
pub fn encode_notification(n: &Notification, config: &str) -> Vec<u8> {
    let mut w = Writer::with_capacity(44 + config.len());
    let state = match n.state {
        // ZooKeeper has no standalone state; a standalone server answers as a leader would.
        ServerState::Standalone => ServerState::Leading.code(),
        s => s.code(),
    };
    // An observer's vote for nobody is Long.MIN_VALUE in all three, as ZooKeeper writes it.
    let (leader, zxid, peer_epoch) = if n.leader == NOBODY {
        (i64::MIN, i64::MIN, i64::MIN)
    } else {
        (n.leader.0 as i64, n.zxid.as_i64(), n.peer_epoch as i64)
    };
    w.i32(state)
        .i64(leader)
        .i64(zxid)
        .i64(n.election_epoch as i64)
        .i64(peer_epoch)
        .i32(NOTIFICATION_VERSION)
        .i32(config.len() as i32);
    w.buf.extend_from_slice(config.as_bytes());
    w.into_inner()
}

/// A notification read from server `sid`, with the config text it carried (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub notification: Notification,
    pub version: i32,
    pub config: Option<String>,
}

/// Reads a notification's body from server `sid` (`FastLeaderElection.WorkerReceiver`).
pub fn decode_notification(body: &[u8], sid: ServerId) -> Result<Received, WireError> {
    let cap = body.len();
    if cap < 28 {
        return Err(WireError::ShortNotification(cap));
    }
    let mut r = Reader::new(body, MAX_ELECTION_MESSAGE);
    let malformed = |error| WireError::Malformed {
        kind: "notification",
        error,
    };
    let state_code = r.i32("state").map_err(malformed)?;
    let leader = r.i64("leader").map_err(malformed)?;
    let zxid = r.zxid("zxid").map_err(malformed)?;
    let election_epoch = r.i64("electionEpoch").map_err(malformed)?;
    let (peer_epoch, version) = if cap == 28 {
        (zxid.epoch() as i64, 0)
    } else {
        let pe = r.i64("peerEpoch").map_err(malformed)?;
        let v = if cap == 40 {
            0
        } else {
            r.i32("version").map_err(malformed)?
        };
        (pe, v)
    };
    let mut config = None;
    if version > 1 {
        let len = r.i32("configLength").map_err(malformed)?;
        if len < 0 || len as usize > r.remaining() {
            return Err(WireError::BadConfigLength {
                len,
                left: r.remaining(),
            });
        }
        let b = r.rest();
        config = Some(String::from_utf8_lossy(&b[..len as usize]).into_owned());
    }
    let state = match state_code {
        0..=3 => ServerState::from_code(state_code).expect("0..=3 are states"),
        s => return Err(WireError::UnknownState(s)),
    };
    let (leader, zxid, peer_epoch) = if leader == i64::MIN {
        (NOBODY, Zxid::ZERO, 0)
    } else {
        (ServerId(leader as u64), zxid, peer_epoch as u32)
    };
    Ok(Received {
        notification: Notification {
            leader,
            zxid,
            election_epoch: election_epoch as u64,
            peer_epoch,
            state,
            sid,
        },
        version,
        config,
    })
}

// ---------------------------------------------------------------------------------------------
// The quorum port: writing

/// The bytes of one packet as it goes on a quorum connection: a jute `QuorumPacket` record, or
/// for a [`QuorumPacket::SnapPiece`] the snapshot's bytes themselves (and after the last piece
/// the signature).
pub fn encode_packet(p: &QuorumPacket, out: &mut Vec<u8>) {
    use packet::*;
    let mut w = Writer {
        buf: std::mem::take(out),
    };
    // type, zxid, then data (None: null), then authinfo (None: null).
    let mut record = |t: i32, zxid: i64, data: Option<&[u8]>, auth: Option<&[Id]>| {
        w.i32(t).i64(zxid).opt_buffer(data);
        match auth {
            None => {
                w.i32(-1);
            }
            Some(ids) => {
                w.i32(ids.len() as i32);
                for id in ids {
                    w.id(id);
                }
            }
        }
    };
    match p {
        QuorumPacket::FollowerInfo(li) | QuorumPacket::ObserverInfo(li) => {
            let t = if matches!(p, QuorumPacket::FollowerInfo(_)) {
                FOLLOWERINFO
            } else {
                OBSERVERINFO
            };
            let mut d = Writer::with_capacity(20);
            d.i64(li.sid.0 as i64)
                .i32(li.protocol)
                .i64(li.config_version);
            let zxid = Zxid::new(li.accepted_epoch, 0);
            record(t, zxid.as_i64(), Some(&d.buf), None);
        }
        QuorumPacket::LeaderInfo {
            new_epoch,
            protocol,
        } => {
            let zxid = Zxid::new(*new_epoch, 0);
            record(
                LEADERINFO,
                zxid.as_i64(),
                Some(&protocol.to_be_bytes()),
                None,
            );
        }
        QuorumPacket::AckEpoch {
            current_epoch,
            last_zxid,
        } => {
            let e = current_epoch.map_or(-1, |e| e as i32);
            record(ACKEPOCH, last_zxid.as_i64(), Some(&e.to_be_bytes()), None);
        }
        QuorumPacket::Diff { zxid } => record(DIFF, zxid.as_i64(), None, None),
        QuorumPacket::Trunc { zxid } => record(TRUNC, zxid.as_i64(), None, None),
        QuorumPacket::Snap { zxid } => record(SNAP, zxid.as_i64(), None, None),
        QuorumPacket::SnapPiece { data, last } => {
            w.buf.extend_from_slice(data);
            if *last {
                w.string(snapshot::SIGNATURE);
            }
        }
        QuorumPacket::SnapAck { bytes } => record(SNAPACK, *bytes as i64, None, None),
        QuorumPacket::Proposal(e) => record(PROPOSAL, e.zxid().as_i64(), Some(&txn(e)), None),
        QuorumPacket::Inform(e) => record(INFORM, e.zxid().as_i64(), Some(&txn(e)), None),
        QuorumPacket::Ack { zxid } => record(ACK, zxid.as_i64(), None, None),
        QuorumPacket::Commit { zxid } => record(COMMIT, zxid.as_i64(), None, None),
        QuorumPacket::NewLeader { zxid, config } => {
            record(NEWLEADER, zxid.as_i64(), Some(config.as_bytes()), None)
        }
        QuorumPacket::UpToDate => record(UPTODATE, -1, None, None),
        QuorumPacket::Ping { zxid } => record(PING, zxid.as_i64(), None, None),
        QuorumPacket::PingReply { zxid, sessions } => {
            let mut d = Writer::with_capacity(sessions.len() * 12);
            for (s, t) in sessions {
                d.i64(s.0).i32(*t);
            }
            record(PING, zxid.as_i64(), Some(&d.buf), None);
        }
        QuorumPacket::Request {
            session,
            cxid,
            op,
            auth,
        } => {
            let mut d = Writer::with_capacity(64);
            d.i64(session.0).i32(*cxid);
            match op.as_ref() {
                Forwarded::Client(req) => {
                    d.i32(req.op_code());
                    d.buf.extend_from_slice(&proto::encode_request_body(req));
                }
                Forwarded::CreateSession { timeout } => {
                    d.i32(op::CREATE_SESSION).i32(*timeout);
                }
                Forwarded::CloseSession => {
                    d.i32(op::CLOSE_SESSION);
                }
                Forwarded::Sync { path } => {
                    d.i32(op::SYNC).string(path);
                }
            }
            // ZooKeeper's learners forward a new session with no authinfo at all (null).
            let auth = match op.as_ref() {
                Forwarded::CreateSession { .. } => None,
                _ => Some(auth.as_slice()),
            };
            record(REQUEST, -1, Some(&d.buf), auth);
        }
        QuorumPacket::Revalidate { session, timeout } => {
            let mut d = Writer::with_capacity(12);
            d.i64(session.0).i32(*timeout);
            record(REVALIDATE, -1, Some(&d.buf), None);
        }
        QuorumPacket::RevalidateReply { session, valid } => {
            let mut d = Writer::with_capacity(9);
            d.i64(session.0).bool(*valid);
            record(REVALIDATE, -1, Some(&d.buf), None);
        }
        QuorumPacket::Sync => record(SYNC, 0, None, None),
    }
    *out = w.into_inner();
}

fn txn(e: &TxnEntry) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    encode_txn(e, &mut w);
    w.into_inner()
}

// ---------------------------------------------------------------------------------------------
// The quorum port: reading

/// Which end of a quorum connection the bytes come from: the same type means different things
/// each way (PING, REVALIDATE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum From {
    Leader,
    Learner,
}

impl From {
    pub fn name(self) -> &'static str {
        match self {
            From::Leader => "leader",
            From::Learner => "learner",
        }
    }
}

/// Follows one direction of a quorum connection: whole packets out of bytes as they come, and
/// a SNAP's snapshot handed on in pieces, its end found by reading its structure.
#[derive(Clone, Debug)]
pub struct QuorumDecoder {
    from: From,
    limit: usize,
    /// Bytes of a record that has not arrived whole.
    pending: Vec<u8>,
    /// After a SNAP: the snapshot being skimmed for its end, then the signature.
    snap: Option<SnapshotReader>,
    signature: bool,
}

impl QuorumDecoder {
    /// A decoder of what `from` sends, with `jute.maxbuffer` = `max_buffer`.
    pub fn new(from: From, max_buffer: usize) -> QuorumDecoder {
        QuorumDecoder {
            from,
            limit: max_buffer + JUTE_EXTRA,
            pending: Vec::new(),
            snap: None,
            signature: false,
        }
    }

    /// Which end of the connection it reads.
    pub fn from(&self) -> From {
        self.from
    }

    /// Between packets (no record or snapshot half read).
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty() && self.snap.is_none() && !self.signature
    }

    /// Reads what `bytes` completes; packets go to `out` in order. After an error the
    /// connection is unusable.
    pub fn feed(&mut self, bytes: &[u8], out: &mut Vec<QuorumPacket>) -> Result<(), WireError> {
        if self.pending.is_empty() {
            let used = self.consume(bytes, out)?;
            self.pending.extend_from_slice(&bytes[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(bytes);
            let used = self.consume(&buf, out)?;
            buf.drain(..used);
            self.pending = buf;
        }
        Ok(())
    }

    fn consume(&mut self, buf: &[u8], out: &mut Vec<QuorumPacket>) -> Result<usize, WireError> {
        let mut pos = 0;
        while pos < buf.len() {
            if let Some(r) = self.snap.as_mut() {
                // The snapshot's own bytes, handed on as they come.
                let rest = &buf[pos..];
                let used = r.feed(rest)?;
                if used > 0 {
                    out.push(QuorumPacket::SnapPiece {
                        data: Arc::new(rest[..used].to_vec()),
                        last: false,
                    });
                }
                pos += used;
                if r.is_done() {
                    self.snap = None;
                    self.signature = true;
                }
                continue;
            }
            let mut r = Reader::new(&buf[pos..], self.limit);
            if self.signature {
                match r.str_ref("signature") {
                    Ok(s) if s == snapshot::SIGNATURE => {}
                    Ok(s) => return Err(WireError::BadSignature(s.chars().take(64).collect())),
                    Err(JuteError::Truncated { .. }) => return Ok(pos),
                    Err(e) => return Err(WireError::BadSignature(e.to_string())),
                }
                self.signature = false;
                pos += r.position();
                out.push(QuorumPacket::SnapPiece {
                    data: Arc::new(Vec::new()),
                    last: true,
                });
                continue;
            }
            match self.packet(&mut r) {
                Ok(p) => {
                    pos += r.position();
                    if let QuorumPacket::Snap { zxid } = p {
                        let opts = LoadOptions {
                            skim: true,
                            ..LoadOptions::default()
                        };
                        self.snap = Some(SnapshotReader::new(Form::Stream, zxid, opts));
                    }
                    out.push(p);
                }
                Err(Partial::More) => return Ok(pos),
                Err(Partial::Bad(e)) => return Err(e),
            }
        }
        Ok(pos)
    }

    /// One QuorumPacket record, read whole or not at all.
    fn packet(&self, r: &mut Reader) -> Result<QuorumPacket, Partial> {
        use packet::*;
        let t = r.i32("QuorumPacket.type")?;
        let zxid = r.zxid("QuorumPacket.zxid")?;
        let data = r.opt_buffer_ref("QuorumPacket.data")?;
        let n = r.count("QuorumPacket.authinfo", 8)?;
        let mut auth = Vec::with_capacity(n);
        for _ in 0..n {
            auth.push(r.id()?);
        }
        let kind = name(t);
        if kind == "unknown" {
            return Err(Partial::Bad(WireError::UnknownType(t)));
        }
        let data = data.unwrap_or(&[]);
        let bad = |error: JuteError| Partial::Bad(WireError::Malformed { kind, error });
        let leader_only = matches!(
            t,
            LEADERINFO
                | DIFF
                | TRUNC
                | SNAP
                | PROPOSAL
                | COMMIT
                | INFORM
                | NEWLEADER
                | UPTODATE
                | SYNC
                | COMMITANDACTIVATE
                | INFORMANDACTIVATE
        );
        let learner_only = matches!(
            t,
            FOLLOWERINFO | OBSERVERINFO | ACKEPOCH | ACK | REQUEST | SNAPACK
        );
        if (leader_only && self.from == From::Learner)
            || (learner_only && self.from == From::Leader)
        {
            return Err(Partial::Bad(WireError::WrongDirection {
                kind,
                from: self.from.name(),
            }));
        }
        let mut d = Reader::new(data, self.limit);
        Ok(match t {
            FOLLOWERINFO | OBSERVERINFO => {
                // `LearnerHandler` reads as much of LearnerInfo as there is.
                let sid = if data.len() >= 8 {
                    ServerId(d.i64("LearnerInfo.serverid").map_err(bad)? as u64)
                } else {
                    ServerId(0)
                };
                let protocol = if data.len() >= 12 {
                    d.i32("LearnerInfo.protocolVersion").map_err(bad)?
                } else {
                    0
                };
                let config_version = if data.len() >= 20 {
                    d.i64("LearnerInfo.configVersion").map_err(bad)?
                } else {
                    0
                };
                let li = LearnerInfo {
                    sid,
                    accepted_epoch: zxid.epoch(),
                    protocol,
                    config_version,
                };
                if t == FOLLOWERINFO {
                    QuorumPacket::FollowerInfo(li)
                } else {
                    QuorumPacket::ObserverInfo(li)
                }
            }
            LEADERINFO => QuorumPacket::LeaderInfo {
                new_epoch: zxid.epoch(),
                protocol: d.i32("LEADERINFO protocol version").map_err(bad)?,
            },
            ACKEPOCH => {
                let e = d.i32("ACKEPOCH epoch").map_err(bad)?;
                QuorumPacket::AckEpoch {
                    current_epoch: (e >= 0).then_some(e as u32),
                    last_zxid: zxid,
                }
            }
            DIFF => QuorumPacket::Diff { zxid },
            TRUNC => QuorumPacket::Trunc { zxid },
            SNAP => QuorumPacket::Snap { zxid },
            SNAPACK => QuorumPacket::SnapAck { bytes: zxid.0 },
            PROPOSAL | INFORM => {
                let e = decode_txn(&mut d).map_err(bad)?;
                if e.zxid() != zxid {
                    return Err(bad(JuteError::Invalid(format!(
                        "the packet says zxid {zxid}, its transaction {}",
                        e.zxid()
                    ))));
                }
                if t == PROPOSAL {
                    QuorumPacket::Proposal(Arc::new(e))
                } else {
                    QuorumPacket::Inform(Arc::new(e))
                }
            }
            ACK => QuorumPacket::Ack { zxid },
            COMMIT => QuorumPacket::Commit { zxid },
            NEWLEADER => QuorumPacket::NewLeader {
                zxid,
                config: String::from_utf8_lossy(data).into(),
            },
            UPTODATE => QuorumPacket::UpToDate,
            PING if self.from == From::Leader => QuorumPacket::Ping { zxid },
            PING => {
                if data.len() % 12 != 0 {
                    return Err(bad(JuteError::Invalid(format!(
                        "a ping's session table of {} bytes is not whole (12 bytes each)",
                        data.len()
                    ))));
                }
                let mut sessions: SessionTouches = Vec::with_capacity(data.len() / 12);
                while !d.is_empty() {
                    let s = SessionId(d.i64("session id").map_err(bad)?);
                    sessions.push((s, d.i32("session timeout").map_err(bad)?));
                }
                QuorumPacket::PingReply { zxid, sessions }
            }
            REVALIDATE if self.from == From::Leader => QuorumPacket::RevalidateReply {
                session: SessionId(d.i64("session id").map_err(bad)?),
                valid: d.bool("valid").map_err(bad)?,
            },
            REVALIDATE => QuorumPacket::Revalidate {
                session: SessionId(d.i64("session id").map_err(bad)?),
                timeout: d.i32("timeout").map_err(bad)?,
            },
            REQUEST => {
                let session = SessionId(d.i64("REQUEST sessionId").map_err(bad)?);
                let cxid = d.i32("REQUEST cxid").map_err(bad)?;
                let code = d.i32("REQUEST type").map_err(bad)?;
                let body = d.rest();
                let op = match code {
                    op::CREATE_SESSION => Forwarded::CreateSession {
                        timeout: Reader::new(body, 4)
                            .i32("createSession timeout")
                            .map_err(bad)?,
                    },
                    op::CLOSE_SESSION => Forwarded::CloseSession,
                    op::SYNC => Forwarded::Sync {
                        path: Reader::new(body, self.limit)
                            .string("SyncRequest.path")
                            .map_err(bad)?,
                    },
                    // A request the learner could not have read from its client either: the
                    // leader answers it with an error, as ZooKeeper's does, rather than drop
                    // the learner.
                    code => Forwarded::Client(
                        proto::decode_request_body(body, code, self.limit)
                            .unwrap_or(crate::request::Request::Malformed { op: code }),
                    ),
                };
                QuorumPacket::Request {
                    session,
                    cxid,
                    op: Box::new(op),
                    auth,
                }
            }
            SYNC => QuorumPacket::Sync,
            COMMITANDACTIVATE | INFORMANDACTIVATE => {
                return Err(Partial::Bad(WireError::Reconfig(kind)))
            }
            _ => return Err(Partial::Bad(WireError::UnknownType(t))),
        })
    }
}

/// A record not read: not all here yet, or bad.
enum Partial {
    More,
    Bad(WireError),
}

impl std::convert::From<JuteError> for Partial {
    fn from(e: JuteError) -> Partial {
        match e {
            JuteError::Truncated { .. } => Partial::More,
            error => Partial::Bad(WireError::Malformed {
                kind: "QuorumPacket",
                error,
            }),
        }
    }
}

fn be_i64(b: &[u8], at: usize) -> Option<i64> {
    b.get(at..at + 8)
        .map(|s| i64::from_be_bytes(s.try_into().expect("8 bytes")))
}

fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    b.get(at..at + 4)
        .map(|s| i32::from_be_bytes(s.try_into().expect("4 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::Acl;
    use crate::digest::TxnDigest;
    use crate::peer::messages::ZAB_PROTOCOL;
    use crate::request::{CreateRequest, Request};
    use crate::txn::{Txn, TxnHeader};
    use proptest::prelude::*;

    const MAX: usize = DEFAULT_JUTE_MAXBUFFER;

    fn entry(zxid: Zxid, digest: bool) -> TxnEntry {
        TxnEntry {
            hdr: TxnHeader {
                session: SessionId(9),
                cxid: 1,
                zxid,
                time: 10,
            },
            txn: Txn::SetData {
                path: "/p".into(),
                data: Some(b"v".to_vec()),
                version: 1,
            },
            digest: digest.then_some(TxnDigest {
                version: 2,
                tree_digest: -5,
            }),
        }
    }

    fn info(sid: u64, accepted_epoch: u32, protocol: i32) -> LearnerInfo {
        LearnerInfo {
            sid: ServerId(sid),
            accepted_epoch,
            protocol,
            config_version: 0,
        }
    }

    /// Every packet a learner sends, and every packet a leader sends.
    fn all_packets() -> (Vec<QuorumPacket>, Vec<QuorumPacket>) {
        let create = Request::Create {
            op: op::CREATE2,
            req: CreateRequest {
                path: "/n".into(),
                data: Some(b"d".to_vec()),
                acl: Acl::open_unsafe(),
                flags: 1,
                ttl: -1,
            },
        };
        let multi = Request::Multi(vec![
            create.clone(),
            Request::Delete {
                path: "/n".into(),
                version: -1,
            },
            Request::Check {
                path: "/".into(),
                version: 0,
            },
        ]);
        let request = |cxid, op, auth| QuorumPacket::Request {
            session: SessionId(0x100),
            cxid,
            op: Box::new(op),
            auth,
        };
        let learner = vec![
            QuorumPacket::FollowerInfo(info(2, 4, ZAB_PROTOCOL | 1)),
            QuorumPacket::ObserverInfo(info(5, 0, ZAB_PROTOCOL)),
            QuorumPacket::AckEpoch {
                current_epoch: Some(4),
                last_zxid: Zxid::new(4, 9),
            },
            QuorumPacket::AckEpoch {
                current_epoch: None,
                last_zxid: Zxid::new(4, 9),
            },
            QuorumPacket::SnapAck { bytes: 123456 },
            QuorumPacket::Ack { zxid: Zxid(1) },
            QuorumPacket::PingReply {
                zxid: Zxid(77),
                sessions: vec![(SessionId(1), 4000), (SessionId(-2), 6000)],
            },
            QuorumPacket::PingReply {
                zxid: Zxid(0),
                sessions: vec![],
            },
            request(
                3,
                Forwarded::Client(create),
                vec![Id::new("digest", "bob:hash"), Id::new("ip", "10.0.0.1")],
            ),
            request(4, Forwarded::Client(multi), vec![]),
            request(0, Forwarded::CreateSession { timeout: 30000 }, vec![]),
            request(5, Forwarded::CloseSession, vec![]),
            request(6, Forwarded::Sync { path: "/a".into() }, vec![]),
            QuorumPacket::Revalidate {
                session: SessionId(0x101),
                timeout: 4000,
            },
        ];
        let snap = crate::snapshot::serialize(&Default::default());
        let leader = vec![
            QuorumPacket::LeaderInfo {
                new_epoch: 5,
                protocol: ZAB_PROTOCOL,
            },
            QuorumPacket::Diff {
                zxid: Zxid::new(4, 8),
            },
            QuorumPacket::Trunc {
                zxid: Zxid::new(4, 2),
            },
            QuorumPacket::Proposal(Arc::new(entry(Zxid::new(3, 4), true))),
            QuorumPacket::Commit {
                zxid: Zxid::new(3, 4),
            },
            QuorumPacket::Inform(Arc::new(entry(Zxid::new(3, 5), false))),
            QuorumPacket::NewLeader {
                zxid: Zxid::new(5, 0),
                config: "server.1=127.0.0.1:2888:3888:participant\nversion=0".into(),
            },
            QuorumPacket::UpToDate,
            QuorumPacket::Ping { zxid: Zxid(77) },
            QuorumPacket::RevalidateReply {
                session: SessionId(0x101),
                valid: true,
            },
            QuorumPacket::Sync,
            QuorumPacket::Snap { zxid: Zxid(0) },
            QuorumPacket::SnapPiece {
                data: Arc::new(snap[..10].to_vec()),
                last: false,
            },
            QuorumPacket::SnapPiece {
                data: Arc::new(snap[10..].to_vec()),
                last: false,
            },
            QuorumPacket::SnapPiece {
                data: Arc::new(Vec::new()),
                last: true,
            },
            QuorumPacket::Commit { zxid: Zxid(6) },
        ];
        (learner, leader)
    }

    fn encode_all(ps: &[QuorumPacket]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in ps {
            encode_packet(p, &mut out);
        }
        out
    }

    /// Decodes `bytes` fed in pieces of the given sizes (cycled).
    fn decode(from: From, bytes: &[u8], sizes: &[usize]) -> Vec<QuorumPacket> {
        let mut d = QuorumDecoder::new(from, MAX);
        let mut out = Vec::new();
        let mut rest = bytes;
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].clamp(1, rest.len());
            d.feed(&rest[..n], &mut out).unwrap();
            rest = &rest[n..];
            i += 1;
        }
        assert!(d.is_idle());
        out
    }

    /// Snapshot pieces come back cut differently: join them for comparing.
    fn joined(ps: Vec<QuorumPacket>) -> Vec<QuorumPacket> {
        let mut out: Vec<QuorumPacket> = Vec::new();
        for p in ps {
            if let QuorumPacket::SnapPiece { data, last } = &p {
                if let Some(QuorumPacket::SnapPiece {
                    data: prev,
                    last: false,
                }) = out.last_mut()
                {
                    if !last {
                        Arc::make_mut(prev).extend_from_slice(data);
                        continue;
                    }
                }
            }
            out.push(p);
        }
        out
    }

    #[test]
    fn quorum_auth_packets_round_trip_and_refuse_what_is_not_one() {
        let p = encode_quorum_auth(AUTH_IN_PROGRESS, b"realm=x");
        assert_eq!(&p[..8], &QUORUM_AUTH_MAGIC.to_be_bytes());
        assert_eq!(is_quorum_auth(&p), Some(true));
        for cut in 0..p.len() {
            assert_eq!(decode_quorum_auth(&p[..cut]).unwrap(), None, "{cut}");
        }
        assert_eq!(
            decode_quorum_auth(&p).unwrap(),
            Some((AUTH_IN_PROGRESS, b"realm=x".to_vec(), p.len()))
        );
        // A FOLLOWERINFO is not an auth packet; a huge token is refused before it arrives.
        assert_eq!(is_quorum_auth(&[0, 0, 0, 11, 0, 0, 0, 0]), Some(false));
        assert!(decode_quorum_auth(&[0u8; 16]).is_err());
        let mut huge = encode_quorum_auth(AUTH_SUCCESS, b"");
        huge[12..16].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decode_quorum_auth(&huge),
            Err(WireError::QuorumAuthTooLong(_))
        ));
    }

    #[test]
    fn every_packet_round_trips_whatever_the_read_sizes() {
        let (learner, leader) = all_packets();
        for sizes in [&[usize::MAX][..], &[1], &[3, 7, 1, 50], &[13]] {
            let b = encode_all(&learner);
            assert_eq!(decode(From::Learner, &b, sizes), learner);
            let b = encode_all(&leader);
            assert_eq!(
                joined(decode(From::Leader, &b, sizes)),
                joined(leader.clone())
            );
        }
    }

    #[test]
    fn records_are_zookeepers() {
        // ACK: type 3, the zxid, null data (-1), null authinfo (-1).
        let mut b = Vec::new();
        encode_packet(
            &QuorumPacket::Ack {
                zxid: Zxid(0x100000002),
            },
            &mut b,
        );
        let mut want = 3i32.to_be_bytes().to_vec();
        want.extend_from_slice(&0x100000002i64.to_be_bytes());
        want.extend_from_slice(&(-1i32).to_be_bytes());
        want.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(b, want);
        // FOLLOWERINFO: zxid = acceptedEpoch << 32, LearnerInfo of 20 bytes.
        let mut b = Vec::new();
        encode_packet(
            &QuorumPacket::FollowerInfo(info(3, 7, ZAB_PROTOCOL)),
            &mut b,
        );
        assert_eq!(&b[..4], &11i32.to_be_bytes());
        assert_eq!(&b[4..12], &(7i64 << 32).to_be_bytes());
        assert_eq!(&b[12..16], &20i32.to_be_bytes());
        assert_eq!(&b[16..24], &3i64.to_be_bytes());
        assert_eq!(&b[24..28], &0x10000i32.to_be_bytes());
        // UPTODATE's zxid is -1; SYNC's 0.
        let mut b = Vec::new();
        encode_packet(&QuorumPacket::UpToDate, &mut b);
        assert_eq!(&b[4..12], &(-1i64).to_be_bytes());
        // A snapshot's last piece ends with the signature.
        let mut b = Vec::new();
        let last = QuorumPacket::SnapPiece {
            data: Arc::new(vec![1, 2]),
            last: true,
        };
        encode_packet(&last, &mut b);
        assert_eq!(&b[..2], &[1, 2]);
        assert_eq!(&b[6..], b"BenWasHere");
    }

    #[test]
    fn election_messages_round_trip() {
        let h = encode_hello(PROTOCOL_VERSION_V1, ServerId(3), "127.0.0.1:3888");
        for cut in 0..h.len() {
            assert_eq!(decode_hello(&h[..cut]).unwrap(), None, "cut at {cut}");
        }
        let (hello, used) = decode_hello(&h).unwrap().unwrap();
        assert_eq!(used, h.len());
        assert_eq!(hello.sid, ServerId(3));
        assert_eq!(hello.addresses, vec!["127.0.0.1:3888".to_string()]);
        // Before 3.5 the first long is the sid.
        let (old, used) = decode_hello(&7i64.to_be_bytes()).unwrap().unwrap();
        assert_eq!((old.sid, used), (ServerId(7), 8));
        assert!(matches!(
            decode_hello(&(-3i64).to_be_bytes()),
            Err(WireError::UnknownProtocolVersion(-3))
        ));
        let mut huge = PROTOCOL_VERSION_V2.to_be_bytes().to_vec();
        huge.extend_from_slice(&1i64.to_be_bytes());
        huge.extend_from_slice(&i32::MAX.to_be_bytes());
        assert!(matches!(
            decode_hello(&huge),
            Err(WireError::BadAddressLength(_))
        ));
        assert!(election_message_len(0).is_err());
        assert!(election_message_len(512 * 1024 + 1).is_err());
        let n = Notification {
            leader: ServerId(3),
            zxid: Zxid::new(1, 7),
            election_epoch: 9,
            peer_epoch: 1,
            state: ServerState::Following,
            sid: ServerId(2),
        };
        let b = encode_notification(&n, "version=0");
        assert_eq!(b.len(), 44 + 9);
        let r = decode_notification(&b, ServerId(2)).unwrap();
        assert_eq!(r.notification, n);
        assert_eq!(r.version, 2);
        assert_eq!(r.config.as_deref(), Some("version=0"));
        // 3.4's 40 bytes, and the oldest 28.
        assert_eq!(
            decode_notification(&b[..40], ServerId(2))
                .unwrap()
                .notification,
            n
        );
        let old = decode_notification(&b[..28], ServerId(2)).unwrap();
        assert_eq!(old.notification.peer_epoch, 1);
        assert!(decode_notification(&b[..27], ServerId(2)).is_err());
        let mut bad = b.clone();
        bad[40..44].copy_from_slice(&1000i32.to_be_bytes());
        assert!(decode_notification(&bad, ServerId(2)).is_err());
    }

    #[test]
    fn bad_packets_are_named() {
        let mut d = QuorumDecoder::new(From::Learner, MAX);
        let mut out = Vec::new();
        let mut b = Vec::new();
        encode_packet(&QuorumPacket::UpToDate, &mut b);
        let e = d.feed(&b, &mut out).unwrap_err();
        assert!(e.to_string().contains("UPTODATE"), "{e}");
        let mut d = QuorumDecoder::new(From::Leader, MAX);
        let mut b = 99i32.to_be_bytes().to_vec();
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&(-1i32).to_be_bytes());
        b.extend_from_slice(&(-1i32).to_be_bytes());
        assert!(matches!(
            d.feed(&b, &mut out),
            Err(WireError::UnknownType(99))
        ));
        // A data length over jute.maxbuffer is refused before anything is allocated.
        let mut d = QuorumDecoder::new(From::Leader, MAX);
        let mut b = 2i32.to_be_bytes().to_vec();
        b.extend_from_slice(&[0; 8]);
        b.extend_from_slice(&(i32::MAX).to_be_bytes());
        let e = d.feed(&b, &mut out).unwrap_err();
        assert!(e.to_string().contains("over the limit"), "{e}");
        // A snapshot that does not end with the signature.
        let mut d = QuorumDecoder::new(From::Leader, MAX);
        let mut b = Vec::new();
        encode_packet(&QuorumPacket::Snap { zxid: Zxid(0) }, &mut b);
        b.extend_from_slice(&crate::snapshot::serialize(&Default::default()));
        let mut w = crate::jute::Writer { buf: b };
        w.string("BenWasThere");
        let e = d.feed(&w.buf, &mut out).unwrap_err();
        assert!(matches!(e, WireError::BadSignature(_)), "{e}");
    }

    proptest! {
        /// Any bytes, a real packet's prefixes and mutations: never a panic, never a token
        /// longer than its bound, and a decoded packet never longer than its input.
        #[test]
        fn quorum_auth_decoding_survives_any_bytes(
            junk in proptest::collection::vec(any::<u8>(), 0..64),
            token in proptest::collection::vec(any::<u8>(), 0..300),
            flip in any::<(usize, u8)>(),
        ) {
            let _ = decode_quorum_auth(&junk);
            let mut p = encode_quorum_auth(AUTH_IN_PROGRESS, &token);
            let at = flip.0 % p.len();
            p[at] ^= flip.1;
            for cut in 0..=p.len() {
                if let Ok(Some((_, t, used))) = decode_quorum_auth(&p[..cut]) {
                    prop_assert!(used <= cut && t.len() <= MAX_QUORUM_AUTH_TOKEN);
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut out = Vec::new();
            let _ = QuorumDecoder::new(From::Leader, MAX).feed(&bytes, &mut out);
            let _ = QuorumDecoder::new(From::Learner, MAX).feed(&bytes, &mut out);
            let _ = decode_hello(&bytes);
            let _ = decode_notification(&bytes, ServerId(1));
        }

        #[test]
        fn damaged_packets_never_panic(i in any::<prop::sample::Index>(), x in 1u8..) {
            let (learner, leader) = all_packets();
            for (from, ps) in [(From::Learner, learner), (From::Leader, leader)] {
                let mut b = encode_all(&ps);
                let at = i.index(b.len());
                b[at] ^= x;
                let mut out = Vec::new();
                let _ = QuorumDecoder::new(from, MAX).feed(&b, &mut out);
            }
        }
    }
}
