//! When was a snapshot being written? Found by watching the servers' dataDirs.
//!
//! Apache ZooKeeper writes `version-2/snapshot.<zxid>` in place, so a snapshot is being written
//! while that file grows; `zkserver` writes a `.tmp` file and renames it. Either way, a
//! snapshot file that is new, growing, or still a `.tmp` marks a snapshot in progress. The
//! directories are polled every [`POLL`], so an interval is known to that precision: each one
//! starts at the poll before the first change was seen.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const POLL: Duration = Duration::from_millis(50);

/// A snapshot seen in progress, in time since the run's start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub start: Duration,
    pub end: Duration,
}

fn snapshot_files(dirs: &[PathBuf]) -> HashMap<PathBuf, (u64, bool)> {
    let mut out = HashMap::new();
    for d in dirs {
        for dir in [d.clone(), d.join("version-2")] {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with("snapshot.") || name.starts_with(".snapshot") {
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    out.insert(e.path(), (len, name.ends_with(".tmp")));
                }
            }
        }
    }
    out
}

/// Polls `dirs` until `stop`, returning the intervals during which a snapshot was in progress.
pub async fn watch(dirs: Vec<PathBuf>, t0: Instant, stop: Arc<AtomicBool>) -> Vec<Interval> {
    let mut known = snapshot_files(&dirs);
    let mut out = Vec::new();
    let mut active: Option<Duration> = None;
    let mut prev_poll = t0.elapsed();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(POLL).await;
        let now = t0.elapsed();
        let files = snapshot_files(&dirs);
        let changed = files
            .iter()
            .any(|(p, (len, _))| known.get(p).map(|k| k.0) != Some(*len));
        let tmp = files.values().any(|(_, tmp)| *tmp);
        match (active, changed || tmp) {
            (None, true) => active = Some(prev_poll),
            (Some(start), false) => {
                out.push(Interval { start, end: now });
                active = None;
            }
            _ => {}
        }
        known = files;
        prev_poll = now;
    }
    if let Some(start) = active {
        out.push(Interval {
            start,
            end: t0.elapsed(),
        });
    }
    out
}

/// Does a request sent at `sent` and answered at `done` overlap a snapshot?
pub fn overlaps(intervals: &[Interval], sent: Duration, done: Duration) -> bool {
    intervals.iter().any(|i| sent <= i.end && done >= i.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap() {
        let ms = Duration::from_millis;
        let iv = [Interval {
            start: ms(100),
            end: ms(200),
        }];
        assert!(overlaps(&iv, ms(50), ms(100)));
        assert!(overlaps(&iv, ms(150), ms(160)));
        assert!(overlaps(&iv, ms(200), ms(300)));
        assert!(!overlaps(&iv, ms(10), ms(99)));
        assert!(!overlaps(&iv, ms(201), ms(300)));
    }

    #[tokio::test]
    async fn sees_new_and_temporary_snapshot_files() {
        let d = tempfile::tempdir().unwrap();
        let v2 = d.path().join("version-2");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("snapshot.0"), b"old").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let t0 = Instant::now();
        let h = tokio::spawn(watch(vec![d.path().to_path_buf()], t0, stop.clone()));
        tokio::time::sleep(Duration::from_millis(150)).await;
        // zkserver's way: a .tmp file for a while, then renamed.
        std::fs::write(v2.join("snapshot.1a.tmp"), b"abc").unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::rename(v2.join("snapshot.1a.tmp"), v2.join("snapshot.1a")).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        let iv = h.await.unwrap();
        assert!(!iv.is_empty(), "{iv:?}");
        let first = iv[0];
        assert!(first.start >= Duration::from_millis(100), "{iv:?}");
        assert!(
            first.end - first.start >= Duration::from_millis(250),
            "{iv:?}"
        );
    }
}
