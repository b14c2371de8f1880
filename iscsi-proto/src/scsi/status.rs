//! SCSI status codes (SAM-5 5.3), as carried in the iSCSI SCSI Response and Data-In PDUs.

use std::fmt;

/// A SCSI status byte; values this initiator does not know are kept in [`ScsiStatus::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScsiStatus {
    /// 0x00: the command completed.
    Good,
    /// 0x02: sense data describes an error or exception.
    CheckCondition,
    /// 0x04: a PRE-FETCH found room in the cache.
    ConditionMet,
    /// 0x08: the LU is busy; retry later.
    Busy,
    /// 0x18: another initiator holds a reservation.
    ReservationConflict,
    /// 0x28: the task set is full; retry when a command completes.
    TaskSetFull,
    /// 0x30: an ACA condition exists.
    AcaActive,
    /// 0x40: the command was aborted by another I_T nexus (TAS).
    TaskAborted,
    /// Any other (obsolete or reserved) value.
    Other(u8),
}

impl From<u8> for ScsiStatus {
    fn from(raw: u8) -> Self {
        match raw {
            0x00 => Self::Good,
            0x02 => Self::CheckCondition,
            0x04 => Self::ConditionMet,
            0x08 => Self::Busy,
            0x18 => Self::ReservationConflict,
            0x28 => Self::TaskSetFull,
            0x30 => Self::AcaActive,
            0x40 => Self::TaskAborted,
            other => Self::Other(other),
        }
    }
}

impl From<ScsiStatus> for u8 {
    fn from(status: ScsiStatus) -> Self {
        match status {
            ScsiStatus::Good => 0x00,
            ScsiStatus::CheckCondition => 0x02,
            ScsiStatus::ConditionMet => 0x04,
            ScsiStatus::Busy => 0x08,
            ScsiStatus::ReservationConflict => 0x18,
            ScsiStatus::TaskSetFull => 0x28,
            ScsiStatus::AcaActive => 0x30,
            ScsiStatus::TaskAborted => 0x40,
            ScsiStatus::Other(raw) => raw,
        }
    }
}

impl fmt::Display for ScsiStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Good => "GOOD",
            Self::CheckCondition => "CHECK CONDITION",
            Self::ConditionMet => "CONDITION MET",
            Self::Busy => "BUSY",
            Self::ReservationConflict => "RESERVATION CONFLICT",
            Self::TaskSetFull => "TASK SET FULL",
            Self::AcaActive => "ACA ACTIVE",
            Self::TaskAborted => "TASK ABORTED",
            Self::Other(raw) => return write!(f, "status {raw:#04x}"),
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests;
