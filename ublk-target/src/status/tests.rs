use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use libublk::sys;
use serde_json::Value;

use super::listing::{device_listing, format_listing, ListDocument};
use super::server::{query, socket_path, StatusError, StatusServer};
use super::*;
use crate::pidfile::{DeviceRecord, QueueRecord, TargetRecord};
use crate::supervisor::TimeoutSettings;

fn params() -> SessionParams {
    SessionParams {
        header_digest: true,
        max_recv_data_segment_length: 1 << 20,
        max_xmit_data_segment_length: 262_144,
        ..SessionParams::default()
    }
}

/// A device of two queues: queue 0 up with some I/O, queue 1 down since the epoch (12 s
/// down at [`later`]).
fn two_queues() -> DeviceStatus {
    let status = DeviceStatus::new(3, 2);
    let epoch = status.epoch();
    let q0 = status.queue(0).unwrap();
    q0.logged_in(SessionInfo {
        portal: "192.0.2.10:3260".parse().unwrap(),
        local_address: Some("192.0.2.1:40000".parse().unwrap()),
        tsih: Some(7),
        negotiated: Negotiated::from(&params()),
    });
    q0.publish(
        epoch,
        &QueueSample {
            phase: Some(PathPhase::Up),
            stats: QueueStats {
                reads: 10,
                bytes_read: 40960,
                ddp_bytes: 40960,
                reconnects: 1,
                ..QueueStats::default()
            },
            outages_ended: Duration::from_millis(2500),
            ..QueueSample::default()
        },
    );
    let q1 = status.queue(1).unwrap();
    q1.publish(
        epoch,
        &QueueSample {
            phase: Some(PathPhase::Waiting),
            outage_started: Some(epoch),
            ..QueueSample::default()
        },
    );
    status
}

/// 12 s after the status's epoch.
fn later(status: &DeviceStatus) -> Instant {
    status.epoch() + Duration::from_secs(12)
}

#[test]
fn a_published_sample_reads_back() {
    let status = DeviceStatus::new(0, 1);
    let epoch = status.epoch();
    let block = status.queue(0).unwrap();
    assert_eq!(block.read(epoch), QueueSample::default());
    let sample = QueueSample {
        phase: Some(PathPhase::Draining),
        // Every counter different.
        stats: QueueStats::from_array(std::array::from_fn(|i| i as u64 + 1)),
        outage_started: Some(epoch + Duration::from_millis(1500)),
        outages_ended: Duration::from_millis(20),
    };
    block.publish(epoch, &sample);
    assert_eq!(block.read(epoch), sample);
}

#[test]
fn every_phase_survives_its_number() {
    for phase in PathPhase::ALL {
        assert_eq!(PathPhase::from_number(phase.number()), phase);
    }
    assert_eq!(PathPhase::from_number(200), PathPhase::Down);
}

#[test]
fn status_blocks_do_not_share_cache_lines() {
    assert_eq!(std::mem::align_of::<Published>(), 64);
    assert_eq!(std::mem::align_of::<SessionSlot>(), 64);
    assert_eq!(std::mem::size_of::<QueueStatus>() % 64, 0);
}

#[test]
fn snapshot_has_the_session_and_the_counters() {
    let status = two_queues();
    let live = status.snapshot_at(later(&status));
    assert_eq!(live.version, 1);
    assert_eq!(live.dev_id, 3);
    let q0 = &live.queues[0];
    assert_eq!(q0.session_state, "up");
    assert_eq!(q0.isid, "800000030000");
    assert_eq!(q0.tsih, Some(7));
    assert_eq!(q0.portal.as_deref(), Some("192.0.2.10:3260"));
    assert_eq!(q0.outage_ms, None);
    assert_eq!(q0.total_outage_ms, 2500);
    assert_eq!(q0.reads, 10);
    assert_eq!(q0.ddp_bytes, 40960);
    let negotiated = q0.negotiated.unwrap();
    assert_eq!(negotiated.header_digest, DigestName::Crc32c);
    assert_eq!(negotiated.data_digest, DigestName::None);
    assert_eq!(negotiated.max_recv_data_segment_length_initiator, 1 << 20);
    assert_eq!(negotiated.max_recv_data_segment_length_target, 262_144);
    let q1 = &live.queues[1];
    assert_eq!(q1.session_state, "waiting");
    assert_eq!(q1.isid, "800000030001");
    assert_eq!(q1.outage_ms, Some(12_000));
    assert_eq!(q1.total_outage_ms, 12_000);
    assert_eq!(q1.negotiated, None);
    assert_eq!(q1.tsih, None);
}

#[test]
fn summary_lines() {
    let status = two_queues();
    assert!(status
        .summary()
        .starts_with("reconnecting: queue 1 down for "));
    let queues = status.snapshot_at(later(&status)).queues;
    assert_eq!(
        summarize(&queues, false),
        "reconnecting: queue 1 down for 12 s"
    );
    let up = |qid: usize| QueueSnapshot {
        session_state: "up".into(),
        ..queues[qid].clone()
    };
    assert_eq!(
        summarize(&[up(0), up(1)], false),
        "serving: 2/2 sessions up"
    );
    assert_eq!(
        summarize(&[up(0), up(1)], true),
        "stopping: 2/2 sessions up"
    );
    let starting = DeviceStatus::new(0, 2);
    assert_eq!(starting.summary(), "starting: logging in (0/2 sessions up)");
    let mut down = queues.clone();
    down[0].session_state = "draining".into();
    down[0].outage_ms = Some(3000);
    assert_eq!(
        summarize(&down, false),
        "reconnecting: 2/2 sessions down, queue 1 for 12 s"
    );
}

#[test]
fn live_json_round_trips_with_every_field() {
    let status = two_queues();
    let live = status.snapshot_at(later(&status));
    let json = serde_json::to_value(&live).unwrap();
    for field in ["version", "dev_id", "pid", "summary", "queues"] {
        assert!(json.get(field).is_some(), "{field} missing: {json}");
    }
    let queue = &json["queues"][1];
    for field in [
        "qid",
        "session_state",
        "isid",
        "tsih",
        "portal",
        "local_address",
        "negotiated",
        "reconnects",
        "outage_ms",
        "total_outage_ms",
        "in_flight",
        "held",
        "reads",
        "writes",
        "flushes",
        "discards",
        "write_zeroes",
        "bytes_read",
        "bytes_written",
        "failed",
        "retries",
        "ddp_bytes",
        "userspace_copied_bytes",
        "header_digest_errors",
        "data_digest_errors",
        "aborts_sent",
        "resets_sent",
        "commands_timed_out",
    ] {
        assert!(queue.get(field).is_some(), "{field} missing: {queue}");
    }
    // A queue that never logged in has nulls where a session would be.
    assert_eq!(queue["tsih"], Value::Null);
    assert_eq!(queue["negotiated"], Value::Null);
    assert_eq!(json["queues"][0]["outage_ms"], Value::Null);
    assert_eq!(
        json["queues"][0]["negotiated"]["header_digest"],
        Value::from("CRC32C")
    );
    assert_eq!(
        json["queues"][0]["negotiated"]["immediate_data"],
        Value::from(true)
    );
    let back: LiveStatus = serde_json::from_value(json).unwrap();
    assert_eq!(back, live);
}

fn record() -> DeviceRecord {
    let target = TargetRecord {
        name: "cxgb3i".into(),
        target_type: "cxgb3i".into(),
        dev_size: 1 << 30,
        url: "iscsi://alice@192.0.2.10/iqn.2026-11.example:disk/1".into(),
        initiator_name: "iqn.2026-11.example:host".into(),
        zero_copy: false,
        timeouts: TimeoutSettings::default(),
        device_id: Some("naa.6001405abcdef".into()),
        config: Some(PathBuf::from("/etc/ublk-cxgb3i/disk1.toml")),
        secret_source: Some(crate::config::SecretSource::ConfigFile),
    };
    let queues = [
        QueueRecord {
            qid: 0,
            tid: 101,
            affinity: "0 ".into(),
        },
        QueueRecord {
            qid: 1,
            tid: 102,
            affinity: "1 ".into(),
        },
    ];
    DeviceRecord::new(
        100,
        &sys::ublksrv_ctrl_dev_info::default(),
        &sys::ublk_params::default(),
        &queues,
        &target,
    )
}

fn kernel_info(state: u32) -> (sys::ublksrv_ctrl_dev_info, sys::ublk_params) {
    let info = sys::ublksrv_ctrl_dev_info {
        nr_hw_queues: 2,
        queue_depth: 64,
        state: state as u16,
        dev_id: 3,
        ublksrv_pid: 100,
        max_io_buf_bytes: 1 << 20,
        ..Default::default()
    };
    let mut params = sys::ublk_params::default();
    params.basic.logical_bs_shift = 9;
    params.basic.dev_sectors = 2 << 20;
    (info, params)
}

#[test]
fn list_document_of_a_live_device() {
    let (info, params) = kernel_info(sys::UBLK_S_DEV_LIVE);
    let record = record();
    let status = two_queues();
    let live = status.snapshot_at(later(&status));
    let listing = device_listing(&info, &params, Some(&record), Ok(live));
    let json = serde_json::to_value(ListDocument::new(vec![listing.clone()])).unwrap();
    assert_eq!(json["version"], Value::from(1));
    let device = &json["devices"][0];
    for field in [
        "id",
        "state",
        "daemon_pid",
        "nr_queues",
        "queue_depth",
        "block_size",
        "capacity_bytes",
        "max_io_buf_bytes",
        "target",
        "url",
        "initiator_name",
        "device_id",
        "config",
        "secret_source",
        "zero_copy",
        "portal",
        "summary",
        "live_unavailable",
        "queues",
    ] {
        assert!(device.get(field).is_some(), "{field} missing: {device}");
    }
    assert_eq!(device["state"], Value::from("LIVE"));
    assert_eq!(device["capacity_bytes"], Value::from(1u64 << 30));
    assert_eq!(device["block_size"], Value::from(512));
    assert_eq!(device["device_id"], Value::from("naa.6001405abcdef"));
    assert_eq!(device["secret_source"], Value::from("config_file"));
    assert_eq!(device["portal"], Value::from("192.0.2.10:3260"));
    assert_eq!(device["live_unavailable"], Value::Null);
    assert_eq!(device["queues"][1]["tid"], Value::from(102));
    assert_eq!(device["queues"][0]["live"]["reads"], Value::from(10));
    let text = format_listing(&listing);
    assert!(
        text.contains("status: reconnecting: queue 1 down for 12 s"),
        "{text}"
    );
    assert!(text.contains("session 1: waiting down 12 s"), "{text}");
    assert!(
        text.contains("session 0: up isid 800000030000 tsih 7"),
        "{text}"
    );
    assert!(text.contains("lu naa.6001405abcdef"), "{text}");
}

#[test]
fn list_document_without_a_daemon_keeps_the_record_part() {
    let (info, params) = kernel_info(sys::UBLK_S_DEV_QUIESCED);
    let record = record();
    let listing = device_listing(
        &info,
        &params,
        Some(&record),
        Err("the daemon (pid 100) is not running".into()),
    );
    let json = serde_json::to_value(&listing).unwrap();
    assert_eq!(json["state"], Value::from("QUIESCED"));
    assert_eq!(
        json["url"],
        Value::from("iscsi://alice@192.0.2.10/iqn.2026-11.example:disk/1")
    );
    assert_eq!(json["summary"], Value::Null);
    assert_eq!(json["portal"], Value::Null);
    assert_eq!(
        json["live_unavailable"],
        Value::from("the daemon (pid 100) is not running")
    );
    assert_eq!(json["queues"][0]["live"], Value::Null);
    assert_eq!(json["queues"][0]["tid"], Value::from(101));
    let text = format_listing(&listing);
    assert!(
        text.contains("live data unavailable: the daemon (pid 100) is not running"),
        "{text}"
    );
}

#[test]
fn list_document_never_shows_a_secret() {
    let (info, params) = kernel_info(sys::UBLK_S_DEV_LIVE);
    let mut record = record();
    // A record written by an older daemon kept the password in its URL.
    record.json["target"]["url"] =
        Value::from("iscsi://alice%s3cretpassword@192.0.2.10/iqn.2026-11.example:disk/1");
    let listing = device_listing(&info, &params, Some(&record), Err("gone".into()));
    let json = serde_json::to_string(&listing).unwrap();
    assert!(!json.contains("s3cret"), "{json}");
    assert!(json.contains("alice"), "{json}");
}

#[test]
fn list_document_of_a_device_with_no_record() {
    let (info, params) = kernel_info(sys::UBLK_S_DEV_DEAD);
    let listing = device_listing(&info, &params, None, Err("no device record".into()));
    let json = serde_json::to_value(&listing).unwrap();
    assert_eq!(json["url"], Value::Null);
    assert_eq!(json["target"], Value::Null);
    assert_eq!(json["queues"][0]["tid"], Value::Null);
    assert_eq!(json["queues"].as_array().map(Vec::len), Some(2));
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ublk-status-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_status_socket_answers_a_client() {
    use std::os::unix::fs::PermissionsExt;

    let dir = scratch_dir("round-trip");
    let path = socket_path(&dir, 3);
    let status = Arc::new(two_queues());
    let server = StatusServer::start(&path, Arc::clone(&status)).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    for _ in 0..2 {
        let live = query(&path, Duration::from_secs(5)).unwrap();
        assert_eq!(live.dev_id, 3);
        assert_eq!(live.pid, std::process::id());
        assert_eq!(live.queues.len(), 2);
        assert_eq!(live.queues[0].tsih, Some(7));
    }
    // What a queue publishes next is what the next client sees.
    status.queue(0).unwrap().publish(
        status.epoch(),
        &QueueSample {
            phase: Some(PathPhase::Up),
            stats: QueueStats {
                reads: 11,
                ..QueueStats::default()
            },
            ..QueueSample::default()
        },
    );
    assert_eq!(
        query(&path, Duration::from_secs(5)).unwrap().queues[0].reads,
        11
    );
    drop(server);
    assert!(!path.exists(), "the socket is removed at exit");
    assert!(matches!(
        query(&path, Duration::from_secs(1)),
        Err(StatusError::Connect { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_socket_left_by_a_dead_daemon_is_replaced() {
    let dir = scratch_dir("stale");
    std::fs::create_dir_all(&dir).unwrap();
    let path = socket_path(&dir, 4);
    // A socket nobody listens on any more, as a killed daemon leaves it.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(matches!(
        query(&path, Duration::from_secs(1)),
        Err(StatusError::Connect { .. })
    ));
    let server = StatusServer::start(&path, Arc::new(DeviceStatus::new(4, 1))).unwrap();
    assert_eq!(query(&path, Duration::from_secs(5)).unwrap().dev_id, 4);
    drop(server);
    // Something that is not a socket is not removed.
    std::fs::write(&path, b"not a socket").unwrap();
    assert!(matches!(
        StatusServer::start(&path, Arc::new(DeviceStatus::new(4, 1))),
        Err(StatusError::NotASocket { .. })
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_client_reading_garbage_says_so() {
    let dir = scratch_dir("garbage");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("garbage.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let serving = std::thread::spawn(move || {
        use std::io::Write;
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(b"hello\n").unwrap();
    });
    assert!(matches!(
        query(&path, Duration::from_secs(5)),
        Err(StatusError::Parse { .. })
    ));
    serving.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
