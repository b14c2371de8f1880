use super::*;
use iscsi_proto::pdu::{encode_pdu, DataIn, Header, LoginResponse, Pdu, Stage};

fn data_in(len: usize) -> Pdu {
    Pdu::new(
        Header::DataIn(DataIn {
            final_: true,
            has_status: true,
            itt: 0x1234_5678,
            ..DataIn::default()
        }),
        (0..len).map(|i| i as u8).collect(),
    )
}

#[test]
fn frames_back_to_back_pdus_with_every_digest_combination() {
    for digests in [
        Digests::NONE,
        Digests::BOTH,
        Digests {
            header: true,
            data: false,
        },
        Digests {
            header: false,
            data: true,
        },
    ] {
        let mut stream = Vec::new();
        for len in [0, 1, 3, 4, 5, 4096] {
            stream.extend(encode_pdu(&data_in(len), digests).unwrap());
        }
        let mut reader = &stream[..];
        for len in [0, 1, 3, 4, 5, 4096] {
            let pdu = read_pdu(&mut reader, || digests).unwrap().unwrap();
            assert_eq!(pdu.lengths.data_len, len);
            assert_eq!(pdu.data(), &data_in(len).data[..], "{digests:?} {len}");
            assert_eq!(pdu.itt(), 0x1234_5678);
            assert!(pdu.is_status_data_in());
            assert_eq!(pdu.bytes, encode_pdu(&data_in(len), digests).unwrap());
        }
        assert!(read_pdu(&mut reader, || digests).unwrap().is_none());
    }
}

#[test]
fn a_stream_cut_inside_a_pdu_is_an_error() {
    let bytes = encode_pdu(&data_in(100), Digests::NONE).unwrap();
    for cut in [1, 47, 48, 100] {
        let error = read_pdu(&mut &bytes[..cut], || Digests::NONE).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
    }
}

fn login_response(transit: bool, nsg: Stage, class: u8, text: &str) -> WirePdu {
    let pdu = Pdu::new(
        Header::LoginResponse(LoginResponse {
            transit,
            csg: Stage::Operational,
            nsg,
            status_class: class,
            ..LoginResponse::default()
        }),
        text.replace(' ', "\0").into_bytes(),
    );
    let bytes = encode_pdu(&pdu, Digests::NONE).unwrap();
    // Login PDUs are never digested, whatever the closure says.
    read_pdu(&mut &bytes[..], || Digests::BOTH)
        .unwrap()
        .unwrap()
}

#[test]
fn login_watch_takes_the_answers_at_the_transit_to_full_feature() {
    let mut watch = LoginWatch::default();
    let answers = "HeaderDigest=CRC32C DataDigest=None MaxBurstLength=262144 ";
    assert_eq!(
        watch.observe(&login_response(false, Stage::Security, 0, answers)),
        None
    );
    assert_eq!(
        watch.observe(&login_response(true, Stage::FullFeature, 0, "")),
        Some(Digests {
            header: true,
            data: false
        })
    );
}

#[test]
fn login_watch_ignores_offers_and_refusals() {
    let mut watch = LoginWatch::default();
    let offer = "HeaderDigest=CRC32C,None DataDigest=CRC32C ";
    assert_eq!(
        watch.observe(&login_response(true, Stage::FullFeature, 2, offer)),
        None,
        "status class 2 ends the login"
    );
    assert_eq!(
        watch.observe(&login_response(true, Stage::FullFeature, 0, "")),
        Some(Digests {
            header: false,
            data: true
        }),
        "a list is an offer, a single value counts"
    );
}
