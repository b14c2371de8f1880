//! Device Identification VPD page (0x83, SPC-5 7.7.6): the list of designation descriptors a
//! logical unit (and its ports) are known by. A block device uses the logical-unit NAA or EUI-64
//! designator as its stable world-wide name.

use std::fmt;

use super::error::ParseError;
use super::vpd::{page, vpd_page, VPD_HEADER_LEN};
use super::wire::{ascii_field, Wire};

/// Bytes of a designation descriptor before its designator.
const DESCRIPTOR_HEADER_LEN: usize = 4;
/// Length of the T10 VENDOR IDENTIFICATION at the start of a T10 vendor ID designator.
const T10_VENDOR_LEN: usize = 8;

/// CODE SET: how the designator bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeSet {
    /// 1: binary.
    Binary,
    /// 2: printable ASCII.
    Ascii,
    /// 3: UTF-8.
    Utf8,
    /// Any other (reserved) value.
    Reserved(u8),
}

impl From<u8> for CodeSet {
    fn from(raw: u8) -> Self {
        match raw {
            1 => Self::Binary,
            2 => Self::Ascii,
            3 => Self::Utf8,
            other => Self::Reserved(other),
        }
    }
}

/// ASSOCIATION: what the designator names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Association {
    /// 0: the addressed logical unit.
    LogicalUnit,
    /// 1: the target port that received the command.
    TargetPort,
    /// 2: the SCSI target device containing the logical unit.
    TargetDevice,
    /// 3: reserved.
    Reserved,
}

impl From<u8> for Association {
    fn from(raw: u8) -> Self {
        match raw & 0x03 {
            0 => Self::LogicalUnit,
            1 => Self::TargetPort,
            2 => Self::TargetDevice,
            _ => Self::Reserved,
        }
    }
}

/// A designator, decoded according to its DESIGNATOR TYPE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Designator {
    /// Type 1: T10 vendor ID based.
    T10VendorId {
        /// T10 VENDOR IDENTIFICATION, trimmed.
        vendor: String,
        /// VENDOR SPECIFIC IDENTIFIER bytes.
        specific: Vec<u8>,
    },
    /// Type 2: EUI-64 based (8, 12 or 16 bytes).
    Eui64(Vec<u8>),
    /// Type 3: NAA; the first nibble is the NAA format (2, 3, 5: 8 bytes; 6: 16 bytes).
    Naa(Vec<u8>),
    /// Type 8: SCSI name string (e.g. an iSCSI name), up to its NUL terminator.
    ScsiNameString(String),
    /// Any other designator type, undecoded.
    Other {
        /// DESIGNATOR TYPE.
        designator_type: u8,
        /// Raw designator bytes.
        bytes: Vec<u8>,
    },
}

impl Designator {
    fn parse(designator_type: u8, wire: Wire<'_>, bytes: &[u8]) -> Result<Self, ParseError> {
        let invalid_length = || wire.invalid("DESIGNATOR LENGTH", bytes.len() as u64);
        match designator_type {
            1 => {
                let (vendor, specific) = bytes
                    .split_at_checked(T10_VENDOR_LEN)
                    .ok_or_else(invalid_length)?;
                Ok(Self::T10VendorId {
                    vendor: ascii_field(vendor),
                    specific: specific.to_vec(),
                })
            }
            2 => match bytes.len() {
                8 | 12 | 16 => Ok(Self::Eui64(bytes.to_vec())),
                _ => Err(invalid_length()),
            },
            3 => {
                let naa = bytes.first().ok_or_else(invalid_length)? >> 4;
                let expected_len = match naa {
                    2 | 3 | 5 => Some(8),
                    6 => Some(16),
                    _ => None,
                };
                match expected_len {
                    Some(len) if len != bytes.len() => Err(invalid_length()),
                    _ => Ok(Self::Naa(bytes.to_vec())),
                }
            }
            8 => {
                let name = bytes.split(|&byte| byte == 0).next().unwrap_or_default();
                let name = std::str::from_utf8(name).map_err(|error| {
                    wire.invalid("SCSI NAME STRING", error.valid_up_to() as u64)
                })?;
                Ok(Self::ScsiNameString(name.to_owned()))
            }
            _ => Ok(Self::Other {
                designator_type,
                bytes: bytes.to_vec(),
            }),
        }
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    bytes.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
}

/// The conventional text forms: `naa.<hex>`, `eui.<hex>`, `t10.<vendor> <specific>`, the SCSI
/// name string as is, and `type<N>.<hex>` for anything else.
impl fmt::Display for Designator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::T10VendorId { vendor, specific } => {
                write!(
                    f,
                    "t10.{vendor} {}",
                    String::from_utf8_lossy(specific).trim_end_matches([' ', '\0'])
                )
            }
            Self::Eui64(bytes) => {
                write!(f, "eui.")?;
                write_hex(f, bytes)
            }
            Self::Naa(bytes) => {
                write!(f, "naa.")?;
                write_hex(f, bytes)
            }
            Self::ScsiNameString(name) => f.write_str(name),
            Self::Other {
                designator_type,
                bytes,
            } => {
                write!(f, "type{designator_type}.")?;
                write_hex(f, bytes)
            }
        }
    }
}

/// One designation descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DesignationDescriptor {
    /// PROTOCOL IDENTIFIER (5 = iSCSI), only meaningful when PIV is set for a port or target
    /// device association; `None` otherwise.
    pub(crate) protocol_identifier: Option<u8>,
    /// CODE SET.
    pub(crate) code_set: CodeSet,
    /// ASSOCIATION.
    pub(crate) association: Association,
    /// The decoded designator (its type is [`Designator::designator_type`]).
    pub(crate) designator: Designator,
}

/// Device Identification (0x83).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentification {
    /// Descriptors in the order the target listed them.
    pub(crate) descriptors: Vec<DesignationDescriptor>,
}

impl DeviceIdentification {
    /// Parse page 0x83. A descriptor running past the page, or a known designator type with an
    /// impossible length, is an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = vpd_page(
            "Device Identification VPD page",
            page::DEVICE_IDENTIFICATION,
            bytes,
        )?;
        let mut descriptors = Vec::new();
        let mut offset = VPD_HEADER_LEN;
        while offset < wire.len() {
            let byte0 = wire.u8(offset, "PROTOCOL IDENTIFIER")?;
            let byte1 = wire.u8(offset + 1, "DESIGNATOR TYPE")?;
            let designator_len = usize::from(wire.u8(offset + 3, "DESIGNATOR LENGTH")?);
            let designator_bytes =
                wire.slice(offset + DESCRIPTOR_HEADER_LEN, designator_len, "DESIGNATOR")?;
            let association = Association::from((byte1 >> 4) & 0x03);
            let protocol_identifier_valid = byte1 & 0x80 != 0
                && matches!(
                    association,
                    Association::TargetPort | Association::TargetDevice
                );
            descriptors.push(DesignationDescriptor {
                protocol_identifier: protocol_identifier_valid.then_some(byte0 >> 4),
                code_set: CodeSet::from(byte0 & 0x0F),
                association,
                designator: Designator::parse(byte1 & 0x0F, wire, designator_bytes)?,
            });
            offset += DESCRIPTOR_HEADER_LEN + designator_len;
        }
        Ok(Self { descriptors })
    }

    /// The logical unit's best world-wide identifier: NAA, then EUI-64, then SCSI name string,
    /// then T10 vendor ID (the order Linux `scsi_id` prefers).
    pub fn logical_unit_id(&self) -> Option<&Designator> {
        let rank = |designator: &Designator| match designator {
            Designator::Naa(_) => Some(0),
            Designator::Eui64(_) => Some(1),
            Designator::ScsiNameString(_) => Some(2),
            Designator::T10VendorId { .. } => Some(3),
            Designator::Other { .. } => None,
        };
        self.descriptors
            .iter()
            .filter(|descriptor| descriptor.association == Association::LogicalUnit)
            .filter_map(|descriptor| {
                rank(&descriptor.designator).map(|rank| (rank, &descriptor.designator))
            })
            .min_by_key(|(rank, _)| *rank)
            .map(|(_, designator)| designator)
    }
}

#[cfg(test)]
mod tests;
