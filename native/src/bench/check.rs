//! Correctness spot checks, so that a fast wrong server cannot win a benchmark.
//!
//! Each session checks every reply it gets against what ZooKeeper guarantees one session
//! ([`SessionCheck`]): replies in the order of the requests, a server's zxid never going back,
//! values that are whole and belong to the key read, reads that never go back in time on a key
//! and always see the session's own last write, sequential names that only grow, multis whose
//! operations share one zxid and that leave nothing behind when they fail. A [`Ledger`] shared by
//! all sessions counts what was acknowledged, for the checks at the end of a run: each key's
//! version equals the number of acknowledged setData on it, the creates' parent counts exactly
//! the creates and deletes acknowledged, no sequence number was handed out twice.
//!
//! A reply is one of three things ([`Verdict`]): right, an error a correct server may give under
//! load (connection loss, throttling: counted, and the run fails), or a wrong answer (the run
//! fails with exit code 3).

use super::workload::{check_value, sequence_number, Tag, MULTI_KEY};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use zk_core::request::{OpResult, Reply, Response};
use zk_core::stat::Stat;
use zk_core::ErrorCode;

/// How many wrong answers are kept word for word.
const MAX_SAMPLES: usize = 20;

/// What a reply was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Right,
    /// A failure a correct server may report (the outcome of a write is then unknown).
    Error(ErrorCode),
    Wrong(String),
}

/// Error codes a correct server may answer with under load or while it changes leaders.
fn is_transient(e: ErrorCode) -> bool {
    matches!(
        e,
        ErrorCode::ConnectionLoss
            | ErrorCode::OperationTimeout
            | ErrorCode::SessionExpired
            | ErrorCode::SessionMoved
            | ErrorCode::RequestTimeout
            | ErrorCode::ThrottledOp
            | ErrorCode::SystemError
    )
}

/// An error where success was due: transient, or a wrong answer.
fn unexpected(e: ErrorCode, what: &str) -> Verdict {
    if is_transient(e) {
        Verdict::Error(e)
    } else {
        Verdict::Wrong(format!("{what}: {} ({})", e.message(), e.code()))
    }
}

/// What all sessions acknowledged, and the wrong answers they saw.
pub struct Ledger {
    /// Acknowledged setData per key.
    pub key_sets: Vec<AtomicU32>,
    /// setData per key whose outcome is unknown (the connection failed before the reply).
    pub key_unknown: Vec<AtomicU32>,
    pub creates: AtomicU64,
    pub deletes: AtomicU64,
    pub creates_unknown: AtomicU64,
    pub deletes_unknown: AtomicU64,
    /// Replies checked.
    pub checked: AtomicU64,
    wrong: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Ledger {
    pub fn new(keys: u32) -> Ledger {
        Ledger {
            key_sets: (0..keys).map(|_| AtomicU32::new(0)).collect(),
            key_unknown: (0..keys).map(|_| AtomicU32::new(0)).collect(),
            creates: AtomicU64::new(0),
            deletes: AtomicU64::new(0),
            creates_unknown: AtomicU64::new(0),
            deletes_unknown: AtomicU64::new(0),
            checked: AtomicU64::new(0),
            wrong: AtomicU64::new(0),
            samples: Mutex::new(Vec::new()),
        }
    }

    /// Records a wrong answer.
    pub fn wrong(&self, what: String) {
        self.wrong.fetch_add(1, Ordering::Relaxed);
        let mut s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() < MAX_SAMPLES {
            s.push(what);
        }
    }

    pub fn wrong_count(&self) -> u64 {
        self.wrong.load(Ordering::Relaxed)
    }

    pub fn samples(&self) -> Vec<String> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The end-of-run check of one key: its version against the acknowledged setData.
    pub fn check_key_version(&self, key: u32, version: i32) -> Result<(), String> {
        let k = key as usize;
        let acked = self
            .key_sets
            .get(k)
            .map_or(0, |a| a.load(Ordering::Relaxed)) as i64;
        let unknown = self
            .key_unknown
            .get(k)
            .map_or(0, |a| a.load(Ordering::Relaxed)) as i64;
        let v = version as i64;
        if v < acked || v > acked + unknown {
            return Err(if unknown == 0 {
                format!("key {key} has version {v} after {acked} acknowledged setData")
            } else {
                format!(
                    "key {key} has version {v} after {acked} acknowledged setData and {unknown} of unknown outcome"
                )
            });
        }
        Ok(())
    }

    /// The end-of-run check of the creates' parent: its child count and cversion against the
    /// acknowledged creates and deletes.
    pub fn check_creates_parent(&self, stat: &Stat) -> Result<(), String> {
        let c = self.creates.load(Ordering::Relaxed) as i64;
        let d = self.deletes.load(Ordering::Relaxed) as i64;
        let cu = self.creates_unknown.load(Ordering::Relaxed) as i64;
        let du = self.deletes_unknown.load(Ordering::Relaxed) as i64;
        let children = stat.num_children as i64;
        if children < c - d - du || children > c + cu - d {
            return Err(format!(
                "the creates' parent has {children} children after {c} acknowledged creates and {d} deletes \
                 ({cu} creates and {du} deletes of unknown outcome)"
            ));
        }
        let cversion = stat.cversion as i64;
        if cversion < c + d || cversion > c + d + cu + du {
            return Err(format!(
                "the creates' parent has cversion {cversion} after {c} acknowledged creates and {d} deletes \
                 ({cu} creates and {du} deletes of unknown outcome)"
            ));
        }
        Ok(())
    }
}

/// Sequence numbers handed out twice, among all sessions' creates.
pub fn duplicate_sequence_numbers(mut all: Vec<i64>) -> Vec<i64> {
    all.sort_unstable();
    let mut dups: Vec<i64> = all
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    dups.dedup();
    dups
}

/// What a session knows of one key it watches closely.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    /// The newest modification this session has seen of the key.
    mzxid: i64,
    version: i32,
    /// The session's own last acknowledged write: its zxid, version and tag sequence number.
    own: Option<(i64, i32, u64)>,
}

/// The checks of one session.
pub struct SessionCheck {
    pub session: u32,
    value_size: usize,
    create_stem: String,
    last_zxid: i64,
    /// One key in `sample` is watched closely (monotonic reads, read-your-writes).
    sample: u32,
    seen: HashMap<u32, Seen>,
    last_sequence: i64,
    /// The tag sequence number of the last value this session sent.
    pub sent_seq: u64,
    reads: u64,
}

impl SessionCheck {
    pub fn new(session: u32, value_size: usize, create_stem: String) -> SessionCheck {
        SessionCheck {
            session,
            value_size,
            create_stem,
            last_zxid: 0,
            sample: 8,
            seen: HashMap::new(),
            last_sequence: -1,
            sent_seq: 0,
            reads: 0,
        }
    }

    fn sampled(&self, key: u32) -> bool {
        key % self.sample == self.session % self.sample
    }

    /// The next tag this session writes to `key`.
    pub fn next_tag(&mut self, key: u32) -> Tag {
        self.sent_seq += 1;
        Tag {
            key,
            writer: self.session,
            seq: self.sent_seq,
        }
    }

    /// Every reply: the server's zxid never goes back within a session.
    pub fn header(&mut self, r: &Reply) -> Verdict {
        let z = r.zxid.0 as i64;
        if z < self.last_zxid {
            return Verdict::Wrong(format!(
                "session {}: reply zxid {:#x} after {:#x}: the server went back in time",
                self.session, z, self.last_zxid
            ));
        }
        self.last_zxid = z;
        Verdict::Right
    }

    fn stat_sane(&self, what: &str, r: &Reply, st: &Stat) -> Result<(), String> {
        if st.mzxid.0 as i64 > r.zxid.0 as i64 {
            return Err(format!(
                "{what}: modified at zxid {:#x}, after the reply's zxid {:#x}",
                st.mzxid.0, r.zxid.0
            ));
        }
        if st.data_length as usize != self.value_size {
            return Err(format!(
                "{what}: dataLength {} for a value of {} bytes",
                st.data_length, self.value_size
            ));
        }
        Ok(())
    }

    /// A read of `key` returned `st` (and, for getData, a value with `tag`).
    fn observe(&mut self, what: &str, key: u32, st: &Stat, tag: Option<Tag>) -> Result<(), String> {
        if !self.sampled(key) {
            return Ok(());
        }
        let s = self.seen.entry(key).or_default();
        let m = st.mzxid.0 as i64;
        if m < s.mzxid {
            return Err(format!(
                "{what}: modified at zxid {m:#x}, but this session saw it modified at {:#x} before",
                s.mzxid
            ));
        }
        if m == s.mzxid && st.version != s.version && s.mzxid != 0 {
            return Err(format!(
                "{what}: version {} at zxid {m:#x}, seen as version {} before",
                st.version, s.version
            ));
        }
        if let Some((oz, ov, oseq)) = s.own {
            if m < oz {
                return Err(format!(
                    "{what}: stale read (zxid {m:#x}) after this session's write at {oz:#x}"
                ));
            }
            if m == oz {
                if st.version != ov {
                    return Err(format!(
                        "{what}: version {} where this session's write made version {ov}",
                        st.version
                    ));
                }
                if let Some(t) = tag {
                    if t.writer != self.session || t.seq != oseq {
                        return Err(format!(
                            "{what}: the value of session {} write {} where this session's write {oseq} is due",
                            t.writer, t.seq
                        ));
                    }
                }
            }
        }
        s.mzxid = m;
        s.version = st.version;
        Ok(())
    }

    fn verdict(r: Result<(), String>) -> Verdict {
        match r {
            Ok(()) => Verdict::Right,
            Err(e) => Verdict::Wrong(e),
        }
    }

    /// getData of `key`. `full` checks every byte of the value (a sample of reads).
    pub fn on_get(&mut self, key: u32, r: &Reply, full: bool) -> Verdict {
        let what = format!("session {}: getData of key {key}", self.session);
        if !r.err.is_ok() {
            return unexpected(r.err, &what);
        }
        let Response::GetData { data, stat } = &r.body else {
            return Verdict::Wrong(format!("{what}: no data in the reply"));
        };
        self.reads += 1;
        let data = data.as_deref().unwrap_or_default();
        let res = (|| {
            let tag = check_value(data, self.value_size, key, full)
                .map_err(|e| format!("{what}: {e}"))?;
            if tag.writer == self.session && tag.seq > self.sent_seq {
                return Err(format!(
                    "{what}: a value this session has not written yet (write {})",
                    tag.seq
                ));
            }
            self.stat_sane(&what, r, stat)?;
            self.observe(&what, key, stat, Some(tag))
        })();
        Self::verdict(res)
    }

    /// exists of `key`.
    pub fn on_exists(&mut self, key: u32, r: &Reply) -> Verdict {
        let what = format!("session {}: exists of key {key}", self.session);
        if !r.err.is_ok() {
            return unexpected(r.err, &what);
        }
        let Response::Stat(stat) = &r.body else {
            return Verdict::Wrong(format!("{what}: no stat in the reply"));
        };
        let res = self
            .stat_sane(&what, r, stat)
            .and_then(|_| self.observe(&what, key, stat, None));
        Self::verdict(res)
    }

    /// setData of `key` with `tag`, any version.
    pub fn on_set(&mut self, key: u32, tag: Tag, r: &Reply) -> Verdict {
        let what = format!("session {}: setData of key {key}", self.session);
        if !r.err.is_ok() {
            return unexpected(r.err, &what);
        }
        let Response::Stat(stat) = &r.body else {
            return Verdict::Wrong(format!("{what}: no stat in the reply"));
        };
        let res = (|| {
            self.stat_sane(&what, r, stat)?;
            if stat.version < 1 {
                return Err(format!("{what}: version {} after a write", stat.version));
            }
            if self.sampled(key) {
                let s = self.seen.entry(key).or_default();
                let m = stat.mzxid.0 as i64;
                if m <= s.mzxid || stat.version <= s.version {
                    return Err(format!(
                        "{what}: the write made version {} at zxid {m:#x}, not newer than version {} at {:#x} seen before",
                        stat.version, s.version, s.mzxid
                    ));
                }
                *s = Seen {
                    mzxid: m,
                    version: stat.version,
                    own: Some((m, stat.version, tag.seq)),
                };
            }
            Ok(())
        })();
        Self::verdict(res)
    }

    /// A sequential create: its name and number. Numbers only grow within a session.
    pub fn on_create(&mut self, r: &Reply) -> Result<(String, i64), Verdict> {
        let what = format!("session {}: sequential create", self.session);
        if !r.err.is_ok() {
            return Err(unexpected(r.err, &what));
        }
        let path = match &r.body {
            Response::Create { path } | Response::Create2 { path, .. } => path,
            _ => return Err(Verdict::Wrong(format!("{what}: no path in the reply"))),
        };
        let Some(n) = sequence_number(&self.create_stem, path) else {
            return Err(Verdict::Wrong(format!(
                "{what}: created {path:?}, not {}<ten digits>",
                self.create_stem
            )));
        };
        if n <= self.last_sequence {
            return Err(Verdict::Wrong(format!(
                "{what}: sequence number {n} after {} in the same session",
                self.last_sequence
            )));
        }
        self.last_sequence = n;
        Ok((path.clone(), n))
    }

    /// delete of a node this session created and never changed (version 0).
    pub fn on_delete(&mut self, path: &str, r: &Reply) -> Verdict {
        if r.err.is_ok() {
            Verdict::Right
        } else {
            unexpected(
                r.err,
                &format!(
                    "session {}: delete of {path}, which this session created",
                    self.session
                ),
            )
        }
    }

    /// A multi of setData on the session's pair with the versions due: both must succeed, as one
    /// transaction (one zxid), making the next versions.
    pub fn on_multi(&mut self, versions: (i32, i32), r: &Reply) -> Verdict {
        let what = format!("session {}: multi(setData a, setData b)", self.session);
        let results = match &r.body {
            Response::Multi(res) => res,
            _ if !r.err.is_ok() => return unexpected(r.err, &what),
            _ => return Verdict::Wrong(format!("{what}: no results in the reply")),
        };
        match results.as_slice() {
            [OpResult::SetData { stat: a }, OpResult::SetData { stat: b }] if r.err.is_ok() => {
                if a.mzxid != b.mzxid {
                    return Verdict::Wrong(format!(
                        "{what}: not atomic: its operations have zxids {:#x} and {:#x}",
                        a.mzxid.0, b.mzxid.0
                    ));
                }
                if (a.version, b.version) != (versions.0 + 1, versions.1 + 1) {
                    return Verdict::Wrong(format!(
                        "{what}: versions {} and {} after {} and {}",
                        a.version, b.version, versions.0, versions.1
                    ));
                }
                Verdict::Right
            }
            res => {
                let err = res.iter().find_map(|x| match x {
                    OpResult::Error { err } if !err.is_ok() => Some(*err),
                    _ => None,
                });
                match err {
                    Some(e) if is_transient(e) => Verdict::Error(e),
                    _ => Verdict::Wrong(format!("{what}: failed: {res:?}")),
                }
            }
        }
    }

    /// A multi of (setData a, check b with a wrong version): it must fail at the check and change
    /// nothing (which the read after it confirms, [`SessionCheck::on_pair_read`]).
    pub fn on_failing_multi(&mut self, r: &Reply) -> Verdict {
        let what = format!(
            "session {}: multi(setData a, check b wrong version)",
            self.session
        );
        match &r.body {
            Response::Multi(res) => match res.as_slice() {
                [OpResult::Error {
                    err: ErrorCode::Ok | ErrorCode::RuntimeInconsistency,
                }, OpResult::Error {
                    err: ErrorCode::BadVersion,
                }] => Verdict::Right,
                res => Verdict::Wrong(format!(
                    "{what}: results {res:?} (header {:?}); BadVersion at the check was due",
                    r.err
                )),
            },
            _ if r.err == ErrorCode::BadVersion => Verdict::Right,
            _ if is_transient(r.err) => Verdict::Error(r.err),
            _ => Verdict::Wrong(format!(
                "{what}: answered {:?} with no results; BadVersion was due",
                r.err
            )),
        }
    }

    /// A read of one of the session's multi pair: the version and the value of its last
    /// successful multi (`seq`, 0 for the value setup wrote).
    pub fn on_pair_read(&mut self, b: bool, version: i32, seq: u64, r: &Reply) -> Verdict {
        let what = format!(
            "session {}: getData of its multi node {}",
            self.session,
            if b { "b" } else { "a" }
        );
        if !r.err.is_ok() {
            return unexpected(r.err, &what);
        }
        let Response::GetData { data, stat } = &r.body else {
            return Verdict::Wrong(format!("{what}: no data in the reply"));
        };
        let data = data.as_deref().unwrap_or_default();
        let res = (|| {
            let tag = check_value(data, self.value_size, MULTI_KEY, true)
                .map_err(|e| format!("{what}: {e}"))?;
            if stat.version != version || tag.seq != seq {
                return Err(format!(
                    "{what}: version {} with the value of multi {}, where version {version} with multi {seq} is due \
                     (a failed multi changed it, or a successful one was lost)",
                    stat.version, tag.seq
                ));
            }
            Ok(())
        })();
        Self::verdict(res)
    }
}

#[cfg(test)]
mod tests {
    use super::super::workload::make_value;
    use super::*;
    use zk_core::Zxid;

    const SIZE: usize = 100;

    fn stat(mzxid: u64, version: i32) -> Stat {
        Stat {
            mzxid: Zxid(mzxid),
            version,
            data_length: SIZE as i32,
            ..Stat::default()
        }
    }

    fn reply(zxid: u64, body: Response) -> Reply {
        Reply {
            xid: 1,
            zxid: Zxid(zxid),
            err: ErrorCode::Ok,
            body,
        }
    }

    fn get(zxid: u64, tag: Tag, st: Stat) -> Reply {
        reply(
            zxid,
            Response::GetData {
                data: Some(make_value(tag, SIZE)),
                stat: st,
            },
        )
    }

    fn wrong(v: Verdict) -> String {
        match v {
            Verdict::Wrong(s) => s,
            other => panic!("expected a wrong answer, got {other:?}"),
        }
    }

    fn tag(key: u32, writer: u32, seq: u64) -> Tag {
        Tag { key, writer, seq }
    }

    #[test]
    fn right_answers_pass() {
        let mut c = SessionCheck::new(0, SIZE, "/p/c/s-".into());
        assert_eq!(c.header(&reply(5, Response::Empty)), Verdict::Right);
        assert_eq!(
            c.on_get(8, &get(5, tag(8, 3, 1), stat(4, 1)), true),
            Verdict::Right
        );
        let t = c.next_tag(8);
        assert_eq!(
            c.on_set(8, t, &reply(9, Response::Stat(stat(9, 2)))),
            Verdict::Right
        );
        assert_eq!(c.on_get(8, &get(9, t, stat(9, 2)), true), Verdict::Right);
        // Another session's later write is fine too.
        assert_eq!(
            c.on_get(8, &get(12, tag(8, 5, 7), stat(11, 3)), false),
            Verdict::Right
        );
        assert_eq!(
            c.on_exists(8, &reply(12, Response::Stat(stat(11, 3)))),
            Verdict::Right
        );
        let created = c.on_create(&reply(
            13,
            Response::Create {
                path: "/p/c/s-0000000004".into(),
            },
        ));
        assert_eq!(created, Ok(("/p/c/s-0000000004".into(), 4)));
        assert_eq!(
            c.on_multi(
                (0, 0),
                &reply(
                    14,
                    Response::Multi(vec![
                        OpResult::SetData { stat: stat(14, 1) },
                        OpResult::SetData { stat: stat(14, 1) },
                    ])
                )
            ),
            Verdict::Right
        );
        let failed = Response::Multi(vec![
            OpResult::Error { err: ErrorCode::Ok },
            OpResult::Error {
                err: ErrorCode::BadVersion,
            },
        ]);
        assert_eq!(c.on_failing_multi(&reply(14, failed)), Verdict::Right);
        assert_eq!(
            c.on_pair_read(false, 1, 3, &get(14, tag(MULTI_KEY, 0, 3), stat(14, 1))),
            Verdict::Right
        );
    }

    #[test]
    fn wrong_answers_are_caught() {
        let mut c = SessionCheck::new(0, SIZE, "/p/c/s-".into());
        // Garbage, another key's value, a short value.
        let mut r = get(5, tag(8, 3, 1), stat(4, 1));
        if let Response::GetData { data: Some(d), .. } = &mut r.body {
            d[60] ^= 0xff;
        }
        assert!(wrong(c.on_get(8, &r, true)).contains("corrupted"));
        assert!(wrong(c.on_get(8, &get(5, tag(16, 3, 1), stat(4, 1)), false)).contains("key 16"));
        assert!(wrong(c.on_get(
            8,
            &reply(
                5,
                Response::GetData {
                    data: Some(vec![1; 10]),
                    stat: stat(4, 1)
                }
            ),
            false
        ))
        .contains("bytes"));
        // A missing key.
        let mut nonode = reply(5, Response::Empty);
        nonode.err = ErrorCode::NoNode;
        assert!(wrong(c.on_get(8, &nonode, false)).contains("NoNode"));
        // But connection loss is an error, not a wrong answer.
        nonode.err = ErrorCode::ConnectionLoss;
        assert_eq!(
            c.on_get(8, &nonode, false),
            Verdict::Error(ErrorCode::ConnectionLoss)
        );
        // Time going back.
        assert_eq!(c.header(&reply(10, Response::Empty)), Verdict::Right);
        assert!(wrong(c.header(&reply(9, Response::Empty))).contains("back in time"));
        // A stale read after our own write; a lost write (old value at our write's zxid).
        let t = c.next_tag(8);
        assert_eq!(
            c.on_set(8, t, &reply(20, Response::Stat(stat(20, 2)))),
            Verdict::Right
        );
        assert!(wrong(c.on_get(8, &get(21, tag(8, 3, 1), stat(4, 1)), false)).contains("zxid"));
        assert!(wrong(c.on_get(8, &get(21, tag(8, 3, 1), stat(20, 2)), false)).contains("write"));
        // A value this session never wrote.
        assert!(
            wrong(c.on_get(8, &get(21, tag(8, 0, 99), stat(20, 2)), false)).contains("not written")
        );
        // A stat newer than the reply.
        assert!(
            wrong(c.on_exists(16, &reply(21, Response::Stat(stat(30, 1)))))
                .contains("after the reply")
        );
        // Sequence numbers going back, or the wrong name.
        let mk = |p: &str| reply(22, Response::Create { path: p.into() });
        assert!(c.on_create(&mk("/p/c/s-0000000005")).is_ok());
        assert!(matches!(
            c.on_create(&mk("/p/c/s-0000000005")),
            Err(Verdict::Wrong(_))
        ));
        assert!(matches!(
            c.on_create(&mk("/p/c/x-0000000009")),
            Err(Verdict::Wrong(_))
        ));
        // A multi that is not atomic, or has wrong versions.
        let m = |a: Stat, b: Stat| {
            reply(
                30,
                Response::Multi(vec![
                    OpResult::SetData { stat: a },
                    OpResult::SetData { stat: b },
                ]),
            )
        };
        assert!(wrong(c.on_multi((0, 0), &m(stat(29, 1), stat(30, 1)))).contains("not atomic"));
        assert!(wrong(c.on_multi((0, 0), &m(stat(30, 2), stat(30, 1)))).contains("versions"));
        // A failing multi that succeeded, and a pair changed by it.
        assert!(!matches!(
            c.on_failing_multi(&m(stat(30, 1), stat(30, 1))),
            Verdict::Right
        ));
        assert!(
            wrong(c.on_pair_read(false, 1, 3, &get(31, tag(MULTI_KEY, 0, 4), stat(30, 2))))
                .contains("multi")
        );
    }

    #[test]
    fn ledger_end_checks() {
        let l = Ledger::new(4);
        l.key_sets[1].store(5, Ordering::Relaxed);
        assert!(l.check_key_version(1, 5).is_ok());
        assert!(l
            .check_key_version(1, 4)
            .unwrap_err()
            .contains("5 acknowledged"));
        assert!(l.check_key_version(1, 6).is_err());
        l.key_unknown[1].store(2, Ordering::Relaxed);
        assert!(l.check_key_version(1, 7).is_ok());
        assert!(l.check_key_version(1, 8).is_err());
        l.creates.store(10, Ordering::Relaxed);
        l.deletes.store(4, Ordering::Relaxed);
        let mut st = Stat {
            num_children: 6,
            cversion: 14,
            ..Stat::default()
        };
        assert!(l.check_creates_parent(&st).is_ok());
        st.num_children = 5;
        assert!(l
            .check_creates_parent(&st)
            .unwrap_err()
            .contains("children"));
        st.num_children = 6;
        st.cversion = 13;
        assert!(l
            .check_creates_parent(&st)
            .unwrap_err()
            .contains("cversion"));
        assert_eq!(duplicate_sequence_numbers(vec![3, 1, 2, 3, 3, 0]), vec![3]);
        assert!(duplicate_sequence_numbers(vec![1, 2]).is_empty());
        l.wrong("x".into());
        assert_eq!(l.wrong_count(), 1);
        assert_eq!(l.samples(), vec!["x".to_string()]);
    }
}
