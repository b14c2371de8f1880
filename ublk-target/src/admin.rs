//! `list`, `del` and `features` for any ublk device, the way ublksrv's `ublk` does them:
//! kernel state from the control device, queue and target lines from the ublksrv record.
//! Nothing here runs a target; secrets in a record never reach the terminal.

use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use iscsi_proto::url::IscsiUrl;
use libublk::ctrl::UblkCtrl;
use libublk::{sys, UblkError};
use serde_json::Value;
use thiserror::Error;

use crate::device::error::describe;
use crate::device::TARGET_NAME;
use crate::pidfile::{self, DeviceRecord};
use crate::status::listing::{self, state_name, DeviceListing, ListDocument};
use crate::status::server::{self, socket_path};

/// How long `del` waits for the daemon to exit after STOP_DEV. ublksrv waits 3 s; ours logs
/// its sessions out first, which may take the logout timeout (15 s by default) against a slow
/// target, so it gets that and a margin.
const DAEMON_EXIT_WAIT: Duration = Duration::from_secs(20);
const DAEMON_EXIT_STEP: Duration = Duration::from_millis(100);
const REDACTED: &str = "<redacted>";

#[derive(Debug, Error)]
pub(crate) enum AdminError {
    #[error("ublk_drv is not loaded (modprobe ublk_drv)")]
    NoDriver,
    #[error("can't get dev info from {id}: {}", describe(.error))]
    NoDevice { id: u32, error: UblkError },
    #[error("stop dev {id} failed: {}", describe(.error))]
    Stop { id: u32, error: UblkError },
    #[error("delete dev {id} failed: {}", describe(.error))]
    Delete { id: u32, error: UblkError },
    #[error("cannot read the driver's features")]
    Features,
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// ublksrv checks for the module before anything else.
pub(crate) fn check_driver() -> Result<(), AdminError> {
    if Path::new("/sys/module/ublk_drv").exists() {
        Ok(())
    } else {
        Err(AdminError::NoDriver)
    }
}

/// Every ublk device id, ascending.
pub(crate) fn device_ids() -> Vec<u32> {
    let mut ids: Vec<u32> = std::fs::read_dir("/sys/class/ublk-char")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()?
                .strip_prefix("ublkc")?
                .parse()
                .ok()
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// A control handle for an existing device. libublk prints to stderr when the device has no
/// libublk JSON (any device it did not create); that is not an error here, so stderr is
/// silenced around the call.
fn open(id: u32) -> Result<UblkCtrl, AdminError> {
    let id_i32 = i32::try_from(id).map_err(|_| AdminError::NoDevice {
        id,
        error: UblkError::OtherError(-libc::EINVAL),
    })?;
    with_stderr_silenced(|| UblkCtrl::new_simple(id_i32))
        .map_err(|error| AdminError::NoDevice { id, error })
}

fn with_stderr_silenced<T>(f: impl FnOnce() -> T) -> T {
    let _ = io::stderr().flush();
    // SAFETY: dup of stderr, restored below.
    let saved = unsafe { libc::dup(2) };
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null");
    if let (true, Ok(null)) = (saved >= 0, &null) {
        // SAFETY: replaces fd 2 with /dev/null for the duration of `f`.
        unsafe { libc::dup2(null.as_raw_fd(), 2) };
    }
    let result = f();
    if saved >= 0 {
        // SAFETY: restores and closes the saved descriptor.
        unsafe {
            libc::dup2(saved, 2);
            libc::close(saved);
        }
    }
    result
}

/// A record's target object with every secret hidden: the URL is re-written with its
/// passwords redacted, and any field named like a password or secret is replaced (but
/// `secret_source`, which only says where the secrets come from).
pub(crate) fn redacted_target(target: &Value) -> Value {
    let mut target = target.clone();
    if let Value::Object(fields) = &mut target {
        for (name, value) in fields.iter_mut() {
            let lower = name.to_ascii_lowercase();
            let names_a_secret = lower.contains("password") || lower.contains("secret");
            if names_a_secret && lower != "secret_source" {
                *value = Value::String(REDACTED.into());
            } else if lower == "url" {
                if let Value::String(text) = value {
                    *text = match text.parse::<IscsiUrl>() {
                        Ok(url) => url.to_string(),
                        Err(error) => error.input,
                    };
                }
            }
        }
    }
    target
}

/// The lines ublksrv's `ublk list` prints for one device.
pub(crate) fn format_device(
    info: &sys::ublksrv_ctrl_dev_info,
    params: &sys::ublk_params,
    record: Option<&DeviceRecord>,
) -> String {
    let mut out = format!(
        "dev id {}: nr_hw_queues {} queue_depth {} block size {} dev_capacity {}\n",
        info.dev_id,
        info.nr_hw_queues,
        info.queue_depth,
        1u64 << params.basic.logical_bs_shift.min(63),
        params.basic.dev_sectors
    );
    out += &format!(
        "\tmax rq size {} daemon pid {} flags 0x{:x} state {}\n",
        info.max_io_buf_bytes,
        info.ublksrv_pid,
        info.flags,
        state_name(info.state)
    );
    out += &format!(
        "\tublkc: {}:{} ublkb: {}:{} owner: {}:{}\n",
        params.devt.char_major,
        params.devt.char_minor,
        params.devt.disk_major,
        params.devt.disk_minor,
        info.owner_uid,
        info.owner_gid
    );
    if let Some(record) = record {
        for qid in 0..info.nr_hw_queues {
            let (tid, affinity) = record.queue(qid).unwrap_or((0, String::new()));
            out += &format!("\tqueue {qid}: tid {tid} affinity({affinity})\n");
        }
        if let Some(target) = record.json.get("target") {
            out += &format!("\ttarget {}\n", redacted_target(target));
        }
    }
    out
}

/// The record with secrets hidden, pretty-printed (`list -v`).
pub(crate) fn format_record_verbose(record: &DeviceRecord) -> String {
    let mut json = record.json.clone();
    if let Some(target) = json.get("target").map(redacted_target) {
        json["target"] = target;
    }
    serde_json::to_string_pretty(&json).unwrap_or_default() + "\n"
}

/// How `list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListFormat {
    /// ublksrv's lines, then ours (see [`listing::format_listing`]).
    Plain,
    /// The record as JSON, secrets redacted (`-v`).
    Verbose,
    /// The document of docs/list-json.md (`--json`).
    Json,
}

/// Where `list` finds records and status sockets.
#[derive(Debug, Clone)]
pub(crate) struct ListDirs {
    pub records: PathBuf,
    pub sockets: PathBuf,
}

impl ListDirs {
    /// The daemons' own places.
    pub(crate) fn standard() -> ListDirs {
        ListDirs {
            records: PathBuf::from(pidfile::RUN_DIR),
            sockets: PathBuf::from(server::SOCKET_DIR),
        }
    }
}

/// How long `list` waits for a daemon's status.
const STATUS_TIMEOUT: Duration = Duration::from_secs(2);

/// Device `id` as `list` shows it: the listing and its plain text.
fn describe_device(
    id: u32,
    verbose: bool,
    dirs: &ListDirs,
) -> Result<(DeviceListing, String), AdminError> {
    let ctrl = open(id)?;
    let info = ctrl.dev_info();
    let mut params = sys::ublk_params::default();
    ctrl.get_params(&mut params)
        .map_err(|error| AdminError::NoDevice { id, error })?;
    let record = DeviceRecord::read(&pidfile::path(&dirs.records, id)).ok();
    let live = live_status(id, record.as_ref(), &dirs.sockets);
    let listing = listing::device_listing(&info, &params, record.as_ref(), live);
    let text = match (&record, verbose) {
        (Some(record), true) => format_record_verbose(record),
        _ => {
            let mut text = format_device(&info, &params, record.as_ref());
            if listing.target.as_deref() == Some(TARGET_NAME) {
                text += &listing::format_listing(&listing);
            }
            text
        }
    };
    Ok((listing, text))
}

/// The daemon's answer on its status socket, or why there is none.
fn live_status(
    id: u32,
    record: Option<&DeviceRecord>,
    socket_dir: &Path,
) -> Result<crate::status::LiveStatus, String> {
    let Some(record) = record else {
        return Err("no device record: the daemon is not running".into());
    };
    if record.target_name() != Some(TARGET_NAME) {
        return Err(format!("not a {TARGET_NAME} device"));
    }
    // SAFETY: signal 0 only checks that the process exists.
    if unsafe { libc::kill(record.pid, 0) } != 0 {
        return Err(format!("the daemon (pid {}) is not running", record.pid));
    }
    server::query(&socket_path(socket_dir, id), STATUS_TIMEOUT).map_err(|error| error.to_string())
}

fn print_json(document: &ListDocument) -> Result<(), AdminError> {
    let mut text = serde_json::to_string_pretty(document).map_err(io::Error::other)?;
    text.push('\n');
    io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// Prints device `id` like ublksrv's `ublk list -n id`, with our lines after (or as JSON).
pub(crate) fn list_one(id: u32, format: ListFormat, dirs: &ListDirs) -> Result<(), AdminError> {
    let (listing, text) = describe_device(id, format == ListFormat::Verbose, dirs)?;
    if format == ListFormat::Json {
        return print_json(&ListDocument::new(vec![listing]));
    }
    io::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// Prints every device; devices that vanish meanwhile are skipped.
pub(crate) fn list_all(format: ListFormat, dirs: &ListDirs) -> Result<(), AdminError> {
    let mut listings = Vec::new();
    for id in device_ids() {
        match describe_device(id, format == ListFormat::Verbose, dirs) {
            Ok((listing, text)) => {
                if format == ListFormat::Json {
                    listings.push(listing);
                } else {
                    io::stdout().write_all(text.as_bytes())?;
                }
            }
            Err(AdminError::NoDevice { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    if format == ListFormat::Json {
        print_json(&ListDocument::new(listings))?;
    }
    Ok(())
}

/// The pid of device `id`'s daemon, if its record names one that runs.
pub(crate) fn daemon_alive(run_dir: &Path, id: u32) -> Option<i32> {
    let record = DeviceRecord::read(&pidfile::path(run_dir, id)).ok()?;
    // SAFETY: signal 0 only checks that the process exists.
    (unsafe { libc::kill(record.pid, 0) } == 0).then_some(record.pid)
}

/// Whether a control command failed because the device (or libublk's JSON file of it) no
/// longer exists: the kernel's ENODEV / ENOENT, or the file removal's NotFound.
fn is_gone(error: &UblkError) -> bool {
    match error {
        UblkError::UringIOError(errno) | UblkError::OtherError(errno) => {
            *errno == -libc::ENODEV || *errno == -libc::ENOENT
        }
        UblkError::IOError(error) => error.kind() == io::ErrorKind::NotFound,
        _ => false,
    }
}

fn device_exists(id: u32) -> bool {
    Path::new(&format!("/sys/class/ublk-char/ublkc{id}")).exists()
}

/// The kernel's UBLK_S_DEV_* state of device `id`, or `None` if it has no such device.
pub(crate) fn device_state(id: u32) -> Option<u32> {
    if !device_exists(id) {
        return None;
    }
    open(id).ok().map(|ctrl| u32::from(ctrl.dev_info().state))
}

/// The result of a STOP_DEV or DEL_DEV that `del` sent to a device it found. Our daemon,
/// signalled first, removes its device itself (a daemon that was not signalled leaves it to
/// whoever stopped it, as ublksrv's targets do), so either command can race that removal
/// and report the device (or libublk's JSON file, which both sides delete) missing: that is
/// the removal `del` asked for, as long as the device is really gone.
fn vanished_is_done(
    result: Result<i32, UblkError>,
    device_exists: impl Fn() -> bool,
) -> Result<(), UblkError> {
    match result {
        Ok(_) => Ok(()),
        Err(error) if is_gone(&error) && !device_exists() => Ok(()),
        Err(error) => Err(error),
    }
}

/// ublksrv's `del`: STOP_DEV, wait up to 3 s for the daemon to exit, DEL_DEV. A daemon that
/// left its record behind has it removed. A device that does not exist when `del` looks is an
/// error; one that disappears while `del` removes it is not.
///
/// Our daemon is told first (SIGTERM), so requests it holds for a session that is down fail
/// at once instead of after the replacement timeout: STOP_DEV alone waits for every
/// request the daemon has, and the daemon cannot see that STOP_DEV is waiting.
pub(crate) fn del_one(id: u32, run_dir: &Path) -> Result<(), AdminError> {
    let ctrl = open(id)?;
    if let Some(pid) = daemon_alive(run_dir, id) {
        // SAFETY: plain kill(2) of the pid the device's record names.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    vanished_is_done(ctrl.kill_dev(), || device_exists(id))
        .map_err(|error| AdminError::Stop { id, error })?;
    let mut waited = Duration::ZERO;
    while let Some(pid) = daemon_alive(run_dir, id) {
        if waited >= DAEMON_EXIT_WAIT {
            eprintln!("stop daemon {id} failed (pid {pid} still running)");
            break;
        }
        std::thread::sleep(DAEMON_EXIT_STEP);
        waited += DAEMON_EXIT_STEP;
    }
    vanished_is_done(ctrl.del_dev(), || device_exists(id))
        .map_err(|error| AdminError::Delete { id, error })?;
    let record = pidfile::path(run_dir, id);
    if daemon_alive(run_dir, id).is_none() && record.exists() {
        let _ = std::fs::remove_file(&record);
    }
    Ok(())
}

/// STOP_DEV alone, as ublksrv's `ublk del` sends it before waiting for the daemon: our
/// daemon then leaves the device for the caller to delete (see `device::StopCause`).
pub(crate) fn stop_only(id: u32) -> Result<(), AdminError> {
    open(id)?
        .kill_dev()
        .map(drop)
        .map_err(|error| AdminError::Stop { id, error })
}

/// Deletes every device, stopping at the first that cannot be deleted.
pub(crate) fn del_all(run_dir: &Path) -> Result<(), AdminError> {
    for id in device_ids() {
        match del_one(id, run_dir) {
            Ok(()) | Err(AdminError::NoDevice { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// Names of the UBLK_F_* feature bits, by bit number (ublksrv's names where it has one).
const FEATURE_NAMES: [&str; 20] = [
    "ZERO_COPY",
    "COMP_IN_TASK",
    "GET_DATA",
    "USER_RECOVERY",
    "RECOVERY_REISSUE",
    "UNPRIVILEGED_DEV",
    "CMD_IOCTL_ENCODE",
    "USER_COPY",
    "ZONED",
    "RECOVERY_FAIL_IO",
    "UPDATE_SIZE",
    "AUTO_ZC",
    "QUIESCE",
    "PER_IO_DAEMON",
    "BUF_REG_OFF_DAEMON",
    "BATCH_IO",
    "INTEGRITY",
    "SAFE_STOP_DEV",
    "NO_AUTO_PART_SCAN",
    "SHMEM_ZC",
];

/// ublksrv's `features` output.
pub(crate) fn format_features(features: u64) -> String {
    let mut out = format!("ublk_drv features: 0x{features:x}\n");
    for bit in 0..64 {
        if features & (1 << bit) == 0 {
            continue;
        }
        let name = FEATURE_NAMES.get(bit).copied().unwrap_or("unknown");
        out += &format!("\t{name:<20}: 0x{:x}\n", 1u64 << bit);
    }
    out
}

pub(crate) fn features() -> Result<(), AdminError> {
    let features = UblkCtrl::get_features().ok_or(AdminError::Features)?;
    io::stdout().write_all(format_features(features).as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests;
