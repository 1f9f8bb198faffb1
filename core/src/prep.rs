//! The prepare step (ZooKeeper's `PrepRequestProcessor`): turns a write request into a
//! transaction.
//!
//! It runs on the server that orders writes (a standalone server or the leader), before the
//! transaction is logged. Every check happens here — session, path, ACL, version, existence,
//! sequence number — against the tree *plus* the changes prepared earlier but not yet applied
//! (ZooKeeper's `outstandingChanges`), so that two quick writes see each other. A request that
//! fails a check still becomes a transaction, an [`Txn::Error`], and still takes a zxid, as in
//! ZooKeeper.
//!
//! The pending change records carry everything a later check reads: a pending setACL carries
//! the *new* ACL (Apache ZooKeeper 3.8 keeps the old one, so a write can pass under the old ACL
//! just after setACL returned; here it cannot).

use crate::acl::{check_acl, fixup_acl, perms, Acl, Id};
use crate::error::{ErrorCode, ZkResult};
use crate::path::{is_special, validate_path};
use crate::request::{CreateMode, CreateRequest, Request};
use crate::session::SessionTracker;
use crate::stat::{EphemeralType, StatPersisted, CONTAINER_EPHEMERAL_OWNER};
use crate::tree::DataTree;
use crate::txn::{op, Txn};
use crate::types::{ServerId, SessionId, Zxid};
use rustc_hash::FxHashMap;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

/// Who is asking: the session, its request number, its authenticated ids and the server it is
/// connected to (the session's owner).
#[derive(Clone, Copy, Debug)]
pub struct RequestCtx<'a> {
    pub session: SessionId,
    pub cxid: i32,
    pub auth: &'a [Id],
    pub owner: ServerId,
}

/// A node as it will be once every prepared change is applied (`ChangeRecord`). `stat` is None
/// for a node that a pending change deletes.
#[derive(Clone, Debug)]
struct ChangeRecord {
    zxid: Zxid,
    path: String,
    stat: Option<StatPersisted>,
    child_count: i32,
    acl: Arc<[Acl]>,
    /// The record this one shadowed for the same path, so a failed multi can be rolled back.
    prev: Option<u64>,
    /// The CRC of path and data ([`crate::digest::head`]): what a change of stat keeps.
    head: u32,
    /// The node's digest as this record leaves it (0 when deleted), and the tree's digest once
    /// this record's change is applied (`precalculatedDigest`).
    digest: u64,
    tree_digest: u64,
}

impl ChangeRecord {
    /// A record of a node that no longer exists.
    fn deleted(zxid: Zxid, path: String) -> ChangeRecord {
        ChangeRecord {
            zxid,
            path,
            stat: None,
            child_count: 0,
            acl: Arc::from(Vec::new()),
            prev: None,
            head: 0,
            digest: 0,
            tree_digest: 0,
        }
    }
}

/// Settings the prepare step needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrepConfig {
    /// `skipACL`: no ACL checks at all.
    pub skip_acl: bool,
    /// `zookeeper.extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types: bool,
    /// `digest.enabled`: each transaction carries the tree's digest after it.
    pub digest: bool,
    /// The `sasl` and `x509` schemes, if registered.
    pub schemes: crate::acl::Schemes,
}

/// The pending changes and the logic that checks requests against them.
#[derive(Clone, Debug, Default)]
pub struct Prep {
    pub config: PrepConfig,
    /// Records in preparation order; `first_seq` numbers the front one.
    outstanding: VecDeque<ChangeRecord>,
    first_seq: u64,
    by_path: FxHashMap<String, u64>,
}

fn parent_key(parent: &str) -> &str {
    if parent.is_empty() {
        "/"
    } else {
        parent
    }
}

/// `checkAndIncVersion`: -1 matches any version.
fn check_and_inc_version(current: i32, expected: i32) -> ZkResult<i32> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

/// `validatePathForCreate` / `getParentPathAndValidate`: the parent part of a path.
fn parent_path(path: &str) -> ZkResult<&str> {
    match path.rfind('/') {
        Some(i) if !path.contains('\0') => Ok(&path[..i]),
        _ => Err(ErrorCode::BadArguments),
    }
}

fn valid(path: &str) -> ZkResult<()> {
    validate_path(path).map_err(|_| ErrorCode::BadArguments)
}

impl Prep {
    pub fn new(config: PrepConfig) -> Prep {
        Prep {
            config,
            ..Default::default()
        }
    }

    /// Number of prepared changes not yet applied.
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Forgets every pending change (a new leader starts from its tree).
    pub fn clear(&mut self) {
        self.outstanding.clear();
        self.by_path.clear();
    }

    /// The transaction with this zxid was applied to the tree: its records are no longer needed
    /// (`FinalRequestProcessor`'s cleanup of outstandingChanges).
    pub fn applied(&mut self, zxid: Zxid) {
        while let Some(front) = self.outstanding.front() {
            if front.zxid > zxid {
                break;
            }
            let seq = self.first_seq;
            if let Some(r) = self.outstanding.pop_front() {
                if self.by_path.get(&r.path) == Some(&seq) {
                    self.by_path.remove(&r.path);
                }
            }
            self.first_seq += 1;
        }
    }

    fn record(&self, seq: u64) -> Option<&ChangeRecord> {
        seq.checked_sub(self.first_seq)
            .and_then(|i| self.outstanding.get(i as usize))
    }

    /// `getRecordForPath`: the node as pending changes leave it, or NoNode.
    fn get_record(&self, tree: &DataTree, path: &str) -> ZkResult<ChangeRecord> {
        if let Some(r) = self.by_path.get(path).and_then(|&s| self.record(s)) {
            return match r.stat {
                Some(_) => Ok(r.clone()),
                None => Err(ErrorCode::NoNode),
            };
        }
        let n = tree.get(path).ok_or(ErrorCode::NoNode)?;
        let stat = n.stat();
        let (head, digest) = if self.config.digest {
            let head = crate::digest::head(path, n.bytes());
            (head, crate::digest::finish(head, path, &stat))
        } else {
            (0, 0)
        };
        Ok(ChangeRecord {
            zxid: Zxid::ZERO,
            path: path.to_string(),
            stat: Some(stat),
            child_count: n.child_count() as i32,
            acl: tree.acl_of(n).into(),
            prev: None,
            head,
            digest,
            tree_digest: 0,
        })
    }

    /// The tree's digest once every prepared change is applied (`getCurrentTreeDigest`).
    fn tree_digest(&self, tree: &DataTree) -> u64 {
        self.outstanding
            .back()
            .map_or(tree.digest(), |r| r.tree_digest)
    }

    /// What a transaction prepared just now carries: the tree's digest after it (`None` when
    /// digests are off).
    pub fn txn_digest(&self, tree: &DataTree) -> Option<crate::digest::TxnDigest> {
        self.config
            .digest
            .then(|| crate::digest::TxnDigest::new(self.tree_digest(tree)))
    }

    /// Adds a pending change; `old` is the node's digest before it (0 if it did not exist).
    fn add_record(&mut self, tree: &DataTree, mut r: ChangeRecord, old: u64) {
        if self.config.digest {
            r.digest = match &r.stat {
                Some(s) => crate::digest::finish(r.head, &r.path, s),
                None => 0,
            };
            r.tree_digest = self
                .tree_digest(tree)
                .wrapping_sub(old)
                .wrapping_add(r.digest);
        }
        let seq = self.first_seq + self.outstanding.len() as u64;
        r.prev = self.by_path.insert(r.path.clone(), seq);
        self.outstanding.push_back(r);
    }

    /// Undoes every record with `zxid` (a failed multi), restoring what they shadowed.
    fn rollback(&mut self, zxid: Zxid) {
        while let Some(back) = self.outstanding.back() {
            if back.zxid != zxid {
                break;
            }
            let seq = self.first_seq + self.outstanding.len() as u64 - 1;
            let Some(r) = self.outstanding.pop_back() else {
                break;
            };
            if self.by_path.get(&r.path) == Some(&seq) {
                match r.prev {
                    Some(p) if p >= self.first_seq => {
                        self.by_path.insert(r.path, p);
                    }
                    _ => {
                        self.by_path.remove(&r.path);
                    }
                }
            }
        }
    }

    fn check_acl(&self, acl: &[Acl], perm: i32, ctx: &RequestCtx) -> ZkResult<()> {
        check_acl(acl, perm, ctx.auth, self.config.skip_acl)
    }

    /// Prepares a client's write request (create, delete, setData, setACL, check, multi,
    /// reconfig). A failure becomes an [`Txn::Error`].
    pub fn prepare(
        &mut self,
        tree: &DataTree,
        sessions: &mut SessionTracker,
        ctx: &RequestCtx,
        req: &Request,
        zxid: Zxid,
        time: i64,
    ) -> Txn {
        match req {
            Request::Multi(ops) => self.prepare_multi(tree, sessions, ctx, ops, zxid, time),
            Request::Reconfig { .. } => Txn::Error {
                err: ErrorCode::ReconfigDisabled,
            },
            // A forwarded request whose body could not be read.
            Request::Malformed { .. } => Txn::Error {
                err: ErrorCode::MarshallingError,
            },
            _ => match self.prepare_op(tree, sessions, ctx, req, zxid, time) {
                Ok(t) => t,
                Err(err) => Txn::Error { err },
            },
        }
    }

    fn prepare_multi(
        &mut self,
        tree: &DataTree,
        sessions: &mut SessionTracker,
        ctx: &RequestCtx,
        ops: &[Request],
        zxid: Zxid,
        time: i64,
    ) -> Txn {
        let mut txns = Vec::with_capacity(ops.len());
        let mut failed = false;
        for o in ops {
            if failed {
                txns.push(Txn::Error {
                    err: ErrorCode::RuntimeInconsistency,
                });
                continue;
            }
            let allowed = matches!(
                o,
                Request::Create { .. }
                    | Request::Delete { .. }
                    | Request::SetData { .. }
                    | Request::Check { .. }
            );
            let r = if allowed {
                self.prepare_op(tree, sessions, ctx, o, zxid, time)
            } else {
                Err(ErrorCode::BadArguments)
            };
            match r {
                Ok(t) => txns.push(t),
                Err(err) => {
                    failed = true;
                    self.rollback(zxid);
                    // The ops before the failing one stay as they were prepared, as ZooKeeper's
                    // PrepRequestProcessor leaves them: the tree applies none of them, and
                    // they report Ok ([`crate::tree::DataTree::apply`]).
                    txns.push(Txn::Error { err });
                }
            }
        }
        Txn::Multi(txns)
    }

    fn prepare_op(
        &mut self,
        tree: &DataTree,
        sessions: &mut SessionTracker,
        ctx: &RequestCtx,
        req: &Request,
        zxid: Zxid,
        time: i64,
    ) -> ZkResult<Txn> {
        match req {
            Request::Create { op, req } => {
                self.prepare_create(tree, sessions, ctx, *op, req, zxid, time)
            }
            Request::Delete { path, version } => {
                sessions.check(ctx.session, ctx.owner)?;
                let parent = parent_path(path)?;
                if is_special(path) {
                    return Err(ErrorCode::BadArguments);
                }
                let parent_rec = self.get_record(tree, parent_key(parent))?;
                self.check_acl(&parent_rec.acl, perms::DELETE, ctx)?;
                let node = self.get_record(tree, path)?;
                let stat = node.stat.unwrap_or_default();
                check_and_inc_version(stat.version, *version)?;
                if node.child_count > 0 {
                    return Err(ErrorCode::NotEmpty);
                }
                self.record_delete(tree, parent_rec, node, zxid);
                Ok(Txn::Delete {
                    path: path.clone(),
                    container: false,
                })
            }
            Request::SetData {
                path,
                data,
                version,
            } => {
                sessions.check(ctx.session, ctx.owner)?;
                valid(path)?;
                let mut node = self.get_record(tree, path)?;
                self.check_acl(&node.acl, perms::WRITE, ctx)?;
                let mut stat = node.stat.unwrap_or_default();
                let new_version = check_and_inc_version(stat.version, *version)?;
                stat.version = new_version;
                stat.mtime = time;
                stat.mzxid = zxid;
                node.stat = Some(stat);
                node.zxid = zxid;
                let old = node.digest;
                if self.config.digest {
                    node.head = crate::digest::head(path, data.as_deref().unwrap_or(&[]));
                }
                self.add_record(tree, node, old);
                Ok(Txn::SetData {
                    path: path.clone(),
                    data: data.clone(),
                    version: new_version,
                })
            }
            Request::SetAcl { path, acl, version } => {
                sessions.check(ctx.session, ctx.owner)?;
                valid(path)?;
                let new_acl = fixup_acl(ctx.auth, acl, self.config.schemes)?;
                let mut node = self.get_record(tree, path)?;
                self.check_acl(&node.acl, perms::ADMIN, ctx)?;
                let mut stat = node.stat.unwrap_or_default();
                let new_version = check_and_inc_version(stat.aversion, *version)?;
                stat.aversion = new_version;
                node.stat = Some(stat);
                node.zxid = zxid;
                node.acl = new_acl.clone().into();
                let old = node.digest;
                self.add_record(tree, node, old);
                Ok(Txn::SetAcl {
                    path: path.clone(),
                    acl: new_acl,
                    version: new_version,
                })
            }
            Request::Check { path, version } => {
                sessions.check(ctx.session, ctx.owner)?;
                valid(path)?;
                let node = self.get_record(tree, path)?;
                self.check_acl(&node.acl, perms::READ, ctx)?;
                let v = check_and_inc_version(node.stat.unwrap_or_default().version, *version)?;
                Ok(Txn::Check {
                    path: path.clone(),
                    version: v,
                })
            }
            _ => Err(ErrorCode::BadArguments),
        }
    }

    /// A pending delete of `node`: its parent's child count and pzxid move, and it is gone.
    fn record_delete(
        &mut self,
        tree: &DataTree,
        mut parent: ChangeRecord,
        node: ChangeRecord,
        zxid: Zxid,
    ) {
        parent.zxid = zxid;
        parent.child_count -= 1;
        if let Some(s) = parent.stat.as_mut() {
            s.pzxid = zxid;
        }
        let old = parent.digest;
        self.add_record(tree, parent, old);
        self.add_record(tree, ChangeRecord::deleted(zxid, node.path), node.digest);
    }

    #[allow(clippy::too_many_arguments)]
    fn prepare_create(
        &mut self,
        tree: &DataTree,
        sessions: &mut SessionTracker,
        ctx: &RequestCtx,
        op_code: i32,
        req: &CreateRequest,
        zxid: Zxid,
        time: i64,
    ) -> ZkResult<Txn> {
        let mode = CreateMode::from_flags(req.flags).ok_or(ErrorCode::BadArguments)?;
        // validateCreateRequest
        if mode.is_ttl() && !self.config.extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        if mode.is_ttl() {
            EphemeralType::ttl_owner(req.ttl).ok_or(ErrorCode::BadArguments)?;
        } else if req.ttl >= 0 {
            return Err(ErrorCode::BadArguments);
        }
        sessions.check(ctx.session, ctx.owner)?;
        let parent = parent_path(&req.path)?;
        let acl = fixup_acl(ctx.auth, &req.acl, self.config.schemes)?;
        let mut parent_rec = self.get_record(tree, parent_key(parent))?;
        self.check_acl(&parent_rec.acl, perms::CREATE, ctx)?;
        let mut pstat = parent_rec.stat.unwrap_or_default();
        let mut path = req.path.clone();
        if mode.is_sequential() {
            path.push_str(&format!("{:010}", pstat.cversion));
        }
        valid(&path)?;
        if self.get_record(tree, &path).is_ok() {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(
            EphemeralType::of(pstat.ephemeral_owner, self.config.extended_types),
            EphemeralType::Normal(_)
        ) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let new_cversion = pstat.cversion.wrapping_add(1);
        let (data, parent_cversion) = (req.data.clone(), new_cversion);
        let txn = if mode.is_container() {
            if op_code == op::CREATE_TTL {
                return Err(ErrorCode::BadArguments);
            }
            Txn::CreateContainer {
                path: path.clone(),
                data,
                acl: acl.clone(),
                parent_cversion,
            }
        } else if mode.is_ttl() {
            if op_code == op::CREATE_CONTAINER {
                return Err(ErrorCode::BadArguments);
            }
            Txn::CreateTtl {
                path: path.clone(),
                data,
                acl: acl.clone(),
                parent_cversion,
                ttl: req.ttl,
            }
        } else {
            if op_code == op::CREATE_CONTAINER || op_code == op::CREATE_TTL {
                return Err(ErrorCode::BadArguments);
            }
            Txn::Create {
                path: path.clone(),
                data,
                acl: acl.clone(),
                ephemeral: mode.is_ephemeral(),
                parent_cversion,
                // ZooKeeper writes the request's own type: create2's gives a stat back.
                create2: op_code == op::CREATE2,
            }
        };
        let owner = if mode.is_container() {
            CONTAINER_EPHEMERAL_OWNER
        } else if mode.is_ttl() {
            EphemeralType::ttl_owner(req.ttl).unwrap_or(0)
        } else if mode.is_ephemeral() {
            ctx.session.0
        } else {
            0
        };
        pstat.cversion = new_cversion;
        pstat.pzxid = zxid;
        parent_rec.stat = Some(pstat);
        parent_rec.child_count += 1;
        parent_rec.zxid = zxid;
        let old = parent_rec.digest;
        self.add_record(tree, parent_rec, old);
        let head = if self.config.digest {
            crate::digest::head(&path, req.data.as_deref().unwrap_or(&[]))
        } else {
            0
        };
        self.add_record(
            tree,
            ChangeRecord {
                zxid,
                path,
                stat: Some(StatPersisted::new(zxid, time, owner)),
                child_count: 0,
                acl: acl.into(),
                prev: None,
                head,
                digest: 0,
                tree_digest: 0,
            },
            0,
        );
        Ok(txn)
    }

    /// `createSession`: the session was already given its id and tracked by the caller.
    pub fn prepare_create_session(&mut self, timeout: i32) -> Txn {
        Txn::CreateSession { timeout }
    }

    /// `closeSession` (asked for by the client or by expiry): lists the session's ephemerals as
    /// pending changes leave them and marks the session closing.
    pub fn prepare_close_session(
        &mut self,
        tree: &DataTree,
        sessions: &mut SessionTracker,
        session: SessionId,
        zxid: Zxid,
    ) -> Txn {
        let mut es: BTreeSet<String> = tree.ephemerals(session).into_iter().collect();
        for r in &self.outstanding {
            match r.stat {
                None => {
                    es.remove(&r.path);
                }
                Some(s) if s.ephemeral_owner == session.0 => {
                    es.insert(r.path.clone());
                }
                Some(_) => {}
            }
        }
        for p in &es {
            // Each delete moves its parent's pzxid (and child count) too.
            let node = self.get_record(tree, p);
            let parent = parent_path(p)
                .ok()
                .and_then(|pp| self.get_record(tree, parent_key(pp)).ok());
            match (node, parent) {
                (Ok(node), Some(parent)) => self.record_delete(tree, parent, node, zxid),
                (node, _) => {
                    let old = node.map_or(0, |n| n.digest);
                    self.add_record(tree, ChangeRecord::deleted(zxid, p.clone()), old);
                }
            }
        }
        sessions.set_closing(session);
        Txn::CloseSession {
            paths_to_delete: es.into_iter().collect(),
        }
    }

    /// `deleteContainer`, which the server itself asks for when a container or TTL node is due.
    pub fn prepare_delete_container(&mut self, tree: &DataTree, path: &str, zxid: Zxid) -> Txn {
        let r = (|| {
            let parent = parent_path(path)?;
            if is_special(path) {
                return Err(ErrorCode::BadArguments);
            }
            let node = self.get_record(tree, path)?;
            if node.child_count > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            let stat = node.stat.unwrap_or_default();
            if matches!(
                EphemeralType::of(stat.ephemeral_owner, self.config.extended_types),
                EphemeralType::Normal(_)
            ) {
                return Err(ErrorCode::BadVersion);
            }
            let parent_rec = self.get_record(tree, parent_key(parent))?;
            self.record_delete(tree, parent_rec, node, zxid);
            Ok(Txn::Delete {
                path: path.to_string(),
                container: true,
            })
        })();
        r.unwrap_or_else(|err| Txn::Error { err })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::TxnHeader;

    struct Fixture {
        tree: DataTree,
        sessions: SessionTracker,
        prep: Prep,
        zxid: u64,
        session: SessionId,
        auth: Vec<Id>,
        /// Prepared but not yet applied, with the digest predicted for the tree after each.
        pending: Vec<(TxnHeader, Txn, u64)>,
    }

    impl Fixture {
        fn new() -> Fixture {
            let mut sessions = SessionTracker::new(ServerId(1), 2000, 0);
            let session = sessions.create_session(30000, 0);
            Fixture {
                tree: DataTree::new(true),
                sessions,
                prep: Prep::new(PrepConfig {
                    skip_acl: false,
                    extended_types: true,
                    digest: true,
                    schemes: Default::default(),
                }),
                zxid: 0,
                session,
                auth: vec![Id::new("ip", "127.0.0.1")],
                pending: Vec::new(),
            }
        }
        /// Prepares without applying.
        fn prep(&mut self, req: Request) -> Txn {
            self.zxid += 1;
            let ctx = RequestCtx {
                session: self.session,
                cxid: 0,
                auth: &self.auth,
                owner: ServerId(1),
            };
            let z = Zxid(self.zxid);
            let t = self
                .prep
                .prepare(&self.tree, &mut self.sessions, &ctx, &req, z, 1000);
            let d = self.prep.txn_digest(&self.tree).expect("digests are on");
            self.pending.push((
                TxnHeader {
                    session: self.session,
                    cxid: 0,
                    zxid: z,
                    time: 1000,
                },
                t.clone(),
                d.tree_digest as u64,
            ));
            t
        }
        fn apply_all(&mut self) {
            for (h, t, d) in std::mem::take(&mut self.pending) {
                self.tree.apply(&h, &t, &mut Vec::new());
                self.prep.applied(h.zxid);
                // The digest the prepare step predicted is the tree's.
                assert_eq!(d, self.tree.digest(), "digest after {t:?}");
                assert_eq!(d, self.tree.compute_digest(), "digest after {t:?}");
            }
        }
        /// Prepares and applies.
        fn run(&mut self, req: Request) -> Txn {
            let t = self.prep(req);
            self.apply_all();
            t
        }
    }

    fn create(path: &str, flags: i32) -> Request {
        Request::Create {
            op: op::CREATE,
            req: CreateRequest {
                path: path.into(),
                data: Some(vec![]),
                acl: Acl::open_unsafe(),
                flags,
                ttl: -1,
            },
        }
    }

    fn err(t: &Txn) -> Option<ErrorCode> {
        match t {
            Txn::Error { err } => Some(*err),
            _ => None,
        }
    }

    #[test]
    fn sequence_numbers_follow_stored_cversion() {
        let mut f = Fixture::new();
        f.run(create("/p", 0));
        assert!(
            matches!(f.run(create("/p/a", 2)), Txn::Create { ref path, .. } if path == "/p/a0000000000")
        );
        f.run(create("/p/b", 0));
        f.run(Request::Delete {
            path: "/p/b".into(),
            version: -1,
        });
        // The reference server answers /p/c0000000002 here, though `stat /p` shows cversion 3.
        assert!(
            matches!(f.run(create("/p/c", 2)), Txn::Create { ref path, .. } if path == "/p/c0000000002")
        );
        assert_eq!(f.tree.stat("/p").unwrap().cversion, 4);
    }

    #[test]
    fn pending_changes_are_seen() {
        let mut f = Fixture::new();
        f.prep(create("/a", 0));
        assert_eq!(err(&f.prep(create("/a", 0))), Some(ErrorCode::NodeExists));
        assert!(
            err(&f.prep(create("/a/b", 0))).is_none(),
            "parent exists in pending changes"
        );
        assert!(
            matches!(f.prep(create("/a/s", 2)), Txn::Create { ref path, .. } if path == "/a/s0000000001")
        );
        assert_eq!(
            err(&f.prep(Request::Delete {
                path: "/a".into(),
                version: -1
            })),
            Some(ErrorCode::NotEmpty)
        );
        assert!(err(&f.prep(Request::SetData {
            path: "/a".into(),
            data: Some(vec![1]),
            version: 0
        }))
        .is_none());
        assert_eq!(
            err(&f.prep(Request::SetData {
                path: "/a".into(),
                data: Some(vec![1]),
                version: 0
            })),
            Some(ErrorCode::BadVersion)
        );
        f.apply_all();
        assert_eq!(f.prep.outstanding(), 0);
        assert_eq!(f.tree.stat("/a").unwrap().version, 1);
    }

    #[test]
    fn pending_set_acl_carries_the_new_acl() {
        let mut f = Fixture::new();
        f.run(create("/a", 0));
        // Take write permission away; before it is applied, a setData must already be refused.
        let t = f.prep(Request::SetAcl {
            path: "/a".into(),
            acl: Acl::read_unsafe(),
            version: -1,
        });
        assert!(err(&t).is_none());
        let t = f.prep(Request::SetData {
            path: "/a".into(),
            data: Some(vec![1]),
            version: -1,
        });
        assert_eq!(err(&t), Some(ErrorCode::NoAuth));
    }

    #[test]
    fn error_codes() {
        let mut f = Fixture::new();
        f.run(create("/a", 0));
        f.run(create("/e", 1));
        let cases: Vec<(Request, ErrorCode)> = vec![
            (create("/a", 0), ErrorCode::NodeExists),
            (create("/x/y", 0), ErrorCode::NoNode),
            (create("/e/c", 0), ErrorCode::NoChildrenForEphemerals),
            (create("a", 0), ErrorCode::BadArguments),
            (create("/a/", 0), ErrorCode::BadArguments),
            (create("/a", 9), ErrorCode::BadArguments),
            (create("/", 0), ErrorCode::NodeExists),
            (
                Request::Delete {
                    path: "/zookeeper".into(),
                    version: -1,
                },
                ErrorCode::BadArguments,
            ),
            (
                Request::Delete {
                    path: "/".into(),
                    version: -1,
                },
                ErrorCode::BadArguments,
            ),
            (
                Request::Delete {
                    path: "/nope".into(),
                    version: -1,
                },
                ErrorCode::NoNode,
            ),
            (
                Request::Delete {
                    path: "/a".into(),
                    version: 5,
                },
                ErrorCode::BadVersion,
            ),
            (
                Request::SetData {
                    path: "/a/".into(),
                    data: Some(vec![]),
                    version: -1,
                },
                ErrorCode::BadArguments,
            ),
            (
                Request::SetData {
                    path: "/zookeeper/config".into(),
                    data: Some(vec![]),
                    version: -1,
                },
                ErrorCode::NoAuth,
            ),
            (
                Request::SetAcl {
                    path: "/a".into(),
                    acl: vec![],
                    version: -1,
                },
                ErrorCode::InvalidAcl,
            ),
            (
                Request::SetAcl {
                    path: "/a".into(),
                    acl: Acl::creator_all(),
                    version: -1,
                },
                ErrorCode::InvalidAcl,
            ),
            (
                Request::SetAcl {
                    path: "/a".into(),
                    acl: Acl::open_unsafe(),
                    version: 3,
                },
                ErrorCode::BadVersion,
            ),
            (
                Request::Check {
                    path: "/a".into(),
                    version: 3,
                },
                ErrorCode::BadVersion,
            ),
        ];
        for (req, want) in cases {
            let t = f.run(req.clone());
            assert_eq!(err(&t), Some(want), "{req:?}");
        }
    }

    #[test]
    fn ttl_and_container_modes() {
        let mut f = Fixture::new();
        let ttl = |ttl| Request::Create {
            op: op::CREATE_TTL,
            req: CreateRequest {
                path: "/t".into(),
                data: Some(vec![]),
                acl: Acl::open_unsafe(),
                flags: 5,
                ttl,
            },
        };
        assert_eq!(err(&f.run(ttl(0))), Some(ErrorCode::BadArguments));
        assert!(matches!(f.run(ttl(100)), Txn::CreateTtl { ttl: 100, .. }));
        let container = Request::Create {
            op: op::CREATE_CONTAINER,
            req: CreateRequest {
                path: "/c".into(),
                data: Some(vec![]),
                acl: Acl::open_unsafe(),
                flags: 4,
                ttl: -1,
            },
        };
        assert!(matches!(f.run(container), Txn::CreateContainer { .. }));
        f.prep.config.extended_types = false;
        assert_eq!(err(&f.run(ttl(100))), Some(ErrorCode::Unimplemented));
        f.run(create("/c/x", 0));
        f.run(Request::Delete {
            path: "/c/x".into(),
            version: -1,
        });
        f.zxid += 1;
        let t = f.prep.prepare_delete_container(&f.tree, "/c", Zxid(f.zxid));
        assert!(matches!(
            t,
            Txn::Delete {
                container: true,
                ..
            }
        ));
    }

    #[test]
    fn failed_multi_rolls_back() {
        let mut f = Fixture::new();
        f.run(create("/p", 0));
        let multi = Request::Multi(vec![
            create("/p/s", 2),
            create("/q", 0),
            Request::Delete {
                path: "/nope".into(),
                version: -1,
            },
            create("/r", 0),
        ]);
        let t = f.prep(multi);
        match &t {
            Txn::Multi(subs) => assert_eq!(
                subs.iter().map(err).collect::<Vec<_>>(),
                // As ZooKeeper writes it: the ops before the failing one as prepared.
                vec![
                    None,
                    None,
                    Some(ErrorCode::NoNode),
                    Some(ErrorCode::RuntimeInconsistency)
                ]
            ),
            other => panic!("{other:?}"),
        }
        // Nothing of the failed multi is pending: the sequence number is reused.
        assert!(
            matches!(f.prep(create("/p/s", 2)), Txn::Create { ref path, .. } if path == "/p/s0000000000")
        );
        assert!(err(&f.prep(create("/q", 0))).is_none());
    }

    #[test]
    fn multi_sees_its_own_ops() {
        let mut f = Fixture::new();
        let t = f.run(Request::Multi(vec![
            create("/m", 0),
            create("/m/a", 0),
            Request::SetData {
                path: "/m".into(),
                data: Some(vec![1]),
                version: 0,
            },
            Request::Check {
                path: "/m".into(),
                version: 1,
            },
            Request::Delete {
                path: "/m/a".into(),
                version: -1,
            },
        ]));
        assert!(matches!(&t, Txn::Multi(s) if s.iter().all(|t| err(t).is_none())));
        assert_eq!(f.tree.stat("/m").unwrap().version, 1);
        assert!(f.tree.get("/m/a").is_none());
    }

    #[test]
    fn close_session_lists_pending_ephemerals() {
        let mut f = Fixture::new();
        f.run(create("/e1", 1));
        f.prep(create("/e2", 1));
        f.prep(Request::Delete {
            path: "/e1".into(),
            version: -1,
        });
        f.zxid += 1;
        let s = f.session;
        let t = f
            .prep
            .prepare_close_session(&f.tree, &mut f.sessions, s, Zxid(f.zxid));
        assert_eq!(
            t,
            Txn::CloseSession {
                paths_to_delete: vec!["/e2".into()]
            }
        );
        assert!(!f.sessions.is_live(s));
        assert_eq!(
            err(&f.prep(create("/x", 0))),
            Some(ErrorCode::SessionExpired)
        );
    }

    #[test]
    fn acl_checks() {
        let mut f = Fixture::new();
        let bob = crate::acl::authenticate("digest", b"bob:pw", None).unwrap();
        f.auth = bob.clone();
        let req = Request::Create {
            op: op::CREATE,
            req: CreateRequest {
                path: "/sec".into(),
                data: Some(vec![]),
                acl: Acl::creator_all(),
                flags: 0,
                ttl: -1,
            },
        };
        assert!(err(&f.run(req)).is_none());
        assert_eq!(f.tree.acl_of(f.tree.get("/sec").unwrap())[0].id, bob[0]);
        f.auth = vec![Id::new("ip", "127.0.0.1")];
        assert_eq!(err(&f.run(create("/sec/x", 0))), Some(ErrorCode::NoAuth));
        assert!(
            err(&f.run(Request::Delete {
                path: "/sec".into(),
                version: -1
            }))
            .is_none(),
            "delete checks the parent"
        );
        f.prep.config.skip_acl = true;
        f.run(create("/sec2", 0));
    }
}
