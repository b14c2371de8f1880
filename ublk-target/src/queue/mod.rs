//! Queue threads: one per ublk queue, each with its own io_uring (libublk's queue ring),
//! offload engine, iSCSI session and TCP socket. Nothing is shared between them on the I/O
//! path.
//!
//! A queue thread's life:
//! 1. create the ublk queue (its ring), log in on that ring, report the result;
//! 2. wait for the control thread's verdict: every queue logged in → FETCH and serve; any
//!    failed → log out and leave without ever fetching, so the device can be deleted;
//! 3. serve until the kernel takes the queue down (STOP_DEV drains it first), log out, let
//!    the engine finish.

mod error;
mod fixed_bufs;
mod lu_check;
mod portals;
mod ring;
mod serve;
mod stats;
mod tags;

pub(crate) use serve::{every_read_gets_ddp, QueueTarget, STATS_REQUESTS, STOP_REQUESTED};
pub(crate) use stats::QueueStats;

use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};

use libublk::io::{BufDescList, UblkDev, UblkQueue};
use libublk::sys;

use crate::status::DeviceStatus;
pub(crate) use error::QueueError;
use serve::QueueLoop;

/// What a queue thread tells the control thread.
#[derive(Debug)]
pub(crate) enum QueueReport {
    /// The thread runs as this kernel thread id.
    Started { qid: u16, tid: i32 },
    /// The session is up; the queue waits for the verdict.
    LoggedIn,
    /// The queue could not start.
    Failed { qid: u16, error: QueueError },
    /// The LU reports a capacity other than the device's: resize the device.
    CapacityChanged { qid: u16, bytes: u64 },
    /// The thread is done.
    Finished {
        qid: u16,
        stats: QueueStats,
        ended: Ended,
    },
}

/// Why a queue stopped serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The kernel took the queue down: the device is being stopped (STOP_DEV, or DEL_DEV).
    ByKernel,
    /// The queue gave up by itself (it could not start, or its ring failed), or never served.
    OnItsOwn,
}

/// The control thread's verdict on starting the device, which every queue waits for.
#[derive(Debug, Default)]
pub(crate) struct StartGate {
    verdict: Mutex<Option<bool>>,
    decided: Condvar,
}

impl StartGate {
    pub(crate) fn new() -> Arc<StartGate> {
        Arc::new(StartGate::default())
    }

    /// Lets every queue fetch and serve (`true`) or makes them all leave (`false`).
    pub(crate) fn decide(&self, go: bool) {
        let mut verdict = self
            .verdict
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *verdict = Some(go);
        self.decided.notify_all();
    }

    fn wait(&self) -> bool {
        let mut verdict = self
            .verdict
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        loop {
            if let Some(go) = *verdict {
                return go;
            }
            verdict = self
                .decided
                .wait(verdict)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// The body of queue `qid`'s thread; it publishes its status in `status`.
pub(crate) fn run_queue(
    qid: u16,
    dev: &UblkDev,
    target: Arc<QueueTarget>,
    status: Arc<DeviceStatus>,
    gate: &StartGate,
    reports: &Sender<QueueReport>,
) {
    // Every line the queue logs names its device (syslog mixes the daemons' lines).
    let _device = tracing::error_span!("dev", id = target.dev_id).entered();
    let tid = libublk::ctrl::UblkCtrl::init_queue_thread();
    let _ = reports.send(QueueReport::Started { qid, tid });
    let _panic_exit = ExitOnPanic { qid };
    let (stats, ended) = match serve_queue(qid, dev, target, status, gate, reports) {
        Ok(done) => done,
        Err(error) => {
            tracing::error!(queue = qid, %error, "queue failed");
            let _ = reports.send(QueueReport::Failed { qid, error });
            (QueueStats::default(), Ended::OnItsOwn)
        }
    };
    let _ = reports.send(QueueReport::Finished { qid, stats, ended });
}

/// Ends the daemon when a queue thread panics. The thread's requests would never complete,
/// and STOP_DEV would wait for them forever; with the process gone the kernel ends them
/// itself (or, with user recovery, keeps the device quiesced for `ublk recover`).
struct ExitOnPanic {
    qid: u16,
}

impl Drop for ExitOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            tracing::error!(queue = self.qid, "queue thread panicked: the daemon exits");
            std::process::exit(PANIC_EXIT_STATUS);
        }
    }
}

/// The daemon's exit status after a queue thread panicked (EX_SOFTWARE).
const PANIC_EXIT_STATUS: i32 = 70;

fn serve_queue(
    qid: u16,
    dev: &UblkDev,
    target: Arc<QueueTarget>,
    status: Arc<DeviceStatus>,
    gate: &StartGate,
    reports: &Sender<QueueReport>,
) -> Result<(QueueStats, Ended), QueueError> {
    let depth = dev.dev_info.queue_depth;
    let io_buf_bytes = dev.dev_info.max_io_buf_bytes;
    let zero_copy = target.zero_copy;
    let serve_before_login = target.serve_before_login;
    let queue =
        UblkQueue::new(qid, dev).map_err(|error| QueueError::Setup(format!("{error:?}")))?;
    let io_bufs = if zero_copy {
        Vec::new()
    } else {
        dev.alloc_queue_io_bufs()
    };
    let mut lp = QueueLoop::new(
        qid,
        depth,
        io_buf_bytes,
        target,
        status,
        io_bufs,
        reports.clone(),
    )?;
    if serve_before_login {
        lp.start_without_session(&queue);
    } else if let Err(error) = lp.log_in(&queue) {
        lp.shut_down(&queue);
        return Err(error);
    }
    let _ = reports.send(QueueReport::LoggedIn);
    if !gate.wait() {
        lp.shut_down(&queue);
        return Ok((lp.stats(), Ended::OnItsOwn));
    }
    let fetched = if zero_copy {
        let regs: Vec<sys::ublk_auto_buf_reg> = (0..depth)
            .map(|tag| sys::ublk_auto_buf_reg {
                index: tag,
                flags: 0,
                reserved0: 0,
                reserved1: 0,
            })
            .collect();
        queue.submit_fetch_commands_unified(BufDescList::AutoRegs(&regs))
    } else {
        let bufs = lp.io_bufs();
        queue.submit_fetch_commands_unified(BufDescList::Slices(Some(bufs)))
    };
    let queue = match fetched {
        Ok(queue) => queue,
        Err(error) => {
            // The queue was consumed; the ring stays with the thread and closes with it.
            return Err(QueueError::Fetch(format!("{error:?}")));
        }
    };
    let ended = lp.serve(&queue);
    lp.shut_down(&queue);
    Ok((lp.stats(), ended))
}
