//! Known bugs of Apache ZooKeeper as regression scenarios: each drives, step by step, the
//! interleaving of crashes, partitions and slow disks that broke ZooKeeper, and checks that
//! here the committed transaction survives and every invariant holds (`zk_sim::check`, named as
//! ZooKeeper's TLA+ specifications name them; the model-checking work on those specifications
//! found most of these bugs).
//!
//! Each scenario runs over several seeds (the latencies differ; the interleaving is forced).
//! Servers are 1, 2, 3; FastLeaderElection breaks ties by the larger id, so 3 leads first.

mod sim_helpers;

use sim_helpers::{create, sid};
use zk_core::peer::messages::{PeerMsg, QuorumPacket, ServerState};
use zk_core::peer::{PeerEvent, PersistOp, StateReason};
use zk_core::request::Reply;
use zk_core::{ServerId, Zxid};
use zk_sim::client::{ClientEvent, ClientId};
use zk_sim::{Latency, Sim, SimConfig, TraceEvent};

const SEEDS: std::ops::Range<u64> = 0..8;
const FAST: Latency = Latency { min: 1, max: 3 };
/// A disk slow enough that a server's writes are still in flight when the next step strikes.
const SLOW: Latency = Latency { min: 60, max: 80 };

/// Three servers, 3 leading and everyone serving, a client on 3, and a first write done.
fn ensemble(seed: u64) -> (Sim, ClientId) {
    let mut cfg = SimConfig::new(3, 0, seed);
    cfg.network = FAST;
    cfg.disk = FAST;
    let mut sim = Sim::new(cfg);
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(
        all_serving(&mut sim, &[1, 2, 3]),
        "seed {seed}: an ensemble"
    );
    assert_eq!(sim.leader(), Some(sid(3)));
    let c = sim.add_client(vec![sid(3)], 30_000);
    let r = write(&mut sim, c, "/before");
    assert!(
        r.is_some_and(|r| r.err.is_ok()),
        "seed {seed}: a first write"
    );
    (sim, c)
}

fn all_serving(sim: &mut Sim, ids: &[u64]) -> bool {
    sim.run_until_pred(30_000, |s| {
        s.leader()
            .is_some_and(|l| s.peer(l).is_some_and(|p| p.is_established_leader()))
            && ids
                .iter()
                .all(|&i| s.peer(sid(i)).is_some_and(|p| p.is_serving()))
    })
}

/// Sends a create and runs until its reply (None: no reply within 5 s).
fn write(sim: &mut Sim, c: ClientId, path: &str) -> Option<Reply> {
    let xid = sim.client_request(c, create(path, b"v"));
    sim.run_until_pred(5_000, |s| reply(s, c, xid).is_some());
    reply(sim, c, xid)
}

fn reply(sim: &Sim, c: ClientId, xid: i32) -> Option<Reply> {
    sim.client(c)?.events.iter().find_map(|e| match e {
        ClientEvent::Reply { reply, .. } if reply.xid == xid => Some(reply.clone()),
        _ => None,
    })
}

/// The zxid of the last transaction on a server's disk.
fn on_disk(sim: &Sim, id: u64) -> Zxid {
    let d = &sim.nodes[&sid(id)].disk;
    let snap = d.snapshot.as_ref().map(|(z, _)| *z).unwrap_or(Zxid(0));
    d.log.last().map(|e| e.zxid()).unwrap_or(Zxid(0)).max(snap)
}

/// Whether the server currently leading holds `path`, and every running server agrees.
fn survives(sim: &mut Sim, path: &str) -> bool {
    let leader = sim.leader().expect("a leader");
    sim.peer(leader).unwrap().server().tree.get(path).is_some()
}

/// The end of each scenario: `ids` come back (on fast disks), a leader serves them, every
/// invariant held throughout, and `path` — committed before the faults — is still there.
fn back_with(sim: &mut Sim, seed: u64, ids: &[u64], path: &str) {
    sim.cfg.disk = FAST;
    for &i in ids {
        sim.start(sid(i));
    }
    assert!(all_serving(sim, ids), "seed {seed}: {ids:?} serve");
    clean(sim, seed);
    assert!(survives(sim, path), "seed {seed}: {path} survives");
}

fn clean(sim: &mut Sim, seed: u64) {
    assert!(
        sim.violations().is_empty(),
        "seed {seed}: {:?}",
        sim.violations()
    );
    sim.check_trees().unwrap();
    sim.checker.check_clients().unwrap();
}

/// ZOOKEEPER-2845 (fixed in 3.4.12 and 3.5.4; the TLA+ test specification's trace `trace_1_87`):
/// a server that went back to LOOKING without restarting voted with the zxid of its data tree
/// — what it had *applied* — not with the last zxid of its log. Follower 1 logged and
/// acknowledged a transaction, which the leader committed; the COMMIT never reached 1; the
/// leader and follower 2 died. When 2 came back, 1 and 2 voted with the same zxid, 2 won on
/// its larger id, and the committed transaction was lost (LeaderLogCompleteness), or stayed
/// only on 1's disk, to come back after a restart (ProcessConsistency).
///
/// Here a server votes with its last logged zxid (`Peer::me`), so 1 wins and keeps it.
#[test]
fn zk_2845_a_looking_server_votes_with_its_log_not_its_tree() {
    for seed in SEEDS {
        let (mut sim, c) = ensemble(seed);
        sim.kill(sid(2));
        let before = sim.peer(sid(3)).unwrap().last_committed();
        let xid = sim.client_request(c, create("/committed", b"v"));
        // The leader commits it with 1's ACK: hold back the COMMIT to 1.
        assert!(sim.run_until_pred(5_000, |s| s
            .peer(sid(3))
            .is_some_and(|p| p.last_committed() > before)));
        sim.cut(sid(3), sid(1));
        let p = sim.peer(sid(3)).unwrap().last_committed();
        let f = sim.peer(sid(1)).unwrap();
        assert_eq!(f.last_logged(), p, "seed {seed}: 1 logged it");
        assert!(
            f.server().tree.last_processed_zxid() < p,
            "seed {seed}: 1 has not applied it"
        );
        sim.run_until_pred(1_000, |s| reply(s, c, xid).is_some());
        sim.kill(sid(3));
        sim.heal();
        assert!(sim.run_until_pred(5_000, |s| s.state(sid(1)) == Some(ServerState::Looking)));
        sim.start(sid(2));
        assert!(all_serving(&mut sim, &[1, 2]), "seed {seed}: 1 and 2 serve");
        clean(&mut sim, seed);
        assert_eq!(
            sim.leader(),
            Some(sid(1)),
            "seed {seed}: 1 has the longer log"
        );
        assert!(survives(&mut sim, "/committed"), "seed {seed}");
    }
}

/// ZOOKEEPER-3911 (fixed in 3.6.3 and 3.7.0; trace `trace_1_444`): in a DIFF sync the follower
/// kept the leader's proposals in memory and logged them only at UPTODATE, but acknowledged
/// NEWLEADER — and wrote its new currentEpoch — before. Leader 3 held a transaction nobody else
/// had; 1 was down; 2 synced with 3 and acknowledged NEWLEADER; 3, with a quorum, committed its
/// whole history; 2 died before UPTODATE, then 3 died. 2, with the newer currentEpoch, beat 1
/// and led without the committed transaction (LeaderLogCompleteness, MonotonicRead).
///
/// Here a learner logs the sync stream as it comes and acknowledges NEWLEADER only once that
/// history and then the new currentEpoch are on its disk.
#[test]
fn zk_3911_newleader_is_acknowledged_after_the_synced_history_is_logged() {
    for seed in SEEDS {
        let (mut sim, c) = ensemble(seed);
        sim.kill(sid(1));
        sim.cut(sid(3), sid(2));
        let p = only_on_leader(&mut sim, c, "/only-on-3", seed);
        sim.kill(sid(2));
        sim.heal();
        assert!(sim.run_until_pred(10_000, |s| s.state(sid(3)) == Some(ServerState::Looking)));
        sim.cfg.disk = SLOW;
        sim.start(sid(2));
        assert!(
            sim.run_until_pred(10_000, |s| s
                .peer(sid(3))
                .is_some_and(|p| p.is_established_leader())),
            "seed {seed}: 3 leads again with 2"
        );
        // 3 committed its history with 2's ACK of NEWLEADER: 2 dies at once, then 3.
        sim.kill(sid(2));
        sim.kill(sid(3));
        back_with(&mut sim, seed, &[1, 2], "/only-on-3");
        assert!(on_disk(&sim, 2) >= p, "seed {seed}");
    }
}

/// A write that only the leader logs (the followers' side of the quorum connection is cut):
/// returns its zxid once it is on the leader's disk.
fn only_on_leader(sim: &mut Sim, c: ClientId, path: &str, seed: u64) -> Zxid {
    let before = sim.peer(sid(3)).unwrap().last_logged();
    sim.client_request(c, create(path, b"v"));
    assert!(
        sim.run_until_pred(5_000, |s| on_disk(s, 3) > before),
        "seed {seed}: 3 logs it"
    );
    on_disk(sim, 3)
}

/// ZOOKEEPER-4646 (open in 3.8.0; fixed by ZOOKEEPER-4785 in 3.8.5; trace `trace_1_683`): the fix
/// of 3911 only *queued* the sync stream's proposals to the follower's log thread and
/// acknowledged NEWLEADER at once. Leader 3 held a transaction the followers lacked; both synced
/// and acknowledged NEWLEADER; 3 committed its history and served it; both followers died before
/// their logs reached disk; 3 died; 1 and 2 led on without the committed transaction.
///
/// Here the ACK of NEWLEADER waits for the disk.
#[test]
fn zk_4646_newleader_is_acknowledged_after_the_history_is_durable() {
    for seed in SEEDS {
        let (mut sim, c) = ensemble(seed);
        sim.cut(sid(3), sid(1));
        sim.cut(sid(3), sid(2));
        let p = only_on_leader(&mut sim, c, "/only-on-3", seed);
        sim.kill(sid(1));
        sim.kill(sid(2));
        sim.heal();
        assert!(sim.run_until_pred(10_000, |s| s.state(sid(3)) == Some(ServerState::Looking)));
        sim.cfg.disk = SLOW;
        sim.start(sid(1));
        sim.start(sid(2));
        assert!(
            sim.run_until_pred(10_000, |s| s
                .peer(sid(3))
                .is_some_and(|p| p.is_established_leader())),
            "seed {seed}: 3 leads again"
        );
        // 3 serves its history as committed now: the followers die at once, then 3.
        sim.kill(sid(1));
        sim.kill(sid(2));
        sim.kill(sid(3));
        assert!(
            on_disk(&sim, 1) >= p || on_disk(&sim, 2) >= p,
            "seed {seed}: a follower that acknowledged NEWLEADER has it on disk"
        );
        back_with(&mut sim, seed, &[1, 2], "/only-on-3");
    }
}

/// ZOOKEEPER-4643 (open in 3.8.0; fixed by ZOOKEEPER-4785 in 3.8.5; trace `trace_1_951`): on
/// NEWLEADER the follower wrote its new currentEpoch first and logged the synced proposals
/// after. 1 was down while 2 and 3 committed a transaction; 1 came back and 3 restarted, 2
/// went down; 3 led 1, and 1 crashed right after writing currentEpoch 2, before the transaction
/// reached its disk. With currentEpoch 2 against 2's 1, 1 then won the election and TRUNCed the
/// committed transaction off 2 (CommittedLogDurability, then MonotonicRead).
///
/// Here the new currentEpoch goes to the disk after the history it vouches for, so whenever it
/// is there, so is the transaction.
#[test]
fn zk_4643_current_epoch_is_written_after_the_history() {
    for seed in SEEDS {
        let (mut sim, c) = ensemble(seed);
        sim.kill(sid(1));
        let r = write(&mut sim, c, "/committed");
        assert!(
            r.is_some_and(|r| r.err.is_ok()),
            "seed {seed}: 2 and 3 commit"
        );
        let p = sim.peer(sid(3)).unwrap().last_committed();
        sim.kill(sid(2));
        sim.kill(sid(3));
        sim.cfg.disk = SLOW;
        sim.start(sid(1));
        sim.start(sid(3));
        // 1 dies in the middle of writing what NEWLEADER asks, right after its new currentEpoch
        // is written (and before anything queued after it).
        let epoch = sim.nodes[&sid(1)].disk.current_epoch;
        let new_epoch = |op: &PersistOp| matches!(op, PersistOp::CurrentEpoch(e) if *e > epoch);
        assert!(
            sim.run_until_pred(10_000, |s| s.nodes[&sid(1)].disk.queued().any(new_epoch)),
            "seed {seed}: 3 leads 1 into a new epoch"
        );
        assert!(sim.kill_after_write(sid(1), new_epoch));
        assert!(on_disk(&sim, 1) >= p, "seed {seed}: the history came first");
        sim.kill(sid(3));
        back_with(&mut sim, seed, &[1, 2], "/committed");
        assert_eq!(
            sim.leader(),
            Some(sid(1)),
            "seed {seed}: the newer currentEpoch wins"
        );
        assert!(on_disk(&sim, 2) >= p, "seed {seed}: 2 was not truncated");
    }
}

/// ZOOKEEPER-4643 across epochs (found here by DST with a crash in the middle of a group
/// commit): server 1 was away for a whole epoch, so the DIFF that brings it back carries
/// transactions of an epoch it never recorded. Logging them only after the new currentEpoch —
/// as ZooKeeper 3.8.0 logs its whole sync stream, and as this project once did for such
/// transactions, to keep the log from outrunning the currentEpoch file — leaves the same window:
/// a crash right after the new currentEpoch is written makes 1 the winner of the next election
/// without the committed transactions, and it TRUNCs them off the others.
///
/// Here each such epoch is recorded just before its first transaction, and the new epoch after
/// all of them.
#[test]
fn zk_4643_across_epochs_the_history_of_a_missed_epoch_comes_before_the_new_epoch() {
    for seed in SEEDS {
        let (mut sim, _) = ensemble(seed);
        // 1 misses epoch 2 entirely.
        sim.kill(sid(1));
        sim.kill(sid(3));
        sim.start(sid(3));
        assert!(
            all_serving(&mut sim, &[2, 3]),
            "seed {seed}: 2 and 3 in a new epoch"
        );
        let c = sim.add_client(vec![sim.leader().unwrap()], 30_000);
        let r = write(&mut sim, c, "/committed");
        assert!(r.is_some_and(|r| r.err.is_ok()), "seed {seed}: committed");
        let p = on_disk(&sim, 2).min(on_disk(&sim, 3));
        // 1 comes back to 3, leading a third epoch, with 2 away.
        sim.kill(sid(2));
        sim.restart(sid(3));
        sim.cfg.disk = SLOW;
        sim.start(sid(1));
        let epoch = sim.nodes[&sid(1)].disk.current_epoch;
        let accepted = |s: &Sim| s.nodes[&sid(1)].disk.accepted_epoch;
        assert!(
            sim.run_until_pred(10_000, |s| accepted(s) > epoch + 1),
            "seed {seed}: 3 leads 1 into a third epoch"
        );
        let new_epoch = accepted(&sim);
        let writes_it =
            |op: &PersistOp| matches!(op, PersistOp::CurrentEpoch(e) if *e == new_epoch);
        assert!(
            sim.run_until_pred(10_000, |s| s.nodes[&sid(1)].disk.queued().any(writes_it)),
            "seed {seed}: 1 is told NEWLEADER"
        );
        // 1 dies right after the new currentEpoch is written.
        assert!(sim.kill_after_write(sid(1), writes_it));
        assert!(
            on_disk(&sim, 1) >= p,
            "seed {seed}: the missed epoch's history came first"
        );
        sim.kill(sid(3));
        back_with(&mut sim, seed, &[1, 2], "/committed");
        assert!(on_disk(&sim, 2) >= p, "seed {seed}: 2 was not truncated");
    }
}

/// The learner-to-leader packets of one sync, from FOLLOWERINFO on.
fn learner_packets(sim: &Sim, from: ServerId, to: ServerId, since: usize) -> Vec<QuorumPacket> {
    sim.trace[since..]
        .iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::Sent {
                from: f,
                to: t,
                msg: PeerMsg::Quorum(p),
                ..
            } if *f == from && *t == to => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// Leader 3 and follower 2 (1 is down), 3 holding a transaction 2 lacks: 3 restarts, and the two
/// sync — a DIFF with that proposal in it. Returns the trace position where the sync begins.
fn sync_with_a_proposal(seed: u64) -> (Sim, usize) {
    let (mut sim, c) = ensemble(seed);
    sim.cfg.trace = true;
    sim.kill(sid(1));
    sim.cut(sid(3), sid(2));
    only_on_leader(&mut sim, c, "/only-on-3", seed);
    sim.kill(sid(3));
    sim.heal();
    // A fast disk: the follower's log is written before its next packet goes out.
    sim.cfg.disk = Latency { min: 1, max: 1 };
    sim.cfg.network = Latency { min: 5, max: 10 };
    let mark = sim.trace.len();
    sim.start(sid(3));
    (sim, mark)
}

/// ZOOKEEPER-4685 (open in 3.8.0; fixed by ZOOKEEPER-4785 in 3.8.5; trace `trace_0_9`): the
/// follower's log thread could acknowledge a proposal of the sync stream before the follower
/// acknowledged NEWLEADER. ZooKeeper's leader takes the first ACK after NEWLEADER for the
/// NEWLEADER ACK, found the wrong zxid, dropped it, and — when that follower was needed for a
/// quorum — timed out after initLimit and went back to electing (messageLegal).
///
/// Here a follower acknowledges proposals only after NEWLEADER, and only those of the new
/// epoch (the ACK of NEWLEADER covers the history before): the leader is established at once.
#[test]
fn zk_4685_no_proposal_is_acknowledged_before_newleader() {
    for seed in SEEDS {
        let (mut sim, mark) = sync_with_a_proposal(seed);
        let started = sim.now;
        assert!(
            sim.run_until_pred(10_000, |s| s
                .peer(sid(3))
                .is_some_and(|p| p.is_established_leader())),
            "seed {seed}: 3 leads with 2"
        );
        let took = sim.now - started;
        let init_limit = sim.cfg.init_limit as u64 * sim.cfg.tick_time as u64;
        assert!(took < init_limit, "seed {seed}: established in {took} ms");
        let timed_out = sim.trace[mark..].iter().any(|(_, e)| {
            matches!(
                e,
                TraceEvent::Peer {
                    event: PeerEvent::State {
                        why: StateReason::SyncTimedOut,
                        ..
                    },
                    ..
                }
            )
        });
        assert!(!timed_out, "seed {seed}: no initLimit timeout");
        assert!(all_serving(&mut sim, &[2, 3]));
        clean(&mut sim, seed);
        assert!(survives(&mut sim, "/only-on-3"), "seed {seed}");
    }
}

/// ZOOKEEPER-3023 (a flaky test, `Zab1_0Test#testNormalFollowerRunWithDiff`, open in 3.8.0): fed
/// DIFF, PROPOSAL, COMMIT, NEWLEADER and UPTODATE, a ZooKeeper follower was expected to answer
/// exactly ACK of NEWLEADER then ACK of UPTODATE, with the proposal on disk — but its log thread
/// raced the ACKs (the same cause as ZOOKEEPER-4646 and -4685).
///
/// Here the answer to that sync is deterministic: FOLLOWERINFO, ACKEPOCH, ACK(epoch, 0) for
/// NEWLEADER with the proposal already on disk (the checker's ackConsistent), ACK(epoch, 0) for
/// UPTODATE, and nothing else in between.
#[test]
fn zk_3023_a_diff_sync_is_answered_in_order() {
    for seed in SEEDS {
        let (mut sim, mark) = sync_with_a_proposal(seed);
        assert!(
            all_serving(&mut sim, &[2, 3]),
            "seed {seed}: 3 leads with 2"
        );
        clean(&mut sim, seed);
        let epoch = sim.peer(sid(3)).unwrap().leader_epoch().unwrap();
        let sent: Vec<QuorumPacket> = learner_packets(&sim, sid(2), sid(3), mark)
            .into_iter()
            .filter(|p| !matches!(p, QuorumPacket::PingReply { .. }))
            .collect();
        let zero = Zxid::new(epoch, 0);
        assert!(
            matches!(
                sent.as_slice(),
                [
                    QuorumPacket::FollowerInfo(_),
                    QuorumPacket::AckEpoch { .. },
                    QuorumPacket::Ack { zxid: a },
                    QuorumPacket::Ack { zxid: b },
                    ..
                ] if *a == zero && *b == zero
            ),
            "seed {seed}: {sent:?}"
        );
    }
}

/// ZOOKEEPER-4712 (open in all of 3.8; fixed in 3.9.3): a follower going back to LOOKING did not
/// stop its log thread first. It rebuilt its tree from the log while a proposal was still being
/// written, so it voted with the zxid before that proposal though its disk soon held it (the
/// condition of ZOOKEEPER-2845 again), and could still acknowledge it after leaving. Here
/// follower 1 has a proposal in flight to its disk when the leader dies; 2 never got it.
///
/// Here a server stands on what it handed to its disk, written or not (the checker's
/// stateConsistent compares every server's own vote with its disk and the writes queued to
/// it); 1 wins, and both end with the proposal.
#[test]
fn zk_4712_a_server_leaving_its_leader_votes_with_the_writes_in_flight() {
    for seed in SEEDS {
        let (mut sim, c) = ensemble(seed);
        sim.cut(sid(3), sid(2));
        sim.cfg.disk = SLOW;
        let before = sim.peer(sid(1)).unwrap().last_logged();
        sim.client_request(c, create("/in-flight", b"v"));
        assert!(sim.run_until_pred(5_000, |s| s
            .peer(sid(1))
            .is_some_and(|p| p.last_logged() > before)));
        let p = sim.peer(sid(1)).unwrap().last_logged();
        assert!(on_disk(&sim, 1) < p, "seed {seed}: still being written");
        sim.kill(sid(3));
        sim.heal();
        assert!(sim.run_until_pred(5_000, |s| s.state(sid(1)) == Some(ServerState::Looking)));
        sim.cfg.disk = FAST;
        assert!(all_serving(&mut sim, &[1, 2]), "seed {seed}: 1 and 2 serve");
        clean(&mut sim, seed);
        assert_eq!(
            sim.leader(),
            Some(sid(1)),
            "seed {seed}: 1 has the longer log"
        );
        assert!(
            on_disk(&sim, 1) >= p && on_disk(&sim, 2) >= p,
            "seed {seed}"
        );
        assert!(survives(&mut sim, "/in-flight"), "seed {seed}");
    }
}
