//! A ring of its own for the engine: what the CLI tools (discover, probe, perf) and the tests
//! run it on. On a ublk queue the engine shares the queue's ring instead.

use std::io;
use std::time::{Duration, Instant};

use io_uring::types::{SubmitArgs, Timespec};
use io_uring::IoUring;
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

/// An engine together with an io_uring only it uses.
pub struct OwnedRing {
    ring: IoUring,
    engine: Engine,
    cqes: Vec<(u64, i32, u32)>,
}

impl OwnedRing {
    /// A ring of `entries` submission entries driving `engine`.
    pub fn new(engine: Engine, entries: u32) -> io::Result<OwnedRing> {
        // Cooperative task running avoids IPIs to this thread; fall back where unsupported.
        let ring = IoUring::builder()
            .setup_coop_taskrun()
            .build(entries)
            .or_else(|_| IoUring::new(entries))?;
        Ok(OwnedRing {
            ring,
            engine,
            cqes: Vec::new(),
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

    /// Routes every available CQE to the engine; returns how many.
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
        mut done: impl FnMut(&mut Engine) -> bool,
        timeout: Duration,
    ) -> Result<(), DriverError> {
        let deadline = Instant::now() + timeout;
        loop {
            if done(&mut self.engine) {
                return Ok(());
            }
            self.flush()?;
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Err(DriverError::TimedOut(timeout));
            };
            self.submit_and_wait_for(left)?;
            self.dispatch();
        }
    }

    fn submit_and_wait_for(&mut self, limit: Duration) -> io::Result<()> {
        let timespec = Timespec::new()
            .sec(limit.as_secs())
            .nsec(limit.subsec_nanos());
        let args = SubmitArgs::new().timespec(&timespec);
        match self.ring.submitter().submit_with_args(1, &args) {
            Ok(_) => Ok(()),
            Err(error) if matches!(error.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => Ok(()),
            Err(error) => Err(error),
        }
    }
}

impl Drop for OwnedRing {
    fn drop(&mut self) {
        self.engine.shut_down();
        let deadline = Instant::now() + DRAIN_ON_DROP;
        while self.engine.ops_in_flight() > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            if self.flush().is_err() || self.submit_and_wait_for(left).is_err() {
                break;
            }
            self.dispatch();
        }
        // Anything still in flight is leaked by the engine's own drop.
    }
}
