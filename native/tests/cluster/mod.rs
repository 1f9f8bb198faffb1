//! Real `zkserver` processes on loopback for integration tests: free ports picked at run time,
//! every process killed when the test ends, every wait bounded. Needs `mod common;` beside it.
#![allow(dead_code)]

use crate::common::{exe, wait_until};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Child;
use std::time::Duration;
use zk_native::ensemble::{self, Member};

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub members: Vec<Member>,
    procs: BTreeMap<u64, Child>,
}

impl Cluster {
    /// Writes the configuration of `voters` + `observers` servers; starts none.
    pub fn new(voters: u64, observers: u64, tick_time: u32) -> Cluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let members = ensemble::write_configs(dir.path(), voters, observers, tick_time, false)
            .expect("configs");
        Cluster {
            dir,
            members,
            procs: BTreeMap::new(),
        }
    }

    /// Adds a line to every server's zoo.cfg (before starting them).
    pub fn configure(&self, line: &str) {
        for m in &self.members {
            let mut text = std::fs::read_to_string(&m.config).unwrap();
            text.push_str(line);
            text.push('\n');
            std::fs::write(&m.config, text).unwrap();
        }
    }

    pub fn member(&self, id: u64) -> &Member {
        &self.members[(id - 1) as usize]
    }

    pub fn start(&mut self, id: u64) {
        let m = self.member(id).clone();
        let child = ensemble::spawn(&exe(), &m).expect("spawn zkserver");
        self.procs.insert(id, child);
    }

    /// Starts every server, in id order.
    pub fn start_all(&mut self) {
        for id in 1..=self.members.len() as u64 {
            self.start(id);
        }
    }

    /// kill -9.
    pub fn kill(&mut self, id: u64) {
        if let Some(mut c) = self.procs.remove(&id) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn is_running(&self, id: u64) -> bool {
        self.procs.contains_key(&id)
    }

    /// The mode `srvr` reports: leader, follower, observer, standalone; "looking" while not
    /// serving; "down" when nothing answers.
    pub fn mode(&self, id: u64) -> String {
        ensemble::mode(self.member(id).client_port)
    }

    pub fn four(&self, id: u64, cmd: &str) -> String {
        zk_native::cli::four_letter(
            "127.0.0.1",
            self.member(id).client_port,
            cmd,
            Duration::from_secs(2),
        )
        .unwrap_or_default()
    }

    /// A `mntr` value.
    pub fn mntr(&self, id: u64, key: &str) -> Option<String> {
        self.four(id, "mntr").lines().find_map(|l| {
            l.strip_prefix(key)
                .and_then(|v| v.strip_prefix('\t'))
                .map(str::to_string)
        })
    }

    /// The one running server that says it leads.
    pub fn leader(&self) -> Option<u64> {
        let leaders: Vec<u64> = self
            .procs
            .keys()
            .copied()
            .filter(|id| self.mode(*id) == "leader")
            .collect();
        (leaders.len() == 1).then(|| leaders[0])
    }

    /// Waits until the given servers report the given modes.
    pub fn wait_modes(&self, want: &[(u64, &str)], timeout: Duration) {
        wait_until(&format!("modes {want:?}"), timeout, || {
            want.iter().all(|(id, m)| self.mode(*id) == *m)
        });
    }

    pub fn connect_string(&self, ids: &[u64]) -> String {
        ids.iter()
            .map(|id| format!("127.0.0.1:{}", self.member(*id).client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn log(&self, id: u64) -> String {
        std::fs::read_to_string(self.member(id).data_dir.join("zookeeper.out")).unwrap_or_default()
    }

    pub fn data_dir(&self, id: u64) -> &Path {
        &self.member(id).data_dir
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, mut c) in std::mem::take(&mut self.procs) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
