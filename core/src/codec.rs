//! Binary encodings of what a server writes to its log and sends to other servers: transactions
//! ([`encode_txn`] / [`decode_txn`]) and peer messages ([`encode_peer_msg`] /
//! [`decode_peer_msg`]), built from the jute primitives of [`crate::jute`].
//!
//! ## Transactions
//!
//! A log entry is ZooKeeper's `TxnHeader` followed by the txn record its type calls for, as
//! `zookeeper.jute` defines them:
//!
//! ```text
//!   TxnHeader { clientId: long, cxid: int, zxid: long, time: long, type: int }
//!   type 1   CreateTxn          { path, data, acl, ephemeral: boolean, parentCVersion: int }
//!   type 19  CreateContainerTxn { path, data, acl, parentCVersion: int }
//!   type 21  CreateTTLTxn       { path, data, acl, parentCVersion: int, ttl: long }
//!   type 2   DeleteTxn          { path }          (type 20, deleteContainer, has the same record)
//!   type 5   SetDataTxn         { path, data, version: int }
//!   type 7   SetACLTxn          { path, acl, version: int }
//!   type 13  CheckVersionTxn    { path, version: int }
//!   type 14  MultiTxn           { txns: vector<Txn { type: int, data: buffer }> }
//!   type -10 CreateSessionTxn   { timeOut: int }
//!   type -11 CloseSessionTxn    { paths2Delete: vector<ustring> }
//!   type -1  ErrorTxn           { err: int }
//! ```
//!
//! `data` is a jute buffer whose length -1 means null, so `None` and `Some(vec![])` stay
//! apart. A multi inside a multi is refused when read: ZooKeeper never nests them, and refusing
//! keeps the decoder's recursion bounded whatever the bytes.
//!
//! ## Peer messages
//!
//! Messages between our own servers (election port and quorum port) are a type `int` and then
//! the fields of that type, in declaration order. They need not be read by Apache ZooKeeper, but
//! the type numbers are `Leader.java`'s where it has one (REQUEST 1 ... ACKEPOCH 18); what it
//! does not have — a ping's answer, a revalidation's answer and election notifications, which
//! travel on a connection of their own in ZooKeeper — take numbers it does not use. Proposals
//! carry a transaction as above; a forwarded client request carries the client protocol's own
//! encoding ([`crate::proto::encode_request`]).
//!
//! Every decoder here reads untrusted bytes: none of them panics, and a message must be read to
//! its last byte (anything left over is an error, as a sign of a framing or version mismatch).

use crate::acl::Id;
use crate::error::ErrorCode;
use crate::jute::{JuteError, JuteResult, Reader, Writer};
use crate::peer::messages::{Forwarded, Notification, PeerMsg, QuorumPacket, ServerState};
use crate::proto::{self, ProtoError};
use crate::txn::{op, Txn, TxnEntry, TxnHeader};
use crate::types::{ServerId, SessionId};
use std::sync::Arc;

/// Peer message type numbers: `Leader.java`'s packet types, and numbers it does not use for the
/// rest.
pub mod packet {
    pub const REQUEST: i32 = 1;
    pub const PROPOSAL: i32 = 2;
    pub const ACK: i32 = 3;
    pub const COMMIT: i32 = 4;
    pub const PING: i32 = 5;
    pub const REVALIDATE: i32 = 6;
    pub const SYNC: i32 = 7;
    pub const INFORM: i32 = 8;
    pub const NEWLEADER: i32 = 10;
    pub const FOLLOWERINFO: i32 = 11;
    pub const UPTODATE: i32 = 12;
    pub const DIFF: i32 = 13;
    pub const TRUNC: i32 = 14;
    pub const SNAP: i32 = 15;
    pub const OBSERVERINFO: i32 = 16;
    pub const LEADERINFO: i32 = 17;
    pub const ACKEPOCH: i32 = 18;
    /// A learner's answer to PING (ZooKeeper reuses PING; the direction tells them apart there).
    pub const PING_REPLY: i32 = 20;
    /// The leader's answer to REVALIDATE (ZooKeeper reuses REVALIDATE).
    pub const REVALIDATE_REPLY: i32 = 21;
    /// A piece of the snapshot a SNAP announced (ZooKeeper writes it straight after SNAP).
    pub const SNAP_PIECE: i32 = 22;
    /// A learner's word that a snapshot piece is on its disk.
    pub const SNAP_ACK: i32 = 23;
    /// A FastLeaderElection notification (its own connection and format in ZooKeeper).
    pub const NOTIFICATION: i32 = 100;
}

/// What a forwarded request is, in a REQUEST packet.
mod forwarded {
    pub const CLIENT: u8 = 1;
    pub const CREATE_SESSION: u8 = 2;
    pub const CLOSE_SESSION: u8 = 3;
    pub const SYNC: u8 = 4;
}

/// What was wrong with a peer message that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("peer message too short to hold its type ({len} bytes)")]
    Empty { len: usize },
    #[error("unknown peer message type {0}")]
    UnknownType(i32),
    #[error("malformed {kind} message: {error}")]
    Malformed {
        kind: &'static str,
        error: JuteError,
    },
    #[error("{kind} message has {left} bytes left over after its last field")]
    TrailingBytes { kind: &'static str, left: usize },
    #[error("notification carries unknown server state {0}")]
    UnknownState(i32),
    #[error("REQUEST carries unknown forwarded request kind {0}")]
    UnknownForwarded(u8),
    #[error("REQUEST carries a client request that cannot be read: {0}")]
    Request(#[from] ProtoError),
}

// ---------------------------------------------------------------------------------------------
// Transactions

/// Writes a log entry: its `TxnHeader` and the txn record.
pub fn encode_txn(entry: &TxnEntry, w: &mut Writer) {
    let h = &entry.hdr;
    w.i64(h.session.0)
        .i32(h.cxid)
        .zxid(h.zxid)
        .i64(h.time)
        .i32(entry.txn.op_code());
    write_txn_body(&entry.txn, w);
}

/// The bytes of one log entry.
pub fn txn_bytes(entry: &TxnEntry) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    encode_txn(entry, &mut w);
    w.into_inner()
}

fn write_txn_body(txn: &Txn, w: &mut Writer) {
    match txn {
        Txn::Create {
            path,
            data,
            acl,
            ephemeral,
            parent_cversion,
        } => {
            w.string(path)
                .opt_buffer(data.as_deref())
                .acls(acl)
                .bool(*ephemeral)
                .i32(*parent_cversion);
        }
        Txn::CreateContainer {
            path,
            data,
            acl,
            parent_cversion,
        } => {
            w.string(path)
                .opt_buffer(data.as_deref())
                .acls(acl)
                .i32(*parent_cversion);
        }
        Txn::CreateTtl {
            path,
            data,
            acl,
            parent_cversion,
            ttl,
        } => {
            w.string(path)
                .opt_buffer(data.as_deref())
                .acls(acl)
                .i32(*parent_cversion)
                .i64(*ttl);
        }
        Txn::Delete { path, .. } => {
            w.string(path);
        }
        Txn::SetData {
            path,
            data,
            version,
        } => {
            w.string(path).opt_buffer(data.as_deref()).i32(*version);
        }
        Txn::SetAcl { path, acl, version } => {
            w.string(path).acls(acl).i32(*version);
        }
        Txn::Check { path, version } => {
            w.string(path).i32(*version);
        }
        Txn::Multi(txns) => {
            w.i32(txns.len() as i32);
            for t in txns {
                // `Txn { type, data }`: the sub-record goes in a buffer, its length patched in.
                w.i32(t.op_code());
                let at = w.len();
                w.i32(0);
                write_txn_body(t, w);
                let len = w.len() - at - 4;
                w.patch_i32(at, len as i32);
            }
        }
        Txn::CreateSession { timeout } => {
            w.i32(*timeout);
        }
        Txn::CloseSession { paths_to_delete } => {
            w.strings(paths_to_delete);
        }
        Txn::Error { err } => {
            w.i32(err.code());
        }
    }
}

/// Reads a log entry written by [`encode_txn`].
pub fn decode_txn(r: &mut Reader) -> JuteResult<TxnEntry> {
    let hdr = TxnHeader {
        session: SessionId(r.i64("TxnHeader.clientId")?),
        cxid: r.i32("TxnHeader.cxid")?,
        zxid: r.zxid("TxnHeader.zxid")?,
        time: r.i64("TxnHeader.time")?,
    };
    let kind = r.i32("TxnHeader.type")?;
    let txn = read_txn_body(r, kind, true)?;
    Ok(TxnEntry { hdr, txn })
}

fn read_txn_body(r: &mut Reader, kind: i32, top: bool) -> JuteResult<Txn> {
    Ok(match kind {
        op::CREATE => Txn::Create {
            path: r.string("CreateTxn.path")?,
            data: r.opt_buffer("CreateTxn.data")?,
            acl: r.acls()?,
            ephemeral: r.bool("CreateTxn.ephemeral")?,
            parent_cversion: r.i32("CreateTxn.parentCVersion")?,
        },
        op::CREATE_CONTAINER => Txn::CreateContainer {
            path: r.string("CreateContainerTxn.path")?,
            data: r.opt_buffer("CreateContainerTxn.data")?,
            acl: r.acls()?,
            parent_cversion: r.i32("CreateContainerTxn.parentCVersion")?,
        },
        op::CREATE_TTL => Txn::CreateTtl {
            path: r.string("CreateTTLTxn.path")?,
            data: r.opt_buffer("CreateTTLTxn.data")?,
            acl: r.acls()?,
            parent_cversion: r.i32("CreateTTLTxn.parentCVersion")?,
            ttl: r.i64("CreateTTLTxn.ttl")?,
        },
        op::DELETE | op::DELETE_CONTAINER => Txn::Delete {
            path: r.string("DeleteTxn.path")?,
            container: kind == op::DELETE_CONTAINER,
        },
        op::SET_DATA => Txn::SetData {
            path: r.string("SetDataTxn.path")?,
            data: r.opt_buffer("SetDataTxn.data")?,
            version: r.i32("SetDataTxn.version")?,
        },
        op::SET_ACL => Txn::SetAcl {
            path: r.string("SetACLTxn.path")?,
            acl: r.acls()?,
            version: r.i32("SetACLTxn.version")?,
        },
        op::CHECK => Txn::Check {
            path: r.string("CheckVersionTxn.path")?,
            version: r.i32("CheckVersionTxn.version")?,
        },
        op::MULTI if top => {
            let n = r.count("MultiTxn.txns", 8)?;
            let mut txns = Vec::with_capacity(n);
            for i in 0..n {
                let sub_kind = r.i32("Txn.type")?;
                let bytes = r.buffer_ref("Txn.data")?;
                let mut sub = Reader::new(bytes, r.limit);
                txns.push(read_txn_body(&mut sub, sub_kind, false)?);
                if !sub.is_empty() {
                    return Err(JuteError::Invalid(format!(
                        "MultiTxn.txns[{i}] ({}) has {} bytes left over",
                        crate::request::op_name(sub_kind),
                        sub.remaining()
                    )));
                }
            }
            Txn::Multi(txns)
        }
        op::MULTI => {
            return Err(JuteError::Invalid(
                "a multi inside a multi is not a transaction".into(),
            ))
        }
        op::CREATE_SESSION => Txn::CreateSession {
            timeout: r.i32("CreateSessionTxn.timeOut")?,
        },
        op::CLOSE_SESSION => Txn::CloseSession {
            paths_to_delete: r.strings("CloseSessionTxn.paths2Delete")?,
        },
        op::ERROR => Txn::Error {
            err: ErrorCode::from_code(r.i32("ErrorTxn.err")?),
        },
        other => {
            return Err(JuteError::Invalid(format!(
                "TxnHeader.type {other} is not a transaction type"
            )))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Peer messages

fn packet_type(msg: &PeerMsg) -> i32 {
    use packet::*;
    match msg {
        PeerMsg::Election(_) => NOTIFICATION,
        PeerMsg::Quorum(q) => match q {
            QuorumPacket::FollowerInfo { .. } => FOLLOWERINFO,
            QuorumPacket::ObserverInfo { .. } => OBSERVERINFO,
            QuorumPacket::LeaderInfo { .. } => LEADERINFO,
            QuorumPacket::AckEpoch { .. } => ACKEPOCH,
            QuorumPacket::Diff { .. } => DIFF,
            QuorumPacket::Trunc { .. } => TRUNC,
            QuorumPacket::Snap { .. } => SNAP,
            QuorumPacket::SnapPiece { .. } => SNAP_PIECE,
            QuorumPacket::SnapAck => SNAP_ACK,
            QuorumPacket::Proposal(_) => PROPOSAL,
            QuorumPacket::Ack { .. } => ACK,
            QuorumPacket::Commit { .. } => COMMIT,
            QuorumPacket::Inform(_) => INFORM,
            QuorumPacket::NewLeader { .. } => NEWLEADER,
            QuorumPacket::UpToDate { .. } => UPTODATE,
            QuorumPacket::Ping { .. } => PING,
            QuorumPacket::PingReply { .. } => PING_REPLY,
            QuorumPacket::Request { .. } => REQUEST,
            QuorumPacket::Revalidate { .. } => REVALIDATE,
            QuorumPacket::RevalidateReply { .. } => REVALIDATE_REPLY,
            QuorumPacket::Sync { .. } => SYNC,
        },
    }
}

/// Writes a message for another server: its type, then its fields.
pub fn encode_peer_msg(msg: &PeerMsg) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    w.i32(packet_type(msg));
    match msg {
        PeerMsg::Election(n) => {
            w.i64(n.leader.0 as i64)
                .zxid(n.zxid)
                .i64(n.election_epoch as i64)
                .i32(n.peer_epoch as i32)
                .i32(n.state.code())
                .i64(n.sid.0 as i64);
        }
        PeerMsg::Quorum(q) => write_packet(q, &mut w),
    }
    w.into_inner()
}

fn write_packet(q: &QuorumPacket, w: &mut Writer) {
    match q {
        QuorumPacket::FollowerInfo {
            sid,
            accepted_epoch,
        }
        | QuorumPacket::ObserverInfo {
            sid,
            accepted_epoch,
        } => {
            w.i64(sid.0 as i64).i32(*accepted_epoch as i32);
        }
        QuorumPacket::LeaderInfo { new_epoch } => {
            w.i32(*new_epoch as i32);
        }
        QuorumPacket::AckEpoch {
            current_epoch,
            last_zxid,
        } => {
            // A long, so that -1 (ZooKeeper's "already accepted") cannot collide with an epoch.
            w.i64(current_epoch.map_or(-1, i64::from)).zxid(*last_zxid);
        }
        QuorumPacket::Diff { last_zxid, commit } => {
            w.zxid(*last_zxid).zxid(*commit);
        }
        QuorumPacket::Trunc { zxid, commit } => {
            w.zxid(*zxid).zxid(*commit);
        }
        QuorumPacket::Snap { zxid } => {
            w.zxid(*zxid);
        }
        QuorumPacket::SnapPiece { data } => {
            w.buffer(data);
        }
        QuorumPacket::SnapAck => {}
        QuorumPacket::Proposal(e) | QuorumPacket::Inform(e) => encode_txn(e, w),
        QuorumPacket::Ack { zxid }
        | QuorumPacket::Commit { zxid }
        | QuorumPacket::NewLeader { zxid } => {
            w.zxid(*zxid);
        }
        QuorumPacket::UpToDate { commit } => {
            w.zxid(*commit);
        }
        QuorumPacket::Ping { round } => {
            w.i64(*round as i64);
        }
        QuorumPacket::PingReply { round, sessions } => {
            w.i64(*round as i64).i32(sessions.len() as i32);
            for (s, timeout) in sessions {
                w.i64(s.0).i32(*timeout);
            }
        }
        QuorumPacket::Request {
            session,
            cxid,
            op,
            auth,
        } => {
            w.i64(session.0).i32(*cxid);
            match &**op {
                Forwarded::Client(req) => {
                    w.u8(forwarded::CLIENT)
                        .buffer(&proto::encode_request(*cxid, req));
                }
                Forwarded::CreateSession { timeout } => {
                    w.u8(forwarded::CREATE_SESSION).i32(*timeout);
                }
                Forwarded::CloseSession => {
                    w.u8(forwarded::CLOSE_SESSION);
                }
                Forwarded::Sync { path } => {
                    w.u8(forwarded::SYNC).string(path);
                }
            }
            w.i32(auth.len() as i32);
            for id in auth {
                w.id(id);
            }
        }
        QuorumPacket::Revalidate { session, timeout } => {
            w.i64(session.0).i32(*timeout);
        }
        QuorumPacket::RevalidateReply { session, valid } => {
            w.i64(session.0).bool(*valid);
        }
        QuorumPacket::Sync { session, cxid } => {
            w.i64(session.0).i32(*cxid);
        }
    }
}

/// The name of a message type, for errors.
fn type_name(t: i32) -> &'static str {
    use packet::*;
    match t {
        REQUEST => "REQUEST",
        PROPOSAL => "PROPOSAL",
        ACK => "ACK",
        COMMIT => "COMMIT",
        PING => "PING",
        REVALIDATE => "REVALIDATE",
        SYNC => "SYNC",
        INFORM => "INFORM",
        NEWLEADER => "NEWLEADER",
        FOLLOWERINFO => "FOLLOWERINFO",
        UPTODATE => "UPTODATE",
        DIFF => "DIFF",
        TRUNC => "TRUNC",
        SNAP => "SNAP",
        SNAP_PIECE => "SNAPPIECE",
        SNAP_ACK => "SNAPACK",
        OBSERVERINFO => "OBSERVERINFO",
        LEADERINFO => "LEADERINFO",
        ACKEPOCH => "ACKEPOCH",
        PING_REPLY => "PING reply",
        REVALIDATE_REPLY => "REVALIDATE reply",
        NOTIFICATION => "NOTIFICATION",
        _ => "unknown",
    }
}

/// Reads a message written by [`encode_peer_msg`]. `limit` bounds every buffer, string and
/// vector in it (a snapshot piece is one buffer: the limit must let it through).
pub fn decode_peer_msg(bytes: &[u8], limit: usize) -> Result<PeerMsg, CodecError> {
    if bytes.len() < 4 {
        return Err(CodecError::Empty { len: bytes.len() });
    }
    let mut r = Reader::new(bytes, limit);
    let t = r.i32("type").map_err(|error| CodecError::Malformed {
        kind: "peer",
        error,
    })?;
    let kind = type_name(t);
    if kind == "unknown" {
        return Err(CodecError::UnknownType(t));
    }
    let msg = read_msg(&mut r, t, limit).map_err(|e| match e {
        Decode::Jute(error) => CodecError::Malformed { kind, error },
        Decode::Other(e) => e,
    })?;
    if !r.is_empty() {
        return Err(CodecError::TrailingBytes {
            kind,
            left: r.remaining(),
        });
    }
    Ok(msg)
}

/// A field that could not be read (named by the caller with the message type) or anything else.
enum Decode {
    Jute(JuteError),
    Other(CodecError),
}

impl From<JuteError> for Decode {
    fn from(e: JuteError) -> Decode {
        Decode::Jute(e)
    }
}

impl From<CodecError> for Decode {
    fn from(e: CodecError) -> Decode {
        Decode::Other(e)
    }
}

fn read_msg(r: &mut Reader, t: i32, limit: usize) -> Result<PeerMsg, Decode> {
    use packet::*;
    let q = match t {
        NOTIFICATION => {
            let leader = ServerId(r.i64("leader")? as u64);
            let zxid = r.zxid("zxid")?;
            let election_epoch = r.i64("electionEpoch")? as u64;
            let peer_epoch = r.i32("peerEpoch")? as u32;
            let code = r.i32("state")?;
            let state = ServerState::from_code(code).ok_or(CodecError::UnknownState(code))?;
            let sid = ServerId(r.i64("sid")? as u64);
            return Ok(PeerMsg::Election(Notification {
                leader,
                zxid,
                election_epoch,
                peer_epoch,
                state,
                sid,
            }));
        }
        FOLLOWERINFO => QuorumPacket::FollowerInfo {
            sid: ServerId(r.i64("sid")? as u64),
            accepted_epoch: r.i32("acceptedEpoch")? as u32,
        },
        OBSERVERINFO => QuorumPacket::ObserverInfo {
            sid: ServerId(r.i64("sid")? as u64),
            accepted_epoch: r.i32("acceptedEpoch")? as u32,
        },
        LEADERINFO => QuorumPacket::LeaderInfo {
            new_epoch: r.i32("newEpoch")? as u32,
        },
        ACKEPOCH => {
            let e = r.i64("currentEpoch")?;
            let current_epoch = match e {
                -1 => None,
                e => Some(u32::try_from(e).map_err(|_| {
                    JuteError::Invalid(format!("currentEpoch {e} is not an epoch"))
                })?),
            };
            QuorumPacket::AckEpoch {
                current_epoch,
                last_zxid: r.zxid("lastZxid")?,
            }
        }
        DIFF => QuorumPacket::Diff {
            last_zxid: r.zxid("lastZxid")?,
            commit: r.zxid("commit")?,
        },
        TRUNC => QuorumPacket::Trunc {
            zxid: r.zxid("zxid")?,
            commit: r.zxid("commit")?,
        },
        SNAP => QuorumPacket::Snap {
            zxid: r.zxid("zxid")?,
        },
        SNAP_PIECE => QuorumPacket::SnapPiece {
            data: Arc::new(r.buffer("snapshot piece")?),
        },
        SNAP_ACK => QuorumPacket::SnapAck,
        PROPOSAL => QuorumPacket::Proposal(Arc::new(decode_txn(r)?)),
        INFORM => QuorumPacket::Inform(Arc::new(decode_txn(r)?)),
        ACK => QuorumPacket::Ack {
            zxid: r.zxid("zxid")?,
        },
        COMMIT => QuorumPacket::Commit {
            zxid: r.zxid("zxid")?,
        },
        NEWLEADER => QuorumPacket::NewLeader {
            zxid: r.zxid("zxid")?,
        },
        UPTODATE => QuorumPacket::UpToDate {
            commit: r.zxid("commit")?,
        },
        PING => QuorumPacket::Ping {
            round: r.i64("round")? as u64,
        },
        PING_REPLY => {
            let round = r.i64("round")? as u64;
            let n = r.count("sessions", 12)?;
            let mut sessions = Vec::with_capacity(n);
            for _ in 0..n {
                sessions.push((SessionId(r.i64("session")?), r.i32("timeout")?));
            }
            QuorumPacket::PingReply { round, sessions }
        }
        REQUEST => {
            let session = SessionId(r.i64("session")?);
            let cxid = r.i32("cxid")?;
            let op = match r.u8("forwarded kind")? {
                forwarded::CLIENT => {
                    let body = r.buffer_ref("request")?;
                    let (_, req) = proto::decode_request(body, limit).map_err(CodecError::from)?;
                    Forwarded::Client(req)
                }
                forwarded::CREATE_SESSION => Forwarded::CreateSession {
                    timeout: r.i32("timeout")?,
                },
                forwarded::CLOSE_SESSION => Forwarded::CloseSession,
                forwarded::SYNC => Forwarded::Sync {
                    path: r.string("path")?,
                },
                other => return Err(CodecError::UnknownForwarded(other).into()),
            };
            let n = r.count("auth", 8)?;
            let mut auth: Vec<Id> = Vec::with_capacity(n);
            for _ in 0..n {
                auth.push(r.id()?);
            }
            QuorumPacket::Request {
                session,
                cxid,
                op: Box::new(op),
                auth,
            }
        }
        REVALIDATE => QuorumPacket::Revalidate {
            session: SessionId(r.i64("session")?),
            timeout: r.i32("timeout")?,
        },
        REVALIDATE_REPLY => QuorumPacket::RevalidateReply {
            session: SessionId(r.i64("session")?),
            valid: r.bool("valid")?,
        },
        SYNC => QuorumPacket::Sync {
            session: SessionId(r.i64("session")?),
            cxid: r.i32("cxid")?,
        },
        other => return Err(CodecError::UnknownType(other).into()),
    };
    Ok(PeerMsg::Quorum(q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::Acl;
    use crate::request::{CreateRequest, Request};
    use crate::types::Zxid;
    use proptest::collection::vec;
    use proptest::prelude::*;

    const LIMIT: usize = 1 << 20;

    fn entry(session: i64, cxid: i32, zxid: Zxid, time: i64, txn: Txn) -> TxnEntry {
        TxnEntry {
            hdr: TxnHeader {
                session: SessionId(session),
                cxid,
                zxid,
                time,
            },
            txn,
        }
    }

    fn round_trip_txn(e: &TxnEntry) -> TxnEntry {
        let bytes = txn_bytes(e);
        let mut r = Reader::new(&bytes, LIMIT);
        let back = decode_txn(&mut r).unwrap();
        assert!(r.is_empty(), "{} bytes left", r.remaining());
        back
    }

    fn all_txns() -> Vec<Txn> {
        let acl = vec![
            Acl::new(31, Id::anyone()),
            Acl::new(1, Id::new("digest", "bob:xyz")),
        ];
        let simple = vec![
            Txn::Create {
                path: "/a".into(),
                data: Some(b"hello".to_vec()),
                acl: acl.clone(),
                ephemeral: true,
                parent_cversion: 3,
            },
            Txn::Create {
                path: "/null".into(),
                data: None,
                acl: vec![],
                ephemeral: false,
                parent_cversion: -1,
            },
            Txn::CreateContainer {
                path: "/c".into(),
                data: Some(vec![]),
                acl: acl.clone(),
                parent_cversion: 0,
            },
            Txn::CreateTtl {
                path: "/t".into(),
                data: None,
                acl: acl.clone(),
                parent_cversion: 9,
                ttl: 5000,
            },
            Txn::Delete {
                path: "/a".into(),
                container: false,
            },
            Txn::Delete {
                path: "/c".into(),
                container: true,
            },
            Txn::SetData {
                path: "/a".into(),
                data: None,
                version: 4,
            },
            Txn::SetData {
                path: "/a".into(),
                data: Some(vec![]),
                version: -1,
            },
            Txn::SetAcl {
                path: "/a".into(),
                acl,
                version: 2,
            },
            Txn::Check {
                path: "/a".into(),
                version: 7,
            },
            Txn::CreateSession { timeout: 30000 },
            Txn::CloseSession {
                paths_to_delete: vec!["/e1".into(), "/e2".into()],
            },
            Txn::Error {
                err: ErrorCode::NodeExists,
            },
            Txn::Error {
                err: ErrorCode::Unknown(-999),
            },
        ];
        let mut all = simple.clone();
        all.push(Txn::Multi(simple));
        all.push(Txn::Multi(vec![]));
        all
    }

    #[test]
    fn every_txn_round_trips() {
        for (i, txn) in all_txns().into_iter().enumerate() {
            let e = entry(
                0x1234,
                i as i32,
                Zxid::new(2, i as u32 + 1),
                1_700_000_000_000,
                txn,
            );
            assert_eq!(round_trip_txn(&e), e);
        }
    }

    #[test]
    fn txn_header_and_type_are_zookeepers() {
        let e = entry(
            5,
            6,
            Zxid(7),
            8,
            Txn::Delete {
                path: "/x".into(),
                container: true,
            },
        );
        let b = txn_bytes(&e);
        assert_eq!(&b[..8], &5i64.to_be_bytes());
        assert_eq!(&b[8..12], &6i32.to_be_bytes());
        assert_eq!(&b[12..20], &7i64.to_be_bytes());
        assert_eq!(&b[20..28], &8i64.to_be_bytes());
        assert_eq!(&b[28..32], &op::DELETE_CONTAINER.to_be_bytes());
        // Null data is a length of -1, empty data a length of 0.
        let null = txn_bytes(&entry(
            0,
            0,
            Zxid(1),
            0,
            Txn::SetData {
                path: "/".into(),
                data: None,
                version: 0,
            },
        ));
        assert_eq!(&null[32 + 5..32 + 9], &(-1i32).to_be_bytes());
    }

    #[test]
    fn nested_multi_and_unknown_types_are_refused() {
        let nested = entry(0, 0, Zxid(1), 0, Txn::Multi(vec![Txn::Multi(vec![])]));
        let b = txn_bytes(&nested);
        let err = decode_txn(&mut Reader::new(&b, LIMIT)).unwrap_err();
        assert!(err.to_string().contains("multi inside a multi"), "{err}");
        let mut b = txn_bytes(&entry(0, 0, Zxid(1), 0, Txn::CreateSession { timeout: 1 }));
        b[28..32].copy_from_slice(&999i32.to_be_bytes());
        let err = decode_txn(&mut Reader::new(&b, LIMIT)).unwrap_err();
        assert!(err.to_string().contains("999"), "{err}");
    }

    fn all_msgs() -> Vec<PeerMsg> {
        let e = entry(
            9,
            1,
            Zxid::new(3, 4),
            10,
            Txn::SetData {
                path: "/p".into(),
                data: Some(b"v".to_vec()),
                version: 1,
            },
        );
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
        let mut msgs = Vec::new();
        for state in [
            ServerState::Looking,
            ServerState::Following,
            ServerState::Leading,
            ServerState::Observing,
            ServerState::Standalone,
        ] {
            msgs.push(PeerMsg::Election(Notification {
                leader: ServerId(3),
                zxid: Zxid::new(1, 7),
                election_epoch: u64::MAX,
                peer_epoch: u32::MAX,
                state,
                sid: ServerId(2),
            }));
        }
        let packets = vec![
            QuorumPacket::FollowerInfo {
                sid: ServerId(2),
                accepted_epoch: 4,
            },
            QuorumPacket::ObserverInfo {
                sid: ServerId(5),
                accepted_epoch: 0,
            },
            QuorumPacket::LeaderInfo { new_epoch: 5 },
            QuorumPacket::AckEpoch {
                current_epoch: Some(4),
                last_zxid: Zxid::new(4, 9),
            },
            QuorumPacket::AckEpoch {
                current_epoch: Some(u32::MAX),
                last_zxid: Zxid::ZERO,
            },
            QuorumPacket::AckEpoch {
                current_epoch: None,
                last_zxid: Zxid::new(4, 9),
            },
            QuorumPacket::Diff {
                last_zxid: Zxid::new(4, 9),
                commit: Zxid::new(4, 8),
            },
            QuorumPacket::Trunc {
                zxid: Zxid::new(4, 2),
                commit: Zxid::new(4, 1),
            },
            QuorumPacket::Snap {
                zxid: Zxid::new(4, 9),
            },
            QuorumPacket::SnapPiece {
                data: Arc::new(crate::snapshot::serialize(&Default::default())),
            },
            QuorumPacket::SnapAck,
            QuorumPacket::Proposal(Arc::new(e.clone())),
            QuorumPacket::Ack { zxid: Zxid(1) },
            QuorumPacket::Commit { zxid: Zxid(2) },
            QuorumPacket::Inform(Arc::new(e)),
            QuorumPacket::NewLeader {
                zxid: Zxid::new(5, 0),
            },
            QuorumPacket::UpToDate {
                commit: Zxid::new(4, 9),
            },
            QuorumPacket::Ping { round: 77 },
            QuorumPacket::PingReply {
                round: 77,
                sessions: vec![(SessionId(1), 4000), (SessionId(-2), 6000)],
            },
            QuorumPacket::PingReply {
                round: 0,
                sessions: vec![],
            },
            QuorumPacket::Request {
                session: SessionId(0x100),
                cxid: 3,
                op: Box::new(Forwarded::Client(create)),
                auth: vec![Id::new("digest", "bob:hash"), Id::new("ip", "10.0.0.1")],
            },
            QuorumPacket::Request {
                session: SessionId(0x100),
                cxid: 4,
                op: Box::new(Forwarded::Client(multi)),
                auth: vec![],
            },
            QuorumPacket::Request {
                session: SessionId(0x101),
                cxid: 0,
                op: Box::new(Forwarded::CreateSession { timeout: 30000 }),
                auth: vec![],
            },
            QuorumPacket::Request {
                session: SessionId(0x101),
                cxid: 5,
                op: Box::new(Forwarded::CloseSession),
                auth: vec![],
            },
            QuorumPacket::Request {
                session: SessionId(0x101),
                cxid: 6,
                op: Box::new(Forwarded::Sync { path: "/a".into() }),
                auth: vec![],
            },
            QuorumPacket::Revalidate {
                session: SessionId(0x101),
                timeout: 4000,
            },
            QuorumPacket::RevalidateReply {
                session: SessionId(0x101),
                valid: true,
            },
            QuorumPacket::RevalidateReply {
                session: SessionId(0x102),
                valid: false,
            },
            QuorumPacket::Sync {
                session: SessionId(0x101),
                cxid: 6,
            },
        ];
        msgs.extend(packets.into_iter().map(PeerMsg::Quorum));
        msgs
    }

    #[test]
    fn every_peer_msg_round_trips() {
        let msgs = all_msgs();
        let mut kinds: Vec<i32> = Vec::new();
        for m in &msgs {
            let b = encode_peer_msg(m);
            assert_eq!(&decode_peer_msg(&b, LIMIT).unwrap(), m, "{}", m.kind());
            kinds.push(packet_type(m));
        }
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), 22, "every message type is exercised");
    }

    #[test]
    fn packet_types_are_zookeepers() {
        let b = encode_peer_msg(&PeerMsg::Quorum(QuorumPacket::Commit { zxid: Zxid(1) }));
        assert_eq!(&b[..4], &4i32.to_be_bytes());
        let b = encode_peer_msg(&PeerMsg::Quorum(QuorumPacket::AckEpoch {
            current_epoch: None,
            last_zxid: Zxid(1),
        }));
        assert_eq!(&b[..4], &18i32.to_be_bytes());
    }

    #[test]
    fn bad_peer_msgs_are_named() {
        assert_eq!(
            decode_peer_msg(&[0, 0], LIMIT),
            Err(CodecError::Empty { len: 2 })
        );
        assert_eq!(
            decode_peer_msg(&99i32.to_be_bytes(), LIMIT),
            Err(CodecError::UnknownType(99))
        );
        let mut b = encode_peer_msg(&PeerMsg::Quorum(QuorumPacket::Ack { zxid: Zxid(1) }));
        b.push(0);
        assert_eq!(
            decode_peer_msg(&b, LIMIT),
            Err(CodecError::TrailingBytes {
                kind: "ACK",
                left: 1
            })
        );
        let b = encode_peer_msg(&PeerMsg::Quorum(QuorumPacket::Ack { zxid: Zxid(1) }));
        let err = decode_peer_msg(&b[..8], LIMIT).unwrap_err();
        assert!(
            matches!(err, CodecError::Malformed { kind: "ACK", .. }),
            "{err}"
        );
        let snap = PeerMsg::Quorum(QuorumPacket::SnapPiece {
            data: Arc::new(vec![0; 100]),
        });
        let err = decode_peer_msg(&encode_peer_msg(&snap), 50).unwrap_err();
        assert!(err.to_string().contains("over the limit"), "{err}");
    }

    fn path() -> impl Strategy<Value = String> {
        "(/[a-z0-9]{1,6}){1,3}"
    }

    fn data() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(vec(any::<u8>(), 0..16))
    }

    fn acls() -> impl Strategy<Value = Vec<Acl>> {
        vec(
            (any::<i32>(), "[a-z]{0,6}", "[a-z:0-9]{0,10}")
                .prop_map(|(p, s, i)| Acl::new(p, Id::new(s, i))),
            0..3,
        )
    }

    fn simple_txn() -> impl Strategy<Value = Txn> {
        prop_oneof![
            (path(), data(), acls(), any::<bool>(), any::<i32>()).prop_map(
                |(path, data, acl, ephemeral, parent_cversion)| Txn::Create {
                    path,
                    data,
                    acl,
                    ephemeral,
                    parent_cversion
                }
            ),
            (path(), data(), acls(), any::<i32>()).prop_map(
                |(path, data, acl, parent_cversion)| Txn::CreateContainer {
                    path,
                    data,
                    acl,
                    parent_cversion
                }
            ),
            (path(), data(), acls(), any::<i32>(), any::<i64>()).prop_map(
                |(path, data, acl, parent_cversion, ttl)| Txn::CreateTtl {
                    path,
                    data,
                    acl,
                    parent_cversion,
                    ttl
                }
            ),
            (path(), any::<bool>()).prop_map(|(path, container)| Txn::Delete { path, container }),
            (path(), data(), any::<i32>()).prop_map(|(path, data, version)| Txn::SetData {
                path,
                data,
                version
            }),
            (path(), acls(), any::<i32>()).prop_map(|(path, acl, version)| Txn::SetAcl {
                path,
                acl,
                version
            }),
            (path(), any::<i32>()).prop_map(|(path, version)| Txn::Check { path, version }),
            any::<i32>().prop_map(|timeout| Txn::CreateSession { timeout }),
            vec(path(), 0..4).prop_map(|paths_to_delete| Txn::CloseSession { paths_to_delete }),
            // Through from_code, so that a known code is never an `Unknown`.
            any::<i32>().prop_map(|c| Txn::Error {
                err: ErrorCode::from_code(c)
            }),
        ]
    }

    /// Any transaction: a simple one or a multi of simple ones (ZooKeeper does not nest multis).
    fn arb_txn() -> impl Strategy<Value = Txn> {
        prop_oneof![
            4 => simple_txn(),
            1 => vec(simple_txn(), 0..5).prop_map(Txn::Multi),
        ]
    }

    fn arb_entry() -> impl Strategy<Value = TxnEntry> {
        (
            any::<i64>(),
            any::<i32>(),
            any::<u64>(),
            any::<i64>(),
            arb_txn(),
        )
            .prop_map(|(s, cxid, z, time, txn)| entry(s, cxid, Zxid(z), time, txn))
    }

    proptest! {
        #[test]
        fn arbitrary_entries_round_trip(e in arb_entry()) {
            prop_assert_eq!(round_trip_txn(&e), e);
        }

        #[test]
        fn arbitrary_proposals_round_trip(e in arb_entry(), inform in any::<bool>()) {
            let p = if inform { QuorumPacket::Inform(Arc::new(e)) } else { QuorumPacket::Proposal(Arc::new(e)) };
            let m = PeerMsg::Quorum(p);
            prop_assert_eq!(decode_peer_msg(&encode_peer_msg(&m), LIMIT).unwrap(), m);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
            let _ = decode_txn(&mut Reader::new(&bytes, LIMIT));
            let _ = decode_peer_msg(&bytes, LIMIT);
        }

        #[test]
        fn every_type_with_arbitrary_fields_never_panics(
            t in prop::sample::select(vec![1i32, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 21, 100]),
            tail in vec(any::<u8>(), 0..128),
        ) {
            let mut bytes = t.to_be_bytes().to_vec();
            bytes.extend_from_slice(&tail);
            let _ = decode_peer_msg(&bytes, LIMIT);
        }

        #[test]
        fn damaged_encodings_never_panic(e in arb_entry(), at in any::<prop::sample::Index>(), x in 1u8..) {
            let mut b = txn_bytes(&e);
            let i = at.index(b.len());
            b[i] ^= x;
            let _ = decode_txn(&mut Reader::new(&b, LIMIT));
            let m = encode_peer_msg(&PeerMsg::Quorum(QuorumPacket::Proposal(Arc::new(e))));
            for cut in [0, 1, 4, m.len() / 2, m.len() - 1] {
                prop_assert!(decode_peer_msg(&m[..cut], LIMIT).is_err());
            }
        }
    }
}
