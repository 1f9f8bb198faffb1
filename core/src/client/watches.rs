//! The client's half of watches: who waits for what on which path (`ZKWatchManager`).
//!
//! The server keeps one flag per (connection, path, kind) and sends a notification when it fires;
//! the client must find out whom to tell. This registry is that bookkeeping and nothing else — no
//! channels, no IO — so its rules can be read and tested on their own:
//!
//! * a watch is registered when the reply to the read that set it arrives ([`WatchRegistry::register`]):
//!   `exists` on a node that is there sets a data watch, on one that is not an exist watch;
//!   `getData` and `getChildren` set theirs only when they succeed;
//! * a notification fires the watchers its type reaches ([`WatchRegistry::materialize`]): one-shot
//!   data and exist watches take NodeCreated, NodeDataChanged and NodeDeleted, one-shot child
//!   watches NodeChildrenChanged and NodeDeleted, and are gone after; a persistent watch on the path
//!   takes every type and stays; a persistent recursive watch on the path or any ancestor takes
//!   every type but NodeChildrenChanged (the server never sends that one for it) and stays;
//! * after a reconnect the paths go back to the server in `setWatches` ([`WatchRegistry::set_watches`]).
//!
//! Watchers are [`WatcherId`]s; a set of them per path, so the same watcher registered twice on a
//! path (the default watcher by `get -w` and `stat -w`) is told once, as in Java.

use std::collections::{BTreeMap, BTreeSet};

use crate::path::parent_of;
use crate::request::{EventType, SetWatches};
use crate::{ErrorCode, Zxid};

use super::to_server_path;

/// Who is told when a watch fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WatcherId {
    /// The session's default watcher (in zk-native, every `EventStream` of the client).
    Default,
    /// A one-shot watcher of the driver's (zk-native's `OneshotWatch`).
    Oneshot(u64),
    /// A persistent watcher of the driver's (zk-native's `PersistentWatch`).
    Persistent(u64),
}

/// What a read asked to watch, decided into a registration when its reply arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchRequest {
    /// `exists` with a watch: data watch if the node is there, exist watch if not.
    Exists,
    /// `getData` with a watch.
    Data,
    /// `getChildren` / `getChildren2` with a watch.
    Children,
    /// `addWatch` in PERSISTENT mode.
    Persistent,
    /// `addWatch` in PERSISTENT_RECURSIVE mode.
    PersistentRecursive,
}

/// The kinds of watch the client keeps, one map each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Data,
    Exist,
    Child,
    Persistent,
    PersistentRecursive,
}

/// `Watcher.WatcherType`: which watches `removeWatches` / `checkWatches` mean.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatcherType {
    Children,
    Data,
    Any,
    Persistent,
    PersistentRecursive,
}

impl WatcherType {
    /// The number that travels in `RemoveWatchesRequest.type` / `CheckWatchesRequest.type`.
    pub fn code(self) -> i32 {
        use crate::request::watcher_type as t;
        match self {
            WatcherType::Children => t::CHILDREN,
            WatcherType::Data => t::DATA,
            WatcherType::Any => t::ANY,
            WatcherType::Persistent => t::PERSISTENT,
            WatcherType::PersistentRecursive => t::PERSISTENT_RECURSIVE,
        }
    }

    /// The type a [`code`](Self::code) stands for; an unknown number means any.
    pub fn from_code(code: i32) -> WatcherType {
        use crate::request::watcher_type as t;
        match code {
            t::CHILDREN => WatcherType::Children,
            t::DATA => WatcherType::Data,
            t::PERSISTENT => WatcherType::Persistent,
            t::PERSISTENT_RECURSIVE => WatcherType::PersistentRecursive,
            _ => WatcherType::Any,
        }
    }
}

/// The watchers a removal took, by the event each is told: ChildWatchRemoved,
/// DataWatchRemoved, PersistentWatchRemoved.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removed {
    pub child: BTreeSet<WatcherId>,
    pub data: BTreeSet<WatcherId>,
    pub persistent: BTreeSet<WatcherId>,
}

impl Removed {
    pub fn is_empty(&self) -> bool {
        self.child.is_empty() && self.data.is_empty() && self.persistent.is_empty()
    }
    /// Each non-empty group with the event type its watchers are told, in a fixed order.
    pub fn by_event(self) -> Vec<(EventType, BTreeSet<WatcherId>)> {
        [
            (EventType::ChildWatchRemoved, self.child),
            (EventType::DataWatchRemoved, self.data),
            (EventType::PersistentWatchRemoved, self.persistent),
        ]
        .into_iter()
        .filter(|(_, s)| !s.is_empty())
        .collect()
    }
}

/// ZooKeeper's `SET_WATCHES_MAX_LENGTH`: a setWatches carries paths adding up to about this many
/// characters; more watches go in more setWatches.
pub const SET_WATCHES_MAX_LENGTH: usize = 128 * 1024;

type PathMap = BTreeMap<String, BTreeSet<WatcherId>>;

/// The watches of one session, by client path (chroot not included).
#[derive(Clone, Debug, Default)]
pub struct WatchRegistry {
    data: PathMap,
    exist: PathMap,
    child: PathMap,
    persistent: PathMap,
    persistent_recursive: PathMap,
}

impl WatchRegistry {
    fn map(&mut self, kind: Kind) -> &mut PathMap {
        match kind {
            Kind::Data => &mut self.data,
            Kind::Exist => &mut self.exist,
            Kind::Child => &mut self.child,
            Kind::Persistent => &mut self.persistent,
            Kind::PersistentRecursive => &mut self.persistent_recursive,
        }
    }

    fn maps(&self) -> [&PathMap; 5] {
        [
            &self.data,
            &self.exist,
            &self.child,
            &self.persistent,
            &self.persistent_recursive,
        ]
    }

    /// Records the watch a read asked for, given the error code of its reply. Returns whether a
    /// watch was registered (the caller hands out the watcher only then).
    pub fn register(
        &mut self,
        req: WatchRequest,
        path: &str,
        watcher: WatcherId,
        rc: ErrorCode,
    ) -> bool {
        let kind = match (req, rc) {
            (WatchRequest::Exists, ErrorCode::Ok) => Kind::Data,
            (WatchRequest::Exists, ErrorCode::NoNode) => Kind::Exist,
            (_, rc) if !rc.is_ok() => return false,
            (WatchRequest::Exists | WatchRequest::Data, _) => Kind::Data,
            (WatchRequest::Children, _) => Kind::Child,
            (WatchRequest::Persistent, _) => Kind::Persistent,
            (WatchRequest::PersistentRecursive, _) => Kind::PersistentRecursive,
        };
        self.map(kind)
            .entry(path.to_string())
            .or_default()
            .insert(watcher);
        true
    }

    /// The watchers a notification of `event_type` on `path` reaches. One-shot watches that fire
    /// are removed; persistent ones stay.
    pub fn materialize(&mut self, event_type: EventType, path: &str) -> BTreeSet<WatcherId> {
        let mut out = BTreeSet::new();
        let mut take = |m: &mut PathMap| {
            if let Some(ws) = m.remove(path) {
                out.extend(ws);
            }
        };
        match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                take(&mut self.data);
                take(&mut self.exist);
            }
            EventType::NodeChildrenChanged => take(&mut self.child),
            EventType::NodeDeleted => {
                take(&mut self.data);
                take(&mut self.exist);
                take(&mut self.child);
            }
            // Session events and the WatchRemoved types are not notifications the server sends.
            _ => return out,
        }
        if let Some(ws) = self.persistent.get(path) {
            out.extend(ws.iter().copied());
        }
        if event_type != EventType::NodeChildrenChanged {
            for p in path_and_ancestors(path) {
                if let Some(ws) = self.persistent_recursive.get(p) {
                    out.extend(ws.iter().copied());
                }
            }
        }
        out
    }

    /// Removes the watches of `watcher_type` on `path` (every watcher of them), as
    /// `removeAllWatches` does on the client once the server has agreed.
    pub fn remove(&mut self, path: &str, watcher_type: WatcherType) -> Removed {
        let mut r = Removed::default();
        let take = |m: &mut PathMap, into: &mut BTreeSet<WatcherId>| {
            if let Some(ws) = m.remove(path) {
                into.extend(ws);
            }
        };
        let any = watcher_type == WatcherType::Any;
        if any || watcher_type == WatcherType::Children {
            take(&mut self.child, &mut r.child);
        }
        if any || watcher_type == WatcherType::Data {
            take(&mut self.data, &mut r.data);
            take(&mut self.exist, &mut r.data);
        }
        if any || watcher_type == WatcherType::Persistent {
            take(&mut self.persistent, &mut r.persistent);
        }
        if any || watcher_type == WatcherType::PersistentRecursive {
            take(&mut self.persistent_recursive, &mut r.persistent);
        }
        r
    }

    /// Forgets one watcher everywhere (its receiver is gone).
    pub fn forget(&mut self, watcher: WatcherId) {
        for kind in [
            Kind::Data,
            Kind::Exist,
            Kind::Child,
            Kind::Persistent,
            Kind::PersistentRecursive,
        ] {
            let m = self.map(kind);
            m.retain(|_, ws| {
                ws.remove(&watcher);
                !ws.is_empty()
            });
        }
    }

    /// Every watcher of every watch, and the registry emptied: the session is over.
    pub fn drain(&mut self) -> BTreeSet<WatcherId> {
        let mut out = BTreeSet::new();
        for m in [
            &mut self.data,
            &mut self.exist,
            &mut self.child,
            &mut self.persistent,
            &mut self.persistent_recursive,
        ] {
            for (_, ws) in std::mem::take(m) {
                out.extend(ws);
            }
        }
        out
    }

    /// Every watcher that stays registered however many events come (the persistent ones).
    pub fn persistent_watchers(&self) -> BTreeSet<WatcherId> {
        self.persistent
            .values()
            .chain(self.persistent_recursive.values())
            .flatten()
            .copied()
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.maps().iter().all(|m| m.is_empty())
    }

    /// The `setWatches` requests that put these watches back on a new connection, paths with the
    /// chroot in front, in batches of about [`SET_WATCHES_MAX_LENGTH`] characters of paths. The
    /// flag says whether a batch needs `setWatches2` (it has persistent watches); ZooKeeper sends
    /// plain `setWatches` otherwise, which older servers understand. No watches, no request.
    pub fn set_watches(&self, chroot: Option<&str>, last_zxid: Zxid) -> Vec<(bool, SetWatches)> {
        let mut batches = Vec::new();
        let mut it = self.maps().into_iter().enumerate().flat_map(|(i, m)| {
            m.keys()
                .map(move |p| (i, to_server_path(chroot, p)))
                .collect::<Vec<_>>()
        });
        let mut next = it.next();
        while next.is_some() {
            let mut sw = SetWatches {
                relative_zxid: last_zxid,
                ..SetWatches::default()
            };
            let mut len = 0;
            while len < SET_WATCHES_MAX_LENGTH {
                let Some((i, p)) = next.take() else { break };
                len += p.len();
                match i {
                    0 => sw.data.push(p),
                    1 => sw.exist.push(p),
                    2 => sw.child.push(p),
                    3 => sw.persistent.push(p),
                    _ => sw.persistent_recursive.push(p),
                }
                next = it.next();
            }
            let v2 = !sw.persistent.is_empty() || !sw.persistent_recursive.is_empty();
            batches.push((v2, sw));
        }
        batches
    }
}

/// `/a/b/c`, `/a/b`, `/a`, `/`: a path and every ancestor (`PathParentIterator.forAll`).
fn path_and_ancestors(path: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(path), |p| if *p == "/" { None } else { parent_of(p) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType::{
        ChildWatchRemoved, NodeChildrenChanged, NodeCreated, NodeDataChanged, NodeDeleted,
        PersistentWatchRemoved,
    };

    const D: WatcherId = WatcherId::Default;
    const O1: WatcherId = WatcherId::Oneshot(1);
    const O2: WatcherId = WatcherId::Oneshot(2);
    const P: WatcherId = WatcherId::Persistent(3);
    const R: WatcherId = WatcherId::Persistent(4);

    fn set(ids: &[WatcherId]) -> BTreeSet<WatcherId> {
        ids.iter().copied().collect()
    }

    #[test]
    fn registration_follows_the_reply() {
        let mut w = WatchRegistry::default();
        assert!(w.register(WatchRequest::Exists, "/a", O1, ErrorCode::NoNode));
        assert!(!w.register(WatchRequest::Data, "/b", O2, ErrorCode::NoNode));
        assert!(!w.register(WatchRequest::Children, "/b", O2, ErrorCode::NoAuth));
        assert!(w.register(WatchRequest::Exists, "/c", O2, ErrorCode::Ok));
        // The exist watch on /a fires when /a is created; the data watch from exists on /c
        // fires when /c changes.
        assert_eq!(w.materialize(NodeCreated, "/a"), set(&[O1]));
        assert_eq!(w.materialize(NodeDataChanged, "/c"), set(&[O2]));
        assert!(w.is_empty());
    }

    #[test]
    fn one_shot_rules() {
        let mut w = WatchRegistry::default();
        w.register(WatchRequest::Data, "/a", O1, ErrorCode::Ok);
        w.register(WatchRequest::Children, "/a", O2, ErrorCode::Ok);
        // Children changing does not touch the data watch, and a one-shot fires once.
        assert_eq!(w.materialize(NodeChildrenChanged, "/a"), set(&[O2]));
        assert_eq!(w.materialize(NodeChildrenChanged, "/a"), set(&[]));
        w.register(WatchRequest::Children, "/a", O2, ErrorCode::Ok);
        // A delete fires both.
        assert_eq!(w.materialize(NodeDeleted, "/a"), set(&[O1, O2]));
        assert!(w.is_empty());
    }

    #[test]
    fn the_default_watcher_is_told_once() {
        let mut w = WatchRegistry::default();
        w.register(WatchRequest::Data, "/a", D, ErrorCode::Ok);
        w.register(WatchRequest::Exists, "/a", D, ErrorCode::Ok);
        w.register(WatchRequest::Children, "/a", D, ErrorCode::Ok);
        w.register(WatchRequest::Persistent, "/a", D, ErrorCode::Ok);
        assert_eq!(w.materialize(NodeDeleted, "/a"), set(&[D]));
    }

    #[test]
    fn persistent_and_recursive() {
        let mut w = WatchRegistry::default();
        w.register(WatchRequest::Persistent, "/a", P, ErrorCode::Ok);
        w.register(WatchRequest::PersistentRecursive, "/", R, ErrorCode::Ok);
        assert_eq!(w.materialize(NodeChildrenChanged, "/a"), set(&[P]));
        assert_eq!(w.materialize(NodeDataChanged, "/a"), set(&[P, R]));
        assert_eq!(w.materialize(NodeCreated, "/a/b/c"), set(&[R]));
        assert_eq!(w.materialize(NodeDeleted, "/a/b"), set(&[R]));
        // They stay.
        assert_eq!(w.persistent_watchers(), set(&[P, R]));
        assert_eq!(w.materialize(NodeDataChanged, "/a"), set(&[P, R]));
        // /ab is not under /a.
        w.register(WatchRequest::PersistentRecursive, "/a", O1, ErrorCode::Ok);
        assert_eq!(w.materialize(NodeCreated, "/ab"), set(&[R]));
    }

    #[test]
    fn removal_by_type() {
        let mut w = WatchRegistry::default();
        w.register(WatchRequest::Data, "/a", O1, ErrorCode::Ok);
        w.register(WatchRequest::Exists, "/a", D, ErrorCode::NoNode);
        w.register(WatchRequest::Children, "/a", O2, ErrorCode::Ok);
        w.register(WatchRequest::PersistentRecursive, "/a", R, ErrorCode::Ok);
        let r = w.remove("/a", WatcherType::Data);
        assert_eq!(r.data, set(&[D, O1]));
        assert!(r.child.is_empty());
        assert!(w.remove("/a", WatcherType::Data).is_empty());
        let r = w.remove("/a", WatcherType::Any);
        assert_eq!(
            r.by_event(),
            vec![
                (ChildWatchRemoved, set(&[O2])),
                (PersistentWatchRemoved, set(&[R]))
            ]
        );
        assert!(w.is_empty());
    }

    #[test]
    fn forget_and_drain() {
        let mut w = WatchRegistry::default();
        w.register(WatchRequest::Data, "/a", O1, ErrorCode::Ok);
        w.register(WatchRequest::Data, "/a", O2, ErrorCode::Ok);
        w.register(WatchRequest::Persistent, "/b", P, ErrorCode::Ok);
        w.forget(O1);
        assert_eq!(w.materialize(NodeDataChanged, "/a"), set(&[O2]));
        assert_eq!(w.drain(), set(&[P]));
        assert!(w.is_empty());
    }

    #[test]
    fn set_watches_batches_with_chroot() {
        let mut w = WatchRegistry::default();
        assert!(w.set_watches(None, Zxid(5)).is_empty());
        w.register(WatchRequest::Data, "/d", D, ErrorCode::Ok);
        w.register(WatchRequest::Exists, "/e", D, ErrorCode::NoNode);
        w.register(WatchRequest::Children, "/", D, ErrorCode::Ok);
        let b = w.set_watches(Some("/app"), Zxid(5));
        assert_eq!(b.len(), 1);
        let (v2, sw) = &b[0];
        assert!(!v2, "no persistent watches: plain setWatches");
        assert_eq!(sw.relative_zxid, Zxid(5));
        assert_eq!(sw.data, vec!["/app/d"]);
        assert_eq!(sw.exist, vec!["/app/e"]);
        assert_eq!(sw.child, vec!["/app"]);
        w.register(WatchRequest::PersistentRecursive, "/r", R, ErrorCode::Ok);
        assert!(w.set_watches(None, Zxid(5))[0].0);

        // Many long paths are split, and no path is lost.
        let mut w = WatchRegistry::default();
        let long = "x".repeat(1000);
        for i in 0..300 {
            w.register(WatchRequest::Data, &format!("/{long}{i}"), D, ErrorCode::Ok);
        }
        let b = w.set_watches(None, Zxid(1));
        assert_eq!(b.len(), 3);
        assert_eq!(b.iter().map(|(_, s)| s.data.len()).sum::<usize>(), 300);
    }

    #[test]
    fn ancestors() {
        let v: Vec<&str> = path_and_ancestors("/a/b/c").collect();
        assert_eq!(v, vec!["/a/b/c", "/a/b", "/a", "/"]);
        assert_eq!(path_and_ancestors("/").collect::<Vec<_>>(), vec!["/"]);
    }
}
