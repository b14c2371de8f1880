use super::*;

#[test]
fn every_flag_sits_at_its_bit() {
    let expected = [
        (DdpStatus::PPOD_MISMATCH, 15),
        (DdpStatus::DDP_PDU, 16),
        (DdpStatus::LLIMIT_ERR, 17),
        (DdpStatus::PPOD_PARITY, 18),
        (DdpStatus::PADDING_ERR, 19),
        (DdpStatus::HDRCRC_ERR, 20),
        (DdpStatus::DATACRC_ERR, 21),
        (DdpStatus::INVALID_TAG, 22),
        (DdpStatus::ULIMIT_ERR, 23),
        (DdpStatus::OFFSET_ERR, 24),
        (DdpStatus::COLOR_ERR, 25),
        (DdpStatus::TID_MISMATCH, 26),
        (DdpStatus::INVALID_PPOD, 27),
    ];
    for (flag, bit) in expected {
        assert_eq!(flag.bits(), 1 << bit, "{flag:?}");
        assert_eq!(flag.has_error(), bit != 16, "{flag:?}");
    }
    let all_errors = expected
        .iter()
        .filter(|(_, bit)| *bit != 16)
        .fold(DdpStatus::NONE, |acc, (flag, _)| acc | *flag);
    assert_eq!(all_errors, DdpStatus::ERRORS);
}

#[test]
fn fields_and_predicates() {
    let word = DdpStatus::from_bits(0x2001_00A5);
    assert_eq!(word.ulp_mode(), 2);
    assert_eq!(word.status_code(), 0xA5);
    assert!(word.is_placed());
    assert!(!word.has_error());
    let bad = DdpStatus::DDP_PDU | DdpStatus::DATACRC_ERR;
    assert!(bad.has_error());
    assert!(bad.contains(DdpStatus::DATACRC_ERR));
    assert!(!bad.contains(DdpStatus::HDRCRC_ERR));
    assert!(!DdpStatus::NONE.is_placed());
    assert_eq!(
        format!("{bad:?}"),
        "DdpStatus(0x00210000 DDP_PDU DATACRC_ERR)"
    );
}
