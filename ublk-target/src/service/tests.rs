use std::fs;

use super::*;
use crate::pidfile::{DeviceRecord, TargetRecord};

#[test]
fn start_decides_from_the_kernel_state_and_the_daemon() {
    let observed = |state, daemon| {
        Some(Observed {
            id: 4,
            state,
            daemon,
        })
    };
    assert_eq!(classify(None), Found::Nothing);
    // A record the kernel knows nothing of (left behind): a new device.
    assert_eq!(classify(observed(None, None)), Found::Nothing);
    assert_eq!(
        classify(observed(Some(sys::UBLK_S_DEV_QUIESCED), None)),
        Found::Recoverable(4)
    );
    assert_eq!(
        classify(observed(Some(sys::UBLK_S_DEV_DEAD), None)),
        Found::Stale(4)
    );
    assert_eq!(
        classify(observed(Some(sys::UBLK_S_DEV_FAIL_IO), None)),
        Found::Stale(4)
    );
    assert_eq!(
        classify(observed(Some(sys::UBLK_S_DEV_LIVE), Some(77))),
        Found::Served { id: 4, pid: 77 }
    );
    // A daemon that runs is never replaced, whatever the state says.
    assert_eq!(
        classify(observed(Some(sys::UBLK_S_DEV_QUIESCED), Some(77))),
        Found::Served { id: 4, pid: 77 }
    );
}

fn write_record(dir: &Path, id: u32, name: &str, config: Option<&str>) {
    let target = TargetRecord {
        name: name.into(),
        target_type: name.into(),
        dev_size: 1 << 20,
        url: "iscsi://127.0.0.1/iqn.t:d/1".into(),
        initiator_name: "iqn.x:init".into(),
        zero_copy: false,
        timeouts: Default::default(),
        device_id: None,
        config: config.map(PathBuf::from),
        secret_source: None,
    };
    let dev_info = sys::ublksrv_ctrl_dev_info {
        dev_id: id,
        ..Default::default()
    };
    DeviceRecord::new(1, &dev_info, &Default::default(), &[], &target)
        .write(&pidfile::path(dir, id))
        .unwrap();
}

#[test]
fn the_device_of_a_configuration_is_found_by_its_record() {
    let dir = std::env::temp_dir().join(format!("ublk-target-service-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    write_record(&dir, 0, TARGET_NAME, Some("/etc/ublk-cxgb3i/a.toml"));
    write_record(&dir, 2, "loop", Some("/etc/ublk-cxgb3i/b.toml"));
    write_record(&dir, 5, TARGET_NAME, Some("/etc/ublk-cxgb3i/b.toml"));
    write_record(&dir, 7, TARGET_NAME, None);
    fs::write(dir.join("9.pid"), b"garbage").unwrap();
    fs::write(dir.join("0004.json"), b"{}").unwrap();
    assert_eq!(
        device_of(Path::new("/etc/ublk-cxgb3i/a.toml"), &dir),
        Some(0)
    );
    // Another target's record naming the same file is not ours.
    assert_eq!(
        device_of(Path::new("/etc/ublk-cxgb3i/b.toml"), &dir),
        Some(5)
    );
    assert_eq!(device_of(Path::new("/etc/ublk-cxgb3i/c.toml"), &dir), None);
    assert_eq!(device_of(Path::new("/x.toml"), &dir.join("missing")), None);
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stop_after_a_crash_leaves_the_device_for_the_restart() {
    assert!(!left_for_the_restart(None), "service stop run by hand");
    assert!(!left_for_the_restart(Some("success")), "systemctl stop");
    for crash in ["signal", "exit-code", "core-dump", "timeout", "oom-kill"] {
        assert!(left_for_the_restart(Some(crash)), "{crash}");
    }
}
