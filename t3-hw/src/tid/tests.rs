use super::*;

#[test]
fn accepts_24_bit_values_only() {
    assert_eq!(Tid::new(0).map(Tid::value), Ok(0));
    assert_eq!(Tid::new(0xFF_FFFF).map(Tid::value), Ok(0xFF_FFFF));
    assert_eq!(Tid::new(0x100_0000), Err(TidOutOfRange { tid: 0x100_0000 }));
    assert_eq!(Tid::new(u32::MAX), Err(TidOutOfRange { tid: u32::MAX }));
    assert_eq!(
        Tid::from_low_bits(0x0112_3456),
        Tid::new(0x12_3456).unwrap()
    );
    assert_eq!(Tid::ZERO.value(), 0);
}
