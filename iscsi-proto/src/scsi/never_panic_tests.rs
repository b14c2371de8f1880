//! Every response parser, fed arbitrary bytes, returns a value or a typed error — never panics.
//! Inputs are biased towards valid headers so the parsers get past their first checks.

use proptest::prelude::*;

use super::vpd::page as vpd_page;
use super::*;

fn arbitrary_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..300)
}

/// Arbitrary bytes whose second byte is `page_code`, so VPD parsers reach their page bodies.
fn vpd_like(page_code: u8) -> impl Strategy<Value = Vec<u8>> {
    (arbitrary_bytes(), any::<u8>()).prop_map(move |(mut bytes, length_low)| {
        if bytes.len() >= 4 {
            bytes[1] = page_code;
            bytes[2] = 0;
            // A page length that fits the buffer, so the page body gets parsed.
            let room = u8::try_from(bytes.len() - 4).unwrap_or(u8::MAX);
            bytes[3] = length_low % room.saturating_add(1);
        }
        bytes
    })
}

/// Arbitrary bytes starting with a valid sense response code.
fn sense_like() -> impl Strategy<Value = Vec<u8>> {
    (arbitrary_bytes(), 0x70u8..=0x73, any::<bool>()).prop_map(|(mut bytes, code, valid)| {
        if let Some(first) = bytes.first_mut() {
            *first = code | if valid { 0x80 } else { 0 };
        }
        bytes
    })
}

proptest! {
    #[test]
    fn fixed_layout_parsers(bytes in arbitrary_bytes()) {
        let _ = StandardInquiry::parse(&bytes);
        let _ = ReadCapacity10::parse(&bytes);
        let _ = ReadCapacity16::parse(&bytes);
        let _ = ModeParameters::parse(&bytes).map(|parameters| parameters.caching());
        let _ = Sense::parse(&bytes).map(|sense| (sense.action(), sense.block_error(), sense.to_string()));
        let _ = OneCommandUsage::parse(&bytes, 0x93).map(|usage| usage.evaluates(1, 0));
    }

    #[test]
    fn supported_opcode_data_with_consistent_size(
        mut bytes in proptest::collection::vec(any::<u8>(), 4..300),
        requested in any::<u8>(),
    ) {
        let size = (bytes.len() - 4) as u16;
        bytes[2..4].copy_from_slice(&size.to_be_bytes());
        if let Ok(usage) = OneCommandUsage::parse(&bytes, requested) {
            for byte in 0..usage.cdb_usage.len() + 1 {
                let _ = usage.evaluates(byte, 0);
            }
        }
    }

    #[test]
    fn vpd_parsers(
        supported in vpd_like(vpd_page::SUPPORTED_PAGES),
        serial in vpd_like(vpd_page::UNIT_SERIAL_NUMBER),
        identification in vpd_like(vpd_page::DEVICE_IDENTIFICATION),
        limits in vpd_like(vpd_page::BLOCK_LIMITS),
        characteristics in vpd_like(vpd_page::BLOCK_DEVICE_CHARACTERISTICS),
        provisioning in vpd_like(vpd_page::LOGICAL_BLOCK_PROVISIONING),
    ) {
        let _ = SupportedVpdPages::parse(&supported);
        let _ = UnitSerialNumber::parse(&serial);
        if let Ok(page) = DeviceIdentification::parse(&identification) {
            for descriptor in &page.descriptors {
                prop_assert!(!descriptor.designator.to_string().is_empty());
            }
            let _ = page.logical_unit_id();
        }
        let _ = BlockLimits::parse(&limits);
        let _ = BlockDeviceCharacteristics::parse(&characteristics);
        let _ = LogicalBlockProvisioning::parse(&provisioning);
    }

    #[test]
    fn sense_parser(bytes in sense_like()) {
        if let Ok(sense) = Sense::parse(&bytes) {
            let _ = classify(ScsiStatus::CheckCondition, Some(&sense));
            prop_assert!(!sense.to_string().is_empty());
        }
    }

    #[test]
    fn mode_sense_with_consistent_length(mut bytes in proptest::collection::vec(any::<u8>(), 8..300)) {
        let len = (bytes.len() - 2) as u16;
        bytes[..2].copy_from_slice(&len.to_be_bytes());
        bytes[6] = 0;
        bytes[7] %= 16;
        let _ = ModeParameters::parse(&bytes).map(|parameters| parameters.caching());
    }
}
