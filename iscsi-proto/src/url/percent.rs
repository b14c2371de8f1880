//! Percent-encoding of the target name, the one URL part libiscsi decodes (`%2F` → `/`).

use std::fmt::{self, Write};

use super::UrlError;

/// Decodes `%XX` escapes. Unlike libiscsi (which turns `%zz` into garbage) a malformed escape
/// is an error, and the result must be UTF-8 because an iSCSI name is text.
pub(crate) fn decode(text: &str) -> Result<String, UrlError> {
    let bad_escape = || UrlError::BadPercentEncoding {
        text: text.to_owned(),
    };
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte != b'%' {
            decoded.push(byte);
            index += 1;
            continue;
        }
        let Some(&[high, low]) = bytes.get(index + 1..index + 3) else {
            return Err(bad_escape());
        };
        let high = hex_value(high).ok_or_else(bad_escape)?;
        let low = hex_value(low).ok_or_else(bad_escape)?;
        decoded.push(high << 4 | low);
        index += 3;
    }
    String::from_utf8(decoded).map_err(|_| bad_escape())
}

fn hex_value(digit: u8) -> Option<u8> {
    // to_digit(16) yields 0..=15, which fits a byte.
    char::from(digit).to_digit(16).map(|value| value as u8)
}

/// Writes `text` with every byte outside RFC 3986's unreserved set (plus ':', which every IQN
/// holds) escaped, so `/`, `?`, `%`, `@` and `&` in a name cannot be mistaken for separators.
pub(crate) fn write_encoded(formatter: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b':') {
            formatter.write_char(char::from(byte))?;
        } else {
            write!(formatter, "%{byte:02X}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Encoded<'a>(&'a str);
    impl fmt::Display for Encoded<'_> {
        fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_encoded(formatter, self.0)
        }
    }

    #[test]
    fn decodes_escapes_in_either_case() {
        assert_eq!(
            decode("iqn.2001-04.com.example:a%2fb%2Fc").unwrap(),
            "iqn.2001-04.com.example:a/b/c"
        );
        assert_eq!(decode("caf%C3%A9").unwrap(), "café");
        assert_eq!(decode("plain").unwrap(), "plain");
    }

    #[test]
    fn rejects_malformed_escapes() {
        for text in ["%", "%2", "a%zz", "%C3", "%é1"] {
            assert_eq!(
                decode(text),
                Err(UrlError::BadPercentEncoding { text: text.into() }),
                "{text}"
            );
        }
    }

    #[test]
    fn encodes_separators_and_non_ascii() {
        assert_eq!(
            Encoded("iqn.2001-04.com.example:a/b?c%d@e&f é").to_string(),
            "iqn.2001-04.com.example:a%2Fb%3Fc%25d%40e%26f%20%C3%A9"
        );
    }
}
