//! `zkbench lifecycle` and `zkbench fsync`: what a server costs outside steady load.
//!
//! Lifecycle, on one standalone server: start-up time to serving on an empty dataDir, resident
//! memory empty and with N znodes, the time to create them, and — after kill -9 — the time to
//! recover from the snapshot and log they left. The fsync probe measures what the disk under a
//! dataDir can do, the ceiling of a server's write rate without group commit.

use super::cluster::{dir_bytes, Cluster, Flavor, Settings};
use super::populate::{count_children, populate, Populate, DATA_PREFIX};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a lifecycle run is told.
#[derive(Clone, Debug)]
pub struct LifecycleOptions {
    pub flavor: Flavor,
    pub settings: Settings,
    pub znodes: u64,
    pub value_size: usize,
    pub dir: Option<PathBuf>,
    pub patience: Duration,
}

/// The result of `zkbench lifecycle`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LifecycleReport {
    /// "lifecycle".
    pub kind: String,
    pub server: String,
    pub znodes: u64,
    pub value_size: usize,
    /// From starting the process on an empty dataDir to `srvr` reporting a mode.
    pub startup_ms: f64,
    pub rss_empty_kb: u64,
    pub populate_s: f64,
    pub creates_per_sec: f64,
    pub rss_loaded_kb: u64,
    /// Bytes in the dataDir after populating (preallocated log space included).
    pub disk_bytes: u64,
    /// From starting the process after kill -9 to `srvr` reporting a mode.
    pub recovery_ms: f64,
    pub rss_recovered_kb: u64,
    /// znodes found after recovery (must equal `znodes`).
    pub recovered_znodes: u64,
}

impl LifecycleReport {
    pub fn table(&self) -> String {
        let mb = |kb: u64| kb as f64 / 1024.0;
        format!(
            "{} standalone, {} znodes of {} bytes\n\
             start-up to serving (empty)      {:>10.0} ms\n\
             resident memory, empty           {:>10.1} MB\n\
             creating the znodes              {:>10.1} s ({:.0} creates/s)\n\
             resident memory, loaded          {:>10.1} MB\n\
             dataDir on disk                  {:>10.1} MB\n\
             recovery after kill -9           {:>10.0} ms\n\
             resident memory, recovered       {:>10.1} MB\n\
             znodes found after recovery      {:>10}\n",
            self.server,
            self.znodes,
            self.value_size,
            self.startup_ms,
            mb(self.rss_empty_kb),
            self.populate_s,
            self.creates_per_sec,
            mb(self.rss_loaded_kb),
            self.disk_bytes as f64 / 1_048_576.0,
            self.recovery_ms,
            mb(self.rss_recovered_kb),
            self.recovered_znodes
        )
    }
}

fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// Runs the lifecycle benchmark.
pub async fn run(o: LifecycleOptions, pb: &ProgressBar) -> Result<LifecycleReport, String> {
    let mut c = Cluster::create(o.flavor, 1, o.settings.clone(), o.dir.clone())?;
    pb.set_message(format!(
        "starting {} in {}",
        o.flavor.name(),
        c.dir.display()
    ));
    c.start(0)?;
    let startup = blocking(|| c.wait_serving(0, o.patience))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_empty = c.rss_kb(0).unwrap_or(0);
    let took = populate(Populate::one_per_txn(c.addrs(), o.znodes, o.value_size), pb).await?;
    // Let a snapshot in progress finish and the heap settle before looking at memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_loaded = c.rss_kb(0).unwrap_or(0);
    let disk = dir_bytes(c.data_dir(0));
    pb.set_message("kill -9 and restart");
    blocking(|| c.kill9(0));
    c.start(0)?;
    let recovery = blocking(|| c.wait_serving(0, o.patience))?;
    let found = count_children(&c.addr(0), DATA_PREFIX).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_recovered = c.rss_kb(0).unwrap_or(0);
    blocking(|| c.stop_all());
    Ok(LifecycleReport {
        kind: "lifecycle".into(),
        server: o.flavor.name().into(),
        znodes: o.znodes,
        value_size: o.value_size,
        startup_ms: startup.as_secs_f64() * 1000.0,
        rss_empty_kb: rss_empty,
        populate_s: took.as_secs_f64(),
        creates_per_sec: o.znodes as f64 / took.as_secs_f64().max(1e-9),
        rss_loaded_kb: rss_loaded,
        disk_bytes: disk,
        recovery_ms: recovery.as_secs_f64() * 1000.0,
        rss_recovered_kb: rss_recovered,
        recovered_znodes: found.max(0) as u64,
    })
}

/// The result of `zkbench fsync`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FsyncReport {
    /// "fsync".
    pub kind: String,
    pub dir: String,
    pub write_bytes: usize,
    pub fsyncs: u64,
    pub seconds: f64,
    pub fsyncs_per_sec: f64,
    pub mean_ms: f64,
}

/// Appends `write_bytes` and fdatasyncs, over and over for `duration`, in a preallocated file
/// under `dir` — what a transaction log does for one write.
pub fn fsync_probe(
    dir: &Path,
    duration: Duration,
    write_bytes: usize,
) -> Result<FsyncReport, String> {
    let path = dir.join(format!(".zkbench-fsync-{}", std::process::id()));
    let run = || -> std::io::Result<(u64, f64)> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)?;
        // Preallocate as ZooKeeper does (preAllocSize 64 MB), so fdatasync need not update the size.
        let block = vec![0u8; 1 << 20];
        for _ in 0..64 {
            f.write_all(&block)?;
        }
        f.sync_all()?;
        f.seek(SeekFrom::Start(0))?;
        let rec = vec![0x5au8; write_bytes.max(1)];
        let limit = 64u64 << 20;
        let (mut n, mut pos) = (0u64, 0u64);
        let t = Instant::now();
        while t.elapsed() < duration {
            if pos + rec.len() as u64 > limit {
                f.seek(SeekFrom::Start(0))?;
                pos = 0;
            }
            f.write_all(&rec)?;
            pos += rec.len() as u64;
            f.sync_data()?;
            n += 1;
        }
        Ok((n, t.elapsed().as_secs_f64()))
    };
    let r = run();
    let _ = std::fs::remove_file(&path);
    let (n, secs) = r.map_err(|e| format!("fsync probe in {}: {e}", dir.display()))?;
    Ok(FsyncReport {
        kind: "fsync".into(),
        dir: dir.display().to_string(),
        write_bytes,
        fsyncs: n,
        seconds: secs,
        fsyncs_per_sec: n as f64 / secs.max(1e-9),
        mean_ms: secs * 1000.0 / n.max(1) as f64,
    })
}
