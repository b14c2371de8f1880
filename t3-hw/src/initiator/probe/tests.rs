use super::*;

/// One_command data for WRITE SAME(16): SUPPORT 011b, CDB SIZE 16, usage data with the
/// given byte-1 mask.
fn write_same_usage(byte1_mask: u8) -> Vec<u8> {
    let mut bytes = vec![0x00, 0x03, 0x00, 0x10, 0x93, byte1_mask];
    bytes.extend_from_slice(&[0xFF; 12]);
    bytes.extend_from_slice(&[0x3F, 0x07]);
    bytes
}

/// Runs `write_same_ndob` against one scripted answer, checking the command it sends.
fn ndob_with(
    answer: impl FnOnce() -> Result<Option<Vec<u8>>, ProbeError>,
) -> Result<bool, ProbeError> {
    let mut answer = Some(answer);
    let mut cmd = |name: &'static str, request: ScsiRequest| {
        assert_eq!(name, "REPORT SUPPORTED OPERATION CODES");
        assert_eq!(
            request.cdb.as_bytes(),
            &[0xA3, 0x0C, 0x01, 0x93, 0, 0, 0, 0, 0, 64, 0, 0]
        );
        (answer.take().expect("one command"))()
    };
    write_same_ndob(&mut cmd)
}

#[test]
fn ndob_only_when_the_usage_mask_says_so() {
    assert!(ndob_with(|| Ok(Some(write_same_usage(0xF9)))).unwrap());
    assert!(!ndob_with(|| Ok(Some(write_same_usage(0xF8)))).unwrap());
    let mut not_supported = write_same_usage(0xF9);
    not_supported[1] = 0b001;
    assert!(!ndob_with(|| Ok(Some(not_supported))).unwrap());
}

#[test]
fn refusals_and_bad_answers_mean_no_ndob() {
    // ILLEGAL REQUEST: RSOC not implemented.
    assert!(!ndob_with(|| Ok(None)).unwrap());
    // Another failure status.
    assert!(!ndob_with(|| Err(ProbeError::Command {
        command: "REPORT SUPPORTED OPERATION CODES",
        outcome: "ABORTED COMMAND".into(),
    }))
    .unwrap());
    // Truncated usage data, and usage data of another command.
    assert!(!ndob_with(|| Ok(Some(write_same_usage(0xF9)[..10].to_vec()))).unwrap());
    let mut other = write_same_usage(0xF9);
    other[4] = 0x8A;
    assert!(!ndob_with(|| Ok(Some(other))).unwrap());
    assert!(!ndob_with(|| Ok(Some(Vec::new()))).unwrap());
}

#[test]
fn a_broken_connection_still_fails_the_probe() {
    let result = ndob_with(|| {
        Err(ProbeError::Client(ClientError::TimedOut(
            Duration::from_secs(1),
            "REPORT SUPPORTED OPERATION CODES",
        )))
    });
    assert!(matches!(
        result,
        Err(ProbeError::Client(ClientError::TimedOut(..)))
    ));
}
