use super::*;

#[test]
fn wire_luns() {
    assert_eq!(wire_lun(0).unwrap(), 0);
    assert_eq!(wire_lun(1).unwrap(), 0x0001_0000_0000_0000);
    assert_eq!(wire_lun(300).unwrap(), 0x412c_0000_0000_0000);
    assert!(wire_lun(16384).is_err());
    assert!(wire_lun(u64::MAX).is_err());
}
