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
mod tests {
    use super::*;
    use crate::scsi::DataDirection;

    #[test]
    fn read_capacity10_cdb() {
        let request = read_capacity10();
        assert_eq!(request.cdb.as_bytes(), &[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(request.direction, DataDirection::Read);
        assert_eq!(request.transfer_len, 8);
    }

    #[test]
    fn read_capacity16_cdb() {
        let request = read_capacity16(32);
        assert_eq!(
            request.cdb.as_bytes(),
            &[0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00]
        );
        assert_eq!(request.transfer_len, 32);
    }

    #[test]
    fn read_capacity10_data() {
        // 1 GiB of 512-byte blocks: last LBA 0x1F_FFFF.
        let parsed =
            ReadCapacity10::parse(&[0x00, 0x1F, 0xFF, 0xFF, 0x00, 0x00, 0x02, 0x00]).unwrap();
        assert_eq!(
            parsed,
            ReadCapacity10 {
                returned_lba: 0x1F_FFFF,
                block_length: 512
            }
        );
        assert_eq!(parsed.block_count(), 0x20_0000);
        let huge =
            ReadCapacity10::parse(&[0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x10, 0x00]).unwrap();
        assert_eq!(huge.block_count(), 1 << 32);
    }

    #[test]
    fn read_capacity10_errors() {
        assert_eq!(
            ReadCapacity10::parse(&[0, 0, 0, 1, 0, 0, 2]),
            Err(ParseError::Truncated {
                what: "READ CAPACITY(10) data",
                field: "LOGICAL BLOCK LENGTH IN BYTES",
                needed: 8,
                got: 7
            })
        );
        assert!(matches!(
            ReadCapacity10::parse(&[0, 0, 0, 1, 0, 0, 0, 0]),
            Err(ParseError::InvalidField {
                field: "LOGICAL BLOCK LENGTH IN BYTES",
                value: 0,
                ..
            })
        ));
    }

    #[rustfmt::skip]
    fn rc16_thin_4k_physical() -> [u8; 32] {
        let mut data = [0u8; 32];
        data[..16].copy_from_slice(&[
            0x00, 0x00, 0x00, 0x01, 0x2A, 0x05, 0xF1, 0xFF, // last LBA
            0x00, 0x00, 0x02, 0x00,                         // 512-byte blocks
            0x00,                                           // no protection
            0x03,                                           // 8 logical per physical
            0xC0, 0x07,                                     // LBPME, LBPRZ, lowest aligned 7
        ]);
        data
    }

    #[test]
    fn read_capacity16_data() {
        let parsed = ReadCapacity16::parse(&rc16_thin_4k_physical()).unwrap();
        assert_eq!(
            parsed,
            ReadCapacity16 {
                returned_lba: 0x1_2A05_F1FF,
                block_length: 512,
                p_type: 0,
                protection_enabled: false,
                p_i_exponent: 0,
                logical_per_physical_exponent: 3,
                lbpme: true,
                lbprz: true,
                lowest_aligned_lba: 7,
            }
        );
        assert_eq!(parsed.block_count(), 0x1_2A05_F200);
        assert!(!parsed.protection_enabled);
        assert_eq!(parsed.physical_block_size(), Some(4096));
    }

    #[test]
    fn read_capacity16_protection_fields() {
        let mut data = rc16_thin_4k_physical();
        data[12] = 0x03; // P_TYPE 1 (type 2), PROT_EN
        data[13] = 0x20; // P_I_EXPONENT 2, one logical per physical
        data[14] = 0x3F; // no LBPME/LBPRZ, lowest aligned high bits all set
        data[15] = 0xFF;
        let parsed = ReadCapacity16::parse(&data).unwrap();
        assert!(parsed.protection_enabled);
        assert_eq!(parsed.p_type, 1);
        assert_eq!(parsed.p_i_exponent, 2);
        assert_eq!(parsed.physical_block_size(), Some(512));
        assert!(!parsed.lbpme && !parsed.lbprz);
        assert_eq!(parsed.lowest_aligned_lba, 0x3FFF);
        data[13] = 0x0F;
        data[8..12].copy_from_slice(&0x0010_0000u32.to_be_bytes());
        assert_eq!(
            ReadCapacity16::parse(&data).unwrap().physical_block_size(),
            None
        );
    }

    #[test]
    fn read_capacity16_errors() {
        let data = rc16_thin_4k_physical();
        assert!(matches!(
            ReadCapacity16::parse(&data[..12]),
            Err(ParseError::Truncated {
                needed: 16,
                got: 12,
                ..
            })
        ));
        let mut max = data;
        max[..8].copy_from_slice(&[0xFF; 8]);
        assert!(matches!(
            ReadCapacity16::parse(&max),
            Err(ParseError::InvalidField {
                field: "RETURNED LOGICAL BLOCK ADDRESS",
                ..
            })
        ));
        let mut zero_block = data;
        zero_block[8..12].copy_from_slice(&[0; 4]);
        assert!(matches!(
            ReadCapacity16::parse(&zero_block),
            Err(ParseError::InvalidField {
                field: "LOGICAL BLOCK LENGTH IN BYTES",
                ..
            })
        ));
    }
}
