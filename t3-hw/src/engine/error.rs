//! Errors the engine reports synchronously, and why it aborted a connection.

use thiserror::Error;

use super::task_buffer::TaskBufferError;
use crate::credits::CreditError;
use crate::tid::Tid;

/// A work request the engine refused; nothing was queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PostError {
    /// No connection has this TID (never opened, or already closed or aborted).
    #[error("no connection with tid {tid:?}")]
    UnknownTid {
        /// The TID.
        tid: Tid,
    },
    /// The connection is closing or aborting; it takes no more data or updates.
    #[error("connection {tid:?} is closing")]
    Closing {
        /// The TID.
        tid: Tid,
    },
    /// An open with this active-open id is still in progress.
    #[error("active open {atid:#x} is already in progress")]
    DuplicateAtid {
        /// The active-open id.
        atid: u32,
    },
    /// Every connection slot is in use.
    #[error("all {max} connection slots are in use")]
    TooManyConnections {
        /// Slots per engine.
        max: usize,
    },
    /// The PDU's task payload cannot be sent from the registered buffer.
    #[error("task payload: {0}")]
    TaskBuffer(#[from] TaskBufferError),
    /// The PDU needs more work-request credits than a connection has.
    #[error("work-request credits: {0}")]
    Credits(#[from] CreditError),
    /// Only TCB word 31 (DDP page size and ULP submode) means anything to this engine.
    #[error("TCB word {word} is not modelled (only word 31)")]
    UnsupportedTcbWord {
        /// The word.
        word: u16,
    },
    /// A page-size index outside the table, or a submode above 3, in TCB word 31.
    #[error("TCB word 31 value {value:#x} has no valid page size or submode")]
    InvalidTcbValue {
        /// The word after the update.
        value: u64,
    },
}

/// Why the engine aborted a connection (reported with `Completion::Abort`, kept for
/// [`Engine::abort_reason`](super::Engine::abort_reason)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortReason {
    /// The initiator asked (ABORT_REQ).
    Requested,
    /// A send or receive failed with this errno.
    Socket {
        /// The errno.
        errno: i32,
    },
    /// A PDU announced a data segment longer than we accept; nothing of it was buffered.
    DataSegmentTooLong {
        /// DataSegmentLength from the BHS.
        len: u32,
        /// The configured maximum.
        max: u32,
    },
    /// Payload bound for an io_uring fixed buffer arrived in the staging buffer (the header
    /// digest was switched off while a header read sized for it was in flight, or a fixed
    /// buffer was registered while a read-ahead was), and userspace cannot copy it there.
    SubmodeChangedMidHeader,
    /// The kernel moved data for an op linked behind a short one, so the stream order is lost.
    LinkOrderBroken,
    /// An op was cancelled that the engine did not cancel.
    UnexpectedCancel,
    /// The engine was shut down with the connection open.
    EngineShutdown,
}
