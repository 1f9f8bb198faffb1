use super::*;

/// kazoo's test JAAS file.
const KAZOO: &str = r#"
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_super="super_secret"
    user_jaasuser="jaas_password";
};
"#;

/// ZooKeeper's embedded test file (zookeeper-server/src/test/resources/embedded/
/// test_jaas_server_auth.conf), with the Server-Server mutual authentication example's
/// QuorumServer/QuorumLearner sections.
const ZK_QUORUM: &str = r#"Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_foo="bar";
};
Client {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="foo"
       password="bar";
};
QuorumServer {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_test="test";
};
QuorumLearner {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       username="test"
       password="test";
};"#;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn err(text: &str) -> JaasError {
    JaasConfig::parse(text).unwrap_err()
}

#[test]
fn kazoo_file() {
    let c = JaasConfig::parse(KAZOO).unwrap();
    assert_eq!(c.sections.len(), 1);
    let s = c.section(SERVER_SECTION).unwrap();
    assert_eq!(s.line, 2);
    assert_eq!(s.modules.len(), 1);
    assert_eq!(s.modules[0].class, DIGEST_LOGIN_MODULE);
    assert_eq!(s.modules[0].flag, ControlFlag::Required);
    assert_eq!(s.modules[0].line, 3);
    assert_eq!(
        digest_users(s),
        map(&[("super", "super_secret"), ("jaasuser", "jaas_password")])
    );
    let users = s.digest_users();
    assert_eq!(
        server_password(&users, None, "super").as_deref(),
        Some("super_secret")
    );
    assert_eq!(
        server_password(&users, Some("override"), "super").as_deref(),
        Some("override")
    );
    assert_eq!(
        server_password(&users, Some("override"), "jaasuser").as_deref(),
        Some("jaas_password")
    );
    assert_eq!(server_password(&users, Some("override"), "nobody"), None);
    // Debug output hides the passwords.
    let dbg = format!("{c:?}");
    assert!(
        dbg.contains("user_super") && !dbg.contains("super_secret"),
        "{dbg}"
    );
}

#[test]
fn zookeeper_quorum_file() {
    let c = JaasConfig::parse(ZK_QUORUM).unwrap();
    let names: Vec<_> = c.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["Server", "Client", "QuorumServer", "QuorumLearner"]);
    assert_eq!(
        c.section("Server").unwrap().digest_users(),
        map(&[("foo", "bar")])
    );
    assert_eq!(
        c.section(QUORUM_SERVER_SECTION)
            .unwrap()
            .quorum_digest_users(),
        Some(map(&[("test", "test")]))
    );
    let client = c
        .section(CLIENT_SECTION)
        .unwrap()
        .digest_credentials()
        .unwrap();
    assert_eq!(
        (client.username.as_str(), client.password.as_deref()),
        ("foo", Some("bar"))
    );
    let learner = c
        .section(QUORUM_LEARNER_SECTION)
        .unwrap()
        .digest_credentials()
        .unwrap();
    assert_eq!(
        (learner.username.as_str(), learner.password.as_deref()),
        ("test", Some("test"))
    );
    assert!(!format!("{learner:?}").contains("\"test\", password: Some(\"test\")"));
    assert_eq!(c.section("Server").unwrap().digest_credentials(), None);
    assert_eq!(c.section("server"), None);
}

#[test]
fn kerberos_and_mixed_sections() {
    let text = r#"
    QuorumServer {
        com.sun.security.auth.module.Krb5LoginModule required
        useKeyTab=true
        keyTab="/path/to/keytab"
        storeKey=true
        useTicketCache=false
        debug=false
        principal="zkquorum/fully.qualified.domain.name@EXAMPLE.COM";
    };
    Server {
        com.sun.security.auth.module.Krb5LoginModule optional
        user_a="from-krb-entry";
        org.apache.zookeeper.server.auth.DigestLoginModule sufficient
        user_b="b" user_a="overridden";
    };"#;
    let c = JaasConfig::parse(text).unwrap();
    let q = c.section("QuorumServer").unwrap();
    assert_eq!(q.quorum_digest_users(), None);
    assert_eq!(q.modules[0].options["keyTab"], "/path/to/keytab");
    assert_eq!(q.modules[0].options["useKeyTab"], "true");
    assert_eq!(
        q.modules[0].options["principal"],
        "zkquorum/fully.qualified.domain.name@EXAMPLE.COM"
    );
    let s = c.section("Server").unwrap();
    assert_eq!(s.modules[0].flag, ControlFlag::Optional);
    assert_eq!(s.modules[1].flag, ControlFlag::Sufficient);
    // The client-port handler reads user_ options from every module; later ones win.
    assert_eq!(s.digest_users(), map(&[("a", "overridden"), ("b", "b")]));
    assert_eq!(s.quorum_digest_users(), None);
}

#[test]
fn comments_quotes_and_words() {
    let text = "// leading comment\n\
        /* block\n   comment */ App /* inline */ {\n\
        \tmy.pkg.Module-2 ReQuIrEd // flag in any case\n\
        \t  key1=bare_word.with-dots*and$dollar\n\
        \t  \"quoted key\"=\"esc: \\\" \\\\ \\t \\n \\101\\7\\400 \\q\"\n\
        \t  empty=\"\"\n\
        \t  dup=first dup=\"second\"\n\
        \t  unicode=пароль\n\
        ;\n\
        Other.Module optional;\n\
        };\n\
        'Single' { };\n\
        \"Quoted Name\" {};";
    let c = JaasConfig::parse(text).unwrap();
    let app = c.section("App").unwrap();
    assert_eq!(app.line, 3);
    let m = &app.modules[0];
    assert_eq!(m.class, "my.pkg.Module-2");
    assert_eq!(m.line, 4);
    assert_eq!(m.options["key1"], "bare_word.with-dots*and$dollar");
    assert_eq!(m.options["quoted key"], "esc: \" \\ \t \n A\u{7}\u{20}0 q");
    assert_eq!(m.options["empty"], "");
    assert_eq!(m.options["unicode"], "пароль");
    // A repeated key: the last wins.
    assert_eq!(m.options["dup"], "second");
    assert_eq!(app.modules[1].class, "Other.Module");
    assert!(app.modules[1].options.is_empty());
    assert!(c.section("Single").unwrap().modules.is_empty());
    assert!(c.section("Quoted Name").is_some());
}

#[test]
fn errors_name_line_and_problem() {
    let e = err("Server {\n  mod required\n  user_a=123;\n};");
    assert_eq!(e.line, 3);
    assert!(
        matches!(
            e.kind,
            JaasErrorKind::Expected {
                expected: "an option value",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("line 3"), "{e}");

    let e = err("Server {\n  mod mandatory;\n};");
    assert_eq!(
        e,
        JaasError {
            line: 2,
            kind: JaasErrorKind::InvalidControlFlag("mandatory".into())
        }
    );

    let e = err("Server {\n  mod required\n  user_a=\"x\"\n");
    assert_eq!(
        e.kind,
        JaasErrorKind::UnexpectedEof {
            expected: "an option key or ';'"
        }
    );

    let e = err("Server {\n  mod required;\n}");
    assert_eq!(
        e.kind,
        JaasErrorKind::UnexpectedEof {
            expected: "';' after '}'"
        }
    );

    let e = err("A { m required; };\n\nA { m required; };");
    assert_eq!(
        e,
        JaasError {
            line: 3,
            kind: JaasErrorKind::DuplicateSection("A".into())
        }
    );

    let e = err("Server {\n mod required\n user_a='single';\n};");
    assert_eq!(e.line, 3);
    assert!(e.to_string().contains("single-quoted"), "{e}");

    let e = err("Server {\n mod required\n path=/etc/x;\n};");
    // '/' starts a comment: the value and the ';' vanish, and '}' is no option value.
    assert_eq!(e.line, 4);

    let e = err("Server {\n mod required\n user_a=a@b;\n};");
    assert!(
        matches!(e.kind, JaasErrorKind::Expected { .. }) && e.line == 3,
        "{e}"
    );

    let e = err("Server \n mod required;\n};");
    assert_eq!(e.line, 2);
    assert!(e.to_string().contains("'{'"), "{e}");

    let e = err("Server { mod required user_a \"x\"; };");
    assert!(e.to_string().contains("'='"), "{e}");

    // An unterminated block comment ends the file, as in the JDK.
    assert_eq!(
        JaasConfig::parse("/* open\nServer { mod required; };")
            .unwrap()
            .sections
            .len(),
        0
    );
    let e = err("Server { mod required; /* open\n};");
    assert_eq!(
        e.kind,
        JaasErrorKind::UnexpectedEof {
            expected: "a login module class name or '}'"
        }
    );
}

#[test]
fn numbers_are_refused() {
    // A bare value that starts with a digit, '.' or "-<digit>" is a number token to the JDK.
    for v in ["123", "1x", ".5", "-1"] {
        let text = format!("S {{ m required k={v}; }};");
        let e = err(&text);
        assert!(e.to_string().contains("number"), "{v}: {e}");
    }
    // Quoted, they are fine.
    let c = JaasConfig::parse("S { m required k=\"123\"; };").unwrap();
    assert_eq!(c.sections[0].modules[0].options["k"], "123");
}

#[test]
fn unterminated_quote_ends_at_line_end() {
    // As the JDK's tokenizer: no error, the value stops at the line break.
    let c = JaasConfig::parse("S { m required\n k=\"abc\n ; };").unwrap();
    assert_eq!(c.sections[0].modules[0].options["k"], "abc");
}

#[test]
fn line_breaks() {
    let e = err("S {\r\n m required\r\n k=1;\r\n};");
    assert_eq!(e.line, 3);
    let e = err("S {\r m required\r k=1;\r};");
    assert_eq!(e.line, 3);
    // A lone '/' swallows the next character even if it is the line break, and so the
    // whole next line too.
    let c = JaasConfig::parse("S { m required /\nk=\"v\"\n; };").unwrap();
    assert!(c.sections[0].modules[0].options.is_empty());
}

#[test]
fn property_expansion() {
    let props = |k: &str| match k {
        "user.home" => Some("/home/zk".to_string()),
        "empty" => Some(String::new()),
        _ => None,
    };
    let parse = |v: &str| {
        JaasConfig::parse_with_properties(&format!("S {{ m required k=\"{v}\"; }};"), props)
            .map(|c| c.sections[0].modules[0].options["k"].clone())
    };
    assert_eq!(parse("${user.home}/keytab").unwrap(), "/home/zk/keytab");
    assert_eq!(parse("a${/}b").unwrap(), "a/b");
    assert_eq!(parse("${{literal}}x").unwrap(), "${{literal}}x");
    assert_eq!(parse("${{literal}}").unwrap(), "${{literal}}");
    assert_eq!(parse("no ${close").unwrap(), "no ${close");
    assert_eq!(parse("$notprop").unwrap(), "$notprop");
    assert_eq!(
        parse("${nope}").unwrap_err().kind,
        JaasErrorKind::UndefinedProperty("nope".into())
    );
    assert_eq!(
        parse("${empty}").unwrap_err().kind,
        JaasErrorKind::EmptyExpansion("${empty}".into())
    );
    assert_eq!(parse("").unwrap(), "");
    // Without properties, ${x} is an error as with an unset system property.
    assert!(JaasConfig::parse("S { m required k=\"${user.home}\"; };").is_err());
}

#[test]
fn no_panics_on_garbage() {
    let base = format!("{KAZOO}\n{ZK_QUORUM}\n/* c */ // d\n'x' {{ a b c='d'; }};\n\"\\377\\");
    let chars: Vec<char> = base.chars().collect();
    for n in 0..=chars.len() {
        let s: String = chars[..n].iter().collect();
        let _ = JaasConfig::parse(&s);
    }
    let alphabet: Vec<char> = "{};=\"'\\/*\n\r -.09azAZ_$@\u{80}\u{a0}ж".chars().collect();
    let mut x: u64 = 0x2545F4914F6CDD1D;
    for _ in 0..5000 {
        let len = (x % 200) as usize;
        let mut s = String::new();
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        let _ = JaasConfig::parse(&s);
        let _ = JaasConfig::parse_with_properties(&s, |_| Some("v".into()));
    }
}
