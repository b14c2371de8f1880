//! The status word of CPL_RX_DATA_DDP (`ddpvld_status`), reported with every received PDU.
//!
//! ```text
//!  31..28  ULP mode        27 INVALID_PPOD   26 TID_MISMATCH   25 COLOR_ERR
//!  24 OFFSET_ERR           23 ULIMIT_ERR     22 INVALID_TAG    21 DATACRC_ERR
//!  20 HDRCRC_ERR           19 PADDING_ERR    18 PPOD_PARITY    17 LLIMIT_ERR
//!  16 DDP_PDU (payload was placed)           15 PPOD_MISMATCH  7..0 DDP status code
//! ```
//!
//! libcxgbi only looks at DDP_PDU, PADDING_ERR, HDRCRC_ERR and DATACRC_ERR; the placement check
//! of this crate also reports which tag/pod/offset check refused a placement.

use std::fmt;
use std::ops::BitOr;

/// A `ddpvld_status` word.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DdpStatus(u32);

const DDP_STATUS_CODE_MASK: u32 = 0xFF;
const ULP_MODE_SHIFT: u32 = 28;

impl DdpStatus {
    /// No bits set: nothing placed, nothing wrong.
    pub const NONE: DdpStatus = DdpStatus(0);
    /// The pod's tag field does not match the tag (bit 15).
    pub const PPOD_MISMATCH: DdpStatus = DdpStatus(1 << 15);
    /// The payload was placed directly (bit 16).
    pub const DDP_PDU: DdpStatus = DdpStatus(1 << 16);
    /// The pod address fell below the region's lower limit (bit 17).
    pub const LLIMIT_ERR: DdpStatus = DdpStatus(1 << 17);
    /// Parity error reading the pod (bit 18).
    pub const PPOD_PARITY: DdpStatus = DdpStatus(1 << 18);
    /// Bad padding (bit 19).
    pub const PADDING_ERR: DdpStatus = DdpStatus(1 << 19);
    /// Header digest mismatch (bit 20).
    pub const HDRCRC_ERR: DdpStatus = DdpStatus(1 << 20);
    /// Data digest mismatch (bit 21).
    pub const DATACRC_ERR: DdpStatus = DdpStatus(1 << 21);
    /// The tag names no usable pod (bit 22).
    pub const INVALID_TAG: DdpStatus = DdpStatus(1 << 22);
    /// The pod address fell beyond the region's upper limit (bit 23).
    pub const ULIMIT_ERR: DdpStatus = DdpStatus(1 << 23);
    /// The data lies beyond the pod's `max_offset` (bit 24).
    pub const OFFSET_ERR: DdpStatus = DdpStatus(1 << 24);
    /// The tag's color is not the pod's (bit 25).
    pub const COLOR_ERR: DdpStatus = DdpStatus(1 << 25);
    /// The pod belongs to another connection (bit 26).
    pub const TID_MISMATCH: DdpStatus = DdpStatus(1 << 26);
    /// The pod's valid flag is clear (bit 27).
    pub const INVALID_PPOD: DdpStatus = DdpStatus(1 << 27);

    /// Every named flag with its name, in bit order.
    pub const FLAGS: [(DdpStatus, &'static str); 13] = [
        (DdpStatus::PPOD_MISMATCH, "PPOD_MISMATCH"),
        (DdpStatus::DDP_PDU, "DDP_PDU"),
        (DdpStatus::LLIMIT_ERR, "LLIMIT_ERR"),
        (DdpStatus::PPOD_PARITY, "PPOD_PARITY"),
        (DdpStatus::PADDING_ERR, "PADDING_ERR"),
        (DdpStatus::HDRCRC_ERR, "HDRCRC_ERR"),
        (DdpStatus::DATACRC_ERR, "DATACRC_ERR"),
        (DdpStatus::INVALID_TAG, "INVALID_TAG"),
        (DdpStatus::ULIMIT_ERR, "ULIMIT_ERR"),
        (DdpStatus::OFFSET_ERR, "OFFSET_ERR"),
        (DdpStatus::COLOR_ERR, "COLOR_ERR"),
        (DdpStatus::TID_MISMATCH, "TID_MISMATCH"),
        (DdpStatus::INVALID_PPOD, "INVALID_PPOD"),
    ];

    /// Flags that mean something went wrong (everything named except DDP_PDU).
    pub const ERRORS: DdpStatus = DdpStatus(0x0FFE_8000);

    /// Wraps a raw status word.
    pub fn from_bits(bits: u32) -> DdpStatus {
        DdpStatus(bits)
    }

    /// The raw status word.
    pub fn bits(self) -> u32 {
        self.0
    }

    /// Whether every bit of `flags` is set.
    pub fn contains(self, flags: DdpStatus) -> bool {
        self.0 & flags.0 == flags.0
    }

    /// Whether the payload was placed directly.
    pub fn is_placed(self) -> bool {
        self.contains(DdpStatus::DDP_PDU)
    }

    /// Whether any error flag is set.
    pub fn has_error(self) -> bool {
        self.0 & DdpStatus::ERRORS.0 != 0
    }

    /// The 8-bit DDP status code (bits 0..7).
    pub fn status_code(self) -> u8 {
        (self.0 & DDP_STATUS_CODE_MASK) as u8
    }

    /// The ULP mode field (bits 28..31); 2 is iSCSI.
    pub fn ulp_mode(self) -> u8 {
        (self.0 >> ULP_MODE_SHIFT) as u8
    }
}

impl BitOr for DdpStatus {
    type Output = DdpStatus;

    fn bitor(self, other: DdpStatus) -> DdpStatus {
        DdpStatus(self.0 | other.0)
    }
}

impl fmt::Debug for DdpStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DdpStatus({:#010x}", self.0)?;
        for (flag, name) in DdpStatus::FLAGS {
            if self.contains(flag) {
                write!(f, " {name}")?;
            }
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests;
