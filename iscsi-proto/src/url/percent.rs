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
mod tests;
