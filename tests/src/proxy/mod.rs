//! A fault-injecting iSCSI proxy for reliability tests.
//!
//! [`Proxy::start`] listens on a loopback address and forwards every accepted connection to a
//! target on loopback (a test's tgtd), PDU by PDU in both directions. Faults armed with
//! [`Proxy::arm`] act on the PDUs coming back from the target: drop a SCSI Response or a
//! Data-In carrying status, flip a bit in a Data-In's data segment, reset the connection in the
//! middle of a PDU, or stall both directions for a while. [`Proxy::stats`] counts what passed
//! and what was done to it.
//!
//! # Framing and digests
//!
//! The proxy reads whole PDUs (see [`frame`]), so it must know whether the connection carries
//! header and data digests. By default ([`DigestMode::FromLogin`]) it follows the login: it
//! reads the HeaderDigest / DataDigest results from the login text of both directions and
//! switches to them when the Login Response that enters full-feature phase goes by. Login
//! PDUs themselves are never digested. [`DigestMode::Fixed`] (the binary's `--digests` flag)
//! takes the setting from the caller instead of the login text; it too applies from the
//! Login Response that enters full-feature phase.
//!
//! A flipped bit is flipped *after* the target computed the data digest, so with
//! DataDigest=CRC32C the initiator must detect it; without digests nothing but TCP's checksum
//! (already verified, the proxy sits above it) protects the data, and the flip goes through.
//!
//! The proxy holds at most one PDU per direction: it is store-and-forward, meant for test
//! traffic, and refuses any address that is not loopback.

mod control;
pub mod fault;
pub mod frame;

pub use control::{execute, parse_command, send_command, serve_control, Command, Reply};
pub use fault::{flip_position, Fault, FLIP_MASK};

use std::fmt;
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use iscsi_proto::digest::Digests;

use fault::{Action, Armed};
use frame::{read_pdu, LoginWatch, WirePdu};

/// How long connecting to the target may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Granularity of a stall's sleep, so that dropping the proxy ends it promptly.
const STALL_TICK: Duration = Duration::from_millis(10);
/// Read buffer of each direction: enough for a 256 KiB Data-In in few reads.
const READ_BUFFER: usize = 256 * 1024;

/// How the proxy learns which digests frame full-feature PDUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DigestMode {
    /// From the login text (the default; see the module docs).
    #[default]
    FromLogin,
    /// These, from the end of each login on, whatever the login text said.
    Fixed(Digests),
}

/// What the proxy has seen and done, over all its connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// PDUs forwarded from the initiator to the target.
    pub pdus_to_target: u64,
    /// PDUs from the target forwarded to the initiator (flipped ones included).
    pub pdus_to_initiator: u64,
    /// SCSI Responses dropped.
    pub dropped_responses: u64,
    /// Data-In PDUs with status dropped.
    pub dropped_status_data_in: u64,
    /// The ITTs of the dropped PDUs, in order.
    pub dropped_itts: Vec<u32>,
    /// Data-In PDUs forwarded with a bit flipped.
    pub flipped_data_in: u64,
    /// Connections reset in the middle of a PDU.
    pub resets: u64,
    /// Stalls armed.
    pub stalls: u64,
    /// Streams that ended inside a PDU or failed to read (resets excluded).
    pub broken_streams: u64,
    /// Digests of the most recent connection that reached full-feature phase.
    pub header_digest: bool,
    pub data_digest: bool,
}

impl fmt::Display for ProxyStats {
    /// One line of `key=value` pairs, as the control channel's `stats` answers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let itts = if self.dropped_itts.is_empty() {
            "-".to_owned()
        } else {
            self.dropped_itts
                .iter()
                .map(|itt| format!("0x{itt:08x}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        write!(
            f,
            "connections={} pdus_to_target={} pdus_to_initiator={} dropped_responses={} \
             dropped_status_data_in={} dropped_itts={itts} flipped_data_in={} resets={} \
             stalls={} broken_streams={} header_digest={} data_digest={}",
            self.connections,
            self.pdus_to_target,
            self.pdus_to_initiator,
            self.dropped_responses,
            self.dropped_status_data_in,
            self.flipped_data_in,
            self.resets,
            self.stalls,
            self.broken_streams,
            u8::from(self.header_digest),
            u8::from(self.data_digest),
        )
    }
}

/// State shared by the accept thread, the connection threads and the owner.
#[derive(Debug)]
struct Shared {
    target: SocketAddr,
    digest_mode: DigestMode,
    armed: Mutex<Armed>,
    stats: Mutex<ProxyStats>,
    stall_until: Mutex<Option<Instant>>,
    stopping: AtomicBool,
    /// Live connections, to shut down when the proxy is dropped. Weak, so that a reset's
    /// close really is the last one.
    conns: Mutex<Vec<Weak<Conn>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking connection thread must not take the proxy down with it.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn count(&self, update: impl FnOnce(&mut ProxyStats)) {
        update(&mut lock(&self.stats));
    }

    /// Sleeps while a stall is in force.
    fn wait_out_stall(&self) {
        loop {
            let until = *lock(&self.stall_until);
            let Some(left) = until.and_then(|until| until.checked_duration_since(Instant::now()))
            else {
                return;
            };
            if self.stopping.load(Ordering::Relaxed) {
                return;
            }
            thread::sleep(left.min(STALL_TICK));
        }
    }
}

/// A running proxy; dropping it stops accepting and shuts every connection down.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

fn require_loopback(what: &str, addr: SocketAddr) -> io::Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("the fault proxy only uses loopback addresses; {what} {addr} is not one"),
    ))
}

impl Proxy {
    /// Listens on `listen` (port 0 picks one) and forwards to `target`, learning the digests
    /// from each login.
    pub fn start(listen: SocketAddr, target: SocketAddr) -> io::Result<Proxy> {
        Self::start_with(listen, target, DigestMode::FromLogin)
    }

    /// As [`start`](Self::start), with the digests chosen by `digest_mode`.
    pub fn start_with(
        listen: SocketAddr,
        target: SocketAddr,
        digest_mode: DigestMode,
    ) -> io::Result<Proxy> {
        require_loopback("listen address", listen)?;
        require_loopback("target address", target)?;
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            digest_mode,
            armed: Mutex::new(Armed::default()),
            stats: Mutex::new(ProxyStats::default()),
            stall_until: Mutex::new(None),
            stopping: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("fault-proxy-accept".into())
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(Proxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// The address initiators connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The target every connection is forwarded to.
    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// Arms a fault (a stall starts now).
    pub fn arm(&self, fault: Fault) {
        if let Fault::Stall(duration) = fault {
            *lock(&self.shared.stall_until) = Some(Instant::now() + duration);
            self.shared.count(|s| s.stalls += 1);
            return;
        }
        lock(&self.shared.armed).push(fault);
    }

    /// Disarms every fault not yet applied and ends a stall.
    pub fn disarm_all(&self) {
        lock(&self.shared.armed).clear();
        *lock(&self.shared.stall_until) = None;
    }

    /// The faults armed and not yet (fully) applied, with their remaining counts.
    pub fn armed(&self) -> Vec<Fault> {
        lock(&self.shared.armed).list()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        lock(&self.shared.stats).clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, CONNECT_TIMEOUT);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for conn in lock(&self.shared.conns).drain(..) {
            if let Some(conn) = conn.upgrade() {
                conn.shut_down();
            }
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::Relaxed) {
            return;
        }
        let Ok(client) = stream else {
            continue;
        };
        shared.count(|s| s.connections += 1);
        let shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name("fault-proxy-conn".into())
            .spawn(move || serve(client, &shared));
        if spawned.is_err() {
            // The client is dropped with the closure: it sees the connection close.
            continue;
        }
    }
}

/// One proxied connection: the initiator's socket, the target's, and what the login taught.
#[derive(Debug)]
struct Conn {
    client: TcpStream,
    target: TcpStream,
    login: Mutex<LoginWatch>,
    /// Digests once in full-feature phase (login PDUs ignore it).
    digests: Mutex<Digests>,
    /// Set when the connection was reset on purpose: no FIN may follow.
    reset: AtomicBool,
}

impl Conn {
    fn shut_down(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.target.shutdown(Shutdown::Both);
    }

    /// Resets both TCP connections: with SO_LINGER 0 the last close sends an RST. Shutting
    /// down the receive side (which sends nothing) wakes the thread reading the other
    /// direction, so both threads let go of the sockets and the close happens now.
    fn reset(&self) {
        self.reset.store(true, Ordering::SeqCst);
        for socket in [&self.client, &self.target] {
            let _ = set_linger_zero(socket);
            let _ = socket.shutdown(Shutdown::Read);
        }
    }

    fn observe_login(&self, pdu: &WirePdu, shared: &Shared) {
        let Some(negotiated) = lock(&self.login).observe(pdu) else {
            return;
        };
        let digests = match shared.digest_mode {
            DigestMode::FromLogin => negotiated,
            DigestMode::Fixed(digests) => digests,
        };
        *lock(&self.digests) = digests;
        shared.count(|s| {
            s.header_digest = digests.header;
            s.data_digest = digests.data;
        });
    }
}

fn set_linger_zero(socket: &TcpStream) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket descriptor and a correctly sized, initialised option value.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads through a shared socket (`&TcpStream` implements `Read`).
struct SharedRead(Arc<Conn>, Side);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Target,
}

impl Read for SharedRead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.1 {
            Side::Client => (&self.0.client).read(buf),
            Side::Target => (&self.0.target).read(buf),
        }
    }
}

fn serve(client: TcpStream, shared: &Arc<Shared>) {
    let Ok(target) = TcpStream::connect_timeout(&shared.target, CONNECT_TIMEOUT) else {
        // The initiator sees its connection close, as if the target were down.
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = target.set_nodelay(true);
    let conn = Arc::new(Conn {
        client,
        target,
        login: Mutex::new(LoginWatch::default()),
        digests: Mutex::new(Digests::NONE),
        reset: AtomicBool::new(false),
    });
    lock(&shared.conns).push(Arc::downgrade(&conn));
    let upstream = {
        let (conn, shared) = (Arc::clone(&conn), Arc::clone(shared));
        thread::Builder::new()
            .name("fault-proxy-up".into())
            .spawn(move || pump(&conn, &shared, Side::Client))
    };
    pump(&conn, shared, Side::Target);
    if let Ok(upstream) = upstream {
        let _ = upstream.join();
    }
    lock(&shared.conns)
        .retain(|weak| weak.strong_count() > 0 && !weak.ptr_eq(&Arc::downgrade(&conn)));
}

/// Forwards PDUs read from `from` to the other side until either side ends.
fn pump(conn: &Arc<Conn>, shared: &Shared, from: Side) {
    let mut reader = BufReader::with_capacity(READ_BUFFER, SharedRead(Arc::clone(conn), from));
    let to = match from {
        Side::Client => &conn.target,
        Side::Target => &conn.client,
    };
    loop {
        let pdu = match read_pdu(&mut reader, || *lock(&conn.digests)) {
            Ok(Some(pdu)) => pdu,
            Ok(None) => break,
            Err(_) => {
                if !conn.reset.load(Ordering::SeqCst) && !shared.stopping.load(Ordering::Relaxed) {
                    shared.count(|s| s.broken_streams += 1);
                }
                break;
            }
        };
        conn.observe_login(&pdu, shared);
        shared.wait_out_stall();
        if conn.reset.load(Ordering::SeqCst) {
            return;
        }
        let result = match from {
            Side::Client => {
                shared.count(|s| s.pdus_to_target += 1);
                (&conn.target).write_all(&pdu.bytes)
            }
            Side::Target => match forward_from_target(conn, shared, pdu) {
                Forwarded::Sent(result) => result,
                Forwarded::Reset => return,
            },
        };
        if result.is_err() {
            conn.shut_down();
            return;
        }
    }
    if !conn.reset.load(Ordering::SeqCst) {
        // Pass the end of the stream on, as a FIN.
        let _ = to.shutdown(Shutdown::Write);
    }
}

enum Forwarded {
    Sent(io::Result<()>),
    Reset,
}

fn forward_from_target(conn: &Conn, shared: &Shared, mut pdu: WirePdu) -> Forwarded {
    let action = lock(&shared.armed).decide(&pdu);
    let mut client = &conn.client;
    match action {
        Action::Forward => {}
        Action::DropResponse | Action::DropStatusDataIn => {
            shared.count(|s| {
                if action == Action::DropResponse {
                    s.dropped_responses += 1;
                } else {
                    s.dropped_status_data_in += 1;
                }
                s.dropped_itts.push(pdu.itt());
            });
            return Forwarded::Sent(Ok(()));
        }
        Action::Flip => {
            let range = pdu.data_range();
            let at = range.start + flip_position(range.len());
            pdu.bytes[at] ^= FLIP_MASK;
            shared.count(|s| s.flipped_data_in += 1);
        }
        Action::ResetMidPdu => {
            let half = pdu.bytes.len() / 2;
            let _ = client.write_all(&pdu.bytes[..half]);
            let _ = client.flush();
            // Let the half PDU reach the initiator before the RST overtakes it.
            thread::sleep(Duration::from_millis(20));
            shared.count(|s| s.resets += 1);
            conn.reset();
            return Forwarded::Reset;
        }
    }
    shared.count(|s| s.pdus_to_initiator += 1);
    Forwarded::Sent(client.write_all(&pdu.bytes))
}
