//! Task buffers: the memory a task's payload is sent from and Data-In is placed into.
//!
//! A task (a ublk tag) registers its I/O buffer once; `Payload::Task` and DDP bindings then name
//! it by task number. Two kinds exist:
//!
//! - **Mapped**: memory in this process (libublk's per-tag buffers in copy mode). The engine
//!   gathers sends from it with SENDMSG and receives into it with RECV, and can compute digests
//!   over it.
//! - **Fixed**: an io_uring registered buffer (zero copy with UBLK_F_AUTO_BUF_REG: the kernel
//!   registers each request's pages at index = tag). Sent with WRITE_FIXED and received with
//!   READ_FIXED by buffer index; the bytes are not mapped here, so no data digest can be
//!   computed over them.
//!
//! # DMA addresses in page pods
//!
//! Pods store a 64-bit "DMA address" per page, and they alone say where placed payload goes
//! (as on the T3). For a mapped buffer it is the virtual address. For a fixed buffer it is
//!
//! ```text
//!  63 | 62 .. 56 | 55 ...... 40 | 39 ............ 0
//!   1 |    0     | buf_index    | byte offset in the buffer
//! ```
//!
//! User-space virtual addresses never have bit 63 set, so the two never collide. Before any
//! placement the engine checks that the pod's pages lie inside the task's registered buffer.

use thiserror::Error;

use super::fast_hash::IdMap;
use crate::ppm::SgEntry;
use crate::ppod::PageSize;

/// Bit 63 marks a fixed-buffer DMA address.
pub(crate) const FIXED_DMA_FLAG: u64 = 1 << 63;
const FIXED_INDEX_SHIFT: u32 = 40;
/// Largest byte offset a fixed-buffer DMA address can carry.
pub(crate) const FIXED_MAX_OFFSET: u64 = (1 << FIXED_INDEX_SHIFT) - 1;
const FIXED_RESERVED_MASK: u64 = 0x7F00_0000_0000_0000;

/// A task's I/O buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskBuffer {
    /// `len` bytes at `ptr` in this process.
    Mapped {
        /// First byte.
        ptr: *mut u8,
        /// Length in bytes.
        len: usize,
    },
    /// An io_uring registered buffer of the ring the engine submits to.
    Fixed {
        /// Index in the ring's buffer table.
        buf_index: u16,
        /// The address io_uring expects for byte 0 of the buffer: 0 for buffers the ublk driver
        /// registers (UBLK_F_AUTO_BUF_REG), the iovec base for `io_uring_register_buffers`.
        base: u64,
        /// Length in bytes.
        len: usize,
    },
}

impl TaskBuffer {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        match *self {
            TaskBuffer::Mapped { len, .. } | TaskBuffer::Fixed { len, .. } => len,
        }
    }

    /// Whether the buffer holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A decoded page-pod address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DmaAddr {
    /// A virtual address in this process.
    Mapped(u64),
    /// A byte offset in a registered buffer.
    Fixed {
        /// Index in the ring's buffer table.
        buf_index: u16,
        /// Byte offset in that buffer.
        offset: u64,
    },
}

/// A value that is not a DMA address of this encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum DmaAddrError {
    /// A mapped address with bit 63 set would read as a fixed-buffer address.
    #[error("virtual address {addr:#x} has bit 63 set")]
    MappedHighBit {
        /// The address.
        addr: u64,
    },
    /// The offset does not fit 40 bits.
    #[error("fixed-buffer offset {offset:#x} exceeds {FIXED_MAX_OFFSET:#x}")]
    FixedOffsetTooLarge {
        /// The offset.
        offset: u64,
    },
    /// Bits 56..62 of a fixed-buffer address are not zero.
    #[error("fixed-buffer address {addr:#x} has reserved bits set")]
    FixedReservedBits {
        /// The address.
        addr: u64,
    },
}

impl DmaAddr {
    /// The 64-bit value stored in a pod.
    pub(crate) fn encode(self) -> Result<u64, DmaAddrError> {
        match self {
            DmaAddr::Mapped(addr) if addr & FIXED_DMA_FLAG != 0 => {
                Err(DmaAddrError::MappedHighBit { addr })
            }
            DmaAddr::Mapped(addr) => Ok(addr),
            DmaAddr::Fixed { offset, .. } if offset > FIXED_MAX_OFFSET => {
                Err(DmaAddrError::FixedOffsetTooLarge { offset })
            }
            DmaAddr::Fixed { buf_index, offset } => {
                Ok(FIXED_DMA_FLAG | (u64::from(buf_index) << FIXED_INDEX_SHIFT) | offset)
            }
        }
    }

    /// Reads a pod address.
    pub(crate) fn decode(addr: u64) -> Result<DmaAddr, DmaAddrError> {
        if addr & FIXED_DMA_FLAG == 0 {
            return Ok(DmaAddr::Mapped(addr));
        }
        if addr & FIXED_RESERVED_MASK != 0 {
            return Err(DmaAddrError::FixedReservedBits { addr });
        }
        Ok(DmaAddr::Fixed {
            buf_index: ((addr >> FIXED_INDEX_SHIFT) & 0xFFFF) as u16,
            offset: addr & FIXED_MAX_OFFSET,
        })
    }
}

/// Where the engine moves a checked byte range of a task buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IoTarget {
    /// Mapped memory.
    Mapped(*mut u8),
    /// A registered buffer: `addr` is what READ_FIXED / WRITE_FIXED take.
    Fixed { buf_index: u16, addr: u64 },
}

/// Why a task buffer cannot serve a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum TaskBufferError {
    /// No buffer is registered for the task.
    #[error("task {task} has no registered buffer")]
    NotRegistered {
        /// The task.
        task: u32,
    },
    /// The range does not lie inside the registered buffer.
    #[error(
        "task {task}: bytes {offset}..{offset}+{len} lie outside its {buffer_len}-byte buffer"
    )]
    OutOfRange {
        /// The task.
        task: u32,
        /// Start of the range.
        offset: u64,
        /// Length of the range.
        len: u64,
        /// Length of the registered buffer.
        buffer_len: usize,
    },
    /// A fixed buffer's bytes are not mapped, so a data digest cannot be computed over them.
    #[error(
        "task {task} uses fixed buffer {buf_index}; a data digest cannot cover unmapped bytes"
    )]
    FixedWithDataDigest {
        /// The task.
        task: u32,
        /// Its buffer index.
        buf_index: u16,
    },
    /// A fixed buffer's bytes are not mapped: inline payload cannot be copied into them.
    #[error("task {task} uses fixed buffer {buf_index}, which userspace cannot write")]
    FixedNotMapped {
        /// The task.
        task: u32,
        /// Its buffer index.
        buf_index: u16,
    },
    /// The buffer's addresses cannot be written into pods.
    #[error("task {task}: {source}")]
    Unencodable {
        /// The task.
        task: u32,
        /// Why.
        source: DmaAddrError,
    },
}

/// The registration table, keyed by task number (the ublk tag; also the ppm `BufferId`).
#[derive(Debug, Default)]
pub(crate) struct TaskBuffers {
    buffers: IdMap<u32, TaskBuffer>,
    /// How many of them are fixed buffers.
    fixed: usize,
}

impl TaskBuffers {
    pub(crate) fn insert(&mut self, task: u32, buffer: TaskBuffer) -> Option<TaskBuffer> {
        self.fixed += usize::from(matches!(buffer, TaskBuffer::Fixed { .. }));
        let old = self.buffers.insert(task, buffer);
        self.forget(old)
    }

    pub(crate) fn remove(&mut self, task: u32) -> Option<TaskBuffer> {
        let old = self.buffers.remove(&task);
        self.forget(old)
    }

    fn forget(&mut self, old: Option<TaskBuffer>) -> Option<TaskBuffer> {
        if let Some(TaskBuffer::Fixed { .. }) = old {
            self.fixed -= 1;
        }
        old
    }

    /// Whether any registered buffer is a fixed buffer (userspace cannot copy into those).
    pub(crate) fn has_fixed(&self) -> bool {
        self.fixed > 0
    }

    pub(crate) fn get(&self, task: u32) -> Result<TaskBuffer, TaskBufferError> {
        self.buffers
            .get(&task)
            .copied()
            .ok_or(TaskBufferError::NotRegistered { task })
    }

    /// Where `len` bytes at `offset` of `task`'s buffer are, checked against the buffer.
    pub(crate) fn resolve(
        &self,
        task: u32,
        offset: u64,
        len: u64,
    ) -> Result<IoTarget, TaskBufferError> {
        let buffer = self.get(task)?;
        let out_of_range = TaskBufferError::OutOfRange {
            task,
            offset,
            len,
            buffer_len: buffer.len(),
        };
        let end = offset.checked_add(len).ok_or(out_of_range)?;
        if end > buffer.len() as u64 {
            return Err(out_of_range);
        }
        Ok(match buffer {
            // offset < len of a live allocation, so the pointer stays inside it.
            TaskBuffer::Mapped { ptr, .. } => IoTarget::Mapped(ptr.wrapping_add(offset as usize)),
            TaskBuffer::Fixed {
                buf_index, base, ..
            } => IoTarget::Fixed {
                buf_index,
                addr: base.wrapping_add(offset),
            },
        })
    }

    /// Where `len` bytes at pod address `dma` go, if they lie inside `task`'s buffer.
    pub(crate) fn resolve_dma(&self, task: u32, dma: u64, len: u64) -> Option<IoTarget> {
        let buffer = self.get(task).ok()?;
        let offset = match (DmaAddr::decode(dma).ok()?, buffer) {
            (DmaAddr::Mapped(addr), TaskBuffer::Mapped { ptr, .. }) => {
                addr.checked_sub(ptr as u64)?
            }
            (DmaAddr::Fixed { buf_index, offset }, TaskBuffer::Fixed { buf_index: own, .. })
                if buf_index == own =>
            {
                offset
            }
            _ => return None,
        };
        self.resolve(task, offset, len).ok()
    }

    /// The scatter list a DDP reservation of `xfer_len` bytes of `task`'s buffer uses: the
    /// buffer's pages by DMA address, written into `out` (cleared first; reused across
    /// reservations so a reservation allocates nothing).
    pub(crate) fn sgl_into(
        &self,
        task: u32,
        xfer_len: u32,
        page_size: PageSize,
        out: &mut Vec<SgEntry>,
    ) -> Result<(), TaskBufferError> {
        out.clear();
        let buffer = self.get(task)?;
        if u64::from(xfer_len) > buffer.len() as u64 {
            return Err(TaskBufferError::OutOfRange {
                task,
                offset: 0,
                len: u64::from(xfer_len),
                buffer_len: buffer.len(),
            });
        }
        let start = match buffer {
            TaskBuffer::Mapped { ptr, .. } => DmaAddr::Mapped(ptr as u64),
            TaskBuffer::Fixed { buf_index, .. } => DmaAddr::Fixed {
                buf_index,
                offset: 0,
            },
        };
        let unencodable = |source| TaskBufferError::Unencodable { task, source };
        let base = start.encode().map_err(unencodable)?;
        // The last byte must encode too (a fixed offset must fit 40 bits).
        if let DmaAddr::Fixed { buf_index, .. } = start {
            DmaAddr::Fixed {
                buf_index,
                offset: u64::from(xfer_len),
            }
            .encode()
            .map_err(unencodable)?;
        }
        push_pages(base, xfer_len, page_size, out).ok_or(TaskBufferError::Unencodable {
            task,
            source: DmaAddrError::MappedHighBit { addr: base },
        })
    }
}

/// Appends one entry per page of the contiguous range `addr..addr + len`: what
/// `ppm::sgl_for_contiguous` returns, without allocating. `None`
/// if the range wraps the address space.
fn push_pages(addr: u64, len: u32, page_size: PageSize, out: &mut Vec<SgEntry>) -> Option<()> {
    let page_bytes = u64::from(page_size.bytes());
    let end = addr.checked_add(u64::from(len))?;
    if len == 0 {
        return Some(());
    }
    let first_page = addr - addr % page_bytes;
    // The page holding the last byte must have an end address too.
    (end - 1)
        .checked_sub((end - 1) % page_bytes)?
        .checked_add(page_bytes)?;
    let last_page = (end - 1) - (end - 1) % page_bytes;
    let middle_pages = ((last_page - first_page) / page_bytes).saturating_sub(1);
    out.reserve(usize::try_from(middle_pages + 2).ok()?);
    // Both offsets and lengths are below one page, which is at most 64 KiB.
    let entry = |page_addr: u64, from: u64, to: u64| SgEntry {
        page_addr,
        offset: (from - page_addr) as u32,
        len: (to - from) as u32,
    };
    if first_page == last_page {
        out.push(entry(first_page, addr, end));
        return Some(());
    }
    out.push(entry(first_page, addr, first_page + page_bytes));
    out.extend((1..=middle_pages).map(|index| SgEntry {
        page_addr: first_page + index * page_bytes,
        offset: 0,
        len: page_bytes as u32,
    }));
    out.push(entry(last_page, last_page, end));
    Some(())
}

#[cfg(test)]
mod tests;
