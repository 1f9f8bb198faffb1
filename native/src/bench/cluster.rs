//! Servers a benchmark starts, kills and restarts itself: our `zkserver` or Apache ZooKeeper
//! (Debian's package, `zkServer.sh start-foreground`), standalone or as a loopback ensemble,
//! with the same zoo.cfg for both.
//!
//! Each server is a child process; dropping the [`Cluster`] kills whatever is still running.
//! Both write `zoo.cfg` keys the same way: Apache ZooKeeper turns keys it does not know, such as
//! `snapCount` and `forceSync`, into the `zookeeper.*` system properties that set them.

use crate::ensemble::{self, Member};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    ZkServer,
    Apache,
    /// One ensemble of both: servers 1 to K Apache ZooKeeper, the rest zkserver.
    Mixed(usize),
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::ZkServer => "zkserver",
            Flavor::Apache => "apache",
            Flavor::Mixed(_) => "mixed",
        }
    }

    /// Is server `i` (0-based) Apache ZooKeeper?
    pub fn apache(self, i: usize) -> bool {
        match self {
            Flavor::ZkServer => false,
            Flavor::Apache => true,
            Flavor::Mixed(k) => i < k,
        }
    }
}

/// How the servers are run.
#[derive(Clone, Debug)]
pub struct Settings {
    pub tick_time: u32,
    pub snap_count: u32,
    /// The JVM's maximum heap for Apache ZooKeeper (`-Xmx`), e.g. `2g`.
    pub heap: String,
    /// The `zkserver` binary.
    pub zkserver: PathBuf,
    /// Apache ZooKeeper's `bin` directory (with zkServer.sh).
    pub apache_bin: PathBuf,
}

impl Settings {
    /// The defaults: tickTime 2000, snapCount 100000, a 2 GB heap, `zkserver` beside this
    /// program, Debian's `/usr/share/zookeeper/bin`.
    pub fn defaults() -> Settings {
        let here = std::env::current_exe().unwrap_or_default();
        Settings {
            tick_time: 2000,
            snap_count: 100_000,
            heap: "2g".into(),
            zkserver: here.with_file_name("zkserver"),
            apache_bin: PathBuf::from("/usr/share/zookeeper/bin"),
        }
    }
}

/// One server of a cluster.
struct Server {
    member: Member,
    child: Option<Child>,
    started: Option<Instant>,
}

/// Servers on loopback ports, all of one flavor.
pub struct Cluster {
    pub flavor: Flavor,
    pub settings: Settings,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    servers: Vec<Server>,
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

impl Cluster {
    /// Writes the configuration of `n` servers (1: standalone) under `dir`, or a temporary
    /// directory removed on drop. Starts nothing.
    pub fn create(
        flavor: Flavor,
        n: usize,
        settings: Settings,
        dir: Option<PathBuf>,
    ) -> Result<Cluster, String> {
        if n == 0 {
            return Err("a cluster needs at least one server".into());
        }
        if (0..n).any(|i| !flavor.apache(i)) && !settings.zkserver.is_file() {
            return Err(format!(
                "{} is missing: cargo build --release -p zk-native --bin zkserver",
                settings.zkserver.display()
            ));
        }
        if (0..n).any(|i| flavor.apache(i)) && !settings.apache_bin.join("zkServer.sh").is_file() {
            return Err(format!(
                "{}/zkServer.sh is missing: apt-get install zookeeper",
                settings.apache_bin.display()
            ));
        }
        let (tmp, dir) = match dir {
            Some(d) => {
                std::fs::create_dir_all(&d)
                    .map_err(|e| format!("cannot create {}: {e}", d.display()))?;
                (None, d)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix(&format!("zkbench-{}-", flavor.name()))
                    .tempdir()
                    .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        let extra = format!(
            "maxClientCnxns=0\nsnapCount={}\nforceSync=yes\n",
            settings.snap_count
        );
        let members = if n == 1 {
            let data_dir = dir.join("data").join("1");
            std::fs::create_dir_all(&data_dir)
                .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
            std::fs::create_dir_all(dir.join("conf"))
                .map_err(|e| format!("cannot create {}/conf: {e}", dir.display()))?;
            let m = Member {
                id: 1,
                observer: false,
                apache: false,
                client_port: free_port()?,
                quorum_port: 0,
                election_port: 0,
                config: dir.join("conf").join("zoo1.cfg"),
                data_dir,
            };
            let text = format!(
                "# A standalone server written by zkbench.\ntickTime={}\ninitLimit=10\nsyncLimit=5\ndataDir={}\n\
                 clientPort={}\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\nadmin.enableServer=false\n{extra}",
                settings.tick_time,
                m.data_dir.display(),
                m.client_port
            );
            std::fs::write(&m.config, text)
                .map_err(|e| format!("cannot write {}: {e}", m.config.display()))?;
            vec![m]
        } else {
            let members = ensemble::write_configs(&dir, n as u64, 0, settings.tick_time, false)?;
            for m in &members {
                let mut text = std::fs::read_to_string(&m.config)
                    .map_err(|e| format!("cannot read {}: {e}", m.config.display()))?;
                text.push_str(&extra);
                std::fs::write(&m.config, text)
                    .map_err(|e| format!("cannot write {}: {e}", m.config.display()))?;
            }
            members
        };
        Ok(Cluster {
            flavor,
            settings,
            dir,
            _tmp: tmp,
            servers: members
                .into_iter()
                .map(|member| Server {
                    member,
                    child: None,
                    started: None,
                })
                .collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// `127.0.0.1:port` of server `i` (0-based).
    pub fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.servers[i].member.client_port)
    }

    pub fn addrs(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.addr(i)).collect()
    }

    pub fn data_dir(&self, i: usize) -> &Path {
        &self.servers[i].member.data_dir
    }

    pub fn config(&self, i: usize) -> &Path {
        &self.servers[i].member.config
    }

    pub fn log_path(&self, i: usize) -> PathBuf {
        self.dir.join(format!("server{}.log", i + 1))
    }

    /// The last lines a server printed.
    pub fn log_tail(&self, i: usize) -> String {
        let text = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    pub fn pid(&self, i: usize) -> Option<u32> {
        self.servers[i].child.as_ref().map(|c| c.id())
    }

    /// Starts server `i`.
    pub fn start(&mut self, i: usize) -> Result<(), String> {
        let log_path = self.log_path(i);
        let s = &mut self.servers[i];
        if s.child.is_some() {
            return Err(format!("server {} is already running", s.member.id));
        }
        let (log, err) = crate::cli::append_log(&log_path, |e| {
            format!("cannot open {}: {e}", log_path.display())
        })?;
        let mut cmd = match self.flavor.apache(i) {
            false => {
                let mut c = Command::new(&self.settings.zkserver);
                c.arg("start-foreground").arg(&s.member.config);
                c
            }
            true => {
                let mut c = Command::new(self.settings.apache_bin.join("zkServer.sh"));
                c.arg("start-foreground")
                    .arg(&s.member.config)
                    .env("JVMFLAGS", format!("-Xmx{}", self.settings.heap))
                    .env("ZOO_LOG_DIR", &self.dir);
                c
            }
        };
        cmd.stdin(Stdio::null()).stdout(log).stderr(err);
        s.started = Some(Instant::now());
        s.child = Some(
            cmd.spawn()
                .map_err(|e| format!("cannot start server {}: {e}", s.member.id))?,
        );
        Ok(())
    }

    pub fn start_all(&mut self) -> Result<(), String> {
        (0..self.len()).try_for_each(|i| self.start(i))
    }

    /// kill -9 of server `i`; returns when the process is gone.
    pub fn kill9(&mut self, i: usize) {
        if let Some(mut c) = self.servers[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, i: usize, grace: Duration) {
        if let Some(mut c) = self.servers[i].child.take() {
            // SAFETY: a signal to a child this process started and has not reaped.
            unsafe {
                libc::kill(c.id() as i32, libc::SIGTERM);
            }
            let t = Instant::now();
            while t.elapsed() < grace {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn stop_all(&mut self) {
        for i in 0..self.len() {
            self.stop(i, Duration::from_secs(10));
        }
    }

    /// `srvr`'s Mode of server `i`: leader, follower, standalone, or "looking" / "down".
    pub fn mode(&self, i: usize) -> String {
        ensemble::mode(self.servers[i].member.client_port)
    }

    fn exited(&mut self, i: usize) -> Option<String> {
        let c = self.servers[i].child.as_mut()?;
        match c.try_wait() {
            Ok(Some(status)) => Some(format!(
                "server {} exited ({status}); its last output:\n{}",
                i + 1,
                self.log_tail(i)
            )),
            _ => None,
        }
    }

    /// Waits until server `i` serves (a Mode in `srvr`); returns the time since it was started.
    pub fn wait_serving(&mut self, i: usize, within: Duration) -> Result<Duration, String> {
        let deadline = Instant::now() + within;
        loop {
            let m = self.mode(i);
            if m != "looking" && m != "down" {
                return Ok(self.servers[i]
                    .started
                    .map_or(Duration::ZERO, |t| t.elapsed()));
            }
            if let Some(e) = self.exited(i) {
                return Err(e);
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "server {} ({}) did not serve within {within:?}; its last output:\n{}",
                    i + 1,
                    self.addr(i),
                    self.log_tail(i)
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until every server serves and, for an ensemble, exactly one leads; returns it.
    pub fn wait_whole(&mut self, within: Duration) -> Result<usize, String> {
        let deadline = Instant::now() + within;
        loop {
            let modes: Vec<String> = (0..self.len()).map(|i| self.mode(i)).collect();
            let leaders: Vec<usize> = (0..self.len())
                .filter(|&i| modes[i] == "leader" || modes[i] == "standalone")
                .collect();
            let serving = modes.iter().all(|m| m != "looking" && m != "down");
            if serving && leaders.len() == 1 {
                return Ok(leaders[0]);
            }
            for i in 0..self.len() {
                if let Some(e) = self.exited(i) {
                    return Err(e);
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the {} ensemble was not whole within {within:?}: modes {modes:?}",
                    self.flavor.name()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The resident memory of server `i` in kB (`VmRSS`).
    pub fn rss_kb(&self, i: usize) -> Option<u64> {
        rss_kb(self.pid(i)?)
    }
}

/// `VmRSS` of a process, in kB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Bytes of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.len() {
            self.kill9(i);
        }
    }
}
