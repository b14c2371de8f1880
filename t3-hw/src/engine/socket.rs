//! The host TCP socket behind a connection: created here, connected through the ring.
//!
//! Connections are ordinary host-stack sockets (they show in `ss -tn`, take ports from the
//! host allocator and follow the host's routing and neighbour tables), which is what the 2008
//! LKML review asked of cxgb3i.

use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{
    bind, getpeername, getsockname, setsockopt, socket, sockopt, AddressFamily, SockFlag,
    SockProtocol, SockType, SockaddrLike, SockaddrStorage,
};

/// A socket address at a stable place for IORING_OP_CONNECT.
pub(crate) struct ConnectAddr(SockaddrStorage);

impl ConnectAddr {
    pub(super) fn new(peer: SocketAddr) -> ConnectAddr {
        ConnectAddr(SockaddrStorage::from(peer))
    }

    pub(super) fn as_ptr(&self) -> *const libc::sockaddr {
        self.0.as_ptr()
    }

    pub(super) fn len(&self) -> libc::socklen_t {
        self.0.len()
    }
}

/// A TCP socket for `peer` with TCP_NODELAY (PDUs are already batched), bound to `local` if
/// given. Returns the errno on failure, to be reported as ACT_OPEN_RPL.
pub(crate) fn open_tcp(peer: SocketAddr, local: Option<SocketAddr>) -> Result<OwnedFd, Errno> {
    let family = match peer {
        SocketAddr::V4(_) => AddressFamily::Inet,
        SocketAddr::V6(_) => AddressFamily::Inet6,
    };
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::Tcp,
    )?;
    setsockopt(&fd, sockopt::TcpNoDelay, &true)?;
    if let Some(local) = local {
        bind(fd.as_raw_fd(), &SockaddrStorage::from(local))?;
    }
    Ok(fd)
}

/// Makes the coming close send RST instead of FIN (SO_LINGER with a zero timeout).
pub(crate) fn set_abortive_close(fd: &OwnedFd) -> Result<(), Errno> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    setsockopt(fd, sockopt::Linger, &linger)
}

fn to_std(addr: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = addr.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    addr.as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

/// The socket's local address.
pub(crate) fn local_addr(fd: &OwnedFd) -> Option<SocketAddr> {
    getsockname::<SockaddrStorage>(fd.as_raw_fd())
        .ok()
        .as_ref()
        .and_then(to_std)
}

/// The socket's peer address.
pub(crate) fn peer_addr(fd: &OwnedFd) -> Option<SocketAddr> {
    getpeername::<SockaddrStorage>(fd.as_raw_fd())
        .ok()
        .as_ref()
        .and_then(to_std)
}
