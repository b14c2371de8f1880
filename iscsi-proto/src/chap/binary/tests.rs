use super::*;

/// Test-only RFC 4648 encoder, so decoding can be checked against an independent encoder.
fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for group in bytes.chunks(3) {
        let mut block = [0u8; 3];
        block[..group.len()].copy_from_slice(group);
        let bits = u32::from(block[0]) << 16 | u32::from(block[1]) << 8 | u32::from(block[2]);
        for position in 0..4 {
            if position <= group.len() {
                let sextet = (bits >> (18 - 6 * position)) & 0x3f;
                text.push(char::from(ALPHABET[sextet as usize]));
            } else {
                text.push('=');
            }
        }
    }
    text
}

#[test]
fn decodes_hex_in_either_case() {
    assert_eq!(
        decode_binary_value("0x00ff10Ab").unwrap(),
        vec![0x00, 0xff, 0x10, 0xab]
    );
    assert_eq!(
        decode_binary_value("0XDEADbeef").unwrap(),
        vec![0xde, 0xad, 0xbe, 0xef]
    );
}

#[test]
fn odd_hex_digit_count_implies_leading_zero() {
    assert_eq!(decode_binary_value("0xabc").unwrap(), vec![0x0a, 0xbc]);
    assert_eq!(decode_binary_value("0x1").unwrap(), vec![0x01]);
}

#[test]
fn decodes_base64_padded_and_unpadded() {
    // RFC 4648 §10 test vectors.
    assert_eq!(decode_binary_value("0bZm9vYmFy").unwrap(), b"foobar");
    assert_eq!(decode_binary_value("0bZm9vYg==").unwrap(), b"foob");
    assert_eq!(decode_binary_value("0BZm9vYmE=").unwrap(), b"fooba");
    assert_eq!(decode_binary_value("0bZm9vYg").unwrap(), b"foob");
    assert_eq!(decode_binary_value("0bZg==").unwrap(), b"f");
}

#[test]
fn hex_and_base64_of_the_same_bytes_agree() {
    let bytes: Vec<u8> = (0u8..=255).step_by(7).collect();
    let as_base64 = format!("0b{}", encode_base64(&bytes));
    assert_eq!(decode_binary_value(&as_base64).unwrap(), bytes);
    assert_eq!(decode_binary_value(&encode_hex(&bytes)).unwrap(), bytes);
}

#[test]
fn encodes_lower_case_hex() {
    assert_eq!(encode_hex(&[0x01, 0xab, 0xff]), "0x01abff");
    assert_eq!(encode_hex(&[]), "0x");
}

#[test]
fn rejects_malformed_values() {
    use BinaryValueError::*;
    assert_eq!(decode_binary_value(""), Err(MissingPrefix));
    assert_eq!(decode_binary_value("0"), Err(MissingPrefix));
    assert_eq!(decode_binary_value("1234"), Err(MissingPrefix));
    assert_eq!(decode_binary_value("0x"), Err(Empty));
    assert_eq!(decode_binary_value("0b"), Err(Empty));
    assert_eq!(
        decode_binary_value("0x12g4"),
        Err(BadHexDigit { offset: 4 })
    );
    assert_eq!(
        decode_binary_value("0bZm9v!mFy"),
        Err(BadBase64Character { offset: 6 })
    );
    assert_eq!(decode_binary_value("0bZm9vY"), Err(BadBase64Length));
    assert_eq!(decode_binary_value("0bZg="), Err(BadBase64Length));
    assert_eq!(decode_binary_value("0bZ==="), Err(BadBase64Length));
    assert_eq!(decode_binary_value("0b===="), Err(BadBase64Length));
    assert_eq!(
        decode_binary_value("0bZm=9vw"),
        Err(BadBase64Character { offset: 4 })
    );
}

#[test]
fn multi_byte_characters_do_not_panic() {
    assert_eq!(
        decode_binary_value("é"),
        Err(BinaryValueError::MissingPrefix)
    );
    assert_eq!(
        decode_binary_value("0é"),
        Err(BinaryValueError::MissingPrefix)
    );
    assert_eq!(
        decode_binary_value("0xé"),
        Err(BinaryValueError::BadHexDigit { offset: 2 })
    );
}

#[test]
fn enforces_length_bound() {
    let at_limit = format!("0x{}", "ab".repeat(MAX_BINARY_VALUE_BYTES));
    assert_eq!(
        decode_binary_value(&at_limit).unwrap().len(),
        MAX_BINARY_VALUE_BYTES
    );
    let over_limit = format!("0x{}", "ab".repeat(MAX_BINARY_VALUE_BYTES + 1));
    assert_eq!(
        decode_binary_value(&over_limit),
        Err(BinaryValueError::TooLong {
            max: MAX_BINARY_VALUE_BYTES
        })
    );
    let base64_over = format!("0b{}", encode_base64(&[7u8; MAX_BINARY_VALUE_BYTES + 1]));
    assert_eq!(
        decode_binary_value(&base64_over),
        Err(BinaryValueError::TooLong {
            max: MAX_BINARY_VALUE_BYTES
        })
    );
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = decode_binary_value(&text);
        }

        #[test]
        fn prefixed_arbitrary_text_never_panics(
            prefix in prop::sample::select(vec!["0x", "0X", "0b", "0B"]),
            body in "[0-9a-zA-Z+/=é]{0,64}",
        ) {
            let _ = decode_binary_value(&format!("{prefix}{body}"));
        }

        #[test]
        fn hex_round_trips(bytes in prop::collection::vec(any::<u8>(), 1..=MAX_BINARY_VALUE_BYTES)) {
            prop_assert_eq!(decode_binary_value(&encode_hex(&bytes)).unwrap(), bytes);
        }

        #[test]
        fn base64_decodes_what_rfc4648_encodes(bytes in prop::collection::vec(any::<u8>(), 1..256)) {
            let text = format!("0b{}", encode_base64(&bytes));
            prop_assert_eq!(decode_binary_value(&text).unwrap(), bytes.clone());
            let unpadded = text.trim_end_matches('=');
            prop_assert_eq!(decode_binary_value(unpadded).unwrap(), bytes);
        }
    }
}
