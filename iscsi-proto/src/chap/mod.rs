//! CHAP authentication for iSCSI login (RFC 7143 §12.1.3 over RFC 1994), MD5 only.
//!
//! - `credentials`: names and secrets; secrets never print.
//! - `binary`: the `0x…`/`0b…` encoding challenges and responses travel in.
//! - `response`: the MD5 computation, usable from either end (tests and fuzzers play the
//!   target with it).
//! - `initiator`: the initiator's exchange, one-way or mutual.

pub(crate) mod binary;
pub(crate) mod credentials;
pub(crate) mod initiator;
pub(crate) mod response;

use std::fmt;

use thiserror::Error;

pub use binary::BinaryValueError;
pub use credentials::{ChapCredentials, Secret};
pub(crate) use initiator::ChapInitiator;

/// `CHAP_A` value for MD5, the only algorithm RFC 7143 requires and the only one we speak.
pub(crate) const CHAP_ALGORITHM_MD5: u8 = 5;

/// The text keys of a CHAP exchange.
pub(crate) mod keys {
    pub(crate) const ALGORITHM: &str = "CHAP_A";
    pub(crate) const IDENTIFIER: &str = "CHAP_I";
    pub(crate) const CHALLENGE: &str = "CHAP_C";
    pub(crate) const NAME: &str = "CHAP_N";
    pub(crate) const RESPONSE: &str = "CHAP_R";
}

/// Which end of the connection a set of credentials identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialRole {
    /// We prove ourselves to the target with these.
    Initiator,
    /// The target proves itself to us with these (mutual CHAP).
    Target,
}

impl fmt::Display for CredentialRole {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            CredentialRole::Initiator => "initiator",
            CredentialRole::Target => "target",
        })
    }
}

/// Why a CHAP exchange failed. No variant carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChapError {
    #[error("{role} CHAP user name is empty")]
    EmptyUser { role: CredentialRole },
    #[error("{role} CHAP secret is empty")]
    EmptySecret { role: CredentialRole },
    #[error(
        "the same CHAP secret is configured for the initiator and the target (RFC 7143 forbids it)"
    )]
    SameSecretBothDirections,
    #[error("target chose CHAP_A={chosen}; only MD5 (5) is supported")]
    UnsupportedAlgorithm { chosen: String },
    #[error("target omitted {key}")]
    MissingKey { key: &'static str },
    #[error("target sent {key} more than once")]
    DuplicateKey { key: &'static str },
    #[error("bad CHAP_I {value:?}: expected a number 0..=255")]
    BadIdentifier { value: String },
    #[error("bad {key} value: {source}")]
    BadBinaryValue {
        key: &'static str,
        source: BinaryValueError,
    },
    #[error("target's CHAP_R is {found} bytes; an MD5 response is 16")]
    BadResponseLength { found: usize },
    #[error("target answered with CHAP_N {found:?}, expected {expected:?}")]
    TargetNameMismatch { expected: String, found: String },
    #[error("target's CHAP response is wrong: it does not know the mutual CHAP secret")]
    TargetAuthFailed,
    #[error("target's challenge equals the one we would send back (reflection)")]
    ReflectedChallenge,
    #[error("CHAP step out of order: cannot {step} now")]
    OutOfSequence { step: &'static str },
}

#[cfg(test)]
mod tests;
