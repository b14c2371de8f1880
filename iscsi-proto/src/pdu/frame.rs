//! Whole PDUs on the wire: BHS, AHS, header digest, padded data segment, data digest.

use super::{padded, Header, PduError, BHS_LEN};
use crate::digest::{self, Digests, DIGEST_LEN};

/// A PDU with its data segment held in memory (login, text, tests, the non-DDP path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    pub header: Header,
    pub data: Vec<u8>,
}

impl Pdu {
    pub fn new(header: Header, data: Vec<u8>) -> Pdu {
        Pdu { header, data }
    }
}

/// The lengths a BHS announces: all a receiver needs to frame the rest of the PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BhsLengths {
    /// TotalAHSLength in bytes.
    pub ahs_len: usize,
    /// DataSegmentLength in bytes, without padding.
    pub data_len: usize,
}

impl BhsLengths {
    pub fn of(bhs: &[u8; BHS_LEN]) -> BhsLengths {
        BhsLengths {
            ahs_len: usize::from(bhs[4]) * 4,
            data_len: (usize::from(bhs[5]) << 16)
                | (usize::from(bhs[6]) << 8)
                | usize::from(bhs[7]),
        }
    }

    /// Refuses a data segment longer than we declared we can receive.
    pub(crate) fn check_data_limit(&self, max: u32) -> Result<(), PduError> {
        if self.data_len > max as usize {
            return Err(PduError::DataSegmentTooLong {
                len: self.data_len as u32,
                max,
            });
        }
        Ok(())
    }

    /// Bytes after the BHS up to and including the header digest.
    pub fn header_rest_len(&self, digests: Digests) -> usize {
        self.ahs_len + digests.header_len()
    }

    /// Bytes of the data segment on the wire: padding and data digest included.
    pub(crate) fn data_wire_len(&self, digests: Digests) -> usize {
        padded(self.data_len) + digests.data_len(self.data_len)
    }

    /// The whole PDU's length on the wire.
    pub fn wire_len(&self, digests: Digests) -> usize {
        BHS_LEN + self.header_rest_len(digests) + self.data_wire_len(digests)
    }
}

/// Encodes a whole PDU into one buffer, digests included as negotiated.
pub fn encode_pdu(pdu: &Pdu, digests: Digests) -> Result<Vec<u8>, PduError> {
    let header = pdu.header.encode(pdu.data.len())?;
    let lengths = BhsLengths::of(&header.bhs);
    let mut out = Vec::with_capacity(lengths.wire_len(digests));
    out.extend_from_slice(&header.bhs);
    out.extend_from_slice(&header.ahs);
    if digests.header {
        out.extend_from_slice(&digest::to_wire(header.digest()));
    }
    if !pdu.data.is_empty() {
        out.extend_from_slice(&pdu.data);
        out.resize(out.len() + padded(pdu.data.len()) - pdu.data.len(), 0);
        if digests.data {
            out.extend_from_slice(&digest::to_wire(data_digest(&pdu.data)));
        }
    }
    Ok(out)
}

/// The data digest covers the data segment and its padding bytes (zeros).
pub(crate) fn data_digest(data: &[u8]) -> u32 {
    let pad = [0u8; 3];
    digest::crc32c_append(
        digest::crc32c(data),
        &pad[..padded(data.len()) - data.len()],
    )
}

fn read_digest(bytes: &[u8]) -> u32 {
    let mut d = [0u8; DIGEST_LEN];
    d.copy_from_slice(&bytes[..DIGEST_LEN]);
    digest::from_wire(d)
}

/// Decodes one PDU from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a PDU, `Ok(Some((pdu, consumed)))` when a
/// whole one was decoded. `max_data_len` is the MaxRecvDataSegmentLength we declared: a target
/// that sends more is refused before anything is buffered for it.
pub fn decode_pdu(
    buf: &[u8],
    digests: Digests,
    max_data_len: u32,
) -> Result<Option<(Pdu, usize)>, PduError> {
    let Some(bhs) = buf.first_chunk::<BHS_LEN>() else {
        return Ok(None);
    };
    let lengths = BhsLengths::of(bhs);
    lengths.check_data_limit(max_data_len)?;
    let total = lengths.wire_len(digests);
    if buf.len() < total {
        return Ok(None);
    }
    let mut at = BHS_LEN;
    let ahs = &buf[at..at + lengths.ahs_len];
    at += lengths.ahs_len;
    if digests.header {
        let received = read_digest(&buf[at..]);
        let computed = digest::crc32c_append(digest::crc32c(bhs), ahs);
        if received != computed {
            return Err(PduError::HeaderDigest { received, computed });
        }
        at += DIGEST_LEN;
    }
    let header = Header::decode(bhs, ahs)?;
    let data = &buf[at..at + lengths.data_len];
    if lengths.data_len > 0 {
        at += padded(lengths.data_len);
        if digests.data {
            let received = read_digest(&buf[at..]);
            let computed = data_digest(data);
            if received != computed {
                return Err(PduError::DataDigest { received, computed });
            }
            at += DIGEST_LEN;
        }
    }
    debug_assert_eq!(at, total);
    Ok(Some((Pdu::new(header, data.to_vec()), total)))
}
