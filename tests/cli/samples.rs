//! The sample configuration files `scripts/install` puts in /etc/ublk-cxgb3i parse as they
//! are, and so does the defaults file with every commented key turned on.

use std::path::{Path, PathBuf};

use ublk_target::config::{ConfigFile, FileKind};

fn contrib(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/config")
        .join(name)
}

#[test]
fn the_samples_parse() {
    let example = ConfigFile::load(&contrib("example.toml"), FileKind::Device).unwrap();
    assert_eq!(example.settings.lun, Some(1));
    ConfigFile::load(&contrib("defaults.toml"), FileKind::Defaults).unwrap();
}

#[test]
fn every_key_the_defaults_sample_mentions_is_valid() {
    let text = std::fs::read_to_string(contrib("defaults.toml")).unwrap();
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => format!("{rest}\n"),
            _ => format!("{line}\n"),
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("ublk-cxgb3i-samples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("defaults.toml");
    std::fs::write(&path, &uncommented).unwrap();
    let loaded = ConfigFile::load(&path, FileKind::Defaults);
    std::fs::remove_dir_all(&dir).unwrap();
    let loaded = loaded.unwrap_or_else(|error| panic!("{error}\n{uncommented}"));
    assert_eq!(loaded.settings.queues, Some(1));
    assert!(loaded.settings.timeouts.is_some());
}
