use super::*;
use crate::engine::task_buffer::{TaskBuffer, TaskBuffers};
use crate::ppm::{sgl_for_contiguous, BufferId, DdpRequest, Ppm, PpmConfig};
use crate::ppod::PageSize;
use crate::wr::UlpSubmode;
use iscsi_proto::digest::{crc32c, to_wire, Digests};
use iscsi_proto::pdu::{padded, BHS_LEN};
use proptest::prelude::*;

const TASK: u32 = 3;
const STAGING: usize = 4096;

struct Recorder;

impl Submitter for Recorder {
    fn sq_space(&mut self) -> usize {
        64
    }

    fn push(&mut self, _token: u64, _sqe: Entry) -> Result<(), SqFull> {
        Ok(())
    }
}

impl Rx {
    /// Plays the kernel's part of op `index` of the chain in flight (every earlier op's CQE
    /// applied, not its own): writes `bytes` where the op puts them.
    fn land(&mut self, index: usize, bytes: &[u8]) {
        let op = self.asked[index];
        assert!(bytes.len() <= op.total() as usize);
        let (body, staged) = bytes.split_at(bytes.len().min(op.body as usize));
        let (mut at, mut filled) = (self.destination.at, self.destination.filled as usize);
        let mut body = body;
        while !body.is_empty() {
            let span = self.destination.spans[at];
            let take = (span.len as usize - filled).min(body.len());
            let IoTarget::Mapped(ptr) = span.target else {
                panic!("the tests only play mapped receives");
            };
            // SAFETY: the span is a live destination of at least `filled + take` bytes.
            unsafe { std::ptr::copy_nonoverlapping(body.as_ptr(), ptr.add(filled), take) };
            body = &body[take..];
            filled += take;
            if filled == span.len as usize {
                at += 1;
                filled = 0;
            }
        }
        let end = self.staging.end;
        self.staging.buf[end..end + staged.len()].copy_from_slice(staged);
    }
}

/// A task buffer bound to a DDP tag, the page pods and the receive settings.
struct Harness {
    ppm: Ppm,
    tasks: TaskBuffers,
    memory: Vec<u8>,
    counters: ConnCounters,
    ops_in_flight: usize,
    digests: UlpSubmode,
    read_ahead: bool,
    exact_placement_from: u32,
    wake_on_bytes: u32,
    /// What the kernel answers a setsockopt.
    setsockopt_result: i32,
    /// SO_RCVLOWAT values set, in order.
    lowat_history: Vec<u32>,
}

impl Harness {
    fn new(digests: UlpSubmode, read_ahead: bool) -> Harness {
        Harness {
            ppm: Ppm::new(PpmConfig::new(1024, 4096)).unwrap(),
            tasks: TaskBuffers::default(),
            memory: vec![0u8; 6 * 4096],
            counters: ConnCounters::default(),
            ops_in_flight: 0,
            digests,
            read_ahead,
            exact_placement_from: 4096,
            wake_on_bytes: 0,
            setsockopt_result: 0,
            lowat_history: Vec::new(),
        }
    }

    /// Binds 16 KiB of page-aligned task memory to a DDP tag; returns the ITT.
    fn bind(&mut self) -> u32 {
        self.tasks.insert(
            TASK,
            TaskBuffer::Mapped {
                ptr: self.memory.as_mut_ptr(),
                len: self.memory.len(),
            },
        );
        let start = (self.memory.as_ptr() as u64 + 4095) & !4095;
        let sgl = sgl_for_contiguous(start, 16384, PageSize::Size4K).unwrap();
        let request = DdpRequest {
            buffer: BufferId(TASK),
            tid: Tid::ZERO,
            xfer_len: 16384,
            sgl: &sgl,
        };
        self.ppm.reserve(TASK, &request).unwrap().raw()
    }

    /// The bound 16 KiB.
    fn bound(&self) -> &[u8] {
        let skip = (4096 - self.memory.as_ptr() as usize % 4096) % 4096;
        &self.memory[skip..skip + 16384]
    }

    fn env(&self) -> RxEnv<'_> {
        RxEnv {
            place: PlaceEnv {
                ppm: &self.ppm,
                tasks: &self.tasks,
                tid: Tid::ZERO,
                page_size: PageSize::Size4K,
                data_digest: self.digests.data_digest,
            },
            format: FrameFormat {
                digests: Digests::from(self.digests),
                max_data_segment_len: 65536,
            },
            read_ahead: self.read_ahead,
            exact_placement_from: self.exact_placement_from,
            wake_on_bytes: self.wake_on_bytes,
        }
    }

    /// Plays the kernel for the chain in flight (pushing one first if none is): each op
    /// takes what `stream` holds, at most `limit` bytes when given, and the ops behind a
    /// short one come back cancelled. Stops at an op that would have to wait for bytes.
    fn run(
        &mut self,
        rx: &mut Rx,
        stream: &mut &[u8],
        limit: Option<usize>,
        out: &mut VecDeque<Completion>,
    ) -> Vec<RxOutcome> {
        let env = RxEnv {
            place: PlaceEnv {
                ppm: &self.ppm,
                tasks: &self.tasks,
                tid: Tid::ZERO,
                page_size: PageSize::Size4K,
                data_digest: self.digests.data_digest,
            },
            format: FrameFormat {
                digests: Digests::from(self.digests),
                max_data_segment_len: 65536,
            },
            read_ahead: self.read_ahead,
            exact_placement_from: self.exact_placement_from,
            wake_on_bytes: self.wake_on_bytes,
        };
        // (Spelled out: `env` must not borrow the counters the calls below change.)
        if rx.wants_push() {
            rx.push_chain(
                types::Fd(-1),
                0,
                &env,
                &mut Recorder,
                &mut self.counters,
                &mut self.ops_in_flight,
            )
            .unwrap();
        }
        let mut outcomes = Vec::new();
        // The connection is torn down after an abort: no more CQEs are applied.
        while rx.cqe_at < rx.asked.len() && !matches!(outcomes.last(), Some(RxOutcome::Abort(_))) {
            if rx.chain.is_broken() {
                outcomes.push(rx.on_cqe(-libc::ECANCELED, 0, &env, &mut self.counters, out));
                continue;
            }
            if let Some(value) = rx.asked[rx.cqe_at].sets_lowat {
                let result = self.setsockopt_result;
                if result == 0 {
                    self.lowat_history.push(value);
                }
                outcomes.push(rx.on_cqe(result, 0, &env, &mut self.counters, out));
                continue;
            }
            let asked = rx.asked[rx.cqe_at].total() as usize;
            let take = asked.min(limit.unwrap_or(usize::MAX)).min(stream.len());
            if take == 0 {
                break;
            }
            rx.land(rx.cqe_at, &stream[..take]);
            *stream = &stream[take..];
            outcomes.push(rx.on_cqe(take as i32, 0, &env, &mut self.counters, out));
        }
        outcomes
    }

    /// Runs chains until the stream is used up or the receive side stops.
    fn run_all(
        &mut self,
        rx: &mut Rx,
        mut stream: &[u8],
        limit: Option<usize>,
    ) -> (Vec<IscsiHdr>, Vec<RxOutcome>) {
        let mut out = VecDeque::new();
        let mut outcomes = Vec::new();
        while !stream.is_empty() && !rx.halted {
            let before = stream.len();
            outcomes.extend(self.run(rx, &mut stream, limit, &mut out));
            if stream.len() == before || outcomes.iter().any(|o| matches!(o, RxOutcome::Abort(_))) {
                break;
            }
        }
        (delivered(out), outcomes)
    }
}

fn delivered(out: VecDeque<Completion>) -> Vec<IscsiHdr> {
    out.into_iter()
        .map(|completion| match completion {
            Completion::IscsiHdr(header) => header,
            other => panic!("not a PDU: {other:?}"),
        })
        .collect()
}

fn frame(mut bhs: [u8; BHS_LEN], data: &[u8], digests: UlpSubmode) -> Vec<u8> {
    bhs[5..8].copy_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
    let mut wire = bhs.to_vec();
    if digests.header_digest {
        wire.extend_from_slice(&to_wire(crc32c(&bhs)));
    }
    if !data.is_empty() {
        let mut segment = data.to_vec();
        segment.resize(padded(data.len()), 0);
        wire.extend_from_slice(&segment);
        if digests.data_digest {
            wire.extend_from_slice(&to_wire(crc32c(&segment)));
        }
    }
    wire
}

fn nop_in(itt: u32, data: &[u8], digests: UlpSubmode) -> Vec<u8> {
    let mut bhs = [0u8; BHS_LEN];
    bhs[0] = 0x20;
    bhs[1] = 0x80;
    bhs[16..20].copy_from_slice(&itt.to_be_bytes());
    frame(bhs, data, digests)
}

fn data_in(itt: u32, offset: u32, data: &[u8], digests: UlpSubmode) -> Vec<u8> {
    let mut bhs = [0u8; BHS_LEN];
    bhs[0] = 0x25;
    bhs[16..20].copy_from_slice(&itt.to_be_bytes());
    bhs[40..44].copy_from_slice(&offset.to_be_bytes());
    frame(bhs, data, digests)
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

fn itt_of(header: &IscsiHdr) -> u32 {
    match &header.header {
        Ok(Header::NopIn(nop_in)) => nop_in.itt,
        Ok(Header::DataIn(data_in)) => data_in.itt,
        Ok(Header::ScsiResponse(response)) => response.itt,
        other => panic!("no ITT the tests look at: {other:?}"),
    }
}

const NONE: UlpSubmode = UlpSubmode {
    header_digest: false,
    data_digest: false,
};
const BOTH: UlpSubmode = UlpSubmode {
    header_digest: true,
    data_digest: true,
};

#[test]
fn short_receives_resume_where_they_stopped() {
    for read_ahead in [false, true] {
        let mut harness = Harness::new(BOTH, read_ahead);
        let itt = harness.bind();
        let data = pattern(6001, 7);
        let wire = [
            nop_in(1, b"hello world", BOTH),
            data_in(itt, 1000, &data, BOTH),
            nop_in(2, b"", BOTH),
        ]
        .concat();
        let mut rx = Rx::new(Tid::ZERO, STAGING);
        // Every op is cut to 5 bytes: headers, bodies and trailers resume.
        let (pdus, outcomes) = harness.run_all(&mut rx, &wire, Some(5));
        assert!(outcomes.iter().all(|o| *o == RxOutcome::Continue));
        assert_eq!(pdus.len(), 3, "read-ahead {read_ahead}");
        assert_eq!(pdus[0].data, b"hello world");
        assert_eq!(pdus[0].ddp_status, DdpStatus::NONE);
        assert_eq!(pdus[0].pdu_len, 48 + 4 + 12 + 4);
        assert_eq!(pdus[1].ddp_status, DdpStatus::DDP_PDU);
        assert!(pdus[1].data_placed());
        assert_eq!(&harness.bound()[1000..7001], data.as_slice());
        assert_eq!(itt_of(&pdus[2]), 2);
        assert!(harness.counters.short_transfers > 10);
        assert_eq!(harness.counters.ddp_bytes, 6001);
    }
}

#[test]
fn a_placed_pdu_costs_one_receive_with_the_next_header() {
    let mut harness = Harness::new(NONE, true);
    let itt = harness.bind();
    let data = pattern(16384, 1);
    let wire: Vec<u8> = (0..4u32)
        .flat_map(|i| data_in(itt, i * 4096, &data[i as usize * 4096..][..4096], NONE))
        .collect();
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    let mut out = VecDeque::new();
    // The first receive reads ahead, but only the first header has arrived.
    harness.run(&mut rx, &mut &wire[..48], None, &mut out);
    let mut stream = &wire[48..];
    for _ in 0..4 {
        // Exact after a placed header: the payload to the task buffer, then 48 bytes.
        harness.run(&mut rx, &mut stream, None, &mut out);
        assert_eq!(rx.asked, vec![AskedOp::receive(4096, 48, 4096)]);
    }
    assert!(stream.is_empty());
    let pdus = delivered(out);
    assert_eq!(pdus.len(), 4);
    assert!(pdus.iter().all(IscsiHdr::data_placed));
    assert_eq!(harness.bound(), data.as_slice());
    assert_eq!(harness.counters.rx_chains, 5);
    assert_eq!(harness.counters.staged_bytes, 0, "nothing copied");
}

#[test]
fn placed_payloads_below_the_exact_limit_are_read_ahead() {
    let mut harness = Harness::new(NONE, true);
    let itt = harness.bind();
    let data = pattern(16384, 4);
    let wire: Vec<u8> = (0..8u32)
        .flat_map(|i| data_in(itt, i * 2048, &data[i as usize * 2048..][..2048], NONE))
        .collect();
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    let (pdus, _) = harness.run_all(&mut rx, &wire, None);
    assert_eq!(pdus.len(), 8);
    assert!(pdus.iter().all(IscsiHdr::data_placed));
    assert_eq!(harness.bound(), data.as_slice());
    // 2 KiB payloads are below the 4 KiB limit: receives fill the 4 KiB staging buffer
    // (16.4 KB of stream), and payload cut off at its end is received in place.
    assert!(harness.counters.rx_chains <= 6, "{:?}", harness.counters);
    assert!(
        harness.counters.staged_bytes > 12288,
        "{:?}",
        harness.counters
    );
    assert_eq!(harness.counters.ddp_bytes, 16384);
}

#[test]
fn receives_stay_exact_while_several_statuses_are_owed() {
    let mut harness = Harness::new(NONE, true);
    let itt = harness.bind();
    let data = pattern(4096, 6);
    let mut final_data_in = data_in(itt, 0, &data[..2048], NONE);
    // F and S: the last Data-In, carrying the status.
    final_data_in[1] |= 0x81;
    let mut response = nop_in(9, b"", NONE);
    response[0] = 0x21; // SCSI Response
    let wire = [
        data_in(itt, 2048, &data[2048..], NONE),
        final_data_in,
        response,
        nop_in(10, b"", NONE),
    ]
    .concat();
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    assert!(Rx::is_command(&[0x41, 0]), "immediate SCSI Command");
    assert!(!Rx::is_command(&[0x05]));
    for _ in 0..3 {
        rx.command_sent();
    }
    let mut out = VecDeque::new();
    let mut stream = wire.as_slice();
    let mut rooms = Vec::new();
    while !stream.is_empty() {
        harness.run(&mut rx, &mut stream, None, &mut out);
        rooms.push(rx.asked.last().unwrap().staging);
    }
    // Three statuses owed: exact (48-byte header rooms) until two statuses have come.
    assert_eq!(rooms[..3], [48, 48, 48], "{rooms:?}");
    assert_eq!(rx.replies_owed, 1);
    assert_eq!(*rooms.last().unwrap(), STAGING as u32, "then read-ahead");
    assert_eq!(delivered(out).len(), 4);
    assert_eq!(harness.bound()[..4096], data[..]);
}

#[test]
fn read_ahead_takes_many_small_pdus_in_one_receive() {
    let mut harness = Harness::new(NONE, true);
    let wire: Vec<u8> = (0..20u32)
        .flat_map(|i| nop_in(i, &pattern(i as usize * 7, 3), NONE))
        .collect();
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    let (pdus, _) = harness.run_all(&mut rx, &wire, None);
    assert_eq!(pdus.len(), 20);
    for (i, pdu) in pdus.iter().enumerate() {
        assert_eq!(itt_of(pdu), i as u32);
        assert_eq!(pdu.data, pattern(i * 7, 3));
    }
    // A new connection reads ahead from the start: one receive for everything.
    assert_eq!(harness.counters.rx_chains, 1);
    assert_eq!(harness.counters.recv_calls, 1);
}

#[test]
fn read_ahead_copies_a_caught_placed_payload_into_the_task_buffer() {
    let mut harness = Harness::new(BOTH, true);
    let itt = harness.bind();
    let data = pattern(3000, 9);
    let wire = [
        nop_in(1, b"", BOTH),
        data_in(itt, 500, &data, BOTH),
        nop_in(2, b"x", BOTH),
    ]
    .concat();
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    let (pdus, _) = harness.run_all(&mut rx, &wire, None);
    assert_eq!(pdus.len(), 3);
    assert_eq!(pdus[1].ddp_status, DdpStatus::DDP_PDU, "digest verified");
    assert!(pdus[1].data_placed());
    assert_eq!(&harness.bound()[500..3500], data.as_slice());
    assert!(harness.bound()[..500].iter().all(|&b| b == 0));
    assert_eq!(harness.counters.staged_bytes, 3000);
    assert_eq!(harness.counters.ddp_bytes, 3000);
    assert_eq!(pdus[2].data, b"x");
}

#[test]
fn exact_receives_never_take_bytes_behind_the_next_header() {
    let mut harness = Harness::new(NONE, false);
    let wire: Vec<u8> = (0..5u32).flat_map(|i| nop_in(i, b"abc", NONE)).collect();
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    let mut out = VecDeque::new();
    let mut stream = wire.as_slice();
    while !stream.is_empty() {
        let before = stream.len();
        harness.run(&mut rx, &mut stream, None, &mut out);
        let taken = before - stream.len();
        assert!(taken == 48 || taken == 4 + 48 || taken == 4, "took {taken}");
    }
    assert_eq!(delivered(out).len(), 5);
}

#[test]
fn header_digest_switched_on_mid_header_reads_four_more_bytes() {
    let mut harness = Harness::new(NONE, false);
    let wire = nop_in(1, b"abc", BOTH);
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    let mut out = VecDeque::new();
    let mut stream = wire.as_slice();
    // The first read is sized without a digest; the digests go on before it lands.
    rx.push_chain(
        types::Fd(-1),
        0,
        &harness.env(),
        &mut Recorder,
        &mut ConnCounters::default(),
        &mut 0,
    )
    .unwrap();
    assert_eq!(rx.asked[0].staging, 48);
    harness.digests = BOTH;
    while !stream.is_empty() {
        harness.run(&mut rx, &mut stream, None, &mut out);
    }
    let pdus = delivered(out);
    assert_eq!(pdus.len(), 1);
    assert_eq!(pdus[0].data, b"abc");
    assert_eq!(pdus[0].ddp_status, DdpStatus::NONE);
}

#[test]
fn header_digest_switched_off_mid_header_keeps_the_extra_bytes() {
    let mut harness = Harness::new(BOTH, false);
    let wire = [nop_in(1, b"", NONE), nop_in(2, b"de", NONE)].concat();
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    let mut out = VecDeque::new();
    let mut stream = wire.as_slice();
    // The first read is sized for a digest (52 bytes); the digests go off before it lands.
    rx.push_chain(
        types::Fd(-1),
        0,
        &harness.env(),
        &mut Recorder,
        &mut ConnCounters::default(),
        &mut 0,
    )
    .unwrap();
    assert_eq!(rx.asked[0].staging, 52);
    harness.digests = NONE;
    while !stream.is_empty() {
        harness.run(&mut rx, &mut stream, None, &mut out);
    }
    let pdus = delivered(out);
    assert_eq!(pdus.len(), 2);
    assert_eq!(pdus[1].data, b"de");
}

/// A placed 8 KiB Data-In and a NOP-In behind it; the receive side with the first
/// header taken, so the next chain is the payload's.
fn large_payload_setup(wake_on_bytes: u32) -> (Harness, Rx, Vec<u8>, Vec<u8>) {
    let mut harness = Harness::new(NONE, false);
    harness.wake_on_bytes = wake_on_bytes;
    let itt = harness.bind();
    let data = pattern(8192, 5);
    let wire = [data_in(itt, 0, &data, NONE), nop_in(2, b"", NONE)].concat();
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    let mut out = VecDeque::new();
    harness.run(&mut rx, &mut &wire[..48], None, &mut out);
    assert!(out.is_empty());
    (harness, rx, data, wire[48..].to_vec())
}

#[test]
fn a_large_payload_is_waited_for_with_the_low_water_mark_raised() {
    let (mut harness, mut rx, data, rest) = large_payload_setup(4096);
    let mut out = VecDeque::new();
    let mut stream = rest.as_slice();
    harness.run(&mut rx, &mut stream, None, &mut out);
    // Below WAITALL_BODY_MIN the payload shares its receive with the next header's room.
    assert_eq!(
        rx.asked,
        vec![AskedOp::set_lowat(8192), AskedOp::receive(8192, 48, 8192),]
    );
    assert!(stream.is_empty());
    assert_eq!(harness.lowat_history, [8192]);
    assert_eq!(harness.counters.lowat_raises, 1);
    let pdus = delivered(out);
    assert_eq!(pdus.len(), 2);
    assert!(pdus[0].data_placed());
    // The next chain waits for a header: it puts the mark back first.
    harness.run(&mut rx, &mut stream, None, &mut VecDeque::new());
    assert_eq!(rx.asked[0], AskedOp::set_lowat(1));
    assert_eq!(harness.lowat_history, [8192, 1]);
    assert_eq!(rx.lowat.current, 1);
    assert_eq!(&harness.bound()[..8192], data.as_slice());
}

#[test]
fn small_payloads_leave_the_low_water_mark_alone() {
    let (mut harness, mut rx, data, rest) = large_payload_setup(8193);
    let (pdus, _) = harness.run_all(&mut rx, &rest, None);
    assert_eq!(pdus.len(), 2);
    assert!(harness.lowat_history.is_empty());
    assert_eq!(harness.counters.lowat_raises, 0);
    assert_eq!(&harness.bound()[..8192], data.as_slice());
}

#[test]
fn a_short_raised_receive_resumes_with_a_mark_for_the_rest() {
    let (mut harness, mut rx, data, rest) = large_payload_setup(1024);
    let (pdus, outcomes) = harness.run_all(&mut rx, &rest, Some(3000));
    assert!(outcomes.iter().all(|o| *o == RxOutcome::Continue));
    assert_eq!(pdus.len(), 2);
    // 8192 = 3000 + 3000 + 2192: each chain raises the mark to what is left (the mark
    // stays raised after a short receive, and the next chain sets it anew).
    assert_eq!(harness.lowat_history, [8192, 5192, 2192]);
    assert_eq!(harness.counters.short_transfers, 2);
    assert_eq!(&harness.bound()[..8192], data.as_slice());
}

#[test]
fn a_kernel_refusing_socket_setsockopt_gets_plain_receives() {
    let (mut harness, mut rx, data, rest) = large_payload_setup(4096);
    harness.setsockopt_result = -libc::EOPNOTSUPP;
    let mut out = VecDeque::new();
    // The refused raise breaks its chain: the receive behind it comes back cancelled.
    let mut stream = rest.as_slice();
    let outcomes = harness.run(&mut rx, &mut stream, None, &mut out);
    assert_eq!(outcomes, [RxOutcome::Continue, RxOutcome::Continue]);
    assert_eq!(stream.len(), rest.len());
    let (pdus, outcomes) = harness.run_all(&mut rx, &rest, None);
    assert!(outcomes.iter().all(|o| *o == RxOutcome::Continue));
    assert_eq!(pdus.len(), 2);
    assert!(rx.lowat.refused);
    assert!(rx.asked.iter().all(|op| op.sets_lowat.is_none()));
    assert_eq!(rx.lowat.current, 1);
    assert_eq!(&harness.bound()[..8192], data.as_slice());
}

#[test]
fn a_failing_setsockopt_aborts() {
    let (mut harness, mut rx, _, rest) = large_payload_setup(4096);
    harness.setsockopt_result = -libc::EBADF;
    let (pdus, outcomes) = harness.run_all(&mut rx, &rest, None);
    assert!(pdus.is_empty());
    assert_eq!(
        outcomes.last(),
        Some(&RxOutcome::Abort(AbortReason::Socket {
            errno: libc::EBADF
        }))
    );
}

#[test]
fn bytes_moved_behind_a_short_op_break_the_stream() {
    let harness = Harness::new(NONE, false);
    let env = harness.env();
    let mut counters = ConnCounters::default();
    let mut out = VecDeque::new();
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    // Pretend a two-op chain is in flight.
    let op = AskedOp::receive(0, 48, 0);
    rx.asked = vec![op, op];
    rx.chain.submitted(2);
    assert_eq!(
        rx.on_cqe(10, 0, &env, &mut counters, &mut out),
        RxOutcome::Continue
    );
    assert_eq!(
        rx.on_cqe(48, 0, &env, &mut counters, &mut out),
        RxOutcome::Abort(AbortReason::LinkOrderBroken)
    );
}

#[test]
fn fin_errors_and_cancels() {
    let harness = Harness::new(NONE, false);
    let env = harness.env();
    let mut counters = ConnCounters::default();
    let mut out = VecDeque::new();
    let pushed = || {
        let mut rx = Rx::new(Tid::ZERO, STAGING);
        rx.asked = vec![AskedOp::receive(0, 48, 0)];
        rx.chain.submitted(1);
        rx
    };
    let mut rx = pushed();
    assert_eq!(
        rx.on_cqe(0, 0, &env, &mut counters, &mut out),
        RxOutcome::PeerClosed
    );
    assert!(!rx.wants_push(), "halted after FIN");
    assert_eq!(
        pushed().on_cqe(-libc::ECONNRESET, 0, &env, &mut counters, &mut out),
        RxOutcome::Abort(AbortReason::Socket {
            errno: libc::ECONNRESET
        })
    );
    assert_eq!(
        pushed().on_cqe(-libc::ECANCELED, 0, &env, &mut counters, &mut out),
        RxOutcome::Abort(AbortReason::UnexpectedCancel)
    );
    assert!(out.is_empty());
}

#[test]
fn oversize_data_segment_aborts_before_buffering() {
    let mut harness = Harness::new(NONE, true);
    let mut wire = nop_in(1, b"", NONE);
    wire[5..8].copy_from_slice(&[0x02, 0, 0]); // 128 KiB declared
    let mut rx = Rx::new(Tid::ZERO, STAGING);
    let (pdus, outcomes) = harness.run_all(&mut rx, &wire, None);
    assert!(pdus.is_empty());
    assert_eq!(
        outcomes.last(),
        Some(&RxOutcome::Abort(AbortReason::DataSegmentTooLong {
            len: 131072,
            max: 65536
        }))
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
        limit in proptest::option::of(1usize..64),
        digests in 0u8..4,
        read_ahead: bool,
        wake_on_bytes in prop_oneof![Just(0u32), 1u32..5000],
    ) {
        let digests = UlpSubmode::from_bits(digests).unwrap();
        let mut harness = Harness::new(digests, read_ahead);
        harness.wake_on_bytes = wake_on_bytes;
        harness.bind();
        let mut rx = Rx::new(Tid::ZERO, 1024);
        let (pdus, _) = harness.run_all(&mut rx, &bytes, limit);
        for header in pdus {
            prop_assert!(header.data.len() <= 65536);
        }
    }

    #[test]
    fn any_split_of_a_stream_delivers_the_same_pdus(
        sizes in proptest::collection::vec(0usize..9000, 1..8),
        limit in proptest::option::of(1usize..5000),
        digests in 0u8..4,
        read_ahead: bool,
        wake_on_bytes in prop_oneof![Just(0u32), 1u32..10000],
    ) {
        let digests = UlpSubmode::from_bits(digests).unwrap();
        let mut harness = Harness::new(digests, read_ahead);
        harness.wake_on_bytes = wake_on_bytes;
        let wire: Vec<u8> = sizes
            .iter()
            .enumerate()
            .flat_map(|(i, &len)| nop_in(i as u32, &pattern(len, i as u8), digests))
            .collect();
        let mut rx = Rx::new(Tid::ZERO, 4096);
        let (pdus, outcomes) = harness.run_all(&mut rx, &wire, limit);
        prop_assert!(outcomes.iter().all(|o| *o == RxOutcome::Continue));
        prop_assert_eq!(pdus.len(), sizes.len());
        for (i, pdu) in pdus.iter().enumerate() {
            prop_assert_eq!(&pdu.data, &pattern(sizes[i], i as u8));
            prop_assert_eq!(pdu.ddp_status, DdpStatus::NONE);
        }
    }
}
