//! One queue's loop: ublk commands, the iSCSI session and its socket on one io_uring.
//!
//! Each turn of the loop is one `io_uring_enter`: libublk's `flush_and_wake_io_tasks` submits
//! whatever is queued (COMMIT_AND_FETCH of finished tags and the engine's socket operations,
//! pushed just before) and waits for at least one CQE. The CQEs of the batch are then routed:
//! new requests go to the supervisor, engine CQEs to the engine, and the engine's completions
//! to the connection, whose events go to the supervisor too. The loop then executes what the
//! supervisor decided (submit, commit, ping, abort, reset, drop, connect, log out). It makes
//! no decision about time itself: a timer wakes it at the supervisor's next deadline, and a
//! one-second tick serves the counters.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iscsi_proto::login::LoginError;
use iscsi_proto::scsi::Sense;
use iscsi_proto::session::{Direction, Event, TaskOutcome};
use iscsi_proto::url::IscsiUrl;

use super::Ended;
use libublk::helpers::IoBuf;
use libublk::io::{BufDesc, UblkQueue};
use libublk::{sys, UblkError, UblkIORes};
use rand::rngs::StdRng;
use rand::SeedableRng;
use t3_hw::initiator::{
    AlignedBuf, ConnEvent, ConnFailure, InitiatorStats, IscsiConn, RequestRefused,
};
use t3_hw::{pods_for, Completion, Engine, EngineConfig, PageSize, PpmConfig, WorkRequest};

use super::fixed_bufs::FixedBufs;
use super::lu_check::{self, LuCheck, Next, CHECK_BUFFER_LEN};
use super::portals::Portals;
use super::ring::{flush_engine, wait_and_reap, Timer};
use super::tags::Tags;
use super::{QueueError, QueueReport, QueueStats};
use crate::login::{
    login_config, may_negotiate_data_digest, queue_isid, MAX_RECV_DATA_SEGMENT_LENGTH,
};
use crate::ops::{self, BlockRequest, Capabilities, Geometry, PlanBuffer, PlanKind, ScsiPlan};
use crate::outcome;
use crate::status::{DeviceStatus, Negotiated, QueueSample, SessionInfo};
use crate::supervisor::{Action, PathPhase, Submitted, Supervisor, Timeouts};
use crate::user_data::{self, CqeOwner};

const EIO: i32 = -5;
const TICK: Duration = Duration::from_secs(1);
/// How long the engine may take to finish its operations at exit.
const ENGINE_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// The wake-up timer is not armed for a deadline closer than this: the loop is awake then
/// anyway.
const WAKEUP_SLACK: Duration = Duration::from_millis(1);
/// How often a busy queue publishes its counters for `ublk list` (an idle one does at its
/// one-second tick, and every change of the session's state is published at once).
const PUBLISH_INTERVAL: Duration = Duration::from_millis(100);

/// Bumped (by SIGUSR1) to ask every queue to log its counters at its next tick.
pub(crate) static STATS_REQUESTS: AtomicU64 = AtomicU64::new(0);
/// Set when the daemon is asked to stop (SIGTERM): held requests fail instead of waiting
/// for a session that may never come back.
pub(crate) static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// What every queue of a device serves: the same LU, over its own session.
#[derive(Debug)]
pub(crate) struct QueueTarget {
    /// The ublk device number: with the queue number, the sessions' ISIDs.
    pub dev_id: u32,
    pub url: IscsiUrl,
    /// Where sessions log in, in the order to try them.
    pub portals: Vec<SocketAddr>,
    pub initiator_name: String,
    /// The LUN in its 8-byte wire form.
    pub lun: u64,
    pub geometry: Geometry,
    pub caps: Capabilities,
    /// Requests' pages are the kernel's, registered at index = tag (UBLK_F_AUTO_BUF_REG).
    pub zero_copy: bool,
    pub timeouts: Timeouts,
    /// The LU's VPD 0x83 designator when the device was created: every new session must
    /// reach the same one.
    pub device_id: Option<String>,
    /// The device's capacity in bytes.
    pub capacity_bytes: u64,
    /// Serve before any session is up: a recovery while the target cannot be reached, with
    /// I/O held (and failed past the replacement timeout) until a login succeeds.
    pub serve_before_login: bool,
}

/// A task management request in flight, by its ITT.
#[derive(Debug, Clone, Copy)]
enum PendingTmf {
    AbortTask { itt: u32, tag: u16 },
    LunReset { itt: u32 },
}

pub(super) struct QueueLoop {
    qid: u16,
    target: Arc<QueueTarget>,
    engine: Engine,
    supervisor: Supervisor<ScsiPlan>,
    /// The connection that is logging in, up or logging out.
    conn: Option<IscsiConn>,
    /// A failed connection the engine is still winding down: its tasks' buffers may still be
    /// written until the engine has settled it.
    draining: Option<IscsiConn>,
    tmfs: Vec<PendingTmf>,
    portals: Portals,
    tags: Tags,
    lu_check: LuCheck,
    /// What the LU check reads into (task `Tags::check_task`).
    check_buf: AlignedBuf,
    /// The capacity the device has, as far as this queue knows.
    capacity_bytes: u64,
    reports: Sender<QueueReport>,
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
    tick: Timer,
    wakeup: Timer,
    /// Why the last connection ended, for the log line that gives up.
    last_error: Option<QueueError>,
    stop_seen: bool,
    stats_seen: u64,
    /// The counters the loop keeps itself (requests by kind, bytes); [`QueueLoop::stats`]
    /// adds the others.
    stats: QueueStats,
    /// Where this queue publishes its status (its own block of it).
    status: Arc<DeviceStatus>,
    /// The initiator counters of the connections that have ended, summed.
    retired_initiator: InitiatorStats,
    /// When the counters are published next, and the session state last published.
    next_publish: Instant,
    published_phase: Option<PathPhase>,
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
pub(crate) fn every_read_gets_ddp(depth: u16, io_buf_bytes: u32) -> bool {
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
    pub(super) fn new(
        qid: u16,
        depth: u16,
        io_buf_bytes: u32,
        target: Arc<QueueTarget>,
        status: Arc<DeviceStatus>,
        mut io_bufs: Vec<IoBuf<u8>>,
        reports: Sender<QueueReport>,
    ) -> Result<QueueLoop, QueueError> {
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
        let mut check_buf = AlignedBuf::new(CHECK_BUFFER_LEN);
        // SAFETY: as for the aux buffers; it lives in `self.check_buf`, dropped after the
        // engine, and is read only after its task finished.
        unsafe {
            engine.register_task_buffer(
                tags.check_task(),
                check_buf.as_mut_slice().as_mut_ptr(),
                CHECK_BUFFER_LEN,
            )
        };
        Ok(QueueLoop {
            qid,
            supervisor: Supervisor::new(depth, target.timeouts.clone()),
            portals: Portals::new(target.portals.clone()),
            lu_check: LuCheck::new(target.device_id.clone()),
            check_buf,
            capacity_bytes: target.capacity_bytes,
            reports,
            target,
            engine,
            conn: None,
            draining: None,
            tmfs: Vec::new(),
            tags,
            fixed_bufs,
            io_bufs,
            aux,
            rng: StdRng::from_entropy(),
            next_atid: 1,
            cqes: Vec::with_capacity(usize::from(depth) * 2),
            tick: Timer::new(user_data::tick()),
            wakeup: Timer::new(user_data::wakeup()),
            last_error: None,
            stop_seen: false,
            stats_seen: STATS_REQUESTS.load(Ordering::Relaxed),
            stats: QueueStats::default(),
            status,
            retired_initiator: InitiatorStats::default(),
            next_publish: Instant::now(),
            published_phase: None,
        })
    }

    /// Logs in before any request is fetched. Fails (without retrying) with the reason the
    /// login did not succeed.
    /// Starts the supervisor without waiting for a session: it keeps logging in while the
    /// queue serves, holding requests until a session is up (see
    /// [`QueueTarget::serve_before_login`]).
    pub(super) fn start_without_session(&mut self, queue: &UblkQueue) {
        self.supervisor.start(Instant::now());
        self.run_actions(queue, Instant::now());
        if let Some(error) = self.last_error.take() {
            tracing::warn!(queue = self.qid, %error, "no session yet: requests are held while the queue keeps trying");
        }
    }

    pub(super) fn log_in(&mut self, queue: &UblkQueue) -> Result<(), QueueError> {
        self.supervisor.start(Instant::now());
        self.run_actions(queue, Instant::now());
        loop {
            if self.supervisor.is_up() {
                return Ok(());
            }
            if let Some(error) = self.last_error.take() {
                return Err(error);
            }
            if let Err(error) = self.pump_without_queue(queue, TICK) {
                return Err(QueueError::Ring(error));
            }
        }
    }

    /// Serves requests until the kernel takes the queue down (or its ring fails).
    pub(super) fn serve(&mut self, queue: &UblkQueue) -> Ended {
        if let Err(error) = self.tick.arm(Instant::now(), TICK) {
            tracing::error!(queue = self.qid, %error, "cannot arm the queue timer");
            return Ended::OnItsOwn;
        }
        let ended = loop {
            if let Err(error) = flush_engine(&mut self.engine) {
                tracing::error!(queue = self.qid, %error, "cannot queue socket operations");
            }
            let cqes = &mut self.cqes;
            let result = queue.flush_and_wake_io_tasks(
                |user_data, cqe, _last| cqes.push((user_data, cqe.result(), cqe.flags())),
                1,
            );
            self.process_cqes(queue, true);
            self.after_batch(queue, true);
            match result {
                Ok(_) => {}
                Err(UblkError::QueueIsDown) => break Ended::ByKernel,
                Err(error) => {
                    tracing::error!(queue = self.qid, ?error, "queue ring failed");
                    break Ended::OnItsOwn;
                }
            }
        };
        tracing::debug!(queue = self.qid, "queue is down");
        ended
    }

    /// Logs out (or drops a connection that is not up) and lets the engine finish.
    pub(super) fn shut_down(&mut self, queue: &UblkQueue) {
        let now = Instant::now();
        self.supervisor.shut_down(now);
        self.run_actions(queue, now);
        let timeouts = self.supervisor.timeouts();
        let deadline = now + timeouts.logout + timeouts.drain_warning;
        while !(self.supervisor.is_settled() && self.draining.is_none()) {
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
        let busy = self.supervisor.busy();
        if busy > 0 {
            tracing::warn!(queue = self.qid, busy, "requests never served");
        }
    }

    /// Every counter of the queue: its own, the supervisor's, and those of the engine and
    /// the initiator over every connection it has had.
    pub(super) fn stats(&self) -> QueueStats {
        let supervisor = self.supervisor.stats();
        let engine = self.engine.counter_totals();
        let mut initiator = self.retired_initiator;
        for conn in self.conn.iter().chain(self.draining.iter()) {
            initiator.add(&conn.stats());
        }
        QueueStats {
            failed: supervisor.failed,
            retries: supervisor.retries,
            reconnects: supervisor.reconnects,
            commands_timed_out: supervisor.timeouts,
            aborts_sent: supervisor.aborts_sent,
            resets_sent: supervisor.resets_sent,
            in_flight: self.supervisor.busy() as u64,
            held: self.supervisor.held() as u64,
            ddp_bytes: engine.ddp_bytes,
            // Placed payload the engine copied out of its staging buffer, and Data-In it
            // could not place that the initiator copied in.
            userspace_copied_bytes: engine.staged_bytes + initiator.copied_bytes,
            header_digest_errors: engine.hdr_digest_errors,
            data_digest_errors: engine.data_digest_errors,
            ..self.stats
        }
    }

    /// The tags' buffers in copy mode, for FETCH.
    pub(super) fn io_bufs(&self) -> &Vec<IoBuf<u8>> {
        &self.io_bufs
    }

    /// One wait on the ring while no ublk command is in it (before FETCH, after the queue is
    /// down), reaping the CQEs ourselves.
    fn pump_without_queue(&mut self, queue: &UblkQueue, limit: Duration) -> io::Result<()> {
        flush_engine(&mut self.engine)?;
        let until_deadline = self
            .supervisor
            .poll_timeout()
            .map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or(TICK);
        wait_and_reap(limit.min(TICK).min(until_deadline), &mut self.cqes)?;
        self.process_cqes(queue, false);
        self.after_batch(queue, false);
        Ok(())
    }

    fn process_cqes(&mut self, queue: &UblkQueue, serving: bool) {
        let mut cqes = std::mem::take(&mut self.cqes);
        for &(data, result, flags) in &cqes {
            match user_data::owner(data) {
                CqeOwner::UblkCommand { tag } => self.on_ublk_command(queue, tag, result),
                CqeOwner::Engine { token } => self.engine.on_cqe(token, result, flags),
                CqeOwner::Tick => {
                    self.tick.fired();
                    self.on_tick();
                    if serving {
                        if let Err(error) = self.tick.arm(Instant::now(), TICK) {
                            tracing::error!(queue = self.qid, %error, "cannot re-arm the queue timer");
                        }
                    }
                }
                CqeOwner::Wakeup => self.wakeup.fired(),
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
        let s = self.stats();
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
        if let Some(conn) = self.conn.as_ref().or(self.draining.as_ref()) {
            self.log_conn_counters(conn, when);
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
        } else if result != sys::UBLK_IO_RES_ABORT {
            // UBLK_IO_RES_ABORT: the queue is going down; libublk counts these and ends
            // `serve`.
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
            Ok(plan) => self.supervisor.request_arrived(Instant::now(), tag, plan),
            Err(error) => {
                tracing::debug!(queue = self.qid, tag, ?request, %error, "request refused");
                self.commit(queue, tag, error.errno());
            }
        }
    }

    /// Executes what the supervisor decided, until it has nothing more.
    fn run_actions(&mut self, queue: &UblkQueue, now: Instant) {
        while let Some(action) = self.supervisor.poll_action() {
            match action {
                Action::Connect => self.start_connect(now),
                Action::VerifyLu => {
                    let next = self.lu_check.start();
                    self.lu_step(now, next);
                }
                Action::Submit(tag) => {
                    let result = self.submit(tag);
                    self.supervisor.submitted(tag, result);
                }
                Action::Complete {
                    tag,
                    result,
                    request,
                } => {
                    if result < 0 {
                        tracing::warn!(queue = self.qid, tag, kind = ?request.kind, result, "request failed");
                    }
                    self.count_done(request.kind, result);
                    self.commit(queue, tag, result);
                }
                Action::Ping => {
                    if let Some(conn) = self.conn.as_mut() {
                        if let Err(error) = conn.ping(&mut self.engine) {
                            tracing::debug!(queue = self.qid, %error, "cannot send a NOP-Out");
                        }
                    }
                }
                Action::AbortTask(tag) => self.abort_task(tag),
                Action::LunReset => self.lun_reset(),
                Action::Drop(reason) => {
                    tracing::warn!(queue = self.qid, %reason, "dropping the connection");
                    self.last_error = Some(QueueError::Dropped(reason));
                    if let Some(mut conn) = self.conn.take() {
                        conn.abort(&mut self.engine);
                        self.start_draining(conn);
                    }
                }
                Action::Logout => self.log_out(now),
            }
            // A connection that failed while taking a request says so with an event.
            self.route_conn_events(now);
        }
    }

    fn abort_task(&mut self, tag: u16) {
        let task = self.task_of(tag);
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let command = self
            .supervisor
            .request(tag)
            .map_or_else(|| "unknown command".to_owned(), |plan| plan.describe());
        match conn.abort_task(&mut self.engine, task) {
            Ok(itt) => {
                tracing::warn!(
                    queue = self.qid,
                    tag,
                    itt,
                    %command,
                    "command timed out: ABORT TASK sent for {command}"
                );
                self.tmfs.push(PendingTmf::AbortTask { itt, tag });
            }
            Err(error) => {
                tracing::debug!(queue = self.qid, tag, %error, "cannot send ABORT TASK")
            }
        }
    }

    fn lun_reset(&mut self) {
        let commands: Vec<String> = self
            .supervisor
            .tags_in_reset()
            .filter_map(|tag| self.supervisor.request(tag))
            .map(ScsiPlan::describe)
            .collect();
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match conn.lun_reset(&mut self.engine, self.target.lun) {
            Ok(itt) => {
                tracing::warn!(
                    queue = self.qid,
                    itt,
                    "LOGICAL UNIT RESET sent for {} timed-out command(s): {}",
                    commands.len(),
                    commands.join(", ")
                );
                self.tmfs.push(PendingTmf::LunReset { itt });
            }
            Err(error) => {
                tracing::debug!(queue = self.qid, %error, "cannot send LOGICAL UNIT RESET")
            }
        }
    }

    fn log_out(&mut self, now: Instant) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if let Err(error) = conn.logout(&mut self.engine) {
            tracing::warn!(queue = self.qid, %error, "cannot log out; dropping the connection");
            if let Some(mut conn) = self.conn.take() {
                conn.abort(&mut self.engine);
                self.start_draining(conn);
            }
            self.supervisor.path_failed(now);
        }
    }

    /// The engine task a tag's command moves its data through.
    fn task_of(&self, tag: u16) -> u32 {
        let Some(plan) = self.supervisor.request(tag) else {
            return Tags::own_task(tag);
        };
        match &plan.buffer {
            PlanBuffer::Aux(_) => self.tags.aux_task(tag),
            // Writes from a fixed copy buffer go out as mapped memory: one SENDMSG with the
            // header instead of a WRITE_FIXED with corking around it.
            PlanBuffer::Tag if self.fixed_bufs.is_some() && plan.direction == Direction::Write => {
                self.tags.send_task(tag)
            }
            PlanBuffer::Tag | PlanBuffer::None => Tags::own_task(tag),
        }
    }

    /// Puts a tag's command on the session.
    fn submit(&mut self, tag: u16) -> Submitted {
        let task = self.task_of(tag);
        let Some(plan) = self.supervisor.request(tag) else {
            return Submitted::Refused(EIO);
        };
        if let PlanBuffer::Aux(data) = &plan.buffer {
            let Some(buffer) = self.aux.get_mut(usize::from(tag)) else {
                return Submitted::Refused(EIO);
            };
            if data.fill(buffer.as_mut_slice()).is_none() {
                tracing::error!(
                    queue = self.qid,
                    tag,
                    len = data.len(),
                    "auxiliary data does not fit"
                );
                return Submitted::Refused(EIO);
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return Submitted::NotUp;
        };
        let submitted = conn.submit(
            &mut self.engine,
            task,
            self.target.lun,
            &plan.cdb,
            plan.direction,
            plan.data_len,
        );
        match submitted {
            // The connection's now, even if it fails at once: its failure event hands the
            // command back with the others.
            Ok(()) => Submitted::Taken,
            Err(RequestRefused::NotLoggedIn) => Submitted::NotUp,
            // No ITT, or the session said no: nothing was sent and no retry would help.
            Err(refused) => {
                tracing::error!(queue = self.qid, tag, %refused, "cannot submit");
                Submitted::Refused(EIO)
            }
        }
    }

    fn commit(&mut self, queue: &UblkQueue, tag: u16, result: i32) {
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

    /// Routes the engine's completions, moves the supervisor along in time and executes its
    /// decisions; arms the wake-up timer for its next deadline.
    fn after_batch(&mut self, queue: &UblkQueue, serving: bool) {
        let now = Instant::now();
        if !self.stop_seen && STOP_REQUESTED.load(Ordering::Relaxed) {
            self.stop_seen = true;
            self.supervisor.stop(now);
        }
        while let Some(completion) = self.engine.poll_completion() {
            self.on_completion(now, completion);
        }
        self.settle_draining(now);
        self.supervisor.handle_timeout(now);
        self.run_actions(queue, now);
        self.publish_status(now);
        if serving {
            self.arm_wakeup(now);
        }
    }

    /// Publishes the queue's counters for `ublk list`: every [`PUBLISH_INTERVAL`] while
    /// busy, and at once when the session's state changes. Plain stores into this queue's
    /// own status block; nothing is locked.
    fn publish_status(&mut self, now: Instant) {
        let phase = self.supervisor.phase();
        if now < self.next_publish && self.published_phase == Some(phase) {
            return;
        }
        self.next_publish = now + PUBLISH_INTERVAL;
        self.published_phase = Some(phase);
        let Some(block) = self.status.queue(self.qid) else {
            return;
        };
        let sample = QueueSample {
            phase: Some(phase),
            stats: self.stats(),
            outage_started: self.supervisor.outage_started(),
            outages_ended: self.supervisor.outages_ended(),
        };
        block.publish(self.status.epoch(), &sample);
    }

    fn arm_wakeup(&mut self, now: Instant) {
        let Some(next) = self.supervisor.poll_timeout() else {
            return;
        };
        let after = next.saturating_duration_since(now).max(WAKEUP_SLACK);
        let covered = |armed: Option<Instant>| armed.is_some_and(|at| at <= now + after);
        if covered(self.tick.armed_until()) || covered(self.wakeup.armed_until()) {
            return;
        }
        if let Err(error) = self.wakeup.arm(now, after) {
            tracing::error!(queue = self.qid, %error, "cannot arm the wake-up timer");
        }
    }

    /// Hands a failed connection's tasks back once the engine can no longer touch their
    /// buffers.
    fn settle_draining(&mut self, now: Instant) {
        let Some(conn) = &self.draining else {
            return;
        };
        if conn.tid().is_some_and(|tid| !self.engine.conn_settled(tid)) {
            return;
        }
        if let Some(mut conn) = self.draining.take() {
            self.log_conn_counters(&conn, "failed");
            self.retired_initiator.add(&conn.stats());
            // Releases the DDP tags: nothing is in flight on their buffers any more.
            conn.take_outstanding(&mut self.engine);
        }
        self.supervisor.drained(now);
    }

    fn start_draining(&mut self, conn: IscsiConn) {
        self.tmfs.clear();
        self.lu_check.abandon();
        if let Some(mut old) = self.draining.replace(conn) {
            // Cannot happen: the supervisor waits for one drain before it connects again.
            tracing::error!(
                queue = self.qid,
                "a second connection failed while one drains"
            );
            self.retired_initiator.add(&old.stats());
            old.take_outstanding(&mut self.engine);
        }
    }

    fn on_completion(&mut self, now: Instant, completion: Completion) {
        let Some(conn) = self.conn.as_mut() else {
            self.reap_orphan(&completion);
            return;
        };
        if !conn.owns(&completion) {
            self.reap_orphan(&completion);
            return;
        }
        // Only a PDU from the target proves it alive (our own sends complete too).
        if matches!(completion, Completion::IscsiHdr(_)) {
            self.supervisor.received(now);
        }
        conn.handle(&mut self.engine, completion, &mut self.rng);
        self.route_conn_events(now);
    }

    /// A completion for no live connection: a connection that completed its open after we
    /// gave up on it is closed at once; the rest belong to a draining connection, whose end
    /// the engine reports by settling it.
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

    fn route_conn_events(&mut self, now: Instant) {
        while let Some(event) = self.conn.as_mut().and_then(IscsiConn::poll_event) {
            self.on_conn_event(now, event);
        }
    }

    fn on_conn_event(&mut self, now: Instant, event: ConnEvent) {
        match event {
            ConnEvent::LoggedIn => self.on_logged_in(now),
            ConnEvent::TaskDone {
                task,
                outcome,
                data_in_bytes,
            } => self.on_task_done(now, task, &outcome, data_in_bytes),
            ConnEvent::Session(Event::PingReply { .. }) => self.supervisor.ping_answered(now),
            ConnEvent::Session(Event::TaskMgmtComplete { itt, response, .. }) => {
                self.on_tmf_done(now, itt, response)
            }
            ConnEvent::Session(Event::LogoutRequested { within_secs }) => {
                tracing::warn!(
                    queue = self.qid,
                    within_secs,
                    "the target asks us to log out: logging out and back in"
                );
                self.supervisor.logout_requested(now);
            }
            ConnEvent::Session(Event::TargetWillDrop { time2wait, .. }) => {
                tracing::warn!(
                    queue = self.qid,
                    time2wait,
                    "the target will drop the connection"
                );
                self.supervisor
                    .target_will_drop(now, Duration::from_secs(u64::from(time2wait)));
            }
            ConnEvent::Session(Event::ScsiAsyncEvent { lun, sense }) => {
                tracing::info!(queue = self.qid, lun, ?sense, "SCSI asynchronous event");
                if Sense::parse(&sense).is_ok_and(|s| lu_check::is_capacity_change(&s)) {
                    self.check_capacity(now);
                }
            }
            ConnEvent::Session(other) => {
                tracing::debug!(queue = self.qid, event = ?other, "session event");
            }
            ConnEvent::Failed(error) => self.on_conn_failed(now, error),
            ConnEvent::Closed => {
                let Some(conn) = self.conn.take() else {
                    return;
                };
                tracing::info!(queue = self.qid, "logged out");
                self.log_conn_counters(&conn, "final");
                let time2wait = Duration::from_secs(u64::from(conn.logout_time2wait()));
                self.start_draining(conn);
                self.supervisor.logged_out(now, time2wait);
            }
        }
    }

    fn on_tmf_done(&mut self, now: Instant, itt: u32, response: u8) {
        let Some(index) = self.tmfs.iter().position(|tmf| match tmf {
            PendingTmf::AbortTask { itt: i, .. } | PendingTmf::LunReset { itt: i } => *i == itt,
        }) else {
            return;
        };
        match self.tmfs.swap_remove(index) {
            PendingTmf::AbortTask { tag, .. } => {
                tracing::info!(queue = self.qid, tag, response, "ABORT TASK answered");
                self.supervisor.abort_answered(now, tag, response);
            }
            PendingTmf::LunReset { .. } => {
                tracing::info!(queue = self.qid, response, "LOGICAL UNIT RESET answered");
                self.supervisor.reset_answered(now, response);
            }
        }
    }

    fn on_logged_in(&mut self, now: Instant) {
        if let Some(conn) = &self.conn {
            let window = conn.window_room();
            let local = conn.tid().and_then(|tid| self.engine.local_addr(tid));
            if let (Some(p), Some(block)) = (conn.params(), self.status.queue(self.qid)) {
                block.logged_in(SessionInfo {
                    portal: conn.peer(),
                    local_address: local,
                    tsih: conn.tsih(),
                    negotiated: Negotiated::from(p),
                });
            }
            if let Some(p) = conn.params() {
                tracing::info!(
                    queue = self.qid,
                    local = ?local,
                    peer = %conn.peer(),
                    tsih = conn.tsih().unwrap_or(0),
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
        }
        if let Some(outage) = self.supervisor.outage(now) {
            tracing::info!(
                queue = self.qid,
                reissued = self.supervisor.held(),
                outage_ms = outage.as_millis() as u64,
                "session recovered after {:.1} s down",
                outage.as_secs_f64()
            );
        }
        self.last_error = None;
        self.supervisor.logged_in(now);
    }

    fn on_task_done(&mut self, now: Instant, task: u32, outcome: &TaskOutcome, data_in: u32) {
        if task == self.tags.check_task() {
            let len = (data_in as usize).min(CHECK_BUFFER_LEN);
            let next = self
                .lu_check
                .on_done(outcome, &self.check_buf.as_slice()[..len]);
            self.lu_step(now, next);
            return;
        }
        if lu_check::announces_capacity_change(outcome) {
            self.check_capacity(now);
        }
        let Some(tag) = self.tags.tag_of_task(task) else {
            tracing::warn!(queue = self.qid, task, "completion for an unknown task");
            return;
        };
        let Some(plan) = self.supervisor.request(tag) else {
            tracing::warn!(queue = self.qid, tag, "completion for a tag not in flight");
            return;
        };
        let judged = outcome::judge(plan.kind, plan.data_len, outcome);
        tracing::debug!(queue = self.qid, tag, ?outcome, ?judged, "command finished");
        self.supervisor.finished(now, tag, judged);
    }

    fn count_done(&mut self, kind: PlanKind, result: i32) {
        let Ok(bytes) = u64::try_from(result) else {
            return;
        };
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

    /// A capacity change was announced: read the capacity again, unless a check runs.
    fn check_capacity(&mut self, now: Instant) {
        if self.supervisor.is_up() && !self.lu_check.is_running() {
            tracing::info!(queue = self.qid, "the LU announces a capacity change");
            let next = self.lu_check.start_capacity();
            self.lu_step(now, next);
        }
    }

    /// Carries the LU check one step on.
    fn lu_step(&mut self, now: Instant, next: Next) {
        match next {
            Next::Send(request) => {
                let task = self.tags.check_task();
                let Some(conn) = self.conn.as_mut() else {
                    self.lu_check.abandon();
                    return;
                };
                if let Err(error) = conn.submit(
                    &mut self.engine,
                    task,
                    self.target.lun,
                    request.cdb.as_bytes(),
                    Direction::Read,
                    request.transfer_len,
                ) {
                    tracing::warn!(queue = self.qid, %error, "cannot send the LU check");
                    self.lu_check.abandon();
                }
            }
            Next::Done { capacity_bytes } => {
                if let Some(bytes) = capacity_bytes.filter(|b| *b != self.capacity_bytes) {
                    tracing::warn!(
                        queue = self.qid,
                        was = self.capacity_bytes,
                        now = bytes,
                        "the LU's capacity changed"
                    );
                    self.capacity_bytes = bytes;
                    let _ = self.reports.send(QueueReport::CapacityChanged {
                        qid: self.qid,
                        bytes,
                    });
                }
                self.supervisor.lu_verified(now);
            }
            Next::Mismatch { found } => {
                tracing::error!(
                    queue = self.qid,
                    expected = self.target.device_id.as_deref().unwrap_or("none"),
                    found = found.as_deref().unwrap_or("none"),
                    "the target now presents another LU under this URL: no I/O goes to it"
                );
                self.last_error = Some(QueueError::WrongLu);
                self.supervisor.lu_mismatch(now);
            }
        }
    }

    fn start_connect(&mut self, now: Instant) {
        let isid = queue_isid(self.target.dev_id, self.qid);
        let config = login_config(&self.target.url, &self.target.initiator_name, isid);
        let atid = self.next_atid;
        self.next_atid = self.next_atid.wrapping_add(1).max(1);
        let Some(peer) = self.portals.next_login() else {
            self.last_error = Some(QueueError::NoAddress);
            self.supervisor.connect_failed(now);
            return;
        };
        match IscsiConn::open(&mut self.engine, atid, peer, config) {
            Ok(conn) => self.conn = Some(conn),
            Err(error) => {
                tracing::warn!(queue = self.qid, %error, "cannot open a connection");
                self.last_error = Some(QueueError::Open(error));
                self.supervisor.connect_failed(now);
            }
        }
    }

    /// The connection failed: it drains, and the supervisor holds its commands meanwhile.
    fn on_conn_failed(&mut self, now: Instant, error: ConnFailure) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if let ConnFailure::Login(login_error) = &error {
            tracing::warn!(
                queue = self.qid,
                portal = %conn.peer(),
                "login to {} failed: {login_error}",
                conn.peer()
            );
        } else if self.supervisor.busy() > 0 {
            tracing::warn!(queue = self.qid, %error, "session failed; holding I/O and reconnecting");
        } else {
            tracing::warn!(queue = self.qid, %error, "session failed");
        }
        if let ConnFailure::Login(LoginError::Redirected {
            temporary,
            addresses,
        }) = &error
        {
            let to = self.portals.redirect(addresses, *temporary);
            tracing::info!(
                queue = self.qid,
                ?to,
                temporary,
                "the target redirects the login"
            );
        } else if !conn.is_logged_in() {
            // Not even logged in: the next attempt tries the host's next address.
            self.portals.failed();
        }
        // A FIN from the target leaves the socket open, which we reset; other failures are
        // already being torn down by the engine.
        if matches!(error, ConnFailure::PeerClosed) {
            if let Some(tid) = conn.tid() {
                let _ = self.engine.post(WorkRequest::AbortReq { tid });
            }
        }
        self.last_error = Some(QueueError::Conn(error));
        self.start_draining(conn);
        self.supervisor.path_failed(now);
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
mod tests;
