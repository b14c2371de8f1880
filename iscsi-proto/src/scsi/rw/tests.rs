use super::*;
use crate::scsi::DataDirection;
use proptest::prelude::*;

fn io(lba: u64, blocks: u32, fua: bool) -> BlockIo {
    BlockIo {
        lba,
        blocks,
        block_size: 512,
        fua,
    }
}

#[test]
fn read16_bytes() {
    let request = read16(io(0x0102_0304_0506_0708, 0x090A_0B0C / 512, false)).unwrap();
    assert_eq!(
        request.cdb.as_bytes(),
        &[0x88, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x04, 0x85, 0x05, 0x00, 0x00]
    );
    assert_eq!(request.transfer_len, (0x090A_0B0C / 512) * 512);
}

#[test]
fn write16_with_fua_bytes() {
    let request = write16(BlockIo {
        lba: 0x10,
        blocks: 8,
        block_size: 4096,
        fua: true,
    })
    .unwrap();
    assert_eq!(
        request.cdb.as_bytes(),
        &[0x8A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 8, 0x00, 0x00]
    );
    assert_eq!(request.direction, DataDirection::Write);
    assert_eq!(request.transfer_len, 32768);
}

#[test]
fn transfer_length_overflow_and_zero_block_size_are_rejected() {
    let too_long = BlockIo {
        lba: 0,
        blocks: 1 << 23,
        block_size: 512,
        fua: false,
    };
    assert_eq!(
        read16(too_long),
        Err(BuildError::TransferTooLong {
            command: "READ(16)",
            blocks: 1 << 23,
            block_size: 512
        })
    );
    let zero = BlockIo {
        lba: 0,
        blocks: 1,
        block_size: 0,
        fua: false,
    };
    assert!(matches!(
        write16(zero),
        Err(BuildError::FieldTooSmall {
            field: "block size",
            ..
        })
    ));
}

proptest! {
    #[test]
    fn rw16_fields_land_in_place(lba: u64, blocks in 0u32..=(1 << 23) - 1, fua: bool, is_write: bool) {
        let io = BlockIo { lba, blocks, block_size: 512, fua };
        let request = if is_write { write16(io) } else { read16(io) }.unwrap();
        let cdb = request.cdb.as_bytes();
        prop_assert_eq!(cdb.len(), 16);
        prop_assert_eq!(cdb[0], if is_write { 0x8A } else { 0x88 });
        prop_assert_eq!(cdb[1] & FUA_BIT != 0, fua);
        prop_assert_eq!(&cdb[2..10], &lba.to_be_bytes()[..]);
        prop_assert_eq!(&cdb[10..14], &blocks.to_be_bytes()[..]);
        prop_assert_eq!(request.transfer_len, blocks * 512);
    }
}
