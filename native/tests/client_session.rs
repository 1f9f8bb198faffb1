//! Sessions against a real server: re-attaching before and after the timeout, expiry seen by a
//! client cut off by a partition, failing over to the next server of the connect string, and
//! what pending requests get when the connection breaks.

mod client_harness;

use std::time::Duration;

use client_harness::{free_port, next_state, wait_gone, within, Proxy, TestServer};
use zk_native::client::{
    Acl, Client, ClientError, CreateMode, ErrorCode, EventType, KeeperState, States,
};

/// The server's minimum: 2 ticks of 500 ms. Sessions this short expire within a test.
const SHORT: Duration = Duration::from_millis(1000);

#[tokio::test]
async fn reattach_before_and_after_the_timeout() {
    let server = TestServer::start();
    let cs = server.connect_string();
    let observer = within(Client::connect(&cs, Duration::from_secs(10)))
        .await
        .unwrap();
    let open = Acl::open_unsafe();

    // A session left without closing it, as a crashed process leaves it ...
    let zk = within(Client::connect(&cs, SHORT)).await.unwrap();
    let (id, pw) = (zk.session_id(), zk.session_password());
    assert_eq!(zk.session_timeout(), SHORT);
    zk.create("/e", Some(b"e"), &open, CreateMode::Ephemeral)
        .await
        .unwrap();
    within(zk.abandon()).await;
    // ... can be re-attached to within its timeout: same session, its ephemeral still there.
    let again = within(
        Client::builder(&cs, SHORT)
            .session(id, pw.clone())
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(again.session_id(), id);
    assert_eq!(
        again
            .exists("/e", false)
            .await
            .unwrap()
            .unwrap()
            .ephemeral_owner,
        id.0
    );
    within(again.abandon()).await;

    // After the timeout the server has expired it: re-attaching fails with SessionExpired.
    wait_gone(&observer, "/e").await;
    let e = within(
        Client::builder(&cs, SHORT)
            .session(id, pw.clone())
            .connect(),
    )
    .await
    .err()
    .unwrap();
    assert!(e.is_session_expired(), "{e}");
    assert_eq!(e.to_string(), "KeeperErrorCode = Session expired");
    // A spawned client hears it as an event, and is done.
    let late = Client::builder(&cs, SHORT).session(id, pw).spawn().unwrap();
    let mut events = late.events();
    let ev = within(events.next()).await.unwrap();
    assert_eq!(
        (ev.event_type, ev.state),
        (EventType::None, KeeperState::Expired)
    );
    assert_eq!(within(events.next()).await, None);
    assert_eq!(late.state(), States::Expired);
    assert!(late
        .get_data("/", false)
        .await
        .unwrap_err()
        .is_session_expired());
    observer.close().await.unwrap();
}

#[tokio::test]
async fn a_partitioned_client_hears_its_session_expired() {
    let server = TestServer::start();
    let proxy = Proxy::start(server.port).await;
    let observer = within(Client::connect(
        &server.connect_string(),
        Duration::from_secs(10),
    ))
    .await
    .unwrap();
    let zk = within(Client::connect(&proxy.connect_string(), SHORT))
        .await
        .unwrap();
    let mut events = zk.events();
    assert_eq!(next_state(&mut events).await, KeeperState::SyncConnected);
    zk.create("/p", None, &Acl::open_unsafe(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let (_, pending) = zk.exists_and_watch("/never").await.unwrap();

    proxy.partition();
    assert_eq!(next_state(&mut events).await, KeeperState::Disconnected);
    assert_eq!(zk.state(), States::Connecting);
    // While cut off, calls fail with ConnectionLoss, naming their path.
    let e = within(zk.get_data("/p", false)).await.unwrap_err();
    assert_eq!(e.to_string(), "KeeperErrorCode = ConnectionLoss for /p");
    // The server expires the session; the client learns it when it gets through again.
    wait_gone(&observer, "/p").await;
    proxy.heal();
    let ev = within(events.next()).await.unwrap();
    assert_eq!(
        (ev.event_type, ev.state),
        (EventType::None, KeeperState::Expired)
    );
    assert_eq!(zk.state(), States::Expired);
    let ev = within(pending).await;
    assert_eq!(ev.state, KeeperState::Expired);
    assert_eq!(
        zk.exists("/", false).await.unwrap_err().keeper_code(),
        Some(ErrorCode::SessionExpired)
    );
    observer.close().await.unwrap();
}

#[tokio::test]
async fn fails_over_to_the_next_server() {
    let server = TestServer::start();
    // A dead address first: whichever order the client shuffles them into, it ends up on the
    // live one.
    let dead = free_port();
    let cs = format!("127.0.0.1:{dead},{}", server.connect_string());
    for _ in 0..3 {
        let zk = within(
            Client::builder(&cs, Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(20))
                .connect(),
        )
        .await
        .unwrap();
        assert_eq!(zk.server(), Some(server.connect_string()));
        zk.close().await.unwrap();
    }
}

#[tokio::test]
async fn the_session_survives_a_server_restart() {
    let mut server = TestServer::start();
    let zk = within(Client::connect(
        &server.connect_string(),
        Duration::from_secs(10),
    ))
    .await
    .unwrap();
    let id = zk.session_id();
    let open = Acl::open_unsafe();
    zk.create("/r", Some(b"0"), &open, CreateMode::Persistent)
        .await
        .unwrap();
    zk.create("/r/e", None, &open, CreateMode::Ephemeral)
        .await
        .unwrap();
    let (_, _, watch) = zk.get_data_and_watch("/r").await.unwrap();
    let mut events = zk.events();
    within(events.next()).await.unwrap();

    server.restart();
    assert_eq!(next_state(&mut events).await, KeeperState::Disconnected);
    assert_eq!(next_state(&mut events).await, KeeperState::SyncConnected);
    assert_eq!(zk.session_id(), id);
    assert!(zk.exists("/r/e", false).await.unwrap().is_some());
    let other = within(Client::connect(
        &server.connect_string(),
        Duration::from_secs(10),
    ))
    .await
    .unwrap();
    other.set_data("/r", Some(b"1"), -1).await.unwrap();
    let ev = within(watch).await;
    assert_eq!(
        (ev.event_type, ev.path.as_str()),
        (EventType::NodeDataChanged, "/r")
    );
    zk.close().await.unwrap();
    assert_eq!(other.exists("/r/e", false).await.unwrap(), None);
    other.close().await.unwrap();
}

#[tokio::test]
async fn dropping_every_handle_closes_the_session() {
    let server = TestServer::start();
    let cs = server.connect_string();
    let observer = within(Client::connect(&cs, Duration::from_secs(10)))
        .await
        .unwrap();
    let zk = within(Client::connect(&cs, Duration::from_secs(10)))
        .await
        .unwrap();
    let clone = zk.clone();
    clone
        .create("/d", None, &Acl::open_unsafe(), CreateMode::Ephemeral)
        .await
        .unwrap();
    let mut events = zk.events();
    drop(zk);
    assert!(observer.exists("/d", false).await.unwrap().is_some());
    drop(clone);
    // Well before the 10 s timeout: the session was closed, not left to expire.
    tokio::time::timeout(Duration::from_secs(5), wait_gone(&observer, "/d"))
        .await
        .expect("the session was closed when its last handle went");
    let mut last = None;
    while let Some(ev) = within(events.next()).await {
        last = Some(ev.state);
    }
    assert_eq!(last, Some(KeeperState::Closed));
    assert!(matches!(
        observer.get_data("/nope", false).await,
        Err(ClientError::Keeper {
            code: ErrorCode::NoNode,
            ..
        })
    ));
    observer.close().await.unwrap();
}
