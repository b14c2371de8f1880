//! The negotiated outcome a session runs with.

/// Operational parameters agreed at login, as the session and data path use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionParams {
    /// CRC32C header digests on every PDU.
    pub header_digest: bool,
    /// CRC32C data digests on every data segment.
    pub data_digest: bool,
    /// The initiator must wait for an R2T before sending unsolicited Data-Out PDUs.
    pub initial_r2t: bool,
    /// Data may accompany a SCSI Command PDU.
    pub immediate_data: bool,
    /// The MaxRecvDataSegmentLength WE declared: the limit for data segments the target sends.
    pub max_recv_data_segment_length: u32,
    /// The target's declared MaxRecvDataSegmentLength: the limit for data segments we send.
    pub max_xmit_data_segment_length: u32,
    pub max_burst_length: u32,
    /// Never larger than `max_burst_length`.
    pub first_burst_length: u32,
    pub default_time2wait: u16,
    pub default_time2retain: u16,
    pub max_outstanding_r2t: u16,
    pub data_pdu_in_order: bool,
    pub data_sequence_in_order: bool,
    pub error_recovery_level: u8,
    pub max_connections: u16,
    pub target_alias: Option<String>,
    pub target_portal_group_tag: Option<u16>,
}

impl Default for SessionParams {
    /// The RFC 7143 §13 defaults, in force for any key that is never negotiated.
    fn default() -> Self {
        Self {
            header_digest: false,
            data_digest: false,
            initial_r2t: true,
            immediate_data: true,
            max_recv_data_segment_length: 8192,
            max_xmit_data_segment_length: 8192,
            max_burst_length: 262_144,
            first_burst_length: 65_536,
            default_time2wait: 2,
            default_time2retain: 20,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
            max_connections: 1,
            target_alias: None,
            target_portal_group_tag: None,
        }
    }
}
