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
mod tests;
