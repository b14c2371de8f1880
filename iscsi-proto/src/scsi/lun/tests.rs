use super::*;

#[test]
fn peripheral_encoding_below_256() {
    assert_eq!(Lun::new(0).unwrap().encode(), EncodedLun([0; 8]));
    assert_eq!(
        Lun::new(5).unwrap().encode(),
        EncodedLun([0x00, 0x05, 0, 0, 0, 0, 0, 0])
    );
    assert_eq!(
        Lun::new(255).unwrap().encode(),
        EncodedLun([0x00, 0xFF, 0, 0, 0, 0, 0, 0])
    );
}

#[test]
fn flat_space_encoding_from_256() {
    assert_eq!(
        Lun::new(256).unwrap().encode(),
        EncodedLun([0x41, 0x00, 0, 0, 0, 0, 0, 0])
    );
    assert_eq!(
        Lun::new(0x3FFF).unwrap().encode(),
        EncodedLun([0x7F, 0xFF, 0, 0, 0, 0, 0, 0])
    );
}

#[test]
fn too_large() {
    assert_eq!(Lun::new(16384), Err(LunError::TooLarge(16384)));
    assert_eq!(Lun::new(0x1_0005), Err(LunError::TooLarge(0x1_0005)));
}
