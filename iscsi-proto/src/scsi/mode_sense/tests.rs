use super::*;
use crate::scsi::DataDirection;

#[test]
fn mode_sense10_cdb() {
    let request = mode_sense10(ModeSense10 {
        page_code: mode_page::CACHING,
        subpage_code: 0,
        page_control: PageControl::Current,
        disable_block_descriptors: true,
        allocation_len: 0x00FC,
    })
    .unwrap();
    assert_eq!(
        request.cdb.as_bytes(),
        &[0x5A, 0x08, 0x08, 0x00, 0, 0, 0, 0x00, 0xFC, 0x00]
    );
    assert_eq!(request.direction, DataDirection::Read);
    assert_eq!(request.transfer_len, 0xFC);

    let all = mode_sense10(ModeSense10 {
        page_code: mode_page::ALL,
        subpage_code: 0xFF,
        page_control: PageControl::Saved,
        disable_block_descriptors: false,
        allocation_len: 0x1234,
    })
    .unwrap();
    assert_eq!(
        all.cdb.as_bytes(),
        &[0x5A, 0x00, 0xFF, 0xFF, 0, 0, 0, 0x12, 0x34, 0x00]
    );
}

#[test]
fn mode_sense10_rejects_page_code_above_3f() {
    let params = ModeSense10 {
        page_code: 0x40,
        subpage_code: 0,
        page_control: PageControl::Changeable,
        disable_block_descriptors: false,
        allocation_len: 8,
    };
    assert!(matches!(
        mode_sense10(params),
        Err(BuildError::FieldTooLarge {
            field: "PAGE CODE",
            ..
        })
    ));
}

/// Header (WP, DPOFUA) + one 8-byte block descriptor + Caching page (WCE) + Control page.
#[rustfmt::skip]
fn mode_data() -> Vec<u8> {
    let mut data = vec![
        0x00, 0x00, 0x00, 0x90, 0x00, 0x00, 0x00, 0x08,   // header (length patched below)
        0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,   // block descriptor
        0x88, 0x12, 0x14, 0, 0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x80, 0x14, 0, 0, 0, 0, 0, 0,
        0x0A, 0x0A, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let len = (data.len() - 2) as u16;
    data[..2].copy_from_slice(&len.to_be_bytes());
    data
}

#[test]
fn parses_header_and_pages() {
    let parsed = ModeParameters::parse(&mode_data()).unwrap();
    assert_eq!(parsed.medium_type, 0);
    assert!(parsed.write_protected);
    assert!(parsed.dpo_fua_supported);
    assert_eq!(parsed.pages.len(), 2);
    let caching = parsed.page(mode_page::CACHING, 0).unwrap();
    assert!(caching.parameters_saveable);
    assert_eq!(caching.data.len(), 0x12);
    assert_eq!(
        parsed.caching(),
        Ok(Some(CachingPage {
            write_cache_enabled: true,
            read_cache_disabled: false
        }))
    );
    let control = parsed.page(0x0A, 0).unwrap(); // Control mode page
    assert!(!control.parameters_saveable);
    assert_eq!(control.data[0], 0x02);
}

#[test]
fn read_cache_disabled_and_no_write_cache() {
    let mut data = mode_data();
    data[3] = 0x00;
    data[18] = 0x01; // RCD only
    let parsed = ModeParameters::parse(&data).unwrap();
    assert!(!parsed.write_protected && !parsed.dpo_fua_supported);
    assert_eq!(
        parsed.caching(),
        Ok(Some(CachingPage {
            write_cache_enabled: false,
            read_cache_disabled: true
        }))
    );
}

#[test]
fn subpage_format_pages() {
    let data = [
        0x00, 0x0E, 0, 0, 0, 0, 0, 0, 0x4A, 0x01, 0x00, 0x04, 1, 2, 3, 4,
    ];
    let parsed = ModeParameters::parse(&data).unwrap();
    assert_eq!(
        parsed.pages,
        vec![ModePage {
            page_code: 0x0A,
            subpage_code: 1,
            parameters_saveable: false,
            data: vec![1, 2, 3, 4]
        }]
    );
    assert_eq!(parsed.caching(), Ok(None));
}

#[test]
fn header_only_has_no_pages() {
    let parsed = ModeParameters::parse(&[0x00, 0x06, 0x00, 0x80, 0, 0, 0, 0]).unwrap();
    assert!(parsed.write_protected);
    assert!(parsed.pages.is_empty());
}

#[test]
fn truncation_errors() {
    let data = mode_data();
    assert!(matches!(
        ModeParameters::parse(&data[..20]),
        Err(ParseError::Truncated { field: "MODE DATA LENGTH", needed, got: 20, .. }) if needed == data.len()
    ));
    let mut bad_descriptors = data.clone();
    bad_descriptors[7] = 0xF0;
    assert!(matches!(
        ModeParameters::parse(&bad_descriptors),
        Err(ParseError::Truncated {
            field: "BLOCK DESCRIPTOR LENGTH",
            ..
        })
    ));
    let mut overrunning_page = data;
    let last = overrunning_page.len() - 11;
    overrunning_page[last] = 0x20; // Control page claims 32 bytes
    assert!(matches!(
        ModeParameters::parse(&overrunning_page),
        Err(ParseError::Truncated {
            field: "mode page",
            ..
        })
    ));
    let empty_caching = [0x00, 0x08, 0, 0, 0, 0, 0, 0, 0x08, 0x00];
    assert!(matches!(
        ModeParameters::parse(&empty_caching).unwrap().caching(),
        Err(ParseError::Truncated { field: "WCE", .. })
    ));
}
