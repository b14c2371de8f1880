//! The in-use bitmap of the page-pod region, with the contiguous free-run search the allocator
//! needs (the kernel's `bitmap_find_next_zero_area` with no alignment).

/// One bit per pod; set means allocated.
#[derive(Clone, Debug)]
pub(crate) struct PodBitmap {
    words: Vec<u64>,
    len: u32,
}

const WORD_BITS: u32 = u64::BITS;

impl PodBitmap {
    /// A bitmap of `len` free entries.
    pub(crate) fn new(len: u32) -> PodBitmap {
        let words = len.div_ceil(WORD_BITS) as usize;
        PodBitmap {
            words: vec![0; words],
            len,
        }
    }

    /// Whether entry `bit` is allocated; entries past the end read as allocated.
    pub(crate) fn is_set(&self, bit: u32) -> bool {
        if bit >= self.len {
            return true;
        }
        let word = self.words[(bit / WORD_BITS) as usize];
        word & (1 << (bit % WORD_BITS)) != 0
    }

    /// Marks `count` entries from `start` allocated. The range must lie inside the bitmap.
    pub(crate) fn set_range(&mut self, start: u32, count: u32) {
        self.assign_range(start, count, true);
    }

    /// Marks `count` entries from `start` free. The range must lie inside the bitmap.
    pub(crate) fn clear_range(&mut self, start: u32, count: u32) {
        self.assign_range(start, count, false);
    }

    fn assign_range(&mut self, start: u32, count: u32, allocated: bool) {
        debug_assert!(u64::from(start) + u64::from(count) <= u64::from(self.len));
        for bit in start..start.saturating_add(count).min(self.len) {
            let word = &mut self.words[(bit / WORD_BITS) as usize];
            let mask = 1u64 << (bit % WORD_BITS);
            if allocated {
                *word |= mask;
            } else {
                *word &= !mask;
            }
        }
    }

    /// Lowest `i >= start` such that entries `i..i + count` are all free, or `None`.
    pub(crate) fn find_free_run(&self, start: u32, count: u32) -> Option<u32> {
        if count == 0 {
            return None;
        }
        let mut candidate = self.next_free(start)?;
        loop {
            let end = candidate.checked_add(count)?;
            if end > self.len {
                return None;
            }
            match self.first_allocated(candidate, end) {
                None => return Some(candidate),
                Some(blocker) => candidate = self.next_free(blocker + 1)?,
            }
        }
    }

    /// First allocated entry in `lo..hi` (`hi <= len`).
    fn first_allocated(&self, lo: u32, hi: u32) -> Option<u32> {
        let mut bit = lo;
        while bit < hi {
            let offset = bit % WORD_BITS;
            let span = (WORD_BITS - offset).min(hi - bit);
            let word = self.words[(bit / WORD_BITS) as usize] >> offset;
            let window = if span == WORD_BITS {
                word
            } else {
                word & ((1u64 << span) - 1)
            };
            if window != 0 {
                return Some(bit + window.trailing_zeros());
            }
            bit += span;
        }
        None
    }

    /// First free entry at or after `from`.
    fn next_free(&self, from: u32) -> Option<u32> {
        let mut bit = from;
        while bit < self.len {
            let offset = bit % WORD_BITS;
            // Free entries become ones; the zeros shifted in at the top never count.
            let free = !self.words[(bit / WORD_BITS) as usize] >> offset;
            if free != 0 {
                let found = bit + free.trailing_zeros();
                return (found < self.len).then_some(found);
            }
            bit += WORD_BITS - offset;
        }
        None
    }
}

#[cfg(test)]
mod tests;
