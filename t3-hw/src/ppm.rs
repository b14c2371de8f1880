//! The page-pod manager (`cxgbi_ppm` + libcxgbi's `cxgbi_ddp_reserve` / `task_reserve_itt`).
//!
//! It owns the pod region's in-use bitmap, the per-index color and the binding of each
//! allocated index to a task's buffer. A read task asks for a DDP tag; on any refusal it falls
//! back to a non-DDP tag and its data arrives through the normal receive path.
//!
//! Allocation follows the kernel: search for `npods` contiguous free entries from the rotor
//! `next`, then once more from 0; on success `next` moves past the allocation (wrapping to 0 at
//! the end), on failure it resets to 0, and a release moves it back to the freed index if that is
//! lower. (The kernel's retry from 0 passes a wrong length; this model searches for `npods`.)

use std::collections::HashMap;

use thiserror::Error;

use crate::pod_bitmap::PodBitmap;
use crate::ppod::{pages_for, PageSize, PPOD_PAGES};
#[cfg(test)]
use crate::tag::{task_of_sw_tag, Decoded};
use crate::tag::{task_sw_tag, Color, DdpTag, Generation, TagError, TagFormat, TagFormatError};
use crate::tid::Tid;

/// Default smallest transfer worth DDP (`DDP_THRESHOLD` in the ppm era).
pub(crate) const DDP_THRESHOLD: u32 = 512;
/// DDP is turned off for regions with fewer pods than this.
pub const DDP_MIN_PPMAX: u32 = 1024;
/// The kernel passes the page count as an `unsigned short`.
pub(crate) const MAX_DDP_PAGES: u64 = u16::MAX as u64;
/// Scatter-gather offsets must be multiples of this.
const SG_OFFSET_ALIGN: u32 = 4;

/// Which I/O buffer a binding places into: the ublk tag's buffer in copy mode, or the fixed
/// (registered) buffer index in zero-copy mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct BufferId(pub u32);

/// One scatter-gather entry of a read buffer, like a kernel `scatterlist` entry: a page-aligned
/// address, the offset of the data in that page and the data length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SgEntry {
    /// Page-aligned address of the entry's first page.
    pub page_addr: u64,
    /// Offset of the data within the first page.
    pub offset: u32,
    /// Bytes of data.
    pub len: u32,
}

#[cfg(test)]
/// Describes a virtually contiguous buffer at `addr` of `len` bytes as one entry per page,
/// the shape `cxgbi_ddp_sgl_check` expects. Returns `None` if the buffer wraps the address space.
pub(crate) fn sgl_for_contiguous(addr: u64, len: u32, page_size: PageSize) -> Option<Vec<SgEntry>> {
    let page_bytes = u64::from(page_size.bytes());
    let end = addr.checked_add(u64::from(len))?;
    let mut entries = Vec::new();
    let mut cursor = addr;
    while cursor < end {
        let page_addr = cursor - cursor % page_bytes;
        let page_end = page_addr.checked_add(page_bytes)?;
        let chunk_end = page_end.min(end);
        entries.push(SgEntry {
            page_addr,
            // Both differences are below one page, which is at most 64 KiB.
            offset: (cursor - page_addr) as u32,
            len: (chunk_end - cursor) as u32,
        });
        cursor = chunk_end;
    }
    Some(entries)
}

/// Settings of a page-pod manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PpmConfig {
    /// Pods in the region (region bytes / 64).
    pub ppmax: u32,
    /// Smallest transfer length that gets DDP.
    pub ddp_threshold: u32,
    /// Page size the host buffers use; DDP is off when it is not in the T3 table.
    pub host_page_size: u32,
}

impl PpmConfig {
    /// A configuration with the ppm-era threshold of 512 bytes.
    pub fn new(ppmax: u32, host_page_size: u32) -> PpmConfig {
        PpmConfig {
            ppmax,
            ddp_threshold: DDP_THRESHOLD,
            host_page_size,
        }
    }
}

/// Why a manager never grants DDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum DdpDisabledReason {
    /// Too few pods for DDP to be worth it.
    #[error("ppmax {ppmax} is below {DDP_MIN_PPMAX}")]
    TooFewPods {
        /// Configured pod count.
        ppmax: u32,
    },
    /// The host page size has no entry in the page-size table.
    #[error("host page size {page_size} is not in the DDP page-size table")]
    PageSizeUnsupported {
        /// Configured page size.
        page_size: u32,
    },
}

/// Why a scatter list cannot be mapped by page pods (`cxgbi_ddp_sgl_check` and friends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MisalignReason {
    /// The data offset is not a multiple of 4.
    OffsetNotWordAligned,
    /// Only the first entry may start inside a page.
    OffsetInLaterEntry,
    /// Every entry but the last must end exactly on a page boundary.
    EntryNotEndingOnPage,
    /// The first entry's offset lies beyond its page.
    OffsetBeyondPage,
    /// The entry's page address is not page-aligned.
    PageAddressUnaligned,
    /// The entry's pages run past the end of the address space.
    AddressOverflow,
}

/// Why a DDP reservation was refused; every case means "use a non-DDP tag".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PpmError {
    /// The manager never grants DDP.
    #[error("DDP is disabled: {0}")]
    DdpDisabled(DdpDisabledReason),
    /// The transfer is shorter than the DDP threshold.
    #[error("transfer of {xfer_len} bytes is below the DDP threshold of {threshold}")]
    BelowThreshold {
        /// Requested transfer length.
        xfer_len: u32,
        /// Configured threshold.
        threshold: u32,
    },
    /// No scatter-gather entries at all.
    #[error("the scatter list is empty")]
    EmptyScatterList,
    /// The buffer layout cannot be described by pods.
    #[error("scatter entry {entry} is misaligned: {reason:?}")]
    Misaligned {
        /// Index of the offending entry.
        entry: usize,
        /// What is wrong with it.
        reason: MisalignReason,
    },
    /// The scatter list holds fewer bytes than the transfer.
    #[error("scatter list holds {available} bytes, the transfer needs {needed}")]
    BufferTooShort {
        /// Transfer length.
        needed: u64,
        /// Bytes the entries describe.
        available: u64,
    },
    /// The transfer needs more pages or pods than one tag can map.
    #[error(
        "transfer needs {pages} pages in {npods} pods; at most {max_pages} pages and {ppmax} pods"
    )]
    TooLong {
        /// Pages needed.
        pages: u64,
        /// Pods needed.
        npods: u64,
        /// Page limit per tag.
        max_pages: u64,
        /// Pods in the region.
        ppmax: u32,
    },
    /// No run of `npods` contiguous free pods (counted as `ddp_full`).
    #[error("no {npods} contiguous free pods")]
    NoContiguousPods {
        /// Pods needed.
        npods: u32,
    },
}

/// Configuration the manager cannot run with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PpmConfigError {
    /// The pod count has no tag format.
    #[error("ppmax: {0}")]
    TagFormat(#[from] TagFormatError),
}

/// Event counts, for statistics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PpmCounters {
    /// DDP tags granted.
    pub reserved: u64,
    /// DDP tags released.
    pub released: u64,
    /// Refusals for lack of contiguous pods.
    pub ddp_full: u64,
    /// Refusals because DDP is disabled.
    pub fallback_disabled: u64,
    /// Refusals below the threshold (or with an empty scatter list).
    pub fallback_below_threshold: u64,
    /// Refusals for a misaligned scatter list.
    pub fallback_misaligned: u64,
    /// Refusals for a scatter list shorter than the transfer.
    pub fallback_buffer_too_short: u64,
    /// Refusals for transfers no tag can map.
    pub fallback_too_long: u64,
}

/// A read buffer to bind to a DDP tag.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DdpRequest<'a> {
    /// The I/O buffer the data goes to.
    pub buffer: BufferId,
    /// Connection whose pods these are.
    pub tid: Tid,
    /// Expected transfer length (becomes the pods' `max_offset`).
    pub xfer_len: u32,
    /// The buffer's pages.
    pub sgl: &'a [SgEntry],
}

/// What an allocated index is bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Binding {
    /// The tag issued for it.
    pub tag: DdpTag,
    /// The task's software tag (`caller_data`): for a binding made by
    /// [`Ppm::reserve_itt`], the task number and its generation (see `tag`).
    pub(crate) sw_tag: u32,
    /// The I/O buffer.
    pub(crate) buffer: BufferId,
    /// Connection the pods were written for.
    pub(crate) tid: Tid,
    /// Transfer length, the highest offset + 1 that may be placed.
    pub(crate) xfer_len: u32,
    /// Offset of the data in the first page.
    pub(crate) page_offset: u32,
    /// Pods held, starting at the tag's index.
    pub(crate) npods: u32,
    /// Page size the pods use.
    pub(crate) page_size: PageSize,
    /// Page addresses in transfer order.
    pub(crate) pages: Vec<u64>,
}

/// The ITT chosen for a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IttReservation {
    /// Value for the ITT field.
    pub itt: u32,
    /// The DDP tag, when DDP was granted.
    pub ddp: Option<DdpTag>,
    /// Why DDP was refused, when it was asked for and refused.
    pub fallback: Option<PpmError>,
}

/// The page-pod manager of one engine.
#[derive(Debug)]
pub struct Ppm {
    format: TagFormat,
    ddp_threshold: u32,
    page_size: Result<PageSize, DdpDisabledReason>,
    in_use: PodBitmap,
    next: u32,
    colors: Vec<Color>,
    bindings: HashMap<u32, Binding>,
    /// The generation of each task's next reservation, by task number (grown on demand).
    generations: Vec<Generation>,
    counters: PpmCounters,
}

impl Ppm {
    /// A manager for `config.ppmax` pods, all free, every color 0.
    pub(crate) fn new(config: PpmConfig) -> Result<Ppm, PpmConfigError> {
        let format = TagFormat::new(config.ppmax)?;
        let page_size = if config.ppmax < DDP_MIN_PPMAX {
            Err(DdpDisabledReason::TooFewPods {
                ppmax: config.ppmax,
            })
        } else {
            PageSize::from_bytes(config.host_page_size).ok_or(
                DdpDisabledReason::PageSizeUnsupported {
                    page_size: config.host_page_size,
                },
            )
        };
        Ok(Ppm {
            format,
            ddp_threshold: config.ddp_threshold,
            page_size,
            in_use: PodBitmap::new(config.ppmax),
            next: 0,
            colors: vec![Color::default(); config.ppmax as usize],
            bindings: HashMap::new(),
            generations: Vec::new(),
            counters: PpmCounters::default(),
        })
    }

    /// The tag format of the region.
    pub fn tag_format(&self) -> &TagFormat {
        &self.format
    }

    /// The page size DDP uses, or why DDP is off.
    pub(crate) fn ddp_page_size(&self) -> Result<PageSize, DdpDisabledReason> {
        self.page_size
    }

    #[cfg(test)]
    /// Event counts so far.
    pub(crate) fn counters(&self) -> PpmCounters {
        self.counters
    }

    #[cfg(test)]
    /// Pods currently allocated.
    pub(crate) fn pods_in_use(&self) -> u32 {
        self.bindings.values().map(|binding| binding.npods).sum()
    }

    /// Binds `request`'s buffer to freshly allocated pods and returns the DDP tag.
    pub(crate) fn reserve(
        &mut self,
        sw_tag: u32,
        request: &DdpRequest<'_>,
    ) -> Result<DdpTag, PpmError> {
        let result = self.try_reserve(sw_tag, request);
        let counters = &mut self.counters;
        match result {
            Ok(_) => counters.reserved += 1,
            Err(PpmError::DdpDisabled(_)) => counters.fallback_disabled += 1,
            Err(PpmError::BelowThreshold { .. } | PpmError::EmptyScatterList) => {
                counters.fallback_below_threshold += 1
            }
            Err(PpmError::Misaligned { .. }) => counters.fallback_misaligned += 1,
            Err(PpmError::BufferTooShort { .. }) => counters.fallback_buffer_too_short += 1,
            Err(PpmError::TooLong { .. }) => counters.fallback_too_long += 1,
            Err(PpmError::NoContiguousPods { .. }) => counters.ddp_full += 1,
        }
        result
    }

    fn try_reserve(&mut self, sw_tag: u32, request: &DdpRequest<'_>) -> Result<DdpTag, PpmError> {
        let page_size = self.page_size.map_err(PpmError::DdpDisabled)?;
        if request.xfer_len < self.ddp_threshold {
            return Err(PpmError::BelowThreshold {
                xfer_len: request.xfer_len,
                threshold: self.ddp_threshold,
            });
        }
        let first = request.sgl.first().ok_or(PpmError::EmptyScatterList)?;
        check_sgl(request.sgl, page_size)?;

        let available: u64 = request.sgl.iter().map(|entry| u64::from(entry.len)).sum();
        if available < u64::from(request.xfer_len) {
            return Err(PpmError::BufferTooShort {
                needed: u64::from(request.xfer_len),
                available,
            });
        }

        let page_count = pages_for(request.xfer_len, first.offset, page_size);
        let npods = page_count.div_ceil(PPOD_PAGES as u64);
        let too_long = PpmError::TooLong {
            pages: page_count,
            npods,
            max_pages: MAX_DDP_PAGES,
            ppmax: self.format.ppmax(),
        };
        if page_count > MAX_DDP_PAGES || npods > u64::from(self.format.ppmax()) {
            return Err(too_long);
        }
        // Both bounded by MAX_DDP_PAGES above.
        let npods = npods as u32;
        let pages = page_list(request.sgl, page_size, page_count as usize)?;

        let index = self.allocate(npods)?;
        let color = self.colors[index as usize].next();
        self.colors[index as usize] = color;
        let tag = self
            .format
            .make_ddp_tag(index, color)
            .unwrap_or_else(|_| unreachable!("allocated indices lie below ppmax"));
        self.bindings.insert(
            index,
            Binding {
                tag,
                sw_tag,
                buffer: request.buffer,
                tid: request.tid,
                xfer_len: request.xfer_len,
                page_offset: first.offset,
                npods,
                page_size,
                pages,
            },
        );
        Ok(tag)
    }

    fn allocate(&mut self, npods: u32) -> Result<u32, PpmError> {
        let found = self.in_use.find_free_run(self.next, npods).or_else(|| {
            (self.next > 0)
                .then(|| self.in_use.find_free_run(0, npods))
                .flatten()
        });
        let Some(index) = found else {
            self.next = 0;
            return Err(PpmError::NoContiguousPods { npods });
        };
        self.in_use.set_range(index, npods);
        self.next = index + npods;
        if self.next >= self.format.ppmax() {
            self.next = 0;
        }
        Ok(index)
    }

    /// The ITT for a command of `task`: a DDP tag when `ddp` is given and granted, otherwise
    /// the non-DDP tag of the task's software tag. Either way the software tag is the task
    /// number with the task's generation, which advances on every reservation, so no two
    /// successive reservations of a task give the same non-DDP ITT (a DDP tag's color does the
    /// same for DDP tags). `task` must be below [`SW_TASK_LIMIT`](crate::tag::SW_TASK_LIMIT),
    /// so every task has a non-DDP fallback.
    pub(crate) fn reserve_itt(
        &mut self,
        task: u32,
        ddp: Option<&DdpRequest<'_>>,
    ) -> Result<IttReservation, TagError> {
        let sw_tag = self.next_sw_tag(task)?;
        let non_ddp_itt = self.format.make_non_ddp_tag(sw_tag)?;
        let Some(request) = ddp else {
            return Ok(IttReservation {
                itt: non_ddp_itt,
                ddp: None,
                fallback: None,
            });
        };
        Ok(match self.reserve(sw_tag, request) {
            Ok(tag) => IttReservation {
                itt: tag.raw(),
                ddp: Some(tag),
                fallback: None,
            },
            Err(refusal) => IttReservation {
                itt: non_ddp_itt,
                ddp: None,
                fallback: Some(refusal),
            },
        })
    }

    /// `task`'s software tag in its current generation; advances the generation.
    fn next_sw_tag(&mut self, task: u32) -> Result<u32, TagError> {
        let at = task as usize;
        let current = self.generations.get(at).copied().unwrap_or_default();
        // Refuses a task number too large before the table grows for it.
        let sw_tag = task_sw_tag(task, current)?;
        if at >= self.generations.len() {
            self.generations.resize(at + 1, Generation::default());
        }
        self.generations[at] = current.next();
        Ok(sw_tag)
    }

    /// The binding an ITT names, if it is a DDP tag of a live allocation with the current color.
    pub fn lookup(&self, itt: u32) -> Result<&Binding, TagError> {
        let (index, color) = self.format.ddp_parts(itt)?;
        if !self.in_use.is_set(index) {
            return Err(TagError::IndexNotAllocated { itt, index });
        }
        let binding = self
            .bindings
            .get(&index)
            .ok_or(TagError::InsideAnotherBinding { itt, index })?;
        let current = binding.tag.color();
        if color != current {
            return Err(TagError::StaleColor {
                itt,
                index,
                expected: current.value(),
                found: color.value(),
            });
        }
        Ok(binding)
    }

    #[cfg(test)]
    /// The software tag behind an ITT (`cxgbi_parse_pdu_itt`): the bound `caller_data` of a DDP
    /// tag (which must be live), or the decoded value of a non-DDP tag.
    pub(crate) fn sw_tag_of(&self, itt: u32) -> Result<u32, TagError> {
        match self.format.decode_itt(itt) {
            Decoded::NonDdp { sw_tag } => Ok(sw_tag),
            Decoded::Ddp { .. } => self.lookup(itt).map(|binding| binding.sw_tag),
        }
    }

    #[cfg(test)]
    /// The task an ITT from [`reserve_itt`](Self::reserve_itt) stands for: the task number of
    /// its software tag (see [`sw_tag_of`](Self::sw_tag_of)), whatever the generation.
    pub(crate) fn task_of_itt(&self, itt: u32) -> Result<u32, TagError> {
        let sw_tag = self.sw_tag_of(itt)?;
        task_of_sw_tag(sw_tag)
            .map(|(task, _)| task)
            .ok_or(TagError::NotATask { itt, sw_tag })
    }

    /// Frees a live tag's pods and returns what it was bound to. The color stays; it advances
    /// when the index is next allocated, which is what makes this tag stale.
    pub fn release(&mut self, tag: DdpTag) -> Result<Binding, TagError> {
        self.lookup(tag.raw())?;
        let index = tag.index();
        let binding = self
            .bindings
            .remove(&index)
            .ok_or(TagError::IndexNotAllocated {
                itt: tag.raw(),
                index,
            })?;
        self.in_use.clear_range(index, binding.npods);
        if index < self.next {
            self.next = index;
        }
        self.counters.released += 1;
        Ok(binding)
    }
}

/// `cxgbi_ddp_sgl_check`, plus the page-address checks a real DMA mapping guarantees.
fn check_sgl(sgl: &[SgEntry], page_size: PageSize) -> Result<(), PpmError> {
    let page_bytes = page_size.bytes();
    let last = sgl.len().saturating_sub(1);
    for (entry, sg) in sgl.iter().enumerate() {
        let misaligned = |reason| Err(PpmError::Misaligned { entry, reason });
        if sg.page_addr % u64::from(page_bytes) != 0 {
            return misaligned(MisalignReason::PageAddressUnaligned);
        }
        if sg.offset % SG_OFFSET_ALIGN != 0 {
            return misaligned(MisalignReason::OffsetNotWordAligned);
        }
        if entry > 0 && sg.offset != 0 {
            return misaligned(MisalignReason::OffsetInLaterEntry);
        }
        if sg.offset >= page_bytes {
            return misaligned(MisalignReason::OffsetBeyondPage);
        }
        if entry != last && u64::from(sg.offset) + u64::from(sg.len) != u64::from(page_bytes) {
            return misaligned(MisalignReason::EntryNotEndingOnPage);
        }
    }
    Ok(())
}

/// The first `wanted` page addresses the (checked) entries cover, in order.
fn page_list(sgl: &[SgEntry], page_size: PageSize, wanted: usize) -> Result<Vec<u64>, PpmError> {
    let page_bytes = u64::from(page_size.bytes());
    let mut pages = Vec::with_capacity(wanted);
    for (entry, sg) in sgl.iter().enumerate() {
        let span = (u64::from(sg.offset) + u64::from(sg.len)).div_ceil(page_bytes);
        for page in 0..span {
            if pages.len() == wanted {
                return Ok(pages);
            }
            let addr = page
                .checked_mul(page_bytes)
                .and_then(|delta| sg.page_addr.checked_add(delta))
                .ok_or(PpmError::Misaligned {
                    entry,
                    reason: MisalignReason::AddressOverflow,
                })?;
            pages.push(addr);
        }
    }
    Ok(pages)
}

#[cfg(test)]
mod tests;
