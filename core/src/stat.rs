//! Node metadata: `StatPersisted` as the tree stores it and `Stat` as clients see it.

use crate::types::{SessionId, Zxid};
use serde::{Deserialize, Serialize};

/// What kind of node an `ephemeralOwner` value denotes (`EphemeralType`). Containers and TTL nodes
/// are encoded in the owner field, as ZooKeeper encodes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EphemeralType {
    /// Not ephemeral (owner 0).
    Void,
    /// Ephemeral, owned by a session.
    Normal(SessionId),
    Container,
    /// A TTL node with its time to live in milliseconds.
    Ttl(i64),
}

/// `EphemeralType.CONTAINER_EPHEMERAL_OWNER`.
pub const CONTAINER_EPHEMERAL_OWNER: i64 = i64::MIN;
const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000u64 as i64;
const RESERVED_BITS_MASK: i64 = 0x00ff_ff00_0000_0000;
const EXTENDED_FEATURE_VALUE_MASK: i64 = !(EXTENDED_MASK | RESERVED_BITS_MASK);
/// The largest TTL ZooKeeper can encode in an owner field, in milliseconds (about 34 years).
pub const MAX_TTL: i64 = EXTENDED_FEATURE_VALUE_MASK;

impl EphemeralType {
    /// Decodes an owner field. Extended types (TTL) are only recognised when they are enabled, as
    /// in ZooKeeper; with them off a TTL-looking owner is an ordinary session id.
    pub fn of(owner: i64, extended_types: bool) -> EphemeralType {
        if extended_types
            && owner & EXTENDED_MASK == EXTENDED_MASK
            && (owner & RESERVED_BITS_MASK) == 0
        {
            return EphemeralType::Ttl(owner & EXTENDED_FEATURE_VALUE_MASK);
        }
        if owner == CONTAINER_EPHEMERAL_OWNER {
            EphemeralType::Container
        } else if owner == 0 {
            EphemeralType::Void
        } else {
            EphemeralType::Normal(SessionId(owner))
        }
    }

    /// The owner field for a TTL node; `None` when the ttl is out of range.
    pub fn ttl_owner(ttl: i64) -> Option<i64> {
        if ttl <= 0 || ttl > MAX_TTL {
            None
        } else {
            Some(EXTENDED_MASK | ttl)
        }
    }
}

/// The stat the tree keeps per node (`StatPersisted`). `cversion` here counts the creates of
/// children, as ZooKeeper stores it; clients see `2 * cversion - numChildren` (see [`Stat`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatPersisted {
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: Zxid,
}

impl StatPersisted {
    /// `DataTree.createStat`.
    pub fn new(zxid: Zxid, time: i64, ephemeral_owner: i64) -> StatPersisted {
        StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            pzxid: zxid,
        }
    }

    /// The client's view (`DataNode.copyStat`): containers and TTL nodes show owner 0, and
    /// cversion is turned from a count of creates into a count of changes to the children.
    pub fn to_stat(&self, data_length: usize, num_children: usize, extended_types: bool) -> Stat {
        let owner = match EphemeralType::of(self.ephemeral_owner, extended_types) {
            EphemeralType::Normal(s) => s.0,
            _ => 0,
        };
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(num_children as i32),
            aversion: self.aversion,
            ephemeral_owner: owner,
            data_length: data_length as i32,
            num_children: num_children as i32,
            pzxid: self.pzxid,
        }
    }
}

/// The eleven fields a client sees (`org.apache.zookeeper.data.Stat`), in jute order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    pub czxid: Zxid,
    pub mzxid: Zxid,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: Zxid,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ephemeral_types() {
        assert_eq!(EphemeralType::of(0, true), EphemeralType::Void);
        assert_eq!(
            EphemeralType::of(CONTAINER_EPHEMERAL_OWNER, true),
            EphemeralType::Container
        );
        assert_eq!(
            EphemeralType::of(0x100, true),
            EphemeralType::Normal(SessionId(0x100))
        );
        let owner = EphemeralType::ttl_owner(5000).unwrap();
        assert_eq!(EphemeralType::of(owner, true), EphemeralType::Ttl(5000));
        assert!(matches!(
            EphemeralType::of(owner, false),
            EphemeralType::Normal(_)
        ));
        assert_eq!(EphemeralType::ttl_owner(0), None);
        assert_eq!(EphemeralType::ttl_owner(MAX_TTL + 1), None);
    }

    #[test]
    fn visible_cversion() {
        let mut s = StatPersisted::new(Zxid(2), 0, 0);
        s.cversion = 2; // two children created ...
        assert_eq!(s.to_stat(0, 1, false).cversion, 3); // ... one deleted since
        assert_eq!(s.to_stat(0, 2, false).cversion, 2);
    }
}
