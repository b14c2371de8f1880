//! What the initiator asks for in the operational stage.

/// Which digest (HeaderDigest or DataDigest) the initiator offers, in order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigestPreference {
    /// Offer `None` only.
    #[default]
    None,
    /// Offer `CRC32C,None`: CRC32C if the target agrees, no digest otherwise.
    Crc32cPreferred,
    /// Offer `None,CRC32C`: no digest unless the target insists on CRC32C.
    NonePreferred,
    /// Offer `CRC32C` only; a target that refuses it fails the login.
    Crc32cRequired,
}

impl DigestPreference {
    /// The list-of-values offered for this preference.
    pub(crate) fn offer(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Crc32cPreferred => "CRC32C,None",
            Self::NonePreferred => "None,CRC32C",
            Self::Crc32cRequired => "CRC32C",
        }
    }
}

/// The kind of session being logged in (the SessionType key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SessionType {
    /// A session carrying SCSI commands to one target.
    #[default]
    Normal,
    /// A session used only for SendTargets.
    Discovery,
}

impl SessionType {
    /// The SessionType value on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Normal => "Normal",
            Self::Discovery => "Discovery",
        }
    }
}

/// The initiator's wishes for the operational parameters of a session.
///
/// The defaults are open-iscsi's (iscsid.conf): they favour unsolicited data and large bursts.
/// DefaultTime2Retain is 0 because at ErrorRecoveryLevel 0 no task is ever reassigned to a new
/// connection, so the target need not keep any state after a connection drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationalConfig {
    pub header_digest: DigestPreference,
    pub data_digest: DigestPreference,
    pub initial_r2t: bool,
    pub immediate_data: bool,
    /// The largest data segment we accept in one PDU (declared, not negotiated).
    pub max_recv_data_segment_length: u32,
    pub max_burst_length: u32,
    pub first_burst_length: u32,
    pub default_time2wait: u16,
    pub default_time2retain: u16,
    pub max_outstanding_r2t: u16,
    pub data_pdu_in_order: bool,
    pub data_sequence_in_order: bool,
    pub error_recovery_level: u8,
    pub max_connections: u16,
}

impl Default for OperationalConfig {
    fn default() -> Self {
        Self {
            header_digest: DigestPreference::None,
            data_digest: DigestPreference::None,
            initial_r2t: false,
            immediate_data: true,
            max_recv_data_segment_length: 262_144,
            max_burst_length: 16_776_192,
            first_burst_length: 262_144,
            default_time2wait: 2,
            default_time2retain: 0,
            max_outstanding_r2t: 1,
            data_pdu_in_order: true,
            data_sequence_in_order: true,
            error_recovery_level: 0,
            max_connections: 1,
        }
    }
}
