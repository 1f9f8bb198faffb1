//! The disk thread: owns [`Storage`], carries out persist requests in order, many at once with
//! one fsync (group commit), and tells the peer loop how far it got.
//!
//! It is a plain thread, not a task: fsync blocks, and nothing else should wait for it. While it
//! writes one batch, the next gathers in its channel; when it comes back it takes everything
//! that queued up, so the busier the server, the more writes each fsync carries.

use super::Input;
use crate::stats::metrics::DiskMetric;
use crate::storage::{SnapshotFile, Storage};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{info, warn};
use zk_core::peer::{PersistFailure, PersistOp};
use zk_core::Zxid;

/// A snapshot file complete and fsynced by the snapshot thread, to be put in place by the disk
/// thread. It travels by way of the peer loop, so that the snapshot thread holds no handle on
/// the disk thread (each thread ends when the one feeding it does).
#[derive(Debug)]
pub struct SnapshotWritten {
    zxid: Zxid,
    tmp: PathBuf,
    history: u64,
    bytes: u64,
    took: Duration,
}

enum Job {
    Persist(Vec<(u64, PersistOp)>),
    /// A snapshot written a piece at a time: its zxid and first bytes, then pieces, then the end.
    SnapshotBegin(Zxid, Vec<u8>),
    SnapshotPiece(Vec<u8>),
    /// With the tree's digest at the last transaction applied when the walk ended.
    SnapshotEnd(Option<(Zxid, u64)>),
    SnapshotAbort,
    SnapshotWritten(SnapshotWritten),
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
    /// The snapshot's body is complete; `digest` is the tree's at the last transaction it had
    /// applied then (what the file records after its seal).
    pub fn snapshot_end(&self, digest: Option<(Zxid, u64)>) {
        let _ = self.tx.send(Job::SnapshotEnd(digest));
    }
    pub fn snapshot_abort(&self) {
        let _ = self.tx.send(Job::SnapshotAbort);
    }
    pub fn snapshot_written(&self, w: SnapshotWritten) {
        let _ = self.tx.send(Job::SnapshotWritten(w));
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
    let snapshots = spawn_snapshot_thread(peer.clone(), storage.digests_on());
    std::thread::Builder::new()
        .name("zk-disk".into())
        .spawn(move || {
            let mut discarding = false;
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
                        matches!(
                            op,
                            PersistOp::Truncate(_) | PersistOp::SnapshotInstall { .. }
                        )
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
                    let mut ops: Vec<(u64, PersistOp)> = Vec::new();
                    let mut stop = false;
                    let mut after: Vec<Job> = Vec::new();
                    for j in group {
                        match j {
                            Job::Persist(batch) => ops.extend(batch),
                            Job::Stop => stop = true,
                            other => after.push(other),
                        }
                    }
                    let mut w = Writer {
                        storage: &mut storage,
                        discarding: &mut discarding,
                        peer: &peer,
                        stats: &s,
                    };
                    if !ops.is_empty() && !w.carry_out(ops) {
                        return;
                    }
                    for j in after {
                        snapshot_job(&mut storage, j, &snapshots, &peer);
                    }
                    if stop {
                        return;
                    }
                }
            }
        })
        .expect("spawning the disk thread");
    DiskHandle { tx, stats }
}

/// The disk thread's state while it carries out persist ops.
struct Writer<'a> {
    storage: &'a mut Storage,
    /// After a failure, ops are dropped until the peer's next probe (its contract).
    discarding: &'a mut bool,
    peer: &'a mpsc::UnboundedSender<Input>,
    stats: &'a DiskStats,
}

impl Writer<'_> {
    /// Carries out persist ops in order: runs of writes with one fsync each, probes on their
    /// own. After a failure nothing more is done until the next probe. False when the peer
    /// loop is gone.
    fn carry_out(&mut self, ops: Vec<(u64, PersistOp)>) -> bool {
        let mut run: Vec<(u64, PersistOp)> = Vec::new();
        for (seq, op) in ops {
            if op == PersistOp::Probe {
                if !self.write_run(std::mem::take(&mut run)) {
                    return false;
                }
                let answer = match self.storage.has_room() {
                    Ok(true) => Input::Persisted { seq },
                    Ok(false) => Input::PersistFailed {
                        seq,
                        failure: PersistFailure::NoSpace,
                        error: "the disk still has no room".into(),
                    },
                    Err(e) => Input::PersistFailed {
                        seq,
                        failure: PersistFailure::Failed,
                        error: e.to_string(),
                    },
                };
                *self.discarding = !matches!(answer, Input::Persisted { .. });
                if self.peer.send(answer).is_err() {
                    return false;
                }
            } else if !*self.discarding {
                run.push((seq, op));
            }
        }
        self.write_run(run)
    }

    /// Writes ops with one fsync and reports how far it got.
    fn write_run(&mut self, run: Vec<(u64, PersistOp)>) -> bool {
        if run.is_empty() || *self.discarding {
            return true;
        }
        let (seqs, ops): (Vec<u64>, Vec<PersistOp>) = run.into_iter().unzip();
        let appends = ops
            .iter()
            .filter(|o| matches!(o, PersistOp::Append(_)))
            .count() as u64;
        let t = Instant::now();
        if let Err(f) = self.storage.apply_or_undo(&ops) {
            *self.discarding = true;
            if f.done > 0
                && self
                    .peer
                    .send(Input::Persisted {
                        seq: seqs[f.done - 1],
                    })
                    .is_err()
            {
                return false;
            }
            let failed = Input::PersistFailed {
                seq: seqs[f.done.min(seqs.len() - 1)],
                failure: if f.no_space {
                    PersistFailure::NoSpace
                } else {
                    PersistFailure::Failed
                },
                error: f.error.to_string(),
            };
            return self.peer.send(failed).is_ok();
        }
        let stats = self.stats;
        stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        stats.appends.fetch_add(appends, Ordering::Relaxed);
        let took = t.elapsed();
        stats
            .fsync_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        let _ = self.peer.send(Input::Disk(DiskMetric::Fsync {
            ms: took.as_millis() as u64,
            appends,
        }));
        let last = seqs[seqs.len() - 1];
        self.peer.send(Input::Persisted { seq: last }).is_ok()
    }
}

/// What the snapshot thread is asked to do, with the disk thread's word for which history the
/// snapshot belongs to.
enum SnapJob {
    Begin {
        zxid: Zxid,
        tmp: PathBuf,
        history: u64,
        header: Vec<u8>,
    },
    Piece(Vec<u8>),
    End(Option<(Zxid, u64)>),
    Abort,
}

/// Carries out a snapshot or purge job on the disk thread. The snapshot's bytes are written by
/// a thread of their own, so that neither their writes nor their fsyncs hold up the log's; the
/// disk thread only renames the finished file into place — after every append that was queued
/// before the snapshot's end, so the log always reaches as far as the snapshot does.
fn snapshot_job(
    storage: &mut Storage,
    job: Job,
    snapshots: &std_mpsc::Sender<SnapJob>,
    peer: &mpsc::UnboundedSender<Input>,
) {
    let forward = |j: SnapJob| {
        let _ = snapshots.send(j);
    };
    match job {
        Job::SnapshotBegin(zxid, header) => forward(SnapJob::Begin {
            zxid,
            tmp: storage.snapshot_temp_path(zxid),
            history: storage.history(),
            header,
        }),
        Job::SnapshotPiece(bytes) => forward(SnapJob::Piece(bytes)),
        Job::SnapshotEnd(digest) => forward(SnapJob::End(digest)),
        Job::SnapshotAbort => forward(SnapJob::Abort),
        Job::SnapshotWritten(SnapshotWritten {
            zxid,
            tmp,
            history,
            bytes,
            took,
        }) => {
            if history != storage.history() {
                info!("snapshot at {zxid} dropped: the history it belongs to was replaced");
                let _ = std::fs::remove_file(&tmp);
                return;
            }
            match storage.commit_snapshot(zxid, &tmp) {
                Ok(()) => {
                    info!("snapshot at {zxid} ({bytes} bytes) written in {took:?}");
                    let ms = took.as_millis() as u64;
                    let _ = peer.send(Input::Disk(DiskMetric::Snapshot { zxid, ms }));
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
        Job::Persist(_) | Job::Stop => {}
    }
}

/// The snapshot thread: writes the pieces of one snapshot at a time to its temporary file and
/// hands the finished file back to the disk thread. A snapshot that fails to write is dropped
/// with a warning: the log still holds everything, and the next one may succeed.
fn spawn_snapshot_thread(
    peer: mpsc::UnboundedSender<Input>,
    digests_on: bool,
) -> std_mpsc::Sender<SnapJob> {
    let (tx, rx) = std_mpsc::channel::<SnapJob>();
    std::thread::Builder::new()
        .name("zk-snapshot".into())
        .spawn(move || {
            lower_priority();
            let mut current: Option<(SnapshotFile, u64, Instant)> = None;
            while let Ok(job) = rx.recv() {
                match job {
                    SnapJob::Begin {
                        zxid,
                        tmp,
                        history,
                        header,
                    } => {
                        if let Some((f, ..)) = current.take() {
                            f.abort();
                        }
                        match SnapshotFile::create(zxid, tmp)
                            .and_then(|mut f| f.write(&header).map(|_| f))
                        {
                            Ok(f) => current = Some((f, history, Instant::now())),
                            Err(e) => warn!("snapshot at {zxid} failed: {e}"),
                        }
                    }
                    SnapJob::Piece(bytes) => {
                        if let Some((f, ..)) = current.as_mut() {
                            if let Err(e) = f.write(&bytes) {
                                warn!("snapshot at {} failed: {e}", f.zxid);
                                if let Some((f, ..)) = current.take() {
                                    f.abort();
                                }
                            }
                        }
                    }
                    SnapJob::End(digest) => {
                        let Some((f, history, started)) = current.take() else {
                            continue;
                        };
                        let (zxid, tmp) = (f.zxid, f.tmp.clone());
                        match f.finish(digest, digests_on) {
                            Ok(bytes) => {
                                let done = SnapshotWritten {
                                    zxid,
                                    tmp,
                                    history,
                                    bytes,
                                    took: started.elapsed(),
                                };
                                if peer.send(Input::SnapshotWritten(done)).is_err() {
                                    return;
                                }
                            }
                            Err(e) => warn!("snapshot at {zxid} failed: {e}"),
                        }
                    }
                    SnapJob::Abort => {
                        if let Some((f, ..)) = current.take() {
                            f.abort();
                        }
                    }
                }
            }
            if let Some((f, ..)) = current.take() {
                f.abort();
            }
        })
        .expect("spawning the snapshot thread");
    tx
}

/// Gives the calling thread a lower CPU priority (nice 10) where the system allows it: with few
/// cores, writing a snapshot should yield to the threads serving requests. Best effort.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take no pointers; setpriority on our own thread id changes
    // only this thread's nice value, and its failure is harmless.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}
