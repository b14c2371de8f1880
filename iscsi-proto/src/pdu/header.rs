//! Typed Basic Header Segments for every RFC 7143 opcode, both directions.

use super::ahs::{self, Ahs};
use super::{PduError, BHS_LEN, MAX_DATA_SEGMENT_LEN, RESERVED_TAG};

/// iSCSI opcodes (RFC 7143 §11.2.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Opcode {
    NopOut = 0x00,
    ScsiCommand = 0x01,
    TaskMgmtRequest = 0x02,
    LoginRequest = 0x03,
    TextRequest = 0x04,
    DataOut = 0x05,
    LogoutRequest = 0x06,
    SnackRequest = 0x10,
    NopIn = 0x20,
    ScsiResponse = 0x21,
    TaskMgmtResponse = 0x22,
    LoginResponse = 0x23,
    TextResponse = 0x24,
    DataIn = 0x25,
    LogoutResponse = 0x26,
    R2t = 0x31,
    AsyncMessage = 0x32,
    Reject = 0x3f,
}

impl Opcode {
    pub fn from_byte(byte: u8) -> Result<Opcode, PduError> {
        Ok(match byte & 0x3f {
            0x00 => Opcode::NopOut,
            0x01 => Opcode::ScsiCommand,
            0x02 => Opcode::TaskMgmtRequest,
            0x03 => Opcode::LoginRequest,
            0x04 => Opcode::TextRequest,
            0x05 => Opcode::DataOut,
            0x06 => Opcode::LogoutRequest,
            0x10 => Opcode::SnackRequest,
            0x20 => Opcode::NopIn,
            0x21 => Opcode::ScsiResponse,
            0x22 => Opcode::TaskMgmtResponse,
            0x23 => Opcode::LoginResponse,
            0x24 => Opcode::TextResponse,
            0x25 => Opcode::DataIn,
            0x26 => Opcode::LogoutResponse,
            0x31 => Opcode::R2t,
            0x32 => Opcode::AsyncMessage,
            0x3f => Opcode::Reject,
            other => return Err(PduError::UnknownOpcode(other)),
        })
    }
}

/// Login stages (CSG / NSG, RFC 7143 §11.12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    #[default]
    Security = 0,
    Operational = 1,
    FullFeature = 3,
}

impl Stage {
    fn from_bits(bits: u8, field: &'static str) -> Result<Stage, PduError> {
        match bits & 3 {
            0 => Ok(Stage::Security),
            1 => Ok(Stage::Operational),
            3 => Ok(Stage::FullFeature),
            other => Err(PduError::BadField {
                field,
                value: other as u32,
            }),
        }
    }
}

/// SCSI task attributes carried in the SCSI Command PDU.
pub mod task_attr {
    pub const SIMPLE: u8 = 1;
}

/// Task management function codes (RFC 7143 §11.5.1).
pub(crate) mod tmf {
    pub(crate) const ABORT_TASK: u8 = 1;
    pub(crate) const ABORT_TASK_SET: u8 = 2;
    pub(crate) const CLEAR_TASK_SET: u8 = 4;
    pub(crate) const LOGICAL_UNIT_RESET: u8 = 5;
}

/// Logout reason codes (RFC 7143 §11.14.1).
pub(crate) mod logout_reason {
    pub(crate) const CLOSE_SESSION: u8 = 0;
}

/// Async Message events (RFC 7143 §11.9.1).
pub(crate) mod async_event {
    pub(crate) const SCSI_EVENT: u8 = 0;
    pub(crate) const LOGOUT_REQUESTED: u8 = 1;
    pub(crate) const CONNECTION_DROP: u8 = 2;
    pub(crate) const SESSION_DROP: u8 = 3;
    pub(crate) const NEGOTIATION_REQUESTED: u8 = 4;
}

/// Human text for a Reject reason code (RFC 7143 §11.17.1).
pub(crate) fn reject_reason_text(code: u8) -> &'static str {
    match code {
        0x02 => "data (payload) digest error",
        0x03 => "SNACK reject",
        0x04 => "protocol error",
        0x05 => "command not supported",
        0x06 => "immediate command rejected: too many immediate commands",
        0x07 => "task in progress",
        0x08 => "invalid data ACK",
        0x09 => "invalid PDU field",
        0x0a => "long operation reject: out of resources",
        0x0b => "deprecated: negotiation reset",
        0x0c => "waiting for logout",
        _ => "unknown reject reason",
    }
}

/// NOP-Out (initiator → target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NopOut {
    pub immediate: bool,
    pub lun: u64,
    pub itt: u32,
    pub ttt: u32,
    pub cmdsn: u32,
    pub expstatsn: u32,
}

/// SCSI Command (initiator → target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScsiCommand {
    pub immediate: bool,
    /// F: no unsolicited Data-Out PDUs follow this command.
    pub final_: bool,
    pub read: bool,
    pub write: bool,
    pub attr: u8,
    pub lun: u64,
    pub itt: u32,
    pub expected_len: u32,
    pub cmdsn: u32,
    pub expstatsn: u32,
    /// The first 16 CDB bytes (zero-padded for shorter CDBs).
    pub cdb: [u8; 16],
    /// CDB bytes beyond 16, carried in an Extended CDB AHS.
    pub extended_cdb: Vec<u8>,
    pub bidi_read_len: Option<u32>,
}

/// Task Management Function Request (initiator → target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskMgmtRequest {
    pub immediate: bool,
    pub function: u8,
    pub lun: u64,
    pub itt: u32,
    pub referenced_itt: u32,
    pub cmdsn: u32,
    pub expstatsn: u32,
    pub refcmdsn: u32,
    pub expdatasn: u32,
}

/// Login Request (initiator → target). Always sent as an immediate PDU.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginRequest {
    pub transit: bool,
    pub cont: bool,
    pub csg: Stage,
    pub nsg: Stage,
    pub version_max: u8,
    pub version_min: u8,
    pub isid: [u8; 6],
    pub tsih: u16,
    pub itt: u32,
    pub cid: u16,
    pub cmdsn: u32,
    pub expstatsn: u32,
}

/// Text Request (initiator → target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextRequest {
    pub immediate: bool,
    pub final_: bool,
    pub cont: bool,
    pub lun: u64,
    pub itt: u32,
    pub ttt: u32,
    pub cmdsn: u32,
    pub expstatsn: u32,
}

/// SCSI Data-Out (initiator → target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataOut {
    pub final_: bool,
    pub lun: u64,
    pub itt: u32,
    pub ttt: u32,
    pub expstatsn: u32,
    pub datasn: u32,
    pub buffer_offset: u32,
}

/// Logout Request (initiator → target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutRequest {
    pub immediate: bool,
    pub reason: u8,
    pub itt: u32,
    pub cid: u16,
    pub cmdsn: u32,
    pub expstatsn: u32,
}

/// SNACK Request (initiator → target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnackRequest {
    pub snack_type: u8,
    pub lun: u64,
    pub itt: u32,
    pub ttt: u32,
    pub expstatsn: u32,
    pub begrun: u32,
    pub runlength: u32,
}

/// NOP-In (target → initiator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NopIn {
    pub lun: u64,
    pub itt: u32,
    pub ttt: u32,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
}

/// SCSI Response (target → initiator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScsiResponse {
    pub bidi_overflow: bool,
    pub bidi_underflow: bool,
    pub overflow: bool,
    pub underflow: bool,
    /// iSCSI service response: 0 = command completed at target, 1 = target failure.
    pub response: u8,
    pub status: u8,
    pub itt: u32,
    pub snack_tag: u32,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
    pub expdatasn: u32,
    pub bidi_residual: u32,
    pub residual: u32,
}

/// Task Management Function Response (target → initiator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskMgmtResponse {
    pub response: u8,
    pub itt: u32,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
}

/// Login Response (target → initiator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginResponse {
    pub transit: bool,
    pub cont: bool,
    pub csg: Stage,
    pub nsg: Stage,
    pub version_max: u8,
    pub version_active: u8,
    pub isid: [u8; 6],
    pub tsih: u16,
    pub itt: u32,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
    pub status_class: u8,
    pub status_detail: u8,
}

/// Text Response (target → initiator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextResponse {
    pub final_: bool,
    pub cont: bool,
    pub lun: u64,
    pub itt: u32,
    pub ttt: u32,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
}

/// SCSI Data-In (target → initiator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataIn {
    pub final_: bool,
    /// A: the target asks for a DataACK SNACK (ERL > 0 only).
    pub ack: bool,
    pub overflow: bool,
    pub underflow: bool,
    /// S: this PDU carries the command's status (phase collapse).
    pub has_status: bool,
    pub status: u8,
    pub lun: u64,
    pub itt: u32,
    pub ttt: u32,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
    pub datasn: u32,
    pub buffer_offset: u32,
    pub residual: u32,
}

/// Logout Response (target → initiator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutResponse {
    pub response: u8,
    pub itt: u32,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
    pub time2wait: u16,
    pub time2retain: u16,
}

/// Ready To Transfer (target → initiator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct R2t {
    pub lun: u64,
    pub itt: u32,
    pub ttt: u32,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
    pub r2tsn: u32,
    pub buffer_offset: u32,
    pub desired_len: u32,
}

/// Asynchronous Message (target → initiator). Its ITT is always the reserved tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AsyncMessage {
    pub lun: u64,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
    pub event: u8,
    pub vcode: u8,
    pub param1: u16,
    pub param2: u16,
    pub param3: u16,
}

/// Reject (target → initiator); its data segment is the rejected PDU's header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reject {
    pub reason: u8,
    pub statsn: u32,
    pub expcmdsn: u32,
    pub maxcmdsn: u32,
    pub datasn_r2tsn: u32,
}

/// A decoded Basic Header Segment (plus the AHS it carried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    NopOut(NopOut),
    ScsiCommand(ScsiCommand),
    TaskMgmtRequest(TaskMgmtRequest),
    LoginRequest(LoginRequest),
    TextRequest(TextRequest),
    DataOut(DataOut),
    LogoutRequest(LogoutRequest),
    SnackRequest(SnackRequest),
    NopIn(NopIn),
    ScsiResponse(ScsiResponse),
    TaskMgmtResponse(TaskMgmtResponse),
    LoginResponse(LoginResponse),
    TextResponse(TextResponse),
    DataIn(DataIn),
    LogoutResponse(LogoutResponse),
    R2t(R2t),
    AsyncMessage(AsyncMessage),
    Reject(Reject),
}

/// An encoded header: the BHS and its AHS area, ready to be followed by the header digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBytes {
    pub bhs: [u8; BHS_LEN],
    pub ahs: Vec<u8>,
}

impl HeaderBytes {
    /// CRC32C over BHS and AHS, the header digest.
    pub(crate) fn digest(&self) -> u32 {
        crate::digest::crc32c_append(crate::digest::crc32c(&self.bhs), &self.ahs)
    }
}

/// Reads fixed-offset fields of a BHS; offsets are constants inside 48 bytes.
struct Reader<'a>(&'a [u8; BHS_LEN]);

impl Reader<'_> {
    fn u8(&self, at: usize) -> u8 {
        self.0[at]
    }
    fn bit(&self, at: usize, mask: u8) -> bool {
        self.0[at] & mask != 0
    }
    fn u16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.0[at], self.0[at + 1]])
    }
    fn u32(&self, at: usize) -> u32 {
        u32::from_be_bytes([self.0[at], self.0[at + 1], self.0[at + 2], self.0[at + 3]])
    }
    fn u64(&self, at: usize) -> u64 {
        (u64::from(self.u32(at)) << 32) | u64::from(self.u32(at + 4))
    }
    fn isid(&self) -> [u8; 6] {
        let mut isid = [0u8; 6];
        isid.copy_from_slice(&self.0[8..14]);
        isid
    }
    fn itt(&self) -> u32 {
        self.u32(16)
    }
    fn immediate(&self) -> bool {
        self.bit(0, 0x40)
    }
    fn final_(&self) -> bool {
        self.bit(1, 0x80)
    }
}

/// Writes fixed-offset fields of a BHS.
struct Writer([u8; BHS_LEN]);

impl Writer {
    fn new(opcode: Opcode, immediate: bool) -> Writer {
        let mut bhs = [0u8; BHS_LEN];
        bhs[0] = opcode as u8 | if immediate { 0x40 } else { 0 };
        Writer(bhs)
    }
    fn u8(&mut self, at: usize, v: u8) {
        self.0[at] = v;
    }
    fn flag(&mut self, at: usize, mask: u8, on: bool) {
        if on {
            self.0[at] |= mask;
        }
    }
    fn u16(&mut self, at: usize, v: u16) {
        self.0[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, at: usize, v: u32) {
        self.0[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, at: usize, v: u64) {
        self.0[at..at + 8].copy_from_slice(&v.to_be_bytes());
    }
}

fn stage_bits(transit: bool, cont: bool, csg: Stage, nsg: Stage) -> u8 {
    (if transit { 0x80 } else { 0 })
        | (if cont { 0x40 } else { 0 })
        | ((csg as u8) << 2)
        | nsg as u8
}

impl Header {
    pub fn opcode(&self) -> Opcode {
        match self {
            Header::NopOut(_) => Opcode::NopOut,
            Header::ScsiCommand(_) => Opcode::ScsiCommand,
            Header::TaskMgmtRequest(_) => Opcode::TaskMgmtRequest,
            Header::LoginRequest(_) => Opcode::LoginRequest,
            Header::TextRequest(_) => Opcode::TextRequest,
            Header::DataOut(_) => Opcode::DataOut,
            Header::LogoutRequest(_) => Opcode::LogoutRequest,
            Header::SnackRequest(_) => Opcode::SnackRequest,
            Header::NopIn(_) => Opcode::NopIn,
            Header::ScsiResponse(_) => Opcode::ScsiResponse,
            Header::TaskMgmtResponse(_) => Opcode::TaskMgmtResponse,
            Header::LoginResponse(_) => Opcode::LoginResponse,
            Header::TextResponse(_) => Opcode::TextResponse,
            Header::DataIn(_) => Opcode::DataIn,
            Header::LogoutResponse(_) => Opcode::LogoutResponse,
            Header::R2t(_) => Opcode::R2t,
            Header::AsyncMessage(_) => Opcode::AsyncMessage,
            Header::Reject(_) => Opcode::Reject,
        }
    }

    /// Encodes the BHS (with DataSegmentLength = `data_len`) and the AHS area.
    pub fn encode(&self, data_len: usize) -> Result<HeaderBytes, PduError> {
        if data_len > MAX_DATA_SEGMENT_LEN as usize {
            return Err(PduError::DataSegmentTooLong {
                len: u32::try_from(data_len).unwrap_or(u32::MAX),
                max: MAX_DATA_SEGMENT_LEN,
            });
        }
        let (mut w, ahs) = self.write_fields()?;
        if ahs.len() % 4 != 0 || ahs.len() > super::MAX_AHS_LEN {
            return Err(PduError::BadAhs {
                len: ahs.len(),
                why: "AHS area longer than 1020 bytes",
            });
        }
        w.u8(4, (ahs.len() / 4) as u8);
        let dl = (data_len as u32).to_be_bytes();
        w.0[5..8].copy_from_slice(&dl[1..4]);
        Ok(HeaderBytes { bhs: w.0, ahs })
    }

    fn write_fields(&self) -> Result<(Writer, Vec<u8>), PduError> {
        let mut ahs_area = Vec::new();
        let w = match self {
            Header::NopOut(h) => {
                let mut w = Writer::new(Opcode::NopOut, h.immediate);
                w.u8(1, 0x80);
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.ttt);
                w.u32(24, h.cmdsn);
                w.u32(28, h.expstatsn);
                w
            }
            Header::ScsiCommand(h) => {
                let mut w = Writer::new(Opcode::ScsiCommand, h.immediate);
                w.flag(1, 0x80, h.final_);
                w.flag(1, 0x40, h.read);
                w.flag(1, 0x20, h.write);
                w.0[1] |= h.attr & 0x07;
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.expected_len);
                w.u32(24, h.cmdsn);
                w.u32(28, h.expstatsn);
                w.0[32..48].copy_from_slice(&h.cdb);
                let mut list = Vec::new();
                if !h.extended_cdb.is_empty() {
                    if h.extended_cdb.len() > 260 - 16 {
                        return Err(PduError::BadCdbLength(16 + h.extended_cdb.len()));
                    }
                    list.push(Ahs::ExtendedCdb(h.extended_cdb.clone()));
                }
                if let Some(len) = h.bidi_read_len {
                    list.push(Ahs::BidiReadLength(len));
                }
                ahs_area = ahs::encode_all(&list)?;
                w
            }
            Header::TaskMgmtRequest(h) => {
                let mut w = Writer::new(Opcode::TaskMgmtRequest, h.immediate);
                w.u8(1, 0x80 | (h.function & 0x7f));
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.referenced_itt);
                w.u32(24, h.cmdsn);
                w.u32(28, h.expstatsn);
                w.u32(32, h.refcmdsn);
                w.u32(36, h.expdatasn);
                w
            }
            Header::LoginRequest(h) => {
                let mut w = Writer::new(Opcode::LoginRequest, true);
                w.u8(1, stage_bits(h.transit, h.cont, h.csg, h.nsg));
                w.u8(2, h.version_max);
                w.u8(3, h.version_min);
                w.0[8..14].copy_from_slice(&h.isid);
                w.u16(14, h.tsih);
                w.u32(16, h.itt);
                w.u16(20, h.cid);
                w.u32(24, h.cmdsn);
                w.u32(28, h.expstatsn);
                w
            }
            Header::TextRequest(h) => {
                let mut w = Writer::new(Opcode::TextRequest, h.immediate);
                w.flag(1, 0x80, h.final_);
                w.flag(1, 0x40, h.cont);
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.ttt);
                w.u32(24, h.cmdsn);
                w.u32(28, h.expstatsn);
                w
            }
            Header::DataOut(h) => {
                let mut w = Writer::new(Opcode::DataOut, false);
                w.flag(1, 0x80, h.final_);
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.ttt);
                w.u32(28, h.expstatsn);
                w.u32(36, h.datasn);
                w.u32(40, h.buffer_offset);
                w
            }
            Header::LogoutRequest(h) => {
                let mut w = Writer::new(Opcode::LogoutRequest, h.immediate);
                w.u8(1, 0x80 | (h.reason & 0x7f));
                w.u32(16, h.itt);
                w.u16(20, h.cid);
                w.u32(24, h.cmdsn);
                w.u32(28, h.expstatsn);
                w
            }
            Header::SnackRequest(h) => {
                let mut w = Writer::new(Opcode::SnackRequest, false);
                w.u8(1, 0x80 | (h.snack_type & 0x0f));
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.ttt);
                w.u32(28, h.expstatsn);
                w.u32(40, h.begrun);
                w.u32(44, h.runlength);
                w
            }
            Header::NopIn(h) => {
                let mut w = Writer::new(Opcode::NopIn, false);
                w.u8(1, 0x80);
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.ttt);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w
            }
            Header::ScsiResponse(h) => {
                let mut w = Writer::new(Opcode::ScsiResponse, false);
                w.u8(1, 0x80);
                w.flag(1, 0x10, h.bidi_overflow);
                w.flag(1, 0x08, h.bidi_underflow);
                w.flag(1, 0x04, h.overflow);
                w.flag(1, 0x02, h.underflow);
                w.u8(2, h.response);
                w.u8(3, h.status);
                w.u32(16, h.itt);
                w.u32(20, h.snack_tag);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w.u32(36, h.expdatasn);
                w.u32(40, h.bidi_residual);
                w.u32(44, h.residual);
                w
            }
            Header::TaskMgmtResponse(h) => {
                let mut w = Writer::new(Opcode::TaskMgmtResponse, false);
                w.u8(1, 0x80);
                w.u8(2, h.response);
                w.u32(16, h.itt);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w
            }
            Header::LoginResponse(h) => {
                let mut w = Writer::new(Opcode::LoginResponse, false);
                w.u8(1, stage_bits(h.transit, h.cont, h.csg, h.nsg));
                w.u8(2, h.version_max);
                w.u8(3, h.version_active);
                w.0[8..14].copy_from_slice(&h.isid);
                w.u16(14, h.tsih);
                w.u32(16, h.itt);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w.u8(36, h.status_class);
                w.u8(37, h.status_detail);
                w
            }
            Header::TextResponse(h) => {
                let mut w = Writer::new(Opcode::TextResponse, false);
                w.flag(1, 0x80, h.final_);
                w.flag(1, 0x40, h.cont);
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.ttt);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w
            }
            Header::DataIn(h) => {
                let mut w = Writer::new(Opcode::DataIn, false);
                w.flag(1, 0x80, h.final_);
                w.flag(1, 0x40, h.ack);
                w.flag(1, 0x04, h.overflow);
                w.flag(1, 0x02, h.underflow);
                w.flag(1, 0x01, h.has_status);
                w.u8(3, h.status);
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.ttt);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w.u32(36, h.datasn);
                w.u32(40, h.buffer_offset);
                w.u32(44, h.residual);
                w
            }
            Header::LogoutResponse(h) => {
                let mut w = Writer::new(Opcode::LogoutResponse, false);
                w.u8(1, 0x80);
                w.u8(2, h.response);
                w.u32(16, h.itt);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w.u16(40, h.time2wait);
                w.u16(42, h.time2retain);
                w
            }
            Header::R2t(h) => {
                let mut w = Writer::new(Opcode::R2t, false);
                w.u8(1, 0x80);
                w.u64(8, h.lun);
                w.u32(16, h.itt);
                w.u32(20, h.ttt);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w.u32(36, h.r2tsn);
                w.u32(40, h.buffer_offset);
                w.u32(44, h.desired_len);
                w
            }
            Header::AsyncMessage(h) => {
                let mut w = Writer::new(Opcode::AsyncMessage, false);
                w.u8(1, 0x80);
                w.u64(8, h.lun);
                w.u32(16, RESERVED_TAG);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w.u8(36, h.event);
                w.u8(37, h.vcode);
                w.u16(38, h.param1);
                w.u16(40, h.param2);
                w.u16(42, h.param3);
                w
            }
            Header::Reject(h) => {
                let mut w = Writer::new(Opcode::Reject, false);
                w.u8(1, 0x80);
                w.u8(2, h.reason);
                w.u32(16, RESERVED_TAG);
                w.u32(24, h.statsn);
                w.u32(28, h.expcmdsn);
                w.u32(32, h.maxcmdsn);
                w.u32(36, h.datasn_r2tsn);
                w
            }
        };
        Ok((w, ahs_area))
    }

    /// Decodes a BHS and its AHS area (exactly TotalAHSLength × 4 bytes, no digest).
    pub fn decode(bhs: &[u8; BHS_LEN], ahs_area: &[u8]) -> Result<Header, PduError> {
        let r = Reader(bhs);
        let opcode = Opcode::from_byte(r.u8(0))?;
        let declared_ahs = usize::from(r.u8(4)) * 4;
        if declared_ahs != ahs_area.len() {
            return Err(PduError::BadAhs {
                len: declared_ahs,
                why: "AHS bytes supplied differ from TotalAHSLength",
            });
        }
        let ahs_list = Ahs::decode_all(ahs_area)?;
        Ok(match opcode {
            Opcode::NopOut => Header::NopOut(NopOut {
                immediate: r.immediate(),
                lun: r.u64(8),
                itt: r.itt(),
                ttt: r.u32(20),
                cmdsn: r.u32(24),
                expstatsn: r.u32(28),
            }),
            Opcode::ScsiCommand => {
                let mut cdb = [0u8; 16];
                cdb.copy_from_slice(&bhs[32..48]);
                let mut extended_cdb = Vec::new();
                let mut bidi_read_len = None;
                for ahs in ahs_list {
                    match ahs {
                        Ahs::ExtendedCdb(bytes) => extended_cdb = bytes,
                        Ahs::BidiReadLength(len) => bidi_read_len = Some(len),
                        Ahs::Other { .. } => {}
                    }
                }
                Header::ScsiCommand(ScsiCommand {
                    immediate: r.immediate(),
                    final_: r.final_(),
                    read: r.bit(1, 0x40),
                    write: r.bit(1, 0x20),
                    attr: r.u8(1) & 0x07,
                    lun: r.u64(8),
                    itt: r.itt(),
                    expected_len: r.u32(20),
                    cmdsn: r.u32(24),
                    expstatsn: r.u32(28),
                    cdb,
                    extended_cdb,
                    bidi_read_len,
                })
            }
            Opcode::TaskMgmtRequest => Header::TaskMgmtRequest(TaskMgmtRequest {
                immediate: r.immediate(),
                function: r.u8(1) & 0x7f,
                lun: r.u64(8),
                itt: r.itt(),
                referenced_itt: r.u32(20),
                cmdsn: r.u32(24),
                expstatsn: r.u32(28),
                refcmdsn: r.u32(32),
                expdatasn: r.u32(36),
            }),
            Opcode::LoginRequest => Header::LoginRequest(LoginRequest {
                transit: r.bit(1, 0x80),
                cont: r.bit(1, 0x40),
                csg: Stage::from_bits(r.u8(1) >> 2, "CSG")?,
                nsg: Stage::from_bits(r.u8(1), "NSG")?,
                version_max: r.u8(2),
                version_min: r.u8(3),
                isid: r.isid(),
                tsih: r.u16(14),
                itt: r.itt(),
                cid: r.u16(20),
                cmdsn: r.u32(24),
                expstatsn: r.u32(28),
            }),
            Opcode::TextRequest => Header::TextRequest(TextRequest {
                immediate: r.immediate(),
                final_: r.final_(),
                cont: r.bit(1, 0x40),
                lun: r.u64(8),
                itt: r.itt(),
                ttt: r.u32(20),
                cmdsn: r.u32(24),
                expstatsn: r.u32(28),
            }),
            Opcode::DataOut => Header::DataOut(DataOut {
                final_: r.final_(),
                lun: r.u64(8),
                itt: r.itt(),
                ttt: r.u32(20),
                expstatsn: r.u32(28),
                datasn: r.u32(36),
                buffer_offset: r.u32(40),
            }),
            Opcode::LogoutRequest => Header::LogoutRequest(LogoutRequest {
                immediate: r.immediate(),
                reason: r.u8(1) & 0x7f,
                itt: r.itt(),
                cid: r.u16(20),
                cmdsn: r.u32(24),
                expstatsn: r.u32(28),
            }),
            Opcode::SnackRequest => Header::SnackRequest(SnackRequest {
                snack_type: r.u8(1) & 0x0f,
                lun: r.u64(8),
                itt: r.itt(),
                ttt: r.u32(20),
                expstatsn: r.u32(28),
                begrun: r.u32(40),
                runlength: r.u32(44),
            }),
            Opcode::NopIn => Header::NopIn(NopIn {
                lun: r.u64(8),
                itt: r.itt(),
                ttt: r.u32(20),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
            }),
            Opcode::ScsiResponse => Header::ScsiResponse(ScsiResponse {
                bidi_overflow: r.bit(1, 0x10),
                bidi_underflow: r.bit(1, 0x08),
                overflow: r.bit(1, 0x04),
                underflow: r.bit(1, 0x02),
                response: r.u8(2),
                status: r.u8(3),
                itt: r.itt(),
                snack_tag: r.u32(20),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
                expdatasn: r.u32(36),
                bidi_residual: r.u32(40),
                residual: r.u32(44),
            }),
            Opcode::TaskMgmtResponse => Header::TaskMgmtResponse(TaskMgmtResponse {
                response: r.u8(2),
                itt: r.itt(),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
            }),
            Opcode::LoginResponse => Header::LoginResponse(LoginResponse {
                transit: r.bit(1, 0x80),
                cont: r.bit(1, 0x40),
                csg: Stage::from_bits(r.u8(1) >> 2, "CSG")?,
                nsg: Stage::from_bits(r.u8(1), "NSG")?,
                version_max: r.u8(2),
                version_active: r.u8(3),
                isid: r.isid(),
                tsih: r.u16(14),
                itt: r.itt(),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
                status_class: r.u8(36),
                status_detail: r.u8(37),
            }),
            Opcode::TextResponse => Header::TextResponse(TextResponse {
                final_: r.final_(),
                cont: r.bit(1, 0x40),
                lun: r.u64(8),
                itt: r.itt(),
                ttt: r.u32(20),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
            }),
            Opcode::DataIn => Header::DataIn(DataIn {
                final_: r.final_(),
                ack: r.bit(1, 0x40),
                overflow: r.bit(1, 0x04),
                underflow: r.bit(1, 0x02),
                has_status: r.bit(1, 0x01),
                status: r.u8(3),
                lun: r.u64(8),
                itt: r.itt(),
                ttt: r.u32(20),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
                datasn: r.u32(36),
                buffer_offset: r.u32(40),
                residual: r.u32(44),
            }),
            Opcode::LogoutResponse => Header::LogoutResponse(LogoutResponse {
                response: r.u8(2),
                itt: r.itt(),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
                time2wait: r.u16(40),
                time2retain: r.u16(42),
            }),
            Opcode::R2t => Header::R2t(R2t {
                lun: r.u64(8),
                itt: r.itt(),
                ttt: r.u32(20),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
                r2tsn: r.u32(36),
                buffer_offset: r.u32(40),
                desired_len: r.u32(44),
            }),
            Opcode::AsyncMessage => Header::AsyncMessage(AsyncMessage {
                lun: r.u64(8),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
                event: r.u8(36),
                vcode: r.u8(37),
                param1: r.u16(38),
                param2: r.u16(40),
                param3: r.u16(42),
            }),
            Opcode::Reject => Header::Reject(Reject {
                reason: r.u8(2),
                statsn: r.u32(24),
                expcmdsn: r.u32(28),
                maxcmdsn: r.u32(32),
                datasn_r2tsn: r.u32(36),
            }),
        })
    }
}
