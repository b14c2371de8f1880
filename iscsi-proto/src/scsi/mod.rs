//! SCSI (SPC-5 / SBC-4): CDB builders and response parsers for an initiator serving a block
//! device, plus sense-data decoding and the complete / retry / fail decision with a Linux errno.
//!
//! Pure data in, data out, like the rest of the crate.
//!
//! * Commands: every builder returns a [`ScsiRequest`] — the [`Cdb`] (up to 16 bytes, stored
//!   inline), the [`DataDirection`] and the expected data transfer length in bytes. Builders
//!   whose inputs can be out of range return `Result<_, BuildError>`.
//! * Responses: each parser takes the bytes the target returned and yields a typed value or a
//!   [`ParseError`]; no parser panics on any input. Data whose own length field exceeds the
//!   buffer is `Truncated` with the full length as `needed`, so the caller can reissue with that
//!   allocation length.
//! * Errors: [`Sense::parse`] decodes fixed and descriptor sense data; [`classify`] turns
//!   status + sense into a [`Disposition`]; [`BlockError::errno`] gives the `-errno` for ublk.
//! * LUNs: [`Lun`] / [`EncodedLun`] for the SAM-5 8-byte LUN field.

mod asc;
mod capacity;
mod cdb;
mod classify;
mod device_id;
mod error;
mod inquiry;
mod lun;
mod mode_sense;
mod readiness;
mod rw;
mod sense;
mod status;
mod supported_opcodes;
mod sync_cache;
mod unmap;
mod vpd;
mod wire;
mod write_same;

#[cfg(test)]
mod never_panic_tests;

pub use capacity::{read_capacity10, read_capacity16, ReadCapacity10, ReadCapacity16};
pub(crate) use cdb::MAX_CDB_LEN;
pub use cdb::{opcode, Cdb, DataDirection, ScsiRequest};
pub use classify::{classify, BlockError, Disposition, SenseAction};
pub use device_id::{Designator, DeviceIdentification};
pub use error::{BuildError, LunError, ParseError};
pub use inquiry::{inquiry, inquiry_vpd, StandardInquiry};
pub use lun::{EncodedLun, Lun};
pub use mode_sense::{mode_sense10, CachingPage, ModeParameters, ModeSense10, PageControl};
pub use readiness::test_unit_ready;
pub use rw::{read16, write16, BlockIo};
pub use sense::{Sense, SenseKey};
pub use status::ScsiStatus;
pub use supported_opcodes::{report_supported_operation_code, OneCommandUsage};
pub use sync_cache::synchronize_cache16;
pub use unmap::{unmap, UnmapCommand, UnmapDescriptor};
pub use vpd::{
    BlockDeviceCharacteristics, BlockLimits, LogicalBlockProvisioning, SupportedVpdPages,
    UnitSerialNumber,
};
pub use write_same::{write_same16, WriteSame};
