//! `zkbench failover`: how long an ensemble cannot take writes after its leader dies.
//!
//! On a 3-server loopback ensemble of one flavor, each run: wait until the ensemble is whole
//! (every server serving, one leader), keep a writer going against the followers, kill -9 the
//! leader, and time from the kill to the first write acknowledged in a newer epoch (the zxid's
//! high 32 bits): a write the new leader committed. Then restart the killed server and wait for
//! the ensemble to be whole again. The writer reconnects to the surviving servers in turn, as a
//! client library would, with a new session each time.

use super::cluster::{Cluster, Flavor, Settings};
use super::populate::{populate, Populate};
use super::wire::Conn;
use super::workload::create_request;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zk_core::request::{Request, Response};

/// What a failover benchmark is told.
#[derive(Clone, Debug)]
pub struct FailoverOptions {
    pub flavor: Flavor,
    pub settings: Settings,
    pub servers: usize,
    pub runs: usize,
    /// znodes created before the runs (one transaction each).
    pub znodes: u64,
    pub value_size: usize,
    /// Where the servers' files go (default: a temporary directory).
    pub dir: Option<PathBuf>,
    /// How long the ensemble may take to become whole, and a write to be acknowledged.
    pub patience: Duration,
}

/// One kill.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverRun {
    /// From kill -9 to the first write acknowledged by the new leader.
    pub ms: f64,
    /// The killed leader's myid.
    pub killed: u64,
    /// From restarting the killed server to the ensemble being whole again.
    pub rejoin_ms: f64,
}

/// The result of `zkbench failover`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FailoverReport {
    /// "failover".
    pub kind: String,
    pub server: String,
    pub servers: usize,
    pub tick_time: u32,
    pub znodes: u64,
    pub runs: Vec<FailoverRun>,
    pub median_ms: f64,
    pub p90_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
}

/// The `q`-quantile (0..=1) of `v` by the nearest-rank method.
pub fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
    s[rank - 1]
}

impl FailoverReport {
    pub fn table(&self) -> String {
        let mut out = format!(
            "failover of a {}-server {} ensemble (tickTime {} ms, {} znodes): kill -9 of the leader to the next acknowledged write\n\n",
            self.servers, self.server, self.tick_time, self.znodes
        );
        out.push_str(&format!(
            "{:>4} {:>8} {:>12} {:>12}\n",
            "run", "killed", "failover ms", "rejoin ms"
        ));
        for (i, r) in self.runs.iter().enumerate() {
            out.push_str(&format!(
                "{:>4} {:>8} {:>12.0} {:>12.0}\n",
                i + 1,
                r.killed,
                r.ms,
                r.rejoin_ms
            ));
        }
        out.push_str(&format!(
            "\nmedian {:.0} ms, p90 {:.0} ms, min {:.0} ms, max {:.0} ms over {} runs\n",
            self.median_ms,
            self.p90_ms,
            self.min_ms,
            self.max_ms,
            self.runs.len()
        ));
        out
    }
}

const PROBE: &str = "/zkbench-failover";

/// What the writer saw: the newest epoch acknowledged before the kill, and the first write of a
/// newer epoch after it.
struct WriterState {
    epoch_before: AtomicU64,
    acks: AtomicU64,
    kill_at: Mutex<Option<Instant>>,
    first_new: Mutex<Option<Instant>>,
    stop: AtomicBool,
}

async fn writer(addrs: Vec<String>, st: Arc<WriterState>) {
    let mut n = 0usize;
    let data = vec![b'x'; 16];
    while !st.stop.load(Ordering::Relaxed) {
        let addr = &addrs[n % addrs.len()];
        n += 1;
        let Ok(mut c) = Conn::connect(addr, 30_000, Duration::from_secs(1)).await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        while !st.stop.load(Ordering::Relaxed) {
            let req = Request::SetData {
                path: PROBE.into(),
                data: Some(data.clone()),
                version: -1,
            };
            let Ok(r) = c.call(&req, Duration::from_secs(2)).await else {
                break;
            };
            let Response::Stat(stat) = r.body else {
                break;
            };
            let now = Instant::now();
            let epoch = stat.mzxid.0 >> 32;
            let killed = *st.kill_at.lock().unwrap_or_else(|e| e.into_inner());
            match killed {
                None => {
                    st.epoch_before.fetch_max(epoch, Ordering::Relaxed);
                    st.acks.fetch_add(1, Ordering::Relaxed);
                }
                Some(_) if epoch > st.epoch_before.load(Ordering::Relaxed) => {
                    let mut f = st.first_new.lock().unwrap_or_else(|e| e.into_inner());
                    f.get_or_insert(now);
                    return;
                }
                Some(_) => {}
            }
        }
    }
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Runs the failover benchmark.
pub async fn run(o: FailoverOptions, pb: &ProgressBar) -> Result<FailoverReport, String> {
    if o.servers < 3 {
        return Err("failover needs an ensemble of at least 3 servers".into());
    }
    let mut cluster = Cluster::create(o.flavor, o.servers, o.settings.clone(), o.dir.clone())?;
    pb.set_message(format!(
        "starting a {}-server {} ensemble in {}",
        o.servers,
        o.flavor.name(),
        cluster.dir.display()
    ));
    cluster.start_all()?;
    blocking(|| cluster.wait_whole(o.patience))?;
    let addrs = cluster.addrs();
    let mut c = Conn::connect(&addrs[0], 30_000, Duration::from_secs(15))
        .await
        .map_err(|e| e.to_string())?;
    let create = create_request(PROBE.into(), Vec::new());
    let r = c
        .call(&create, Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    if !r.err.is_ok() && r.err != zk_core::ErrorCode::NodeExists {
        return Err(format!("cannot create {PROBE}: {}", r.err.message()));
    }
    c.close(Duration::from_secs(5)).await;
    if o.znodes > 0 {
        pb.set_message(format!("creating {} znodes", o.znodes));
        let took = populate(
            Populate::one_per_txn(addrs.clone(), o.znodes, o.value_size),
            pb,
        )
        .await?;
        pb.println(format!(
            "created {} znodes in {:.1} s",
            o.znodes,
            took.as_secs_f64()
        ));
    }
    let mut runs = Vec::new();
    for run in 1..=o.runs {
        pb.set_message(format!(
            "run {run}/{}: waiting for the ensemble to be whole",
            o.runs
        ));
        let leader = blocking(|| cluster.wait_whole(o.patience))?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let followers: Vec<String> = (0..cluster.len())
            .filter(|&i| i != leader)
            .map(|i| cluster.addr(i))
            .collect();
        let st = Arc::new(WriterState {
            epoch_before: AtomicU64::new(0),
            acks: AtomicU64::new(0),
            kill_at: Mutex::new(None),
            first_new: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let w = tokio::spawn(writer(followers, st.clone()));
        let deadline = Instant::now() + o.patience;
        while st.acks.load(Ordering::Relaxed) < 20 {
            if Instant::now() > deadline {
                st.stop.store(true, Ordering::Relaxed);
                return Err(format!(
                    "run {run}: no write was acknowledged within {:?} before the kill",
                    o.patience
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        pb.set_message(format!(
            "run {run}/{}: kill -9 of the leader, server {}",
            o.runs,
            leader + 1
        ));
        let kill_at = Instant::now();
        *st.kill_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(kill_at);
        blocking(|| cluster.kill9(leader));
        let acked = tokio::time::timeout(o.patience, w).await;
        st.stop.store(true, Ordering::Relaxed);
        let first = *st.first_new.lock().unwrap_or_else(|e| e.into_inner());
        let ms = match (acked, first) {
            (Ok(_), Some(t)) => t.duration_since(kill_at).as_secs_f64() * 1000.0,
            _ => {
                return Err(format!(
                "run {run}: no write acknowledged by a new leader within {:?} of killing server {}",
                o.patience,
                leader + 1
            ))
            }
        };
        pb.set_message(format!(
            "run {run}/{}: restarting server {}",
            o.runs,
            leader + 1
        ));
        let restart = Instant::now();
        cluster.start(leader)?;
        blocking(|| cluster.wait_whole(o.patience))?;
        let rejoin_ms = restart.elapsed().as_secs_f64() * 1000.0;
        pb.println(format!(
            "run {run}: killed leader {}, a new leader acknowledged a write after {ms:.0} ms; whole again {rejoin_ms:.0} ms after the restart",
            leader + 1
        ));
        runs.push(FailoverRun {
            ms,
            killed: leader as u64 + 1,
            rejoin_ms,
        });
    }
    blocking(|| cluster.stop_all());
    let ms: Vec<f64> = runs.iter().map(|r| r.ms).collect();
    Ok(FailoverReport {
        kind: "failover".into(),
        server: o.flavor.name().into(),
        servers: o.servers,
        tick_time: o.settings.tick_time,
        znodes: o.znodes,
        median_ms: quantile(&ms, 0.5),
        p90_ms: quantile(&ms, 0.9),
        min_ms: quantile(&ms, 0.0),
        max_ms: quantile(&ms, 1.0),
        runs,
    })
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn nearest_rank_quantiles() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 3.0);
        assert_eq!(quantile(&v, 0.9), 5.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quantile(&ten, 0.5), 5.0);
        assert_eq!(quantile(&ten, 0.9), 9.0);
    }
}
