use super::*;

#[test]
fn parses_every_command() {
    let arm = |line| match parse_command(line) {
        Ok(Command::Arm(fault)) => fault,
        other => panic!("{line}: {other:?}"),
    };
    assert_eq!(arm("drop-response"), Fault::drop_response());
    assert_eq!(
        arm("drop-response 3 itt=0x1f"),
        Fault::DropResponse {
            itt: Some(0x1f),
            times: 3
        }
    );
    assert_eq!(
        arm("drop-status-data-in itt=abc"),
        Fault::DropStatusDataIn {
            itt: Some(0xabc),
            times: 1
        }
    );
    assert_eq!(arm("flip-data-in 2"), Fault::FlipDataIn { times: 2 });
    assert_eq!(arm("reset-mid-pdu"), Fault::ResetMidPdu);
    assert_eq!(arm("stall 1.5"), Fault::Stall(Duration::from_millis(1500)));
    assert_eq!(parse_command("stats"), Ok(Command::Stats));
    assert_eq!(parse_command(" quit "), Ok(Command::Quit));
    for bad in [
        "",
        "drop-response 0",
        "drop-response x",
        "drop-response itt=zz",
        "flip-data-in 1 2",
        "stall",
        "stall -1",
        "stats now",
        "explode",
    ] {
        assert!(parse_command(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn a_fault_prints_as_the_command_that_arms_it() {
    for fault in [
        Fault::DropResponse {
            itt: Some(7),
            times: 2,
        },
        Fault::drop_status_data_in(),
        Fault::FlipDataIn { times: 4 },
        Fault::ResetMidPdu,
        Fault::Stall(Duration::from_millis(250)),
    ] {
        assert_eq!(
            parse_command(&fault.to_string()),
            Ok(Command::Arm(fault.clone()))
        );
    }
}
