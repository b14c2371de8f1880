use super::*;

#[test]
fn fixed_keeps_its_length() {
    let bytes = [0x28, 0, 1, 2, 3, 4, 0, 0, 8, 0];
    assert_eq!(Cdb::fixed(bytes).as_bytes(), &bytes);
    assert_eq!(Cdb::fixed(bytes).opcode(), 0x28);
    assert_eq!(format!("{:?}", Cdb::fixed([0x12, 1])), "Cdb(12 01)");
}
