//! Sessions (ZooKeeper's `SessionTrackerImpl` and `ExpiryQueue`).
//!
//! The tracker lives on the server that decides expiry: a standalone server, or the leader of an
//! ensemble. Each session expires at a tick boundary: touching a session (any request or ping)
//! moves it to the bucket `roundToNextInterval(now + timeout)`, and the tracker empties one bucket
//! per tick. An expired session is marked closing and handed back to the caller, which turns it
//! into a closeSession transaction, so expiry is replicated like any other change.
//!
//! Session ids and passwords are built exactly as ZooKeeper builds them, so any server can check a
//! reconnecting client's password without having seen the session before.

use crate::error::{ErrorCode, ZkResult};
use crate::stat::CONTAINER_EPHEMERAL_OWNER;
use crate::types::{Millis, ServerId, SessionId};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// `ZooKeeperServer.superSecret`, mixed into every session password.
const SUPER_SECRET: i64 = 0xB341_5C00;

/// `java.util.Random`, which ZooKeeper uses to derive a session's password from its id.
struct JavaRandom {
    seed: i64,
}

impl JavaRandom {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;

    fn new(seed: i64) -> JavaRandom {
        JavaRandom {
            seed: (seed ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        ((self.seed as u64) >> (48 - bits)) as i32
    }

    fn next_bytes(&mut self, out: &mut [u8]) {
        let mut i = 0;
        while i < out.len() {
            let mut rnd = self.next(32);
            let n = (out.len() - i).min(4);
            for _ in 0..n {
                out[i] = rnd as u8;
                i += 1;
                rnd >>= 8;
            }
        }
    }
}

/// `ZooKeeperServer.generatePasswd`: the 16-byte password of a session.
pub fn session_password(id: SessionId) -> Vec<u8> {
    let mut p = vec![0u8; 16];
    JavaRandom::new(id.0 ^ SUPER_SECRET).next_bytes(&mut p);
    p
}

/// `SessionTrackerImpl.initializeNextSessionId`: the server id in the top byte, a time-derived
/// value below it. `wall_ms` is the wall clock in milliseconds.
pub fn initial_session_id(server: ServerId, wall_ms: i64) -> i64 {
    let mut next = (((wall_ms as u64) << 24) >> 8) as i64;
    next |= (server.0 as i64) << 56;
    if next == CONTAINER_EPHEMERAL_OWNER {
        next += 1;
    }
    next
}

/// Clamps a requested timeout to [min, max] (`ZooKeeperServer.processConnectRequest`).
pub fn negotiate_timeout(requested: i32, min: i32, max: i32) -> i32 {
    requested.max(min).min(max)
}

/// One tracked session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub timeout: i32,
    /// The bucket (tick boundary) at which it expires unless touched.
    pub expires_at: Millis,
    /// Set when a closeSession has been prepared: further requests get SessionExpired.
    pub closing: bool,
    /// The server the session's client is connected to; requests from anywhere else get
    /// SessionMoved.
    pub owner: Option<ServerId>,
}

/// Live sessions with their expiry buckets.
#[derive(Clone, Debug)]
pub struct SessionTracker {
    interval: Millis,
    sessions: BTreeMap<SessionId, SessionInfo>,
    buckets: BTreeMap<Millis, BTreeSet<SessionId>>,
    next_session_id: i64,
}

impl SessionTracker {
    /// `tick_ms` is the expiration interval (tickTime); `wall_ms` the
    /// wall clock used to seed session ids.
    pub fn new(server: ServerId, tick_ms: u32, wall_ms: i64) -> SessionTracker {
        let interval = tick_ms.max(1) as Millis;
        SessionTracker {
            interval,
            sessions: BTreeMap::new(),
            buckets: BTreeMap::new(),
            next_session_id: initial_session_id(server, wall_ms),
        }
    }

    fn round(&self, t: Millis) -> Millis {
        (t / self.interval + 1) * self.interval
    }

    /// A new session id (`createSession`); the session is tracked at once.
    pub fn create_session(&mut self, timeout: i32, now: Millis) -> SessionId {
        let id = SessionId(self.next_session_id);
        self.next_session_id = self.next_session_id.wrapping_add(1);
        self.track(id, timeout, now);
        id
    }

    /// Starts tracking a session (created elsewhere, or restored from a snapshot or log).
    pub fn track(&mut self, id: SessionId, timeout: i32, now: Millis) {
        if self.sessions.contains_key(&id) {
            self.touch(id, timeout, now);
            return;
        }
        let at = self.round(now + timeout.max(0) as Millis);
        self.sessions.insert(
            id,
            SessionInfo {
                timeout,
                expires_at: at,
                closing: false,
                owner: None,
            },
        );
        self.buckets.entry(at).or_default().insert(id);
    }

    /// Renews a session; false if it is unknown or closing.
    pub fn touch(&mut self, id: SessionId, timeout: i32, now: Millis) -> bool {
        let at = self.round(now + timeout.max(0) as Millis);
        let Some(s) = self.sessions.get_mut(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        s.timeout = timeout;
        if s.expires_at != at {
            let old = s.expires_at;
            s.expires_at = at;
            if let Some(b) = self.buckets.get_mut(&old) {
                b.remove(&id);
                if b.is_empty() {
                    self.buckets.remove(&old);
                }
            }
            self.buckets.entry(at).or_default().insert(id);
        }
        true
    }

    /// Renews with the session's own timeout.
    pub fn touch_existing(&mut self, id: SessionId, now: Millis) -> bool {
        match self.sessions.get(&id) {
            Some(s) => {
                let t = s.timeout;
                self.touch(id, t, now)
            }
            None => false,
        }
    }

    /// `checkSession`: UnknownSession, SessionExpired (closing) or SessionMoved (another owner).
    /// The first owner to ask becomes the owner.
    pub fn check(&mut self, id: SessionId, owner: ServerId) -> ZkResult<()> {
        let s = self
            .sessions
            .get_mut(&id)
            .ok_or(ErrorCode::UnknownSession)?;
        if s.closing {
            return Err(ErrorCode::SessionExpired);
        }
        match s.owner {
            None => {
                s.owner = Some(owner);
                Ok(())
            }
            Some(o) if o == owner => Ok(()),
            Some(_) => Err(ErrorCode::SessionMoved),
        }
    }

    /// `setOwner`: a client re-attached through `owner`.
    pub fn set_owner(&mut self, id: SessionId, owner: ServerId) -> ZkResult<()> {
        match self.sessions.get_mut(&id) {
            Some(s) if !s.closing => {
                s.owner = Some(owner);
                Ok(())
            }
            _ => Err(ErrorCode::SessionExpired),
        }
    }

    pub fn set_closing(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    /// Forgets a session (its closeSession was applied).
    pub fn remove(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.remove(&id) {
            if let Some(b) = self.buckets.get_mut(&s.expires_at) {
                b.remove(&id);
                if b.is_empty() {
                    self.buckets.remove(&s.expires_at);
                }
            }
        }
    }

    pub fn get(&self, id: SessionId) -> Option<&SessionInfo> {
        self.sessions.get(&id)
    }

    pub fn contains(&self, id: SessionId) -> bool {
        self.sessions.contains_key(&id)
    }

    /// Is the session known and not closing?
    pub fn is_live(&self, id: SessionId) -> bool {
        self.sessions.get(&id).is_some_and(|s| !s.closing)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&SessionId, &SessionInfo)> {
        self.sessions.iter()
    }

    /// `ExpiryQueue.poll` for every tick boundary up to `now`: the sessions that expired, now
    /// marked closing. Sessions already closing are not returned again.
    pub fn expire(&mut self, now: Millis) -> Vec<SessionId> {
        let mut out = Vec::new();
        while let Some((&at, _)) = self.buckets.iter().next() {
            if at > now {
                break;
            }
            for id in self.buckets.remove(&at).unwrap_or_default() {
                if let Some(s) = self.sessions.get_mut(&id) {
                    if !s.closing {
                        s.closing = true;
                        out.push(id);
                    }
                }
            }
        }
        out
    }

    /// When the next expiry check is due.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.buckets.keys().next().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_java() {
        // new java.util.Random(42).nextInt() == -1170105035
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next(32), -1170105035);
        // new Random(0).nextBytes(new byte[4]) gives {96, -76, 32, -69}
        let mut b = [0u8; 4];
        JavaRandom::new(0).next_bytes(&mut b);
        assert_eq!(b, [96u8, (-76i8) as u8, 32, (-69i8) as u8]);
    }

    #[test]
    fn passwords_depend_only_on_the_id() {
        let a = session_password(SessionId(0x1000));
        assert_eq!(a.len(), 16);
        assert_eq!(a, session_password(SessionId(0x1000)));
        assert_ne!(a, session_password(SessionId(0x1001)));
    }

    #[test]
    fn session_ids() {
        let id = initial_session_id(ServerId(1), 0x1234);
        assert_eq!(id >> 56, 1);
        assert_eq!(id & 0x00ff_ffff_ffff_ffff, 0x1234 << 16);
        assert_eq!(negotiate_timeout(100, 4000, 40000), 4000);
        assert_eq!(negotiate_timeout(100_000, 4000, 40000), 40000);
        assert_eq!(negotiate_timeout(5000, 4000, 40000), 5000);
    }

    #[test]
    fn expiry_in_tick_buckets() {
        let mut t = SessionTracker::new(ServerId(1), 2000, 0);
        let a = t.create_session(4000, 0); // expires at round(4000) = 6000
        let b = t.create_session(10000, 0); // round(10000) = 12000
        assert_eq!(t.get(a).unwrap().expires_at, 6000);
        assert!(t.expire(5999).is_empty());
        assert_eq!(t.expire(6000), vec![a]);
        assert!(t.get(a).unwrap().closing);
        assert!(
            !t.touch(a, 4000, 6000),
            "closing sessions cannot be renewed"
        );
        assert!(t.touch(b, 10000, 7000)); // round(17000) = 18000
        assert!(t.expire(12000).is_empty());
        assert_eq!(t.next_deadline(), Some(18000));
        assert_eq!(t.expire(30000), vec![b]);
        t.remove(a);
        assert!(!t.contains(a));
    }

    #[test]
    fn owners() {
        let mut t = SessionTracker::new(ServerId(1), 2000, 0);
        let s = t.create_session(4000, 0);
        assert!(t.check(s, ServerId(2)).is_ok());
        assert_eq!(t.check(s, ServerId(3)), Err(ErrorCode::SessionMoved));
        t.set_owner(s, ServerId(3)).unwrap();
        assert!(t.check(s, ServerId(3)).is_ok());
        assert_eq!(
            t.check(SessionId(99), ServerId(3)),
            Err(ErrorCode::UnknownSession)
        );
        t.set_closing(s);
        assert_eq!(t.check(s, ServerId(3)), Err(ErrorCode::SessionExpired));
    }
}
