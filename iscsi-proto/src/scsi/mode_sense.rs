//! MODE SENSE(10) (SPC-5 6.14) and its parameter data: the mode parameter header (write
//! protect), block descriptors (skipped) and mode pages, with the Caching page (0x08) decoded.

use super::cdb::{check_fits, opcode, Cdb, ScsiRequest};
use super::error::{BuildError, ParseError};
use super::wire::Wire;

/// Mode parameter header (10) length.
const HEADER_LEN: usize = 8;

/// Mode page codes used by a block initiator.
pub(crate) mod mode_page {
    /// Caching mode page.
    pub(crate) const CACHING: u8 = 0x08;
    /// "Return all pages" page code.
    pub(crate) const ALL: u8 = 0x3F;
}

/// PC field: which values to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageControl {
    /// 00b: current values.
    Current = 0,
    /// 01b: changeable-values mask.
    Changeable = 1,
    /// 10b: default values.
    Default = 2,
    /// 11b: saved values.
    Saved = 3,
}

/// What MODE SENSE(10) should return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeSense10 {
    /// PAGE CODE (0..=0x3F; 0x3F = all pages).
    pub page_code: u8,
    /// SUBPAGE CODE (0 = the page itself, 0xFF = all subpages).
    pub subpage_code: u8,
    /// PC: current, changeable, default or saved values.
    pub page_control: PageControl,
    /// DBD: disable block descriptors (the target omits them).
    pub disable_block_descriptors: bool,
    /// ALLOCATION LENGTH in bytes.
    pub allocation_len: u16,
}

/// Build MODE SENSE(10); a page code above 0x3F is rejected.
pub fn mode_sense10(params: ModeSense10) -> Result<ScsiRequest, BuildError> {
    check_fits(
        "MODE SENSE(10)",
        "PAGE CODE",
        u64::from(params.page_code),
        u64::from(mode_page::ALL),
    )?;
    let alloc = params.allocation_len.to_be_bytes();
    let cdb = Cdb::fixed([
        opcode::MODE_SENSE_10,
        if params.disable_block_descriptors {
            1 << 3
        } else {
            0
        },
        (params.page_control as u8) << 6 | params.page_code,
        params.subpage_code,
        0,
        0,
        0,
        alloc[0],
        alloc[1],
        0, // CONTROL
    ]);
    Ok(ScsiRequest::read(cdb, u32::from(params.allocation_len)))
}

/// One mode page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModePage {
    /// PAGE CODE.
    pub(crate) page_code: u8,
    /// SUBPAGE CODE (0 for a page in page_0 format).
    pub(crate) subpage_code: u8,
    /// PS: the page can be saved.
    pub(crate) parameters_saveable: bool,
    /// The page's parameter bytes, after its 2-byte (page_0) or 4-byte (sub_page) header.
    pub(crate) data: Vec<u8>,
}

/// Caching mode page (0x08) bits a block device acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachingPage {
    /// WCE: write-back cache enabled (the device needs SYNCHRONIZE CACHE / FUA for durability).
    pub write_cache_enabled: bool,
    /// RCD: read cache disabled.
    pub(crate) read_cache_disabled: bool,
}

/// MODE SENSE(10) parameter data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModeParameters {
    /// MEDIUM TYPE.
    pub(crate) medium_type: u8,
    /// WP bit of the DEVICE-SPECIFIC PARAMETER: the medium is write protected.
    pub write_protected: bool,
    /// DPOFUA bit of the DEVICE-SPECIFIC PARAMETER: DPO and FUA are supported.
    pub dpo_fua_supported: bool,
    /// Mode pages in the order returned.
    pub(crate) pages: Vec<ModePage>,
}

impl ModeParameters {
    /// Parse MODE SENSE(10) data. A buffer shorter than MODE DATA LENGTH + 2 is `Truncated`
    /// with the full length as `needed`; a page running past the data is `Truncated` too.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = Wire::new("MODE SENSE(10) data", bytes);
        let mode_data_len = usize::from(wire.be_u16(0, "MODE DATA LENGTH")?);
        let wire = wire.declared(mode_data_len + 2, "MODE DATA LENGTH")?;
        let device_specific = wire.u8(3, "DEVICE-SPECIFIC PARAMETER")?;
        let block_descriptors_len = usize::from(wire.be_u16(6, "BLOCK DESCRIPTOR LENGTH")?);
        let first_page = HEADER_LEN + block_descriptors_len;
        if first_page > wire.len() {
            return Err(wire.truncated("BLOCK DESCRIPTOR LENGTH", first_page));
        }
        Ok(Self {
            medium_type: wire.u8(2, "MEDIUM TYPE")?,
            write_protected: device_specific & 0x80 != 0,
            dpo_fua_supported: device_specific & 0x10 != 0,
            pages: parse_pages(wire, first_page)?,
        })
    }

    /// The page with this code and subpage code, if returned.
    pub(crate) fn page(&self, page_code: u8, subpage_code: u8) -> Option<&ModePage> {
        self.pages
            .iter()
            .find(|page| page.page_code == page_code && page.subpage_code == subpage_code)
    }

    /// The Caching page's WCE and RCD bits, if the page was returned. A Caching page too short
    /// to hold them is `Truncated`.
    pub fn caching(&self) -> Result<Option<CachingPage>, ParseError> {
        let Some(page) = self.page(mode_page::CACHING, 0) else {
            return Ok(None);
        };
        // Page byte 2 is data[0]: IC ABPF CAP DISC SIZE WCE MF RCD.
        let flags = Wire::new("Caching mode page", &page.data).u8(0, "WCE")?;
        Ok(Some(CachingPage {
            write_cache_enabled: flags & 0x04 != 0,
            read_cache_disabled: flags & 0x01 != 0,
        }))
    }
}

/// Walk mode pages from `offset` to the end of the mode data. Every page advances the offset by
/// at least its header, so the walk terminates.
fn parse_pages(wire: Wire<'_>, mut offset: usize) -> Result<Vec<ModePage>, ParseError> {
    let mut pages = Vec::new();
    while offset < wire.len() {
        let byte0 = wire.u8(offset, "PAGE CODE")?;
        let sub_page_format = byte0 & 0x40 != 0;
        let (subpage_code, header_len, page_len) = if sub_page_format {
            (
                wire.u8(offset + 1, "SUBPAGE CODE")?,
                4,
                usize::from(wire.be_u16(offset + 2, "PAGE LENGTH")?),
            )
        } else {
            (0, 2, usize::from(wire.u8(offset + 1, "PAGE LENGTH")?))
        };
        let data = wire.slice(offset + header_len, page_len, "mode page")?;
        pages.push(ModePage {
            page_code: byte0 & 0x3F,
            subpage_code,
            parameters_saveable: byte0 & 0x80 != 0,
            data: data.to_vec(),
        });
        offset += header_len + page_len;
    }
    Ok(pages)
}

#[cfg(test)]
mod tests;
