//! The CHAP-MD5 computation shared by both ends (RFC 1994 §4.1, RFC 7143 §12.1.3).

use md5::{Digest, Md5};

/// Length of an MD5 CHAP response.
pub(crate) const MD5_RESPONSE_LEN: usize = 16;

/// `MD5(identifier || secret || challenge)`: the response the holder of `secret` gives to
/// `challenge` sent with `identifier`. A target (or a test playing one) calls this to compute
/// what it expects.
pub(crate) fn chap_md5_response(
    identifier: u8,
    secret: &[u8],
    challenge: &[u8],
) -> [u8; MD5_RESPONSE_LEN] {
    let mut hasher = Md5::new();
    hasher.update([identifier]);
    hasher.update(secret);
    hasher.update(challenge);
    hasher.finalize().into()
}

/// Whether `response` is the right answer to `challenge`/`identifier` for `secret`,
/// compared in constant time. What a target does with the initiator's answer; tests play one.
#[cfg(test)]
pub(crate) fn verify_chap_md5_response(
    identifier: u8,
    secret: &[u8],
    challenge: &[u8],
    response: &[u8],
) -> bool {
    super::credentials::constant_time_eq(
        &chap_md5_response(identifier, secret, challenge),
        response,
    )
}

#[cfg(test)]
mod tests {
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
}
