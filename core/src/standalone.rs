//! A standalone server (ZooKeeper's `ZooKeeperServer` with its
//! Prep → Sync → Final processor chain), as a sans-IO state machine.
//!
//! The drive loop:
//!
//! ```text
//!   accept / connect / request / disconnected   ──▶ Standalone ──▶ poll_output():
//!   persisted(zxid)   (the log is durable to zxid)                   Persist(Append(txn)) → disk
//!   tick(now)         (at next_deadline())                           Client(...)          → sockets
//! ```
//!
//! A write is prepared into a transaction with the next zxid (epoch 0 in standalone mode, as in
//! ZooKeeper: 0x1, 0x2, ...), handed to the driver to append to the log, and applied and
//! answered only when the driver reports it durable. The driver may collect many appends under
//! one fsync (group commit) and report them together.

use crate::error::ErrorCode;
use crate::output::{Output, PersistOp};
use crate::prep::{Prep, PrepConfig, RequestCtx};
use crate::request::{ConnectRequest, Request};
use crate::server::{ConnectAction, RequestAction, Server, ServerConfig};
use crate::session::SessionTracker;
use crate::tree::DataTree;
use crate::txn::{Txn, TxnEntry, TxnHeader};
use crate::types::{ConnId, Millis, ServerId, SessionId, Zxid};
use std::collections::{BTreeMap, VecDeque};

/// A standalone ZooKeeper server.
#[derive(Clone, Debug)]
pub struct Standalone {
    pub id: ServerId,
    pub server: Server,
    pub sessions: SessionTracker,
    prep: Prep,
    /// The last zxid handed out.
    last_zxid: Zxid,
    /// Appended to the log but not yet reported durable, in zxid order.
    unpersisted: VecDeque<TxnEntry>,
    /// Sessions whose createSession is on its way to disk, with the connection waiting for it.
    creating: BTreeMap<SessionId, ConnId>,
    next_container_check: Millis,
    out: VecDeque<Output>,
}

impl Standalone {
    /// A server over `tree` (fresh, or restored from a snapshot and log). Sessions found in the
    /// tree are tracked again with their full timeout from `now`, as ZooKeeper does on restart.
    pub fn new(id: ServerId, config: ServerConfig, tree: DataTree, now: Millis) -> Standalone {
        let mut sessions = SessionTracker::new(id, config.tick_time, config.wall(now));
        for (s, timeout) in tree.sessions() {
            sessions.track(*s, *timeout, now);
        }
        let prep = Prep::new(PrepConfig {
            skip_acl: config.skip_acl,
            extended_types: config.extended_types,
        });
        let last_zxid = tree.last_processed_zxid();
        let next_container_check = now + config.container_check_interval;
        Standalone {
            id,
            server: Server::new(config, tree),
            sessions,
            prep,
            last_zxid,
            unpersisted: VecDeque::new(),
            creating: BTreeMap::new(),
            next_container_check,
            out: VecDeque::new(),
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Everything queued for the driver, at once.
    pub fn drain_outputs(&mut self) -> std::collections::vec_deque::Drain<'_, Output> {
        self.out.drain(..)
    }

    /// When `tick` must next be called.
    pub fn next_deadline(&self) -> Option<Millis> {
        let s = self.sessions.next_deadline();
        Some(s.map_or(self.next_container_check, |s| {
            s.min(self.next_container_check)
        }))
    }

    /// The last zxid handed out (it may not be durable yet).
    pub fn last_zxid(&self) -> Zxid {
        self.last_zxid
    }

    pub fn accept(&mut self, conn: ConnId, addr: &str, now: Millis) -> bool {
        self.server.accept(&mut self.out, conn, addr, now)
    }

    pub fn disconnected(&mut self, conn: ConnId) {
        self.server.disconnected(conn);
    }

    pub fn connect(&mut self, conn: ConnId, req: &ConnectRequest, now: Millis) {
        match self.server.connect(&mut self.out, conn, req) {
            ConnectAction::Done => {}
            ConnectAction::CreateSession { timeout } => {
                let session = self.sessions.create_session(timeout, now);
                let _ = self.sessions.set_owner(session, self.id);
                self.creating.insert(session, conn);
                let txn = self.prep.prepare_create_session(timeout);
                self.log(session, 0, txn, now);
            }
            ConnectAction::Revalidate { session, timeout } => {
                if self.sessions.touch(session, timeout, now) {
                    let _ = self.sessions.set_owner(session, self.id);
                    self.server
                        .session_established(&mut self.out, conn, session);
                } else {
                    self.server.session_invalid(&mut self.out, conn);
                }
            }
        }
    }

    pub fn request(&mut self, conn: ConnId, xid: i32, req: Request, now: Millis) {
        if let Some(session) = self.server.session_of(conn) {
            // Every packet renews the session (`ZooKeeperServer.touch`).
            if !self.sessions.touch_existing(session, now) {
                self.server
                    .close_session_conn(&mut self.out, session, "session expired");
                return;
            }
        }
        match self.server.request(&mut self.out, conn, xid, req, now) {
            RequestAction::None | RequestAction::Close => {}
            RequestAction::Sync { .. } => self.server.sync_done(&mut self.out, conn, xid, now),
            RequestAction::Write { session, cxid, req } => {
                let zxid = self.last_zxid.next();
                let time = self.server.config.wall(now);
                let txn = if req == Request::CloseSession {
                    self.prep.prepare_close_session(
                        &self.server.tree,
                        &mut self.sessions,
                        session,
                        zxid,
                    )
                } else {
                    let auth = self
                        .server
                        .conn(conn)
                        .map(|c| c.auth.clone())
                        .unwrap_or_default();
                    let ctx = RequestCtx {
                        session,
                        cxid,
                        auth: &auth,
                        owner: self.id,
                    };
                    self.prep.prepare(
                        &self.server.tree,
                        &mut self.sessions,
                        &ctx,
                        &req,
                        zxid,
                        time,
                    )
                };
                self.log(session, cxid, txn, now);
            }
        }
    }

    /// Stamps a transaction with the next zxid and the time, and sends it to the log.
    fn log(&mut self, session: SessionId, cxid: i32, txn: Txn, now: Millis) {
        let zxid = self.last_zxid.next();
        self.last_zxid = zxid;
        let hdr = TxnHeader {
            session,
            cxid,
            zxid,
            time: self.server.config.wall(now),
        };
        let entry = TxnEntry { hdr, txn };
        self.out
            .push_back(Output::Persist(PersistOp::Append(entry.clone())));
        self.unpersisted.push_back(entry);
    }

    /// The log is durable up to `zxid`: apply and answer everything up to it.
    pub fn persisted(&mut self, zxid: Zxid, now: Millis) {
        while self.unpersisted.front().is_some_and(|e| e.zxid() <= zxid) {
            let Some(entry) = self.unpersisted.pop_front() else {
                break;
            };
            self.server.commit(&mut self.out, &entry, now);
            self.prep.applied(entry.zxid());
            let session = entry.hdr.session;
            match &entry.txn {
                Txn::CreateSession { .. } => {
                    if let Some(conn) = self.creating.remove(&session) {
                        self.server
                            .session_established(&mut self.out, conn, session);
                    }
                }
                Txn::CloseSession { .. } => {
                    self.sessions.remove(session);
                    self.server
                        .close_session_conn(&mut self.out, session, "session closed");
                }
                _ => {}
            }
        }
    }

    /// Expires sessions whose time is up and reaps containers and TTL nodes that are due.
    pub fn tick(&mut self, now: Millis) {
        for session in self.sessions.expire(now) {
            let zxid = self.last_zxid.next();
            let txn = self.prep.prepare_close_session(
                &self.server.tree,
                &mut self.sessions,
                session,
                zxid,
            );
            self.log(session, 0, txn, now);
        }
        if now >= self.next_container_check {
            let cfg = &self.server.config;
            self.next_container_check = now + cfg.container_check_interval.max(1);
            let budget = ((cfg.container_max_per_minute as u64
                * cfg.container_check_interval.max(1))
                / 60_000)
                .max(1);
            let candidates = self
                .server
                .tree
                .container_candidates(cfg.wall(now), cfg.container_max_never_used);
            for path in candidates.into_iter().take(budget as usize) {
                let zxid = self.last_zxid.next();
                let txn = self
                    .prep
                    .prepare_delete_container(&self.server.tree, &path, zxid);
                if matches!(
                    txn,
                    Txn::Error {
                        err: ErrorCode::NoNode
                    }
                ) {
                    continue;
                }
                self.log(SessionId(0), 0, txn, now);
            }
        }
    }
}
