//! READ(10)/(16) and WRITE(10)/(16) (SBC-4 5.15, 5.17, 5.40, 5.42), plus a decoder for the same
//! CDBs used by tests, fuzzing and logging.
//!
//! Size policy: [`read10`]/[`write10`] reject an LBA above `u32::MAX` or more than `u16::MAX`
//! blocks with [`BuildError::FieldTooLarge`]; [`read16`]/[`write16`] take any LBA and block
//! count. [`read()`]/[`write()`] pick the 10-byte form when the request fits it (as Linux `sd`
//! does, so old targets without the 16-byte commands keep working for small LUNs) and the
//! 16-byte form otherwise.

use super::cdb::{check_fits, opcode, Cdb, ScsiRequest};
use super::error::{BuildError, ParseError};
use super::wire::Wire;

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

    fn fits_10_byte_cdb(&self) -> bool {
        self.lba <= u64::from(u32::MAX) && self.blocks <= u32::from(u16::MAX)
    }

    fn flags_byte(&self) -> u8 {
        if self.fua {
            FUA_BIT
        } else {
            0
        }
    }

    fn cdb10(&self, opcode: u8, command: &'static str) -> Result<Cdb, BuildError> {
        check_fits(
            command,
            "LOGICAL BLOCK ADDRESS",
            self.lba,
            u64::from(u32::MAX),
        )?;
        check_fits(
            command,
            "TRANSFER LENGTH",
            u64::from(self.blocks),
            u64::from(u16::MAX),
        )?;
        let lba = (self.lba as u32).to_be_bytes();
        let blocks = (self.blocks as u16).to_be_bytes();
        Ok(Cdb::fixed([
            opcode,
            self.flags_byte(),
            lba[0],
            lba[1],
            lba[2],
            lba[3],
            0, // GROUP NUMBER
            blocks[0],
            blocks[1],
            0, // CONTROL
        ]))
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

/// READ(10): LBA ≤ `u32::MAX`, blocks ≤ `u16::MAX`, else [`BuildError::FieldTooLarge`].
pub fn read10(io: BlockIo) -> Result<ScsiRequest, BuildError> {
    let transfer_len = io.transfer_len("READ(10)")?;
    Ok(ScsiRequest::read(
        io.cdb10(opcode::READ_10, "READ(10)")?,
        transfer_len,
    ))
}

/// READ(16): any LBA and block count; fails only if the byte count overflows 32 bits.
pub fn read16(io: BlockIo) -> Result<ScsiRequest, BuildError> {
    let transfer_len = io.transfer_len("READ(16)")?;
    Ok(ScsiRequest::read(io.cdb16(opcode::READ_16), transfer_len))
}

/// WRITE(10): LBA ≤ `u32::MAX`, blocks ≤ `u16::MAX`, else [`BuildError::FieldTooLarge`].
pub fn write10(io: BlockIo) -> Result<ScsiRequest, BuildError> {
    let transfer_len = io.transfer_len("WRITE(10)")?;
    Ok(ScsiRequest::write(
        io.cdb10(opcode::WRITE_10, "WRITE(10)")?,
        transfer_len,
    ))
}

/// WRITE(16): any LBA and block count; fails only if the byte count overflows 32 bits.
pub fn write16(io: BlockIo) -> Result<ScsiRequest, BuildError> {
    let transfer_len = io.transfer_len("WRITE(16)")?;
    Ok(ScsiRequest::write(io.cdb16(opcode::WRITE_16), transfer_len))
}

/// READ(10) when the request fits it, READ(16) otherwise.
pub fn read(io: BlockIo) -> Result<ScsiRequest, BuildError> {
    if io.fits_10_byte_cdb() {
        read10(io)
    } else {
        read16(io)
    }
}

/// WRITE(10) when the request fits it, WRITE(16) otherwise.
pub fn write(io: BlockIo) -> Result<ScsiRequest, BuildError> {
    if io.fits_10_byte_cdb() {
        write10(io)
    } else {
        write16(io)
    }
}

/// Which of the four READ/WRITE commands a CDB holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RwCommand {
    /// READ(10), opcode 0x28.
    Read10,
    /// READ(16), opcode 0x88.
    Read16,
    /// WRITE(10), opcode 0x2A.
    Write10,
    /// WRITE(16), opcode 0x8A.
    Write16,
}

impl RwCommand {
    /// True for the WRITE commands.
    pub fn is_write(self) -> bool {
        matches!(self, Self::Write10 | Self::Write16)
    }
}

/// The fields of a READ/WRITE CDB that this initiator sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodedRw {
    /// Which command.
    pub command: RwCommand,
    /// LOGICAL BLOCK ADDRESS.
    pub lba: u64,
    /// TRANSFER LENGTH in blocks.
    pub blocks: u32,
    /// FUA bit.
    pub fua: bool,
}

/// Decode a READ(10)/(16) or WRITE(10)/(16) CDB.
pub fn decode_rw(cdb: &[u8]) -> Result<DecodedRw, ParseError> {
    let wire = Wire::new("READ/WRITE CDB", cdb);
    let (command, cdb_len) = match wire.u8(0, "OPERATION CODE")? {
        opcode::READ_10 => (RwCommand::Read10, 10),
        opcode::WRITE_10 => (RwCommand::Write10, 10),
        opcode::READ_16 => (RwCommand::Read16, 16),
        opcode::WRITE_16 => (RwCommand::Write16, 16),
        other => return Err(wire.invalid("OPERATION CODE", u64::from(other))),
    };
    let wire = wire.declared(cdb_len, "CDB length")?;
    let fua = wire.u8(1, "FUA")? & FUA_BIT != 0;
    let (lba, blocks) = if cdb_len == 10 {
        (
            u64::from(wire.be_u32(2, "LOGICAL BLOCK ADDRESS")?),
            u32::from(wire.be_u16(7, "TRANSFER LENGTH")?),
        )
    } else {
        (
            wire.be_u64(2, "LOGICAL BLOCK ADDRESS")?,
            wire.be_u32(10, "TRANSFER LENGTH")?,
        )
    };
    Ok(DecodedRw {
        command,
        lba,
        blocks,
        fua,
    })
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
    fn read10_bytes() {
        let request = read10(io(0x0102_0304, 0x0506, false)).unwrap();
        assert_eq!(
            request.cdb.as_bytes(),
            &[0x28, 0x00, 0x01, 0x02, 0x03, 0x04, 0x00, 0x05, 0x06, 0x00]
        );
        assert_eq!(request.direction, DataDirection::Read);
        assert_eq!(request.transfer_len, 0x0506 * 512);
    }

    #[test]
    fn write10_with_fua_bytes() {
        let request = write10(io(0xFFFF_FFFF, 0xFFFF, true)).unwrap();
        assert_eq!(
            request.cdb.as_bytes(),
            &[0x2A, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xFF, 0xFF, 0x00]
        );
        assert_eq!(request.direction, DataDirection::Write);
        assert_eq!(request.transfer_len, 0xFFFF * 512);
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
    fn ten_byte_forms_reject_what_they_cannot_carry() {
        assert_eq!(
            read10(io(1 << 32, 1, false)),
            Err(BuildError::FieldTooLarge {
                command: "READ(10)",
                field: "LOGICAL BLOCK ADDRESS",
                value: 1 << 32,
                max: u64::from(u32::MAX),
            })
        );
        assert_eq!(
            write10(io(0, 0x1_0000, false)),
            Err(BuildError::FieldTooLarge {
                command: "WRITE(10)",
                field: "TRANSFER LENGTH",
                value: 0x1_0000,
                max: 0xFFFF,
            })
        );
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

    #[test]
    fn automatic_choice_uses_ten_bytes_only_when_it_fits() {
        assert_eq!(
            read(io(0xFFFF_FFFF, 0xFFFF, false)).unwrap().cdb.opcode(),
            0x28
        );
        assert_eq!(
            read(io(0x1_0000_0000, 1, false)).unwrap().cdb.opcode(),
            0x88
        );
        assert_eq!(write(io(0, 0x1_0000, false)).unwrap().cdb.opcode(), 0x8A);
        assert_eq!(write(io(7, 1, true)).unwrap().cdb.opcode(), 0x2A);
    }

    #[test]
    fn decode_rejects_other_opcodes_and_short_cdbs() {
        assert!(matches!(
            decode_rw(&[0x12, 0, 0, 0, 0, 0]),
            Err(ParseError::InvalidField {
                field: "OPERATION CODE",
                value: 0x12,
                ..
            })
        ));
        assert!(matches!(
            decode_rw(&[0x88; 15]),
            Err(ParseError::Truncated {
                needed: 16,
                got: 15,
                ..
            })
        ));
        assert!(matches!(
            decode_rw(&[]),
            Err(ParseError::Truncated {
                needed: 1,
                got: 0,
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn rw16_fields_round_trip(lba: u64, blocks in 0u32..=(1 << 23) - 1, fua: bool, is_write: bool) {
            let io = BlockIo { lba, blocks, block_size: 512, fua };
            let request = if is_write { write16(io) } else { read16(io) }.unwrap();
            let decoded = decode_rw(request.cdb.as_bytes()).unwrap();
            let command = if is_write { RwCommand::Write16 } else { RwCommand::Read16 };
            prop_assert_eq!(decoded, DecodedRw { command, lba, blocks, fua });
        }

        #[test]
        fn automatic_choice_round_trips(lba: u64, blocks in 0u32..=(1 << 20), fua: bool, is_write: bool) {
            let io = BlockIo { lba, blocks, block_size: 4096, fua };
            let request = if is_write { write(io) } else { read(io) }.unwrap();
            let decoded = decode_rw(request.cdb.as_bytes()).unwrap();
            prop_assert_eq!(decoded.command.is_write(), is_write);
            prop_assert_eq!((decoded.lba, decoded.blocks, decoded.fua), (lba, blocks, fua));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = decode_rw(&bytes);
        }
    }
}
