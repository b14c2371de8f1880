//! CRC32C header and data digests (RFC 7143 §11.1, RFC 3720 appendix B.4).
//!
//! The digest travels least-significant byte first: the 4 bytes on the wire are the little-endian
//! encoding of the CRC value, as Linux iscsi_tcp and tgtd send them.

/// Bytes a digest occupies on the wire.
pub const DIGEST_LEN: usize = 4;

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

    pub fn header_len(self) -> usize {
        if self.header {
            DIGEST_LEN
        } else {
            0
        }
    }

    /// Data digest bytes for a data segment of `data_len` bytes (none when the segment is empty).
    pub fn data_len(self, data_len: usize) -> usize {
        if self.data && data_len > 0 {
            DIGEST_LEN
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests;
