//! `zkbench`: load, failover and lifecycle benchmarks for any ZooKeeper-compatible server.
//!
//! * [`wire`] is one session on the client port, speaking the wire protocol with
//!   `zk_core::proto` (framing, xids, pings), built to keep many requests in flight;
//! * [`workload`] is what a session sends: the operation mix, the znodes, self-checking values;
//! * [`check`] holds the correctness spot checks every reply goes through, so that a fast wrong
//!   server cannot win;
//! * [`load`] runs N sessions for a duration or an operation count and measures them;
//! * [`snapwatch`] finds when servers were writing snapshots, to split latencies by it;
//! * [`report`] prints the results as a table or JSON;
//! * [`cluster`] starts, kills and restarts servers (zkserver or Apache ZooKeeper) for the
//!   benchmarks that need to control them: [`failover`] and [`lifecycle`] (start-up, memory,
//!   recovery; and the disk's fsync rate), which start from trees [`populate`] fills;
//! * [`compare`] puts two servers' results side by side with the ratios of the targets;
//! * [`attack`] is an adversarial load against one server, with a probe that must get through.

pub mod attack;
pub mod check;
pub mod cluster;
pub mod compare;
pub mod failover;
pub mod lifecycle;
pub mod load;
pub mod populate;
pub mod report;
pub mod snapwatch;
pub mod wire;
pub mod workload;
