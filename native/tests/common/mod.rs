//! Small helpers shared by the integration tests that run the real `zkserver`: its path, free
//! loopback ports, a tokio runtime, bounded waits, and a server process with its output in a
//! log file.
#![allow(dead_code)]

pub mod certs;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `zkserver` binary built for these tests.
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zkserver"))
}

/// A free port on 127.0.0.1 (free when asked; the server binds it right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A tokio runtime with two worker threads, for the third-party client.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Waits (bounded) until `f` holds.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

/// Starts `zkserver start-foreground <cfg>`, its stdout and stderr appended to
/// `<dir>/server.log` (see [`server_log`]). The caller kills it.
pub fn start_foreground(dir: &Path, cfg: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    Command::new(exe())
        .arg("start-foreground")
        .arg(cfg)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// What the server [`start_foreground`] started in `dir` printed so far.
pub fn server_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

/// Makes `cmd`'s process die with the thread that starts it (the test's), even when the test
/// process is killed and no Drop runs (a timeout, ^C); the signal survives zkServer.sh's exec
/// of java.
pub fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl in the child before exec, with no pointers.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}
