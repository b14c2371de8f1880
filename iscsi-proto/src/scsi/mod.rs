//! SCSI (SPC-5 / SBC-4): CDB builders and response parsers for an initiator serving a block
//! device, plus sense-data decoding and the complete / retry / fail decision with a Linux errno.
//!
//! Pure data in, data out, like the rest of the crate.
//!
//! * Commands: every builder returns a [`ScsiRequest`] — the [`Cdb`] (inline up to 16 bytes,
//!   heap-backed up to 260 for the iSCSI extended-CDB AHS), the [`DataDirection`] and the
//!   expected data transfer length in bytes. Builders whose inputs can be out of range return
//!   `Result<_, BuildError>`; READ/WRITE(10) reject what needs the 16-byte form, and
//!   [`read()`]/[`write()`] pick the smallest form that fits.
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
mod report_luns;
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

pub use asc::additional_sense_text;
pub use capacity::{
    read_capacity10, read_capacity16, ReadCapacity10, ReadCapacity16, READ_CAPACITY_10_LEN,
    READ_CAPACITY_16_LEN,
};
pub use cdb::{opcode, Cdb, DataDirection, ScsiRequest, INLINE_CDB_LEN, MAX_CDB_LEN};
pub use classify::{classify, BlockError, Disposition, SenseAction};
pub use device_id::{
    Association, CodeSet, DesignationDescriptor, Designator, DeviceIdentification,
};
pub use error::{BuildError, LunError, ParseError};
pub use inquiry::{
    inquiry, inquiry_vpd, StandardInquiry, DEVICE_TYPE_DIRECT_ACCESS, STANDARD_INQUIRY_MIN_LEN,
};
pub use lun::{EncodedLun, Lun, MAX_FLAT_LUN};
pub use mode_sense::{
    mode_page, mode_sense10, CachingPage, ModePage, ModeParameters, ModeSense10, PageControl,
};
pub use readiness::{request_sense, test_unit_ready, REQUEST_SENSE_DEFAULT_ALLOCATION};
pub use report_luns::{report_luns, ReportLuns, SelectReport, REPORT_LUNS_MIN_ALLOCATION};
pub use rw::{
    decode_rw, read, read10, read16, write, write10, write16, BlockIo, DecodedRw, RwCommand,
};
pub use sense::{Sense, SenseFormat, SenseKey};
pub use status::ScsiStatus;
pub use supported_opcodes::{report_supported_operation_code, CommandSupport, OneCommandUsage};
pub use sync_cache::{synchronize_cache10, synchronize_cache16};
pub use unmap::{unmap, UnmapCommand, UnmapDescriptor, MAX_UNMAP_DESCRIPTORS};
pub use vpd::{
    page as vpd_page, BlockDeviceCharacteristics, BlockLimits, LogicalBlockProvisioning,
    MediumRotationRate, ProvisioningType, SupportedVpdPages, UnitSerialNumber,
};
pub use write_same::{write_same16, WriteSame};
