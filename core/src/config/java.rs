//! Numbers and lists as Java parses them (`Long.parseLong`, `Long.decode`, `String.split`).

#[derive(Debug, PartialEq, Eq)]
pub(super) enum NumError {
    NotANumber,
    TooLarge,
}

pub(super) fn split_sign(s: &str) -> (bool, &str) {
    if let Some(rest) = s.strip_prefix('-') {
        (true, rest)
    } else if let Some(rest) = s.strip_prefix('+') {
        (false, rest)
    } else {
        (false, s)
    }
}

pub(super) fn digits_value(digits: &str, radix: u32, negative: bool) -> Result<i64, NumError> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(NumError::NotANumber);
    }
    let mut v: i64 = 0;
    for c in digits.chars() {
        let d = i64::from(c.to_digit(radix).unwrap_or(0));
        // Accumulate negatively so that i64::MIN fits.
        v = v
            .checked_mul(i64::from(radix))
            .and_then(|v| v.checked_sub(d))
            .ok_or(NumError::TooLarge)?;
    }
    if negative {
        Ok(v)
    } else {
        v.checked_neg().ok_or(NumError::TooLarge)
    }
}

/// `Integer.parseInt` / `Long.parseLong`: optional sign, decimal digits.
pub(super) fn java_parse_long(s: &str) -> Result<i64, NumError> {
    let (negative, digits) = split_sign(s);
    digits_value(digits, 10, negative)
}

/// `Integer.decode` / `Long.decode` (behind `Integer.getInteger`): `0x`, `0X` or `#` for hex,
/// a leading `0` for octal. The flag says octal was used.
pub(super) fn java_decode(s: &str) -> Result<(i64, bool), NumError> {
    let (negative, rest) = split_sign(s);
    let hex = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'));
    if let Some(h) = hex {
        return digits_value(h, 16, negative).map(|v| (v, false));
    }
    if rest.len() > 1 && rest.starts_with('0') {
        return digits_value(&rest[1..], 8, negative).map(|v| (v, true));
    }
    digits_value(rest, 10, negative).map(|v| (v, false))
}

/// Java's `String.split(regex)` for one literal character: trailing empty strings are dropped,
/// and an empty input gives one empty string.
pub(super) fn java_split(s: &str, sep: char) -> Vec<&str> {
    if s.is_empty() {
        return vec![""];
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}
