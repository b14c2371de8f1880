//! Completions: what the adapter reports back on the response queue (CPL messages to the host).
//!
//! The software engine produces these from socket events, so connection failures are reported
//! the T3 way: a host errno becomes a CPL status, and the initiator maps the status back to an
//! errno exactly as cxgb3i does.

use iscsi_proto::pdu::{Header, PduError};

use crate::ddp_status::DdpStatus;
use crate::tid::Tid;

/// A CPL error status (`enum CPL_error` of t3_cpl.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CplStatus {
    /// 0: success.
    None,
    /// 1: TCAM parity error.
    TcamParity,
    /// 3: no TCAM entry left for the connection.
    TcamFull,
    /// 20: the peer reset (refused) the connection.
    ConnReset,
    /// 22: the 4-tuple is already in use. cxgb3i retries the open once, HZ/2 later.
    ConnExist,
    /// 23: the next hop did not resolve.
    ArpMiss,
    /// 24: bad SYN.
    BadSyn,
    /// 30: the SYN was not answered.
    ConnTimedOut,
    /// 31: retransmissions gave up.
    XmitTimedOut,
    /// 32: persist timer gave up.
    PersistTimedOut,
    /// 33: FIN_WAIT_2 timed out.
    FinWait2TimedOut,
    /// 34: keepalive gave up.
    KeepaliveTimedOut,
    /// 35: negative advice on retransmit (ignored by the initiator).
    RtxNegAdvice,
    /// 36: negative advice on persist (ignored by the initiator).
    PersistNegAdvice,
    /// 42: the abort came too late (ignored on ABORT_RPL).
    AbortFailed,
    /// 99: any other failure.
    General,
    /// A code this model does not name.
    Other(u8),
}

impl CplStatus {
    /// The status byte.
    pub fn code(self) -> u8 {
        match self {
            CplStatus::None => 0,
            CplStatus::TcamParity => 1,
            CplStatus::TcamFull => 3,
            CplStatus::ConnReset => 20,
            CplStatus::ConnExist => 22,
            CplStatus::ArpMiss => 23,
            CplStatus::BadSyn => 24,
            CplStatus::ConnTimedOut => 30,
            CplStatus::XmitTimedOut => 31,
            CplStatus::PersistTimedOut => 32,
            CplStatus::FinWait2TimedOut => 33,
            CplStatus::KeepaliveTimedOut => 34,
            CplStatus::RtxNegAdvice => 35,
            CplStatus::PersistNegAdvice => 36,
            CplStatus::AbortFailed => 42,
            CplStatus::General => 99,
            CplStatus::Other(code) => code,
        }
    }

    /// The status for a status byte.
    pub fn from_code(code: u8) -> CplStatus {
        match code {
            0 => CplStatus::None,
            1 => CplStatus::TcamParity,
            3 => CplStatus::TcamFull,
            20 => CplStatus::ConnReset,
            22 => CplStatus::ConnExist,
            23 => CplStatus::ArpMiss,
            24 => CplStatus::BadSyn,
            30 => CplStatus::ConnTimedOut,
            31 => CplStatus::XmitTimedOut,
            32 => CplStatus::PersistTimedOut,
            33 => CplStatus::FinWait2TimedOut,
            34 => CplStatus::KeepaliveTimedOut,
            35 => CplStatus::RtxNegAdvice,
            36 => CplStatus::PersistNegAdvice,
            42 => CplStatus::AbortFailed,
            99 => CplStatus::General,
            other => CplStatus::Other(other),
        }
    }

    /// The errno cxgb3i reports for a failed open (`act_open_rpl_status_to_errno`).
    pub fn act_open_errno(self) -> i32 {
        match self {
            CplStatus::ConnReset => libc::ECONNREFUSED,
            CplStatus::ArpMiss => libc::EHOSTUNREACH,
            CplStatus::ConnTimedOut => libc::ETIMEDOUT,
            CplStatus::TcamFull => libc::ENOMEM,
            CplStatus::ConnExist => libc::EADDRINUSE,
            _ => libc::EIO,
        }
    }

    /// The open-failure status for a host `connect()` errno: the reverse of
    /// [`act_open_errno`](Self::act_open_errno). An unreachable network counts as an ARP miss
    /// (no next hop); anything unmapped is `General` (reported as EIO).
    pub fn from_connect_errno(errno: i32) -> CplStatus {
        match errno {
            libc::ECONNREFUSED => CplStatus::ConnReset,
            libc::EHOSTUNREACH | libc::ENETUNREACH => CplStatus::ArpMiss,
            libc::ETIMEDOUT => CplStatus::ConnTimedOut,
            libc::ENOMEM => CplStatus::TcamFull,
            libc::EADDRINUSE => CplStatus::ConnExist,
            _ => CplStatus::General,
        }
    }

    /// The errno cxgb3i reports for an abort from the peer or adapter
    /// (`abort_status_to_errno`); `closing` is whether the connection had left ESTABLISHED.
    pub fn abort_errno(self, closing: bool) -> i32 {
        match self {
            CplStatus::BadSyn | CplStatus::ConnReset if closing => libc::EPIPE,
            CplStatus::BadSyn | CplStatus::ConnReset => libc::ECONNRESET,
            CplStatus::XmitTimedOut
            | CplStatus::PersistTimedOut
            | CplStatus::FinWait2TimedOut
            | CplStatus::KeepaliveTimedOut => libc::ETIMEDOUT,
            _ => libc::EIO,
        }
    }

    /// The abort status for a socket error on an established connection: a reset or broken
    /// pipe is CONN_RESET, a timeout is XMIT_TIMEDOUT (the host does not say which timer
    /// fired), anything else `General`.
    pub fn from_socket_errno(errno: i32) -> CplStatus {
        match errno {
            libc::ECONNRESET | libc::EPIPE => CplStatus::ConnReset,
            libc::ETIMEDOUT => CplStatus::XmitTimedOut,
            _ => CplStatus::General,
        }
    }

    /// Statuses an ABORT_REQ_RSS carries as advice only; the initiator ignores them.
    pub fn is_negative_advice(self) -> bool {
        matches!(self, CplStatus::RtxNegAdvice | CplStatus::PersistNegAdvice)
    }
}

/// One received PDU (CPL_ISCSI_HDR with the RX_DATA_DDP status coalesced behind it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IscsiHdr {
    /// The connection.
    pub tid: Tid,
    /// The header (BHS and AHS) as decoded once, on receipt; the error when it did not
    /// decode or its digest did not match (HDRCRC_ERR in `ddp_status`).
    pub header: Result<Header, PduError>,
    /// DataSegmentLength: the payload's length, placed or inline.
    pub data_len: u32,
    /// Payload delivered with the header (empty when placed directly or absent).
    pub data: Vec<u8>,
    /// The RX_DATA_DDP status word.
    pub ddp_status: DdpStatus,
    /// Length of the whole PDU on the wire.
    pub pdu_len: u32,
}

impl IscsiHdr {
    /// Whether the payload was placed in the task buffer: DDP_PDU set and no inline data
    /// followed the header (cxgb3i records "DDP'd" only then).
    pub fn data_placed(&self) -> bool {
        self.ddp_status.is_placed() && self.data.is_empty()
    }
}

/// A report from the adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// The connection is open (CPL_ACT_ESTABLISH): the active-open id now has a TID.
    ActEstablish {
        /// The attempt this answers.
        atid: u32,
        /// The connection's TID.
        tid: Tid,
        /// Our initial send sequence number.
        snd_isn: u32,
        /// The peer's ISN + 1 (first byte expected).
        rcv_isn: u32,
    },
    /// The open failed (CPL_ACT_OPEN_RPL).
    ActOpenRpl {
        /// The attempt this answers.
        atid: u32,
        /// Why; see [`CplStatus::act_open_errno`].
        status: CplStatus,
    },
    /// A received PDU.
    IscsiHdr(IscsiHdr),
    /// Work-request credits returned (CPL_TX_DMA_ACK).
    TxDmaAck {
        /// The connection.
        tid: Tid,
        /// Credits returned.
        credits: u16,
    },
    /// The peer sent FIN (CPL_PEER_CLOSE).
    PeerClose {
        /// The connection.
        tid: Tid,
    },
    /// The connection was aborted by the peer or adapter (CPL_ABORT_REQ_RSS).
    Abort {
        /// The connection.
        tid: Tid,
        /// Why; see [`CplStatus::abort_errno`].
        status: CplStatus,
    },
    /// Our abort is done (CPL_ABORT_RPL_RSS).
    AbortRpl {
        /// The connection.
        tid: Tid,
    },
    /// The peer acknowledged our FIN (CPL_CLOSE_CON_RPL).
    CloseConRpl {
        /// The connection.
        tid: Tid,
    },
}

impl Completion {
    /// The connection reported on; `None` for a failed open (no TID was assigned).
    pub fn tid(&self) -> Option<Tid> {
        match self {
            Completion::ActOpenRpl { .. } => None,
            Completion::IscsiHdr(hdr) => Some(hdr.tid),
            Completion::ActEstablish { tid, .. }
            | Completion::TxDmaAck { tid, .. }
            | Completion::PeerClose { tid }
            | Completion::Abort { tid, .. }
            | Completion::AbortRpl { tid }
            | Completion::CloseConRpl { tid } => Some(*tid),
        }
    }
}

#[cfg(test)]
mod tests;
