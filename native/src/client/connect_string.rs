//! The connect string, `host:port,host:port[/chroot]`, read as ZooKeeper's
//! `ConnectStringParser` reads it, and the chroot arithmetic on paths.
//!
//! A chroot makes the client live in a subtree: every path it sends gets the chroot in front, and
//! every path the server sends back (a created node's name, a watch event's path) loses it.

use super::error::ClientError;
use zk_core::path::validate_path;

/// The port of a server named without one.
pub const DEFAULT_PORT: u16 = 2181;

/// A parsed connect string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectString {
    /// `(host, port)` in the order given; the client shuffles them.
    pub servers: Vec<(String, u16)>,
    /// `None` for no chroot (a chroot of `/` is none).
    pub chroot: Option<String>,
}

impl ConnectString {
    pub fn parse(s: &str) -> Result<ConnectString, ClientError> {
        let bad = |reason: String| ClientError::BadConnectString {
            connect_string: s.to_string(),
            reason,
        };
        let (hosts, chroot) = match s.find('/') {
            Some(i) => {
                let c = &s[i..];
                if c.len() == 1 {
                    (&s[..i], None)
                } else {
                    validate_path(c).map_err(|e| bad(format!("chroot: {e}")))?;
                    (&s[..i], Some(c.to_string()))
                }
            }
            None => (s, None),
        };
        let mut servers = Vec::new();
        for h in hosts.split(',').map(str::trim).filter(|h| !h.is_empty()) {
            servers.push(parse_host_port(h).map_err(bad)?);
        }
        if servers.is_empty() {
            return Err(bad("no server named".to_string()));
        }
        Ok(ConnectString { servers, chroot })
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`.
fn parse_host_port(h: &str) -> Result<(String, u16), String> {
    let port = |p: &str| {
        p.parse::<u16>()
            .map_err(|_| format!("bad port {p:?} for server {h:?}"))
    };
    if let Some(rest) = h.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("unclosed '[' in server {h:?}"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        return match after.strip_prefix(':') {
            Some(p) => Ok((host.to_string(), port(p)?)),
            None if after.is_empty() => Ok((host.to_string(), DEFAULT_PORT)),
            None => Err(format!("unexpected {after:?} after ']' in server {h:?}")),
        };
    }
    match h.rfind(':') {
        // A ':' at the very end is ignored, as ZooKeeper ignores it.
        Some(i) if i + 1 == h.len() => Ok((h[..i].to_string(), DEFAULT_PORT)),
        Some(i) => Ok((h[..i].to_string(), port(&h[i + 1..])?)),
        None => Ok((h.to_string(), DEFAULT_PORT)),
    }
}

pub use zk_core::client::{to_client_path, to_server_path};

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(s: &str) -> Vec<(String, u16)> {
        ConnectString::parse(s).unwrap().servers
    }

    #[test]
    fn hosts_ports_and_chroot() {
        assert_eq!(
            servers("a:1,b,c:"),
            vec![
                ("a".to_string(), 1),
                ("b".to_string(), 2181),
                ("c".to_string(), 2181)
            ]
        );
        assert_eq!(
            servers("[::1]:2182,[fe80::1]"),
            vec![("::1".to_string(), 2182), ("fe80::1".to_string(), 2181)]
        );
        let cs = ConnectString::parse("127.0.0.1:2181,127.0.0.1:2182/app/x").unwrap();
        assert_eq!(cs.chroot.as_deref(), Some("/app/x"));
        assert_eq!(cs.servers.len(), 2);
        assert_eq!(ConnectString::parse("h:1/").unwrap().chroot, None);
    }

    #[test]
    fn refusals_name_the_problem() {
        for (s, needle) in [
            ("", "no server"),
            ("h:port", "bad port \"port\""),
            ("h:1/app/", "chroot"),
            ("[::1", "unclosed"),
        ] {
            let e = ConnectString::parse(s).unwrap_err().to_string();
            assert!(e.contains(needle), "{s:?}: {e}");
        }
    }

    #[test]
    fn chroot_arithmetic() {
        assert_eq!(to_server_path(None, "/a"), "/a");
        assert_eq!(to_server_path(Some("/app"), "/"), "/app");
        assert_eq!(to_server_path(Some("/app"), "/a/b"), "/app/a/b");
        assert_eq!(to_client_path(Some("/app"), "/app"), "/");
        assert_eq!(to_client_path(Some("/app"), "/app/a"), "/a");
        assert_eq!(to_client_path(Some("/app"), "/ap"), "/ap");
        assert_eq!(to_client_path(None, "/x"), "/x");
    }
}
