//! The core's protocol and file code against bytes Apache ZooKeeper 3.8.0 itself produced:
//! every election and quorum connection of a 3 + 1 observer ensemble that went through
//! writes of every kind, session expiry, revalidation, DIFF, SNAP, TRUNC and a leader killed
//! under load, and the data directories the servers left. Recorded by `scripts/capture-apache`
//! (see `core/tests/data/apache-3.8/README.md` for what each file is and how it was made).
//!
//! Each capture is read in small pieces, as a connection would deliver it, and every packet is
//! written back: the bytes must come out exactly as ZooKeeper wrote them. Every log record and
//! snapshot file must read, every log record must write back identically, and replaying each
//! server's log over its snapshots must give, transaction by transaction, the digests ZooKeeper
//! recorded in them.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use zk_core::peer::election::NOBODY;
use zk_core::peer::messages::QuorumPacket;
use zk_core::snapshot::{Form, LoadOptions, SnapshotReader};
use zk_core::tree::DataTree;
use zk_core::txn::TxnEntry;
use zk_core::wire::{self, QuorumDecoder};
use zk_core::{txnlog, ServerId, Zxid};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/apache-3.8")
}

fn captures(prefix: &str) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let dir = data().join("captures");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix) && n.ends_with(".c2s.bin"))
        .map(|n| n.trim_end_matches(".c2s.bin").to_string())
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no {prefix} captures in {}",
        dir.display()
    );
    names
        .into_iter()
        .map(|n| {
            let c2s = fs::read(dir.join(format!("{n}.c2s.bin"))).unwrap();
            let s2c = fs::read(dir.join(format!("{n}.s2c.bin"))).unwrap();
            (n, c2s, s2c)
        })
        .collect()
}

/// Decodes a stream fed in pieces of 1, 2, 3, … 97 bytes (cycling), re-encoding each packet
/// as it comes, and checks the re-encoding is the stream itself. Returns the packets.
fn round_trip(name: &str, from: wire::From, bytes: &[u8]) -> Vec<QuorumPacket> {
    let mut d = QuorumDecoder::new(from, wire::DEFAULT_JUTE_MAXBUFFER);
    let mut packets = Vec::new();
    let mut at = 0;
    let mut step = 1;
    while at < bytes.len() {
        let n = step.min(bytes.len() - at);
        d.feed(&bytes[at..at + n], &mut packets)
            .unwrap_or_else(|e| panic!("{name}: at byte {at}: {e}"));
        at += n;
        step = step % 97 + 1;
    }
    assert!(d.is_idle(), "{name}: the stream ends inside a packet");
    let mut again = Vec::new();
    for p in &packets {
        wire::encode_packet(p, &mut again);
    }
    if again != bytes {
        let first = again
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(again.len().min(bytes.len()));
        panic!(
            "{name}: written back, the bytes differ from byte {first} on ({} written, {} captured)",
            again.len(),
            bytes.len()
        );
    }
    packets
}

#[test]
fn every_quorum_packet_reads_and_writes_back_byte_for_byte() {
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut snaps = 0;
    for (name, c2s, s2c) in captures("quorum-") {
        let learner = round_trip(&format!("{name} learner"), wire::From::Learner, &c2s);
        let leader = round_trip(&format!("{name} leader"), wire::From::Leader, &s2c);
        assert!(
            matches!(
                learner.first(),
                Some(QuorumPacket::FollowerInfo(_) | QuorumPacket::ObserverInfo(_))
            ),
            "{name}: a learner starts with FOLLOWERINFO or OBSERVERINFO"
        );
        for p in learner.iter().chain(&leader) {
            *kinds.entry(p.kind()).or_default() += 1;
            if let QuorumPacket::SnapPiece { last: true, .. } = p {
                snaps += 1;
            }
        }
    }
    // Every packet type of a 3.8 ensemble without reconfiguration went by.
    for k in [
        "FOLLOWERINFO",
        "OBSERVERINFO",
        "LEADERINFO",
        "ACKEPOCH",
        "DIFF",
        "TRUNC",
        "SNAP",
        "PROPOSAL",
        "ACK",
        "COMMIT",
        "INFORM",
        "NEWLEADER",
        "UPTODATE",
        "PING",
        "REQUEST",
        "REVALIDATE",
        "SYNC",
    ] {
        assert!(kinds.contains_key(k), "no {k} in the captures: {kinds:?}");
    }
    assert!(snaps >= 1, "a snapshot streamed after SNAP");
}

#[test]
fn every_election_message_reads_and_writes_back() {
    let mut notifications = 0;
    let mut observers = 0;
    for (name, c2s, s2c) in captures("election-") {
        let (hello, used) = wire::decode_hello(&c2s)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: no whole initial message"));
        let addr = hello.addresses.join("|");
        assert_eq!(
            wire::encode_hello(hello.version, hello.sid, &addr),
            c2s[..used],
            "{name}: the initial message written back"
        );
        let from: u64 = name["election-".len()..]
            .split("to")
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let to: u64 = name
            .split("to")
            .nth(1)
            .unwrap()
            .split('-')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(hello.sid, ServerId(from), "{name}");
        for (sid, mut rest) in [(from, &c2s[used..]), (to, &s2c[..])] {
            while !rest.is_empty() {
                let len = i32::from_be_bytes(rest[..4].try_into().unwrap());
                let len = wire::election_message_len(len).unwrap();
                let body = &rest[4..4 + len];
                let r = wire::decode_notification(body, ServerId(sid))
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(r.version, 2, "{name}");
                let config = r.config.clone().unwrap();
                assert!(config.ends_with("version=0"), "{name}: {config}");
                assert_eq!(
                    wire::encode_notification(&r.notification, &config),
                    body,
                    "{name}: a notification written back"
                );
                observers += (r.notification.leader == NOBODY) as usize;
                notifications += 1;
                rest = &rest[4 + len..];
            }
        }
    }
    assert!(notifications > 20, "{notifications} notifications");
    assert!(observers > 0, "an observer's vote for nobody");
}

fn opts() -> LoadOptions {
    LoadOptions {
        extended_types: true,
        ..LoadOptions::default()
    }
}

/// A data directory's files: snapshots and logs by zxid.
struct DataDir {
    name: String,
    snapshots: BTreeMap<Zxid, PathBuf>,
    logs: BTreeMap<Zxid, PathBuf>,
}

fn datadirs() -> Vec<DataDir> {
    let mut out = Vec::new();
    for n in [
        "datadir-1",
        "datadir-2",
        "datadir-3",
        "datadir-4",
        "datadir-killed",
    ] {
        let dir = data().join(n).join("version-2");
        let mut d = DataDir {
            name: n.to_string(),
            snapshots: BTreeMap::new(),
            logs: BTreeMap::new(),
        };
        for e in fs::read_dir(&dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            let zxid = |p: &str| Zxid(u64::from_str_radix(&name[p.len()..], 16).unwrap());
            if name.starts_with("snapshot.") {
                d.snapshots.insert(zxid("snapshot."), e.path());
            } else if name.starts_with("log.") {
                d.logs.insert(zxid("log."), e.path());
            }
        }
        out.push(d);
    }
    out
}

fn read_snapshot(path: &Path, zxid: Zxid) -> DataTree {
    let bytes = fs::read(path).unwrap();
    let mut r = SnapshotReader::new(Form::File, zxid, opts());
    for piece in bytes.chunks(1000) {
        assert_eq!(
            r.feed(piece)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            piece.len(),
            "{}",
            path.display()
        );
    }
    r.finish()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_log_record_reads_and_writes_back_byte_for_byte() {
    let mut records = 0;
    let mut digests = 0;
    for d in datadirs() {
        for path in d.logs.values() {
            let bytes = fs::read(path).unwrap();
            let scan = txnlog::scan(&bytes).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            assert!(
                scan.damage.is_none(),
                "{}: {:?}",
                path.display(),
                scan.damage
            );
            let mut again = txnlog::header().to_vec();
            for (_, e) in &scan.records {
                txnlog::encode_record(e, &mut again).unwrap();
                digests += e.digest.is_some() as usize;
            }
            // The files were stripped of their zero padding.
            assert_eq!(again, bytes, "{}: written back", path.display());
            records += scan.records.len();
        }
    }
    assert!(records > 100, "{records} records");
    assert!(digests > 100, "{digests} records with a digest");
}

/// Every snapshot reads; replaying each server's log over each of its snapshots gives every
/// digest ZooKeeper recorded, in its transactions and in its later snapshots. (A server's log
/// has gaps where it took a SNAP: each stretch is replayed from the snapshot that begins it.)
#[test]
fn replaying_apaches_logs_gives_apaches_digests() {
    let mut finals: Vec<(String, DataTree)> = Vec::new();
    let mut checked = 0;
    for d in datadirs() {
        let mut log: Vec<TxnEntry> = Vec::new();
        for path in d.logs.values() {
            let scan = txnlog::scan(&fs::read(path).unwrap()).unwrap();
            log.extend(scan.records.into_iter().map(|(_, e)| e));
        }
        let labels: Vec<Zxid> = d.snapshots.keys().copied().collect();
        let mut last = None;
        for (i, z) in labels.iter().enumerate() {
            let path = &d.snapshots[z];
            let mut tree = read_snapshot(path, *z);
            assert_eq!(tree.last_processed_zxid(), *z);
            assert_eq!(tree.digest(), tree.compute_digest(), "{}", path.display());
            assert_eq!(tree.digest_mismatches(), 0, "{}", path.display());
            let next = labels.get(i + 1).copied().unwrap_or(Zxid(u64::MAX));
            let mut reached = *z;
            for e in log.iter().filter(|e| e.zxid() > *z && e.zxid() <= next) {
                tree.apply_entry(e, &mut Vec::new());
                assert_eq!(
                    tree.digest_mismatches(),
                    0,
                    "{}: over {}, after {} {:?}: {:?}",
                    d.name,
                    path.display(),
                    e.zxid(),
                    e.txn,
                    tree.first_digest_mismatch()
                );
                checked += (e.digest.is_some() && tree.is_consistent()) as usize;
                reached = e.zxid();
            }
            // The next snapshot, when the log leads to it, holds this very tree (but for
            // /zookeeper/config, which ZooKeeper rewrites at every start: the digest leaves
            // the /zookeeper/ subtree out).
            if reached == next && tree.is_consistent() {
                let s = read_snapshot(&d.snapshots[&next], next);
                if s.is_consistent() {
                    assert_eq!(s.digest(), tree.digest(), "{} at {next}", d.name);
                    assert_eq!(s.node_count(), tree.node_count(), "{} at {next}", d.name);
                }
            }
            last = Some(tree);
        }
        finals.push((d.name.clone(), last.unwrap()));
    }
    assert!(checked > 100, "{checked} digests checked");
    // The four servers stopped cleanly with the same state.
    let reference = &finals[0].1;
    for (name, t) in &finals[1..4] {
        assert_eq!(
            (t.digest(), t.node_count(), t.last_processed_zxid()),
            (
                reference.digest(),
                reference.node_count(),
                reference.last_processed_zxid()
            ),
            "{name} ends with another tree than datadir-1"
        );
        assert_eq!(t.sessions(), reference.sessions(), "{name}");
    }
}

/// What one of our learners did with an Apache leader's stream.
struct Replay {
    /// The packet types it sent, in order, and the zxids of the proposals it acknowledged.
    sent: Vec<&'static str>,
    acked: Vec<Zxid>,
    peer: zk_core::peer::Peer,
    /// The last zxid the leader committed in the stream.
    last_commit: Zxid,
    mode: Option<zk_core::peer::SyncMode>,
}

/// Server `me` of the captured ensemble, with an empty data directory, follows leader 3 and is
/// fed, packet by packet, everything Apache's leader sent on capture `name` (its disk keeps up
/// at once).
fn replay_leader_stream(name: &str, me: u64, observer: bool) -> Replay {
    use zk_core::peer::messages::{Notification, PeerMsg, ServerState};
    use zk_core::peer::{Output, Peer, PeerConfig, PeerEvent, Restored};
    let text = fs::read_to_string(data().join(format!("conf/zoo-{me}.cfg"))).unwrap();
    let (cfg, _) = zk_core::config::parse(&text, "zoo.cfg").unwrap();
    let pcfg = PeerConfig::from_config(&cfg, ServerId(me), 0);
    let restored = Restored {
        tree: DataTree::new(true),
        ..Restored::default()
    };
    let mut now = 0;
    let mut p = Peer::new(pcfg, restored, now);
    // Servers 3 (leading) and 2 (following 3) answer: we follow 3.
    let leader = ServerId(3);
    for (sid, state) in [(3, ServerState::Leading), (2, ServerState::Following)] {
        let n = Notification {
            leader,
            zxid: Zxid::ZERO,
            election_epoch: 1,
            peer_epoch: 1,
            state,
            sid: ServerId(sid),
        };
        p.message(ServerId(sid), PeerMsg::Election(n), now);
    }
    let want = if observer {
        ServerState::Observing
    } else {
        ServerState::Following
    };
    assert_eq!(p.state(), want, "{name}: server {me} follows 3");
    let (_, _, s2c) = captures("quorum-")
        .into_iter()
        .find(|(n, _, _)| n == name)
        .unwrap();
    let mut d = QuorumDecoder::new(wire::From::Leader, wire::DEFAULT_JUTE_MAXBUFFER);
    let mut packets = Vec::new();
    d.feed(&s2c, &mut packets).unwrap();
    let mut r = Replay {
        sent: Vec::new(),
        acked: Vec::new(),
        peer: p,
        last_commit: Zxid::ZERO,
        mode: None,
    };
    let pump = |r: &mut Replay, now: u64| loop {
        let outs = r.peer.drain_outputs();
        if outs.is_empty() {
            break;
        }
        for o in outs {
            match o {
                Output::Send {
                    to,
                    msg: PeerMsg::Quorum(q),
                } if to == leader => {
                    if let QuorumPacket::Ack { zxid } = &q {
                        if zxid.counter() != 0 {
                            r.acked.push(*zxid);
                        }
                    }
                    r.sent.push(q.kind());
                }
                Output::Persist { seq, .. } => r.peer.persisted(seq, now),
                _ => {}
            }
        }
        for (_, e) in r.peer.take_events() {
            if let PeerEvent::SyncedBy { mode, .. } = e {
                r.mode = Some(mode);
            }
        }
    };
    pump(&mut r, now);
    for q in packets {
        now += 1;
        match &q {
            QuorumPacket::Commit { zxid } => r.last_commit = *zxid,
            QuorumPacket::Inform(e) => r.last_commit = e.zxid(),
            _ => {}
        }
        r.peer.message(leader, PeerMsg::Quorum(q), now);
        pump(&mut r, now);
    }
    r
}

/// Our learner, driven by what Apache ZooKeeper's leader sent one of its own learners: it
/// answers as ZooKeeper's learner did (the same packets, an ACK for every proposal ZooKeeper's
/// acknowledged), serves, and every transaction leaves its tree with the digest ZooKeeper's
/// leader recorded.
#[test]
fn an_apache_leaders_stream_drives_our_learner() {
    use zk_core::peer::SyncMode;
    for (name, me, observer, mode) in [
        ("quorum-1to3-1", 1, false, SyncMode::Diff),
        ("quorum-4to3-1", 4, true, SyncMode::Diff),
        ("quorum-1to3-3", 1, false, SyncMode::Snap),
    ] {
        let r = replay_leader_stream(name, me, observer);
        assert_eq!(r.mode, Some(mode), "{name}");
        assert!(r.peer.is_serving(), "{name}: serving after UPTODATE");
        let t = &r.peer.server().tree;
        assert_eq!(
            t.digest_mismatches(),
            0,
            "{name}: {:?}",
            t.first_digest_mismatch()
        );
        assert_eq!(
            t.last_processed_zxid(),
            r.last_commit,
            "{name}: applied every commit"
        );
        // What ZooKeeper's learner sent on the same connection.
        let (_, c2s, _) = captures("quorum-")
            .into_iter()
            .find(|(n, _, _)| n == name)
            .unwrap();
        let theirs = round_trip(name, wire::From::Learner, &c2s);
        let kinds = |v: Vec<&'static str>| {
            v.into_iter()
                .filter(|k| *k != "PING" && *k != "REQUEST" && *k != "REVALIDATE")
                .take(2)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            kinds(r.sent.clone()),
            kinds(theirs.iter().map(|p| p.kind()).collect()),
            "{name}: the handshake"
        );
        if !observer && mode == SyncMode::Diff {
            let their_acks: Vec<Zxid> = theirs
                .iter()
                .filter_map(|p| match p {
                    QuorumPacket::Ack { zxid } if zxid.counter() != 0 => Some(*zxid),
                    _ => None,
                })
                .collect();
            assert_eq!(r.acked, their_acks, "{name}: the proposals acknowledged");
            assert!(their_acks.len() > 10, "{name}");
        }
    }
}
