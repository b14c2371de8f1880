//! For a hardware engine: the byte encoding of page pods, as a T3 adapter reads them from its
//! pod memory (`cxgbi_ppm_make_ppod_hdr`, `cxgbi_ddp_set_one_ppod`).
//!
//! The software engine does not use this module: it places payload from the page-pod
//! manager's bindings directly (`Ppm::lookup`). It is kept, with its tests, for an engine that
//! drives a real adapter and must write the pods of every binding into adapter memory.
//!
//! Layout (all fields big-endian):
//!
//! ```text
//!  0..4   vld_tid       valid flag (bit 24) | TID (bits 0..23)
//!  4..8   pgsz_tag_clr  tag & idx_clr_mask (index + color; bits 31:30 always 0)
//!  8..12  max_offset    total transfer length
//! 12..16  page_offset   offset of the data in the first page
//! 16..24  reserved      0
//! 24..64  addr[0..5]    page addresses; addr[4] repeats the next pod's addr[0]
//! ```
//!
//! One pod maps four pages; the fifth address lets the adapter cross into the next pod's first
//! page without reading that pod first.

#![allow(
    dead_code,
    reason = "the software engine does not write pods; see the module doc"
)]

use thiserror::Error;

use crate::ppm::Binding;
use crate::ppod::PPOD_PAGES;
use crate::tag::{DdpTag, TagFormat};
use crate::tid::{Tid, TID_MAX};

/// Size of one page pod in bytes (`1 << PPOD_SIZE_SHIFT`).
pub(crate) const PPOD_SIZE: usize = 64;
/// Addresses stored in one pod: the four pages plus the repeated next page.
pub(crate) const PPOD_ADDRS: usize = PPOD_PAGES + 1;

const PPOD_VALID_BIT: u32 = 1 << 24;
const PAGE_SELECTOR_MASK: u32 = 0xC000_0000;
const HEADER_LEN: usize = 24;

/// The 24-byte pod header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PodHeader {
    /// Whether the pod is in use (a cleared pod has this false).
    pub valid: bool,
    /// Connection the pod belongs to.
    pub tid: Tid,
    /// `pgsz_tag_clr`: the tag's index and color bits.
    pub tag_index_color: u32,
    /// Total transfer length.
    pub max_offset: u32,
    /// Offset of the data within the first page.
    pub page_offset: u32,
}

impl PodHeader {
    /// The header `cxgbi_ppm_make_ppod_hdr` builds for a reserved tag.
    ///
    /// Bits 31:30 are cleared even if the wire tag carried a page selector; the rest of the
    /// tag above the no-DDP bit is dropped by `idx_clr_mask`.
    pub(crate) fn for_tag(
        format: &TagFormat,
        tag: DdpTag,
        tid: Tid,
        page_offset: u32,
        xfer_len: u32,
    ) -> PodHeader {
        PodHeader {
            valid: true,
            tid,
            tag_index_color: tag.raw() & !PAGE_SELECTOR_MASK & format.idx_clr_mask(),
            max_offset: xfer_len,
            page_offset,
        }
    }
}

/// One page pod: header plus five page addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PagePod {
    /// The header.
    pub header: PodHeader,
    /// Page addresses; `addrs[4]` repeats the next pod's first page (0 when there is none).
    pub addrs: [u64; PPOD_ADDRS],
}

/// Bytes that are not a well-formed T3 page pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub(crate) enum PodError {
    /// Bits 25..31 of `vld_tid` are reserved on T3.
    #[error("vld_tid {vld_tid:#010x} sets reserved bits 25..31")]
    VldTidReservedBits {
        /// The offending word.
        vld_tid: u32,
    },
    /// A pod never carries the page selector.
    #[error("pgsz_tag_clr {pgsz_tag_clr:#010x} sets the page-selector bits 31:30")]
    PageSelectorSet {
        /// The offending word.
        pgsz_tag_clr: u32,
    },
    /// The 64-bit reserved word must be zero.
    #[error("reserved header word is {reserved:#018x}, expected 0")]
    ReservedNonZero {
        /// The offending word.
        reserved: u64,
    },
}

impl PagePod {
    /// The all-zero pod written to release a pod (valid flag clear).
    pub(crate) fn cleared() -> PagePod {
        PagePod {
            header: PodHeader {
                valid: false,
                tid: Tid::ZERO,
                tag_index_color: 0,
                max_offset: 0,
                page_offset: 0,
            },
            addrs: [0; PPOD_ADDRS],
        }
    }

    /// The 64 bytes written into adapter pod memory.
    pub(crate) fn encode(&self) -> [u8; PPOD_SIZE] {
        let mut out = [0u8; PPOD_SIZE];
        let valid = if self.header.valid { PPOD_VALID_BIT } else { 0 };
        let vld_tid = valid | self.header.tid.value();
        out[0..4].copy_from_slice(&vld_tid.to_be_bytes());
        out[4..8].copy_from_slice(&self.header.tag_index_color.to_be_bytes());
        out[8..12].copy_from_slice(&self.header.max_offset.to_be_bytes());
        out[12..16].copy_from_slice(&self.header.page_offset.to_be_bytes());
        // 16..24 stays zero: the reserved word.
        for (slot, addr) in out[HEADER_LEN..].chunks_exact_mut(8).zip(self.addrs) {
            slot.copy_from_slice(&addr.to_be_bytes());
        }
        out
    }

    /// Parses 64 bytes of pod memory, refusing reserved bits.
    pub(crate) fn decode(bytes: &[u8; PPOD_SIZE]) -> Result<PagePod, PodError> {
        let word = |at: usize| {
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let dword = |at: usize| (u64::from(word(at)) << 32) | u64::from(word(at + 4));

        let vld_tid = word(0);
        if vld_tid & !(PPOD_VALID_BIT | TID_MAX) != 0 {
            return Err(PodError::VldTidReservedBits { vld_tid });
        }
        let pgsz_tag_clr = word(4);
        if pgsz_tag_clr & PAGE_SELECTOR_MASK != 0 {
            return Err(PodError::PageSelectorSet { pgsz_tag_clr });
        }
        let reserved = dword(16);
        if reserved != 0 {
            return Err(PodError::ReservedNonZero { reserved });
        }
        let tid = Tid::from_low_bits(vld_tid);
        let mut addrs = [0u64; PPOD_ADDRS];
        for (slot, addr) in addrs.iter_mut().enumerate() {
            *addr = dword(HEADER_LEN + 8 * slot);
        }
        Ok(PagePod {
            header: PodHeader {
                valid: vld_tid & PPOD_VALID_BIT != 0,
                tid,
                tag_index_color: pgsz_tag_clr,
                max_offset: word(8),
                page_offset: word(12),
            },
            addrs,
        })
    }
}

/// The pod sequence for a transfer whose pages are `pages` (page-aligned addresses, in order):
/// pod `k` maps pages `4k..4k+4` and repeats page `4k+4` in its fifth slot; slots past the last
/// page are 0 (`cxgbi_ddp_set_one_ppod`).
pub(crate) fn build_pods(header: PodHeader, pages: &[u64]) -> Vec<PagePod> {
    pages
        .chunks(PPOD_PAGES)
        .enumerate()
        .map(|(pod, _)| {
            let first = pod * PPOD_PAGES;
            let mut addrs = [0u64; PPOD_ADDRS];
            for (slot, addr) in addrs.iter_mut().enumerate() {
                *addr = pages.get(first + slot).copied().unwrap_or(0);
            }
            PagePod { header, addrs }
        })
        .collect()
}

/// The pods to write into adapter memory for a live binding, in index order.
pub(crate) fn pods_of(format: &TagFormat, binding: &Binding) -> Vec<PagePod> {
    let header = PodHeader::for_tag(
        format,
        binding.tag,
        binding.tid,
        binding.page_offset,
        binding.xfer_len,
    );
    build_pods(header, &binding.pages)
}

#[cfg(test)]
mod tests;
