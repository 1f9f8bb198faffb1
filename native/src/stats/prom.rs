//! Prometheus metrics as ZooKeeper's `PrometheusMetricsProvider` exports them through the
//! Prometheus Java client 0.9: text format 0.0.4, one family per metric named as in ZooKeeper
//! (no prefix), its name as help text; gauges and counters as doubles, summaries with quantiles
//! (0.5 for basic summaries; 0.5, 0.9 and 0.99 for the others) then `_count` and `_sum`. With
//! `metricsProvider.exportJvmInfo` (the default) the client's `process_*` families follow, read
//! from `/proc`; its `jvm_*` families have no equivalent here and are left out.
//!
//! ZooKeeper's quantiles come from a ten-minute sliding window; ours come from the same uniform
//! sample as `mntr`'s percentiles.

use super::metrics::{catalogue, Kind, Summary, Val};
use super::{gauge, java_double, proc_info, ServerView};
use std::fmt::Write;

/// The content type of text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One sample: a name, its labels, a value.
pub struct Sample {
    pub name: String,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
}

impl Sample {
    fn new(name: &str, value: f64) -> Sample {
        Sample {
            name: name.to_string(),
            labels: Vec::new(),
            value,
        }
    }
    /// The key `mntr` prints for it under the Prometheus provider: `name{label="value"}`.
    pub fn dump_key(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }
}

/// One metric family.
pub struct Family {
    pub name: String,
    pub help: String,
    pub kind: &'static str,
    pub samples: Vec<Sample>,
}

/// Every family this server exports, ZooKeeper's first.
pub fn families(v: &ServerView) -> Vec<Family> {
    let mut out = Vec::new();
    for &(kind, name) in catalogue() {
        let family = |kind: &'static str, samples| Family {
            name: name.to_string(),
            help: name.to_string(),
            kind,
            samples,
        };
        match kind {
            Kind::Gauge => {
                let value = match gauge(v, name) {
                    Some(Val::Int(i)) => i as f64,
                    Some(Val::Float(f)) => f,
                    Some(Val::Str(_)) | None => continue,
                };
                out.push(family("gauge", vec![Sample::new(name, value)]));
            }
            Kind::Counter => {
                let value = v.metrics.counter(name) as f64;
                out.push(family("counter", vec![Sample::new(name, value)]));
            }
            Kind::BasicSummary | Kind::Summary => {
                let empty = Summary::default();
                let s = v.metrics.summary(name).unwrap_or(&empty);
                let quantiles: &[(f64, &str)] = if kind == Kind::Summary {
                    &[(0.5, "0.5"), (0.9, "0.9"), (0.99, "0.99")]
                } else {
                    &[(0.5, "0.5")]
                };
                let mut samples: Vec<Sample> = quantiles
                    .iter()
                    .map(|(q, label)| Sample {
                        name: name.to_string(),
                        labels: vec![("quantile", label.to_string())],
                        value: s.quantile(*q),
                    })
                    .collect();
                samples.push(Sample::new(&format!("{name}_count"), s.count() as f64));
                samples.push(Sample::new(&format!("{name}_sum"), s.sum() as f64));
                out.push(family("summary", samples));
            }
        }
    }
    if v.cfg.metrics.export_jvm_info {
        out.extend(process_families(v));
    }
    out
}

/// The Java client's `StandardExports`, from `/proc`.
fn process_families(v: &ServerView) -> Vec<Family> {
    let one = |name: &str, help: &str, kind: &'static str, value: f64| Family {
        name: name.to_string(),
        help: help.to_string(),
        kind,
        samples: vec![Sample::new(name, value)],
    };
    let mut out = Vec::new();
    if let Some(cpu) = proc_info::cpu_seconds() {
        out.push(one(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            "counter",
            cpu,
        ));
    }
    out.push(one(
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        "gauge",
        v.started_wall as f64 / 1000.0,
    ));
    out.push(one(
        "process_open_fds",
        "Number of open file descriptors.",
        "gauge",
        proc_info::open_fds() as f64,
    ));
    out.push(one(
        "process_max_fds",
        "Maximum number of open file descriptors.",
        "gauge",
        proc_info::max_fds() as f64,
    ));
    if let Some(kb) = proc_info::kb("/proc/self/status", "VmSize") {
        out.push(one(
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            "gauge",
            kb as f64 * 1024.0,
        ));
    }
    if let Some(kb) = proc_info::kb("/proc/self/status", "VmRSS") {
        out.push(one(
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "gauge",
            kb as f64 * 1024.0,
        ));
    }
    out
}

/// `Collector.doubleToGoString`.
fn go_double(x: f64) -> String {
    if x == f64::INFINITY {
        "+Inf".into()
    } else if x == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        java_double(x)
    }
}

/// `TextFormat.write004`: `# HELP`, `# TYPE`, then each sample, labels each followed by a comma.
pub fn render(families: &[Family]) -> String {
    let mut s = String::new();
    for f in families {
        let help = f.help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(s, "# HELP {} {help}", f.name);
        let _ = writeln!(s, "# TYPE {} {}", f.name, f.kind);
        for sample in &f.samples {
            s.push_str(&sample.name);
            if !sample.labels.is_empty() {
                s.push('{');
                for (k, val) in &sample.labels {
                    let val = val
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    let _ = write!(s, "{k}=\"{val}\",");
                }
                s.push('}');
            }
            let _ = writeln!(s, " {}", go_double(sample.value));
        }
    }
    s
}

/// The `/metrics` page.
pub fn prometheus(v: &ServerView) -> String {
    render(&families(v))
}
