//! The disk thread: owns [`Storage`], carries out persist requests in order, many at once with
//! one fsync (group commit), and tells the peer loop how far it got.
//!
//! It is a plain thread, not a task: fsync blocks, and nothing else should wait for it. While it
//! writes one batch, the next gathers in its channel; when it comes back it takes everything
//! that queued up, so the busier the server, the more writes each fsync carries.

use super::Input;
use crate::stats::metrics::DiskMetric;
use crate::storage::Storage;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Instant;
use tokio::sync::mpsc;
use tracing::{info, warn};
use zk_core::peer::PersistOp;
use zk_core::Zxid;

enum Job {
    Persist(Vec<(u64, PersistOp)>),
    Snapshot(Zxid, Vec<u8>),
    Purge(usize),
    Stop,
}

/// Counters for the benchmark and `mntr`: how many fsyncs, how many writes they carried.
#[derive(Debug, Default)]
pub struct DiskStats {
    pub fsyncs: AtomicU64,
    pub appends: AtomicU64,
    pub fsync_micros: AtomicU64,
}

/// The peer loop's handle on the disk thread.
#[derive(Clone)]
pub struct DiskHandle {
    tx: std_mpsc::Sender<Job>,
    pub stats: Arc<DiskStats>,
}

impl DiskHandle {
    pub fn persist(&self, ops: Vec<(u64, PersistOp)>) {
        let _ = self.tx.send(Job::Persist(ops));
    }
    pub fn snapshot(&self, zxid: Zxid, bytes: Vec<u8>) {
        let _ = self.tx.send(Job::Snapshot(zxid, bytes));
    }
    pub fn purge(&self, retain: usize) {
        let _ = self.tx.send(Job::Purge(retain));
    }
    pub fn stop(&self) {
        let _ = self.tx.send(Job::Stop);
    }
}

pub fn spawn(mut storage: Storage, peer: mpsc::UnboundedSender<Input>) -> DiskHandle {
    let (tx, rx) = std_mpsc::channel::<Job>();
    let stats = Arc::new(DiskStats::default());
    let s = stats.clone();
    std::thread::Builder::new()
        .name("zk-disk".into())
        .spawn(move || {
            while let Ok(job) = rx.recv() {
                let mut jobs = vec![job];
                while let Ok(j) = rx.try_recv() {
                    jobs.push(j);
                }
                let mut ops: Vec<PersistOp> = Vec::new();
                let mut last_seq = None;
                let mut after: Vec<Job> = Vec::new();
                let mut stop = false;
                for j in jobs {
                    match j {
                        Job::Persist(batch) => {
                            for (seq, op) in batch {
                                last_seq = Some(seq);
                                ops.push(op);
                            }
                        }
                        Job::Stop => stop = true,
                        other => after.push(other),
                    }
                }
                if !ops.is_empty() {
                    let appends = ops
                        .iter()
                        .filter(|o| matches!(o, PersistOp::Append(_)))
                        .count() as u64;
                    let t = Instant::now();
                    if let Err(e) = storage.apply(&ops) {
                        let _ = peer.send(Input::DiskFailed(format!(
                            "writing the transaction log failed: {e}"
                        )));
                        return;
                    }
                    s.fsyncs.fetch_add(1, Ordering::Relaxed);
                    s.appends.fetch_add(appends, Ordering::Relaxed);
                    let took = t.elapsed();
                    s.fsync_micros
                        .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
                    let _ = peer.send(Input::Disk(DiskMetric::Fsync {
                        ms: took.as_millis() as u64,
                        appends,
                    }));
                    if let Some(seq) = last_seq {
                        if peer.send(Input::Persisted { seq }).is_err() {
                            return;
                        }
                    }
                }
                for j in after {
                    match j {
                        Job::Snapshot(zxid, bytes) => {
                            let t = Instant::now();
                            match storage.write_snapshot(zxid, &bytes) {
                                Ok(()) => {
                                    let took = t.elapsed();
                                    info!("snapshot at {zxid} written in {took:?}");
                                    let ms = took.as_millis() as u64;
                                    let _ =
                                        peer.send(Input::Disk(DiskMetric::Snapshot { zxid, ms }));
                                }
                                Err(e) => warn!("snapshot at {zxid} failed: {e}"),
                            }
                        }
                        Job::Purge(retain) => match storage.purge(retain) {
                            Ok(r) => info!(
                                "autopurge removed {} snapshots and {} logs",
                                r.snapshots.len(),
                                r.logs.len()
                            ),
                            Err(e) => warn!("autopurge failed: {e}"),
                        },
                        _ => {}
                    }
                }
                if stop {
                    return;
                }
            }
        })
        .expect("spawning the disk thread");
    DiskHandle { tx, stats }
}
