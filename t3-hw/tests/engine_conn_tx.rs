//! Engine connections and transmit, against a scripted peer on 127.0.0.1 over real io_uring.

mod common;

use std::net::{SocketAddr, TcpListener};

use common::*;
use iscsi_proto::digest::Digests;
use iscsi_proto::pdu::{encode_pdu, DataOut, Header, NopOut, Pdu};
use t3_hw::{
    AbortReason, Completion, CplStatus, Payload, PduRef, PostError, SetTcbField, Tid, TxData,
    UlpSubmode, WorkRequest,
};

fn submode(digests: Digests) -> UlpSubmode {
    UlpSubmode {
        header_digest: digests.header,
        data_digest: digests.data,
    }
}

fn nop_out(itt: u32) -> Header {
    Header::NopOut(NopOut {
        itt,
        ttt: 0xFFFF_FFFF,
        ..NopOut::default()
    })
}

fn data_out(itt: u32, offset: u32) -> Header {
    Header::DataOut(DataOut {
        final_: true,
        itt,
        buffer_offset: offset,
        ..DataOut::default()
    })
}

/// A TX_DATA for `header` with `payload`, and the bytes the wire must carry for it.
fn tx(
    tid: Tid,
    header: &Header,
    payload: Payload,
    data: &[u8],
    digests: Digests,
) -> (WorkRequest, Vec<u8>) {
    let bytes = header.encode(data.len()).unwrap();
    let mut head = bytes.bhs.to_vec();
    head.extend_from_slice(&bytes.ahs);
    let pdu = PduRef::new(head, payload).unwrap();
    let wire = encode_pdu(&Pdu::new(header.clone(), data.to_vec()), digests).unwrap();
    (
        WorkRequest::TxData(TxData::new(tid, pdu, submode(digests), false)),
        wire,
    )
}

/// Entries of /proc/net/tcp (local port, remote port, state) for 127.0.0.1 connections.
fn proc_net_tcp() -> Vec<(u16, u16, u8)> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = |field: &str| u16::from_str_radix(field.split(':').nth(1)?, 16).ok();
            Some((
                port(fields.get(1)?)?,
                port(fields.get(2)?)?,
                u8::from_str_radix(fields.get(3)?, 16).ok()?,
            ))
        })
        .collect()
}

const TCP_ESTABLISHED: u8 = 1;

#[test]
fn connection_is_an_ordinary_host_tcp_connection() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    let local = ring.engine().local_addr(tid).unwrap();
    assert_eq!(peer.accepted_from(), local);
    assert_eq!(ring.engine().peer_addr(tid), Some(peer.addr));
    assert!(
        proc_net_tcp().contains(&(local.port(), peer.addr.port(), TCP_ESTABLISHED)),
        "engine socket {local} not ESTABLISHED in /proc/net/tcp"
    );
}

#[test]
fn refused_connect_reports_act_open_rpl() {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut ring = ring();
    ring.engine_mut()
        .post(WorkRequest::ActOpen {
            atid: 0x10007,
            peer: closed_port,
            local: None,
        })
        .unwrap();
    let completion = next_completion(&mut ring);
    assert_eq!(
        completion,
        Completion::ActOpenRpl {
            atid: 0x10007,
            status: CplStatus::ConnReset
        }
    );
    assert_eq!(CplStatus::ConnReset.act_open_errno(), libc::ECONNREFUSED);
    assert_eq!(ring.engine().ops_in_flight(), 0);
}

#[test]
fn ipv6_loopback_connects_when_available() {
    let peer = match Peer::start_on("[::1]:0") {
        Ok(peer) => peer,
        Err(error) => {
            let reason = format!("no IPv6 loopback here (binding [::1]:0: {error})");
            return skip("ipv6_loopback_connects_when_available", &reason);
        }
    };
    let mut ring = ring();
    let tid = open(&mut ring, 0x10001, peer.addr);
    let local = ring.engine().local_addr(tid).unwrap();
    assert!(matches!(local, SocketAddr::V6(_)));
    assert_eq!(peer.accepted_from(), local);
}

#[test]
fn transmit_gathers_task_inline_and_digests_byte_exact() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    let mut buffer = Guarded::new(8192);
    let content = pattern(8192, 7);
    // SAFETY: writing the test's own buffer before it is registered.
    unsafe { std::ptr::copy_nonoverlapping(content.as_ptr(), buffer.ptr(), content.len()) };
    buffer.register(ring.engine_mut(), 3);

    let cases = [
        // Task payload with 3 pad bytes, both digests.
        tx(
            tid,
            &data_out(0x11, 100),
            Payload::Task {
                task: 3,
                offset: 100,
                len: 1001,
            },
            &content[100..1101],
            Digests::BOTH,
        ),
        // Inline payload with padding, both digests.
        tx(
            tid,
            &nop_out(0x12),
            Payload::Inline(b"ping!".to_vec()),
            b"ping!",
            Digests::BOTH,
        ),
        // No data: header digest only on the wire.
        tx(tid, &nop_out(0x13), Payload::None, &[], Digests::BOTH),
        // Task payload, no digests.
        tx(
            tid,
            &data_out(0x14, 4096),
            Payload::Task {
                task: 3,
                offset: 4096,
                len: 4096,
            },
            &content[4096..],
            Digests::NONE,
        ),
    ];
    let mut expected = Vec::new();
    for (request, wire) in cases {
        ring.engine_mut().post(request).unwrap();
        expected.extend_from_slice(&wire);
    }
    let mut acked = 0;
    while acked < 4 {
        match next_completion(&mut ring) {
            Completion::TxDmaAck { tid: got, credits } => {
                assert_eq!(got, tid);
                acked += credits;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    match peer.read(expected.len()) {
        Reply::Bytes(bytes) => assert_eq!(bytes, expected),
        other => panic!("peer read failed: {other:?}"),
    }
    let counters = ring.engine().conn_counters(tid).unwrap();
    assert_eq!(counters.pdus_tx, 4);
    assert_eq!(counters.bytes_tx, expected.len() as u64);
    assert_eq!(counters.sendmsg_calls, 1, "four PDUs in one SENDMSG");
}

#[test]
fn credit_stall_queues_requests_until_tx_dma_ack() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    let mut expected = Vec::new();
    for itt in 0..20 {
        let (request, wire) = tx(tid, &nop_out(itt), Payload::None, &[], Digests::NONE);
        ring.engine_mut().post(request).unwrap();
        expected.extend_from_slice(&wire);
    }
    let acks: Vec<u16> = completions(&mut ring, 2)
        .into_iter()
        .map(|completion| match completion {
            Completion::TxDmaAck { credits, .. } => credits,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(acks, vec![15, 5], "15 credits, then the 5 that waited");
    let counters = ring.engine().conn_counters(tid).unwrap();
    assert_eq!(counters.credit_stalls, 1);
    assert_eq!(counters.pdus_tx, 20);
    match peer.read(expected.len()) {
        Reply::Bytes(bytes) => assert_eq!(bytes, expected, "in order"),
        other => panic!("peer read failed: {other:?}"),
    }
}

#[test]
fn close_sends_queued_data_then_fin() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    let (request, wire) = tx(
        tid,
        &nop_out(1),
        Payload::Inline(vec![1, 2, 3, 4]),
        &[1, 2, 3, 4],
        Digests::NONE,
    );
    ring.engine_mut().post(request).unwrap();
    ring.engine_mut()
        .post(WorkRequest::CloseCon { tid })
        .unwrap();
    let (again, _) = tx(tid, &nop_out(2), Payload::None, &[], Digests::NONE);
    assert_eq!(
        ring.engine_mut().post(again),
        Err(PostError::Closing { tid })
    );
    let seen = completions(&mut ring, 2);
    assert!(matches!(seen[0], Completion::TxDmaAck { credits: 1, .. }));
    assert_eq!(seen[1], Completion::CloseConRpl { tid });
    match peer.read_to_end() {
        Reply::Bytes(bytes) => assert_eq!(bytes, wire),
        other => panic!("peer read failed: {other:?}"),
    }
    assert_eq!(ring.engine().ops_in_flight(), 0);
    let (late, _) = tx(tid, &nop_out(3), Payload::None, &[], Digests::NONE);
    assert_eq!(
        ring.engine_mut().post(late),
        Err(PostError::UnknownTid { tid })
    );
}

#[test]
fn engine_totals_keep_the_counters_of_closed_connections() {
    let peer = Peer::start();
    let mut ring = ring();
    let first = open(&mut ring, 0x10000, peer.addr);
    let (request, wire) = tx(first, &nop_out(1), Payload::None, &[], Digests::NONE);
    ring.engine_mut().post(request).unwrap();
    ring.engine_mut()
        .post(WorkRequest::CloseCon { tid: first })
        .unwrap();
    completions(&mut ring, 2);
    assert_eq!(ring.engine().counter_totals().pdus_tx, 1);
    assert_eq!(ring.engine().counter_totals().bytes_tx, wire.len() as u64);
    // A second connection's PDUs add to the first's.
    let second_peer = Peer::start();
    let second = open(&mut ring, 0x10001, second_peer.addr);
    let (request, _) = tx(second, &nop_out(2), Payload::None, &[], Digests::NONE);
    ring.engine_mut().post(request).unwrap();
    assert!(matches!(
        next_completion(&mut ring),
        Completion::TxDmaAck { .. }
    ));
    assert_eq!(ring.engine().counter_totals().pdus_tx, 2);
}

#[test]
fn abort_resets_the_connection() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    ring.engine_mut()
        .post(WorkRequest::AbortReq { tid })
        .unwrap();
    assert_eq!(next_completion(&mut ring), Completion::AbortRpl { tid });
    assert!(matches!(
        peer.read(1),
        Reply::Error(std::io::ErrorKind::ConnectionReset)
    ));
    assert_eq!(
        ring.engine().abort_reason(tid),
        Some(AbortReason::Requested)
    );
    // Aborting what is already gone completes at once.
    ring.engine_mut()
        .post(WorkRequest::AbortReq { tid })
        .unwrap();
    assert_eq!(next_completion(&mut ring), Completion::AbortRpl { tid });
}

#[test]
fn peer_fin_is_peer_close_and_close_completes() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    peer.shutdown_write();
    assert_eq!(next_completion(&mut ring), Completion::PeerClose { tid });
    // Half-closed: we can still send, then close.
    let (request, wire) = tx(tid, &nop_out(9), Payload::None, &[], Digests::NONE);
    ring.engine_mut().post(request).unwrap();
    ring.engine_mut()
        .post(WorkRequest::CloseCon { tid })
        .unwrap();
    let seen = completions(&mut ring, 2);
    assert!(matches!(seen[0], Completion::TxDmaAck { .. }));
    assert_eq!(seen[1], Completion::CloseConRpl { tid });
    match peer.read_to_end() {
        Reply::Bytes(bytes) => assert_eq!(bytes, wire),
        other => panic!("peer read failed: {other:?}"),
    }
}

#[test]
fn requests_for_unknown_connections_and_bad_tcb_words_are_refused() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    let stranger = Tid::new(0x77).unwrap();
    let (request, _) = tx(stranger, &nop_out(1), Payload::None, &[], Digests::NONE);
    assert_eq!(
        ring.engine_mut().post(request),
        Err(PostError::UnknownTid { tid: stranger })
    );
    let field = SetTcbField {
        tid,
        word: 30,
        mask: 1,
        value: 1,
    };
    assert_eq!(
        ring.engine_mut().post(WorkRequest::SetTcbField(field)),
        Err(PostError::UnsupportedTcbWord { word: 30 })
    );
    let bad_page = SetTcbField {
        tid,
        word: 31,
        mask: 0xF000_0000,
        value: 0x7000_0000,
    };
    assert_eq!(
        ring.engine_mut().post(WorkRequest::SetTcbField(bad_page)),
        Err(PostError::InvalidTcbValue { value: 0x7000_0000 })
    );
    let (task_payload, _) = tx(
        tid,
        &data_out(1, 0),
        Payload::Task {
            task: 99,
            offset: 0,
            len: 4,
        },
        &[0; 4],
        Digests::NONE,
    );
    assert!(matches!(
        ring.engine_mut().post(task_payload),
        Err(PostError::TaskBuffer(
            t3_hw::TaskBufferError::NotRegistered { task: 99 }
        ))
    ));
    ring.engine_mut()
        .post(WorkRequest::RxDataAck { tid, credits: 4096 })
        .unwrap();
    assert_eq!(
        ring.engine_mut().post(WorkRequest::ActOpen {
            atid: 5,
            peer: peer.addr,
            local: None
        }),
        Ok(())
    );
    assert_eq!(
        ring.engine_mut().post(WorkRequest::ActOpen {
            atid: 5,
            peer: peer.addr,
            local: None
        }),
        Err(PostError::DuplicateAtid { atid: 5 })
    );
}

#[test]
fn peer_reset_is_abort_with_conn_reset() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    peer.reset();
    assert_eq!(
        next_completion(&mut ring),
        Completion::Abort {
            tid,
            status: CplStatus::ConnReset
        }
    );
    assert_eq!(
        ring.engine().abort_reason(tid),
        Some(AbortReason::Socket {
            errno: libc::ECONNRESET
        })
    );
    let (request, _) = tx(tid, &nop_out(1), Payload::None, &[], Digests::NONE);
    assert!(matches!(
        ring.engine_mut().post(request),
        Err(PostError::UnknownTid { .. } | PostError::Closing { .. })
    ));
    ring.run_until(|engine| engine.ops_in_flight() == 0, TIMEOUT)
        .unwrap();
    // The initiator's ABORT_REQ after the engine's ABORT completes at once.
    ring.engine_mut()
        .post(WorkRequest::AbortReq { tid })
        .unwrap();
    assert_eq!(next_completion(&mut ring), Completion::AbortRpl { tid });
}

#[test]
fn a_send_waiting_only_for_its_reply_goes_out_silent() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    let (request, wire) = tx(tid, &nop_out(7), Payload::None, &[], Digests::NONE);
    ring.engine_mut().post(request).unwrap();
    // The peer answers once it has read the request.
    let reply = std::thread::spawn({
        let len = wire.len();
        move || {
            let got = peer.read(len);
            peer.write(nop_in(7, b"", Digests::NONE));
            (got, peer)
        }
    });
    let mut seen = Vec::new();
    ring.run_until_received(
        |engine| {
            while let Some(completion) = engine.poll_completion() {
                seen.push(completion);
            }
            seen.iter()
                .any(|completion| matches!(completion, Completion::IscsiHdr(_)))
        },
        TIMEOUT,
    )
    .unwrap();
    let (got, _peer) = reply.join().unwrap();
    match got {
        Reply::Bytes(bytes) => assert_eq!(bytes, wire),
        other => panic!("peer read failed: {other:?}"),
    }
    assert!(
        seen.contains(&Completion::TxDmaAck { tid, credits: 1 }),
        "the send completed without a CQE of its own: {seen:?}"
    );
    let counters = ring.engine().conn_counters(tid).unwrap();
    assert_eq!((counters.silent_sends, counters.pdus_tx), (1, 1));
}
