//! The queue's io_uring as the engine and the queue loop see it.
//!
//! libublk owns the ring (thread-local, created by `UblkQueue::new`); everything here reaches
//! it through `libublk::with_task_io_ring_mut`, never holding the borrow across calls into
//! libublk.

use std::io;
use std::time::{Duration, Instant};

use io_uring::squeue::Entry;
use io_uring::types::{SubmitArgs, Timespec};
use io_uring::{opcode, types};
use libublk::with_task_io_ring_mut;
use t3_hw::{Engine, SqFull, Submitter};

use crate::user_data;

/// Rounds of submit-and-retry one engine flush may take when the SQ is full.
const FLUSH_ROUNDS: usize = 64;

/// The engine's view of the queue ring: SQEs get the engine's user data (target bit set, so
/// libublk hands their CQEs back to us as target I/O).
pub(super) struct QueueRing;

impl Submitter for QueueRing {
    fn sq_space(&mut self) -> usize {
        with_task_io_ring_mut(|ring| {
            let sq = ring.submission();
            sq.capacity() - sq.len()
        })
    }

    fn push(&mut self, token: u64, sqe: Entry) -> Result<(), SqFull> {
        let sqe = sqe.user_data(user_data::engine(token));
        // SAFETY: the engine keeps every buffer an SQE points at alive and unmoved until the
        // op's last CQE is routed back to `Engine::on_cqe` (its own invariant), and task
        // buffers are covered by the registration contract the queue loop upholds.
        with_task_io_ring_mut(|ring| unsafe { ring.submission().push(&sqe) }).map_err(|_| SqFull)
    }
}

/// Pushes every SQE the engine wants, submitting to make room when the SQ fills.
pub(super) fn flush_engine(engine: &mut Engine) -> io::Result<()> {
    for _ in 0..FLUSH_ROUNDS {
        match engine.flush(&mut QueueRing) {
            Ok(_) => return Ok(()),
            Err(SqFull) => {
                with_task_io_ring_mut(|ring| ring.submit())?;
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::WouldBlock,
        "the queue ring's submission queue stays full",
    ))
}

/// A one-shot io_uring timeout whose timespec sits at a stable address, because the kernel
/// reads it when the SQE is submitted, which may be after the push. One timer has at most
/// one timeout in flight.
pub(super) struct Timer {
    timespec: Box<Timespec>,
    user_data: u64,
    /// When the timeout in flight fires, if one is.
    armed_until: Option<Instant>,
}

impl Timer {
    pub(super) fn new(user_data: u64) -> Timer {
        Timer {
            timespec: Box::new(Timespec::new()),
            user_data,
            armed_until: None,
        }
    }

    /// When the timeout in flight fires, if one is.
    pub(super) fn armed_until(&self) -> Option<Instant> {
        self.armed_until
    }

    /// Its CQE came back.
    pub(super) fn fired(&mut self) {
        self.armed_until = None;
    }

    /// Arms the timer to fire `after` from `now`; does nothing while a timeout is in flight.
    pub(super) fn arm(&mut self, now: Instant, after: Duration) -> io::Result<()> {
        if self.armed_until.is_some() {
            return Ok(());
        }
        *self.timespec = Timespec::new()
            .sec(after.as_secs())
            .nsec(after.subsec_nanos());
        let sqe = opcode::Timeout::new(&*self.timespec as *const Timespec)
            .build()
            .user_data(self.user_data);
        loop {
            // SAFETY: the timespec is boxed in `self`, not changed while a timeout is in
            // flight, and outlives the ring's next submit.
            let pushed = with_task_io_ring_mut(|ring| unsafe { ring.submission().push(&sqe) });
            if pushed.is_ok() {
                self.armed_until = Some(now + after);
                return Ok(());
            }
            with_task_io_ring_mut(|ring| ring.submit())?;
        }
    }
}

/// Submits and waits up to `limit` for a CQE, then takes every CQE as (user data, result,
/// flags). Only for when no ublk command is in the ring (before FETCH, after the queue is
/// down): libublk counts the commands it reaps itself.
pub(super) fn wait_and_reap(limit: Duration, out: &mut Vec<(u64, i32, u32)>) -> io::Result<()> {
    let timespec = types::Timespec::new()
        .sec(limit.as_secs())
        .nsec(limit.subsec_nanos());
    let args = SubmitArgs::new().timespec(&timespec);
    with_task_io_ring_mut(|ring| {
        match ring.submitter().submit_with_args(1, &args) {
            Ok(_) => {}
            Err(error) if matches!(error.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
            Err(error) => return Err(error),
        }
        out.extend(
            ring.completion()
                .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
        );
        Ok(())
    })
}
