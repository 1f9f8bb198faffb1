//! Transactions: the only way the tree changes. The leader (or a standalone server) turns each
//! write request into one transaction in the prepare step ([`crate::prep`]), stamps it with a zxid
//! and a time, logs it, and every server applies the same transactions in the same order
//! ([`crate::tree::DataTree::apply`]). The tree is a pure function of this sequence.

use crate::acl::Acl;
use crate::digest::TxnDigest;
use crate::error::ErrorCode;
use crate::types::{SessionId, Zxid};
use serde::{Deserialize, Serialize};

/// ZooKeeper's operation codes (`ZooDefs.OpCode`), as they travel in request and txn headers.
pub mod op {
    pub const NOTIFICATION: i32 = 0;
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const EXISTS: i32 = 3;
    pub const GET_DATA: i32 = 4;
    pub const SET_DATA: i32 = 5;
    pub const GET_ACL: i32 = 6;
    pub const SET_ACL: i32 = 7;
    pub const GET_CHILDREN: i32 = 8;
    pub const SYNC: i32 = 9;
    pub const PING: i32 = 11;
    pub const GET_CHILDREN2: i32 = 12;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CHECK_WATCHES: i32 = 17;
    pub const REMOVE_WATCHES: i32 = 18;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const MULTI_READ: i32 = 22;
    pub const AUTH: i32 = 100;
    pub const SET_WATCHES: i32 = 101;
    pub const SASL: i32 = 102;
    pub const GET_EPHEMERALS: i32 = 103;
    pub const GET_ALL_CHILDREN_NUMBER: i32 = 104;
    pub const SET_WATCHES2: i32 = 105;
    pub const ADD_WATCH: i32 = 106;
    pub const WHO_AM_I: i32 = 107;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

/// `TxnHeader` without its type (the type is the [`Txn`] variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnHeader {
    /// The session that asked for the change (0 for the server's own, e.g. container deletion).
    pub session: SessionId,
    /// The client's request number (`cxid`).
    pub cxid: i32,
    pub zxid: Zxid,
    /// Wall-clock time the leader assigned, in milliseconds since the Unix epoch.
    pub time: i64,
}

/// One transaction. Field names follow `zookeeper.jute`'s txn records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Txn {
    Create {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        ephemeral: bool,
        parent_cversion: i32,
        /// Made by a `create2` request: the txn's type is create2 (15), and applying it gives
        /// the node's stat, as ZooKeeper's processTxn does only for that type.
        create2: bool,
    },
    CreateContainer {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        parent_cversion: i32,
    },
    CreateTtl {
        path: String,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        parent_cversion: i32,
        ttl: i64,
    },
    /// `delete`, or `deleteContainer` when the server reaps an empty container or expired TTL node.
    Delete {
        path: String,
        container: bool,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    /// Sub-transactions of a multi. When the multi failed, the failing op is an `Error` with
    /// its code and the ones after it `Error`s with `RuntimeInconsistency`; the ones before it
    /// are as prepared (ZooKeeper's leader writes them so), and none of them is applied.
    Multi(Vec<Txn>),
    CreateSession {
        timeout: i32,
    },
    /// Closes a session; the ephemerals to delete were fixed by the prepare step.
    CloseSession {
        paths_to_delete: Vec<String>,
    },
    /// A write that failed in the prepare step still takes a zxid, as in ZooKeeper.
    Error {
        err: ErrorCode,
    },
}

impl Txn {
    /// The txn's type code, as in `TxnHeader.type`.
    pub fn op_code(&self) -> i32 {
        match self {
            Txn::Create { create2: true, .. } => op::CREATE2,
            Txn::Create { .. } => op::CREATE,
            Txn::CreateContainer { .. } => op::CREATE_CONTAINER,
            Txn::CreateTtl { .. } => op::CREATE_TTL,
            Txn::Delete {
                container: false, ..
            } => op::DELETE,
            Txn::Delete {
                container: true, ..
            } => op::DELETE_CONTAINER,
            Txn::SetData { .. } => op::SET_DATA,
            Txn::SetAcl { .. } => op::SET_ACL,
            Txn::Check { .. } => op::CHECK,
            Txn::Multi(_) => op::MULTI,
            Txn::CreateSession { .. } => op::CREATE_SESSION,
            Txn::CloseSession { .. } => op::CLOSE_SESSION,
            Txn::Error { .. } => op::ERROR,
        }
    }

    /// A short name for logs and the playground.
    pub fn name(&self) -> &'static str {
        match self {
            Txn::Create { .. } => "create",
            Txn::CreateContainer { .. } => "createContainer",
            Txn::CreateTtl { .. } => "createTTL",
            Txn::Delete {
                container: false, ..
            } => "delete",
            Txn::Delete {
                container: true, ..
            } => "deleteContainer",
            Txn::SetData { .. } => "setData",
            Txn::SetAcl { .. } => "setACL",
            Txn::Check { .. } => "check",
            Txn::Multi(_) => "multi",
            Txn::CreateSession { .. } => "createSession",
            Txn::CloseSession { .. } => "closeSession",
            Txn::Error { .. } => "error",
        }
    }

    /// The path the txn touches, if it touches one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Txn::Create { path, .. }
            | Txn::CreateContainer { path, .. }
            | Txn::CreateTtl { path, .. }
            | Txn::Delete { path, .. }
            | Txn::SetData { path, .. }
            | Txn::SetAcl { path, .. }
            | Txn::Check { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// A transaction with its header: one entry of the transaction log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnEntry {
    pub hdr: TxnHeader,
    pub txn: Txn,
    /// The tree's digest after this transaction, as the server that ordered it computed it
    /// (`TxnDigest`; none when `digest.enabled` is off there).
    pub digest: Option<TxnDigest>,
}

impl TxnEntry {
    /// An entry without a digest.
    pub fn new(hdr: TxnHeader, txn: Txn) -> TxnEntry {
        TxnEntry {
            hdr,
            txn,
            digest: None,
        }
    }

    pub fn zxid(&self) -> Zxid {
        self.hdr.zxid
    }
}
