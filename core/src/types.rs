//! Identifiers that carry meaning: zxids, server ids, session ids and client connection ids.
//!
//! ZooKeeper passes all of these around as bare `long`s; here each has its own type so that a
//! session id can never be handed to something that wants a zxid.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A ZooKeeper transaction id. The high 32 bits are the epoch of the leader that proposed the
/// transaction, the low 32 bits a counter that starts again from 1 in every new epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Zxid(pub u64);

impl Zxid {
    pub const ZERO: Zxid = Zxid(0);

    pub const fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid(((epoch as u64) << 32) | counter as u64)
    }
    pub const fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }
    pub const fn counter(self) -> u32 {
        self.0 as u32
    }
    /// The zxid as it travels on the wire (a jute `long`).
    pub const fn as_i64(self) -> i64 {
        self.0 as i64
    }
    pub const fn from_i64(v: i64) -> Zxid {
        Zxid(v as u64)
    }
    /// The next zxid in the same epoch.
    pub const fn next(self) -> Zxid {
        Zxid(self.0 + 1)
    }
    /// Shown as ZooKeeper's logs and the playground show it: epoch and counter apart.
    pub fn pretty(self) -> String {
        format!("0x{:08x}|{:08x}", self.epoch(), self.counter())
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}
impl fmt::Debug for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// A server's `myid` (the `N` of `server.N=...`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct ServerId(pub u64);

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
impl fmt::Debug for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sid{}", self.0)
    }
}

/// A client session id. Built as ZooKeeper builds them: the creating server's id in the top byte,
/// a time-derived value below it, incremented per session.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct SessionId(pub i64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}
impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// One client connection to one server, numbered by whoever drives the server. Watches belong to a
/// connection (as they belong to a `ServerCnxn` in ZooKeeper), sessions outlive connections.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug, Serialize, Deserialize,
)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn{}", self.0)
    }
}

/// Milliseconds on the caller's clock. The core never reads a clock: every entry point takes one.
pub type Millis = u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_anatomy() {
        let z = Zxid::new(1, 1);
        assert_eq!(z.0, 0x1_0000_0001);
        assert_eq!(z.epoch(), 1);
        assert_eq!(z.counter(), 1);
        assert_eq!(z.to_string(), "0x100000001");
        assert_eq!(Zxid::new(2, 5).pretty(), "0x00000002|00000005");
        assert_eq!(Zxid::from_i64(Zxid::new(3, 7).as_i64()), Zxid::new(3, 7));
        assert!(Zxid::new(2, 0) > Zxid::new(1, u32::MAX));
    }
}
