//! `zkserver migrate-check`: before one server of a running ensemble is swapped for the other
//! kind (Apache ZooKeeper for zkserver, or back), tells an operator whether its zoo.cfg, its
//! data directory and its peers allow it, and why not.
//!
//! Three things are checked, read-only:
//!
//! * **zoo.cfg**: what this server does not do and a mixed ensemble or its clients would need
//!   (TLS, SASL, dynamic reconfiguration, local sessions, compressed snapshots) blocks the swap;
//!   any other key it ignores is a warning.
//! * **the data directory**: it must read as the server would read it at start — ZooKeeper's
//!   files (or this server's, which are the same), every snapshot and log record checked — and
//!   hold no files of this server's earlier format ([`crate::storage::convert`]).
//! * **the peers**: each other server is asked `srvr` on its client port: its kind and version
//!   (Apache ZooKeeper 3.5 to 3.9 speak the protocol this server speaks), its mode and zxid; and
//!   whether, with this server stopped, the voters still serving make a quorum (else stopping it
//!   would stop the ensemble).

use crate::cli::{four_letter, Loaded};
use crate::storage::{Storage, StorageOptions};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;
use zk_core::config::Config;
use zk_core::ServerId;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    /// The swap must not be done until this is resolved.
    Blocker,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub what: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = match self.level {
            Level::Ok => "ok     ",
            Level::Warning => "warning",
            Level::Blocker => "BLOCKER",
        };
        write!(f, "{tag}  {}", self.what)
    }
}

fn ok(what: String) -> Finding {
    Finding {
        level: Level::Ok,
        what,
    }
}
fn warning(what: String) -> Finding {
    Finding {
        level: Level::Warning,
        what,
    }
}
fn blocker(what: String) -> Finding {
    Finding {
        level: Level::Blocker,
        what,
    }
}

/// Keys of ZooKeeper 3.8 that this server does not do, with the values that make them matter
/// (`None`: any value), and why a swap cannot go on with them.
const BLOCKING_KEYS: &[(&str, Option<&str>, &str)] =
    &[("snapshot.compression.method", None, "compressed snapshots")];

/// What zoo.cfg asks for that this server does not do.
pub fn check_config(cfg: &Config, warnings: &[zk_core::config::Warning]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (key, value) in &cfg.passthrough {
        let name = key.strip_prefix("zookeeper.").unwrap_or(key);
        let blocking = BLOCKING_KEYS
            .iter()
            .find(|(k, v, _)| *k == name && v.is_none_or(|v| value.eq_ignore_ascii_case(v)));
        let compression_off = name == "snapshot.compression.method"
            && (value.is_empty() || value.eq_ignore_ascii_case("none"));
        if let Some((_, _, why)) = blocking.filter(|_| !compression_off) {
            out.push(blocker(format!(
                "zoo.cfg: {key}={value}: {why} is not supported by zkserver"
            )));
        }
    }
    if let Some(path) = &cfg.auth.jaas_config {
        // Kerberos: DIGEST-MD5 is the one SASL mechanism zkserver has.
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains("Krb5LoginModule") {
            out.push(blocker(format!(
                "{path}: Kerberos (GSSAPI) login modules: zkserver has DIGEST-MD5 only"
            )));
        }
    }
    if cfg.reconfig_enabled {
        out.push(blocker(
            "zoo.cfg: reconfigEnabled=true: dynamic reconfiguration is not supported by zkserver"
                .into(),
        ));
    }
    if let Some(f) = &cfg.dynamic_config_file {
        out.push(blocker(format!(
            "zoo.cfg: dynamicConfigFile={f}: dynamic configuration files are not supported by \
             zkserver; put the server lines in zoo.cfg"
        )));
    }
    if cfg.local_sessions_enabled {
        out.push(blocker(
            "zoo.cfg: localSessionsEnabled=true: local sessions are not supported by zkserver"
                .into(),
        ));
    }
    for w in warnings {
        if !out.iter().any(|f| f.what.contains(&format!("{}=", w.key))) {
            out.push(warning(w.to_string()));
        }
    }
    if out.iter().all(|f| f.level != Level::Blocker) {
        out.push(ok(
            "zoo.cfg: nothing in it stops zkserver and Apache ZooKeeper from sharing the ensemble"
                .into(),
        ));
    }
    out
}

/// What the data directory holds, read as a server would read it.
pub fn check_data(cfg: &Config) -> Vec<Finding> {
    let data = PathBuf::from(&cfg.data_dir);
    let logs = PathBuf::from(&cfg.data_log_dir);
    let opts = StorageOptions::from_config(cfg);
    match Storage::inspect(&data, &logs, opts) {
        Err(e) => vec![blocker(format!("dataDir: {e}"))],
        Ok((restored, report)) => {
            let mut out = Vec::new();
            if report.fresh {
                out.push(ok(format!(
                    "dataDir {}: empty: the server will take its data from the leader",
                    data.display()
                )));
            } else {
                let (path, z) = report.snapshot.clone().unwrap_or_default();
                out.push(ok(format!(
                    "dataDir: snapshot {} ({} znodes, {} sessions) and {} log records after it \
                     read back whole; last zxid {}, acceptedEpoch {}, currentEpoch {}",
                    path.display(),
                    restored.tree.node_count(),
                    restored.tree.sessions().len(),
                    restored.log.len(),
                    report.last_logged.max(z),
                    restored.accepted_epoch,
                    restored.current_epoch
                )));
            }
            for (p, why) in &report.skipped_snapshots {
                out.push(warning(format!(
                    "dataDir: {} is unreadable and will be skipped: {why}",
                    p.display()
                )));
            }
            if let Some(t) = &report.torn_tail {
                out.push(warning(format!(
                    "dataDir: {} ends with a record cut short at offset {} ({}): a crash left \
                     it, and the server will cut it off (it was never acknowledged)",
                    t.file.display(),
                    t.offset,
                    t.why
                )));
            }
            for p in &report.derived_epochs {
                out.push(warning(format!(
                    "dataDir: {} is missing and will be derived from the last zxid",
                    p.display()
                )));
            }
            out
        }
    }
}

/// A peer's answer to `srvr`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    pub id: ServerId,
    /// Its client address, when known.
    pub address: Option<String>,
    /// `Zookeeper version: ...`.
    pub version: Option<String>,
    pub mode: Option<String>,
    pub zxid: Option<String>,
}

impl PeerStatus {
    pub fn is_zkserver(&self) -> bool {
        self.version.as_deref().is_some_and(|v| v.contains("zk-rs"))
    }
    pub fn serving(&self) -> bool {
        matches!(
            self.mode.as_deref(),
            Some("leader" | "follower" | "observer" | "standalone")
        )
    }
}

/// Asks every server of the ensemble (this one too) `srvr` on its client port. A server whose
/// client address is not known (no `;clientPort` in its line, and its host shared with another
/// server) is listed without an address.
pub fn ask_peers(cfg: &Config, me: ServerId, timeout: Duration) -> Vec<PeerStatus> {
    let mut out = Vec::new();
    let hosts: Vec<String> = cfg
        .servers
        .values()
        .filter_map(|s| s.addresses.first().map(|a| a.0.clone()))
        .collect();
    for s in cfg.servers.values() {
        let line_host = s.addresses.first().map(|a| a.0.clone());
        let (host, port) = match &s.client {
            Some((h, p)) => (h.clone().or(line_host), Some(*p)),
            None if s.id == me => (
                cfg.client_port_address.clone().or(line_host),
                cfg.client_port,
            ),
            None => {
                let shared = hosts
                    .iter()
                    .filter(|h| Some(*h) == line_host.as_ref())
                    .count()
                    > 1;
                (line_host, if shared { None } else { cfg.client_port })
            }
        };
        let host = host
            .filter(|h| h != "0.0.0.0" && h != "::")
            .unwrap_or_else(|| "127.0.0.1".into());
        let Some(port) = port else {
            out.push(PeerStatus {
                id: s.id,
                address: None,
                version: None,
                mode: None,
                zxid: None,
            });
            continue;
        };
        let answer = four_letter(&host, port, "srvr", timeout).ok();
        let field = |name: &str| {
            answer.as_ref().and_then(|a| {
                a.lines()
                    .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
            })
        };
        out.push(PeerStatus {
            id: s.id,
            address: Some(format!("{host}:{port}")),
            version: field("Zookeeper version:"),
            mode: field("Mode:"),
            zxid: field("Zxid:"),
        });
    }
    out
}

/// What the peers say about swapping server `me`.
pub fn check_peers(cfg: &Config, me: ServerId, peers: &[PeerStatus]) -> Vec<Finding> {
    let mut out = Vec::new();
    if cfg.is_standalone() {
        out.push(ok(
            "standalone: no peers; stop the server, then start the other kind on the same zoo.cfg"
                .into(),
        ));
        return out;
    }
    let mut serving_voters = Vec::new();
    for p in peers {
        let kind = if p.is_zkserver() {
            "zkserver".to_string()
        } else {
            match &p.version {
                Some(v) => format!(
                    "Apache ZooKeeper {}",
                    v.split(['-', ',']).next().unwrap_or(v)
                ),
                None => "unknown".into(),
            }
        };
        let is_me = p.id == me;
        let Some(address) = &p.address else {
            out.push(warning(format!(
                "server.{}: its client address is not known (several servers share its host and \
                 its line has no ;clientPort): it cannot be asked",
                p.id
            )));
            continue;
        };
        match (&p.mode, &p.version) {
            (Some(mode), Some(v)) => {
                let line = format!(
                    "server.{} at {address}: {kind}, {mode}, zxid {}{}",
                    p.id,
                    p.zxid.as_deref().unwrap_or("?"),
                    if is_me { " (this server)" } else { "" }
                );
                let apache_minor = (!p.is_zkserver())
                    .then(|| {
                        let mut parts = v.split(['.', '-']);
                        let major: u32 = parts.next()?.trim().parse().ok()?;
                        let minor: u32 = parts.next()?.parse().ok()?;
                        Some((major, minor))
                    })
                    .flatten();
                match apache_minor {
                    Some((3, 5..=9)) | None => out.push(ok(line)),
                    Some((major, minor)) => out.push(blocker(format!(
                        "{line}: Apache ZooKeeper {major}.{minor} does not speak the protocol of \
                         3.5 to 3.9 that zkserver speaks"
                    ))),
                }
                let voter = cfg.servers.get(&p.id).is_some_and(|s| s.is_participant());
                if voter && p.serving() && !is_me {
                    serving_voters.push(p.id);
                }
            }
            _ => {
                if is_me {
                    out.push(ok(format!(
                        "server.{} (this server) at {address} does not answer: it is stopped",
                        p.id
                    )));
                } else {
                    out.push(warning(format!(
                        "server.{} at {address} does not answer srvr: it is down or unreachable",
                        p.id
                    )));
                }
            }
        }
    }
    let voters: Vec<ServerId> = cfg.participants().map(|s| s.id).collect();
    let quorum = voters.len() / 2 + 1;
    let am_voter = voters.contains(&me);
    let unknown = peers
        .iter()
        .filter(|p| p.address.is_none() && p.id != me && voters.contains(&p.id))
        .count();
    if am_voter && serving_voters.len() < quorum && unknown > 0 {
        out.push(warning(format!(
            "with server.{me} stopped, {} voters are known to serve; {unknown} could not be asked: \
             make sure a quorum ({quorum} of {}) serves without this one before stopping it",
            serving_voters.len(),
            voters.len()
        )));
    } else if am_voter && serving_voters.len() < quorum {
        out.push(blocker(format!(
            "with server.{me} stopped, {} of the {} voters serve ({}): a quorum needs {quorum}; \
             wait until the others are up, or the ensemble stops serving while this one is swapped",
            serving_voters.len(),
            voters.len(),
            serving_voters
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    } else if am_voter {
        out.push(ok(format!(
            "with server.{me} stopped, {} of the {} voters serve: the ensemble keeps its quorum",
            serving_voters.len(),
            voters.len()
        )));
    }
    out
}

/// Every check, for `zkserver migrate-check`.
pub fn check(l: &Loaded) -> Vec<Finding> {
    let mut out = check_config(&l.config, &l.warnings);
    out.extend(check_data(&l.config));
    let peers = ask_peers(&l.config, l.my_id, Duration::from_secs(2));
    out.extend(check_peers(&l.config, l.my_id, &peers));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &str) -> (Config, Vec<zk_core::config::Warning>) {
        let text = format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/tmp/x\nclientPort=2181\n\
             server.1=h1:2888:3888\nserver.2=h2:2888:3888\nserver.3=h3:2888:3888\n{extra}"
        );
        zk_core::config::parse(&text, "zoo.cfg").unwrap()
    }

    fn blockers(f: &[Finding]) -> Vec<&str> {
        f.iter()
            .filter(|x| x.level == Level::Blocker)
            .map(|x| x.what.as_str())
            .collect()
    }

    #[test]
    fn what_blocks_in_zoo_cfg() {
        let (c, w) = cfg("");
        assert!(blockers(&check_config(&c, &w)).is_empty());
        for (line, word) in [
            ("reconfigEnabled=true", "reconfiguration"),
            ("localSessionsEnabled=true", "local sessions"),
            ("snapshot.compression.method=gz", "compressed"),
        ] {
            let (c, w) = cfg(line);
            let f = check_config(&c, &w);
            let b = blockers(&f);
            assert!(b.iter().any(|x| x.contains(word)), "{line}: {f:?}");
        }
        let (c, w) = cfg("snapshot.compression.method=none\nsslQuorum=false");
        assert!(blockers(&check_config(&c, &w)).is_empty());
        // TLS and SASL are no obstacle any more.
        let (c, w) = cfg(
            "sslQuorum=true\nsecureClientPort=2281\nquorum.auth.enableSasl=true\n\
             authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
        );
        assert!(blockers(&check_config(&c, &w)).is_empty());
    }

    fn peer(id: u64, version: &str, mode: &str) -> PeerStatus {
        PeerStatus {
            id: ServerId(id),
            address: Some(format!("h{id}:2181")),
            version: (!version.is_empty()).then(|| version.to_string()),
            mode: (!mode.is_empty()).then(|| mode.to_string()),
            zxid: Some("0x100000005".into()),
        }
    }

    #[test]
    fn what_blocks_among_the_peers() {
        let (c, _) = cfg("");
        let apache = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC";
        let ours = "3.8.0-zk-rs-0.1.0, built on rust";
        // Two others serving: stopping server 1 keeps a quorum.
        let p = [
            peer(1, apache, "follower"),
            peer(2, ours, "leader"),
            peer(3, apache, "follower"),
        ];
        assert!(blockers(&check_peers(&c, ServerId(1), &p)).is_empty());
        // One other down: stopping server 1 would stop the ensemble.
        let p = [
            peer(1, apache, "follower"),
            peer(2, ours, "leader"),
            peer(3, "", ""),
        ];
        let f = check_peers(&c, ServerId(1), &p);
        assert!(blockers(&f).iter().any(|b| b.contains("quorum")), "{f:?}");
        // An Apache ZooKeeper 3.4 peer.
        let p = [
            peer(1, "", ""),
            peer(
                2,
                "3.4.14-4c25d480e66aadd371de8bd2fd8da255ac140bcf, built on 03/06/2019",
                "leader",
            ),
            peer(3, apache, "follower"),
        ];
        let f = check_peers(&c, ServerId(1), &p);
        assert!(blockers(&f).iter().any(|b| b.contains("3.4")), "{f:?}");
    }
}
