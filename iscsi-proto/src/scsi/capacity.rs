//! READ CAPACITY(10) and READ CAPACITY(16) (SBC-4 5.20, 5.21): size, block size and the
//! provisioning / protection / alignment facts a block device needs.
//!
//! Both parsers reject a LOGICAL BLOCK LENGTH of zero (nothing above could use it) and, for
//! (16), a RETURNED LOGICAL BLOCK ADDRESS of `u64::MAX` (the block count would overflow).

use super::cdb::{opcode, Cdb, ScsiRequest};
use super::error::ParseError;
use super::wire::Wire;

/// READ CAPACITY(16) is service action 0x10 of SERVICE ACTION IN(16).
const READ_CAPACITY_16_SERVICE_ACTION: u8 = 0x10;

/// Length of READ CAPACITY(10) parameter data.
pub(crate) const READ_CAPACITY_10_LEN: usize = 8;

/// Bytes of READ CAPACITY(16) data the parser requires (through LOWEST ALIGNED LBA).
const READ_CAPACITY_16_MIN_LEN: usize = 16;

/// READ CAPACITY(10). Returns 8 bytes.
pub fn read_capacity10() -> ScsiRequest {
    ScsiRequest::read(
        Cdb::fixed([opcode::READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        READ_CAPACITY_10_LEN as u32,
    )
}

/// READ CAPACITY(16) with the given allocation length.
pub fn read_capacity16(allocation_len: u32) -> ScsiRequest {
    let mut bytes = [0u8; 16];
    bytes[0] = opcode::SERVICE_ACTION_IN_16;
    bytes[1] = READ_CAPACITY_16_SERVICE_ACTION;
    bytes[10..14].copy_from_slice(&allocation_len.to_be_bytes());
    ScsiRequest::read(Cdb::fixed(bytes), allocation_len)
}

fn check_block_length(wire: &Wire<'_>, block_length: u32) -> Result<u32, ParseError> {
    if block_length == 0 {
        return Err(wire.invalid("LOGICAL BLOCK LENGTH IN BYTES", 0));
    }
    Ok(block_length)
}

/// READ CAPACITY(10) parameter data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCapacity10 {
    /// RETURNED LOGICAL BLOCK ADDRESS: the last LBA; `0xFFFF_FFFF` means "too large, use
    /// READ CAPACITY(16)".
    pub(crate) returned_lba: u32,
    /// LOGICAL BLOCK LENGTH IN BYTES.
    pub block_length: u32,
}

impl ReadCapacity10 {
    /// Parse the 8-byte parameter data.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = Wire::new("READ CAPACITY(10) data", bytes);
        Ok(Self {
            returned_lba: wire.be_u32(0, "RETURNED LOGICAL BLOCK ADDRESS")?,
            block_length: check_block_length(
                &wire,
                wire.be_u32(4, "LOGICAL BLOCK LENGTH IN BYTES")?,
            )?,
        })
    }

    /// Number of logical blocks (last LBA + 1).
    pub fn block_count(&self) -> u64 {
        u64::from(self.returned_lba) + 1
    }
}

/// READ CAPACITY(16) parameter data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCapacity16 {
    /// RETURNED LOGICAL BLOCK ADDRESS: the last LBA (never `u64::MAX`, see the module docs).
    pub returned_lba: u64,
    /// LOGICAL BLOCK LENGTH IN BYTES (never 0).
    pub block_length: u32,
    /// P_TYPE: protection type minus one, meaningful when `protection_enabled`.
    pub(crate) p_type: u8,
    /// PROT_EN: protection information is enabled.
    pub(crate) protection_enabled: bool,
    /// P_I_EXPONENT: protection information intervals per logical block, as a power of two.
    pub(crate) p_i_exponent: u8,
    /// LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT: physical block = block_length << this.
    pub(crate) logical_per_physical_exponent: u8,
    /// LBPME: logical block provisioning management enabled (thin provisioning: UNMAP and
    /// WRITE SAME with UNMAP may be used).
    pub lbpme: bool,
    /// LBPRZ: unmapped blocks read back as zeros.
    pub lbprz: bool,
    /// LOWEST ALIGNED LOGICAL BLOCK ADDRESS (14 bits): first LBA on a physical block boundary.
    pub(crate) lowest_aligned_lba: u16,
}

impl ReadCapacity16 {
    /// Parse READ CAPACITY(16) parameter data; at least 16 bytes are required.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = Wire::new("READ CAPACITY(16) data", bytes);
        // Check the whole required prefix up front so a short buffer reports the right size.
        wire.slice(
            0,
            READ_CAPACITY_16_MIN_LEN,
            "LOWEST ALIGNED LOGICAL BLOCK ADDRESS",
        )?;
        let returned_lba = wire.be_u64(0, "RETURNED LOGICAL BLOCK ADDRESS")?;
        if returned_lba == u64::MAX {
            return Err(wire.invalid("RETURNED LOGICAL BLOCK ADDRESS", returned_lba));
        }
        let protection = wire.u8(12, "PROT_EN")?;
        let exponents = wire.u8(13, "LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT")?;
        let provisioning = wire.be_u16(14, "LOWEST ALIGNED LOGICAL BLOCK ADDRESS")?;
        Ok(Self {
            returned_lba,
            block_length: check_block_length(
                &wire,
                wire.be_u32(8, "LOGICAL BLOCK LENGTH IN BYTES")?,
            )?,
            p_type: (protection >> 1) & 0x07,
            protection_enabled: protection & 0x01 != 0,
            p_i_exponent: exponents >> 4,
            logical_per_physical_exponent: exponents & 0x0F,
            lbpme: provisioning & 0x8000 != 0,
            lbprz: provisioning & 0x4000 != 0,
            lowest_aligned_lba: provisioning & 0x3FFF,
        })
    }

    /// Number of logical blocks (last LBA + 1; cannot overflow, see the module docs).
    pub fn block_count(&self) -> u64 {
        self.returned_lba + 1
    }

    /// Physical block size in bytes, if it fits 32 bits.
    pub fn physical_block_size(&self) -> Option<u32> {
        1u32.checked_shl(u32::from(self.logical_per_physical_exponent))
            .and_then(|blocks| blocks.checked_mul(self.block_length))
    }
}

#[cfg(test)]
mod tests;
