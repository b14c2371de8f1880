//! What `ublk list` shows of a device: the kernel's view (state, queues), the device record
//! (URL without secrets, LU identity, configuration file) and, while the daemon runs, its
//! live status. The `--json` document is specified in docs/list-json.md; the plain text is
//! a few lines per device after ublksrv's own.

use std::path::PathBuf;

use libublk::sys;
use serde::{Deserialize, Serialize};

use super::{LiveStatus, QueueSnapshot, FORMAT_VERSION};
use crate::admin::redacted_target;
use crate::config::SecretSource;
use crate::pidfile::{DeviceRecord, TargetRecord};

/// `ublk list --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ListDocument {
    pub version: u32,
    pub devices: Vec<DeviceListing>,
}

impl ListDocument {
    pub(crate) fn new(devices: Vec<DeviceListing>) -> ListDocument {
        ListDocument {
            version: FORMAT_VERSION,
            devices,
        }
    }
}

/// One device in [`ListDocument`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeviceListing {
    pub id: u32,
    /// The kernel's state: LIVE, QUIESCED, DEAD, FAIL_IO or UNKNOWN.
    pub state: String,
    pub daemon_pid: Option<i32>,
    pub nr_queues: u16,
    pub queue_depth: u16,
    pub block_size: u64,
    pub capacity_bytes: u64,
    pub max_io_buf_bytes: u32,
    /// The record's target type (`cxgb3i` for ours).
    pub target: Option<String>,
    pub url: Option<String>,
    pub initiator_name: Option<String>,
    /// The LU's VPD 0x83 designator.
    pub device_id: Option<String>,
    pub config: Option<PathBuf>,
    pub secret_source: Option<SecretSource>,
    pub zero_copy: Option<bool>,
    /// The portal queue 0's session is logged in to (or last was).
    pub portal: Option<String>,
    pub summary: Option<String>,
    /// Why there is no live part, when there is none.
    pub live_unavailable: Option<String>,
    pub queues: Vec<QueueListing>,
}

/// One queue in [`DeviceListing`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueueListing {
    pub qid: u16,
    /// The queue thread's id, from the record.
    pub tid: Option<i64>,
    /// The daemon's live view of the queue; null when the daemon does not answer.
    pub live: Option<QueueSnapshot>,
}

/// The kernel's name of a device state.
pub(crate) fn state_name(state: u16) -> &'static str {
    match u32::from(state) {
        sys::UBLK_S_DEV_DEAD => "DEAD",
        sys::UBLK_S_DEV_LIVE => "LIVE",
        sys::UBLK_S_DEV_QUIESCED => "QUIESCED",
        sys::UBLK_S_DEV_FAIL_IO => "FAIL_IO",
        _ => "UNKNOWN",
    }
}

/// A device's listing from the kernel's view, its record (if any) and its daemon's answer
/// (or why there is none).
pub(crate) fn device_listing(
    info: &sys::ublksrv_ctrl_dev_info,
    params: &sys::ublk_params,
    record: Option<&DeviceRecord>,
    live: Result<LiveStatus, String>,
) -> DeviceListing {
    let target_json = record
        .and_then(|r| r.json.get("target"))
        .map(redacted_target);
    let target_name = target_json
        .as_ref()
        .and_then(|t| t.get("name"))
        .and_then(|name| name.as_str())
        .map(str::to_owned);
    let ours: Option<TargetRecord> = target_json.and_then(|t| serde_json::from_value(t).ok());
    let (live, live_unavailable) = match live {
        Ok(live) => (Some(live), None),
        Err(reason) => (None, Some(reason)),
    };
    let queues = (0..info.nr_hw_queues)
        .map(|qid| QueueListing {
            qid,
            tid: record.and_then(|r| r.queue(qid)).map(|(tid, _)| tid),
            live: live
                .as_ref()
                .and_then(|l| l.queues.iter().find(|q| q.qid == qid))
                .cloned(),
        })
        .collect();
    let portal = live
        .as_ref()
        .and_then(|l| l.queues.iter().find_map(|q| q.portal.clone()));
    DeviceListing {
        id: info.dev_id,
        state: state_name(info.state).to_owned(),
        daemon_pid: (info.ublksrv_pid > 0).then_some(info.ublksrv_pid),
        nr_queues: info.nr_hw_queues,
        queue_depth: info.queue_depth,
        block_size: 1u64 << params.basic.logical_bs_shift.min(63),
        capacity_bytes: params.basic.dev_sectors.saturating_mul(512),
        max_io_buf_bytes: info.max_io_buf_bytes,
        target: target_name,
        url: ours.as_ref().map(|t| t.url.clone()),
        initiator_name: ours.as_ref().map(|t| t.initiator_name.clone()),
        device_id: ours.as_ref().and_then(|t| t.device_id.clone()),
        config: ours.as_ref().and_then(|t| t.config.clone()),
        secret_source: ours.as_ref().and_then(|t| t.secret_source),
        zero_copy: ours.as_ref().map(|t| t.zero_copy),
        portal,
        summary: live.as_ref().map(|l| l.summary.clone()),
        live_unavailable,
        queues,
    }
}

/// The lines `ublk list` adds after ublksrv's for one of our devices.
pub(crate) fn format_listing(listing: &DeviceListing) -> String {
    let or_dash = |value: Option<&str>| value.unwrap_or("-").to_owned();
    let mut out = format!(
        "\tiscsi {} lu {} portal {}\n",
        or_dash(listing.url.as_deref()),
        or_dash(listing.device_id.as_deref()),
        or_dash(listing.portal.as_deref()),
    );
    out += &format!(
        "\tconfig {} secrets {}\n",
        listing
            .config
            .as_ref()
            .map_or("-".to_owned(), |path| path.display().to_string()),
        listing
            .secret_source
            .map_or("-".to_owned(), |source| source.to_string()),
    );
    match (&listing.summary, &listing.live_unavailable) {
        (Some(summary), _) => out += &format!("\tstatus: {summary}\n"),
        (None, Some(reason)) => out += &format!("\tstatus: live data unavailable: {reason}\n"),
        (None, None) => {}
    }
    for queue in &listing.queues {
        if let Some(live) = &queue.live {
            out += &format_queue(live);
        }
    }
    out
}

fn format_queue(q: &QueueSnapshot) -> String {
    let tsih = q.tsih.map_or("-".to_owned(), |tsih| tsih.to_string());
    let outage = q
        .outage_ms
        .map_or(String::new(), |ms| format!(" down {} s", ms / 1000));
    format!(
        "\tsession {}: {}{outage} isid {} tsih {tsih} reconnects {} outage total {} s; \
         reads {} writes {} bytes {}/{} ddp {} copied {} digest errors {} aborts {} resets {} timeouts {} failed {}\n",
        q.qid,
        q.session_state,
        q.isid,
        q.reconnects,
        q.total_outage_ms / 1000,
        q.reads,
        q.writes,
        q.bytes_read,
        q.bytes_written,
        q.ddp_bytes,
        q.userspace_copied_bytes,
        q.header_digest_errors + q.data_digest_errors,
        q.aborts_sent,
        q.resets_sent,
        q.commands_timed_out,
        q.failed,
    )
}
