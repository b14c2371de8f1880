//! Vital product data pages (SPC-5 7.7, SBC-4 6.6): Supported VPD Pages (0x00), Unit Serial
//! Number (0x80), Block Limits (0xB0), Block Device Characteristics (0xB1) and Logical Block
//! Provisioning (0xB2). Device Identification (0x83) lives in [`super::device_id`].
//!
//! Every page starts with a 4-byte header whose PAGE LENGTH (bytes 2..4) counts the bytes after
//! it. A buffer shorter than that declared length gives [`ParseError::Truncated`] with `needed`
//! set to the full page length, so the caller can retry with a larger allocation length.

use super::error::ParseError;
use super::wire::{ascii_field, Wire};

/// VPD page codes parsed here.
pub(crate) mod page {
    /// Supported VPD Pages.
    pub(crate) const SUPPORTED_PAGES: u8 = 0x00;
    /// Unit Serial Number.
    pub(crate) const UNIT_SERIAL_NUMBER: u8 = 0x80;
    /// Device Identification.
    pub(crate) const DEVICE_IDENTIFICATION: u8 = 0x83;
    /// Block Limits (SBC).
    pub(crate) const BLOCK_LIMITS: u8 = 0xB0;
    /// Block Device Characteristics (SBC).
    pub(crate) const BLOCK_DEVICE_CHARACTERISTICS: u8 = 0xB1;
    /// Logical Block Provisioning (SBC).
    pub(crate) const LOGICAL_BLOCK_PROVISIONING: u8 = 0xB2;
}

/// Bytes before a VPD page's payload.
pub(crate) const VPD_HEADER_LEN: usize = 4;

/// Check the header of a VPD page and return a view of the whole page (header included) cut to
/// its declared length.
pub(crate) fn vpd_page<'a>(
    what: &'static str,
    expected_page: u8,
    bytes: &'a [u8],
) -> Result<Wire<'a>, ParseError> {
    let wire = Wire::new(what, bytes);
    let page_code = wire.u8(1, "PAGE CODE")?;
    if page_code != expected_page {
        return Err(ParseError::WrongVpdPage {
            expected: expected_page,
            got: page_code,
        });
    }
    let page_len = usize::from(wire.be_u16(2, "PAGE LENGTH")?);
    wire.declared(VPD_HEADER_LEN + page_len, "PAGE LENGTH")
}

/// Supported VPD Pages (0x00): the page codes the logical unit implements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedVpdPages {
    /// Page codes in the order the target listed them (ascending per SPC).
    pub pages: Vec<u8>,
}

impl SupportedVpdPages {
    /// Parse page 0x00.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = vpd_page("Supported VPD Pages", page::SUPPORTED_PAGES, bytes)?;
        Ok(Self {
            pages: wire.rest(VPD_HEADER_LEN).to_vec(),
        })
    }
}

/// Unit Serial Number (0x80).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSerialNumber {
    /// PRODUCT SERIAL NUMBER, with the space/NUL padding targets add removed.
    pub serial: String,
}

impl UnitSerialNumber {
    /// Parse page 0x80.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = vpd_page(
            "Unit Serial Number VPD page",
            page::UNIT_SERIAL_NUMBER,
            bytes,
        )?;
        Ok(Self {
            serial: ascii_field(wire.rest(VPD_HEADER_LEN)),
        })
    }
}

/// Block Limits (0xB0). Zero in a length or count field means "not reported" (SBC-4 6.6.4),
/// except that a zero MAXIMUM UNMAP LBA COUNT / BLOCK DESCRIPTOR COUNT means UNMAP is not
/// supported. Pages from SBC-2 era targets stop after OPTIMAL TRANSFER LENGTH (page length
/// 0x0C); the fields they lack read as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLimits {
    /// WSNZ: WRITE SAME with NUMBER OF LOGICAL BLOCKS zero is rejected.
    pub(crate) write_same_non_zero: bool,
    /// MAXIMUM COMPARE AND WRITE LENGTH in blocks.
    pub(crate) max_compare_and_write_len: u8,
    /// OPTIMAL TRANSFER LENGTH GRANULARITY in blocks.
    pub(crate) optimal_transfer_len_granularity: u16,
    /// MAXIMUM TRANSFER LENGTH in blocks.
    pub max_transfer_len: u32,
    /// OPTIMAL TRANSFER LENGTH in blocks.
    pub optimal_transfer_len: u32,
    /// MAXIMUM PREFETCH LENGTH in blocks.
    pub(crate) max_prefetch_len: u32,
    /// MAXIMUM UNMAP LBA COUNT: most blocks one UNMAP may name.
    pub max_unmap_lba_count: u32,
    /// MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT: most descriptors one UNMAP may carry.
    pub max_unmap_block_descriptor_count: u32,
    /// OPTIMAL UNMAP GRANULARITY in blocks.
    pub optimal_unmap_granularity: u32,
    /// UNMAP GRANULARITY ALIGNMENT, present only when UGAVALID is set.
    pub unmap_granularity_alignment: Option<u32>,
    /// MAXIMUM WRITE SAME LENGTH in blocks.
    pub max_write_same_len: u64,
}

impl BlockLimits {
    /// Parse page 0xB0. The page must reach at least the end of OPTIMAL TRANSFER LENGTH.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = vpd_page("Block Limits VPD page", page::BLOCK_LIMITS, bytes)?;
        // Fields a short (older) page does not declare read as 0, the "not reported" value.
        let optional_u32 = |at: usize, field| {
            if wire.len() >= at + 4 {
                wire.be_u32(at, field)
            } else {
                Ok(0)
            }
        };
        let alignment_word = optional_u32(32, "UNMAP GRANULARITY ALIGNMENT")?;
        let unmap_granularity_alignment_valid = alignment_word & (1 << 31) != 0;
        Ok(Self {
            write_same_non_zero: wire.bit(4, 0, "WSNZ")?,
            max_compare_and_write_len: wire.u8(5, "MAXIMUM COMPARE AND WRITE LENGTH")?,
            optimal_transfer_len_granularity: wire
                .be_u16(6, "OPTIMAL TRANSFER LENGTH GRANULARITY")?,
            max_transfer_len: wire.be_u32(8, "MAXIMUM TRANSFER LENGTH")?,
            optimal_transfer_len: wire.be_u32(12, "OPTIMAL TRANSFER LENGTH")?,
            max_prefetch_len: optional_u32(16, "MAXIMUM PREFETCH LENGTH")?,
            max_unmap_lba_count: optional_u32(20, "MAXIMUM UNMAP LBA COUNT")?,
            max_unmap_block_descriptor_count: optional_u32(
                24,
                "MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT",
            )?,
            optimal_unmap_granularity: optional_u32(28, "OPTIMAL UNMAP GRANULARITY")?,
            unmap_granularity_alignment: unmap_granularity_alignment_valid
                .then_some(alignment_word & !(1 << 31)),
            max_write_same_len: if wire.len() >= 44 {
                wire.be_u64(36, "MAXIMUM WRITE SAME LENGTH")?
            } else {
                0
            },
        })
    }

    /// Whether the target accepts UNMAP at all.
    pub fn supports_unmap(&self) -> bool {
        self.max_unmap_lba_count != 0 && self.max_unmap_block_descriptor_count != 0
    }
}

/// MEDIUM ROTATION RATE of the Block Device Characteristics page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MediumRotationRate {
    /// 0: not reported.
    NotReported,
    /// 1: non-rotating medium (solid state).
    NonRotating,
    /// 0x0401..=0xFFFE: nominal revolutions per minute.
    Rpm(u16),
    /// Any other value (reserved by SBC-4).
    Reserved(u16),
}

impl From<u16> for MediumRotationRate {
    fn from(raw: u16) -> Self {
        match raw {
            0 => Self::NotReported,
            1 => Self::NonRotating,
            0x0401..=0xFFFE => Self::Rpm(raw),
            other => Self::Reserved(other),
        }
    }
}

/// Block Device Characteristics (0xB1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDeviceCharacteristics {
    /// MEDIUM ROTATION RATE.
    pub(crate) medium_rotation_rate: MediumRotationRate,
    /// PRODUCT TYPE (0 = not indicated).
    pub(crate) product_type: u8,
    /// NOMINAL FORM FACTOR (0 = not reported).
    pub(crate) nominal_form_factor: u8,
}

impl BlockDeviceCharacteristics {
    /// Parse page 0xB1; the page must reach byte 7 (NOMINAL FORM FACTOR).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = vpd_page(
            "Block Device Characteristics VPD page",
            page::BLOCK_DEVICE_CHARACTERISTICS,
            bytes,
        )?;
        Ok(Self {
            medium_rotation_rate: wire.be_u16(4, "MEDIUM ROTATION RATE")?.into(),
            product_type: wire.u8(6, "PRODUCT TYPE")?,
            nominal_form_factor: wire.u8(7, "NOMINAL FORM FACTOR")? & 0x0F,
        })
    }

    /// True for solid-state media: what Linux exposes as `queue/rotational = 0`.
    pub fn is_non_rotating(&self) -> bool {
        self.medium_rotation_rate == MediumRotationRate::NonRotating
    }
}

/// PROVISIONING TYPE of the Logical Block Provisioning page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProvisioningType {
    /// 0: fully provisioned (or not reported).
    Full,
    /// 1: resource provisioned.
    Resource,
    /// 2: thin provisioned.
    Thin,
    /// Any other value (reserved).
    Reserved(u8),
}

/// Logical Block Provisioning (0xB2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogicalBlockProvisioning {
    /// THRESHOLD EXPONENT.
    pub(crate) threshold_exponent: u8,
    /// LBPU: UNMAP is supported.
    pub lbpu: bool,
    /// LBPWS: WRITE SAME(16) with the UNMAP bit is supported.
    pub lbpws: bool,
    /// LBPWS10: WRITE SAME(10) with the UNMAP bit is supported.
    pub(crate) lbpws10: bool,
    /// LBPRZ (3 bits since SBC-4, 1 bit before): 0 = unmapped blocks read back unspecified
    /// data, 1 = zeros, 2 = the provisioning initialization pattern.
    pub lbprz: u8,
    /// ANC_SUP: the ANCHOR bit of UNMAP is supported.
    pub(crate) anchor_supported: bool,
    /// PROVISIONING TYPE.
    pub(crate) provisioning_type: ProvisioningType,
}

impl LogicalBlockProvisioning {
    /// Parse page 0xB2; the page must reach byte 6 (PROVISIONING TYPE).
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = vpd_page(
            "Logical Block Provisioning VPD page",
            page::LOGICAL_BLOCK_PROVISIONING,
            bytes,
        )?;
        let flags = wire.u8(5, "LBPU")?;
        Ok(Self {
            threshold_exponent: wire.u8(4, "THRESHOLD EXPONENT")?,
            lbpu: flags & 0x80 != 0,
            lbpws: flags & 0x40 != 0,
            lbpws10: flags & 0x20 != 0,
            lbprz: (flags >> 2) & 0x07,
            anchor_supported: flags & 0x02 != 0,
            provisioning_type: match wire.u8(6, "PROVISIONING TYPE")? & 0x07 {
                0 => ProvisioningType::Full,
                1 => ProvisioningType::Resource,
                2 => ProvisioningType::Thin,
                other => ProvisioningType::Reserved(other),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_pages() {
        let data = [
            0x00, 0x00, 0x00, 0x06, 0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2, 0xEE,
        ];
        let parsed = SupportedVpdPages::parse(&data).unwrap();
        assert_eq!(parsed.pages, vec![0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2]);
        assert!(
            !parsed.pages.contains(&0xEE),
            "bytes past PAGE LENGTH are ignored"
        );
    }

    #[test]
    fn supported_pages_truncated_reports_full_length() {
        let data = [0x00, 0x00, 0x00, 0x06, 0x00, 0x80];
        assert_eq!(
            SupportedVpdPages::parse(&data),
            Err(ParseError::Truncated {
                what: "Supported VPD Pages",
                field: "PAGE LENGTH",
                needed: 10,
                got: 6
            })
        );
    }

    #[test]
    fn wrong_page_code() {
        let data = [0x00, 0x80, 0x00, 0x00];
        assert_eq!(
            SupportedVpdPages::parse(&data),
            Err(ParseError::WrongVpdPage {
                expected: 0x00,
                got: 0x80
            })
        );
        assert!(matches!(
            SupportedVpdPages::parse(&[0x00, 0x00, 0x00]),
            Err(ParseError::Truncated {
                field: "PAGE LENGTH",
                needed: 4,
                got: 3,
                ..
            })
        ));
        assert!(matches!(
            SupportedVpdPages::parse(&[0x00]),
            Err(ParseError::Truncated {
                field: "PAGE CODE",
                ..
            })
        ));
    }

    #[test]
    fn unit_serial_number_trimmed() {
        let mut data = vec![0x00, 0x80, 0x00, 0x10];
        data.extend_from_slice(b"    beaf11\0\0\0\0\0\0");
        assert_eq!(UnitSerialNumber::parse(&data).unwrap().serial, "beaf11");
    }

    #[rustfmt::skip]
    fn block_limits_page() -> Vec<u8> {
        vec![
            0x00, 0xB0, 0x00, 0x3C,
            0x01, 0x01, 0x00, 0x08,     // WSNZ, compare-and-write 1, granularity 8
            0x00, 0x00, 0x40, 0x00,     // max transfer 16384
            0x00, 0x00, 0x04, 0x00,     // optimal transfer 1024
            0x00, 0x00, 0x00, 0x00,     // max prefetch
            0x00, 0x40, 0x00, 0x00,     // max unmap LBA count 0x400000
            0x00, 0x00, 0x00, 0x10,     // max unmap descriptors 16
            0x00, 0x00, 0x00, 0x08,     // optimal unmap granularity 8
            0x80, 0x00, 0x00, 0x02,     // UGAVALID, alignment 2
            0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, // max write same 0x400000
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ]
    }

    #[test]
    fn block_limits_full_page() {
        let data = block_limits_page();
        assert_eq!(data.len(), 64);
        let parsed = BlockLimits::parse(&data).unwrap();
        assert_eq!(
            parsed,
            BlockLimits {
                write_same_non_zero: true,
                max_compare_and_write_len: 1,
                optimal_transfer_len_granularity: 8,
                max_transfer_len: 16384,
                optimal_transfer_len: 1024,
                max_prefetch_len: 0,
                max_unmap_lba_count: 0x40_0000,
                max_unmap_block_descriptor_count: 16,
                optimal_unmap_granularity: 8,
                unmap_granularity_alignment: Some(2),
                max_write_same_len: 0x40_0000,
            }
        );
        assert!(parsed.supports_unmap());
    }

    #[test]
    fn block_limits_without_ugavalid_has_no_alignment() {
        let mut data = block_limits_page();
        data[32] = 0x00;
        assert_eq!(
            BlockLimits::parse(&data)
                .unwrap()
                .unmap_granularity_alignment,
            None
        );
    }

    #[test]
    fn block_limits_sbc2_short_page() {
        let mut data = block_limits_page();
        data.truncate(16);
        data[3] = 0x0C;
        let parsed = BlockLimits::parse(&data).unwrap();
        assert_eq!(parsed.max_transfer_len, 16384);
        assert_eq!(parsed.max_unmap_lba_count, 0);
        assert_eq!(parsed.max_write_same_len, 0);
        assert!(!parsed.supports_unmap());
    }

    #[test]
    fn block_limits_truncated_buffer() {
        let data = block_limits_page();
        assert!(matches!(
            BlockLimits::parse(&data[..40]),
            Err(ParseError::Truncated {
                needed: 64,
                got: 40,
                ..
            })
        ));
        let mut too_short_page = data[..12].to_vec();
        too_short_page[3] = 0x08;
        assert!(matches!(
            BlockLimits::parse(&too_short_page),
            Err(ParseError::Truncated {
                field: "OPTIMAL TRANSFER LENGTH",
                needed: 16,
                got: 12,
                ..
            })
        ));
    }

    fn characteristics_page(rate: u16) -> Vec<u8> {
        let mut data = vec![0u8; 64];
        data[1] = 0xB1;
        data[3] = 0x3C;
        data[4..6].copy_from_slice(&rate.to_be_bytes());
        data[7] = 0x03; // 2.5 inch
        data
    }

    #[test]
    fn block_device_characteristics() {
        let solid = BlockDeviceCharacteristics::parse(&characteristics_page(1)).unwrap();
        assert_eq!(
            solid,
            BlockDeviceCharacteristics {
                medium_rotation_rate: MediumRotationRate::NonRotating,
                product_type: 0,
                nominal_form_factor: 3,
            }
        );
        assert!(solid.is_non_rotating());
        let disk = BlockDeviceCharacteristics::parse(&characteristics_page(7200)).unwrap();
        assert_eq!(disk.medium_rotation_rate, MediumRotationRate::Rpm(7200));
        assert!(!disk.is_non_rotating());
        let unknown = BlockDeviceCharacteristics::parse(&characteristics_page(0)).unwrap();
        assert_eq!(
            unknown.medium_rotation_rate,
            MediumRotationRate::NotReported
        );
        assert_eq!(MediumRotationRate::from(2), MediumRotationRate::Reserved(2));
        assert_eq!(
            MediumRotationRate::from(0xFFFF),
            MediumRotationRate::Reserved(0xFFFF)
        );
    }

    #[test]
    fn block_device_characteristics_truncated() {
        let data = characteristics_page(1);
        assert!(matches!(
            BlockDeviceCharacteristics::parse(&data[..6]),
            Err(ParseError::Truncated { needed: 64, .. })
        ));
    }

    #[test]
    fn logical_block_provisioning_thin_with_zeroing() {
        let data = [0x00, 0xB2, 0x00, 0x04, 0x00, 0xE4, 0x02, 0x00];
        let parsed = LogicalBlockProvisioning::parse(&data).unwrap();
        assert_eq!(
            parsed,
            LogicalBlockProvisioning {
                threshold_exponent: 0,
                lbpu: true,
                lbpws: true,
                lbpws10: true,
                lbprz: 1,
                anchor_supported: false,
                provisioning_type: ProvisioningType::Thin,
            }
        );
        assert_eq!(parsed.lbprz, 1);
    }

    #[test]
    fn logical_block_provisioning_bits_individually() {
        let parse = |flags: u8, kind: u8| {
            LogicalBlockProvisioning::parse(&[0, 0xB2, 0, 4, 9, flags, kind, 0]).unwrap()
        };
        let only_ws = parse(0x40, 0x01);
        assert!(!only_ws.lbpu && only_ws.lbpws && !only_ws.lbpws10 && only_ws.lbprz != 1);
        assert_eq!(only_ws.provisioning_type, ProvisioningType::Resource);
        assert_eq!(only_ws.threshold_exponent, 9);
        let pattern = parse(0x0A, 0x00);
        assert_eq!(pattern.lbprz, 2);
        assert!(pattern.anchor_supported);
        assert_eq!(pattern.provisioning_type, ProvisioningType::Full);
        assert_eq!(
            parse(0, 0x05).provisioning_type,
            ProvisioningType::Reserved(5)
        );
    }

    #[test]
    fn logical_block_provisioning_short_page() {
        let data = [0x00, 0xB2, 0x00, 0x02, 0x00, 0xE4];
        assert!(matches!(
            LogicalBlockProvisioning::parse(&data),
            Err(ParseError::Truncated {
                field: "PROVISIONING TYPE",
                needed: 7,
                got: 6,
                ..
            })
        ));
    }
}
