//! # zk-native: ZooKeeper on a real machine
//!
//! The drivers around `zk-core`'s state machines: they move bytes between sockets, disks and
//! clocks and the core, and hold no protocol logic of their own.
//!
//! * [`server`] is `zkserver`: the peer loop around one `zk_core::peer::Peer`, client
//!   connections, the disk thread;
//! * [`quorum`] connects servers: the election and quorum ports;
//! * [`storage`] is a server's dataDir and dataLogDir: the transaction log, snapshots and the
//!   epoch files, and what a restarting server finds in them;
//! * [`stats`] answers four-letter words, AdminServer commands and Prometheus scrapes;
//! * [`cli`] is the zkServer.sh-like command line (configuration, start, stop, status), and
//!   [`ensemble`] the one-command local ensemble;
//! * [`client`] is a ZooKeeper client, used by `zkcli`, `zkbench` and the tests;
//! * [`tutorial`] replays the tutorials against real processes (`zkserver tutorial`);
//! * [`bench`] is `zkbench`: load, failover and lifecycle benchmarks against any ZooKeeper.

pub mod bench;
pub mod cli;
pub mod client;
pub mod ensemble;
pub mod migrate;
pub mod quorum;
pub mod server;
pub mod stats;
pub mod storage;
pub mod tls;
pub mod tutorial;
