//! Watches (ZooKeeper's `WatchManager` pair: `dataWatches` and `childWatches`).
//!
//! A watch belongs to a client connection. `getData` and `exists` register a data watch,
//! `getChildren` a child watch; both are one-shot. `addWatch` registers persistent watches (in
//! both tables) or persistent-recursive ones (in the data table, matching the path and every
//! descendant). When the tree reports a change ([`TreeEvent`]) the manager finds the watchers and
//! produces one event per watcher, with ZooKeeper's trigger rules:
//!
//! | change           | data table                | child table                                  |
//! |------------------|---------------------------|----------------------------------------------|
//! | create `/a/b`    | NodeCreated on `/a/b`     | NodeChildrenChanged on `/a`                  |
//! | delete `/a/b`    | NodeDeleted on `/a/b`     | NodeDeleted on `/a/b` (once per watcher), NodeChildrenChanged on `/a` |
//! | setData `/a/b`   | NodeDataChanged on `/a/b` | —                                            |
//!
//! Recursive watchers never receive NodeChildrenChanged. Unlike ZooKeeper 3.8 (ZOOKEEPER-4466) a
//! one-shot and a persistent watch on the same path by the same connection live side by side.
//!
//! Every collection here is ordered, so events come out in the same order on every platform.

use crate::request::{watcher_type, EventType, KeeperState, SetWatches, WatchedEvent};
use crate::tree::{DataTree, TreeEvent};
use crate::types::ConnId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

const STANDARD: u8 = 1;
const PERSISTENT: u8 = 2;
const RECURSIVE: u8 = 4;

/// How a watch was registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchMode {
    /// One-shot (getData, exists, getChildren).
    Standard,
    Persistent,
    PersistentRecursive,
}

impl WatchMode {
    fn bit(self) -> u8 {
        match self {
            WatchMode::Standard => STANDARD,
            WatchMode::Persistent => PERSISTENT,
            WatchMode::PersistentRecursive => RECURSIVE,
        }
    }
}

/// One of the two watch tables.
#[derive(Clone, Debug, Default)]
struct Table {
    by_path: BTreeMap<String, BTreeMap<ConnId, u8>>,
    by_conn: BTreeMap<ConnId, BTreeSet<String>>,
    recursive: usize,
}

impl Table {
    fn add(&mut self, path: &str, conn: ConnId, mode: WatchMode) {
        let bits = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .entry(conn)
            .or_insert(0);
        if mode == WatchMode::PersistentRecursive && *bits & RECURSIVE == 0 {
            self.recursive += 1;
        }
        *bits |= mode.bit();
        self.by_conn
            .entry(conn)
            .or_default()
            .insert(path.to_string());
    }

    /// Removes the bits `mask` of `conn`'s watch on `path`; true if any was there.
    fn remove(&mut self, path: &str, conn: ConnId, mask: u8) -> bool {
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(bits) = watchers.get_mut(&conn) else {
            return false;
        };
        let had = *bits & mask;
        if had == 0 {
            return false;
        }
        if had & RECURSIVE != 0 {
            self.recursive -= 1;
        }
        *bits &= !mask;
        if *bits == 0 {
            watchers.remove(&conn);
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
            if let Some(paths) = self.by_conn.get_mut(&conn) {
                paths.remove(path);
                if paths.is_empty() {
                    self.by_conn.remove(&conn);
                }
            }
        }
        true
    }

    fn contains(&self, path: &str, conn: ConnId, mask: u8) -> bool {
        self.by_path
            .get(path)
            .and_then(|w| w.get(&conn))
            .is_some_and(|b| b & mask != 0)
    }

    fn remove_conn(&mut self, conn: ConnId) {
        let Some(paths) = self.by_conn.remove(&conn) else {
            return;
        };
        for p in paths {
            if let Some(watchers) = self.by_path.get_mut(&p) {
                if let Some(bits) = watchers.remove(&conn) {
                    if bits & RECURSIVE != 0 {
                        self.recursive -= 1;
                    }
                }
                if watchers.is_empty() {
                    self.by_path.remove(&p);
                }
            }
        }
    }

    /// `WatchManager.triggerWatch`: the watchers to notify of `event` on `path`, removing one-shot
    /// watches as they fire.
    fn trigger(&mut self, path: &str, event: EventType, out: &mut BTreeSet<ConnId>) {
        let mut fired_standard: Vec<ConnId> = Vec::new();
        if let Some(watchers) = self.by_path.get(path) {
            for (&conn, &bits) in watchers {
                let recursive_fires =
                    bits & RECURSIVE != 0 && event != EventType::NodeChildrenChanged;
                if bits & (STANDARD | PERSISTENT) != 0 || recursive_fires {
                    out.insert(conn);
                }
                if bits & STANDARD != 0 {
                    fired_standard.push(conn);
                }
            }
        }
        for conn in fired_standard {
            self.remove(path, conn, STANDARD);
        }
        if self.recursive > 0 && event != EventType::NodeChildrenChanged {
            let mut p = path;
            while let Some(i) = p.rfind('/') {
                p = if i == 0 { "/" } else { &p[..i] };
                if let Some(watchers) = self.by_path.get(p) {
                    for (&conn, &bits) in watchers {
                        if bits & RECURSIVE != 0 {
                            out.insert(conn);
                        }
                    }
                }
                if p == "/" {
                    break;
                }
            }
        }
    }

    fn watch_count(&self) -> usize {
        self.by_path.values().map(|w| w.len()).sum()
    }
}

/// Watch notifications for one connection.
pub type Notification = (ConnId, WatchedEvent);

fn event(t: EventType, path: &str) -> WatchedEvent {
    WatchedEvent {
        event_type: t,
        state: KeeperState::SyncConnected,
        path: path.to_string(),
    }
}

/// The data and child watch tables of one server.
#[derive(Clone, Debug, Default)]
pub struct WatchManager {
    data: Table,
    child: Table,
}

impl WatchManager {
    pub fn new() -> WatchManager {
        WatchManager::default()
    }

    /// A one-shot data watch (getData, and exists whether or not the node exists).
    pub fn add_data_watch(&mut self, path: &str, conn: ConnId) {
        self.data.add(path, conn, WatchMode::Standard);
    }

    /// A one-shot child watch (getChildren).
    pub fn add_child_watch(&mut self, path: &str, conn: ConnId) {
        self.child.add(path, conn, WatchMode::Standard);
    }

    /// `addWatch`: a persistent watch goes in both tables, a recursive one in the data table.
    pub fn add_persistent(&mut self, path: &str, conn: ConnId, recursive: bool) {
        if recursive {
            self.data.add(path, conn, WatchMode::PersistentRecursive);
        } else {
            self.data.add(path, conn, WatchMode::Persistent);
            self.child.add(path, conn, WatchMode::Persistent);
        }
    }

    /// Forgets every watch of a closed connection.
    pub fn remove_connection(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    fn masks(watcher_type: i32) -> Option<(u8, u8)> {
        let all = STANDARD | PERSISTENT | RECURSIVE;
        // (data table mask, child table mask)
        Some(match watcher_type {
            watcher_type::CHILDREN => (0, all),
            watcher_type::DATA => (all, 0),
            watcher_type::ANY => (all, all),
            watcher_type::PERSISTENT => (PERSISTENT, PERSISTENT),
            watcher_type::PERSISTENT_RECURSIVE => (RECURSIVE, 0),
            _ => return None,
        })
    }

    /// `checkWatches`: does `conn` watch `path` in this way? `None` for an unknown watcher type.
    pub fn contains(&self, path: &str, watcher_type: i32, conn: ConnId) -> Option<bool> {
        let (d, c) = Self::masks(watcher_type)?;
        Some(self.data.contains(path, conn, d) || self.child.contains(path, conn, c))
    }

    /// `removeWatches`: true if something was removed. `None` for an unknown watcher type.
    pub fn remove(&mut self, path: &str, watcher_type: i32, conn: ConnId) -> Option<bool> {
        let (d, c) = Self::masks(watcher_type)?;
        let a = self.data.remove(path, conn, d);
        let b = self.child.remove(path, conn, c);
        Some(a || b)
    }

    /// Fires the watches a tree change triggers, appending one notification per watcher.
    pub fn trigger(&mut self, change: &TreeEvent, out: &mut Vec<Notification>) {
        let path = change.path();
        let parent = crate::path::parent_of(path).unwrap_or("/");
        let mut fired = BTreeSet::new();
        match change {
            TreeEvent::Created(_) => {
                self.data.trigger(path, EventType::NodeCreated, &mut fired);
                out.extend(
                    fired
                        .iter()
                        .map(|&c| (c, event(EventType::NodeCreated, path))),
                );
                fired.clear();
                self.child
                    .trigger(parent, EventType::NodeChildrenChanged, &mut fired);
                out.extend(
                    fired
                        .iter()
                        .map(|&c| (c, event(EventType::NodeChildrenChanged, parent))),
                );
            }
            TreeEvent::Deleted(_) => {
                self.data.trigger(path, EventType::NodeDeleted, &mut fired);
                out.extend(
                    fired
                        .iter()
                        .map(|&c| (c, event(EventType::NodeDeleted, path))),
                );
                let mut child_fired = BTreeSet::new();
                self.child
                    .trigger(path, EventType::NodeDeleted, &mut child_fired);
                out.extend(
                    child_fired
                        .difference(&fired)
                        .map(|&c| (c, event(EventType::NodeDeleted, path))),
                );
                fired.clear();
                self.child
                    .trigger(parent, EventType::NodeChildrenChanged, &mut fired);
                out.extend(
                    fired
                        .iter()
                        .map(|&c| (c, event(EventType::NodeChildrenChanged, parent))),
                );
            }
            TreeEvent::DataChanged(_) => {
                self.data
                    .trigger(path, EventType::NodeDataChanged, &mut fired);
                out.extend(
                    fired
                        .iter()
                        .map(|&c| (c, event(EventType::NodeDataChanged, path))),
                );
            }
        }
    }

    /// `DataTree.setWatches`: re-registers a reconnecting client's watches, firing at once those
    /// whose node changed after `relative_zxid` (the last zxid the client saw).
    pub fn set_watches(
        &mut self,
        tree: &DataTree,
        w: &SetWatches,
        conn: ConnId,
        out: &mut Vec<Notification>,
    ) {
        for p in &w.data {
            match tree.get(p) {
                None => out.push((conn, event(EventType::NodeDeleted, p))),
                Some(n) if n.stat().mzxid > w.relative_zxid => {
                    out.push((conn, event(EventType::NodeDataChanged, p)))
                }
                Some(_) => self.add_data_watch(p, conn),
            }
        }
        for p in &w.exist {
            match tree.get(p) {
                Some(_) => out.push((conn, event(EventType::NodeCreated, p))),
                None => self.add_data_watch(p, conn),
            }
        }
        for p in &w.child {
            match tree.get(p) {
                None => out.push((conn, event(EventType::NodeDeleted, p))),
                Some(n) if n.stat().pzxid > w.relative_zxid => {
                    out.push((conn, event(EventType::NodeChildrenChanged, p)))
                }
                Some(_) => self.add_child_watch(p, conn),
            }
        }
        for p in &w.persistent {
            self.add_persistent(p, conn, false);
        }
        for p in &w.persistent_recursive {
            self.add_persistent(p, conn, true);
        }
    }

    /// Total number of watches (both tables), as `wchs` and `mntr` count them.
    pub fn watch_count(&self) -> usize {
        self.data.watch_count() + self.child.watch_count()
    }

    /// Number of distinct watched paths across both tables.
    pub fn path_count(&self) -> usize {
        let mut n = self.data.by_path.len();
        n += self
            .child
            .by_path
            .keys()
            .filter(|p| !self.data.by_path.contains_key(*p))
            .count();
        n
    }

    /// Connections with at least one watch.
    pub fn connection_count(&self) -> usize {
        let mut conns: BTreeSet<ConnId> = self.data.by_conn.keys().copied().collect();
        conns.extend(self.child.by_conn.keys().copied());
        conns.len()
    }

    /// Path → watching connections (`wchp`).
    pub fn by_path(&self) -> BTreeMap<String, BTreeSet<ConnId>> {
        let mut m: BTreeMap<String, BTreeSet<ConnId>> = BTreeMap::new();
        for t in [&self.data, &self.child] {
            for (p, w) in &t.by_path {
                m.entry(p.clone()).or_default().extend(w.keys().copied());
            }
        }
        m
    }

    /// Connection → watched paths (`wchc`).
    pub fn by_connection(&self) -> BTreeMap<ConnId, BTreeSet<String>> {
        let mut m: BTreeMap<ConnId, BTreeSet<String>> = BTreeMap::new();
        for t in [&self.data, &self.child] {
            for (c, ps) in &t.by_conn {
                m.entry(*c).or_default().extend(ps.iter().cloned());
            }
        }
        m
    }

    /// The data-watch table alone, path → watching connections. ZooKeeper's `wchs`, `wchc` and
    /// `wchp` report only this table (child watches show in `mntr`'s `zk_watch_count` only).
    pub fn data_watches_by_path(&self) -> BTreeMap<&str, Vec<ConnId>> {
        self.data
            .by_path
            .iter()
            .map(|(p, w)| (p.as_str(), w.keys().copied().collect()))
            .collect()
    }

    /// The data-watch table alone, connection → watched paths.
    pub fn data_watches_by_connection(&self) -> BTreeMap<ConnId, Vec<&str>> {
        self.data
            .by_conn
            .iter()
            .map(|(c, ps)| (*c, ps.iter().map(String::as_str).collect()))
            .collect()
    }

    /// The paths one connection watches, with the kind of each watch (for the playground).
    pub fn watches_of(&self, conn: ConnId) -> Vec<(String, &'static str)> {
        let mut v = Vec::new();
        for (t, kind) in [(&self.data, "data"), (&self.child, "child")] {
            if let Some(paths) = t.by_conn.get(&conn) {
                for p in paths {
                    let bits = t
                        .by_path
                        .get(p)
                        .and_then(|w| w.get(&conn))
                        .copied()
                        .unwrap_or(0);
                    let k = if bits & RECURSIVE != 0 {
                        "persistentRecursive"
                    } else if bits & PERSISTENT != 0 {
                        "persistent"
                    } else {
                        kind
                    };
                    v.push((p.clone(), k));
                }
            }
        }
        v.sort();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: ConnId = ConnId(1);
    const B: ConnId = ConnId(2);

    fn fire(w: &mut WatchManager, ev: TreeEvent) -> Vec<(u64, EventType, String)> {
        let mut out = Vec::new();
        w.trigger(&ev, &mut out);
        out.into_iter()
            .map(|(c, e)| (c.0, e.event_type, e.path))
            .collect()
    }

    #[test]
    fn one_shot_data_watch() {
        let mut w = WatchManager::new();
        w.add_data_watch("/a", A);
        assert_eq!(
            fire(&mut w, TreeEvent::DataChanged("/a".into())),
            vec![(1, EventType::NodeDataChanged, "/a".into())]
        );
        assert!(
            fire(&mut w, TreeEvent::DataChanged("/a".into())).is_empty(),
            "one event per registration"
        );
        assert_eq!(w.watch_count(), 0);
    }

    #[test]
    fn exists_watch_fires_on_create() {
        let mut w = WatchManager::new();
        w.add_data_watch("/a", A);
        assert_eq!(
            fire(&mut w, TreeEvent::Created("/a".into())),
            vec![(1, EventType::NodeCreated, "/a".into())]
        );
    }

    #[test]
    fn child_watch_rules() {
        let mut w = WatchManager::new();
        w.add_child_watch("/p", A);
        assert!(fire(&mut w, TreeEvent::DataChanged("/p".into())).is_empty());
        assert_eq!(
            fire(&mut w, TreeEvent::Created("/p/c".into())),
            vec![(1, EventType::NodeChildrenChanged, "/p".into())]
        );
        w.add_child_watch("/p", A);
        w.add_data_watch("/p", A);
        // The node itself is deleted: one NodeDeleted for A, not two.
        assert_eq!(
            fire(&mut w, TreeEvent::Deleted("/p".into())),
            vec![(1, EventType::NodeDeleted, "/p".into())]
        );
        assert_eq!(w.watch_count(), 0);
    }

    #[test]
    fn root_children() {
        let mut w = WatchManager::new();
        w.add_child_watch("/", A);
        assert_eq!(
            fire(&mut w, TreeEvent::Created("/x".into())),
            vec![(1, EventType::NodeChildrenChanged, "/".into())]
        );
    }

    #[test]
    fn persistent_and_recursive() {
        let mut w = WatchManager::new();
        w.add_persistent("/p", A, false);
        w.add_persistent("/p", B, true);
        assert_eq!(
            fire(&mut w, TreeEvent::Created("/p/c".into())),
            vec![
                (2, EventType::NodeCreated, "/p/c".into()),
                (1, EventType::NodeChildrenChanged, "/p".into())
            ]
        );
        assert_eq!(
            fire(&mut w, TreeEvent::DataChanged("/p/c/d".into())),
            vec![(2, EventType::NodeDataChanged, "/p/c/d".into())]
        );
        assert_eq!(
            fire(&mut w, TreeEvent::DataChanged("/p".into())),
            vec![
                (1, EventType::NodeDataChanged, "/p".into()),
                (2, EventType::NodeDataChanged, "/p".into())
            ]
        );
        assert_eq!(w.watch_count(), 3, "persistent watches stay");
        assert_eq!(w.contains("/p", watcher_type::ANY, A), Some(true));
        assert_eq!(w.remove("/p", watcher_type::ANY, A), Some(true));
        assert_eq!(w.remove("/p", watcher_type::ANY, A), Some(false));
        assert_eq!(w.remove("/p", 9, A), None);
        w.remove_connection(B);
        assert_eq!(w.watch_count(), 0);
        assert!(fire(&mut w, TreeEvent::Created("/p/z".into())).is_empty());
    }

    #[test]
    fn standard_and_persistent_coexist() {
        let mut w = WatchManager::new();
        w.add_persistent("/p", A, false);
        w.add_data_watch("/p", A);
        assert_eq!(fire(&mut w, TreeEvent::DataChanged("/p".into())).len(), 1);
        assert_eq!(
            fire(&mut w, TreeEvent::DataChanged("/p".into())).len(),
            1,
            "the persistent one remains"
        );
    }

    #[test]
    fn set_watches_fires_missed_changes() {
        use crate::acl::Acl;
        use crate::txn::{Txn, TxnHeader};
        use crate::types::{SessionId, Zxid};
        let mut tree = DataTree::new(false);
        let mut ev = Vec::new();
        let h = |z| TxnHeader {
            session: SessionId(1),
            cxid: 0,
            zxid: Zxid(z),
            time: 0,
        };
        let c = |p: &str| Txn::Create {
            path: p.into(),
            data: Some(vec![]),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: -1,
            create2: false,
        };
        tree.apply(&h(1), &c("/old"), &mut ev);
        tree.apply(&h(2), &c("/new"), &mut ev);
        let mut w = WatchManager::new();
        let sw = SetWatches {
            relative_zxid: Zxid(1),
            data: vec!["/old".into(), "/new".into(), "/gone".into()],
            exist: vec!["/new".into(), "/absent".into()],
            child: vec!["/old".into(), "/".into()],
            ..Default::default()
        };
        let mut out = Vec::new();
        w.set_watches(&tree, &sw, A, &mut out);
        let got: Vec<_> = out
            .into_iter()
            .map(|(_, e)| (e.event_type, e.path))
            .collect();
        assert_eq!(
            got,
            vec![
                (EventType::NodeDataChanged, "/new".into()),
                (EventType::NodeDeleted, "/gone".into()),
                (EventType::NodeCreated, "/new".into()),
                (EventType::NodeChildrenChanged, "/".into()),
            ]
        );
        assert_eq!(
            w.by_path().keys().cloned().collect::<Vec<_>>(),
            vec!["/absent", "/old"]
        );
    }

    #[test]
    fn data_watch_views_leave_child_watches_out() {
        let mut w = WatchManager::new();
        w.add_data_watch("/a", ConnId(1));
        w.add_child_watch("/a", ConnId(1));
        w.add_persistent("/a", ConnId(1), true);
        w.add_child_watch("/only-child", ConnId(2));
        w.add_data_watch("/b", ConnId(2));
        let by_path = w.data_watches_by_path();
        assert_eq!(by_path.len(), 2, "{by_path:?}");
        assert_eq!(by_path["/a"], vec![ConnId(1)], "one entry per watcher");
        let by_conn = w.data_watches_by_connection();
        assert_eq!(by_conn[&ConnId(2)], vec!["/b"]);
        assert_eq!(w.watch_count(), 4, "mntr counts both tables");
    }
}
