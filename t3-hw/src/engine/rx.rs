//! Receive: the per-connection framing state machine.
//!
//! Stream bytes land in one of two places. Headers go to the connection's **staging buffer**;
//! once a header is parsed, the rest of its PDU goes to its **destination**: the task-buffer runs
//! its page pods name (placed: the DDP path, see [`ddp_rx`](super::ddp_rx)) or an engine buffer
//! delivered inline with the header, then padding and data digest to a small trailer buffer.
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

use iscsi_proto::digest::{crc32c, crc32c_append, from_wire};
use iscsi_proto::pdu::{padded, BhsLengths, MAX_AHS_LEN};

use super::counters::ConnCounters;
use super::ddp_rx::{choose_data_path, DataPath, PlaceEnv, PlacedRun};
use super::error::AbortReason;
use super::link::{classify, Chain, OpResult};
use super::submit::{SqFull, Submitter};
use super::task_buffer::IoTarget;
use crate::cpl::{Completion, IscsiHdr};
use crate::ddp_status::DdpStatus;
use crate::tid::Tid;
use crate::wr::{UlpSubmode, BHS_LEN};

const DIGEST_LEN: usize = 4;
/// The longest header: BHS, the largest AHS and a header digest.
pub(crate) const HEADER_MAX_LEN: usize = BHS_LEN + MAX_AHS_LEN + DIGEST_LEN;
/// Up to 3 pad bytes and a data digest.
const TRAILER_LEN: usize = 3 + DIGEST_LEN;
/// Bodies at least this long get a MSG_WAITALL receive of their own.
pub(crate) const WAITALL_BODY_MIN: u32 = 64 * 1024;
/// Iovecs of one RECVMSG.
const MAX_RX_IOVECS: usize = 64;
/// Ops of one receive chain.
const MAX_RX_OPS: usize = 16;
/// Ops a chain may add before its receives: a setsockopt of SO_RCVLOWAT.
const LOWAT_OPS: usize = 1;
const OPCODE_MASK: u8 = 0x3F;
/// IORING_RECVSEND_POLL_FIRST, in the SQE's ioprio field of a receive.
const IORING_RECVSEND_POLL_FIRST: u16 = 1;
const OPCODE_SCSI_COMMAND: u8 = 0x01;
const OPCODE_SCSI_RESPONSE: u8 = 0x21;
const OPCODE_DATA_IN: u8 = 0x25;
/// The S bit of a Data-In: it carries the command's status.
const DATA_IN_STATUS: u8 = 0x01;

/// The PDU whose data segment is arriving.
struct RxPdu {
    bhs: [u8; BHS_LEN],
    ahs: Vec<u8>,
    data_len: usize,
    data_digest: bool,
    status: DdpStatus,
    pdu_len: u32,
    /// An inline body: data, padding and data digest.
    inline: Option<Vec<u8>>,
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
    pub digests: UlpSubmode,
    pub max_data_segment_len: u32,
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
    staging: Box<[u8]>,
    /// Unparsed staged bytes are `staging[start..end]`.
    start: usize,
    end: usize,
    trailer: Box<[u8; TRAILER_LEN]>,
    /// Where the current PDU's data segment goes, in stream order: placed runs or the inline
    /// buffer, then the trailer when the PDU has one.
    spans: Vec<PlacedRun>,
    /// How many leading spans are placed payload runs.
    placed_runs: usize,
    /// The first span with bytes missing, and how many of its bytes are in.
    span_at: usize,
    span_filled: u32,
    pdu: Option<RxPdu>,
    /// Whether the last parsed PDU was a placed one of at least `exact_placement_from`
    /// bytes: the next receive is then exact.
    next_exact: bool,
    asked: Vec<AskedOp>,
    /// Index in `asked` of the op the next CQE answers.
    cqe_at: usize,
    chain: Chain,
    msg: Box<RecvMsg>,
    sqes: Vec<Entry>,
    /// Whether the socket held more bytes when the last receive returned
    /// (IORING_CQE_F_SOCK_NONEMPTY).
    socket_has_more: bool,
    /// SCSI commands sent whose status has not arrived (as far as this connection saw).
    replies_owed: u32,
    halted: bool,
    /// The socket's SO_RCVLOWAT as far as completed setsockopts tell (the kernel's default
    /// is 1).
    lowat: u32,
    /// The value the chain in flight sets SO_RCVLOWAT to; boxed so its address holds while
    /// the setsockopt is in flight.
    lowat_value: Box<libc::c_int>,
    /// The kernel refused a setsockopt through io_uring: receives wake as data arrives.
    lowat_refused: bool,
}

impl Rx {
    /// A receive side of connection `tid` with `staging_len` bytes of staging (at least one
    /// header's worth is always allocated).
    pub(super) fn new(tid: Tid, staging_len: usize) -> Rx {
        // SAFETY: msghdr and iovec are plain C structs for which all-zero is a valid value.
        let msg: RecvMsg = unsafe { std::mem::zeroed() };
        Rx {
            tid,
            staging: vec![0u8; staging_len.max(HEADER_MAX_LEN)].into_boxed_slice(),
            start: 0,
            end: 0,
            trailer: Box::new([0; TRAILER_LEN]),
            spans: Vec::new(),
            placed_runs: 0,
            span_at: 0,
            span_filled: 0,
            pdu: None,
            next_exact: false,
            asked: Vec::new(),
            cqe_at: 0,
            chain: Chain::default(),
            msg: Box::new(msg),
            sqes: Vec::new(),
            socket_has_more: false,
            replies_owed: 0,
            halted: false,
            lowat: 1,
            lowat_value: Box::new(1),
            lowat_refused: false,
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

    /// Whether `header` is a SCSI Command (the PDUs [`command_sent`](Self::command_sent)
    /// counts).
    pub(super) fn is_command(header: &[u8]) -> bool {
        header
            .first()
            .is_some_and(|&opcode| opcode & OPCODE_MASK == OPCODE_SCSI_COMMAND)
    }

    fn note_status(&mut self, bhs: &[u8; BHS_LEN]) {
        let opcode = bhs[0] & OPCODE_MASK;
        if opcode == OPCODE_SCSI_RESPONSE
            || opcode == OPCODE_DATA_IN && bhs[1] & DATA_IN_STATUS != 0
        {
            self.replies_owed = self.replies_owed.saturating_sub(1);
        }
    }

    /// Staging room for the next receive; makes the room contiguous first.
    fn staging_room(&mut self, env: &RxEnv<'_>) -> usize {
        // With several replies owed the stream is busy: exact receives leave the next PDUs in
        // the socket, which holds back the commands their completions trigger
        // (`Conn::tx_deferred`) until they can leave together.
        let read_ahead = env.read_ahead && !self.next_exact && self.replies_owed <= 1;
        let want = if read_ahead {
            self.staging.len()
        } else {
            self.header_due(env.digests)
        };
        if self.start > 0 && self.end + want > self.staging.len() {
            self.staging.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        want.min(self.staging.len() - self.end)
    }

    /// Bytes still missing from the next header, as far as the staged bytes tell.
    fn header_due(&self, digests: UlpSubmode) -> usize {
        let staged = &self.staging[self.start..self.end];
        let digest_len = if digests.header_digest { DIGEST_LEN } else { 0 };
        let header_len = match staged.first_chunk::<BHS_LEN>() {
            Some(bhs) => BHS_LEN + BhsLengths::of(bhs).ahs_len + digest_len,
            None => BHS_LEN + digest_len,
        };
        header_len.saturating_sub(staged.len())
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
        let lowat_usable = wake_on_bytes > 0 && !self.lowat_refused;
        // Whether a receive of `due` bytes, first in its chain if `first`, raises the mark.
        let raises = move |first: bool, due: u32| lowat_usable && first && due >= wake_on_bytes;
        self.asked.clear();
        self.sqes.clear();
        let mut at = self.span_at;
        let mut filled = self.span_filled;
        // Fixed-buffer runs: an exact READ_FIXED each (a short one breaks the link).
        while let Some(PlacedRun {
            target: IoTarget::Fixed { buf_index, addr },
            len,
        }) = self.spans.get(at).copied()
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
        }) = self.spans.get(at).copied()
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
        let staging = if at == self.spans.len() { room } else { 0 };
        let staging_ptr = self.staging[self.end..].as_mut_ptr();
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
            None if self.lowat != 1 => 1,
            None => return,
        };
        *self.lowat_value = value as libc::c_int;
        let value_ptr: *const libc::c_int = &*self.lowat_value;
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
        if self.pdu.is_some() && self.span_at == self.spans.len() {
            self.finish_pdu(counters, out);
        }
        self.after_cqe(chain_done, env, counters, out)
    }

    /// Parses staging once the chain is done.
    fn after_cqe(
        &mut self,
        chain_done: bool,
        env: &RxEnv<'_>,
        counters: &mut ConnCounters,
        out: &mut VecDeque<Completion>,
    ) -> RxOutcome {
        if !chain_done || self.halted {
            // Staging is parsed once nothing in flight writes to it.
            return RxOutcome::Continue;
        }
        self.parse_staged(env, counters, out)
    }

    /// Applies the CQE of a setsockopt that set SO_RCVLOWAT to `value`.
    fn on_lowat_cqe(&mut self, result: i32, value: u32) -> Result<(), AbortReason> {
        match -result {
            0 => self.lowat = value,
            libc::ECANCELED if self.chain.is_broken() || self.halted => {}
            libc::ECANCELED => return Err(AbortReason::UnexpectedCancel),
            // No socket commands in this kernel's io_uring (or no such option): the raise
            // did nothing, and the receives behind it come back cancelled.
            libc::EOPNOTSUPP | libc::EINVAL if value > 1 => {
                self.lowat_refused = true;
                self.chain.break_link();
            }
            errno => return Err(AbortReason::Socket { errno }),
        }
        Ok(())
    }

    /// Accounts `moved` bytes of `op`: the destination's first, then staging's.
    fn absorb(&mut self, op: AskedOp, moved: u32) {
        let mut body = moved.min(op.body);
        let staged = (moved - body) as usize;
        while body > 0 {
            let Some(span) = self.spans.get(self.span_at) else {
                break;
            };
            let take = (span.len - self.span_filled).min(body);
            self.span_filled += take;
            body -= take;
            if self.span_filled == span.len {
                self.span_at += 1;
                self.span_filled = 0;
            }
        }
        self.end = (self.end + staged).min(self.staging.len());
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
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        RxOutcome::Continue
    }

    /// Parses the staged header, if it is complete, and starts receiving its data segment;
    /// returns whether a header was taken.
    fn take_header(
        &mut self,
        env: &RxEnv<'_>,
        counters: &mut ConnCounters,
        out: &mut VecDeque<Completion>,
    ) -> Result<bool, AbortReason> {
        let staged = &self.staging[self.start..self.end];
        let Some(&bhs) = staged.first_chunk::<BHS_LEN>() else {
            return Ok(false);
        };
        let lengths = BhsLengths::of(&bhs);
        let covered = BHS_LEN + lengths.ahs_len;
        let header_len = covered
            + if env.digests.header_digest {
                DIGEST_LEN
            } else {
                0
            };
        if staged.len() < header_len {
            return Ok(false);
        }
        let ahs = staged[BHS_LEN..covered].to_vec();
        if env.digests.header_digest
            && !digest_matches(crc32c(&staged[..covered]), &staged[covered..header_len])
        {
            // The lengths in a corrupt header cannot be trusted: stop reading the stream.
            counters.hdr_digest_errors += 1;
            self.halt();
            out.push_back(Completion::IscsiHdr(IscsiHdr {
                tid: self.tid,
                bhs,
                ahs,
                data: Vec::new(),
                ddp_status: DdpStatus::HDRCRC_ERR,
                pdu_len: header_len as u32,
            }));
            return Ok(false);
        }
        // DataSegmentLength is 24 bits, so it fits u32.
        let data_len = lengths.data_len as u32;
        if data_len > env.max_data_segment_len {
            return Err(AbortReason::DataSegmentTooLong {
                len: data_len,
                max: env.max_data_segment_len,
            });
        }
        self.start += header_len;
        let data_digest = env.digests.data_digest && data_len > 0;
        let digest_len = if data_digest { DIGEST_LEN } else { 0 };
        let padded_len = padded(lengths.data_len);
        let mut pdu = RxPdu {
            bhs,
            ahs,
            data_len: lengths.data_len,
            data_digest,
            status: DdpStatus::NONE,
            pdu_len: (header_len + padded_len + digest_len) as u32,
            inline: None,
        };
        self.spans.clear();
        self.span_at = 0;
        self.span_filled = 0;
        self.placed_runs = 0;
        self.next_exact = false;
        if data_len == 0 {
            self.pdu = Some(pdu);
            self.finish_pdu(counters, out);
            return Ok(true);
        }
        let trailer_len = padded_len - lengths.data_len + digest_len;
        match choose_data_path(&env.place, &bhs, data_len, &mut self.spans) {
            DataPath::Place => {
                self.placed_runs = self.spans.len();
                self.next_exact = data_len >= env.exact_placement_from;
                pdu.status = DdpStatus::DDP_PDU;
                if trailer_len > 0 {
                    self.spans.push(PlacedRun {
                        target: IoTarget::Mapped(self.trailer.as_mut_ptr()),
                        len: trailer_len as u32,
                    });
                }
            }
            DataPath::Inline(status) => {
                if status.has_error() {
                    counters.ddp_errors.record(status);
                }
                pdu.status = status;
                let body_len = padded_len + digest_len;
                let staged = (self.end - self.start).min(body_len);
                let mut buffer = Vec::with_capacity(body_len);
                buffer.extend_from_slice(&self.staging[self.start..self.start + staged]);
                buffer.resize(body_len, 0);
                self.start += staged;
                self.spans.push(PlacedRun {
                    target: IoTarget::Mapped(buffer.as_mut_ptr()),
                    len: body_len as u32,
                });
                self.span_filled = staged as u32;
                if staged == body_len {
                    self.span_at = 1;
                    self.span_filled = 0;
                }
                // Moving the Vec into the record keeps its heap buffer where the span points.
                pdu.inline = Some(buffer);
            }
        }
        self.pdu = Some(pdu);
        self.fill_from_staging(counters)?;
        if self.span_at == self.spans.len() {
            self.finish_pdu(counters, out);
        }
        Ok(true)
    }

    /// Copies staged bytes into the current PDU's destination.
    fn fill_from_staging(&mut self, counters: &mut ConnCounters) -> Result<(), AbortReason> {
        while self.start < self.end {
            let Some(span) = self.spans.get(self.span_at).copied() else {
                break;
            };
            let take = ((span.len - self.span_filled) as usize).min(self.end - self.start);
            let IoTarget::Mapped(ptr) = span.target else {
                return Err(AbortReason::SubmodeChangedMidHeader);
            };
            // SAFETY: the span lies inside a registered mapped task buffer (checked against
            // the registration when it was planned), the inline buffer of the current PDU or
            // the trailer, and `span_filled + take` does not pass its end; nothing else writes
            // to it while the PDU is being received (registration contract); staging is a
            // different allocation.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.staging.as_ptr().add(self.start),
                    ptr.add(self.span_filled as usize),
                    take,
                );
            }
            if self.span_at < self.placed_runs {
                counters.staged_bytes += take as u64;
            }
            self.start += take;
            self.span_filled += take as u32;
            if self.span_filled == span.len {
                self.span_at += 1;
                self.span_filled = 0;
            }
        }
        Ok(())
    }

    /// Every byte of the current PDU is in: check padding and data digest, deliver.
    fn finish_pdu(&mut self, counters: &mut ConnCounters, out: &mut VecDeque<Completion>) {
        let Some(pdu) = self.pdu.take() else {
            return;
        };
        let padded_len = padded(pdu.data_len);
        let pad_len = padded_len - pdu.data_len;
        let mut status = pdu.status;
        let data = match pdu.inline {
            Some(mut buffer) => {
                let (segment, digest) = buffer.split_at(padded_len);
                if segment[pdu.data_len..].iter().any(|&byte| byte != 0) {
                    status = status | DdpStatus::PADDING_ERR;
                }
                if pdu.data_digest && !digest_matches(crc32c(segment), digest) {
                    status = status | DdpStatus::DATACRC_ERR;
                }
                buffer.truncate(pdu.data_len);
                counters.copied_bytes += pdu.data_len as u64;
                buffer
            }
            None if pdu.data_len == 0 => Vec::new(),
            None => {
                let digest_len = if pdu.data_digest { DIGEST_LEN } else { 0 };
                let (pad, digest) = self.trailer[..pad_len + digest_len].split_at(pad_len);
                if pad.iter().any(|&byte| byte != 0) {
                    status = status | DdpStatus::PADDING_ERR;
                }
                if pdu.data_digest
                    && !digest_matches(crc_over_runs(&self.spans[..self.placed_runs], pad), digest)
                {
                    status = status | DdpStatus::DATACRC_ERR;
                }
                counters.ddp_bytes += pdu.data_len as u64;
                Vec::new()
            }
        };
        self.spans.clear();
        self.span_at = 0;
        self.span_filled = 0;
        self.placed_runs = 0;
        if status.contains(DdpStatus::PADDING_ERR) {
            counters.pad_errors += 1;
        }
        if status.contains(DdpStatus::DATACRC_ERR) {
            counters.data_digest_errors += 1;
        }
        counters.pdus_rx += 1;
        counters.bytes_rx += u64::from(pdu.pdu_len);
        self.note_status(&pdu.bhs);
        out.push_back(Completion::IscsiHdr(IscsiHdr {
            tid: self.tid,
            bhs: pdu.bhs,
            ahs: pdu.ahs,
            data,
            ddp_status: status,
            pdu_len: pdu.pdu_len,
        }));
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
    use crate::engine::task_buffer::{TaskBuffer, TaskBuffers};
    use crate::ppm::{sgl_for_contiguous, BufferId, DdpRequest, Ppm, PpmConfig};
    use crate::ppod::PageSize;
    use iscsi_proto::digest::to_wire;
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
            let (mut at, mut filled) = (self.span_at, self.span_filled as usize);
            let mut body = body;
            while !body.is_empty() {
                let span = self.spans[at];
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
            self.staging[self.end..self.end + staged.len()].copy_from_slice(staged);
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
                digests: self.digests,
                max_data_segment_len: 65536,
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
                digests: self.digests,
                max_data_segment_len: 65536,
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
            while rx.cqe_at < rx.asked.len()
                && !matches!(outcomes.last(), Some(RxOutcome::Abort(_)))
            {
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
                if stream.len() == before
                    || outcomes.iter().any(|o| matches!(o, RxOutcome::Abort(_)))
                {
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
        u32::from_be_bytes(header.bhs[16..20].try_into().unwrap())
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
        final_data_in[1] |= DATA_IN_STATUS;
        let mut response = nop_in(9, b"", NONE);
        response[0] = OPCODE_SCSI_RESPONSE;
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
        assert_eq!(rx.lowat, 1);
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
        assert!(rx.lowat_refused);
        assert!(rx.asked.iter().all(|op| op.sets_lowat.is_none()));
        assert_eq!(rx.lowat, 1);
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
}
