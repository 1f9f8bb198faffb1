//! A standalone server driven end to end in memory: connect, read, write, watch, expire,
//! re-attach, snapshot and replay — every answer checked against what ZooKeeper 3.8 gives.

mod common;

use common::*;
use zk_core::acl::{generate_digest, perms, Acl, Id};
use zk_core::output::ClientOutput;
use zk_core::request::*;
use zk_core::server::ServerConfig;
use zk_core::session::session_password;
use zk_core::tree::DataTree;
use zk_core::txn::op;
use zk_core::{snapshot, ConnId, ErrorCode, SessionId, Zxid};

/// shared/SCENARIOS.md S2, the client session on zknode01, with the answers zkCli prints.
#[test]
fn s2_client_session() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    assert_eq!(children(&h.call(c, ls("/", false))), vec!["zookeeper"]);
    let r = h.call(c, create("/laogong", None, 0));
    assert_eq!(
        r.body,
        Response::Create {
            path: "/laogong".into()
        }
    );
    assert_eq!(
        data(&h.call(c, get("/laogong", false))),
        None,
        "zkCli prints null"
    );
    let r = h.call(c, create("/laogong", Some(b"laogong"), 0));
    assert_eq!(r.err, ErrorCode::NodeExists);
    assert_eq!(
        h.call(
            c,
            Request::Delete {
                path: "/laogong".into(),
                version: -1
            }
        )
        .err,
        ErrorCode::Ok
    );
    assert_eq!(
        h.call(c, create("/laogong", Some(b"laogong"), 0)).err,
        ErrorCode::Ok
    );
    assert_eq!(
        h.call(c, create("/laogong/laopo", Some(b"laopo"), 0)).err,
        ErrorCode::Ok
    );
    assert_eq!(children(&h.call(c, ls("/laogong", false))), vec!["laopo"]);
    assert_eq!(
        data(&h.call(c, get("/laogong/laopo", false))),
        Some(b"laopo".to_vec())
    );
}

#[test]
fn zxids_and_stats_as_the_reference_server() {
    // Matches the reference server's answers for the same steps (Apache ZooKeeper 3.8.0).
    let mut h = Harness::new();
    let (c, _) = h.connect(); // createSession takes 0x1
    assert_eq!(h.call(c, create("/p", None, 0)).zxid, Zxid(2));
    assert_eq!(
        h.call(c, create("/p/a", None, 2)).body,
        Response::Create {
            path: "/p/a0000000000".into()
        }
    );
    h.call(c, create("/p/b", None, 0));
    h.call(
        c,
        Request::Delete {
            path: "/p/b".into(),
            version: -1,
        },
    );
    let s = stat(&h.call(
        c,
        Request::Exists {
            path: "/p".into(),
            watch: false,
        },
    ));
    assert_eq!(
        (s.czxid, s.pzxid, s.cversion, s.num_children),
        (Zxid(2), Zxid(5), 3, 1)
    );
    assert_eq!(
        h.call(c, create("/p/c", None, 2)).body,
        Response::Create {
            path: "/p/c0000000002".into()
        }
    );
    h.call(c, create("/e", None, 1));
    assert_eq!(
        h.call(c, create("/e/x", None, 0)).err,
        ErrorCode::NoChildrenForEphemerals
    );
    let r = h.call(c, create("/laogong", None, 0));
    assert_eq!(r.zxid, Zxid(9), "failed writes take zxids too");
    assert_eq!(h.call(c, create("/laogong", None, 0)).zxid, Zxid(10));
    let root = stat(&h.call(
        c,
        Request::Exists {
            path: "/".into(),
            watch: false,
        },
    ));
    assert_eq!(
        (root.pzxid, root.cversion, root.num_children),
        (Zxid(9), 2, 4)
    );
    let cfg = stat(&h.call(
        c,
        Request::Exists {
            path: "/zookeeper/config".into(),
            watch: false,
        },
    ));
    assert_eq!(cfg.aversion, -1);
    assert_eq!(
        h.call(c, Request::GetAllChildrenNumber { path: "/".into() })
            .body,
        Response::AllChildrenNumber(8)
    );
    let r = h.call(
        c,
        Request::Delete {
            path: "/zookeeper/quota".into(),
            version: -1,
        },
    );
    assert_eq!(r.err, ErrorCode::BadArguments);
    let r = h.call(
        c,
        Request::SetData {
            path: "/zookeeper/config".into(),
            data: Some(b"x".to_vec()),
            version: -1,
        },
    );
    assert_eq!(r.err, ErrorCode::NoAuth);
    assert_eq!(
        h.call(c, create("/zookeeper/foo", None, 0)).err,
        ErrorCode::Ok
    );
    let who = h.call(c, Request::WhoAmI);
    assert_eq!(
        who.body,
        Response::WhoAmI(vec![ClientInfo {
            auth_scheme: "ip".into(),
            user: "127.0.0.1".into()
        }])
    );
}

/// S13: watches are one-time triggers, with the trigger rules of the docs.
#[test]
fn s13_watch_rules() {
    let mut h = Harness::new();
    let (a, _) = h.connect();
    let (b, _) = h.connect();
    // exists watch: fires on create.
    assert_eq!(
        h.call(
            a,
            Request::Exists {
                path: "/w".into(),
                watch: true
            }
        )
        .err,
        ErrorCode::NoNode
    );
    h.call(b, create("/w", Some(b"1"), 0));
    assert_eq!(h.events(a), vec![(EventType::NodeCreated, "/w".into())]);
    // a second change without re-registering gives nothing.
    h.call(
        b,
        Request::SetData {
            path: "/w".into(),
            data: Some(b"2".to_vec()),
            version: -1,
        },
    );
    assert!(h.events(a).is_empty());
    // getData watch: data change, then delete.
    h.call(a, get("/w", true));
    h.call(
        b,
        Request::SetData {
            path: "/w".into(),
            data: Some(b"3".to_vec()),
            version: -1,
        },
    );
    assert_eq!(h.events(a), vec![(EventType::NodeDataChanged, "/w".into())]);
    h.call(a, get("/w", true));
    // getChildren watch on the parent and on the node itself.
    h.call(a, ls("/", true));
    h.call(a, ls("/w", true));
    h.call(
        b,
        Request::Delete {
            path: "/w".into(),
            version: -1,
        },
    );
    let mut ev = h.events(a);
    ev.sort();
    assert_eq!(
        ev,
        vec![
            (EventType::NodeDeleted, "/w".into()),
            (EventType::NodeChildrenChanged, "/".into())
        ]
    );
    // getChildren: a child's create.
    h.call(b, create("/w", None, 0));
    h.call(a, ls("/w", true));
    h.call(b, create("/w/c", None, 0));
    assert_eq!(
        h.events(a),
        vec![(EventType::NodeChildrenChanged, "/w".into())]
    );
    assert!(h.events(b).is_empty(), "b asked for nothing");
}

#[test]
fn event_before_the_reply_that_reflects_it() {
    let mut h = Harness::new();
    let (a, _) = h.connect();
    h.call(a, create("/x", Some(b"1"), 0));
    h.call(a, get("/x", true));
    // The client changes a node it watches: its event comes before its own reply.
    let xid = h.send(
        a,
        Request::SetData {
            path: "/x".into(),
            data: Some(b"2".to_vec()),
            version: -1,
        },
    );
    let outs = h.take(a);
    let pos_event = outs
        .iter()
        .position(|o| matches!(o, ClientOutput::Event { .. }))
        .expect("event");
    let pos_reply = outs
        .iter()
        .position(|o| matches!(o, ClientOutput::Reply { reply, .. } if reply.xid == xid))
        .expect("reply");
    assert!(pos_event < pos_reply, "{outs:?}");
}

#[test]
fn reads_wait_for_earlier_writes_of_their_session_only() {
    let mut h = Harness::new();
    let (a, _) = h.connect();
    let (b, _) = h.connect();
    h.hold_disk = true;
    let w = h.send(a, create("/slow", Some(b"v"), 0));
    let r = h.send(a, get("/slow", false));
    let other = h.send(b, get("/slow", false));
    assert!(h.take(a).is_empty(), "a's read waits for a's write");
    let b_out = h.take(b);
    assert!(
        matches!(&b_out[..], [ClientOutput::Reply { reply, .. }] if reply.xid == other && reply.err == ErrorCode::NoNode),
        "b is not held up: {b_out:?}"
    );
    h.flush();
    let outs = h.take(a);
    let xids: Vec<i32> = outs
        .iter()
        .filter_map(|o| match o {
            ClientOutput::Reply { reply, .. } => Some(reply.xid),
            _ => None,
        })
        .collect();
    assert_eq!(xids, vec![w, r]);
    match &outs[1] {
        ClientOutput::Reply { reply, .. } => assert_eq!(data(reply), Some(b"v".to_vec())),
        o => panic!("{o:?}"),
    }
}

/// S14: an ephemeral node lives as long as its session.
#[test]
fn s14_session_expiry_removes_ephemerals_and_fires_watches() {
    let mut h = Harness::new();
    let (owner, _) = h.connect_with(SessionId(0), vec![0; 16], 4000);
    let (watcher, _) = h.connect();
    assert_eq!(
        h.call(owner, create("/eph", Some(b"x"), 1)).err,
        ErrorCode::Ok
    );
    h.call(watcher, get("/eph", true));
    h.call(watcher, ls("/", true));
    // The owner goes silent; the watcher keeps pinging.
    for _ in 0..6 {
        h.advance(1000);
        h.call(watcher, Request::Ping);
    }
    assert!(
        h.closed(owner),
        "the expired session's connection is closed"
    );
    let mut ev = h.events(watcher);
    ev.sort();
    assert_eq!(
        ev,
        vec![
            (EventType::NodeDeleted, "/eph".into()),
            (EventType::NodeChildrenChanged, "/".into())
        ]
    );
    assert_eq!(
        h.call(
            watcher,
            Request::Exists {
                path: "/eph".into(),
                watch: false
            }
        )
        .err,
        ErrorCode::NoNode
    );
}

#[test]
fn close_session_removes_ephemerals_at_once() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    h.call(c, create("/e1", None, 1));
    h.call(c, create("/seq-", None, 3));
    let r = h.call(c, Request::CloseSession);
    assert_eq!(r.err, ErrorCode::Ok);
    assert!(h.closed(c));
    let (d, _) = h.connect();
    assert_eq!(children(&h.call(d, ls("/", false))), vec!["zookeeper"]);
}

#[test]
fn reattach_with_password_and_timeouts() {
    let mut h = Harness::new();
    let (c, r) = h.connect_with(SessionId(0), vec![0; 16], 100);
    assert_eq!(r.timeout, 4000, "clamped to 2 ticks");
    assert_eq!(r.passwd, session_password(r.session_id));
    let s = r.session_id;
    h.call(c, create("/mine", None, 1));
    h.disconnect(c);
    // Wrong password: told the session is gone, connection closed.
    let (bad, resp) = h.connect_with(s, vec![1; 16], 4000);
    assert_eq!((resp.timeout, resp.session_id), (0, SessionId(0)));
    assert!(h.closed(bad));
    // Right password within the timeout: same session, its ephemeral still there.
    let (good, resp) = h.connect_with(s, session_password(s), 1_000_000);
    assert_eq!(resp.session_id, s);
    assert_eq!(resp.timeout, 40000, "clamped to 20 ticks");
    assert_eq!(
        h.call(good, Request::GetEphemerals { prefix: "/".into() })
            .body,
        Response::Ephemerals(vec!["/mine".into()])
    );
    // After expiry, re-attaching fails.
    h.disconnect(good);
    h.advance(50_000);
    let (late, resp) = h.connect_with(s, session_password(s), 4000);
    assert_eq!(resp.timeout, 0);
    assert!(h.closed(late));
}

#[test]
fn set_watches_after_reconnect_fires_missed_changes() {
    let mut h = Harness::new();
    let (a, sa) = h.connect();
    let (b, _) = h.connect();
    h.call(b, create("/d", Some(b"1"), 0));
    let last_seen = h.call(a, get("/d", true)).zxid;
    h.disconnect(a);
    h.call(
        b,
        Request::SetData {
            path: "/d".into(),
            data: Some(b"2".to_vec()),
            version: -1,
        },
    );
    h.call(b, create("/later", None, 0));
    let (a2, _) = h.connect_with(sa, session_password(sa), 30000);
    let sw = SetWatches {
        relative_zxid: last_seen,
        data: vec!["/d".into()],
        exist: vec!["/later".into(), "/never".into()],
        ..Default::default()
    };
    h.call(
        a2,
        Request::SetWatches {
            v2: true,
            watches: sw,
        },
    );
    assert_eq!(
        h.events(a2),
        vec![
            (EventType::NodeDataChanged, "/d".into()),
            (EventType::NodeCreated, "/later".into())
        ]
    );
    h.call(b, create("/never", None, 0));
    assert_eq!(
        h.events(a2),
        vec![(EventType::NodeCreated, "/never".into())]
    );
}

#[test]
fn persistent_recursive_watch() {
    let mut h = Harness::new();
    let (a, _) = h.connect();
    let (b, _) = h.connect();
    h.call(b, create("/app", None, 0));
    assert_eq!(
        h.call(
            a,
            Request::AddWatch {
                path: "/app".into(),
                mode: 1
            }
        )
        .body,
        Response::ErrorResponse(0)
    );
    h.call(b, create("/app/x", None, 0));
    h.call(b, create("/app/x/y", None, 0));
    h.call(
        b,
        Request::SetData {
            path: "/app/x/y".into(),
            data: Some(vec![1]),
            version: -1,
        },
    );
    h.call(
        b,
        Request::Delete {
            path: "/app/x/y".into(),
            version: -1,
        },
    );
    assert_eq!(
        h.events(a),
        vec![
            (EventType::NodeCreated, "/app/x".into()),
            (EventType::NodeCreated, "/app/x/y".into()),
            (EventType::NodeDataChanged, "/app/x/y".into()),
            (EventType::NodeDeleted, "/app/x/y".into()),
        ]
    );
    assert_eq!(
        h.call(
            a,
            Request::RemoveWatches {
                path: "/app".into(),
                watcher_type: 3
            }
        )
        .err,
        ErrorCode::Ok
    );
    assert_eq!(
        h.call(
            a,
            Request::CheckWatches {
                path: "/app".into(),
                watcher_type: 3
            }
        )
        .err,
        ErrorCode::NoWatcher
    );
}

#[test]
fn multi_results_like_zookeeper() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    let ok = h.call(
        c,
        Request::Multi(vec![
            create("/m", None, 0),
            Request::Create {
                op: op::CREATE2,
                req: CreateRequest {
                    path: "/m/s-".into(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 2,
                    ttl: -1,
                },
            },
            Request::SetData {
                path: "/m".into(),
                data: Some(vec![9]),
                version: 0,
            },
            Request::Check {
                path: "/m".into(),
                version: 1,
            },
        ]),
    );
    assert_eq!(ok.err, ErrorCode::Ok);
    match &ok.body {
        Response::Multi(rs) => {
            assert_eq!(rs.len(), 4);
            assert_eq!(
                rs[0],
                OpResult::Create {
                    op: op::CREATE,
                    path: "/m".into(),
                    stat: None
                }
            );
            assert!(
                matches!(&rs[1], OpResult::Create { path, stat: Some(_), .. } if path == "/m/s-0000000000")
            );
            assert!(matches!(&rs[2], OpResult::SetData { stat } if stat.version == 1));
            assert_eq!(rs[3], OpResult::Check);
        }
        other => panic!("{other:?}"),
    }
    let failed = h.call(
        c,
        Request::Multi(vec![
            create("/n", None, 0),
            Request::Delete {
                path: "/nope".into(),
                version: -1,
            },
            create("/o", None, 0),
        ]),
    );
    assert_eq!(
        failed.err,
        ErrorCode::Ok,
        "a failed multi still has err 0 in its header"
    );
    assert_eq!(
        failed.body,
        Response::Multi(vec![
            OpResult::Error { err: ErrorCode::Ok },
            OpResult::Error {
                err: ErrorCode::NoNode
            },
            OpResult::Error {
                err: ErrorCode::RuntimeInconsistency
            },
        ])
    );
    assert_eq!(
        h.call(
            c,
            Request::Exists {
                path: "/n".into(),
                watch: false
            }
        )
        .err,
        ErrorCode::NoNode,
        "all or nothing"
    );
    let reads = h.call(
        c,
        Request::MultiRead(vec![get("/m", false), ls("/m", false), get("/nope", false)]),
    );
    match &reads.body {
        Response::Multi(rs) => {
            assert!(matches!(&rs[0], OpResult::GetData { data: Some(d), .. } if d == &vec![9]));
            assert_eq!(
                rs[1],
                OpResult::GetChildren {
                    children: vec!["s-0000000000".into()]
                }
            );
            assert_eq!(
                rs[2],
                OpResult::Error {
                    err: ErrorCode::NoNode
                }
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn digest_acls_end_to_end() {
    let mut h = Harness::new();
    let (alice, _) = h.connect();
    let (eve, _) = h.connect();
    let auth = Request::Auth {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"alice:secret".to_vec(),
    };
    assert_eq!(h.call(alice, auth).err, ErrorCode::Ok);
    let req = Request::Create {
        op: op::CREATE,
        req: CreateRequest {
            path: "/vault".into(),
            data: Some(b"gold".to_vec()),
            acl: Acl::creator_all(),
            flags: 0,
            ttl: -1,
        },
    };
    assert_eq!(h.call(alice, req).err, ErrorCode::Ok);
    assert_eq!(h.call(eve, get("/vault", false)).err, ErrorCode::NoAuth);
    assert_eq!(
        h.call(
            eve,
            Request::SetData {
                path: "/vault".into(),
                data: None,
                version: -1
            }
        )
        .err,
        ErrorCode::NoAuth
    );
    let acl = h.call(
        alice,
        Request::GetAcl {
            path: "/vault".into(),
        },
    );
    assert!(
        matches!(&acl.body, Response::GetAcl { acl, .. } if acl[0].id == Id::new("digest", generate_digest("alice:secret")))
    );
    // Someone with READ but not ADMIN sees the digest masked.
    let read_only = vec![
        Acl::new(
            perms::ALL,
            Id::new("digest", generate_digest("alice:secret")),
        ),
        Acl::new(perms::READ, Id::new("world", "anyone")),
    ];
    h.call(
        alice,
        Request::SetAcl {
            path: "/vault".into(),
            acl: read_only,
            version: -1,
        },
    );
    let masked = h.call(
        eve,
        Request::GetAcl {
            path: "/vault".into(),
        },
    );
    assert!(
        matches!(&masked.body, Response::GetAcl { acl, .. } if acl[0].id.id == "alice:x"),
        "{masked:?}"
    );
    // A bad scheme fails and closes the connection.
    let bad = Request::Auth {
        auth_type: 0,
        scheme: "kerberos".into(),
        auth: vec![],
    };
    assert_eq!(h.call(eve, bad).err, ErrorCode::AuthFailed);
    assert!(h.closed(eve));
}

#[test]
fn super_digest_bypasses_acls() {
    let mut h = Harness::with(ServerConfig {
        super_digest: Some(generate_digest("super:pw")),
        ..ServerConfig::with_tick(2000)
    });
    let (c, _) = h.connect();
    h.call(
        c,
        Request::Auth {
            auth_type: 0,
            scheme: "digest".into(),
            auth: b"super:pw".to_vec(),
        },
    );
    let r = h.call(
        c,
        Request::SetData {
            path: "/zookeeper/config".into(),
            data: Some(b"x".to_vec()),
            version: -1,
        },
    );
    assert_eq!(r.err, ErrorCode::Ok);
}

#[test]
fn containers_and_ttl_nodes_are_reaped() {
    let mut cfg = ServerConfig::with_tick(2000);
    cfg.extended_types = true;
    cfg.container_check_interval = 1000;
    let mut h = Harness::with(cfg);
    let (c, _) = h.connect();
    let container = Request::Create {
        op: op::CREATE_CONTAINER,
        req: CreateRequest {
            path: "/box".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 4,
            ttl: -1,
        },
    };
    assert_eq!(h.call(c, container).err, ErrorCode::Ok);
    let ttl = Request::Create {
        op: op::CREATE_TTL,
        req: CreateRequest {
            path: "/ttl".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 5,
            ttl: 3000,
        },
    };
    assert_eq!(h.call(c, ttl).err, ErrorCode::Ok);
    h.call(c, create("/box/item", None, 0));
    h.call(c, ls("/", true));
    h.advance(1500);
    h.call(c, Request::Ping);
    assert_eq!(
        h.call(
            c,
            Request::Exists {
                path: "/box".into(),
                watch: false
            }
        )
        .err,
        ErrorCode::Ok,
        "not empty"
    );
    h.call(
        c,
        Request::Delete {
            path: "/box/item".into(),
            version: -1,
        },
    );
    h.advance(1500);
    h.call(c, Request::Ping);
    assert_eq!(
        h.call(
            c,
            Request::Exists {
                path: "/box".into(),
                watch: false
            }
        )
        .err,
        ErrorCode::NoNode,
        "empty container reaped"
    );
    assert_eq!(
        h.call(
            c,
            Request::Exists {
                path: "/ttl".into(),
                watch: false
            }
        )
        .err,
        ErrorCode::Ok,
        "ttl not yet up"
    );
    h.advance(2000);
    h.call(c, Request::Ping);
    assert_eq!(
        h.call(
            c,
            Request::Exists {
                path: "/ttl".into(),
                watch: false
            }
        )
        .err,
        ErrorCode::NoNode,
        "ttl expired"
    );
    assert!(h
        .events(c)
        .contains(&(EventType::NodeChildrenChanged, "/".into())));
}

#[test]
fn ttl_needs_extended_types() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    let ttl = Request::Create {
        op: op::CREATE_TTL,
        req: CreateRequest {
            path: "/ttl".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags: 5,
            ttl: 3000,
        },
    };
    assert_eq!(h.call(c, ttl).err, ErrorCode::Unimplemented);
}

#[test]
fn max_client_cnxns_per_address() {
    let mut h = Harness::with(ServerConfig {
        max_client_cnxns: 2,
        ..ServerConfig::with_tick(2000)
    });
    assert!(h.s.accept(ConnId(100), "10.0.0.1", 0));
    assert!(h.s.accept(ConnId(101), "10.0.0.1", 0));
    assert!(!h.s.accept(ConnId(102), "10.0.0.1", 0));
    assert!(h.s.accept(ConnId(103), "10.0.0.2", 0));
}

#[test]
fn unknown_op_is_unimplemented_and_closes() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    let r = h.call(c, Request::Unsupported { op: 999 });
    assert_eq!(r.err, ErrorCode::Unimplemented);
    assert!(h.closed(c));
}

#[test]
fn replay_of_the_log_equals_the_tree_and_snapshots_restore() {
    let mut h = Harness::new();
    let (a, _) = h.connect();
    let (b, _) = h.connect();
    for i in 0..20 {
        h.call(
            a,
            create(
                &format!("/n{}", i % 7),
                Some(format!("{i}").as_bytes()),
                if i % 3 == 0 { 2 } else { 0 },
            ),
        );
        h.call(
            b,
            Request::SetData {
                path: format!("/n{}", i % 5),
                data: Some(vec![i as u8]),
                version: -1,
            },
        );
        if i % 4 == 0 {
            h.call(
                b,
                Request::Delete {
                    path: format!("/n{}", i % 6),
                    version: -1,
                },
            );
        }
    }
    h.call(a, create("/eph", None, 1));
    let mut replayed = DataTree::new(false);
    for e in &h.log {
        replayed.apply(&e.hdr, &e.txn, &mut Vec::new());
    }
    let snap = snapshot::serialize(&h.s.server().tree);
    assert_eq!(snapshot::serialize(&replayed), snap, "replay(log) == tree");
    // Restore and carry on: zxids continue, the session and its ephemeral survive.
    let z = h.s.server().tree.last_processed_zxid();
    let restored = snapshot::deserialize(&snap, z, Default::default()).unwrap();
    let last = restored.last_processed_zxid();
    let mut h2 = Harness::from_tree(ServerConfig::with_tick(2000), restored);
    let (c, _) = h2.connect();
    assert_eq!(h2.log[0].zxid(), last.next());
    assert_eq!(
        h2.call(
            c,
            Request::Exists {
                path: "/eph".into(),
                watch: false
            }
        )
        .err,
        ErrorCode::Ok
    );
}

#[test]
fn connection_stats_follow_zookeepers_server_cnxn() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    let fresh = h.s.server().conn(c).unwrap().stats.clone();
    assert_eq!(fresh.last_cxid, -1, "no request answered yet");
    assert_eq!(fresh.last_zxid, Zxid(u64::MAX), "ZooKeeper's -1");
    h.advance(5);
    let xid = h.send(c, get("/", false));
    h.call(c, Request::Ping);
    let s = h.s.server().conn(c).unwrap().stats.clone();
    assert_eq!(
        s.last_cxid, xid,
        "a ping does not replace the last real xid"
    );
    assert_eq!(s.last_op, "PING");
    assert_eq!(s.completed, 2);
    assert!(s.last_response_time > 0);
    h.s.server_mut().reset_conn_stats();
    let r = h.s.server().conn(c).unwrap().stats.clone();
    assert_eq!((r.packets_received, r.packets_sent, r.completed), (0, 0, 0));
    assert_eq!(
        (r.last_cxid, r.last_zxid, r.last_response_time),
        (-1, Zxid(u64::MAX), 0)
    );
    assert_eq!(
        r.established, fresh.established,
        "crst keeps when it was established"
    );
}

/// A full disk: the write in flight is undone and answered NotReadOnly, reads go on, writes are
/// refused (and nobody expires) until a probe finds room; then writes go on from the zxid after
/// the last durable one, and the log holds no gap.
#[test]
fn a_full_disk_refuses_writes_serves_reads_and_recovers() {
    let mut h = Harness::new();
    let (c, session) = h.connect();
    assert_eq!(h.call(c, create("/a", Some(b"1"), 0)).err, ErrorCode::Ok);
    h.disk_full = true;
    let r = h.call(c, create("/b", None, 0));
    assert_eq!(r.err, ErrorCode::NotReadOnly, "the write in flight");
    assert!(h.s.is_disk_full() && h.s.halted().is_none());
    assert_eq!(data(&h.call(c, get("/a", false))), Some(b"1".to_vec()));
    assert_eq!(h.call(c, get("/b", false)).err, ErrorCode::NoNode);
    assert_eq!(
        h.call(c, create("/b", None, 0)).err,
        ErrorCode::NotReadOnly,
        "refused while full"
    );
    // Probes find no room for a minute; the session (30 s) does not expire, for it pings.
    for _ in 0..60 {
        h.advance(1000);
        h.call(c, Request::Ping);
    }
    assert!(h.s.is_disk_full());
    assert!(!h.closed(c));
    // A new session is refused; the existing one reconnects.
    let fresh = h.open("127.0.0.1");
    h.s.connect(
        fresh,
        &ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid(0),
            timeout: 30000,
            session_id: SessionId(0),
            passwd: vec![0; 16],
            read_only: Some(false),
        },
        h.now,
    );
    h.pump();
    assert!(h.closed(fresh), "no new session while full");
    h.disconnect(c);
    let (c, r) = h.connect_with(session, session_password(session), 30000);
    assert_eq!(r.session_id, session, "the session reconnects");
    h.disk_full = false;
    h.advance(1000);
    assert!(!h.s.is_disk_full());
    assert_eq!(h.call(c, create("/b", None, 0)).err, ErrorCode::Ok);
    let zxids: Vec<u64> = h.log.iter().map(|e| e.zxid().0).collect();
    assert!(
        zxids.windows(2).all(|w| w[1] == w[0] + 1),
        "the log holds no gap: {zxids:?}"
    );
    assert_eq!(h.log.last().map(|e| e.zxid()), Some(h.s.last_logged()));
}

/// A failed fsync: the server halts and answers nothing more — not the write in flight, not
/// a read — for what it acknowledged after could be lost.
#[test]
fn a_failed_fsync_halts_the_server() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    assert_eq!(h.call(c, create("/a", None, 0)).err, ErrorCode::Ok);
    h.fsync_fails = true;
    h.send(c, create("/b", None, 0));
    assert_eq!(h.s.halted(), Some(zk_core::peer::HaltReason::DiskFailed));
    assert_eq!(h.halted, h.s.halted(), "the driver was told to stop");
    assert!(
        h.replies(c).is_empty(),
        "the write in flight is not answered"
    );
    h.send(c, get("/a", false));
    h.advance(10_000);
    assert!(h.replies(c).is_empty(), "nothing is answered after a halt");
    assert_eq!(h.s.next_deadline(), None);
}

fn sasl_server() -> ServerConfig {
    let mut cfg = ServerConfig::with_tick(2000);
    cfg.auth.schemes.sasl = true;
    cfg.auth
        .sasl_users
        .insert("alice".into(), "wonderland".into());
    cfg.auth.nonce_seed = 7;
    cfg
}

/// Runs a DIGEST-MD5 exchange on `c` with this password; the last reply.
fn sasl_login(h: &mut Harness, c: ConnId, password: &str) -> Reply {
    let mut client = zk_core::sasl::DigestMd5Client::zookeeper("alice", password, "cnonce".into());
    let first = h.call(c, Request::Sasl { token: Vec::new() });
    let Response::Sasl(Some(challenge)) = first.body else {
        panic!("no challenge: {first:?}")
    };
    let response = client.respond(&challenge).unwrap();
    h.call(c, Request::Sasl { token: response })
}

#[test]
fn sasl_digest_md5_authenticates_and_the_sasl_scheme_protects() {
    let mut h = Harness::with(sasl_server());
    let (alice, _) = h.connect();
    let done = sasl_login(&mut h, alice, "wonderland");
    assert_eq!(done.err, ErrorCode::Ok);
    assert!(matches!(done.body, Response::Sasl(Some(ref t)) if t.starts_with(b"rspauth=")));
    let acl = vec![Acl::new(perms::ALL, Id::new("sasl", "alice"))];
    let r = h.call(
        alice,
        Request::Create {
            op: op::CREATE,
            req: CreateRequest {
                path: "/mine".into(),
                data: Some(b"x".to_vec()),
                acl,
                flags: 0,
                ttl: -1,
            },
        },
    );
    assert_eq!(r.err, ErrorCode::Ok, "{r:?}");
    assert_eq!(h.call(alice, get("/mine", false)).err, ErrorCode::Ok);
    let (other, _) = h.connect();
    assert_eq!(h.call(other, get("/mine", false)).err, ErrorCode::NoAuth);
}

#[test]
fn sasl_with_a_wrong_password_fails_and_closes() {
    let mut h = Harness::with(sasl_server());
    let (c, _) = h.connect();
    let r = sasl_login(&mut h, c, "guess");
    assert_eq!(r.err, ErrorCode::AuthFailed);
    assert!(h.closed(c));
}

#[test]
fn sasl_without_a_jaas_server_section_answers_ok_with_no_token() {
    let mut h = Harness::new();
    let (c, _) = h.connect();
    let r = h.call(c, Request::Sasl { token: Vec::new() });
    assert_eq!(r.err, ErrorCode::Ok);
    assert_eq!(r.body, Response::Sasl(None));
    assert!(!h.closed(c));
}

#[test]
fn enforced_auth_refuses_the_unauthenticated_and_closes() {
    let mut cfg = sasl_server();
    cfg.auth.required_schemes = vec!["sasl".into()];
    let mut h = Harness::with(cfg);
    let (anon, _) = h.connect();
    let r = h.call(anon, get("/", false));
    assert_eq!(r.err, ErrorCode::SessionClosedRequireSaslAuth);
    assert!(h.closed(anon));
    let (alice, _) = h.connect();
    assert_eq!(sasl_login(&mut h, alice, "wonderland").err, ErrorCode::Ok);
    assert_eq!(h.call(alice, get("/", false)).err, ErrorCode::Ok);
}
