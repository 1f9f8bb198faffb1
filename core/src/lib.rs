//! # zk-core: ZooKeeper's logic, with no IO
//!
//! This crate holds everything a ZooKeeper server decides — the data tree, sessions, watches,
//! ACLs, FastLeaderElection and Zab, and Apache ZooKeeper's wire and file formats — and nothing
//! it *does*: no sockets, no files, no threads, no clock, no randomness. Time is an argument, and
//! the same inputs give the same outputs, bit for bit, natively and in WebAssembly.
//!
//! ## How a change flows
//!
//! ```text
//!   Request ──prep──▶ Txn (zxid, time) ──log──▶ persisted ──commit──▶ DataTree::apply ──▶ Reply
//!                                                                          │
//!                                                                          └──▶ watch events
//! ```
//!
//! * [`prep::Prep`] (ZooKeeper's PrepRequestProcessor) turns a write request into a [`txn::Txn`],
//!   checking versions, ACLs and sequence numbers against the tree plus the changes that are
//!   prepared but not yet applied.
//! * [`tree::DataTree::apply`] applies transactions in zxid order; the tree is a pure function of
//!   the transaction sequence, so `replay(log) == tree`.
//! * [`watch::WatchManager`] turns the tree's change list into one-shot and persistent watch
//!   events for the connections that asked for them.
//! * [`session::SessionTracker`] negotiates timeouts and expires sessions in tick buckets.
//! * [`snapshot`] serializes tree and sessions deterministically and restores them.

pub mod acl;
pub mod client;
pub mod codec;
pub mod config;
pub mod digest;
pub mod epochs;
pub mod error;
pub mod jute;
pub mod legacy;
pub mod output;
pub mod path;
pub mod peer;
pub mod prep;
pub mod proto;
pub mod request;
pub mod sasl;
pub mod server;
pub mod session;
pub mod snapshot;
pub mod stat;
pub mod tree;
pub mod txn;
pub mod txnlog;
pub mod types;
pub mod watch;
pub mod wire;

pub use error::{ErrorCode, ZkResult};
pub use types::{ConnId, Millis, ServerId, SessionId, Zxid};
