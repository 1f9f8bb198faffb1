//! `zkserver convert-datadir`: rewrites a data directory left by an earlier zkserver release
//! (its own snapshot and log formats, [`zk_core::legacy`]) in Apache ZooKeeper's formats, which
//! this release and ZooKeeper itself read.
//!
//! The newest readable snapshot of the old format becomes a snapshot of ZooKeeper's format with
//! the same label, and the logged transactions after it go, unchanged, into one log file of
//! ZooKeeper's format. The epoch files are kept as they are (their format has not changed).
//! The old files are moved into `version-2/legacy-format/`, not removed.
//!
//! It is safe to interrupt: the new files are written and fsynced under a `.converted` suffix
//! first, then a `converting` mark is written, then the old files are moved aside and the new
//! ones renamed into place, and the mark goes last. A server refuses to start while the mark is
//! there, and running the command again finishes the job.

use super::files::{self, io_err};
use super::{StorageError, LOG_PREFIX, SNAPSHOT_PREFIX, VERSION_DIR};
use std::fs;
use std::path::{Path, PathBuf};
use zk_core::txn::TxnEntry;
use zk_core::{legacy, snapshot, txnlog, Zxid};

/// Where the old files go.
pub const LEGACY_DIR: &str = "legacy-format";
/// The mark of a conversion under way, in dataDir's `version-2`.
pub const MARK: &str = "converting";
const SUFFIX: &str = ".converted";

/// What [`convert`] did.
#[derive(Debug, Default)]
pub struct ConvertReport {
    /// The snapshot converted: its label and node count.
    pub snapshot: Option<(Zxid, usize)>,
    pub transactions: usize,
    /// Old files moved aside.
    pub moved: Vec<PathBuf>,
    /// Written.
    pub written: Vec<PathBuf>,
    /// A torn tail cut off the last old log (a crash while writing it), with why.
    pub torn_tail: Option<String>,
    /// Nothing was in the old format.
    pub nothing_to_do: bool,
}

/// Is a conversion under way (or interrupted) in this dataDir?
pub fn in_progress(data_dir: &Path) -> bool {
    data_dir.join(VERSION_DIR).join(MARK).exists()
}

/// Converts the data directories (see the module docs).
pub fn convert(data_dir: &Path, data_log_dir: &Path) -> Result<ConvertReport, StorageError> {
    let snap_dir = data_dir.join(VERSION_DIR);
    let log_dir = data_log_dir.join(VERSION_DIR);
    let mut report = ConvertReport::default();
    if snap_dir.join(MARK).exists() {
        finish(&snap_dir, &log_dir, &mut report)?;
        return Ok(report);
    }
    let snaps = if snap_dir.is_dir() {
        files::list(&snap_dir, SNAPSHOT_PREFIX)?
    } else {
        Vec::new()
    };
    let logs = if log_dir.is_dir() {
        files::list(&log_dir, LOG_PREFIX)?
    } else {
        Vec::new()
    };
    let legacy_snaps: Vec<&(Zxid, PathBuf)> = snaps
        .iter()
        .filter(|(_, p)| is_legacy_snapshot(p))
        .collect();
    let legacy_logs: Vec<&(Zxid, PathBuf)> =
        logs.iter().filter(|(_, p)| is_legacy_log(p)).collect();
    if legacy_snaps.is_empty() && legacy_logs.is_empty() {
        report.nothing_to_do = true;
        return Ok(report);
    }
    if legacy_snaps.len() != snaps.len() || legacy_logs.len() != logs.len() {
        return Err(StorageError::BadSnapshot {
            zxid: Zxid::ZERO,
            what: format!(
                "{} and {} hold files of both formats: convert-datadir only converts a directory \
                 an earlier release left as it was",
                snap_dir.display(),
                log_dir.display()
            ),
        });
    }
    // The newest old snapshot that reads back whole.
    let mut tree = None;
    let mut tried = Vec::new();
    for (z, path) in legacy_snaps.iter().rev() {
        let bytes = fs::read(path).map_err(io_err("read", path))?;
        match legacy::read_snapshot(&bytes) {
            Ok(t) if t.last_processed_zxid() == *z => {
                tree = Some(t);
                break;
            }
            Ok(t) => tried.push(format!(
                "{}: holds the tree at {}",
                path.display(),
                t.last_processed_zxid()
            )),
            Err(e) => tried.push(format!("{}: {e}", path.display())),
        }
    }
    let Some(tree) = tree else {
        return Err(StorageError::NoValidSnapshot {
            dir: snap_dir,
            tried: tried.join("; "),
        });
    };
    let label = tree.last_processed_zxid();
    // Its transactions after it, in order, a torn tail of the last file cut off.
    let mut entries: Vec<TxnEntry> = Vec::new();
    let first = legacy_logs
        .iter()
        .rposition(|(z, _)| *z <= label)
        .unwrap_or(0);
    for (i, (_, path)) in legacy_logs.iter().enumerate().skip(first) {
        let buf = fs::read(path).map_err(io_err("read", path))?;
        let corrupt = |what: String| StorageError::CorruptLog {
            path: path.clone(),
            offset: 0,
            what,
        };
        let (records, damage) = legacy::scan_log(&buf).map_err(corrupt)?;
        if let Some((off, why)) = damage {
            if i + 1 != legacy_logs.len() {
                return Err(StorageError::CorruptLog {
                    path: path.clone(),
                    offset: off,
                    what: format!("{why}, in a log file that is not the last"),
                });
            }
            report.torn_tail = Some(format!("{}: {why} at offset {off}", path.display()));
        }
        for e in records {
            if e.zxid() <= label {
                continue;
            }
            if let Some(p) = entries.last().filter(|p| p.zxid() >= e.zxid()) {
                return Err(corrupt(format!(
                    "zxid {} does not follow {}",
                    e.zxid(),
                    p.zxid()
                )));
            }
            entries.push(e);
        }
    }
    // The new files, under their temporary names.
    let snap_name = files::zxid_name(SNAPSHOT_PREFIX, label);
    let snap_new = snap_dir.join(format!("{snap_name}{SUFFIX}"));
    let mut out = Vec::new();
    let mut framer = snapshot::FileFramer::start(&mut out);
    let at = out.len();
    let mut w = snapshot::SnapshotWriter::start(&tree, false, &mut out);
    w.step(&tree, &mut out, usize::MAX);
    framer.body(&out[at..]);
    // The digest at the end of the old snapshot's walk is not known: none, as ZooKeeper writes.
    framer.finish(None, true, &mut out);
    files::write_temp(&snap_new, &out)?;
    fs::rename(files::tmp_path(&snap_new), &snap_new).map_err(io_err("rename", &snap_new))?;
    report.snapshot = Some((label, tree.node_count()));
    if let Some(first) = entries.first() {
        let log_name = files::zxid_name(LOG_PREFIX, first.zxid());
        let log_new = log_dir.join(format!("{log_name}{SUFFIX}"));
        let mut buf = txnlog::header().to_vec();
        for e in &entries {
            txnlog::encode_record(e, &mut buf).ok_or(StorageError::RecordTooLarge {
                zxid: e.zxid(),
                len: 0,
            })?;
        }
        files::write_temp(&log_new, &buf)?;
        fs::rename(files::tmp_path(&log_new), &log_new).map_err(io_err("rename", &log_new))?;
    }
    report.transactions = entries.len();
    files::fsync_dir(&snap_dir)?;
    files::fsync_dir(&log_dir)?;
    files::write_atomic(&snap_dir.join(MARK), b"")?;
    finish(&snap_dir, &log_dir, &mut report)?;
    Ok(report)
}

/// Moves the old files aside and the new ones into place, then removes the mark.
fn finish(snap_dir: &Path, log_dir: &Path, report: &mut ConvertReport) -> Result<(), StorageError> {
    for (dir, prefix) in [(snap_dir, SNAPSHOT_PREFIX), (log_dir, LOG_PREFIX)] {
        let aside = dir.join(LEGACY_DIR);
        files::create_dir(&aside)?;
        for (_, old) in files::list(dir, prefix)? {
            let to = aside.join(old.file_name().expect("a file name"));
            fs::rename(&old, &to).map_err(io_err("move aside", &old))?;
            report.moved.push(to);
        }
        files::fsync_dir(&aside)?;
        for entry in fs::read_dir(dir).map_err(io_err("list", dir))? {
            let entry = entry.map_err(io_err("list", dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(base) = name.strip_suffix(SUFFIX) {
                if base.starts_with(prefix) {
                    let to = dir.join(base);
                    fs::rename(entry.path(), &to).map_err(io_err("rename into place", &to))?;
                    report.written.push(to);
                }
            }
        }
        files::fsync_dir(dir)?;
    }
    files::remove_all(snap_dir, &[snap_dir.join(MARK)])?;
    Ok(())
}

fn is_legacy_snapshot(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| legacy::is_legacy_snapshot(&head))
}

fn is_legacy_log(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 8];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|_| &head[..4] == txnlog::MAGIC && head[4..8] == 1i32.to_be_bytes())
}
