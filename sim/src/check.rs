//! Invariants, checked as the simulation runs (TigerBeetle's VOPR in spirit):
//!
//! * at most one leader is established per epoch;
//! * committed transactions are never lost or reordered: every server applies exactly the one
//!   global history, in order, without gaps;
//! * an established leader holds every committed transaction;
//! * a leader's proposals have strictly increasing zxids in its own epoch;
//! * each server's tree equals the replay of the history up to where it has applied
//!   ([`Checker::check_trees`], the expensive one);
//! * acknowledged writes are durable and linearizable: each is in the history as the client
//!   sent it, and a write acknowledged before another was sent comes first
//!   ([`Checker::check_clients`]);
//! * Apache ZooKeeper could start on every server's disk: no logged zxid is of an epoch its
//!   currentEpoch does not cover.

use super::client::{ClientEvent, ClientId};
use super::{Node, Status};
use std::collections::BTreeMap;
use std::sync::Arc;
use zk_core::peer::PeerEvent;
use zk_core::request::Request;
use zk_core::snapshot;
use zk_core::tree::DataTree;
use zk_core::txn::TxnEntry;
use zk_core::types::{Millis, ServerId, SessionId, Zxid};

/// An acknowledged write.
#[derive(Clone, Debug)]
pub struct AckedWrite {
    pub client: ClientId,
    pub session: SessionId,
    pub xid: i32,
    pub zxid: Zxid,
    pub sent_at: Millis,
    pub acked_at: Millis,
    pub request: Request,
}

#[derive(Clone, Debug)]
pub struct Checker {
    pub violations: Vec<String>,
    /// The one committed history, as servers apply it.
    pub history: BTreeMap<Zxid, Arc<TxnEntry>>,
    /// Where each server has applied to.
    applied: BTreeMap<ServerId, Zxid>,
    /// Established leader per epoch.
    pub leaders: BTreeMap<u32, ServerId>,
    proposed: BTreeMap<ServerId, Zxid>,
    pub acked: Vec<AckedWrite>,
    sessions: BTreeMap<ClientId, SessionId>,
    extended_types: bool,
}

impl Checker {
    pub fn new(extended_types: bool) -> Checker {
        Checker {
            violations: Vec::new(),
            history: BTreeMap::new(),
            applied: BTreeMap::new(),
            leaders: BTreeMap::new(),
            proposed: BTreeMap::new(),
            acked: Vec::new(),
            sessions: BTreeMap::new(),
            extended_types,
        }
    }

    fn violation(&mut self, v: String) {
        self.violations.push(v);
    }

    /// A server (re)started with its tree at `base`.
    pub fn restarted(&mut self, id: ServerId, base: Zxid) {
        if base.0 != 0 && !self.history.contains_key(&base) {
            self.violation(format!(
                "server {id} restarted at {base}, which is not in the committed history"
            ));
        }
        self.applied.insert(id, base);
        self.proposed.remove(&id);
    }

    pub fn killed(&mut self, id: ServerId) {
        self.proposed.remove(&id);
    }

    /// Checks one event of a server's.
    pub fn peer_event(
        &mut self,
        id: ServerId,
        e: &PeerEvent,
        nodes: &BTreeMap<ServerId, Node>,
        now: Millis,
    ) {
        let peer = nodes.get(&id).and_then(|n| n.peer.as_ref());
        match e {
            PeerEvent::Applied { entry } => {
                let z = entry.zxid();
                let prev = self.applied.get(&id).copied().unwrap_or(Zxid(0));
                if z <= prev {
                    self.violation(format!(
                        "server {id} applied {z} after {prev}: zxids must increase"
                    ));
                    return;
                }
                match self.history.get(&z) {
                    Some(h) if h != entry => self.violation(format!(
                        "server {id} applied a different transaction at {z} than the history holds"
                    )),
                    Some(_) => {
                        if let Some((skipped, _)) = self
                            .history
                            .range((
                                std::ops::Bound::Excluded(prev),
                                std::ops::Bound::Excluded(z),
                            ))
                            .next()
                        {
                            let skipped = *skipped;
                            self.violation(format!(
                                "server {id} applied {z} but skipped committed {skipped}"
                            ));
                        }
                    }
                    None => {
                        if let Some((&last, _)) = self.history.iter().next_back() {
                            if last > z {
                                self.violation(format!(
                                    "server {id} applied {z}, below the end of the history {last}, that no one applied before"
                                ));
                            } else if last > prev {
                                self.violation(format!(
                                    "server {id} applied {z} but skipped committed {last}"
                                ));
                            }
                        }
                        self.history.insert(z, entry.clone());
                    }
                }
                self.applied.insert(id, z);
            }
            PeerEvent::SnapshotInstalled { zxid } => {
                if zxid.0 != 0 && !self.history.contains_key(zxid) {
                    self.violation(format!("server {id} installed a snapshot at {zxid}, which is not in the committed history"));
                }
                self.applied.insert(id, *zxid);
            }
            PeerEvent::Established { epoch } => {
                match self.leaders.get(epoch) {
                    Some(other) if *other != id => {
                        let other = *other;
                        self.violation(format!(
                            "two leaders established in epoch {epoch}: {other} and {id}"
                        ));
                    }
                    _ => {
                        self.leaders.insert(*epoch, id);
                    }
                }
                if let (Some(p), Some((&last, _))) = (peer, self.history.iter().next_back()) {
                    let has = p.server.tree.last_processed_zxid();
                    if has < last {
                        self.violation(format!(
                            "leader {id} established epoch {epoch} with history to {has}, missing committed {last}"
                        ));
                    }
                }
            }
            PeerEvent::Proposed { zxid, .. } => {
                let prev = self.proposed.get(&id).copied().unwrap_or(Zxid(0));
                if *zxid <= prev && zxid.epoch() == prev.epoch() {
                    self.violation(format!("leader {id} proposed {zxid} after {prev}"));
                }
                self.proposed.insert(id, *zxid);
            }
            _ => {}
        }
        let _ = now;
    }

    /// A client event: record acknowledged writes.
    pub fn client_event(&mut self, client: ClientId, e: &ClientEvent, now: Millis) {
        match e {
            ClientEvent::Connected { session, .. } => {
                self.sessions.insert(client, *session);
            }
            ClientEvent::Reply {
                request,
                reply,
                sent_at,
                ..
            } => {
                let write = matches!(
                    request,
                    Request::Create { .. }
                        | Request::Delete { .. }
                        | Request::SetData { .. }
                        | Request::Multi(_)
                );
                if write && reply.err.is_ok() {
                    let session = self.sessions.get(&client).copied().unwrap_or_default();
                    self.acked.push(AckedWrite {
                        client,
                        session,
                        xid: reply.xid,
                        zxid: reply.zxid,
                        sent_at: *sent_at,
                        acked_at: now,
                        request: request.clone(),
                    });
                }
            }
            _ => {}
        }
    }

    /// Cheap checks after every step (most are made as events arrive).
    pub fn check_step(&mut self, nodes: &BTreeMap<ServerId, Node>) -> Result<(), String> {
        // Apache ZooKeeper could start on every disk: no logged zxid is of an epoch its
        // currentEpoch does not cover (ZooKeeper refuses "the current epoch is older than the
        // last zxid"). (A snapshot installed from a leader may be, until the epoch that
        // follows it is recorded, as with ZooKeeper's own learners.)
        for n in nodes.values() {
            if let Some(e) = n.disk.log.last() {
                if e.zxid().epoch() > n.disk.current_epoch {
                    return Err(format!(
                        "server {}'s disk logs {} with currentEpoch {}: Apache ZooKeeper would \
                         refuse to start on it",
                        n.id,
                        e.zxid(),
                        n.disk.current_epoch
                    ));
                }
            }
        }
        // A server serves only a consistent tree: never one from a fuzzy snapshot that has not
        // replayed far enough.
        for n in nodes.values() {
            if n.status == Status::Down {
                continue;
            }
            if let Some(p) = &n.peer {
                let t = &p.server.tree;
                if p.is_serving() && !t.is_consistent() {
                    return Err(format!(
                        "server {} serves a tree at {} that holds changes up to {}",
                        n.id,
                        t.last_processed_zxid(),
                        t.fuzzy_until()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Every running server's tree equals the replay of the history up to where it applied.
    pub fn check_trees(&self, nodes: &BTreeMap<ServerId, Node>) -> Result<(), String> {
        let mut targets: Vec<(Zxid, ServerId, Vec<u8>)> = Vec::new();
        for n in nodes.values() {
            if n.status == Status::Down {
                continue;
            }
            if let Some(p) = &n.peer {
                let z = p.server.tree.last_processed_zxid();
                targets.push((z, n.id, snapshot::serialize(&p.server.tree)));
            }
        }
        targets.sort();
        let mut tree = DataTree::new(self.extended_types);
        let mut it = self.history.values().peekable();
        for (z, id, bytes) in targets {
            while let Some(e) = it.peek() {
                if e.zxid() > z {
                    break;
                }
                tree.apply(&e.hdr, &e.txn, &mut Vec::new());
                it.next();
            }
            if tree.last_processed_zxid() != z && z.0 != 0 {
                return Err(format!(
                    "server {id} is at {z}, which the history does not reach"
                ));
            }
            if snapshot::serialize(&tree) != bytes {
                return Err(format!(
                    "server {id}'s tree at {z} differs from the replay of the committed history"
                ));
            }
        }
        Ok(())
    }

    /// Acknowledged writes are in the history as sent, and in real-time order.
    pub fn check_clients(&self) -> Result<(), String> {
        let mut writes: Vec<(AckedWrite, Millis)> = Vec::new();
        for w in &self.acked {
            let Some(e) = self.history.get(&w.zxid) else {
                return Err(format!(
                    "client {:?}'s write xid {} acknowledged at {} is not in the committed history",
                    w.client, w.xid, w.zxid
                ));
            };
            if e.hdr.session != w.session || e.hdr.cxid != w.xid {
                return Err(format!(
                    "the history at {} holds session {} cxid {}, not client {:?}'s write (session {} xid {})",
                    w.zxid, e.hdr.session, e.hdr.cxid, w.client, w.session, w.xid
                ));
            }
            writes.push((w.clone(), w.acked_at));
        }
        // Real-time order: acknowledged before the other was sent ⇒ ordered before it.
        let mut by_ack: Vec<&(AckedWrite, Millis)> = writes.iter().collect();
        by_ack.sort_by_key(|(w, at)| (*at, w.zxid));
        let mut by_sent: Vec<&(AckedWrite, Millis)> = writes.iter().collect();
        by_sent.sort_by_key(|(w, _)| w.sent_at);
        // For each write B, every write acked strictly before B was sent must have a smaller zxid.
        let mut max_zxid_acked_before = Zxid(0);
        let mut i = 0;
        for (b, _) in by_sent {
            while i < by_ack.len() && by_ack[i].1 < b.sent_at {
                max_zxid_acked_before = max_zxid_acked_before.max(by_ack[i].0.zxid);
                i += 1;
            }
            if b.zxid <= max_zxid_acked_before && max_zxid_acked_before.0 != 0 {
                return Err(format!(
                    "write {} of client {:?} was sent after a write at {} was acknowledged, yet is ordered before it",
                    b.zxid, b.client, max_zxid_acked_before
                ));
            }
        }
        Ok(())
    }
}
