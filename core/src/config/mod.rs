//! `zoo.cfg`: ZooKeeper's configuration file, read and checked as ZooKeeper 3.8 reads it.
//!
//! The core never touches the filesystem: the native server reads the file and hands [`parse`]
//! its text and its name. The text is read with `java.util.Properties`' rules — `key=value`,
//! `key: value` or `key value`; `#` and `!` comment lines; a trailing backslash continues the
//! line; backslash escapes — then keys and values are trimmed and interpreted as
//! `QuorumPeerConfig` interprets them. Settings ZooKeeper only reads as Java system properties
//! (`-Dzookeeper.snapCount=...`, `-Djute.maxbuffer=...`) are accepted as `zoo.cfg` keys too,
//! spelled with or without the `zookeeper.` prefix.
//!
//! Whatever ZooKeeper refuses to start with is a [`ConfigError`] naming the file, the line and
//! the key (`zoo.cfg:7: tickTime: 'abc' is not a number`). What ZooKeeper accepts but deserves a
//! look — an unknown key, a key set twice, a TLS setting this server ignores, a value ZooKeeper
//! silently raises to its minimum — is a [`Warning`]. No input makes [`parse`] panic.
//!
//! ```text
//!   text ──Properties rules──▶ (line, key, value)* ──dedupe (last wins)──▶ typed fields
//!                                                                     │
//!        server.N / group.x / weight.x ──▶ ServerSpec, groups, weights ┴──▶ cross-checks ──▶ Config
//! ```

use crate::types::ServerId;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The metrics provider ZooKeeper uses when `metricsProvider.className` is absent.
pub const DEFAULT_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";
/// ZooKeeper's provider that discards all metrics.
pub const NULL_METRICS_PROVIDER: &str = "org.apache.zookeeper.metrics.impl.NullMetricsProvider";
/// The Prometheus exporter (`metricsProvider.httpHost` / `httpPort` / `exportJvmInfo`).
pub const PROMETHEUS_METRICS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// Every four-letter word ZooKeeper 3.8 knows (`FourLetterCommands`), sorted.
pub const FOUR_LETTER_WORDS: [&str; 18] = [
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok", "srst",
    "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
];

/// `jute.maxbuffer` when unset: the largest record (and so znode data) accepted, in bytes.
pub const DEFAULT_JUTE_MAX_BUFFER: u32 = 0xfffff;
/// `autopurge.snapRetainCount` below this is raised to it (as `QuorumPeerConfig` does).
pub const MIN_SNAP_RETAIN_COUNT: u32 = 3;
/// `commitLogCount` below this is raised to it (as `ZKDatabase` does).
pub const MIN_COMMIT_LOG_COUNT: u32 = 500;
/// With `extendedTypesEnabled`, a server id must fit in the top byte of a TTL ephemeral owner.
pub const MAX_EXTENDED_SERVER_ID: u64 = 254;
/// With `emulate353TTLNodes` as well, ZooKeeper 3.5.3's encoding leaves one bit less.
pub const MAX_EMULATE_353_SERVER_ID: u64 = 127;

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// Whether a server votes (`participant`, the default) or only follows (`observer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum PeerRole {
    Participant,
    Observer,
}

impl fmt::Display for PeerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PeerRole::Participant => "participant",
            PeerRole::Observer => "observer",
        })
    }
}

/// One `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`
/// line. With `multiAddress.enabled`, `host:port:port` may repeat, separated by `|`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSpec {
    pub id: ServerId,
    /// `(host, quorum port, election port)`, in the order written; an IPv6 host without brackets.
    pub addresses: Vec<(String, u16, u16)>,
    pub role: PeerRole,
    /// The client address after `;`: `None` for the host means "all interfaces" (`0.0.0.0`).
    pub client: Option<(Option<String>, u16)>,
}

impl ServerSpec {
    pub fn is_participant(&self) -> bool {
        self.role == PeerRole::Participant
    }
}

/// The value part of the line as ZooKeeper prints it in `/zookeeper/config`
/// (`QuorumServer.toString`): addresses sorted by host, the role always spelled out, and the
/// client address only when the line had one.
impl fmt::Display for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut addresses = self.addresses.clone();
        addresses.sort_by(|a, b| a.0.cmp(&b.0));
        for (i, (host, quorum, election)) in addresses.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(f, "{}:{quorum}:{election}", bracketed(host))?;
        }
        write!(f, ":{}", self.role)?;
        if let Some((host, port)) = &self.client {
            write!(
                f,
                ";{}:{port}",
                bracketed(host.as_deref().unwrap_or("0.0.0.0"))
            )?;
        }
        Ok(())
    }
}

/// The embedded AdminServer (`admin.*`, system properties `zookeeper.admin.*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminServerConfig {
    /// `admin.enableServer`, default true.
    pub enable_server: bool,
    /// `admin.serverAddress`, default `0.0.0.0`.
    pub server_address: String,
    /// `admin.serverPort`, default 8080.
    pub server_port: u16,
    /// `admin.commandURL`, default `/commands`.
    pub command_url: String,
    /// `admin.idleTimeout` in milliseconds, default 30000.
    pub idle_timeout_ms: u32,
}

impl Default for AdminServerConfig {
    fn default() -> Self {
        AdminServerConfig {
            enable_server: true,
            server_address: "0.0.0.0".to_string(),
            server_port: 8080,
            command_url: "/commands".to_string(),
            idle_timeout_ms: 30_000,
        }
    }
}

/// `metricsProvider.*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsProviderConfig {
    /// `metricsProvider.className`, default [`DEFAULT_METRICS_PROVIDER`].
    pub class_name: String,
    /// `metricsProvider.httpHost` (Prometheus), default `0.0.0.0`.
    pub http_host: String,
    /// `metricsProvider.httpPort` (Prometheus), default 7000.
    pub http_port: u16,
    /// `metricsProvider.exportJvmInfo` (Prometheus), default true.
    pub export_jvm_info: bool,
    /// Any other `metricsProvider.X=value`, keyed by `X`, as ZooKeeper hands them to the provider.
    pub other: BTreeMap<String, String>,
}

impl Default for MetricsProviderConfig {
    fn default() -> Self {
        MetricsProviderConfig {
            class_name: DEFAULT_METRICS_PROVIDER.to_string(),
            http_host: "0.0.0.0".to_string(),
            http_port: 7000,
            export_jvm_info: true,
            other: BTreeMap::new(),
        }
    }
}

/// A parsed and validated `zoo.cfg`. Every field carries ZooKeeper 3.8's default when its key
/// is absent; the key (and its system property, if different) is named on each field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    // --- basics --------------------------------------------------------------------------------
    /// `tickTime`, milliseconds. Required, greater than 0.
    pub tick_time: u32,
    /// `dataDir`. Required.
    pub data_dir: String,
    /// `dataLogDir`; `dataDir` when absent.
    pub data_log_dir: String,
    /// `clientPort`; `None` when absent or 0 (a server line's `;port` may supply it).
    pub client_port: Option<u16>,
    /// `clientPortAddress`; `None` listens on all interfaces.
    pub client_port_address: Option<String>,
    /// `secureClientPort`: the TLS client port.
    pub secure_client_port: Option<u16>,
    /// `secureClientPortAddress`; `None` listens on all interfaces.
    pub secure_client_port_address: Option<String>,
    /// `client.portUnification` (`zookeeper.client.portUnification`): the client port takes
    /// TLS and plain connections alike. Default false.
    pub client_port_unification: bool,
    /// `serverCnxnFactory` (`zookeeper.serverCnxnFactory`), as written: this server has one
    /// connection layer, which serves TLS whichever factory is named.
    pub server_cnxn_factory: Option<String>,
    /// `ssl.*`: TLS on the client ports.
    pub tls: security::TlsSettings,
    /// `ssl.quorum.*`: TLS between servers.
    pub quorum_tls: security::TlsSettings,
    /// `peerAddressCheck` (this server's own, default true): a server that connects to the
    /// election or quorum port must come from an address its `server.N` line names.
    pub peer_address_check: bool,
    /// `sslQuorum`, default false: connect to other servers with TLS.
    pub ssl_quorum: bool,
    /// `portUnification`, default false: the election and quorum ports take TLS and plain.
    pub port_unification: bool,
    /// `client.certReload` (`zookeeper.client.certReload`, ZooKeeper 3.8.1): load the client
    /// port's stores again when their files change. Default false.
    pub client_cert_reload: bool,
    /// `sslQuorumReloadCertFiles`, default false.
    pub ssl_quorum_reload_cert_files: bool,
    /// SASL, x509 and enforcement.
    pub auth: security::AuthSettings,
    /// `maxClientCnxns`: connections per client IP, 0 = unlimited. Default 60.
    pub max_client_cnxns: u32,
    /// `maxCnxns` (`zookeeper.maxCnxns`): connections in total, 0 = unlimited. Default 0.
    pub max_cnxns: u32,
    /// `clientPortListenBacklog`; `None` (ZooKeeper's -1) leaves the OS default.
    pub client_port_listen_backlog: Option<u32>,
    /// `minSessionTimeout`, ms. Default 2 × tickTime.
    pub min_session_timeout: u32,
    /// `maxSessionTimeout`, ms. Default 20 × tickTime.
    pub max_session_timeout: u32,
    /// `localSessionsEnabled`, default false.
    pub local_sessions_enabled: bool,
    /// `localSessionsUpgradingEnabled`, default false.
    pub local_sessions_upgrading_enabled: bool,

    // --- request pipeline and persistence -------------------------------------------------------
    /// `globalOutstandingLimit` (`zookeeper.globalOutstandingLimit`), default 1000.
    pub global_outstanding_limit: u32,
    /// `snapCount` (`zookeeper.snapCount`), default 100000; values below 2 become 2.
    pub snap_count: u32,
    /// `snapSizeLimitInKb`; default 4194304 (4 GB); `None` when set to 0 or less (disabled).
    pub snap_size_limit_kb: Option<u64>,
    /// `txnLogSizeLimitInKb`; `None` (the default, -1) means no limit.
    pub txn_log_size_limit_kb: Option<u64>,
    /// `preAllocSize` (`zookeeper.preAllocSize`), **kilobytes**, default 65536 (64 MB). 0 = off.
    pub pre_alloc_size_kb: u64,
    /// `commitLogCount` (`zookeeper.commitLogCount`): committed proposals kept in memory for DIFF
    /// syncs. Default 500; smaller values are raised to 500.
    pub commit_log_count: u32,
    /// `forceSync` (`zookeeper.forceSync`, yes/no): fsync the transaction log. Default yes.
    pub force_sync: bool,
    /// `fsync.warningthresholdms` (`zookeeper.fsync.warningthresholdms`), default 1000.
    pub fsync_warning_threshold_ms: u64,
    /// `snapshot.trust.empty` (`zookeeper.snapshot.trust.empty`), default false.
    pub snapshot_trust_empty: bool,
    /// `autopurge.snapRetainCount`, default 3, minimum 3.
    pub autopurge_snap_retain_count: u32,
    /// `autopurge.purgeInterval`, **hours**; 0 (default) = no automatic purge.
    pub autopurge_purge_interval_hours: u32,
    /// `traceFile`: accepted for old configurations, has no effect.
    pub trace_file: Option<String>,

    // --- ensemble ------------------------------------------------------------------------------
    /// `server.N` lines, by id.
    pub servers: BTreeMap<ServerId, ServerSpec>,
    /// `group.x=id:id:...`, by group id. Non-empty means a hierarchical quorum.
    pub groups: BTreeMap<u64, Vec<ServerId>>,
    /// Vote weights of the participants when the quorum is hierarchical (`weight.x`, 1 when not
    /// given). Empty for a plain majority quorum.
    pub weights: BTreeMap<ServerId, u64>,
    /// `initLimit`, ticks. 0 = not set, which is an error when several servers are listed.
    pub init_limit: u32,
    /// `syncLimit`, ticks. 0 = not set, which is an error when several servers are listed.
    pub sync_limit: u32,
    /// `connectToLearnerMasterLimit`, ticks; 0 (default) means "use initLimit".
    pub connect_to_learner_master_limit: u32,
    /// `electionAlg`: only 3 (FastLeaderElection) exists.
    pub election_alg: u32,
    /// `electionPortBindRetry` (`zookeeper.electionPortBindRetry`), default 3, 0 = forever.
    pub election_port_bind_retry: u32,
    /// `cnxTimeout` (`zookeeper.cnxTimeout`), ms to open an election connection. Default 5000.
    pub cnx_timeout_ms: u32,
    /// `quorumListenOnAllIPs`, default false.
    pub quorum_listen_on_all_ips: bool,
    /// `standaloneEnabled`, default true.
    pub standalone_enabled: bool,
    /// `reconfigEnabled`, default false.
    pub reconfig_enabled: bool,
    /// `leaderServes` (`zookeeper.leaderServes`, yes/no), default yes.
    pub leader_serves: bool,
    /// `syncEnabled` (`zookeeper.observer.syncEnabled`): observers log and snapshot. Default true.
    pub sync_enabled: bool,
    /// `peerType`; the server's own `server.N` line wins when they disagree. Default participant.
    pub peer_type: PeerRole,
    /// `multiAddress.enabled`, default false: `|`-separated addresses in `server.N` need it.
    pub multi_address_enabled: bool,
    /// `multiAddress.reachabilityCheckEnabled`, default true.
    pub multi_address_reachability_check_enabled: bool,
    /// `multiAddress.reachabilityCheckTimeoutMs`, default 1000.
    pub multi_address_reachability_check_timeout_ms: u32,
    /// `observerMasterPort`: accepted, not supported (a warning says so).
    pub observer_master_port: Option<u16>,
    /// `dynamicConfigFile`: accepted, not read (a warning says so).
    pub dynamic_config_file: Option<String>,

    // --- data, ACLs, special nodes -------------------------------------------------------------
    /// `jute.maxbuffer`, bytes, default 0xfffff.
    pub jute_max_buffer: u32,
    /// `skipACL` (`zookeeper.skipACL`, yes/no), default no.
    pub skip_acl: bool,
    /// `DigestAuthenticationProvider.superDigest` (`zookeeper.DigestAuthenticationProvider.superDigest`):
    /// `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// `DigestAuthenticationProvider.enabled`, default true.
    pub digest_auth_enabled: bool,
    /// `digest.enabled` (`zookeeper.digest.enabled`): data tree digests. Default true.
    pub digest_enabled: bool,
    /// `enforceQuota` (`zookeeper.enforceQuota`), default false.
    pub enforce_quota: bool,
    /// `extendedTypesEnabled` (`zookeeper.extendedTypesEnabled`): TTL nodes. Default false.
    pub extended_types_enabled: bool,
    /// `emulate353TTLNodes` (`zookeeper.emulate353TTLNodes`), default false.
    pub emulate_353_ttl_nodes: bool,
    /// `readonlymode.enabled`, default false.
    pub read_only_mode_enabled: bool,
    /// `znode.container.checkIntervalMs`, default 60000.
    pub container_check_interval_ms: u32,
    /// `znode.container.maxPerMinute`, default 10000.
    pub container_max_per_minute: u32,
    /// `znode.container.maxNeverUsedIntervalMs`, default 0 (never-used containers are kept).
    pub container_max_never_used_interval_ms: u64,

    // --- operations ----------------------------------------------------------------------------
    /// The four-letter words that answer: `4lw.commands.whitelist` (`*` = all) plus `srvr`
    /// always, plus `isro` when read-only mode is enabled — ZooKeeper's rule. Default `{srvr}`.
    pub four_letter_words: BTreeSet<String>,
    pub admin: AdminServerConfig,
    pub metrics: MetricsProviderConfig,
    /// `nio.numSelectorThreads` (`zookeeper.nio.numSelectorThreads`); `None` = derived from cores.
    pub nio_num_selector_threads: Option<u32>,
    /// `nio.numWorkerThreads` (`zookeeper.nio.numWorkerThreads`); `None` = derived from cores.
    pub nio_num_worker_threads: Option<u32>,
    /// `commitProcessor.numWorkerThreads`; `None` = number of cores.
    pub commit_processor_num_worker_threads: Option<u32>,
    /// Keys this server does not interpret (unknown, or ZooKeeper settings it does not support),
    /// as written, with their values. Each produced a warning.
    pub passthrough: BTreeMap<String, String>,
}

/// Something in the file that does not stop the server but should be seen.
/// Displays as `zoo.cfg:12: unknown key 'foo' ignored` (without `:line` when `line` is 0, for
/// the few warnings about something absent).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

/// Why a configuration is refused. Displays as `zoo.cfg:7: tickTime: 'abc' is not a number`;
/// the line is left out for something missing (`zoo.cfg: dataDir: is not set`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_error(self))]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

fn render_error(e: &ConfigError) -> String {
    let mut s = e.file.clone();
    if let Some(line) = e.line {
        s.push_str(&format!(":{line}"));
    }
    if let Some(key) = &e.key {
        s.push_str(&format!(": {key}"));
    }
    s.push_str(&format!(": {}", e.message));
    s
}

// ---------------------------------------------------------------------------------------------
// Config methods
// ---------------------------------------------------------------------------------------------

impl Config {
    /// Every setting at ZooKeeper's default, with this data directory and tick.
    fn with_defaults(data_dir: &str, tick_time: u32) -> Config {
        Config {
            tick_time,
            data_dir: data_dir.to_string(),
            data_log_dir: data_dir.to_string(),
            client_port: None,
            client_port_address: None,
            secure_client_port: None,
            secure_client_port_address: None,
            client_port_unification: false,
            server_cnxn_factory: None,
            tls: security::TlsSettings::default(),
            quorum_tls: security::TlsSettings::default(),
            ssl_quorum: false,
            peer_address_check: true,
            port_unification: false,
            ssl_quorum_reload_cert_files: false,
            client_cert_reload: false,
            auth: security::AuthSettings::with_defaults(),
            max_client_cnxns: 60,
            max_cnxns: 0,
            client_port_listen_backlog: None,
            min_session_timeout: tick_time.saturating_mul(2),
            max_session_timeout: tick_time.saturating_mul(20),
            local_sessions_enabled: false,
            local_sessions_upgrading_enabled: false,
            global_outstanding_limit: 1000,
            snap_count: 100_000,
            snap_size_limit_kb: Some(4_194_304),
            txn_log_size_limit_kb: None,
            pre_alloc_size_kb: 65_536,
            commit_log_count: MIN_COMMIT_LOG_COUNT,
            force_sync: true,
            fsync_warning_threshold_ms: 1000,
            snapshot_trust_empty: false,
            autopurge_snap_retain_count: MIN_SNAP_RETAIN_COUNT,
            autopurge_purge_interval_hours: 0,
            trace_file: None,
            servers: BTreeMap::new(),
            groups: BTreeMap::new(),
            weights: BTreeMap::new(),
            init_limit: 0,
            sync_limit: 0,
            connect_to_learner_master_limit: 0,
            election_alg: 3,
            election_port_bind_retry: 3,
            cnx_timeout_ms: 5000,
            quorum_listen_on_all_ips: false,
            standalone_enabled: true,
            reconfig_enabled: false,
            leader_serves: true,
            sync_enabled: true,
            peer_type: PeerRole::Participant,
            multi_address_enabled: false,
            multi_address_reachability_check_enabled: true,
            multi_address_reachability_check_timeout_ms: 1000,
            observer_master_port: None,
            dynamic_config_file: None,
            jute_max_buffer: DEFAULT_JUTE_MAX_BUFFER,
            skip_acl: false,
            super_digest: None,
            digest_auth_enabled: true,
            digest_enabled: true,
            enforce_quota: false,
            extended_types_enabled: false,
            emulate_353_ttl_nodes: false,
            read_only_mode_enabled: false,
            container_check_interval_ms: 60_000,
            container_max_per_minute: 10_000,
            container_max_never_used_interval_ms: 0,
            four_letter_words: BTreeSet::from(["srvr".to_string()]),
            admin: AdminServerConfig::default(),
            metrics: MetricsProviderConfig::default(),
            nio_num_selector_threads: None,
            nio_num_worker_threads: None,
            commit_processor_num_worker_threads: None,
            passthrough: BTreeMap::new(),
        }
    }

    /// A single server for development: tickTime 2000, clients on 127.0.0.1:2181, everything
    /// else at ZooKeeper's defaults.
    pub fn standalone_default(data_dir: &str) -> Config {
        let mut c = Config::with_defaults(data_dir, 2000);
        c.client_port = Some(2181);
        c.client_port_address = Some("127.0.0.1".to_string());
        c
    }

    /// ZooKeeper's `!isDistributed()`: no participant is listed, or just one and
    /// `standaloneEnabled` is true (the lone `server.N` line is then ignored).
    pub fn is_standalone(&self) -> bool {
        self.standalone_enabled && self.participants().count() <= 1
    }

    /// Whether `group.x` lines define a hierarchical quorum (otherwise: simple majority).
    pub fn is_hierarchical(&self) -> bool {
        !self.groups.is_empty()
    }

    /// The voting members, by id.
    pub fn participants(&self) -> impl Iterator<Item = &ServerSpec> + '_ {
        self.servers
            .values()
            .filter(|s| s.role == PeerRole::Participant)
    }

    /// The observers, by id.
    pub fn observers(&self) -> impl Iterator<Item = &ServerSpec> + '_ {
        self.servers
            .values()
            .filter(|s| s.role == PeerRole::Observer)
    }

    /// A server's vote weight: 1 for every participant of a majority quorum, its `weight.x`
    /// (default 1) in a hierarchical one, 0 for observers and servers not listed.
    pub fn weight(&self, id: ServerId) -> u64 {
        match self.servers.get(&id) {
            Some(s) if s.is_participant() => {
                if self.is_hierarchical() {
                    self.weights.get(&id).copied().unwrap_or(1)
                } else {
                    1
                }
            }
            _ => 0,
        }
    }

    /// Whether the four-letter word `cmd` may run (`4lw.commands.whitelist`).
    pub fn four_letter_allowed(&self, cmd: &str) -> bool {
        self.four_letter_words.contains(cmd)
    }

    /// `connectToLearnerMasterLimit`, or `initLimit` when it is not set, in ticks.
    pub fn connect_to_learner_master_ticks(&self) -> u32 {
        if self.connect_to_learner_master_limit > 0 {
            self.connect_to_learner_master_limit
        } else {
            self.init_limit
        }
    }

    /// This server's role: its own `server.N` line decides, `peerType` only when it has none.
    pub fn role_of(&self, my_id: ServerId) -> PeerRole {
        self.servers.get(&my_id).map_or(self.peer_type, |s| s.role)
    }

    /// The checks ZooKeeper makes once it has read `myid`: in an ensemble the id must have a
    /// `server.N` line, and with TTL nodes (`extendedTypesEnabled`) it must be at most 254
    /// (127 with `emulate353TTLNodes`).
    pub fn check_my_id(&self, my_id: ServerId) -> Result<(), String> {
        if self.extended_types_enabled {
            let max = if self.emulate_353_ttl_nodes {
                MAX_EMULATE_353_SERVER_ID
            } else {
                MAX_EXTENDED_SERVER_ID
            };
            if my_id.0 > max {
                return Err(format!(
                    "extendedTypesEnabled is true but server id {my_id} is larger than {max}"
                ));
            }
        }
        if !self.is_standalone() && !self.servers.contains_key(&my_id) {
            let ids: Vec<String> = self.servers.keys().map(|id| id.to_string()).collect();
            return Err(format!(
                "my id {my_id} is not in the server list (server.{})",
                ids.join(", server.")
            ));
        }
        Ok(())
    }

    /// Where this server listens for clients, as `(host, port)` with `0.0.0.0` for all
    /// interfaces, or `None` if nothing sets a client port. Follows `setupClientPort`: the
    /// `;[host:]port` of the server's own `server.N` line wins, and contradicting
    /// `clientPort`/`clientPortAddress` is an error.
    pub fn client_address(&self, my_id: Option<ServerId>) -> Result<Option<(String, u16)>, String> {
        let from_line = my_id
            .and_then(|id| self.servers.get(&id))
            .and_then(|s| s.client.clone())
            .map(|(host, port)| (host.unwrap_or_else(|| "0.0.0.0".to_string()), port));
        let from_static = self.client_port.map(|port| {
            let host = self
                .client_port_address
                .clone()
                .unwrap_or_else(|| "0.0.0.0".to_string());
            (host, port)
        });
        match (from_static, from_line) {
            (Some((s_host, s_port)), Some((l_host, l_port))) => {
                let conflict = if is_wildcard(&s_host) {
                    s_port != l_port
                } else {
                    s_host != l_host || s_port != l_port
                };
                if conflict {
                    let id = my_id.map(|i| i.0).unwrap_or_default();
                    return Err(format!(
                        "client address {}:{s_port} from clientPort/clientPortAddress differs from \
                         {}:{l_port} in server.{id}",
                        bracketed(&s_host),
                        bracketed(&l_host)
                    ));
                }
                Ok(Some((l_host, l_port)))
            }
            (None, line) => Ok(line),
            (stat, None) => Ok(stat),
        }
    }

    /// The ensemble as ZooKeeper writes it into `/zookeeper/config` (`QuorumVerifier.toString`):
    /// `server.N=...` lines, then `group.x`/`weight.x` for a hierarchical quorum, then
    /// `version=<hex>`.
    pub fn quorum_config_text(&self, version: u64) -> String {
        let mut out = String::new();
        for s in self.servers.values() {
            out.push_str(&format!("server.{}={s}\n", s.id));
        }
        if self.is_hierarchical() {
            for (gid, members) in &self.groups {
                let ids: Vec<String> = members.iter().map(|m| m.to_string()).collect();
                out.push_str(&format!("group.{gid}={}\n", ids.join(":")));
            }
            for (sid, w) in &self.weights {
                out.push_str(&format!("weight.{sid}={w}\n"));
            }
        }
        out.push_str(&format!("version={version:x}"));
        out
    }
}

fn is_wildcard(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

mod java;
mod keys;
mod parser;
mod properties;
pub mod security;
mod servers;
#[cfg(test)]
mod tests;

use java::*;
use keys::*;
pub use parser::parse;
use properties::*;
use servers::*;
