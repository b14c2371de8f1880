//! `perf URL`: the engine's own load generator (iscsi-perf's job, with writes too). One thread,
//! one engine, `--sessions` connections, `--iodepth` commands in flight on each.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use iscsi_proto::scsi::{self, BlockIo, ReadCapacity16};
use iscsi_proto::session::TaskOutcome;
use nix::sys::resource::{getrusage, UsageWho};
use t3_hw::initiator::{Client, CommandSpec, ConnEvent};
use t3_hw::{pods_for, EngineConfig, PageSize, PpmConfig, DDP_MIN_PPMAX};
use ublk_target::login::MAX_RECV_DATA_SEGMENT_LENGTH;

use super::TIMEOUT;
use crate::login::{lun_field, normal_session, parse_url, resolve};
use crate::size::Size;

/// The access pattern, named as fio names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Rw {
    Read,
    Write,
    Randread,
    Randwrite,
}

impl Rw {
    fn is_write(self) -> bool {
        matches!(self, Rw::Write | Rw::Randwrite)
    }
    fn is_random(self) -> bool {
        matches!(self, Rw::Randread | Rw::Randwrite)
    }
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Report {
    pub rw: String,
    pub bs: u64,
    pub iodepth: u32,
    pub sessions: u32,
    pub seconds: f64,
    pub ios: u64,
    pub iops: f64,
    pub mib_per_sec: f64,
    pub lat_mean_us: f64,
    pub lat_p50_us: f64,
    pub lat_p99_us: f64,
    pub cpu_seconds: f64,
    pub cpu_us_per_io: f64,
    pub ddp_bytes: u64,
    /// Part of `ddp_bytes` that arrived with its header and was copied by the engine.
    pub staged_bytes: u64,
    pub copied_bytes: u64,
    /// Socket operations the engine issued, per I/O.
    pub recvs_per_io: f64,
    pub sends_per_io: f64,
}

/// A small xorshift generator: random LBAs without a syscall or a lock per I/O.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn cpu_seconds() -> anyhow::Result<f64> {
    let usage = getrusage(UsageWho::RUSAGE_SELF)?;
    let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
    Ok(t(usage.user_time()) + t(usage.system_time()))
}

fn good(outcome: &TaskOutcome) -> bool {
    matches!(outcome, TaskOutcome::Status { status: 0, .. })
}

/// TEST UNIT READY until GOOD: consumes each new session's power-on UNIT ATTENTION.
fn ready(client: &mut Client, conn: usize, task: u32, lun: u64) -> anyhow::Result<()> {
    for _ in 0..4 {
        let tur = scsi::test_unit_ready();
        let (outcome, _) = client.command(conn, task, CommandSpec::new(lun, &tur), TIMEOUT)?;
        if good(&outcome) {
            return Ok(());
        }
    }
    bail!("the LUN never became ready")
}

/// Environment overrides of the engine's receive settings, for measuring their trade-offs
/// (bytes; see `EngineConfig`).
const EXACT_PLACEMENT_ENV: &str = "UBLK_CXGB3I_EXACT_PLACEMENT";
const RX_STAGING_ENV: &str = "UBLK_CXGB3I_RX_STAGING";

fn env_bytes(name: &str) -> anyhow::Result<Option<u32>> {
    match std::env::var(name) {
        Ok(text) => Ok(Some(
            text.parse::<Size>()
                .ok()
                .and_then(|size| u32::try_from(size.0).ok())
                .with_context(|| format!("{name}={text} is not a byte count"))?,
        )),
        Err(_) => Ok(None),
    }
}

/// A client with `tasks` buffers of `bs` bytes and page pods for all of them at once.
fn perf_client(tasks: usize, bs: u32, ring_entries: u32) -> anyhow::Result<Client> {
    // One pod more per read for a buffer that starts inside a page, twice over for the
    // allocator's contiguity.
    let per_read = pods_for(bs, 0, PageSize::Size4K) + 1;
    let pods = (per_read * tasks as u64 * 2).clamp(u64::from(DDP_MIN_PPMAX), 1 << 20) as u32;
    let mut config = EngineConfig::new(PpmConfig::new(pods, 4096), MAX_RECV_DATA_SEGMENT_LENGTH);
    if let Some(bytes) = env_bytes(EXACT_PLACEMENT_ENV)? {
        config.rx_exact_placement_bytes = bytes;
    }
    if let Some(bytes) = env_bytes(RX_STAGING_ENV)? {
        config.rx_staging_bytes = bytes;
    }
    let mut client = Client::new(config, ring_entries)?;
    client.add_tasks(tasks, bs as usize);
    Ok(client)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    url: &str,
    initiator_name: &str,
    rw: Rw,
    bs: Size,
    iodepth: u32,
    runtime: Duration,
    sessions: u32,
    json: bool,
) -> anyhow::Result<()> {
    if iodepth == 0 || sessions == 0 {
        bail!("--iodepth and --sessions must be at least 1");
    }
    let bs_bytes = u32::try_from(bs.0)
        .ok()
        .filter(|b| *b >= 512)
        .context("--bs must be 512 bytes to 4 GiB")?;
    let url = parse_url(url)?;
    let addr = resolve(&url.host, url.port)?;
    let lun = lun_field(&url)?;
    let tasks = (iodepth * sessions) as usize;
    let ring_entries = (4 * tasks as u32 + 64).next_power_of_two().min(4096);
    let mut client = perf_client(tasks, bs_bytes, ring_entries)?;
    let mut conns = Vec::new();
    for s in 0..sessions {
        let conn = client
            .login(
                addr,
                normal_session(&url, initiator_name, s as u16),
                TIMEOUT,
            )
            .with_context(|| format!("session {s} to {addr}"))?;
        ready(&mut client, conn, s * iodepth, lun)?;
        conns.push(conn);
    }
    let cap = scsi::read_capacity16(32);
    let (outcome, _) = client.command(conns[0], 0, CommandSpec::new(lun, &cap), TIMEOUT)?;
    if !good(&outcome) {
        bail!("READ CAPACITY(16) failed: {outcome:?}");
    }
    let cap = ReadCapacity16::parse(&client.buffer(0)?[..32])?;
    let block_size = cap.block_length;
    if bs_bytes % block_size != 0 {
        bail!("--bs {bs} is not a multiple of the LUN's {block_size}-byte blocks");
    }
    let blocks_per_io = bs_bytes / block_size;
    let slots = cap.block_count() / u64::from(blocks_per_io);
    if slots == 0 {
        bail!("the LUN is smaller than one {bs} I/O");
    }
    if rw.is_write() {
        for task in 0..tasks as u32 {
            for (i, byte) in client.buffer_mut(task)?.iter_mut().enumerate() {
                *byte = (i as u32 ^ task) as u8;
            }
        }
    }
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut cursor = 0u64;
    let mut next_request = |rng: &mut XorShift| {
        let slot = if rw.is_random() {
            rng.next() % slots
        } else {
            cursor = (cursor + 1) % slots;
            cursor
        };
        let io = BlockIo {
            lba: slot * u64::from(blocks_per_io),
            blocks: blocks_per_io,
            block_size,
            fua: false,
        };
        if rw.is_write() {
            scsi::write16(io)
        } else {
            scsi::read16(io)
        }
    };

    let mut started = vec![Instant::now(); tasks];
    let mut latencies_ns: Vec<u32> = Vec::with_capacity(1 << 20);
    let cpu_before = cpu_seconds()?;
    let begin = Instant::now();
    for (s, &conn) in conns.iter().enumerate() {
        for k in 0..iodepth {
            let task = s as u32 * iodepth + k;
            let req = next_request(&mut rng)?;
            started[task as usize] = Instant::now();
            client.submit(conn, task, CommandSpec::new(lun, &req))?;
        }
    }
    let deadline = begin + runtime;
    let mut in_flight = tasks;
    let mut errors = 0u64;
    while in_flight > 0 {
        let (conn, event) = client.wait_event(TIMEOUT)?;
        match event {
            ConnEvent::TaskDone { task, outcome, .. } => {
                let now = Instant::now();
                let elapsed = now.duration_since(started[task as usize]);
                latencies_ns.push(u32::try_from(elapsed.as_nanos()).unwrap_or(u32::MAX));
                if !good(&outcome) {
                    errors += 1;
                    if errors > 100 {
                        bail!("too many failed I/Os; last: {outcome:?}");
                    }
                }
                if now < deadline {
                    let req = next_request(&mut rng)?;
                    started[task as usize] = now;
                    client.submit(conn, task, CommandSpec::new(lun, &req))?;
                } else {
                    in_flight -= 1;
                }
            }
            ConnEvent::Failed(error) => bail!("session {conn} failed: {error}"),
            _ => {}
        }
    }
    let seconds = begin.elapsed().as_secs_f64();
    let cpu = cpu_seconds()? - cpu_before;
    let (mut ddp_bytes, mut staged_bytes, mut copied_bytes, mut recvs, mut sends) = (0, 0, 0, 0, 0);
    for &conn in &conns {
        if let Some(c) = client
            .conn(conn)
            .tid()
            .and_then(|t| client.engine().conn_counters(t))
        {
            ddp_bytes += c.ddp_bytes;
            staged_bytes += c.staged_bytes;
            recvs += c.recv_calls;
            sends += c.sendmsg_calls + c.write_fixed_calls;
        }
        copied_bytes += client.conn(conn).stats().copied_bytes;
    }
    client.logout_all(TIMEOUT)?;

    let ios = latencies_ns.len() as u64;
    let mean = latencies_ns.iter().map(|&n| f64::from(n)).sum::<f64>() / ios.max(1) as f64 / 1000.0;
    // Selection, not a sort: the process's CPU time is part of what is measured.
    let mut pct = |p: f64| {
        let count = latencies_ns.len();
        if count == 0 {
            return 0.0;
        }
        let index = ((count as f64 * p) as usize).min(count - 1);
        f64::from(*latencies_ns.select_nth_unstable(index).1) / 1000.0
    };
    let report = Report {
        rw: format!("{rw:?}").to_lowercase(),
        bs: bs.0,
        iodepth,
        sessions,
        seconds,
        ios,
        iops: ios as f64 / seconds,
        mib_per_sec: ios as f64 * bs.0 as f64 / seconds / (1 << 20) as f64,
        lat_mean_us: mean,
        lat_p50_us: pct(0.50),
        lat_p99_us: pct(0.99),
        cpu_seconds: cpu,
        cpu_us_per_io: cpu * 1e6 / ios.max(1) as f64,
        ddp_bytes,
        staged_bytes,
        copied_bytes,
        recvs_per_io: recvs as f64 / ios.max(1) as f64,
        sends_per_io: sends as f64 / ios.max(1) as f64,
    };
    if errors > 0 {
        eprintln!("perf: {errors} I/Os failed");
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "{} bs={} iodepth={} sessions={}: {:.0} IOPS, {:.1} MiB/s, lat mean {:.1} us p99 {:.1} us, CPU {:.2} s ({:.2} us/IO), DDP {} copied {}",
            report.rw, bs, iodepth, sessions, report.iops, report.mib_per_sec, report.lat_mean_us,
            report.lat_p99_us, report.cpu_seconds, report.cpu_us_per_io, Size(ddp_bytes), Size(copied_bytes)
        );
    }
    Ok(())
}
