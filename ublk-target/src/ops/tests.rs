#[test]
fn commands_are_described_with_their_lba() {
    let mut cdb = vec![0u8; 16];
    cdb[0] = scsi::opcode::READ_16;
    cdb[2..10].copy_from_slice(&2048u64.to_be_bytes());
    cdb[10..14].copy_from_slice(&8u32.to_be_bytes());
    assert_eq!(describe_cdb(&cdb), "READ(16) lba 2048 blocks 8");
    cdb[0] = scsi::opcode::WRITE_16;
    assert_eq!(describe_cdb(&cdb), "WRITE(16) lba 2048 blocks 8");
    assert_eq!(describe_cdb(&[scsi::opcode::UNMAP, 0, 0]), "UNMAP");
    assert_eq!(describe_cdb(&[0xc1]), "opcode 0xc1");
    assert_eq!(describe_cdb(&[]), "empty CDB");
    // A short CDB names its command without inventing an LBA.
    assert_eq!(describe_cdb(&[scsi::opcode::READ_16, 0]), "READ(16)");
}

use super::*;

const GEO_512: Geometry = Geometry {
    block_size: 512,
    io_buf_bytes: 512 << 10,
};
const GEO_4K: Geometry = Geometry {
    block_size: 4096,
    io_buf_bytes: 512 << 10,
};
const ALL: Capabilities = Capabilities {
    unmap: true,
    write_same: Some(WriteSameSupport {
        unmap: true,
        ndob: false,
    }),
};

fn req(op: u32, flags: u32, start_sector: u64, nr_sectors: u32) -> BlockRequest {
    BlockRequest {
        op,
        flags,
        start_sector,
        nr_sectors,
    }
}

#[test]
fn iod_split_matches_ublk_cmd_h() {
    let iod = sys::ublksrv_io_desc {
        op_flags: sys::UBLK_IO_OP_WRITE | sys::UBLK_IO_F_FUA,
        nr_sectors: 8,
        start_sector: 16,
        addr: 0,
    };
    assert_eq!(
        BlockRequest::from_iod(&iod),
        req(1, sys::UBLK_IO_F_FUA, 16, 8)
    );
}

#[test]
fn read_512_byte_blocks() {
    let plan = plan(
        &req(sys::UBLK_IO_OP_READ, 0, 0x0102_0304, 16),
        &GEO_512,
        &ALL,
    )
    .unwrap();
    assert_eq!(
        plan.cdb,
        [0x88, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 16, 0, 0]
    );
    assert_eq!(plan.direction, Direction::Read);
    assert_eq!(plan.data_len, 8192);
    assert_eq!(plan.buffer, PlanBuffer::Tag);
    assert_eq!(plan.kind, PlanKind::Read);
}

#[test]
fn write_4k_blocks_with_fua() {
    let plan = plan(
        &req(sys::UBLK_IO_OP_WRITE, sys::UBLK_IO_F_FUA, 64, 16),
        &GEO_4K,
        &ALL,
    )
    .unwrap();
    assert_eq!(
        plan.cdb,
        [0x8a, 0x08, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0]
    );
    assert_eq!(plan.direction, Direction::Write);
    assert_eq!(plan.data_len, 8192);
}

#[test]
fn flush_is_synchronize_cache_of_everything() {
    let plan = plan(&req(sys::UBLK_IO_OP_FLUSH, 0, 0, 0), &GEO_512, &ALL).unwrap();
    assert_eq!(
        plan.cdb,
        [0x91, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(plan.direction, Direction::None);
    assert_eq!(plan.data_len, 0);
    assert_eq!(plan.buffer, PlanBuffer::None);
}

#[test]
fn discard_is_unmap_with_one_descriptor() {
    let plan = plan(&req(sys::UBLK_IO_OP_DISCARD, 0, 80, 2048), &GEO_4K, &ALL).unwrap();
    assert_eq!(plan.cdb, [0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0]);
    assert_eq!(plan.direction, Direction::Write);
    assert_eq!(plan.data_len, 24);
    #[rustfmt::skip]
    let list = vec![
        0, 22, 0, 16, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1, 0, 0, 0, 0, 0,
    ];
    assert_eq!(plan.buffer, PlanBuffer::Aux(AuxData::UnmapList(list)));
}

#[test]
fn write_zeroes_sends_a_zero_block_and_honours_nounmap() {
    let plan = plan(&req(sys::UBLK_IO_OP_WRITE_ZEROES, 0, 8, 8), &GEO_512, &ALL).unwrap();
    assert_eq!(
        plan.cdb,
        [0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 8, 0, 0]
    );
    assert_eq!(plan.direction, Direction::Write);
    assert_eq!(plan.data_len, 512);
    assert_eq!(plan.buffer, PlanBuffer::Aux(AuxData::Zeros(512)));

    let keep = plan_ok(req(
        sys::UBLK_IO_OP_WRITE_ZEROES,
        sys::UBLK_IO_F_NOUNMAP,
        8,
        8,
    ));
    assert_eq!(keep.cdb[1], 0, "NOUNMAP clears the UNMAP bit");
}

fn plan_ok(request: BlockRequest) -> ScsiPlan {
    plan(&request, &GEO_512, &ALL).unwrap()
}

#[test]
fn write_zeroes_with_ndob_has_no_data() {
    let caps = Capabilities {
        unmap: false,
        write_same: Some(WriteSameSupport {
            unmap: false,
            ndob: true,
        }),
    };
    let plan = plan(&req(sys::UBLK_IO_OP_WRITE_ZEROES, 0, 8, 8), &GEO_512, &caps).unwrap();
    assert_eq!(plan.cdb[1], 0x01, "NDOB set, UNMAP clear without LBPWS");
    assert_eq!(plan.direction, Direction::None);
    assert_eq!(plan.buffer, PlanBuffer::None);
}

#[test]
fn refusals_and_their_errnos() {
    let none = Capabilities::default();
    let cases = [
        (req(sys::UBLK_IO_OP_DISCARD, 0, 0, 8), GEO_512, none, -95),
        (
            req(sys::UBLK_IO_OP_WRITE_ZEROES, 0, 0, 8),
            GEO_512,
            none,
            -95,
        ),
        (req(sys::UBLK_IO_OP_WRITE_SAME, 0, 0, 8), GEO_512, ALL, -95),
        (req(sys::UBLK_IO_OP_ZONE_APPEND, 0, 0, 8), GEO_512, ALL, -95),
        (req(200, 0, 0, 8), GEO_512, ALL, -95),
        (req(sys::UBLK_IO_OP_READ, 0, 4, 8), GEO_4K, ALL, -22),
        (req(sys::UBLK_IO_OP_WRITE, 0, 8, 4), GEO_4K, ALL, -22),
        (req(sys::UBLK_IO_OP_READ, 0, 0, 0), GEO_512, ALL, -22),
        (req(sys::UBLK_IO_OP_DISCARD, 0, 0, 0), GEO_512, ALL, -22),
        (req(sys::UBLK_IO_OP_READ, 0, 0, 1025), GEO_512, ALL, -22),
    ];
    for (request, geometry, caps, errno) in cases {
        let error = plan(&request, &geometry, &caps).unwrap_err();
        assert_eq!(error.errno(), errno, "{request:?}: {error}");
    }
    // Exactly the buffer size is fine.
    assert!(plan(&req(sys::UBLK_IO_OP_READ, 0, 0, 1024), &GEO_512, &ALL).is_ok());
}

#[test]
fn aux_data_fills_only_what_fits() {
    let mut buffer = [0xffu8; 8];
    assert_eq!(AuxData::Zeros(4).fill(&mut buffer), Some(()));
    assert_eq!(buffer, [0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(
        AuxData::UnmapList(vec![1, 2, 3]).fill(&mut buffer),
        Some(())
    );
    assert_eq!(&buffer[..4], &[1, 2, 3, 0]);
    assert_eq!(AuxData::Zeros(9).fill(&mut buffer), None);
}
