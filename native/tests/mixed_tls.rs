//! TLS and SASL between servers, in ensembles of Apache ZooKeeper 3.8 and zkserver: one that
//! starts with TLS on (`sslQuorum`, `ssl.quorum.*`); one where TLS is rolled on while it
//! serves, as ZooKeeper's admin guide describes (portUnification on every server, then
//! sslQuorum, then portUnification off), one server restarted at a time, writes going on
//! throughout; and one with quorum SASL (DIGEST-MD5, `quorum.auth.*`) required both ways,
//! where a server with the wrong password is kept out.

mod common;
mod mixed_harness;

use common::certs::Certs;
use common::rt;
use mixed_harness::*;
use std::time::Duration;
use zk_native::client::CreateMode;

/// One certificate for every server (its subjectAltName is 127.0.0.1, which both kinds check
/// the other side against), as Java stores.
fn quorum_tls(certs: &Certs) -> String {
    format!(
        "ssl.quorum.keyStore.location={}\nssl.quorum.keyStore.password=secret\n\
         ssl.quorum.trustStore.location={}\nssl.quorum.trustStore.password=secret\n",
        certs.path("server.p12"),
        certs.path("trust.jks"),
    )
}

/// Creates `/tls/<tag>` through one server and reads it back through every other.
fn write_and_read(m: &Mixed, rt: &tokio::runtime::Runtime, tag: &str) {
    let ids = m.running();
    rt.block_on(async {
        let first = connect(&m.connect_string(&ids[..1])).await;
        ensure(&first, "/tls").await;
        let path = format!("/tls/{tag}");
        within(
            "a create",
            first.create(&path, Some(tag.as_bytes()), &open(), CreateMode::Persistent),
        )
        .await
        .unwrap();
        for id in &ids[1..] {
            let c = connect(&m.connect_string(&[*id])).await;
            within("a sync", c.sync(&path)).await.unwrap();
            let (data, _) = within("a read", c.get_data(&path, false)).await.unwrap();
            assert_eq!(
                data.as_deref(),
                Some(tag.as_bytes()),
                "{} read {path}",
                m.sname(*id)
            );
        }
    });
}

fn certs_in(m: &Mixed) -> (tempfile::TempDir, Certs) {
    let tmp = tempfile::tempdir().unwrap();
    let certs = Certs::make(tmp.path(), "/CN=client");
    certs.java_stores("server");
    m.note("certificates made");
    (tmp, certs)
}

#[test]
fn ssl_quorum_ensemble_of_both_kinds() {
    let mut m = Mixed::new(
        "sslquorum",
        &[
            (Kind::Apache, false),
            (Kind::ZkServer, false),
            (Kind::ZkServer, false),
        ],
    );
    let (_tmp, certs) = certs_in(&m);
    for id in m.ids() {
        m.append_config(id, &format!("sslQuorum=true\n{}", quorum_tls(&certs)));
        m.start(id);
    }
    m.wait_leader(&[1, 2, 3]);
    let rt = rt();
    write_and_read(&m, &rt, "on-from-the-start");
    // A peer that speaks plain to the election port is refused: the port wants TLS.
    let port = m.s(2).election_port;
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    use std::io::Write;
    let _ = plain.write_all(&[0u8; 64]);
    drop(plain);
    common::wait_until(
        "the refusal in server 2's log",
        Duration::from_secs(10),
        || {
            m.log(2)
                .contains("refused a connection to the election port: TLS handshake failed")
        },
    );
}

#[test]
fn tls_rolled_onto_a_live_ensemble() {
    let mut m = Mixed::new(
        "sslroll",
        &[
            (Kind::Apache, false),
            (Kind::ZkServer, false),
            (Kind::ZkServer, false),
        ],
    );
    let (_tmp, certs) = certs_in(&m);
    let tls = quorum_tls(&certs);
    for id in m.ids() {
        m.start(id);
    }
    m.wait_leader(&[1, 2, 3]);
    let rt = rt();
    write_and_read(&m, &rt, "plain");
    // 1. portUnification on every server: each takes TLS and plain; all still connect plain.
    // 2. sslQuorum on every server: each connects with TLS.
    // 3. portUnification off: TLS only.
    for (step, text) in [
        ("unified", format!("portUnification=true\n{tls}")),
        ("ssl", "sslQuorum=true\n".to_string()),
        ("tls-only", "portUnification=false\n".to_string()),
    ] {
        for id in m.ids() {
            m.term(id);
            m.append_config(id, &text);
            m.start(id);
            m.wait_leader(&[1, 2, 3]);
            write_and_read(&m, &rt, &format!("{step}-{id}"));
        }
    }
    m.assert_no_digest_mismatch();
}

const QUORUM_JAAS: &str = r#"
QuorumServer {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_peer="peer-secret";
};
QuorumLearner {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    username="peer"
    password="PASSWORD";
};
"#;

#[test]
fn quorum_sasl_in_an_ensemble_of_both_kinds() {
    let mut m = Mixed::new(
        "quorumsasl",
        &[
            (Kind::Apache, false),
            (Kind::ZkServer, false),
            (Kind::ZkServer, false),
        ],
    );
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("jaas.conf");
    std::fs::write(&good, QUORUM_JAAS.replace("PASSWORD", "peer-secret")).unwrap();
    let bad = tmp.path().join("bad-jaas.conf");
    std::fs::write(&bad, QUORUM_JAAS.replace("PASSWORD", "wrong")).unwrap();
    let sasl = "quorum.auth.enableSasl=true\nquorum.auth.learnerRequireSasl=true\n\
                quorum.auth.serverRequireSasl=true\n";
    for id in m.ids() {
        m.append_config(id, sasl);
        let jaas = if id == 3 { &bad } else { &good };
        m.set_jvm_flags(
            id,
            &format!("-Djava.security.auth.login.config={}", jaas.display()),
        );
    }
    // Servers 1 and 2 (Apache and zkserver) know each other; server 3 has the wrong password.
    m.start(1);
    m.start(2);
    m.start(3);
    m.wait_leader(&[1, 2]);
    let rt = rt();
    rt.block_on(async {
        let c = connect(&m.connect_string(&[1])).await;
        ensure(&c, "/sasl").await;
        let c2 = connect(&m.connect_string(&[2])).await;
        within("a sync", c2.sync("/sasl")).await.unwrap();
        assert!(within("a read", c2.exists("/sasl", false))
            .await
            .unwrap()
            .is_some());
    });
    common::wait_until(
        "server 2 to refuse server 3",
        Duration::from_secs(20),
        || {
            m.log(2).contains(
                "refused an election connection from server 3: quorum SASL authentication failed",
            )
        },
    );
    assert_eq!(m.mode(3), "looking", "server 3 must stay out");
    // With the right password it joins.
    m.term(3);
    m.set_jvm_flags(
        3,
        &format!("-Djava.security.auth.login.config={}", good.display()),
    );
    m.start(3);
    m.wait_leader(&[1, 2, 3]);
}
