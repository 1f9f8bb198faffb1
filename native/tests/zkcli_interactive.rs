//! zkcli's interactive shell: a session read from a pipe (no prompts, as zkCli.sh without JLine)
//! with the exact output, events included, and one on a real terminal (prompt, line editing,
//! history file).

mod client_harness;

use std::time::Duration;

use client_harness::{mask, zkcli, zkcli_bin, TestServer};

const SESSION: &str = "create /w x
get -w /w
set /w y
ls -w /w
create /w/c
addWatch /w
set /w/c 1
removewatches /w
history
redo 1
printwatches off
set /w z
printwatches
   
close
ls /
connect HOST
ls /
";

/// What zkCli.sh prints for SESSION (checked against it; where its event thread puts the
/// PersistentWatchRemoved block varies, zkcli prints it when it arrives).
const EXPECTED_OUT: &str = "Connecting to HOST
Welcome to ZooKeeper!
JLine support is disabled

WATCHER::

WatchedEvent state:SyncConnected type:None path:null
x

WATCHER::

WatchedEvent state:SyncConnected type:NodeDataChanged path:/w
[]

WATCHER::

WatchedEvent state:SyncConnected type:NodeChildrenChanged path:/w

WATCHER::

WatchedEvent state:SyncConnected type:NodeDataChanged path:/w/c

WATCHER::

WatchedEvent state:SyncConnected type:PersistentWatchRemoved path:/w
0 - create /w x
1 - get -w /w
2 - set /w y
3 - ls -w /w
4 - create /w/c
5 - addWatch /w
6 - set /w/c 1
7 - removewatches /w
8 - history
y
printwatches is off
Not connected
[w, zookeeper]
";

#[tokio::test]
async fn a_piped_session() {
    let server = TestServer::start();
    let cs = server.connect_string();
    let session = SESSION.replace("HOST", &cs);
    let r = zkcli(&cs, &[], Some(&session)).await;
    assert_eq!(
        mask(&r.stdout, &[&cs]),
        EXPECTED_OUT,
        "stderr: {}",
        r.stderr
    );
    assert!(r
        .stderr
        .starts_with("Created /w\nCreated /w/c\nZooKeeper -server host:port"));
    // A line of blanks is a command named " ", as zkCli splits it.
    assert!(r
        .stderr
        .ends_with("\twhoami \nCommand not found: Command not found  \n"));
    // The exit code is the last command's (`ls /` succeeded).
    assert_eq!(r.code, 0);

    // Without quit, the exit code is the last command's; quit closes the session first.
    let r = zkcli(&cs, &[], Some("create -e /e\nget /nope\n")).await;
    assert_eq!(r.code, 1);
    let r = zkcli(&cs, &[], Some("ls /e\nbogus\nquit\n")).await;
    assert_eq!(r.code, 127);
    assert!(
        r.stdout
            .ends_with("\nWATCHER::\n\nWatchedEvent state:Closed type:None path:null\n"),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn a_terminal_session() {
    use std::process::Stdio;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = TestServer::start();
    let cs = server.connect_string();
    let home = tempfile::tempdir().unwrap();
    // `script` gives zkcli a pseudo-terminal. Lines are typed one at a time, each once its
    // prompt is on the screen: the line editor discards what is typed ahead of it.
    let mut child = tokio::process::Command::new("script")
        .args([
            "-qec",
            &format!("{} -server {cs}", zkcli_bin()),
            "/dev/null",
        ])
        .env("HOME", home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("script (util-linux) runs zkcli on a pseudo-terminal");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut screen = String::new();
    let session = tokio::time::timeout(Duration::from_secs(60), async {
        for (n, line) in ["ls /zookeeper", "create /tty x", "quit"]
            .iter()
            .enumerate()
        {
            let prompt = format!(" {n}] ");
            while !screen.contains(&prompt) {
                let mut buf = [0u8; 4096];
                let k = stdout.read(&mut buf).await.unwrap();
                assert!(k > 0, "zkcli ended early: {screen}");
                screen.push_str(&String::from_utf8_lossy(&buf[..k]));
            }
            stdin
                .write_all(format!("{line}\r").as_bytes())
                .await
                .unwrap();
        }
        stdout.read_to_string(&mut screen).await.unwrap();
        child.wait().await.unwrap()
    })
    .await
    .unwrap_or_else(|_| panic!("the terminal session did not finish; screen so far: {screen}"));
    assert!(session.success());
    let screen = screen.replace('\r', "");
    assert!(screen.contains("JLine support is enabled\n"), "{screen}");
    assert!(
        screen.contains(&format!("[zk: {cs}(CONNECTED) 1] ")),
        "no prompt in {screen}"
    );
    assert!(screen.contains("[config, quota]\n"), "{screen}");
    assert!(screen.contains("Created /tty\n"), "{screen}");
    assert!(
        screen.contains("\nWATCHER::\n\nWatchedEvent state:Closed type:None path:null\n"),
        "{screen}"
    );
    let history = std::fs::read_to_string(home.path().join(".zkcli_history")).unwrap();
    assert!(
        history.contains("ls /zookeeper\ncreate /tty x\nquit"),
        "{history}"
    );
}
