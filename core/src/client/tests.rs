use super::*;
use crate::proto::{encode_reply, encode_watch_event};
use crate::request::{Response, SetWatches};
use crate::stat::Stat;

type S = Session<&'static str>;

fn session(cfg: SessionConfig) -> S {
    Session::new(cfg)
}

fn outputs(s: &mut S) -> Vec<Output<&'static str>> {
    std::iter::from_fn(|| s.poll()).collect()
}

fn response(id: i64, timeout: i32) -> ConnectResponse {
    ConnectResponse {
        protocol_version: 0,
        timeout,
        session_id: SessionId(id),
        passwd: vec![7; 16],
        read_only: false,
    }
}

fn reply(xid: i32, zxid: u64, err: ErrorCode, body: Response) -> Reply {
    Reply {
        xid,
        zxid: Zxid(zxid),
        err,
        body,
    }
}

fn get_data(path: &str) -> Request {
    Request::GetData {
        path: path.into(),
        watch: true,
    }
}

fn data(stat_zxid: u64) -> Response {
    Response::GetData {
        data: Some(b"x".to_vec()),
        stat: Stat {
            mzxid: Zxid(stat_zxid),
            ..Stat::default()
        },
    }
}

/// A session connected at time 0 with a 3 s timeout; its outputs so far are discarded.
fn connected() -> S {
    let mut s = session(SessionConfig::new(3000, 1));
    s.start_connect(0).unwrap();
    s.connected(&response(0x11, 3000), 0);
    outputs(&mut s);
    s
}

fn sends(outs: &[Output<&'static str>]) -> Vec<(i32, Request)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { xid, request } => Some((*xid, request.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_new_connection_sends_auth_then_watches_then_what_waited() {
    let mut cfg = SessionConfig::new(3000, 1);
    cfg.auths = vec![("digest".into(), b"u:p".to_vec())];
    let mut s = session(cfg);
    // Asked before there is a connection: waits for one.
    let x = s.request(Request::Sync { path: "/".into() }, None, "sync", 0);
    assert!(outputs(&mut s).is_empty());
    let req = s.start_connect(0).unwrap();
    assert_eq!(req.session_id, SessionId(0));
    assert_eq!(req.timeout, 3000);
    s.connected(&response(0x11, 3000), 5);
    let outs = outputs(&mut s);
    assert!(matches!(
        outs[0],
        Output::State {
            state: States::Connected,
            keeper: KeeperState::SyncConnected
        }
    ));
    let sent = sends(&outs);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].0, xid::AUTH);
    assert!(matches!(&sent[0].1, Request::Auth { scheme, .. } if scheme == "digest"));
    assert_eq!(sent[1], (x, Request::Sync { path: "/".into() }));
    assert_eq!(s.state(), States::Connected);
    assert_eq!(s.session_id(), SessionId(0x11));
}

#[test]
fn watches_and_the_session_go_to_the_next_server() {
    let mut s = connected();
    let x = s.request(
        get_data("/a"),
        Registration::by_flag(&get_data("/a"), None),
        "get",
        1,
    );
    s.on_reply(reply(x, 0x105, ErrorCode::Ok, data(0x100)), 2);
    let outs = outputs(&mut s);
    assert!(matches!(
        &outs[..],
        [
            _,
            Output::Reply {
                tag: "get",
                result: Ok(_),
                ..
            }
        ]
    ));
    assert_eq!(s.last_zxid(), Zxid(0x105));
    // A request in flight when the connection breaks fails with ConnectionLoss.
    let y = s.request(Request::Sync { path: "/".into() }, None, "sync", 3);
    s.connection_lost("reset");
    let outs = outputs(&mut s);
    assert!(matches!(
        &outs[..],
        [
            Output::Send { .. },
            Output::Reply { tag: "sync", xid, result: Err(Failure::Code(ErrorCode::ConnectionLoss)) },
            Output::State { state: States::Connecting, keeper: KeeperState::Disconnected },
        ] if *xid == y
    ));
    // The next server is asked for the same session, from where the client has seen.
    let req = s.start_connect(10).unwrap();
    assert_eq!(req.session_id, SessionId(0x11));
    assert_eq!(req.passwd, vec![7; 16]);
    assert_eq!(req.last_zxid_seen, Zxid(0x105));
    s.connected(&response(0x11, 3000), 11);
    let sent = sends(&outputs(&mut s));
    assert_eq!(
        sent,
        vec![(
            xid::SET_WATCHES,
            Request::SetWatches {
                v2: false,
                watches: SetWatches {
                    relative_zxid: Zxid(0x105),
                    data: vec!["/a".into()],
                    ..SetWatches::default()
                }
            }
        )]
    );
    // It fires once.
    let ev = WatchedEvent {
        event_type: EventType::NodeDataChanged,
        state: KeeperState::SyncConnected,
        path: "/a".into(),
    };
    s.on_event(ev.clone(), 12);
    s.on_event(ev, 13);
    let outs = outputs(&mut s);
    assert_eq!(outs.len(), 1);
    assert!(matches!(
        &outs[0],
        Output::Watch { watcher: WatcherId::Default, event } if event.path == "/a"
    ));
}

#[test]
fn a_reply_out_of_order_breaks_the_connection() {
    let mut s = connected();
    let a = s.request(Request::Sync { path: "/".into() }, None, "a", 1);
    let b = s.request(Request::Sync { path: "/".into() }, None, "b", 1);
    outputs(&mut s);
    s.on_reply(reply(b, 0x105, ErrorCode::Ok, Response::Empty), 2);
    let outs = outputs(&mut s);
    let Output::Drop { cause } = &outs[0] else {
        panic!("{outs:?}")
    };
    assert!(cause.is_wrong_answer());
    assert_eq!(
        cause.to_string(),
        format!("Xid out of order. Got Xid {b} with err 0 expected Xid {a}")
    );
    let lost: Vec<&str> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Reply {
                tag,
                result: Err(Failure::Code(ErrorCode::ConnectionLoss)),
                ..
            } => Some(*tag),
            _ => None,
        })
        .collect();
    assert_eq!(lost, vec!["a", "b"]);
    assert!(s.is_idle());
}

#[test]
fn pings_at_a_third_and_gives_up_at_two_thirds() {
    let mut s = connected();
    assert_eq!(s.tick(500), Some(1000));
    assert!(outputs(&mut s).is_empty());
    assert_eq!(s.tick(1000), Some(2000));
    assert_eq!(sends(&outputs(&mut s)), vec![(xid::PING, Request::Ping)]);
    // The ping's answer counts as hearing from the server.
    s.on_reply(
        reply(xid::PING, 0x105, ErrorCode::Ok, Response::Empty),
        1500,
    );
    assert_eq!(
        s.last_zxid(),
        Zxid(0),
        "pings do not move the last zxid seen"
    );
    assert_eq!(s.tick(1600), Some(2000));
    outputs(&mut s);
    assert_eq!(s.tick(3499), Some(3500));
    outputs(&mut s);
    assert_eq!(s.tick(3500), None);
    let outs = outputs(&mut s);
    assert!(
        matches!(&outs[0], Output::Drop { cause } if cause.to_string().starts_with("Client session timed out, have not heard from server in 2000ms"))
    );
    assert!(s.is_idle());
}

#[test]
fn an_attempt_gets_the_timeout_divided_by_the_hosts() {
    let mut s = session(SessionConfig::new(6000, 3));
    assert_eq!(s.connect_timeout(), 2000);
    s.start_connect(100).unwrap();
    assert_eq!(s.tick(1000), Some(2100));
    assert_eq!(s.tick(2100), None);
    assert!(
        matches!(&outputs(&mut s)[..], [Output::Drop { cause }] if cause.to_string() == "no session within 2000 ms")
    );
    assert!(s.is_idle());
}

#[test]
fn an_expired_session_fails_everything_and_tells_every_watcher() {
    let mut s = connected();
    let x = s.request(
        get_data("/a"),
        Some(Registration {
            request: WatchRequest::Data,
            path: "/a".into(),
            watcher: WatcherId::Oneshot(4),
        }),
        "get",
        1,
    );
    s.on_reply(reply(x, 0x105, ErrorCode::Ok, data(0x100)), 2);
    s.connection_lost("reset");
    outputs(&mut s);
    s.request(Request::Sync { path: "/".into() }, None, "queued", 3);
    s.start_connect(4).unwrap();
    s.connected(&response(0, 0), 5);
    let outs = outputs(&mut s);
    assert!(matches!(
        &outs[..],
        [
            Output::Reply { tag: "queued", result: Err(Failure::Code(ErrorCode::SessionExpired)), .. },
            Output::State { state: States::Expired, keeper: KeeperState::Expired },
            Output::Watch { watcher: WatcherId::Oneshot(4), event },
        ] if event.event_type == EventType::None && event.state == KeeperState::Expired
    ));
    assert_eq!(s.ended(), Some(End::Expired));
    s.request(Request::Sync { path: "/".into() }, None, "late", 6);
    assert!(matches!(
        &outputs(&mut s)[..],
        [Output::Reply {
            tag: "late",
            result: Err(Failure::Code(ErrorCode::SessionExpired)),
            ..
        }]
    ));
}

#[test]
fn close_waits_for_the_answer_then_refuses_everything() {
    let mut s = connected();
    let x = s.close("close", 1);
    assert_eq!(sends(&outputs(&mut s)), vec![(x, Request::CloseSession)]);
    s.request(Request::Sync { path: "/".into() }, None, "after", 2);
    assert!(matches!(
        &outputs(&mut s)[..],
        [Output::Reply {
            tag: "after",
            result: Err(Failure::Closed),
            ..
        }]
    ));
    s.on_reply(reply(x, 0x106, ErrorCode::Ok, Response::Empty), 3);
    let outs = outputs(&mut s);
    assert!(matches!(&outs[0], Output::Drop { .. }));
    assert!(matches!(
        &outs[1],
        Output::State {
            state: States::Closed,
            ..
        }
    ));
    assert!(matches!(
        &outs[2],
        Output::Closed {
            tag: "close",
            reply: Some(_),
            ..
        }
    ));
    assert_eq!(s.state(), States::Closed);
}

#[test]
fn close_without_a_connection_ends_at_once() {
    let mut s = session(SessionConfig::new(3000, 1));
    s.close("close", 0);
    let outs = outputs(&mut s);
    assert!(matches!(
        &outs[..],
        [
            Output::State {
                state: States::Closed,
                ..
            },
            Output::Closed {
                tag: "close",
                reply: None,
                ..
            }
        ]
    ));
    assert_eq!(s.start_connect(1), None);
}

#[test]
fn a_refused_auth_ends_the_session() {
    let mut s = connected();
    s.add_auth("digest", b"u:wrong", "auth", 1);
    assert_eq!(sends(&outputs(&mut s))[0].0, xid::AUTH);
    s.on_reply(
        reply(xid::AUTH, 0, ErrorCode::AuthFailed, Response::Empty),
        2,
    );
    let outs = outputs(&mut s);
    assert!(matches!(
        &outs[0],
        Output::Auth {
            tag: "auth",
            result: Err(Failure::Code(ErrorCode::AuthFailed))
        }
    ));
    assert_eq!(s.ended(), Some(End::AuthFailed));
}

#[test]
fn frames_are_read_with_the_opcode_of_the_request_they_answer() {
    let mut s = connected();
    let x = s.request(get_data("/a"), None, "get", 1);
    outputs(&mut s);
    let ev = WatchedEvent {
        event_type: EventType::NodeDataChanged,
        state: KeeperState::SyncConnected,
        path: "/a".into(),
    };
    s.on_frame(&encode_watch_event(&ev), 2);
    s.on_frame(
        &encode_reply(&reply(x, 0x107, ErrorCode::Ok, data(0x106))),
        3,
    );
    let outs = outputs(&mut s);
    assert!(
        matches!(&outs[..], [Output::Reply { tag: "get", result: Ok(r), .. }] if r.body == data(0x106)),
        "a notification for a watch not set is not passed on: {outs:?}"
    );
    s.on_frame(&[0, 1], 4);
    assert!(matches!(&outputs(&mut s)[0], Output::Drop { .. }));
    assert!(s.is_idle());
}

#[test]
fn chroot_paths_in_watches_and_events() {
    let mut cfg = SessionConfig::new(3000, 1);
    cfg.chroot = Some("/app".into());
    let mut s = session(cfg);
    s.start_connect(0).unwrap();
    s.connected(&response(0x11, 3000), 0);
    outputs(&mut s);
    let req = get_data("/app/a");
    let x = s.request(
        req.clone(),
        Registration::by_flag(&req, Some("/app")),
        "get",
        1,
    );
    s.on_reply(reply(x, 0x105, ErrorCode::Ok, data(0x100)), 2);
    outputs(&mut s);
    assert_eq!(
        s.watches().set_watches(Some("/app"), Zxid(1))[0].1.data,
        vec!["/app/a".to_string()]
    );
    s.on_event(
        WatchedEvent {
            event_type: EventType::NodeDeleted,
            state: KeeperState::SyncConnected,
            path: "/app/a".into(),
        },
        3,
    );
    assert!(matches!(&outputs(&mut s)[..], [Output::Watch { event, .. }] if event.path == "/a"));
}
