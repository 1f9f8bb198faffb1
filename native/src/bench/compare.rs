//! `zkbench report DIR`: Apache ZooKeeper and zkserver side by side, from the JSON results the
//! side-by-side script leaves in DIR, with the ratios issue 8's targets are stated in.
//!
//! Result files are named `<case>.<server>.<rep>.json` (`server` is `apache` or `zkserver`;
//! `disk` for the fsync probe). Repeated runs of a case are summarised by their median.

use super::failover::quantile;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One line of the comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub case: String,
    pub metric: String,
    pub apache: Option<f64>,
    pub zkserver: Option<f64>,
    /// zkserver ÷ Apache ZooKeeper (or, for a within-server ratio, as the metric says).
    pub ratio: Option<f64>,
    /// The target, as text (`>= 2`, `<= 0.5`), if the issue sets one.
    pub target: Option<String>,
    pub met: Option<bool>,
    pub runs: usize,
}

/// Which way a metric is better, and its target ratio.
#[derive(Clone, Copy)]
enum Goal {
    AtLeast(f64),
    AtMost(f64),
    None,
}

impl Goal {
    fn text(self) -> Option<String> {
        match self {
            Goal::AtLeast(x) => Some(format!(">= {x}")),
            Goal::AtMost(x) => Some(format!("<= {x}")),
            Goal::None => None,
        }
    }
    fn met(self, r: f64) -> Option<bool> {
        match self {
            Goal::AtLeast(x) => Some(r >= x),
            Goal::AtMost(x) => Some(r <= x),
            Goal::None => None,
        }
    }
}

fn get(v: &Value, path: &[&str]) -> Option<f64> {
    let mut x = v;
    for p in path {
        x = x.get(p)?;
    }
    x.as_f64()
}

/// The metrics of one result, with their goals.
fn metrics(v: &Value) -> Vec<(&'static str, Option<f64>, Goal)> {
    match v.get("kind").and_then(Value::as_str) {
        Some("load") => {
            let mut m = vec![
                (
                    "ops/s",
                    get(v, &["total", "ops_per_sec"]),
                    Goal::AtLeast(2.0),
                ),
                (
                    "p99 ms",
                    get(v, &["total", "latency_ms", "p99"]),
                    Goal::AtMost(0.5),
                ),
                (
                    "p99.9 ms",
                    get(v, &["total", "latency_ms", "p999"]),
                    Goal::None,
                ),
                ("wrong answers", get(v, &["wrong_answers"]), Goal::None),
            ];
            if v.get("disk").is_some_and(|d| !d.is_null()) {
                m.push((
                    "writes/fsync",
                    get(v, &["disk", "writes_per_fsync"]),
                    Goal::None,
                ));
            }
            if v.get("snapshot").is_some_and(|d| !d.is_null()) {
                m.push((
                    "p99.9 steady ms",
                    get(v, &["snapshot", "steady_ms", "p999"]),
                    Goal::None,
                ));
                m.push((
                    "p99.9 in snapshot ms",
                    get(v, &["snapshot", "during_ms", "p999"]),
                    Goal::None,
                ));
            }
            m
        }
        Some("failover") => vec![
            (
                "failover median ms",
                get(v, &["median_ms"]),
                Goal::AtMost(0.5),
            ),
            ("failover p90 ms", get(v, &["p90_ms"]), Goal::None),
            ("failover max ms", get(v, &["max_ms"]), Goal::None),
        ],
        Some("lifecycle") => vec![
            ("start-up ms", get(v, &["startup_ms"]), Goal::None),
            (
                "RSS empty MB",
                get(v, &["rss_empty_kb"]).map(|k| k / 1024.0),
                Goal::None,
            ),
            (
                "RSS loaded MB",
                get(v, &["rss_loaded_kb"]).map(|k| k / 1024.0),
                Goal::AtMost(0.2),
            ),
            (
                "creates/s (populate)",
                get(v, &["creates_per_sec"]),
                Goal::None,
            ),
            ("recovery ms", get(v, &["recovery_ms"]), Goal::None),
        ],
        Some("fsync") => vec![("disk fsyncs/s", get(v, &["fsyncs_per_sec"]), Goal::None)],
        _ => Vec::new(),
    }
}

/// Reads every `*.json` in `dir` and builds the comparison.
pub fn compare(dir: &Path) -> Result<Vec<Row>, String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    // (case, server) → the results of its runs.
    let mut results: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    for name in names {
        let stem = &name[..name.len() - 5];
        let parts: Vec<&str> = stem.rsplitn(3, '.').collect();
        let (case, server) = match parts.as_slice() {
            [rep, server, case] if rep.chars().all(|c| c.is_ascii_digit()) => (*case, *server),
            [server, case] => (*case, *server),
            _ => continue,
        };
        let path = dir.join(&name);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
        if !order.iter().any(|c| c == case) {
            order.push(case.to_string());
        }
        results
            .entry((case.to_string(), server.to_string()))
            .or_default()
            .push(v);
    }
    let median = |vals: &[Value], f: &dyn Fn(&Value) -> Option<f64>| -> Option<f64> {
        let xs: Vec<f64> = vals.iter().filter_map(f).collect();
        (!xs.is_empty()).then(|| quantile(&xs, 0.5))
    };
    // The machine first, then steady load standalone and as an ensemble, then the rest.
    let rank = |c: &str| {
        ["fsync", "standalone", "ensemble", "lifecycle", "failover"]
            .iter()
            .position(|p| c.starts_with(p))
            .unwrap_or(5)
    };
    order.sort_by_key(|c| rank(c));
    let mut rows = Vec::new();
    for case in &order {
        let a = results.get(&(case.clone(), "apache".into()));
        let z = results.get(&(case.clone(), "zkserver".into()));
        let other = results
            .iter()
            .filter(|((c, s), _)| c == case && s != "apache" && s != "zkserver")
            .map(|(_, v)| v);
        for vals in other {
            // A measurement of the machine (the disk), the same for both servers.
            for (i, (name, _, _)) in metrics(&vals[0]).into_iter().enumerate() {
                let x = median(vals, &|v| metrics(v).get(i).and_then(|m| m.1));
                rows.push(Row {
                    case: case.clone(),
                    metric: name.into(),
                    apache: x,
                    zkserver: x,
                    ratio: None,
                    target: None,
                    met: None,
                    runs: vals.len(),
                });
            }
        }
        let Some(first) = a.or(z) else { continue };
        for (i, (name, _, goal)) in metrics(&first[0]).into_iter().enumerate() {
            let m = |vals: Option<&Vec<Value>>| {
                vals.and_then(|v| median(v, &|x| metrics(x).get(i).and_then(|m| m.1)))
            };
            let (av, zv) = (m(a), m(z));
            let ratio = match (av, zv) {
                (Some(a), Some(z)) if a > 0.0 => Some(z / a),
                _ => None,
            };
            rows.push(Row {
                case: case.clone(),
                metric: name.into(),
                apache: av,
                zkserver: zv,
                ratio,
                target: goal.text(),
                met: ratio.and_then(|r| goal.met(r)),
                runs: a.map_or(0, Vec::len).max(z.map_or(0, Vec::len)),
            });
        }
    }
    rows.extend(within_server_rows(&rows));
    Ok(rows)
}

/// Targets stated within one server: failover with data within 1.5x of empty, p99.9 during a
/// snapshot within 2x of steady state.
fn within_server_rows(rows: &[Row]) -> Vec<Row> {
    let mut out = Vec::new();
    let failovers = || {
        rows.iter()
            .filter(|r| r.case.contains("failover-") && r.metric == "failover median ms")
    };
    let empty = failovers().find(|r| r.case.contains("failover-empty"));
    for big in failovers().filter(|r| !r.case.contains("empty")) {
        if let Some(e) = empty {
            let ratio = |b: Option<f64>, e: Option<f64>| match (b, e) {
                (Some(b), Some(e)) if e > 0.0 => Some(b / e),
                _ => None,
            };
            let (ra, rz) = (ratio(big.apache, e.apache), ratio(big.zkserver, e.zkserver));
            out.push(Row {
                case: format!("{} vs failover-empty", big.case),
                metric: "failover with data ÷ empty (each server)".into(),
                apache: ra,
                zkserver: rz,
                ratio: None,
                target: Some("zkserver <= 1.5".into()),
                met: rz.map(|r| r <= 1.5),
                runs: big.runs,
            });
        }
    }
    for steady in rows.iter().filter(|r| r.metric == "p99.9 steady ms") {
        if let Some(during) = rows
            .iter()
            .find(|r| r.case == steady.case && r.metric == "p99.9 in snapshot ms")
        {
            let ratio = |d: Option<f64>, s: Option<f64>| match (d, s) {
                (Some(d), Some(s)) if s > 0.0 => Some(d / s),
                _ => None,
            };
            let rz = ratio(during.zkserver, steady.zkserver);
            out.push(Row {
                case: steady.case.clone(),
                metric: "p99.9 in snapshot ÷ steady (each server)".into(),
                apache: ratio(during.apache, steady.apache),
                zkserver: rz,
                ratio: None,
                target: Some("zkserver <= 2".into()),
                met: rz.map(|r| r <= 2.0),
                runs: steady.runs,
            });
        }
    }
    out
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) => format!("{x:.2}"),
    }
}

/// The comparison as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| case | metric | Apache ZooKeeper | zkserver | zkserver ÷ Apache | target | met | runs |\n\
         |---|---|---:|---:|---:|---|---|---:|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.case,
            r.metric,
            num(r.apache),
            num(r.zkserver),
            r.ratio.map_or("-".into(), |x| format!("{x:.2}")),
            r.target.as_deref().unwrap_or(""),
            match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            },
            r.runs
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, v: Value) {
        std::fs::write(dir.join(name), serde_json::to_string(&v).unwrap()).unwrap();
    }

    fn load(ops: f64, p99: f64) -> Value {
        serde_json::json!({"kind": "load", "total": {"ops_per_sec": ops, "latency_ms": {"p99": p99, "p999": p99 * 2.0}}, "wrong_answers": 0})
    }

    #[test]
    fn medians_ratios_and_targets() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "r90.apache.1.json", load(100.0, 10.0));
        write(d.path(), "r90.apache.2.json", load(300.0, 30.0));
        write(d.path(), "r90.apache.3.json", load(200.0, 20.0));
        write(d.path(), "r90.zkserver.1.json", load(500.0, 5.0));
        write(
            d.path(),
            "failover-empty.apache.1.json",
            serde_json::json!({"kind": "failover", "median_ms": 4000.0, "p90_ms": 1.0, "max_ms": 1.0}),
        );
        write(
            d.path(),
            "failover-empty.zkserver.1.json",
            serde_json::json!({"kind": "failover", "median_ms": 1000.0, "p90_ms": 1.0, "max_ms": 1.0}),
        );
        write(
            d.path(),
            "failover-1m.apache.1.json",
            serde_json::json!({"kind": "failover", "median_ms": 12000.0, "p90_ms": 1.0, "max_ms": 1.0}),
        );
        write(
            d.path(),
            "failover-1m.zkserver.1.json",
            serde_json::json!({"kind": "failover", "median_ms": 1200.0, "p90_ms": 1.0, "max_ms": 1.0}),
        );
        write(
            d.path(),
            "fsync.disk.1.json",
            serde_json::json!({"kind": "fsync", "fsyncs_per_sec": 800.0}),
        );
        write(
            d.path(),
            "notes.txt.json",
            serde_json::json!({"kind": "other"}),
        );
        let rows = compare(d.path()).unwrap();
        let ops = rows
            .iter()
            .find(|r| r.case == "r90" && r.metric == "ops/s")
            .unwrap();
        assert_eq!(
            (ops.apache, ops.zkserver, ops.runs),
            (Some(200.0), Some(500.0), 3)
        );
        assert_eq!(ops.ratio, Some(2.5));
        assert_eq!(ops.met, Some(true));
        let p99 = rows
            .iter()
            .find(|r| r.case == "r90" && r.metric == "p99 ms")
            .unwrap();
        assert_eq!(p99.ratio, Some(0.25));
        assert_eq!(p99.met, Some(true));
        let f = rows
            .iter()
            .find(|r| r.metric.starts_with("failover with data"))
            .unwrap();
        assert_eq!(
            (f.apache, f.zkserver, f.met),
            (Some(3.0), Some(1.2), Some(true))
        );
        let disk = rows.iter().find(|r| r.metric == "disk fsyncs/s").unwrap();
        assert_eq!(
            (disk.apache, disk.zkserver, disk.ratio),
            (Some(800.0), Some(800.0), None)
        );
        let md = markdown(&rows);
        assert!(
            md.contains("| r90 | ops/s | 200 | 500 | 2.50 | >= 2 | yes | 3 |"),
            "{md}"
        );
    }
}
