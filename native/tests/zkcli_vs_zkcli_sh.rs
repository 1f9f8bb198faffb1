//! zkcli next to the real zkCli.sh (Debian's ZooKeeper 3.8): the same commands, each tool on a
//! fresh server of its own (of the kind `ZK_TEST_SERVER` names), must print the same stdout and
//! stderr and exit with the same code — once dates, session ids and ports are masked, and
//! leaving aside where zkCli.sh's event thread happens to put its `WATCHER::` blocks (the exact
//! interleaving zkcli prints is pinned down in zkcli_oneshot.rs).

mod client_harness;

use client_harness::{mask, split_events, zkcli, zkcli_sh, Run, TestServer};

/// Commands whose output is the same every time; run one by one, in order, by each tool.
/// (`version` differs on purpose.)
const ONE_SHOT: &[&[&str]] = &[
    &["ls", "/"],
    &["create", "/laogong"],
    &["get", "/laogong"],
    &["create", "/laogong", "\"laogong\""],
    &["delete", "/laogong"],
    &["create", "/laogong", "laogong"],
    &["create", "/laogong/laopo", "laopo"],
    &["ls", "/laogong"],
    &["get", "/laogong"],
    &["stat", "/laogong"],
    &["ls", "-s", "/laogong"],
    &["get", "-s", "/laogong/laopo"],
    &["set", "-s", "/laogong", "v2"],
    &["set", "-v", "7", "/laogong", "v3"],
    &["delete", "/laogong"],
    &["delete", "-v", "9", "/laogong/laopo"],
    &["create", "-s", "/seq", "a"],
    &["create", "-c", "/cont"],
    &["create", "-t", "1000", "/ttl"],
    &["create", "-t", "abc", "/x"],
    &["create", "/a/b/c"],
    &["create", "/x", "d", "bad:acl"],
    &["ls"],
    &["ls", "-R", "/"],
    &["ls", "-x", "/"],
    &["ls", "/", "/"],
    &["get", "/laogong", "b", "c"],
    &["getAcl", "-s", "/zookeeper"],
    &["setAcl", "/laogong", "world:anyone:r"],
    &["getAcl", "/laogong"],
    &["set", "/laogong", "x"],
    &["setAcl", "/laogong", "digest:bob:xyz"],
    &["setAcl", "/laogong", "bad"],
    &["delete", "/zookeeper/quota"],
    &["whoami"],
    &["getEphemerals"],
    &["getAllChildrenNumber", "/"],
    &["getAllChildrenNumber", "/nope"],
    &["sync", "/"],
    &["config", "-s"],
    &["removewatches", "/laogong"],
    &["addWatch", "-m", "foo", "/laogong"],
    &["close"],
    &["redo", "0"],
    &["bogus"],
    &["deleteall", "/seq0000000001"],
    &["set", "/q", "-1"],
    &["delete", "-v"],
    &["stat", "/laogong", "1"],
    // Last: these fail before a request is sent, and whether the session gets created before
    // the process exits is a race in both tools, which would shift every later zxid.
    &["create", "bad"],
    &["ls", "bad/"],
    &["get", "/a//b"],
    &["ls", "-?", "/"],
    &["history"],
];

/// An interactive session read from stdin (zkCli without JLine: no prompts).
const SESSION: &str = "ls /
create /w x
get -w /w
set /w y
ls -w /w
create /w/c
stat -w /w
delete /w/c
history
redo 0
printwatches
create /acl x
addauth digest bob:secret
setAcl /acl auth::cdrwa
getAcl /acl
whoami
create /rw x
get -w /rw
ls -w /rw
removewatches /rw -d
removewatches /rw
removewatches /rw -c
addWatch /rw
create /rw/a
set /rw/a 1
delete /rw/a
removewatches /rw
addWatch -m PERSISTENT /rw
create /rw/b
set /rw 2
create -e /rw/e
getEphemerals /rw
create /rw/e/x
redo 40
create /q \"hello world\"
get /q
create /q2 'a b'
get /q2
delete /q 3
deleteall /rw
ls -R /
printwatches off
   
quit
";

/// The parts of a run that must be equal: stderr, exit code, the output lines and the watch
/// events, each in order (see `split_events`). With `ignore_connect`, the connection event is
/// left out: a one-shot zkCli.sh whose command fails before reaching the server may exit before
/// or after printing it.
fn parts(r: &Run, connects: &[&str], ignore_connect: bool) -> (String, Vec<String>, String, i32) {
    let (mut events, rest) = split_events(&mask(&r.stdout, connects));
    if ignore_connect {
        events.retain(|e| e != "WatchedEvent state:SyncConnected type:None path:null");
    }
    (rest, events, mask(&r.stderr, connects), r.code)
}

#[track_caller]
fn same(what: &str, java: &Run, rust: &Run, connects: &[&str], ignore_connect: bool) {
    assert_eq!(
        parts(rust, connects, ignore_connect),
        parts(java, connects, ignore_connect),
        "{what}: zkcli (left) and zkCli.sh (right) differ"
    );
}

#[tokio::test]
async fn one_shot_commands_print_what_zkcli_sh_prints() {
    let (a, b) = (TestServer::start(), TestServer::start());
    let (java, rust) = (a.connect_string(), b.connect_string());
    let connects = [java.as_str(), rust.as_str()];
    for args in ONE_SHOT {
        let j = zkcli_sh(&java, args, None).await;
        let r = zkcli(&rust, args, None).await;
        same(&args.join(" "), &j, &r, &connects, true);
    }
}

#[tokio::test]
async fn an_interactive_session_prints_what_zkcli_sh_prints() {
    let (a, b) = (TestServer::start(), TestServer::start());
    let (java, rust) = (a.connect_string(), b.connect_string());
    let j = zkcli_sh(&java, &[], Some(SESSION)).await;
    let r = zkcli(&rust, &[], Some(SESSION)).await;
    same(
        "the session",
        &j,
        &r,
        &[java.as_str(), rust.as_str()],
        false,
    );
    // And it is the session we meant: the watch events are there.
    assert!(r.stdout.contains(
        "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/w\n"
    ));
    assert!(r
        .stderr
        .contains("Ephemerals cannot have children: /rw/e/x\n"));
}
