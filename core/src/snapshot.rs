//! Snapshots: the whole replicated state (tree and session table) as bytes, and back.
//!
//! The encoding is canonical: nodes in depth-first order with sorted children, ACL lists
//! numbered in order of first use, sessions sorted. Two trees that hold the same state give the
//! same bytes, whatever happened to them before, so snapshot equality is state equality (the
//! simulator checks replicas with it). A CRC-32 of everything before it ends the snapshot, so a
//! torn or corrupt file is detected, never half-loaded.
//!
//! Layout (jute primitives): magic `ZKSN`, version, last processed zxid, the extended-types flag,
//! sessions (count, then id and timeout each), ACL lists (count, then each list), nodes (count,
//! then path, data, ACL index and `StatPersisted` each), CRC-32.

use crate::acl::Acl;
use crate::jute::{JuteError, Reader, Writer};
use crate::tree::DataTree;
use crate::types::{SessionId, Zxid};
use std::collections::BTreeMap;

const MAGIC: &[u8; 4] = b"ZKSN";
const VERSION: i32 = 1;
/// The largest single item (a node's data, a path) a snapshot may hold.
const ITEM_LIMIT: usize = 256 << 20;

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("not a snapshot (bad magic)")]
    BadMagic,
    #[error("snapshot version {0} is not supported (this server writes version {VERSION})")]
    BadVersion(i32),
    #[error("snapshot checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum { stored: u32, computed: u32 },
    #[error("snapshot is malformed: {0}")]
    Malformed(#[from] JuteError),
    #[error("snapshot is inconsistent: {0}")]
    Inconsistent(String),
}

/// Serializes the tree into a new byte vector.
pub fn serialize(tree: &DataTree) -> Vec<u8> {
    let paths = tree.paths_preorder();
    let mut w = Writer::with_capacity(64 + paths.len() * 96);
    w.buf.extend_from_slice(MAGIC);
    w.i32(VERSION)
        .zxid(tree.last_processed_zxid())
        .bool(tree.extended_types());
    w.i32(tree.sessions().len() as i32);
    for (id, timeout) in tree.sessions() {
        w.i64(id.0).i32(*timeout);
    }
    // Number ACL lists in order of first use.
    let mut acl_index: BTreeMap<u32, i32> = BTreeMap::new();
    let mut acl_lists: Vec<&[Acl]> = Vec::new();
    for p in &paths {
        if let Some(n) = tree.get(p) {
            acl_index.entry(n.acl).or_insert_with(|| {
                acl_lists.push(tree.acl_of(n));
                (acl_lists.len() - 1) as i32
            });
        }
    }
    w.i32(acl_lists.len() as i32);
    for l in &acl_lists {
        w.acls(l);
    }
    w.i64(paths.len() as i64);
    for p in &paths {
        if let Some(n) = tree.get(p) {
            w.string(p)
                .opt_buffer(n.data.as_deref())
                .i32(acl_index[&n.acl])
                .stat_persisted(&n.stat);
        }
    }
    let crc = crc32fast::hash(&w.buf);
    w.i32(crc as i32);
    w.into_inner()
}

/// The zxid a snapshot was taken at, read from its header alone.
pub fn snapshot_zxid(bytes: &[u8]) -> Result<Zxid, SnapshotError> {
    let mut r = Reader::new(bytes, ITEM_LIMIT);
    check_header(&mut r)?;
    Ok(r.zxid("snapshot zxid")?)
}

fn check_header(r: &mut Reader) -> Result<(), SnapshotError> {
    let magic = [
        r.u8("magic")?,
        r.u8("magic")?,
        r.u8("magic")?,
        r.u8("magic")?,
    ];
    if &magic != MAGIC {
        return Err(SnapshotError::BadMagic);
    }
    let v = r.i32("version")?;
    if v != VERSION {
        return Err(SnapshotError::BadVersion(v));
    }
    Ok(())
}

/// Restores a tree from a snapshot, checking its checksum first.
pub fn deserialize(bytes: &[u8]) -> Result<DataTree, SnapshotError> {
    if bytes.len() < 12 {
        return Err(SnapshotError::BadMagic);
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let stored = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
    let mut r = Reader::new(body, ITEM_LIMIT);
    check_header(&mut r)?;
    let computed = crc32fast::hash(body);
    if stored != computed {
        return Err(SnapshotError::Checksum { stored, computed });
    }
    let zxid = r.zxid("snapshot zxid")?;
    let extended = r.bool("extended types")?;
    let n = r.count("sessions", 12)?;
    let mut sessions = BTreeMap::new();
    for _ in 0..n {
        let id = SessionId(r.i64("session id")?);
        sessions.insert(id, r.i32("session timeout")?);
    }
    let n = r.count("ACL lists", 4)?;
    let mut lists = Vec::with_capacity(n);
    for _ in 0..n {
        lists.push(r.acls()?);
    }
    let count = r.i64("node count")?;
    if count < 1 || count as u128 * 48 > r.remaining() as u128 {
        return Err(SnapshotError::Inconsistent(format!(
            "node count {count} does not fit the snapshot"
        )));
    }
    let mut nodes = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let path = r.string("node path")?;
        let data = r.opt_buffer("node data")?;
        let ai = r.i32("node acl")?;
        let acl = lists.get(ai as usize).cloned().ok_or_else(|| {
            SnapshotError::Inconsistent(format!(
                "node {path} names ACL list {ai}, which does not exist"
            ))
        })?;
        let stat = r.stat_persisted()?;
        nodes.push((path, data, acl, stat));
    }
    if !r.is_empty() {
        return Err(SnapshotError::Inconsistent(format!(
            "{} bytes left after the last node",
            r.remaining()
        )));
    }
    DataTree::from_parts(extended, zxid, sessions, nodes).map_err(SnapshotError::Inconsistent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{Acl, Id};
    use crate::txn::{Txn, TxnHeader};

    fn sample() -> DataTree {
        let mut t = DataTree::new(true);
        let mut ev = Vec::new();
        let h = |z, s| TxnHeader {
            session: SessionId(s),
            cxid: 0,
            zxid: Zxid(z),
            time: 77,
        };
        t.apply(&h(1, 5), &Txn::CreateSession { timeout: 6000 }, &mut ev);
        let digest = vec![Acl::new(31, Id::new("digest", "bob:xyz"))];
        let txns = [
            Txn::Create {
                path: "/a".into(),
                data: Some(b"hello".to_vec()),
                acl: Acl::open_unsafe(),
                ephemeral: false,
                parent_cversion: -1,
            },
            Txn::Create {
                path: "/a/b".into(),
                data: Some(vec![]),
                acl: digest.clone(),
                ephemeral: false,
                parent_cversion: -1,
            },
            Txn::Create {
                path: "/e".into(),
                data: Some(vec![1, 2]),
                acl: digest,
                ephemeral: true,
                parent_cversion: -1,
            },
            Txn::CreateContainer {
                path: "/c".into(),
                data: Some(vec![]),
                acl: Acl::open_unsafe(),
                parent_cversion: -1,
            },
            Txn::CreateTtl {
                path: "/t".into(),
                data: Some(vec![]),
                acl: Acl::open_unsafe(),
                parent_cversion: -1,
                ttl: 500,
            },
            Txn::SetData {
                path: "/a".into(),
                data: Some(b"bye".to_vec()),
                version: 1,
            },
        ];
        for (i, tx) in txns.iter().enumerate() {
            t.apply(&h(2 + i as u64, 5), tx, &mut ev);
        }
        t
    }

    #[test]
    fn round_trip_is_identical() {
        let t = sample();
        let bytes = serialize(&t);
        let r = deserialize(&bytes).unwrap();
        assert_eq!(serialize(&r), bytes);
        assert_eq!(r.get("/a").unwrap().bytes(), b"bye");
        assert_eq!(r.ephemerals(SessionId(5)), vec!["/e"]);
        assert_eq!(r.containers().len(), 1);
        assert_eq!(r.ttls().len(), 1);
        assert_eq!(r.sessions().get(&SessionId(5)), Some(&6000));
        assert_eq!(r.last_processed_zxid(), Zxid(7));
        assert_eq!(r.stat("/a"), t.stat("/a"));
        assert_eq!(snapshot_zxid(&bytes).unwrap(), Zxid(7));
    }

    #[test]
    fn corruption_is_detected() {
        let bytes = serialize(&sample());
        for i in [0, 5, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(deserialize(&b).is_err(), "flipped byte {i}");
        }
        assert!(
            deserialize(&bytes[..bytes.len() - 10]).is_err(),
            "torn tail"
        );
        assert!(deserialize(b"").is_err());
    }
}
