//! SYNCHRONIZE CACHE(16) (SBC-4 5.28): the FLUSH of a block device.
//!
//! A block count of 0 means "from `lba` through the last LBA", so `(0, 0)` flushes the whole
//! logical unit — what a ublk FLUSH needs.

use super::cdb::{opcode, Cdb, ScsiRequest};

/// IMMED: return status once the command is validated, before the flush completes. A block
/// device flush must not use it, but the caller chooses.
const IMMED_BIT: u8 = 1 << 1;

fn immed_byte(immed: bool) -> u8 {
    if immed {
        IMMED_BIT
    } else {
        0
    }
}

/// SYNCHRONIZE CACHE(16); any LBA and block count.
pub fn synchronize_cache16(lba: u64, blocks: u32, immed: bool) -> ScsiRequest {
    let mut bytes = [0u8; 16];
    bytes[0] = opcode::SYNCHRONIZE_CACHE_16;
    bytes[1] = immed_byte(immed);
    bytes[2..10].copy_from_slice(&lba.to_be_bytes());
    bytes[10..14].copy_from_slice(&blocks.to_be_bytes());
    ScsiRequest::no_data(Cdb::fixed(bytes))
}

#[cfg(test)]
mod tests;
