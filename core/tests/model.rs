//! Property test: random operation sequences against the real server (prepare step, pending
//! changes, tree) and against a plain reference model of ZooKeeper's semantics; both must give
//! the same answers. Writes are sent in batches while the disk holds them back, so later
//! operations are checked against changes that are prepared but not yet applied.

mod common;

use common::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use zk_core::request::*;
use zk_core::tree::DataTree;
use zk_core::{snapshot, ErrorCode};

#[derive(Clone, Debug, Default)]
struct MNode {
    data: Option<Vec<u8>>,
    version: i32,
    /// Children created under this node (ZooKeeper's stored cversion).
    creates: i32,
    ephemeral: bool,
    children: BTreeSet<String>,
}

#[derive(Clone, Debug)]
struct Model {
    nodes: BTreeMap<String, MNode>,
}

fn parent(p: &str) -> String {
    match p.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => p[..i].into(),
        None => String::new(),
    }
}

impl Model {
    fn new() -> Model {
        let mut nodes = BTreeMap::new();
        let mut root = MNode::default();
        root.children.insert("zookeeper".into());
        nodes.insert("/".to_string(), root);
        let mut zk = MNode::default();
        zk.children
            .extend(["quota".to_string(), "config".to_string()]);
        nodes.insert("/zookeeper".to_string(), zk);
        nodes.insert("/zookeeper/quota".to_string(), MNode::default());
        nodes.insert("/zookeeper/config".to_string(), MNode::default());
        Model { nodes }
    }

    /// Applies one write; Err leaves the model unchanged.
    fn write(&mut self, op: &Op) -> Result<Response, ErrorCode> {
        match op {
            Op::Create {
                path,
                data,
                ephemeral,
                sequential,
            } => {
                let par = parent(path);
                let pn = self.nodes.get(&par).ok_or(ErrorCode::NoNode)?;
                let mut full = path.clone();
                if *sequential {
                    full.push_str(&format!("{:010}", pn.creates));
                }
                if self.nodes.contains_key(&full) {
                    return Err(ErrorCode::NodeExists);
                }
                if pn.ephemeral {
                    return Err(ErrorCode::NoChildrenForEphemerals);
                }
                let pn = self.nodes.get_mut(&par).expect("parent");
                pn.creates += 1;
                pn.children
                    .insert(full[full.rfind('/').unwrap() + 1..].to_string());
                self.nodes.insert(
                    full.clone(),
                    MNode {
                        data: data.clone(),
                        ephemeral: *ephemeral,
                        ..Default::default()
                    },
                );
                Ok(Response::Create { path: full })
            }
            Op::Delete { path, version } => {
                if path == "/"
                    || path.starts_with("/zookeeper")
                        && path.len() <= "/zookeeper/config".len()
                        && matches!(
                            path.as_str(),
                            "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
                        )
                {
                    return Err(ErrorCode::BadArguments);
                }
                let par = parent(path);
                if !self.nodes.contains_key(&par) {
                    return Err(ErrorCode::NoNode);
                }
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                if !n.children.is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                self.nodes.remove(path);
                let name = path[path.rfind('/').unwrap() + 1..].to_string();
                self.nodes
                    .get_mut(&par)
                    .expect("parent")
                    .children
                    .remove(&name);
                Ok(Response::Empty)
            }
            Op::Set {
                path,
                data,
                version,
            } => {
                let n = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
                if path == "/zookeeper/config" {
                    return Err(ErrorCode::NoAuth);
                }
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                n.version += 1;
                n.data = data.clone();
                Ok(Response::Stat(Default::default()))
            }
            _ => unreachable!("not a write"),
        }
    }

    fn read(&self, op: &Op) -> Result<Response, ErrorCode> {
        match op {
            Op::Get { path } => {
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                Ok(Response::GetData {
                    data: n.data.clone(),
                    stat: Default::default(),
                })
            }
            Op::Ls { path } => {
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                Ok(Response::GetChildren {
                    children: n.children.iter().cloned().collect(),
                })
            }
            _ => unreachable!("not a read"),
        }
    }

    fn close_session(&mut self) {
        let eph: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.ephemeral)
            .map(|(p, _)| p.clone())
            .collect();
        for p in eph {
            self.nodes.remove(&p);
            let par = parent(&p);
            let name = p[p.rfind('/').unwrap() + 1..].to_string();
            if let Some(pn) = self.nodes.get_mut(&par) {
                pn.children.remove(&name);
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Create {
        path: String,
        data: Option<Vec<u8>>,
        ephemeral: bool,
        sequential: bool,
    },
    Delete {
        path: String,
        version: i32,
    },
    Set {
        path: String,
        data: Option<Vec<u8>>,
        version: i32,
    },
    Get {
        path: String,
    },
    Ls {
        path: String,
    },
    Multi(Vec<Op>),
    /// Close the session and open a new one.
    Reconnect,
}

impl Op {
    fn request(&self) -> Request {
        match self {
            Op::Create {
                path,
                data,
                ephemeral,
                sequential,
            } => create(
                path,
                data.as_deref(),
                (*ephemeral as i32) | ((*sequential as i32) << 1),
            ),
            Op::Delete { path, version } => Request::Delete {
                path: path.clone(),
                version: *version,
            },
            Op::Set {
                path,
                data,
                version,
            } => Request::SetData {
                path: path.clone(),
                data: data.clone(),
                version: *version,
            },
            Op::Get { path } => get(path, false),
            Op::Ls { path } => ls(path, false),
            Op::Multi(ops) => Request::Multi(ops.iter().map(Op::request).collect()),
            Op::Reconnect => Request::CloseSession,
        }
    }
}

fn paths() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "/a",
        "/b",
        "/a/b",
        "/a/c",
        "/b/a",
        "/a/b/c",
        "/zookeeper",
        "/zookeeper/quota",
        "/",
        "/a/s-",
    ])
    .prop_map(String::from)
}

fn data() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        Just(None),
        prop::collection::vec(any::<u8>(), 0..4).prop_map(Some)
    ]
}

fn write_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (paths(), data(), any::<bool>(), any::<bool>())
            .prop_map(|(path, data, ephemeral, sequential)| Op::Create { path, data, ephemeral, sequential }),
        2 => (paths(), prop_oneof![Just(-1), 0..3i32]).prop_map(|(path, version)| Op::Delete { path, version }),
        2 => (paths(), data(), prop_oneof![Just(-1), 0..3i32]).prop_map(|(path, data, version)| Op::Set { path, data, version }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => write_op(),
        2 => paths().prop_map(|path| Op::Get { path }),
        2 => paths().prop_map(|path| Op::Ls { path }),
        1 => prop::collection::vec(write_op(), 1..4).prop_map(Op::Multi),
        1 => Just(Op::Reconnect),
    ]
}

/// What the model expects for a reply: just the fields the model tracks.
fn expected(model: &mut Model, op: &Op) -> Result<Response, ErrorCode> {
    match op {
        Op::Get { .. } | Op::Ls { .. } => model.read(op),
        Op::Multi(ops) => {
            let mut trial = model.clone();
            let mut results = Vec::new();
            for (i, o) in ops.iter().enumerate() {
                match trial.write(o) {
                    Ok(Response::Create { path }) => results.push(OpResult::Create {
                        op: 1,
                        path,
                        stat: None,
                    }),
                    Ok(Response::Empty) => results.push(OpResult::Delete),
                    Ok(_) => results.push(OpResult::SetData {
                        stat: Default::default(),
                    }),
                    Err(e) => {
                        let mut r: Vec<OpResult> = (0..i)
                            .map(|_| OpResult::Error { err: ErrorCode::Ok })
                            .collect();
                        r.push(OpResult::Error { err: e });
                        r.extend((i + 1..ops.len()).map(|_| OpResult::Error {
                            err: ErrorCode::RuntimeInconsistency,
                        }));
                        return Ok(Response::Multi(r));
                    }
                }
            }
            *model = trial;
            Ok(Response::Multi(results))
        }
        Op::Reconnect => {
            model.close_session();
            Ok(Response::Empty)
        }
        w => model.write(w),
    }
}

/// Erases what the model does not track (stats) so replies can be compared.
fn normalize(r: &Reply) -> Result<Response, ErrorCode> {
    if !r.err.is_ok() {
        return Err(r.err);
    }
    Ok(match &r.body {
        Response::Stat(_) => Response::Stat(Default::default()),
        Response::GetData { data, .. } => Response::GetData {
            data: data.clone(),
            stat: Default::default(),
        },
        Response::Multi(rs) => Response::Multi(
            rs.iter()
                .map(|o| match o {
                    OpResult::SetData { .. } => OpResult::SetData {
                        stat: Default::default(),
                    },
                    other => other.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn server_matches_the_model(batches in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..12)) {
        let mut h = Harness::new();
        let mut model = Model::new();
        let (mut c, _) = h.connect();
        for batch in &batches {
            h.hold_disk = true;
            let mut sent = Vec::new();
            for o in batch {
                let want = expected(&mut model, o);
                let xid = h.send(c, o.request());
                sent.push((xid, o.clone(), want));
                if matches!(o, Op::Reconnect) {
                    break;
                }
            }
            h.flush();
            let replies = h.replies(c);
            for (xid, o, want) in sent {
                let got = replies.iter().find(|r| r.xid == xid).unwrap_or_else(|| panic!("no reply for {o:?}"));
                prop_assert_eq!(normalize(got), want, "op {:?}", o);
                if matches!(o, Op::Reconnect) {
                    c = h.connect().0;
                }
            }
        }
        // replay(log) == tree
        // Every transaction carries the digest the tree has once it is applied: the prepare
        // step's prediction, which ZooKeeper's followers check.
        let mut replayed = DataTree::new(false);
        for e in &h.log {
            replayed.apply(&e.hdr, &e.txn, &mut Vec::new());
            // As ZooKeeper writes them, error transactions carry none.
            match (&e.txn, e.digest) {
                (zk_core::txn::Txn::Error { .. }, d) => prop_assert!(d.is_none()),
                (_, Some(d)) => prop_assert_eq!(d.tree_digest as u64, replayed.digest(), "digest after {:?}", e),
                (_, None) => prop_assert!(false, "no digest in {:?}", e),
            }
        }
        prop_assert_eq!(replayed.digest(), replayed.compute_digest());
        let snap = snapshot::serialize(&h.s.server().tree);
        prop_assert!(snapshot::serialize(&replayed) == snap, "replay differs from the tree");
        let z = h.s.server().tree.last_processed_zxid();
        let restored = snapshot::deserialize(&snap, z, Default::default()).expect("restore");
        prop_assert!(snapshot::serialize(&restored) == snap, "restore differs");
        prop_assert_eq!(restored.digest(), replayed.digest());
        // The model's tree and the server's agree node by node.
        for (p, n) in &model.nodes {
            let node = h.s.server().tree.get(p);
            prop_assert!(node.is_some(), "{} missing", p);
            let node = node.unwrap();
            prop_assert_eq!(node.data(), n.data.as_deref(), "data of {}", p);
            prop_assert_eq!(node.stat().version, n.version, "version of {}", p);
            prop_assert_eq!(node.stat().cversion, n.creates, "cversion of {}", p);
        }
        prop_assert_eq!(h.s.server().tree.node_count(), model.nodes.len());
    }
}
