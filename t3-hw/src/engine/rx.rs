//! Receive: from the socket to the byte in the task buffer, for one connection.
//!
//! Three pieces, each in one place: the [`framer`](super::framer) says where a PDU's header
//! ends and how long the rest is, and checks padding and digests; [`place`] says where the
//! data segment goes; this module plans the io_uring receives that put the bytes there and
//! keeps count of what arrived.
//!
//! Stream bytes land in one of two places. Headers go to the connection's **staging buffer**;
//! once the framer has taken a header, the rest of its PDU goes to its **destination**: the
//! task-buffer runs [`place`] returned (a placed Data-In: the DDP path) or an engine buffer
//! delivered inline with the header, then padding and data digest to a small trailer buffer.
//! A Data-In's journey: [`Rx::push_chain`] asks for the rest of its header, [`Rx::on_cqe`]
//! counts the bytes in, `take_header` frames it and calls [`place`], the next chain receives
//! the payload straight into the runs (or `fill_from_staging` copies what came along with the
//! header), and `finish_pdu` checks the trailer and delivers the header as a completion.
//!
//! A connection has one receive in flight, and it ends with an IORING_OP_RECVMSG *without*
//! MSG_WAITALL whose iovecs are [rest of the current PDU's destination, trailer, staging room]:
//! it returns what the socket holds, so a PDU whose bytes have all arrived costs one op, payload
//! included, and a short return resumes at the first byte that did not arrive. Two kinds of op
//! may be linked before it: a body of [`WAITALL_BODY_MIN`] bytes or more is received with
//! MSG_WAITALL (the kernel gathers it without a trip through userspace per segment), and a run
//! in an io_uring fixed buffer is a READ_FIXED.
//!
//! The staging room a receive offers decides whether bytes behind the next header can arrive
//! before that header has been looked at:
//! - **exact**: just the rest of the next header. A placed payload then always goes straight
//!   from the socket to its task buffer, as on the T3. Used after a placed payload of at least
//!   `exact_placement_from` bytes (the software DDP threshold), while more than one SCSI status
//!   is owed, and always when read-ahead is off or fixed buffers are registered.
//! - **read-ahead**: the whole staging buffer. A request/response exchange (one status owed)
//!   then costs one receive for header and payload together, and unsolicited or small PDUs
//!   arrive many per receive. Payload that came with its header is copied out of staging: into
//!   its inline buffer, or, for a placed Data-In, into its task buffer by the engine (counted in
//!   `staged_bytes`). Bytes for a fixed buffer cannot be copied from userspace, which is why
//!   fixed buffers switch read-ahead off.
//!
//! **Waking once per payload.** A receive that waits for a large payload would otherwise be
//! woken (and copy) once per segment batch the network hands over. When the first receive
//! of a chain takes at least `wake_on_bytes`, the chain is an io_uring setsockopt raising
//! the socket's SO_RCVLOWAT to that op's length, then that receive alone, polling before
//! it reads (IORING_RECVSEND_POLL_FIRST): it runs once, when the whole payload is in the
//! socket. The next chain that waits for less starts by putting SO_RCVLOWAT back to 1.
//! The raised receive never uses MSG_WAITALL: the kernel may fire the poll early (memory
//! pressure, a closing window, a mark it capped), and a WAITALL retry would then wait for
//! a mark the rest of the stream may never reach; a short return (which does not break an
//! io_uring link without WAITALL, hence nothing behind it) resumes in a new chain with a
//! new mark instead. A kernel without socket setsockopt in io_uring refuses the first
//! raise, and the connection goes on without.
//!
//! Why not read ahead while many statuses are owed: each exact receive leaves the next PDUs in
//! the socket, so the commands their completions trigger are held back and leave together (see
//! `Conn::tx_deferred`); swallowing the socket in one read sends them one by one. One send for
//! many commands saves more than the receives read-ahead saves: against a CPU-bound target
//! (tgtd) at a deep queue, exact receives gave more IOPS and less CPU per I/O (see
//! `docs/benchmarks/2026-11-24-host-engine-batching.md`).

use std::collections::VecDeque;

use io_uring::squeue::{Entry, Flags};
use io_uring::{cqueue, opcode, types};
use iscsi_proto::pdu::{Header, Opcode, PduError};

use super::counters::ConnCounters;
use super::error::AbortReason;
use super::framer::{
    FrameError, FrameFormat, FramedHeader, SegmentCheck, HEADER_MAX_LEN, TRAILER_MAX_LEN,
};
use super::link::{classify, Chain, OpResult};
use super::placement::{place, PlaceEnv, PlacedRun, Placement};
use super::submit::{SqFull, Submitter};
use super::task_buffer::IoTarget;
use crate::cpl::{Completion, IscsiHdr};
use crate::ddp_status::DdpStatus;
use crate::tid::Tid;

/// Bodies at least this long get a MSG_WAITALL receive of their own.
pub(crate) const WAITALL_BODY_MIN: u32 = 64 * 1024;
/// Iovecs of one RECVMSG.
const MAX_RX_IOVECS: usize = 64;
/// Ops of one receive chain.
const MAX_RX_OPS: usize = 16;
/// Ops a chain may add before its receives: a setsockopt of SO_RCVLOWAT.
const LOWAT_OPS: usize = 1;
/// IORING_RECVSEND_POLL_FIRST, in the SQE's ioprio field of a receive.
const IORING_RECVSEND_POLL_FIRST: u16 = 1;

/// The PDU whose data segment is arriving.
struct Arriving {
    framed: FramedHeader,
    check: SegmentCheck,
    /// What placement reported (DDP_PDU, or why it refused).
    status: DdpStatus,
    /// An inline body: data, padding and data digest.
    inline: Option<Vec<u8>>,
}

/// Where the rest of the current PDU goes, in stream order, and how much of it is in.
#[derive(Default)]
struct Destination {
    /// Placed runs or the inline buffer, then the trailer when the PDU has one.
    spans: Vec<PlacedRun>,
    /// How many leading spans are placed payload runs.
    placed_runs: usize,
    /// The first span with bytes missing, and how many of its bytes are in.
    at: usize,
    filled: u32,
}

impl Destination {
    fn clear(&mut self) {
        self.spans.clear();
        self.placed_runs = 0;
        self.at = 0;
        self.filled = 0;
    }

    fn is_complete(&self) -> bool {
        self.at == self.spans.len()
    }

    /// Counts `bytes` more as arrived, span after span.
    fn advance(&mut self, mut bytes: u32) {
        while bytes > 0 {
            let Some(span) = self.spans.get(self.at) else {
                break;
            };
            let take = (span.len - self.filled).min(bytes);
            self.filled += take;
            bytes -= take;
            if self.filled == span.len {
                self.at += 1;
                self.filled = 0;
            }
        }
    }

    /// The placed runs, once all their bytes are in.
    fn placed(&self) -> &[PlacedRun] {
        &self.spans[..self.placed_runs]
    }
}

/// Received bytes not yet framed: `buf[start..end]`.
struct Staging {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl Staging {
    fn bytes(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, len: usize) {
        self.start = (self.start + len).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Room for up to `want` bytes at the end, made contiguous first when they would not fit.
    fn room(&mut self, want: usize) -> usize {
        if self.start > 0 && self.end + want > self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        want.min(self.buf.len() - self.end)
    }
}

/// The socket's SO_RCVLOWAT, as the receive side sets it.
struct LowWater {
    /// As far as completed setsockopts tell (the kernel's default is 1).
    current: u32,
    /// The value the chain in flight sets; boxed so its address holds while the setsockopt is
    /// in flight.
    setting: Box<libc::c_int>,
    /// The kernel refused a setsockopt through io_uring: receives wake as data arrives.
    refused: bool,
}

/// What one op of the chain in flight asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AskedOp {
    /// Bytes for the current PDU's destination (they come first).
    body: u32,
    /// Bytes of staging room behind them.
    staging: u32,
    /// Bytes the stream is known to owe this op (the body and the rest of the next header);
    /// returning fewer counts as a short transfer.
    due: u32,
    /// Not a receive: a setsockopt setting SO_RCVLOWAT to this value.
    sets_lowat: Option<u32>,
}

impl AskedOp {
    fn receive(body: u32, staging: u32, due: u32) -> AskedOp {
        AskedOp {
            body,
            staging,
            due,
            sets_lowat: None,
        }
    }

    fn set_lowat(value: u32) -> AskedOp {
        AskedOp {
            body: 0,
            staging: 0,
            due: 0,
            sets_lowat: Some(value),
        }
    }

    fn total(self) -> u32 {
        self.body + self.staging
    }
}

/// The message header of the chain's RECVMSG; boxed so its address holds while it is in flight.
struct RecvMsg {
    header: libc::msghdr,
    iovecs: [libc::iovec; MAX_RX_IOVECS],
}

/// What a receive CQE led to, besides the PDUs it delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RxOutcome {
    /// Keep going.
    Continue,
    /// The peer closed its side (FIN): no more reads.
    PeerClosed,
    /// The connection must be aborted.
    Abort(AbortReason),
}

/// Settings the receive side reads.
pub(crate) struct RxEnv<'a> {
    pub place: PlaceEnv<'a>,
    pub format: FrameFormat,
    /// Whether a receive may fill the whole staging buffer (read-ahead) at all.
    pub read_ahead: bool,
    /// Placed payloads of at least this many bytes make the next receive exact, so a large
    /// transfer goes from the socket straight to its buffer; smaller ones are read ahead and
    /// copied out of staging.
    pub exact_placement_from: u32,
    /// A chain whose first receive takes at least this many bytes raises SO_RCVLOWAT to
    /// them, so it wakes once (see the module doc); 0 never does.
    pub wake_on_bytes: u32,
}

/// The receive state of one connection.
pub(crate) struct Rx {
    tid: Tid,
    staging: Staging,
    trailer: Box<[u8; TRAILER_MAX_LEN]>,
    pdu: Option<Arriving>,
    destination: Destination,
    /// Whether the last framed PDU was a placed one of at least `exact_placement_from`
    /// bytes: the next receive is then exact.
    next_exact: bool,
    /// SCSI commands sent whose status has not arrived (as far as this connection saw).
    replies_owed: u32,
    halted: bool,
    lowat: LowWater,
    // The chain in flight.
    asked: Vec<AskedOp>,
    /// Index in `asked` of the op the next CQE answers.
    cqe_at: usize,
    chain: Chain,
    msg: Box<RecvMsg>,
    sqes: Vec<Entry>,
    /// Whether the socket held more bytes when the last receive returned
    /// (IORING_CQE_F_SOCK_NONEMPTY).
    socket_has_more: bool,
}

impl Rx {
    /// A receive side of connection `tid` with `staging_len` bytes of staging (at least one
    /// header's worth is always allocated).
    pub(super) fn new(tid: Tid, staging_len: usize) -> Rx {
        // SAFETY: msghdr and iovec are plain C structs for which all-zero is a valid value.
        let msg: RecvMsg = unsafe { std::mem::zeroed() };
        Rx {
            tid,
            staging: Staging {
                buf: vec![0u8; staging_len.max(HEADER_MAX_LEN)].into_boxed_slice(),
                start: 0,
                end: 0,
            },
            trailer: Box::new([0; TRAILER_MAX_LEN]),
            pdu: None,
            destination: Destination::default(),
            next_exact: false,
            replies_owed: 0,
            halted: false,
            lowat: LowWater {
                current: 1,
                setting: Box::new(1),
                refused: false,
            },
            asked: Vec::new(),
            cqe_at: 0,
            chain: Chain::default(),
            msg: Box::new(msg),
            sqes: Vec::new(),
            socket_has_more: false,
        }
    }

    /// Stops reading (peer FIN, header digest error, teardown).
    pub(super) fn halt(&mut self) {
        self.halted = true;
    }

    /// Whether a receive should be pushed now.
    pub(super) fn wants_push(&self) -> bool {
        !self.halted && !self.chain.is_active()
    }

    /// Whether the socket held more bytes than the last receive took: the next receive will
    /// complete as soon as it is pushed.
    pub(super) fn socket_has_more(&self) -> bool {
        self.socket_has_more
    }

    /// A SCSI Command PDU of this connection was queued: one more status is owed.
    pub(super) fn command_sent(&mut self) {
        self.replies_owed = self.replies_owed.saturating_add(1);
    }

    /// Whether `header` (an outgoing PDU's encoded header) is a SCSI Command, the PDUs
    /// [`command_sent`](Self::command_sent) counts.
    pub(super) fn is_command(header: &[u8]) -> bool {
        header
            .first()
            .is_some_and(|&byte| Opcode::from_byte(byte) == Ok(Opcode::ScsiCommand))
    }

    /// Whether a received header carries a SCSI status.
    fn carries_status(header: &Result<Header, PduError>) -> bool {
        match header {
            Ok(Header::ScsiResponse(_)) => true,
            Ok(Header::DataIn(data_in)) => data_in.has_status,
            _ => false,
        }
    }

    /// Staging room for the next receive.
    fn staging_room(&mut self, env: &RxEnv<'_>) -> usize {
        // With several replies owed the stream is busy: exact receives leave the next PDUs in
        // the socket, which holds back the commands their completions trigger
        // (`Conn::tx_deferred`) until they can leave together.
        let read_ahead = env.read_ahead && !self.next_exact && self.replies_owed <= 1;
        let want = if read_ahead {
            self.staging.buf.len()
        } else {
            env.format.header_missing(self.staging.bytes())
        };
        self.staging.room(want)
    }

    /// Pushes the next receive chain, counting each SQE in `ops_in_flight`.
    pub(super) fn push_chain(
        &mut self,
        fd: types::Fd,
        token: u64,
        env: &RxEnv<'_>,
        sub: &mut dyn Submitter,
        counters: &mut ConnCounters,
        ops_in_flight: &mut usize,
    ) -> Result<(), SqFull> {
        let space = sub.sq_space().min(MAX_RX_OPS);
        if space <= LOWAT_OPS {
            return Err(SqFull);
        }
        let room = self.staging_room(env) as u32;
        let raise_to = self.plan(fd, room, space - LOWAT_OPS, env.wake_on_bytes, counters);
        self.add_lowat_op(fd, raise_to, counters);
        let count = self.sqes.len();
        for (index, sqe) in self.sqes.drain(..).enumerate() {
            let sqe = if index + 1 < count {
                sqe.flags(Flags::IO_LINK)
            } else {
                sqe
            };
            if let Err(full) = sub.push(token, sqe) {
                // The submitter broke its sq_space promise; account for what went in.
                self.asked.truncate(index);
                self.chain.submitted(index);
                self.cqe_at = 0;
                return Err(full);
            }
            *ops_in_flight += 1;
        }
        counters.rx_chains += 1;
        self.chain.submitted(count);
        self.cqe_at = 0;
        Ok(())
    }

    /// Lays out the next receive (at most `space` ops) in `sqes` and `asked`. A first op of
    /// at least `wake_on_bytes` (when not 0) waits for all its bytes at once and ends the
    /// chain; then returns its length, what SO_RCVLOWAT must be raised to.
    fn plan(
        &mut self,
        fd: types::Fd,
        room: u32,
        space: usize,
        wake_on_bytes: u32,
        counters: &mut ConnCounters,
    ) -> Option<u32> {
        let lowat_usable = wake_on_bytes > 0 && !self.lowat.refused;
        // Whether a receive of `due` bytes, first in its chain if `first`, raises the mark.
        let raises = move |first: bool, due: u32| lowat_usable && first && due >= wake_on_bytes;
        self.asked.clear();
        self.sqes.clear();
        let mut at = self.destination.at;
        let mut filled = self.destination.filled;
        // Fixed-buffer runs: an exact READ_FIXED each (a short one breaks the link).
        while let Some(PlacedRun {
            target: IoTarget::Fixed { buf_index, addr },
            len,
        }) = self.destination.spans.get(at).copied()
        {
            if !self.sqes.is_empty() && self.sqes.len() + 1 >= space {
                // No room left for what follows: the rest goes in the next chain.
                return None;
            }
            let left = len - filled;
            let raised = raises(self.sqes.is_empty(), left);
            counters.read_fixed_calls += 1;
            // A socket refuses any offset but 0 (ESPIPE).
            let target = addr.wrapping_add(u64::from(filled)) as *mut u8;
            self.sqes.push(
                opcode::ReadFixed::new(fd, target, left, buf_index)
                    .offset(0)
                    .build(),
            );
            self.asked.push(AskedOp::receive(left, 0, left));
            if raised {
                return Some(left);
            }
            at += 1;
            filled = 0;
        }
        // The mapped rest of the body, keeping an iovec for the staging room.
        let mut iovecs = 0;
        let mut body = 0u32;
        while let Some(PlacedRun {
            target: IoTarget::Mapped(ptr),
            len,
        }) = self.destination.spans.get(at).copied()
        {
            if iovecs + 1 >= MAX_RX_IOVECS {
                break;
            }
            self.msg.iovecs[iovecs] = libc::iovec {
                iov_base: ptr.wrapping_add(filled as usize).cast(),
                iov_len: (len - filled) as usize,
            };
            iovecs += 1;
            body += len - filled;
            at += 1;
            filled = 0;
        }
        let staging = if at == self.destination.spans.len() {
            room
        } else {
            0
        };
        let staging_ptr = self.staging.buf[self.staging.end..].as_mut_ptr();
        if iovecs > 0 && (staging == 0 || body >= WAITALL_BODY_MIN && self.sqes.len() + 2 <= space)
        {
            if raises(self.sqes.is_empty(), body) {
                let op = self.recv_op(fd, iovecs, 0, true);
                self.sqes.push(op);
                self.asked.push(AskedOp::receive(body, 0, body));
                counters.recv_calls += 1;
                return Some(body);
            }
            // Every byte of this op is due, so the kernel may wait for all of them.
            let op = self.recv_op(fd, iovecs, libc::MSG_WAITALL, false);
            self.sqes.push(op);
            self.asked.push(AskedOp::receive(body, 0, body));
            counters.recv_calls += 1;
            iovecs = 0;
            body = 0;
        }
        if staging == 0 {
            return None;
        }
        let poll_first = raises(self.sqes.is_empty(), body);
        let op = if iovecs == 0 {
            // Not through `msg`: a RECVMSG ahead in this chain may still be reading it.
            opcode::Recv::new(fd, staging_ptr, staging)
                .ioprio(if poll_first {
                    IORING_RECVSEND_POLL_FIRST
                } else {
                    0
                })
                .build()
        } else {
            self.msg.iovecs[iovecs] = libc::iovec {
                iov_base: staging_ptr.cast(),
                iov_len: staging as usize,
            };
            self.recv_op(fd, iovecs + 1, 0, poll_first)
        };
        self.sqes.push(op);
        self.asked.push(AskedOp::receive(body, staging, body));
        counters.recv_calls += 1;
        poll_first.then_some(body)
    }

    /// A receive into the message's first `iovecs` iovecs: a plain RECV for one. With
    /// `poll_first` it waits for the socket to be readable (SO_RCVLOWAT) before trying.
    fn recv_op(&mut self, fd: types::Fd, iovecs: usize, flags: i32, poll_first: bool) -> Entry {
        let ioprio = if poll_first {
            IORING_RECVSEND_POLL_FIRST
        } else {
            0
        };
        if iovecs == 1 {
            let iovec = self.msg.iovecs[0];
            return opcode::Recv::new(fd, iovec.iov_base.cast(), iovec.iov_len as u32)
                .flags(flags)
                .ioprio(ioprio)
                .build();
        }
        self.msg.header.msg_iov = self.msg.iovecs.as_mut_ptr();
        self.msg.header.msg_iovlen = iovecs;
        opcode::RecvMsg::new(fd, &mut self.msg.header)
            .flags(flags as u32)
            .ioprio(ioprio)
            .build()
    }

    /// Puts the SO_RCVLOWAT setsockopt the planned receives need in front of them: a raise
    /// for a receive that waits for its whole payload, or a reset when an earlier chain left
    /// the mark raised.
    fn add_lowat_op(&mut self, fd: types::Fd, raise_to: Option<u32>, counters: &mut ConnCounters) {
        let value = match raise_to {
            Some(bytes) => {
                counters.lowat_raises += 1;
                bytes
            }
            None if self.lowat.current != 1 => 1,
            None => return,
        };
        *self.lowat.setting = value as libc::c_int;
        let value_ptr: *const libc::c_int = &*self.lowat.setting;
        let op = opcode::SetSockOpt::new(
            fd,
            libc::SOL_SOCKET as u32,
            libc::SO_RCVLOWAT as u32,
            value_ptr.cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
        .build();
        self.sqes.insert(0, op);
        self.asked.insert(0, AskedOp::set_lowat(value));
    }

    /// Applies one receive CQE (`flags` are the CQE's); PDUs it completed are appended to `out`.
    pub(super) fn on_cqe(
        &mut self,
        result: i32,
        flags: u32,
        env: &RxEnv<'_>,
        counters: &mut ConnCounters,
        out: &mut VecDeque<Completion>,
    ) -> RxOutcome {
        let Some(op) = self.asked.get(self.cqe_at).copied() else {
            self.chain.on_cqe();
            return RxOutcome::Abort(AbortReason::LinkOrderBroken);
        };
        self.cqe_at += 1;
        if let Some(value) = op.sets_lowat {
            let chain_done = self.chain.on_cqe();
            if let Err(reason) = self.on_lowat_cqe(result, value) {
                return RxOutcome::Abort(reason);
            }
            return self.after_cqe(chain_done, env, counters, out);
        }
        let outcome = classify(result, op.total(), self.chain.is_broken());
        let chain_done = self.chain.on_cqe();
        self.socket_has_more = result > 0 && cqueue::sock_nonempty(flags);
        match outcome {
            OpResult::Complete => self.absorb(op, op.total()),
            OpResult::Short(moved) => {
                if moved < op.due {
                    counters.short_transfers += 1;
                }
                // Ops linked behind a short one come back cancelled.
                self.chain.break_link();
                self.absorb(op, moved);
            }
            OpResult::Cancelled if self.chain.is_broken() || self.halted => {}
            OpResult::Cancelled => return RxOutcome::Abort(AbortReason::UnexpectedCancel),
            OpResult::Eof => {
                self.halt();
                return RxOutcome::PeerClosed;
            }
            OpResult::Failed(errno) => return RxOutcome::Abort(AbortReason::Socket { errno }),
            OpResult::OutOfOrder => return RxOutcome::Abort(AbortReason::LinkOrderBroken),
        }
        if self.pdu.is_some() && self.destination.is_complete() {
            self.finish_pdu(counters, out);
        }
        self.after_cqe(chain_done, env, counters, out)
    }

    /// Frames staging once the chain is done.
    fn after_cqe(
        &mut self,
        chain_done: bool,
        env: &RxEnv<'_>,
        counters: &mut ConnCounters,
        out: &mut VecDeque<Completion>,
    ) -> RxOutcome {
        if !chain_done || self.halted {
            // Staging is framed once nothing in flight writes to it.
            return RxOutcome::Continue;
        }
        self.parse_staged(env, counters, out)
    }

    /// Applies the CQE of a setsockopt that set SO_RCVLOWAT to `value`.
    fn on_lowat_cqe(&mut self, result: i32, value: u32) -> Result<(), AbortReason> {
        match -result {
            0 => self.lowat.current = value,
            libc::ECANCELED if self.chain.is_broken() || self.halted => {}
            libc::ECANCELED => return Err(AbortReason::UnexpectedCancel),
            // No socket commands in this kernel's io_uring (or no such option): the raise
            // did nothing, and the receives behind it come back cancelled.
            libc::EOPNOTSUPP | libc::EINVAL if value > 1 => {
                self.lowat.refused = true;
                self.chain.break_link();
            }
            errno => return Err(AbortReason::Socket { errno }),
        }
        Ok(())
    }

    /// Accounts `moved` bytes of `op`: the destination's first, then staging's.
    fn absorb(&mut self, op: AskedOp, moved: u32) {
        let body = moved.min(op.body);
        self.destination.advance(body);
        let staged = (moved - body) as usize;
        self.staging.end = (self.staging.end + staged).min(self.staging.buf.len());
    }

    /// Takes every complete header out of staging, with whatever of its data came along.
    fn parse_staged(
        &mut self,
        env: &RxEnv<'_>,
        counters: &mut ConnCounters,
        out: &mut VecDeque<Completion>,
    ) -> RxOutcome {
        while !self.halted && self.pdu.is_none() {
            match self.take_header(env, counters, out) {
                Ok(true) => {}
                Ok(false) => break,
                Err(reason) => return RxOutcome::Abort(reason),
            }
        }
        RxOutcome::Continue
    }

    /// Frames the staged header, if it is complete, and sets up the destination of its data
    /// segment; returns whether a header was taken.
    fn take_header(
        &mut self,
        env: &RxEnv<'_>,
        counters: &mut ConnCounters,
        out: &mut VecDeque<Completion>,
    ) -> Result<bool, AbortReason> {
        let framed = match env.format.decode_header(self.staging.bytes()) {
            Ok(Some(framed)) => framed,
            Ok(None) => return Ok(false),
            Err(FrameError::HeaderDigest {
                received,
                computed,
                header_len,
            }) => {
                // The lengths in a corrupt header cannot be trusted: stop reading the stream.
                counters.hdr_digest_errors += 1;
                self.halt();
                out.push_back(Completion::IscsiHdr(IscsiHdr {
                    tid: self.tid,
                    header: Err(PduError::HeaderDigest { received, computed }),
                    data_len: 0,
                    data: Vec::new(),
                    ddp_status: DdpStatus::HDRCRC_ERR,
                    pdu_len: header_len,
                }));
                return Ok(false);
            }
            Err(FrameError::DataSegmentTooLong { len, max }) => {
                return Err(AbortReason::DataSegmentTooLong { len, max })
            }
        };
        self.staging.consume(framed.header_len as usize);
        self.destination.clear();
        self.next_exact = false;
        let data_len = framed.data_len;
        let placement = match &framed.header {
            Ok(header) if data_len > 0 => {
                place(&env.place, header, data_len, &mut self.destination.spans)
            }
            _ => Placement::Inline(DdpStatus::NONE),
        };
        let mut pdu = Arriving {
            check: SegmentCheck::new(&framed),
            status: DdpStatus::NONE,
            inline: None,
            framed,
        };
        if data_len > 0 {
            let trailer_len = pdu.framed.trailer_len();
            match placement {
                Placement::Placed => {
                    self.destination.placed_runs = self.destination.spans.len();
                    self.next_exact = data_len >= env.exact_placement_from;
                    pdu.status = DdpStatus::DDP_PDU;
                    if trailer_len > 0 {
                        self.destination.spans.push(PlacedRun {
                            target: IoTarget::Mapped(self.trailer.as_mut_ptr()),
                            len: trailer_len,
                        });
                    }
                }
                Placement::Inline(status) => {
                    if status.has_error() {
                        counters.ddp_errors.record(status);
                    }
                    pdu.status = status;
                    let mut buffer = vec![0; pdu.framed.segment_len() as usize];
                    self.destination.spans.push(PlacedRun {
                        target: IoTarget::Mapped(buffer.as_mut_ptr()),
                        len: pdu.framed.segment_len(),
                    });
                    // Moving the Vec into the record keeps its heap buffer where the span
                    // points.
                    pdu.inline = Some(buffer);
                }
            }
        }
        self.pdu = Some(pdu);
        self.fill_from_staging(counters)?;
        if self.destination.is_complete() {
            self.finish_pdu(counters, out);
        }
        Ok(true)
    }

    /// Copies staged bytes into the current PDU's destination.
    fn fill_from_staging(&mut self, counters: &mut ConnCounters) -> Result<(), AbortReason> {
        let destination = &mut self.destination;
        while let Some(span) = destination.spans.get(destination.at).copied() {
            let staged = self.staging.bytes();
            if staged.is_empty() {
                break;
            }
            let take = ((span.len - destination.filled) as usize).min(staged.len());
            let IoTarget::Mapped(ptr) = span.target else {
                return Err(AbortReason::SubmodeChangedMidHeader);
            };
            // SAFETY: the span lies inside a registered mapped task buffer (checked against
            // the registration when it was placed), the inline buffer of the current PDU or
            // the trailer, and `filled + take` does not pass its end; nothing else writes to
            // it while the PDU is being received (registration contract); staging is a
            // different allocation.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    staged.as_ptr(),
                    ptr.add(destination.filled as usize),
                    take,
                );
            }
            if destination.at < destination.placed_runs {
                counters.staged_bytes += take as u64;
            }
            self.staging.consume(take);
            destination.advance(take as u32);
        }
        Ok(())
    }

    /// Every byte of the current PDU is in: check padding and data digest, deliver.
    fn finish_pdu(&mut self, counters: &mut ConnCounters, out: &mut VecDeque<Completion>) {
        let Some(Arriving {
            framed,
            mut check,
            mut status,
            inline,
        }) = self.pdu.take()
        else {
            return;
        };
        let data_len = framed.data_len as usize;
        let data = match inline {
            Some(mut buffer) => {
                let (data, trailer) = buffer.split_at(data_len);
                check.data(data);
                status = status | check.finish(trailer);
                buffer.truncate(data_len);
                counters.copied_bytes += data_len as u64;
                buffer
            }
            None => {
                if check.needs_data() {
                    for run in self.destination.placed() {
                        check.data(run_bytes(run));
                    }
                }
                let trailer_len = framed.trailer_len() as usize;
                status = status | check.finish(&self.trailer[..trailer_len]);
                counters.ddp_bytes += data_len as u64;
                Vec::new()
            }
        };
        self.destination.clear();
        if status.contains(DdpStatus::PADDING_ERR) {
            counters.pad_errors += 1;
        }
        if status.contains(DdpStatus::DATACRC_ERR) {
            counters.data_digest_errors += 1;
        }
        counters.pdus_rx += 1;
        counters.bytes_rx += u64::from(framed.pdu_len());
        if Self::carries_status(&framed.header) {
            self.replies_owed = self.replies_owed.saturating_sub(1);
        }
        out.push_back(Completion::IscsiHdr(IscsiHdr {
            tid: self.tid,
            pdu_len: framed.pdu_len(),
            header: framed.header,
            data_len: framed.data_len,
            data,
            ddp_status: status,
        }));
    }
}

/// The bytes of a placed run a receive has finished writing; empty for a fixed buffer, which
/// is not mapped here (placement refuses fixed buffers when a data digest needs the bytes).
fn run_bytes(run: &PlacedRun) -> &[u8] {
    match run.target {
        // SAFETY: the run lies inside a registered mapped task buffer (checked against the
        // registration when it was placed), the kernel finished writing it (its CQE is in),
        // and the registration contract keeps it valid and otherwise untouched while I/O on
        // it is in flight.
        IoTarget::Mapped(ptr) => unsafe {
            std::slice::from_raw_parts(ptr.cast_const(), run.len as usize)
        },
        IoTarget::Fixed { .. } => &[],
    }
}

#[cfg(test)]
mod tests;
