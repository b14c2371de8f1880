use super::*;

#[test]
fn dma_address_encoding_is_exact() {
    let fixed = DmaAddr::Fixed {
        buf_index: 0x1234,
        offset: 0x56_789A_B000,
    };
    assert_eq!(fixed.encode(), Ok(0x8012_3456_789A_B000));
    assert_eq!(DmaAddr::decode(0x8012_3456_789A_B000), Ok(fixed));
    assert_eq!(
        DmaAddr::decode(0x7FFF_0000_1000),
        Ok(DmaAddr::Mapped(0x7FFF_0000_1000))
    );
    assert_eq!(
        DmaAddr::Mapped(1 << 63).encode(),
        Err(DmaAddrError::MappedHighBit { addr: 1 << 63 })
    );
    assert_eq!(
        DmaAddr::Fixed {
            buf_index: 0,
            offset: 1 << 40
        }
        .encode(),
        Err(DmaAddrError::FixedOffsetTooLarge { offset: 1 << 40 })
    );
    assert_eq!(
        DmaAddr::decode(0x8100_0000_0000_0000),
        Err(DmaAddrError::FixedReservedBits {
            addr: 0x8100_0000_0000_0000
        })
    );
}

#[test]
fn resolve_checks_ranges() {
    let mut memory = vec![0u8; 8192];
    let ptr = memory.as_mut_ptr();
    let mut table = TaskBuffers::default();
    table.insert(3, TaskBuffer::Mapped { ptr, len: 8192 });
    table.insert(
        4,
        TaskBuffer::Fixed {
            buf_index: 9,
            base: 0,
            len: 4096,
        },
    );
    assert_eq!(
        table.resolve(3, 100, 8092),
        Ok(IoTarget::Mapped(ptr.wrapping_add(100)))
    );
    assert!(matches!(
        table.resolve(3, 100, 8093),
        Err(TaskBufferError::OutOfRange { task: 3, .. })
    ));
    assert!(matches!(
        table.resolve(3, u64::MAX, 2),
        Err(TaskBufferError::OutOfRange { .. })
    ));
    assert_eq!(
        table.resolve(4, 4000, 96),
        Ok(IoTarget::Fixed {
            buf_index: 9,
            addr: 4000
        })
    );
    assert_eq!(
        table.resolve(5, 0, 1),
        Err(TaskBufferError::NotRegistered { task: 5 })
    );
}

#[test]
fn resolve_dma_only_inside_the_task_buffer() {
    let mut memory = vec![0u8; 8192];
    let ptr = memory.as_mut_ptr();
    let mut table = TaskBuffers::default();
    table.insert(1, TaskBuffer::Mapped { ptr, len: 8192 });
    table.insert(
        2,
        TaskBuffer::Fixed {
            buf_index: 7,
            base: 0x1000,
            len: 4096,
        },
    );
    let base = ptr as u64;
    assert_eq!(
        table.resolve_dma(1, base + 4096, 4096),
        Some(IoTarget::Mapped(ptr.wrapping_add(4096)))
    );
    assert_eq!(table.resolve_dma(1, base + 4096, 4097), None);
    assert_eq!(table.resolve_dma(1, base - 1, 1), None);
    let fixed = |buf_index, offset| DmaAddr::Fixed { buf_index, offset }.encode().unwrap();
    assert_eq!(
        table.resolve_dma(2, fixed(7, 96), 4000),
        Some(IoTarget::Fixed {
            buf_index: 7,
            addr: 0x1060
        })
    );
    assert_eq!(table.resolve_dma(2, fixed(7, 96), 4001), None);
    assert_eq!(table.resolve_dma(2, fixed(8, 0), 1), None, "wrong index");
    assert_eq!(table.resolve_dma(1, fixed(7, 0), 1), None, "kind mismatch");
    assert_eq!(table.resolve_dma(9, base, 1), None, "unregistered task");
}

#[test]
fn sgl_covers_the_buffer_by_dma_address() {
    let mut table = TaskBuffers::default();
    table.insert(
        2,
        TaskBuffer::Fixed {
            buf_index: 3,
            base: 0,
            len: 16384,
        },
    );
    let mut sgl = vec![SgEntry {
        page_addr: 1,
        offset: 0,
        len: 1,
    }];
    table
        .sgl_into(2, 12288, PageSize::Size4K, &mut sgl)
        .unwrap();
    assert_eq!(sgl.len(), 3, "the list is cleared first");
    assert_eq!(sgl[0].page_addr, FIXED_DMA_FLAG | (3 << 40));
    assert_eq!(sgl[2].page_addr, FIXED_DMA_FLAG | (3 << 40) | 8192);
    assert!(matches!(
        table.sgl_into(2, 16385, PageSize::Size4K, &mut sgl),
        Err(TaskBufferError::OutOfRange { .. })
    ));
}

proptest::proptest! {
    #[test]
    fn pages_match_the_ppm_description_of_any_range(
        addr in proptest::prelude::any::<u64>(),
        len in 0u32..(1 << 21),
        big_pages: bool,
    ) {
        let page_size = if big_pages { PageSize::Size64K } else { PageSize::Size4K };
        let mut pages = Vec::new();
        let ours = push_pages(addr, len, page_size, &mut pages).map(|()| pages);
        proptest::prop_assert_eq!(ours, crate::ppm::sgl_for_contiguous(addr, len, page_size));
    }
}

#[test]
fn pages_match_the_ppm_description_of_a_contiguous_buffer() {
    for (addr, len) in [
        (0x1000, 4096),
        (0x1234, 4096),
        (0x7fff_0000_0ffc, 1 << 20),
        (0x2000, 1),
        (0x2fff, 2),
        (0x5000, 0),
    ] {
        for page_size in [PageSize::Size4K, PageSize::Size64K] {
            let mut pages = Vec::new();
            push_pages(addr, len, page_size, &mut pages).unwrap();
            assert_eq!(
                Some(pages),
                crate::ppm::sgl_for_contiguous(addr, len, page_size),
                "{addr:#x} + {len}"
            );
        }
    }
    for (addr, len) in [(u64::MAX - 10, 100), (u64::MAX - 4095, 100)] {
        assert_eq!(
            push_pages(addr, len, PageSize::Size4K, &mut Vec::new()),
            None
        );
        assert_eq!(
            crate::ppm::sgl_for_contiguous(addr, len, PageSize::Size4K),
            None
        );
    }
}
