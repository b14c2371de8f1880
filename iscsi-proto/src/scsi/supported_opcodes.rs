//! REPORT SUPPORTED OPERATION CODES (SPC-5 6.36, MAINTENANCE IN service action 0x0C) in its
//! one-command form (REPORTING OPTIONS 001b): whether the device server supports one operation
//! code, and which bits of its CDB it evaluates (the CDB USAGE DATA mask). That mask is how an
//! initiator learns about optional CDB bits such as WRITE SAME(16)'s NDOB.

use super::cdb::{opcode, Cdb, ScsiRequest};
use super::error::{BuildError, ParseError};
use super::wire::Wire;
use super::MAX_CDB_LEN;

/// MAINTENANCE IN service action of REPORT SUPPORTED OPERATION CODES.
const SERVICE_ACTION: u8 = 0x0C;
/// REPORTING OPTIONS 001b: one command, named by its operation code, without service action.
const ONE_COMMAND_NO_SERVICE_ACTION: u8 = 0b001;
/// The one_command parameter data header: reserved, flags with SUPPORT, CDB SIZE.
const HEADER_LEN: usize = 4;
/// SUPPORT occupies bits 2:0 of byte 1.
const SUPPORT_MASK: u8 = 0b111;

/// The SUPPORT field: whether and how the device server implements the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommandSupport {
    /// 000b: the device server cannot tell at the moment.
    NotAvailable,
    /// 001b: not supported.
    NotSupported,
    /// 011b: supported as the standard defines it.
    Standard,
    /// 101b: supported in a vendor-specific manner.
    VendorSpecific,
    /// Any reserved code.
    Reserved(u8),
}

impl CommandSupport {
    fn from_field(value: u8) -> CommandSupport {
        match value {
            0b000 => CommandSupport::NotAvailable,
            0b001 => CommandSupport::NotSupported,
            0b011 => CommandSupport::Standard,
            0b101 => CommandSupport::VendorSpecific,
            reserved => CommandSupport::Reserved(reserved),
        }
    }

    /// Whether the command may be sent (as the standard or the vendor defines it).
    pub(crate) fn is_supported(self) -> bool {
        matches!(
            self,
            CommandSupport::Standard | CommandSupport::VendorSpecific
        )
    }
}

/// REPORT SUPPORTED OPERATION CODES for `operation_code` alone (a command without service
/// actions), reading at most `allocation_len` bytes.
///
/// The allocation length must hold at least the 4-byte header.
pub fn report_supported_operation_code(
    operation_code: u8,
    allocation_len: u32,
) -> Result<ScsiRequest, BuildError> {
    if allocation_len < HEADER_LEN as u32 {
        return Err(BuildError::FieldTooSmall {
            command: "REPORT SUPPORTED OPERATION CODES",
            field: "ALLOCATION LENGTH",
            value: u64::from(allocation_len),
            min: HEADER_LEN as u64,
        });
    }
    let mut bytes = [0u8; 12];
    bytes[0] = opcode::MAINTENANCE_IN;
    bytes[1] = SERVICE_ACTION;
    bytes[2] = ONE_COMMAND_NO_SERVICE_ACTION;
    bytes[3] = operation_code;
    // Bytes 4..6: REQUESTED SERVICE ACTION, zero for this reporting option.
    bytes[6..10].copy_from_slice(&allocation_len.to_be_bytes());
    Ok(ScsiRequest::read(Cdb::fixed(bytes), allocation_len))
}

/// The one_command parameter data for one operation code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneCommandUsage {
    pub(crate) support: CommandSupport,
    /// CDB USAGE DATA: the operation code, then per CDB byte a mask of the bits the device
    /// server evaluates. As long as the CDB (CDB SIZE); empty when the command is unsupported
    /// and the target sent no usage data.
    pub(crate) cdb_usage: Vec<u8>,
}

impl OneCommandUsage {
    /// Parses the answer to [`report_supported_operation_code`] for `requested_opcode`.
    ///
    /// For a supported command the usage data must name that operation code and be as long as
    /// the opcode's group says its CDB is (6, 10, 12 or 16 bytes; other groups up to
    /// `MAX_CDB_LEN`, 260).
    pub fn parse(bytes: &[u8], requested_opcode: u8) -> Result<OneCommandUsage, ParseError> {
        let wire = Wire::new("REPORT SUPPORTED OPERATION CODES data", bytes);
        let support = CommandSupport::from_field(wire.u8(1, "SUPPORT")? & SUPPORT_MASK);
        let cdb_size = usize::from(wire.be_u16(2, "CDB SIZE")?);
        let cdb_usage = wire
            .declared(HEADER_LEN + cdb_size, "CDB USAGE DATA")?
            .rest(HEADER_LEN)
            .to_vec();
        if support.is_supported() {
            let size_fits = match cdb_len_of_group(requested_opcode) {
                Some(len) => cdb_size == len,
                None => (1..=MAX_CDB_LEN).contains(&cdb_size),
            };
            if !size_fits {
                return Err(wire.invalid("CDB SIZE", cdb_size as u64));
            }
            let named = cdb_usage.first().copied().unwrap_or_default();
            if named != requested_opcode {
                return Err(wire.invalid("CDB USAGE DATA operation code", u64::from(named)));
            }
        }
        Ok(OneCommandUsage { support, cdb_usage })
    }

    /// Whether the device server supports the command and evaluates `bit` (0 = least
    /// significant) of CDB byte `byte`.
    pub fn evaluates(&self, byte: usize, bit: u8) -> bool {
        self.support.is_supported()
            && bit < 8
            && self
                .cdb_usage
                .get(byte)
                .is_some_and(|mask| mask & (1 << bit) != 0)
    }
}

/// The CDB length an operation code's group implies (SPC-5 4.2.5.1), where it is fixed.
fn cdb_len_of_group(operation_code: u8) -> Option<usize> {
    match operation_code >> 5 {
        0 => Some(6),
        1 | 2 => Some(10),
        4 => Some(16),
        5 => Some(12),
        // Group 3 is reserved / variable length, groups 6 and 7 are vendor specific.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scsi::DataDirection;

    /// WRITE SAME(16) usage data as a target that evaluates NDOB (byte 1 bit 0) reports it:
    /// UNMAP, ANCHOR and NDOB in byte 1, LBA, length, group number, control.
    const WRITE_SAME_16_WITH_NDOB: [u8; 20] = [
        0x00, 0x03, 0x00, 0x10, // header: SUPPORT 011b, CDB SIZE 16
        0x93, 0xF9, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, //
        0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x07,
    ];

    #[test]
    fn builder_asks_for_one_command_without_service_action() {
        let request = report_supported_operation_code(opcode::WRITE_SAME_16, 0x0102_0304).unwrap();
        assert_eq!(
            request.cdb.as_bytes(),
            &[0xA3, 0x0C, 0x01, 0x93, 0, 0, 1, 2, 3, 4, 0, 0]
        );
        assert_eq!(request.direction, DataDirection::Read);
        assert_eq!(request.transfer_len, 0x0102_0304);
        assert!(matches!(
            report_supported_operation_code(0x93, 3),
            Err(BuildError::FieldTooSmall {
                field: "ALLOCATION LENGTH",
                ..
            })
        ));
    }

    #[test]
    fn supported_with_ndob_evaluated() {
        let usage = OneCommandUsage::parse(&WRITE_SAME_16_WITH_NDOB, 0x93).unwrap();
        assert_eq!(usage.support, CommandSupport::Standard);
        assert_eq!(usage.cdb_usage.len(), 16);
        assert!(usage.evaluates(1, 0), "NDOB");
        assert!(usage.evaluates(1, 3), "UNMAP");
        assert!(!usage.evaluates(1, 1), "reserved bit");
        assert!(!usage.evaluates(16, 0), "past the CDB");
        assert!(!usage.evaluates(1, 8), "no such bit");
    }

    #[test]
    fn supported_without_ndob() {
        let mut bytes = WRITE_SAME_16_WITH_NDOB;
        bytes[5] = 0x08; // UNMAP only
        let usage = OneCommandUsage::parse(&bytes, 0x93).unwrap();
        assert!(usage.support.is_supported());
        assert!(!usage.evaluates(1, 0));
        assert!(usage.evaluates(1, 3));
    }

    #[test]
    fn vendor_specific_support_counts_and_flags_above_support_are_ignored() {
        let mut bytes = WRITE_SAME_16_WITH_NDOB;
        bytes[1] = 0x80 | 0b101; // CTDP set, vendor-specific support
        let usage = OneCommandUsage::parse(&bytes, 0x93).unwrap();
        assert_eq!(usage.support, CommandSupport::VendorSpecific);
        assert!(usage.evaluates(1, 0));
    }

    #[test]
    fn not_supported_has_no_usage_and_evaluates_nothing() {
        let usage = OneCommandUsage::parse(&[0, 0b001, 0, 0], 0x93).unwrap();
        assert_eq!(usage.support, CommandSupport::NotSupported);
        assert!(usage.cdb_usage.is_empty());
        assert!(!usage.evaluates(0, 0));
        // A usage mask with SUPPORT "not available" still means: do not use it.
        let mut bytes = WRITE_SAME_16_WITH_NDOB;
        bytes[1] = 0;
        let usage = OneCommandUsage::parse(&bytes, 0x93).unwrap();
        assert_eq!(usage.support, CommandSupport::NotAvailable);
        assert!(!usage.evaluates(1, 0));
        bytes[1] = 0b110;
        assert_eq!(
            OneCommandUsage::parse(&bytes, 0x93).unwrap().support,
            CommandSupport::Reserved(0b110)
        );
    }

    #[test]
    fn lengths_and_opcode_are_validated() {
        assert!(matches!(
            OneCommandUsage::parse(&[0, 3, 0], 0x93),
            Err(ParseError::Truncated {
                field: "CDB SIZE",
                ..
            })
        ));
        // Usage data cut short: the full length is reported as needed.
        assert_eq!(
            OneCommandUsage::parse(&WRITE_SAME_16_WITH_NDOB[..12], 0x93),
            Err(ParseError::Truncated {
                what: "REPORT SUPPORTED OPERATION CODES data",
                field: "CDB USAGE DATA",
                needed: 20,
                got: 12,
            })
        );
        // A 16-byte opcode reported with a 10-byte CDB.
        let mut ten = WRITE_SAME_16_WITH_NDOB[..14].to_vec();
        ten[3] = 10;
        assert!(matches!(
            OneCommandUsage::parse(&ten, 0x93),
            Err(ParseError::InvalidField {
                field: "CDB SIZE",
                value: 10,
                ..
            })
        ));
        // The usage data describes another command.
        assert!(matches!(
            OneCommandUsage::parse(&WRITE_SAME_16_WITH_NDOB, 0x8A),
            Err(ParseError::InvalidField {
                field: "CDB USAGE DATA operation code",
                value: 0x93,
                ..
            })
        ));
        // Trailing bytes past CDB SIZE (a command timeouts descriptor) are not usage data.
        let mut with_timeouts = WRITE_SAME_16_WITH_NDOB.to_vec();
        with_timeouts.extend_from_slice(&[0, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        let usage = OneCommandUsage::parse(&with_timeouts, 0x93).unwrap();
        assert_eq!(usage.cdb_usage.len(), 16);
    }

    #[test]
    fn group_lengths() {
        assert_eq!(cdb_len_of_group(0x12), Some(6));
        assert_eq!(cdb_len_of_group(0x28), Some(10));
        assert_eq!(cdb_len_of_group(0x5A), Some(10));
        assert_eq!(cdb_len_of_group(0x93), Some(16));
        assert_eq!(cdb_len_of_group(0xA3), Some(12));
        assert_eq!(cdb_len_of_group(0x7F), None);
        assert_eq!(cdb_len_of_group(0xC0), None);
    }
}
