//! READ(16) and WRITE(16) (SBC-4 5.17, 5.42): any LBA and block count.

use super::cdb::{opcode, Cdb, ScsiRequest};
use super::error::BuildError;

/// FUA (force unit access): bit 3 of CDB byte 1 in every READ/WRITE form.
const FUA_BIT: u8 = 1 << 3;

/// A block-addressed transfer: where, how much, and with which caching semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockIo {
    /// First logical block address.
    pub lba: u64,
    /// Number of logical blocks; 0 is valid SCSI (no data moves).
    pub blocks: u32,
    /// Logical block size in bytes (from READ CAPACITY), used for the transfer length.
    pub block_size: u32,
    /// Force unit access: on WRITE, data reaches the medium before GOOD status; on READ, data
    /// is read from the medium rather than a cache.
    pub fua: bool,
}

impl BlockIo {
    /// Expected data transfer length in bytes, or why it cannot be expressed.
    fn transfer_len(&self, command: &'static str) -> Result<u32, BuildError> {
        if self.block_size == 0 {
            return Err(BuildError::FieldTooSmall {
                command,
                field: "block size",
                value: 0,
                min: 1,
            });
        }
        self.blocks
            .checked_mul(self.block_size)
            .ok_or(BuildError::TransferTooLong {
                command,
                blocks: self.blocks,
                block_size: self.block_size,
            })
    }

    fn flags_byte(&self) -> u8 {
        if self.fua {
            FUA_BIT
        } else {
            0
        }
    }

    fn cdb16(&self, opcode: u8) -> Cdb {
        let mut bytes = [0u8; 16];
        bytes[0] = opcode;
        bytes[1] = self.flags_byte();
        bytes[2..10].copy_from_slice(&self.lba.to_be_bytes());
        bytes[10..14].copy_from_slice(&self.blocks.to_be_bytes());
        Cdb::fixed(bytes)
    }
}

/// READ(16): any LBA and block count; fails only if the byte count overflows 32 bits.
pub fn read16(io: BlockIo) -> Result<ScsiRequest, BuildError> {
    let transfer_len = io.transfer_len("READ(16)")?;
    Ok(ScsiRequest::read(io.cdb16(opcode::READ_16), transfer_len))
}

/// WRITE(16): any LBA and block count; fails only if the byte count overflows 32 bits.
pub fn write16(io: BlockIo) -> Result<ScsiRequest, BuildError> {
    let transfer_len = io.transfer_len("WRITE(16)")?;
    Ok(ScsiRequest::write(io.cdb16(opcode::WRITE_16), transfer_len))
}

#[cfg(test)]
mod tests;
