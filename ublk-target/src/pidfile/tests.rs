use super::*;

fn target() -> TargetRecord {
    TargetRecord {
        name: "cxgb3i".into(),
        target_type: "cxgb3i".into(),
        dev_size: 64 << 20,
        url: "iscsi://u@127.0.0.1:3260/iqn.t:d/1".into(),
        initiator_name: "iqn.x:init".into(),
        timeouts: Default::default(),
        device_id: None,
        zero_copy: true,
        config: Some("/etc/ublk-cxgb3i/disk1.toml".into()),
        secret_source: Some(SecretSource::ConfigFile),
    }
}

fn record() -> DeviceRecord {
    let dev_info = sys::ublksrv_ctrl_dev_info {
        nr_hw_queues: 2,
        queue_depth: 128,
        state: 1,
        max_io_buf_bytes: 524_288,
        dev_id: 3,
        ublksrv_pid: 4242,
        ..Default::default()
    };
    let params = sys::ublk_params {
        types: 1,
        ..Default::default()
    };
    let queues = [
        QueueRecord {
            qid: 0,
            tid: 100,
            affinity: "0 ".into(),
        },
        QueueRecord {
            qid: 1,
            tid: 101,
            affinity: "1 ".into(),
        },
    ];
    DeviceRecord::new(4242, &dev_info, &params, &queues, &target())
}

#[test]
fn layout_is_ublksrvs() {
    let bytes = record().encode();
    assert_eq!(&bytes[..5], b"4242\n");
    assert!(bytes[5..JSON_OFFSET].iter().all(|&b| b == 0));
    assert_eq!(bytes[JSON_OFFSET], b'{');
    assert_eq!(bytes.last(), Some(&0));
    let json: Value = serde_json::from_slice(&bytes[JSON_OFFSET..bytes.len() - 1]).unwrap();
    assert_eq!(json["dev_info"]["dev_id"], 3);
    assert_eq!(json["dev_info"]["queue_depth"], 128);
    assert_eq!(json["params"]["types"], 1);
    assert_eq!(json["params"]["basic"]["logical_bs_shift"], 0);
    assert_eq!(json["queues"]["1"]["tid"], 101);
    assert_eq!(json["queues"]["1"]["affinity"], "1 ");
    assert_eq!(json["target"]["name"], "cxgb3i");
    assert_eq!(json["target"]["type"], "cxgb3i");
    assert_eq!(json["target"]["dev_size"], 64 << 20);
    assert_eq!(json["target"]["config"], "/etc/ublk-cxgb3i/disk1.toml");
    assert_eq!(json["target"]["secret_source"], "config_file");
}

/// A record written before `config` and `secret_source` existed still reads.
#[test]
fn an_older_target_record_reads() {
    let old = serde_json::json!({
        "name": "cxgb3i", "type": "cxgb3i", "dev_size": 1,
        "url": "iscsi://u%pw@h/iqn.x:y/1", "initiator_name": "iqn.x:i",
    });
    let target: TargetRecord = serde_json::from_value(old).unwrap();
    assert_eq!((target.config, target.secret_source), (None, None));
}

#[test]
fn round_trip() {
    let path = Path::new("3.pid");
    let record = record();
    let back = DeviceRecord::decode(path, &record.encode()).unwrap();
    assert_eq!(back, record);
    assert_eq!(back.target(path).unwrap(), target());
    assert_eq!(back.target_name(), Some("cxgb3i"));
    assert_eq!(back.queue(1), Some((101, "1 ".into())));
    assert_eq!(back.queue(2), None);
}

#[test]
fn malformed_records_are_errors() {
    let path = Path::new("x.pid");
    assert!(matches!(
        DeviceRecord::decode(path, b""),
        Err(RecordError::NoPid { .. })
    ));
    assert!(matches!(
        DeviceRecord::decode(path, b"abc\n"),
        Err(RecordError::NoPid { .. })
    ));
    let mut no_json = b"12\n".to_vec();
    no_json.resize(JSON_OFFSET, 0);
    no_json.extend_from_slice(b"{not json");
    assert!(matches!(
        DeviceRecord::decode(path, &no_json),
        Err(RecordError::Json { .. })
    ));
    // A pid-only file (what ublksrv writes before the JSON) has a pid but no JSON.
    let mut pid_only = b"12\n".to_vec();
    pid_only.resize(JSON_OFFSET, 0);
    assert!(DeviceRecord::decode(path, &pid_only).is_err());
}

#[test]
fn written_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ublk-target-pidfile-{}", std::process::id()));
    let file = path(&dir, 7);
    assert!(file.ends_with("7.pid"));
    record().write(&file).unwrap();
    let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(DeviceRecord::read(&file).unwrap(), record());
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn affinity_like_ublksrv() {
    assert_eq!(affinity_string([0, 2, 3]), "0 2 3 ");
    assert_eq!(affinity_string([]), "");
}
