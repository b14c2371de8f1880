//! ublk device parameters derived from what the LUN reported (t3-hw's probe) and the size of
//! the request buffers.
//!
//! - Block sizes and capacity from READ CAPACITY; the logical block size must be 512..=4096
//!   (ublk_drv refuses a logical block larger than a page).
//! - `max_sectors`: the smaller of the tag buffer (`--max_io_buf_bytes`) and the LUN's MAXIMUM
//!   TRANSFER LENGTH (VPD B0), rounded down to whole blocks. The session's MaxBurstLength is no
//!   limit: it bounds one R2T's Data-Out sequence and one Data-In sequence, and a longer
//!   command simply takes several. Kernel 7.3.4 rejects less than one page, so that is an
//!   error here rather than there.
//! - Discard only when the LUN supports UNMAP (one descriptor per request, so one segment);
//!   write-zeroes only when it supports WRITE SAME(16), without a data block when the target
//!   evaluates its NDOB bit.
//! - Volatile cache and FUA from the caching mode page (FUA only with a cache, as the block
//!   layer wants), read-only from WP, rotational from VPD B1.

use libublk::sys;
use t3_hw::initiator::probe::LunInfo;
use thiserror::Error;

use crate::ops::{Capabilities, Geometry, WriteSameSupport};

const SECTOR_SIZE: u64 = 512;
const PAGE_SIZE: u32 = 4096;
const MIN_BLOCK_SIZE: u32 = 512;

/// Why a LUN cannot back a ublk device.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum ParamsError {
    #[error("the LUN's logical block size is {0} bytes; ublk supports 512 to 4096")]
    BlockSize(u32),
    #[error("the LUN's physical block size {physical} is below its logical block size {logical}")]
    PhysicalBelowLogical { physical: u32, logical: u32 },
    #[error("the LUN has no blocks")]
    Empty,
    #[error(
        "largest transfer is {0} bytes (LUN limit or --max_io_buf_bytes); \
         ublk needs at least one page"
    )]
    TransferBelowPage(u64),
}

/// Discard limits in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiscardLimits {
    pub granularity: u32,
    pub alignment: u32,
    pub max_sectors: u32,
}

/// Everything the device is told about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceParams {
    pub logical_block_size: u32,
    pub physical_block_size: u32,
    /// Optimal I/O size in bytes (a power of two).
    pub io_opt: u32,
    pub capacity_bytes: u64,
    /// Largest READ / WRITE in bytes.
    pub max_io_bytes: u32,
    pub read_only: bool,
    pub rotational: bool,
    pub volatile_cache: bool,
    pub fua: bool,
    pub discard: Option<DiscardLimits>,
    /// Largest WRITE_ZEROES in 512-byte sectors, when WRITE SAME is supported.
    pub write_zeroes_max_sectors: Option<u32>,
    pub caps: Capabilities,
}

/// Derives the parameters; `io_buf_bytes` is the size of each tag's buffer.
pub(crate) fn derive(lun: &LunInfo, io_buf_bytes: u32) -> Result<DeviceParams, ParamsError> {
    let logical = lun.logical_block_size;
    if !(MIN_BLOCK_SIZE..=PAGE_SIZE).contains(&logical) || !logical.is_power_of_two() {
        return Err(ParamsError::BlockSize(logical));
    }
    let physical = lun.physical_block_size;
    if physical < logical || !physical.is_power_of_two() {
        return Err(ParamsError::PhysicalBelowLogical { physical, logical });
    }
    if lun.blocks == 0 {
        return Err(ParamsError::Empty);
    }
    let lbs = u64::from(logical);
    let largest = lun
        .max_transfer_bytes
        .map_or(u64::from(io_buf_bytes), |lun_limit| {
            lun_limit.min(u64::from(io_buf_bytes))
        });
    let max_io = largest / lbs * lbs;
    if max_io < u64::from(PAGE_SIZE) {
        return Err(ParamsError::TransferBelowPage(max_io));
    }
    // max_io <= io_buf_bytes, a u32.
    let max_io_bytes = max_io as u32;
    let io_opt = lun
        .optimal_transfer_bytes
        .filter(|bytes| bytes.is_power_of_two() && *bytes >= u64::from(physical))
        .filter(|bytes| *bytes <= max_io)
        .map_or(physical, |bytes| bytes as u32);

    let blocks_to_sectors = |blocks: u64| -> u32 {
        // At most u32::MAX sectors, in whole blocks.
        let sectors = blocks.saturating_mul(lbs / SECTOR_SIZE);
        let cap = u64::from(u32::MAX) / (lbs / SECTOR_SIZE) * (lbs / SECTOR_SIZE);
        sectors.min(cap) as u32
    };
    // One UNMAP descriptor or WRITE SAME(16) counts at most u32::MAX blocks; 0 = no limit.
    let limit_blocks = |max: u64| if max == 0 { u64::from(u32::MAX) } else { max };
    let discard = lun.unmap.map(|unmap| {
        let granularity = (u64::from(unmap.granularity.max(1)) * lbs)
            .max(u64::from(physical))
            .min(u64::from(u32::MAX)) as u32;
        let alignment = unmap
            .alignment
            .map_or(0, |blocks| u64::from(blocks) * lbs % u64::from(granularity))
            as u32;
        DiscardLimits {
            granularity,
            alignment,
            max_sectors: blocks_to_sectors(limit_blocks(u64::from(unmap.max_blocks))),
        }
    });
    let write_zeroes_max_sectors = lun
        .write_same
        .map(|ws| blocks_to_sectors(limit_blocks(ws.max_blocks).min(u64::from(u32::MAX))));
    let caps = Capabilities {
        unmap: discard.is_some(),
        write_same: lun.write_same.map(|ws| WriteSameSupport {
            unmap: ws.unmap,
            // Only when REPORT SUPPORTED OPERATION CODES says the target evaluates NDOB: one
            // that ignored it would write whatever follows. Otherwise a zero block is sent.
            ndob: ws.ndob,
        }),
    };
    Ok(DeviceParams {
        logical_block_size: logical,
        physical_block_size: physical,
        io_opt,
        capacity_bytes: lun.capacity_bytes(),
        max_io_bytes,
        read_only: lun.read_only,
        rotational: lun.rotational.unwrap_or(false),
        volatile_cache: lun.write_cache,
        fua: lun.write_cache && lun.fua,
        discard,
        write_zeroes_max_sectors,
        caps,
    })
}

impl DeviceParams {
    /// The geometry the queues plan requests with.
    pub(crate) fn geometry(&self) -> Geometry {
        Geometry {
            block_size: self.logical_block_size,
            io_buf_bytes: self.max_io_bytes,
        }
    }

    /// The parameters a device already has, for a recovery that cannot ask the LUN (its
    /// target is unreachable): what [`to_ublk`](Self::to_ublk) wrote. WRITE SAME is then
    /// used without the UNMAP and NDOB bits, which stay correct whatever the LUN supports;
    /// a later login's LU check still compares identity and capacity.
    pub(crate) fn from_ublk(params: &sys::ublk_params) -> DeviceParams {
        let basic = &params.basic;
        let attr = |flag: u32| basic.attrs & flag != 0;
        let has_discard_params = params.types & sys::UBLK_PARAM_TYPE_DISCARD != 0;
        let discard = (has_discard_params && params.discard.max_discard_sectors > 0).then_some(
            DiscardLimits {
                granularity: params.discard.discard_granularity,
                alignment: params.discard.discard_alignment,
                max_sectors: params.discard.max_discard_sectors,
            },
        );
        let write_zeroes_max_sectors = (has_discard_params
            && params.discard.max_write_zeroes_sectors > 0)
            .then_some(params.discard.max_write_zeroes_sectors);
        let bytes = |shift: u8| 1u32.checked_shl(u32::from(shift)).unwrap_or(0);
        DeviceParams {
            logical_block_size: bytes(basic.logical_bs_shift),
            physical_block_size: bytes(basic.physical_bs_shift),
            io_opt: bytes(basic.io_opt_shift),
            capacity_bytes: basic.dev_sectors.saturating_mul(SECTOR_SIZE),
            max_io_bytes: basic.max_sectors.saturating_mul(SECTOR_SIZE as u32),
            read_only: attr(sys::UBLK_ATTR_READ_ONLY),
            rotational: attr(sys::UBLK_ATTR_ROTATIONAL),
            volatile_cache: attr(sys::UBLK_ATTR_VOLATILE_CACHE),
            fua: attr(sys::UBLK_ATTR_FUA),
            discard,
            write_zeroes_max_sectors,
            caps: Capabilities {
                unmap: discard.is_some(),
                write_same: write_zeroes_max_sectors.map(|_| WriteSameSupport::default()),
            },
        }
    }

    /// The parameters in ublk_drv's layout.
    pub(crate) fn to_ublk(&self) -> sys::ublk_params {
        let shift = |bytes: u32| bytes.trailing_zeros() as u8;
        let mut attrs = 0;
        for (set, attr) in [
            (self.read_only, sys::UBLK_ATTR_READ_ONLY),
            (self.rotational, sys::UBLK_ATTR_ROTATIONAL),
            (self.volatile_cache, sys::UBLK_ATTR_VOLATILE_CACHE),
            (self.fua, sys::UBLK_ATTR_FUA),
        ] {
            if set {
                attrs |= attr;
            }
        }
        let mut params = sys::ublk_params {
            len: std::mem::size_of::<sys::ublk_params>() as u32,
            types: sys::UBLK_PARAM_TYPE_BASIC,
            basic: sys::ublk_param_basic {
                attrs,
                logical_bs_shift: shift(self.logical_block_size),
                physical_bs_shift: shift(self.physical_block_size),
                io_opt_shift: shift(self.io_opt),
                io_min_shift: shift(self.physical_block_size),
                max_sectors: self.max_io_bytes >> 9,
                chunk_sectors: 0,
                dev_sectors: self.capacity_bytes / SECTOR_SIZE,
                virt_boundary_mask: 0,
            },
            ..Default::default()
        };
        if self.discard.is_some() || self.write_zeroes_max_sectors.is_some() {
            params.types |= sys::UBLK_PARAM_TYPE_DISCARD;
            let discard = self.discard.unwrap_or(DiscardLimits {
                // ublk_drv wants a granularity even when only write-zeroes is on.
                granularity: self.logical_block_size,
                alignment: 0,
                max_sectors: 0,
            });
            params.discard = sys::ublk_param_discard {
                discard_alignment: discard.alignment,
                discard_granularity: discard.granularity,
                max_discard_sectors: discard.max_sectors,
                max_write_zeroes_sectors: self.write_zeroes_max_sectors.unwrap_or(0),
                max_discard_segments: 1,
                reserved0: 0,
            };
        }
        params
    }
}

#[cfg(test)]
mod tests;
