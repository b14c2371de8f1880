//! What a LUN is: identity, geometry, limits and caching, read with INQUIRY (standard and VPD
//! 0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2), READ CAPACITY(16) (or 10), MODE SENSE(10) and, when
//! WRITE SAME(16) is supported, REPORT SUPPORTED OPERATION CODES for its NDOB bit.
//! `ublk.cxgb3i probe` prints it; the ublk device derives its parameters from it.

use std::time::Duration;

use iscsi_proto::scsi::{
    self, BlockDeviceCharacteristics, BlockLimits, DeviceIdentification, LogicalBlockProvisioning,
    ModeParameters, ModeSense10, OneCommandUsage, PageControl, ReadCapacity10, ReadCapacity16,
    ScsiRequest, StandardInquiry, SupportedVpdPages, UnitSerialNumber,
};
use iscsi_proto::session::TaskOutcome;

use super::client::{Client, ClientError, CommandSpec};

/// Bytes of task buffer a probe needs.
pub const PROBE_BUFFER_LEN: usize = 4096;

/// UNMAP support and limits (VPD 0xB0 with LBPU in 0xB2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnmapLimits {
    /// Most blocks one UNMAP may name (0 = no limit stated).
    pub max_blocks: u32,
    /// Most block descriptors one UNMAP may carry.
    pub max_descriptors: u32,
    /// Optimal granularity in blocks (0 = not stated).
    pub granularity: u32,
    /// Granularity alignment in blocks, when stated.
    pub alignment: Option<u32>,
}

/// WRITE SAME(16) support (LBPWS in VPD 0xB2, or any WRITE SAME length in 0xB0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteSameLimits {
    /// Most blocks one WRITE SAME may cover (0 = no limit stated).
    pub max_blocks: u64,
    /// WRITE SAME with the UNMAP bit deallocates (LBPWS).
    pub unmap: bool,
    /// The target evaluates NDOB (no Data-Out buffer, zeros), as REPORT SUPPORTED OPERATION
    /// CODES says; false when it does not say.
    pub ndob: bool,
}

/// Everything the initiator learned about one LUN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LunInfo {
    pub vendor: String,
    pub product: String,
    pub revision: String,
    pub serial: Option<String>,
    /// The best designator of VPD 0x83 (e.g. `naa.6...`).
    pub device_id: Option<String>,
    pub logical_block_size: u32,
    pub physical_block_size: u32,
    /// Capacity in logical blocks.
    pub blocks: u64,
    /// Largest transfer one command may move, in bytes (VPD 0xB0), if stated.
    pub max_transfer_bytes: Option<u64>,
    /// Optimal transfer size in bytes (VPD 0xB0), if stated.
    pub optimal_transfer_bytes: Option<u64>,
    pub unmap: Option<UnmapLimits>,
    pub write_same: Option<WriteSameLimits>,
    /// Thin provisioned (LBPME in READ CAPACITY(16)).
    pub thin_provisioned: bool,
    /// Unmapped blocks read as zeros.
    pub unmapped_reads_zero: bool,
    /// Volatile write cache enabled (caching mode page WCE).
    pub write_cache: bool,
    /// The target honours FUA (DPOFUA in the mode parameter header).
    pub fua: bool,
    /// Write protected (WP in the mode parameter header).
    pub read_only: bool,
    /// Rotating medium; `None` when VPD 0xB1 does not say.
    pub rotational: Option<bool>,
}

impl LunInfo {
    pub fn capacity_bytes(&self) -> u64 {
        self.blocks
            .saturating_mul(u64::from(self.logical_block_size))
    }
}

/// Why probing failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("{command} failed: {outcome}")]
    Command {
        command: &'static str,
        outcome: String,
    },
    #[error("{command}: {source}")]
    Parse {
        command: &'static str,
        source: scsi::ParseError,
    },
    #[error("LUN is not a disk (peripheral type {0:#04x})")]
    NotADisk(u8),
    #[error("the LUN reports a block size of {0} bytes")]
    BadBlockSize(u32),
}

/// Runs one command on `task` and returns the data it read, or why it failed. Reports the
/// initial UNIT ATTENTION of a fresh session as a retry rather than a failure.
fn read_data(
    client: &mut Client,
    conn: usize,
    task: u32,
    lun: u64,
    command: &'static str,
    request: &ScsiRequest,
    timeout: Duration,
) -> Result<Option<Vec<u8>>, ProbeError> {
    for _ in 0..3 {
        let (outcome, received) =
            client.command(conn, task, CommandSpec::new(lun, request), timeout)?;
        match outcome {
            TaskOutcome::Status { status: 0, .. } => {
                let data = client.buffer(task)?;
                let len = (received as usize).min(data.len());
                return Ok(Some(data[..len].to_vec()));
            }
            TaskOutcome::Status {
                status: 2,
                sense: Some(sense),
                ..
            } => match scsi::Sense::parse(&sense) {
                Ok(s) if s.key == scsi::SenseKey::UnitAttention => continue,
                // ILLEGAL REQUEST: the target does not implement this page or command.
                Ok(s) if s.key == scsi::SenseKey::IllegalRequest => return Ok(None),
                Ok(s) => {
                    return Err(ProbeError::Command {
                        command,
                        outcome: s.to_string(),
                    })
                }
                Err(_) => {
                    return Err(ProbeError::Command {
                        command,
                        outcome: "CHECK CONDITION with unreadable sense".into(),
                    })
                }
            },
            other => {
                return Err(ProbeError::Command {
                    command,
                    outcome: format!("{other:?}"),
                })
            }
        }
    }
    Err(ProbeError::Command {
        command,
        outcome: "repeated UNIT ATTENTION".into(),
    })
}

/// Bytes asked for: the 4-byte header, a 16-byte CDB's usage data and a 12-byte command
/// timeouts descriptor, with room to spare.
const SUPPORTED_OPCODE_ALLOCATION: u32 = 64;
/// NDOB is bit 0 of byte 1 of the WRITE SAME(16) CDB.
const NDOB_BYTE: usize = 1;
const NDOB_BIT: u8 = 0;

/// Whether the target evaluates WRITE SAME(16)'s NDOB bit. REPORT SUPPORTED OPERATION CODES is
/// optional and a target that ignored NDOB would write whatever followed: anything but a
/// well-formed "supported, NDOB evaluated" answer (ILLEGAL REQUEST, another failure status, data
/// that does not parse) means no. Only a broken connection fails the probe.
fn write_same_ndob(
    cmd: &mut impl FnMut(&'static str, ScsiRequest) -> Result<Option<Vec<u8>>, ProbeError>,
) -> Result<bool, ProbeError> {
    const COMMAND: &str = "REPORT SUPPORTED OPERATION CODES";
    let request = scsi::report_supported_operation_code(
        scsi::opcode::WRITE_SAME_16,
        SUPPORTED_OPCODE_ALLOCATION,
    )
    .map_err(|error| ProbeError::Command {
        command: COMMAND,
        outcome: error.to_string(),
    })?;
    let answer = match cmd(COMMAND, request) {
        Ok(answer) => answer,
        Err(ProbeError::Command { .. }) => None,
        Err(other) => return Err(other),
    };
    Ok(answer
        .and_then(|bytes| OneCommandUsage::parse(&bytes, scsi::opcode::WRITE_SAME_16).ok())
        .is_some_and(|usage| usage.evaluates(NDOB_BYTE, NDOB_BIT)))
}

fn parse<T>(command: &'static str, result: Result<T, scsi::ParseError>) -> Result<T, ProbeError> {
    result.map_err(|source| ProbeError::Parse { command, source })
}

/// Probes `lun` over logged-in connection `conn`, using `task`'s buffer (at least
/// [`PROBE_BUFFER_LEN`] bytes).
pub fn probe_lun(
    client: &mut Client,
    conn: usize,
    task: u32,
    lun: u64,
    timeout: Duration,
) -> Result<LunInfo, ProbeError> {
    let mut cmd = |name: &'static str, request: ScsiRequest| {
        read_data(client, conn, task, lun, name, &request, timeout)
    };
    let missing = |command| ProbeError::Command {
        command,
        outcome: "not supported by the target".into(),
    };
    let std = cmd("INQUIRY", scsi::inquiry(96))?.ok_or_else(|| missing("INQUIRY"))?;
    let std = parse("INQUIRY", StandardInquiry::parse(&std))?;
    if std.peripheral_device_type != 0 {
        return Err(ProbeError::NotADisk(std.peripheral_device_type));
    }
    let pages = match cmd("INQUIRY VPD 0x00", scsi::inquiry_vpd(0x00, 255))? {
        Some(bytes) => parse("VPD 0x00", SupportedVpdPages::parse(&bytes))?.pages,
        None => Vec::new(),
    };
    let has = |page: u8| pages.contains(&page);
    let mut vpd = |page: u8, name: &'static str| -> Result<Option<Vec<u8>>, ProbeError> {
        if has(page) {
            cmd(name, scsi::inquiry_vpd(page, 4096 - 1))
        } else {
            Ok(None)
        }
    };
    let serial = vpd(0x80, "VPD 0x80")?
        .map(|b| parse("VPD 0x80", UnitSerialNumber::parse(&b)))
        .transpose()?
        .map(|s| s.serial);
    let device_id = vpd(0x83, "VPD 0x83")?
        .map(|b| parse("VPD 0x83", DeviceIdentification::parse(&b)))
        .transpose()?
        .and_then(|d| d.logical_unit_id().map(ToString::to_string));
    let limits = vpd(0xb0, "VPD 0xB0")?
        .map(|b| parse("VPD 0xB0", BlockLimits::parse(&b)))
        .transpose()?;
    let characteristics = vpd(0xb1, "VPD 0xB1")?
        .map(|b| parse("VPD 0xB1", BlockDeviceCharacteristics::parse(&b)))
        .transpose()?;
    let provisioning = vpd(0xb2, "VPD 0xB2")?
        .map(|b| parse("VPD 0xB2", LogicalBlockProvisioning::parse(&b)))
        .transpose()?;

    let (block_size, blocks, physical, thin, lbprz) =
        match cmd("READ CAPACITY(16)", scsi::read_capacity16(32))? {
            Some(bytes) => {
                let cap = parse("READ CAPACITY(16)", ReadCapacity16::parse(&bytes))?;
                let physical = cap.physical_block_size().unwrap_or(cap.block_length);
                (
                    cap.block_length,
                    cap.block_count(),
                    physical,
                    cap.lbpme,
                    cap.lbprz,
                )
            }
            None => {
                let bytes = cmd("READ CAPACITY(10)", scsi::read_capacity10())?
                    .ok_or_else(|| missing("READ CAPACITY(10)"))?;
                let cap = parse("READ CAPACITY(10)", ReadCapacity10::parse(&bytes))?;
                (
                    cap.block_length,
                    cap.block_count(),
                    cap.block_length,
                    false,
                    false,
                )
            }
        };
    if block_size < 512 || !block_size.is_power_of_two() || block_size > 65536 {
        return Err(ProbeError::BadBlockSize(block_size));
    }
    let mode = scsi::mode_sense10(ModeSense10 {
        page_code: 0x08,
        subpage_code: 0,
        page_control: PageControl::Current,
        disable_block_descriptors: true,
        allocation_len: 255,
    })
    .map_err(|e| ProbeError::Command {
        command: "MODE SENSE(10)",
        outcome: e.to_string(),
    })?;
    let mode = cmd("MODE SENSE(10)", mode)?
        .map(|b| parse("MODE SENSE(10)", ModeParameters::parse(&b)))
        .transpose()?;
    let caching = mode
        .as_ref()
        .map(|m| parse("caching mode page", m.caching()))
        .transpose()?
        .flatten();

    let bs = u64::from(block_size);
    let lbpu = provisioning.is_some_and(|p| p.lbpu);
    let lbpws = provisioning.is_some_and(|p| p.lbpws);
    let unmap = limits
        .filter(|l| lbpu || l.supports_unmap())
        .filter(|l| l.max_unmap_block_descriptor_count > 0)
        .map(|l| UnmapLimits {
            max_blocks: if l.max_unmap_lba_count == u32::MAX {
                0
            } else {
                l.max_unmap_lba_count
            },
            max_descriptors: l.max_unmap_block_descriptor_count,
            granularity: l.optimal_unmap_granularity,
            alignment: l.unmap_granularity_alignment,
        });
    let write_same = if lbpws || limits.is_some_and(|l| l.max_write_same_len > 0) {
        Some(WriteSameLimits {
            max_blocks: limits.map_or(0, |l| l.max_write_same_len),
            unmap: lbpws,
            ndob: write_same_ndob(&mut cmd)?,
        })
    } else {
        None
    };
    Ok(LunInfo {
        vendor: std.vendor,
        product: std.product,
        revision: std.revision,
        serial,
        device_id,
        logical_block_size: block_size,
        physical_block_size: physical.max(block_size),
        blocks,
        max_transfer_bytes: limits
            .filter(|l| l.max_transfer_len > 0)
            .map(|l| u64::from(l.max_transfer_len) * bs),
        optimal_transfer_bytes: limits
            .filter(|l| l.optimal_transfer_len > 0)
            .map(|l| u64::from(l.optimal_transfer_len) * bs),
        unmap,
        write_same,
        thin_provisioned: thin,
        unmapped_reads_zero: lbprz || provisioning.is_some_and(|p| p.lbprz != 0),
        write_cache: caching.is_some_and(|c| c.write_cache_enabled),
        fua: mode.as_ref().is_some_and(|m| m.dpo_fua_supported),
        read_only: mode.as_ref().is_some_and(|m| m.write_protected),
        rotational: characteristics.map(|c| !c.is_non_rotating()),
    })
}

#[cfg(test)]
mod tests;
