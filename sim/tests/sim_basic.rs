mod sim_helpers;

use sim_helpers::{create, sid};
use zk_core::peer::messages::ServerState;
use zk_core::request::*;
use zk_core::{ErrorCode, Zxid};
use zk_sim::client::ClientEvent;
use zk_sim::{Sim, SimConfig};

#[test]
fn three_servers_elect_and_replicate() {
    let mut sim = Sim::new(SimConfig::new(3, 0, 1));
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(
        sim.run_until_pred(10_000, |s| s.leader().is_some()),
        "a leader within 10 s"
    );
    let leader = sim.leader().unwrap();
    assert_eq!(leader, sid(3));
    assert!(sim.run_until_pred(10_000, |s| (1..=3)
        .all(|i| s.peer(sid(i)).unwrap().is_serving())));
    let c = sim.add_client(vec![sid(1)], 30000);
    sim.run_for(100);
    let xid = sim.client_request(c, create("/a", b"x"));
    sim.run_for(1000);
    let reply = reply_to(&sim, c, xid).expect("reply");
    assert_eq!(reply.err, ErrorCode::Ok);
    assert_eq!(reply.zxid.epoch(), 1);
    for i in 1..=3 {
        let p = sim.peer(sid(i)).unwrap();
        assert!(p.server().tree.get("/a").is_some(), "server {i} has /a");
    }
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    sim.check_trees().unwrap();
    for i in 1..=3 {
        assert_ne!(sim.state(sid(i)), Some(ServerState::Looking));
    }
    let _ = Zxid(0);
}

#[test]
fn the_leader_keeps_its_proposal_sizes() {
    let mut sim = Sim::new(SimConfig::new(3, 0, 7));
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(sim.run_until_pred(10_000, |s| (1..=3)
        .all(|i| s.peer(sid(i)).unwrap().is_serving())));
    let leader = sim.leader().expect("a leader");
    let before = sim.peer(leader).unwrap().proposal_sizes().expect("leading");
    let c = sim.add_client(vec![leader], 30000);
    sim.run_for(100);
    // createSession was proposed already; now a small and a larger create.
    sim.client_request(c, create("/small", b"x"));
    sim.run_for(500);
    let small = sim.peer(leader).unwrap().proposal_sizes().unwrap();
    sim.client_request(c, create("/large", &[7u8; 100]));
    sim.run_for(500);
    let p = sim.peer(leader).unwrap();
    let sizes = p.proposal_sizes().unwrap();
    assert!(before.last <= small.last || before.last == -1);
    assert_eq!(sizes.last, sizes.max, "the 100-byte create is the largest");
    assert!(sizes.last >= small.last + 99, "{small} then {sizes}");
    assert!(sizes.min > 0 && sizes.min <= small.last, "{sizes}");
    // Only the leader of an ensemble keeps them.
    for i in 1..=3 {
        if sid(i) != leader {
            assert_eq!(sim.peer(sid(i)).unwrap().proposal_sizes(), None);
        }
    }
    sim.peer_mut(leader).unwrap().reset_proposal_sizes();
    assert_eq!(
        sim.peer(leader)
            .unwrap()
            .proposal_sizes()
            .unwrap()
            .to_string(),
        "-1/-1/-1"
    );
}

fn reply_to(sim: &Sim, c: zk_sim::client::ClientId, xid: i32) -> Option<Reply> {
    sim.client(c).unwrap().events.iter().find_map(|e| match e {
        ClientEvent::Reply { reply, .. } if reply.xid == xid => Some(reply.clone()),
        _ => None,
    })
}

/// `readonlymode.enabled`: a server cut off from the quorum serves reads to clients that allow
/// read-only sessions (after max(2000, tickTime) ms of looking), refuses writes and syncs with
/// NotReadOnly and other clients altogether, and closes those sessions when it rejoins.
#[test]
fn read_only_mode_out_of_a_quorum() {
    let mut cfg = SimConfig::new(3, 0, 4);
    cfg.read_only_mode = true;
    let mut sim = Sim::new(cfg);
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(sim.run_until_pred(20_000, |s| (1..=3)
        .all(|i| s.peer(sid(i)).unwrap().is_serving())));
    let w = sim.add_client(vec![sid(1)], 30000);
    sim.run_for(200);
    let xid = sim.client_request(w, create("/before", b"1"));
    sim.run_for(1000);
    assert_eq!(reply_to(&sim, w, xid).map(|r| r.err), Some(ErrorCode::Ok));
    assert!(!sim.peer(sid(1)).unwrap().is_read_only());

    // Server 1 alone: it looks for a leader, then becomes a read-only server.
    sim.partition(vec![vec![sid(1)], vec![sid(2), sid(3)]]);
    assert!(sim.run_until_pred(30_000, |s| s.peer(sid(1)).unwrap().is_read_only()));
    assert_eq!(sim.state(sid(1)), Some(ServerState::Looking));

    let ro = sim.add_read_only_client(vec![sid(1)], 30000);
    let rw = sim.add_client(vec![sid(1)], 30000);
    sim.run_for(500);
    assert!(sim
        .client(ro)
        .unwrap()
        .events
        .iter()
        .any(|e| matches!(e, ClientEvent::Connected { .. })));
    assert!(
        !sim.client(rw)
            .unwrap()
            .events
            .iter()
            .any(|e| matches!(e, ClientEvent::Connected { .. })),
        "a read-write client is refused"
    );
    let read = sim.client_request(
        ro,
        Request::GetData {
            path: "/before".into(),
            watch: false,
        },
    );
    let write = sim.client_request(ro, create("/during", b"2"));
    let sync = sim.client_request(ro, Request::Sync { path: "/".into() });
    let read2 = sim.client_request(
        ro,
        Request::Exists {
            path: "/before".into(),
            watch: false,
        },
    );
    sim.run_for(500);
    let r = reply_to(&sim, ro, read).expect("the read is answered");
    assert_eq!(r.err, ErrorCode::Ok);
    assert!(matches!(r.body, Response::GetData { data: Some(ref d), .. } if d == b"1"));
    assert_eq!(
        reply_to(&sim, ro, write).map(|r| r.err),
        Some(ErrorCode::NotReadOnly)
    );
    assert_eq!(
        reply_to(&sim, ro, sync).map(|r| r.err),
        Some(ErrorCode::NotReadOnly)
    );
    assert_eq!(
        reply_to(&sim, ro, read2).map(|r| r.err),
        Some(ErrorCode::Ok)
    );

    // Back in the quorum: the read-only session ends.
    sim.heal();
    assert!(sim.run_until_pred(30_000, |s| s.peer(sid(1)).unwrap().is_serving()));
    assert!(!sim.peer(sid(1)).unwrap().is_read_only());
    assert!(sim
        .client(ro)
        .unwrap()
        .events
        .iter()
        .any(|e| matches!(e, ClientEvent::Disconnected { .. })));
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

/// ZOOKEEPER-1277: a zxid's low 32 bits count proposals within an epoch. ZooKeeper's leader never
/// proposes counter 0xffffffff (the next would carry into the epoch): it steps down, and the
/// election that follows starts a new epoch whose counter starts again. Clients lose their
/// connections, as in any election, and go on writing.
#[test]
fn the_zxid_counter_rolls_over_into_a_new_epoch() {
    let mut sim = Sim::new(SimConfig::new(3, 0, 11));
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(sim.run_until_pred(10_000, |s| (1..=3)
        .all(|i| s.peer(sid(i)).unwrap().is_serving())));
    let leader = sim.leader().unwrap();
    let epoch = sim.peer(leader).unwrap().leader_epoch().unwrap();
    let c = sim.add_client(vec![sid(1), sid(2), sid(3)], 30_000);
    sim.run_for(500);
    sim.jump_zxid_counter(leader, u32::MAX - 4);
    let mut written = Vec::new();
    let mut lost = 0;
    for i in 0..50 {
        let xid = sim.client_request(c, create(&format!("/n{i}"), b"x"));
        sim.run_until_pred(20_000, |s| {
            s.client(c).unwrap().events.iter().any(|e| match e {
                ClientEvent::Reply { reply, .. } => reply.xid == xid,
                ClientEvent::Lost { xid: x, .. } => *x == xid,
                _ => false,
            })
        });
        match reply_to(&sim, c, xid) {
            Some(r) if r.err == ErrorCode::Ok => written.push(r.zxid),
            Some(r) => panic!("/n{i}: {:?}", r.err),
            None => lost += 1,
        }
        if written.last().is_some_and(|z| z.epoch() > epoch) {
            break;
        }
    }
    let counters: Vec<u32> = written.iter().map(|z| z.counter()).collect();
    assert!(
        written
            .iter()
            .any(|z| z.epoch() == epoch && z.counter() == u32::MAX - 1),
        "the last counter of epoch {epoch} is used: {counters:x?}"
    );
    let after = written.last().copied().unwrap();
    assert!(after.epoch() > epoch, "a new epoch: {written:?}");
    assert!(after.counter() < 10, "its counter starts again: {after}");
    // The write that found the counter spent was not proposed; its client lost the
    // connection (and, while the election ran, the next writes too).
    assert!(lost >= 1);
    let spent = format!("/n{}", written.len() - 1);
    for i in 1..=3 {
        assert!(sim
            .peer(sid(i))
            .unwrap()
            .server()
            .tree
            .get(&spent)
            .is_none());
    }
    // No server logged or applied a zxid with the spent counter.
    for i in 1..=3 {
        let p = sim.peer(sid(i)).unwrap();
        assert!(p.last_committed() >= after);
        assert!(p
            .committed_log()
            .iter()
            .all(|e| e.zxid().counter() != u32::MAX));
    }
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    sim.check_trees().unwrap();
}
