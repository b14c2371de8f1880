//! Session errors: refused submissions, and protocol violations that end the connection.

use crate::pdu::Opcode;
use thiserror::Error;

/// Why a submission was refused; the session is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SubmitError {
    #[error("ITT 0x{0:08x} is already in use")]
    IttInUse(u32),
    #[error("ITT 0xffffffff is reserved")]
    ReservedItt,
    #[error("CDB of {0} bytes is outside 1..=260")]
    CdbLength(usize),
    #[error("a command with no data direction cannot carry data")]
    DataWithoutDirection,
    #[error("no task with ITT 0x{0:08x}")]
    NoSuchTask(u32),
    #[error("ping data of {0} bytes exceeds the target's MaxRecvDataSegmentLength")]
    PingTooLong(usize),
    #[error("the session is logging out")]
    LoggingOut,
    #[error("text request: {0}")]
    Text(crate::text::TextError),
    #[error("text request of {0} bytes exceeds the target's MaxRecvDataSegmentLength")]
    TextTooLong(usize),
}

/// A protocol violation by the target. At ERL 0 the connection is dropped and the session
/// recovered by a new login; nothing the target sent was applied past the point of the error.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SessionError {
    #[error("unexpected {0:?} PDU in full-feature phase")]
    UnexpectedPdu(Opcode),
    #[error("PDU for unknown ITT 0x{0:08x}")]
    UnknownItt(u32),
    #[error("PDU for ITT 0x{0:08x}, whose request was not sent yet")]
    NotSent(u32),
    #[error("Data-In for task 0x{0:08x}, which reads no data")]
    DataInForNonRead(u32),
    #[error("Data-In for task 0x{itt:08x}: DataSN {got}, expected {expected}")]
    DataSnGap { itt: u32, expected: u32, got: u32 },
    #[error("Data-In for task 0x{itt:08x}: BufferOffset {got}, expected {expected}")]
    DataOffset { itt: u32, expected: u32, got: u32 },
    #[error(
        "Data-In for task 0x{itt:08x}: {offset}+{len} runs past the {expected_len}-byte transfer"
    )]
    DataPastEnd {
        itt: u32,
        offset: u32,
        len: u32,
        expected_len: u32,
    },
    #[error("Data-In for task 0x{0:08x} carries status without the F bit")]
    StatusWithoutFinal(u32),
    #[error("task 0x{0:08x}: both overflow and underflow flagged")]
    BothResiduals(u32),
    #[error(
        "task 0x{itt:08x}: received {received} bytes of data but the target reports {reported}"
    )]
    DataCountMismatch {
        itt: u32,
        received: u32,
        reported: u32,
    },
    #[error("R2T for task 0x{0:08x}, which writes no data")]
    R2tForNonWrite(u32),
    #[error("R2T for task 0x{itt:08x}: R2TSN {got}, expected {expected}")]
    R2tSnGap { itt: u32, expected: u32, got: u32 },
    #[error(
        "R2T for task 0x{itt:08x}: {offset}+{len} is outside the {expected_len}-byte transfer"
    )]
    R2tRange {
        itt: u32,
        offset: u32,
        len: u32,
        expected_len: u32,
    },
    #[error("R2T for task 0x{itt:08x} asks for {len} bytes, over MaxBurstLength {max}")]
    R2tBurst { itt: u32, len: u32, max: u32 },
    #[error("R2T for task 0x{itt:08x} exceeds MaxOutstandingR2T {max}")]
    TooManyR2t { itt: u32, max: u32 },
    #[error("R2T for task 0x{0:08x} carries the reserved TTT")]
    R2tReservedTtt(u32),
    #[error("sense data is malformed: {0}")]
    BadSense(&'static str),
    #[error("Reject PDU carries {0} bytes, not the rejected 48-byte header")]
    ShortReject(usize),
    #[error("target rejected our {opcode:#04x} PDU (ITT 0x{itt:08x}): {}", crate::pdu::reject_reason_text(*reason))]
    Rejected { reason: u8, opcode: u8, itt: u32 },
    #[error("payload placed directly for a PDU whose data the session must read")]
    PlacedNonPayload,
    #[error("Text Response for ITT 0x{0:08x} has both F and C set")]
    TextFinalAndContinue(u32),
    #[error("Text Response for ITT 0x{0:08x} continues without a target transfer tag")]
    TextContinueWithoutTtt(u32),
    #[error("text response: {0}")]
    Text(crate::text::TextError),
}
