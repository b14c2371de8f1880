//! Where a received data segment goes: straight into a task buffer through the page pods, or
//! inline with the header (the T3 "free list" path).
//!
//! Only a SCSI Data-In whose ITT is a live DDP tag of this connection, whose range passes
//! [`check_placement`], and whose pod pages lie inside the task's registered buffer is placed.
//! Everything else is received into an engine buffer and delivered with the status bits that
//! explain why; a hostile PDU can therefore never name memory the engine writes to.

use crate::ddp_status::DdpStatus;
use crate::placement::check_placement;
use crate::ppm::{Binding, Ppm};
use crate::ppod::PageSize;
use crate::tid::Tid;
use crate::wr::BHS_LEN;

use super::task_buffer::{IoTarget, TaskBuffers};

/// Opcode of SCSI Data-In.
const OPCODE_DATA_IN: u8 = 0x25;
const OPCODE_MASK: u8 = 0x3F;
const ITT_AT: usize = 16;
const BUFFER_OFFSET_AT: usize = 40;

/// A contiguous piece of a placed payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PlacedRun {
    pub target: IoTarget,
    pub len: u32,
}

/// How to receive one data segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DataPath {
    /// Into the task buffer, in the runs appended to the caller's list (in stream order).
    Place,
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

fn be32(bhs: &[u8; BHS_LEN], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bhs[at..at + 4]);
    u32::from_be_bytes(word)
}

/// Chooses the path for a data segment of `data_len` (> 0) bytes following `bhs`; for
/// [`DataPath::Place`] the runs are appended to `runs` (which is left as it was otherwise).
pub(crate) fn choose_data_path(
    env: &PlaceEnv<'_>,
    bhs: &[u8; BHS_LEN],
    data_len: u32,
    runs: &mut Vec<PlacedRun>,
) -> DataPath {
    let itt = be32(bhs, ITT_AT);
    if bhs[0] & OPCODE_MASK != OPCODE_DATA_IN || !env.ppm.tag_format().is_ddp_tag(itt) {
        return DataPath::Inline(DdpStatus::NONE);
    }
    let offset = be32(bhs, BUFFER_OFFSET_AT);
    // One lookup when the tag is good; check_placement names the reason when it is not.
    let Ok(binding) = env.ppm.lookup(itt) else {
        return DataPath::Inline(match check_placement(env.ppm, itt, offset, data_len) {
            Err(status) => status,
            // The lookup just refused it; agreeing here would be a ppm inconsistency.
            Ok(_) => DdpStatus::INVALID_PPOD,
        });
    };
    let Some(end) = offset
        .checked_add(data_len)
        .filter(|&end| end <= binding.xfer_len)
    else {
        return DataPath::Inline(DdpStatus::OFFSET_ERR);
    };
    if binding.tid != env.tid {
        return DataPath::Inline(DdpStatus::TID_MISMATCH);
    }
    if binding.page_size != env.page_size {
        return DataPath::Inline(DdpStatus::PPOD_MISMATCH);
    }
    let before = runs.len();
    let len = u64::from(end - offset);
    if runs_through_pods(env, binding, u64::from(offset), len, runs).is_some() {
        DataPath::Place
    } else {
        runs.truncate(before);
        DataPath::Inline(DdpStatus::LLIMIT_ERR)
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
mod tests {
    use super::*;
    use crate::engine::task_buffer::TaskBuffer;
    use crate::ppm::{sgl_for_contiguous, BufferId, DdpRequest, PpmConfig, SgEntry};

    use proptest::prelude::*;

    const TASK: u32 = 5;

    /// Page by page, merging as it goes: what `merge_pages` must agree with.
    fn merge_page_by_page(
        pages: &[u64],
        page_bytes: u64,
        start: u64,
        len: u64,
    ) -> Option<Vec<(u64, u64)>> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut position = start;
        let mut left = len;
        while left > 0 {
            let in_page = position % page_bytes;
            let chunk = (page_bytes - in_page).min(left);
            let addr = pages.get(usize::try_from(position / page_bytes).ok()?)? + in_page;
            match runs.last_mut() {
                Some((run, run_len)) if *run + *run_len == addr => *run_len += chunk,
                _ => runs.push((addr, chunk)),
            }
            position += chunk;
            left -= chunk;
        }
        Some(runs)
    }

    proptest! {
        #[test]
        fn merged_runs_match_a_page_by_page_walk(
            moves in proptest::collection::vec(0u8..3, 1..40),
            start in 0u64..200_000,
            len in 0u64..200_000,
        ) {
            // Each page follows the previous one, jumps ahead, or goes back.
            let page_bytes = 4096u64;
            let mut pages = vec![1 << 30];
            for step in moves {
                let previous = *pages.last().unwrap();
                pages.push(match step {
                    0 => previous + page_bytes,
                    1 => previous + 3 * page_bytes,
                    _ => previous - 7 * page_bytes,
                });
            }
            let mut runs = Vec::new();
            let merged = merge_pages(&pages, page_bytes, start, len, |addr, run_len| {
                runs.push((addr, run_len));
                Some(())
            });
            let oracle = merge_page_by_page(&pages, page_bytes, start, len);
            prop_assert_eq!(merged.map(|()| runs), oracle);
        }
    }

    /// The choice with its runs, for comparing in one assertion.
    #[derive(Debug, PartialEq, Eq)]
    enum Chosen {
        Place(Vec<PlacedRun>),
        Inline(DdpStatus),
    }

    fn choose(env: &PlaceEnv<'_>, bhs: &[u8; BHS_LEN], data_len: u32) -> Chosen {
        let mut runs = vec![PlacedRun {
            target: IoTarget::Mapped(std::ptr::null_mut()),
            len: 1,
        }];
        match choose_data_path(env, bhs, data_len, &mut runs) {
            DataPath::Place => Chosen::Place(runs.split_off(1)),
            DataPath::Inline(status) => {
                assert_eq!(runs.len(), 1, "a refusal leaves the list as it was");
                Chosen::Inline(status)
            }
        }
    }

    struct Fixture {
        ppm: Ppm,
        tasks: TaskBuffers,
        memory: Vec<u8>,
        tid: Tid,
    }

    impl Fixture {
        fn new() -> Fixture {
            let mut memory = vec![0u8; 6 * 4096];
            let mut tasks = TaskBuffers::default();
            tasks.insert(
                TASK,
                TaskBuffer::Mapped {
                    ptr: memory.as_mut_ptr(),
                    len: memory.len(),
                },
            );
            Fixture {
                ppm: Ppm::new(PpmConfig::new(1024, 4096)).unwrap(),
                tasks,
                memory,
                tid: Tid::new(9).unwrap(),
            }
        }

        fn base(&self) -> u64 {
            self.memory.as_ptr() as u64
        }

        fn reserve(&mut self, sgl: &[SgEntry], xfer_len: u32) -> u32 {
            let request = DdpRequest {
                buffer: BufferId(TASK),
                tid: self.tid,
                xfer_len,
                sgl,
            };
            self.ppm.reserve(TASK, &request).unwrap().raw()
        }

        fn env(&self) -> PlaceEnv<'_> {
            PlaceEnv {
                ppm: &self.ppm,
                tasks: &self.tasks,
                tid: self.tid,
                page_size: PageSize::Size4K,
                data_digest: false,
            }
        }
    }

    fn data_in(itt: u32, offset: u32) -> [u8; BHS_LEN] {
        let mut bhs = [0u8; BHS_LEN];
        bhs[0] = OPCODE_DATA_IN;
        bhs[ITT_AT..ITT_AT + 4].copy_from_slice(&itt.to_be_bytes());
        bhs[BUFFER_OFFSET_AT..BUFFER_OFFSET_AT + 4].copy_from_slice(&offset.to_be_bytes());
        bhs
    }

    #[test]
    fn contiguous_buffer_is_one_run() {
        let mut fx = Fixture::new();
        // The buffer is not page-aligned in general: describe it from its real address.
        let page_base = fx.base() & !4095;
        let skip = (4096 - (fx.base() - page_base)) % 4096;
        let start = fx.base() + skip;
        let sgl = sgl_for_contiguous(start, 16384, PageSize::Size4K).unwrap();
        let itt = fx.reserve(&sgl, 16384);
        let path = choose(&fx.env(), &data_in(itt, 4096), 8192);
        let expected = fx.memory.as_mut_ptr().wrapping_add(skip as usize + 4096);
        assert_eq!(
            path,
            Chosen::Place(vec![PlacedRun {
                target: IoTarget::Mapped(expected),
                len: 8192
            }])
        );
    }

    #[test]
    fn scattered_pages_become_separate_runs() {
        let mut fx = Fixture::new();
        let first_page = (fx.base() + 4095) & !4095;
        // Two pages in swapped order: the placement must follow the pods, not the buffer.
        let sgl = [
            SgEntry {
                page_addr: first_page + 4096,
                offset: 0,
                len: 4096,
            },
            SgEntry {
                page_addr: first_page,
                offset: 0,
                len: 4096,
            },
        ];
        let itt = fx.reserve(&sgl, 8192);
        let path = choose(&fx.env(), &data_in(itt, 2048), 4096);
        let at = |addr: u64| {
            IoTarget::Mapped(fx.memory.as_ptr().wrapping_add((addr - fx.base()) as usize) as *mut u8)
        };
        assert_eq!(
            path,
            Chosen::Place(vec![
                PlacedRun {
                    target: at(first_page + 4096 + 2048),
                    len: 2048
                },
                PlacedRun {
                    target: at(first_page),
                    len: 2048
                },
            ])
        );
    }

    #[test]
    fn refusals_carry_their_status() {
        let mut fx = Fixture::new();
        let start = (fx.base() + 4095) & !4095;
        let sgl = sgl_for_contiguous(start, 8192, PageSize::Size4K).unwrap();
        let itt = fx.reserve(&sgl, 8192);
        let env = fx.env();
        let inline = Chosen::Inline;
        assert_eq!(
            choose(&env, &data_in(itt, 8000), 512),
            inline(DdpStatus::OFFSET_ERR)
        );
        assert_eq!(
            choose(&env, &data_in(itt ^ 1, 0), 512),
            inline(DdpStatus::COLOR_ERR)
        );
        let non_ddp = fx.ppm.tag_format().make_non_ddp_tag(3).unwrap();
        assert_eq!(
            choose(&env, &data_in(non_ddp, 0), 512),
            inline(DdpStatus::NONE)
        );
        let mut response = data_in(itt, 0);
        response[0] = 0x21; // SCSI Response with the same ITT: never placed.
        assert_eq!(choose(&env, &response, 512), inline(DdpStatus::NONE));

        let other_conn = PlaceEnv {
            tid: Tid::new(10).unwrap(),
            ..fx.env()
        };
        assert_eq!(
            choose(&other_conn, &data_in(itt, 0), 512),
            inline(DdpStatus::TID_MISMATCH)
        );
        let other_page_size = PlaceEnv {
            page_size: PageSize::Size64K,
            ..fx.env()
        };
        assert_eq!(
            choose(&other_page_size, &data_in(itt, 0), 512),
            inline(DdpStatus::PPOD_MISMATCH)
        );
    }

    #[test]
    fn pods_pointing_outside_the_task_buffer_are_refused() {
        let mut fx = Fixture::new();
        // Pages one page past the end of the registered memory.
        let outside = ((fx.base() + fx.memory.len() as u64) + 4095) & !4095;
        let sgl = sgl_for_contiguous(outside, 4096, PageSize::Size4K).unwrap();
        let itt = fx.reserve(&sgl, 4096);
        assert_eq!(
            choose(&fx.env(), &data_in(itt, 0), 4096),
            Chosen::Inline(DdpStatus::LLIMIT_ERR)
        );
    }

    #[test]
    fn fixed_buffer_is_not_placed_under_a_data_digest() {
        let mut fx = Fixture::new();
        fx.tasks.insert(
            TASK,
            TaskBuffer::Fixed {
                buf_index: 2,
                base: 0,
                len: 8192,
            },
        );
        let mut sgl = Vec::new();
        fx.tasks
            .sgl_into(TASK, 8192, PageSize::Size4K, &mut sgl)
            .unwrap();
        let itt = fx.reserve(&sgl, 8192);
        assert_eq!(
            choose(&fx.env(), &data_in(itt, 4096), 4096),
            Chosen::Place(vec![PlacedRun {
                target: IoTarget::Fixed {
                    buf_index: 2,
                    addr: 4096
                },
                len: 4096
            }])
        );
        let digest = PlaceEnv {
            data_digest: true,
            ..fx.env()
        };
        assert_eq!(
            choose(&digest, &data_in(itt, 4096), 4096),
            Chosen::Inline(DdpStatus::LLIMIT_ERR)
        );
    }
}
