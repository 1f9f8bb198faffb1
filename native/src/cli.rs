//! The command line of `zkserver`, shaped like zkServer.sh: reading zoo.cfg and myid, starting
//! in the foreground or in the background, stopping, and asking a running server its mode.

use crate::server::{self, ServerOptions};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tracing::warn;
use zk_core::config::{self, Config};
use zk_core::ServerId;

/// Where the embedded default keeps its data.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// A configuration ready to run: zoo.cfg (or the embedded default) and myid.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    pub path: Option<PathBuf>,
    pub my_id: ServerId,
    /// What zoo.cfg has that does not stop the server but should be seen (logged by `load`).
    pub warnings: Vec<config::Warning>,
}

/// Reads zoo.cfg (warnings are logged) and, for an ensemble, `dataDir/myid`. Errors name the
/// file, the line and the key.
pub fn load(path: Option<&Path>) -> Result<Loaded, String> {
    let Some(path) = path else {
        let mut c = Config::standalone_default(DEFAULT_DATA_DIR);
        c.client_port_address = Some("127.0.0.1".into());
        // Without a zoo.cfg every four-letter word answers (`echo ruok | nc localhost 2181`, as
        // the docs show); a zoo.cfg gets ZooKeeper's default whitelist.
        c.four_letter_words = config::FOUR_LETTER_WORDS
            .iter()
            .map(|w| w.to_string())
            .collect();
        return Ok(Loaded {
            config: c,
            path: None,
            my_id: ServerId(0),
            warnings: Vec::new(),
        });
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let name = path.display().to_string();
    let (mut config, warnings) = config::parse(&text, &name).map_err(|e| e.to_string())?;
    for w in &warnings {
        warn!("{w}");
    }
    if config.auth.jaas_config.is_none() {
        // As zkServer.sh passes it: -Djava.security.auth.login.config in SERVER_JVMFLAGS.
        for var in ["SERVER_JVMFLAGS", "JVMFLAGS"] {
            let flags = std::env::var(var).unwrap_or_default();
            for (k, v) in config::security::jvm_properties(&flags) {
                if k == "java.security.auth.login.config" {
                    config.auth.jaas_config = Some(v);
                }
            }
        }
    }
    let my_id = if config.is_standalone() {
        ServerId(0)
    } else {
        let myid = Path::new(&config.data_dir).join("myid");
        let raw = std::fs::read_to_string(&myid).map_err(|e| {
            format!(
                "{}: cannot read myid ({e}); an ensemble member needs its id in dataDir/myid",
                myid.display()
            )
        })?;
        let id: u64 = raw
            .trim()
            .parse()
            .map_err(|_| format!("{}: {:?} is not a server id", myid.display(), raw.trim()))?;
        let id = ServerId(id);
        config
            .check_my_id(id)
            .map_err(|e| format!("{}: {e}", myid.display()))?;
        id
    };
    Ok(Loaded {
        config,
        path: Some(path.to_path_buf()),
        my_id,
        warnings,
    })
}

/// The address to reach a server's client port from this host.
pub fn client_endpoint(l: &Loaded) -> Result<(String, u16), String> {
    let me = if l.config.is_standalone() {
        None
    } else {
        Some(l.my_id)
    };
    let (host, port) = l
        .config
        .client_address(me)?
        .ok_or_else(|| "no clientPort in the configuration".to_string())?;
    let host = if host == "0.0.0.0" || host == "::" {
        "127.0.0.1".to_string()
    } else {
        host
    };
    Ok((host, port))
}

/// Sends a four-letter word and returns the answer.
pub fn four_letter(host: &str, port: u16, cmd: &str, timeout: Duration) -> std::io::Result<String> {
    let addr = (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.write_all(cmd.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// Runs the server in this process until SIGINT or SIGTERM.
pub fn start_foreground(l: Loaded) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("installing the SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        };
        server::run(
            ServerOptions {
                config: l.config,
                config_path: l.path,
                my_id: l.my_id,
            },
            shutdown,
        )
        .await
        .map_err(|e| e.to_string())
    })
}

fn pid_file(l: &Loaded) -> PathBuf {
    Path::new(&l.config.data_dir).join("zookeeper_server.pid")
}

/// A log file opened for appending (created if need be), twice: as a child's stdout and stderr.
/// `open_err` words the error when it cannot be opened.
pub(crate) fn append_log(
    path: &Path,
    open_err: impl FnOnce(std::io::Error) -> String,
) -> Result<(std::fs::File, std::fs::File), String> {
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(open_err)?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    Ok((out, err))
}

/// Starts the server in the background (zkServer.sh start): a detached process logging to
/// `dataDir/zookeeper.out`, its pid in `dataDir/zookeeper_server.pid`.
pub fn start(l: &Loaded, exe: &Path) -> Result<(), String> {
    let pidf = pid_file(l);
    if let Ok(pid) = std::fs::read_to_string(&pidf) {
        if let Ok(pid) = pid.trim().parse::<i32>() {
            if alive(pid) {
                return Err(format!("already running as process {pid}."));
            }
        }
    }
    std::fs::create_dir_all(&l.config.data_dir)
        .map_err(|e| format!("cannot create {}: {e}", l.config.data_dir))?;
    let log = Path::new(&l.config.data_dir).join("zookeeper.out");
    let (out, err) = append_log(&log, |e| format!("cannot open {}: {e}", log.display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("start-foreground");
    if let Some(p) = &l.path {
        cmd.arg(p);
    }
    use std::os::unix::process::CommandExt;
    cmd.stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    std::fs::write(&pidf, format!("{}", child.id()))
        .map_err(|e| format!("cannot write {}: {e}", pidf.display()))?;
    let (host, port) = client_endpoint(l)?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(a) = four_letter(&host, port, "srvr", Duration::from_millis(500)) {
            if a.contains("Mode:") || a.contains("not currently serving") {
                return Ok(());
            }
        }
        if !alive(child.id() as i32) {
            return Err(format!("the server exited; see {}", log.display()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Stops a server started with `start` (zkServer.sh stop).
pub fn stop(l: &Loaded) -> Result<(), String> {
    let pidf = pid_file(l);
    let pid: i32 = std::fs::read_to_string(&pidf)
        .map_err(|_| {
            format!(
                "no zookeeper to stop (could not find file {})",
                pidf.display()
            )
        })?
        .trim()
        .parse()
        .map_err(|_| format!("{} does not hold a process id", pidf.display()))?;
    // SAFETY: sending SIGTERM to the process the pid file names.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if alive(pid) {
        // SAFETY: as above, SIGKILL after the grace period.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let _ = std::fs::remove_file(&pidf);
    Ok(())
}

/// Asks the running server its mode, as zkServer.sh status does.
pub fn status(l: &Loaded) -> Result<String, String> {
    let (host, port) = client_endpoint(l)?;
    let mut out =
        format!("Client port found: {port}. Client address: {host}. Client SSL: false.\n");
    match four_letter(&host, port, "srvr", Duration::from_secs(5)) {
        Ok(a) => match a.lines().find_map(|line| line.strip_prefix("Mode: ")) {
            Some(mode) => {
                out.push_str(&format!("Mode: {mode}\n"));
                Ok(out)
            }
            None => Err(format!(
                "{out}Error contacting service. It is probably not running."
            )),
        },
        Err(_) => Err(format!(
            "{out}Error contacting service. It is probably not running."
        )),
    }
}
