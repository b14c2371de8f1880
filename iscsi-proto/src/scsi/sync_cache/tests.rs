use super::*;
use crate::scsi::DataDirection;

#[test]
fn whole_device_flush() {
    let request = synchronize_cache16(0, 0, false);
    assert_eq!(
        request.cdb.as_bytes(),
        &[0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(request.direction, DataDirection::None);
    assert_eq!(request.transfer_len, 0);
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
