//! Unit checks of the glue; the connection itself is exercised against tgtd in t3-hw/tests.
use super::*;

#[test]
fn housekeeping_tags_stay_clear_of_tasks_and_the_reserved_tag() {
    assert!(HOUSEKEEPING_SW_BASE > u32::from(u16::MAX));
    assert!(HOUSEKEEPING_SW_BASE | 0xffff < 1 << 31);
}
