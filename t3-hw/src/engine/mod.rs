//! The software engine behind the T3 offload queues: it carries out work requests with the
//! host's TCP stack through io_uring and reports T3-style completions.
//!
//! The initiator talks to it exactly as cxgb3i talks to the adapter: [`Engine::post`] a
//! [`WorkRequest`], drain [`Engine::poll_completion`]. The ring owner drives it:
//!
//! ```text
//! loop {
//!     engine.flush(&mut submitter)?;         // push the SQEs the engine wants
//!     ring.submit_and_wait(1)?;
//!     for cqe in ring.completion() {          // route the engine's CQEs back
//!         engine.on_cqe(token_of(cqe), cqe.result(), cqe.flags());
//!     }
//!     while let Some(c) = engine.poll_completion() { initiator.handle(c) }
//! }
//! ```
//!
//! One engine per thread, no locks, no engine thread; it owns no ring (see [`Submitter`] and
//! the token layout in [`token`]), so it runs on a ublk queue's io_uring as well as on
//! [`driver::OwnedRing`].
//!
//! What the engine does for each request:
//! - `ActOpen`: a host TCP socket (IPv4 or IPv6, TCP_NODELAY), IORING_OP_CONNECT →
//!   `ActEstablish` with an engine-assigned TID, or `ActOpenRpl` with the errno mapped by
//!   [`CplStatus::from_connect_errno`](crate::cpl::CplStatus::from_connect_errno).
//! - `TxData`: queued; sent in batches (see the `tx` module), held back while the socket still holds
//!   received PDUs the next receive takes at once (the requests they trigger then leave in the
//!   same send); credits come back as `TxDmaAck` when the socket has taken the bytes. With [`Engine::set_silent_sends`] a
//!   one-SENDMSG batch posts no CQE unless it falls short.
//! - `SetTcbField` (word 31): DDP page size and ULP submode; the submode switches header/data
//!   digest checking on receive (transmit digests follow each TX_DATA's own submode).
//! - `RxDataAck`: accepted and ignored — the host TCP stack opens the window itself as the
//!   engine reads.
//! - `CloseCon`: FIN after queued data (SHUTDOWN(SHUT_WR)), then the socket is closed →
//!   `CloseConRpl`. Bytes still arriving are dropped.
//! - `AbortReq`: queued data dropped, SO_LINGER 0, close (RST) → `AbortRpl`.
//!
//! Unprompted: received PDUs (`IscsiHdr`, see the `rx` module: one receive op per PDU, payload placed
//! by the page pods; small PDUs read ahead many per receive, see
//! [`EngineConfig::rx_exact_placement_bytes`]), `PeerClose` on FIN, and `Abort` on a socket
//! error or a protocol violation ([`Engine::abort_reason`] says which).
//!
//! # Memory
//!
//! SQEs point into connection state that is boxed and neither moved nor changed until the op's
//! CQE is routed back, and into task buffers under the contract of
//! [`Engine::register_task_buffer`]. Dropping the engine with ops in flight leaks those
//! connections' buffers instead of freeing memory the kernel may still write; drive it idle
//! first ([`Engine::shut_down`], then flush/`on_cqe` until [`Engine::ops_in_flight`] is 0, as
//! `OwnedRing` does on drop).

mod conn;
mod counters;
pub(crate) mod driver;
mod error;
pub(crate) mod fast_hash;
mod framer;
mod link;
mod placement;
mod rx;
mod socket;
mod submit;
pub(crate) mod task_buffer;
mod token;
mod tx;

use std::collections::VecDeque;
use std::net::SocketAddr;

use thiserror::Error;

use crate::cpl::Completion;
use crate::ppm::{BufferId, DdpRequest, IttReservation, Ppm, PpmConfig, PpmConfigError, SgEntry};
use crate::ppod::PageSize;
use crate::tag::TagError;
use crate::tid::Tid;
use crate::wr::WorkRequest;

use conn::{Conn, ConnEnv, ConnFate};
pub use counters::{ConnCounters, DdpErrorCounts};
pub use error::{AbortReason, PostError};
use fast_hash::IdMap;
pub use submit::{SqFull, Submitter};
use task_buffer::{IoTarget, TaskBuffers};
pub use task_buffer::{TaskBuffer, TaskBufferError};
pub use token::TOKEN_BITS;
use token::{decode_token, ConnKey, MAX_CONNECTIONS};

/// Default byte cap of one send batch.
pub(crate) const DEFAULT_TX_BATCH_BYTES: u32 = 1 << 20;
/// Default staging buffer of a connection's receive side: how far one receive may read ahead.
pub(crate) const DEFAULT_RX_STAGING_BYTES: u32 = 64 * 1024;
/// Default for [`EngineConfig::rx_exact_placement_bytes`]: the software engine's DDP
/// threshold. Below it, reading a payload ahead with its header and copying it out of staging
/// costs less than a receive of its own; above it, placing it straight from the socket costs
/// less (the crossover is measured in `docs/benchmarks/2026-11-24-host-engine-batching.md`).
pub(crate) const DEFAULT_RX_EXACT_PLACEMENT_BYTES: u32 = 32 * 1024;
/// Default for [`EngineConfig::rx_wake_on_bytes`].
pub(crate) const DEFAULT_RX_WAKE_ON_BYTES: u32 = 64 * 1024;

/// Engine settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// The page-pod region.
    pub ppm: PpmConfig,
    /// The MaxRecvDataSegmentLength the initiator declares: a PDU announcing more is a
    /// protocol violation and aborts the connection before any of its data is read.
    pub max_recv_data_segment_len: u32,
    /// Byte cap of one send batch (one chain of sends); a single larger PDU still goes alone.
    pub tx_batch_bytes: u32,
    /// Staging bytes per connection: one receive may take this many bytes of the PDUs
    /// behind the one it completes (read-ahead; see the `rx` module). 0 reads exactly to the
    /// next header every time. Read-ahead is off while fixed buffers are registered.
    pub rx_staging_bytes: u32,
    /// The software DDP threshold: after a placed Data-In of at least this many bytes, the
    /// next receive stops at the next header, so a large transfer goes from the socket
    /// straight into its task buffer (the T3's DDP). Placed payloads below it are read ahead
    /// with their headers and copied from staging into the task buffer by the engine
    /// (`staged_bytes`), which saves receives when transfers are small. 0 places everything
    /// exactly.
    pub rx_exact_placement_bytes: u32,
    /// A receive that waits for at least this many payload bytes raises the socket's
    /// SO_RCVLOWAT to them first, so it is woken once, when all of them are in, instead of
    /// once per arriving segment batch (see the `rx` module). 0 never raises it.
    pub rx_wake_on_bytes: u32,
}

impl EngineConfig {
    /// Settings with the default send batch size.
    pub fn new(ppm: PpmConfig, max_recv_data_segment_len: u32) -> EngineConfig {
        EngineConfig {
            ppm,
            max_recv_data_segment_len,
            tx_batch_bytes: DEFAULT_TX_BATCH_BYTES,
            rx_staging_bytes: DEFAULT_RX_STAGING_BYTES,
            rx_exact_placement_bytes: DEFAULT_RX_EXACT_PLACEMENT_BYTES,
            rx_wake_on_bytes: DEFAULT_RX_WAKE_ON_BYTES,
        }
    }
}

/// Why [`Engine::reserve_ddp`] could not produce an ITT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ReserveError {
    /// No live connection has this TID.
    #[error("no connection with tid {tid:?}")]
    UnknownTid {
        /// The TID.
        tid: Tid,
    },
    /// The task buffer cannot take the transfer.
    #[error("task buffer: {0}")]
    TaskBuffer(#[from] TaskBufferError),
    /// The software tag does not fit a non-DDP tag.
    #[error("software tag: {0}")]
    Tag(#[from] TagError),
}

enum SlotState {
    Free,
    Live(Box<Conn>),
    /// A finished connection's last statistics, kept until the slot is reused.
    Closed {
        counters: Box<ConnCounters>,
        abort_reason: Option<AbortReason>,
    },
}

struct Slot {
    generation: u8,
    state: SlotState,
    /// Whether the slot is in the ready list.
    ready: bool,
}

/// The software offload engine of one thread.
pub struct Engine {
    config: EngineConfig,
    ppm: Ppm,
    tasks: TaskBuffers,
    slots: Vec<Slot>,
    /// Slots to reuse, oldest first so closed statistics live as long as possible.
    free_slots: VecDeque<u16>,
    /// Open attempts in progress, by active-open id.
    opening: IdMap<u32, u16>,
    /// Connections that may have SQEs to push.
    ready: VecDeque<u16>,
    completions: VecDeque<Completion>,
    stale_cqes: u64,
    /// The scatter list of the reservation being made (kept for its memory).
    sgl_scratch: Vec<SgEntry>,
    /// Whether sends may go out silent (see [`Engine::set_silent_sends`]).
    silent_sends: bool,
    /// Connections with a silent send waiting for [`Engine::settle_silent_sends`].
    silent_slots: Vec<u16>,
    /// The counters of every connection that has finished, summed.
    retired: ConnCounters,
}

// SAFETY: the engine holds raw pointers only into memory it owns or into task buffers whose
// registration contract makes the registrant responsible for them; nothing in it is tied to
// the thread that created it, and all access goes through `&mut self`.
unsafe impl Send for Engine {}

impl Engine {
    /// An engine with no connections and an empty page-pod region.
    pub fn new(config: EngineConfig) -> Result<Engine, PpmConfigError> {
        Ok(Engine {
            config,
            ppm: Ppm::new(config.ppm)?,
            tasks: TaskBuffers::default(),
            slots: Vec::new(),
            free_slots: VecDeque::new(),
            opening: IdMap::default(),
            ready: VecDeque::new(),
            completions: VecDeque::new(),
            stale_cqes: 0,
            sgl_scratch: Vec::new(),
            silent_sends: false,
            silent_slots: Vec::new(),
            retired: ConnCounters::default(),
        })
    }

    /// The page-pod manager (tags are reserved before the command that uses them is sent).
    pub fn ppm(&self) -> &Ppm {
        &self.ppm
    }

    /// The page-pod manager, to reserve and release DDP tags.
    pub fn ppm_mut(&mut self) -> &mut Ppm {
        &mut self.ppm
    }

    /// Registers `task`'s mapped I/O buffer, replacing any earlier registration.
    ///
    /// # Safety
    ///
    /// `ptr..ptr + len` must stay valid for reads and writes, and must not be accessed by
    /// anything else while engine I/O on it is in flight: from posting a TX_DATA with a task
    /// payload until its TX_DMA_ACK, and from reserving a DDP tag on it until the tag is
    /// released and no Data-In for it is being received. This is how a ublk per-tag buffer is
    /// used: the tag owns it until it is committed.
    pub unsafe fn register_task_buffer(&mut self, task: u32, ptr: *mut u8, len: usize) {
        self.tasks.insert(task, TaskBuffer::Mapped { ptr, len });
    }

    /// Registers `task`'s buffer as io_uring fixed buffer `buf_index` of the ring the engine
    /// submits to; `base` is the address io_uring expects for its first byte (0 for ublk's
    /// UBLK_F_AUTO_BUF_REG buffers). The kernel checks fixed-buffer ranges itself.
    pub fn register_fixed_task_buffer(&mut self, task: u32, buf_index: u16, base: u64, len: usize) {
        self.tasks.insert(
            task,
            TaskBuffer::Fixed {
                buf_index,
                base,
                len,
            },
        );
    }

    /// Forgets `task`'s buffer.
    pub fn unregister_task_buffer(&mut self, task: u32) -> Option<TaskBuffer> {
        self.tasks.remove(task)
    }

    /// Copies `data` to `offset` of `task`'s mapped buffer: how the initiator lands payload the
    /// engine delivered inline instead of placing it (the T3 free-list path). The range is
    /// checked against the registered buffer; a fixed buffer cannot be written from userspace.
    pub fn copy_to_task(
        &mut self,
        task: u32,
        offset: u32,
        data: &[u8],
    ) -> Result<(), TaskBufferError> {
        match self
            .tasks
            .resolve(task, u64::from(offset), data.len() as u64)?
        {
            IoTarget::Mapped(ptr) => {
                // SAFETY: `resolve` checked the range against the registered buffer, which the
                // registrant keeps valid and otherwise untouched while the task's I/O runs.
                unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr, data.len()) };
                Ok(())
            }
            IoTarget::Fixed { buf_index, .. } => {
                Err(TaskBufferError::FixedNotMapped { task, buf_index })
            }
        }
    }

    /// The ITT for a read of `xfer_len` bytes into `task`'s registered buffer on connection
    /// `tid`: a DDP tag bound to the buffer's pages when the ppm grants one, otherwise a
    /// non-DDP tag (the fallback reason is in the reservation). Either way the ITT stands for
    /// task number `itt_task` (`Ppm::reserve_itt` adds the task's generation, and the
    /// initiator maps the ITT back through its commands in flight).
    ///
    /// A fixed buffer under a data digest is refused: its bytes cannot be digested, and inline
    /// delivery could not be copied into it either.
    pub fn reserve_ddp(
        &mut self,
        tid: Tid,
        task: u32,
        itt_task: u32,
        xfer_len: u32,
    ) -> Result<IttReservation, ReserveError> {
        let data_digest = self
            .live(tid)
            .map(|conn| conn.submode().data_digest)
            .ok_or(ReserveError::UnknownTid { tid })?;
        if let TaskBuffer::Fixed { buf_index, .. } = self.tasks.get(task)? {
            if data_digest {
                return Err(TaskBufferError::FixedWithDataDigest { task, buf_index }.into());
            }
        }
        let page_size = self.ppm.ddp_page_size().unwrap_or(PageSize::Size4K);
        self.tasks
            .sgl_into(task, xfer_len, page_size, &mut self.sgl_scratch)?;
        let request = DdpRequest {
            buffer: BufferId(task),
            tid,
            xfer_len,
            sgl: &self.sgl_scratch,
        };
        Ok(self.ppm.reserve_itt(itt_task, Some(&request))?)
    }

    /// Takes a work request. Errors are synchronous and leave nothing queued; everything else
    /// is answered through [`poll_completion`](Self::poll_completion).
    pub fn post(&mut self, request: WorkRequest) -> Result<(), PostError> {
        let slot = match request {
            WorkRequest::ActOpen { atid, peer, local } => return self.open(atid, peer, local),
            WorkRequest::TxData(tx) => {
                let (slot, conn) = Self::live_mut(&mut self.slots, tx.tid())?;
                conn.queue_tx(tx, &self.tasks)?;
                slot
            }
            WorkRequest::SetTcbField(field) => {
                let (slot, conn) = Self::live_mut(&mut self.slots, field.tid)?;
                conn.set_tcb_field(&field)?;
                slot
            }
            WorkRequest::RxDataAck { tid, .. } => {
                Self::live_mut(&mut self.slots, tid)?;
                return Ok(());
            }
            WorkRequest::CloseCon { tid } => {
                let (slot, conn) = Self::live_mut(&mut self.slots, tid)?;
                conn.close()?;
                slot
            }
            WorkRequest::AbortReq { tid } => {
                if self.closed(tid) {
                    // Already gone (e.g. aborted by the engine): the abort is trivially done.
                    self.completions.push_back(Completion::AbortRpl { tid });
                    return Ok(());
                }
                let (slot, conn) = Self::live_mut(&mut self.slots, tid)?;
                conn.abort()?;
                slot
            }
        };
        self.after_event(slot);
        Ok(())
    }

    /// Whether a completion is waiting to be polled.
    pub fn has_completions(&self) -> bool {
        !self.completions.is_empty()
    }

    /// The oldest undelivered completion.
    pub fn poll_completion(&mut self) -> Option<Completion> {
        self.completions.pop_front()
    }

    /// Pushes every SQE the engine wants now. On [`SqFull`] the rest stays pending: submit
    /// and call again. Returns how many connections were served.
    pub fn flush(&mut self, sub: &mut dyn Submitter) -> Result<usize, SqFull> {
        let env = ConnEnv {
            ppm: &self.ppm,
            tasks: &self.tasks,
            max_data_segment_len: self.config.max_recv_data_segment_len,
            tx_batch_bytes: u64::from(self.config.tx_batch_bytes),
            rx_staging_bytes: self.config.rx_staging_bytes as usize,
            rx_exact_placement_bytes: self.config.rx_exact_placement_bytes,
            rx_wake_on_bytes: self.config.rx_wake_on_bytes,
            silent_sends: self.silent_sends,
        };
        let mut served = 0;
        while let Some(&slot) = self.ready.front() {
            if let Some(entry) = self.slots.get_mut(usize::from(slot)) {
                if let SlotState::Live(conn) = &mut entry.state {
                    let had_silent = conn.has_silent_send();
                    let emitted = conn.emit(sub, &env);
                    if !had_silent && conn.has_silent_send() {
                        self.silent_slots.push(slot);
                    }
                    emitted?;
                    served += 1;
                }
                entry.ready = false;
            }
            self.ready.pop_front();
        }
        Ok(served)
    }

    /// Lets sends go out *silent*: a connection whose whole send batch is one SENDMSG pushes
    /// it with MSG_DONTWAIT and IOSQE_CQE_SKIP_SUCCESS, so it is finished when the
    /// io_uring_enter that submits it returns and posts a CQE only if it fell short. A send's
    /// CQE would otherwise end the owner's wait at once and cost a second enter to wait for
    /// the reply.
    ///
    /// The ring owner that turns this on must call
    /// [`settle_silent_sends`](Self::settle_silent_sends) after every io_uring_enter that
    /// submitted the engine's SQEs, once it has routed the CQEs that enter left (a submit
    /// always runs a DONTWAIT send to its end). Off by default.
    pub fn set_silent_sends(&mut self, on: bool) {
        self.silent_sends = on;
    }

    /// Completes the silent sends submitted so far whose CQE did not come: they sent
    /// everything. See [`set_silent_sends`](Self::set_silent_sends).
    pub fn settle_silent_sends(&mut self) {
        while let Some(slot) = self.silent_slots.pop() {
            if let Some(Slot {
                state: SlotState::Live(conn),
                ..
            }) = self.slots.get_mut(usize::from(slot))
            {
                conn.settle_silent_send(&mut self.completions);
                self.after_event(slot);
            }
        }
    }

    /// Routes back one CQE of an SQE the engine pushed. Tokens the engine did not issue, or of
    /// connections that are gone, are counted and ignored.
    pub fn on_cqe(&mut self, token: u64, result: i32, flags: u32) {
        let Some((key, op)) = decode_token(token) else {
            self.stale_cqes += 1;
            return;
        };
        let env = ConnEnv {
            ppm: &self.ppm,
            tasks: &self.tasks,
            max_data_segment_len: self.config.max_recv_data_segment_len,
            tx_batch_bytes: u64::from(self.config.tx_batch_bytes),
            rx_staging_bytes: self.config.rx_staging_bytes as usize,
            rx_exact_placement_bytes: self.config.rx_exact_placement_bytes,
            rx_wake_on_bytes: self.config.rx_wake_on_bytes,
            silent_sends: self.silent_sends,
        };
        let Some(Slot {
            generation,
            state: SlotState::Live(conn),
            ..
        }) = self.slots.get_mut(usize::from(key.slot))
        else {
            self.stale_cqes += 1;
            return;
        };
        if *generation != key.generation {
            self.stale_cqes += 1;
            return;
        }
        conn.on_cqe(op, result, flags, &env, &mut self.completions);
        self.after_event(key.slot);
    }

    /// SQEs pushed whose completion has not been routed back (for drivers draining the engine).
    pub fn ops_in_flight(&self) -> usize {
        self.live_conns().map(Conn::ops_in_flight).sum()
    }

    /// Aborts every connection without reporting (for shutting the engine down). Drive it
    /// until [`ops_in_flight`](Self::ops_in_flight) is 0 before dropping it.
    pub fn shut_down(&mut self) {
        for index in 0..self.slots.len() {
            if let SlotState::Live(conn) = &mut self.slots[index].state {
                conn.shut_down();
                self.after_event(index as u16);
            }
        }
    }

    /// Whether the engine is done with `tid`: no operation of it is in flight any more, so
    /// nothing can still write a buffer one of its tasks was bound to.
    pub fn conn_settled(&self, tid: Tid) -> bool {
        !matches!(
            self.slot_of(tid),
            Some(Slot {
                state: SlotState::Live(_),
                ..
            })
        )
    }

    /// Statistics of a live or recently closed connection.
    pub fn conn_counters(&self, tid: Tid) -> Option<ConnCounters> {
        match &self.slot_of(tid)?.state {
            SlotState::Live(conn) => Some(conn.counters()),
            SlotState::Closed { counters, .. } => Some(**counters),
            SlotState::Free => None,
        }
    }

    /// The counters of every connection the engine has had, finished or live, summed: what
    /// the engine has done over its life.
    pub fn counter_totals(&self) -> ConnCounters {
        let mut totals = self.retired;
        for conn in self.live_conns() {
            totals.add(&conn.counters());
        }
        totals
    }

    /// Why the engine aborted a live or recently closed connection, if it did.
    pub fn abort_reason(&self, tid: Tid) -> Option<AbortReason> {
        match &self.slot_of(tid)?.state {
            SlotState::Live(conn) => conn.abort_reason(),
            SlotState::Closed { abort_reason, .. } => *abort_reason,
            SlotState::Free => None,
        }
    }

    /// The connection's local address (as the host stack shows it).
    pub fn local_addr(&self, tid: Tid) -> Option<SocketAddr> {
        self.live(tid).and_then(Conn::local_addr)
    }

    /// The connection's peer address.
    pub fn peer_addr(&self, tid: Tid) -> Option<SocketAddr> {
        self.live(tid).and_then(Conn::peer_addr)
    }

    /// CQEs that named no live connection (late CQEs of closed connections, foreign tokens).
    pub fn stale_cqes(&self) -> u64 {
        self.stale_cqes
    }

    fn open(
        &mut self,
        atid: u32,
        peer: SocketAddr,
        local: Option<SocketAddr>,
    ) -> Result<(), PostError> {
        if self.opening.contains_key(&atid) {
            return Err(PostError::DuplicateAtid { atid });
        }
        let slot = self.allocate_slot()?;
        let fd = match socket::open_tcp(peer, local) {
            Ok(fd) => fd,
            Err(errno) => {
                self.release_slot(slot, None);
                self.completions.push_back(Completion::ActOpenRpl {
                    atid,
                    status: crate::cpl::CplStatus::from_connect_errno(errno as i32),
                });
                return Ok(());
            }
        };
        let entry = &mut self.slots[usize::from(slot)];
        let key = ConnKey {
            slot,
            generation: entry.generation,
        };
        entry.state = SlotState::Live(Box::new(Conn::new(key, atid, fd, peer)));
        self.opening.insert(atid, slot);
        self.after_event(slot);
        Ok(())
    }

    fn allocate_slot(&mut self) -> Result<u16, PostError> {
        if let Some(slot) = self.free_slots.pop_front() {
            let entry = &mut self.slots[usize::from(slot)];
            entry.generation = entry.generation.wrapping_add(1);
            entry.state = SlotState::Free;
            return Ok(slot);
        }
        if self.slots.len() >= MAX_CONNECTIONS {
            return Err(PostError::TooManyConnections {
                max: MAX_CONNECTIONS,
            });
        }
        self.slots.push(Slot {
            generation: 0,
            state: SlotState::Free,
            ready: false,
        });
        Ok((self.slots.len() - 1) as u16)
    }

    /// Frees a slot; a connection that existed leaves its statistics behind.
    fn release_slot(&mut self, slot: u16, conn: Option<&Conn>) {
        self.slots[usize::from(slot)].state = match conn {
            Some(conn) => SlotState::Closed {
                counters: Box::new(conn.counters()),
                abort_reason: conn.abort_reason(),
            },
            None => SlotState::Free,
        };
        self.free_slots.push_back(slot);
    }

    /// Settles a connection after a request or CQE: reports and frees it if it finished,
    /// otherwise queues it for the next flush.
    fn after_event(&mut self, slot: u16) {
        let Some(Slot {
            state: SlotState::Live(conn),
            ..
        }) = self.slots.get(usize::from(slot))
        else {
            return;
        };
        let (tid, atid, connecting) = (conn.tid(), conn.atid(), conn.is_connecting());
        match conn.fate() {
            ConnFate::Live => {
                if !connecting && !self.opening.is_empty() {
                    self.opening.remove(&atid);
                }
                self.mark_ready(slot);
            }
            ConnFate::OpenFailed(status) => {
                self.opening.remove(&atid);
                self.take_conn(slot, false);
                self.completions
                    .push_back(Completion::ActOpenRpl { atid, status });
            }
            ConnFate::Finished(then) => {
                self.opening.remove(&atid);
                self.take_conn(slot, true);
                if let Some(completion) = then.completion(tid) {
                    self.completions.push_back(completion);
                }
            }
        }
    }

    fn mark_ready(&mut self, slot: u16) {
        let entry = &mut self.slots[usize::from(slot)];
        if !entry.ready {
            entry.ready = true;
            self.ready.push_back(slot);
        }
    }

    /// Removes a connection from its slot and closes its socket.
    fn take_conn(&mut self, slot: u16, keep_statistics: bool) {
        let state = std::mem::replace(&mut self.slots[usize::from(slot)].state, SlotState::Free);
        if let SlotState::Live(conn) = state {
            self.retired.add(&conn.counters());
            self.release_slot(slot, keep_statistics.then_some(&*conn));
            // Dropping the connection closes the socket (FIN, or RST after SO_LINGER 0).
            drop(conn);
        }
    }

    fn slot_of(&self, tid: Tid) -> Option<&Slot> {
        let key = ConnKey::from_tid(tid)?;
        self.slots
            .get(usize::from(key.slot))
            .filter(|slot| slot.generation == key.generation)
    }

    fn live(&self, tid: Tid) -> Option<&Conn> {
        match &self.slot_of(tid)?.state {
            SlotState::Live(conn) if !conn.is_connecting() => Some(conn),
            _ => None,
        }
    }

    fn closed(&self, tid: Tid) -> bool {
        matches!(
            self.slot_of(tid),
            Some(Slot {
                state: SlotState::Closed { .. },
                ..
            })
        )
    }

    fn live_mut(slots: &mut [Slot], tid: Tid) -> Result<(u16, &mut Conn), PostError> {
        let unknown = PostError::UnknownTid { tid };
        let key = ConnKey::from_tid(tid).ok_or(unknown)?;
        match slots.get_mut(usize::from(key.slot)) {
            Some(Slot {
                generation,
                state: SlotState::Live(conn),
                ..
            }) if *generation == key.generation && !conn.is_connecting() => Ok((key.slot, conn)),
            _ => Err(unknown),
        }
    }

    fn live_conns(&self) -> impl Iterator<Item = &Conn> {
        self.slots.iter().filter_map(|slot| match &slot.state {
            SlotState::Live(conn) => Some(&**conn),
            _ => None,
        })
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for slot in &mut self.slots {
            if let SlotState::Live(conn) = std::mem::replace(&mut slot.state, SlotState::Free) {
                if conn.ops_in_flight() > 0 {
                    // The kernel may still write into this connection's buffers.
                    tracing::warn!(tid = ?conn.tid(), "engine dropped with I/O in flight; leaking its buffers");
                    std::mem::forget(conn);
                }
            }
        }
    }
}
