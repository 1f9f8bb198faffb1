//! Transactions as bytes ([`encode_txn`] / [`decode_txn`]): what a server writes to its log and
//! puts in PROPOSAL and INFORM packets, built from the jute primitives of [`crate::jute`]. The
//! packets themselves are [`crate::wire`]'s.
//!
//! A log entry is ZooKeeper's `TxnHeader` followed by the txn record its type calls for, as
//! `zookeeper.jute` defines them, and then — when the server that ordered it has
//! `digest.enabled` — a `TxnDigest { version: int, treeDigest: long }` (`Util.marshallTxnEntry`):
//!
//! ```text
//!   TxnHeader { clientId: long, cxid: int, zxid: long, time: long, type: int }
//!   type 1   CreateTxn          { path, data, acl, ephemeral: boolean, parentCVersion: int }
//!   type 15  CreateTxn          (the same, from a create2 request)
//!   type 19  CreateContainerTxn { path, data, acl, parentCVersion: int }
//!   type 21  CreateTTLTxn       { path, data, acl, parentCVersion: int, ttl: long }
//!   type 2   DeleteTxn          { path }          (type 20, deleteContainer, has the same record)
//!   type 5   SetDataTxn         { path, data, version: int }
//!   type 7   SetACLTxn          { path, acl, version: int }
//!   type 13  CheckVersionTxn    { path, version: int }
//!   type 14  MultiTxn           { txns: vector<Txn { type: int, data: buffer }> }
//!   type -10 CreateSessionTxn   { timeOut: int }
//!   type -11 CloseSessionTxn    { paths2Delete: vector<ustring> }
//!   type -1  ErrorTxn           { err: int }
//! ```
//!
//! `data` is a jute buffer whose length -1 means null, so `None` and `Some(vec![])` stay
//! apart. A multi inside a multi is refused when read: ZooKeeper never nests them, and refusing
//! keeps the decoder's recursion bounded whatever the bytes.
//!
//! Every decoder here reads untrusted bytes: none of them panics, and a message must be read to
//! its last byte (anything left over is an error, as a sign of a framing or version mismatch).

use crate::digest::TxnDigest;
use crate::error::ErrorCode;
use crate::jute::{JuteError, JuteResult, Reader, Writer};
use crate::txn::{op, Txn, TxnEntry, TxnHeader};
use crate::types::SessionId;

// ---------------------------------------------------------------------------------------------
// Transactions

/// Writes a log entry: its `TxnHeader`, the txn record, and its digest if it has one.
pub fn encode_txn(entry: &TxnEntry, w: &mut Writer) {
    let h = &entry.hdr;
    w.i64(h.session.0)
        .i32(h.cxid)
        .zxid(h.zxid)
        .i64(h.time)
        .i32(entry.txn.op_code());
    write_txn_body(&entry.txn, w);
    if let Some(d) = entry.digest {
        w.i32(d.version).i64(d.tree_digest);
    }
}

/// The bytes of one log entry.
pub fn txn_bytes(entry: &TxnEntry) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    encode_txn(entry, &mut w);
    w.into_inner()
}

fn write_txn_body(txn: &Txn, w: &mut Writer) {
    match txn {
        Txn::Create {
            path,
            data,
            acl,
            ephemeral,
            parent_cversion,
            ..
        } => {
            w.string(path)
                .opt_buffer(data.as_deref())
                .acls(acl)
                .bool(*ephemeral)
                .i32(*parent_cversion);
        }
        Txn::CreateContainer {
            path,
            data,
            acl,
            parent_cversion,
        } => {
            w.string(path)
                .opt_buffer(data.as_deref())
                .acls(acl)
                .i32(*parent_cversion);
        }
        Txn::CreateTtl {
            path,
            data,
            acl,
            parent_cversion,
            ttl,
        } => {
            w.string(path)
                .opt_buffer(data.as_deref())
                .acls(acl)
                .i32(*parent_cversion)
                .i64(*ttl);
        }
        Txn::Delete { path, .. } => {
            w.string(path);
        }
        Txn::SetData {
            path,
            data,
            version,
        } => {
            w.string(path).opt_buffer(data.as_deref()).i32(*version);
        }
        Txn::SetAcl { path, acl, version } => {
            w.string(path).acls(acl).i32(*version);
        }
        Txn::Check { path, version } => {
            w.string(path).i32(*version);
        }
        Txn::Multi(txns) => {
            w.i32(txns.len() as i32);
            for t in txns {
                // `Txn { type, data }`: the sub-record goes in a buffer, its length patched in.
                w.i32(t.op_code());
                let at = w.len();
                w.i32(0);
                write_txn_body(t, w);
                let len = w.len() - at - 4;
                w.patch_i32(at, len as i32);
            }
        }
        Txn::CreateSession { timeout } => {
            w.i32(*timeout);
        }
        Txn::CloseSession { paths_to_delete } => {
            w.strings(paths_to_delete);
        }
        Txn::Error { err } => {
            w.i32(err.code());
        }
    }
}

/// Reads a log entry written by [`encode_txn`] (or by ZooKeeper): the digest is read when the
/// 12 bytes of one follow the txn record.
pub fn decode_txn(r: &mut Reader) -> JuteResult<TxnEntry> {
    let hdr = TxnHeader {
        session: SessionId(r.i64("TxnHeader.clientId")?),
        cxid: r.i32("TxnHeader.cxid")?,
        zxid: r.zxid("TxnHeader.zxid")?,
        time: r.i64("TxnHeader.time")?,
    };
    let kind = r.i32("TxnHeader.type")?;
    let txn = read_txn_body(r, kind, true)?;
    let digest = if r.remaining() >= 12 {
        Some(TxnDigest {
            version: r.i32("TxnDigest.version")?,
            tree_digest: r.i64("TxnDigest.treeDigest")?,
        })
    } else {
        None
    };
    Ok(TxnEntry { hdr, txn, digest })
}

fn read_txn_body(r: &mut Reader, kind: i32, top: bool) -> JuteResult<Txn> {
    Ok(match kind {
        op::CREATE | op::CREATE2 => Txn::Create {
            path: r.string("CreateTxn.path")?,
            data: r.opt_buffer("CreateTxn.data")?,
            acl: r.acls()?,
            ephemeral: r.bool("CreateTxn.ephemeral")?,
            parent_cversion: r.i32("CreateTxn.parentCVersion")?,
            create2: kind == op::CREATE2,
        },
        op::CREATE_CONTAINER => Txn::CreateContainer {
            path: r.string("CreateContainerTxn.path")?,
            data: r.opt_buffer("CreateContainerTxn.data")?,
            acl: r.acls()?,
            parent_cversion: r.i32("CreateContainerTxn.parentCVersion")?,
        },
        op::CREATE_TTL => Txn::CreateTtl {
            path: r.string("CreateTTLTxn.path")?,
            data: r.opt_buffer("CreateTTLTxn.data")?,
            acl: r.acls()?,
            parent_cversion: r.i32("CreateTTLTxn.parentCVersion")?,
            ttl: r.i64("CreateTTLTxn.ttl")?,
        },
        op::DELETE | op::DELETE_CONTAINER => Txn::Delete {
            path: r.string("DeleteTxn.path")?,
            container: kind == op::DELETE_CONTAINER,
        },
        op::SET_DATA => Txn::SetData {
            path: r.string("SetDataTxn.path")?,
            data: r.opt_buffer("SetDataTxn.data")?,
            version: r.i32("SetDataTxn.version")?,
        },
        op::SET_ACL => Txn::SetAcl {
            path: r.string("SetACLTxn.path")?,
            acl: r.acls()?,
            version: r.i32("SetACLTxn.version")?,
        },
        op::CHECK => Txn::Check {
            path: r.string("CheckVersionTxn.path")?,
            version: r.i32("CheckVersionTxn.version")?,
        },
        op::MULTI if top => {
            let n = r.count("MultiTxn.txns", 8)?;
            let mut txns = Vec::with_capacity(n);
            for i in 0..n {
                let sub_kind = r.i32("Txn.type")?;
                let bytes = r.buffer_ref("Txn.data")?;
                let mut sub = Reader::new(bytes, r.limit);
                txns.push(read_txn_body(&mut sub, sub_kind, false)?);
                // ZooKeeper reads only an error's code: an error sub-txn may carry more (its
                // leader can log the record of the op it replaced).
                if !sub.is_empty() && sub_kind != op::ERROR {
                    return Err(JuteError::Invalid(format!(
                        "MultiTxn.txns[{i}] ({}) has {} bytes left over",
                        crate::request::op_name(sub_kind),
                        sub.remaining()
                    )));
                }
            }
            Txn::Multi(txns)
        }
        op::MULTI => {
            return Err(JuteError::Invalid(
                "a multi inside a multi is not a transaction".into(),
            ))
        }
        op::CREATE_SESSION => Txn::CreateSession {
            timeout: r.i32("CreateSessionTxn.timeOut")?,
        },
        op::CLOSE_SESSION => Txn::CloseSession {
            paths_to_delete: r.strings("CloseSessionTxn.paths2Delete")?,
        },
        op::ERROR => Txn::Error {
            err: ErrorCode::from_code(r.i32("ErrorTxn.err")?),
        },
        other => {
            return Err(JuteError::Invalid(format!(
                "TxnHeader.type {other} is not a transaction type"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acl::{Acl, Id};
    use crate::types::Zxid;
    use proptest::collection::vec;
    use proptest::prelude::*;

    const LIMIT: usize = 1 << 20;

    fn entry(session: i64, cxid: i32, zxid: Zxid, time: i64, txn: Txn) -> TxnEntry {
        TxnEntry::new(
            TxnHeader {
                session: SessionId(session),
                cxid,
                zxid,
                time,
            },
            txn,
        )
    }

    fn round_trip_txn(e: &TxnEntry) -> TxnEntry {
        let bytes = txn_bytes(e);
        let mut r = Reader::new(&bytes, LIMIT);
        let back = decode_txn(&mut r).unwrap();
        assert!(r.is_empty(), "{} bytes left", r.remaining());
        back
    }

    fn all_txns() -> Vec<Txn> {
        let acl = vec![
            Acl::new(31, Id::anyone()),
            Acl::new(1, Id::new("digest", "bob:xyz")),
        ];
        let simple = vec![
            Txn::Create {
                path: "/a".into(),
                data: Some(b"hello".to_vec()),
                acl: acl.clone(),
                ephemeral: true,
                parent_cversion: 3,
                create2: false,
            },
            Txn::Create {
                path: "/null".into(),
                data: None,
                acl: vec![],
                ephemeral: false,
                parent_cversion: -1,
                create2: false,
            },
            Txn::CreateContainer {
                path: "/c".into(),
                data: Some(vec![]),
                acl: acl.clone(),
                parent_cversion: 0,
            },
            Txn::CreateTtl {
                path: "/t".into(),
                data: None,
                acl: acl.clone(),
                parent_cversion: 9,
                ttl: 5000,
            },
            Txn::Delete {
                path: "/a".into(),
                container: false,
            },
            Txn::Delete {
                path: "/c".into(),
                container: true,
            },
            Txn::SetData {
                path: "/a".into(),
                data: None,
                version: 4,
            },
            Txn::SetData {
                path: "/a".into(),
                data: Some(vec![]),
                version: -1,
            },
            Txn::SetAcl {
                path: "/a".into(),
                acl,
                version: 2,
            },
            Txn::Check {
                path: "/a".into(),
                version: 7,
            },
            Txn::CreateSession { timeout: 30000 },
            Txn::CloseSession {
                paths_to_delete: vec!["/e1".into(), "/e2".into()],
            },
            Txn::Error {
                err: ErrorCode::NodeExists,
            },
            Txn::Error {
                err: ErrorCode::Unknown(-999),
            },
        ];
        let mut all = simple.clone();
        all.push(Txn::Multi(simple));
        all.push(Txn::Multi(vec![]));
        all
    }

    #[test]
    fn every_txn_round_trips() {
        for (i, txn) in all_txns().into_iter().enumerate() {
            let e = entry(
                0x1234,
                i as i32,
                Zxid::new(2, i as u32 + 1),
                1_700_000_000_000,
                txn,
            );
            assert_eq!(round_trip_txn(&e), e);
        }
    }

    #[test]
    fn txn_header_and_type_are_zookeepers() {
        let e = entry(
            5,
            6,
            Zxid(7),
            8,
            Txn::Delete {
                path: "/x".into(),
                container: true,
            },
        );
        let b = txn_bytes(&e);
        assert_eq!(&b[..8], &5i64.to_be_bytes());
        assert_eq!(&b[8..12], &6i32.to_be_bytes());
        assert_eq!(&b[12..20], &7i64.to_be_bytes());
        assert_eq!(&b[20..28], &8i64.to_be_bytes());
        assert_eq!(&b[28..32], &op::DELETE_CONTAINER.to_be_bytes());
        // Null data is a length of -1, empty data a length of 0.
        let null = txn_bytes(&entry(
            0,
            0,
            Zxid(1),
            0,
            Txn::SetData {
                path: "/".into(),
                data: None,
                version: 0,
            },
        ));
        assert_eq!(&null[32 + 5..32 + 9], &(-1i32).to_be_bytes());
    }

    #[test]
    fn nested_multi_and_unknown_types_are_refused() {
        let nested = entry(0, 0, Zxid(1), 0, Txn::Multi(vec![Txn::Multi(vec![])]));
        let b = txn_bytes(&nested);
        let err = decode_txn(&mut Reader::new(&b, LIMIT)).unwrap_err();
        assert!(err.to_string().contains("multi inside a multi"), "{err}");
        let mut b = txn_bytes(&entry(0, 0, Zxid(1), 0, Txn::CreateSession { timeout: 1 }));
        b[28..32].copy_from_slice(&999i32.to_be_bytes());
        let err = decode_txn(&mut Reader::new(&b, LIMIT)).unwrap_err();
        assert!(err.to_string().contains("999"), "{err}");
    }

    fn path() -> impl Strategy<Value = String> {
        "(/[a-z0-9]{1,6}){1,3}"
    }

    fn data() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(vec(any::<u8>(), 0..16))
    }

    fn acls() -> impl Strategy<Value = Vec<Acl>> {
        vec(
            (any::<i32>(), "[a-z]{0,6}", "[a-z:0-9]{0,10}")
                .prop_map(|(p, s, i)| Acl::new(p, Id::new(s, i))),
            0..3,
        )
    }

    fn simple_txn() -> impl Strategy<Value = Txn> {
        prop_oneof![
            (
                path(),
                data(),
                acls(),
                any::<bool>(),
                any::<i32>(),
                any::<bool>()
            )
                .prop_map(|(path, data, acl, ephemeral, parent_cversion, create2)| {
                    Txn::Create {
                        path,
                        data,
                        acl,
                        ephemeral,
                        parent_cversion,
                        create2,
                    }
                }),
            (path(), data(), acls(), any::<i32>()).prop_map(
                |(path, data, acl, parent_cversion)| Txn::CreateContainer {
                    path,
                    data,
                    acl,
                    parent_cversion
                }
            ),
            (path(), data(), acls(), any::<i32>(), any::<i64>()).prop_map(
                |(path, data, acl, parent_cversion, ttl)| Txn::CreateTtl {
                    path,
                    data,
                    acl,
                    parent_cversion,
                    ttl
                }
            ),
            (path(), any::<bool>()).prop_map(|(path, container)| Txn::Delete { path, container }),
            (path(), data(), any::<i32>()).prop_map(|(path, data, version)| Txn::SetData {
                path,
                data,
                version
            }),
            (path(), acls(), any::<i32>()).prop_map(|(path, acl, version)| Txn::SetAcl {
                path,
                acl,
                version
            }),
            (path(), any::<i32>()).prop_map(|(path, version)| Txn::Check { path, version }),
            any::<i32>().prop_map(|timeout| Txn::CreateSession { timeout }),
            vec(path(), 0..4).prop_map(|paths_to_delete| Txn::CloseSession { paths_to_delete }),
            // Through from_code, so that a known code is never an `Unknown`.
            any::<i32>().prop_map(|c| Txn::Error {
                err: ErrorCode::from_code(c)
            }),
        ]
    }

    /// Any transaction: a simple one or a multi of simple ones (ZooKeeper does not nest multis).
    fn arb_txn() -> impl Strategy<Value = Txn> {
        prop_oneof![
            4 => simple_txn(),
            1 => vec(simple_txn(), 0..5).prop_map(Txn::Multi),
        ]
    }

    fn arb_entry() -> impl Strategy<Value = TxnEntry> {
        (
            any::<i64>(),
            any::<i32>(),
            any::<u64>(),
            any::<i64>(),
            arb_txn(),
        )
            .prop_map(|(s, cxid, z, time, txn)| entry(s, cxid, Zxid(z), time, txn))
    }

    proptest! {
        #[test]
        fn arbitrary_entries_round_trip(e in arb_entry()) {
            prop_assert_eq!(round_trip_txn(&e), e);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..256)) {
            let _ = decode_txn(&mut Reader::new(&bytes, LIMIT));
        }

        #[test]
        fn damaged_encodings_never_panic(e in arb_entry(), at in any::<prop::sample::Index>(), x in 1u8..) {
            let mut b = txn_bytes(&e);
            let i = at.index(b.len());
            b[i] ^= x;
            let _ = decode_txn(&mut Reader::new(&b, LIMIT));
        }

        #[test]
        fn digests_round_trip(e in arb_entry(), d in any::<i64>()) {
            let mut e = e;
            e.digest = Some(TxnDigest { version: 2, tree_digest: d });
            prop_assert_eq!(round_trip_txn(&e), e);
        }
    }
}
