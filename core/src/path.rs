//! ZooKeeper paths: validation exactly as `PathUtils.validatePath` does it, and the parent/child
//! split the tree and the prepare step use.

/// Why a path is not valid; the text is ZooKeeper's (`IllegalArgumentException.getMessage()`:
/// the first three checks say only the reason, the others name the path too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPath {
    pub path: String,
    pub reason: String,
}

impl std::fmt::Display for InvalidPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reason.as_str() {
            LENGTH | START | END => f.write_str(&self.reason),
            _ => write!(
                f,
                "Invalid path string \"{}\" caused by {}",
                self.path, self.reason
            ),
        }
    }
}

impl std::error::Error for InvalidPath {}

const LENGTH: &str = "Path length must be > 0";
const START: &str = "Path must start with / character";
const END: &str = "Path must not end with / character";

fn invalid(path: &str, reason: impl Into<String>) -> InvalidPath {
    InvalidPath {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Characters ZooKeeper refuses in a path. Java strings are UTF-16, and ZooKeeper refuses the
/// surrogate range, so any character outside the Basic Multilingual Plane is refused too.
fn disallowed(c: char) -> bool {
    let u = c as u32;
    (0x01..=0x1f).contains(&u)
        || (0x7f..=0x9f).contains(&u)
        || (0xd800..=0xf8ff).contains(&u)
        || (0xfff0..=0xffff).contains(&u)
        || u > 0xffff
}

/// `PathUtils.validatePath`: absolute, no empty segment, no trailing slash but for `/`, no `.` or
/// `..` segment, no NUL or disallowed character.
pub fn validate_path(path: &str) -> Result<(), InvalidPath> {
    if path.is_empty() {
        return Err(invalid(path, LENGTH));
    }
    let chars: Vec<char> = path.chars().collect();
    if chars[0] != '/' {
        return Err(invalid(path, START));
    }
    if chars.len() == 1 {
        return Ok(());
    }
    if chars[chars.len() - 1] == '/' {
        return Err(invalid(path, END));
    }
    let mut last = '/';
    for i in 1..chars.len() {
        let c = chars[i];
        let at_segment_end = i + 1 == chars.len() || chars[i + 1] == '/';
        if c == '\0' {
            return Err(invalid(path, format!("null character not allowed @{i}")));
        } else if c == '/' && last == '/' {
            return Err(invalid(path, format!("empty node name specified @{i}")));
        } else if c == '.' && last == '.' {
            if chars[i - 2] == '/' && at_segment_end {
                return Err(invalid(path, format!("relative paths not allowed @{i}")));
            }
        } else if c == '.' {
            if chars[i - 1] == '/' && at_segment_end {
                return Err(invalid(path, format!("relative paths not allowed @{i}")));
            }
        } else if disallowed(c) {
            return Err(invalid(path, format!("invalid character @{i}")));
        }
        last = c;
    }
    Ok(())
}

/// Validates a path that will get a sequence suffix: ZooKeeper checks `path + "1"`, so a
/// sequential create may end in `/` (`/queue/` gives `/queue/0000000000`).
pub fn validate_path_sequential(path: &str) -> Result<(), InvalidPath> {
    validate_path(&format!("{path}1")).map_err(|mut e| {
        e.path = path.to_string();
        e
    })
}

/// Splits `/a/b/c` into (`/a/b`, `c`) and `/a` into (``, `a`): the parent part is `""` for a child
/// of the root, as in ZooKeeper's `path.substring(0, lastSlash)`. `None` when there is no slash.
pub fn split_parent(path: &str) -> Option<(&str, &str)> {
    let i = path.rfind('/')?;
    Some((&path[..i], &path[i + 1..]))
}

/// The parent path as a real path: `/` for children of the root.
pub fn parent_of(path: &str) -> Option<&str> {
    split_parent(path).map(|(p, _)| if p.is_empty() { "/" } else { p })
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// ZooKeeper's system subtree and its members.
pub const ZOOKEEPER: &str = "/zookeeper";
pub const QUOTA: &str = "/zookeeper/quota";
pub const CONFIG: &str = "/zookeeper/config";

/// Paths that can never be deleted (`DataTree.isSpecialPath`).
pub fn is_special(path: &str) -> bool {
    matches!(path, "/" | "" | ZOOKEEPER | QUOTA | CONFIG)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/..a",
            "/a..",
            "/.a/b.",
            "/zookeeper",
            "/中文",
            "/a b",
        ] {
            assert!(validate_path(p).is_ok(), "{p}");
        }
    }

    #[test]
    fn invalid_paths() {
        for (p, why) in [
            ("", "length must be > 0"),
            ("a", "start with /"),
            ("/a/", "end with /"),
            ("//a", "empty node name"),
            ("/a//b", "empty node name"),
            ("/.", "relative"),
            ("/..", "relative"),
            ("/a/./b", "relative"),
            ("/a/../b", "relative"),
            ("/a\0b", "null character"),
            ("/a\u{1}", "invalid character"),
            ("/a\u{7f}", "invalid character"),
            ("/a\u{e000}", "invalid character"),
            ("/a\u{fff5}", "invalid character"),
            ("/a\u{1F600}", "invalid character"),
        ] {
            let err = validate_path(p).expect_err(p);
            assert!(
                err.to_string().contains(why) || err.reason.contains(why),
                "{p}: {err}"
            );
        }
    }

    #[test]
    fn sequential_paths() {
        assert!(validate_path_sequential("/queue/").is_ok());
        assert!(validate_path_sequential("/queue/item-").is_ok());
        assert!(validate_path_sequential("//").is_err());
    }

    #[test]
    fn split() {
        assert_eq!(split_parent("/a/b/c"), Some(("/a/b", "c")));
        assert_eq!(split_parent("/a"), Some(("", "a")));
        assert_eq!(parent_of("/a"), Some("/"));
        assert_eq!(split_parent("abc"), None);
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
