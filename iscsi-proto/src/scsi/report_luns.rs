//! REPORT LUNS (SPC-5 6.33): the CDB and the LUN list.

use super::cdb::{opcode, Cdb, ScsiRequest};
use super::error::{BuildError, ParseError};
use super::lun::EncodedLun;
use super::wire::Wire;

/// SPC-5 requires an ALLOCATION LENGTH of at least 16 (header plus one LUN).
pub const REPORT_LUNS_MIN_ALLOCATION: u32 = 16;

const HEADER_LEN: usize = 8;
const LUN_LEN: usize = 8;

/// SELECT REPORT: which LUNs to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectReport {
    /// 00h: logical units with LUNs (no well-known LUs).
    LogicalUnits = 0x00,
    /// 01h: well-known logical units only.
    WellKnown = 0x01,
    /// 02h: all logical units.
    All = 0x02,
}

/// Build REPORT LUNS; an allocation length below 16 is rejected.
pub fn report_luns(select: SelectReport, allocation_len: u32) -> Result<ScsiRequest, BuildError> {
    if allocation_len < REPORT_LUNS_MIN_ALLOCATION {
        return Err(BuildError::FieldTooSmall {
            command: "REPORT LUNS",
            field: "ALLOCATION LENGTH",
            value: u64::from(allocation_len),
            min: u64::from(REPORT_LUNS_MIN_ALLOCATION),
        });
    }
    let alloc = allocation_len.to_be_bytes();
    let cdb = Cdb::fixed([
        opcode::REPORT_LUNS,
        0,
        select as u8,
        0,
        0,
        0,
        alloc[0],
        alloc[1],
        alloc[2],
        alloc[3],
        0,
        0,
    ]);
    Ok(ScsiRequest::read(cdb, allocation_len))
}

/// The LUN list of a REPORT LUNS response, entries as sent (decode each with
/// [`EncodedLun::decode`]; unsupported forms do not spoil the rest of the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLuns {
    /// LUN entries in the order the target listed them.
    pub luns: Vec<EncodedLun>,
}

impl ReportLuns {
    /// Parse REPORT LUNS parameter data. If the target has more LUNs than fit the allocation
    /// length the result is `Truncated` with `needed` = the full list length, so the caller can
    /// retry with that allocation length.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let wire = Wire::new("REPORT LUNS data", bytes);
        let list_len = wire.be_u32(0, "LUN LIST LENGTH")?;
        if list_len as usize % LUN_LEN != 0 {
            return Err(wire.invalid("LUN LIST LENGTH", u64::from(list_len)));
        }
        let total = (list_len as usize)
            .checked_add(HEADER_LEN)
            .ok_or(wire.invalid("LUN LIST LENGTH", u64::from(list_len)))?;
        let wire = wire.declared(total, "LUN LIST LENGTH")?;
        let luns = wire
            .rest(HEADER_LEN)
            .chunks_exact(LUN_LEN)
            .map(|chunk| {
                let mut lun = [0u8; LUN_LEN];
                lun.copy_from_slice(chunk);
                EncodedLun(lun)
            })
            .collect();
        Ok(Self { luns })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scsi::{DataDirection, Lun};

    #[test]
    fn report_luns_cdb() {
        let request = report_luns(SelectReport::All, 0x0000_1008).unwrap();
        assert_eq!(
            request.cdb.as_bytes(),
            &[0xA0, 0, 0x02, 0, 0, 0, 0x00, 0x00, 0x10, 0x08, 0, 0]
        );
        assert_eq!(request.direction, DataDirection::Read);
        assert_eq!(request.transfer_len, 0x1008);
        assert!(matches!(
            report_luns(SelectReport::LogicalUnits, 15),
            Err(BuildError::FieldTooSmall {
                field: "ALLOCATION LENGTH",
                value: 15,
                min: 16,
                ..
            })
        ));
    }

    #[test]
    fn parses_tgtd_style_list() {
        #[rustfmt::skip]
        let data = [
            0x00, 0x00, 0x00, 0x18, 0, 0, 0, 0,
            0x00, 0x00, 0, 0, 0, 0, 0, 0,     // LUN 0 (controller)
            0x00, 0x01, 0, 0, 0, 0, 0, 0,     // LUN 1
            0x41, 0x2C, 0, 0, 0, 0, 0, 0,     // LUN 300, flat space
        ];
        let parsed = ReportLuns::parse(&data).unwrap();
        let numbers: Vec<u16> = parsed
            .luns
            .iter()
            .map(|lun| lun.decode().unwrap().value())
            .collect();
        assert_eq!(numbers, vec![0, 1, 300]);
        assert_eq!(parsed.luns[2], Lun::new(300).unwrap().encode());
    }

    #[test]
    fn empty_list() {
        assert_eq!(ReportLuns::parse(&[0; 8]).unwrap().luns, vec![]);
    }

    #[test]
    fn list_longer_than_buffer_reports_needed_length() {
        let mut data = vec![0x00, 0x00, 0x01, 0x00, 0, 0, 0, 0];
        data.extend_from_slice(&[0; 8]);
        assert_eq!(
            ReportLuns::parse(&data),
            Err(ParseError::Truncated {
                what: "REPORT LUNS data",
                field: "LUN LIST LENGTH",
                needed: 264,
                got: 16
            })
        );
    }

    #[test]
    fn malformed_headers() {
        assert!(matches!(
            ReportLuns::parse(&[0, 0, 0, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(ParseError::InvalidField {
                field: "LUN LIST LENGTH",
                value: 12,
                ..
            })
        ));
        assert!(matches!(
            ReportLuns::parse(&[0, 0, 0]),
            Err(ParseError::Truncated { needed: 4, .. })
        ));
    }
}
