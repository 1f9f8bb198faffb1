//! TLS on the client port, end to end: certificates made with `openssl` (and `keytool`), a real
//! `zkserver` with `secureClientPort` / `client.portUnification`, and three clients — zkcli,
//! zkbench and Apache ZooKeeper's own Java client (ZooKeeperMain with Netty, as zkCli.sh runs
//! it). Also the `x509` ACL scheme: the client certificate's subject is an identity.

mod common;

use common::certs::Certs;
use common::{free_port, start_foreground, wait_until};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::Duration;

struct Server {
    child: Child,
    dir: tempfile::TempDir,
    plain: u16,
    secure: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(certs: &Certs, extra: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let plain = free_port();
    let secure = free_port();
    let cfg = format!(
        "tickTime=500\ndataDir={}\nclientPort={plain}\nsecureClientPort={secure}\n\
         clientPortAddress=127.0.0.1\nsecureClientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
         serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
         ssl.keyStore.location={}\nssl.trustStore.location={}\n{extra}",
        dir.path().join("data").display(),
        certs.path("server.pem"),
        certs.path("ca.pem"),
    );
    let cfg_path = dir.path().join("zoo.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let child = start_foreground(dir.path(), &cfg_path);
    let s = Server {
        child,
        dir,
        plain,
        secure,
    };
    wait_until("the server to serve", Duration::from_secs(20), || {
        common::server_log(s.dir.path()).contains(&format!("127.0.0.1:{secure} with TLS"))
            && std::net::TcpStream::connect(("127.0.0.1", plain)).is_ok()
    });
    s
}

/// A zkCli.sh-style client configuration file for TLS, with or without a client certificate.
fn client_config(certs: &Certs, with_cert: bool) -> PathBuf {
    let mut text = format!(
        "zookeeper.client.secure=true\nzookeeper.ssl.trustStore.location={}\n",
        certs.path("ca.pem")
    );
    if with_cert {
        text.push_str(&format!(
            "zookeeper.ssl.keyStore.location={}\n",
            certs.path("client.pem")
        ));
    }
    let p = certs.dir.join(if with_cert {
        "client.cfg"
    } else {
        "nocert.cfg"
    });
    std::fs::write(&p, text).unwrap();
    p
}

fn zkcli(connect: &str, config: Option<&Path>, cmd: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zkcli"));
    c.args(["-server", connect, "-timeout", "5000"]);
    if let Some(cfg) = config {
        c.arg("-client-configuration").arg(cfg);
    }
    c.args(cmd);
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn zkcli_over_tls_with_an_x509_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = Certs::make(tmp.path(), "/CN=client");
    let s = start(&certs, "");
    let secure = format!("127.0.0.1:{}", s.secure);
    let plain = format!("127.0.0.1:{}", s.plain);
    let with_cert = client_config(&certs, true);

    // Over TLS, with the client certificate: the session works, and its subject is an id.
    let o = zkcli(&secure, Some(&with_cert), &["create", "/tls", "over-tls"]);
    assert!(text(&o).contains("Created /tls"), "{}", text(&o));
    let o = zkcli(&secure, Some(&with_cert), &["get", "/tls"]);
    assert!(text(&o).contains("over-tls"), "{}", text(&o));
    let o = zkcli(
        &secure,
        Some(&with_cert),
        &["create", "/mine", "x", "x509:CN=client:cdrwa"],
    );
    assert!(text(&o).contains("Created /mine"), "{}", text(&o));
    let o = zkcli(&secure, Some(&with_cert), &["get", "/mine"]);
    assert!(text(&o).lines().any(|l| l == "x"), "{}", text(&o));
    let o = zkcli(&secure, Some(&with_cert), &["getAcl", "/mine"]);
    assert!(text(&o).contains("'x509,'CN=client"), "{}", text(&o));

    // The plain port sees the same data, but is not that identity.
    let o = zkcli(&plain, None, &["get", "/tls"]);
    assert!(text(&o).contains("over-tls"), "{}", text(&o));
    let o = zkcli(&plain, None, &["get", "/mine"]);
    assert!(text(&o).contains("Insufficient permission"), "{}", text(&o));

    // ssl.clientAuth=need (the default): no certificate, no connection.
    let no_cert = client_config(&certs, false);
    let o = zkcli(&secure, Some(&no_cert), &["get", "/tls"]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(
        common::server_log(s.dir.path()).contains("TLS handshake failed"),
        "{}",
        common::server_log(s.dir.path())
    );
    // A plain client on the TLS port gets nowhere either.
    let o = zkcli(&secure, None, &["get", "/tls"]);
    assert!(!o.status.success(), "{}", text(&o));
}

#[test]
fn port_unification_takes_tls_and_plain_on_one_port() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = Certs::make(tmp.path(), "/CN=client");
    let s = start(&certs, "client.portUnification=true\nssl.clientAuth=want\n");
    let plain = format!("127.0.0.1:{}", s.plain);
    let o = zkcli(&plain, None, &["create", "/u", "plain"]);
    assert!(text(&o).contains("Created /u"), "{}", text(&o));
    // TLS on the same port, without a certificate (want).
    let no_cert = client_config(&certs, false);
    let o = zkcli(&plain, Some(&no_cert), &["get", "/u"]);
    assert!(text(&o).lines().any(|l| l == "plain"), "{}", text(&o));
    // Four-letter words still answer in plain text on the unified port.
    let mut c = std::net::TcpStream::connect(("127.0.0.1", s.plain)).unwrap();
    use std::io::{Read, Write};
    c.write_all(b"srvr").unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    assert!(out.contains("Zookeeper version"), "{out}");
}

#[test]
fn zkbench_over_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let certs = Certs::make(tmp.path(), "/CN=bench");
    let s = start(&certs, "");
    let cfg = client_config(&certs, true);
    let o = Command::new(env!("CARGO_BIN_EXE_zkbench"))
        .args(["--server", &format!("127.0.0.1:{}", s.secure)])
        .args(["--sessions", "2", "--outstanding", "2", "--ops", "200"])
        .arg("--client-configuration")
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
}

/// Apache ZooKeeper's Java client (the one zkCli.sh runs), with Netty and TLS from `-D`s.
#[test]
fn apache_zkcli_over_tls() {
    let jar = Path::new("/usr/share/java/zookeeper.jar");
    assert!(
        jar.exists(),
        "Debian's zookeeper package is missing (scripts/test installs it)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let certs = Certs::make(tmp.path(), "/CN=java");
    // Java reads a JKS trust store and a PKCS12 key store here.
    certs.java_stores("client");
    let s = start(&certs, "");
    // Debian's netty-all.jar is only a list: the Netty client socket needs the parts.
    let mut cp = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar".to_string();
    for part in [
        "buffer",
        "codec",
        "common",
        "handler",
        "resolver",
        "transport",
        "transport-native-unix-common",
    ] {
        cp.push_str(&format!(":/usr/share/java/netty-{part}.jar"));
    }
    let java = |cmd: &[&str]| {
        Command::new("java")
            .args(["-cp", &cp])
            .arg("-Dzookeeper.client.secure=true")
            .arg("-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty")
            .arg(format!(
                "-Dzookeeper.ssl.keyStore.location={}",
                certs.path("client.p12")
            ))
            .arg("-Dzookeeper.ssl.keyStore.password=secret")
            .arg(format!(
                "-Dzookeeper.ssl.trustStore.location={}",
                certs.path("trust.jks")
            ))
            .arg("-Dzookeeper.ssl.trustStore.password=secret")
            .arg("org.apache.zookeeper.ZooKeeperMain")
            .args(["-server", &format!("127.0.0.1:{}", s.secure)])
            .args(cmd)
            .output()
            .unwrap()
    };
    let o = java(&["create", "/from-java", "hello"]);
    assert!(text(&o).contains("Created /from-java"), "{}", text(&o));
    let o = java(&["get", "/from-java"]);
    assert!(text(&o).lines().any(|l| l == "hello"), "{}", text(&o));
}
