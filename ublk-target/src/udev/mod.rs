//! `ublk.cxgb3i udev-id ublkbN`: the udev properties of a ublk disk this program serves, from
//! the LU identity (VPD page 0x83) in the device's record `/run/ublksrvd/N.pid`. The rule
//! `contrib/udev/60-ublk-cxgb3i.rules` imports them and makes the disk's
//! `/dev/disk/by-id/ublk-cxgb3i-$ID_SERIAL` link (and `-partN` for its partitions).
//!
//! The properties follow udev's `scsi_id --export` where they can, so tools that read them
//! (lsblk's WWN column, multipath) see what they would for the same LU on an sd disk:
//!
//! | designator (`target.device_id`) | ID_SERIAL | ID_WWN |
//! |---|---|---|
//! | NAA `naa.<hex>` | `3<hex>` | `0x` + first 16 hex digits |
//! | EUI-64 `eui.<hex>` | `2<hex>` | |
//! | T10 vendor `t10.<vendor> <id>` | `1<vendor>_<id>` | |
//! | SCSI name string | `8<name>` | |
//!
//! The record is written just after the disk appears, so the disk's "add" event can come
//! first: the record is waited for (up to [`RECORD_WAIT`]). A device another ublksrv target
//! serves, or one with no record, gets nothing and a non-zero exit, which makes udev's
//! IMPORT{program} match fail.

#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;
use thiserror::Error;

use crate::device::TARGET_NAME;
use crate::pidfile::{self, DeviceRecord, RecordError};

/// How long the record may take to appear after the disk.
pub(crate) const RECORD_WAIT: Duration = Duration::from_secs(5);
/// How often the record is looked for meanwhile.
const RECORD_POLL: Duration = Duration::from_millis(50);
/// The kernel's name of ublk disk N.
const DISK_PREFIX: &str = "ublkb";

/// `udev-id [--run-dir DIR] [--wait SECONDS] NAME` (hidden: for the udev rule).
#[derive(clap::Args, Debug, Clone)]
pub struct UdevIdArgs {
    /// The disk's kernel name (udev's %k), e.g. ublkb0.
    pub name: String,
    /// Where the device records are.
    #[arg(long = "run-dir", value_name = "DIR", default_value = pidfile::RUN_DIR)]
    pub run_dir: PathBuf,
    /// Seconds to wait for the device's record.
    #[arg(long = "wait", value_name = "SECONDS", default_value_t = RECORD_WAIT.as_secs_f64())]
    pub wait_seconds: f64,
}

/// Why a disk gets no properties.
#[derive(Debug, Error)]
pub(crate) enum UdevIdError {
    #[error("{name}: not a ublk disk (ublkbN)")]
    NotAUblkDisk { name: String },
    #[error("no record of device {dev_id} within {waited:?}: {last}")]
    NoRecord {
        dev_id: u32,
        waited: Duration,
        last: RecordError,
    },
    #[error("device {dev_id} is served by target {}, not {TARGET_NAME}", .target.as_deref().unwrap_or("(none named)"))]
    NotOurs { dev_id: u32, target: Option<String> },
    #[error(
        "device {dev_id}: the record holds no LU identity (the LU reported no VPD 0x83 designator)"
    )]
    NoIdentity { dev_id: u32 },
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("--wait {0}: not a number of seconds")]
    BadWait(f64),
}

/// The device id of disk `name` (`ublkb7` → 7).
pub(crate) fn disk_number(name: &str) -> Result<u32, UdevIdError> {
    name.strip_prefix(DISK_PREFIX)
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(|| UdevIdError::NotAUblkDisk {
            name: name.to_owned(),
        })
}

/// An LU identity, from the text form `target.device_id` holds (iscsi-proto's `Designator`
/// display).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Identity {
    /// NAA designator: lowercase hex.
    Naa(String),
    /// EUI-64 designator: lowercase hex.
    Eui64(String),
    /// T10 vendor ID designator: vendor, a space, vendor specific identifier.
    T10VendorId(String),
    /// SCSI name string (an iSCSI name).
    ScsiName(String),
    /// Another designator type, its bytes in hex.
    Other { designator_type: u8, hex: String },
}

fn hex_digits(text: &str) -> Option<String> {
    (!text.is_empty() && text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| text.to_ascii_lowercase())
}

impl Identity {
    /// Reads the text form: `naa.<hex>`, `eui.<hex>`, `t10.<vendor> <id>`, `type<N>.<hex>`,
    /// anything else a SCSI name string.
    pub(crate) fn parse(device_id: &str) -> Identity {
        let hex_after = |prefix: &str| device_id.strip_prefix(prefix).and_then(hex_digits);
        if let Some(hex) = hex_after("naa.") {
            return Identity::Naa(hex);
        }
        if let Some(hex) = hex_after("eui.") {
            return Identity::Eui64(hex);
        }
        if let Some(text) = device_id.strip_prefix("t10.") {
            return Identity::T10VendorId(text.to_owned());
        }
        let other = device_id
            .strip_prefix("type")
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(number, hex)| Some((number.parse().ok()?, hex_digits(hex)?)))
            // DESIGNATOR TYPE is 4 bits: one hex digit in ID_SERIAL.
            .filter(|(designator_type, _)| *designator_type < 16);
        match other {
            Some((designator_type, hex)) => Identity::Other {
                designator_type,
                hex,
            },
            None => Identity::ScsiName(device_id.to_owned()),
        }
    }

    /// scsi_id's ID_SERIAL: the designator type as one hex digit, then the designator.
    pub(crate) fn serial(&self) -> String {
        let raw = match self {
            Identity::Naa(hex) => format!("3{hex}"),
            Identity::Eui64(hex) => format!("2{hex}"),
            Identity::T10VendorId(text) => format!("1{text}"),
            Identity::ScsiName(name) => format!("8{name}"),
            Identity::Other {
                designator_type,
                hex,
            } => format!("{designator_type:x}{hex}"),
        };
        link_safe(&raw)
    }
}

/// What udev may put in a link name as it is: whitespace runs become one `_` (as udev's
/// `udev_replace_whitespace` does for scsi_id's values), and any other character outside
/// `[0-9A-Za-z#+-.:=@_]` a `_` (a `/` would make directories, a space two links).
pub(crate) fn link_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push('_');
        }
        out.extend(word.chars().map(|c| {
            if c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c) {
                c
            } else {
                '_'
            }
        }));
    }
    out
}

/// The properties of a disk whose LU has identity `device_id`, in output order.
pub(crate) fn properties(device_id: &str) -> Vec<(&'static str, String)> {
    let identity = Identity::parse(device_id);
    let serial = identity.serial();
    let mut properties = vec![
        // scsi_id's disks get ID_BUS=scsi from 60-persistent-storage.rules; this is a SCSI LU
        // too, and its ID_SERIAL has scsi_id's form.
        ("ID_BUS", "scsi".to_owned()),
        ("ID_SERIAL", serial.clone()),
        // Without the designator type digit, as scsi_id's ID_SERIAL_SHORT.
        ("ID_SERIAL_SHORT", serial[1..].to_owned()),
    ];
    if let Identity::Naa(hex) = &identity {
        // scsi_id: the first 8 bytes are the WWN; NAA 6 adds an 8-byte vendor extension.
        let (wwn, extension) = hex.split_at(hex.len().min(16));
        properties.push(("ID_WWN", format!("0x{wwn}")));
        if !extension.is_empty() {
            properties.push(("ID_WWN_VENDOR_EXTENSION", format!("0x{extension}")));
        }
        properties.push(("ID_WWN_WITH_EXTENSION", format!("0x{hex}")));
    }
    properties.push(("UBLK_CXGB3I_DEVICE_ID", device_id.to_owned()));
    properties
}

/// `KEY=value` lines as IMPORT{program} reads them. A value with whitespace, or starting
/// with a quote, is put in double quotes (udev strips one pair); control characters, which
/// would end or corrupt the line, become `_`.
pub(crate) fn format_env(properties: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (key, value) in properties {
        let value: String = value
            .chars()
            .map(|c| if c.is_control() { '_' } else { c })
            .collect();
        let quote = value.contains(char::is_whitespace) || value.starts_with(['"', '\'']);
        let _ = if quote {
            writeln!(out, "{key}=\"{value}\"")
        } else {
            writeln!(out, "{key}={value}")
        };
    }
    out
}

/// Whether process `pid` exists (EPERM: it does, owned by someone else).
fn process_exists(pid: i32) -> bool {
    matches!(kill(Pid::from_raw(pid), None), Ok(()) | Err(Errno::EPERM))
}

/// Device `dev_id`'s record in `run_dir`, waiting up to `wait` for one whose daemon is
/// running: the record is written after the disk appears, and one left by a daemon that died
/// may be replaced by the new device's. If only such a stale record is there at the end, it
/// is used: a device whose daemon died stays (waiting for `ublk recover`) with that LU.
pub(crate) fn wait_for_record(
    run_dir: &Path,
    dev_id: u32,
    wait: Duration,
) -> Result<DeviceRecord, UdevIdError> {
    let path = pidfile::path(run_dir, dev_id);
    let start = Instant::now();
    loop {
        let result = DeviceRecord::read(&path);
        let out_of_time = start.elapsed() >= wait;
        match result {
            Ok(record) if out_of_time || process_exists(record.pid) => return Ok(record),
            Err(last) if out_of_time => {
                return Err(UdevIdError::NoRecord {
                    dev_id,
                    waited: start.elapsed(),
                    last,
                })
            }
            _ => std::thread::sleep(RECORD_POLL.min(wait.saturating_sub(start.elapsed()))),
        }
    }
}

/// The properties of disk `name` from its record in `run_dir`.
pub(crate) fn disk_properties(
    name: &str,
    run_dir: &Path,
    wait: Duration,
) -> Result<Vec<(&'static str, String)>, UdevIdError> {
    let dev_id = disk_number(name)?;
    let record = wait_for_record(run_dir, dev_id, wait)?;
    if record.target_name() != Some(TARGET_NAME) {
        return Err(UdevIdError::NotOurs {
            dev_id,
            target: record.target_name().map(str::to_owned),
        });
    }
    let target = record.target(&pidfile::path(run_dir, dev_id))?;
    let device_id = target
        .device_id
        .filter(|id| !id.is_empty())
        .ok_or(UdevIdError::NoIdentity { dev_id })?;
    Ok(properties(&device_id))
}

/// Runs `udev-id`: the properties on stdout, or nothing there, a line on stderr (udev logs
/// it) and exit status 1.
pub fn run_udev_id(args: &UdevIdArgs) -> ExitCode {
    let result = Duration::try_from_secs_f64(args.wait_seconds)
        .map_err(|_| UdevIdError::BadWait(args.wait_seconds))
        .and_then(|wait| disk_properties(&args.name, &args.run_dir, wait));
    match result {
        Ok(properties) => {
            print!("{}", format_env(&properties));
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ublk.{TARGET_NAME} udev-id {}: {error}", args.name);
            ExitCode::FAILURE
        }
    }
}
