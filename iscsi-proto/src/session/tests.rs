//! Session behaviour against scripted target PDUs.

use super::*;
use crate::pdu::{task_attr, Opcode};
use proptest::prelude::*;

const LUN: u64 = 0x0001_0000_0000_0000;

/// Recognises the error a hostile PDU must produce.
type Expect = fn(&SessionError) -> bool;

/// Bytes in the data segment of a PDU the session wants sent.
fn data_len(data: &OutData) -> usize {
    match data {
        OutData::None => 0,
        OutData::Inline(bytes) => bytes.len(),
        OutData::Task { len, .. } => *len as usize,
    }
}

fn params(immediate_data: bool, initial_r2t: bool) -> SessionParams {
    SessionParams {
        immediate_data,
        initial_r2t,
        first_burst_length: 65536,
        max_burst_length: 262144,
        max_xmit_data_segment_length: 8192,
        max_recv_data_segment_length: 262144,
        max_outstanding_r2t: 1,
        ..SessionParams::default()
    }
}

fn session(p: SessionParams) -> Session {
    Session::new(
        p,
        SessionStart {
            cmdsn: 100,
            statsn: 7,
            expcmdsn: 100,
            maxcmdsn: 131,
        },
    )
}

fn read_cmd(itt: u32, len: u32) -> Command {
    Command {
        itt,
        lun: LUN,
        cdb: vec![0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0],
        direction: Direction::Read,
        data_len: len,
        attr: task_attr::SIMPLE,
    }
}

fn write_cmd(itt: u32, len: u32) -> Command {
    Command {
        cdb: vec![0x8a; 16],
        direction: Direction::Write,
        ..read_cmd(itt, len)
    }
}

fn drain(s: &mut Session) -> Vec<OutPdu> {
    std::iter::from_fn(|| s.poll_transmit()).collect()
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

fn data_in(itt: u32, datasn: u32, offset: u32, status: Option<u8>) -> Header {
    Header::DataIn(DataIn {
        final_: status.is_some(),
        has_status: status.is_some(),
        status: status.unwrap_or(0),
        lun: LUN,
        itt,
        ttt: RESERVED_TAG,
        statsn: 8,
        expcmdsn: 101,
        maxcmdsn: 132,
        datasn,
        buffer_offset: offset,
        ..Default::default()
    })
}

fn response(itt: u32, status: u8) -> Header {
    Header::ScsiResponse(ScsiResponse {
        status,
        itt,
        statsn: 8,
        expcmdsn: 101,
        maxcmdsn: 132,
        ..Default::default()
    })
}

/// Feeds a GOOD SCSI response for `itt` and checks it completes that task and nothing else.
fn completes_with_good_status(s: &mut Session, itt: u32) {
    s.handle(&response(itt, 0), Segment::Inline(&[])).unwrap();
    let done = events(s);
    assert!(
        matches!(
            &done[..],
            [Event::TaskComplete {
                itt: done_itt,
                outcome: TaskOutcome::Status { status: 0, .. },
                ..
            }] if *done_itt == itt
        ),
        "{done:?}"
    );
}

fn r2t(itt: u32, r2tsn: u32, offset: u32, len: u32) -> Header {
    Header::R2t(R2t {
        lun: LUN,
        itt,
        ttt: 0x500 + r2tsn,
        statsn: 8,
        expcmdsn: 101,
        maxcmdsn: 132,
        r2tsn,
        buffer_offset: offset,
        desired_len: len,
    })
}

#[test]
fn read_in_two_data_ins_with_phase_collapse() {
    let mut s = session(params(true, false));
    s.submit(read_cmd(0x40, 16384)).unwrap();
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    let Header::ScsiCommand(cmd) = &out[0].header else {
        panic!("{out:?}")
    };
    assert!(cmd.read && !cmd.write && cmd.final_);
    assert_eq!(
        (cmd.cmdsn, cmd.expstatsn, cmd.expected_len),
        (100, 8, 16384)
    );
    assert_eq!(out[0].data, OutData::None);

    let r = s
        .handle(&data_in(0x40, 0, 0, None), Segment::Placed(8192))
        .unwrap();
    assert_eq!(
        r,
        Received::DataIn {
            itt: 0x40,
            offset: 0,
            len: 8192
        }
    );
    assert!(events(&mut s).is_empty());
    let r = s
        .handle(
            &data_in(0x40, 1, 8192, Some(0)),
            Segment::Inline(&[7u8; 8192]),
        )
        .unwrap();
    assert_eq!(
        r,
        Received::DataIn {
            itt: 0x40,
            offset: 8192,
            len: 8192
        }
    );
    assert_eq!(
        events(&mut s),
        vec![Event::TaskComplete {
            itt: 0x40,
            outcome: TaskOutcome::Status {
                status: 0,
                sense: None,
                residual: Residual::None
            },
            data_in_bytes: 16384,
        }]
    );
    assert_eq!(s.unfinished().count(), 0);
    // The ITT is free again and the next command acknowledges StatSN 8.
    s.submit(read_cmd(0x40, 512)).unwrap();
    let Header::ScsiCommand(cmd) = &drain(&mut s)[0].header else {
        panic!()
    };
    assert_eq!((cmd.cmdsn, cmd.expstatsn), (101, 9));
}

#[test]
fn closed_window_holds_commands_until_maxcmdsn_moves() {
    let mut s = Session::new(
        params(true, false),
        SessionStart {
            cmdsn: 5,
            statsn: 0,
            expcmdsn: 5,
            maxcmdsn: 5,
        },
    );
    s.submit(read_cmd(1, 512)).unwrap();
    s.submit(read_cmd(2, 512)).unwrap();
    assert_eq!(drain(&mut s).len(), 1);
    assert_eq!(s.window_room(), 0);
    assert!(s.poll_transmit().is_none());
    assert!(s.stats().window_stalls > 0);
    // A NOP-In (no ping) opens the window.
    s.handle(
        &Header::NopIn(NopIn {
            itt: RESERVED_TAG,
            ttt: RESERVED_TAG,
            statsn: 0,
            expcmdsn: 6,
            maxcmdsn: 10,
            ..Default::default()
        }),
        Segment::Inline(&[]),
    )
    .unwrap();
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0].header, Header::ScsiCommand(c) if c.itt == 2 && c.cmdsn == 6));
}

/// Immediate data, unsolicited Data-Out up to FirstBurstLength, then an R2T for the rest.
#[test]
fn write_with_immediate_unsolicited_and_solicited_data() {
    let mut s = session(params(true, false));
    s.submit(write_cmd(9, 256 * 1024)).unwrap();
    let out = drain(&mut s);
    let Header::ScsiCommand(cmd) = &out[0].header else {
        panic!()
    };
    assert!(cmd.write && !cmd.final_, "unsolicited Data-Out follows");
    assert_eq!(
        out[0].data,
        OutData::Task {
            itt: 9,
            offset: 0,
            len: 8192
        }
    );
    // 64 KiB first burst = 8 KiB immediate + 7 Data-Out of 8 KiB, TTT reserved, DataSN 0..6.
    assert_eq!(out.len(), 8);
    for (i, pdu) in out[1..].iter().enumerate() {
        let Header::DataOut(d) = &pdu.header else {
            panic!()
        };
        assert_eq!(d.ttt, RESERVED_TAG);
        assert_eq!(d.datasn, i as u32);
        assert_eq!(d.buffer_offset, 8192 * (i as u32 + 1));
        assert_eq!(d.final_, i == 6);
        assert_eq!(data_len(&pdu.data), 8192);
    }
    s.handle(&r2t(9, 0, 65536, 196608), Segment::Inline(&[]))
        .unwrap();
    let out = drain(&mut s);
    assert_eq!(out.len(), 24);
    let mut expect_offset = 65536;
    for (i, pdu) in out.iter().enumerate() {
        let Header::DataOut(d) = &pdu.header else {
            panic!()
        };
        assert_eq!(
            (d.ttt, d.datasn, d.buffer_offset),
            (0x500, i as u32, expect_offset)
        );
        assert_eq!(d.final_, i == 23);
        expect_offset += 8192;
    }
    completes_with_good_status(&mut s, 9);
}

/// tgtd's defaults (InitialR2T=Yes, FirstBurstLength 64 KiB, MaxBurstLength 256 KiB,
/// MaxRecvDataSegmentLength 8 KiB): a 1 MiB write is one command whose data goes as immediate
/// data and then one solicited sequence per R2T, each at most MaxBurstLength.
#[test]
fn write_longer_than_max_burst_takes_one_sequence_per_r2t() {
    const LEN: u32 = 1 << 20;
    const MAX_BURST: u32 = 262_144;
    let mut s = session(params(true, true));
    s.submit(write_cmd(5, LEN)).unwrap();
    let out = drain(&mut s);
    assert_eq!(out.len(), 1, "InitialR2T=Yes: no unsolicited Data-Out");
    assert!(matches!(&out[0].header, Header::ScsiCommand(c) if c.expected_len == LEN));
    assert_eq!(
        data_len(&out[0].data),
        8192,
        "immediate data up to the target's MRDSL"
    );

    let mut offset = 8192;
    let mut r2tsn = 0;
    while offset < LEN {
        let len = (LEN - offset).min(MAX_BURST);
        s.handle(&r2t(5, r2tsn, offset, len), Segment::Inline(&[]))
            .unwrap();
        let sequence = drain(&mut s);
        assert_eq!(sequence.len(), len.div_ceil(8192) as usize);
        let mut at = offset;
        for (i, pdu) in sequence.iter().enumerate() {
            let Header::DataOut(d) = &pdu.header else {
                panic!("{pdu:?}")
            };
            assert_eq!(
                (d.ttt, d.datasn, d.buffer_offset),
                (0x500 + r2tsn, i as u32, at)
            );
            assert_eq!(d.final_, i + 1 == sequence.len());
            at += data_len(&pdu.data) as u32;
        }
        assert_eq!(at, offset + len, "the sequence covers exactly the R2T");
        offset += len;
        r2tsn += 1;
    }
    assert_eq!(r2tsn, 4);
    assert_eq!(s.stats().r2ts, 4);
    completes_with_good_status(&mut s, 5);
}

/// A 1 MiB read arrives as Data-In sequences of MaxBurstLength each (F set at each sequence's
/// end, DataSN running on across them), the status on the last PDU.
#[test]
fn read_longer_than_max_burst_arrives_in_several_sequences() {
    const LEN: u32 = 1 << 20;
    const PDU: u32 = 65_536;
    const MAX_BURST: u32 = 262_144;
    let mut s = session(params(true, true));
    s.submit(read_cmd(6, LEN)).unwrap();
    drain(&mut s);
    let pdus = LEN / PDU;
    for datasn in 0..pdus {
        let offset = datasn * PDU;
        let end_of_sequence = (offset + PDU) % MAX_BURST == 0;
        let last = datasn + 1 == pdus;
        let header = Header::DataIn(DataIn {
            final_: end_of_sequence,
            has_status: last,
            lun: LUN,
            itt: 6,
            ttt: RESERVED_TAG,
            statsn: 8,
            expcmdsn: 101,
            maxcmdsn: 132,
            datasn,
            buffer_offset: offset,
            ..Default::default()
        });
        let received = s.handle(&header, Segment::Placed(PDU)).unwrap();
        assert_eq!(
            received,
            Received::DataIn {
                itt: 6,
                offset,
                len: PDU
            }
        );
    }
    assert_eq!(
        events(&mut s),
        vec![Event::TaskComplete {
            itt: 6,
            outcome: TaskOutcome::Status {
                status: 0,
                sense: None,
                residual: Residual::None
            },
            data_in_bytes: LEN,
        }]
    );
}

#[test]
fn write_with_initial_r2t_and_no_immediate_data_sends_only_the_command() {
    let mut s = session(params(false, true));
    s.submit(write_cmd(3, 4096)).unwrap();
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0].header, Header::ScsiCommand(c) if c.final_ && c.write));
    assert_eq!(out[0].data, OutData::None);
    s.handle(&r2t(3, 0, 0, 4096), Segment::Inline(&[])).unwrap();
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].data,
        OutData::Task {
            itt: 3,
            offset: 0,
            len: 4096
        }
    );
}

#[test]
fn small_write_fits_in_immediate_data() {
    let mut s = session(params(true, true));
    s.submit(write_cmd(4, 4096)).unwrap();
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    assert!(matches!(&out[0].header, Header::ScsiCommand(c) if c.final_));
    assert_eq!(data_len(&out[0].data), 4096);
}

#[test]
fn outstanding_r2t_limit_is_enforced_until_the_sequence_is_sent() {
    let mut s = session(params(false, true));
    s.submit(write_cmd(3, 65536)).unwrap();
    drain(&mut s);
    s.handle(&r2t(3, 0, 0, 16384), Segment::Inline(&[]))
        .unwrap();
    // Second R2T before our Data-Out sequence for the first went out: over MaxOutstandingR2T=1.
    assert!(matches!(
        s.handle(&r2t(3, 1, 16384, 16384), Segment::Inline(&[])),
        Err(SessionError::TooManyR2t { .. })
    ));
    drain(&mut s);
    s.handle(&r2t(3, 1, 16384, 16384), Segment::Inline(&[]))
        .unwrap();
}

#[test]
fn hostile_data_in_is_refused() {
    let cases: Vec<(Header, u32, Expect)> = vec![
        (data_in(0x99, 0, 0, None), 512, |e| {
            matches!(e, SessionError::UnknownItt(0x99))
        }),
        (data_in(0x40, 1, 0, None), 512, |e| {
            matches!(e, SessionError::DataSnGap { .. })
        }),
        (data_in(0x40, 0, 512, None), 512, |e| {
            matches!(e, SessionError::DataOffset { .. })
        }),
        (data_in(0x40, 0, 0, None), 8193, |e| {
            matches!(e, SessionError::DataPastEnd { .. })
        }),
        (
            Header::DataIn(DataIn {
                has_status: true,
                final_: false,
                itt: 0x40,
                ..Default::default()
            }),
            0,
            |e| matches!(e, SessionError::StatusWithoutFinal(0x40)),
        ),
        (
            Header::DataIn(DataIn {
                has_status: true,
                final_: true,
                itt: 0x40,
                ..Default::default()
            }),
            0,
            |e| matches!(e, SessionError::DataCountMismatch { .. }),
        ),
    ];
    for (header, len, expected) in cases {
        let mut s = session(params(true, false));
        s.submit(read_cmd(0x40, 8192)).unwrap();
        drain(&mut s);
        let err = s.handle(&header, Segment::Placed(len)).unwrap_err();
        assert!(expected(&err), "{header:?} gave {err:?}");
    }
}

#[test]
fn hostile_r2t_is_refused() {
    let cases: Vec<(Header, Expect)> = vec![
        (r2t(3, 0, 4096, 8192), |e| {
            matches!(e, SessionError::R2tRange { .. })
        }),
        (r2t(3, 0, 0, 0), |e| {
            matches!(e, SessionError::R2tRange { .. })
        }),
        (r2t(3, 0, u32::MAX, 2), |e| {
            matches!(e, SessionError::R2tRange { .. })
        }),
        (r2t(3, 2, 0, 4096), |e| {
            matches!(e, SessionError::R2tSnGap { .. })
        }),
        (r2t(7, 0, 0, 4096), |e| {
            matches!(e, SessionError::UnknownItt(7))
        }),
        (
            Header::R2t(R2t {
                itt: 3,
                ttt: RESERVED_TAG,
                desired_len: 512,
                ..Default::default()
            }),
            |e| matches!(e, SessionError::R2tReservedTtt(3)),
        ),
    ];
    for (header, expected) in cases {
        let mut s = session(params(false, true));
        s.submit(write_cmd(3, 8192)).unwrap();
        drain(&mut s);
        let err = s.handle(&header, Segment::Inline(&[])).unwrap_err();
        assert!(expected(&err), "{header:?} gave {err:?}");
        assert!(drain(&mut s).is_empty(), "nothing sent for a refused R2T");
    }
    // Over MaxBurstLength.
    let mut s = session(params(false, true));
    s.submit(write_cmd(3, 1 << 20)).unwrap();
    drain(&mut s);
    assert!(matches!(
        s.handle(&r2t(3, 0, 0, 524288), Segment::Inline(&[])),
        Err(SessionError::R2tBurst { .. })
    ));
}

#[test]
fn check_condition_carries_sense_and_residual() {
    let mut s = session(params(true, false));
    s.submit(read_cmd(0x41, 4096)).unwrap();
    drain(&mut s);
    let sense = [
        0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x11, 0x00, 0, 0, 0, 0,
    ];
    let mut segment = vec![0, sense.len() as u8];
    segment.extend_from_slice(&sense);
    let header = Header::ScsiResponse(ScsiResponse {
        status: 0x02,
        itt: 0x41,
        underflow: true,
        residual: 4096,
        statsn: 8,
        expcmdsn: 101,
        maxcmdsn: 132,
        ..Default::default()
    });
    s.handle(&header, Segment::Inline(&segment)).unwrap();
    assert_eq!(
        events(&mut s),
        vec![Event::TaskComplete {
            itt: 0x41,
            outcome: TaskOutcome::Status {
                status: 2,
                sense: Some(sense.to_vec()),
                residual: Residual::Underflow(4096)
            },
            data_in_bytes: 0,
        }]
    );
    // A SenseLength that runs past the segment is a protocol error.
    s.submit(read_cmd(0x42, 4096)).unwrap();
    drain(&mut s);
    let bad = Header::ScsiResponse(ScsiResponse {
        status: 0x02,
        itt: 0x42,
        ..Default::default()
    });
    assert!(matches!(
        s.handle(&bad, Segment::Inline(&[0, 40, 0x70])),
        Err(SessionError::BadSense(_))
    ));
}

#[test]
fn target_failure_response() {
    let mut s = session(params(true, false));
    s.submit(read_cmd(1, 512)).unwrap();
    drain(&mut s);
    let h = Header::ScsiResponse(ScsiResponse {
        response: 1,
        itt: 1,
        ..Default::default()
    });
    s.handle(&h, Segment::Inline(&[])).unwrap();
    assert!(matches!(
        events(&mut s)[..],
        [Event::TaskComplete {
            outcome: TaskOutcome::TargetFailure { response: 1 },
            ..
        }]
    ));
}

#[test]
fn nop_in_ping_from_target_is_answered_with_its_ttt_and_data() {
    let mut s = session(params(true, false));
    s.handle(
        &Header::NopIn(NopIn {
            itt: RESERVED_TAG,
            ttt: 0x1234,
            statsn: 8,
            expcmdsn: 100,
            maxcmdsn: 131,
            ..Default::default()
        }),
        Segment::Inline(b"ping"),
    )
    .unwrap();
    let out = drain(&mut s);
    assert_eq!(out.len(), 1);
    let Header::NopOut(n) = &out[0].header else {
        panic!()
    };
    assert_eq!((n.itt, n.ttt, n.immediate), (RESERVED_TAG, 0x1234, true));
    assert_eq!(out[0].data, OutData::Inline(b"ping".to_vec()));
}

#[test]
fn our_ping_gets_its_reply() {
    let mut s = session(params(true, false));
    s.ping(0x77, vec![1, 2, 3]).unwrap();
    let out = drain(&mut s);
    assert!(matches!(&out[0].header, Header::NopOut(n) if n.itt == 0x77 && n.ttt == RESERVED_TAG));
    s.handle(
        &Header::NopIn(NopIn {
            itt: 0x77,
            ttt: RESERVED_TAG,
            statsn: 8,
            expcmdsn: 100,
            maxcmdsn: 131,
            ..Default::default()
        }),
        Segment::Inline(&[1, 2, 3]),
    )
    .unwrap();
    assert_eq!(
        events(&mut s),
        vec![Event::PingReply {
            itt: 0x77,
            data: vec![1, 2, 3]
        }]
    );
}

#[test]
fn abort_task_and_lun_reset_end_the_tasks() {
    let mut s = session(params(true, false));
    s.submit(read_cmd(1, 512)).unwrap();
    s.submit(read_cmd(2, 512)).unwrap();
    drain(&mut s);
    s.abort_task(0x1000, 1).unwrap();
    let out = drain(&mut s);
    let Header::TaskMgmtRequest(t) = &out[0].header else {
        panic!()
    };
    assert_eq!(
        (t.function, t.referenced_itt, t.refcmdsn),
        (tmf::ABORT_TASK, 1, 100)
    );
    assert!(t.immediate);
    s.handle(
        &Header::TaskMgmtResponse(TaskMgmtResponse {
            response: 0,
            itt: 0x1000,
            statsn: 8,
            expcmdsn: 102,
            maxcmdsn: 133,
        }),
        Segment::Inline(&[]),
    )
    .unwrap();
    let ev = events(&mut s);
    assert!(ev.contains(&Event::TaskComplete {
        itt: 1,
        outcome: TaskOutcome::Aborted,
        data_in_bytes: 0
    }));
    assert!(ev.contains(&Event::TaskMgmtComplete {
        itt: 0x1000,
        function: tmf::ABORT_TASK,
        response: 0
    }));
    s.lun_reset(0x1001, LUN).unwrap();
    drain(&mut s);
    s.handle(
        &Header::TaskMgmtResponse(TaskMgmtResponse {
            response: 0,
            itt: 0x1001,
            statsn: 9,
            ..Default::default()
        }),
        Segment::Inline(&[]),
    )
    .unwrap();
    assert!(events(&mut s).contains(&Event::TaskComplete {
        itt: 2,
        outcome: TaskOutcome::Aborted,
        data_in_bytes: 0
    }));
    assert_eq!(s.unfinished().count(), 0);
}

#[test]
fn async_messages_become_events() {
    let mut s = session(params(true, false));
    let msg = |event, p2, p3| {
        Header::AsyncMessage(AsyncMessage {
            event,
            param2: p2,
            param3: p3,
            statsn: 8,
            expcmdsn: 100,
            maxcmdsn: 131,
            ..Default::default()
        })
    };
    s.handle(
        &msg(async_event::LOGOUT_REQUESTED, 0, 5),
        Segment::Inline(&[]),
    )
    .unwrap();
    s.handle(
        &msg(async_event::CONNECTION_DROP, 2, 20),
        Segment::Inline(&[]),
    )
    .unwrap();
    let sense = [0, 4, 0x70, 0, 6, 0];
    s.handle(&msg(async_event::SCSI_EVENT, 0, 0), Segment::Inline(&sense))
        .unwrap();
    assert_eq!(
        events(&mut s),
        vec![
            Event::LogoutRequested { within_secs: 5 },
            Event::TargetWillDrop {
                whole_session: false,
                time2wait: 2,
                time2retain: 20
            },
            Event::ScsiAsyncEvent {
                lun: 0,
                sense: vec![0x70, 0, 6, 0]
            },
        ]
    );
}

#[test]
fn reject_of_a_command_fails_only_that_task() {
    let mut s = session(params(true, false));
    s.submit(read_cmd(5, 512)).unwrap();
    let out = drain(&mut s);
    let rejected = out[0].header.encode(0).unwrap().bhs;
    s.handle(
        &Header::Reject(Reject {
            reason: 0x05,
            statsn: 8,
            ..Default::default()
        }),
        Segment::Inline(&rejected),
    )
    .unwrap();
    assert!(matches!(
        events(&mut s)[..],
        [Event::TaskComplete {
            itt: 5,
            outcome: TaskOutcome::Rejected { reason: 5 },
            ..
        }]
    ));
    assert!(matches!(
        s.handle(
            &Header::Reject(Reject::default()),
            Segment::Inline(&[0; 10])
        ),
        Err(SessionError::ShortReject(10))
    ));
}

#[test]
fn logout_flow_and_refusals() {
    let mut s = session(params(true, false));
    s.submit(read_cmd(1, 512)).unwrap();
    assert_eq!(s.submit(read_cmd(1, 512)), Err(SubmitError::IttInUse(1)));
    assert_eq!(
        s.submit(read_cmd(RESERVED_TAG, 512)),
        Err(SubmitError::ReservedItt)
    );
    let mut bad = read_cmd(2, 512);
    bad.cdb.clear();
    assert_eq!(s.submit(bad), Err(SubmitError::CdbLength(0)));
    s.logout(0x2000).unwrap();
    assert_eq!(s.submit(read_cmd(3, 512)), Err(SubmitError::LoggingOut));
    let out = drain(&mut s);
    assert!(out
        .iter()
        .any(|p| p.header.opcode() == Opcode::LogoutRequest));
    s.handle(
        &Header::LogoutResponse(LogoutResponse {
            itt: 0x2000,
            time2wait: 2,
            statsn: 8,
            ..Default::default()
        }),
        Segment::Inline(&[]),
    )
    .unwrap();
    assert_eq!(
        events(&mut s),
        vec![Event::LoggedOut {
            response: 0,
            time2wait: 2,
            time2retain: 0
        }]
    );
}

#[test]
fn long_cdb_goes_into_the_extended_cdb_ahs() {
    let mut s = session(params(true, false));
    let mut cmd = read_cmd(1, 512);
    cmd.cdb = (0..32).collect();
    s.submit(cmd).unwrap();
    let Header::ScsiCommand(c) = &drain(&mut s)[0].header else {
        panic!()
    };
    assert_eq!(c.cdb.to_vec(), (0..16).collect::<Vec<u8>>());
    assert_eq!(c.extended_cdb, (16..32).collect::<Vec<u8>>());
}

#[test]
fn unfinished_tasks_are_listed_for_recovery() {
    let mut s = session(params(true, false));
    s.submit(read_cmd(1, 512)).unwrap();
    s.submit(write_cmd(2, 4096)).unwrap();
    let mut list: Vec<(u32, Direction, u32)> = s
        .unfinished()
        .map(|(itt, _, dir, len)| (itt, dir, len))
        .collect();
    list.sort_by_key(|t| t.0);
    assert_eq!(
        list,
        vec![(1, Direction::Read, 512), (2, Direction::Write, 4096)]
    );
}

proptest! {
    /// Whatever a hostile target sends, the session never panics and never asks the owner to
    /// place data outside a task's transfer.
    #[test]
    fn arbitrary_target_pdus_never_panic(
        pdus in prop::collection::vec(
            (prop::array::uniform32(any::<u8>()), prop::array::uniform16(any::<u8>()),
             prop::sample::select(vec![0x20u8, 0x21, 0x22, 0x25, 0x26, 0x31, 0x32, 0x3f]),
             0u32..20000, any::<bool>()), 1..40)) {
        let mut s = session(params(true, false));
        s.submit(read_cmd(1, 8192)).unwrap();
        s.submit(write_cmd(2, 65536)).unwrap();
        drain(&mut s);
        for (head, tail, op, len, placed) in pdus {
            let mut raw = [0u8; BHS_LEN];
            raw[..32].copy_from_slice(&head);
            raw[32..].copy_from_slice(&tail);
            raw[0] = op;
            raw[4] = 0;
            // Steer ITTs towards our tasks so the deeper checks run.
            raw[16..19].fill(0);
            raw[19] &= 3;
            let Ok(header) = Header::decode(&raw, &[]) else { continue };
            let inline = vec![0u8; len as usize % 300];
            let segment = if placed { Segment::Placed(len) } else { Segment::Inline(&inline) };
            if let Ok(Received::DataIn { itt, offset, len }) = s.handle(&header, segment) {
                prop_assert_eq!(itt, 1);
                prop_assert!(u64::from(offset) + u64::from(len) <= 8192);
            }
            drain(&mut s);
            events(&mut s);
        }
    }
}

#[test]
fn text_request_with_continued_and_multi_part_answers() {
    let mut s = session(params(true, false));
    s.text_request(0x30, &[("SendTargets".into(), "All".into())])
        .unwrap();
    let out = drain(&mut s);
    let Header::TextRequest(t) = &out[0].header else {
        panic!()
    };
    assert_eq!(
        (t.itt, t.ttt, t.cmdsn, t.final_),
        (0x30, RESERVED_TAG, 100, true)
    );
    assert_eq!(out[0].data, OutData::Inline(b"SendTargets=All\0".to_vec()));
    let text = crate::text::encode(&[("TargetName", "iqn.a"), ("TargetAddress", "1.2.3.4:3260,1")])
        .unwrap();
    let (a, b) = text.split_at(9);
    let part = |final_, cont, ttt, data: &[u8], s: &mut Session| {
        s.handle(
            &Header::TextResponse(TextResponse {
                final_,
                cont,
                itt: 0x30,
                ttt,
                statsn: 8,
                expcmdsn: 101,
                maxcmdsn: 132,
                ..Default::default()
            }),
            Segment::Inline(data),
        )
    };
    part(false, true, 0x77, a, &mut s).unwrap();
    let more = drain(&mut s);
    assert!(matches!(&more[0].header, Header::TextRequest(t) if t.ttt == 0x77 && t.cmdsn == 101));
    assert_eq!(more[0].data, OutData::None);
    part(false, false, 0x77, b, &mut s).unwrap();
    drain(&mut s);
    let last = crate::text::encode(&[("TargetName", "iqn.b")]).unwrap();
    part(true, false, RESERVED_TAG, &last, &mut s).unwrap();
    assert_eq!(
        events(&mut s),
        vec![Event::TextResponse {
            itt: 0x30,
            pairs: vec![
                ("TargetName".into(), "iqn.a".into()),
                ("TargetAddress".into(), "1.2.3.4:3260,1".into()),
                ("TargetName".into(), "iqn.b".into()),
            ]
        }]
    );
    assert!(matches!(
        part(true, true, 1, &[], &mut s),
        Err(SessionError::TextFinalAndContinue(0x30))
    ));
}

/// A session whose window admits one command (CmdSN 5); NOP-In `open_window` admits more.
fn one_slot_session() -> Session {
    Session::new(
        params(false, true),
        SessionStart {
            cmdsn: 5,
            statsn: 7,
            expcmdsn: 5,
            maxcmdsn: 5,
        },
    )
}

fn open_window(s: &mut Session, maxcmdsn: u32) {
    s.handle(
        &Header::NopIn(NopIn {
            itt: RESERVED_TAG,
            ttt: RESERVED_TAG,
            statsn: 8,
            expcmdsn: 6,
            maxcmdsn,
            ..Default::default()
        }),
        Segment::Inline(&[]),
    )
    .unwrap();
}

/// The CmdSNs of the SCSI commands among `out`, by ITT.
fn sent_cmdsns(out: &[OutPdu]) -> Vec<(u32, u32)> {
    out.iter()
        .filter_map(|p| match &p.header {
            Header::ScsiCommand(c) => Some((c.itt, c.cmdsn)),
            _ => None,
        })
        .collect()
}

/// Task 1 went out with CmdSN 5; tasks 2 (read) and 3 (write) wait for the window.
fn session_with_waiting_tasks() -> Session {
    let mut s = one_slot_session();
    s.submit(read_cmd(1, 4096)).unwrap();
    s.submit(read_cmd(2, 4096)).unwrap();
    s.submit(write_cmd(3, 4096)).unwrap();
    assert_eq!(sent_cmdsns(&drain(&mut s)), vec![(1, 5)]);
    s
}

/// `header` with ExpCmdSN/MaxCmdSN that leave the one-slot window closed.
fn window_closed(mut header: Header) -> Header {
    match &mut header {
        Header::DataIn(h) => (h.expcmdsn, h.maxcmdsn) = (5, 5),
        Header::ScsiResponse(h) => (h.expcmdsn, h.maxcmdsn) = (5, 5),
        Header::R2t(h) => (h.expcmdsn, h.maxcmdsn) = (5, 5),
        Header::Reject(h) => (h.expcmdsn, h.maxcmdsn) = (5, 5),
        Header::TextResponse(h) => (h.expcmdsn, h.maxcmdsn) = (5, 5),
        other => panic!("{other:?}"),
    }
    header
}

/// After a refused PDU for an unsent task, the waiting tasks are intact and go out in order
/// with the next CmdSNs once the window opens.
fn waiting_tasks_still_go_out(s: &mut Session) {
    assert!(events(s).is_empty());
    assert_eq!(s.unfinished().count(), 3);
    assert!(drain(s).is_empty(), "the window is still closed");
    open_window(s, 7);
    assert_eq!(sent_cmdsns(&drain(s)), vec![(2, 6), (3, 7)]);
}

#[test]
fn scsi_response_for_an_unsent_task_is_a_protocol_error() {
    let mut s = session_with_waiting_tasks();
    assert_eq!(
        s.handle(&window_closed(response(2, 0)), Segment::Inline(&[])),
        Err(SessionError::NotSent(2))
    );
    waiting_tasks_still_go_out(&mut s);
}

#[test]
fn data_in_for_an_unsent_task_is_a_protocol_error() {
    let mut s = session_with_waiting_tasks();
    for header in [data_in(2, 0, 0, None), data_in(2, 0, 0, Some(0))].map(window_closed) {
        assert_eq!(
            s.handle(&header, Segment::Placed(4096)),
            Err(SessionError::NotSent(2)),
            "no placement for {header:?}"
        );
    }
    waiting_tasks_still_go_out(&mut s);
}

#[test]
fn r2t_for_an_unsent_task_is_a_protocol_error() {
    let mut s = session_with_waiting_tasks();
    assert_eq!(
        s.handle(&window_closed(r2t(3, 0, 0, 4096)), Segment::Inline(&[])),
        Err(SessionError::NotSent(3))
    );
    assert!(drain(&mut s).is_empty(), "no Data-Out for an unsent write");
    waiting_tasks_still_go_out(&mut s);
}

#[test]
fn reject_of_an_unsent_command_is_a_protocol_error() {
    let mut s = session_with_waiting_tasks();
    let mut rejected = [0u8; BHS_LEN];
    rejected[0] = Opcode::ScsiCommand as u8;
    rejected[16..20].copy_from_slice(&2u32.to_be_bytes());
    assert_eq!(
        s.handle(
            &window_closed(Header::Reject(Reject {
                reason: 0x05,
                statsn: 8,
                ..Default::default()
            })),
            Segment::Inline(&rejected),
        ),
        Err(SessionError::NotSent(2))
    );
    waiting_tasks_still_go_out(&mut s);
}

#[test]
fn text_response_for_an_unsent_request_is_a_protocol_error() {
    let mut s = one_slot_session();
    s.submit(read_cmd(1, 4096)).unwrap();
    s.text_request(0x30, &[("SendTargets".into(), "All".into())])
        .unwrap();
    assert_eq!(sent_cmdsns(&drain(&mut s)), vec![(1, 5)]);
    let answer = window_closed(Header::TextResponse(TextResponse {
        final_: true,
        itt: 0x30,
        ttt: RESERVED_TAG,
        statsn: 8,
        ..Default::default()
    }));
    assert_eq!(
        s.handle(&answer, Segment::Inline(&[])),
        Err(SessionError::NotSent(0x30))
    );
    assert!(events(&mut s).is_empty());
    open_window(&mut s, 6);
    let out = drain(&mut s);
    assert!(
        matches!(&out[..], [p] if matches!(&p.header, Header::TextRequest(t) if t.itt == 0x30 && t.cmdsn == 6))
    );
}

#[test]
fn aborting_an_unsent_task_passes_its_cmdsn_to_the_next_command() {
    let mut s = session_with_waiting_tasks();
    s.abort_task(0x1000, 2).unwrap();
    assert!(
        drain(&mut s).is_empty(),
        "no TMF for a task the target never saw"
    );
    assert_eq!(
        events(&mut s),
        vec![Event::TaskComplete {
            itt: 2,
            outcome: TaskOutcome::Aborted,
            data_in_bytes: 0
        }]
    );
    open_window(&mut s, 6);
    assert_eq!(sent_cmdsns(&drain(&mut s)), vec![(3, 6)]);
    // The aborting ITT was never used: it is free.
    s.submit(read_cmd(0x1000, 512)).unwrap();
}

#[test]
fn waiting_entries_of_gone_or_sent_tasks_take_no_cmdsn() {
    let mut s = one_slot_session();
    s.submit(read_cmd(1, 4096)).unwrap();
    drain(&mut s);
    // Stale entries: a task no longer listed, and one already sent.
    s.waiting.push_back(Queued::Command(0x99));
    s.waiting.push_back(Queued::Command(1));
    s.submit(read_cmd(2, 4096)).unwrap();
    assert!(drain(&mut s).is_empty());
    open_window(&mut s, 6);
    assert_eq!(sent_cmdsns(&drain(&mut s)), vec![(2, 6)]);
    assert!(s.waiting.is_empty());
    // Stale entries alone do not count as a stall and leave the window untouched.
    s.waiting.push_back(Queued::Command(0x99));
    let stalls = s.stats().window_stalls;
    assert!(s.poll_transmit().is_none());
    assert_eq!(s.stats().window_stalls, stalls);
    s.submit(read_cmd(3, 4096)).unwrap();
    open_window(&mut s, 7);
    assert_eq!(sent_cmdsns(&drain(&mut s)), vec![(3, 7)]);
}

fn tmf_response(itt: u32, response: u8) -> Header {
    Header::TaskMgmtResponse(TaskMgmtResponse {
        response,
        itt,
        statsn: 9,
        expcmdsn: 101,
        maxcmdsn: 132,
    })
}

/// ERL 0, one connection: after "function complete" for ABORT TASK the target sends nothing
/// more for the task, so a late Data-In or response is an unknown ITT (the connection is
/// dropped) and nothing is handed out for placement.
#[test]
fn pdus_for_a_task_after_its_abort_completed_are_refused_and_not_placed() {
    let mut s = session(params(true, false));
    s.submit(read_cmd(1, 8192)).unwrap();
    drain(&mut s);
    s.handle(&data_in(1, 0, 0, None), Segment::Placed(4096))
        .unwrap();
    s.abort_task(0x1000, 1).unwrap();
    drain(&mut s);
    s.handle(&tmf_response(0x1000, 0), Segment::Inline(&[]))
        .unwrap();
    assert!(events(&mut s).contains(&Event::TaskComplete {
        itt: 1,
        outcome: TaskOutcome::Aborted,
        data_in_bytes: 4096
    }));
    for (header, segment) in [
        (data_in(1, 1, 4096, None), Segment::Placed(4096)),
        (data_in(1, 1, 4096, Some(0)), Segment::Inline(&[0u8; 4096])),
        (response(1, 0), Segment::Inline(&[])),
    ] {
        assert_eq!(
            s.handle(&header, segment),
            Err(SessionError::UnknownItt(1)),
            "{header:?}"
        );
    }
    assert!(events(&mut s).is_empty(), "no second completion");
    assert_eq!(s.unfinished().count(), 0);
}

/// The task ABORT TASK named completed before the TMF response and its ITT went to a new
/// command: "function complete" (the target answers so for a RefCmdSN it has seen) must not
/// end the new command.
#[test]
fn abort_response_does_not_end_a_new_task_under_the_same_itt() {
    let test_unit_ready = || Command {
        cdb: vec![0; 6],
        direction: Direction::None,
        data_len: 0,
        ..read_cmd(1, 0)
    };
    let mut s = session(params(true, false));
    s.submit(test_unit_ready()).unwrap();
    drain(&mut s);
    s.abort_task(0x1000, 1).unwrap();
    drain(&mut s);
    completes_with_good_status(&mut s, 1);
    s.submit(test_unit_ready()).unwrap();
    assert_eq!(sent_cmdsns(&drain(&mut s)), vec![(1, 101)]);
    s.handle(&tmf_response(0x1000, 0), Segment::Inline(&[]))
        .unwrap();
    assert_eq!(
        events(&mut s),
        vec![Event::TaskMgmtComplete {
            itt: 0x1000,
            function: tmf::ABORT_TASK,
            response: 0
        }]
    );
    assert_eq!(s.unfinished().count(), 1);
    completes_with_good_status(&mut s, 1);
}
