//! ZooKeeper's error codes (`KeeperException.Code`), with the numbers that travel in a
//! `ReplyHeader` and the names ZooKeeper prints.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! error_codes {
    ($($name:ident = $code:literal, $msg:literal;)*) => {
        /// A `KeeperException` code. `Ok` is not an error and never appears in an `Err`.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
        pub enum ErrorCode {
            $($name,)*
            /// A code this server does not know (only ever read from a peer or a client).
            Unknown(i32),
        }

        impl ErrorCode {
            /// The number carried in `ReplyHeader.err`.
            pub fn code(self) -> i32 {
                match self {
                    $(ErrorCode::$name => $code,)*
                    ErrorCode::Unknown(c) => c,
                }
            }
            pub fn from_code(code: i32) -> ErrorCode {
                match code {
                    $($code => ErrorCode::$name,)*
                    c => ErrorCode::Unknown(c),
                }
            }
            /// ZooKeeper's `Code.getCodeMessage`: "NoNode", "NodeExists", "Directory not empty", ...
            pub fn message(self) -> &'static str {
                match self {
                    $(ErrorCode::$name => $msg,)*
                    ErrorCode::Unknown(_) => "Unknown error",
                }
            }
        }
    };
}

error_codes! {
    Ok = 0, "ok";
    SystemError = -1, "SystemError";
    RuntimeInconsistency = -2, "RuntimeInconsistency";
    DataInconsistency = -3, "DataInconsistency";
    ConnectionLoss = -4, "ConnectionLoss";
    MarshallingError = -5, "MarshallingError";
    Unimplemented = -6, "Unimplemented";
    OperationTimeout = -7, "OperationTimeout";
    BadArguments = -8, "BadArguments";
    UnknownSession = -12, "UnknownSession";
    NewConfigNoQuorum = -13, "NewConfigNoQuorum";
    ReconfigInProgress = -14, "ReconfigInProgress";
    ApiError = -100, "APIError";
    NoNode = -101, "NoNode";
    NoAuth = -102, "NoAuth";
    BadVersion = -103, "BadVersion";
    NoChildrenForEphemerals = -108, "NoChildrenForEphemerals";
    NodeExists = -110, "NodeExists";
    NotEmpty = -111, "Directory not empty";
    SessionExpired = -112, "Session expired";
    InvalidCallback = -113, "Invalid callback";
    InvalidAcl = -114, "InvalidACL";
    AuthFailed = -115, "AuthFailed";
    SessionMoved = -118, "Session moved";
    NotReadOnly = -119, "Not a read-only call";
    EphemeralOnLocalSession = -120, "Ephemeral node on local session";
    NoWatcher = -121, "No such watcher";
    RequestTimeout = -122, "RequestTimeout";
    ReconfigDisabled = -123, "Reconfig is disabled";
    SessionClosedRequireSaslAuth = -124, "Session closed because client failed to authenticate";
    QuotaExceeded = -125, "Quota has exceeded";
    ThrottledOp = -127, "Op throttled due to high load";
}

impl ErrorCode {
    pub fn is_ok(self) -> bool {
        self == ErrorCode::Ok
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Unknown(c) => write!(f, "Unknown error {c}"),
            e => f.write_str(e.message()),
        }
    }
}

impl std::error::Error for ErrorCode {}

/// The result of an operation on the tree or the session table.
pub type ZkResult<T> = Result<T, ErrorCode>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in [
            0, -1, -2, -8, -101, -102, -103, -108, -110, -111, -112, -114, -115, -118, -121, -127,
        ] {
            assert_eq!(ErrorCode::from_code(c).code(), c);
            assert!(!matches!(ErrorCode::from_code(c), ErrorCode::Unknown(_)));
        }
        assert_eq!(ErrorCode::from_code(-9999), ErrorCode::Unknown(-9999));
        assert_eq!(ErrorCode::NodeExists.to_string(), "NodeExists");
        assert_eq!(ErrorCode::NotEmpty.to_string(), "Directory not empty");
    }
}
