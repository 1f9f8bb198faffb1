//! The parser: entries in, typed [`Config`] out, with cross-checks and warnings.

use super::*;

pub(super) struct GroupLine {
    pub(super) line: usize,
    pub(super) key: String,
    pub(super) gid: u64,
    pub(super) members: Vec<ServerId>,
}

pub(super) struct WeightLine {
    pub(super) line: usize,
    pub(super) key: String,
    pub(super) sid: ServerId,
    pub(super) weight: u64,
}

pub(super) struct Parser<'a> {
    pub(super) file: &'a str,
    pub(super) warnings: Vec<Warning>,
    pub(super) cfg: Config,
    /// Canonical key → (line, key as written) of the value in effect.
    pub(super) seen: BTreeMap<String, (usize, String)>,
    pub(super) tick_time: Option<i64>,
    pub(super) data_dir: Option<String>,
    pub(super) data_log_dir: Option<String>,
    pub(super) min_session: i64,
    pub(super) max_session: i64,
    pub(super) secure_client_port_address: bool,
    pub(super) whitelist: Option<String>,
    pub(super) server_lines: BTreeMap<ServerId, (usize, String)>,
    pub(super) groups: Vec<GroupLine>,
    pub(super) weights: Vec<WeightLine>,
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
            }
            "secureClientPortAddress" => {
                self.cfg.secure_client_port_address = Some(self.text(e)?);
                self.secure_client_port_address = true;
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
            other if self.apply_security(other, e)? => {}
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

    /// TLS and authentication keys (`security.rs`); false when `key` is none of them.
    fn apply_security(&mut self, key: &str, e: &Entry) -> Result<bool, ConfigError> {
        use super::security::{apply_tls, list, TlsKey};
        match key {
            "client.portUnification" => self.cfg.client_port_unification = self.boolean(e)?,
            "portUnification" => self.cfg.port_unification = self.boolean(e)?,
            "sslQuorum" => self.cfg.ssl_quorum = self.boolean(e)?,
            "peerAddressCheck" => self.cfg.peer_address_check = self.boolean(e)?,
            "sslQuorumReloadCertFiles" => {
                self.cfg.ssl_quorum_reload_cert_files = self.boolean(e)?
            }
            "client.certReload" => self.cfg.client_cert_reload = self.boolean(e)?,
            "serverCnxnFactory" => self.cfg.server_cnxn_factory = Some(self.text(e)?),
            "java.security.auth.login.config" => self.cfg.auth.jaas_config = Some(self.text(e)?),
            "superUser" => self.cfg.auth.super_user = Some(self.text(e)?),
            "X509AuthenticationProvider.superUser" => {
                self.cfg.auth.x509_super_user = Some(self.text(e)?)
            }
            "sessionRequireClientSASLAuth" => {
                self.cfg.auth.session_require_client_sasl_auth = self.boolean(e)?
            }
            "enforce.auth.enabled" => self.cfg.auth.enforce_auth_enabled = self.boolean(e)?,
            "enforce.auth.schemes" => self.cfg.auth.enforce_auth_schemes = list(&e.value),
            "requireClientAuthScheme" => {
                self.cfg.auth.require_client_auth_scheme = Some(self.text(e)?);
                self.unsupported(
                    e,
                    "no ZooKeeper release reads it; use enforce.auth.enabled and enforce.auth.schemes",
                );
            }
            "quorum.auth.enableSasl" => self.cfg.auth.quorum_sasl = self.boolean(e)?,
            "quorum.auth.learnerRequireSasl" => {
                self.cfg.auth.quorum_learner_require_sasl = self.boolean(e)?
            }
            "quorum.auth.serverRequireSasl" => {
                self.cfg.auth.quorum_server_require_sasl = self.boolean(e)?
            }
            "quorum.auth.learner.saslLoginContext" => {
                self.cfg.auth.quorum_learner_login_context = self.text(e)?
            }
            "quorum.auth.server.saslLoginContext" => {
                self.cfg.auth.quorum_server_login_context = self.text(e)?
            }
            "ssl.authProvider" => self.cfg.auth.ssl_auth_provider = Some(self.text(e)?),
            k if k.starts_with("authProvider.") => {
                let v = self.text(e)?;
                self.cfg
                    .auth
                    .providers
                    .insert(k["authProvider.".len()..].to_string(), v);
            }
            k if k.starts_with("ssl.") => {
                let (quorum, name) = match k.strip_prefix("ssl.quorum.") {
                    Some(n) => (true, n),
                    None => (false, &k["ssl.".len()..]),
                };
                let mut t = if quorum {
                    self.cfg.quorum_tls.clone()
                } else {
                    self.cfg.tls.clone()
                };
                match apply_tls(&mut t, name, &e.value) {
                    Ok(TlsKey::Applied) => {}
                    Ok(TlsKey::Ignored(reason)) => self.unsupported(e, reason),
                    Err(m) => return Err(self.error(e, m)),
                }
                if quorum {
                    self.cfg.quorum_tls = t;
                } else {
                    self.cfg.tls = t;
                }
            }
            k if k.starts_with("quorum.auth.") => {
                self.unsupported(
                    e,
                    "this quorum authentication setting is not supported by this server",
                );
            }
            _ => return Ok(false),
        }
        Ok(true)
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
        if self.cfg.auth.enforce_auth_enabled
            && !self.cfg.auth.session_require_client_sasl_auth
            && self.cfg.auth.enforce_auth_schemes.is_empty()
        {
            let key = self.key_of("enforce.auth.enabled");
            return Err(self.error_at(
                self.line_of("enforce.auth.enabled"),
                &key,
                "is true but enforce.auth.schemes names no scheme",
            ));
        }
        for scheme in self.cfg.auth.required_schemes() {
            let known = match scheme.as_str() {
                "ip" => true,
                "digest" => self.cfg.digest_auth_enabled,
                "sasl" => self.cfg.auth.sasl_provider(),
                "x509" => self.cfg.secure_client_port.is_some() || self.cfg.client_port_unification,
                _ => false,
            };
            if !known {
                let canon = if self.cfg.auth.session_require_client_sasl_auth {
                    "sessionRequireClientSASLAuth"
                } else {
                    "enforce.auth.schemes"
                };
                let key = self.key_of(canon);
                return Err(self.error_at(
                    self.line_of(canon),
                    &key,
                    format!(
                        "authentication scheme '{scheme}' is required but no provider for it is \
                         configured (sasl needs authProvider.N={})",
                        super::security::SASL_AUTH_PROVIDER
                    ),
                ));
            }
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
