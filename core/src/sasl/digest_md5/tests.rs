use super::*;

const NONCE: &str = "QOYtXrSyRVNWrQSmoMxmNdKOQcvJb+NMq5ALG63S";
const CNONCE: &str = "wqJ3/9dwY9pMkJMwsBbQ2gOmZVTk3T8HD3cTefHB";

fn users(name: &str) -> Option<String> {
    match name {
        "bob" => Some("bobs-secret".into()),
        "super" => Some("super_secret".into()),
        "jörg" => Some("pässwörd".into()),
        "用户" => Some("密码".into()),
        "q\"uo\\te" => Some("p\"w\\".into()),
        "alice@EXAMPLE.COM" => Some("pw".into()),
        "zk/host1@EXAMPLE.COM" => Some("pw".into()),
        _ => None,
    }
}

fn s(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

/// One full exchange of our client against our server.
fn exchange(
    server: &mut DigestMd5Server,
    client: &mut DigestMd5Client,
) -> Result<Vec<u8>, SaslError> {
    let challenge = server.evaluate(b"", users)?;
    let response = client.respond(&challenge)?;
    let rspauth = server.evaluate(&response, users)?;
    client.respond(&rspauth)
}

// ---- RFC 2831 section 4 ---------------------------------------------------------------------

#[test]
fn rfc2831_imap_example() {
    let challenge = br#"realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",qop="auth",algorithm=md5-sess,charset=utf-8"#;
    let rfc_response = br#"charset=utf-8,username="chris",realm="elwood.innosoft.com",nonce="OA6MG9tEQGm2hh",nc=00000001,cnonce="OA6MHXh6VqTrRk",digest-uri="imap/elwood.innosoft.com",response=d388dad90d4bbd760a152321f2143af7,qop=auth"#;

    // Our client computes the RFC's response value.
    let mut client = DigestMd5Client::new(
        "chris",
        "secret",
        None,
        "imap",
        "elwood.innosoft.com",
        "OA6MHXh6VqTrRk".into(),
    );
    let ours = client.respond(challenge).unwrap();
    assert!(
        s(&ours).contains(",response=d388dad90d4bbd760a152321f2143af7,"),
        "{}",
        s(&ours)
    );

    // Our server accepts the RFC's exact response and answers the RFC's rspauth.
    let mut server =
        DigestMd5Server::for_service("imap", "elwood.innosoft.com", "OA6MG9tEQGm2hh".into());
    server.challenge();
    let lookup = |u: &str| (u == "chris").then(|| "secret".to_string());
    let rspauth = server.respond(rfc_response, lookup).unwrap();
    assert_eq!(s(&rspauth), "rspauth=ea40f60335c427b5527b84dbabcdfffd");
    assert_eq!(server.authorization_id(), Some("chris"));

    // And our client accepts it.
    assert_eq!(
        client
            .respond(b"rspauth=ea40f60335c427b5527b84dbabcdfffd")
            .unwrap(),
        b""
    );
    assert!(client.is_complete());
}

#[test]
fn rfc2831_acap_example() {
    let challenge = br#"realm="elwood.innosoft.com",nonce="OA9BSXrbuRhWay",qop="auth",algorithm=md5-sess,charset=utf-8"#;
    let mut client = DigestMd5Client::new(
        "chris",
        "secret",
        None,
        "acap",
        "elwood.innosoft.com",
        "OA9BSuZWMSpW8m".into(),
    );
    let ours = client.respond(challenge).unwrap();
    assert!(
        s(&ours).contains(",response=6084c6db3fede7352c551284490fd0fc,"),
        "{}",
        s(&ours)
    );
    client
        .respond(b"rspauth=2f0b3d7c3c2e486600ef710726aa2eae")
        .unwrap();
    assert!(client.is_complete());

    let mut server =
        DigestMd5Server::for_service("acap", "elwood.innosoft.com", "OA9BSXrbuRhWay".into());
    server.challenge();
    let rspauth = server.respond(&ours, |_| Some("secret".into())).unwrap();
    assert_eq!(s(&rspauth), "rspauth=2f0b3d7c3c2e486600ef710726aa2eae");
}

// ---- byte formats ---------------------------------------------------------------------------

#[test]
fn challenge_is_javas() {
    let mut server = DigestMd5Server::zookeeper(NONCE.into());
    assert_eq!(
        s(&server.challenge()),
        format!(r#"realm="zk-sasl-md5",nonce="{NONCE}",charset=utf-8,algorithm=md5-sess"#)
    );
    let mut q = DigestMd5Server::quorum(NONCE.into());
    assert_eq!(
        s(&q.challenge()),
        format!(r#"realm="zk-quorum-sasl-md5",nonce="{NONCE}",charset=utf-8,algorithm=md5-sess"#)
    );
    assert_eq!(q.digest_uri(), "zookeeper-quorum/zk-quorum-sasl-md5");
    // A custom realm is escaped like the JDK's writeQuotedStringValue.
    let mut r = DigestMd5Server::new("a\"b\\c", "n\u{1}".into());
    assert_eq!(
        s(&r.challenge()),
        "realm=\"a\\\"b\\\\c\",nonce=\"n\\\u{1}\",charset=utf-8,algorithm=md5-sess"
    );
}

#[test]
fn client_response_is_javas() {
    let mut server = DigestMd5Server::zookeeper(NONCE.into());
    let mut client = DigestMd5Client::zookeeper("bob", "bobs-secret", CNONCE.into());
    let resp = client.respond(&server.challenge()).unwrap();
    let text = s(&resp);
    let prefix = format!(
        r#"charset=utf-8,username="bob",realm="zk-sasl-md5",nonce="{NONCE}",nc=00000001,cnonce="{CNONCE}",digest-uri="zookeeper/zk-sasl-md5",maxbuf=65536,response="#
    );
    assert!(text.starts_with(&prefix), "{text}");
    assert!(text.ends_with(r#",qop=auth,authzid="bob""#), "{text}");
    let hexpart = &text[prefix.len()..prefix.len() + 32];
    assert!(hexpart
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

#[test]
fn java_nonce_is_base64() {
    let bytes: [u8; 30] = std::array::from_fn(|i| i as u8);
    assert_eq!(
        java_nonce(&bytes),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
    );
    let bytes: [u8; 30] = std::array::from_fn(|i| 226 + i as u8);
    assert_eq!(
        java_nonce(&bytes),
        "4uPk5ebn6Onq6+zt7u/w8fLz9PX29/j5+vv8/f7/"
    );
}

// ---- our client against our server ----------------------------------------------------------

#[test]
fn success_with_and_without_authzid() {
    for authzid in [None, Some("bob"), Some("someone-else")] {
        let mut server = DigestMd5Server::zookeeper(NONCE.into());
        let mut client = DigestMd5Client::new(
            "bob",
            "bobs-secret",
            authzid,
            ZK_PROTOCOL,
            ZK_SERVER_NAME,
            CNONCE.into(),
        );
        assert_eq!(exchange(&mut server, &mut client).unwrap(), b"");
        assert!(server.is_complete() && client.is_complete());
        // ZooKeeper's client-port handler ignores the authzid: the id is the user name.
        assert_eq!(server.authorization_id(), Some("bob"));
        assert_eq!(server.username(), Some("bob"));
    }
}

#[test]
fn new_with_realm() {
    let mut server = DigestMd5Server::new("my-realm", NONCE.into());
    let mut client = DigestMd5Client::zookeeper("bob", "bobs-secret", CNONCE.into());
    exchange(&mut server, &mut client).unwrap();
    assert!(client.is_complete());
}

#[test]
fn non_ascii_and_escaped_names() {
    for (user, pw) in [
        ("jörg", "pässwörd"),
        ("用户", "密码"),
        ("q\"uo\\te", "p\"w\\"),
    ] {
        let mut server = DigestMd5Server::zookeeper(NONCE.into());
        let mut client = DigestMd5Client::zookeeper(user, pw, CNONCE.into());
        exchange(&mut server, &mut client).unwrap_or_else(|e| panic!("{user}: {e}"));
        assert_eq!(server.authorization_id(), Some(user));
    }
}

#[test]
fn latin1_names_hash_as_latin1() {
    // "jörg"/"pässwörd" all fit ISO-8859-1, so H(A1) uses one byte per character (as the
    // JDK's stringToByte_8859_1), not UTF-8: compute the expected digest by hand.
    let inputs = DigestInputs {
        digest_uri: "zookeeper/zk-sasl-md5",
        qop: "auth",
        username: "jörg",
        realm: "zk-sasl-md5",
        password: "pässwörd",
        nonce: NONCE.as_bytes(),
        cnonce: CNONCE.as_bytes(),
        authzid: None,
        utf8: true,
    };
    let mut urp = b"j\xf6rg:zk-sasl-md5:p\xe4ssw\xf6rd".to_vec();
    let h = md5(&urp);
    urp.clear();
    let mut a1 = h.to_vec();
    a1.extend_from_slice(format!(":{NONCE}:{CNONCE}").as_bytes());
    let ha1 = hex(&md5(&a1));
    let ha2 = hex(&md5(b"AUTHENTICATE:zookeeper/zk-sasl-md5"));
    let kd = [
        &ha1[..],
        format!(":{NONCE}:00000001:{CNONCE}:auth:").as_bytes(),
        &ha2[..],
    ]
    .concat();
    assert_eq!(response_value("AUTHENTICATE", &inputs), hex(&md5(&kd)));
}

#[test]
fn wrong_password() {
    let mut server = DigestMd5Server::zookeeper(NONCE.into());
    let mut client = DigestMd5Client::zookeeper("bob", "not-it", CNONCE.into());
    let err = exchange(&mut server, &mut client).unwrap_err();
    assert_eq!(err, SaslError::ResponseMismatch("bob".into()));
    assert!(err.to_string().contains("bob") && !err.to_string().contains("not-it"));
    assert!(!server.is_complete());
    assert_eq!(server.authorization_id(), None);
    // The exchange is over, as the JDK's.
    assert!(matches!(
        server.evaluate(b"", users),
        Err(SaslError::State(_))
    ));
}

#[test]
fn unknown_user() {
    let mut server = DigestMd5Server::zookeeper(NONCE.into());
    let mut client = DigestMd5Client::zookeeper("mallory", "x", CNONCE.into());
    assert_eq!(
        exchange(&mut server, &mut client).unwrap_err(),
        SaslError::UnknownUser("mallory".into())
    );
}

fn good_response() -> (DigestMd5Server, String) {
    let mut server = DigestMd5Server::zookeeper(NONCE.into());
    let mut client = DigestMd5Client::zookeeper("bob", "bobs-secret", CNONCE.into());
    let resp = client.respond(&server.challenge()).unwrap();
    (server, String::from_utf8(resp).unwrap())
}

fn respond_with(edit: impl Fn(String) -> String) -> Result<Vec<u8>, SaslError> {
    let (mut server, resp) = good_response();
    server.respond(edit(resp).as_bytes(), users)
}

#[test]
fn tampering() {
    assert!(respond_with(|r| r).is_ok());
    assert_eq!(
        respond_with(|r| r.replace(NONCE, "QOYtXrSyRVNWrQSmoMxmNdKOQcvJb+NMq5ALG63T")),
        Err(SaslError::NonceMismatch)
    );
    assert_eq!(
        respond_with(|r| r.replace(CNONCE, "other-cnonce")),
        Err(SaslError::ResponseMismatch("bob".into()))
    );
    assert_eq!(
        respond_with(|r| r.replace("authzid=\"bob\"", "authzid=\"super\"")),
        Err(SaslError::ResponseMismatch("bob".into()))
    );
    assert_eq!(
        respond_with(|r| r.replace("nc=00000001", "nc=00000002")),
        Err(SaslError::BadNonceCount("00000002".into()))
    );
    assert_eq!(
        respond_with(|r| r.replace("nc=00000001", "nc=zz")),
        Err(SaslError::BadNonceCount("zz".into()))
    );
    assert_eq!(
        respond_with(|r| r.replace("realm=\"zk-sasl-md5\"", "realm=\"other\"")),
        Err(SaslError::WrongRealm {
            got: "other".into(),
            expected: "zk-sasl-md5".into()
        })
    );
    assert_eq!(
        respond_with(|r| r.replace("realm=\"zk-sasl-md5\",", "")),
        Err(SaslError::WrongRealm {
            got: "".into(),
            expected: "zk-sasl-md5".into()
        })
    );
    assert_eq!(
        respond_with(|r| r.replace("zookeeper/zk-sasl-md5", "zookeeper/elsewhere")),
        Err(SaslError::DigestUriMismatch {
            got: Some("zookeeper/elsewhere".into()),
            expected: "zookeeper/zk-sasl-md5".into()
        })
    );
    assert_eq!(
        respond_with(|r| r.replace("digest-uri=\"zookeeper/zk-sasl-md5\",", "")),
        Err(SaslError::DigestUriMismatch {
            got: None,
            expected: "zookeeper/zk-sasl-md5".into()
        })
    );
    // The JDK matches the digest-uri ignoring case and hashes the client's spelling.
    assert_eq!(
        respond_with(|r| r.replace("zookeeper/zk-sasl-md5", "ZooKeeper/ZK-SASL-MD5")),
        Err(SaslError::ResponseMismatch("bob".into()))
    );
    assert_eq!(
        respond_with(|r| r.replace("qop=auth", "qop=auth-int")),
        Err(SaslError::UnsupportedQop("auth-int".into()))
    );
    assert_eq!(
        respond_with(|r| r.replace("charset=utf-8", "charset=UTF-8")),
        Err(SaslError::BadCharset("UTF-8".into()))
    );
    assert_eq!(
        respond_with(|r| r.replace("maxbuf=65536", "maxbuf=lots")),
        Err(SaslError::BadMaxbuf("lots".into()))
    );
    assert!(SaslError::BadMaxbuf(String::new()).java_unchecked());
    assert_eq!(
        respond_with(|r| r.replace("username=\"bob\",", "")),
        Err(SaslError::MissingDirective("username"))
    );
    let cut_response = |r: String| {
        let start = r.find(",response=").unwrap();
        format!("{}{}", &r[..start], &r[start + 10 + 32..])
    };
    assert_eq!(
        respond_with(cut_response),
        Err(SaslError::MissingDirective("response"))
    );
    assert_eq!(
        respond_with(|r| format!("{r},nonce=\"{NONCE}\"")),
        Err(SaslError::DuplicateDirective("nonce".into()))
    );
    // Unknown directives are ignored; keys match without regard to case.
    assert!(respond_with(|r| format!("{r},x-extra=\"whatever\",auth-param=1")).is_ok());
    assert!(respond_with(|r| r.replace("username=", "UserName=")).is_ok());
    // A charset-less response (pure-sasl sends none) is fine.
    assert!(respond_with(|r| r.replace("charset=utf-8,", "")).is_ok());
    // Uppercase hex is not what the JDK compares against (byte for byte).
    let (_, r) = good_response();
    let start = r.find(",response=").unwrap() + 10;
    if r[start..start + 32].bytes().any(|b| b.is_ascii_lowercase()) {
        assert_eq!(
            respond_with(|r| {
                let upper = r[start..start + 32].to_ascii_uppercase();
                format!("{}{}{}", &r[..start], upper, &r[start + 32..])
            }),
            Err(SaslError::ResponseMismatch("bob".into()))
        );
    }
}

#[test]
fn replay() {
    let (mut server, resp) = good_response();
    let rspauth = server.respond(resp.as_bytes(), users).unwrap();
    assert!(rspauth.starts_with(b"rspauth="));
    // The same response again on the same exchange: refused.
    assert!(matches!(
        server.respond(resp.as_bytes(), users),
        Err(SaslError::State(_))
    ));
    assert!(matches!(
        server.evaluate(resp.as_bytes(), users),
        Err(SaslError::State(_))
    ));
    // The captured response against a new exchange (new nonce): refused.
    let mut fresh = DigestMd5Server::zookeeper("another-nonce".into());
    fresh.challenge();
    assert_eq!(
        fresh.respond(resp.as_bytes(), users),
        Err(SaslError::NonceMismatch)
    );
    // Before any challenge: refused.
    let mut early = DigestMd5Server::zookeeper(NONCE.into());
    assert!(matches!(
        early.respond(resp.as_bytes(), users),
        Err(SaslError::State(_))
    ));
}

#[test]
fn client_checks_server() {
    let mut server = DigestMd5Server::zookeeper(NONCE.into());
    let mut client = DigestMd5Client::zookeeper("bob", "bobs-secret", CNONCE.into());
    let resp = client.respond(&server.challenge()).unwrap();
    // A server that does not know the password cannot produce the rspauth.
    let mut forged = server.respond(&resp, users).unwrap();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
    assert_eq!(client.respond(&forged), Err(SaslError::ServerAuthMismatch));
    assert!(!client.is_complete());

    let mut c2 = DigestMd5Client::zookeeper("bob", "bobs-secret", CNONCE.into());
    c2.respond(&DigestMd5Server::zookeeper(NONCE.into()).challenge())
        .unwrap();
    assert_eq!(
        c2.respond(b"nothing=here"),
        Err(SaslError::MissingDirective("rspauth"))
    );
}

#[test]
fn client_checks_challenge() {
    let c = || DigestMd5Client::zookeeper("bob", "pw", CNONCE.into());
    assert_eq!(
        c().respond(b"nonce=\"x\""),
        Err(SaslError::BadAlgorithm(None))
    );
    assert_eq!(
        c().respond(b"nonce=\"x\",algorithm=md5"),
        Err(SaslError::BadAlgorithm(Some("md5".into())))
    );
    assert_eq!(
        c().respond(b"algorithm=md5-sess"),
        Err(SaslError::MissingDirective("nonce"))
    );
    assert_eq!(
        c().respond(b"nonce=\"x\",algorithm=md5-sess,qop=\"auth-conf\""),
        Err(SaslError::NoCommonQop("auth-conf".into()))
    );
    assert_eq!(
        c().respond(b"nonce=\"x\",algorithm=md5-sess,charset=latin1"),
        Err(SaslError::BadCharset("latin1".into()))
    );
    assert!(c()
        .respond(b"nonce=\"x\",algorithm=md5-sess,qop=\"auth-int, auth\"")
        .is_ok());
    assert!(matches!(
        c().respond(&vec![b'a'; MAX_CHALLENGE_LEN + 1]),
        Err(SaslError::TooLong { .. })
    ));
    // Several realms: the first is used; none: no realm directive.
    let r = c()
        .respond(b"realm=\"r1\",realm=\"r2\",nonce=\"x\",algorithm=md5-sess")
        .unwrap();
    assert!(s(&r).contains("realm=\"r1\""));
    let r = c().respond(b"nonce=\"x\",algorithm=md5-sess").unwrap();
    assert!(!s(&r).contains("realm=") && !s(&r).starts_with("charset"));
    // Two realms are a duplicate in the server's table.
    let (mut server, resp) = good_response();
    let dup = format!("{resp},realm=\"zk-sasl-md5\"");
    assert_eq!(
        server.respond(dup.as_bytes(), users),
        Err(SaslError::DuplicateDirective("realm".into()))
    );
}

#[test]
fn quorum_authorization() {
    // The learner as ZooKeeper's: authzid = username: authorized.
    let mut server = DigestMd5Server::quorum(NONCE.into());
    let mut client = DigestMd5Client::quorum("bob", "bobs-secret", CNONCE.into());
    exchange(&mut server, &mut client).unwrap();
    assert_eq!(server.authorization_id(), Some("bob"));
    // No authzid: defaults to the user name: authorized.
    let mut server = DigestMd5Server::quorum(NONCE.into());
    let mut client = DigestMd5Client::new(
        "bob",
        "bobs-secret",
        None,
        QUORUM_PROTOCOL,
        QUORUM_SERVER_NAME,
        CNONCE.into(),
    );
    exchange(&mut server, &mut client).unwrap();
    // Another authzid: refused after the password checked out.
    let mut server = DigestMd5Server::quorum(NONCE.into());
    let mut client = DigestMd5Client::new(
        "bob",
        "bobs-secret",
        Some("super"),
        QUORUM_PROTOCOL,
        QUORUM_SERVER_NAME,
        CNONCE.into(),
    );
    assert_eq!(
        exchange(&mut server, &mut client).unwrap_err(),
        SaslError::NotAuthorized {
            authcid: "bob".into(),
            authzid: "super".into()
        }
    );
    // A client-port client does not fit the quorum's digest-uri.
    let mut server = DigestMd5Server::quorum(NONCE.into());
    let mut client = DigestMd5Client::zookeeper("bob", "bobs-secret", CNONCE.into());
    assert!(matches!(
        exchange(&mut server, &mut client).unwrap_err(),
        SaslError::DigestUriMismatch { .. }
    ));
}

#[test]
fn principal_rules() {
    let d = PrincipalRules::default();
    assert_eq!(d.canonical_id("bob", "bob").unwrap(), "bob");
    assert_eq!(d.canonical_id("bob", "other").unwrap(), "bob");
    assert_eq!(d.canonical_id("a/b", "a/b").unwrap(), "a/b");
    // A realm that is not the default one: no rule applies, the authzid stays.
    assert_eq!(d.canonical_id("alice@EXAMPLE.COM", "zed").unwrap(), "zed");
    assert_eq!(d.canonical_id("alice@", "zed").unwrap(), "alice@");
    assert!(matches!(
        d.canonical_id("a@b@c", "x"),
        Err(SaslError::MalformedPrincipal(_))
    ));
    assert!(matches!(
        d.canonical_id("a/b/c@R", "x"),
        Err(SaslError::MalformedPrincipal(_))
    ));
    assert!(SaslError::MalformedPrincipal(String::new()).java_unchecked());
    let k = PrincipalRules {
        default_realm: "EXAMPLE.COM".into(),
        ..Default::default()
    };
    assert_eq!(
        k.canonical_id("zk/host1@EXAMPLE.COM", "x").unwrap(),
        "zk/host1@EXAMPLE.COM"
    );
    let k2 = PrincipalRules {
        remove_host: true,
        ..k.clone()
    };
    assert_eq!(
        k2.canonical_id("zk/host1@EXAMPLE.COM", "x").unwrap(),
        "zk@EXAMPLE.COM"
    );
    let k3 = PrincipalRules {
        remove_host: true,
        remove_realm: true,
        ..k
    };
    assert_eq!(k3.canonical_id("zk/host1@EXAMPLE.COM", "x").unwrap(), "zk");
    assert_eq!(k3.canonical_id("bob", "x").unwrap(), "bob");

    // Through the server: a user named like a principal.
    let mut server = DigestMd5Server::zookeeper(NONCE.into())
        .with_authorization(Authorization::ClientPort(k3.clone()));
    let mut client = DigestMd5Client::zookeeper("zk/host1@EXAMPLE.COM", "pw", CNONCE.into());
    exchange(&mut server, &mut client).unwrap();
    assert_eq!(server.authorization_id(), Some("zk"));
}

// ---- directive syntax -----------------------------------------------------------------------

#[test]
fn directive_syntax() {
    let p = |b: &[u8]| parse_directives(b);
    let kv = |v: Vec<(Vec<u8>, Vec<u8>)>| {
        v.into_iter()
            .map(|(k, v)| (lossy(&k), lossy(&v)))
            .collect::<Vec<_>>()
    };
    let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        kv(p(b"  a=1 ,, b = \"x\\\"y\\\\z\"\t,c=\"\",d=,e").unwrap()),
        vec![
            pair("a", "1"),
            pair("b", "x\"y\\z"),
            pair("c", ""),
            pair("d", ""),
            pair("e", "")
        ]
    );
    assert_eq!(
        kv(p(b"a=1 b=2").unwrap()),
        vec![pair("a", "1"), pair("b", "2")]
    );
    assert_eq!(kv(p(b"").unwrap()), vec![]);
    assert!(matches!(p(b"a,b=1"), Err(SaslError::Malformed(_))));
    assert!(matches!(p(b"=1"), Err(SaslError::Malformed(_))));
    assert!(matches!(p(b"a="), Err(SaslError::Malformed(_))));
    assert!(matches!(p(b"a b=1"), Err(SaslError::Malformed(_))));
    assert!(matches!(p(b"a=\"open"), Err(SaslError::Malformed(_))));
    assert!(matches!(p(b"a=\"x\\"), Err(SaslError::Malformed(_))));
    assert!(matches!(p(b"a=\"x\"y"), Err(SaslError::Malformed(_))));
    let big = format!("a=\"{}\"", "x".repeat(MAX_VALUE_LEN + 1));
    assert!(matches!(
        p(big.as_bytes()),
        Err(SaslError::FieldTooLong { .. })
    ));
    let big_key = format!("{}=1", "k".repeat(MAX_VALUE_LEN + 1));
    assert!(matches!(
        p(big_key.as_bytes()),
        Err(SaslError::FieldTooLong { .. })
    ));
}

#[test]
fn bounds() {
    let (mut server, resp) = good_response();
    let long = format!("{resp},pad=\"{}\"", "p".repeat(MAX_RESPONSE_LEN));
    assert!(matches!(
        server.respond(long.as_bytes(), users),
        Err(SaslError::TooLong { .. })
    ));
    let mut server = DigestMd5Server::zookeeper(NONCE.into());
    assert!(matches!(
        server.evaluate(&vec![0u8; MAX_RESPONSE_LEN + 1], users),
        Err(SaslError::TooLong { .. })
    ));
    // A huge username within the 4 KiB.
    let (mut server, _) = good_response();
    let huge = format!(
        "username=\"{}\",realm=\"zk-sasl-md5\",nonce=\"{NONCE}\",cnonce=\"c\",digest-uri=\"zookeeper/zk-sasl-md5\",response=0",
        "u".repeat(2000)
    );
    assert!(matches!(
        server.respond(huge.as_bytes(), users),
        Err(SaslError::FieldTooLong { .. })
    ));
    // A long client response is refused by the client itself.
    let mut client = DigestMd5Client::zookeeper(&"u".repeat(3000), "pw", CNONCE.into());
    let mut server = DigestMd5Server::zookeeper(NONCE.into());
    assert!(matches!(
        client.respond(&server.challenge()),
        Err(SaslError::TooLong { .. })
    ));
}

// ---- malformed input never panics -----------------------------------------------------------

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn no_panics_on_garbage() {
    let (_, resp) = good_response();
    let resp = resp.into_bytes();
    let mut chall_server = DigestMd5Server::zookeeper(NONCE.into());
    let challenge = chall_server.challenge();
    let alphabet = b"=,\"\\ \t\r\nabcnoeuqrsz019-/\x00\xff\xc3";

    let run_server = |input: &[u8]| {
        let mut server = DigestMd5Server::zookeeper(NONCE.into());
        let _ = server.evaluate(b"", users);
        let r = server.evaluate(input, users);
        if r.is_ok() {
            assert_eq!(server.authorization_id(), Some("bob"));
        }
    };
    let run_client = |input: &[u8]| {
        let mut c = DigestMd5Client::zookeeper("bob", "bobs-secret", CNONCE.into());
        let _ = c.respond(input);
        let _ = c.respond(input);
        let _ = c.respond(input);
    };

    // Every truncation of a valid response and challenge.
    for n in 0..=resp.len() {
        run_server(&resp[..n]);
    }
    for n in 0..=challenge.len() {
        run_client(&challenge[..n]);
    }
    // Single-byte mutations.
    for i in 0..resp.len() {
        for &b in alphabet.iter() {
            let mut m = resp.clone();
            m[i] = b;
            run_server(&m);
        }
    }
    for i in 0..challenge.len() {
        for &b in alphabet.iter() {
            let mut m = challenge.clone();
            m[i] = b;
            run_client(&m);
        }
    }
    // Random bytes, random bytes from the syntax's alphabet, random splices.
    let mut rng = XorShift(0x9e3779b97f4a7c15);
    for round in 0..20_000 {
        let len = (rng.next() % 300) as usize;
        let input: Vec<u8> = (0..len)
            .map(|_| {
                let r = rng.next();
                if round % 2 == 0 {
                    r as u8
                } else {
                    alphabet[(r % alphabet.len() as u64) as usize]
                }
            })
            .collect();
        run_server(&input);
        run_client(&input);
        let cut = (rng.next() as usize) % (resp.len() + 1);
        let spliced = [&resp[..cut], &input[..], &resp[cut..]].concat();
        run_server(&spliced);
    }
}

#[test]
fn java_int_parsing() {
    assert_eq!(java_parse_int(b"00000001", 16), Some(1));
    assert_eq!(java_parse_int(b"+1", 16), Some(1));
    assert_eq!(java_parse_int(b"-80000000", 16), Some(i32::MIN));
    assert_eq!(java_parse_int(b"80000000", 16), None);
    assert_eq!(java_parse_int(b"", 10), None);
    assert_eq!(java_parse_int(b"-", 10), None);
    assert_eq!(java_parse_int(b"65536", 10), Some(65536));
    assert_eq!(java_parse_int(b"99999999999999999999", 10), None);
    assert!(java_eq_ignore_case(
        "zookeeper/zk-sasl-md5",
        "ZOOKEEPER/ZK-SASL-MD5"
    ));
    assert!(!java_eq_ignore_case(
        "zookeeper/zk-sasl-md5",
        "zookeeper/zk-sasl-md"
    ));
}
