//! Block requests to SCSI commands: what each ublk operation becomes on the wire.
//!
//! | ublk op      | SCSI command                                                          |
//! |--------------|-----------------------------------------------------------------------|
//! | READ         | READ(16), FUA from the request                                         |
//! | WRITE        | WRITE(16), FUA from the request                                        |
//! | FLUSH        | SYNCHRONIZE CACHE(16) of the whole LU, IMMED clear                    |
//! | DISCARD      | UNMAP with one block descriptor (parameter list in the aux buffer)     |
//! | WRITE_ZEROES | WRITE SAME(16); NDOB when the LUN supports it, else one zero block in  |
//! |              | the aux buffer; UNMAP bit unless the request says NOUNMAP              |
//!
//! Everything else is refused with EOPNOTSUPP. Sector numbers from the kernel are 512-byte
//! units whatever the LUN's block size; a request that does not fall on block boundaries, or
//! that is longer than the tag's buffer, is refused with EINVAL rather than trusted.

use iscsi_proto::scsi::{
    self, BlockIo, BuildError, DataDirection, ScsiRequest, UnmapDescriptor, WriteSame,
};
use iscsi_proto::session::Direction;
use libublk::sys;
use thiserror::Error;

const SECTOR_SHIFT: u32 = 9;
const EINVAL: i32 = -22;
const EOPNOTSUPP: i32 = -95;

/// A block request as the kernel describes it in `ublksrv_io_desc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockRequest {
    /// `UBLK_IO_OP_*`.
    pub op: u32,
    /// `UBLK_IO_F_*` bits (they are defined on the whole `op_flags` word).
    pub flags: u32,
    pub start_sector: u64,
    pub nr_sectors: u32,
}

impl BlockRequest {
    /// Splits `op_flags` the way ublk_cmd.h does: the op in the low byte, flags above.
    pub(crate) fn from_iod(iod: &sys::ublksrv_io_desc) -> BlockRequest {
        BlockRequest {
            op: iod.op_flags & 0xff,
            flags: iod.op_flags & !0xff,
            start_sector: iod.start_sector,
            nr_sectors: iod.nr_sectors,
        }
    }

    fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

/// The LUN's shape, as the queue knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// Logical block size in bytes: a power of two from 512 to 4096.
    pub block_size: u32,
    /// Bytes of each tag's I/O buffer: the most one READ or WRITE may move.
    pub io_buf_bytes: u32,
}

impl Geometry {
    fn block_shift(&self) -> u32 {
        self.block_size.trailing_zeros()
    }
}

/// What the LUN can do beyond READ and WRITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Capabilities {
    /// UNMAP is supported: DISCARD is served.
    pub unmap: bool,
    /// WRITE SAME(16) is supported: WRITE_ZEROES is served.
    pub write_same: Option<WriteSameSupport>,
}

/// How WRITE SAME(16) may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WriteSameSupport {
    /// The UNMAP bit deallocates (LBPWS).
    pub unmap: bool,
    /// NDOB (no data-out buffer) is supported.
    pub ndob: bool,
}

/// What the operation is, for judging its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlanKind {
    Read,
    Write,
    Flush,
    Discard,
    WriteZeroes,
}

/// Which memory the command's data moves through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PlanBuffer {
    /// No data phase.
    None,
    /// The ublk tag's own buffer (the request's pages).
    Tag,
    /// The tag's small auxiliary buffer, filled with these bytes before the command is sent.
    Aux(AuxData),
}

/// Contents of the auxiliary buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuxData {
    /// An UNMAP parameter list.
    UnmapList(Vec<u8>),
    /// `len` zero bytes: a WRITE SAME pattern block.
    Zeros(u32),
}

impl AuxData {
    pub(crate) fn len(&self) -> usize {
        match self {
            AuxData::UnmapList(bytes) => bytes.len(),
            AuxData::Zeros(len) => *len as usize,
        }
    }

    /// Writes the contents to the front of `buffer`; `None` if it does not fit.
    pub(crate) fn fill(&self, buffer: &mut [u8]) -> Option<()> {
        let target = buffer.get_mut(..self.len())?;
        match self {
            AuxData::UnmapList(bytes) => target.copy_from_slice(bytes),
            AuxData::Zeros(_) => target.fill(0),
        }
        Some(())
    }
}

/// A SCSI command ready to submit for one block request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScsiPlan {
    pub kind: PlanKind,
    pub cdb: Vec<u8>,
    pub direction: Direction,
    /// Expected data transfer length in bytes.
    pub data_len: u32,
    pub buffer: PlanBuffer,
}

impl ScsiPlan {
    /// The command for a log line a person reads: its name and, for commands that address
    /// blocks, the LBA and the number of blocks ("READ(16) lba 2048 blocks 8").
    pub(crate) fn describe(&self) -> String {
        describe_cdb(&self.cdb)
    }
}

/// A CDB's opcode name, with LBA and block count for the 16-byte block commands.
pub(crate) fn describe_cdb(cdb: &[u8]) -> String {
    use scsi::opcode;
    let Some(&code) = cdb.first() else {
        return "empty CDB".into();
    };
    let name = match code {
        opcode::READ_16 => "READ(16)",
        opcode::WRITE_16 => "WRITE(16)",
        opcode::SYNCHRONIZE_CACHE_16 => "SYNCHRONIZE CACHE(16)",
        opcode::WRITE_SAME_16 => "WRITE SAME(16)",
        opcode::UNMAP => "UNMAP",
        opcode::READ_10 => "READ(10)",
        opcode::WRITE_10 => "WRITE(10)",
        opcode::INQUIRY => "INQUIRY",
        opcode::TEST_UNIT_READY => "TEST UNIT READY",
        opcode::SERVICE_ACTION_IN_16 => "SERVICE ACTION IN(16)",
        other => return format!("opcode 0x{other:02x}"),
    };
    let lba = cdb.get(2..10).and_then(|b| <[u8; 8]>::try_from(b).ok());
    let blocks = cdb.get(10..14).and_then(|b| <[u8; 4]>::try_from(b).ok());
    match (code, lba, blocks) {
        (
            opcode::READ_16
            | opcode::WRITE_16
            | opcode::SYNCHRONIZE_CACHE_16
            | opcode::WRITE_SAME_16,
            Some(lba),
            Some(blocks),
        ) => format!(
            "{name} lba {} blocks {}",
            u64::from_be_bytes(lba),
            u32::from_be_bytes(blocks)
        ),
        _ => name.to_owned(),
    }
}

/// Why a block request cannot be served; the tag completes with [`errno`](Self::errno).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum PlanError {
    #[error("ublk op {op} is not supported")]
    Unsupported { op: u32 },
    #[error("ublk op {op}: this LUN does not support it")]
    NotSupportedByLun { op: u32 },
    #[error("sectors {start}+{count} do not fall on {block_size}-byte block boundaries")]
    Misaligned {
        start: u64,
        count: u32,
        block_size: u32,
    },
    #[error("a {op} request of zero sectors")]
    Empty { op: u32 },
    #[error("{bytes}-byte transfer exceeds the {limit}-byte I/O buffer")]
    TooLong { bytes: u64, limit: u32 },
    #[error("building the CDB: {0}")]
    Build(#[from] BuildError),
}

impl PlanError {
    /// The negative errno to commit the tag with.
    pub(crate) fn errno(&self) -> i32 {
        match self {
            PlanError::Unsupported { .. } | PlanError::NotSupportedByLun { .. } => EOPNOTSUPP,
            PlanError::Misaligned { .. }
            | PlanError::Empty { .. }
            | PlanError::TooLong { .. }
            | PlanError::Build(_) => EINVAL,
        }
    }
}

/// The SCSI command for `request`.
pub(crate) fn plan(
    request: &BlockRequest,
    geometry: &Geometry,
    caps: &Capabilities,
) -> Result<ScsiPlan, PlanError> {
    match request.op {
        sys::UBLK_IO_OP_READ => read_write(request, geometry, PlanKind::Read),
        sys::UBLK_IO_OP_WRITE => read_write(request, geometry, PlanKind::Write),
        sys::UBLK_IO_OP_FLUSH => Ok(from_request(
            PlanKind::Flush,
            scsi::synchronize_cache16(0, 0, false),
            PlanBuffer::None,
        )),
        sys::UBLK_IO_OP_DISCARD => discard(request, geometry, caps),
        sys::UBLK_IO_OP_WRITE_ZEROES => write_zeroes(request, geometry, caps),
        op => Err(PlanError::Unsupported { op }),
    }
}

/// LBA and block count of a request, checked for block alignment and a non-zero length.
fn blocks_of(request: &BlockRequest, geometry: &Geometry) -> Result<(u64, u32), PlanError> {
    if request.nr_sectors == 0 {
        return Err(PlanError::Empty { op: request.op });
    }
    let sectors_per_block_shift = geometry.block_shift() - SECTOR_SHIFT;
    let mask = (1u64 << sectors_per_block_shift) - 1;
    if request.start_sector & mask != 0 || u64::from(request.nr_sectors) & mask != 0 {
        return Err(PlanError::Misaligned {
            start: request.start_sector,
            count: request.nr_sectors,
            block_size: geometry.block_size,
        });
    }
    Ok((
        request.start_sector >> sectors_per_block_shift,
        request.nr_sectors >> sectors_per_block_shift,
    ))
}

fn read_write(
    request: &BlockRequest,
    geometry: &Geometry,
    kind: PlanKind,
) -> Result<ScsiPlan, PlanError> {
    let (lba, blocks) = blocks_of(request, geometry)?;
    let bytes = u64::from(request.nr_sectors) << SECTOR_SHIFT;
    if bytes > u64::from(geometry.io_buf_bytes) {
        return Err(PlanError::TooLong {
            bytes,
            limit: geometry.io_buf_bytes,
        });
    }
    let io = BlockIo {
        lba,
        blocks,
        block_size: geometry.block_size,
        fua: request.has(sys::UBLK_IO_F_FUA),
    };
    let built = if kind == PlanKind::Read {
        scsi::read16(io)?
    } else {
        scsi::write16(io)?
    };
    Ok(from_request(kind, built, PlanBuffer::Tag))
}

fn discard(
    request: &BlockRequest,
    geometry: &Geometry,
    caps: &Capabilities,
) -> Result<ScsiPlan, PlanError> {
    if !caps.unmap {
        return Err(PlanError::NotSupportedByLun { op: request.op });
    }
    let (lba, blocks) = blocks_of(request, geometry)?;
    let command = scsi::unmap(&[UnmapDescriptor { lba, blocks }])?;
    Ok(from_request(
        PlanKind::Discard,
        command.request,
        PlanBuffer::Aux(AuxData::UnmapList(command.parameter_list)),
    ))
}

fn write_zeroes(
    request: &BlockRequest,
    geometry: &Geometry,
    caps: &Capabilities,
) -> Result<ScsiPlan, PlanError> {
    let support = caps
        .write_same
        .ok_or(PlanError::NotSupportedByLun { op: request.op })?;
    let (lba, blocks) = blocks_of(request, geometry)?;
    let built = scsi::write_same16(WriteSame {
        lba,
        blocks,
        block_size: geometry.block_size,
        unmap: support.unmap && !request.has(sys::UBLK_IO_F_NOUNMAP),
        ndob: support.ndob,
    })?;
    let buffer = if support.ndob {
        PlanBuffer::None
    } else {
        PlanBuffer::Aux(AuxData::Zeros(geometry.block_size))
    };
    Ok(from_request(PlanKind::WriteZeroes, built, buffer))
}

fn from_request(kind: PlanKind, request: ScsiRequest, buffer: PlanBuffer) -> ScsiPlan {
    ScsiPlan {
        kind,
        cdb: request.cdb.as_bytes().to_vec(),
        direction: match request.direction {
            DataDirection::None => Direction::None,
            DataDirection::Read => Direction::Read,
            DataDirection::Write => Direction::Write,
        },
        data_len: request.transfer_len,
        buffer,
    }
}

#[cfg(test)]
mod tests;
