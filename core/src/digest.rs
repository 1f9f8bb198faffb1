//! The data tree's digest, as ZooKeeper 3.6+ computes it (`DigestCalculator`, `NodeHashMapImpl`,
//! `AdHash`): each node's digest is a CRC-32 of its path, its data and its stat, and the tree's
//! digest is the sum of its nodes' digests, so that it moves by (new − old) when one node
//! changes.
//!
//! ZooKeeper puts the tree's digest after each transaction into the transaction itself (a
//! `TxnDigest` after the txn record, in the log and in PROPOSALs) and into snapshots (a
//! `ZxidDigest` after the seal), and a server that applies a transaction compares its own tree's
//! digest with the one it carries. A mismatch means the replicas have diverged; ZooKeeper counts
//! it (`digest_mismatches_count`) and logs it, and so does this server. Across a mixed ensemble
//! the digest is what proves, transaction by transaction, that both kinds of server hold the same
//! tree.
//!
//! Details that matter for equality with ZooKeeper:
//! * the root's path is `""` (ZooKeeper keys the root both as `""` and `"/"`, and hashes `""`);
//! * nodes under `/zookeeper/` (quota and config) count as 0, `/zookeeper` itself counts;
//! * null data and empty data hash alike;
//! * the stat is 60 bytes: czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion,
//!   ephemeralOwner, big-endian (not `StatPersisted`'s serialization order).

use crate::stat::StatPersisted;

/// `DigestCalculator.DIGEST_VERSION`: the version every digest this server computes carries.
pub const DIGEST_VERSION: i32 = 2;

/// The digest of one node (`DigestCalculator.calculateDigest`).
pub fn node_digest(path: &str, data: &[u8], stat: &StatPersisted) -> u64 {
    finish(head(path, data), path, stat)
}

/// The first part of a node's digest: the CRC-32 of its path and data, which a change of stat
/// alone leaves as it is (the prepare step keeps it with each pending change).
pub fn head(path: &str, data: &[u8]) -> u32 {
    let path = if path == "/" { "" } else { path };
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    crc.update(data);
    crc.finalize()
}

/// A node's digest from its [`head`] and its stat.
pub fn finish(head: u32, path: &str, stat: &StatPersisted) -> u64 {
    if path.starts_with("/zookeeper/") {
        return 0;
    }
    let mut crc = crc32fast::Hasher::new_with_initial(head);
    crc.update(&stat_bytes(stat));
    crc.finalize() as u64
}

/// The 60 bytes of stat the digest covers, in `DigestCalculator`'s order.
fn stat_bytes(s: &StatPersisted) -> [u8; 60] {
    let mut b = [0u8; 60];
    let mut at = 0;
    let mut put = |x: &[u8]| {
        b[at..at + x.len()].copy_from_slice(x);
        at += x.len();
    };
    put(&s.czxid.0.to_be_bytes());
    put(&s.mzxid.0.to_be_bytes());
    put(&s.pzxid.0.to_be_bytes());
    put(&s.ctime.to_be_bytes());
    put(&s.mtime.to_be_bytes());
    put(&s.version.to_be_bytes());
    put(&s.cversion.to_be_bytes());
    put(&s.aversion.to_be_bytes());
    put(&s.ephemeral_owner.to_be_bytes());
    b
}

/// A `TxnDigest`: the tree's digest after a transaction, and the version it was computed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TxnDigest {
    pub version: i32,
    pub tree_digest: i64,
}

impl TxnDigest {
    pub fn new(tree_digest: u64) -> TxnDigest {
        TxnDigest {
            version: DIGEST_VERSION,
            tree_digest: tree_digest as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Zxid;

    #[test]
    fn excluded_and_aliased_paths() {
        let s = StatPersisted::default();
        assert_eq!(node_digest("/zookeeper/quota", b"", &s), 0);
        assert_eq!(node_digest("/zookeeper/config", b"x", &s), 0);
        assert_ne!(node_digest("/zookeeper", b"", &s), 0);
        assert_eq!(node_digest("/", b"", &s), node_digest("", b"", &s));
        // CRC-32 of 60 zero bytes: the root of a fresh tree.
        assert_eq!(node_digest("", b"", &s), crc32fast::hash(&[0u8; 60]) as u64);
    }

    #[test]
    fn head_then_finish_is_the_whole_crc() {
        let s = StatPersisted {
            version: 3,
            ..StatPersisted::default()
        };
        let mut all = b"/a/b".to_vec();
        all.extend_from_slice(b"data");
        all.extend_from_slice(&stat_bytes(&s));
        assert_eq!(
            node_digest("/a/b", b"data", &s),
            crc32fast::hash(&all) as u64
        );
    }

    #[test]
    fn stat_fields_are_in_digest_order() {
        let s = StatPersisted {
            czxid: Zxid(1),
            mzxid: Zxid(2),
            pzxid: Zxid(3),
            ctime: 4,
            mtime: 5,
            version: 6,
            cversion: 7,
            aversion: 8,
            ephemeral_owner: 9,
        };
        let b = stat_bytes(&s);
        assert_eq!(b[7], 1);
        assert_eq!(b[15], 2);
        assert_eq!(b[23], 3);
        assert_eq!(b[31], 4);
        assert_eq!(b[39], 5);
        assert_eq!(b[43], 6);
        assert_eq!(b[47], 7);
        assert_eq!(b[51], 8);
        assert_eq!(b[59], 9);
    }
}
