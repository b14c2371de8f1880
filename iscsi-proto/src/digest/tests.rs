use super::*;

// RFC 3720 appendix B.4: CRC32C examples, given as the bytes sent on the wire.
#[test]
fn rfc3720_b4_vectors() {
    assert_eq!(to_wire(crc32c(&[0u8; 32])), [0xaa, 0x36, 0x91, 0x8a]);
    assert_eq!(to_wire(crc32c(&[0xffu8; 32])), [0x43, 0xab, 0xa8, 0x62]);
    let ascending: Vec<u8> = (0u8..32).collect();
    assert_eq!(to_wire(crc32c(&ascending)), [0x4e, 0x79, 0xdd, 0x46]);
    let descending: Vec<u8> = (0u8..32).rev().collect();
    assert_eq!(to_wire(crc32c(&descending)), [0x5c, 0xdb, 0x3f, 0x11]);
    let read10_pdu: [u8; 48] = [
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
        0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00,
    ];
    assert_eq!(to_wire(crc32c(&read10_pdu)), [0x56, 0x3a, 0x96, 0xd9]);
}

#[test]
fn append_equals_whole() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
    let (a, b) = data.split_at(333);
    assert_eq!(crc32c_append(crc32c(a), b), crc32c(&data));
}

#[test]
fn digest_lengths() {
    assert_eq!(Digests::BOTH.header_len(), 4);
    assert_eq!(Digests::BOTH.data_len(0), 0);
    assert_eq!(Digests::BOTH.data_len(1), 4);
    assert_eq!(Digests::NONE.data_len(1), 0);
}
