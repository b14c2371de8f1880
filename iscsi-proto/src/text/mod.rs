//! iSCSI text format (RFC 7143 §6.1): the `key=value\0` strings carried in the data segment of
//! Login and Text PDUs.
//!
//! * [`parse`] / [`encode`] convert between a logical text data segment and ordered pairs.
//! * [`TextAssembler`] joins the data segments of a PDU sequence linked by the C (continue) bit
//!   into one logical text data segment, with a bound on its size.
//!
//! What a key *means* is the business of [`crate::negotiation`]; this layer only enforces the
//! syntax and size limits of §6.1 and never interprets values. Duplicate keys are passed through
//! in order: whether a repeat is legal depends on the key and the exchange.

mod assembler;
mod pairs;

pub use assembler::TextAssembler;
pub use pairs::{encode, parse};

/// Longest key name RFC 7143 §6.1 allows (a standard-label "must not exceed 63 characters").
pub(crate) const MAX_KEY_LEN: usize = 63;

/// Longest value accepted by this layer, in bytes.
///
/// RFC 7143 §6.1 limits a simple value to 255 bytes "unless otherwise specified", but a
/// list-of-values may hold several such values, and large-binary-values (CHAP_C, CHAP_R: up to
/// 1024 binary bytes, i.e. 2050 characters as hex) are longer still. 8192 bytes covers every
/// standard key with room to spare while keeping a hostile value from growing without bound; the
/// per-key limits (e.g. 255 for a simple value) are enforced by [`crate::negotiation`].
pub(crate) const MAX_VALUE_LEN: usize = 8192;

/// Default bound on a reassembled logical text data segment (64 KiB).
///
/// RFC 7143 only requires an implementation to accept 8192 bytes of text per exchange; 64 KiB
/// leaves room for large SendTargets responses without letting a peer that never clears the
/// C bit exhaust memory.
pub(crate) const DEFAULT_MAX_TEXT_LEN: usize = 64 * 1024;

/// Why a text data segment could not be parsed, encoded or reassembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// A `key=value` string has no `=`.
    #[error("text at byte {offset} is not key=value: it has no '='")]
    MissingEquals { offset: usize },
    /// A `key=value` string starts with `=`.
    #[error("text at byte {offset} has an empty key")]
    EmptyKey { offset: usize },
    /// A key is longer than `MAX_KEY_LEN` (63 bytes).
    #[error("key at byte {offset} is {len} bytes long; the limit is {MAX_KEY_LEN}")]
    KeyTooLong { offset: usize, len: usize },
    /// A key contains a byte outside the RFC 7143 §6.1 key alphabet.
    #[error("key at byte {offset} contains the byte {byte:#04x}, which is not allowed in a key")]
    InvalidKeyByte { offset: usize, byte: u8 },
    /// A value is longer than `MAX_VALUE_LEN` (8192 bytes).
    #[error("value of key {key} is {len} bytes long; the limit is {MAX_VALUE_LEN}")]
    ValueTooLong { key: String, len: usize },
    /// A value is not valid UTF-8.
    #[error("value of key {key} is not valid UTF-8")]
    InvalidUtf8 { key: String },
    /// The last `key=value` string is not followed by a NUL delimiter.
    #[error("the key=value text starting at byte {offset} is not terminated by a NUL")]
    MissingTerminator { offset: usize },
    /// A value handed to [`encode`] contains a NUL byte, which would split the pair.
    #[error("value of key {key} contains a NUL byte")]
    NulInValue { key: String },
    /// A C-bit sequence grew beyond the [`TextAssembler`]'s limit.
    #[error("continued text reached {len} bytes, more than the {limit}-byte limit")]
    TextTooLong { len: usize, limit: usize },
}

#[cfg(test)]
mod proptests;
