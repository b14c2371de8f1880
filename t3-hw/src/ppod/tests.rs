use super::*;

#[test]
fn page_size_table() {
    let sizes: Vec<(u8, u32)> = PageSize::ALL
        .iter()
        .map(|size| (size.index(), size.bytes()))
        .collect();
    assert_eq!(sizes, vec![(0, 4096), (1, 8192), (2, 16384), (3, 65536)]);
    assert_eq!(PageSize::from_bytes(65536), Some(PageSize::Size64K));
    assert_eq!(PageSize::from_bytes(32768), None);
    assert_eq!(PageSize::from_bytes(262_144), None);
    assert_eq!(PageSize::from_index(2), Some(PageSize::Size16K));
    assert_eq!(PageSize::from_index(4), None);
}

#[test]
fn pod_counts() {
    let p4k = PageSize::Size4K;
    assert_eq!(pages_for(4096, 0, p4k), 1);
    assert_eq!(pages_for(4096, 4, p4k), 2);
    assert_eq!(pods_for(16384, 0, p4k), 1);
    assert_eq!(pods_for(16384, 512, p4k), 2); // 5 pages
    assert_eq!(pods_for(1 << 20, 0, p4k), 64); // 1 MiB needs 64 pods
    assert_eq!(pods_for(512, 0, p4k), 1);
    assert_eq!(pods_for(0, 0, p4k), 0);
    assert_eq!(pages_for(u32::MAX, u32::MAX, p4k), 2_097_152);
    assert_eq!(pods_for(1 << 20, 0, PageSize::Size64K), 4);
}
