//! Before a device exists: resolve the portal, log in once on the control thread, learn the
//! LUN, log out. Every "this cannot work" error (unreachable portal, unknown target, wrong
//! CHAP secret, bad LUN) surfaces here, before any ublk device is created.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use std::collections::VecDeque;

use iscsi_proto::discovery::TargetAddress;
use iscsi_proto::login::{random_isid, LoginError};
use iscsi_proto::negotiation::SessionParams;
use iscsi_proto::scsi::Lun;
use iscsi_proto::url::IscsiUrl;
use rand::rngs::StdRng;
use rand::SeedableRng;
use t3_hw::initiator::probe::{probe_lun, LunInfo, ProbeError, PROBE_BUFFER_LEN};
use t3_hw::initiator::{Client, ClientError, ConnFailure, RequestRefused};
use t3_hw::{EngineConfig, PpmConfig};
use thiserror::Error;

use crate::login::{login_config, MAX_RECV_DATA_SEGMENT_LENGTH};

/// How long the probe's login and each of its commands may take.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(15);
/// The peripheral device type INQUIRY reports for a LUN that does not exist.
const NO_DEVICE_TYPE: u8 = 0x1f;
/// ISID qualifier of the probe session (queues use their index, at most 31).
const PROBE_QUALIFIER: u16 = 0xffff;

/// Why the LUN cannot be reached or used.
#[derive(Debug, Error)]
pub enum ProbeFailure {
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("LUN {0} cannot be addressed (flat addressing allows 0 to 16383)")]
    Lun(u64),
    #[error("{0}")]
    Connect(ClientError),
    #[error("{portal}: {source}")]
    Login {
        portal: SocketAddr,
        source: ClientError,
    },
    #[error("{target} has no LUN {lun}")]
    NoSuchLun { target: String, lun: u64 },
    #[error("{target} LUN {lun}: {source}")]
    Probe {
        target: String,
        lun: u64,
        source: ProbeError,
    },
}

/// The LUN's 8-byte wire form.
pub(crate) fn wire_lun(lun: u64) -> Result<u64, ProbeFailure> {
    let lun32 = u32::try_from(lun).map_err(|_| ProbeFailure::Lun(lun))?;
    let encoded = Lun::new(lun32)
        .map_err(|_| ProbeFailure::Lun(lun))?
        .encode();
    Ok(u64::from_be_bytes(encoded.0))
}

/// Every address the URL's host resolves to, in the resolver's order.
pub(crate) fn resolve(url: &IscsiUrl) -> Result<Vec<SocketAddr>, ProbeFailure> {
    let failure = |reason: String| ProbeFailure::Resolve {
        host: url.host.clone(),
        reason,
    };
    let addresses: Vec<SocketAddr> = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|error| failure(error.to_string()))?
        .collect();
    if addresses.is_empty() {
        return Err(failure("no addresses".into()));
    }
    Ok(addresses)
}

/// Login redirections one probe follows before it gives up (a target that redirects in a
/// loop).
const MAX_REDIRECTIONS: usize = 4;

/// What the probe learned.
#[derive(Debug, Clone)]
pub struct Probed {
    /// Where the queues log in: the portal the probe reached first, then the URL host's
    /// other addresses.
    pub portals: Vec<SocketAddr>,
    pub lun: LunInfo,
    /// The negotiated parameters of the probe session; the queue sessions offer the same.
    pub session: SessionParams,
}

/// Logs in to `url`'s target, probes the LUN, logs out. Each address of the URL's host is
/// tried in turn, and a login redirection is followed.
pub fn probe(url: &IscsiUrl, initiator_name: &str) -> Result<Probed, ProbeFailure> {
    let mut candidates: VecDeque<SocketAddr> = resolve(url)?.into();
    let mut portals: Vec<SocketAddr> = candidates.iter().copied().collect();
    let mut redirections = 0;
    let mut last_failure = None;
    while let Some(peer) = candidates.pop_front() {
        match probe_at(url, initiator_name, peer) {
            Err(ProbeFailure::Login {
                source:
                    ClientError::Conn(ConnFailure::Login(LoginError::Redirected {
                        temporary,
                        addresses,
                    })),
                ..
            }) if redirections < MAX_REDIRECTIONS => {
                redirections += 1;
                let to: Vec<SocketAddr> = addresses
                    .iter()
                    .filter_map(|value| TargetAddress::parse(value).ok())
                    .filter_map(|a| (a.host.as_str(), a.port).to_socket_addrs().ok())
                    .flatten()
                    .collect();
                tracing::info!(from = %peer, ?to, temporary, "the target redirects the login");
                if !temporary {
                    portals = to.clone();
                }
                for address in to.into_iter().rev() {
                    candidates.push_front(address);
                }
            }
            Err(failure) => {
                if !candidates.is_empty() {
                    tracing::info!(%peer, %failure, "trying the next address");
                }
                last_failure = Some(failure);
            }
            Ok((lun, session)) => {
                portals.retain(|p| *p != peer);
                portals.insert(0, peer);
                return Ok(Probed {
                    portals,
                    lun,
                    session,
                });
            }
        }
    }
    Err(last_failure.unwrap_or_else(|| ProbeFailure::Resolve {
        host: url.host.clone(),
        reason: "the login redirection names no usable address".into(),
    }))
}

fn probe_at(
    url: &IscsiUrl,
    initiator_name: &str,
    peer: SocketAddr,
) -> Result<(LunInfo, SessionParams), ProbeFailure> {
    let wire = wire_lun(url.lun)?;
    let login_failure = |source: ClientError| match source {
        // Already names the portal.
        ClientError::Conn(ConnFailure::Connect { .. }) => ProbeFailure::Connect(source),
        source => ProbeFailure::Login {
            portal: peer,
            source,
        },
    };
    let engine = EngineConfig::new(PpmConfig::new(1024, 4096), MAX_RECV_DATA_SEGMENT_LENGTH);
    let mut client = Client::new(engine, 64).map_err(login_failure)?;
    let task = client.add_tasks(1, PROBE_BUFFER_LEN);
    let config = login_config(
        url,
        initiator_name,
        random_isid(&mut StdRng::from_entropy(), PROBE_QUALIFIER),
    );
    let conn = client
        .login(peer, config, PROBE_TIMEOUT)
        .map_err(login_failure)?;
    let session = client
        .conn(conn)
        .params()
        .cloned()
        .ok_or_else(|| login_failure(ClientError::Refused(RequestRefused::NotLoggedIn)))?;
    let lun = probe_lun(&mut client, conn, task, wire, PROBE_TIMEOUT).map_err(|source| {
        match source {
            // Peripheral device type 1Fh: no device at this LUN (SPC-5 6.7.2).
            ProbeError::NotADisk(NO_DEVICE_TYPE) => ProbeFailure::NoSuchLun {
                target: url.target.clone(),
                lun: url.lun,
            },
            source => ProbeFailure::Probe {
                target: url.target.clone(),
                lun: url.lun,
                source,
            },
        }
    })?;
    if let Err(error) = client.logout_all(PROBE_TIMEOUT) {
        tracing::warn!(%error, "probe session did not log out cleanly");
    }
    Ok((lun, session))
}

#[cfg(test)]
mod tests;
