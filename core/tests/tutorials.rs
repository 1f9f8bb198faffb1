//! Every tutorial file, played in the simulator with every expectation checked (a data-driven
//! test: the files are in `tutorials/`). `TUTORIAL=s01` plays only the files whose name
//! contains it.

use zk_core::tutorial::{self, TutorialRun};

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
    let base = "id = \"X\"\ntitle = { en = \"t\", zh = \"t\" }\nsource = \"s\"\nsummary = { en = \"s\", zh = \"s\" }\n[cluster]\nservers = 3\n";
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
        let text = format!("{base}{steps}");
        let err = tutorial::parse(&text).expect_err(want);
        assert!(err.contains(want), "{err:?} should mention {want:?}");
    }
}

#[test]
fn a_failing_expectation_names_the_step_and_what_was_seen() {
    let text = r#"
id = "X"
title = { en = "t", zh = "t" }
source = "s"
summary = { en = "s", zh = "s" }
[cluster]
servers = 3
[[step]]
say = { en = "a", zh = "b" }
do = [{ start = 1 }]
advance = 1000
within = 1000
expect = [{ server = 1, state = "LEADING" }]
"#;
    let mut run = TutorialRun::new(tutorial::parse(text).unwrap());
    let f = run.play_all().unwrap_err();
    assert_eq!(f.step, 1);
    assert_eq!(f.expect, "server=1 state=LEADING");
    assert_eq!(f.actual, "server 1 is LOOKING");
}
