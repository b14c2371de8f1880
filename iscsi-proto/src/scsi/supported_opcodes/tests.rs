use super::*;
use crate::scsi::DataDirection;

/// WRITE SAME(16) usage data as a target that evaluates NDOB (byte 1 bit 0) reports it:
/// UNMAP, ANCHOR and NDOB in byte 1, LBA, length, group number, control.
const WRITE_SAME_16_WITH_NDOB: [u8; 20] = [
    0x00, 0x03, 0x00, 0x10, // header: SUPPORT 011b, CDB SIZE 16
    0x93, 0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, //
    0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x07,
];

#[test]
fn builder_asks_for_one_command_without_service_action() {
    let request = report_supported_operation_code(opcode::WRITE_SAME_16, 0x0102_0304).unwrap();
    assert_eq!(
        request.cdb.as_bytes(),
        &[0xA3, 0x0C, 0x01, 0x93, 0, 0, 1, 2, 3, 4, 0, 0]
    );
    assert_eq!(request.direction, DataDirection::Read);
    assert_eq!(request.transfer_len, 0x0102_0304);
    assert!(matches!(
        report_supported_operation_code(0x93, 3),
        Err(BuildError::FieldTooSmall {
            field: "ALLOCATION LENGTH",
            ..
        })
    ));
}

#[test]
fn supported_with_ndob_evaluated() {
    let usage = OneCommandUsage::parse(&WRITE_SAME_16_WITH_NDOB, 0x93).unwrap();
    assert_eq!(usage.support, CommandSupport::Standard);
    assert_eq!(usage.cdb_usage.len(), 16);
    assert!(usage.evaluates(1, 0), "NDOB");
    assert!(usage.evaluates(1, 3), "UNMAP");
    assert!(!usage.evaluates(1, 1), "reserved bit");
    assert!(!usage.evaluates(16, 0), "past the CDB");
    assert!(!usage.evaluates(1, 8), "no such bit");
}

#[test]
fn supported_without_ndob() {
    let mut bytes = WRITE_SAME_16_WITH_NDOB;
    bytes[5] = 0x08; // UNMAP only
    let usage = OneCommandUsage::parse(&bytes, 0x93).unwrap();
    assert!(usage.support.is_supported());
    assert!(!usage.evaluates(1, 0));
    assert!(usage.evaluates(1, 3));
}

#[test]
fn vendor_specific_support_counts_and_flags_above_support_are_ignored() {
    let mut bytes = WRITE_SAME_16_WITH_NDOB;
    bytes[1] = 0x80 | 0b101; // CTDP set, vendor-specific support
    let usage = OneCommandUsage::parse(&bytes, 0x93).unwrap();
    assert_eq!(usage.support, CommandSupport::VendorSpecific);
    assert!(usage.evaluates(1, 0));
}

#[test]
fn not_supported_has_no_usage_and_evaluates_nothing() {
    let usage = OneCommandUsage::parse(&[0, 0b001, 0, 0], 0x93).unwrap();
    assert_eq!(usage.support, CommandSupport::NotSupported);
    assert!(usage.cdb_usage.is_empty());
    assert!(!usage.evaluates(0, 0));
    // A usage mask with SUPPORT "not available" still means: do not use it.
    let mut bytes = WRITE_SAME_16_WITH_NDOB;
    bytes[1] = 0;
    let usage = OneCommandUsage::parse(&bytes, 0x93).unwrap();
    assert_eq!(usage.support, CommandSupport::NotAvailable);
    assert!(!usage.evaluates(1, 0));
    bytes[1] = 0b110;
    assert_eq!(
        OneCommandUsage::parse(&bytes, 0x93).unwrap().support,
        CommandSupport::Reserved(0b110)
    );
}

#[test]
fn lengths_and_opcode_are_validated() {
    assert!(matches!(
        OneCommandUsage::parse(&[0, 3, 0], 0x93),
        Err(ParseError::Truncated {
            field: "CDB SIZE",
            ..
        })
    ));
    // Usage data cut short: the full length is reported as needed.
    assert_eq!(
        OneCommandUsage::parse(&WRITE_SAME_16_WITH_NDOB[..12], 0x93),
        Err(ParseError::Truncated {
            what: "REPORT SUPPORTED OPERATION CODES data",
            field: "CDB USAGE DATA",
            needed: 20,
            got: 12,
        })
    );
    // A 16-byte opcode reported with a 10-byte CDB.
    let mut ten = WRITE_SAME_16_WITH_NDOB[..14].to_vec();
    ten[3] = 10;
    assert!(matches!(
        OneCommandUsage::parse(&ten, 0x93),
        Err(ParseError::InvalidField {
            field: "CDB SIZE",
            value: 10,
            ..
        })
    ));
    // The usage data describes another command.
    assert!(matches!(
        OneCommandUsage::parse(&WRITE_SAME_16_WITH_NDOB, 0x8A),
        Err(ParseError::InvalidField {
            field: "CDB USAGE DATA operation code",
            value: 0x93,
            ..
        })
    ));
    // Trailing bytes past CDB SIZE (a command timeouts descriptor) are not usage data.
    let mut with_timeouts = WRITE_SAME_16_WITH_NDOB.to_vec();
    with_timeouts.extend_from_slice(&[0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let usage = OneCommandUsage::parse(&with_timeouts, 0x93).unwrap();
    assert_eq!(usage.cdb_usage.len(), 16);
}

#[test]
fn group_lengths() {
    assert_eq!(cdb_len_of_group(0x12), Some(6));
    assert_eq!(cdb_len_of_group(0x28), Some(10));
    assert_eq!(cdb_len_of_group(0x5A), Some(10));
    assert_eq!(cdb_len_of_group(0x93), Some(16));
    assert_eq!(cdb_len_of_group(0xA3), Some(12));
    assert_eq!(cdb_len_of_group(0x7F), None);
    assert_eq!(cdb_len_of_group(0xC0), None);
}
