use super::*;
use t3_hw::initiator::probe::{UnmapLimits, WriteSameLimits};

fn tgtd_like() -> LunInfo {
    LunInfo {
        vendor: "IET".into(),
        product: "VIRTUAL-DISK".into(),
        revision: "0001".into(),
        serial: None,
        device_id: None,
        logical_block_size: 512,
        physical_block_size: 512,
        blocks: 131_072,
        max_transfer_bytes: None,
        optimal_transfer_bytes: None,
        unmap: None,
        write_same: None,
        thin_provisioned: false,
        unmapped_reads_zero: false,
        write_cache: true,
        fua: false,
        read_only: false,
        rotational: None,
    }
}

/// A LUN with every limit and capability set.
fn full_featured() -> LunInfo {
    LunInfo {
        logical_block_size: 4096,
        physical_block_size: 4096,
        blocks: 1 << 20,
        max_transfer_bytes: Some(1 << 20),
        optimal_transfer_bytes: Some(64 << 10),
        unmap: Some(UnmapLimits {
            max_blocks: 8192,
            max_descriptors: 1,
            granularity: 2,
            alignment: Some(1),
        }),
        write_same: Some(WriteSameLimits {
            max_blocks: 0,
            unmap: true,
            ndob: true,
        }),
        fua: true,
        rotational: Some(true),
        read_only: true,
        ..tgtd_like()
    }
}

#[test]
fn plain_lun() {
    // tgtd negotiates MaxBurstLength 256 KiB and reports no transfer limit: the buffer is
    // the only limit.
    let params = derive(&tgtd_like(), 1 << 20).unwrap();
    assert_eq!(params.max_io_bytes, 1 << 20);
    assert_eq!(params.capacity_bytes, 64 << 20);
    assert!(params.volatile_cache && !params.fua);
    let ublk = params.to_ublk();
    assert_eq!(ublk.types, sys::UBLK_PARAM_TYPE_BASIC);
    assert_eq!(ublk.basic.attrs, sys::UBLK_ATTR_VOLATILE_CACHE);
    assert_eq!(ublk.basic.logical_bs_shift, 9);
    assert_eq!(ublk.basic.physical_bs_shift, 9);
    assert_eq!(ublk.basic.io_min_shift, 9);
    assert_eq!(ublk.basic.io_opt_shift, 9);
    assert_eq!(ublk.basic.max_sectors, 2048);
    assert_eq!(ublk.basic.dev_sectors, 131_072);
    assert_eq!(ublk.len, 112);
}

#[test]
fn thin_4k_lun_with_everything() {
    let lun = full_featured();
    let params = derive(&lun, 512 << 10).unwrap();
    assert_eq!(
        params.max_io_bytes,
        512 << 10,
        "the buffer is the smallest limit"
    );
    assert!(params.caps.unmap);
    assert_eq!(
        params.caps.write_same,
        Some(WriteSameSupport {
            unmap: true,
            ndob: true
        }),
        "NDOB as the probe found it"
    );
    let ublk = params.to_ublk();
    assert_eq!(
        ublk.basic.attrs,
        sys::UBLK_ATTR_READ_ONLY
            | sys::UBLK_ATTR_ROTATIONAL
            | sys::UBLK_ATTR_VOLATILE_CACHE
            | sys::UBLK_ATTR_FUA
    );
    assert_eq!(ublk.basic.logical_bs_shift, 12);
    assert_eq!(ublk.basic.io_opt_shift, 16);
    assert_eq!(ublk.basic.max_sectors, 1024);
    assert_eq!(ublk.basic.dev_sectors, 8 << 20);
    assert_eq!(
        ublk.types,
        sys::UBLK_PARAM_TYPE_BASIC | sys::UBLK_PARAM_TYPE_DISCARD
    );
    assert_eq!(ublk.discard.discard_granularity, 8192);
    assert_eq!(ublk.discard.discard_alignment, 4096);
    assert_eq!(ublk.discard.max_discard_sectors, 8192 * 8);
    assert_eq!(ublk.discard.max_discard_segments, 1);
    // No WRITE SAME limit: u32::MAX blocks, capped to whole blocks within u32 sectors.
    assert_eq!(ublk.discard.max_write_zeroes_sectors, u32::MAX / 8 * 8);
}

#[test]
fn a_device_s_own_parameters_read_back_for_a_recovery_without_the_lun() {
    for lun in [tgtd_like(), full_featured()] {
        let params = derive(&lun, 512 << 10).unwrap();
        let read_back = DeviceParams::from_ublk(&params.to_ublk());
        let expected = DeviceParams {
            caps: Capabilities {
                unmap: params.caps.unmap,
                // Plain WRITE SAME: correct whatever the LUN's UNMAP and NDOB support.
                write_same: params.caps.write_same.map(|_| WriteSameSupport::default()),
            },
            ..params.clone()
        };
        assert_eq!(read_back, expected);
        assert_eq!(
            serde_json::to_value(read_back.to_ublk()).unwrap(),
            serde_json::to_value(params.to_ublk()).unwrap()
        );
    }
}

#[test]
fn write_zeroes_only_keeps_discard_off() {
    let lun = LunInfo {
        write_same: Some(WriteSameLimits {
            max_blocks: 2048,
            unmap: false,
            ndob: false,
        }),
        ..tgtd_like()
    };
    let ublk = derive(&lun, 512 << 10).unwrap().to_ublk();
    assert_ne!(ublk.types & sys::UBLK_PARAM_TYPE_DISCARD, 0);
    assert_eq!(ublk.discard.max_discard_sectors, 0);
    assert_eq!(ublk.discard.discard_granularity, 512);
    assert_eq!(ublk.discard.max_write_zeroes_sectors, 2048);
    assert_eq!(
        derive(&lun, 512 << 10).unwrap().caps.write_same,
        Some(WriteSameSupport {
            unmap: false,
            ndob: false
        }),
        "no NDOB: the zero block is sent"
    );
}

#[test]
fn fua_needs_a_write_cache() {
    let lun = LunInfo {
        write_cache: false,
        fua: true,
        ..tgtd_like()
    };
    let params = derive(&lun, 512 << 10).unwrap();
    assert!(!params.fua && !params.volatile_cache);
    assert_eq!(params.to_ublk().basic.attrs, 0);
}

#[test]
fn limits_round_down_to_blocks() {
    let lun = LunInfo {
        logical_block_size: 4096,
        physical_block_size: 4096,
        max_transfer_bytes: Some(65_536 + 1000),
        ..tgtd_like()
    };
    let params = derive(&lun, 512 << 10).unwrap();
    assert_eq!(
        params.max_io_bytes, 65_536,
        "the LUN's limit, in whole blocks"
    );
    let params = derive(&tgtd_like(), (64 << 10) + 4096).unwrap();
    assert_eq!(params.max_io_bytes, (64 << 10) + 4096, "the buffer's limit");
}

#[test]
fn refusals() {
    let big_blocks = LunInfo {
        logical_block_size: 8192,
        physical_block_size: 8192,
        ..tgtd_like()
    };
    assert_eq!(
        derive(&big_blocks, 512 << 10),
        Err(ParamsError::BlockSize(8192))
    );
    let odd = LunInfo {
        logical_block_size: 520,
        ..tgtd_like()
    };
    assert_eq!(derive(&odd, 512 << 10), Err(ParamsError::BlockSize(520)));
    let tiny_transfer = LunInfo {
        max_transfer_bytes: Some(2048),
        ..tgtd_like()
    };
    assert_eq!(
        derive(&tiny_transfer, 512 << 10),
        Err(ParamsError::TransferBelowPage(2048))
    );
    let empty = LunInfo {
        blocks: 0,
        ..tgtd_like()
    };
    assert_eq!(derive(&empty, 512 << 10), Err(ParamsError::Empty));
    let physical_small = LunInfo {
        logical_block_size: 4096,
        physical_block_size: 512,
        ..tgtd_like()
    };
    assert!(matches!(
        derive(&physical_small, 512 << 10),
        Err(ParamsError::PhysicalBelowLogical { .. })
    ));
}
