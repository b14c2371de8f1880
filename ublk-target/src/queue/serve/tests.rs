use super::*;

#[test]
fn page_pods_cover_every_read_twice() {
    // 512 KiB = 128 pages = 32 pods, plus one for a misaligned start.
    assert_eq!(page_pods_needed(128, 512 << 10), 33 * 128 * 2);
    assert_eq!(page_pods_needed(1, 4096), t3_hw::DDP_MIN_PPMAX);
    assert_eq!(page_pods_needed(4096, 32 << 20), 1 << 20);
    // The 1 MiB default: 256 pages = 64 pods, plus one, for every depth ublksrv allows.
    assert_eq!(page_pods_needed(128, 1 << 20), 65 * 128 * 2);
    assert_eq!(page_pods_needed(4096, 1 << 20), 65 * 4096 * 2);
}

#[test]
fn zero_copy_needs_ddp_for_every_read() {
    assert!(every_read_gets_ddp(4096, 1 << 20));
    assert!(every_read_gets_ddp(128, 32 << 20));
    assert!(!every_read_gets_ddp(4096, 32 << 20));
    assert!(!every_read_gets_ddp(4096, 2 << 20));
}
