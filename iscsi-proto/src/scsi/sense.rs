//! Sense data (SPC-5 4.4): fixed (0x70/0x71) and descriptor (0x72/0x73) formats, decoded into
//! one [`Sense`] value with a readable `Display`.
//!
//! Input is the sense data itself; the iSCSI layer strips the 2-byte SenseLength that precedes
//! it in a SCSI Response data segment.

use std::fmt;

use super::asc::additional_sense_text;
use super::error::ParseError;
use super::wire::Wire;

/// Sense data header length shared by both formats (through ADDITIONAL SENSE LENGTH).
const HEADER_LEN: usize = 8;
/// In fixed format, ASC and ASCQ are bytes 12 and 13.
const FIXED_ASC_OFFSET: usize = 12;
/// Descriptor type of the Information sense data descriptor.
const INFORMATION_DESCRIPTOR: u8 = 0x00;
/// ADDITIONAL LENGTH of the Information descriptor.
const INFORMATION_DESCRIPTOR_LEN: usize = 0x0A;

/// SENSE KEY (SPC-5 4.4.8); every 4-bit value is named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SenseKey {
    /// 0x0.
    NoSense,
    /// 0x1: the command completed after the target recovered an error.
    RecoveredError,
    /// 0x2.
    NotReady,
    /// 0x3.
    MediumError,
    /// 0x4.
    HardwareError,
    /// 0x5.
    IllegalRequest,
    /// 0x6.
    UnitAttention,
    /// 0x7.
    DataProtect,
    /// 0x8.
    BlankCheck,
    /// 0x9.
    VendorSpecific,
    /// 0xA.
    CopyAborted,
    /// 0xB.
    AbortedCommand,
    /// 0xC (reserved; was EQUAL).
    Reserved,
    /// 0xD.
    VolumeOverflow,
    /// 0xE.
    Miscompare,
    /// 0xF.
    Completed,
}

impl SenseKey {
    /// The key in the low four bits of `raw`.
    pub(crate) fn from_nibble(raw: u8) -> Self {
        match raw & 0x0F {
            0x0 => Self::NoSense,
            0x1 => Self::RecoveredError,
            0x2 => Self::NotReady,
            0x3 => Self::MediumError,
            0x4 => Self::HardwareError,
            0x5 => Self::IllegalRequest,
            0x6 => Self::UnitAttention,
            0x7 => Self::DataProtect,
            0x8 => Self::BlankCheck,
            0x9 => Self::VendorSpecific,
            0xA => Self::CopyAborted,
            0xB => Self::AbortedCommand,
            0xC => Self::Reserved,
            0xD => Self::VolumeOverflow,
            0xE => Self::Miscompare,
            _ => Self::Completed,
        }
    }

    /// The SPC name, e.g. `"MEDIUM ERROR"`.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::NoSense => "NO SENSE",
            Self::RecoveredError => "RECOVERED ERROR",
            Self::NotReady => "NOT READY",
            Self::MediumError => "MEDIUM ERROR",
            Self::HardwareError => "HARDWARE ERROR",
            Self::IllegalRequest => "ILLEGAL REQUEST",
            Self::UnitAttention => "UNIT ATTENTION",
            Self::DataProtect => "DATA PROTECT",
            Self::BlankCheck => "BLANK CHECK",
            Self::VendorSpecific => "VENDOR SPECIFIC",
            Self::CopyAborted => "COPY ABORTED",
            Self::AbortedCommand => "ABORTED COMMAND",
            Self::Reserved => "RESERVED",
            Self::VolumeOverflow => "VOLUME OVERFLOW",
            Self::Miscompare => "MISCOMPARE",
            Self::Completed => "COMPLETED",
        }
    }
}

impl fmt::Display for SenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which sense data format the target used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SenseFormat {
    /// Response code 0x70 / 0x71.
    Fixed,
    /// Response code 0x72 / 0x73.
    Descriptor,
}

/// Decoded sense data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sense {
    /// Fixed or descriptor format.
    pub(crate) format: SenseFormat,
    /// Deferred error (0x71 / 0x73): it belongs to an earlier command, not this one.
    pub(crate) deferred: bool,
    /// SENSE KEY.
    pub key: SenseKey,
    /// ADDITIONAL SENSE CODE.
    pub asc: u8,
    /// ADDITIONAL SENSE CODE QUALIFIER.
    pub ascq: u8,
    /// INFORMATION (e.g. the first failing LBA), when marked valid: fixed format VALID bit with
    /// its 32-bit field, or a descriptor-format Information descriptor (type 0x00) with VALID.
    pub(crate) information: Option<u64>,
}

impl Sense {
    /// Parse sense data in either format.
    ///
    /// Fixed format needs its 8-byte header; ASC/ASCQ are read when ADDITIONAL SENSE LENGTH
    /// covers them (and are 0 when it declares fewer bytes). Descriptor format needs the whole
    /// length it declares. A declared field missing from the buffer is `Truncated`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = Wire::new("sense data", bytes);
        let byte0 = wire.u8(0, "RESPONSE CODE")?;
        match byte0 & 0x7F {
            0x70 => parse_fixed(wire, false),
            0x71 => parse_fixed(wire, true),
            0x72 => parse_descriptor(wire, false),
            0x73 => parse_descriptor(wire, true),
            other => Err(wire.invalid("RESPONSE CODE", u64::from(other))),
        }
    }

    /// Table text for this ASC/ASCQ pair, if known.
    pub(crate) fn description(&self) -> Option<&'static str> {
        additional_sense_text(self.asc, self.ascq)
    }
}

fn parse_fixed(wire: Wire<'_>, deferred: bool) -> Result<Sense, ParseError> {
    let valid = wire.bit(0, 7, "VALID")?;
    let key = SenseKey::from_nibble(wire.u8(2, "SENSE KEY")?);
    let information = wire.be_u32(3, "INFORMATION")?;
    let declared_len = HEADER_LEN + usize::from(wire.u8(7, "ADDITIONAL SENSE LENGTH")?);
    let (asc, ascq) = if declared_len >= FIXED_ASC_OFFSET + 2 {
        (
            wire.u8(FIXED_ASC_OFFSET, "ADDITIONAL SENSE CODE")?,
            wire.u8(FIXED_ASC_OFFSET + 1, "ADDITIONAL SENSE CODE QUALIFIER")?,
        )
    } else {
        (0, 0)
    };
    Ok(Sense {
        format: SenseFormat::Fixed,
        deferred,
        key,
        asc,
        ascq,
        information: valid.then_some(u64::from(information)),
    })
}

fn parse_descriptor(wire: Wire<'_>, deferred: bool) -> Result<Sense, ParseError> {
    let key = SenseKey::from_nibble(wire.u8(1, "SENSE KEY")?);
    let asc = wire.u8(2, "ADDITIONAL SENSE CODE")?;
    let ascq = wire.u8(3, "ADDITIONAL SENSE CODE QUALIFIER")?;
    let declared_len = HEADER_LEN + usize::from(wire.u8(7, "ADDITIONAL SENSE LENGTH")?);
    let wire = wire.declared(declared_len, "ADDITIONAL SENSE LENGTH")?;
    let mut information = None;
    let mut offset = HEADER_LEN;
    while offset < wire.len() {
        let descriptor_type = wire.u8(offset, "DESCRIPTOR TYPE")?;
        let descriptor_len = usize::from(wire.u8(offset + 1, "ADDITIONAL LENGTH")?);
        let body = Wire::new(
            "sense data descriptor",
            wire.slice(offset + 2, descriptor_len, "sense data descriptor")?,
        );
        if descriptor_type == INFORMATION_DESCRIPTOR {
            if descriptor_len != INFORMATION_DESCRIPTOR_LEN {
                return Err(wire.invalid(
                    "Information descriptor ADDITIONAL LENGTH",
                    descriptor_len as u64,
                ));
            }
            // Body: VALID byte, reserved byte, 8-byte INFORMATION.
            if body.bit(0, 7, "VALID")? {
                information = Some(body.be_u64(2, "INFORMATION")?);
            }
        }
        offset += 2 + descriptor_len;
    }
    Ok(Sense {
        format: SenseFormat::Descriptor,
        deferred,
        key,
        asc,
        ascq,
        information,
    })
}

/// `MEDIUM ERROR: unrecovered read error (11/00)`; an unknown pair reads
/// `ABORTED COMMAND: additional sense (80/01)`; deferred errors end with ` [deferred]`.
impl fmt::Display for Sense {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.description().unwrap_or("additional sense");
        write!(
            f,
            "{}: {text} ({:02X}/{:02X})",
            self.key, self.asc, self.ascq
        )?;
        if self.deferred {
            write!(f, " [deferred]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests;
