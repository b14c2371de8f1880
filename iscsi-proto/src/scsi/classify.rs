//! What a block device should do with a finished command: complete it, retry it, or fail it
//! with a Linux errno.
//!
//! Policy, following Linux `scsi_decide_disposition` / `scsi_check_sense` where it matters:
//!
//! | status                 | disposition                                                  |
//! |------------------------|--------------------------------------------------------------|
//! | GOOD, CONDITION MET    | complete                                                     |
//! | CHECK CONDITION        | from the sense data ([`Sense::action`]); no sense → fail EIO |
//! | BUSY, TASK SET FULL    | retry                                                        |
//! | TASK ABORTED, ACA ACTIVE | retry (another nexus aborted it / holds ACA; we never set NACA) |
//! | RESERVATION CONFLICT   | fail, EBADE (as Linux `BLK_STS_RESV_CONFLICT`)               |
//! | anything else          | fail, EIO                                                    |
//!
//! Retry counting and back-off belong to the caller.

use thiserror::Error;

use super::sense::{Sense, SenseKey};
use super::status::ScsiStatus;

/// The decision for a CHECK CONDITION, from its sense data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SenseAction {
    /// The command did complete: RECOVERED ERROR (the target recovered; data is good) or
    /// COMPLETED.
    Complete,
    /// Reissue the command: UNIT ATTENTION, NOT READY 04/01 (becoming ready), ABORTED COMMAND,
    /// and any deferred error (it reports an earlier command's failure; this one did not run,
    /// as in Linux).
    Retry,
    /// Give up; [`Sense::block_error`] says with which errno.
    Fail,
}

/// Errno class handed to the block layer (ublk commits `-errno`). Values are Linux errno numbers,
/// spelled out to avoid a libc dependency: EIO 5, EAGAIN 11, ENOSPC 28, EROFS 30, EBADE 52,
/// ENODATA 61, ENOLINK 67, EOPNOTSUPP 95, EREMOTEIO 121. The kernel's `errno_to_blk_status`
/// turns these into the matching `BLK_STS_*` (EROFS has none and becomes `BLK_STS_IOERR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
pub enum BlockError {
    /// Generic I/O error (EIO).
    #[error("I/O error (EIO)")]
    Io,
    /// Thin-provisioned space exhausted, 27/07 (ENOSPC, `BLK_STS_NOSPC`).
    #[error("no space left on the target (ENOSPC)")]
    NoSpace,
    /// MEDIUM ERROR: the data cannot be read or written (ENODATA, `BLK_STS_MEDIUM`).
    #[error("medium error (ENODATA)")]
    Medium,
    /// Write protected, ASC 27h other than 27/07 (EROFS). Chosen over Linux's EREMOTEIO so the
    /// daemon can tell a read-only LUN apart and mark the device read-only.
    #[error("write protected (EROFS)")]
    ReadOnly,
    /// ILLEGAL REQUEST 20/00, invalid command operation code: the target does not implement the
    /// command (EOPNOTSUPP, `BLK_STS_NOTSUPP`; the kernel stops sending e.g. discards).
    #[error("operation not supported by the target (EOPNOTSUPP)")]
    NotSupported,
    /// The target rejected or failed the command itself: other ILLEGAL REQUEST, HARDWARE ERROR,
    /// other DATA PROTECT, BLANK CHECK, COPY ABORTED, VOLUME OVERFLOW, MISCOMPARE
    /// (EREMOTEIO, `BLK_STS_TARGET`: not retried on another path).
    #[error("target failure (EREMOTEIO)")]
    Target,
    /// The transport to the target is gone (ENOLINK, `BLK_STS_TRANSPORT`). Not produced by sense
    /// classification; for the session layer when a connection cannot be recovered in time.
    #[error("transport failure (ENOLINK)")]
    Transport,
    /// Try again later (EAGAIN, `BLK_STS_AGAIN`). Not produced by sense classification; for a
    /// caller that has used up its retries on a retryable condition and wants the kernel to
    /// resubmit.
    #[error("temporarily unavailable (EAGAIN)")]
    Again,
    /// RESERVATION CONFLICT status (EBADE, `BLK_STS_RESV_CONFLICT`).
    #[error("reservation conflict (EBADE)")]
    ReservationConflict,
}

impl BlockError {
    /// The negative errno to complete the block request with.
    pub fn errno(self) -> i32 {
        -match self {
            Self::Io => 5,
            Self::Again => 11,
            Self::NoSpace => 28,
            Self::ReadOnly => 30,
            Self::ReservationConflict => 52,
            Self::Medium => 61,
            Self::Transport => 67,
            Self::NotSupported => 95,
            Self::Target => 121,
        }
    }
}

impl Sense {
    /// Complete, retry or fail this CHECK CONDITION (see [`SenseAction`]).
    pub fn action(&self) -> SenseAction {
        match self.key {
            SenseKey::RecoveredError | SenseKey::Completed => SenseAction::Complete,
            _ if self.deferred => SenseAction::Retry,
            SenseKey::UnitAttention | SenseKey::AbortedCommand => SenseAction::Retry,
            SenseKey::NotReady if (self.asc, self.ascq) == (0x04, 0x01) => SenseAction::Retry,
            _ => SenseAction::Fail,
        }
    }

    /// The errno class to fail with (used when [`Sense::action`] is `Fail`, or when retries of a
    /// retryable condition run out — then it is EIO unless the sense says more).
    pub fn block_error(&self) -> BlockError {
        match (self.key, self.asc, self.ascq) {
            (_, 0x27, 0x07) => BlockError::NoSpace,
            (SenseKey::DataProtect | SenseKey::IllegalRequest, 0x27, _) => BlockError::ReadOnly,
            (SenseKey::MediumError, _, _) => BlockError::Medium,
            (SenseKey::IllegalRequest, 0x20, 0x00) => BlockError::NotSupported,
            (
                SenseKey::IllegalRequest
                | SenseKey::HardwareError
                | SenseKey::DataProtect
                | SenseKey::BlankCheck
                | SenseKey::CopyAborted
                | SenseKey::VolumeOverflow
                | SenseKey::Miscompare,
                _,
                _,
            ) => BlockError::Target,
            _ => BlockError::Io,
        }
    }
}

/// The outcome of a command for the block layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Done; complete the block request with the transferred bytes.
    Complete,
    /// Reissue the command (the caller bounds the number of tries).
    Retry,
    /// Complete the block request with this error.
    Fail(BlockError),
}

/// Classify a finished command from its status and, for CHECK CONDITION, its parsed sense data
/// (`None` when the target sent none or it did not parse). See the module table.
pub fn classify(status: ScsiStatus, sense: Option<&Sense>) -> Disposition {
    match status {
        ScsiStatus::Good | ScsiStatus::ConditionMet => Disposition::Complete,
        ScsiStatus::CheckCondition => match sense {
            None => Disposition::Fail(BlockError::Io),
            Some(sense) => match sense.action() {
                SenseAction::Complete => Disposition::Complete,
                SenseAction::Retry => Disposition::Retry,
                SenseAction::Fail => Disposition::Fail(sense.block_error()),
            },
        },
        ScsiStatus::Busy
        | ScsiStatus::TaskSetFull
        | ScsiStatus::TaskAborted
        | ScsiStatus::AcaActive => Disposition::Retry,
        ScsiStatus::ReservationConflict => Disposition::Fail(BlockError::ReservationConflict),
        ScsiStatus::Other(_) => Disposition::Fail(BlockError::Io),
    }
}

#[cfg(test)]
mod tests;
