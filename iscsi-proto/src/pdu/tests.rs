//! Byte-exact vectors for every opcode, and property tests for the framing.

use super::ahs::Ahs;
use super::*;
use crate::digest::Digests;
use proptest::prelude::*;

/// Parses a hex string with optional whitespace into bytes.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn bhs(s: &str) -> [u8; BHS_LEN] {
    hex(s).try_into().expect("48 bytes")
}

const LUN: u64 = 0x0001_0000_0000_0000;

/// Encodes `header` with `data_len`, compares with `expected`, and decodes it back.
fn check(header: Header, data_len: usize, expected: &str) {
    let encoded = header.encode(data_len).unwrap();
    let want = bhs(expected);
    assert_eq!(
        encoded.bhs,
        want,
        "{:?}\n got  {:02x?}\n want {:02x?}",
        header.opcode(),
        encoded.bhs,
        want
    );
    assert_eq!(Header::decode(&encoded.bhs, &encoded.ahs).unwrap(), header);
    assert_eq!(BhsLengths::of(&encoded.bhs).data_len, data_len);
}

#[test]
fn nop_out() {
    check(
        Header::NopOut(NopOut {
            immediate: true,
            lun: LUN,
            itt: 0x11223344,
            ttt: RESERVED_TAG,
            cmdsn: 7,
            expstatsn: 9,
        }),
        0,
        "40800000 00000000 00010000 00000000 11223344 ffffffff 00000007 00000009
         00000000 00000000 00000000 00000000",
    );
}

#[test]
fn scsi_command_read16() {
    let mut cdb = [0u8; 16];
    cdb[0] = 0x88;
    cdb[9] = 0x10;
    cdb[13] = 0x08;
    check(
        Header::ScsiCommand(ScsiCommand {
            immediate: false,
            final_: true,
            read: true,
            write: false,
            attr: task_attr::SIMPLE,
            lun: LUN,
            itt: 0x0000_0041,
            expected_len: 4096,
            cmdsn: 0x100,
            expstatsn: 0x200,
            cdb,
            extended_cdb: Vec::new(),
            bidi_read_len: None,
        }),
        0,
        "01c10000 00000000 00010000 00000000 00000041 00001000 00000100 00000200
         88000000 00000000 00100000 00080000",
    );
}

#[test]
fn scsi_command_write_with_immediate_data_and_extended_cdb() {
    let header = Header::ScsiCommand(ScsiCommand {
        final_: false,
        write: true,
        attr: 2, // ORDERED
        itt: 5,
        expected_len: 65536,
        cmdsn: 1,
        expstatsn: 2,
        cdb: [0x7f; 16],
        extended_cdb: vec![0xaa; 16],
        bidi_read_len: Some(512),
        ..Default::default()
    });
    let encoded = header.encode(8192).unwrap();
    // TotalAHSLength: 20 bytes of extended CDB AHS + 8 of bidirectional length = 7 words.
    assert_eq!(&encoded.bhs[..8], &[0x01, 0x22, 0, 0, 7, 0x00, 0x20, 0x00]);
    assert_eq!(encoded.ahs.len(), 28);
    assert_eq!(Header::decode(&encoded.bhs, &encoded.ahs).unwrap(), header);
}

#[test]
fn rfc3720_read10_example_decodes() {
    let raw = bhs(
        "01c00000 00000000 00000000 00000000 14000000 00000400 00000014 00000018
                   28000000 00000000 02000000 00000000",
    );
    let Header::ScsiCommand(cmd) = Header::decode(&raw, &[]).unwrap() else {
        panic!("not a SCSI command");
    };
    assert!(cmd.final_ && cmd.read && !cmd.write);
    assert_eq!(cmd.itt, 0x1400_0000);
    assert_eq!(cmd.expected_len, 1024);
    assert_eq!(cmd.cmdsn, 0x14);
    assert_eq!(cmd.expstatsn, 0x18);
    assert_eq!(cmd.cdb[0], 0x28);
}

#[test]
fn task_mgmt_request() {
    check(
        Header::TaskMgmtRequest(TaskMgmtRequest {
            immediate: true,
            function: tmf::ABORT_TASK,
            lun: LUN,
            itt: 0x99,
            referenced_itt: 0x41,
            cmdsn: 10,
            expstatsn: 11,
            refcmdsn: 8,
            expdatasn: 3,
        }),
        0,
        "42810000 00000000 00010000 00000000 00000099 00000041 0000000a 0000000b
         00000008 00000003 00000000 00000000",
    );
}

#[test]
fn login_request() {
    check(
        Header::LoginRequest(LoginRequest {
            transit: true,
            cont: false,
            csg: Stage::Security,
            nsg: Stage::Operational,
            version_max: 0,
            version_min: 0,
            isid: [0x80, 0x12, 0x34, 0x56, 0x00, 0x01],
            tsih: 0,
            itt: 0,
            cid: 1,
            cmdsn: 0x10,
            expstatsn: 0,
        }),
        0x1f3,
        "43810000 000001f3 80123456 00010000 00000000 00010000 00000010 00000000
         00000000 00000000 00000000 00000000",
    );
    check(
        Header::LoginRequest(LoginRequest {
            transit: true,
            csg: Stage::Operational,
            nsg: Stage::FullFeature,
            ..Default::default()
        }),
        0,
        "43870000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
         00000000 00000000 00000000 00000000",
    );
}

#[test]
fn text_request() {
    check(
        Header::TextRequest(TextRequest {
            immediate: true,
            final_: true,
            cont: false,
            lun: 0,
            itt: 2,
            ttt: RESERVED_TAG,
            cmdsn: 3,
            expstatsn: 4,
        }),
        16,
        "44800000 00000010 00000000 00000000 00000002 ffffffff 00000003 00000004
         00000000 00000000 00000000 00000000",
    );
}

#[test]
fn data_out() {
    check(
        Header::DataOut(DataOut {
            final_: true,
            lun: LUN,
            itt: 0x41,
            ttt: 0x1234,
            expstatsn: 0x55,
            datasn: 2,
            buffer_offset: 0x20000,
        }),
        8192,
        "05800000 00002000 00010000 00000000 00000041 00001234 00000000 00000055
         00000000 00000002 00020000 00000000",
    );
}

#[test]
fn logout_request() {
    check(
        Header::LogoutRequest(LogoutRequest {
            immediate: true,
            reason: logout_reason::CLOSE_SESSION,
            itt: 7,
            cid: 1,
            cmdsn: 20,
            expstatsn: 21,
        }),
        0,
        "46800000 00000000 00000000 00000000 00000007 00010000 00000014 00000015
         00000000 00000000 00000000 00000000",
    );
}

#[test]
fn snack_request() {
    check(
        Header::SnackRequest(SnackRequest {
            snack_type: 1,
            lun: LUN,
            itt: 0x41,
            ttt: RESERVED_TAG,
            expstatsn: 30,
            begrun: 5,
            runlength: 0,
        }),
        0,
        "10810000 00000000 00010000 00000000 00000041 ffffffff 00000000 0000001e
         00000000 00000000 00000005 00000000",
    );
}

#[test]
fn nop_in() {
    check(
        Header::NopIn(NopIn {
            lun: 0,
            itt: RESERVED_TAG,
            ttt: 0x77,
            statsn: 100,
            expcmdsn: 200,
            maxcmdsn: 231,
        }),
        0,
        "20800000 00000000 00000000 00000000 ffffffff 00000077 00000064 000000c8
         000000e7 00000000 00000000 00000000",
    );
}

#[test]
fn scsi_response_with_sense_and_underflow() {
    check(
        Header::ScsiResponse(ScsiResponse {
            underflow: true,
            response: 0,
            status: 0x02,
            itt: 0x41,
            statsn: 100,
            expcmdsn: 200,
            maxcmdsn: 231,
            expdatasn: 2,
            residual: 512,
            ..Default::default()
        }),
        20,
        "21820002 00000014 00000000 00000000 00000041 00000000 00000064 000000c8
         000000e7 00000002 00000000 00000200",
    );
}

#[test]
fn task_mgmt_response() {
    check(
        Header::TaskMgmtResponse(TaskMgmtResponse {
            response: 1,
            itt: 0x99,
            statsn: 5,
            expcmdsn: 6,
            maxcmdsn: 7,
        }),
        0,
        "22800100 00000000 00000000 00000000 00000099 00000000 00000005 00000006
         00000007 00000000 00000000 00000000",
    );
}

#[test]
fn login_response() {
    check(
        Header::LoginResponse(LoginResponse {
            transit: true,
            cont: false,
            csg: Stage::Operational,
            nsg: Stage::FullFeature,
            version_max: 0,
            version_active: 0,
            isid: [0x80, 0x12, 0x34, 0x56, 0x00, 0x01],
            tsih: 0x0102,
            itt: 0,
            statsn: 1,
            expcmdsn: 0x10,
            maxcmdsn: 0x11,
            status_class: 0,
            status_detail: 0,
        }),
        300,
        "23870000 0000012c 80123456 00010102 00000000 00000000 00000001 00000010
         00000011 00000000 00000000 00000000",
    );
    check(
        Header::LoginResponse(LoginResponse {
            status_class: 2,
            status_detail: 1,
            ..Default::default()
        }),
        0,
        "23000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
         00000000 02010000 00000000 00000000",
    );
}

#[test]
fn text_response() {
    check(
        Header::TextResponse(TextResponse {
            final_: false,
            cont: true,
            lun: 0,
            itt: 2,
            ttt: 0x30,
            statsn: 3,
            expcmdsn: 4,
            maxcmdsn: 5,
        }),
        4096,
        "24400000 00001000 00000000 00000000 00000002 00000030 00000003 00000004
         00000005 00000000 00000000 00000000",
    );
}

#[test]
fn data_in_with_status() {
    check(
        Header::DataIn(DataIn {
            final_: true,
            ack: false,
            overflow: false,
            underflow: true,
            has_status: true,
            status: 0,
            lun: LUN,
            itt: 0x0240,
            ttt: RESERVED_TAG,
            statsn: 9,
            expcmdsn: 10,
            maxcmdsn: 41,
            datasn: 3,
            buffer_offset: 0x6000,
            residual: 0x1000,
        }),
        0x2000,
        "25830000 00002000 00010000 00000000 00000240 ffffffff 00000009 0000000a
         00000029 00000003 00006000 00001000",
    );
}

#[test]
fn logout_response() {
    check(
        Header::LogoutResponse(LogoutResponse {
            response: 0,
            itt: 7,
            statsn: 22,
            expcmdsn: 21,
            maxcmdsn: 52,
            time2wait: 2,
            time2retain: 20,
        }),
        0,
        "26800000 00000000 00000000 00000000 00000007 00000000 00000016 00000015
         00000034 00000000 00020014 00000000",
    );
}

#[test]
fn r2t() {
    check(
        Header::R2t(R2t {
            lun: LUN,
            itt: 0x41,
            ttt: 0xabcd,
            statsn: 9,
            expcmdsn: 10,
            maxcmdsn: 41,
            r2tsn: 1,
            buffer_offset: 0x10000,
            desired_len: 0x40000,
        }),
        0,
        "31800000 00000000 00010000 00000000 00000041 0000abcd 00000009 0000000a
         00000029 00000001 00010000 00040000",
    );
}

#[test]
fn async_message() {
    check(
        Header::AsyncMessage(AsyncMessage {
            lun: 0,
            statsn: 9,
            expcmdsn: 10,
            maxcmdsn: 41,
            event: async_event::LOGOUT_REQUESTED,
            vcode: 0,
            param1: 0,
            param2: 2,
            param3: 20,
        }),
        0,
        "32800000 00000000 00000000 00000000 ffffffff 00000000 00000009 0000000a
         00000029 01000000 00020014 00000000",
    );
}

#[test]
fn reject() {
    check(
        Header::Reject(Reject {
            reason: 0x09,
            statsn: 9,
            expcmdsn: 10,
            maxcmdsn: 41,
            datasn_r2tsn: 0,
        }),
        48,
        "3f800900 00000030 00000000 00000000 ffffffff 00000000 00000009 0000000a
         00000029 00000000 00000000 00000000",
    );
    assert_eq!(reject_reason_text(0x09), "invalid PDU field");
}

#[test]
fn unknown_opcode_and_reserved_stage_are_errors() {
    let mut raw = [0u8; BHS_LEN];
    raw[0] = 0x3e;
    assert_eq!(
        Header::decode(&raw, &[]),
        Err(PduError::UnknownOpcode(0x3e))
    );
    raw[0] = 0x23;
    raw[1] = 0x82; // NSG = 2 is reserved
    assert_eq!(
        Header::decode(&raw, &[]),
        Err(PduError::BadField {
            field: "NSG",
            value: 2
        })
    );
}

#[test]
fn whole_pdu_with_digests_and_padding() {
    let pdu = Pdu::new(
        Header::TextRequest(TextRequest {
            final_: true,
            itt: 1,
            ttt: RESERVED_TAG,
            ..Default::default()
        }),
        b"SendTargets=All\0".to_vec()[..15].to_vec(),
    );
    let wire = encode_pdu(&pdu, Digests::BOTH).unwrap();
    // 48 BHS + 4 header digest + 15 data + 1 pad + 4 data digest.
    assert_eq!(wire.len(), 72);
    assert_eq!(wire[48 + 4 + 15], 0, "pad byte is zero");
    let (back, used) = decode_pdu(&wire, Digests::BOTH, 8192).unwrap().unwrap();
    assert_eq!(used, 72);
    assert_eq!(back, pdu);
    // Every strict prefix is "incomplete", never an error.
    for cut in 0..wire.len() {
        assert_eq!(decode_pdu(&wire[..cut], Digests::BOTH, 8192), Ok(None));
    }
}

#[test]
fn corrupt_digests_are_reported() {
    let pdu = Pdu::new(
        Header::NopIn(NopIn {
            itt: 3,
            ttt: RESERVED_TAG,
            ..Default::default()
        }),
        vec![1, 2, 3, 4, 5],
    );
    let wire = encode_pdu(&pdu, Digests::BOTH).unwrap();
    let mut bad_header = wire.clone();
    bad_header[20] ^= 1;
    assert!(matches!(
        decode_pdu(&bad_header, Digests::BOTH, 8192),
        Err(PduError::HeaderDigest { .. })
    ));
    let mut bad_data = wire.clone();
    bad_data[48 + 4 + 1] ^= 0x80;
    assert!(matches!(
        decode_pdu(&bad_data, Digests::BOTH, 8192),
        Err(PduError::DataDigest { .. })
    ));
}

#[test]
fn oversized_data_segment_is_refused_from_the_bhs_alone() {
    let mut raw = [0u8; BHS_LEN];
    raw[0] = 0x25;
    raw[5..8].copy_from_slice(&[0xff, 0xff, 0xff]);
    assert_eq!(
        decode_pdu(&raw, Digests::NONE, 262144),
        Err(PduError::DataSegmentTooLong {
            len: 0xff_ffff,
            max: 262144
        })
    );
}

#[test]
fn data_segment_length_limit_on_encode() {
    let h = Header::NopOut(NopOut::default());
    assert!(h.encode(MAX_DATA_SEGMENT_LEN as usize + 1).is_err());
}

fn digests_strategy() -> impl Strategy<Value = Digests> {
    (any::<bool>(), any::<bool>()).prop_map(|(header, data)| Digests { header, data })
}

proptest! {
    /// Any header that decodes re-encodes to a header that decodes the same.
    #[test]
    fn decode_encode_decode_is_stable(mut raw in prop::array::uniform32(any::<u8>()),
                                      tail in prop::array::uniform16(any::<u8>()),
                                      op in prop::sample::select(vec![
                                          0x00u8, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10,
                                          0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x31,
                                          0x32, 0x3f]),
                                      data_len in 0usize..100_000) {
        raw[0] = op | (raw[0] & 0x40);
        raw[4] = 0;
        let mut full = [0u8; BHS_LEN];
        full[..32].copy_from_slice(&raw);
        full[32..].copy_from_slice(&tail);
        if let Ok(header) = Header::decode(&full, &[]) {
            let encoded = header.encode(data_len).unwrap();
            prop_assert_eq!(Header::decode(&encoded.bhs, &encoded.ahs).unwrap(), header);
            prop_assert_eq!(BhsLengths::of(&encoded.bhs).data_len, data_len);
        }
    }

    /// Whole PDUs round-trip through the framing with any digest setting.
    #[test]
    fn pdu_round_trip(itt: u32, ttt: u32, datasn: u32, offset: u32,
                      data in prop::collection::vec(any::<u8>(), 0..3000),
                      digests in digests_strategy()) {
        let pdu = Pdu::new(Header::DataOut(DataOut {
            final_: true, lun: LUN, itt, ttt, expstatsn: 1, datasn, buffer_offset: offset,
        }), data);
        let wire = encode_pdu(&pdu, digests).unwrap();
        let (back, used) = decode_pdu(&wire, digests, 8192).unwrap().unwrap();
        prop_assert_eq!(used, wire.len());
        prop_assert_eq!(back, pdu);
    }

    /// Decoding arbitrary bytes never panics, whatever the digest setting and limit.
    #[test]
    fn decode_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600),
                                           digests in digests_strategy(),
                                           max in 0u32..70_000) {
        let _ = decode_pdu(&bytes, digests, max);
        if let Some(bhs) = bytes.first_chunk::<BHS_LEN>() {
            let ahs_len = BhsLengths::of(bhs).ahs_len;
            if let Some(ahs) = bytes.get(BHS_LEN..BHS_LEN + ahs_len) {
                let _ = Header::decode(bhs, ahs);
            }
        }
        let _ = Ahs::decode_all(&bytes);
    }
}
