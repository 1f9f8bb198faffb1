//! SASL DIGEST-MD5 (RFC 2831) as the JDK runs it for ZooKeeper.
//!
//! ZooKeeper 3.8 creates its server with `Sasl.createSaslServer("DIGEST-MD5", "zookeeper",
//! "zk-sasl-md5", null, callbackHandler)` (`ZooKeeperSaslServer`, `SecurityUtils`), so the JDK's
//! `DigestMD5Server` runs with no properties: realm = the server name `zk-sasl-md5`, digest-uri
//! `zookeeper/zk-sasl-md5`, qop `auth` only (and, as no qop property is set, the challenge carries
//! no `qop` directive at all: RFC 2831's default is `auth`), `charset=utf-8`,
//! `algorithm=md5-sess`. Between servers it is `zookeeper-quorum` / `zk-quorum-sasl-md5`
//! (`QuorumAuth`). [`DigestMd5Server`] reproduces the JDK server's checks in the JDK's order and
//! its challenge byte for byte (given the same nonce); [`DigestMd5Client`] reproduces the JDK
//! client's digest-response byte for byte (given the same cnonce).
//!
//! Nothing here draws random numbers: the caller passes the server nonce and the client cnonce
//! (the JDK uses 30 random bytes in base64, which [`java_nonce`] formats).
//!
//! Only `qop=auth` is supported (no integrity or privacy layer), as ZooKeeper configures it.

use md5::{Digest, Md5};

/// The SASL protocol (service) name of ZooKeeper's client port.
pub const ZK_PROTOCOL: &str = "zookeeper";
/// The SASL server name (and so realm and digest-uri host) of ZooKeeper's client port.
pub const ZK_SERVER_NAME: &str = "zk-sasl-md5";
/// The SASL protocol name between quorum peers (`QuorumAuth.QUORUM_SERVER_PROTOCOL_NAME`).
pub const QUORUM_PROTOCOL: &str = "zookeeper-quorum";
/// The SASL server name between quorum peers (`QuorumAuth.QUORUM_SERVER_SASL_DIGEST`).
pub const QUORUM_SERVER_NAME: &str = "zk-quorum-sasl-md5";

/// The longest digest-response the server reads (the JDK's `MAX_RESPONSE_LENGTH`; longer is refused).
pub const MAX_RESPONSE_LEN: usize = 4096;
/// The longest challenge the client reads (the JDK's `MAX_CHALLENGE_LENGTH`).
pub const MAX_CHALLENGE_LEN: usize = 2048;
/// The longest single directive key or value either side accepts (the JDK has no such limit
/// beyond the message's; no real client comes near it).
pub const MAX_VALUE_LEN: usize = 1024;

/// The only nonce count there is: the JDK supports initial authentication only.
const NONCE_COUNT: &str = "00000001";
const SECURITY_LAYER_MARKER: &str = ":00000000000000000000000000000000";

/// Why a DIGEST-MD5 exchange failed. Every variant is an authentication failure; the message
/// names the problem (and never a password).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("DIGEST-MD5: message of {len} bytes is longer than the {max} allowed")]
    TooLong { len: usize, max: usize },
    #[error("DIGEST-MD5: directive {key:?} is {len} bytes, longer than the {max} allowed")]
    FieldTooLong { key: String, len: usize, max: usize },
    #[error("DIGEST-MD5: malformed directives: {0}")]
    Malformed(String),
    #[error("DIGEST-MD5: more than one {0:?} directive")]
    DuplicateDirective(String),
    #[error("DIGEST-MD5: missing {0} directive")]
    MissingDirective(&'static str),
    #[error("DIGEST-MD5: unsupported charset {0:?} (only utf-8)")]
    BadCharset(String),
    #[error("DIGEST-MD5: maxbuf {0:?} is not a number")]
    BadMaxbuf(String),
    #[error("DIGEST-MD5: realm {got:?} is not the server's realm {expected:?}")]
    WrongRealm { got: String, expected: String },
    #[error("DIGEST-MD5: nonce does not match the one the server sent")]
    NonceMismatch,
    #[error(
        "DIGEST-MD5: nonce count {0:?} is not 00000001 (only initial authentication is supported)"
    )]
    BadNonceCount(String),
    #[error("DIGEST-MD5: qop {0:?} is not supported (only auth)")]
    UnsupportedQop(String),
    #[error("DIGEST-MD5: digest-uri {got:?} does not match {expected:?}")]
    DigestUriMismatch {
        got: Option<String>,
        expected: String,
    },
    #[error("DIGEST-MD5: unknown user {0:?}")]
    UnknownUser(String),
    #[error("DIGEST-MD5: response digest mismatch for user {0:?} (wrong password, or a changed nonce, cnonce, nc, realm, digest-uri or authzid)")]
    ResponseMismatch(String),
    #[error("DIGEST-MD5: {authcid:?} is not authorized to act as {authzid:?}")]
    NotAuthorized { authcid: String, authzid: String },
    #[error("DIGEST-MD5: malformed principal name {0:?}")]
    MalformedPrincipal(String),
    #[error("DIGEST-MD5: challenge algorithm {0:?} is not md5-sess")]
    BadAlgorithm(Option<String>),
    #[error(
        "DIGEST-MD5: server offers no qop this client supports (offered {0:?}; supported: auth)"
    )]
    NoCommonQop(String),
    #[error("DIGEST-MD5: server's rspauth does not match (server does not know the password)")]
    ServerAuthMismatch,
    #[error("DIGEST-MD5: {0}")]
    State(&'static str),
}

impl SaslError {
    /// Whether the JDK reports this case with an unchecked exception rather than a
    /// `SaslException` (`NumberFormatException` for a non-numeric maxbuf or nonce-count,
    /// `IllegalArgumentException` from `KerberosName` for a malformed principal). ZooKeeper
    /// catches only `SaslException` in `processSasl`, so for these its connection is closed
    /// without an AUTHFAILED reply; every other variant gets one.
    pub fn java_unchecked(&self) -> bool {
        matches!(
            self,
            SaslError::BadMaxbuf(_) | SaslError::MalformedPrincipal(_)
        )
    }
}

/// Formats 30 random bytes (from the caller) as the JDK formats its nonces and cnonces
/// (`DigestMD5Base.generateNonce`: base64, 40 characters).
pub fn java_nonce(random: &[u8; 30]) -> String {
    const PEM: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(40);
    for c in random.chunks_exact(3) {
        let (a, b, d) = (c[0], c[1], c[2]);
        s.push(PEM[(a >> 2) as usize] as char);
        s.push(PEM[(((a << 4) & 0x30) | (b >> 4)) as usize] as char);
        s.push(PEM[(((b << 2) & 0x3c) | (d >> 6)) as usize] as char);
        s.push(PEM[(d & 0x3f) as usize] as char);
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Directive parsing and quoting (DigestMD5Base.parseDirectives, writeQuotedStringValue)
// ---------------------------------------------------------------------------------------------

fn is_lws(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b' ' | b'\t')
}

fn skip_lws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && is_lws(buf[i]) {
        i += 1;
    }
    i
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn push_bounded(v: &mut Vec<u8>, b: u8, key: &[u8]) -> Result<(), SaslError> {
    if v.len() >= MAX_VALUE_LEN {
        return Err(SaslError::FieldTooLong {
            key: lossy(&key[..key.len().min(64)]),
            len: v.len() + 1,
            max: MAX_VALUE_LEN,
        });
    }
    v.push(b);
    Ok(())
}

/// Splits `key=value, key="quoted \" value"` as the JDK does: keys end at `=`, values end at a
/// comma or linear white space (CR, LF, SP, HT), quoted values take `\x` as `x`, empty elements
/// between commas are skipped, and a key left without `=` at the very end gets an empty value.
/// A directive's key and value, as sent (value unquoted).
type Directive = (Vec<u8>, Vec<u8>);

fn parse_directives(buf: &[u8]) -> Result<Vec<Directive>, SaslError> {
    let mut out = Vec::new();
    let mut key = Vec::new();
    let mut value = Vec::new();
    let mut getting_key = true;
    let mut quoted = false;
    let mut expect_separator = false;
    let mut i = skip_lws(buf, 0);
    while i < buf.len() {
        let b = buf[i];
        if getting_key {
            if b == b',' {
                if !key.is_empty() {
                    return Err(SaslError::Malformed(format!(
                        "directive key {:?} is followed by ',' instead of '='",
                        lossy(&key)
                    )));
                }
                i = skip_lws(buf, i + 1);
            } else if b == b'=' {
                if key.is_empty() {
                    return Err(SaslError::Malformed("empty directive key".into()));
                }
                getting_key = false;
                i = skip_lws(buf, i + 1);
                if i < buf.len() {
                    if buf[i] == b'"' {
                        quoted = true;
                        i += 1;
                    }
                } else {
                    return Err(SaslError::Malformed(format!(
                        "directive {:?} has no value",
                        lossy(&key)
                    )));
                }
            } else if is_lws(b) {
                i = skip_lws(buf, i + 1);
                if i >= buf.len() || buf[i] != b'=' {
                    return Err(SaslError::Malformed(format!(
                        "'=' expected after key {:?}",
                        lossy(&key)
                    )));
                }
            } else {
                push_bounded(&mut key, b, b"(key)")?;
                i += 1;
            }
        } else if quoted {
            if b == b'\\' {
                i += 1;
                if i < buf.len() {
                    push_bounded(&mut value, buf[i], &key)?;
                    i += 1;
                } else {
                    return Err(SaslError::Malformed(format!(
                        "unterminated quoted value of {:?}",
                        lossy(&key)
                    )));
                }
            } else if b == b'"' {
                i += 1;
                quoted = false;
                expect_separator = true;
            } else {
                push_bounded(&mut value, b, &key)?;
                i += 1;
            }
        } else if is_lws(b) || b == b',' {
            out.push((std::mem::take(&mut key), std::mem::take(&mut value)));
            getting_key = true;
            expect_separator = false;
            i = skip_lws(buf, i + 1);
        } else if expect_separator {
            return Err(SaslError::Malformed(format!(
                "expecting ',' or white space after the quoted value of {:?}",
                lossy(&key)
            )));
        } else {
            push_bounded(&mut value, b, &key)?;
            i += 1;
        }
    }
    if quoted {
        return Err(SaslError::Malformed(format!(
            "unterminated quoted value of {:?}",
            lossy(&key)
        )));
    }
    if !key.is_empty() {
        out.push((key, value));
    }
    Ok(out)
}

/// The directives of one message, by the index of their key in a table (as the JDK's
/// `extractDirective`): known keys at most once (except `multi`, collected in order), unknown
/// keys ignored, keys matched without regard to ASCII case.
struct Directives {
    values: Vec<Option<Vec<u8>>>,
    multi: Vec<Vec<u8>>,
}

impl Directives {
    fn parse(buf: &[u8], keys: &[&str], multi: Option<usize>) -> Result<Self, SaslError> {
        let mut values: Vec<Option<Vec<u8>>> = vec![None; keys.len()];
        let mut all_multi = Vec::new();
        for (k, v) in parse_directives(buf)? {
            let Some(idx) = keys
                .iter()
                .position(|t| t.as_bytes().eq_ignore_ascii_case(&k))
            else {
                continue;
            };
            if Some(idx) == multi {
                all_multi.push(v.clone());
            }
            if values[idx].is_none() {
                values[idx] = Some(v);
            } else if Some(idx) != multi {
                return Err(SaslError::DuplicateDirective(keys[idx].to_string()));
            }
        }
        Ok(Directives {
            values,
            multi: all_multi,
        })
    }

    fn get(&self, idx: usize) -> Option<&[u8]> {
        self.values[idx].as_deref()
    }
}

fn needs_escape(b: u8) -> bool {
    b == b'"' || b == b'\\' || b == 127 || (b <= 31 && b != 13 && b != 9 && b != 10)
}

fn write_quoted(out: &mut Vec<u8>, value: &[u8]) {
    for &b in value {
        if needs_escape(b) {
            out.push(b'\\');
        }
        out.push(b);
    }
}

// ---------------------------------------------------------------------------------------------
// The digest (DigestMD5Base.generateResponseValue)
// ---------------------------------------------------------------------------------------------

/// `String.getBytes(ISO_8859_1)`: characters past U+00FF become `?`.
fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| {
            if (c as u32) <= 0xFF {
                c as u32 as u8
            } else {
                b'?'
            }
        })
        .collect()
}

/// `getBytes(encoding)`: UTF-8 once `charset=utf-8` is in force, else ISO-8859-1.
fn encode(s: &str, utf8: bool) -> Vec<u8> {
    if utf8 {
        s.as_bytes().to_vec()
    } else {
        latin1(s)
    }
}

/// `stringToByte_8859_1`: username, realm and password go into H(A1) as ISO-8859-1 when every
/// character fits (RFC 2831 §2.1.2.1), else (with utf-8 in force) as UTF-8.
fn latin1_if_possible(s: &str, utf8: bool) -> Vec<u8> {
    if utf8 && s.chars().any(|c| (c as u32) > 0xFF) {
        s.as_bytes().to_vec()
    } else {
        latin1(s)
    }
}

fn md5(data: &[u8]) -> [u8; 16] {
    let out = Md5::digest(data);
    let mut r = [0u8; 16];
    r.copy_from_slice(out.as_slice());
    r
}

fn hex(d: &[u8; 16]) -> [u8; 32] {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut r = [0u8; 32];
    for (i, b) in d.iter().enumerate() {
        r[2 * i] = H[(b >> 4) as usize];
        r[2 * i + 1] = H[(b & 15) as usize];
    }
    r
}

struct DigestInputs<'a> {
    digest_uri: &'a str,
    qop: &'a str,
    username: &'a str,
    realm: &'a str,
    password: &'a str,
    nonce: &'a [u8],
    cnonce: &'a [u8],
    authzid: Option<&'a [u8]>,
    utf8: bool,
}

/// The 32 lowercase hex digits of a response-value: `auth_method` is `AUTHENTICATE` for the
/// client's `response=`, empty for the server's `rspauth=`.
fn response_value(auth_method: &str, d: &DigestInputs<'_>) -> [u8; 32] {
    let mut a2 = encode(auth_method, d.utf8);
    a2.push(b':');
    a2.extend_from_slice(&encode(d.digest_uri, d.utf8));
    if d.qop == "auth-conf" || d.qop == "auth-int" {
        a2.extend_from_slice(SECURITY_LAYER_MARKER.as_bytes());
    }
    let hex_a2 = hex(&md5(&a2));

    let mut user_realm_pass = latin1_if_possible(d.username, d.utf8);
    user_realm_pass.push(b':');
    user_realm_pass.extend_from_slice(&latin1_if_possible(d.realm, d.utf8));
    user_realm_pass.push(b':');
    user_realm_pass.extend_from_slice(&latin1_if_possible(d.password, d.utf8));

    let mut a1 = md5(&user_realm_pass).to_vec();
    a1.push(b':');
    a1.extend_from_slice(d.nonce);
    a1.push(b':');
    a1.extend_from_slice(d.cnonce);
    if let Some(z) = d.authzid {
        a1.push(b':');
        a1.extend_from_slice(z);
    }
    let hex_a1 = hex(&md5(&a1));

    let mut kd = hex_a1.to_vec();
    kd.push(b':');
    kd.extend_from_slice(d.nonce);
    kd.push(b':');
    kd.extend_from_slice(NONCE_COUNT.as_bytes());
    kd.push(b':');
    kd.extend_from_slice(d.cnonce);
    kd.push(b':');
    kd.extend_from_slice(&encode(d.qop, d.utf8));
    kd.push(b':');
    kd.extend_from_slice(&hex_a2);
    hex(&md5(&kd))
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Java's `Integer.parseInt(s, radix)`: optional sign, at least one digit, fits an `i32`.
fn java_parse_int(s: &[u8], radix: u32) -> Option<i32> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        v = v * radix as i64 + (c as char).to_digit(radix)? as i64;
        if v > i32::MAX as i64 + 1 {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    i32::try_from(v).ok()
}

/// Java's `String.equalsIgnoreCase`, char by char.
fn java_eq_ignore_case(a: &str, b: &str) -> bool {
    fn one(c: char, upper: bool) -> char {
        let mut it: Box<dyn Iterator<Item = char>> = if upper {
            Box::new(c.to_uppercase())
        } else {
            Box::new(c.to_lowercase())
        };
        match (it.next(), it.next()) {
            (Some(x), None) => x,
            _ => c,
        }
    }
    let (mut x, mut y) = (a.chars(), b.chars());
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(c1), Some(c2)) => {
                if c1 == c2 {
                    continue;
                }
                let (u1, u2) = (one(c1, true), one(c2, true));
                if u1 == u2 || one(u1, false) == one(u2, false) {
                    continue;
                }
                return false;
            }
            _ => return false,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Authorization (ZooKeeper's callback handlers)
// ---------------------------------------------------------------------------------------------

/// How ZooKeeper's `SaslServerCallbackHandler` turns the authenticated user name into the `sasl`
/// id (`KerberosName`, the `DEFAULT` `auth_to_local` rule only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrincipalRules {
    /// `zookeeper.kerberos.removeHostFromPrincipal=true`.
    pub remove_host: bool,
    /// `zookeeper.kerberos.removeRealmFromPrincipal=true`.
    pub remove_realm: bool,
    /// The Kerberos default realm (`krb5.conf`'s); empty where there is none, as in the JDK
    /// without a Kerberos configuration.
    pub default_realm: String,
}

impl PrincipalRules {
    /// The id for user `authcid`, `authzid` being what the client asked for (or `authcid`).
    ///
    /// A name without `@` is taken whole (`a/b` stays `a/b`): that is every ordinary DIGEST
    /// user, whose id is just the user name, whatever the two switches say. A name
    /// `svc[/host]@REALM` is shortened to `svc` (then `/host` and `@REALM` put back unless
    /// removed) when REALM is the default realm; otherwise no rule applies, ZooKeeper logs the
    /// failure and the id stays the client's authzid (or the user name). A name with `@` that is
    /// not of that shape is refused.
    pub fn canonical_id(&self, authcid: &str, authzid: &str) -> Result<String, SaslError> {
        let (service, host, realm) = match authcid.find('@') {
            None => (authcid, None, None),
            Some(at) => {
                let (before, realm) = (&authcid[..at], &authcid[at + 1..]);
                if realm.contains(['/', '@']) {
                    return Err(SaslError::MalformedPrincipal(authcid.to_string()));
                }
                match before.find('/') {
                    None => (before, None, Some(realm)),
                    Some(sl) => {
                        let host = &before[sl + 1..];
                        if host.contains('/') {
                            return Err(SaslError::MalformedPrincipal(authcid.to_string()));
                        }
                        (&before[..sl], Some(host), Some(realm))
                    }
                }
            }
        };
        let short = match realm {
            None => service,
            Some(r) if r == self.default_realm => service,
            Some(_) => return Ok(authzid.to_string()),
        };
        let mut id = short.to_string();
        if let (Some(h), false) = (host, self.remove_host) {
            id.push('/');
            id.push_str(h);
        }
        if let (Some(r), false) = (realm, self.remove_realm) {
            id.push('@');
            id.push_str(r);
        }
        Ok(id)
    }
}

/// Which ZooKeeper callback handler decides whether the authenticated user may act as the
/// authzid, and what the authorization id becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authorization {
    /// The client port's `SaslServerCallbackHandler`: always authorized; the authzid the client
    /// sent is ignored and the id is the user name, canonicalized by [`PrincipalRules`].
    ClientPort(PrincipalRules),
    /// The quorum's `SaslQuorumServerCallbackHandler` (DIGEST): authorized only when the authzid
    /// (the user name when absent) equals the user name; the id is that name.
    Quorum,
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

const SERVER_KEYS: &[&str] = &[
    "username",
    "realm",
    "nonce",
    "cnonce",
    "nonce-count",
    "qop",
    "digest-uri",
    "response",
    "maxbuf",
    "charset",
    "cipher",
    "authzid",
    "auth-param",
    "nc",
];
const S_USERNAME: usize = 0;
const S_REALM: usize = 1;
const S_NONCE: usize = 2;
const S_CNONCE: usize = 3;
const S_NONCE_COUNT: usize = 4;
const S_QOP: usize = 5;
const S_DIGEST_URI: usize = 6;
const S_RESPONSE: usize = 7;
const S_MAXBUF: usize = 8;
const S_CHARSET: usize = 9;
const S_AUTHZID: usize = 11;
const S_NC: usize = 13;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerState {
    Initial,
    Challenged,
    Complete,
    Failed,
}

/// The server side of one DIGEST-MD5 exchange, as `com.sun.security.sasl.digest.DigestMD5Server`.
///
/// Flow on ZooKeeper's client port: the client's first SASL token is empty and the server
/// answers [`challenge`](Self::challenge); the client's second token is the digest-response and
/// the server answers with [`respond`](Self::respond)'s `rspauth=…`, after which
/// [`authorization_id`](Self::authorization_id) is the `sasl` id to add to the session.
/// [`evaluate`](Self::evaluate) does both steps like `SaslServer.evaluateResponse`.
#[derive(Clone, Debug)]
pub struct DigestMd5Server {
    digest_uri: String,
    realm: String,
    nonce: String,
    authorization: Authorization,
    state: ServerState,
    username: Option<String>,
    authorization_id: Option<String>,
}

impl DigestMd5Server {
    /// A server for ZooKeeper's client port (digest-uri `zookeeper/zk-sasl-md5`) with realm
    /// `realm` (ZooKeeper's is [`ZK_SERVER_NAME`]) and the nonce the caller drew (the JDK's is
    /// [`java_nonce`] of 30 random bytes; it must be unpredictable and never reused).
    pub fn new(realm: &str, nonce: String) -> Self {
        Self::for_service(ZK_PROTOCOL, ZK_SERVER_NAME, nonce).with_realm(realm)
    }

    /// Exactly what ZooKeeper 3.8 runs on its client port.
    pub fn zookeeper(nonce: String) -> Self {
        Self::for_service(ZK_PROTOCOL, ZK_SERVER_NAME, nonce)
    }

    /// Exactly what ZooKeeper 3.8 runs for a learner connecting to it (`SaslQuorumAuthServer`).
    pub fn quorum(nonce: String) -> Self {
        Self::for_service(QUORUM_PROTOCOL, QUORUM_SERVER_NAME, nonce)
            .with_authorization(Authorization::Quorum)
    }

    /// `Sasl.createSaslServer("DIGEST-MD5", protocol, server_name, null, …)`: realm and
    /// digest-uri host are `server_name`.
    pub fn for_service(protocol: &str, server_name: &str, nonce: String) -> Self {
        DigestMd5Server {
            digest_uri: format!("{protocol}/{server_name}"),
            realm: server_name.to_string(),
            nonce,
            authorization: Authorization::ClientPort(PrincipalRules::default()),
            state: ServerState::Initial,
            username: None,
            authorization_id: None,
        }
    }

    /// Uses `realm` instead of the server name (the JDK's `com.sun.security.sasl.digest.realm`).
    pub fn with_realm(mut self, realm: &str) -> Self {
        self.realm = realm.to_string();
        self
    }

    pub fn with_authorization(mut self, authorization: Authorization) -> Self {
        self.authorization = authorization;
        self
    }

    /// The digest-challenge, byte for byte as the JDK's:
    /// `realm="zk-sasl-md5",nonce="…",charset=utf-8,algorithm=md5-sess`.
    pub fn challenge(&mut self) -> Vec<u8> {
        if self.state == ServerState::Initial {
            self.state = ServerState::Challenged;
        }
        let mut out = Vec::with_capacity(96 + self.nonce.len() + self.realm.len());
        out.extend_from_slice(b"realm=\"");
        write_quoted(&mut out, self.realm.as_bytes());
        out.extend_from_slice(b"\",nonce=\"");
        write_quoted(&mut out, self.nonce.as_bytes());
        out.extend_from_slice(b"\",charset=utf-8,algorithm=md5-sess");
        out
    }

    /// `SaslServer.evaluateResponse`: the first token (empty from every ZooKeeper client; the
    /// current JDK ignores a non-empty one) gets the challenge, the second is checked by
    /// [`respond`](Self::respond); anything after that is refused.
    pub fn evaluate(
        &mut self,
        token: &[u8],
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<u8>, SaslError> {
        if token.len() > MAX_RESPONSE_LEN {
            self.state = ServerState::Failed;
            return Err(SaslError::TooLong {
                len: token.len(),
                max: MAX_RESPONSE_LEN,
            });
        }
        match self.state {
            ServerState::Initial => Ok(self.challenge()),
            ServerState::Challenged => self.respond(token, lookup),
            ServerState::Complete => Err(SaslError::State("exchange already complete")),
            ServerState::Failed => Err(SaslError::State("exchange already failed")),
        }
    }

    /// Checks the client's digest-response against the password `lookup` gives for its user
    /// name, and answers `rspauth=<32 hex>`. On any error the exchange is over (as the JDK's).
    pub fn respond(
        &mut self,
        response: &[u8],
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<u8>, SaslError> {
        match self.state {
            ServerState::Challenged => {}
            ServerState::Initial => {
                return Err(SaslError::State("digest-response before the challenge"))
            }
            ServerState::Complete => return Err(SaslError::State("exchange already complete")),
            ServerState::Failed => return Err(SaslError::State("exchange already failed")),
        }
        let result = self.validate(response, lookup);
        self.state = if result.is_ok() {
            ServerState::Complete
        } else {
            ServerState::Failed
        };
        result
    }

    /// `validateClientResponse`, in the JDK's order of checks.
    fn validate(
        &mut self,
        response: &[u8],
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<u8>, SaslError> {
        if response.len() > MAX_RESPONSE_LEN {
            return Err(SaslError::TooLong {
                len: response.len(),
                max: MAX_RESPONSE_LEN,
            });
        }
        let d = Directives::parse(response, SERVER_KEYS, None)?;

        if let Some(cs) = d.get(S_CHARSET) {
            if cs != b"utf-8" {
                return Err(SaslError::BadCharset(lossy(cs)));
            }
        }
        if let Some(mb) = d.get(S_MAXBUF) {
            if java_parse_int(mb, 10).is_none() {
                return Err(SaslError::BadMaxbuf(lossy(mb)));
            }
        }
        let username = lossy(
            d.get(S_USERNAME)
                .ok_or(SaslError::MissingDirective("username"))?,
        );
        let realm = d.get(S_REALM).map(lossy).unwrap_or_default();
        if realm != self.realm {
            return Err(SaslError::WrongRealm {
                got: realm,
                expected: self.realm.clone(),
            });
        }
        let nonce = d.get(S_NONCE).ok_or(SaslError::MissingDirective("nonce"))?;
        if nonce != self.nonce.as_bytes() {
            return Err(SaslError::NonceMismatch);
        }
        let cnonce = d
            .get(S_CNONCE)
            .ok_or(SaslError::MissingDirective("cnonce"))?;
        // The JDK's table names it "nonce-count" (so the `nc` every client sends goes unread and
        // the digest is computed with 00000001 regardless); this reads both and refuses any
        // other count up front, which fails exactly the responses the JDK's digest check fails.
        for idx in [S_NONCE_COUNT, S_NC] {
            if let Some(nc) = d.get(idx) {
                if java_parse_int(nc, 16) != Some(1) {
                    return Err(SaslError::BadNonceCount(lossy(nc)));
                }
            }
        }
        let qop = d
            .get(S_QOP)
            .map(lossy)
            .unwrap_or_else(|| "auth".to_string());
        if qop != "auth" {
            return Err(SaslError::UnsupportedQop(qop));
        }
        let digest_uri = d.get(S_DIGEST_URI).map(lossy);
        let digest_uri = match digest_uri {
            Some(u) if java_eq_ignore_case(&self.digest_uri, &u) => u,
            got => {
                return Err(SaslError::DigestUriMismatch {
                    got,
                    expected: self.digest_uri.clone(),
                })
            }
        };
        let client_response = d
            .get(S_RESPONSE)
            .ok_or(SaslError::MissingDirective("response"))?;
        let authzid_bytes = d.get(S_AUTHZID);
        let authzid = authzid_bytes.map(lossy).unwrap_or_else(|| username.clone());

        let password = lookup(&username).ok_or_else(|| SaslError::UnknownUser(username.clone()))?;
        let inputs = DigestInputs {
            digest_uri: &digest_uri,
            qop: &qop,
            username: &username,
            realm: &realm,
            password: &password,
            nonce: self.nonce.as_bytes(),
            cnonce,
            authzid: authzid_bytes,
            utf8: true,
        };
        if !ct_eq(&response_value("AUTHENTICATE", &inputs), client_response) {
            return Err(SaslError::ResponseMismatch(username));
        }
        let id = match &self.authorization {
            Authorization::ClientPort(rules) => rules.canonical_id(&username, &authzid)?,
            Authorization::Quorum => {
                if authzid != username {
                    return Err(SaslError::NotAuthorized {
                        authcid: username,
                        authzid,
                    });
                }
                authzid
            }
        };
        let mut rspauth = b"rspauth=".to_vec();
        rspauth.extend_from_slice(&response_value("", &inputs));
        self.username = Some(username);
        self.authorization_id = Some(id);
        Ok(rspauth)
    }

    /// Whether the exchange has succeeded.
    pub fn is_complete(&self) -> bool {
        self.state == ServerState::Complete
    }

    /// After success: the id ZooKeeper adds as `Id("sasl", id)` (see [`Authorization`]).
    pub fn authorization_id(&self) -> Option<&str> {
        self.authorization_id.as_deref()
    }

    /// After success: the authenticated user name (authcid).
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    pub fn digest_uri(&self) -> &str {
        &self.digest_uri
    }
}

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

const CLIENT_KEYS: &[&str] = &[
    "realm",
    "qop",
    "algorithm",
    "nonce",
    "maxbuf",
    "charset",
    "cipher",
    "rspauth",
    "stale",
];
const C_REALM: usize = 0;
const C_QOP: usize = 1;
const C_ALGORITHM: usize = 2;
const C_NONCE: usize = 3;
const C_MAXBUF: usize = 4;
const C_CHARSET: usize = 5;
const C_RSPAUTH: usize = 7;

#[derive(Clone, PartialEq, Eq)]
enum ClientState {
    AwaitChallenge,
    AwaitRspauth([u8; 32]),
    Complete,
    Failed,
}

/// The client side, as `com.sun.security.sasl.digest.DigestMD5Client` (which ZooKeeper's Java
/// client and quorum learner use): no initial response (send an empty token first), then
/// [`respond`](Self::respond) to the challenge, then [`respond`](Self::respond) to `rspauth=…`
/// (which returns an empty token and completes: send nothing more).
#[derive(Clone)]
pub struct DigestMd5Client {
    username: String,
    password: String,
    authzid: Option<String>,
    digest_uri: String,
    cnonce: String,
    state: ClientState,
}

impl std::fmt::Debug for DigestMd5Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestMd5Client")
            .field("username", &self.username)
            .field("authzid", &self.authzid)
            .field("digest_uri", &self.digest_uri)
            .field("complete", &(self.state == ClientState::Complete))
            .finish_non_exhaustive()
    }
}

impl DigestMd5Client {
    /// `service`/`host` make the digest-uri (`zookeeper`/`zk-sasl-md5` for ZooKeeper); `cnonce`
    /// comes from the caller (the JDK's is [`java_nonce`] of 30 random bytes).
    pub fn new(
        username: &str,
        password: &str,
        authzid: Option<&str>,
        service: &str,
        host: &str,
        cnonce: String,
    ) -> Self {
        DigestMd5Client {
            username: username.to_string(),
            password: password.to_string(),
            authzid: authzid.map(str::to_string),
            digest_uri: format!("{service}/{host}"),
            cnonce,
            state: ClientState::AwaitChallenge,
        }
    }

    /// As ZooKeeper's Java client (`SecurityUtils.createSaslClient` passes the JAAS `username`
    /// as the authorization id too, so the response carries `authzid="<username>"`).
    pub fn zookeeper(username: &str, password: &str, cnonce: String) -> Self {
        Self::new(
            username,
            password,
            Some(username),
            ZK_PROTOCOL,
            ZK_SERVER_NAME,
            cnonce,
        )
    }

    /// As ZooKeeper's quorum learner (`SaslQuorumAuthLearner`), which likewise sends
    /// `authzid="<username>"`.
    pub fn quorum(username: &str, password: &str, cnonce: String) -> Self {
        Self::new(
            username,
            password,
            Some(username),
            QUORUM_PROTOCOL,
            QUORUM_SERVER_NAME,
            cnonce,
        )
    }

    /// First call: the digest-challenge in, the digest-response out. Second call: the
    /// `rspauth=…` in, an empty token out once the server has proved it knows the password.
    pub fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        if challenge.len() > MAX_CHALLENGE_LEN {
            self.state = ClientState::Failed;
            return Err(SaslError::TooLong {
                len: challenge.len(),
                max: MAX_CHALLENGE_LEN,
            });
        }
        match std::mem::replace(&mut self.state, ClientState::Failed) {
            ClientState::AwaitChallenge => {
                let (resp, rspauth) = self.digest_response(challenge)?;
                self.state = ClientState::AwaitRspauth(rspauth);
                Ok(resp)
            }
            ClientState::AwaitRspauth(expected) => {
                let d = Directives::parse(challenge, CLIENT_KEYS, None)?;
                let got = d
                    .get(C_RSPAUTH)
                    .ok_or(SaslError::MissingDirective("rspauth"))?;
                if !ct_eq(&expected, got) {
                    return Err(SaslError::ServerAuthMismatch);
                }
                self.state = ClientState::Complete;
                Ok(Vec::new())
            }
            ClientState::Complete => {
                self.state = ClientState::Complete;
                Err(SaslError::State("exchange already complete"))
            }
            ClientState::Failed => Err(SaslError::State("exchange already failed")),
        }
    }

    /// Whether the server has answered with the right `rspauth`.
    pub fn is_complete(&self) -> bool {
        self.state == ClientState::Complete
    }

    /// `processChallenge`, `checkQopSupport` and `generateClientResponse`.
    fn digest_response(&self, challenge: &[u8]) -> Result<(Vec<u8>, [u8; 32]), SaslError> {
        let d = Directives::parse(challenge, CLIENT_KEYS, Some(C_REALM))?;
        let charset = d.get(C_CHARSET);
        if let Some(cs) = charset {
            if latin1_decode(cs) != "utf-8" {
                return Err(SaslError::BadCharset(lossy(cs)));
            }
        }
        let utf8 = charset.is_some();
        let decode = |b: &[u8]| if utf8 { lossy(b) } else { latin1_decode(b) };
        match d.get(C_ALGORITHM) {
            Some(a) if decode(a) == "md5-sess" => {}
            other => return Err(SaslError::BadAlgorithm(other.map(decode))),
        }
        let nonce = d.get(C_NONCE).ok_or(SaslError::MissingDirective("nonce"))?;
        // One realm: that one; several: the first (the default choice); none: empty.
        let realm = d.multi.first().map(|r| decode(r)).unwrap_or_default();
        if let Some(mb) = d.get(C_MAXBUF) {
            if java_parse_int(mb, 10).is_none() {
                return Err(SaslError::BadMaxbuf(lossy(mb)));
            }
        }
        if let Some(q) = d.get(C_QOP) {
            let offered = decode(q);
            let has_auth = offered
                .split([',', ' ', '\t', '\n'])
                .any(|t| t.eq_ignore_ascii_case("auth"));
            if !has_auth {
                return Err(SaslError::NoCommonQop(offered));
            }
        }
        let qop = "auth";

        let quoted = |s: &str| {
            let mut v = Vec::new();
            write_quoted(&mut v, &encode(s, utf8));
            v
        };
        let mut out = Vec::with_capacity(256);
        if let Some(cs) = charset {
            out.extend_from_slice(b"charset=");
            out.extend_from_slice(cs);
            out.push(b',');
        }
        out.extend_from_slice(b"username=\"");
        out.extend_from_slice(&quoted(&self.username));
        out.extend_from_slice(b"\",");
        if !realm.is_empty() {
            out.extend_from_slice(b"realm=\"");
            out.extend_from_slice(&quoted(&realm));
            out.extend_from_slice(b"\",");
        }
        out.extend_from_slice(b"nonce=\"");
        write_quoted(&mut out, nonce);
        out.extend_from_slice(b"\",nc=");
        out.extend_from_slice(NONCE_COUNT.as_bytes());
        out.extend_from_slice(b",cnonce=\"");
        write_quoted(&mut out, self.cnonce.as_bytes());
        out.extend_from_slice(b"\",digest-uri=\"");
        out.extend_from_slice(&encode(&self.digest_uri, utf8));
        out.extend_from_slice(b"\",maxbuf=65536,response=");
        let authzid = self.authzid.as_deref().map(str::as_bytes);
        let inputs = DigestInputs {
            digest_uri: &self.digest_uri,
            qop,
            username: &self.username,
            realm: &realm,
            password: &self.password,
            nonce,
            cnonce: self.cnonce.as_bytes(),
            authzid,
            utf8,
        };
        out.extend_from_slice(&response_value("AUTHENTICATE", &inputs));
        out.extend_from_slice(b",qop=auth");
        if let Some(z) = authzid {
            out.extend_from_slice(b",authzid=\"");
            write_quoted(&mut out, z);
            out.push(b'"');
        }
        if out.len() > MAX_RESPONSE_LEN {
            return Err(SaslError::TooLong {
                len: out.len(),
                max: MAX_RESPONSE_LEN,
            });
        }
        Ok((out, response_value("", &inputs)))
    }
}

fn latin1_decode(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

#[cfg(test)]
mod tests;
