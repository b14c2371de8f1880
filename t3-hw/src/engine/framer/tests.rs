use super::*;
use iscsi_proto::digest::to_wire;
use iscsi_proto::pdu::{DataIn, NopIn, ScsiResponse};
use proptest::prelude::*;

const MAX: u32 = 65536;

fn format(digests: Digests) -> FrameFormat {
    FrameFormat {
        digests,
        max_data_segment_len: MAX,
    }
}

/// One PDU on the wire: `header` with `ahs` spliced in (its length in byte 4) and `data`,
/// padded, each digest when `digests` says so.
fn wire(header: &Header, ahs: &[u8], data: &[u8], digests: Digests) -> Vec<u8> {
    assert_eq!(ahs.len() % 4, 0);
    let mut bhs = header.encode(data.len()).unwrap().bhs;
    bhs[4] = (ahs.len() / 4) as u8;
    let mut out = bhs.to_vec();
    out.extend_from_slice(ahs);
    if digests.header {
        out.extend_from_slice(&to_wire(crc32c(&out)));
    }
    if !data.is_empty() {
        let mut segment = data.to_vec();
        segment.resize(padded(data.len()), 0);
        out.extend_from_slice(&segment);
        if digests.data {
            out.extend_from_slice(&to_wire(crc32c(&segment)));
        }
    }
    out
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn nop_in(itt: u32) -> Header {
    Header::NopIn(NopIn {
        itt,
        ttt: 0xffff_ffff,
        ..NopIn::default()
    })
}

fn data_in(itt: u32, offset: u32) -> Header {
    Header::DataIn(DataIn {
        itt,
        buffer_offset: offset,
        ..DataIn::default()
    })
}

/// A PDU as framed: its decoded header, its data, and the status of its checks.
#[derive(Debug, PartialEq, Eq)]
struct Framed {
    header: Header,
    data: Vec<u8>,
    status: DdpStatus,
    pdu_len: u32,
}

/// The PDU being received: its header, the check, and the bytes so far.
struct Receiving {
    framed: FramedHeader,
    check: SegmentCheck,
    data: Vec<u8>,
    trailer: Vec<u8>,
}

/// Frames `chunks` as the receive path does: the header from the staged bytes (only once
/// all of it is there), then the data segment fed to the check in whatever pieces arrive,
/// then the trailer.
fn deframe<'a>(
    format: FrameFormat,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<Framed>, FrameError> {
    let mut staged: Vec<u8> = Vec::new();
    let mut receiving: Option<Receiving> = None;
    let mut out = Vec::new();
    for chunk in chunks {
        staged.extend_from_slice(chunk);
        loop {
            let Some(pdu) = &mut receiving else {
                let missing = format.header_missing(&staged);
                let Some(framed) = format.decode_header(&staged)? else {
                    assert!(missing > 0, "a missing header has bytes missing");
                    break;
                };
                assert_eq!(missing, 0);
                staged.drain(..framed.header_len as usize);
                receiving = Some(Receiving {
                    check: SegmentCheck::new(&framed),
                    framed,
                    data: Vec::new(),
                    trailer: Vec::new(),
                });
                continue;
            };
            let data_left = pdu.framed.data_len as usize - pdu.data.len();
            let take = data_left.min(staged.len());
            pdu.check.data(&staged[..take]);
            pdu.data.extend(staged.drain(..take));
            let trailer_left = pdu.framed.trailer_len() as usize - pdu.trailer.len();
            let take = if pdu.data.len() == pdu.framed.data_len as usize {
                trailer_left.min(staged.len())
            } else {
                0
            };
            pdu.trailer.extend(staged.drain(..take));
            if pdu.data.len() < pdu.framed.data_len as usize || take < trailer_left {
                break;
            }
            let pdu = receiving.take().expect("a PDU is being received");
            out.push(Framed {
                header: pdu
                    .framed
                    .header
                    .clone()
                    .expect("the tests send valid headers"),
                pdu_len: pdu.framed.pdu_len(),
                status: pdu.check.finish(&pdu.trailer),
                data: pdu.data,
            });
        }
    }
    assert!(
        receiving.is_none() && staged.is_empty(),
        "the stream ended mid-PDU"
    );
    Ok(out)
}

/// Data lengths 0 to 9 (every padding), an AHS, a status and a Data-In.
fn sample_stream(digests: Digests) -> (Vec<u8>, Vec<Framed>) {
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    let mut add = |header: Header, ahs: Vec<u8>, data: Vec<u8>| {
        let pdu = wire(&header, &ahs, &data, digests);
        expected.push(Framed {
            header,
            data,
            status: DdpStatus::NONE,
            pdu_len: pdu.len() as u32,
        });
        bytes.extend_from_slice(&pdu);
    };
    for len in 0..10 {
        add(nop_in(len as u32), Vec::new(), pattern(len, len as u8));
    }
    add(nop_in(20), vec![0, 4, 0x3f, 0, 1, 2, 3, 4], Vec::new());
    add(data_in(21, 8192), Vec::new(), pattern(1000, 7));
    add(
        Header::ScsiResponse(ScsiResponse {
            itt: 22,
            status: 2,
            ..ScsiResponse::default()
        }),
        Vec::new(),
        pattern(18, 9),
    );
    (bytes, expected)
}

const ALL_DIGESTS: [Digests; 4] = [
    Digests::NONE,
    Digests {
        header: true,
        data: false,
    },
    Digests {
        header: false,
        data: true,
    },
    Digests::BOTH,
];

#[test]
fn a_stream_split_at_every_offset_frames_the_same() {
    for digests in ALL_DIGESTS {
        let (stream, expected) = sample_stream(digests);
        assert_eq!(deframe(format(digests), [&stream[..]]).unwrap(), expected);
        for at in 0..=stream.len() {
            let (first, second) = stream.split_at(at);
            let framed = deframe(format(digests), [first, second]).unwrap();
            assert_eq!(framed, expected, "split at {at}, {digests:?}");
        }
    }
}

#[test]
fn a_stream_fed_byte_by_byte_frames_the_same() {
    for digests in ALL_DIGESTS {
        let (stream, expected) = sample_stream(digests);
        let framed = deframe(format(digests), stream.chunks(1)).unwrap();
        assert_eq!(framed, expected, "{digests:?}");
    }
}

#[test]
fn header_missing_counts_down_to_the_end_of_the_header() {
    let digests = Digests::BOTH;
    let pdu = wire(&nop_in(1), &[0, 4, 0x3f, 0, 9, 9, 9, 9], &[], digests);
    let header_len = BHS_LEN + 8 + DIGEST_LEN;
    assert_eq!(pdu.len(), header_len);
    let format = format(digests);
    for have in 0..BHS_LEN {
        // Before the BHS is in, the AHS length is unknown.
        assert_eq!(
            format.header_missing(&pdu[..have]),
            BHS_LEN + DIGEST_LEN - have
        );
    }
    for have in BHS_LEN..=header_len {
        assert_eq!(format.header_missing(&pdu[..have]), header_len - have);
        assert_eq!(
            format.decode_header(&pdu[..have]).unwrap().is_some(),
            have == header_len
        );
    }
}

#[test]
fn a_corrupt_header_is_a_header_digest_error() {
    let digests = Digests::BOTH;
    let pdu = wire(&data_in(5, 0), &[], &pattern(100, 1), digests);
    for at in 0..BHS_LEN + DIGEST_LEN {
        let mut bad = pdu.clone();
        bad[at] ^= 0x10;
        let error = format(digests).decode_header(&bad).unwrap_err();
        let FrameError::HeaderDigest { header_len, .. } = error else {
            panic!("byte {at}: {error:?}");
        };
        // The corrupt length byte may announce an AHS; the reported header is what was read.
        assert!(header_len as usize >= BHS_LEN + DIGEST_LEN);
    }
}

#[test]
fn corrupt_data_and_padding_are_reported_not_fatal() {
    let digests = Digests::BOTH;
    let data = pattern(5, 3);
    let pdu = wire(&nop_in(1), &[], &data, digests);
    let header_len = BHS_LEN + DIGEST_LEN;
    let mut bad_data = pdu.clone();
    bad_data[header_len + 2] ^= 1;
    let mut bad_pad = pdu.clone();
    bad_pad[header_len + 6] = 1;
    // With the digest off, a bad pad byte is still a padding error.
    let mut bad_pad_no_digest = wire(&nop_in(1), &[], &data, Digests::NONE);
    bad_pad_no_digest[BHS_LEN + 7] = 0xff;
    let cases = [
        (Digests::BOTH, bad_data, DdpStatus::DATACRC_ERR),
        (
            Digests::BOTH,
            bad_pad,
            DdpStatus::PADDING_ERR | DdpStatus::DATACRC_ERR,
        ),
        (Digests::NONE, bad_pad_no_digest, DdpStatus::PADDING_ERR),
    ];
    for (digests, stream, status) in cases {
        let framed = deframe(format(digests), [&stream[..]]).unwrap();
        assert_eq!(framed.len(), 1);
        assert_eq!(framed[0].status, status);
    }
}

#[test]
fn an_oversize_data_segment_is_refused_at_its_header() {
    for digests in ALL_DIGESTS {
        let mut bhs = nop_in(1).encode(0).unwrap().bhs;
        bhs[5..8].copy_from_slice(&[0x01, 0x00, 0x01]); // 65537 bytes
        let mut header = bhs.to_vec();
        if digests.header {
            header.extend_from_slice(&to_wire(crc32c(&bhs)));
        }
        assert_eq!(
            format(digests).decode_header(&header).unwrap_err(),
            FrameError::DataSegmentTooLong {
                len: MAX + 1,
                max: MAX
            }
        );
    }
}

#[test]
fn an_undecodable_header_still_frames() {
    let mut pdu = wire(&nop_in(1), &[], &pattern(6, 2), Digests::NONE);
    pdu[0] = 0x3e; // no such opcode
    let framed = format(Digests::NONE).decode_header(&pdu).unwrap().unwrap();
    assert!(framed.header.is_err());
    assert_eq!((framed.data_len, framed.pad_len), (6, 2));
    assert_eq!(framed.pdu_len() as usize, pdu.len());
}

proptest! {
    #[test]
    fn any_split_of_a_stream_frames_the_same(
        cuts in proptest::collection::vec(0usize..2000, 0..12),
        digests in 0usize..4,
    ) {
        let digests = ALL_DIGESTS[digests];
        let (stream, expected) = sample_stream(digests);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|cut| cut % (stream.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut from = 0;
        for cut in cuts.into_iter().chain([stream.len()]) {
            chunks.push(&stream[from..cut]);
            from = cut;
        }
        prop_assert_eq!(deframe(format(digests), chunks).unwrap(), expected);
    }

    #[test]
    fn hostile_bytes_never_panic_and_lengths_stay_in_bounds(
        bytes in proptest::collection::vec(any::<u8>(), 0..1200),
        digests in 0usize..4,
        max in 0u32..70_000,
    ) {
        let format = FrameFormat { digests: ALL_DIGESTS[digests], max_data_segment_len: max };
        prop_assert!(format.header_missing(&bytes) <= HEADER_MAX_LEN);
        if let Ok(Some(framed)) = format.decode_header(&bytes) {
            prop_assert!(framed.header_len as usize <= bytes.len());
            prop_assert!(framed.header_len as usize <= HEADER_MAX_LEN);
            prop_assert!(framed.data_len <= max);
            prop_assert!(framed.trailer_len() as usize <= TRAILER_MAX_LEN);
        }
    }
}
