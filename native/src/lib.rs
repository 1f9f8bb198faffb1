//! # zk-native: ZooKeeper on a real machine
//!
//! The drivers around `zk-core`'s state machines: they move bytes between sockets, disks and
//! clocks and the core, and hold no protocol logic of their own.
//!
//! * [`storage`] is a server's dataDir and dataLogDir: the transaction log, snapshots and the
//!   epoch files, and what a restarting server finds in them.

pub mod storage;
