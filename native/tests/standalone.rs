//! A standalone `zkserver` process, driven by a third-party client (the `zookeeper-client`
//! crate) through every operation, and by raw sockets through bad input; plus durability across
//! kill -9 and configuration errors that stop the server from starting.

mod common;

use common::{exe, free_port, rt, server_log, start_foreground};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use zk_core::proto;
use zk_core::request::{ConnectRequest, Request};
use zk_core::{SessionId, Zxid};
use zookeeper_client as zk;

/// One standalone server in a temporary directory, killed when dropped.
struct Server {
    dir: tempfile::TempDir,
    port: u16,
    proc: Option<Child>,
    cfg: PathBuf,
}

impl Server {
    fn new(extra: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = dir.path().join("zoo.cfg");
        let text = format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
             4lw.commands.whitelist=*\nextendedTypesEnabled=true\n{extra}\n",
            dir.path().join("data").display()
        );
        std::fs::write(&cfg, text).unwrap();
        let mut s = Server {
            dir,
            port,
            proc: None,
            cfg,
        };
        s.start();
        s
    }

    fn start(&mut self) {
        self.proc = Some(start_foreground(self.dir.path(), &self.cfg));
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if zk_native::cli::four_letter(
                "127.0.0.1",
                self.port,
                "ruok",
                Duration::from_millis(300),
            )
            .is_ok_and(|a| a == "imok")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("zkserver did not start: {}", self.log());
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.proc.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        server_log(self.dir.path())
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn alive(&mut self) -> bool {
        self.proc
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

async fn client(addr: &str) -> zk::Client {
    zk::Client::connector()
        .with_session_timeout(Duration::from_secs(4))
        .connect(addr)
        .await
        .unwrap()
}

fn opts(mode: zk::CreateMode) -> zk::CreateOptions<'static> {
    mode.with_acls(zk::Acls::anyone_all())
}

#[test]
fn every_operation_through_a_third_party_client() {
    let s = Server::new("");
    rt().block_on(async {
        let c = client(&s.addr()).await;
        // create, get, set, exists, delete with versions
        let (stat, _) = c
            .create("/a", b"one", &opts(zk::CreateMode::Persistent))
            .await
            .unwrap();
        assert_eq!(stat.version, 0);
        assert_eq!(
            c.create("/a", b"x", &opts(zk::CreateMode::Persistent))
                .await
                .unwrap_err(),
            zk::Error::NodeExists
        );
        let (data, stat) = c.get_data("/a").await.unwrap();
        assert_eq!((data.as_slice(), stat.data_length), (&b"one"[..], 3));
        let stat = c.set_data("/a", b"two", Some(0)).await.unwrap();
        assert_eq!(stat.version, 1);
        assert_eq!(
            c.set_data("/a", b"x", Some(0)).await.unwrap_err(),
            zk::Error::BadVersion
        );
        assert!(c.check_stat("/a").await.unwrap().is_some());
        assert!(c.check_stat("/none").await.unwrap().is_none());
        // sequential and ephemeral nodes, children, counts, ephemerals by prefix
        let (_, seq) = c
            .create("/a/s-", b"", &opts(zk::CreateMode::PersistentSequential))
            .await
            .unwrap();
        assert_eq!(seq.into_i64(), 0);
        let (_, seq) = c
            .create("/a/s-", b"", &opts(zk::CreateMode::EphemeralSequential))
            .await
            .unwrap();
        assert_eq!(seq.into_i64(), 1);
        c.create("/eph", b"", &opts(zk::CreateMode::Ephemeral))
            .await
            .unwrap();
        assert_eq!(
            c.create("/eph/child", b"", &opts(zk::CreateMode::Persistent))
                .await
                .unwrap_err(),
            zk::Error::NoChildrenForEphemerals
        );
        let mut kids = c.list_children("/a").await.unwrap();
        kids.sort();
        assert_eq!(kids, vec!["s-0000000000", "s-0000000001"]);
        let (kids, stat) = c.get_children("/a").await.unwrap();
        assert_eq!((kids.len(), stat.num_children), (2, 2));
        assert_eq!(c.count_descendants_number("/a").await.unwrap(), 2);
        let mut eph = c.list_ephemerals("/").await.unwrap();
        eph.sort();
        assert_eq!(eph, vec!["/a/s-0000000001", "/eph"]);
        assert_eq!(c.delete("/a", None).await.unwrap_err(), zk::Error::NotEmpty);
        // multi: all or nothing
        let mut w = c.new_multi_writer();
        w.add_create("/m1", b"", &opts(zk::CreateMode::Persistent))
            .unwrap();
        w.add_create("/m1/x", b"", &opts(zk::CreateMode::Persistent))
            .unwrap();
        w.add_delete("/nope", None).unwrap();
        assert!(w.commit().await.is_err());
        assert!(
            c.check_stat("/m1").await.unwrap().is_none(),
            "a failed multi changes nothing"
        );
        let mut w = c.new_multi_writer();
        w.add_create("/m1", b"", &opts(zk::CreateMode::Persistent))
            .unwrap();
        w.add_set_data("/a", b"three", Some(1)).unwrap();
        w.add_check_version("/a", 2).unwrap_or_default();
        let results = w.commit().await.unwrap();
        assert_eq!(results.len(), 3);
        // a container and a TTL node
        c.create("/box", b"", &opts(zk::CreateMode::Container))
            .await
            .unwrap();
        let ttl = zk::CreateMode::Persistent
            .with_acls(zk::Acls::anyone_all())
            .with_ttl(Duration::from_secs(60));
        c.create("/ttl", b"", &ttl).await.unwrap();
        // sync, whoami
        c.sync("/").await.unwrap();
        let users = c.list_auth_users().await.unwrap();
        assert!(users.iter().any(|u| u.scheme() == "ip"), "{users:?}");
        c.delete("/m1", None).await.unwrap();
        assert_eq!(c.delete("/m1", None).await.unwrap_err(), zk::Error::NoNode);
    });
}

#[test]
fn watches_one_shot_and_persistent() {
    let s = Server::new("");
    rt().block_on(async {
        let c = client(&s.addr()).await;
        let other = client(&s.addr()).await;
        let (_, exist_watch) = c.check_and_watch_stat("/w").await.unwrap();
        other
            .create("/w", b"1", &opts(zk::CreateMode::Persistent))
            .await
            .unwrap();
        let e = tokio::time::timeout(Duration::from_secs(5), exist_watch.changed())
            .await
            .unwrap();
        assert_eq!(e.event_type, zk::EventType::NodeCreated);
        let (_, _, data_watch) = c.get_and_watch_data("/w").await.unwrap();
        other.set_data("/w", b"2", None).await.unwrap();
        let e = tokio::time::timeout(Duration::from_secs(5), data_watch.changed())
            .await
            .unwrap();
        assert_eq!(e.event_type, zk::EventType::NodeDataChanged);
        let (_, child_watch) = c.list_and_watch_children("/w").await.unwrap();
        other
            .create("/w/c", b"", &opts(zk::CreateMode::Persistent))
            .await
            .unwrap();
        let e = tokio::time::timeout(Duration::from_secs(5), child_watch.changed())
            .await
            .unwrap();
        assert_eq!(e.event_type, zk::EventType::NodeChildrenChanged);
        let mut rec = c
            .watch("/w", zk::AddWatchMode::PersistentRecursive)
            .await
            .unwrap();
        other
            .create("/w/c/d", b"", &opts(zk::CreateMode::Persistent))
            .await
            .unwrap();
        other.delete("/w/c/d", None).await.unwrap();
        let e1 = tokio::time::timeout(Duration::from_secs(5), rec.changed())
            .await
            .unwrap();
        let e2 = tokio::time::timeout(Duration::from_secs(5), rec.changed())
            .await
            .unwrap();
        assert_eq!(
            (e1.event_type, e1.path.as_str()),
            (zk::EventType::NodeCreated, "/w/c/d")
        );
        assert_eq!(
            (e2.event_type, e2.path.as_str()),
            (zk::EventType::NodeDeleted, "/w/c/d")
        );
    });
}

#[test]
fn digest_acls_and_auth() {
    let s = Server::new("");
    rt().block_on(async {
        let alice = client(&s.addr()).await;
        alice.auth("digest", b"alice:secret").await.unwrap();
        alice
            .create(
                "/vault",
                b"gold",
                &zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all()),
            )
            .await
            .unwrap();
        let eve = client(&s.addr()).await;
        assert_eq!(eve.get_data("/vault").await.unwrap_err(), zk::Error::NoAuth);
        let (acl, _) = alice.get_acl("/vault").await.unwrap();
        assert_eq!(acl.len(), 1);
        assert_eq!(acl[0].scheme(), "digest");
        assert!(acl[0].id().starts_with("alice:"));
        let (data, _) = alice.get_data("/vault").await.unwrap();
        assert_eq!(data, b"gold");
    });
}

#[test]
fn sessions_expire_and_reattach() {
    let s = Server::new("");
    rt().block_on(async {
        // Re-attach within the timeout: the same session, its ephemeral still there.
        let c = zk::Client::connector()
            .with_detached()
            .with_session_timeout(Duration::from_millis(1500))
            .connect(&s.addr())
            .await
            .unwrap();
        c.create("/mine", b"", &opts(zk::CreateMode::Ephemeral))
            .await
            .unwrap();
        let id = c.session_id();
        let session = c.into_session();
        let again = zk::Client::connector()
            .with_detached()
            .with_session_timeout(Duration::from_millis(1500))
            .with_session(session.clone())
            .connect(&s.addr())
            .await
            .unwrap();
        assert_eq!(again.session_id(), id);
        assert!(again.check_stat("/mine").await.unwrap().is_some());
        let session = again.into_session();
        // After the timeout the server expires it: re-attaching fails, the ephemeral is gone.
        tokio::time::sleep(Duration::from_millis(4000)).await;
        let late = zk::Client::connector()
            .with_session(session)
            .connect(&s.addr())
            .await;
        assert!(late.is_err(), "re-attaching an expired session must fail");
        let fresh = client(&s.addr()).await;
        assert!(
            fresh.check_stat("/mine").await.unwrap().is_none(),
            "the expired session's ephemeral is gone"
        );
    });
}

#[test]
fn kill_minus_9_loses_no_acknowledged_write() {
    let mut s = Server::new("");
    let acked: Vec<String> = rt().block_on(async {
        let c = client(&s.addr()).await;
        let mut acked = Vec::new();
        for i in 0..300 {
            let p = format!("/durable-{i}");
            c.create(
                &p,
                format!("{i}").as_bytes(),
                &opts(zk::CreateMode::Persistent),
            )
            .await
            .unwrap();
            acked.push(p);
        }
        acked
    });
    s.kill9();
    s.start();
    rt().block_on(async {
        let c = client(&s.addr()).await;
        for (i, p) in acked.iter().enumerate() {
            let (data, _) = c.get_data(p).await.unwrap();
            assert_eq!(data, format!("{i}").into_bytes());
        }
    });
}

/// Sends raw bytes on a fresh connection; returns what came back before the server closed it
/// (or after a short wait).
fn raw(addr: &str, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// A framed ConnectRequest for a new session.
fn connect_frame() -> Vec<u8> {
    connect_frame_as(SessionId(0), vec![0; 16])
}

/// A framed ConnectRequest (timeout 4000) re-attaching `session` with `passwd`.
fn connect_frame_as(session: SessionId, passwd: Vec<u8>) -> Vec<u8> {
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: Zxid(0),
        timeout: 4000,
        session_id: session,
        passwd,
        read_only: Some(false),
    };
    proto::frame(&proto::encode_connect_request(&req))
}

/// The bodies of the whole frames in `out`, in order.
fn frames(out: &[u8]) -> Vec<Vec<u8>> {
    let mut rest = out;
    let mut bodies = Vec::new();
    while let Ok(Some((used, body))) = proto::split_frame(rest, 1 << 20) {
        bodies.push(body.to_vec());
        rest = &rest[used..];
    }
    bodies
}

#[test]
fn bad_input_is_refused_and_the_server_keeps_serving() {
    let mut s = Server::new("maxClientCnxns=5");
    let addr = s.addr();
    // A frame over jute.maxbuffer: closed without an answer.
    let mut big = (1i32 << 30).to_be_bytes().to_vec();
    big.extend_from_slice(&[0; 16]);
    assert!(raw(&addr, &big).is_empty());
    // A negative length, a truncated ConnectRequest, garbage.
    assert!(raw(&addr, &(-5i32).to_be_bytes()).is_empty());
    assert!(
        raw(&addr, &[0, 0, 0, 10, 1, 2, 3]).is_empty(),
        "a truncated ConnectRequest gets no answer"
    );
    let mut garbage = 12i32.to_be_bytes().to_vec();
    garbage.extend_from_slice(b"not a record");
    assert!(raw(&addr, &garbage).is_empty());
    // A wrong session password: told the session is gone (timeout 0), then closed.
    let out = raw(&addr, &connect_frame_as(SessionId(0x1234), vec![9; 16]));
    let (_, body) = proto::split_frame(&out, 1 << 20)
        .unwrap()
        .expect("a ConnectResponse");
    let resp = proto::decode_connect_response(body, 1 << 20).unwrap();
    assert_eq!((resp.timeout, resp.session_id), (0, SessionId(0)));
    // An unknown opcode after a good connect: Unimplemented, then closed.
    let mut bytes = connect_frame();
    bytes.extend(proto::frame(&proto::encode_request(
        1,
        &Request::Unsupported { op: 999 },
    )));
    let out = raw(&addr, &bytes);
    let replies = frames(&out);
    assert_eq!(replies.len(), 2, "ConnectResponse and the error reply");
    let h = proto::decode_reply_header(&replies[1]).unwrap();
    assert_eq!(h.err, zk_core::ErrorCode::Unimplemented);
    // A request body that cannot be read: MarshallingError, the connection stays.
    let mut bytes = connect_frame();
    let mut bad = Vec::new();
    bad.extend_from_slice(&7i32.to_be_bytes());
    bad.extend_from_slice(&4i32.to_be_bytes()); // getData
    bad.extend_from_slice(&[0, 0, 0, 99]); // a path length with no path
    bytes.extend(proto::frame(&bad));
    let out = raw(&addr, &bytes);
    let replies = frames(&out);
    let h = proto::decode_reply_header(replies.last().unwrap()).unwrap();
    assert_eq!((h.xid, h.err), (7, zk_core::ErrorCode::MarshallingError));
    // A bad path: BadArguments through a real client.
    rt().block_on(async {
        let c = client(&addr).await;
        assert!(c
            .create("/a//b", b"", &opts(zk::CreateMode::Persistent))
            .await
            .is_err());
    });
    // maxClientCnxns=5 from one address: the sixth is closed.
    let held: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut t = TcpStream::connect(&addr).unwrap();
            t.write_all(&connect_frame()).unwrap();
            t
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let out = raw(&addr, &connect_frame());
    assert!(
        out.is_empty(),
        "the sixth connection from 127.0.0.1 is refused"
    );
    drop(held);
    // Through all of it the server kept running and serving.
    assert!(s.alive());
    std::thread::sleep(Duration::from_millis(300));
    rt().block_on(async {
        let c = client(&addr).await;
        c.create("/still-serving", b"", &opts(zk::CreateMode::Persistent))
            .await
            .unwrap();
    });
}

fn start_expecting_failure(dir: &Path, cfg: &str) -> String {
    let path = dir.join("zoo.cfg");
    std::fs::write(&path, cfg).unwrap();
    let out = Command::new(exe())
        .arg("start-foreground")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "zkserver must not start with:\n{cfg}"
    );
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn configuration_errors_name_the_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("d");
    let err = start_expecting_failure(
        dir.path(),
        &format!(
            "tickTime=2000\ndataDir={}\nclientPort=abc\n",
            data.display()
        ),
    );
    assert!(
        err.contains("zoo.cfg:3") && err.contains("clientPort"),
        "{err}"
    );
    // An ensemble's zoo.cfg (two servers, and no myid file), then `more`.
    let ensemble = |more: &str| {
        format!(
            "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir={}\nclientPort={}\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n{more}",
            data.display(),
            free_port()
        )
    };
    let err = start_expecting_failure(dir.path(), &ensemble("server.1=127.0.0.1:2890:3890\n"));
    assert!(
        err.contains("zoo.cfg:8") && err.contains("server.1"),
        "duplicate server id: {err}"
    );
    let err = start_expecting_failure(dir.path(), &ensemble(""));
    assert!(err.contains("myid"), "missing myid: {err}");
}

/// Snapshots taken while writes keep coming (snapCount 40, 2 kB values: each snapshot is written
/// over several turns of the loop while transactions go on being applied), then kill -9: the
/// newest snapshot plus the log after it give back every acknowledged write.
#[test]
fn fuzzy_snapshots_under_load_recover_every_write() {
    let mut s = Server::new("snapCount=40");
    let value = |i: usize, v: usize| format!("{i}:{v}:{}", "x".repeat(2000)).into_bytes();
    rt().block_on(async {
        let c = client(&s.addr()).await;
        let mut tasks = Vec::new();
        for t in 0..4usize {
            let c = c.clone();
            tasks.push(tokio::spawn(async move {
                for k in 0..150usize {
                    let i = t * 1000 + k;
                    let p = format!("/fz-{i}");
                    c.create(&p, &value(i, 0), &opts(zk::CreateMode::Persistent))
                        .await
                        .unwrap();
                    if k % 3 == 0 {
                        c.set_data(&p, &value(i, 1), None).await.unwrap();
                    }
                    if k % 10 == 9 {
                        c.delete(&format!("/fz-{}", i - 1), None).await.unwrap();
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let snapshots_written = s.log().matches("snapshot at").count();
    assert!(snapshots_written >= 4, "{}", s.log());
    s.kill9();
    s.start();
    rt().block_on(async {
        let c = client(&s.addr()).await;
        for t in 0..4usize {
            for k in 0..150usize {
                let i = t * 1000 + k;
                let p = format!("/fz-{i}");
                let got = c.get_data(&p).await;
                if k % 10 == 8 {
                    assert!(got.is_err(), "{p} was deleted");
                    continue;
                }
                let (data, stat) = got.unwrap_or_else(|e| panic!("{p}: {e}"));
                let v = usize::from(k % 3 == 0);
                assert_eq!(data, value(i, v), "{p}");
                assert_eq!(stat.version as usize, v, "{p}");
            }
        }
        let (_, root) = c.get_children("/").await.unwrap();
        // 4 × (150 − 15 deleted) plus /zookeeper.
        assert_eq!(root.num_children, 4 * 135 + 1);
    });
}
