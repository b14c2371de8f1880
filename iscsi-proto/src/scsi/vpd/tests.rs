use super::*;

#[test]
fn supported_pages() {
    let data = [
        0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2, 0xEE,
    ];
    let parsed = SupportedVpdPages::parse(&data).unwrap();
    assert_eq!(parsed.pages, vec![0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2]);
    assert!(
        !parsed.pages.contains(&0xEE),
        "bytes past PAGE LENGTH are ignored"
    );
}

#[test]
fn supported_pages_truncated_reports_full_length() {
    let data = [0x00, 0x00, 0x00, 0x06, 0x00, 0x80];
    assert_eq!(
        SupportedVpdPages::parse(&data),
        Err(ParseError::Truncated {
            what: "Supported VPD Pages",
            field: "PAGE LENGTH",
            needed: 10,
            got: 6
        })
    );
}

#[test]
fn wrong_page_code() {
    let data = [0x00, 0x80, 0x00, 0x00];
    assert_eq!(
        SupportedVpdPages::parse(&data),
        Err(ParseError::WrongVpdPage {
            expected: 0x00,
            got: 0x80
        })
    );
    assert!(matches!(
        SupportedVpdPages::parse(&[0x00, 0x00, 0x00]),
        Err(ParseError::Truncated {
            field: "PAGE LENGTH",
            needed: 4,
            got: 3,
            ..
        })
    ));
    assert!(matches!(
        SupportedVpdPages::parse(&[0x00]),
        Err(ParseError::Truncated {
            field: "PAGE CODE",
            ..
        })
    ));
}

#[test]
fn unit_serial_number_trimmed() {
    let mut data = vec![0x00, 0x80, 0x00, 0x10];
    data.extend_from_slice(b"    beaf11\0\0\0\0\0\0");
    assert_eq!(UnitSerialNumber::parse(&data).unwrap().serial, "beaf11");
}

#[rustfmt::skip]
fn block_limits_page() -> Vec<u8> {
    vec![
        0x00, 0xB0, 0x00, 0x3C,
        0x01, 0x01, 0x00, 0x08,     // WSNZ, compare-and-write 1, granularity 8
        0x00, 0x00, 0x40, 0x00,     // max transfer 16384
        0x00, 0x00, 0x04, 0x00,     // optimal transfer 1024
        0x00, 0x00, 0x00, 0x00,     // max prefetch
        0x00, 0x40, 0x00, 0x00,     // max unmap LBA count 0x400000
        0x00, 0x00, 0x00, 0x10,     // max unmap descriptors 16
        0x00, 0x00, 0x00, 0x08,     // optimal unmap granularity 8
        0x80, 0x00, 0x00, 0x02,     // UGAVALID, alignment 2
        0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, // max write same 0x400000
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]
}

#[test]
fn block_limits_full_page() {
    let data = block_limits_page();
    assert_eq!(data.len(), 64);
    let parsed = BlockLimits::parse(&data).unwrap();
    assert_eq!(
        parsed,
        BlockLimits {
            write_same_non_zero: true,
            max_compare_and_write_len: 1,
            optimal_transfer_len_granularity: 8,
            max_transfer_len: 16384,
            optimal_transfer_len: 1024,
            max_prefetch_len: 0,
            max_unmap_lba_count: 0x40_0000,
            max_unmap_block_descriptor_count: 16,
            optimal_unmap_granularity: 8,
            unmap_granularity_alignment: Some(2),
            max_write_same_len: 0x40_0000,
        }
    );
    assert!(parsed.supports_unmap());
}

#[test]
fn block_limits_without_ugavalid_has_no_alignment() {
    let mut data = block_limits_page();
    data[32] = 0x00;
    assert_eq!(
        BlockLimits::parse(&data)
            .unwrap()
            .unmap_granularity_alignment,
        None
    );
}

#[test]
fn block_limits_sbc2_short_page() {
    let mut data = block_limits_page();
    data.truncate(16);
    data[3] = 0x0C;
    let parsed = BlockLimits::parse(&data).unwrap();
    assert_eq!(parsed.max_transfer_len, 16384);
    assert_eq!(parsed.max_unmap_lba_count, 0);
    assert_eq!(parsed.max_write_same_len, 0);
    assert!(!parsed.supports_unmap());
}

#[test]
fn block_limits_truncated_buffer() {
    let data = block_limits_page();
    assert!(matches!(
        BlockLimits::parse(&data[..40]),
        Err(ParseError::Truncated {
            needed: 64,
            got: 40,
            ..
        })
    ));
    let mut too_short_page = data[..12].to_vec();
    too_short_page[3] = 0x08;
    assert!(matches!(
        BlockLimits::parse(&too_short_page),
        Err(ParseError::Truncated {
            field: "OPTIMAL TRANSFER LENGTH",
            needed: 16,
            got: 12,
            ..
        })
    ));
}

fn characteristics_page(rate: u16) -> Vec<u8> {
    let mut data = vec![0u8; 64];
    data[1] = 0xB1;
    data[3] = 0x3C;
    data[4..6].copy_from_slice(&rate.to_be_bytes());
    data[7] = 0x03; // 2.5 inch
    data
}

#[test]
fn block_device_characteristics() {
    let solid = BlockDeviceCharacteristics::parse(&characteristics_page(1)).unwrap();
    assert_eq!(
        solid,
        BlockDeviceCharacteristics {
            medium_rotation_rate: MediumRotationRate::NonRotating,
            product_type: 0,
            nominal_form_factor: 3,
        }
    );
    assert!(solid.is_non_rotating());
    let disk = BlockDeviceCharacteristics::parse(&characteristics_page(7200)).unwrap();
    assert_eq!(disk.medium_rotation_rate, MediumRotationRate::Rpm(7200));
    assert!(!disk.is_non_rotating());
    let unknown = BlockDeviceCharacteristics::parse(&characteristics_page(0)).unwrap();
    assert_eq!(
        unknown.medium_rotation_rate,
        MediumRotationRate::NotReported
    );
    assert_eq!(MediumRotationRate::from(2), MediumRotationRate::Reserved(2));
    assert_eq!(
        MediumRotationRate::from(0xFFFF),
        MediumRotationRate::Reserved(0xFFFF)
    );
}

#[test]
fn block_device_characteristics_truncated() {
    let data = characteristics_page(1);
    assert!(matches!(
        BlockDeviceCharacteristics::parse(&data[..6]),
        Err(ParseError::Truncated { needed: 64, .. })
    ));
}

#[test]
fn logical_block_provisioning_thin_with_zeroing() {
    let data = [0x00, 0xB2, 0x00, 0x04, 0x00, 0xE4, 0x02, 0x00];
    let parsed = LogicalBlockProvisioning::parse(&data).unwrap();
    assert_eq!(
        parsed,
        LogicalBlockProvisioning {
            threshold_exponent: 0,
            lbpu: true,
            lbpws: true,
            lbpws10: true,
            lbprz: 1,
            anchor_supported: false,
            provisioning_type: ProvisioningType::Thin,
        }
    );
    assert_eq!(parsed.lbprz, 1);
}

#[test]
fn logical_block_provisioning_bits_individually() {
    let parse = |flags: u8, kind: u8| {
        LogicalBlockProvisioning::parse(&[0, 0xB2, 0, 4, 9, flags, kind, 0]).unwrap()
    };
    let only_ws = parse(0x40, 0x01);
    assert!(!only_ws.lbpu && only_ws.lbpws && !only_ws.lbpws10 && only_ws.lbprz != 1);
    assert_eq!(only_ws.provisioning_type, ProvisioningType::Resource);
    assert_eq!(only_ws.threshold_exponent, 9);
    let pattern = parse(0x0A, 0x00);
    assert_eq!(pattern.lbprz, 2);
    assert!(pattern.anchor_supported);
    assert_eq!(pattern.provisioning_type, ProvisioningType::Full);
    assert_eq!(
        parse(0, 0x05).provisioning_type,
        ProvisioningType::Reserved(5)
    );
}

#[test]
fn logical_block_provisioning_short_page() {
    let data = [0x00, 0xB2, 0x00, 0x02, 0x00, 0xE4];
    assert!(matches!(
        LogicalBlockProvisioning::parse(&data),
        Err(ParseError::Truncated {
            field: "PROVISIONING TYPE",
            needed: 7,
            got: 6,
            ..
        })
    ));
}
