use zk_core::acl::Acl;
use zk_core::peer::messages::ServerState;
use zk_core::request::*;
use zk_core::sim::client::ClientEvent;
use zk_core::sim::{Sim, SimConfig};
use zk_core::txn::op;
use zk_core::{ErrorCode, ServerId, Zxid};

fn sid(i: u64) -> ServerId {
    ServerId(i)
}

fn create(path: &str, data: &[u8]) -> Request {
    Request::Create {
        op: op::CREATE,
        req: CreateRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        },
    }
}

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
    let reply = sim.client(c).unwrap().events.iter().find_map(|e| match e {
        ClientEvent::Reply { reply, .. } if reply.xid == xid => Some(reply.clone()),
        _ => None,
    });
    let reply = reply.expect("reply");
    assert_eq!(reply.err, ErrorCode::Ok);
    assert_eq!(reply.zxid.epoch(), 1);
    for i in 1..=3 {
        let p = sim.peer(sid(i)).unwrap();
        assert!(p.server.tree.get("/a").is_some(), "server {i} has /a");
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
