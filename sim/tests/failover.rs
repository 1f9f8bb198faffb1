//! Killing the leader of a three-server ensemble: the two survivors elect a new leader in one
//! round of FastLeaderElection — its finalizeWait (200 ms) and a few messages — whichever of
//! them sees the leader go first, and the follower is never refused by a leader-to-be that has
//! not finished its own election yet. Simulated time, so the bound does not depend on the
//! machine.

mod sim_helpers;

use sim_helpers::sid;
use zk_sim::{Sim, SimConfig, TraceEvent};

#[test]
fn a_killed_leader_is_replaced_in_one_round() {
    let mut worst = 0;
    for seed in 0..40u64 {
        let mut sim = Sim::new(SimConfig::new(3, 0, seed));
        for i in 1..=3 {
            sim.start(sid(i));
        }
        assert!(sim.run_until_pred(20_000, |s| s.leader().is_some()
            && (1..=3).all(|i| s.peer(sid(i)).unwrap().is_serving())));
        sim.run_for(3000);
        let old = sim.leader().unwrap();
        let mark = sim.trace.len();
        let killed_at = sim.now;
        sim.kill(old);
        assert!(
            sim.run_until_pred(20_000, |s| s
                .leader()
                .is_some_and(|l| l != old && s.peer(l).unwrap().is_established_leader())),
            "seed {seed}: a new leader"
        );
        let took = sim.now - killed_at;
        worst = worst.max(took);
        // finalizeWait, then FOLLOWERINFO → LEADERINFO → ACKEPOCH → DIFF/NEWLEADER → ACK with
        // network and disk latencies of a few ms each.
        assert!(took < 300, "seed {seed}: the new leader took {took} ms");
        let infos = sim.trace[mark..]
            .iter()
            .filter(|(_, e)| matches!(e, TraceEvent::Sent { kind, .. } if kind == "FOLLOWERINFO"))
            .count();
        assert_eq!(infos, 1, "seed {seed}: the follower connected once");
        sim.check_trees().unwrap();
        assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    }
    println!("slowest failover over 40 seeds: {worst} ms simulated");
}
