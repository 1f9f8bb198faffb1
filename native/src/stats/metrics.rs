//! ZooKeeper's metrics: the counters and summaries of its `ServerMetrics`, under its names, kept
//! by the peer loop as things happen, and dumped in the order and shape ZooKeeper 3.8 uses.
//!
//! The peer loop owns one [`Metrics`] and feeds it what it sees go by: the core's events
//! (elections, proposals, commits, learner syncs), requests and their replies (read and update
//! latencies), the disk thread's timings (fsync, snapshot) and client bytes. Gauges are not kept
//! here: they are read from the server's state when a report is asked for (`stats.rs`).
//!
//! ZooKeeper registers many metrics for machinery this server does not have (request throttling,
//! commit-processor worker pools, netty buffers, TLS). Those keep their names and stay at zero
//! observations: the thing they count never happens here. Which of ZooKeeper's metrics this
//! server really measures is [`MEASURED`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use zk_core::peer::messages::ServerState;
use zk_core::peer::{PeerEvent, SyncMode};
use zk_core::server::BufferStats;
use zk_core::{ConnId, Millis};

/// How ZooKeeper exports a metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A value read on demand (`registerGauge`).
    Gauge,
    /// A running count (`getCounter`).
    Counter,
    /// `getSummary(name, BASIC)`: avg/min/max/cnt/sum in `mntr`, the median in Prometheus.
    BasicSummary,
    /// `getSummary(name, ADVANCED)`: adds p50/p95/p99/p999 in `mntr`, 0.5/0.9/0.99 in Prometheus.
    Summary,
}

const ORDER: &str = include_str!("metrics_order.txt");

/// Every metric ZooKeeper 3.8 dumps, in its dump order.
pub fn catalogue() -> &'static [(Kind, &'static str)] {
    static CATALOGUE: OnceLock<Vec<(Kind, &'static str)>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        ORDER
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| {
                let (kind, name) = l.split_once(' ').expect("'kind name' lines");
                let kind = match kind {
                    "gauge" => Kind::Gauge,
                    "counter" => Kind::Counter,
                    "basic_summary" => Kind::BasicSummary,
                    "summary" => Kind::Summary,
                    other => panic!("metrics_order.txt: unknown kind {other}"),
                };
                (kind, name.trim())
            })
            .collect()
    })
}

/// Gauges only the leader of an ensemble registers (`LeaderZooKeeperServer.registerMetrics`).
pub const LEADER_GAUGES: [&str; 9] = [
    "learners",
    "synced_followers",
    "synced_non_voting_followers",
    "synced_observers",
    "pending_syncs",
    "leader_uptime",
    "last_proposal_size",
    "max_proposal_size",
    "min_proposal_size",
];

/// Counters and summaries this server measures; the rest of the catalogue stays at zero.
pub const MEASURED: [&str; 18] = [
    "proposal_count",
    "commit_count",
    "looking_count",
    "diff_count",
    "snap_count",
    "learner_proposal_received_count",
    "learner_commit_received_count",
    "connection_request_count",
    "connection_revalidate_count",
    "bytes_received_count",
    "election_time",
    "fsynctime",
    "sync_processor_batch_size",
    "snapshottime",
    "dbinittime",
    "startup_txns_loaded",
    "readlatency",
    "updatelatency",
];

/// Samples a summary keeps for its percentiles (ZooKeeper's `ResettableUniformReservoir`).
const RESERVOIR: usize = 4096;

/// ZooKeeper's `AvgMinMaxCounter` with the percentile reservoir of `AvgMinMaxPercentileCounter`.
#[derive(Clone, Debug)]
pub struct Summary {
    count: u64,
    total: i64,
    min: i64,
    max: i64,
    samples: Vec<i64>,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            count: 0,
            total: 0,
            min: i64::MAX,
            max: i64::MIN,
            samples: Vec::new(),
        }
    }
}

impl Summary {
    pub fn add(&mut self, v: i64) {
        self.count += 1;
        self.total = self.total.saturating_add(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        // Uniform sampling (Vitter's algorithm R), as Dropwizard's reservoir does.
        if self.samples.len() < RESERVOIR {
            self.samples.push(v);
        } else {
            let i = fastrand::u64(0..self.count) as usize;
            if i < RESERVOIR {
                self.samples[i] = v;
            }
        }
    }
    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn sum(&self) -> i64 {
        self.total
    }
    /// 0 before the first observation, as ZooKeeper prints it.
    pub fn min(&self) -> i64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }
    pub fn max(&self) -> i64 {
        if self.count == 0 {
            0
        } else {
            self.max
        }
    }
    /// The mean rounded half-up to four decimals (`AvgMinMaxCounter.getAvg`).
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            round4(self.total as f64 / self.count as f64)
        }
    }
    /// Dropwizard's `UniformSnapshot.getValue(q)`: NaN with no samples.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.samples.is_empty() {
            return f64::NAN;
        }
        let mut v = self.samples.clone();
        v.sort_unstable();
        let pos = q * (v.len() as f64 + 1.0);
        let n = v.len();
        if pos < 1.0 {
            return v[0] as f64;
        }
        if pos >= n as f64 {
            return v[n - 1] as f64;
        }
        let lower = v[pos as usize - 1] as f64;
        let upper = v[pos as usize] as f64;
        lower + (pos - pos.floor()) * (upper - lower)
    }
    /// `Math.round` of a quantile, 0 with no samples (`mntr`'s `p50_`...).
    pub fn percentile(&self, q: f64) -> i64 {
        let x = self.quantile(q);
        if x.is_nan() {
            0
        } else {
            (x + 0.5).floor() as i64
        }
    }
}

/// Java's `BigDecimal.setScale(4, HALF_UP)` on a double, as ZooKeeper rounds averages.
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A value as ZooKeeper's dump hands it over: Java `long`, `double` or `String`.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Int(i64),
    Float(f64),
    Str(String),
}

/// What the disk thread reports besides durability.
#[derive(Clone, Copy, Debug)]
pub enum DiskMetric {
    /// A batch of `appends` transactions written and fsynced in `ms`.
    Fsync { ms: u64, appends: u64 },
    /// A snapshot of the tree at `zxid` written in `ms`.
    Snapshot { zxid: zk_core::Zxid, ms: u64 },
}

/// The counters and summaries of one server, reset by `srst`.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: HashMap<&'static str, u64>,
    summaries: HashMap<&'static str, Summary>,
    /// Sizes of replies and watch events sent to clients (`ServerStats.clientResponseStats`).
    pub client_response: BufferStats,
    /// Bytes read from client sockets; the socket tasks add to it.
    pub bytes_received: Arc<AtomicU64>,
    /// Requests waiting for their reply: when they came and whether they are updates.
    pending: HashMap<(ConnId, i32), (Millis, bool)>,
    looking_since: Option<Millis>,
    /// When this server started leading (`zk_leader_uptime`).
    pub leader_since: Option<Millis>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    pub fn count(&mut self, name: &'static str, n: u64) {
        *self.counters.entry(name).or_default() += n;
    }

    pub fn observe(&mut self, name: &'static str, v: i64) {
        self.summaries.entry(name).or_default().add(v);
    }

    pub fn counter(&self, name: &str) -> u64 {
        let own = self.counters.get(name).copied().unwrap_or(0);
        if name == "bytes_received_count" {
            return own + self.bytes_received.load(Ordering::Relaxed);
        }
        own
    }

    pub fn summary(&self, name: &str) -> Option<&Summary> {
        self.summaries.get(name)
    }

    /// `srst`: `ServerMetrics.resetAll()` and the client response sizes.
    pub fn reset(&mut self) {
        self.counters.clear();
        self.summaries.clear();
        self.client_response = BufferStats::default();
        self.bytes_received.store(0, Ordering::Relaxed);
    }

    /// A client request arrived; `update` for the ones that become transactions.
    pub fn request_in(&mut self, conn: ConnId, xid: i32, update: bool, now: Millis) {
        self.pending.insert((conn, xid), (now, update));
    }

    /// Its reply went out: `readlatency` or `updatelatency`, as `ServerStats.updateLatency`.
    pub fn reply_out(&mut self, conn: ConnId, xid: i32, now: Millis) {
        if let Some((since, update)) = self.pending.remove(&(conn, xid)) {
            let lat = now.saturating_sub(since) as i64;
            self.observe(
                if update {
                    "updatelatency"
                } else {
                    "readlatency"
                },
                lat,
            );
        }
    }

    /// The connection is gone: its unanswered requests will never be.
    pub fn conn_gone(&mut self, conn: ConnId) {
        self.pending.retain(|(c, _), _| *c != conn);
    }

    /// The peer (re)entered LOOKING: QuorumPeer counts every turn, and times the election
    /// from it. A quorum member starts there.
    pub fn looking(&mut self, now: Millis) {
        self.count("looking_count", 1);
        self.looking_since = Some(now);
    }

    /// What the core reported; `state` is the peer's state after it.
    pub fn peer_event(&mut self, e: &PeerEvent, state: ServerState, now: Millis) {
        match e {
            PeerEvent::State { from, to, .. } => {
                if *to == ServerState::Looking {
                    self.looking(now);
                }
                if *to == ServerState::Leading {
                    self.leader_since = Some(now);
                } else if *from == ServerState::Leading {
                    self.leader_since = None;
                }
            }
            PeerEvent::Elected { state: s, .. } => {
                // Leader.lead and Follower.followLeader record it; an observer does not.
                let since = self.looking_since.take();
                if matches!(s, ServerState::Leading | ServerState::Following) {
                    if let Some(t) = since {
                        self.observe("election_time", now.saturating_sub(t) as i64);
                    }
                }
            }
            PeerEvent::Proposed { .. } if state == ServerState::Leading => {
                self.count("proposal_count", 1);
            }
            PeerEvent::Committed { .. } if state == ServerState::Leading => {
                self.count("commit_count", 1);
            }
            PeerEvent::Sync { mode, .. } => match mode {
                SyncMode::Diff => self.count("diff_count", 1),
                SyncMode::Snap => self.count("snap_count", 1),
                SyncMode::Trunc => {}
            },
            _ => {}
        }
    }

    pub fn disk(&mut self, m: DiskMetric) {
        match m {
            DiskMetric::Fsync { ms, appends } => {
                self.observe("fsynctime", ms as i64);
                if appends > 0 {
                    self.observe("sync_processor_batch_size", appends as i64);
                }
            }
            DiskMetric::Snapshot { ms, .. } => self.observe("snapshottime", ms as i64),
        }
    }

    /// Every counter and summary in the catalogue as `mntr` prints them (gauges come from
    /// `gauge`, which returns `None` for those this role does not register).
    pub fn dump(&self, gauge: impl Fn(&str) -> Option<Val>) -> Vec<(String, Val)> {
        let mut out = Vec::new();
        for &(kind, name) in catalogue() {
            match kind {
                Kind::Gauge => {
                    if let Some(v) = gauge(name) {
                        out.push((name.to_string(), v));
                    }
                }
                Kind::Counter => {
                    out.push((name.to_string(), Val::Int(self.counter(name) as i64)));
                }
                Kind::BasicSummary | Kind::Summary => {
                    let empty = Summary::default();
                    let s = self.summary(name).unwrap_or(&empty);
                    out.push((format!("avg_{name}"), Val::Float(s.avg())));
                    out.push((format!("min_{name}"), Val::Int(s.min())));
                    out.push((format!("max_{name}"), Val::Int(s.max())));
                    out.push((format!("cnt_{name}"), Val::Int(s.count() as i64)));
                    out.push((format!("sum_{name}"), Val::Int(s.sum())));
                    if kind == Kind::Summary {
                        for (p, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)]
                        {
                            out.push((format!("{p}_{name}"), Val::Int(s.percentile(q))));
                        }
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_has_zookeepers_145_metrics_in_dump_order() {
        let c = catalogue();
        assert_eq!(c.len(), 145);
        assert_eq!(c[0], (Kind::Gauge, "ephemerals_count"));
        assert_eq!(c.iter().filter(|(k, _)| *k == Kind::Counter).count(), 47);
        assert_eq!(c.last(), Some(&(Kind::Summary, "write_commitproc_time_ms")));
        for name in MEASURED.iter().chain(LEADER_GAUGES.iter()) {
            assert!(
                c.iter().any(|(_, n)| n == name),
                "{name} is not ZooKeeper's"
            );
        }
    }

    #[test]
    fn summaries_round_and_interpolate_like_zookeeper() {
        let mut s = Summary::default();
        assert_eq!(
            (s.avg(), s.min(), s.max(), s.percentile(0.5)),
            (0.0, 0, 0, 0)
        );
        assert!(s.quantile(0.5).is_nan());
        for v in [0, 15, 0, 0, 10, 0, 5, 3, 7] {
            s.add(v);
        }
        assert_eq!(s.avg(), 4.4444);
        assert_eq!((s.min(), s.max(), s.count(), s.sum()), (0, 15, 9, 40));
        assert_eq!(s.percentile(0.5), 3);
        assert_eq!(s.percentile(0.999), 15);
    }

    #[test]
    fn latencies_split_reads_from_updates_and_srst_resets() {
        let mut m = Metrics::new();
        m.request_in(ConnId(1), 1, false, 10);
        m.request_in(ConnId(1), 2, true, 10);
        m.request_in(ConnId(2), 1, false, 10);
        m.reply_out(ConnId(1), 1, 12);
        m.reply_out(ConnId(1), 2, 30);
        m.conn_gone(ConnId(2));
        m.reply_out(ConnId(2), 1, 40);
        assert_eq!(m.summary("readlatency").unwrap().count(), 1);
        assert_eq!(m.summary("updatelatency").unwrap().max(), 20);
        m.bytes_received.fetch_add(8, Ordering::Relaxed);
        assert_eq!(m.counter("bytes_received_count"), 8);
        m.reset();
        assert!(m.summary("readlatency").is_none());
        assert_eq!(m.counter("bytes_received_count"), 0);
    }

    #[test]
    fn events_count_elections_proposals_and_syncs() {
        let mut m = Metrics::new();
        let to_looking = PeerEvent::State {
            from: ServerState::Following,
            to: ServerState::Looking,
            why: zk_core::peer::StateReason::QuorumLost,
        };
        m.peer_event(&to_looking, ServerState::Looking, 100);
        let elected = PeerEvent::Elected {
            vote: zk_core::peer::messages::Vote {
                leader: zk_core::ServerId(1),
                zxid: zk_core::Zxid(0),
                election_epoch: 1,
                peer_epoch: 0,
            },
            state: ServerState::Leading,
        };
        m.peer_event(&elected, ServerState::Leading, 350);
        let proposed = PeerEvent::Proposed {
            entry: std::sync::Arc::new(zk_core::txn::TxnEntry {
                hdr: zk_core::txn::TxnHeader {
                    session: zk_core::SessionId(1),
                    cxid: 1,
                    zxid: zk_core::Zxid(1),
                    time: 0,
                },
                txn: zk_core::txn::Txn::Error {
                    err: zk_core::ErrorCode::NoNode,
                },
                digest: None,
            }),
        };
        m.peer_event(&proposed, ServerState::Leading, 400);
        m.peer_event(&proposed, ServerState::Standalone, 400);
        assert_eq!(m.counter("looking_count"), 1);
        assert_eq!(
            m.counter("proposal_count"),
            1,
            "a standalone server proposes nothing"
        );
        assert_eq!(m.summary("election_time").unwrap().max(), 250);
        let dump = m.dump(|_| None);
        assert!(dump.contains(&("proposal_count".to_string(), Val::Int(1))));
        assert!(dump.contains(&("p999_readlatency".to_string(), Val::Int(0))));
        assert!(dump.contains(&("avg_election_time".to_string(), Val::Float(250.0))));
    }
}
