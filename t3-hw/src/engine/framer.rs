//! Framing: where one received PDU ends and the next begins, and whether its bytes check out.
//!
//! A PDU on the wire is a header (BHS, AHS, optional header digest) and a data segment (data,
//! zero padding to a multiple of four, optional data digest). The framer knows nothing of
//! sockets, rings or buffers: it is handed byte slices. [`FrameFormat::decode_header`] takes a
//! complete header from the front of the staged bytes, decodes it once with iscsi-proto's own
//! [`Header`], and says how long the rest of the PDU is; [`SegmentCheck`] is fed the data
//! segment in stream order, wherever its bytes landed (a task buffer for a placed Data-In, an
//! engine buffer otherwise), and reports padding and digest errors as RX_DATA_DDP status bits.
//! Deciding where the data segment goes is the placement function's job
//! ([`placement`](super::placement)); turning that into receives is the receive planner's
//! ([`rx`](super::rx)).

use iscsi_proto::digest::{crc32c, crc32c_append, from_wire, Digests, DIGEST_LEN};
use iscsi_proto::pdu::{padded, BhsLengths, Header, PduError, BHS_LEN, MAX_AHS_LEN};

use crate::ddp_status::DdpStatus;

/// The longest header: BHS, the largest AHS and a header digest.
pub(crate) const HEADER_MAX_LEN: usize = BHS_LEN + MAX_AHS_LEN + DIGEST_LEN;
/// The longest trailer: three pad bytes and a data digest.
pub(crate) const TRAILER_MAX_LEN: usize = 3 + DIGEST_LEN;

/// What the connection negotiated about the PDUs it receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameFormat {
    pub digests: Digests,
    /// Our MaxRecvDataSegmentLength: a longer data segment is refused before any of it is read.
    pub max_data_segment_len: u32,
}

/// A received header, and the shape of the rest of its PDU.
#[derive(Debug)]
pub(crate) struct FramedHeader {
    /// The header as iscsi-proto decodes it. A header that does not decode still frames (its
    /// lengths are known); the initiator reports the error.
    pub header: Result<Header, PduError>,
    /// Bytes of header on the wire, digest included.
    pub header_len: u32,
    /// DataSegmentLength: data bytes without padding.
    pub data_len: u32,
    /// Zero bytes after the data, up to a multiple of four.
    pub pad_len: u32,
    /// Whether a data digest follows the padding.
    pub data_digest: bool,
}

impl FramedHeader {
    /// Padding and data digest: what follows the data.
    pub(crate) fn trailer_len(&self) -> u32 {
        self.pad_len
            + if self.data_digest {
                DIGEST_LEN as u32
            } else {
                0
            }
    }

    /// Bytes after the header: data, padding and data digest.
    pub(crate) fn segment_len(&self) -> u32 {
        self.data_len + self.trailer_len()
    }

    /// The whole PDU's length on the wire.
    pub(crate) fn pdu_len(&self) -> u32 {
        self.header_len + self.segment_len()
    }
}

/// Why the stream cannot be framed any further.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The header digest does not match: its lengths cannot be trusted, so neither can any
    /// byte behind it.
    HeaderDigest {
        received: u32,
        computed: u32,
        /// The header's length as its (untrusted) bytes announce it.
        header_len: u32,
    },
    /// The data segment is longer than we declared we can receive.
    DataSegmentTooLong { len: u32, max: u32 },
}

impl FrameFormat {
    /// Bytes still missing from the header at the front of `staged`, as far as its bytes tell
    /// (the AHS length is known once the BHS is in).
    pub(crate) fn header_missing(&self, staged: &[u8]) -> usize {
        let header_len = match staged.first_chunk::<BHS_LEN>() {
            Some(bhs) => BHS_LEN + BhsLengths::of(bhs).header_rest_len(self.digests),
            None => BHS_LEN + self.digests.header_len(),
        };
        header_len.saturating_sub(staged.len())
    }

    /// Takes the header at the front of `staged` when all of it is there (`Ok(None)` until
    /// then). Its bytes are `staged[..header_len]`; the data segment follows them.
    pub(crate) fn decode_header(&self, staged: &[u8]) -> Result<Option<FramedHeader>, FrameError> {
        let Some(&bhs) = staged.first_chunk::<BHS_LEN>() else {
            return Ok(None);
        };
        let lengths = BhsLengths::of(&bhs);
        let covered = BHS_LEN + lengths.ahs_len;
        let header_len = BHS_LEN + lengths.header_rest_len(self.digests);
        if staged.len() < header_len {
            return Ok(None);
        }
        if self.digests.header {
            let computed = crc32c(&staged[..covered]);
            let received = wire_digest(&staged[covered..header_len]);
            if received != Some(computed) {
                return Err(FrameError::HeaderDigest {
                    received: received.unwrap_or_default(),
                    computed,
                    header_len: header_len as u32,
                });
            }
        }
        let ahs = &staged[BHS_LEN..covered];
        // DataSegmentLength is 24 bits, so it fits u32.
        let data_len = lengths.data_len as u32;
        if data_len > self.max_data_segment_len {
            return Err(FrameError::DataSegmentTooLong {
                len: data_len,
                max: self.max_data_segment_len,
            });
        }
        Ok(Some(FramedHeader {
            header: Header::decode(&bhs, ahs),
            header_len: header_len as u32,
            data_len,
            pad_len: (padded(lengths.data_len) - lengths.data_len) as u32,
            data_digest: self.digests.data_len(lengths.data_len) > 0,
        }))
    }
}

/// The checks on one data segment: zero padding and, when negotiated, the data digest (which
/// covers data and padding).
#[derive(Debug)]
pub(crate) struct SegmentCheck {
    /// The running CRC32C of the data so far, when a data digest follows.
    crc: Option<u32>,
    pad_len: usize,
}

impl SegmentCheck {
    pub(crate) fn new(header: &FramedHeader) -> SegmentCheck {
        SegmentCheck {
            crc: header.data_digest.then(|| crc32c(&[])),
            pad_len: header.pad_len as usize,
        }
    }

    /// Whether the data bytes must be fed (only the digest needs them).
    pub(crate) fn needs_data(&self) -> bool {
        self.crc.is_some()
    }

    /// Feeds the next data bytes, in stream order.
    pub(crate) fn data(&mut self, bytes: &[u8]) {
        if let Some(crc) = &mut self.crc {
            *crc = crc32c_append(*crc, bytes);
        }
    }

    /// Checks the trailer (padding, then the data digest) once all the data was fed: the
    /// status bits of what is wrong, or none.
    pub(crate) fn finish(self, trailer: &[u8]) -> DdpStatus {
        let (pad, digest) = trailer.split_at(self.pad_len.min(trailer.len()));
        let mut status = DdpStatus::NONE;
        if pad.iter().any(|&byte| byte != 0) {
            status = status | DdpStatus::PADDING_ERR;
        }
        if let Some(crc) = self.crc {
            if wire_digest(digest) != Some(crc32c_append(crc, pad)) {
                status = status | DdpStatus::DATACRC_ERR;
            }
        }
        status
    }
}

/// The digest at the front of `bytes`, if they hold one.
fn wire_digest(bytes: &[u8]) -> Option<u32> {
    bytes
        .first_chunk::<DIGEST_LEN>()
        .map(|wire| from_wire(*wire))
}

#[cfg(test)]
mod tests;
