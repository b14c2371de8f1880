//! Human text for common ADDITIONAL SENSE CODE / QUALIFIER pairs (SPC-5 Annex F / D.2), the
//! ones a disk initiator meets in practice. Wording is lower-case for embedding in messages.

/// (ASC, ASCQ, text), sorted by (ASC, ASCQ) for binary search.
const TABLE: &[(u8, u8, &str)] = &[
    (0x00, 0x00, "no additional sense information"),
    (0x00, 0x06, "I/O process terminated"),
    (0x00, 0x16, "operation in progress"),
    (0x00, 0x17, "cleaning requested"),
    (0x00, 0x1D, "ATA pass through information available"),
    (0x01, 0x00, "no index/sector signal"),
    (0x02, 0x00, "no seek complete"),
    (0x03, 0x00, "peripheral device write fault"),
    (0x04, 0x00, "logical unit not ready, cause not reportable"),
    (0x04, 0x01, "logical unit is in process of becoming ready"),
    (
        0x04,
        0x02,
        "logical unit not ready, initializing command required",
    ),
    (
        0x04,
        0x03,
        "logical unit not ready, manual intervention required",
    ),
    (0x04, 0x04, "logical unit not ready, format in progress"),
    (0x04, 0x07, "logical unit not ready, operation in progress"),
    (0x04, 0x09, "logical unit not ready, self-test in progress"),
    (
        0x04,
        0x0A,
        "logical unit not accessible, asymmetric access state transition",
    ),
    (
        0x04,
        0x0B,
        "logical unit not accessible, target port in standby state",
    ),
    (
        0x04,
        0x0C,
        "logical unit not accessible, target port in unavailable state",
    ),
    (
        0x04,
        0x11,
        "logical unit not ready, notify (enable spinup) required",
    ),
    (0x05, 0x00, "logical unit does not respond to selection"),
    (0x08, 0x00, "logical unit communication failure"),
    (0x08, 0x01, "logical unit communication time-out"),
    (0x08, 0x02, "logical unit communication parity error"),
    (0x08, 0x03, "logical unit communication CRC error"),
    (0x0C, 0x00, "write error"),
    (0x0C, 0x02, "write error, auto reallocation failed"),
    (0x0C, 0x03, "write error, recommend reassignment"),
    (0x10, 0x00, "ID CRC or ECC error"),
    (0x10, 0x01, "logical block guard check failed"),
    (0x10, 0x02, "logical block application tag check failed"),
    (0x10, 0x03, "logical block reference tag check failed"),
    (0x11, 0x00, "unrecovered read error"),
    (0x11, 0x01, "read retries exhausted"),
    (0x11, 0x04, "unrecovered read error, auto reallocate failed"),
    (0x14, 0x01, "record not found"),
    (0x15, 0x00, "random positioning error"),
    (0x1A, 0x00, "parameter list length error"),
    (0x1D, 0x00, "miscompare during verify operation"),
    (0x20, 0x00, "invalid command operation code"),
    (0x20, 0x02, "access denied, no access rights"),
    (0x21, 0x00, "logical block address out of range"),
    (0x21, 0x01, "invalid element address"),
    (0x24, 0x00, "invalid field in CDB"),
    (0x25, 0x00, "logical unit not supported"),
    (0x26, 0x00, "invalid field in parameter list"),
    (0x26, 0x01, "parameter not supported"),
    (0x26, 0x02, "parameter value invalid"),
    (0x27, 0x00, "write protected"),
    (0x27, 0x01, "hardware write protected"),
    (0x27, 0x02, "logical unit software write protected"),
    (0x27, 0x07, "space allocation failed"),
    (
        0x28,
        0x00,
        "not ready to ready change, medium may have changed",
    ),
    (0x29, 0x00, "power on, reset, or bus device reset occurred"),
    (0x29, 0x01, "power on occurred"),
    (0x29, 0x02, "SCSI bus reset occurred"),
    (0x29, 0x03, "bus device reset function occurred"),
    (0x29, 0x04, "device internal reset"),
    (0x29, 0x07, "I_T nexus loss occurred"),
    (0x2A, 0x01, "mode parameters changed"),
    (0x2A, 0x02, "log parameters changed"),
    (0x2A, 0x03, "reservations preempted"),
    (0x2A, 0x04, "reservations released"),
    (0x2A, 0x05, "registrations preempted"),
    (0x2A, 0x06, "asymmetric access state changed"),
    (
        0x2A,
        0x07,
        "implicit asymmetric access state transition failed",
    ),
    (0x2A, 0x09, "capacity data has changed"),
    (0x2A, 0x10, "timestamp changed"),
    (0x2C, 0x00, "command sequence error"),
    (0x2F, 0x00, "commands cleared by another initiator"),
    (0x2F, 0x01, "commands cleared by power loss notification"),
    (0x30, 0x00, "incompatible medium installed"),
    (0x31, 0x00, "medium format corrupted"),
    (0x32, 0x00, "no defect spare location available"),
    (0x38, 0x07, "thin provisioning soft threshold reached"),
    (0x3A, 0x00, "medium not present"),
    (0x3E, 0x01, "logical unit failure"),
    (0x3E, 0x02, "timeout on logical unit"),
    (0x3F, 0x01, "microcode has been changed"),
    (0x3F, 0x03, "inquiry data has changed"),
    (0x3F, 0x0E, "reported LUNs data has changed"),
    (0x44, 0x00, "internal target failure"),
    (0x45, 0x00, "select or reselect failure"),
    (0x47, 0x00, "SCSI parity error"),
    (0x47, 0x01, "data phase CRC error detected"),
    (0x47, 0x03, "information unit iuCRC error detected"),
    (0x48, 0x00, "initiator detected error message received"),
    (0x49, 0x00, "invalid message error"),
    (0x4B, 0x00, "data phase error"),
    (0x4B, 0x01, "invalid target port transfer tag received"),
    (0x4B, 0x02, "too much write data"),
    (0x4B, 0x03, "ACK/NAK timeout"),
    (0x4B, 0x04, "NAK received"),
    (0x4B, 0x05, "data offset error"),
    (0x4B, 0x06, "initiator response timeout"),
    (0x4C, 0x00, "logical unit failed self-configuration"),
    (0x4E, 0x00, "overlapped commands attempted"),
    (0x53, 0x02, "medium removal prevented"),
    (0x55, 0x03, "insufficient resources"),
    (0x55, 0x04, "insufficient registration resources"),
    (0x5D, 0x00, "failure prediction threshold exceeded"),
    (0x5E, 0x00, "low power condition on"),
];

/// Text for an ASC/ASCQ pair, if it is in the table.
pub(crate) fn additional_sense_text(asc: u8, ascq: u8) -> Option<&'static str> {
    TABLE
        .binary_search_by_key(&(asc, ascq), |&(table_asc, table_ascq, _)| {
            (table_asc, table_ascq)
        })
        .ok()
        .and_then(|index| TABLE.get(index))
        .map(|&(_, _, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_strictly_sorted_for_binary_search() {
        for pair in TABLE.windows(2) {
            assert!(
                (pair[0].0, pair[0].1) < (pair[1].0, pair[1].1),
                "{pair:?} out of order"
            );
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            additional_sense_text(0x04, 0x01),
            Some("logical unit is in process of becoming ready")
        );
        assert_eq!(
            additional_sense_text(0x3A, 0x00),
            Some("medium not present")
        );
        assert_eq!(
            additional_sense_text(0x27, 0x07),
            Some("space allocation failed")
        );
        assert_eq!(
            additional_sense_text(0x00, 0x00),
            Some("no additional sense information")
        );
        assert_eq!(
            additional_sense_text(0x5E, 0x00),
            Some("low power condition on")
        );
        assert_eq!(additional_sense_text(0x29, 0x08), None);
        assert_eq!(additional_sense_text(0xFF, 0xFF), None);
    }
}
