//! zkcli one command at a time (`zkcli -server h:p ls /`), against a real server. The expected
//! texts are what ZooKeeper 3.8's zkCli.sh prints for the same commands (zkcli_vs_zkcli_sh.rs
//! checks that against zkCli.sh itself): note that zkCli prints `Created ...` and every error on
//! stderr, and exits 1 for a failed command, 127 for an unknown one.

mod client_harness;

use client_harness::{mask, zkcli, Run, TestServer};

/// The connection event zkCli prints before a command's output.
const CONNECTED: &str = "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n";

fn connecting(cs: &str) -> String {
    format!("Connecting to {cs}\n")
}

/// A run that printed `out` after connecting, `err` on stderr, and exited with `code`.
#[track_caller]
fn check(r: &Run, cs: &str, out: &str, err: &str, code: i32) {
    let expected_out = if out.is_empty() && err.is_empty() && code == 0 {
        format!("{}{CONNECTED}", connecting(cs))
    } else {
        format!("{}{CONNECTED}{out}", connecting(cs))
    };
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        (expected_out.as_str(), err, code),
        "full run: {r:#?}"
    );
}

#[tokio::test]
async fn the_seed_session() {
    let server = TestServer::start();
    let cs = server.connect_string();
    let cs = cs.as_str();

    check(
        &zkcli(cs, &["ls", "/"], None).await,
        cs,
        "[zookeeper]\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["create", "/laogong"], None).await,
        cs,
        "",
        "Created /laogong\n",
        0,
    );
    check(
        &zkcli(cs, &["get", "/laogong"], None).await,
        cs,
        "null\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["create", "/laogong", "\"laogong\""], None).await,
        cs,
        "",
        "Node already exists: /laogong\n",
        1,
    );
    check(
        &zkcli(cs, &["delete", "/laogong"], None).await,
        cs,
        "",
        "",
        0,
    );
    check(
        &zkcli(cs, &["create", "/laogong", "laogong"], None).await,
        cs,
        "",
        "Created /laogong\n",
        0,
    );
    check(
        &zkcli(cs, &["create", "/laogong/laopo", "laopo"], None).await,
        cs,
        "",
        "Created /laogong/laopo\n",
        0,
    );
    check(
        &zkcli(cs, &["ls", "/laogong"], None).await,
        cs,
        "[laopo]\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["get", "/laogong"], None).await,
        cs,
        "laogong\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["delete", "/laogong"], None).await,
        cs,
        "",
        "Node not empty: /laogong\n",
        1,
    );
}

#[tokio::test]
async fn errors_as_zkcli_words_them() {
    let server = TestServer::start();
    let cs = server.connect_string();
    let cs = cs.as_str();
    zkcli(cs, &["create", "/a", "x"], None).await;
    zkcli(cs, &["create", "-e", "/e"], None).await; // lives until its session times out

    for (args, err) in [
        (&["get", "/x"][..], "Node does not exist: /x\n"),
        (&["stat", "/x"], "Node does not exist: /x\n"),
        (&["create", "/x/y"], "Node does not exist: /x/y\n"),
        (
            &["create", "/e/x"],
            "Ephemerals cannot have children: /e/x\n",
        ),
        (
            &["set", "-v", "7", "/a", "z"],
            "version No is not valid : /a\n",
        ),
        (
            &["delete", "-v", "3", "/a"],
            "version No is not valid : /a\n",
        ),
        (
            &["delete", "/zookeeper/quota"],
            "Arguments are not valid : /zookeeper/quota\n",
        ),
        (
            &["setAcl", "/a", "foo:bob:cdrwa"],
            "Acl is not valid : /a\n",
        ),
        (
            &["removewatches", "/a"],
            "KeeperErrorCode = No such watcher for /a\n",
        ),
    ] {
        let r = zkcli(cs, args, None).await;
        check(&r, cs, "", err, 1);
    }

    // Errors found before anything is sent: no connection event gets printed first.
    for (args, err) in [
        (&["ls"][..], "ls [-s] [-w] [-R] path\n"),
        (&["create", "bad"], "Path must start with / character\n"),
        (&["get", "-v", "/"], "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -v\n"),
        (&["delete", "-v"], "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v\n"),
        (&["create", "-c", "-e", "/x"], "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.\n"),
        (&["create", "-t", "abc", "/x"], "-t argument must be a long value\n"),
        (&["create", "-e", "-t", "10", "/x"], "TTLs cannot be used with Ephemeral znodes\n"),
        (&["create", "-t", "0", "/x"], "ttl must be positive and cannot be larger than: 1099511627775\n"),
        (&["create", "/x", "d", "bad:acl"], "bad:acl does not have the form scheme:id:perm\nKeeperErrorCode = InvalidACL\nAcl is not valid : null\n"),
        (&["setAcl", "/a", "digest:bob:xy"], "Unknown perm type: x\nUnknown perm type: y\nAcl is not valid : /a\n"),
    ] {
        let r = zkcli(cs, args, None).await;
        assert_eq!(
            (mask(&r.stdout, &[cs]).starts_with("Connecting to HOST\n"), r.stderr.as_str(), r.code),
            (true, err, 1),
            "{args:?}: {r:#?}"
        );
    }

    // An unknown command: the usage, and exit code 127.
    let r = zkcli(cs, &["bogus"], None).await;
    assert_eq!(r.code, 127);
    assert!(r.stderr.starts_with(
        "ZooKeeper -server host:port -client-configuration properties-file cmd args\n\taddWatch [-m mode] path"
    ), "{}", r.stderr);
    assert!(r.stderr.contains("\tls [-s] [-w] [-R] path\n"));
    assert!(r
        .stderr
        .ends_with("\twhoami \nCommand not found: Command not found bogus\n"));
}

#[tokio::test]
async fn outputs_as_zkcli_prints_them() {
    let server = TestServer::start();
    let cs = server.connect_string();
    let cs = cs.as_str();
    for args in [
        &["create", "/n", "v"][..],
        &["create", "/n/b"],
        &["create", "/n/a"],
        &["create", "/n/a/x"],
    ] {
        assert_eq!(zkcli(cs, args, None).await.code, 0);
    }
    check(&zkcli(cs, &["ls", "/n"], None).await, cs, "[a, b]\n", "", 0);
    check(
        &zkcli(cs, &["ls", "-R", "/n"], None).await,
        cs,
        "/n\n/n/a\n/n/b\n/n/a/x\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["getAcl", "/n"], None).await,
        cs,
        "'world,'anyone\n: cdrwa\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["whoami"], None).await,
        cs,
        "Auth scheme: User\nip: 127.0.0.1\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["getAllChildrenNumber", "/n"], None).await,
        cs,
        "3\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["getEphemerals"], None).await,
        cs,
        "[]\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["sync", "/n"], None).await,
        cs,
        "Sync is OK\n",
        "",
        0,
    );
    check(
        &zkcli(cs, &["create", "-s", "/n/s", "x"], None).await,
        cs,
        "",
        "Created /n/s0000000002\n",
        0,
    );
    check(&zkcli(cs, &["deleteall", "/n"], None).await, cs, "", "", 0);
    check(
        &zkcli(cs, &["ls", "/"], None).await,
        cs,
        "[zookeeper]\n",
        "",
        0,
    );

    // The stat block, with dates as Java's Date.toString prints them.
    zkcli(cs, &["create", "/s", "12345"], None).await;
    let r = zkcli(cs, &["stat", "/s"], None).await;
    let stat = mask(&r.stdout, &[cs]);
    let zxid = regex::Regex::new(r"cZxid = (0x[0-9a-f]+)")
        .unwrap()
        .captures(&stat)
        .unwrap_or_else(|| panic!("no cZxid in {stat}"))[1]
        .to_string();
    assert_eq!(
        stat,
        format!(
            "Connecting to HOST\n{CONNECTED}cZxid = {zxid}\nctime = DATE\nmZxid = {zxid}\nmtime = DATE\n\
             pZxid = {zxid}\ncversion = 0\ndataVersion = 0\naclVersion = 0\nephemeralOwner = 0x0\n\
             dataLength = 5\nnumChildren = 0\n"
        )
    );
    let date = regex::Regex::new(r"ctime = (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] UTC 20[0-9][0-9]\n").unwrap();
    assert!(date.is_match(&r.stdout), "{}", r.stdout);
}

#[tokio::test]
async fn unreachable_server() {
    // Nothing listens on port 1: the command fails with ConnectionLoss, as zkCli's does.
    let r = zkcli("127.0.0.1:1", &["ls", "/"], None).await;
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        (
            "Connecting to 127.0.0.1:1\n",
            "KeeperErrorCode = ConnectionLoss for /\n",
            1
        )
    );
}
