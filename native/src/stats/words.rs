//! The four-letter words, as ZooKeeper 3.8's `server/command/*Command.java` print them: the
//! same lines, in the same order, ended by `\n` (Java's `println` on Linux), with the same
//! words missing their final newline (`ruok`, `isro`, `gtmk`).

use super::metrics::Val;
use super::{
    java_date, java_double, java_hash_order, java_long_hash, java_string_hash, monitor_values,
    proc_info, ServerView, VERSION, ZK_NOT_SERVING,
};
use std::fmt::Write;
use zk_core::SessionId;

/// The answer to a four-letter word already allowed by `4lw.commands.whitelist`. `srst` and
/// `crst` are carried out by the peer loop first ([`super::effect_of_word`]).
pub fn four_letter(cmd: &str, v: &ServerView) -> String {
    let not_serving = format!("{ZK_NOT_SERVING}\n");
    match cmd {
        "ruok" => "imok".into(),
        "envi" => envi(),
        "gtmk" => v.trace_mask.to_string(),
        // ZooKeeper reads a new mask from the 8 bytes after "stmk" and echoes it; those bytes
        // are not read here, so the mask in force is echoed.
        "stmk" => v.trace_mask.to_string(),
        "isro" if !v.serving() => "null".into(),
        "isro" if v.peer.is_read_only() => "ro".into(),
        "isro" => "rw".into(),
        "hash" if !v.serving() => ZK_NOT_SERVING.into(),
        // No digest log is kept, so there is no zxid/digest line to print.
        "hash" => String::new(),
        _ if !v.serving() => not_serving,
        "srvr" => stat(v, false),
        "stat" => stat(v, true),
        "cons" => {
            let mut s = cons(v, false);
            s.push('\n');
            s
        }
        "mntr" => mntr(v),
        "conf" => conf(v),
        "dump" => dump(v),
        "dirs" => {
            let (data, log) = v.dir_sizes();
            format!("datadir_size: {data}\nlogdir_size: {log}\n")
        }
        "wchs" => wchs(v),
        "wchc" => wchc(v),
        "wchp" => wchp(v),
        "crst" => "Connection stats reset.\n".into(),
        "srst" => "Server stats reset.\n".into(),
        other => format!("{other} is not executed because it is not in the whitelist.\n"),
    }
}

/// `srvr` and `stat` (`StatCommand`): `stat` adds the client list.
fn stat(v: &ServerView, with_clients: bool) -> String {
    let p = v.peer;
    let lat = &p.server().latency;
    let mut s = format!("Zookeeper version: {VERSION}\n");
    if with_clients {
        s.push_str("Clients:\n");
        s.push_str(&cons(v, true));
        s.push('\n');
    }
    // ServerStats.toString
    let _ = write!(
        s,
        "Latency min/avg/max: {}/{}/{}\nReceived: {}\nSent: {}\nConnections: {}\nOutstanding: {}\nZxid: {}\nMode: {}\n",
        lat.min,
        java_double(super::metrics::round4(lat.avg())),
        lat.max,
        v.totals.packets_received,
        v.totals.packets_sent,
        v.conn_count(),
        p.server().outstanding_requests(),
        p.server().tree.last_processed_zxid(),
        v.mode()
    );
    let _ = writeln!(s, "Node count: {}", v.node_count());
    if v.leading() {
        let sizes = p.proposal_sizes().unwrap_or_default();
        let _ = writeln!(s, "Proposal sizes last/min/max: {sizes}");
    }
    s
}

/// One line per connection (`ServerCnxn.dumpConnectionInfo`), the asking one last.
pub(super) fn cons(v: &ServerView, brief: bool) -> String {
    let mut s = String::new();
    for c in v.peer.server().conns() {
        let addr = v
            .conn_addrs
            .get(&c.id)
            .map(|a| a.to_string())
            .unwrap_or_else(|| c.addr.clone());
        let st = &c.stats;
        let _ = write!(
            s,
            " /{addr}[1](queued={},recved={},sent={}",
            c.outstanding(),
            st.packets_received,
            st.packets_sent
        );
        if let Some(session) = c.session.filter(|_| !brief) {
            let _ = write!(
                s,
                ",sid={session},lop={},est={},to={}",
                if st.last_op.is_empty() {
                    "NA"
                } else {
                    &st.last_op
                },
                v.wall(st.established),
                c.timeout
            );
            if st.last_cxid >= 0 {
                let _ = write!(s, ",lcxid=0x{:x}", st.last_cxid);
            }
            let avg = st.total_latency.checked_div(st.completed).unwrap_or(0);
            let _ = write!(
                s,
                ",lzxid={},lresp={},llat={},minlat={},avglat={avg},maxlat={}",
                st.last_zxid,
                st.last_response_time,
                st.last_latency,
                st.min_latency,
                st.max_latency
            );
        }
        s.push_str(")\n");
    }
    if let Some(a) = v.asker {
        // Being answered: nothing queued, its one packet in, nothing out yet.
        let _ = writeln!(s, " /{a}[0](queued=0,recved=1,sent=0)");
    }
    s
}

fn mntr(v: &ServerView) -> String {
    let mut s = String::new();
    for (k, val) in monitor_values(v) {
        let text = match val {
            Val::Int(i) => i.to_string(),
            Val::Float(f) => java_double(f),
            Val::Str(t) => t,
        };
        let _ = writeln!(s, "zk_{k}\t{text}");
    }
    s
}

/// `ZooKeeperServer.dumpConf`, plus `QuorumZooKeeperServer`'s quorum lines.
fn conf(v: &ServerView) -> String {
    let c = v.cfg;
    let p = v.peer;
    let (data_size, log_size) = v.dir_sizes();
    let client_port = super::admin::client_port(v);
    let mut s = String::new();
    let _ = writeln!(s, "clientPort={client_port}");
    let _ = writeln!(s, "secureClientPort=-1");
    let _ = writeln!(s, "dataDir={}", version_path(&c.data_dir));
    let _ = writeln!(s, "dataDirSize={data_size}");
    let _ = writeln!(s, "dataLogDir={}", version_path(&c.data_log_dir));
    let _ = writeln!(s, "dataLogSize={log_size}");
    let _ = writeln!(s, "tickTime={}", c.tick_time);
    let _ = writeln!(s, "maxClientCnxns={}", c.max_client_cnxns);
    let _ = writeln!(s, "minSessionTimeout={}", c.min_session_timeout);
    let _ = writeln!(s, "maxSessionTimeout={}", c.max_session_timeout);
    let backlog = c.client_port_listen_backlog.map_or(-1, i64::from);
    let _ = writeln!(s, "clientPortListenBacklog={backlog}");
    let _ = writeln!(s, "serverId={}", if v.standalone() { 0 } else { p.id().0 });
    if !v.standalone() {
        let me = c.servers.get(&p.id());
        let ports = |f: fn(&(String, u16, u16)) -> u16| {
            me.map(|m| {
                m.addresses
                    .iter()
                    .map(|a| f(a).to_string())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .unwrap_or_default()
        };
        let _ = writeln!(s, "initLimit={}", c.init_limit);
        let _ = writeln!(s, "syncLimit={}", c.sync_limit);
        let _ = writeln!(s, "electionAlg={}", c.election_alg);
        let _ = writeln!(s, "electionPort={}", ports(|a| a.2));
        let _ = writeln!(s, "quorumPort={}", ports(|a| a.1));
        let _ = writeln!(s, "peerType={}", u8::from(p.cfg().is_observer()));
        s.push_str("membership: \n");
        s.push_str(&membership(v));
    }
    s
}

/// `QuorumMaj.toString()`: every server line, then the config version (no final newline).
pub(super) fn membership(v: &ServerView) -> String {
    let mut s = String::new();
    for spec in v.cfg.servers.values() {
        let _ = writeln!(s, "server.{}={spec}", spec.id);
    }
    s.push_str("version=0");
    s
}

/// ZooKeeper names the `version-2` directory inside dataDir and dataLogDir.
pub(super) fn version_path(dir: &str) -> String {
    let abs = std::path::Path::new(dir);
    let abs = if abs.is_absolute() {
        abs.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(abs)
    };
    abs.join("version-2").display().to_string()
}

/// `dump`: the session tracker, the ephemeral nodes, the connection expiry queue.
fn dump(v: &ServerView) -> String {
    let p = v.peer;
    let mut s = String::from("SessionTracker dump:\n");
    match p.session_expiries() {
        Some(expiries) => {
            // SessionTrackerImpl: "Session " + ExpiryQueue.dump, buckets in time order.
            let mut buckets: std::collections::BTreeMap<_, Vec<SessionId>> = Default::default();
            for (at, id) in &expiries {
                buckets.entry(*at).or_default().push(*id);
            }
            let _ = writeln!(s, "Session Sets ({})/({}):", buckets.len(), expiries.len());
            for (at, ids) in buckets {
                let _ = writeln!(s, "{} expire at {}:", ids.len(), java_date(v.wall(at)));
                for id in java_hash_order(ids, |i| java_long_hash(i.0)) {
                    let _ = writeln!(s, "\t{id}");
                }
            }
        }
        None => {
            // LearnerSessionTracker: global sessions by id, with their timeouts.
            let sessions = p.server().tree.sessions();
            let _ = writeln!(s, "Global Sessions({}):", sessions.len());
            let mut ids: Vec<_> = sessions.iter().collect();
            ids.sort_by_key(|(id, _)| id.0);
            for (id, timeout) in ids {
                let _ = writeln!(s, "{id}\t{timeout}ms");
            }
        }
    }
    s.push_str("ephemeral nodes dump:\n");
    let eph = p.server().tree.ephemerals_by_session();
    let _ = writeln!(s, "Sessions with Ephemerals ({}):", eph.len());
    let sessions = java_hash_order(eph.iter().collect(), |(id, _)| java_long_hash(id.0));
    for (id, paths) in sessions {
        let _ = writeln!(s, "{id}:");
        let paths = java_hash_order(paths.iter().collect(), |p| java_string_hash(p));
        for path in paths {
            let _ = writeln!(s, "\t{path}");
        }
    }
    s.push_str("Connections dump:\n");
    s.push_str(&connection_expiries(v));
    s
}

/// NIOServerCnxnFactory's connection expiry queue: each connection is due to expire its
/// timeout (10 s before a session is attached) after its last activity, in 10-second buckets.
fn connection_expiries(v: &ServerView) -> String {
    const SESSIONLESS: u64 = 10_000;
    let bucket = |t: u64| (t / SESSIONLESS + 1) * SESSIONLESS;
    let mut buckets: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
    for c in v.peer.server().conns() {
        let last = c.stats.established.max(c.stats.last_response_time);
        let timeout = if c.session.is_some() {
            c.timeout.max(0) as u64
        } else {
            SESSIONLESS
        };
        let addr = v
            .conn_addrs
            .get(&c.id)
            .map(|a| a.to_string())
            .unwrap_or_else(|| c.addr.clone());
        let session = c.session.unwrap_or_default();
        buckets
            .entry(bucket(last + timeout))
            .or_default()
            .push(format!("ip: /{addr} sessionId: {session}"));
    }
    if let Some(a) = v.asker {
        buckets
            .entry(bucket(v.now + SESSIONLESS))
            .or_default()
            .push(format!("ip: /{a} sessionId: 0x0"));
    }
    let count: usize = buckets.values().map(Vec::len).sum();
    let mut s = format!("Connections Sets ({})/({count}):\n", buckets.len());
    for (at, conns) in buckets {
        let _ = writeln!(s, "{} expire at {}:", conns.len(), java_date(v.wall(at)));
        for c in conns {
            let _ = writeln!(s, "\t{c}");
        }
    }
    s
}

/// `WatchManager.toString()` of the data watches, then `println()`.
fn wchs(v: &ServerView) -> String {
    let (conns, paths, total) = super::admin::watch_summary(v);
    format!("{conns} connections watching {paths} paths\nTotal watches:{total}\n")
}

/// `dumpWatches(byPath = false)`: each watching session, then its paths.
fn wchc(v: &ServerView) -> String {
    dump_watches(super::admin::watches_by_session(v))
}

/// `dumpWatches(byPath = true)`: each watched path, then its sessions.
fn wchp(v: &ServerView) -> String {
    dump_watches(super::admin::watches_by_path(v))
}

/// `dumpWatches`' layout: each key on a line, its entries below it after a tab, a blank line last.
fn dump_watches<K: std::fmt::Display, E: std::fmt::Display>(groups: Vec<(K, Vec<E>)>) -> String {
    let mut s = String::new();
    for (key, entries) in groups {
        let _ = writeln!(s, "{key}");
        for e in entries {
            let _ = writeln!(s, "\t{e}");
        }
    }
    s.push('\n');
    s
}

/// `Environment.list()`: JVM figures have no equivalent here and say `<NA>`; the memory lines
/// give this process's resident size and the machine's memory.
pub(super) fn environment() -> Vec<(&'static str, String)> {
    let na = || "<NA>".to_string();
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| na());
    let mb = |kb: Option<u64>| kb.map_or_else(na, |k| format!("{}MB", k / 1024));
    vec![
        ("zookeeper.version", VERSION.to_string()),
        ("host.name", host_name().unwrap_or_else(na)),
        ("java.version", na()),
        ("java.vendor", na()),
        ("java.home", na()),
        ("java.class.path", na()),
        ("java.library.path", na()),
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("java.compiler", na()),
        ("os.name", os_name()),
        ("os.arch", os_arch().to_string()),
        ("os.version", uname_release().unwrap_or_else(na)),
        ("user.name", user_name().unwrap_or_else(|| env("USER"))),
        ("user.home", env("HOME")),
        (
            "user.dir",
            std::env::current_dir().map_or_else(|_| na(), |d| d.display().to_string()),
        ),
        // The JVM's free/max/total heap: here the machine's available memory, the machine's
        // memory, and this process's resident size.
        (
            "os.memory.free",
            mb(proc_info::kb("/proc/meminfo", "MemAvailable")),
        ),
        (
            "os.memory.max",
            mb(proc_info::kb("/proc/meminfo", "MemTotal")),
        ),
        (
            "os.memory.total",
            mb(proc_info::kb("/proc/self/status", "VmRSS")),
        ),
    ]
}

fn envi() -> String {
    let mut s = String::from("Environment:\n");
    for (k, val) in environment() {
        let _ = writeln!(s, "{k}={val}");
    }
    s
}

fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// The login name of this process's user, as Java's `user.name`.
fn user_name() -> Option<String> {
    // SAFETY: getpwuid returns null or a pointer to a static record, read at once.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// The Java system properties that have a meaning for this process, sorted by name as
/// `system_properties` lists them (the `java.*`/`jdk.*`/`sun.*` ones describe a JVM and have
/// no counterpart).
pub(super) fn system_properties() -> Vec<(&'static str, String)> {
    let env = environment();
    let get = |k: &str| {
        env.iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    vec![
        ("file.encoding", "UTF-8".to_string()),
        ("file.separator", std::path::MAIN_SEPARATOR.to_string()),
        ("java.io.tmpdir", get("java.io.tmpdir")),
        ("line.separator", "\n".to_string()),
        ("os.arch", get("os.arch")),
        ("os.name", get("os.name")),
        ("os.version", get("os.version")),
        ("path.separator", ":".to_string()),
        ("user.dir", get("user.dir")),
        ("user.home", get("user.home")),
        ("user.name", get("user.name")),
    ]
}

fn uname_release() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|s| s.trim().to_string())
}

/// Java's `os.name` spelling.
fn os_name() -> String {
    match std::env::consts::OS {
        "linux" => "Linux".into(),
        "macos" => "Mac OS X".into(),
        "windows" => "Windows".into(),
        other => other.into(),
    }
}

/// Java's `os.arch` spelling.
fn os_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        other => other,
    }
}
