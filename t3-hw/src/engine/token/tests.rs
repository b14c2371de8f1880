use super::*;

#[test]
fn token_layout_is_exact() {
    let key = ConnKey {
        slot: 0xABC,
        generation: 0x5D,
    };
    assert_eq!(key.token(OpKind::Rx), 0xABC_5D3);
    assert_eq!(key.token(OpKind::Cancel), 0xABC_5D5);
    assert_eq!(decode_token(0xABC_5D3), Some((key, OpKind::Rx)));
    assert_eq!(key.tid().value(), 0x5D_ABC);
    assert_eq!(ConnKey::from_tid(key.tid()), Some(key));
}

#[test]
fn foreign_tokens_and_tids_are_refused() {
    assert_eq!(decode_token(0), None, "op kind 0 is never issued");
    assert_eq!(decode_token(0x7), None);
    assert_eq!(decode_token(1 << TOKEN_BITS | 0x3), None);
    assert_eq!(ConnKey::from_tid(Tid::new(0x10_0000).unwrap()), None);
}

#[test]
fn every_token_fits_24_bits() {
    let key = ConnKey {
        slot: (MAX_CONNECTIONS - 1) as u16,
        generation: u8::MAX,
    };
    for op in [
        OpKind::Connect,
        OpKind::Tx,
        OpKind::Rx,
        OpKind::Shutdown,
        OpKind::Cancel,
        OpKind::Cork,
    ] {
        let token = key.token(op);
        assert!(token < 1 << TOKEN_BITS);
        assert_eq!(decode_token(token), Some((key, op)));
    }
}
