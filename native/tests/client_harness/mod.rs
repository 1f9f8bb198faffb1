//! Test servers for the client and zkcli tests: a ZooKeeper started on a free port for one test
//! and killed (with its process group) when the test ends.
//!
//! Which server runs is `ZK_TEST_SERVER`:
//! * `apache` (the default): Debian's Apache ZooKeeper 3.8,
//!   `/usr/share/zookeeper/bin/zkServer.sh start-foreground <zoo.cfg>` (`apt-get install zookeeper`);
//! * `zkserver`: this project's server, the `zkserver` binary next to `zkcli` in the target dir
//!   (`cargo build -p zk-native --bin zkserver`), run as `zkserver start-foreground <zoo.cfg>`.
//!
//! Both get the same zoo.cfg: `clientPort` chosen free at run time, `dataDir` in a temp dir,
//! `tickTime=500` (so sessions can expire within a test: the shortest timeout is 2 ticks),
//! four-letter words on, the AdminServer off, and TTL nodes on (`extendedTypesEnabled`, which
//! Apache's server turns into the system property `zookeeper.extendedTypesEnabled`). The
//! server's output goes to `server.log` in the temp dir, shown when it fails to start.
//!
//! A server dies with its [`TestServer`], and also with the thread that started it (Linux's
//! parent-death signal), so that a test process killed by a timeout leaves no server behind:
//! start and keep a server in the test's own thread.

#![allow(dead_code)]

// The helpers the other server tests share, compiled in here so that a test needs only
// `mod client_harness;`.
#[path = "../common/mod.rs"]
mod common;

pub use common::free_port;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where Debian installs Apache ZooKeeper's scripts.
pub const APACHE_BIN: &str = "/usr/share/zookeeper/bin";

/// How long a server may take to answer `ruok`.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    Apache,
    ZkServer,
}

impl ServerKind {
    pub fn from_env() -> ServerKind {
        match std::env::var("ZK_TEST_SERVER").as_deref() {
            Err(_) | Ok("") | Ok("apache") => ServerKind::Apache,
            Ok("zkserver") => ServerKind::ZkServer,
            Ok(other) => panic!("ZK_TEST_SERVER={other:?}: expected apache or zkserver"),
        }
    }
}

/// The `zkcli` binary under test.
pub fn zkcli_bin() -> &'static str {
    env!("CARGO_BIN_EXE_zkcli")
}

/// One running server. Dropping it kills the server.
pub struct TestServer {
    pub kind: ServerKind,
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl TestServer {
    /// Starts the server `ZK_TEST_SERVER` names, and waits (bounded) until it serves sessions.
    pub fn start() -> TestServer {
        TestServer::start_kind(ServerKind::from_env())
    }

    pub fn start_kind(kind: ServerKind) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        fs::create_dir_all(dir.path().join("data")).unwrap();
        let cfg = format!(
            "tickTime=500\n\
             initLimit=10\n\
             syncLimit=5\n\
             dataDir={}\n\
             clientPort={port}\n\
             clientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n\
             4lw.commands.whitelist=*\n\
             admin.enableServer=false\n\
             extendedTypesEnabled=true\n",
            dir.path().join("data").display()
        );
        fs::write(dir.path().join("zoo.cfg"), cfg).unwrap();
        let mut s = TestServer {
            kind,
            port,
            dir,
            child: None,
        };
        s.launch();
        s
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn cfg(&self) -> PathBuf {
        self.dir.path().join("zoo.cfg")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// What the server printed so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn launch(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut cmd = match self.kind {
            ServerKind::Apache => {
                let script = Path::new(APACHE_BIN).join("zkServer.sh");
                assert!(
                    script.exists(),
                    "{} is missing: install Debian's zookeeper package (apt-get install zookeeper) \
                     or run with ZK_TEST_SERVER=zkserver",
                    script.display()
                );
                let mut c = Command::new(script);
                c.arg("start-foreground")
                    .arg(self.cfg())
                    // A small, quickly starting JVM: tests start many.
                    .env(
                        "JVMFLAGS",
                        "-Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
                    );
                c
            }
            ServerKind::ZkServer => {
                let bin = common::exe();
                assert!(
                    bin.exists(),
                    "{} is missing: cargo build -p zk-native --bin zkserver",
                    bin.display()
                );
                let mut c = Command::new(bin);
                c.arg("start-foreground").arg(self.cfg());
                c
            }
        };
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            // Its own process group, so that stopping it stops whatever it started.
            .process_group(0);
        common::die_with_parent(&mut cmd);
        self.child = Some(cmd.spawn().expect("start the server"));
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the {:?} server exited ({status}) before answering ruok; its output:\n{}",
                    self.kind,
                    self.log()
                );
            }
            // `ruok` is answered as soon as the port is open, before sessions are served;
            // `srvr` says when they are not yet.
            if four_letter_word(self.port, "ruok").as_deref() == Some("imok")
                && four_letter_word(self.port, "srvr")
                    .is_some_and(|s| !s.contains("not currently serving requests"))
            {
                return;
            }
            if Instant::now() > deadline {
                self.stop();
                panic!(
                    "the {:?} server did not answer ruok on port {} within {START_TIMEOUT:?}; its output:\n{}",
                    self.kind,
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A four-letter word (`ruok`, `stat`, `cons`, ...) and its answer.
    pub fn four_letter(&self, word: &str) -> String {
        four_letter_word(self.port, word).unwrap_or_default()
    }

    /// Kills the server (SIGKILL to its process group) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and data: sessions, nodes and all survive.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn four_letter_word(port: u16, word: &str) -> Option<String> {
    let addr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Polls `f` until it is true, for at most `limit`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A TCP proxy in front of a server that a test can cut: while partitioned it drops every
/// connection through it and every new one, as a network partition looks to a client.
pub struct Proxy {
    pub port: u16,
    partitioned: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target_port: u16) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let partitioned = Arc::new(AtomicBool::new(false));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let p = partitioned.clone();
        let cut_rx = cut.subscribe();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if p.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut_rx = cut_rx.clone();
                // Only a cut after this connection was accepted ends it.
                cut_rx.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", target_port)).await
                    else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        Proxy {
            port,
            partitioned,
            cut,
            task,
        }
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Cuts every connection through the proxy and refuses new ones.
    pub fn partition(&self) {
        self.partitioned.store(true, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Lets connections through again.
    pub fn heal(&self) {
        self.partitioned.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a command-line run printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs a program with `args` (and `stdin`, if any), bounded by `limit`; killed if it overruns.
pub async fn run(program: &str, args: &[&str], stdin: Option<&str>, limit: Duration) -> Run {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A small JVM for zkCli.sh; zkcli ignores it.
        .env(
            "CLIENT_JVMFLAGS",
            "-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1",
        )
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    if let Some(input) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(input.as_bytes()).await.unwrap();
        drop(w);
    }
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} did not finish within {limit:?}"))
        .unwrap();
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// Runs zkcli against `server` (`-server 127.0.0.1:port`), one command or a stdin session.
pub async fn zkcli(connect: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut all = vec!["-server", connect];
    all.extend_from_slice(args);
    run(zkcli_bin(), &all, stdin, Duration::from_secs(60)).await
}

/// Runs Apache's zkCli.sh the same way (its logging noise on stderr taken out).
pub async fn zkcli_sh(connect: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let script = Path::new(APACHE_BIN).join("zkCli.sh");
    assert!(
        script.exists(),
        "{} is missing: install Debian's zookeeper package (apt-get install zookeeper)",
        script.display()
    );
    let mut all = vec!["-server", connect];
    all.extend_from_slice(args);
    let mut r = run(
        script.to_str().unwrap(),
        &all,
        stdin,
        Duration::from_secs(120),
    )
    .await;
    r.stderr = r
        .stderr
        .lines()
        .filter(|l| !l.starts_with("SLF4J"))
        .map(|l| format!("{l}\n"))
        .collect();
    r
}

/// Masks what differs between two runs against two servers: the servers' addresses, dates
/// (`Sun Nov 22 04:09:46 UTC 2026`) and session ids (`0x1000a3c5e2b0000`).
pub fn mask(s: &str, connects: &[&str]) -> String {
    let mut out = s.to_string();
    for c in connects {
        out = out.replace(c, "HOST");
    }
    let date = regex::Regex::new(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{2} [0-9:]{8} [A-Z]+ [0-9]{4}")
        .unwrap();
    let session = regex::Regex::new(r"0x[0-9a-f]{9,}").unwrap();
    let out = date.replace_all(&out, "DATE");
    session.replace_all(&out, "SESSION").into_owned()
}

/// Splits zkCli's stdout into its watch-event lines (`WatchedEvent ...`, from the blocks that
/// start with `WATCHER::`) and everything else. zkCli.sh prints events from a thread of their
/// own, so where a block lands among the other lines is a race there; each part is not.
pub fn split_events(stdout: &str) -> (Vec<String>, String) {
    let block = regex::Regex::new(r"\nWATCHER::\n\n(WatchedEvent [^\n]*)\n").unwrap();
    let events = block
        .captures_iter(stdout)
        .map(|c| c[1].to_string())
        .collect();
    let mut rest = block.replace_all(stdout, "").into_owned();
    // zkCli.sh's event thread may be cut off by System.exit halfway through a block: a
    // trailing "WATCHER::" with no event after it is that race, not output.
    for cut in ["\nWATCHER::\n\n", "\nWATCHER::\n", "\nWATCHER::"] {
        if let Some(stripped) = rest.strip_suffix(cut) {
            rest = stripped.to_string();
            break;
        }
    }
    (events, rest)
}

/// How long any one wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// Awaits `f`, failing the test if it takes longer than [`WAIT`]: every wait is bounded.
pub async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.expect("timed out")
}

/// A client with a 10 s session, connected.
pub async fn connect(connect_string: &str) -> zk_native::client::Client {
    within(zk_native::client::Client::connect(
        connect_string,
        Duration::from_secs(10),
    ))
    .await
    .expect("connect")
}

/// Waits until `path` is gone as `observer` sees it (an ephemeral whose session ended).
pub async fn wait_gone(observer: &zk_native::client::Client, path: &str) {
    within(async {
        while observer.exists(path, false).await.unwrap().is_some() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
}

/// The state of the next event of a session's event stream (bounded wait).
pub async fn next_state(
    events: &mut zk_native::client::EventStream,
) -> zk_native::client::KeeperState {
    within(events.next()).await.expect("the stream ended").state
}
