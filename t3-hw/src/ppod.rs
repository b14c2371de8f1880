//! Page pods: the 64-byte records that tell the adapter where a DDP transfer's pages are.
//! Here: the page sizes and how many pods a transfer needs (the pods' byte encoding, which
//! only a hardware engine writes, is in `hw_ppod`).

/// Pages mapped by one pod (`PPOD_PAGES_MAX`).
pub(crate) const PPOD_PAGES: usize = 4;
/// A DDP page size from the T3 table: 4 KiB shifted by the order programmed in ULPRX_ISCSI_PSZ.
///
/// The 2008–2015 drivers programmed the orders {0, 1, 2, 4}; the position in the table is the
/// page-size index written into TCB word 31 with SET_TCB_FIELD.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageSize {
    /// 4 KiB, index 0.
    Size4K,
    /// 8 KiB, index 1.
    Size8K,
    /// 16 KiB, index 2.
    Size16K,
    /// 64 KiB, index 3.
    Size64K,
}

impl PageSize {
    /// The table in index order.
    pub const ALL: [PageSize; 4] = [
        PageSize::Size4K,
        PageSize::Size8K,
        PageSize::Size16K,
        PageSize::Size64K,
    ];

    /// Position in the table (0..=3), the value SET_TCB_FIELD programs.
    pub fn index(self) -> u8 {
        match self {
            PageSize::Size4K => 0,
            PageSize::Size8K => 1,
            PageSize::Size16K => 2,
            PageSize::Size64K => 3,
        }
    }

    /// Shift applied to the 4 KiB base page.
    pub fn order(self) -> u32 {
        match self {
            PageSize::Size4K => 0,
            PageSize::Size8K => 1,
            PageSize::Size16K => 2,
            PageSize::Size64K => 4,
        }
    }

    /// Page size in bytes.
    pub fn bytes(self) -> u32 {
        4096 << self.order()
    }

    /// The table entry for a page size in bytes, if the table has one.
    pub fn from_bytes(bytes: u32) -> Option<PageSize> {
        PageSize::ALL.into_iter().find(|size| size.bytes() == bytes)
    }

    /// The table entry at `index`.
    pub fn from_index(index: u8) -> Option<PageSize> {
        PageSize::ALL.get(usize::from(index)).copied()
    }
}

/// Pages a transfer touches: `ceil((xfer_len + first_offset) / page_size)`.
pub(crate) fn pages_for(xfer_len: u32, first_offset: u32, page_size: PageSize) -> u64 {
    let span = u64::from(xfer_len) + u64::from(first_offset);
    span.div_ceil(u64::from(page_size.bytes()))
}

/// Pods needed for a transfer: `ceil(pages / 4)`.
pub fn pods_for(xfer_len: u32, first_offset: u32, page_size: PageSize) -> u64 {
    pages_for(xfer_len, first_offset, page_size).div_ceil(PPOD_PAGES as u64)
}

#[cfg(test)]
mod tests;
