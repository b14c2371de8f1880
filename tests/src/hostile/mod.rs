//! A hostile iSCSI target: it logs an initiator in like any target (no CHAP; HeaderDigest and
//! DataDigest None, MaxRecvDataSegmentLength 256 KiB, InitialR2T Yes, ImmediateData No) and
//! then breaks the protocol in one chosen way, the [`Scenario`], when the first SCSI command
//! arrives. It exists to show that the initiator ends such a connection with an error, without
//! panicking, hanging, or writing a byte outside the command's buffer.
//!
//! Every payload byte the target sends in a misbehaving PDU is [`HOSTILE_BYTE`]; the data of
//! well-formed Data-In PDUs is [`GOOD_BYTE`]. A test that finds `HOSTILE_BYTE` in a buffer has
//! caught the initiator accepting data it should have refused.
//!
//! It listens on `127.0.0.1` and serves every connection it accepts the same way, each on its
//! own thread, until dropped. [`HostileTarget::report`] says what happened.

mod login;
mod redirect;
mod session;
mod wire;

pub use login::TARGET_MAX_RECV_DATA_SEGMENT;
pub use redirect::Redirector;

use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The payload byte of every misbehaving PDU.
pub const HOSTILE_BYTE: u8 = 0x5e;
/// The payload byte of well-formed Data-In.
pub const GOOD_BYTE: u8 = 0x3c;
/// The opcode of [`Scenario::ReservedOpcode`]'s PDU: none in RFC 7143.
pub const RESERVED_OPCODE: u8 = 0x1c;
/// The DataSegmentLength [`Scenario::HugeDataSegment`] announces: the 24-bit field's maximum,
/// 16 MiB - 1.
pub const HUGE_DATA_SEGMENT: u32 = 0xff_ffff;
/// The ITT of [`Scenario::UnknownItt`]'s Data-In, used by no command.
pub const UNKNOWN_ITT: u32 = 0x0bad_1770;
/// How far past the transfer [`Scenario::OffsetPastEnd`]'s Data-In and
/// [`Scenario::R2tBeyondTransfer`]'s R2T reach: they start at the transfer's end and are
/// this long.
pub const BEYOND_LEN: u32 = 4096;
/// The Login Response status of [`Scenario::BadLoginStatus`]: no RFC 7143 class.
pub const BAD_STATUS_CLASS: u8 = 0x5a;
pub const BAD_STATUS_DETAIL: u8 = 0xa5;
/// The SenseLength [`Scenario::SenseLongerThanSegment`] claims, and the sense bytes it sends.
pub const CLAIMED_SENSE_LEN: u16 = 252;
pub const SENT_SENSE_LEN: usize = 18;
/// The TSIH the target assigns.
pub const TSIH: u16 = 0x4d2;
/// How long [`Scenario::SlowLogin`] waits before each Login Response.
pub const SLOW_LOGIN_DELAY: Duration = Duration::from_millis(100);

/// One way to break the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Answers the READ with a BHS whose opcode is [`RESERVED_OPCODE`].
    ReservedOpcode,
    /// Answers the READ with a Data-In announcing [`HUGE_DATA_SEGMENT`] bytes, far over the
    /// initiator's MaxRecvDataSegmentLength, followed by 64 KiB of them.
    HugeDataSegment,
    /// Answers the READ with a Data-In (with status) for [`UNKNOWN_ITT`].
    UnknownItt,
    /// Completes the first READ correctly; answers the second with a Data-In (with status)
    /// for the first one's ITT, a task the initiator has completed.
    StaleItt,
    /// Sends the READ's whole data correctly, then one more Data-In of [`BEYOND_LEN`] bytes at
    /// BufferOffset = the READ's length (in sequence, so only the bounds check can catch it).
    OffsetPastEnd,
    /// Sends the first half of the READ's data, then a Data-In at the half whose length is the
    /// whole transfer: it crosses the end by half the transfer.
    CrossesEnd,
    /// Answers a WRITE with an R2T for [`BEYOND_LEN`] bytes at BufferOffset = the WRITE's
    /// length; an initiator that obeyed would send bytes from beyond its buffer.
    R2tBeyondTransfer,
    /// Answers every Login Request with T=0 and no keys: the transit never happens.
    EndlessLogin,
    /// Answers like [`Scenario::EndlessLogin`], each time after [`SLOW_LOGIN_DELAY`]: the login
    /// neither ends nor runs out of exchanges before a caller's timeout of a few seconds.
    SlowLogin,
    /// Answers the first Login Request with status [`BAD_STATUS_CLASS`] /
    /// [`BAD_STATUS_DETAIL`].
    BadLoginStatus,
    /// Answers the READ with a SCSI Response, CHECK CONDITION, whose data segment claims
    /// [`CLAIMED_SENSE_LEN`] sense bytes and holds [`SENT_SENSE_LEN`].
    SenseLongerThanSegment,
}

/// What the initiator must do for a scenario's misbehaviour to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// Log in (the login itself is broken).
    Login,
    /// Log in and issue one READ.
    Read,
    /// Log in and issue two READs, one after the other (the first completes), from one task
    /// or from two: either way a Data-In for the first READ's ITT is stale, as long as the
    /// initiator gives each command of a task an ITT of its own.
    ReadTwice,
    /// Log in and issue one WRITE.
    Write,
}

impl Scenario {
    /// Every scenario, for tests to iterate over.
    pub const ALL: [Scenario; 11] = [
        Scenario::ReservedOpcode,
        Scenario::HugeDataSegment,
        Scenario::UnknownItt,
        Scenario::StaleItt,
        Scenario::OffsetPastEnd,
        Scenario::CrossesEnd,
        Scenario::R2tBeyondTransfer,
        Scenario::EndlessLogin,
        Scenario::SlowLogin,
        Scenario::BadLoginStatus,
        Scenario::SenseLongerThanSegment,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::ReservedOpcode => "reserved-opcode",
            Scenario::HugeDataSegment => "huge-data-segment",
            Scenario::UnknownItt => "unknown-itt",
            Scenario::StaleItt => "stale-itt",
            Scenario::OffsetPastEnd => "offset-past-end",
            Scenario::CrossesEnd => "crosses-end",
            Scenario::R2tBeyondTransfer => "r2t-beyond-transfer",
            Scenario::EndlessLogin => "endless-login",
            Scenario::SlowLogin => "slow-login",
            Scenario::BadLoginStatus => "bad-login-status",
            Scenario::SenseLongerThanSegment => "sense-longer-than-segment",
        }
    }

    pub fn trigger(self) -> Trigger {
        match self {
            Scenario::EndlessLogin | Scenario::SlowLogin | Scenario::BadLoginStatus => {
                Trigger::Login
            }
            Scenario::StaleItt => Trigger::ReadTwice,
            Scenario::R2tBeyondTransfer => Trigger::Write,
            Scenario::ReservedOpcode
            | Scenario::HugeDataSegment
            | Scenario::UnknownItt
            | Scenario::OffsetPastEnd
            | Scenario::CrossesEnd
            | Scenario::SenseLongerThanSegment => Trigger::Read,
        }
    }
}

/// A SCSI command the target received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenCommand {
    pub itt: u32,
    pub cmdsn: u32,
    pub expected_len: u32,
    pub read: bool,
    pub write: bool,
}

/// What the target saw and did, over all its connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub connections: u32,
    /// Connections that have ended (the initiator closed or reset them).
    pub disconnected: u32,
    /// Login Requests answered.
    pub login_rounds: u64,
    /// Whether a login reached full-feature phase.
    pub logged_in: bool,
    pub commands: Vec<SeenCommand>,
    /// Data-Out payload bytes received.
    pub data_out_bytes: u64,
    /// Whether the scenario's misbehaviour was carried out.
    pub misbehaved: bool,
    /// Failures on the target's side other than the initiator going away.
    pub errors: Vec<String>,
}

/// State shared by the target's threads and its owner.
#[derive(Debug)]
struct Shared {
    report: Mutex<Report>,
    changed: Condvar,
    stopping: AtomicBool,
    streams: Mutex<Vec<TcpStream>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut Report)) {
        change(&mut lock(&self.report));
        self.changed.notify_all();
    }
}

/// A running hostile target; dropping it closes every connection.
#[derive(Debug)]
pub struct HostileTarget {
    scenario: Scenario,
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl HostileTarget {
    /// Listens on `127.0.0.1` and a free port.
    pub fn start(scenario: Scenario) -> io::Result<HostileTarget> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            report: Mutex::new(Report::default()),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            streams: Mutex::new(Vec::new()),
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(format!("hostile-{}", scenario.name()))
                .spawn(move || accept_loop(&listener, scenario, &shared))?
        };
        Ok(HostileTarget {
            scenario,
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    pub fn scenario(&self) -> Scenario {
        self.scenario
    }

    /// The portal.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of what happened so far.
    pub fn report(&self) -> Report {
        lock(&self.shared.report).clone()
    }

    /// Waits until every accepted connection has ended; false on timeout.
    pub fn wait_disconnected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut report = lock(&self.shared.report);
        while report.disconnected < report.connections {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            report = self
                .shared
                .changed
                .wait_timeout(report, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
        true
    }
}

impl Drop for HostileTarget {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for stream in lock(&self.shared.streams).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: &TcpListener, scenario: Scenario, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = stream else {
            continue;
        };
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.streams).push(clone);
        }
        shared.update(|r| r.connections += 1);
        let for_thread = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!("hostile-conn-{}", scenario.name()))
            .spawn(move || {
                let shared = for_thread;
                let result = session::serve(stream, scenario, &shared);
                shared.update(|r| {
                    if let Err(error) = result {
                        if !initiator_went_away(&error) {
                            r.errors.push(error.to_string());
                        }
                    }
                    r.disconnected += 1;
                });
            });
        if spawned.is_err() {
            shared.update(|r| {
                r.errors.push("cannot spawn a connection thread".into());
                r.disconnected += 1;
            });
        }
    }
}

/// The ways a connection ends when the initiator drops it (often with an RST, after an error).
fn initiator_went_away(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionAborted
    )
}
