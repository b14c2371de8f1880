//! A ring of its own for the engine: what the CLI tools (discover, probe, perf) and the tests
//! run it on. On a ublk queue the engine shares the queue's ring instead.
//!
//! A wait's deadline is absolute where the kernel allows (IORING_ENTER_ABS_TIMER, 6.12+), so
//! the clock is read once per `run_until`, not once per wait.

use std::io;
use std::time::{Duration, Instant};

use io_uring::types::{SubmitArgs, Timespec};
use io_uring::{EnterFlags, IoUring};
use thiserror::Error;

use super::submit::SqFull;
use super::Engine;

/// How long dropping an [`OwnedRing`] waits for cancelled ops to come back.
const DRAIN_ON_DROP: Duration = Duration::from_secs(2);
/// Submit-and-retry rounds one flush may take before giving up on a full queue.
const FLUSH_ROUNDS: usize = 64;

/// A driver failure.
#[derive(Debug, Error)]
pub enum DriverError {
    /// io_uring_enter or setup failed.
    #[error("io_uring: {0}")]
    Io(#[from] io::Error),
    /// The condition did not hold within the time allowed.
    #[error("condition not met within {0:?}")]
    TimedOut(Duration),
}

/// When a wait must end: a point on CLOCK_MONOTONIC (the clock io_uring timeouts use) for
/// kernels that take absolute timeouts, an `Instant` for the others.
#[derive(Clone, Copy)]
enum Deadline {
    Absolute(Timespec),
    Relative(Instant),
}

impl Deadline {
    fn after(timeout: Duration, absolute: bool) -> io::Result<Deadline> {
        if !absolute {
            return Ok(Deadline::Relative(Instant::now() + timeout));
        }
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec to write into.
        if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let at = Duration::new(now.tv_sec as u64, now.tv_nsec as u32).saturating_add(timeout);
        Ok(Deadline::Absolute(
            Timespec::new().sec(at.as_secs()).nsec(at.subsec_nanos()),
        ))
    }
}

/// An engine together with an io_uring only it uses.
pub struct OwnedRing {
    ring: IoUring,
    engine: Engine,
    cqes: Vec<(u64, i32, u32)>,
    /// Whether the kernel takes absolute timeouts (6.12+, when minimum waits came too).
    abs_timer: bool,
}

impl OwnedRing {
    /// A ring of `entries` submission entries driving `engine`.
    pub fn new(engine: Engine, entries: u32) -> io::Result<OwnedRing> {
        // Cooperative task running avoids IPIs to this thread; fall back where unsupported.
        // (Single-issuer rings with deferred task work measured no better here, and would tie
        // the ring to the thread that created it.)
        let ring = IoUring::builder()
            .setup_coop_taskrun()
            .build(entries)
            .or_else(|_| IoUring::new(entries))?;
        let abs_timer = ring.params().is_feature_min_timeout();
        Ok(OwnedRing {
            ring,
            engine,
            cqes: Vec::new(),
            abs_timer,
        })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, to post requests and poll completions.
    pub fn engine_mut(&mut self) -> &mut Engine {
        &mut self.engine
    }

    /// Registers fixed buffers on the ring (for [`Engine::register_fixed_task_buffer`]).
    ///
    /// # Safety
    ///
    /// Each iovec must describe memory that stays valid until the buffers are unregistered or
    /// the ring is dropped.
    pub unsafe fn register_buffers(&mut self, buffers: &[libc::iovec]) -> io::Result<()> {
        // SAFETY: forwarded to the caller.
        unsafe { self.ring.submitter().register_buffers(buffers) }
    }

    /// Pushes everything the engine wants, submitting whenever the queue fills.
    fn flush(&mut self) -> io::Result<()> {
        for _ in 0..FLUSH_ROUNDS {
            match self.engine.flush(&mut self.ring) {
                Ok(_) => return Ok(()),
                Err(SqFull) => {
                    self.ring.submit()?;
                    self.dispatch();
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "submission queue stays full",
        ))
    }

    /// Routes every available CQE to the engine, then settles the silent sends the last enter
    /// submitted; returns how many CQEs were routed.
    fn dispatch(&mut self) -> usize {
        self.cqes.clear();
        self.cqes.extend(
            self.ring
                .completion()
                .map(|cqe| (cqe.user_data(), cqe.result(), cqe.flags())),
        );
        for &(token, result, flags) in &self.cqes {
            self.engine.on_cqe(token, result, flags);
        }
        // Every SQE pushed so far went in with the last enter (nothing pushes between an
        // enter and this call), so its silent sends have finished.
        if self.ring.submission().is_empty() {
            self.engine.settle_silent_sends();
        }
        self.cqes.len()
    }

    /// Flushes, submits, waits for at least `min_complete` CQEs and routes them; returns how
    /// many CQEs were routed.
    pub fn wait(&mut self, min_complete: usize) -> io::Result<usize> {
        self.flush()?;
        match self.ring.submit_and_wait(min_complete) {
            Ok(_) => {}
            Err(error) if error.raw_os_error() == Some(libc::EINTR) => {}
            Err(error) => return Err(error),
        }
        let routed = self.dispatch();
        self.flush()?;
        Ok(routed)
    }

    /// Drives the engine until `done` holds (checked before every wait), or `timeout` passes.
    pub fn run_until(
        &mut self,
        done: impl FnMut(&mut Engine) -> bool,
        timeout: Duration,
    ) -> Result<(), DriverError> {
        self.engine.set_silent_sends(false);
        self.drive(done, timeout)
    }

    /// [`run_until`](Self::run_until) for a `done` that only received data can make true
    /// (PDUs, connection events), never a send's completion by itself. Sends may then go out
    /// silent ([`Engine::set_silent_sends`]): a send and the wait for its reply cost one
    /// io_uring_enter instead of two.
    pub fn run_until_received(
        &mut self,
        done: impl FnMut(&mut Engine) -> bool,
        timeout: Duration,
    ) -> Result<(), DriverError> {
        self.engine.set_silent_sends(true);
        let result = self.drive(done, timeout);
        self.engine.set_silent_sends(false);
        result
    }

    fn drive(
        &mut self,
        mut done: impl FnMut(&mut Engine) -> bool,
        timeout: Duration,
    ) -> Result<(), DriverError> {
        let deadline = Deadline::after(timeout, self.abs_timer)?;
        loop {
            if done(&mut self.engine) {
                return Ok(());
            }
            self.flush()?;
            let timed_out = self.submit_and_wait_until(deadline)?;
            let routed = self.dispatch();
            if timed_out && routed == 0 && !done(&mut self.engine) {
                return Err(DriverError::TimedOut(timeout));
            }
        }
    }

    /// Submits and waits for a CQE until `deadline`; returns whether the deadline passed.
    fn submit_and_wait_until(&mut self, deadline: Deadline) -> io::Result<bool> {
        let result = match deadline {
            Deadline::Absolute(at) => {
                let args = SubmitArgs::new().timespec(&at);
                self.ring
                    .submitter()
                    .submit_with_args_and_flags(1, &args, EnterFlags::ABS_TIMER)
            }
            Deadline::Relative(at) => {
                let left = at.saturating_duration_since(Instant::now());
                let timespec = Timespec::new()
                    .sec(left.as_secs())
                    .nsec(left.subsec_nanos());
                let args = SubmitArgs::new().timespec(&timespec);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match result {
            Ok(_) => Ok(false),
            Err(error) if error.raw_os_error() == Some(libc::ETIME) => Ok(true),
            Err(error) if error.raw_os_error() == Some(libc::EINTR) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

impl Drop for OwnedRing {
    fn drop(&mut self) {
        self.engine.shut_down();
        let Ok(deadline) = Deadline::after(DRAIN_ON_DROP, self.abs_timer) else {
            return;
        };
        while self.engine.ops_in_flight() > 0 && self.flush().is_ok() {
            let timed_out = self.submit_and_wait_until(deadline);
            self.dispatch();
            if !matches!(timed_out, Ok(false)) {
                break;
            }
        }
        // Anything still in flight is leaked by the engine's own drop.
    }
}
