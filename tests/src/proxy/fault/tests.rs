use super::*;
use iscsi_proto::digest::Digests;
use iscsi_proto::pdu::{encode_pdu, DataIn, Header, Pdu, ScsiResponse};

fn wire(pdu: Pdu) -> WirePdu {
    let bytes = encode_pdu(&pdu, Digests::NONE).unwrap();
    super::super::frame::read_pdu(&mut &bytes[..], || Digests::NONE)
        .unwrap()
        .unwrap()
}

fn response(itt: u32) -> WirePdu {
    wire(Pdu::new(
        Header::ScsiResponse(ScsiResponse {
            itt,
            ..ScsiResponse::default()
        }),
        Vec::new(),
    ))
}

fn data_in(itt: u32, status: bool, len: usize) -> WirePdu {
    wire(Pdu::new(
        Header::DataIn(DataIn {
            final_: status,
            has_status: status,
            itt,
            ..DataIn::default()
        }),
        vec![7; len],
    ))
}

#[test]
fn drop_response_counts_down_and_filters_by_itt() {
    let mut armed = Armed::default();
    armed.push(Fault::DropResponse {
        itt: Some(5),
        times: 2,
    });
    assert_eq!(armed.decide(&response(4)), Action::Forward);
    assert_eq!(armed.decide(&data_in(5, true, 8)), Action::Forward);
    assert_eq!(armed.decide(&response(5)), Action::DropResponse);
    assert_eq!(armed.list().len(), 1);
    assert_eq!(armed.decide(&response(5)), Action::DropResponse);
    assert!(armed.list().is_empty());
    assert_eq!(armed.decide(&response(5)), Action::Forward);
}

#[test]
fn status_data_in_and_flip_pick_their_pdus() {
    let mut armed = Armed::default();
    armed.push(Fault::drop_status_data_in());
    armed.push(Fault::flip_data_in());
    // A Data-In without status only matches the flip.
    assert_eq!(armed.decide(&data_in(1, false, 8)), Action::Flip);
    assert_eq!(armed.decide(&data_in(1, false, 0)), Action::Forward);
    assert_eq!(armed.decide(&data_in(1, true, 8)), Action::DropStatusDataIn);
    assert!(armed.list().is_empty());
}

#[test]
fn reset_takes_any_pdu_and_zero_times_arms_nothing() {
    let mut armed = Armed::default();
    armed.push(Fault::FlipDataIn { times: 0 });
    assert!(armed.list().is_empty());
    armed.push(Fault::ResetMidPdu);
    assert_eq!(armed.decide(&response(1)), Action::ResetMidPdu);
    assert_eq!(armed.decide(&response(1)), Action::Forward);
}
