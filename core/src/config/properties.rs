//! `java.util.Properties`' rules, as ZooKeeper reads `zoo.cfg` with them: logical lines,
//! separators, comments and escapes.

/// One `key=value` as `java.util.Properties` reads it, trimmed as ZooKeeper trims it.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// The line the (possibly continued) logical line starts on, from 1.
    pub(super) line: usize,
    pub(super) key: String,
    pub(super) value: String,
    /// A backslash before an ordinary character was dropped (`C:\zk` reads as `C:zk`).
    pub(super) dropped_backslash: bool,
}

/// Properties' whitespace: space, tab, form feed.
pub(super) fn is_prop_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c')
}

/// Java's `String.trim`: everything up to U+0020 goes, at both ends.
pub(super) fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

/// Lines ended by `\n`, `\r` or `\r\n`.
pub(super) fn natural_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                i += 1;
                start = i;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                i += 1;
                if bytes.get(i) == Some(&b'\n') {
                    i += 1;
                }
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// `Properties.load`: logical lines, comments, continuations, key/value split and escapes.
/// Err is `(line, message)` for a malformed `\uXXXX`, the one thing `load` itself refuses.
pub(super) fn load_properties(text: &str) -> Result<Vec<Entry>, (usize, String)> {
    let lines = natural_lines(text);
    let mut entries = Vec::new();
    let mut next = 0;
    while next < lines.len() {
        let start_line = next + 1;
        let first = lines[next].trim_start_matches(is_prop_space);
        next += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = String::new();
        let mut piece = first;
        loop {
            let trailing = piece.chars().rev().take_while(|&c| c == '\\').count();
            if trailing % 2 == 1 {
                logical.push_str(&piece[..piece.len() - 1]);
                match lines.get(next) {
                    Some(l) => {
                        piece = l.trim_start_matches(is_prop_space);
                        next += 1;
                    }
                    None => break,
                }
            } else {
                logical.push_str(piece);
                break;
            }
        }
        entries.push(split_entry(&logical, start_line)?);
    }
    Ok(entries)
}

/// The key ends at the first unescaped `=`, `:` or whitespace; then whitespace and at most one
/// `=`/`:` are skipped; the rest is the value.
pub(super) fn split_entry(logical: &str, line: usize) -> Result<Entry, (usize, String)> {
    let chars: Vec<char> = logical.chars().collect();
    let limit = chars.len();
    let mut key_len = 0;
    let mut value_start = limit;
    let mut has_separator = false;
    let mut escaped = false;
    while key_len < limit {
        let c = chars[key_len];
        if !escaped && (c == '=' || c == ':') {
            value_start = key_len + 1;
            has_separator = true;
            break;
        }
        if !escaped && is_prop_space(c) {
            value_start = key_len + 1;
            break;
        }
        escaped = c == '\\' && !escaped;
        key_len += 1;
    }
    while value_start < limit {
        let c = chars[value_start];
        if !is_prop_space(c) {
            if !has_separator && (c == '=' || c == ':') {
                has_separator = true;
            } else {
                break;
            }
        }
        value_start += 1;
    }
    let (key, dropped_in_key) = unescape(&chars[..key_len], line)?;
    let (value, dropped_in_value) = unescape(&chars[value_start..], line)?;
    Ok(Entry {
        line,
        key: java_trim(&key).to_string(),
        value: java_trim(&value).to_string(),
        dropped_backslash: dropped_in_key || dropped_in_value,
    })
}

/// Properties' `loadConvert`: `\t \n \r \f`, `\uXXXX`, and `\x` → `x` for anything else.
pub(super) fn unescape(chars: &[char], line: usize) -> Result<(String, bool), (usize, String)> {
    let mut out = String::with_capacity(chars.len());
    let mut dropped = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = chars.get(i) else { break };
        i += 1;
        match e {
            'u' => {
                let unit = hex4(chars, i).ok_or((line, "malformed \\uxxxx escape".to_string()))?;
                i += 4;
                let mut code = unit;
                if (0xD800..0xDC00).contains(&unit)
                    && chars.get(i) == Some(&'\\')
                    && chars.get(i + 1) == Some(&'u')
                {
                    if let Some(low) = hex4(chars, i + 2).filter(|l| (0xDC00..0xE000).contains(l)) {
                        code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        i += 6;
                    }
                }
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            't' => out.push('\t'),
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            'f' => out.push('\x0c'),
            other => {
                if !matches!(other, '\\' | '=' | ':' | ' ' | '#' | '!' | '"' | '\'') {
                    dropped = true;
                }
                out.push(other);
            }
        }
    }
    Ok((out, dropped))
}

pub(super) fn hex4(chars: &[char], at: usize) -> Option<u32> {
    let mut v = 0u32;
    for k in 0..4 {
        v = v * 16 + chars.get(at + k)?.to_digit(16)?;
    }
    Some(v)
}
