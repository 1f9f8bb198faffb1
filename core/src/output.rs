//! What the core asks its driver to do. A driver (the tokio server, the simulator, the browser)
//! pulls [`Output`]s and carries them out: it writes bytes to client connections, appends
//! transactions to disk and reports back when they are durable.

use crate::request::{ConnectResponse, Reply, WatchedEvent};
use crate::txn::TxnEntry;
use crate::types::ConnId;
use serde::{Deserialize, Serialize};

/// Something for one client connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientOutput {
    /// The ConnectResponse. `read_only_flag`: the request carried the readOnly byte, so the
    /// response must carry it too (old clients sent none).
    Connected {
        conn: ConnId,
        resp: ConnectResponse,
        read_only_flag: bool,
    },
    Reply {
        conn: ConnId,
        reply: Reply,
    },
    /// A watch notification (xid -1).
    Event {
        conn: ConnId,
        event: WatchedEvent,
    },
    /// Close the connection after sending what is queued for it.
    Close {
        conn: ConnId,
        reason: String,
    },
}

impl ClientOutput {
    pub fn conn(&self) -> ConnId {
        match self {
            ClientOutput::Connected { conn, .. }
            | ClientOutput::Reply { conn, .. }
            | ClientOutput::Event { conn, .. }
            | ClientOutput::Close { conn, .. } => *conn,
        }
    }
}

/// Something to make durable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PersistOp {
    /// Append a transaction to the log. When it (and everything before it) is on disk the driver
    /// calls `persisted(zxid)`; until then it is neither acknowledged nor applied.
    Append(TxnEntry),
}

/// One thing the core wants done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Output {
    Client(ClientOutput),
    Persist(PersistOp),
}
