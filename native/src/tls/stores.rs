//! TLS key and trust stores, read the way Apache ZooKeeper 3.8 reads them
//! (`X509Util.loadKeyStore`/`loadTrustStore`, `KeyStoreFileType`, the
//! `FileKeyStoreLoader` family and `util.PemReader`), for rustls.
//!
//! What ZooKeeper does, and what this module does:
//! - The type is `ssl.keyStore.type` / `ssl.trustStore.type` in any case, else the
//!   path's extension, exactly `.pem`, `.p12`, `.jks` or `.bcfks` (case-sensitive).
//! - Java 9+ reads JKS and PKCS12 under either type name ("dual format" key stores:
//!   `keytool` has written PKCS12 by default since Java 9, whatever the file is
//!   called), so for those two types the file's first bytes pick the parser.
//! - A missing password is an empty one, as in ZooKeeper.
//! - Key store: the first private-key entry (in file order) that has a certificate
//!   chain; its key is decrypted with the store password, as ZooKeeper's
//!   `KeyManagerFactory.init(keyStore, keyStorePassword)` does.
//! - Trust store: JKS trusted-certificate entries (not key entries: ZooKeeper's
//!   `PKIXBuilderParameters` ignore them); PKCS12 certificates carrying Java's
//!   trusted-key-usage attribute; every certificate of a PEM file.
//!
//! Where this module accepts more than Apache ZooKeeper 3.8 does:
//! - PEM keys in PKCS#1 (`RSA PRIVATE KEY`) and SEC1 (`EC PRIVATE KEY`) form, and an
//!   unencrypted PEM key when a password is set (PemReader wants PKCS#8, and
//!   wants it encrypted when a password is set).
//! - Encrypted PEM keys in PBES2 (OpenSSL 3's default), which ZooKeeper on Java 17
//!   refuses ("PBES2 SecretKeyFactory not available"; later Javas read PBKDF2 with
//!   AES), and PBES2 with DES-EDE3-CBC or scrypt, which no Java reads.
//! - PKCS12 trust stores: also certificates not tied to a private key, so stores
//!   made by OpenSSL (which never sets Java's attribute) work; Java finds no trust
//!   anchor in them.
//! - A JKS trust store read without a password: its integrity digest is not
//!   checked (Java's `KeyStore.load(in, null)`); ZooKeeper passes an empty password
//!   instead, so the check fails and the store is refused.
//!
//! - The type value is trimmed ("PEM " is PEM; Java's `valueOf` would refuse it).
//!
//! Java writes EC private keys without their (optional) public key, which *ring*
//! refuses; the leaf certificate's public key is put back into such keys.
//!
//! Nothing here panics on a malformed file, and no length read from a file is
//! allocated before it is checked against the bytes that are really there.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64ct::Encoding as _;
use der::asn1::{ObjectIdentifier, OctetStringRef};
use der::{AnyRef, Decode, Encode, Reader, SliceReader, Tag, Tagged};
use p12_keystore::{CertificateBag, Pkcs12Archive};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha1::{Digest, Sha1};
use spki::AlgorithmIdentifierRef;
use zeroize::Zeroizing;

/// The largest store file read. Real stores have a few KiB; the cap bounds what a
/// wrong path (a log, a device) can make the server read.
pub const MAX_STORE_SIZE: u64 = 16 * 1024 * 1024;

/// The largest PBKDF2 or PKCS#12 KDF iteration count accepted for an encrypted PEM
/// key: the limit p12-keystore applies to PKCS12 stores.
const MAX_KDF_ITERATIONS: u32 = 1_000_000;

/// The most memory an scrypt-protected PEM key may ask for (128 · N · r bytes).
const MAX_SCRYPT_MEMORY: u64 = 256 * 1024 * 1024;

/// A store file format, as ZooKeeper's `KeyStoreFileType` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreType {
    Pem,
    Pkcs12,
    Jks,
    Bcfks,
}

impl StoreType {
    /// ZooKeeper's `KeyStoreFileType.fromPropertyValueOrFileName`: the
    /// `ssl.keyStore.type` (or `ssl.trustStore.type`) value if set, in any case,
    /// else the extension at the end of the path: `.pem`, `.p12`, `.jks` or
    /// `.bcfks`, exactly (`.pfx`, `.crt`, `.key` or `.JKS` are not recognised).
    pub fn resolve(prop: Option<&str>, path: &Path) -> Result<StoreType, StoreError> {
        match prop.map(str::trim).filter(|v| !v.is_empty()) {
            Some(value) => {
                Self::from_property_value(value).ok_or_else(|| StoreError::UnknownType {
                    path: path.to_path_buf(),
                    value: value.to_owned(),
                })
            }
            None => Self::from_file_name(path).ok_or_else(|| StoreError::UnknownExtension {
                path: path.to_path_buf(),
            }),
        }
    }

    fn from_property_value(value: &str) -> Option<Self> {
        match value.to_ascii_uppercase().as_str() {
            "PEM" => Some(Self::Pem),
            "PKCS12" => Some(Self::Pkcs12),
            "JKS" => Some(Self::Jks),
            "BCFKS" => Some(Self::Bcfks),
            _ => None,
        }
    }

    fn from_file_name(path: &Path) -> Option<Self> {
        // Like Java, everything from the last '.' of the whole path, case-sensitively.
        let name = path.to_string_lossy();
        match &name[name.rfind('.')?..] {
            ".pem" => Some(Self::Pem),
            ".p12" => Some(Self::Pkcs12),
            ".jks" => Some(Self::Jks),
            ".bcfks" => Some(Self::Bcfks),
            _ => None,
        }
    }
}

impl fmt::Display for StoreType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pem => "PEM",
            Self::Pkcs12 => "PKCS12",
            Self::Jks => "JKS",
            Self::Bcfks => "BCFKS",
        })
    }
}

/// Which of the two stores a file was read as (for messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreRole {
    KeyStore,
    TrustStore,
}

impl fmt::Display for StoreRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::KeyStore => "key store",
            Self::TrustStore => "trust store",
        })
    }
}

/// A server's (or client's) own certificate chain, end-entity first, and its key.
#[derive(Debug)]
pub struct KeyMaterial {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// Why a store could not be loaded. Every message starts with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: unknown store type {value:?}; expected PEM, PKCS12, JKS or BCFKS", path.display())]
    UnknownType { path: PathBuf, value: String },

    #[error(
        "{}: cannot tell the store type from the file name: Apache ZooKeeper knows only the \
         extensions .pem, .p12, .jks and .bcfks; set ssl.keyStore.type or ssl.trustStore.type",
        path.display()
    )]
    UnknownExtension { path: PathBuf },

    #[error(
        "{}: BCFKS stores are not supported: BCFKS is the Bouncy Castle FIPS key store, a format \
         that only the Bouncy Castle FIPS Java provider reads (Apache ZooKeeper too needs that \
         provider for it) and that has no Rust implementation; convert the store to PKCS12 with \
         keytool -importkeystore (-srcstoretype BCFKS with the provider, -deststoretype PKCS12)",
        path.display()
    )]
    BcfksNotSupported { path: PathBuf },

    #[error("{}: {role} file not found", path.display())]
    NotFound { path: PathBuf, role: StoreRole },

    #[error("{}: cannot read the {role}: {source}", path.display())]
    Io {
        path: PathBuf,
        role: StoreRole,
        source: io::Error,
    },

    #[error("{}: the {role} file has {size} bytes, more than the {} a store may have", path.display(), MAX_STORE_SIZE)]
    TooLarge {
        path: PathBuf,
        role: StoreRole,
        size: u64,
    },

    #[error("{}: wrong password for the {kind} {role}: {detail}", path.display())]
    WrongPassword {
        path: PathBuf,
        kind: StoreType,
        role: StoreRole,
        detail: String,
    },

    #[error("{}: the {kind} {role} needs a password, and none was given: {detail}", path.display())]
    PasswordNeeded {
        path: PathBuf,
        kind: StoreType,
        role: StoreRole,
        detail: String,
    },

    #[error(
        "{}: the private key is encrypted (BEGIN ENCRYPTED PRIVATE KEY) but no password was given \
         (ssl.keyStore.password)",
        path.display()
    )]
    EncryptedKeyWithoutPassword { path: PathBuf },

    #[error("{}: no private key in the {kind} key store: {detail}", path.display())]
    NoPrivateKey {
        path: PathBuf,
        kind: StoreType,
        detail: String,
    },

    #[error("{}: the private key entry {alias:?} of the {kind} key store has no certificate chain", path.display())]
    NoCertificateChain {
        path: PathBuf,
        kind: StoreType,
        alias: String,
    },

    #[error(
        "{}: no certificate in the PEM key store: the file must hold the private key and its \
         certificate chain",
        path.display()
    )]
    NoCertificate { path: PathBuf },

    #[error("{}: no trusted certificate in the {kind} trust store{detail}", path.display())]
    NoTrustedCertificate {
        path: PathBuf,
        kind: StoreType,
        detail: String,
    },

    #[error("{}: not supported in a {kind} {role}: {what}", path.display())]
    Unsupported {
        path: PathBuf,
        kind: StoreType,
        role: StoreRole,
        what: String,
    },

    #[error("{}: unreadable {kind} {role}: {detail}", path.display())]
    Corrupt {
        path: PathBuf,
        kind: StoreType,
        role: StoreRole,
        detail: String,
    },
}

/// Loads the key store: the private key and its certificate chain.
///
/// `kind` is `ssl.keyStore.type`; without it the file name decides (see
/// [`StoreType::resolve`]). The password opens the store and decrypts the key.
pub fn load_key_store(
    path: &Path,
    password: Option<&str>,
    kind: Option<&str>,
) -> Result<KeyMaterial, StoreError> {
    let cx = Context::new(path, kind, StoreRole::KeyStore)?;
    let data = cx.read()?;
    let password = password.filter(|p| !p.is_empty());
    let mut material = match cx.kind {
        StoreType::Pem => pem_key_store(&cx, &data, password),
        _ => match cx.container(&data)? {
            Container::Jks => jks_key_store(&cx, &data, password),
            Container::Pkcs12 => pkcs12_key_store(&cx, &data, password),
        },
    }?;
    if let Some(key) = material
        .chain
        .first()
        .and_then(|leaf| with_ec_public_key(&material.key, leaf))
    {
        material.key = key;
    }
    Ok(material)
}

/// Java (keytool, JKS and PKCS12 alike) writes EC private keys without the optional
/// public key, which *ring* requires. Returns the key with the public key of the leaf
/// certificate added, when the key is such a key and the certificate is for the same
/// curve; ring still checks that the two belong together.
fn with_ec_public_key(
    key: &PrivateKeyDer<'_>,
    leaf: &CertificateDer<'_>,
) -> Option<PrivateKeyDer<'static>> {
    const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    let PrivateKeyDer::Pkcs8(key) = key else {
        return None;
    };
    let info = pkcs8::PrivateKeyInfoRef::try_from(key.secret_pkcs8_der()).ok()?;
    let ec_key = sec1::EcPrivateKey::try_from(info.private_key.as_bytes()).ok()?;
    if info.algorithm.oid != EC_PUBLIC_KEY || ec_key.public_key.is_some() {
        return None;
    }
    let (_, cert) = x509_parser::parse_x509_certificate(leaf).ok()?;
    let spki = spki::SubjectPublicKeyInfoRef::try_from(cert.public_key().raw).ok()?;
    if spki.algorithm != info.algorithm {
        return None;
    }
    let ec_key = sec1::EcPrivateKey {
        public_key: Some(spki.subject_public_key.as_bytes()?),
        ..ec_key
    };
    let ec_der = Zeroizing::new(ec_key.to_der().ok()?);
    let info = pkcs8::PrivateKeyInfoRef {
        private_key: OctetStringRef::new(&ec_der).ok()?,
        ..info
    };
    Some(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        info.to_der().ok()?,
    )))
}

/// Loads the trust store: the certificates that peers' chains must lead to.
///
/// `kind` is `ssl.trustStore.type`; the password, if any, checks the store's
/// integrity (and decrypts a PKCS12 store's certificates).
pub fn load_trust_store(
    path: &Path,
    password: Option<&str>,
    kind: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let cx = Context::new(path, kind, StoreRole::TrustStore)?;
    let data = cx.read()?;
    let password = password.filter(|p| !p.is_empty());
    let mut certs = match cx.kind {
        StoreType::Pem => pem_certificates(&cx, &data)?,
        _ => match cx.container(&data)? {
            Container::Jks => jks_trust_store(&cx, &data, password)?,
            Container::Pkcs12 => pkcs12_trust_store(&cx, &data, password)?,
        },
    };
    // A certificate may be there twice (a PKCS12 trusted entry that is also in a chain).
    let mut seen = std::collections::HashSet::new();
    certs.retain(|c| seen.insert(c.clone()));
    if certs.is_empty() {
        return Err(StoreError::NoTrustedCertificate {
            path: cx.path.to_path_buf(),
            kind: cx.kind,
            detail: match cx.kind {
                StoreType::Pem => " (no BEGIN CERTIFICATE block)".into(),
                _ => " (its private-key entries do not count, as in ZooKeeper)".into(),
            },
        });
    }
    Ok(certs)
}

/// The file being read, and how, for reading and for building errors.
struct Context<'a> {
    path: &'a Path,
    kind: StoreType,
    role: StoreRole,
}

/// The two binary formats Java reads under either the JKS or the PKCS12 type.
enum Container {
    Jks,
    Pkcs12,
}

impl<'a> Context<'a> {
    fn new(path: &'a Path, kind: Option<&str>, role: StoreRole) -> Result<Self, StoreError> {
        let kind = StoreType::resolve(kind, path)?;
        if kind == StoreType::Bcfks {
            return Err(StoreError::BcfksNotSupported {
                path: path.to_path_buf(),
            });
        }
        Ok(Self { path, kind, role })
    }

    /// The whole file, refused past [`MAX_STORE_SIZE`]; wiped from memory when dropped.
    fn read(&self) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let io_error = |source: io::Error| match source.kind() {
            io::ErrorKind::NotFound => StoreError::NotFound {
                path: self.path.to_path_buf(),
                role: self.role,
            },
            _ => StoreError::Io {
                path: self.path.to_path_buf(),
                role: self.role,
                source,
            },
        };
        let too_large = |size| StoreError::TooLarge {
            path: self.path.to_path_buf(),
            role: self.role,
            size,
        };
        let file = File::open(self.path).map_err(io_error)?;
        let size = file.metadata().map_err(io_error)?.len();
        if size > MAX_STORE_SIZE {
            return Err(too_large(size));
        }
        // The size is only a hint (the file may change, or be a pipe): read at most one
        // byte past the cap to notice a longer file.
        let mut data = Zeroizing::new(Vec::with_capacity(size as usize));
        file.take(MAX_STORE_SIZE + 1)
            .read_to_end(&mut data)
            .map_err(io_error)?;
        if data.len() as u64 > MAX_STORE_SIZE {
            return Err(too_large(data.len() as u64));
        }
        Ok(data)
    }

    /// JKS or PKCS12, from the first bytes, as Java's dual-format key stores decide.
    fn container(&self, data: &[u8]) -> Result<Container, StoreError> {
        match data {
            [0xfe, 0xed, 0xfe, 0xed, ..] => Ok(Container::Jks),
            [0x30, ..] => Ok(Container::Pkcs12),
            [0xce, 0xce, 0xce, 0xce, ..] => Err(self.unsupported(
                "JCEKS stores (ZooKeeper's JKS and PKCS12 types cannot read them either); convert \
                 with keytool -importkeystore -deststoretype PKCS12",
            )),
            [] => Err(self.corrupt("the file is empty")),
            _ if data.trim_ascii_start().starts_with(b"-----BEGIN ") => Err(self.corrupt(
                "this is a PEM file; set the store type to PEM or give the file a .pem extension",
            )),
            _ => Err(self.corrupt("neither a JKS nor a PKCS12 store")),
        }
    }

    fn corrupt(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.path.to_path_buf(),
            kind: self.kind,
            role: self.role,
            detail: detail.into(),
        }
    }

    fn unsupported(&self, what: impl Into<String>) -> StoreError {
        StoreError::Unsupported {
            path: self.path.to_path_buf(),
            kind: self.kind,
            role: self.role,
            what: what.into(),
        }
    }

    fn wrong_password(&self, detail: impl Into<String>) -> StoreError {
        StoreError::WrongPassword {
            path: self.path.to_path_buf(),
            kind: self.kind,
            role: self.role,
            detail: detail.into(),
        }
    }

    fn password_needed(&self, detail: impl Into<String>) -> StoreError {
        StoreError::PasswordNeeded {
            path: self.path.to_path_buf(),
            kind: self.kind,
            role: self.role,
            detail: detail.into(),
        }
    }

    fn no_private_key(&self, detail: impl Into<String>) -> StoreError {
        StoreError::NoPrivateKey {
            path: self.path.to_path_buf(),
            kind: self.kind,
            detail: detail.into(),
        }
    }

    /// A certificate from the store, checked to be X.509 (as Java's
    /// `CertificateFactory` does when it loads a store).
    fn certificate(
        &self,
        der: &[u8],
        which: fmt::Arguments<'_>,
    ) -> Result<CertificateDer<'static>, StoreError> {
        x509_parser::parse_x509_certificate(der)
            .map_err(|e| self.corrupt(format!("{which} is not a valid X.509 certificate: {e}")))?;
        Ok(CertificateDer::from(der.to_vec()))
    }

    /// A PKCS#8 key (plaintext), checked to parse and to be of a kind rustls can sign with.
    fn pkcs8_key(&self, mut der: Zeroizing<Vec<u8>>) -> Result<PrivateKeyDer<'static>, StoreError> {
        let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice())
            .map_err(|e| self.corrupt(format!("the private key is not valid PKCS#8: {e}")))?;
        self.check_key_algorithm(info.algorithm.oid)?;
        // Move the bytes out, so that no copy is left behind unwiped.
        Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            std::mem::take(&mut *der),
        )))
    }

    /// Refuses key types that no rustls crypto provider signs with; rustls itself
    /// judges the rest (curves, sizes) when the server configuration is built.
    fn check_key_algorithm(&self, oid: ObjectIdentifier) -> Result<(), StoreError> {
        const DSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10040.4.1");
        const DH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.3.1");
        const X9_42_DH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10046.2.1");
        const X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");
        const X448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.111");
        const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
        let name = match oid {
            DSA => "DSA",
            DH | X9_42_DH => "Diffie-Hellman",
            X25519 => "X25519",
            X448 => "X448",
            ED448 => "Ed448",
            _ => return Ok(()),
        };
        Err(self.unsupported(format!(
            "a {name} private key: rustls signs only with RSA, ECDSA and Ed25519 keys"
        )))
    }
}

// ---------------------------------------------------------------------------
// PEM (ZooKeeper's PEMFileLoader and PemReader)

/// One `-----BEGIN label-----` … `-----END label-----` block.
struct PemBlock<'a> {
    label: &'a str,
    /// The base64 lines (RFC 1421 header lines left out).
    body: Vec<&'a str>,
    /// Whether the block has header lines such as `Proc-Type: 4,ENCRYPTED`.
    has_headers: bool,
}

/// The PEM blocks of a file, in order; text around them is ignored. rustls-pki-types
/// parses the blocks of kinds it knows; this finds the private key's label first, which
/// it does not report, and reads the `ENCRYPTED PRIVATE KEY` blocks it skips.
fn pem_blocks(text: &str) -> Vec<PemBlock<'_>> {
    let mut blocks = Vec::new();
    let mut open: Option<PemBlock<'_>> = None;
    for line in text.lines().map(str::trim) {
        if let Some(block) = open.as_mut() {
            let end = line
                .strip_prefix("-----END ")
                .and_then(|rest| rest.strip_suffix("-----"))
                .is_some_and(|label| label == block.label);
            if end {
                blocks.extend(open.take());
            } else if line.contains(':') {
                block.has_headers = true;
            } else {
                block.body.push(line);
            }
        } else if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|rest| rest.strip_suffix("-----"))
        {
            open = Some(PemBlock {
                label,
                body: Vec::new(),
                has_headers: false,
            });
        }
    }
    blocks
}

fn pem_key_store(
    cx: &Context<'_>,
    data: &[u8],
    password: Option<&str>,
) -> Result<KeyMaterial, StoreError> {
    let key = pem_private_key(cx, data, password)?;
    let chain = pem_certificates(cx, data)?;
    if chain.is_empty() {
        return Err(StoreError::NoCertificate {
            path: cx.path.to_path_buf(),
        });
    }
    Ok(KeyMaterial { chain, key })
}

/// Every `CERTIFICATE` block, in file order.
fn pem_certificates(
    cx: &Context<'_>,
    data: &[u8],
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let mut certs = Vec::new();
    for (i, cert) in CertificateDer::pem_slice_iter(data).enumerate() {
        let cert = cert.map_err(|e| cx.corrupt(format!("bad PEM: {e}")))?;
        certs.push(cx.certificate(&cert, format_args!("certificate #{}", i + 1))?);
    }
    Ok(certs)
}

/// The first block whose label ends in `PRIVATE KEY`, as PemReader takes it.
fn pem_private_key(
    cx: &Context<'_>,
    data: &[u8],
    password: Option<&str>,
) -> Result<PrivateKeyDer<'static>, StoreError> {
    // Like PemReader, which reads the file as US-ASCII, tolerate other bytes around the blocks.
    let text = String::from_utf8_lossy(data);
    let blocks = pem_blocks(&text);
    let Some(block) = blocks.iter().find(|b| b.label.ends_with("PRIVATE KEY")) else {
        return Err(
            cx.no_private_key("no BEGIN PRIVATE KEY block (nor RSA, EC or ENCRYPTED PRIVATE KEY)")
        );
    };
    match block.label {
        "ENCRYPTED PRIVATE KEY" => {
            let password = password.ok_or_else(|| StoreError::EncryptedKeyWithoutPassword {
                path: cx.path.to_path_buf(),
            })?;
            let der = base64ct::Base64::decode_vec(&block.body.concat())
                .map(Zeroizing::new)
                .map_err(|e| cx.corrupt(format!("bad base64 in the encrypted key: {e}")))?;
            let plain = decrypt_pkcs8(cx, &der, password)?;
            cx.pkcs8_key(plain)
        }
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" if block.has_headers => Err(cx
            .unsupported(format!(
                "a {} block with OpenSSL's legacy encryption headers (Proc-Type, DEK-Info); \
                 convert the key with openssl pkcs8 -topk8 (PKCS#8, encrypted or not)",
                block.label
            ))),
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
            // This block is also the first private key rustls-pki-types finds.
            let key = PrivateKeyDer::from_pem_slice(data)
                .map_err(|e| cx.corrupt(format!("bad PEM private key: {e}")))?;
            match key {
                PrivateKeyDer::Pkcs8(key) => {
                    cx.pkcs8_key(Zeroizing::new(key.secret_pkcs8_der().to_vec()))
                }
                // PKCS#1 and SEC1: checked to be one whole DER SEQUENCE; rustls parses the rest.
                key => match AnyRef::from_der(key.secret_der()) {
                    Ok(any) if any.tag() == Tag::Sequence => Ok(key),
                    _ => {
                        Err(cx.corrupt(format!("the {} block is not a DER SEQUENCE", block.label)))
                    }
                },
            }
        }
        other => Err(cx.unsupported(format!(
            "a {other} block; use a PKCS#8 key (BEGIN PRIVATE KEY or BEGIN ENCRYPTED PRIVATE KEY)"
        ))),
    }
}

/// An `EncryptedPrivateKeyInfo`: the encryption algorithm and the encrypted bytes.
fn parse_encrypted_key_info(der: &[u8]) -> der::Result<(AlgorithmIdentifierRef<'_>, &[u8])> {
    let mut reader = SliceReader::new(der)?;
    let parsed = reader.sequence(|r| {
        let algorithm = AlgorithmIdentifierRef::decode(r)?;
        let data = <&OctetStringRef>::decode(r)?;
        Ok::<_, der::Error>((algorithm, data.as_bytes()))
    })?;
    reader.finish()?;
    Ok(parsed)
}

/// Decrypts an encrypted PKCS#8 key: PBES2 (PBKDF2 or scrypt, with AES-CBC or
/// DES-EDE3-CBC), PBES1 with DES, or PKCS#12's SHA-1 3DES and RC2-40 ciphers (what
/// ZooKeeper's own tests write). Java reads the PBES1 and PKCS#12 ones.
fn decrypt_pkcs8(
    cx: &Context<'_>,
    der: &[u8],
    password: &str,
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
    const PKCS12_PBE_SHA1_3DES: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
    const PKCS12_PBE_SHA1_RC2_40: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6");

    let (algorithm, encrypted) = parse_encrypted_key_info(der)
        .map_err(|e| cx.corrupt(format!("the encrypted private key is not valid DER: {e}")))?;
    let wrong_password = || cx.wrong_password("the private key cannot be decrypted with it");
    if matches!(algorithm.oid, PKCS12_PBE_SHA1_3DES | PKCS12_PBE_SHA1_RC2_40) {
        use p12_keystore::error::Error;
        return decrypt_pkcs12_pbe(der, password)
            .map(Zeroizing::new)
            .map_err(|e| match e {
                Error::UnpadError | Error::InvalidPrivateKey => wrong_password(),
                Error::InvalidParameters => cx.unsupported(format!(
                    "an encrypted private key whose iteration count is over {MAX_KDF_ITERATIONS}"
                )),
                e => cx.corrupt(format!("the encrypted private key: {e}")),
            });
    }
    let scheme = pkcs5::EncryptionScheme::try_from(algorithm).map_err(|_| {
        cx.unsupported(if algorithm.oid == PBES2 {
            "the private key's encryption: PBES2 with an unknown key derivation or cipher".into()
        } else {
            format!("the private key's encryption algorithm {}", algorithm.oid)
        })
    })?;
    let plain = match scheme {
        pkcs5::EncryptionScheme::Pbes2(params) => {
            check_pbes2_limits(cx, &params.kdf)?;
            params.decrypt(password, encrypted).map_err(|e| match e {
                pkcs5::Error::DecryptFailed => wrong_password(),
                e => cx.unsupported(format!("the private key's encryption: {e}")),
            })?
        }
        pkcs5::EncryptionScheme::Pbes1(algorithm) => {
            decrypt_pbes1(cx, &algorithm, encrypted, password)?
        }
        _ => {
            return Err(cx.unsupported(format!(
                "the private key's encryption algorithm {}",
                algorithm.oid
            )))
        }
    };
    let plain = Zeroizing::new(plain);
    // A wrong password gives valid padding once in 256 tries; the key must then parse too.
    if pkcs8::PrivateKeyInfoRef::try_from(plain.as_slice()).is_err() {
        return Err(wrong_password());
    }
    Ok(plain)
}

/// Refuses PBES2 parameters that would take minutes or gigabytes to derive a key from.
fn check_pbes2_limits(cx: &Context<'_>, kdf: &pkcs5::pbes2::Kdf) -> Result<(), StoreError> {
    let ok = match kdf {
        pkcs5::pbes2::Kdf::Pbkdf2(p) => p.iteration_count <= MAX_KDF_ITERATIONS,
        pkcs5::pbes2::Kdf::Scrypt(p) => {
            p.parallelization <= 16
                && 128u64
                    .checked_mul(p.cost_parameter)
                    .and_then(|m| m.checked_mul(u64::from(p.block_size)))
                    .is_some_and(|m| m <= MAX_SCRYPT_MEMORY)
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(cx.unsupported(format!(
            "an encrypted private key whose key derivation costs more than {MAX_KDF_ITERATIONS} \
             PBKDF2 iterations or {} MiB of scrypt memory",
            MAX_SCRYPT_MEMORY >> 20
        )))
    }
}

/// PBES1 (RFC 8018 §6.1) with DES-CBC: PBKDF1 with MD5 or SHA-1 gives the DES key
/// and IV. pkcs5 parses these schemes but leaves decryption out.
fn decrypt_pbes1(
    cx: &Context<'_>,
    algorithm: &pkcs5::pbes1::Algorithm,
    encrypted: &[u8],
    password: &str,
) -> Result<Vec<u8>, StoreError> {
    use cbc::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
    use pkcs5::pbes1::EncryptionScheme as Scheme;

    fn pbkdf1<D: Digest>(password: &[u8], salt: &[u8], iterations: u16) -> Zeroizing<Vec<u8>> {
        let mut t = D::new()
            .chain_update(password)
            .chain_update(salt)
            .finalize();
        for _ in 1..iterations {
            t = D::digest(&t);
        }
        Zeroizing::new(t.to_vec())
    }

    let (salt, iterations) = (
        &algorithm.parameters.salt,
        algorithm.parameters.iteration_count,
    );
    let derived = match algorithm.encryption {
        Scheme::PbeWithMd5AndDesCbc => pbkdf1::<md5::Md5>(password.as_bytes(), salt, iterations),
        Scheme::PbeWithSha1AndDesCbc => pbkdf1::<Sha1>(password.as_bytes(), salt, iterations),
        other => {
            return Err(cx.unsupported(format!(
                "the private key's encryption algorithm {other:?} (RC2 or MD2)"
            )))
        }
    };
    let (key, iv) = derived[..16].split_at(8);
    cbc::Decryptor::<des::Des>::new_from_slices(key, iv)
        .map_err(|_| cx.corrupt("bad PBES1 parameters"))?
        .decrypt_padded_vec::<Pkcs7>(encrypted)
        .map_err(|_| cx.wrong_password("the private key cannot be decrypted with it"))
}

/// PKCS#12's password-based ciphers, which p12-keystore implements for the bags
/// of a PKCS12 file only: the key is wrapped in a minimal PFX without a MAC (one
/// authenticated-safe holding one shrouded key bag) and p12-keystore decrypts it.
fn decrypt_pkcs12_pbe(
    encrypted_key_info: &[u8],
    password: &str,
) -> Result<Vec<u8>, p12_keystore::error::Error> {
    const DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
    const SHROUDED_KEY_BAG: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");

    /// One DER element: tag, definite length, contents.
    fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut out = vec![tag];
        if len < 0x80 {
            out.push(len as u8);
        } else {
            let bytes = len.to_be_bytes();
            let skip = bytes.iter().take_while(|&&b| b == 0).count();
            out.push(0x80 | (bytes.len() - skip) as u8);
            out.extend_from_slice(&bytes[skip..]);
        }
        parts.iter().for_each(|p| out.extend_from_slice(p));
        out
    }
    const SEQUENCE: u8 = 0x30;
    const EXPLICIT_0: u8 = 0xa0;
    const OCTET_STRING: u8 = 0x04;
    let content_info = |contents: &[u8]| -> der::Result<Vec<u8>> {
        Ok(tlv(
            SEQUENCE,
            &[
                &DATA.to_der()?,
                &tlv(EXPLICIT_0, &[&tlv(OCTET_STRING, &[contents])]),
            ],
        ))
    };

    let bag = tlv(
        SEQUENCE,
        &[
            &SHROUDED_KEY_BAG.to_der()?,
            &tlv(EXPLICIT_0, &[encrypted_key_info]),
        ],
    );
    let authenticated_safe = tlv(SEQUENCE, &[&content_info(&tlv(SEQUENCE, &[&bag]))?]);
    let version_3 = [0x02, 0x01, 0x03];
    let pfx = Zeroizing::new(tlv(
        SEQUENCE,
        &[&version_3, &content_info(&authenticated_safe)?],
    ));
    let archive = Pkcs12Archive::from_pkcs12(&pfx, password)?;
    let key = archive
        .keys
        .into_iter()
        .next()
        .ok_or(p12_keystore::error::Error::InvalidData)?;
    Ok(key.key.as_der().to_vec())
}

// ---------------------------------------------------------------------------
// JKS (Java's JavaKeyStore format)
//
//   u32 magic 0xFEEDFEED, u32 version (1 or 2), u32 entry count, the entries, then
//   SHA-1(password as UTF-16BE ‖ "Mighty Aphrodite" ‖ everything before the digest).
//   entry: u32 tag (1 private key, 2 trusted certificate), alias (u16 length + modified
//   UTF-8), u64 date in ms; then for a key: u32 length + the protected key (an
//   EncryptedPrivateKeyInfo), u32 certificate count and the certificates; for a
//   trusted certificate: one certificate. certificate: (version 2 only) its type as a
//   string, then u32 length + DER.
//
// The jks crate (0.3) is not used: it allocates each claimed length (up to 4 GiB, and
// a Vec of up to 2^32 certificates) before reading, indexes the protected key's DER
// without bounds checks, always checks the digest (no password-less trust stores),
// and keeps entries in a HashMap (no "first" key entry).

const JKS_DIGEST_LEN: usize = 20;

#[derive(Debug)]
struct JksStore<'a> {
    keys: Vec<JksKeyEntry<'a>>,
    trusted: Vec<&'a [u8]>,
    /// Where the digest starts (the length of the digested content).
    digest_at: usize,
}

#[derive(Debug)]
struct JksKeyEntry<'a> {
    alias: String,
    protected_key: &'a [u8],
    chain: Vec<&'a [u8]>,
}

/// A bounds-checked reader over the file's bytes.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let left = self.data.len() - self.pos;
        if n > left {
            return Err(format!(
                "truncated: {n} bytes claimed at offset {}, {left} left",
                self.pos
            ));
        }
        let bytes = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_be_bytes)
    }

    /// A length-prefixed string (Java's `writeUTF`); only shown in messages.
    fn utf(&mut self) -> Result<String, String> {
        let len = u16::from_be_bytes(self.array()?);
        Ok(String::from_utf8_lossy(self.take(usize::from(len))?).into_owned())
    }

    fn blob(&mut self) -> Result<&'a [u8], String> {
        let len = self.u32()?;
        self.take(usize::try_from(len).map_err(|_| "length too large".to_string())?)
    }

    fn certificate(&mut self, version: u32) -> Result<&'a [u8], String> {
        if version == 2 {
            let kind = self.utf()?;
            if kind != "X.509" && kind != "X509" {
                return Err(format!("certificate of type {kind:?}"));
            }
        }
        self.blob()
    }
}

fn parse_jks(data: &[u8]) -> Result<JksStore<'_>, String> {
    let mut c = Cursor { data, pos: 0 };
    c.u32()?; // the magic, already matched
    let version = c.u32()?;
    if version != 1 && version != 2 {
        return Err(format!("unknown JKS version {version}"));
    }
    let count = c.u32()?;
    let mut store = JksStore {
        keys: Vec::new(),
        trusted: Vec::new(),
        digest_at: 0,
    };
    // Each entry takes at least 14 bytes, so a false count fails at the file's end.
    for i in 0..count {
        let tag = c.u32()?;
        let alias = c.utf()?;
        c.array::<8>()?; // creation date
        match tag {
            1 => {
                let protected_key = c.blob()?;
                let certs = c.u32()?;
                let mut chain = Vec::new();
                for _ in 0..certs {
                    chain.push(c.certificate(version)?);
                }
                store.keys.push(JksKeyEntry {
                    alias,
                    protected_key,
                    chain,
                });
            }
            2 => store.trusted.push(c.certificate(version)?),
            tag => return Err(format!("entry #{} has the unknown tag {tag}", i + 1)),
        }
    }
    store.digest_at = c.pos;
    c.take(JKS_DIGEST_LEN)?;
    Ok(store)
}

/// The password as Java hashes it: UTF-16 code units, big-endian.
fn jks_password(password: &str) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(password.encode_utf16().flat_map(u16::to_be_bytes).collect())
}

/// Whether the store's keyed SHA-1 digest matches the password.
fn jks_digest_matches(data: &[u8], store: &JksStore<'_>, password: &[u8]) -> bool {
    let digest = Sha1::new()
        .chain_update(password)
        .chain_update(b"Mighty Aphrodite")
        .chain_update(&data[..store.digest_at])
        .finalize();
    digest.as_slice() == &data[store.digest_at..store.digest_at + JKS_DIGEST_LEN]
}

fn open_jks<'d>(
    cx: &Context<'_>,
    data: &'d [u8],
    password: &[u8],
    check: bool,
) -> Result<JksStore<'d>, StoreError> {
    let store = parse_jks(data).map_err(|e| cx.corrupt(e))?;
    if check && !jks_digest_matches(data, &store, password) {
        return Err(if password.is_empty() {
            cx.password_needed("the store's integrity check fails without one")
        } else {
            cx.wrong_password(
                "the store's integrity check failed (wrong password, or the file was altered)",
            )
        });
    }
    Ok(store)
}

fn jks_key_store(
    cx: &Context<'_>,
    data: &[u8],
    password: Option<&str>,
) -> Result<KeyMaterial, StoreError> {
    let password = jks_password(password.unwrap_or(""));
    let store = open_jks(cx, data, &password, true)?;
    let Some(entry) = store.keys.iter().find(|k| !k.chain.is_empty()) else {
        return Err(match store.keys.first() {
            Some(entry) => StoreError::NoCertificateChain {
                path: cx.path.to_path_buf(),
                kind: cx.kind,
                alias: entry.alias.clone(),
            },
            None => cx.no_private_key("the store holds only trusted certificates"),
        });
    };
    let key = jks_recover_key(cx, entry, &password)?;
    let chain = entry
        .chain
        .iter()
        .enumerate()
        .map(|(i, der)| {
            cx.certificate(
                der,
                format_args!("certificate #{} of entry {:?}", i + 1, entry.alias),
            )
        })
        .collect::<Result<_, _>>()?;
    Ok(KeyMaterial {
        chain,
        key: cx.pkcs8_key(key)?,
    })
}

/// Decrypts a key with the JDK's own key protector (OID 1.3.6.1.4.1.42.2.17.1.1), the
/// only one JKS uses: salt(20) ‖ ciphertext ‖ check(20), where the ciphertext is the
/// PKCS#8 key XORed with SHA-1(password ‖ previous block) blocks, starting from the
/// salt, and check = SHA-1(password ‖ plaintext).
fn jks_recover_key(
    cx: &Context<'_>,
    entry: &JksKeyEntry<'_>,
    password: &[u8],
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    const JDK_KEY_PROTECTOR: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.3.6.1.4.1.42.2.17.1.1");
    let (algorithm, protected) = parse_encrypted_key_info(entry.protected_key).map_err(|e| {
        cx.corrupt(format!(
            "the private key of entry {:?} is not valid DER: {e}",
            entry.alias
        ))
    })?;
    if algorithm.oid != JDK_KEY_PROTECTOR {
        return Err(cx.unsupported(format!(
            "the key protection algorithm {} of entry {:?}",
            algorithm.oid, entry.alias
        )));
    }
    if protected.len() < 2 * JKS_DIGEST_LEN {
        return Err(cx.corrupt(format!(
            "the private key of entry {:?} is too short",
            entry.alias
        )));
    }
    let (salt, rest) = protected.split_at(JKS_DIGEST_LEN);
    let (ciphertext, check) = rest.split_at(rest.len() - JKS_DIGEST_LEN);
    let mut plain = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    let mut block = Sha1::new()
        .chain_update(password)
        .chain_update(salt)
        .finalize();
    for chunk in ciphertext.chunks(JKS_DIGEST_LEN) {
        plain.extend(chunk.iter().zip(block.iter()).map(|(c, k)| c ^ k));
        block = Sha1::new()
            .chain_update(password)
            .chain_update(block)
            .finalize();
    }
    let digest = Sha1::new()
        .chain_update(password)
        .chain_update(&*plain)
        .finalize();
    if digest.as_slice() != check {
        return Err(cx.wrong_password(format!(
            "it opens the store but not the private key of entry {:?}; ZooKeeper decrypts the key \
             with the store password, so the key password must be the same",
            entry.alias
        )));
    }
    Ok(plain)
}

fn jks_trust_store(
    cx: &Context<'_>,
    data: &[u8],
    password: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    // Without a password the digest cannot be checked: Java skips it then.
    let store = open_jks(
        cx,
        data,
        &jks_password(password.unwrap_or("")),
        password.is_some(),
    )?;
    store
        .trusted
        .iter()
        .enumerate()
        .map(|(i, der)| cx.certificate(der, format_args!("trusted certificate #{}", i + 1)))
        .collect()
}

// ---------------------------------------------------------------------------
// PKCS12 (p12-keystore decodes, checks the MAC and decrypts the bags)

fn open_pkcs12(
    cx: &Context<'_>,
    data: &[u8],
    password: Option<&str>,
) -> Result<Pkcs12Archive, StoreError> {
    use p12_keystore::error::Error;
    Pkcs12Archive::from_pkcs12(data, password.unwrap_or("")).map_err(|e| match e {
        Error::MacError(_) if password.is_none() => cx.password_needed("the store's integrity check (MAC) fails without one"),
        Error::MacError(_) => {
            cx.wrong_password("the store's integrity check (MAC) failed (wrong password, or the file was altered)")
        }
        Error::Pkcs5Error(ref m) if m.contains("unsupported") => cx.unsupported(m.clone()),
        Error::Pkcs5Error(_) | Error::UnpadError | Error::InvalidPrivateKey if password.is_none() => {
            cx.password_needed("the store's contents cannot be decrypted without one")
        }
        Error::Pkcs5Error(_) | Error::UnpadError | Error::InvalidPrivateKey => {
            cx.wrong_password("the store's contents cannot be decrypted with it")
        }
        Error::UnsupportedContentType
        | Error::UnsupportedEncryptionScheme
        | Error::UnsupportedMacAlgorithm
        | Error::UnsupportedCertificateType => cx.unsupported(format!("this PKCS12 file: {e}")),
        Error::InvalidParameters => cx.unsupported(
            "this PKCS12 file's encryption or MAC parameters (missing, or an iteration count over 1,000,000)",
        ),
        e => cx.corrupt(e.to_string()),
    })
}

fn pkcs12_key_store(
    cx: &Context<'_>,
    data: &[u8],
    password: Option<&str>,
) -> Result<KeyMaterial, StoreError> {
    let archive = open_pkcs12(cx, data, password)?;
    if archive.keys.is_empty() {
        return Err(cx.no_private_key("the store holds only certificates"));
    }
    for key in &archive.keys {
        // Keys find their certificate by local key ID; like Java, a store's only key
        // may go without one and take the certificate that has none.
        let leaf = match &key.local_key_id {
            Some(id) => archive
                .certs
                .iter()
                .find(|c| c.local_key_id.as_deref() == Some(id.as_ref())),
            None if archive.keys.len() == 1 => {
                archive.certs.iter().find(|c| c.local_key_id.is_none())
            }
            None => None,
        };
        if let Some(leaf) = leaf {
            cx.check_key_algorithm(key.key.oid())?;
            let chain = pkcs12_chain(leaf, &archive.certs);
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key.as_der().to_vec()));
            return Ok(KeyMaterial { chain, key });
        }
    }
    Err(StoreError::NoCertificateChain {
        path: cx.path.to_path_buf(),
        kind: cx.kind,
        alias: archive.keys[0].friendly_name.clone().unwrap_or_default(),
    })
}

/// The leaf, then each certificate's issuer found by name among the store's
/// certificates, up to a self-signed one (Java's PKCS12 chain building).
fn pkcs12_chain(leaf: &CertificateBag, certs: &[CertificateBag]) -> Vec<CertificateDer<'static>> {
    let mut chain = vec![&leaf.cert];
    let mut current = &leaf.cert;
    while current.subject() != current.issuer() {
        let issuer = certs
            .iter()
            .map(|c| &c.cert)
            .find(|c| c.subject() == current.issuer() && !chain.contains(c));
        let Some(issuer) = issuer else { break };
        chain.push(issuer);
        current = issuer;
    }
    chain
        .into_iter()
        .map(|c| CertificateDer::from(c.as_der().to_vec()))
        .collect()
}

fn pkcs12_trust_store(
    cx: &Context<'_>,
    data: &[u8],
    password: Option<&str>,
) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let archive = open_pkcs12(cx, data, password)?;
    let key_ids: Vec<&[u8]> = archive
        .keys
        .iter()
        .filter_map(|k| k.local_key_id.as_ref())
        .map(|id| id.as_ref())
        .collect();
    Ok(archive
        .certs
        .iter()
        .filter(|c| {
            c.trusted
                || c.local_key_id
                    .as_deref()
                    .is_none_or(|id| !key_ids.contains(&id))
        })
        .map(|c| CertificateDer::from(c.cert.as_der().to_vec()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_from_property_or_extension() {
        let p = Path::new("/etc/zk/server.keystore");
        assert_eq!(StoreType::resolve(Some("pem"), p).unwrap(), StoreType::Pem);
        assert_eq!(
            StoreType::resolve(Some(" PKCS12 "), p).unwrap(),
            StoreType::Pkcs12
        );
        assert_eq!(StoreType::resolve(Some("Jks"), p).unwrap(), StoreType::Jks);
        assert_eq!(
            StoreType::resolve(Some("bcfks"), p).unwrap(),
            StoreType::Bcfks
        );
        assert_eq!(
            StoreType::resolve(Some(""), Path::new("a.p12")).unwrap(),
            StoreType::Pkcs12
        );
        assert_eq!(
            StoreType::resolve(None, Path::new("a.jks")).unwrap(),
            StoreType::Jks
        );
        assert_eq!(
            StoreType::resolve(None, Path::new("a.pem")).unwrap(),
            StoreType::Pem
        );
        assert_eq!(
            StoreType::resolve(None, Path::new("a.bcfks")).unwrap(),
            StoreType::Bcfks
        );
        assert_eq!(
            StoreType::resolve(None, Path::new("/x/.jks")).unwrap(),
            StoreType::Jks
        );
        for name in [
            "a.pfx",
            "a.crt",
            "a.key",
            "a.JKS",
            "a.P12",
            "a.pkcs12",
            "/etc/zk.d/store",
            "store",
        ] {
            let e = StoreType::resolve(None, Path::new(name)).unwrap_err();
            assert!(
                matches!(e, StoreError::UnknownExtension { .. }),
                "{name}: {e}"
            );
            assert!(e.to_string().starts_with(name), "{e}");
        }
        let e = StoreType::resolve(Some("PKCS11"), p).unwrap_err();
        assert!(e.to_string().contains("\"PKCS11\""), "{e}");
    }

    #[test]
    fn jks_claimed_lengths_are_checked_before_use() {
        // A JKS header claiming 2^32-1 entries, then a key entry claiming a 4 GiB key
        // and 2^32-1 certificates: refused at once, nothing allocated.
        let mut data = vec![0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff];
        data.extend([
            0, 0, 0, 1, 0, 1, b'a', 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
        ]);
        assert!(parse_jks(&data).unwrap_err().contains("truncated"));
        let mut data = vec![0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 1];
        data.extend([
            0, 0, 0, 1, 0, 1, b'a', 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff,
        ]);
        assert!(parse_jks(&data).unwrap_err().contains("truncated"));
    }

    #[test]
    fn pem_blocks_labels_and_headers() {
        let text = "junk\n-----BEGIN RSA PRIVATE KEY-----\r\nProc-Type: 4,ENCRYPTED\r\nDEK-Info: x\r\n\r\nQUJD\r\n-----END RSA PRIVATE KEY-----\r\n\
                    -----BEGIN ENCRYPTED PRIVATE KEY-----\nQU\nJD\n-----END ENCRYPTED PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----\nQUJD";
        let blocks = pem_blocks(text);
        assert_eq!(blocks.len(), 2, "the unterminated block is dropped");
        assert_eq!(blocks[0].label, "RSA PRIVATE KEY");
        assert!(blocks[0].has_headers);
        assert_eq!(blocks[1].body.concat(), "QUJD");
        assert!(!blocks[1].has_headers);
    }
}
