//! Watches against a real server: one-shot, default, persistent and recursive, their removal,
//! and their survival across reconnects (setWatches with the last zxid seen).

mod client_harness;

use client_harness::{connect, next_state, within, Proxy, TestServer};
use zk_native::client::{
    Acl, AddWatchMode, Client, CreateMode, ErrorCode, EventStream, EventType, KeeperState,
    WatchedEvent, WatcherType,
};

fn ev(t: EventType, path: &str) -> (EventType, KeeperState, String) {
    (t, KeeperState::SyncConnected, path.to_string())
}

fn key(e: WatchedEvent) -> (EventType, KeeperState, String) {
    (e.event_type, e.state, e.path)
}

/// Reads an event stream up to a round trip made after the last change: every event the server
/// sent before answering `sync` has arrived by then.
async fn drain(zk: &Client, events: &mut EventStream) -> Vec<(EventType, KeeperState, String)> {
    zk.sync("/").await.unwrap();
    let mut out = Vec::new();
    while let Some(e) = events.try_next() {
        out.push(key(e));
    }
    out
}

#[tokio::test]
async fn one_shot_watches() {
    let server = TestServer::start();
    let zk = connect(&server.connect_string()).await;
    let other = connect(&server.connect_string()).await;
    let open = Acl::open_unsafe();

    // An exists watch on a missing node fires on its creation.
    let (stat, created) = zk.exists_and_watch("/w").await.unwrap();
    assert_eq!(stat, None);
    other
        .create("/w", Some(b"0"), &open, CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(key(within(created).await), ev(EventType::NodeCreated, "/w"));

    // Data and child watches fire on their own changes only.
    let (_, _, data) = zk.get_data_and_watch("/w").await.unwrap();
    let (_, children) = zk.get_children_and_watch("/w").await.unwrap();
    other
        .create("/w/c", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        key(within(children).await),
        ev(EventType::NodeChildrenChanged, "/w")
    );
    other.set_data("/w", Some(b"1"), -1).await.unwrap();
    assert_eq!(
        key(within(data).await),
        ev(EventType::NodeDataChanged, "/w")
    );

    // A delete fires data and child watches alike.
    let (_, _, data) = zk.get_data_and_watch("/w/c").await.unwrap();
    let (_, children) = zk.get_children_and_watch("/w/c").await.unwrap();
    let (_, exists) = zk.exists_and_watch("/w/c").await.unwrap();
    other.delete("/w/c", -1).await.unwrap();
    for w in [data, children, exists] {
        assert_eq!(key(within(w).await), ev(EventType::NodeDeleted, "/w/c"));
    }

    // A watch set by a failed read is not handed out.
    assert_eq!(
        zk.get_data_and_watch("/nope")
            .await
            .err()
            .unwrap()
            .keeper_code(),
        Some(ErrorCode::NoNode)
    );

    // The session's end resolves the watches that never fired.
    let (_, _, pending) = zk.get_data_and_watch("/w").await.unwrap();
    zk.close().await.unwrap();
    let e = within(pending).await;
    assert_eq!(
        (e.event_type, e.state),
        (EventType::None, KeeperState::Closed)
    );
    other.close().await.unwrap();
}

#[tokio::test]
async fn default_watcher() {
    let server = TestServer::start();
    let zk = connect(&server.connect_string()).await;
    let other = connect(&server.connect_string()).await;
    let open = Acl::open_unsafe();
    let mut events = zk.events();
    assert_eq!(
        key(within(events.next()).await.unwrap()),
        (EventType::None, KeeperState::SyncConnected, String::new())
    );

    zk.create("/d", Some(b"0"), &open, CreateMode::Persistent)
        .await
        .unwrap();
    // Set twice, by getData and by exists: told once, as Java tells its default watcher once.
    zk.get_data("/d", true).await.unwrap();
    zk.exists("/d", true).await.unwrap();
    zk.get_children("/d", true).await.unwrap();
    other.set_data("/d", Some(b"1"), -1).await.unwrap();
    other.set_data("/d", Some(b"2"), -1).await.unwrap();
    other
        .create("/d/c", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        drain(&zk, &mut events).await,
        vec![
            ev(EventType::NodeDataChanged, "/d"),
            ev(EventType::NodeChildrenChanged, "/d")
        ]
    );
    // A second stream gets the events from then on, starting with the current state.
    let mut second = zk.events();
    zk.exists("/e", true).await.unwrap();
    other
        .create("/e", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    assert_eq!(
        drain(&zk, &mut second).await,
        vec![
            (EventType::None, KeeperState::SyncConnected, String::new()),
            ev(EventType::NodeCreated, "/e")
        ]
    );
    assert_eq!(
        drain(&zk, &mut events).await,
        vec![ev(EventType::NodeCreated, "/e")]
    );
    zk.close().await.unwrap();
    other.close().await.unwrap();
}

#[tokio::test]
async fn persistent_and_recursive_watches() {
    let server = TestServer::start();
    let zk = connect(&server.connect_string()).await;
    let other = connect(&server.connect_string()).await;
    let open = Acl::open_unsafe();

    let mut p = zk.add_watch("/p", AddWatchMode::Persistent).await.unwrap();
    let mut r = zk
        .add_watch("/r", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    assert_eq!(p.path(), "/p");
    other
        .create("/p", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    other.set_data("/p", Some(b"1"), -1).await.unwrap();
    other
        .create("/p/c", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    other.set_data("/p/c", Some(b"1"), -1).await.unwrap(); // not /p's business
    other.delete("/p/c", -1).await.unwrap();
    other.delete("/p", -1).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(key(within(p.next()).await.unwrap()));
    }
    assert_eq!(
        got,
        vec![
            ev(EventType::NodeCreated, "/p"),
            ev(EventType::NodeDataChanged, "/p"),
            ev(EventType::NodeChildrenChanged, "/p"),
            ev(EventType::NodeChildrenChanged, "/p"),
            ev(EventType::NodeDeleted, "/p"),
        ]
    );

    other
        .create("/r", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    other
        .create("/r/a", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    other
        .create("/r/a/b", Some(b"x"), &open, CreateMode::Persistent)
        .await
        .unwrap();
    other.set_data("/r/a/b", Some(b"y"), -1).await.unwrap();
    other.delete("/r/a/b", -1).await.unwrap();
    other
        .create("/rx", None, &open, CreateMode::Persistent)
        .await
        .unwrap(); // a sibling, not below /r
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(key(within(r.next()).await.unwrap()));
    }
    assert_eq!(
        got,
        vec![
            ev(EventType::NodeCreated, "/r"),
            ev(EventType::NodeCreated, "/r/a"),
            ev(EventType::NodeCreated, "/r/a/b"),
            ev(EventType::NodeDataChanged, "/r/a/b"),
            ev(EventType::NodeDeleted, "/r/a/b"),
        ]
    );

    // Removal: the stream hears it, then ends.
    zk.check_watches("/r", WatcherType::Any).await.unwrap();
    zk.remove_watches("/r", WatcherType::Any, false)
        .await
        .unwrap();
    assert_eq!(
        key(within(r.next()).await.unwrap()),
        ev(EventType::PersistentWatchRemoved, "/r")
    );
    assert_eq!(within(r.next()).await, None);
    assert_eq!(
        zk.check_watches("/r", WatcherType::Any)
            .await
            .unwrap_err()
            .to_string(),
        "KeeperErrorCode = No such watcher for /r"
    );
    zk.close().await.unwrap();
    // The session's end reaches the persistent watch that is left.
    let mut last = None;
    while let Some(e) = within(p.next()).await {
        last = Some(e);
    }
    assert_eq!(last.map(|e| e.state), Some(KeeperState::Closed));
    other.close().await.unwrap();
}

#[tokio::test]
async fn remove_watches_by_type() {
    let server = TestServer::start();
    let zk = connect(&server.connect_string()).await;
    let open = Acl::open_unsafe();
    zk.create("/x", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    let (_, _, data) = zk.get_data_and_watch("/x").await.unwrap();
    let (_, children) = zk.get_children_and_watch("/x").await.unwrap();
    let mut events = zk.events();
    zk.get_data("/x", true).await.unwrap();

    zk.remove_watches("/x", WatcherType::Data, false)
        .await
        .unwrap();
    assert_eq!(
        key(within(data).await),
        ev(EventType::DataWatchRemoved, "/x")
    );
    let e = zk
        .remove_watches("/x", WatcherType::Data, false)
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), "KeeperErrorCode = No such watcher for /x");
    zk.remove_watches("/x", WatcherType::Any, false)
        .await
        .unwrap();
    assert_eq!(
        key(within(children).await),
        ev(EventType::ChildWatchRemoved, "/x")
    );
    assert_eq!(
        drain(&zk, &mut events).await,
        vec![
            (EventType::None, KeeperState::SyncConnected, String::new()),
            ev(EventType::DataWatchRemoved, "/x")
        ]
    );
    zk.close().await.unwrap();
}

#[tokio::test]
async fn watches_survive_reconnects() {
    let server = TestServer::start();
    let proxy = Proxy::start(server.port).await;
    let zk = connect(&proxy.connect_string()).await;
    let other = connect(&server.connect_string()).await;
    let open = Acl::open_unsafe();
    other
        .create("/s", Some(b"0"), &open, CreateMode::Persistent)
        .await
        .unwrap();
    let mut events = zk.events();
    within(events.next()).await.unwrap(); // SyncConnected
    let (_, _, data) = zk.get_data_and_watch("/s").await.unwrap();
    let (_, exists) = zk.exists_and_watch("/s/new").await.unwrap();
    let mut rec = zk
        .add_watch("/s", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();

    // Cut the client off, change things while it cannot hear, let it back.
    proxy.partition();
    assert_eq!(next_state(&mut events).await, KeeperState::Disconnected);
    assert_eq!(
        within(rec.next()).await.unwrap().state,
        KeeperState::Disconnected
    );
    let e = zk.get_data("/s", false).await.unwrap_err();
    assert!(e.is_connection_loss(), "{e}");
    other.set_data("/s", Some(b"1"), -1).await.unwrap();
    other
        .create("/s/new", None, &open, CreateMode::Persistent)
        .await
        .unwrap();
    proxy.heal();
    assert_eq!(next_state(&mut events).await, KeeperState::SyncConnected);
    // setWatches carried the last zxid the client saw: the server fires what changed since.
    assert_eq!(
        key(within(data).await),
        ev(EventType::NodeDataChanged, "/s")
    );
    assert_eq!(
        key(within(exists).await),
        ev(EventType::NodeCreated, "/s/new")
    );
    assert_eq!(
        within(rec.next()).await.unwrap().state,
        KeeperState::SyncConnected
    );
    // A recursive watch catches up on nothing by itself (the server just puts it back), but
    // the notifications the catch-up sends for the one-shot watches reach it too.
    assert_eq!(
        key(within(rec.next()).await.unwrap()),
        ev(EventType::NodeDataChanged, "/s")
    );
    assert_eq!(
        key(within(rec.next()).await.unwrap()),
        ev(EventType::NodeCreated, "/s/new")
    );
    // The persistent watch is back on the server: later changes reach it.
    other.set_data("/s/new", Some(b"x"), -1).await.unwrap();
    assert_eq!(
        key(within(rec.next()).await.unwrap()),
        ev(EventType::NodeDataChanged, "/s/new")
    );

    // A plain reconnect (same server) keeps them as well.
    let (_, _, data) = zk.get_data_and_watch("/s").await.unwrap();
    zk.reconnect();
    assert_eq!(next_state(&mut events).await, KeeperState::Disconnected);
    assert_eq!(next_state(&mut events).await, KeeperState::SyncConnected);
    other.set_data("/s", Some(b"2"), -1).await.unwrap();
    assert_eq!(
        key(within(data).await),
        ev(EventType::NodeDataChanged, "/s")
    );
    zk.close().await.unwrap();
    other.close().await.unwrap();
}
