//! The data tree (ZooKeeper's `DataTree`): znodes with data, ACLs and stat, the session table
//! (id → timeout) that is replicated with it, and the indexes of ephemeral, container and TTL
//! nodes.
//!
//! The tree changes only through [`DataTree::apply`], one transaction at a time in zxid order.
//! It never decides anything: every check (versions, ACLs, existence) was made by the prepare
//! step, and `apply` just carries the change out, reporting what changed as [`TreeEvent`]s for
//! the watch manager. Applying the same transactions to two trees gives two equal trees.
//!
//! Nodes are kept in a hash map keyed by full path (as in ZooKeeper), with each node holding the
//! sorted set of its children's names. The hash map is only ever used for lookups; everything
//! that is iterated for output (children, ephemerals, snapshots) is ordered, so no output depends
//! on hashing, which differs between 64-bit and wasm32 builds.

use crate::acl::Acl;
use crate::error::{ErrorCode, ZkResult};
use crate::path::{self, split_parent};
use crate::request::EventType;
use crate::stat::{EphemeralType, Stat, StatPersisted};
use crate::txn::{op, Txn, TxnHeader};
use crate::types::{SessionId, Zxid};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// An index into the tree's ACL table. Nodes share identical ACL lists, as in ZooKeeper's
/// `ReferenceCountedACLCache`.
pub type AclId = u32;

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
            if let Some(entry) = self.lists.get_mut(&id) {
                entry.1 += 1;
            }
            return id;
        }
        let id = self.next;
        self.next += 1;
        self.lists.insert(id, (acl.to_vec(), 1));
        self.index.insert(acl.to_vec(), id);
        id
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

    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

/// One znode. `data` is `None` when it was created or set with a null buffer, which ZooKeeper
/// keeps and returns as null.
#[derive(Clone, Debug)]
pub struct Node {
    pub data: Option<Vec<u8>>,
    pub acl: AclId,
    pub stat: StatPersisted,
    pub children: BTreeSet<Box<str>>,
}

impl Node {
    pub fn data_len(&self) -> usize {
        self.data.as_ref().map_or(0, |d| d.len())
    }
    /// The data, with null as empty.
    pub fn bytes(&self) -> &[u8] {
        self.data.as_deref().unwrap_or(&[])
    }
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

/// One node as a snapshot carries it: path, data, ACL, stat.
pub type SnapshotNode = (String, Option<Vec<u8>>, Vec<Acl>, StatPersisted);

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
    nodes: FxHashMap<Box<str>, Node>,
    acls: AclCache,
    /// Session id → negotiated timeout (ms): ZooKeeper's `sessionsWithTimeouts`.
    sessions: BTreeMap<SessionId, i32>,
    ephemerals: BTreeMap<SessionId, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    last_processed_zxid: Zxid,
    /// Whether TTL nodes are enabled (`zookeeper.extendedTypesEnabled`): it decides how an
    /// ephemeral owner field is read.
    extended_types: bool,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new(false)
    }
}

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`, all with zero
    /// stats as ZooKeeper creates them.
    pub fn new(extended_types: bool) -> DataTree {
        let mut t = DataTree {
            nodes: FxHashMap::default(),
            acls: AclCache::default(),
            sessions: BTreeMap::new(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_processed_zxid: Zxid::ZERO,
            extended_types,
        };
        let open = t.acls.intern(&Acl::open_unsafe());
        let _ = t.acls.intern(&Acl::open_unsafe());
        let _ = t.acls.intern(&Acl::open_unsafe());
        let read = t.acls.intern(&Acl::read_unsafe());
        let zero = StatPersisted::default();
        let mk = |acl, children: &[&str]| Node {
            data: None,
            acl,
            stat: zero,
            children: children.iter().map(|c| Box::<str>::from(*c)).collect(),
        };
        t.nodes.insert("/".into(), mk(open, &["zookeeper"]));
        t.nodes
            .insert(path::ZOOKEEPER.into(), mk(open, &["quota", "config"]));
        t.nodes.insert(path::QUOTA.into(), mk(open, &[]));
        let mut config = mk(read, &[]);
        // DataTree.addConfigNode sets the ACL with version -1, which becomes the aversion.
        config.stat.aversion = -1;
        t.nodes.insert(path::CONFIG.into(), config);
        t
    }

    pub fn extended_types(&self) -> bool {
        self.extended_types
    }

    pub fn last_processed_zxid(&self) -> Zxid {
        self.last_processed_zxid
    }

    /// Number of znodes, the root included (what `mntr`'s `zk_znode_count` reports).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    pub fn acl_of(&self, node: &Node) -> &[Acl] {
        self.acls.get(node.acl)
    }

    pub fn acl_cache(&self) -> &AclCache {
        &self.acls
    }

    /// The client's view of a node's stat.
    pub fn stat_of(&self, node: &Node) -> Stat {
        node.stat
            .to_stat(node.data_len(), node.children.len(), self.extended_types)
    }

    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.get(path).map(|n| self.stat_of(n))
    }

    /// Children names in sorted order.
    pub fn children(&self, path: &str) -> Option<Vec<String>> {
        self.get(path)
            .map(|n| n.children.iter().map(|c| c.to_string()).collect())
    }

    /// `getAllChildrenNumber`: every node below `path`. For `/` ZooKeeper counts all nodes but
    /// the root, its own `/zookeeper` subtree included.
    pub fn all_children_number(&self, path: &str) -> Option<usize> {
        let node = self.get(path)?;
        if path == "/" {
            return Some(self.nodes.len() - 1);
        }
        let mut count = 0;
        let mut stack: Vec<String> = node.children.iter().map(|c| path::join(path, c)).collect();
        while let Some(p) = stack.pop() {
            count += 1;
            if let Some(n) = self.nodes.get(p.as_str()) {
                stack.extend(n.children.iter().map(|c| path::join(&p, c)));
            }
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
        self.nodes
            .iter()
            .map(|(p, n)| (p.len() + n.data_len()) as u64)
            .sum()
    }

    /// `ContainerManager.getCandidates`: empty containers that once had a child (or, when
    /// `max_never_used_ms` is not 0, have been empty and unused longer than that), and empty TTL
    /// nodes not modified for longer than their TTL. `now` is wall-clock milliseconds.
    pub fn container_candidates(&self, now: i64, max_never_used_ms: i64) -> Vec<String> {
        let mut out = BTreeSet::new();
        for p in &self.containers {
            if let Some(n) = self.nodes.get(p.as_str()) {
                if n.children.is_empty()
                    && (n.stat.cversion > 0
                        || (max_never_used_ms != 0 && now - n.stat.mtime > max_never_used_ms))
                {
                    out.insert(p.clone());
                }
            }
        }
        for p in &self.ttls {
            if let Some(n) = self.nodes.get(p.as_str()) {
                if let EphemeralType::Ttl(ttl) =
                    EphemeralType::of(n.stat.ephemeral_owner, self.extended_types)
                {
                    if n.children.is_empty() && ttl != 0 && now - n.stat.mtime > ttl {
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
                for sub in txns {
                    let sub_rc = self.apply_one(hdr, sub, events);
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
        let parent = self.nodes.get_mut(parent_key).ok_or(ErrorCode::NoNode)?;
        if parent.children.contains(child_name) {
            return Err(ErrorCode::NodeExists);
        }
        let new_cversion = if parent_cversion == -1 {
            parent.stat.cversion + 1
        } else {
            parent_cversion
        };
        if new_cversion > parent.stat.cversion {
            parent.stat.cversion = new_cversion;
            parent.stat.pzxid = zxid;
        }
        parent.children.insert(child_name.into());
        let acl_id = self.acls.intern(acl);
        let node = Node {
            data: data.clone(),
            acl: acl_id,
            stat: StatPersisted::new(zxid, time, ephemeral_owner),
            children: BTreeSet::new(),
        };
        let stat = node.stat.to_stat(node.data_len(), 0, self.extended_types);
        self.nodes.insert(path.into(), node);
        match EphemeralType::of(ephemeral_owner, self.extended_types) {
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
        events.push(TreeEvent::Created(path.to_string()));
        Ok(stat)
    }

    fn delete_node(&mut self, path: &str, zxid: Zxid, events: &mut Vec<TreeEvent>) -> ZkResult<()> {
        let (parent_name, child_name) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
        let parent_key = if parent_name.is_empty() {
            "/"
        } else {
            parent_name
        };
        if path == "/" {
            return Err(ErrorCode::BadArguments);
        }
        let parent = self.nodes.get_mut(parent_key).ok_or(ErrorCode::NoNode)?;
        parent.children.remove(child_name);
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        self.acls.release(node.acl);
        match EphemeralType::of(node.stat.ephemeral_owner, self.extended_types) {
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
        let n = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        n.data.clone_from(data);
        n.stat.mtime = time;
        n.stat.mzxid = zxid;
        n.stat.version = version;
        let stat = n
            .stat
            .to_stat(n.data_len(), n.children.len(), self.extended_types);
        events.push(TreeEvent::DataChanged(path.to_string()));
        Ok(stat)
    }

    fn set_acl(&mut self, path: &str, acl: &[Acl], version: i32) -> ZkResult<Stat> {
        let old = self.nodes.get(path).ok_or(ErrorCode::NoNode)?.acl;
        let new = self.acls.intern(acl);
        self.acls.release(old);
        let n = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        n.acl = new;
        n.stat.aversion = version;
        Ok(n.stat
            .to_stat(n.data_len(), n.children.len(), self.extended_types))
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
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec!["/".to_string()];
        while let Some(p) = stack.pop() {
            if let Some(n) = self.nodes.get(p.as_str()) {
                for c in n.children.iter().rev() {
                    stack.push(path::join(&p, c));
                }
            }
            out.push(p);
        }
        out
    }

    /// Rebuilds a tree from snapshot parts. Nodes must come parents first.
    pub(crate) fn from_parts(
        extended_types: bool,
        last_processed_zxid: Zxid,
        sessions: BTreeMap<SessionId, i32>,
        nodes: Vec<SnapshotNode>,
    ) -> Result<DataTree, String> {
        let mut t = DataTree {
            nodes: FxHashMap::default(),
            acls: AclCache::default(),
            sessions,
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_processed_zxid,
            extended_types,
        };
        for (p, data, acl, stat) in nodes {
            if p != "/" {
                path::validate_path(&p).map_err(|e| e.to_string())?;
                let (parent, child) = split_parent(&p).ok_or_else(|| format!("bad path {p}"))?;
                let parent_key = if parent.is_empty() { "/" } else { parent };
                let pn = t
                    .nodes
                    .get_mut(parent_key)
                    .ok_or_else(|| format!("node {p} comes before its parent {parent_key}"))?;
                if !pn.children.insert(child.into()) {
                    return Err(format!("node {p} appears twice"));
                }
            } else if !t.nodes.is_empty() {
                return Err("the root must come first".into());
            }
            match EphemeralType::of(stat.ephemeral_owner, extended_types) {
                EphemeralType::Container => {
                    t.containers.insert(p.clone());
                }
                EphemeralType::Ttl(_) => {
                    t.ttls.insert(p.clone());
                }
                EphemeralType::Normal(s) => {
                    t.ephemerals.entry(s).or_default().insert(p.clone());
                }
                EphemeralType::Void => {}
            }
            let acl = t.acls.intern(&acl);
            t.nodes.insert(
                p.into(),
                Node {
                    data,
                    acl,
                    stat,
                    children: BTreeSet::new(),
                },
            );
        }
        if !t.nodes.contains_key("/") {
            return Err("snapshot has no root".into());
        }
        Ok(t)
    }

    /// Applies a txn type code check used by tests and the simulator: is this txn a write that
    /// changes the tree?
    pub fn is_mutation(txn: &Txn) -> bool {
        !matches!(txn.op_code(), op::ERROR | op::CHECK)
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
            t.get("/p").unwrap().stat.cversion,
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
