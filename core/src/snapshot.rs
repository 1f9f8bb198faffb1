//! Snapshots: the whole replicated state (tree and session table) as bytes, and back — taken
//! a piece at a time while the tree keeps changing, as ZooKeeper takes its fuzzy snapshots.
//!
//! ## Fuzzy snapshots
//!
//! A [`SnapshotWriter`] starts with the session table and the zxid the tree has applied — the
//! snapshot's label — and then walks the tree depth first, a budget of bytes per
//! [`SnapshotWriter::step`], while transactions go on being applied between steps. A node is
//! written as it is when the walk reaches it. So the snapshot may miss nodes created after
//! the label and hold changes made after it; what it never misses is a node that existed at
//! the label and still exists at the end. Replaying every transaction after the label makes
//! it exact, because [`DataTree::apply`] is idempotent in the way ZooKeeper's `processTxn` is
//! (see [`crate::tree`]). The end of the snapshot records the last zxid applied when the walk
//! finished: a restored tree holds no change beyond it, and is consistent once it has
//! applied that far ([`DataTree::is_consistent`]).
//!
//! The walk copies each directory's child ids when it enters it. A child is written only if
//! its slot still holds a node of that parent created at or before the label: a node created
//! later (possibly in a reused slot) is left to the replay, so no node is written twice.
//!
//! Taken all at once ([`serialize`]) with children sorted, the encoding is canonical: two trees
//! that hold the same state give the same bytes, whatever happened to them before, so snapshot
//! equality is state equality (the simulator checks replicas with it). A CRC-32 of everything
//! before it ends the snapshot, so a torn or corrupt file is detected, never half-loaded.
//!
//! ## Layout (jute primitives), version 2
//!
//! Magic `ZKSN`, version, the label zxid, the extended-types flag, sessions (count, then id and
//! timeout each), then records, each a tag byte: `1` an ACL list (numbered in order of
//! appearance, written before the first node that uses it), `2` a node (path, data, ACL list
//! number, `StatPersisted`), `0` the end: node count, the last zxid applied when the walk
//! finished, and the CRC-32. Parents come before their children. Version 1 (ACL lists, then a
//! counted sequence of nodes, then the CRC) is still read.
//!
//! [`SnapshotReader`] reads a snapshot in pieces as they come (a SNAP from the leader, a file
//! read in chunks), building the tree as it goes, so the bytes are never all in memory.

use crate::acl::Acl;
use crate::jute::{JuteError, Reader, Writer};
use crate::stat::StatPersisted;
use crate::tree::{AclId, DataTree, NodeId, ROOT};
use crate::types::{SessionId, Zxid};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

const MAGIC: &[u8; 4] = b"ZKSN";
const VERSION: i32 = 2;
/// The largest single item (a node's data, a path) a snapshot may hold.
const ITEM_LIMIT: usize = 256 << 20;

const TAG_END: u8 = 0;
const TAG_ACL: u8 = 1;
const TAG_NODE: u8 = 2;

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a snapshot (bad magic)")]
    BadMagic,
    #[error("snapshot version {0} is not supported (this server writes version {VERSION})")]
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

/// A directory the walk is in: the node, its path and the children still to visit.
#[derive(Clone, Debug)]
struct Frame {
    id: NodeId,
    czxid: Zxid,
    path: String,
    kids: Vec<NodeId>,
    next: usize,
}

/// Writes a snapshot of a tree in steps, while the tree keeps changing between them (see the
/// module docs). Every step appends whole records, so each step's bytes can travel on their
/// own.
#[derive(Clone, Debug)]
pub struct SnapshotWriter {
    zxid: Zxid,
    sorted: bool,
    root_written: bool,
    stack: Vec<Frame>,
    /// The tree's ACL ids → numbers in this snapshot.
    acls: FxHashMap<AclId, i32>,
    nodes: i64,
    crc: crc32fast::Hasher,
    done: bool,
}

impl SnapshotWriter {
    /// Starts a snapshot of `tree` at the zxid it has applied, writing the header and the
    /// session table into `out`. `sorted` walks children in name order (the canonical
    /// encoding), at the cost of sorting every child list.
    pub fn start(tree: &DataTree, sorted: bool, out: &mut Vec<u8>) -> SnapshotWriter {
        let at = out.len();
        let mut w = Writer {
            buf: std::mem::take(out),
        };
        w.buf.extend_from_slice(MAGIC);
        w.i32(VERSION)
            .zxid(tree.last_processed_zxid())
            .bool(tree.extended_types());
        w.i32(tree.sessions().len() as i32);
        for (id, timeout) in tree.sessions() {
            w.i64(id.0).i32(*timeout);
        }
        *out = w.into_inner();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&out[at..]);
        SnapshotWriter {
            zxid: tree.last_processed_zxid(),
            sorted,
            root_written: false,
            stack: Vec::new(),
            acls: FxHashMap::default(),
            nodes: 0,
            crc,
            done: false,
        }
    }

    /// The snapshot's label: the zxid the tree had applied when it started.
    pub fn zxid(&self) -> Zxid {
        self.zxid
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Nodes written so far.
    pub fn nodes(&self) -> u64 {
        self.nodes as u64
    }

    /// Appends records to `out` until it has grown by about `budget` bytes or the snapshot is
    /// complete (the end record and the checksum written). Returns whether it is complete.
    /// `tree` must be the tree the snapshot started on.
    pub fn step(&mut self, tree: &DataTree, out: &mut Vec<u8>, budget: usize) -> bool {
        if self.done {
            return true;
        }
        let at = out.len();
        let mut w = Writer {
            buf: std::mem::take(out),
        };
        if !self.root_written {
            self.root_written = true;
            if let Some(root) = tree.node(ROOT) {
                self.write_node(tree, &mut w, ROOT, "/");
                self.enter(tree, ROOT, root.czxid(), "/".to_string());
            }
        }
        while w.buf.len() - at < budget {
            let Some(f) = self.stack.last_mut() else {
                // The end: node count, how far the tree had got, then the checksum.
                w.u8(TAG_END)
                    .i64(self.nodes)
                    .zxid(tree.last_processed_zxid().max(tree.fuzzy_until()));
                self.crc.update(&w.buf[at..]);
                let crc = std::mem::replace(&mut self.crc, crc32fast::Hasher::new()).finalize();
                w.i32(crc as i32);
                self.done = true;
                *out = w.into_inner();
                return true;
            };
            let (fid, fczxid) = (f.id, f.czxid);
            if f.next >= f.kids.len()
                || !tree
                    .node(fid)
                    .is_some_and(|n| n.czxid() == fczxid && n.czxid() <= self.zxid)
            {
                self.stack.pop();
                continue;
            }
            let kid = f.kids[f.next];
            f.next += 1;
            let Some(n) = tree.node(kid) else { continue };
            if n.parent != fid || n.czxid() > self.zxid {
                // Created after the label (possibly in a reused slot): the replay brings it.
                continue;
            }
            let parent_path = &self.stack.last().expect("frame").path;
            let mut path = String::with_capacity(parent_path.len() + 1 + n.name().len());
            if parent_path != "/" {
                path.push_str(parent_path);
            }
            path.push('/');
            path.push_str(n.name());
            self.write_node(tree, &mut w, kid, &path);
            if n.child_count() > 0 {
                let czxid = n.czxid();
                self.enter(tree, kid, czxid, path);
            }
        }
        self.crc.update(&w.buf[at..]);
        *out = w.into_inner();
        false
    }

    fn enter(&mut self, tree: &DataTree, id: NodeId, czxid: Zxid, path: String) {
        let Some(n) = tree.node(id) else { return };
        let kids = if self.sorted {
            tree.sorted_kids(n)
        } else {
            n.kids().to_vec()
        };
        self.stack.push(Frame {
            id,
            czxid,
            path,
            kids,
            next: 0,
        });
    }

    fn write_node(&mut self, tree: &DataTree, w: &mut Writer, id: NodeId, path: &str) {
        let Some(n) = tree.node(id) else { return };
        let next = self.acls.len() as i32;
        let acl = *self.acls.entry(n.acl_id()).or_insert_with(|| {
            w.u8(TAG_ACL).acls(tree.acl_of(n));
            next
        });
        w.u8(TAG_NODE)
            .string(path)
            .opt_buffer(n.data())
            .i32(acl)
            .stat_persisted(&n.stat());
        self.nodes += 1;
    }
}

/// Serializes the whole tree at once, canonically (children in name order).
pub fn serialize(tree: &DataTree) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + tree.node_count() * 96);
    let mut w = SnapshotWriter::start(tree, true, &mut out);
    w.step(tree, &mut out, usize::MAX);
    out
}

/// The zxid a snapshot was taken at (its label), read from its header alone.
pub fn snapshot_zxid(bytes: &[u8]) -> Result<Zxid, SnapshotError> {
    let mut r = Reader::new(bytes, ITEM_LIMIT);
    check_header(&mut r)?;
    Ok(r.zxid("snapshot zxid")?)
}

/// Reads magic and version; returns the version.
fn check_header(r: &mut Reader) -> Result<i32, SnapshotError> {
    let magic = [
        r.u8("magic")?,
        r.u8("magic")?,
        r.u8("magic")?,
        r.u8("magic")?,
    ];
    if &magic != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let v = r.i32("version")?;
    if v != VERSION && v != 1 {
        return Err(SnapshotError::BadVersion(v));
    }
    Ok(v)
}

/// Restores a tree from a whole snapshot, checking its checksum.
pub fn deserialize(bytes: &[u8]) -> Result<DataTree, SnapshotError> {
    let mut r = SnapshotReader::new();
    r.feed(bytes)?;
    r.finish()
}

/// Where a [`SnapshotReader`] is.
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
pub struct SnapshotReader {
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

impl Default for SnapshotReader {
    fn default() -> Self {
        SnapshotReader::new()
    }
}

/// A record could not be read whole from the bytes at hand.
fn incomplete(e: &SnapshotError) -> bool {
    matches!(e, SnapshotError::Malformed(JuteError::Truncated { .. }))
}

impl SnapshotReader {
    pub fn new() -> SnapshotReader {
        SnapshotReader {
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
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        if self.is_done() {
            if bytes.is_empty() {
                return Ok(());
            }
            return Err(SnapshotError::Inconsistent(format!(
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
    pub fn finish(mut self) -> Result<DataTree, SnapshotError> {
        if !self.is_done() {
            return Err(SnapshotError::Truncated(format!(
                "{} nodes read, no end record",
                self.nodes
            )));
        }
        if !self.pending.is_empty() {
            return Err(SnapshotError::Inconsistent(format!(
                "{} bytes left after the end",
                self.pending.len()
            )));
        }
        let mut tree = self
            .tree
            .take()
            .ok_or_else(|| SnapshotError::Inconsistent("no header".into()))?;
        // Each list was interned with a reference of its own; the nodes hold theirs.
        for id in &self.acls {
            tree.acl_cache_mut().release(*id);
        }
        tree.set_fuzzy_until(self.fuzzy_until);
        Ok(tree)
    }

    /// Reads as many whole records from `buf` as it holds; returns how many bytes they took.
    fn consume(&mut self, buf: &[u8]) -> Result<usize, SnapshotError> {
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
    fn record(&mut self, r: &mut Reader) -> Result<(), SnapshotError> {
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
                t => {
                    return Err(SnapshotError::Inconsistent(format!(
                        "unknown record tag {t}"
                    )))
                }
            },
            ReadState::V1Acls => {
                let n = r.count("ACL lists", 4)?;
                let mut lists: Vec<Vec<Acl>> = Vec::with_capacity(n);
                for _ in 0..n {
                    lists.push(r.acls()?);
                }
                let count = r.i64("node count")?;
                if count < 1 {
                    return Err(SnapshotError::Inconsistent(format!(
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
    ) -> Result<(), SnapshotError> {
        let mut crc = std::mem::replace(&mut self.crc, crc32fast::Hasher::new());
        crc.update(&r.consumed()[..at]);
        let computed = crc.finalize();
        if stored != computed {
            return Err(SnapshotError::Checksum { stored, computed });
        }
        if count != self.nodes {
            return Err(SnapshotError::Inconsistent(format!(
                "the end says {count} nodes, {} were read",
                self.nodes
            )));
        }
        self.state = ReadState::Done;
        Ok(())
    }

    fn node(&mut self, r: &mut Reader) -> Result<(), SnapshotError> {
        let path = r.str_ref("node path")?;
        let data = r.opt_buffer_ref("node data")?;
        let ai = r.i32("node acl")?;
        let stat: StatPersisted = r.stat_persisted()?;
        let acl = usize::try_from(ai)
            .ok()
            .and_then(|i| self.acls.get(i).copied())
            .ok_or_else(|| {
                SnapshotError::Inconsistent(format!(
                    "node {path} names ACL list {ai}, which does not exist"
                ))
            })?;
        let first = self.nodes == 0;
        self.tree()
            .load_node(path, data, acl, &stat, first)
            .map_err(SnapshotError::Inconsistent)?;
        self.nodes += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{Acl, Id};
    use crate::txn::{Txn, TxnHeader};

    fn sample() -> DataTree {
        let mut t = DataTree::new(true);
        let mut ev = Vec::new();
        let h = |z, s| TxnHeader {
            session: SessionId(s),
            cxid: 0,
            zxid: Zxid(z),
            time: 77,
        };
        t.apply(&h(1, 5), &Txn::CreateSession { timeout: 6000 }, &mut ev);
        let digest = vec![Acl::new(31, Id::new("digest", "bob:xyz"))];
        let txns = [
            Txn::Create {
                path: "/a".into(),
                data: Some(b"hello".to_vec()),
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_cversion: -1,
            },
            Txn::Create {
                path: "/a/b".into(),
                data: Some(vec![]),
                acl: digest.clone(),
                ephemeral: false,
                parent_cversion: -1,
            },
            Txn::Create {
                path: "/e".into(),
                data: Some(vec![1, 2]),
                acl: digest,
                ephemeral: true,
                parent_cversion: -1,
            },
            Txn::CreateContainer {
                path: "/c".into(),
                data: Some(vec![]),
                acl: Acl::open_unsafe(),
                parent_cversion: -1,
            },
            Txn::CreateTtl {
                path: "/t".into(),
                data: Some(vec![]),
                acl: Acl::open_unsafe(),
                parent_cversion: -1,
                ttl: 500,
            },
            Txn::SetData {
                path: "/a".into(),
                data: Some(b"bye".to_vec()),
                version: 1,
            },
        ];
        for (i, tx) in txns.iter().enumerate() {
            t.apply(&h(2 + i as u64, 5), tx, &mut ev);
        }
        t
    }

    #[test]
    fn round_trip_is_identical() {
        let t = sample();
        let bytes = serialize(&t);
        let r = deserialize(&bytes).unwrap();
        assert_eq!(serialize(&r), bytes);
        assert_eq!(r.get("/a").unwrap().bytes(), b"bye");
        assert_eq!(r.ephemerals(SessionId(5)), vec!["/e"]);
        assert_eq!(r.containers().len(), 1);
        assert_eq!(r.ttls().len(), 1);
        assert_eq!(r.sessions().get(&SessionId(5)), Some(&6000));
        assert_eq!(r.last_processed_zxid(), Zxid(7));
        assert_eq!(r.stat("/a"), t.stat("/a"));
        assert_eq!(snapshot_zxid(&bytes).unwrap(), Zxid(7));
    }

    #[test]
    fn corruption_is_detected() {
        let bytes = serialize(&sample());
        for i in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(deserialize(&b).is_err(), "flipped byte {i}");
        }
        assert!(
            deserialize(&bytes[..bytes.len() - 10]).is_err(),
            "torn tail"
        );
        assert!(deserialize(b"").is_err());
    }

    /// Random valid transactions over a small name space, so that nodes are often deleted and
    /// created again, under parents that come and go too.
    struct Gen {
        rng: rand_chacha::ChaCha8Rng,
        zxid: u64,
        log: Vec<(TxnHeader, Txn)>,
        /// The session the last generated CloseSession is for.
        closing: Option<SessionId>,
    }

    impl Gen {
        fn new(seed: u64) -> Gen {
            use rand::SeedableRng;
            Gen {
                rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
                zxid: 0,
                log: Vec::new(),
                closing: None,
            }
        }

        fn below(&mut self, n: u64) -> u64 {
            use rand::Rng;
            self.rng.gen_range(0..n)
        }

        fn path(&mut self) -> String {
            let depth = 1 + self.below(3);
            let mut p = String::new();
            for _ in 0..depth {
                p.push('/');
                p.push_str(["a", "b", "c", "d"][self.below(4) as usize]);
            }
            p
        }

        /// One transaction that the prepare step could have made against `t`.
        fn one(&mut self, t: &DataTree) -> Txn {
            let sessions: Vec<SessionId> = t.sessions().keys().copied().collect();
            match self.below(20) {
                0 => return Txn::CreateSession { timeout: 5000 },
                1 if !sessions.is_empty() => {
                    let s = sessions[self.below(sessions.len() as u64) as usize];
                    self.closing = Some(s);
                    return Txn::CloseSession {
                        paths_to_delete: t.ephemerals(s),
                    };
                }
                _ => {}
            }
            for _ in 0..20 {
                let p = self.path();
                let (parent, _) = crate::path::split_parent(&p).unwrap();
                let parent = if parent.is_empty() { "/" } else { parent };
                match t.get(&p) {
                    None => {
                        let Some(pn) = t.get(parent) else { continue };
                        if pn.stat().ephemeral_owner != 0 {
                            continue;
                        }
                        let ephemeral = !sessions.is_empty() && self.below(4) == 0;
                        return Txn::Create {
                            path: p,
                            data: Some(vec![self.below(256) as u8; self.below(40) as usize]),
                            acl: Acl::open_unsafe(),
                            ephemeral,
                            parent_cversion: pn.stat().cversion + 1,
                        };
                    }
                    Some(n) => match self.below(3) {
                        0 if n.child_count() == 0 => {
                            return Txn::Delete {
                                path: p,
                                container: false,
                            }
                        }
                        1 => {
                            let acl = if self.below(2) == 0 {
                                Acl::read_unsafe()
                            } else {
                                vec![Acl::new(31, Id::new("digest", "bob:xyz"))]
                            };
                            return Txn::SetAcl {
                                path: p,
                                acl,
                                version: n.stat().aversion + 1,
                            };
                        }
                        _ => {
                            return Txn::SetData {
                                data: (self.below(8) != 0)
                                    .then(|| vec![self.below(256) as u8; self.below(40) as usize]),
                                path: p,
                                version: n.stat().version + 1,
                            }
                        }
                    },
                }
            }
            Txn::Error {
                err: crate::ErrorCode::NoNode,
            }
        }

        /// Applies one transaction (sometimes a multi of two) to `t` and logs it.
        fn step(&mut self, t: &mut DataTree) {
            let txn = if self.below(6) == 0 {
                self.closing = None;
                let a = self.one(t);
                let closing_a = self.closing.take();
                let mut scratch = t.clone();
                let h = self.hdr(0);
                scratch.apply(&h, &a, &mut Vec::new());
                let b = self.one(&scratch);
                let sess = matches!(a, Txn::CreateSession { .. } | Txn::CloseSession { .. })
                    || matches!(b, Txn::CreateSession { .. } | Txn::CloseSession { .. });
                if sess {
                    self.closing = closing_a;
                    a
                } else {
                    Txn::Multi(vec![a, b])
                }
            } else {
                self.closing = None;
                self.one(t)
            };
            self.zxid += 1;
            let session = if matches!(txn, Txn::CreateSession { .. }) {
                self.zxid as i64 + 100
            } else if let (Txn::CloseSession { .. }, Some(s)) = (&txn, self.closing.take()) {
                s.0
            } else {
                let s: Vec<SessionId> = t.sessions().keys().copied().collect();
                if s.is_empty() {
                    7
                } else {
                    s[self.below(s.len() as u64) as usize].0
                }
            };
            let mut h = self.hdr(self.zxid);
            h.session = SessionId(session);
            let rc = t.apply(&h, &txn, &mut Vec::new());
            if !matches!(txn, Txn::Error { .. }) {
                assert!(rc.err.is_ok(), "generated {txn:?} failed: {rc:?}");
            }
            self.log.push((h, txn));
        }

        fn hdr(&self, z: u64) -> TxnHeader {
            TxnHeader {
                session: SessionId(7),
                cxid: 0,
                zxid: Zxid(z),
                time: 1000 + z as i64,
            }
        }
    }

    #[test]
    fn fuzzy_snapshot_plus_replay_is_exact() {
        for seed in 0..1000 {
            let mut g = Gen::new(seed);
            let mut t = DataTree::new(false);
            for _ in 0..g.below(80) {
                g.step(&mut t);
            }
            let budget = 1 + g.below(300) as usize;
            let mut bytes = Vec::new();
            let mut w = SnapshotWriter::start(&t, seed % 2 == 0, &mut bytes);
            let label = w.zxid();
            while !w.step(&t, &mut bytes, budget) {
                for _ in 0..g.below(4) {
                    g.step(&mut t);
                }
            }
            let end = t.last_processed_zxid();
            for _ in 0..g.below(10) {
                g.step(&mut t);
            }
            // Read it back in pieces of any size.
            let mut r = SnapshotReader::new();
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = (1 + g.below(200) as usize).min(rest.len());
                r.feed(&rest[..n]).unwrap();
                rest = &rest[n..];
            }
            let mut restored = r.finish().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(restored.last_processed_zxid(), label);
            assert_eq!(restored.fuzzy_until(), end.max(label));
            for (h, txn) in g.log.iter().filter(|(h, _)| h.zxid > label) {
                assert!(h.zxid <= end || restored.is_consistent());
                let mut ev = Vec::new();
                restored.apply(h, txn, &mut ev);
            }
            assert!(restored.is_consistent());
            assert!(
                serialize(&restored) == serialize(&t),
                "seed {seed}: the replay over the fuzzy snapshot differs from the tree"
            );
            assert_eq!(restored.approximate_data_size(), t.approximate_data_size());
            assert_eq!(
                restored.acl_cache().len(),
                t.acl_cache().len(),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn version_1_is_still_read() {
        let t = sample();
        let paths = t.paths_preorder();
        let mut w = Writer::new();
        w.buf.extend_from_slice(MAGIC);
        w.i32(1).zxid(t.last_processed_zxid()).bool(true);
        w.i32(t.sessions().len() as i32);
        for (id, timeout) in t.sessions() {
            w.i64(id.0).i32(*timeout);
        }
        let mut lists: Vec<Vec<Acl>> = Vec::new();
        for p in &paths {
            let l = t.acl_of(t.get(p).unwrap()).to_vec();
            if !lists.contains(&l) {
                lists.push(l);
            }
        }
        w.i32(lists.len() as i32);
        for l in &lists {
            w.acls(l);
        }
        w.i64(paths.len() as i64);
        for p in &paths {
            let n = t.get(p).unwrap();
            let l = t.acl_of(n).to_vec();
            w.string(p)
                .opt_buffer(n.data())
                .i32(lists.iter().position(|x| *x == l).unwrap() as i32)
                .stat_persisted(&n.stat());
        }
        let crc = crc32fast::hash(&w.buf);
        w.i32(crc as i32);
        let v1 = w.into_inner();
        let r = deserialize(&v1).unwrap();
        assert_eq!(serialize(&r), serialize(&t));
        let mut bad = v1.clone();
        bad[30] ^= 1;
        assert!(deserialize(&bad).is_err());
    }
}
