//! Engine receive: framing, direct placement, digests and hostile Data-In, against a scripted
//! peer on 127.0.0.1 over real io_uring.

mod common;

use common::*;
use iscsi_proto::digest::{crc32c, to_wire, Digests};
use iscsi_proto::pdu::BHS_LEN;
use t3_hw::{
    AbortReason, Completion, CplStatus, DdpStatus, Engine, EngineConfig, OwnedRing, PpmConfig,
    SetTcbField, Tid, UlpSubmode, WorkRequest,
};

const TASK: u32 = 1;

/// Switches digest checking on, as the initiator does after login.
fn enable_digests(ring: &mut OwnedRing, tid: Tid) {
    let submode = UlpSubmode {
        header_digest: true,
        data_digest: true,
    };
    ring.engine_mut()
        .post(WorkRequest::SetTcbField(SetTcbField::ulp_submode(
            tid, submode,
        )))
        .unwrap();
}

/// A connection with a guarded `len`-byte task buffer bound to a DDP tag; returns the ITT.
fn bound(ring: &mut OwnedRing, peer: &Peer, buffer: &mut Guarded, len: u32) -> (Tid, u32) {
    let tid = open(ring, 0x10000, peer.addr);
    buffer.register(ring.engine_mut(), TASK);
    let reservation = ring.engine_mut().reserve_ddp(tid, TASK, 7, len).unwrap();
    assert!(reservation.ddp.is_some(), "{reservation:?}");
    (tid, reservation.itt)
}

#[test]
fn data_in_lands_in_the_bound_buffer() {
    let peer = Peer::start();
    let mut ring = ring();
    let mut buffer = Guarded::new(65536);
    let (tid, itt) = bound(&mut ring, &peer, &mut buffer, 65536);
    let data = pattern(65536, 3);
    let mut wire = data_in(itt, 0, &data[..32768], Digests::NONE);
    wire.extend(data_in(itt, 32768, &data[32768..], Digests::NONE));
    peer.write(wire);
    for _ in 0..2 {
        let header = pdu(next_completion(&mut ring));
        assert_eq!(header.ddp_status, DdpStatus::DDP_PDU);
        assert!(header.data_placed());
        assert!(header.data.is_empty());
        assert_eq!(header.pdu_len, 48 + 32768);
        assert_eq!(itt_of(&header), itt);
    }
    assert_eq!(buffer.body(), data.as_slice());
    assert!(buffer.guards_intact());
    let counters = ring.engine().conn_counters(tid).unwrap();
    assert_eq!(counters.ddp_bytes, 65536);
    assert_eq!(counters.copied_bytes, 0);
    assert_eq!(counters.pdus_rx, 2);
    assert_eq!(counters.bytes_rx, 2 * (48 + 32768));
}

#[test]
fn data_digest_is_verified_over_placed_and_inline_data() {
    let peer = Peer::start();
    let mut ring = ring();
    let mut buffer = Guarded::new(16384);
    let (tid, itt) = bound(&mut ring, &peer, &mut buffer, 16384);
    enable_digests(&mut ring, tid);
    let data = pattern(16384, 9);
    let good = data_in(itt, 0, &data[..8190], Digests::BOTH);
    let mut corrupt = data_in(itt, 8190, &data[8190..], Digests::BOTH);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x40; // the data digest
    let mut inline_corrupt = nop_in(0x99, b"hello", Digests::BOTH);
    inline_corrupt[52] ^= 1; // first data byte
    peer.write([good, corrupt, inline_corrupt].concat());

    let first = pdu(next_completion(&mut ring));
    assert_eq!(first.ddp_status, DdpStatus::DDP_PDU);
    assert_eq!(first.pdu_len, 48 + 4 + 8192 + 4, "8190 bytes pad to 8192");
    let second = pdu(next_completion(&mut ring));
    assert_eq!(
        second.ddp_status,
        DdpStatus::DDP_PDU | DdpStatus::DATACRC_ERR
    );
    let third = pdu(next_completion(&mut ring));
    assert_eq!(third.ddp_status, DdpStatus::DATACRC_ERR);
    assert_eq!(third.data, b"iello");
    assert_eq!(buffer.body(), data.as_slice());
    assert!(buffer.guards_intact());
    let counters = ring.engine().conn_counters(tid).unwrap();
    assert_eq!(counters.data_digest_errors, 2);
    assert_eq!(counters.hdr_digest_errors, 0);
}

#[test]
fn corrupt_header_digest_is_reported_and_reading_stops() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    enable_digests(&mut ring, tid);
    let good = nop_in(1, b"", Digests::BOTH);
    let mut bad = nop_in(2, b"abcd", Digests::BOTH);
    bad[BHS_LEN] ^= 0xFF; // the header digest
    peer.write([good, bad, nop_in(3, b"", Digests::BOTH)].concat());
    let first = pdu(next_completion(&mut ring));
    assert_eq!((itt_of(&first), first.ddp_status), (1, DdpStatus::NONE));
    let second = pdu(next_completion(&mut ring));
    // The corrupt header is not decoded: none of its fields can be trusted.
    assert!(
        matches!(
            second.header,
            Err(iscsi_proto::pdu::PduError::HeaderDigest { .. })
        ),
        "{:?}",
        second.header
    );
    assert_eq!(second.ddp_status, DdpStatus::HDRCRC_ERR);
    assert!(second.data.is_empty());
    // Nothing after a corrupt header is trusted.
    let more = ring.run_until(
        |engine| engine.poll_completion().is_some(),
        std::time::Duration::from_millis(200),
    );
    assert!(more.is_err(), "no PDU after the corrupt header");
    assert_eq!(
        ring.engine().conn_counters(tid).unwrap().hdr_digest_errors,
        1
    );
}

#[test]
fn hostile_data_in_never_writes_outside_the_binding() {
    let peer = Peer::start();
    let mut ring = ring();
    let mut buffer = Guarded::new(16384);
    let (tid, stale) = bound(&mut ring, &peer, &mut buffer, 16384);
    // Release and rebind: the old tag now has a stale color.
    let old = ring.engine().ppm().lookup(stale).unwrap().tag;
    ring.engine_mut().ppm_mut().release(old).unwrap();
    let live = ring
        .engine_mut()
        .reserve_ddp(tid, TASK, 8, 16384)
        .unwrap()
        .itt;
    assert_ne!(live, stale);
    let color = live & 0x3F;
    let non_ddp = ring
        .engine()
        .ppm()
        .tag_format()
        .make_non_ddp_tag(5)
        .unwrap();
    let cases = [
        (stale, 0, 512, DdpStatus::COLOR_ERR),
        (
            (1500 << 6) | color,
            0,
            512,
            DdpStatus::INVALID_TAG | DdpStatus::ULIMIT_ERR,
        ),
        ((900 << 6) | color, 0, 512, DdpStatus::INVALID_PPOD),
        (live, 16384, 512, DdpStatus::OFFSET_ERR),
        (live, 16384 - 100, 512, DdpStatus::OFFSET_ERR),
        (live, u32::MAX - 10, 512, DdpStatus::OFFSET_ERR),
        (non_ddp, 0, 512, DdpStatus::NONE),
    ];
    let mut wire = Vec::new();
    for (index, (itt, offset, len, _)) in cases.iter().enumerate() {
        wire.extend(data_in(
            *itt,
            *offset,
            &pattern(*len, index as u8),
            Digests::NONE,
        ));
    }
    peer.write(wire);
    for (index, (itt, _, len, status)) in cases.iter().enumerate() {
        let header = pdu(next_completion(&mut ring));
        assert_eq!(itt_of(&header), *itt, "case {index}");
        assert_eq!(header.ddp_status, *status, "case {index}");
        assert!(!header.data_placed());
        assert_eq!(
            header.data,
            pattern(*len, index as u8),
            "case {index}: delivered inline"
        );
    }
    assert!(
        buffer.body().iter().all(|&byte| byte == 0),
        "buffer untouched"
    );
    assert!(buffer.guards_intact());
    let counters = ring.engine().conn_counters(tid).unwrap();
    let errors = counters.ddp_errors;
    assert_eq!(
        (
            errors.color,
            errors.invalid_tag,
            errors.invalid_ppod,
            errors.offset
        ),
        (1, 1, 1, 3)
    );
    assert_eq!(counters.copied_bytes, 7 * 512);

    // The live tag still places exactly where it should.
    let data = pattern(4096, 42);
    peer.write(data_in(live, 8192, &data, Digests::NONE));
    assert_eq!(
        pdu(next_completion(&mut ring)).ddp_status,
        DdpStatus::DDP_PDU
    );
    assert_eq!(&buffer.body()[8192..12288], data.as_slice());
    assert!(buffer.body()[..8192]
        .iter()
        .chain(&buffer.body()[12288..])
        .all(|&b| b == 0));
    assert!(buffer.guards_intact());
}

#[test]
fn pdus_split_into_single_bytes_are_reassembled() {
    let peer = Peer::start();
    let mut ring = ring();
    let mut buffer = Guarded::new(8192);
    let (tid, itt) = bound(&mut ring, &peer, &mut buffer, 8192);
    enable_digests(&mut ring, tid);
    let data = pattern(6001, 1);
    let wire = [
        nop_in(0x21, b"xyz", Digests::BOTH),
        data_in(itt, 1000, &data, Digests::BOTH),
        nop_in(0x22, b"", Digests::BOTH),
    ]
    .concat();
    peer.write_bytewise(wire);
    let seen: Vec<_> = completions(&mut ring, 3).into_iter().map(pdu).collect();
    assert_eq!(
        (itt_of(&seen[0]), seen[0].data.as_slice()),
        (0x21, &b"xyz"[..])
    );
    assert_eq!(seen[0].ddp_status, DdpStatus::NONE);
    assert_eq!(seen[1].ddp_status, DdpStatus::DDP_PDU);
    assert_eq!(itt_of(&seen[2]), 0x22);
    assert_eq!(&buffer.body()[1000..7001], data.as_slice());
    assert!(buffer.body()[..1000]
        .iter()
        .chain(&buffer.body()[7001..])
        .all(|&b| b == 0));
    assert!(buffer.guards_intact());
}

#[test]
fn a_large_payload_is_received_with_the_low_water_mark_raised() {
    assert_lowat_raised_only_when_enabled(false);
}

/// Forty inline NOP-Ins each followed by a placed Data-In, all in one write.
fn many_pdus_in_one_write(ring: &mut OwnedRing) -> t3_hw::ConnCounters {
    let peer = Peer::start();
    let mut buffer = Guarded::new(40 * 4096);
    let (tid, itt) = bound(ring, &peer, &mut buffer, 40 * 4096);
    let data = pattern(40 * 4096, 5);
    let mut wire = Vec::new();
    for index in 0..40u32 {
        let at = (index * 4096) as usize;
        wire.extend(nop_in(0x100 + index, &data[at..at + 13], Digests::NONE));
        wire.extend(data_in(
            itt,
            index * 4096,
            &data[at..at + 4096],
            Digests::NONE,
        ));
    }
    peer.write(wire);
    for index in 0..40u32 {
        let nop = pdu(next_completion(ring));
        assert_eq!(itt_of(&nop), 0x100 + index);
        let at = (index * 4096) as usize;
        assert_eq!(nop.data, &data[at..at + 13]);
        let placed = pdu(next_completion(ring));
        assert_eq!(placed.ddp_status, DdpStatus::DDP_PDU);
        assert!(placed.data_placed());
    }
    assert_eq!(buffer.body(), data.as_slice());
    assert!(buffer.guards_intact());
    let counters = ring.engine().conn_counters(tid).unwrap();
    assert_eq!(counters.pdus_rx, 80);
    assert_eq!(counters.ddp_bytes, 40 * 4096);
    counters
}

#[test]
fn exact_receives_cost_one_op_per_pdu() {
    let mut config = EngineConfig::new(PpmConfig::new(1024, 4096), 1 << 20);
    config.rx_staging_bytes = 0;
    let mut ring = OwnedRing::new(Engine::new(config).unwrap(), 256).unwrap();
    let counters = many_pdus_in_one_write(&mut ring);
    // The first header read, then one receive per PDU: the rest of it and the next header.
    assert_eq!(counters.rx_chains, counters.pdus_rx + 1);
    assert_eq!(counters.recv_calls, counters.rx_chains);
    assert_eq!(
        counters.staged_bytes, 0,
        "every payload went straight to its buffer"
    );
    assert_eq!(counters.short_transfers, 0);
}

#[test]
fn read_ahead_takes_many_pdus_per_receive() {
    let counters = many_pdus_in_one_write(&mut ring());
    // After each inline NOP-In a receive reads ahead; payload caught that way is copied into
    // its task buffer by the engine, the rest is received in place.
    assert!(
        counters.rx_chains * 4 < counters.pdus_rx,
        "{} receives for {} PDUs",
        counters.rx_chains,
        counters.pdus_rx
    );
    assert!(counters.staged_bytes > 0);
    assert!(counters.staged_bytes <= counters.ddp_bytes);
}

#[test]
fn additional_header_segments_are_framed() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    enable_digests(&mut ring, tid);
    let ahs = [0x00, 0x04, 0x01, 0x00, 0xDE, 0xAD, 0xBE, 0xEF];
    let plain = nop_in(0x31, b"", Digests::NONE);
    let mut header = plain[..BHS_LEN].to_vec();
    header[4] = 2; // TotalAHSLength in words
    header.extend_from_slice(&ahs);
    let mut wire = header.clone();
    wire.extend_from_slice(&to_wire(crc32c(&header)));
    wire.extend_from_slice(&nop_in(0x32, b"next", Digests::BOTH));
    peer.write(wire);
    let got = pdu(next_completion(&mut ring));
    assert_eq!(itt_of(&got), 0x31);
    assert_eq!(got.ddp_status, DdpStatus::NONE);
    assert_eq!(got.pdu_len, 48 + 8 + 4);
    // The PDU behind it starts where the AHS and its digest end.
    let next = pdu(next_completion(&mut ring));
    assert_eq!((itt_of(&next), next.data.as_slice()), (0x32, &b"next"[..]));
}

#[test]
fn oversize_data_segment_aborts_before_buffering() {
    let peer = Peer::start();
    let mut ring = ring_with(8192);
    let tid = open(&mut ring, 0x10000, peer.addr);
    peer.write(nop_in(1, &vec![0u8; 9000], Digests::NONE));
    assert_eq!(
        next_completion(&mut ring),
        Completion::Abort {
            tid,
            status: CplStatus::General
        }
    );
    assert_eq!(
        ring.engine().abort_reason(tid),
        Some(AbortReason::DataSegmentTooLong {
            len: 9000,
            max: 8192
        })
    );
    let counters = ring.engine().conn_counters(tid).unwrap();
    assert_eq!((counters.pdus_rx, counters.copied_bytes), (0, 0));
    ring.run_until(|engine| engine.ops_in_flight() == 0, TIMEOUT)
        .unwrap();
    assert!(ring.engine().peer_addr(tid).is_none(), "socket closed");
}

#[test]
fn several_connections_share_one_engine() {
    let peers: Vec<Peer> = (0..3).map(|_| Peer::start()).collect();
    let mut ring = ring();
    let mut buffers: Vec<Guarded> = (0..3).map(|_| Guarded::new(8192)).collect();
    let mut conns = Vec::new();
    for (index, (peer, buffer)) in peers.iter().zip(&mut buffers).enumerate() {
        let tid = open(&mut ring, 0x10000 + index as u32, peer.addr);
        let task = 10 + index as u32;
        buffer.register(ring.engine_mut(), task);
        let itt = ring
            .engine_mut()
            .reserve_ddp(tid, task, task, 8192)
            .unwrap()
            .itt;
        conns.push((tid, itt));
    }
    // Peer 1 also tries connection 0's tag: the pods belong to another connection.
    peers[1].write(data_in(conns[0].1, 0, &pattern(512, 0), Digests::NONE));
    assert_eq!(
        pdu(next_completion(&mut ring)).ddp_status,
        DdpStatus::TID_MISMATCH
    );
    for (index, peer) in peers.iter().enumerate() {
        peer.write(data_in(
            conns[index].1,
            0,
            &pattern(8192, index as u8),
            Digests::NONE,
        ));
    }
    let mut placed = completions(&mut ring, 3)
        .into_iter()
        .map(|completion| {
            let header = pdu(completion);
            assert_eq!(header.ddp_status, DdpStatus::DDP_PDU);
            header.tid
        })
        .collect::<Vec<_>>();
    placed.sort();
    let mut expected: Vec<Tid> = conns.iter().map(|(tid, _)| *tid).collect();
    expected.sort();
    assert_eq!(placed, expected);
    for (index, buffer) in buffers.iter().enumerate() {
        assert_eq!(buffer.body(), pattern(8192, index as u8).as_slice());
        assert!(buffer.guards_intact());
    }
    assert_eq!(
        ring.engine()
            .conn_counters(conns[1].0)
            .unwrap()
            .ddp_errors
            .tid_mismatch,
        1
    );
}

#[test]
fn padding_bytes_must_be_zero() {
    let peer = Peer::start();
    let mut ring = ring();
    let tid = open(&mut ring, 0x10000, peer.addr);
    let mut wire = nop_in(1, b"abcde", Digests::NONE);
    let last = wire.len() - 1;
    wire[last] = 0x55;
    peer.write(wire);
    let got = pdu(next_completion(&mut ring));
    assert_eq!(got.ddp_status, DdpStatus::PADDING_ERR);
    assert_eq!(got.data, b"abcde");
    assert_eq!(ring.engine().conn_counters(tid).unwrap().pad_errors, 1);
}

/// A connection aborted while a receive into a task buffer is in flight (half a Data-In has
/// arrived): once the engine reports the connection settled, no operation of it is left, and
/// nothing the peer still sends reaches the buffer. The queue loop reissues a command, and so
/// reuses its buffer, only after this point.
#[test]
fn nothing_touches_a_buffer_after_its_aborted_connection_settled() {
    let peer = Peer::start();
    let mut ring = ring();
    let mut buffer = Guarded::new(65536);
    let (tid, itt) = bound(&mut ring, &peer, &mut buffer, 65536);
    let wire = data_in(itt, 0, &pattern(65536, 5), Digests::NONE);
    let half = BHS_LEN + 16384;
    peer.write(wire[..half].to_vec());
    // Long enough for the engine to post its receive of the payload and take the first half.
    let _ = ring.run_until(|_| false, std::time::Duration::from_millis(300));
    assert!(ring.engine().ops_in_flight() > 0, "a receive is in flight");
    assert!(!ring.engine().conn_settled(tid));
    ring.engine_mut()
        .post(WorkRequest::AbortReq { tid })
        .unwrap();
    ring.run_until(|engine| engine.conn_settled(tid), TIMEOUT)
        .expect("the aborted connection settles");
    assert_eq!(ring.engine().ops_in_flight(), 0);
    let settled = buffer.body().to_vec();
    peer.write(wire[half..].to_vec());
    let _ = ring.run_until(|_| false, std::time::Duration::from_millis(300));
    assert_eq!(
        buffer.body(),
        settled.as_slice(),
        "written after the connection settled"
    );
    assert!(buffer.guards_intact());
}
