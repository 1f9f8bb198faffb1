//! A running Apache ZooKeeper 3.8 ensemble moved onto zkserver and back, one server at a time,
//! as docs/MIGRATION.md tells an operator to do it, with kazoo clients writing and reading all
//! along (`tests/kazoo/migration_clients.py`).
//!
//! Three Apache servers (Debian's `zkServer.sh start-foreground`) serve four kazoo sessions.
//! Server by server: `zkserver migrate-check` must say ready, the Apache server is stopped,
//! zkserver is started on the same zoo.cfg and dataDir, and the test waits until it serves.
//! Then back to Apache the same way. Afterwards: every acknowledged write is on every server,
//! the servers' trees are equal node by node, no session expired, and no client saw an error
//! for longer than an election takes. The figures (time per swap, client-visible pause) are
//! printed for docs/BENCHMARKS.md.
//!
//! Needs `apt-get install zookeeper` and `pip install kazoo` (scripts/test installs both).

mod common;

use common::wait_until;
use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use zk_native::ensemble::{self, Member};
use zookeeper_client as zk;

const TICK: u32 = 200;

/// A server process of either kind, killed (its whole process group) when dropped.
struct Proc {
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: SIGKILL to the process group of a child this test started.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

fn start(m: &Member, apache: bool) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(m.data_dir.join("server.log"))
        .unwrap();
    let mut cmd = if apache {
        let mut c = Command::new(Path::new(ensemble::APACHE_BIN).join("zkServer.sh"));
        c.arg("start-foreground")
            .arg(&m.config)
            .env("JVMFLAGS", ensemble::apache_jvmflags("256m"))
            .env("ZOO_LOG_DIR", &m.data_dir);
        c
    } else {
        let mut c = Command::new(common::exe());
        c.arg("start-foreground").arg(&m.config);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0);
    common::die_with_parent(&mut cmd);
    Proc {
        child: cmd.spawn().expect("start a server"),
    }
}

/// SIGTERM, as an operator stops a server, and wait for it to exit.
fn stop(p: Proc) {
    // SAFETY: SIGTERM to the process group of a child this test started.
    unsafe {
        libc::kill(-(p.child.id() as i32), libc::SIGTERM);
    }
    let mut p = p;
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if let Ok(Some(_)) = p.child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(p);
}

fn mode(m: &Member) -> String {
    ensemble::mode(m.client_port)
}

fn serving(m: &Member) -> bool {
    matches!(mode(m).as_str(), "leader" | "follower")
}

fn wall() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn logs(members: &[Member]) -> String {
    let mut s = String::new();
    for m in members {
        let log = std::fs::read_to_string(m.data_dir.join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        s.push_str(&format!("---- server {} ----\n", m.id));
        for l in tail.into_iter().rev() {
            s.push_str(l);
            s.push('\n');
        }
    }
    s
}

/// One swap of one server: when it was stopped and when the new kind served.
struct Swap {
    id: u64,
    to: &'static str,
    /// It led the ensemble when it was stopped (an election follows).
    leader: bool,
    /// Asked to stop; stopped (the process exited); the other kind serving.
    asked: f64,
    stopped: f64,
    serving: f64,
}

#[test]
fn rolling_migration_to_zkserver_and_back() {
    let script = Path::new(ensemble::APACHE_BIN).join("zkServer.sh");
    assert!(
        script.is_file(),
        "{} is missing: apt-get install zookeeper",
        script.display()
    );
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kazoo/migration_clients.py");
    let kazoo = Command::new("python3")
        .args(["-c", "import kazoo"])
        .status()
        .unwrap();
    assert!(kazoo.success(), "kazoo is missing: pip install kazoo");

    let dir = tempfile::tempdir().unwrap();
    let members = ensemble::write_configs(dir.path(), 3, 0, TICK, false).unwrap();
    for m in &members {
        // Snapshots now and then, so that both kinds read the other's snapshots too.
        let mut text = std::fs::read_to_string(&m.config).unwrap();
        text.push_str("snapCount=200\n");
        std::fs::write(&m.config, text).unwrap();
    }
    let mut procs: Vec<Option<Proc>> = members.iter().map(|m| Some(start(m, true))).collect();
    wait_until(
        "three Apache servers serving",
        Duration::from_secs(60),
        || members.iter().all(serving),
    );

    // The clients.
    let out = dir.path().join("clients");
    std::fs::create_dir_all(&out).unwrap();
    let hosts: Vec<String> = members
        .iter()
        .map(|m| format!("127.0.0.1:{}", m.client_port))
        .collect();
    let mut clients = Command::new("python3")
        .arg(&py)
        .arg(hosts.join(","))
        .arg(&out)
        .args(["--clients", "4"])
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(out.join("stderr.txt")).unwrap())
        .spawn()
        .unwrap();
    let _kill_clients = scopeguard(clients.id());
    wait_until(
        "the kazoo clients connected",
        Duration::from_secs(30),
        || out.join("started").exists(),
    );
    std::thread::sleep(Duration::from_secs(2));

    let exe = common::exe();
    let mut swaps: Vec<Swap> = Vec::new();
    for (to_zkserver, to) in [(true, "zkserver"), (false, "Apache")] {
        for m in &members {
            // What an operator runs first.
            let check = Command::new(&exe)
                .arg("migrate-check")
                .arg(&m.config)
                .output()
                .unwrap();
            let report = String::from_utf8_lossy(&check.stdout);
            assert!(
                check.status.success(),
                "migrate-check refused server {}:\n{report}",
                m.id
            );
            let leader = mode(m) == "leader";
            let asked = wall();
            stop(procs[(m.id - 1) as usize].take().unwrap());
            let stopped = wall();
            procs[(m.id - 1) as usize] = Some(start(m, !to_zkserver));
            let t = Instant::now();
            while !serving(m) {
                assert!(
                    t.elapsed() < Duration::from_secs(60),
                    "server {} as {to} does not serve:\n{}",
                    m.id,
                    logs(&members)
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            swaps.push(Swap {
                id: m.id,
                to,
                leader,
                asked,
                stopped,
                serving: wall(),
            });
            // The clients work a while on the ensemble as it is now.
            std::thread::sleep(Duration::from_millis(1500));
        }
    }

    std::fs::write(out.join("stop"), b"").unwrap();
    let t = Instant::now();
    loop {
        if let Some(s) = clients.try_wait().unwrap() {
            assert!(
                s.success(),
                "the clients failed: {}",
                std::fs::read_to_string(out.join("stderr.txt")).unwrap_or_default()
            );
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "the clients do not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();

    // Every acknowledged write, on every server, and the trees equal.
    let mut acked: BTreeSet<String> = BTreeSet::new();
    for i in 0..4 {
        let text = std::fs::read_to_string(out.join(format!("acked-{i}.txt"))).unwrap();
        acked.extend(text.lines().map(str::to_string));
    }
    assert!(
        acked.len() > 100,
        "only {} writes acknowledged",
        acked.len()
    );
    let rt = common::rt();
    let trees: Vec<Vec<String>> = rt.block_on(async {
        let mut trees = Vec::new();
        for m in &members {
            let c = zk::Client::connector()
                .with_session_timeout(Duration::from_secs(10))
                .connect(&format!("127.0.0.1:{}", m.client_port))
                .await
                .unwrap();
            c.sync("/").await.unwrap();
            let mut nodes = Vec::new();
            let mut present = BTreeSet::new();
            for i in 0..4 {
                let dirp = format!("/mig/c{i}");
                let mut kids = c.list_children(&dirp).await.unwrap();
                kids.sort();
                for k in kids {
                    let p = format!("{dirp}/{k}");
                    let (data, st) = c.get_data(&p).await.unwrap();
                    nodes.push(format!(
                        "{p} {:?} v{} c{} a{} {} {} {} {} {}",
                        data,
                        st.version,
                        st.cversion,
                        st.aversion,
                        st.czxid,
                        st.mzxid,
                        st.pzxid,
                        st.ephemeral_owner,
                        st.num_children
                    ));
                    present.insert(p);
                }
            }
            let missing: Vec<&String> = acked.difference(&present).collect();
            assert!(
                missing.is_empty(),
                "server {} lacks {} acknowledged writes, e.g. {:?}",
                m.id,
                missing.len(),
                &missing[..missing.len().min(5)]
            );
            trees.push(nodes);
        }
        trees
    });
    for (i, t) in trees.iter().enumerate().skip(1) {
        assert!(
            t == &trees[0],
            "server {} has another tree than server 1",
            i + 1
        );
    }
    for m in &members {
        let mismatches = common_mntr(m.client_port, "zk_digest_mismatches_count");
        assert_eq!(mismatches.as_deref(), Some("0"), "server {}", m.id);
    }

    // No session expired; no client error longer than an election takes.
    let mut pauses: Vec<(usize, f64)> = Vec::new();
    for (c, r) in report.as_object().unwrap() {
        assert_eq!(r["lost"], false, "client {c}'s session was lost: {r}");
        for o in r["outages"].as_array().unwrap() {
            let (start, end, secs) = (
                o[0].as_f64().unwrap(),
                o[1].as_f64().unwrap(),
                o[2].as_f64().unwrap(),
            );
            // Which swap it belongs to.
            let swap = swaps
                .iter()
                .position(|s| start <= s.serving + 1.0 && end >= s.asked);
            if let Some(s) = swap {
                pauses.push((s, secs));
            }
            assert!(
                secs < 5.0,
                "client {c} saw an error for {secs:.2} s ({}): longer than an election",
                o[3]
            );
        }
    }
    // The figures.
    println!(
        "swap  server  to        was       stop (SIGTERM→exit)  start→serving  longest client pause"
    );
    let mut worst = Vec::new();
    for (i, s) in swaps.iter().enumerate() {
        let p = pauses
            .iter()
            .filter(|(k, _)| *k == i)
            .map(|(_, v)| *v)
            .fold(0.0f64, f64::max);
        worst.push(p);
        println!(
            "{:>4}  {:>6}  {:<8}  {:<8}  {:>16.0} ms  {:>10.0} ms  {:>17.0} ms",
            i + 1,
            s.id,
            s.to,
            if s.leader { "leader" } else { "follower" },
            (s.stopped - s.asked) * 1000.0,
            (s.serving - s.stopped) * 1000.0,
            p * 1000.0
        );
    }
    worst.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "client-visible pause per swap: median {:.0} ms, max {:.0} ms; {} writes acknowledged",
        worst[worst.len() / 2] * 1000.0,
        worst[worst.len() - 1] * 1000.0,
        acked.len()
    );
    drop(procs);
}

fn common_mntr(port: u16, key: &str) -> Option<String> {
    let out =
        zk_native::cli::four_letter("127.0.0.1", port, "mntr", Duration::from_secs(2)).ok()?;
    out.lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
}

/// Kills the client process if the test ends early.
fn scopeguard(pid: u32) -> impl Drop {
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            // SAFETY: SIGKILL to a child this test started (harmless if it has exited).
            unsafe {
                libc::kill(self.0 as i32, libc::SIGKILL);
            }
        }
    }
    Kill(pid)
}
