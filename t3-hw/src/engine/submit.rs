//! The engine's only way onto a ring: a [`Submitter`] the ring owner implements.
//!
//! The engine owns no io_uring. It hands SQEs with a 24-bit token (see
//! [`token`](super::token)); the owner stores the token in the SQE's user data in whatever
//! encoding its ring uses and routes the CQE back with
//! [`Engine::on_cqe`](super::Engine::on_cqe).

use io_uring::squeue::Entry;
use io_uring::IoUring;
use thiserror::Error;

/// The submission queue has no room; the engine keeps the work and retries on the next flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("submission queue full")]
pub struct SqFull;

/// Where the engine puts its SQEs.
///
/// Linked chains (IOSQE_IO_LINK) only stay linked inside one `io_uring_enter`, so an
/// implementation must not submit to the kernel on its own between the pushes of one
/// [`Engine::flush`](super::Engine::flush); the engine pushes a chain only when
/// [`sq_space`](Submitter::sq_space) says it fits.
pub trait Submitter {
    /// Free entries in the submission queue right now.
    fn sq_space(&mut self) -> usize;

    /// Queues `sqe` with user data derived from `token` (a value below `1 << TOKEN_BITS`).
    fn push(&mut self, token: u64, sqe: Entry) -> Result<(), SqFull>;
}

/// A plain ring: the token is the user data.
impl Submitter for IoUring {
    fn sq_space(&mut self) -> usize {
        let sq = self.submission();
        sq.capacity() - sq.len()
    }

    fn push(&mut self, token: u64, sqe: Entry) -> Result<(), SqFull> {
        let sqe = sqe.user_data(token);
        // SAFETY: every SQE the engine builds points at memory it keeps alive and unmoved until
        // the op's last CQE reaches `Engine::on_cqe` (the engine's own invariant), or at task
        // buffers whose registration contract covers the same span.
        unsafe { self.submission().push(&sqe) }.map_err(|_| SqFull)
    }
}
