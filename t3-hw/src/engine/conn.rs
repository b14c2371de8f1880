//! One offloaded connection: its socket, phase, transmit queue, receive state and credits.
//!
//! Phases follow the CPL exchange cxgb3i sees:
//!
//! ```text
//! Connecting --CONNECT ok--> Established --CLOSE_CON_REQ--> Closing --FIN sent--> TearingDown
//!     |                           |  \--ABORT_REQ / socket error / protocol error--> TearingDown
//!     \--CONNECT failed: ACT_OPEN_RPL, slot freed
//! ```
//!
//! Tearing down cancels every op on the socket (IORING_OP_ASYNC_CANCEL by fd) and waits for
//! their CQEs, because the ops point into this connection's buffers; only then is the socket
//! closed and the final CPL (CLOSE_CON_RPL / ABORT_RPL) reported.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use io_uring::opcode;
use io_uring::types::{CancelBuilder, Fd};
use iscsi_proto::digest::Digests;

use super::counters::ConnCounters;
use super::error::{AbortReason, PostError};
use super::framer::FrameFormat;
use super::placement::PlaceEnv;
use super::rx::{Rx, RxEnv, RxOutcome};
use super::socket::{self, ConnectAddr};
use super::submit::{SqFull, Submitter};
use super::task_buffer::TaskBuffers;
use super::token::{ConnKey, OpKind};
use super::tx::{NoBatch, TxBatch, TxPdu, TxProgress};
use crate::cpl::{Completion, CplStatus};
use crate::credits::{WrCredits, WR_MAX_CREDITS};
use crate::ppm::Ppm;
use crate::ppod::PageSize;
use crate::tid::Tid;
use crate::wr::{
    tcb_ddp_page_size, tcb_ulp_submode, SetTcbField, TxData, UlpSubmode, TCB_ULP_WORD,
};

/// The CPL a finished teardown reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Final {
    /// CLOSE_CON_RPL: our FIN went out after all queued data.
    CloseConRpl,
    /// ABORT_RPL: the abort the initiator asked for is done.
    AbortRpl,
    /// Nothing: the abort was already reported with `Completion::Abort`.
    Silent,
}

impl Final {
    pub(super) fn completion(self, tid: Tid) -> Option<Completion> {
        match self {
            Final::CloseConRpl => Some(Completion::CloseConRpl { tid }),
            Final::AbortRpl => Some(Completion::AbortRpl { tid }),
            Final::Silent => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    /// Waiting for queued data to drain.
    Waiting,
    /// SHUTDOWN(SHUT_WR) is in flight.
    Pushed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Connecting {
        pushed: bool,
    },
    /// The CONNECT failed; nothing is in flight.
    OpenFailed(CplStatus),
    Established,
    Closing(Shutdown),
    TearingDown {
        cancel_pushed: bool,
        then: Final,
    },
}

/// Where the connection stands, as far as the engine's slot table is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnFate {
    /// Still live.
    Live,
    /// The open failed; report ACT_OPEN_RPL and free the slot (no TID was ever reported).
    OpenFailed(CplStatus),
    /// Teardown is complete; close the socket and report the final CPL.
    Finished(Final),
}

/// Engine-wide settings a connection reads.
pub(crate) struct ConnEnv<'a> {
    pub ppm: &'a Ppm,
    pub tasks: &'a TaskBuffers,
    pub max_data_segment_len: u32,
    pub tx_batch_bytes: u64,
    /// Staging bytes of a connection's receive side (read-ahead room).
    pub rx_staging_bytes: usize,
    /// Placed payloads this long make the next receive exact.
    pub rx_exact_placement_bytes: u32,
    /// Receives waiting for this many bytes raise SO_RCVLOWAT first (0: never).
    pub rx_wake_on_bytes: u32,
    /// Whether the ring owner settles silent sends (see `Engine::set_silent_sends`).
    pub silent_sends: bool,
}

pub(crate) struct Conn {
    key: ConnKey,
    atid: u32,
    fd: OwnedFd,
    peer: ConnectAddr,
    phase: Phase,
    tcb_word31: u64,
    submode: UlpSubmode,
    page_size: PageSize,
    credits: WrCredits,
    tx_queue: VecDeque<TxPdu>,
    /// The send batch; empty when nothing is in flight.
    tx: TxBatch,
    rx: Option<Rx>,
    /// Pushed SQEs whose completion CQE has not arrived.
    ops_in_flight: usize,
    counters: ConnCounters,
    abort_reason: Option<AbortReason>,
    /// The kernel refused a TCP_CORK setsockopt through io_uring.
    cork_refused: bool,
}

impl Conn {
    pub(super) fn new(key: ConnKey, atid: u32, fd: OwnedFd, peer: SocketAddr) -> Conn {
        Conn {
            key,
            atid,
            fd,
            peer: ConnectAddr::new(peer),
            phase: Phase::Connecting { pushed: false },
            tcb_word31: 0,
            submode: UlpSubmode::default(),
            page_size: PageSize::Size4K,
            credits: WrCredits::default(),
            tx_queue: VecDeque::new(),
            tx: TxBatch::new(),
            rx: None,
            ops_in_flight: 0,
            counters: ConnCounters::default(),
            abort_reason: None,
            cork_refused: false,
        }
    }

    pub(super) fn tid(&self) -> Tid {
        self.key.tid()
    }

    pub(super) fn atid(&self) -> u32 {
        self.atid
    }

    pub(super) fn is_connecting(&self) -> bool {
        matches!(self.phase, Phase::Connecting { .. } | Phase::OpenFailed(_))
    }

    pub(super) fn counters(&self) -> ConnCounters {
        self.counters
    }

    pub(super) fn abort_reason(&self) -> Option<AbortReason> {
        self.abort_reason
    }

    pub(super) fn ops_in_flight(&self) -> usize {
        self.ops_in_flight
    }

    pub(super) fn local_addr(&self) -> Option<SocketAddr> {
        socket::local_addr(&self.fd)
    }

    pub(super) fn peer_addr(&self) -> Option<SocketAddr> {
        socket::peer_addr(&self.fd)
    }

    /// The connection's ULP submode (digests checked on receive).
    pub(super) fn submode(&self) -> UlpSubmode {
        self.submode
    }

    fn accepts_requests(&self) -> Result<(), PostError> {
        match self.phase {
            Phase::Established | Phase::Closing(_) => Ok(()),
            Phase::Connecting { .. } | Phase::OpenFailed(_) | Phase::TearingDown { .. } => {
                Err(PostError::Closing { tid: self.tid() })
            }
        }
    }

    /// Queues a TX_DATA behind the connection's other data.
    pub(super) fn queue_tx(&mut self, wr: TxData, tasks: &TaskBuffers) -> Result<(), PostError> {
        self.accepts_requests()?;
        if matches!(self.phase, Phase::Closing(_)) {
            // CLOSE_CON_REQ is queued behind all data: nothing may follow it.
            return Err(PostError::Closing { tid: self.tid() });
        }
        let command = Rx::is_command(wr.pdu().header());
        self.tx_queue.push_back(TxPdu::new(wr, tasks)?);
        if let (true, Some(rx)) = (command, &mut self.rx) {
            rx.command_sent();
        }
        Ok(())
    }

    /// Applies a SET_TCB_FIELD to word 31 (DDP page size and ULP submode).
    pub(super) fn set_tcb_field(&mut self, field: &SetTcbField) -> Result<(), PostError> {
        self.accepts_requests()?;
        if field.word != TCB_ULP_WORD {
            return Err(PostError::UnsupportedTcbWord { word: field.word });
        }
        let word = field.apply(self.tcb_word31);
        let (Some(page_size), Some(submode)) = (tcb_ddp_page_size(word), tcb_ulp_submode(word))
        else {
            return Err(PostError::InvalidTcbValue { value: word });
        };
        self.tcb_word31 = word;
        self.page_size = page_size;
        self.submode = submode;
        Ok(())
    }

    /// CLOSE_CON_REQ: FIN once everything queued is sent.
    pub(super) fn close(&mut self) -> Result<(), PostError> {
        self.accepts_requests()?;
        if self.phase == Phase::Established {
            self.phase = Phase::Closing(Shutdown::Waiting);
        }
        Ok(())
    }

    /// ABORT_REQ: drop queued data, cancel everything, close with RST.
    pub(super) fn abort(&mut self) -> Result<(), PostError> {
        match self.phase {
            Phase::TearingDown {
                then: Final::AbortRpl,
                ..
            }
            | Phase::Connecting { .. }
            | Phase::OpenFailed(_) => {
                return Err(PostError::Closing { tid: self.tid() });
            }
            Phase::TearingDown { .. } | Phase::Established | Phase::Closing(_) => {}
        }
        // Best effort: if SO_LINGER cannot be set the close is a FIN, which is still a close.
        let _ = socket::set_abortive_close(&self.fd);
        self.abort_reason.get_or_insert(AbortReason::Requested);
        self.tear_down(Final::AbortRpl);
        Ok(())
    }

    /// Aborts on the engine's own account: reports ABORT, then tears down silently.
    pub(super) fn fail(&mut self, reason: AbortReason, out: &mut VecDeque<Completion>) {
        if !matches!(self.phase, Phase::Established | Phase::Closing(_)) {
            return;
        }
        let status = match reason {
            AbortReason::Socket { errno } => CplStatus::from_socket_errno(errno),
            _ => CplStatus::General,
        };
        tracing::warn!(tid = ?self.tid(), ?reason, "aborting connection");
        let _ = socket::set_abortive_close(&self.fd);
        self.abort_reason = Some(reason);
        out.push_back(Completion::Abort {
            tid: self.tid(),
            status,
        });
        self.tear_down(Final::Silent);
    }

    fn tear_down(&mut self, then: Final) {
        let cancel_pushed = match self.phase {
            Phase::TearingDown { cancel_pushed, .. } => cancel_pushed,
            _ => false,
        };
        if let Some(rx) = &mut self.rx {
            rx.halt();
        }
        self.tx_queue.clear();
        self.phase = Phase::TearingDown {
            cancel_pushed,
            then,
        };
    }

    /// The teardown result once no op is in flight any more.
    pub(super) fn fate(&self) -> ConnFate {
        match self.phase {
            Phase::TearingDown { then, .. } if self.ops_in_flight == 0 => ConnFate::Finished(then),
            Phase::OpenFailed(status) => ConnFate::OpenFailed(status),
            _ => ConnFate::Live,
        }
    }

    fn push(
        &mut self,
        sub: &mut dyn Submitter,
        op: OpKind,
        sqe: io_uring::squeue::Entry,
    ) -> Result<(), SqFull> {
        if sub.sq_space() == 0 {
            return Err(SqFull);
        }
        sub.push(self.key.token(op), sqe)?;
        self.ops_in_flight += 1;
        Ok(())
    }

    /// Pushes whatever SQEs the connection needs now.
    pub(super) fn emit(
        &mut self,
        sub: &mut dyn Submitter,
        env: &ConnEnv<'_>,
    ) -> Result<(), SqFull> {
        let fd = Fd(self.fd.as_raw_fd());
        match self.phase {
            Phase::Connecting { pushed: false } => {
                let sqe = opcode::Connect::new(fd, self.peer.as_ptr(), self.peer.len()).build();
                self.push(sub, OpKind::Connect, sqe)?;
                self.phase = Phase::Connecting { pushed: true };
                return Ok(());
            }
            Phase::Connecting { pushed: true } | Phase::OpenFailed(_) => return Ok(()),
            Phase::TearingDown {
                cancel_pushed: false,
                then,
            } => {
                if self.ops_in_flight > 0 {
                    let sqe = opcode::AsyncCancel2::new(CancelBuilder::fd(fd).all()).build();
                    self.push(sub, OpKind::Cancel, sqe)?;
                    self.phase = Phase::TearingDown {
                        cancel_pushed: true,
                        then,
                    };
                }
                return Ok(());
            }
            Phase::TearingDown { .. } => return Ok(()),
            Phase::Established | Phase::Closing(_) => {}
        }
        self.emit_tx(fd, sub, env)?;
        if self.phase == Phase::Closing(Shutdown::Waiting)
            && self.tx_queue.is_empty()
            && self.tx.is_empty()
        {
            let sqe = opcode::Shutdown::new(fd, libc::SHUT_WR).build();
            self.push(sub, OpKind::Shutdown, sqe)?;
            self.phase = Phase::Closing(Shutdown::Pushed);
        }
        let rx_env = self.rx_env(env);
        if let Some(rx) = &mut self.rx {
            if rx.wants_push() {
                rx.push_chain(
                    fd,
                    self.key.token(OpKind::Rx),
                    &rx_env,
                    sub,
                    &mut self.counters,
                    &mut self.ops_in_flight,
                )?;
            }
        }
        Ok(())
    }

    /// What the receive side needs to know about the engine and this connection.
    fn rx_env<'a>(&self, env: &ConnEnv<'a>) -> RxEnv<'a> {
        RxEnv {
            place: PlaceEnv {
                ppm: env.ppm,
                tasks: env.tasks,
                tid: self.key.tid(),
                page_size: self.page_size,
                data_digest: self.submode.data_digest,
            },
            format: FrameFormat {
                digests: Digests::from(self.submode),
                max_data_segment_len: env.max_data_segment_len,
            },
            // Bytes staged ahead of their header can only be copied into mapped memory.
            read_ahead: env.rx_staging_bytes > 0 && !env.tasks.has_fixed(),
            exact_placement_from: env.rx_exact_placement_bytes,
            wake_on_bytes: env.rx_wake_on_bytes,
        }
    }

    fn emit_tx(
        &mut self,
        fd: Fd,
        sub: &mut dyn Submitter,
        env: &ConnEnv<'_>,
    ) -> Result<(), SqFull> {
        if self.tx.is_empty() {
            if self.tx_deferred() {
                self.counters.tx_deferred += 1;
                return Ok(());
            }
            match self
                .tx
                .fill(&mut self.tx_queue, &mut self.credits, env.tx_batch_bytes)
            {
                Ok(stalled) => {
                    if stalled {
                        self.counters.credit_stalls += 1;
                    }
                }
                Err(NoBatch::CreditStall) => self.counters.credit_stalls += 1,
                Err(NoBatch::Empty) => {}
            }
        }
        if !self.tx.wants_push() {
            return Ok(());
        }
        // A silent send is settled only after the enter that submits it has waited; nothing
        // else of this connection may depend on it meanwhile: no PDUs queued behind it, no
        // FIN waiting for it.
        let silent_ok =
            env.silent_sends && self.tx_queue.is_empty() && self.phase == Phase::Established;
        let cork = (!self.cork_refused).then(|| self.key.token(OpKind::Cork));
        self.tx.push_chain(
            fd,
            self.key.token(OpKind::Tx),
            cork,
            silent_ok,
            sub,
            &mut self.counters,
            &mut self.ops_in_flight,
        )
    }

    /// Whether queued PDUs should wait for the next flush: the last receive found the socket
    /// still holding bytes, so the receive pushed now completes at once, and the PDUs it
    /// delivers usually queue more requests; then they all leave in one send. Never more than
    /// one batch's worth waits.
    fn tx_deferred(&self) -> bool {
        self.tx_queue.len() < usize::from(WR_MAX_CREDITS)
            && self
                .rx
                .as_ref()
                .is_some_and(|rx| rx.socket_has_more() && rx.wants_push())
    }

    /// Applies one CQE of this connection.
    pub(super) fn on_cqe(
        &mut self,
        op: OpKind,
        result: i32,
        flags: u32,
        env: &ConnEnv<'_>,
        out: &mut VecDeque<Completion>,
    ) {
        self.ops_in_flight = self.ops_in_flight.saturating_sub(1);
        let tearing_down = matches!(self.phase, Phase::TearingDown { .. });
        match op {
            OpKind::Connect if !tearing_down => self.on_connect(result, env, out),
            OpKind::Tx if !tearing_down => self.on_tx(result, out),
            OpKind::Rx if !tearing_down => self.on_rx(result, flags, env, out),
            OpKind::Shutdown if !tearing_down => self.tear_down(Final::CloseConRpl),
            OpKind::Cork => self.on_cork(result),
            // Results during teardown (mostly cancellations) only count as arrived.
            OpKind::Connect | OpKind::Tx | OpKind::Rx | OpKind::Shutdown | OpKind::Cancel => {}
        }
    }

    /// A TCP_CORK setsockopt finished. Its failures cost only coalescing: an uncork
    /// cancelled behind a short send is repeated by the resumed chain, and any other error
    /// of the socket shows in the sends.
    fn on_cork(&mut self, result: i32) {
        if matches!(-result, libc::EOPNOTSUPP | libc::EINVAL) {
            // No socket commands in this kernel's io_uring: send uncorked from now on.
            self.cork_refused = true;
        }
    }

    fn on_connect(&mut self, result: i32, env: &ConnEnv<'_>, out: &mut VecDeque<Completion>) {
        if result < 0 {
            self.phase = Phase::OpenFailed(CplStatus::from_connect_errno(-result));
            return;
        }
        self.phase = Phase::Established;
        self.rx = Some(Rx::new(self.tid(), env.rx_staging_bytes));
        // The host stack does not expose its ISNs; nothing in the initiator needs them.
        out.push_back(Completion::ActEstablish {
            atid: self.atid,
            tid: self.tid(),
            snd_isn: 0,
            rcv_isn: 0,
        });
    }

    /// Whether a silent send of this connection waits to be settled.
    pub(super) fn has_silent_send(&self) -> bool {
        self.tx.has_silent_send()
    }

    /// The enter that submitted this connection's silent send has returned and no CQE said
    /// it failed: it is done.
    pub(super) fn settle_silent_send(&mut self, out: &mut VecDeque<Completion>) {
        let Some(progress) = self.tx.settle_silent() else {
            return;
        };
        self.ops_in_flight = self.ops_in_flight.saturating_sub(1);
        if !matches!(self.phase, Phase::TearingDown { .. }) {
            self.on_tx_progress(progress, out);
        }
    }

    fn on_tx(&mut self, result: i32, out: &mut VecDeque<Completion>) {
        if self.tx.is_empty() {
            return self.fail(AbortReason::LinkOrderBroken, out);
        }
        let progress = self.tx.on_cqe(result, &mut self.counters);
        self.on_tx_progress(progress, out);
    }

    fn on_tx_progress(&mut self, progress: TxProgress, out: &mut VecDeque<Completion>) {
        match progress {
            TxProgress::Pending | TxProgress::Resume => {}
            TxProgress::Done {
                credits,
                pdus,
                bytes,
            } => {
                self.tx.clear();
                self.counters.pdus_tx += pdus;
                self.counters.bytes_tx += bytes;
                if self.credits.on_ack(credits).is_err() {
                    return self.fail(AbortReason::LinkOrderBroken, out);
                }
                out.push_back(Completion::TxDmaAck {
                    tid: self.tid(),
                    credits,
                });
            }
            TxProgress::Failed(reason) => self.fail(reason, out),
        }
    }

    fn on_rx(
        &mut self,
        result: i32,
        flags: u32,
        env: &ConnEnv<'_>,
        out: &mut VecDeque<Completion>,
    ) {
        let rx_env = self.rx_env(env);
        let Some(rx) = &mut self.rx else {
            return self.fail(AbortReason::LinkOrderBroken, out);
        };
        match rx.on_cqe(result, flags, &rx_env, &mut self.counters, out) {
            RxOutcome::Continue => {}
            RxOutcome::PeerClosed => out.push_back(Completion::PeerClose { tid: self.tid() }),
            RxOutcome::Abort(reason) => self.fail(reason, out),
        }
    }

    /// Aborts without reporting anything (engine shutdown).
    pub(super) fn shut_down(&mut self) {
        if matches!(self.phase, Phase::TearingDown { .. } | Phase::OpenFailed(_)) {
            return;
        }
        let _ = socket::set_abortive_close(&self.fd);
        self.abort_reason = Some(AbortReason::EngineShutdown);
        self.tear_down(Final::Silent);
    }
}
