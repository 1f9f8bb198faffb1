//! ONE ensemble of real Apache ZooKeeper 3.8 servers (`zkServer.sh start-foreground`) and real
//! `zkserver` processes: leaders and learners of either kind, observers of either kind, a leader
//! killed under write load, and every way a leader brings a learner up to date (DIFF, TRUNC,
//! SNAP) in both directions, each checked in the logs of both ends. After every step the trees
//! of all servers are read with an independent client (`zookeeper-client`) and compared node by
//! node, and `zk_digest_mismatches_count` is 0 on every server: every transaction left the same
//! tree digest on both kinds.
//!
//! Needs Debian's zookeeper package. One test runs at a time (see `mixed_harness`); with
//! `--nocapture` each prints what it does and what it observed.

mod common;
mod mixed_harness;

use mixed_harness::*;
use std::time::{Duration, Instant};
use zk_native::client::{perms, Acl, Client, ClientError, CreateMode, ErrorCode, Id, Op};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// Writes of every kind

/// Through `c`, under `/kinds/<tag>`: persistent, ephemeral, sequential, ephemeral sequential,
/// container, TTL and create2 creates, setData (one with a bad version: an error txn), setACL,
/// delete (and one of a missing node: an error txn), a multi that succeeds and one that fails,
/// sync; each result checked, and read back.
async fn every_kind(c: &Client, tag: &str) {
    use CreateMode::*;
    let base = format!("/kinds/{tag}");
    let p = |name: &str| format!("{base}/{name}");
    let open = open();
    let ok = |what: &str, r: Result<String, ClientError>| {
        r.unwrap_or_else(|e| panic!("{tag}: {what}: {e}"))
    };
    ok(
        "create base",
        within(
            "create",
            c.create(&base, Some(tag.as_bytes()), &open, Persistent),
        )
        .await,
    );
    ok(
        "persistent",
        within("create", c.create(&p("p"), Some(b"p0"), &open, Persistent)).await,
    );
    ok(
        "ephemeral",
        within("create", c.create(&p("e"), Some(b"e"), &open, Ephemeral)).await,
    );
    let s1 = ok(
        "sequential",
        within(
            "create",
            c.create(&p("s-"), Some(b"s1"), &open, PersistentSequential),
        )
        .await,
    );
    let s2 = ok(
        "sequential",
        within(
            "create",
            c.create(&p("s-"), Some(b"s2"), &open, PersistentSequential),
        )
        .await,
    );
    assert!(
        s1.starts_with(&p("s-")) && s1 < s2,
        "{tag}: sequential names {s1} {s2}"
    );
    let es = ok(
        "ephemeral sequential",
        within(
            "create",
            c.create(&p("es-"), Some(b"es"), &open, EphemeralSequential),
        )
        .await,
    );
    assert!(es.starts_with(&p("es-")), "{es}");
    ok(
        "container",
        within("create", c.create(&p("c"), None, &open, Container)).await,
    );
    ok(
        "container child",
        within(
            "create",
            c.create(&p("c/child"), Some(b"in a container"), &open, Persistent),
        )
        .await,
    );
    let (_, st) = within(
        "create ttl",
        c.create_ttl(&p("ttl"), Some(b"ttl"), &open, PersistentWithTtl, 3_600_000),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: ttl: {e}"));
    assert_eq!(st.version, 0);
    let (_, st) = within(
        "create2",
        c.create2(&p("c2"), Some(b"c2"), &open, Persistent),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: create2: {e}"));
    assert_eq!((st.version, st.data_length), (0, 2), "{tag}: create2 stat");
    let st = within("setData", c.set_data(&p("p"), Some(b"p1"), 0))
        .await
        .unwrap_or_else(|e| panic!("{tag}: setData: {e}"));
    assert_eq!(st.version, 1);
    let e = within("setData", c.set_data(&p("p"), Some(b"px"), 0))
        .await
        .unwrap_err();
    assert_eq!(e.zk_code(), ErrorCode::BadVersion, "{tag}: {e}");
    ok(
        "acl node",
        within(
            "create",
            c.create(&p("acl"), Some(b"acl"), &open, Persistent),
        )
        .await,
    );
    let acl = vec![
        Acl::new(perms::ALL, Id::new("ip", "127.0.0.1")),
        Acl::new(perms::READ, Id::anyone()),
    ];
    let st = within("setACL", c.set_acl(&p("acl"), &acl, 0))
        .await
        .unwrap_or_else(|e| panic!("{tag}: setACL: {e}"));
    assert_eq!(st.aversion, 1);
    ok(
        "to delete",
        within("create", c.create(&p("d"), Some(b"d"), &open, Persistent)).await,
    );
    within("delete", c.delete(&p("d"), 0))
        .await
        .unwrap_or_else(|e| panic!("{tag}: delete: {e}"));
    let e = within("delete", c.delete(&p("d"), -1)).await.unwrap_err();
    assert_eq!(e.zk_code(), ErrorCode::NoNode, "{tag}: {e}");
    let r = within(
        "multi",
        c.multi(vec![
            Op::create(&p("m1"), Some(b"m"), &open, Persistent),
            Op::set_data(&p("m1"), Some(b"m1"), 0),
            Op::check(&p("p"), 1),
            Op::create(&p("m2"), None, &open, Persistent),
            Op::delete(&p("m2"), 0),
        ]),
    )
    .await
    .unwrap_or_else(|e| panic!("{tag}: multi: {e}"));
    assert_eq!(r.len(), 5);
    let e = within(
        "failing multi",
        c.multi(vec![
            Op::create(&p("mf"), Some(b"never"), &open, Persistent),
            Op::set_data(&p("none"), Some(b"x"), -1),
        ]),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::MultiFailed {
                index: 1,
                code: ErrorCode::NoNode,
                ..
            }
        ),
        "{tag}: {e:?}"
    );
    within("sync", c.sync("/"))
        .await
        .unwrap_or_else(|e| panic!("{tag}: sync: {e}"));
    // Read back.
    let (d, st) = within("getData", c.get_data(&p("p"), false)).await.unwrap();
    assert_eq!((d.as_deref(), st.version), (Some(&b"p1"[..]), 1), "{tag}");
    let (d, _) = within("getData", c.get_data(&p("m1"), false))
        .await
        .unwrap();
    assert_eq!(d.as_deref(), Some(&b"m1"[..]), "{tag}");
    let (got, st) = within("getACL", c.get_acl(&p("acl"))).await.unwrap();
    assert_eq!((got, st.aversion), (acl, 1), "{tag}");
    for gone in ["mf", "m2", "d"] {
        assert_eq!(
            within("exists", c.exists(&p(gone), false)).await.unwrap(),
            None,
            "{tag}: {gone}"
        );
    }
    let mut children = within("getChildren", c.get_children(&base, false))
        .await
        .unwrap();
    children.sort();
    assert_eq!(children.len(), 10, "{tag}: {children:?}");
}

/// `every_kind` through each of `ids` (a session with that server alone), then closed: its
/// ephemerals go.
fn every_kind_through(m: &Mixed, rt: &tokio::runtime::Runtime, ids: &[u64], round: &str) {
    rt.block_on(async {
        let c = connect(&m.connect_string(ids)).await;
        ensure(&c, "/kinds").await;
        within("close", c.close()).await.unwrap();
        for id in ids {
            let c = connect(&m.connect_string(&[*id])).await;
            every_kind(&c, &format!("{round}-via-{}", m.sname(*id))).await;
            within("close", c.close()).await.unwrap();
        }
    });
    m.note(&format!(
        "writes of every kind through {} ({round}) checked",
        ids.iter()
            .map(|id| m.sname(*id))
            .collect::<Vec<_>>()
            .join(" ")
    ));
}

/// Checks that `leader` and `learner` agree on how the learner was synced (each in its log
/// after its offset) and returns the mode.
fn sync_mode(
    m: &Mixed,
    leader: u64,
    learner: u64,
    off_leader: usize,
    off_learner: usize,
) -> String {
    let sent = m.leader_sent(leader, learner, off_leader);
    let got = m.learner_got(learner, off_learner);
    let evidence = [
        m.grep(
            leader,
            off_leader,
            &[
                "syncing learner",
                "Sending DIFF",
                "Sending TRUNC",
                "Sending snapshot",
                "Cannot send TRUNC",
                "Unhandled scenario",
                "Using committedLog",
            ],
        ),
        m.grep(
            learner,
            off_learner,
            &[
                "brings us up to date",
                "truncated our log",
                "installed the leader's snapshot",
                "Getting a diff",
                "Getting a snapshot",
                "Truncating log",
            ],
        ),
    ];
    m.note(&format!(
        "{} ({:?}) -> {} ({:?}): leader says {sent:?}, learner says {got:?}\n    {}",
        m.sname(leader),
        m.kind(leader),
        m.sname(learner),
        m.kind(learner),
        evidence.concat().join("\n    ")
    ));
    let attempts = m.sync_attempts(leader, learner, off_leader);
    assert!(
        attempts.len() == 1,
        "{} synced {} {} times (once expected); why the earlier attempts ended, in both logs:\n    {}\n    {}",
        m.sname(leader),
        m.sname(learner),
        attempts.len(),
        m.grep(
            leader,
            off_leader,
            &["Synchronizing with", "syncing learner", "GOODBYE", "supposed to be", "learner", "Exception"]
        )
        .join("\n    "),
        m.grep(
            learner,
            off_learner,
            &["LOOKING", "brings us up to date", "lost the connection", "dropped", "Exception when following", "WARN", "ERROR"]
        )
        .join("\n    ")
    );
    assert!(
        sent.is_some() && sent == got,
        "{} and {} do not agree on the sync: leader {sent:?}, learner {got:?}",
        m.sname(leader),
        m.sname(learner)
    );
    sent.unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1, 2 and 5: failover under load

/// Servers of `kinds`; `first` two started, the higher id of them (Apache) leads; then `later`
/// follows. Writes of every kind through every server; then kill -9 of the leader under a write
/// load through the other two (8 creates in flight); the survivors elect the one with the
/// newest zxid (the highest id on a tie); the old leader comes back as a follower of the new
/// one; writes of every kind again; every acknowledged write is on every server, the trees are
/// equal, no digest mismatch.
fn failover_under_load(name: &str, kinds: [Kind; 3], first: [u64; 2], later: u64) {
    let mut m = Mixed::new(name, &kinds.map(|k| (k, false)));
    let rt = rt();
    let all = [1u64, 2, 3];
    m.start(first[0]);
    m.start(first[1]);
    let leader = m.wait_leader(&first);
    assert_eq!(leader, first[1], "the higher id of the first two leads");
    assert_eq!(m.kind(leader), Apache, "an Apache leader first");
    m.start(later);
    m.wait_modes(&[(later, "follower")]);
    assert_eq!(m.wait_leader(&all), leader);
    for id in all {
        assert_eq!(m.reported_kind(id), Some(m.kind(id)), "srvr of {id}");
    }
    every_kind_through(&m, &rt, &all, "r1");

    // A session with ephemerals that lives through the failover.
    let holder = rt.block_on(async {
        let h = connect(&m.connect_string(&all)).await;
        within(
            "create",
            h.create("/holder-e", Some(b"held"), &open(), CreateMode::Ephemeral),
        )
        .await
        .unwrap();
        within(
            "create",
            h.create(
                "/holder-es-",
                Some(b"held"),
                &open(),
                CreateMode::EphemeralSequential,
            ),
        )
        .await
        .unwrap();
        h
    });

    let others: Vec<u64> = all.iter().copied().filter(|id| *id != leader).collect();
    let load = rt.block_on(Load::start(&m.connect_string(&others), "/load", 2, 4));
    std::thread::sleep(Duration::from_millis(1200));
    let off_at_kill: Vec<usize> = all.iter().map(|id| m.log_len(*id)).collect();
    let killed_at = Instant::now();
    m.kill9(leader);
    let new = m.wait_leader(&others);
    let serving_at = Instant::now();
    let failover = killed_at.elapsed();
    std::thread::sleep(Duration::from_millis(1500));
    let result = rt.block_on(load.stop());
    let before = result.acked.iter().filter(|a| a.2 < killed_at).count();
    let after = result.acked.iter().filter(|a| a.2 > serving_at).count();
    m.note(&format!(
        "load: {} attempts, {} acknowledged ({before} before the kill, {after} after the new \
         leader served), errors {:?}; failover {failover:?}",
        result.attempts,
        result.acked.len(),
        result.errors
    ));
    assert!(before > 0, "the load ran before the kill");
    assert!(
        after > 0,
        "writes are acknowledged again after the new leader serves"
    );
    assert_eq!(m.reported_kind(new), Some(m.kind(new)));
    let expected = *others.iter().max().unwrap();
    m.note(&format!(
        "new leader {} ({:?}); the highest surviving id is {}",
        m.sname(new),
        m.kind(new),
        m.sname(expected)
    ));
    if new != expected {
        // Only a newer zxid beats a higher id: then the loser had nothing the winner lacked,
        // and is brought up to date without a TRUNC.
        let mode = sync_mode(
            &m,
            new,
            expected,
            off_at_kill[(new - 1) as usize],
            off_at_kill[(expected - 1) as usize],
        );
        assert_ne!(
            mode,
            "TRUNC",
            "{} won the election over {} although {} had transactions it lacked",
            m.sname(new),
            m.sname(expected),
            m.sname(expected)
        );
    }

    // The old leader comes back and follows.
    let (off_new, off_old) = (m.log_len(new), m.log_len(leader));
    m.start(leader);
    m.wait_modes(&[(leader, "follower")]);
    assert_eq!(m.wait_leader(&all), new);
    let mode = sync_mode(&m, new, leader, off_new, off_old);
    m.note(&format!(
        "the old leader {} came back: synced by {} ({:?}) with {mode}",
        m.sname(leader),
        m.sname(new),
        m.kind(new)
    ));
    every_kind_through(&m, &rt, &all, "r2");

    let tree = m.assert_trees_equal(&rt);
    for (path, data, _) in &result.acked {
        let node = tree
            .get(path)
            .unwrap_or_else(|| panic!("the acknowledged write {path} is lost"));
        assert_eq!(&node.data, data.as_bytes(), "{path}");
    }
    let sid = holder.session_id();
    let held: Vec<(&String, &Znode)> = tree
        .iter()
        .filter(|(p, _)| p.starts_with("/holder-"))
        .collect();
    assert_eq!(held.len(), 2, "{held:?}");
    for (p, n) in held {
        assert_eq!(n.ephemeral_owner, sid.0, "{p}");
    }
    m.note(&format!(
        "{} acknowledged writes present on every server",
        result.acked.len()
    ));
    rt.block_on(async { within("close", holder.close()).await.unwrap() });
    let tree = m.assert_trees_equal(&rt);
    assert!(
        !tree.keys().any(|p| p.starts_with("/holder-")),
        "the holder's ephemerals went with its session"
    );
}

/// A1 A2 Z3: A2 leads; killed under load, Z3 (highest id) is expected to lead; A2 follows it.
#[test]
fn two_apache_one_zkserver() {
    failover_under_load(
        "two_apache_one_zkserver",
        [Apache, Apache, ZkServer],
        [1, 2],
        3,
    );
}

/// Z1 Z2 A3: A3 leads; killed under load, Z2 is expected to lead; A3 follows it.
#[test]
fn one_apache_two_zkservers() {
    failover_under_load(
        "one_apache_two_zkservers",
        [ZkServer, ZkServer, Apache],
        [1, 3],
        2,
    );
}

// ---------------------------------------------------------------------------------------------
// 3: observers

/// Three voters of one kind and an observer of the other: writes through the observer
/// (forwarded to the leader), read back on it, sync; the leader killed, the observer follows
/// the new leader and serves the same session again.
fn observer_scenario(name: &str, voters: Kind, observer: Kind) {
    let mut m = Mixed::new(
        name,
        &[
            (voters, false),
            (voters, false),
            (voters, false),
            (observer, true),
        ],
    );
    let rt = rt();
    let voter_ids = [1u64, 2, 3];
    for id in voter_ids {
        m.start(id);
    }
    let leader = m.wait_leader(&voter_ids);
    let (off_leader, off_obs) = (m.log_len(leader), m.log_len(4));
    m.start(4);
    m.wait_modes(&[(4, "observer")]);
    let mode = sync_mode(&m, leader, 4, off_leader, off_obs);
    m.note(&format!("observer {} joined with {mode}", m.sname(4)));
    assert_eq!(
        m.mntr(leader, "zk_synced_observers").as_deref(),
        Some("1"),
        "the leader counts its observer"
    );
    let c = rt.block_on(async {
        let c = connect(&m.connect_string(&[4])).await;
        ensure(&c, "/kinds").await;
        every_kind(&c, "via-observer-1").await;
        c
    });
    m.assert_trees_equal(&rt);

    let off: Vec<usize> = (1..=4).map(|id| m.log_len(id)).collect();
    m.kill9(leader);
    let survivors: Vec<u64> = voter_ids.iter().copied().filter(|i| *i != leader).collect();
    let new = m.wait_leader(&survivors);
    m.wait_modes(&[(4, "observer")]);
    let mode = sync_mode(&m, new, 4, off[(new - 1) as usize], off[3]);
    m.note(&format!(
        "observer {} now observes {} ({mode})",
        m.sname(4),
        m.sname(new)
    ));
    // The same session, through the observer again.
    rt.block_on(async {
        every_kind(&c, "via-observer-2").await;
        let (d, _) = within("getData", c.get_data("/kinds/via-observer-1/p", false))
            .await
            .unwrap();
        assert_eq!(d.as_deref(), Some(&b"p1"[..]));
        within("close", c.close()).await.unwrap();
    });
    m.assert_trees_equal(&rt);
}

/// Z1 Z2 Z3 (zkserver leader) + A4 observer.
#[test]
fn observer_apache_with_zkserver_voters() {
    observer_scenario("observer_apache_with_zkserver_voters", ZkServer, Apache);
}

/// A1 A2 A3 (Apache leader) + Z4 observer.
#[test]
fn observer_zkserver_with_apache_voters() {
    observer_scenario("observer_zkserver_with_apache_voters", Apache, ZkServer);
}

// ---------------------------------------------------------------------------------------------
// 4: DIFF, SNAP and TRUNC in both directions

/// Stops `learner` (kill -TERM), makes `writes` creates through the others (pipelined),
/// restarts it; both ends must say `expect`; the trees are equal afterwards.
fn catch_up(
    m: &mut Mixed,
    rt: &tokio::runtime::Runtime,
    leader: u64,
    learner: u64,
    writes: usize,
    expect: &str,
) {
    let others: Vec<u64> = m.running().into_iter().filter(|i| *i != learner).collect();
    m.term(learner);
    let parent = format!("/catchup-{expect}-{}", m.sname(learner));
    let t = Instant::now();
    rt.block_on(pipelined_creates(
        &m.connect_string(&others),
        &parent,
        writes,
    ));
    m.note(&format!("{writes} creates in {:?}", t.elapsed()));
    let (off_leader, off_learner) = (m.log_len(leader), m.log_len(learner));
    m.start(learner);
    m.wait_modes(&[(learner, "follower")]);
    assert_eq!(m.wait_leader(&m.running()), leader);
    let mode = sync_mode(m, leader, learner, off_leader, off_learner);
    let tree = m.assert_trees_equal(rt);
    let children = tree
        .keys()
        .filter(|p| p.starts_with(&format!("{parent}/")))
        .count();
    assert_eq!(children, writes, "{parent}");
    assert_eq!(
        mode,
        expect,
        "{} ({:?}) brought {} ({:?}) up to date after {writes} missed writes",
        m.sname(leader),
        m.kind(leader),
        m.sname(learner),
        m.kind(learner)
    );
}

/// Servers 1 and 2 of `kinds` lead (2), 3 follows; 3 misses 20 writes (DIFF), then 600 (SNAP).
fn diff_and_snap(name: &str, kinds: [Kind; 3]) {
    let mut m = Mixed::new(
        name,
        &[(kinds[0], false), (kinds[1], false), (kinds[2], false)],
    );
    let rt = rt();
    m.start(1);
    m.start(2);
    assert_eq!(m.wait_leader(&[1, 2]), 2);
    m.start(3);
    m.wait_modes(&[(3, "follower")]);
    every_kind_through(&m, &rt, &[1, 2, 3], "r1");
    catch_up(&mut m, &rt, 2, 3, 20, "DIFF");
    catch_up(&mut m, &rt, 2, 3, 600, "SNAP");
}

/// Z1 Z2 lead (Z2), A3 follows.
#[test]
fn diff_and_snap_zkserver_leader_to_apache_follower() {
    diff_and_snap(
        "diff_and_snap_zkserver_leader_to_apache_follower",
        [ZkServer, ZkServer, Apache],
    );
}

/// A1 A2 lead (A2), Z3 follows.
#[test]
fn diff_and_snap_apache_leader_to_zkserver_follower() {
    diff_and_snap(
        "diff_and_snap_apache_leader_to_zkserver_follower",
        [Apache, Apache, ZkServer],
    );
}

/// The leader `old` logs a transaction no follower gets: both followers frozen (SIGSTOP), a
/// create sent to `old` (never acknowledged), 300 ms for it to be logged, then all three
/// killed (-9). The followers come back and elect a leader without that transaction; with
/// `new_epoch_writes`, writes go through them first; then `old` comes back, as a follower of
/// the new leader, which must take the transaction away (TRUNC, or a SNAP). The create is on no
/// server afterwards; the trees are equal. Returns the sync mode both ends agree on.
fn trunc_round(
    m: &mut Mixed,
    rt: &tokio::runtime::Runtime,
    tag: &str,
    old: u64,
    followers: [u64; 2],
    new_epoch_writes: bool,
) -> String {
    assert_eq!(m.mode(old), "leader");
    let kept = format!("/trunc-{tag}-kept");
    let lost = format!("/trunc-{tag}-lost");
    let c = rt.block_on(async {
        let c = connect(&m.connect_string(&[old])).await;
        within(
            "create",
            c.create(&kept, Some(b"kept"), &open(), CreateMode::Persistent),
        )
        .await
        .unwrap();
        c
    });
    // Both followers have everything before they freeze.
    m.wait_same_zxid();
    let before = m.zxid(old);
    m.sigstop(followers[0]);
    m.sigstop(followers[1]);
    let pending = {
        let c = c.clone();
        let lost = lost.clone();
        rt.spawn(async move {
            c.create(
                &lost,
                Some(b"never acknowledged"),
                &open(),
                CreateMode::Persistent,
            )
            .await
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let proposed = m.zxid(old);
    m.note(&format!(
        "{} zxid before the lost create {:?}, after {:?}",
        m.sname(old),
        before.map(fmt_zxid),
        proposed.map(fmt_zxid)
    ));
    m.kill9(old);
    m.kill9(followers[0]);
    m.kill9(followers[1]);
    let r = rt.block_on(within("the lost create", pending)).unwrap();
    assert!(
        r.is_err(),
        "a create acknowledged with both followers frozen: {r:?}"
    );
    rt.block_on(c.abandon());
    m.start(followers[0]);
    m.start(followers[1]);
    let new = m.wait_leader(&followers);
    assert_eq!(
        new,
        followers[0].max(followers[1]),
        "equal zxids: the higher id leads"
    );
    if new_epoch_writes {
        rt.block_on(pipelined_creates(
            &m.connect_string(&followers),
            &format!("/trunc-{tag}-new-epoch"),
            5,
        ));
    }
    let (off_new, off_old) = (m.log_len(new), m.log_len(old));
    m.start(old);
    m.wait_modes(&[(old, "follower")]);
    assert_eq!(m.wait_leader(&[1, 2, 3]), new);
    let mode = sync_mode(m, new, old, off_new, off_old);
    if !new_epoch_writes {
        rt.block_on(pipelined_creates(
            &m.connect_string(&[1, 2, 3]),
            &format!("/trunc-{tag}-new-epoch"),
            5,
        ));
    }
    let tree = m.assert_trees_equal(rt);
    assert!(tree.contains_key(&kept), "{kept} was acknowledged");
    assert!(
        !tree.contains_key(&lost),
        "{lost} was never acknowledged and the new leader never had it"
    );
    mode
}

/// The old leader 3 (of `kinds`) is brought back twice by a leader of the other kind, after the
/// other two elected one: (a) before any transaction of the new epoch, then, 3 leading again,
/// (b) after writes in the new epoch. Returns how it was synced each time.
fn trunc_scenario(name: &str, kinds: [Kind; 3]) -> (String, String) {
    let mut m = Mixed::new(
        name,
        &[(kinds[0], false), (kinds[1], false), (kinds[2], false)],
    );
    let rt = rt();
    m.start(1);
    m.start(3);
    assert_eq!(m.wait_leader(&[1, 3]), 3);
    m.start(2);
    m.wait_modes(&[(2, "follower")]);
    rt.block_on(pipelined_creates(
        &m.connect_string(&[1, 2, 3]),
        "/before",
        30,
    ));
    let a = trunc_round(&mut m, &rt, "a", 3, [1, 2], false);
    assert_eq!(
        a, "TRUNC",
        "old leader back before any new-epoch transaction"
    );
    // 3 leads again: kill 2, then 1 and 3 elect 3 (equal zxids, higher id); 2 follows.
    m.kill9(2);
    assert_eq!(m.wait_leader(&[1, 3]), 3);
    m.start(2);
    m.wait_modes(&[(2, "follower")]);
    let b = trunc_round(&mut m, &rt, "b", 3, [1, 2], true);
    m.note(&format!("after new-epoch writes the old leader got {b}"));
    (a, b)
}

/// Z1 Z2 A3, A3 the old leader: the zkserver leader Z2 brings A3 back. (a) A3 returns before
/// any transaction of the new epoch: TRUNC. (b) After writes in the new epoch: TRUNC or SNAP
/// (Apache's leader sends no TRUNC across an epoch; it falls back to a SNAP).
#[test]
fn trunc_zkserver_leader_to_apache_learner() {
    let (_, b) = trunc_scenario(
        "trunc_zkserver_leader_to_apache_learner",
        [ZkServer, ZkServer, Apache],
    );
    assert!(b == "TRUNC" || b == "SNAP", "{b}");
}

/// A1 A2 Z3, Z3 the old leader: the Apache leader A2 brings Z3 back. (a) Before any new-epoch
/// transaction: Apache sends TRUNC. (b) After writes in the new epoch: Apache sends a SNAP (it
/// sends no TRUNC across epochs).
#[test]
fn trunc_apache_leader_to_zkserver_learner() {
    let (_, b) = trunc_scenario(
        "trunc_apache_leader_to_zkserver_learner",
        [Apache, Apache, ZkServer],
    );
    assert_eq!(b, "SNAP", "Apache's leader sends no TRUNC across an epoch");
}

// ---------------------------------------------------------------------------------------------
// 6: each kind restarted on the other's dataDir

/// A1 A2 Z3 (A2 leads). Z3 stopped, writes, restarted as Apache on its dataDir: it must have
/// read zkserver's snapshot and log (a DIFF, not a SNAP from zero). A1 likewise restarted as
/// zkserver on Apache's files. Then the leader A2 killed (-9) and restarted as zkserver on its
/// dataDir, following the new leader.
#[test]
fn each_kind_restarted_on_the_others_data_dir() {
    let mut m = Mixed::new(
        "each_kind_restarted_on_the_others_data_dir",
        &[(Apache, false), (Apache, false), (ZkServer, false)],
    );
    let rt = rt();
    m.start(1);
    m.start(2);
    assert_eq!(m.wait_leader(&[1, 2]), 2);
    m.start(3);
    m.wait_modes(&[(3, "follower")]);
    every_kind_through(&m, &rt, &[1, 2, 3], "r1");
    for (id, to) in [(3u64, Apache), (1, ZkServer)] {
        m.term(id);
        let others: Vec<u64> = m.running();
        rt.block_on(pipelined_creates(
            &m.connect_string(&others),
            &format!("/swap-{id}"),
            20,
        ));
        m.set_kind(id, to);
        let (off_leader, off_learner) = (m.log_len(2), m.log_len(id));
        m.start(id);
        m.wait_modes(&[(id, "follower")]);
        let mode = sync_mode(&m, 2, id, off_leader, off_learner);
        assert_eq!(
            mode,
            "DIFF",
            "{} read the other kind's files and missed only 20 writes",
            m.sname(id)
        );
        m.assert_trees_equal(&rt);
    }
    // Z1 A2 A3: the leader A2 killed; A3 (highest id, same zxid as Z1) leads; A2's dataDir
    // comes back as zkserver.
    m.kill9(2);
    assert_eq!(m.wait_leader(&[1, 3]), 3);
    m.set_kind(2, ZkServer);
    let (off_leader, off_learner) = (m.log_len(3), m.log_len(2));
    m.start(2);
    m.wait_modes(&[(2, "follower")]);
    let mode = sync_mode(&m, 3, 2, off_leader, off_learner);
    m.note(&format!(
        "the old leader's dataDir, now zkserver, got {mode}"
    ));
    every_kind_through(&m, &rt, &[1, 2, 3], "r2");
    m.assert_trees_equal(&rt);
    // Z1 killed (-9) while writes go on through the others: what it left comes back as
    // Apache ZooKeeper, which must read it (a DIFF, not a SNAP from nothing).
    let connect = m.connect_string(&[2, 3]);
    let writes = rt.spawn(async move { pipelined_creates(&connect, "/kill-1", 450).await });
    std::thread::sleep(Duration::from_millis(60));
    m.kill9(1);
    let t = Instant::now();
    rt.block_on(writes).unwrap();
    m.note(&format!(
        "server 1 killed with writes under way; the rest took {:?}",
        t.elapsed()
    ));
    m.set_kind(1, Apache);
    let (off_leader, off_learner) = (m.log_len(3), m.log_len(1));
    m.start(1);
    m.wait_modes(&[(1, "follower")]);
    let mode = sync_mode(&m, 3, 1, off_leader, off_learner);
    assert_eq!(
        mode, "DIFF",
        "Apache ZooKeeper read what zkserver left at kill -9"
    );
    m.assert_trees_equal(&rt);
}
