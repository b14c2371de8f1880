//! CHAP names and secrets, with secrets kept out of logs.

use std::fmt;

use zeroize::Zeroize;

/// A CHAP secret. Its `Debug` and `Display` print `<redacted>` so a secret never reaches a log
/// line, an error message or a panic by accident; [`Secret::expose`] is the one way to read it.
/// Its bytes are overwritten with zeros when it is dropped, so a freed secret does not linger
/// in the heap (core dumps, reuse of the allocation).
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// What `Debug`/`Display` print instead of the secret.
    pub(crate) const REDACTED: &'static str = "<redacted>";

    pub(crate) fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Secret(bytes.into())
    }

    /// The secret's bytes, for computing a CHAP response or writing a recovery record.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(Self::REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(Self::REDACTED)
    }
}

/// Equality runs in time independent of where the secrets differ, so comparing a secret
/// never hints at its contents.
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

impl Eq for Secret {}

/// One side's CHAP identity: the name sent as `CHAP_N` and the shared secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChapCredentials {
    pub user: String,
    pub secret: Secret,
}

impl ChapCredentials {
    pub fn new(user: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        ChapCredentials {
            user: user.into(),
            secret: Secret::new(secret),
        }
    }
}

/// Compares two byte strings without branching on their contents. The lengths are not
/// secret (an MD5 response is always 16 bytes), so a length mismatch returns early.
pub(crate) fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    let difference = left
        .iter()
        .zip(right)
        .fold(0u8, |accumulated, (a, b)| accumulated | (a ^ b));
    // black_box keeps the optimiser from turning the fold into an early-exit comparison.
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests;
