//! SCSI (SPC-5 / SBC-4): CDB builders and response parsers.
