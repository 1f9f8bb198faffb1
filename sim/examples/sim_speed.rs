//! Simulator speed: a 5-server cluster under a steady write load, measured in simulated events
//! per wall-clock second and simulated seconds per wall second.
//!
//! ```sh
//! cargo run --release -p zk-sim --example sim_speed [simulated_seconds] [clients] [nowire]
//! ```
//!
//! `nowire` delivers messages as values instead of through their bytes (to see what the codec
//! in the loop costs).

use std::time::Instant;
use zk_core::acl::Acl;
use zk_core::request::{CreateRequest, Request};
use zk_core::txn::op;
use zk_sim::{Latency, Sim, SimConfig};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(120);
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut cfg = SimConfig::new(5, 0, 42);
    cfg.trace = false;
    cfg.network = Latency { min: 1, max: 3 };
    cfg.disk = Latency { min: 1, max: 2 };
    cfg.snap_count = 0;
    cfg.wire = args.get(3).map(String::as_str) != Some("nowire");
    let mut sim = Sim::new(cfg);
    let ids = sim.ids();
    for &id in &ids {
        sim.start(id);
    }
    sim.run_until_pred(10_000, |s| s.leader().is_some());
    let cs: Vec<_> = (0..clients)
        .map(|i| {
            let mut order = ids.clone();
            order.rotate_left(i % ids.len());
            sim.add_client(order, 30_000)
        })
        .collect();
    sim.run_for(500);
    let start_steps = sim.steps;
    let start_sim = sim.now;
    let wall = Instant::now();
    let mut n = 0u64;
    let end = sim.now + seconds * 1000;
    while sim.now < end {
        for &c in &cs {
            n += 1;
            let req = if n.is_multiple_of(2) {
                Request::Create {
                    op: op::CREATE,
                    req: CreateRequest {
                        path: format!("/n{n}"),
                        data: Some(vec![7; 100]),
                        acl: Acl::open_unsafe(),
                        flags: 0,
                        ttl: -1,
                    },
                }
            } else {
                Request::SetData {
                    path: format!("/n{}", n - 1),
                    data: Some(vec![8; 100]),
                    version: -1,
                }
            };
            sim.client_request(c, req);
        }
        sim.run_for(10);
        for &c in &cs {
            if let Some(cl) = sim.client_mut(c) {
                cl.events.clear();
            }
        }
    }
    let elapsed = wall.elapsed().as_secs_f64();
    let events = sim.steps - start_steps;
    let simulated = (sim.now - start_sim) as f64 / 1000.0;
    let committed = sim
        .peer(sim.leader().unwrap_or(ids[0]))
        .map(|p| p.last_committed())
        .unwrap_or_default();
    println!("5 servers, {clients} clients, {simulated:.0} simulated seconds, last committed zxid {committed}");
    println!("{events} events in {elapsed:.2} s wall");
    println!("{:.0} events per second", events as f64 / elapsed);
    println!(
        "{:.0} simulated seconds per wall second",
        simulated / elapsed
    );
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}
