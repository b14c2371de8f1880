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
