use super::*;
use crate::pidfile::{QueueRecord, TargetRecord};
use serde_json::json;

#[test]
fn target_secrets_are_redacted() {
    let target = json!({
        "name": "cxgb3i",
        "type": "cxgb3i",
        "dev_size": 1024,
        "url": "iscsi://alice%s3cretpassword@10.0.0.1:3261/iqn.t:d/1?target_user=bob&target_password=t0psecret1234",
        "chap_secret": "x",
        "secret_source": "config_file",
        "initiator_name": "iqn.x:y",
    });
    let shown = redacted_target(&target).to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(!shown.contains("t0psecret"), "{shown}");
    assert!(shown.contains("alice"), "{shown}");
    assert!(shown.contains("iqn.t:d"), "{shown}");
    assert!(shown.contains(r#""chap_secret":"<redacted>""#), "{shown}");
    assert!(
        shown.contains(r#""secret_source":"config_file""#),
        "{shown}"
    );
    // Even a URL that does not parse keeps its password hidden.
    let broken = json!({"url": "iscsi://alice%pw12345678@/bad"});
    assert!(!redacted_target(&broken).to_string().contains("pw12345678"));
}

#[test]
fn list_format_matches_ublksrv() {
    let info = sys::ublksrv_ctrl_dev_info {
        nr_hw_queues: 1,
        queue_depth: 128,
        state: 1,
        max_io_buf_bytes: 524_288,
        dev_id: 0,
        ublksrv_pid: 77,
        flags: 0x2,
        ..Default::default()
    };
    let mut params = sys::ublk_params::default();
    params.basic.logical_bs_shift = 12;
    params.basic.dev_sectors = 131_072;
    params.devt.char_major = 240;
    params.devt.disk_major = 259;
    let target = TargetRecord {
        name: "cxgb3i".into(),
        target_type: "cxgb3i".into(),
        dev_size: 64 << 20,
        url: "iscsi://u%secretsecret12@127.0.0.1:3261/iqn.t:d/1".into(),
        initiator_name: "iqn.x:y".into(),
        timeouts: Default::default(),
        device_id: None,
        zero_copy: false,
        config: None,
        secret_source: None,
    };
    let record = DeviceRecord::new(
        77,
        &info,
        &params,
        &[QueueRecord {
            qid: 0,
            tid: 78,
            affinity: "0 1 ".into(),
        }],
        &target,
    );
    let text = format_device(&info, &params, Some(&record));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "dev id 0: nr_hw_queues 1 queue_depth 128 block size 4096 dev_capacity 131072"
    );
    assert_eq!(
        lines[1],
        "\tmax rq size 524288 daemon pid 77 flags 0x2 state LIVE"
    );
    assert_eq!(lines[2], "\tublkc: 240:0 ublkb: 259:0 owner: 0:0");
    assert_eq!(lines[3], "\tqueue 0: tid 78 affinity(0 1 )");
    assert!(lines[4].starts_with("\ttarget {"), "{}", lines[4]);
    assert!(lines[4].contains("iscsi://u%<redacted>@127.0.0.1:3261/iqn.t:d/1"));
    assert!(!text.contains("secretsecret12"));
    let verbose = format_record_verbose(&record);
    assert!(!verbose.contains("secretsecret12"));
    assert!(verbose.contains("\"dev_info\""));
}

#[test]
fn a_device_that_vanishes_during_del_is_deleted() {
    let gone = || false;
    let still_there = || true;
    let enoent = || UblkError::UringIOError(-libc::ENOENT);
    let enodev = || UblkError::OtherError(-libc::ENODEV);
    // libublk removes its JSON file after DEL_DEV; the daemon may have removed it first.
    let json_gone = || UblkError::IOError(io::Error::from(io::ErrorKind::NotFound));
    assert!(vanished_is_done(Ok(0), still_there).is_ok());
    for error in [enoent(), enodev(), json_gone()] {
        assert!(vanished_is_done(Err(error), gone).is_ok());
    }
    // "Gone" while the device is still there, or any other failure, is an error.
    for error in [enoent(), enodev(), json_gone()] {
        assert!(vanished_is_done(Err(error), still_there).is_err());
    }
    let busy = vanished_is_done(Err(UblkError::UringIOError(-libc::EBUSY)), gone);
    assert!(matches!(busy, Err(UblkError::UringIOError(e)) if e == -libc::EBUSY));
    let denied = UblkError::IOError(io::Error::from(io::ErrorKind::PermissionDenied));
    assert!(vanished_is_done(Err(denied), gone).is_err());
}

#[test]
fn features_like_ublksrv() {
    let text = format_features(0x1 | 0x800 | 1 << 40);
    assert_eq!(
        text,
        "ublk_drv features: 0x10000000801\n\tZERO_COPY           : 0x1\n\tAUTO_ZC             : 0x800\n\tunknown             : 0x10000000000\n"
    );
}
