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
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn encodes_byte_exact() {
        let encoded = encode(&[("HeaderDigest", "None"), ("MaxBurstLength", "262144")]).unwrap();
        assert_eq!(
            encoded,
            b"HeaderDigest=None\0MaxBurstLength=262144\0".to_vec()
        );
    }

    #[test]
    fn encodes_empty_value_and_nothing() {
        assert_eq!(
            encode(&[("SendTargets", "")]).unwrap(),
            b"SendTargets=\0".to_vec()
        );
        assert_eq!(encode::<&str, &str>(&[]).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn parses_byte_exact() {
        let segment = b"InitiatorName=iqn.2004-10.com.example:host\0SessionType=Normal\0";
        assert_eq!(
            parse(segment).unwrap(),
            pairs(&[
                ("InitiatorName", "iqn.2004-10.com.example:host"),
                ("SessionType", "Normal")
            ])
        );
    }

    #[test]
    fn parses_value_containing_equals_and_empty_value() {
        assert_eq!(
            parse(b"X-com.example.opt=a=b\0SendTargets=\0").unwrap(),
            pairs(&[("X-com.example.opt", "a=b"), ("SendTargets", "")])
        );
    }

    #[test]
    fn tolerates_nul_padding_and_empty_segment() {
        assert_eq!(parse(b"A=1\0\0\0\0").unwrap(), pairs(&[("A", "1")]));
        assert_eq!(parse(b"").unwrap(), Vec::new());
        assert_eq!(parse(b"\0\0\0\0").unwrap(), Vec::new());
    }

    #[test]
    fn accepts_registered_extension_key() {
        assert_eq!(
            parse(b"X#NodeArchitecture=ublk-cxgb3i/0.1\0").unwrap(),
            pairs(&[("X#NodeArchitecture", "ublk-cxgb3i/0.1")])
        );
    }

    #[test]
    fn keeps_duplicates_in_order() {
        assert_eq!(
            parse(b"A=1\0A=2\0").unwrap(),
            pairs(&[("A", "1"), ("A", "2")])
        );
    }

    #[test]
    fn rejects_missing_equals() {
        assert_eq!(
            parse(b"A=1\0Broken\0"),
            Err(TextError::MissingEquals { offset: 4 })
        );
    }

    #[test]
    fn rejects_empty_key() {
        assert_eq!(parse(b"=value\0"), Err(TextError::EmptyKey { offset: 0 }));
    }

    #[test]
    fn rejects_missing_terminator() {
        assert_eq!(
            parse(b"A=1\0B=2"),
            Err(TextError::MissingTerminator { offset: 4 })
        );
    }

    #[test]
    fn rejects_invalid_key_bytes() {
        assert_eq!(
            parse(b"Bad Key=1\0"),
            Err(TextError::InvalidKeyByte {
                offset: 0,
                byte: b' '
            })
        );
        assert_eq!(
            parse(b"A#B=1\0"),
            Err(TextError::InvalidKeyByte {
                offset: 0,
                byte: b'#'
            })
        );
        assert_eq!(
            parse(b"X##=1\0"),
            Err(TextError::InvalidKeyByte {
                offset: 0,
                byte: b'#'
            })
        );
        assert_eq!(
            parse(b"K\xc3\xa9=1\0"),
            Err(TextError::InvalidKeyByte {
                offset: 0,
                byte: 0xc3
            })
        );
    }

    #[test]
    fn key_length_limit_is_63() {
        let longest = format!("{}=v\0", "K".repeat(63));
        assert_eq!(parse(longest.as_bytes()).unwrap().len(), 1);
        let too_long = format!("{}=v\0", "K".repeat(64));
        assert_eq!(
            parse(too_long.as_bytes()),
            Err(TextError::KeyTooLong { offset: 0, len: 64 })
        );
    }

    #[test]
    fn value_length_limit() {
        let longest = format!("CHAP_C=0x{}\0", "a".repeat(MAX_VALUE_LEN - 2));
        assert_eq!(parse(longest.as_bytes()).unwrap()[0].1.len(), MAX_VALUE_LEN);
        let too_long = format!("CHAP_C=0x{}\0", "a".repeat(MAX_VALUE_LEN - 1));
        assert_eq!(
            parse(too_long.as_bytes()),
            Err(TextError::ValueTooLong {
                key: "CHAP_C".into(),
                len: MAX_VALUE_LEN + 1
            })
        );
    }

    #[test]
    fn rejects_non_utf8_value() {
        assert_eq!(
            parse(b"TargetAlias=\xff\xfe\0"),
            Err(TextError::InvalidUtf8 {
                key: "TargetAlias".into()
            })
        );
    }

    #[test]
    fn accepts_utf8_value() {
        assert_eq!(
            parse("TargetAlias=Plattenb\u{e4}r\0".as_bytes()).unwrap()[0].1,
            "Plattenb\u{e4}r"
        );
    }

    #[test]
    fn encode_rejects_what_parse_would_reject() {
        assert_eq!(
            encode(&[("A", "1"), ("B", "x\0y")]),
            Err(TextError::NulInValue { key: "B".into() })
        );
        assert_eq!(
            encode(&[("A", "1"), ("", "v")]),
            Err(TextError::EmptyKey { offset: 4 })
        );
        assert_eq!(
            encode(&[("Bad=Key", "v")]),
            Err(TextError::InvalidKeyByte {
                offset: 0,
                byte: b'='
            })
        );
        let long = "v".repeat(MAX_VALUE_LEN + 1);
        assert_eq!(
            encode(&[("TargetAlias", long.as_str())]),
            Err(TextError::ValueTooLong {
                key: "TargetAlias".into(),
                len: MAX_VALUE_LEN + 1
            })
        );
    }
}
