use super::*;

/// A page like a modern tgtd or LIO returns: LU NAA-6, LU T10 vendor id, target port SCSI
/// name (iSCSI, PIV), and a relative target port.
#[rustfmt::skip]
fn page_83() -> Vec<u8> {
    let mut body = vec![
        // NAA 6, binary, LU
        0x01, 0x03, 0x00, 0x10,
        0x60, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x01,
        // T10 vendor id, ASCII, LU
        0x02, 0x01, 0x00, 0x12,
    ];
    body.extend_from_slice(b"IET     beaf11    ");
    body.extend_from_slice(&[
        // SCSI name string, UTF-8, target port, PIV, protocol 5 (iSCSI)
        0x53, 0x98, 0x00, 0x1C,
    ]);
    body.extend_from_slice(b"iqn.2001-04.com.example:t,t\0");
    body.extend_from_slice(&[
        // relative target port 1, binary, target port
        0x51, 0x94, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
    ]);
    let mut page = vec![0x00, 0x83];
    page.extend_from_slice(&(body.len() as u16).to_be_bytes());
    page.extend_from_slice(&body);
    page
}

#[test]
fn parses_all_descriptors() {
    let parsed = DeviceIdentification::parse(&page_83()).unwrap();
    assert_eq!(parsed.descriptors.len(), 4);
    let naa = &parsed.descriptors[0];
    assert_eq!(naa.code_set, CodeSet::Binary);
    assert_eq!(naa.association, Association::LogicalUnit);
    assert_eq!(naa.protocol_identifier, None);
    assert_eq!(
        naa.designator.to_string(),
        "naa.6001405abcdef0123456789abcdef001"
    );

    let t10 = &parsed.descriptors[1];
    assert_eq!(t10.code_set, CodeSet::Ascii);
    assert_eq!(
        t10.designator,
        Designator::T10VendorId {
            vendor: "IET".into(),
            specific: b"beaf11    ".to_vec()
        }
    );
    assert_eq!(t10.designator.to_string(), "t10.IET beaf11");

    let name = &parsed.descriptors[2];
    assert_eq!(name.code_set, CodeSet::Utf8);
    assert_eq!(name.association, Association::TargetPort);
    assert_eq!(name.protocol_identifier, Some(5));
    assert_eq!(
        name.designator,
        Designator::ScsiNameString("iqn.2001-04.com.example:t,t".into())
    );

    let port = &parsed.descriptors[3];
    assert_eq!(
        port.designator,
        Designator::Other {
            designator_type: 4,
            bytes: vec![0, 0, 0, 1]
        }
    );
    assert_eq!(port.designator.to_string(), "type4.00000001");

    assert_eq!(parsed.logical_unit_id(), Some(&naa.designator));
}

#[test]
fn eui64_designator_and_preference() {
    let page = [
        0x00, 0x83, 0x00, 0x18, //
        0x02, 0x01, 0x00, 0x08, b'L', b'I', b'O', b' ', b' ', b' ', b' ', b' ', //
        0x01, 0x02, 0x00, 0x08, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    ];
    let parsed = DeviceIdentification::parse(&page).unwrap();
    assert_eq!(
        parsed.descriptors[0].designator,
        Designator::T10VendorId {
            vendor: "LIO".into(),
            specific: vec![]
        }
    );
    let eui = Designator::Eui64(vec![0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]);
    assert_eq!(parsed.logical_unit_id(), Some(&eui));
    assert_eq!(eui.to_string(), "eui.0011223344556677");
}

#[test]
fn descriptor_overrunning_the_page_is_truncated() {
    let mut page = page_83();
    page[3] -= 1; // page ends one byte inside the last descriptor
    page.pop();
    assert!(matches!(
        DeviceIdentification::parse(&page),
        Err(ParseError::Truncated {
            field: "DESIGNATOR",
            ..
        })
    ));
    let whole = page_83();
    assert!(matches!(
        DeviceIdentification::parse(&whole[..whole.len() - 1]),
        Err(ParseError::Truncated {
            field: "PAGE LENGTH",
            ..
        })
    ));
}

#[test]
fn impossible_designator_lengths_are_invalid() {
    let naa5_short = [
        0x00, 0x83, 0x00, 0x08, 0x01, 0x03, 0x00, 0x04, 0x50, 0, 0, 0,
    ];
    assert!(matches!(
        DeviceIdentification::parse(&naa5_short),
        Err(ParseError::InvalidField {
            field: "DESIGNATOR LENGTH",
            value: 4,
            ..
        })
    ));
    let eui_short = [0x00, 0x83, 0x00, 0x08, 0x01, 0x02, 0x00, 0x04, 1, 2, 3, 4];
    assert!(matches!(
        DeviceIdentification::parse(&eui_short),
        Err(ParseError::InvalidField { .. })
    ));
    let t10_short = [
        0x00, 0x83, 0x00, 0x08, 0x02, 0x01, 0x00, 0x04, b'A', b'B', b'C', b'D',
    ];
    assert!(matches!(
        DeviceIdentification::parse(&t10_short),
        Err(ParseError::InvalidField { .. })
    ));
    let empty_naa = [0x00, 0x83, 0x00, 0x04, 0x01, 0x03, 0x00, 0x00];
    assert!(matches!(
        DeviceIdentification::parse(&empty_naa),
        Err(ParseError::InvalidField { value: 0, .. })
    ));
    let bad_utf8 = [
        0x00, 0x83, 0x00, 0x08, 0x03, 0x08, 0x00, 0x04, b'i', 0xFF, 0, 0,
    ];
    assert!(matches!(
        DeviceIdentification::parse(&bad_utf8),
        Err(ParseError::InvalidField {
            field: "SCSI NAME STRING",
            value: 1,
            ..
        })
    ));
}

#[test]
fn empty_page_has_no_id() {
    let parsed = DeviceIdentification::parse(&[0x00, 0x83, 0x00, 0x00]).unwrap();
    assert!(parsed.descriptors.is_empty());
    assert_eq!(parsed.logical_unit_id(), None);
}
