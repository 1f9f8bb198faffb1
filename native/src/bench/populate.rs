//! Filling a server with znodes: the data-size cases (memory, recovery, failover and snapshots
//! with 1,000,000 znodes) start from a tree made here.
//!
//! The znodes are `<prefix>/n00000000`… with values as [`super::workload::make_value`] writes
//! them. Creates go one per transaction (so the log and snapshots see as many transactions as
//! znodes, as a real workload that grew the tree would) or `per_txn` to a multi (fast).

use super::wire::{Conn, WireError};
use super::workload::{create_request, make_value, Tag, SETUP_WRITER};
use indicatif::ProgressBar;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use zk_core::request::{OpResult, Request, Response};
use zk_core::ErrorCode;

/// How a tree is filled.
#[derive(Clone, Debug)]
pub struct Populate {
    pub servers: Vec<String>,
    pub prefix: String,
    pub znodes: u64,
    pub value_size: usize,
    /// Creates per transaction: 1 for plain creates, more for multis.
    pub per_txn: usize,
    pub sessions: usize,
    pub window: usize,
}

impl Populate {
    /// The tree the data-size cases start from: `znodes` under [`DATA_PREFIX`], one create per
    /// transaction, 16 sessions with 64 requests in flight each.
    pub fn one_per_txn(servers: Vec<String>, znodes: u64, value_size: usize) -> Populate {
        Populate {
            servers,
            prefix: DATA_PREFIX.into(),
            znodes,
            value_size,
            per_txn: 1,
            sessions: 16,
            window: 64,
        }
    }
}

/// Where the data-size cases put their znodes.
pub const DATA_PREFIX: &str = "/zkbench-data";

/// The name of znode `i` under `prefix`.
pub fn znode(prefix: &str, i: u64) -> String {
    format!("{prefix}/n{i:08}")
}

fn failed(r: &zk_core::request::Reply) -> Option<ErrorCode> {
    if !r.err.is_ok() {
        return Some(r.err);
    }
    if let Response::Multi(res) = &r.body {
        return res.iter().find_map(|x| match x {
            OpResult::Error { err } if !err.is_ok() => Some(*err),
            _ => None,
        });
    }
    None
}

async fn fill(
    p: Arc<Populate>,
    idx: usize,
    from: u64,
    to: u64,
    done: Arc<AtomicU64>,
) -> Result<(), String> {
    let addr = &p.servers[idx % p.servers.len()];
    let mut c = Conn::connect(addr, 30_000, Duration::from_secs(15))
        .await
        .map_err(|e| e.to_string())?;
    let per = p.per_txn.max(1) as u64;
    let mut i = from;
    while i < to {
        let batch_start = i;
        let mut reqs = Vec::new();
        while i < to && reqs.len() < 1024 {
            let end = (i + per).min(to);
            let mut ops: Vec<Request> = (i..end)
                .map(|k| {
                    let tag = Tag {
                        key: k as u32,
                        writer: SETUP_WRITER,
                        seq: 0,
                    };
                    create_request(znode(&p.prefix, k), make_value(tag, p.value_size))
                })
                .collect();
            reqs.push(if per == 1 {
                ops.remove(0)
            } else {
                Request::Multi(ops)
            });
            i = end;
        }
        let replies = c
            .pipeline(&reqs, p.window, Duration::from_secs(300))
            .await
            .map_err(|e: WireError| e.to_string())?;
        if let Some(e) = replies.iter().find_map(failed) {
            return Err(format!(
                "creating znodes under {} failed: {} ({})",
                p.prefix,
                e.message(),
                e.code()
            ));
        }
        done.fetch_add(i - batch_start, Ordering::Relaxed);
    }
    c.close(Duration::from_secs(5)).await;
    Ok(())
}

/// Creates the prefix and `znodes` znodes under it; returns how long it took.
pub async fn populate(p: Populate, pb: &ProgressBar) -> Result<Duration, String> {
    if p.servers.is_empty() {
        return Err("no server to fill".into());
    }
    let t = Instant::now();
    let mut c = Conn::connect(&p.servers[0], 30_000, Duration::from_secs(15))
        .await
        .map_err(|e| e.to_string())?;
    let r = c
        .call(
            &create_request(p.prefix.clone(), Vec::new()),
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| e.to_string())?;
    if !r.err.is_ok() {
        return Err(format!("cannot create {}: {}", p.prefix, r.err.message()));
    }
    c.close(Duration::from_secs(5)).await;
    let p = Arc::new(p);
    let done = Arc::new(AtomicU64::new(0));
    let sessions = p.sessions.max(1) as u64;
    let chunk = p.znodes.div_ceil(sessions);
    let mut set = tokio::task::JoinSet::new();
    for s in 0..sessions {
        let from = s * chunk;
        let to = ((s + 1) * chunk).min(p.znodes);
        if from < to {
            set.spawn(fill(p.clone(), s as usize, from, to, done.clone()));
        }
    }
    let ticker = {
        let (done, pb, n) = (done.clone(), pb.clone(), p.znodes);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                pb.set_message(format!(
                    "created {} of {n} znodes",
                    done.load(Ordering::Relaxed)
                ));
            }
        })
    };
    let mut result = Ok(());
    while let Some(j) = set.join_next().await {
        match j {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(e) => result = Err(format!("a populating task failed: {e}")),
        }
    }
    ticker.abort();
    result.map(|_| t.elapsed())
}

/// The number of children of `path`, from its stat.
pub async fn count_children(addr: &str, path: &str) -> Result<i32, String> {
    let mut c = Conn::connect(addr, 30_000, Duration::from_secs(15))
        .await
        .map_err(|e| e.to_string())?;
    let r = c
        .call(
            &Request::Exists {
                path: path.to_string(),
                watch: false,
            },
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| e.to_string())?;
    c.close(Duration::from_secs(5)).await;
    match r.body {
        Response::Stat(st) => Ok(st.num_children),
        _ => Err(format!("{path}: {}", r.err.message())),
    }
}
