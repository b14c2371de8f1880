use super::*;
use proptest::prelude::*;

#[test]
fn ordering_across_wrap() {
    assert!(Sn(1).lt(Sn(2)));
    assert!(Sn(u32::MAX).lt(Sn(0)));
    assert!(Sn(u32::MAX - 5).lt(Sn(10)));
    assert!(!Sn(10).lt(Sn(u32::MAX - 5)));
    assert!(Sn(0).gt(Sn(u32::MAX)));
    assert!(!Sn(7).lt(Sn(7)));
}

#[test]
fn half_range_apart_is_incomparable() {
    assert!(!Sn(0).lt(Sn(1 << 31)));
    assert!(!Sn(1 << 31).lt(Sn(0)));
}

proptest! {
    #[test]
    fn successor_is_greater(a: u32, n in 1u32..(1 << 31)) {
        prop_assert!(Sn(a).lt(Sn(a).plus(n)));
        prop_assert!(!Sn(a).plus(n).lt(Sn(a)));
        prop_assert_eq!(Sn(a).plus(n).distance_from(Sn(a)), n);
    }
}
