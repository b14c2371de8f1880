//! Fault injection against the initiator (t3-hw's `Client` on the io_uring engine):
//!
//! - a hostile target ([`cxgb3i_tests::hostile`]) breaks the protocol in every way its
//!   [`Scenario`] enum lists; the connection must end with the right error, promptly, without a
//!   panic, and without a byte written outside the command's part of the task buffer;
//! - the fault proxy ([`cxgb3i_tests::proxy`]) in front of a real tgtd flips, drops, resets and
//!   stalls PDUs, and the initiator must react as documented.
//!
//! Every test body runs on its own thread under a deadline, so a hang fails the test instead of
//! wedging the run.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use cxgb3i_tests::hostile::{
    self, HostileTarget, Report, Scenario, Trigger, BAD_STATUS_CLASS, BAD_STATUS_DETAIL,
    BEYOND_LEN, GOOD_BYTE, HOSTILE_BYTE, HUGE_DATA_SEGMENT, RESERVED_OPCODE, UNKNOWN_ITT,
};
use cxgb3i_tests::proxy::{Fault, Proxy, FLIP_MASK};
use cxgb3i_tests::{Backing, Tgtd};
use iscsi_proto::login::{random_isid, LoginConfig, LoginError, MAX_LOGIN_EXCHANGES};
use iscsi_proto::negotiation::DigestPreference;
use iscsi_proto::pdu::PduError;
use iscsi_proto::scsi::{self, BlockIo, Lun, ScsiRequest};
use iscsi_proto::session::{SessionError, TaskOutcome};
use t3_hw::initiator::{AlignedBuf, Client, ClientError, CommandSpec, ConnEvent, ConnFailure};
use t3_hw::{AbortReason, EngineConfig, PpmConfig};

const IQN: &str = "iqn.2026-11.org.ublk-cxgb3i:faults";
const INITIATOR: &str = "iqn.2026-11.org.ublk-cxgb3i:fault-tests";
const LUN_SIZE: u64 = 64 << 20;
/// Bound of one client operation.
const T: Duration = Duration::from_secs(10);
/// Bound of one whole test body.
const DEADLINE: Duration = Duration::from_secs(60);
/// The engine's (and the login's) MaxRecvDataSegmentLength.
const MAX_RECV: u32 = 262_144;
const TASKS: usize = 4;
const TASK_LEN: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// Runs `body` on its own thread; fails if it panics or is still running after `deadline`.
fn within<R: Send + 'static>(
    deadline: Duration,
    what: &str,
    body: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (done, result) = mpsc::channel();
    let worker = thread::Builder::new()
        .name(what.to_owned())
        .spawn(move || {
            let _ = done.send(body());
        })
        .expect("spawn the test body");
    match result.recv_timeout(deadline) {
        Ok(value) => {
            let _ = worker.join();
            value
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {deadline:?}: a hang")
        }
        Err(RecvTimeoutError::Disconnected) => {
            let payload = worker
                .join()
                .expect_err("no result means the body panicked");
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            panic!("{what}: panicked: {message}")
        }
    }
}

fn client() -> Client {
    client_with(Path::Ddp)
}

/// Which way Data-In payload reaches a task buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// Placed by the engine through the page pods (the T3's DDP).
    Ddp,
    /// Received inline and copied by the initiator: a page-pod region below the T3's minimum
    /// turns DDP off.
    Copy,
}

fn client_with(path: Path) -> Client {
    let pods = match path {
        Path::Ddp => 8192,
        Path::Copy => 512,
    };
    let mut client = Client::new(EngineConfig::new(PpmConfig::new(pods, 4096), MAX_RECV), 256)
        .expect("io_uring engine");
    client.add_tasks(TASKS, TASK_LEN);
    client
}

fn login_config(target: &str, digests: DigestPreference) -> LoginConfig {
    let isid = random_isid(&mut rand::thread_rng(), 0);
    let mut config = LoginConfig::normal(INITIATOR, target, isid);
    config.operational.header_digest = digests;
    config.operational.data_digest = digests;
    config.operational.max_recv_data_segment_length = MAX_RECV;
    config
}

/// `len` bytes at `lba` of a 512-byte-block LUN.
fn blocks_at(lba: u64, len: usize) -> BlockIo {
    BlockIo {
        lba,
        blocks: (len / 512) as u32,
        block_size: 512,
        fua: false,
    }
}

fn is_good(outcome: &TaskOutcome) -> bool {
    matches!(outcome, TaskOutcome::Status { status: 0, .. })
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(7919)) as u8)
        .collect()
}

/// A task buffer with guard regions: the engine gets only the middle `len` bytes; the guards
/// on both sides hold [`GUARD_BYTE`] and must never change.
struct Guarded {
    buf: AlignedBuf,
    len: usize,
}

/// Guard size on each side: whole pages, so the registered part stays page-aligned for DDP.
const GUARD: usize = 8192;
const GUARD_BYTE: u8 = 0xa5;
/// What the registered part holds before a scenario.
const FILL_BYTE: u8 = 0xc7;

impl Guarded {
    fn new(len: usize) -> Guarded {
        let mut buf = AlignedBuf::new(GUARD + len + GUARD);
        let all = buf.as_mut_slice();
        all.fill(GUARD_BYTE);
        all[GUARD..GUARD + len].fill(FILL_BYTE);
        Guarded { buf, len }
    }

    /// Registers the middle part as `task`'s buffer, replacing the client's own.
    ///
    /// The guarded buffer must outlive the client (declare it first), and is read only while
    /// the client is not being driven or after it was dropped.
    fn register(&mut self, client: &mut Client, task: u32) {
        let middle = self.buf.as_mut_slice()[GUARD..].as_mut_ptr();
        // SAFETY: GUARD + len bytes lie inside the allocation; the buffer outlives the client
        // (callers declare it first) and is only touched while the engine is not driven.
        unsafe {
            client
                .engine_mut()
                .register_task_buffer(task, middle, self.len)
        };
    }

    fn registered(&self) -> &[u8] {
        &self.buf.as_slice()[GUARD..GUARD + self.len]
    }

    fn registered_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut_slice()[GUARD..GUARD + self.len]
    }

    /// Fails if a guard byte changed or the registered part changed past `written`.
    fn check(&self, written: usize) -> Result<(), String> {
        let all = self.buf.as_slice();
        let (before, rest) = all.split_at(GUARD);
        let after = &rest[self.len..];
        if let Some(at) = before.iter().position(|&b| b != GUARD_BYTE) {
            return Err(format!(
                "guard before the buffer changed at -{}",
                GUARD - at
            ));
        }
        if let Some(at) = after.iter().position(|&b| b != GUARD_BYTE) {
            return Err(format!(
                "guard after the buffer changed at +{at} past its end"
            ));
        }
        if let Some(at) = self.registered()[written..]
            .iter()
            .position(|&b| b != FILL_BYTE)
        {
            return Err(format!(
                "byte {} of the registered buffer, past the command's {written} bytes, was written",
                written + at
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile target

/// Bytes each hostile READ / WRITE transfers.
const HOSTILE_LEN: usize = 8192;
/// Bytes registered for the task under test: twice the command, so a write past the command's
/// end lands in registered memory where it can be seen.
const REGISTERED: usize = 2 * HOSTILE_LEN;
const HOSTILE_TASK: u32 = 1;
/// The task of [`Trigger::ReadTwice`]'s first READ when it is not the task under test (its
/// own, unguarded buffer).
const OTHER_READ_TASK: u32 = 2;
const HOSTILE_LOGIN_TIMEOUT: Duration = Duration::from_secs(2);
/// What a WRITE sends.
const WRITE_BYTE: u8 = 0x77;

fn hostile_command(
    client: &mut Client,
    conn: usize,
    req: &ScsiRequest,
) -> Result<TaskOutcome, ClientError> {
    client
        .command(conn, HOSTILE_TASK, CommandSpec::new(0, req), T)
        .map(|(outcome, _)| outcome)
}

/// Drives the client through `scenario`'s trigger, a [`Trigger::ReadTwice`] with its first
/// READ on `first_read_task`; returns the error that ended it.
fn provoke(
    scenario: Scenario,
    target: &HostileTarget,
    client: &mut Client,
    guarded: &mut Guarded,
    first_read_task: u32,
) -> Result<(ClientError, Option<usize>), String> {
    let config = login_config(IQN, DigestPreference::None);
    let login = client.login(target.addr(), config, HOSTILE_LOGIN_TIMEOUT);
    if scenario.trigger() == Trigger::Login {
        return match login {
            Ok(_) => Err("the login succeeded".into()),
            Err(error) => Ok((error, None)),
        };
    }
    let conn = login.map_err(|e| format!("login failed: {e}"))?;
    let read = scsi::read16(blocks_at(0, HOSTILE_LEN)).unwrap();
    let error = match scenario.trigger() {
        Trigger::Read => hostile_command(client, conn, &read).err(),
        // Each command gets its own ITT, even the next one of the same task (without DDP, by
        // the generation in the software tag), so a Data-In for the first READ's ITT is stale.
        Trigger::ReadTwice => {
            let (first, _) = client
                .command(conn, first_read_task, CommandSpec::new(0, &read), T)
                .map_err(|e| format!("the first READ failed: {e}"))?;
            if !is_good(&first) {
                return Err(format!("the first READ ended {first:?}"));
            }
            let data = if first_read_task == HOSTILE_TASK {
                guarded.registered()
            } else {
                client.buffer(first_read_task).unwrap()
            };
            if data[..HOSTILE_LEN].iter().any(|&b| b != GOOD_BYTE) {
                return Err("the first READ's data is wrong".into());
            }
            hostile_command(client, conn, &read).err()
        }
        Trigger::Write => {
            guarded.registered_mut()[..HOSTILE_LEN].fill(WRITE_BYTE);
            let write = scsi::write16(blocks_at(0, HOSTILE_LEN)).unwrap();
            hostile_command(client, conn, &write).err()
        }
        Trigger::Login => unreachable!("handled above"),
    };
    let error = error.ok_or("the command completed: the initiator accepted the misbehaviour")?;
    Ok((error, Some(conn)))
}

/// Whether `error` is the one `scenario` must produce.
fn expected_error(
    scenario: Scenario,
    error: &ClientError,
    abort_reason: Option<AbortReason>,
    report: &Report,
) -> bool {
    let len = HOSTILE_LEN as u32;
    let conn = match error {
        ClientError::Conn(conn) => Some(conn),
        _ => None,
    };
    match scenario {
        Scenario::ReservedOpcode => matches!(
            conn,
            Some(ConnFailure::Pdu(PduError::UnknownOpcode(RESERVED_OPCODE)))
        ),
        // The engine refuses the header before reading any of the segment and aborts.
        Scenario::HugeDataSegment => {
            matches!(conn, Some(ConnFailure::Aborted { .. }))
                && abort_reason
                    == Some(AbortReason::DataSegmentTooLong {
                        len: HUGE_DATA_SEGMENT,
                        max: MAX_RECV,
                    })
        }
        Scenario::UnknownItt => matches!(
            conn,
            Some(ConnFailure::Session(SessionError::UnknownItt(UNKNOWN_ITT)))
        ),
        Scenario::StaleItt => {
            let first = report.commands.first().map(|c| c.itt);
            let second = report.commands.get(1).map(|c| c.itt);
            first != second
                && matches!(conn, Some(ConnFailure::Session(SessionError::UnknownItt(itt)))
                    if Some(*itt) == first)
        }
        Scenario::OffsetPastEnd => matches!(
            conn,
            Some(ConnFailure::Session(SessionError::DataPastEnd { offset, len: l, expected_len, .. }))
                if *offset == len && *l == BEYOND_LEN && *expected_len == len
        ),
        Scenario::CrossesEnd => matches!(
            conn,
            Some(ConnFailure::Session(SessionError::DataPastEnd { offset, len: l, expected_len, .. }))
                if *offset == len / 2 && *l == len && *expected_len == len
        ),
        Scenario::R2tBeyondTransfer => matches!(
            conn,
            Some(ConnFailure::Session(SessionError::R2tRange { offset, len: l, expected_len, .. }))
                if *offset == len && *l == BEYOND_LEN && *expected_len == len
        ),
        // The login gives up after its bound on exchanges, long before the caller's timeout:
        // the target answered exactly that many Login Requests.
        Scenario::EndlessLogin => {
            matches!(
                conn,
                Some(ConnFailure::Login(LoginError::TooManyExchanges(n)))
                    if *n == MAX_LOGIN_EXCHANGES
            ) && report.login_rounds == u64::from(MAX_LOGIN_EXCHANGES)
        }
        // Too slow to use up the exchanges: the caller's timeout ends it.
        Scenario::SlowLogin => {
            matches!(error, ClientError::TimedOut(..))
                && report.login_rounds > 2
                && report.login_rounds < u64::from(MAX_LOGIN_EXCHANGES)
        }
        Scenario::BadLoginStatus => matches!(
            conn,
            Some(ConnFailure::Login(LoginError::Refused { class, detail }))
                if *class == BAD_STATUS_CLASS && *detail == BAD_STATUS_DETAIL
        ),
        Scenario::SenseLongerThanSegment => {
            matches!(conn, Some(ConnFailure::Session(SessionError::BadSense(_))))
        }
    }
}

/// Runs one scenario with Data-In taking `path`; `Err` says what went wrong.
fn hostile_scenario(scenario: Scenario, path: Path) -> Result<String, String> {
    hostile_scenario_from(scenario, path, OTHER_READ_TASK)
}

/// [`hostile_scenario`] with a [`Trigger::ReadTwice`]'s first READ on `first_read_task`.
fn hostile_scenario_from(
    scenario: Scenario,
    path: Path,
    first_read_task: u32,
) -> Result<String, String> {
    let target = HostileTarget::start(scenario).map_err(|e| format!("target: {e}"))?;
    // Declared before the client, so it outlives the engine that may write into it.
    let mut guarded = Guarded::new(REGISTERED);
    let mut client = client_with(path);
    guarded.register(&mut client, HOSTILE_TASK);

    let started = Instant::now();
    let provoked = provoke(
        scenario,
        &target,
        &mut client,
        &mut guarded,
        first_read_task,
    );
    let elapsed = started.elapsed();
    let conn = provoked.as_ref().ok().and_then(|(_, conn)| *conn);
    let abort_reason = conn.and_then(|conn| {
        let tid = client.conn(conn).tid()?;
        client.engine().abort_reason(tid)
    });
    let stats = conn.map(|conn| client.conn(conn).stats());
    // Dropping the client drives the engine idle: nothing can write into the buffer after.
    drop(client);
    let (error, _) = provoked?;
    let reads = match scenario.trigger() {
        Trigger::Read => 1,
        Trigger::ReadTwice => 2,
        Trigger::Login | Trigger::Write => 0,
    };
    let (ddp, not_ddp) = stats.map_or((0, 0), |s| (s.reads_ddp, s.reads_not_ddp));
    let expected = match path {
        Path::Ddp => (reads, 0),
        Path::Copy => (0, reads),
    };
    if (ddp, not_ddp) != expected {
        return Err(format!(
            "{reads} reads took the wrong path: {ddp} with DDP, {not_ddp} without"
        ));
    }
    if !target.wait_disconnected(Duration::from_secs(5)) {
        return Err("the target's connection is still open after the client was dropped".into());
    }
    let report = target.report();
    if !report.misbehaved {
        return Err(format!(
            "the target never misbehaved (error {error:?}, report {report:?})"
        ));
    }
    if !expected_error(scenario, &error, abort_reason, &report) {
        return Err(format!(
            "unexpected error {error:?} (engine abort reason {abort_reason:?}, target {report:?})"
        ));
    }
    if !report.errors.is_empty() {
        return Err(format!("the target failed: {:?}", report.errors));
    }
    // What the command may have written: nothing for a login or a WRITE, its length for reads.
    let written = match scenario.trigger() {
        Trigger::Login => 0,
        Trigger::Read | Trigger::ReadTwice | Trigger::Write => HOSTILE_LEN,
    };
    guarded.check(written)?;
    let command_part = &guarded.registered()[..written];
    if let Some(at) = command_part.iter().position(|&b| b == HOSTILE_BYTE) {
        return Err(format!(
            "a hostile payload byte landed at {at} of the buffer"
        ));
    }
    if scenario.trigger() == Trigger::Write {
        if command_part.iter().any(|&b| b != WRITE_BYTE) {
            return Err("a WRITE's buffer was written".into());
        }
        if report.data_out_bytes != 0 {
            return Err(format!(
                "the initiator sent {} Data-Out bytes for an R2T outside the transfer",
                report.data_out_bytes
            ));
        }
    }
    Ok(format!(
        "{} ({path:?}): {error} after {elapsed:.2?} ({} login rounds)",
        scenario.name(),
        report.login_rounds
    ))
}

/// Every hostile scenario ends the connection with its error, within the deadline, and leaves
/// the task buffer untouched outside the command's bytes; whether Data-In is placed by DDP or
/// copied by the initiator.
#[test]
fn every_hostile_scenario_ends_the_connection_cleanly() {
    let mut failures = Vec::new();
    for path in [Path::Ddp, Path::Copy] {
        for scenario in Scenario::ALL {
            let name = format!("hostile-{}-{path:?}", scenario.name());
            let result = std::panic::catch_unwind(|| {
                within(Duration::from_secs(20), &name, move || {
                    hostile_scenario(scenario, path)
                })
            });
            match result {
                Ok(Ok(summary)) => eprintln!("{summary}"),
                Ok(Err(why)) => failures.push(format!("{name}: {why}")),
                Err(_) => failures.push(format!("{name}: panicked or hung (see above)")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A late Data-In for a task's previous command is caught even when both READs come from the
/// same task: the second command's ITT differs from the first's (by the page-pod color with
/// DDP, by the software tag's generation without), so the stale ITT is unknown to the session
/// and ends the connection before its data reaches the task's buffer.
#[test]
fn a_stale_itt_of_the_same_task_is_caught() {
    let mut failures = Vec::new();
    for path in [Path::Copy, Path::Ddp] {
        let name = format!("stale-itt-same-task-{path:?}");
        let result = std::panic::catch_unwind(|| {
            within(Duration::from_secs(20), &name, move || {
                hostile_scenario_from(Scenario::StaleItt, path, HOSTILE_TASK)
            })
        });
        match result {
            Ok(Ok(summary)) => eprintln!("{summary} (both READs on one task)"),
            Ok(Err(why)) => failures.push(format!("{name}: {why}")),
            Err(_) => failures.push(format!("{name}: panicked or hung (see above)")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A login that times out must not go on behind the caller's back: `Client::login` aborts the
/// connection, so later polls of the same client send the target nothing more, and the target
/// sees the connection end while the client lives on.
#[test]
fn a_timed_out_login_stops() {
    within(DEADLINE, "login-timeout", || {
        let target = HostileTarget::start(Scenario::SlowLogin).unwrap();
        let mut client = client();
        let config = login_config(IQN, DigestPreference::None);
        let error = client
            .login(target.addr(), config, Duration::from_millis(500))
            .expect_err("the login never ends");
        assert!(matches!(error, ClientError::TimedOut(..)), "{error:?}");
        let at_timeout = target.report().login_rounds;
        assert!(at_timeout >= 2, "{:?}", target.report());
        assert!(
            client.conns().iter().all(|c| c.is_finished()),
            "the timed-out connection is finished"
        );
        // Whatever the client is asked to do next drives its ring.
        client.poll(Duration::from_millis(500)).unwrap();
        let later = target.report().login_rounds;
        // One exchange may have been under way at the timeout.
        assert!(
            later <= at_timeout + 1,
            "the login went on for {} more rounds after the timeout",
            later - at_timeout
        );
        assert!(
            target.wait_disconnected(Duration::from_secs(2)),
            "the target's connection is still open: {:?}",
            target.report()
        );
        assert!(target.report().errors.is_empty(), "{:?}", target.report());
    });
}

/// The target's data and status reach the initiator when nothing is wrong: the hostile
/// target's well-behaved paths work, so the scenarios above fail for their own reasons.
#[test]
fn hostile_target_serves_a_well_formed_read() {
    within(DEADLINE, "well-formed", || {
        // StaleItt completes its first READ correctly.
        let target = HostileTarget::start(Scenario::StaleItt).unwrap();
        let mut guarded = Guarded::new(REGISTERED);
        let mut client = client();
        guarded.register(&mut client, HOSTILE_TASK);
        let conn = client
            .login(target.addr(), login_config(IQN, DigestPreference::None), T)
            .unwrap();
        let params = client.conn(conn).params().unwrap().clone();
        assert_eq!(
            params.max_recv_data_segment_length,
            hostile::TARGET_MAX_RECV_DATA_SEGMENT
        );
        assert!(params.initial_r2t && !params.immediate_data, "{params:?}");
        let read = scsi::read16(blocks_at(0, HOSTILE_LEN)).unwrap();
        let outcome = hostile_command(&mut client, conn, &read).unwrap();
        assert!(is_good(&outcome), "{outcome:?}");
        drop(client);
        guarded.check(HOSTILE_LEN).unwrap();
        assert!(guarded.registered()[..HOSTILE_LEN]
            .iter()
            .all(|&b| b == GOOD_BYTE));
    });
}

// ---------------------------------------------------------------------------------------------
// Fault proxy in front of tgtd

fn lun1() -> u64 {
    u64::from_be_bytes(Lun::new(1).unwrap().encode().0)
}

fn tgtd() -> Tgtd {
    let tgtd = Tgtd::start().expect("tgtd starts (scripts/install-deps installs tgt)");
    let file = tgtd.scratch_file(LUN_SIZE).unwrap();
    tgtd.new_target(1, IQN)
        .unwrap()
        .add_lun(1, 1, Backing::File(file), None, &[])
        .unwrap()
        .bind_all(1)
        .unwrap();
    tgtd
}

fn proxy_for(tgtd: &Tgtd) -> Proxy {
    Proxy::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), tgtd.addr()).expect("proxy")
}

fn run(
    client: &mut Client,
    conn: usize,
    task: u32,
    req: &ScsiRequest,
) -> Result<TaskOutcome, ClientError> {
    client
        .command(conn, task, CommandSpec::new(lun1(), req), T)
        .map(|(outcome, _)| outcome)
}

/// Logs in through the proxy and waits out tgtd's first UNIT ATTENTION.
fn login_ready(client: &mut Client, proxy: &Proxy, digests: DigestPreference) -> usize {
    let conn = client
        .login(proxy.addr(), login_config(IQN, digests), T)
        .expect("login through the proxy");
    for _ in 0..4 {
        if is_good(&run(client, conn, 0, &scsi::test_unit_ready()).unwrap()) {
            return conn;
        }
    }
    panic!("unit never became ready");
}

/// Writes `len` bytes of a pattern at LBA 0 from task 1 and returns them.
fn write_pattern(client: &mut Client, conn: usize, len: usize) -> Vec<u8> {
    let data = pattern(len, len as u32);
    client.buffer_mut(1).unwrap()[..len].copy_from_slice(&data);
    let write = scsi::write16(blocks_at(0, len)).unwrap();
    let outcome = run(client, conn, 1, &write).unwrap();
    assert!(is_good(&outcome), "{outcome:?}");
    data
}

/// The ITT of `task`'s command, submitted and not yet sent (nothing goes out before the
/// client is driven again, so a fault armed now is in place before the target answers).
fn itt_of_latest(client: &Client, conn: usize, known: &[u32]) -> u32 {
    let session = client.conn(conn).session().unwrap();
    let itts: Vec<u32> = session
        .unfinished()
        .map(|(itt, ..)| itt)
        .filter(|itt| !known.contains(itt))
        .collect();
    assert_eq!(itts.len(), 1, "one new command in flight: {itts:?}");
    itts[0]
}

/// Drives the client for `wait` and returns every event that came.
fn events_during(client: &mut Client, wait: Duration) -> Vec<(usize, ConnEvent)> {
    let deadline = Instant::now() + wait;
    let mut events = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        client.poll(left.min(Duration::from_millis(50))).unwrap();
        events.extend(std::iter::from_fn(|| client.next_event()));
    }
    events
}

/// With DataDigest=CRC32C a bit flipped in a Data-In after the target computed its digest is
/// caught: the read fails with a data digest error and never completes as good.
#[test]
fn data_digest_catches_a_flipped_data_in_bit() {
    within(DEADLINE, "digest-flip", || {
        let tgtd = tgtd();
        tgtd.set_param(1, "HeaderDigest", "CRC32C")
            .unwrap()
            .set_param(1, "DataDigest", "CRC32C")
            .unwrap();
        let proxy = proxy_for(&tgtd);
        let mut client = client();
        let conn = login_ready(&mut client, &proxy, DigestPreference::Crc32cRequired);
        let params = client.conn(conn).params().unwrap().clone();
        assert!(params.header_digest && params.data_digest, "{params:?}");
        let stats = proxy.stats();
        assert!(
            stats.header_digest && stats.data_digest,
            "the proxy framed: {stats}"
        );

        let len = 65536;
        let data = write_pattern(&mut client, conn, len);
        let read = scsi::read16(blocks_at(0, len)).unwrap();
        // Framing with both digests is right: an untouched read comes back whole.
        client.buffer_mut(2).unwrap().fill(0);
        assert!(is_good(&run(&mut client, conn, 2, &read).unwrap()));
        assert!(client.buffer(2).unwrap()[..len] == data[..]);

        proxy.arm(Fault::flip_data_in());
        let error = run(&mut client, conn, 2, &read).expect_err("a corrupt read must fail");
        assert!(
            matches!(error, ClientError::Conn(ConnFailure::DataDigest)),
            "{error:?}"
        );
        assert_eq!(proxy.stats().flipped_data_in, 1, "{}", proxy.stats());
        let tid = client.conn(conn).tid().unwrap();
        let counters = client.engine().conn_counters(tid).unwrap();
        assert!(counters.data_digest_errors >= 1, "{counters:?}");
    });
}

/// Without digests nothing above TCP protects the data: a bit flipped between the target's
/// socket and the initiator's (here by the proxy; on a real network by a faulty NIC, switch or
/// memory, past TCP's 16-bit checksum) reaches the caller as GOOD status with wrong data. This
/// is the documented behaviour with DataDigest=None, not a bug: TCP checksums are all that
/// protects the data there. The test pins it down so that nobody mistakes digests for optional.
#[test]
fn without_digests_a_flipped_bit_reaches_the_caller_as_good_data() {
    within(DEADLINE, "plain-flip", || {
        let tgtd = tgtd();
        let proxy = proxy_for(&tgtd);
        let mut client = client();
        let conn = login_ready(&mut client, &proxy, DigestPreference::None);
        let stats = proxy.stats();
        assert!(!stats.header_digest && !stats.data_digest, "{stats}");

        let len = 65536;
        let data = write_pattern(&mut client, conn, len);
        proxy.arm(Fault::flip_data_in());
        client.buffer_mut(2).unwrap().fill(0);
        let read = scsi::read16(blocks_at(0, len)).unwrap();
        let outcome = run(&mut client, conn, 2, &read).unwrap();
        assert!(is_good(&outcome), "GOOD status: {outcome:?}");
        let got = &client.buffer(2).unwrap()[..len];
        let differing: Vec<usize> = (0..len).filter(|&i| got[i] != data[i]).collect();
        assert_eq!(
            differing.len(),
            1,
            "exactly one byte differs: {differing:?}"
        );
        assert_eq!(got[differing[0]] ^ data[differing[0]], FLIP_MASK);
        assert_eq!(proxy.stats().flipped_data_in, 1);
        client.logout_all(T).unwrap();
    });
}

/// An RST in the middle of a Data-In fails the connection at once: an error, not a hang.
#[test]
fn reset_in_the_middle_of_a_pdu_fails_the_connection() {
    within(DEADLINE, "reset", || {
        let tgtd = tgtd();
        let proxy = proxy_for(&tgtd);
        let mut client = client();
        let conn = login_ready(&mut client, &proxy, DigestPreference::None);
        let len = 262_144;
        write_pattern(&mut client, conn, len);
        proxy.arm(Fault::ResetMidPdu);
        let started = Instant::now();
        let read = scsi::read16(blocks_at(0, len)).unwrap();
        let error = run(&mut client, conn, 2, &read).expect_err("the connection was reset");
        assert!(
            matches!(
                error,
                ClientError::Conn(ConnFailure::Aborted {
                    errno: libc::ECONNRESET
                }) | ClientError::Conn(ConnFailure::PeerClosed)
            ),
            "{error:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(proxy.stats().resets, 1, "{}", proxy.stats());
        // The task is handed back for recovery.
        assert!(client.buffer(2).is_ok(), "task 2 is idle again");
    });
}

/// A dropped completion leaves its task outstanding: no completion arrives (the supervisor
/// turns that into ABORT TASK after its timeout), while the connection keeps working. Both
/// kinds: a WRITE's SCSI Response, and a READ's completion (whether tgtd sends it as a SCSI
/// Response or collapsed into the last Data-In).
#[test]
fn a_dropped_completion_leaves_the_task_outstanding() {
    within(DEADLINE, "drop", || {
        let tgtd = tgtd();
        let proxy = proxy_for(&tgtd);
        let mut client = client();
        let conn = login_ready(&mut client, &proxy, DigestPreference::None);
        let len = 65536;
        write_pattern(&mut client, conn, len);
        let quiet = Duration::from_millis(1500);

        // A WRITE whose SCSI Response is lost.
        let write = scsi::write16(blocks_at(1024, len)).unwrap();
        client
            .submit(conn, 1, CommandSpec::new(lun1(), &write))
            .unwrap();
        let write_itt = itt_of_latest(&client, conn, &[]);
        proxy.arm(Fault::DropResponse {
            itt: Some(write_itt),
            times: 1,
        });
        let events = events_during(&mut client, quiet);
        assert!(events.is_empty(), "no completion, no failure: {events:?}");
        assert_eq!(
            client.conn(conn).outstanding_tasks().collect::<Vec<_>>(),
            [1]
        );
        let stats = proxy.stats();
        assert_eq!(
            (stats.dropped_responses, &stats.dropped_itts[..]),
            (1, &[write_itt][..]),
            "{stats}"
        );

        // A READ whose completion is lost, in whichever PDU tgtd carries it.
        let read = scsi::read16(blocks_at(0, len)).unwrap();
        client
            .submit(conn, 2, CommandSpec::new(lun1(), &read))
            .unwrap();
        let read_itt = itt_of_latest(&client, conn, &[write_itt]);
        let only_this = Some(read_itt);
        proxy.arm(Fault::DropResponse {
            itt: only_this,
            times: 1,
        });
        proxy.arm(Fault::DropStatusDataIn {
            itt: only_this,
            times: 1,
        });
        let events = events_during(&mut client, quiet);
        assert!(events.is_empty(), "no completion, no failure: {events:?}");
        let mut outstanding: Vec<u32> = client.conn(conn).outstanding_tasks().collect();
        outstanding.sort_unstable();
        assert_eq!(outstanding, [1, 2]);
        let stats = proxy.stats();
        assert_eq!(
            stats.dropped_responses + stats.dropped_status_data_in,
            2,
            "{stats}"
        );
        assert_eq!(stats.dropped_itts, [write_itt, read_itt], "{stats}");
        eprintln!(
            "tgtd completes a READ with {}",
            if stats.dropped_status_data_in == 1 {
                "status in its last Data-In"
            } else {
                "a separate SCSI Response"
            }
        );
        assert_eq!(
            proxy.armed().len(),
            1,
            "the other READ completion fault is left"
        );
        proxy.disarm_all();

        // The connection still works.
        let outcome = run(&mut client, conn, 3, &scsi::test_unit_ready()).unwrap();
        assert!(is_good(&outcome), "{outcome:?}");
        assert_eq!(client.conn(conn).outstanding_tasks().count(), 2);
    });
}

/// A 2-second stall of both directions delays a READ, which then completes with the right data.
#[test]
fn a_two_second_stall_delays_io_which_then_completes() {
    within(DEADLINE, "stall", || {
        let tgtd = tgtd();
        let proxy = proxy_for(&tgtd);
        let mut client = client();
        let conn = login_ready(&mut client, &proxy, DigestPreference::None);
        let len = 65536;
        let data = write_pattern(&mut client, conn, len);
        client.buffer_mut(2).unwrap().fill(0);

        let stall = Duration::from_secs(2);
        let started = Instant::now();
        proxy.arm(Fault::Stall(stall));
        let read = scsi::read16(blocks_at(0, len)).unwrap();
        client
            .submit(conn, 2, CommandSpec::new(lun1(), &read))
            .unwrap();
        let events = events_during(&mut client, Duration::from_secs(1));
        assert!(
            events.is_empty(),
            "nothing passes during the stall: {events:?}"
        );
        let (_, event) = client.wait_event(T).unwrap();
        let elapsed = started.elapsed();
        match event {
            ConnEvent::TaskDone {
                task: 2, outcome, ..
            } => assert!(is_good(&outcome), "{outcome:?}"),
            other => panic!("{other:?}"),
        }
        assert!(
            elapsed >= stall,
            "completed after {elapsed:?}, inside the stall"
        );
        assert!(elapsed < stall + Duration::from_secs(3), "{elapsed:?}");
        assert!(client.buffer(2).unwrap()[..len] == data[..]);
        assert_eq!(proxy.stats().stalls, 1);
        client.logout_all(T).unwrap();
    });
}

// ---------------------------------------------------------------------------------------------
// The fault-proxy program

/// A control socket path in the temp dir, unique to this process and call.
fn socket_path() -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::env::temp_dir().join(format!("fault-proxy-{}-{nanos}.sock", std::process::id()))
}

/// The running program: killed and its socket removed when the test ends, however it ends
/// (a panicking test must not leave it running).
struct Program {
    child: std::process::Child,
    control: PathBuf,
}

impl Drop for Program {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_file(&self.control);
    }
}

fn ctl(path: &std::path::Path, command: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_fault-proxy"))
        .arg("ctl")
        .arg(path)
        .args(command)
        .output()
        .expect("run fault-proxy ctl");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).trim().to_owned(),
    )
}

/// The program a VM script runs: it proxies, takes commands on its control socket (through
/// `fault-proxy ctl`), drops what it is told to, reports it in `stats`, and exits on `quit`.
#[test]
fn fault_proxy_program_is_driven_through_its_control_socket() {
    within(DEADLINE, "program", || {
        let tgtd = tgtd();
        let control = socket_path();
        let child = Command::new(env!("CARGO_BIN_EXE_fault-proxy"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--target",
                &tgtd.portal(),
                "--control",
            ])
            .arg(&control)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start fault-proxy");
        let mut program = Program {
            child,
            control: control.clone(),
        };
        let mut line = String::new();
        BufReader::new(program.child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr: SocketAddr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .parse()
            .unwrap();

        let mut client = client();
        let conn = client
            .login(addr, login_config(IQN, DigestPreference::None), T)
            .unwrap();
        assert_eq!(ctl(&control, &["drop-response"]), (true, "ok".into()));
        let (ok, reply) = ctl(&control, &["explode"]);
        assert!(!ok && reply.starts_with("error: "), "{reply}");
        // TEST UNIT READY is answered by a SCSI Response: the one dropped.
        let tur = scsi::test_unit_ready();
        client
            .submit(conn, 0, CommandSpec::new(lun1(), &tur))
            .unwrap();
        let events = events_during(&mut client, Duration::from_millis(1000));
        assert!(events.is_empty(), "{events:?}");
        let (ok, stats) = ctl(&control, &["stats"]);
        assert!(ok, "{stats}");
        for pair in ["connections=1", "dropped_responses=1", "header_digest=0"] {
            assert!(stats.split(' ').any(|p| p == pair), "{pair} in {stats}");
        }
        assert_eq!(ctl(&control, &["armed"]), (true, String::new()));
        assert_eq!(ctl(&control, &["quit"]), (true, "ok".into()));
        let status = program.child.wait().unwrap();
        assert!(status.success(), "{status}");
        assert!(!control.exists(), "the socket is removed on quit");
    });
}
