//! ZooKeeper recipes as a user writes them, as client-side state machines: master election and
//! a lock from ephemeral sequential nodes (each waiter watches only its predecessor), a
//! configuration znode every service watches and re-reads, and a membership registry of
//! ephemeral nodes that consumers watch.
//!
//! A recipe hears its client's events ([`ClientEvent`]) and answers with the requests to send;
//! it does no IO, so the playground and the tutorials run it inside the simulator.

use super::client::ClientEvent;
use serde::{Deserialize, Serialize};
use zk_core::acl::Acl;
use zk_core::error::ErrorCode;
use zk_core::request::{CreateRequest, EventType, Request, Response};
use zk_core::txn::op;

/// Which recipe, and on which znodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipeKind {
    /// Candidates create `dir/master-<seq>`; the smallest is the master.
    Master { dir: String },
    /// Waiters create `dir/lock-<seq>`; the smallest holds the lock until it releases it.
    Lock { dir: String },
    /// Reads `path` and re-reads it whenever it changes.
    Config { path: String },
    /// Registers `dir/<name>` (ephemeral) and watches the other members.
    Member { dir: String, name: String },
}

impl RecipeKind {
    fn prefix(&self) -> Option<String> {
        match self {
            RecipeKind::Master { dir } => Some(format!("{dir}/master-")),
            RecipeKind::Lock { dir } => Some(format!("{dir}/lock-")),
            _ => None,
        }
    }
}

/// Where a recipe stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    /// Waiting for its session.
    Connecting,
    /// Its node is being created or the children read.
    Joining,
    /// Master, or holding the lock.
    Leading,
    /// Standing by, watching its predecessor.
    Standby,
    /// Config reader or member, up to date.
    Watching,
    /// Released the lock, or its session is gone.
    Done,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Connecting => "connecting",
            Role::Joining => "joining",
            Role::Leading => "leading",
            Role::Standby => "standby",
            Role::Watching => "watching",
            Role::Done => "done",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Waiting {
    Nothing,
    /// The parent directory (created if missing, NodeExists is fine).
    Parent,
    Create,
    Children,
    /// exists+watch on the predecessor.
    Predecessor(String),
    Read,
    Release,
}

/// One recipe client.
#[derive(Clone, Debug)]
pub struct Recipe {
    pub name: String,
    pub kind: RecipeKind,
    pub role: Role,
    /// The znode it created.
    pub node: Option<String>,
    /// The node it watches while standing by.
    pub watching: Option<String>,
    /// Config: the values read, in order. Member: the member lists seen.
    pub seen: Vec<String>,
    /// What it did, in words, for the narration.
    pub log: Vec<String>,
    waiting: Waiting,
    xid: Option<i32>,
}

impl Recipe {
    pub fn new(name: &str, kind: RecipeKind) -> Recipe {
        Recipe {
            name: name.to_string(),
            kind,
            role: Role::Connecting,
            node: None,
            watching: None,
            seen: Vec::new(),
            log: Vec::new(),
            waiting: Waiting::Nothing,
            xid: None,
        }
    }

    /// Is this the xid of the request the recipe waits for?
    pub fn waits_for(&self, xid: i32) -> bool {
        self.xid == Some(xid)
    }

    /// Remembers the xid its last request got.
    pub fn sent(&mut self, xid: i32) {
        self.xid = Some(xid);
    }

    /// Gives the lock back (Lock only): deletes its node.
    pub fn release(&mut self) -> Option<Request> {
        if self.role != Role::Leading || !matches!(self.kind, RecipeKind::Lock { .. }) {
            return None;
        }
        let node = self.node.clone()?;
        self.waiting = Waiting::Release;
        self.log.push(format!("releases {node}"));
        Some(Request::Delete {
            path: node,
            version: -1,
        })
    }

    /// Reacts to what its client heard; returns the request to send next, if any.
    pub fn on_event(&mut self, e: &ClientEvent) -> Option<Request> {
        match e {
            ClientEvent::Connected { .. } if self.role == Role::Connecting => {
                self.role = Role::Joining;
                if self.node.is_some() {
                    // Back after a connection loss, same session: is our node still first?
                    self.list()
                } else {
                    self.first_request()
                }
            }
            ClientEvent::Expired { .. } => {
                self.role = Role::Done;
                self.log.push("session expired".into());
                None
            }
            ClientEvent::Lost { xid, .. } if self.waits_for(*xid) => {
                // The outcome is unknown; go on once connected again. (A create that was lost
                // may still have happened; ZooKeeper's own recipes tag nodes with a GUID to
                // find them. This one keeps it simple and creates again.)
                self.xid = None;
                self.waiting = Waiting::Nothing;
                if self.role != Role::Done {
                    self.role = Role::Connecting;
                }
                None
            }
            ClientEvent::Reply { reply, .. } if self.waits_for(reply.xid) => {
                self.xid = None;
                let result = if reply.err.is_ok() {
                    Ok(reply.body.clone())
                } else {
                    Err(reply.err)
                };
                self.on_reply(result)
            }
            ClientEvent::Watch { event, .. } => self.on_watch(event.event_type, &event.path),
            _ => None,
        }
    }

    fn first_request(&mut self) -> Option<Request> {
        match &self.kind {
            RecipeKind::Master { dir }
            | RecipeKind::Lock { dir }
            | RecipeKind::Member { dir, .. } => {
                self.waiting = Waiting::Parent;
                Some(create(dir, b"", 0))
            }
            RecipeKind::Config { path } => {
                self.waiting = Waiting::Read;
                Some(Request::GetData {
                    path: path.clone(),
                    watch: true,
                })
            }
        }
    }

    fn on_reply(&mut self, result: Result<Response, ErrorCode>) -> Option<Request> {
        let waiting = std::mem::replace(&mut self.waiting, Waiting::Nothing);
        match waiting {
            Waiting::Nothing => None,
            Waiting::Parent => {
                self.waiting = Waiting::Create;
                match &self.kind {
                    RecipeKind::Member { dir, name } => {
                        Some(create(&format!("{dir}/{name}"), self.name.as_bytes(), 1))
                    }
                    kind => Some(create(&kind.prefix()?, self.name.as_bytes(), 3)),
                }
            }
            Waiting::Create => {
                match result {
                    Ok(Response::Create { path }) | Ok(Response::Create2 { path, .. }) => {
                        self.log.push(format!("created {path}"));
                        self.node = Some(path);
                    }
                    Err(ErrorCode::NodeExists) => {}
                    Err(e) => {
                        self.log.push(format!("create failed: {}", e.message()));
                        self.role = Role::Done;
                        return None;
                    }
                    Ok(_) => {}
                }
                self.list()
            }
            Waiting::Children => {
                let Ok(Response::GetChildren { mut children }) = result else {
                    return None;
                };
                children.sort();
                if let RecipeKind::Member { .. } = self.kind {
                    self.role = Role::Watching;
                    let list = children.join(",");
                    if self.seen.last() != Some(&list) {
                        self.log.push(format!("sees members [{list}]"));
                        self.seen.push(list);
                    }
                    return None;
                }
                let (dir, mine) = match (&self.kind, &self.node) {
                    (RecipeKind::Master { dir } | RecipeKind::Lock { dir }, Some(node)) => (
                        dir.clone(),
                        node.rsplit('/').next().unwrap_or_default().to_string(),
                    ),
                    _ => return None,
                };
                // Sequential names sort by their counter.
                let pos = children.iter().position(|c| *c == mine);
                match pos {
                    None => {
                        // Our node is gone (the session was lost and renewed): join again.
                        self.node = None;
                        self.waiting = Waiting::Create;
                        Some(create(&self.kind.prefix()?, self.name.as_bytes(), 3))
                    }
                    Some(0) => {
                        if self.role != Role::Leading {
                            self.log.push(match self.kind {
                                RecipeKind::Lock { .. } => "holds the lock".to_string(),
                                _ => "is master".to_string(),
                            });
                        }
                        self.role = Role::Leading;
                        self.watching = None;
                        None
                    }
                    Some(i) => {
                        let pred = format!("{dir}/{}", children[i - 1]);
                        self.role = Role::Standby;
                        self.log.push(format!("stands by, watching {pred}"));
                        self.watching = Some(pred.clone());
                        self.waiting = Waiting::Predecessor(pred.clone());
                        Some(Request::Exists {
                            path: pred,
                            watch: true,
                        })
                    }
                }
            }
            Waiting::Predecessor(pred) => match result {
                // Gone before the watch was set: look again.
                Err(ErrorCode::NoNode) | Ok(Response::Empty) => {
                    self.log.push(format!("{pred} is already gone"));
                    self.list()
                }
                _ => None,
            },
            Waiting::Read => {
                if let Ok(Response::GetData { data, .. }) = result {
                    let value =
                        String::from_utf8_lossy(data.as_deref().unwrap_or_default()).into_owned();
                    self.log.push(format!("reads \"{value}\""));
                    self.seen.push(value);
                    self.role = Role::Watching;
                } else {
                    // Not there yet: wait for it to be created.
                    let RecipeKind::Config { path } = &self.kind else {
                        return None;
                    };
                    self.role = Role::Watching;
                    self.waiting = Waiting::Nothing;
                    return Some(Request::Exists {
                        path: path.clone(),
                        watch: true,
                    });
                }
                None
            }
            Waiting::Release => {
                self.role = Role::Done;
                self.node = None;
                None
            }
        }
    }

    fn list(&mut self) -> Option<Request> {
        let dir = match &self.kind {
            RecipeKind::Master { dir }
            | RecipeKind::Lock { dir }
            | RecipeKind::Member { dir, .. } => dir.clone(),
            RecipeKind::Config { .. } => return None,
        };
        self.waiting = Waiting::Children;
        Some(Request::GetChildren {
            path: dir,
            // Members watch the whole list; candidates watch only their predecessor.
            watch: matches!(self.kind, RecipeKind::Member { .. }),
        })
    }

    fn on_watch(&mut self, kind: EventType, path: &str) -> Option<Request> {
        if self.role == Role::Done || self.xid.is_some() {
            // (A reply is due first; its handling re-reads what the event is about.)
            if self.xid.is_some() && self.role != Role::Done {
                self.log.push(format!("hears {kind:?} on {path} (busy)"));
            }
            return None;
        }
        match &self.kind {
            RecipeKind::Master { .. } | RecipeKind::Lock { .. } => {
                if self.watching.as_deref() == Some(path) && kind == EventType::NodeDeleted {
                    self.log.push(format!("hears {path} deleted"));
                    self.list()
                } else {
                    None
                }
            }
            RecipeKind::Config { path: p } if p == path => {
                self.waiting = Waiting::Read;
                Some(Request::GetData {
                    path: p.clone(),
                    watch: true,
                })
            }
            RecipeKind::Member { .. } if kind == EventType::NodeChildrenChanged => self.list(),
            _ => None,
        }
    }
}

fn create(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create {
        op: op::CREATE,
        req: CreateRequest {
            path: path.to_string(),
            data: Some(data.to_vec()),
            acl: Acl::open_unsafe(),
            flags,
            ttl: -1,
        },
    }
}
