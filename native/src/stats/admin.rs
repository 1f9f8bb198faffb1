//! The AdminServer's commands (`server/admin/Commands.java`): names and aliases, which need a
//! serving server, and the JSON each answers, field for field.

use super::json::{Json, Obj};
use super::metrics::Val;
use super::words::{environment, system_properties, version_path};
use super::{
    java_hash_order, java_long_hash, java_string_hash, monitor_values, ServerView, VERSION,
    ZK_NOT_SERVING,
};
use zk_core::SessionId;

/// `(names, serverRequired)` of every command; the first name is the primary one.
const COMMANDS: [(&[&str], bool); 26] = [
    (&["connection_stat_reset", "crst"], true),
    (&["configuration", "conf", "config"], true),
    (&["connections", "cons"], true),
    (&["hash"], true),
    (&["dirs"], true),
    (&["dump"], true),
    (&["environment", "env", "envi"], false),
    (&["get_trace_mask", "gtmk"], false),
    (&["initial_configuration", "icfg"], true),
    (&["is_read_only", "isro"], true),
    (&["last_snapshot", "lsnp"], true),
    (&["leader", "lead"], true),
    (&["monitor", "mntr"], false),
    (&["observer_connection_stat_reset", "orst"], true),
    (&["ruok"], true),
    (&["set_trace_mask", "stmk"], false),
    (&["server_stats", "srvr"], true),
    (&["stats", "stat"], true),
    (&["stat_reset", "srst"], true),
    (&["observers", "obsr"], true),
    (&["system_properties", "sysp"], false),
    (&["voting_view"], true),
    (&["watches", "wchc"], true),
    (&["watches_by_path", "wchp"], true),
    (&["watch_summary", "wchs"], true),
    (&["zabstate"], false),
];

/// The primary name of a command known by `name`.
pub fn primary_name(name: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .find(|(names, _)| names.contains(&name))
        .map(|(names, _)| names[0])
}

/// What `GET admin.commandURL` answers: a link per primary name, sorted.
pub fn command_links(base: &str) -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(|(n, _)| n[0]).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|n| format!("<a href=\"{base}/{n}\">{n}</a>\n<br/>\n"))
        .collect()
}

/// The JSON an AdminServer command answers (`Commands.runCommand`), as ZooKeeper prints it.
pub fn admin(cmd: &str, args: &[(String, String)], v: &ServerView) -> String {
    run(cmd, args, v).pretty()
}

fn run(cmd: &str, args: &[(String, String)], v: &ServerView) -> Json {
    let Some((names, server_required)) = COMMANDS.iter().find(|(n, _)| n.contains(&cmd)) else {
        return response(cmd, Some(format!("Unknown command: {cmd}")), Obj::new());
    };
    if *server_required && !v.serving() {
        return response(cmd, Some(ZK_NOT_SERVING.to_string()), Obj::new());
    }
    let name = names[0];
    let mut o = Obj::new();
    match name {
        "connection_stat_reset" | "observer_connection_stat_reset" | "ruok" | "stat_reset" => {}
        "configuration" => configuration(v, &mut o),
        "connections" => {
            o.put("connections", connections(v, false));
            o.put("secure_connections", Json::Arr(vec![]));
        }
        // No digest log is kept.
        "hash" => {
            o.put("digests", Json::Arr(vec![]));
        }
        "dirs" => {
            let (data, log) = v.dir_sizes();
            o.put("datadir_size", data).put("logdir_size", log);
        }
        "dump" => dump(v, &mut o),
        "environment" => {
            for (k, val) in environment() {
                o.put(k, val);
            }
        }
        "get_trace_mask" => {
            o.put("tracemask", v.trace_mask);
        }
        "initial_configuration" => {
            o.put("initial_configuration", v.initial_config);
        }
        "is_read_only" => {
            o.put("read_only", false);
        }
        "last_snapshot" => {
            let (zxid, ts) = v
                .last_snapshot
                .map_or(("ffffffffffffffff".to_string(), -1), |(z, t)| {
                    (format!("{:x}", z.0), t)
                });
            o.put("zxid", zxid).put("timestamp", ts);
        }
        "leader" => leader(v, &mut o),
        "monitor" => {
            for (k, val) in monitor_values(v) {
                o.put(&k, val_json(val));
            }
        }
        "set_trace_mask" => match args.iter().find(|(k, _)| k == "traceMask") {
            None => {
                o.put("error", "setTraceMask requires long traceMask argument");
            }
            Some((_, raw)) => match raw.parse::<i64>() {
                Ok(mask) => {
                    o.put("tracemask", mask);
                }
                Err(_) => {
                    o.put(
                        "error",
                        format!("setTraceMask requires long traceMask argument, got {raw}"),
                    );
                }
            },
        },
        "server_stats" => server_stats(v, &mut o),
        "stats" => {
            server_stats(v, &mut o);
            o.put("connections", connections(v, true));
            o.put("secure_connections", Json::Arr(vec![]));
        }
        "observers" => observers(v, &mut o),
        "system_properties" => {
            for (k, val) in system_properties() {
                o.put(k, val);
            }
        }
        "voting_view" => voting_view(v, &mut o),
        "watches" => {
            let mut m = Obj::new();
            for (session, paths) in watches_by_session(v) {
                let paths = paths
                    .into_iter()
                    .map(|p| Json::Str(p.to_string()))
                    .collect();
                m.put(&session.0.to_string(), Json::Arr(paths));
            }
            o.put("session_id_to_watched_paths", m);
        }
        "watches_by_path" => {
            let mut m = Obj::new();
            for (path, sessions) in watches_by_path(v) {
                let ids = sessions.into_iter().map(|s| Json::Int(s.0)).collect();
                m.put(path, Json::Arr(ids));
            }
            o.put("path_to_session_ids", m);
        }
        "watch_summary" => {
            let (conns, paths, total) = watch_summary(v);
            o.put("num_connections", conns)
                .put("num_paths", paths)
                .put("num_total_watches", total);
        }
        "zabstate" => zabstate(v, &mut o),
        _ => unreachable!("every command in COMMANDS is answered"),
    }
    response(name, None, o)
}

/// `CommandResponse.toMap()`: the data, with `command` and `error` after it unless the data set
/// them first.
fn response(cmd: &str, error: Option<String>, data: Obj) -> Json {
    let mut m = data.clone();
    m.put("command", cmd);
    m.put("error", error.map_or(Json::Null, Json::Str));
    for (k, val) in data.0 {
        m.put(&k, val);
    }
    m.into()
}

fn val_json(v: Val) -> Json {
    match v {
        Val::Int(i) => Json::Int(i),
        Val::Float(f) => Json::Float(f),
        Val::Str(s) => Json::Str(s),
    }
}

/// The client port this server listens on.
pub(super) fn client_port(v: &ServerView) -> u16 {
    let me = (!v.standalone()).then(|| v.peer.id());
    v.cfg
        .client_address(me)
        .ok()
        .flatten()
        .map_or(0, |(_, port)| port)
}

fn configuration(v: &ServerView, o: &mut Obj) {
    let c = v.cfg;
    o.put("client_port", client_port(v))
        .put("data_dir", version_path(&c.data_dir))
        .put("data_log_dir", version_path(&c.data_log_dir))
        .put("tick_time", c.tick_time)
        .put("max_client_cnxns", c.max_client_cnxns)
        .put("min_session_timeout", c.min_session_timeout)
        .put("max_session_timeout", c.max_session_timeout)
        .put("server_id", if v.standalone() { 0 } else { v.peer.id().0 })
        .put(
            "client_port_listen_backlog",
            c.client_port_listen_backlog.map_or(-1, i64::from),
        );
}

/// `ServerCnxn.getConnectionInfo` of every client connection.
fn connections(v: &ServerView, brief: bool) -> Json {
    let mut list = Vec::new();
    for c in v.peer.server().conns() {
        let st = &c.stats;
        let addr = v
            .conn_addrs
            .get(&c.id)
            .map(|a| a.to_string())
            .unwrap_or_else(|| c.addr.clone());
        let mut o = Obj::new();
        o.put("remote_socket_address", addr)
            .put("interest_ops", 1)
            .put("outstanding_requests", c.outstanding())
            .put("packets_received", st.packets_received)
            .put("packets_sent", st.packets_sent);
        if !brief {
            let avg = st.total_latency.checked_div(st.completed).unwrap_or(0);
            o.put("session_id", c.session.unwrap_or_default().0)
                .put(
                    "last_operation",
                    if st.last_op.is_empty() {
                        "NA"
                    } else {
                        &st.last_op
                    },
                )
                .put("established", v.wall(st.established))
                .put("session_timeout", c.timeout)
                .put("last_cxid", st.last_cxid)
                .put("last_zxid", st.last_zxid.as_i64())
                .put("last_response_time", st.last_response_time)
                .put("last_latency", st.last_latency)
                .put("min_latency", st.min_latency)
                .put("avg_latency", avg)
                .put("max_latency", st.max_latency);
        }
        list.push(o.into());
    }
    Json::Arr(list)
}

fn buffer_stats(b: zk_core::server::BufferStats) -> Obj {
    let mut o = Obj::new();
    o.put("last_buffer_size", b.last)
        .put("min_buffer_size", b.min)
        .put("max_buffer_size", b.max);
    o
}

/// `SrvrCommand`: the version, `ServerStats` as a bean, response and proposal sizes.
fn server_stats(v: &ServerView, o: &mut Obj) {
    let p = v.peer;
    let lat = &p.server().latency;
    let (data, log) = v.dir_sizes();
    let client_response = buffer_stats(v.metrics.client_response);
    let mut stats = Obj::new();
    stats
        .put("packets_sent", v.totals.packets_sent)
        .put("packets_received", v.totals.packets_received)
        .put("fsync_threshold_exceed_count", v.fsync_threshold_exceeded)
        .put("client_response_stats", client_response.clone())
        .put("data_dir_size", data)
        .put("log_dir_size", log)
        .put("provider_null", false)
        .put("server_state", v.mode())
        .put(
            "last_processed_zxid",
            p.server().tree.last_processed_zxid().as_i64(),
        )
        .put("outstanding_requests", p.server().outstanding_requests())
        .put("avg_latency", super::metrics::round4(lat.avg()))
        .put("max_latency", lat.max)
        .put("min_latency", lat.min)
        .put("num_alive_client_connections", p.server().conn_count())
        .put("uptime", v.now)
        .put("auth_failed_count", 0)
        .put("non_mtlsremote_conn_count", 0)
        .put("non_mtlslocal_conn_count", 0);
    o.put("version", VERSION)
        .put("read_only", false)
        .put("server_stats", stats)
        .put("client_response", client_response);
    if v.leading() {
        o.put(
            "proposal_stats",
            buffer_stats(p.proposal_sizes().unwrap_or_default()),
        );
    }
    o.put("node_count", v.node_count());
}

/// `DumpCommand`: session expiry buckets (the leader's clock, in ms) and ephemeral nodes.
fn dump(v: &ServerView, o: &mut Obj) {
    let mut expiry: std::collections::BTreeMap<u64, Vec<SessionId>> = Default::default();
    for (at, id) in v.peer.session_expiries().unwrap_or_default() {
        expiry.entry(at).or_default().push(id);
    }
    let mut e = Obj::new();
    for (at, ids) in expiry {
        let ids = java_hash_order(ids, |i| java_long_hash(i.0));
        e.put(
            &at.to_string(),
            Json::Arr(ids.into_iter().map(|i| Json::Int(i.0)).collect()),
        );
    }
    o.put("expiry_time_to_session_ids", e);
    let mut eph = Obj::new();
    let sessions = java_hash_order(
        v.peer
            .server()
            .tree
            .ephemerals_by_session()
            .iter()
            .collect(),
        |(id, _)| java_long_hash(id.0),
    );
    for (id, paths) in sessions {
        let paths = java_hash_order(paths.iter().collect(), |p| java_string_hash(p));
        eph.put(
            &id.0.to_string(),
            Json::Arr(paths.into_iter().map(|p| Json::Str(p.clone())).collect()),
        );
    }
    o.put("session_id_to_ephemeral_paths", eph);
}

/// The leader's client host, as configured for it.
fn leader_host(v: &ServerView, id: zk_core::ServerId) -> String {
    v.cfg
        .servers
        .get(&id)
        .and_then(|s| s.addresses.first())
        .map(|a| a.0.clone())
        .unwrap_or_default()
}

fn leader(v: &ServerView, o: &mut Obj) {
    if v.standalone() {
        o.put("error", "server is not initialized");
        return;
    }
    let leader = v.peer.leader_id();
    o.put("is_leader", v.leading())
        .put("leader_id", leader.map_or(-1, |l| l.0 as i64))
        .put(
            "leader_ip",
            leader.map(|l| leader_host(v, l)).unwrap_or_default(),
        );
}

/// `SyncedObserverConsCommand`. Per-observer connection statistics are not kept here, so each
/// synced observer is listed by its id only.
fn observers(v: &ServerView, o: &mut Obj) {
    let synced: Vec<_> = if v.leading() {
        v.peer
            .synced_learners()
            .into_iter()
            .filter(|(_, observer)| *observer)
            .collect()
    } else {
        Vec::new()
    };
    o.put("synced_observers", synced.len());
    let list = synced
        .into_iter()
        .map(|(sid, _)| {
            let mut e = Obj::new();
            e.put("sid", sid.0);
            e.into()
        })
        .collect();
    o.put("observers", Json::Arr(list));
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn voting_view(v: &ServerView, o: &mut Obj) {
    let mut view = Obj::new();
    if !v.standalone() {
        let voters: Vec<_> = v.cfg.participants().collect();
        for s in java_hash_order(voters, |s| java_long_hash(s.id.0 as i64)) {
            let mut addrs = s.addresses.clone();
            addrs.sort_by(|a, b| a.0.cmp(&b.0));
            let mut e = Obj::new();
            e.put(
                "server_addresses",
                Json::Arr(addrs.iter().map(|a| host_port(&a.0, a.1).into()).collect()),
            )
            .put(
                "election_addresses",
                Json::Arr(addrs.iter().map(|a| host_port(&a.0, a.2).into()).collect()),
            )
            .put("client_address", voter_client_address(v, s))
            .put("learner_type", s.role.to_string());
            view.put(&s.id.0.to_string(), e);
        }
    }
    o.put("current_config", view);
}

/// A voter's client address: from its `server.N` line, or, for this server, the one it listens
/// on (ZooKeeper fills in its own from `clientPort`; other servers' stay unknown).
fn voter_client_address(v: &ServerView, s: &zk_core::config::ServerSpec) -> String {
    if let Some((h, p)) = &s.client {
        return host_port(h.as_deref().unwrap_or("0.0.0.0"), *p);
    }
    if s.id != v.peer.id() {
        return String::new();
    }
    v.cfg
        .client_address(Some(s.id))
        .ok()
        .flatten()
        .map_or(String::new(), |(h, p)| host_port(&h, p))
}

/// A `MultipleAddresses` bean as Jackson writes it. Reachability is not probed here: every
/// configured address counts as reachable.
fn multiple_addresses(addrs: &[(String, u16)]) -> Obj {
    let list = |f: &dyn Fn(&(String, u16)) -> Json| Json::Arr(addrs.iter().map(f).collect());
    let hp = |a: &(String, u16)| Json::Str(host_port(&a.0, a.1));
    let first = addrs
        .first()
        .map(|a| host_port(&a.0, a.1))
        .unwrap_or_default();
    let mut o = Obj::new();
    o.put("empty", addrs.is_empty())
        .put("all_addresses", list(&hp))
        .put("all_reachable_addresses", list(&hp))
        .put("one", first.clone())
        .put("reachable_address", first.clone())
        .put(
            "wildcard_addresses",
            list(&|a| Json::Str(format!("0.0.0.0:{}", a.1))),
        )
        .put("all_ports", list(&|a| Json::Int(a.1 as i64)))
        .put("all_host_strings", list(&|a| Json::Str(a.0.clone())))
        .put("all_reachable_addresses_or_all", list(&hp))
        .put("reachable_or_one", first);
    o
}

fn zabstate(v: &ServerView, o: &mut Obj) {
    if v.standalone() {
        o.put("voting", false).put("zabstate", "");
        return;
    }
    let p = v.peer;
    let me = v.cfg.servers.get(&p.id());
    let quorum: Vec<(String, u16)> = me
        .map(|s| s.addresses.iter().map(|a| (a.0.clone(), a.1)).collect())
        .unwrap_or_default();
    let election: Vec<(String, u16)> = me
        .map(|s| s.addresses.iter().map(|a| (a.0.clone(), a.2)).collect())
        .unwrap_or_default();
    let client = v
        .cfg
        .client_address(Some(p.id()))
        .ok()
        .flatten()
        .map(|(h, port)| host_port(&h, port))
        .unwrap_or_default();
    let zxid = p.server().tree.last_processed_zxid();
    o.put("myid", p.id().0)
        .put("is_leader", v.leading())
        .put("quorum_address", multiple_addresses(&quorum))
        .put("election_address", multiple_addresses(&election))
        .put("client_address", client)
        .put("voting", p.cfg().quorum.is_voter(p.id()))
        .put("last_zxid", zxid.to_string())
        .put("zab_epoch", zxid.epoch())
        .put("zab_counter", zxid.counter())
        .put("zabstate", v.zab_state());
}

/// `WatchManager.toString()` figures of the data watches: connections, paths, watches.
pub(super) fn watch_summary(v: &ServerView) -> (usize, usize, usize) {
    let w = &v.peer.server().watches;
    let by_path = w.data_watches_by_path();
    let total = by_path.values().map(Vec::len).sum();
    (w.data_watches_by_connection().len(), by_path.len(), total)
}

fn session_of(v: &ServerView, c: zk_core::ConnId) -> SessionId {
    v.peer
        .server()
        .conn(c)
        .and_then(|c| c.session)
        .unwrap_or_default()
}

/// Each watching session with its data-watch paths, in `HashMap` order.
pub(super) fn watches_by_session<'a>(v: &'a ServerView) -> Vec<(SessionId, Vec<&'a str>)> {
    let w = &v.peer.server().watches;
    let list: Vec<_> = w
        .data_watches_by_connection()
        .into_iter()
        .map(|(c, paths)| {
            let paths = java_hash_order(paths, |p| java_string_hash(p));
            (session_of(v, c), paths)
        })
        .collect();
    java_hash_order(list, |(s, _)| java_long_hash(s.0))
}

/// Each data-watched path with its sessions, in `HashMap` order.
pub(super) fn watches_by_path<'a>(v: &'a ServerView) -> Vec<(&'a str, Vec<SessionId>)> {
    let w = &v.peer.server().watches;
    let list: Vec<_> = w
        .data_watches_by_path()
        .into_iter()
        .map(|(p, conns)| {
            let ids = conns.into_iter().map(|c| session_of(v, c)).collect();
            (p, java_hash_order(ids, |s: &SessionId| java_long_hash(s.0)))
        })
        .collect();
    java_hash_order(list, |(p, _)| java_string_hash(p))
}
