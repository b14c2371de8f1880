//! The login every queue session (and the probe) makes, from the device URL.

use iscsi_proto::login::LoginConfig;
use iscsi_proto::negotiation::{DigestPreference, OperationalConfig};
use iscsi_proto::url::{DigestChoice, IscsiUrl};

/// The MaxRecvDataSegmentLength we declare, and the engine's receive limit: 1 MiB, the
/// default request buffer (`--max_io_buf_bytes`), so a target can answer a whole read with
/// one Data-In PDU.
/// libiscsi and open-iscsi declare 256 KiB; for the software engine each Data-In is one more
/// wake-up of the queue thread (a receive that waits for the whole payload with SO_RCVLOWAT),
/// and 1 MiB reads against tgtd went from 121-130 to 158-166 MiB/s in the VM benchmark (the
/// kernel initiator: 180-192). The cost is the largest buffer a non-placed PDU can take.
pub const MAX_RECV_DATA_SEGMENT_LENGTH: u32 = 1 << 20;

/// libiscsi's offers: header digest `None,CRC32C` unless the URL names one, data digest
/// `None` unless the URL names one. A digest the URL names is required, not just preferred.
fn digest(choice: Option<DigestChoice>, default: DigestPreference) -> DigestPreference {
    match choice {
        None => default,
        Some(DigestChoice::Disabled) => DigestPreference::None,
        Some(DigestChoice::Crc32c) => DigestPreference::Crc32cRequired,
    }
}

/// Whether the login may end with a data digest: only when the URL asks for one (the
/// default offer is `None` alone).
pub(crate) fn may_negotiate_data_digest(url: &IscsiUrl) -> bool {
    digest(url.data_digest, DigestPreference::None) != DigestPreference::None
}

/// The ISID of queue `qid`'s session of device `dev_id`: the same on every login of the
/// device's life, `ublk recover` included, so each relogin (with TSIH 0) reinstates the old
/// session and the target ends its tasks before the new one runs a command (RFC 7143
/// §6.3.5). A command of a dead session can then never land after its reissued copy. The
/// "random" ISID format (type 10b) with the device number in the random field and the
/// queue in the qualifier: no other session of this initiator uses the pair.
pub(crate) fn queue_isid(dev_id: u32, qid: u16) -> [u8; 6] {
    let [_, a, b, c] = dev_id.to_be_bytes();
    let [q0, q1] = qid.to_be_bytes();
    [0x80, a, b, c, q0, q1]
}

/// The login for one session to the URL's target under `isid`.
pub fn login_config(url: &IscsiUrl, initiator_name: &str, isid: [u8; 6]) -> LoginConfig {
    LoginConfig {
        chap: url.initiator_chap.clone(),
        mutual_chap: url.target_chap.clone(),
        operational: OperationalConfig {
            header_digest: digest(url.header_digest, DigestPreference::NonePreferred),
            data_digest: digest(url.data_digest, DigestPreference::None),
            max_recv_data_segment_length: MAX_RECV_DATA_SEGMENT_LENGTH,
            ..OperationalConfig::default()
        },
        ..LoginConfig::normal(initiator_name, &url.target, isid)
    }
}

#[cfg(test)]
mod tests;
