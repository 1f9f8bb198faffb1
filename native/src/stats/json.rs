//! JSON as ZooKeeper's AdminServer writes it: Jackson's `ObjectMapper` with `INDENT_OUTPUT`, so
//! the bytes match, not only the meaning. Objects keep their insertion order (ZooKeeper's
//! responses are `LinkedHashMap`s), and numbers keep Java's types: a `long` prints as `12`, a
//! `double` as Java prints it (`0.0`, `4.4444`, `1.0E7`).
//!
//! Jackson's default pretty printer puts each object field on its own line, indented two spaces
//! per enclosing object (arrays do not indent), writes `"key" : value`, keeps arrays on one line
//! (`[ 1, 2 ]`), and writes empty containers as `{ }` and `[ ]`.

use super::java_double;

/// A JSON value with Java's number types and ordered objects.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_string())
    }
}
impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}
impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}
/// Java's integral types all print as JSON integers.
macro_rules! from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Json {
            fn from(v: $t) -> Json {
                Json::Int(v as i64)
            }
        }
    )*};
}
from_integer!(i64, u64, usize, i32, u32, u16);

impl From<f64> for Json {
    fn from(v: f64) -> Json {
        Json::Float(v)
    }
}

/// An ordered JSON object under construction (ZooKeeper's `CommandResponse`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Obj(pub Vec<(String, Json)>);

impl Obj {
    pub fn new() -> Obj {
        Obj(Vec::new())
    }
    /// `LinkedHashMap.put`: a key already present keeps its place and takes the new value.
    pub fn put(&mut self, key: &str, value: impl Into<Json>) -> &mut Obj {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.0.push((key.to_string(), value)),
        }
        self
    }
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

impl From<Obj> for Json {
    fn from(o: Obj) -> Json {
        Json::Obj(o.0)
    }
}

impl Json {
    /// The text Jackson's pretty printer produces (no trailing newline).
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        write_value(&mut out, self, 0);
        out
    }
}

fn write_value(out: &mut String, v: &Json, nesting: usize) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Int(i) => out.push_str(&i.to_string()),
        Json::Float(f) => out.push_str(&java_double(*f)),
        Json::Str(s) => write_str(out, s),
        Json::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { " " } else { ", " });
                write_value(out, item, nesting);
            }
            out.push_str(" ]");
        }
        Json::Obj(fields) => {
            out.push('{');
            if fields.is_empty() {
                out.push_str(" }");
                return;
            }
            let inner = nesting + 1;
            for (i, (k, val)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                out.push_str(&"  ".repeat(inner));
                write_str(out, k);
                out.push_str(" : ");
                write_value(out, val, inner);
            }
            out.push('\n');
            out.push_str(&"  ".repeat(nesting));
            out.push('}');
        }
    }
}

/// Jackson's string escaping: quotes, backslashes and control characters; everything else as is.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_prints_as_jackson_does() {
        let mut conn = Obj::new();
        conn.put("remote_socket_address", "127.0.0.1:41632")
            .put("interest_ops", 1)
            .put("avg_latency", 0.0);
        let mut o = Obj::new();
        o.put("connections", Json::Arr(vec![conn.into()]))
            .put("secure_connections", Json::Arr(vec![]))
            .put("paths", Json::Arr(vec!["/a".into(), "/b".into()]))
            .put("empty", Obj::new())
            .put("command", "connections")
            .put("error", Json::Null);
        let expected = "{\n  \"connections\" : [ {\n    \"remote_socket_address\" : \"127.0.0.1:41632\",\n    \"interest_ops\" : 1,\n    \"avg_latency\" : 0.0\n  } ],\n  \"secure_connections\" : [ ],\n  \"paths\" : [ \"/a\", \"/b\" ],\n  \"empty\" : { },\n  \"command\" : \"connections\",\n  \"error\" : null\n}";
        assert_eq!(Json::from(o).pretty(), expected);
    }

    #[test]
    fn put_keeps_the_first_position_of_a_key() {
        let mut o = Obj::new();
        o.put("error", "boom")
            .put("command", "x")
            .put("error", Json::Null);
        assert_eq!(
            Json::from(o).pretty(),
            "{\n  \"error\" : null,\n  \"command\" : \"x\"\n}"
        );
    }

    #[test]
    fn strings_are_escaped_like_jackson() {
        let s = Json::from("a\"b\\c\nd\u{1}é");
        assert_eq!(s.pretty(), "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
