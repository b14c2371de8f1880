//! Live status of a running device: what each queue's session is doing and what it has
//! done, served by the daemon to `ublk list` while the device runs.
//!
//! Shared nothing on the I/O path: each queue thread owns one [`QueueStatus`] block and is
//! the only writer of its counters, which it publishes with `Relaxed` stores (no lock, no
//! read-modify-write; each block is cache-line aligned, so queues never write the same
//! line). What changes only at a login (the portal, TSIH, negotiated parameters) sits
//! behind a mutex of its own that the queue takes at login and nobody takes per I/O. A
//! reader ([`DeviceStatus::snapshot`], run by the status thread of [`server`]) loads the
//! counters one by one: each is exact, the set is not one instant's (a read may be counted
//! before its bytes are), which a status report can live with.
//!
//! [`listing`] puts the snapshot together with the kernel's view and the device record for
//! `ublk list` (and its `--json` document, specified in docs/list-json.md).

pub(crate) mod listing;
pub(crate) mod server;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use iscsi_proto::negotiation::SessionParams;
use serde::{Deserialize, Serialize};

use crate::login::queue_isid;
use crate::queue::QueueStats;
use crate::supervisor::PathPhase;

/// The version of the status and list JSON documents; it changes only when a field changes
/// meaning or goes away (added fields keep it).
pub(crate) const FORMAT_VERSION: u32 = 1;

/// "No outage" in the published outage start.
const NO_OUTAGE: u64 = u64::MAX;

/// What a queue publishes: its counters and the state of its session, as plain numbers.
/// The queue thread fills one in and [`QueueStatus::publish`]es it; a reader gets one back
/// from [`QueueStatus::read`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueSample {
    pub phase: Option<PathPhase>,
    pub stats: QueueStats,
    /// When the current outage started, if the session is down.
    pub outage_started: Option<Instant>,
    /// The length of every outage that has ended, summed.
    pub outages_ended: Duration,
}

/// One queue's published counters, all written by the queue thread only.
#[derive(Debug, Default)]
#[repr(align(64))]
struct Published {
    /// `PathPhase::number() + 1`; 0 before the first publication.
    phase: AtomicU64,
    /// The counters in the order of [`QueueStats::to_array`].
    stats: [AtomicU64; QueueStats::COUNT],
    /// Milliseconds from the device's epoch; [`NO_OUTAGE`] when up.
    outage_started_ms: AtomicU64,
    outages_ended_ms: AtomicU64,
}

/// What a queue's last login negotiated and where it went: set at each login, never per
/// I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionInfo {
    pub portal: SocketAddr,
    pub local_address: Option<SocketAddr>,
    pub tsih: Option<u16>,
    pub negotiated: Negotiated,
}

/// The operational parameters a login negotiated (RFC 7143 §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Negotiated {
    /// "CRC32C" or "None".
    pub header_digest: DigestName,
    pub data_digest: DigestName,
    /// The MaxRecvDataSegmentLength we declared: the longest data segment the target sends.
    pub max_recv_data_segment_length_initiator: u32,
    /// The target's MaxRecvDataSegmentLength: the longest data segment we send.
    pub max_recv_data_segment_length_target: u32,
    pub first_burst_length: u32,
    pub max_burst_length: u32,
    pub immediate_data: bool,
    pub initial_r2t: bool,
}

/// A digest's name as the login keys spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum DigestName {
    None,
    #[serde(rename = "CRC32C")]
    Crc32c,
}

impl DigestName {
    fn of(negotiated: bool) -> DigestName {
        if negotiated {
            DigestName::Crc32c
        } else {
            DigestName::None
        }
    }
}

impl From<&SessionParams> for Negotiated {
    fn from(p: &SessionParams) -> Negotiated {
        Negotiated {
            header_digest: DigestName::of(p.header_digest),
            data_digest: DigestName::of(p.data_digest),
            max_recv_data_segment_length_initiator: p.max_recv_data_segment_length,
            max_recv_data_segment_length_target: p.max_xmit_data_segment_length,
            first_burst_length: p.first_burst_length,
            max_burst_length: p.max_burst_length,
            immediate_data: p.immediate_data,
            initial_r2t: p.initial_r2t,
        }
    }
}

/// The login-time part, on a cache line of its own: the reader locks it, and that must not
/// disturb the line the queue writes its counters to.
#[derive(Debug, Default)]
#[repr(align(64))]
struct SessionSlot(Mutex<Option<SessionInfo>>);

/// One queue's status block.
#[derive(Debug)]
pub(crate) struct QueueStatus {
    qid: u16,
    isid: [u8; 6],
    published: Published,
    session: SessionSlot,
}

impl QueueStatus {
    /// Publishes the queue's counters. Only the queue's own thread calls this.
    pub(crate) fn publish(&self, epoch: Instant, sample: &QueueSample) {
        let p = &self.published;
        let store = |cell: &AtomicU64, value: u64| cell.store(value, Ordering::Relaxed);
        store(
            &p.phase,
            sample.phase.map_or(0, |ph| u64::from(ph.number()) + 1),
        );
        for (cell, value) in p.stats.iter().zip(sample.stats.to_array()) {
            store(cell, value);
        }
        store(
            &p.outage_started_ms,
            sample.outage_started.map_or(NO_OUTAGE, |at| {
                millis(at.saturating_duration_since(epoch)).min(NO_OUTAGE - 1)
            }),
        );
        store(&p.outages_ended_ms, millis(sample.outages_ended));
    }

    /// The last published counters.
    pub(crate) fn read(&self, epoch: Instant) -> QueueSample {
        let p = &self.published;
        let load = |cell: &AtomicU64| cell.load(Ordering::Relaxed);
        let phase = match load(&p.phase) {
            0 => None,
            n => Some(PathPhase::from_number(
                u8::try_from(n - 1).unwrap_or(u8::MAX),
            )),
        };
        let outage_started = match load(&p.outage_started_ms) {
            NO_OUTAGE => None,
            ms => Some(epoch + Duration::from_millis(ms)),
        };
        QueueSample {
            phase,
            stats: QueueStats::from_array(p.stats.each_ref().map(load)),
            outage_started,
            outages_ended: Duration::from_millis(load(&p.outages_ended_ms)),
        }
    }

    /// Records a new session (at login only).
    pub(crate) fn logged_in(&self, info: SessionInfo) {
        *self.lock_session() = Some(info);
    }

    /// The last login's session, if there was one.
    pub(crate) fn session(&self) -> Option<SessionInfo> {
        self.lock_session().clone()
    }

    fn lock_session(&self) -> std::sync::MutexGuard<'_, Option<SessionInfo>> {
        self.session
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The queue's snapshot at `now`.
    fn snapshot(&self, epoch: Instant, now: Instant) -> QueueSnapshot {
        let sample = self.read(epoch);
        let s = sample.stats;
        let session = self.session();
        let outage = sample
            .outage_started
            .map(|at| now.saturating_duration_since(at));
        QueueSnapshot {
            qid: self.qid,
            session_state: sample.phase.map_or("starting", PathPhase::name).to_owned(),
            isid: self.isid.iter().map(|b| format!("{b:02x}")).collect(),
            tsih: session.as_ref().and_then(|info| info.tsih),
            portal: session.as_ref().map(|info| info.portal.to_string()),
            local_address: session
                .as_ref()
                .and_then(|info| info.local_address)
                .map(|address| address.to_string()),
            negotiated: session.as_ref().map(|info| info.negotiated),
            reconnects: s.reconnects,
            outage_ms: outage.map(millis),
            total_outage_ms: millis(sample.outages_ended + outage.unwrap_or_default()),
            in_flight: s.in_flight,
            held: s.held,
            reads: s.reads,
            writes: s.writes,
            flushes: s.flushes,
            discards: s.discards,
            write_zeroes: s.write_zeroes,
            bytes_read: s.bytes_read,
            bytes_written: s.bytes_written,
            failed: s.failed,
            retries: s.retries,
            ddp_bytes: s.ddp_bytes,
            userspace_copied_bytes: s.userspace_copied_bytes,
            header_digest_errors: s.header_digest_errors,
            data_digest_errors: s.data_digest_errors,
            aborts_sent: s.aborts_sent,
            resets_sent: s.resets_sent,
            commands_timed_out: s.commands_timed_out,
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The status of a device's queues, shared by the queue threads (each writes its own block),
/// the control thread and the status thread.
#[derive(Debug)]
pub(crate) struct DeviceStatus {
    dev_id: u32,
    /// The instant published times count from.
    epoch: Instant,
    queues: Vec<QueueStatus>,
    /// The daemon is stopping the device.
    stopping: AtomicBool,
}

impl DeviceStatus {
    pub(crate) fn new(dev_id: u32, nr_queues: u16) -> DeviceStatus {
        DeviceStatus {
            dev_id,
            epoch: Instant::now(),
            queues: (0..nr_queues)
                .map(|qid| QueueStatus {
                    qid,
                    isid: queue_isid(dev_id, qid),
                    published: Published {
                        outage_started_ms: AtomicU64::new(NO_OUTAGE),
                        ..Published::default()
                    },
                    session: SessionSlot::default(),
                })
                .collect(),
            stopping: AtomicBool::new(false),
        }
    }

    /// Queue `qid`'s block.
    pub(crate) fn queue(&self, qid: u16) -> Option<&QueueStatus> {
        self.queues.get(usize::from(qid))
    }

    /// The instant the published times count from.
    pub(crate) fn epoch(&self) -> Instant {
        self.epoch
    }

    /// The device is being stopped: the summary says so.
    pub(crate) fn set_stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    /// What the status thread serves.
    pub(crate) fn snapshot(&self) -> LiveStatus {
        self.snapshot_at(Instant::now())
    }

    fn snapshot_at(&self, now: Instant) -> LiveStatus {
        let queues: Vec<QueueSnapshot> = self
            .queues
            .iter()
            .map(|queue| queue.snapshot(self.epoch, now))
            .collect();
        let stopping = self.stopping.load(Ordering::Relaxed);
        LiveStatus {
            version: FORMAT_VERSION,
            dev_id: self.dev_id,
            pid: std::process::id(),
            summary: summarize(&queues, stopping),
            queues,
        }
    }

    /// One line on the device's health, for a person or systemd's `STATUS=`: "serving: 2/2
    /// sessions up", "reconnecting: queue 1 down for 12 s", "starting: logging in (0/2
    /// sessions up)", "stopping: ...".
    pub(crate) fn summary(&self) -> String {
        self.snapshot().summary
    }
}

/// The health line of a device whose queues are `queues` (see [`DeviceStatus::summary`]).
pub(crate) fn summarize(queues: &[QueueSnapshot], stopping: bool) -> String {
    let total = queues.len();
    let up = queues.iter().filter(|q| q.session_state == "up").count();
    if stopping {
        return format!("stopping: {up}/{total} sessions up");
    }
    if up == total {
        return format!("serving: {up}/{total} sessions up");
    }
    let longest_outage = queues
        .iter()
        .filter_map(|q| q.outage_ms.map(|ms| (ms, q.qid)))
        .max();
    match longest_outage {
        None => format!("starting: logging in ({up}/{total} sessions up)"),
        Some((ms, qid)) => {
            let seconds = ms / 1000;
            let down = total - up;
            if down == 1 {
                format!("reconnecting: queue {qid} down for {seconds} s")
            } else {
                format!("reconnecting: {down}/{total} sessions down, queue {qid} for {seconds} s")
            }
        }
    }
}

/// What the daemon serves on its status socket (docs/list-json.md, the `live` part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LiveStatus {
    pub version: u32,
    pub dev_id: u32,
    pub pid: u32,
    pub summary: String,
    pub queues: Vec<QueueSnapshot>,
}

/// One queue in [`LiveStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueueSnapshot {
    pub qid: u16,
    /// starting, down, connecting, verifying, up, logging_out, draining, waiting.
    pub session_state: String,
    /// 12 hex digits.
    pub isid: String,
    pub tsih: Option<u16>,
    pub portal: Option<String>,
    pub local_address: Option<String>,
    pub negotiated: Option<Negotiated>,
    pub reconnects: u64,
    pub outage_ms: Option<u64>,
    pub total_outage_ms: u64,
    pub in_flight: u64,
    pub held: u64,
    pub reads: u64,
    pub writes: u64,
    pub flushes: u64,
    pub discards: u64,
    pub write_zeroes: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub failed: u64,
    pub retries: u64,
    pub ddp_bytes: u64,
    pub userspace_copied_bytes: u64,
    pub header_digest_errors: u64,
    pub data_digest_errors: u64,
    pub aborts_sent: u64,
    pub resets_sent: u64,
    pub commands_timed_out: u64,
}
