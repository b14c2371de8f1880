use super::*;

#[test]
fn table_is_strictly_sorted_for_binary_search() {
    for pair in TABLE.windows(2) {
        assert!(
            (pair[0].0, pair[0].1) < (pair[1].0, pair[1].1),
            "{pair:?} out of order"
        );
    }
}

#[test]
fn lookups() {
    assert_eq!(
        additional_sense_text(0x04, 0x01),
        Some("logical unit is in process of becoming ready")
    );
    assert_eq!(
        additional_sense_text(0x3A, 0x00),
        Some("medium not present")
    );
    assert_eq!(
        additional_sense_text(0x27, 0x07),
        Some("space allocation failed")
    );
    assert_eq!(
        additional_sense_text(0x00, 0x00),
        Some("no additional sense information")
    );
    assert_eq!(
        additional_sense_text(0x5E, 0x00),
        Some("low power condition on")
    );
    assert_eq!(additional_sense_text(0x29, 0x08), None);
    assert_eq!(additional_sense_text(0xFF, 0xFF), None);
}
