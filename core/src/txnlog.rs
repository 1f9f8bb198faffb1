//! Apache ZooKeeper's transaction log file format (`FileTxnLog`), and reading one file back with
//! an account of any damage.
//!
//! ```text
//!   file    = header record* zeros*
//!   header  = FileHeader { magic: int "ZKLG", version: int 2, dbid: long 0 }       (16 bytes)
//!   record  = checksum: long (Adler-32 of payload) | payload: buffer (int length, bytes) | 0x42 ('B')
//!   payload = TxnHeader, the txn record, and a TxnDigest when digests are on ([`crate::codec`])
//! ```
//!
//! Files are named `log.<hex zxid of their first record>` and padded with zeros ahead of the
//! writer (`preAllocSize`, 64 MB by default), so the log ends at the first record whose length
//! is 0 — or at the end of the file.
//!
//! Reading distinguishes damage a crash can cause — a record cut short, a checksum that does
//! not match because only part of the record reached the disk, a missing end marker — from a
//! record whose checksum matches but whose bytes make no transaction, which no crash produces.
//! (ZooKeeper itself refuses to start on a checksum that does not match anywhere in its log; the
//! caller here cuts a torn tail off instead, when nothing valid follows it.) Files of this
//! server's earlier format (version 1, with CRC-32s) are recognised and named as such.

use crate::codec::{decode_txn, encode_txn};
use crate::jute::{Reader, Writer};
use crate::txn::TxnEntry;
use crate::types::Zxid;

/// `FileTxnLog.TXNLOG_MAGIC`: "ZKLG".
pub const MAGIC: &[u8; 4] = b"ZKLG";
/// `FileTxnLog.VERSION`.
pub const VERSION: i32 = 2;
/// The version this server wrote before it wrote ZooKeeper's format.
pub const LEGACY_VERSION: i32 = 1;
pub const HEADER_LEN: usize = 16;
/// Checksum and length.
const RECORD_HEADER_LEN: usize = 12;
const END_OF_RECORD: u8 = b'B';

/// A new log file's header (dbid 0, as ZooKeeper writes it).
pub fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(MAGIC);
    h[4..8].copy_from_slice(&VERSION.to_be_bytes());
    h
}

/// Appends one record to `out`. `None` when the payload is too long for its length field.
pub fn encode_record(entry: &TxnEntry, out: &mut Vec<u8>) -> Option<()> {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER_LEN]);
    let mut w = Writer {
        buf: std::mem::take(out),
    };
    encode_txn(entry, &mut w);
    *out = w.into_inner();
    let payload = &out[start + RECORD_HEADER_LEN..];
    let len = i32::try_from(payload.len()).ok()?;
    let sum = adler2::adler32_slice(payload) as i64;
    out[start..start + 8].copy_from_slice(&sum.to_be_bytes());
    out[start + 8..start + 12].copy_from_slice(&len.to_be_bytes());
    out.push(END_OF_RECORD);
    Some(())
}

/// What is at an offset of a log file.
enum Next {
    /// A good record, and the offset after it.
    Record(TxnEntry, usize),
    /// The end of the log: a zero length, or the end of the file.
    End,
    /// A record a crash may have cut short or garbled.
    Torn(String),
    /// A record whose checksum matches but that makes no transaction.
    Invalid(String),
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

fn read_record(buf: &[u8], off: usize) -> Next {
    let left = buf.len().saturating_sub(off);
    if left < RECORD_HEADER_LEN {
        if buf[off.min(buf.len())..].iter().all(|&b| b == 0) {
            return Next::End;
        }
        return Next::Torn(format!("record header cut short ({left} bytes)"));
    }
    let sum = be_i64(buf, off);
    let len = be_i32(buf, off + 8);
    if len == 0 {
        // ZooKeeper's end of the log (the preallocated zeros).
        if sum == 0 {
            return Next::End;
        }
        return Next::Torn(format!("record of length 0 with checksum {sum:#x}"));
    }
    if len < 0 {
        return Next::Torn(format!("record length {len} is negative"));
    }
    let len = len as usize;
    let body = off + RECORD_HEADER_LEN;
    if len >= buf.len() - body {
        return Next::Torn(format!(
            "record length {len} runs past the end of the file ({} bytes left)",
            buf.len() - body
        ));
    }
    let payload = &buf[body..body + len];
    let computed = adler2::adler32_slice(payload) as i64;
    if computed != sum {
        return Next::Torn(format!(
            "checksum mismatch: stored {sum:#x}, computed {computed:#x}"
        ));
    }
    if buf[body + len] != END_OF_RECORD {
        return Next::Torn(format!(
            "end-of-record marker is {:#04x}, not 0x42",
            buf[body + len]
        ));
    }
    let mut r = Reader::new(payload, payload.len());
    match decode_txn(&mut r) {
        Ok(_) if !r.is_empty() => Next::Invalid(format!(
            "checksum matches but {} bytes are left after the transaction",
            r.remaining()
        )),
        Ok(entry) => Next::Record(entry, body + len + 1),
        Err(e) => Next::Invalid(format!(
            "checksum matches but the transaction cannot be read: {e}"
        )),
    }
}

/// What kind of damage ended the reading of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DamageKind {
    /// The file header is missing or cut short (a crash while the file was being created).
    Header,
    /// A record is cut short or garbled.
    Record,
    /// The log ended cleanly, but non-zero bytes follow the end.
    TrailingBytes,
}

#[derive(Clone, Debug)]
pub struct Damage {
    pub kind: DamageKind,
    /// Where the damage starts: everything before it is good.
    pub offset: u64,
    pub why: String,
    /// A good record found after the damage (with a zxid above the last good one): the damage
    /// is in the middle of the log, not at its tail.
    pub valid_record_at: Option<u64>,
}

/// One log file, read.
#[derive(Debug, Default)]
pub struct Scan {
    /// Good records, each with its offset, in file order.
    pub records: Vec<(u64, TxnEntry)>,
    pub damage: Option<Damage>,
}

/// Why a file cannot be read as a log at all (damage no crash explains), with the offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unreadable {
    pub offset: u64,
    pub why: String,
    /// It is a log of this server's earlier format: convert it.
    pub legacy: bool,
}

/// Reads every record of a log file. An error is damage no crash explains: a header that is
/// not a log's, a log of another format, or a record whose checksum matches but that makes no
/// transaction.
pub fn scan(buf: &[u8]) -> Result<Scan, Unreadable> {
    let unreadable = |offset: u64, why: String| Unreadable {
        offset,
        why,
        legacy: false,
    };
    let mut scan = Scan::default();
    let present = buf.len().min(HEADER_LEN);
    let expected = header();
    if buf.len() < HEADER_LEN || buf[..HEADER_LEN].iter().all(|&b| b == 0) {
        let head = &buf[..present];
        let zeros = head.iter().all(|&b| b == 0);
        if !zeros && head != &expected[..present] {
            return Err(unreadable(
                0,
                "file header is neither a log header nor a cut-short one".into(),
            ));
        }
        scan.damage = Some(Damage {
            kind: DamageKind::Header,
            offset: 0,
            why: if zeros {
                "file header is missing (the file starts with zeros or is empty)".into()
            } else {
                format!("file header is cut short ({present} of {HEADER_LEN} bytes)")
            },
            valid_record_at: find_valid_record(buf, 1, None),
        });
        return Ok(scan);
    }
    if &buf[..4] != MAGIC {
        return Err(unreadable(
            0,
            format!("not a transaction log: magic {:02x?}", &buf[..4]),
        ));
    }
    let version = be_i32(buf, 4);
    if version == LEGACY_VERSION {
        return Err(Unreadable {
            offset: 0,
            why: "this log is in the format of earlier zkserver releases (version 1)".into(),
            legacy: true,
        });
    }
    if version != VERSION {
        return Err(unreadable(
            0,
            format!("log format version {version} is not supported (ZooKeeper writes version {VERSION})"),
        ));
    }
    let mut off = HEADER_LEN;
    let mut last: Option<Zxid> = None;
    loop {
        match read_record(buf, off) {
            Next::Record(entry, next) => {
                last = Some(entry.zxid());
                scan.records.push((off as u64, entry));
                off = next;
            }
            Next::End => {
                if let Some(nz) = buf[off.min(buf.len())..].iter().position(|&b| b != 0) {
                    scan.damage = Some(Damage {
                        kind: DamageKind::TrailingBytes,
                        offset: off as u64,
                        why: format!(
                            "non-zero bytes at offset {} after the end of the log",
                            off + nz
                        ),
                        valid_record_at: find_valid_record(buf, off + nz, last),
                    });
                }
                return Ok(scan);
            }
            Next::Torn(why) => {
                scan.damage = Some(Damage {
                    kind: DamageKind::Record,
                    offset: off as u64,
                    why,
                    valid_record_at: find_valid_record(buf, off + 1, last),
                });
                return Ok(scan);
            }
            Next::Invalid(why) => return Err(unreadable(off as u64, why)),
        }
    }
}

/// The first offset at or after `from` where a good record starts (with a zxid above `after`).
/// Only read on damage: it tells a torn tail (nothing good after it) from a hole in the middle.
fn find_valid_record(buf: &[u8], from: usize, after: Option<Zxid>) -> Option<u64> {
    let mut p = from;
    while p + RECORD_HEADER_LEN < buf.len() {
        // Skip runs of zeros (the padding) quickly.
        if buf[p] == 0 && buf[p..p + RECORD_HEADER_LEN].iter().all(|&b| b == 0) {
            match buf[p..].iter().position(|&b| b != 0) {
                Some(n) => {
                    p = (p + n).saturating_sub(RECORD_HEADER_LEN - 1).max(p + 1);
                    continue;
                }
                None => return None,
            }
        }
        let len = be_i32(buf, p + 8);
        let marker = usize::try_from(len)
            .ok()
            .and_then(|l| (p + RECORD_HEADER_LEN).checked_add(l));
        let plausible = len > 0 && marker.is_some_and(|m| m < buf.len() && buf[m] == END_OF_RECORD);
        if plausible {
            if let Next::Record(e, _) = read_record(buf, p) {
                if after.is_none_or(|a| e.zxid() > a) {
                    return Some(p as u64);
                }
            }
        }
        p += 1;
    }
    None
}

/// A torn tail recovery cuts off: the end of the last log file, from `offset` (or the whole
/// file, when its header never made it to disk).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The file, by the zxid it is named for.
    pub file: Zxid,
    pub offset: u64,
    pub why: String,
    pub remove_file: bool,
}

/// Damage no crash explains, in the file named for `file` at `offset`: a server must not
/// start on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogCorrupt {
    pub file: Zxid,
    pub offset: u64,
    pub what: String,
    /// The file is a log of this server's earlier format.
    pub legacy: bool,
}

/// Recovery's reading of the log, the same for zkserver (over files) and the simulator (over
/// its disk's bytes): the files are handed over oldest first, from the one holding the first
/// transaction after the snapshot (ZooKeeper's `getLogFiles`); what comes out is every
/// transaction after the snapshot, and the torn tail to cut. Appends after recovery go to a
/// new file, as ZooKeeper's do.
///
/// * A record cut short or garbled at the very end of the last file, with nothing valid after
///   it, is the tail of a write whose fsync never finished, so never acknowledged: cut off. So
///   is a last file whose header never made it to disk.
/// * Damage with a good record after it, damage in a file that is not the last, records out of
///   order, or a file whose first record is not the zxid it is named for: [`LogCorrupt`].
/// * Zeros or junk after a clean end are ignored (junk is reported in `junk`).
#[derive(Debug)]
pub struct LogRecovery {
    base: Zxid,
    prev: Option<Zxid>,
    entries: Vec<TxnEntry>,
    torn: Option<TornTail>,
    /// Junk after the clean end of a file that is not the last: (file, offset, what).
    pub junk: Vec<(Zxid, u64, String)>,
}

impl LogRecovery {
    /// Recovery of the transactions after `base` (the snapshot's zxid).
    pub fn new(base: Zxid) -> LogRecovery {
        LogRecovery {
            base,
            prev: None,
            entries: Vec::new(),
            torn: None,
            junk: Vec::new(),
        }
    }

    /// The next file, named for `start`; `last` when no newer file follows.
    pub fn file(&mut self, start: Zxid, bytes: &[u8], last: bool) -> Result<(), LogCorrupt> {
        let corrupt = |offset: u64, what: String| LogCorrupt {
            file: start,
            offset,
            what,
            legacy: false,
        };
        let scan = scan(bytes).map_err(|e| LogCorrupt {
            file: start,
            offset: e.offset,
            what: e.why,
            legacy: e.legacy,
        })?;
        for (k, (off, e)) in scan.records.into_iter().enumerate() {
            let z = e.zxid();
            if k == 0 && z != start {
                return Err(corrupt(
                    off,
                    format!("the first record has zxid {z}, but the file is named for {start}"),
                ));
            }
            if let Some(p) = self.prev.filter(|p| z <= *p) {
                return Err(corrupt(off, format!("zxid {z} does not follow {p}")));
            }
            self.prev = Some(z);
            if z > self.base {
                self.entries.push(e);
            }
        }
        let Some(d) = scan.damage else {
            return Ok(());
        };
        if let Some(at) = d.valid_record_at {
            return Err(corrupt(
                d.offset,
                format!("{}, and a valid record follows at offset {at}", d.why),
            ));
        }
        if !last {
            if d.kind == DamageKind::TrailingBytes {
                // Junk after a clean end, holding no record: nothing is lost.
                self.junk.push((start, d.offset, d.why));
                return Ok(());
            }
            return Err(corrupt(
                d.offset,
                format!("{}, in a log file that is not the last", d.why),
            ));
        }
        self.torn = Some(TornTail {
            file: start,
            offset: d.offset,
            why: d.why,
            remove_file: d.kind == DamageKind::Header,
        });
        Ok(())
    }

    /// Every transaction after the snapshot, and the tail to cut.
    pub fn finish(self) -> (Vec<TxnEntry>, Option<TornTail>) {
        (self.entries, self.torn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::{Txn, TxnHeader};
    use crate::SessionId;

    fn entry(z: u64) -> TxnEntry {
        TxnEntry::new(
            TxnHeader {
                session: SessionId(1),
                cxid: z as i32,
                zxid: Zxid(z),
                time: 0,
            },
            Txn::SetData {
                path: "/a".into(),
                data: Some(vec![z as u8; 20]),
                version: -1,
            },
        )
    }

    fn file(zxids: &[u64], padding: usize) -> Vec<u8> {
        let mut b = header().to_vec();
        for &z in zxids {
            encode_record(&entry(z), &mut b).unwrap();
        }
        b.resize(b.len() + padding, 0);
        b
    }

    #[test]
    fn records_read_back_up_to_the_padding() {
        let b = file(&[1, 2, 3], 100);
        let s = scan(&b).unwrap();
        assert!(s.damage.is_none());
        let z: Vec<u64> = s.records.iter().map(|(_, e)| e.zxid().0).collect();
        assert_eq!(z, vec![1, 2, 3]);
        assert_eq!(s.records[0].0, HEADER_LEN as u64);
        assert_eq!(s.records[1].1, entry(2));
        let s = scan(&file(&[], 0)).unwrap();
        assert!(s.records.is_empty() && s.damage.is_none());
    }

    #[test]
    fn a_record_is_zookeepers() {
        let mut b = Vec::new();
        encode_record(&entry(7), &mut b).unwrap();
        let payload = &b[12..b.len() - 1];
        assert_eq!(
            &b[..8],
            &(adler2::adler32_slice(payload) as i64).to_be_bytes()
        );
        assert_eq!(&b[8..12], &(payload.len() as i32).to_be_bytes());
        assert_eq!(b[b.len() - 1], b'B');
        assert_eq!(&header()[..8], b"ZKLG\0\0\0\x02");
    }

    #[test]
    fn a_cut_record_is_torn_and_nothing_valid_follows() {
        let full = file(&[1, 2, 3], 0);
        let two = file(&[1, 2], 0).len();
        for cut in [two + 8, two + 10, two + 13, full.len() - 1] {
            let mut b = full[..cut].to_vec();
            b.resize(b.len() + 64, 0);
            let s = scan(&b).unwrap();
            assert_eq!(s.records.len(), 2, "cut at {cut}");
            let d = s.damage.unwrap();
            assert_eq!(d.kind, DamageKind::Record);
            assert_eq!(d.offset, two as u64);
            assert_eq!(d.valid_record_at, None);
        }
    }

    #[test]
    fn a_bad_record_before_good_ones_is_found() {
        let mut b = file(&[1, 2, 3], 32);
        let second = scan(&b).unwrap().records[1].0 as usize;
        b[second + 16] ^= 0xff;
        let s = scan(&b).unwrap();
        let d = s.damage.unwrap();
        assert_eq!(d.offset, second as u64);
        assert!(d.why.contains("checksum"), "{}", d.why);
        assert!(d.valid_record_at.is_some_and(|at| at > second as u64));
    }

    #[test]
    fn headers_that_are_not_a_logs_are_errors() {
        let mut b = file(&[1], 0);
        b[4..8].copy_from_slice(&1i32.to_be_bytes());
        let e = scan(&b).unwrap_err();
        assert!(e.legacy && e.why.contains("earlier zkserver"), "{e:?}");
        b[4..8].copy_from_slice(&3i32.to_be_bytes());
        assert!(!scan(&b).unwrap_err().legacy);
        b[..4].copy_from_slice(b"XXXX");
        assert!(scan(&b).unwrap_err().why.contains("magic"));
        assert_eq!(
            scan(&[0; 7]).unwrap().damage.unwrap().kind,
            DamageKind::Header
        );
        assert_eq!(
            scan(&header()[..5]).unwrap().damage.unwrap().kind,
            DamageKind::Header
        );
        assert!(scan(b"ZKXX").is_err());
    }

    #[test]
    fn a_checksummed_record_that_is_no_txn_is_an_error() {
        let mut b = header().to_vec();
        let payload = [1u8, 2, 3];
        b.extend_from_slice(&(adler2::adler32_slice(&payload) as i64).to_be_bytes());
        b.extend_from_slice(&3i32.to_be_bytes());
        b.extend_from_slice(&payload);
        b.push(b'B');
        let e = scan(&b).unwrap_err();
        assert_eq!(e.offset, HEADER_LEN as u64);
        assert!(e.why.contains("cannot be read"), "{}", e.why);
    }

    fn recover(
        files: &[(u64, Vec<u8>)],
        base: u64,
    ) -> Result<(Vec<u64>, Option<TornTail>), LogCorrupt> {
        let mut rec = LogRecovery::new(Zxid(base));
        for (i, (start, bytes)) in files.iter().enumerate() {
            rec.file(Zxid(*start), bytes, i + 1 == files.len())?;
        }
        let (entries, torn) = rec.finish();
        Ok((entries.iter().map(|e| e.zxid().0).collect(), torn))
    }

    #[test]
    fn recovery_cuts_a_torn_tail_and_refuses_damage_no_crash_explains() {
        // Whole files, zeros after the end: every record after the snapshot.
        let (zs, torn) = recover(&[(1, file(&[1, 2, 3], 64)), (4, file(&[4, 5], 0))], 2).unwrap();
        assert_eq!((zs, torn), (vec![3, 4, 5], None));
        // A record cut short at the very end of the last file: cut there.
        let mut last = file(&[4, 5], 0);
        let end = last.len() as u64;
        let mut r = Vec::new();
        encode_record(&entry(6), &mut r).unwrap();
        last.extend_from_slice(&r[..r.len() / 2]);
        let (zs, torn) = recover(&[(1, file(&[1, 2, 3], 0)), (4, last.clone())], 0).unwrap();
        assert_eq!(zs, vec![1, 2, 3, 4, 5]);
        let t = torn.unwrap();
        assert_eq!((t.file, t.offset, t.remove_file), (Zxid(4), end, false));
        // The same damage in a file that is not the last: corrupt.
        let e = recover(&[(4, last), (6, file(&[6], 0))], 0).unwrap_err();
        assert_eq!((e.file, e.offset), (Zxid(4), end));
        // A hole with a good record after it: corrupt.
        let mut holed = file(&[1, 2, 3], 0);
        let second = HEADER_LEN + r.len();
        holed[second + 3] ^= 0xff;
        let e = recover(&[(1, holed)], 0).unwrap_err();
        assert!(e.what.contains("a valid record follows"), "{}", e.what);
        // A file whose header never reached the disk: removed.
        let (_, torn) = recover(&[(1, file(&[1], 0)), (2, vec![0; 10])], 0).unwrap();
        assert!(torn.unwrap().remove_file);
        // Out of order, or misnamed.
        assert!(recover(&[(1, file(&[1, 2], 0)), (2, file(&[2], 0))], 0).is_err());
        assert!(recover(&[(7, file(&[1], 0))], 0).is_err());
    }
}
