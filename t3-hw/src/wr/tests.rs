use super::*;

fn tid() -> Tid {
    Tid::new(0x1234).unwrap()
}

/// A BHS declaring `ahs_words` of AHS and `data_len` bytes of data.
fn header(ahs_words: u8, data_len: u32) -> Vec<u8> {
    let mut bhs = vec![0u8; BHS_LEN + usize::from(ahs_words) * 4];
    bhs[0] = 0x01; // SCSI Command
    bhs[4] = ahs_words;
    bhs[5..8].copy_from_slice(&data_len.to_be_bytes()[1..]);
    bhs
}

#[test]
fn submode_bits_and_extra_len() {
    let cases = [
        (false, false, 0, 0),
        (true, false, 1, 4),
        (false, true, 2, 4),
        (true, true, 3, 8),
    ];
    for (header_digest, data_digest, bits, extra) in cases {
        let mode = UlpSubmode {
            header_digest,
            data_digest,
        };
        assert_eq!(mode.bits(), bits);
        assert_eq!(mode.extra_len(), extra);
        assert_eq!(UlpSubmode::from_bits(bits), Some(mode));
    }
    assert_eq!(UlpSubmode::from_bits(4), None);
    let both = UlpSubmode {
        header_digest: true,
        data_digest: true,
    };
    assert_eq!(both.for_pdu(false).bits(), 1);
    assert_eq!(both.for_pdu(true).bits(), 3);
}

#[test]
fn pdu_lengths_must_agree_with_header() {
    assert!(PduRef::new(header(0, 0), Payload::None).is_ok());
    assert!(PduRef::new(header(2, 5), Payload::Inline(vec![1; 5])).is_ok());
    assert_eq!(
        PduRef::new(vec![0; 47], Payload::None),
        Err(PduRefError::HeaderTooShort { len: 47 })
    );
    let mut short_ahs = header(2, 0);
    short_ahs.truncate(BHS_LEN + 4);
    assert_eq!(
        PduRef::new(short_ahs, Payload::None),
        Err(PduRefError::AhsLengthMismatch {
            declared: 8,
            actual: 4
        })
    );
    assert_eq!(
        PduRef::new(
            header(0, 8192),
            Payload::Task {
                task: 3,
                offset: 0,
                len: 4096
            }
        ),
        Err(PduRefError::DataLengthMismatch {
            declared: 8192,
            actual: 4096
        })
    );
    assert_eq!(
        PduRef::new(
            header(0, 16),
            Payload::Task {
                task: 3,
                offset: u32::MAX - 8,
                len: 16
            }
        ),
        Err(PduRefError::TaskRangeOverflow {
            offset: u32::MAX - 8,
            len: 16
        })
    );
}

#[test]
fn wire_length_counts_pad_and_digests() {
    let pdu = PduRef::new(header(0, 5), Payload::Inline(vec![7; 5])).unwrap();
    assert_eq!(pdu.pad_len(), 3);
    assert_eq!(pdu.wire_len(UlpSubmode::default()), 48 + 5 + 3);
    let both = UlpSubmode {
        header_digest: true,
        data_digest: true,
    };
    assert_eq!(pdu.wire_len(both), 48 + 4 + 5 + 3 + 4);

    let tx = TxData::new(tid(), pdu, both, true);
    assert_eq!(tx.ulp_submode(), both);
    assert_eq!(tx.wr_len(), 64);
    assert!(tx.completion_requested());

    let nop = PduRef::new(header(0, 0), Payload::None).unwrap();
    assert_eq!(nop.pad_len(), 0);
    let tx = TxData::new(tid(), nop, both, false);
    assert_eq!(tx.ulp_submode().bits(), 1, "no data digest without data");
    assert_eq!(tx.wr_len(), 52);

    let data = PduRef::new(
        header(0, 8192),
        Payload::Task {
            task: 9,
            offset: 4096,
            len: 8192,
        },
    )
    .unwrap();
    assert_eq!(data.pad_len(), 0);
    assert_eq!(
        data.wire_len(UlpSubmode {
            header_digest: false,
            data_digest: true
        }),
        48 + 8192 + 4
    );
}

#[test]
fn set_tcb_field_helpers() {
    let page = SetTcbField::ddp_page_size(tid(), PageSize::Size64K);
    assert_eq!(
        (page.word, page.mask, page.value),
        (31, 0xF000_0000, 0x3000_0000)
    );
    let digests = SetTcbField::ulp_submode(
        tid(),
        UlpSubmode {
            header_digest: true,
            data_digest: true,
        },
    );
    assert_eq!(
        (digests.word, digests.mask, digests.value),
        (31, 0x0F00_0000, 0x0300_0000)
    );
    let header_only = SetTcbField::ulp_submode(
        tid(),
        UlpSubmode {
            header_digest: true,
            data_digest: false,
        },
    );
    assert_eq!(header_only.value, 0x0100_0000);

    let word = digests.apply(page.apply(0xFFFF_FFFF_0000_1234));
    assert_eq!(word, 0xFFFF_FFFF_3300_1234);
    assert_eq!(tcb_ddp_page_size(word), Some(PageSize::Size64K));
    assert_eq!(
        tcb_ulp_submode(word),
        Some(UlpSubmode {
            header_digest: true,
            data_digest: true
        })
    );
    assert_eq!(tcb_ddp_page_size(0x7000_0000), None);
    assert_eq!(tcb_ulp_submode(0x0400_0000), None);
}

#[test]
fn requests_name_their_connection() {
    let peer: SocketAddr = "192.0.2.1:3260".parse().unwrap();
    let nop = PduRef::new(header(0, 0), Payload::None).unwrap();
    let cases = [
        (
            WorkRequest::ActOpen {
                atid: 0x10000,
                peer,
                local: None,
            },
            None,
        ),
        (
            WorkRequest::TxData(TxData::new(tid(), nop, UlpSubmode::default(), false)),
            Some(tid()),
        ),
        (
            WorkRequest::SetTcbField(SetTcbField::ddp_page_size(tid(), PageSize::Size4K)),
            Some(tid()),
        ),
        (
            WorkRequest::RxDataAck {
                tid: tid(),
                credits: 10240,
            },
            Some(tid()),
        ),
        (WorkRequest::CloseCon { tid: tid() }, Some(tid())),
        (WorkRequest::AbortReq { tid: tid() }, Some(tid())),
    ];
    for (request, request_tid) in cases {
        assert_eq!(request.tid(), request_tid, "{request:?}");
    }
}
