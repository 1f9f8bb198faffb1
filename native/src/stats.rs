//! What a server says about itself: the four-letter words on the client port, the AdminServer's
//! JSON commands on `admin.serverPort`, and Prometheus metrics on `metricsProvider.httpPort`, in
//! ZooKeeper's formats so existing scripts and monitoring read them unchanged.
//!
//! Everything is computed from a [`ServerView`] that the peer loop builds on demand: no
//! counters are kept twice.

use crate::server::Input;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};
use zk_core::config::Config;
use zk_core::peer::messages::ServerState;
use zk_core::peer::Peer;
use zk_core::{ConnId, Millis};

/// The version string ZooKeeper's clients and scripts see.
pub const VERSION: &str = concat!("3.8.0-zk-rs-", env!("CARGO_PKG_VERSION"), ", built on rust");

/// Server-wide packet counters (`ServerStats`), reset by `srst`.
#[derive(Clone, Debug, Default)]
pub struct ServerTotals {
    pub packets_received: u64,
    pub packets_sent: u64,
}

/// Everything the reports read.
pub struct ServerView<'a> {
    pub peer: &'a Peer,
    pub cfg: &'a Config,
    pub conn_addrs: BTreeMap<ConnId, SocketAddr>,
    pub totals: &'a ServerTotals,
    pub now: Millis,
    pub data_dir: &'a Path,
    pub data_log_dir: &'a Path,
    pub started_wall: i64,
}

impl ServerView<'_> {
    pub fn mode(&self) -> &'static str {
        self.peer.state.mode()
    }
    /// Serving clients (a server out of the quorum says so instead of its figures).
    pub fn serving(&self) -> bool {
        self.peer.is_serving()
    }
}

fn srvr(v: &ServerView) -> String {
    let lat = &v.peer.server.latency;
    let mut s = String::new();
    s.push_str(&format!("Zookeeper version: {VERSION}\n"));
    s.push_str(&format!(
        "Latency min/avg/max: {}/{:.4}/{}\n",
        lat.min,
        lat.avg(),
        lat.max
    ));
    s.push_str(&format!("Received: {}\n", v.totals.packets_received));
    s.push_str(&format!("Sent: {}\n", v.totals.packets_sent));
    s.push_str(&format!("Connections: {}\n", v.peer.server.conn_count()));
    s.push_str(&format!(
        "Outstanding: {}\n",
        v.peer.server.outstanding_requests()
    ));
    s.push_str(&format!(
        "Zxid: {}\n",
        v.peer.server.tree.last_processed_zxid()
    ));
    s.push_str(&format!("Mode: {}\n", v.mode()));
    s.push_str(&format!(
        "Node count: {}\n",
        v.peer.server.tree.node_count()
    ));
    if v.peer.state == ServerState::Leading {
        if let Some(e) = v.peer.leader_epoch() {
            let _ = e;
        }
        s.push_str("Proposal sizes last/min/max: -1/-1/-1\n");
    }
    s
}

fn cons(v: &ServerView) -> String {
    let mut s = String::new();
    for c in v.peer.server.conns() {
        let addr = v
            .conn_addrs
            .get(&c.id)
            .map(|a| a.to_string())
            .unwrap_or_else(|| c.addr.clone());
        let st = &c.stats;
        s.push_str(&format!(
            " /{addr}[{}](queued={},recved={},sent={}",
            if c.established { 1 } else { 0 },
            c.outstanding(),
            st.packets_received,
            st.packets_sent
        ));
        if let Some(session) = c.session {
            let avg = st.total_latency.checked_div(st.completed).unwrap_or(0);
            s.push_str(&format!(
                ",sid={session},lop={},est={},to={},lcxid=0x{:x},lzxid={},lresp={},llat={},minlat={},avglat={},maxlat={}",
                if st.last_op.is_empty() { "NA" } else { &st.last_op },
                v.started_wall + st.established as i64,
                c.timeout,
                st.last_cxid,
                st.last_zxid,
                v.started_wall + st.last_response_time as i64,
                st.max_latency.min(st.max_latency),
                st.min_latency,
                avg,
                st.max_latency
            ));
        }
        s.push_str(")\n");
    }
    s.push('\n');
    s
}

fn stat(v: &ServerView) -> String {
    let mut s = format!("Zookeeper version: {VERSION}\nClients:\n");
    s.push_str(&cons(v));
    let full = srvr(v);
    // stat prints srvr's lines after the version and the client list.
    for line in full.lines().skip(1) {
        s.push_str(line);
        s.push('\n');
    }
    s
}

fn mntr(v: &ServerView) -> String {
    let p = v.peer;
    let t = &p.server.tree;
    let lat = &p.server.latency;
    let mut kv: Vec<(&str, String)> = vec![
        ("zk_version", VERSION.to_string()),
        ("zk_server_state", v.mode().to_string()),
        ("zk_znode_count", t.node_count().to_string()),
        ("zk_watch_count", p.server.watches.watch_count().to_string()),
        ("zk_ephemerals_count", t.ephemeral_count().to_string()),
        (
            "zk_approximate_data_size",
            t.approximate_data_size().to_string(),
        ),
        (
            "zk_num_alive_connections",
            p.server.conn_count().to_string(),
        ),
        (
            "zk_outstanding_requests",
            p.server.outstanding_requests().to_string(),
        ),
        ("zk_packets_received", v.totals.packets_received.to_string()),
        ("zk_packets_sent", v.totals.packets_sent.to_string()),
        ("zk_avg_latency", format!("{:.4}", lat.avg())),
        ("zk_max_latency", lat.max.to_string()),
        ("zk_min_latency", lat.min.to_string()),
        ("zk_zxid", format!("{}", t.last_processed_zxid())),
        ("zk_epoch", p.current_epoch.to_string()),
        ("zk_global_sessions", p.session_count().to_string()),
        ("zk_local_sessions", "0".to_string()),
        ("zk_uptime", (v.now).to_string()),
    ];
    if p.state == ServerState::Leading {
        let learners = p.learners();
        let synced = p.synced_learners();
        kv.push(("zk_learners", learners.len().to_string()));
        kv.push((
            "zk_followers",
            learners.iter().filter(|(_, o)| !o).count().to_string(),
        ));
        kv.push((
            "zk_synced_followers",
            synced.iter().filter(|(_, o)| !o).count().to_string(),
        ));
        kv.push((
            "zk_synced_non_voting_followers",
            synced.iter().filter(|(_, o)| *o).count().to_string(),
        ));
        kv.push((
            "zk_synced_observers",
            synced.iter().filter(|(_, o)| *o).count().to_string(),
        ));
        kv.push(("zk_pending_syncs", p.pending_syncs().to_string()));
        kv.push((
            "zk_outstanding_proposals",
            p.outstanding_proposals().to_string(),
        ));
    }
    let mut s = String::new();
    for (k, val) in kv {
        s.push_str(k);
        s.push('\t');
        s.push_str(&val);
        s.push('\n');
    }
    s
}

/// Answers a four-letter word (already checked against the whitelist). `crst` and `srst` are
/// carried out by the caller, which owns the counters; this only words the answer.
pub fn four_letter(cmd: &str, v: &ServerView) -> String {
    let not_serving = "This ZooKeeper instance is not currently serving requests\n".to_string();
    match cmd {
        "ruok" => "imok".to_string(),
        "isro" => "rw".to_string(),
        "srvr" if !v.serving() => not_serving,
        "srvr" => srvr(v),
        "stat" if !v.serving() => not_serving,
        "stat" => stat(v),
        "mntr" => mntr(v),
        "cons" => cons(v),
        "crst" => "Connection stats reset.\n".to_string(),
        "srst" => "Server stats reset.\n".to_string(),
        "wchs" => {
            let w = &v.peer.server.watches;
            format!(
                "{} connections watching {} paths\nTotal watches:{}\n",
                w.connection_count(),
                w.path_count(),
                w.watch_count()
            )
        }
        "conf" => conf(v),
        "envi" => format!(
            "Environment:\nzookeeper.version={VERSION}\nos.name={}\n",
            std::env::consts::OS
        ),
        "dirs" => format!(
            "datadir_size: {}\nlogdir_size: {}\n",
            dir_size(v.data_dir),
            dir_size(v.data_log_dir)
        ),
        "dump" => {
            let mut s = String::from("SessionTracker dump:\n");
            s.push_str(&format!("Global Sessions({}):\n", v.peer.session_count()));
            s.push_str("ephemeral nodes dump:\n");
            let eph = v.peer.server.tree.ephemerals_by_session();
            s.push_str(&format!("Sessions with Ephemerals ({}):\n", eph.len()));
            for (session, paths) in eph {
                s.push_str(&format!("{session}:\n"));
                for p in paths {
                    s.push_str(&format!("\t{p}\n"));
                }
            }
            s
        }
        "wchc" | "wchp" => {
            let w = &v.peer.server.watches;
            let mut s = String::new();
            if cmd == "wchp" {
                for (path, conns) in w.by_path() {
                    s.push_str(&format!("{path}\n"));
                    for c in conns {
                        let session = v
                            .peer
                            .server
                            .conn(c)
                            .and_then(|c| c.session)
                            .unwrap_or_default();
                        s.push_str(&format!("\t{session}\n"));
                    }
                }
            } else {
                for (c, paths) in w.by_connection() {
                    let session = v
                        .peer
                        .server
                        .conn(c)
                        .and_then(|c| c.session)
                        .unwrap_or_default();
                    s.push_str(&format!("{session}\n"));
                    for p in paths {
                        s.push_str(&format!("\t{p}\n"));
                    }
                }
            }
            s
        }
        other => format!("Unknown command {other}\n"),
    }
}

fn conf(v: &ServerView) -> String {
    let c = v.cfg;
    let mut s = String::new();
    if let Some(port) = c.client_port {
        s.push_str(&format!("clientPort={port}\n"));
    }
    s.push_str(&format!("dataDir={}/version-2\n", c.data_dir));
    s.push_str(&format!("dataDirSize={}\n", dir_size(v.data_dir)));
    s.push_str(&format!("dataLogDir={}/version-2\n", c.data_log_dir));
    s.push_str(&format!("dataLogSize={}\n", dir_size(v.data_log_dir)));
    s.push_str(&format!("tickTime={}\n", c.tick_time));
    s.push_str(&format!("maxClientCnxns={}\n", c.max_client_cnxns));
    s.push_str(&format!("minSessionTimeout={}\n", c.min_session_timeout));
    s.push_str(&format!("maxSessionTimeout={}\n", c.max_session_timeout));
    s.push_str("clientPortListenBacklog=-1\n");
    s.push_str(&format!("serverId={}\n", v.peer.id()));
    if !c.is_standalone() {
        s.push_str(&format!("initLimit={}\nsyncLimit={}\nelectionAlg=3\nelectionPort={}\nquorumPort={}\npeerType={}\n",
            c.init_limit,
            c.sync_limit,
            c.servers.get(&v.peer.id()).and_then(|s| s.addresses.first()).map(|a| a.2).unwrap_or(0),
            c.servers.get(&v.peer.id()).and_then(|s| s.addresses.first()).map(|a| a.1).unwrap_or(0),
            if v.peer.cfg.is_observer() { 1 } else { 0 }));
        for spec in c.servers.values() {
            s.push_str(&format!("server.{}={}\n", spec.id, spec));
        }
    }
    s
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

/// An AdminServer command as JSON.
pub fn admin(cmd: &str, v: &ServerView) -> serde_json::Value {
    use serde_json::json;
    match cmd {
        "ruok" => json!({"command": "ruok", "error": null}),
        "srvr" | "server_stats" => json!({
            "command": "server_stats",
            "error": null,
            "version": VERSION,
            "server_state": v.mode(),
            "node_count": v.peer.server.tree.node_count(),
            "num_alive_client_connections": v.peer.server.conn_count(),
            "outstanding_requests": v.peer.server.outstanding_requests(),
            "last_processed_zxid": v.peer.server.tree.last_processed_zxid().as_i64(),
            "packets_received": v.totals.packets_received,
            "packets_sent": v.totals.packets_sent,
        }),
        "mntr" | "monitor" => {
            let mut m = serde_json::Map::new();
            for line in mntr(v).lines() {
                if let Some((k, val)) = line.split_once('\t') {
                    let k = k.trim_start_matches("zk_").to_string();
                    let parsed = val
                        .parse::<f64>()
                        .map(serde_json::Value::from)
                        .unwrap_or_else(|_| val.into());
                    m.insert(k, parsed);
                }
            }
            m.insert("command".into(), "monitor".into());
            m.insert("error".into(), serde_json::Value::Null);
            serde_json::Value::Object(m)
        }
        other => json!({"command": other, "error": format!("Unknown command: {other}")}),
    }
}

/// The Prometheus text exposition, with ZooKeeper 3.6+'s metric names where they exist.
pub fn prometheus(v: &ServerView) -> String {
    let mut s = String::new();
    for line in mntr(v).lines() {
        if let Some((k, val)) = line.split_once('\t') {
            if let Ok(x) = val.parse::<f64>() {
                let name = k.trim_start_matches("zk_");
                s.push_str(&format!("# TYPE {name} gauge\n{name} {x}\n"));
            }
        }
    }
    s
}

/// Starts the AdminServer (`/commands/<name>` answers JSON).
pub async fn spawn_admin(cfg: &Config, tx: mpsc::UnboundedSender<Input>) {
    use axum::extract::Path as AxPath;
    use axum::routing::get;
    let base = cfg.admin.command_url.trim_end_matches('/').to_string();
    let addr = format!("{}:{}", cfg.admin.server_address, cfg.admin.server_port);
    let route = format!("{base}/{{cmd}}");
    let app = axum::Router::new().route(
        &route,
        get(move |AxPath(cmd): AxPath<String>| {
            let tx = tx.clone();
            async move {
                let (reply, rx) = oneshot::channel();
                let _ = tx.send(Input::Admin { cmd, reply });
                axum::Json(rx.await.unwrap_or(serde_json::Value::Null))
            }
        }),
    );
    match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => {
            info!("AdminServer on http://{addr}{base}");
            tokio::spawn(async move {
                let _ = axum::serve(l, app).await;
            });
        }
        Err(e) => warn!("AdminServer not started: cannot listen on {addr}: {e}"),
    }
}

/// Starts the Prometheus endpoint (`/metrics`).
pub async fn spawn_metrics(cfg: &Config, tx: mpsc::UnboundedSender<Input>) {
    use axum::routing::get;
    // As in ZooKeeper, metrics are served when the Prometheus provider is configured.
    if !cfg.metrics.class_name.contains("Prometheus") {
        return;
    }
    let port = cfg.metrics.http_port;
    let addr = format!("{}:{}", cfg.metrics.http_host, port);
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let tx = tx.clone();
            async move {
                let (reply, rx) = oneshot::channel();
                let _ = tx.send(Input::Metrics { reply });
                rx.await.unwrap_or_default()
            }
        }),
    );
    match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => {
            info!("metrics on http://{addr}/metrics");
            tokio::spawn(async move {
                let _ = axum::serve(l, app).await;
            });
        }
        Err(e) => warn!("metrics not started: cannot listen on {addr}: {e}"),
    }
}
