use super::*;

#[test]
fn md5_known_answer() {
    // Cross-checked with:
    // python3 -c "import hashlib; print(hashlib.md5(bytes([1]) + b'secretsecret'
    //             + bytes(range(16))).hexdigest())"
    // -> 226dc576c33f04ff9c3a200ffe35f442
    let challenge: Vec<u8> = (0u8..16).collect();
    let response = chap_md5_response(0x01, b"secretsecret", &challenge);
    assert_eq!(
        response,
        [
            0x22, 0x6d, 0xc5, 0x76, 0xc3, 0x3f, 0x04, 0xff, 0x9c, 0x3a, 0x20, 0x0f, 0xfe, 0x35,
            0xf4, 0x42
        ]
    );
    assert!(verify_chap_md5_response(
        0x01,
        b"secretsecret",
        &challenge,
        &response
    ));
}

#[test]
fn verification_fails_on_any_changed_input() {
    let challenge = [0x5au8; 16];
    let response = chap_md5_response(7, b"secretsecret", &challenge);
    assert!(!verify_chap_md5_response(
        8,
        b"secretsecret",
        &challenge,
        &response
    ));
    assert!(!verify_chap_md5_response(
        7,
        b"secretsecreT",
        &challenge,
        &response
    ));
    assert!(!verify_chap_md5_response(
        7,
        b"secretsecret",
        &[0x5b; 16],
        &response
    ));
    assert!(!verify_chap_md5_response(
        7,
        b"secretsecret",
        &challenge,
        &response[..15]
    ));
}
