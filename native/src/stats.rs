//! What a server says about itself, in Apache ZooKeeper 3.8's own formats, so that existing
//! scripts and monitoring read it unchanged:
//!
//! * the four-letter words on the client port (`ruok`, `srvr`, `stat`, `mntr`, `cons`, `conf`,
//!   `dump`, `envi`, `wchs`, `wchc`, `wchp`, `dirs`, `isro`, `crst`, `srst`, `gtmk`, `hash`) —
//!   [`four_letter`], in `words.rs`;
//! * the AdminServer's JSON commands on `admin.serverPort` under `admin.commandURL` — [`admin`],
//!   in `admin.rs`, printed byte for byte as ZooKeeper's Jackson printer does (`json.rs`);
//! * Prometheus metrics on `metricsProvider.httpPort` — [`prometheus`], in `prom.rs`.
//!
//! ```text
//!   socket task ──Input::FourLetter / Admin / Metrics──▶ peer loop ──ServerView──▶ stats ──▶ text
//! ```
//!
//! Every report is computed from a [`ServerView`] the peer loop builds when asked, so nothing is
//! kept twice: gauges are read from the core's state; the counters and summaries of ZooKeeper's
//! `ServerMetrics` that the core does not keep are in [`metrics::Metrics`], which the peer loop
//! feeds as it goes. Commands that change something (`srst`, `crst`, `stmk`) are named by
//! [`effect_of_word`] and [`effect_of_admin`] and carried out by the peer loop before it asks for
//! the answer, as ZooKeeper resets and then prints.
//!
//! Where a figure cannot be ZooKeeper's (the JVM's memory, a Java system property) the key stays
//! and carries this process's honest equivalent or ZooKeeper's own "not available" value
//! (`<NA>`); no number is made up.

mod admin;
pub mod json;
pub mod metrics;
mod prom;
mod words;

use crate::server::Input;
use metrics::{Metrics, Val};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};
use zk_core::config::Config;
use zk_core::peer::messages::ServerState;
use zk_core::peer::Peer;
use zk_core::{ConnId, Millis, Zxid};

pub use admin::admin;
pub use prom::prometheus;
pub use words::four_letter;

/// The version string ZooKeeper's clients and scripts see (`Version.getFullVersion()`).
pub const VERSION: &str = concat!("3.8.0-zk-rs-", env!("CARGO_PKG_VERSION"), ", built on rust");

/// What a server not in a quorum answers instead of its figures.
pub const ZK_NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// ZooKeeper's default trace mask (`ZooTrace`): `gtmk` reports it, `stmk` stores another one.
/// This server writes no trace log, so the mask is only remembered.
pub const DEFAULT_TRACE_MASK: i64 = 306;

/// Server-wide packet counters (`ServerStats`), reset by `srst`.
#[derive(Clone, Debug, Default)]
pub struct ServerTotals {
    pub packets_received: u64,
    pub packets_sent: u64,
}

/// Everything the reports read, lent by the peer loop for one answer.
pub struct ServerView<'a> {
    pub peer: &'a Peer,
    pub cfg: &'a Config,
    pub conn_addrs: BTreeMap<ConnId, SocketAddr>,
    pub totals: &'a ServerTotals,
    pub metrics: &'a Metrics,
    /// Milliseconds since the server started (the core's clock).
    pub now: Millis,
    pub data_dir: &'a Path,
    pub data_log_dir: &'a Path,
    /// Wall-clock milliseconds at `now == 0`.
    pub started_wall: i64,
    /// The connection asking a four-letter word: ZooKeeper counts and lists it like any other.
    pub asker: Option<SocketAddr>,
    /// The configuration file as read at start (`initial_configuration`).
    pub initial_config: &'a str,
    /// The newest snapshot: its zxid and when it was written (seconds since the epoch).
    pub last_snapshot: Option<(Zxid, i64)>,
    pub trace_mask: i64,
    /// Fsyncs slower than `fsync.warningthresholdms` (`fsync_threshold_exceed_count`).
    pub fsync_threshold_exceeded: u64,
}

impl ServerView<'_> {
    /// `ServerStats.getServerState()`: standalone, leader, follower, observer, or read-only.
    pub fn mode(&self) -> &'static str {
        if self.peer.is_read_only() {
            "read-only"
        } else {
            self.peer.state().mode()
        }
    }
    /// `isZKServerRunning()`: a server out of the quorum says so instead of its figures (the
    /// read-only server runs).
    pub fn serving(&self) -> bool {
        self.peer.is_serving() || self.peer.is_read_only()
    }
    fn standalone(&self) -> bool {
        self.peer.cfg().standalone
    }
    fn leading(&self) -> bool {
        self.peer.state() == ServerState::Leading && !self.standalone()
    }
    /// Client connections, the asking four-letter connection included.
    fn conn_count(&self) -> usize {
        self.peer.server().conn_count() + usize::from(self.asker.is_some())
    }
    /// `DataTree.getNodeCount()`: ZooKeeper's node map holds the root twice (as "" and "/").
    fn node_count(&self) -> usize {
        self.peer.server().tree.node_count() + 1
    }
    fn wall(&self, t: Millis) -> i64 {
        self.started_wall + t as i64
    }
    /// `getDetailedPeerState()` of a quorum member: `leading - broadcast` and the like.
    fn peer_state(&self) -> String {
        let state = match self.peer.state() {
            ServerState::Looking => "looking",
            ServerState::Following => "following",
            ServerState::Leading => "leading",
            ServerState::Observing => "observing",
            ServerState::Standalone => "standalone",
        };
        format!("{state} - {}", self.zab_state())
    }
    /// `QuorumPeer.ZabState`, from the role and how far its epoch has got.
    fn zab_state(&self) -> &'static str {
        let p = self.peer;
        match p.state() {
            ServerState::Looking => "election",
            _ if p.is_serving() => "broadcast",
            // A leader proposes its epoch (acceptedEpoch) before a quorum acknowledges it
            // (currentEpoch); a learner takes the new epoch from LEADERINFO, then syncs.
            ServerState::Leading if p.accepted_epoch() > p.current_epoch() => "discovery",
            ServerState::Leading => "synchronization",
            _ if p.accepted_epoch() > p.current_epoch() => "synchronization",
            _ => "discovery",
        }
    }
    /// The sizes ZooKeeper's `dirs` reports: its `version-2` directories.
    fn dir_sizes(&self) -> (u64, u64) {
        // ZooKeeper's getDataDirSize measures the log directory and getLogDirSize the snapshot
        // directory; with one dataDir they agree.
        (
            dir_size(&version_dir(self.data_log_dir)),
            dir_size(&version_dir(self.data_dir)),
        )
    }
}

/// A gauge ZooKeeper registers for this server's role, or `None` when the role has none by that
/// name (leader gauges on a follower, `quorum_size` on a standalone server).
pub(crate) fn gauge(v: &ServerView, name: &str) -> Option<Val> {
    let p = v.peer;
    let s = &p.server();
    let lat = &s.latency;
    let int = |x: i64| Some(Val::Int(x));
    if metrics::LEADER_GAUGES.contains(&name) && !v.leading() {
        return None;
    }
    match name {
        "ephemerals_count" => int(s.tree.ephemeral_count() as i64),
        "num_alive_connections" => int(v.conn_count() as i64),
        "avg_latency" => Some(Val::Float(metrics::round4(lat.avg()))),
        "min_latency" => int(lat.min as i64),
        "max_latency" => int(lat.max as i64),
        "outstanding_requests" => int(s.outstanding_requests() as i64),
        "znode_count" => int(v.node_count() as i64),
        "global_sessions" => int(p.session_count() as i64),
        "packets_sent" => int(v.totals.packets_sent as i64),
        "packets_received" => int(v.totals.packets_received as i64),
        "watch_count" => int(s.watches.watch_count() as i64),
        "approximate_data_size" => int(s.tree.approximate_data_size() as i64),
        // Local sessions are not supported: there are none.
        "local_sessions" => int(0),
        "uptime" => int(v.now as i64),
        "open_file_descriptor_count" => int(proc_info::open_fds()),
        "max_file_descriptor_count" => int(proc_info::max_fds()),
        // Connections are never dropped at random here, and there is no TLS.
        "connection_drop_probability" => Some(Val::Float(0.0)),
        "outstanding_tls_handshake"
        | "auth_failed_count"
        | "non_mtls_remote_conn_count"
        | "non_mtls_local_conn_count" => int(0),
        "last_client_response_size" => int(v.metrics.client_response.last),
        "min_client_response_size" => int(v.metrics.client_response.min),
        "max_client_response_size" => int(v.metrics.client_response.max),
        "quorum_size" if !v.standalone() => int(p.cfg().quorum.voters().len() as i64),
        "learners" => int(p.learners().len() as i64),
        "synced_followers" => int(p.synced_learners().iter().filter(|(_, o)| !o).count() as i64),
        // Followers outside the voting view exist only with dynamic reconfiguration.
        "synced_non_voting_followers" => int(0),
        "synced_observers" => int(p.synced_learners().iter().filter(|(_, o)| *o).count() as i64),
        "pending_syncs" => int(p.pending_syncs() as i64),
        "leader_uptime" => int(v
            .metrics
            .leader_since
            .map_or(0, |t| v.now.saturating_sub(t)) as i64),
        "last_proposal_size" => int(p.proposal_sizes().map_or(-1, |b| b.last)),
        "min_proposal_size" => int(p.proposal_sizes().map_or(-1, |b| b.min)),
        "max_proposal_size" => int(p.proposal_sizes().map_or(-1, |b| b.max)),
        _ => None,
    }
}

/// `mntr`'s and `monitor`'s values, as `MonitorCommand` collects them: `dumpMonitorValues`,
/// then the metrics provider's dump (ZooKeeper's default provider, the Prometheus one, or none).
pub(crate) fn monitor_values(v: &ServerView) -> Vec<(String, Val)> {
    let mut out = vec![
        ("version".to_string(), Val::Str(VERSION.to_string())),
        ("server_state".to_string(), Val::Str(v.mode().to_string())),
    ];
    if !v.standalone() {
        out.push(("peer_state".to_string(), Val::Str(v.peer_state())));
    }
    if v.peer.state() == ServerState::Observing {
        let leader = v.peer.leader_id().map_or(-1, |l| l.0 as i64);
        out.push(("observer_master_id".to_string(), Val::Int(leader)));
    }
    let provider = v.cfg.metrics.class_name.as_str();
    if provider == zk_core::config::PROMETHEUS_METRICS_PROVIDER {
        for f in prom::families(v) {
            for s in f.samples {
                out.push((s.dump_key(), Val::Float(s.value)));
            }
        }
    } else if provider != zk_core::config::NULL_METRICS_PROVIDER {
        out.extend(v.metrics.dump(|name| gauge(v, name)));
    }
    out
}

/// Something a command changes before it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// `srst` / `stat_reset`: server statistics and metrics (and a leader's proposal sizes).
    ResetServerStats,
    /// `crst` / `connection_stat_reset`: every connection's statistics.
    ResetConnStats,
    /// `set_trace_mask?traceMask=N`.
    SetTraceMask(i64),
}

/// What a four-letter word changes (it runs only on a serving server, like ZooKeeper's).
pub fn effect_of_word(cmd: &str, serving: bool) -> Option<Effect> {
    match cmd {
        "srst" if serving => Some(Effect::ResetServerStats),
        "crst" if serving => Some(Effect::ResetConnStats),
        _ => None,
    }
}

/// What an AdminServer command changes, given its arguments.
pub fn effect_of_admin(cmd: &str, args: &[(String, String)], serving: bool) -> Option<Effect> {
    match admin::primary_name(cmd)? {
        "stat_reset" if serving => Some(Effect::ResetServerStats),
        "connection_stat_reset" if serving => Some(Effect::ResetConnStats),
        "set_trace_mask" => args
            .iter()
            .find(|(k, _)| k == "traceMask")
            .and_then(|(_, v)| v.parse().ok())
            .map(Effect::SetTraceMask),
        _ => None,
    }
}

// ---- Java's ways of printing -------------------------------------------------------------

/// `Double.toString`: `0.0`, `4.4444`, `1.0E7`, `NaN`.
pub fn java_double(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let a = x.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{x}");
        if s.contains('.') {
            s
        } else {
            format!("{s}.0")
        }
    } else {
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_string()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exp}")
    }
}

/// `String.hashCode`.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// `Long.hashCode`.
pub fn java_long_hash(v: i64) -> i32 {
    (v ^ ((v as u64 >> 32) as i64)) as i32
}

/// The order a `java.util.HashMap` or `HashSet` grown one entry at a time iterates its keys:
/// by bucket, then (as we cannot know insertion order) in the order given.
pub fn java_hash_order<T>(mut items: Vec<T>, hash: impl Fn(&T) -> i32) -> Vec<T> {
    let mut cap = 16usize;
    while items.len() > cap * 3 / 4 {
        cap *= 2;
    }
    items.sort_by_key(|t| {
        let h = hash(t) as u32;
        ((h ^ (h >> 16)) as usize) & (cap - 1)
    });
    items
}

/// `java.util.Date.toString()` in UTC: `Sun Nov 22 05:29:32 UTC 2026` (zkCli's stat prints the
/// same, so the core has it).
pub use zk_cli::java_date;

fn version_dir(p: &Path) -> std::path::PathBuf {
    let v = p.join("version-2");
    if v.is_dir() {
        v
    } else {
        p.to_path_buf()
    }
}

fn dir_size(p: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                match e.metadata() {
                    Ok(m) if m.is_dir() => stack.push(e.path()),
                    Ok(m) => total += m.len(),
                    Err(_) => {}
                }
            }
        }
    }
    total
}

/// This process as the operating system sees it: file descriptors, memory, CPU time.
pub(crate) mod proc_info {
    /// Open file descriptors (`/proc/self/fd`), -1 where that cannot be read, as the JVM does.
    pub fn open_fds() -> i64 {
        std::fs::read_dir("/proc/self/fd").map_or(-1, |d| d.count() as i64)
    }

    /// The soft `RLIMIT_NOFILE`, as `getMaxFileDescriptorCount`.
    pub fn max_fds() -> i64 {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct we pass.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
            return -1;
        }
        if r.rlim_cur == libc::RLIM_INFINITY {
            i64::MAX
        } else {
            r.rlim_cur as i64
        }
    }

    /// A `/proc/self/status` or `/proc/meminfo` figure in kB.
    pub fn kb(file: &str, key: &str) -> Option<u64> {
        let text = std::fs::read_to_string(file).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
    }

    /// User plus system CPU time of this process, in seconds.
    pub fn cpu_seconds() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = f.get(11)?.parse().ok()?;
        let stime: f64 = f.get(12)?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        (ticks > 0.0).then(|| (utime + stime) / ticks)
    }
}

// ---- serving ------------------------------------------------------------------------------

/// Starts the AdminServer: `GET admin.commandURL` lists the commands, `GET
/// admin.commandURL/<name>?arg=value` runs one through the peer loop and answers its JSON.
pub async fn spawn_admin(cfg: &Config, tx: mpsc::UnboundedSender<Input>) {
    use axum::extract::{Path as AxPath, Query};
    use axum::http::header::CONTENT_TYPE;
    use axum::response::IntoResponse;
    use axum::routing::get;
    let base = cfg.admin.command_url.trim_end_matches('/').to_string();
    let addr = format!("{}:{}", cfg.admin.server_address, cfg.admin.server_port);
    let listing = admin::command_links(&base);
    let list = move || {
        let body = listing.clone();
        async move { axum::response::Response::new(axum::body::Body::from(body)) }
    };
    let run = move |AxPath(cmd): AxPath<String>, Query(q): Query<Vec<(String, String)>>| {
        let tx = tx.clone();
        async move {
            let (reply, rx) = oneshot::channel();
            let _ = tx.send(Input::Admin {
                cmd,
                args: q,
                reply,
            });
            let body = rx.await.unwrap_or_default();
            ([(CONTENT_TYPE, "application/json")], body).into_response()
        }
    };
    let app = axum::Router::new()
        .route(&format!("{base}/{{cmd}}"), get(run))
        .route(&format!("{base}/"), get(list.clone()));
    let app = if base.is_empty() {
        app
    } else {
        app.route(&base, get(list))
    };
    serve_http("AdminServer", &addr, &base, app).await;
}

/// Starts the Prometheus endpoint (`/metrics`) when `metricsProvider.className` names
/// ZooKeeper's `PrometheusMetricsProvider`, as ZooKeeper does.
pub async fn spawn_metrics(cfg: &Config, tx: mpsc::UnboundedSender<Input>) {
    use axum::http::header::CONTENT_TYPE;
    use axum::response::IntoResponse;
    use axum::routing::get;
    if cfg.metrics.class_name != zk_core::config::PROMETHEUS_METRICS_PROVIDER {
        return;
    }
    let addr = format!("{}:{}", cfg.metrics.http_host, cfg.metrics.http_port);
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let tx = tx.clone();
            async move {
                let (reply, rx) = oneshot::channel();
                let _ = tx.send(Input::Metrics { reply });
                let body = rx.await.unwrap_or_default();
                ([(CONTENT_TYPE, prom::CONTENT_TYPE)], body).into_response()
            }
        }),
    );
    serve_http("metrics", &addr, "/metrics", app).await;
}

/// Serves `app` on `addr` in the background, or logs why `what` could not start; `path` is where
/// it answers, for the log.
async fn serve_http(what: &str, addr: &str, path: &str, app: axum::Router) {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => {
            info!("{what} on http://{addr}{path}");
            tokio::spawn(async move {
                let _ = axum::serve(l, app).await;
            });
        }
        Err(e) => warn!("{what} not started: cannot listen on {addr}: {e}"),
    }
}

#[cfg(test)]
mod tests;
