//! Which keys ZooKeeper knows, which it reads as system properties, and which this server
//! does not support (with the reason a warning gives).

use super::*;

/// Keys ZooKeeper reads as Java system properties (most of them `zookeeper.<key>`): in
/// `zoo.cfg` they may be written with or without the `zookeeper.` prefix.
pub(super) const SYSTEM_PROPERTY_KEYS: &[&str] = &[
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
    "client.portUnification",
    "client.certReload",
    "serverCnxnFactory",
    "superUser",
    "X509AuthenticationProvider.superUser",
    "sessionRequireClientSASLAuth",
    "requireClientAuthScheme",
    "enforce.auth.enabled",
    "enforce.auth.schemes",
];

/// Families of system properties that may be written with or without `zookeeper.`.
pub(super) const SYSTEM_PROPERTY_PREFIXES: &[&str] = &["ssl.", "authProvider."];

/// ZooKeeper settings this server accepts but does not act on, by prefix, with the reason.
pub(super) const UNSUPPORTED_PREFIXES: &[(&str, &str)] = &[
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
];

/// ZooKeeper settings this server accepts but does not act on, by exact name.
pub(super) const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    (
        "admin.portUnification",
        "the AdminServer does not serve HTTPS",
    ),
    ("admin.forceHttps", "the AdminServer does not serve HTTPS"),
    (
        "admin.httpVersion",
        "this setting is not supported by this server",
    ),
    (
        "ensembleAuthName",
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
pub(super) fn canonical_key(key: &str) -> String {
    if matches!(
        key,
        "observer.syncEnabled" | "zookeeper.observer.syncEnabled"
    ) {
        return "syncEnabled".to_string();
    }
    if let Some(rest) = key.strip_prefix("zookeeper.") {
        if SYSTEM_PROPERTY_KEYS.contains(&rest)
            || SYSTEM_PROPERTY_PREFIXES.iter().any(|p| rest.starts_with(p))
        {
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
pub(super) fn unsupported_reason(key: &str) -> Option<&'static str> {
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
