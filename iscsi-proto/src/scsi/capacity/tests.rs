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
    let parsed = ReadCapacity10::parse(&[0x00, 0x1F, 0xFF, 0xFF, 0x00, 0x00, 0x02, 0x00]).unwrap();
    assert_eq!(
        parsed,
        ReadCapacity10 {
            returned_lba: 0x1F_FFFF,
            block_length: 512
        }
    );
    assert_eq!(parsed.block_count(), 0x20_0000);
    let huge = ReadCapacity10::parse(&[0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x10, 0x00]).unwrap();
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
