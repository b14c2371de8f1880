//! One queue's loop: ublk commands, the iSCSI session and its socket on one io_uring.
//!
//! Each turn of the loop is one `io_uring_enter`: libublk's `flush_and_wake_io_tasks` submits
//! whatever is queued (COMMIT_AND_FETCH of finished tags and the engine's socket operations,
//! pushed just before) and waits for at least one CQE. The CQEs of the batch are then routed:
//! new requests become SCSI commands (planned, submitted to the session, which queues them
//! behind the CmdSN window), engine CQEs go to the engine, and the engine's completions go to
//! the connection, whose finished tasks are committed. A one-second tick drives keepalive,
//! login timeouts and reconnects.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use iscsi_proto::session::{Direction, Event};
use iscsi_proto::url::IscsiUrl;
use libublk::helpers::IoBuf;
use libublk::io::{BufDesc, UblkQueue};
use libublk::{sys, UblkError, UblkIORes};
use rand::rngs::StdRng;
use rand::SeedableRng;
use t3_hw::initiator::{AlignedBuf, ConnError, ConnEvent, IscsiConn};
use t3_hw::{pods_for, Completion, Engine, EngineConfig, PageSize, PpmConfig, WorkRequest};

use super::fixed_bufs::FixedBufs;
use super::link::{self, Link};
use super::ring::{flush_engine, wait_and_reap, Tick};
use super::tags::{Pending, Tags};
use crate::login::{login_config, may_negotiate_data_digest, MAX_RECV_DATA_SEGMENT_LENGTH};
use crate::ops::{self, BlockRequest, Capabilities, Geometry, PlanBuffer, PlanKind};
use crate::outcome::{self, Verdict, MAX_RETRIES};
use crate::user_data::{self, CqeOwner};

const EIO: i32 = -5;
const ENOLINK: i32 = -67;
const TICK: Duration = Duration::from_secs(1);
/// How long a clean logout may take at shutdown.
const LOGOUT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the engine may take to finish its operations at shutdown.
const ENGINE_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Bumped (by SIGUSR1) to ask every queue to log its counters at its next tick.
pub static STATS_REQUESTS: AtomicU64 = AtomicU64::new(0);
/// Set when the daemon is asked to stop (SIGTERM): held requests fail instead of waiting
/// for a session that may never come back.
pub static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// What every queue of a device serves: the same LU, over its own session.
#[derive(Debug)]
pub struct QueueTarget {
    pub url: IscsiUrl,
    pub peer: SocketAddr,
    pub initiator_name: String,
    /// The LUN in its 8-byte wire form.
    pub lun: u64,
    pub geometry: Geometry,
    pub caps: Capabilities,
    /// Requests' pages are the kernel's, registered at index = tag (UBLK_F_AUTO_BUF_REG).
    pub zero_copy: bool,
}

/// Per-queue counters.
#[derive(Debug, Default, Clone, Copy)]
pub struct QueueStats {
    pub reads: u64,
    pub writes: u64,
    pub flushes: u64,
    pub discards: u64,
    pub write_zeroes: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub failed: u64,
    pub retries: u64,
    pub reconnects: u64,
}

/// A queue loop could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("offload engine: {0}")]
    Engine(#[from] t3_hw::ppm::PpmConfigError),
}

pub(super) struct QueueLoop {
    qid: u16,
    target: Arc<QueueTarget>,
    engine: Engine,
    link: Link,
    tags: Tags,
    /// Copy mode: `io_bufs` registered as the ring's fixed buffers, when they could be.
    /// Declared before `io_bufs`, so unregistered before they are freed.
    fixed_bufs: Option<FixedBufs>,
    /// Copy mode: libublk's per-tag buffers, registered as the tags' task buffers. Empty in
    /// zero-copy mode. Declared after `engine`, so dropped after it.
    io_bufs: Vec<IoBuf<u8>>,
    aux: Vec<AlignedBuf>,
    rng: StdRng,
    next_atid: u32,
    cqes: Vec<(u64, i32, u32)>,
    tick: Tick,
    /// No reconnects: the loop is shutting down.
    shutting_down: bool,
    /// While the session is down past the replacement timeout, requests fail at once.
    fail_fast: bool,
    outage_since: Option<Instant>,
    reconnect_attempts: u32,
    last_error: Option<String>,
    stats_seen: u64,
    stats: QueueStats,
}

/// The largest pod region a queue sets up (1 byte of color and 1 bit of bitmap per pod).
const MAX_PAGE_PODS: u64 = 1 << 20;

/// Page pods for `depth` reads of up to `io_buf_bytes` each, twice over so allocation never
/// fails for fragmentation.
fn page_pods_wanted(depth: u16, io_buf_bytes: u32) -> u64 {
    // One pod more per read for a buffer that starts inside a page.
    let per_read = pods_for(io_buf_bytes, 0, PageSize::Size4K) + 1;
    per_read.saturating_mul(u64::from(depth)).saturating_mul(2)
}

/// The pod region of a queue: every read gets DDP up to [`MAX_PAGE_PODS`]; beyond that (deep
/// queues of very large buffers) a read that finds no free pods takes the non-DDP path and
/// its payload is copied.
fn page_pods_needed(depth: u16, io_buf_bytes: u32) -> u32 {
    page_pods_wanted(depth, io_buf_bytes).clamp(u64::from(t3_hw::DDP_MIN_PPMAX), MAX_PAGE_PODS)
        as u32
}

/// Whether every read of a queue can have DDP at once, which zero copy depends on: the
/// request's pages are not mapped in userspace, so a non-DDP read could not be copied there.
pub fn every_read_gets_ddp(depth: u16, io_buf_bytes: u32) -> bool {
    page_pods_wanted(depth, io_buf_bytes) <= MAX_PAGE_PODS
}

/// Registers copy mode's buffers as the ring's fixed buffers where the engine can use them
/// that way (see [`super::fixed_bufs`]); `None` leaves them mapped task buffers.
fn register_copy_bufs(
    qid: u16,
    depth: u16,
    io_buf_bytes: u32,
    target: &QueueTarget,
    io_bufs: &mut [IoBuf<u8>],
) -> Option<FixedBufs> {
    if may_negotiate_data_digest(&target.url) || !every_read_gets_ddp(depth, io_buf_bytes) {
        return None;
    }
    // SAFETY: the buffers live in `QueueLoop::io_bufs`, freed after `QueueLoop::fixed_bufs`.
    match unsafe { FixedBufs::register(io_bufs) } {
        Ok(registered) => Some(registered),
        Err(error) => {
            tracing::info!(queue = qid, %error, "copy buffers not registered with io_uring: payload moves with plain receives and sends");
            None
        }
    }
}

impl QueueLoop {
    /// A loop for queue `qid` of `depth` tags. `io_bufs` are the tags' buffers in copy mode
    /// (empty in zero-copy mode); `io_buf_bytes` is the size of each.
    pub fn new(
        qid: u16,
        depth: u16,
        io_buf_bytes: u32,
        target: Arc<QueueTarget>,
        mut io_bufs: Vec<IoBuf<u8>>,
    ) -> Result<QueueLoop, SetupError> {
        let mut ppm = PpmConfig::new(page_pods_needed(depth, io_buf_bytes), 4096);
        // Every read must be placed directly in zero-copy mode: the bytes cannot be copied.
        ppm.ddp_threshold = 1;
        let mut engine = Engine::new(EngineConfig::new(ppm, MAX_RECV_DATA_SEGMENT_LENGTH))?;
        let tags = Tags::new(depth);
        let mut fixed_bufs = None;
        if target.zero_copy {
            io_bufs.clear();
            for tag in 0..depth {
                engine.register_fixed_task_buffer(
                    Tags::own_task(tag),
                    tag,
                    0,
                    io_buf_bytes as usize,
                );
            }
        } else if let Some(registered) =
            register_copy_bufs(qid, depth, io_buf_bytes, &target, &mut io_bufs)
        {
            fixed_bufs = Some(registered);
            for (tag, buf) in (0..depth).zip(io_bufs.iter_mut()) {
                let base = buf.as_mut_ptr() as u64;
                engine.register_fixed_task_buffer(Tags::own_task(tag), tag, base, buf.len());
                // SAFETY: as for the mapped task buffers below; a tag is a read or a write,
                // so the two tasks never have I/O in flight on the buffer at once.
                unsafe {
                    engine.register_task_buffer(tags.send_task(tag), buf.as_mut_ptr(), buf.len())
                };
            }
        } else {
            for (tag, buf) in (0..depth).zip(io_bufs.iter_mut()) {
                // SAFETY: the buffer lives in `self.io_bufs`, dropped after the engine, and
                // only the engine touches it while the tag's task is in flight (the kernel
                // copies into it only while the tag is back in its hands).
                unsafe {
                    engine.register_task_buffer(Tags::own_task(tag), buf.as_mut_ptr(), buf.len())
                };
            }
        }
        let aux_len = target.geometry.block_size as usize;
        let aux: Vec<AlignedBuf> = (0..depth)
            .map(|tag| {
                let mut buffer = AlignedBuf::new(aux_len);
                // SAFETY: as above; the aux buffer is written only before its task is
                // submitted, never while it is in flight.
                unsafe {
                    engine.register_task_buffer(
                        tags.aux_task(tag),
                        buffer.as_mut_slice().as_mut_ptr(),
                        aux_len,
                    )
                };
                buffer
            })
            .collect();
        Ok(QueueLoop {
            qid,
            target,
            engine,
            link: Link::Down,
            tags,
            fixed_bufs,
            io_bufs,
            aux,
            rng: StdRng::from_entropy(),
            next_atid: 1,
            cqes: Vec::with_capacity(usize::from(depth) * 2),
            tick: Tick::new(TICK),
            shutting_down: false,
            fail_fast: false,
            outage_since: None,
            reconnect_attempts: 0,
            last_error: None,
            stats_seen: STATS_REQUESTS.load(Ordering::Relaxed),
            stats: QueueStats::default(),
        })
    }

    /// Logs in before any request is fetched. Fails (without retrying) with the reason the
    /// login did not succeed.
    pub fn log_in(&mut self, queue: &UblkQueue) -> Result<(), String> {
        let deadline = Instant::now() + link::LOGIN_TIMEOUT;
        self.start_connect(Instant::now());
        loop {
            match &self.link {
                Link::Up { .. } => return Ok(()),
                Link::Connecting { .. } => {}
                _ => {
                    return Err(self
                        .last_error
                        .clone()
                        .unwrap_or_else(|| "the login did not complete".into()))
                }
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                self.declare_dead(queue, "the login timed out".into());
                continue;
            };
            if let Err(error) = self.pump_without_queue(queue, left) {
                return Err(format!("queue ring: {error}"));
            }
        }
    }

    /// Serves requests until the kernel takes the queue down.
    pub fn serve(&mut self, queue: &UblkQueue) {
        if let Err(error) = self.tick.arm() {
            tracing::error!(queue = self.qid, %error, "cannot arm the queue timer");
            return;
        }
        loop {
            if let Err(error) = flush_engine(&mut self.engine) {
                tracing::error!(queue = self.qid, %error, "cannot queue socket operations");
            }
            let cqes = &mut self.cqes;
            let result = queue.flush_and_wake_io_tasks(
                |user_data, cqe, _last| cqes.push((user_data, cqe.result(), cqe.flags())),
                1,
            );
            self.process_cqes(queue, true);
            self.after_batch(queue);
            match result {
                Ok(_) => {}
                Err(UblkError::QueueIsDown) => break,
                Err(error) => {
                    tracing::error!(queue = self.qid, ?error, "queue ring failed");
                    break;
                }
            }
        }
        tracing::debug!(queue = self.qid, "queue is down");
    }

    /// Logs out (or drops a connection that is not up) and lets the engine finish.
    pub fn shut_down(&mut self, queue: &UblkQueue) {
        self.shutting_down = true;
        let now = Instant::now();
        match std::mem::replace(&mut self.link, Link::Down) {
            Link::Up { mut conn, .. } => match conn.logout(&mut self.engine) {
                Ok(()) => {
                    self.link = Link::LoggingOut {
                        conn,
                        deadline: now + LOGOUT_TIMEOUT,
                    };
                }
                Err(error) => {
                    tracing::warn!(queue = self.qid, %error, "cannot log out; dropping the connection");
                    conn.abort(&mut self.engine);
                }
            },
            Link::Connecting { mut conn, .. } => conn.abort(&mut self.engine),
            other => self.link = other,
        }
        let deadline = now + LOGOUT_TIMEOUT + link::DRAIN_TIMEOUT;
        while !matches!(self.link, Link::Down | Link::Waiting { .. }) {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            if self.pump_without_queue(queue, left).is_err() {
                break;
            }
        }
        self.log_stats("final");
        self.engine.shut_down();
        let deadline = Instant::now() + ENGINE_DRAIN_TIMEOUT;
        while self.engine.ops_in_flight() > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                tracing::warn!(
                    queue = self.qid,
                    ops = self.engine.ops_in_flight(),
                    "engine operations still in flight at exit"
                );
                break;
            };
            if self.pump_without_queue(queue, left).is_err() {
                break;
            }
        }
        let held = self.tags.held_count();
        if held > 0 {
            tracing::warn!(queue = self.qid, held, "requests never served");
        }
    }

    pub fn stats(&self) -> QueueStats {
        self.stats
    }

    /// The tags' buffers in copy mode, for FETCH.
    pub fn io_bufs(&self) -> &Vec<IoBuf<u8>> {
        &self.io_bufs
    }

    /// One wait on the ring while no ublk command is in it (before FETCH, after the queue is
    /// down), reaping the CQEs ourselves.
    fn pump_without_queue(&mut self, queue: &UblkQueue, limit: Duration) -> io::Result<()> {
        flush_engine(&mut self.engine)?;
        wait_and_reap(limit.min(TICK), &mut self.cqes)?;
        self.process_cqes(queue, false);
        self.after_batch(queue);
        Ok(())
    }

    fn process_cqes(&mut self, queue: &UblkQueue, serving: bool) {
        let mut cqes = std::mem::take(&mut self.cqes);
        for &(data, result, flags) in &cqes {
            match user_data::owner(data) {
                CqeOwner::UblkCommand { tag } => self.on_ublk_command(queue, tag, result),
                CqeOwner::Engine { token } => self.engine.on_cqe(token, result, flags),
                CqeOwner::Tick => {
                    self.on_tick();
                    if serving {
                        if let Err(error) = self.tick.arm() {
                            tracing::error!(queue = self.qid, %error, "cannot re-arm the queue timer");
                        }
                    }
                }
                CqeOwner::Foreign => {
                    tracing::debug!(queue = self.qid, data, result, "CQE of unknown origin")
                }
            }
        }
        cqes.clear();
        self.cqes = cqes;
    }

    fn on_tick(&mut self) {
        let requested = STATS_REQUESTS.load(Ordering::Relaxed);
        if requested != self.stats_seen {
            self.stats_seen = requested;
            self.log_stats("requested");
        }
    }

    fn log_stats(&self, when: &str) {
        let s = self.stats;
        tracing::info!(
            queue = self.qid,
            when,
            reads = s.reads,
            writes = s.writes,
            flushes = s.flushes,
            discards = s.discards,
            write_zeroes = s.write_zeroes,
            bytes_read = s.bytes_read,
            bytes_written = s.bytes_written,
            failed = s.failed,
            retries = s.retries,
            reconnects = s.reconnects,
            "queue counters"
        );
        match &self.link {
            Link::Up { conn, .. } | Link::LoggingOut { conn, .. } | Link::Draining { conn, .. } => {
                self.log_conn_counters(conn, when)
            }
            _ => {}
        }
    }

    /// The engine's and the initiator's counters of one connection: payload bytes placed
    /// directly versus copied into task buffers (inline bytes are login text and sense data),
    /// and which socket operations moved them.
    fn log_conn_counters(&self, conn: &IscsiConn, when: &str) {
        let initiator = conn.stats();
        let Some(c) = conn.tid().and_then(|tid| self.engine.conn_counters(tid)) else {
            return;
        };
        tracing::info!(
            queue = self.qid,
            when,
            zero_copy = self.target.zero_copy,
            fixed_copy_bufs = self.fixed_bufs.is_some(),
            pdus_tx = c.pdus_tx,
            pdus_rx = c.pdus_rx,
            bytes_tx = c.bytes_tx,
            bytes_rx = c.bytes_rx,
            ddp_bytes = c.ddp_bytes,
            payload_copied_bytes = initiator.copied_bytes,
            inline_bytes = c.copied_bytes,
            reads_ddp = initiator.reads_ddp,
            reads_not_ddp = initiator.reads_not_ddp,
            sendmsg_calls = c.sendmsg_calls,
            write_fixed_calls = c.write_fixed_calls,
            recv_calls = c.recv_calls,
            read_fixed_calls = c.read_fixed_calls,
            tx_chains = c.tx_chains,
            rx_chains = c.rx_chains,
            short_transfers = c.short_transfers,
            lowat_raises = c.lowat_raises,
            corked_chains = c.corked_chains,
            ddp_errors = c.ddp_errors.total(),
            "connection counters"
        );
        if let Some(session) = conn.session() {
            let st = session.stats();
            tracing::info!(
                queue = self.qid,
                when,
                commands_sent = st.commands_sent,
                commands_completed = st.commands_completed,
                window_room = session.window_room(),
                window_stalls = st.window_stalls,
                data_out_pdus = st.data_out_pdus,
                data_in_pdus = st.data_in_pdus,
                r2ts = st.r2ts,
                "session counters"
            );
        }
    }

    fn on_ublk_command(&mut self, queue: &UblkQueue, tag: u16, result: i32) {
        if tag >= self.tags.depth() {
            tracing::warn!(
                queue = self.qid,
                tag,
                "ublk command for a tag beyond the depth"
            );
            return;
        }
        if result == sys::UBLK_IO_RES_OK as i32 {
            self.on_request(queue, tag);
        } else if result == sys::UBLK_IO_RES_ABORT {
            // The queue is going down; libublk counts these and ends `serve`.
            self.tags.mark_idle(tag);
        } else {
            tracing::warn!(
                queue = self.qid,
                tag,
                result,
                "unexpected ublk command result"
            );
        }
    }

    fn on_request(&mut self, queue: &UblkQueue, tag: u16) {
        let request = BlockRequest::from_iod(queue.get_iod(tag));
        if self.target.zero_copy && request.flags & sys::UBLK_IO_F_NEED_REG_BUF != 0 {
            // Registration is automatic and has no fallback flag set: this never happens.
            tracing::error!(queue = self.qid, tag, "request pages were not registered");
            self.commit(queue, tag, EIO);
            return;
        }
        match ops::plan(&request, &self.target.geometry, &self.target.caps) {
            Ok(plan) => {
                let pending = Pending { plan, retries: 0 };
                if self.link.is_up() {
                    self.submit(queue, tag, pending);
                } else if self.fail_fast {
                    self.commit(queue, tag, ENOLINK);
                } else {
                    self.tags.hold(tag, pending);
                }
            }
            Err(error) => {
                tracing::debug!(queue = self.qid, tag, ?request, %error, "request refused");
                self.commit(queue, tag, error.errno());
            }
        }
    }

    fn submit(&mut self, queue: &UblkQueue, tag: u16, pending: Pending) {
        let task = match &pending.plan.buffer {
            PlanBuffer::Aux(data) => {
                let Some(buffer) = self.aux.get_mut(usize::from(tag)) else {
                    self.commit(queue, tag, EIO);
                    return;
                };
                if data.fill(buffer.as_mut_slice()).is_none() {
                    tracing::error!(
                        queue = self.qid,
                        tag,
                        len = data.len(),
                        "auxiliary data does not fit"
                    );
                    self.commit(queue, tag, EIO);
                    return;
                }
                self.tags.aux_task(tag)
            }
            // Writes from a fixed copy buffer go out as mapped memory: one SENDMSG with the
            // header instead of a WRITE_FIXED with corking around it (VM, 4 KiB randwrite
            // QD32: 2,006-2,052 IOPS as WRITE_FIXED, 2,227-2,485 as SENDMSG).
            PlanBuffer::Tag
                if self.fixed_bufs.is_some() && pending.plan.direction == Direction::Write =>
            {
                self.tags.send_task(tag)
            }
            PlanBuffer::Tag | PlanBuffer::None => Tags::own_task(tag),
        };
        let Link::Up { conn, .. } = &mut self.link else {
            self.tags.hold(tag, pending);
            return;
        };
        let plan = &pending.plan;
        let submitted = conn.submit(
            &mut self.engine,
            task,
            self.target.lun,
            &plan.cdb,
            plan.direction,
            plan.data_len,
        );
        match submitted {
            Ok(()) => self.tags.set_in_flight(tag, pending),
            Err(ConnError::NotLoggedIn) => self.tags.hold(tag, pending),
            // The session took the command but its PDUs could not be queued on the
            // connection: the command is the session's now, so the connection is dropped and
            // recovery reissues it with the others.
            Err(error @ (ConnError::Post(_) | ConnError::Pdu(_) | ConnError::WorkRequest(_))) => {
                self.tags.set_in_flight(tag, pending);
                self.declare_dead(queue, format!("cannot queue a PDU: {error}"));
            }
            // Refused before the session took it (no ITT, or the session said no).
            Err(error) => {
                tracing::error!(queue = self.qid, tag, %error, "cannot submit");
                self.stats.failed += 1;
                self.commit(queue, tag, EIO);
            }
        }
    }

    fn commit(&mut self, queue: &UblkQueue, tag: u16, result: i32) {
        self.tags.mark_idle(tag);
        let desc = if self.target.zero_copy {
            BufDesc::AutoReg(auto_buf_reg(tag))
        } else {
            match self.io_bufs.get(usize::from(tag)) {
                Some(buf) => BufDesc::Slice(buf.as_slice()),
                None => return,
            }
        };
        if let Err(error) = queue.complete_io_cmd_unified(tag, desc, Ok(UblkIORes::Result(result)))
        {
            tracing::error!(queue = self.qid, tag, ?error, "cannot commit");
        }
    }

    /// Routes the engine's completions, then moves the session along in time.
    fn after_batch(&mut self, queue: &UblkQueue) {
        while let Some(completion) = self.engine.poll_completion() {
            self.on_completion(queue, completion);
        }
        self.poll_link(queue, Instant::now());
    }

    fn on_completion(&mut self, queue: &UblkQueue, completion: Completion) {
        if let Link::Draining { tid, .. } = &self.link {
            let ends_it = matches!(
                completion,
                Completion::Abort { tid: t, .. } | Completion::AbortRpl { tid: t }
                    | Completion::CloseConRpl { tid: t } if Some(t) == *tid
            );
            if ends_it {
                self.finish_drain(queue);
            }
            return;
        }
        let Some(conn) = self.link.conn_mut() else {
            self.reap_orphan(&completion);
            return;
        };
        if !conn.owns(&completion) {
            self.reap_orphan(&completion);
            return;
        }
        // Only a PDU from the target proves it alive (our own sends complete too).
        let received = matches!(completion, Completion::IscsiHdr(_));
        conn.handle(&mut self.engine, completion, &mut self.rng);
        let mut events = Vec::new();
        while let Some(event) = conn.poll_event() {
            events.push(event);
        }
        if let (true, Link::Up { last_rx, .. }) = (received, &mut self.link) {
            *last_rx = Instant::now();
        }
        for event in events {
            self.on_conn_event(queue, event);
        }
    }

    /// A connection that completed its open after we gave up on it is closed at once.
    fn reap_orphan(&mut self, completion: &Completion) {
        if let Completion::ActEstablish { tid, .. } = completion {
            let _ = self.engine.post(WorkRequest::AbortReq { tid: *tid });
        }
        tracing::trace!(
            queue = self.qid,
            ?completion,
            "completion for no live connection"
        );
    }

    fn on_conn_event(&mut self, queue: &UblkQueue, event: ConnEvent) {
        match event {
            ConnEvent::LoggedIn => self.on_logged_in(queue),
            ConnEvent::TaskDone { task, outcome, .. } => self.on_task_done(queue, task, outcome),
            ConnEvent::Session(Event::PingReply { .. }) => {
                if let Link::Up { ping_sent, .. } = &mut self.link {
                    *ping_sent = None;
                }
            }
            ConnEvent::Session(Event::LogoutRequested { within_secs }) => {
                tracing::warn!(
                    queue = self.qid,
                    within_secs,
                    "the target asks us to log out; it will drop the session"
                );
            }
            ConnEvent::Session(Event::TargetWillDrop { time2wait, .. }) => {
                tracing::warn!(
                    queue = self.qid,
                    time2wait,
                    "the target will drop the connection"
                );
            }
            ConnEvent::Session(Event::ScsiAsyncEvent { lun, sense }) => {
                tracing::info!(queue = self.qid, lun, ?sense, "SCSI asynchronous event");
            }
            ConnEvent::Session(other) => {
                tracing::debug!(queue = self.qid, event = ?other, "session event");
            }
            ConnEvent::Failed(error) => self.on_conn_failed(queue, error),
            ConnEvent::Closed => {
                if let Link::LoggingOut { conn, .. } = &self.link {
                    tracing::info!(queue = self.qid, "logged out");
                    self.log_conn_counters(conn, "final");
                    self.link = Link::Down;
                }
            }
        }
    }

    fn on_logged_in(&mut self, queue: &UblkQueue) {
        let conn = match std::mem::replace(&mut self.link, Link::Down) {
            Link::Connecting { conn, .. } => conn,
            other => {
                self.link = other;
                return;
            }
        };
        let window = conn.window_room();
        let params = conn.params().cloned();
        let local = conn.tid().and_then(|tid| self.engine.local_addr(tid));
        self.link = Link::Up {
            conn,
            last_rx: Instant::now(),
            ping_sent: None,
        };
        if let Some(p) = params {
            tracing::info!(
                queue = self.qid,
                local = ?local,
                peer = %self.target.peer,
                header_digest = p.header_digest,
                data_digest = p.data_digest,
                max_burst = p.max_burst_length,
                first_burst = p.first_burst_length,
                immediate_data = p.immediate_data,
                initial_r2t = p.initial_r2t,
                cmd_window = window,
                "session up"
            );
        }
        if window < u32::from(self.tags.depth()) {
            tracing::debug!(
                queue = self.qid,
                window,
                depth = self.tags.depth(),
                "the CmdSN window is narrower than the queue; the rest waits in the session"
            );
        }
        if self.outage_since.take().is_some() {
            self.stats.reconnects += 1;
            tracing::info!(
                queue = self.qid,
                reissued = self.tags.held_count(),
                "session recovered"
            );
        }
        self.reconnect_attempts = 0;
        self.fail_fast = false;
        // Each held request once: one that cannot go now is held again for the next time.
        for _ in 0..self.tags.held_count() {
            let Some((tag, pending)) = self.tags.next_held() else {
                break;
            };
            self.submit(queue, tag, pending);
            if !self.link.is_up() {
                break;
            }
        }
    }

    fn on_task_done(
        &mut self,
        queue: &UblkQueue,
        task: u32,
        outcome: iscsi_proto::session::TaskOutcome,
    ) {
        let Some(tag) = self.tags.tag_of_task(task) else {
            tracing::warn!(queue = self.qid, task, "completion for an unknown task");
            return;
        };
        let Some(mut pending) = self.tags.take_in_flight(tag) else {
            tracing::warn!(queue = self.qid, tag, "completion for a tag not in flight");
            return;
        };
        let kind = pending.plan.kind;
        match outcome::judge(kind, pending.plan.data_len, &outcome) {
            Verdict::Done(result) => {
                self.count_done(kind, result);
                self.commit(queue, tag, result);
            }
            Verdict::Retry if pending.retries < MAX_RETRIES => {
                pending.retries += 1;
                self.stats.retries += 1;
                tracing::debug!(
                    queue = self.qid,
                    tag,
                    ?outcome,
                    retry = pending.retries,
                    "reissuing"
                );
                self.submit(queue, tag, pending);
            }
            Verdict::Retry => {
                let errno = outcome::exhausted(&outcome);
                tracing::warn!(
                    queue = self.qid,
                    tag,
                    ?kind,
                    ?outcome,
                    errno,
                    "retries exhausted"
                );
                self.stats.failed += 1;
                self.commit(queue, tag, errno);
            }
            Verdict::Failed(errno) => {
                tracing::warn!(
                    queue = self.qid,
                    tag,
                    ?kind,
                    ?outcome,
                    errno,
                    "command failed"
                );
                self.stats.failed += 1;
                self.commit(queue, tag, errno);
            }
        }
    }

    fn count_done(&mut self, kind: PlanKind, result: i32) {
        let bytes = u64::try_from(result).unwrap_or(0);
        let s = &mut self.stats;
        match kind {
            PlanKind::Read => {
                s.reads += 1;
                s.bytes_read += bytes;
            }
            PlanKind::Write => {
                s.writes += 1;
                s.bytes_written += bytes;
            }
            PlanKind::Flush => s.flushes += 1,
            PlanKind::Discard => s.discards += 1,
            PlanKind::WriteZeroes => s.write_zeroes += 1,
        }
    }

    fn start_connect(&mut self, now: Instant) {
        let config = login_config(
            &self.target.url,
            &self.target.initiator_name,
            self.qid,
            &mut self.rng,
        );
        let atid = self.next_atid;
        self.next_atid = self.next_atid.wrapping_add(1).max(1);
        match IscsiConn::open(&mut self.engine, atid, self.target.peer, config) {
            Ok(conn) => {
                self.link = Link::Connecting { conn, started: now };
            }
            Err(error) => {
                tracing::warn!(queue = self.qid, %error, "cannot open a connection");
                self.last_error = Some(error.to_string());
                self.schedule_reconnect(now);
            }
        }
    }

    /// The session failed (the connection reported it): hold its commands and reconnect.
    fn on_conn_failed(&mut self, queue: &UblkQueue, error: ConnError) {
        let now = Instant::now();
        let conn = match std::mem::replace(&mut self.link, Link::Down) {
            Link::LoggingOut { .. } => {
                tracing::debug!(queue = self.qid, %error, "connection ended during logout");
                return;
            }
            Link::Connecting { conn, .. } | Link::Up { conn, .. } => conn,
            other => {
                self.link = other;
                return;
            }
        };
        if !self.shutting_down && self.outage_since.is_none() && self.tags.busy_count() > 0 {
            tracing::warn!(queue = self.qid, %error, "session failed; holding I/O and reconnecting");
        } else {
            tracing::warn!(queue = self.qid, %error, "session failed");
        }
        self.last_error = Some(error.to_string());
        let tid = conn.tid();
        // Connect failures and engine aborts leave nothing running; a FIN from the target
        // leaves the socket open, which we reset; other failures already posted an abort.
        let mut engine_done =
            matches!(error, ConnError::Connect { .. } | ConnError::Aborted { .. });
        if matches!(error, ConnError::PeerClosed) {
            if let Some(tid) = tid {
                engine_done |= self.engine.post(WorkRequest::AbortReq { tid }).is_err();
            }
        }
        self.link = Link::Draining {
            conn,
            tid,
            deadline: now + link::DRAIN_TIMEOUT,
        };
        if engine_done || tid.is_none() {
            self.finish_drain(queue);
        }
    }

    /// We gave up on the connection (login or keepalive timeout): abort it and recover.
    fn declare_dead(&mut self, queue: &UblkQueue, reason: String) {
        let now = Instant::now();
        let mut conn = match std::mem::replace(&mut self.link, Link::Down) {
            Link::Connecting { conn, .. } | Link::Up { conn, .. } => conn,
            other => {
                self.link = other;
                return;
            }
        };
        tracing::warn!(queue = self.qid, reason, "dropping the connection");
        self.last_error = Some(reason);
        conn.abort(&mut self.engine);
        let tid = conn.tid();
        self.link = Link::Draining {
            conn,
            tid,
            deadline: now + link::DRAIN_TIMEOUT,
        };
        if tid.is_none() {
            self.finish_drain(queue);
        }
    }

    /// The failed connection's engine side is done: its commands go back to held, and a
    /// reconnect is scheduled.
    fn finish_drain(&mut self, _queue: &UblkQueue) {
        let Link::Draining { mut conn, .. } = std::mem::replace(&mut self.link, Link::Down) else {
            return;
        };
        self.log_conn_counters(&conn, "failed");
        // Releases the DDP tags; the tasks themselves are found by tag below.
        conn.take_outstanding(&mut self.engine);
        let held = self.tags.hold_all_in_flight();
        if held > 0 {
            tracing::info!(queue = self.qid, held, "commands held for reissue");
        }
        let now = Instant::now();
        if self.shutting_down {
            return;
        }
        self.outage_since.get_or_insert(now);
        self.schedule_reconnect(now);
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        self.reconnect_attempts = self.reconnect_attempts.saturating_add(1);
        self.link = Link::Waiting {
            until: now + link::backoff(self.reconnect_attempts),
        };
    }

    /// Timeouts, keepalive and reconnects.
    fn poll_link(&mut self, queue: &UblkQueue, now: Instant) {
        enum Action {
            None,
            Connect,
            Dead(String),
            Ping,
            Drained,
            GiveUpLogout,
        }
        let action = match &self.link {
            Link::Waiting { until } if now >= *until && !self.shutting_down => Action::Connect,
            Link::Connecting { started, .. }
                if now.duration_since(*started) > link::LOGIN_TIMEOUT =>
            {
                Action::Dead("the login timed out".into())
            }
            Link::Up {
                ping_sent: Some(sent),
                ..
            } if now.duration_since(*sent) > link::NOP_TIMEOUT => {
                Action::Dead(format!("no answer to a NOP-Out in {:?}", link::NOP_TIMEOUT))
            }
            Link::Up {
                ping_sent: None,
                last_rx,
                ..
            } if now.duration_since(*last_rx) >= link::NOP_INTERVAL => Action::Ping,
            Link::Draining { deadline, .. }
                if now >= *deadline || self.engine.ops_in_flight() == 0 =>
            {
                Action::Drained
            }
            Link::LoggingOut { deadline, .. } if now >= *deadline => Action::GiveUpLogout,
            _ => Action::None,
        };
        match action {
            Action::None => {}
            Action::Connect => {
                tracing::info!(
                    queue = self.qid,
                    attempt = self.reconnect_attempts,
                    "reconnecting"
                );
                self.start_connect(now);
            }
            Action::Dead(reason) => self.declare_dead(queue, reason),
            Action::Ping => {
                if let Link::Up {
                    conn, ping_sent, ..
                } = &mut self.link
                {
                    match conn.ping(&mut self.engine) {
                        Ok(_) => *ping_sent = Some(now),
                        Err(error) => {
                            tracing::debug!(queue = self.qid, %error, "cannot send a NOP-Out")
                        }
                    }
                }
            }
            Action::Drained => self.finish_drain(queue),
            Action::GiveUpLogout => {
                if let Link::LoggingOut { mut conn, .. } =
                    std::mem::replace(&mut self.link, Link::Down)
                {
                    tracing::warn!(
                        queue = self.qid,
                        "logout timed out; resetting the connection"
                    );
                    conn.abort(&mut self.engine);
                }
            }
        }
        if let Some(since) = self.outage_since {
            if !self.fail_fast && now.duration_since(since) >= link::REPLACEMENT_TIMEOUT {
                self.fail_held(
                    queue,
                    "the session stayed down past the replacement timeout",
                );
            }
        }
        if !self.fail_fast && !self.link.is_up() && STOP_REQUESTED.load(Ordering::Relaxed) {
            // Stopping waits for every request; with the target gone they would wait for the
            // replacement timeout.
            self.fail_held(
                queue,
                "the device is being stopped while the session is down",
            );
        }
    }

    /// Fails every held request with ENOLINK, and new ones too until the session is back.
    fn fail_held(&mut self, queue: &UblkQueue, why: &str) {
        self.fail_fast = true;
        let mut failed = 0;
        while let Some((tag, _)) = self.tags.next_held() {
            self.stats.failed += 1;
            failed += 1;
            self.commit(queue, tag, ENOLINK);
        }
        tracing::error!(
            queue = self.qid,
            failed,
            last_error = self.last_error.as_deref().unwrap_or("unknown"),
            "{why}: failing I/O until the session is back"
        );
    }
}

fn auto_buf_reg(tag: u16) -> sys::ublk_auto_buf_reg {
    sys::ublk_auto_buf_reg {
        index: tag,
        flags: 0,
        reserved0: 0,
        reserved1: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_pods_cover_every_read_twice() {
        // 512 KiB = 128 pages = 32 pods, plus one for a misaligned start.
        assert_eq!(page_pods_needed(128, 512 << 10), 33 * 128 * 2);
        assert_eq!(page_pods_needed(1, 4096), t3_hw::DDP_MIN_PPMAX);
        assert_eq!(page_pods_needed(4096, 32 << 20), 1 << 20);
        // The 1 MiB default: 256 pages = 64 pods, plus one, for every depth ublksrv allows.
        assert_eq!(page_pods_needed(128, 1 << 20), 65 * 128 * 2);
        assert_eq!(page_pods_needed(4096, 1 << 20), 65 * 4096 * 2);
    }

    #[test]
    fn zero_copy_needs_ddp_for_every_read() {
        assert!(every_read_gets_ddp(4096, 1 << 20));
        assert!(every_read_gets_ddp(128, 32 << 20));
        assert!(!every_read_gets_ddp(4096, 32 << 20));
        assert!(!every_read_gets_ddp(4096, 2 << 20));
    }
}
