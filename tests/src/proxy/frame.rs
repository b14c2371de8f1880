//! iSCSI PDU framing on a byte stream: where one PDU ends and the next begins.
//!
//! A PDU on the wire is the 48-byte BHS, TotalAHSLength × 4 bytes of AHS, a 4-byte header
//! digest if HeaderDigest=CRC32C, the data segment padded to a multiple of 4, and a 4-byte data
//! digest after it if DataDigest=CRC32C and the segment is not empty. Login PDUs are never
//! digested (the digests only start in full-feature phase). The lengths come from
//! iscsi-proto's [`BhsLengths`].

use std::io::{self, Read};
use std::ops::Range;

use iscsi_proto::digest::Digests;
use iscsi_proto::pdu::{BhsLengths, Opcode, BHS_LEN};

/// The opcode field of byte 0 (the I bit and the reserved top bit masked off).
pub const OPCODE_MASK: u8 = 0x3f;
/// Data-In byte 1: the S bit (the PDU carries the command's status).
pub const DATA_IN_STATUS_BIT: u8 = 0x01;

/// Whether PDUs with this opcode are framed without digests whatever was negotiated.
pub fn never_digested(opcode: u8) -> bool {
    opcode == Opcode::LoginRequest as u8 || opcode == Opcode::LoginResponse as u8
}

/// One PDU exactly as it travelled, with the lengths that framed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WirePdu {
    /// Every byte of the PDU: BHS, AHS, digests, data segment and its padding.
    pub bytes: Vec<u8>,
    /// The lengths its BHS announced.
    pub lengths: BhsLengths,
    /// The digests it was framed with (none for login PDUs).
    pub digests: Digests,
}

impl WirePdu {
    /// The BHS.
    pub fn bhs(&self) -> &[u8; BHS_LEN] {
        self.bytes
            .first_chunk::<BHS_LEN>()
            .expect("a WirePdu holds at least a BHS")
    }

    /// The opcode (byte 0 without the I bit).
    pub fn opcode(&self) -> u8 {
        self.bytes[0] & OPCODE_MASK
    }

    /// The Initiator Task Tag (bytes 16..20).
    pub fn itt(&self) -> u32 {
        u32::from_be_bytes([
            self.bytes[16],
            self.bytes[17],
            self.bytes[18],
            self.bytes[19],
        ])
    }

    /// A Data-In that carries the command's status (S bit).
    pub fn is_status_data_in(&self) -> bool {
        self.opcode() == Opcode::DataIn as u8 && self.bytes[1] & DATA_IN_STATUS_BIT != 0
    }

    /// Where the data segment lies in [`bytes`](Self::bytes), padding and digest excluded.
    pub fn data_range(&self) -> Range<usize> {
        let start = BHS_LEN + self.lengths.header_rest_len(self.digests);
        start..start + self.lengths.data_len
    }

    /// The data segment, padding and digest excluded.
    pub fn data(&self) -> &[u8] {
        &self.bytes[self.data_range()]
    }
}

/// Reads one whole PDU from `stream`.
///
/// `digests` is asked, once the BHS is in, which digests the connection carries now: the answer
/// can change when the login ends, and the next PDU's framing must follow it. Returns
/// `Ok(None)` when the stream ends cleanly before a PDU starts; a stream that ends inside a
/// PDU is an `UnexpectedEof` error.
pub fn read_pdu(
    stream: &mut impl Read,
    digests: impl FnOnce() -> Digests,
) -> io::Result<Option<WirePdu>> {
    let mut bhs = [0u8; BHS_LEN];
    if !read_exact_or_eof(stream, &mut bhs)? {
        return Ok(None);
    }
    let lengths = BhsLengths::of(&bhs);
    let digests = if never_digested(bhs[0] & OPCODE_MASK) {
        Digests::NONE
    } else {
        digests()
    };
    let total = lengths.wire_len(digests);
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(&bhs);
    bytes.resize(total, 0);
    stream.read_exact(&mut bytes[BHS_LEN..])?;
    Ok(Some(WirePdu {
        bytes,
        lengths,
        digests,
    }))
}

/// Fills `buf`; `Ok(false)` if the stream ended before its first byte.
fn read_exact_or_eof(stream: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("stream ended {filled} bytes into a BHS"),
                ))
            }
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(true)
}

/// Follows a login on one connection and learns the digests it negotiated.
///
/// Every login PDU of both directions goes through [`observe`](Self::observe). The result of
/// a digest key is the last single value (`CRC32C` or `None`) either side sent for it: an offer
/// is a comma-separated list (or a single value echoed in the answer), and whichever side
/// answers, the answer comes after the offer. When a Login Response with status class 0 and
/// the T bit moves to full-feature phase, `observe` returns the digests from then on.
#[derive(Debug, Clone, Default)]
pub struct LoginWatch {
    header: Option<bool>,
    data: Option<bool>,
    /// The text of a PDU sequence linked by the C bit, kept until its last PDU: requests in
    /// `[0]`, responses in `[1]`.
    partial: [Vec<u8>; 2],
}

/// NSG value of full-feature phase, and the T bit, in byte 1 of a login PDU.
const TRANSIT_BIT: u8 = 0x80;
const CONTINUE_BIT: u8 = 0x40;
const NSG_FULL_FEATURE: u8 = 3;
/// Login Response byte 36: status class.
const STATUS_CLASS_AT: usize = 36;

impl LoginWatch {
    /// Takes one PDU of either direction; `Some` once the login reaches full-feature phase.
    pub fn observe(&mut self, pdu: &WirePdu) -> Option<Digests> {
        let opcode = pdu.opcode();
        if !never_digested(opcode) {
            return None;
        }
        let side = usize::from(opcode == Opcode::LoginResponse as u8);
        self.partial[side].extend_from_slice(pdu.data());
        let flags = pdu.bytes[1];
        if flags & CONTINUE_BIT == 0 {
            let text = std::mem::take(&mut self.partial[side]);
            self.scan(&text);
        }
        let final_response = opcode == Opcode::LoginResponse as u8
            && flags & TRANSIT_BIT != 0
            && flags & 0x03 == NSG_FULL_FEATURE
            && pdu.bytes[STATUS_CLASS_AT] == 0;
        final_response.then(|| Digests {
            header: self.header.unwrap_or(false),
            data: self.data.unwrap_or(false),
        })
    }

    /// Records the digest keys of one logical text segment (`key=value\0` pairs).
    fn scan(&mut self, text: &[u8]) {
        for pair in text.split(|&b| b == 0) {
            let Ok(pair) = std::str::from_utf8(pair) else {
                continue;
            };
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let on = match value {
                "CRC32C" => true,
                "None" => false,
                _ => continue,
            };
            match key {
                "HeaderDigest" => self.header = Some(on),
                "DataDigest" => self.data = Some(on),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
