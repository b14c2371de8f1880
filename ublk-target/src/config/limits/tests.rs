use super::*;

#[test]
fn io_buf_bytes_whole_pages_up_to_32_mib() {
    let check = |bytes| check_io_buf_bytes("x", bytes);
    assert_eq!(check(4096), Ok(()));
    assert_eq!(check(DEFAULT_IO_BUF_BYTES), Ok(()));
    assert_eq!(check(32 << 20), Ok(()));
    for refused in [0, 2048, 4097, (1 << 20) + 512, (32 << 20) + 4096, u32::MAX] {
        assert!(check(refused).is_err(), "{refused}");
    }
}
