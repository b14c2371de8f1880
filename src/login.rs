//! From a URL and an initiator name to what a login needs.

use std::net::{SocketAddr, ToSocketAddrs};

use anyhow::{anyhow, Context};
use iscsi_proto::login::{random_isid, LoginConfig};
use iscsi_proto::negotiation::DigestPreference;
use iscsi_proto::url::IscsiUrl;

/// Parses an iSCSI URL, taking CHAP credentials from libiscsi's environment variables where the
/// URL has none. Errors name the bad part and never show a secret.
pub(crate) fn parse_url(text: &str) -> anyhow::Result<IscsiUrl> {
    IscsiUrl::parse_with_env(text, |name| std::env::var(name).ok()).map_err(|e| anyhow!("{e}"))
}

/// The first address `host:port` resolves to.
pub(crate) fn resolve(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .ok_or_else(|| anyhow!("{host} has no address"))
}

/// Login settings for a normal session to the URL's target: the same login every queue of
/// a device makes (digest offers, MaxRecvDataSegmentLength), so `perf` measures what the
/// device runs.
pub(crate) fn normal_session(url: &IscsiUrl, initiator_name: &str, qualifier: u16) -> LoginConfig {
    let isid = random_isid(&mut rand::thread_rng(), qualifier);
    ublk_target::login::login_config(url, initiator_name, isid)
}

/// Login settings for a discovery session.
pub(crate) fn discovery_session(initiator_name: &str) -> LoginConfig {
    let mut config =
        LoginConfig::discovery(initiator_name, random_isid(&mut rand::thread_rng(), 0));
    config.operational.header_digest = DigestPreference::NonePreferred;
    config
}

/// The SAM LUN field for the URL's LUN number.
pub(crate) fn lun_field(url: &IscsiUrl) -> anyhow::Result<u64> {
    let number = u32::try_from(url.lun).context("LUN number too large")?;
    let lun = iscsi_proto::scsi::Lun::new(number).map_err(|e| anyhow!("LUN {number}: {e}"))?;
    Ok(u64::from_be_bytes(lun.encode().0))
}
