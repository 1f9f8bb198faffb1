//! `zkbench` load runs: N sessions, each a tokio task with up to `outstanding` requests in
//! flight, drawing operations from a mix, for a duration or an operation count after a warm-up.
//!
//! A run goes: set up (the prefix, its key space and each session's multi pair) → connect every
//! session → warm up → measure → drain → check the end state against what was acknowledged →
//! clean up. Latencies of requests *sent* while measuring go into HdrHistograms per operation;
//! every reply passes the spot checks of [`super::check`] whether measured or not.

use super::check::{duplicate_sequence_numbers, Ledger, SessionCheck, Verdict};
use super::report::{DiskReport, Latency, LoadReport, OpReport, SnapshotReport};
use super::snapwatch::{self, Interval};
use super::wire::{Conn, WireError};
use super::workload::{
    create_request, make_value, Layout, Mix, Op, Tag, CREATE_KEY, MULTI_KEY, SETUP_WRITER,
};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zk_core::acl::Acl;
use zk_core::request::{CreateRequest, Request, Response};
use zk_core::txn::op;
use zk_core::ErrorCode;

/// Everything a load run is told.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// `host:port` of each server; session i talks to server i mod n.
    pub servers: Vec<String>,
    pub sessions: u32,
    pub outstanding: u32,
    pub mix: Mix,
    pub value_size: usize,
    pub keys: u32,
    /// Measure for this long, or else (with `ops`) until this many operations are done.
    pub duration: Option<Duration>,
    pub ops: Option<u64>,
    pub warmup: Duration,
    pub prefix: String,
    pub session_timeout_ms: i32,
    /// A session that gets no reply for this long gives up.
    pub request_timeout: Duration,
    pub progress: bool,
    /// dataDirs to watch for snapshots: latencies are then split into during/outside a snapshot.
    pub snapshot_dirs: Vec<PathBuf>,
    /// Ask the servers' `mntr` for their fsync counts before and after.
    pub disk_stats: bool,
    /// Leave the znodes in place.
    pub keep: bool,
    pub seed: u64,
}

/// A failure that stops a run before it measures anything.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("{0}")]
    Setup(String),
}

/// Microsecond histograms up to a minute, three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// What all sessions share while they run.
struct Shared {
    opts: LoadOptions,
    layout: Layout,
    ledger: Ledger,
    t0: Instant,
    warm_end: Instant,
    end: Option<Instant>,
    /// Operations left to issue in an `--ops` run.
    budget: Option<AtomicI64>,
    stop: AtomicBool,
    completed: AtomicU64,
    measured: AtomicU64,
    /// Microseconds since t0 of the last measured reply.
    last_measured_us: AtomicU64,
    writes_acked: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    error_count: AtomicU64,
    hist: Mutex<Vec<Histogram<u64>>>,
    /// (sent, answered) in µs since t0, kept only when watching for snapshots.
    samples: Mutex<Vec<(u64, u64)>>,
}

impl Shared {
    fn error(&self, what: impl Into<String>) {
        self.error_count.fetch_add(1, Ordering::Relaxed);
        let mut e = self.errors.lock().unwrap_or_else(|e| e.into_inner());
        *e.entry(what.into()).or_default() += 1;
    }

    /// May a session send another operation, and is it measured?
    fn admit(&self, now: Instant) -> Option<bool> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        if now < self.warm_end {
            return Some(false);
        }
        if let Some(end) = self.end {
            if now >= end {
                return None;
            }
        }
        if let Some(b) = &self.budget {
            if b.fetch_sub(1, Ordering::Relaxed) <= 0 {
                return None;
            }
        }
        Some(true)
    }
}

/// What an operation in flight was, for checking its reply.
#[derive(Debug)]
enum Sent {
    Get(u32),
    Set(u32, Tag),
    Exists(u32),
    Create,
    Delete(String),
    Multi { versions: (i32, i32), seq: u64 },
    FailingMulti,
    PairRead { version: i32, seq: u64 },
}

impl Sent {
    /// A transaction on the server (a failed multi is logged too).
    fn is_write(&self) -> bool {
        !matches!(self, Sent::Get(_) | Sent::Exists(_) | Sent::PairRead { .. })
    }
}

struct Pending {
    xid: i32,
    sent: Sent,
    /// The operation its latency counts under, if measured.
    stat: Option<Op>,
    at: Instant,
}

/// A session's multi pair: versions after everything sent, and after everything acknowledged.
#[derive(Debug, Default)]
struct Pair {
    next: (i32, i32),
    /// The value (tag sequence) of the last multi sent and of the last acknowledged.
    next_seq: u64,
    acked: (i32, i32),
    acked_seq: u64,
    count: u64,
    /// A multi failed or its outcome is unknown: the pair is no longer checked or used.
    broken: bool,
}

/// What a session hands back when it is done.
struct SessionEnd {
    idx: u32,
    conn: Option<Conn>,
    created: Vec<String>,
    sequences: Vec<i64>,
    /// Versions and value the multi pair must have, unless broken.
    pair: Option<((i32, i32), u64)>,
}

const FLUSH_SAMPLES: usize = 2048;

struct Session {
    sh: Arc<Shared>,
    idx: u32,
    check: SessionCheck,
    rng: fastrand::Rng,
    inflight: VecDeque<Pending>,
    created: VecDeque<String>,
    sequences: Vec<i64>,
    pair: Pair,
    lat: Vec<(u8, u32)>,
    samples: Vec<(u64, u64)>,
    reads: u64,
}

impl Session {
    fn new(sh: Arc<Shared>, idx: u32) -> Session {
        let check = SessionCheck::new(idx, sh.opts.value_size, sh.layout.create_stem());
        let rng = fastrand::Rng::with_seed(sh.opts.seed ^ (idx as u64).wrapping_mul(0x9E37_79B9));
        Session {
            sh,
            idx,
            check,
            rng,
            inflight: VecDeque::new(),
            created: VecDeque::new(),
            sequences: Vec::new(),
            pair: Pair::default(),
            lat: Vec::with_capacity(FLUSH_SAMPLES),
            samples: Vec::new(),
            reads: 0,
        }
    }

    fn value(&self, tag: Tag) -> Option<Vec<u8>> {
        Some(make_value(tag, self.sh.opts.value_size))
    }

    /// Builds the next operation of the mix, queues it on `conn`, and notes it as in flight.
    fn issue(&mut self, conn: &mut Conn, measured: bool, now: Instant) {
        let keys = self.sh.opts.keys;
        let mut op = self.sh.opts.mix.pick(self.rng.u32(..));
        if op == Op::Delete && self.created.is_empty() {
            op = Op::Create; // nothing of ours to delete yet
        }
        if op == Op::Multi && self.pair.broken {
            op = Op::GetData;
        }
        let stat = measured.then_some(op);
        let layout = &self.sh.layout;
        let (req, sent) = match op {
            Op::GetData => {
                let k = self.rng.u32(..keys);
                let r = Request::GetData {
                    path: layout.key(k),
                    watch: false,
                };
                (r, Sent::Get(k))
            }
            Op::Exists => {
                let k = self.rng.u32(..keys);
                let r = Request::Exists {
                    path: layout.key(k),
                    watch: false,
                };
                (r, Sent::Exists(k))
            }
            Op::SetData => {
                let k = self.rng.u32(..keys);
                let tag = self.check.next_tag(k);
                let r = Request::SetData {
                    path: layout.key(k),
                    data: self.value(tag),
                    version: -1,
                };
                (r, Sent::Set(k, tag))
            }
            Op::Create => {
                let tag = self.check.next_tag(CREATE_KEY);
                let r = Request::Create {
                    op: op::CREATE,
                    req: CreateRequest {
                        path: layout.create_stem(),
                        data: self.value(tag),
                        acl: Acl::open_unsafe(),
                        flags: 2, // PERSISTENT_SEQUENTIAL
                        ttl: -1,
                    },
                };
                (r, Sent::Create)
            }
            Op::Delete => {
                let path = self.created.pop_front().unwrap_or_default();
                let r = Request::Delete {
                    path: path.clone(),
                    version: 0,
                };
                (r, Sent::Delete(path))
            }
            Op::Multi => {
                self.pair.count += 1;
                let tag = self.check.next_tag(MULTI_KEY);
                let data = self.value(tag);
                let (a, b) = (
                    layout.multi_key(self.idx, false),
                    layout.multi_key(self.idx, true),
                );
                let versions = self.pair.next;
                if self.pair.count.is_multiple_of(16) {
                    // A multi that must fail at its check, and a read showing it changed nothing.
                    let r = Request::Multi(vec![
                        Request::SetData {
                            path: a.clone(),
                            data,
                            version: versions.0,
                        },
                        Request::Check {
                            path: b,
                            version: versions.1 + 1000,
                        },
                    ]);
                    self.push(conn, r, Sent::FailingMulti, stat, now);
                    let read = Request::GetData {
                        path: a,
                        watch: false,
                    };
                    let sent = Sent::PairRead {
                        version: versions.0,
                        seq: self.pair.next_seq,
                    };
                    self.push(conn, read, sent, None, now);
                    return;
                }
                let r = Request::Multi(vec![
                    Request::SetData {
                        path: a,
                        data: data.clone(),
                        version: versions.0,
                    },
                    Request::SetData {
                        path: b,
                        data,
                        version: versions.1,
                    },
                ]);
                self.pair.next = (versions.0 + 1, versions.1 + 1);
                self.pair.next_seq = tag.seq;
                (
                    r,
                    Sent::Multi {
                        versions,
                        seq: tag.seq,
                    },
                )
            }
        };
        self.push(conn, req, sent, stat, now);
    }

    fn push(&mut self, conn: &mut Conn, req: Request, sent: Sent, stat: Option<Op>, at: Instant) {
        let xid = conn.queue(req);
        self.inflight.push_back(Pending {
            xid,
            sent,
            stat,
            at,
        });
    }

    /// Handles one reply, which the session matched to the oldest request outstanding (a reply
    /// out of order or unreadable ends the connection as a wrong answer). `Err` ends the session.
    fn on_reply(&mut self, reply: zk_core::request::Reply) -> Result<(), String> {
        let Some(p) = self.inflight.pop_front() else {
            let msg = format!(
                "session {}: a reply to xid {} that was never sent",
                self.idx, reply.xid
            );
            self.sh.ledger.wrong(msg.clone());
            return Err(msg);
        };
        if reply.xid != p.xid {
            let msg = format!(
                "session {}: a reply to xid {} while xid {} was the oldest outstanding: replies out of order",
                self.idx, reply.xid, p.xid
            );
            self.sh.ledger.wrong(msg.clone());
            return Err(msg);
        }
        let done = Instant::now();
        self.sh.ledger.checked.fetch_add(1, Ordering::Relaxed);
        if let Verdict::Wrong(w) = self.check.header(&reply) {
            self.sh.ledger.wrong(w);
        }
        let ledger = &self.sh.ledger;
        let verdict = match &p.sent {
            Sent::Get(k) => {
                self.reads += 1;
                let full = self.reads.is_multiple_of(16);
                self.check.on_get(*k, &reply, full)
            }
            Sent::Exists(k) => self.check.on_exists(*k, &reply),
            Sent::Set(k, tag) => {
                let v = self.check.on_set(*k, *tag, &reply);
                match v {
                    Verdict::Right => {
                        ledger.key_sets[*k as usize].fetch_add(1, Ordering::Relaxed);
                    }
                    Verdict::Error(_) => {
                        ledger.key_unknown[*k as usize].fetch_add(1, Ordering::Relaxed);
                    }
                    Verdict::Wrong(_) => {}
                }
                v
            }
            Sent::Create => match self.check.on_create(&reply) {
                Ok((path, n)) => {
                    ledger.creates.fetch_add(1, Ordering::Relaxed);
                    self.created.push_back(path);
                    self.sequences.push(n);
                    Verdict::Right
                }
                Err(v) => {
                    if matches!(v, Verdict::Error(_)) {
                        ledger.creates_unknown.fetch_add(1, Ordering::Relaxed);
                    }
                    v
                }
            },
            Sent::Delete(path) => {
                let v = self.check.on_delete(path, &reply);
                match v {
                    Verdict::Right => {
                        ledger.deletes.fetch_add(1, Ordering::Relaxed);
                    }
                    Verdict::Error(_) => {
                        ledger.deletes_unknown.fetch_add(1, Ordering::Relaxed);
                    }
                    Verdict::Wrong(_) => {}
                }
                v
            }
            Sent::Multi { versions, seq } => {
                if self.pair.broken {
                    Verdict::Right
                } else {
                    let v = self.check.on_multi(*versions, &reply);
                    if v == Verdict::Right {
                        self.pair.acked = (versions.0 + 1, versions.1 + 1);
                        self.pair.acked_seq = *seq;
                    } else {
                        self.pair.broken = true;
                    }
                    v
                }
            }
            Sent::FailingMulti => {
                if self.pair.broken {
                    Verdict::Right
                } else {
                    self.check.on_failing_multi(&reply)
                }
            }
            Sent::PairRead { version, seq } => {
                if self.pair.broken {
                    Verdict::Right
                } else {
                    self.check.on_pair_read(false, *version, *seq, &reply)
                }
            }
        };
        match verdict {
            Verdict::Right => {
                if p.sent.is_write() {
                    self.sh.writes_acked.fetch_add(1, Ordering::Relaxed);
                }
            }
            Verdict::Error(e) => self.sh.error(e.message()),
            Verdict::Wrong(w) => ledger.wrong(w),
        }
        self.sh.completed.fetch_add(1, Ordering::Relaxed);
        if let Some(op) = p.stat {
            let us = done.duration_since(p.at).as_micros().min(u32::MAX as u128) as u32;
            self.lat.push((op.index() as u8, us.max(1)));
            if !self.sh.opts.snapshot_dirs.is_empty() {
                let sent = p.at.duration_since(self.sh.t0).as_micros() as u64;
                let ans = done.duration_since(self.sh.t0).as_micros() as u64;
                self.samples.push((sent, ans));
            }
            self.sh.measured.fetch_add(1, Ordering::Relaxed);
            let d = done.duration_since(self.sh.t0).as_micros() as u64;
            self.sh.last_measured_us.fetch_max(d, Ordering::Relaxed);
            if self.lat.len() >= FLUSH_SAMPLES {
                self.flush_latencies();
            }
        }
        Ok(())
    }

    fn flush_latencies(&mut self) {
        let mut h = self.sh.hist.lock().unwrap_or_else(|e| e.into_inner());
        for (op, us) in self.lat.drain(..) {
            let _ = h[op as usize].record(us as u64);
        }
        drop(h);
        if !self.samples.is_empty() {
            let mut s = self.sh.samples.lock().unwrap_or_else(|e| e.into_inner());
            s.append(&mut self.samples);
        }
    }

    /// Everything in flight when the connection failed has an unknown outcome.
    fn abandon(&mut self) {
        let ledger = &self.sh.ledger;
        for p in self.inflight.drain(..) {
            match p.sent {
                Sent::Set(k, _) => {
                    ledger.key_unknown[k as usize].fetch_add(1, Ordering::Relaxed);
                }
                Sent::Create => {
                    ledger.creates_unknown.fetch_add(1, Ordering::Relaxed);
                }
                Sent::Delete(_) => {
                    ledger.deletes_unknown.fetch_add(1, Ordering::Relaxed);
                }
                Sent::Multi { .. } | Sent::FailingMulti => self.pair.broken = true,
                _ => {}
            }
        }
    }

    async fn run(mut self, mut conn: Conn) -> SessionEnd {
        let outstanding = self.sh.opts.outstanding.max(1) as usize;
        let ping_every = Duration::from_millis((conn.timeout_ms.max(3) / 3) as u64);
        let mut issuing = true;
        let mut alive = true;
        loop {
            let now = Instant::now();
            while issuing && self.inflight.len() < outstanding {
                match self.sh.admit(now) {
                    Some(measured) => self.issue(&mut conn, measured, now),
                    None => issuing = false,
                }
            }
            // Pings when idle; a silent server ends the connection.
            if let Err(e) = conn.tick() {
                self.sh.error(format!("connection failed: {e}"));
                alive = false;
                break;
            }
            if self.inflight.is_empty() && !issuing {
                break;
            }
            // With nothing in flight, wake up in time to ping; otherwise wait for a reply.
            let wait = if self.inflight.is_empty() {
                ping_every
            } else {
                self.sh.opts.request_timeout
            };
            match tokio::time::timeout(wait, conn.pump()).await {
                Err(_) if self.inflight.is_empty() => continue,
                Err(_) => {
                    self.sh.error(format!(
                        "no reply within {:?} (session ended)",
                        self.sh.opts.request_timeout
                    ));
                    alive = false;
                    break;
                }
                Ok(Err(e)) => {
                    if e.is_wrong_answer() {
                        self.sh.ledger.wrong(format!("session {}: {e}", self.idx));
                    } else {
                        self.sh.error(format!("connection failed: {e}"));
                    }
                    alive = false;
                    break;
                }
                Ok(Ok(_)) => {}
            }
            loop {
                let reply = match conn.next_reply() {
                    Ok(Some(r)) => r,
                    Ok(None) => break,
                    Err(e) => {
                        if e.is_wrong_answer() {
                            self.sh.ledger.wrong(format!("session {}: {e}", self.idx));
                        } else {
                            self.sh.error(format!("connection failed: {e}"));
                        }
                        alive = false;
                        break;
                    }
                };
                if self.on_reply(reply).is_err() {
                    alive = false;
                    break;
                }
            }
            if !alive {
                break;
            }
        }
        if !alive {
            self.abandon();
        }
        self.flush_latencies();
        let pair = (!self.pair.broken).then_some((self.pair.acked, self.pair.acked_seq));
        SessionEnd {
            idx: self.idx,
            conn: alive.then_some(conn),
            created: self.created.into_iter().collect(),
            sequences: self.sequences,
            pair,
        }
    }
}

/// How long setup, checking and cleanup requests may take, per batch.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(120);
/// Requests in flight during setup, checks and cleanup.
const ADMIN_WINDOW: usize = 256;
/// Requests per batch during setup, checks and cleanup.
const ADMIN_BATCH: usize = 4096;

/// Sends `reqs` in batches; returns the replies.
async fn batched(
    conn: &mut Conn,
    reqs: Vec<Request>,
) -> Result<Vec<zk_core::request::Reply>, WireError> {
    let mut out = Vec::with_capacity(reqs.len());
    for chunk in reqs.chunks(ADMIN_BATCH) {
        out.extend(conn.pipeline(chunk, ADMIN_WINDOW, ADMIN_TIMEOUT).await?);
    }
    Ok(out)
}

/// A spinner with a message on stderr (hidden with `show` false), ticking by itself.
pub fn progress_bar(show: bool) -> ProgressBar {
    let pb = if show {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(5))
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_msg}") {
        pb.set_style(style);
    }
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Creates the prefix, its key space and its parents.
async fn set_up(
    conn: &mut Conn,
    o: &LoadOptions,
    layout: &Layout,
    pb: &ProgressBar,
) -> Result<(), LoadError> {
    pb.set_message(format!("creating {} and {} keys", o.prefix, o.keys));
    let parents = vec![
        create_request(o.prefix.clone(), Vec::new()),
        create_request(layout.creates(), Vec::new()),
        create_request(layout.multis(), Vec::new()),
    ];
    let r = batched(conn, parents).await?;
    if r[0].err == ErrorCode::NodeExists {
        return Err(LoadError::Setup(format!(
            "{} already exists: remove it (zkcli deleteall {}) or give another --prefix",
            o.prefix, o.prefix
        )));
    }
    if let Some(bad) = r.iter().find(|r| !r.err.is_ok()) {
        return Err(LoadError::Setup(format!(
            "cannot create {} and its parents: {} ({})",
            o.prefix,
            bad.err.message(),
            bad.err.code()
        )));
    }
    let mut k = 0u32;
    while k < o.keys {
        let end = (k + ADMIN_BATCH as u32).min(o.keys);
        let reqs: Vec<Request> = (k..end)
            .map(|i| {
                let tag = Tag {
                    key: i,
                    writer: SETUP_WRITER,
                    seq: 0,
                };
                create_request(layout.key(i), make_value(tag, o.value_size))
            })
            .collect();
        let r = conn.pipeline(&reqs, ADMIN_WINDOW, ADMIN_TIMEOUT).await?;
        if let Some((i, bad)) = r.iter().enumerate().find(|(_, r)| !r.err.is_ok()) {
            return Err(LoadError::Setup(format!(
                "cannot create key {}: {}",
                layout.key(k + i as u32),
                bad.err.message()
            )));
        }
        k = end;
        pb.set_message(format!("created {k} of {} keys", o.keys));
    }
    Ok(())
}

/// Connects session `idx` and creates its multi pair.
async fn connect_session(o: &LoadOptions, layout: &Layout, idx: u32) -> Result<Conn, LoadError> {
    let addr = &o.servers[idx as usize % o.servers.len()];
    let mut c = Conn::connect(addr, o.session_timeout_ms, Duration::from_secs(15)).await?;
    let tag = Tag {
        key: MULTI_KEY,
        writer: idx,
        seq: 0,
    };
    let v = make_value(tag, o.value_size);
    let reqs = [
        create_request(layout.multi_key(idx, false), v.clone()),
        create_request(layout.multi_key(idx, true), v),
    ];
    let r = c.pipeline(&reqs, 2, ADMIN_TIMEOUT).await?;
    if let Some(bad) = r.iter().find(|r| !r.err.is_ok()) {
        return Err(LoadError::Setup(format!(
            "session {idx}: cannot create its multi pair under {}: {}",
            layout.multis(),
            bad.err.message()
        )));
    }
    Ok(c)
}

/// `zk_cnt_fsynctime` of each server, from `mntr`.
async fn fsync_counts(servers: &[String]) -> Option<BTreeMap<String, u64>> {
    let servers = servers.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut out = BTreeMap::new();
        for s in servers {
            let (host, port) = s.rsplit_once(':')?;
            let port: u16 = port.parse().ok()?;
            let text = crate::cli::four_letter(host, port, "mntr", Duration::from_secs(5)).ok()?;
            let n = text.lines().find_map(|l| {
                let (k, v) = l.split_once('\t')?;
                (k == "zk_cnt_fsynctime").then(|| v.trim().parse::<f64>().ok())?
            })?;
            out.insert(s, n as u64);
        }
        Some(out)
    })
    .await
    .ok()
    .flatten()
}

/// Checks the end state against the ledger: every key's value and version, the creates' parent,
/// the sequence numbers, each session's multi pair.
async fn check_end_state(
    conn: &mut Conn,
    sh: &Shared,
    ends: &[SessionEnd],
    pb: &ProgressBar,
) -> Result<(), WireError> {
    let o = &sh.opts;
    let layout = &sh.layout;
    pb.set_message(format!("checking the end state of {} keys", o.keys));
    // The sessions wrote through every server; this one may lag behind the leader until it syncs.
    let r = conn
        .call(
            &Request::Sync {
                path: o.prefix.clone(),
            },
            ADMIN_TIMEOUT,
        )
        .await?;
    if !r.err.is_ok() {
        sh.error(format!("end check: sync failed: {}", r.err.message()));
    }
    let mut check = SessionCheck::new(u32::MAX, o.value_size, layout.create_stem());
    let mut k = 0u32;
    while k < o.keys {
        let end = (k + ADMIN_BATCH as u32).min(o.keys);
        let reqs: Vec<Request> = (k..end)
            .map(|i| Request::GetData {
                path: layout.key(i),
                watch: false,
            })
            .collect();
        let replies = conn.pipeline(&reqs, ADMIN_WINDOW, ADMIN_TIMEOUT).await?;
        for (i, r) in (k..end).zip(&replies) {
            match check.on_get(i, r, true) {
                Verdict::Right => {}
                Verdict::Error(e) => sh.error(format!("end check: {}", e.message())),
                Verdict::Wrong(w) => sh.ledger.wrong(format!("end check: {w}")),
            }
            if let Response::GetData { stat, .. } = &r.body {
                if let Err(w) = sh.ledger.check_key_version(i, stat.version) {
                    sh.ledger.wrong(format!("end check: {w}"));
                }
            }
        }
        k = end;
    }
    let r = conn
        .call(
            &Request::Exists {
                path: layout.creates(),
                watch: false,
            },
            ADMIN_TIMEOUT,
        )
        .await?;
    match &r.body {
        Response::Stat(st) => {
            if let Err(w) = sh.ledger.check_creates_parent(st) {
                sh.ledger.wrong(format!("end check: {w}"));
            }
        }
        _ => sh.ledger.wrong(format!(
            "end check: {} is missing ({})",
            layout.creates(),
            r.err.message()
        )),
    }
    let dups = duplicate_sequence_numbers(
        ends.iter()
            .flat_map(|e| e.sequences.iter().copied())
            .collect(),
    );
    if !dups.is_empty() {
        sh.ledger.wrong(format!(
            "end check: sequence numbers handed out twice: {:?}",
            &dups[..dups.len().min(10)]
        ));
    }
    let mut reqs = Vec::new();
    let mut expect = Vec::new();
    for e in ends {
        if let Some((versions, seq)) = e.pair {
            for b in [false, true] {
                reqs.push(Request::GetData {
                    path: layout.multi_key(e.idx, b),
                    watch: false,
                });
                expect.push((e.idx, b, if b { versions.1 } else { versions.0 }, seq));
            }
        }
    }
    let replies = batched(conn, reqs).await?;
    for ((idx, b, version, seq), r) in expect.into_iter().zip(&replies) {
        let mut c = SessionCheck::new(idx, o.value_size, layout.create_stem());
        if let Verdict::Wrong(w) = c.on_pair_read(b, version, seq, r) {
            sh.ledger.wrong(format!("end check: {w}"));
        }
    }
    Ok(())
}

/// Deletes everything the run created.
async fn clean_up(
    conn: &mut Conn,
    o: &LoadOptions,
    layout: &Layout,
    created: Vec<String>,
    pb: &ProgressBar,
) -> Result<(), String> {
    pb.set_message(format!("removing {}", o.prefix));
    let del = |path: String| Request::Delete { path, version: -1 };
    let mut reqs: Vec<Request> = created.into_iter().map(del).collect();
    reqs.extend((0..o.sessions).flat_map(|i| {
        [
            del(layout.multi_key(i, false)),
            del(layout.multi_key(i, true)),
        ]
    }));
    reqs.extend((0..o.keys).map(|k| del(layout.key(k))));
    let r = batched(conn, reqs).await.map_err(|e| e.to_string())?;
    let failed = r
        .iter()
        .filter(|r| !r.err.is_ok() && r.err != ErrorCode::NoNode)
        .count();
    let last = vec![
        del(layout.creates()),
        del(layout.multis()),
        del(o.prefix.clone()),
    ];
    let r = batched(conn, last).await.map_err(|e| e.to_string())?;
    if failed > 0 || r.iter().any(|r| !r.err.is_ok()) {
        // Sequential nodes whose create had an unknown outcome may still be there.
        return Err(format!(
            "{failed} deletes failed and {} is not empty",
            o.prefix
        ));
    }
    Ok(())
}

/// Runs a load: set up, connect, warm up, measure, check, clean up.
pub async fn run(opts: LoadOptions) -> Result<LoadReport, LoadError> {
    if opts.servers.is_empty() {
        return Err(LoadError::Setup(
            "no server to connect to (--server host:port)".into(),
        ));
    }
    let layout = Layout {
        prefix: opts.prefix.clone(),
    };
    let pb = progress_bar(opts.progress);
    let mut admin = Conn::connect(
        &opts.servers[0],
        opts.session_timeout_ms,
        Duration::from_secs(15),
    )
    .await?;
    set_up(&mut admin, &opts, &layout, &pb).await?;

    pb.set_message(format!("connecting {} sessions", opts.sessions));
    let mut set = tokio::task::JoinSet::new();
    for idx in 0..opts.sessions {
        let (o, l) = (opts.clone(), layout.clone());
        set.spawn(async move { (idx, connect_session(&o, &l, idx).await) });
    }
    let mut conns: Vec<Option<Conn>> = (0..opts.sessions).map(|_| None).collect();
    let mut failure = None;
    while let Some(j) = set.join_next().await {
        match j {
            Ok((idx, Ok(c))) => conns[idx as usize] = Some(c),
            Ok((_, Err(e))) => failure = Some(e),
            Err(e) => failure = Some(LoadError::Setup(format!("a session task failed: {e}"))),
        }
    }
    if let Some(e) = failure {
        pb.finish_and_clear();
        if !opts.keep {
            let _ = clean_up(&mut admin, &opts, &layout, Vec::new(), &pb).await;
        }
        return Err(e);
    }

    let before = if opts.disk_stats {
        fsync_counts(&opts.servers).await
    } else {
        None
    };
    let t0 = Instant::now();
    let warm_end = t0 + opts.warmup;
    let sh = Arc::new(Shared {
        ledger: Ledger::new(opts.keys),
        layout: layout.clone(),
        t0,
        warm_end,
        end: opts.duration.map(|d| warm_end + d),
        budget: opts
            .ops
            .map(|n| AtomicI64::new(n.min(i64::MAX as u64) as i64)),
        stop: AtomicBool::new(false),
        completed: AtomicU64::new(0),
        measured: AtomicU64::new(0),
        last_measured_us: AtomicU64::new(0),
        writes_acked: AtomicU64::new(0),
        errors: Mutex::new(BTreeMap::new()),
        error_count: AtomicU64::new(0),
        hist: Mutex::new(Op::ALL.iter().map(|_| histogram()).collect()),
        samples: Mutex::new(Vec::new()),
        opts: opts.clone(),
    });
    let watch_stop = Arc::new(AtomicBool::new(false));
    let watcher = (!opts.snapshot_dirs.is_empty()).then(|| {
        tokio::spawn(snapwatch::watch(
            opts.snapshot_dirs.clone(),
            t0,
            watch_stop.clone(),
        ))
    });
    let ctrl_c = {
        let sh = sh.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                sh.stop.store(true, Ordering::Relaxed);
            }
        })
    };
    let mut tasks = tokio::task::JoinSet::new();
    for (idx, c) in conns.into_iter().enumerate() {
        let s = Session::new(sh.clone(), idx as u32);
        if let Some(c) = c {
            tasks.spawn(s.run(c));
        }
    }
    let ticker = {
        let sh = sh.clone();
        let pb = pb.clone();
        tokio::spawn(async move {
            let mut last = (Instant::now(), 0u64);
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let now = Instant::now();
                let done = sh.completed.load(Ordering::Relaxed);
                let rate = (done - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
                last = (now, done);
                let phase = if sh.stop.load(Ordering::Relaxed) {
                    "stopping".to_string()
                } else if now < sh.warm_end {
                    format!(
                        "warming up ({:.0} s left)",
                        (sh.warm_end - now).as_secs_f64()
                    )
                } else if let Some(end) = sh.end {
                    format!(
                        "measuring ({:.0} s left)",
                        end.saturating_duration_since(now).as_secs_f64()
                    )
                } else {
                    let left = sh
                        .budget
                        .as_ref()
                        .map_or(0, |b| b.load(Ordering::Relaxed).max(0));
                    format!("measuring ({left} ops left)")
                };
                pb.set_message(format!(
                    "{phase}: {done} ops, {rate:.0} ops/s now, {} errors, {} wrong answers",
                    sh.error_count.load(Ordering::Relaxed),
                    sh.ledger.wrong_count()
                ));
            }
        })
    };
    let mut ends = Vec::new();
    while let Some(j) = tasks.join_next().await {
        match j {
            Ok(e) => ends.push(e),
            Err(e) => sh.error(format!("a session task failed: {e}")),
        }
    }
    let stopped_at = Instant::now();
    ticker.abort();
    watch_stop.store(true, Ordering::Relaxed);
    let intervals: Vec<Interval> = match watcher {
        Some(w) => w.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let after = if opts.disk_stats {
        fsync_counts(&opts.servers).await
    } else {
        None
    };

    // The set-up session sat idle through the run, likely longer than its session timeout: a
    // fresh one checks and cleans up.
    let fresh = Conn::connect(
        &opts.servers[0],
        opts.session_timeout_ms,
        Duration::from_secs(15),
    )
    .await;
    match fresh {
        Ok(c) => {
            let old = std::mem::replace(&mut admin, c);
            tokio::spawn(old.close(Duration::from_secs(1)));
        }
        Err(e) => sh.error(format!("end check: cannot connect again: {e}")),
    }
    if let Err(e) = check_end_state(&mut admin, &sh, &ends, &pb).await {
        sh.error(format!("end check failed: {e}"));
    }
    let created: Vec<String> = ends
        .iter_mut()
        .flat_map(|e| std::mem::take(&mut e.created))
        .collect();
    if !opts.keep {
        if let Err(e) = clean_up(&mut admin, &opts, &layout, created, &pb).await {
            eprintln!("zkbench: cleaning up {}: {e}", opts.prefix);
        }
    }
    pb.set_message("closing sessions");
    let mut closing = tokio::task::JoinSet::new();
    for c in ends.iter_mut().filter_map(|e| e.conn.take()) {
        closing.spawn(c.close(Duration::from_secs(5)));
    }
    closing.spawn(admin.close(Duration::from_secs(5)));
    while closing.join_next().await.is_some() {}
    ctrl_c.abort();
    pb.finish_and_clear();

    let measured_s = match opts.duration {
        Some(d) if !sh.stop.load(Ordering::Relaxed) => d.as_secs_f64(),
        _ => {
            let last = Duration::from_micros(sh.last_measured_us.load(Ordering::Relaxed));
            let start = warm_end.duration_since(t0);
            let end = if last > start {
                last
            } else {
                stopped_at.duration_since(t0)
            };
            end.saturating_sub(start).as_secs_f64().max(1e-6)
        }
    };
    let hist = sh.hist.lock().unwrap_or_else(|e| e.into_inner());
    let mut total = histogram();
    let mut ops = BTreeMap::new();
    for o in Op::ALL {
        let h = &hist[o.index()];
        if opts.mix.weight(o) == 0 && h.is_empty() {
            continue;
        }
        let _ = total.add(h);
        ops.insert(
            o.name().to_string(),
            OpReport {
                count: h.len(),
                ops_per_sec: h.len() as f64 / measured_s,
                latency_ms: Latency::from_micros(h),
            },
        );
    }
    let snapshot = (!opts.snapshot_dirs.is_empty()).then(|| {
        let samples = sh.samples.lock().unwrap_or_else(|e| e.into_inner());
        let (mut during, mut steady) = (histogram(), histogram());
        for &(sent, done) in samples.iter() {
            let lat = done.saturating_sub(sent).max(1);
            let h = if snapwatch::overlaps(
                &intervals,
                Duration::from_micros(sent),
                Duration::from_micros(done),
            ) {
                &mut during
            } else {
                &mut steady
            };
            let _ = h.record(lat);
        }
        SnapshotReport {
            snapshots: intervals.len(),
            snapshot_seconds: intervals
                .iter()
                .map(|i| (i.end - i.start).as_secs_f64())
                .sum(),
            during_count: during.len(),
            during_ms: Latency::from_micros(&during),
            steady_count: steady.len(),
            steady_ms: Latency::from_micros(&steady),
        }
    });
    let disk = match (before, after) {
        (Some(b), Some(a)) => {
            let fsyncs: BTreeMap<String, u64> = a
                .iter()
                .map(|(s, n)| (s.clone(), n.saturating_sub(b.get(s).copied().unwrap_or(0))))
                .collect();
            let writes = sh.writes_acked.load(Ordering::Relaxed);
            let most = fsyncs.values().copied().max().unwrap_or(0);
            Some(DiskReport {
                fsyncs,
                writes,
                writes_per_fsync: if most > 0 {
                    writes as f64 / most as f64
                } else {
                    0.0
                },
            })
        }
        _ => None,
    };
    drop(hist);
    let error_kinds = sh.errors.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(LoadReport {
        kind: "load".into(),
        servers: opts.servers.clone(),
        sessions: opts.sessions,
        outstanding: opts.outstanding,
        mix: opts.mix.to_string(),
        value_size: opts.value_size,
        keys: opts.keys,
        warmup_s: opts.warmup.as_secs_f64(),
        measured_s,
        total: OpReport {
            count: total.len(),
            ops_per_sec: total.len() as f64 / measured_s,
            latency_ms: Latency::from_micros(&total),
        },
        ops,
        errors: sh.error_count.load(Ordering::Relaxed),
        error_kinds,
        wrong_answers: sh.ledger.wrong_count(),
        wrong_samples: sh.ledger.samples(),
        checked_replies: sh.ledger.checked.load(Ordering::Relaxed),
        disk,
        snapshot,
    })
}
