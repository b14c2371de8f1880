//! Work requests: what the host queues to the adapter.
//!
//! On T3 these are CPL messages and firmware work requests on the offload (OFLD) or control
//! (CTRL) queue. Here they are plain values; the software engine carries them out. PDU payload
//! is carried by reference to the task's I/O buffer where possible, never copied.

use std::net::SocketAddr;

use iscsi_proto::digest::Digests;
use thiserror::Error;

use crate::ppod::PageSize;
use crate::tid::Tid;

/// Length of an iSCSI Basic Header Segment.
pub(crate) const BHS_LEN: usize = 48;
/// Bytes of one CRC32C digest.
pub(crate) const DIGEST_LEN: u32 = 4;

/// TCB word holding the DDP page-size index and the ULP submode.
pub(crate) const TCB_ULP_WORD: u16 = 31;
/// Field of TCB word 31 holding the DDP page-size index.
pub(crate) const TCB_DDP_PAGE_SIZE_MASK: u64 = 0xF000_0000;
const TCB_DDP_PAGE_SIZE_SHIFT: u32 = 28;
/// Field of TCB word 31 holding the ULP submode (digest insertion/checking).
pub(crate) const TCB_ULP_SUBMODE_MASK: u64 = 0x0F00_0000;
const TCB_ULP_SUBMODE_SHIFT: u32 = 24;

/// Which digests the adapter inserts on transmit and checks on receive (ULP submode bits:
/// 1 = header CRC, 2 = data CRC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UlpSubmode {
    /// HeaderDigest = CRC32C.
    pub header_digest: bool,
    /// DataDigest = CRC32C.
    pub data_digest: bool,
}

/// The same two choices, as the framer checks them on receive.
impl From<UlpSubmode> for Digests {
    fn from(submode: UlpSubmode) -> Digests {
        Digests {
            header: submode.header_digest,
            data: submode.data_digest,
        }
    }
}

impl UlpSubmode {
    /// The two-bit submode value.
    pub fn bits(self) -> u8 {
        u8::from(self.header_digest) | (u8::from(self.data_digest) << 1)
    }

    /// Parses a two-bit submode value.
    pub fn from_bits(bits: u8) -> Option<UlpSubmode> {
        (bits <= 3).then_some(UlpSubmode {
            header_digest: bits & 1 != 0,
            data_digest: bits & 2 != 0,
        })
    }

    /// The submode for one PDU: no data digest on a PDU without data (`tx_skb_setmode`).
    pub fn for_pdu(self, has_data: bool) -> UlpSubmode {
        UlpSubmode {
            header_digest: self.header_digest,
            data_digest: self.data_digest && has_data,
        }
    }

    /// Digest bytes the adapter adds: {0, 4, 4, 8} by submode.
    pub fn extra_len(self) -> u32 {
        DIGEST_LEN * (u32::from(self.header_digest) + u32::from(self.data_digest))
    }
}

/// A PDU's data segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// No data segment.
    None,
    /// Bytes carried in the request (login, text, NOP-Out data).
    Inline(Vec<u8>),
    /// `len` bytes at `offset` of task `task`'s bound I/O buffer; the engine resolves it.
    Task {
        /// The task (ublk tag) whose buffer holds the data.
        task: u32,
        /// Offset into that buffer.
        offset: u32,
        /// Bytes to send.
        len: u32,
    },
}

impl Payload {
    /// Length of the data segment in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Payload::None => 0,
            Payload::Inline(bytes) => bytes.len() as u64,
            Payload::Task { len, .. } => u64::from(*len),
        }
    }

    /// Whether there is no data.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why [`PduRef::new`] refuses a PDU to transmit: its header does not agree with itself or
/// its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PduRefError {
    /// Shorter than a BHS.
    #[error("header is {len} bytes, shorter than the {BHS_LEN}-byte BHS")]
    HeaderTooShort {
        /// Header length.
        len: usize,
    },
    /// The AHS area is not what TotalAHSLength says.
    #[error("TotalAHSLength says {declared} bytes of AHS, the header carries {actual}")]
    AhsLengthMismatch {
        /// Bytes declared by TotalAHSLength (words * 4).
        declared: usize,
        /// Bytes after the BHS.
        actual: usize,
    },
    /// The payload is not what DataSegmentLength says.
    #[error("DataSegmentLength says {declared} bytes, the payload is {actual}")]
    DataLengthMismatch {
        /// DataSegmentLength from the BHS.
        declared: u64,
        /// Payload length.
        actual: u64,
    },
    /// A task payload range that wraps the 32-bit offset space.
    #[error("task payload at offset {offset} + {len} overflows")]
    TaskRangeOverflow {
        /// Offset into the task buffer.
        offset: u32,
        /// Length.
        len: u32,
    },
}

/// A PDU to transmit: header bytes by value, payload by reference where possible.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PduRef {
    header: Vec<u8>,
    payload: Payload,
}

impl PduRef {
    /// Checks that the header's TotalAHSLength and DataSegmentLength describe `header` and
    /// `payload`.
    pub fn new(header: Vec<u8>, payload: Payload) -> Result<PduRef, PduRefError> {
        let Some(bhs) = header.first_chunk::<BHS_LEN>() else {
            return Err(PduRefError::HeaderTooShort { len: header.len() });
        };
        let declared_ahs = usize::from(bhs[4]) * 4;
        let declared_data = u64::from(u32::from_be_bytes([0, bhs[5], bhs[6], bhs[7]]));
        let actual_ahs = header.len() - BHS_LEN;
        if declared_ahs != actual_ahs {
            return Err(PduRefError::AhsLengthMismatch {
                declared: declared_ahs,
                actual: actual_ahs,
            });
        }
        if declared_data != payload.len() {
            return Err(PduRefError::DataLengthMismatch {
                declared: declared_data,
                actual: payload.len(),
            });
        }
        if let Payload::Task { offset, len, .. } = payload {
            if offset.checked_add(len).is_none() {
                return Err(PduRefError::TaskRangeOverflow { offset, len });
            }
        }
        Ok(PduRef { header, payload })
    }

    /// BHS followed by any AHS.
    pub fn header(&self) -> &[u8] {
        &self.header
    }

    /// The data segment.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Zero bytes the host appends to pad the data segment to a 4-byte boundary.
    pub fn pad_len(&self) -> u32 {
        // The payload length is below 2^24 (DataSegmentLength), so the remainder fits.
        ((4 - self.payload.len() % 4) % 4) as u32
    }

    /// Bytes on the wire: header, data, padding and the digests `submode` adds.
    pub fn wire_len(&self, submode: UlpSubmode) -> u64 {
        self.header.len() as u64
            + self.payload.len()
            + u64::from(self.pad_len())
            + u64::from(submode.for_pdu(!self.payload.is_empty()).extra_len())
    }
}

/// Transmit one PDU (a `tx_data_wr`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxData {
    tid: Tid,
    pdu: PduRef,
    ulp_submode: UlpSubmode,
    completion_requested: bool,
}

impl TxData {
    /// A transmit request with the connection's negotiated digests; the data digest is dropped
    /// for a PDU without data. `completion_requested` asks for a TX_DMA_ACK for this request.
    pub fn new(tid: Tid, pdu: PduRef, digests: UlpSubmode, completion_requested: bool) -> TxData {
        let ulp_submode = digests.for_pdu(!pdu.payload().is_empty());
        TxData {
            tid,
            pdu,
            ulp_submode,
            completion_requested,
        }
    }

    /// The connection.
    pub fn tid(&self) -> Tid {
        self.tid
    }

    /// The PDU.
    pub fn pdu(&self) -> &PduRef {
        &self.pdu
    }

    /// Digests the adapter inserts for this PDU.
    pub fn ulp_submode(&self) -> UlpSubmode {
        self.ulp_submode
    }

    /// Whether the sender asked for a completion.
    pub fn completion_requested(&self) -> bool {
        self.completion_requested
    }

    /// The request's `len` field: wire bytes including the inserted digests.
    pub fn wr_len(&self) -> u64 {
        self.pdu.wire_len(self.ulp_submode)
    }
}

/// A masked update of one TCB word (CPL_SET_TCB_FIELD), sent with NO_REPLY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetTcbField {
    /// The connection.
    pub tid: Tid,
    /// TCB word number.
    pub word: u16,
    /// Bits to change.
    pub mask: u64,
    /// New values of those bits.
    pub value: u64,
}

impl SetTcbField {
    /// Selects the DDP page size (`bind_conn`): word 31, mask 0xF0000000, value idx << 28.
    pub fn ddp_page_size(tid: Tid, page_size: PageSize) -> SetTcbField {
        SetTcbField {
            tid,
            word: TCB_ULP_WORD,
            mask: TCB_DDP_PAGE_SIZE_MASK,
            value: u64::from(page_size.index()) << TCB_DDP_PAGE_SIZE_SHIFT,
        }
    }

    /// Turns digest handling on or off once HeaderDigest/DataDigest are negotiated:
    /// word 31, mask 0x0F000000, value submode << 24.
    pub fn ulp_submode(tid: Tid, submode: UlpSubmode) -> SetTcbField {
        SetTcbField {
            tid,
            word: TCB_ULP_WORD,
            mask: TCB_ULP_SUBMODE_MASK,
            value: u64::from(submode.bits()) << TCB_ULP_SUBMODE_SHIFT,
        }
    }

    /// The word after the update.
    pub fn apply(&self, word: u64) -> u64 {
        (word & !self.mask) | (self.value & self.mask)
    }
}

/// The DDP page size programmed into a TCB word 31 value.
pub(crate) fn tcb_ddp_page_size(word31: u64) -> Option<PageSize> {
    let index = (word31 & TCB_DDP_PAGE_SIZE_MASK) >> TCB_DDP_PAGE_SIZE_SHIFT;
    u8::try_from(index).ok().and_then(PageSize::from_index)
}

/// The ULP submode programmed into a TCB word 31 value.
pub(crate) fn tcb_ulp_submode(word31: u64) -> Option<UlpSubmode> {
    let bits = (word31 & TCB_ULP_SUBMODE_MASK) >> TCB_ULP_SUBMODE_SHIFT;
    u8::try_from(bits).ok().and_then(UlpSubmode::from_bits)
}

/// A request to the adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WorkRequest {
    /// Open a connection (CPL_ACT_OPEN_REQ); answered by ACT_ESTABLISH or ACT_OPEN_RPL.
    ActOpen {
        /// Active-open id naming the attempt until a TID exists.
        atid: u32,
        /// The target portal.
        peer: SocketAddr,
        /// Source address to bind, if not the route's choice.
        local: Option<SocketAddr>,
    },
    /// Transmit a PDU.
    TxData(TxData),
    /// Update a TCB field.
    SetTcbField(SetTcbField),
    /// Return receive credits (CPL_RX_DATA_ACK): bytes the host has consumed.
    RxDataAck {
        /// The connection.
        tid: Tid,
        /// Bytes to reopen the window by.
        credits: u32,
    },
    /// Close gracefully (CPL_CLOSE_CON_REQ): FIN after all queued data.
    CloseCon {
        /// The connection.
        tid: Tid,
    },
    /// Abort (CPL_ABORT_REQ): queued data is dropped and RST sent.
    AbortReq {
        /// The connection.
        tid: Tid,
    },
}

impl WorkRequest {
    /// The connection the request is for; `None` for an open (no TID yet).
    pub fn tid(&self) -> Option<Tid> {
        match self {
            WorkRequest::ActOpen { .. } => None,
            WorkRequest::TxData(tx) => Some(tx.tid()),
            WorkRequest::SetTcbField(field) => Some(field.tid),
            WorkRequest::RxDataAck { tid, .. }
            | WorkRequest::CloseCon { tid }
            | WorkRequest::AbortReq { tid } => Some(*tid),
        }
    }
}

#[cfg(test)]
mod tests;
