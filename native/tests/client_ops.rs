//! Every client operation against a real server (see `client_harness` for which one).

mod client_harness;

use std::time::Duration;

use client_harness::{next_state, within, TestServer};
use zk_core::acl::generate_digest;
use zk_native::client::{
    perms, Acl, Client, ClientError, CreateMode, ErrorCode, EventType, Id, KeeperState, Op,
    OpResult, States,
};

const TIMEOUT: Duration = Duration::from_secs(10);

async fn connect(s: &TestServer) -> Client {
    client_harness::connect(&s.connect_string()).await
}

fn code(e: ClientError) -> ErrorCode {
    e.keeper_code()
        .unwrap_or_else(|| panic!("not a keeper error: {e}"))
}

#[tokio::test]
async fn every_operation() {
    let server = TestServer::start();
    let zk = connect(&server).await;
    assert_eq!(zk.state(), States::Connected);
    assert_ne!(zk.session_id().0, 0);
    assert!(zk.session_timeout() > Duration::ZERO);
    let open = Acl::open_unsafe();

    // The seed scenario, as a library sees it.
    assert_eq!(
        zk.get_children("/", false).await.unwrap(),
        vec!["zookeeper"]
    );
    let p = zk
        .create("/laogong", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(p, "/laogong");
    let (data, stat) = zk.get_data("/laogong", false).await.unwrap();
    assert_eq!(data, None, "a create with null data reads back null");
    assert_eq!(stat.data_length, 0);
    let e = zk
        .create("/laogong", Some(b"laogong"), &open, CreateMode::Persistent)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "KeeperErrorCode = NodeExists for /laogong");
    zk.delete("/laogong", -1).await.unwrap();
    zk.create("/laogong", Some(b"laogong"), &open, CreateMode::Persistent)
        .await
        .unwrap();
    let (p, st) = zk
        .create2(
            "/laogong/laopo",
            Some(b"laopo"),
            &open,
            CreateMode::Persistent,
        )
        .await
        .unwrap();
    assert_eq!(p, "/laogong/laopo");
    assert_eq!((st.data_length, st.version, st.czxid), (5, 0, st.mzxid));
    assert_eq!(
        zk.get_children("/laogong", false).await.unwrap(),
        vec!["laopo"]
    );
    let (children, parent) = zk.get_children2("/laogong", false).await.unwrap();
    assert_eq!(children, vec!["laopo"]);
    assert_eq!((parent.num_children, parent.cversion), (1, 1));
    assert_eq!(parent.pzxid, st.czxid);
    let e = zk.delete("/laogong", -1).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "KeeperErrorCode = Directory not empty for /laogong"
    );

    // Data and versions.
    let st = zk.set_data("/laogong", Some(b"v1"), 0).await.unwrap();
    assert_eq!((st.version, st.data_length), (1, 2));
    let e = zk.set_data("/laogong", Some(b"v2"), 0).await.unwrap_err();
    assert_eq!(e.to_string(), "KeeperErrorCode = BadVersion for /laogong");
    zk.check("/laogong", 1).await.unwrap();
    assert_eq!(
        code(zk.check("/laogong", 7).await.unwrap_err()),
        ErrorCode::BadVersion
    );
    assert_eq!(
        zk.get_data("/laogong", false).await.unwrap().0.as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(zk.exists("/laogong", false).await.unwrap(), Some(st));
    assert_eq!(zk.exists("/nope", false).await.unwrap(), None);
    let e = zk.get_data("/nope", false).await.unwrap_err();
    assert_eq!(e.to_string(), "KeeperErrorCode = NoNode for /nope");
    assert_eq!(e.path(), Some("/nope"));

    // ACLs.
    let (acl, _) = zk.get_acl("/laogong").await.unwrap();
    assert_eq!(acl, open);
    let read_only = Acl::read_unsafe();
    let st = zk.set_acl("/laogong", &read_only, 0).await.unwrap();
    assert_eq!(st.aversion, 1);
    assert_eq!(zk.get_acl("/laogong").await.unwrap().0, read_only);
    let e = zk.set_data("/laogong", Some(b"x"), -1).await.unwrap_err();
    assert_eq!(e.to_string(), "KeeperErrorCode = NoAuth for /laogong");
    // An empty ACL is refused before it is sent, with no path, as Java does.
    let e = zk.set_acl("/laogong", &[], -1).await.unwrap_err();
    assert_eq!(e.to_string(), "KeeperErrorCode = InvalidACL");
    let bad = vec![Acl::new(perms::ALL, Id::new("nosuchscheme", "x"))];
    assert_eq!(
        code(
            zk.create("/bad", None, &bad, CreateMode::Persistent)
                .await
                .unwrap_err()
        ),
        ErrorCode::InvalidAcl
    );

    // Sequential, container, TTL and ephemeral nodes.
    let s1 = zk
        .create("/seq-", Some(b""), &open, CreateMode::PersistentSequential)
        .await
        .unwrap();
    let s2 = zk
        .create("/seq-", Some(b""), &open, CreateMode::PersistentSequential)
        .await
        .unwrap();
    assert!(
        s1.starts_with("/seq-") && s1.len() == "/seq-".len() + 10,
        "{s1}"
    );
    assert!(s2 > s1, "{s2} after {s1}");
    assert_eq!(
        zk.create("/box", None, &open, CreateMode::Container)
            .await
            .unwrap(),
        "/box"
    );
    let (t, tst) = zk
        .create_ttl(
            "/ttl",
            Some(b"t"),
            &open,
            CreateMode::PersistentWithTtl,
            60_000,
        )
        .await
        .unwrap();
    assert_eq!((t.as_str(), tst.ephemeral_owner), ("/ttl", 0));
    assert!(matches!(
        zk.create_ttl("/ttl2", None, &open, CreateMode::PersistentWithTtl, 0)
            .await,
        Err(ClientError::InvalidArgument(_))
    ));
    let (e1, est) = zk
        .create2("/eph", Some(b"e"), &open, CreateMode::Ephemeral)
        .await
        .unwrap();
    assert_eq!(est.ephemeral_owner, zk.session_id().0);
    let es = zk
        .create("/eph-", None, &open, CreateMode::EphemeralSequential)
        .await
        .unwrap();
    let mut ephemerals = zk.get_ephemerals("/").await.unwrap();
    ephemerals.sort();
    assert_eq!(ephemerals, vec![e1.clone(), es.clone()]);
    assert_eq!(zk.get_ephemerals("/eph-").await.unwrap(), vec![es.clone()]);
    let e = zk
        .create("/eph/child", None, &open, CreateMode::Persistent)
        .await
        .unwrap_err();
    assert_eq!(
        (code(e.clone()), e.path()),
        (ErrorCode::NoChildrenForEphemerals, Some("/eph/child"))
    );

    // Counting, sync, whoami, config.
    let all = zk.get_all_children_number("/").await.unwrap();
    // zookeeper, zookeeper/config, zookeeper/quota, laogong, laopo, 2 seq, box, ttl, 2 eph.
    assert_eq!(all, 11);
    assert_eq!(zk.sync("/laogong").await.unwrap(), "/laogong");
    let me = zk.who_am_i().await.unwrap();
    assert_eq!(me.len(), 1);
    assert_eq!(
        (me[0].auth_scheme.as_str(), me[0].user.as_str()),
        ("ip", "127.0.0.1")
    );
    let (_, cst) = zk.get_config(false).await.unwrap();
    assert_eq!(cst.czxid.0, 0);

    // Paths are checked before anything is sent.
    assert!(matches!(
        zk.exists("no-slash", false).await,
        Err(ClientError::InvalidPath(_))
    ));
    assert!(matches!(
        zk.create("/a/", None, &open, CreateMode::Persistent).await,
        Err(ClientError::InvalidPath(_))
    ));
    // ... but a sequential create may end in '/'.
    zk.create("/laogong/", None, &open, CreateMode::PersistentSequential)
        .await
        .unwrap_err(); // NoAuth: /laogong is read-only now; the path itself was accepted.

    // Closing ends the session: its ephemerals go, calls fail.
    let mut events = zk.events();
    zk.close().await.unwrap();
    assert_eq!(zk.state(), States::Closed);
    let mut last = None;
    while let Some(ev) = within(events.next()).await {
        last = Some(ev);
    }
    assert_eq!(last.map(|e| e.state), Some(KeeperState::Closed));
    assert_eq!(
        zk.get_data("/laogong", false).await,
        Err(ClientError::Closed)
    );
    let other = connect(&server).await;
    assert_eq!(other.exists(&e1, false).await.unwrap(), None);
    assert_eq!(other.exists(&es, false).await.unwrap(), None);
    assert!(other.exists("/laogong", false).await.unwrap().is_some());
    other.close().await.unwrap();
}

#[tokio::test]
async fn multi_is_all_or_nothing() {
    let server = TestServer::start();
    let zk = connect(&server).await;
    let open = Acl::open_unsafe();
    zk.create("/m", Some(b"0"), &open, CreateMode::Persistent)
        .await
        .unwrap();

    // The second op fails: nothing is applied, and the error names it.
    let e = zk
        .multi(vec![
            Op::create("/m/a", Some(b"a"), &open, CreateMode::Persistent),
            Op::set_data("/m", Some(b"1"), 5),
            Op::delete("/m/none", -1),
        ])
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ClientError::MultiFailed {
            index: 1,
            code: ErrorCode::BadVersion,
            path: "/m".into()
        }
    );
    assert_eq!(zk.exists("/m/a", false).await.unwrap(), None);
    assert_eq!(zk.get_data("/m", false).await.unwrap().1.version, 0);

    // All succeed.
    let r = zk
        .multi(vec![
            Op::check("/m", 0),
            Op::create("/m/a", Some(b"a"), &open, CreateMode::Persistent),
            Op::create("/m/s-", None, &open, CreateMode::PersistentSequential),
            Op::set_data("/m", Some(b"1"), 0),
            Op::delete("/m/a", 0),
        ])
        .await
        .unwrap();
    assert_eq!(r.len(), 5);
    assert_eq!(r[0], OpResult::Check);
    assert!(matches!(&r[1], OpResult::Create { path, .. } if path == "/m/a"));
    assert!(matches!(&r[2], OpResult::Create { path, .. } if path.starts_with("/m/s-")));
    assert!(matches!(&r[3], OpResult::SetData { stat } if stat.version == 1));
    assert_eq!(r[4], OpResult::Delete);

    // multiRead: each result on its own.
    let r = zk
        .multi_read(vec![
            Op::get_data("/m"),
            Op::get_children("/m"),
            Op::get_data("/m/none"),
        ])
        .await
        .unwrap();
    assert!(matches!(&r[0], OpResult::GetData { data: Some(d), .. } if d == b"1"));
    assert!(matches!(&r[1], OpResult::GetChildren { children } if children.len() == 1));
    assert_eq!(
        r[2],
        OpResult::Error {
            err: ErrorCode::NoNode
        }
    );
    zk.close().await.unwrap();
}

#[tokio::test]
async fn digest_acls_and_addauth() {
    let server = TestServer::start();
    let cs = server.connect_string();
    let open = Acl::open_unsafe();

    let bob = connect(&server).await;
    bob.add_auth("digest", b"bob:secret").await.unwrap();
    bob.create(
        "/secret",
        Some(b"s"),
        &Acl::creator_all(),
        CreateMode::Persistent,
    )
    .await
    .unwrap();
    let (acl, _) = bob.get_acl("/secret").await.unwrap();
    assert_eq!(
        acl,
        vec![Acl::new(
            perms::ALL,
            Id::new("digest", generate_digest("bob:secret"))
        )]
    );
    let me = bob.who_am_i().await.unwrap();
    assert!(
        me.iter()
            .any(|c| c.auth_scheme == "digest" && c.user == "bob"),
        "{me:?}"
    );
    // The auth is re-sent when the client reconnects.
    let mut events = bob.events();
    assert_eq!(next_state(&mut events).await, KeeperState::SyncConnected);
    bob.reconnect();
    assert_eq!(next_state(&mut events).await, KeeperState::Disconnected);
    assert_eq!(next_state(&mut events).await, KeeperState::SyncConnected);
    assert_eq!(
        bob.get_data("/secret", false).await.unwrap().0.as_deref(),
        Some(&b"s"[..])
    );

    // Anybody else is refused, until they authenticate as bob.
    let eve = connect(&server).await;
    let e = eve.get_data("/secret", false).await.unwrap_err();
    assert_eq!(e.to_string(), "KeeperErrorCode = NoAuth for /secret");
    eve.add_auth("digest", b"bob:wrong").await.unwrap();
    assert_eq!(
        code(eve.get_data("/secret", false).await.unwrap_err()),
        ErrorCode::NoAuth
    );
    eve.add_auth("digest", b"bob:secret").await.unwrap();
    eve.get_data("/secret", false).await.unwrap();

    // Auth given to the builder is sent with the connection.
    let carol = within(
        Client::builder(&cs, TIMEOUT)
            .auth("digest", b"bob:secret")
            .connect(),
    )
    .await
    .unwrap();
    carol.get_data("/secret", false).await.unwrap();

    // An ACL naming a digest id directly.
    let id = generate_digest("alice:pw");
    let acl = vec![
        Acl::new(perms::READ, Id::new("digest", id)),
        Acl::new(perms::ALL, Id::anyone()),
    ];
    bob.create("/shared", None, &acl, CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(eve.get_acl("/shared").await.unwrap().0, acl);

    // An unknown scheme fails the auth, and with it the session's connection, for good.
    let mallory = connect(&server).await;
    let mut events = mallory.events();
    let e = mallory.add_auth("nosuchscheme", b"x").await.unwrap_err();
    assert_eq!(code(e), ErrorCode::AuthFailed);
    let mut states = Vec::new();
    while let Some(ev) = within(events.next()).await {
        states.push(ev.state);
    }
    assert_eq!(
        states,
        vec![KeeperState::SyncConnected, KeeperState::AuthFailed]
    );
    assert_eq!(mallory.state(), States::AuthFailed);
    assert_eq!(
        code(mallory.exists("/", false).await.unwrap_err()),
        ErrorCode::AuthFailed
    );
    for c in [bob, eve, carol] {
        c.close().await.unwrap();
    }
    let _ = open;
}

#[tokio::test]
async fn chroot() {
    let server = TestServer::start();
    let root = connect(&server).await;
    let open = Acl::open_unsafe();
    root.create("/app", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    let app = within(Client::connect(
        &format!("{}/app", server.connect_string()),
        TIMEOUT,
    ))
    .await
    .unwrap();
    assert_eq!(app.chroot(), Some("/app"));
    assert_eq!(
        app.create("/x", Some(b"1"), &open, CreateMode::Persistent)
            .await
            .unwrap(),
        "/x"
    );
    let s = app
        .create("/q-", None, &open, CreateMode::EphemeralSequential)
        .await
        .unwrap();
    assert!(s.starts_with("/q-"), "{s}");
    assert_eq!(app.get_ephemerals("/").await.unwrap(), vec![s.clone()]);
    let mut kids = root.get_children("/app", false).await.unwrap();
    kids.sort();
    assert_eq!(kids, vec![s[1..].to_string(), "x".to_string()]);
    assert!(app.exists("/", false).await.unwrap().is_some());
    assert_eq!(app.sync("/x").await.unwrap(), "/x");
    let e = app.get_data("/nope", false).await.unwrap_err();
    assert_eq!(e.to_string(), "KeeperErrorCode = NoNode for /nope");

    // Watch events come back with client paths.
    let (_, _, w) = app.get_data_and_watch("/x").await.unwrap();
    root.set_data("/app/x", Some(b"2"), -1).await.unwrap();
    let ev = within(w).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDataChanged, "/x")
    );
    let (_, w) = app.get_children_and_watch("/").await.unwrap();
    root.create("/app/y", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    let ev = within(w).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeChildrenChanged, "/")
    );
    let r = app
        .multi(vec![Op::create("/z", None, &open, CreateMode::Persistent)])
        .await
        .unwrap();
    assert!(matches!(&r[0], OpResult::Create { path, .. } if path == "/z"));
    assert!(root.exists("/app/z", false).await.unwrap().is_some());
    app.close().await.unwrap();
    root.close().await.unwrap();
}
