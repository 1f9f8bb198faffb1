//! Stores made by the real tools (keytool, openssl, and pyjks when present), loaded
//! and then used for a mutual-TLS handshake with rustls.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection,
    SupportedProtocolVersion,
};
use zk_native::tls::stores::{load_key_store, load_trust_store, KeyMaterial, StoreError};

const STORE_PASS: &str = "storepass";
const TRUST_PASS: &str = "trustpass";
const KEY_PASS: &str = "keypass";

/// The generated stores, made once for all tests of this binary.
struct Stores {
    dir: tempfile::TempDir,
    /// Whether pyjks made its stores (it is optional).
    pyjks: bool,
}

impl Stores {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn stores() -> &'static Stores {
    static STORES: OnceLock<Stores> = OnceLock::new();
    STORES.get_or_init(make_stores)
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn cat(dir: &Path, out: &str, parts: &[&str]) {
    let text: String = parts
        .iter()
        .map(|p| std::fs::read_to_string(dir.join(p)).unwrap())
        .collect();
    std::fs::write(dir.join(out), text).unwrap();
}

/// keytool's usual path to a CA-signed key: a key pair, a CSR signed by the test CA
/// with openssl, then the CA and the signed certificate imported.
fn keytool_signed_store(dir: &Path, store: &str, storetype: &str, keyalg: &[&str]) {
    let base = [
        "-keystore",
        store,
        "-storetype",
        storetype,
        "-storepass",
        STORE_PASS,
    ];
    let mut gen = vec![
        "-genkeypair",
        "-alias",
        "server",
        "-dname",
        "CN=localhost",
        "-validity",
        "30",
    ];
    gen.extend_from_slice(keyalg);
    if storetype == "JKS" {
        gen.extend_from_slice(&["-keypass", STORE_PASS]);
    }
    gen.extend_from_slice(&base);
    run(dir, "keytool", &gen);
    let csr = format!("{store}.csr");
    let signed = format!("{store}.crt");
    run(
        dir,
        "keytool",
        &[&["-certreq", "-alias", "server", "-file", &csr][..], &base].concat(),
    );
    run(
        dir,
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            "leaf.ext",
            "-days",
            "30",
            "-out",
            &signed,
        ],
    );
    run(
        dir,
        "keytool",
        &[
            &[
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                "ca.pem",
            ][..],
            &base,
        ]
        .concat(),
    );
    run(
        dir,
        "keytool",
        &[
            &[
                "-importcert",
                "-noprompt",
                "-alias",
                "server",
                "-file",
                &signed,
            ][..],
            &base,
        ]
        .concat(),
    );
}

fn make_stores() -> Stores {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ossl = |args: &[&str]| run(dir, "openssl", args);

    // A CA, and leaf certificates for localhost signed by it (RSA, and EC in SEC1 form).
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "30",
        "-subj",
        "/CN=Test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    ossl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    ossl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-extfile",
        "leaf.ext",
        "-days",
        "30",
        "-out",
        "leaf.pem",
    ]);
    ossl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "ec.key",
    ]);
    ossl(&[
        "req",
        "-new",
        "-key",
        "ec.key",
        "-out",
        "ec.csr",
        "-subj",
        "/CN=localhost",
    ]);
    ossl(&[
        "x509",
        "-req",
        "-in",
        "ec.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-extfile",
        "leaf.ext",
        "-days",
        "30",
        "-out",
        "ec.pem",
    ]);

    // PEM key stores: certificates and key in one file, in any order.
    ossl(&[
        "pkey",
        "-in",
        "leaf.key",
        "-traditional",
        "-out",
        "leaf.rsa.key",
    ]);
    cat(dir, "pkcs8.pem", &["leaf.pem", "ca.pem", "leaf.key"]);
    cat(dir, "pkcs1.pem", &["leaf.rsa.key", "leaf.pem", "ca.pem"]);
    cat(dir, "sec1.pem", &["ec.key", "ec.pem", "ca.pem"]);
    let encrypted: [(&str, &[&str]); 7] = [
        ("pbes2", &[]), // OpenSSL 3's default: PBKDF2-HMAC-SHA256, AES-256-CBC
        (
            "pbes2-sha1-aes128",
            &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"],
        ),
        ("pbes2-des3", &["-v2", "des3"]),
        ("scrypt", &["-scrypt"]),
        ("sha1-3des", &["-v1", "PBE-SHA1-3DES"]), // what ZooKeeper's own tests write
        (
            "sha1-rc2-40",
            &[
                "-v1",
                "PBE-SHA1-RC2-40",
                "-provider",
                "legacy",
                "-provider",
                "default",
            ],
        ),
        (
            "md5-des",
            &[
                "-v1",
                "PBE-MD5-DES",
                "-provider",
                "legacy",
                "-provider",
                "default",
            ],
        ), // old OpenSSL's default
    ];
    for (name, args) in encrypted {
        let key = format!("leaf.{name}.key");
        ossl(
            &[
                &[
                    "pkcs8",
                    "-topk8",
                    "-in",
                    "leaf.key",
                    "-passout",
                    &format!("pass:{KEY_PASS}"),
                    "-out",
                    &key,
                ][..],
                args,
            ]
            .concat(),
        );
        cat(
            dir,
            &format!("enc-{name}.pem"),
            &["leaf.pem", "ca.pem", &key],
        );
    }
    ossl(&[
        "pkey",
        "-in",
        "leaf.key",
        "-traditional",
        "-aes128",
        "-passout",
        "pass:x",
        "-out",
        "leaf.legacy.key",
    ]);
    cat(dir, "legacy-enc.pem", &["leaf.pem", "leaf.legacy.key"]);
    cat(dir, "trust.pem", &["ca.pem", "leaf.pem"]);
    cat(dir, "certs-only.pem", &["leaf.pem", "ca.pem"]);
    cat(dir, "key-only.pem", &["leaf.key"]);

    // PKCS12 from OpenSSL: current and legacy ciphers, and certificates alone.
    let p12pass = format!("pass:{STORE_PASS}");
    ossl(&[
        "pkcs12",
        "-export",
        "-in",
        "leaf.pem",
        "-inkey",
        "leaf.key",
        "-certfile",
        "ca.pem",
        "-name",
        "server",
        "-passout",
        &p12pass,
        "-out",
        "openssl.p12",
    ]);
    ossl(&[
        "pkcs12",
        "-export",
        "-legacy",
        "-in",
        "leaf.pem",
        "-inkey",
        "leaf.key",
        "-certfile",
        "ca.pem",
        "-name",
        "server",
        "-passout",
        &p12pass,
        "-out",
        "openssl-legacy.p12",
    ]);
    ossl(&[
        "pkcs12",
        "-export",
        "-in",
        "ec.pem",
        "-inkey",
        "ec.key",
        "-certfile",
        "ca.pem",
        "-passout",
        &p12pass,
        "-out",
        "openssl-ec.p12",
    ]);
    ossl(&[
        "pkcs12",
        "-export",
        "-nokeys",
        "-in",
        "ca.pem",
        "-passout",
        &format!("pass:{TRUST_PASS}"),
        "-out",
        "openssl-trust.p12",
    ]);

    // keytool's stores, in two threads (each keytool run starts a JVM).
    std::thread::scope(|s| {
        s.spawn(|| {
            keytool_signed_store(
                dir,
                "rsa.jks",
                "JKS",
                &["-keyalg", "RSA", "-keysize", "2048"],
            )
        });
        s.spawn(|| {
            keytool_signed_store(
                dir,
                "ec.jks",
                "JKS",
                &["-keyalg", "EC", "-groupname", "secp256r1"],
            )
        });
    });
    std::thread::scope(|s| {
        s.spawn(|| {
            keytool_signed_store(
                dir,
                "keytool.p12",
                "PKCS12",
                &["-keyalg", "RSA", "-keysize", "2048"],
            )
        });
        s.spawn(|| {
            let kt = |args: &[&str]| run(dir, "keytool", args);
            kt(&[
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                "ca.pem",
                "-keystore",
                "trust.jks",
                "-storetype",
                "JKS",
                "-storepass",
                TRUST_PASS,
            ]);
            kt(&[
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                "ca.pem",
                "-keystore",
                "trust.p12",
                "-storetype",
                "PKCS12",
                "-storepass",
                TRUST_PASS,
            ]);
        });
    });
    std::thread::scope(|s| {
        s.spawn(|| {
            let kt = |args: &[&str]| run(dir, "keytool", args);
            // OpenSSL's key converted into a JKS by keytool.
            kt(&[
                "-importkeystore",
                "-srckeystore",
                "openssl.p12",
                "-srcstoretype",
                "PKCS12",
                "-srcstorepass",
                STORE_PASS,
                "-destkeystore",
                "imported.jks",
                "-deststoretype",
                "JKS",
                "-deststorepass",
                STORE_PASS,
                "-destkeypass",
                STORE_PASS,
            ]);
            // A key password different from the store password.
            kt(&[
                "-genkeypair",
                "-alias",
                "k",
                "-keyalg",
                "RSA",
                "-dname",
                "CN=k",
                "-keystore",
                "keypass.jks",
                "-storetype",
                "JKS",
                "-storepass",
                STORE_PASS,
                "-keypass",
                KEY_PASS,
            ]);
        });
        s.spawn(|| {
            let kt = |args: &[&str]| run(dir, "keytool", args);
            kt(&[
                "-genkeypair",
                "-alias",
                "dsa",
                "-keyalg",
                "DSA",
                "-dname",
                "CN=dsa",
                "-keystore",
                "dsa.jks",
                "-storetype",
                "JKS",
                "-storepass",
                STORE_PASS,
                "-keypass",
                STORE_PASS,
            ]);
            kt(&[
                "-genkeypair",
                "-alias",
                "k",
                "-keyalg",
                "RSA",
                "-dname",
                "CN=k",
                "-keystore",
                "store.jceks",
                "-storetype",
                "JCEKS",
                "-storepass",
                STORE_PASS,
                "-keypass",
                STORE_PASS,
            ]);
        });
    });
    // Java reads either format under either type name, whatever the extension says.
    std::fs::copy(dir.join("keytool.p12"), dir.join("pkcs12-inside.jks")).unwrap();
    std::fs::copy(dir.join("rsa.jks"), dir.join("jks-inside.p12")).unwrap();
    std::fs::copy(dir.join("ca.pem"), dir.join("pem-inside.jks")).unwrap();

    let pyjks = make_pyjks_stores(dir);
    Stores { dir: tmp, pyjks }
}

/// JKS stores written by Python's pyjks, if a Python with it is found
/// (`PYJKS_PYTHON`, else /work/scratch/pyjks-venv/bin/python).
fn make_pyjks_stores(dir: &Path) -> bool {
    let python = std::env::var("PYJKS_PYTHON")
        .unwrap_or_else(|_| "/work/scratch/pyjks-venv/bin/python".into());
    let script = r#"
import jks, subprocess, sys
def der(args):
    return subprocess.run(["openssl"] + args + ["-outform", "DER"], check=True, capture_output=True).stdout
key = der(["pkcs8", "-topk8", "-nocrypt", "-in", "leaf.key"])
certs = [der(["x509", "-in", "leaf.pem"]), der(["x509", "-in", "ca.pem"])]
entry = jks.PrivateKeyEntry.new("server", certs, key, "pkcs8")
entry.encrypt(sys.argv[1])
jks.KeyStore.new("jks", [entry]).save("pyjks.jks", sys.argv[1])
ca = jks.TrustedCertEntry.new("ca", certs[1])
jks.KeyStore.new("jks", [ca]).save("pyjks-trust.jks", sys.argv[2])
"#;
    match Command::new(&python)
        .args(["-c", script, STORE_PASS, TRUST_PASS])
        .current_dir(dir)
        .output()
    {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            eprintln!(
                "pyjks stores not made: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            false
        }
        Err(e) => {
            eprintln!("pyjks stores not made ({python}: {e})");
            false
        }
    }
}

fn key_store(name: &str, password: Option<&str>) -> KeyMaterial {
    load_key_store(&stores().path(name), password, None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn trust_store(name: &str, password: Option<&str>) -> Vec<CertificateDer<'static>> {
    load_trust_store(&stores().path(name), password, None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn key_error(name: &str, password: Option<&str>, kind: Option<&str>) -> StoreError {
    match load_key_store(&stores().path(name), password, kind) {
        Ok(_) => panic!("{name} loaded as a key store"),
        Err(e) => e,
    }
}

fn trust_error(name: &str, password: Option<&str>, kind: Option<&str>) -> StoreError {
    match load_trust_store(&stores().path(name), password, kind) {
        Ok(_) => panic!("{name} loaded as a trust store"),
        Err(e) => e,
    }
}

/// Asserts the message names the file and says `what`.
fn assert_says(e: &StoreError, name: &str, what: &str) {
    let msg = e.to_string();
    assert!(msg.contains(name), "message does not name {name}: {msg}");
    assert!(msg.contains(what), "message does not say {what:?}: {msg}");
}

/// A mutual-TLS handshake to "localhost", in memory: both sides present `km` and
/// trust `roots`, under each protocol version.
fn handshake(km: &KeyMaterial, roots: &[CertificateDer<'static>]) {
    // rustls 0.23.48 deprecates the ring provider (no post-quantum key exchange); it
    // is what this crate's tests were asked to use.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut root_store = RootCertStore::empty();
    for cert in roots {
        root_store
            .add(cert.clone())
            .expect("trust store certificate");
    }
    let root_store = Arc::new(root_store);
    let versions: [&[&SupportedProtocolVersion]; 2] =
        [&[&rustls::version::TLS13], &[&rustls::version::TLS12]];
    for versions in versions {
        let verifier =
            WebPkiClientVerifier::builder_with_provider(root_store.clone(), provider.clone())
                .build()
                .unwrap();
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(km.chain.clone(), km.key.clone_key())
            .expect("server config from the key store");
        let client = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(root_store.clone())
            .with_client_auth_cert(km.chain.clone(), km.key.clone_key())
            .expect("client config from the key store");
        let mut client =
            ClientConnection::new(Arc::new(client), ServerName::try_from("localhost").unwrap())
                .unwrap();
        let mut server = ServerConnection::new(Arc::new(server)).unwrap();
        let mut buf = Vec::new();
        for _ in 0..10 {
            buf.clear();
            client.write_tls(&mut buf).unwrap();
            server.read_tls(&mut buf.as_slice()).unwrap();
            server
                .process_new_packets()
                .expect("server side of the handshake");
            buf.clear();
            server.write_tls(&mut buf).unwrap();
            client.read_tls(&mut buf.as_slice()).unwrap();
            client
                .process_new_packets()
                .expect("client side of the handshake");
        }
        assert!(
            !client.is_handshaking() && !server.is_handshaking(),
            "handshake did not finish"
        );
        assert!(client.peer_certificates().is_some() && server.peer_certificates().is_some());
    }
}

fn ca() -> Vec<CertificateDer<'static>> {
    trust_store("trust.jks", Some(TRUST_PASS))
}

#[test]
fn jks_key_stores_from_keytool_serve_tls() {
    for name in ["rsa.jks", "ec.jks", "imported.jks"] {
        let km = key_store(name, Some(STORE_PASS));
        assert_eq!(km.chain.len(), 2, "{name}: leaf and CA");
        handshake(&km, &ca());
    }
}

#[test]
fn pkcs12_key_stores_serve_tls() {
    for name in [
        "keytool.p12",
        "openssl.p12",
        "openssl-legacy.p12",
        "openssl-ec.p12",
    ] {
        let km = key_store(name, Some(STORE_PASS));
        assert_eq!(km.chain.len(), 2, "{name}: leaf and CA");
        handshake(&km, &ca());
    }
}

#[test]
fn either_binary_format_under_either_type() {
    // As Java 9+ does: a PKCS12 file named .jks, a JKS file named .p12, and types
    // set against the extension.
    handshake(&key_store("pkcs12-inside.jks", Some(STORE_PASS)), &ca());
    handshake(&key_store("jks-inside.p12", Some(STORE_PASS)), &ca());
    let path = stores().path("rsa.jks");
    load_key_store(&path, Some(STORE_PASS), Some("pkcs12")).unwrap();
    assert_eq!(
        load_trust_store(&stores().path("trust.p12"), Some(TRUST_PASS), Some("JKS"))
            .unwrap()
            .len(),
        1
    );
    // But a PEM file is not read as JKS, and the message says what to do.
    assert_says(
        &key_error("pem-inside.jks", Some(STORE_PASS), None),
        "pem-inside.jks",
        "set the store type to PEM",
    );
    let km = load_key_store(&stores().path("pkcs8.pem"), None, Some("PEM")).unwrap();
    handshake(&km, &ca());
}

#[test]
fn pem_key_stores_serve_tls() {
    for name in ["pkcs8.pem", "pkcs1.pem", "sec1.pem"] {
        let km = key_store(name, None);
        assert_eq!(km.chain.len(), 2, "{name}: leaf and CA");
        handshake(&km, &ca());
        // A password with an unencrypted key is accepted (ZooKeeper's PemReader refuses it).
        key_store(name, Some("unused"));
    }
    for scheme in [
        "pbes2",
        "pbes2-sha1-aes128",
        "pbes2-des3",
        "scrypt",
        "sha1-3des",
        "sha1-rc2-40",
        "md5-des",
    ] {
        let name = format!("enc-{scheme}.pem");
        handshake(&key_store(&name, Some(KEY_PASS)), &ca());
        let e = key_error(&name, Some("wrong-password"), None);
        assert!(matches!(e, StoreError::WrongPassword { .. }), "{name}: {e}");
        assert_says(&e, &name, "wrong password");
        let e = key_error(&name, None, None);
        assert!(
            matches!(e, StoreError::EncryptedKeyWithoutPassword { .. }),
            "{name}: {e}"
        );
        assert_says(&e, &name, "no password was given");
        assert!(matches!(
            key_error(&name, Some(""), None),
            StoreError::EncryptedKeyWithoutPassword { .. }
        ));
    }
}

#[test]
fn pyjks_stores() {
    if !stores().pyjks {
        eprintln!("skipped: pyjks is not installed");
        return;
    }
    let km = key_store("pyjks.jks", Some(STORE_PASS));
    assert_eq!(km.chain.len(), 2);
    let roots = trust_store("pyjks-trust.jks", Some(TRUST_PASS));
    handshake(&km, &roots);
    assert_eq!(trust_store("pyjks-trust.jks", None).len(), 1);
}

#[test]
fn trust_stores() {
    let count = |name, password| trust_store(name, password).len();
    assert_eq!(count("trust.jks", Some(TRUST_PASS)), 1);
    // No password: the digest is not checked, as with Java's load(in, null).
    assert_eq!(count("trust.jks", None), 1);
    assert_eq!(count("trust.jks", Some("")), 1);
    assert_eq!(count("trust.p12", Some(TRUST_PASS)), 1);
    // OpenSSL's PKCS12 has no Java trust attribute: its key-less certificates count.
    assert_eq!(count("openssl-trust.p12", Some(TRUST_PASS)), 1);
    assert_eq!(count("trust.pem", None), 2);
    // A key store as trust store: only its trusted entries (JKS) or the certificates
    // not tied to the key (PKCS12), that is the CA.
    for name in ["rsa.jks", "openssl.p12", "keytool.p12"] {
        let roots = trust_store(name, Some(STORE_PASS));
        assert_eq!(roots, ca(), "{name}");
    }
    let e = trust_error("certs-only.pem", None, Some("JKS"));
    assert_says(&e, "certs-only.pem", "PEM file");
    let e = trust_error("keypass.jks", Some(STORE_PASS), None);
    assert!(matches!(e, StoreError::NoTrustedCertificate { .. }), "{e}");
    assert_says(&e, "keypass.jks", "no trusted certificate");
    let e = trust_error("key-only.pem", None, None);
    assert_says(&e, "key-only.pem", "no trusted certificate");
}

#[test]
fn wrong_or_missing_passwords() {
    for name in [
        "rsa.jks",
        "keytool.p12",
        "openssl.p12",
        "openssl-legacy.p12",
    ] {
        let e = key_error(name, Some("wrong-password"), None);
        assert!(matches!(e, StoreError::WrongPassword { .. }), "{name}: {e}");
        assert_says(&e, name, "wrong password");
        let e = key_error(name, None, None);
        assert!(
            matches!(e, StoreError::PasswordNeeded { .. }),
            "{name}: {e}"
        );
        assert_says(&e, name, "needs a password, and none was given");
    }
    for name in ["trust.jks", "trust.p12", "openssl-trust.p12"] {
        let e = trust_error(name, Some("wrong-password"), None);
        assert!(matches!(e, StoreError::WrongPassword { .. }), "{name}: {e}");
        assert_says(&e, name, "wrong password");
    }
    // PKCS12 trust stores are encrypted: without the password they cannot be read.
    assert_says(
        &trust_error("trust.p12", None, None),
        "trust.p12",
        "needs a password",
    );
    // The key's own password differs from the store's: ZooKeeper cannot use it either.
    let e = key_error("keypass.jks", Some(STORE_PASS), None);
    assert!(matches!(e, StoreError::WrongPassword { .. }), "{e}");
    assert_says(&e, "keypass.jks", "key password must be the same");
}

#[test]
fn errors_name_the_file_and_the_problem() {
    let s = stores();
    let missing = s.path("missing.jks");
    let e = load_key_store(&missing, Some(STORE_PASS), None).unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
    assert_says(&e, "missing.jks", "not found");
    assert_says(
        &load_trust_store(&s.path("missing.pem"), None, None).unwrap_err(),
        "missing.pem",
        "trust store file not found",
    );

    let e = load_key_store(&s.path("store.bcfks"), Some(STORE_PASS), None).unwrap_err();
    assert_says(&e, "store.bcfks", "BCFKS stores are not supported");
    assert_says(
        &key_error("rsa.jks", Some(STORE_PASS), Some("BCFKS")),
        "rsa.jks",
        "Bouncy Castle FIPS",
    );
    assert_says(
        &key_error("leaf.key", None, None),
        "leaf.key",
        "cannot tell the store type",
    );
    assert_says(
        &key_error("rsa.jks", None, Some("PKCS11")),
        "rsa.jks",
        "unknown store type",
    );

    assert_says(
        &key_error("certs-only.pem", None, None),
        "certs-only.pem",
        "no private key",
    );
    assert_says(
        &key_error("key-only.pem", None, None),
        "key-only.pem",
        "no certificate",
    );
    assert_says(
        &key_error("trust.jks", Some(TRUST_PASS), None),
        "trust.jks",
        "no private key",
    );
    assert_says(
        &key_error("openssl-trust.p12", Some(TRUST_PASS), None),
        "openssl-trust.p12",
        "no private key",
    );
    assert_says(
        &key_error("legacy-enc.pem", Some("x"), None),
        "legacy-enc.pem",
        "legacy encryption",
    );
    assert_says(
        &key_error("dsa.jks", Some(STORE_PASS), None),
        "dsa.jks",
        "DSA private key",
    );
    assert_says(
        &key_error("store.jceks", Some(STORE_PASS), Some("JKS")),
        "store.jceks",
        "JCEKS",
    );

    let empty = s.path("empty.p12");
    std::fs::write(&empty, b"").unwrap();
    assert_says(
        &load_key_store(&empty, None, None).unwrap_err(),
        "empty.p12",
        "empty",
    );
    let dir = s.path("a-directory.pem");
    std::fs::create_dir_all(&dir).unwrap();
    assert_says(
        &load_trust_store(&dir, None, None).unwrap_err(),
        "a-directory.pem",
        "cannot read",
    );
    let big = s.path("big.jks");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(17 << 20)
        .unwrap(); // sparse
    assert_says(
        &load_key_store(&big, None, None).unwrap_err(),
        "big.jks",
        "more than",
    );
}

/// A small deterministic generator, so failures replay.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Loads `bytes` both ways under every type; any outcome but a panic is fine.
fn load_all_ways(dir: &Path, bytes: &[u8], what: &str) {
    for (file, kind) in [
        ("f.jks", None),
        ("f.p12", None),
        ("f.pem", None),
        ("f.x", Some("JKS")),
        ("f.x", Some("PEM")),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, bytes).unwrap();
        let result = std::panic::catch_unwind(|| {
            let _ = load_key_store(&path, Some(STORE_PASS), kind);
            let _ = load_key_store(&path, Some(KEY_PASS), kind);
            let _ = load_trust_store(&path, None, kind);
        });
        assert!(result.is_ok(), "panicked on {what} read as {file} {kind:?}");
    }
}

#[test]
fn truncated_corrupt_and_random_files_do_not_panic() {
    let s = stores();
    let scratch = tempfile::tempdir().unwrap();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let files = [
        "rsa.jks",
        "ec.jks",
        "trust.jks",
        "keytool.p12",
        "openssl.p12",
        "openssl-legacy.p12",
        "pkcs8.pem",
        "sec1.pem",
        "enc-sha1-3des.pem",
        "enc-pbes2.pem",
    ];
    for name in files {
        let data = std::fs::read(s.path(name)).unwrap();
        // Every prefix of the small binary stores, a sample of the others.
        let step = if name.ends_with(".pem") { 7 } else { 1 };
        for len in (0..data.len()).step_by(step) {
            let path = scratch.path().join(name);
            std::fs::write(&path, &data[..len]).unwrap();
            let key = load_key_store(&path, Some(STORE_PASS), None);
            let trust = load_trust_store(&path, None, None);
            if step == 1 {
                assert!(key.is_err() && trust.is_err(), "{name}[..{len}] loaded");
            }
        }
        // Flipped bytes, including in lengths and DER headers (fewer for PKCS12, whose
        // MAC check runs thousands of KDF iterations).
        let rounds = if name.ends_with(".p12") { 8 } else { 60 };
        for _ in 0..rounds {
            let mut bad = data.clone();
            for _ in 0..1 + rng.next() % 3 {
                let i = (rng.next() % bad.len() as u64) as usize;
                bad[i] ^= 1 << (rng.next() % 8);
            }
            load_all_ways(scratch.path(), &bad, &format!("{name} with flipped bits"));
        }
    }
    // Random bytes, alone and behind each format's first bytes.
    for round in 0..300 {
        let len = (rng.next() % 3000) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        match round % 4 {
            0 => bytes
                .splice(0..0, [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2])
                .for_each(drop),
            1 => bytes
                .splice(0..0, [0x30, 0x82, 0x0b, 0xb8, 0x02, 0x01, 0x03])
                .for_each(drop),
            2 => bytes
                .splice(0..0, *b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
                .for_each(drop),
            _ => {}
        }
        load_all_ways(scratch.path(), &bytes, &format!("random round {round}"));
    }
}

/// How this module's outcome relates to Apache ZooKeeper's for one case.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// Both load it, or both refuse it.
    Same,
    /// Apache ZooKeeper 3.8 refuses it, this module loads it (documented in stores.rs).
    OnlyOurs,
    /// Apache's outcome depends on the Java version (PBES2 keys: refused by Java 17).
    OursAnyJava,
}

/// The same stores loaded by Apache ZooKeeper 3.8's own X509Util (Java), where the
/// jar is installed (Debian's `zookeeper` package, or ZOOKEEPER_JAR): each case must
/// load in both or fail in both, except for the cases this module accepts on purpose.
#[test]
fn same_outcomes_as_apache_zookeeper() {
    let jar =
        std::env::var("ZOOKEEPER_JAR").unwrap_or_else(|_| "/usr/share/java/zookeeper.jar".into());
    if !Path::new(&jar).exists() || Command::new("javac").arg("-version").output().is_err() {
        eprintln!("skipped: no {jar} or no javac");
        return;
    }
    use Expect::*;
    let (k, t) = ("key", "trust");
    // (key or trust, file, password, type, expectation)
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Expect,
    );
    let cases: &[Case] = &[
        (k, "rsa.jks", Some(STORE_PASS), None, Same),
        (k, "ec.jks", Some(STORE_PASS), None, Same),
        (k, "imported.jks", Some(STORE_PASS), None, Same),
        (k, "keytool.p12", Some(STORE_PASS), None, Same),
        (k, "openssl.p12", Some(STORE_PASS), None, Same),
        (k, "openssl-legacy.p12", Some(STORE_PASS), None, Same),
        (k, "openssl-ec.p12", Some(STORE_PASS), None, Same),
        (k, "pkcs12-inside.jks", Some(STORE_PASS), None, Same),
        (k, "jks-inside.p12", Some(STORE_PASS), None, Same),
        (k, "rsa.jks", Some(STORE_PASS), Some("pkcs12"), Same),
        (k, "pkcs8.pem", None, None, Same),
        (k, "pkcs8.pem", None, Some("pem"), Same),
        (k, "enc-sha1-3des.pem", Some(KEY_PASS), None, Same),
        (k, "enc-sha1-rc2-40.pem", Some(KEY_PASS), None, Same),
        (k, "enc-md5-des.pem", Some(KEY_PASS), None, Same),
        (k, "enc-sha1-3des.pem", Some("wrong-password"), None, Same),
        (k, "enc-sha1-3des.pem", None, None, Same),
        (k, "rsa.jks", Some("wrong-password"), None, Same),
        (k, "rsa.jks", None, None, Same),
        (k, "keytool.p12", Some("wrong-password"), None, Same),
        (k, "openssl.p12", None, None, Same),
        (k, "keypass.jks", Some(STORE_PASS), None, Same),
        (k, "trust.jks", Some(TRUST_PASS), None, Same),
        (k, "openssl-trust.p12", Some(TRUST_PASS), None, Same),
        (k, "certs-only.pem", None, None, Same),
        (k, "key-only.pem", None, None, Same),
        (k, "legacy-enc.pem", Some("x"), None, Same),
        (k, "store.jceks", Some(STORE_PASS), Some("JKS"), Same),
        (k, "pem-inside.jks", Some(STORE_PASS), None, Same),
        (k, "leaf.key", None, None, Same),
        (k, "missing.jks", Some(STORE_PASS), None, Same),
        (k, "rsa.jks", Some(STORE_PASS), Some("BCFKS"), Same),
        (k, "pkcs1.pem", None, None, OnlyOurs),
        (k, "sec1.pem", None, None, OnlyOurs),
        (k, "pkcs8.pem", Some("unused"), None, OnlyOurs),
        (k, "enc-pbes2-des3.pem", Some(KEY_PASS), None, OnlyOurs),
        (k, "enc-pbes2.pem", Some(KEY_PASS), None, OursAnyJava),
        (
            k,
            "enc-pbes2-sha1-aes128.pem",
            Some(KEY_PASS),
            None,
            OursAnyJava,
        ),
        (k, "enc-scrypt.pem", Some(KEY_PASS), None, OnlyOurs),
        (t, "trust.jks", Some(TRUST_PASS), None, Same),
        (t, "trust.p12", Some(TRUST_PASS), None, Same),
        (t, "trust.pem", None, None, Same),
        (t, "rsa.jks", Some(STORE_PASS), None, Same),
        (t, "keytool.p12", Some(STORE_PASS), None, Same),
        (t, "trust.jks", Some("wrong-password"), None, Same),
        (t, "trust.p12", None, None, Same),
        (t, "keypass.jks", Some(STORE_PASS), None, Same),
        (t, "key-only.pem", None, None, Same),
        (t, "trust.jks", None, None, OnlyOurs),
        (t, "openssl-trust.p12", Some(TRUST_PASS), None, OnlyOurs),
        (t, "openssl.p12", Some(STORE_PASS), None, OnlyOurs),
    ];

    let s = stores();
    let classes = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tls_stores_apache/Oracle.java");
    let classes_dir = classes.path().to_str().unwrap();
    run(
        classes.path(),
        "javac",
        &["-d", classes_dir, "-cp", &jar, source.to_str().unwrap()],
    );
    let mut classpath = format!("{classes_dir}:{jar}");
    for extra in [
        "/usr/share/java/slf4j-api.jar",
        "/usr/share/java/slf4j-nop.jar",
    ] {
        if Path::new(extra).exists() {
            classpath = format!("{classpath}:{extra}");
        }
    }
    let mut args = vec!["-cp".to_string(), classpath, "Oracle".into()];
    for (role, name, password, kind, _) in cases {
        args.extend([
            role.to_string(),
            s.path(name).to_string_lossy().into_owned(),
        ]);
        args.extend([
            password.unwrap_or("-").to_string(),
            kind.unwrap_or("-").to_string(),
        ]);
    }
    let out = Command::new("java").args(&args).output().expect("java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let apache: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        apache.len(),
        cases.len(),
        "Oracle printed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut failures = Vec::new();
    for ((role, name, password, kind, expect), apache) in cases.iter().zip(apache) {
        let path = s.path(name);
        let ours = match *role {
            "key" => load_key_store(&path, *password, *kind)
                .map(|km| format!("chain of {}", km.chain.len())),
            _ => load_trust_store(&path, *password, *kind).map(|c| format!("{} trusted", c.len())),
        };
        let apache_ok = apache.starts_with("OK");
        let fine = match expect {
            Same => ours.is_ok() == apache_ok,
            OnlyOurs => ours.is_ok() && !apache_ok,
            OursAnyJava => ours.is_ok(),
        };
        let ours = ours.unwrap_or_else(|e| format!("ERR {e}"));
        let line = format!("{role} {name} {password:?} {kind:?} [{expect:?}]\n    apache: {apache}\n    ours:   {ours}");
        eprintln!("{line}");
        if !fine {
            failures.push(line);
        }
    }
    assert!(
        failures.is_empty(),
        "outcomes differ from Apache ZooKeeper's:\n{}",
        failures.join("\n")
    );
}
