//! What a benchmark session sends: the operation mix, the names of the znodes it touches, and the
//! values it writes.
//!
//! Every value carries a small header — which key it was written to, by which session, with
//! which sequence number — and a filler derived from that header, so that a value read back can
//! be checked without remembering it: a server that returns another key's data, stale data or
//! garbage is caught ([`check_value`]).

use serde::Serialize;
use std::fmt;
use std::str::FromStr;
use zk_core::acl::Acl;
use zk_core::request::{CreateRequest, Request};
use zk_core::txn::op;

/// A plain persistent create, open to all, as setup and cleanup send them.
pub fn create_request(path: String, data: Vec<u8>) -> Request {
    Request::Create {
        op: op::CREATE,
        req: CreateRequest {
            path,
            data: Some(data),
            acl: Acl::open_unsafe(),
            flags: 0,
            ttl: -1,
        },
    }
}

/// One kind of operation in the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Op {
    Create,
    GetData,
    SetData,
    Delete,
    Exists,
    Multi,
}

impl Op {
    pub const ALL: [Op; 6] = [
        Op::Create,
        Op::GetData,
        Op::SetData,
        Op::Delete,
        Op::Exists,
        Op::Multi,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// ZooKeeper's name of the operation.
    pub fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::GetData => "getData",
            Op::SetData => "setData",
            Op::Delete => "delete",
            Op::Exists => "exists",
            Op::Multi => "multi",
        }
    }

    /// Does it change the tree (a transaction, logged and fsynced)?
    pub fn is_write(self) -> bool {
        !matches!(self, Op::GetData | Op::Exists)
    }

    fn parse(s: &str) -> Option<Op> {
        Some(match s.to_ascii_lowercase().as_str() {
            "create" => Op::Create,
            "get" | "getdata" | "read" => Op::GetData,
            "set" | "setdata" | "write" => Op::SetData,
            "delete" => Op::Delete,
            "exists" => Op::Exists,
            "multi" => Op::Multi,
            _ => return None,
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Relative weights of the operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    weights: [u32; 6],
    total: u32,
}

impl Mix {
    /// `pct`% getData, the rest setData.
    pub fn reads(pct: u32) -> Result<Mix, String> {
        if pct > 100 {
            return Err(format!("--reads {pct}: a percentage is at most 100"));
        }
        let mut w = [0; 6];
        w[Op::GetData.index()] = pct;
        w[Op::SetData.index()] = 100 - pct;
        Mix::from_weights(w)
    }

    fn from_weights(weights: [u32; 6]) -> Result<Mix, String> {
        let total: u32 = weights.iter().sum();
        if total == 0 {
            return Err("the operation mix is empty: give some operation a weight".into());
        }
        Ok(Mix { weights, total })
    }

    pub fn weight(&self, op: Op) -> u32 {
        self.weights[op.index()]
    }

    /// The operation for a uniform random number `r` (any u32).
    pub fn pick(&self, r: u32) -> Op {
        let mut x = r % self.total;
        for op in Op::ALL {
            let w = self.weights[op.index()];
            if x < w {
                return op;
            }
            x -= w;
        }
        Op::GetData
    }

    pub fn has_writes(&self) -> bool {
        Op::ALL.iter().any(|o| o.is_write() && self.weight(*o) > 0)
    }

    /// The share of `op` in percent.
    pub fn percent(&self, op: Op) -> f64 {
        100.0 * self.weight(op) as f64 / self.total as f64
    }
}

/// `create:10,get:70,set:10,delete:5,exists:5,multi:0`; weights are relative, names as in
/// ZooKeeper (`getData`) or short (`get`).
impl FromStr for Mix {
    type Err = String;
    fn from_str(s: &str) -> Result<Mix, String> {
        let mut w = [0u32; 6];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once(':')
                .ok_or_else(|| format!("mix entry {part:?}: expected op:weight, e.g. get:90"))?;
            let op = Op::parse(name.trim()).ok_or_else(|| {
                format!(
                    "mix entry {part:?}: unknown operation {:?} (create, get, set, delete, exists, multi)",
                    name.trim()
                )
            })?;
            let weight: u32 = weight.trim().parse().map_err(|_| {
                format!(
                    "mix entry {part:?}: weight {:?} is not a whole number",
                    weight.trim()
                )
            })?;
            w[op.index()] = w[op.index()].saturating_add(weight);
        }
        Mix::from_weights(w)
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = Op::ALL
            .iter()
            .filter(|o| self.weight(**o) > 0)
            .map(|o| format!("{}:{}", o.name(), self.weight(*o)))
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// The znodes of one benchmark run, all under `prefix`:
/// `k0000000`… the key space, `c/s-…` sequential creates, `m/<session>-a|b` multi pairs.
#[derive(Clone, Debug)]
pub struct Layout {
    pub prefix: String,
}

impl Layout {
    pub fn key(&self, k: u32) -> String {
        format!("{}/k{k:07}", self.prefix)
    }
    pub fn creates(&self) -> String {
        format!("{}/c", self.prefix)
    }
    /// What a sequential create names (the server appends ten digits).
    pub fn create_stem(&self) -> String {
        format!("{}/c/s-", self.prefix)
    }
    pub fn multis(&self) -> String {
        format!("{}/m", self.prefix)
    }
    pub fn multi_key(&self, session: u32, b: bool) -> String {
        format!("{}/m/{session}-{}", self.prefix, if b { "b" } else { "a" })
    }
}

/// The sequence number ZooKeeper appended to a sequential node's name (ten digits; they wrap
/// to negative numbers past i32::MAX, which a benchmark never reaches).
pub fn sequence_number(stem: &str, path: &str) -> Option<i64> {
    let digits = path.strip_prefix(stem)?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The bytes of the check header at the front of every value.
pub const VALUE_HEADER: usize = 20;
const MAGIC: &[u8; 4] = b"zkb1";

/// The `key` field of a value written to a multi pair (not a key of the key space).
pub const MULTI_KEY: u32 = u32::MAX;
/// The `key` field of a sequential create's value.
pub const CREATE_KEY: u32 = u32::MAX - 1;
/// The `writer` of values written by setup.
pub const SETUP_WRITER: u32 = u32::MAX;

/// Who wrote a value, and as what.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub key: u32,
    pub writer: u32,
    pub seq: u64,
}

fn tag_hash(t: Tag) -> u64 {
    let mut h = (t.key as u64) << 32 | t.writer as u64;
    h ^= t.seq.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

#[inline]
fn fill_byte(h: u64, i: usize) -> u8 {
    (h.wrapping_add(i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// A value of `size` bytes (at least [`VALUE_HEADER`]) carrying `tag`.
pub fn make_value(tag: Tag, size: usize) -> Vec<u8> {
    let size = size.max(VALUE_HEADER);
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&tag.key.to_be_bytes());
    v.extend_from_slice(&tag.writer.to_be_bytes());
    v.extend_from_slice(&tag.seq.to_be_bytes());
    let h = tag_hash(tag);
    v.extend((VALUE_HEADER..size).map(|i| fill_byte(h, i)));
    v
}

/// Reads a value's tag and checks its length, its key and (with `full`, or else only its last
/// bytes) its filler.
pub fn check_value(data: &[u8], size: usize, key: u32, full: bool) -> Result<Tag, String> {
    if data.len() != size {
        return Err(format!(
            "value of {} bytes, {size} were written",
            data.len()
        ));
    }
    if data.len() < VALUE_HEADER || &data[..4] != MAGIC {
        return Err("value does not start with a zkbench header".into());
    }
    let u32_at = |i: usize| u32::from_be_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]]);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&data[12..20]);
    let tag = Tag {
        key: u32_at(4),
        writer: u32_at(8),
        seq: u64::from_be_bytes(seq),
    };
    if tag.key != key {
        return Err(format!(
            "value written for key {} read from key {key}",
            tag.key
        ));
    }
    let h = tag_hash(tag);
    let from = if full {
        VALUE_HEADER
    } else {
        size.saturating_sub(8).max(VALUE_HEADER)
    };
    if let Some(i) = (from..size).find(|&i| data[i] != fill_byte(h, i)) {
        return Err(format!("value corrupted at byte {i}"));
    }
    Ok(tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_parse_and_pick_by_weight() {
        let m: Mix = "create:10,get:70,set:10,delete:5,exists:5,multi:0"
            .parse()
            .unwrap();
        assert_eq!(m.weight(Op::GetData), 70);
        assert_eq!(
            m.to_string(),
            "create:10,getData:70,setData:10,delete:5,exists:5"
        );
        let mut n = [0u32; 6];
        for r in 0..100 {
            n[m.pick(r).index()] += 1;
        }
        assert_eq!(n, [10, 70, 10, 5, 5, 0]);
        assert!(m.has_writes());
        assert!(!Mix::reads(100).unwrap().has_writes());
        assert_eq!(Mix::reads(90).unwrap().to_string(), "getData:90,setData:10");
        for bad in ["", "get", "get:x", "fly:3", "get:0", "get:-1"] {
            assert!(bad.parse::<Mix>().is_err(), "{bad}");
        }
        assert!(Mix::reads(101).is_err());
    }

    #[test]
    fn values_carry_their_tag_and_catch_corruption() {
        let t = Tag {
            key: 7,
            writer: 3,
            seq: 99,
        };
        for size in [VALUE_HEADER, 21, 100, 10_240] {
            let v = make_value(t, size);
            assert_eq!(v.len(), size);
            assert_eq!(check_value(&v, size, 7, true), Ok(t));
            assert_eq!(check_value(&v, size, 7, false), Ok(t));
            assert!(check_value(&v, size, 8, false)
                .unwrap_err()
                .contains("key 7"));
            assert!(check_value(&v[..size - 1], size, 7, false).is_err());
            if size > VALUE_HEADER {
                let mut bad = v.clone();
                bad[size - 1] ^= 1;
                assert!(check_value(&bad, size, 7, false).is_err());
                let mut bad = v.clone();
                bad[VALUE_HEADER] ^= 0x80;
                assert!(check_value(&bad, size, 7, true).is_err());
            }
        }
        // Another writer's value of the same key has another filler.
        let a = make_value(t, 100);
        let b = make_value(Tag { seq: 100, ..t }, 100);
        assert_ne!(a[VALUE_HEADER..], b[VALUE_HEADER..]);
        assert!(check_value(b"nonsense", 8, 0, true).is_err());
    }

    #[test]
    fn sequence_numbers() {
        assert_eq!(sequence_number("/p/c/s-", "/p/c/s-0000000042"), Some(42));
        assert_eq!(sequence_number("/p/c/s-", "/p/c/s-42"), None);
        assert_eq!(sequence_number("/p/c/s-", "/q/c/s-0000000042"), None);
        assert_eq!(sequence_number("/p/c/s-", "/p/c/s-00000000x2"), None);
    }
}
