use super::*;
use crate::scsi::DataDirection;

#[test]
fn test_unit_ready_cdb() {
    let request = test_unit_ready();
    assert_eq!(request.cdb.as_bytes(), &[0u8; 6]);
    assert_eq!(request.direction, DataDirection::None);
    assert_eq!(request.transfer_len, 0);
}
