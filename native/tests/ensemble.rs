//! The ensemble with real `zkserver` processes on loopback, driven by a third-party client (the
//! `zookeeper-client` crate): elections as the docs describe them, failover under load without
//! losing an acknowledged write, catch-up with DIFF and SNAP, observers, and no service without a
//! quorum.

mod cluster;
mod common;

use cluster::Cluster;
use common::{rt, wait_until};
use std::time::Duration;
use zookeeper_client as zk;

const TICK: u32 = 200;
const T: Duration = Duration::from_secs(20);

async fn client(connect: &str) -> zk::Client {
    let mut last = None;
    for _ in 0..40 {
        match zk::Client::connector()
            .with_session_timeout(Duration::from_secs(4))
            .connect(connect)
            .await
        {
            Ok(c) => return c,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("cannot connect to {connect}: {last:?}");
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

/// Three voters started together: 3, the highest id, leads.
fn three_running() -> Cluster {
    let mut c = Cluster::new(3, 0, TICK);
    c.start_all();
    c.wait_modes(&[(3, "leader")], T);
    c
}

/// Three servers started 1, 2, 3: one leader, two followers; a write through any server reads
/// back from every one.
#[test]
fn three_servers_one_leader_writes_read_back_everywhere() {
    let mut c = Cluster::new(3, 0, TICK);
    c.start_all();
    c.wait_modes(&[(1, "follower"), (2, "follower"), (3, "leader")], T);
    let rt = rt();
    rt.block_on(async {
        for writer in 1..=3u64 {
            let w = client(&c.connect_string(&[writer])).await;
            w.create(
                &format!("/from{writer}"),
                format!("v{writer}").as_bytes(),
                &persistent(),
            )
            .await
            .unwrap();
        }
        for reader in 1..=3u64 {
            let r = client(&c.connect_string(&[reader])).await;
            r.sync("/").await.unwrap();
            for writer in 1..=3u64 {
                let (data, _) = r.get_data(&format!("/from{writer}")).await.unwrap();
                assert_eq!(
                    data,
                    format!("v{writer}").into_bytes(),
                    "server {reader} reads /from{writer}"
                );
            }
        }
    });
    assert_eq!(c.mntr(3, "zk_synced_followers").as_deref(), Some("2"));
    assert_eq!(c.mntr(3, "zk_server_state").as_deref(), Some("leader"));
}

/// S1: five servers started in id order; 3 leads once three are up; 4 and 5 follow it without a
/// new election.
#[test]
fn s1_five_started_in_order() {
    let mut c = Cluster::new(5, 0, TICK);
    c.start(1);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(c.mode(1), "looking");
    c.start(2);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        (c.mode(1).as_str(), c.mode(2).as_str()),
        ("looking", "looking")
    );
    c.start(3);
    c.wait_modes(&[(1, "follower"), (2, "follower"), (3, "leader")], T);
    let epoch = c.mntr(3, "zk_epoch");
    c.start(4);
    c.wait_modes(&[(4, "follower")], T);
    c.start(5);
    c.wait_modes(&[(5, "follower")], T);
    assert_eq!(c.leader(), Some(3));
    assert_eq!(
        c.mntr(3, "zk_epoch"),
        epoch,
        "no new election: the leader's epoch is the same"
    );
    assert!(
        c.log(4).contains("election finished: FOLLOWING, leader 3"),
        "{}",
        c.log(4)
    );
}

/// S2: four servers; 01 and 02 cannot make a quorum; with 03 it forms and 03 leads; 04 follows.
/// kill -9 03: 04 leads, 01 and 02 follow.
#[test]
fn s2_four_servers_then_the_leader_dies() {
    let mut c = Cluster::new(4, 0, TICK);
    c.start(1);
    c.start(2);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        (c.mode(1).as_str(), c.mode(2).as_str()),
        ("looking", "looking")
    );
    c.start(3);
    c.wait_modes(&[(3, "leader")], T);
    c.start(4);
    c.wait_modes(&[(1, "follower"), (2, "follower"), (4, "follower")], T);
    let rt = rt();
    rt.block_on(async {
        let cl = client(&c.connect_string(&[1])).await;
        cl.create("/laogong", b"laogong", &persistent())
            .await
            .unwrap();
        cl.create("/laogong/laopo", b"laopo", &persistent())
            .await
            .unwrap();
    });
    c.kill(3);
    c.wait_modes(&[(4, "leader"), (1, "follower"), (2, "follower")], T);
    rt.block_on(async {
        let cl = client(&c.connect_string(&[2])).await;
        assert_eq!(
            cl.list_children("/laogong").await.unwrap(),
            vec!["laopo".to_string()]
        );
    });
}

/// kill -9 of the leader under a steady write load: a new leader serves and every acknowledged
/// write is there afterwards, on every server.
#[test]
fn leader_killed_under_load_loses_no_acknowledged_write() {
    let mut c = three_running();
    let rt = rt();
    let acked = rt.block_on(async {
        let cl = client(&c.connect_string(&[1, 2, 3])).await;
        cl.create("/load", b"", &persistent()).await.unwrap();
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let writer = tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut n = 0u64;
            let mut failures = 0u64;
            while !*stop_rx.borrow() {
                let path = format!("/load/n{n}");
                match cl
                    .create(&path, format!("{n}").as_bytes(), &persistent())
                    .await
                {
                    Ok(_) => {
                        acked.push(path);
                        n += 1;
                    }
                    // The earlier attempt of this very write got through before the connection broke.
                    Err(zk::Error::NodeExists) => n += 1,
                    Err(_) => {
                        failures += 1;
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                let _ = tokio::time::timeout(Duration::from_millis(1), stop_rx.changed()).await;
            }
            (acked, failures)
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        (writer, stop_tx)
    });
    let (writer, stop_tx) = acked;
    let before_kill = std::time::Instant::now();
    c.kill(3);
    wait_until(
        "a new leader",
        T,
        || matches!(c.leader(), Some(l) if l != 3),
    );
    let failover = before_kill.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = stop_tx.send(true);
    let (acked, failures) = rt.block_on(writer).unwrap();
    assert!(
        acked.len() > 20,
        "the load kept going: {} acknowledged, {failures} failed attempts",
        acked.len()
    );
    c.start(3);
    c.wait_modes(&[(3, "follower")], T);
    rt.block_on(async {
        for id in 1..=3u64 {
            let r = client(&c.connect_string(&[id])).await;
            r.sync("/").await.unwrap();
            let children: std::collections::BTreeSet<String> = r
                .list_children("/load")
                .await
                .unwrap()
                .into_iter()
                .collect();
            for p in &acked {
                let name = p.trim_start_matches("/load/");
                assert!(
                    children.contains(name),
                    "server {id} lost acknowledged write {p}"
                );
            }
        }
    });
    eprintln!(
        "failover took {failover:?}; {} writes acknowledged, {failures} failed attempts",
        acked.len()
    );
}

/// A follower down while writes go on catches up when it comes back: with a DIFF when it missed a
/// few, with a SNAP when it missed more than the leader keeps (commitLogCount, at least 500). The
/// SNAP carries 12 MB, so it streams in pieces, and writes go on while it does.
#[test]
fn a_follower_catches_up_with_diff_and_snap() {
    let mut c = three_running();
    let rt = rt();
    for (round, writes, mode) in [(0u32, 20u32, "DIFF"), (1, 700, "SNAP")] {
        c.kill(1);
        rt.block_on(async {
            let cl = client(&c.connect_string(&[2, 3])).await;
            if mode == "SNAP" {
                let big = vec![b'b'; 900 << 10];
                for i in 0..14 {
                    cl.create(&format!("/big{i}"), &big, &persistent())
                        .await
                        .unwrap();
                }
            }
            for i in 0..writes {
                cl.create(&format!("/r{round}w{i}"), b"x", &persistent())
                    .await
                    .unwrap();
            }
        });
        c.start(1);
        // Writes go on through the leader until server 1 follows.
        let during = rt.block_on(async {
            let cl = client(&c.connect_string(&[3])).await;
            let mut n = 0u32;
            while c.mode(1) != "follower" && n < 2000 {
                cl.create(&format!("/r{round}during{n}"), b"d", &persistent())
                    .await
                    .unwrap();
                n += 1;
            }
            n
        });
        c.wait_modes(&[(1, "follower")], T);
        let log = c.log(3);
        assert!(
            log.lines()
                .rfind(|l| l.contains("syncing learner 1 with"))
                .is_some_and(|l| l.contains(mode)),
            "round {round}: expected {mode} in the leader's log"
        );
        if mode == "SNAP" {
            let installed = c.log(1);
            let line = installed
                .lines()
                .rfind(|l| l.contains("installed the leader's snapshot"))
                .expect("server 1 says it installed the snapshot");
            let bytes: u64 = line
                .split("bytes=")
                .nth(1)
                .and_then(|r| r.split(|ch: char| !ch.is_ascii_digit()).next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            assert!(bytes > 12_000_000, "a snapshot of 12 MB: {line}");
        }
        rt.block_on(async {
            let r = client(&c.connect_string(&[1])).await;
            r.sync("/").await.unwrap();
            let (data, _) = r
                .get_data(&format!("/r{round}w{}", writes - 1))
                .await
                .unwrap();
            assert_eq!(data, b"x");
            if during > 0 {
                let (data, _) = r
                    .get_data(&format!("/r{round}during{}", during - 1))
                    .await
                    .unwrap();
                assert_eq!(data, b"d");
            }
            assert!(r.count_descendants_number("/").await.unwrap() as u32 >= writes + during);
        });
    }
}

/// An observer serves reads and forwards writes, but does not count toward the quorum.
#[test]
fn observer_serves_reads_forwards_writes_and_does_not_vote() {
    let mut c = Cluster::new(2, 1, TICK);
    c.start_all();
    c.wait_modes(&[(1, "follower"), (2, "leader"), (3, "observer")], T);
    let rt = rt();
    rt.block_on(async {
        let cl = client(&c.connect_string(&[3])).await;
        cl.create("/via-observer", b"obs", &persistent())
            .await
            .unwrap();
        let (data, _) = cl.get_data("/via-observer").await.unwrap();
        assert_eq!(data, b"obs");
    });
    assert_eq!(c.mntr(2, "zk_synced_observers").as_deref(), Some("1"));
    c.kill(1);
    // One voter of two, plus the observer, is no quorum.
    wait_until("the observer to stop serving", T, || c.mode(3) == "looking");
    assert_ne!(c.mode(2), "leader");
}

/// Two of three down: nothing is acknowledged; back up: service resumes and nothing is lost.
#[test]
fn no_quorum_no_writes_then_recovery() {
    let mut c = three_running();
    let rt = rt();
    rt.block_on(async {
        let cl = client(&c.connect_string(&[1])).await;
        cl.create("/kept", b"1", &persistent()).await.unwrap();
    });
    c.kill(2);
    c.kill(3);
    wait_until("server 1 to stop serving", T, || c.mode(1) == "looking");
    rt.block_on(async {
        let r = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(2))
            .with_fail_eagerly()
            .connect(&c.connect_string(&[1]))
            .await;
        assert!(r.is_err(), "a server out of the quorum serves no client");
    });
    c.start(2);
    c.start(3);
    wait_until("a leader again", T, || c.leader().is_some());
    rt.block_on(async {
        let cl = client(&c.connect_string(&[1, 2, 3])).await;
        let (data, _) = cl.get_data("/kept").await.unwrap();
        assert_eq!(data, b"1");
        cl.create("/after", b"2", &persistent()).await.unwrap();
    });
}

/// `readonlymode.enabled=true`: a server out of the quorum serves reads to read-only clients
/// and refuses their writes; `isro` and `srvr` say so.
#[test]
fn read_only_mode_out_of_the_quorum() {
    let mut c = Cluster::new(3, 0, TICK);
    c.configure("readonlymode.enabled=true");
    c.start_all();
    c.wait_modes(&[(3, "leader")], T);
    let rt = rt();
    rt.block_on(async {
        let cl = client(&c.connect_string(&[1])).await;
        cl.create("/kept", b"1", &persistent()).await.unwrap();
        cl.sync("/").await.unwrap();
    });
    assert_eq!(c.four(1, "isro"), "rw");
    c.kill(2);
    c.kill(3);
    wait_until("server 1 to serve read-only", T, || {
        c.four(1, "isro") == "ro"
    });
    assert_eq!(c.mode(1), "read-only");
    rt.block_on(async {
        let ro = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(4))
            .with_readonly(true)
            .connect(&c.connect_string(&[1]))
            .await
            .expect("a read-only session");
        let (data, _) = ro.get_data("/kept").await.unwrap();
        assert_eq!(data, b"1");
        let err = ro.create("/nope", b"", &persistent()).await.unwrap_err();
        assert!(matches!(err, zk::Error::NotReadOnly), "{err:?}");
    });
}
