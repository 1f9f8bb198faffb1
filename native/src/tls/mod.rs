//! TLS with rustls, configured by ZooKeeper's `ssl.*` / `ssl.quorum.*` keys
//! ([`zk_core::config::security::TlsSettings`]).
//!
//! * [`Tls`]: a server's TLS context — the key store and trust store loaded ([`stores`]), the
//!   protocols, cipher suites and client-auth mode applied — which reloads itself when the store
//!   files change (ZooKeeper's `FileChangeWatcher`), so new connections use the new certificate
//!   and connections already open keep theirs.
//! * [`client_config`]: what a client (zkcli, zkbench, a learner) connects with.
//! * [`subject_of`]: a certificate's subject as Java's `X500Principal.getName()` prints it
//!   (RFC 2253), which is the id of the `x509` ACL scheme.
//! * [`looks_like_tls`]: port unification's test on a connection's first bytes.

pub mod stores;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tracing::{debug, info, warn};
use zk_core::config::security::{ClientAuth, TlsSettings};

/// A server's TLS context, reloaded when its files change.
pub struct Tls {
    settings: TlsSettings,
    /// `client port` or `quorum`, for log lines.
    what: &'static str,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Loads the stores; an error names the setting and the file.
    pub fn load(settings: &TlsSettings, what: &'static str) -> Result<Arc<Tls>, String> {
        let config = server_config(settings).map_err(|e| format!("TLS on the {what}: {e}"))?;
        Ok(Arc::new(Tls {
            settings: settings.clone(),
            what,
            current: RwLock::new(Arc::new(config)),
        }))
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.read().expect("tls config").clone())
    }

    /// Watches the key and trust store files (every second, by modification time and size) and
    /// loads them again when they change; a store that cannot be loaded keeps the old context,
    /// with a log line.
    pub fn watch(self: &Arc<Self>) {
        let me = Arc::downgrade(self);
        let files: Vec<PathBuf> = [
            &self.settings.key_store_location,
            &self.settings.trust_store_location,
        ]
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .collect();
        tokio::spawn(async move {
            let mut seen = stamps(&files);
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let Some(me) = me.upgrade() else { return };
                let now = stamps(&files);
                if now == seen {
                    continue;
                }
                seen = now;
                match server_config(&me.settings) {
                    Ok(c) => {
                        *me.current.write().expect("tls config") = Arc::new(c);
                        info!("TLS on the {}: reloaded the key and trust stores", me.what);
                    }
                    Err(e) => warn!(
                        "TLS on the {}: the changed stores cannot be loaded, keeping the old ones: {e}",
                        me.what
                    ),
                }
            }
        });
    }
}

fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            let m = std::fs::metadata(f).ok()?;
            Some((m.modified().ok()?, m.len()))
        })
        .collect()
}

/// The crypto provider with the cipher suites `ssl.ciphersuites` names (Java's IANA names).
fn provider(settings: &TlsSettings) -> Result<Arc<CryptoProvider>, String> {
    // ring: no C toolchain beyond cc, and what Java offers (rustls deprecates it only because
    // ring lacks the post-quantum key exchange, which ZooKeeper's JVMs do not use).
    #[allow(deprecated)]
    let mut p = rustls::crypto::ring::default_provider();
    if let Some(wanted) = &settings.ciphersuites {
        let known: Vec<String> = p
            .cipher_suites
            .iter()
            .map(|s| java_suite_name(s.suite()))
            .collect();
        let unknown: Vec<&String> = wanted.iter().filter(|w| !known.contains(w)).collect();
        if !unknown.is_empty() {
            warn!(
                "ssl.ciphersuites: {unknown:?} not supported here and left out (supported: {})",
                known.join(", ")
            );
        }
        p.cipher_suites
            .retain(|s| wanted.contains(&java_suite_name(s.suite())));
        if p.cipher_suites.is_empty() {
            return Err(format!(
                "ssl.ciphersuites names no cipher suite this server supports ({})",
                known.join(", ")
            ));
        }
    }
    Ok(Arc::new(p))
}

/// A suite as Java names it: IANA's name (rustls writes TLS 1.3 suites as `TLS13_…`).
fn java_suite_name(s: rustls::CipherSuite) -> String {
    let name = s.as_str().unwrap_or("unknown");
    match name.strip_prefix("TLS13_") {
        Some(rest) => format!("TLS_{rest}"),
        None => name.to_string(),
    }
}

fn versions(settings: &TlsSettings) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let mut out = Vec::new();
    for p in settings.protocols() {
        match p.as_str() {
            "TLSv1.3" => out.push(&rustls::version::TLS13),
            "TLSv1.2" | "TLS" => out.push(&rustls::version::TLS12),
            other => warn!("TLS protocol {other} is not supported (only TLSv1.2 and TLSv1.3)"),
        }
    }
    if out.is_empty() {
        return Err(format!(
            "ssl.protocol / ssl.enabledProtocols ({}) name no protocol this server supports: use \
             TLSv1.2 or TLSv1.3",
            settings.protocols().join(",")
        ));
    }
    Ok(out)
}

/// The trust store's certificates, when one is set.
fn trusted(settings: &TlsSettings) -> Result<Option<Vec<CertificateDer<'static>>>, String> {
    let Some(path) = &settings.trust_store_location else {
        return Ok(None);
    };
    stores::load_trust_store(
        Path::new(path),
        settings.trust_store_password.as_deref(),
        settings.trust_store_type.as_deref(),
    )
    .map(Some)
    .map_err(|e| e.to_string())
}

/// The key store's chain and key (`ssl.keyStore.location` must be set).
fn keys(settings: &TlsSettings) -> Result<stores::KeyMaterial, String> {
    let Some(ks) = &settings.key_store_location else {
        return Err("ssl.keyStore.location is not set".into());
    };
    stores::load_key_store(
        Path::new(ks),
        settings.key_store_password.as_deref(),
        settings.key_store_type.as_deref(),
    )
    .map_err(|e| e.to_string())
}

fn trust_roots(settings: &TlsSettings) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match trusted(settings)? {
        Some(certs) => {
            for c in certs {
                roots.add(c).map_err(|e| {
                    format!(
                        "trust store {:?}: a certificate is unusable: {e}",
                        settings.trust_store_location
                    )
                })?;
            }
        }
        None => {
            // Java's default trust store: the system's certificate authorities.
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                let _ = roots.add(c);
            }
        }
    }
    Ok(roots)
}

/// A server's rustls configuration from ZooKeeper's settings.
pub fn server_config(settings: &TlsSettings) -> Result<ServerConfig, String> {
    let keys = keys(settings)?;
    let ks = settings.key_store_location.as_deref().unwrap_or_default();
    let provider = provider(settings)?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(settings)?)
        .map_err(|e| e.to_string())?;
    let builder = match settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        mode => {
            let roots = trust_roots(settings)?;
            let anchors = anchor_keys(settings);
            let roots = Arc::new(roots);
            let v = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let v = if mode == ClientAuth::Want {
                v.allow_unauthenticated()
            } else {
                v
            };
            let v = v
                .build()
                .map_err(|e| format!("the trust store cannot verify clients: {e}"))?;
            builder.with_client_cert_verifier(Arc::new(v1::Tolerant {
                inner: v,
                anchors,
                algs: provider.signature_verification_algorithms,
            }))
        }
    };
    // The certificate goes out as it is (Java accepts a version 1 certificate, which rustls's
    // own check of the pair refuses); the key must still load, and the handshake proves it.
    let key = provider
        .key_provider
        .load_private_key(keys.key)
        .map_err(|e| format!("key store {ks}: {e}"))?;
    let certified = rustls::sign::CertifiedKey::new(keys.chain, key);
    Ok(builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified))))
}

/// The trust store's certificates as (subject, public key) pairs, for [`v1::Tolerant`].
fn anchor_keys(settings: &TlsSettings) -> Vec<(Vec<u8>, Vec<u8>)> {
    trusted(settings)
        .ok()
        .flatten()
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            let (_, x) = x509_parser::parse_x509_certificate(c).ok()?;
            Some((x.subject().as_raw().to_vec(), x.public_key().raw.to_vec()))
        })
        .collect()
}

/// Client certificates of X.509 version 1, which Java accepts and webpki does not (kazoo's
/// test harness makes them): accepted when signed directly by a trusted certificate and within
/// their validity; every other certificate goes through webpki unchanged.
mod v1 {
    use rustls::client::danger::HandshakeSignatureValid;
    use rustls::crypto::WebPkiSupportedAlgorithms;
    use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer, UnixTime};
    use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
    use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
    use std::sync::Arc;

    #[derive(Debug)]
    pub struct Tolerant {
        pub inner: Arc<dyn ClientCertVerifier>,
        /// (subject DER, SubjectPublicKeyInfo DER) of each trusted certificate.
        pub anchors: Vec<(Vec<u8>, Vec<u8>)>,
        pub algs: WebPkiSupportedAlgorithms,
    }

    /// The certificate's version and public key, when it is version 1.
    fn v1_key(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
        let (_, x) = x509_parser::parse_x509_certificate(cert).ok()?;
        (x.version() == x509_parser::x509::X509Version::V1).then(|| x.public_key().raw.to_vec())
    }

    impl Tolerant {
        fn check_v1(&self, cert: &CertificateDer<'_>, now: UnixTime) -> Result<(), Error> {
            let bad = |why: &str| Error::General(format!("version 1 client certificate: {why}"));
            let (_, x) =
                x509_parser::parse_x509_certificate(cert).map_err(|e| bad(&e.to_string()))?;
            let t = x509_parser::time::ASN1Time::from_timestamp(now.as_secs() as i64)
                .map_err(|e| bad(&e.to_string()))?;
            if !x.validity().is_valid_at(t) {
                return Err(bad("expired or not yet valid"));
            }
            for (subject, spki) in &self.anchors {
                if subject.as_slice() != x.issuer().as_raw() {
                    continue;
                }
                let Ok((_, key)) = <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<_>>::from_der(spki) else {
                    continue;
                };
                if x.verify_signature(Some(&key)).is_ok() {
                    return Ok(());
                }
            }
            Err(bad("not signed by a trusted certificate"))
        }

        fn raw_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Option<Result<HandshakeSignatureValid, Error>> {
            let spki = v1_key(cert)?;
            let spki = SubjectPublicKeyInfoDer::from(spki.as_slice());
            let key = webpki::RawPublicKeyEntity::try_from(&spki).ok()?;
            let candidates = self
                .algs
                .mapping
                .iter()
                .find(|(s, _)| *s == dss.scheme)
                .map(|(_, a)| *a)
                .unwrap_or(&[]);
            for alg in candidates {
                if key.verify_signature(*alg, message, dss.signature()).is_ok() {
                    return Some(Ok(HandshakeSignatureValid::assertion()));
                }
            }
            Some(Err(Error::General(
                "the client's handshake signature does not verify".into(),
            )))
        }
    }

    impl ClientCertVerifier for Tolerant {
        fn offer_client_auth(&self) -> bool {
            self.inner.offer_client_auth()
        }

        fn client_auth_mandatory(&self) -> bool {
            self.inner.client_auth_mandatory()
        }

        fn root_hint_subjects(&self) -> &[DistinguishedName] {
            self.inner.root_hint_subjects()
        }

        fn verify_client_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            now: UnixTime,
        ) -> Result<ClientCertVerified, Error> {
            if v1_key(end_entity).is_some() {
                return self
                    .check_v1(end_entity, now)
                    .map(|_| ClientCertVerified::assertion());
            }
            self.inner
                .verify_client_cert(end_entity, intermediates, now)
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.raw_signature(message, cert, dss)
                .unwrap_or_else(|| self.inner.verify_tls12_signature(message, cert, dss))
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            self.raw_signature(message, cert, dss)
                .unwrap_or_else(|| self.inner.verify_tls13_signature(message, cert, dss))
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    }
}

/// A client's rustls configuration: the trust store verifies the server; the key store, if
/// set, is the client's certificate. Without `ssl.hostnameVerification` the server's name is
/// not checked against its certificate (the chain still is).
pub fn client_config(settings: &TlsSettings) -> Result<ClientConfig, String> {
    let provider = provider(settings)?;
    let roots = Arc::new(trust_roots(settings)?);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions(settings)?)
        .map_err(|e| e.to_string())?;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|e| format!("the trust store cannot verify servers: {e}"))?;
    let builder = if settings.hostname_verification {
        builder.with_webpki_verifier(verifier)
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoHostname(verifier)))
    };
    match &settings.key_store_location {
        Some(ks) => {
            let keys = keys(settings)?;
            builder
                .with_client_auth_cert(keys.chain, keys.key)
                .map_err(|e| format!("key store {ks}: {e}"))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Verifies the chain but not the name (`ssl.hostnameVerification=false`).
#[derive(Debug)]
struct NoHostname(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for NoHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Whether a connection's first bytes are a TLS handshake record (port unification): content
/// type 22, major version 3.
pub fn looks_like_tls(first: &[u8]) -> bool {
    first.len() >= 2 && first[0] == 0x16 && first[1] == 0x03
}

/// A certificate's subject as `X500Principal.getName()` prints it (RFC 2253): the RDNs from
/// last to first, `,` between them, known attribute types by their short names.
pub fn subject_of(der: &[u8]) -> Option<String> {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter_rdn() {
        let mut parts = Vec::new();
        for atv in rdn.iter() {
            let oid = atv.attr_type().to_id_string();
            let key = match oid.as_str() {
                "2.5.4.3" => "CN",
                "2.5.4.6" => "C",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.9" => "STREET",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "0.9.2342.19200300.100.1.25" => "DC",
                "0.9.2342.19200300.100.1.1" => "UID",
                _ => "",
            };
            let value = atv.as_str().ok().map(escape_rfc2253);
            match (key, value) {
                ("", _) | (_, None) => {
                    let hex: String = atv.as_slice().iter().map(|b| format!("{b:02x}")).collect();
                    parts.push(format!("{oid}=#{hex}"));
                }
                (k, Some(v)) => parts.push(format!("{k}={v}")),
            }
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

fn escape_rfc2253(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let last = v.chars().count().saturating_sub(1);
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A client's security settings as zkCli.sh reads them: the `-D` properties of
/// `CLIENT_JVMFLAGS`, then the `-client-configuration` file's (which win).
pub fn client_security(
    file: Option<&str>,
) -> Result<zk_core::config::security::ClientSecurity, String> {
    use zk_core::config::security::{jvm_properties, properties_pairs, ClientSecurity};
    let mut pairs = jvm_properties(&std::env::var("CLIENT_JVMFLAGS").unwrap_or_default());
    if let Some(f) = file {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{f}: {e}"))?;
        let entries = properties_pairs(&text, f)?;
        pairs.extend(entries);
    }
    let sec = ClientSecurity::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    for (k, why) in &sec.ignored {
        debug!("client configuration: {k} ignored: {why}");
    }
    Ok(sec)
}

/// The TLS configuration a client connects with, when `zookeeper.client.secure` is set.
pub fn client_tls(
    sec: &zk_core::config::security::ClientSecurity,
) -> Result<Option<Arc<ClientConfig>>, String> {
    if !sec.secure {
        return Ok(None);
    }
    client_config(&sec.tls).map(|c| Some(Arc::new(c)))
}

/// A connection that is TCP, or TLS over TCP.
pub trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Stream for T {}
pub type BoxStream = Box<dyn Stream>;

/// Wraps a connected TCP stream in TLS when `tls` is given, naming the server `host` (checked
/// against its certificate unless hostname verification is off).
pub async fn connect_stream(
    tcp: tokio::net::TcpStream,
    host: &str,
    tls: Option<Arc<ClientConfig>>,
) -> Result<BoxStream, String> {
    match tls {
        None => Ok(Box::new(tcp)),
        Some(config) => {
            let name = ServerName::try_from(host.to_string())
                .map_err(|e| format!("TLS: {host} is not a server name: {e}"))?;
            let t = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {host}: {e}"))?;
            Ok(Box::new(t))
        }
    }
}

/// Whether a certificate is valid for this IP address (its subjectAltName has it), as
/// ZooKeeper's ZKTrustManager checks a connecting server's certificate.
pub fn names_ip(der: &CertificateDer<'_>, ip: std::net::IpAddr) -> bool {
    let ip = match ip {
        std::net::IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
        v4 => v4,
    };
    let Ok(cert) = webpki::EndEntityCert::try_from(der) else {
        return false;
    };
    let name = ServerName::IpAddress(ip.into());
    cert.verify_is_valid_for_subject_name(&name).is_ok()
}

/// A stream that first yields bytes already read from it (read past a handshake).
pub struct Prefixed {
    rest: Vec<u8>,
    pos: usize,
    inner: BoxStream,
}

impl Prefixed {
    /// `inner`, with `rest` in front; `inner` itself when there is nothing to put back.
    pub fn wrap(inner: BoxStream, rest: Vec<u8>) -> BoxStream {
        if rest.is_empty() {
            inner
        } else {
            Box::new(Prefixed {
                rest,
                pos: 0,
                inner,
            })
        }
    }
}

impl tokio::io::AsyncRead for Prefixed {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.pos < self.rest.len() {
            let n = (self.rest.len() - self.pos).min(buf.remaining());
            let start = self.pos;
            buf.put_slice(&self.rest[start..start + n]);
            self.pos += n;
            return std::task::Poll::Ready(Ok(()));
        }
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for Prefixed {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
