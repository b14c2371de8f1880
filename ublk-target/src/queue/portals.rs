//! Where a queue's session connects: each address the URL's host resolves to, in turn after
//! a failed attempt, or where the target redirected the login (RFC 7143 §11.13.5: a
//! temporary redirection for the next login only, a permanent one for every later login).

use std::net::{SocketAddr, ToSocketAddrs};

use iscsi_proto::discovery::TargetAddress;

#[derive(Debug)]
pub(super) struct Portals {
    addresses: Vec<SocketAddr>,
    next: usize,
    /// A temporary redirection: the next login goes there.
    redirected: Option<SocketAddr>,
}

impl Portals {
    /// `addresses` in the order to try them; the first is where the device was probed.
    pub(super) fn new(addresses: Vec<SocketAddr>) -> Portals {
        Portals {
            addresses,
            next: 0,
            redirected: None,
        }
    }

    /// Where the next login goes.
    pub(super) fn next_login(&mut self) -> Option<SocketAddr> {
        if let Some(address) = self.redirected.take() {
            return Some(address);
        }
        self.addresses
            .get(self.next % self.addresses.len().max(1))
            .copied()
    }

    /// The login at the current address failed: the next one tries another.
    pub(super) fn failed(&mut self) {
        self.next = (self.next + 1) % self.addresses.len().max(1);
    }

    /// The target redirected the login to `addresses` (`TargetAddress` values). Returns
    /// where the next login goes, or `None` when no address could be used.
    pub(super) fn redirect(&mut self, addresses: &[String], temporary: bool) -> Option<SocketAddr> {
        let address = addresses.iter().find_map(|value| resolve(value))?;
        if temporary {
            self.redirected = Some(address);
        } else {
            self.addresses = vec![address];
            self.next = 0;
            self.redirected = None;
        }
        Some(address)
    }
}

/// The first socket address of a `TargetAddress` value.
fn resolve(value: &str) -> Option<SocketAddr> {
    let target = TargetAddress::parse(value).ok()?;
    (target.host.as_str(), target.port)
        .to_socket_addrs()
        .ok()?
        .next()
}

#[cfg(test)]
mod tests;
