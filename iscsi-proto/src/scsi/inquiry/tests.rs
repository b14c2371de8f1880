use super::*;
use crate::scsi::DataDirection;

/// Standard INQUIRY data as tgtd returns it for a backing-store disk.
pub(crate) fn tgtd_inquiry() -> Vec<u8> {
    let mut data = vec![0u8; 66];
    data[0] = 0x00; // qualifier 0, direct access
    data[2] = 0x05; // SPC-3
    data[3] = 0x12; // HISUP, response data format 2
    data[4] = 61; // additional length: 66 bytes in all
    data[5] = 0x00;
    data[7] = 0x02; // CMDQUE
    data[8..16].copy_from_slice(b"IET     ");
    data[16..32].copy_from_slice(b"VIRTUAL-DISK    ");
    data[32..36].copy_from_slice(b"0001");
    data
}

#[test]
fn standard_inquiry_cdb() {
    let request = inquiry(96);
    assert_eq!(
        request.cdb.as_bytes(),
        &[0x12, 0x00, 0x00, 0x00, 0x60, 0x00]
    );
    assert_eq!(request.direction, DataDirection::Read);
    assert_eq!(request.transfer_len, 96);
}

#[test]
fn vpd_inquiry_cdb() {
    let request = inquiry_vpd(0xB0, 0x0140);
    assert_eq!(
        request.cdb.as_bytes(),
        &[0x12, 0x01, 0xB0, 0x01, 0x40, 0x00]
    );
    assert_eq!(request.transfer_len, 0x140);
}

#[test]
fn parses_tgtd_inquiry() {
    let parsed = StandardInquiry::parse(&tgtd_inquiry()).unwrap();
    assert_eq!(
        parsed,
        StandardInquiry {
            peripheral_qualifier: 0,
            peripheral_device_type: 0,
            removable: false,
            version: 5,
            response_data_format: 2,
            protect: false,
            command_queuing: true,
            vendor: "IET".into(),
            product: "VIRTUAL-DISK".into(),
            revision: "0001".into(),
        }
    );
    assert_eq!(
        (parsed.peripheral_qualifier, parsed.peripheral_device_type),
        (0, 0)
    );
}

#[test]
fn allocation_length_cut_at_36_bytes_is_fine() {
    let data = tgtd_inquiry();
    let parsed = StandardInquiry::parse(&data[..36]).unwrap();
    assert_eq!(parsed.revision, "0001");
}

#[test]
fn qualifier_type_removable_and_protect_bits() {
    let mut data = tgtd_inquiry();
    data[0] = 0x7F; // qualifier 3, type 0x1F: no LUN here
    data[1] = 0x80;
    data[5] = 0x01;
    data[7] = 0x00;
    let parsed = StandardInquiry::parse(&data).unwrap();
    assert_eq!(
        (parsed.peripheral_qualifier, parsed.peripheral_device_type),
        (3, 0x1F)
    );
    assert!(parsed.removable && parsed.protect && !parsed.command_queuing);
}

#[test]
fn short_data_is_truncated() {
    let data = tgtd_inquiry();
    assert_eq!(
        StandardInquiry::parse(&data[..35]),
        Err(ParseError::Truncated {
            what: "standard INQUIRY data",
            field: "PRODUCT REVISION LEVEL",
            needed: 36,
            got: 35
        })
    );
    assert!(matches!(
        StandardInquiry::parse(&data[..4]),
        Err(ParseError::Truncated {
            field: "ADDITIONAL LENGTH",
            ..
        })
    ));
}

#[test]
fn declared_length_below_36_is_truncated() {
    let mut data = tgtd_inquiry();
    data[4] = 20;
    assert!(matches!(
        StandardInquiry::parse(&data),
        Err(ParseError::Truncated {
            field: "PRODUCT IDENTIFICATION",
            needed: 32,
            got: 25,
            ..
        })
    ));
}
