use super::*;
use crate::scsi::sense::tests::{descriptor, fixed};

fn sense(key: u8, asc: u8, ascq: u8) -> Sense {
    Sense::parse(&fixed(key, asc, ascq)).unwrap()
}

#[test]
fn retryable_sense() {
    assert_eq!(sense(0x06, 0x29, 0x00).action(), SenseAction::Retry);
    assert_eq!(sense(0x06, 0x2A, 0x09).action(), SenseAction::Retry);
    assert_eq!(sense(0x06, 0x3F, 0x0E).action(), SenseAction::Retry);
    assert_eq!(sense(0x02, 0x04, 0x01).action(), SenseAction::Retry);
    assert_eq!(sense(0x0B, 0x47, 0x00).action(), SenseAction::Retry);
    assert_eq!(sense(0x0B, 0x4B, 0x00).action(), SenseAction::Retry);
    assert_eq!(
        Sense::parse(&descriptor(0x06, 0x29, 0x07))
            .unwrap()
            .action(),
        SenseAction::Retry
    );
}

#[test]
fn deferred_errors_retry_the_current_command() {
    let mut data = fixed(0x03, 0x0C, 0x00);
    data[0] = 0x71;
    assert_eq!(Sense::parse(&data).unwrap().action(), SenseAction::Retry);
}

#[test]
fn recovered_error_completes() {
    assert_eq!(sense(0x01, 0x5D, 0x00).action(), SenseAction::Complete);
    assert_eq!(
        classify(ScsiStatus::CheckCondition, Some(&sense(0x01, 0x00, 0x00))),
        Disposition::Complete
    );
}

#[test]
fn failing_sense_and_errno_classes() {
    let cases = [
        ((0x02, 0x04, 0x02), BlockError::Io, -5),
        ((0x02, 0x3A, 0x00), BlockError::Io, -5),
        ((0x03, 0x11, 0x00), BlockError::Medium, -61),
        ((0x03, 0x0C, 0x00), BlockError::Medium, -61),
        ((0x04, 0x44, 0x00), BlockError::Target, -121),
        ((0x05, 0x20, 0x00), BlockError::NotSupported, -95),
        ((0x05, 0x24, 0x00), BlockError::Target, -121),
        ((0x05, 0x21, 0x00), BlockError::Target, -121),
        ((0x05, 0x25, 0x00), BlockError::Target, -121),
        ((0x07, 0x27, 0x07), BlockError::NoSpace, -28),
        ((0x07, 0x27, 0x00), BlockError::ReadOnly, -30),
        ((0x05, 0x27, 0x02), BlockError::ReadOnly, -30),
        ((0x07, 0x20, 0x02), BlockError::Target, -121),
        ((0x0E, 0x1D, 0x00), BlockError::Target, -121),
        ((0x00, 0x00, 0x00), BlockError::Io, -5),
        ((0x09, 0x80, 0x00), BlockError::Io, -5),
    ];
    for ((key, asc, ascq), error, errno) in cases {
        let sense = sense(key, asc, ascq);
        assert_eq!(sense.action(), SenseAction::Fail, "{sense}");
        assert_eq!(sense.block_error(), error, "{sense}");
        assert_eq!(error.errno(), errno);
        assert_eq!(
            classify(ScsiStatus::CheckCondition, Some(&sense)),
            Disposition::Fail(error)
        );
    }
}

#[test]
fn exhausted_retries_map_to_eio_or_better() {
    assert_eq!(sense(0x06, 0x29, 0x00).block_error(), BlockError::Io);
    assert_eq!(sense(0x0B, 0x08, 0x00).block_error(), BlockError::Io);
}

#[test]
fn status_level_classification() {
    assert_eq!(classify(ScsiStatus::Good, None), Disposition::Complete);
    assert_eq!(
        classify(ScsiStatus::ConditionMet, None),
        Disposition::Complete
    );
    assert_eq!(classify(ScsiStatus::Busy, None), Disposition::Retry);
    assert_eq!(classify(ScsiStatus::TaskSetFull, None), Disposition::Retry);
    assert_eq!(classify(ScsiStatus::TaskAborted, None), Disposition::Retry);
    assert_eq!(classify(ScsiStatus::AcaActive, None), Disposition::Retry);
    assert_eq!(
        classify(ScsiStatus::ReservationConflict, None),
        Disposition::Fail(BlockError::ReservationConflict)
    );
    assert_eq!(BlockError::ReservationConflict.errno(), -52);
    assert_eq!(
        classify(ScsiStatus::CheckCondition, None),
        Disposition::Fail(BlockError::Io)
    );
    assert_eq!(
        classify(ScsiStatus::Other(0x22), None),
        Disposition::Fail(BlockError::Io)
    );
    assert_eq!(
        classify(ScsiStatus::CheckCondition, Some(&sense(0x06, 0x29, 0x00))),
        Disposition::Retry
    );
}

#[test]
fn transport_and_again_errnos() {
    assert_eq!(BlockError::Transport.errno(), -67);
    assert_eq!(BlockError::Again.errno(), -11);
    assert_eq!(BlockError::ReadOnly.to_string(), "write protected (EROFS)");
}
