//! `zkbench` against a real `zkserver` on a free loopback port: the JSON it prints, its spot
//! checks passing on a right server and failing on a wrong one (a real server behind a proxy
//! that corrupts values), the failover and lifecycle benchmarks, and clear errors on bad input.
//!
//! Every server and every zkbench run here is bounded in time and stopped by the test.

mod common;

use common::{exe, free_port, server_log, start_foreground};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ZKBENCH: &str = env!("CARGO_BIN_EXE_zkbench");

/// A standalone zkserver, killed on drop.
struct Server {
    port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = start_foreground(dir.path(), &cfg);
        let mut s = Server { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let srvr =
                zk_native::cli::four_letter("127.0.0.1", port, "srvr", Duration::from_millis(500));
            if srvr.is_ok_and(|a| a.contains("Mode:")) {
                return s;
            }
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!("zkserver exited ({st}): {}", s.log());
            }
            assert!(
                Instant::now() < deadline,
                "zkserver did not serve within 30 s: {}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        server_log(self.dir.path())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs zkbench with `args`, killing it after `limit`.
fn zkbench(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(ZKBENCH)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "zkbench {args:?} did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&e.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
    }
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn f(v: &Value, path: &[&str]) -> f64 {
    let mut x = v;
    for p in path {
        x = &x[*p];
    }
    x.as_f64()
        .unwrap_or_else(|| panic!("no number at {path:?} in {v}"))
}

/// Does `path` exist on the server at `addr`?
fn exists(addr: &str, path: &str) -> bool {
    use zk_core::request::Request;
    use zk_native::bench::wire::Conn;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = Conn::connect(addr, 10_000, Duration::from_secs(10))
            .await
            .unwrap();
        let r = c
            .call(
                &Request::Exists {
                    path: path.into(),
                    watch: false,
                },
                Duration::from_secs(10),
            )
            .await
            .unwrap();
        r.err.is_ok()
    })
}

#[test]
fn a_short_run_reports_every_operation_as_json_and_cleans_up() {
    let s = Server::start();
    let addr = s.addr();
    let o = zkbench(
        &[
            "--server",
            &addr,
            "--sessions",
            "4",
            "--outstanding",
            "8",
            "--keys",
            "50",
            "--ops",
            "3000",
            "--warmup",
            "200ms",
            "--mix",
            "create:10,get:45,set:15,delete:5,exists:10,multi:15",
            "--prefix",
            "/zkb-test",
            "--disk-stats",
            "--json",
            "--no-progress",
        ],
        Duration::from_secs(120),
    );
    let v = json(&o);
    assert!(o.status.success(), "exit {:?}: {v}", o.status);
    assert_eq!(v["kind"], "load");
    assert_eq!(v["sessions"], 4);
    assert_eq!(f(&v, &["total", "count"]), 3000.0, "{v}");
    assert!(f(&v, &["total", "ops_per_sec"]) > 0.0);
    for op in ["create", "getData", "setData", "delete", "exists", "multi"] {
        let r = &v["ops"][op];
        assert!(f(r, &["count"]) > 0.0, "{op}: {v}");
        let l = &r["latency_ms"];
        let (p50, p90, p99, p999, max) = (
            f(l, &["p50"]),
            f(l, &["p90"]),
            f(l, &["p99"]),
            f(l, &["p999"]),
            f(l, &["max"]),
        );
        assert!(
            0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max,
            "{op}: {l}"
        );
    }
    assert_eq!(f(&v, &["wrong_answers"]), 0.0, "{v}");
    assert_eq!(f(&v, &["errors"]), 0.0, "{v}");
    assert!(f(&v, &["checked_replies"]) >= 3000.0);
    assert!(
        f(&v, &["disk", "writes"]) > 0.0 && f(&v, &["disk", "writes_per_fsync"]) >= 1.0,
        "{v}"
    );
    assert!(
        !exists(&addr, "/zkb-test"),
        "the run left its prefix behind"
    );

    // The table, for people.
    let o = zkbench(
        &[
            "--server",
            &addr,
            "--sessions",
            "2",
            "--ops",
            "200",
            "--warmup",
            "0",
            "--no-progress",
        ],
        Duration::from_secs(60),
    );
    assert!(o.status.success());
    let table = String::from_utf8_lossy(&o.stdout);
    for word in ["getData", "setData", "p99.9 ms", "0 wrong answers"] {
        assert!(table.contains(word), "{table}");
    }
}

/// A proxy that hands every frame through, except that it flips the last byte of the value in
/// each getData reply of a 100-byte value: a server that answers fast and wrong.
fn corrupting_proxy(upstream: String) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&upstream) else {
                return;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_in, &mut s_out);
                let _ = s_out.shutdown(std::net::Shutdown::Write);
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                // Reply header 16 + data length 4 + data 100 + Stat 68.
                const GET_DATA_100: usize = 16 + 4 + 100 + 68;
                let mut len = [0u8; 4];
                while s_in.read_exact(&mut len).is_ok() {
                    let n = i32::from_be_bytes(len).max(0) as usize;
                    let mut body = vec![0u8; n];
                    if s_in.read_exact(&mut body).is_err() {
                        break;
                    }
                    if n == GET_DATA_100 {
                        body[16 + 4 + 99] ^= 0x01;
                    }
                    if c_out
                        .write_all(&len)
                        .and_then(|_| c_out.write_all(&body))
                        .is_err()
                    {
                        break;
                    }
                }
                let _ = c_out.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    port
}

#[test]
fn a_server_that_returns_wrong_values_loses_with_exit_code_3() {
    let s = Server::start();
    let port = corrupting_proxy(s.addr());
    let via = format!("127.0.0.1:{port}");
    let o = zkbench(
        &[
            "--server",
            &via,
            "--sessions",
            "2",
            "--keys",
            "20",
            "--ops",
            "300",
            "--warmup",
            "0",
            "--reads",
            "90",
            "--json",
            "--no-progress",
        ],
        Duration::from_secs(60),
    );
    let v = json(&o);
    assert_eq!(o.status.code(), Some(3), "{v}");
    assert!(f(&v, &["wrong_answers"]) > 0.0);
    let samples = v["wrong_samples"].to_string();
    assert!(samples.contains("corrupted at byte 99"), "{samples}");

    // The same server without the proxy is right.
    let o = zkbench(
        &[
            "--server",
            &s.addr(),
            "--sessions",
            "2",
            "--keys",
            "20",
            "--ops",
            "300",
            "--warmup",
            "0",
            "--json",
            "--no-progress",
        ],
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn bad_input_gets_a_clear_error_not_a_panic() {
    let closed = format!("127.0.0.1:{}", free_port());
    let cases: &[(&[&str], &str)] = &[
        (&["--value-size", "5"], "--value-size"),
        (&["--server", "nonsense"], "not host:port"),
        (&["--sessions", "0"], "--sessions"),
        (&["--prefix", "no-slash"], "--prefix"),
        (&["--server", &closed, "--no-progress"], "cannot connect"),
        (&["fsync", "--dir", "/nonexistent/dir"], "not a directory"),
        (
            &[
                "failover",
                "--zkserver",
                "--zkserver-bin",
                "/nonexistent/zkserver",
                "--no-progress",
            ],
            "missing",
        ),
        (&["report", "/nonexistent/dir"], "cannot read"),
    ];
    for (args, want) in cases {
        let o = zkbench(args, Duration::from_secs(30));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    // clap's own refusals.
    for args in [
        &["--mix", "fly:3"][..],
        &["--reads", "90", "--mix", "get:1"],
        &["failover"],
        &["--duration", "1x"],
    ] {
        let o = zkbench(args, Duration::from_secs(30));
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn failover_of_a_zkserver_ensemble_is_measured() {
    let bin = exe();
    let o = zkbench(
        &[
            "failover",
            "--zkserver",
            "--zkserver-bin",
            bin.to_str().unwrap(),
            "--runs",
            "1",
            "--json",
            "--no-progress",
        ],
        Duration::from_secs(240),
    );
    let v = json(&o);
    assert!(
        o.status.success(),
        "{v} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(v["kind"], "failover");
    assert_eq!(v["runs"].as_array().map(Vec::len), Some(1));
    let ms = f(&v, &["median_ms"]);
    assert!(ms > 0.0 && ms < 120_000.0, "{v}");
    assert!(
        v["runs"][0]["killed"].as_u64().is_some_and(|k| k >= 1),
        "{v}"
    );
}

#[test]
fn lifecycle_recovers_every_znode() {
    let bin = exe();
    let o = zkbench(
        &[
            "lifecycle",
            "--zkserver",
            "--zkserver-bin",
            bin.to_str().unwrap(),
            "--znodes",
            "500",
            "--json",
            "--no-progress",
        ],
        Duration::from_secs(120),
    );
    let v = json(&o);
    assert!(o.status.success(), "{v}");
    assert_eq!(v["kind"], "lifecycle");
    assert_eq!(f(&v, &["recovered_znodes"]), 500.0);
    assert!(f(&v, &["startup_ms"]) > 0.0 && f(&v, &["recovery_ms"]) > 0.0);
    assert!(f(&v, &["rss_loaded_kb"]) > 0.0);
}
