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

/// A duration: `10` or `10s`, `500ms`, `2m`.
/// (Used by the command lines of zkbench.)
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 10, 10s, 500ms, 2m)"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("{s:?}: a duration is a non-negative number"));
    }
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (ms, s, m)")),
    };
    std::time::Duration::try_from_secs_f64(secs).map_err(|e| format!("{s:?}: {e}"))
}
