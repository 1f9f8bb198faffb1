//! An in-memory driver for a standalone server, shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use zk_core::acl::Acl;
use zk_core::output::ClientOutput;
use zk_core::peer::{HaltReason, Output, Peer, PeerConfig, PersistFailure, PersistOp, Restored};
use zk_core::request::*;
use zk_core::server::ServerConfig;
use zk_core::stat::Stat;
use zk_core::tree::DataTree;
use zk_core::txn::{op, TxnEntry};
use zk_core::{ConnId, Millis, ServerId, SessionId, Zxid};

/// An in-memory driver: persists at once, files client outputs per connection.
pub struct Harness {
    pub s: Peer,
    pub now: Millis,
    pub log: Vec<TxnEntry>,
    inbox: BTreeMap<ConnId, Vec<ClientOutput>>,
    next_conn: u64,
    next_xid: BTreeMap<ConnId, i32>,
    /// Leave appends unpersisted until `flush`.
    pub hold_disk: bool,
    held: Vec<u64>,
    /// The disk has no room: every op fails with NoSpace (a probe too) until this is cleared.
    pub disk_full: bool,
    /// Every write batch fails as a failed fsync does.
    pub fsync_fails: bool,
    /// After a failure, ops are dropped until the next probe (the driver's contract).
    discarding: bool,
    pub halted: Option<HaltReason>,
}

impl Harness {
    pub fn new() -> Harness {
        Harness::with(ServerConfig {
            wall_clock_base: 1_700_000_000_000,
            ..ServerConfig::with_tick(2000)
        })
    }

    pub fn with(config: ServerConfig) -> Harness {
        let tree = DataTree::new(config.extended_types);
        Harness::from_tree(config, tree)
    }

    pub fn from_tree(config: ServerConfig, tree: DataTree) -> Harness {
        Harness {
            s: Peer::new(
                PeerConfig::standalone(ServerId(1), config),
                Restored {
                    tree,
                    ..Default::default()
                },
                0,
            ),
            now: 0,
            log: Vec::new(),
            inbox: BTreeMap::new(),
            next_conn: 1,
            next_xid: BTreeMap::new(),
            hold_disk: false,
            held: Vec::new(),
            disk_full: false,
            fsync_fails: false,
            discarding: false,
            halted: None,
        }
    }

    pub fn pump(&mut self) {
        loop {
            let outs: Vec<Output> = self.s.drain_outputs();
            if outs.is_empty() {
                return;
            }
            let mut durable = None;
            let mut failed = None;
            for o in outs {
                match o {
                    Output::Client(c) => self.inbox.entry(c.conn()).or_default().push(c),
                    Output::Persist { seq, op } => {
                        if op == PersistOp::Probe {
                            self.discarding = false;
                        } else if self.discarding {
                            continue;
                        }
                        if self.disk_full || self.fsync_fails {
                            failed = Some(seq);
                            self.discarding = op != PersistOp::Probe;
                            continue;
                        }
                        durable = Some(seq);
                        if let PersistOp::Append(e) = op {
                            self.log.push((*e).clone());
                        }
                    }
                    Output::Halt { why } => self.halted = Some(why),
                    Output::Send { .. } | Output::Disconnect { .. } => {}
                }
            }
            if let Some(seq) = failed {
                if let Some(z) = durable.take().filter(|z| *z < seq) {
                    self.s.persisted(z, self.now);
                }
                let why = if self.fsync_fails {
                    PersistFailure::Failed
                } else {
                    PersistFailure::NoSpace
                };
                self.s.persist_failed(seq, why, self.now);
            }
            if let Some(z) = durable {
                if self.hold_disk {
                    self.held.push(z);
                } else {
                    self.s.persisted(z, self.now);
                }
            }
        }
    }

    /// The client's connection went away.
    pub fn disconnect(&mut self, c: ConnId) {
        self.s.disconnected(c, self.now);
    }

    pub fn flush(&mut self) {
        self.hold_disk = false;
        if let Some(z) = self.held.drain(..).max() {
            self.s.persisted(z, self.now);
        }
        self.pump();
    }

    pub fn advance(&mut self, ms: Millis) {
        let end = self.now + ms;
        while let Some(d) = self.s.next_deadline() {
            if d > end {
                break;
            }
            self.now = d.max(self.now);
            self.s.tick(self.now);
            self.pump();
        }
        self.now = end;
        self.s.tick(self.now);
        self.pump();
    }

    pub fn take(&mut self, conn: ConnId) -> Vec<ClientOutput> {
        self.inbox.remove(&conn).unwrap_or_default()
    }

    pub fn open(&mut self, addr: &str) -> ConnId {
        let c = ConnId(self.next_conn);
        self.next_conn += 1;
        assert!(self.s.accept(c, addr, self.now));
        c
    }

    pub fn connect_with(
        &mut self,
        session: SessionId,
        passwd: Vec<u8>,
        timeout: i32,
    ) -> (ConnId, ConnectResponse) {
        let c = self.open("127.0.0.1");
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: Zxid(0),
            timeout,
            session_id: session,
            passwd,
            read_only: Some(false),
        };
        self.s.connect(c, &req, self.now);
        self.pump();
        let outs = self.take(c);
        let mut resp = None;
        let mut rest = Vec::new();
        for o in outs {
            match o {
                ClientOutput::Connected { resp: r, .. } => resp = Some(r),
                other => rest.push(other),
            }
        }
        self.inbox.insert(c, rest);
        (c, resp.expect("no ConnectResponse"))
    }

    pub fn connect(&mut self) -> (ConnId, SessionId) {
        let (c, r) = self.connect_with(SessionId(0), vec![0; 16], 30000);
        assert_ne!(r.session_id.0, 0);
        (c, r.session_id)
    }

    pub fn send(&mut self, c: ConnId, req: Request) -> i32 {
        let xid = self.next_xid.entry(c).or_insert(0);
        *xid += 1;
        let x = *xid;
        self.s.request(c, x, req, self.now);
        self.pump();
        x
    }

    /// Sends and returns the reply, leaving other outputs (events) in the inbox.
    pub fn call(&mut self, c: ConnId, req: Request) -> Reply {
        let ping = req == Request::Ping;
        let sent = self.send(c, req);
        let xid = if ping { xid::PING } else { sent };
        let outs = self.take(c);
        let mut reply = None;
        let mut rest = Vec::new();
        for o in outs {
            match o {
                ClientOutput::Reply { reply: r, .. } if r.xid == xid => reply = Some(r),
                other => rest.push(other),
            }
        }
        self.inbox.insert(c, rest);
        reply.unwrap_or_else(|| panic!("no reply to xid {xid}"))
    }

    pub fn events(&mut self, c: ConnId) -> Vec<(EventType, String)> {
        let outs = self.take(c);
        let mut ev = Vec::new();
        let mut rest = Vec::new();
        for o in outs {
            match o {
                ClientOutput::Event { event, .. } => ev.push((event.event_type, event.path)),
                other => rest.push(other),
            }
        }
        self.inbox.insert(c, rest);
        ev
    }

    /// Every reply queued for `c`, in order (events are dropped).
    pub fn replies(&mut self, c: ConnId) -> Vec<Reply> {
        self.take(c)
            .into_iter()
            .filter_map(|o| match o {
                ClientOutput::Reply { reply, .. } => Some(reply),
                _ => None,
            })
            .collect()
    }

    /// Takes the replies queued for `c`, leaving its events in the inbox.
    pub fn take_replies(&mut self, c: ConnId) -> Vec<Reply> {
        let mut replies = Vec::new();
        let mut rest = Vec::new();
        for o in self.take(c) {
            match o {
                ClientOutput::Reply { reply, .. } => replies.push(reply),
                other => rest.push(other),
            }
        }
        self.inbox.insert(c, rest);
        replies
    }

    pub fn closed(&mut self, c: ConnId) -> bool {
        self.inbox
            .get(&c)
            .is_some_and(|v| v.iter().any(|o| matches!(o, ClientOutput::Close { .. })))
    }
}

pub fn create(path: &str, data: Option<&[u8]>, flags: i32) -> Request {
    Request::Create {
        op: op::CREATE,
        req: CreateRequest {
            path: path.into(),
            data: data.map(|d| d.to_vec()),
            acl: Acl::open_unsafe(),
            flags,
            ttl: -1,
        },
    }
}

pub fn get(path: &str, watch: bool) -> Request {
    Request::GetData {
        path: path.into(),
        watch,
    }
}

pub fn ls(path: &str, watch: bool) -> Request {
    Request::GetChildren {
        path: path.into(),
        watch,
    }
}

pub fn children(r: &Reply) -> Vec<String> {
    match &r.body {
        Response::GetChildren { children } => children.clone(),
        other => panic!("{other:?} (err {:?})", r.err),
    }
}

pub fn data(r: &Reply) -> Option<Vec<u8>> {
    match &r.body {
        Response::GetData { data, .. } => data.clone(),
        other => panic!("{other:?} (err {:?})", r.err),
    }
}

pub fn stat(r: &Reply) -> Stat {
    match &r.body {
        Response::GetData { stat, .. } | Response::Stat(stat) | Response::Create2 { stat, .. } => {
            *stat
        }
        other => panic!("{other:?} (err {:?})", r.err),
    }
}
