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
mod tests;
