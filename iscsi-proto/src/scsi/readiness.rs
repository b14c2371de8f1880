//! TEST UNIT READY (SPC-5 6.37): the command used while bringing a LUN up.

use super::cdb::{opcode, Cdb, ScsiRequest};

/// TEST UNIT READY: no data; GOOD when the LU can accept media-access commands, otherwise
/// CHECK CONDITION with the reason in the sense data.
pub fn test_unit_ready() -> ScsiRequest {
    ScsiRequest::no_data(Cdb::fixed([opcode::TEST_UNIT_READY, 0, 0, 0, 0, 0]))
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
}
