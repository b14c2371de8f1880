//! CRC32C header and data digests (RFC 7143 §11.1, RFC 3720 appendix B.4).
//!
//! The digest travels least-significant byte first: the 4 bytes on the wire are the little-endian
//! encoding of the CRC value, as Linux iscsi_tcp and tgtd send them.

/// Bytes a digest occupies on the wire.
pub(crate) const DIGEST_LEN: usize = 4;

/// CRC32C (Castagnoli) of `data`, hardware-accelerated where the CPU has the crc32 instruction.
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Continues a CRC32C over another piece, for digests over scattered segments.
#[inline]
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, data)
}

/// The digest bytes as they appear on the wire.
#[inline]
pub fn to_wire(crc: u32) -> [u8; DIGEST_LEN] {
    crc.to_le_bytes()
}

/// Reads a digest from the wire.
#[inline]
pub fn from_wire(bytes: [u8; DIGEST_LEN]) -> u32 {
    u32::from_le_bytes(bytes)
}

/// Which digests a connection carries (HeaderDigest / DataDigest negotiated to CRC32C).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Digests {
    pub header: bool,
    pub data: bool,
}

impl Digests {
    pub const NONE: Digests = Digests {
        header: false,
        data: false,
    };
    pub const BOTH: Digests = Digests {
        header: true,
        data: true,
    };

    pub(crate) fn header_len(self) -> usize {
        if self.header {
            DIGEST_LEN
        } else {
            0
        }
    }

    /// Data digest bytes for a data segment of `data_len` bytes (none when the segment is empty).
    pub(crate) fn data_len(self, data_len: usize) -> usize {
        if self.data && data_len > 0 {
            DIGEST_LEN
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 3720 appendix B.4: CRC32C examples, given as the bytes sent on the wire.
    #[test]
    fn rfc3720_b4_vectors() {
        assert_eq!(to_wire(crc32c(&[0u8; 32])), [0xaa, 0x36, 0x91, 0x8a]);
        assert_eq!(to_wire(crc32c(&[0xffu8; 32])), [0x43, 0xab, 0xa8, 0x62]);
        let ascending: Vec<u8> = (0u8..32).collect();
        assert_eq!(to_wire(crc32c(&ascending)), [0x4e, 0x79, 0xdd, 0x46]);
        let descending: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(to_wire(crc32c(&descending)), [0x5c, 0xdb, 0x3f, 0x11]);
        let read10_pdu: [u8; 48] = [
            0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14,
            0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        assert_eq!(to_wire(crc32c(&read10_pdu)), [0x56, 0x3a, 0x96, 0xd9]);
    }

    #[test]
    fn append_equals_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let (a, b) = data.split_at(333);
        assert_eq!(crc32c_append(crc32c(a), b), crc32c(&data));
    }

    #[test]
    fn digest_lengths() {
        assert_eq!(Digests::BOTH.header_len(), 4);
        assert_eq!(Digests::BOTH.data_len(0), 0);
        assert_eq!(Digests::BOTH.data_len(1), 4);
        assert_eq!(Digests::NONE.data_len(1), 0);
    }
}
