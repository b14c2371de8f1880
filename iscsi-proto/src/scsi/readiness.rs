//! TEST UNIT READY (SPC-5 6.37) and REQUEST SENSE (SPC-5 6.39): the commands used while
//! bringing a LUN up and after a unit attention.

use super::cdb::{opcode, Cdb, ScsiRequest};

/// DESC bit of REQUEST SENSE: ask for descriptor-format sense data.
const DESC_BIT: u8 = 1 << 0;

/// Allocation length that holds fixed-format sense data with every common field (SPC-5 allows
/// up to 252).
pub const REQUEST_SENSE_DEFAULT_ALLOCATION: u8 = 252;

/// TEST UNIT READY: no data; GOOD when the LU can accept media-access commands, otherwise
/// CHECK CONDITION with the reason in the sense data.
pub fn test_unit_ready() -> ScsiRequest {
    ScsiRequest::no_data(Cdb::fixed([opcode::TEST_UNIT_READY, 0, 0, 0, 0, 0]))
}

/// REQUEST SENSE with `allocation_len` bytes; `descriptor_format` asks for 0x72/0x73 sense
/// data (targets that do not support it return fixed format, which the parser also handles).
pub fn request_sense(allocation_len: u8, descriptor_format: bool) -> ScsiRequest {
    let cdb = Cdb::fixed([
        opcode::REQUEST_SENSE,
        if descriptor_format { DESC_BIT } else { 0 },
        0,
        0,
        allocation_len,
        0, // CONTROL
    ]);
    ScsiRequest::read(cdb, u32::from(allocation_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scsi::DataDirection;

    #[test]
    fn test_unit_ready_cdb() {
        let request = test_unit_ready();
        assert_eq!(request.cdb.as_bytes(), &[0u8; 6]);
        assert_eq!(request.direction, DataDirection::None);
        assert_eq!(request.transfer_len, 0);
    }

    #[test]
    fn request_sense_cdbs() {
        let fixed = request_sense(REQUEST_SENSE_DEFAULT_ALLOCATION, false);
        assert_eq!(fixed.cdb.as_bytes(), &[0x03, 0x00, 0x00, 0x00, 0xFC, 0x00]);
        assert_eq!(fixed.direction, DataDirection::Read);
        assert_eq!(fixed.transfer_len, 252);
        let descriptor = request_sense(18, true);
        assert_eq!(
            descriptor.cdb.as_bytes(),
            &[0x03, 0x01, 0x00, 0x00, 0x12, 0x00]
        );
        assert_eq!(descriptor.transfer_len, 18);
    }
}
