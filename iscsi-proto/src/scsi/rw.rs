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
mod tests {
    use super::*;
    use crate::scsi::DataDirection;
    use proptest::prelude::*;

    fn io(lba: u64, blocks: u32, fua: bool) -> BlockIo {
        BlockIo {
            lba,
            blocks,
            block_size: 512,
            fua,
        }
    }

    #[test]
    fn read16_bytes() {
        let request = read16(io(0x0102_0304_0506_0708, 0x090A_0B0C / 512, false)).unwrap();
        assert_eq!(
            request.cdb.as_bytes(),
            &[0x88, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x04, 0x85, 0x05, 0x00, 0x00]
        );
        assert_eq!(request.transfer_len, (0x090A_0B0C / 512) * 512);
    }

    #[test]
    fn write16_with_fua_bytes() {
        let request = write16(BlockIo {
            lba: 0x10,
            blocks: 8,
            block_size: 4096,
            fua: true,
        })
        .unwrap();
        assert_eq!(
            request.cdb.as_bytes(),
            &[0x8A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 8, 0x00, 0x00]
        );
        assert_eq!(request.direction, DataDirection::Write);
        assert_eq!(request.transfer_len, 32768);
    }

    #[test]
    fn transfer_length_overflow_and_zero_block_size_are_rejected() {
        let too_long = BlockIo {
            lba: 0,
            blocks: 1 << 23,
            block_size: 512,
            fua: false,
        };
        assert_eq!(
            read16(too_long),
            Err(BuildError::TransferTooLong {
                command: "READ(16)",
                blocks: 1 << 23,
                block_size: 512
            })
        );
        let zero = BlockIo {
            lba: 0,
            blocks: 1,
            block_size: 0,
            fua: false,
        };
        assert!(matches!(
            write16(zero),
            Err(BuildError::FieldTooSmall {
                field: "block size",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn rw16_fields_land_in_place(lba: u64, blocks in 0u32..=(1 << 23) - 1, fua: bool, is_write: bool) {
            let io = BlockIo { lba, blocks, block_size: 512, fua };
            let request = if is_write { write16(io) } else { read16(io) }.unwrap();
            let cdb = request.cdb.as_bytes();
            prop_assert_eq!(cdb.len(), 16);
            prop_assert_eq!(cdb[0], if is_write { 0x8A } else { 0x88 });
            prop_assert_eq!(cdb[1] & FUA_BIT != 0, fua);
            prop_assert_eq!(&cdb[2..10], &lba.to_be_bytes()[..]);
            prop_assert_eq!(&cdb[10..14], &blocks.to_be_bytes()[..]);
            prop_assert_eq!(request.transfer_len, blocks * 512);
        }
    }
}
