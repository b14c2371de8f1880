//! Receive: the per-connection framing state machine.
//!
//! A PDU is read as: header (BHS, then any AHS and the header digest), then its data segment,
//! either placed straight into a task buffer (see [`ddp_rx`](super::ddp_rx)) followed by a
//! small tail read (padding + data digest), or read whole into an engine buffer and delivered
//! inline. Every read asks for exactly the bytes of its piece with MSG_WAITALL, and once a
//! header is in the engine pushes the whole rest of the PDU *and the next header* as one linked
//! chain: a PDU costs one trip through the ring (two when it has AHS, or when the header digest
//! is switched on while its header read is in flight).
//!
//! The header buffer is copied into the PDU record before the chain is pushed, because the
//! chain's last read overwrites it with the next header.

use std::collections::VecDeque;

use io_uring::squeue::Flags;
use io_uring::{opcode, types};

use iscsi_proto::digest::{crc32c, crc32c_append, from_wire};
use iscsi_proto::pdu::{padded, BhsLengths, MAX_AHS_LEN};

use super::counters::ConnCounters;
use super::ddp_rx::{choose_data_path, DataPath, PlaceEnv, PlacedRun};
use super::error::AbortReason;
use super::link::{classify, Chain, OpResult};
use super::submit::{SqFull, Submitter};
use super::task_buffer::IoTarget;
use crate::cpl::IscsiHdr;
use crate::ddp_status::DdpStatus;
use crate::tid::Tid;
use crate::wr::{UlpSubmode, BHS_LEN};

const DIGEST_LEN: usize = 4;
const HEADER_BUF_LEN: usize = BHS_LEN + MAX_AHS_LEN + DIGEST_LEN;
/// Up to 3 pad bytes and a data digest.
const TAIL_BUF_LEN: usize = 3 + DIGEST_LEN;
/// Reads pushed as one linked chain.
const MAX_CHAIN_READS: usize = 16;

/// What finishing a read means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// Header bytes: look at the header once this read is done.
    Header,
    /// Data-segment bytes; `finishes_pdu` when nothing follows them.
    Data { finishes_pdu: bool },
    /// Padding and data digest of a placed payload.
    Tail,
}

#[derive(Clone, Copy, Debug)]
struct Read {
    step: Step,
    target: IoTarget,
    remaining: u32,
}

impl Read {
    fn advance(&mut self, moved: u32) {
        self.remaining -= moved;
        self.target = match self.target {
            IoTarget::Mapped(ptr) => IoTarget::Mapped(ptr.wrapping_add(moved as usize)),
            IoTarget::Fixed { buf_index, addr } => IoTarget::Fixed {
                buf_index,
                addr: addr + u64::from(moved),
            },
        };
    }
}

/// Where a PDU's data segment is going.
enum Body {
    None,
    /// Data, padding and data digest, received whole.
    Inline(Vec<u8>),
    /// Placed runs; padding and digest arrive in the tail buffer.
    Placed(Vec<PlacedRun>),
}

/// The PDU being received, after its header.
struct RxPdu {
    bhs: [u8; BHS_LEN],
    ahs: Vec<u8>,
    data_len: usize,
    digests: UlpSubmode,
    status: DdpStatus,
    pdu_len: u32,
    body: Body,
}

/// What a receive CQE led to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RxEvent {
    /// Nothing for the initiator.
    Nothing,
    /// A PDU to deliver.
    Pdu(IscsiHdr),
    /// The peer closed its side (FIN): no more reads.
    PeerClosed,
    /// The connection must be aborted.
    Abort(AbortReason),
}

/// Settings the receive side reads at header time.
pub(crate) struct RxEnv<'a> {
    pub place: PlaceEnv<'a>,
    pub digests: UlpSubmode,
    pub max_data_segment_len: u32,
}

/// The receive state of one connection.
pub(crate) struct Rx {
    tid: Tid,
    header: Box<[u8; HEADER_BUF_LEN]>,
    header_got: usize,
    tail: Box<[u8; TAIL_BUF_LEN]>,
    plan: VecDeque<Read>,
    /// Index in `plan` of the read the next CQE belongs to.
    cqe_read: usize,
    chain: Chain,
    pdu: Option<RxPdu>,
    halted: bool,
}

impl Rx {
    /// A receive side of connection `tid` about to read its first header.
    pub fn new(tid: Tid, digests: UlpSubmode) -> Rx {
        let mut rx = Rx {
            tid,
            header: Box::new([0; HEADER_BUF_LEN]),
            header_got: 0,
            tail: Box::new([0; TAIL_BUF_LEN]),
            plan: VecDeque::new(),
            cqe_read: 0,
            chain: Chain::default(),
            pdu: None,
            halted: false,
        };
        rx.plan_next_header(digests);
        rx
    }

    /// Stops planning reads (peer FIN, header digest error, teardown).
    pub fn halt(&mut self) {
        self.halted = true;
    }

    /// Whether planned reads should be pushed now.
    pub fn wants_push(&self) -> bool {
        !self.halted && !self.chain.is_active() && !self.plan.is_empty()
    }

    fn plan_next_header(&mut self, digests: UlpSubmode) {
        self.header_got = 0;
        let len = BHS_LEN + if digests.header_digest { DIGEST_LEN } else { 0 };
        self.plan.push_back(Read {
            step: Step::Header,
            target: IoTarget::Mapped(self.header.as_mut_ptr()),
            remaining: len as u32,
        });
    }

    /// Pushes the planned reads as one chain, counting each SQE in `ops_in_flight`.
    pub fn push_chain(
        &mut self,
        fd: types::Fd,
        token: u64,
        sub: &mut dyn Submitter,
        counters: &mut ConnCounters,
        ops_in_flight: &mut usize,
    ) -> Result<(), SqFull> {
        let count = self.plan.len().min(MAX_CHAIN_READS).min(sub.sq_space());
        if count == 0 {
            return Err(SqFull);
        }
        for (index, read) in self.plan.iter().take(count).enumerate() {
            let sqe = match read.target {
                IoTarget::Mapped(ptr) => {
                    counters.recv_calls += 1;
                    opcode::Recv::new(fd, ptr, read.remaining)
                        .flags(libc::MSG_WAITALL)
                        .build()
                }
                IoTarget::Fixed { buf_index, addr } => {
                    counters.read_fixed_calls += 1;
                    // A socket refuses any offset but 0 (ESPIPE).
                    opcode::ReadFixed::new(fd, addr as *mut u8, read.remaining, buf_index)
                        .offset(0)
                        .build()
                }
            };
            let sqe = if index + 1 < count {
                sqe.flags(Flags::IO_LINK)
            } else {
                sqe
            };
            if let Err(full) = sub.push(token, sqe) {
                // The submitter broke its sq_space promise; account for what went in.
                self.chain.submitted(index);
                self.cqe_read = 0;
                return Err(full);
            }
            *ops_in_flight += 1;
        }
        counters.rx_chains += 1;
        self.chain.submitted(count);
        self.cqe_read = 0;
        Ok(())
    }

    /// Applies one receive CQE.
    pub fn on_cqe(&mut self, result: i32, env: &RxEnv<'_>, counters: &mut ConnCounters) -> RxEvent {
        let index = self.cqe_read;
        let Some(read) = self.plan.get(index).copied() else {
            self.chain.on_cqe();
            return RxEvent::Abort(AbortReason::LinkOrderBroken);
        };
        let outcome = classify(result, read.remaining, self.chain.is_broken());
        self.chain.on_cqe();
        match outcome {
            // Only the oldest read can complete: a later one would have been cancelled.
            OpResult::Complete if index != 0 => RxEvent::Abort(AbortReason::LinkOrderBroken),
            OpResult::Complete => {
                self.plan.pop_front();
                if read.step == Step::Header {
                    self.header_got += read.remaining as usize;
                }
                self.finish_read(read.step, env, counters)
            }
            OpResult::Short(moved) => {
                counters.short_transfers += 1;
                if read.step == Step::Header {
                    self.header_got += moved as usize;
                }
                if let Some(short) = self.plan.get_mut(index) {
                    short.advance(moved);
                }
                self.chain.break_link();
                self.cqe_read = index + 1;
                RxEvent::Nothing
            }
            OpResult::Cancelled if self.chain.is_broken() || self.halted => {
                self.cqe_read += 1;
                RxEvent::Nothing
            }
            OpResult::Cancelled => RxEvent::Abort(AbortReason::UnexpectedCancel),
            OpResult::Eof => {
                self.halt();
                RxEvent::PeerClosed
            }
            OpResult::Failed(errno) => RxEvent::Abort(AbortReason::Socket { errno }),
            OpResult::OutOfOrder => RxEvent::Abort(AbortReason::LinkOrderBroken),
        }
    }

    fn finish_read(&mut self, step: Step, env: &RxEnv<'_>, counters: &mut ConnCounters) -> RxEvent {
        match step {
            Step::Header => self.on_header(env, counters),
            Step::Data {
                finishes_pdu: false,
            } => RxEvent::Nothing,
            Step::Data { finishes_pdu: true } | Step::Tail => self.finish_pdu(counters),
        }
    }

    /// A header read is complete: read more header, or plan the rest of the PDU.
    fn on_header(&mut self, env: &RxEnv<'_>, counters: &mut ConnCounters) -> RxEvent {
        let digests = env.digests;
        let mut bhs = [0u8; BHS_LEN];
        bhs.copy_from_slice(&self.header[..BHS_LEN]);
        let lengths = BhsLengths::of(&bhs);
        let digest_len = if digests.header_digest { DIGEST_LEN } else { 0 };
        let header_len = BHS_LEN + lengths.ahs_len + digest_len;
        if self.header_got < header_len {
            // AHS present, or the header digest was switched on while this read was queued.
            self.plan.push_back(Read {
                step: Step::Header,
                target: IoTarget::Mapped(self.header.as_mut_ptr().wrapping_add(self.header_got)),
                remaining: (header_len - self.header_got) as u32,
            });
            return RxEvent::Nothing;
        }
        if self.header_got > header_len {
            return RxEvent::Abort(AbortReason::SubmodeChangedMidHeader);
        }
        let covered = BHS_LEN + lengths.ahs_len;
        let ahs = self.header[BHS_LEN..covered].to_vec();
        if digests.header_digest {
            let mut wire = [0u8; DIGEST_LEN];
            wire.copy_from_slice(&self.header[covered..header_len]);
            if from_wire(wire) != crc32c(&self.header[..covered]) {
                // The lengths in a corrupt header cannot be trusted: stop reading the stream.
                counters.hdr_digest_errors += 1;
                self.halt();
                return RxEvent::Pdu(IscsiHdr {
                    tid: self.tid,
                    bhs,
                    ahs,
                    data: Vec::new(),
                    ddp_status: DdpStatus::HDRCRC_ERR,
                    pdu_len: header_len as u32,
                });
            }
        }
        // DataSegmentLength is 24 bits, so it fits u32.
        let data_len = lengths.data_len as u32;
        if data_len > env.max_data_segment_len {
            return RxEvent::Abort(AbortReason::DataSegmentTooLong {
                len: data_len,
                max: env.max_data_segment_len,
            });
        }
        let data_digest_len = if digests.data_digest && data_len > 0 {
            DIGEST_LEN
        } else {
            0
        };
        let padded_len = padded(lengths.data_len);
        let pdu_len = (header_len + padded_len + data_digest_len) as u32;
        let mut pdu = RxPdu {
            bhs,
            ahs,
            data_len: lengths.data_len,
            digests,
            status: DdpStatus::NONE,
            pdu_len,
            body: Body::None,
        };
        if data_len == 0 {
            self.plan_next_header(digests);
            self.pdu = Some(pdu);
            return self.finish_pdu(counters);
        }
        let tail_len = padded_len - lengths.data_len + data_digest_len;
        match choose_data_path(&env.place, &bhs, data_len) {
            DataPath::Place(runs) => {
                // A non-empty payload always yields at least one run.
                let last = runs.len().saturating_sub(1);
                for (index, run) in runs.iter().enumerate() {
                    self.plan.push_back(Read {
                        step: Step::Data {
                            finishes_pdu: index == last && tail_len == 0,
                        },
                        target: run.target,
                        remaining: run.len,
                    });
                }
                if tail_len > 0 {
                    self.plan.push_back(Read {
                        step: Step::Tail,
                        target: IoTarget::Mapped(self.tail.as_mut_ptr()),
                        remaining: tail_len as u32,
                    });
                }
                pdu.status = DdpStatus::DDP_PDU;
                pdu.body = Body::Placed(runs);
            }
            DataPath::Inline(status) => {
                if status.has_error() {
                    counters.ddp_errors.record(status);
                }
                let mut buffer = vec![0u8; padded_len + data_digest_len];
                self.plan.push_back(Read {
                    step: Step::Data { finishes_pdu: true },
                    target: IoTarget::Mapped(buffer.as_mut_ptr()),
                    remaining: buffer.len() as u32,
                });
                pdu.status = status;
                // Moving the Vec into the record keeps its heap buffer where the read points.
                pdu.body = Body::Inline(buffer);
            }
        }
        self.pdu = Some(pdu);
        self.plan_next_header(digests);
        RxEvent::Nothing
    }

    /// Every byte of the PDU is in: check padding and data digest, deliver.
    fn finish_pdu(&mut self, counters: &mut ConnCounters) -> RxEvent {
        let Some(pdu) = self.pdu.take() else {
            return RxEvent::Abort(AbortReason::LinkOrderBroken);
        };
        let padded_len = padded(pdu.data_len);
        let pad_len = padded_len - pdu.data_len;
        let data_digest = pdu.digests.data_digest && pdu.data_len > 0;
        let mut status = pdu.status;
        let data = match pdu.body {
            Body::None => Vec::new(),
            Body::Inline(mut buffer) => {
                let (segment, digest) = buffer.split_at(padded_len);
                if segment[pdu.data_len..].iter().any(|&byte| byte != 0) {
                    status = status | DdpStatus::PADDING_ERR;
                }
                if data_digest && !digest_matches(crc32c(segment), digest) {
                    status = status | DdpStatus::DATACRC_ERR;
                }
                buffer.truncate(pdu.data_len);
                counters.copied_bytes += pdu.data_len as u64;
                buffer
            }
            Body::Placed(runs) => {
                let (pad, digest) = self.tail[..pad_len + if data_digest { DIGEST_LEN } else { 0 }]
                    .split_at(pad_len);
                if pad.iter().any(|&byte| byte != 0) {
                    status = status | DdpStatus::PADDING_ERR;
                }
                if data_digest && !digest_matches(crc_over_runs(&runs, pad), digest) {
                    status = status | DdpStatus::DATACRC_ERR;
                }
                counters.ddp_bytes += pdu.data_len as u64;
                Vec::new()
            }
        };
        if status.contains(DdpStatus::PADDING_ERR) {
            counters.pad_errors += 1;
        }
        if status.contains(DdpStatus::DATACRC_ERR) {
            counters.data_digest_errors += 1;
        }
        counters.pdus_rx += 1;
        counters.bytes_rx += u64::from(pdu.pdu_len);
        RxEvent::Pdu(IscsiHdr {
            tid: self.tid,
            bhs: pdu.bhs,
            ahs: pdu.ahs,
            data,
            ddp_status: status,
            pdu_len: pdu.pdu_len,
        })
    }
}

fn digest_matches(computed: u32, wire: &[u8]) -> bool {
    wire.first_chunk::<DIGEST_LEN>()
        .is_some_and(|bytes| from_wire(*bytes) == computed)
}

/// CRC32C over placed runs and the received padding.
fn crc_over_runs(runs: &[PlacedRun], pad: &[u8]) -> u32 {
    let mut crc = crc32c(&[]);
    for run in runs {
        if let IoTarget::Mapped(ptr) = run.target {
            // SAFETY: the run lies inside a registered mapped task buffer (checked against the
            // registration before the read was planned), the kernel finished writing it (its
            // CQE is in), and the registration contract keeps it valid and otherwise untouched
            // while I/O on it is in flight.
            let bytes = unsafe { std::slice::from_raw_parts(ptr.cast_const(), run.len as usize) };
            crc = crc32c_append(crc, bytes);
        }
    }
    crc32c_append(crc, pad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::task_buffer::TaskBuffers;
    use crate::ppm::{Ppm, PpmConfig};
    use crate::ppod::PageSize;
    use io_uring::squeue::Entry;
    use iscsi_proto::digest::to_wire;
    use proptest::prelude::*;

    struct Recorder(usize);

    impl Submitter for Recorder {
        fn sq_space(&mut self) -> usize {
            64
        }

        fn push(&mut self, _token: u64, _sqe: Entry) -> Result<(), SqFull> {
            self.0 += 1;
            Ok(())
        }
    }

    struct Harness {
        ppm: Ppm,
        tasks: TaskBuffers,
        counters: ConnCounters,
        ops_in_flight: usize,
    }

    impl Harness {
        fn new() -> Harness {
            Harness {
                ppm: Ppm::new(PpmConfig::new(1024, 4096)).unwrap(),
                tasks: TaskBuffers::default(),
                counters: ConnCounters::default(),
                ops_in_flight: 0,
            }
        }

        fn env(&self, digests: UlpSubmode) -> RxEnv<'_> {
            RxEnv {
                place: PlaceEnv {
                    ppm: &self.ppm,
                    tasks: &self.tasks,
                    tid: Tid::ZERO,
                    page_size: PageSize::Size4K,
                    data_digest: digests.data_digest,
                },
                digests,
                max_data_segment_len: 65536,
            }
        }

        /// Plays the kernel for one pushed chain: each read takes what `stream` holds, up to
        /// `limit` bytes per read when given (a short read), and the reads behind a short one
        /// come back cancelled. Stops at a read that would have to wait for more bytes.
        fn run_chain(
            &mut self,
            rx: &mut Rx,
            digests: UlpSubmode,
            stream: &mut &[u8],
            limit: Option<u32>,
            events: &mut Vec<RxEvent>,
        ) {
            let mut recorder = Recorder(0);
            rx.push_chain(
                types::Fd(-1),
                0,
                &mut recorder,
                &mut self.counters,
                &mut self.ops_in_flight,
            )
            .unwrap();
            let mut short = false;
            for _ in 0..recorder.0 {
                let (ppm, tasks) = (&self.ppm, &self.tasks);
                let env = RxEnv {
                    place: PlaceEnv {
                        ppm,
                        tasks,
                        tid: Tid::ZERO,
                        page_size: PageSize::Size4K,
                        data_digest: digests.data_digest,
                    },
                    digests,
                    max_data_segment_len: 65536,
                };
                if short {
                    events.push(rx.on_cqe(-libc::ECANCELED, &env, &mut self.counters));
                    continue;
                }
                let read = rx.plan[rx.cqe_read];
                let want = read.remaining.min(limit.unwrap_or(u32::MAX));
                let take = (want as usize).min(stream.len());
                if take == 0 {
                    return;
                }
                let IoTarget::Mapped(ptr) = read.target else {
                    panic!("test only plays mapped reads");
                };
                // SAFETY: the read's target is an Rx buffer of at least `remaining` bytes.
                unsafe { std::ptr::copy_nonoverlapping(stream.as_ptr(), ptr, take) };
                *stream = &stream[take..];
                short = (take as u32) < read.remaining;
                events.push(rx.on_cqe(take as i32, &env, &mut self.counters));
            }
        }
    }

    fn nop_in(data: &[u8], digests: UlpSubmode) -> Vec<u8> {
        let mut bhs = [0u8; BHS_LEN];
        bhs[0] = 0x20;
        bhs[1] = 0x80;
        bhs[5..8].copy_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        bhs[16..20].copy_from_slice(&0x1234u32.to_be_bytes());
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

    fn delivered(events: &[RxEvent]) -> Vec<&IscsiHdr> {
        events
            .iter()
            .filter_map(|event| match event {
                RxEvent::Pdu(header) => Some(header),
                _ => None,
            })
            .collect()
    }

    const BOTH: UlpSubmode = UlpSubmode {
        header_digest: true,
        data_digest: true,
    };

    #[test]
    fn short_reads_resume_where_they_stopped() {
        let mut harness = Harness::new();
        let wire = [nop_in(b"hello world", BOTH), nop_in(b"", BOTH)].concat();
        let mut stream = wire.as_slice();
        let mut rx = Rx::new(Tid::ZERO, BOTH);
        let mut events = Vec::new();
        // Every read is cut to 5 bytes: headers, data and the chain behind them resume.
        while !stream.is_empty() {
            harness.run_chain(&mut rx, BOTH, &mut stream, Some(5), &mut events);
        }
        let pdus = delivered(&events);
        assert_eq!(pdus.len(), 2, "{events:?}");
        assert_eq!(pdus[0].data, b"hello world");
        assert_eq!(pdus[0].ddp_status, DdpStatus::NONE);
        assert_eq!(pdus[0].pdu_len, 48 + 4 + 12 + 4);
        assert!(pdus[1].data.is_empty());
        assert!(harness.counters.short_transfers > 10);
        assert!(events
            .iter()
            .all(|event| matches!(event, RxEvent::Nothing | RxEvent::Pdu(_))));
    }

    #[test]
    fn header_digest_switched_on_mid_header_reads_four_more_bytes() {
        let mut harness = Harness::new();
        let wire = nop_in(b"abc", BOTH);
        let mut stream = wire.as_slice();
        // The header read was sized without a digest.
        let mut rx = Rx::new(Tid::ZERO, UlpSubmode::default());
        let mut events = Vec::new();
        while !stream.is_empty() {
            harness.run_chain(&mut rx, BOTH, &mut stream, None, &mut events);
        }
        let pdus = delivered(&events);
        assert_eq!(pdus.len(), 1);
        assert_eq!(pdus[0].data, b"abc");
        assert_eq!(pdus[0].ddp_status, DdpStatus::NONE);
    }

    #[test]
    fn header_digest_switched_off_mid_header_aborts() {
        let mut harness = Harness::new();
        let wire = nop_in(b"", BOTH);
        let mut stream = wire.as_slice();
        let mut rx = Rx::new(Tid::ZERO, BOTH);
        let mut events = Vec::new();
        harness.run_chain(
            &mut rx,
            UlpSubmode::default(),
            &mut stream,
            None,
            &mut events,
        );
        assert_eq!(
            events,
            vec![RxEvent::Abort(AbortReason::SubmodeChangedMidHeader)]
        );
    }

    #[test]
    fn bytes_moved_behind_a_short_read_break_the_stream() {
        let harness = Harness::new();
        let mut rx = Rx::new(Tid::ZERO, UlpSubmode::default());
        let mut counters = ConnCounters::default();
        let env = harness.env(UlpSubmode::default());
        // Pretend a three-read chain is in flight.
        rx.plan.push_back(rx.plan[0]);
        rx.plan.push_back(rx.plan[0]);
        rx.chain.submitted(3);
        assert_eq!(rx.on_cqe(10, &env, &mut counters), RxEvent::Nothing);
        assert_eq!(
            rx.on_cqe(48, &env, &mut counters),
            RxEvent::Abort(AbortReason::LinkOrderBroken)
        );
    }

    #[test]
    fn fin_and_errors() {
        let harness = Harness::new();
        let env = harness.env(UlpSubmode::default());
        let mut counters = ConnCounters::default();
        let mut rx = Rx::new(Tid::ZERO, UlpSubmode::default());
        rx.chain.submitted(1);
        assert_eq!(rx.on_cqe(0, &env, &mut counters), RxEvent::PeerClosed);
        assert!(!rx.wants_push(), "halted after FIN");
        let mut rx = Rx::new(Tid::ZERO, UlpSubmode::default());
        rx.chain.submitted(1);
        assert_eq!(
            rx.on_cqe(-libc::ECONNRESET, &env, &mut counters),
            RxEvent::Abort(AbortReason::Socket {
                errno: libc::ECONNRESET
            })
        );
        let mut rx = Rx::new(Tid::ZERO, UlpSubmode::default());
        rx.chain.submitted(1);
        assert_eq!(
            rx.on_cqe(-libc::ECANCELED, &env, &mut counters),
            RxEvent::Abort(AbortReason::UnexpectedCancel)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..4096),
            limit in proptest::option::of(1u32..64),
            digests in 0u8..4,
        ) {
            let digests = UlpSubmode::from_bits(digests).unwrap();
            let mut harness = Harness::new();
            let mut stream = bytes.as_slice();
            let mut rx = Rx::new(Tid::ZERO, digests);
            let mut events = Vec::new();
            while !stream.is_empty() && rx.wants_push() {
                let before = stream.len();
                harness.run_chain(&mut rx, digests, &mut stream, limit, &mut events);
                if stream.len() == before {
                    break;
                }
                if events.iter().any(|event| matches!(event, RxEvent::Abort(_))) {
                    break;
                }
            }
            for header in delivered(&events) {
                prop_assert!(header.data.len() <= 65536);
                prop_assert!(!header.ddp_status.is_placed());
            }
        }
    }
}
