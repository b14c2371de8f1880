//! Network portals: `host[:port]`, with IPv6 literals in brackets (`[fe80::1%eth0]:3261`).
//! Shared by iSCSI URLs, the `discover HOST[:PORT]` command line and SendTargets addresses.

use std::fmt;
use std::net::Ipv6Addr;

use super::{ParseError, UrlError};

/// The IANA-registered iSCSI port, used when a portal names none.
pub(crate) const DEFAULT_PORT: u16 = 3260;

/// Longest DNS name (RFC 1035 §2.3.4, without the trailing dot).
const MAX_HOST_NAME_LEN: usize = 253;

/// Where a target listens. `host` holds an IPv6 literal without its brackets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Portal {
    pub host: String,
    pub port: u16,
}

impl Portal {
    /// Parses `host[:port]` as typed on a command line; the port defaults to 3260.
    pub fn parse(text: &str) -> Result<Portal, ParseError> {
        let (host, port) = parse_host_port(text).map_err(|reason| ParseError {
            input: text.to_owned(),
            reason,
        })?;
        Ok(Portal {
            host,
            port: port.unwrap_or(DEFAULT_PORT),
        })
    }
}

/// `host:port`, bracketing an IPv6 literal so the result can be parsed back.
impl fmt::Display for Portal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_host(formatter, &self.host)?;
        write!(formatter, ":{}", self.port)
    }
}

/// Writes a host, bracketing it if it is an IPv6 literal (the only hosts containing ':').
pub(crate) fn write_host(formatter: &mut fmt::Formatter<'_>, host: &str) -> fmt::Result {
    if host.contains(':') {
        write!(formatter, "[{host}]")
    } else {
        formatter.write_str(host)
    }
}

/// Splits and checks `host[:port]`. Returns the host (IPv6 without brackets) and the port if
/// one was given.
pub(crate) fn parse_host_port(text: &str) -> Result<(String, Option<u16>), UrlError> {
    if text.is_empty() {
        return Err(UrlError::MissingHost);
    }
    if let Some(bracketed) = text.strip_prefix('[') {
        let (literal, after) =
            bracketed
                .split_once(']')
                .ok_or_else(|| UrlError::UnterminatedIpv6 {
                    text: text.to_owned(),
                })?;
        check_ipv6_literal(literal)?;
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(parse_port(port)?),
                None => {
                    return Err(UrlError::BadHost {
                        text: text.to_owned(),
                    })
                }
            },
        };
        return Ok((literal.to_owned(), port));
    }
    let (host, port) = match text.split_once(':') {
        Some((_, after)) if after.contains(':') => {
            return Err(UrlError::UnbracketedIpv6 {
                text: text.to_owned(),
            })
        }
        Some((host, port)) => (host, Some(parse_port(port)?)),
        None => (text, None),
    };
    check_host_name(host)?;
    Ok((host.to_owned(), port))
}

/// A DNS name or dotted IPv4 address. Resolution is not our business (sans-I/O), but
/// characters no name can hold are caught here, where the error can point at them.
fn check_host_name(host: &str) -> Result<(), UrlError> {
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let plausible = host.len() <= MAX_HOST_NAME_LEN
        && host
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'));
    if plausible {
        Ok(())
    } else {
        Err(UrlError::BadHost {
            text: host.to_owned(),
        })
    }
}

/// An IPv6 address, optionally with a `%zone` (interface) suffix for link-local addresses,
/// written literally as getaddrinfo and tgtd expect.
fn check_ipv6_literal(literal: &str) -> Result<(), UrlError> {
    let (address, zone) = match literal.split_once('%') {
        Some((address, zone)) => (address, Some(zone)),
        None => (literal, None),
    };
    let zone_ok = match zone {
        None => true,
        Some(zone) => {
            !zone.is_empty()
                && zone
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_'))
        }
    };
    if zone_ok && address.parse::<Ipv6Addr>().is_ok() {
        Ok(())
    } else {
        Err(UrlError::BadIpv6 {
            text: literal.to_owned(),
        })
    }
}

/// A decimal TCP port, 1..=65535 (0 cannot be connected to).
fn parse_port(text: &str) -> Result<u16, UrlError> {
    let bad_port = || UrlError::BadPort {
        text: text.to_owned(),
    };
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(bad_port());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad_port()),
        Ok(port) => Ok(port),
    }
}

#[cfg(test)]
mod tests;
