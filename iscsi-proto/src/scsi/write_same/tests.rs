use super::*;
use crate::scsi::DataDirection;

fn params(unmap: bool, ndob: bool) -> WriteSame {
    WriteSame {
        lba: 0x0102_0304_0506_0708,
        blocks: 0x0A0B_0C0D,
        block_size: 512,
        unmap,
        ndob,
    }
}

#[test]
fn unmap_with_pattern_block() {
    let request = write_same16(params(true, false)).unwrap();
    assert_eq!(
        request.cdb.as_bytes(),
        &[0x93, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x0A, 0x0B, 0x0C, 0x0D, 0, 0]
    );
    assert_eq!(request.direction, DataDirection::Write);
    assert_eq!(request.transfer_len, 512);
}

#[test]
fn unmap_without_data_out() {
    let request = write_same16(params(true, true)).unwrap();
    assert_eq!(request.cdb.as_bytes()[1], 0x09);
    assert_eq!(request.direction, DataDirection::None);
    assert_eq!(request.transfer_len, 0);
}

#[test]
fn plain_write_zeroes_without_data_out() {
    let request = write_same16(params(false, true)).unwrap();
    assert_eq!(request.cdb.as_bytes()[1], 0x01);
    assert_eq!(request.direction, DataDirection::None);
}

#[test]
fn zero_blocks_and_zero_block_size_are_rejected() {
    let mut whole_disk = params(true, true);
    whole_disk.blocks = 0;
    assert!(matches!(
        write_same16(whole_disk),
        Err(BuildError::FieldTooSmall {
            field: "NUMBER OF LOGICAL BLOCKS",
            ..
        })
    ));
    let mut no_block = params(false, false);
    no_block.block_size = 0;
    assert!(matches!(
        write_same16(no_block),
        Err(BuildError::FieldTooSmall {
            field: "block size",
            ..
        })
    ));
    no_block.ndob = true;
    assert!(write_same16(no_block).is_ok());
}
