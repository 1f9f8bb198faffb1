//! A real full disk under a standalone `zkserver`: its dataDir on a small tmpfs that a filler
//! file fills. Writes are refused with NotReadOnly and reads go on; once the filler is removed
//! writes go on; after kill -9 the server restarts on its files with every acknowledged write
//! and none of the refused ones.
//!
//! In an ensemble, a follower whose disk fills leaves the quorum while the others go on taking
//! writes, and rejoins, caught up, once its disk has room.
//!
//! Mounting a tmpfs needs root (CI runs as root); elsewhere the tests say so and do nothing.

mod cluster;
mod common;

use cluster::Cluster;
use common::{exe, free_port, rt, server_log, start_foreground, wait_until};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use zookeeper_client as zk;

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        Tmpfs::mount_on(size, dir)
    }

    fn mount_on(size: &str, dir: tempfile::TempDir) -> Option<Tmpfs> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .ok()?;
        if !out.status.success() {
            eprintln!(
                "skipped: cannot mount a tmpfs (needs root): {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the filesystem holding `dir` with one file, to the last byte it takes.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0xAB_u8; 4096];
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    // Smaller writes for the last partial block.
    while f.write(&[0xAB]).is_ok_and(|n| n == 1) {}
    let _ = f.sync_all();
    path
}

fn start(dir: &Path, cfg: &Path, port: u16) -> Killed {
    // Killed on every path, a failed start too.
    let child = Killed(start_foreground(dir, cfg));
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if zk_native::cli::four_letter("127.0.0.1", port, "ruok", Duration::from_millis(300))
            .is_ok_and(|a| a == "imok")
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("zkserver did not start: {}", server_log(dir));
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn opts() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_loses_nothing() {
    let _ = exe();
    let Some(fs) = Tmpfs::mount("4m") else {
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let port = free_port();
    let cfg = logs.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=200\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=*\npreAllocSize=64\n\
             snapCount=1000000\n",
            fs.path().join("data").display()
        ),
    )
    .unwrap();
    let server = start(logs.path(), &cfg, port);
    let addr = format!("127.0.0.1:{port}");
    let value = vec![b'v'; 1000];
    let (acked, refused) = rt().block_on(async {
        let c = zk::Client::connector()
            .with_session_timeout(Duration::from_secs(10))
            .connect(&addr)
            .await
            .unwrap();
        c.create("/before", b"1", &opts()).await.unwrap();
        let filler = fill(fs.path());
        // What the log had preallocated still takes writes; then the disk says no.
        let mut acked = vec!["/before".to_string()];
        let mut refused = None;
        for i in 0..10_000 {
            let path = format!("/n{i}");
            match c.create(&path, &value, &opts()).await {
                Ok(_) => acked.push(path),
                Err(zk::Error::NotReadOnly) => {
                    refused = Some(path);
                    break;
                }
                Err(e) => panic!("{path}: {e} (expected Ok or NotReadOnly)"),
            }
        }
        let refused = refused.expect("the disk never filled");
        eprintln!(
            "{} writes acknowledged, then {refused} refused: the disk is full",
            acked.len()
        );
        // Reads go on; the refused write was not applied; writes stay refused.
        let (data, _) = c.get_data("/before").await.unwrap();
        assert_eq!(data, b"1");
        assert!(c.check_stat(&refused).await.unwrap().is_none());
        assert!(matches!(
            c.set_data("/before", b"2", None).await,
            Err(zk::Error::NotReadOnly)
        ));
        // Room again: within a few probes, writes go on.
        std::fs::remove_file(filler).unwrap();
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            match c.create(&refused, &value, &opts()).await {
                Ok(_) => break,
                Err(zk::Error::NotReadOnly) if Instant::now() < end => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(e) => panic!("writes did not resume once the disk had room: {e}"),
            }
        }
        acked.push(refused.clone());
        c.create("/after", b"", &opts()).await.unwrap();
        acked.push("/after".into());
        (acked, refused)
    });
    let log = server_log(logs.path());
    assert!(
        log.contains("the disk is full") && log.contains("the disk has room again"),
        "the server says what happened: {log}"
    );
    drop(server);
    // kill -9, then a restart on the same files: every acknowledged write is there.
    let _server = start(logs.path(), &cfg, port);
    rt().block_on(async {
        let c = zk::Client::connect(&addr).await.unwrap();
        for p in &acked {
            assert!(
                c.check_stat(p).await.unwrap().is_some(),
                "{p} was acknowledged and is gone after a restart"
            );
        }
        let (kids, _) = c.get_children("/").await.unwrap();
        assert_eq!(
            kids.len(),
            acked.len() + 1,
            "nothing but the acknowledged writes (and /zookeeper): refused {refused} once"
        );
    });
}

#[test]
fn a_follower_with_a_full_disk_leaves_the_quorum_and_rejoins_caught_up() {
    let mut c = Cluster::new(3, 0, 200);
    c.configure("preAllocSize=64\nsnapCount=1000000");
    // Server 1's version-2 (its log, snapshots and epochs) on a small tmpfs.
    let files = c.data_dir(1).join("version-2");
    std::fs::create_dir_all(&files).unwrap();
    let dir = tempfile::TempDir::new_in(c.data_dir(1)).unwrap();
    let Some(fs) = Tmpfs::mount_on("4m", dir) else {
        return;
    };
    std::fs::remove_dir(&files).unwrap();
    std::os::unix::fs::symlink(fs.path(), &files).unwrap();
    c.start_all();
    let t = Duration::from_secs(20);
    c.wait_modes(&[(1, "follower"), (2, "follower"), (3, "leader")], t);
    let value = vec![b'v'; 1000];
    let rt = rt();
    let leader = c.connect_string(&[3]);
    let mut acked = Vec::new();
    rt.block_on(async {
        let w = zk::Client::connect(&leader).await.unwrap();
        w.create("/before", b"", &opts()).await.unwrap();
        acked.push("/before".to_string());
        let filler = fill(fs.path());
        // Writes go on through the leader (2 and 3 are a quorum) while 1's disk fills.
        let end = Instant::now() + Duration::from_secs(30);
        let mut i = 0;
        while c.mode(1) == "follower" {
            assert!(
                Instant::now() < end,
                "server 1 kept following on a full disk"
            );
            let p = format!("/n{i}");
            w.create(&p, &value, &opts()).await.unwrap();
            acked.push(p);
            i += 1;
        }
        assert!(c.log(1).contains("the disk is full"), "{}", c.log(1));
        eprintln!("server 1 left the quorum after {i} writes: {}", c.mode(1));
        for _ in 0..20 {
            let p = format!("/n{i}");
            w.create(&p, &value, &opts()).await.unwrap();
            acked.push(p);
            i += 1;
        }
        assert_ne!(
            c.mode(1),
            "follower",
            "out of the quorum while its disk is full"
        );
        std::fs::remove_file(filler).unwrap();
    });
    wait_until("server 1 to follow again", t, || c.mode(1) == "follower");
    eprintln!(
        "server 1 follows again; {} writes to check on it",
        acked.len()
    );
    assert_eq!(c.leader(), Some(3), "the leader did not change");
    rt.block_on(async {
        let r = zk::Client::connect(&c.connect_string(&[1])).await.unwrap();
        r.sync("/").await.unwrap();
        for p in &acked {
            assert!(
                r.check_stat(p).await.unwrap().is_some(),
                "server 1 lacks {p}"
            );
        }
    });
    c.kill(1);
    c.kill(2);
    c.kill(3);
}
