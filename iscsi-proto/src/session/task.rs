//! One SCSI task's progress through the session: Data-In and R2T sequencing and its outcome.

use super::error::SessionError;
use super::Command;
use crate::negotiation::SessionParams;
use crate::pdu::{DataIn, R2t, RESERVED_TAG};
use crate::serial::Sn;

/// The data direction of a SCSI command, from the initiator's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    None,
    Read,
    Write,
}

/// Residual reported with a SCSI status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Residual {
    None,
    /// The target transferred this many bytes fewer than expected.
    Underflow(u32),
    /// The target had this many bytes more than the expected length.
    Overflow(u32),
}

impl Residual {
    pub(super) fn from_flags(overflow: bool, underflow: bool, count: u32) -> Residual {
        if underflow {
            Residual::Underflow(count)
        } else if overflow {
            Residual::Overflow(count)
        } else {
            Residual::None
        }
    }
}

/// How a SCSI task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskOutcome {
    /// The target completed the command with this SCSI status (GOOD = 0).
    Status {
        status: u8,
        sense: Option<Vec<u8>>,
        residual: Residual,
    },
    /// iSCSI service response "target failure" (or another non-zero response).
    TargetFailure { response: u8 },
    /// Ended by ABORT TASK / LUN RESET, or never sent.
    Aborted,
    /// The target rejected the command PDU.
    Rejected { reason: u8 },
}

/// How the start of a write's data goes out without an R2T.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DataOutPlan {
    /// Bytes carried in the command PDU itself (ImmediateData).
    pub immediate: u32,
    /// Bytes sent as unsolicited Data-Out PDUs right after the command (InitialR2T=No).
    pub unsolicited_data_out: u32,
}

impl DataOutPlan {
    /// RFC 7143 §4.2.5.2: unsolicited data (immediate + Data-Out) is at most FirstBurstLength;
    /// immediate data is at most the target's MaxRecvDataSegmentLength.
    pub(super) fn unsolicited(params: &SessionParams, dir: Direction, len: u32) -> DataOutPlan {
        let none = DataOutPlan {
            immediate: 0,
            unsolicited_data_out: 0,
        };
        if dir != Direction::Write || len == 0 {
            return none;
        }
        let first_burst = params.first_burst_length.min(len);
        let immediate = if params.immediate_data {
            first_burst.min(params.max_xmit_data_segment_length)
        } else {
            0
        };
        let unsolicited_data_out = if params.initial_r2t {
            0
        } else {
            first_burst - immediate
        };
        DataOutPlan {
            immediate,
            unsolicited_data_out,
        }
    }
}

#[derive(Debug)]
pub(super) struct Task {
    pub itt: u32,
    pub lun: u64,
    pub cdb: Vec<u8>,
    pub direction: Direction,
    pub data_len: u32,
    pub attr: u8,
    /// Assigned when the command PDU is released to the transport.
    pub cmdsn: Option<Sn>,
    next_datasn: u32,
    pub data_in_bytes: u32,
    next_r2tsn: u32,
    r2ts_outstanding: u32,
}

impl Task {
    pub(super) fn new(cmd: Command) -> Task {
        Task {
            itt: cmd.itt,
            lun: cmd.lun,
            cdb: cmd.cdb,
            direction: cmd.direction,
            data_len: cmd.data_len,
            attr: cmd.attr,
            cmdsn: None,
            next_datasn: 0,
            data_in_bytes: 0,
            next_r2tsn: 0,
            r2ts_outstanding: 0,
        }
    }

    /// Checks a Data-In against this task: in order (DataPDUInOrder=Yes), inside the buffer.
    pub(super) fn accept_data_in(&mut self, h: &DataIn, len: u32) -> Result<(), SessionError> {
        let itt = self.itt;
        if len > 0 && self.direction != Direction::Read {
            return Err(SessionError::DataInForNonRead(itt));
        }
        if h.datasn != self.next_datasn {
            return Err(SessionError::DataSnGap {
                itt,
                expected: self.next_datasn,
                got: h.datasn,
            });
        }
        if len > 0 && h.buffer_offset != self.data_in_bytes {
            return Err(SessionError::DataOffset {
                itt,
                expected: self.data_in_bytes,
                got: h.buffer_offset,
            });
        }
        let end = h.buffer_offset.checked_add(len);
        if end.is_none_or(|end| end > self.data_len) {
            return Err(SessionError::DataPastEnd {
                itt,
                offset: h.buffer_offset,
                len,
                expected_len: self.data_len,
            });
        }
        self.next_datasn = self.next_datasn.wrapping_add(1);
        self.data_in_bytes += len;
        Ok(())
    }

    /// Checks an R2T: numbered in order, inside the transfer, within the negotiated limits.
    pub(super) fn accept_r2t(
        &mut self,
        h: &R2t,
        max_burst: u32,
        max_outstanding: u32,
    ) -> Result<(), SessionError> {
        let itt = self.itt;
        if self.direction != Direction::Write {
            return Err(SessionError::R2tForNonWrite(itt));
        }
        if h.ttt == RESERVED_TAG {
            return Err(SessionError::R2tReservedTtt(itt));
        }
        if h.r2tsn != self.next_r2tsn {
            return Err(SessionError::R2tSnGap {
                itt,
                expected: self.next_r2tsn,
                got: h.r2tsn,
            });
        }
        let end = h.buffer_offset.checked_add(h.desired_len);
        if h.desired_len == 0 || end.is_none_or(|end| end > self.data_len) {
            return Err(SessionError::R2tRange {
                itt,
                offset: h.buffer_offset,
                len: h.desired_len,
                expected_len: self.data_len,
            });
        }
        if h.desired_len > max_burst {
            return Err(SessionError::R2tBurst {
                itt,
                len: h.desired_len,
                max: max_burst,
            });
        }
        if self.r2ts_outstanding >= max_outstanding.max(1) {
            return Err(SessionError::TooManyR2t {
                itt,
                max: max_outstanding,
            });
        }
        self.r2ts_outstanding += 1;
        self.next_r2tsn = self.next_r2tsn.wrapping_add(1);
        Ok(())
    }

    pub(super) fn r2t_sequence_sent(&mut self) {
        self.r2ts_outstanding = self.r2ts_outstanding.saturating_sub(1);
    }

    /// The outcome for a final status; a read that reports success must have received exactly
    /// the bytes the residual implies, or data would be silently missing from the buffer.
    pub(super) fn outcome_for_status(
        &self,
        status: u8,
        sense: Option<Vec<u8>>,
        residual: Residual,
    ) -> Result<TaskOutcome, SessionError> {
        if status == 0 && self.direction == Direction::Read {
            let reported = match residual {
                Residual::Underflow(n) => self.data_len.saturating_sub(n),
                Residual::None | Residual::Overflow(_) => self.data_len,
            };
            if reported != self.data_in_bytes {
                return Err(SessionError::DataCountMismatch {
                    itt: self.itt,
                    received: self.data_in_bytes,
                    reported,
                });
            }
        }
        Ok(TaskOutcome::Status {
            status,
            sense,
            residual,
        })
    }
}

/// The sense data in a SCSI Response (or Async Message) data segment: a 2-byte SenseLength,
/// the sense bytes, then optional response data.
pub(super) fn sense_from_segment(data: &[u8]) -> Result<Option<Vec<u8>>, SessionError> {
    if data.is_empty() {
        return Ok(None);
    }
    let Some(len_bytes) = data.first_chunk::<2>() else {
        return Err(SessionError::BadSense(
            "data segment shorter than SenseLength",
        ));
    };
    let len = usize::from(u16::from_be_bytes(*len_bytes));
    let sense = data.get(2..2 + len).ok_or(SessionError::BadSense(
        "SenseLength runs past the data segment",
    ))?;
    Ok((!sense.is_empty()).then(|| sense.to_vec()))
}
