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
    /// A snapshot written a piece at a time: its zxid and first bytes, then pieces, then the end.
    SnapshotBegin(Zxid, Vec<u8>),
    SnapshotPiece(Vec<u8>),
    SnapshotEnd,
    SnapshotAbort,
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
    /// Begins a snapshot at `zxid` with its first bytes; [`DiskHandle::snapshot_piece`]s
    /// follow, then [`DiskHandle::snapshot_end`] (or [`DiskHandle::snapshot_abort`]).
    pub fn snapshot_begin(&self, zxid: Zxid, header: Vec<u8>) {
        let _ = self.tx.send(Job::SnapshotBegin(zxid, header));
    }
    pub fn snapshot_piece(&self, bytes: Vec<u8>) {
        let _ = self.tx.send(Job::SnapshotPiece(bytes));
    }
    pub fn snapshot_end(&self) {
        let _ = self.tx.send(Job::SnapshotEnd);
    }
    pub fn snapshot_abort(&self) {
        let _ = self.tx.send(Job::SnapshotAbort);
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
            let mut snapshot_started: Option<Instant> = None;
            while let Ok(job) = rx.recv() {
                let mut jobs = vec![job];
                while let Ok(j) = rx.try_recv() {
                    jobs.push(j);
                }
                // Appends that queued up together share one fsync, ahead of the snapshot pieces
                // and purges that queued with them: a snapshot never needs to wait for a later
                // append. But a truncation or an installed snapshot replaces the history a
                // snapshot in the making belongs to, so with one of those everything keeps its
                // order.
                let replaces = jobs.iter().any(|j| match j {
                    Job::Persist(b) => b.iter().any(|(_, op)| {
                        matches!(op, PersistOp::Truncate(_) | PersistOp::Snapshot { .. })
                    }),
                    _ => false,
                });
                let groups: Vec<Vec<Job>> = if replaces {
                    jobs.into_iter().map(|j| vec![j]).collect()
                } else {
                    let (persist, after): (Vec<Job>, Vec<Job>) = jobs
                        .into_iter()
                        .partition(|j| matches!(j, Job::Persist(_) | Job::Stop));
                    vec![persist, after]
                };
                for group in groups {
                    let mut ops: Vec<PersistOp> = Vec::new();
                    let mut last_seq = None;
                    let mut stop = false;
                    let mut after: Vec<Job> = Vec::new();
                    for j in group {
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
                        snapshot_job(&mut storage, j, &mut snapshot_started, &peer);
                    }
                    if stop {
                        storage.abort_snapshot();
                        return;
                    }
                }
            }
        })
        .expect("spawning the disk thread");
    DiskHandle { tx, stats }
}

/// Carries out a snapshot or purge job. A snapshot that fails to write is dropped with a
/// warning: the log still holds everything, and the next one may succeed.
fn snapshot_job(
    storage: &mut Storage,
    job: Job,
    started: &mut Option<Instant>,
    peer: &mpsc::UnboundedSender<Input>,
) {
    match job {
        Job::SnapshotBegin(zxid, header) => {
            *started = Some(Instant::now());
            if let Err(e) = storage.begin_snapshot(zxid, &header) {
                warn!("snapshot at {zxid} failed: {e}");
            }
        }
        Job::SnapshotPiece(bytes) => {
            if let Err(e) = storage.write_snapshot_piece(&bytes) {
                warn!("snapshot failed: {e}");
            }
        }
        Job::SnapshotEnd => match storage.finish_snapshot() {
            Ok(Some((zxid, bytes))) => {
                let took = started.take().map(|t| t.elapsed()).unwrap_or_default();
                info!("snapshot at {zxid} ({bytes} bytes) written in {took:?}");
                let ms = took.as_millis() as u64;
                let _ = peer.send(Input::Disk(DiskMetric::Snapshot { zxid, ms }));
            }
            Ok(None) => {}
            Err(e) => warn!("snapshot failed: {e}"),
        },
        Job::SnapshotAbort => storage.abort_snapshot(),
        Job::Purge(retain) => match storage.purge(retain) {
            Ok(r) => info!(
                "autopurge removed {} snapshots and {} logs",
                r.snapshots.len(),
                r.logs.len()
            ),
            Err(e) => warn!("autopurge failed: {e}"),
        },
        Job::Persist(_) | Job::Stop => {}
    }
}
