//! The command descriptor block and the request a builder hands to the iSCSI layer.

use super::error::BuildError;

/// Longest CDB carried inline in the iSCSI Basic Header Segment.
pub const INLINE_CDB_LEN: usize = 16;

/// Longest CDB accepted: a variable-length CDB (opcode 0x7F) is 8 header bytes plus up to 252
/// additional bytes (SPC-5 4.2.4); the bytes past 16 travel in the iSCSI extended-CDB AHS.
pub const MAX_CDB_LEN: usize = 260;

/// Operation codes used by the builders in this module (SPC-5 / SBC-4).
pub mod opcode {
    /// TEST UNIT READY.
    pub const TEST_UNIT_READY: u8 = 0x00;
    /// REQUEST SENSE.
    pub const REQUEST_SENSE: u8 = 0x03;
    /// INQUIRY.
    pub const INQUIRY: u8 = 0x12;
    /// READ CAPACITY(10).
    pub const READ_CAPACITY_10: u8 = 0x25;
    /// READ(10).
    pub const READ_10: u8 = 0x28;
    /// WRITE(10).
    pub const WRITE_10: u8 = 0x2A;
    /// SYNCHRONIZE CACHE(10).
    pub const SYNCHRONIZE_CACHE_10: u8 = 0x35;
    /// UNMAP.
    pub const UNMAP: u8 = 0x42;
    /// MODE SENSE(10).
    pub const MODE_SENSE_10: u8 = 0x5A;
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
    /// REPORT LUNS.
    pub const REPORT_LUNS: u8 = 0xA0;
    /// MAINTENANCE IN; REPORT SUPPORTED OPERATION CODES is its service action 0x0C.
    pub const MAINTENANCE_IN: u8 = 0xA3;
}

/// A SCSI command descriptor block.
///
/// CDBs of up to [`INLINE_CDB_LEN`] bytes (every command this initiator sends on the I/O path)
/// are stored inline without allocating; longer ones, up to [`MAX_CDB_LEN`], are heap-backed.
#[derive(Clone, PartialEq, Eq)]
pub struct Cdb(Storage);

#[derive(Clone, PartialEq, Eq)]
enum Storage {
    Inline {
        bytes: [u8; INLINE_CDB_LEN],
        len: u8,
    },
    Extended(Vec<u8>),
}

impl Cdb {
    /// A CDB from raw bytes; 1..=[`MAX_CDB_LEN`] bytes.
    pub fn new(bytes: &[u8]) -> Result<Self, BuildError> {
        let len = bytes.len();
        if len == 0 || len > MAX_CDB_LEN {
            return Err(BuildError::CdbLength {
                len,
                max: MAX_CDB_LEN,
            });
        }
        if len > INLINE_CDB_LEN {
            return Ok(Self(Storage::Extended(bytes.to_vec())));
        }
        let mut inline = [0u8; INLINE_CDB_LEN];
        inline[..len].copy_from_slice(bytes);
        Ok(Self(Storage::Inline {
            bytes: inline,
            len: len as u8,
        }))
    }

    /// A fixed-size CDB built in this module. `N` is 6, 10, 12 or 16, checked at compile time.
    pub(crate) const fn fixed<const N: usize>(bytes: [u8; N]) -> Self {
        const { assert!(N >= 1 && N <= INLINE_CDB_LEN) };
        let mut inline = [0u8; INLINE_CDB_LEN];
        let mut i = 0;
        while i < N {
            inline[i] = bytes[i];
            i += 1;
        }
        Self(Storage::Inline {
            bytes: inline,
            len: N as u8,
        })
    }

    /// The CDB bytes, exactly as long as the command.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Storage::Inline { bytes, len } => &bytes[..usize::from(*len)],
            Storage::Extended(bytes) => bytes,
        }
    }

    /// The operation code (byte 0).
    pub fn opcode(&self) -> u8 {
        // Both constructors guarantee at least one byte.
        self.as_bytes().first().copied().unwrap_or_default()
    }

    /// The 16-byte CDB field of the iSCSI SCSI Command BHS: the first 16 bytes, zero padded.
    pub fn bhs_field(&self) -> [u8; INLINE_CDB_LEN] {
        let mut field = [0u8; INLINE_CDB_LEN];
        let head = &self.as_bytes()[..self.as_bytes().len().min(INLINE_CDB_LEN)];
        field[..head.len()].copy_from_slice(head);
        field
    }

    /// Bytes past the first 16, which RFC 7143 11.3.5 carries in an extended-CDB AHS; empty for
    /// an inline CDB.
    pub fn extended_part(&self) -> &[u8] {
        self.as_bytes().get(INLINE_CDB_LEN..).unwrap_or(&[])
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
mod tests {
    use super::*;

    #[test]
    fn short_cdb_is_inline_and_padded_for_the_bhs() {
        let cdb = Cdb::new(&[0x00, 0, 0, 0, 0, 0]).unwrap();
        assert_eq!(cdb.as_bytes(), &[0u8; 6]);
        assert_eq!(cdb.bhs_field(), [0u8; 16]);
        assert!(cdb.extended_part().is_empty());
        assert!(matches!(cdb.0, Storage::Inline { len: 6, .. }));
    }

    #[test]
    fn sixteen_bytes_stay_inline() {
        let bytes: Vec<u8> = (1..=16).collect();
        let cdb = Cdb::new(&bytes).unwrap();
        assert!(matches!(cdb.0, Storage::Inline { len: 16, .. }));
        assert_eq!(cdb.bhs_field().to_vec(), bytes);
        assert!(cdb.extended_part().is_empty());
    }

    #[test]
    fn long_cdb_splits_into_bhs_field_and_ahs_part() {
        let bytes: Vec<u8> = (0..32).collect();
        let cdb = Cdb::new(&bytes).unwrap();
        assert_eq!(cdb.as_bytes(), &bytes[..]);
        assert_eq!(cdb.bhs_field().to_vec(), bytes[..16].to_vec());
        assert_eq!(cdb.extended_part(), &bytes[16..]);
        assert_eq!(cdb.opcode(), 0);
    }

    #[test]
    fn cdb_length_limits() {
        assert_eq!(
            Cdb::new(&[]),
            Err(BuildError::CdbLength { len: 0, max: 260 })
        );
        assert!(Cdb::new(&[0x7F; 260]).is_ok());
        assert_eq!(
            Cdb::new(&[0x7F; 261]),
            Err(BuildError::CdbLength { len: 261, max: 260 })
        );
    }

    #[test]
    fn fixed_matches_new() {
        let bytes = [0x28, 0, 1, 2, 3, 4, 0, 0, 8, 0];
        assert_eq!(Cdb::fixed(bytes), Cdb::new(&bytes).unwrap());
        assert_eq!(format!("{:?}", Cdb::fixed([0x12, 1])), "Cdb(12 01)");
    }
}
