//! The real `zkserver` answering ZooKeeper's monitoring interfaces: every four-letter word on
//! the client port, the whitelist refusal, the AdminServer's JSON commands and the Prometheus
//! endpoint — checked for the shapes ZooKeeper 3.8 prints (the exact formats are pinned against
//! captures of ZooKeeper itself in `native/src/stats/tests.rs`).

mod common;

use common::{free_port, rt, server_log, start_foreground};
use regex::Regex;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};
use zookeeper_client as zk;

/// A standalone `zkserver` in a temporary directory, killed when dropped.
struct Server {
    dir: tempfile::TempDir,
    proc: Child,
    client: u16,
    admin: u16,
    metrics: u16,
}

impl Server {
    fn start(whitelist: &str, extra: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let (client, admin, metrics) = (free_port(), free_port(), free_port());
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime=2000\ndataDir={}\nclientPort={client}\nclientPortAddress=127.0.0.1\n\
                 4lw.commands.whitelist={whitelist}\nadmin.serverAddress=127.0.0.1\n\
                 admin.serverPort={admin}\nmetricsProvider.httpHost=127.0.0.1\n\
                 metricsProvider.httpPort={metrics}\n{extra}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let proc = start_foreground(dir.path(), &cfg);
        let s = Server {
            dir,
            proc,
            client,
            admin,
            metrics,
        };
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            if s.word("ruok").is_ok_and(|a| a == "imok") {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("zkserver did not answer ruok within 20 s: {}", s.log());
    }

    fn log(&self) -> String {
        server_log(self.dir.path())
    }

    /// A four-letter word, as `echo word | nc` sends it (without half-closing the socket).
    fn word(&self, w: &str) -> std::io::Result<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.client))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(w.as_bytes())?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        Ok(out)
    }

    fn say(&self, w: &str) -> String {
        self.word(w)
            .unwrap_or_else(|e| panic!("{w}: {e}\n{}", self.log()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.proc.kill();
        let _ = self.proc.wait();
    }
}

/// A plain HTTP/1.1 GET: (status line, headers, body).
fn http_get(port: u16, path: &str) -> (String, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_string(), headers.to_lowercase(), body.to_string())
}

/// What the reference captures' client did: two nodes, two ephemerals, data, child, exists and
/// persistent-recursive watches. The client stays connected while the words are asked.
async fn reference_client(port: u16) -> (zk::Client, Vec<Box<dyn std::any::Any>>) {
    let c = zk::Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .connect(&format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let persistent = zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all());
    let ephemeral = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    c.create("/a", b"data", &persistent).await.unwrap();
    c.create("/a/eph", b"x", &ephemeral).await.unwrap();
    c.create("/eph2", b"y", &ephemeral).await.unwrap();
    // The client forgets a watch whose watcher is dropped: keep them.
    let watchers: Vec<Box<dyn std::any::Any>> = vec![
        Box::new(c.get_and_watch_data("/a").await.unwrap().2),
        Box::new(c.list_and_watch_children("/a").await.unwrap().1),
        Box::new(c.get_and_watch_data("/eph2").await.unwrap().2),
        Box::new(c.check_and_watch_stat("/nonexist").await.unwrap().1),
        Box::new(
            c.watch("/a", zk::AddWatchMode::PersistentRecursive)
                .await
                .unwrap(),
        ),
    ];
    (c, watchers)
}

#[track_caller]
fn matches(text: &str, re: &str) {
    assert!(
        Regex::new(re).unwrap().is_match(text),
        "{text:?} does not match {re}"
    );
}

#[test]
fn four_letter_words_admin_server_and_metrics() {
    let s = Server::start(
        "*",
        "admin.enableServer=true\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider",
    );
    let rt = rt();
    let (client, watchers) = rt.block_on(reference_client(s.client));
    let session = format!("0x{:x}", client.session_id().0);

    // ---- four-letter words --------------------------------------------------------------
    assert_eq!(s.say("ruok"), "imok");
    assert_eq!(s.say("isro"), "rw");
    assert_eq!(s.say("gtmk"), "306");
    matches(
        &s.say("srvr"),
        r"^Zookeeper version: 3\.8\.0-[^\n]+\nLatency min/avg/max: \d+/\d+\.\d+/\d+\nReceived: \d+\nSent: \d+\nConnections: 2\nOutstanding: 0\nZxid: 0x[0-9a-f]+\nMode: standalone\nNode count: 8\n$",
    );
    let stat = s.say("stat");
    matches(
        &stat,
        r"^Zookeeper version: [^\n]+\nClients:\n /127\.0\.0\.1:\d+\[1\]\(queued=0,recved=\d+,sent=\d+\)\n /127\.0\.0\.1:\d+\[0\]\(queued=0,recved=1,sent=0\)\n\nLatency min/avg/max: ",
    );
    matches(&stat, r"\nMode: standalone\nNode count: 8\n$");
    let cons = s.say("cons");
    matches(
        &cons,
        &format!(
            r"^ /127\.0\.0\.1:\d+\[1\]\(queued=0,recved=\d+,sent=\d+,sid={session},lop=[A-Z]+,est=\d{{13}},to=30000,lcxid=0x[0-9a-f]+,lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)\n /127\.0\.0\.1:\d+\[0\]\(queued=0,recved=1,sent=0\)\n\n$"
        ),
    );
    let conf = s.say("conf");
    matches(
        &conf,
        &format!(
            r"^clientPort={}\nsecureClientPort=-1\ndataDir=/[^\n]+/version-2\ndataDirSize=\d+\ndataLogDir=/[^\n]+/version-2\ndataLogSize=\d+\ntickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\nmaxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n$",
            s.client
        ),
    );
    let dump = s.say("dump");
    matches(
        &dump,
        &format!(
            r"^SessionTracker dump:\nSession Sets \(1\)/\(1\):\n1 expire at \w{{3}} \w{{3}} \d\d \d\d:\d\d:\d\d UTC \d{{4}}:\n\t{session}\nephemeral nodes dump:\nSessions with Ephemerals \(1\):\n{session}:\n\t/a/eph\n\t/eph2\nConnections dump:\nConnections Sets \(\d\)/\(2\):\n"
        ),
    );
    let envi = s.say("envi");
    matches(
        &envi,
        r"^Environment:\nzookeeper\.version=3\.8\.0-[^\n]+\nhost\.name=[^\n]*\njava\.version=<NA>\n",
    );
    matches(
        &envi,
        r"\nos\.memory\.free=\d+MB\nos\.memory\.max=\d+MB\nos\.memory\.total=\d+MB\n$",
    );
    assert_eq!(
        s.say("wchs"),
        "1 connections watching 3 paths\nTotal watches:3\n"
    );
    assert_eq!(
        s.say("wchc"),
        format!("{session}\n\t/eph2\n\t/a\n\t/nonexist\n\n")
    );
    assert_eq!(
        s.say("wchp"),
        format!("/eph2\n\t{session}\n/a\n\t{session}\n/nonexist\n\t{session}\n\n")
    );
    matches(&s.say("dirs"), r"^datadir_size: \d+\nlogdir_size: \d+\n$");
    // With the Prometheus provider, mntr prints the Prometheus samples, as doubles.
    let mntr = s.say("mntr");
    matches(
        &mntr,
        r"^zk_version\t3\.8\.0-[^\n]+\nzk_server_state\tstandalone\nzk_ephemerals_count\t2\.0\n",
    );
    matches(&mntr, r"\nzk_znode_count\t8\.0\n");
    matches(&mntr, r"\nzk_watch_count\t4\.0\n");
    matches(
        &mntr,
        "\nzk_readlatency\\{quantile=\"0\\.5\"\\}\t\\d+\\.\\d+\n",
    );
    matches(&mntr, r"\nzk_open_file_descriptor_count\t\d+\.0\n");
    assert!(
        !mntr.contains("zk_learners"),
        "leader-only keys on a standalone server"
    );
    assert_eq!(s.say("crst"), "Connection stats reset.\n");
    // (unless the client's ping came in between)
    matches(
        &s.say("cons"),
        r"lop=(NA,est=\d+,to=30000,lzxid=0xffffffffffffffff,lresp=0,|PING)",
    );
    assert_eq!(s.say("srst"), "Server stats reset.\n");
    // Counting starts again: srst's own answer, then this srvr (and perhaps a ping).
    matches(&s.say("srvr"), r"\nReceived: [1-3]\nSent: [1-3]\n");

    // ---- AdminServer ----------------------------------------------------------------------
    let (status, headers, body) = http_get(s.admin, "/commands");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(body.matches("<a href=\"/commands/").count(), 26);
    assert!(body.starts_with(
        "<a href=\"/commands/configuration\">configuration</a>\n<br/>\n<a href=\"/commands/connection_stat_reset\">"
    ));
    assert!(!headers.contains("content-type"), "{headers}");
    let (status, headers, body) = http_get(s.admin, "/commands/ruok");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );
    assert_eq!(body, "{\n  \"command\" : \"ruok\",\n  \"error\" : null\n}");
    let (_, _, srvr) = http_get(s.admin, "/commands/srvr");
    matches(
        &srvr,
        r#"^\{\n  "version" : "3\.8\.0-[^"]+",\n  "read_only" : false,\n  "server_stats" : \{\n    "packets_sent" : \d+,"#,
    );
    assert!(srvr.contains(
        "\n  \"node_count\" : 8,\n  \"command\" : \"server_stats\",\n  \"error\" : null\n}"
    ));
    let (_, _, monitor) = http_get(s.admin, "/commands/mntr");
    assert!(monitor.contains("\n  \"server_state\" : \"standalone\",\n"));
    assert!(monitor.contains("\n  \"znode_count\" : 8.0,\n"));
    let (_, _, watches) = http_get(s.admin, "/commands/watches");
    let id = client.session_id().0;
    assert!(watches.contains(&format!(
        "\"session_id_to_watched_paths\" : {{\n    \"{id}\" : [ \"/eph2\", \"/a\", \"/nonexist\" ]\n  }}"
    )));
    let (_, _, dump) = http_get(s.admin, "/commands/dump");
    assert!(dump.contains(&format!(
        "\"session_id_to_ephemeral_paths\" : {{\n    \"{id}\" : [ \"/a/eph\", \"/eph2\" ]\n  }}"
    )));
    let (_, _, conns) = http_get(s.admin, "/commands/cons");
    assert!(conns.contains(&format!("\"session_id\" : {id},")));
    assert!(conns.contains("\"secure_connections\" : [ ],"));
    let (_, _, leader) = http_get(s.admin, "/commands/lead");
    assert_eq!(
        leader,
        "{\n  \"error\" : \"server is not initialized\",\n  \"command\" : \"leader\"\n}"
    );
    let (_, _, stmk) = http_get(s.admin, "/commands/set_trace_mask?traceMask=7");
    assert!(stmk.contains("\"tracemask\" : 7,"));
    assert_eq!(s.say("gtmk"), "7");
    let (_, _, summary) = http_get(s.admin, "/commands/wchs");
    assert!(summary.starts_with(
        "{\n  \"num_connections\" : 1,\n  \"num_paths\" : 3,\n  \"num_total_watches\" : 3,"
    ));
    let (status, _, bogus) = http_get(s.admin, "/commands/bogus");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(
        bogus,
        "{\n  \"command\" : \"bogus\",\n  \"error\" : \"Unknown command: bogus\"\n}"
    );

    // ---- Prometheus -----------------------------------------------------------------------
    let (status, headers, metrics) = http_get(s.metrics, "/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{headers}"
    );
    assert!(metrics
        .contains("# HELP znode_count znode_count\n# TYPE znode_count gauge\nznode_count 8.0\n"));
    assert!(metrics.contains("\n# TYPE proposal_count counter\nproposal_count 0.0\n"));
    matches(
        &metrics,
        "\n# TYPE updatelatency summary\nupdatelatency\\{quantile=\"0\\.5\",\\} ",
    );
    matches(&metrics, r"\nprocess_open_fds \d+\.0\n");
    for line in metrics.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit_once(' ').unwrap().1;
        assert!(value == "NaN" || value.parse::<f64>().is_ok(), "{line}");
    }

    drop(watchers);
    drop(client);
}

#[test]
fn words_off_the_whitelist_are_refused() {
    let s = Server::start("ruok, conf", "admin.enableServer=false");
    assert_eq!(s.say("ruok"), "imok");
    assert!(s.say("conf").starts_with("clientPort="));
    assert_eq!(
        s.say("stat"),
        "stat is not executed because it is not in the whitelist.\n"
    );
    assert_eq!(
        s.say("mntr"),
        "mntr is not executed because it is not in the whitelist.\n"
    );
    // zkServer.sh needs srvr: ZooKeeper always allows it.
    assert!(s.say("srvr").starts_with("Zookeeper version: "));
    // No AdminServer and no Prometheus endpoint were asked for.
    assert!(TcpStream::connect(("127.0.0.1", s.admin)).is_err());
    assert!(TcpStream::connect(("127.0.0.1", s.metrics)).is_err());
}

#[test]
fn mntr_with_zookeepers_default_metrics_provider() {
    let s = Server::start("mntr,ruok", "admin.enableServer=false");
    let mntr = s.say("mntr");
    matches(
        &mntr,
        r"^zk_version\t3\.8\.0-[^\n]+\nzk_server_state\tstandalone\nzk_ephemerals_count\t0\nzk_num_alive_connections\t1\nzk_avg_latency\t0\.0\n",
    );
    matches(
        &mntr,
        r"\nzk_avg_dbinittime\t\d+\.\d+\nzk_min_dbinittime\t\d+\n",
    );
    matches(&mntr, r"\nzk_p999_write_commitproc_time_ms\t0\n$");
    assert_eq!(mntr.lines().count(), 2 + 24 + 47 + 41 * 5 + 23 * 9);
}
