//! SendTargets discovery (RFC 7143 §4.3 and Appendix C): the request to send in a discovery
//! session's Text PDU, and the parsing of the target's answer.
//!
//! The answer is a list of `TargetName=` records, each followed by the `TargetAddress=`
//! portals it can be reached through (`domainname[:port][,portal-group-tag]`). A target with
//! no address is reachable through the portal that answered the discovery.

use std::fmt;

use thiserror::Error;

use crate::url::{parse_host_port, write_host, UrlError, DEFAULT_PORT, MAX_ISCSI_NAME_LEN};

const SEND_TARGETS: &str = "SendTargets";
const TARGET_NAME: &str = "TargetName";
const TARGET_ADDRESS: &str = "TargetAddress";

/// What iscsiadm prints for a portal group tag the target did not give.
const UNKNOWN_TPGT_TEXT: &str = "-1";

/// The key=value pairs asking for every target the portal knows.
pub fn send_targets_request() -> Vec<(String, String)> {
    vec![(SEND_TARGETS.to_owned(), "All".to_owned())]
}

/// One target from a SendTargets answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveredTarget {
    pub name: String,
    /// Portals to log in through; empty means "the portal that answered".
    pub addresses: Vec<TargetAddress>,
}

/// A `TargetAddress` value: where a target listens and in which portal group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetAddress {
    /// DNS name or IP address; an IPv6 literal is stored without brackets.
    pub host: String,
    pub port: u16,
    /// Target portal group tag, if the target gave one.
    pub(crate) tpgt: Option<u16>,
}

impl TargetAddress {
    /// Parses `domainname[:port][,portal-group-tag]`, IPv6 in brackets, port defaulting to 3260.
    pub fn parse(value: &str) -> Result<Self, DiscoveryError> {
        let (portal, tpgt) = match value.split_once(',') {
            Some((portal, tag)) => (portal, Some(parse_tpgt(value, tag)?)),
            None => (value, None),
        };
        let (host, port) =
            parse_host_port(portal).map_err(|reason| DiscoveryError::BadTargetAddress {
                value: value.to_owned(),
                reason,
            })?;
        Ok(TargetAddress {
            host,
            port: port.unwrap_or(DEFAULT_PORT),
            tpgt,
        })
    }
}

/// `host:port,tpgt` as iscsiadm prints it (`[fe80::1]:3260,1`; `,-1` for an unknown tag).
impl fmt::Display for TargetAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_host(formatter, &self.host)?;
        write!(formatter, ":{},", self.port)?;
        match self.tpgt {
            Some(tag) => write!(formatter, "{tag}"),
            None => formatter.write_str(UNKNOWN_TPGT_TEXT),
        }
    }
}

/// A portal group tag: decimal 0..=65535 (RFC 7143 §13.9).
fn parse_tpgt(value: &str, tag: &str) -> Result<u16, DiscoveryError> {
    if !tag.is_empty() && tag.bytes().all(|byte| byte.is_ascii_digit()) {
        if let Ok(tag) = tag.parse() {
            return Ok(tag);
        }
    }
    Err(DiscoveryError::BadPortalGroupTag {
        value: value.to_owned(),
    })
}

/// Why a SendTargets answer could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DiscoveryError {
    #[error("TargetAddress={value} comes before any TargetName")]
    AddressBeforeTargetName { value: String },
    #[error("bad TargetAddress \"{value}\": {reason}")]
    BadTargetAddress { value: String, reason: UrlError },
    #[error("bad portal group tag in TargetAddress \"{value}\" (expected 0..=65535)")]
    BadPortalGroupTag { value: String },
    #[error(
        "bad TargetName \"{value}\" (empty, over 223 bytes, or with spaces or control characters)"
    )]
    BadTargetName { value: String },
}

/// Groups the answer's pairs into targets. Keys other than TargetName and TargetAddress are
/// ignored, so a vendor extension does not break discovery.
pub fn parse_send_targets_response(
    pairs: &[(String, String)],
) -> Result<Vec<DiscoveredTarget>, DiscoveryError> {
    let mut targets: Vec<DiscoveredTarget> = Vec::new();
    for (key, value) in pairs {
        match key.as_str() {
            TARGET_NAME => {
                check_target_name(value)?;
                targets.push(DiscoveredTarget {
                    name: value.clone(),
                    addresses: Vec::new(),
                });
            }
            TARGET_ADDRESS => {
                let target =
                    targets
                        .last_mut()
                        .ok_or_else(|| DiscoveryError::AddressBeforeTargetName {
                            value: value.clone(),
                        })?;
                target.addresses.push(TargetAddress::parse(value)?);
            }
            _ => {}
        }
    }
    Ok(targets)
}

fn check_target_name(value: &str) -> Result<(), DiscoveryError> {
    let valid = !value.is_empty()
        && value.len() <= MAX_ISCSI_NAME_LEN
        && !value.chars().any(|c| c.is_control() || c.is_whitespace());
    if valid {
        Ok(())
    } else {
        Err(DiscoveryError::BadTargetName {
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests;
