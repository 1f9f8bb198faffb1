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
    /// `secureClientPort`: accepted, but TLS is not supported (a warning says so).
    pub secure_client_port: Option<u16>,
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

// ---------------------------------------------------------------------------------------------
// java.util.Properties
// ---------------------------------------------------------------------------------------------

/// One `key=value` as `java.util.Properties` reads it, trimmed as ZooKeeper trims it.
#[derive(Clone, Debug)]
struct Entry {
    /// The line the (possibly continued) logical line starts on, from 1.
    line: usize,
    key: String,
    value: String,
    /// A backslash before an ordinary character was dropped (`C:\zk` reads as `C:zk`).
    dropped_backslash: bool,
}

/// Properties' whitespace: space, tab, form feed.
fn is_prop_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Java's `String.trim`: everything up to U+0020 goes, at both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Lines ended by `\n`, `\r` or `\r\n`.
fn natural_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                i += 1;
                if bytes.get(i) == Some(&b'\n') {
                    i += 1;
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// `Properties.load`: logical lines, comments, continuations, key/value split and escapes.
/// Err is `(line, message)` for a malformed `\uXXXX`, the one thing `load` itself refuses.
fn load_properties(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let lines = natural_lines(text);
    let mut entries = Vec::new();
    let mut next = 0;
    while next < lines.len() {
        let start_line = next + 1;
        let first = lines[next].trim_start_matches(is_prop_space);
        next += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut piece = first;
        loop {
            let trailing = piece.chars().rev().take_while(|&c| c == '\\').count();
            if trailing % 2 == 1 {
                logical.push_str(&piece[..piece.len() - 1]);
                match lines.get(next) {
                    Some(l) => {
                        piece = l.trim_start_matches(is_prop_space);
                        next += 1;
                    }
                    None => break,
                }
            } else {
                logical.push_str(piece);
                break;
            }
        }
        entries.push(split_entry(&logical, start_line)?);
    }
    Ok(entries)
}

/// The key ends at the first unescaped `=`, `:` or whitespace; then whitespace and at most one
/// `=`/`:` are skipped; the rest is the value.
fn split_entry(logical: &str, line: usize) -> Result<Entry, (usize, String)> {
    let chars: Vec<char> = logical.chars().collect();
    let limit = chars.len();
    let mut key_len = 0;
    let mut value_start = limit;
    let mut has_separator = false;
    let mut escaped = false;
    while key_len < limit {
        let c = chars[key_len];
        if !escaped && (c == '=' || c == ':') {
            value_start = key_len + 1;
            has_separator = true;
            break;
        }
        if !escaped && is_prop_space(c) {
            value_start = key_len + 1;
            break;
        }
        escaped = c == '\\' && !escaped;
        key_len += 1;
    }
    while value_start < limit {
        let c = chars[value_start];
        if !is_prop_space(c) {
            if !has_separator && (c == '=' || c == ':') {
                has_separator = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    let (key, dropped_in_key) = unescape(&chars[..key_len], line)?;
    let (value, dropped_in_value) = unescape(&chars[value_start..], line)?;
    Ok(Entry {
        line,
        key: java_trim(&key).to_string(),
        value: java_trim(&value).to_string(),
        dropped_backslash: dropped_in_key || dropped_in_value,
    })
}

/// Properties' `loadConvert`: `\t \n \r \f`, `\uXXXX`, and `\x` → `x` for anything else.
fn unescape(chars: &[char], line: usize) -> Result<(String, bool), (usize, String)> {
    let mut out = String::with_capacity(chars.len());
    let mut dropped = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = chars.get(i) else { break };
        i += 1;
        match e {
            'u' => {
                let unit = hex4(chars, i).ok_or((line, "malformed \\uxxxx escape".to_string()))?;
                i += 4;
                let mut code = unit;
                if (0xD800..0xDC00).contains(&unit)
                    && chars.get(i) == Some(&'\\')
                    && chars.get(i + 1) == Some(&'u')
                {
                    if let Some(low) = hex4(chars, i + 2).filter(|l| (0xDC00..0xE000).contains(l)) {
                        code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        i += 6;
                    }
                }
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\x0c'),
            other => {
                if !matches!(other, '\\' | '=' | ':' | ' ' | '#' | '!' | '"' | '\'') {
                    dropped = true;
                }
                out.push(other);
            }
        }
    }
    Ok((out, dropped))
}

fn hex4(chars: &[char], at: usize) -> Option<u32> {
    let mut v = 0u32;
    for k in 0..4 {
        v = v * 16 + chars.get(at + k)?.to_digit(16)?;
    }
    Some(v)
}

// ---------------------------------------------------------------------------------------------
// Java number and list parsing
// ---------------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum NumError {
    NotANumber,
    TooLarge,
}

fn split_sign(s: &str) -> (bool, &str) {
    if let Some(rest) = s.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = s.strip_prefix('+') {
        (false, rest)
    } else {
        (false, s)
    }
}

fn digits_value(digits: &str, radix: u32, negative: bool) -> Result<i64, NumError> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(NumError::NotANumber);
    }
    let mut v: i64 = 0;
    for c in digits.chars() {
        let d = i64::from(c.to_digit(radix).unwrap_or(0));
        // Accumulate negatively so that i64::MIN fits.
        v = v
            .checked_mul(i64::from(radix))
            .and_then(|v| v.checked_sub(d))
            .ok_or(NumError::TooLarge)?;
    }
    if negative {
        Ok(v)
    } else {
        v.checked_neg().ok_or(NumError::TooLarge)
    }
}

/// `Integer.parseInt` / `Long.parseLong`: optional sign, decimal digits.
fn java_parse_long(s: &str) -> Result<i64, NumError> {
    let (negative, digits) = split_sign(s);
    digits_value(digits, 10, negative)
}

/// `Integer.decode` / `Long.decode` (behind `Integer.getInteger`): `0x`, `0X` or `#` for hex,
/// a leading `0` for octal. The flag says octal was used.
fn java_decode(s: &str) -> Result<(i64, bool), NumError> {
    let (negative, rest) = split_sign(s);
    let hex = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'));
    if let Some(h) = hex {
        return digits_value(h, 16, negative).map(|v| (v, false));
    }
    if rest.len() > 1 && rest.starts_with('0') {
        return digits_value(&rest[1..], 8, negative).map(|v| (v, true));
    }
    digits_value(rest, 10, negative).map(|v| (v, false))
}

/// Java's `String.split(regex)` for one literal character: trailing empty strings are dropped,
/// and an empty input gives one empty string.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    if s.is_empty() {
        return vec![""];
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

/// `ConfigUtils.getHostAndPort`: `host:a:b...` split on `:`, or `[v6]:a:b...` with the
/// bracketed host kept whole.
fn host_and_port(s: &str) -> Result<Vec<String>, String> {
    if let Some(inner) = s.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err(format!("'{s}' starts with '[' but has no matching ']'"));
        };
        let host = &inner[..close];
        let after = &inner[close + 1..];
        let Some(ports) = after.strip_prefix(':') else {
            return Err(format!("'{s}' has no ':port' after ']'"));
        };
        if ports.is_empty() {
            return Err(format!("'{s}' has no port after the colon"));
        }
        let mut parts = vec![host.to_string()];
        parts.extend(java_split(ports, ':').into_iter().map(str::to_string));
        Ok(parts)
    } else {
        Ok(java_split(s, ':').into_iter().map(str::to_string).collect())
    }
}

fn parse_port(what: &str, s: &str) -> Result<u16, String> {
    let s = java_trim(s);
    match java_parse_long(s) {
        Ok(p) if (1..=65535).contains(&p) => Ok(p as u16),
        Ok(_) | Err(NumError::TooLarge) => Err(format!(
            "{what} '{s}' is out of range: must be between 1 and 65535"
        )),
        Err(NumError::NotANumber) => Err(format!("{what} '{s}' is not a number")),
    }
}

fn parse_role(s: &str) -> Result<PeerRole, String> {
    match java_trim(s).to_ascii_lowercase().as_str() {
        "participant" => Ok(PeerRole::Participant),
        "observer" => Ok(PeerRole::Observer),
        _ => Err(format!(
            "unknown role '{}': use participant or observer",
            java_trim(s)
        )),
    }
}

/// `QuorumServer`'s address string. Multiple addresses are allowed here; whether
/// `multiAddress.enabled` permits them is checked once every key is known.
fn parse_server_value(id: ServerId, value: &str) -> Result<ServerSpec, String> {
    let form =
        "expected host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]";
    let server_client = java_split(value, ';');
    if server_client.is_empty() || server_client.len() > 2 {
        return Err(format!("'{value}' is malformed: {form}"));
    }
    let client = match server_client.get(1) {
        None => None,
        Some(client_part) => {
            let parts = host_and_port(java_trim(client_part))?;
            match parts.as_slice() {
                [port] => Some((None, parse_port("client port", port)?)),
                [host, port] => {
                    let host = java_trim(host);
                    if host.is_empty() {
                        return Err(format!("client address '{client_part}' has an empty host"));
                    }
                    Some((Some(host.to_string()), parse_port("client port", port)?))
                }
                _ => {
                    return Err(format!(
                        "client address '{client_part}' is malformed: expected [host:]port \
                         (IPv6 hosts in brackets)"
                    ))
                }
            }
        }
    };
    let mut addresses = Vec::new();
    let mut role: Option<PeerRole> = None;
    for address in java_split(server_client[0], '|') {
        let parts = host_and_port(java_trim(address))?;
        match parts.len() {
            0 | 1 => {
                return Err(format!(
                    "'{address}' is missing the quorum and election ports: {form}"
                ))
            }
            2 => return Err(format!("'{address}' is missing the election port: {form}")),
            3 | 4 => {}
            _ => {
                return Err(format!(
                    "'{address}' has too many ':'-separated fields (write IPv6 hosts in brackets, \
                     e.g. [::1]:2888:3888): {form}"
                ))
            }
        }
        let host = java_trim(&parts[0]);
        if host.is_empty() {
            return Err(format!("'{address}' has an empty host"));
        }
        let quorum = parse_port("quorum port", &parts[1])?;
        let election = parse_port("election port", &parts[2])?;
        if quorum == election {
            return Err(format!(
                "quorum port and election port must be different (both are {quorum})"
            ));
        }
        if let Some(r) = parts.get(3) {
            let r = parse_role(r)?;
            if role.is_some_and(|prev| prev != r) {
                return Err(format!(
                    "all addresses of server.{id} must have the same role, not both {} and {r}",
                    role.unwrap_or(r)
                ));
            }
            role = Some(r);
        }
        addresses.push((host.to_string(), quorum, election));
    }
    if addresses.is_empty() {
        return Err(format!("'{value}' is malformed: {form}"));
    }
    Ok(ServerSpec {
        id,
        addresses,
        role: role.unwrap_or(PeerRole::Participant),
        client,
    })
}

/// A non-negative id, as `Long.parseLong` reads it (`server.N`, `group.x`, `weight.x`, members).
fn parse_id(s: &str) -> Option<u64> {
    java_parse_long(java_trim(s))
        .ok()
        .and_then(|v| u64::try_from(v).ok())
}

// ---------------------------------------------------------------------------------------------
// Key tables
// ---------------------------------------------------------------------------------------------

/// Keys ZooKeeper reads as Java system properties (most of them `zookeeper.<key>`): in
/// `zoo.cfg` they may be written with or without the `zookeeper.` prefix.
const SYSTEM_PROPERTY_KEYS: &[&str] = &[
    "4lw.commands.whitelist",
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
    "admin.idleTimeout",
    "admin.httpVersion",
    "admin.portUnification",
    "admin.forceHttps",
    "forceSync",
    "jute.maxbuffer",
    "skipACL",
    "DigestAuthenticationProvider.superDigest",
    "DigestAuthenticationProvider.enabled",
    "DigestAuthenticationProvider.digestAlg",
    "readonlymode.enabled",
    "extendedTypesEnabled",
    "emulate353TTLNodes",
    "znode.container.checkIntervalMs",
    "znode.container.maxPerMinute",
    "znode.container.maxNeverUsedIntervalMs",
    "leaderServes",
    "cnxTimeout",
    "electionPortBindRetry",
    "snapCount",
    "preAllocSize",
    "globalOutstandingLimit",
    "commitLogCount",
    "snapshot.trust.empty",
    "fsync.warningthresholdms",
    "nio.numSelectorThreads",
    "nio.numWorkerThreads",
    "commitProcessor.numWorkerThreads",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "maxCnxns",
    "digest.enabled",
    "enforceQuota",
    "traceFile",
    "connectToLearnerMasterLimit",
    "multiAddress.enabled",
    "multiAddress.reachabilityCheckEnabled",
    "multiAddress.reachabilityCheckTimeoutMs",
];

/// ZooKeeper settings this server accepts but does not act on, by prefix, with the reason.
const UNSUPPORTED_PREFIXES: &[(&str, &str)] = &[
    ("ssl.", "TLS is not supported by this server"),
    (
        "quorum.auth.",
        "quorum SASL authentication is not supported by this server",
    ),
    (
        "authProvider.",
        "pluggable authentication providers are not supported by this server",
    ),
    ("jvm.pause.", "there is no JVM to monitor"),
    ("kerberos.", "Kerberos is not supported by this server"),
    ("netty.", "this server does not use Netty"),
    (
        "fastleader.",
        "this setting is not supported by this server",
    ),
    (
        "connection_throttle_",
        "connection throttling is not supported by this server",
    ),
    (
        "request_throttle",
        "request throttling is not supported by this server",
    ),
    ("audit.", "audit logging is not supported by this server"),
    ("leader.", "this setting is not supported by this server"),
    ("learner.", "this setting is not supported by this server"),
    ("observer.", "this setting is not supported by this server"),
    ("superUser", "this setting is not supported by this server"),
];

/// ZooKeeper settings this server accepts but does not act on, by exact name.
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    (
        "secureClientPortAddress",
        "TLS is not supported by this server",
    ),
    ("sslQuorum", "TLS is not supported by this server"),
    (
        "sslQuorumReloadCertFiles",
        "TLS is not supported by this server",
    ),
    ("portUnification", "TLS is not supported by this server"),
    (
        "client.portUnification",
        "TLS is not supported by this server",
    ),
    (
        "admin.portUnification",
        "TLS is not supported by this server",
    ),
    ("admin.forceHttps", "TLS is not supported by this server"),
    (
        "admin.httpVersion",
        "this setting is not supported by this server",
    ),
    (
        "X509AuthenticationProvider.superUser",
        "TLS is not supported by this server",
    ),
    (
        "sessionRequireClientSASLAuth",
        "SASL is not supported by this server",
    ),
    (
        "enforce.auth.enabled",
        "this setting is not supported by this server",
    ),
    (
        "enforce.auth.schemes",
        "this setting is not supported by this server",
    ),
    (
        "ensembleAuthName",
        "this setting is not supported by this server",
    ),
    (
        "serverCnxnFactory",
        "this setting is not supported by this server",
    ),
    (
        "quorum.cnxn.threads.size",
        "this setting is not supported by this server",
    ),
    (
        "quorumCnxnTimeoutMs",
        "this setting is not supported by this server",
    ),
    ("oraclePath", "this setting is not supported by this server"),
    (
        "maxResponseCacheSize",
        "this setting is not supported by this server",
    ),
    (
        "maxGetChildrenResponseCacheSize",
        "this setting is not supported by this server",
    ),
    (
        "watchManagerName",
        "this setting is not supported by this server",
    ),
    (
        "watcherCleanThreadsNum",
        "this setting is not supported by this server",
    ),
    (
        "watcherCleanThreshold",
        "this setting is not supported by this server",
    ),
    (
        "watcherCleanIntervalInSeconds",
        "this setting is not supported by this server",
    ),
    (
        "maxInProcessingDeadWatchers",
        "this setting is not supported by this server",
    ),
    (
        "bitHashCacheSize",
        "this setting is not supported by this server",
    ),
    ("flushDelay", "this setting is not supported by this server"),
    (
        "maxWriteQueuePollTime",
        "this setting is not supported by this server",
    ),
    (
        "maxBatchSize",
        "this setting is not supported by this server",
    ),
    (
        "enableEagerACLCheck",
        "this setting is not supported by this server",
    ),
    (
        "snapshot.compression.method",
        "snapshot compression is not supported by this server",
    ),
    (
        "snapshotSizeFactor",
        "this setting is not supported by this server",
    ),
    (
        "largeRequestMaxBytes",
        "this setting is not supported by this server",
    ),
    (
        "largeRequestThreshold",
        "this setting is not supported by this server",
    ),
    (
        "throttled_op_wait_time",
        "this setting is not supported by this server",
    ),
    (
        "forward_learner_requests_to_commit_processor_disabled",
        "this setting is not supported by this server",
    ),
    (
        "tcpKeepAlive",
        "this setting is not supported by this server",
    ),
    (
        "clientTcpKeepAlive",
        "this setting is not supported by this server",
    ),
    (
        "closeSessionTxn.enabled",
        "this setting is not supported by this server",
    ),
    (
        "clientCnxnSocket",
        "this setting is not supported by this server",
    ),
];

/// The name a key is known by: `zookeeper.X` → `X` for system-property keys,
/// `observer.syncEnabled` → `syncEnabled`, `server.01` → `server.1` (and so for group/weight).
fn canonical_key(key: &str) -> String {
    if matches!(
        key,
        "observer.syncEnabled" | "zookeeper.observer.syncEnabled"
    ) {
        return "syncEnabled".to_string();
    }
    if let Some(rest) = key.strip_prefix("zookeeper.") {
        if SYSTEM_PROPERTY_KEYS.contains(&rest) {
            return rest.to_string();
        }
    }
    for prefix in ["server.", "group.", "weight."] {
        if let Some(id) = key.strip_prefix(prefix).and_then(parse_id) {
            return format!("{prefix}{id}");
        }
    }
    key.to_string()
}

/// Why a known-but-unsupported key is ignored, or `None` for a key ZooKeeper does not know.
fn unsupported_reason(key: &str) -> Option<&'static str> {
    let name = key.strip_prefix("zookeeper.").unwrap_or(key);
    UNSUPPORTED_KEYS
        .iter()
        .find(|(k, _)| *k == name)
        .or_else(|| {
            UNSUPPORTED_PREFIXES
                .iter()
                .find(|(p, _)| name.starts_with(p))
        })
        .map(|(_, reason)| *reason)
}

// ---------------------------------------------------------------------------------------------
// The parser
// ---------------------------------------------------------------------------------------------

struct GroupLine {
    line: usize,
    key: String,
    gid: u64,
    members: Vec<ServerId>,
}

struct WeightLine {
    line: usize,
    key: String,
    sid: ServerId,
    weight: u64,
}

struct Parser<'a> {
    file: &'a str,
    warnings: Vec<Warning>,
    cfg: Config,
    /// Canonical key → (line, key as written) of the value in effect.
    seen: BTreeMap<String, (usize, String)>,
    tick_time: Option<i64>,
    data_dir: Option<String>,
    data_log_dir: Option<String>,
    min_session: i64,
    max_session: i64,
    secure_client_port_address: bool,
    whitelist: Option<String>,
    server_lines: BTreeMap<ServerId, (usize, String)>,
    groups: Vec<GroupLine>,
    weights: Vec<WeightLine>,
}

/// Parse and validate the text of a `zoo.cfg`. `file_name` only labels errors and warnings.
pub fn parse(text: &str, file_name: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    let entries = load_properties(text).map_err(|(line, message)| ConfigError {
        file: file_name.to_string(),
        line: Some(line),
        key: None,
        message,
    })?;
    let mut p = Parser {
        file: file_name,
        warnings: Vec::new(),
        cfg: Config::with_defaults("", 0),
        seen: BTreeMap::new(),
        tick_time: None,
        data_dir: None,
        data_log_dir: None,
        min_session: -1,
        max_session: -1,
        secure_client_port_address: false,
        whitelist: None,
        server_lines: BTreeMap::new(),
        groups: Vec::new(),
        weights: Vec::new(),
    };

    // java.util.Properties keeps the last value of a key; so do we, and say so. `server.N`
    // lines are not deduplicated here: a server id defined twice is an error, found below.
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    let mut superseded = vec![false; entries.len()];
    for (i, e) in entries.iter().enumerate() {
        if e.key.starts_with("server.") {
            continue;
        }
        if let Some(prev) = last.insert(canonical_key(&e.key), i) {
            superseded[prev] = true;
            let message = format!(
                "'{}' is set again (first on line {}); the later value is used",
                e.key, entries[prev].line
            );
            p.warn(e.line, &e.key, message);
        }
    }
    for (e, superseded) in entries.iter().zip(superseded) {
        if !superseded {
            p.apply(e)?;
        }
    }
    p.finish()
}

impl Parser<'_> {
    fn warn(&mut self, line: usize, key: &str, message: impl Into<String>) {
        self.warnings.push(Warning {
            file: self.file.to_string(),
            line,
            key: key.to_string(),
            message: message.into(),
        });
    }

    fn error(&self, e: &Entry, message: impl Into<String>) -> ConfigError {
        self.error_at(Some(e.line), &e.key, message)
    }

    fn error_at(&self, line: Option<usize>, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line,
            key: Some(key.to_string()),
            message: message.into(),
        }
    }

    /// A number read as `Integer.parseInt` (`decode == false`) or `Integer.getInteger`
    /// (`decode == true`, which also takes hex and leading-zero octal), within `min..=max`.
    fn number(&mut self, e: &Entry, decode: bool, min: i64, max: i64) -> Result<i64, ConfigError> {
        let parsed = if decode {
            java_decode(&e.value)
        } else {
            java_parse_long(&e.value).map(|v| (v, false))
        };
        let range = || {
            if min <= i64::from(i32::MIN) {
                format!("must be at most {max}")
            } else {
                format!("must be between {min} and {max}")
            }
        };
        match parsed {
            Err(NumError::NotANumber) => {
                Err(self.error(e, format!("'{}' is not a number", e.value)))
            }
            Err(NumError::TooLarge) => {
                Err(self.error(e, format!("'{}' is out of range: {}", e.value, range())))
            }
            Ok((v, _)) if v < min || v > max => {
                Err(self.error(e, format!("'{}' is out of range: {}", e.value, range())))
            }
            Ok((v, octal)) => {
                if octal && java_parse_long(&e.value) != Ok(v) {
                    let message = format!(
                        "{}: '{}' has a leading zero and is read as octal ({v}), as ZooKeeper's \
                         Integer.decode reads it",
                        e.key, e.value
                    );
                    self.warn(e.line, &e.key, message);
                }
                Ok(v)
            }
        }
    }

    /// A Java `int` setting (`Integer.parseInt`), from `min`.
    fn int(&mut self, e: &Entry, min: i64) -> Result<i64, ConfigError> {
        self.number(e, false, min, i64::from(i32::MAX))
    }

    /// A Java `int` system property (`Integer.getInteger`), from `min`.
    fn int_prop(&mut self, e: &Entry, min: i64) -> Result<i64, ConfigError> {
        self.number(e, true, min, i64::from(i32::MAX))
    }

    fn port(&mut self, e: &Entry, decode: bool) -> Result<u16, ConfigError> {
        Ok(self.number(e, decode, 0, 65535)? as u16)
    }

    /// `true`/`false`, any case (`QuorumPeerConfig.parseBoolean`).
    fn boolean(&self, e: &Entry) -> Result<bool, ConfigError> {
        if e.value.eq_ignore_ascii_case("true") {
            Ok(true)
        } else if e.value.eq_ignore_ascii_case("false") {
            Ok(false)
        } else {
            Err(self.error(
                e,
                format!("'{}' is not a boolean: use true or false", e.value),
            ))
        }
    }

    /// `yes`/`no` (`forceSync`, `skipACL`, `leaderServes`); `true`/`false` are taken with a
    /// warning, since ZooKeeper itself only looks for its one magic word.
    fn yes_no(&mut self, e: &Entry, zookeeper_checks_for: &str) -> Result<bool, ConfigError> {
        let v = e.value.to_ascii_lowercase();
        match v.as_str() {
            "yes" => Ok(true),
            "no" => Ok(false),
            "true" | "false" => {
                let message = format!(
                    "{}: ZooKeeper only recognizes 'yes' and 'no' (it tests for '{zookeeper_checks_for}'); \
                     '{}' is read as {}",
                    e.key,
                    e.value,
                    if v == "true" { "yes" } else { "no" }
                );
                self.warn(e.line, &e.key, message);
                Ok(v == "true")
            }
            _ => Err(self.error(e, format!("'{}' is not a boolean: use yes or no", e.value))),
        }
    }

    fn text(&self, e: &Entry) -> Result<String, ConfigError> {
        if e.value.is_empty() {
            Err(self.error(e, "is empty"))
        } else {
            Ok(e.value.clone())
        }
    }

    fn unsupported(&mut self, e: &Entry, reason: &str) {
        let message = format!("'{}' is ignored: {reason}", e.key);
        self.warn(e.line, &e.key, message);
        self.cfg.passthrough.insert(e.key.clone(), e.value.clone());
    }

    /// Interpret one (last-of-its-name) entry.
    fn apply(&mut self, e: &Entry) -> Result<(), ConfigError> {
        let canon = canonical_key(&e.key);
        if e.dropped_backslash {
            let message = format!(
                "{}: a backslash before an ordinary character was dropped, as java.util.Properties \
                 drops it (value read as '{}'); write '\\\\' or '/' in paths",
                e.key, e.value
            );
            self.warn(e.line, &e.key, message);
        }
        self.seen.insert(canon.clone(), (e.line, e.key.clone()));
        if e.key.starts_with("server.") {
            return self.apply_server(e);
        }
        if let Some(rest) = e.key.strip_prefix("group.") {
            return self.apply_group(e, rest);
        }
        if let Some(rest) = e.key.strip_prefix("weight.") {
            return self.apply_weight(e, rest);
        }
        match canon.as_str() {
            // --- basics
            "tickTime" => self.tick_time = Some(self.int(e, 0)?),
            "dataDir" => self.data_dir = Some(self.text(e)?),
            "dataLogDir" => self.data_log_dir = Some(self.text(e)?),
            "clientPort" => {
                let p = self.port(e, false)?;
                self.cfg.client_port = (p != 0).then_some(p);
            }
            "clientPortAddress" => self.cfg.client_port_address = Some(self.text(e)?),
            "secureClientPort" => {
                let p = self.port(e, false)?;
                self.cfg.secure_client_port = (p != 0).then_some(p);
                if p != 0 {
                    let message = format!(
                        "secureClientPort is ignored: TLS is not supported by this server, port {p} \
                         is not opened"
                    );
                    self.warn(e.line, &e.key, message);
                }
            }
            "secureClientPortAddress" => {
                self.text(e)?;
                self.secure_client_port_address = true;
                self.unsupported(e, "TLS is not supported by this server");
            }
            "observerMasterPort" => {
                let p = self.port(e, false)?;
                self.cfg.observer_master_port = (p != 0).then_some(p);
                if p != 0 {
                    self.warn(
                        e.line,
                        &e.key,
                        "observerMasterPort is ignored: observers follow the leader directly",
                    );
                }
            }
            "clientPortListenBacklog" => {
                let v = self.number(e, false, i64::from(i32::MIN), i64::from(i32::MAX))?;
                self.cfg.client_port_listen_backlog = (v > 0).then_some(v as u32);
            }
            "maxClientCnxns" => self.cfg.max_client_cnxns = self.int(e, 0)? as u32,
            "maxCnxns" => self.cfg.max_cnxns = self.int_prop(e, 0)? as u32,
            "minSessionTimeout" => self.min_session = self.int(e, -1)?,
            "maxSessionTimeout" => self.max_session = self.int(e, -1)?,
            "localSessionsEnabled" => self.cfg.local_sessions_enabled = self.boolean(e)?,
            "localSessionsUpgradingEnabled" => {
                self.cfg.local_sessions_upgrading_enabled = self.boolean(e)?
            }

            // --- pipeline and persistence
            "globalOutstandingLimit" => {
                self.cfg.global_outstanding_limit = self.int_prop(e, 0)? as u32
            }
            "snapCount" => {
                let v = self.number(e, true, i64::from(i32::MIN), i64::from(i32::MAX))?;
                if v < 2 {
                    let message = format!("snapCount {v} is raised to 2, as ZooKeeper does");
                    self.warn(e.line, &e.key, message);
                }
                self.cfg.snap_count = v.max(2) as u32;
            }
            "snapSizeLimitInKb" => {
                let v = self.number(e, true, i64::MIN, i64::MAX)?;
                self.cfg.snap_size_limit_kb = (v > 0).then_some(v as u64);
            }
            "txnLogSizeLimitInKb" => {
                let v = self.number(e, true, i64::MIN, i64::MAX)?;
                self.cfg.txn_log_size_limit_kb = (v > 0).then_some(v as u64);
            }
            "preAllocSize" => {
                self.cfg.pre_alloc_size_kb = self.number(e, false, 0, i64::MAX / 1024)? as u64
            }
            "commitLogCount" => {
                let v = self.number(e, false, i64::from(i32::MIN), i64::from(i32::MAX))?;
                if v < i64::from(MIN_COMMIT_LOG_COUNT) {
                    let message = format!(
                        "commitLogCount {v} is raised to the minimum of {MIN_COMMIT_LOG_COUNT}, as \
                         ZooKeeper does"
                    );
                    self.warn(e.line, &e.key, message);
                }
                self.cfg.commit_log_count = v.max(i64::from(MIN_COMMIT_LOG_COUNT)) as u32;
            }
            "forceSync" => self.cfg.force_sync = self.yes_no(e, "no")?,
            "fsync.warningthresholdms" => {
                self.cfg.fsync_warning_threshold_ms = self.number(e, true, 0, i64::MAX)? as u64
            }
            "snapshot.trust.empty" => self.cfg.snapshot_trust_empty = self.boolean(e)?,
            "autopurge.snapRetainCount" => {
                let v = self.number(e, false, i64::from(i32::MIN), i64::from(i32::MAX))?;
                if v < i64::from(MIN_SNAP_RETAIN_COUNT) {
                    let message = format!(
                        "autopurge.snapRetainCount {v} is raised to the minimum of \
                         {MIN_SNAP_RETAIN_COUNT}, as ZooKeeper does"
                    );
                    self.warn(e.line, &e.key, message);
                }
                self.cfg.autopurge_snap_retain_count =
                    v.max(i64::from(MIN_SNAP_RETAIN_COUNT)) as u32;
            }
            "autopurge.purgeInterval" => {
                let v = self.number(e, false, i64::from(i32::MIN), i64::from(i32::MAX))?;
                if v < 0 {
                    let message =
                        format!("autopurge.purgeInterval {v} is negative: automatic purge is off");
                    self.warn(e.line, &e.key, message);
                }
                self.cfg.autopurge_purge_interval_hours = v.max(0) as u32;
            }
            "traceFile" => {
                self.cfg.trace_file = Some(e.value.clone());
                self.warn(e.line, &e.key, "traceFile is accepted but has no effect");
            }

            // --- ensemble
            "initLimit" => self.cfg.init_limit = self.int(e, 0)? as u32,
            "syncLimit" => self.cfg.sync_limit = self.int(e, 0)? as u32,
            "connectToLearnerMasterLimit" => {
                self.cfg.connect_to_learner_master_limit = self.int(e, 0)? as u32
            }
            "electionAlg" => {
                let v = self.number(e, false, i64::from(i32::MIN), i64::from(i32::MAX))?;
                if v != 3 {
                    return Err(self.error(
                        e,
                        format!(
                            "'{v}' is not supported: only 3 (FastLeaderElection) exists since \
                             ZooKeeper 3.6; remove the line or set electionAlg=3"
                        ),
                    ));
                }
                self.cfg.election_alg = 3;
            }
            "electionPortBindRetry" => {
                let v = self.number(e, true, i64::from(i32::MIN), i64::from(i32::MAX))?;
                if v < 0 {
                    let message = format!(
                        "electionPortBindRetry {v} is negative; the default of 3 is used, as \
                         ZooKeeper does"
                    );
                    self.warn(e.line, &e.key, message);
                }
                self.cfg.election_port_bind_retry = if v < 0 { 3 } else { v as u32 };
            }
            "cnxTimeout" => self.cfg.cnx_timeout_ms = self.int(e, 0)? as u32,
            "quorumListenOnAllIPs" => self.cfg.quorum_listen_on_all_ips = self.boolean(e)?,
            "standaloneEnabled" => self.cfg.standalone_enabled = self.boolean(e)?,
            "reconfigEnabled" => self.cfg.reconfig_enabled = self.boolean(e)?,
            "leaderServes" => self.cfg.leader_serves = self.yes_no(e, "no")?,
            "syncEnabled" => self.cfg.sync_enabled = self.boolean(e)?,
            "peerType" => {
                self.cfg.peer_type = parse_role(&e.value).map_err(|_| {
                    self.error(
                        e,
                        format!(
                            "unknown peer type '{}': use participant or observer",
                            e.value
                        ),
                    )
                })?
            }
            "multiAddress.enabled" => self.cfg.multi_address_enabled = self.boolean(e)?,
            "multiAddress.reachabilityCheckEnabled" => {
                self.cfg.multi_address_reachability_check_enabled = self.boolean(e)?
            }
            "multiAddress.reachabilityCheckTimeoutMs" => {
                self.cfg.multi_address_reachability_check_timeout_ms = self.int(e, 0)? as u32
            }
            "dynamicConfigFile" => {
                self.cfg.dynamic_config_file = Some(self.text(e)?);
                self.warn(
                    e.line,
                    &e.key,
                    "dynamicConfigFile is not supported: the file is not read; list the \
                     server.N lines in this file instead",
                );
            }

            // --- data, ACLs, special nodes
            "jute.maxbuffer" => self.cfg.jute_max_buffer = self.int_prop(e, 1)? as u32,
            "skipACL" => self.cfg.skip_acl = self.yes_no(e, "yes")?,
            "DigestAuthenticationProvider.superDigest" => {
                let v = self.text(e)?;
                if !v.contains(':') {
                    let message = format!(
                        "{}: '{v}' does not look like 'super:<base64 SHA1 digest>'",
                        e.key
                    );
                    self.warn(e.line, &e.key, message);
                }
                self.cfg.super_digest = Some(v);
            }
            "DigestAuthenticationProvider.enabled" => {
                self.cfg.digest_auth_enabled = self.boolean(e)?
            }
            "DigestAuthenticationProvider.digestAlg" => {
                if !matches!(e.value.to_ascii_uppercase().as_str(), "SHA1" | "SHA-1") {
                    self.unsupported(e, "only SHA1 digests are supported by this server");
                }
            }
            "digest.enabled" => self.cfg.digest_enabled = self.boolean(e)?,
            "enforceQuota" => self.cfg.enforce_quota = self.boolean(e)?,
            "extendedTypesEnabled" => self.cfg.extended_types_enabled = self.boolean(e)?,
            "emulate353TTLNodes" => self.cfg.emulate_353_ttl_nodes = self.boolean(e)?,
            "readonlymode.enabled" => self.cfg.read_only_mode_enabled = self.boolean(e)?,
            "znode.container.checkIntervalMs" => {
                self.cfg.container_check_interval_ms = self.int_prop(e, 1)? as u32
            }
            "znode.container.maxPerMinute" => {
                self.cfg.container_max_per_minute = self.int_prop(e, 1)? as u32
            }
            "znode.container.maxNeverUsedIntervalMs" => {
                self.cfg.container_max_never_used_interval_ms =
                    self.number(e, true, 0, i64::MAX)? as u64
            }

            // --- operations
            "4lw.commands.whitelist" => self.whitelist = Some(e.value.clone()),
            "admin.enableServer" => self.cfg.admin.enable_server = self.boolean(e)?,
            "admin.serverAddress" => self.cfg.admin.server_address = self.text(e)?,
            "admin.serverPort" => self.cfg.admin.server_port = self.port(e, true)?,
            "admin.commandURL" => {
                let v = self.text(e)?;
                if !v.starts_with('/') {
                    return Err(self.error(e, format!("'{v}' must start with '/'")));
                }
                self.cfg.admin.command_url = v;
            }
            "admin.idleTimeout" => self.cfg.admin.idle_timeout_ms = self.int_prop(e, 0)? as u32,
            "metricsProvider.className" => {
                let v = self.text(e)?;
                if ![
                    DEFAULT_METRICS_PROVIDER,
                    NULL_METRICS_PROVIDER,
                    PROMETHEUS_METRICS_PROVIDER,
                ]
                .contains(&v.as_str())
                {
                    let message = format!(
                        "metricsProvider.className '{v}' is not available in this server; the \
                         built-in metrics are used"
                    );
                    self.warn(e.line, &e.key, message);
                }
                self.cfg.metrics.class_name = v;
            }
            "metricsProvider.httpHost" => self.cfg.metrics.http_host = self.text(e)?,
            "metricsProvider.httpPort" => self.cfg.metrics.http_port = self.port(e, false)?,
            "metricsProvider.exportJvmInfo" => {
                self.cfg.metrics.export_jvm_info = self.boolean(e)?
            }
            "nio.numSelectorThreads" => {
                self.cfg.nio_num_selector_threads = Some(self.int_prop(e, 1)? as u32)
            }
            "nio.numWorkerThreads" => {
                self.cfg.nio_num_worker_threads = Some(self.int_prop(e, 0)? as u32)
            }
            "commitProcessor.numWorkerThreads" => {
                self.cfg.commit_processor_num_worker_threads = Some(self.int_prop(e, 0)? as u32)
            }
            other => {
                if let Some(rest) = other.strip_prefix("metricsProvider.") {
                    self.cfg
                        .metrics
                        .other
                        .insert(rest.to_string(), e.value.clone());
                } else if let Some(reason) = unsupported_reason(other) {
                    self.unsupported(e, reason);
                } else {
                    let message = format!("unknown key '{}' ignored", e.key);
                    self.warn(e.line, &e.key, message);
                    self.cfg.passthrough.insert(e.key.clone(), e.value.clone());
                }
            }
        }
        Ok(())
    }

    fn apply_server(&mut self, e: &Entry) -> Result<(), ConfigError> {
        let raw_id = &e.key["server.".len()..];
        let Some(id) = parse_id(raw_id).map(ServerId) else {
            return Err(self.error(
                e,
                format!(
                    "server id '{raw_id}' is not a number (server.N with N a non-negative integer)"
                ),
            ));
        };
        if let Some((line, key)) = self.server_lines.get(&id) {
            let message =
                format!("server id {id} is defined twice: {key} is already on line {line}");
            return Err(self.error(e, message));
        }
        let spec = parse_server_value(id, &e.value).map_err(|m| self.error(e, m))?;
        self.server_lines.insert(id, (e.line, e.key.clone()));
        self.cfg.servers.insert(id, spec);
        Ok(())
    }

    fn apply_group(&mut self, e: &Entry, raw_gid: &str) -> Result<(), ConfigError> {
        let Some(gid) = parse_id(raw_gid) else {
            return Err(self.error(e, format!("group id '{raw_gid}' is not a number")));
        };
        let mut members = Vec::new();
        for m in java_split(&e.value, ':') {
            let Some(sid) = parse_id(m) else {
                return Err(self.error(e, format!("'{m}' is not a server id (group.x=id:id:...)")));
            };
            members.push(ServerId(sid));
        }
        self.groups.push(GroupLine {
            line: e.line,
            key: e.key.clone(),
            gid,
            members,
        });
        Ok(())
    }

    fn apply_weight(&mut self, e: &Entry, raw_sid: &str) -> Result<(), ConfigError> {
        let Some(sid) = parse_id(raw_sid) else {
            return Err(self.error(e, format!("server id '{raw_sid}' is not a number")));
        };
        let weight = self.number(e, false, 0, i64::MAX)? as u64;
        self.weights.push(WeightLine {
            line: e.line,
            key: e.key.clone(),
            sid: ServerId(sid),
            weight,
        });
        Ok(())
    }

    fn line_of(&self, canon: &str) -> Option<usize> {
        self.seen.get(canon).map(|(line, _)| *line)
    }

    fn key_of(&self, canon: &str) -> String {
        self.seen
            .get(canon)
            .map_or_else(|| canon.to_string(), |(_, key)| key.clone())
    }

    /// The cross-key rules of `parseProperties`, `parseDynamicConfig`, `QuorumHierarchical` and
    /// `checkValidity`.
    fn finish(mut self) -> Result<(Config, Vec<Warning>), ConfigError> {
        let tick = match self.tick_time {
            // ZooKeeper falls back to ZooKeeperServer.DEFAULT_TICK_TIME.
            None => 3000,
            Some(0) => {
                let key = self.key_of("tickTime");
                return Err(self.error_at(
                    self.line_of("tickTime"),
                    &key,
                    "must be greater than 0",
                ));
            }
            Some(t) => t as u32,
        };
        self.cfg.tick_time = tick;
        let Some(data_dir) = self.data_dir.take() else {
            return Err(self.error_at(None, "dataDir", "is not set"));
        };
        self.cfg.data_log_dir = self.data_log_dir.take().unwrap_or_else(|| data_dir.clone());
        self.cfg.data_dir = data_dir;

        if self.cfg.client_port.is_none() && self.cfg.client_port_address.is_some() {
            let key = self.key_of("clientPortAddress");
            return Err(self.error_at(
                self.line_of("clientPortAddress"),
                &key,
                "is set but clientPort is not",
            ));
        }
        if self.cfg.secure_client_port.is_none() && self.secure_client_port_address {
            let key = self.key_of("secureClientPortAddress");
            return Err(self.error_at(
                self.line_of("secureClientPortAddress"),
                &key,
                "is set but secureClientPort is not",
            ));
        }

        self.cfg.min_session_timeout = if self.min_session == -1 {
            tick.saturating_mul(2)
        } else {
            self.min_session as u32
        };
        self.cfg.max_session_timeout = if self.max_session == -1 {
            tick.saturating_mul(20)
        } else {
            self.max_session as u32
        };
        if self.cfg.min_session_timeout > self.cfg.max_session_timeout {
            let canon = if self.line_of("minSessionTimeout").is_some() {
                "minSessionTimeout"
            } else {
                "maxSessionTimeout"
            };
            let message = format!(
                "minSessionTimeout ({} ms) must not be larger than maxSessionTimeout ({} ms)",
                self.cfg.min_session_timeout, self.cfg.max_session_timeout
            );
            let key = self.key_of(canon);
            return Err(self.error_at(self.line_of(canon), &key, message));
        }

        self.check_servers()?;
        self.check_hierarchy()?;
        self.check_ensemble()?;
        self.finish_four_letter_words();

        if self.cfg.client_port.is_none() && self.cfg.servers.values().all(|s| s.client.is_none()) {
            self.warn(
                0,
                "clientPort",
                "neither clientPort nor a server.N client address is set: the server will not \
                 accept client connections",
            );
        }
        Ok((self.cfg, self.warnings))
    }

    fn server_line(&self, id: ServerId) -> (Option<usize>, String) {
        match self.server_lines.get(&id) {
            Some((line, key)) => (Some(*line), key.clone()),
            None => (None, format!("server.{id}")),
        }
    }

    fn check_servers(&mut self) -> Result<(), ConfigError> {
        let mut used: BTreeMap<(String, u16), ServerId> = BTreeMap::new();
        let servers: Vec<ServerSpec> = self.cfg.servers.values().cloned().collect();
        for s in &servers {
            let (line, key) = self.server_line(s.id);
            if s.addresses.len() > 1 && !self.cfg.multi_address_enabled {
                return Err(self.error_at(
                    line,
                    &key,
                    format!(
                        "{} addresses are given but multiAddress.enabled is false",
                        s.addresses.len()
                    ),
                ));
            }
            let mut ports: Vec<(String, u16)> = Vec::new();
            for (host, quorum, election) in &s.addresses {
                ports.push((host.clone(), *quorum));
                ports.push((host.clone(), *election));
            }
            if let Some((host, port)) = &s.client {
                ports.push((host.clone().unwrap_or_else(|| "0.0.0.0".to_string()), *port));
            }
            for hp in ports {
                match used.get(&hp) {
                    Some(other) if *other != s.id => {
                        let message = format!(
                            "{key}: {}:{} is also used by server.{other}",
                            bracketed(&hp.0),
                            hp.1
                        );
                        self.warn(line.unwrap_or(0), &key, message);
                    }
                    Some(_) => {}
                    None => {
                        used.insert(hp, s.id);
                    }
                }
            }
        }
        Ok(())
    }

    fn check_hierarchy(&mut self) -> Result<(), ConfigError> {
        if self.groups.is_empty() && self.weights.is_empty() {
            return Ok(());
        }
        let weights = std::mem::take(&mut self.weights);
        for w in &weights {
            match self.cfg.servers.get(&w.sid) {
                None => {
                    let message = format!(
                        "{}: there is no server.{} line; the weight is ignored",
                        w.key, w.sid
                    );
                    self.warn(w.line, &w.key, message);
                }
                Some(s) if !s.is_participant() => {
                    return Err(self.error_at(
                        Some(w.line),
                        &w.key,
                        format!(
                            "server {} is an observer; observers do not vote and cannot have a weight",
                            w.sid
                        ),
                    ));
                }
                Some(_) => {
                    self.cfg.weights.insert(w.sid, w.weight);
                }
            }
        }
        let groups = std::mem::take(&mut self.groups);
        let mut member_of: BTreeMap<ServerId, (String, usize)> = BTreeMap::new();
        let mut ordered: Vec<&GroupLine> = groups.iter().collect();
        ordered.sort_by_key(|g| g.line);
        for g in &ordered {
            for m in &g.members {
                let err = |msg: String| self.error_at(Some(g.line), &g.key, msg);
                match self.cfg.servers.get(m) {
                    None => {
                        return Err(err(format!(
                            "names server {m}, which has no server.{m} line"
                        )))
                    }
                    Some(s) if !s.is_participant() => {
                        return Err(err(format!(
                        "server {m} is an observer; observers do not vote and cannot be in a group"
                    )))
                    }
                    Some(_) => {}
                }
                if let Some((other, line)) = member_of.get(m) {
                    return Err(err(format!(
                        "server {m} is already in {other} (line {line}); groups must not overlap"
                    )));
                }
                member_of.insert(*m, (g.key.clone(), g.line));
            }
            self.cfg.groups.insert(g.gid, g.members.clone());
        }
        let participants: Vec<ServerId> = self.cfg.participants().map(|s| s.id).collect();
        for id in &participants {
            if !member_of.contains_key(id) {
                let (line, key) = self.server_line(*id);
                let hint = if groups.is_empty() {
                    " (weight.x lines make the quorum hierarchical, which needs group.x lines)"
                } else {
                    ""
                };
                return Err(self.error_at(
                    line,
                    &key,
                    format!(
                        "server {id} is a participant but is in no group; with group.x/weight.x \
                         every participant must be in exactly one group{hint}"
                    ),
                ));
            }
            self.cfg.weights.entry(*id).or_insert(1);
        }
        if let Some(first) = ordered.first() {
            let any_weight = self.cfg.groups.values().any(|members| {
                members
                    .iter()
                    .any(|m| self.cfg.weights.get(m).copied().unwrap_or(0) > 0)
            });
            if !any_weight {
                return Err(self.error_at(
                    Some(first.line),
                    &first.key,
                    "every group has total weight 0, so no quorum can ever form",
                ));
            }
        }
        Ok(())
    }

    fn check_ensemble(&mut self) -> Result<(), ConfigError> {
        let participants = self.cfg.participants().count();
        let first_observer = self.cfg.observers().next().map(|s| s.id);
        if participants == 0 {
            if !self.cfg.standalone_enabled {
                let key = self.key_of("standaloneEnabled");
                return Err(self.error_at(
                    self.line_of("standaloneEnabled"),
                    &key,
                    "is false, so at least one participant server.N line is needed",
                ));
            }
            if let Some(id) = first_observer {
                let (line, key) = self.server_line(id);
                return Err(self.error_at(
                    line,
                    &key,
                    "observers without participants is an invalid configuration",
                ));
            }
        } else if participants == 1 && self.cfg.standalone_enabled {
            if let Some(id) = first_observer {
                let (line, key) = self.server_line(id);
                return Err(self.error_at(
                    line,
                    &key,
                    "observers need a quorum, but only one participant is listed and \
                     standaloneEnabled is true (set standaloneEnabled=false)",
                ));
            }
            let only = self.cfg.participants().next().map(|s| s.id);
            if let Some(id) = only {
                let (line, key) = self.server_line(id);
                self.warn(
                    line.unwrap_or(0),
                    &key,
                    format!(
                        "{key} is the only server and standaloneEnabled is true: the server runs \
                         standalone and ignores the server list"
                    ),
                );
            }
        } else {
            let last = self
                .server_lines
                .values()
                .map(|(line, _)| *line)
                .max()
                .unwrap_or(0);
            if participants <= 2 {
                let message = format!(
                    "{participants} participant(s): no server failure will be tolerated; at least \
                     3 are needed for that"
                );
                self.warn(last, "server", message);
            } else if participants.is_multiple_of(2) {
                let message = format!(
                    "{participants} participants: an even number tolerates no more failures than \
                     {} would; consider an odd number",
                    participants - 1
                );
                self.warn(last, "server", message);
            }
        }
        if !self.cfg.is_standalone() {
            for canon in ["initLimit", "syncLimit"] {
                let value = if canon == "initLimit" {
                    self.cfg.init_limit
                } else {
                    self.cfg.sync_limit
                };
                if value == 0 {
                    let key = self.key_of(canon);
                    let message = match self.line_of(canon) {
                        Some(_) => "must be at least 1 when several servers are listed".to_string(),
                        None => {
                            "is not set; it is required when several servers are listed".to_string()
                        }
                    };
                    return Err(self.error_at(self.line_of(canon), &key, message));
                }
            }
        }
        Ok(())
    }

    fn finish_four_letter_words(&mut self) {
        let mut words = BTreeSet::new();
        if let Some(list) = self.whitelist.take() {
            let (line, key) = self
                .seen
                .get("4lw.commands.whitelist")
                .cloned()
                .unwrap_or((0, "4lw.commands.whitelist".to_string()));
            for word in list.split(',') {
                let word = java_trim(word);
                if word.is_empty() {
                    continue;
                }
                if word == "*" {
                    words.extend(FOUR_LETTER_WORDS.iter().map(|w| w.to_string()));
                    break;
                }
                if FOUR_LETTER_WORDS.contains(&word) {
                    words.insert(word.to_string());
                } else {
                    let message = format!("{key}: unknown four-letter word '{word}' ignored");
                    self.warn(line, &key, message);
                }
            }
        }
        // ZooKeeper's own tools need these two (zkServer.sh status, read-only clients).
        words.insert("srvr".to_string());
        if self.cfg.read_only_mode_enabled {
            words.insert("isro".to_string());
        }
        self.cfg.four_letter_words = words;
    }
}

#[cfg(test)]
mod tests {
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
        let text = "# comment\n   ! another comment\n\n  tickTime : 2000  \ndataDir /var/zk\\\n    /data\n\
                    clientPort\t=\t2181\r\nmaxClientCnxns=\\\n  30\rinitLimit==5\n";
        let e = err(text);
        // `initLimit==5` gives the value `=5` (only one separator is skipped), as in Java.
        assert_eq!(e.line, Some(10));
        assert_eq!(e.to_string(), "zoo.cfg:10: initLimit: '=5' is not a number");

        let (c, ws) = ok("# comment\n   ! another comment\n\n  tickTime : 2000  \ndataDir /var/zk\\\n    /data\n\
                         clientPort\t=\t2181\r\nmaxClientCnxns=\\\n  30\r\n");
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
        assert!(has_warning(&ws, 6, "TLS is not supported"));
        assert_eq!(c.secure_client_port, Some(2281));
        assert!(has_warning(
            &ws,
            7,
            "'ssl.keyStore.location' is ignored: TLS"
        ));
        assert!(has_warning(&ws, 8, "quorum SASL"));
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
        assert!(c.passthrough.contains_key("ssl.keyStore.location"));
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
}
