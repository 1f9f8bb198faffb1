//! Deterministic simulation testing: many seeds, each a cluster under random faults — kills,
//! restarts, partitions (and one-way cuts), long pauses, link breaks, slow disks, a zxid counter
//! at its end — with clients
//! writing all along. After the faults stop, the cluster must elect a leader and commit a write,
//! and throughout, every invariant must hold and every acknowledged write must be durable and
//! in real-time order.
//!
//! `DST_SEEDS=N` sets how many seeds run (default 40 here; CI runs 2000 in release mode);
//! `DST_SEED=S` replays one seed, `DST_START=S` starts from another seed.
//! A failure prints the seed and the command that replays it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use zk_core::acl::Acl;
use zk_core::request::{CreateRequest, Request};
use zk_core::txn::op;
use zk_sim::check::Invariant;
use zk_sim::client::{ClientEvent, ClientId, ClientState};
use zk_sim::{Latency, Sim, SimConfig, Status};

fn create(path: String, flags: i32) -> Request {
    Request::Create {
        op: op::CREATE,
        req: CreateRequest {
            path,
            data: Some(b"v".to_vec()),
            acl: Acl::open_unsafe(),
            flags,
            ttl: -1,
        },
    }
}

struct Workload {
    clients: Vec<ClientId>,
    counter: u64,
}

impl Workload {
    fn act(&mut self, sim: &mut Sim, rng: &mut ChaCha8Rng) {
        let servers = sim.ids();
        for i in 0..self.clients.len() {
            let c = self.clients[i];
            let state = sim.client(c).map(|c| c.state);
            if matches!(
                state,
                Some(ClientState::Expired) | Some(ClientState::Closed)
            ) {
                // The session is gone: a new client takes its place, as an application would.
                let mut order = servers.clone();
                let k = rng.gen_range(0..order.len());
                order.rotate_left(k);
                self.clients[i] = sim.add_client(order, 4000);
                continue;
            }
            if rng.gen_bool(0.5) {
                continue;
            }
            if rng.gen_bool(0.02) {
                // The session moves to another server (as zkCli's `connect`): its watches go
                // with it in setWatches.
                sim.client_move(c, None);
                continue;
            }
            self.counter += 1;
            let n = self.counter;
            let key = format!("/k{}", rng.gen_range(1..=n));
            let read = match rng.gen_range(0..12) {
                0 => Some(Request::GetData {
                    path: key,
                    watch: true,
                }),
                1 => Some(Request::Exists {
                    path: key,
                    watch: true,
                }),
                2 => Some(Request::GetChildren {
                    path: "/".into(),
                    watch: true,
                }),
                _ => None,
            };
            if let Some(req) = read {
                sim.client_request(c, req);
                continue;
            }
            let req = match rng.gen_range(0..10) {
                0..=3 => create(format!("/k{n}"), 0),
                4 | 5 => create("/seq-".to_string(), 2),
                6 => create(format!("/e{n}"), 1),
                7 => Request::SetData {
                    path: format!("/k{}", rng.gen_range(1..=n)),
                    data: Some(vec![n as u8]),
                    version: -1,
                },
                8 => Request::Delete {
                    path: format!("/k{}", rng.gen_range(1..=n)),
                    version: -1,
                },
                _ => Request::Multi(vec![
                    create(format!("/m{n}"), 0),
                    create(format!("/m{n}/c"), 0),
                ]),
            };
            sim.client_request(c, req);
        }
    }
}

/// The faults, by the number the fault phase draws.
const FAULTS: [&str; 18] = [
    "kill",
    "kill",
    "restart",
    "restart",
    "partition",
    "one-way cut",
    "heal",
    "pause",
    "resume",
    "most servers killed at once",
    "kill the leader",
    "slow disk",
    "zxid counter near its end",
    "crash mid group commit",
    "start every server down",
    "bit flip in the newest snapshot",
    "disk full for a while",
    "failed fsync",
];

type Faults = BTreeMap<&'static str, u64>;

fn run_seed(seed: u64, faults: &mut Faults) -> Result<(u64, Vec<(Invariant, u64)>), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5EED);
    let voters = if rng.gen_bool(0.5) { 3 } else { 5 };
    let observers = rng.gen_range(0..=1);
    let mut cfg = SimConfig::new(voters, observers, seed);
    cfg.tick_time = 200;
    cfg.server.tick_time = 200;
    cfg.server.min_session_timeout = 400;
    cfg.server.max_session_timeout = 4000;
    cfg.init_limit = 10;
    cfg.sync_limit = 5;
    cfg.network = Latency {
        min: 1,
        max: rng.gen_range(2..30),
    };
    cfg.disk = Latency {
        min: 1,
        max: rng.gen_range(1..20),
    };
    cfg.commit_log_count = rng.gen_range(5..50);
    cfg.snap_count = rng.gen_range(20..200);
    // Small pieces, so that a SNAP streams over many round trips while faults strike.
    cfg.snap_piece = rng.gen_range(512..4096);
    // Periodic snapshots walk the tree a little at a time while it changes (fuzzy, as
    // zkserver's): restarts recover from them and the log after their label.
    cfg.snap_budget = rng.gen_range(128..4096);
    cfg.trace = std::env::var("DST_TRACE").is_ok();
    let mut sim = Sim::new(cfg);
    let r = run_sim(&mut sim, &mut rng, faults).map(|steps| (steps, sim.checker.evaluated()));
    for (what, n) in &sim.disk_outcomes {
        *faults.entry(what).or_default() += n;
    }
    if r.is_err() && sim.cfg.trace {
        let n: usize = std::env::var("DST_TRACE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(300);
        let skip = sim.trace.len().saturating_sub(n);
        for (t, e) in sim.trace.iter().skip(skip) {
            eprintln!("{t:8} {e:?}");
        }
    }
    r
}

fn run_sim(sim: &mut Sim, rng: &mut ChaCha8Rng, faults: &mut Faults) -> Result<u64, String> {
    let ids = sim.ids();
    for &id in &ids {
        sim.start(id);
    }
    let mut work = Workload {
        clients: Vec::new(),
        counter: 0,
    };
    for i in 0..3 {
        let mut order = ids.clone();
        order.rotate_left(i % ids.len());
        work.clients.push(sim.add_client(order, 4000));
    }
    // Fault phase.
    let fault_end = 20_000 + rng.gen_range(0..20_000);
    while sim.now < fault_end {
        let slice = rng.gen_range(20..300);
        sim.run_for(slice);
        work.act(sim, rng);
        if rng.gen_bool(0.25) {
            let target = ids[rng.gen_range(0..ids.len())];
            let fault = rng.gen_range(0..FAULTS.len());
            *faults.entry(FAULTS[fault]).or_default() += 1;
            match fault {
                0 | 1 => sim.kill(target),
                2 | 3 => {
                    if sim.status(target) == Status::Down {
                        sim.start(target);
                    } else {
                        sim.restart(target);
                    }
                }
                4 => {
                    let mut shuffled = ids.clone();
                    for i in (1..shuffled.len()).rev() {
                        shuffled.swap(i, rng.gen_range(0..=i));
                    }
                    let cut = rng.gen_range(1..shuffled.len());
                    sim.partition(vec![shuffled[..cut].to_vec(), shuffled[cut..].to_vec()]);
                }
                5 => {
                    let other = ids[rng.gen_range(0..ids.len())];
                    if other != target {
                        sim.cut(target, other);
                    }
                }
                6 => sim.heal(),
                7 => sim.pause(target),
                8 => sim.resume(target),
                9 => {
                    // Overlapping kills: most of the cluster at once, back a moment later.
                    let mut down = Vec::new();
                    for &id in &ids {
                        if rng.gen_bool(0.7) {
                            sim.kill(id);
                            down.push(id);
                        }
                    }
                    let gap = rng.gen_range(0..500);
                    sim.run_for(gap);
                    for id in down {
                        sim.start(id);
                    }
                }
                10 => {
                    // Kill the leader just as it gets going.
                    if let Some(l) = sim.leader() {
                        sim.kill(l);
                    }
                }
                11 => {
                    // A disk that suddenly gets slow widens the window of unsynced writes.
                    sim.cfg.disk = Latency {
                        min: 1,
                        max: rng.gen_range(1..200),
                    };
                }
                12 => {
                    // The zxid counter nears its end: the leader must step down for a new
                    // epoch rather than propose counter 0xffffffff (ZOOKEEPER-1277).
                    if let Some(l) = sim.leader() {
                        let left = rng.gen_range(1..40);
                        sim.jump_zxid_counter(l, u32::MAX - left);
                    }
                }
                13 => {
                    // A crash in the middle of a group commit: a prefix of what the disk was
                    // writing is done, the rest lost.
                    let queued = sim.nodes[&target].disk.queued().count();
                    let torn = rng.gen_bool(0.5)
                        && sim.kill_torn(target, rng.gen_range(0..8), rng.gen_range(1..1000));
                    if torn {
                        // The record being written is cut short: recovery must cut it off.
                        *faults.entry("torn write at the crash").or_default() += 1;
                    } else if queued > 0 {
                        let n = rng.gen_range(0..queued);
                        sim.kill_after_writes(target, n);
                    } else {
                        sim.kill(target);
                    }
                }
                15 => {
                    // A bit flips in the newest snapshot; the server restarts on the older
                    // one and the longer log after it.
                    if sim.flip_snapshot_bit(target, rng.gen()) {
                        *faults
                            .entry("  flipped (an older snapshot to fall back on)")
                            .or_default() += 1;
                        sim.restart(target);
                    }
                }
                16 => {
                    // No room on the disk: the server undoes its unsynced writes, leaves the
                    // quorum and rejoins when its probe finds room.
                    sim.fill_disk(target, rng.gen_range(200..8_000));
                }
                17 => {
                    // The next fsync fails (some of its writes on the disk all the same): the
                    // server must stop, acknowledging none of them.
                    sim.fail_next_fsync(target, rng.gen_range(0..4));
                }
                _ => {
                    for &id in &ids {
                        if sim.status(id) == Status::Down {
                            sim.start(id);
                        }
                    }
                }
            }
        }
        if let Some(v) = sim.violations().first() {
            return Err(format!("at {} ms: {v}", sim.now));
        }
    }
    // Recovery: no more faults.
    sim.heal();
    sim.heal_disks();
    for &id in &ids {
        match sim.status(id) {
            Status::Down => sim.start(id),
            Status::Paused => sim.resume(id),
            Status::Up => {}
        }
    }
    // Observers too: one still taking a snapshot holds a tree the checks below would refuse.
    let settled = sim.run_until_pred(60_000, |s| {
        s.leader().is_some()
            && ids
                .iter()
                .all(|id| s.peer(*id).is_some_and(|p| p.is_serving()))
    });
    if !settled {
        let states: Vec<String> = ids
            .iter()
            .map(|id| format!("{id}:{:?}/{:?}", sim.status(*id), sim.state(*id)))
            .collect();
        return Err(format!(
            "no leader with every server serving 60 s after the faults stopped: {states:?}"
        ));
    }
    // Liveness: a fresh client's write commits (retrying on ConnectionLoss, as clients do; a
    // lost attempt may have committed, so NodeExists counts as done).
    let probe = sim.add_client(ids.clone(), 4000);
    let deadline = sim.now + 30_000;
    let mut done = false;
    while !done && sim.now < deadline {
        let xid = sim.client_request(probe, create("/liveness".into(), 0));
        let mut outcome = None;
        sim.run_until_pred(deadline - sim.now, |s| {
            s.client(probe).is_some_and(|c| {
                c.events.iter().any(|e| match e {
                    ClientEvent::Reply { reply, .. } if reply.xid == xid => true,
                    ClientEvent::Lost { xid: x, .. } => *x == xid,
                    _ => false,
                })
            })
        });
        if let Some(c) = sim.client(probe) {
            for e in &c.events {
                match e {
                    ClientEvent::Reply { reply, .. } if reply.xid == xid => {
                        outcome = Some(reply.err)
                    }
                    ClientEvent::Lost { xid: x, .. } if *x == xid => outcome = None,
                    _ => {}
                }
            }
        }
        done = matches!(outcome, Some(e) if e.is_ok() || e == zk_core::ErrorCode::NodeExists);
        if !done {
            sim.run_for(100);
        }
    }
    if !done {
        return Err("a write did not commit within 30 s of a healthy cluster".into());
    }
    sim.run_for(2_000);
    if let Some(v) = sim.violations().first() {
        return Err(v.clone());
    }
    sim.check_trees()?;
    sim.checker.check_clients()?;
    sim.check_watches()?;
    Ok(sim.steps)
}

#[test]
fn randomized_faults() {
    let one: Option<u64> = std::env::var("DST_SEED").ok().and_then(|s| s.parse().ok());
    let seeds: u64 = std::env::var("DST_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let start: u64 = std::env::var("DST_START")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let range: Vec<u64> = match one {
        Some(s) => vec![s],
        None => (start..start + seeds).collect(),
    };
    let mut failures = Vec::new();
    let mut steps = 0;
    let mut faults = Faults::new();
    let mut evaluated: Vec<(Invariant, u64)> = Invariant::ALL.iter().map(|&i| (i, 0)).collect();
    for seed in range {
        match run_seed(seed, &mut faults) {
            Ok((n, evals)) => {
                steps += n;
                for (total, (_, k)) in evaluated.iter_mut().zip(evals) {
                    total.1 += k;
                }
            }
            Err(e) => {
                eprintln!("seed {seed} FAILED: {e}\n  replay: DST_SEED={seed} cargo test --release -p zk-sim --test dst -- --nocapture");
                failures.push(seed);
            }
        }
    }
    eprintln!("{} simulated events; invariants evaluated:", steps);
    for (inv, n) in &evaluated {
        eprintln!("  {:<24} {n}", inv.name());
    }
    eprintln!("faults injected:");
    for (f, n) in &faults {
        eprintln!("  {f:<28} {n}");
    }
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}
