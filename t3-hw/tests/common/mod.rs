//! Shared pieces of the engine tests: an engine on its own ring, a scripted TCP peer on
//! 127.0.0.1, guarded buffers and PDU builders.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use iscsi_proto::digest::Digests;
use iscsi_proto::pdu::{encode_pdu, DataIn, Header, NopIn, Pdu};
use t3_hw::{Completion, Engine, EngineConfig, OwnedRing, PpmConfig, Tid, WorkRequest};

pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const GUARD_BYTE: u8 = 0xA5;
const PACED_CHUNK: usize = 1024;
const PACED_PAUSE: Duration = Duration::from_millis(2);

/// An engine with 1024 pods of 4 KiB pages on a ring of its own.
pub(crate) fn ring_with(max_recv_data_segment_len: u32) -> OwnedRing {
    ring_with_config(EngineConfig::new(
        PpmConfig::new(1024, 4096),
        max_recv_data_segment_len,
    ))
}

pub(crate) fn ring_with_config(config: EngineConfig) -> OwnedRing {
    OwnedRing::new(Engine::new(config).unwrap(), 256).unwrap()
}

/// An engine configuration that raises SO_RCVLOWAT for large receives (the default) or not.
pub(crate) fn rx_config(raise_lowat: bool) -> EngineConfig {
    let mut config = EngineConfig::new(PpmConfig::new(1024, 4096), 1 << 20);
    assert!(
        config.rx_wake_on_bytes <= 65536,
        "the default raises for 64 KiB"
    );
    if !raise_lowat {
        config.rx_wake_on_bytes = 0;
    }
    config
}

/// A 128 KiB Data-In arriving from the peer in paced 1 KiB pieces, into a buffer bound to a
/// DDP tag: mapped memory, or (`fixed`) an io_uring registered buffer placed with READ_FIXED.
/// `raise`: whether the engine may raise SO_RCVLOWAT (the default) or not. Checks the payload
/// landed and returns the ring thread's voluntary context switches while it was received (how
/// often the receiver slept: machine load moves this, see `benches/rx_wakeups.rs`) and the
/// connection's counters.
pub(crate) fn receive_paced_payload(fixed: bool, raise: bool) -> (i64, t3_hw::ConnCounters) {
    const LEN: usize = 131072;
    const TASK: u32 = 1;
    let peer = Peer::start();
    // Declared before the ring so registered memory outlives it.
    let mut buffer = Guarded::new(LEN);
    let mut ring = ring_with_config(rx_config(raise));
    if fixed {
        let iovec = libc::iovec {
            iov_base: buffer.ptr().cast(),
            iov_len: LEN,
        };
        // SAFETY: `buffer` outlives the ring.
        unsafe { ring.register_buffers(&[iovec]) }.unwrap();
        ring.engine_mut()
            .register_fixed_task_buffer(TASK, 0, buffer.ptr() as u64, LEN);
    } else {
        buffer.register(ring.engine_mut(), TASK);
    }
    let tid = open(&mut ring, 0x10000, peer.addr);
    let reservation = ring
        .engine_mut()
        .reserve_ddp(tid, TASK, 1, LEN as u32)
        .unwrap();
    assert!(reservation.ddp.is_some(), "{reservation:?}");
    let data = pattern(LEN, 8);
    let wire = [
        data_in(reservation.itt, 0, &data, Digests::NONE),
        nop_in(0x30, b"", Digests::NONE),
    ]
    .concat();
    let before = voluntary_switches();
    peer.write_paced(wire);
    let seen: Vec<_> = completions(&mut ring, 2).into_iter().map(pdu).collect();
    let switches = voluntary_switches() - before;
    assert_eq!(seen[0].ddp_status, t3_hw::DdpStatus::DDP_PDU);
    assert_eq!(itt_of(&seen[1]), 0x30);
    assert_eq!(buffer.body(), data.as_slice());
    assert!(buffer.guards_intact());
    (switches, ring.engine().conn_counters(tid).unwrap())
}

/// The counters of [`receive_paced_payload`] with and without the SO_RCVLOWAT raise, checked
/// where they do not depend on timing: the raise happened (a receive waited for the payload),
/// or not at all, and each raise went with a receive. How much sleeping the raise saves
/// depends on machine load; `benches/rx_wakeups.rs` prints it.
pub(crate) fn assert_lowat_raised_only_when_enabled(fixed: bool) {
    for raise in [true, false] {
        let (_, counters) = receive_paced_payload(fixed, raise);
        let receives = counters.recv_calls + counters.read_fixed_calls;
        if raise {
            assert!(counters.lowat_raises >= 1, "{counters:?}");
        } else {
            assert_eq!(counters.lowat_raises, 0, "{counters:?}");
        }
        // The first header's receive, then one receive behind each raise at least.
        assert!(receives > counters.lowat_raises, "{counters:?}");
        if fixed {
            assert!(counters.read_fixed_calls >= 1, "{counters:?}");
        }
    }
}

/// Reports a test that cannot run here as skipped: a `SKIP:` line written straight to stderr,
/// past the test harness's capture of `eprintln!`, so it shows in an ordinary `cargo test`.
pub(crate) fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIP: {test}: {reason}");
}

/// Voluntary context switches of the calling thread so far: how often it slept.
pub(crate) fn voluntary_switches() -> i64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) },
        0
    );
    usage.ru_nvcsw
}

pub(crate) fn ring() -> OwnedRing {
    ring_with(1 << 20)
}

/// Drives the ring until a completion arrives and returns it.
pub(crate) fn next_completion(ring: &mut OwnedRing) -> Completion {
    let mut got = None;
    ring.run_until(
        |engine| {
            got = engine.poll_completion();
            got.is_some()
        },
        TIMEOUT,
    )
    .expect("a completion within the timeout");
    got.unwrap()
}

/// Drives the ring until `want` completions arrived.
pub(crate) fn completions(ring: &mut OwnedRing, want: usize) -> Vec<Completion> {
    (0..want).map(|_| next_completion(ring)).collect()
}

/// Opens a connection to `peer` and returns its TID.
pub(crate) fn open(ring: &mut OwnedRing, atid: u32, peer: SocketAddr) -> Tid {
    ring.engine_mut()
        .post(WorkRequest::ActOpen {
            atid,
            peer,
            local: None,
        })
        .unwrap();
    match next_completion(ring) {
        Completion::ActEstablish { atid: got, tid, .. } => {
            assert_eq!(got, atid);
            tid
        }
        other => panic!("expected ActEstablish, got {other:?}"),
    }
}

enum Command {
    Write(Vec<u8>),
    WriteBytewise(Vec<u8>),
    WritePaced(Vec<u8>),
    Read(usize),
    ReadToEnd,
    ShutdownWrite,
    Reset,
}

/// What the peer saw.
#[derive(Debug)]
pub(crate) enum Reply {
    Bytes(Vec<u8>),
    Error(ErrorKind),
    Done,
}

/// A scripted target: accepts one connection and carries out commands on its thread, so the
/// test thread stays free to drive the engine.
pub(crate) struct Peer {
    pub addr: SocketAddr,
    commands: Sender<Command>,
    replies: Receiver<Reply>,
    accepted_from: Receiver<SocketAddr>,
    thread: Option<JoinHandle<()>>,
}

impl Peer {
    pub(crate) fn start() -> Peer {
        Peer::start_on("127.0.0.1:0").unwrap()
    }

    pub(crate) fn start_on(bind: &str) -> std::io::Result<Peer> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let (commands, command_rx) = channel();
        let (reply_tx, replies) = channel();
        let (accepted_tx, accepted_from) = channel();
        let thread = thread::spawn(move || {
            let Ok((mut stream, from)) = listener.accept() else {
                return;
            };
            let _ = accepted_tx.send(from);
            stream.set_nodelay(true).unwrap();
            stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            for command in command_rx {
                let reply = match command {
                    Command::Write(bytes) => match stream.write_all(&bytes) {
                        Ok(()) => continue,
                        Err(error) => Reply::Error(error.kind()),
                    },
                    Command::WriteBytewise(bytes) => {
                        for (index, byte) in bytes.iter().enumerate() {
                            if stream.write_all(&[*byte]).is_err() {
                                break;
                            }
                            if index % 64 == 63 {
                                thread::sleep(Duration::from_micros(200));
                            }
                        }
                        continue;
                    }
                    Command::WritePaced(bytes) => {
                        for chunk in bytes.chunks(PACED_CHUNK) {
                            if stream.write_all(chunk).is_err() {
                                break;
                            }
                            thread::sleep(PACED_PAUSE);
                        }
                        continue;
                    }
                    Command::Read(len) => {
                        let mut buffer = vec![0u8; len];
                        match stream.read_exact(&mut buffer) {
                            Ok(()) => Reply::Bytes(buffer),
                            Err(error) => Reply::Error(error.kind()),
                        }
                    }
                    Command::ReadToEnd => {
                        let mut buffer = Vec::new();
                        match stream.read_to_end(&mut buffer) {
                            Ok(_) => Reply::Bytes(buffer),
                            Err(error) => Reply::Error(error.kind()),
                        }
                    }
                    Command::ShutdownWrite => {
                        let _ = stream.shutdown(Shutdown::Write);
                        Reply::Done
                    }
                    Command::Reset => {
                        let linger = libc::linger {
                            l_onoff: 1,
                            l_linger: 0,
                        };
                        // SAFETY: setsockopt on the stream's own fd with a correctly sized value.
                        unsafe {
                            libc::setsockopt(
                                std::os::fd::AsRawFd::as_raw_fd(&stream),
                                libc::SOL_SOCKET,
                                libc::SO_LINGER,
                                (&linger as *const libc::linger).cast(),
                                std::mem::size_of::<libc::linger>() as libc::socklen_t,
                            )
                        };
                        let _ = reply_tx.send(Reply::Done);
                        return; // dropping the stream sends RST
                    }
                };
                if reply_tx.send(reply).is_err() {
                    return;
                }
            }
        });
        Ok(Peer {
            addr,
            commands,
            replies,
            accepted_from,
            thread: Some(thread),
        })
    }

    /// The remote address of the connection the peer accepted.
    pub(crate) fn accepted_from(&self) -> SocketAddr {
        self.accepted_from.recv_timeout(TIMEOUT).unwrap()
    }

    pub(crate) fn write(&self, bytes: Vec<u8>) {
        self.commands.send(Command::Write(bytes)).unwrap();
    }

    pub(crate) fn write_bytewise(&self, bytes: Vec<u8>) {
        self.commands.send(Command::WriteBytewise(bytes)).unwrap();
    }

    /// Writes `bytes` in 1 KiB pieces 2 ms apart: a receiver waiting for all of them sleeps
    /// between pieces unless it waits with SO_RCVLOWAT raised.
    pub(crate) fn write_paced(&self, bytes: Vec<u8>) {
        self.commands.send(Command::WritePaced(bytes)).unwrap();
    }

    /// Closes the peer's socket with RST.
    pub(crate) fn reset(&self) {
        self.commands.send(Command::Reset).unwrap();
        assert!(matches!(self.reply(), Reply::Done));
    }

    pub(crate) fn shutdown_write(&self) {
        self.commands.send(Command::ShutdownWrite).unwrap();
        assert!(matches!(self.reply(), Reply::Done));
    }

    /// Reads exactly `len` bytes (blocks the test thread: only for bytes already sent).
    pub(crate) fn read(&self, len: usize) -> Reply {
        self.commands.send(Command::Read(len)).unwrap();
        self.reply()
    }

    pub(crate) fn read_to_end(&self) -> Reply {
        self.commands.send(Command::ReadToEnd).unwrap();
        self.reply()
    }

    fn reply(&self) -> Reply {
        self.replies.recv_timeout(TIMEOUT * 2).expect("peer reply")
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let (closed, _) = channel();
        self.commands = closed;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A page-aligned buffer inside a larger allocation filled with guard bytes.
pub(crate) struct Guarded {
    memory: Vec<u8>,
    start: usize,
    len: usize,
}

impl Guarded {
    pub(crate) fn new(len: usize) -> Guarded {
        let mut memory = vec![GUARD_BYTE; len + 3 * 4096];
        let base = memory.as_ptr() as usize;
        let start = (base + 4096).next_multiple_of(4096) - base;
        memory[start..start + len].fill(0);
        Guarded { memory, start, len }
    }

    pub(crate) fn ptr(&mut self) -> *mut u8 {
        self.memory[self.start..].as_mut_ptr()
    }

    pub(crate) fn body(&self) -> &[u8] {
        &self.memory[self.start..self.start + self.len]
    }

    pub(crate) fn guards_intact(&self) -> bool {
        let (head, rest) = self.memory.split_at(self.start);
        let tail = &rest[self.len..];
        head.iter().chain(tail).all(|&byte| byte == GUARD_BYTE)
    }

    /// Registers the body as `task`'s buffer.
    pub(crate) fn register(&mut self, engine: &mut Engine, task: u32) {
        let (ptr, len) = (self.ptr(), self.len);
        // SAFETY: the test keeps the Guarded alive (and otherwise untouched) while the engine
        // does I/O on it.
        unsafe { engine.register_task_buffer(task, ptr, len) };
    }
}

pub(crate) fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

pub(crate) fn data_in(itt: u32, offset: u32, data: &[u8], digests: Digests) -> Vec<u8> {
    let header = Header::DataIn(DataIn {
        final_: true,
        itt,
        buffer_offset: offset,
        ..DataIn::default()
    });
    encode_pdu(&Pdu::new(header, data.to_vec()), digests).unwrap()
}

pub(crate) fn nop_in(itt: u32, data: &[u8], digests: Digests) -> Vec<u8> {
    let header = Header::NopIn(NopIn {
        itt,
        ttt: 0xFFFF_FFFF,
        ..NopIn::default()
    });
    encode_pdu(&Pdu::new(header, data.to_vec()), digests).unwrap()
}

/// The received PDU of a completion, or a panic naming what arrived instead.
pub(crate) fn pdu(completion: Completion) -> t3_hw::IscsiHdr {
    match completion {
        Completion::IscsiHdr(header) => header,
        other => panic!("expected IscsiHdr, got {other:?}"),
    }
}

pub(crate) fn itt_of(header: &t3_hw::IscsiHdr) -> u32 {
    match &header.header {
        Ok(Header::NopIn(nop_in)) => nop_in.itt,
        Ok(Header::DataIn(data_in)) => data_in.itt,
        Ok(Header::ScsiResponse(response)) => response.itt,
        other => panic!("no ITT the tests look at: {other:?}"),
    }
}
