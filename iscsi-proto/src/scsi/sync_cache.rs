//! SYNCHRONIZE CACHE(10)/(16) (SBC-4 5.27, 5.28): the FLUSH of a block device.
//!
//! A block count of 0 means "from `lba` through the last LBA", so `(0, 0)` flushes the whole
//! logical unit — what a ublk FLUSH needs.

use super::cdb::{check_fits, opcode, Cdb, ScsiRequest};
use super::error::BuildError;

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

/// SYNCHRONIZE CACHE(10); `lba` ≤ `u32::MAX` and `blocks` ≤ `u16::MAX`, else
/// [`BuildError::FieldTooLarge`].
pub fn synchronize_cache10(lba: u64, blocks: u32, immed: bool) -> Result<ScsiRequest, BuildError> {
    const COMMAND: &str = "SYNCHRONIZE CACHE(10)";
    check_fits(COMMAND, "LOGICAL BLOCK ADDRESS", lba, u64::from(u32::MAX))?;
    check_fits(
        COMMAND,
        "NUMBER OF LOGICAL BLOCKS",
        u64::from(blocks),
        u64::from(u16::MAX),
    )?;
    let lba = (lba as u32).to_be_bytes();
    let blocks = (blocks as u16).to_be_bytes();
    Ok(ScsiRequest::no_data(Cdb::fixed([
        opcode::SYNCHRONIZE_CACHE_10,
        immed_byte(immed),
        lba[0],
        lba[1],
        lba[2],
        lba[3],
        0, // GROUP NUMBER
        blocks[0],
        blocks[1],
        0, // CONTROL
    ])))
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
mod tests {
    use super::*;
    use crate::scsi::DataDirection;

    #[test]
    fn whole_device_flush_10() {
        let request = synchronize_cache10(0, 0, false).unwrap();
        assert_eq!(request.cdb.as_bytes(), &[0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(request.direction, DataDirection::None);
        assert_eq!(request.transfer_len, 0);
    }

    #[test]
    fn ranged_immediate_flush_10() {
        let request = synchronize_cache10(0xA1B2_C3D4, 0x1234, true).unwrap();
        assert_eq!(
            request.cdb.as_bytes(),
            &[0x35, 0x02, 0xA1, 0xB2, 0xC3, 0xD4, 0, 0x12, 0x34, 0]
        );
    }

    #[test]
    fn ten_byte_form_rejects_large_values() {
        assert!(matches!(
            synchronize_cache10(1 << 32, 0, false),
            Err(BuildError::FieldTooLarge {
                field: "LOGICAL BLOCK ADDRESS",
                ..
            })
        ));
        assert!(matches!(
            synchronize_cache10(0, 0x1_0000, false),
            Err(BuildError::FieldTooLarge {
                field: "NUMBER OF LOGICAL BLOCKS",
                ..
            })
        ));
    }

    #[test]
    fn flush_16_bytes() {
        let request = synchronize_cache16(0x0102_0304_0506_0708, 0x0A0B_0C0D, true);
        assert_eq!(
            request.cdb.as_bytes(),
            &[0x91, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 0x0A, 0x0B, 0x0C, 0x0D, 0, 0]
        );
        assert_eq!(request.direction, DataDirection::None);
    }
}
