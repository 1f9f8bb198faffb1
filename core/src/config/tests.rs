use super::*;
use proptest::prelude::*;

const BASE: &str = "tickTime=2000\ndataDir=/data\nclientPort=2181\n";

#[test]
fn tick_time_defaults_to_3000_as_in_zookeeper() {
    let (c, _) = ok("dataDir=/d\nclientPort=2181\n");
    assert_eq!(c.tick_time, 3000);
    assert_eq!(c.min_session_timeout, 6000);
}

fn ok(text: &str) -> (Config, Vec<Warning>) {
    match parse(text, "zoo.cfg") {
        Ok(r) => r,
        Err(e) => panic!("unexpected error: {e}\n--- input ---\n{text}"),
    }
}

fn err(text: &str) -> ConfigError {
    match parse(text, "zoo.cfg") {
        Ok((c, _)) => panic!("expected an error, got {c:?}\n--- input ---\n{text}"),
        Err(e) => e,
    }
}

fn sid(n: u64) -> ServerId {
    ServerId(n)
}

fn has_warning(ws: &[Warning], line: usize, needle: &str) -> bool {
    ws.iter()
        .any(|w| w.line == line && w.to_string().contains(needle))
}

// --- the users' configurations -----------------------------------------------------------

#[test]
fn seed_three_hosts() {
    let text = "tickTime=2000\ndataDir=/var/lib/zookeeper/\nclientPort=2181\ninitLimit=5\n\
                syncLimit=2\n#以下为集群配置，必须配置在所有节点的zoo.cfg文件中\n\
                server.1=zoo1:2888:3888\nserver.2=zoo2:2888:3888\nserver.3=zoo3:2888:3888\n";
    let (c, ws) = ok(text);
    assert!(ws.is_empty(), "{ws:?}");
    assert_eq!(c.tick_time, 2000);
    assert_eq!(c.data_dir, "/var/lib/zookeeper/");
    assert_eq!(c.data_log_dir, "/var/lib/zookeeper/");
    assert_eq!((c.init_limit, c.sync_limit), (5, 2));
    assert_eq!(c.servers.len(), 3);
    assert_eq!(
        c.servers[&sid(2)],
        ServerSpec {
            id: sid(2),
            addresses: vec![("zoo2".to_string(), 2888, 3888)],
            role: PeerRole::Participant,
            client: None
        }
    );
    assert!(!c.is_standalone());
    assert!(!c.is_hierarchical());
    assert_eq!(c.weight(sid(1)), 1);
    assert_eq!(
        c.client_address(Some(sid(1))).unwrap(),
        Some(("0.0.0.0".into(), 2181))
    );
    assert!(c.check_my_id(sid(3)).is_ok());
    assert!(c
        .check_my_id(sid(4))
        .unwrap_err()
        .contains("not in the server list"));
}

#[test]
fn seed_single_host_ensemble() {
    for (n, port) in [(1, 2181), (2, 2182), (3, 2183)] {
        let text = format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=data/{n}\nclientPort={port}\n\
             #集群配置\nserver.1=127.0.0.1:2887:3887\nserver.2=127.0.0.1:2888:3888\n\
             server.3=127.0.0.1:2889:3889\n"
        );
        let (c, ws) = ok(&text);
        assert!(ws.is_empty(), "{ws:?}");
        assert_eq!(c.client_port, Some(port));
        assert_eq!(c.data_dir, format!("data/{n}"));
        let ports: Vec<_> = c.servers.values().map(|s| s.addresses[0].clone()).collect();
        assert_eq!(
            ports,
            vec![
                ("127.0.0.1".to_string(), 2887, 3887),
                ("127.0.0.1".to_string(), 2888, 3888),
                ("127.0.0.1".to_string(), 2889, 3889)
            ]
        );
        assert_eq!(c.participants().count(), 3);
        assert_eq!(c.connect_to_learner_master_ticks(), 10);
    }
}

#[test]
fn seed_observer() {
    let text = format!(
        "{BASE}initLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:2887:3887\n\
         server.2=127.0.0.1:2888:3888\nserver.3=127.0.0.1:2889:3889:observer\n"
    );
    let (c, ws) = ok(&text);
    assert_eq!(c.servers[&sid(3)].role, PeerRole::Observer);
    assert_eq!(c.participants().count(), 2);
    assert_eq!(c.observers().count(), 1);
    assert_eq!(c.role_of(sid(3)), PeerRole::Observer);
    assert_eq!(c.role_of(sid(1)), PeerRole::Participant);
    assert_eq!(c.weight(sid(3)), 0);
    // Two voters tolerate no failure: ZooKeeper warns, so do we.
    assert!(
        has_warning(&ws, 8, "no server failure will be tolerated"),
        "{ws:?}"
    );
}

// --- defaults ------------------------------------------------------------------------------

#[test]
fn defaults() {
    let (c, ws) = ok(BASE);
    assert!(ws.is_empty(), "{ws:?}");
    assert!(c.is_standalone());
    assert_eq!(c.client_port, Some(2181));
    assert_eq!(c.client_port_address, None);
    assert_eq!(c.data_log_dir, "/data");
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.max_cnxns, 0);
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (4000, 40000)
    );
    assert_eq!(c.global_outstanding_limit, 1000);
    assert_eq!(c.snap_count, 100_000);
    assert_eq!(c.snap_size_limit_kb, Some(4_194_304));
    assert_eq!(c.txn_log_size_limit_kb, None);
    assert_eq!(c.pre_alloc_size_kb, 65536);
    assert_eq!(c.commit_log_count, 500);
    assert!(c.force_sync);
    assert_eq!(c.fsync_warning_threshold_ms, 1000);
    assert!(!c.snapshot_trust_empty);
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert_eq!(c.autopurge_purge_interval_hours, 0);
    assert_eq!(
        (
            c.init_limit,
            c.sync_limit,
            c.connect_to_learner_master_limit
        ),
        (0, 0, 0)
    );
    assert_eq!(c.election_alg, 3);
    assert_eq!(c.election_port_bind_retry, 3);
    assert_eq!(c.cnx_timeout_ms, 5000);
    assert!(!c.quorum_listen_on_all_ips);
    assert!(c.standalone_enabled);
    assert!(!c.reconfig_enabled);
    assert!(c.leader_serves);
    assert!(c.sync_enabled);
    assert_eq!(c.peer_type, PeerRole::Participant);
    assert!(!c.multi_address_enabled);
    assert!(!c.local_sessions_enabled && !c.local_sessions_upgrading_enabled);
    assert_eq!(c.jute_max_buffer, 0xfffff);
    assert!(!c.skip_acl);
    assert_eq!(c.super_digest, None);
    assert!(c.digest_auth_enabled && c.digest_enabled);
    assert!(!c.enforce_quota);
    assert!(!c.extended_types_enabled && !c.emulate_353_ttl_nodes);
    assert!(!c.read_only_mode_enabled);
    assert_eq!(c.container_check_interval_ms, 60_000);
    assert_eq!(c.container_max_per_minute, 10_000);
    assert_eq!(c.container_max_never_used_interval_ms, 0);
    assert_eq!(c.four_letter_words, BTreeSet::from(["srvr".to_string()]));
    assert!(c.four_letter_allowed("srvr"));
    assert!(!c.four_letter_allowed("stat"));
    assert_eq!(c.admin, AdminServerConfig::default());
    assert_eq!(c.admin.server_port, 8080);
    assert_eq!(c.admin.server_address, "0.0.0.0");
    assert_eq!(c.admin.command_url, "/commands");
    assert_eq!(c.admin.idle_timeout_ms, 30_000);
    assert!(c.admin.enable_server);
    assert_eq!(c.metrics.class_name, DEFAULT_METRICS_PROVIDER);
    assert_eq!(c.metrics.http_port, 7000);
    assert!(c.metrics.export_jvm_info);
    assert!(c.servers.is_empty() && c.groups.is_empty() && c.weights.is_empty());
    assert!(c.passthrough.is_empty());
}

#[test]
fn standalone_default() {
    let c = Config::standalone_default("/tmp/zk");
    assert_eq!(c.tick_time, 2000);
    assert_eq!(c.client_port, Some(2181));
    assert_eq!(c.client_port_address.as_deref(), Some("127.0.0.1"));
    assert_eq!(c.data_dir, "/tmp/zk");
    assert_eq!(c.data_log_dir, "/tmp/zk");
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (4000, 40000)
    );
    assert!(c.is_standalone());
    assert_eq!(
        c.client_address(None).unwrap(),
        Some(("127.0.0.1".into(), 2181))
    );
    // Same as parsing the equivalent file.
    let (parsed, _) =
        ok("tickTime=2000\ndataDir=/tmp/zk\nclientPort=2181\nclientPortAddress=127.0.0.1\n");
    assert_eq!(parsed, c);
}

#[test]
fn every_key_parses() {
    let text = "\
tickTime=1000
initLimit=7
syncLimit=3
dataDir=/d
dataLogDir=/l
clientPort=2181
clientPortAddress=10.0.0.1
maxClientCnxns=0
minSessionTimeout=3000
maxSessionTimeout=90000
globalOutstandingLimit=2000
snapCount=5000
preAllocSize=1024
autopurge.snapRetainCount=5
autopurge.purgeInterval=24
server.1=h1:2888:3888
server.2=h2:2888:3888
server.3=h3:2888:3888
standaloneEnabled=false
reconfigEnabled=true
leaderServes=no
syncEnabled=false
cnxTimeout=7000
electionAlg=3
electionPortBindRetry=0
4lw.commands.whitelist=stat, ruok, conf, isro
admin.enableServer=false
admin.serverAddress=127.0.0.1
admin.serverPort=9090
admin.commandURL=/cmd
admin.idleTimeout=1000
forceSync=no
jute.maxbuffer=0x400000
skipACL=yes
zookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
readonlymode.enabled=true
quorumListenOnAllIPs=true
zookeeper.extendedTypesEnabled=true
znode.container.checkIntervalMs=1000
znode.container.maxPerMinute=100
znode.container.maxNeverUsedIntervalMs=5000
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort=7001
metricsProvider.exportJvmInfo=false
metricsProvider.numWorkerThreads=4
localSessionsEnabled=true
localSessionsUpgradingEnabled=true
peerType=participant
connectToLearnerMasterLimit=4
zookeeper.snapshot.trust.empty=true
zookeeper.commitLogCount=1000
fsync.warningthresholdms=2000
zookeeper.nio.numSelectorThreads=2
zookeeper.nio.numWorkerThreads=8
zookeeper.commitProcessor.numWorkerThreads=0
maxCnxns=100
digest.enabled=false
enforceQuota=true
snapSizeLimitInKb=0
txnLogSizeLimitInKb=65536
";
    let (c, ws) = ok(text);
    assert!(ws.is_empty(), "{ws:?}");
    assert_eq!(c.tick_time, 1000);
    assert_eq!((c.init_limit, c.sync_limit), (7, 3));
    assert_eq!(c.data_log_dir, "/l");
    assert_eq!(c.client_port_address.as_deref(), Some("10.0.0.1"));
    assert_eq!(c.max_client_cnxns, 0);
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (3000, 90000)
    );
    assert_eq!(c.global_outstanding_limit, 2000);
    assert_eq!(c.snap_count, 5000);
    assert_eq!(c.pre_alloc_size_kb, 1024);
    assert_eq!(c.autopurge_snap_retain_count, 5);
    assert_eq!(c.autopurge_purge_interval_hours, 24);
    assert!(!c.standalone_enabled && c.reconfig_enabled);
    assert!(!c.leader_serves && !c.sync_enabled);
    assert_eq!(c.cnx_timeout_ms, 7000);
    assert_eq!(c.election_port_bind_retry, 0);
    let words: Vec<&str> = c.four_letter_words.iter().map(String::as_str).collect();
    assert_eq!(words, ["conf", "isro", "ruok", "srvr", "stat"]);
    assert!(!c.admin.enable_server);
    assert_eq!(c.admin.server_address, "127.0.0.1");
    assert_eq!(c.admin.server_port, 9090);
    assert_eq!(c.admin.command_url, "/cmd");
    assert_eq!(c.admin.idle_timeout_ms, 1000);
    assert!(!c.force_sync && c.skip_acl);
    assert_eq!(c.jute_max_buffer, 0x400000);
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    assert!(c.read_only_mode_enabled && c.quorum_listen_on_all_ips && c.extended_types_enabled);
    assert_eq!(c.container_check_interval_ms, 1000);
    assert_eq!(c.container_max_per_minute, 100);
    assert_eq!(c.container_max_never_used_interval_ms, 5000);
    assert_eq!(c.metrics.class_name, PROMETHEUS_METRICS_PROVIDER);
    assert_eq!(c.metrics.http_host, "127.0.0.1");
    assert_eq!(c.metrics.http_port, 7001);
    assert!(!c.metrics.export_jvm_info);
    assert_eq!(
        c.metrics.other.get("numWorkerThreads").map(String::as_str),
        Some("4")
    );
    assert!(c.local_sessions_enabled && c.local_sessions_upgrading_enabled);
    assert_eq!(c.connect_to_learner_master_ticks(), 4);
    assert!(c.snapshot_trust_empty);
    assert_eq!(c.commit_log_count, 1000);
    assert_eq!(c.fsync_warning_threshold_ms, 2000);
    assert_eq!(c.nio_num_selector_threads, Some(2));
    assert_eq!(c.nio_num_worker_threads, Some(8));
    assert_eq!(c.commit_processor_num_worker_threads, Some(0));
    assert_eq!(c.max_cnxns, 100);
    assert!(!c.digest_enabled && c.enforce_quota);
    assert_eq!(c.snap_size_limit_kb, None);
    assert_eq!(c.txn_log_size_limit_kb, Some(65536));
    assert!(c.check_my_id(sid(3)).is_ok());
    assert!(c
        .check_my_id(sid(300))
        .unwrap_err()
        .contains("larger than 254"));
}

#[test]
fn both_spellings_of_system_properties() {
    for (a, b) in [
        ("extendedTypesEnabled", "zookeeper.extendedTypesEnabled"),
        (
            "DigestAuthenticationProvider.superDigest",
            "zookeeper.DigestAuthenticationProvider.superDigest",
        ),
        ("jute.maxbuffer", "zookeeper.jute.maxbuffer"),
        (
            "znode.container.checkIntervalMs",
            "zookeeper.znode.container.checkIntervalMs",
        ),
        ("snapshot.trust.empty", "zookeeper.snapshot.trust.empty"),
        ("commitLogCount", "zookeeper.commitLogCount"),
        ("4lw.commands.whitelist", "zookeeper.4lw.commands.whitelist"),
        ("admin.serverPort", "zookeeper.admin.serverPort"),
        ("syncEnabled", "zookeeper.observer.syncEnabled"),
    ] {
        let value = match a {
            "extendedTypesEnabled" | "snapshot.trust.empty" => "true",
            "syncEnabled" => "false",
            "DigestAuthenticationProvider.superDigest" => "super:abc=",
            "4lw.commands.whitelist" => "*",
            _ => "1234",
        };
        let (ca, wa) = ok(&format!("{BASE}{a}={value}\n"));
        let (cb, wb) = ok(&format!("{BASE}{b}={value}\n"));
        assert!(wa.is_empty() && wb.is_empty(), "{a}: {wa:?} {wb:?}");
        assert_eq!(ca, cb, "{a} vs {b}");
        assert_ne!(ca, ok(BASE).0, "{a} had no effect");
        // Both at once: the later one wins, with a duplicate-key warning.
        let (_, w) = ok(&format!("{BASE}{a}={value}\n{b}={value}\n"));
        assert!(has_warning(&w, 5, "set again (first on line 4)"), "{w:?}");
    }
}

// --- Properties syntax ---------------------------------------------------------------------

#[test]
fn properties_syntax() {
    let text =
        "# comment\n   ! another comment\n\n  tickTime : 2000  \ndataDir /var/zk\\\n    /data\n\
                clientPort\t=\t2181\r\nmaxClientCnxns=\\\n  30\rinitLimit==5\n";
    let e = err(text);
    // `initLimit==5` gives the value `=5` (only one separator is skipped), as in Java.
    assert_eq!(e.line, Some(10));
    assert_eq!(e.to_string(), "zoo.cfg:10: initLimit: '=5' is not a number");

    let (c, ws) = ok(
        "# comment\n   ! another comment\n\n  tickTime : 2000  \ndataDir /var/zk\\\n    /data\n\
                     clientPort\t=\t2181\r\nmaxClientCnxns=\\\n  30\r\n",
    );
    assert!(ws.is_empty(), "{ws:?}");
    assert_eq!(c.tick_time, 2000);
    assert_eq!(c.data_dir, "/var/zk/data");
    assert_eq!(c.client_port, Some(2181));
    assert_eq!(c.max_client_cnxns, 30);

    // A comment line does not continue, even ending in a backslash; `\\` does not continue.
    let (c, _) = ok("#x\\\ntickTime=2000\ndataDir=a\\\\\nclientPort=1\n");
    assert_eq!(c.data_dir, "a\\");
    // Escapes: \uXXXX, \t, escaped separators in keys.
    let (c, ws) = ok("tickTime=2000\ndataDir=/d\\u00e9\\:x\nclientPort=1\nmy\\=key=v\n");
    assert_eq!(c.data_dir, "/dé:x");
    assert_eq!(c.passthrough.get("my=key").map(String::as_str), Some("v"));
    assert!(has_warning(&ws, 4, "unknown key 'my=key' ignored"));
    // Continuation at the end of the file.
    let (c, _) = ok("clientPort=1\ntickTime=2000\ndataDir=/x\\");
    assert_eq!(c.data_dir, "/x");
    // Line numbers count every natural line, comments and continuations included.
    let e = err("tickTime=2000\ndataDir=/d\n# c\nfoo=a\\\n b\nclientPort=x\n");
    assert_eq!(e.line, Some(6));
}

#[test]
fn windows_path_backslashes_are_eaten_like_java() {
    let (c, ws) = ok("tickTime=2000\ndataDir=C:\\zookeeper\\data\nclientPort=2181\n");
    assert_eq!(c.data_dir, "C:zookeeperdata");
    assert!(has_warning(&ws, 2, "backslash"), "{ws:?}");
    let (c, ws) = ok("tickTime=2000\ndataDir=C:/zookeeper/data\nclientPort=2181\n");
    assert_eq!(c.data_dir, "C:/zookeeper/data");
    assert!(ws.is_empty());
}

// --- errors --------------------------------------------------------------------------------

#[test]
fn errors_name_file_line_and_key() {
    let three = "initLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888\n\
                 server.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n";
    // (text, line, key, message fragment)
    let cases: Vec<(String, Option<usize>, &str, &str)> = vec![
        ("tickTime=abc\ndataDir=/d\n".into(), Some(1), "tickTime", "'abc' is not a number"),
        (format!("{BASE}clientPort=70000\n"), Some(4), "clientPort", "out of range"),
        (format!("{BASE}maxClientCnxns=-5\n"), Some(4), "maxClientCnxns", "out of range"),
        (format!("{BASE}snapCount=12x\n"), Some(4), "snapCount", "not a number"),
        (format!("{BASE}initLimit=99999999999\n"), Some(4), "initLimit", "out of range"),
        (format!("{BASE}jute.maxbuffer=0\n"), Some(4), "jute.maxbuffer", "out of range"),
        (format!("{BASE}skipACL=maybe\n"), Some(4), "skipACL", "use yes or no"),
        (format!("{BASE}standaloneEnabled=yes\n"), Some(4), "standaloneEnabled", "use true or false"),
        (format!("{BASE}zookeeper.extendedTypesEnabled=1\n"), Some(4), "zookeeper.extendedTypesEnabled", "not a boolean"),
        (format!("{BASE}server.1=127.0.0.1:2888\n"), Some(4), "server.1", "missing the election port"),
        (format!("{BASE}server.1=127.0.0.1\n"), Some(4), "server.1", "missing the quorum and election ports"),
        (format!("{BASE}server.1=127.0.0.1:abc:3888\n"), Some(4), "server.1", "quorum port 'abc' is not a number"),
        (format!("{BASE}server.1=127.0.0.1:2888:99999\n"), Some(4), "server.1", "election port '99999' is out of range"),
        (format!("{BASE}server.1=127.0.0.1:2888:3888:leader\n"), Some(4), "server.1", "unknown role 'leader'"),
        (format!("{BASE}server.1=127.0.0.1:2888:2888\n"), Some(4), "server.1", "must be different"),
        (format!("{BASE}server.1=::1:2888:3888\n"), Some(4), "server.1", "IPv6 hosts in brackets"),
        (format!("{BASE}server.1=[::1:2888:3888\n"), Some(4), "server.1", "no matching ']'"),
        (format!("{BASE}server.1=h:1:2;a:b:c\n"), Some(4), "server.1", "client address"),
        (format!("{BASE}server.1=h:1:2;x\n"), Some(4), "server.1", "client port 'x' is not a number"),
        (format!("{BASE}server.1=h:1:2;3;4\n"), Some(4), "server.1", "malformed"),
        (format!("{BASE}server.1=:1:2\n"), Some(4), "server.1", "empty host"),
        (format!("{BASE}server.x=h:1:2\n"), Some(4), "server.x", "server id 'x' is not a number"),
        (format!("{BASE}server.-1=h:1:2\n"), Some(4), "server.-1", "not a number"),
        (format!("{BASE}server.1=a:1:2\nserver.1=b:1:2\n"), Some(5), "server.1", "defined twice"),
        (format!("{BASE}server.1=a:1:2\nserver.01=b:1:2\n"), Some(5), "server.01", "already on line 4"),
        (format!("{BASE}electionAlg=1\n"), Some(4), "electionAlg", "only 3"),
        (format!("{BASE}electionAlg=0\n"), Some(4), "electionAlg", "only 3"),
        (format!("{BASE}minSessionTimeout=5000\nmaxSessionTimeout=4000\n"), Some(4), "minSessionTimeout", "must not be larger"),
        (format!("{BASE}maxSessionTimeout=3000\n"), Some(4), "maxSessionTimeout", "must not be larger"),
        (format!("{BASE}{}", &three[12..]), None, "initLimit", "is not set"),
        (format!("{BASE}initLimit=5\n{}", &three[24..]), None, "syncLimit", "is not set"),
        (format!("{BASE}initLimit=0\nsyncLimit=2\n{}", &three[24..]), Some(4), "initLimit", "at least 1"),
        ("tickTime=2000\nclientPort=2181\n".into(), None, "dataDir", "is not set"),
        ("tickTime=0\ndataDir=/d\n".into(), Some(1), "tickTime", "greater than 0"),
        (format!("{BASE}dataLogDir=\n"), Some(4), "dataLogDir", "is empty"),
        (format!("{BASE}peerType=leader\n"), Some(4), "peerType", "unknown peer type"),
        ("tickTime=2000\ndataDir=/d\nclientPortAddress=1.2.3.4\n".into(), Some(3), "clientPortAddress", "clientPort is not"),
        (format!("{BASE}secureClientPortAddress=1.2.3.4\n"), Some(4), "secureClientPortAddress", "secureClientPort is not"),
        (format!("{BASE}{three}server.4=a:1:2|b:1:2\n"), Some(9), "server.4", "multiAddress.enabled is false"),
        (format!("{BASE}server.1=h:1:2:observer\n"), Some(4), "server.1", "observers without participants"),
        (format!("{BASE}server.1=h:1:2\nserver.2=h:3:4:observer\n"), Some(5), "server.2", "observers need a quorum"),
        (format!("{BASE}standaloneEnabled=false\n"), Some(4), "standaloneEnabled", "at least one participant"),
        (format!("{BASE}admin.commandURL=commands\n"), Some(4), "admin.commandURL", "must start with '/'"),
        (format!("{BASE}znode.container.maxPerMinute=0\n"), Some(4), "znode.container.maxPerMinute", "out of range"),
        (format!("{BASE}weight.1=-1\n"), Some(4), "weight.1", "out of range"),
        (format!("{BASE}group.1=1:x\n"), Some(4), "group.1", "'x' is not a server id"),
        (format!("{BASE}group.a=1\n"), Some(4), "group.a", "group id 'a' is not a number"),
        (format!("{BASE}{three}server.4=a:5:6:observer|b:5:6:participant\nmultiAddress.enabled=true\n"), Some(9), "server.4", "same role"),
    ];
    for (text, line, key, fragment) in cases {
        let e = err(&text);
        assert_eq!(e.file, "zoo.cfg", "{text}");
        assert_eq!(e.line, line, "{e} for\n{text}");
        assert_eq!(e.key.as_deref(), Some(key), "{e} for\n{text}");
        assert!(
            e.message.contains(fragment),
            "'{e}' lacks '{fragment}' for\n{text}"
        );
        let shown = e.to_string();
        match line {
            Some(l) => assert!(
                shown.starts_with(&format!("zoo.cfg:{l}: {key}: ")),
                "{shown}"
            ),
            None => assert!(shown.starts_with(&format!("zoo.cfg: {key}: ")), "{shown}"),
        }
    }
}

#[test]
fn error_display_examples() {
    let e = err("tickTime=2000\ndataDir=/d\n\n\n\n\ntickTime=abc\n");
    assert_eq!(e.to_string(), "zoo.cfg:7: tickTime: 'abc' is not a number");
    let e = parse("tickTime=2000\n", "conf/zoo1.cfg").unwrap_err();
    assert_eq!(e.to_string(), "conf/zoo1.cfg: dataDir: is not set");
    let e = err("tickTime=2000\ndataDir=/d\nx=\\u12G4\n");
    assert_eq!(e.to_string(), "zoo.cfg:3: malformed \\uxxxx escape");
}

// --- warnings ------------------------------------------------------------------------------

#[test]
fn warnings() {
    let text = format!(
        "{BASE}foo=bar\nclientPort=2182\nsecureClientPort=2281\nssl.keyStore.location=/k\n\
         quorum.auth.enableSasl=true\ndynamicConfigFile=/c/zoo.cfg.dynamic\nautopurge.snapRetainCount=1\n\
         commitLogCount=100\nsnapCount=1\n4lw.commands.whitelist=stat,bogus\nforceSync=false\n\
         maxResponseCacheSize=10\nsnapCount=010\n"
    );
    let (c, ws) = ok(&text);
    let shown: Vec<String> = ws.iter().map(|w| w.to_string()).collect();
    assert!(
        shown.contains(&"zoo.cfg:4: unknown key 'foo' ignored".to_string()),
        "{shown:?}"
    );
    assert_eq!(ws.iter().find(|w| w.line == 4).unwrap().key, "foo");
    assert!(has_warning(
        &ws,
        5,
        "'clientPort' is set again (first on line 3)"
    ));
    assert_eq!(c.client_port, Some(2182));
    assert!(!ws.iter().any(|w| w.line == 6 || w.line == 7), "{shown:?}");
    assert_eq!(c.secure_client_port, Some(2281));
    assert_eq!(c.tls.key_store_location.as_deref(), Some("/k"));
    assert!(!ws.iter().any(|w| w.line == 8), "{shown:?}");
    assert!(c.auth.quorum_sasl);
    assert!(has_warning(&ws, 9, "dynamicConfigFile is not supported"));
    assert!(has_warning(&ws, 10, "raised to the minimum of 3"));
    assert_eq!(c.autopurge_snap_retain_count, 3);
    assert!(has_warning(&ws, 11, "raised to the minimum of 500"));
    assert_eq!(c.commit_log_count, 500);
    assert!(has_warning(
        &ws,
        16,
        "'snapCount' is set again (first on line 12)"
    ));
    assert!(has_warning(&ws, 13, "unknown four-letter word 'bogus'"));
    assert!(c.four_letter_allowed("stat") && !c.four_letter_allowed("bogus"));
    assert!(has_warning(&ws, 14, "only recognizes 'yes' and 'no'"));
    assert!(!c.force_sync);
    assert!(has_warning(&ws, 15, "'maxResponseCacheSize' is ignored"));
    // Integer.decode reads a leading zero as octal.
    assert!(has_warning(&ws, 16, "octal (8)"));
    assert_eq!(c.snap_count, 8);
    assert_eq!(c.passthrough.get("foo").map(String::as_str), Some("bar"));
    assert!(!c.passthrough.contains_key("ssl.keyStore.location"));
    assert_eq!(c.dynamic_config_file.as_deref(), Some("/c/zoo.cfg.dynamic"));

    let (_, ws) = ok("tickTime=2000\ndataDir=/d\n");
    assert_eq!(ws.len(), 1);
    assert_eq!(
        ws[0].to_string(),
        "zoo.cfg: neither clientPort nor a server.N client address is set: the server will \
         not accept client connections"
    );
}

#[test]
fn lone_server_line_runs_standalone() {
    let (c, ws) = ok(&format!("{BASE}server.1=127.0.0.1:2888:3888\n"));
    assert!(c.is_standalone());
    assert!(has_warning(&ws, 4, "runs standalone"), "{ws:?}");
    // standaloneEnabled=false: a one-server ensemble, which needs the limits.
    let e = err(&format!(
        "{BASE}standaloneEnabled=false\nserver.1=127.0.0.1:2888:3888\n"
    ));
    assert_eq!(e.key.as_deref(), Some("initLimit"));
    let (c, _) = ok(&format!(
        "{BASE}standaloneEnabled=false\ninitLimit=5\nsyncLimit=2\nserver.1=127.0.0.1:2888:3888\n\
         server.2=127.0.0.1:2889:3889:observer\n"
    ));
    assert!(!c.is_standalone());
}

#[test]
fn even_ensembles_and_shared_ports_warn() {
    let (_, ws) = ok(&format!(
        "{BASE}initLimit=5\nsyncLimit=2\nserver.1=a:2888:3888\nserver.2=b:2888:3888\n\
         server.3=c:2888:3888\nserver.4=c:2888:3889\n"
    ));
    assert!(has_warning(&ws, 9, "an even number"), "{ws:?}");
    assert!(
        has_warning(&ws, 9, "c:2888 is also used by server.3"),
        "{ws:?}"
    );
}

// --- server line forms ---------------------------------------------------------------------

#[test]
fn ipv6_and_client_ports() {
    let text = "tickTime=2000\ndataDir=/d\ninitLimit=5\nsyncLimit=2\n\
         server.1=[::1]:2888:3888\n\
         server.2=[fe80::1%eth0]:2889:3889:participant;2181\n\
         server.3=127.0.0.1:2890:3890:observer;0.0.0.0:2182\n\
         server.4=127.0.0.1:2891:3891;[::]:2183\n\
         server.5=h5:2892:3892;\n";
    let (c, _) = ok(text);
    assert_eq!(
        c.servers[&sid(1)].addresses,
        vec![("::1".to_string(), 2888, 3888)]
    );
    assert_eq!(c.servers[&sid(1)].client, None);
    assert_eq!(c.servers[&sid(2)].addresses[0].0, "fe80::1%eth0");
    assert_eq!(c.servers[&sid(2)].client, Some((None, 2181)));
    assert_eq!(c.servers[&sid(3)].role, PeerRole::Observer);
    assert_eq!(
        c.servers[&sid(3)].client,
        Some((Some("0.0.0.0".to_string()), 2182))
    );
    assert_eq!(
        c.servers[&sid(4)].client,
        Some((Some("::".to_string()), 2183))
    );
    // `x;` is a Java split artefact: no client part.
    assert_eq!(c.servers[&sid(5)].client, None);
    // The server's own line gives the client address; no clientPort needed.
    assert_eq!(
        c.client_address(Some(sid(2))).unwrap(),
        Some(("0.0.0.0".into(), 2181))
    );
    assert_eq!(c.client_address(Some(sid(1))).unwrap(), None);
    // ZooKeeper's /zookeeper/config rendering.
    assert_eq!(
        c.servers[&sid(1)].to_string(),
        "[::1]:2888:3888:participant"
    );
    assert_eq!(
        c.servers[&sid(2)].to_string(),
        "[fe80::1%eth0]:2889:3889:participant;0.0.0.0:2181"
    );
    assert_eq!(
        c.servers[&sid(4)].to_string(),
        "127.0.0.1:2891:3891:participant;[::]:2183"
    );
}

#[test]
fn client_address_conflicts() {
    let cfg = |static_part: &str| {
        ok(&format!(
            "tickTime=2000\ndataDir=/d\ninitLimit=5\nsyncLimit=2\n{static_part}\
             server.1=h1:2888:3888;10.0.0.1:2181\nserver.2=h2:2888:3888\nserver.3=h3:2888:3888\n"
        ))
        .0
    };
    assert_eq!(
        cfg("clientPort=2181\n")
            .client_address(Some(sid(1)))
            .unwrap(),
        Some(("10.0.0.1".into(), 2181))
    );
    assert!(cfg("clientPort=2182\n")
        .client_address(Some(sid(1)))
        .is_err());
    assert!(cfg("clientPort=2181\nclientPortAddress=10.0.0.2\n")
        .client_address(Some(sid(1)))
        .is_err());
    assert!(cfg("clientPort=2181\nclientPortAddress=10.0.0.1\n")
        .client_address(Some(sid(1)))
        .is_ok());
    assert_eq!(
        cfg("clientPort=2181\n")
            .client_address(Some(sid(2)))
            .unwrap(),
        Some(("0.0.0.0".into(), 2181))
    );
}

#[test]
fn multi_address() {
    let text = format!(
        "{BASE}initLimit=5\nsyncLimit=2\nmultiAddress.enabled=true\n\
         server.1=zoo1-net1:2888:3888|zoo1-net2:2889:3889\n\
         server.2=zoo2-net1:2888:3888|zoo2-net2:2889:3889\n\
         server.3=zoo3-net1:2888:3888|zoo3-net2:2889:3889:observer\n"
    );
    let (c, _) = ok(&text);
    assert_eq!(c.servers[&sid(1)].addresses.len(), 2);
    assert_eq!(c.servers[&sid(3)].role, PeerRole::Observer);
    assert_eq!(
        c.servers[&sid(2)].to_string(),
        "zoo2-net1:2888:3888|zoo2-net2:2889:3889:participant"
    );
}

#[test]
fn peer_type_yields_to_server_line() {
    let (c, _) = ok(&format!(
        "{BASE}peerType=observer\ninitLimit=5\nsyncLimit=2\nserver.1=a:1:2\nserver.2=b:1:2\nserver.3=c:1:2\n"
    ));
    assert_eq!(c.peer_type, PeerRole::Observer);
    assert_eq!(c.role_of(sid(1)), PeerRole::Participant);
    assert_eq!(c.role_of(sid(9)), PeerRole::Observer);
}

// --- hierarchical quorums ------------------------------------------------------------------

const NINE: &str = "initLimit=5\nsyncLimit=2\n\
    server.1=h1:2888:3888\nserver.2=h2:2888:3888\nserver.3=h3:2888:3888\n\
    server.4=h4:2888:3888\nserver.5=h5:2888:3888\nserver.6=h6:2888:3888\n\
    server.7=h7:2888:3888\nserver.8=h8:2888:3888\nserver.9=h9:2888:3888\n";

#[test]
fn groups_and_weights_valid() {
    let text = format!(
        "{BASE}{NINE}group.1=1:2:3\ngroup.2=4:5:6\ngroup.3=7:8:9\n\
         weight.1=1\nweight.2=1\nweight.3=1\nweight.4=1\nweight.5=1\nweight.6=1\nweight.7=1\n\
         weight.8=1\nweight.9=0\n"
    );
    let (c, _) = ok(&text);
    assert!(c.is_hierarchical());
    assert_eq!(c.groups[&2], vec![sid(4), sid(5), sid(6)]);
    assert_eq!(c.weight(sid(9)), 0);
    assert_eq!(c.weight(sid(1)), 1);
    assert_eq!(c.weights.len(), 9);

    // Weights default to 1 when only groups are given.
    let (c, _) = ok(&format!(
        "{BASE}{NINE}group.1=1:2:3\ngroup.2=4:5:6\ngroup.3=7:8:9\n"
    ));
    assert!(c.weights.values().all(|w| *w == 1));
    assert!(c.quorum_config_text(0x100000000).ends_with(
        "group.1=1:2:3\ngroup.2=4:5:6\ngroup.3=7:8:9\nweight.1=1\nweight.2=1\nweight.3=1\n\
         weight.4=1\nweight.5=1\nweight.6=1\nweight.7=1\nweight.8=1\nweight.9=1\nversion=100000000"
    ));

    // Observers stay out of groups.
    let (c, _) = ok(&format!(
        "{BASE}initLimit=5\nsyncLimit=2\nserver.1=h1:1:2\nserver.2=h2:1:2\nserver.3=h3:1:2\n\
         server.4=h4:1:2:observer\ngroup.1=1:2\ngroup.2=3\n"
    ));
    assert_eq!(c.weight(sid(4)), 0);
    assert!(!c.weights.contains_key(&sid(4)));
}

#[test]
fn groups_and_weights_invalid() {
    let four = "initLimit=5\nsyncLimit=2\nserver.1=h1:1:2\nserver.2=h2:1:2\nserver.3=h3:1:2\n\
                server.4=h4:1:2:observer\n"; // server lines on 6..9 after BASE
    let cases: Vec<(String, Option<usize>, &str, &str)> = vec![
        (
            format!("{BASE}{four}group.1=1:2\n"),
            Some(8),
            "server.3",
            "is in no group",
        ),
        (
            format!("{BASE}{four}group.1=1:2\ngroup.2=2:3\n"),
            Some(11),
            "group.2",
            "already in group.1 (line 10)",
        ),
        (
            format!("{BASE}{four}group.1=1:1:2:3\n"),
            Some(10),
            "group.1",
            "already in group.1",
        ),
        (
            format!("{BASE}{four}group.1=1:2:3:7\n"),
            Some(10),
            "group.1",
            "names server 7",
        ),
        (
            format!("{BASE}{four}group.1=1:2:3:4\n"),
            Some(10),
            "group.1",
            "server 4 is an observer",
        ),
        (
            format!("{BASE}{four}group.1=1:2:3\nweight.4=2\n"),
            Some(11),
            "weight.4",
            "observer",
        ),
        (
            format!("{BASE}{four}weight.1=2\n"),
            Some(6),
            "server.1",
            "weight.x lines make the quorum hierarchical",
        ),
        (
            format!("{BASE}{four}group.1=1:2\ngroup.2=3\nweight.1=0\nweight.2=0\nweight.3=0\n"),
            Some(10),
            "group.1",
            "total weight 0",
        ),
    ];
    for (text, line, key, fragment) in cases {
        let e = err(&text);
        assert_eq!(e.line, line, "{e} for\n{text}");
        assert_eq!(e.key.as_deref(), Some(key), "{e} for\n{text}");
        assert!(e.message.contains(fragment), "'{e}' lacks '{fragment}'");
    }
    // A weight for a server that is not listed is only a warning.
    let (_, ws) = ok(&format!("{BASE}{four}group.1=1:2:3\nweight.8=2\n"));
    assert!(has_warning(&ws, 11, "no server.8 line"), "{ws:?}");
}

// --- four-letter words, quorum text, my id -------------------------------------------------

#[test]
fn four_letter_words() {
    let (c, _) = ok(&format!("{BASE}4lw.commands.whitelist=*\n"));
    assert_eq!(c.four_letter_words.len(), FOUR_LETTER_WORDS.len());
    assert!(FOUR_LETTER_WORDS.iter().all(|w| c.four_letter_allowed(w)));
    let (c, _) = ok(&format!("{BASE}4lw.commands.whitelist= ruok , ,mntr\n"));
    let words: Vec<&str> = c.four_letter_words.iter().map(String::as_str).collect();
    assert_eq!(words, ["mntr", "ruok", "srvr"]);
    let (c, _) = ok(&format!("{BASE}readonlymode.enabled=true\n"));
    assert!(c.four_letter_allowed("isro") && c.four_letter_allowed("srvr"));
    assert!(!c.four_letter_allowed("ruok"));
    let (c, _) = ok(&format!("{BASE}4lw.commands.whitelist=\n"));
    assert_eq!(c.four_letter_words.len(), 1);
}

#[test]
fn quorum_config_text() {
    let (c, _) = ok(&format!(
        "{BASE}initLimit=5\nsyncLimit=2\nserver.2=127.0.0.1:2888:3888\n\
         server.1=127.0.0.1:2887:3887;2181\nserver.3=127.0.0.1:2889:3889:observer\n"
    ));
    assert_eq!(
        c.quorum_config_text(0),
        "server.1=127.0.0.1:2887:3887:participant;0.0.0.0:2181\n\
         server.2=127.0.0.1:2888:3888:participant\n\
         server.3=127.0.0.1:2889:3889:observer\nversion=0"
    );
}

#[test]
fn my_id_checks() {
    let (c, _) = ok(BASE);
    assert!(
        c.check_my_id(sid(77)).is_ok(),
        "standalone needs no server line"
    );
    let (c, _) = ok(&format!(
        "{BASE}extendedTypesEnabled=true\nemulate353TTLNodes=true\n"
    ));
    assert!(c.check_my_id(sid(127)).is_ok());
    assert!(c.check_my_id(sid(128)).is_err());
}

// --- never panic ---------------------------------------------------------------------------

const KEYS: &[&str] = &[
    "tickTime",
    "dataDir",
    "clientPort",
    "initLimit",
    "syncLimit",
    "server.1",
    "server.2",
    "server.3",
    "server.x",
    "group.1",
    "group.2",
    "weight.1",
    "weight.3",
    "standaloneEnabled",
    "minSessionTimeout",
    "maxSessionTimeout",
    "electionAlg",
    "4lw.commands.whitelist",
    "multiAddress.enabled",
    "clientPortAddress",
    "peerType",
    "jute.maxbuffer",
    "snapCount",
    "zookeeper.extendedTypesEnabled",
    "ssl.x",
    "foo",
    "forceSync",
    "admin.serverPort",
];
const VALUES: &[&str] = &[
    "2000",
    "0",
    "-1",
    "3",
    "/d",
    "true",
    "no",
    "*",
    "h:1:2",
    "[::1]:5:6;7",
    "a:1:2|b:3:4:observer",
    "1:2",
    "2:3",
    "0x10",
    "010",
    "99999999999999999999",
    "",
    "h:1:2:observer",
    "h:1:2;0.0.0.0:9",
    "\\u00",
    "[",
    "]:",
    ":",
    ";",
    "|",
];

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text, "zoo.cfg");
    }

    #[test]
    fn config_like_text_never_panics(
        lines in proptest::collection::vec(
            (0..KEYS.len(), 0..VALUES.len(), prop::sample::select(vec!["=", ":", " ", "\t= "]),
             prop::sample::select(vec!["\n", "\r\n", "\r", "\\\n", "\n#c\n"])),
            0..24)
    ) {
        let mut text = String::new();
        for (k, v, sep, end) in lines {
            text.push_str(KEYS[k]);
            text.push_str(sep);
            text.push_str(VALUES[v]);
            text.push_str(end);
        }
        match parse(&text, "zoo.cfg") {
            Ok((c, ws)) => {
                prop_assert!(c.tick_time > 0);
                prop_assert!(c.min_session_timeout <= c.max_session_timeout);
                prop_assert!(c.four_letter_allowed("srvr"));
                let _ = c.quorum_config_text(1);
                let _ = c.client_address(Some(ServerId(1)));
                let _ = c.check_my_id(ServerId(1));
                for w in ws { let _ = w.to_string(); }
            }
            Err(e) => { prop_assert!(!e.to_string().is_empty()); }
        }
    }
}

#[test]
fn tls_and_authentication_keys() {
    let text = format!(
        "{BASE}secureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n\
         zookeeper.ssl.keyStore.location=/k.p12\nssl.keyStore.password=pw\nssl.clientAuth=want\n\
         ssl.enabledProtocols=TLSv1.3, TLSv1.2\nssl.quorum.trustStore.location=/t.jks\n\
         sslQuorum=true\nportUnification=true\nclient.portUnification=true\n\
         authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
         enforce.auth.enabled=true\nenforce.auth.schemes=sasl\nssl.ocsp=true\n"
    );
    let (c, ws) = ok(&text);
    assert_eq!(c.secure_client_port, Some(2281));
    assert_eq!(c.tls.key_store_location.as_deref(), Some("/k.p12"));
    assert_eq!(c.tls.key_store_password.as_deref(), Some("pw"));
    assert_eq!(c.tls.client_auth, security::ClientAuth::Want);
    assert_eq!(c.tls.protocols(), vec!["TLSv1.3", "TLSv1.2"]);
    assert_eq!(c.quorum_tls.trust_store_location.as_deref(), Some("/t.jks"));
    assert!(c.ssl_quorum && c.port_unification && c.client_port_unification);
    assert!(c.auth.sasl_provider());
    assert_eq!(c.auth.required_schemes(), vec!["sasl"]);
    assert!(has_warning(&ws, 17, "revocation checking is not supported"));

    // A bad client auth mode, enforcement without schemes, or a scheme nobody provides.
    let e = err(&format!("{BASE}ssl.clientAuth=maybe\n"));
    assert!(e.to_string().contains("not a client auth mode"), "{e}");
    let e = err(&format!("{BASE}enforce.auth.enabled=true\n"));
    assert!(e.to_string().contains("names no scheme"), "{e}");
    let e = err(&format!("{BASE}sessionRequireClientSASLAuth=true\n"));
    assert!(e.to_string().contains("no provider"), "{e}");
}
