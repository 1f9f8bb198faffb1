//! `zkserver ensemble N`: the docs' "three servers on one host" walk-through in one command.
//!
//! It writes `conf/zooN.cfg` and `data/N/myid`, starts every server as its own process on free
//! loopback ports (the docs' ports 218N / 288N / 388N when they are free), prints a table of the
//! servers with their modes, and stops them all on Ctrl-C.
//!
//! With `--apache K`, servers 1 to K are Apache ZooKeeper (Debian's `zkServer.sh
//! start-foreground`, on the same zoo.cfg files) and the rest zkserver: one mixed ensemble, to
//! watch the two kinds elect and replicate together.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One member of the local ensemble.
#[derive(Clone, Debug)]
pub struct Member {
    pub id: u64,
    pub observer: bool,
    /// Run by Apache ZooKeeper rather than zkserver.
    pub apache: bool,
    pub client_port: u16,
    pub quorum_port: u16,
    pub election_port: u16,
    pub config: PathBuf,
    pub data_dir: PathBuf,
}

/// A port nothing listens on now: `preferred` if it is free, else one the OS picks.
fn free_port(preferred: u16, taken: &[u16]) -> u16 {
    if preferred != 0
        && !taken.contains(&preferred)
        && TcpListener::bind(("127.0.0.1", preferred)).is_ok()
    {
        return preferred;
    }
    loop {
        let p = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(0);
        if p != 0 && !taken.contains(&p) {
            return p;
        }
    }
}

/// Writes the configuration files of an ensemble of `voters` participants and `observers`
/// observers under `dir`. `tick_time` in ms. With `doc_ports` the docs' ports (218N, 288N, 388N)
/// are used when free; otherwise ports the OS picks (tests running side by side).
pub fn write_configs(
    dir: &Path,
    voters: u64,
    observers: u64,
    tick_time: u32,
    doc_ports: bool,
) -> Result<Vec<Member>, String> {
    let total = voters + observers;
    let mut taken: Vec<u16> = Vec::new();
    let mut members = Vec::new();
    for id in 1..=total {
        let pick =
            |preferred: u16, taken: &[u16]| free_port(if doc_ports { preferred } else { 0 }, taken);
        let cp = pick(2180 + id as u16, &taken);
        taken.push(cp);
        let qp = pick(2880 + id as u16, &taken);
        taken.push(qp);
        let ep = pick(3880 + id as u16, &taken);
        taken.push(ep);
        members.push(Member {
            id,
            observer: id > voters,
            apache: false,
            client_port: cp,
            quorum_port: qp,
            election_port: ep,
            config: dir.join("conf").join(format!("zoo{id}.cfg")),
            data_dir: dir.join("data").join(id.to_string()),
        });
    }
    std::fs::create_dir_all(dir.join("conf"))
        .map_err(|e| format!("cannot create {}/conf: {e}", dir.display()))?;
    let mut servers = String::new();
    for m in &members {
        // The client port in the line too, so that each server's is known to the others'
        // tools (zkserver migrate-check).
        servers.push_str(&format!(
            "server.{}=127.0.0.1:{}:{}{};127.0.0.1:{}\n",
            m.id,
            m.quorum_port,
            m.election_port,
            if m.observer { ":observer" } else { "" },
            m.client_port
        ));
    }
    for m in &members {
        std::fs::create_dir_all(&m.data_dir)
            .map_err(|e| format!("cannot create {}: {e}", m.data_dir.display()))?;
        std::fs::write(m.data_dir.join("myid"), format!("{}\n", m.id))
            .map_err(|e| format!("cannot write {}/myid: {e}", m.data_dir.display()))?;
        let data = std::fs::canonicalize(&m.data_dir).unwrap_or_else(|_| m.data_dir.clone());
        let text = format!(
            "# Server {} of a local ensemble written by `zkserver ensemble`.\n\
             tickTime={tick_time}\n\
             initLimit=10\n\
             syncLimit=5\n\
             dataDir={}\n\
             clientPort={}\n\
             clientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n\
             admin.enableServer=false\n\
             {}\
             {servers}",
            m.id,
            data.display(),
            m.client_port,
            if m.observer {
                "peerType=observer\n"
            } else {
                ""
            },
        );
        std::fs::write(&m.config, text)
            .map_err(|e| format!("cannot write {}: {e}", m.config.display()))?;
    }
    Ok(members)
}

/// Debian's Apache ZooKeeper scripts.
pub const APACHE_BIN: &str = "/usr/share/zookeeper/bin";

/// What Apache ZooKeeper runs with: a small quickly starting JVM, and slf4j-simple on the
/// classpath so that it logs (Debian's zkEnv.sh puts no logging backend on its classpath; a
/// `-cp` in JVMFLAGS comes after zkServer.sh's own and wins).
pub fn apache_jvmflags(heap: &str) -> String {
    format!(
        "-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
         -Xmx{heap} -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
         -Dorg.slf4j.simpleLogger.showDateTime=true"
    )
}

/// Starts one member as its own process, logging to `dataDir/zookeeper.out`: zkserver, or
/// Apache ZooKeeper's `zkServer.sh start-foreground` for an Apache member.
pub fn spawn(exe: &Path, m: &Member) -> Result<Child, String> {
    let log = m.data_dir.join("zookeeper.out");
    let (out, err) =
        crate::cli::append_log(&log, |e| format!("cannot open {}: {e}", log.display()))?;
    let mut cmd = if m.apache {
        let script = Path::new(APACHE_BIN).join("zkServer.sh");
        if !script.is_file() {
            return Err(format!(
                "{} is missing: install Debian's Apache ZooKeeper (apt-get install zookeeper)",
                script.display()
            ));
        }
        let mut c = Command::new(script);
        c.arg("start-foreground")
            .arg(&m.config)
            .env(
                "JVMFLAGS",
                std::env::var("JVMFLAGS").unwrap_or_else(|_| apache_jvmflags("512m")),
            )
            .env("ZOO_LOG_DIR", &m.data_dir);
        c
    } else {
        let mut c = Command::new(exe);
        c.arg("start-foreground").arg(&m.config);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        // Its own process group: stopping it stops the JVM zkServer.sh runs too.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start server {}: {e}", m.id))
}

/// The server's mode as `srvr` reports it ("looking" while it is not serving).
pub fn mode(port: u16) -> String {
    match crate::cli::four_letter("127.0.0.1", port, "srvr", Duration::from_millis(500)) {
        Ok(a) => a
            .lines()
            .find_map(|l| l.strip_prefix("Mode: ").map(str::to_string))
            .unwrap_or_else(|| "looking".to_string()),
        Err(_) => "down".to_string(),
    }
}

/// Runs `zkserver ensemble`: write, start, report, wait for Ctrl-C, stop.
pub fn run(
    exe: &Path,
    dir: &Path,
    voters: u64,
    observers: u64,
    tick_time: u32,
    apache: u64,
) -> Result<(), String> {
    if voters == 0 {
        return Err("an ensemble needs at least one voting server".into());
    }
    if apache > voters + observers {
        return Err(format!(
            "--apache {apache}: the ensemble has only {} servers",
            voters + observers
        ));
    }
    let mut members = write_configs(dir, voters, observers, tick_time, true)?;
    for m in members.iter_mut() {
        m.apache = m.id <= apache;
    }
    let mut children: Vec<(u64, Child)> = Vec::new();
    for m in &members {
        children.push((m.id, spawn(exe, m)?));
    }
    // Wait (bounded) until every server has a mode (a JVM takes a few seconds).
    let deadline = Instant::now() + Duration::from_secs(if apache > 0 { 60 } else { 30 });
    let mut modes: Vec<String>;
    loop {
        modes = members.iter().map(|m| mode(m.client_port)).collect();
        let settled = modes.iter().all(|m| m != "looking" && m != "down");
        if settled || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let kinds = apache > 0;
    println!(
        "{:>4}  {}{:<11} {:>11}  {:>11}  {:>13}  {:<10} config",
        "myid",
        if kinds { "server    " } else { "" },
        "role",
        "client port",
        "quorum port",
        "election port",
        "mode"
    );
    for (m, mode) in members.iter().zip(&modes) {
        let kind = match (kinds, m.apache) {
            (false, _) => "",
            (true, true) => "Apache    ",
            (true, false) => "zkserver  ",
        };
        println!(
            "{:>4}  {kind}{:<11} {:>11}  {:>11}  {:>13}  {:<10} {}",
            m.id,
            if m.observer {
                "observer"
            } else {
                "participant"
            },
            m.client_port,
            m.quorum_port,
            m.election_port,
            mode,
            m.config.display()
        );
    }
    let connect: Vec<String> = members
        .iter()
        .map(|m| format!("127.0.0.1:{}", m.client_port))
        .collect();
    println!("\nconnect with: zkcli -server {}", connect.join(","));
    println!(
        "status of one: zkserver status {}",
        members[0].config.display()
    );
    println!(
        "logs: {}/data/N/zookeeper.out; Ctrl-C stops them all.",
        dir.display()
    );
    wait_for_ctrl_c();
    println!("stopping the ensemble ...");
    for (id, c) in children.iter_mut() {
        // SAFETY: SIGTERM to the process group of a child this process started (its own group:
        // zkServer.sh's JVM too).
        unsafe {
            libc::kill(-(c.id() as i32), libc::SIGTERM);
        }
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = c.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if c.try_wait().ok().flatten().is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
        println!("server {id} stopped");
    }
    Ok(())
}

fn wait_for_ctrl_c() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
}
