//! Access control: ZooKeeper's ids, ACL entries, the built-in authentication schemes (world, auth,
//! digest, ip, super) and the check that every operation runs before it touches a node.

use crate::error::{ErrorCode, ZkResult};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::fmt;

/// Permission bits of an ACL entry (`ZooDefs.Perms`).
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 1 << 1;
    pub const CREATE: i32 = 1 << 2;
    pub const DELETE: i32 = 1 << 3;
    pub const ADMIN: i32 = 1 << 4;
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;

    /// The letters zkCli prints for a permission set, in its order: c, d, r, w, a.
    pub fn letters(p: i32) -> String {
        let mut s = String::new();
        for (bit, c) in [
            (CREATE, 'c'),
            (DELETE, 'd'),
            (READ, 'r'),
            (WRITE, 'w'),
            (ADMIN, 'a'),
        ] {
            if p & bit != 0 {
                s.push(c);
            }
        }
        s
    }

    /// Parses zkCli's permission letters (`crdwa`); `None` on any other letter.
    pub fn parse_letters(s: &str) -> Option<i32> {
        let mut p = 0;
        for c in s.chars() {
            p |= match c {
                'r' => READ,
                'w' => WRITE,
                'c' => CREATE,
                'd' => DELETE,
                'a' => ADMIN,
                _ => return None,
            };
        }
        Some(p)
    }
}

/// An identity: a scheme and an id in that scheme (`digest:bob:base64hash`, `ip:10.0.0.0/8`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Id {
    pub scheme: String,
    pub id: String,
}

impl Id {
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }
    pub fn anyone() -> Id {
        Id::new("world", "anyone")
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.scheme, self.id)
    }
}

/// One ACL entry: what `id` may do.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl fmt::Debug for Acl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}:{}", self.id, perms::letters(self.perms))
    }
}

impl Acl {
    pub fn new(perms: i32, id: Id) -> Acl {
        Acl { perms, id }
    }
    /// `world:anyone` with every permission: ZooKeeper's OPEN_ACL_UNSAFE.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(perms::ALL, Id::anyone())]
    }
    /// `world:anyone` may read: ZooKeeper's READ_ACL_UNSAFE.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(perms::READ, Id::anyone())]
    }
    /// `auth:` with every permission: ZooKeeper's CREATOR_ALL_ACL.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(perms::ALL, Id::new("auth", ""))]
    }
}

/// Java's `String.split(sep)`: trailing empty pieces are dropped. ZooKeeper's validity checks
/// rely on it (`"bob:"` is not a valid digest id).
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.len() > 1 && parts.last() == Some(&"") {
        parts.pop();
    }
    if parts.len() == 1 && parts[0].is_empty() {
        // Java: "".split(":") is [""], length 1.
        return parts;
    }
    parts
}

/// `DigestAuthenticationProvider.generateDigest("user:password")` = `user:base64(sha1(user:password))`.
pub fn generate_digest(id_password: &str) -> String {
    let user = id_password.split(':').next().unwrap_or("");
    let hash = Sha1::digest(id_password.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

fn ipv4_bytes(addr: &str) -> Option<[u8; 4]> {
    let parts: Vec<&str> = addr.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut b = [0u8; 4];
    for (i, p) in parts.iter().enumerate() {
        // Java's Integer.parseInt accepts a leading '+' or '-'; a value outside 0..=255 is refused.
        let v: i64 = p.parse().ok()?;
        if !(0..=255).contains(&v) {
            return None;
        }
        b[i] = v as u8;
    }
    Some(b)
}

fn mask(b: &mut [u8; 4], bits: u32) {
    let mut start = (bits / 8) as usize;
    let mut start_mask: u8 = !(((1u16 << (8 - (bits % 8))) - 1) as u8);
    while start < b.len() {
        b[start] &= start_mask;
        start_mask = 0;
        start += 1;
    }
}

/// Parses `a.b.c.d[/bits]` as ZooKeeper's IPAuthenticationProvider does (IPv4 only, as in 3.8).
fn parse_cidr(expr: &str) -> Option<([u8; 4], u32)> {
    let mut it = expr.splitn(2, '/');
    let addr = ipv4_bytes(it.next()?)?;
    let bits = match it.next() {
        Some(b) => {
            let v: i64 = b.parse().ok()?;
            if !(0..=32).contains(&v) {
                return None;
            }
            v as u32
        }
        None => 32,
    };
    Some((addr, bits))
}

/// The schemes a server knows. An ACL naming any other scheme is an InvalidACL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    World,
    Auth,
    Digest,
    Ip,
    Super,
    /// `X509AuthenticationProvider`: the client certificate's subject.
    X509,
    /// `SASLAuthenticationProvider`: the SASL authorization id.
    Sasl,
}

impl Scheme {
    pub fn parse(s: &str) -> Option<Scheme> {
        Some(match s {
            "world" => Scheme::World,
            "auth" => Scheme::Auth,
            "digest" => Scheme::Digest,
            "ip" => Scheme::Ip,
            "super" => Scheme::Super,
            "x509" => Scheme::X509,
            "sasl" => Scheme::Sasl,
            _ => return None,
        })
    }

    /// `AuthenticationProvider.isValid` for an id in an ACL being set.
    fn is_valid(self, id: &str) -> bool {
        match self {
            Scheme::Digest => java_split(id, ':').len() == 2,
            Scheme::Ip => parse_cidr(id).is_some(),
            // "super" ids are never valid in ACLs: super is not a registered provider.
            Scheme::Super => false,
            Scheme::World => id == "anyone",
            Scheme::Auth => true,
            // X500Principal parses it / any SASL name.
            Scheme::X509 => id.contains('='),
            Scheme::Sasl => !id.is_empty(),
        }
    }

    /// `AuthenticationProvider.matches(authenticated id, id in the ACL)`.
    fn matches(self, auth_id: &str, acl_id: &str) -> bool {
        match self {
            Scheme::Digest | Scheme::X509 | Scheme::Sasl => auth_id == acl_id,
            Scheme::Ip => {
                let Some((mut acl_addr, bits)) = parse_cidr(acl_id) else {
                    return false;
                };
                let Some(mut remote) = ipv4_bytes(auth_id) else {
                    return false;
                };
                mask(&mut acl_addr, bits);
                mask(&mut remote, bits);
                acl_addr == remote
            }
            _ => false,
        }
    }
}

/// The result of `addauth scheme auth`: the ids the connection gains.
pub fn authenticate(scheme: &str, auth: &[u8], super_digest: Option<&str>) -> ZkResult<Vec<Id>> {
    match scheme {
        "digest" => {
            let id_password = String::from_utf8_lossy(auth);
            let digest = generate_digest(&id_password);
            let mut ids = Vec::new();
            if super_digest == Some(digest.as_str()) {
                ids.push(Id::new("super", ""));
            }
            ids.push(Id::new("digest", digest));
            Ok(ids)
        }
        // IPAuthenticationProvider.handleAuthentication adds the connection's own address; the
        // caller does that, since only it knows the address.
        "ip" => Ok(Vec::new()),
        _ => Err(ErrorCode::AuthFailed),
    }
}

/// Whether ids of `scheme` count as an authenticated user (`isAuthenticated`): what an
/// `auth:` ACL entry expands to.
fn authenticates_users(scheme: &str) -> bool {
    matches!(scheme, "digest" | "sasl" | "x509")
}

/// Providers registered beyond world, auth, digest and ip.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schemes {
    /// `sasl`: an `authProvider.N` names SASLAuthenticationProvider.
    pub sasl: bool,
    /// `x509`: a TLS client port exists.
    pub x509: bool,
}

impl Schemes {
    fn has(self, s: Scheme) -> bool {
        match s {
            Scheme::Sasl => self.sasl,
            Scheme::X509 => self.x509,
            _ => true,
        }
    }
}

/// `PrepRequestProcessor.fixupACL`: drops duplicates, refuses an empty list or an invalid id, and
/// expands `auth:` entries to the ids the requester has authenticated as. An ACL naming a scheme
/// not `registered` is invalid, as ZooKeeper's ProviderRegistry has no provider for it.
pub fn fixup_acl(auth_info: &[Id], acls: &[Acl], registered: Schemes) -> ZkResult<Vec<Acl>> {
    let mut uniq: Vec<&Acl> = Vec::with_capacity(acls.len());
    for a in acls {
        if !uniq.contains(&a) {
            uniq.push(a);
        }
    }
    if uniq.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    let mut out = Vec::with_capacity(uniq.len());
    for a in uniq {
        if a.id.scheme == "world" && a.id.id == "anyone" {
            out.push(a.clone());
        } else if a.id.scheme == "auth" {
            let mut valid = false;
            for cid in auth_info {
                // Only providers that authenticate users count; ip and super do not.
                if authenticates_users(&cid.scheme) {
                    valid = true;
                    out.push(Acl::new(a.perms, cid.clone()));
                }
            }
            if !valid {
                return Err(ErrorCode::InvalidAcl);
            }
        } else {
            match Scheme::parse(&a.id.scheme).filter(|s| registered.has(*s)) {
                Some(s) if s != Scheme::Auth && s.is_valid(&a.id.id) => out.push(a.clone()),
                _ => return Err(ErrorCode::InvalidAcl),
            }
        }
    }
    Ok(out)
}

/// `ZooKeeperServer.checkACL`: may a requester with `auth_info` do `perm` on a node with `acl`?
pub fn check_acl(acl: &[Acl], perm: i32, auth_info: &[Id], skip_acl: bool) -> ZkResult<()> {
    if skip_acl || acl.is_empty() {
        return Ok(());
    }
    if auth_info.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for a in acl {
        if a.perms & perm == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        if let Some(scheme) = Scheme::parse(&a.id.scheme) {
            if auth_info
                .iter()
                .any(|auth| auth.scheme == a.id.scheme && scheme.matches(&auth.id, &a.id.id))
            {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_zookeeper() {
        // Known value: DigestAuthenticationProvider.generateDigest("super:test").
        assert_eq!(
            generate_digest("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(generate_digest("bob:secret").split(':').next(), Some("bob"));
    }

    #[test]
    fn digest_auth_and_check() {
        let acl = vec![Acl::new(
            perms::READ | perms::WRITE,
            Id::new("digest", generate_digest("bob:secret")),
        )];
        let bob = authenticate("digest", b"bob:secret", None).unwrap();
        let eve = authenticate("digest", b"bob:wrong", None).unwrap();
        assert!(check_acl(&acl, perms::READ, &bob, false).is_ok());
        assert_eq!(
            check_acl(&acl, perms::READ, &eve, false),
            Err(ErrorCode::NoAuth)
        );
        assert_eq!(
            check_acl(&acl, perms::DELETE, &bob, false),
            Err(ErrorCode::NoAuth)
        );
        assert!(
            check_acl(&acl, perms::DELETE, &eve, true).is_ok(),
            "skipACL bypasses"
        );
    }

    #[test]
    fn super_digest_bypasses() {
        let sup = generate_digest("super:pw");
        let ids = authenticate("digest", b"super:pw", Some(&sup)).unwrap();
        assert_eq!(ids[0], Id::new("super", ""));
        let acl = vec![Acl::new(perms::READ, Id::new("digest", "x:y"))];
        assert!(check_acl(&acl, perms::ADMIN, &ids, false).is_ok());
    }

    #[test]
    fn ip_cidr() {
        let acl = vec![Acl::new(perms::ALL, Id::new("ip", "10.1.0.0/16"))];
        assert!(check_acl(&acl, perms::READ, &[Id::new("ip", "10.1.2.3")], false).is_ok());
        assert!(check_acl(&acl, perms::READ, &[Id::new("ip", "10.2.2.3")], false).is_err());
        let exact = vec![Acl::new(perms::ALL, Id::new("ip", "127.0.0.1"))];
        assert!(check_acl(&exact, perms::READ, &[Id::new("ip", "127.0.0.1")], false).is_ok());
        assert!(check_acl(&exact, perms::READ, &[Id::new("ip", "127.0.0.2")], false).is_err());
        let odd = vec![Acl::new(perms::ALL, Id::new("ip", "192.168.1.130/25"))];
        assert!(check_acl(&odd, perms::READ, &[Id::new("ip", "192.168.1.200")], false).is_ok());
        assert!(check_acl(&odd, perms::READ, &[Id::new("ip", "192.168.1.100")], false).is_err());
    }

    #[test]
    fn fixup() {
        assert_eq!(
            fixup_acl(&[], &[], Schemes::default()),
            Err(ErrorCode::InvalidAcl)
        );
        let open = Acl::open_unsafe();
        assert_eq!(
            fixup_acl(&[], &[open[0].clone(), open[0].clone()], Schemes::default()).unwrap(),
            open
        );
        assert_eq!(
            fixup_acl(&[], &Acl::creator_all(), Schemes::default()),
            Err(ErrorCode::InvalidAcl)
        );
        let bob = authenticate("digest", b"bob:pw", None).unwrap();
        let ip = Id::new("ip", "127.0.0.1");
        let fixed = fixup_acl(
            &[ip, bob[0].clone()],
            &Acl::creator_all(),
            Schemes::default(),
        )
        .unwrap();
        assert_eq!(fixed, vec![Acl::new(perms::ALL, bob[0].clone())]);
        for bad in ["bob", "bob:", "a:b:c"] {
            let acl = [Acl::new(perms::ALL, Id::new("digest", bad))];
            assert_eq!(
                fixup_acl(&[], &acl, Schemes::default()),
                Err(ErrorCode::InvalidAcl),
                "{bad}"
            );
        }
        for bad in ["10.0.0.0/33", "1.2.3", "256.0.0.1", "::1"] {
            let acl = [Acl::new(perms::ALL, Id::new("ip", bad))];
            assert_eq!(
                fixup_acl(&[], &acl, Schemes::default()),
                Err(ErrorCode::InvalidAcl),
                "{bad}"
            );
        }
        // sasl and x509 exist only when their providers are registered.
        let sasl = [Acl::new(perms::ALL, Id::new("sasl", "alice"))];
        assert_eq!(
            fixup_acl(&[], &sasl, Schemes::default()),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup_acl(
                &[],
                &sasl,
                Schemes {
                    sasl: true,
                    x509: false
                }
            )
            .unwrap(),
            sasl
        );
        let alice = Id::new("sasl", "alice");
        let fixed = fixup_acl(
            std::slice::from_ref(&alice),
            &Acl::creator_all(),
            Schemes {
                sasl: true,
                x509: false,
            },
        )
        .unwrap();
        assert_eq!(fixed, vec![Acl::new(perms::ALL, alice.clone())]);
        assert!(check_acl(&sasl, perms::READ, &[alice], false).is_ok());
        assert!(check_acl(&sasl, perms::READ, &[Id::new("sasl", "bob")], false).is_err());
        let acl = [Acl::new(perms::ALL, Id::new("sasl", "bob"))];
        assert_eq!(
            fixup_acl(&[], &acl, Schemes::default()),
            Err(ErrorCode::InvalidAcl)
        );
        let acl = [Acl::new(perms::ALL, Id::new("world", "someone"))];
        assert_eq!(
            fixup_acl(&[], &acl, Schemes::default()),
            Err(ErrorCode::InvalidAcl)
        );
    }

    #[test]
    fn perm_letters() {
        assert_eq!(perms::letters(perms::ALL), "cdrwa");
        assert_eq!(perms::parse_letters("cdrwa"), Some(perms::ALL));
        assert_eq!(perms::parse_letters("rx"), None);
    }
}
