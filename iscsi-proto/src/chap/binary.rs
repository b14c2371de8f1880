//! Binary values in iSCSI text keys (RFC 7143 §6.1): `0x…` hex-constants and `0b…`
//! base64-constants. CHAP challenges and responses travel in this form.
//!
//! We decode both forms (either prefix case) and always encode hex, which every target accepts.

use thiserror::Error;

/// The largest binary value we decode. RFC 7143 lets a CHAP challenge be long, but a few
/// hundred bytes is already generous; the cap keeps a hostile peer from making us allocate
/// a value as large as its whole data segment.
pub(crate) const MAX_BINARY_VALUE_BYTES: usize = 1024;

/// Why a `0x…`/`0b…` value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BinaryValueError {
    #[error("binary value must start with 0x (hex) or 0b (base64)")]
    MissingPrefix,
    #[error("binary value has no digits after its prefix")]
    Empty,
    #[error("binary value is longer than {max} bytes")]
    TooLong { max: usize },
    #[error("binary value has a non-hex character at offset {offset}")]
    BadHexDigit { offset: usize },
    #[error("binary value has a non-base64 character at offset {offset}")]
    BadBase64Character { offset: usize },
    #[error("base64 binary value has a length that no byte string encodes to")]
    BadBase64Length,
}

/// Decodes a hex-constant or base64-constant into bytes, bounded by [`MAX_BINARY_VALUE_BYTES`].
pub(crate) fn decode_binary_value(text: &str) -> Result<Vec<u8>, BinaryValueError> {
    if let Some(digits) = strip_either_case(text, "0x") {
        non_empty(digits).and_then(decode_hex)
    } else if let Some(digits) = strip_either_case(text, "0b") {
        non_empty(digits).and_then(decode_base64)
    } else {
        Err(BinaryValueError::MissingPrefix)
    }
}

fn non_empty(digits: &str) -> Result<&str, BinaryValueError> {
    if digits.is_empty() {
        Err(BinaryValueError::Empty)
    } else {
        Ok(digits)
    }
}

fn strip_either_case<'a>(text: &'a str, lower_case_prefix: &str) -> Option<&'a str> {
    text.strip_prefix(lower_case_prefix)
        .or_else(|| text.strip_prefix(&lower_case_prefix.to_ascii_uppercase()))
}

/// Encodes bytes as a lower-case hex-constant (`0x…`).
pub(crate) fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 + bytes.len() * 2);
    text.push_str("0x");
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Offset of a digit within the whole value, counting the two prefix characters, so errors
/// point at the character a person sees.
fn offset_in_value(digit_index: usize) -> usize {
    digit_index + 2
}

fn decode_hex(digits: &str) -> Result<Vec<u8>, BinaryValueError> {
    // RFC 7143 §6.1: n hex digits encode (n+1)/2 bytes, i.e. an odd count has an implied
    // leading zero nibble.
    let byte_len = digits.len().div_ceil(2);
    if byte_len > MAX_BINARY_VALUE_BYTES {
        return Err(BinaryValueError::TooLong {
            max: MAX_BINARY_VALUE_BYTES,
        });
    }
    let mut nibbles = Vec::with_capacity(byte_len * 2);
    if digits.len() % 2 == 1 {
        nibbles.push(0);
    }
    for (index, character) in digits.bytes().enumerate() {
        let nibble = char::from(character)
            .to_digit(16)
            .ok_or(BinaryValueError::BadHexDigit {
                offset: offset_in_value(index),
            })?;
        // to_digit(16) yields 0..=15, which fits a byte.
        nibbles.push(nibble as u8);
    }
    Ok(nibbles
        .chunks_exact(2)
        .map(|pair| (pair[0] << 4) | pair[1])
        .collect())
}

fn base64_sextet(character: u8) -> Option<u8> {
    match character {
        b'A'..=b'Z' => Some(character - b'A'),
        b'a'..=b'z' => Some(character - b'a' + 26),
        b'0'..=b'9' => Some(character - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// RFC 4648 §4 base64. Padding is accepted but not required (some targets omit it); `=` may
/// only appear at the end, at most twice, and only where it pads a final partial group.
fn decode_base64(digits: &str) -> Result<Vec<u8>, BinaryValueError> {
    let bytes = digits.as_bytes();
    let unpadded = digits.trim_end_matches('=');
    let padding = bytes.len() - unpadded.len();
    if padding > 2 || (padding > 0 && bytes.len() % 4 != 0) {
        return Err(BinaryValueError::BadBase64Length);
    }
    // A single leftover character carries only 6 bits: no byte string encodes to that.
    if unpadded.len() % 4 == 1 || unpadded.is_empty() {
        return Err(BinaryValueError::BadBase64Length);
    }
    let byte_len = unpadded.len() / 4 * 3 + (unpadded.len() % 4).saturating_sub(1);
    if byte_len > MAX_BINARY_VALUE_BYTES {
        return Err(BinaryValueError::TooLong {
            max: MAX_BINARY_VALUE_BYTES,
        });
    }
    let mut decoded = Vec::with_capacity(byte_len);
    let mut accumulator: u32 = 0;
    let mut pending_bits = 0u32;
    for (index, character) in unpadded.bytes().enumerate() {
        let sextet = base64_sextet(character).ok_or(BinaryValueError::BadBase64Character {
            offset: offset_in_value(index),
        })?;
        accumulator = (accumulator << 6) | u32::from(sextet);
        pending_bits += 6;
        if pending_bits >= 8 {
            pending_bits -= 8;
            decoded.push(((accumulator >> pending_bits) & 0xff) as u8);
            accumulator &= (1 << pending_bits) - 1;
        }
    }
    Ok(decoded)
}

#[cfg(test)]
mod tests;
