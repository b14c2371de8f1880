//! A finished SCSI task to a ublk result: the byte count, a retry, or a negative errno.
//!
//! Status and sense go through iscsi-proto's `classify` (Linux `scsi_decide_disposition`
//! semantics); the supervisor backs retries off until their window closes and then fails
//! with the errno a retry carries ([`exhausted`]).

use iscsi_proto::scsi::{classify, BlockError, Disposition, ScsiStatus, Sense};
use iscsi_proto::session::{Residual, TaskOutcome};

use crate::ops::PlanKind;
use crate::supervisor::Judged;

/// Judges `outcome` of a command of `kind` that expected `data_len` bytes.
pub(crate) fn judge(kind: PlanKind, data_len: u32, outcome: &TaskOutcome) -> Judged {
    match outcome {
        TaskOutcome::Status {
            status,
            sense,
            residual,
        } => {
            let sense = sense.as_deref().and_then(|bytes| Sense::parse(bytes).ok());
            match classify(ScsiStatus::from(*status), sense.as_ref()) {
                Disposition::Complete => completed(kind, data_len, *residual),
                Disposition::Retry => Judged::Retry {
                    errno: exhausted(outcome),
                },
                Disposition::Fail(error) => Judged::Failed(error.errno()),
            }
        }
        // The command never ran to a status (aborted by a task management function, or the
        // connection went away before it was sent): running it again is safe.
        TaskOutcome::Aborted => Judged::Retry {
            errno: BlockError::Io.errno(),
        },
        TaskOutcome::TargetFailure { .. } | TaskOutcome::Rejected { .. } => {
            Judged::Failed(BlockError::Io.errno())
        }
    }
}

/// The errno for a task whose retries ran out: what the sense data says when it says more than
/// "retry" (e.g. a persistent medium error reported as a deferred error), else EIO.
fn exhausted(outcome: &TaskOutcome) -> i32 {
    match outcome {
        TaskOutcome::Status {
            sense: Some(bytes), ..
        } => Sense::parse(bytes)
            .map(|sense| sense.block_error())
            .unwrap_or(BlockError::Io)
            .errno(),
        _ => BlockError::Io.errno(),
    }
}

/// The result of a command that completed: the bytes it moved for READ / WRITE (less any
/// underflow), 0 for the others. A READ or WRITE that moved nothing is an I/O error: committing
/// 0 bytes would make the kernel requeue it forever.
fn completed(kind: PlanKind, data_len: u32, residual: Residual) -> Judged {
    match kind {
        PlanKind::Read | PlanKind::Write => {
            let moved = match residual {
                Residual::Underflow(missing) => data_len.saturating_sub(missing),
                Residual::None | Residual::Overflow(_) => data_len,
            };
            match i32::try_from(moved) {
                Ok(bytes) if bytes > 0 => Judged::Done(bytes),
                _ => Judged::Failed(BlockError::Io.errno()),
            }
        }
        PlanKind::Flush | PlanKind::Discard | PlanKind::WriteZeroes => Judged::Done(0),
    }
}

#[cfg(test)]
mod tests;
