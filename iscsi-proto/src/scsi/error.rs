//! Typed errors for the SCSI layer: building CDBs from caller input, and parsing what a target
//! sent back. Every variant names the command or page and the field at fault.

use thiserror::Error;

/// A caller asked for a command the CDB cannot express; nothing was built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BuildError {
    /// A value does not fit the width of its CDB field (e.g. a PAGE CODE above 0x3F for
    /// MODE SENSE(10)).
    #[error("{command}: {field} = {value} exceeds the field maximum {max}")]
    FieldTooLarge {
        /// Command being built, e.g. `"MODE SENSE(10)"`.
        command: &'static str,
        /// CDB field name as SBC/SPC spell it.
        field: &'static str,
        /// The value the caller passed.
        value: u64,
        /// Largest value the field can carry.
        max: u64,
    },
    /// A value below the minimum the standard allows (or that this layer refuses, see the
    /// builder's documentation).
    #[error("{command}: {field} = {value} is below the minimum {min}")]
    FieldTooSmall {
        /// Command being built.
        command: &'static str,
        /// CDB or parameter field name.
        field: &'static str,
        /// The value the caller passed.
        value: u64,
        /// Smallest accepted value.
        min: u64,
    },
    /// `blocks * block_size` does not fit the 32-bit iSCSI Expected Data Transfer Length.
    #[error("{command}: {blocks} blocks of {block_size} bytes exceed the 32-bit expected data transfer length")]
    TransferTooLong {
        /// Command being built.
        command: &'static str,
        /// Number of logical blocks requested.
        blocks: u32,
        /// Logical block size in bytes.
        block_size: u32,
    },
}

/// A response (parameter data, VPD page, sense data, CDB) could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The buffer ends before a field or before the length the data itself declares. When the
    /// data declared a longer length than the buffer holds, `needed` is that full length, so the
    /// caller can reissue the command with a larger allocation length.
    #[error("{what}: {field} needs {needed} bytes, only {got} available")]
    Truncated {
        /// Data structure being parsed, e.g. `"standard INQUIRY data"`.
        what: &'static str,
        /// Field (or length field) that ran past the end.
        field: &'static str,
        /// Bytes required.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// A field holds a value that the standard forbids or that makes the data unusable.
    #[error("{what}: {field} has invalid value {value:#x}")]
    InvalidField {
        /// Data structure being parsed.
        what: &'static str,
        /// Offending field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// A VPD page arrived with a different page code than the parser handles.
    #[error("VPD page code {got:#04x} where {expected:#04x} was expected")]
    WrongVpdPage {
        /// Page code the parser decodes.
        expected: u8,
        /// Page code in the data.
        got: u8,
    },
}

/// A logical unit number cannot be encoded in the forms this initiator supports (SAM-5
/// single-level peripheral or flat space addressing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LunError {
    /// Flat space addressing carries 14 bits; larger LUNs need extended addressing.
    #[error("LUN {0} exceeds the flat space addressing maximum 16383")]
    TooLarge(u32),
}
