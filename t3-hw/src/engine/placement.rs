//! Placement: where a received data segment goes. [`place`] is the one function that decides
//! it, and the receive path writes only through the [`PlacedRun`]s it returns.
//!
//! A data segment is placed straight into a task buffer only when it is a SCSI Data-In whose
//! ITT is a live DDP tag with its current color, whose BufferOffset + DataSegmentLength lies
//! inside the bound transfer, whose binding belongs to this connection and page size, and
//! whose pod pages lie inside the task's registered buffer. Anything else is received into an
//! engine buffer and delivered inline with the header (the T3 "free list" path), with the
//! RX_DATA_DDP status bits the adapter would report; a hostile PDU can therefore never name
//! memory the engine writes to. Which bits report which refusal:
//!
//! | refusal                                            | status bits                  |
//! |----------------------------------------------------|------------------------------|
//! | not a Data-In, or a non-DDP ITT                    | none                         |
//! | index beyond the pod region (`>= ppmax`)           | INVALID_TAG \| ULIMIT_ERR    |
//! | index free (its pod's valid flag is clear)         | INVALID_PPOD                 |
//! | index inside another binding (pod's tag differs)   | PPOD_MISMATCH                |
//! | color not the index's current color                | COLOR_ERR                    |
//! | offset + length beyond the transfer, or overflow   | OFFSET_ERR                   |
//! | binding of another connection                      | TID_MISMATCH                 |
//! | binding made for another DDP page size             | PPOD_MISMATCH                |
//! | a pod page outside the task's registered buffer    | LLIMIT_ERR                   |
//!
//! ULIMIT_ERR names the pod *address* leaving the region (`llimit + index * 64` past
//! `ulimit`), so it goes with an out-of-range index; the transfer bound is OFFSET_ERR.

use iscsi_proto::pdu::{DataIn, Header};

use crate::ddp_status::DdpStatus;
use crate::ppm::{Binding, Ppm};
use crate::ppod::PageSize;
use crate::tag::TagError;
use crate::tid::Tid;

use super::task_buffer::{IoTarget, TaskBuffers};

/// A contiguous piece of a placed payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PlacedRun {
    pub target: IoTarget,
    pub len: u32,
}

/// How to receive one data segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Into the task buffer, through the runs appended to the caller's list (in stream order).
    Placed,
    /// Into an engine buffer, reported with these status bits (refusal reasons, or none).
    Inline(DdpStatus),
}

/// What the choice depends on besides the PDU.
pub(crate) struct PlaceEnv<'a> {
    pub ppm: &'a Ppm,
    pub tasks: &'a TaskBuffers,
    /// The connection the PDU arrived on.
    pub tid: Tid,
    /// The DDP page size programmed into the connection's TCB.
    pub page_size: PageSize,
    /// Whether the data digest must be computed over the placed bytes.
    pub data_digest: bool,
}

/// The status bits for a tag the page-pod manager refused (see the module table).
fn refusal_status(error: TagError) -> DdpStatus {
    match error {
        TagError::NotDdp { .. } => DdpStatus::NONE,
        TagError::IndexOutOfRange { .. } => DdpStatus::INVALID_TAG | DdpStatus::ULIMIT_ERR,
        TagError::IndexNotAllocated { .. } => DdpStatus::INVALID_PPOD,
        TagError::InsideAnotherBinding { .. } => DdpStatus::PPOD_MISMATCH,
        TagError::StaleColor { .. } => DdpStatus::COLOR_ERR,
        // Only tag construction and task lookups report these; a DDP lookup never does.
        TagError::SwTagTooWide { .. }
        | TagError::TaskTooLarge { .. }
        | TagError::NotATask { .. } => DdpStatus::INVALID_TAG,
    }
}

/// Decides where the `data_len` (> 0) bytes of data following `header` go. For
/// [`Placement::Placed`] their runs are appended to `runs`, which is left as it was otherwise.
pub(crate) fn place(
    env: &PlaceEnv<'_>,
    header: &Header,
    data_len: u32,
    runs: &mut Vec<PlacedRun>,
) -> Placement {
    let Header::DataIn(DataIn {
        itt, buffer_offset, ..
    }) = *header
    else {
        return Placement::Inline(DdpStatus::NONE);
    };
    let binding = match env.ppm.lookup(itt) {
        Ok(binding) => binding,
        Err(refused) => return Placement::Inline(refusal_status(refused)),
    };
    let Some(end) = buffer_offset
        .checked_add(data_len)
        .filter(|&end| end <= binding.xfer_len)
    else {
        return Placement::Inline(DdpStatus::OFFSET_ERR);
    };
    if binding.tid != env.tid {
        return Placement::Inline(DdpStatus::TID_MISMATCH);
    }
    if binding.page_size != env.page_size {
        return Placement::Inline(DdpStatus::PPOD_MISMATCH);
    }
    let before = runs.len();
    let len = u64::from(end - buffer_offset);
    if runs_through_pods(env, binding, u64::from(buffer_offset), len, runs).is_some() {
        Placement::Placed
    } else {
        runs.truncate(before);
        Placement::Inline(DdpStatus::LLIMIT_ERR)
    }
}

/// Walks the pods' page list for `len` bytes at transfer offset `offset`, merging pages that
/// are contiguous, checks every run against the task's registered buffer and appends it to
/// `runs`. `None` when a page or run is unusable (the caller drops what was appended).
fn runs_through_pods(
    env: &PlaceEnv<'_>,
    binding: &Binding,
    offset: u64,
    len: u64,
    runs: &mut Vec<PlacedRun>,
) -> Option<()> {
    let page_bytes = u64::from(binding.page_size.bytes());
    let task = binding.buffer.0;
    let resolve = |addr: u64, run_len: u64| {
        let target = env.tasks.resolve_dma(task, addr, run_len)?;
        if env.data_digest && matches!(target, IoTarget::Fixed { .. }) {
            return None;
        }
        Some(PlacedRun {
            target,
            len: u32::try_from(run_len).ok()?,
        })
    };
    let start = u64::from(binding.page_offset).checked_add(offset)?;
    merge_pages(&binding.pages, page_bytes, start, len, |addr, run_len| {
        runs.push(resolve(addr, run_len)?);
        Some(())
    })
}

/// Calls `emit(address, length)` for each run of contiguous pages holding `len` bytes at byte
/// `start` of the page list, in order. `None` if the list is too short or an address overflows.
fn merge_pages(
    pages: &[u64],
    page_bytes: u64,
    start: u64,
    len: u64,
    mut emit: impl FnMut(u64, u64) -> Option<()>,
) -> Option<()> {
    if len == 0 {
        return Some(());
    }
    let end = start.checked_add(len)?;
    let first = usize::try_from(start / page_bytes).ok()?;
    let last = usize::try_from((end - 1) / page_bytes).ok()?;
    let pages = pages.get(first..=last)?;
    let mut run_start = pages[0].checked_add(start % page_bytes)?;
    // Where the run's current page ends, and the bytes of the runs already emitted.
    let mut page_end = pages[0].checked_add(page_bytes)?;
    let mut emitted = 0u64;
    for &page in &pages[1..] {
        if page != page_end {
            emit(run_start, page_end - run_start)?;
            emitted += page_end - run_start;
            run_start = page;
        }
        page_end = page.checked_add(page_bytes)?;
    }
    emit(run_start, len - emitted)
}

#[cfg(test)]
mod tests;
