//! A simulated ZooKeeper client: one session, one server at a time, pings when idle, notices a
//! silent server after two thirds of its session timeout, and re-attaches its session to
//! another server when its connection breaks — what the Java client, kazoo and Curator do.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
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
    pub session: SessionId,
    passwd: Vec<u8>,
    pub negotiated: i32,
    pub state: ClientState,
    conn: Option<(ServerId, ConnId)>,
    next_xid: i32,
    queued: VecDeque<(i32, Request)>,
    pending: BTreeMap<i32, (Request, Millis)>,
    pub last_zxid: Zxid,
    pub auto_reconnect: bool,
    /// The client allows read-only sessions (`canBeReadOnly`).
    pub can_be_read_only: bool,
    last_send: Millis,
    last_heard: Millis,
    /// Everything that happened, for whoever drives this client.
    pub events: VecDeque<ClientEvent>,
}

impl SimClient {
    pub fn new(id: ClientId, servers: Vec<ServerId>, timeout: i32) -> SimClient {
        SimClient {
            id,
            servers,
            timeout,
            session: SessionId(0),
            passwd: vec![0; 16],
            negotiated: timeout,
            state: ClientState::Disconnected,
            conn: None,
            next_xid: 0,
            queued: VecDeque::new(),
            pending: BTreeMap::new(),
            last_zxid: Zxid(0),
            auto_reconnect: true,
            can_be_read_only: false,
            last_send: 0,
            last_heard: 0,
            events: VecDeque::new(),
        }
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
        if matches!(
            self.state,
            ClientState::Expired
                | ClientState::Closed
                | ClientState::Connecting
                | ClientState::Connected
        ) {
            return None;
        }
        let server = *self.servers.first()?;
        self.conn = Some((server, conn));
        self.state = ClientState::Connecting;
        self.last_heard = now;
        Some((
            server,
            ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: self.last_zxid,
                timeout: self.timeout,
                session_id: self.session,
                passwd: self.passwd.clone(),
                read_only: Some(self.can_be_read_only),
            },
        ))
    }

    pub fn enqueue(&mut self, req: Request, now: Millis) -> i32 {
        let xid = if req == Request::Ping {
            xid::PING
        } else {
            self.next_xid += 1;
            self.next_xid
        };
        if matches!(self.state, ClientState::Expired | ClientState::Closed) {
            self.events
                .push_back(ClientEvent::Lost { xid, request: req });
            return xid;
        }
        self.queued.push_back((xid, req));
        let _ = now;
        xid
    }

    /// Requests that can go out now.
    pub fn take_sendable(&mut self, now: Millis) -> Vec<(i32, Request)> {
        if self.state != ClientState::Connected {
            return Vec::new();
        }
        let server = self.server().unwrap_or_default();
        let mut v = Vec::new();
        while let Some((xid, req)) = self.queued.pop_front() {
            if xid != xid::PING {
                self.pending.insert(xid, (req.clone(), now));
                self.events.push_back(ClientEvent::Sent {
                    server,
                    xid,
                    request: req.clone(),
                });
            }
            v.push((xid, req));
        }
        if !v.is_empty() {
            self.last_send = now;
        }
        v
    }

    /// Drops the current connection; pending requests are lost.
    pub fn drop_connection(&mut self, now: Millis, why: &str) -> Option<(ServerId, ConnId)> {
        let old = self.conn.take();
        if let Some((server, _)) = old {
            self.events.push_back(ClientEvent::Disconnected {
                server,
                why: why.to_string(),
            });
        }
        for (xid, (request, _)) in std::mem::take(&mut self.pending) {
            self.events.push_back(ClientEvent::Lost { xid, request });
        }
        for (xid, request) in std::mem::take(&mut self.queued) {
            if xid != xid::PING {
                self.events.push_back(ClientEvent::Lost { xid, request });
            }
        }
        if !matches!(self.state, ClientState::Expired | ClientState::Closed) {
            self.state = ClientState::Disconnected;
        }
        let _ = now;
        old
    }

    /// Handles what a server sent; returns the events it caused (also queued in `events`).
    pub fn receive(&mut self, conn: ConnId, msg: FromServer, now: Millis) -> Vec<ClientEvent> {
        let before = self.events.len();
        if self.conn.map(|(_, c)| c) != Some(conn) {
            return Vec::new(); // an old connection
        }
        self.last_heard = now;
        let server = self.server().unwrap_or_default();
        match msg {
            FromServer::Closed(why) => {
                self.drop_connection(now, &why);
            }
            FromServer::Output(o) => match o {
                ClientOutput::Connected { resp, .. } => {
                    if resp.timeout <= 0 || resp.session_id.0 == 0 {
                        self.state = ClientState::Expired;
                        self.conn = None;
                        self.events.push_back(ClientEvent::Expired { server });
                        for (xid, request) in std::mem::take(&mut self.queued) {
                            self.events.push_back(ClientEvent::Lost { xid, request });
                        }
                    } else {
                        self.session = resp.session_id;
                        self.passwd = resp.passwd.clone();
                        self.negotiated = resp.timeout;
                        self.state = ClientState::Connected;
                        self.events.push_back(ClientEvent::Connected {
                            server,
                            session: resp.session_id,
                            timeout: resp.timeout,
                        });
                    }
                }
                ClientOutput::Reply { reply, .. } => {
                    if reply.zxid.0 > 0 && reply.zxid > self.last_zxid {
                        self.last_zxid = reply.zxid;
                    }
                    if reply.xid == xid::PING {
                        return self.events.iter().skip(before).cloned().collect();
                    }
                    if let Some((request, sent_at)) = self.pending.remove(&reply.xid) {
                        if request == Request::CloseSession {
                            self.state = ClientState::Closed;
                            self.auto_reconnect = false;
                        }
                        self.events.push_back(ClientEvent::Reply {
                            server,
                            request,
                            reply,
                            sent_at,
                        });
                    }
                }
                ClientOutput::Event { event, .. } => {
                    self.events.push_back(ClientEvent::Watch { server, event });
                }
                ClientOutput::Close { reason, .. } => {
                    self.drop_connection(now, &reason);
                }
            },
        }
        self.events.iter().skip(before).cloned().collect()
    }

    /// Pings when idle; gives up on a silent server. Returns (ping now?, next tick).
    pub fn tick(&mut self, now: Millis) -> (bool, Option<Millis>) {
        match self.state {
            ClientState::Connected | ClientState::Connecting => {
                let read_timeout = (self.negotiated as Millis * 2 / 3).max(1);
                if now.saturating_sub(self.last_heard) > read_timeout {
                    self.drop_connection(now, "server silent for 2/3 of the session timeout");
                    return (false, Some(now + 1));
                }
                let ping_every = (self.negotiated as Millis / 3).max(1);
                let ping = self.state == ClientState::Connected
                    && now.saturating_sub(self.last_send) >= ping_every;
                if ping {
                    self.last_send = now;
                }
                (ping, Some(now + ping_every.min(read_timeout / 2).max(1)))
            }
            ClientState::Disconnected => (
                false,
                if self.auto_reconnect {
                    Some(now + 1)
                } else {
                    None
                },
            ),
            _ => (false, None),
        }
    }
}
