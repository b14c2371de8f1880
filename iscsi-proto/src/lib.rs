//! Sans-I/O iSCSI (RFC 7143) and SCSI (SPC-5 / SBC-4) protocol core.
//!
//! Nothing in this crate opens a socket, spawns a thread or reads a clock: state machines are fed
//! bytes and decoded PDUs, and hand back PDUs to send and events to act on. None of them keeps
//! time: timeouts, keepalive and retries belong to the session supervisor in `ublk-target`,
//! which is told the time. The I/O lives in `t3-hw` (the offload engine) and `ublk-target`.

pub mod chap;
pub mod digest;
pub mod discovery;
pub mod login;
pub mod negotiation;
pub mod pdu;
pub mod scsi;
mod serial;
pub mod session;
pub mod text;
pub mod url;
