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
pub(crate) mod tests {
    use super::*;
    use crate::scsi::DataDirection;

    /// Standard INQUIRY data as tgtd returns it for a backing-store disk.
    pub(crate) fn tgtd_inquiry() -> Vec<u8> {
        let mut data = vec![0u8; 66];
        data[0] = 0x00; // qualifier 0, direct access
        data[2] = 0x05; // SPC-3
        data[3] = 0x12; // HISUP, response data format 2
        data[4] = 61; // additional length: 66 bytes in all
        data[5] = 0x00;
        data[7] = 0x02; // CMDQUE
        data[8..16].copy_from_slice(b"IET     ");
        data[16..32].copy_from_slice(b"VIRTUAL-DISK    ");
        data[32..36].copy_from_slice(b"0001");
        data
    }

    #[test]
    fn standard_inquiry_cdb() {
        let request = inquiry(96);
        assert_eq!(
            request.cdb.as_bytes(),
            &[0x12, 0x00, 0x00, 0x00, 0x60, 0x00]
        );
        assert_eq!(request.direction, DataDirection::Read);
        assert_eq!(request.transfer_len, 96);
    }

    #[test]
    fn vpd_inquiry_cdb() {
        let request = inquiry_vpd(0xB0, 0x0140);
        assert_eq!(
            request.cdb.as_bytes(),
            &[0x12, 0x01, 0xB0, 0x01, 0x40, 0x00]
        );
        assert_eq!(request.transfer_len, 0x140);
    }

    #[test]
    fn parses_tgtd_inquiry() {
        let parsed = StandardInquiry::parse(&tgtd_inquiry()).unwrap();
        assert_eq!(
            parsed,
            StandardInquiry {
                peripheral_qualifier: 0,
                peripheral_device_type: 0,
                removable: false,
                version: 5,
                response_data_format: 2,
                protect: false,
                command_queuing: true,
                vendor: "IET".into(),
                product: "VIRTUAL-DISK".into(),
                revision: "0001".into(),
            }
        );
        assert_eq!(
            (parsed.peripheral_qualifier, parsed.peripheral_device_type),
            (0, 0)
        );
    }

    #[test]
    fn allocation_length_cut_at_36_bytes_is_fine() {
        let data = tgtd_inquiry();
        let parsed = StandardInquiry::parse(&data[..36]).unwrap();
        assert_eq!(parsed.revision, "0001");
    }

    #[test]
    fn qualifier_type_removable_and_protect_bits() {
        let mut data = tgtd_inquiry();
        data[0] = 0x7F; // qualifier 3, type 0x1F: no LUN here
        data[1] = 0x80;
        data[5] = 0x01;
        data[7] = 0x00;
        let parsed = StandardInquiry::parse(&data).unwrap();
        assert_eq!(
            (parsed.peripheral_qualifier, parsed.peripheral_device_type),
            (3, 0x1F)
        );
        assert!(parsed.removable && parsed.protect && !parsed.command_queuing);
    }

    #[test]
    fn short_data_is_truncated() {
        let data = tgtd_inquiry();
        assert_eq!(
            StandardInquiry::parse(&data[..35]),
            Err(ParseError::Truncated {
                what: "standard INQUIRY data",
                field: "PRODUCT REVISION LEVEL",
                needed: 36,
                got: 35
            })
        );
        assert!(matches!(
            StandardInquiry::parse(&data[..4]),
            Err(ParseError::Truncated {
                field: "ADDITIONAL LENGTH",
                ..
            })
        ));
    }

    #[test]
    fn declared_length_below_36_is_truncated() {
        let mut data = tgtd_inquiry();
        data[4] = 20;
        assert!(matches!(
            StandardInquiry::parse(&data),
            Err(ParseError::Truncated {
                field: "PRODUCT IDENTIFICATION",
                needed: 32,
                got: 25,
                ..
            })
        ));
    }
}
