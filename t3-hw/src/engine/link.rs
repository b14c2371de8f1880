//! Linked op chains (IOSQE_IO_LINK) and what one CQE of a chain means.
//!
//! The engine moves a stream in order with chains of ops: a receive chain is "payload, tail,
//! next header"; a send chain is "SENDMSG, WRITE_FIXED, SENDMSG". Each op asks for exactly the
//! bytes it moves (MSG_WAITALL where the op has it), so an op that moves fewer fails the link
//! and the kernel cancels the ops behind it; the engine then resumes at the first byte that did
//! not move once every CQE of the chain is in.

/// What one CQE of a chain says about its op.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpResult {
    /// Every byte asked for moved.
    Complete,
    /// Some bytes moved, not all; the ops behind it come back cancelled.
    Short(u32),
    /// Cancelled: behind a short or failed op, or by the engine's teardown.
    Cancelled,
    /// The peer closed the stream (0 bytes).
    Eof,
    /// The op failed with this errno.
    Failed(i32),
    /// Bytes moved although an op ahead of it was short, or more bytes than asked: the stream
    /// order can no longer be trusted.
    OutOfOrder,
}

/// Classifies the result of an op that asked for `remaining` bytes, in a chain that is
/// `broken` when an earlier op of it came back short.
pub(crate) fn classify(result: i32, remaining: u32, broken: bool) -> OpResult {
    if result < 0 {
        return match -result {
            libc::ECANCELED => OpResult::Cancelled,
            errno => OpResult::Failed(errno),
        };
    }
    let moved = result.unsigned_abs();
    if broken && moved > 0 || moved > remaining {
        return OpResult::OutOfOrder;
    }
    if moved == remaining {
        OpResult::Complete
    } else if moved == 0 {
        OpResult::Eof
    } else {
        OpResult::Short(moved)
    }
}

/// CQEs still expected for a submitted chain, and whether it broke.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Chain {
    in_flight: usize,
    broken: bool,
}

impl Chain {
    /// A chain of `ops` ops was pushed.
    pub(super) fn submitted(&mut self, ops: usize) {
        self.in_flight = ops;
        self.broken = false;
    }

    /// Whether CQEs are still expected.
    pub(super) fn is_active(&self) -> bool {
        self.in_flight > 0
    }

    /// Whether an op of the chain came back short.
    pub(super) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Marks the chain broken: the ops behind the current one will be cancelled.
    pub(super) fn break_link(&mut self) {
        self.broken = true;
    }

    /// Counts one CQE; returns whether it was the chain's last.
    pub(super) fn on_cqe(&mut self) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.in_flight == 0
    }
}

#[cfg(test)]
mod tests;
