//! A server's durable state, in its dataDir and dataLogDir, in Apache ZooKeeper's own files
//! (`FileTxnSnapLog`, `FileTxnLog`, `FileSnap` and `QuorumPeer`'s epoch files), so that either
//! server starts on what the other left:
//!
//! ```text
//!   dataLogDir/version-2/log.<zxid hex>        transaction logs ([`zk_core::txnlog`]), named
//!                                              for their first zxid
//!   dataDir/version-2/snapshot.<zxid hex>      snapshots ([`zk_core::snapshot`]), named for the
//!                                              zxid the tree had applied when they began
//!   dataDir/version-2/acceptedEpoch            epochs: decimal text with no newline, replaced
//!   dataDir/version-2/currentEpoch             atomically (a crash may leave `<name>.tmp`)
//! ```
//!
//! Files of this server's earlier formats are recognised and refused, with the command that
//! converts them: `zkserver convert-datadir` ([`convert`]).
//!
//! ## How data flows
//!
//! The core ([`zk_core::peer::Peer`]) asks for durability with [`PersistOp`]s; the driver hands
//! them here in order ([`Storage::apply`]) from a thread of its own, and reports them persisted
//! when `apply` returns. Appends are group-committed: a batch of appends costs one write and one
//! fsync. Every `snapCount`-or-so transactions the driver takes a fuzzy snapshot of the committed
//! tree a piece per turn of its loop ([`zk_core::snapshot::SnapshotWriter`]) and hands the pieces
//! on to a thread of its own that writes them ([`SnapshotFile`]); [`Storage::commit_snapshot`]
//! puts the finished file in place and rolls the log (the next append starts a new file);
//! the snapshot is named for the zxid it began at and is exact once the log after that zxid is
//! replayed over it. Now and then [`Storage::purge`] (autopurge) drops snapshots and logs no
//! longer needed.
//!
//! At start, [`Storage::open`] finds the newest snapshot that reads back whole (read a piece at
//! a time, never all in memory), then every
//! logged transaction after it, and hands both to the core in a [`Restored`]: the core decides
//! what of the log is committed.
//!
//! ## What a crash may leave, and what recovery does about it
//!
//! * A record cut short, or garbled, at the very end of the last log file, with nothing valid
//!   after it: the tail of a write that never finished its fsync, so never acknowledged. It is cut
//!   off (the file is truncated there) and reported in [`RecoveryReport::torn_tail`].
//! * A last log file whose header never made it to disk: removed, and reported the same way.
//! * A damaged record with good records after it, or in any log file but the last, or a record
//!   whose checksum matches but that makes no transaction: no crash explains that. Recovery stops
//!   with [`StorageError::CorruptLog`] naming the file and offset: a server must not start on
//!   silently damaged data.
//! * A snapshot whose checksum fails: the next older one is used instead, with its reason in
//!   [`RecoveryReport::skipped_snapshots`]. Snapshot files but none readable is an error.
//! * Temporary files of interrupted atomic writes are removed.
//!
//! The one crash this cannot tell from corruption: pages of a single unsynced group commit that
//! reached the disk out of order, leaving a hole before a complete record. Recovery refuses to
//! start then, which is safe, and an operator can cut the log at the offset named.

pub mod convert;
mod files;

#[cfg(test)]
mod tests;

use files::io_err;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::ops::Bound::{Excluded, Unbounded};
use std::path::{Path, PathBuf};
use tracing::{info, warn};
use zk_core::epochs;
use zk_core::peer::{PersistOp, Restored};
use zk_core::snapshot;
use zk_core::tree::DataTree;
use zk_core::txn::TxnEntry;
use zk_core::txnlog::{self, DamageKind};
use zk_core::Zxid;

/// The subdirectory both dataDir and dataLogDir keep their files in (ZooKeeper's `version-2`).
pub const VERSION_DIR: &str = "version-2";
pub const LOG_PREFIX: &str = "log";
pub const SNAPSHOT_PREFIX: &str = "snapshot";
pub const ACCEPTED_EPOCH_FILE: &str = epochs::EpochFile::Accepted.name();
pub const CURRENT_EPOCH_FILE: &str = epochs::EpochFile::Current.name();
/// ZooKeeper 3.4's mark of an epoch being updated (3.5 and later never write it).
pub const UPDATING_EPOCH_FILE: &str = "updatingEpoch";

/// How storage behaves: what `zoo.cfg` and the system properties say.
#[derive(Clone, Debug)]
pub struct StorageOptions {
    /// `preAllocSize`: log files grow in chunks of this many KB, filled with zeros, so that an
    /// append rarely changes the file's size. 0 grows them as they are written.
    pub pre_alloc_size_kb: u64,
    /// `forceSync`: fsync the log before reporting appends durable. Turning it off trades
    /// durability for speed, as in ZooKeeper.
    pub force_sync: bool,
    /// `zookeeper.extendedTypesEnabled`: how snapshots are read (TTL nodes).
    pub extended_types: bool,
    /// `digest.enabled`: snapshots end with the tree's digest, and the ones read are checked.
    pub digest: bool,
}

impl StorageOptions {
    /// What zoo.cfg says.
    pub fn from_config(cfg: &zk_core::config::Config) -> StorageOptions {
        StorageOptions {
            pre_alloc_size_kb: cfg.pre_alloc_size_kb,
            force_sync: cfg.force_sync,
            extended_types: cfg.extended_types_enabled,
            digest: cfg.digest_enabled,
        }
    }
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            pre_alloc_size_kb: 64 * 1024,
            force_sync: true,
            extended_types: false,
            digest: true,
        }
    }
}

/// [`Storage::apply_or_undo`] could not carry out every op.
#[derive(Debug)]
pub struct ApplyFailure {
    /// How many of the ops were done (durably) before the failure.
    pub done: usize,
    /// The disk had no room, and what the failed ops began to write has been undone: the
    /// files are as the `done` ops left them. Otherwise nothing is known of the files.
    pub no_space: bool,
    pub error: StorageError,
}

/// Where the log ended before a batch: what undoing the batch goes back to.
#[derive(Clone, Debug)]
struct LogMark {
    file: Option<PathBuf>,
    pos: u64,
    last_logged: Zxid,
}

/// What the error says about the disk: no room (ENOSPC, a quota, a file size limit).
fn is_no_space(e: &StorageError) -> bool {
    match e {
        StorageError::Io { source, .. } => matches!(
            source.raw_os_error(),
            Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EFBIG)
        ),
        _ => false,
    }
}

/// What went wrong, with the file it went wrong in.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: corrupt transaction log at offset {offset}: {what}", .path.display())]
    CorruptLog {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    #[error("no valid snapshot in {}: {tried}", .dir.display())]
    NoValidSnapshot { dir: PathBuf, tried: String },
    #[error(
        "{} holds transaction logs but {} holds no snapshot: the logs cannot be replayed \
         without the snapshot they follow (was dataDir changed, or were snapshots deleted?)",
        .log_dir.display(), .snap_dir.display()
    )]
    LogsWithoutSnapshot { log_dir: PathBuf, snap_dir: PathBuf },
    #[error("{}: {content:?} is not an epoch", .path.display())]
    BadEpochFile { path: PathBuf, content: String },
    #[error(
        "acceptedEpoch {accepted} is less than currentEpoch {current} in {}: a server accepts an \
         epoch before it makes it current",
        .dir.display()
    )]
    EpochsOutOfOrder {
        dir: PathBuf,
        accepted: u32,
        current: u32,
    },
    #[error("cannot append zxid {zxid} after {last}: the log grows in zxid order")]
    OutOfOrder { zxid: Zxid, last: Zxid },
    #[error("transaction {zxid} is {len} bytes, too long for a log record")]
    RecordTooLarge { zxid: Zxid, len: usize },
    #[error(
        "cannot truncate the log to {zxid}: {} holds a later state, and snapshots hold only \
         committed transactions",
        .snapshot.display()
    )]
    TruncateBelowSnapshot { zxid: Zxid, snapshot: PathBuf },
    #[error("snapshot for {zxid} is unusable: {what}")]
    BadSnapshot { zxid: Zxid, what: String },
    #[error(
        "{} is in the file format of earlier zkserver releases, which this one does not read: \
         convert the data directory first with `zkserver convert-datadir <zoo.cfg>` (it keeps \
         the old files aside)",
        .path.display()
    )]
    LegacyFormat { path: PathBuf },
}

/// What [`Storage::open`] found and did, for the caller to log.
#[derive(Clone, Debug, Default)]
pub struct RecoveryReport {
    /// The snapshot loaded and its zxid.
    pub snapshot: Option<(PathBuf, Zxid)>,
    /// The dataDir was empty: an empty snapshot (`snapshot.0`) was written, as ZooKeeper does.
    pub fresh: bool,
    /// Newer snapshots that could not be read, and why.
    pub skipped_snapshots: Vec<(PathBuf, String)>,
    /// The log files read, in order.
    pub log_files: Vec<PathBuf>,
    /// The last zxid on disk: the last logged one, or the snapshot's.
    pub last_logged: Zxid,
    /// A damaged tail cut off the last log file.
    pub torn_tail: Option<TornTail>,
    /// Epoch files that were missing, now written with the epoch of `last_logged`.
    pub derived_epochs: Vec<PathBuf>,
    /// Leftovers of interrupted atomic writes, removed.
    pub removed_temp_files: Vec<PathBuf>,
    /// The snapshot holds changes up to here, beyond the end of the log (a snapshot from the
    /// leader, and a crash before the proposals after it were logged).
    pub fuzzy_beyond_log: Option<Zxid>,
}

/// The damaged end of the last log file, cut off at recovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub file: PathBuf,
    /// Where the file was cut: everything before is good.
    pub offset: u64,
    pub why: String,
    /// The file's header was damaged, so the whole file was removed.
    pub removed_file: bool,
}

/// What [`Storage::purge`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub snapshots: Vec<PathBuf>,
    pub logs: Vec<PathBuf>,
}

/// The log file being appended to.
#[derive(Debug)]
struct LogWriter {
    file: File,
    path: PathBuf,
    /// Where the next bytes go.
    pos: u64,
    /// The file's size, zeros past `pos`.
    allocated: u64,
    /// Encoded records not written yet (the group commit being gathered).
    pending: Vec<u8>,
    /// Written but not fsynced.
    unsynced: bool,
    /// Created, and its directory entry not fsynced yet.
    new_entry: bool,
}

/// One server's snapshots, transaction log and epochs.
#[derive(Debug)]
pub struct Storage {
    snap_dir: PathBuf,
    log_dir: PathBuf,
    opts: StorageOptions,
    /// Snapshot files by zxid; `false` for one found unreadable at start.
    snapshots: BTreeMap<Zxid, bool>,
    /// Log files by first zxid.
    logs: BTreeMap<Zxid, PathBuf>,
    current: Option<LogWriter>,
    last_logged: Zxid,
    /// fsyncs of the log (tests count them to see group commit at work).
    log_syncs: u64,
    /// See [`Storage::history`].
    history: u64,
    /// A snapshot from the leader being written aside, piece by piece (a SNAP).
    receiving: Option<SnapshotFile>,
    /// Looking only ([`Storage::inspect`]): recovery reads and reports, and changes nothing.
    read_only: bool,
}

/// A snapshot file being written a piece at a time, to its temporary name, in ZooKeeper's
/// file form: its header first, the body's pieces as they come, and at the end the seals and
/// the digest ([`snapshot::FileFramer`]). It is flushed to the disk every
/// [`SnapshotFile::SYNC_EVERY`] bytes, so that no single fsync has to write a whole snapshot
/// while the transaction log waits for the same disk.
#[derive(Debug)]
pub struct SnapshotFile {
    pub zxid: Zxid,
    pub tmp: PathBuf,
    /// Unbuffered: the pieces come in hundreds of kilobytes already.
    file: File,
    framer: snapshot::FileFramer,
    bytes: u64,
    unsynced: u64,
}

impl SnapshotFile {
    pub const SYNC_EVERY: u64 = 4 << 20;

    /// Creates the file for a snapshot labelled `zxid` and writes its header.
    pub fn create(zxid: Zxid, tmp: PathBuf) -> Result<SnapshotFile, StorageError> {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        let mut head = Vec::new();
        let framer = snapshot::FileFramer::start(&mut head);
        if let Err(e) = file.write_all(&head) {
            let _ = fs::remove_file(&tmp);
            return Err(io_err("write", &tmp)(e));
        }
        Ok(SnapshotFile {
            zxid,
            tmp,
            file,
            framer,
            bytes: head.len() as u64,
            unsynced: head.len() as u64,
        })
    }

    /// The next bytes of the body.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.framer.body(bytes);
        self.write_raw(bytes)
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.file
            .write_all(bytes)
            .map_err(io_err("write", &self.tmp))?;
        self.bytes += bytes.len() as u64;
        self.unsynced += bytes.len() as u64;
        if self.unsynced >= Self::SYNC_EVERY {
            self.file.sync_data().map_err(io_err("fsync", &self.tmp))?;
            self.unsynced = 0;
        }
        Ok(())
    }

    /// Writes the end — the seal, and with digests on the tree's digest at `digest` (none
    /// known: an empty one, as ZooKeeper writes) and the second seal — then fsyncs the file;
    /// returns its size. On an error the file is removed.
    pub fn finish(
        mut self,
        digest: Option<(Zxid, u64)>,
        digests_on: bool,
    ) -> Result<u64, StorageError> {
        let mut end = Vec::new();
        self.framer.finish(digest, digests_on, &mut end);
        if let Err(e) = self.write_raw(&end) {
            let _ = fs::remove_file(&self.tmp);
            return Err(e);
        }
        let SnapshotFile {
            tmp, file, bytes, ..
        } = self;
        match file.sync_all() {
            Ok(()) => Ok(bytes),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(io_err("fsync", &tmp)(e))
            }
        }
    }

    /// Drops the file.
    pub fn abort(self) {
        let tmp = self.tmp.clone();
        drop(self.file);
        let _ = fs::remove_file(tmp);
    }
}

impl Storage {
    /// Opens (creating if need be) the storage in `data_dir` and `data_log_dir` and recovers
    /// what they hold.
    pub fn open(
        data_dir: &Path,
        data_log_dir: &Path,
        opts: StorageOptions,
    ) -> Result<(Storage, Restored, RecoveryReport), StorageError> {
        Storage::recover(data_dir, data_log_dir, opts, false)
    }

    /// Reads what `data_dir` and `data_log_dir` hold, as [`Storage::open`] would, without
    /// changing anything: no file created, no torn tail cut, no epoch file written. What open
    /// would do is in the report (`fresh`, `torn_tail`, `derived_epochs`). For checking a data
    /// directory before a server is started on it (`zkserver migrate-check`).
    pub fn inspect(
        data_dir: &Path,
        data_log_dir: &Path,
        opts: StorageOptions,
    ) -> Result<(Restored, RecoveryReport), StorageError> {
        let (_, restored, report) = Storage::recover(data_dir, data_log_dir, opts, true)?;
        Ok((restored, report))
    }

    fn recover(
        data_dir: &Path,
        data_log_dir: &Path,
        opts: StorageOptions,
        read_only: bool,
    ) -> Result<(Storage, Restored, RecoveryReport), StorageError> {
        let snap_dir = data_dir.join(VERSION_DIR);
        let log_dir = data_log_dir.join(VERSION_DIR);
        if !read_only {
            files::create_dir(&snap_dir)?;
            files::create_dir(&log_dir)?;
        }
        if convert::in_progress(data_dir) {
            return Err(StorageError::LegacyFormat {
                path: snap_dir.join(convert::MARK),
            });
        }
        // A currentEpoch written but not yet renamed into place when the server stopped: what
        // ZooKeeper falls back on if the log has gone past currentEpoch (`loadDataBase`).
        let pending_current = fs::read(files::tmp_path(&snap_dir.join(CURRENT_EPOCH_FILE))).ok();
        let removed = if read_only {
            Vec::new()
        } else {
            files::remove_temp_files(
                &snap_dir,
                &[SNAPSHOT_PREFIX, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE],
            )?
        };
        let mut report = RecoveryReport {
            removed_temp_files: removed,
            ..RecoveryReport::default()
        };
        let mut st = Storage {
            snap_dir,
            log_dir,
            opts,
            snapshots: BTreeMap::new(),
            logs: BTreeMap::new(),
            current: None,
            last_logged: Zxid::ZERO,
            log_syncs: 0,
            history: 0,
            receiving: None,
            read_only,
        };
        let tree = st.load_snapshot(&mut report)?;
        let base = tree.last_processed_zxid();
        let log = st.load_log(base, &mut report)?;
        st.last_logged = log.last().map_or(base, TxnEntry::zxid).max(base);
        if tree.fuzzy_until() > st.last_logged {
            // A snapshot taken while transactions went on holds some of them, and is exact
            // once the log after it is replayed. Our own snapshots are put in place only once
            // the log reaches that far; a snapshot received from the leader (a SNAP) is put in
            // place before the proposals that follow it are logged, so a crash in between
            // leaves it short. What it holds beyond the log is committed (the leader had
            // applied it); the next sync replays it, from the last zxid logged, and makes the
            // tree exact.
            warn!(
                snapshot = %base,
                holds_up_to = %tree.fuzzy_until(),
                log_ends_at = %st.last_logged,
                "the snapshot holds changes beyond the end of the log: the next sync with the leader replays them"
            );
            report.fuzzy_beyond_log = Some(tree.fuzzy_until());
        }
        report.last_logged = st.last_logged;
        let (accepted_epoch, current_epoch) = st.load_epochs(pending_current, &mut report)?;
        info!(
            snapshot = %base,
            records = log.len(),
            last_logged = %st.last_logged,
            accepted_epoch,
            current_epoch,
            "storage recovered"
        );
        let restored = Restored {
            tree,
            log,
            accepted_epoch,
            current_epoch,
        };
        Ok((st, restored, report))
    }

    /// Snapshots end with the tree's digest (`digest.enabled`).
    pub fn digests_on(&self) -> bool {
        self.opts.digest
    }

    /// The last zxid appended (or found at start, or installed by a snapshot).
    pub fn last_logged(&self) -> Zxid {
        self.last_logged
    }

    /// Carries out `ops` in order and returns once they are durable: appends are gathered and
    /// written together with one fsync (unless `forceSync` is off). Anything that must not
    /// become durable before the appends ahead of it (a truncation, a snapshot, an epoch) first
    /// flushes them. An error leaves the storage in an unknown state: the server must stop.
    pub fn apply(&mut self, ops: &[PersistOp]) -> Result<(), StorageError> {
        for op in ops {
            self.apply_op(op)?;
        }
        self.sync_log(false)
    }

    /// One op of [`Storage::apply`]; appends are only gathered.
    fn apply_op(&mut self, op: &PersistOp) -> Result<(), StorageError> {
        match op {
            PersistOp::Append(entry) => self.append(entry)?,
            PersistOp::Truncate(zxid) => {
                self.sync_log(false)?;
                self.truncate(*zxid)?;
            }
            PersistOp::SnapshotPiece { zxid, first, bytes } => {
                self.receive_snapshot_piece(*zxid, *first, bytes)?;
            }
            PersistOp::SnapshotInstall { zxid } => {
                self.sync_log(false)?;
                self.install_snapshot(*zxid)?;
            }
            PersistOp::AcceptedEpoch(e) => {
                self.sync_log(false)?;
                self.write_epoch(ACCEPTED_EPOCH_FILE, *e)?;
            }
            PersistOp::CurrentEpoch(e) => {
                self.sync_log(false)?;
                self.write_epoch(CURRENT_EPOCH_FILE, *e)?;
            }
            // Nothing to write: the disk thread answers it (see `has_room`).
            PersistOp::Probe => {}
        }
        Ok(())
    }

    /// [`Storage::apply`], but a failure says how many ops were done first, and a disk with no
    /// room has what the failed ops began to write undone (the log cut back to where it ended
    /// after the last op done), so that no file is damaged and the server can go on once the
    /// disk has room.
    pub fn apply_or_undo(&mut self, ops: &[PersistOp]) -> Result<(), ApplyFailure> {
        let mut mark = self.log_mark();
        let mut done = 0;
        for (i, op) in ops.iter().enumerate() {
            if let Err(error) = self.apply_op(op) {
                return Err(self.undo(mark, done, error));
            }
            // These sync the log before they are done: everything up to them is done.
            // Appends (and a SNAP's pieces) are done at the sync that ends the batch.
            if matches!(
                op,
                PersistOp::Truncate(_)
                    | PersistOp::SnapshotInstall { .. }
                    | PersistOp::AcceptedEpoch(_)
                    | PersistOp::CurrentEpoch(_)
            ) {
                done = i + 1;
                mark = self.log_mark();
            }
        }
        self.sync_log(false)
            .map_err(|error| self.undo(mark, done, error))
    }

    fn log_mark(&self) -> LogMark {
        LogMark {
            file: self.current.as_ref().map(|w| w.path.clone()),
            pos: self.current.as_ref().map_or(0, |w| w.pos),
            last_logged: self.last_logged,
        }
    }

    /// After a failure: with no room on the disk, cuts the log back to `mark`.
    fn undo(&mut self, mark: LogMark, done: usize, error: StorageError) -> ApplyFailure {
        let mut no_space = is_no_space(&error);
        if no_space {
            if let Err(e) = self.cut_back(&mark) {
                warn!("undoing a write the disk had no room for failed: {e}");
                no_space = false;
            }
        }
        ApplyFailure {
            done,
            no_space,
            error,
        }
    }

    fn cut_back(&mut self, mark: &LogMark) -> Result<(), StorageError> {
        self.last_logged = mark.last_logged;
        let Some(mut w) = self.current.take() else {
            return Ok(());
        };
        if mark.file.as_ref() != Some(&w.path) {
            // A file begun in the failed batch: it goes.
            drop(w.file);
            self.logs.retain(|_, p| *p != w.path);
            fs::remove_file(&w.path).map_err(io_err("remove", &w.path))?;
            files::fsync_dir(&self.log_dir)?;
            return Ok(());
        }
        // Shrinking needs no room; the preallocated zeros go with what was written.
        w.pending.clear();
        w.file
            .set_len(mark.pos)
            .map_err(io_err("truncate", &w.path))?;
        w.file.sync_all().map_err(io_err("fsync", &w.path))?;
        w.pos = mark.pos;
        w.allocated = mark.pos;
        w.unsynced = false;
        self.current = Some(w);
        Ok(())
    }

    /// After the disk had no room: whether it has enough again for the log to grow by a
    /// preallocation chunk (and a little more for an epoch file or a snapshot's start).
    pub fn has_room(&self) -> Result<bool, StorageError> {
        let chunk = self
            .opts
            .pre_alloc_size_kb
            .saturating_mul(1024)
            .max(64 * 1024);
        let log = files::available_bytes(&self.log_dir)?;
        let snap = files::available_bytes(&self.snap_dir)?;
        Ok(log >= chunk + 64 * 1024 && snap >= 64 * 1024)
    }

    /// Writes a whole snapshot file of the committed tree at `zxid` (`bytes` from
    /// [`zk_core::snapshot::file_bytes`]) and rolls the log: the next append starts a new file.
    pub fn write_snapshot(&mut self, zxid: Zxid, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.snapshot_path(zxid);
        files::write_atomic(&path, bytes)?;
        self.snapshots.insert(zxid, true);
        self.last_logged = self.last_logged.max(zxid);
        self.roll_log()?;
        info!(snapshot = %path.display(), bytes = bytes.len(), "snapshot written");
        Ok(())
    }

    /// Where a snapshot at `zxid` is written before it is complete.
    pub fn snapshot_temp_path(&self, zxid: Zxid) -> PathBuf {
        files::tmp_path(&self.snapshot_path(zxid))
    }

    /// Counts the times the history was replaced (a TRUNC, a SNAP installed): a snapshot begun
    /// in an older history must not be committed.
    pub fn history(&self) -> u64 {
        self.history
    }

    /// Puts a complete, fsynced snapshot file (`tmp`, at `zxid`) in place and rolls the log:
    /// the next append starts a new file. Everything the snapshot holds must be in the log
    /// already.
    pub fn commit_snapshot(&mut self, zxid: Zxid, tmp: &Path) -> Result<(), StorageError> {
        let path = self.snapshot_path(zxid);
        files::commit_temp(tmp, &path)?;
        self.snapshots.insert(zxid, true);
        self.last_logged = self.last_logged.max(zxid);
        self.roll_log()?;
        info!(snapshot = %path.display(), "snapshot written");
        Ok(())
    }

    /// Autopurge: keeps the newest `retain` readable snapshots (at least one) and the log files
    /// needed to replay from the oldest of them, and removes the rest.
    pub fn purge(&mut self, retain: usize) -> Result<PurgeReport, StorageError> {
        let mut report = PurgeReport::default();
        let snaps: Vec<(Zxid, bool)> = self.snapshots.iter().map(|(z, ok)| (*z, *ok)).collect();
        let logs: Vec<Zxid> = self.logs.keys().copied().collect();
        let plan = snapshot::purge_plan(&snaps, &logs, retain);
        // Snapshots first (see `purge_plan`).
        report.snapshots = plan
            .snapshots
            .iter()
            .map(|z| self.snapshot_path(*z))
            .collect();
        files::remove_all(&self.snap_dir, &report.snapshots)?;
        for z in &plan.snapshots {
            self.snapshots.remove(z);
        }
        report.logs = plan
            .logs
            .iter()
            .filter_map(|z| self.logs.get(z).cloned())
            .collect();
        files::remove_all(&self.log_dir, &report.logs)?;
        for z in &plan.logs {
            self.logs.remove(z);
        }
        if !report.snapshots.is_empty() || !report.logs.is_empty() {
            info!(
                snapshots = report.snapshots.len(),
                logs = report.logs.len(),
                retain,
                "purged old snapshots and logs"
            );
        }
        Ok(report)
    }

    // ---- recovery ----------------------------------------------------------------------

    fn snapshot_path(&self, zxid: Zxid) -> PathBuf {
        self.snap_dir.join(files::zxid_name(SNAPSHOT_PREFIX, zxid))
    }

    fn log_path(&self, zxid: Zxid) -> PathBuf {
        self.log_dir.join(files::zxid_name(LOG_PREFIX, zxid))
    }

    /// The newest snapshot that reads back whole, or an empty tree for a fresh dataDir.
    fn load_snapshot(&mut self, report: &mut RecoveryReport) -> Result<DataTree, StorageError> {
        let found = if self.read_only && !self.snap_dir.is_dir() {
            Vec::new()
        } else {
            files::list(&self.snap_dir, SNAPSHOT_PREFIX)?
        };
        if let Some(compressed) = compressed_snapshot(&self.snap_dir) {
            return Err(StorageError::BadSnapshot {
                zxid: Zxid::ZERO,
                what: format!(
                    "{} is compressed (snapshot.compression.method), which this server does not \
                     read: take a snapshot with compression off first",
                    compressed.display()
                ),
            });
        }
        for (z, _) in &found {
            self.snapshots.insert(*z, true);
        }
        let opts = snapshot::LoadOptions {
            extended_types: self.opts.extended_types,
            digest: self.opts.digest,
            skim: false,
        };
        let paths: BTreeMap<Zxid, PathBuf> = found.iter().cloned().collect();
        let (chosen, skipped) = snapshot::newest_valid(paths.keys().rev().copied(), |zxid| {
            let path = &paths[&zxid];
            if is_legacy_snapshot(path) {
                return Err(StorageError::LegacyFormat { path: path.clone() });
            }
            Ok(match read_snapshot(path, zxid, opts) {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(e) => Err(format!("cannot read it: {e}")),
            })
        })?;
        for (zxid, why) in skipped {
            let path = paths[&zxid].clone();
            warn!(snapshot = %path.display(), reason = %why, "skipping unreadable snapshot");
            self.snapshots.insert(zxid, false);
            report.skipped_snapshots.push((path, why));
        }
        if let Some((zxid, tree)) = chosen {
            let path = paths[&zxid].clone();
            info!(snapshot = %path.display(), "loaded snapshot");
            report.snapshot = Some((path, zxid));
            return Ok(tree);
        }
        if !found.is_empty() {
            let tried = report
                .skipped_snapshots
                .iter()
                .map(|(p, why)| format!("{}: {why}", p.display()))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(StorageError::NoValidSnapshot {
                dir: self.snap_dir.clone(),
                tried,
            });
        }
        if self.log_dir.is_dir() && !files::list(&self.log_dir, LOG_PREFIX)?.is_empty() {
            return Err(StorageError::LogsWithoutSnapshot {
                log_dir: self.log_dir.clone(),
                snap_dir: self.snap_dir.clone(),
            });
        }
        // A fresh dataDir: start from an empty snapshot, so that from now on a log never exists
        // without a snapshot before it.
        let mut tree = DataTree::new(self.opts.extended_types);
        tree.set_digest_enabled(self.opts.digest);
        let path = self.snapshot_path(Zxid::ZERO);
        report.fresh = true;
        if self.read_only {
            return Ok(tree);
        }
        files::write_atomic(&path, &snapshot::file_bytes(&tree))?;
        info!(snapshot = %path.display(), "fresh data directory: wrote an empty snapshot");
        self.snapshots.insert(Zxid::ZERO, true);
        report.snapshot = Some((path, Zxid::ZERO));
        Ok(tree)
    }

    /// Every logged transaction after `base`, checked; cuts a torn tail off the last file.
    fn load_log(
        &mut self,
        base: Zxid,
        report: &mut RecoveryReport,
    ) -> Result<Vec<TxnEntry>, StorageError> {
        let all = if self.read_only && !self.log_dir.is_dir() {
            Vec::new()
        } else {
            files::list(&self.log_dir, LOG_PREFIX)?
        };
        self.logs = all.iter().cloned().collect();
        // As ZooKeeper's getLogFiles: the last file that starts at or before the snapshot holds
        // the first transactions after it; every later file follows.
        let first = all.iter().rposition(|(z, _)| *z <= base).unwrap_or(0);
        let mut rec = txnlog::LogRecovery::new(base);
        for (i, (start, path)) in all.iter().enumerate().skip(first) {
            let buf = fs::read(path).map_err(io_err("read", path))?;
            rec.file(*start, &buf, i + 1 == all.len())
                .map_err(|e| match e.legacy {
                    true => StorageError::LegacyFormat { path: path.clone() },
                    false => StorageError::CorruptLog {
                        path: path.clone(),
                        offset: e.offset,
                        what: e.what,
                    },
                })?;
            report.log_files.push(path.clone());
        }
        for (start, offset, why) in std::mem::take(&mut rec.junk) {
            let path = self.logs.get(&start).cloned().unwrap_or_default();
            warn!(log = %path.display(), offset, reason = %why, "ignoring junk after the end of a log file");
        }
        let (out, torn) = rec.finish();
        if let Some(t) = torn {
            let path = self.logs.get(&t.file).cloned().unwrap_or_default();
            if !self.read_only {
                if t.remove_file {
                    fs::remove_file(&path).map_err(io_err("remove", &path))?;
                    files::fsync_dir(&self.log_dir)?;
                    self.logs.remove(&t.file);
                } else {
                    let f = OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .map_err(io_err("open", &path))?;
                    f.set_len(t.offset).map_err(io_err("truncate", &path))?;
                    f.sync_all().map_err(io_err("fsync", &path))?;
                }
                warn!(log = %path.display(), offset = t.offset, reason = %t.why, removed_file = t.remove_file, "cut a torn tail off the log");
            }
            report.torn_tail = Some(TornTail {
                file: path,
                offset: t.offset,
                why: t.why,
                removed_file: t.remove_file,
            });
        }
        Ok(out)
    }

    /// The epoch files; missing ones take the epoch of the last zxid on disk and are written, as
    /// ZooKeeper does when it finds them absent. A currentEpoch behind the log is taken from the
    /// `currentEpoch.tmp` an interrupted write left (`pending`), as ZooKeeper does; and an
    /// `updatingEpoch` file (ZooKeeper 3.4's mark of a learner stopped between its sync and
    /// its new epoch) sets currentEpoch to the log's epoch, as 3.4 did, and goes.
    fn load_epochs(
        &mut self,
        pending: Option<Vec<u8>>,
        report: &mut RecoveryReport,
    ) -> Result<(u32, u32), StorageError> {
        let dir = self.snap_dir.clone();
        let read = |name: &str| -> Result<Option<Vec<u8>>, StorageError> {
            let path = dir.join(name);
            match fs::read(&path) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_err("read", &path)(e)),
            }
        };
        let updating = dir.join(UPDATING_EPOCH_FILE);
        let found = epochs::EpochFiles {
            accepted: read(ACCEPTED_EPOCH_FILE)?,
            current: read(CURRENT_EPOCH_FILE)?,
            current_tmp: pending,
            updating: updating.exists(),
            log_epoch: self.last_logged.epoch(),
        };
        let e = epochs::recover(&found).map_err(|e| match e {
            epochs::EpochError::NotAnEpoch { file, content } => StorageError::BadEpochFile {
                path: dir.join(file.name()),
                content,
            },
            epochs::EpochError::OutOfOrder { accepted, current } => {
                StorageError::EpochsOutOfOrder {
                    dir: dir.clone(),
                    accepted,
                    current,
                }
            }
        })?;
        for note in &e.notes {
            info!("{note}");
            if let epochs::EpochNote::Derived(file, _) = note {
                report.derived_epochs.push(dir.join(file.name()));
            }
        }
        if !self.read_only {
            for (file, epoch) in &e.write {
                self.write_epoch(file.name(), *epoch)?;
            }
            if e.remove_updating {
                files::remove_all(&dir, &[updating])?;
            }
        }
        Ok((e.accepted, e.current))
    }

    // ---- the log -----------------------------------------------------------------------

    /// Adds a record to the group commit being gathered, starting a log file if none is open.
    fn append(&mut self, entry: &TxnEntry) -> Result<(), StorageError> {
        let zxid = entry.zxid();
        if zxid <= self.last_logged {
            return Err(StorageError::OutOfOrder {
                zxid,
                last: self.last_logged,
            });
        }
        let w = match self.current.take() {
            Some(w) => w,
            None => self.create_log(zxid)?,
        };
        let w = self.current.insert(w);
        let before = w.pending.len();
        if txnlog::encode_record(entry, &mut w.pending).is_none() {
            let len = w.pending.len() - before;
            w.pending.truncate(before);
            return Err(StorageError::RecordTooLarge { zxid, len });
        }
        self.last_logged = zxid;
        Ok(())
    }

    /// A new log file named for the first zxid it will hold. A file of that name can only be
    /// one with no records (its zxid is above everything logged), so it is replaced.
    fn create_log(&mut self, zxid: Zxid) -> Result<LogWriter, StorageError> {
        let path = self.log_path(zxid);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err("create", &path))?;
        info!(log = %path.display(), "creating new log file");
        self.logs.insert(zxid, path.clone());
        Ok(LogWriter {
            file,
            path,
            pos: 0,
            allocated: 0,
            pending: txnlog::header().to_vec(),
            unsynced: false,
            new_entry: true,
        })
    }

    /// Writes the gathered records and fsyncs them (if `forceSync`, or `force`).
    fn sync_log(&mut self, force: bool) -> Result<(), StorageError> {
        let fsync = force || self.opts.force_sync;
        let prealloc = self.opts.pre_alloc_size_kb.saturating_mul(1024);
        let Some(w) = self.current.as_mut() else {
            return Ok(());
        };
        if !w.pending.is_empty() {
            let end = w.pos + w.pending.len() as u64;
            if prealloc > 0 && end > w.allocated {
                let to = end.div_ceil(prealloc).saturating_mul(prealloc);
                w.file.set_len(to).map_err(io_err("preallocate", &w.path))?;
                w.allocated = to;
            }
            w.file
                .seek(SeekFrom::Start(w.pos))
                .and_then(|_| w.file.write_all(&w.pending))
                .map_err(io_err("write", &w.path))?;
            w.pos = end;
            w.pending.clear();
            w.unsynced = true;
        }
        if fsync && w.unsynced {
            w.file.sync_data().map_err(io_err("fsync", &w.path))?;
            w.unsynced = false;
            self.log_syncs += 1;
        }
        if fsync && w.new_entry {
            files::fsync_dir(&self.log_dir)?;
            w.new_entry = false;
        }
        Ok(())
    }

    /// Finishes the current log file (durably, whatever `forceSync` says, so that only the last
    /// file can ever have a torn tail); the next append starts a new one.
    fn roll_log(&mut self) -> Result<(), StorageError> {
        self.sync_log(true)?;
        self.current = None;
        Ok(())
    }

    /// Removes every logged transaction after `zxid`: later files go, the file holding `zxid`
    /// is cut after it.
    fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        self.history += 1;
        if let Some((z, _)) = self
            .snapshots
            .range((Excluded(zxid), Unbounded))
            .rev()
            .find(|(_, ok)| **ok)
        {
            return Err(StorageError::TruncateBelowSnapshot {
                zxid,
                snapshot: self.snapshot_path(*z),
            });
        }
        self.cut_log_after(zxid)?;
        info!(zxid = %zxid, "truncated the log");
        Ok(())
    }

    fn cut_log_after(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        self.roll_log()?;
        let later: Vec<Zxid> = self
            .logs
            .range((Excluded(zxid), Unbounded))
            .map(|(z, _)| *z)
            .collect();
        let paths: Vec<PathBuf> = later.iter().map(|z| self.logs[z].clone()).collect();
        files::remove_all(&self.log_dir, &paths)?;
        for z in later {
            self.logs.remove(&z);
        }
        if let Some(path) = self.logs.range(..=zxid).next_back().map(|(_, p)| p.clone()) {
            let buf = fs::read(&path).map_err(io_err("read", &path))?;
            let scan = txnlog::scan(&buf).map_err(|e| StorageError::CorruptLog {
                path: path.clone(),
                offset: e.offset,
                what: e.why,
            })?;
            if let Some(d) = scan.damage.filter(|d| d.kind != DamageKind::TrailingBytes) {
                return Err(StorageError::CorruptLog {
                    path,
                    offset: d.offset,
                    what: d.why,
                });
            }
            if let Some((off, _)) = scan.records.iter().find(|(_, e)| e.zxid() > zxid) {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(io_err("open", &path))?;
                f.set_len(*off).map_err(io_err("truncate", &path))?;
                f.sync_all().map_err(io_err("fsync", &path))?;
            }
        }
        self.last_logged = self.last_logged.min(zxid);
        Ok(())
    }

    /// A piece of a SNAP from the leader, written aside to a temporary file (the first piece
    /// begins it, and drops any earlier one left unfinished by a change of leader).
    fn receive_snapshot_piece(
        &mut self,
        zxid: Zxid,
        first: bool,
        bytes: &[u8],
    ) -> Result<(), StorageError> {
        if first {
            if let Some(old) = self.receiving.take() {
                old.abort();
            }
            let tmp = self.snapshot_temp_path(zxid);
            let mut f = SnapshotFile::create(zxid, tmp)?;
            if let Err(e) = f.write(bytes) {
                f.abort();
                return Err(e);
            }
            self.receiving = Some(f);
            return Ok(());
        }
        match &mut self.receiving {
            Some(f) if f.zxid == zxid => f.write(bytes),
            _ => Err(StorageError::BadSnapshot {
                zxid,
                what: "a piece arrived without the snapshot's beginning".into(),
            }),
        }
    }

    /// A SNAP from the leader is complete: the snapshot replaces the whole history. Done so
    /// that a crash at any point leaves either the old history or the new one, never a mix:
    /// the snapshot file is fsynced under its temporary name; the log is cut after its zxid
    /// (what the leader does not have was never committed); the snapshot is renamed into
    /// place; then older snapshots, and after them the logs of the old history, are removed.
    fn install_snapshot(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        let file = match self.receiving.take() {
            Some(f) if f.zxid == zxid => f,
            other => {
                if let Some(f) = other {
                    f.abort();
                }
                return Err(StorageError::BadSnapshot {
                    zxid,
                    what: "installed before it was received".into(),
                });
            }
        };
        let tmp = file.tmp.clone();
        // The digest at the end of the leader's walk is not known here: an empty one, as
        // ZooKeeper writes when it has none.
        let bytes = file.finish(None, self.opts.digest)?;
        // A snapshot of the history being replaced must not land after it.
        self.history += 1;
        let path = self.snapshot_path(zxid);
        let newer: Vec<Zxid> = self
            .snapshots
            .range((Excluded(zxid), Unbounded))
            .map(|(z, _)| *z)
            .collect();
        if !newer.is_empty() {
            warn!(snapshot = %zxid, newer = newer.len(), "removing snapshots newer than the leader's");
        }
        let newer_paths: Vec<PathBuf> = newer.iter().map(|z| self.snapshot_path(*z)).collect();
        files::remove_all(&self.snap_dir, &newer_paths)?;
        self.cut_log_after(zxid)?;
        files::commit_temp(&tmp, &path)?;
        self.snapshots.retain(|z, _| *z < zxid);
        let older: Vec<PathBuf> = self
            .snapshots
            .keys()
            .map(|z| self.snapshot_path(*z))
            .collect();
        files::remove_all(&self.snap_dir, &older)?;
        self.snapshots.clear();
        self.snapshots.insert(zxid, true);
        let logs: Vec<PathBuf> = std::mem::take(&mut self.logs).into_values().collect();
        files::remove_all(&self.log_dir, &logs)?;
        self.last_logged = zxid;
        info!(snapshot = %path.display(), bytes, "installed the leader's snapshot");
        Ok(())
    }

    fn write_epoch(&self, name: &str, epoch: u32) -> Result<(), StorageError> {
        files::write_atomic(&self.snap_dir.join(name), &epochs::bytes(epoch))
    }
}

/// Reads a snapshot file labelled `zxid` a piece at a time, building the tree as it goes (the
/// file is never all in memory). The outer error is the file's, the inner one the snapshot's.
fn read_snapshot(
    path: &Path,
    zxid: Zxid,
    opts: snapshot::LoadOptions,
) -> io::Result<Result<DataTree, snapshot::SnapshotError>> {
    use std::io::Read;
    let mut f = File::open(path)?;
    let mut reader = snapshot::SnapshotReader::new(snapshot::Form::File, zxid, opts);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(reader.finish());
        }
        match reader.feed(&buf[..n]) {
            Ok(used) if used < n => {
                return Ok(Err(snapshot::SnapshotError::Inconsistent(format!(
                    "{} bytes after its end",
                    n - used
                ))))
            }
            Ok(_) => {}
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// A snapshot ZooKeeper wrote compressed (`snapshot.<zxid>.gz` or `.snappy`), if any.
fn compressed_snapshot(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        (name.starts_with("snapshot.") && (name.ends_with(".gz") || name.ends_with(".snappy")))
            .then(|| e.path())
    })
}

/// Is this a snapshot of this server's earlier format?
fn is_legacy_snapshot(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| zk_core::legacy::is_legacy_snapshot(&head))
}
