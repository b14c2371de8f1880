//! Engine I/O on io_uring fixed buffers (the zero-copy ublk mode): placement with READ_FIXED,
//! transmit with WRITE_FIXED, and the refusal of data digests over unmapped bytes.

mod common;

use common::*;
use iscsi_proto::digest::Digests;
use iscsi_proto::pdu::{encode_pdu, DataOut, Header, Pdu};
use t3_hw::{
    Completion, DdpStatus, Payload, PduRef, PostError, ReserveError, SetTcbField, TaskBufferError,
    TxData, UlpSubmode, WorkRequest,
};

const TASK: u32 = 4;
const BUF_INDEX: u16 = 0;

#[test]
fn fixed_buffer_receives_by_read_fixed_and_sends_by_write_fixed() {
    let peer = Peer::start();
    // Declared before the ring so the registered memory outlives it.
    let mut buffer = Guarded::new(65536);
    let mut ring = ring();
    let iovec = libc::iovec {
        iov_base: buffer.ptr().cast(),
        iov_len: 65536,
    };
    // SAFETY: `buffer` outlives the ring.
    unsafe { ring.register_buffers(&[iovec]) }.unwrap();
    ring.engine_mut()
        .register_fixed_task_buffer(TASK, BUF_INDEX, buffer.ptr() as u64, 65536);
    let tid = open(&mut ring, 0x10000, peer.addr);

    let reservation = ring.engine_mut().reserve_ddp(tid, TASK, 1, 65536).unwrap();
    assert!(reservation.ddp.is_some(), "a DDP tag");

    let data = pattern(65536, 11);
    peer.write(data_in(reservation.itt, 0, &data, Digests::NONE));
    let header = pdu(next_completion(&mut ring));
    assert_eq!(header.ddp_status, DdpStatus::DDP_PDU);
    assert_eq!(buffer.body(), data.as_slice());
    assert!(buffer.guards_intact());
    let counters = ring.engine().conn_counters(tid).unwrap();
    assert!(counters.read_fixed_calls >= 1);
    eprintln!(
        "64 KiB placed with {} READ_FIXED in {} receive chains",
        counters.read_fixed_calls, counters.rx_chains
    );
    // The first header's RECV, and the next header's if its chain went out already.
    assert!(counters.recv_calls <= 2, "only header reads use RECV");
    assert!(
        counters.lowat_raises >= 1,
        "the 64 KiB payload waits with SO_RCVLOWAT raised"
    );

    // Send part of the buffer back as a Data-Out payload.
    let out = Header::DataOut(DataOut {
        final_: true,
        itt: 0x55,
        buffer_offset: 4096,
        ..DataOut::default()
    });
    let bytes = out.encode(10001).unwrap();
    let payload = Payload::Task {
        task: TASK,
        offset: 4096,
        len: 10001,
    };
    let header_digest = UlpSubmode {
        header_digest: true,
        data_digest: false,
    };
    let request = TxData::new(
        tid,
        PduRef::new(bytes.bhs.to_vec(), payload.clone()).unwrap(),
        header_digest,
        false,
    );
    ring.engine_mut()
        .post(WorkRequest::TxData(request))
        .unwrap();
    let digests = Digests {
        header: true,
        data: false,
    };
    let expected = encode_pdu(&Pdu::new(out, data[4096..14097].to_vec()), digests).unwrap();
    assert_eq!(
        next_completion(&mut ring),
        Completion::TxDmaAck { tid, credits: 1 }
    );
    match peer.read(expected.len()) {
        Reply::Bytes(bytes) => assert_eq!(bytes, expected),
        other => panic!("peer read failed: {other:?}"),
    }
    let counters = ring.engine().conn_counters(tid).unwrap();
    assert_eq!(counters.write_fixed_calls, 1);
    assert_eq!(
        counters.corked_chains, 1,
        "header and payload went out corked"
    );

    // With a data digest negotiated, fixed buffers are refused both ways.
    let both = UlpSubmode {
        header_digest: true,
        data_digest: true,
    };
    ring.engine_mut()
        .post(WorkRequest::SetTcbField(SetTcbField::ulp_submode(
            tid, both,
        )))
        .unwrap();
    let refusal = TaskBufferError::FixedWithDataDigest {
        task: TASK,
        buf_index: BUF_INDEX,
    };
    assert_eq!(
        ring.engine_mut().reserve_ddp(tid, TASK, 2, 4096),
        Err(ReserveError::TaskBuffer(refusal))
    );
    let digested = TxData::new(
        tid,
        PduRef::new(bytes.bhs.to_vec(), payload).unwrap(),
        both,
        false,
    );
    assert_eq!(
        ring.engine_mut().post(WorkRequest::TxData(digested)),
        Err(PostError::TaskBuffer(refusal))
    );
    // A tag bound before the digest was switched on is no longer placed into.
    peer.write(data_in(reservation.itt, 0, &pattern(512, 1), Digests::BOTH));
    let header = pdu(next_completion(&mut ring));
    assert_eq!(header.ddp_status, DdpStatus::LLIMIT_ERR);
    assert_eq!(header.data, pattern(512, 1));
}

#[test]
fn a_large_fixed_buffer_payload_is_received_with_the_low_water_mark_raised() {
    assert_lowat_raised_only_when_enabled(true);
}
