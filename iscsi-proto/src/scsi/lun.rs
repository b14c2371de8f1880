//! Logical unit numbers in the SAM-5 8-byte format (SAM-5 4.7).
//!
//! Supported, single level only: peripheral device addressing (method 00b, bus 0) for LUNs below
//! 256 and flat space addressing (method 01b) for LUNs below 16384 — the forms iSCSI targets
//! (tgtd, LIO, SCST) use. Larger numbers are rejected with a [`LunError`].

use std::fmt;

use super::error::LunError;

/// Largest LUN flat space addressing can carry (14 bits).
pub(crate) const MAX_FLAT_LUN: u16 = 0x3FFF;

const PERIPHERAL_METHOD: u8 = 0b00;
const FLAT_SPACE_METHOD: u8 = 0b01;

/// A logical unit number, 0..=16383 (`MAX_FLAT_LUN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lun(u16);

impl Lun {
    /// A LUN, if it fits flat space addressing.
    pub fn new(lun: u32) -> Result<Self, LunError> {
        match u16::try_from(lun) {
            Ok(value) if value <= MAX_FLAT_LUN => Ok(Self(value)),
            _ => Err(LunError::TooLarge(lun)),
        }
    }

    /// The 8-byte LUN field of an iSCSI PDU: peripheral device addressing below 256, flat space
    /// addressing otherwise (the same choice as Linux `int_to_scsilun` for these values, plus the
    /// 01b method bits SAM-5 requires above 255).
    pub fn encode(self) -> EncodedLun {
        let [high, low] = self.0.to_be_bytes();
        let byte0 = if self.0 < 256 {
            PERIPHERAL_METHOD << 6
        } else {
            (FLAT_SPACE_METHOD << 6) | high
        };
        EncodedLun([byte0, low, 0, 0, 0, 0, 0, 0])
    }
}

impl fmt::Display for Lun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A LUN as it appears on the wire (the iSCSI LUN field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodedLun(pub [u8; 8]);

#[cfg(test)]
mod tests;
