//! What `zkbench` prints: the results of each kind of run as JSON (`--json`) and as a table, and
//! the side-by-side comparison of two servers' results (`zkbench report`).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Latency percentiles, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Latency {
    /// From a histogram of microseconds.
    pub fn from_micros(h: &Histogram<u64>) -> Latency {
        if h.is_empty() {
            return Latency::default();
        }
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            p50: ms(h.value_at_quantile(0.5)),
            p90: ms(h.value_at_quantile(0.9)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// One operation's (or all operations') count, rate and latency.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OpReport {
    pub count: u64,
    pub ops_per_sec: f64,
    pub latency_ms: Latency,
}

/// Fsyncs the servers reported (`mntr`'s `zk_cnt_fsynctime`) while the load ran.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskReport {
    /// Per server (`host:port`), fsyncs during the load.
    pub fsyncs: BTreeMap<String, u64>,
    /// Write transactions acknowledged during the load (warm-up included).
    pub writes: u64,
    /// `writes` over the largest per-server fsync count: how many writes one fsync carried.
    pub writes_per_fsync: f64,
}

/// Latency of requests that overlapped a snapshot being written, and of the others.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotReport {
    pub snapshots: usize,
    pub snapshot_seconds: f64,
    pub during_count: u64,
    pub during_ms: Latency,
    pub steady_count: u64,
    pub steady_ms: Latency,
}

/// The result of a load run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// "load".
    pub kind: String,
    pub servers: Vec<String>,
    pub sessions: u32,
    pub outstanding: u32,
    pub mix: String,
    pub value_size: usize,
    pub keys: u32,
    pub warmup_s: f64,
    pub measured_s: f64,
    pub total: OpReport,
    pub ops: BTreeMap<String, OpReport>,
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    pub wrong_answers: u64,
    pub wrong_samples: Vec<String>,
    pub checked_replies: u64,
    pub disk: Option<DiskReport>,
    pub snapshot: Option<SnapshotReport>,
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn lat_row(out: &mut String, name: &str, count: u64, rate: Option<f64>, l: &Latency) {
    let rate = rate.map_or_else(|| "-".to_string(), |r| format!("{r:.0}"));
    let _ = writeln!(
        out,
        "{name:<10} {count:>10} {rate:>10} {:>8} {:>8} {:>8} {:>8} {:>8}",
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p999),
        ms(l.max)
    );
}

impl LoadReport {
    /// The human-readable table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} sessions x {} outstanding against {}; mix {}; {}-byte values on {} keys",
            self.sessions,
            self.outstanding,
            self.servers.join(","),
            self.mix,
            self.value_size,
            self.keys
        );
        let _ = writeln!(
            out,
            "measured {:.1} s after a {:.1} s warm-up\n",
            self.measured_s, self.warmup_s
        );
        let _ = writeln!(
            out,
            "{:<10} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "op", "count", "ops/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
        );
        for (name, r) in &self.ops {
            lat_row(&mut out, name, r.count, Some(r.ops_per_sec), &r.latency_ms);
        }
        let t = &self.total;
        lat_row(
            &mut out,
            "total",
            t.count,
            Some(t.ops_per_sec),
            &t.latency_ms,
        );
        if let Some(s) = &self.snapshot {
            let _ = writeln!(
                out,
                "\n{} snapshot(s) seen, {:.1} s in all",
                s.snapshots, s.snapshot_seconds
            );
            lat_row(&mut out, "steady", s.steady_count, None, &s.steady_ms);
            lat_row(&mut out, "snapshot", s.during_count, None, &s.during_ms);
        }
        if let Some(d) = &self.disk {
            let per: Vec<String> = d.fsyncs.iter().map(|(s, n)| format!("{s} {n}")).collect();
            let _ = writeln!(
                out,
                "\nfsyncs: {}; {} writes, {:.1} writes per fsync",
                per.join(", "),
                d.writes,
                d.writes_per_fsync
            );
        }
        let _ = writeln!(
            out,
            "\nchecked {} replies: {} wrong answers, {} errors",
            self.checked_replies, self.wrong_answers, self.errors
        );
        for (k, n) in &self.error_kinds {
            let _ = writeln!(out, "  error: {k} x{n}");
        }
        for w in &self.wrong_samples {
            let _ = writeln!(out, "  WRONG: {w}");
        }
        out
    }
}
