use super::*;
use crate::ppm::{sgl_for_contiguous, BufferId, DdpRequest, Ppm, PpmConfig};
use crate::ppod::PageSize;
use crate::tag::Color;

fn tid(value: u32) -> Tid {
    Tid::new(value).unwrap()
}

#[test]
fn header_clears_page_selector_and_sw_bits() {
    let format = TagFormat::new(65536).unwrap();
    let tag = format.make_ddp_tag(5, Color::new(1).unwrap()).unwrap();
    let header = PodHeader::for_tag(&format, tag, tid(0x12_3456), 0x200, 0x1_0000);
    assert_eq!(header.tag_index_color, 0x141);
    assert!(header.valid);
    assert_eq!(header.max_offset, 0x1_0000);
    assert_eq!(header.page_offset, 0x200);
}

#[test]
fn encode_is_byte_exact() {
    let pod = PagePod {
        header: PodHeader {
            valid: true,
            tid: tid(0x12_3456),
            tag_index_color: 0x141,
            max_offset: 0x1_0000,
            page_offset: 0x200,
        },
        addrs: [
            0x1000,
            0x2000,
            0x0000_0001_0000_3000,
            0x4000,
            0xDEAD_BEEF_0000_5000,
        ],
    };
    let expected: [u8; 64] = [
        0x01, 0x12, 0x34, 0x56, // vld_tid
        0x00, 0x00, 0x01, 0x41, // pgsz_tag_clr
        0x00, 0x01, 0x00, 0x00, // max_offset
        0x00, 0x00, 0x02, 0x00, // page_offset
        0, 0, 0, 0, 0, 0, 0, 0, // reserved
        0, 0, 0, 0, 0, 0, 0x10, 0x00, //
        0, 0, 0, 0, 0, 0, 0x20, 0x00, //
        0, 0, 0, 0x01, 0, 0, 0x30, 0x00, //
        0, 0, 0, 0, 0, 0, 0x40, 0x00, //
        0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0x50, 0x00,
    ];
    assert_eq!(pod.encode(), expected);
    assert_eq!(PagePod::decode(&expected), Ok(pod));
}

#[test]
fn cleared_pod_is_all_zero() {
    assert_eq!(PagePod::cleared().encode(), [0u8; 64]);
    let decoded = PagePod::decode(&[0u8; 64]).unwrap();
    assert!(!decoded.header.valid);
    assert_eq!(decoded, PagePod::cleared());
}

#[test]
fn decode_refuses_reserved_bits() {
    let mut bytes = [0u8; 64];
    bytes[0] = 0x02; // bit 25
    assert_eq!(
        PagePod::decode(&bytes),
        Err(PodError::VldTidReservedBits {
            vld_tid: 0x0200_0000
        })
    );
    let mut bytes = [0u8; 64];
    bytes[4] = 0x40; // bit 30
    assert_eq!(
        PagePod::decode(&bytes),
        Err(PodError::PageSelectorSet {
            pgsz_tag_clr: 0x4000_0000
        })
    );
    let mut bytes = [0u8; 64];
    bytes[23] = 1;
    assert_eq!(
        PagePod::decode(&bytes),
        Err(PodError::ReservedNonZero { reserved: 1 })
    );
}

#[test]
fn fifth_address_repeats_next_pods_first_page() {
    let header = PagePod::cleared().header;
    let pages: Vec<u64> = (1..=9).map(|page| page * 0x1000).collect();
    let pods = build_pods(header, &pages);
    assert_eq!(pods.len(), 3);
    assert_eq!(pods[0].addrs, [0x1000, 0x2000, 0x3000, 0x4000, 0x5000]);
    assert_eq!(pods[1].addrs, [0x5000, 0x6000, 0x7000, 0x8000, 0x9000]);
    assert_eq!(pods[2].addrs, [0x9000, 0, 0, 0, 0]);
    assert_eq!(pods[1].addrs[0], pods[0].addrs[4]);

    let exact: Vec<u64> = (1..=4).map(|page| page * 0x1000).collect();
    let pods = build_pods(header, &exact);
    assert_eq!(pods.len(), 1);
    assert_eq!(pods[0].addrs, [0x1000, 0x2000, 0x3000, 0x4000, 0]);
    assert!(build_pods(header, &[]).is_empty());
}

#[test]
fn pods_carry_header_and_pages() {
    const PAGE: u32 = 4096;
    let mut ppm = Ppm::new(PpmConfig::new(1024, PAGE)).unwrap();
    let sgl = sgl_for_contiguous(0x20_0200, 5 * PAGE, PageSize::Size4K).unwrap();
    let request = DdpRequest {
        buffer: BufferId(0),
        tid: tid(1),
        xfer_len: 5 * PAGE,
        sgl: &sgl,
    };
    let tag = ppm.reserve(1, &request).unwrap();
    let pods = pods_of(ppm.tag_format(), ppm.lookup(tag.raw()).unwrap());
    assert_eq!(pods.len(), 2); // 6 pages
    let header = pods[0].header;
    assert!(header.valid);
    assert_eq!(header.tid, tid(1));
    assert_eq!(header.tag_index_color, tag.raw());
    assert_eq!(header.max_offset, 5 * PAGE);
    assert_eq!(header.page_offset, 0x200);
    assert_eq!(
        pods[0].addrs,
        [0x20_0000, 0x20_1000, 0x20_2000, 0x20_3000, 0x20_4000]
    );
    assert_eq!(pods[1].addrs, [0x20_4000, 0x20_5000, 0, 0, 0]);
}
