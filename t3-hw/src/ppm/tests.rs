use super::*;
use crate::tag::{SW_TASK_LIMIT, SW_TASK_TAG_LIMIT};

const PAGE: u32 = 4096;

fn tid() -> Tid {
    Tid::new(7).unwrap()
}

fn ppm(ppmax: u32) -> Ppm {
    Ppm::new(PpmConfig::new(ppmax, PAGE)).unwrap()
}

/// A page-aligned buffer of `len` bytes at a fake address derived from `base_page`.
fn buffer(base_page: u64, len: u32) -> Vec<SgEntry> {
    sgl_for_contiguous(base_page * u64::from(PAGE), len, PageSize::Size4K).unwrap()
}

fn request(sgl: &[SgEntry], xfer_len: u32) -> DdpRequest<'_> {
    DdpRequest {
        buffer: BufferId(3),
        tid: tid(),
        xfer_len,
        sgl,
    }
}

#[test]
fn contiguous_buffer_becomes_page_entries() {
    let sgl = sgl_for_contiguous(0x10_0FF0, 0x2020, PageSize::Size4K).unwrap();
    assert_eq!(
        sgl,
        vec![
            SgEntry {
                page_addr: 0x10_0000,
                offset: 0xFF0,
                len: 0x10
            },
            SgEntry {
                page_addr: 0x10_1000,
                offset: 0,
                len: 0x1000
            },
            SgEntry {
                page_addr: 0x10_2000,
                offset: 0,
                len: 0x1000
            },
            SgEntry {
                page_addr: 0x10_3000,
                offset: 0,
                len: 0x10
            },
        ]
    );
    assert_eq!(
        sgl_for_contiguous(0x1000, 0, PageSize::Size4K),
        Some(vec![])
    );
    assert_eq!(sgl_for_contiguous(u64::MAX - 4, 16, PageSize::Size4K), None);
}

#[test]
fn reserve_binds_and_colors_start_at_one() {
    let mut ppm = ppm(1024);
    let sgl = buffer(16, 65536);
    let tag = ppm.reserve(0x42, &request(&sgl, 65536)).unwrap();
    assert_eq!(tag.index(), 0);
    assert_eq!(tag.color().value(), 1);
    assert_eq!(tag.raw(), 1);
    let binding = ppm.lookup(tag.raw()).unwrap();
    assert_eq!(binding.sw_tag, 0x42);
    assert_eq!(binding.buffer, BufferId(3));
    assert_eq!(binding.npods, 4);
    assert_eq!(binding.xfer_len, 65536);
    assert_eq!(binding.page_offset, 0);
    assert_eq!(binding.pages.len(), 16);
    assert_eq!(ppm.pods_in_use(), 4);
    assert_eq!(ppm.counters().reserved, 1);

    let next = ppm.reserve(0x43, &request(&sgl, 4096)).unwrap();
    assert_eq!(
        next.index(),
        4,
        "rotor continues after the first allocation"
    );
}

#[test]
fn color_advances_per_allocation_and_wraps() {
    let mut ppm = ppm(1024);
    let sgl = buffer(0, 4096);
    for round in 1..=64u32 {
        let tag = ppm.reserve(round, &request(&sgl, 4096)).unwrap();
        assert_eq!(tag.index(), 0, "release moves the rotor back to 0");
        assert_eq!(u32::from(tag.color().value()), round % 64);
        ppm.release(tag).unwrap();
    }
    let tag = ppm.reserve(0, &request(&sgl, 4096)).unwrap();
    assert_eq!(tag.color().value(), 1);
}

#[test]
fn stale_tag_is_refused_after_reuse() {
    let mut ppm = ppm(1024);
    let sgl = buffer(0, 4096);
    let old = ppm.reserve(1, &request(&sgl, 4096)).unwrap();
    ppm.release(old).unwrap();
    assert_eq!(
        ppm.lookup(old.raw()),
        Err(TagError::IndexNotAllocated {
            itt: old.raw(),
            index: 0
        })
    );
    let new = ppm.reserve(2, &request(&sgl, 4096)).unwrap();
    assert_eq!(new.index(), old.index());
    assert_eq!(
        ppm.lookup(old.raw()),
        Err(TagError::StaleColor {
            itt: old.raw(),
            index: 0,
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        ppm.release(old),
        Err(TagError::StaleColor {
            itt: old.raw(),
            index: 0,
            expected: 2,
            found: 1
        })
    );
    assert_eq!(ppm.lookup(new.raw()).map(|b| b.sw_tag), Ok(2));
}

#[test]
fn lookup_distinguishes_every_failure() {
    let mut ppm = ppm(1024);
    let sgl = buffer(0, 8 * PAGE);
    let tag = ppm.reserve(9, &request(&sgl, 8 * PAGE)).unwrap(); // pods 0 and 1
    let format = *ppm.tag_format();
    let non_ddp = format.make_non_ddp_tag(9).unwrap();
    assert_eq!(ppm.lookup(non_ddp), Err(TagError::NotDdp { itt: non_ddp }));
    let beyond = 1500 << 6;
    assert_eq!(
        ppm.lookup(beyond),
        Err(TagError::IndexOutOfRange {
            itt: beyond,
            index: 1500,
            ppmax: 1024
        })
    );
    let free = (5 << 6) | 1;
    assert_eq!(
        ppm.lookup(free),
        Err(TagError::IndexNotAllocated {
            itt: free,
            index: 5
        })
    );
    let inner = (1 << 6) | 1;
    assert_eq!(
        ppm.lookup(inner),
        Err(TagError::InsideAnotherBinding {
            itt: inner,
            index: 1
        })
    );
    assert_eq!(ppm.lookup(tag.raw()).map(|b| b.sw_tag), Ok(9));
    assert_eq!(ppm.sw_tag_of(tag.raw()), Ok(9));
    assert_eq!(ppm.sw_tag_of(non_ddp), Ok(9));
    assert_eq!(
        ppm.sw_tag_of(free),
        Err(TagError::IndexNotAllocated {
            itt: free,
            index: 5
        })
    );
}

#[test]
fn exhaustion_counts_ddp_full_and_rotor_wraps() {
    let mut ppm = ppm(1024);
    let sgl = buffer(0, 64 * PAGE); // 16 pods each
    let mut tags = Vec::new();
    for sw in 0..64 {
        tags.push(ppm.reserve(sw, &request(&sgl, 64 * PAGE)).unwrap());
    }
    assert_eq!(ppm.pods_in_use(), 1024);
    assert_eq!(
        ppm.reserve(99, &request(&sgl, 4096)),
        Err(PpmError::NoContiguousPods { npods: 1 })
    );
    assert_eq!(ppm.counters().ddp_full, 1);

    // Free two non-adjacent holes of 16; a 32-pod request still does not fit.
    ppm.release(tags[10]).unwrap();
    ppm.release(tags[12]).unwrap();
    let big = buffer(0, 128 * PAGE);
    assert_eq!(
        ppm.reserve(100, &request(&big, 128 * PAGE)),
        Err(PpmError::NoContiguousPods { npods: 32 })
    );
    assert_eq!(ppm.counters().ddp_full, 2);
    // Freeing the neighbour makes a contiguous run of 48 at 160.
    ppm.release(tags[11]).unwrap();
    let fit = ppm.reserve(101, &request(&big, 128 * PAGE)).unwrap();
    assert_eq!(fit.index(), 160);
    assert_eq!(ppm.counters().released, 3);
}

#[test]
fn rotor_searches_forward_then_wraps_to_zero() {
    let mut ppm = ppm(1024);
    let half = buffer(0, 2048 * PAGE); // 512 pods
    let quarter = buffer(0, 1024 * PAGE); // 256 pods
    let a = ppm.reserve(1, &request(&half, 2048 * PAGE)).unwrap();
    let b = ppm.reserve(2, &request(&quarter, 1024 * PAGE)).unwrap();
    let c = ppm.reserve(3, &request(&quarter, 1024 * PAGE)).unwrap();
    assert_eq!((a.index(), b.index(), c.index()), (0, 512, 768));
    // c ended exactly at ppmax, so the rotor wrapped to 0; releases above it leave it there.
    ppm.release(a).unwrap();
    ppm.release(b).unwrap();
    let d = ppm.reserve(4, &request(&quarter, 1024 * PAGE)).unwrap();
    assert_eq!(d.index(), 0);
    let e = ppm.reserve(5, &request(&half, 2048 * PAGE)).unwrap();
    assert_eq!(e.index(), 256, "run 256..768 found forward from the rotor");
}

/// Reserves exactly `npods` pods (4 pages each) for a page-aligned buffer.
fn reserve_pods(ppm: &mut Ppm, sw_tag: u32, npods: u32) -> Result<DdpTag, PpmError> {
    let len = npods * 4 * PAGE;
    let sgl = [SgEntry {
        page_addr: 0,
        offset: 0,
        len,
    }];
    ppm.reserve(sw_tag, &request(&sgl, len))
}

#[test]
fn rotor_wraps_to_zero_when_nothing_fits_ahead() {
    let mut ppm = ppm(1024);
    let a = reserve_pods(&mut ppm, 1, 50).unwrap();
    let b = reserve_pods(&mut ppm, 2, 20).unwrap();
    assert_eq!((a.index(), b.index()), (0, 50));
    ppm.release(a).unwrap(); // rotor back to 0, hole 0..50
    let c = reserve_pods(&mut ppm, 3, 60).unwrap();
    assert_eq!(c.index(), 70, "the 50-pod hole is too short");
    let d = reserve_pods(&mut ppm, 4, 870).unwrap();
    assert_eq!(d.index(), 130);
    // Rotor at 1000; only 24 pods ahead, so a 40-pod request wraps to the hole at 0.
    let e = reserve_pods(&mut ppm, 5, 40).unwrap();
    assert_eq!(e.index(), 0);
    // Rotor at 40: a 24-pod request finds the tail 1000..1024 ahead of it.
    let f = reserve_pods(&mut ppm, 6, 24).unwrap();
    assert_eq!(f.index(), 1000);
    // Nothing left of size 11 anywhere: refused, and the rotor resets to 0.
    assert_eq!(
        reserve_pods(&mut ppm, 7, 11),
        Err(PpmError::NoContiguousPods { npods: 11 })
    );
    let g = reserve_pods(&mut ppm, 8, 10).unwrap();
    assert_eq!(g.index(), 40);
}

#[test]
fn refusals_and_their_counters() {
    let mut ppm = ppm(1024);
    let sgl = buffer(0, 4096);
    assert_eq!(
        ppm.reserve(1, &request(&sgl, 511)),
        Err(PpmError::BelowThreshold {
            xfer_len: 511,
            threshold: 512
        })
    );
    assert!(ppm.reserve(1, &request(&sgl, 512)).is_ok());
    assert_eq!(
        ppm.reserve(1, &request(&[], 4096)),
        Err(PpmError::EmptyScatterList)
    );
    assert_eq!(
        ppm.reserve(1, &request(&sgl, 4097)),
        Err(PpmError::BufferTooShort {
            needed: 4097,
            available: 4096
        })
    );
    let huge = [SgEntry {
        page_addr: 0,
        offset: 0,
        len: u32::MAX,
    }];
    assert!(matches!(
        ppm.reserve(1, &request(&huge, u32::MAX)),
        Err(PpmError::TooLong {
            pages: 1_048_576,
            ..
        })
    ));
    // 1025 pods is more than the region even though the page count is fine.
    let long = [SgEntry {
        page_addr: 0,
        offset: 0,
        len: 4100 * PAGE,
    }];
    assert!(matches!(
        ppm.reserve(1, &request(&long, 4100 * PAGE)),
        Err(PpmError::TooLong {
            npods: 1025,
            ppmax: 1024,
            ..
        })
    ));
    let counters = ppm.counters();
    assert_eq!(counters.fallback_below_threshold, 2);
    assert_eq!(counters.fallback_buffer_too_short, 1);
    assert_eq!(counters.fallback_too_long, 2);
    assert_eq!(counters.reserved, 1);
}

#[test]
fn threshold_is_configurable() {
    let config = PpmConfig {
        ddp_threshold: 2048,
        ..PpmConfig::new(1024, PAGE)
    };
    let mut ppm = Ppm::new(config).unwrap();
    let sgl = buffer(0, 4096);
    assert_eq!(
        ppm.reserve(1, &request(&sgl, 2047)),
        Err(PpmError::BelowThreshold {
            xfer_len: 2047,
            threshold: 2048
        })
    );
    assert!(ppm.reserve(1, &request(&sgl, 2048)).is_ok());
}

#[test]
fn sgl_check_rules() {
    let mut ppm = ppm(1024);
    let page = u64::from(PAGE);
    let cases = [
        (
            vec![SgEntry {
                page_addr: 0,
                offset: 2,
                len: 4094,
            }],
            0,
            MisalignReason::OffsetNotWordAligned,
        ),
        (
            vec![
                SgEntry {
                    page_addr: 0,
                    offset: 0,
                    len: 4096,
                },
                SgEntry {
                    page_addr: page,
                    offset: 8,
                    len: 4088,
                },
            ],
            1,
            MisalignReason::OffsetInLaterEntry,
        ),
        (
            vec![
                SgEntry {
                    page_addr: 0,
                    offset: 0,
                    len: 2048,
                },
                SgEntry {
                    page_addr: page,
                    offset: 0,
                    len: 4096,
                },
            ],
            0,
            MisalignReason::EntryNotEndingOnPage,
        ),
        (
            vec![SgEntry {
                page_addr: 0,
                offset: 4096,
                len: 4096,
            }],
            0,
            MisalignReason::OffsetBeyondPage,
        ),
        (
            vec![SgEntry {
                page_addr: 100,
                offset: 0,
                len: 4096,
            }],
            0,
            MisalignReason::PageAddressUnaligned,
        ),
    ];
    for (sgl, entry, reason) in cases {
        assert_eq!(
            ppm.reserve(1, &request(&sgl, 4096)),
            Err(PpmError::Misaligned { entry, reason }),
            "{sgl:?}"
        );
    }
    let wraps = [SgEntry {
        page_addr: u64::MAX - page + 1,
        offset: 0,
        len: 8192,
    }];
    assert_eq!(
        ppm.reserve(1, &request(&wraps, 8192)),
        Err(PpmError::Misaligned {
            entry: 0,
            reason: MisalignReason::AddressOverflow
        })
    );
    assert_eq!(ppm.counters().fallback_misaligned, 6);
    // A first entry starting mid-page and a short last entry are fine.
    let ok = [
        SgEntry {
            page_addr: 0,
            offset: 1024,
            len: 3072,
        },
        SgEntry {
            page_addr: 5 * page,
            offset: 0,
            len: 4096,
        },
        SgEntry {
            page_addr: 9 * page,
            offset: 0,
            len: 100,
        },
    ];
    let tag = ppm.reserve(1, &request(&ok, 7268)).unwrap();
    assert_eq!(
        ppm.lookup(tag.raw()).unwrap().pages,
        vec![0, 5 * page, 9 * page]
    );
}

#[test]
fn ddp_disabled_cases() {
    let mut small = Ppm::new(PpmConfig::new(1023, PAGE)).unwrap();
    let sgl = buffer(0, 4096);
    assert_eq!(
        small.reserve(1, &request(&sgl, 4096)),
        Err(PpmError::DdpDisabled(DdpDisabledReason::TooFewPods {
            ppmax: 1023
        }))
    );
    assert_eq!(small.counters().fallback_disabled, 1);
    let mut odd_page = Ppm::new(PpmConfig::new(4096, 32768)).unwrap();
    assert_eq!(
        odd_page.reserve(1, &request(&sgl, 4096)),
        Err(PpmError::DdpDisabled(
            DdpDisabledReason::PageSizeUnsupported { page_size: 32768 }
        ))
    );
    assert!(matches!(
        Ppm::new(PpmConfig::new(0, PAGE)),
        Err(PpmConfigError::TagFormat(TagFormatError::ZeroPpmax))
    ));
}

#[test]
fn reserve_itt_falls_back_to_non_ddp() {
    let mut ppm = ppm(1024);
    let sgl = buffer(0, 4096);
    let write = ppm.reserve_itt(5, None).unwrap();
    assert_eq!(write.itt, ppm.tag_format().make_non_ddp_tag(5).unwrap());
    assert_eq!((write.ddp, write.fallback), (None, None));

    let read = ppm.reserve_itt(6, Some(&request(&sgl, 4096))).unwrap();
    assert_eq!(read.ddp.map(DdpTag::raw), Some(read.itt));
    assert_eq!(ppm.sw_tag_of(read.itt), Ok(6));
    assert_eq!(ppm.task_of_itt(read.itt), Ok(6));

    let small = ppm.reserve_itt(7, Some(&request(&sgl, 100))).unwrap();
    assert_eq!(small.ddp, None);
    assert_eq!(
        small.fallback,
        Some(PpmError::BelowThreshold {
            xfer_len: 100,
            threshold: 512
        })
    );
    assert_eq!(ppm.sw_tag_of(small.itt), Ok(7));
    assert_eq!(ppm.task_of_itt(small.itt), Ok(7));

    for task in [SW_TASK_LIMIT, 0x8000_0000] {
        assert_eq!(
            ppm.reserve_itt(task, None),
            Err(TagError::TaskTooLarge { task })
        );
    }
}

#[test]
fn each_reservation_of_a_task_gets_another_itt() {
    let sgl = buffer(0, 4096);
    let twice = |ppm: &mut Ppm, len: u32| {
        let first = ppm.reserve_itt(3, Some(&request(&sgl, len))).unwrap();
        if let Some(tag) = first.ddp {
            ppm.release(tag).unwrap();
        }
        let second = ppm.reserve_itt(3, Some(&request(&sgl, len))).unwrap();
        assert_ne!(first.itt, second.itt, "{len} bytes");
        assert_eq!(ppm.task_of_itt(second.itt), Ok(3));
        if second.ddp.is_none() {
            // The earlier ITT still decodes to the task; only its generation is old.
            assert_eq!(ppm.task_of_itt(first.itt), Ok(3));
            assert_ne!(ppm.sw_tag_of(first.itt), ppm.sw_tag_of(second.itt));
        }
        (first, second)
    };
    // Without DDP (too few pods), with DDP refused for the transfer, and with DDP.
    let mut no_ddp = ppm(512);
    let (first, second) = twice(&mut no_ddp, 4096);
    assert!(first.ddp.is_none() && second.ddp.is_none());
    let mut ddp = ppm(1024);
    let (first, second) = twice(&mut ddp, 100);
    assert!(first.ddp.is_none() && second.ddp.is_none());
    let (first, second) = twice(&mut ddp, 4096);
    assert!(first.ddp.is_some() && second.ddp.is_some());
    // Writes and commands without data too; another task's generation is its own.
    let write = no_ddp.reserve_itt(9, None).unwrap().itt;
    assert_eq!(write, no_ddp.tag_format().make_non_ddp_tag(9).unwrap());
    let again = no_ddp.reserve_itt(9, None).unwrap().itt;
    assert_ne!(write, again);
    assert_eq!(no_ddp.task_of_itt(write), Ok(9));
    assert_eq!(no_ddp.task_of_itt(again), Ok(9));
}

#[test]
fn a_task_itt_comes_back_after_every_generation() {
    let mut ppm = ppm(512);
    let itts: Vec<u32> = (0..=256)
        .map(|_| ppm.reserve_itt(7, None).unwrap().itt)
        .collect();
    let distinct: std::collections::HashSet<u32> = itts[..256].iter().copied().collect();
    assert_eq!(distinct.len(), 256);
    assert_eq!(itts[256], itts[0]);
}

#[test]
fn an_itt_that_is_no_task_is_refused() {
    let ppm = ppm(512);
    let sw_tag = SW_TASK_TAG_LIMIT;
    let itt = ppm.tag_format().make_non_ddp_tag(sw_tag).unwrap();
    assert_eq!(ppm.sw_tag_of(itt), Ok(sw_tag));
    assert_eq!(
        ppm.task_of_itt(itt),
        Err(TagError::NotATask { itt, sw_tag })
    );
}

#[test]
fn release_refuses_unknown_tags() {
    let mut ppm = ppm(1024);
    let sgl = buffer(0, 4096);
    let tag = ppm.reserve(1, &request(&sgl, 4096)).unwrap();
    let binding = ppm.release(tag).unwrap();
    assert_eq!(binding.sw_tag, 1);
    assert_eq!(
        ppm.release(tag),
        Err(TagError::IndexNotAllocated {
            itt: tag.raw(),
            index: 0
        })
    );
    assert_eq!(ppm.counters().released, 1);
    assert_eq!(ppm.pods_in_use(), 0);
}
