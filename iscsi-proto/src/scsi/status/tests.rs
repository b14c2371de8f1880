use super::*;

#[test]
fn every_byte_round_trips() {
    for raw in 0..=u8::MAX {
        assert_eq!(u8::from(ScsiStatus::from(raw)), raw);
    }
}

#[test]
fn known_values() {
    let expected = [
        (0x00, ScsiStatus::Good),
        (0x02, ScsiStatus::CheckCondition),
        (0x04, ScsiStatus::ConditionMet),
        (0x08, ScsiStatus::Busy),
        (0x18, ScsiStatus::ReservationConflict),
        (0x28, ScsiStatus::TaskSetFull),
        (0x30, ScsiStatus::AcaActive),
        (0x40, ScsiStatus::TaskAborted),
        (0x22, ScsiStatus::Other(0x22)),
    ];
    for (raw, status) in expected {
        assert_eq!(ScsiStatus::from(raw), status);
    }
    assert_eq!(
        ScsiStatus::ReservationConflict.to_string(),
        "RESERVATION CONFLICT"
    );
    assert_eq!(ScsiStatus::Other(0x22).to_string(), "status 0x22");
}
