//! Client requests and responses as the core sees them: typed, one variant per operation.
//! [`crate::proto`] turns them into and out of ZooKeeper's wire records.

use crate::acl::{Acl, Id};
use crate::error::ErrorCode;
use crate::stat::Stat;
use crate::txn::op;
use crate::types::{SessionId, Zxid};
use serde::{Deserialize, Serialize};

/// `CreateRequest` / `CreateTTLRequest`. `flags` is kept raw: an unknown mode is the prepare
/// step's BadArguments, not a decoding error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    pub path: String,
    /// `None` is a null buffer (a Java client's `create(path, null, ...)`), which ZooKeeper keeps
    /// and hands back as null.
    pub data: Option<Vec<u8>>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    /// Only in `createTTL`; -1 otherwise, as ZooKeeper passes it.
    pub ttl: i64,
}

/// `CreateMode`, decoded from a create's flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CreateMode {
    Persistent,
    Ephemeral,
    PersistentSequential,
    EphemeralSequential,
    Container,
    PersistentWithTtl,
    PersistentSequentialWithTtl,
}

impl CreateMode {
    pub fn from_flags(flags: i32) -> Option<CreateMode> {
        Some(match flags {
            0 => CreateMode::Persistent,
            1 => CreateMode::Ephemeral,
            2 => CreateMode::PersistentSequential,
            3 => CreateMode::EphemeralSequential,
            4 => CreateMode::Container,
            5 => CreateMode::PersistentWithTtl,
            6 => CreateMode::PersistentSequentialWithTtl,
            _ => return None,
        })
    }
    pub fn flags(self) -> i32 {
        match self {
            CreateMode::Persistent => 0,
            CreateMode::Ephemeral => 1,
            CreateMode::PersistentSequential => 2,
            CreateMode::EphemeralSequential => 3,
            CreateMode::Container => 4,
            CreateMode::PersistentWithTtl => 5,
            CreateMode::PersistentSequentialWithTtl => 6,
        }
    }
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }
    pub fn is_container(self) -> bool {
        self == CreateMode::Container
    }
    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

/// `AddWatchMode`: 0 persistent, 1 persistent recursive.
pub mod add_watch_mode {
    pub const PERSISTENT: i32 = 0;
    pub const PERSISTENT_RECURSIVE: i32 = 1;
}

/// `WatcherType` of checkWatches / removeWatches: 1 children, 2 data, 3 any, 4 persistent,
/// 5 persistent recursive.
pub mod watcher_type {
    pub const CHILDREN: i32 = 1;
    pub const DATA: i32 = 2;
    pub const ANY: i32 = 3;
    pub const PERSISTENT: i32 = 4;
    pub const PERSISTENT_RECURSIVE: i32 = 5;
}

/// `SetWatches` / `SetWatches2`: the watches a client re-registers after it reconnects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetWatches {
    pub relative_zxid: Zxid,
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    /// Only in SetWatches2.
    pub persistent: Vec<String>,
    /// Only in SetWatches2.
    pub persistent_recursive: Vec<String>,
}

/// One client request, decoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// `op` is one of create (1), create2 (15), createContainer (19), createTTL (21): it decides the
    /// response's shape.
    Create {
        op: i32,
        req: CreateRequest,
    },
    Delete {
        path: String,
        version: i32,
    },
    Exists {
        path: String,
        watch: bool,
    },
    GetData {
        path: String,
        watch: bool,
    },
    SetData {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    GetAcl {
        path: String,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    GetChildren {
        path: String,
        watch: bool,
    },
    GetChildren2 {
        path: String,
        watch: bool,
    },
    Sync {
        path: String,
    },
    Check {
        path: String,
        version: i32,
    },
    /// Only Create, Delete, SetData and Check inside.
    Multi(Vec<Request>),
    /// Only GetChildren and GetData inside.
    MultiRead(Vec<Request>),
    GetAllChildrenNumber {
        path: String,
    },
    GetEphemerals {
        prefix: String,
    },
    AddWatch {
        path: String,
        mode: i32,
    },
    CheckWatches {
        path: String,
        watcher_type: i32,
    },
    RemoveWatches {
        path: String,
        watcher_type: i32,
    },
    /// `v2` tells SetWatches2 (opcode 105) from SetWatches (101).
    SetWatches {
        v2: bool,
        watches: SetWatches,
    },
    Auth {
        auth_type: i32,
        scheme: String,
        auth: Vec<u8>,
    },
    /// `sasl` (opcode 102): a `GetSASLRequest`'s token, one step of a SASL exchange.
    Sasl {
        token: Vec<u8>,
    },
    WhoAmI,
    Ping,
    CloseSession,
    Reconfig {
        joining: Option<String>,
        leaving: Option<String>,
        new_members: Option<String>,
        cur_config_id: i64,
    },
    /// An operation this server does not implement (SASL, an unknown opcode): answered with
    /// Unimplemented.
    /// A request whose body could not be read: answered with MarshallingError in its turn, as
    /// ZooKeeper does.
    Malformed {
        op: i32,
    },
    Unsupported {
        op: i32,
    },
}

impl Request {
    /// The opcode this request travels under.
    pub fn op_code(&self) -> i32 {
        match self {
            Request::Create { op, .. } => *op,
            Request::Delete { .. } => op::DELETE,
            Request::Exists { .. } => op::EXISTS,
            Request::GetData { .. } => op::GET_DATA,
            Request::SetData { .. } => op::SET_DATA,
            Request::GetAcl { .. } => op::GET_ACL,
            Request::SetAcl { .. } => op::SET_ACL,
            Request::GetChildren { .. } => op::GET_CHILDREN,
            Request::GetChildren2 { .. } => op::GET_CHILDREN2,
            Request::Sync { .. } => op::SYNC,
            Request::Check { .. } => op::CHECK,
            Request::Multi(_) => op::MULTI,
            Request::MultiRead(_) => op::MULTI_READ,
            Request::GetAllChildrenNumber { .. } => op::GET_ALL_CHILDREN_NUMBER,
            Request::GetEphemerals { .. } => op::GET_EPHEMERALS,
            Request::AddWatch { .. } => op::ADD_WATCH,
            Request::CheckWatches { .. } => op::CHECK_WATCHES,
            Request::RemoveWatches { .. } => op::REMOVE_WATCHES,
            Request::SetWatches { v2: false, .. } => op::SET_WATCHES,
            Request::SetWatches { v2: true, .. } => op::SET_WATCHES2,
            Request::Auth { .. } => op::AUTH,
            Request::Sasl { .. } => op::SASL,
            Request::WhoAmI => op::WHO_AM_I,
            Request::Ping => op::PING,
            Request::CloseSession => op::CLOSE_SESSION,
            Request::Reconfig { .. } => op::RECONFIG,
            Request::Unsupported { op } | Request::Malformed { op } => *op,
        }
    }

    /// Does this request change the tree (and so go through the leader as a transaction)?
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create { .. }
                | Request::Delete { .. }
                | Request::SetData { .. }
                | Request::SetAcl { .. }
                | Request::Check { .. }
                | Request::Multi(_)
                | Request::CloseSession
                | Request::Reconfig { .. }
        )
    }

    /// The path the request names, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            Request::Create { req, .. } => Some(&req.path),
            Request::Delete { path, .. }
            | Request::Exists { path, .. }
            | Request::GetData { path, .. }
            | Request::SetData { path, .. }
            | Request::GetAcl { path }
            | Request::SetAcl { path, .. }
            | Request::GetChildren { path, .. }
            | Request::GetChildren2 { path, .. }
            | Request::Sync { path }
            | Request::Check { path, .. }
            | Request::GetAllChildrenNumber { path }
            | Request::AddWatch { path, .. }
            | Request::CheckWatches { path, .. }
            | Request::RemoveWatches { path, .. } => Some(path),
            Request::GetEphemerals { prefix } => Some(prefix),
            _ => None,
        }
    }

    /// ZooKeeper's short name of the operation, as logs and `cons` print it.
    pub fn name(&self) -> &'static str {
        op_name(self.op_code())
    }
}

/// `Request.op2String`.
pub fn op_name(code: i32) -> &'static str {
    match code {
        op::NOTIFICATION => "notification",
        op::CREATE => "create",
        op::CREATE2 => "create2",
        op::CREATE_CONTAINER => "createContainer",
        op::CREATE_TTL => "createTTL",
        op::DELETE => "delete",
        op::DELETE_CONTAINER => "deleteContainer",
        op::EXISTS => "exists",
        op::GET_DATA => "getData",
        op::SET_DATA => "setData",
        op::GET_ACL => "getACL",
        op::SET_ACL => "setACL",
        op::GET_CHILDREN => "getChildren",
        op::GET_CHILDREN2 => "getChildren2",
        op::SYNC => "sync",
        op::PING => "ping",
        op::CHECK => "check",
        op::MULTI => "multi",
        op::MULTI_READ => "multiRead",
        op::RECONFIG => "reconfig",
        op::CHECK_WATCHES => "checkWatches",
        op::REMOVE_WATCHES => "removeWatches",
        op::AUTH => "auth",
        op::SET_WATCHES => "setWatches",
        op::SET_WATCHES2 => "setWatches2",
        op::SASL => "sasl",
        op::GET_EPHEMERALS => "getEphemerals",
        op::GET_ALL_CHILDREN_NUMBER => "getAllChildrenNumber",
        op::ADD_WATCH => "addWatch",
        op::WHO_AM_I => "whoAmI",
        op::CREATE_SESSION => "createSession",
        op::CLOSE_SESSION => "closeSession",
        op::ERROR => "error",
        _ => "unknown",
    }
}

/// One result of a multi or multiRead (`OpResult`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// `op` is the create's opcode; `stat` is present for all but plain `create`.
    Create {
        op: i32,
        path: String,
        stat: Option<Stat>,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetChildren {
        children: Vec<String>,
    },
    GetData {
        data: Option<Vec<u8>>,
        stat: Stat,
    },
    Error {
        err: ErrorCode,
    },
}

/// `ClientInfo` of whoAmI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub auth_scheme: String,
    pub user: String,
}

/// `AuthUtil.getClientInfos`: the user is what the scheme's provider calls it — the name
/// before the colon for digest, the address for ip, nothing for a scheme with no provider
/// (super).
impl From<&Id> for ClientInfo {
    fn from(id: &Id) -> ClientInfo {
        let user = match id.scheme.as_str() {
            "digest" => id.id.split(':').next().unwrap_or_default().to_string(),
            "ip" => id.id.clone(),
            _ => String::new(),
        };
        ClientInfo {
            auth_scheme: id.scheme.clone(),
            user,
        }
    }
}

/// The body of a reply. When a reply carries an error, there is no body ([`Response::Empty`]),
/// except for multi whose header says ok and whose results carry the errors, as in ZooKeeper.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Empty,
    Create {
        path: String,
    },
    /// create2, createContainer, createTTL.
    Create2 {
        path: String,
        stat: Stat,
    },
    /// exists, setData, setACL (and check, whose body ZooKeeper sends as a SetDataResponse).
    Stat(Stat),
    GetData {
        data: Option<Vec<u8>>,
        stat: Stat,
    },
    GetAcl {
        acl: Vec<Acl>,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    GetChildren2 {
        children: Vec<String>,
        stat: Stat,
    },
    Sync {
        path: String,
    },
    Multi(Vec<OpResult>),
    AllChildrenNumber(i32),
    Ephemerals(Vec<String>),
    WhoAmI(Vec<ClientInfo>),
    /// `SetSASLResponse`: the server's next token (null when SASL is not configured).
    Sasl(Option<Vec<u8>>),
    /// addWatch answers with an `ErrorResponse(0)`.
    ErrorResponse(i32),
    /// reconfig answers with a GetDataResponse of the new configuration.
    Reconfig {
        data: Vec<u8>,
        stat: Stat,
    },
}

/// A reply to one request: `ReplyHeader` plus body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub xid: i32,
    pub zxid: Zxid,
    pub err: ErrorCode,
    pub body: Response,
}

/// Special xids (`ClientCnxn`): notifications -1, pings -2, auth -4, setWatches -8.
pub mod xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}

/// `Watcher.Event.EventType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    None,
    NodeCreated,
    NodeDeleted,
    NodeDataChanged,
    NodeChildrenChanged,
    DataWatchRemoved,
    ChildWatchRemoved,
    PersistentWatchRemoved,
}

impl EventType {
    pub fn code(self) -> i32 {
        match self {
            EventType::None => -1,
            EventType::NodeCreated => 1,
            EventType::NodeDeleted => 2,
            EventType::NodeDataChanged => 3,
            EventType::NodeChildrenChanged => 4,
            EventType::DataWatchRemoved => 5,
            EventType::ChildWatchRemoved => 6,
            EventType::PersistentWatchRemoved => 7,
        }
    }
    pub fn from_code(c: i32) -> Option<EventType> {
        Some(match c {
            -1 => EventType::None,
            1 => EventType::NodeCreated,
            2 => EventType::NodeDeleted,
            3 => EventType::NodeDataChanged,
            4 => EventType::NodeChildrenChanged,
            5 => EventType::DataWatchRemoved,
            6 => EventType::ChildWatchRemoved,
            7 => EventType::PersistentWatchRemoved,
            _ => return None,
        })
    }
}

/// `Watcher.Event.KeeperState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeeperState {
    Disconnected,
    SyncConnected,
    AuthFailed,
    ConnectedReadOnly,
    SaslAuthenticated,
    Expired,
    Closed,
}

impl KeeperState {
    pub fn code(self) -> i32 {
        match self {
            KeeperState::Disconnected => 0,
            KeeperState::SyncConnected => 3,
            KeeperState::AuthFailed => 4,
            KeeperState::ConnectedReadOnly => 5,
            KeeperState::SaslAuthenticated => 6,
            KeeperState::Expired => -112,
            KeeperState::Closed => 7,
        }
    }
    pub fn from_code(c: i32) -> Option<KeeperState> {
        Some(match c {
            0 => KeeperState::Disconnected,
            3 => KeeperState::SyncConnected,
            4 => KeeperState::AuthFailed,
            5 => KeeperState::ConnectedReadOnly,
            6 => KeeperState::SaslAuthenticated,
            -112 => KeeperState::Expired,
            7 => KeeperState::Closed,
            _ => return None,
        })
    }
}

/// A watch notification (`WatcherEvent`), sent with xid -1.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchedEvent {
    pub event_type: EventType,
    pub state: KeeperState,
    pub path: String,
}

/// `ConnectRequest`. `read_only` is absent from 3.3 clients; ZooKeeper answers in kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: Zxid,
    pub timeout: i32,
    pub session_id: SessionId,
    pub passwd: Vec<u8>,
    pub read_only: Option<bool>,
}

/// `ConnectResponse`. A timeout and session id of 0 tell the client its session is gone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout: i32,
    pub session_id: SessionId,
    pub passwd: Vec<u8>,
    pub read_only: bool,
}
