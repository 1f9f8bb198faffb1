//! Storage against real files in temporary directories: round trips, group commit, rolls and
//! truncation across files, and every kind of damage a crash (or a disk) can leave.

use super::*;
use std::io::Read;
use std::sync::Arc;
use tempfile::TempDir;
use zk_core::acl::Acl;
use zk_core::txn::{Txn, TxnHeader};
use zk_core::SessionId;

fn opts() -> StorageOptions {
    StorageOptions {
        pre_alloc_size_kb: 4,
        force_sync: true,
        extended_types: false,
        digest: true,
    }
}

fn data_dir(d: &TempDir) -> PathBuf {
    d.path().join("data")
}

fn log_dir(d: &TempDir) -> PathBuf {
    d.path().join("datalog")
}

fn open_with(d: &TempDir, o: StorageOptions) -> (Storage, Restored, RecoveryReport) {
    match Storage::open(&data_dir(d), &log_dir(d), o) {
        Ok(x) => x,
        Err(e) => panic!("open failed: {e}"),
    }
}

fn open(d: &TempDir) -> (Storage, Restored, RecoveryReport) {
    open_with(d, opts())
}

fn open_err(d: &TempDir) -> StorageError {
    match Storage::open(&data_dir(d), &log_dir(d), opts()) {
        Ok(_) => panic!("open should have failed"),
        Err(e) => e,
    }
}

/// A transaction that applies to any tree: a node of its own.
fn entry(z: Zxid, tag: &str) -> TxnEntry {
    TxnEntry::new(
        TxnHeader {
            session: SessionId(7),
            cxid: z.counter() as i32,
            zxid: z,
            time: 1_700_000_000_000 + z.0 as i64,
        },
        Txn::Create {
            path: format!("/n{:x}", z.0),
            data: Some(format!("{tag}{}", z.0).into_bytes()),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: -1,
            create2: false,
        },
    )
}

fn entries(zxids: impl IntoIterator<Item = u64>) -> Vec<TxnEntry> {
    zxids.into_iter().map(|z| entry(Zxid(z), "v")).collect()
}

fn appends(zxids: impl IntoIterator<Item = u64>) -> Vec<PersistOp> {
    entries(zxids)
        .into_iter()
        .map(|e| PersistOp::Append(Arc::new(e)))
        .collect()
}

/// The tree after applying `entry(1..=upto)`, as the driver would snapshot it.
fn tree_at(upto: u64) -> DataTree {
    let mut t = DataTree::new(false);
    for e in entries(1..=upto) {
        t.apply(&e.hdr, &e.txn, &mut Vec::new());
    }
    t
}

fn snap(st: &mut Storage, upto: u64) {
    st.write_snapshot(Zxid(upto), &snapshot::file_bytes(&tree_at(upto)))
        .unwrap();
}

fn zxids(log: &[TxnEntry]) -> Vec<u64> {
    log.iter().map(|e| e.zxid().0).collect()
}

fn names(dir: &Path, prefix: &str) -> Vec<String> {
    files::list(dir, prefix)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn log_names(d: &TempDir) -> Vec<String> {
    names(&log_dir(d).join(VERSION_DIR), LOG_PREFIX)
}

fn snap_names(d: &TempDir) -> Vec<String> {
    names(&data_dir(d).join(VERSION_DIR), SNAPSHOT_PREFIX)
}

fn log_file(d: &TempDir, name: &str) -> PathBuf {
    log_dir(d).join(VERSION_DIR).join(name)
}

/// The offsets of the records in a log file.
fn record_offsets(path: &Path) -> Vec<u64> {
    record_offsets_of(&fs::read(path).unwrap())
}

fn record_offsets_of(buf: &[u8]) -> Vec<u64> {
    txnlog::scan(buf)
        .unwrap()
        .records
        .iter()
        .map(|(off, _)| *off)
        .collect()
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn write_at(path: &Path, at: u64, bytes: &[u8]) {
    let mut f = OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(bytes).unwrap();
}

fn flip(path: &Path, at: u64) {
    let mut b = fs::read(path).unwrap();
    b[at as usize] ^= 0x5a;
    fs::write(path, b).unwrap();
}

impl Storage {
    /// A crash in the middle of a group commit: the records of `ops` are gathered, only the
    /// first `keep` bytes of them reach the file, nothing is fsynced, and the process is gone.
    fn crash_mid_write(mut self, ops: &[PersistOp], keep: usize) {
        for op in ops {
            if let PersistOp::Append(e) = op {
                self.append(e).unwrap();
            }
        }
        let w = self.current.as_mut().unwrap();
        let keep = keep.min(w.pending.len());
        w.file.seek(SeekFrom::Start(w.pos)).unwrap();
        w.file.write_all(&w.pending[..keep]).unwrap();
    }
}

#[test]
fn a_fresh_data_dir_gets_an_empty_snapshot_and_epoch_zero() {
    let d = TempDir::new().unwrap();
    let (st, r, report) = open(&d);
    assert!(report.fresh);
    assert_eq!(snap_names(&d), vec!["snapshot.0"]);
    assert_eq!(r.tree.last_processed_zxid(), Zxid::ZERO);
    assert!(r.log.is_empty());
    assert_eq!((r.accepted_epoch, r.current_epoch), (0, 0));
    assert_eq!(report.derived_epochs.len(), 2);
    assert_eq!(
        fs::read_to_string(data_dir(&d).join(VERSION_DIR).join(CURRENT_EPOCH_FILE)).unwrap(),
        "0"
    );
    drop(st);
    let (_, r, report) = open(&d);
    assert!(!report.fresh && report.derived_epochs.is_empty());
    assert!(report.torn_tail.is_none() && report.skipped_snapshots.is_empty());
    assert_eq!(
        snapshot::serialize(&r.tree),
        snapshot::serialize(&DataTree::new(false))
    );
}

#[test]
fn appends_and_epochs_survive_a_reopen() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    let mut ops = vec![PersistOp::AcceptedEpoch(1), PersistOp::CurrentEpoch(1)];
    let logged: Vec<TxnEntry> = (1..=10).map(|c| entry(Zxid::new(1, c), "x")).collect();
    ops.extend(
        logged
            .iter()
            .cloned()
            .map(|e| PersistOp::Append(Arc::new(e))),
    );
    st.apply(&ops).unwrap();
    assert_eq!(st.last_logged(), Zxid::new(1, 10));
    drop(st);
    let (st, r, report) = open(&d);
    assert_eq!(r.log, logged);
    assert_eq!((r.accepted_epoch, r.current_epoch), (1, 1));
    assert_eq!(report.last_logged, Zxid::new(1, 10));
    assert_eq!(st.last_logged(), Zxid::new(1, 10));
    assert_eq!(log_names(&d), vec!["log.100000001"]);
    assert!(report.torn_tail.is_none());
}

/// What the disk thread calls: the same group commit, one fsync for a batch of appends, and a
/// batch with an epoch in it done up to the epoch's sync.
#[test]
fn apply_or_undo_keeps_the_group_commit() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply_or_undo(&appends(1..=300)).unwrap();
    assert_eq!(st.log_syncs, 1, "300 appends, one fsync");
    let mut ops = appends(301..=310);
    ops.push(PersistOp::AcceptedEpoch(1));
    ops.extend(appends(311..=320));
    st.apply_or_undo(&ops).unwrap();
    assert_eq!(st.log_syncs, 3, "one before the epoch, one at the end");
    drop(st);
    let (_, r, _) = open(&d);
    assert_eq!(zxids(&r.log), (1..=320).collect::<Vec<_>>());
    assert_eq!(r.accepted_epoch, 1);
}

#[test]
fn a_group_commit_is_one_write_and_one_fsync() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=500)).unwrap();
    assert_eq!(st.log_syncs, 1, "500 appends, one fsync");
    st.apply(&appends(501..=502)).unwrap();
    st.apply(&[]).unwrap();
    assert_eq!(st.log_syncs, 2, "nothing new to sync, no fsync");
    let path = log_file(&d, "log.1");
    let len = fs::metadata(&path).unwrap().len();
    assert_eq!(len % 4096, 0, "preallocated in 4 KB chunks");
    assert!(len > 4096);
    drop(st);
    let (_, r, _) = open(&d);
    assert_eq!(zxids(&r.log), (1..=502).collect::<Vec<_>>());
}

#[test]
fn without_force_sync_nothing_is_fsynced() {
    let d = TempDir::new().unwrap();
    let o = StorageOptions {
        force_sync: false,
        pre_alloc_size_kb: 0,
        ..opts()
    };
    let (mut st, _, _) = open_with(&d, o.clone());
    st.apply(&appends(1..=20)).unwrap();
    assert_eq!(st.log_syncs, 0);
    // A simulated crash that kills nothing: the storage is dropped without a final fsync, and
    // what the kernel holds is what the next start finds.
    drop(st);
    let (_, r, report) = open_with(&d, o);
    assert_eq!(zxids(&r.log), (1..=20).collect::<Vec<_>>());
    assert!(report.torn_tail.is_none());
    // Without preallocation the file is exactly the header and the records.
    let path = log_file(&d, "log.1");
    let last = *record_offsets(&path).last().unwrap();
    let mut probe = Vec::new();
    txnlog::encode_record(&entry(Zxid(20), "v"), &mut probe).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().len(),
        last + probe.len() as u64
    );
}

#[test]
fn a_crash_mid_group_commit_keeps_the_whole_records_and_cuts_the_rest() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=3)).unwrap();
    // Records 4..=9 are gathered; the crash lets through 2.5 of them.
    let mut probe = Vec::new();
    txnlog::encode_record(&entry(Zxid(4), "v"), &mut probe).unwrap();
    let one = probe.len();
    st.crash_mid_write(&appends(4..=9), 2 * one + one / 2);
    let (_, r, report) = open(&d);
    assert_eq!(zxids(&r.log), vec![1, 2, 3, 4, 5]);
    let torn = report.torn_tail.expect("the half record is reported");
    assert_eq!(torn.file, log_file(&d, "log.1"));
    assert_eq!(torn.offset, record_offsets(&torn.file)[4] + one as u64);
    assert!(!torn.removed_file);
    assert_eq!(fs::metadata(&torn.file).unwrap().len(), torn.offset);
}

#[test]
fn the_log_spans_files_across_snapshots_and_rolls() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=10)).unwrap();
    snap(&mut st, 7);
    st.apply(&appends(11..=20)).unwrap();
    snap(&mut st, 15);
    st.apply(&appends(21..=25)).unwrap();
    assert_eq!(log_names(&d), vec!["log.1", "log.b", "log.15"]);
    assert_eq!(
        snap_names(&d),
        vec!["snapshot.0", "snapshot.7", "snapshot.f"]
    );
    drop(st);
    let (_, r, report) = open(&d);
    assert_eq!(r.tree.last_processed_zxid(), Zxid(15));
    assert_eq!(
        snapshot::serialize(&r.tree),
        snapshot::serialize(&tree_at(15))
    );
    assert_eq!(zxids(&r.log), (16..=25).collect::<Vec<_>>());
    let read: Vec<String> = report
        .log_files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        read,
        vec!["log.b", "log.15"],
        "log.1 is all before the snapshot"
    );
}

#[test]
fn truncate_removes_later_files_and_cuts_inside_one() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=10)).unwrap();
    snap(&mut st, 2);
    st.apply(&appends(11..=20)).unwrap();
    snap(&mut st, 4);
    st.apply(&appends(21..=30)).unwrap();
    assert_eq!(log_names(&d), vec!["log.1", "log.b", "log.15"]);

    st.apply(&[PersistOp::Truncate(Zxid(7))]).unwrap();
    assert_eq!(st.last_logged(), Zxid(7));
    assert_eq!(log_names(&d), vec!["log.1"]);
    assert_eq!(record_offsets(&log_file(&d, "log.1")).len(), 7);
    // The new history goes on from the truncation point, in a new file.
    let new8 = entry(Zxid(8), "new");
    st.apply(&[PersistOp::Append(Arc::new(new8.clone()))])
        .unwrap();
    assert_eq!(log_names(&d), vec!["log.1", "log.8"]);

    // A snapshot holds committed transactions: the log cannot be cut below it.
    let err = st.apply(&[PersistOp::Truncate(Zxid(3))]).unwrap_err();
    assert!(
        matches!(err, StorageError::TruncateBelowSnapshot { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("snapshot.4"), "{err}");
    drop(st);

    let (_, r, _) = open(&d);
    assert_eq!(zxids(&r.log), vec![5, 6, 7, 8]);
    assert_eq!(r.log[3], new8);
}

#[test]
fn appends_must_grow_in_zxid_order() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=3)).unwrap();
    let err = st.apply(&appends([3])).unwrap_err();
    assert!(matches!(err, StorageError::OutOfOrder { .. }), "{err}");
}

#[test]
fn a_record_cut_mid_way_is_cut_off_and_reported() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=5)).unwrap();
    drop(st);
    let path = log_file(&d, "log.1");
    let fifth = record_offsets(&path)[4];
    set_len(&path, fifth + 14);
    let (mut st, r, report) = open(&d);
    assert_eq!(zxids(&r.log), vec![1, 2, 3, 4]);
    let torn = report.torn_tail.unwrap();
    assert_eq!((torn.file.clone(), torn.offset), (path.clone(), fifth));
    assert!(torn.why.contains("runs past the end"), "{}", torn.why);
    assert_eq!(fs::metadata(&path).unwrap().len(), fifth);
    // Cut once, clean from then on; the log goes on.
    st.apply(&appends([5])).unwrap();
    drop(st);
    let (_, r, report) = open(&d);
    assert!(report.torn_tail.is_none());
    assert_eq!(zxids(&r.log), vec![1, 2, 3, 4, 5]);
}

#[test]
fn garbage_after_the_last_record_is_cut_off() {
    for prealloc in [0, 4] {
        let d = TempDir::new().unwrap();
        let o = StorageOptions {
            pre_alloc_size_kb: prealloc,
            ..opts()
        };
        let (mut st, _, _) = open_with(&d, o.clone());
        st.apply(&appends(1..=3)).unwrap();
        drop(st);
        let path = log_file(&d, "log.1");
        let mut probe = Vec::new();
        txnlog::encode_record(&entry(Zxid(3), "v"), &mut probe).unwrap();
        let end = record_offsets(&path)[2] + probe.len() as u64;
        write_at(&path, end, b"\x13garbage that is no record at all\xff\xfe");
        let (_, r, report) = open_with(&d, o);
        assert_eq!(zxids(&r.log), vec![1, 2, 3], "prealloc {prealloc}");
        let torn = report.torn_tail.unwrap();
        assert_eq!(torn.offset, end);
        assert_eq!(fs::metadata(&path).unwrap().len(), end);
    }
}

#[test]
fn junk_behind_the_zero_padding_is_cut_too() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=2)).unwrap();
    drop(st);
    let path = log_file(&d, "log.1");
    write_at(&path, 3000, b"junk");
    let (_, r, report) = open(&d);
    assert_eq!(zxids(&r.log), vec![1, 2]);
    let torn = report.torn_tail.unwrap();
    assert!(
        torn.why.contains("after the end of the log"),
        "{}",
        torn.why
    );
}

#[test]
fn a_last_log_file_without_its_header_is_removed() {
    for header in [&b""[..], &b"ZKLG\0\0"[..], &[0u8; 64][..]] {
        let d = TempDir::new().unwrap();
        let (mut st, _, _) = open(&d);
        st.apply(&appends(1..=2)).unwrap();
        drop(st);
        let path = log_file(&d, "log.3");
        fs::write(&path, header).unwrap();
        let (mut st, r, report) = open(&d);
        assert_eq!(zxids(&r.log), vec![1, 2]);
        let torn = report.torn_tail.unwrap();
        assert!(torn.removed_file && torn.file == path);
        assert!(!path.exists());
        st.apply(&appends([3])).unwrap();
        assert_eq!(log_names(&d), vec!["log.1", "log.3"]);
    }
}

#[test]
fn a_corrupt_record_in_the_middle_is_an_error() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=5)).unwrap();
    drop(st);
    let path = log_file(&d, "log.1");
    let third = record_offsets(&path)[2];
    flip(&path, third + 20);
    let err = open_err(&d);
    match &err {
        StorageError::CorruptLog {
            path: p, offset, ..
        } => {
            assert_eq!((p, *offset), (&path, third));
        }
        other => panic!("unexpected {other}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("log.1") && msg.contains("valid record follows"),
        "{msg}"
    );
    // Nothing was cut: the operator sees the file as it was.
    assert_eq!(record_offsets(&path).len(), 2);
    assert!(fs::metadata(&path).unwrap().len() > third + 100);
}

#[test]
fn a_damaged_tail_of_a_file_that_is_not_the_last_is_an_error() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=5)).unwrap();
    snap(&mut st, 1);
    st.apply(&appends(6..=8)).unwrap();
    drop(st);
    let path = log_file(&d, "log.1");
    let fifth = record_offsets(&path)[4];
    flip(&path, fifth + 20);
    let err = open_err(&d);
    let msg = err.to_string();
    assert!(
        msg.contains("log.1") && msg.contains("not the last"),
        "{msg}"
    );
    assert!(msg.contains(&format!("offset {fifth}")), "{msg}");
}

#[test]
fn a_log_of_another_format_is_refused_by_name() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=2)).unwrap();
    drop(st);
    let path = log_file(&d, "log.1");
    // Version 1: this server's format before it wrote ZooKeeper's.
    write_at(&path, 4, &1i32.to_be_bytes());
    let msg = open_err(&d).to_string();
    assert!(
        msg.contains("log.1") && msg.contains("zkserver convert-datadir"),
        "{msg}"
    );
    write_at(&path, 4, &7i32.to_be_bytes());
    let msg = open_err(&d).to_string();
    assert!(msg.contains("version 7"), "{msg}");
}

#[test]
fn records_out_of_order_on_disk_are_an_error() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=5)).unwrap();
    drop(st);
    // A file whose name does not match its first record.
    let from = log_file(&d, "log.1");
    fs::rename(&from, log_file(&d, "log.2")).unwrap();
    let msg = open_err(&d).to_string();
    assert!(msg.contains("named for 0x2"), "{msg}");
}

#[test]
fn a_corrupt_newest_snapshot_falls_back_to_the_previous_one() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=10)).unwrap();
    snap(&mut st, 4);
    snap(&mut st, 8);
    st.apply(&appends(11..=12)).unwrap();
    drop(st);
    let newest = data_dir(&d).join(VERSION_DIR).join("snapshot.8");
    let len = fs::metadata(&newest).unwrap().len();
    flip(&newest, len / 2);
    let (_, r, report) = open(&d);
    assert_eq!(report.skipped_snapshots.len(), 1);
    assert_eq!(report.skipped_snapshots[0].0, newest);
    // Read a piece at a time, the damage shows as a record that makes no sense or, failing
    // that, as a wrong checksum at the end.
    let why = &report.skipped_snapshots[0].1;
    assert!(
        why.contains("checksum") || why.contains("inconsistent") || why.contains("malformed"),
        "{why}"
    );
    assert_eq!(r.tree.last_processed_zxid(), Zxid(4));
    assert_eq!(zxids(&r.log), (5..=12).collect::<Vec<_>>());
}

#[test]
fn no_readable_snapshot_or_logs_without_one_is_an_error() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=3)).unwrap();
    snap(&mut st, 2);
    drop(st);
    let sd = data_dir(&d).join(VERSION_DIR);
    for name in ["snapshot.0", "snapshot.2"] {
        fs::write(sd.join(name), b"not a snapshot").unwrap();
    }
    let err = open_err(&d);
    assert!(matches!(err, StorageError::NoValidSnapshot { .. }), "{err}");
    assert!(err.to_string().contains("snapshot.2"), "{err}");
    for name in ["snapshot.0", "snapshot.2"] {
        fs::remove_file(sd.join(name)).unwrap();
    }
    let err = open_err(&d);
    assert!(
        matches!(err, StorageError::LogsWithoutSnapshot { .. }),
        "{err}"
    );
}

#[test]
fn epochs_are_written_and_read_and_derived_when_missing() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&[PersistOp::AcceptedEpoch(3), PersistOp::CurrentEpoch(2)])
        .unwrap();
    st.apply(&[PersistOp::Append(Arc::new(entry(Zxid::new(2, 5), "e")))])
        .unwrap();
    drop(st);
    let ad = data_dir(&d).join(VERSION_DIR).join(ACCEPTED_EPOCH_FILE);
    let cd = data_dir(&d).join(VERSION_DIR).join(CURRENT_EPOCH_FILE);
    assert_eq!(fs::read_to_string(&ad).unwrap(), "3");
    let (_, r, _) = open(&d);
    assert_eq!((r.accepted_epoch, r.current_epoch), (3, 2));

    // Missing files take the epoch of the last zxid, and are written.
    fs::remove_file(&ad).unwrap();
    fs::remove_file(&cd).unwrap();
    let (_, r, report) = open(&d);
    assert_eq!((r.accepted_epoch, r.current_epoch), (2, 2));
    assert_eq!(report.derived_epochs, vec![cd.clone(), ad.clone()]);
    assert_eq!(fs::read_to_string(&ad).unwrap(), "2");

    // A trailing newline (hand-written files) is fine; anything else is not.
    fs::write(&ad, "4\n").unwrap();
    assert_eq!(open(&d).1.accepted_epoch, 4);
    fs::write(&ad, "four").unwrap();
    let msg = open_err(&d).to_string();
    assert!(
        msg.contains("acceptedEpoch") && msg.contains("four"),
        "{msg}"
    );
    fs::write(&ad, "1").unwrap();
    let err = open_err(&d);
    assert!(
        matches!(
            err,
            StorageError::EpochsOutOfOrder {
                accepted: 1,
                current: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn leftover_temp_files_are_removed() {
    let d = TempDir::new().unwrap();
    drop(open(&d));
    let tmp_snap = data_dir(&d).join(VERSION_DIR).join("snapshot.9.tmp");
    let tmp_epoch = data_dir(&d).join(VERSION_DIR).join("currentEpoch.tmp");
    fs::write(&tmp_snap, b"half a snapshot").unwrap();
    fs::write(&tmp_epoch, b"7").unwrap();
    let (_, r, report) = open(&d);
    assert_eq!(r.current_epoch, 0);
    assert!(!tmp_snap.exists() && !tmp_epoch.exists());
    assert_eq!(report.removed_temp_files.len(), 2);
}

#[test]
fn purge_keeps_the_newest_snapshots_and_the_logs_they_need() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    for (from, to) in [(1, 5), (6, 10), (11, 15)] {
        st.apply(&appends(from..=to)).unwrap();
        snap(&mut st, to);
    }
    st.apply(&appends(16..=20)).unwrap();
    assert_eq!(log_names(&d), vec!["log.1", "log.6", "log.b", "log.10"]);
    assert_eq!(
        snap_names(&d),
        vec!["snapshot.0", "snapshot.5", "snapshot.a", "snapshot.f"]
    );

    let report = st.purge(2).unwrap();
    assert_eq!(report.snapshots.len(), 2);
    assert_eq!(snap_names(&d), vec!["snapshot.a", "snapshot.f"]);
    // Replaying from snapshot.a needs the file that starts at or before 0xa, and every later one.
    assert_eq!(log_names(&d), vec!["log.6", "log.b", "log.10"]);
    assert_eq!(report.logs, vec![log_file(&d, "log.1")]);
    assert_eq!(st.purge(2).unwrap(), PurgeReport::default(), "idempotent");

    // The log goes on after a purge, and the oldest kept snapshot still replays.
    st.apply(&appends(21..=22)).unwrap();
    drop(st);
    let f = data_dir(&d).join(VERSION_DIR).join("snapshot.f");
    let len = fs::metadata(&f).unwrap().len();
    flip(&f, len / 2);
    let (mut st, r, _) = open(&d);
    assert_eq!(r.tree.last_processed_zxid(), Zxid(10));
    assert_eq!(zxids(&r.log), (11..=22).collect::<Vec<_>>());

    // The unreadable snapshot does not count among those kept.
    snap(&mut st, 20);
    st.purge(1).unwrap();
    assert_eq!(snap_names(&d), vec!["snapshot.14"]);
    assert_eq!(log_names(&d), vec!["log.10"]);
    drop(st);
    let (_, r, _) = open(&d);
    assert_eq!(zxids(&r.log), vec![21, 22]);
}

#[test]
fn a_snap_from_the_leader_replaces_the_history() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=10)).unwrap();
    snap(&mut st, 5);
    // Records 11..=15 of our own, which the leader never had.
    st.apply(&appends(11..=15)).unwrap();
    // The leader's state at 13 differs from ours.
    let mut leader = tree_at(12);
    let e = entry(Zxid(13), "leader");
    leader.apply(&e.hdr, &e.txn, &mut Vec::new());
    let data = snapshot::serialize(&leader);
    let after: Vec<TxnEntry> = (14..=16).map(|z| entry(Zxid(z), "leader")).collect();
    // The snapshot arrives in three pieces: written aside, the history untouched until the
    // install.
    let cut = [0, 30, data.len() / 2, data.len()];
    let pieces: Vec<PersistOp> = cut
        .windows(2)
        .enumerate()
        .map(|(i, w)| PersistOp::SnapshotPiece {
            zxid: Zxid(13),
            first: i == 0,
            bytes: Arc::new(data[w[0]..w[1]].to_vec()),
        })
        .collect();
    st.apply(&pieces).unwrap();
    assert_eq!(snap_names(&d), vec!["snapshot.0", "snapshot.5"]);
    let mut ops = vec![PersistOp::SnapshotInstall { zxid: Zxid(13) }];
    ops.extend(
        after
            .iter()
            .cloned()
            .map(|e| PersistOp::Append(Arc::new(e))),
    );
    st.apply(&ops).unwrap();
    assert_eq!(snap_names(&d), vec!["snapshot.d"]);
    assert_eq!(log_names(&d), vec!["log.e"]);
    drop(st);
    let (_, r, _) = open(&d);
    assert_eq!(snapshot::serialize(&r.tree), data);
    assert_eq!(r.log, after);

    // Snapshot bytes that are not for the zxid named are refused, and so are a piece without
    // a beginning and an install of what was not received.
    let (mut st, _, _) = open(&d);
    let refused = |st: &mut Storage, op: PersistOp| {
        let err = st.apply(&[op]).unwrap_err();
        assert!(matches!(err, StorageError::BadSnapshot { .. }), "{err}");
    };
    let piece = |zxid: u64, first: bool| PersistOp::SnapshotPiece {
        zxid: Zxid(zxid),
        first,
        bytes: Arc::new(data.clone()),
    };
    refused(&mut st, piece(13, false));
    refused(&mut st, PersistOp::SnapshotInstall { zxid: Zxid(13) });
    drop(st);
    let (_, r, _) = open(&d);
    assert_eq!(r.log, after, "refused pieces change nothing");
}

#[test]
fn a_fuzzy_snap_cut_short_by_a_crash_recovers_what_was_logged() {
    // The leader's snapshot is labelled 5 but its walk saw changes up to 7; the crash comes
    // after the install and before 6 and 7 were logged.
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    let mut tree = tree_at(5);
    let mut out = Vec::new();
    let mut w = snapshot::SnapshotWriter::start(&tree, false, &mut out);
    for z in 6..=7 {
        let e = entry(Zxid(z), "late");
        tree.apply(&e.hdr, &e.txn, &mut Vec::new());
    }
    assert!(w.step(&tree, &mut out, usize::MAX));
    st.apply(&[
        PersistOp::SnapshotPiece {
            zxid: Zxid(5),
            first: true,
            bytes: Arc::new(out),
        },
        PersistOp::SnapshotInstall { zxid: Zxid(5) },
    ])
    .unwrap();
    drop(st);
    let (_, r, report) = open(&d);
    assert_eq!(report.fuzzy_beyond_log, Some(Zxid(7)));
    assert_eq!(r.tree.last_processed_zxid(), Zxid(5));
    assert!(!r.tree.is_consistent());
}

#[test]
fn data_dir_and_data_log_dir_may_be_the_same() {
    let d = TempDir::new().unwrap();
    let dir = d.path().join("zk");
    let (mut st, _, _) = Storage::open(&dir, &dir, opts()).unwrap();
    st.apply(&appends(1..=3)).unwrap();
    snap(&mut st, 2);
    drop(st);
    let (_, r, _) = Storage::open(&dir, &dir, opts()).unwrap();
    assert_eq!(zxids(&r.log), vec![3]);
    let mut names: Vec<String> = fs::read_dir(dir.join(VERSION_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "acceptedEpoch",
            "currentEpoch",
            "log.1",
            "snapshot.0",
            "snapshot.2"
        ]
    );
    let mut s = String::new();
    File::open(dir.join(VERSION_DIR).join(CURRENT_EPOCH_FILE))
        .unwrap()
        .read_to_string(&mut s)
        .unwrap();
    assert_eq!(s, "0");
}

#[test]
fn any_damage_to_a_log_is_cut_or_refused_never_misread() {
    let d = TempDir::new().unwrap();
    let o = StorageOptions {
        pre_alloc_size_kb: 0,
        ..opts()
    };
    let (mut st, _, _) = open_with(&d, o.clone());
    let written = entries(1..=3);
    st.apply(&appends(1..=3)).unwrap();
    drop(st);
    let path = log_file(&d, "log.1");
    let original = fs::read(&path).unwrap();
    let is_prefix = |log: &[TxnEntry]| log.len() <= written.len() && log == &written[..log.len()];
    for i in 0..original.len() {
        let mut b = original.clone();
        b[i] ^= 0xff;
        fs::write(&path, &b).unwrap();
        if let Ok((_, r, _)) = Storage::open(&data_dir(&d), &log_dir(&d), o.clone()) {
            assert!(is_prefix(&r.log), "byte {i} flipped: {:?}", zxids(&r.log));
        }
    }
    // Cut at every length: a clean cut at a record boundary loses nothing and reports nothing;
    // any other is a torn tail, cut back to the last whole record.
    let mut ends = record_offsets_of(&original);
    ends.push(original.len() as u64);
    for len in 0..original.len() {
        fs::write(&path, &original[..len]).unwrap();
        let (_, r, report) = match Storage::open(&data_dir(&d), &log_dir(&d), o.clone()) {
            Ok(x) => x,
            Err(e) => panic!("cut at {len}: a torn tail must be recoverable: {e}"),
        };
        let whole = ends[1..].iter().filter(|e| **e <= len as u64).count();
        assert_eq!(r.log, written[..whole], "cut at {len}");
        // A cut that leaves only zeros of a record's start (its checksum, an Adler-32 in a
        // long, begins with four) looks like the padding: nothing is lost, nothing to report.
        let start = ends.iter().filter(|e| **e <= len as u64).max().copied();
        let partial_zeros =
            start.is_some_and(|s| original[s as usize..len].iter().all(|&b| b == 0));
        assert_eq!(
            report.torn_tail.is_some(),
            !ends.contains(&(len as u64)) && !partial_zeros,
            "cut at {len}"
        );
    }
}

/// A snapshot written a piece at a time while transactions go on being logged and applied:
/// after a restart, the snapshot plus the log after its zxid give back the live tree exactly.
#[test]
fn a_fuzzy_snapshot_written_in_pieces_recovers_exactly() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    let mut live = DataTree::new(false);
    let mut next = 1u64;
    let mut log_and_apply = |st: &mut Storage, live: &mut DataTree, n: u64| {
        for _ in 0..n {
            let e = entry(Zxid(next), "f");
            st.apply(&[PersistOp::Append(Arc::new(e.clone()))]).unwrap();
            live.apply(&e.hdr, &e.txn, &mut Vec::new());
            next += 1;
        }
    };
    log_and_apply(&mut st, &mut live, 200);
    let mut header = Vec::new();
    let mut w = snapshot::SnapshotWriter::start(&live, false, &mut header);
    let label = w.zxid();
    let tmp = st.snapshot_temp_path(label);
    let mut file = SnapshotFile::create(label, tmp.clone()).unwrap();
    file.write(&header).unwrap();
    loop {
        let mut piece = Vec::new();
        let done = w.step(&live, &mut piece, 300);
        file.write(&piece).unwrap();
        // Three transactions between two pieces.
        log_and_apply(&mut st, &mut live, 3);
        if done {
            break;
        }
    }
    assert!(file.finish(live.last_digest(), true).unwrap() > 0);
    st.commit_snapshot(label, &tmp).unwrap();
    log_and_apply(&mut st, &mut live, 5);
    drop(st);

    let (_, restored, report) = open(&d);
    assert_eq!(report.snapshot.as_ref().map(|s| s.1), Some(label));
    let mut tree = restored.tree;
    assert!(
        tree.fuzzy_until() > label,
        "the walk overlapped transactions"
    );
    for e in &restored.log {
        tree.apply(&e.hdr, &e.txn, &mut Vec::new());
    }
    assert!(tree.is_consistent());
    assert_eq!(snapshot::serialize(&tree), snapshot::serialize(&live));
}

/// A snapshot dropped half-way leaves nothing behind; one cut off by a crash (its temporary
/// file) is removed at the next start, and the older snapshot is used.
#[test]
fn an_unfinished_snapshot_leaves_nothing() {
    let d = TempDir::new().unwrap();
    let (mut st, _, _) = open(&d);
    st.apply(&appends(1..=10)).unwrap();
    let live = tree_at(10);
    let mut header = Vec::new();
    let mut w = snapshot::SnapshotWriter::start(&live, false, &mut header);
    let tmp = st.snapshot_temp_path(Zxid(10));
    let mut file = SnapshotFile::create(Zxid(10), tmp.clone()).unwrap();
    file.write(&header).unwrap();
    let mut piece = Vec::new();
    w.step(&live, &mut piece, 10);
    file.write(&piece).unwrap();
    file.abort();
    assert_eq!(snap_names(&d), vec!["snapshot.0"]);
    let mut file = SnapshotFile::create(Zxid(10), tmp).unwrap();
    file.write(&header).unwrap();
    file.write(&piece).unwrap();
    drop((file, st)); // a crash mid-snapshot
    let (_, restored, report) = open(&d);
    assert_eq!(report.removed_temp_files.len(), 1);
    assert_eq!(snap_names(&d), vec!["snapshot.0"]);
    assert_eq!(zxids(&restored.log), (1..=10).collect::<Vec<_>>());
}
