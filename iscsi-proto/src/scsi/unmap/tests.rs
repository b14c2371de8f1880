use super::*;
use crate::scsi::DataDirection;

#[test]
fn two_descriptors_byte_exact() {
    let command = unmap(&[
        UnmapDescriptor {
            lba: 0x0102_0304_0506_0708,
            blocks: 0x0A0B_0C0D,
        },
        UnmapDescriptor {
            lba: 0x800,
            blocks: 0x100,
        },
    ])
    .unwrap();
    assert_eq!(
        command.request.cdb.as_bytes(),
        &[0x42, 0, 0, 0, 0, 0, 0, 0x00, 0x28, 0]
    );
    assert_eq!(command.request.direction, DataDirection::Write);
    assert_eq!(command.request.transfer_len, 40);
    #[rustfmt::skip]
    let expected = [
        0x00, 0x26, 0x00, 0x20, 0, 0, 0, 0,
        1, 2, 3, 4, 5, 6, 7, 8, 0x0A, 0x0B, 0x0C, 0x0D, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0x01, 0x00, 0, 0, 0, 0,
    ];
    assert_eq!(command.parameter_list, expected);
}

#[test]
fn largest_list_fits_the_16_bit_length() {
    let descriptors = vec![UnmapDescriptor { lba: 0, blocks: 1 }; MAX_UNMAP_DESCRIPTORS];
    let command = unmap(&descriptors).unwrap();
    let len = 8 + 16 * MAX_UNMAP_DESCRIPTORS;
    assert_eq!(command.parameter_list.len(), len);
    assert_eq!(
        &command.request.cdb.as_bytes()[7..9],
        &(len as u16).to_be_bytes()
    );
    assert_eq!(
        &command.parameter_list[0..2],
        &((len - 2) as u16).to_be_bytes()
    );
    assert_eq!(
        &command.parameter_list[2..4],
        &((len - 8) as u16).to_be_bytes()
    );
}

#[test]
fn empty_and_oversized_lists_are_rejected() {
    assert!(matches!(
        unmap(&[]),
        Err(BuildError::FieldTooSmall {
            value: 0,
            min: 1,
            ..
        })
    ));
    let descriptors = vec![UnmapDescriptor { lba: 0, blocks: 1 }; MAX_UNMAP_DESCRIPTORS + 1];
    assert!(matches!(
        unmap(&descriptors),
        Err(BuildError::FieldTooLarge {
            field: "number of block descriptors",
            ..
        })
    ));
}
