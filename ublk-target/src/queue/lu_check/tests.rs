use super::*;
use iscsi_proto::session::Residual;

fn vpd83(naa: [u8; 8]) -> Vec<u8> {
    let mut page = vec![0x00, 0x83, 0x00, 12, 0x01, 0x03, 0x00, 0x08];
    page.extend_from_slice(&naa);
    page
}

fn designator(page: &[u8]) -> String {
    DeviceIdentification::parse(page)
        .unwrap()
        .logical_unit_id()
        .unwrap()
        .to_string()
}

fn capacity(last_lba: u64, block: u32) -> Vec<u8> {
    let mut data = vec![0u8; 32];
    data[..8].copy_from_slice(&last_lba.to_be_bytes());
    data[8..12].copy_from_slice(&block.to_be_bytes());
    data
}

fn good() -> TaskOutcome {
    TaskOutcome::Status {
        status: 0,
        sense: None,
        residual: Residual::None,
    }
}

fn check_condition(key: u8, asc: u8, ascq: u8) -> TaskOutcome {
    let mut sense = vec![0u8; 18];
    sense[0] = 0x70;
    sense[2] = key;
    sense[7] = 10;
    sense[12] = asc;
    sense[13] = ascq;
    TaskOutcome::Status {
        status: 2,
        sense: Some(sense),
        residual: Residual::None,
    }
}

const OURS: [u8; 8] = [0x50, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x12];
const OTHER: [u8; 8] = [0x50, 0x01, 0x40, 0x5a, 0xbc, 0xde, 0xf0, 0x13];

#[test]
fn the_same_lu_passes_and_reports_its_capacity() {
    let mut check = LuCheck::new(Some(designator(&vpd83(OURS))));
    let Next::Send(first) = check.start() else {
        panic!("the check sends INQUIRY first")
    };
    assert_eq!(first.cdb.as_bytes()[..3], [0x12, 0x01, 0x83]);
    let Next::Send(second) = check.on_done(&good(), &vpd83(OURS)) else {
        panic!("then READ CAPACITY(16)")
    };
    assert_eq!(second.cdb.as_bytes()[0], 0x9e);
    assert_eq!(
        check.on_done(&good(), &capacity(2047, 4096)),
        Next::Done {
            capacity_bytes: Some(8 << 20)
        }
    );
    assert!(!check.is_running());
}

#[test]
fn another_lu_is_a_mismatch() {
    let mut check = LuCheck::new(Some(designator(&vpd83(OURS))));
    check.start();
    assert_eq!(
        check.on_done(&good(), &vpd83(OTHER)),
        Next::Mismatch {
            found: Some(designator(&vpd83(OTHER)))
        }
    );
}

#[test]
fn an_lu_that_cannot_say_who_it_is_is_a_mismatch() {
    let mut check = LuCheck::new(Some(designator(&vpd83(OURS))));
    check.start();
    assert_eq!(
        check.on_done(&check_condition(0x05, 0x24, 0), &[]),
        Next::Mismatch { found: None }
    );
    check.start();
    assert_eq!(
        check.on_done(&good(), &[0x00, 0x83, 0x00, 0x40]),
        Next::Mismatch { found: None }
    );
}

#[test]
fn unit_attentions_are_retried_a_few_times() {
    let mut check = LuCheck::new(None);
    assert!(matches!(check.start(), Next::Send(_)), "capacity only");
    let ua = check_condition(0x06, 0x29, 0x00);
    for _ in 0..UNIT_ATTENTION_TRIES - 1 {
        assert!(matches!(check.on_done(&ua, &[]), Next::Send(_)));
    }
    assert_eq!(
        check.on_done(&ua, &[]),
        Next::Done {
            capacity_bytes: None
        }
    );
}

#[test]
fn capacity_changes_are_recognised() {
    assert!(announces_capacity_change(&check_condition(
        0x06, 0x2a, 0x09
    )));
    assert!(!announces_capacity_change(&check_condition(
        0x06, 0x29, 0x00
    )));
    assert!(!announces_capacity_change(&good()));
}

#[test]
fn a_capacity_that_overflows_is_no_answer() {
    let mut check = LuCheck::new(None);
    check.start_capacity();
    assert_eq!(
        check.on_done(&good(), &capacity(u64::MAX - 1, 4096)),
        Next::Done {
            capacity_bytes: None
        }
    );
}
