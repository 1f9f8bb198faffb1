//! A simulated ZooKeeper client: zk-core's client [`Session`] — the one zkserver's client
//! library, zkcli and zkbench run — driven over the simulated network. The session pings when
//! idle, gives up a silent server after two thirds of its timeout, re-attaches to another server
//! when its connection breaks, and sends its auth and its watches again there; this module only
//! picks the server, carries the messages and records what happened as [`ClientEvent`]s.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use zk_core::client::{Output, Registration, Session, SessionConfig, States};
use zk_core::output::ClientOutput;
use zk_core::request::{xid, ConnectRequest, Reply, Request, WatchedEvent};
use zk_core::types::{ConnId, Millis, ServerId, SessionId, Zxid};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientId(pub u64);

/// Client → server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToServer {
    Connect(ConnectRequest),
    Request(i32, Request),
    Disconnect,
}

/// Server → client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FromServer {
    Output(ClientOutput),
    Closed(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientState {
    Disconnected,
    Connecting,
    Connected,
    /// The session is gone; a new client is needed.
    Expired,
    Closed,
}

/// What happened to a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientEvent {
    Connected {
        server: ServerId,
        session: SessionId,
        timeout: i32,
    },
    Disconnected {
        server: ServerId,
        why: String,
    },
    Expired {
        server: ServerId,
    },
    Sent {
        server: ServerId,
        xid: i32,
        request: Request,
    },
    Reply {
        server: ServerId,
        request: Request,
        reply: Reply,
        sent_at: Millis,
    },
    /// The connection broke before the reply: the outcome is unknown (ConnectionLoss).
    Lost {
        xid: i32,
        request: Request,
    },
    Watch {
        server: ServerId,
        event: WatchedEvent,
    },
}

#[derive(Clone, Debug)]
pub struct SimClient {
    pub id: ClientId,
    pub servers: Vec<ServerId>,
    pub timeout: i32,
    session: Session<Request>,
    pub state: ClientState,
    conn: Option<(ServerId, ConnId)>,
    /// When each request in flight went out.
    sent_at: BTreeMap<i32, Millis>,
    /// What the session asked to send, for the current connection.
    outbox: VecDeque<(i32, Request)>,
    /// Why the connection is being given up (the session's own reason).
    why: Option<String>,
    pub auto_reconnect: bool,
    /// Everything that happened, for whoever drives this client.
    pub events: VecDeque<ClientEvent>,
}

impl SimClient {
    pub fn new(id: ClientId, servers: Vec<ServerId>, timeout: i32, read_only: bool) -> SimClient {
        let mut cfg = SessionConfig::new(timeout, servers.len());
        cfg.read_only = read_only;
        cfg.connect_timeout = Some((timeout.max(3) as Millis) * 2 / 3);
        SimClient {
            id,
            servers,
            timeout,
            session: Session::new(cfg),
            state: ClientState::Disconnected,
            conn: None,
            sent_at: BTreeMap::new(),
            outbox: VecDeque::new(),
            why: None,
            auto_reconnect: true,
            events: VecDeque::new(),
        }
    }

    /// The session this client runs.
    pub fn session(&self) -> &Session<Request> {
        &self.session
    }

    pub fn session_id(&self) -> SessionId {
        self.session.session_id()
    }

    pub fn negotiated(&self) -> i32 {
        self.session.negotiated_timeout()
    }

    pub fn last_zxid(&self) -> Zxid {
        self.session.last_zxid()
    }

    pub fn connection(&self) -> Option<(ServerId, ConnId)> {
        if self.state == ClientState::Connected {
            self.conn
        } else {
            None
        }
    }

    /// The server this client talks to (or is trying to).
    pub fn server(&self) -> Option<ServerId> {
        self.conn.map(|(s, _)| s)
    }

    pub fn wants_connect(&self) -> bool {
        self.state == ClientState::Disconnected && self.auto_reconnect
    }

    /// Picks the next server to try.
    pub fn rotate(&mut self, pick: u64) {
        if self.servers.len() > 1 {
            let n = (pick % self.servers.len() as u64) as usize;
            self.servers.rotate_left(n.max(1));
        }
    }

    pub fn start_connect(
        &mut self,
        conn: ConnId,
        now: Millis,
    ) -> Option<(ServerId, ConnectRequest)> {
        let server = *self.servers.first()?;
        let req = self.session.start_connect(now)?;
        self.why = None;
        self.conn = Some((server, conn));
        self.pump(now);
        Some((server, req))
    }

    /// Sends a request (queued until the session is connected). Returns its xid.
    pub fn enqueue(&mut self, req: Request, now: Millis) -> i32 {
        let xid = match req {
            Request::CloseSession => self.session.close(req, now),
            // Answered ahead of the requests in the server's pipeline, with xid -4: the
            // session keeps the auth for later connections, and the reply carries that xid.
            Request::Auth {
                ref scheme,
                ref auth,
                ..
            } => {
                let (scheme, auth) = (scheme.clone(), auth.clone());
                self.session.add_auth(&scheme, &auth, req, now);
                xid::AUTH
            }
            Request::RemoveWatches {
                ref path,
                watcher_type,
            } => {
                let path = path.clone();
                let t = zk_core::client::WatcherType::from_code(watcher_type);
                self.session.remove_watches(&path, t, false, req, now)
            }
            req => {
                let watch = Registration::by_flag(&req, None);
                self.session.request(req.clone(), watch, req, now)
            }
        };
        self.pump(now);
        xid
    }

    /// Requests that can go out now.
    pub fn take_sendable(&mut self, _now: Millis) -> Vec<(i32, Request)> {
        if self.state != ClientState::Connected {
            return Vec::new();
        }
        self.outbox.drain(..).collect()
    }

    /// Drops the current connection; what was in flight is lost.
    pub fn drop_connection(&mut self, now: Millis, why: &str) -> Option<(ServerId, ConnId)> {
        self.why = Some(why.to_string());
        self.session.connection_lost(why);
        self.pump(now);
        self.conn.take()
    }

    /// Ends the session here without telling anyone, as a process that dies does.
    pub fn abandon(&mut self, now: Millis) -> Option<(ServerId, ConnId)> {
        self.auto_reconnect = false;
        let old = self.drop_connection(now, "abandoned");
        self.session.abandon();
        self.pump(now);
        old
    }

    /// Handles what a server sent; returns the events it caused (also queued in `events`).
    pub fn receive(&mut self, conn: ConnId, msg: FromServer, now: Millis) -> Vec<ClientEvent> {
        let before = self.events.len();
        if self.conn.map(|(_, c)| c) != Some(conn) {
            return Vec::new(); // an old connection
        }
        match msg {
            FromServer::Closed(why) => {
                self.why = Some(why.clone());
                self.session.connection_lost(&why);
            }
            FromServer::Output(o) => match o {
                ClientOutput::Connected { resp, .. } => self.session.connected(&resp, now),
                ClientOutput::Reply { reply, .. } => self.session.on_reply(reply, now),
                ClientOutput::Event { event, .. } => self.session.on_event(event, now),
                ClientOutput::Close { reason, .. } => {
                    self.why = Some(reason.clone());
                    self.session.connection_lost(&reason);
                }
            },
        }
        self.pump(now);
        self.events.iter().skip(before).cloned().collect()
    }

    /// Pings, read and connect timeouts. Returns the next tick.
    pub fn tick(&mut self, now: Millis) -> Option<Millis> {
        let next = self.session.tick(now);
        self.pump(now);
        match self.state {
            ClientState::Connected | ClientState::Connecting => Some(next.unwrap_or(now + 1)),
            ClientState::Disconnected if self.auto_reconnect => Some(now + 1),
            _ => None,
        }
    }

    /// Turns what the session said into sends and events.
    fn pump(&mut self, now: Millis) {
        let server = self.server().unwrap_or_default();
        while let Some(out) = self.session.poll() {
            match out {
                Output::Send { xid, request } => {
                    if xid > 0 {
                        self.sent_at.insert(xid, now);
                        self.events.push_back(ClientEvent::Sent {
                            server,
                            xid,
                            request: request.clone(),
                        });
                    }
                    self.outbox.push_back((xid, request));
                }
                Output::State { state, .. } => match state {
                    States::Connected | States::ConnectedReadOnly => {
                        self.events.push_back(ClientEvent::Connected {
                            server,
                            session: self.session.session_id(),
                            timeout: self.session.negotiated_timeout(),
                        });
                    }
                    States::Connecting => {
                        let why = self.why.take().unwrap_or_default();
                        self.events
                            .push_back(ClientEvent::Disconnected { server, why });
                    }
                    States::Expired => self.events.push_back(ClientEvent::Expired { server }),
                    States::Closed | States::AuthFailed => {}
                },
                Output::Drop { cause } => self.why = Some(cause.to_string()),
                Output::Reply { tag, xid, result } => {
                    let sent_at = self.sent_at.remove(&xid).unwrap_or(now);
                    self.events.push_back(match result {
                        Ok(reply) => ClientEvent::Reply {
                            server,
                            request: tag,
                            reply,
                            sent_at,
                        },
                        Err(_) => ClientEvent::Lost { xid, request: tag },
                    });
                }
                Output::Closed { tag, xid, reply } => {
                    self.auto_reconnect = false;
                    let sent_at = self.sent_at.remove(&xid).unwrap_or(now);
                    self.events.push_back(match reply {
                        Some(reply) => ClientEvent::Reply {
                            server,
                            request: tag,
                            sent_at,
                            reply,
                        },
                        None => ClientEvent::Lost { xid, request: tag },
                    });
                }
                Output::Watch { event, .. } => {
                    if event.event_type != zk_core::request::EventType::None {
                        self.events.push_back(ClientEvent::Watch { server, event });
                    }
                }
                Output::Auth { tag, result } => {
                    self.events.push_back(ClientEvent::Reply {
                        server,
                        request: tag,
                        reply: answer(xid::AUTH, result),
                        sent_at: now,
                    });
                }
                Output::Removed { tag, xid, result } => {
                    let sent_at = self.sent_at.remove(&xid).unwrap_or(now);
                    self.events.push_back(ClientEvent::Reply {
                        server,
                        request: tag,
                        reply: answer(xid, result),
                        sent_at,
                    });
                }
                Output::Unregistered { .. } => {}
            }
        }
        self.state = if self.session.is_connecting() {
            ClientState::Connecting
        } else {
            match self.session.state() {
                States::Connected | States::ConnectedReadOnly => ClientState::Connected,
                States::Connecting => ClientState::Disconnected,
                States::Expired => ClientState::Expired,
                States::Closed | States::AuthFailed => ClientState::Closed,
            }
        };
        if self.state != ClientState::Connected {
            self.outbox.clear();
            if self.state != ClientState::Connecting {
                self.conn = None;
            }
        }
        if matches!(self.state, ClientState::Expired | ClientState::Closed) {
            self.auto_reconnect = false;
        }
    }
}

/// A reply for an answer the session gives without one of the server's (auth, removeWatches).
fn answer(xid: i32, result: Result<(), zk_core::client::Failure>) -> Reply {
    let err = match result {
        Ok(()) => zk_core::ErrorCode::Ok,
        Err(zk_core::client::Failure::Code(c)) => c,
        Err(zk_core::client::Failure::Closed) => zk_core::ErrorCode::SessionExpired,
    };
    Reply {
        xid,
        zxid: Zxid(0),
        err,
        body: zk_core::request::Response::Empty,
    }
}
