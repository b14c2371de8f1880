//! Parsing and encoding of a logical text data segment: `key=value\0key=value\0...`.

use super::{TextError, MAX_KEY_LEN, MAX_VALUE_LEN};

/// Parses a logical text data segment into its `(key, value)` pairs, in order.
///
/// Every pair must be terminated by a NUL (RFC 7143 §6.1). Empty strings between NULs, such as
/// NUL padding after the last pair, are skipped. Keys are checked against the §6.1 alphabet and
/// `MAX_KEY_LEN`; values must be UTF-8 and at most `MAX_VALUE_LEN` bytes. Only the first `=`
/// separates key from value, so a value may itself contain `=`.
pub fn parse(segment: &[u8]) -> Result<Vec<(String, String)>, TextError> {
    let mut pairs = Vec::new();
    let mut offset = 0;
    let mut rest = segment;
    while !rest.is_empty() {
        let Some(nul) = rest.iter().position(|&byte| byte == 0) else {
            return Err(TextError::MissingTerminator { offset });
        };
        let (pair, after) = rest.split_at(nul);
        if !pair.is_empty() {
            pairs.push(parse_pair(pair, offset)?);
        }
        // `after` starts with the NUL just found.
        rest = after.get(1..).unwrap_or_default();
        offset += nul + 1;
    }
    Ok(pairs)
}

/// Encodes pairs as `key=value\0` strings, validating them with the same rules as [`parse`] so
/// that nothing unparseable is ever sent.
pub fn encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Result<Vec<u8>, TextError> {
    let mut encoded = Vec::new();
    for (key, value) in pairs {
        let (key, value) = (key.as_ref(), value.as_ref());
        check_key(key.as_bytes(), encoded.len())?;
        if value.as_bytes().contains(&0) {
            return Err(TextError::NulInValue {
                key: key.to_owned(),
            });
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(TextError::ValueTooLong {
                key: key.to_owned(),
                len: value.len(),
            });
        }
        encoded.extend_from_slice(key.as_bytes());
        encoded.push(b'=');
        encoded.extend_from_slice(value.as_bytes());
        encoded.push(0);
    }
    Ok(encoded)
}

/// Parses one `key=value` string (without its NUL) that starts `offset` bytes into the segment.
fn parse_pair(pair: &[u8], offset: usize) -> Result<(String, String), TextError> {
    let Some(equals) = pair.iter().position(|&byte| byte == b'=') else {
        return Err(TextError::MissingEquals { offset });
    };
    let (key, equals_and_value) = pair.split_at(equals);
    let value = equals_and_value.get(1..).unwrap_or_default();
    let key = check_key(key, offset)?;
    if value.len() > MAX_VALUE_LEN {
        return Err(TextError::ValueTooLong {
            key,
            len: value.len(),
        });
    }
    match std::str::from_utf8(value) {
        Ok(value) => Ok((key, value.to_owned())),
        Err(_) => Err(TextError::InvalidUtf8 { key }),
    }
}

/// Checks a key against RFC 7143 §6.1 and returns it as a string.
///
/// Allowed: letters, digits, `.`, `-`, `+`, `@`, `_`; plus the `#` of the `X#` prefix that marks
/// IANA-registered extension keys (§13.5.3, e.g. `X#NodeArchitecture`).
fn check_key(key: &[u8], offset: usize) -> Result<String, TextError> {
    if key.is_empty() {
        return Err(TextError::EmptyKey { offset });
    }
    if key.len() > MAX_KEY_LEN {
        return Err(TextError::KeyTooLong {
            offset,
            len: key.len(),
        });
    }
    let registered_extension = key.starts_with(b"X#");
    for (index, &byte) in key.iter().enumerate() {
        let allowed = byte.is_ascii_alphanumeric()
            || matches!(byte, b'.' | b'-' | b'+' | b'@' | b'_')
            || (registered_extension && index == 1);
        if !allowed {
            return Err(TextError::InvalidKeyByte { offset, byte });
        }
    }
    // Every allowed byte is ASCII, so each maps to the same char.
    Ok(key.iter().map(|&byte| char::from(byte)).collect())
}

#[cfg(test)]
mod tests;
