use super::*;

use std::fs;

use crate::pidfile::TargetRecord;

#[test]
fn disk_numbers() {
    assert_eq!(disk_number("ublkb0").unwrap(), 0);
    assert_eq!(disk_number("ublkb17").unwrap(), 17);
    for name in [
        "ublkb",
        "ublkc0",
        "ublkb0p1",
        "sda",
        "ublkb-1",
        "ublkb99999999999",
        "",
    ] {
        assert!(
            matches!(disk_number(name), Err(UdevIdError::NotAUblkDisk { .. })),
            "{name}"
        );
    }
}

#[test]
fn identities_from_their_text_forms() {
    assert_eq!(
        Identity::parse("naa.6001405ABCDEF0123456789abcdef001"),
        Identity::Naa("6001405abcdef0123456789abcdef001".into())
    );
    assert_eq!(
        Identity::parse("eui.0123456789abcdef"),
        Identity::Eui64("0123456789abcdef".into())
    );
    assert_eq!(
        Identity::parse("t10.IET beaf11"),
        Identity::T10VendorId("IET beaf11".into())
    );
    assert_eq!(
        Identity::parse("type9.0a0b"),
        Identity::Other {
            designator_type: 9,
            hex: "0a0b".into()
        }
    );
    // Not hex after the prefix, or an impossible type: a SCSI name string.
    for name in [
        "iqn.2026-11.org.example:disk",
        "naa.xyz",
        "eui.",
        "type99.00",
        "naa.123",
    ] {
        assert_eq!(
            Identity::parse(name),
            Identity::ScsiName(name.into()),
            "{name}"
        );
    }
}

#[test]
fn serials_as_scsi_id_makes_them() {
    assert_eq!(
        Identity::parse("naa.6001405abcdef0123456789abcdef001").serial(),
        "36001405abcdef0123456789abcdef001"
    );
    assert_eq!(
        Identity::parse("eui.0123456789abcdef").serial(),
        "20123456789abcdef"
    );
    assert_eq!(Identity::parse("t10.IET beaf11").serial(), "1IET_beaf11");
    assert_eq!(
        Identity::parse("iqn.2026-11.org.example:disk,t,0x1").serial(),
        "8iqn.2026-11.org.example:disk_t_0x1"
    );
    assert_eq!(Identity::parse("type9.0a0b").serial(), "90a0b");
}

#[test]
fn link_safe_text() {
    assert_eq!(link_safe("  IET   beaf11  "), "IET_beaf11");
    assert_eq!(link_safe("a/b\\c d\te"), "a_b_c_d_e");
    assert_eq!(link_safe("x#+-.:=@_y"), "x#+-.:=@_y");
    assert_eq!(link_safe("é"), "_");
    assert_eq!(link_safe(""), "");
}

#[test]
fn naa_properties_carry_the_wwn() {
    let naa6 = properties("naa.6001405abcdef0123456789abcdef001");
    assert_eq!(
        format_env(&naa6),
        "ID_BUS=scsi\n\
         ID_SERIAL=36001405abcdef0123456789abcdef001\n\
         ID_SERIAL_SHORT=6001405abcdef0123456789abcdef001\n\
         ID_WWN=0x6001405abcdef012\n\
         ID_WWN_VENDOR_EXTENSION=0x3456789abcdef001\n\
         ID_WWN_WITH_EXTENSION=0x6001405abcdef0123456789abcdef001\n\
         UBLK_CXGB3I_DEVICE_ID=naa.6001405abcdef0123456789abcdef001\n"
    );
    // NAA 5: 8 bytes, no extension.
    let naa5 = properties("naa.5000c50012345678");
    let keys: Vec<_> = naa5.iter().map(|(key, _)| *key).collect();
    assert!(!keys.contains(&"ID_WWN_VENDOR_EXTENSION"));
    assert!(naa5.contains(&("ID_WWN", "0x5000c50012345678".into())));
}

#[test]
fn other_designators_have_no_wwn() {
    let t10 = properties("t10.IET beaf11");
    assert_eq!(
        format_env(&t10),
        "ID_BUS=scsi\n\
         ID_SERIAL=1IET_beaf11\n\
         ID_SERIAL_SHORT=IET_beaf11\n\
         UBLK_CXGB3I_DEVICE_ID=\"t10.IET beaf11\"\n"
    );
}

#[test]
fn env_values_stay_on_their_line() {
    assert_eq!(
        format_env(&[
            ("A", "x\ny\u{7f}".into()),
            ("B", "'q".into()),
            ("C", "".into())
        ]),
        "A=x_y_\nB=\"'q\"\nC=\n"
    );
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ublk-target-udev-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn record(pid: i32, target_name: &str, device_id: Option<&str>) -> DeviceRecord {
    let target = TargetRecord {
        name: target_name.into(),
        target_type: target_name.into(),
        dev_size: 1 << 20,
        url: "iscsi://127.0.0.1/iqn.x:y/1".into(),
        initiator_name: "iqn.x:i".into(),
        zero_copy: false,
        timeouts: Default::default(),
        device_id: device_id.map(str::to_owned),
        config: None,
        secret_source: None,
    };
    DeviceRecord::new(pid, &Default::default(), &Default::default(), &[], &target)
}

fn own_pid() -> i32 {
    std::process::id() as i32
}

#[test]
fn properties_of_a_disk_we_serve() {
    let dir = scratch("ours");
    record(own_pid(), TARGET_NAME, Some("naa.5000c50012345678"))
        .write(&pidfile::path(&dir, 3))
        .unwrap();
    let properties = disk_properties("ublkb3", &dir, Duration::ZERO).unwrap();
    assert!(properties.contains(&("ID_SERIAL", "35000c50012345678".into())));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn another_target_no_identity_or_no_record_gets_nothing() {
    let dir = scratch("not-ours");
    record(own_pid(), "loop", None)
        .write(&pidfile::path(&dir, 1))
        .unwrap();
    record(own_pid(), TARGET_NAME, None)
        .write(&pidfile::path(&dir, 2))
        .unwrap();
    assert!(matches!(
        disk_properties("ublkb1", &dir, Duration::ZERO),
        Err(UdevIdError::NotOurs { dev_id: 1, target: Some(name) }) if name == "loop"
    ));
    assert!(matches!(
        disk_properties("ublkb2", &dir, Duration::ZERO),
        Err(UdevIdError::NoIdentity { dev_id: 2 })
    ));
    let start = Instant::now();
    let error = disk_properties("ublkb4", &dir, Duration::from_millis(200)).unwrap_err();
    assert!(
        matches!(error, UdevIdError::NoRecord { dev_id: 4, .. }),
        "{error}"
    );
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(error.to_string().contains("4.pid"), "{error}");
    fs::remove_dir_all(&dir).unwrap();
}

/// The disk's event can come before its record: the record is waited for.
#[test]
fn a_record_written_after_the_disk_appears_is_waited_for() {
    let dir = scratch("late");
    let path = pidfile::path(&dir, 5);
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            // First the pid alone, as ublksrv writes it, then the whole record.
            let mut pid_only = format!("{}\n", own_pid()).into_bytes();
            pid_only.resize(pidfile::JSON_OFFSET, 0);
            fs::write(&path, pid_only).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            record(own_pid(), TARGET_NAME, Some("naa.5000c50012345678"))
                .write(&path)
                .unwrap();
        })
    };
    let properties = disk_properties("ublkb5", &dir, Duration::from_secs(5)).unwrap();
    writer.join().unwrap();
    assert!(properties.contains(&("ID_WWN", "0x5000c50012345678".into())));
    fs::remove_dir_all(&dir).unwrap();
}

/// A record whose daemon is gone is used only when no live one comes in time.
#[test]
fn a_stale_record_is_used_only_at_the_end() {
    let dir = scratch("stale");
    // A pid that cannot exist (above the kernel's pid_max limit).
    let dead_pid = (1 << 22) + 1;
    record(dead_pid, TARGET_NAME, Some("naa.5000c50012345678"))
        .write(&pidfile::path(&dir, 6))
        .unwrap();
    let start = Instant::now();
    let properties = disk_properties("ublkb6", &dir, Duration::from_millis(200)).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(properties.contains(&("ID_SERIAL", "35000c50012345678".into())));
    fs::remove_dir_all(&dir).unwrap();
}
