//! ZooKeeper's client wire protocol: framing, the connect handshake, requests, replies and watch
//! notifications, as jute records ([`crate::jute`]) byte for byte as ZooKeeper 3.8 writes them.
//!
//! ## The conversation on the client port
//!
//! ```text
//!   client                                              server
//!   len ConnectRequest [readOnly]            ──▶
//!                                            ◀──  len ConnectResponse [readOnly]
//!   len RequestHeader{xid, type} body        ──▶
//!                                            ◀──  len ReplyHeader{xid, zxid, err} body
//!                                            ◀──  len ReplyHeader{-1, -1, 0} WatcherEvent
//! ```
//!
//! Every message is a 4-byte big-endian length and that many bytes ([`frame`], [`split_frame`]).
//! The connect messages have no header; the `readOnly` byte at their end is optional (clients
//! and servers older than 3.4 leave it out), and the server answers in kind: it appends the byte
//! to its `ConnectResponse` only when the client's `ConnectRequest` carried one.
//!
//! Every decoder here reads what it needs and ignores the rest of the frame, as ZooKeeper does, and
//! none of them panics, whatever the bytes. Strings are read as Java reads them: invalid UTF-8
//! becomes U+FFFD (which path validation then refuses) rather than an error; a null string or
//! buffer (length -1) reads as empty, and a vector with any negative count reads as empty.

use crate::acl::{Acl, Id};
use crate::error::ErrorCode;
use crate::jute::{JuteError, JuteResult, Reader, Writer};
use crate::request::{
    op_name, ClientInfo, ConnectRequest, ConnectResponse, CreateRequest, EventType, KeeperState,
    OpResult, Reply, Request, Response, SetWatches, WatchedEvent,
};
use crate::txn::op;
use crate::types::{SessionId, Zxid};

/// ZooKeeper's default `jute.maxbuffer`: the largest frame a server accepts, and the default for
/// the `max` of [`split_frame`].
pub const DEFAULT_MAX_BUFFER: usize = 0xfffff;

/// The bytes of a serialized `Stat`.
const STAT_LEN: usize = 68;

/// What was wrong with a message that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// A frame announced a negative length. ZooKeeper closes the connection ("Len error").
    #[error("Len error: a message with advertised length of {len} is malformed (negative length)")]
    NegativeFrameLength { len: i32 },
    /// A frame announced more than `jute.maxbuffer` bytes. ZooKeeper closes the connection.
    #[error(
        "Len error: a message with advertised length of {len} is either a malformed message or too large to \
         process (length is greater than jute.maxbuffer={max})"
    )]
    FrameTooLong { len: i32, max: usize },
    /// A record was truncated, or a length in it was negative or too long; the field is named.
    #[error(transparent)]
    Jute(#[from] JuteError),
    /// The body of a request could not be read. The header was, so the server can answer `xid`
    /// (ZooKeeper answers such a request with MarshallingError, except for auth, whose failure
    /// closes the connection).
    #[error("cannot decode {name} request (opcode {op}, xid {xid}): {error}")]
    Request {
        xid: i32,
        op: i32,
        name: &'static str,
        error: Box<ProtoError>,
    },
    /// An operation that may not appear in a multi (or multiRead).
    #[error("opcode {op} ({name}) is not allowed in {container} (operation #{index})")]
    OpNotAllowed {
        container: &'static str,
        op: i32,
        name: &'static str,
        index: usize,
    },
    /// A `MultiResponse` result of a type that has no result record.
    #[error("invalid type {op} in MultiResponse (result #{index})")]
    BadMultiResult { op: i32, index: usize },
    /// A `WatcherEvent.type` that is not an event type.
    #[error("WatcherEvent.type {0} is not an event type")]
    UnknownEventType(i32),
    /// A `WatcherEvent.state` that is not a keeper state.
    #[error("WatcherEvent.state {0} is not a keeper state")]
    UnknownKeeperState(i32),
    /// A message decoded as a notification whose header is not a notification's.
    #[error("not a notification: ReplyHeader.xid is {xid}, a notification's is -1")]
    NotANotification { xid: i32 },
}

impl ProtoError {
    /// The xid and opcode of the request whose body could not be read, when its header could.
    pub fn request_header(&self) -> Option<RequestHeader> {
        match self {
            ProtoError::Request { xid, op, .. } => Some(RequestHeader { xid: *xid, op: *op }),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Framing

/// A frame: the 4-byte big-endian length of `body`, then `body`.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 4);
    frame_into(&mut out, body);
    out
}

/// Appends a frame of `body` to `out` (a connection's send buffer).
pub fn frame_into(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as i32).to_be_bytes());
    out.extend_from_slice(body);
}

/// The length the first four bytes of `buf` announce, if there are four. A server looks at this
/// before [`split_frame`] on a connection's first message: ZooKeeper takes a first "length" that
/// spells a four-letter word (`ruok`, `stat`, ...) as that command.
pub fn peek_frame_len(buf: &[u8]) -> Option<i32> {
    let b: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

/// Splits the first frame off `buf`: `Some((bytes the frame takes, prefix included, body))`, or
/// `None` when more bytes are needed. A negative length or one over `max` (`jute.maxbuffer`) is an
/// error as soon as the four length bytes are there, before any of the body.
pub fn split_frame(buf: &[u8], max: usize) -> Result<Option<(usize, &[u8])>, ProtoError> {
    let Some(len) = peek_frame_len(buf) else {
        return Ok(None);
    };
    if len < 0 {
        return Err(ProtoError::NegativeFrameLength { len });
    }
    if len as usize > max {
        return Err(ProtoError::FrameTooLong { len, max });
    }
    let total = 4 + len as usize;
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some((total, &buf[4..total])))
}

// ---------------------------------------------------------------------------------------------
// Reading helpers: Java's reading of strings and vectors

/// A `ustring` read as `BinaryInputArchive` reads it: null as empty, invalid UTF-8 replaced.
fn ustring(r: &mut Reader<'_>, what: &'static str) -> JuteResult<String> {
    Ok(String::from_utf8_lossy(r.buffer_ref(what)?).into_owned())
}

/// A `ustring` that may be null.
fn opt_ustring(r: &mut Reader<'_>, what: &'static str) -> JuteResult<Option<String>> {
    Ok(r.opt_buffer(what)?.map(|b| match String::from_utf8(b) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }))
}

/// A vector's element count: -1 (null) and, as in Java, any other negative count read as empty.
/// A count whose elements cannot fit in the bytes left is refused before anything is allocated.
fn vec_len(r: &mut Reader<'_>, what: &'static str, min_elem: usize) -> JuteResult<usize> {
    let n = r.i32(what)?;
    if n < 0 {
        return Ok(0);
    }
    let needed = (n as usize).saturating_mul(min_elem.max(1));
    if needed > r.remaining() {
        return Err(JuteError::Truncated {
            what,
            needed,
            left: r.remaining(),
        });
    }
    Ok(n as usize)
}

fn ustrings(r: &mut Reader<'_>, what: &'static str) -> JuteResult<Vec<String>> {
    let n = vec_len(r, what, 4)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(ustring(r, what)?);
    }
    Ok(v)
}

fn acls(r: &mut Reader<'_>, what: &'static str) -> JuteResult<Vec<Acl>> {
    let n = vec_len(r, what, 12)?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let perms = r.i32("ACL.perms")?;
        let scheme = ustring(r, "Id.scheme")?;
        let id = ustring(r, "Id.id")?;
        v.push(Acl {
            perms,
            id: Id { scheme, id },
        });
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------------------
// Connect

/// Reads a `ConnectRequest` and the optional `readOnly` byte after it (`None` when the client left
/// it out; the server must then leave it out of its answer too).
pub fn decode_connect_request(body: &[u8], limit: usize) -> Result<ConnectRequest, ProtoError> {
    let mut r = Reader::new(body, limit);
    let protocol_version = r.i32("ConnectRequest.protocolVersion")?;
    let last_zxid_seen = r.zxid("ConnectRequest.lastZxidSeen")?;
    let timeout = r.i32("ConnectRequest.timeOut")?;
    let session_id = SessionId(r.i64("ConnectRequest.sessionId")?);
    let passwd = r.buffer("ConnectRequest.passwd")?;
    let read_only = if r.is_empty() {
        None
    } else {
        Some(r.bool("readOnly")?)
    };
    Ok(ConnectRequest {
        protocol_version,
        last_zxid_seen,
        timeout,
        session_id,
        passwd,
        read_only,
    })
}

/// Writes a `ConnectRequest`, with the `readOnly` byte when `req.read_only` is `Some`.
pub fn encode_connect_request(req: &ConnectRequest) -> Vec<u8> {
    let mut w = Writer::with_capacity(45 + req.passwd.len());
    w.i32(req.protocol_version)
        .zxid(req.last_zxid_seen)
        .i32(req.timeout)
        .i64(req.session_id.0)
        .buffer(&req.passwd);
    if let Some(ro) = req.read_only {
        w.bool(ro);
    }
    w.into_inner()
}

/// Writes a `ConnectResponse`, followed by the `readOnly` byte when `include_read_only` — which
/// ZooKeeper does exactly when the client's `ConnectRequest` carried one.
pub fn encode_connect_response(rsp: &ConnectResponse, include_read_only: bool) -> Vec<u8> {
    let mut w = Writer::with_capacity(37 + rsp.passwd.len());
    w.i32(rsp.protocol_version)
        .i32(rsp.timeout)
        .i64(rsp.session_id.0)
        .buffer(&rsp.passwd);
    if include_read_only {
        w.bool(rsp.read_only);
    }
    w.into_inner()
}

/// Reads a `ConnectResponse`; a missing `readOnly` byte (an old server) reads as `false`.
pub fn decode_connect_response(body: &[u8], limit: usize) -> Result<ConnectResponse, ProtoError> {
    let mut r = Reader::new(body, limit);
    let protocol_version = r.i32("ConnectResponse.protocolVersion")?;
    let timeout = r.i32("ConnectResponse.timeOut")?;
    let session_id = SessionId(r.i64("ConnectResponse.sessionId")?);
    let passwd = r.buffer("ConnectResponse.passwd")?;
    let read_only = if r.is_empty() {
        false
    } else {
        r.bool("readOnly")?
    };
    Ok(ConnectResponse {
        protocol_version,
        timeout,
        session_id,
        passwd,
        read_only,
    })
}

// ---------------------------------------------------------------------------------------------
// Requests

/// `RequestHeader`: the client's request number and the opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    pub xid: i32,
    pub op: i32,
}

/// Reads only the `RequestHeader` of a request.
pub fn decode_request_header(body: &[u8]) -> Result<RequestHeader, ProtoError> {
    let mut r = Reader::new(body, 0);
    let xid = r.i32("RequestHeader.xid")?;
    let op = r.i32("RequestHeader.type")?;
    Ok(RequestHeader { xid, op })
}

/// Reads a request: its header and the body its opcode calls for. SASL and opcodes this server
/// does not serve (unknown ones, and createSession / deleteContainer, which only servers send)
/// decode as [`Request::Unsupported`]. A body that cannot be read is a [`ProtoError::Request`]
/// carrying the xid.
pub fn decode_request(body: &[u8], limit: usize) -> Result<(i32, Request), ProtoError> {
    let mut r = Reader::new(body, limit);
    let xid = r.i32("RequestHeader.xid")?;
    let code = r.i32("RequestHeader.type")?;
    match read_request_body(&mut r, code) {
        Ok(req) => Ok((xid, req)),
        Err(e) => Err(ProtoError::Request {
            xid,
            op: code,
            name: op_name(code),
            error: Box::new(e),
        }),
    }
}

fn read_create(r: &mut Reader<'_>, ttl: bool) -> JuteResult<CreateRequest> {
    if ttl {
        Ok(CreateRequest {
            path: ustring(r, "CreateTTLRequest.path")?,
            data: r.opt_buffer("CreateTTLRequest.data")?,
            acl: acls(r, "CreateTTLRequest.acl")?,
            flags: r.i32("CreateTTLRequest.flags")?,
            ttl: r.i64("CreateTTLRequest.ttl")?,
        })
    } else {
        Ok(CreateRequest {
            path: ustring(r, "CreateRequest.path")?,
            data: r.opt_buffer("CreateRequest.data")?,
            acl: acls(r, "CreateRequest.acl")?,
            flags: r.i32("CreateRequest.flags")?,
            ttl: -1,
        })
    }
}

fn read_request_body(r: &mut Reader<'_>, code: i32) -> Result<Request, ProtoError> {
    Ok(match code {
        op::CREATE | op::CREATE2 | op::CREATE_CONTAINER => Request::Create {
            op: code,
            req: read_create(r, false)?,
        },
        op::CREATE_TTL => Request::Create {
            op: code,
            req: read_create(r, true)?,
        },
        op::DELETE => Request::Delete {
            path: ustring(r, "DeleteRequest.path")?,
            version: r.i32("DeleteRequest.version")?,
        },
        op::EXISTS => Request::Exists {
            path: ustring(r, "ExistsRequest.path")?,
            watch: r.bool("ExistsRequest.watch")?,
        },
        op::GET_DATA => Request::GetData {
            path: ustring(r, "GetDataRequest.path")?,
            watch: r.bool("GetDataRequest.watch")?,
        },
        op::SET_DATA => Request::SetData {
            path: ustring(r, "SetDataRequest.path")?,
            data: r.opt_buffer("SetDataRequest.data")?,
            version: r.i32("SetDataRequest.version")?,
        },
        op::GET_ACL => Request::GetAcl {
            path: ustring(r, "GetACLRequest.path")?,
        },
        op::SET_ACL => Request::SetAcl {
            path: ustring(r, "SetACLRequest.path")?,
            acl: acls(r, "SetACLRequest.acl")?,
            version: r.i32("SetACLRequest.version")?,
        },
        op::GET_CHILDREN => Request::GetChildren {
            path: ustring(r, "GetChildrenRequest.path")?,
            watch: r.bool("GetChildrenRequest.watch")?,
        },
        op::GET_CHILDREN2 => Request::GetChildren2 {
            path: ustring(r, "GetChildren2Request.path")?,
            watch: r.bool("GetChildren2Request.watch")?,
        },
        op::SYNC => Request::Sync {
            path: ustring(r, "SyncRequest.path")?,
        },
        op::CHECK => Request::Check {
            path: ustring(r, "CheckVersionRequest.path")?,
            version: r.i32("CheckVersionRequest.version")?,
        },
        op::MULTI => Request::Multi(read_multi(r, code)?),
        op::MULTI_READ => Request::MultiRead(read_multi(r, code)?),
        op::RECONFIG => Request::Reconfig {
            joining: opt_ustring(r, "ReconfigRequest.joiningServers")?,
            leaving: opt_ustring(r, "ReconfigRequest.leavingServers")?,
            new_members: opt_ustring(r, "ReconfigRequest.newMembers")?,
            cur_config_id: r.i64("ReconfigRequest.curConfigId")?,
        },
        op::CHECK_WATCHES => Request::CheckWatches {
            path: ustring(r, "CheckWatchesRequest.path")?,
            watcher_type: r.i32("CheckWatchesRequest.type")?,
        },
        op::REMOVE_WATCHES => Request::RemoveWatches {
            path: ustring(r, "RemoveWatchesRequest.path")?,
            watcher_type: r.i32("RemoveWatchesRequest.type")?,
        },
        op::SASL => Request::Sasl {
            token: r.opt_buffer("GetSASLRequest.token")?.unwrap_or_default(),
        },
        op::AUTH => Request::Auth {
            auth_type: r.i32("AuthPacket.type")?,
            scheme: ustring(r, "AuthPacket.scheme")?,
            auth: r.buffer("AuthPacket.auth")?,
        },
        op::SET_WATCHES => Request::SetWatches {
            v2: false,
            watches: SetWatches {
                relative_zxid: r.zxid("SetWatches.relativeZxid")?,
                data: ustrings(r, "SetWatches.dataWatches")?,
                exist: ustrings(r, "SetWatches.existWatches")?,
                child: ustrings(r, "SetWatches.childWatches")?,
                persistent: Vec::new(),
                persistent_recursive: Vec::new(),
            },
        },
        op::SET_WATCHES2 => Request::SetWatches {
            v2: true,
            watches: SetWatches {
                relative_zxid: r.zxid("SetWatches2.relativeZxid")?,
                data: ustrings(r, "SetWatches2.dataWatches")?,
                exist: ustrings(r, "SetWatches2.existWatches")?,
                child: ustrings(r, "SetWatches2.childWatches")?,
                persistent: ustrings(r, "SetWatches2.persistentWatches")?,
                persistent_recursive: ustrings(r, "SetWatches2.persistentRecursiveWatches")?,
            },
        },
        op::GET_EPHEMERALS => Request::GetEphemerals {
            prefix: ustring(r, "GetEphemeralsRequest.prefixPath")?,
        },
        op::GET_ALL_CHILDREN_NUMBER => Request::GetAllChildrenNumber {
            path: ustring(r, "GetAllChildrenNumberRequest.path")?,
        },
        op::ADD_WATCH => Request::AddWatch {
            path: ustring(r, "AddWatchRequest.path")?,
            mode: r.i32("AddWatchRequest.mode")?,
        },
        op::WHO_AM_I => Request::WhoAmI,
        op::PING => Request::Ping,
        op::CLOSE_SESSION => Request::CloseSession,
        _ => Request::Unsupported { op: code },
    })
}

/// `MultiHeader{type, done, err}`.
fn read_multi_header(r: &mut Reader<'_>) -> JuteResult<(i32, bool, i32)> {
    let t = r.i32("MultiHeader.type")?;
    let done = r.bool("MultiHeader.done")?;
    let err = r.i32("MultiHeader.err")?;
    Ok((t, done, err))
}

fn write_multi_header(w: &mut Writer, t: i32, done: bool, err: i32) {
    w.i32(t).bool(done).i32(err);
}

/// A `MultiOperationRecord`: ops until a header with `done` set.
fn read_multi(r: &mut Reader<'_>, container: i32) -> Result<Vec<Request>, ProtoError> {
    let mut ops = Vec::new();
    loop {
        let (t, done, _) = read_multi_header(r)?;
        if done {
            return Ok(ops);
        }
        let allowed = if container == op::MULTI {
            matches!(
                t,
                op::CREATE
                    | op::CREATE2
                    | op::CREATE_CONTAINER
                    | op::CREATE_TTL
                    | op::DELETE
                    | op::SET_DATA
                    | op::CHECK
            )
        } else {
            matches!(t, op::GET_CHILDREN | op::GET_DATA)
        };
        if !allowed {
            return Err(ProtoError::OpNotAllowed {
                container: op_name(container),
                op: t,
                name: op_name(t),
                index: ops.len(),
            });
        }
        ops.push(read_request_body(r, t)?);
    }
}

/// The body of a request without its header, as a learner forwards it in a REQUEST packet.
pub fn encode_request_body(req: &Request) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    write_request_body(&mut w, req);
    w.into_inner()
}

/// Reads the body of a request whose opcode came separately (a REQUEST packet from a learner).
/// Bytes after the record are ignored, as ZooKeeper's leader ignores them.
pub fn decode_request_body(body: &[u8], code: i32, limit: usize) -> Result<Request, ProtoError> {
    let mut r = Reader::new(body, limit);
    read_request_body(&mut r, code)
}

/// Writes a request: `RequestHeader{xid, opcode}` and its body. Nothing is checked: an op that
/// may not be in a multi is written all the same (and the server refuses it), SetWatches (v1)
/// leaves out the persistent lists, and [`Request::Unsupported`] has no body.
pub fn encode_request(xid: i32, req: &Request) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    w.i32(xid).i32(req.op_code());
    write_request_body(&mut w, req);
    w.into_inner()
}

fn write_request_body(w: &mut Writer, req: &Request) {
    match req {
        Request::Create { op: code, req: c } => {
            w.string(&c.path)
                .opt_buffer(c.data.as_deref())
                .acls(&c.acl)
                .i32(c.flags);
            if *code == op::CREATE_TTL {
                w.i64(c.ttl);
            }
        }
        Request::Delete { path, version } | Request::Check { path, version } => {
            w.string(path).i32(*version);
        }
        Request::Exists { path, watch }
        | Request::GetData { path, watch }
        | Request::GetChildren { path, watch }
        | Request::GetChildren2 { path, watch } => {
            w.string(path).bool(*watch);
        }
        Request::SetData {
            path,
            data,
            version,
        } => {
            w.string(path).opt_buffer(data.as_deref()).i32(*version);
        }
        Request::GetAcl { path }
        | Request::Sync { path }
        | Request::GetAllChildrenNumber { path } => {
            w.string(path);
        }
        Request::GetEphemerals { prefix } => {
            w.string(prefix);
        }
        Request::SetAcl { path, acl, version } => {
            w.string(path).acls(acl).i32(*version);
        }
        Request::Multi(ops) | Request::MultiRead(ops) => {
            for o in ops {
                write_multi_header(w, o.op_code(), false, -1);
                write_request_body(w, o);
            }
            write_multi_header(w, -1, true, -1);
        }
        Request::AddWatch { path, mode } => {
            w.string(path).i32(*mode);
        }
        Request::CheckWatches { path, watcher_type }
        | Request::RemoveWatches { path, watcher_type } => {
            w.string(path).i32(*watcher_type);
        }
        Request::SetWatches { v2, watches: s } => {
            w.zxid(s.relative_zxid)
                .strings(&s.data)
                .strings(&s.exist)
                .strings(&s.child);
            if *v2 {
                w.strings(&s.persistent).strings(&s.persistent_recursive);
            }
        }
        Request::Auth {
            auth_type,
            scheme,
            auth,
        } => {
            w.i32(*auth_type).string(scheme).buffer(auth);
        }
        Request::Reconfig {
            joining,
            leaving,
            new_members,
            cur_config_id,
        } => {
            w.opt_string(joining.as_deref())
                .opt_string(leaving.as_deref())
                .opt_string(new_members.as_deref())
                .i64(*cur_config_id);
        }
        Request::Sasl { token } => {
            w.buffer(token);
        }
        Request::WhoAmI
        | Request::Ping
        | Request::CloseSession
        | Request::Unsupported { .. }
        | Request::Malformed { .. } => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

/// `ReplyHeader`: the xid answered (-1 for a notification, -2 for a ping), the server's last
/// zxid, and the error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: Zxid,
    pub err: ErrorCode,
}

fn read_reply_header(r: &mut Reader<'_>) -> JuteResult<ReplyHeader> {
    let xid = r.i32("ReplyHeader.xid")?;
    let zxid = r.zxid("ReplyHeader.zxid")?;
    let err = ErrorCode::from_code(r.i32("ReplyHeader.err")?);
    Ok(ReplyHeader { xid, zxid, err })
}

/// Reads only the `ReplyHeader` of a message from the server: a client looks at its xid to tell
/// a notification (-1) from a ping's answer (-2) from the answer to one of its requests.
pub fn decode_reply_header(body: &[u8]) -> Result<ReplyHeader, ProtoError> {
    Ok(read_reply_header(&mut Reader::new(body, 0))?)
}

/// Writes a reply: `ReplyHeader` and the body ([`Response::Empty`] writes none).
pub fn encode_reply(reply: &Reply) -> Vec<u8> {
    let mut w = Writer::with_capacity(16 + body_size_hint(&reply.body));
    w.i32(reply.xid).zxid(reply.zxid).i32(reply.err.code());
    write_response_body(&mut w, &reply.body);
    w.into_inner()
}

fn body_size_hint(b: &Response) -> usize {
    match b {
        Response::Empty => 0,
        Response::GetData { data, .. } => data.as_ref().map_or(0, |d| d.len()) + 4 + STAT_LEN,
        Response::Reconfig { data, .. } => data.len() + 4 + STAT_LEN,
        _ => 128,
    }
}

fn write_response_body(w: &mut Writer, body: &Response) {
    match body {
        Response::Empty => {}
        Response::Create { path } | Response::Sync { path } => {
            w.string(path);
        }
        Response::Create2 { path, stat } => {
            w.string(path).stat(stat);
        }
        Response::Stat(stat) => {
            w.stat(stat);
        }
        Response::GetData { data, stat } => {
            w.opt_buffer(data.as_deref()).stat(stat);
        }
        Response::Reconfig { data, stat } => {
            w.buffer(data).stat(stat);
        }
        Response::GetAcl { acl, stat } => {
            w.acls(acl).stat(stat);
        }
        Response::GetChildren { children } | Response::Ephemerals(children) => {
            w.strings(children);
        }
        Response::GetChildren2 { children, stat } => {
            w.strings(children).stat(stat);
        }
        Response::Multi(results) => {
            for res in results {
                write_op_result(w, res);
            }
            write_multi_header(w, -1, true, -1);
        }
        Response::AllChildrenNumber(n) | Response::ErrorResponse(n) => {
            w.i32(*n);
        }
        Response::Sasl(token) => {
            w.opt_buffer(token.as_deref());
        }
        Response::WhoAmI(infos) => {
            w.i32(infos.len() as i32);
            for i in infos {
                w.string(&i.auth_scheme).string(&i.user);
            }
        }
    }
}

/// One result of a `MultiResponse`: `MultiHeader{type, false, err}` and the result record. A
/// plain create's result travels as `create` (path only), every other create's as `create2`
/// (path and stat), as `OpResult.CreateResult` has it; an error as type -1 with its code twice.
fn write_op_result(w: &mut Writer, res: &OpResult) {
    match res {
        OpResult::Create {
            op: code,
            path,
            stat,
        } => {
            if *code == op::CREATE {
                write_multi_header(w, op::CREATE, false, 0);
                w.string(path);
            } else {
                write_multi_header(w, op::CREATE2, false, 0);
                w.string(path).stat(&stat.unwrap_or_default());
            }
        }
        OpResult::Delete => write_multi_header(w, op::DELETE, false, 0),
        OpResult::Check => write_multi_header(w, op::CHECK, false, 0),
        OpResult::SetData { stat } => {
            write_multi_header(w, op::SET_DATA, false, 0);
            w.stat(stat);
        }
        OpResult::GetChildren { children } => {
            write_multi_header(w, op::GET_CHILDREN, false, 0);
            w.strings(children);
        }
        OpResult::GetData { data, stat } => {
            write_multi_header(w, op::GET_DATA, false, 0);
            w.opt_buffer(data.as_deref()).stat(stat);
        }
        OpResult::Error { err } => {
            write_multi_header(w, op::ERROR, false, err.code());
            w.i32(err.code());
        }
    }
}

fn read_multi_response(r: &mut Reader<'_>) -> Result<Vec<OpResult>, ProtoError> {
    let mut results = Vec::new();
    loop {
        let (t, done, _) = read_multi_header(r)?;
        if done {
            return Ok(results);
        }
        results.push(match t {
            op::CREATE => OpResult::Create {
                op: t,
                path: ustring(r, "CreateResponse.path")?,
                stat: None,
            },
            op::CREATE2 => OpResult::Create {
                op: t,
                path: ustring(r, "Create2Response.path")?,
                stat: Some(r.stat()?),
            },
            op::DELETE => OpResult::Delete,
            op::CHECK => OpResult::Check,
            op::SET_DATA => OpResult::SetData { stat: r.stat()? },
            op::GET_CHILDREN => OpResult::GetChildren {
                children: ustrings(r, "GetChildrenResponse.children")?,
            },
            op::GET_DATA => OpResult::GetData {
                data: r.opt_buffer("GetDataResponse.data")?,
                stat: r.stat()?,
            },
            op::ERROR => OpResult::Error {
                err: ErrorCode::from_code(r.i32("ErrorResponse.err")?),
            },
            _ => {
                return Err(ProtoError::BadMultiResult {
                    op: t,
                    index: results.len(),
                })
            }
        });
    }
}

/// Reads a reply to a request sent with opcode `request_op`. As ZooKeeper's client does, the body
/// is read only when the header's err is 0 (an error reply's body is [`Response::Empty`]), except
/// that a multi's body is read whenever there is one: its failures travel in its results.
/// Notifications (xid -1) are read with [`decode_watch_event`] instead.
pub fn decode_reply(body: &[u8], request_op: i32, limit: usize) -> Result<Reply, ProtoError> {
    let mut r = Reader::new(body, limit);
    let h = read_reply_header(&mut r)?;
    let is_multi = request_op == op::MULTI || request_op == op::MULTI_READ;
    let body = if h.err.is_ok() || (is_multi && !r.is_empty()) {
        read_response_body(&mut r, request_op)?
    } else {
        Response::Empty
    };
    Ok(Reply {
        xid: h.xid,
        zxid: h.zxid,
        err: h.err,
        body,
    })
}

fn read_response_body(r: &mut Reader<'_>, request_op: i32) -> Result<Response, ProtoError> {
    Ok(match request_op {
        op::CREATE => Response::Create {
            path: ustring(r, "CreateResponse.path")?,
        },
        op::CREATE2 | op::CREATE_TTL | op::CREATE_CONTAINER => Response::Create2 {
            path: ustring(r, "Create2Response.path")?,
            stat: r.stat()?,
        },
        op::EXISTS | op::SET_DATA | op::SET_ACL => Response::Stat(r.stat()?),
        // A standalone check answers with a SetDataResponse; tolerate its absence.
        op::CHECK if r.is_empty() => Response::Empty,
        op::CHECK => Response::Stat(r.stat()?),
        op::GET_DATA => Response::GetData {
            data: r.opt_buffer("GetDataResponse.data")?,
            stat: r.stat()?,
        },
        op::RECONFIG => Response::Reconfig {
            data: r.buffer("GetDataResponse.data")?,
            stat: r.stat()?,
        },
        op::GET_ACL => Response::GetAcl {
            acl: acls(r, "GetACLResponse.acl")?,
            stat: r.stat()?,
        },
        op::GET_CHILDREN => Response::GetChildren {
            children: ustrings(r, "GetChildrenResponse.children")?,
        },
        op::GET_CHILDREN2 => Response::GetChildren2 {
            children: ustrings(r, "GetChildren2Response.children")?,
            stat: r.stat()?,
        },
        op::SYNC => Response::Sync {
            path: ustring(r, "SyncResponse.path")?,
        },
        op::MULTI | op::MULTI_READ => Response::Multi(read_multi_response(r)?),
        op::GET_ALL_CHILDREN_NUMBER => {
            Response::AllChildrenNumber(r.i32("GetAllChildrenNumberResponse.totalNumber")?)
        }
        op::GET_EPHEMERALS => {
            Response::Ephemerals(ustrings(r, "GetEphemeralsResponse.ephemerals")?)
        }
        op::WHO_AM_I => {
            let n = vec_len(r, "WhoAmIResponse.clientInfo", 8)?;
            let mut infos = Vec::with_capacity(n);
            for _ in 0..n {
                let auth_scheme = ustring(r, "ClientInfo.authScheme")?;
                let user = ustring(r, "ClientInfo.user")?;
                infos.push(ClientInfo { auth_scheme, user });
            }
            Response::WhoAmI(infos)
        }
        op::ADD_WATCH => Response::ErrorResponse(r.i32("ErrorResponse.err")?),
        // delete, ping, auth, setWatches, checkWatches, removeWatches, closeSession, and anything
        // this server answers with Unimplemented: no body.
        _ => Response::Empty,
    })
}

// ---------------------------------------------------------------------------------------------
// Notifications

/// Writes a notification: `ReplyHeader{xid -1, zxid -1, err 0}` and a `WatcherEvent`.
pub fn encode_watch_event(ev: &WatchedEvent) -> Vec<u8> {
    let mut w = Writer::with_capacity(28 + ev.path.len());
    w.i32(crate::request::xid::NOTIFICATION).i64(-1).i32(0);
    w.i32(ev.event_type.code())
        .i32(ev.state.code())
        .string(&ev.path);
    w.into_inner()
}

/// Reads a notification, header included; a header whose xid is not -1 is an error.
pub fn decode_watch_event(body: &[u8], limit: usize) -> Result<WatchedEvent, ProtoError> {
    let mut r = Reader::new(body, limit);
    let h = read_reply_header(&mut r)?;
    if h.xid != crate::request::xid::NOTIFICATION {
        return Err(ProtoError::NotANotification { xid: h.xid });
    }
    let t = r.i32("WatcherEvent.type")?;
    let s = r.i32("WatcherEvent.state")?;
    let path = ustring(&mut r, "WatcherEvent.path")?;
    let event_type = EventType::from_code(t).ok_or(ProtoError::UnknownEventType(t))?;
    let state = KeeperState::from_code(s).ok_or(ProtoError::UnknownKeeperState(s))?;
    Ok(WatchedEvent {
        event_type,
        state,
        path,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::perms;
    use crate::stat::Stat;
    use proptest::prelude::*;

    const MAX: usize = DEFAULT_MAX_BUFFER;

    // Produced by ZooKeeper 3.8.0's own classes (zookeeper-jute-3.8.0.jar, zookeeper-3.8.0.jar)
    // with BinaryOutputArchive: request and reply bodies without the frame length.
    const CONNECT_REQUEST_RO: &str =
        "00000000000000010000000500007530001000abcdef000100000010a0a1a2a3a4a5a6a7a8a9aaabacadaeaf01";
    const CONNECT_REQUEST_OLD: &str =
        "00000000000000000000000000000fa000000000000000000000001000000000000000000000000000000000";
    const CONNECT_RESPONSE: &str =
        "0000000000007530001000abcdef000100000010a0a1a2a3a4a5a6a7a8a9aaabacadaeaf00";
    const CONNECT_RESPONSE_OLD: &str =
        "000000000000000000000000000000000000001000000000000000000000000000000000";
    const CREATE_REQUEST: &str = "0000000100000001000000092f6170702f6e6f64650000000568656c6c6f000000020000001f00000005\
        776f726c6400000006616e796f6e65000000030000000664696765737400000020626f623a364e783379506a334a705455764e39473051\
        76325373497a5270553d00000003";
    const CREATE_TTL_REQUEST: &str =
        "0000000200000015000000042f74746c00000000000000010000001f00000005776f726c64000000\
        06616e796f6e6500000005000000000000ea60";
    const MULTI_REQUEST: &str = "000000050000000e0000000100ffffffff000000042f6d2f610000000178000000010000001f000000\
        05776f726c6400000006616e796f6e65000000000000001500ffffffff000000042f6d2f7400000000000000010000001f00000005776f\
        726c6400000006616e796f6e650000000500000000000003e80000000200ffffffff000000042f6d2f62000000030000000500ffffffff\
        000000042f6d2f6300000002797affffffff0000000d00ffffffff000000042f6d2f6400000007ffffffff01ffffffff";
    const MULTI_READ_REQUEST: &str =
        "00000006000000160000000800ffffffff000000022f6d000000000400ffffffff000000042f6d2f\
        6100ffffffff01ffffffff";
    const MULTI_RESPONSE: &str = "00000005000000010000000a00000000000000010000000000000000042f6d2f610000000f00000000\
        00000000042f6d2f74000000010000000200000001000000070000018bcfe5687b0000018bcfe579d70000000300000004000000010010\
        00abcdef000100000005000000020000000100000009000000020000000000000000050000000000000000010000000200000001000000\
        070000018bcfe5687b0000018bcfe579d7000000030000000400000001001000abcdef0001000000050000000200000001000000090000\
        000d0000000000ffffffff00ffffff9bffffff9bffffffff01ffffffff";
    const MULTI_READ_RESPONSE: &str = "00000006000000010000000a000000000000000800000000000000000200000001610000000174\
        0000000400000000000000000178000000010000000200000001000000070000018bcfe5687b0000018bcfe579d7000000030000000400\
        000001001000abcdef000100000005000000020000000100000009ffffffff00ffffff9affffff9affffffff01ffffffff";
    const GET_DATA_REPLY: &str = "00000007000000010000000b000000000000000568656c6c6f00000001000000020000000100000007\
        0000018bcfe5687b0000018bcfe579d7000000030000000400000001001000abcdef000100000005000000020000000100000009";
    const GET_DATA_REQUEST: &str = "0000000700000004000000092f6170702f6e6f646501";
    const WATCH_EVENT: &str =
        "ffffffffffffffffffffffff000000000000000300000003000000092f6170702f6e6f6465";
    const SET_WATCHES2_REQUEST: &str =
        "fffffff800000069000000010000000b00000002000000032f6431000000032f643200000001\
        000000022f6500000001000000022f6300000001000000022f7000000002000000032f7231000000032f7232";
    const SET_WATCHES_REQUEST: &str =
        "fffffff800000065000000010000000b00000001000000032f64310000000000000001000000022f63";
    const AUTH_REQUEST: &str =
        "fffffffc0000006400000000000000066469676573740000000a626f623a736563726574";
    const RECONFIG_REQUEST: &str =
        "0000000900000010000000217365727665722e343d3132372e302e302e313a323839313a333839\
        313b32313834ffffffffffffffffffffffffffffffff";
    const GET_ACL_REPLY: &str = "0000000a000000010000000b00000000000000020000001f00000005776f726c6400000006616e796f\
        6e65000000030000000664696765737400000020626f623a364e783379506a334a705455764e3947305176325373497a5270553d000000\
        010000000200000001000000070000018bcfe5687b0000018bcfe579d7000000030000000400000001001000abcdef0001000000050000\
        00020000000100000009";
    const GET_CHILDREN2_REPLY: &str = "0000000b000000010000000b0000000000000002000000016200000001610000000100000002\
        00000001000000070000018bcfe5687b0000018bcfe579d7000000030000000400000001001000abcdef00010000000500000002000000\
        0100000009";
    const WHO_AM_I_REPLY: &str =
        "0000000c000000010000000b0000000000000002000000026970000000093132372e302e302e310000\
        000664696765737400000003626f62";
    const CREATE2_REPLY: &str = "0000000d000000010000000c00000000000000132f6170702f6e6f64653030303030303030303100000\
        0010000000200000001000000070000018bcfe5687b0000018bcfe579d7000000030000000400000001001000abcdef00010000000500\
        0000020000000100000009";
    const ERROR_REPLY: &str = "0000000e000000010000000cffffff92";
    const CREATE_NULL_DATA_REQUEST: &str =
        "000000030000000f000000022f6effffffff000000010000001f00000005776f726c64\
        00000006616e796f6e6500000000";
    const PING_REQUEST: &str = "fffffffe0000000b";
    const ADD_WATCH_REQUEST: &str = "0000000f0000006a000000042f61707000000001";
    const ADD_WATCH_REPLY: &str = "0000000f000000010000000c0000000000000000";

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        assert_eq!(s.len() % 2, 0, "odd hex length");
        s.chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    fn golden_stat() -> Stat {
        Stat {
            czxid: Zxid(0x1_0000_0002),
            mzxid: Zxid(0x1_0000_0007),
            ctime: 1_700_000_000_123,
            mtime: 1_700_000_004_567,
            version: 3,
            cversion: 4,
            aversion: 1,
            ephemeral_owner: 0x10_00ab_cdef_0001,
            data_length: 5,
            num_children: 2,
            pzxid: Zxid(0x1_0000_0009),
        }
    }

    fn open_acl() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::anyone(),
        }]
    }

    fn golden_acl() -> Vec<Acl> {
        vec![
            Acl {
                perms: perms::ALL,
                id: Id::anyone(),
            },
            Acl {
                perms: perms::READ | perms::WRITE,
                id: Id::new("digest", "bob:6Nx3yPj3JpTUvN9G0Qv2SsIzRpU="),
            },
        ]
    }

    fn pw() -> Vec<u8> {
        (0xa0..=0xaf).collect()
    }

    fn create(code: i32, path: &str, data: &[u8], acl: Vec<Acl>, flags: i32, ttl: i64) -> Request {
        Request::Create {
            op: code,
            req: CreateRequest {
                path: path.into(),
                data: Some(data.to_vec()),
                acl,
                flags,
                ttl,
            },
        }
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn assert_golden_request(hexstr: &str, xid: i32, req: Request) {
        let bytes = hex(hexstr);
        assert_eq!(encode_request(xid, &req), bytes, "encoding {req:?}");
        assert_eq!(decode_request(&bytes, MAX).unwrap(), (xid, req));
    }

    fn assert_golden_reply(hexstr: &str, request_op: i32, reply: Reply) {
        let bytes = hex(hexstr);
        assert_eq!(encode_reply(&reply), bytes, "encoding {reply:?}");
        assert_eq!(decode_reply(&bytes, request_op, MAX).unwrap(), reply);
    }

    fn reply(xid: i32, zxid: u64, body: Response) -> Reply {
        Reply {
            xid,
            zxid: Zxid(zxid),
            err: ErrorCode::Ok,
            body,
        }
    }

    #[test]
    fn golden_connect() {
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid(0x1_0000_0005),
            timeout: 30000,
            session_id: SessionId(0x10_00ab_cdef_0001),
            passwd: pw(),
            read_only: Some(true),
        };
        assert_eq!(encode_connect_request(&req), hex(CONNECT_REQUEST_RO));
        assert_eq!(
            decode_connect_request(&hex(CONNECT_REQUEST_RO), MAX).unwrap(),
            req
        );

        let old = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid(0),
            timeout: 4000,
            session_id: SessionId(0),
            passwd: vec![0; 16],
            read_only: None,
        };
        assert_eq!(encode_connect_request(&old), hex(CONNECT_REQUEST_OLD));
        assert_eq!(
            decode_connect_request(&hex(CONNECT_REQUEST_OLD), MAX).unwrap(),
            old
        );

        let rsp = ConnectResponse {
            protocol_version: 0,
            timeout: 30000,
            session_id: SessionId(0x10_00ab_cdef_0001),
            passwd: pw(),
            read_only: false,
        };
        assert_eq!(encode_connect_response(&rsp, true), hex(CONNECT_RESPONSE));
        assert_eq!(
            decode_connect_response(&hex(CONNECT_RESPONSE), MAX).unwrap(),
            rsp
        );

        // The answer to an old client, here a session that is gone: timeout 0, id 0, 16 zeros.
        let gone = ConnectResponse {
            protocol_version: 0,
            timeout: 0,
            session_id: SessionId(0),
            passwd: vec![0; 16],
            read_only: false,
        };
        assert_eq!(
            encode_connect_response(&gone, false),
            hex(CONNECT_RESPONSE_OLD)
        );
        assert_eq!(
            decode_connect_response(&hex(CONNECT_RESPONSE_OLD), MAX).unwrap(),
            gone
        );

        let ro = ConnectResponse {
            read_only: true,
            ..rsp
        };
        assert_eq!(
            decode_connect_response(&encode_connect_response(&ro, true), MAX).unwrap(),
            ro
        );
    }

    #[test]
    fn golden_requests() {
        assert_golden_request(
            CREATE_REQUEST,
            1,
            create(op::CREATE, "/app/node", b"hello", golden_acl(), 3, -1),
        );
        assert_golden_request(
            CREATE_TTL_REQUEST,
            2,
            create(op::CREATE_TTL, "/ttl", b"", open_acl(), 5, 60000),
        );
        assert_golden_request(
            MULTI_REQUEST,
            5,
            Request::Multi(vec![
                create(op::CREATE, "/m/a", b"x", open_acl(), 0, -1),
                create(op::CREATE_TTL, "/m/t", b"", open_acl(), 5, 1000),
                Request::Delete {
                    path: "/m/b".into(),
                    version: 3,
                },
                Request::SetData {
                    path: "/m/c".into(),
                    data: Some(b"yz".to_vec()),
                    version: -1,
                },
                Request::Check {
                    path: "/m/d".into(),
                    version: 7,
                },
            ]),
        );
        assert_golden_request(
            MULTI_READ_REQUEST,
            6,
            Request::MultiRead(vec![
                Request::GetChildren {
                    path: "/m".into(),
                    watch: false,
                },
                Request::GetData {
                    path: "/m/a".into(),
                    watch: false,
                },
            ]),
        );
        assert_golden_request(
            GET_DATA_REQUEST,
            7,
            Request::GetData {
                path: "/app/node".into(),
                watch: true,
            },
        );
        assert_golden_request(
            SET_WATCHES2_REQUEST,
            crate::request::xid::SET_WATCHES,
            Request::SetWatches {
                v2: true,
                watches: SetWatches {
                    relative_zxid: Zxid(0x1_0000_000b),
                    data: strs(&["/d1", "/d2"]),
                    exist: strs(&["/e"]),
                    child: strs(&["/c"]),
                    persistent: strs(&["/p"]),
                    persistent_recursive: strs(&["/r1", "/r2"]),
                },
            },
        );
        assert_golden_request(
            SET_WATCHES_REQUEST,
            crate::request::xid::SET_WATCHES,
            Request::SetWatches {
                v2: false,
                watches: SetWatches {
                    relative_zxid: Zxid(0x1_0000_000b),
                    data: strs(&["/d1"]),
                    child: strs(&["/c"]),
                    ..Default::default()
                },
            },
        );
        assert_golden_request(
            AUTH_REQUEST,
            crate::request::xid::AUTH,
            Request::Auth {
                auth_type: 0,
                scheme: "digest".into(),
                auth: b"bob:secret".to_vec(),
            },
        );
        assert_golden_request(
            RECONFIG_REQUEST,
            9,
            Request::Reconfig {
                joining: Some("server.4=127.0.0.1:2891:3891;2184".into()),
                leaving: None,
                new_members: None,
                cur_config_id: -1,
            },
        );
        assert_golden_request(PING_REQUEST, crate::request::xid::PING, Request::Ping);
        assert_golden_request(
            ADD_WATCH_REQUEST,
            15,
            Request::AddWatch {
                path: "/app".into(),
                mode: 1,
            },
        );
    }

    #[test]
    fn null_data_stays_null() {
        // A Java client's create(path, null, ...) sends data length -1; ZooKeeper keeps the null.
        let (xid, req) = decode_request(&hex(CREATE_NULL_DATA_REQUEST), MAX).unwrap();
        assert_eq!(xid, 3);
        let mut want = create(op::CREATE2, "/n", b"", open_acl(), 0, -1);
        if let Request::Create { req, .. } = &mut want {
            req.data = None;
        }
        assert_eq!(req, want);
        assert_eq!(
            encode_request(3, &req),
            hex(CREATE_NULL_DATA_REQUEST),
            "and it is written back as null"
        );
    }

    #[test]
    fn golden_replies() {
        let st = golden_stat();
        assert_golden_reply(
            MULTI_RESPONSE,
            op::MULTI,
            reply(
                5,
                0x1_0000_000a,
                Response::Multi(vec![
                    OpResult::Create {
                        op: op::CREATE,
                        path: "/m/a".into(),
                        stat: None,
                    },
                    OpResult::Create {
                        op: op::CREATE2,
                        path: "/m/t".into(),
                        stat: Some(st),
                    },
                    OpResult::Delete,
                    OpResult::SetData { stat: st },
                    OpResult::Check,
                    OpResult::Error {
                        err: ErrorCode::NoNode,
                    },
                ]),
            ),
        );
        assert_golden_reply(
            MULTI_READ_RESPONSE,
            op::MULTI_READ,
            reply(
                6,
                0x1_0000_000a,
                Response::Multi(vec![
                    OpResult::GetChildren {
                        children: strs(&["a", "t"]),
                    },
                    OpResult::GetData {
                        data: Some(b"x".to_vec()),
                        stat: st,
                    },
                    OpResult::Error {
                        err: ErrorCode::NoAuth,
                    },
                ]),
            ),
        );
        assert_golden_reply(
            GET_DATA_REPLY,
            op::GET_DATA,
            reply(
                7,
                0x1_0000_000b,
                Response::GetData {
                    data: Some(b"hello".to_vec()),
                    stat: st,
                },
            ),
        );
        assert_golden_reply(
            GET_ACL_REPLY,
            op::GET_ACL,
            reply(
                10,
                0x1_0000_000b,
                Response::GetAcl {
                    acl: golden_acl(),
                    stat: st,
                },
            ),
        );
        assert_golden_reply(
            GET_CHILDREN2_REPLY,
            op::GET_CHILDREN2,
            reply(
                11,
                0x1_0000_000b,
                Response::GetChildren2 {
                    children: strs(&["b", "a"]),
                    stat: st,
                },
            ),
        );
        assert_golden_reply(
            WHO_AM_I_REPLY,
            op::WHO_AM_I,
            reply(
                12,
                0x1_0000_000b,
                Response::WhoAmI(vec![
                    ClientInfo {
                        auth_scheme: "ip".into(),
                        user: "127.0.0.1".into(),
                    },
                    ClientInfo {
                        auth_scheme: "digest".into(),
                        user: "bob".into(),
                    },
                ]),
            ),
        );
        assert_golden_reply(
            CREATE2_REPLY,
            op::CREATE2,
            reply(
                13,
                0x1_0000_000c,
                Response::Create2 {
                    path: "/app/node0000000001".into(),
                    stat: st,
                },
            ),
        );
        assert_golden_reply(
            ERROR_REPLY,
            op::CREATE,
            Reply {
                xid: 14,
                zxid: Zxid(0x1_0000_000c),
                err: ErrorCode::NodeExists,
                body: Response::Empty,
            },
        );
        assert_golden_reply(
            ADD_WATCH_REPLY,
            op::ADD_WATCH,
            reply(15, 0x1_0000_000c, Response::ErrorResponse(0)),
        );
    }

    #[test]
    fn golden_watch_event() {
        let ev = WatchedEvent {
            event_type: EventType::NodeDataChanged,
            state: KeeperState::SyncConnected,
            path: "/app/node".into(),
        };
        assert_eq!(encode_watch_event(&ev), hex(WATCH_EVENT));
        assert_eq!(decode_watch_event(&hex(WATCH_EVENT), MAX).unwrap(), ev);
        let h = decode_reply_header(&hex(WATCH_EVENT)).unwrap();
        assert_eq!((h.xid, h.zxid, h.err), (-1, Zxid(u64::MAX), ErrorCode::Ok));
        // Every event type and state survives the trip, including session events (path "").
        for t in [-1, 1, 2, 3, 4, 5, 6, 7] {
            for s in [0, 3, 4, 5, 6, -112, 7] {
                let ev = WatchedEvent {
                    event_type: EventType::from_code(t).unwrap(),
                    state: KeeperState::from_code(s).unwrap(),
                    path: if t == -1 { String::new() } else { "/x".into() },
                };
                assert_eq!(
                    decode_watch_event(&encode_watch_event(&ev), MAX).unwrap(),
                    ev
                );
            }
        }
        // Not a notification, or an unknown type or state.
        assert_eq!(
            decode_watch_event(&hex(GET_DATA_REPLY), MAX),
            Err(ProtoError::NotANotification { xid: 7 })
        );
        let mut bad = hex(WATCH_EVENT);
        bad[19] = 99;
        assert_eq!(
            decode_watch_event(&bad, MAX),
            Err(ProtoError::UnknownEventType(99))
        );
        let mut bad = hex(WATCH_EVENT);
        bad[23] = 99;
        assert_eq!(
            decode_watch_event(&bad, MAX),
            Err(ProtoError::UnknownKeeperState(99))
        );
    }

    fn all_requests() -> Vec<Request> {
        let sw = SetWatches {
            relative_zxid: Zxid(42),
            data: strs(&["/a"]),
            exist: strs(&["/b", "/c"]),
            child: vec![],
            persistent: vec![],
            persistent_recursive: vec![],
        };
        let sw2 = SetWatches {
            persistent: strs(&["/p"]),
            persistent_recursive: strs(&["/r"]),
            ..sw.clone()
        };
        vec![
            create(op::CREATE, "/a", b"1", golden_acl(), 0, -1),
            create(op::CREATE2, "/a", b"", open_acl(), 1, -1),
            create(op::CREATE_CONTAINER, "/c", b"", open_acl(), 4, -1),
            create(op::CREATE_TTL, "/t", b"\x00\xff", open_acl(), 6, 12345),
            Request::Delete {
                path: "/a".into(),
                version: -1,
            },
            Request::Exists {
                path: "/a".into(),
                watch: true,
            },
            Request::GetData {
                path: "/a".into(),
                watch: false,
            },
            Request::SetData {
                path: "/a".into(),
                data: Some(vec![7; 300]),
                version: 2,
            },
            Request::GetAcl { path: "/a".into() },
            Request::SetAcl {
                path: "/a".into(),
                acl: golden_acl(),
                version: 0,
            },
            Request::GetChildren {
                path: "/".into(),
                watch: true,
            },
            Request::GetChildren2 {
                path: "/".into(),
                watch: false,
            },
            Request::Sync { path: "/a".into() },
            Request::Check {
                path: "/a".into(),
                version: 9,
            },
            Request::Multi(vec![
                create(op::CREATE, "/m1", b"", open_acl(), 0, -1),
                create(op::CREATE2, "/m2", b"", open_acl(), 0, -1),
                create(op::CREATE_CONTAINER, "/m3", b"", open_acl(), 4, -1),
                create(op::CREATE_TTL, "/m4", b"", open_acl(), 5, 99),
                Request::Delete {
                    path: "/m1".into(),
                    version: 0,
                },
                Request::SetData {
                    path: "/m2".into(),
                    data: Some(b"d".to_vec()),
                    version: 0,
                },
                Request::Check {
                    path: "/m3".into(),
                    version: 0,
                },
            ]),
            Request::Multi(vec![]),
            Request::MultiRead(vec![
                Request::GetData {
                    path: "/a".into(),
                    watch: true,
                },
                Request::GetChildren {
                    path: "/".into(),
                    watch: false,
                },
            ]),
            Request::GetAllChildrenNumber { path: "/".into() },
            Request::GetEphemerals {
                prefix: "/e".into(),
            },
            Request::AddWatch {
                path: "/w".into(),
                mode: 0,
            },
            Request::CheckWatches {
                path: "/w".into(),
                watcher_type: 3,
            },
            Request::RemoveWatches {
                path: "/w".into(),
                watcher_type: 5,
            },
            Request::SetWatches {
                v2: false,
                watches: sw,
            },
            Request::SetWatches {
                v2: true,
                watches: sw2,
            },
            Request::Auth {
                auth_type: 0,
                scheme: "digest".into(),
                auth: b"u:p".to_vec(),
            },
            Request::WhoAmI,
            Request::Ping,
            Request::CloseSession,
            Request::Reconfig {
                joining: None,
                leaving: Some("3".into()),
                new_members: Some(String::new()),
                cur_config_id: 7,
            },
            Request::Sasl {
                token: b"realm=\"zk-sasl-md5\"".to_vec(),
            },
            Request::Unsupported { op: 9999 },
            Request::Unsupported {
                op: op::CREATE_SESSION,
            },
            Request::Unsupported {
                op: op::DELETE_CONTAINER,
            },
        ]
    }

    #[test]
    fn every_request_round_trips() {
        for (i, req) in all_requests().into_iter().enumerate() {
            let xid = i as i32 + 1;
            let bytes = encode_request(xid, &req);
            assert_eq!(
                decode_request(&bytes, MAX).unwrap(),
                (xid, req.clone()),
                "{req:?}"
            );
            assert_eq!(
                decode_request_header(&bytes).unwrap(),
                RequestHeader {
                    xid,
                    op: req.op_code()
                }
            );
            // Trailing bytes after the record are ignored, as ZooKeeper ignores them.
            let mut longer = bytes.clone();
            longer.extend_from_slice(b"trailing garbage");
            assert_eq!(decode_request(&longer, MAX).unwrap(), (xid, req.clone()));
            // Any truncation of a request with a body is an error that names the xid.
            if bytes.len() > 8 {
                let err = decode_request(&bytes[..bytes.len() - 1], MAX).unwrap_err();
                assert_eq!(
                    err.request_header(),
                    Some(RequestHeader {
                        xid,
                        op: req.op_code()
                    }),
                    "{err}"
                );
            }
        }
    }

    #[test]
    fn sasl_decodes_and_unknown_opcodes_are_unsupported_not_errors() {
        let bytes = hex("0000000100000066000000050102030405"); // sasl with a GetSASLRequest token
        assert_eq!(
            decode_request(&bytes, MAX).unwrap(),
            (
                1,
                Request::Sasl {
                    token: vec![1, 2, 3, 4, 5]
                }
            )
        );
        // A null token is an empty one.
        assert_eq!(
            decode_request(&hex("0000000100000066ffffffff"), MAX).unwrap(),
            (1, Request::Sasl { token: vec![] })
        );
        assert_eq!(
            decode_request(&hex("000000020000007f"), MAX).unwrap(),
            (2, Request::Unsupported { op: 127 })
        );
    }

    #[test]
    fn multi_refuses_foreign_ops() {
        // A getData inside a multi.
        let bad = encode_request(
            3,
            &Request::Multi(vec![Request::GetData {
                path: "/a".into(),
                watch: false,
            }]),
        );
        let err = decode_request(&bad, MAX).unwrap_err();
        assert_eq!(
            err.request_header(),
            Some(RequestHeader {
                xid: 3,
                op: op::MULTI
            })
        );
        let ProtoError::Request { error, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            **error,
            ProtoError::OpNotAllowed {
                container: "multi",
                op: op::GET_DATA,
                name: "getData",
                index: 0
            }
        );
        assert!(err.to_string().contains("getData"), "{err}");
        // A create inside a multiRead, second position.
        let bad = encode_request(
            4,
            &Request::MultiRead(vec![
                Request::GetData {
                    path: "/a".into(),
                    watch: false,
                },
                create(op::CREATE, "/b", b"", open_acl(), 0, -1),
            ]),
        );
        let err = decode_request(&bad, MAX).unwrap_err();
        let ProtoError::Request { error, .. } = &err else {
            panic!("{err:?}")
        };
        assert!(matches!(
            **error,
            ProtoError::OpNotAllowed {
                container: "multiRead",
                op: 1,
                index: 1,
                ..
            }
        ));
        // A multi without its closing header is truncated.
        let mut open = encode_request(
            5,
            &Request::Multi(vec![Request::Delete {
                path: "/a".into(),
                version: 0,
            }]),
        );
        open.truncate(open.len() - 9);
        assert!(decode_request(&open, MAX).is_err());
    }

    #[test]
    fn every_response_round_trips() {
        let st = golden_stat();
        let cases: Vec<(i32, Response)> = vec![
            (op::DELETE, Response::Empty),
            (op::CREATE, Response::Create { path: "/a".into() }),
            (
                op::CREATE2,
                Response::Create2 {
                    path: "/a".into(),
                    stat: st,
                },
            ),
            (
                op::CREATE_TTL,
                Response::Create2 {
                    path: "/t".into(),
                    stat: st,
                },
            ),
            (
                op::CREATE_CONTAINER,
                Response::Create2 {
                    path: "/c".into(),
                    stat: st,
                },
            ),
            (op::EXISTS, Response::Stat(st)),
            (op::SET_DATA, Response::Stat(st)),
            (op::SET_ACL, Response::Stat(st)),
            (op::CHECK, Response::Stat(st)),
            (op::CHECK, Response::Empty),
            (
                op::GET_DATA,
                Response::GetData {
                    data: Some(vec![1, 2, 3]),
                    stat: st,
                },
            ),
            (
                op::GET_ACL,
                Response::GetAcl {
                    acl: golden_acl(),
                    stat: st,
                },
            ),
            (
                op::GET_CHILDREN,
                Response::GetChildren {
                    children: strs(&["x", "y"]),
                },
            ),
            (
                op::GET_CHILDREN2,
                Response::GetChildren2 {
                    children: vec![],
                    stat: st,
                },
            ),
            (op::SYNC, Response::Sync { path: "/s".into() }),
            (
                op::MULTI,
                Response::Multi(vec![
                    OpResult::Create {
                        op: op::CREATE,
                        path: "/a".into(),
                        stat: None,
                    },
                    OpResult::Create {
                        op: op::CREATE2,
                        path: "/b".into(),
                        stat: Some(st),
                    },
                    OpResult::Delete,
                    OpResult::SetData { stat: st },
                    OpResult::Check,
                ]),
            ),
            (
                op::MULTI,
                Response::Multi(vec![
                    OpResult::Error { err: ErrorCode::Ok },
                    OpResult::Error {
                        err: ErrorCode::BadVersion,
                    },
                    OpResult::Error {
                        err: ErrorCode::RuntimeInconsistency,
                    },
                ]),
            ),
            (op::MULTI, Response::Multi(vec![])),
            (
                op::MULTI_READ,
                Response::Multi(vec![
                    OpResult::GetChildren {
                        children: strs(&["c"]),
                    },
                    OpResult::GetData {
                        data: Some(vec![]),
                        stat: st,
                    },
                    OpResult::Error {
                        err: ErrorCode::NoNode,
                    },
                ]),
            ),
            (op::GET_ALL_CHILDREN_NUMBER, Response::AllChildrenNumber(12)),
            (
                op::GET_EPHEMERALS,
                Response::Ephemerals(strs(&["/e1", "/e2"])),
            ),
            (
                op::WHO_AM_I,
                Response::WhoAmI(vec![ClientInfo {
                    auth_scheme: "ip".into(),
                    user: "::1".into(),
                }]),
            ),
            (op::ADD_WATCH, Response::ErrorResponse(0)),
            (
                op::RECONFIG,
                Response::Reconfig {
                    data: b"server.1=a:1:2;3\nversion=1".to_vec(),
                    stat: st,
                },
            ),
            (op::PING, Response::Empty),
            (op::SET_WATCHES2, Response::Empty),
            (op::CLOSE_SESSION, Response::Empty),
        ];
        for (i, (request_op, body)) in cases.into_iter().enumerate() {
            let r = Reply {
                xid: i as i32,
                zxid: Zxid(1000 + i as u64),
                err: ErrorCode::Ok,
                body,
            };
            let bytes = encode_reply(&r);
            assert_eq!(
                decode_reply(&bytes, request_op, MAX).unwrap(),
                r,
                "op {request_op}"
            );
            let mut longer = bytes.clone();
            longer.extend_from_slice(&[0xde, 0xad]);
            if request_op != op::CHECK {
                assert_eq!(
                    decode_reply(&longer, request_op, MAX).unwrap(),
                    r,
                    "op {request_op} + garbage"
                );
            }
            assert_eq!(
                decode_reply_header(&bytes).unwrap(),
                ReplyHeader {
                    xid: r.xid,
                    zxid: r.zxid,
                    err: r.err
                }
            );
        }
    }

    #[test]
    fn create_results_in_a_multi_travel_as_create_or_create2() {
        // createTTL and createContainer results are sent as create2, as OpResult.CreateResult does.
        let st = golden_stat();
        let r = reply(
            1,
            1,
            Response::Multi(vec![
                OpResult::Create {
                    op: op::CREATE_TTL,
                    path: "/t".into(),
                    stat: Some(st),
                },
                OpResult::Create {
                    op: op::CREATE_CONTAINER,
                    path: "/c".into(),
                    stat: Some(st),
                },
            ]),
        );
        let back = decode_reply(&encode_reply(&r), op::MULTI, MAX).unwrap();
        assert_eq!(
            back.body,
            Response::Multi(vec![
                OpResult::Create {
                    op: op::CREATE2,
                    path: "/t".into(),
                    stat: Some(st)
                },
                OpResult::Create {
                    op: op::CREATE2,
                    path: "/c".into(),
                    stat: Some(st)
                },
            ])
        );
    }

    #[test]
    fn error_replies_have_no_body() {
        for (request_op, err) in [
            (op::GET_DATA, ErrorCode::NoNode),
            (op::EXISTS, ErrorCode::NoNode),
            (op::MULTI, ErrorCode::MarshallingError),
            (op::AUTH, ErrorCode::AuthFailed),
            (9999, ErrorCode::Unimplemented),
        ] {
            let r = Reply {
                xid: 3,
                zxid: Zxid(5),
                err,
                body: Response::Empty,
            };
            let bytes = encode_reply(&r);
            assert_eq!(bytes.len(), 16);
            assert_eq!(decode_reply(&bytes, request_op, MAX).unwrap(), r);
        }
        // A body after an error header is ignored, as ZooKeeper's client ignores it.
        let mut bytes = encode_reply(&Reply {
            xid: 3,
            zxid: Zxid(5),
            err: ErrorCode::NoNode,
            body: Response::Empty,
        });
        bytes.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            decode_reply(&bytes, op::GET_DATA, MAX).unwrap().body,
            Response::Empty
        );
    }

    #[test]
    fn framing() {
        let body = hex(GET_DATA_REQUEST);
        let f = frame(&body);
        assert_eq!(&f[..4], &(body.len() as i32).to_be_bytes());
        assert_eq!(&f[4..], &body[..]);
        let mut two = f.clone();
        frame_into(&mut two, b"");
        frame_into(&mut two, b"xy");
        // One frame at a time, and None until a frame is complete.
        let (n, b) = split_frame(&two, MAX).unwrap().unwrap();
        assert_eq!((n, b), (f.len(), &body[..]));
        let (n2, b2) = split_frame(&two[n..], MAX).unwrap().unwrap();
        assert_eq!((n2, b2), (4, &b""[..]));
        let (n3, b3) = split_frame(&two[n + n2..], MAX).unwrap().unwrap();
        assert_eq!((n3, b3), (6, &b"xy"[..]));
        for cut in 0..f.len() {
            assert_eq!(split_frame(&f[..cut], MAX).unwrap(), None, "cut at {cut}");
        }
        // Lengths are checked as soon as they arrive.
        assert_eq!(
            split_frame(&[0xff, 0xff, 0xff, 0xfe], MAX),
            Err(ProtoError::NegativeFrameLength { len: -2 })
        );
        assert_eq!(
            split_frame(&(MAX as i32 + 1).to_be_bytes(), MAX),
            Err(ProtoError::FrameTooLong {
                len: MAX as i32 + 1,
                max: MAX
            })
        );
        assert!(split_frame(&(MAX as i32).to_be_bytes(), MAX)
            .unwrap()
            .is_none());
        assert!(split_frame(&f, body.len() - 1).is_err());
        let e = split_frame(&i32::MAX.to_be_bytes(), MAX)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("Len error") && e.contains("jute.maxbuffer=1048575"),
            "{e}"
        );
        // A four-letter word where the first length should be.
        assert_eq!(peek_frame_len(b"ruok"), Some(i32::from_be_bytes(*b"ruok")));
        assert_eq!(peek_frame_len(b"ruo"), None);
    }

    #[test]
    fn lenient_like_java() {
        // Invalid UTF-8 in a path is replaced, as `new String(bytes, UTF_8)` does, not refused.
        let mut w = Writer::new();
        w.i32(1)
            .i32(op::GET_DATA)
            .buffer(&[b'/', 0xff, b'a'])
            .bool(false);
        let (_, req) = decode_request(&w.into_inner(), MAX).unwrap();
        assert_eq!(
            req,
            Request::GetData {
                path: "/\u{fffd}a".into(),
                watch: false
            }
        );
        // A null path reads as empty; a vector with a negative count as empty.
        let mut w = Writer::new();
        w.i32(1).i32(op::SET_ACL).i32(-1).i32(-5).i32(3);
        let (_, req) = decode_request(&w.into_inner(), MAX).unwrap();
        assert_eq!(
            req,
            Request::SetAcl {
                path: String::new(),
                acl: vec![],
                version: 3
            }
        );
        // Any non-zero byte is true.
        let mut w = Writer::new();
        w.i32(1).i32(op::EXISTS).string("/a").u8(7);
        assert_eq!(
            decode_request(&w.into_inner(), MAX).unwrap().1,
            Request::Exists {
                path: "/a".into(),
                watch: true
            }
        );
    }

    #[test]
    fn errors_name_the_field_and_the_opcode() {
        let mut w = Writer::new();
        w.i32(9).i32(op::CREATE).string("/a").buffer(b"").i32(0); // no flags
        let err = decode_request(&w.into_inner(), MAX).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("create") && msg.contains("opcode 1") && msg.contains("xid 9"),
            "{msg}"
        );
        assert!(msg.contains("CreateRequest.flags"), "{msg}");
        // A buffer over the limit.
        let mut w = Writer::new();
        w.i32(1)
            .i32(op::SET_DATA)
            .string("/a")
            .buffer(&[0; 100])
            .i32(0);
        let msg = decode_request(&w.into_inner(), 50).unwrap_err().to_string();
        assert!(
            msg.contains("SetDataRequest.data") && msg.contains("limit"),
            "{msg}"
        );
        // A huge vector count is refused before allocating.
        let mut w = Writer::new();
        w.i32(1).i32(op::SET_WATCHES).i64(0).i32(i32::MAX);
        let msg = decode_request(&w.into_inner(), MAX)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("SetWatches.dataWatches"), "{msg}");
        // A header too short has no xid to answer.
        assert_eq!(
            decode_request(&[0, 0, 0, 1, 0], MAX)
                .unwrap_err()
                .request_header(),
            None
        );
        // An unknown result type in a MultiResponse.
        let mut w = Writer::new();
        w.i32(1).i64(0).i32(0).i32(op::SYNC).bool(false).i32(0);
        assert_eq!(
            decode_reply(&w.into_inner(), op::MULTI, MAX),
            Err(ProtoError::BadMultiResult {
                op: op::SYNC,
                index: 0
            })
        );
        // A connect request cut short.
        let short = &hex(CONNECT_REQUEST_OLD)[..20];
        assert!(decode_connect_request(short, MAX)
            .unwrap_err()
            .to_string()
            .contains("ConnectRequest.sessionId"));
    }

    const REPLY_OPS: [i32; 28] = [
        op::CREATE,
        op::CREATE2,
        op::CREATE_TTL,
        op::CREATE_CONTAINER,
        op::DELETE,
        op::EXISTS,
        op::GET_DATA,
        op::SET_DATA,
        op::GET_ACL,
        op::SET_ACL,
        op::GET_CHILDREN,
        op::GET_CHILDREN2,
        op::SYNC,
        op::PING,
        op::CHECK,
        op::MULTI,
        op::MULTI_READ,
        op::RECONFIG,
        op::CHECK_WATCHES,
        op::REMOVE_WATCHES,
        op::AUTH,
        op::SET_WATCHES,
        op::GET_EPHEMERALS,
        op::GET_ALL_CHILDREN_NUMBER,
        op::SET_WATCHES2,
        op::ADD_WATCH,
        op::WHO_AM_I,
        op::CLOSE_SESSION,
    ];

    fn decode_everything(bytes: &[u8], limit: usize) {
        let _ = split_frame(bytes, limit);
        let _ = peek_frame_len(bytes);
        let _ = decode_connect_request(bytes, limit);
        let _ = decode_connect_response(bytes, limit);
        let _ = decode_request_header(bytes);
        let _ = decode_request(bytes, limit);
        let _ = decode_reply_header(bytes);
        for o in REPLY_OPS {
            let _ = decode_reply(bytes, o, limit);
        }
        let _ = decode_reply(bytes, 12345, limit);
        let _ = decode_watch_event(bytes, limit);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256), limit in 0usize..2048) {
            decode_everything(&bytes, limit);
        }

        // A well-formed header for every opcode followed by random bytes, to reach the body decoders.
        #[test]
        fn random_bodies_never_panic(
            which in 0usize..REPLY_OPS.len() + 3,
            err in prop_oneof![Just(0i32), any::<i32>()],
            tail in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let code = REPLY_OPS.get(which).copied().unwrap_or_else(|| [op::SASL, -1, 0][which - REPLY_OPS.len()]);
            let mut req = Writer::new();
            req.i32(1).i32(code);
            req.buf.extend_from_slice(&tail);
            decode_everything(&req.into_inner(), MAX);
            let mut rep = Writer::new();
            rep.i32(1).i64(2).i32(err);
            rep.buf.extend_from_slice(&tail);
            let rep = rep.into_inner();
            let _ = decode_reply(&rep, code, MAX);
            let _ = decode_reply(&rep, code, 16);
        }

        // Multi records made of plausible pieces: headers with random types and done flags.
        #[test]
        fn random_multis_never_panic(
            parts in proptest::collection::vec((any::<i8>(), any::<bool>(), proptest::collection::vec(any::<u8>(), 0..12)), 0..8),
            container in prop_oneof![Just(op::MULTI), Just(op::MULTI_READ)],
        ) {
            let mut w = Writer::new();
            w.i32(1).i32(container);
            let mut rep = Writer::new();
            rep.i32(1).i64(0).i32(0);
            for (t, done, body) in &parts {
                for x in [&mut w, &mut rep] {
                    x.i32(*t as i32).bool(*done).i32(-1);
                    x.buf.extend_from_slice(body);
                }
            }
            let _ = decode_request(&w.into_inner(), MAX);
            let _ = decode_reply(&rep.into_inner(), container, MAX);
        }

        #[test]
        fn encoded_requests_decode_after_framing(i in 0usize..33, xid in any::<i32>()) {
            let reqs = all_requests();
            let req = &reqs[i % reqs.len()];
            let f = frame(&encode_request(xid, req));
            let (n, body) = split_frame(&f, MAX).unwrap().unwrap();
            prop_assert_eq!(n, f.len());
            prop_assert_eq!(decode_request(body, MAX).unwrap(), (xid, req.clone()));
        }
    }
}
