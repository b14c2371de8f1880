//! The DDP tag format the modern `cxgbi_ppm` builds (2016 and later), used as the ITT on the wire.
//!
//! A 32-bit tag, from the top:
//!
//! ```text
//!  31 30 | 29 ........ B | B-1    | B-2 ...... 6 | 5 .... 0
//!  page  | free ("sw")  | no-DDP | pod index    | color
//!  sel.  | bits         | bit    | (idx_bits)   | (6 bits)
//! ```
//!
//! where `B = fls(tagmask)` and `tagmask = 1 << (bits + 6)`, `bits = fls(ppmax)`. A DDP tag has the
//! no-DDP bit clear and names a page pod (index) plus the pod's current color; the software tag
//! of a DDP task is not in the ITT at all, the page-pod manager keeps it as the index's
//! `caller_data`. A non-DDP tag is the software tag with a 1 inserted at the no-DDP bit.
//!
//! Bits above the no-DDP bit of a DDP tag (free bits, page selector) are ignored when decoding,
//! as the kernel's `cxgbi_ppm_ddp_tag_get_idx` does; this model never sets them.
//!
//! # Software tags
//!
//! The software tag is the initiator's to choose (libcxgbi builds it from the task index and
//! the session age). A task's software tag here is its task number with a generation above it:
//!
//! ```text
//!  30 ...... 28 | 27 ....... 20 | 19 ............ 0
//!  zero         | generation    | task number
//!               | (8 bits)      | (SW_TASK_BITS)
//! ```
//!
//! The page-pod manager advances a task's generation on every reservation, so the non-DDP ITT
//! of one command of a task differs from that of the task's previous commands: a late PDU for
//! an earlier command names an ITT no longer in use, as a DDP tag's color makes it for DDP
//! reads. A stale non-DDP ITT matches again only after 256 more reservations of the same task.
//! Software tags from [`SW_TASK_TAG_LIMIT`] up (to [`SW_TAG_LIMIT`]) are never a task's; the
//! initiator numbers its own requests (logout, pings, task management) there.

use thiserror::Error;

/// Shift of the pod index inside a DDP tag (`PPOD_IDX_SHIFT`).
pub(crate) const PPOD_IDX_SHIFT: u32 = 6;
/// Number of color bits below the index.
pub(crate) const COLOR_BITS: u32 = 6;
/// Mask of the color field.
pub(crate) const COLOR_MASK: u32 = (1 << COLOR_BITS) - 1;
/// The kernel caps the index width at this many bits (`PPOD_IDX_MAX_SIZE`).
pub(crate) const PPOD_IDX_MAX_SIZE: u32 = 24;
/// Bits 31:30 are the page selector; the rest of the tag must fit below them.
const PAGE_SELECTOR_SHIFT: u32 = 30;
/// A software tag must be below this (it must use at most 31 bits).
pub(crate) const SW_TAG_LIMIT: u32 = 1 << 31;
/// Bits of a task's software tag that hold the task number.
pub(crate) const SW_TASK_BITS: u32 = 20;
/// Task numbers must be below this.
pub(crate) const SW_TASK_LIMIT: u32 = 1 << SW_TASK_BITS;
/// Width of the generation above the task number.
pub(crate) const SW_GENERATION_BITS: u32 = u8::BITS;
/// Every task's software tag, whatever its generation, is below this.
pub(crate) const SW_TASK_TAG_LIMIT: u32 = 1 << (SW_TASK_BITS + SW_GENERATION_BITS);
const _: () = assert!(SW_TASK_TAG_LIMIT < SW_TAG_LIMIT);

/// "find last set": 1-based position of the highest set bit, 0 for 0 (the kernel's `fls`).
fn fls(value: u32) -> u32 {
    u32::BITS - value.leading_zeros()
}

/// The 6-bit generation counter of a page-pod index.
///
/// It advances on every allocation of the index, so a tag from an earlier use of the same pod
/// no longer matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Color(u8);

impl Color {
    /// Largest color value.
    pub const MAX: u8 = COLOR_MASK as u8;

    /// Validates a color value (0..=63).
    pub fn new(value: u8) -> Option<Color> {
        (value <= Self::MAX).then_some(Color(value))
    }

    /// The color as a number.
    pub fn value(self) -> u8 {
        self.0
    }

    /// The color after one more allocation: 63 wraps to 0.
    pub fn next(self) -> Color {
        if self.0 == Self::MAX {
            Color(0)
        } else {
            Color(self.0 + 1)
        }
    }
}

/// The generation of a task's software tag (see the module documentation).
///
/// It advances on every reservation of the task, so a non-DDP ITT from an earlier command of
/// the task no longer matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct Generation(u8);

impl Generation {
    #[cfg(test)]
    /// A generation value (every `u8` is one).
    pub(crate) fn new(value: u8) -> Generation {
        Generation(value)
    }

    /// The generation as a number.
    pub(crate) fn value(self) -> u8 {
        self.0
    }

    /// The generation of the next reservation: 255 wraps to 0.
    pub(crate) fn next(self) -> Generation {
        Generation(self.0.wrapping_add(1))
    }
}

/// The software tag of `task`'s reservation in `generation`.
pub(crate) fn task_sw_tag(task: u32, generation: Generation) -> Result<u32, TagError> {
    if task >= SW_TASK_LIMIT {
        return Err(TagError::TaskTooLarge { task });
    }
    Ok(u32::from(generation.value()) << SW_TASK_BITS | task)
}

#[cfg(test)]
/// The task number and generation of a task's software tag; `None` for a software tag that is
/// not a task's (at or above [`SW_TASK_TAG_LIMIT`]).
pub(crate) fn task_of_sw_tag(sw_tag: u32) -> Option<(u32, Generation)> {
    (sw_tag < SW_TASK_TAG_LIMIT).then(|| {
        // Below SW_TASK_TAG_LIMIT the bits above the task number fit a u8.
        let generation = (sw_tag >> SW_TASK_BITS) as u8;
        (sw_tag & (SW_TASK_LIMIT - 1), Generation(generation))
    })
}

/// A DDP tag issued for an allocated page-pod index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DdpTag {
    raw: u32,
    index: u32,
    color: Color,
}

impl DdpTag {
    /// The tag as sent in the ITT field (host order; the wire carries it big-endian).
    pub fn raw(self) -> u32 {
        self.raw
    }

    /// The page-pod index the tag names.
    pub fn index(self) -> u32 {
        self.index
    }

    /// The color the index had when the tag was issued.
    pub fn color(self) -> Color {
        self.color
    }
}

/// What an ITT means under a tag format, before any check against the allocation state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A DDP tag: the pod index (not yet checked against `ppmax`) and color.
    Ddp {
        /// Pod index from the index field.
        index: u32,
        /// Color from the low six bits.
        color: Color,
    },
    /// A non-DDP tag carrying the software tag directly.
    NonDdp {
        /// The software tag with the inserted no-DDP bit removed.
        sw_tag: u32,
    },
}

/// A page-pod count the tag format cannot describe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum TagFormatError {
    /// No pods at all.
    #[error("ppmax is 0: the page-pod region holds no pods")]
    ZeroPpmax,
    /// The index field would reach into the page selector (bits 31:30).
    #[error(
        "ppmax {ppmax} needs {index_bits} index bits; the no-DDP bit would land in the page \
         selector (at most 23 index bits fit)"
    )]
    PpmaxTooLarge {
        /// The rejected pod count.
        ppmax: u32,
        /// Index bits it would need (after the kernel's cap at 24).
        index_bits: u32,
    },
}

/// Why an ITT does not name a usable DDP binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum TagError {
    /// A software tag too wide to become a non-DDP tag.
    #[error("software tag {sw_tag:#x} uses bit 31; at most 31 bits fit a non-DDP tag")]
    SwTagTooWide {
        /// The rejected software tag.
        sw_tag: u32,
    },
    /// A task number too large for a task's software tag.
    #[error("task {task:#x} does not fit the {SW_TASK_BITS}-bit task number of a software tag")]
    TaskTooLarge {
        /// The rejected task number.
        task: u32,
    },
    /// The ITT's software tag is not a task's (it is e.g. a housekeeping request's).
    #[error("itt {itt:#010x} carries software tag {sw_tag:#x}, which is not a task's")]
    NotATask {
        /// The offending ITT.
        itt: u32,
        /// Its software tag.
        sw_tag: u32,
    },
    /// The ITT has the no-DDP bit set where a DDP tag was expected.
    #[error("itt {itt:#010x} is a non-DDP tag where a DDP tag was expected")]
    NotDdp {
        /// The offending ITT.
        itt: u32,
    },
    /// The index field names a pod beyond the region.
    #[error("itt {itt:#010x} names pod index {index}, beyond ppmax {ppmax}")]
    IndexOutOfRange {
        /// The offending ITT.
        itt: u32,
        /// Index decoded from it.
        index: u32,
        /// Number of pods in the region.
        ppmax: u32,
    },
    /// The pod at the index is free.
    #[error("itt {itt:#010x} names pod index {index}, which is not allocated")]
    IndexNotAllocated {
        /// The offending ITT.
        itt: u32,
        /// Index decoded from it.
        index: u32,
    },
    /// The pod at the index is allocated, but as a later pod of another binding.
    #[error("itt {itt:#010x} names pod index {index}, which lies inside another binding")]
    InsideAnotherBinding {
        /// The offending ITT.
        itt: u32,
        /// Index decoded from it.
        index: u32,
    },
    /// The color is not the index's current color: the tag is from an earlier allocation.
    #[error("itt {itt:#010x}: pod index {index} has color {expected}, the tag carries {found}")]
    StaleColor {
        /// The offending ITT.
        itt: u32,
        /// Index decoded from it.
        index: u32,
        /// The index's current color.
        expected: u8,
        /// The color in the ITT.
        found: u8,
    },
}

/// Field layout of DDP and non-DDP tags for a region of `ppmax` page pods
/// (`cxgbi_tagmask_set` + `cxgbi_tagmask_check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TagFormat {
    ppmax: u32,
    /// `B = fls(tagmask)`: index + color + the no-DDP bit.
    rsvd_bits: u32,
    idx_bits: u32,
    no_ddp_mask: u32,
    idx_mask: u32,
    idx_clr_mask: u32,
    rsvd_mask: u32,
    free_bits: u32,
}

impl TagFormat {
    /// Derives the format for `ppmax` pods.
    ///
    /// The kernel takes `bits = fls(ppmax)` capped at 24; with 24 bits the no-DDP bit would be
    /// bit 30 (inside the page selector) and the free-bit count negative, so this model refuses
    /// `ppmax >= 2^23` instead. Real T3 pod regions are far smaller.
    pub(crate) fn new(ppmax: u32) -> Result<TagFormat, TagFormatError> {
        if ppmax == 0 {
            return Err(TagFormatError::ZeroPpmax);
        }
        let index_bits = fls(ppmax).min(PPOD_IDX_MAX_SIZE);
        let tagmask_shift = index_bits + PPOD_IDX_SHIFT;
        let rsvd_bits = tagmask_shift + 1; // fls(1 << tagmask_shift)
        if rsvd_bits > PAGE_SELECTOR_SHIFT {
            return Err(TagFormatError::PpmaxTooLarge { ppmax, index_bits });
        }
        let idx_bits = rsvd_bits - 1 - COLOR_BITS;
        Ok(TagFormat {
            ppmax,
            rsvd_bits,
            idx_bits,
            no_ddp_mask: 1 << (rsvd_bits - 1),
            idx_mask: (1 << idx_bits) - 1,
            idx_clr_mask: (1 << (rsvd_bits - 1)) - 1,
            rsvd_mask: (1 << rsvd_bits) - 1,
            free_bits: PAGE_SELECTOR_SHIFT - rsvd_bits,
        })
    }

    /// Number of pods in the region.
    pub(crate) fn ppmax(&self) -> u32 {
        self.ppmax
    }

    #[cfg(test)]
    /// The TAGMASK value programmed into the adapter: `1 << (bits + 6)`.
    pub(crate) fn tagmask(&self) -> u32 {
        1 << (self.rsvd_bits - 1)
    }

    #[cfg(test)]
    /// `B`: bits used by index, color and the no-DDP bit.
    pub(crate) fn rsvd_bits(&self) -> u32 {
        self.rsvd_bits
    }

    #[cfg(test)]
    /// Width of the index field.
    pub(crate) fn idx_bits(&self) -> u32 {
        self.idx_bits
    }

    #[cfg(test)]
    /// The no-DDP bit.
    pub(crate) fn no_ddp_mask(&self) -> u32 {
        self.no_ddp_mask
    }

    #[cfg(test)]
    /// Mask of the index field after shifting it down by [`PPOD_IDX_SHIFT`].
    pub(crate) fn idx_mask(&self) -> u32 {
        self.idx_mask
    }

    /// Index and color bits (everything below the no-DDP bit).
    pub(crate) fn idx_clr_mask(&self) -> u32 {
        self.idx_clr_mask
    }

    #[cfg(test)]
    /// Index, color and the no-DDP bit.
    pub(crate) fn rsvd_mask(&self) -> u32 {
        self.rsvd_mask
    }

    #[cfg(test)]
    /// Unused bits between the no-DDP bit and the page selector.
    pub(crate) fn free_bits(&self) -> u32 {
        self.free_bits
    }

    /// Whether `itt` is a DDP tag (no-DDP bit clear).
    pub(crate) fn is_ddp_tag(&self, itt: u32) -> bool {
        itt & self.no_ddp_mask == 0
    }

    /// Builds the DDP tag `(index << 6) | color` for a pod index inside the region.
    pub(crate) fn make_ddp_tag(&self, index: u32, color: Color) -> Result<DdpTag, TagError> {
        let raw = (index << PPOD_IDX_SHIFT) | u32::from(color.value());
        if index >= self.ppmax {
            return Err(TagError::IndexOutOfRange {
                itt: raw,
                index,
                ppmax: self.ppmax,
            });
        }
        Ok(DdpTag { raw, index, color })
    }

    /// Builds the non-DDP tag for `sw_tag`: a 1 is inserted at the no-DDP bit, the software bits
    /// below it stay and the higher ones move up by one (`cxgbi_ppm_make_non_ddp_tag`).
    pub fn make_non_ddp_tag(&self, sw_tag: u32) -> Result<u32, TagError> {
        if sw_tag >= SW_TAG_LIMIT {
            return Err(TagError::SwTagTooWide { sw_tag });
        }
        let split = self.rsvd_bits - 1;
        let lower = sw_tag & self.idx_clr_mask;
        // sw_tag < 2^31, so the upper part shifted by one more bit still fits in 32 bits.
        let upper = (sw_tag >> split) << (split + 1);
        Ok(upper | self.no_ddp_mask | lower)
    }

    /// Removes the inserted no-DDP bit (`cxgbi_ppm_decode_non_ddp_tag`).
    fn decode_non_ddp_tag(&self, itt: u32) -> u32 {
        let lower = itt & self.idx_clr_mask;
        let upper = (itt >> self.rsvd_bits) << (self.rsvd_bits - 1);
        upper | lower
    }

    /// Splits any 32-bit ITT into its meaning; never fails (validation is separate).
    pub(crate) fn decode_itt(&self, itt: u32) -> Decoded {
        if self.is_ddp_tag(itt) {
            Decoded::Ddp {
                index: (itt >> PPOD_IDX_SHIFT) & self.idx_mask,
                color: Color((itt & COLOR_MASK) as u8),
            }
        } else {
            Decoded::NonDdp {
                sw_tag: self.decode_non_ddp_tag(itt),
            }
        }
    }

    /// The index and color of an ITT that must be a DDP tag naming a pod inside the region.
    ///
    /// Allocation state and color currency are the page-pod manager's checks.
    pub(crate) fn ddp_parts(&self, itt: u32) -> Result<(u32, Color), TagError> {
        match self.decode_itt(itt) {
            Decoded::NonDdp { .. } => Err(TagError::NotDdp { itt }),
            Decoded::Ddp { index, .. } if index >= self.ppmax => Err(TagError::IndexOutOfRange {
                itt,
                index,
                ppmax: self.ppmax,
            }),
            Decoded::Ddp { index, color } => Ok((index, color)),
        }
    }
}

#[cfg(test)]
mod tests;
