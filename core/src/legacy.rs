//! This server's own file formats from before it wrote Apache ZooKeeper's, read once so that
//! `zkserver convert-datadir` can rewrite a data directory in ZooKeeper's format: snapshots
//! (magic `ZKSN`, version 1 or 2, the label in the header, a CRC-32 at the end) and transaction
//! logs (`ZKLG` version 1, a CRC-32 per record). Nothing writes them any more.

use crate::acl::Acl;
use crate::codec::decode_txn;
use crate::jute::{JuteError, Reader};
use crate::stat::StatPersisted;
use crate::tree::{AclId, DataTree};
use crate::txn::TxnEntry;
use crate::types::{SessionId, Zxid};
use std::collections::BTreeMap;

const MAGIC: &[u8; 4] = b"ZKSN";
const VERSION: i32 = 2;
const ITEM_LIMIT: usize = 256 << 20;
const TAG_END: u8 = 0;
const TAG_ACL: u8 = 1;
const TAG_NODE: u8 = 2;

/// Why a legacy snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LegacyError {
    #[error("not a snapshot (bad magic)")]
    BadMagic,
    #[error("snapshot version {0} is not one earlier releases wrote")]
    BadVersion(i32),
    #[error("snapshot checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("snapshot is malformed: {0}")]
    Malformed(#[from] JuteError),
    #[error("snapshot is inconsistent: {0}")]
    Inconsistent(String),
    #[error("snapshot ends early: {0}")]
    Truncated(String),
}

/// Is this the start of a snapshot file in the earlier format? ZooKeeper's has the same magic
/// and version 2, then a dbid of -1 where the earlier format has the label zxid.
pub fn is_legacy_snapshot(head: &[u8]) -> bool {
    if head.len() < 16 || &head[..4] != MAGIC {
        return false;
    }
    let version = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let third = i64::from_be_bytes(head[8..16].try_into().expect("8 bytes"));
    (version == 1 || version == 2) && third != -1
}

/// Restores a tree from a whole snapshot of the earlier format.
pub fn read_snapshot(bytes: &[u8]) -> Result<DataTree, LegacyError> {
    let mut r = LegacyReader::new();
    r.feed(bytes)?;
    r.finish()
}

/// Reads magic and version; returns the version.
fn check_header(r: &mut Reader) -> Result<i32, LegacyError> {
    let magic = [
        r.u8("magic")?,
        r.u8("magic")?,
        r.u8("magic")?,
        r.u8("magic")?,
    ];
    if &magic != MAGIC {
        return Err(LegacyError::BadMagic);
    }
    let v = r.i32("version")?;
    if v != VERSION && v != 1 {
        return Err(LegacyError::BadVersion(v));
    }
    Ok(v)
}

/// Where a [`LegacyReader`] is.
#[derive(Clone, Debug)]
enum ReadState {
    Header,
    /// Version 2: tagged records.
    Records,
    /// Version 1: the ACL table, the node count, then that many nodes.
    V1Acls,
    V1Nodes {
        left: i64,
    },
    V1Crc,
    Done,
}

/// Reads a snapshot in pieces of any size, building the tree as nodes arrive.
#[derive(Clone, Debug)]
pub struct LegacyReader {
    state: ReadState,
    /// Bytes of a record that has not arrived whole yet.
    pending: Vec<u8>,
    crc: crc32fast::Hasher,
    tree: Option<DataTree>,
    /// ACL list numbers in the snapshot → the tree's ids.
    acls: Vec<AclId>,
    nodes: i64,
    zxid: Zxid,
    fuzzy_until: Zxid,
}

impl Default for LegacyReader {
    fn default() -> Self {
        LegacyReader::new()
    }
}

/// A record could not be read whole from the bytes at hand.
fn incomplete(e: &LegacyError) -> bool {
    matches!(e, LegacyError::Malformed(JuteError::Truncated { .. }))
}

impl LegacyReader {
    pub fn new() -> LegacyReader {
        LegacyReader {
            state: ReadState::Header,
            pending: Vec::new(),
            crc: crc32fast::Hasher::new(),
            tree: None,
            acls: Vec::new(),
            nodes: 0,
            zxid: Zxid::ZERO,
            fuzzy_until: Zxid::ZERO,
        }
    }

    /// The label, once the header is read.
    pub fn zxid(&self) -> Zxid {
        self.zxid
    }

    /// The whole snapshot has been read (and its checksum matched).
    pub fn is_done(&self) -> bool {
        matches!(self.state, ReadState::Done)
    }

    /// Reads the next piece. An error means the snapshot is unusable.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), LegacyError> {
        if self.is_done() {
            if bytes.is_empty() {
                return Ok(());
            }
            return Err(LegacyError::Inconsistent(format!(
                "{} bytes after the end",
                bytes.len()
            )));
        }
        if self.pending.is_empty() {
            let used = self.consume(bytes)?;
            self.pending.extend_from_slice(&bytes[used..]);
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(bytes);
            let used = self.consume(&buf)?;
            buf.drain(..used);
            self.pending = buf;
        }
        Ok(())
    }

    /// The tree, once everything has been read.
    pub fn finish(mut self) -> Result<DataTree, LegacyError> {
        if !self.is_done() {
            return Err(LegacyError::Truncated(format!(
                "{} nodes read, no end record",
                self.nodes
            )));
        }
        if !self.pending.is_empty() {
            return Err(LegacyError::Inconsistent(format!(
                "{} bytes left after the end",
                self.pending.len()
            )));
        }
        let mut tree = self
            .tree
            .take()
            .ok_or_else(|| LegacyError::Inconsistent("no header".into()))?;
        // Each list was interned with a reference of its own; the nodes hold theirs.
        for id in &self.acls {
            tree.acl_cache_mut().release(*id);
        }
        tree.set_fuzzy_until(self.fuzzy_until);
        Ok(tree)
    }

    /// Reads as many whole records from `buf` as it holds; returns how many bytes they took.
    fn consume(&mut self, buf: &[u8]) -> Result<usize, LegacyError> {
        let mut pos = 0;
        loop {
            if matches!(self.state, ReadState::Done) {
                return Ok(pos);
            }
            let mut r = Reader::new(&buf[pos..], ITEM_LIMIT);
            match self.record(&mut r) {
                Ok(()) => {
                    let n = r.position();
                    if !matches!(self.state, ReadState::Done) {
                        self.crc.update(&buf[pos..pos + n]);
                    }
                    pos += n;
                }
                Err(e) if incomplete(&e) => return Ok(pos),
                Err(e) => return Err(e),
            }
        }
    }

    fn tree(&mut self) -> &mut DataTree {
        self.tree.as_mut().expect("header read first")
    }

    /// One record. The checksum record checks what came before it (the crc so far).
    fn record(&mut self, r: &mut Reader) -> Result<(), LegacyError> {
        match self.state {
            ReadState::Header => {
                let version = check_header(r)?;
                self.zxid = r.zxid("snapshot zxid")?;
                let extended = r.bool("extended types")?;
                let n = r.count("sessions", 12)?;
                let mut sessions = BTreeMap::new();
                for _ in 0..n {
                    let id = SessionId(r.i64("session id")?);
                    sessions.insert(id, r.i32("session timeout")?);
                }
                self.tree = Some(DataTree::for_loading(extended, self.zxid, sessions));
                self.state = if version == 1 {
                    ReadState::V1Acls
                } else {
                    ReadState::Records
                };
            }
            ReadState::Records => match r.u8("record tag")? {
                TAG_ACL => {
                    let list = r.acls()?;
                    let id = self.tree().acl_cache_mut().intern(&list);
                    self.acls.push(id);
                }
                TAG_NODE => self.node(r)?,
                TAG_END => {
                    let count = r.i64("node count")?;
                    self.fuzzy_until = r.zxid("last applied")?;
                    let at = r.position();
                    let stored = r.i32("checksum")? as u32;
                    self.check_end(count, stored, r, at)?;
                }
                t => return Err(LegacyError::Inconsistent(format!("unknown record tag {t}"))),
            },
            ReadState::V1Acls => {
                let n = r.count("ACL lists", 4)?;
                let mut lists: Vec<Vec<Acl>> = Vec::with_capacity(n);
                for _ in 0..n {
                    lists.push(r.acls()?);
                }
                let count = r.i64("node count")?;
                if count < 1 {
                    return Err(LegacyError::Inconsistent(format!(
                        "node count {count} does not fit the snapshot"
                    )));
                }
                for l in lists {
                    let id = self.tree().acl_cache_mut().intern(&l);
                    self.acls.push(id);
                }
                self.state = ReadState::V1Nodes { left: count };
            }
            ReadState::V1Nodes { left } => {
                self.node(r)?;
                self.state = if left > 1 {
                    ReadState::V1Nodes { left: left - 1 }
                } else {
                    ReadState::V1Crc
                };
            }
            ReadState::V1Crc => {
                let stored = r.i32("checksum")? as u32;
                let count = self.nodes;
                self.check_end(count, stored, r, 0)?;
            }
            ReadState::Done => {}
        }
        Ok(())
    }

    /// The end: everything up to the checksum (the crc so far plus `r`'s first `at` bytes)
    /// must match it, and the node count the nodes read.
    fn check_end(
        &mut self,
        count: i64,
        stored: u32,
        r: &Reader,
        at: usize,
    ) -> Result<(), LegacyError> {
        let mut crc = std::mem::replace(&mut self.crc, crc32fast::Hasher::new());
        crc.update(&r.consumed()[..at]);
        let computed = crc.finalize();
        if stored != computed {
            return Err(LegacyError::Checksum { stored, computed });
        }
        if count != self.nodes {
            return Err(LegacyError::Inconsistent(format!(
                "the end says {count} nodes, {} were read",
                self.nodes
            )));
        }
        self.state = ReadState::Done;
        Ok(())
    }

    fn node(&mut self, r: &mut Reader) -> Result<(), LegacyError> {
        let path = r.str_ref("node path")?;
        let data = r.opt_buffer_ref("node data")?;
        let ai = r.i32("node acl")?;
        let stat: StatPersisted = r.stat_persisted()?;
        let acl = usize::try_from(ai)
            .ok()
            .and_then(|i| self.acls.get(i).copied())
            .ok_or_else(|| {
                LegacyError::Inconsistent(format!(
                    "node {path} names ACL list {ai}, which does not exist"
                ))
            })?;
        let first = self.nodes == 0;
        self.tree()
            .load_node(path, data, acl, &stat, first)
            .map_err(LegacyError::Inconsistent)?;
        self.nodes += 1;
        Ok(())
    }
}

/// What stopped the reading of a log early: the offset, and why.
pub type Torn = Option<(u64, String)>;

/// Reads a transaction log of the earlier format: every good record, and what stopped the
/// reading early if anything did (a torn tail), with its offset. An error is a file that is not
/// such a log.
pub fn scan_log(buf: &[u8]) -> Result<(Vec<TxnEntry>, Torn), String> {
    if buf.len() < 16 || &buf[..4] != b"ZKLG" || buf[4..8] != 1i32.to_be_bytes() {
        return Err("not a transaction log of the earlier format (ZKLG, version 1)".into());
    }
    let mut out = Vec::new();
    let mut off = 16usize;
    loop {
        if buf.len() < off + 8 {
            let rest = &buf[off.min(buf.len())..];
            if rest.iter().all(|&b| b == 0) {
                return Ok((out, None));
            }
            return Ok((out, Some((off as u64, "record header cut short".into()))));
        }
        let crc = u32::from_be_bytes(buf[off..off + 4].try_into().expect("4 bytes"));
        let len = u32::from_be_bytes(buf[off + 4..off + 8].try_into().expect("4 bytes")) as usize;
        if len == 0 && crc == 0 {
            return Ok((out, None));
        }
        let body = off + 8;
        if len == 0 || len >= buf.len() - body {
            return Ok((
                out,
                Some((off as u64, format!("record of length {len} cut short"))),
            ));
        }
        let payload = &buf[body..body + len];
        if crc32fast::hash(payload) != crc || buf[body + len] != b'B' {
            return Ok((
                out,
                Some((off as u64, "checksum or end marker wrong".into())),
            ));
        }
        let mut r = Reader::new(payload, payload.len());
        let e = decode_txn(&mut r).map_err(|e| format!("record at offset {off}: {e}"))?;
        if !r.is_empty() {
            return Err(format!(
                "record at offset {off} has bytes after its transaction"
            ));
        }
        out.push(e);
        off = body + len + 1;
    }
}
