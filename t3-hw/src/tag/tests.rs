use super::*;
use proptest::prelude::*;

fn color(value: u8) -> Color {
    Color::new(value).expect("test color in range")
}

#[test]
fn worked_example_4mib_region() {
    // 4 MiB of pod memory / 64 bytes = 65536 pods.
    let format = TagFormat::new(65536).unwrap();
    assert_eq!(format.tagmask(), 0x80_0000);
    assert_eq!(format.rsvd_bits(), 24);
    assert_eq!(format.idx_bits(), 17); // bits 6..22
    assert_eq!(format.no_ddp_mask(), 1 << 23);
    assert_eq!(format.idx_mask(), 0x1_FFFF);
    assert_eq!(format.idx_clr_mask(), 0x7F_FFFF);
    assert_eq!(format.rsvd_mask(), 0xFF_FFFF);
    assert_eq!(format.free_bits(), 6); // bits 24..29
}

#[test]
fn small_region_layout() {
    // fls(1024) = 11 -> tagmask 1 << 17, B = 18.
    let format = TagFormat::new(1024).unwrap();
    assert_eq!(format.tagmask(), 1 << 17);
    assert_eq!(format.rsvd_bits(), 18);
    assert_eq!(format.idx_bits(), 11);
    assert_eq!(format.no_ddp_mask(), 1 << 17);
    assert_eq!(format.free_bits(), 12);
}

#[test]
fn refuses_degenerate_regions() {
    assert_eq!(TagFormat::new(0), Err(TagFormatError::ZeroPpmax));
    assert!(TagFormat::new((1 << 23) - 1).is_ok());
    let err = TagFormat::new(1 << 23).unwrap_err();
    assert_eq!(
        err,
        TagFormatError::PpmaxTooLarge {
            ppmax: 1 << 23,
            index_bits: 24
        }
    );
    // The kernel's cap at 24 index bits applies, and is still refused.
    assert_eq!(
        TagFormat::new(u32::MAX).unwrap_err(),
        TagFormatError::PpmaxTooLarge {
            ppmax: u32::MAX,
            index_bits: 24
        }
    );
}

#[test]
fn ddp_tag_encode_decode() {
    let format = TagFormat::new(65536).unwrap();
    let tag = format.make_ddp_tag(0x1234, color(0x2A)).unwrap();
    assert_eq!(tag.raw(), (0x1234 << 6) | 0x2A);
    assert_eq!(tag.raw(), 0x0004_8D2A);
    assert_eq!(
        format.decode_itt(tag.raw()),
        Decoded::Ddp {
            index: 0x1234,
            color: color(0x2A)
        }
    );
    assert_eq!(format.ddp_parts(tag.raw()), Ok((0x1234, color(0x2A))));
    assert!(matches!(
        format.make_ddp_tag(65536, color(0)),
        Err(TagError::IndexOutOfRange { index: 65536, .. })
    ));
}

#[test]
fn ddp_decode_ignores_free_and_page_selector_bits() {
    let format = TagFormat::new(65536).unwrap();
    let itt = 0xC000_0000 | (0x3F << 24) | (7 << 6) | 5;
    assert_eq!(
        format.decode_itt(itt),
        Decoded::Ddp {
            index: 7,
            color: color(5)
        }
    );
}

#[test]
fn non_ddp_tag_vectors() {
    let format = TagFormat::new(65536).unwrap();
    assert_eq!(format.make_non_ddp_tag(0), Ok(0x0080_0000));
    // libcxgbi's sw tag (itt << 16) | age with itt 1, age 5: all below the no-DDP bit.
    assert_eq!(format.make_non_ddp_tag(0x0001_0005), Ok(0x0081_0005));
    // Bits from 23 up move one place up.
    assert_eq!(format.make_non_ddp_tag(0x7FFF_7FFF), Ok(0xFFFF_7FFF));
    assert_eq!(format.make_non_ddp_tag(0x0080_0000), Ok(0x0180_0000));
    assert_eq!(
        format.decode_itt(0xFFFF_7FFF),
        Decoded::NonDdp {
            sw_tag: 0x7FFF_7FFF
        }
    );
    assert_eq!(
        format.decode_itt(0x0080_0000),
        Decoded::NonDdp { sw_tag: 0 }
    );
    assert_eq!(
        format.make_non_ddp_tag(0x8000_0000),
        Err(TagError::SwTagTooWide {
            sw_tag: 0x8000_0000
        })
    );
}

#[test]
fn validation_errors_are_distinct() {
    let format = TagFormat::new(65536).unwrap();
    let non_ddp = format.make_non_ddp_tag(3).unwrap();
    assert_eq!(
        format.ddp_parts(non_ddp),
        Err(TagError::NotDdp { itt: non_ddp })
    );
    // Index field holds 17 bits, so 65536..131071 decode but lie beyond the region.
    let beyond = 70_000 << 6;
    assert_eq!(
        format.ddp_parts(beyond),
        Err(TagError::IndexOutOfRange {
            itt: beyond,
            index: 70_000,
            ppmax: 65536
        })
    );
}

#[test]
fn color_wraps_from_63_to_0() {
    assert_eq!(color(0).next(), color(1));
    assert_eq!(color(62).next(), color(63));
    assert_eq!(color(63).next(), color(0));
    assert_eq!(Color::new(64), None);
    let mut c = Color::default();
    for _ in 0..64 {
        c = c.next();
    }
    assert_eq!(c, Color::default());
}

#[test]
fn task_sw_tag_layout() {
    assert_eq!(task_sw_tag(0, Generation::default()), Ok(0));
    assert_eq!(task_sw_tag(5, Generation::new(1)), Ok(0x0010_0005));
    assert_eq!(
        task_sw_tag(SW_TASK_LIMIT - 1, Generation::new(255)),
        Ok(SW_TASK_TAG_LIMIT - 1)
    );
    assert_eq!(
        task_sw_tag(SW_TASK_LIMIT, Generation::default()),
        Err(TagError::TaskTooLarge {
            task: SW_TASK_LIMIT
        })
    );
    assert_eq!(task_of_sw_tag(0x0010_0005), Some((5, Generation::new(1))));
    assert_eq!(task_of_sw_tag(SW_TASK_TAG_LIMIT), None);
    assert_eq!(task_of_sw_tag(0x4000_0000), None);
}

#[test]
fn generation_wraps_from_255_to_0() {
    assert_eq!(Generation::new(0).next(), Generation::new(1));
    assert_eq!(Generation::new(255).next(), Generation::new(0));
}

#[test]
fn generations_of_a_task_give_distinct_non_ddp_tags() {
    for ppmax in [1, 512, 1024, 65536, (1 << 23) - 1] {
        let format = TagFormat::new(ppmax).unwrap();
        let task = 0x1234;
        let itts: std::collections::HashSet<u32> = (0..=u8::MAX)
            .map(|g| {
                let sw_tag = task_sw_tag(task, Generation::new(g)).unwrap();
                format.make_non_ddp_tag(sw_tag).unwrap()
            })
            .collect();
        assert_eq!(itts.len(), 256, "ppmax {ppmax}");
    }
}

proptest! {
    #[test]
    fn task_sw_tag_round_trips(task in 0..SW_TASK_LIMIT, g in any::<u8>()) {
        let sw_tag = task_sw_tag(task, Generation::new(g)).unwrap();
        prop_assert!(sw_tag < SW_TASK_TAG_LIMIT);
        prop_assert_eq!(task_of_sw_tag(sw_tag), Some((task, Generation::new(g))));
    }

    #[test]
    fn decode_itt_never_panics(ppmax in 1u32..(1 << 23), itt in any::<u32>()) {
        let format = TagFormat::new(ppmax).unwrap();
        let decoded = format.decode_itt(itt);
        let _ = format.ddp_parts(itt);
        if let Decoded::Ddp { index, color } = decoded {
            prop_assert!(index <= format.idx_mask());
            prop_assert!(color.value() <= Color::MAX);
        }
    }

    #[test]
    fn non_ddp_round_trips(ppmax in 1u32..(1 << 23), sw_tag in 0u32..SW_TAG_LIMIT) {
        let format = TagFormat::new(ppmax).unwrap();
        let itt = format.make_non_ddp_tag(sw_tag).unwrap();
        prop_assert!(!format.is_ddp_tag(itt));
        prop_assert_eq!(format.decode_itt(itt), Decoded::NonDdp { sw_tag });
    }

    #[test]
    fn ddp_round_trips(ppmax in 1u32..(1 << 23), seed in any::<u32>(), c in 0u8..=63) {
        let format = TagFormat::new(ppmax).unwrap();
        let index = seed % ppmax;
        let tag = format.make_ddp_tag(index, color(c)).unwrap();
        prop_assert!(format.is_ddp_tag(tag.raw()));
        prop_assert_eq!(format.ddp_parts(tag.raw()), Ok((index, color(c))));
    }
}
