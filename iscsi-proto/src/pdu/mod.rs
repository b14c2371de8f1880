//! iSCSI PDU codec (RFC 7143 §11): the 48-byte Basic Header Segment, Additional Header Segments,
//! the data segment with its 4-byte padding, and optional CRC32C header and data digests.
//!
//! Decoding never trusts a length from the wire: TotalAHSLength, DataSegmentLength and every AHS
//! length are checked against the bytes present and against the caller's limit, and every error
//! names the field at fault. Encoding keeps the header separate from the payload so a data-path
//! engine can gather the payload from the I/O buffer instead of copying it into a PDU.

mod ahs;
mod frame;
mod header;

pub use frame::{decode_pdu, encode_pdu, BhsLengths, Pdu};
pub use header::*;

use thiserror::Error;

/// Size of the Basic Header Segment.
pub const BHS_LEN: usize = 48;
/// Largest DataSegmentLength the 24-bit field can express.
pub(crate) const MAX_DATA_SEGMENT_LEN: u32 = (1 << 24) - 1;
/// Largest AHS area: TotalAHSLength is a count of 4-byte words in one byte.
pub const MAX_AHS_LEN: usize = 255 * 4;
/// The reserved ITT value: "no task" (unsolicited NOP-In, Async Message, Reject).
pub const RESERVED_TAG: u32 = 0xffff_ffff;

/// Rounds a data segment length up to the 4-byte boundary the wire pads it to.
#[inline]
pub fn padded(len: usize) -> usize {
    (len + 3) & !3
}

/// Why a PDU could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PduError {
    #[error("unknown iSCSI opcode 0x{0:02x}")]
    UnknownOpcode(u8),
    #[error("DataSegmentLength {len} exceeds the limit of {max} bytes")]
    DataSegmentTooLong { len: u32, max: u32 },
    #[error("TotalAHSLength {len} bytes is malformed: {why}")]
    BadAhs { len: usize, why: &'static str },
    #[error("header digest mismatch: received 0x{received:08x}, computed 0x{computed:08x}")]
    HeaderDigest { received: u32, computed: u32 },
    #[error("data digest mismatch: received 0x{received:08x}, computed 0x{computed:08x}")]
    DataDigest { received: u32, computed: u32 },
    #[error("field {field} has invalid value {value}")]
    BadField { field: &'static str, value: u32 },
    #[error("CDB of {0} bytes is outside 1..=260")]
    BadCdbLength(usize),
}

#[cfg(test)]
mod tests;
