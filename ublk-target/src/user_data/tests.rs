use super::*;

#[test]
fn encodings_are_exact() {
    assert_eq!(engine(0xABC_5D3), 0x8000_0000_01AB_C5D3);
    assert_eq!(tick(), 0x8000_0000_0200_0000);
}

#[test]
fn round_trips() {
    for token in [0, 1, 0xABC_5D3, (1 << TOKEN_BITS) - 1] {
        assert_eq!(owner(engine(token)), CqeOwner::Engine { token });
    }
    assert_eq!(owner(tick()), CqeOwner::Tick);
    assert_eq!(owner(wakeup()), CqeOwner::Wakeup);
}

#[test]
fn ublk_commands_keep_their_tag() {
    // libublk: tag | op << 16 | tgt_data << 24, bit 63 clear.
    let commit_and_fetch_tag_77 = 77 | (0x21 << 16);
    assert_eq!(
        owner(commit_and_fetch_tag_77),
        CqeOwner::UblkCommand { tag: 77 }
    );
}

#[test]
fn foreign_target_io_is_recognised() {
    assert_eq!(owner(TARGET_BIT), CqeOwner::Foreign);
    assert_eq!(owner(TARGET_BIT | (9 << 24)), CqeOwner::Foreign);
    assert_eq!(owner(tick() | 1), CqeOwner::Foreign);
    assert_eq!(owner(engine(5) | 1 << 40), CqeOwner::Foreign);
}
