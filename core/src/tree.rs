//! The data tree (ZooKeeper's `DataTree`): znodes with data, ACLs and stat, the session table
//! (id → timeout) that is replicated with it, and the indexes of ephemeral, container and TTL
//! nodes.
//!
//! The tree changes only through [`DataTree::apply`], one transaction at a time in zxid order.
//! It never decides anything: every check (versions, ACLs, existence) was made by the prepare
//! step, and `apply` just carries the change out, reporting what changed as [`TreeEvent`]s for
//! the watch manager. Applying the same transactions to two trees gives two equal trees.
//!
//! ## Layout: compact, because a server holds millions of nodes
//!
//! Nodes live in a slab (`Vec<Node>`) and refer to each other by [`NodeId`]: a node knows its
//! parent, its place in the parent's child list, and its children's ids. A node stores only its
//! own name, in the same allocation as its data; full paths exist only in the path index, a
//! hash table of node ids keyed by the hash of the full path (ZooKeeper's `nodes` map, without
//! the copy of every path). A lookup hashes the path and confirms a candidate by walking its
//! parents, comparing names. Child lists are unordered; everything that is output (children,
//! ephemerals, snapshots) is sorted by name or kept in ordered sets, so nothing observable
//! depends on hashing, which differs between 64-bit and wasm32 builds.
//!
//! ## Replaying over a fuzzy snapshot
//!
//! A snapshot may be taken while transactions keep being applied ([`crate::snapshot`]), as
//! ZooKeeper takes its fuzzy snapshots. Such a snapshot, labelled with the zxid at its start,
//! becomes exact by replaying every later transaction, so `apply` is idempotent in the way
//! ZooKeeper's `DataTree.processTxn` is: creates, data, versions and ACLs are set to absolute
//! values from the transaction, a create that finds its node already there still moves the
//! parent's `cversion` and `pzxid` (`setCversionPzxid`), and a delete of a missing node still
//! moves the parent's `pzxid`. [`DataTree::fuzzy_until`] says up to which zxid a restored tree
//! may still hold such later changes: it is consistent once it has applied that far.

use crate::acl::Acl;
use crate::error::{ErrorCode, ZkResult};
use crate::path::{self, split_parent};
use crate::request::EventType;
use crate::stat::{EphemeralType, Stat, StatPersisted};
use crate::txn::{op, Txn, TxnEntry, TxnHeader};
use crate::types::{SessionId, Zxid};
use hashbrown::HashTable;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher;

/// An index into the tree's ACL table. Nodes share identical ACL lists, as in ZooKeeper's
/// `ReferenceCountedACLCache`.
pub type AclId = u32;

/// A node's place in the tree's slab. Ids of deleted nodes are reused.
pub type NodeId = u32;

/// The root's id: the first node of every tree.
pub const ROOT: NodeId = 0;
/// The parent of a free slot.
const VACANT: NodeId = NodeId::MAX;
/// The top bit of `Node::name_len`: the data is null.
const NULL_DATA: u32 = 1 << 31;

/// ACL lists interned with reference counts.
#[derive(Clone, Debug, Default)]
pub struct AclCache {
    lists: BTreeMap<AclId, (Vec<Acl>, u64)>,
    index: BTreeMap<Vec<Acl>, AclId>,
    next: AclId,
}

impl AclCache {
    /// Interns a list and takes one reference to it.
    pub fn intern(&mut self, acl: &[Acl]) -> AclId {
        if let Some(&id) = self.index.get(acl) {
            self.retain(id);
            return id;
        }
        let id = self.next;
        self.next += 1;
        self.lists.insert(id, (acl.to_vec(), 1));
        self.index.insert(acl.to_vec(), id);
        id
    }

    /// Takes one more reference to a list already interned.
    pub fn retain(&mut self, id: AclId) {
        if let Some(entry) = self.lists.get_mut(&id) {
            entry.1 += 1;
        }
    }

    /// Drops one reference; the list goes when nothing refers to it.
    pub fn release(&mut self, id: AclId) {
        let gone = match self.lists.get_mut(&id) {
            Some(entry) => {
                entry.1 = entry.1.saturating_sub(1);
                entry.1 == 0
            }
            None => false,
        };
        if gone {
            if let Some((list, _)) = self.lists.remove(&id) {
                self.index.remove(&list);
            }
        }
    }

    pub fn get(&self, id: AclId) -> &[Acl] {
        self.lists
            .get(&id)
            .map(|(l, _)| l.as_slice())
            .unwrap_or(&[])
    }

    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// Every list with its id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (AclId, &[Acl])> {
        self.lists.iter().map(|(id, (l, _))| (*id, l.as_slice()))
    }

    /// Every list with its id, in the lists' own order (the same for two caches holding the
    /// same lists, whatever their ids).
    pub fn sorted(&self) -> impl Iterator<Item = (AclId, &[Acl])> {
        self.index.iter().map(|(l, id)| (*id, l.as_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

/// One znode: its stat, ACL, place in the tree, and name and data in one allocation. The data
/// is null (not just empty) when it was created or set with a null buffer, which ZooKeeper
/// keeps and returns as null.
///
/// 104 bytes plus the allocation of name and data: the stat's fields are kept inline so that
/// the four 32-bit fields fill what would be padding.
#[derive(Clone, Debug)]
pub struct Node {
    czxid: Zxid,
    mzxid: Zxid,
    pzxid: Zxid,
    ctime: i64,
    mtime: i64,
    ephemeral_owner: i64,
    version: i32,
    cversion: i32,
    aversion: i32,
    acl: AclId,
    pub(crate) parent: NodeId,
    /// This node's index in its parent's child list.
    slot: u32,
    /// The name's length at the front of `buf`, with [`NULL_DATA`].
    name_len: u32,
    /// The hash of the full path (see [`hash_path`]), for rebuilding the path index.
    hash: u32,
    buf: Box<[u8]>,
    /// Boxed: one word in every node, where most are leaves (a bare `Vec` would take three).
    #[allow(clippy::box_collection)]
    kids: Option<Box<Vec<NodeId>>>,
}

impl Node {
    fn new(
        name: &str,
        data: Option<&[u8]>,
        acl: AclId,
        stat: &StatPersisted,
        parent: NodeId,
        hash: u32,
    ) -> Node {
        let mut n = Node {
            czxid: stat.czxid,
            mzxid: stat.mzxid,
            pzxid: stat.pzxid,
            ctime: stat.ctime,
            mtime: stat.mtime,
            ephemeral_owner: stat.ephemeral_owner,
            version: stat.version,
            cversion: stat.cversion,
            aversion: stat.aversion,
            acl,
            parent,
            slot: 0,
            name_len: 0,
            hash,
            buf: Box::default(),
            kids: None,
        };
        n.set_name_and_data(name.as_bytes(), data);
        n
    }

    fn vacant() -> Node {
        Node::new("", None, 0, &StatPersisted::default(), VACANT, 0)
    }

    fn set_name_and_data(&mut self, name: &[u8], data: Option<&[u8]>) {
        let d = data.unwrap_or(&[]);
        let mut buf = Vec::with_capacity(name.len() + d.len());
        buf.extend_from_slice(name);
        buf.extend_from_slice(d);
        self.buf = buf.into_boxed_slice();
        self.name_len = name.len() as u32 | if data.is_none() { NULL_DATA } else { 0 };
    }

    fn name_end(&self) -> usize {
        (self.name_len & !NULL_DATA) as usize
    }

    pub(crate) fn is_vacant(&self) -> bool {
        self.parent == VACANT
    }

    /// The last component of the path ("" for the root).
    pub fn name(&self) -> &str {
        std::str::from_utf8(self.name_bytes()).unwrap_or_default()
    }

    pub(crate) fn name_bytes(&self) -> &[u8] {
        &self.buf[..self.name_end()]
    }

    /// The data; `None` when it is null.
    pub fn data(&self) -> Option<&[u8]> {
        (self.name_len & NULL_DATA == 0).then(|| self.bytes())
    }

    /// The data, with null as empty.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[self.name_end()..]
    }

    pub fn data_len(&self) -> usize {
        self.buf.len() - self.name_end()
    }

    pub fn acl_id(&self) -> AclId {
        self.acl
    }

    pub fn czxid(&self) -> Zxid {
        self.czxid
    }

    pub fn child_count(&self) -> usize {
        self.kids.as_ref().map_or(0, |k| k.len())
    }

    /// The children's ids, in no particular order.
    pub(crate) fn kids(&self) -> &[NodeId] {
        self.kids.as_deref().map_or(&[], |k| k.as_slice())
    }

    /// The stat as the tree keeps it (`StatPersisted`).
    pub fn stat(&self) -> StatPersisted {
        StatPersisted {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner,
            pzxid: self.pzxid,
        }
    }
}

/// The hash of a full path that the path index is keyed by. Only ever compared within one
/// process: it may differ between builds.
fn hash_path(path: &str) -> u32 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(path.as_bytes());
    let x = h.finish();
    (x ^ (x >> 32)) as u32
}

/// The stored 32-bit hash as the table wants it: its top bits pick the tag, its low bits the
/// bucket, so the 32 bits are repeated.
fn table_hash(h: u32) -> u64 {
    ((h as u64) << 32) | h as u64
}

/// What a transaction changed, for the watch manager (`DataTree.createNode`, `deleteNode` and
/// `setData` trigger watches on exactly these).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TreeEvent {
    Created(String),
    Deleted(String),
    DataChanged(String),
}

impl TreeEvent {
    pub fn path(&self) -> &str {
        match self {
            TreeEvent::Created(p) | TreeEvent::Deleted(p) | TreeEvent::DataChanged(p) => p,
        }
    }
    pub fn event_type(&self) -> EventType {
        match self {
            TreeEvent::Created(_) => EventType::NodeCreated,
            TreeEvent::Deleted(_) => EventType::NodeDeleted,
            TreeEvent::DataChanged(_) => EventType::NodeDataChanged,
        }
    }
}

/// The outcome of applying one transaction (`ProcessTxnResult`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnResult {
    /// The txn's type code (`op::CREATE`, ..., `op::ERROR`).
    pub op: i32,
    pub err: ErrorCode,
    pub path: Option<String>,
    pub stat: Option<Stat>,
    /// One result per sub-transaction of a multi.
    pub multi: Vec<TxnResult>,
}

impl TxnResult {
    fn new(op: i32) -> TxnResult {
        TxnResult {
            op,
            err: ErrorCode::Ok,
            path: None,
            stat: None,
            multi: Vec::new(),
        }
    }
}

/// The replicated state of a ZooKeeper server: znodes and sessions.
#[derive(Clone, Debug)]
pub struct DataTree {
    slots: Vec<Node>,
    free: Vec<NodeId>,
    /// Node ids by the hash of their full path.
    index: HashTable<NodeId>,
    acls: AclCache,
    /// Session id → negotiated timeout (ms): ZooKeeper's `sessionsWithTimeouts`.
    sessions: BTreeMap<SessionId, i32>,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    last_processed_zxid: Zxid,
    /// Restored from a fuzzy snapshot: may hold changes of transactions up to here.
    fuzzy_until: Zxid,
    /// Bytes of paths and data, kept up to date as nodes change.
    approx_size: u64,
    /// Whether TTL nodes are enabled (`zookeeper.extendedTypesEnabled`): it decides how an
    /// ephemeral owner field is read.
    extended_types: bool,
    /// The sum of every node's digest ([`crate::digest`]), kept up to date as nodes change.
    digest: u64,
    /// `digest.enabled`: when off, every node's digest is 0, as in ZooKeeper.
    digest_enabled: bool,
    /// The tree's digest after the last transaction applied while consistent
    /// (`lastProcessedZxidDigest`): what a snapshot records after its seal.
    last_digest: Option<(Zxid, u64)>,
    /// Restored from a snapshot that recorded the digest at the end of its walk: checked when
    /// the replay reaches that zxid (`digestFromLoadedSnapshot`).
    snapshot_digest: Option<(Zxid, u64)>,
    /// Transactions after which the tree's digest was not the one the transaction (or the
    /// snapshot) carried (`digest_mismatches_count`), and the first of them.
    digest_mismatches: u64,
    first_mismatch: Option<DigestMismatch>,
}

/// A transaction after which the tree's digest differed from the one recorded for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestMismatch {
    pub zxid: Zxid,
    pub expected: u64,
    pub actual: u64,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new(false)
    }
}

impl DataTree {
    /// A tree with only the root, which a snapshot's first node replaces.
    fn bare(extended_types: bool) -> DataTree {
        let mut t = DataTree {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            acls: AclCache::default(),
            sessions: BTreeMap::new(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_processed_zxid: Zxid::ZERO,
            fuzzy_until: Zxid::ZERO,
            approx_size: 1,
            extended_types,
            digest: 0,
            digest_enabled: true,
            last_digest: None,
            snapshot_digest: None,
            digest_mismatches: 0,
            first_mismatch: None,
        };
        let h = hash_path("/");
        t.slots
            .push(Node::new("", None, 0, &StatPersisted::default(), ROOT, h));
        t.index
            .insert_unique(table_hash(h), ROOT, |_| table_hash(h));
        t.digest = t.digest_of(ROOT, "/");
        t
    }

    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`, all with zero
    /// stats as ZooKeeper creates them.
    pub fn new(extended_types: bool) -> DataTree {
        let mut t = DataTree::bare(extended_types);
        let open = t.acls.intern(&Acl::open_unsafe());
        t.slots[ROOT as usize].acl = open;
        let zero = StatPersisted::default();
        let zk = t.add_node(
            ROOT,
            path::ZOOKEEPER,
            "zookeeper",
            None,
            &Acl::open_unsafe(),
            &zero,
        );
        t.add_node(zk, path::QUOTA, "quota", None, &Acl::open_unsafe(), &zero);
        // DataTree.addConfigNode sets the ACL with version -1, which becomes the aversion.
        let config = StatPersisted {
            aversion: -1,
            ..zero
        };
        t.add_node(
            zk,
            path::CONFIG,
            "config",
            None,
            &Acl::read_unsafe(),
            &config,
        );
        t
    }

    pub fn extended_types(&self) -> bool {
        self.extended_types
    }

    pub fn last_processed_zxid(&self) -> Zxid {
        self.last_processed_zxid
    }

    /// Restored from a fuzzy snapshot, the tree may hold changes of transactions up to this
    /// zxid beyond what it has applied; it is consistent once it has applied that far.
    pub fn fuzzy_until(&self) -> Zxid {
        self.fuzzy_until
    }

    pub(crate) fn set_fuzzy_until(&mut self, z: Zxid) {
        self.fuzzy_until = z;
    }

    /// Every change the tree holds is of a transaction it has applied (see
    /// [`DataTree::fuzzy_until`]): what a server may serve.
    pub fn is_consistent(&self) -> bool {
        self.last_processed_zxid >= self.fuzzy_until
    }

    /// The tree's digest: the sum of its nodes' digests (0 when `digest.enabled` is off).
    pub fn digest(&self) -> u64 {
        self.digest
    }

    pub fn digest_enabled(&self) -> bool {
        self.digest_enabled
    }

    /// Turns digests on or off (`digest.enabled`), recomputing the tree's.
    pub fn set_digest_enabled(&mut self, on: bool) {
        if self.digest_enabled == on {
            return;
        }
        self.digest_enabled = on;
        self.digest = self.compute_digest();
        self.last_digest = None;
        self.snapshot_digest = None;
    }

    /// The digest recomputed from every node (tests check the kept one against it).
    pub fn compute_digest(&self) -> u64 {
        let mut sum = 0u64;
        let mut stack = vec![(ROOT, "/".to_string())];
        while let Some((id, p)) = stack.pop() {
            sum = sum.wrapping_add(self.digest_of(id, &p));
            let n = &self.slots[id as usize];
            for &c in n.kids() {
                stack.push((c, path::join(&p, self.slots[c as usize].name())));
            }
        }
        sum
    }

    /// The digest after the last transaction applied while consistent, with its zxid
    /// (ZooKeeper's `lastProcessedZxidDigest`).
    pub fn last_digest(&self) -> Option<(Zxid, u64)> {
        self.last_digest
    }

    /// The digest a loaded snapshot recorded at the end of its walk, not reached yet.
    pub fn snapshot_digest(&self) -> Option<(Zxid, u64)> {
        self.snapshot_digest
    }

    pub(crate) fn set_snapshot_digest(&mut self, d: Option<(Zxid, u64)>) {
        self.snapshot_digest = d;
    }

    /// How many transactions left the tree with another digest than the one recorded for them.
    pub fn digest_mismatches(&self) -> u64 {
        self.digest_mismatches
    }

    /// The first such transaction.
    pub fn first_digest_mismatch(&self) -> Option<&DigestMismatch> {
        self.first_mismatch.as_ref()
    }

    /// A snapshot's digest did not hold at its zxid.
    pub(crate) fn note_mismatch(&mut self, zxid: Zxid, expected: u64) {
        self.mismatch(zxid, expected);
    }

    fn mismatch(&mut self, zxid: Zxid, expected: u64) {
        self.digest_mismatches += 1;
        if self.first_mismatch.is_none() {
            self.first_mismatch = Some(DigestMismatch {
                zxid,
                expected,
                actual: self.digest,
            });
        }
    }

    /// One node's digest, `path` being its path.
    fn digest_of(&self, id: NodeId, path: &str) -> u64 {
        if !self.digest_enabled {
            return 0;
        }
        let n = &self.slots[id as usize];
        crate::digest::node_digest(path, n.bytes(), &n.stat())
    }

    /// Changes node `id` (at `path`) with `f`, keeping the tree's digest.
    fn change<R>(&mut self, id: NodeId, path: &str, f: impl FnOnce(&mut Node) -> R) -> R {
        let old = self.digest_of(id, path);
        let r = f(&mut self.slots[id as usize]);
        let new = self.digest_of(id, path);
        self.digest = self.digest.wrapping_sub(old).wrapping_add(new);
        r
    }

    /// Number of znodes, the root included (what `mntr`'s `zk_znode_count` reports).
    pub fn node_count(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn find_hashed(&self, path: &str, h: u32) -> Option<NodeId> {
        let slots = &self.slots;
        self.index
            .find(table_hash(h), |&id| {
                slots[id as usize].hash == h && path_is(slots, id, path)
            })
            .copied()
    }

    /// The node at `path`.
    pub fn find(&self, path: &str) -> Option<NodeId> {
        self.find_hashed(path, hash_path(path))
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.find(path).map(|id| &self.slots[id as usize])
    }

    /// A node by id, if the slot holds one.
    pub(crate) fn node(&self, id: NodeId) -> Option<&Node> {
        self.slots.get(id as usize).filter(|n| !n.is_vacant())
    }

    pub fn acl_of(&self, node: &Node) -> &[Acl] {
        self.acls.get(node.acl)
    }

    pub fn acl_cache(&self) -> &AclCache {
        &self.acls
    }

    /// The client's view of a node's stat.
    pub fn stat_of(&self, node: &Node) -> Stat {
        node.stat()
            .to_stat(node.data_len(), node.child_count(), self.extended_types)
    }

    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.get(path).map(|n| self.stat_of(n))
    }

    /// A node's children's names, sorted.
    pub fn children_of(&self, node: &Node) -> Vec<String> {
        let mut names: Vec<&str> = node
            .kids()
            .iter()
            .map(|&k| self.slots[k as usize].name())
            .collect();
        names.sort_unstable();
        names.into_iter().map(str::to_string).collect()
    }

    /// Children names in sorted order.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.get(path).map(|n| self.children_of(n))
    }

    /// A node's children's ids, sorted by name.
    pub(crate) fn sorted_kids(&self, node: &Node) -> Vec<NodeId> {
        let mut kids = node.kids().to_vec();
        kids.sort_unstable_by(|a, b| {
            self.slots[*a as usize]
                .name_bytes()
                .cmp(self.slots[*b as usize].name_bytes())
        });
        kids
    }

    /// `getAllChildrenNumber`: every node below `path`. For `/` ZooKeeper counts all nodes but
    /// the root, its own `/zookeeper` subtree included.
    pub fn all_children_number(&self, path: &str) -> Option<usize> {
        let node = self.get(path)?;
        if path == "/" {
            return Some(self.node_count() - 1);
        }
        let mut count = 0;
        let mut stack: Vec<NodeId> = node.kids().to_vec();
        while let Some(id) = stack.pop() {
            count += 1;
            stack.extend_from_slice(self.slots[id as usize].kids());
        }
        Some(count)
    }

    /// The ephemeral nodes a session owns, sorted.
    pub fn ephemerals(&self, session: SessionId) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every session that owns ephemerals, with the count (for `dump` and `mntr`).
    pub fn ephemerals_by_session(&self) -> &BTreeMap<SessionId, BTreeSet<String>> {
        &self.ephemerals
    }

    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    /// The replicated session table: session id → timeout in ms.
    pub fn sessions(&self) -> &BTreeMap<SessionId, i32> {
        &self.sessions
    }

    pub fn containers(&self) -> &BTreeSet<String> {
        &self.containers
    }

    pub fn ttls(&self) -> &BTreeSet<String> {
        &self.ttls
    }

    /// Total bytes of data and paths (`mntr`'s `zk_approximate_data_size`).
    pub fn approximate_data_size(&self) -> u64 {
        self.approx_size
    }

    /// `ContainerManager.getCandidates`: empty containers that once had a child (or, when
    /// `max_never_used_ms` is not 0, have been empty and unused longer than that), and empty TTL
    /// nodes not modified for longer than their TTL. `now` is wall-clock milliseconds.
    pub fn container_candidates(&self, now: i64, max_never_used_ms: i64) -> Vec<String> {
        let mut out = BTreeSet::new();
        for p in &self.containers {
            if let Some(n) = self.get(p) {
                if n.child_count() == 0
                    && (n.cversion > 0
                        || (max_never_used_ms != 0 && now - n.mtime > max_never_used_ms))
                {
                    out.insert(p.clone());
                }
            }
        }
        for p in &self.ttls {
            if let Some(n) = self.get(p) {
                if let EphemeralType::Ttl(ttl) =
                    EphemeralType::of(n.ephemeral_owner, self.extended_types)
                {
                    if n.child_count() == 0 && ttl != 0 && now - n.mtime > ttl {
                        out.insert(p.clone());
                    }
                }
            }
        }
        out.into_iter().collect()
    }

    /// Applies one transaction. `events` receives what changed, in order, for the watches.
    pub fn apply(&mut self, hdr: &TxnHeader, txn: &Txn, events: &mut Vec<TreeEvent>) -> TxnResult {
        let rc = self.apply_one(hdr, txn, events);
        if hdr.zxid > self.last_processed_zxid {
            self.last_processed_zxid = hdr.zxid;
        }
        match self.snapshot_digest {
            // Restored from a fuzzy snapshot: its digest holds once the replay reaches the end
            // of its walk (`compareSnapshotDigests`).
            Some((z, expected)) if self.digest_enabled => {
                if hdr.zxid == z {
                    if expected != self.digest {
                        self.mismatch(z, expected);
                    }
                    self.snapshot_digest = None;
                } else if hdr.zxid > z {
                    self.snapshot_digest = None;
                }
            }
            _ => {
                self.snapshot_digest = None;
                if self.digest_enabled {
                    self.last_digest = Some((hdr.zxid, self.digest));
                }
            }
        }
        rc
    }

    /// Applies a log entry and checks the digest it carries, if any, against the tree's
    /// (`DataTree.compareDigest`; not while the tree may still hold later changes of a fuzzy
    /// snapshot).
    pub fn apply_entry(&mut self, entry: &TxnEntry, events: &mut Vec<TreeEvent>) -> TxnResult {
        let checking = self.snapshot_digest.is_none() && self.is_consistent();
        let rc = self.apply(&entry.hdr, &entry.txn, events);
        if let Some(d) = entry.digest {
            if checking && self.digest_enabled && d.version == crate::digest::DIGEST_VERSION {
                let expected = d.tree_digest as u64;
                if expected != self.digest {
                    self.mismatch(entry.hdr.zxid, expected);
                }
            }
        }
        rc
    }

    fn apply_one(&mut self, hdr: &TxnHeader, txn: &Txn, events: &mut Vec<TreeEvent>) -> TxnResult {
        let mut rc = TxnResult::new(txn.op_code());
        let zxid = hdr.zxid;
        let res: ZkResult<()> = match txn {
            Txn::Create {
                path,
                data,
                acl,
                ephemeral,
                parent_cversion,
                ..
            } => {
                rc.path = Some(path.clone());
                let owner = if *ephemeral { hdr.session.0 } else { 0 };
                self.create_node(
                    path,
                    data,
                    acl,
                    owner,
                    *parent_cversion,
                    zxid,
                    hdr.time,
                    events,
                )
                .map(|s| rc.stat = Some(s))
            }
            Txn::CreateContainer {
                path,
                data,
                acl,
                parent_cversion,
            } => {
                rc.path = Some(path.clone());
                let owner = crate::stat::CONTAINER_EPHEMERAL_OWNER;
                self.create_node(
                    path,
                    data,
                    acl,
                    owner,
                    *parent_cversion,
                    zxid,
                    hdr.time,
                    events,
                )
                .map(|s| rc.stat = Some(s))
            }
            Txn::CreateTtl {
                path,
                data,
                acl,
                parent_cversion,
                ttl,
            } => {
                rc.path = Some(path.clone());
                match EphemeralType::ttl_owner(*ttl) {
                    Some(owner) => self
                        .create_node(
                            path,
                            data,
                            acl,
                            owner,
                            *parent_cversion,
                            zxid,
                            hdr.time,
                            events,
                        )
                        .map(|s| rc.stat = Some(s)),
                    None => Err(ErrorCode::BadArguments),
                }
            }
            Txn::Delete { path, .. } => {
                rc.path = Some(path.clone());
                self.delete_node(path, zxid, events)
            }
            Txn::SetData {
                path,
                data,
                version,
            } => {
                rc.path = Some(path.clone());
                self.set_data(path, data, *version, zxid, hdr.time, events)
                    .map(|s| rc.stat = Some(s))
            }
            Txn::SetAcl { path, acl, version } => {
                rc.path = Some(path.clone());
                self.set_acl(path, acl, *version).map(|s| rc.stat = Some(s))
            }
            Txn::Check { path, .. } => {
                rc.path = Some(path.clone());
                Ok(())
            }
            Txn::CreateSession { timeout } => {
                self.sessions.insert(hdr.session, *timeout);
                Ok(())
            }
            Txn::CloseSession { paths_to_delete } => {
                self.kill_session(hdr.session, zxid, paths_to_delete, events);
                Ok(())
            }
            Txn::Error { err } => Err(*err),
            Txn::Multi(txns) => {
                // A multi with an error in it failed as a whole: as ZooKeeper's processTxn does,
                // its other ops change nothing and report Ok before the first error and
                // RuntimeInconsistency after it (ZooKeeper's leader logs the real ops before
                // the failing one; this one logs them as errors already).
                let failed = txns.iter().any(|t| matches!(t, Txn::Error { .. }));
                let mut after_error = false;
                for sub in txns {
                    let sub_rc = match sub {
                        Txn::Error { .. } => {
                            after_error = true;
                            self.apply_one(hdr, sub, events)
                        }
                        _ if failed => {
                            let err = if after_error {
                                ErrorCode::RuntimeInconsistency
                            } else {
                                ErrorCode::Ok
                            };
                            self.apply_one(hdr, &Txn::Error { err }, events)
                        }
                        _ => self.apply_one(hdr, sub, events),
                    };
                    if !sub_rc.err.is_ok() && rc.err.is_ok() {
                        rc.err = sub_rc.err;
                    }
                    rc.multi.push(sub_rc);
                }
                Ok(())
            }
        };
        if let Err(e) = res {
            rc.err = e;
        }
        rc
    }

    /// Puts a node into the slab, the path index, its parent's child list and the indexes of
    /// special nodes. The caller has checked that the parent exists and the path is free.
    fn add_node(
        &mut self,
        parent: NodeId,
        path: &str,
        name: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        stat: &StatPersisted,
    ) -> NodeId {
        let acl = self.acls.intern(acl);
        self.add_node_with(parent, path, name, data, acl, stat)
    }

    fn add_node_with(
        &mut self,
        parent: NodeId,
        path: &str,
        name: &str,
        data: Option<&[u8]>,
        acl: AclId,
        stat: &StatPersisted,
    ) -> NodeId {
        let h = hash_path(path);
        let mut node = Node::new(name, data, acl, stat, parent, h);
        let id = match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(Node::vacant());
                (self.slots.len() - 1) as NodeId
            }
        };
        let siblings = self.slots[parent as usize]
            .kids
            .get_or_insert_with(Default::default);
        node.slot = siblings.len() as u32;
        siblings.push(id);
        self.slots[id as usize] = node;
        let slots = &self.slots;
        self.index
            .insert_unique(table_hash(h), id, |&x| table_hash(slots[x as usize].hash));
        self.digest = self.digest.wrapping_add(self.digest_of(id, path));
        self.approx_size += (path.len() + data.map_or(0, |d| d.len())) as u64;
        match EphemeralType::of(stat.ephemeral_owner, self.extended_types) {
            EphemeralType::Container => {
                self.containers.insert(path.to_string());
            }
            EphemeralType::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
            EphemeralType::Normal(s) => {
                self.ephemerals
                    .entry(s)
                    .or_default()
                    .insert(path.to_string());
            }
            EphemeralType::Void => {}
        }
        id
    }

    /// Takes a childless node out of every structure and frees its slot.
    fn remove_node(&mut self, id: NodeId, path: &str) {
        self.digest = self.digest.wrapping_sub(self.digest_of(id, path));
        let h = self.slots[id as usize].hash;
        if let Ok(e) = self.index.find_entry(table_hash(h), |&x| x == id) {
            e.remove();
        }
        let node = std::mem::replace(&mut self.slots[id as usize], Node::vacant());
        let parent = &mut self.slots[node.parent as usize];
        if let Some(kids) = parent.kids.as_mut() {
            let at = node.slot as usize;
            kids.swap_remove(at);
            let moved = kids.get(at).copied();
            if kids.is_empty() {
                parent.kids = None;
            }
            if let Some(m) = moved {
                self.slots[m as usize].slot = at as u32;
            }
        }
        self.free.push(id);
        self.approx_size = self
            .approx_size
            .saturating_sub((path.len() + node.data_len()) as u64);
        self.acls.release(node.acl);
        match EphemeralType::of(node.ephemeral_owner, self.extended_types) {
            EphemeralType::Container => {
                self.containers.remove(path);
            }
            EphemeralType::Ttl(_) => {
                self.ttls.remove(path);
            }
            EphemeralType::Normal(s) => {
                if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
            EphemeralType::Void => {}
        }
    }

    /// `DataTree.setCversionPzxid`, as a create does it to the parent.
    fn set_cversion_pzxid(
        &mut self,
        parent: NodeId,
        parent_path: &str,
        parent_cversion: i32,
        zxid: Zxid,
    ) {
        let p = &self.slots[parent as usize];
        let new_cversion = if parent_cversion == -1 {
            p.cversion + 1
        } else {
            parent_cversion
        };
        if new_cversion > p.cversion {
            self.change(parent, parent_path, |p| {
                p.cversion = new_cversion;
                p.pzxid = zxid;
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_node(
        &mut self,
        path: &str,
        data: &Option<Vec<u8>>,
        acl: &[Acl],
        ephemeral_owner: i64,
        parent_cversion: i32,
        zxid: Zxid,
        time: i64,
        events: &mut Vec<TreeEvent>,
    ) -> ZkResult<Stat> {
        let (parent_name, child_name) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
        let parent_key = if parent_name.is_empty() {
            "/"
        } else {
            parent_name
        };
        let parent = self.find(parent_key).ok_or(ErrorCode::NoNode)?;
        let exists = self.find(path).is_some();
        // On NodeExists too, as ZooKeeper's processTxn does: replaying a create over a fuzzy
        // snapshot that already holds the node must still leave the parent as the create did.
        self.set_cversion_pzxid(parent, parent_key, parent_cversion, zxid);
        if exists {
            return Err(ErrorCode::NodeExists);
        }
        let stat = StatPersisted::new(zxid, time, ephemeral_owner);
        self.add_node(parent, path, child_name, data.as_deref(), acl, &stat);
        events.push(TreeEvent::Created(path.to_string()));
        Ok(stat.to_stat(data.as_ref().map_or(0, |d| d.len()), 0, self.extended_types))
    }

    fn delete_node(&mut self, path: &str, zxid: Zxid, events: &mut Vec<TreeEvent>) -> ZkResult<()> {
        let (parent_name, _) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
        let parent_key = if parent_name.is_empty() {
            "/"
        } else {
            parent_name
        };
        if path == "/" {
            return Err(ErrorCode::BadArguments);
        }
        let parent = self.find(parent_key).ok_or(ErrorCode::NoNode)?;
        // Moved even when the node is already gone (a replay over a fuzzy snapshot), as
        // ZooKeeper's deleteNode does; only forward, so that a later create's pzxid stays.
        if zxid > self.slots[parent as usize].pzxid {
            self.change(parent, parent_key, |p| p.pzxid = zxid);
        }
        let id = self.find(path).ok_or(ErrorCode::NoNode)?;
        if self.slots[id as usize].child_count() > 0 {
            // The prepare step never lets this through; a replay may meet it, and the children's
            // own deletes come first in the log.
            return Err(ErrorCode::NotEmpty);
        }
        self.remove_node(id, path);
        events.push(TreeEvent::Deleted(path.to_string()));
        Ok(())
    }

    fn set_data(
        &mut self,
        path: &str,
        data: &Option<Vec<u8>>,
        version: i32,
        zxid: Zxid,
        time: i64,
        events: &mut Vec<TreeEvent>,
    ) -> ZkResult<Stat> {
        let id = self.find(path).ok_or(ErrorCode::NoNode)?;
        let extended = self.extended_types;
        let (old_len, new_len, stat) = self.change(id, path, |n| {
            let old_len = n.data_len() as u64;
            let name = n.buf[..n.name_end()].to_vec();
            n.set_name_and_data(&name, data.as_deref());
            n.mtime = time;
            n.mzxid = zxid;
            n.version = version;
            let stat = n.stat().to_stat(n.data_len(), n.child_count(), extended);
            (old_len, n.data_len() as u64, stat)
        });
        self.approx_size = (self.approx_size + new_len).saturating_sub(old_len);
        events.push(TreeEvent::DataChanged(path.to_string()));
        Ok(stat)
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> ZkResult<Stat> {
        let id = self.find(path).ok_or(ErrorCode::NoNode)?;
        let old = self.slots[id as usize].acl;
        let new = self.acls.intern(acl);
        self.acls.release(old);
        let extended = self.extended_types;
        Ok(self.change(id, path, |n| {
            n.acl = new;
            n.aversion = version;
            n.stat().to_stat(n.data_len(), n.child_count(), extended)
        }))
    }

    /// `DataTree.killSession`: deletes the ephemerals the closeSession txn lists, then any the
    /// session still owns locally, and forgets the session.
    fn kill_session(
        &mut self,
        session: SessionId,
        zxid: Zxid,
        listed: &[String],
        events: &mut Vec<TreeEvent>,
    ) {
        self.sessions.remove(&session);
        let local = self.ephemerals.remove(&session).unwrap_or_default();
        for p in listed {
            let _ = self.delete_node(p, zxid, events);
        }
        for p in local {
            if !listed.contains(&p) {
                let _ = self.delete_node(&p, zxid, events);
            }
        }
    }

    /// All paths in depth-first order with sorted children: the canonical order of snapshots.
    pub fn paths_preorder(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.node_count());
        let mut stack = vec![(ROOT, "/".to_string())];
        while let Some((id, p)) = stack.pop() {
            let n = &self.slots[id as usize];
            for c in self.sorted_kids(n).into_iter().rev() {
                stack.push((c, path::join(&p, self.slots[c as usize].name())));
            }
            out.push(p);
        }
        out
    }

    /// An empty tree for a snapshot to be loaded into with [`DataTree::load_node`].
    pub(crate) fn for_loading(
        extended_types: bool,
        last_processed_zxid: Zxid,
        sessions: BTreeMap<SessionId, i32>,
    ) -> DataTree {
        let mut t = DataTree::bare(extended_types);
        t.last_processed_zxid = last_processed_zxid;
        t.sessions = sessions;
        t
    }

    pub(crate) fn acl_cache_mut(&mut self) -> &mut AclCache {
        &mut self.acls
    }

    /// Adds a node read from a snapshot, which holds parents before their children. `acl` is
    /// already interned, and this takes one more reference to it. The first node must be the
    /// root.
    pub(crate) fn load_node(
        &mut self,
        path: &str,
        data: Option<&[u8]>,
        acl: AclId,
        stat: &StatPersisted,
        first: bool,
    ) -> Result<(), String> {
        if path == "/" {
            if !first {
                return Err("the root appears twice".into());
            }
            self.change(ROOT, "/", |root| {
                let kids = root.kids.take();
                let hash = root.hash;
                *root = Node::new("", data, acl, stat, ROOT, hash);
                root.kids = kids;
            });
            self.approx_size += data.map_or(0, |d| d.len()) as u64;
            self.acls.retain(acl);
            return Ok(());
        }
        if first {
            return Err("the root must come first".into());
        }
        path::validate_path(path).map_err(|e| e.to_string())?;
        let (parent, child) = split_parent(path).ok_or_else(|| format!("bad path {path}"))?;
        let parent_key = if parent.is_empty() { "/" } else { parent };
        let pid = self
            .find(parent_key)
            .ok_or_else(|| format!("node {path} comes before its parent {parent_key}"))?;
        if self.find(path).is_some() {
            return Err(format!("node {path} appears twice"));
        }
        self.acls.retain(acl);
        self.add_node_with(pid, path, child, data, acl, stat);
        Ok(())
    }

    /// Applies a txn type code check used by tests and the simulator: is this txn a write that
    /// changes the tree?
    pub fn is_mutation(txn: &Txn) -> bool {
        !matches!(txn.op_code(), op::ERROR | op::CHECK)
    }
}

/// Whether node `id` is at `path`: its name ends the path, its parent's name comes before, and
/// so on up to the root.
fn path_is(slots: &[Node], mut id: NodeId, path: &str) -> bool {
    if id == ROOT {
        return path == "/";
    }
    let mut rest = path.as_bytes();
    loop {
        if id == ROOT {
            return rest.is_empty();
        }
        let n = &slots[id as usize];
        let name = n.name_bytes();
        if rest.len() < name.len() + 1 || !rest.ends_with(name) {
            return false;
        }
        rest = &rest[..rest.len() - name.len()];
        if rest.last() != Some(&b'/') {
            return false;
        }
        rest = &rest[..rest.len() - 1];
        id = n.parent;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(zxid: u64) -> TxnHeader {
        TxnHeader {
            session: SessionId(0x42),
            cxid: 1,
            zxid: Zxid(zxid),
            time: 1000 + zxid as i64,
        }
    }

    fn create(path: &str, pcv: i32) -> Txn {
        Txn::Create {
            path: path.into(),
            data: Some(b"d".to_vec()),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: pcv,
            create2: false,
        }
    }

    #[test]
    fn fresh_tree() {
        let t = DataTree::new(false);
        assert_eq!(t.children("/").unwrap(), vec!["zookeeper"]);
        assert_eq!(t.children("/zookeeper").unwrap(), vec!["config", "quota"]);
        assert_eq!(t.node_count(), 4);
        let root = t.stat("/").unwrap();
        assert_eq!(root.num_children, 1);
        assert_eq!(root.cversion, -1, "2*0 - 1 child, as ZooKeeper shows it");
        assert_eq!(
            t.acl_of(t.get("/zookeeper/config").unwrap()),
            Acl::read_unsafe().as_slice()
        );
        assert_eq!(t.all_children_number("/"), Some(3));
    }

    #[test]
    fn create_delete_stat() {
        let mut t = DataTree::new(false);
        let mut ev = Vec::new();
        let rc = t.apply(&hdr(2), &create("/p", 1), &mut ev);
        assert!(rc.err.is_ok());
        let rc = t.apply(&hdr(3), &create("/p/a", 1), &mut ev);
        assert_eq!(rc.stat.unwrap().czxid, Zxid(3));
        t.apply(&hdr(4), &create("/p/b", 2), &mut ev);
        t.apply(
            &hdr(5),
            &Txn::Delete {
                path: "/p/b".into(),
                container: false,
            },
            &mut ev,
        );
        let s = t.stat("/p").unwrap();
        assert_eq!(
            (s.cversion, s.num_children, s.pzxid),
            (3, 1, Zxid(5)),
            "as the reference server shows"
        );
        assert_eq!(
            t.get("/p").unwrap().stat().cversion,
            2,
            "stored cversion counts creates"
        );
        assert_eq!(
            ev,
            vec![
                TreeEvent::Created("/p".into()),
                TreeEvent::Created("/p/a".into()),
                TreeEvent::Created("/p/b".into()),
                TreeEvent::Deleted("/p/b".into())
            ]
        );
        assert_eq!(t.last_processed_zxid(), Zxid(5));
        assert_eq!(
            t.apply(&hdr(6), &create("/p/a", 3), &mut ev).err,
            ErrorCode::NodeExists
        );
        assert_eq!(
            t.apply(&hdr(7), &create("/x/a", 1), &mut ev).err,
            ErrorCode::NoNode
        );
    }

    #[test]
    fn set_data_and_acl() {
        let mut t = DataTree::new(false);
        let mut ev = Vec::new();
        t.apply(&hdr(2), &create("/a", 1), &mut ev);
        let rc = t.apply(
            &hdr(3),
            &Txn::SetData {
                path: "/a".into(),
                data: Some(b"xyz".to_vec()),
                version: 1,
            },
            &mut ev,
        );
        let s = rc.stat.unwrap();
        assert_eq!(
            (s.version, s.mzxid, s.mtime, s.data_length),
            (1, Zxid(3), 1003, 3)
        );
        let acls_before = t.acl_cache().len();
        let rc = t.apply(
            &hdr(4),
            &Txn::SetAcl {
                path: "/a".into(),
                acl: Acl::read_unsafe(),
                version: 1,
            },
            &mut ev,
        );
        assert_eq!(rc.stat.unwrap().aversion, 1);
        assert_eq!(rc.stat.unwrap().mzxid, Zxid(3), "setACL leaves mzxid alone");
        assert_eq!(
            t.acl_of(t.get("/a").unwrap()),
            Acl::read_unsafe().as_slice()
        );
        assert_eq!(
            t.acl_cache().len(),
            acls_before,
            "read-only list was already interned"
        );
    }

    #[test]
    fn sessions_and_ephemerals() {
        let mut t = DataTree::new(false);
        let mut ev = Vec::new();
        let s = TxnHeader {
            session: SessionId(7),
            cxid: 0,
            zxid: Zxid(1),
            time: 0,
        };
        t.apply(&s, &Txn::CreateSession { timeout: 4000 }, &mut ev);
        assert_eq!(t.sessions().get(&SessionId(7)), Some(&4000));
        let mk = |p: &str, z| {
            (
                TxnHeader {
                    session: SessionId(7),
                    cxid: 1,
                    zxid: Zxid(z),
                    time: 0,
                },
                Txn::Create {
                    path: p.into(),
                    data: Some(vec![]),
                    acl: Acl::open_unsafe(),
                    ephemeral: true,
                    parent_cversion: -1,
                    create2: false,
                },
            )
        };
        let (h, tx) = mk("/e1", 2);
        t.apply(&h, &tx, &mut ev);
        let (h, tx) = mk("/e2", 3);
        t.apply(&h, &tx, &mut ev);
        assert_eq!(t.ephemerals(SessionId(7)), vec!["/e1", "/e2"]);
        assert_eq!(t.stat("/e1").unwrap().ephemeral_owner, 7);
        ev.clear();
        let close = TxnHeader {
            session: SessionId(7),
            cxid: 2,
            zxid: Zxid(4),
            time: 0,
        };
        t.apply(
            &close,
            &Txn::CloseSession {
                paths_to_delete: vec!["/e1".into(), "/e2".into()],
            },
            &mut ev,
        );
        assert!(t.get("/e1").is_none() && t.get("/e2").is_none());
        assert!(t.sessions().is_empty());
        assert_eq!(ev.len(), 2);
        assert_eq!(t.stat("/").unwrap().pzxid, Zxid(4));
    }

    #[test]
    fn containers_and_ttl_candidates() {
        let mut t = DataTree::new(true);
        let mut ev = Vec::new();
        let c = Txn::CreateContainer {
            path: "/c".into(),
            data: Some(vec![]),
            acl: Acl::open_unsafe(),
            parent_cversion: -1,
        };
        t.apply(&hdr(2), &c, &mut ev);
        let ttl = Txn::CreateTtl {
            path: "/t".into(),
            data: Some(vec![]),
            acl: Acl::open_unsafe(),
            parent_cversion: -1,
            ttl: 100,
        };
        t.apply(&hdr(3), &ttl, &mut ev);
        assert_eq!(
            t.stat("/t").unwrap().ephemeral_owner,
            0,
            "clients see 0 for TTL nodes"
        );
        assert!(
            t.container_candidates(1000, 0).is_empty(),
            "a never-used container stays, TTL not expired"
        );
        t.apply(&hdr(4), &create("/c/x", -1), &mut ev);
        t.apply(
            &hdr(5),
            &Txn::Delete {
                path: "/c/x".into(),
                container: false,
            },
            &mut ev,
        );
        assert_eq!(t.container_candidates(1000, 0), vec!["/c"]);
        assert_eq!(t.container_candidates(1003 + 101, 0), vec!["/c", "/t"]);
        assert_eq!(t.containers().len(), 1);
        t.apply(
            &hdr(6),
            &Txn::Delete {
                path: "/c".into(),
                container: true,
            },
            &mut ev,
        );
        assert!(t.containers().is_empty());
    }

    #[test]
    fn multi_applies_in_order() {
        let mut t = DataTree::new(false);
        let mut ev = Vec::new();
        let m = Txn::Multi(vec![
            create("/m", -1),
            create("/m/a", -1),
            Txn::Check {
                path: "/m".into(),
                version: 0,
            },
        ]);
        let rc = t.apply(&hdr(2), &m, &mut ev);
        assert!(rc.err.is_ok());
        assert_eq!(rc.multi.len(), 3);
        assert_eq!(rc.multi[1].path.as_deref(), Some("/m/a"));
        let failed = Txn::Multi(vec![
            Txn::Error { err: ErrorCode::Ok },
            Txn::Error {
                err: ErrorCode::NoNode,
            },
        ]);
        let rc = t.apply(&hdr(3), &failed, &mut ev);
        assert_eq!(rc.err, ErrorCode::NoNode);
        assert_eq!(t.last_processed_zxid(), Zxid(3));
        // As ZooKeeper's leader writes a failed multi: the real ops around the failing one,
        // none of them applied.
        let digest = t.digest();
        let failed = Txn::Multi(vec![
            create("/x", -1),
            Txn::Error {
                err: ErrorCode::BadVersion,
            },
            create("/y", -1),
        ]);
        let rc = t.apply(&hdr(4), &failed, &mut ev);
        assert_eq!(rc.err, ErrorCode::BadVersion);
        let errs: Vec<ErrorCode> = rc.multi.iter().map(|r| r.err).collect();
        assert_eq!(
            errs,
            vec![
                ErrorCode::Ok,
                ErrorCode::BadVersion,
                ErrorCode::RuntimeInconsistency
            ]
        );
        assert!(t.get("/x").is_none() && t.get("/y").is_none());
        assert_eq!(t.digest(), digest);
    }

    #[test]
    fn all_children_number() {
        let mut t = DataTree::new(false);
        let mut ev = Vec::new();
        for (i, p) in ["/a", "/a/b", "/a/b/c", "/a/d"].iter().enumerate() {
            t.apply(&hdr(2 + i as u64), &create(p, -1), &mut ev);
        }
        assert_eq!(t.all_children_number("/a"), Some(3));
        assert_eq!(t.all_children_number("/a/b/c"), Some(0));
        assert_eq!(t.all_children_number("/"), Some(7));
        assert_eq!(t.all_children_number("/nope"), None);
        assert_eq!(
            t.paths_preorder(),
            vec![
                "/",
                "/a",
                "/a/b",
                "/a/b/c",
                "/a/d",
                "/zookeeper",
                "/zookeeper/config",
                "/zookeeper/quota"
            ]
        );
    }
}
