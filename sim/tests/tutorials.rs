//! Every tutorial file, played in the simulator with every expectation checked (a data-driven
//! test: the files are in `tutorials/`). `TUTORIAL=s01` plays only the files whose name
//! contains it.

use zk_sim::tutorial::{self, TutorialRun};

/// The head every tutorial written here shares (id, title, source, summary, a three-server
/// cluster) followed by `rest`: more `[cluster]` keys, then the steps.
fn with_head(rest: &str) -> String {
    format!(
        r#"id = "X"
title = {{ en = "t", zh = "t" }}
source = "s"
summary = {{ en = "s", zh = "s" }}
[cluster]
servers = 3
{rest}"#
    )
}

#[test]
fn every_tutorial_plays_to_its_stated_outcome() {
    let only = std::env::var("TUTORIAL").ok();
    let mut failures = Vec::new();
    let mut played = 0;
    for (name, text) in tutorial::FILES {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        let t = match tutorial::parse(text) {
            Ok(t) => t,
            Err(e) => {
                failures.push(format!("tutorials/{name}: {e}"));
                continue;
            }
        };
        played += 1;
        let mut run = TutorialRun::new(t);
        if let Err(f) = run.play_all() {
            failures.push(format!("tutorials/{name}: {f}"));
        }
    }
    assert!(played > 0, "no tutorial played");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn malformed_files_get_errors_that_name_the_problem() {
    let cases = [
        ("[[step]]\nsay = { en = \"a\", zh = \"b\" }\ndo = [{ strat = 1 }]\n", "strat"),
        ("[[step]]\nsay = { en = \"a\", zh = \"b\" }\ndo = [{ start = 9 }]\n", "no server 9"),
        ("[[step]]\nsay = { en = \"a\", zh = \"b\" }\ndo = [{ start = 1, kill = 2 }]\n", "one action per entry"),
        ("[[step]]\nsay = { en = \"a\", zh = \"b\" }\nexpect = [{ state = \"LEADING\" }]\n", "needs `server`"),
        ("[[step]]\nsay = { en = \"a\", zh = \"b\" }\nexpect = [{ server = 1, state = \"LEADING\", leader = 1 }]\n", "one check per expectation"),
        ("[[step]]\nsay = { en = \"a\", zh = \"b\" }\nexpect = [{ server = 1, last_zxid = \"zz\" }]\n", "not a zxid"),
        ("", "at least one [[step]]"),
    ];
    for (steps, want) in cases {
        let text = with_head(steps);
        let err = tutorial::parse(&text).expect_err(want);
        assert!(err.contains(want), "{err:?} should mention {want:?}");
    }
}

#[test]
fn a_failing_expectation_names_the_step_and_what_was_seen() {
    let text = with_head(
        r#"[[step]]
say = { en = "a", zh = "b" }
do = [{ start = 1 }]
advance = 1000
within = 1000
expect = [{ server = 1, state = "LEADING" }]
"#,
    );
    let mut run = TutorialRun::new(tutorial::parse(&text).unwrap());
    let f = run.play_all().unwrap_err();
    assert_eq!(f.step, 1);
    assert_eq!(f.expect, "server=1 state=LEADING");
    assert_eq!(f.actual, "server 1 is LOOKING");
}

/// The additive checks: `round`, `lacks`, `not_sent`, `watches`, and `cluster.commit_log`.
#[test]
fn rounds_absent_output_unsent_messages_watched_nodes_and_the_diff_window() {
    let text = with_head(
        r#"commit_log = 2
[[step]]
say = { en = "a", zh = "b" }
do = [{ start = [1, 2, 3] }]
expect = [{ leader = 3 }, { server = 1, serving = true }, { server = 2, round = 1 }]
[[step]]
say = { en = "a", zh = "b" }
do = [{ recipe = "A", lock = "/l" }]
expect = [{ recipe = "A", role = "leading" }]
[[step]]
say = { en = "a", zh = "b" }
do = [{ recipe = "B", lock = "/l" }]
expect = [{ recipe = "B", watches = "/l/lock-0000000000" }]
[[step]]
say = { en = "a", zh = "b" }
do = [{ open = 2 }, { run = "ls /" }]
advance = 2000
expect = [{ console = 1, output = "[l, zookeeper]\n" }, { console = 1, lacks = "WATCHER::\n\nWatchedEvent state:Expired" }, { not_sent = "INFORM" }]
[[step]]
say = { en = "a", zh = "b" }
do = [{ kill = 1 }, { run = "create /a" }, { run = "create /b" }, { run = "create /c" }]
expect = [{ console = 1, output = "Created /c\n" }]
[[step]]
say = { en = "a", zh = "b" }
do = [{ start = 1 }]
expect = [{ server = 1, sync = "SNAP" }, { server = 1, serving = true }]
"#,
    );
    let mut run = TutorialRun::new(tutorial::parse(&text).unwrap());
    run.play_all().unwrap();

    // Each fails with what was seen instead.
    let failing = [
        (
            "{ server = 2, round = 7 }",
            "server 2 is in election round 1",
        ),
        (
            "{ recipe = \"B\", watches = \"/l/x\" }",
            "B watches Some(\"/l/lock-0000000000\")",
        ),
        (
            "{ console = 1, lacks = \"zookeeper\" }",
            "console 1 printed \"zookeeper\" in this step",
        ),
        ("{ not_sent = \"PING\" }", "a PING was sent in this step"),
    ];
    for (expect, want) in failing {
        let text = with_head(&format!(
            r#"[[step]]
say = {{ en = "a", zh = "b" }}
do = [{{ start = [1, 2, 3] }}]
expect = [{{ leader = 3 }}]
[[step]]
say = {{ en = "a", zh = "b" }}
do = [{{ recipe = "A", lock = "/l" }}]
expect = [{{ recipe = "A", role = "leading" }}]
[[step]]
say = {{ en = "a", zh = "b" }}
do = [{{ recipe = "B", lock = "/l" }}, {{ open = 1 }}, {{ run = "ls /" }}]
expect = [{{ recipe = "B", role = "standby" }}, {{ console = 1, output = "[l, zookeeper]\n" }}]
[[step]]
say = {{ en = "a", zh = "b" }}
do = [{{ run = "ls /" }}]
advance = 3000
within = 0
expect = [{expect}]
"#
        ));
        let mut run = TutorialRun::new(tutorial::parse(&text).unwrap());
        let f = run.play_all().unwrap_err();
        assert_eq!(f.step, 4, "{expect}: {f}");
        assert_eq!(f.actual, want, "{expect}");
    }
}

/// A recipe client that crashed can be started again under its name ("A comes back"), with a
/// new session and a new node; a live one cannot be started twice.
#[test]
fn a_crashed_recipe_client_comes_back_under_its_name() {
    let text = with_head(
        r#"[[step]]
say = { en = "a", zh = "b" }
do = [{ start = [1, 2, 3] }]
expect = [{ leader = 3 }, { server = 1, serving = true }, { server = 2, serving = true }]
[[step]]
say = { en = "a", zh = "b" }
do = [{ recipe = "A", master = "/m" }]
expect = [{ recipe = "A", role = "leading" }, { recipe = "A", node = "/m/master-0000000000" }]
[[step]]
say = { en = "a", zh = "b" }
do = [{ recipe = "A", master = "/m" }]
advance = 3000
expect = [{ recipe = "A", role = "leading" }, { recipe = "A", node = "/m/master-0000000000" }]
[[step]]
say = { en = "a", zh = "b" }
do = [{ crash = "A" }, { recipe = "A", master = "/m" }]
expect = [{ recipe = "A", node = "/m/master-0000000001" }, { recipe = "A", role = "standby" }]
[[step]]
say = { en = "a", zh = "b" }
expect = [{ recipe = "A", role = "leading" }, { server = 1, path = "/m/master-0000000000", exists = false }]
"#,
    );
    let mut run = TutorialRun::new(tutorial::parse(&text).unwrap());
    run.play_all().unwrap();
}

/// Going back to a step's start and playing on gives the run a fresh play gives: the step's
/// actions are taken once (the browser's Back button).
#[test]
fn back_to_a_step_replays_it_as_a_fresh_run_would() {
    let s6 = tutorial::all()
        .unwrap()
        .into_iter()
        .find(|t| t.id == "S6")
        .unwrap();
    let mut fresh = TutorialRun::new(s6.clone());
    fresh.play_step().unwrap();
    let mut run = TutorialRun::new(s6);
    for _ in 0..4 {
        run.play_step().unwrap();
    }
    run.back_to(1);
    assert_eq!(run.begun, 1);
    assert_eq!(run.player.now(), fresh.player.now());
    assert_eq!(run.player.log, fresh.player.log);
    assert!(run.player.world.consoles.is_empty());
    run.play_all().unwrap();
    assert_eq!(run.player.world.consoles.len(), 1);
    run.back_to(0);
    assert_eq!((run.begun, run.player.now()), (0, 0));
    run.play_all().unwrap();
}
