//! TLS and authentication settings, under the names ZooKeeper 3.8 reads: `ssl.*` for the client
//! port (`ClientX509Util`), `ssl.quorum.*` for the election and quorum ports (`QuorumX509Util`),
//! SASL (`authProvider.N`, the JAAS file, `quorum.auth.*`) and the enforcement switches.
//!
//! In ZooKeeper these are Java system properties (`-Dzookeeper.ssl.keyStore.location=…`); any
//! key `QuorumPeerConfig` does not know becomes one, so they may be written in `zoo.cfg` with or
//! without the `zookeeper.` prefix. The core only records them: loading stores and running TLS
//! is the driver's, deciding who is authenticated is the core's.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// ZooKeeper's SASL provider, which `authProvider.N` names to turn on the `sasl` scheme.
pub const SASL_AUTH_PROVIDER: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";
/// ZooKeeper's x509 provider (`ssl.authProvider=x509` picks it).
pub const X509_AUTH_PROVIDER: &str = "org.apache.zookeeper.server.auth.X509AuthenticationProvider";

/// `ssl.clientAuth`: whether a TLS peer must show a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ClientAuth {
    None,
    Want,
    /// ZooKeeper's default.
    #[default]
    Need,
}

/// One `X509Util`'s settings: `ssl.*` or `ssl.quorum.*`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSettings {
    pub key_store_location: Option<String>,
    pub key_store_password: Option<String>,
    /// `PEM`, `PKCS12`, `JKS` (or `None`: from the file's extension).
    pub key_store_type: Option<String>,
    pub trust_store_location: Option<String>,
    pub trust_store_password: Option<String>,
    pub trust_store_type: Option<String>,
    /// `ssl.protocol`, default `TLSv1.3` (what 3.8 picks on a JVM that has it).
    pub protocol: String,
    /// `ssl.enabledProtocols`; `None`: the protocol, and TLSv1.2 too when it is TLSv1.3.
    pub enabled_protocols: Option<Vec<String>>,
    /// `ssl.ciphersuites`, IANA names (as Java spells them); `None`: the library's defaults.
    pub ciphersuites: Option<Vec<String>>,
    /// `ssl.clientAuth`, default need.
    pub client_auth: ClientAuth,
    /// `ssl.hostnameVerification`, default true.
    pub hostname_verification: bool,
    /// `ssl.handshakeDetectionTimeoutMillis` (port unification), default 5000.
    pub handshake_detection_timeout_ms: u32,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            key_store_location: None,
            key_store_password: None,
            key_store_type: None,
            trust_store_location: None,
            trust_store_password: None,
            trust_store_type: None,
            protocol: "TLSv1.3".to_string(),
            enabled_protocols: None,
            ciphersuites: None,
            client_auth: ClientAuth::Need,
            hostname_verification: true,
            handshake_detection_timeout_ms: 5000,
        }
    }
}

impl TlsSettings {
    /// The protocol versions to offer, as `ssl.enabledProtocols` or `ssl.protocol` say.
    pub fn protocols(&self) -> Vec<String> {
        match &self.enabled_protocols {
            Some(p) => p.clone(),
            None if self.protocol == "TLSv1.3" => vec!["TLSv1.3".into(), "TLSv1.2".into()],
            None => vec![self.protocol.clone()],
        }
    }
}

/// Authentication: SASL, x509, and what a session must have done before it is served.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSettings {
    /// `authProvider.N` (`zookeeper.authProvider.N`), by N, as written.
    pub providers: BTreeMap<String, String>,
    /// The JAAS login configuration: `java.security.auth.login.config`, as a key or
    /// from `-D` in `SERVER_JVMFLAGS`.
    pub jaas_config: Option<String>,
    /// `ssl.authProvider`: the scheme a client certificate authenticates (`x509` by default).
    pub ssl_auth_provider: Option<String>,
    /// `zookeeper.superUser`: a `sasl` id that is a super user.
    pub super_user: Option<String>,
    /// `zookeeper.X509AuthenticationProvider.superUser`: an x509 id that is a super user.
    pub x509_super_user: Option<String>,
    /// `zookeeper.sessionRequireClientSASLAuth` (3.6's switch, kept by 3.8).
    pub session_require_client_sasl_auth: bool,
    /// `enforce.auth.enabled`, default false.
    pub enforce_auth_enabled: bool,
    /// `enforce.auth.schemes`; enforcement with none is an error, as in ZooKeeper.
    pub enforce_auth_schemes: Vec<String>,
    /// `requireClientAuthScheme`: documented by ZooKeeper but read by none of its releases;
    /// kept, with a warning that it does nothing.
    pub require_client_auth_scheme: Option<String>,
    /// `quorum.auth.enableSasl`, default false.
    pub quorum_sasl: bool,
    /// `quorum.auth.learnerRequireSasl`, default false.
    pub quorum_learner_require_sasl: bool,
    /// `quorum.auth.serverRequireSasl`, default false.
    pub quorum_server_require_sasl: bool,
    /// `quorum.auth.learner.saslLoginContext`, default `QuorumLearner`.
    pub quorum_learner_login_context: String,
    /// `quorum.auth.server.saslLoginContext`, default `QuorumServer`.
    pub quorum_server_login_context: String,
}

impl AuthSettings {
    pub(super) fn with_defaults() -> Self {
        AuthSettings {
            quorum_learner_login_context: "QuorumLearner".into(),
            quorum_server_login_context: "QuorumServer".into(),
            ..Default::default()
        }
    }

    /// Whether some `authProvider.N` names ZooKeeper's SASL provider.
    pub fn sasl_provider(&self) -> bool {
        self.providers.values().any(|p| p == SASL_AUTH_PROVIDER)
    }

    /// The schemes a session must have authenticated with before anything but the
    /// authentication itself is served (empty: none), as `AuthenticationHelper` reads them:
    /// `sessionRequireClientSASLAuth` means `sasl` and wins over `enforce.auth.*`.
    pub fn required_schemes(&self) -> Vec<String> {
        if self.session_require_client_sasl_auth {
            vec!["sasl".into()]
        } else if self.enforce_auth_enabled {
            self.enforce_auth_schemes.clone()
        } else {
            Vec::new()
        }
    }
}

/// Splits a comma-separated property value, trimmed, empty parts dropped.
pub(super) fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// What [`apply_tls`] did with a key.
pub enum TlsKey {
    Applied,
    /// Known to ZooKeeper, not acted on here: the reason.
    Ignored(&'static str),
}

fn boolean(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("'{v}' is not a boolean: use true or false")),
    }
}

/// One `ssl.<name>` (or `ssl.quorum.<name>`) key, `name` without the prefix.
pub fn apply_tls(t: &mut TlsSettings, name: &str, value: &str) -> Result<TlsKey, String> {
    let value = value.trim();
    let opt = || (!value.is_empty()).then(|| value.to_string());
    match name {
        "keyStore.location" => t.key_store_location = opt(),
        "keyStore.password" => t.key_store_password = Some(value.to_string()),
        "keyStore.type" => t.key_store_type = opt(),
        "trustStore.location" => t.trust_store_location = opt(),
        "trustStore.password" => t.trust_store_password = Some(value.to_string()),
        "trustStore.type" => t.trust_store_type = opt(),
        "protocol" if value.is_empty() => return Err("is empty".into()),
        "protocol" => t.protocol = value.to_string(),
        "enabledProtocols" => t.enabled_protocols = Some(list(value)),
        "ciphersuites" => t.ciphersuites = Some(list(value)),
        "clientAuth" => {
            t.client_auth = match value.to_ascii_lowercase().as_str() {
                "none" => ClientAuth::None,
                "want" => ClientAuth::Want,
                "need" | "" => ClientAuth::Need,
                _ => {
                    return Err(format!(
                        "'{value}' is not a client auth mode: use none, want or need"
                    ))
                }
            }
        }
        "hostnameVerification" => t.hostname_verification = boolean(value)?,
        "handshakeDetectionTimeoutMillis" => {
            t.handshake_detection_timeout_ms = value
                .parse::<u32>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| format!("'{value}' is not a positive number of milliseconds"))?
        }
        "crl" | "ocsp" => {
            if boolean(value)? {
                return Ok(TlsKey::Ignored(
                    "certificate revocation checking is not supported by this server",
                ));
            }
        }
        _ => {
            return Ok(TlsKey::Ignored(
                "this TLS setting is not supported by this server",
            ))
        }
    }
    Ok(TlsKey::Applied)
}

/// What a client is told by its configuration file (`zkCli.sh -client-configuration`) or
/// `-D` properties: `zookeeper.client.secure`, `zookeeper.ssl.*`, the JAAS file and the
/// login section of SASL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientSecurity {
    /// `zookeeper.client.secure`: connect with TLS.
    pub secure: bool,
    pub tls: TlsSettings,
    /// `java.security.auth.login.config`.
    pub jaas_config: Option<String>,
    /// `zookeeper.sasl.client` (default true): whether to log in with SASL when the JAAS file
    /// has the section.
    pub sasl_client: bool,
    /// `zookeeper.sasl.clientconfig`: the JAAS section (default `Client`).
    pub sasl_section: String,
    /// Keys read but not acted on, with the reason.
    pub ignored: Vec<(String, &'static str)>,
}

impl ClientSecurity {
    /// From `key=value` pairs (a properties file's or `-D`'s), later ones winning.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<ClientSecurity, String> {
        let mut c = ClientSecurity {
            sasl_client: true,
            sasl_section: "Client".into(),
            ..Default::default()
        };
        for (k, v) in pairs {
            let key = k.trim();
            let name = key.strip_prefix("zookeeper.").unwrap_or(key);
            let r = match name {
                "client.secure" => boolean(v).map(|b| {
                    c.secure = b;
                    TlsKey::Applied
                }),
                "sasl.client" => boolean(v).map(|b| {
                    c.sasl_client = b;
                    TlsKey::Applied
                }),
                "sasl.clientconfig" => {
                    c.sasl_section = v.trim().to_string();
                    Ok(TlsKey::Applied)
                }
                "java.security.auth.login.config" => {
                    c.jaas_config = Some(v.trim().to_string());
                    Ok(TlsKey::Applied)
                }
                n if n.starts_with("ssl.") => apply_tls(&mut c.tls, &n[4..], v),
                _ => Ok(TlsKey::Ignored("not a setting this client reads")),
            };
            match r {
                Ok(TlsKey::Applied) => {}
                Ok(TlsKey::Ignored(why)) => c.ignored.push((key.to_string(), why)),
                Err(m) => return Err(format!("{key}: {m}")),
            }
        }
        Ok(c)
    }
}

/// The `key=value` pairs of a properties file's text, read with `java.util.Properties`' rules
/// (a `-client-configuration` file).
pub fn properties_pairs(text: &str, file: &str) -> Result<Vec<(String, String)>, String> {
    let entries = super::properties::load_properties(text)
        .map_err(|(line, m)| format!("{file}:{line}: {m}"))?;
    Ok(entries.into_iter().map(|e| (e.key, e.value)).collect())
}

/// The `-Dkey=value` properties in a JVM flags string (`CLIENT_JVMFLAGS`, `SERVER_JVMFLAGS`),
/// split on whitespace as the shell scripts pass them.
pub fn jvm_properties(flags: &str) -> Vec<(String, String)> {
    flags
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("-D"))
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect()
}
