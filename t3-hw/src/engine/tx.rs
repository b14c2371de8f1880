//! Transmit: gathering queued PDUs into one send chain, and resuming it after short sends.
//!
//! The T3 inserts digests in hardware and the host leaves no room for them; here the engine
//! computes them and gathers header, header digest, payload (inline bytes or a task buffer,
//! never copied), zero padding and data digest into iovecs. Consecutive mapped pieces of many
//! PDUs go out in one SENDMSG (up to IOV_MAX iovecs); a fixed-buffer payload is a WRITE_FIXED
//! by buffer index linked between them. A short send breaks the link (SENDMSG carries
//! MSG_WAITALL; a short WRITE_FIXED is short by itself), and the batch resumes from the first
//! unsent byte once the chain's CQEs are in.
//!
//! Why WRITE_FIXED and not SEND_ZC for registered buffers: the buffers are ublk requests'
//! pages (UBLK_F_AUTO_BUF_REG), which may be slab or page-cache pages of a file system.
//! Whenever the stack must copy a zero-copy skb (always on loopback, also for taps and
//! devices without scatter-gather) kernel 7.3.4 takes page references on them in
//! `skb_copy_ubufs` that the pages' owners do not expect: the VM suite saw
//! `__skb_zcopy_downgrade_managed` warnings and then `BUG: Bad page state` in xfs. One kernel
//! copy from the request's pages into the socket is what the non-offloaded path costs anyway.
//!
//! All memory an op points at (iovecs, msghdrs, header bytes, digests) belongs to the
//! [`TxBatch`], which is neither moved nor changed while ops are in flight; payload memory
//! belongs to the work request (inline) or to the task buffer (registration contract). A
//! connection keeps one batch for its whole life and refills it, so its lists are allocated
//! once.

use std::collections::VecDeque;
use std::num::NonZeroU16;

use io_uring::squeue::{Entry, Flags};
use io_uring::{opcode, types};

use iscsi_proto::digest::{crc32c, crc32c_append, to_wire};

use super::counters::ConnCounters;
use super::error::{AbortReason, PostError};
use super::link::{classify, Chain, OpResult};
use super::submit::{SqFull, Submitter};
use super::task_buffer::{IoTarget, TaskBufferError, TaskBuffers};
use crate::credits::{tx_data_credits, WrCredits};
use crate::wr::{Payload, TxData};

/// Zero bytes the padding iovec points at.
static ZERO_PAD: [u8; 3] = [0; 3];
/// Iovecs one SENDMSG may carry (UIO_MAXIOV).
const IOV_MAX: usize = 1024;
/// Ops pushed as one linked chain; longer batches go out in several chains.
const MAX_CHAIN_OPS: usize = 16;
/// Pieces of one PDU at most: header, header digest, payload, padding, data digest.
const MAX_PIECES: usize = 5;
/// TCP_CORK values the cork setsockopts point at.
static CORK_ON: libc::c_int = 1;
static CORK_OFF: libc::c_int = 0;

/// A setsockopt of TCP_CORK to `value`.
fn cork_op(fd: types::Fd, value: &'static libc::c_int) -> Entry {
    let value: *const libc::c_int = value;
    opcode::SetSockOpt::new(
        fd,
        libc::IPPROTO_TCP as u32,
        libc::TCP_CORK as u32,
        value.cast(),
        std::mem::size_of::<libc::c_int>() as u32,
    )
    .build()
}

/// One piece of a PDU on the wire.
#[derive(Clone, Copy, Debug)]
enum Piece {
    Mapped { ptr: *const u8, len: usize },
    Fixed { buf_index: u16, addr: u64, len: u32 },
}

/// A queued TX_DATA with its payload resolved and its credit cost known.
pub(crate) struct TxPdu {
    wr: TxData,
    task_payload: Option<IoTarget>,
    credits: NonZeroU16,
    /// Header digest at 0..4, data digest at 4..8; filled when the batch is built (the batch's
    /// PDU list does not change while its ops are in flight, so the bytes stay put).
    digests: [u8; 8],
}

/// A PDU's pieces in wire order.
struct Pieces {
    list: [Piece; MAX_PIECES],
    len: usize,
}

impl Pieces {
    fn push(&mut self, piece: Piece) {
        self.list[self.len] = piece;
        self.len += 1;
    }

    fn as_slice(&self) -> &[Piece] {
        &self.list[..self.len]
    }
}

impl TxPdu {
    /// Resolves the payload and prices the request; fails without side effects.
    pub(super) fn new(wr: TxData, tasks: &TaskBuffers) -> Result<TxPdu, PostError> {
        let task_payload = match *wr.pdu().payload() {
            Payload::Task { task, offset, len } => {
                let target = tasks.resolve(task, u64::from(offset), u64::from(len))?;
                if let IoTarget::Fixed { buf_index, .. } = target {
                    if wr.ulp_submode().data_digest {
                        return Err(TaskBufferError::FixedWithDataDigest { task, buf_index }.into());
                    }
                }
                Some(target)
            }
            Payload::None | Payload::Inline(_) => None,
        };
        let mut pdu = TxPdu {
            wr,
            task_payload,
            credits: NonZeroU16::MIN,
            digests: [0; 8],
        };
        let fragments = pdu.pieces().len as u32;
        let len = u32::try_from(pdu.wr.wr_len()).unwrap_or(u32::MAX);
        pdu.credits = tx_data_credits(fragments, len)?;
        Ok(pdu)
    }

    /// Wire bytes, digests included.
    pub(super) fn wire_len(&self) -> u64 {
        self.wr.wr_len()
    }

    fn payload_piece(&self) -> Option<Piece> {
        match (self.wr.pdu().payload(), self.task_payload) {
            (Payload::Inline(bytes), _) if !bytes.is_empty() => Some(Piece::Mapped {
                ptr: bytes.as_ptr(),
                len: bytes.len(),
            }),
            (Payload::Task { len, .. }, Some(IoTarget::Mapped(ptr))) if *len > 0 => {
                Some(Piece::Mapped {
                    ptr,
                    len: *len as usize,
                })
            }
            (Payload::Task { len, .. }, Some(IoTarget::Fixed { buf_index, addr })) if *len > 0 => {
                Some(Piece::Fixed {
                    buf_index,
                    addr,
                    len: *len,
                })
            }
            _ => None,
        }
    }

    /// The PDU's pieces in wire order.
    fn pieces(&self) -> Pieces {
        let submode = self.wr.ulp_submode();
        let header = self.wr.pdu().header();
        let mut pieces = Pieces {
            list: [Piece::Mapped {
                ptr: std::ptr::null(),
                len: 0,
            }; MAX_PIECES],
            len: 0,
        };
        pieces.push(Piece::Mapped {
            ptr: header.as_ptr(),
            len: header.len(),
        });
        if submode.header_digest {
            pieces.push(Piece::Mapped {
                ptr: self.digests.as_ptr(),
                len: 4,
            });
        }
        if let Some(payload) = self.payload_piece() {
            pieces.push(payload);
            let pad = self.wr.pdu().pad_len() as usize;
            if pad > 0 {
                pieces.push(Piece::Mapped {
                    ptr: ZERO_PAD.as_ptr(),
                    len: pad,
                });
            }
            if submode.data_digest {
                pieces.push(Piece::Mapped {
                    ptr: self.digests[4..].as_ptr(),
                    len: 4,
                });
            }
        }
        pieces
    }

    /// Computes the digests the submode asks for (the T3 inserts them in hardware).
    fn fill_digests(&mut self) {
        let submode = self.wr.ulp_submode();
        if submode.header_digest {
            self.digests[..4].copy_from_slice(&to_wire(crc32c(self.wr.pdu().header())));
        }
        if !submode.data_digest {
            return;
        }
        let pad = &ZERO_PAD[..self.wr.pdu().pad_len() as usize];
        let data_crc = match self.payload_piece() {
            Some(Piece::Mapped { ptr, len }) => {
                // SAFETY: `ptr..ptr+len` is an inline payload owned by this request, or a range
                // of a mapped task buffer checked against its registration, whose contract
                // keeps it valid and unwritten while the PDU is queued or in flight.
                let payload = unsafe { std::slice::from_raw_parts(ptr, len) };
                crc32c_append(crc32c(payload), pad)
            }
            // TxPdu::new refuses a fixed payload under a data digest.
            Some(Piece::Fixed { .. }) | None => return,
        };
        self.digests[4..].copy_from_slice(&to_wire(data_crc));
    }
}

#[derive(Clone, Copy, Debug)]
enum TxOpKind {
    SendMsg {
        iov_start: usize,
        iov_end: usize,
        msg: usize,
    },
    WriteFixed {
        buf_index: u16,
        addr: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct TxOp {
    kind: TxOpKind,
    remaining: u32,
}

/// What a CQE of the send chain led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxProgress {
    /// More CQEs are due.
    Pending,
    /// The chain ended short of the batch; push the rest.
    Resume,
    /// Every byte of the batch was sent and every buffer released.
    Done {
        /// Credits the batch held.
        credits: u16,
        /// PDUs sent.
        pdus: u64,
        /// Wire bytes sent.
        bytes: u64,
    },
    /// The connection must be aborted.
    Failed(AbortReason),
}

/// PDUs in flight on the socket, and the gather lists describing them.
pub(crate) struct TxBatch {
    pdus: Vec<TxPdu>,
    iovecs: Vec<libc::iovec>,
    msghdrs: Vec<libc::msghdr>,
    ops: Vec<TxOp>,
    /// First op with bytes left.
    next_op: usize,
    /// The op the next result CQE belongs to.
    cqe_op: usize,
    chain: Chain,
    credits: u16,
    bytes: u64,
    /// The chain in flight is one silent SENDMSG (see [`TxBatch::push_chain`]).
    silent: bool,
    /// A push of this batch has happened: a retry is never silent.
    pushed_before: bool,
    /// A corked chain broke before its uncork ran: the socket may still be corked, so the
    /// resumed chain is corked (and uncorked) whatever it carries.
    may_be_corked: bool,
}

/// Why no batch could be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NoBatch {
    /// Nothing queued.
    Empty,
    /// The first queued PDU needs more credits than are available.
    CreditStall,
}

impl TxBatch {
    /// An empty batch.
    pub(super) fn new() -> TxBatch {
        TxBatch {
            pdus: Vec::new(),
            iovecs: Vec::new(),
            msghdrs: Vec::new(),
            ops: Vec::new(),
            next_op: 0,
            cqe_op: 0,
            chain: Chain::default(),
            credits: 0,
            bytes: 0,
            silent: false,
            pushed_before: false,
            may_be_corked: false,
        }
    }

    /// Whether the batch holds no PDUs (nothing in flight, ready to be refilled).
    pub(super) fn is_empty(&self) -> bool {
        self.pdus.is_empty()
    }

    /// Drops the sent PDUs, keeping the lists' memory for the next batch.
    pub(super) fn clear(&mut self) {
        self.pdus.clear();
        self.iovecs.clear();
        self.msghdrs.clear();
        self.ops.clear();
        self.next_op = 0;
        self.cqe_op = 0;
        self.chain = Chain::default();
        self.credits = 0;
        self.bytes = 0;
        self.silent = false;
        self.pushed_before = false;
        self.may_be_corked = false;
    }

    /// Fills this empty batch with PDUs from the front of `queue` while credits last, up to
    /// `max_bytes` (at least one PDU), and lays out their gather lists.
    /// The flag says whether credits ran out with PDUs still queued.
    pub(super) fn fill(
        &mut self,
        queue: &mut VecDeque<TxPdu>,
        credits: &mut WrCredits,
        max_bytes: u64,
    ) -> Result<bool, NoBatch> {
        debug_assert!(self.is_empty(), "a batch is refilled only once it is done");
        let pdus = &mut self.pdus;
        let mut bytes = 0u64;
        let mut taken_credits = 0u16;
        let mut stalled = false;
        while let Some(front) = queue.front() {
            if !pdus.is_empty() && bytes + front.wire_len() > max_bytes {
                break;
            }
            if credits
                .try_consume(front.credits, front.wr.completion_requested())
                .is_err()
            {
                stalled = true;
                break;
            }
            let Some(mut pdu) = queue.pop_front() else {
                break;
            };
            pdu.fill_digests();
            bytes += pdu.wire_len();
            taken_credits += pdu.credits.get();
            pdus.push(pdu);
        }
        if pdus.is_empty() {
            return Err(if stalled {
                NoBatch::CreditStall
            } else {
                NoBatch::Empty
            });
        }
        self.credits = taken_credits;
        self.bytes = bytes;
        self.lay_out();
        Ok(stalled)
    }

    /// Builds the gather lists and ops of the batch's PDUs.
    fn lay_out(&mut self) {
        let iovecs = &mut self.iovecs;
        let ops = &mut self.ops;
        let mut sendmsgs = 0;
        for pdu in &self.pdus {
            let pieces = pdu.pieces();
            for &piece in pieces.as_slice() {
                match piece {
                    Piece::Mapped { ptr, len } => {
                        let len32 = len as u32;
                        let extend = match ops.last_mut() {
                            Some(TxOp {
                                kind:
                                    TxOpKind::SendMsg {
                                        iov_start, iov_end, ..
                                    },
                                remaining,
                            }) if *iov_end - *iov_start < IOV_MAX
                                && remaining
                                    .checked_add(len32)
                                    .is_some_and(|sum| sum <= i32::MAX as u32) =>
                            {
                                *iov_end += 1;
                                *remaining += len32;
                                true
                            }
                            _ => false,
                        };
                        if !extend {
                            ops.push(TxOp {
                                kind: TxOpKind::SendMsg {
                                    iov_start: iovecs.len(),
                                    iov_end: iovecs.len() + 1,
                                    msg: sendmsgs,
                                },
                                remaining: len32,
                            });
                            sendmsgs += 1;
                        }
                        iovecs.push(libc::iovec {
                            iov_base: ptr as *mut libc::c_void,
                            iov_len: len,
                        });
                    }
                    Piece::Fixed {
                        buf_index,
                        addr,
                        len,
                    } => ops.push(TxOp {
                        kind: TxOpKind::WriteFixed { buf_index, addr },
                        remaining: len,
                    }),
                }
            }
        }
        // SAFETY: msghdr is a plain C struct for which all-zero is a valid empty header.
        let empty: libc::msghdr = unsafe { std::mem::zeroed() };
        self.msghdrs.resize(sendmsgs, empty);
    }

    /// Whether the remaining ops should be pushed now.
    pub(super) fn wants_push(&self) -> bool {
        !self.chain.is_active() && self.next_op < self.ops.len()
    }

    /// Pushes the next chain of ops, counting each SQE in `ops_in_flight`.
    ///
    /// With `cork` (the token for its setsockopts), a chain with a WRITE_FIXED in it is sent
    /// under TCP_CORK: a setsockopt pushed just before the chain corks the socket and one
    /// linked behind its last op uncorks it. A WRITE_FIXED cannot say MSG_MORE, so without
    /// the cork each one (a Data-Out's payload, 8 KiB against tgtd) leaves as a segment of
    /// its own; under it the chain's PDUs fill whole segments, as the kernel initiator's do
    /// (see `docs/benchmarks/2026-11-25-vm-so-rcvlowat-cork.md`).
    /// The cork is not linked ahead of the sends, so a kernel refusing it fails only the
    /// setsockopt; an uncork cancelled behind a short send leaves the socket corked until
    /// the resumed chain's own uncork (or the kernel's 200 ms cork timeout).
    ///
    /// With `silent_ok`, a batch that is one SENDMSG goes out *silent* on its first push:
    /// MSG_DONTWAIT, so it finishes (all sent, part sent, or EAGAIN) while the io_uring_enter
    /// that submits it runs, and IOSQE_CQE_SKIP_SUCCESS, so only a failure or short send
    /// posts a CQE. The ring owner then reports the enter with
    /// [`settle_silent`](Self::settle_silent). This saves the CQE that would otherwise end the
    /// owner's wait at once and cost a second enter to wait for the reply.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push_chain(
        &mut self,
        fd: types::Fd,
        token: u64,
        cork: Option<u64>,
        silent_ok: bool,
        sub: &mut dyn Submitter,
        counters: &mut ConnCounters,
        ops_in_flight: &mut usize,
    ) -> Result<(), SqFull> {
        let wanted = (self.ops.len() - self.next_op).min(MAX_CHAIN_OPS);
        let space = sub.sq_space();
        let first = self.next_op;
        let cork = cork.filter(|_| {
            space > 2
                && (self.may_be_corked
                    || self.ops[first..first + wanted.min(space - 2)]
                        .iter()
                        .any(|op| matches!(op.kind, TxOpKind::WriteFixed { .. })))
        });
        let count = wanted.min(if cork.is_some() { space - 2 } else { space });
        if count == 0 {
            return Err(SqFull);
        }
        if let Some(cork_token) = cork {
            sub.push(cork_token, cork_op(fd, &CORK_ON))?;
            *ops_in_flight += 1;
            counters.corked_chains += 1;
            self.may_be_corked = true;
        }
        let silent = silent_ok
            && !self.pushed_before
            && self.ops.len() == 1
            && matches!(self.ops[0].kind, TxOpKind::SendMsg { .. });
        self.pushed_before = true;
        for index in first..first + count {
            let op = self.ops[index];
            let payload_follows = self.fixed_payload_follows(index, first + count);
            let sqe = match op.kind {
                TxOpKind::SendMsg {
                    iov_start,
                    iov_end,
                    msg,
                } => {
                    let header = &mut self.msghdrs[msg];
                    header.msg_iov = self.iovecs[iov_start..].as_mut_ptr();
                    header.msg_iovlen = iov_end - iov_start;
                    counters.sendmsg_calls += 1;
                    let mut flags = libc::MSG_NOSIGNAL | libc::MSG_WAITALL;
                    if silent {
                        flags |= libc::MSG_DONTWAIT;
                    }
                    // A WRITE_FIXED payload linked right behind: MSG_MORE keeps these bytes
                    // (a PDU header, mostly) for the payload's segment instead of pushing a
                    // 48-byte packet of their own; the WRITE_FIXED pushes both.
                    if payload_follows {
                        flags |= libc::MSG_MORE;
                    }
                    let sqe = opcode::SendMsg::new(fd, header as *const libc::msghdr)
                        .flags(flags as u32)
                        .build();
                    if silent {
                        sqe.flags(Flags::SKIP_SUCCESS)
                    } else {
                        sqe
                    }
                }
                TxOpKind::WriteFixed { buf_index, addr } => {
                    counters.write_fixed_calls += 1;
                    // Offset 0: a socket refuses any other position (ESPIPE).
                    opcode::WriteFixed::new(fd, addr as *const u8, op.remaining, buf_index)
                        .offset(0)
                        .build()
                }
            };
            let sqe: Entry = if index + 1 < first + count || cork.is_some() {
                sqe.flags(Flags::IO_LINK)
            } else {
                sqe
            };
            if let Err(full) = sub.push(token, sqe) {
                // The submitter broke its sq_space promise; account for what went in.
                self.chain.submitted(index - first);
                self.cqe_op = first;
                return Err(full);
            }
            *ops_in_flight += 1;
        }
        counters.tx_chains += 1;
        if silent {
            counters.silent_sends += 1;
        }
        self.silent = silent;
        self.chain.submitted(count);
        self.cqe_op = first;
        if let Some(cork_token) = cork {
            sub.push(cork_token, cork_op(fd, &CORK_OFF))?;
            *ops_in_flight += 1;
        }
        Ok(())
    }

    /// Whether op `index` is followed, within a chain ending before `chain_end`, by a
    /// WRITE_FIXED: linked, so it runs right after and pushes what `index` left unpushed.
    fn fixed_payload_follows(&self, index: usize, chain_end: usize) -> bool {
        index + 1 < chain_end
            && self
                .ops
                .get(index + 1)
                .is_some_and(|op| matches!(op.kind, TxOpKind::WriteFixed { .. }))
    }

    /// Whether a silent send is waiting for [`settle_silent`](Self::settle_silent).
    pub(super) fn has_silent_send(&self) -> bool {
        self.silent
    }

    /// The enter that submitted the silent send has returned and its CQEs were applied, and
    /// none was the send's: it sent everything.
    pub(super) fn settle_silent(&mut self) -> Option<TxProgress> {
        if !std::mem::take(&mut self.silent) {
            return None;
        }
        if let Some(op) = self.ops.get_mut(self.cqe_op) {
            op.remaining = 0;
        }
        self.cqe_op += 1;
        self.chain.on_cqe();
        self.next_op = self.ops.len();
        Some(self.progress())
    }

    /// Applies one CQE of the send chain.
    pub(super) fn on_cqe(&mut self, result: i32, counters: &mut ConnCounters) -> TxProgress {
        if std::mem::take(&mut self.silent) && result == -libc::EAGAIN {
            // The socket had no room: nothing was sent; the retry waits for room.
            counters.short_transfers += 1;
            self.cqe_op += 1;
            self.chain.on_cqe();
            return self.progress();
        }
        let index = self.cqe_op;
        self.cqe_op += 1;
        let Some(op) = self.ops.get(index).copied() else {
            return TxProgress::Failed(AbortReason::LinkOrderBroken);
        };
        let failure = match classify(result, op.remaining, self.chain.is_broken()) {
            OpResult::Complete => {
                self.ops[index].remaining = 0;
                None
            }
            OpResult::Short(sent) => {
                counters.short_transfers += 1;
                self.advance(index, sent);
                self.chain.break_link();
                None
            }
            OpResult::Cancelled if self.chain.is_broken() => None,
            OpResult::Cancelled => Some(AbortReason::UnexpectedCancel),
            // A stream send of a non-empty buffer returns 0 only when the socket is gone.
            OpResult::Eof => Some(AbortReason::Socket { errno: libc::EPIPE }),
            OpResult::Failed(errno) => Some(AbortReason::Socket { errno }),
            OpResult::OutOfOrder => Some(AbortReason::LinkOrderBroken),
        };
        let chain_done = self.chain.on_cqe();
        if let Some(reason) = failure {
            return TxProgress::Failed(reason);
        }
        if chain_done && !self.chain.is_broken() {
            // Every op went through, so the uncork linked behind the last one ran too.
            self.may_be_corked = false;
        }
        if chain_done {
            while self
                .ops
                .get(self.next_op)
                .is_some_and(|op| op.remaining == 0)
            {
                self.next_op += 1;
            }
        }
        self.progress()
    }

    fn progress(&self) -> TxProgress {
        if self.chain.is_active() {
            return TxProgress::Pending;
        }
        if self.next_op < self.ops.len() {
            return TxProgress::Resume;
        }
        TxProgress::Done {
            credits: self.credits,
            pdus: self.pdus.len() as u64,
            bytes: self.bytes,
        }
    }

    /// Moves op `index` past `sent` bytes.
    fn advance(&mut self, index: usize, sent: u32) {
        let op = &mut self.ops[index];
        op.remaining -= sent;
        match &mut op.kind {
            TxOpKind::SendMsg {
                iov_start, iov_end, ..
            } => {
                let mut left = sent as usize;
                while left > 0 && *iov_start < *iov_end {
                    let iov = &mut self.iovecs[*iov_start];
                    if left < iov.iov_len {
                        iov.iov_base = iov.iov_base.cast::<u8>().wrapping_add(left).cast();
                        iov.iov_len -= left;
                        left = 0;
                    } else {
                        left -= iov.iov_len;
                        *iov_start += 1;
                    }
                }
            }
            TxOpKind::WriteFixed { addr, .. } => *addr += u64::from(sent),
        }
    }

    /// Test stand-in for a successful `push_chain` of `count` ops.
    #[cfg(test)]
    fn pretend_pushed(&mut self, count: usize) {
        self.chain.submitted(count);
        self.cqe_op = self.next_op;
    }

    /// The bytes the batch would put on the wire, in order (for tests of the layout).
    #[cfg(test)]
    fn wire_image(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for op in &self.ops {
            if let TxOpKind::SendMsg {
                iov_start, iov_end, ..
            } = op.kind
            {
                for iov in &self.iovecs[iov_start..iov_end] {
                    // SAFETY: test-only; every iovec points into the batch, a static, or a
                    // test buffer alive for the test.
                    let bytes = unsafe {
                        std::slice::from_raw_parts(iov.iov_base as *const u8, iov.iov_len)
                    };
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
