//! Test certificates made with `openssl`: a CA, a server certificate for localhost and
//! 127.0.0.1, a client certificate; and the same as Java stores.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs a command, panicking with its output when it fails.
pub fn sh(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as PEM files
/// (`ca.pem`, `server.pem` = certificate + key, `client.pem` = certificate + key), plus the
/// same as PKCS12 and JKS stores for Java.
pub struct Certs {
    pub dir: PathBuf,
}

impl Certs {
    pub fn make(dir: &Path, client_subject: &str) -> Certs {
        let run = |args: &[&str]| {
            sh(Command::new("openssl").args(args).current_dir(dir));
        };
        run(&[
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
            "2",
            "-subj",
            "/CN=test-ca",
        ]);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        // Version 3 certificates (with an extension): rustls, like most TLS stacks now,
        // refuses version 1.
        std::fs::write(dir.join("client.ext"), "basicConstraints=CA:FALSE\n").unwrap();
        for (name, subj, ext) in [
            ("server", "/CN=localhost", Some("server.ext")),
            ("client", client_subject, Some("client.ext")),
        ] {
            run(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                subj,
            ]);
            let mut args = vec![
                "x509".to_string(),
                "-req".into(),
                "-in".into(),
                format!("{name}.csr"),
                "-CA".into(),
                "ca.pem".into(),
                "-CAkey".into(),
                "ca.key".into(),
                "-CAcreateserial".into(),
                "-out".into(),
                format!("{name}.crt"),
                "-days".into(),
                "2".into(),
            ];
            if let Some(e) = ext {
                args.extend(["-extfile".to_string(), e.to_string()]);
            }
            sh(Command::new("openssl").args(&args).current_dir(dir));
            let pem = std::fs::read_to_string(dir.join(format!("{name}.crt"))).unwrap()
                + &std::fs::read_to_string(dir.join(format!("{name}.key"))).unwrap();
            std::fs::write(dir.join(format!("{name}.pem")), pem).unwrap();
        }
        Certs {
            dir: dir.to_path_buf(),
        }
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Certs {
    /// `name.p12` (PKCS12, password `secret`) from `name.crt` and `name.key`, and `trust.jks`
    /// (JKS, password `secret`) holding the CA, for Java.
    pub fn java_stores(&self, name: &str) {
        sh(Command::new("openssl").args([
            "pkcs12",
            "-export",
            "-in",
            &self.path(&format!("{name}.crt")),
            "-inkey",
            &self.path(&format!("{name}.key")),
            "-certfile",
            &self.path("ca.pem"),
            "-out",
            &self.path(&format!("{name}.p12")),
            "-passout",
            "pass:secret",
        ]));
        if !self.dir.join("trust.jks").exists() {
            sh(Command::new("keytool").args([
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                &self.path("ca.pem"),
                "-keystore",
                &self.path("trust.jks"),
                "-storepass",
                "secret",
                "-storetype",
                "JKS",
            ]));
        }
    }
}
