//! The systemd generator (`ublk-cxgb3i-generator`, which runs `ublk.cxgb3i
//! systemd-generator`): at boot and at every `systemctl daemon-reload`, each configuration
//! file with `startup = "automatic"` becomes a wanted instance of the template unit,
//!
//! ```text
//! NORMAL/ublk-cxgb3i.target.wants/ublk-cxgb3i@NAME.service -> UNITDIR/ublk-cxgb3i@.service
//! NORMAL/remote-fs.target.wants/ublk-cxgb3i.target          -> UNITDIR/ublk-cxgb3i.target
//! ```
//!
//! so the devices come up with the network, before remote-fs-pre.target, and an /etc/fstab
//! line with `_netdev` mounts a file system on one (open-iscsi's `node.startup = automatic`
//! and iscsi.service, the systemd way). Like every generator it only writes links: no
//! device is touched, nothing waits for the network. A configuration file that cannot be read
//! is reported (the journal gets a generator's stderr) and skipped; the others still start.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use thiserror::Error;

use crate::config::{self, ConfigFile, FileKind, Startup};

/// The template unit every device runs as.
const TEMPLATE_UNIT: &str = "ublk-cxgb3i@.service";
/// The target that wants every automatic device.
const TARGET_UNIT: &str = "ublk-cxgb3i.target";
/// The target that wants ours: file systems with `_netdev` are ordered after
/// remote-fs-pre.target, which our units come before.
const BOOT_TARGET: &str = "remote-fs.target";

/// Where unit files are installed, besides next to our own binary (`PREFIX/sbin` →
/// `PREFIX/lib/systemd/system`), in systemd's order.
const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// `systemd-generator NORMAL [EARLY LATE]`, as systemd calls a generator.
#[derive(Args, Debug, Clone)]
pub struct GeneratorArgs {
    /// The generator output directory of normal priority.
    pub normal_dir: PathBuf,
    /// The early and late output directories (unused).
    pub other_dirs: Vec<PathBuf>,
}

#[derive(Debug, Error)]
enum GeneratorError {
    #[error("{TEMPLATE_UNIT} is in none of {searched}")]
    NoTemplate { searched: String },
    #[error("{path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Config(#[from] config::ConfigError),
}

/// Runs the generator; problems go to stderr.
pub fn run_generator(args: GeneratorArgs) -> ExitCode {
    match generate(&config::dir(), &args.normal_dir, &unit_dirs()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ublk-cxgb3i-generator: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Our own unit directory first (`PREFIX/lib/systemd/system` for a binary in
/// `PREFIX/sbin`), then systemd's.
fn unit_dirs() -> Vec<PathBuf> {
    let own = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("lib/systemd/system")));
    own.into_iter()
        .chain(UNIT_DIRS.iter().map(PathBuf::from))
        .collect()
}

/// Writes the links for the automatic devices of `config_dir` into `normal_dir`, pointing at
/// the first of `unit_dirs` that holds the template.
fn generate(
    config_dir: &Path,
    normal_dir: &Path,
    unit_dirs: &[PathBuf],
) -> Result<(), GeneratorError> {
    if !config_dir.is_dir() {
        return Ok(());
    }
    let instances = automatic_instances(config_dir)?;
    if instances.is_empty() {
        return Ok(());
    }
    let unit_dir = unit_dirs
        .iter()
        .find(|dir| dir.join(TEMPLATE_UNIT).is_file())
        .ok_or_else(|| GeneratorError::NoTemplate {
            searched: unit_dirs
                .iter()
                .map(|dir| dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let wants = normal_dir.join(format!("{TARGET_UNIT}.wants"));
    for instance in &instances {
        link(
            &unit_dir.join(TEMPLATE_UNIT),
            &wants.join(format!("ublk-cxgb3i@{instance}.service")),
        )?;
    }
    link(
        &unit_dir.join(TARGET_UNIT),
        &normal_dir
            .join(format!("{BOOT_TARGET}.wants"))
            .join(TARGET_UNIT),
    )
}

/// The escaped instance names of the configuration files with `startup = "automatic"`.
fn automatic_instances(config_dir: &Path) -> Result<Vec<String>, GeneratorError> {
    let mut instances = Vec::new();
    for path in config::device_files(config_dir)? {
        match ConfigFile::load(&path, FileKind::Device) {
            Ok(file) if file.startup() == Startup::Automatic => {
                if let Some(stem) = path.file_stem() {
                    instances.push(escape_instance(stem.as_bytes()));
                }
            }
            Ok(_) => {}
            Err(error) => eprintln!("ublk-cxgb3i-generator: skipped: {error}"),
        }
    }
    Ok(instances)
}

fn link(target: &Path, link: &Path) -> Result<(), GeneratorError> {
    let write_error = |source| GeneratorError::Write {
        path: link.to_owned(),
        source,
    };
    if let Some(parent) = link.parent() {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    match std::os::unix::fs::symlink(target, link) {
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map_err(write_error),
    }
}

/// A unit instance name for `name`, as `systemd-escape` makes it: ASCII letters, digits,
/// `:`, `_` and `.` (but a leading one) stay, `/` becomes `-`, every other byte `\xNN`.
/// The unit gets `name` back with `%I`.
fn escape_instance(name: &[u8]) -> String {
    let mut escaped = String::with_capacity(name.len());
    for (index, &byte) in name.iter().enumerate() {
        let plain = byte.is_ascii_alphanumeric()
            || byte == b':'
            || byte == b'_'
            || (byte == b'.' && index > 0);
        if plain {
            escaped.push(char::from(byte));
        } else if byte == b'/' {
            escaped.push('-');
        } else {
            escaped.push_str(&format!("\\x{byte:02x}"));
        }
    }
    escaped
}

#[cfg(test)]
mod tests;
