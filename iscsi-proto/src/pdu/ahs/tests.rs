use super::*;

#[test]
fn extended_cdb_bytes() {
    // A 32-byte CDB carries 16 bytes in the AHS: AHSLength = 17 (reserved byte + 16).
    let ext: Vec<u8> = (16u8..32).collect();
    let area = encode_all(&[Ahs::ExtendedCdb(ext.clone())]).unwrap();
    assert_eq!(&area[..4], &[0x00, 0x11, 0x01, 0x00]);
    assert_eq!(&area[4..20], ext.as_slice());
    assert_eq!(area.len(), 20);
    assert_eq!(Ahs::decode_all(&area).unwrap(), vec![Ahs::ExtendedCdb(ext)]);
}

#[test]
fn bidi_length_bytes() {
    let area = encode_all(&[Ahs::BidiReadLength(0x0102_0304)]).unwrap();
    assert_eq!(area, vec![0, 5, 2, 0, 1, 2, 3, 4]);
    assert_eq!(
        Ahs::decode_all(&area).unwrap(),
        vec![Ahs::BidiReadLength(0x0102_0304)]
    );
}

#[test]
fn hostile_lengths_are_errors() {
    assert!(Ahs::decode_all(&[0, 0, 1, 0]).is_err());
    assert!(Ahs::decode_all(&[0, 200, 1, 0]).is_err());
    assert!(Ahs::decode_all(&[0, 9, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]).is_err());
    assert!(Ahs::decode_all(&[0, 1, 1]).is_err());
}
