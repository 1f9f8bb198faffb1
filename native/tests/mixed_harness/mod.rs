//! Mixed ensembles for `tests/mixed.rs`: real Apache ZooKeeper 3.8 servers (Debian's, run with
//! `zkServer.sh start-foreground`) and real `zkserver` processes in ONE ensemble on loopback.
//!
//! * Every server has its own directory (`zoo.cfg`, `server.log` with everything it printed,
//!   `data/` with `myid`), its own process group, and dies with the test: [`Mixed`]'s Drop kills
//!   every group, and Linux's parent-death signal kills a server whose test process died (the
//!   signal survives zkServer.sh's `exec java`).
//! * One mixed test runs at a time (a process-wide lock): the machine has 2 cores and a JVM
//!   takes seconds to start.
//! * When a test fails, Drop prints the tail of every server's log and keeps the directory.
//! * Who leads, what mode each server is in and its last zxid come from four-letter words
//!   (`srvr`, `mntr`); how a learner was synced (DIFF, TRUNC, SNAP) from the logs of both ends.
//! * Trees are read with the `zookeeper-client` crate (an implementation independent of this
//!   project), node by node, and compared field by field.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use zk_native::client::{Acl, Client, ClientError, CreateMode, ErrorCode};
use zookeeper_client as zkc;

/// Debian's Apache ZooKeeper.
pub const ZK_SERVER_SH: &str = "/usr/share/zookeeper/bin/zkServer.sh";

/// The JVM flags every Apache server gets: slf4j-simple on the classpath (after zkServer.sh's
/// own `-cp`, so it wins) so that the server logs to its output, Netty's parts (TLS needs them:
/// Debian's netty-all.jar is only a list), a small quickly starting JVM,
/// and LearnerHandler at DEBUG (its TRUNC lines are DEBUG).
const JVMFLAGS: &str =
    "-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar:\
     /usr/share/java/netty-handler.jar:/usr/share/java/netty-common.jar:/usr/share/java/netty-buffer.jar:\
     /usr/share/java/netty-codec.jar:/usr/share/java/netty-transport.jar:/usr/share/java/netty-resolver.jar \
     -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
     -Dorg.slf4j.simpleLogger.showDateTime=true \
     -Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS \
     -Dorg.slf4j.simpleLogger.log.org.apache.zookeeper.server.quorum.LearnerHandler=debug";

pub const TICK: u32 = 200;
/// The bound of every wait for a server state.
pub const T: Duration = Duration::from_secs(30);
/// Sessions of the test clients (zoo.cfg allows up to 10 s): long enough to outlive an
/// election.
pub const SESSION: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Apache,
    ZkServer,
}

pub use Kind::{Apache, ZkServer};

impl Kind {
    pub fn short(self) -> &'static str {
        match self {
            Apache => "A",
            ZkServer => "Z",
        }
    }
}

/// One server of the ensemble.
pub struct Server {
    pub id: u64,
    pub kind: Kind,
    pub observer: bool,
    pub client_port: u16,
    pub quorum_port: u16,
    pub election_port: u16,
    pub dir: PathBuf,
    child: Option<Child>,
    starts: u32,
    /// `-D` flags for this server: Apache's JVM gets them, zkserver reads them from
    /// SERVER_JVMFLAGS as zkServer.sh users pass them.
    pub jvm_flags: String,
}

impl Server {
    pub fn name(&self) -> String {
        format!("{}{}", self.kind.short(), self.id)
    }
    fn cfg(&self) -> PathBuf {
        self.dir.join("zoo.cfg")
    }
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
    fn mark(&self, what: &str) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
        {
            let _ = writeln!(f, "\n===== mixed harness: {what} {} =====", self.name());
        }
    }
    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // The whole process group: zkServer.sh exec'd java, so that is the JVM.
            unsafe {
                libc::kill(-(c.id() as i32), sig);
            }
        }
    }
}

static SERIAL: Mutex<()> = Mutex::new(());

/// A mixed ensemble. Dropping it kills every server.
pub struct Mixed {
    pub name: String,
    pub servers: Vec<Server>,
    dir: Option<tempfile::TempDir>,
    started: Instant,
    _serial: MutexGuard<'static, ()>,
}

fn free_port(taken: &mut BTreeSet<u16>) -> u16 {
    loop {
        let p = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if taken.insert(p) {
            return p;
        }
    }
}

impl Mixed {
    /// Writes the configuration of servers 1..=n of the given kinds (`true`: an observer);
    /// starts none.
    pub fn new(name: &str, kinds: &[(Kind, bool)]) -> Mixed {
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            Path::new(ZK_SERVER_SH).exists(),
            "{ZK_SERVER_SH} is missing: these tests need Debian's zookeeper package"
        );
        let zkserver = PathBuf::from(env!("CARGO_BIN_EXE_zkserver"));
        assert!(zkserver.exists(), "{} is missing", zkserver.display());
        let dir = tempfile::Builder::new()
            .prefix(&format!("mixed-{name}-"))
            .tempdir()
            .unwrap();
        let mut taken = BTreeSet::new();
        let mut servers = Vec::new();
        for (i, (kind, observer)) in kinds.iter().enumerate() {
            let id = i as u64 + 1;
            let sdir = dir.path().join(format!("{}{id}", kind.short()));
            std::fs::create_dir_all(sdir.join("data")).unwrap();
            std::fs::write(sdir.join("data").join("myid"), format!("{id}\n")).unwrap();
            servers.push(Server {
                id,
                kind: *kind,
                observer: *observer,
                client_port: free_port(&mut taken),
                quorum_port: free_port(&mut taken),
                election_port: free_port(&mut taken),
                dir: sdir,
                child: None,
                starts: 0,
                jvm_flags: String::new(),
            });
        }
        let mut members = String::new();
        for s in &servers {
            members.push_str(&format!(
                "server.{}=127.0.0.1:{}:{}{}\n",
                s.id,
                s.quorum_port,
                s.election_port,
                if s.observer { ":observer" } else { "" }
            ));
        }
        for s in &servers {
            let cfg = format!(
                "tickTime={TICK}\n\
                 initLimit=10\n\
                 syncLimit=5\n\
                 dataDir={}\n\
                 clientPort={}\n\
                 clientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist=*\n\
                 admin.enableServer=false\n\
                 snapshotSizeFactor=-1\n\
                 maxSessionTimeout=10000\n\
                 extendedTypesEnabled=true\n\
                 {}\
                 {members}",
                s.data_dir().display(),
                s.client_port,
                if s.observer {
                    "peerType=observer\n"
                } else {
                    ""
                }
            );
            std::fs::write(s.cfg(), cfg).unwrap();
        }
        let m = Mixed {
            name: name.to_string(),
            servers,
            dir: Some(dir),
            started: Instant::now(),
            _serial: serial,
        };
        m.note(&format!(
            "ensemble {}",
            m.servers
                .iter()
                .map(|s| format!("{}{}", s.name(), if s.observer { "(observer)" } else { "" }))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        m
    }

    /// Prints a progress line (seen with `--nocapture`, and in the output of a failed test).
    /// Sets server `id`'s `-D` flags (see [`Server::jvm_flags`]), for its next start.
    pub fn set_jvm_flags(&mut self, id: u64, flags: &str) {
        self.s_mut(id).jvm_flags = flags.to_string();
    }

    /// Appends settings to server `id`'s zoo.cfg (read at its next start).
    pub fn append_config(&self, id: u64, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.s(id).cfg())
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    pub fn note(&self, what: &str) {
        eprintln!(
            "[{} +{:.1}s] {what}",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }

    pub fn s(&self, id: u64) -> &Server {
        &self.servers[(id - 1) as usize]
    }
    fn s_mut(&mut self, id: u64) -> &mut Server {
        &mut self.servers[(id - 1) as usize]
    }
    pub fn kind(&self, id: u64) -> Kind {
        self.s(id).kind
    }
    pub fn sname(&self, id: u64) -> String {
        self.s(id).name()
    }
    pub fn ids(&self) -> Vec<u64> {
        self.servers.iter().map(|s| s.id).collect()
    }
    pub fn running(&self) -> Vec<u64> {
        self.servers
            .iter()
            .filter(|s| s.child.is_some())
            .map(|s| s.id)
            .collect()
    }
    pub fn is_running(&self, id: u64) -> bool {
        self.s(id).child.is_some()
    }

    /// Starts a server (its output appended to its `server.log`).
    pub fn start(&mut self, id: u64) {
        let s = self.s(id);
        assert!(s.child.is_none(), "{} is already running", s.name());
        s.mark(&format!("start #{} of", s.starts + 1));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(s.log_path())
            .unwrap();
        let mut cmd = match s.kind {
            Apache => {
                let mut c = Command::new(ZK_SERVER_SH);
                c.arg("start-foreground")
                    .arg(s.cfg())
                    .env("JVMFLAGS", format!("{JVMFLAGS} {}", s.jvm_flags))
                    .env("ZOO_LOG_DIR", &s.dir);
                c
            }
            ZkServer => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_zkserver"));
                c.arg("start-foreground")
                    .arg(s.cfg())
                    .env("ZK_LOG", "info")
                    .env("SERVER_JVMFLAGS", &s.jvm_flags);
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0);
        crate::common::die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("start a server");
        let s = self.s_mut(id);
        s.child = Some(child);
        s.starts += 1;
        let name = self.sname(id);
        self.note(&format!("started {name}"));
    }

    /// The next start of server `id` runs the other kind of server on the same dataDir and
    /// configuration.
    pub fn set_kind(&mut self, id: u64, kind: Kind) {
        let old = self.sname(id);
        let s = self.s_mut(id);
        assert!(s.child.is_none(), "{old} is running");
        s.kind = kind;
        s.mark(&format!("from now on {kind:?} on the dataDir of {old}:"));
        let new = self.sname(id);
        self.note(&format!("{old} will start as {new} on the same dataDir"));
    }

    /// kill -9 (of the whole process group), and waits for it.
    pub fn kill9(&mut self, id: u64) {
        let s = self.s_mut(id);
        if let Some(mut c) = s.child.take() {
            unsafe {
                libc::kill(-(c.id() as i32), libc::SIGKILL);
            }
            let _ = c.kill();
            let _ = c.wait();
            s.mark("kill -9 of");
        }
        let name = self.sname(id);
        self.note(&format!("kill -9 {name}"));
    }

    /// kill -TERM, and waits (bounded) for it to exit.
    pub fn term(&mut self, id: u64) {
        let name = self.sname(id);
        let s = self.s_mut(id);
        s.signal(libc::SIGTERM);
        let mut c = s.child.take().expect("running");
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if c.try_wait().unwrap().is_some() {
                break;
            }
            if Instant::now() > end {
                unsafe {
                    libc::kill(-(c.id() as i32), libc::SIGKILL);
                }
                let _ = c.wait();
                panic!("{name} did not exit within 20 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        s.mark("kill -TERM of");
        self.note(&format!("kill -TERM {name}: exited"));
    }

    /// SIGSTOP: the server freezes, its sockets stay open.
    pub fn sigstop(&mut self, id: u64) {
        self.s(id).signal(libc::SIGSTOP);
        let name = self.sname(id);
        self.note(&format!("SIGSTOP {name}"));
    }

    pub fn four(&self, id: u64, cmd: &str) -> String {
        zk_native::cli::four_letter(
            "127.0.0.1",
            self.s(id).client_port,
            cmd,
            Duration::from_secs(2),
        )
        .unwrap_or_default()
    }

    fn srvr_field(&self, id: u64, key: &str) -> Option<String> {
        self.four(id, "srvr")
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
    }

    /// `Mode:` of `srvr`: leader, follower, observer; "looking" when it answers but does not
    /// serve; "down" when nothing answers.
    pub fn mode(&self, id: u64) -> String {
        if !self.is_running(id) {
            return "down".into();
        }
        match zk_native::cli::four_letter(
            "127.0.0.1",
            self.s(id).client_port,
            "srvr",
            Duration::from_millis(1000),
        ) {
            Ok(a) => a
                .lines()
                .find_map(|l| l.strip_prefix("Mode: ").map(str::to_string))
                .unwrap_or_else(|| "looking".to_string()),
            Err(_) => "down".to_string(),
        }
    }

    /// `Zxid:` of `srvr`.
    pub fn zxid(&self, id: u64) -> Option<u64> {
        self.srvr_field(id, "Zxid:")
            .and_then(|z| u64::from_str_radix(z.trim_start_matches("0x"), 16).ok())
    }

    /// The kind the server says it is, from `srvr`'s version line.
    pub fn reported_kind(&self, id: u64) -> Option<Kind> {
        self.srvr_field(id, "Zookeeper version:").map(|v| {
            if v.contains("zk-rs") {
                ZkServer
            } else {
                Apache
            }
        })
    }

    pub fn mntr(&self, id: u64, key: &str) -> Option<String> {
        self.four(id, "mntr").lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.strip_prefix('\t'))
                .map(str::to_string)
        })
    }

    /// Waits until the servers report the modes.
    pub fn wait_modes(&self, want: &[(u64, &str)]) {
        let end = Instant::now() + T;
        loop {
            let now: Vec<String> = want.iter().map(|(id, _)| self.mode(*id)).collect();
            if want.iter().zip(&now).all(|((_, w), n)| w == n) {
                self.note(&format!(
                    "modes {}",
                    want.iter()
                        .map(|(id, m)| format!("{}={m}", self.sname(*id)))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
                return;
            }
            if Instant::now() > end {
                panic!(
                    "timed out after {T:?} waiting for modes {:?}; they are {:?}",
                    want.iter()
                        .map(|(id, m)| format!("{}={m}", self.sname(*id)))
                        .collect::<Vec<_>>(),
                    want.iter()
                        .zip(&now)
                        .map(|((id, _), n)| format!("{}={n}", self.sname(*id)))
                        .collect::<Vec<_>>()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until exactly one of `among` leads and every other of them is a follower (or
    /// observer); returns the leader.
    pub fn wait_leader(&self, among: &[u64]) -> u64 {
        let end = Instant::now() + T;
        loop {
            let modes: Vec<(u64, String)> = among.iter().map(|id| (*id, self.mode(*id))).collect();
            let leaders: Vec<u64> = modes
                .iter()
                .filter(|(_, m)| m == "leader")
                .map(|(id, _)| *id)
                .collect();
            let settled = modes
                .iter()
                .all(|(_, m)| m == "leader" || m == "follower" || m == "observer");
            if leaders.len() == 1 && settled {
                self.note(&format!(
                    "leader {} ({:?}); {}",
                    self.sname(leaders[0]),
                    self.kind(leaders[0]),
                    modes
                        .iter()
                        .map(|(id, m)| format!("{}={m}", self.sname(*id)))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
                return leaders[0];
            }
            if Instant::now() > end {
                panic!("timed out after {T:?} waiting for one leader among {among:?}: {modes:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn connect_string(&self, ids: &[u64]) -> String {
        ids.iter()
            .map(|id| format!("127.0.0.1:{}", self.s(*id).client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn log(&self, id: u64) -> String {
        String::from_utf8_lossy(&std::fs::read(self.s(id).log_path()).unwrap_or_default())
            .into_owned()
    }
    /// Where the log ends now: the start of what [`Mixed::log_since`] returns later.
    pub fn log_len(&self, id: u64) -> usize {
        std::fs::metadata(self.s(id).log_path())
            .map(|m| m.len() as usize)
            .unwrap_or(0)
    }
    pub fn log_since(&self, id: u64, offset: usize) -> String {
        let all = std::fs::read(self.s(id).log_path()).unwrap_or_default();
        String::from_utf8_lossy(&all[offset.min(all.len())..]).into_owned()
    }

    /// How the leader says it synced `learner` in its log after `offset`: DIFF, TRUNC or SNAP.
    pub fn leader_sent(&self, leader: u64, learner: u64, offset: usize) -> Option<String> {
        let log = self.log_since(leader, offset);
        match self.kind(leader) {
            ZkServer => {
                let needle = format!("syncing learner {learner} with ");
                log.lines().rev().find_map(|l| {
                    l.split_once(&needle)
                        .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_string())
                })
            }
            Apache => {
                // "Synchronizing with Learner sid: N ..." then, from the same LearnerHandler
                // thread, "Sending DIFF ...", "Sending TRUNC ..." or "Sending snapshot ...".
                let lines: Vec<&str> = log.lines().collect();
                let needle = format!("Synchronizing with Learner sid: {learner} ");
                let start = lines.iter().rposition(|l| l.contains(&needle))?;
                let thread = thread_of(lines[start])?;
                lines[start..]
                    .iter()
                    .filter(|l| thread_of(l) == Some(thread))
                    .find_map(|l| {
                        if l.contains("Sending TRUNC") {
                            Some("TRUNC".to_string())
                        } else if l.contains("Sending DIFF") {
                            Some("DIFF".to_string())
                        } else if l.contains("Sending snapshot") {
                            Some("SNAP".to_string())
                        } else {
                            None
                        }
                    })
            }
        }
    }

    /// The leader's log lines (after `offset`) that start a sync of `learner`: one per
    /// attempt.
    pub fn sync_attempts(&self, leader: u64, learner: u64, offset: usize) -> Vec<String> {
        let needle = match self.kind(leader) {
            ZkServer => format!("syncing learner {learner} with "),
            Apache => format!("Synchronizing with Learner sid: {learner} "),
        };
        self.grep(leader, offset, &[&needle])
    }

    /// How the learner says its leader synced it, in its log after `offset`.
    pub fn learner_got(&self, learner: u64, offset: usize) -> Option<String> {
        let log = self.log_since(learner, offset);
        log.lines().rev().find_map(|l| match self.kind(learner) {
            ZkServer => l
                .split_once("brings us up to date with ")
                .map(|(_, rest)| rest.split_whitespace().next().unwrap_or("").to_string()),
            Apache => {
                if l.contains("Getting a diff from the leader") {
                    Some("DIFF".into())
                } else if l.contains("Getting a snapshot from leader") {
                    Some("SNAP".into())
                } else if l.contains("Truncating log to get in sync with the leader") {
                    Some("TRUNC".into())
                } else {
                    None
                }
            }
        })
    }

    /// The lines of a log (after `offset`) that contain one of `needles`.
    pub fn grep(&self, id: u64, offset: usize, needles: &[&str]) -> Vec<String> {
        self.log_since(id, offset)
            .lines()
            .filter(|l| needles.iter().any(|n| l.contains(n)))
            .map(str::to_string)
            .collect()
    }

    /// Waits until every running server reports the same zxid (no write in flight).
    pub fn wait_same_zxid(&self) -> u64 {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            let z: Vec<(u64, Option<u64>)> = self
                .running()
                .iter()
                .map(|id| (*id, self.zxid(*id)))
                .collect();
            if let Some(first) = z[0].1 {
                if z.iter().all(|(_, x)| *x == Some(first)) {
                    return first;
                }
            }
            if Instant::now() > end {
                panic!(
                    "the servers do not converge to one zxid: {}",
                    z.iter()
                        .map(|(id, x)| format!("{}={}", self.sname(*id), fmt_zxid_opt(*x)))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Every running server: `zk_digest_mismatches_count` is 0.
    pub fn assert_no_digest_mismatch(&self) {
        for id in self.running() {
            let v = self.mntr(id, "zk_digest_mismatches_count");
            assert_eq!(
                v.as_deref(),
                Some("0"),
                "{}: zk_digest_mismatches_count {v:?}",
                self.sname(id)
            );
        }
    }

    /// Reads the tree of every running server (after every server reached the same zxid) and
    /// asserts they are equal node by node. Returns the tree.
    pub fn assert_trees_equal(&self, rt: &tokio::runtime::Runtime) -> Tree {
        let zxid = self.wait_same_zxid();
        let mut trees: Vec<(u64, Tree)> = Vec::new();
        for id in self.running() {
            let t = rt.block_on(read_tree(self.s(id).client_port));
            trees.push((id, t));
        }
        let (ref_id, reference) = &trees[0];
        for (id, t) in &trees[1..] {
            let diff = tree_diff(reference, t);
            assert!(
                diff.is_empty(),
                "the trees of {} and {} differ ({} differences, first ones):\n{}",
                self.sname(*ref_id),
                self.sname(*id),
                diff.len(),
                diff.iter().take(12).cloned().collect::<Vec<_>>().join("\n")
            );
        }
        self.note(&format!(
            "trees equal on {} ({} znodes, zxid {})",
            trees
                .iter()
                .map(|(id, _)| self.sname(*id))
                .collect::<Vec<_>>()
                .join(" "),
            reference.len(),
            fmt_zxid(zxid)
        ));
        self.assert_no_digest_mismatch();
        reference.clone()
    }

    fn tail(&self, id: u64, lines: usize) -> String {
        let log = self.log(id);
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The thread tag of an Apache log line: `[LearnerHandler-/127.0.0.1:40000]`.
fn thread_of(line: &str) -> Option<&str> {
    let start = line.find('[')?;
    let end = line[start..].find(']')? + start;
    Some(&line[start..=end])
}

impl Drop for Mixed {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed {
            for s in &self.servers {
                let mode = if s.child.is_some() {
                    self.mode(s.id)
                } else {
                    "not running".into()
                };
                eprintln!(
                    "\n----- {} ({:?}{}, {mode}): the last 60 lines of {} -----\n{}",
                    s.name(),
                    s.kind,
                    if s.observer { ", observer" } else { "" },
                    s.log_path().display(),
                    self.tail(s.id, 60)
                );
            }
        }
        for s in &mut self.servers {
            if let Some(mut c) = s.child.take() {
                unsafe {
                    libc::kill(-(c.id() as i32), libc::SIGKILL);
                }
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if failed {
            if let Some(d) = self.dir.take() {
                eprintln!(
                    "----- the servers' directories are kept in {} -----",
                    d.keep().display()
                );
            }
        }
    }
}

pub fn fmt_zxid(z: u64) -> String {
    format!("0x{z:x}")
}
fn fmt_zxid_opt(z: Option<u64>) -> String {
    z.map(fmt_zxid).unwrap_or_else(|| "?".into())
}

// ---------------------------------------------------------------------------------------------
// Trees

/// A znode as a client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Znode {
    pub data: Vec<u8>,
    pub acl: Vec<String>,
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
}

pub type Tree = BTreeMap<String, Znode>;

async fn zkc_connect(connect: &str) -> zkc::Client {
    tokio::time::timeout(
        T,
        zkc::Client::connector()
            .with_session_timeout(SESSION)
            .connect(connect),
    )
    .await
    .unwrap_or_else(|_| panic!("connecting to {connect} timed out"))
    .unwrap_or_else(|e| panic!("cannot connect to {connect}: {e:?}"))
}

/// The whole tree of one server (but /zookeeper), read through a session with it alone after
/// a sync, requests pipelined level by level.
pub async fn read_tree(port: u16) -> Tree {
    let connect = format!("127.0.0.1:{port}");
    let c = zkc_connect(&connect).await;
    tokio::time::timeout(T, c.sync("/"))
        .await
        .expect("sync timed out")
        .unwrap_or_else(|e| panic!("sync on {connect}: {e:?}"));
    let mut tree = Tree::new();
    let mut level = vec!["/".to_string()];
    while !level.is_empty() {
        let mut set = tokio::task::JoinSet::new();
        for path in level.drain(..) {
            let c = c.clone();
            set.spawn(async move {
                let (d, ch, a) =
                    tokio::join!(c.get_data(&path), c.get_children(&path), c.get_acl(&path));
                (path, d, ch, a)
            });
        }
        let mut next = Vec::new();
        let all = tokio::time::timeout(T, set.join_all())
            .await
            .expect("reading the tree timed out");
        for (path, d, ch, a) in all {
            let what = |e: zkc::Error| format!("reading {path} on {connect}: {e:?}");
            let (data, stat) = d.unwrap_or_else(|e| panic!("{}", what(e)));
            let (children, _) = ch.unwrap_or_else(|e| panic!("{}", what(e)));
            let (acl, _) = a.unwrap_or_else(|e| panic!("{}", what(e)));
            for child in children {
                let p = if path == "/" {
                    format!("/{child}")
                } else {
                    format!("{path}/{child}")
                };
                if p != "/zookeeper" {
                    next.push(p);
                }
            }
            tree.insert(
                path,
                Znode {
                    data,
                    acl: acl
                        .iter()
                        .map(|a| format!("{}:{}:{}", a.permission(), a.scheme(), a.id()))
                        .collect(),
                    czxid: stat.czxid,
                    mzxid: stat.mzxid,
                    pzxid: stat.pzxid,
                    ctime: stat.ctime,
                    mtime: stat.mtime,
                    version: stat.version,
                    cversion: stat.cversion,
                    aversion: stat.aversion,
                    ephemeral_owner: stat.ephemeral_owner,
                    data_length: stat.data_length,
                    num_children: stat.num_children,
                },
            );
        }
        level = next;
    }
    drop(c);
    tree
}

/// The differences between two trees, one line each.
pub fn tree_diff(a: &Tree, b: &Tree) -> Vec<String> {
    let mut out = Vec::new();
    for (p, n) in a {
        match b.get(p) {
            None => out.push(format!("{p}: only on the first")),
            Some(m) if m != n => out.push(format!("{p}:\n    {n:?}\n    {m:?}")),
            _ => {}
        }
    }
    for p in b.keys() {
        if !a.contains_key(p) {
            out.push(format!("{p}: only on the second"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Clients and writes

/// A session with one of `connect`'s servers (this project's client).
pub async fn connect(connect: &str) -> Client {
    tokio::time::timeout(T, Client::connect(connect, SESSION))
        .await
        .unwrap_or_else(|_| panic!("connecting to {connect} timed out"))
        .unwrap_or_else(|e| panic!("cannot connect to {connect}: {e}"))
}

pub fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

/// Awaits a client call, bounded.
pub async fn within<F: std::future::Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(T, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {T:?}"))
}

/// Creates `/name` if it is not there.
pub async fn ensure(c: &Client, path: &str) {
    match within(path, c.create(path, None, &open(), CreateMode::Persistent)).await {
        Ok(_) => {}
        Err(e) if e.zk_code() == ErrorCode::NodeExists => {}
        Err(e) => panic!("create {path}: {e}"),
    }
}

/// `n` creates under `parent`, pipelined (up to 64 in flight), through `connect`.
pub async fn pipelined_creates(connect: &str, parent: &str, n: usize) {
    let c = self::connect(connect).await;
    ensure(&c, parent).await;
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(64));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let c = c.clone();
        let permit = sem.clone().acquire_owned().await.unwrap();
        let path = format!("{parent}/n{i:05}");
        set.spawn(async move {
            let r = c
                .create(
                    &path,
                    Some(format!("v{i}").as_bytes()),
                    &open(),
                    CreateMode::Persistent,
                )
                .await;
            drop(permit);
            r.unwrap_or_else(|e| panic!("create {path}: {e}"));
        });
    }
    within("pipelined creates", set.join_all()).await;
    within("close", c.close()).await.unwrap();
}

/// A write load: `clients` sessions × `per_client` writers, each with one create in flight at
/// a time, through `connect`, until stopped. Every acknowledged create is recorded.
pub struct Load {
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<WriterResult>>,
    clients: Vec<Client>,
}

#[derive(Default, Debug)]
pub struct WriterResult {
    /// Path, data, when acknowledged.
    pub acked: Vec<(String, String, Instant)>,
    pub attempts: u64,
    pub errors: BTreeMap<String, u64>,
}

#[derive(Default, Debug)]
pub struct LoadResult {
    pub acked: Vec<(String, String, Instant)>,
    pub attempts: u64,
    pub errors: BTreeMap<String, u64>,
}

impl Load {
    pub async fn start(
        connect_string: &str,
        parent: &str,
        clients: usize,
        per_client: usize,
    ) -> Load {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let mut cls = Vec::new();
        for ci in 0..clients {
            let c = connect(connect_string).await;
            if ci == 0 {
                ensure(&c, parent).await;
            }
            for t in 0..per_client {
                let c = c.clone();
                let stop_rx = stop_rx.clone();
                let prefix = format!("{parent}/c{ci}w{t}-");
                tasks.push(tokio::spawn(async move {
                    let mut r = WriterResult::default();
                    let mut n = 0u64;
                    while !*stop_rx.borrow() {
                        let path = format!("{prefix}{n:06}");
                        let data = format!("{prefix}{n}");
                        r.attempts += 1;
                        match tokio::time::timeout(
                            Duration::from_secs(15),
                            c.create(
                                &path,
                                Some(data.as_bytes()),
                                &open(),
                                CreateMode::Persistent,
                            ),
                        )
                        .await
                        {
                            Ok(Ok(_)) => r.acked.push((path, data, Instant::now())),
                            Ok(Err(e)) => {
                                *r.errors.entry(error_name(&e)).or_default() += 1;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            Err(_) => {
                                *r.errors.entry("no answer in 15 s".into()).or_default() += 1;
                            }
                        }
                        n += 1;
                    }
                    r
                }));
            }
            cls.push(c);
        }
        Load {
            stop,
            tasks,
            clients: cls,
        }
    }

    pub async fn stop(self) -> LoadResult {
        let _ = self.stop.send(true);
        let mut out = LoadResult::default();
        for t in self.tasks {
            let r = within("a writer to stop", t).await.unwrap();
            out.acked.extend(r.acked);
            out.attempts += r.attempts;
            for (k, v) in r.errors {
                *out.errors.entry(k).or_default() += v;
            }
        }
        for c in self.clients {
            let _ = within("close", c.close()).await;
        }
        out
    }
}

pub fn error_name(e: &ClientError) -> String {
    match e {
        ClientError::Keeper { code, .. } => format!("{code:?}"),
        other => format!("{other}"),
    }
}
