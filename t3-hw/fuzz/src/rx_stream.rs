//! The engine's receive path driven by arbitrary input, without a socket.
//!
//! The engine talks to the kernel only through the SQEs it pushes to a [`Submitter`] and the
//! CQEs routed back to [`Engine::on_cqe`]. This harness plays the kernel: it carries out each
//! receive SQE (RECV, RECVMSG, READ_FIXED) by writing the next bytes of a scripted stream
//! exactly where the SQE says, with io_uring's link semantics (a failed or short
//! WAITALL/READ_FIXED op cancels the ops linked behind it) and CQEs in submission order; the
//! other ops of a connection (CONNECT, the SO_RCVLOWAT setsockopt, SHUTDOWN, ASYNC_CANCEL) get
//! plausible results.
//!
//! The input chooses the engine settings (digests, read-ahead staging, the exact-placement
//! threshold, SO_RCVLOWAT raises, whether the kernel refuses socket setsockopt), three task
//! buffers (mapped or io_uring fixed, their lengths and page misalignment, the transfer length
//! each is bound to, stale tags), how many bytes each receive gets and whether CQEs are
//! delivered op by op or after the whole chain ran, and then the stream: raw bytes, Data-In
//! PDUs aimed at live, stale, miscoloured or non-DDP tags with arbitrary offsets and lengths,
//! arbitrary headers with well-framed data, and, between PDUs, digest switches and tags released
//! or bound anew.
//!
//! Checked: every write an SQE asks for that touches a task buffer's allocation lies inside
//! the part of the buffer some DDP tag bound (checked as the fake kernel writes), the guard
//! bytes around each buffer and its never-bound tail are intact after the run (this catches the
//! engine's own copies out of staging), delivered PDUs respect MaxRecvDataSegmentLength, the
//! connection tears down with nothing left in flight, and nothing panics.
//!
//! Shared by the fuzz target and `t3-hw/tests/engine_rx_stream.rs`.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};

use io_uring::opcode;
use io_uring::squeue::Entry;
use iscsi_proto::digest::{crc32c, to_wire};
use t3_hw::{
    Completion, Engine, EngineConfig, PageSize, PpmConfig, SetTcbField, SqFull, Submitter, Tid,
    UlpSubmode, WorkRequest,
};

/// Task buffers per run.
const TASKS: usize = 3;
/// Bytes of guard before and after each task buffer (besides the page misalignment).
const GUARD_LEN: usize = 4096;
const GUARD_BYTE: u8 = 0xA5;
const BHS_LEN: usize = 48;
const IOSQE_IO_LINK: u8 = 1 << 2;
const IORING_CQE_F_SOCK_NONEMPTY: u32 = 1 << 2;
const ECANCELED: i32 = libc::ECANCELED;
/// The longest stream a run builds (records are not cut: the last may run past it).
const STREAM_MAX: usize = 256 << 10;
/// Stream bytes received in the sizes the input chose, for receives of at most 48 bytes and
/// for larger ones; the rest goes as fast as it can (every receive costs a round trip).
const TINY_CHUNKS_UNTIL: usize = 1 << 10;
const SMALL_CHUNKS_UNTIL: usize = 64 << 10;

/// What a run did, for tests that want to know their inputs reach the deep paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// PDUs delivered (`IscsiHdr` completions).
    pub pdus: usize,
    /// Of those, PDUs whose payload was placed in a task buffer.
    pub placed: usize,
    /// Stream bytes the fake kernel handed over.
    pub bytes_received: usize,
    /// READ_FIXED ops carried out.
    pub read_fixed: usize,
    /// Whether the engine aborted the connection.
    pub aborted: bool,
    /// Whether the engine stopped reading: a corrupt header digest, or the peer's FIN.
    pub stopped_reading: bool,
    /// Whether the connection got established at all.
    pub established: bool,
    /// Kernel steps (ops completed or CQE batches) the run took.
    pub steps: usize,
}

/// Reads the input front to back; past its end everything reads as zero.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&byte, rest)) => {
                self.0 = rest;
                byte
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Receive sizes, deterministic per input.
struct Chunks {
    state: u32,
    max: usize,
}

impl Chunks {
    /// The most the next receive takes, `consumed` bytes into the stream.
    fn next(&mut self, consumed: usize) -> usize {
        let until = if self.max <= 48 {
            TINY_CHUNKS_UNTIL
        } else {
            SMALL_CHUNKS_UNTIL
        };
        if self.max == 0 || consumed >= until {
            return usize::MAX;
        }
        // xorshift32
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        1 + self.state as usize % self.max
    }
}

/// One task's buffer inside its own allocation, with guard bytes around it.
struct Buffer {
    memory: Vec<u8>,
    start: usize,
    len: usize,
    /// io_uring fixed-buffer index, for a fixed buffer.
    fixed: Option<u16>,
    /// The longest transfer a DDP tag ever bound on it: only `..bound` may be written.
    bound: usize,
    /// The tag bound now and those bound and released before (stale).
    itt: Option<u32>,
    ddp: Option<t3_hw::DdpTag>,
    stale: Vec<u32>,
}

impl Buffer {
    fn new(len: usize, misalign: usize, fixed: Option<u16>) -> Buffer {
        let memory = vec![GUARD_BYTE; len + misalign + 2 * GUARD_LEN + 4096];
        let base = memory.as_ptr() as usize;
        let start = (base + GUARD_LEN).next_multiple_of(4096) - base + misalign;
        Buffer {
            memory,
            start,
            len,
            fixed,
            bound: 0,
            itt: None,
            ddp: None,
            stale: Vec::new(),
        }
    }

    fn ptr(&mut self) -> *mut u8 {
        self.memory[self.start..].as_mut_ptr()
    }

    fn range(&self) -> (usize, usize) {
        let base = self.memory.as_ptr() as usize;
        (base, base + self.memory.len())
    }

    fn body_addr(&self) -> usize {
        self.memory.as_ptr() as usize + self.start
    }

    /// Panics unless every byte outside `..bound` of the body still holds the guard value.
    fn check_guards(&self, task: usize) {
        let (head, rest) = self.memory.split_at(self.start + self.bound);
        let head = &head[..self.start];
        let written = first_not_guard(head)
            .or_else(|| first_not_guard(rest).map(|at| self.start + self.bound + at));
        if let Some(at) = written {
            let body = at as isize - self.start as isize;
            panic!(
                "task {task}: byte {body} of a {}-byte buffer (bound {}) was written",
                self.len, self.bound
            );
        }
    }
}

/// The index of the first byte that is not the guard value.
fn first_not_guard(bytes: &[u8]) -> Option<usize> {
    const GUARDS: [u8; 4096] = [GUARD_BYTE; 4096];
    // Slice comparison is a memcmp: quick even unoptimised.
    let chunk = bytes
        .chunks(GUARDS.len())
        .position(|chunk| chunk != &GUARDS[..chunk.len()])?;
    let at = chunk * GUARDS.len();
    bytes[at..]
        .iter()
        .position(|&byte| byte != GUARD_BYTE)
        .map(|offset| at + offset)
}

/// A submitted SQE, as the kernel reads it.
struct Sqe {
    token: u64,
    raw: [u8; 64],
}

impl Sqe {
    fn opcode(&self) -> u8 {
        self.raw[0]
    }
    fn flags(&self) -> u8 {
        self.raw[1]
    }
    fn fd(&self) -> i32 {
        i32::from_ne_bytes(self.raw[4..8].try_into().unwrap())
    }
    fn addr(&self) -> u64 {
        u64::from_ne_bytes(self.raw[16..24].try_into().unwrap())
    }
    fn len(&self) -> u32 {
        u32::from_ne_bytes(self.raw[24..28].try_into().unwrap())
    }
    fn msg_flags(&self) -> u32 {
        u32::from_ne_bytes(self.raw[28..32].try_into().unwrap())
    }
    fn buf_index(&self) -> u16 {
        u16::from_ne_bytes(self.raw[40..42].try_into().unwrap())
    }
}

/// SQEs linked together (IOSQE_IO_LINK), run one after the other.
struct Chain {
    ops: VecDeque<Sqe>,
    /// An op failed: the rest complete with -ECANCELED.
    broken: bool,
}

/// What a step of the stream holds back until it has been applied.
#[derive(Clone, Copy, Debug)]
enum Action {
    Submode(UlpSubmode),
    Release(usize),
    Bind(usize, u32),
}

/// A CQE: token, result, flags.
type Cqe = (u64, i32, u32);

enum Exec {
    Done {
        result: i32,
        flags: u32,
        breaks: bool,
    },
    Blocked,
}

/// The fake kernel: a submission queue, the chains in flight and the peer's byte stream.
struct Kernel {
    submitted: Vec<Sqe>,
    chains: VecDeque<Chain>,
    capacity: usize,
    stream: Vec<u8>,
    consumed: usize,
    /// Stream positions where an action waits to be applied, in order.
    fences: VecDeque<(usize, Action)>,
    chunks: Chunks,
    refuse_setsockopt: bool,
    /// Report end of stream once everything was received (else the peer goes quiet).
    eof_at_end: bool,
    /// Allocations of the task buffers: (start, end, body start, writable bytes), and fixed
    /// buffer `index` at `base` with `len` bytes.
    regions: Vec<(usize, usize, usize, usize)>,
    fixed: Vec<(u16, usize, usize)>,
    /// Teardown: no more bytes arrive.
    quiet: bool,
    read_fixed: usize,
}

impl Submitter for Kernel {
    fn sq_space(&mut self) -> usize {
        self.capacity - self.submitted.len()
    }

    fn push(&mut self, token: u64, sqe: Entry) -> Result<(), SqFull> {
        if self.submitted.len() == self.capacity {
            return Err(SqFull);
        }
        // SAFETY: `Entry` is `#[repr(C)]` around the kernel's 64-byte `io_uring_sqe`.
        let raw: [u8; 64] = unsafe { std::mem::transmute(sqe) };
        self.submitted.push(Sqe { token, raw });
        Ok(())
    }
}

impl Kernel {
    /// io_uring_enter: the submitted SQEs become chains.
    fn enter(&mut self) {
        let mut chain = VecDeque::new();
        for sqe in self.submitted.drain(..) {
            let linked = sqe.flags() & IOSQE_IO_LINK != 0;
            chain.push_back(sqe);
            if !linked {
                self.chains.push_back(Chain {
                    ops: std::mem::take(&mut chain),
                    broken: false,
                });
            }
        }
        if !chain.is_empty() {
            // A link flag on the last SQE of a submission ends the chain there.
            self.chains.push_back(Chain {
                ops: chain,
                broken: false,
            });
        }
    }

    /// Bytes the peer has sent that no receive took yet.
    fn available(&self) -> usize {
        if self.quiet {
            return 0;
        }
        let until = self.fences.front().map_or(self.stream.len(), |f| f.0);
        until - self.consumed
    }

    /// Whether the peer will never send another byte.
    fn finished(&self) -> bool {
        self.consumed == self.stream.len() && self.fences.is_empty()
    }

    /// Runs chains until one makes progress: all its runnable ops when `whole_chain`, else
    /// one op. Returns the CQEs, or `None` if every chain waits for bytes.
    fn step(&mut self, whole_chain: bool) -> Option<Vec<Cqe>> {
        let mut cqes = Vec::new();
        for index in 0..self.chains.len() {
            while let Some(sqe) = self.chains[index].ops.front() {
                if self.chains[index].broken {
                    cqes.push((sqe.token, -ECANCELED, 0));
                    self.chains[index].ops.pop_front();
                    continue;
                }
                if sqe.opcode() == opcode::AsyncCancel2::CODE {
                    let sqe = self.chains[index].ops.pop_front().unwrap();
                    let result = self.cancel(index, sqe.fd(), &mut cqes);
                    cqes.push((sqe.token, result, 0));
                    continue;
                }
                match self.execute(index) {
                    Exec::Blocked => break,
                    Exec::Done {
                        result,
                        flags,
                        breaks,
                    } => {
                        let sqe = self.chains[index].ops.pop_front().unwrap();
                        cqes.push((sqe.token, result, flags));
                        if breaks {
                            self.chains[index].broken = true;
                        }
                        if !whole_chain {
                            break;
                        }
                    }
                }
            }
            if !cqes.is_empty() {
                break;
            }
        }
        self.chains.retain(|chain| !chain.ops.is_empty());
        (!cqes.is_empty()).then_some(cqes)
    }

    /// ASYNC_CANCEL of every op on `fd` in the other chains; returns the cancel's result.
    fn cancel(&mut self, own: usize, fd: i32, cqes: &mut Vec<Cqe>) -> i32 {
        let mut cancelled = 0;
        for index in 0..self.chains.len() {
            if index == own
                || self.chains[index]
                    .ops
                    .front()
                    .is_none_or(|op| op.fd() != fd)
            {
                continue;
            }
            for sqe in self.chains[index].ops.drain(..) {
                cqes.push((sqe.token, -ECANCELED, 0));
                cancelled += 1;
            }
        }
        if cancelled == 0 {
            -libc::ENOENT
        } else {
            cancelled
        }
    }

    /// Carries out the first op of chain `index` if it can complete now.
    fn execute(&mut self, index: usize) -> Exec {
        let sqe = self.chains[index].ops.front().unwrap();
        let done = |result: i32| Exec::Done {
            result,
            flags: 0,
            breaks: result < 0,
        };
        match sqe.opcode() {
            opcode::Connect::CODE | opcode::Shutdown::CODE => done(0),
            opcode::SetSockOpt::CODE if self.refuse_setsockopt => done(-libc::EOPNOTSUPP),
            opcode::SetSockOpt::CODE => done(0),
            opcode::Recv::CODE => {
                let pieces = vec![(sqe.addr() as usize, sqe.len() as usize)];
                let waitall = sqe.msg_flags() & libc::MSG_WAITALL as u32 != 0;
                self.receive(pieces, waitall, false)
            }
            opcode::RecvMsg::CODE => {
                // SAFETY: the engine keeps the msghdr and its iovecs alive while the op is in
                // flight (its documented contract with the ring).
                let pieces = unsafe {
                    let msg = &*(sqe.addr() as *const libc::msghdr);
                    assert!(
                        msg.msg_iovlen <= 1024,
                        "RECVMSG with {} iovecs",
                        msg.msg_iovlen
                    );
                    std::slice::from_raw_parts(msg.msg_iov, msg.msg_iovlen)
                        .iter()
                        .map(|iov| (iov.iov_base as usize, iov.iov_len))
                        .collect::<Vec<_>>()
                };
                let waitall = sqe.msg_flags() & libc::MSG_WAITALL as u32 != 0;
                self.receive(pieces, waitall, false)
            }
            opcode::ReadFixed::CODE => {
                let (addr, len) = (sqe.addr() as usize, sqe.len() as usize);
                let inside = self.fixed.iter().any(|&(index, base, buf_len)| {
                    index == sqe.buf_index()
                        && addr >= base
                        && addr
                            .checked_add(len)
                            .is_some_and(|end| end <= base + buf_len)
                });
                if !inside {
                    // The kernel checks a fixed buffer's range itself.
                    return done(-libc::EFAULT);
                }
                self.read_fixed += 1;
                self.receive(vec![(addr, len)], false, true)
            }
            other => panic!("the engine pushed an op the harness does not model: {other}"),
        }
    }

    /// A receive into `pieces`: what is available, up to this op's chunk; a WAITALL op waits
    /// for all of it unless the stream has ended. A short READ or WAITALL receive, or an
    /// error, breaks the link.
    fn receive(&mut self, pieces: Vec<(usize, usize)>, waitall: bool, read: bool) -> Exec {
        let want: usize = pieces.iter().map(|p| p.1).sum();
        let available = self.available();
        if want == 0 {
            return Exec::Done {
                result: 0,
                flags: 0,
                breaks: false,
            };
        }
        let at_end = self.finished() && self.eof_at_end && !self.quiet;
        if available == 0 && !at_end {
            return Exec::Blocked;
        }
        if waitall && available < want && !at_end {
            return Exec::Blocked;
        }
        let n = if waitall {
            want.min(available)
        } else {
            want.min(available).min(self.chunks.next(self.consumed))
        };
        let mut left = n;
        for (addr, len) in pieces {
            if left == 0 {
                break;
            }
            let take = len.min(left);
            self.write(addr, take);
            left -= take;
        }
        let flags = if self.available() > 0 {
            IORING_CQE_F_SOCK_NONEMPTY
        } else {
            0
        };
        Exec::Done {
            result: n as i32,
            flags,
            breaks: (waitall || read) && n < want,
        }
    }

    /// Copies the next `len` stream bytes to `addr`, checking the target first.
    fn write(&mut self, addr: usize, len: usize) {
        let end = addr.checked_add(len).expect("write range wraps");
        for &(start, stop, body, writable) in &self.regions {
            if addr < stop && end > start {
                assert!(
                    addr >= body && end <= body + writable,
                    "receive writes {len} bytes at {:+} of a task buffer with {writable} bound bytes",
                    addr as isize - body as isize
                );
            }
        }
        let bytes = &self.stream[self.consumed..self.consumed + len];
        // SAFETY: the SQE names this memory: a task buffer range checked just above, or the
        // engine's own receive buffers, which it keeps alive while the op is in flight. An
        // address that is neither is the bug this harness looks for (AddressSanitizer reports
        // it).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, len) };
        self.consumed += len;
    }
}

/// Engine and stream settings read from the front of the input.
struct Setup {
    digests: UlpSubmode,
    staging: u32,
    exact_from: u32,
    wake_on: u32,
    max_segment: u32,
    whole_chains: bool,
    refuse_setsockopt: bool,
    eof_at_end: bool,
    page_64k: bool,
    chunks: Chunks,
}

impl Setup {
    fn read(input: &mut Input<'_>) -> Setup {
        let a = input.u8();
        let b = input.u8();
        let c = input.u8();
        Setup {
            digests: UlpSubmode::from_bits(a & 3).unwrap(),
            staging: [0, 512, 4096, 65536][usize::from(b & 3)],
            exact_from: [0, 512, 4096, 32768][usize::from(b >> 2 & 3)],
            wake_on: [0, 0, 1024, 65536][usize::from(b >> 4 & 3)],
            max_segment: [8192, 65536, 262144, 1000][usize::from(b >> 6)],
            whole_chains: a & 4 != 0,
            refuse_setsockopt: a & 8 != 0,
            eof_at_end: a & 16 != 0,
            page_64k: a & 0xE0 == 0xE0,
            chunks: Chunks {
                state: u32::from(c) | 0x100,
                max: [0, 1, 7, 48, 100, 1500, 4096, 9000][usize::from(c & 7)],
            },
        }
    }
}

fn set_len(bhs: &mut [u8; BHS_LEN], data_len: usize) {
    bhs[5..8].copy_from_slice(&(data_len as u32).to_be_bytes()[1..]);
}

/// Appends a PDU: `bhs` (its lengths already set), AHS and data, padding and the digests the
/// submode asks for; `corrupt` flips the header digest (bit 0), the data digest (bit 1), or
/// makes the padding non-zero (bit 2).
fn frame(
    out: &mut Vec<u8>,
    bhs: &[u8; BHS_LEN],
    data_len: usize,
    digests: UlpSubmode,
    seed: u8,
    corrupt: u8,
) {
    let ahs_len = usize::from(bhs[4]) * 4;
    let header_start = out.len();
    out.extend_from_slice(bhs);
    out.extend((0..ahs_len).map(|i| i as u8 ^ seed));
    if digests.header_digest {
        let mut digest = to_wire(crc32c(&out[header_start..]));
        digest[0] ^= corrupt & 1;
        out.extend_from_slice(&digest);
    }
    if data_len == 0 {
        return;
    }
    let data_start = out.len();
    out.extend((0..data_len).map(|i| (i as u8).wrapping_mul(31) ^ seed));
    let padded = data_len.next_multiple_of(4);
    out.extend(std::iter::repeat_n(0u8, padded - data_len));
    if corrupt & 4 != 0 && padded > data_len {
        *out.last_mut().unwrap() = 1;
    }
    if digests.data_digest {
        let mut digest = to_wire(crc32c(&out[data_start..]));
        digest[0] ^= corrupt >> 1 & 1;
        out.extend_from_slice(&digest);
    }
}

/// The ITT a selector byte names: a task's live tag, one of its stale ones, a miscoloured
/// copy, a non-DDP tag or (given as `raw`) anything.
fn pick_itt(buffers: &[Buffer], engine: &Engine, selector: u8, raw: u32) -> u32 {
    let buffer = &buffers[usize::from(selector) % TASKS];
    let live = buffer.itt.unwrap_or(raw);
    match selector / TASKS as u8 % 5 {
        0 => live,
        1 => buffer.stale.last().copied().unwrap_or(live),
        2 => live ^ 1,
        3 => engine
            .ppm()
            .tag_format()
            .make_non_ddp_tag(raw & 0xFF)
            .unwrap_or(raw),
        _ => raw,
    }
}

/// Builds the peer's byte stream and the actions between its PDUs from the rest of the input.
fn script(
    input: &mut Input<'_>,
    buffers: &[Buffer],
    engine: &Engine,
    mut digests: UlpSubmode,
    max_segment: u32,
) -> (Vec<u8>, VecDeque<(usize, Action)>) {
    let mut stream = Vec::new();
    let mut fences = VecDeque::new();
    while !input.is_empty() && stream.len() < STREAM_MAX {
        let record = input.u8();
        match record & 7 {
            0 | 1 => {
                let n = usize::from(input.u8());
                stream.extend_from_slice(input.bytes(n));
            }
            kind @ (2 | 3 | 6) => {
                // A Data-In.
                let selector = input.u8();
                let flags = input.u8();
                let offset = if flags & 4 != 0 {
                    input.u32()
                } else {
                    u32::from(input.u16())
                };
                // Up to 16 KiB; kind 6 up to 256 KiB (WAITALL bodies, SO_RCVLOWAT raises).
                let len = match kind {
                    6 => usize::from(input.u16()) * 4,
                    _ => usize::from(input.u16() & 0x3FFF),
                };
                let raw = if selector / TASKS as u8 % 5 >= 3 {
                    input.u32()
                } else {
                    0
                };
                let mut bhs = [0u8; BHS_LEN];
                bhs[0] = 0x25;
                bhs[1] = flags & 0x83; // F, S and U/O bits as given
                bhs[4] = flags >> 6 & 1; // an AHS word now and then
                bhs[16..20]
                    .copy_from_slice(&pick_itt(buffers, engine, selector, raw).to_be_bytes());
                bhs[40..44].copy_from_slice(&offset.to_be_bytes());
                set_len(&mut bhs, len);
                if len > max_segment as usize {
                    // The engine aborts on the header; nothing behind it is read.
                    stream.extend_from_slice(&bhs);
                    break;
                }
                frame(&mut stream, &bhs, len, digests, record, flags >> 3 & 7);
            }
            4 | 7 => {
                // Any header, the ITT steered towards a tag now and then; data as declared.
                let mut bhs = [0u8; BHS_LEN];
                let taken = input.bytes(BHS_LEN);
                bhs[..taken.len()].copy_from_slice(taken);
                if record & 7 == 7 {
                    let itt = pick_itt(
                        buffers,
                        engine,
                        bhs[16],
                        u32::from_be_bytes(bhs[16..20].try_into().unwrap()),
                    );
                    bhs[16..20].copy_from_slice(&itt.to_be_bytes());
                }
                let len = u32::from_be_bytes([0, bhs[5], bhs[6], bhs[7]]) as usize;
                if len > max_segment as usize {
                    stream.extend_from_slice(&bhs);
                    break;
                }
                frame(&mut stream, &bhs, len, digests, record, record >> 3 & 7);
            }
            _ => {
                let what = input.u8();
                let action = match what % 3 {
                    0 => {
                        digests = UlpSubmode::from_bits(what >> 2 & 3).unwrap();
                        Action::Submode(digests)
                    }
                    1 => Action::Release(usize::from(what >> 2) % TASKS),
                    _ => Action::Bind(usize::from(what >> 2) % TASKS, u32::from(input.u16())),
                };
                fences.push_back((stream.len(), action));
            }
        }
    }
    (stream, fences)
}

/// Binds a DDP tag for `xfer` bytes of task `task`'s buffer (what the initiator does before
/// sending a read), remembering the tag it replaces as stale.
fn bind(engine: &mut Engine, buffers: &mut [Buffer], tid: Tid, task: usize, xfer: u32) {
    release(engine, buffers, task);
    let buffer = &mut buffers[task];
    match engine.reserve_ddp(tid, task as u32, task as u32, xfer) {
        Ok(reservation) => {
            buffer.itt = Some(reservation.itt);
            buffer.ddp = reservation.ddp;
            if reservation.ddp.is_some() {
                buffer.bound = buffer.bound.max(buffer.len.min(xfer as usize));
            }
        }
        Err(_) => buffer.itt = None,
    }
}

fn release(engine: &mut Engine, buffers: &mut [Buffer], task: usize) {
    let buffer = &mut buffers[task];
    if let Some(tag) = buffer.ddp.take() {
        engine.ppm_mut().release(tag).expect("releasing a live tag");
    }
    if let Some(itt) = buffer.itt.take() {
        buffer.stale.push(itt);
    }
}

struct Harness {
    engine: Engine,
    kernel: Kernel,
    summary: Summary,
    tid: Option<Tid>,
    max_segment: u32,
}

impl Harness {
    /// Routes CQEs to the engine and looks at what it reports.
    fn deliver(&mut self, cqes: Vec<Cqe>) {
        for (token, result, flags) in cqes {
            self.engine.on_cqe(token, result, flags);
        }
        while let Some(completion) = self.engine.poll_completion() {
            match completion {
                Completion::ActEstablish { tid, .. } => self.tid = Some(tid),
                Completion::IscsiHdr(header) => {
                    assert!(header.data.len() <= self.max_segment as usize);
                    if header.ddp_status.contains(t3_hw::DdpStatus::HDRCRC_ERR) {
                        self.summary.stopped_reading = true;
                    }
                    self.summary.pdus += 1;
                    if header.data_placed() {
                        self.summary.placed += 1;
                    }
                }
                Completion::Abort { .. } => self.summary.aborted = true,
                Completion::PeerClose { .. } => self.summary.stopped_reading = true,
                _ => {}
            }
        }
    }

    /// Flush, enter, and run one step; false when nothing can move.
    fn turn(&mut self, whole_chains: bool) -> bool {
        // A full queue keeps the rest for the next flush.
        let _ = self.engine.flush(&mut self.kernel);
        self.kernel.enter();
        match self.kernel.step(whole_chains) {
            Some(cqes) => {
                self.summary.steps += 1;
                self.deliver(cqes);
                true
            }
            None => false,
        }
    }
}

/// Runs one input; panics if the engine breaks an invariant.
pub fn run(data: &[u8]) -> Summary {
    let mut input = Input(data);
    let setup = Setup::read(&mut input);
    let mut buffers: Vec<Buffer> = (0..TASKS)
        .map(|task| {
            let shape = input.u8();
            let len = [512, 4096, 4096 * 3 + 100, 8192, 16384, 65536, 1000, 40000]
                [usize::from(shape & 7)];
            let misalign = [0, 1, 512, 4000][usize::from(shape >> 3 & 3)];
            let fixed = (shape & 0x20 != 0).then_some(task as u16);
            Buffer::new(len, misalign, fixed)
        })
        .collect();
    let binds: Vec<(bool, bool, u16)> = (0..TASKS)
        .map(|_| {
            let how = input.u8();
            (how & 1 == 0, how & 2 != 0, input.u16())
        })
        .collect();

    let mut config = EngineConfig::new(PpmConfig::new(1024, 4096), setup.max_segment);
    config.rx_staging_bytes = setup.staging;
    config.rx_exact_placement_bytes = setup.exact_from;
    config.rx_wake_on_bytes = setup.wake_on;
    let mut engine = Engine::new(config).expect("engine config");
    let mut fixed = Vec::new();
    for (task, buffer) in buffers.iter_mut().enumerate() {
        let (ptr, len) = (buffer.ptr(), buffer.len);
        match buffer.fixed {
            Some(index) => {
                engine.register_fixed_task_buffer(task as u32, index, ptr as u64, len);
                fixed.push((index, ptr as usize, len));
            }
            // SAFETY: the buffers outlive the engine (dropped after it below) and nothing else
            // touches them while it runs.
            None => unsafe { engine.register_task_buffer(task as u32, ptr, len) },
        }
    }
    let kernel = Kernel {
        submitted: Vec::new(),
        chains: VecDeque::new(),
        capacity: 64,
        stream: Vec::new(),
        consumed: 0,
        fences: VecDeque::new(),
        chunks: setup.chunks,
        refuse_setsockopt: setup.refuse_setsockopt,
        eof_at_end: setup.eof_at_end,
        regions: Vec::new(),
        fixed,
        quiet: false,
        read_fixed: 0,
    };
    let mut harness = Harness {
        engine,
        kernel,
        summary: Summary::default(),
        tid: None,
        max_segment: setup.max_segment,
    };
    let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
    harness
        .engine
        .post(WorkRequest::ActOpen {
            atid: 1,
            peer,
            local: None,
        })
        .expect("open");
    while harness.tid.is_none() && harness.turn(setup.whole_chains) {}
    if let Some(tid) = harness.tid {
        harness.summary.established = true;
        let engine = &mut harness.engine;
        engine
            .post(WorkRequest::SetTcbField(SetTcbField::ulp_submode(
                tid,
                setup.digests,
            )))
            .expect("submode");
        if setup.page_64k {
            engine
                .post(WorkRequest::SetTcbField(SetTcbField::ddp_page_size(
                    tid,
                    PageSize::Size64K,
                )))
                .expect("page size");
        }
        for (task, &(reserve, stale, xfer)) in binds.iter().enumerate() {
            if !reserve {
                continue;
            }
            let xfer = if xfer == 0 {
                buffers[task].len as u32
            } else {
                u32::from(xfer) % (buffers[task].len as u32 + 2)
            };
            bind(engine, &mut buffers, tid, task, xfer);
            if stale {
                bind(engine, &mut buffers, tid, task, xfer);
            }
        }
        let (stream, fences) = script(
            &mut input,
            &buffers,
            &harness.engine,
            setup.digests,
            setup.max_segment,
        );
        harness.kernel.stream = stream;
        harness.kernel.fences = fences;
        harness.kernel.regions = regions_of(&buffers);
        let limit = 64 + 8 * (harness.kernel.stream.len() + harness.kernel.fences.len());
        let mut turns = 0;
        loop {
            turns += 1;
            assert!(turns < limit, "the receive side makes no progress");
            if harness.turn(setup.whole_chains) {
                continue;
            }
            // Blocked: the peer's next step is an action, or it has said everything.
            if harness.kernel.available() == 0 {
                if let Some((_, action)) = harness.kernel.fences.pop_front() {
                    apply(&mut harness.engine, &mut buffers, tid, action);
                    harness.kernel.regions = regions_of(&buffers);
                    continue;
                }
            }
            break;
        }
        harness.summary.bytes_received = harness.kernel.consumed;
        // Liveness: bytes wait in the socket, so a connection still reading must have a
        // receive in flight.
        let summary = &harness.summary;
        assert!(
            harness.kernel.available() == 0
                || !harness.kernel.chains.is_empty()
                || summary.aborted
                || summary.stopped_reading,
            "the receive side stalled with {} bytes waiting",
            harness.kernel.available()
        );
    }

    // Teardown: the engine cancels what is in flight; no byte arrives any more.
    harness.kernel.quiet = true;
    harness.engine.shut_down();
    let mut turns = 0;
    while harness.engine.ops_in_flight() > 0 || !harness.kernel.chains.is_empty() {
        turns += 1;
        assert!(
            turns < 1000,
            "teardown does not finish: {} ops in flight",
            harness.engine.ops_in_flight()
        );
        harness.turn(true);
    }
    harness.summary.read_fixed = harness.kernel.read_fixed;
    let summary = harness.summary.clone();
    drop(harness);
    for (task, buffer) in buffers.iter().enumerate() {
        buffer.check_guards(task);
    }
    summary
}

fn regions_of(buffers: &[Buffer]) -> Vec<(usize, usize, usize, usize)> {
    buffers
        .iter()
        .map(|buffer| {
            let (start, end) = buffer.range();
            (start, end, buffer.body_addr(), buffer.bound)
        })
        .collect()
}

fn apply(engine: &mut Engine, buffers: &mut [Buffer], tid: Tid, action: Action) {
    match action {
        Action::Submode(digests) => {
            // Refused once the connection is being torn down; nothing to check then.
            let _ = engine.post(WorkRequest::SetTcbField(SetTcbField::ulp_submode(
                tid, digests,
            )));
        }
        Action::Release(task) => release(engine, buffers, task),
        Action::Bind(task, xfer) => {
            let xfer = xfer % (buffers[task].len as u32 + 2);
            bind(engine, buffers, tid, task, xfer);
        }
    }
}
