//! WRITE SAME(16) (SBC-4 5.48): write one block's pattern over a range, optionally unmapping
//! it — the write-zeroes / discard path of a thin-provisioned LUN.

use super::cdb::{opcode, Cdb, ScsiRequest};
use super::error::BuildError;

/// UNMAP bit (byte 1 bit 3): the target may deallocate the range instead of writing it.
const UNMAP_BIT: u8 = 1 << 3;
/// NDOB bit (byte 1 bit 0): no Data-Out buffer; the pattern is all zeros.
const NDOB_BIT: u8 = 1 << 0;

/// Parameters of a WRITE SAME(16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSame {
    /// First logical block address.
    pub lba: u64,
    /// Number of logical blocks; must be non-zero (see [`write_same16`]).
    pub blocks: u32,
    /// Logical block size: the length of the single pattern block sent when `ndob` is false.
    pub block_size: u32,
    /// Set UNMAP: allow the target to deallocate the blocks.
    pub unmap: bool,
    /// Set NDOB: send no data, the pattern is zeros (requires target support, see the Block
    /// Limits / WRITE SAME capability of the target).
    pub ndob: bool,
}

/// Build WRITE SAME(16). With `ndob` the request has no data phase; otherwise it carries one
/// logical block (the pattern) as Data-Out.
///
/// `blocks == 0` is rejected: SBC-4 gives it the meaning "through the last LBA of the LU", an
/// easy way to wipe a disk by accident. A zero `block_size` without NDOB is rejected too.
pub fn write_same16(params: WriteSame) -> Result<ScsiRequest, BuildError> {
    const COMMAND: &str = "WRITE SAME(16)";
    if params.blocks == 0 {
        return Err(BuildError::FieldTooSmall {
            command: COMMAND,
            field: "NUMBER OF LOGICAL BLOCKS",
            value: 0,
            min: 1,
        });
    }
    if !params.ndob && params.block_size == 0 {
        return Err(BuildError::FieldTooSmall {
            command: COMMAND,
            field: "block size",
            value: 0,
            min: 1,
        });
    }
    let mut bytes = [0u8; 16];
    bytes[0] = opcode::WRITE_SAME_16;
    bytes[1] = if params.unmap { UNMAP_BIT } else { 0 } | if params.ndob { NDOB_BIT } else { 0 };
    bytes[2..10].copy_from_slice(&params.lba.to_be_bytes());
    bytes[10..14].copy_from_slice(&params.blocks.to_be_bytes());
    let cdb = Cdb::fixed(bytes);
    Ok(if params.ndob {
        ScsiRequest::no_data(cdb)
    } else {
        ScsiRequest::write(cdb, params.block_size)
    })
}

#[cfg(test)]
mod tests;
