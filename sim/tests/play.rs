//! The playground engine: recorded actions replay exactly, the timeline moves both ways, and
//! consoles print what zkCli prints.

use zk_core::peer::messages::ServerState;
use zk_core::ServerId;
use zk_sim::play::{Action, Player, Setup};
use zk_sim::Status;

fn leader(p: &Player) -> Option<ServerId> {
    let leaders: Vec<ServerId> = p
        .servers()
        .into_iter()
        .filter(|s| s.state == Some(ServerState::Leading) && s.serving)
        .map(|s| s.id)
        .collect();
    (leaders.len() == 1).then(|| leaders[0])
}

fn transcript(p: &Player, console: u32) -> String {
    p.world.consoles[&console]
        .transcript
        .iter()
        .map(|c| c.text.as_str())
        .collect()
}

/// Runs in slices of `ms` until `pred` holds (at most `limit` ms).
fn run_until(p: &mut Player, limit: u64, pred: impl Fn(&Player) -> bool) -> bool {
    let end = p.now() + limit;
    while p.now() < end {
        if pred(p) {
            return true;
        }
        let t = p.now() + 100;
        p.advance_to(t, usize::MAX);
    }
    pred(p)
}

#[test]
fn opens_on_an_elected_ensemble() {
    let mut p = Player::new(Setup::playground(7));
    assert!(
        run_until(&mut p, 20_000, |p| leader(p).is_some()),
        "a leader within 20 s of simulated time"
    );
    let views = p.servers();
    assert_eq!(views.len(), 3);
    let l = leader(&p).unwrap();
    for v in &views {
        assert_eq!(v.status, Status::Up);
        assert_eq!(v.vote.map(|v| v.leader), Some(l), "{v:?}");
        assert!(v.logicalclock >= 1);
    }
    assert!(p.violations().is_empty(), "{:?}", p.violations());
}

#[test]
fn console_write_is_read_back_from_another_server_and_leader_failover() {
    let mut p = Player::new(Setup::playground(11));
    assert!(run_until(&mut p, 20_000, |p| leader(p).is_some()));
    let first = leader(&p).unwrap();
    let follower = p
        .servers()
        .iter()
        .map(|s| s.id)
        .find(|s| *s != first)
        .unwrap();
    p.act(Action::OpenConsole { server: first });
    p.act(Action::OpenConsole { server: follower });
    assert!(run_until(&mut p, 10_000, |p| transcript(p, 1)
        .contains("SyncConnected")
        && transcript(p, 2).contains("SyncConnected")));
    p.act(Action::Console {
        console: 1,
        line: "create /a x".into(),
    });
    assert!(run_until(&mut p, 10_000, |p| transcript(p, 1)
        .contains("Created /a\n")));
    p.act(Action::Console {
        console: 2,
        line: "sync /a".into(),
    });
    p.act(Action::Console {
        console: 2,
        line: "get /a".into(),
    });
    assert!(
        run_until(&mut p, 10_000, |p| transcript(p, 2)
            .contains("Sync is OK\n")
            && transcript(p, 2).ends_with("get /a\nx\n")),
        "{}",
        transcript(&p, 2)
    );
    assert!(
        transcript(&p, 2).contains("[zk: zk"),
        "the prompt is echoed"
    );
    // The follower's tree shows /a, the same as the leader's.
    let rows = p.tree(follower, Some(first));
    let a = rows
        .iter()
        .find(|r| r.path == "/a")
        .expect("/a in the tree");
    assert_eq!(a.data, b"x");
    assert!(!a.differs);

    // Kill the leader: the others elect a new one.
    p.act(Action::Kill(first));
    assert!(run_until(&mut p, 30_000, |p| leader(p).is_some_and(|l| l != first)));
    assert!(p.violations().is_empty(), "{:?}", p.violations());
}

#[test]
fn a_script_replays_exactly() {
    let mut p = Player::new(Setup::playground(3));
    p.advance_to(4_000, usize::MAX);
    p.act(Action::OpenConsole {
        server: ServerId(2),
    });
    p.advance_to(6_000, usize::MAX);
    p.act(Action::Console {
        console: 1,
        line: "create -e /eph data".into(),
    });
    p.act(Action::Load { clients: 2 });
    p.advance_to(9_000, usize::MAX);
    p.act(Action::Partition(vec![
        vec![ServerId(1)],
        vec![ServerId(2), ServerId(3)],
    ]));
    p.advance_to(14_000, usize::MAX);
    p.act(Action::Heal);
    p.act(Action::Console {
        console: 1,
        line: "ls -R /".into(),
    });
    p.advance_to(20_000, usize::MAX);

    let script = p.script();
    let json = serde_json_like(&script);
    let mut q = Player::from_script(script);
    q.advance_to(20_000, usize::MAX);
    assert_eq!(q.log, p.log, "the same events in the same order");
    assert_eq!(transcript(&q, 1), transcript(&p, 1));
    assert_eq!(q.servers(), p.servers());
    assert!(!json.is_empty());
}

#[test]
fn the_timeline_moves_back_and_forth() {
    let mut p = Player::new(Setup::playground(5));
    p.advance_to(3_000, usize::MAX);
    p.act(Action::OpenConsole {
        server: ServerId(1),
    });
    p.advance_to(5_000, usize::MAX);
    p.act(Action::Console {
        console: 1,
        line: "create /t 1".into(),
    });
    p.advance_to(12_000, usize::MAX);
    p.act(Action::Kill(ServerId(3)));
    p.advance_to(20_000, usize::MAX);
    let at_end = (p.log.clone(), p.servers(), transcript(&p, 1));

    // Back to before the console existed, then forward again: the recorded actions replay.
    p.seek(2_000);
    assert!(p.world.consoles.is_empty());
    assert!(p.log.iter().all(|e| e.at <= 2_000));
    assert_eq!(p.inputs_ahead(), 3);
    p.seek(20_000);
    assert_eq!((p.log.clone(), p.servers(), transcript(&p, 1)), at_end);

    // Single steps from a mid point reach the same place as running there.
    p.seek(8_000);
    let mut q = p.clone();
    while q.now() < 9_000 && q.sim().next_event_time().is_some_and(|t| t <= 9_000) {
        q.step_one();
    }
    q.advance_to(9_000, usize::MAX);
    p.advance_to(9_000, usize::MAX);
    assert_eq!(q.log, p.log);

    // Acting in the past branches: the later actions are forgotten.
    p.act(Action::Pause(ServerId(2)));
    assert_eq!(p.inputs_ahead(), 0);
    assert_eq!(
        p.script().inputs.len(),
        3,
        "open, create, pause (the kill is gone)"
    );
    p.advance_to(20_000, usize::MAX);
    assert_eq!(p.sim().status(ServerId(3)), Status::Up);
    assert_eq!(p.sim().status(ServerId(2)), Status::Paused);
}

#[test]
fn a_budget_stops_time_at_the_last_event() {
    let mut p = Player::new(Setup::playground(9));
    let handled = p.advance_to(60_000, 10);
    assert_eq!(handled, 10);
    assert!(p.now() < 60_000);
    let mut q = Player::new(Setup::playground(9));
    q.advance_to(60_000, usize::MAX);
    p.advance_to(60_000, usize::MAX);
    assert_eq!(p.log, q.log);
}

#[test]
fn console_survives_its_server_dying() {
    let mut p = Player::new(Setup::playground(13));
    assert!(run_until(&mut p, 20_000, |p| leader(p).is_some()));
    p.act(Action::OpenConsole {
        server: ServerId(1),
    });
    assert!(run_until(&mut p, 10_000, |p| transcript(p, 1)
        .contains("SyncConnected")));
    p.act(Action::Kill(ServerId(1)));
    p.act(Action::Console {
        console: 1,
        line: "ls /".into(),
    });
    assert!(run_until(&mut p, 10_000, |p| transcript(p, 1)
        .contains("state:Disconnected")));
    // zkCli's connect moves the console to another server, with a new session.
    p.act(Action::Console {
        console: 1,
        line: "connect zk2:2181".into(),
    });
    p.act(Action::Console {
        console: 1,
        line: "ls /".into(),
    });
    assert!(
        run_until(&mut p, 20_000, |p| transcript(p, 1)
            .ends_with("[zookeeper]\n")),
        "{}",
        transcript(&p, 1)
    );
}

fn serde_json_like(script: &zk_sim::play::Script) -> String {
    // Core has no JSON dependency; Debug is enough to show the script is plain data.
    format!("{script:?}")
}

/// The vote panel's "why it changed" is the last Vote event of the log for that server, also
/// after the timeline moves back (the Player keeps it as the log grows, not by searching).
#[test]
fn last_vote_change_follows_the_log_back_and_forth() {
    use zk_core::peer::PeerEvent;
    use zk_sim::TraceEvent;
    fn from_log(p: &Player, id: ServerId) -> Option<(u64, zk_core::peer::messages::Vote)> {
        p.log.iter().rev().find_map(|e| match &e.event {
            TraceEvent::Peer {
                server,
                event: PeerEvent::Vote { vote, .. },
            } if *server == id => Some((e.at, *vote)),
            _ => None,
        })
    }
    let mut p = Player::new(Setup::playground(21));
    assert!(run_until(&mut p, 20_000, |p| leader(p).is_some()));
    let first = leader(&p).unwrap();
    p.act(Action::Kill(first));
    assert!(run_until(&mut p, 30_000, |p| leader(p).is_some_and(|l| l != first)));
    let end = p.now();
    for t in [end, 1_000, end / 2, end] {
        p.seek(t);
        for v in p.servers() {
            assert_eq!(
                v.last_vote_change.map(|(at, vote, _)| (at, vote)),
                from_log(&p, v.id),
                "server {} at {t}",
                v.id
            );
        }
    }
}

/// The session commands go through the client's session as zkCli's do: `addauth` is answered
/// (and kept for later connections), `addWatch` sets a persistent watch that fires on every
/// change, `removewatches` removes it (the default watcher hears WatchRemoved... here
/// PersistentWatchRemoved) and no event comes after.
#[test]
fn console_addauth_addwatch_and_removewatches() {
    let mut p = Player::new(Setup::playground(5));
    assert!(run_until(&mut p, 20_000, |p| leader(p).is_some()));
    let l = leader(&p).unwrap();
    p.act(Action::OpenConsole { server: l });
    assert!(run_until(&mut p, 10_000, |p| transcript(p, 1)
        .contains("SyncConnected")));
    let line = |p: &mut Player, line: &str| {
        p.act(Action::Console {
            console: 1,
            line: line.into(),
        })
    };
    line(&mut p, "addauth digest u:p");
    line(&mut p, "create /w x");
    line(&mut p, "addWatch /w");
    line(&mut p, "set /w y");
    line(&mut p, "set /w z");
    assert!(
        run_until(&mut p, 10_000, |p| transcript(p, 1)
            .matches("type:NodeDataChanged path:/w")
            .count()
            == 2),
        "{}",
        transcript(&p, 1)
    );
    line(&mut p, "removewatches /w");
    line(&mut p, "set /w again");
    line(&mut p, "get /w");
    assert!(
        run_until(&mut p, 10_000, |p| transcript(p, 1)
            .ends_with("get /w\nagain\n")),
        "{}",
        transcript(&p, 1)
    );
    let t = transcript(&p, 1);
    assert_eq!(t.matches("type:NodeDataChanged path:/w").count(), 2, "{t}");
    assert!(t.contains("PersistentWatchRemoved path:/w"), "{t}");
    assert!(p.violations().is_empty(), "{:?}", p.violations());
}
