//! Jute, ZooKeeper's binary record encoding: big-endian integers, booleans as one byte,
//! length-prefixed byte buffers and UTF-8 strings (length -1 for null), vectors as a count and
//! their elements. Both the client protocol ([`crate::proto`]) and the snapshot and log formats
//! are written with these primitives.
//!
//! Decoding never panics: every read checks the bytes left and a length against the limit the
//! caller gives (`jute.maxbuffer`), and reports what was wrong.

use crate::acl::{Acl, Id};
use crate::stat::{Stat, StatPersisted};
use crate::types::Zxid;

/// What was wrong with a record that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JuteError {
    #[error("record truncated: needed {needed} more bytes for {what}, {left} left")]
    Truncated {
        what: &'static str,
        needed: usize,
        left: usize,
    },
    #[error("{what} has length {len}, over the limit of {limit} bytes")]
    TooLong {
        what: &'static str,
        len: i64,
        limit: usize,
    },
    #[error("{what} has a negative length {len}")]
    NegativeLength { what: &'static str, len: i32 },
    #[error("{what} is not valid UTF-8")]
    BadUtf8 { what: &'static str },
    #[error("{0}")]
    Invalid(String),
}

pub type JuteResult<T> = Result<T, JuteError>;

/// Appends jute-encoded values to a byte vector.
#[derive(Default, Debug)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer { buf: Vec::new() }
    }
    pub fn with_capacity(n: usize) -> Writer {
        Writer {
            buf: Vec::with_capacity(n),
        }
    }
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn zxid(&mut self, z: Zxid) -> &mut Self {
        self.i64(z.as_i64())
    }
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.buf.push(v as u8);
        self
    }
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    /// A `buffer`: length then bytes.
    pub fn buffer(&mut self, b: &[u8]) -> &mut Self {
        self.i32(b.len() as i32);
        self.buf.extend_from_slice(b);
        self
    }
    /// A `buffer` that may be null (length -1).
    pub fn opt_buffer(&mut self, b: Option<&[u8]>) -> &mut Self {
        match b {
            Some(b) => self.buffer(b),
            None => self.i32(-1),
        }
    }
    /// A `ustring`.
    pub fn string(&mut self, s: &str) -> &mut Self {
        self.buffer(s.as_bytes())
    }
    pub fn opt_string(&mut self, s: Option<&str>) -> &mut Self {
        self.opt_buffer(s.map(str::as_bytes))
    }
    pub fn strings<S: AsRef<str>>(&mut self, v: &[S]) -> &mut Self {
        self.i32(v.len() as i32);
        for s in v {
            self.string(s.as_ref());
        }
        self
    }
    pub fn id(&mut self, id: &Id) -> &mut Self {
        self.string(&id.scheme).string(&id.id)
    }
    pub fn acl(&mut self, a: &Acl) -> &mut Self {
        self.i32(a.perms).id(&a.id)
    }
    pub fn acls(&mut self, v: &[Acl]) -> &mut Self {
        self.i32(v.len() as i32);
        for a in v {
            self.acl(a);
        }
        self
    }
    pub fn stat(&mut self, s: &Stat) -> &mut Self {
        self.zxid(s.czxid)
            .zxid(s.mzxid)
            .i64(s.ctime)
            .i64(s.mtime)
            .i32(s.version)
            .i32(s.cversion)
            .i32(s.aversion)
            .i64(s.ephemeral_owner)
            .i32(s.data_length)
            .i32(s.num_children)
            .zxid(s.pzxid)
    }
    pub fn stat_persisted(&mut self, s: &StatPersisted) -> &mut Self {
        self.zxid(s.czxid)
            .zxid(s.mzxid)
            .i64(s.ctime)
            .i64(s.mtime)
            .i32(s.version)
            .i32(s.cversion)
            .i32(s.aversion)
            .i64(s.ephemeral_owner)
            .zxid(s.pzxid)
    }
    /// Overwrites a big-endian i32 written earlier at `at` (for length prefixes).
    pub fn patch_i32(&mut self, at: usize, v: i32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
}

/// Reads jute-encoded values from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// The largest buffer, string or vector length accepted (ZooKeeper's `jute.maxbuffer`).
    pub limit: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], limit: usize) -> Reader<'a> {
        Reader { buf, pos: 0, limit }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn position(&self) -> usize {
        self.pos
    }
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    fn take(&mut self, n: usize, what: &'static str) -> JuteResult<&'a [u8]> {
        if self.remaining() < n {
            return Err(JuteError::Truncated {
                what,
                needed: n,
                left: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub fn i32(&mut self, what: &'static str) -> JuteResult<i32> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn i64(&mut self, what: &'static str) -> JuteResult<i64> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }
    pub fn zxid(&mut self, what: &'static str) -> JuteResult<Zxid> {
        Ok(Zxid::from_i64(self.i64(what)?))
    }
    pub fn bool(&mut self, what: &'static str) -> JuteResult<bool> {
        Ok(self.take(1, what)?[0] != 0)
    }
    pub fn u8(&mut self, what: &'static str) -> JuteResult<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn len(&mut self, what: &'static str) -> JuteResult<Option<usize>> {
        let len = self.i32(what)?;
        if len == -1 {
            return Ok(None);
        }
        if len < 0 {
            return Err(JuteError::NegativeLength { what, len });
        }
        if len as usize > self.limit {
            return Err(JuteError::TooLong {
                what,
                len: len as i64,
                limit: self.limit,
            });
        }
        Ok(Some(len as usize))
    }
    /// A `buffer`; null reads as empty, as ZooKeeper's clients treat it.
    pub fn buffer(&mut self, what: &'static str) -> JuteResult<Vec<u8>> {
        Ok(self.opt_buffer(what)?.unwrap_or_default())
    }
    pub fn opt_buffer(&mut self, what: &'static str) -> JuteResult<Option<Vec<u8>>> {
        match self.len(what)? {
            None => Ok(None),
            Some(n) => Ok(Some(self.take(n, what)?.to_vec())),
        }
    }
    /// A borrowed `buffer` (no copy); null reads as empty.
    pub fn buffer_ref(&mut self, what: &'static str) -> JuteResult<&'a [u8]> {
        match self.len(what)? {
            None => Ok(&[]),
            Some(n) => self.take(n, what),
        }
    }
    /// A `ustring`; null reads as empty.
    pub fn string(&mut self, what: &'static str) -> JuteResult<String> {
        Ok(self.opt_string(what)?.unwrap_or_default())
    }
    pub fn opt_string(&mut self, what: &'static str) -> JuteResult<Option<String>> {
        match self.len(what)? {
            None => Ok(None),
            Some(n) => {
                let b = self.take(n, what)?;
                String::from_utf8(b.to_vec())
                    .map(Some)
                    .map_err(|_| JuteError::BadUtf8 { what })
            }
        }
    }
    /// A vector's element count; null (-1) reads as 0. Each element takes at least
    /// `min_elem_size` bytes, so a count larger than the bytes left is refused before allocating.
    pub fn count(&mut self, what: &'static str, min_elem_size: usize) -> JuteResult<usize> {
        match self.len(what)? {
            None => Ok(0),
            Some(n) => {
                if n.saturating_mul(min_elem_size.max(1)) > self.remaining() {
                    return Err(JuteError::Truncated {
                        what,
                        needed: n.saturating_mul(min_elem_size.max(1)),
                        left: self.remaining(),
                    });
                }
                Ok(n)
            }
        }
    }
    pub fn strings(&mut self, what: &'static str) -> JuteResult<Vec<String>> {
        let n = self.count(what, 4)?;
        (0..n).map(|_| self.string(what)).collect()
    }
    pub fn id(&mut self) -> JuteResult<Id> {
        Ok(Id {
            scheme: self.string("Id.scheme")?,
            id: self.string("Id.id")?,
        })
    }
    pub fn acl(&mut self) -> JuteResult<Acl> {
        let perms = self.i32("ACL.perms")?;
        Ok(Acl {
            perms,
            id: self.id()?,
        })
    }
    pub fn acls(&mut self) -> JuteResult<Vec<Acl>> {
        let n = self.count("ACL list", 12)?;
        (0..n).map(|_| self.acl()).collect()
    }
    pub fn stat(&mut self) -> JuteResult<Stat> {
        Ok(Stat {
            czxid: self.zxid("Stat.czxid")?,
            mzxid: self.zxid("Stat.mzxid")?,
            ctime: self.i64("Stat.ctime")?,
            mtime: self.i64("Stat.mtime")?,
            version: self.i32("Stat.version")?,
            cversion: self.i32("Stat.cversion")?,
            aversion: self.i32("Stat.aversion")?,
            ephemeral_owner: self.i64("Stat.ephemeralOwner")?,
            data_length: self.i32("Stat.dataLength")?,
            num_children: self.i32("Stat.numChildren")?,
            pzxid: self.zxid("Stat.pzxid")?,
        })
    }
    pub fn stat_persisted(&mut self) -> JuteResult<StatPersisted> {
        Ok(StatPersisted {
            czxid: self.zxid("StatPersisted.czxid")?,
            mzxid: self.zxid("StatPersisted.mzxid")?,
            ctime: self.i64("StatPersisted.ctime")?,
            mtime: self.i64("StatPersisted.mtime")?,
            version: self.i32("StatPersisted.version")?,
            cversion: self.i32("StatPersisted.cversion")?,
            aversion: self.i32("StatPersisted.aversion")?,
            ephemeral_owner: self.i64("StatPersisted.ephemeralOwner")?,
            pzxid: self.zxid("StatPersisted.pzxid")?,
        })
    }
    /// A borrowed nullable `buffer` (no copy).
    pub fn opt_buffer_ref(&mut self, what: &'static str) -> JuteResult<Option<&'a [u8]>> {
        match self.len(what)? {
            None => Ok(None),
            Some(n) => self.take(n, what).map(Some),
        }
    }
    /// A borrowed `ustring` (no copy); null reads as empty.
    pub fn str_ref(&mut self, what: &'static str) -> JuteResult<&'a str> {
        let b = self.buffer_ref(what)?;
        std::str::from_utf8(b).map_err(|_| JuteError::BadUtf8 { what })
    }
    /// The bytes read so far.
    pub fn consumed(&self) -> &'a [u8] {
        &self.buf[..self.pos]
    }
    /// The bytes not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_round_trip() {
        let mut w = Writer::new();
        w.i32(-5)
            .i64(1 << 40)
            .bool(true)
            .buffer(b"xyz")
            .string("/a")
            .opt_string(None)
            .strings(&["a", "b"]);
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes, 1 << 20);
        assert_eq!(r.i32("a").unwrap(), -5);
        assert_eq!(r.i64("b").unwrap(), 1 << 40);
        assert!(r.bool("c").unwrap());
        assert_eq!(r.buffer("d").unwrap(), b"xyz");
        assert_eq!(r.string("e").unwrap(), "/a");
        assert_eq!(r.opt_string("f").unwrap(), None);
        assert_eq!(r.strings("g").unwrap(), vec!["a", "b"]);
        assert!(r.is_empty());
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[0, 0, 0], 100);
        assert!(matches!(r.i32("x"), Err(JuteError::Truncated { .. })));
        let mut w = Writer::new();
        w.i32(1000);
        let b = w.into_inner();
        let mut r = Reader::new(&b, 100);
        assert!(matches!(r.buffer("data"), Err(JuteError::TooLong { .. })));
        let mut w = Writer::new();
        w.i32(-7);
        let b = w.into_inner();
        assert!(matches!(
            Reader::new(&b, 100).buffer("data"),
            Err(JuteError::NegativeLength { .. })
        ));
        let mut w = Writer::new();
        w.i32(50).i32(1);
        let b = w.into_inner();
        assert!(
            Reader::new(&b, 100).strings("v").is_err(),
            "count larger than the bytes left"
        );
        let mut w = Writer::new();
        w.buffer(&[0xff, 0xfe]);
        let b = w.into_inner();
        assert!(matches!(
            Reader::new(&b, 100).string("s"),
            Err(JuteError::BadUtf8 { .. })
        ));
    }
}
