use super::*;
use crate::engine::task_buffer::TaskBuffer;
use crate::ppm::{sgl_for_contiguous, BufferId, DdpRequest, PpmConfig, SgEntry};
use crate::tag::{Color, DdpTag};
use iscsi_proto::pdu::ScsiResponse;

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

fn choose(env: &PlaceEnv<'_>, header: &Header, data_len: u32) -> Chosen {
    let mut runs = vec![PlacedRun {
        target: IoTarget::Mapped(std::ptr::null_mut()),
        len: 1,
    }];
    match place(env, header, data_len, &mut runs) {
        Placement::Placed => Chosen::Place(runs.split_off(1)),
        Placement::Inline(status) => {
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

fn data_in(itt: u32, offset: u32) -> Header {
    Header::DataIn(DataIn {
        itt,
        buffer_offset: offset,
        ..DataIn::default()
    })
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
    // A SCSI Response with the same ITT is never placed.
    let response = Header::ScsiResponse(ScsiResponse {
        itt,
        ..ScsiResponse::default()
    });
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

/// Task memory with guard bytes on both sides, its body page-aligned, bound to a DDP tag
/// of `XFER` bytes.
struct Guarded {
    memory: Vec<u8>,
    body_at: usize,
    ppm: Ppm,
    tasks: TaskBuffers,
    tag: DdpTag,
}

const GUARD: usize = 4096;
const GUARD_BYTE: u8 = 0xA5;
const BODY_BYTE: u8 = 0x00;
const XFER: u32 = 3 * 4096 + 1000;
const GUARDED_TASK: u32 = 77;

impl Guarded {
    fn new() -> Guarded {
        let mut memory = vec![GUARD_BYTE; GUARD + 4096 + XFER as usize + GUARD];
        let body_at = GUARD + (4096 - (memory.as_ptr() as usize + GUARD) % 4096) % 4096;
        memory[body_at..body_at + XFER as usize].fill(BODY_BYTE);
        let mut tasks = TaskBuffers::default();
        tasks.insert(
            GUARDED_TASK,
            TaskBuffer::Mapped {
                ptr: memory[body_at..].as_mut_ptr(),
                len: XFER as usize,
            },
        );
        let mut ppm = Ppm::new(PpmConfig::new(1024, 4096)).unwrap();
        let start = memory[body_at..].as_ptr() as u64;
        let sgl = sgl_for_contiguous(start, XFER, PageSize::Size4K).unwrap();
        let request = DdpRequest {
            buffer: BufferId(GUARDED_TASK),
            tid: Tid::new(1).unwrap(),
            xfer_len: XFER,
            sgl: &sgl,
        };
        let tag = ppm.reserve(GUARDED_TASK, &request).unwrap();
        Guarded {
            memory,
            body_at,
            ppm,
            tasks,
            tag,
        }
    }

    fn env(&self) -> PlaceEnv<'_> {
        PlaceEnv {
            ppm: &self.ppm,
            tasks: &self.tasks,
            tid: Tid::new(1).unwrap(),
            page_size: PageSize::Size4K,
            data_digest: false,
        }
    }

    /// Places `bytes` at `offset` of the transfer `itt` names, writing through the runs as the
    /// receive path does.
    fn attempt(&mut self, itt: u32, offset: u32, bytes: &[u8]) -> Result<(), DdpStatus> {
        let mut runs = Vec::new();
        let len = u32::try_from(bytes.len()).unwrap();
        if let Placement::Inline(status) = place(&self.env(), &data_in(itt, offset), len, &mut runs)
        {
            assert!(runs.is_empty());
            return Err(status);
        }
        let mut from = 0;
        for run in runs {
            let IoTarget::Mapped(ptr) = run.target else {
                panic!("mapped memory gives mapped runs");
            };
            let to = from + run.len as usize;
            // SAFETY: the test checks afterwards that the run lay inside the body.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes[from..to].as_ptr(), ptr, run.len as usize)
            };
            from = to;
        }
        assert_eq!(from, bytes.len(), "the runs cover the data exactly");
        Ok(())
    }

    fn body(&self) -> &[u8] {
        &self.memory[self.body_at..self.body_at + XFER as usize]
    }

    fn guards_intact(&self) -> bool {
        let (head, rest) = self.memory.split_at(self.body_at);
        let tail = &rest[XFER as usize..];
        head.iter().chain(tail).all(|&byte| byte == GUARD_BYTE)
    }

    fn body_untouched(&self) -> bool {
        self.body().iter().all(|&byte| byte == BODY_BYTE)
    }

    fn assert_refused(&mut self, itt: u32, offset: u32, len: u32, expected: DdpStatus) {
        let bytes = vec![0x5A; len.min(XFER + 64) as usize];
        let len = if len > XFER + 64 {
            len
        } else {
            bytes.len() as u32
        };
        let mut runs = Vec::new();
        assert_eq!(
            place(&self.env(), &data_in(itt, offset), len, &mut runs),
            Placement::Inline(expected),
            "itt {itt:#x} {offset}+{len}"
        );
        assert!(runs.is_empty());
        if len as usize == bytes.len() {
            assert_eq!(self.attempt(itt, offset, &bytes), Err(expected));
        }
        assert!(self.guards_intact() && self.body_untouched());
    }
}

#[test]
fn good_placements_land_exactly() {
    let mut buffer = Guarded::new();
    let itt = buffer.tag.raw();
    let first: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
    let second: Vec<u8> = (0..XFER - 8192).map(|i| (i % 241) as u8 ^ 0xFF).collect();
    buffer.attempt(itt, 0, &first).unwrap();
    assert!(buffer.body()[8192..].iter().all(|&b| b == BODY_BYTE));
    buffer.attempt(itt, 8192, &second).unwrap();
    assert_eq!(&buffer.body()[..8192], first.as_slice());
    assert_eq!(&buffer.body()[8192..], second.as_slice());
    assert!(buffer.guards_intact());
    // Exactly up to the end of the transfer is allowed.
    buffer.attempt(itt, XFER - 1, &[7]).unwrap();
    assert_eq!(buffer.body()[XFER as usize - 1], 7);
}

#[test]
fn wrong_color_is_color_err() {
    let mut buffer = Guarded::new();
    let tag = buffer.tag;
    let stale = buffer
        .ppm
        .tag_format()
        .make_ddp_tag(tag.index(), Color::new(tag.color().value() + 1).unwrap())
        .unwrap();
    buffer.assert_refused(stale.raw(), 0, 512, DdpStatus::COLOR_ERR);
}

#[test]
fn unknown_and_unallocated_indices() {
    let mut buffer = Guarded::new();
    let color = u32::from(buffer.tag.color().value());
    let beyond = 1500 << 6 | color;
    buffer.assert_refused(
        beyond,
        0,
        512,
        DdpStatus::INVALID_TAG | DdpStatus::ULIMIT_ERR,
    );
    let free = (900 << 6) | 1;
    buffer.assert_refused(free, 0, 512, DdpStatus::INVALID_PPOD);
}

#[test]
fn index_inside_binding_is_ppod_mismatch() {
    let mut ppm = Ppm::new(PpmConfig::new(1024, 4096)).unwrap();
    let len = 64 * 1024; // 4 pods
    let sgl = sgl_for_contiguous(0, len, PageSize::Size4K).unwrap();
    let request = DdpRequest {
        buffer: BufferId(0),
        tid: Tid::new(1).unwrap(),
        xfer_len: len,
        sgl: &sgl,
    };
    let tag = ppm.reserve(1, &request).unwrap();
    let inner = ((tag.index() + 2) << 6) | u32::from(tag.color().value());
    let tasks = TaskBuffers::default();
    let env = PlaceEnv {
        ppm: &ppm,
        tasks: &tasks,
        tid: Tid::new(1).unwrap(),
        page_size: PageSize::Size4K,
        data_digest: false,
    };
    assert_eq!(
        place(&env, &data_in(inner, 0), 512, &mut Vec::new()),
        Placement::Inline(DdpStatus::PPOD_MISMATCH)
    );
}

#[test]
fn released_tag_is_refused() {
    let mut buffer = Guarded::new();
    let tag = buffer.tag;
    buffer.ppm.release(tag).unwrap();
    buffer.assert_refused(tag.raw(), 0, 512, DdpStatus::INVALID_PPOD);
}

#[test]
fn non_ddp_itt_is_not_placed() {
    let mut buffer = Guarded::new();
    let itt = buffer.ppm.tag_format().make_non_ddp_tag(77).unwrap();
    buffer.assert_refused(itt, 0, 512, DdpStatus::NONE);
}

#[test]
fn offsets_past_the_transfer() {
    let mut buffer = Guarded::new();
    let itt = buffer.tag.raw();
    buffer.assert_refused(itt, XFER, 1, DdpStatus::OFFSET_ERR);
    buffer.assert_refused(itt, XFER + 4096, 16, DdpStatus::OFFSET_ERR);
    buffer.assert_refused(itt, XFER - 100, 101, DdpStatus::OFFSET_ERR);
    buffer.assert_refused(itt, 0, XFER + 1, DdpStatus::OFFSET_ERR);
    buffer.assert_refused(itt, u32::MAX, 1, DdpStatus::OFFSET_ERR);
    buffer.assert_refused(itt, 1, u32::MAX, DdpStatus::OFFSET_ERR);
    buffer.assert_refused(itt, u32::MAX - 3, 8, DdpStatus::OFFSET_ERR);
    buffer.assert_refused(itt, u32::MAX, u32::MAX, DdpStatus::OFFSET_ERR);
}

/// ITTs near the live tag (flipped bits, other colors, neighbouring indices) or anywhere.
fn hostile_itt(live: u32) -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        Just(live),
        (0u32..32).prop_map(move |bit| live ^ (1 << bit)),
        (0u32..64).prop_map(move |color| (live & !0x3F) | color),
        (0u32..2048).prop_map(move |index| (index << 6) | (live & 0x3F)),
    ]
}

proptest! {
    #[test]
    fn placement_never_writes_outside_the_bound_buffer(
        // A fresh manager binds the same tag every time.
        itt in hostile_itt(Guarded::new().tag.raw()),
        offset in prop_oneof![0..XFER + 64, any::<u32>(), u32::MAX - XFER..=u32::MAX],
        len in 1..XFER + 64,
    ) {
        let mut buffer = Guarded::new();
        let live = buffer.tag.raw();
        let bytes = vec![0x3C; len as usize];
        match buffer.attempt(itt, offset, &bytes) {
            Ok(()) => {
                // Only the live tag (bits above the no-DDP bit are ignored) is placed.
                prop_assert_eq!(itt & buffer.ppm.tag_format().idx_clr_mask(), live);
                let range = offset as usize..(offset + len) as usize;
                prop_assert!(range.end <= XFER as usize);
                prop_assert!(buffer.body()[range.clone()].iter().all(|&b| b == 0x3C));
                prop_assert!(buffer.body()[..range.start].iter().all(|&b| b == BODY_BYTE));
                prop_assert!(buffer.body()[range.end..].iter().all(|&b| b == BODY_BYTE));
            }
            Err(status) => {
                prop_assert!(!status.is_placed());
                prop_assert!(buffer.body_untouched());
            }
        }
        prop_assert!(buffer.guards_intact());
    }
}
