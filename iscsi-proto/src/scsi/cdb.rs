//! The command descriptor block and the request a builder hands to the iSCSI layer.

use super::error::BuildError;

/// Longest CDB carried inline in the iSCSI Basic Header Segment.
pub(crate) const INLINE_CDB_LEN: usize = 16;

/// Longest CDB there is: a variable-length CDB (opcode 0x7F) is 8 header bytes plus up to 252
/// additional bytes (SPC-5 4.2.4).
pub(crate) const MAX_CDB_LEN: usize = 260;

/// Operation codes used by the builders in this module (SPC-5 / SBC-4).
pub mod opcode {
    /// TEST UNIT READY.
    pub const TEST_UNIT_READY: u8 = 0x00;
    /// INQUIRY.
    pub const INQUIRY: u8 = 0x12;
    /// READ CAPACITY(10).
    pub(crate) const READ_CAPACITY_10: u8 = 0x25;
    /// READ(10).
    pub const READ_10: u8 = 0x28;
    /// WRITE(10).
    pub const WRITE_10: u8 = 0x2A;
    /// UNMAP.
    pub const UNMAP: u8 = 0x42;
    /// MODE SENSE(10).
    pub(crate) const MODE_SENSE_10: u8 = 0x5A;
    /// READ(16).
    pub const READ_16: u8 = 0x88;
    /// WRITE(16).
    pub const WRITE_16: u8 = 0x8A;
    /// SYNCHRONIZE CACHE(16).
    pub const SYNCHRONIZE_CACHE_16: u8 = 0x91;
    /// WRITE SAME(16).
    pub const WRITE_SAME_16: u8 = 0x93;
    /// SERVICE ACTION IN(16); READ CAPACITY(16) is its service action 0x10.
    pub const SERVICE_ACTION_IN_16: u8 = 0x9E;
    /// MAINTENANCE IN; REPORT SUPPORTED OPERATION CODES is its service action 0x0C.
    pub(crate) const MAINTENANCE_IN: u8 = 0xA3;
}

/// A SCSI command descriptor block of up to 16 bytes (every command the
/// builders here make fits the iSCSI Basic Header Segment), stored inline without allocating.
#[derive(Clone, PartialEq, Eq)]
pub struct Cdb {
    bytes: [u8; INLINE_CDB_LEN],
    len: u8,
}

impl Cdb {
    /// A fixed-size CDB built in this module. `N` is 6, 10, 12 or 16, checked at compile time.
    pub(crate) const fn fixed<const N: usize>(bytes: [u8; N]) -> Self {
        const { assert!(N >= 1 && N <= INLINE_CDB_LEN) };
        let mut inline = [0u8; INLINE_CDB_LEN];
        let mut i = 0;
        while i < N {
            inline[i] = bytes[i];
            i += 1;
        }
        Self {
            bytes: inline,
            len: N as u8,
        }
    }

    /// The CDB bytes, exactly as long as the command.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The operation code (byte 0).
    pub fn opcode(&self) -> u8 {
        // `fixed` guarantees at least one byte.
        self.bytes[0]
    }
}

impl std::fmt::Debug for Cdb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cdb(")?;
        for (index, byte) in self.as_bytes().iter().enumerate() {
            if index > 0 {
                write!(f, " ")?;
            }
            write!(f, "{byte:02x}")?;
        }
        write!(f, ")")
    }
}

/// Which way data moves for a command, from the initiator's point of view. Maps onto the R and W
/// bits of the iSCSI SCSI Command PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataDirection {
    /// No data phase.
    None,
    /// Target to initiator (Data-In).
    Read,
    /// Initiator to target (Data-Out).
    Write,
}

/// A built command: the CDB, the data direction and the expected data transfer length in bytes
/// (the iSCSI Expected Data Transfer Length field). For reads that is the buffer the caller must
/// provide; for writes the number of bytes the caller will send. It is always 0 for
/// [`DataDirection::None`]; a READ or WRITE of zero blocks keeps its direction with length 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScsiRequest {
    /// The command descriptor block.
    pub cdb: Cdb,
    /// Data phase direction.
    pub direction: DataDirection,
    /// Expected data transfer length in bytes.
    pub transfer_len: u32,
}

impl ScsiRequest {
    pub(crate) fn no_data(cdb: Cdb) -> Self {
        Self {
            cdb,
            direction: DataDirection::None,
            transfer_len: 0,
        }
    }

    pub(crate) fn read(cdb: Cdb, transfer_len: u32) -> Self {
        Self {
            cdb,
            direction: DataDirection::Read,
            transfer_len,
        }
    }

    pub(crate) fn write(cdb: Cdb, transfer_len: u32) -> Self {
        Self {
            cdb,
            direction: DataDirection::Write,
            transfer_len,
        }
    }
}

/// Reject `value` if it does not fit a CDB field whose maximum is `max`.
pub(crate) fn check_fits(
    command: &'static str,
    field: &'static str,
    value: u64,
    max: u64,
) -> Result<(), BuildError> {
    if value > max {
        return Err(BuildError::FieldTooLarge {
            command,
            field,
            value,
            max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
