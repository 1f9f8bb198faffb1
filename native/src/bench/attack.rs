//! `zkbench attack`: an adversarial load against one server, for "a server that no peer or
//! client can exhaust".
//!
//! For `--duration`, attackers run side by side (each can be left out with `--only`/`--skip`):
//!
//! * `idle`: N connections to the client port that send nothing, reopened when the server closes
//!   them;
//! * `connect-no-read`: N connections that send a ConnectRequest and never read anything;
//! * `garbage`: random bytes, negative lengths, frames claiming 0x7fffffff or jute.maxbuffer+1
//!   bytes, records cut off mid-way, unreadable ConnectRequests, malformed request bodies after a
//!   valid ConnectRequest, requests after one the server closes the connection for; and a few
//!   frames of jute.maxbuffer bytes left one byte short and held (the memory a connection can
//!   pin);
//! * `ping-flood`: a session that pings as fast as it can and never reads the answers;
//! * `watch-flood`: a session that sets thousands of watches (getData on znodes, exists on znodes
//!   that do not exist) and never reads, while a second session fires them all by writing,
//!   round after round;
//! * `slow-reader`: a session that pipelines getData of a ~1 MB znode and never reads;
//! * `election` (`--election`): initial messages with a huge address length, an unknown protocol
//!   version, an unknown server id; a valid-looking one from a configured id followed by a
//!   notification with a huge or negative length; silence;
//! * `quorum` (`--quorum`): a first packet that is not FOLLOWERINFO, a FOLLOWERINFO whose data
//!   claims 0x7fffffff bytes, one from an unknown id, an unknown packet type; silence.
//!
//! Meanwhile a well-behaved probe (a [`Conn`] on its own thread and runtime) does create, get,
//! set, delete every 100 ms and times each. With `--pid`, the server's VmRSS is sampled every
//! 100 ms (and its open descriptors every 500 ms). The report says, per attacker and case, how
//! the server refused: it closed the connection, reset it, answered and kept it, or did nothing
//! (held open until the wait or the attack ended). The run fails (exit 1) when the probe had a
//! failure, an operation slower than `--max-latency`, or when the server no longer answers.
//!
//! When the server is on 127.0.0.1, client-port attack connections come from many loopback
//! addresses (127.1.x.y), as from many hosts, so that the per-address `maxClientCnxns` does not
//! stop them all (and does not lock the probe out); `--same-source` turns that off. Election
//! and quorum attacks come from the address the server expects its peers on.

use crate::bench::parse_duration;
use crate::bench::wire::Conn;
use crate::bench::workload::create_request;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio::time::Instant as TInstant;
use zk_core::peer::messages::{LearnerInfo, QuorumPacket, ZAB_PROTOCOL};
use zk_core::proto;
use zk_core::request::{ConnectRequest, Request, Response};
use zk_core::txn::op;
use zk_core::wire as qwire;
use zk_core::{ServerId, SessionId, Zxid};

/// The session timeout attack sessions ask for (the server clamps it to its maximum).
const ATTACK_SESSION_TIMEOUT: i32 = 40_000;
/// How long a garbage, election or quorum case waits for the server to react.
const CASE_WAIT: Duration = Duration::from_secs(12);
/// An id no configuration has.
const UNKNOWN_SID: u64 = 999_999_999;

// ---------------------------------------------------------------------------------------------
// What to run

/// One attacker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Idle,
    ConnectNoRead,
    Garbage,
    PingFlood,
    WatchFlood,
    SlowReader,
    Election,
    Quorum,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Idle,
        Kind::ConnectNoRead,
        Kind::Garbage,
        Kind::PingFlood,
        Kind::WatchFlood,
        Kind::SlowReader,
        Kind::Election,
        Kind::Quorum,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Idle => "idle",
            Kind::ConnectNoRead => "connect-no-read",
            Kind::Garbage => "garbage",
            Kind::PingFlood => "ping-flood",
            Kind::WatchFlood => "watch-flood",
            Kind::SlowReader => "slow-reader",
            Kind::Election => "election",
            Kind::Quorum => "quorum",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Idle => "connections to the client port that send nothing (reopened when closed)",
            Kind::ConnectNoRead => "connections that send a ConnectRequest and never read",
            Kind::Garbage => "malformed frames and records on the client port",
            Kind::PingFlood => "a session pinging as fast as it can, never reading",
            Kind::WatchFlood => {
                "a session setting thousands of watches, never reading, while another fires them"
            }
            Kind::SlowReader => "a session pipelining getData of a large znode, never reading",
            Kind::Election => "bad initial messages and notifications on the election port",
            Kind::Quorum => "bad first packets on the quorum port",
        }
    }
}

/// Attacker names, comma-separated; `connections` (idle and connect-no-read), `flood` (both
/// floods), `peers` (election and quorum) and `all` name several.
pub fn parse_kinds(list: &str) -> Result<BTreeSet<Kind>, String> {
    let mut out = BTreeSet::new();
    for w in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let w = w.to_ascii_lowercase();
        let ks: &[Kind] = match w.as_str() {
            "all" => &Kind::ALL,
            "connections" | "conns" => &[Kind::Idle, Kind::ConnectNoRead],
            "flood" | "floods" => &[Kind::PingFlood, Kind::WatchFlood],
            "peers" => &[Kind::Election, Kind::Quorum],
            "no-read" => &[Kind::ConnectNoRead],
            "pings" => &[Kind::PingFlood],
            "watches" => &[Kind::WatchFlood],
            "slow" => &[Kind::SlowReader],
            _ => match Kind::ALL.iter().find(|k| k.name() == w) {
                Some(k) => std::slice::from_ref(k),
                None => {
                    return Err(format!(
                        "unknown attacker {w:?}: one of {}, connections, flood, peers, all",
                        Kind::ALL.map(Kind::name).join(", ")
                    ))
                }
            },
        };
        out.extend(ks.iter().copied());
    }
    Ok(out)
}

/// `zkbench attack`'s command line.
#[derive(clap::Args, Clone, Debug)]
pub struct AttackArgs {
    /// The server's client port, host:port.
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub server: String,
    /// Its election port, host:port (enables the election attacker).
    #[arg(long)]
    pub election: Option<String>,
    /// Its quorum port, host:port (enables the quorum attacker).
    #[arg(long)]
    pub quorum: Option<String>,
    /// How long to attack (20, 20s, 500ms, 1m).
    #[arg(long, value_parser = parse_duration, default_value = "20s")]
    pub duration: Duration,
    /// Connections of each of idle and connect-no-read.
    #[arg(long, default_value_t = 500)]
    pub connections: usize,
    /// Only these attackers (comma-separated names, or connections, flood, peers, all).
    #[arg(long, value_parser = parse_kinds)]
    pub only: Option<BTreeSet<Kind>>,
    /// Leave these attackers out.
    #[arg(long, value_parser = parse_kinds)]
    pub skip: Option<BTreeSet<Kind>>,
    /// The server's process id: sample its VmRSS every 100 ms, VmHWM at the end.
    #[arg(long)]
    pub pid: Option<u32>,
    /// The server's jute.maxbuffer.
    #[arg(long, default_value_t = proto::DEFAULT_MAX_BUFFER)]
    pub max_buffer: usize,
    /// Frames of jute.maxbuffer bytes sent one byte short and held: this many before a
    /// ConnectRequest, and as many after one.
    #[arg(long, default_value_t = 8)]
    pub half_frames: usize,
    /// Znodes the watch flood watches (with getData), and as many absent ones (with exists).
    #[arg(long, default_value_t = 2000)]
    pub watches: usize,
    /// Bytes of the znode the slow reader asks for.
    #[arg(long, default_value_t = 1_000_000)]
    pub large_znode: usize,
    /// Sessions of the slow reader.
    #[arg(long, default_value_t = 1)]
    pub slow_readers: usize,
    /// Sessions of the ping flood.
    #[arg(long, default_value_t = 1)]
    pub ping_flooders: usize,
    /// The id of another server of the configuration, for the valid-looking initial message on
    /// the election port. Default: from the four-letter word conf, else 2.
    #[arg(long)]
    pub peer_sid: Option<u64>,
    /// A probe operation slower than this fails the run.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub max_latency: Duration,
    /// Attack from 127.0.0.1 only, even when the server is on loopback.
    #[arg(long)]
    pub same_source: bool,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Seed of the random bytes.
    #[arg(long)]
    pub seed: Option<u64>,
}

impl AttackArgs {
    fn kinds(&self) -> BTreeSet<Kind> {
        let mut k: BTreeSet<Kind> = self
            .only
            .clone()
            .unwrap_or_else(|| Kind::ALL.into_iter().collect());
        if let Some(s) = &self.skip {
            k.retain(|x| !s.contains(x));
        }
        if self.election.is_none() {
            k.remove(&Kind::Election);
        }
        if self.quorum.is_none() {
            k.remove(&Kind::Quorum);
        }
        k
    }
}

fn resolve(what: &str, a: &str) -> Result<SocketAddr, String> {
    a.to_socket_addrs()
        .map_err(|e| format!("--{what} {a}: {e}"))?
        .next()
        .ok_or_else(|| format!("--{what} {a}: no address"))
}

// ---------------------------------------------------------------------------------------------
// The report

/// How the server treated one try of a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// It closed the connection (FIN: a read gave end of file, or a write a broken pipe).
    Closed,
    /// It reset the connection (RST).
    Reset,
    /// It answered and kept the connection open.
    Answered,
    /// Nothing happened until the wait or the attack ended: the connection was held open.
    Held,
}

/// One case of an attacker: how often it was tried and how the server took it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CaseReport {
    pub tries: u64,
    pub closed: u64,
    pub reset: u64,
    pub answered_kept_open: u64,
    pub held_open: u64,
    /// How long the server took to close or reset: min, median, max, in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_after_ms: Option<[u64; 3]>,
    #[serde(skip)]
    times: Vec<u64>,
}

/// One attacker's totals.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AttackerReport {
    pub name: String,
    pub what: String,
    pub connections: u64,
    pub connect_failures: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Requests, pings or packets sent.
    pub messages_sent: u64,
    pub cases: BTreeMap<String, CaseReport>,
    pub notes: Vec<String>,
}

/// An attacker's report, shared by its tasks.
#[derive(Clone)]
struct Tally(Arc<Mutex<AttackerReport>>);

impl Tally {
    fn new(k: Kind) -> Tally {
        Tally(Arc::new(Mutex::new(AttackerReport {
            name: k.name().to_string(),
            what: k.what().to_string(),
            ..Default::default()
        })))
    }

    fn with<T>(&self, f: impl FnOnce(&mut AttackerReport) -> T) -> T {
        f(&mut self.0.lock().expect("tally"))
    }

    fn opened(&self) {
        self.with(|r| r.connections += 1);
    }

    fn connect_failed(&self, e: &str) {
        self.with(|r| {
            r.connect_failures += 1;
            if r.connect_failures == 1 {
                r.notes.push(format!("first failed connect: {e}"));
            }
        });
    }

    fn sent(&self, bytes: usize, messages: u64) {
        self.with(|r| {
            r.bytes_sent += bytes as u64;
            r.messages_sent += messages;
        });
    }

    fn received(&self, bytes: usize) {
        self.with(|r| r.bytes_received += bytes as u64);
    }

    fn outcome(&self, case: &str, o: Outcome, after: Duration) {
        self.with(|r| {
            let c = r.cases.entry(case.to_string()).or_default();
            c.tries += 1;
            match o {
                Outcome::Closed => c.closed += 1,
                Outcome::Reset => c.reset += 1,
                Outcome::Answered => c.answered_kept_open += 1,
                Outcome::Held => c.held_open += 1,
            }
            if matches!(o, Outcome::Closed | Outcome::Reset) {
                c.times.push(after.as_millis() as u64);
            }
        });
    }

    fn note(&self, s: String) {
        self.with(|r| r.notes.push(s));
    }

    fn finish(&self) -> AttackerReport {
        let mut r = self.with(|r| r.clone());
        for c in r.cases.values_mut() {
            if !c.times.is_empty() {
                c.times.sort_unstable();
                let t = &c.times;
                c.refused_after_ms = Some([t[0], t[t.len() / 2], t[t.len() - 1]]);
            }
        }
        r
    }
}

/// The well-behaved client's experience.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProbeReport {
    pub cycles: u64,
    pub ops_ok: u64,
    pub failures: u64,
    /// Operations slower than --max-latency (failed or not).
    pub slow_ops: u64,
    pub reconnects: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// When the slowest operation started, seconds into the attack.
    pub max_at_s: f64,
    /// The first few errors.
    pub errors: Vec<String>,
    /// A create/get/set/delete cycle after the attackers stopped succeeded.
    pub answers_after: bool,
}

/// The server's memory and descriptors (`--pid`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct MemoryReport {
    pub pid: u32,
    /// VmRSS before the attack, kB.
    pub idle_rss_kb: u64,
    /// The largest VmRSS sampled during the attack, kB, and when (s into the attack).
    pub peak_rss_kb: u64,
    pub peak_at_s: f64,
    /// VmRSS when the attackers stopped, and 3 s after they closed their connections.
    pub end_rss_kb: u64,
    pub after_rss_kb: u64,
    /// VmHWM at the end (the peak since the server started).
    pub hwm_kb: u64,
    /// The largest VmRSS of each second of the attack, kB.
    pub rss_per_second_kb: Vec<u64>,
    pub idle_fds: u64,
    pub peak_fds: u64,
    pub after_fds: u64,
    /// The server process was still there at the end.
    pub alive: bool,
}

/// Everything `zkbench attack` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AttackReport {
    pub server: String,
    pub duration_s: f64,
    pub spread_sources: bool,
    pub attackers: Vec<AttackerReport>,
    pub probe: ProbeReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryReport>,
    pub passed: bool,
    /// Why the run failed.
    pub failures: Vec<String>,
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

fn bytes(n: u64) -> String {
    if n >= 10 << 20 {
        format!("{:.0} MB", n as f64 / (1 << 20) as f64)
    } else if n >= 10 << 10 {
        format!("{:.0} kB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

impl AttackReport {
    /// The report as text.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "zkbench attack on {} for {:.1} s{}",
            self.server,
            self.duration_s,
            if self.spread_sources {
                " (client-port attacks from 127.1.x.y)"
            } else {
                ""
            }
        );
        for a in &self.attackers {
            let _ = writeln!(
                s,
                "\n{}: {}\n  {} connections ({} failed to connect), {} sent in {} messages, {} received",
                a.name,
                a.what,
                a.connections,
                a.connect_failures,
                bytes(a.bytes_sent),
                a.messages_sent,
                bytes(a.bytes_received)
            );
            for (name, c) in &a.cases {
                let mut parts = Vec::new();
                for (n, what) in [
                    (c.closed, "closed"),
                    (c.reset, "reset"),
                    (c.answered_kept_open, "answered, kept open"),
                    (c.held_open, "held open (no reaction)"),
                ] {
                    if n > 0 {
                        parts.push(format!("{what} {n}"));
                    }
                }
                let after = c.refused_after_ms.map_or(String::new(), |[a, b, m]| {
                    format!(
                        "; refused after {:.2}/{:.2}/{:.2} s (min/median/max)",
                        a as f64 / 1e3,
                        b as f64 / 1e3,
                        m as f64 / 1e3
                    )
                });
                let _ = writeln!(
                    s,
                    "  - {name}: {} tries: {}{after}",
                    c.tries,
                    parts.join(", ")
                );
            }
            for n in &a.notes {
                let _ = writeln!(s, "  note: {n}");
            }
        }
        let p = &self.probe;
        let _ = writeln!(
            s,
            "\nprobe: {} cycles, {} operations ok, {} failed, {} over the limit, {} reconnects; \
             latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (at {:.1} s); answers after the attack: {}",
            p.cycles,
            p.ops_ok,
            p.failures,
            p.slow_ops,
            p.reconnects,
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            p.max_at_s,
            if p.answers_after { "yes" } else { "NO" }
        );
        for e in &p.errors {
            let _ = writeln!(s, "  probe error: {e}");
        }
        if let Some(m) = &self.memory {
            let _ = writeln!(
                s,
                "server pid {}: RSS idle {}, peak {} (at {:.1} s), when the attack stopped {}, \
                 3 s later {}; VmHWM {}; open descriptors idle {}, peak {}, after {}{}",
                m.pid,
                mb(m.idle_rss_kb),
                mb(m.peak_rss_kb),
                m.peak_at_s,
                mb(m.end_rss_kb),
                mb(m.after_rss_kb),
                mb(m.hwm_kb),
                m.idle_fds,
                m.peak_fds,
                m.after_fds,
                if m.alive { "" } else { "; THE PROCESS IS GONE" }
            );
            let series: Vec<String> = m
                .rss_per_second_kb
                .iter()
                .map(|k| format!("{:.0}", *k as f64 / 1024.0))
                .collect();
            let _ = writeln!(s, "  RSS per second (MB): {}", series.join(" "));
        }
        if self.passed {
            let _ = writeln!(s, "\nPASS");
        } else {
            let _ = writeln!(s, "\nFAIL: {}", self.failures.join("; "));
        }
        s
    }
}

// ---------------------------------------------------------------------------------------------
// Connections

/// What every attacker shares.
#[derive(Clone)]
struct Ctx {
    server: SocketAddr,
    deadline: TInstant,
    spread: bool,
    next_source: Arc<AtomicU64>,
    max_buffer: usize,
}

impl Ctx {
    fn over(&self) -> bool {
        TInstant::now() >= self.deadline
    }

    /// A connection to the client port (from a spread loopback address when asked).
    async fn connect(&self, t: &Tally) -> Option<TcpStream> {
        self.connect_to(self.server, self.spread, t).await
    }

    async fn connect_to(&self, to: SocketAddr, spread: bool, t: &Tally) -> Option<TcpStream> {
        let attempt = async {
            let sock = match to {
                SocketAddr::V4(_) => TcpSocket::new_v4()?,
                SocketAddr::V6(_) => TcpSocket::new_v6()?,
            };
            if spread {
                let n = self.next_source.fetch_add(1, Ordering::Relaxed);
                let ip = Ipv4Addr::new(
                    127,
                    1 + ((n / (250 * 250)) % 250) as u8,
                    ((n / 250) % 250) as u8,
                    (n % 250 + 1) as u8,
                );
                sock.bind(SocketAddr::new(IpAddr::V4(ip), 0))?;
            }
            let s = sock.connect(to).await?;
            let _ = s.set_nodelay(true);
            Ok::<_, std::io::Error>(s)
        };
        let until = self.deadline.min(TInstant::now() + Duration::from_secs(5));
        match tokio::time::timeout_at(until, attempt).await {
            Ok(Ok(s)) => {
                t.opened();
                Some(s)
            }
            Ok(Err(e)) => {
                t.connect_failed(&e.to_string());
                None
            }
            Err(_) => {
                if !self.over() {
                    t.connect_failed("no connection within 5 s");
                }
                None
            }
        }
    }

    /// Writes `b` (until the attack ends). `Err` says how the server refused it, or `Held`
    /// when the attack ended with the write blocked.
    async fn send(&self, s: &mut TcpStream, b: &[u8], msgs: u64, t: &Tally) -> Result<(), Outcome> {
        match tokio::time::timeout_at(self.deadline, s.write_all(b)).await {
            Ok(Ok(())) => {
                t.sent(b.len(), msgs);
                Ok(())
            }
            Ok(Err(e)) => Err(io_outcome(&e)),
            Err(_) => Err(Outcome::Held),
        }
    }
}

fn io_outcome(e: &std::io::Error) -> Outcome {
    match e.kind() {
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof => Outcome::Closed,
        _ => Outcome::Reset,
    }
}

/// Reads (and drops) what the server sends until it closes or resets the connection, or
/// `until`: `Answered` if it sent something and kept the connection, else `Held`.
async fn reaction(s: &mut TcpStream, until: TInstant, t: &Tally) -> (Outcome, Duration) {
    let start = Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    let mut got = 0usize;
    loop {
        match tokio::time::timeout_at(until, s.read(&mut buf)).await {
            Err(_) => {
                let o = if got > 0 {
                    Outcome::Answered
                } else {
                    Outcome::Held
                };
                return (o, start.elapsed());
            }
            Ok(Ok(0)) => return (Outcome::Closed, start.elapsed()),
            Ok(Ok(n)) => {
                got += n;
                t.received(n);
            }
            Ok(Err(e)) => return (io_outcome(&e), start.elapsed()),
        }
    }
}

/// The state of a connection we never read from, without reading it: `Closed` once the server
/// sent FIN (CLOSE_WAIT), `Reset` once it sent RST, else `None`.
fn peer_state(s: &TcpStream) -> Option<Outcome> {
    use std::os::fd::AsRawFd;
    // SAFETY: getsockopt into a zeroed tcp_info of the length given.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let r = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut libc::tcp_info as *mut libc::c_void,
            &mut len,
        )
    };
    if r != 0 {
        return None;
    }
    match info.tcpi_state {
        8 => Some(Outcome::Closed), // TCP_CLOSE_WAIT
        7 => Some(Outcome::Reset),  // TCP_CLOSE
        _ => None,
    }
}

/// Waits, without reading, until the server closes `s` or the attack ends.
async fn hold_unread(s: &TcpStream, ctx: &Ctx) -> (Outcome, Duration) {
    let start = Instant::now();
    loop {
        if let Some(o) = peer_state(s) {
            return (o, start.elapsed());
        }
        if ctx.over() {
            return (Outcome::Held, start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn connect_frame(timeout: i32) -> Vec<u8> {
    proto::frame(&proto::encode_connect_request(&ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid::ZERO,
        timeout,
        session_id: SessionId(0),
        passwd: vec![0; 16],
        read_only: Some(false),
    }))
}

fn request_frame(xid: i32, req: &Request) -> Vec<u8> {
    proto::frame(&proto::encode_request(xid, req))
}

/// Sends a ConnectRequest and reads the ConnectResponse.
async fn handshake(ctx: &Ctx, s: &mut TcpStream, t: &Tally) -> bool {
    if ctx
        .send(s, &connect_frame(ATTACK_SESSION_TIMEOUT), 1, t)
        .await
        .is_err()
    {
        return false;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    let until = ctx.deadline.min(TInstant::now() + Duration::from_secs(10));
    loop {
        if let Ok(Some(_)) = proto::split_frame(&buf, 4096) {
            return true;
        }
        match tokio::time::timeout_at(until, s.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => {
                t.received(n);
                buf.extend_from_slice(&chunk[..n]);
            }
            _ => return false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Client-port attackers

async fn idle(ctx: Ctx, n: usize, t: Tally) {
    let mut set = JoinSet::new();
    for i in 0..n {
        let (ctx, t) = (ctx.clone(), t.clone());
        set.spawn(async move {
            tokio::time::sleep(Duration::from_millis((i % 100) as u64 * 3)).await;
            while !ctx.over() {
                let Some(mut s) = ctx.connect(&t).await else {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                };
                let (o, after) = reaction(&mut s, ctx.deadline, &t).await;
                t.outcome("a connection that sends nothing", o, after);
            }
        });
    }
    while set.join_next().await.is_some() {}
}

async fn connect_no_read(ctx: Ctx, n: usize, t: Tally) {
    let mut set = JoinSet::new();
    for i in 0..n {
        let (ctx, t) = (ctx.clone(), t.clone());
        set.spawn(async move {
            tokio::time::sleep(Duration::from_millis((i % 100) as u64 * 3)).await;
            let case = "ConnectRequest, then nothing read";
            while !ctx.over() {
                let Some(mut s) = ctx.connect(&t).await else {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                };
                let frame = connect_frame(ATTACK_SESSION_TIMEOUT);
                let start = Instant::now();
                if let Err(o) = ctx.send(&mut s, &frame, 1, &t).await {
                    t.outcome(case, o, start.elapsed());
                    continue;
                }
                let (o, after) = hold_unread(&s, &ctx).await;
                t.outcome(case, o, after);
            }
        });
    }
    while set.join_next().await.is_some() {}
}

/// The garbage cases: (name, whether a valid ConnectRequest goes first).
const GARBAGE: [(&str, bool); 16] = [
    ("random bytes", false),
    ("a negative length", false),
    ("length 0x7fffffff, nothing after", false),
    ("length 0x7fffffff and a few bytes", false),
    ("length jute.maxbuffer+1, nothing after", false),
    ("length jute.maxbuffer+1 and a few bytes", false),
    ("half a ConnectRequest (stops mid-record)", false),
    ("a ConnectRequest record too short for its fields", false),
    ("after connect: a negative length", true),
    ("after connect: length 0x7fffffff", true),
    (
        "after connect: length jute.maxbuffer+1 and a few bytes",
        true,
    ),
    ("after connect: a 3-byte frame (no request header)", true),
    ("after connect: malformed request bodies", true),
    ("after connect: half a request (stops mid-record)", true),
    ("after connect: a request with an unknown opcode", true),
    (
        "after connect: an unknown opcode (the server closes), then 1500 pings",
        true,
    ),
];

fn garbage_bytes(i: usize, max_buffer: usize, rng: &mut fastrand::Rng) -> Vec<u8> {
    let few = |rng: &mut fastrand::Rng| -> Vec<u8> {
        (0..rng.usize(1..16)).map(|_| rng.u8(..)).collect()
    };
    let len = |l: i32| l.to_be_bytes().to_vec();
    let over = (max_buffer as i64 + 1).min(i32::MAX as i64) as i32;
    let mut b = match i {
        0 => (0..rng.usize(1..4096)).map(|_| rng.u8(..)).collect(),
        1 | 8 => {
            let mut b = len(rng.i32(i32::MIN..0));
            b.extend(few(rng));
            b
        }
        2 | 9 => len(i32::MAX),
        3 => {
            let mut b = len(i32::MAX);
            b.extend(few(rng));
            b
        }
        4 => len(over),
        5 | 10 => {
            let mut b = len(over);
            b.extend(few(rng));
            b
        }
        6 => {
            let f = connect_frame(ATTACK_SESSION_TIMEOUT);
            f[..f.len() / 2].to_vec()
        }
        7 => proto::frame(&[0, 0, 0, 0, 0]),
        11 => proto::frame(&[0, 0, 1]),
        12 => {
            // Headers that read, bodies that do not.
            let mut b = Vec::new();
            let mut body = |xid: i32, opc: i32, rest: &[u8]| {
                let mut f = Vec::new();
                f.extend_from_slice(&xid.to_be_bytes());
                f.extend_from_slice(&opc.to_be_bytes());
                f.extend_from_slice(rest);
                b.extend(proto::frame(&f));
            };
            // getData, path length 0x7fffffff.
            body(1, op::GET_DATA, &i32::MAX.to_be_bytes());
            // create, cut after the path.
            body(2, op::CREATE, &[0, 0, 0, 2, b'/', b'x']);
            // setData, path then a data length longer than the frame.
            body(3, op::SET_DATA, &[0, 0, 0, 2, b'/', b'x', 0, 0x10, 0, 0]);
            // exists, negative path length with nothing after.
            body(4, op::EXISTS, &(-7i32).to_be_bytes());
            // multi: a header of an op that cannot be in a multi.
            body(
                5,
                op::MULTI,
                &[0, 0, 0, 4, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
            );
            // getChildren, random bytes.
            let r: Vec<u8> = (0..rng.usize(1..64)).map(|_| rng.u8(..)).collect();
            body(6, op::GET_CHILDREN, &r);
            b
        }
        13 => {
            let f = request_frame(
                1,
                &Request::GetData {
                    path: "/zookeeper/config".into(),
                    watch: false,
                },
            );
            f[..f.len() - 6].to_vec()
        }
        14 => request_frame(1, &Request::Unsupported { op: 4242 }),
        15 => {
            // Requests that arrive after the server decided to close the connection.
            let mut b = request_frame(1, &Request::Unsupported { op: 4242 });
            b.extend(request_frame(zk_core::request::xid::PING, &Request::Ping).repeat(1500));
            b
        }
        _ => Vec::new(),
    };
    if b.is_empty() {
        b.push(0);
    }
    b
}

async fn garbage(ctx: Ctx, half_frames: usize, seed: u64, t: Tally) {
    let mut set = JoinSet::new();
    // Workers going through the cases again and again.
    for w in 0..GARBAGE.len() {
        let (ctx, t) = (ctx.clone(), t.clone());
        set.spawn(async move {
            let mut rng = fastrand::Rng::with_seed(seed ^ (w as u64).wrapping_mul(0x9e37_79b9));
            let mut i = w;
            while !ctx.over() {
                let (name, after_connect) = GARBAGE[i % GARBAGE.len()];
                i += 1;
                let Some(mut s) = ctx.connect(&t).await else {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                };
                if after_connect && !handshake(&ctx, &mut s, &t).await {
                    t.note(format!("{name}: the handshake failed"));
                    continue;
                }
                let b = garbage_bytes((i - 1) % GARBAGE.len(), ctx.max_buffer, &mut rng);
                let start = Instant::now();
                let o = match ctx.send(&mut s, &b, 1, &t).await {
                    Ok(()) => {
                        let until = ctx.deadline.min(TInstant::now() + CASE_WAIT);
                        reaction(&mut s, until, &t).await.0
                    }
                    Err(o) => o,
                };
                t.outcome(name, o, start.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    // Frames of jute.maxbuffer bytes, one byte short, held to the end: the memory a
    // connection can pin.
    for k in 0..2 * half_frames {
        let (ctx, t) = (ctx.clone(), t.clone());
        set.spawn(async move {
            let after_connect = k >= half_frames;
            let name = if after_connect {
                "held: after connect, a request frame of jute.maxbuffer bytes, one byte short"
            } else {
                "held: a first frame of jute.maxbuffer bytes, one byte short"
            };
            let Some(mut s) = ctx.connect(&t).await else {
                return;
            };
            if after_connect && !handshake(&ctx, &mut s, &t).await {
                t.note(format!("{name}: the handshake failed"));
                return;
            }
            let mut b = (ctx.max_buffer as i32).to_be_bytes().to_vec();
            b.resize(4 + ctx.max_buffer - 1, 0);
            let start = Instant::now();
            let o = match ctx.send(&mut s, &b, 1, &t).await {
                Ok(()) => reaction(&mut s, ctx.deadline, &t).await.0,
                Err(o) => o,
            };
            t.outcome(name, o, start.elapsed());
        });
    }
    while set.join_next().await.is_some() {}
}

/// Writes `batch` again and again on a session that never reads, reconnecting when the server
/// refuses it. `batch` is `per` messages.
async fn flood_unread(ctx: Ctx, case: &'static str, batch: Vec<u8>, per: u64, t: Tally) {
    while !ctx.over() {
        let Some(mut s) = ctx.connect(&t).await else {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        let start = Instant::now();
        let mut last_write = Instant::now();
        let mut n = 0u64;
        let o = 'conn: {
            if let Err(o) = ctx
                .send(&mut s, &connect_frame(ATTACK_SESSION_TIMEOUT), 1, &t)
                .await
            {
                break 'conn o;
            }
            loop {
                if let Err(o) = ctx.send(&mut s, &batch, per, &t).await {
                    break 'conn o;
                }
                last_write = Instant::now();
                n += 1;
                if n.is_multiple_of(64) {
                    if let Some(o) = peer_state(&s) {
                        break 'conn o;
                    }
                    // Let the rest of the tool run.
                    tokio::task::yield_now().await;
                }
            }
        };
        let o = if o == Outcome::Held {
            peer_state(&s).unwrap_or(Outcome::Held)
        } else {
            o
        };
        if o == Outcome::Held {
            let blocked = last_write.elapsed();
            if blocked > Duration::from_secs(1) {
                t.note(format!(
                    "{case}: the server stopped reading the connection (writes blocked) for the \
                     last {:.1} s",
                    blocked.as_secs_f64()
                ));
            } else {
                t.note(format!(
                    "{case}: the server was still reading at the end ({:.1} s into the connection)",
                    start.elapsed().as_secs_f64()
                ));
            }
        }
        t.outcome(case, o, start.elapsed());
    }
}

async fn ping_flood(ctx: Ctx, sessions: usize, t: Tally) {
    let ping = request_frame(zk_core::request::xid::PING, &Request::Ping);
    let per = 1024u64;
    let batch: Vec<u8> = ping.repeat(per as usize);
    let mut set = JoinSet::new();
    for _ in 0..sessions.max(1) {
        set.spawn(flood_unread(
            ctx.clone(),
            "pings, answers never read",
            batch.clone(),
            per,
            t.clone(),
        ));
    }
    while set.join_next().await.is_some() {}
}

async fn slow_reader(ctx: Ctx, sessions: usize, big: String, t: Tally) {
    let per = 16u64;
    let mut batch = Vec::new();
    for x in 0..per as i32 {
        batch.extend(request_frame(
            x + 1,
            &Request::GetData {
                path: big.clone(),
                watch: false,
            },
        ));
    }
    let mut set = JoinSet::new();
    for _ in 0..sessions.max(1) {
        set.spawn(flood_unread(
            ctx.clone(),
            "getData of the large znode, replies never read",
            batch.clone(),
            per,
            t.clone(),
        ));
    }
    while set.join_next().await.is_some() {}
}

async fn watch_flood(ctx: Ctx, server: String, prefix: String, m: usize, t: Tally) {
    let case = "watching session, never reading";
    let Some(mut w) = ctx.connect(&t).await else {
        return;
    };
    let start = Instant::now();
    if let Err(o) = ctx
        .send(&mut w, &connect_frame(ATTACK_SESSION_TIMEOUT), 1, &t)
        .await
    {
        t.outcome(case, o, start.elapsed());
        return;
    }
    let mut trigger = match Conn::connect(&server, 30_000, Duration::from_secs(10)).await {
        Ok(c) => c,
        Err(e) => {
            t.note(format!("the triggering session could not connect: {e}"));
            return;
        }
    };
    let mut watch_req = Vec::new();
    let mut xid = 1i32;
    for i in 0..m {
        watch_req.extend(request_frame(
            xid,
            &Request::GetData {
                path: format!("{prefix}/w/{i}"),
                watch: true,
            },
        ));
        watch_req.extend(request_frame(
            xid + 1,
            &Request::Exists {
                path: format!("{prefix}/nx/{i}"),
                watch: true,
            },
        ));
        xid += 2;
    }
    let mut fire = Vec::with_capacity(3 * m);
    for i in 0..m {
        fire.push(Request::SetData {
            path: format!("{prefix}/w/{i}"),
            data: Some(vec![b'w'; 100]),
            version: -1,
        });
    }
    for i in 0..m {
        fire.push(create_request(format!("{prefix}/nx/{i}"), Vec::new()));
    }
    for i in 0..m {
        fire.push(Request::Delete {
            path: format!("{prefix}/nx/{i}"),
            version: -1,
        });
    }
    let mut rounds = 0u64;
    let mut watcher: Option<Outcome> = None;
    while !ctx.over() {
        if watcher.is_none() {
            match ctx.send(&mut w, &watch_req, 2 * m as u64, &t).await {
                Ok(()) => {}
                Err(Outcome::Held) => break,
                Err(o) => {
                    watcher = Some(o);
                    t.outcome(case, o, start.elapsed());
                    t.note(format!(
                        "the watching session was refused after {rounds} rounds"
                    ));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        let left = ctx.deadline.saturating_duration_since(TInstant::now());
        if left.is_zero() {
            break;
        }
        match trigger.pipeline(&fire, 256, left).await {
            Ok(_) => {
                rounds += 1;
                t.sent(0, fire.len() as u64);
            }
            Err(e) => {
                if !ctx.over() {
                    t.note(format!("the triggering session failed: {e}"));
                }
                break;
            }
        }
    }
    if watcher.is_none() {
        let o = peer_state(&w).unwrap_or(Outcome::Held);
        t.outcome(case, o, start.elapsed());
    }
    t.note(format!(
        "{rounds} rounds: {} watches set and fired per round ({m} getData, {m} exists)",
        2 * m
    ));
    trigger.close(Duration::from_secs(2)).await;
}

// ---------------------------------------------------------------------------------------------
// Server-to-server attackers

/// Runs each `(case, bytes)` again and again on its own connections to `to`.
async fn peer_cases(ctx: Ctx, to: SocketAddr, cases: Vec<(String, Vec<u8>)>, t: Tally) {
    let mut set = JoinSet::new();
    for (name, b) in cases {
        let (ctx, t) = (ctx.clone(), t.clone());
        set.spawn(async move {
            while !ctx.over() {
                let Some(mut s) = ctx.connect_to(to, false, &t).await else {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                };
                let start = Instant::now();
                let o = if b.is_empty() {
                    reaction(&mut s, ctx.deadline.min(TInstant::now() + CASE_WAIT), &t)
                        .await
                        .0
                } else {
                    match ctx.send(&mut s, &b, 1, &t).await {
                        Ok(()) => {
                            let until = ctx.deadline.min(TInstant::now() + CASE_WAIT);
                            reaction(&mut s, until, &t).await.0
                        }
                        Err(o) => o,
                    }
                };
                t.outcome(&name, o, start.elapsed());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
}

fn election_cases(peer: u64) -> Vec<(String, Vec<u8>)> {
    let v1 = qwire::PROTOCOL_VERSION_V1;
    let mut huge = Vec::new();
    huge.extend_from_slice(&v1.to_be_bytes());
    huge.extend_from_slice(&(peer as i64).to_be_bytes());
    huge.extend_from_slice(&i32::MAX.to_be_bytes());
    huge.extend_from_slice(b"127.0.0.1:1");
    let mut bad_version = (-42i64).to_be_bytes().to_vec();
    bad_version.extend_from_slice(&[0; 16]);
    let unknown = qwire::encode_hello(v1, ServerId(UNKNOWN_SID), "127.0.0.1:1");
    let mut huge_note = qwire::encode_hello(v1, ServerId(peer), "127.0.0.1:1");
    huge_note.extend_from_slice(&i32::MAX.to_be_bytes());
    huge_note.extend_from_slice(&[0; 16]);
    let mut neg_note = qwire::encode_hello(v1, ServerId(peer), "127.0.0.1:1");
    neg_note.extend_from_slice(&(-1i32).to_be_bytes());
    neg_note.extend_from_slice(&[0; 16]);
    vec![
        (
            "an initial message claiming a 0x7fffffff-byte address".into(),
            huge,
        ),
        (
            "an initial message with an unknown protocol version".into(),
            bad_version,
        ),
        (
            format!("an initial message from unknown server {UNKNOWN_SID}"),
            unknown,
        ),
        (
            format!(
                "an initial message from server {peer}, then a notification of 0x7fffffff bytes"
            ),
            huge_note,
        ),
        (
            format!("an initial message from server {peer}, then a negative notification length"),
            neg_note,
        ),
        ("nothing sent (cnxTimeout)".into(), Vec::new()),
    ]
}

fn quorum_cases() -> Vec<(String, Vec<u8>)> {
    let raw = |t: i32, data_len: i32, extra: &[u8]| {
        let mut b = Vec::new();
        b.extend_from_slice(&t.to_be_bytes());
        b.extend_from_slice(&0i64.to_be_bytes());
        b.extend_from_slice(&data_len.to_be_bytes());
        b.extend_from_slice(extra);
        b
    };
    let mut unknown = Vec::new();
    qwire::encode_packet(
        &QuorumPacket::FollowerInfo(LearnerInfo {
            sid: ServerId(UNKNOWN_SID),
            accepted_epoch: 0,
            protocol: ZAB_PROTOCOL,
            config_version: 0,
        }),
        &mut unknown,
    );
    vec![
        (
            "a first packet PING, not FOLLOWERINFO".into(),
            raw(qwire::packet::PING, -1, &(-1i32).to_be_bytes()),
        ),
        (
            "a FOLLOWERINFO whose data claims 0x7fffffff bytes".into(),
            raw(qwire::packet::FOLLOWERINFO, i32::MAX, &[0; 16]),
        ),
        (
            format!("a FOLLOWERINFO from unknown server {UNKNOWN_SID}"),
            unknown,
        ),
        (
            "a packet of unknown type 4242".into(),
            raw(4242, -1, &(-1i32).to_be_bytes()),
        ),
        (
            "a LEADERINFO (only a leader sends it)".into(),
            raw(
                qwire::packet::LEADERINFO,
                4,
                &[0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff],
            ),
        ),
        ("nothing sent (initLimit)".into(), Vec::new()),
    ]
}

/// The id of another server, from the four-letter word conf when it answers.
fn discover_peer_sid(server: &SocketAddr) -> Option<u64> {
    let text = crate::cli::four_letter(
        &server.ip().to_string(),
        server.port(),
        "conf",
        Duration::from_secs(2),
    )
    .ok()?;
    let me: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("serverId="))?
        .trim()
        .parse()
        .ok()?;
    let ids: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("server."))
        .filter_map(|l| l.split('=').next()?.parse().ok())
        .filter(|&id| id != me)
        .collect();
    // A larger id keeps the connection, so the notifications after it are read.
    ids.iter()
        .copied()
        .filter(|&id| id > me)
        .min()
        .or_else(|| ids.first().copied())
}

// ---------------------------------------------------------------------------------------------
// The probe

struct ProbeRaw {
    lat: Vec<(f64, f64)>,
    report: ProbeReport,
}

/// create, get, set, delete every 100 ms until `stop`, timing each.
async fn probe(
    server: String,
    base: String,
    start: Instant,
    max: Duration,
    stop: Arc<AtomicBool>,
) -> ProbeRaw {
    let mut raw = ProbeRaw {
        lat: Vec::new(),
        report: ProbeReport::default(),
    };
    let mut conn: Option<Conn> = None;
    let mut next = TInstant::now();
    let mut n = 0u64;
    let fail = |raw: &mut ProbeRaw, e: String| {
        raw.report.failures += 1;
        if raw.report.errors.len() < 10 {
            raw.report
                .errors
                .push(format!("at {:.1} s: {e}", start.elapsed().as_secs_f64()));
        }
    };
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep_until(next).await;
        next += Duration::from_millis(100);
        if next < TInstant::now() {
            next = TInstant::now();
        }
        raw.report.cycles += 1;
        if conn.is_none() {
            let t0 = Instant::now();
            match Conn::connect(&server, 30_000, Duration::from_secs(10)).await {
                Ok(c) => {
                    conn = Some(c);
                    if raw.report.cycles > 1 {
                        raw.report.reconnects += 1;
                    }
                }
                Err(e) => {
                    if t0.elapsed() > max {
                        raw.report.slow_ops += 1;
                    }
                    fail(&mut raw, format!("connect: {e}"));
                    continue;
                }
            }
        }
        let c = conn.as_mut().expect("connected");
        n += 1;
        let path = format!("{base}/p{n}");
        let ops = [
            create_request(path.clone(), vec![b'p'; 100]),
            Request::GetData {
                path: path.clone(),
                watch: false,
            },
            Request::SetData {
                path: path.clone(),
                data: Some(vec![b'q'; 100]),
                version: -1,
            },
            Request::Delete {
                path: path.clone(),
                version: -1,
            },
        ];
        for req in &ops {
            let at = start.elapsed().as_secs_f64();
            let t0 = Instant::now();
            let r = c.call(req, Duration::from_secs(10)).await;
            let took = t0.elapsed();
            raw.lat.push((took.as_secs_f64() * 1e3, at));
            if took > max {
                raw.report.slow_ops += 1;
            }
            match r {
                Ok(rep) if rep.err.is_ok() => raw.report.ops_ok += 1,
                Ok(rep) => {
                    fail(
                        &mut raw,
                        format!(
                            "{} {path}: {:?}",
                            zk_core::request::op_name(req.op_code()),
                            rep.err
                        ),
                    );
                    break;
                }
                Err(e) => {
                    fail(
                        &mut raw,
                        format!("{}: {e}", zk_core::request::op_name(req.op_code())),
                    );
                    conn = None;
                    break;
                }
            }
        }
    }
    if let Some(c) = conn {
        c.close(Duration::from_secs(2)).await;
    }
    raw
}

fn probe_report(mut raw: ProbeRaw) -> ProbeReport {
    let mut r = raw.report;
    if !raw.lat.is_empty() {
        raw.lat
            .sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let q = |f: f64| raw.lat[((raw.lat.len() - 1) as f64 * f).round() as usize].0;
        r.p50_ms = q(0.5);
        r.p99_ms = q(0.99);
        let last = raw.lat[raw.lat.len() - 1];
        r.max_ms = last.0;
        r.max_at_s = last.1;
    }
    r
}

/// One create/get/set/delete cycle of `<base>/after` on a fresh session, all within `within`
/// (`base` exists, or is empty for the root).
pub async fn one_cycle(server: &str, base: &str, within: Duration) -> Result<(), String> {
    let mut c = Conn::connect(server, 30_000, within)
        .await
        .map_err(|e| e.to_string())?;
    let path = format!("{base}/after");
    let ops = [
        create_request(path.clone(), b"after".to_vec()),
        Request::GetData {
            path: path.clone(),
            watch: false,
        },
        Request::SetData {
            path: path.clone(),
            data: Some(b"again".to_vec()),
            version: -1,
        },
        Request::Delete {
            path: path.clone(),
            version: -1,
        },
    ];
    for r in c
        .pipeline(&ops, 1, within)
        .await
        .map_err(|e| e.to_string())?
    {
        if !r.err.is_ok() {
            return Err(format!("{:?}", r.err));
        }
    }
    c.close(Duration::from_secs(2)).await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The server's memory

fn status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn fd_count(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

#[derive(Default)]
struct Samples {
    peak_kb: u64,
    peak_at_s: f64,
    per_second: Vec<u64>,
    peak_fds: u64,
}

/// Samples VmRSS every 100 ms (descriptors every 500 ms) until `stop`.
fn sample_memory(pid: u32, start: Instant, stop: Arc<AtomicBool>) -> Samples {
    let mut s = Samples::default();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let at = start.elapsed().as_secs_f64();
        if let Some(kb) = status_kb(pid, "VmRSS") {
            if kb > s.peak_kb {
                s.peak_kb = kb;
                s.peak_at_s = at;
            }
            let sec = at as usize;
            if s.per_second.len() <= sec {
                s.per_second.resize(sec + 1, 0);
            }
            s.per_second[sec] = s.per_second[sec].max(kb);
        }
        if i.is_multiple_of(5) {
            s.peak_fds = s.peak_fds.max(fd_count(pid));
        }
        i += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    s
}

fn alive(pid: u32) -> bool {
    // A zombie (exited, not reaped) counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Setup and cleanup

async fn create_all(c: &mut Conn, reqs: &[Request]) -> Result<(), String> {
    let replies = c
        .pipeline(reqs, 256, Duration::from_secs(120))
        .await
        .map_err(|e| format!("setup: {e}"))?;
    if let Some((i, r)) = replies.iter().enumerate().find(|(_, r)| !r.err.is_ok()) {
        return Err(format!("setup: request {i} failed: {:?}", r.err));
    }
    Ok(())
}

async fn delete_tree(c: &mut Conn, root: &str) {
    let mut stack = vec![root.to_string()];
    let mut order = Vec::new();
    while let Some(p) = stack.pop() {
        let req = Request::GetChildren {
            path: p.clone(),
            watch: false,
        };
        if let Ok(r) = c.call(&req, Duration::from_secs(30)).await {
            if let Response::GetChildren { children } = r.body {
                stack.extend(children.into_iter().map(|ch| format!("{p}/{ch}")));
            }
        }
        order.push(p);
    }
    let reqs: Vec<Request> = order
        .into_iter()
        .rev()
        .map(|path| Request::Delete { path, version: -1 })
        .collect();
    let _ = c.pipeline(&reqs, 256, Duration::from_secs(60)).await;
}

// ---------------------------------------------------------------------------------------------
// The run

/// Lets this process open as many descriptors as it may.
fn raise_fd_limit() {
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < r.rlim_max {
            r.rlim_cur = r.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

/// Runs the attack `a` describes and reports.
pub fn run(a: &AttackArgs) -> Result<AttackReport, String> {
    let server = resolve("server", &a.server)?;
    let election = a
        .election
        .as_deref()
        .map(|e| resolve("election", e))
        .transpose()?;
    let quorum = a
        .quorum
        .as_deref()
        .map(|q| resolve("quorum", q))
        .transpose()?;
    let kinds = a.kinds();
    if a.large_znode + 1024 > a.max_buffer {
        return Err(format!(
            "--large-znode {}: must fit in jute.maxbuffer ({}) with its request",
            a.large_znode, a.max_buffer
        ));
    }
    if a.max_buffer < 64 || a.max_buffer > i32::MAX as usize - 1 {
        return Err("--max-buffer: between 64 and 2^31-2".into());
    }
    raise_fd_limit();
    let spread = !a.same_source && server.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST);
    let seed = a.seed.unwrap_or_else(|| fastrand::u64(..));
    let server_s = server.to_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;

    // Setup: the probe's parent, the watched znodes, the large znode.
    let prefix = format!("/zkbench-attack-{:08x}", fastrand::u32(..));
    let big = format!("{prefix}/big");
    let mut setup = rt.block_on(async {
        let mut c = Conn::connect(&server_s, 30_000, Duration::from_secs(10))
            .await
            .map_err(|e| format!("setup: {e}"))?;
        let mut reqs = vec![
            create_request(prefix.clone(), Vec::new()),
            create_request(format!("{prefix}/probe"), Vec::new()),
        ];
        if kinds.contains(&Kind::WatchFlood) {
            reqs.push(create_request(format!("{prefix}/w"), Vec::new()));
            reqs.push(create_request(format!("{prefix}/nx"), Vec::new()));
            for i in 0..a.watches {
                reqs.push(create_request(format!("{prefix}/w/{i}"), vec![b'w'; 100]));
            }
        }
        if kinds.contains(&Kind::SlowReader) {
            reqs.push(create_request(big.clone(), vec![b'b'; a.large_znode]));
        }
        create_all(&mut c, &reqs).await?;
        Ok::<_, String>(c)
    })?;

    let peer_sid = if kinds.contains(&Kind::Election) {
        Some(
            a.peer_sid
                .or_else(|| discover_peer_sid(&server))
                .unwrap_or(2),
        )
    } else {
        None
    };

    let start = Instant::now();
    let stop_mem = Arc::new(AtomicBool::new(false));
    let idle_mem = a
        .pid
        .map(|pid| (status_kb(pid, "VmRSS").unwrap_or(0), fd_count(pid)));
    let sampler = a.pid.map(|pid| {
        let stop = stop_mem.clone();
        std::thread::spawn(move || sample_memory(pid, start, stop))
    });
    // The probe: its own thread and runtime, so that the attackers' work does not delay it.
    let stop_probe = Arc::new(AtomicBool::new(false));
    let probe_thread = {
        let (server_s, base, stop) = (
            server_s.clone(),
            format!("{prefix}/probe"),
            stop_probe.clone(),
        );
        let max = a.max_latency;
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("probe runtime");
            rt.block_on(probe(server_s, base, start, max, stop))
        })
    };

    let ctx = Ctx {
        server,
        deadline: TInstant::now() + a.duration,
        spread,
        next_source: Arc::new(AtomicU64::new(0)),
        max_buffer: a.max_buffer,
    };
    let mut tallies = Vec::new();
    rt.block_on(async {
        let mut set = JoinSet::new();
        for &k in &kinds {
            let t = Tally::new(k);
            tallies.push(t.clone());
            let ctx = ctx.clone();
            match k {
                Kind::Idle => {
                    set.spawn(idle(ctx, a.connections, t));
                }
                Kind::ConnectNoRead => {
                    set.spawn(connect_no_read(ctx, a.connections, t));
                }
                Kind::Garbage => {
                    set.spawn(garbage(ctx, a.half_frames, seed, t));
                }
                Kind::PingFlood => {
                    set.spawn(ping_flood(ctx, a.ping_flooders, t));
                }
                Kind::WatchFlood => {
                    set.spawn(watch_flood(
                        ctx,
                        server_s.clone(),
                        prefix.clone(),
                        a.watches,
                        t,
                    ));
                }
                Kind::SlowReader => {
                    set.spawn(slow_reader(ctx, a.slow_readers, big.clone(), t));
                }
                Kind::Election => {
                    let cases = election_cases(peer_sid.unwrap_or(2));
                    t.note(format!(
                        "the valid-looking initial messages claim server {}",
                        peer_sid.unwrap_or(2)
                    ));
                    set.spawn(peer_cases(ctx, election.expect("--election"), cases, t));
                }
                Kind::Quorum => {
                    set.spawn(peer_cases(
                        ctx,
                        quorum.expect("--quorum"),
                        quorum_cases(),
                        t,
                    ));
                }
            }
        }
        // Every wait is bounded by the deadline; give stragglers a little more, then stop them.
        let hard = ctx.deadline + Duration::from_secs(15);
        loop {
            match tokio::time::timeout_at(hard, set.join_next()).await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    break;
                }
            }
        }
    });
    let attack_s = start.elapsed().as_secs_f64();
    stop_probe.store(true, Ordering::Relaxed);
    let raw = probe_thread
        .join()
        .map_err(|_| "the probe thread panicked".to_string())?;
    let end_kb = a.pid.and_then(|pid| status_kb(pid, "VmRSS")).unwrap_or(0);
    stop_mem.store(true, Ordering::Relaxed);
    let samples = sampler.map(|h| h.join().unwrap_or_default());
    // Every attack connection is closed now (their tasks ended); see what the server gives back.
    std::thread::sleep(Duration::from_secs(3));
    let mut probe = probe_report(raw);
    let after = rt.block_on(one_cycle(
        &server_s,
        &format!("{prefix}/probe"),
        Duration::from_secs(10),
    ));
    probe.answers_after = after.is_ok();
    if let Err(e) = &after {
        probe.errors.push(format!("after the attack: {e}"));
    }
    let memory = a.pid.map(|pid| {
        let s = samples.unwrap_or_default();
        let (idle_kb, idle_fds) = idle_mem.unwrap_or_default();
        MemoryReport {
            pid,
            idle_rss_kb: idle_kb,
            peak_rss_kb: s.peak_kb,
            peak_at_s: s.peak_at_s,
            end_rss_kb: end_kb,
            after_rss_kb: status_kb(pid, "VmRSS").unwrap_or(0),
            hwm_kb: status_kb(pid, "VmHWM").unwrap_or(0),
            rss_per_second_kb: s.per_second,
            idle_fds,
            peak_fds: s.peak_fds,
            after_fds: fd_count(pid),
            alive: alive(pid),
        }
    });
    if probe.answers_after {
        rt.block_on(async {
            let clean = async {
                delete_tree(&mut setup, &prefix).await;
                setup.close(Duration::from_secs(2)).await;
            };
            let _ = tokio::time::timeout(Duration::from_secs(20), clean).await;
        });
    }

    let mut failures = Vec::new();
    if probe.failures > 0 {
        failures.push(format!("the probe had {} failures", probe.failures));
    }
    if probe.slow_ops > 0 {
        failures.push(format!(
            "{} probe operations took over {:?} (max {:.0} ms)",
            probe.slow_ops, a.max_latency, probe.max_ms
        ));
    }
    if probe.ops_ok == 0 {
        failures.push("the probe did not complete one operation".into());
    }
    if !probe.answers_after {
        failures.push("the server did not answer after the attack".into());
    }
    if memory.as_ref().is_some_and(|m| !m.alive) {
        failures.push("the server process is gone".into());
    }
    Ok(AttackReport {
        server: server_s,
        duration_s: attack_s,
        spread_sources: spread,
        attackers: tallies.iter().map(Tally::finish).collect(),
        probe,
        memory,
        passed: failures.is_empty(),
        failures,
    })
}

/// `zkbench attack`: runs, prints, and exits 1 when the server did not hold up.
pub fn main(a: AttackArgs) -> Result<ExitCode, String> {
    let r = run(&a)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", r.table());
    }
    Ok(if r.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
