//! zkCli.sh's commands, run by `zk_cli` against an in-memory standalone server, compared
//! with what zkCli.sh 3.8 prints for the same lines.

#[path = "../../core/tests/common/mod.rs"]
mod common;

use common::Harness;
use zk_cli as cli;
use zk_cli::{Action, Shell, Stream};
use zk_core::request::Request;
use zk_core::ConnId;

struct Term {
    h: Harness,
    c: ConnId,
    shell: Shell,
    alive: bool,
}

impl Term {
    fn new() -> Term {
        let mut h = Harness::new();
        let (c, _) = h.connect();
        Term {
            h,
            c,
            shell: Shell::new(),
            alive: true,
        }
    }

    /// Everything the line prints, stdout and stderr in order.
    fn run(&mut self, line: &str) -> String {
        self.run_split(line).0
    }

    /// (all text, stdout only, stderr only)
    fn run_split(&mut self, line: &str) -> (String, String, String) {
        let r = self.shell.line(line, self.alive);
        let mut printed = r.printed;
        match r.action {
            Action::Run(exec) => {
                let (h, c) = (&mut self.h, self.c);
                let exec = cli::run_sync(exec.command().clone(), |req: Request| {
                    h.send(c, req);
                    let reply = h.take_replies(c).pop().expect("a reply");
                    if reply.err.is_ok() {
                        Ok(reply.body)
                    } else {
                        Err(reply.err)
                    }
                });
                printed.extend(exec.finish());
            }
            Action::Close => self.alive = false,
            _ => {}
        }
        (
            printed.text(),
            printed.stream(Stream::Out),
            printed.stream(Stream::Err),
        )
    }
}

#[test]
fn words_split_like_zkcli() {
    let w = |s: &str| cli::split_words(s);
    assert_eq!(w("create /a hello"), ["create", "/a", "hello"]);
    assert_eq!(w("  set  /a   'two words' "), ["set", "/a", "two words"]);
    assert_eq!(w("set /a \"x y\""), ["set", "/a", "x y"]);
    assert_eq!(w("set /a a\"b"), ["set", "/a", "a\"b"]);
    // An unclosed quote is skipped, as the regex's find skips it.
    assert_eq!(w("get \"/a"), ["get", "/a"]);
    assert_eq!(w("set /a ''"), ["set", "/a", ""]);
    // The regex backtracks: a line of blanks is one word, a blank.
    assert_eq!(w("   "), [" "]);
    assert!(w("").is_empty());
}

#[test]
fn create_get_set_stat_delete() {
    let mut t = Term::new();
    let (all, out, err) = t.run_split("create /app hello");
    assert_eq!(
        (all.as_str(), out.as_str(), err.as_str()),
        ("Created /app\n", "", "Created /app\n")
    );
    assert_eq!(t.run("get /app"), "hello\n");
    assert_eq!(t.run("create /app again"), "Node already exists: /app\n");
    assert_eq!(t.run("set /app world"), "");
    let stat = t.run("get -s /app");
    assert!(
        stat.starts_with("world\ncZxid = 0x2\nctime = Tue Nov 14 22:13:20 UTC 2023\nmZxid = 0x4\n"),
        "{stat}"
    );
    assert!(stat.ends_with("cversion = 0\ndataVersion = 1\naclVersion = 0\nephemeralOwner = 0x0\ndataLength = 5\nnumChildren = 0\n"), "{stat}");
    assert_eq!(t.run("set -v 7 /app x"), "version No is not valid : /app\n");
    assert_eq!(t.run("stat /nope"), "Node does not exist: /nope\n");
    assert!(t.run("stat /app").starts_with("cZxid = 0x2\n"));
    t.run("create /app/child");
    assert_eq!(t.run("get /app/child"), "null\n");
    assert_eq!(t.run("delete /app"), "Node not empty: /app\n");
    assert_eq!(t.run("delete /app/child"), "");
    assert_eq!(t.run("delete /app"), "");
    assert_eq!(t.run("get /app"), "Node does not exist: /app\n");
}

#[test]
fn ls_plain_stat_and_recursive() {
    let mut t = Term::new();
    for p in ["/b", "/a", "/a/y", "/a/x", "/a/x/deep", "/c"] {
        t.run(&format!("create {p}"));
    }
    assert_eq!(t.run("ls /"), "[a, b, c, zookeeper]\n");
    assert_eq!(t.run("ls /a"), "[x, y]\n");
    let s = t.run("ls -s /a");
    assert!(s.starts_with("[x, y]\ncZxid = 0x"), "{s}");
    assert!(s.ends_with("numChildren = 2\n"), "{s}");
    // ZKUtil.visitSubTreeDFS: a node's sorted children, then each child's subtree.
    assert_eq!(t.run("ls -R /a"), "/a\n/a/x\n/a/y\n/a/x/deep\n");
    assert_eq!(t.run("ls -R /nope"), "Node does not exist: /nope\n");
    assert_eq!(t.run("ls /nope"), "Node does not exist: /nope\n");
    assert_eq!(t.run("ls"), "ls [-s] [-w] [-R] path\n");
}

#[test]
fn create_modes_and_their_rules() {
    let mut t = Term::new();
    t.run("create /q");
    assert_eq!(t.run("create -s /q/job- a"), "Created /q/job-0000000000\n");
    assert_eq!(t.run("create -s /q/job- b"), "Created /q/job-0000000001\n");
    assert_eq!(t.run("create -e /q/eph"), "Created /q/eph\n");
    assert_eq!(
        t.run("create /q/eph/kid"),
        "Ephemerals cannot have children: /q/eph/kid\n"
    );
    let eph = t.run("stat /q/eph");
    assert!(!eph.contains("ephemeralOwner = 0x0\n"), "{eph}");
    assert_eq!(
        t.run("create -c -e /x"),
        "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.\n"
    );
    assert_eq!(
        t.run("create -t abc /x"),
        "-t argument must be a long value\n"
    );
    assert_eq!(
        t.run("create -t 10 -e /x"),
        "TTLs cannot be used with Ephemeral znodes\n"
    );
    // TTL nodes need extendedTypesEnabled, which is off by default.
    assert_eq!(
        t.run("create -t 1000 /ttl"),
        "KeeperErrorCode = Unimplemented for /ttl\n"
    );
    assert_eq!(t.run("create -c /box"), "Created /box\n");
    assert_eq!(
        t.run("create relative"),
        "Path must start with / character\n"
    );
    assert_eq!(
        t.run("create -x /a"),
        "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x\n"
    );
    assert_eq!(
        t.run("create"),
        "create [-s] [-e] [-c] [-t ttl] path [data] [acl]\n"
    );
}

#[test]
fn acls_and_auth() {
    let mut t = Term::new();
    t.run("create /open");
    assert_eq!(t.run("getAcl /open"), "'world,'anyone\n: cdrwa\n");
    assert_eq!(
        t.run("create /locked data world:anyone:r"),
        "Created /locked\n"
    );
    assert_eq!(
        t.run("set /locked x"),
        "Insufficient permission : /locked\n"
    );
    assert_eq!(t.run("addauth digest alice:secret"), "");
    assert_eq!(t.run("create /mine x auth::cdrwa"), "Created /mine\n");
    assert_eq!(
        t.run("getAcl /mine"),
        "'digest,'alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=\n: cdrwa\n"
    );
    let who = t.run("whoami");
    assert!(who.starts_with("Auth scheme: User\n"), "{who}");
    assert!(who.contains("digest: alice\n"), "{who}");
    assert_eq!(
        t.run("create /bad x nonsense"),
        "nonsense does not have the form scheme:id:perm\nKeeperErrorCode = InvalidACL\nAcl is not valid : null\n"
    );
    assert_eq!(
        t.run("setAcl /open world:anyone:rq"),
        "Unknown perm type: q\n"
    );
    assert_eq!(t.run("getAcl /open"), "'world,'anyone\n: r\n");
}

#[test]
fn deleteall_and_recursive_setacl() {
    let mut t = Term::new();
    for p in ["/t", "/t/a", "/t/a/1", "/t/a/2", "/t/b"] {
        t.run(&format!("create {p}"));
    }
    assert_eq!(t.run("setAcl -R /t world:anyone:cdra"), "");
    for p in ["/t", "/t/a", "/t/a/1", "/t/a/2", "/t/b"] {
        assert_eq!(
            t.run(&format!("getAcl {p}")),
            "'world,'anyone\n: cdra\n",
            "{p}"
        );
    }
    assert_eq!(t.run("deleteall /t -b 2"), "");
    assert_eq!(t.run("ls /"), "[zookeeper]\n");
    assert_eq!(t.run("deleteall /t"), "Node does not exist: /t\n");
    assert_eq!(
        t.run("deleteall /zookeeper"),
        "Failed to delete some node(s) in the subtree!\n"
    );
}

#[test]
fn one_shot_helpers() {
    let mut t = Term::new();
    t.run("create /s");
    assert_eq!(t.run("sync /s"), "Sync is OK\n");
    // ZooKeeper counts /zookeeper, /zookeeper/quota and /zookeeper/config too.
    assert_eq!(t.run("getAllChildrenNumber /"), "4\n");
    t.run("create -e /s/e1");
    t.run("create -e /e2");
    assert_eq!(t.run("getEphemerals"), "[/e2, /s/e1]\n");
    assert_eq!(t.run("getEphemerals /s"), "[/s/e1]\n");
    assert_eq!(t.run("addWatch /s"), "");
    assert_eq!(t.run("removewatches /s"), "");
    assert_eq!(
        t.run("removewatches /s"),
        "KeeperErrorCode = No such watcher for /s\n"
    );
    assert!(t.run("version").starts_with("ZooKeeper CLI version: 3.8.0"));
}

#[test]
fn deprecated_forms_and_compat() {
    let mut t = Term::new();
    t.run("create /w");
    let (all, out, err) = t.run_split("get /w true");
    assert_eq!(out, "null\n");
    assert_eq!(
        err,
        "'get path [watch]' has been deprecated. Please use 'get [-s] [-w] path' instead.\n"
    );
    assert!(all.starts_with("'get path"));
    t.run("set /w changed");
    let ev = t.h.events(t.c);
    assert_eq!(ev.len(), 1, "the watch from `get /w true` fired: {ev:?}");
    assert_eq!(t.run("delete -v -1 /w"), "");
}

#[test]
fn shell_history_redo_printwatches_and_close() {
    let mut t = Term::new();
    t.run("create /h one");
    t.run("get /h");
    assert_eq!(
        t.run("history"),
        "0 - create /h one\n1 - get /h\n2 - history\n"
    );
    assert_eq!(t.run("redo 1"), "one\n");
    assert_eq!(t.run("redo 99"), "Command index out of range\n");
    assert_eq!(t.run("printwatches"), "printwatches is on\n");
    t.run("printwatches off");
    assert!(!t.shell.print_watches);
    let r = t.run("help");
    assert!(r.starts_with("ZooKeeper -server host:port -client-configuration properties-file cmd args\n\taddWatch [-m mode] path"));
    assert!(r.ends_with("Command not found: Command not found help\n"));
    assert_eq!(t.run("close"), "");
    assert_eq!(t.run("ls /"), "Not connected\n");
    assert_eq!(t.run("history").lines().last(), Some("Not connected"));
    assert!(matches!(t.shell.line("quit", false).action, Action::Quit));
}

#[test]
fn events_print_like_zkcli() {
    use zk_core::request::{EventType, KeeperState, WatchedEvent};
    let ev = WatchedEvent {
        event_type: EventType::NodeDataChanged,
        state: KeeperState::SyncConnected,
        path: "/a".into(),
    };
    assert_eq!(
        cli::format_event(&ev),
        "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDataChanged path:/a\n"
    );
    assert_eq!(
        cli::format_event(&cli::state_event(KeeperState::Expired)),
        "\nWATCHER::\n\nWatchedEvent state:Expired type:None path:null\n"
    );
}

#[test]
fn java_dates() {
    assert_eq!(cli::java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
    assert_eq!(
        cli::java_date(1_700_000_000_000),
        "Tue Nov 14 22:13:20 UTC 2023"
    );
    assert_eq!(
        cli::java_date(951_782_400_000),
        "Tue Feb 29 00:00:00 UTC 2000"
    );
}
