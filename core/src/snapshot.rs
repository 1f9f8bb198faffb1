//! Snapshots in Apache ZooKeeper's format — the session table and the tree as bytes, and back —
//! taken a piece at a time while the tree keeps changing, as ZooKeeper takes its fuzzy snapshots.
//!
//! ## The two forms
//!
//! The body is what `SerializeUtils.serializeSnapshot` writes (jute primitives, big-endian):
//!
//! ```text
//!   sessions   count: int, then count × (id: long, timeout: int)
//!   ACL cache  count: int, then count × (key: long, acls: vector<ACL>)      (ReferenceCountedACLCache)
//!   nodes      path: ustring, then DataNode { data: buffer, acl: long, stat: StatPersisted },
//!              parents before their children, the root's path being "";
//!   end        the path "/"
//! ```
//!
//! A node's `acl` is a key of the ACL cache, or -1 for `world:anyone` with every permission
//! (ZooKeeper's built-in nodes). A **SNAP** to a learner is the body alone, followed on the
//! connection by the string `"BenWasHere"` ([`SIGNATURE`]). A **file** (`FileSnap`) is
//!
//! ```text
//!   FileHeader { magic: int "ZKSN", version: int 2, dbid: long -1 }
//!   body
//!   seal       Adler-32 of every byte before it: long, then the string "/"
//!   ZxidDigest { zxid: long, digestVersion: int, digest: long }      (when digest.enabled)
//!   seal       Adler-32 of every byte before it, the first seal included
//! ```
//!
//! The label — the zxid the tree had applied when the snapshot began — is not in the bytes:
//! a file carries it in its name (`snapshot.<zxid in hex>`), a SNAP in its packet.
//!
//! ## Fuzzy snapshots
//!
//! A [`SnapshotWriter`] writes the session table and the ACL cache as they are at the label,
//! and then walks the tree depth first, a budget of bytes per [`SnapshotWriter::step`], while
//! transactions go on being applied between steps. A node is written as it is when the walk
//! reaches it. So the snapshot may miss nodes created after the label and hold changes made
//! after it; what it never misses is a node that existed at the label and still exists at the
//! end. Replaying every transaction after the label makes it exact, because
//! [`DataTree::apply`] is idempotent in the way ZooKeeper's `processTxn` is (see
//! [`crate::tree`]). A file records the tree's digest at the last transaction applied when the
//! walk finished (`ZxidDigest`), as ZooKeeper does: a restored tree is consistent once it has
//! applied that far ([`DataTree::is_consistent`]), and its digest must then match. Where a
//! snapshot says nothing of that (a SNAP, or digests off), the newest zxid found in its nodes
//! stands for it.
//!
//! The walk copies each directory's child ids when it enters it. A child is written only if
//! its slot still holds a node of that parent created at or before the label: a node created
//! later (possibly in a reused slot) is left to the replay, so no node is written twice. A node
//! whose ACL list appeared after the ACL cache was written names a key the snapshot does not
//! hold, as in ZooKeeper; it is restored with an empty list until the replay's setACL or create
//! gives it its own ([`SnapshotReader::unknown_acls`] counts them).
//!
//! Taken all at once with [`serialize`], children are written in name order and ACL keys
//! numbered in the order of their lists, so two trees that hold the same state give the same
//! bytes, whatever happened to them before: the simulator checks replicas with it.
//!
//! [`SnapshotReader`] reads either form in pieces of any size as they come (a SNAP from the
//! leader, a file read in chunks), building the tree as it goes, so the bytes are never all in
//! memory. Every length is checked against a limit before anything is allocated for it.

use crate::acl::Acl;
use crate::jute::{JuteError, Reader, Writer};
use crate::stat::StatPersisted;
use crate::tree::{AclId, DataTree, NodeId, ROOT};
use crate::types::{SessionId, Zxid};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// `FileSnap.SNAP_MAGIC`: "ZKSN".
pub const FILE_MAGIC: i32 = 0x5a4b_534e;
/// `FileSnap.VERSION`.
pub const FILE_VERSION: i32 = 2;
/// `FileSnap`'s dbid.
pub const FILE_DBID: i64 = -1;
/// The file header's length.
pub const FILE_HEADER_LEN: usize = 16;
/// What a leader writes after the snapshot of a SNAP (`LearnerHandler`).
pub const SIGNATURE: &str = "BenWasHere";
/// The ACL key of `world:anyone` with every permission (`OPEN_UNSAFE_ACL_ID`).
pub const OPEN_UNSAFE_ACL_KEY: i64 = -1;
/// The largest single item (a node's data, a path, a vector) a snapshot may hold: ZooKeeper
/// reads snapshots with `jute.maxbuffer`'s limit, and nothing larger can have been written.
pub const ITEM_LIMIT: usize = 64 << 20;

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a snapshot file (magic {0:#010x}, not ZKSN)")]
    BadMagic(i32),
    #[error(
        "snapshot file version {0} is not supported (ZooKeeper writes version {FILE_VERSION})"
    )]
    BadVersion(i32),
    #[error("snapshot checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum { stored: u64, computed: u64 },
    #[error("snapshot is malformed: {0}")]
    Malformed(#[from] JuteError),
    #[error("snapshot is inconsistent: {0}")]
    Inconsistent(String),
    #[error("snapshot ends early: {0}")]
    Truncated(String),
}

/// Which form of the bytes (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// A `snapshot.<zxid>` file: header, body, seal, digest, seal.
    File,
    /// The body alone, as a SNAP carries it.
    Stream,
}

/// The ZooKeeper file header of a snapshot file.
pub fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..4].copy_from_slice(&FILE_MAGIC.to_be_bytes());
    h[4..8].copy_from_slice(&FILE_VERSION.to_be_bytes());
    h[8..].copy_from_slice(&FILE_DBID.to_be_bytes());
    h
}

/// Frames a body into a snapshot file as its pieces go by: the header first, an Adler-32 over
/// everything, and at the end the seal, the digest and the second seal (`FileSnap.serialize`).
#[derive(Clone, Copy, Debug)]
pub struct FileFramer {
    adler: adler2::Adler32,
}

impl FileFramer {
    /// Starts a file: appends the header to `out`.
    pub fn start(out: &mut Vec<u8>) -> FileFramer {
        let h = file_header();
        let mut adler = adler2::Adler32::new();
        adler.write_slice(&h);
        out.extend_from_slice(&h);
        FileFramer { adler }
    }

    /// Bytes of the body, as they are written.
    pub fn body(&mut self, bytes: &[u8]) {
        self.adler.write_slice(bytes);
    }

    /// The end of the file, appended to `out`: the seal, and when digests are on, the tree's
    /// digest at the last transaction it had applied (zxid 0 when it is not known) and a
    /// second seal.
    pub fn finish(mut self, digest: Option<(Zxid, u64)>, digests_on: bool, out: &mut Vec<u8>) {
        self.seal(out);
        if digests_on {
            let (z, d) = digest.unwrap_or((Zxid::ZERO, 0));
            let mut w = Writer::with_capacity(20);
            w.zxid(z).i32(crate::digest::DIGEST_VERSION).i64(d as i64);
            self.adler.write_slice(&w.buf);
            out.extend_from_slice(&w.buf);
            self.seal(out);
        }
    }

    fn seal(&mut self, out: &mut Vec<u8>) {
        let mut w = Writer::with_capacity(13);
        w.i64(self.adler.checksum() as i64).string("/");
        self.adler.write_slice(&w.buf);
        out.extend_from_slice(&w.buf);
    }
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

/// When a server takes a snapshot: after `snapCount / 2 + r` logged transactions, `r` drawn
/// below `snapCount / 2` (ZooKeeper's `SyncRequestProcessor` rolls it so), so that the servers
/// of an ensemble do not all snapshot at once. The driver draws `r` (the core has no
/// randomness); zkserver and the simulator both follow this schedule.
#[derive(Clone, Debug)]
pub struct SnapSchedule {
    snap_count: u64,
    logged: u64,
    threshold: u64,
}

impl SnapSchedule {
    /// `draw`: any number; the roll is `draw % (snapCount / 2)`.
    pub fn new(snap_count: u64, draw: u64) -> SnapSchedule {
        let mut s = SnapSchedule {
            snap_count: snap_count.max(2),
            logged: 0,
            threshold: 0,
        };
        s.roll(draw);
        s
    }

    fn roll(&mut self, draw: u64) {
        let half = self.snap_count / 2;
        self.threshold = half + draw % half.max(1);
        self.logged = 0;
    }

    /// `n` more transactions were logged.
    pub fn logged(&mut self, n: u64) {
        self.logged += n;
    }

    /// A snapshot is due.
    pub fn due(&self) -> bool {
        self.logged >= self.threshold
    }

    /// A snapshot was started; the next is due after a new roll (`draw`).
    pub fn taken(&mut self, draw: u64) {
        self.roll(draw);
    }

    /// Transactions to log before the next snapshot is due.
    pub fn threshold(&self) -> u64 {
        self.threshold
    }
}

/// One step of a periodic snapshot, for the driver to carry out (see [`Snapshotter`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapStep {
    /// A snapshot labelled `zxid` begins, with these first bytes of its body.
    Begin { zxid: Zxid, bytes: Vec<u8> },
    /// The next bytes of its body.
    Piece(Vec<u8>),
    /// The body is complete; `digest` is the tree's at the last transaction it had applied
    /// then (what the file records after its seal).
    End { digest: Option<(Zxid, u64)> },
    /// The snapshot under way is dropped.
    Abort,
}

/// A server's periodic snapshots, as zkserver's peer loop and the simulator both take them:
/// when one is due ([`SnapSchedule`]), a fuzzy walk of the live tree, `budget` bytes of output
/// per step, while transactions go on being applied between steps. The driver writes what the
/// steps hand it (framed as a file by [`FileFramer`]) and puts the file in place only if the
/// history it belongs to was not replaced meanwhile (a TRUNC, a SNAP installed).
#[derive(Clone, Debug)]
pub struct Snapshotter {
    schedule: SnapSchedule,
    writer: Option<SnapshotWriter>,
    budget: usize,
}

impl Snapshotter {
    /// `draw`: the first roll of the schedule.
    pub fn new(snap_count: u64, draw: u64, budget: usize) -> Snapshotter {
        Snapshotter {
            schedule: SnapSchedule::new(snap_count, draw),
            writer: None,
            budget: budget.max(1),
        }
    }

    /// `n` more transactions were logged.
    pub fn logged(&mut self, n: u64) {
        self.schedule.logged(n);
    }

    /// A snapshot is due to begin.
    pub fn due(&self) -> bool {
        self.writer.is_none() && self.schedule.due()
    }

    /// A snapshot is being walked.
    pub fn under_way(&self) -> bool {
        self.writer.is_some()
    }

    /// Transactions to log before the next snapshot is due.
    pub fn threshold(&self) -> u64 {
        self.schedule.threshold()
    }

    /// The server's history or role changed under the snapshot: it is dropped.
    pub fn abort(&mut self) -> Option<SnapStep> {
        self.writer.take().map(|_| SnapStep::Abort)
    }

    /// The next steps: the beginning of a snapshot now due (not while `hold`: a disk with no
    /// room, say; `draw` rolls the schedule for the one after), and a piece of the one under
    /// way, with its end if that was the last.
    pub fn step(&mut self, tree: &DataTree, hold: bool, draw: u64) -> Vec<SnapStep> {
        let mut steps = Vec::new();
        if self.writer.is_none() && self.schedule.due() && !hold {
            let mut bytes = Vec::new();
            let w = SnapshotWriter::start(tree, false, &mut bytes);
            steps.push(SnapStep::Begin {
                zxid: w.zxid(),
                bytes,
            });
            self.writer = Some(w);
            self.schedule.taken(draw);
        }
        if let Some(w) = self.writer.as_mut() {
            let mut piece = Vec::with_capacity(self.budget.min(1 << 20) + 4096);
            let done = w.step(tree, &mut piece, self.budget);
            steps.push(SnapStep::Piece(piece));
            if done {
                steps.push(SnapStep::End {
                    digest: tree.last_digest(),
                });
                self.writer = None;
            }
        }
        steps
    }
}

/// What a purge removes, by the zxids files are named for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Purge {
    pub snapshots: Vec<Zxid>,
    pub logs: Vec<Zxid>,
}

/// Which files a purge removes (ZooKeeper's `PurgeTxnLog`, `autopurge.snapRetainCount`): every
/// snapshot older than the `retain` newest readable ones (at least one is kept), and every log
/// file holding only transactions before the oldest snapshot kept — the file a log is named
/// for is its first transaction, so the newest one named at or before that snapshot stays.
/// `snapshots`: (zxid, readable); `logs`: the zxids the log files are named for. With no
/// readable snapshot nothing goes. Snapshots are removed before logs: a crash in between
/// leaves logs without the snapshot before them, never a snapshot without the logs after it.
pub fn purge_plan(snapshots: &[(Zxid, bool)], logs: &[Zxid], retain: usize) -> Purge {
    let mut readable: Vec<Zxid> = snapshots.iter().filter(|s| s.1).map(|s| s.0).collect();
    readable.sort_unstable_by(|a, b| b.cmp(a));
    let Some(&oldest) = readable.get(retain.max(1) - 1).or(readable.last()) else {
        return Purge::default();
    };
    let mut purge = Purge {
        snapshots: snapshots
            .iter()
            .map(|s| s.0)
            .filter(|z| *z < oldest)
            .collect(),
        logs: Vec::new(),
    };
    purge.snapshots.sort_unstable();
    if let Some(base) = logs.iter().filter(|z| **z <= oldest).max() {
        purge.logs = logs.iter().copied().filter(|z| z < base).collect();
        purge.logs.sort_unstable();
    }
    purge
}

/// Writes the body of a snapshot of a tree in steps, while the tree keeps changing between
/// them (see the module docs). Every step appends whole records, so each step's bytes can
/// travel on their own.
#[derive(Clone, Debug)]
pub struct SnapshotWriter {
    zxid: Zxid,
    sorted: bool,
    root_written: bool,
    stack: Vec<Frame>,
    /// The tree's ACL ids → the keys this snapshot gives them.
    acl_keys: FxHashMap<AclId, i64>,
    nodes: u64,
    done: bool,
}

impl SnapshotWriter {
    /// Starts a snapshot of `tree` at the zxid it has applied, writing the session table and
    /// the ACL cache into `out`. `sorted` walks children in name order and numbers ACL lists
    /// in their own order (the canonical encoding), at the cost of sorting every child list.
    pub fn start(tree: &DataTree, sorted: bool, out: &mut Vec<u8>) -> SnapshotWriter {
        let mut w = Writer {
            buf: std::mem::take(out),
        };
        w.i32(tree.sessions().len() as i32);
        for (id, timeout) in tree.sessions() {
            w.i64(id.0).i32(*timeout);
        }
        let lists: Vec<(AclId, &[Acl])> = if sorted {
            tree.acl_cache().sorted().collect()
        } else {
            tree.acl_cache().iter().collect()
        };
        let mut acl_keys = FxHashMap::default();
        w.i32(lists.len() as i32);
        for (i, (id, list)) in lists.into_iter().enumerate() {
            let key = if sorted { i as i64 + 1 } else { id as i64 + 1 };
            acl_keys.insert(id, key);
            w.i64(key).acls(list);
        }
        *out = w.into_inner();
        SnapshotWriter {
            zxid: tree.last_processed_zxid(),
            sorted,
            root_written: false,
            stack: Vec::new(),
            acl_keys,
            nodes: 0,
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
        self.nodes
    }

    /// Appends records to `out` until it has grown by about `budget` bytes or the snapshot is
    /// complete (the end path written). Returns whether it is complete. `tree` must be the
    /// tree the snapshot started on.
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
                self.write_node(tree, &mut w, ROOT, "");
                self.enter(tree, ROOT, root.czxid(), String::new());
            }
        }
        while w.buf.len() - at < budget {
            let Some(f) = self.stack.last_mut() else {
                w.string("/");
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
            path.push_str(parent_path);
            path.push('/');
            path.push_str(n.name());
            self.write_node(tree, &mut w, kid, &path);
            if n.child_count() > 0 {
                let czxid = n.czxid();
                self.enter(tree, kid, czxid, path);
            }
        }
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
        // A list interned after the cache was written: a key the reader will not know, as in
        // ZooKeeper (see the module docs).
        let key = self
            .acl_keys
            .get(&n.acl_id())
            .copied()
            .unwrap_or(n.acl_id() as i64 + 1);
        w.string(path)
            .opt_buffer(n.data())
            .i64(key)
            .stat_persisted(&n.stat());
        self.nodes += 1;
    }
}

/// The canonical body of a snapshot of the whole tree at once (children in name order).
pub fn serialize(tree: &DataTree) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + tree.node_count() * 96);
    let mut w = SnapshotWriter::start(tree, true, &mut out);
    w.step(tree, &mut out, usize::MAX);
    out
}

/// A whole snapshot file of the tree at once, as `FileSnap` writes one (with the digest the
/// tree has at the last transaction it applied, when digests are on).
pub fn file_bytes(tree: &DataTree) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + tree.node_count() * 96);
    let mut framer = FileFramer::start(&mut out);
    let at = out.len();
    let mut w = SnapshotWriter::start(tree, true, &mut out);
    w.step(tree, &mut out, usize::MAX);
    framer.body(&out[at..]);
    framer.finish(tree.last_digest(), tree.digest_enabled(), &mut out);
    out
}

/// Recovery's choice of snapshot (`FileSnap.findNValidSnapshots`): of `zxids`, newest first, the
/// first that reads back whole and holds the tree at the zxid it is named for. Returns it (None
/// when none does) and why each newer one was skipped. `read` gives a snapshot's tree, or why it
/// cannot be read; an `Err` from it stops the search. zkserver reads its files with it, the
/// simulator its disk's bytes.
#[allow(clippy::type_complexity)]
pub fn newest_valid<E>(
    zxids: impl IntoIterator<Item = Zxid>,
    mut read: impl FnMut(Zxid) -> Result<Result<DataTree, String>, E>,
) -> Result<(Option<(Zxid, DataTree)>, Vec<(Zxid, String)>), E> {
    let mut skipped = Vec::new();
    for z in zxids {
        let why = match read(z)? {
            Ok(tree) if tree.last_processed_zxid() == z => return Ok((Some((z, tree)), skipped)),
            Ok(tree) => format!(
                "it holds the tree at {}, not at the zxid of its name",
                tree.last_processed_zxid()
            ),
            Err(why) => why,
        };
        skipped.push((z, why));
    }
    Ok((None, skipped))
}

/// Restores a tree from a whole snapshot body labelled `zxid`.
pub fn deserialize(bytes: &[u8], zxid: Zxid, opts: LoadOptions) -> Result<DataTree, SnapshotError> {
    let mut r = SnapshotReader::new(Form::Stream, zxid, opts);
    r.feed(bytes)?;
    r.finish()
}

/// Restores a tree from a whole snapshot file labelled `zxid`.
pub fn deserialize_file(
    bytes: &[u8],
    zxid: Zxid,
    opts: LoadOptions,
) -> Result<DataTree, SnapshotError> {
    let mut r = SnapshotReader::new(Form::File, zxid, opts);
    r.feed(bytes)?;
    r.finish()
}

/// How a restored tree is set up: what the server's configuration says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// `zookeeper.extendedTypesEnabled`: how ephemeral owners are read (TTL nodes).
    pub extended_types: bool,
    /// `digest.enabled`.
    pub digest: bool,
    /// Only check the structure and find the end; build no tree (what a connection does to
    /// find where a SNAP's snapshot ends).
    pub skim: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            extended_types: false,
            digest: true,
            skim: false,
        }
    }
}

/// Where a [`SnapshotReader`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadState {
    FileHeader,
    SessionCount,
    Sessions {
        left: u32,
    },
    AclCount,
    Acls {
        left: u32,
    },
    Nodes,
    /// File: the first seal.
    Seal,
    /// File: the end, or a digest and a second seal.
    DigestOrEnd,
    SecondSeal,
    Done,
}

/// Reads a snapshot in pieces of any size, building the tree as nodes arrive.
#[derive(Clone, Debug)]
pub struct SnapshotReader {
    form: Form,
    opts: LoadOptions,
    state: ReadState,
    /// Bytes of an item that has not arrived whole yet.
    pending: Vec<u8>,
    adler: adler2::Adler32,
    sessions: BTreeMap<SessionId, i32>,
    tree: Option<DataTree>,
    /// ACL keys in the snapshot → the tree's ids.
    acls: FxHashMap<i64, AclId>,
    nodes: u64,
    zxid: Zxid,
    /// The newest zxid any node names.
    newest: Zxid,
    digest: Option<(Zxid, u64)>,
    unknown_acls: u64,
    /// Bytes consumed, for error messages and for the connection that skims a SNAP.
    offset: u64,
}

/// An item could not be read whole from the bytes at hand.
fn incomplete(e: &SnapshotError) -> bool {
    matches!(e, SnapshotError::Malformed(JuteError::Truncated { .. }))
}

impl SnapshotReader {
    /// A reader of a snapshot labelled `zxid` in the given form.
    pub fn new(form: Form, zxid: Zxid, opts: LoadOptions) -> SnapshotReader {
        SnapshotReader {
            form,
            opts,
            state: match form {
                Form::File => ReadState::FileHeader,
                Form::Stream => ReadState::SessionCount,
            },
            pending: Vec::new(),
            adler: adler2::Adler32::new(),
            sessions: BTreeMap::new(),
            tree: None,
            acls: FxHashMap::default(),
            nodes: 0,
            zxid,
            newest: Zxid::ZERO,
            digest: None,
            unknown_acls: 0,
            offset: 0,
        }
    }

    /// The label.
    pub fn zxid(&self) -> Zxid {
        self.zxid
    }

    /// Nodes read so far.
    pub fn nodes(&self) -> u64 {
        self.nodes
    }

    /// Nodes that named an ACL key the snapshot's cache did not hold (see the module docs).
    pub fn unknown_acls(&self) -> u64 {
        self.unknown_acls
    }

    /// The whole snapshot has been read (for a file, its seal checked; a file without a digest
    /// is only known to be whole at [`SnapshotReader::finish`]).
    pub fn is_done(&self) -> bool {
        self.state == ReadState::Done
    }

    /// Reads the next piece; returns how many of its bytes belong to the snapshot (all of
    /// them, unless its end is in this piece). An error means the snapshot is unusable.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<usize, SnapshotError> {
        if self.is_done() {
            return Ok(0);
        }
        if self.pending.is_empty() {
            let used = self.consume(bytes)?;
            if !self.is_done() {
                self.pending.extend_from_slice(&bytes[used..]);
                return Ok(bytes.len());
            }
            Ok(used)
        } else {
            let held = self.pending.len();
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(bytes);
            let used = self.consume(&buf)?;
            if !self.is_done() {
                buf.drain(..used);
                self.pending = buf;
                return Ok(bytes.len());
            }
            Ok(used.saturating_sub(held))
        }
    }

    /// The tree, once everything has been read.
    pub fn finish(mut self) -> Result<DataTree, SnapshotError> {
        if self.state == ReadState::DigestOrEnd && self.pending.is_empty() {
            // A file written with digests off ends at its first seal.
            self.state = ReadState::Done;
        }
        if !self.is_done() {
            return Err(SnapshotError::Truncated(format!(
                "{} nodes read, {} bytes in, no end",
                self.nodes, self.offset
            )));
        }
        if !self.pending.is_empty() {
            return Err(SnapshotError::Inconsistent(format!(
                "{} bytes left after the end",
                self.pending.len()
            )));
        }
        let mut tree = match self.tree.take() {
            Some(t) => t,
            None => DataTree::for_loading(
                self.opts.extended_types,
                self.zxid,
                std::mem::take(&mut self.sessions),
            ),
        };
        // Each list was interned with a reference of its own; the nodes hold theirs.
        for id in self.acls.values() {
            tree.acl_cache_mut().release(*id);
        }
        let mut until = self.newest.max(self.zxid);
        match self.digest {
            Some((z, d)) if z > self.zxid && self.opts.digest => {
                until = until.max(z);
                tree.set_snapshot_digest(Some((z, d)));
            }
            // Not fuzzy: the digest holds now.
            Some((z, d))
                if z == self.zxid && self.opts.digest && z != Zxid::ZERO && tree.digest() != d =>
            {
                tree.note_mismatch(z, d);
            }
            _ => {}
        }
        tree.set_fuzzy_until(until);
        Ok(tree)
    }

    /// Reads as many whole items from `buf` as it holds; returns how many bytes they took.
    fn consume(&mut self, buf: &[u8]) -> Result<usize, SnapshotError> {
        let mut pos = 0;
        loop {
            if self.is_done() {
                return Ok(pos);
            }
            let mut r = Reader::new(&buf[pos..], ITEM_LIMIT);
            match self.item(&mut r) {
                Ok(()) => {
                    let n = r.position();
                    // A seal's checksum covers what came before it, itself excluded (`item`
                    // compared it), and the first seal is covered by the second.
                    self.adler.write_slice(&buf[pos..pos + n]);
                    pos += n;
                    self.offset += n as u64;
                }
                Err(e) if incomplete(&e) => return Ok(pos),
                Err(e) => return Err(e),
            }
        }
    }

    fn tree(&mut self) -> &mut DataTree {
        if self.tree.is_none() {
            self.tree = Some(DataTree::for_loading(
                self.opts.extended_types,
                self.zxid,
                std::mem::take(&mut self.sessions),
            ));
            let digest = self.opts.digest;
            if let Some(t) = self.tree.as_mut() {
                t.set_digest_enabled(digest);
            }
        }
        self.tree.as_mut().expect("just made")
    }

    /// One item, in the state's grammar.
    fn item(&mut self, r: &mut Reader) -> Result<(), SnapshotError> {
        match self.state {
            ReadState::FileHeader => {
                let magic = r.i32("FileHeader.magic")?;
                let version = r.i32("FileHeader.version")?;
                let _dbid = r.i64("FileHeader.dbid")?;
                if magic != FILE_MAGIC {
                    return Err(SnapshotError::BadMagic(magic));
                }
                if version != FILE_VERSION {
                    return Err(SnapshotError::BadVersion(version));
                }
                self.state = ReadState::SessionCount;
            }
            ReadState::SessionCount => {
                let n = r.i32("session count")?;
                let left = u32::try_from(n).map_err(|_| {
                    SnapshotError::Inconsistent(format!("session count {n} is negative"))
                })?;
                self.state = if left > 0 {
                    ReadState::Sessions { left }
                } else {
                    ReadState::AclCount
                };
            }
            ReadState::Sessions { left } => {
                let id = SessionId(r.i64("session id")?);
                let timeout = r.i32("session timeout")?;
                if !self.opts.skim {
                    self.sessions.insert(id, timeout);
                }
                self.state = if left > 1 {
                    ReadState::Sessions { left: left - 1 }
                } else {
                    ReadState::AclCount
                };
            }
            ReadState::AclCount => {
                let n = r.i32("ACL cache size")?;
                let left = u32::try_from(n).map_err(|_| {
                    SnapshotError::Inconsistent(format!("ACL cache size {n} is negative"))
                })?;
                self.state = if left > 0 {
                    ReadState::Acls { left }
                } else {
                    ReadState::Nodes
                };
            }
            ReadState::Acls { left } => {
                let key = r.i64("ACL key")?;
                let list = r.acls()?;
                if !self.opts.skim {
                    let id = self.tree().acl_cache_mut().intern(&list);
                    if let Some(old) = self.acls.insert(key, id) {
                        self.tree().acl_cache_mut().release(old);
                    }
                }
                self.state = if left > 1 {
                    ReadState::Acls { left: left - 1 }
                } else {
                    ReadState::Nodes
                };
            }
            ReadState::Nodes => {
                let path = r.str_ref("node path")?;
                if path == "/" {
                    self.state = match self.form {
                        Form::File => ReadState::Seal,
                        Form::Stream => ReadState::Done,
                    };
                    return Ok(());
                }
                let data = r.opt_buffer_ref("node data")?;
                let key = r.i64("node acl")?;
                let stat: StatPersisted = r.stat_persisted()?;
                self.newest = self.newest.max(stat.czxid).max(stat.mzxid).max(stat.pzxid);
                let first = self.nodes == 0;
                if first != path.is_empty() {
                    return Err(SnapshotError::Inconsistent(if first {
                        format!("the first node is {path}, not the root")
                    } else {
                        "the root appears twice".into()
                    }));
                }
                self.nodes += 1;
                if self.opts.skim {
                    return Ok(());
                }
                let acl = match key {
                    OPEN_UNSAFE_ACL_KEY => self.acl_for(key, Acl::open_unsafe),
                    k => match self.acls.get(&k) {
                        Some(id) => *id,
                        None => {
                            self.unknown_acls += 1;
                            self.acl_for(k, Vec::new)
                        }
                    },
                };
                let path = if path.is_empty() { "/" } else { path };
                self.tree()
                    .load_node(path, data, acl, &stat, first)
                    .map_err(SnapshotError::Inconsistent)?;
            }
            ReadState::Seal | ReadState::SecondSeal => {
                let computed = self.adler.checksum() as u64;
                let stored = r.i64("seal checksum")? as u64;
                let slash = r.str_ref("seal path")?;
                if stored != computed {
                    return Err(SnapshotError::Checksum { stored, computed });
                }
                if slash != "/" {
                    return Err(SnapshotError::Inconsistent(format!(
                        "the seal ends with {slash:?}, not \"/\""
                    )));
                }
                self.state = if self.state == ReadState::Seal {
                    ReadState::DigestOrEnd
                } else {
                    ReadState::Done
                };
            }
            ReadState::DigestOrEnd => {
                let zxid = r.zxid("ZxidDigest.zxid")?;
                let version = r.i32("ZxidDigest.digestVersion")?;
                let digest = if version < 2 {
                    let hex = r.str_ref("ZxidDigest.digest")?;
                    u64::from_str_radix(hex, 16).map_err(|_| {
                        SnapshotError::Inconsistent(format!("digest {hex:?} is not hexadecimal"))
                    })?
                } else {
                    r.i64("ZxidDigest.digest")? as u64
                };
                if zxid != Zxid::ZERO && version == crate::digest::DIGEST_VERSION {
                    self.digest = Some((zxid, digest));
                }
                self.state = ReadState::SecondSeal;
            }
            ReadState::Done => {}
        }
        Ok(())
    }

    /// The tree's id for a list keyed `key` that the cache did not hold, interned once.
    fn acl_for(&mut self, key: i64, list: impl FnOnce() -> Vec<Acl>) -> AclId {
        if let Some(id) = self.acls.get(&key) {
            return *id;
        }
        let l = list();
        let id = self.tree().acl_cache_mut().intern(&l);
        self.acls.insert(key, id);
        id
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn purge_keeps_the_newest_readable_snapshots_and_the_logs_after_the_oldest_kept() {
        let z = |n| Zxid(n);
        let snaps = [(z(10), true), (z(20), true), (z(30), false), (z(40), true)];
        let logs = [z(1), z(11), z(25), z(35)];
        // Two readable kept: 40 and 20; the unreadable 30 between them stays; 10 goes. The
        // log from 11 holds what follows 20.
        assert_eq!(
            purge_plan(&snaps, &logs, 2),
            Purge {
                snapshots: vec![z(10)],
                logs: vec![z(1)],
            }
        );
        // retain 0 keeps one.
        assert_eq!(
            purge_plan(&snaps, &logs, 0),
            Purge {
                snapshots: vec![z(10), z(20), z(30)],
                logs: vec![z(1), z(11), z(25)],
            }
        );
        // More asked for than there are: nothing goes.
        assert_eq!(purge_plan(&snaps, &logs, 9), Purge::default());
        // No readable snapshot: nothing goes.
        assert_eq!(purge_plan(&[(z(5), false)], &logs, 3), Purge::default());
    }

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
                create2: false,
            },
            Txn::Create {
                path: "/a/b".into(),
                data: Some(vec![]),
                acl: digest.clone(),
                ephemeral: false,
                parent_cversion: -1,
                create2: false,
            },
            Txn::Create {
                path: "/e".into(),
                data: Some(vec![1, 2]),
                acl: digest,
                ephemeral: true,
                parent_cversion: -1,
                create2: false,
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

    fn opts() -> LoadOptions {
        LoadOptions {
            extended_types: true,
            ..LoadOptions::default()
        }
    }

    #[test]
    fn round_trip_is_identical() {
        let t = sample();
        let bytes = serialize(&t);
        let r = deserialize(&bytes, t.last_processed_zxid(), opts()).unwrap();
        assert_eq!(serialize(&r), bytes);
        assert_eq!(r.digest(), t.digest());
        assert_eq!(r.digest(), r.compute_digest());
        let f = file_bytes(&t);
        let rf = deserialize_file(&f, t.last_processed_zxid(), opts()).unwrap();
        assert_eq!(serialize(&rf), bytes);
        assert_eq!(rf.digest_mismatches(), 0);
        assert_eq!(r.get("/a").unwrap().bytes(), b"bye");
        assert_eq!(r.ephemerals(SessionId(5)), vec!["/e"]);
        assert_eq!(r.containers().len(), 1);
        assert_eq!(r.ttls().len(), 1);
        assert_eq!(r.sessions().get(&SessionId(5)), Some(&6000));
        assert_eq!(r.last_processed_zxid(), Zxid(7));
        assert_eq!(r.stat("/a"), t.stat("/a"));
    }

    #[test]
    fn corruption_is_detected() {
        let t = sample();
        let z = t.last_processed_zxid();
        let bytes = file_bytes(&t);
        for i in [0, 5, 20, bytes.len() / 2, bytes.len() - 30, bytes.len() - 1] {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(deserialize_file(&b, z, opts()).is_err(), "flipped byte {i}");
        }
        for cut in [10, bytes.len() / 2, bytes.len() - 10] {
            assert!(
                deserialize_file(&bytes[..cut], z, opts()).is_err(),
                "cut at {cut}"
            );
        }
        assert!(deserialize_file(b"", z, opts()).is_err());
        // Without the digest part (a file written with digests off) it is whole.
        let mut off = t.clone();
        off.set_digest_enabled(false);
        let plain = file_bytes(&off);
        assert_eq!(plain.len() + 33, bytes.len());
        assert!(deserialize_file(&plain, z, opts()).is_ok());
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
                            create2: false,
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
            let file = seed % 3 != 0;
            let mut bytes = Vec::new();
            let mut framer = file.then(|| FileFramer::start(&mut bytes));
            let mut w = SnapshotWriter::start(&t, seed % 2 == 0, &mut bytes);
            let label = w.zxid();
            let mut seen = if file { FILE_HEADER_LEN } else { 0 };
            loop {
                let done = w.step(&t, &mut bytes, budget);
                if let Some(f) = framer.as_mut() {
                    f.body(&bytes[seen..]);
                }
                seen = bytes.len();
                if done {
                    break;
                }
                for _ in 0..g.below(4) {
                    g.step(&mut t);
                }
            }
            if let Some(f) = framer {
                f.finish(t.last_digest(), true, &mut bytes);
            }
            let end = t.last_processed_zxid();
            for _ in 0..g.below(10) {
                g.step(&mut t);
            }
            // Read it back in pieces of any size.
            let form = if file { Form::File } else { Form::Stream };
            let mut r = SnapshotReader::new(form, label, LoadOptions::default());
            let mut rest = &bytes[..];
            while !rest.is_empty() {
                let n = (1 + g.below(200) as usize).min(rest.len());
                assert_eq!(r.feed(&rest[..n]).unwrap(), n);
                rest = &rest[n..];
            }
            let mut restored = r.finish().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(restored.last_processed_zxid(), label);
            if file {
                assert_eq!(restored.fuzzy_until(), end.max(label), "seed {seed}");
            } else {
                assert!(restored.fuzzy_until() <= end.max(label), "seed {seed}");
            }
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
            assert_eq!(restored.digest(), t.digest(), "seed {seed}");
            assert_eq!(restored.digest_mismatches(), 0, "seed {seed}");
            assert_eq!(restored.approximate_data_size(), t.approximate_data_size());
            assert_eq!(
                restored.acl_cache().len(),
                t.acl_cache().len(),
                "seed {seed}"
            );
        }
    }
}
