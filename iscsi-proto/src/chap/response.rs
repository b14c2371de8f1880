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
mod tests;
