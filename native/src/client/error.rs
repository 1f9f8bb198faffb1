//! What can go wrong with a client call.
//!
//! ZooKeeper's Java client reports most failures as a `KeeperException`: a code from the server
//! (NoNode, NodeExists, BadVersion, ...) or one the client made up itself when the connection
//! failed (ConnectionLoss, SessionExpired, AuthFailed). [`ClientError::Keeper`] is that, and its
//! text is `KeeperException.getMessage()`'s, `KeeperErrorCode = NoNode for /a`, so a tool such as
//! zkcli can print it as zkCli.sh does. The other variants are mistakes the client catches before
//! anything is sent.

use zk_core::path::InvalidPath;
use zk_core::ErrorCode;

/// An error from a [`super::Client`] call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// A `KeeperException`: the server's error code for the request on `path`, or one of
    /// ConnectionLoss, SessionExpired and AuthFailed when the connection or session failed under
    /// the request. `path` is the client's path (chroot not included), `None` for calls that name
    /// no path.
    #[error("{}", keeper_message(*code, path.as_deref()))]
    Keeper {
        code: ErrorCode,
        path: Option<String>,
    },
    /// An operation of a multi failed, and so the whole multi did (nothing was applied).
    #[error("{} (operation #{index} of the multi)", keeper_message(*code, Some(path)))]
    MultiFailed {
        index: usize,
        code: ErrorCode,
        path: String,
    },
    /// The path was refused before it was sent (`PathUtils.validatePath`).
    #[error(transparent)]
    InvalidPath(#[from] InvalidPath),
    /// An argument the client refuses before sending anything (a TTL outside its range, a TTL
    /// for a mode that takes none).
    #[error("{0}")]
    InvalidArgument(String),
    /// The connect string could not be read.
    #[error("bad connect string {connect_string:?}: {reason}")]
    BadConnectString {
        connect_string: String,
        reason: String,
    },
    /// No server of the connect string established a session in time.
    #[error("could not connect to any server of {connect_string} within {timeout_ms} ms")]
    ConnectTimeout {
        connect_string: String,
        timeout_ms: u64,
    },
    /// The client was closed: by [`super::Client::close`], or because every handle was dropped.
    #[error("the client is closed")]
    Closed,
}

/// `KeeperException.getMessage()`.
fn keeper_message(code: ErrorCode, path: Option<&str>) -> String {
    match path {
        Some(p) if !p.is_empty() => format!("KeeperErrorCode = {code} for {p}"),
        _ => format!("KeeperErrorCode = {code}"),
    }
}

impl ClientError {
    /// The error code a caller that thinks in ZooKeeper codes (a zkCli command, a recipe) sees
    /// for this failure: the server's, or what Java's client reports when the connection or the
    /// session failed under it.
    pub fn zk_code(&self) -> ErrorCode {
        match self {
            ClientError::Keeper { code, .. } | ClientError::MultiFailed { code, .. } => *code,
            ClientError::InvalidPath(_) | ClientError::InvalidArgument(_) => {
                ErrorCode::BadArguments
            }
            // A closed handle: Java's client says SessionExpired.
            ClientError::Closed => ErrorCode::SessionExpired,
            ClientError::BadConnectString { .. } | ClientError::ConnectTimeout { .. } => {
                ErrorCode::ConnectionLoss
            }
        }
    }

    /// A `KeeperException` with no path yet; [`ClientError::at`] adds it.
    pub(crate) fn code(code: ErrorCode) -> ClientError {
        ClientError::Keeper { code, path: None }
    }

    /// The same error about `path`, if it names no path yet.
    pub(crate) fn at(self, path: &str) -> ClientError {
        match self {
            ClientError::Keeper { code, path: None } => ClientError::Keeper {
                code,
                path: Some(path.to_string()),
            },
            e => e,
        }
    }

    /// The ZooKeeper error code, for the errors that have one.
    pub fn keeper_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Keeper { code, .. } | ClientError::MultiFailed { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The path the error is about, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            ClientError::Keeper { path, .. } => path.as_deref(),
            ClientError::MultiFailed { path, .. } => Some(path),
            ClientError::InvalidPath(e) => Some(&e.path),
            _ => None,
        }
    }

    /// The connection broke (or could not be made) while the request was outstanding: it may or
    /// may not have been applied. The client reconnects by itself.
    pub fn is_connection_loss(&self) -> bool {
        self.keeper_code() == Some(ErrorCode::ConnectionLoss)
    }

    /// The session is gone for good; a new client is needed.
    pub fn is_session_expired(&self) -> bool {
        self.keeper_code() == Some(ErrorCode::SessionExpired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_keeper_exceptions() {
        let e = ClientError::code(ErrorCode::NoNode).at("/a");
        assert_eq!(e.to_string(), "KeeperErrorCode = NoNode for /a");
        assert_eq!(e.keeper_code(), Some(ErrorCode::NoNode));
        assert_eq!(e.path(), Some("/a"));
        // A path is added once: the first one given is the one the error is about.
        assert_eq!(e.clone().at("/b"), e);
        assert_eq!(
            ClientError::code(ErrorCode::InvalidAcl).to_string(),
            "KeeperErrorCode = InvalidACL"
        );
        assert_eq!(
            ClientError::code(ErrorCode::NotEmpty).at("/x").to_string(),
            "KeeperErrorCode = Directory not empty for /x"
        );
        assert!(ClientError::code(ErrorCode::ConnectionLoss).is_connection_loss());
        assert!(ClientError::code(ErrorCode::SessionExpired).is_session_expired());
        let m = ClientError::MultiFailed {
            index: 1,
            code: ErrorCode::BadVersion,
            path: "/m".into(),
        };
        assert_eq!(
            m.to_string(),
            "KeeperErrorCode = BadVersion for /m (operation #1 of the multi)"
        );
    }
}
