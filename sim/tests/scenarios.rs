//! The documents' scenarios (shared/SCENARIOS.md) in the simulator, each asserting the outcome
//! the document states.

mod sim_helpers;

use sim_helpers::{create, sid};
use zk_core::peer::messages::{QuorumPacket, ServerState};
use zk_core::peer::{PeerEvent, SyncMode};
use zk_core::request::*;
use zk_core::{ErrorCode, ServerId, Zxid};
use zk_sim::client::{ClientEvent, ClientId};
use zk_sim::{synthetic_history, Sim, SimConfig, Status, TraceEvent};

fn states(sim: &Sim, ids: &[u64]) -> Vec<Option<ServerState>> {
    ids.iter().map(|i| sim.state(sid(*i))).collect()
}

/// Sends a request and runs until its reply arrives.
fn call(sim: &mut Sim, c: ClientId, req: Request) -> Reply {
    let xid = sim.client_request(c, req);
    let found = sim.run_until_pred(20_000, |s| {
        s.client(c).is_some_and(|cl| {
            cl.events
                .iter()
                .any(|e| matches!(e, ClientEvent::Reply { reply, .. } if reply.xid == xid))
        })
    });
    assert!(found, "no reply to xid {xid}");
    sim.client(c)
        .unwrap()
        .events
        .iter()
        .rev()
        .find_map(|e| match e {
            ClientEvent::Reply { reply, .. } if reply.xid == xid => Some(reply.clone()),
            _ => None,
        })
        .unwrap()
}

fn connected(sim: &mut Sim, servers: Vec<ServerId>) -> ClientId {
    let c = sim.add_client(servers, 30_000);
    assert!(
        sim.run_until_pred(10_000, |s| s
            .client(c)
            .is_some_and(|cl| cl.connection().is_some())),
        "client connects"
    );
    c
}

fn clean(sim: &mut Sim) {
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    sim.check_trees().unwrap();
}

/// How many election rounds a server has started.
fn rounds(sim: &Sim, id: u64) -> u64 {
    sim.peer(sid(id)).unwrap().election().logicalclock
}

/// S1: five servers, no data, started one at a time in id order.
#[test]
fn s1_first_start_of_five() {
    let mut sim = Sim::new(SimConfig::new(5, 0, 11));
    sim.start(sid(1));
    sim.run_for(2_000);
    assert_eq!(
        states(&sim, &[1]),
        vec![Some(ServerState::Looking)],
        "1 alone is far from a majority"
    );
    sim.start(sid(2));
    sim.run_for(2_000);
    assert_eq!(
        states(&sim, &[1, 2]),
        vec![Some(ServerState::Looking); 2],
        "two votes are still no majority"
    );
    let p1 = sim.peer(sid(1)).unwrap().election().proposal();
    assert_eq!(p1.leader, sid(2), "1 switched to 2, whose id is larger");
    sim.start(sid(3));
    assert!(sim.run_until_pred(5_000, |s| s.leader() == Some(sid(3))));
    assert_eq!(
        states(&sim, &[1, 2, 3]),
        vec![
            Some(ServerState::Following),
            Some(ServerState::Following),
            Some(ServerState::Leading)
        ]
    );
    let before: Vec<u64> = (1..=3).map(|i| rounds(&sim, i)).collect();
    sim.start(sid(4));
    sim.run_for(2_000);
    sim.start(sid(5));
    sim.run_for(2_000);
    assert_eq!(states(&sim, &[4, 5]), vec![Some(ServerState::Following); 2]);
    assert_eq!(sim.leader(), Some(sid(3)));
    let after: Vec<u64> = (1..=3).map(|i| rounds(&sim, i)).collect();
    assert_eq!(before, after, "4 and 5 joined without a new election");
    // 4 and 5 learned the leader from the answers of FOLLOWING/LEADING servers.
    let joined_from_leader = sim.trace.iter().any(|(_, e)| {
        matches!(e, TraceEvent::Peer { server, event: PeerEvent::Filed { state: ServerState::Leading, .. } } if *server == sid(4))
    });
    assert!(joined_from_leader);
    // The first epoch is 1, so the first transaction is 0x100000001.
    let c = connected(&mut sim, vec![sid(1)]);
    let r = call(&mut sim, c, create("/first", b""));
    assert_eq!(r.err, ErrorCode::Ok);
    let first = sim.checker.history.keys().next().copied();
    assert_eq!(
        first,
        Some(Zxid(0x1_0000_0001)),
        "the session's creation is the first transaction"
    );
    clean(&mut sim);
}

/// S2 (election part): four servers started in order; 03 leads once there is a quorum; kill 03
/// and 04 leads (same zxid everywhere: the largest id wins).
#[test]
fn s2_four_servers_leader_killed() {
    let mut sim = Sim::new(SimConfig::new(4, 0, 22));
    sim.start(sid(1));
    sim.start(sid(2));
    sim.run_for(3_000);
    assert_eq!(
        sim.leader(),
        None,
        "01 and 02 cannot form a quorum of 3 of 4"
    );
    sim.start(sid(3));
    assert!(
        sim.run_until_pred(5_000, |s| s.leader() == Some(sid(3))),
        "03 leads"
    );
    sim.start(sid(4));
    sim.run_for(2_000);
    assert_eq!(sim.state(sid(4)), Some(ServerState::Following));
    // The client session of the document, through 01; the data reads back on every server.
    let c = connected(&mut sim, vec![sid(1)]);
    assert_eq!(
        call(
            &mut sim,
            c,
            Request::GetChildren {
                path: "/".into(),
                watch: false
            }
        )
        .body,
        Response::GetChildren {
            children: vec!["zookeeper".into()]
        }
    );
    assert_eq!(
        call(&mut sim, c, create("/laogong", b"")).err,
        ErrorCode::Ok
    );
    assert_eq!(
        call(&mut sim, c, create("/laogong", b"laogong")).err,
        ErrorCode::NodeExists
    );
    assert_eq!(
        call(
            &mut sim,
            c,
            Request::Delete {
                path: "/laogong".into(),
                version: -1
            }
        )
        .err,
        ErrorCode::Ok
    );
    assert_eq!(
        call(&mut sim, c, create("/laogong", b"laogong")).err,
        ErrorCode::Ok
    );
    assert_eq!(
        call(&mut sim, c, create("/laogong/laopo", b"laopo")).err,
        ErrorCode::Ok
    );
    sim.run_for(500);
    for i in 1..=4 {
        let t = &sim.peer(sid(i)).unwrap().server().tree;
        assert_eq!(
            t.children("/laogong"),
            Some(vec!["laopo".to_string()]),
            "server {i}"
        );
    }
    sim.kill(sid(3));
    assert!(
        sim.run_until_pred(30_000, |s| s.leader() == Some(sid(4))),
        "04 leads after 03 dies"
    );
    assert!(sim.run_until_pred(10_000, |s| [1, 2]
        .iter()
        .all(|i| s.state(sid(*i)) == Some(ServerState::Following))));
    clean(&mut sim);
}

/// S3: epochs equal, zxids 8, 8, 8, 7, 7; 3 (leader) and 5 fail; votes (1,8,1), (1,8,2), (1,7,4).
#[test]
fn s3_leader_and_follower_fail_zxids_differ() {
    let mut sim = Sim::new(SimConfig::new(5, 0, 33));
    let history = synthetic_history(1, 8, 1_767_225_600_000);
    for (id, upto) in [(1, 8), (2, 8), (3, 8), (4, 7), (5, 7)] {
        sim.preset_disk(sid(id), &history, upto, 1);
    }
    for id in [1, 2, 4] {
        sim.start(sid(id));
    }
    assert!(sim.run_until_pred(10_000, |s| s.leader().is_some()));
    assert_eq!(
        sim.leader(),
        Some(sid(2)),
        "same epoch; larger zxid beats 4; same zxid, larger sid beats 1"
    );
    assert!(
        sim.run_until_pred(5_000, |s| s.state(sid(1)) == Some(ServerState::Following)
            && s.state(sid(4)) == Some(ServerState::Following))
    );
    // 4 was brought up to zxid 8 (a DIFF of one proposal).
    assert!(
        sim.run_until_pred(5_000, |s| s.peer(sid(4)).unwrap().last_logged()
            >= Zxid::new(1, 8))
    );
    clean(&mut sim);
}

/// S4: three servers, 2 leads and dies; 1 has zxid 123, 3 has 122: 1 leads and keeps its 123rd.
#[test]
fn s4_leader_fails_while_running() {
    let mut sim = Sim::new(SimConfig::new(3, 0, 44));
    let history = synthetic_history(1, 123, 1_767_225_600_000);
    sim.preset_disk(sid(1), &history, 123, 1);
    sim.preset_disk(sid(3), &history, 122, 1);
    sim.start(sid(1));
    sim.start(sid(3));
    assert!(sim.run_until_pred(10_000, |s| s.leader().is_some()));
    assert_eq!(sim.leader(), Some(sid(1)));
    assert!(sim.run_until_pred(5_000, |s| s.state(sid(3)) == Some(ServerState::Following)));
    // 3's first vote was for itself, then it switched because of the larger zxid.
    let switched = sim.trace.iter().any(|(_, e)| {
        matches!(e, TraceEvent::Peer { server, event: PeerEvent::Vote { vote, why: zk_core::peer::election::VoteChange::Better { rule: zk_core::peer::election::Rule::Zxid, .. } } } if *server == sid(3) && vote.leader == sid(1))
    });
    assert!(switched, "3 switched to 1 by the zxid rule");
    assert!(
        sim.run_until_pred(5_000, |s| s
            .peer(sid(3))
            .unwrap()
            .server()
            .tree
            .get("/txn-123")
            .is_some()),
        "123 is not lost"
    );
    assert!(sim
        .peer(sid(1))
        .unwrap()
        .server()
        .tree
        .get("/txn-123")
        .is_some());
    clean(&mut sim);
}

/// S6: a write sent to a follower: forwarded, proposed, acknowledged by a majority, committed,
/// applied everywhere, answered by the follower.
#[test]
fn s6_a_write_end_to_end() {
    let mut sim = Sim::new(SimConfig::new(3, 0, 66));
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(sim.run_until_pred(10_000, |s| s.leader() == Some(sid(3))
        && (1..=3).all(|i| s.peer(sid(i)).unwrap().is_serving())));
    let c = connected(&mut sim, vec![sid(1)]);
    let mark = sim.trace.len();
    let r = call(&mut sim, c, create("/s6", b"hello"));
    assert_eq!(r.err, ErrorCode::Ok);
    let z = r.zxid;
    let kinds: Vec<(ServerId, ServerId, String)> = sim.trace[mark..]
        .iter()
        .filter_map(|(_, e)| match e {
            TraceEvent::Sent {
                from,
                to,
                kind,
                msg,
                ..
            } if kind != "PING" => {
                let relevant = match msg {
                    zk_core::peer::messages::PeerMsg::Quorum(QuorumPacket::Proposal(e)) => {
                        e.zxid() == z
                    }
                    zk_core::peer::messages::PeerMsg::Quorum(QuorumPacket::Ack { zxid }) => {
                        *zxid >= z
                    }
                    zk_core::peer::messages::PeerMsg::Quorum(QuorumPacket::Commit { zxid }) => {
                        *zxid >= z
                    }
                    zk_core::peer::messages::PeerMsg::Quorum(QuorumPacket::Request { .. }) => true,
                    _ => false,
                };
                relevant.then(|| (*from, *to, kind.clone()))
            }
            _ => None,
        })
        .collect();
    let pos = |from: u64, to: u64, k: &str| {
        kinds
            .iter()
            .position(|(f, t, kk)| *f == sid(from) && *t == sid(to) && kk == k)
    };
    let req = pos(1, 3, "REQUEST").expect("1 forwards the write to the leader");
    let prop = pos(3, 1, "PROPOSAL").expect("the leader proposes to 1");
    assert!(pos(3, 2, "PROPOSAL").is_some(), "and to 2");
    let ack = kinds
        .iter()
        .position(|(_, t, k)| *t == sid(3) && k == "ACK")
        .expect("a follower ACKs");
    let commit = pos(3, 1, "COMMIT").expect("the leader commits");
    assert!(req < prop && prop < ack && ack < commit, "{kinds:?}");
    sim.run_for(500);
    for i in 1..=3 {
        assert!(
            sim.peer(sid(i)).unwrap().server().tree.get("/s6").is_some(),
            "applied on {i}"
        );
    }
    clean(&mut sim);
}

/// S8: a follower down during writes catches up when it restarts: DIFF when close, SNAP when
/// far behind; and S7's zxid anatomy along the way.
#[test]
fn s8_follower_catches_up() {
    for (writes, window, mode) in [(5, 500, SyncMode::Diff), (40, 10, SyncMode::Snap)] {
        let mut cfg = SimConfig::new(3, 0, 88);
        cfg.commit_log_count = window;
        let mut sim = Sim::new(cfg);
        for i in 1..=3 {
            sim.start(sid(i));
        }
        assert!(sim.run_until_pred(10_000, |s| s.leader() == Some(sid(3))
            && (1..=3).all(|i| s.peer(sid(i)).unwrap().is_serving())));
        let c = connected(&mut sim, vec![sid(2), sid(3)]);
        sim.kill(sid(1));
        for i in 0..writes {
            assert_eq!(
                call(&mut sim, c, create(&format!("/w{i}"), b"x")).err,
                ErrorCode::Ok,
                "writes go on with a majority"
            );
        }
        let mark = sim.trace.len();
        sim.start(sid(1));
        assert!(sim.run_until_pred(20_000, |s| s.peer(sid(1)).unwrap().is_serving()));
        let chosen = sim.trace[mark..].iter().find_map(|(_, e)| match e {
            TraceEvent::Peer {
                event: PeerEvent::Sync { learner, mode, .. },
                ..
            } if *learner == sid(1) => Some(*mode),
            _ => None,
        });
        assert_eq!(
            chosen,
            Some(mode),
            "with {writes} writes missed and a window of {window}"
        );
        sim.run_for(500);
        let t1 = &sim.peer(sid(1)).unwrap().server().tree;
        assert!(t1.get(&format!("/w{}", writes - 1)).is_some());
        clean(&mut sim);
    }
}

/// S8's SNAP with a tree of several megabytes, while writes go on: the snapshot streams in
/// pieces, never more than a few unacknowledged, the writes made during the walk reach the
/// learner after it, and the learner ends with exactly the leader's tree.
#[test]
fn s8_a_big_snap_streams_in_pieces_under_writes() {
    let mut cfg = SimConfig::new(3, 0, 808);
    cfg.commit_log_count = 5;
    let mut sim = Sim::new(cfg);
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(sim.run_until_pred(10_000, |s| s.leader() == Some(sid(3))
        && (1..=3).all(|i| s.peer(sid(i)).unwrap().is_serving())));
    let c = connected(&mut sim, vec![sid(2), sid(3)]);
    sim.kill(sid(1));
    let big = vec![7u8; 500 << 10];
    for i in 0..20 {
        assert_eq!(
            call(&mut sim, c, create(&format!("/big{i}"), &big)).err,
            ErrorCode::Ok
        );
    }
    let mark = sim.trace.len();
    sim.start(sid(1));
    // Writes go on while server 1 syncs: one every millisecond.
    for i in 0..200 {
        sim.client_request(c, create(&format!("/during{i}"), b"d"));
        sim.run_for(1);
    }
    assert!(sim.run_until_pred(20_000, |s| s.peer(sid(1)).unwrap().is_serving()));
    sim.run_for(2_000);
    let (mut pieces, mut in_flight, mut most) = (0, 0i32, 0);
    let mut snap_at = None;
    // Proposals to server 2 while server 1's snapshot was on its way.
    let (mut first, mut last, mut proposals_to_2) = (None, 0, 0);
    for (_, e) in &sim.trace[mark..] {
        if let TraceEvent::Sent { from, to, msg, .. } = e {
            match msg {
                zk_core::peer::messages::PeerMsg::Quorum(QuorumPacket::Snap { zxid })
                    if *to == sid(1) =>
                {
                    snap_at = Some(*zxid)
                }
                zk_core::peer::messages::PeerMsg::Quorum(QuorumPacket::Proposal(_))
                    if *to == sid(2) =>
                {
                    proposals_to_2 += 1
                }
                zk_core::peer::messages::PeerMsg::Quorum(QuorumPacket::SnapPiece { .. })
                    if *to == sid(1) =>
                {
                    first.get_or_insert(proposals_to_2);
                    last = proposals_to_2;
                    pieces += 1;
                    in_flight += 1;
                    most = most.max(in_flight);
                }
                zk_core::peer::messages::PeerMsg::Quorum(QuorumPacket::SnapAck { .. })
                    if *from == sid(1) =>
                {
                    in_flight -= 1
                }
                _ => {}
            }
        }
    }
    assert!(snap_at.is_some(), "server 1 was sent a SNAP");
    assert!(pieces >= 5, "10 MB went in {pieces} pieces");
    assert!(most <= 4, "{most} pieces were unacknowledged at once");
    let during = last - first.unwrap_or(last);
    assert!(
        during > 0,
        "writes were committed while the snapshot was streamed"
    );
    let t1 = &sim.peer(sid(1)).unwrap().server().tree;
    assert!(t1.get("/big19").is_some());
    assert!(t1.get("/during199").is_some());
    clean(&mut sim);
}

/// S9: the killed leader restarts and joins the newer leader as a follower, dropping a proposal
/// that never committed.
#[test]
fn s9_old_leader_rejoins_as_follower() {
    let mut sim = Sim::new(SimConfig::new(3, 0, 99));
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(sim.run_until_pred(10_000, |s| s.leader() == Some(sid(3))
        && (1..=3).all(|i| s.peer(sid(i)).unwrap().is_serving())));
    let c = connected(&mut sim, vec![sid(3)]);
    assert_eq!(call(&mut sim, c, create("/before", b"")).err, ErrorCode::Ok);
    // Cut the leader off, let a write reach only its own disk, then kill it.
    sim.partition(vec![vec![sid(3)], vec![sid(1), sid(2)]]);
    sim.client_request(c, create("/orphan", b""));
    sim.run_for(200);
    assert!(
        sim.peer(sid(3)).unwrap().last_logged() > sim.peer(sid(1)).unwrap().last_logged(),
        "only 3 logged it"
    );
    sim.kill(sid(3));
    sim.heal();
    assert!(
        sim.run_until_pred(30_000, |s| s.leader() == Some(sid(2))),
        "2 leads the new epoch"
    );
    let new_epoch = sim.peer(sid(2)).unwrap().current_epoch();
    sim.start(sid(3));
    assert!(
        sim.run_until_pred(10_000, |s| s.state(sid(3)) == Some(ServerState::Following)),
        "3 follows: it learned of the leader"
    );
    assert!(sim.run_until_pred(10_000, |s| s.peer(sid(3)).unwrap().is_serving()));
    assert_eq!(sim.peer(sid(3)).unwrap().current_epoch(), new_epoch);
    assert_eq!(sim.leader(), Some(sid(2)));
    let t3 = &sim.peer(sid(3)).unwrap().server().tree;
    assert!(t3.get("/before").is_some());
    assert!(
        t3.get("/orphan").is_none(),
        "the uncommitted proposal was dropped"
    );
    let truncated = sim.trace.iter().any(|(_, e)| {
        matches!(e, TraceEvent::Peer { server, event: PeerEvent::Sync { learner, mode, .. } } if *server == sid(2) && *learner == sid(3) && matches!(mode, SyncMode::Trunc | SyncMode::Snap))
    });
    assert!(truncated, "the leader told 3 to truncate");
    clean(&mut sim);
}

/// S10: majority, and why odd sizes: 3 survive 1, 4 survive 1 but not 2, 5 survive 2.
#[test]
fn s10_majorities() {
    for (n, down, survives) in [
        (3, 1, true),
        (4, 1, true),
        (4, 2, false),
        (5, 2, true),
        (5, 3, false),
    ] {
        let mut sim = Sim::new(SimConfig::new(n, 0, 100 + n * 10 + down));
        for i in 1..=n {
            sim.start(sid(i));
        }
        assert!(sim.run_until_pred(10_000, |s| s.leader().is_some()));
        // Take down the leader first, then others.
        let first = sim.leader().unwrap();
        let mut victims = vec![first];
        victims.extend(
            (1..=n)
                .map(sid)
                .filter(|s| *s != first)
                .take((down - 1) as usize),
        );
        for v in &victims {
            sim.kill(*v);
        }
        let alive: Vec<ServerId> = (1..=n).map(sid).filter(|s| !victims.contains(s)).collect();
        let elected = sim.run_until_pred(30_000, |s| s.leader().is_some());
        assert_eq!(elected, survives, "{n} servers with {down} down");
        if survives {
            let c = connected(&mut sim, alive.clone());
            assert_eq!(call(&mut sim, c, create("/alive", b"")).err, ErrorCode::Ok);
        } else {
            assert!(
                alive
                    .iter()
                    .all(|s| sim.state(*s) == Some(ServerState::Looking)),
                "no leader, no writes"
            );
            let c = sim.add_client(alive.clone(), 30_000);
            sim.run_for(5_000);
            assert!(
                sim.client(c).unwrap().connection().is_none(),
                "no server serves clients"
            );
        }
        clean(&mut sim);
    }
}

/// S11: an observer does not vote, does not count for a majority, learns commits, serves reads
/// and forwards writes.
#[test]
fn s11_observers() {
    let mut sim = Sim::new(SimConfig::new(2, 1, 111));
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(sim.run_until_pred(10_000, |s| s.leader().is_some()
        && s.peer(sid(3)).unwrap().is_serving()));
    assert_eq!(
        sim.leader(),
        Some(sid(2)),
        "the observer (3) is never elected, though its id is largest"
    );
    assert_eq!(sim.state(sid(3)), Some(ServerState::Observing));
    let c = connected(&mut sim, vec![sid(3)]);
    let r = call(&mut sim, c, create("/via-observer", b"x"));
    assert_eq!(r.err, ErrorCode::Ok, "the observer forwards writes");
    let r = call(
        &mut sim,
        c,
        Request::GetData {
            path: "/via-observer".into(),
            watch: false,
        },
    );
    assert_eq!(r.err, ErrorCode::Ok, "and serves reads");
    // It does not count: with 1 of the 2 voters down there is no quorum.
    sim.kill(sid(1));
    sim.run_for(20_000);
    assert_eq!(
        sim.leader(),
        None,
        "1 voter + 1 observer is not a majority of 2 voters"
    );
    assert_eq!(sim.status(sid(1)), Status::Down);
    clean(&mut sim);
}

/// A follower that restarts rejoins the leader it followed: it accepted the leader's epoch
/// before, which is no reason for the leader to step down (ZooKeeper answers such a learner
/// with ACKEPOCH -1 and syncs it). Regression: the leader used to re-elect whenever a learner's
/// accepted epoch was not below its own, so every follower restart cost an election.
#[test]
fn a_restarted_follower_rejoins_without_an_election() {
    let mut sim = Sim::new(SimConfig::new(3, 0, 808));
    for i in 1..=3 {
        sim.start(sid(i));
    }
    assert!(sim.run_until_pred(10_000, |s| s.leader() == Some(sid(3))
        && (1..=3).all(|i| s.peer(sid(i)).unwrap().is_serving())));
    let c = connected(&mut sim, vec![sid(2)]);
    assert_eq!(call(&mut sim, c, create("/a", b"")).err, ErrorCode::Ok);
    sim.kill(sid(1));
    assert_eq!(call(&mut sim, c, create("/b", b"")).err, ErrorCode::Ok);
    let mark = sim.trace.len();
    sim.start(sid(1));
    assert!(sim.run_until_pred(20_000, |s| s.peer(sid(1)).unwrap().is_serving()));
    sim.run_for(2_000);
    let stepped_down = sim.trace[mark..].iter().any(|(_, e)| {
        matches!(e, TraceEvent::Peer { server, event: PeerEvent::State { from: ServerState::Leading, .. } } if *server == sid(3))
    });
    assert!(!stepped_down, "the leader kept leading");
    assert_eq!(sim.peer(sid(3)).unwrap().current_epoch(), 1, "no new epoch");
    assert_eq!(sim.leader(), Some(sid(3)));
    assert!(sim.peer(sid(1)).unwrap().server().tree.get("/b").is_some());
    clean(&mut sim);
}
