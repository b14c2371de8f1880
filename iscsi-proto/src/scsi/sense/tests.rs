use super::*;

/// Fixed-format current sense, 18 bytes, as tgtd and LIO send it.
pub(crate) fn fixed(key: u8, asc: u8, ascq: u8) -> Vec<u8> {
    let mut data = vec![0u8; 18];
    data[0] = 0x70;
    data[2] = key;
    data[7] = 0x0A;
    data[12] = asc;
    data[13] = ascq;
    data
}

/// Descriptor-format current sense with no descriptors.
pub(crate) fn descriptor(key: u8, asc: u8, ascq: u8) -> Vec<u8> {
    vec![0x72, key, asc, ascq, 0, 0, 0, 0]
}

#[test]
fn fixed_medium_error_with_information() {
    let mut data = fixed(0x03, 0x11, 0x00);
    data[0] = 0xF0; // VALID
    data[3..7].copy_from_slice(&0x0012_3456u32.to_be_bytes());
    let sense = Sense::parse(&data).unwrap();
    assert_eq!(
        sense,
        Sense {
            format: SenseFormat::Fixed,
            deferred: false,
            key: SenseKey::MediumError,
            asc: 0x11,
            ascq: 0x00,
            information: Some(0x12_3456),
        }
    );
    assert_eq!(
        sense.to_string(),
        "MEDIUM ERROR: unrecovered read error (11/00)"
    );
}

#[test]
fn fixed_information_without_valid_is_none() {
    let mut data = fixed(0x05, 0x24, 0x00);
    data[3..7].copy_from_slice(&[1, 2, 3, 4]);
    let sense = Sense::parse(&data).unwrap();
    assert_eq!(sense.information, None);
    assert_eq!(
        sense.to_string(),
        "ILLEGAL REQUEST: invalid field in CDB (24/00)"
    );
}

#[test]
fn fixed_deferred_and_flag_bits_ignored_in_key() {
    let mut data = fixed(0xE4, 0x44, 0x00); // FILEMARK, EOM, ILI set around HARDWARE ERROR
    data[0] = 0x71;
    let sense = Sense::parse(&data).unwrap();
    assert!(sense.deferred);
    assert_eq!(sense.key, SenseKey::HardwareError);
    assert_eq!(
        sense.to_string(),
        "HARDWARE ERROR: internal target failure (44/00) [deferred]"
    );
}

#[test]
fn fixed_short_additional_length_has_no_asc() {
    let data = [0x70, 0, 0x06, 0, 0, 0, 0, 0x00];
    let sense = Sense::parse(&data).unwrap();
    assert_eq!(
        (sense.key, sense.asc, sense.ascq),
        (SenseKey::UnitAttention, 0, 0)
    );
}

#[test]
fn fixed_truncated() {
    let data = fixed(0x06, 0x29, 0x00);
    assert_eq!(
        Sense::parse(&data[..13]),
        Err(ParseError::Truncated {
            what: "sense data",
            field: "ADDITIONAL SENSE CODE QUALIFIER",
            needed: 14,
            got: 13
        })
    );
    assert!(matches!(
        Sense::parse(&data[..7]),
        Err(ParseError::Truncated {
            field: "ADDITIONAL SENSE LENGTH",
            ..
        })
    ));
    assert!(matches!(
        Sense::parse(&[]),
        Err(ParseError::Truncated {
            field: "RESPONSE CODE",
            ..
        })
    ));
}

#[test]
fn descriptor_format_with_information() {
    #[rustfmt::skip]
    let data = [
        0x72, 0x03, 0x11, 0x00, 0, 0, 0, 0x18,
        // vendor-specific descriptor 0x80 with 2 bytes, skipped
        0x80, 0x02, 0xAA, 0xBB,
        // Information descriptor: VALID, 64-bit LBA
        0x00, 0x0A, 0x80, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89,
    ];
    let sense = Sense::parse(&data[..20 + 4]).unwrap_err();
    assert!(matches!(sense, ParseError::Truncated { needed: 32, .. }));
    let mut full = data.to_vec();
    full[7] = 0x10;
    let sense = Sense::parse(&full).unwrap();
    assert_eq!(
        sense,
        Sense {
            format: SenseFormat::Descriptor,
            deferred: false,
            key: SenseKey::MediumError,
            asc: 0x11,
            ascq: 0x00,
            information: Some(0x1_2345_6789),
        }
    );
}

#[test]
fn descriptor_format_deferred_without_descriptors() {
    let mut data = descriptor(0x06, 0x2A, 0x09);
    data[0] = 0x73;
    let sense = Sense::parse(&data).unwrap();
    assert!(sense.deferred);
    assert_eq!(sense.information, None);
    assert_eq!(
        sense.to_string(),
        "UNIT ATTENTION: capacity data has changed (2A/09) [deferred]"
    );
}

#[test]
fn descriptor_format_errors() {
    assert!(matches!(
        Sense::parse(&[0x72, 0x06, 0x29]),
        Err(ParseError::Truncated {
            field: "ADDITIONAL SENSE CODE QUALIFIER",
            ..
        })
    ));
    // Declared descriptor runs past the sense data.
    let overrun = [
        0x72, 0x03, 0x11, 0x00, 0, 0, 0, 0x04, 0x00, 0x0A, 0x80, 0x00,
    ];
    assert!(matches!(
        Sense::parse(&overrun),
        Err(ParseError::Truncated {
            field: "sense data descriptor",
            ..
        })
    ));
    // Information descriptor of the wrong length.
    let wrong = [
        0x72, 0x03, 0x11, 0x00, 0, 0, 0, 0x04, 0x00, 0x02, 0x80, 0x00,
    ];
    assert!(matches!(
        Sense::parse(&wrong),
        Err(ParseError::InvalidField {
            field: "Information descriptor ADDITIONAL LENGTH",
            value: 2,
            ..
        })
    ));
    // Information descriptor without VALID.
    let mut not_valid = vec![
        0x72, 0x03, 0x11, 0x00, 0, 0, 0, 0x0C, 0x00, 0x0A, 0x00, 0x00,
    ];
    not_valid.extend_from_slice(&[0xFF; 8]);
    assert_eq!(Sense::parse(&not_valid).unwrap().information, None);
}

#[test]
fn unknown_response_codes() {
    assert!(matches!(
        Sense::parse(&[0x7F, 0, 0, 0, 0, 0, 0, 0]),
        Err(ParseError::InvalidField {
            field: "RESPONSE CODE",
            value: 0x7F,
            ..
        })
    ));
    assert!(matches!(
        Sense::parse(&[0x00]),
        Err(ParseError::InvalidField { value: 0, .. })
    ));
}

#[test]
fn unknown_pair_display() {
    let sense = Sense::parse(&fixed(0x0B, 0x80, 0x01)).unwrap();
    assert_eq!(sense.description(), None);
    assert_eq!(
        sense.to_string(),
        "ABORTED COMMAND: additional sense (80/01)"
    );
}

#[test]
fn every_sense_key_has_its_name() {
    let names = [
        "NO SENSE",
        "RECOVERED ERROR",
        "NOT READY",
        "MEDIUM ERROR",
        "HARDWARE ERROR",
        "ILLEGAL REQUEST",
        "UNIT ATTENTION",
        "DATA PROTECT",
        "BLANK CHECK",
        "VENDOR SPECIFIC",
        "COPY ABORTED",
        "ABORTED COMMAND",
        "RESERVED",
        "VOLUME OVERFLOW",
        "MISCOMPARE",
        "COMPLETED",
    ];
    for (raw, name) in names.iter().enumerate() {
        assert_eq!(SenseKey::from_nibble(raw as u8).to_string(), *name);
        assert_eq!(SenseKey::from_nibble(0xF0 | raw as u8).name(), *name);
    }
}
