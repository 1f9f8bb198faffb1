//! What a server does when its disk fails it.
//!
//! * A failed write or fsync ([`PersistFailure::Failed`]): the server stops
//!   ([`Output::Halt`]). After a failed fsync nobody knows what the files hold — Linux may
//!   have dropped the pages it could not write and report the next fsync as a success — so
//!   nothing more may be acknowledged; a restart recovers from what the files do hold.
//! * No room ([`PersistFailure::NoSpace`]): the driver has undone what the failed ops began to
//!   write, so the files are whole and hold exactly what was reported durable. The server drops
//!   what it had not yet made durable (nothing of it was acknowledged or applied) and refuses
//!   writes until a [`PersistOp::Probe`], once a second, finds room:
//!   - standalone, it serves reads to the sessions it has, answers writes with NotReadOnly (the
//!     code ZooKeeper's clients know for "this server takes only reads now"), accepts read-only
//!     clients and reconnecting sessions, and expires nobody (expiring is a write);
//!   - in an ensemble, a server that cannot log can neither follow nor lead: it leaves the
//!     quorum (its clients move to other servers, or stay read-only with
//!     `readonlymode.enabled`) and takes no part in elections — a server that cannot write its
//!     epoch must not be elected — until the disk has room, when it looks for the leader again.
//!
//! Apache ZooKeeper 3.8 stops on any disk error, a full disk included.

use super::{
    DiskFull, Durable, HaltReason, Notice, Output, Peer, PeerEvent, PersistFailure, PersistOp,
    StateReason, DISK_PROBE_MS,
};
use crate::error::ErrorCode;
use crate::types::Millis;

impl Peer {
    /// The disk could not carry out the op numbered `seq` (every op before it was reported
    /// done with [`Peer::persisted`]); the driver carries out none of the ops after it that it
    /// already has, and resumes with the next [`PersistOp::Probe`].
    pub fn persist_failed(&mut self, seq: u64, failure: PersistFailure, now: Millis) {
        self.now = now;
        if self.halted.is_some() || seq <= self.persisted_seq {
            return;
        }
        if let Some(f) = self.disk_full.as_mut() {
            if f.probing == Some(seq) && failure == PersistFailure::NoSpace {
                // Still full.
                f.probing = None;
                f.next_probe = now + DISK_PROBE_MS;
                self.markers.retain(|(s, _)| *s != seq);
                return;
            }
        }
        let failed: Vec<Durable> = {
            let keep = self.markers.iter().take_while(|(s, _)| *s < seq).count();
            self.markers
                .split_off(keep)
                .into_iter()
                .map(|(_, d)| d)
                .collect()
        };
        if failure == PersistFailure::Failed {
            self.halt(HaltReason::DiskFailed);
            return;
        }
        // A TRUNC or a SNAP changes memory before the disk: undone on disk, it cannot be undone
        // in memory.
        let replacing = failed.iter().any(|d| {
            matches!(
                d,
                Durable::Truncated(_) | Durable::Snapshot(_) | Durable::SnapPiece(..)
            )
        });
        if replacing || self.server.tree.last_processed_zxid() > self.durable {
            self.halt(HaltReason::DiskFullMidSync);
            return;
        }
        self.enter_disk_full();
        self.drain_self();
    }

    pub(super) fn halt(&mut self, why: HaltReason) {
        self.halted = Some(why);
        self.event(PeerEvent::Notice(Notice::Halted { why }));
        self.out.push_back(Output::Halt { why });
    }

    /// Drops what is not durable and stops taking writes.
    fn enter_disk_full(&mut self) {
        self.disk_full = Some(DiskFull {
            next_probe: self.now + DISK_PROBE_MS,
            probing: None,
        });
        self.event(PeerEvent::Notice(Notice::DiskFull));
        let durable = self.durable;
        let dropped: Vec<_> = self
            .tail
            .iter()
            .filter(|e| e.zxid() > durable)
            .cloned()
            .collect();
        self.drop_tail_after(durable);
        if !self.cfg.standalone {
            self.enter_looking(StateReason::DiskFull);
            return;
        }
        // Standalone: answer the writes that were in flight — none of them was applied — and
        // refuse the sessions that were being created.
        let now = self.now;
        for e in &dropped {
            let session = e.hdr.session;
            if let Some(conn) = self.creating.remove(&session) {
                self.server.refuse(
                    &mut self.scratch,
                    conn,
                    "the disk is full: no new sessions until it has room",
                );
            } else if let Some(conn) = self.server.conn_of_session(session) {
                self.server.fail_write(
                    &mut self.scratch,
                    conn,
                    e.hdr.cxid,
                    ErrorCode::NotReadOnly,
                    now,
                );
            }
        }
        // A fresh leader state: nothing proposed beyond what is logged, sessions renewed from
        // the tree; syncs already asked for are kept.
        let syncs = self
            .role
            .leader_mut()
            .map(|l| std::mem::take(&mut l.pending_syncs))
            .unwrap_or_default();
        self.become_standalone();
        let last = self.last_logged;
        if let Some(l) = self.role.leader_mut() {
            l.pending_syncs = syncs
                .into_iter()
                .map(|mut s| {
                    s.zxid = s.zxid.min(last);
                    s
                })
                .collect();
        }
        self.server.read_only = true;
        self.check_syncs();
    }

    /// Asks the disk whether it has room again, when it is time to.
    pub(super) fn probe_disk(&mut self) {
        let now = self.now;
        let due = self
            .disk_full
            .is_some_and(|f| f.probing.is_none() && f.next_probe <= now);
        if due {
            let seq = self.persist(PersistOp::Probe, Durable::Probe);
            if let Some(f) = self.disk_full.as_mut() {
                f.probing = Some(seq);
            }
        }
    }

    /// A probe found room: take writes again.
    pub(super) fn disk_space_back(&mut self) {
        if self.disk_full.take().is_none() {
            return;
        }
        self.event(PeerEvent::Notice(Notice::DiskSpaceBack));
        if !self.cfg.standalone {
            // Still looking, out of elections until now: join them.
            self.stop_read_only();
            self.looking_since = self.now;
            self.start_election();
            return;
        }
        // Read-only clients that came while the disk was full held local sessions: they go,
        // as they do when a read-only server rejoins a quorum. The others stay connected.
        self.server.read_only = false;
        for s in std::mem::take(&mut self.ro_sessions) {
            self.server
                .close_session_conn(&mut self.scratch, s, "the disk has room again");
        }
    }
}
