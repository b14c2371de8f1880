//! The commands kept out of the usage: `generate-docs` (for scripts/install) and `udev-id`
//! (for the udev rule).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ublk_target::pidfile::{self, DeviceRecord};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .expect("run the program")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ublk-cxgb3i-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn internal_commands_are_not_in_the_usage() {
    for program in [
        env!("CARGO_BIN_EXE_ublk-cxgb3i"),
        env!("CARGO_BIN_EXE_ublk"),
    ] {
        let out = run(program, &["--help"]);
        let usage = text(&out.stdout) + &text(&out.stderr);
        assert!(!usage.contains("generate-docs"), "{usage}");
        assert!(!usage.contains("udev-id"), "{usage}");
    }
}

#[test]
fn generate_docs_writes_a_page_per_command_and_completions() {
    let dir = scratch("docs");
    let man = dir.join("man");
    let completions = dir.join("completions");
    let args = [
        "generate-docs",
        "--man",
        man.to_str().unwrap(),
        "--completions",
        completions.to_str().unwrap(),
    ];
    let out = run(env!("CARGO_BIN_EXE_ublk-cxgb3i"), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(env!("CARGO_BIN_EXE_ublk"), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for page in [
        "ublk.cxgb3i.8",
        "ublk.cxgb3i-add.8",
        "ublk.cxgb3i-probe.8",
        "ublk.8",
    ] {
        let body = std::fs::read_to_string(man.join(page)).unwrap();
        assert!(body.contains(".TH "), "{page}");
    }
    assert!(!man.join("ublk.cxgb3i-udev-id.8").exists());
    assert!(!man.join("ublk-add.8").exists());
    for file in ["bash/ublk.cxgb3i", "zsh/_ublk", "fish/ublk.cxgb3i.fish"] {
        assert!(completions.join(file).is_file(), "{file}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn write_record(dir: &Path, dev_id: u32, target_name: &str, device_id: &str) {
    let json = serde_json::json!({
        "dev_info": {"dev_id": dev_id},
        "target": {
            "name": target_name, "type": target_name, "dev_size": 1048576,
            "url": "iscsi://127.0.0.1/iqn.x:y/1", "initiator_name": "iqn.x:i",
            "device_id": device_id,
        },
    });
    let record = DeviceRecord {
        pid: std::process::id() as i32,
        json,
    };
    record.write(&pidfile::path(dir, dev_id)).unwrap();
}

#[test]
fn udev_id_prints_properties_for_our_disks_only() {
    let dir = scratch("udev");
    write_record(&dir, 0, "cxgb3i", "naa.60014051234567890abcdef012345678");
    write_record(&dir, 1, "loop", "naa.60014051234567890abcdef012345678");
    let udev_id = |name: &str| {
        run(
            env!("CARGO_BIN_EXE_ublk-cxgb3i"),
            &[
                "udev-id",
                "--run-dir",
                dir.to_str().unwrap(),
                "--wait",
                "0.2",
                name,
            ],
        )
    };
    let out = udev_id("ublkb0");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ID_SERIAL=360014051234567890abcdef012345678\n"),
        "{stdout}"
    );
    assert!(stdout.contains("ID_WWN=0x6001405123456789\n"), "{stdout}");
    for name in ["ublkb1", "ublkb2", "sda"] {
        let out = udev_id(name);
        assert!(!out.status.success(), "{name}");
        assert!(out.stdout.is_empty(), "{name}: {}", text(&out.stdout));
        assert!(text(&out.stderr).contains(name), "{}", text(&out.stderr));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
