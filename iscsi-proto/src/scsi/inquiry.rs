//! INQUIRY (SPC-5 6.7): the CDB builders and the standard INQUIRY data parser. VPD pages are
//! parsed in [`super::vpd`] and [`super::device_id`].

use super::cdb::{opcode, Cdb, ScsiRequest};
use super::error::ParseError;
use super::wire::{ascii_field, Wire};

/// EVPD bit: return the vital product data page named by PAGE CODE.
const EVPD_BIT: u8 = 1 << 0;

fn inquiry_cdb(evpd: bool, page_code: u8, allocation_len: u16) -> ScsiRequest {
    let alloc = allocation_len.to_be_bytes();
    let cdb = Cdb::fixed([
        opcode::INQUIRY,
        if evpd { EVPD_BIT } else { 0 },
        page_code,
        alloc[0],
        alloc[1],
        0, // CONTROL
    ]);
    ScsiRequest::read(cdb, u32::from(allocation_len))
}

/// Standard INQUIRY with the given allocation length (96 or more returns everything targets
/// usually have; the parser needs at least 36).
pub fn inquiry(allocation_len: u16) -> ScsiRequest {
    inquiry_cdb(false, 0, allocation_len)
}

/// INQUIRY with EVPD set for vital product data page `page_code`.
pub fn inquiry_vpd(page_code: u8, allocation_len: u16) -> ScsiRequest {
    inquiry_cdb(true, page_code, allocation_len)
}

/// Decoded standard INQUIRY data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardInquiry {
    /// PERIPHERAL QUALIFIER: 0 = a device of this type is connected to this LUN, 1 = one could
    /// be, 3 = the target cannot support a device on this LUN.
    pub(crate) peripheral_qualifier: u8,
    /// PERIPHERAL DEVICE TYPE (0 = direct access block device).
    pub peripheral_device_type: u8,
    /// RMB: removable medium.
    pub(crate) removable: bool,
    /// VERSION: the SPC standard claimed (5 = SPC-3, 6 = SPC-4, 7 = SPC-5).
    pub(crate) version: u8,
    /// RESPONSE DATA FORMAT (2 for any current device).
    pub(crate) response_data_format: u8,
    /// PROTECT: the LU supports protection information.
    pub(crate) protect: bool,
    /// CMDQUE: the LU supports command queuing.
    pub(crate) command_queuing: bool,
    /// T10 VENDOR IDENTIFICATION, trimmed.
    pub vendor: String,
    /// PRODUCT IDENTIFICATION, trimmed.
    pub product: String,
    /// PRODUCT REVISION LEVEL, trimmed.
    pub revision: String,
}

impl StandardInquiry {
    /// Parse standard INQUIRY data. The data may be cut short by the allocation length (that is
    /// normal); it must still reach the end of PRODUCT REVISION LEVEL (36 bytes).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = Wire::new("standard INQUIRY data", bytes);
        let additional_len = usize::from(wire.u8(4, "ADDITIONAL LENGTH")?);
        // Bytes past the declared length are padding the target did not mean; fewer bytes than
        // declared is an allocation-length cut, which is fine as long as the fixed part is there.
        let wire = wire.declared(wire.len().min(additional_len + 5), "ADDITIONAL LENGTH")?;
        let byte0 = wire.u8(0, "PERIPHERAL DEVICE TYPE")?;
        Ok(Self {
            peripheral_qualifier: byte0 >> 5,
            peripheral_device_type: byte0 & 0x1F,
            removable: wire.bit(1, 7, "RMB")?,
            version: wire.u8(2, "VERSION")?,
            response_data_format: wire.u8(3, "RESPONSE DATA FORMAT")? & 0x0F,
            protect: wire.bit(5, 0, "PROTECT")?,
            command_queuing: wire.bit(7, 1, "CMDQUE")?,
            vendor: ascii_field(wire.slice(8, 8, "T10 VENDOR IDENTIFICATION")?),
            product: ascii_field(wire.slice(16, 16, "PRODUCT IDENTIFICATION")?),
            revision: ascii_field(wire.slice(32, 4, "PRODUCT REVISION LEVEL")?),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests;
