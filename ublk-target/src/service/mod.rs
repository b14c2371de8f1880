//! Running a configured device as a systemd service: `ublk.cxgb3i service start NAME` and
//! `service stop NAME`, what the template unit `ublk-cxgb3i@NAME.service` runs
//! (contrib/systemd/), the readiness and status messages of systemd's notify protocol, and
//! the generator that makes the units of `startup = "automatic"` devices start at boot
//! ([`generator`]).
//!
//! A device belongs to a configuration through its ublksrv record, which names the
//! configuration file it was created from. `start` is therefore idempotent across crashes:
//! - no device of this configuration: create it (as `add --config NAME --foreground`);
//! - a device of this configuration that is QUIESCED with no daemon (the daemon died, the
//!   device was created with `user_recovery = true`): recover it, so a mounted file system
//!   keeps working across the service's restart;
//! - a device of this configuration with no daemon that cannot be recovered (DEAD): delete it,
//!   then create it anew;
//! - a device of this configuration whose daemon runs: refuse (another instance serves it).
//!
//! Either way the process stays in the foreground as the unit's main process, and sends
//! `READY=1` once /dev/ublkbN is live. `stop` is `ublk del` of that device: the daemon is
//! signalled, fails what it holds for a session that is down, drains, logs out, deletes the
//! device and exits.

pub mod generator;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use libublk::sys;
use sd_notify::NotifyState;
use thiserror::Error;

use crate::admin::{self, AdminError};
use crate::cli::{self, AddArgs, RecoverArgs};
use crate::config::{self, ConfigError};
use crate::device::TARGET_NAME;
use crate::pidfile::{self, DeviceRecord};
use crate::supervisor::TimeoutOverrides;

/// `service start NAME | service stop NAME`
#[derive(Args, Debug, Clone)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub(crate) action: ServiceAction,
}

#[derive(Subcommand, Debug, Clone)]
pub(crate) enum ServiceAction {
    /// Serve the device of configuration NAME in the foreground: create it, or recover it
    /// if its daemon died; READY=1 to systemd once it is live.
    Start {
        /// A configuration name in /etc/ublk-cxgb3i (UBLK_CXGB3I_CONFIG_DIR), or a path.
        name: PathBuf,
    },
    /// Remove the device of configuration NAME: drain I/O, log out, delete it.
    Stop {
        /// As for `start`.
        name: PathBuf,
    },
}

/// Why `service` cannot go on.
#[derive(Debug, Error)]
enum ServiceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Admin(#[from] AdminError),
    #[error("device {id} of {config} is already served by pid {pid}")]
    AlreadyServed { id: u32, config: String, pid: i32 },
}

/// What `start` found for a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// No device was made from it.
    Nothing,
    /// Device `id` waits for a new daemon.
    Recoverable(u32),
    /// Device `id` has no daemon and cannot get one: it must go before a new one is made.
    Stale(u32),
    /// Device `id` is served by `pid`.
    Served { id: u32, pid: i32 },
}

/// What a device of the configuration looks like to `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Observed {
    id: u32,
    /// The kernel's UBLK_S_DEV_* state; `None` when the kernel has no such device (a record
    /// left over from a daemon that could not remove it).
    state: Option<u32>,
    /// The record's daemon, if it runs.
    daemon: Option<i32>,
}

/// Decides from what the kernel and the record say.
fn classify(observed: Option<Observed>) -> Found {
    let Some(observed) = observed else {
        return Found::Nothing;
    };
    match (observed.daemon, observed.state) {
        (_, None) => Found::Nothing,
        (Some(pid), Some(_)) => Found::Served {
            id: observed.id,
            pid,
        },
        (None, Some(sys::UBLK_S_DEV_QUIESCED)) => Found::Recoverable(observed.id),
        (None, Some(_)) => Found::Stale(observed.id),
    }
}

/// The device whose record names `config`, if any. Records that do not read, or are not
/// ours, are skipped.
fn device_of(config: &Path, run_dir: &Path) -> Option<u32> {
    let entries = std::fs::read_dir(run_dir).ok()?;
    let mut ids: Vec<u32> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name();
            name.to_str()?.strip_suffix(".pid")?.parse().ok()
        })
        .collect();
    ids.sort_unstable();
    ids.into_iter().find(|&id| {
        let path = pidfile::path(run_dir, id);
        DeviceRecord::read(&path)
            .ok()
            .and_then(|record| record.target(&path).ok())
            .is_some_and(|target| {
                target.name == TARGET_NAME && target.config.as_deref() == Some(config)
            })
    })
}

fn observe(config: &Path, run_dir: &Path) -> Option<Observed> {
    let id = device_of(config, run_dir)?;
    Some(Observed {
        id,
        state: admin::device_state(id),
        daemon: admin::daemon_alive(run_dir, id),
    })
}

fn fail(error: ServiceError) -> ExitCode {
    eprintln!("ublk.{TARGET_NAME} service: {error}");
    match error {
        // A configuration that is not there or wrong, and a device served already, stay so.
        ServiceError::Config(_) | ServiceError::AlreadyServed { .. } => {
            ExitCode::from(cli::EXIT_PERMANENT_FAILURE)
        }
        ServiceError::Admin(_) => ExitCode::FAILURE,
    }
}

/// `service start|stop NAME`.
pub fn run_service(args: ServiceArgs) -> ExitCode {
    let run_dir = PathBuf::from(pidfile::RUN_DIR);
    match args.action {
        ServiceAction::Start { name } => match prepare_start(&name, &run_dir) {
            Ok(Start::Add(config)) => cli::run_add(add_args(config)),
            Ok(Start::Recover { id, config }) => cli::run_recover(RecoverArgs {
                number: id,
                target_type: TARGET_NAME.into(),
                config: Some(config),
                foreground: true,
                eventfd: None,
            }),
            Err(error) => fail(error),
        },
        ServiceAction::Stop { name } => match stop(&name, &run_dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(error),
        },
    }
}

/// What `start` runs.
enum Start {
    Add(PathBuf),
    Recover { id: u32, config: PathBuf },
}

fn prepare_start(name: &Path, run_dir: &Path) -> Result<Start, ServiceError> {
    let config = config::find(&config::dir(), name)?;
    admin::check_driver()?;
    match classify(observe(&config, run_dir)) {
        Found::Nothing => Ok(Start::Add(config)),
        Found::Recoverable(id) => {
            // Logging starts with the device command: this line goes to stderr (the journal).
            eprintln!(
                "ublk.{TARGET_NAME} service: the daemon of device {id} of {} is gone: recovering the device",
                config.display()
            );
            Ok(Start::Recover { id, config })
        }
        Found::Stale(id) => {
            eprintln!(
                "ublk.{TARGET_NAME} service: device {id} of {} has no daemon and cannot be recovered: deleting it",
                config.display()
            );
            admin::del_one(id, run_dir)?;
            Ok(Start::Add(config))
        }
        Found::Served { id, pid } => Err(ServiceError::AlreadyServed {
            id,
            config: config.display().to_string(),
            pid,
        }),
    }
}

/// `add --config CONFIG --foreground`, everything else from the files.
fn add_args(config: PathBuf) -> AddArgs {
    AddArgs {
        target_type: TARGET_NAME.into(),
        config: Some(config),
        number: None,
        queues: None,
        depth: None,
        user_recovery: None,
        user_recovery_reissue: None,
        zero_copy: false,
        max_io_buf_bytes: None,
        foreground: true,
        initiator_name: None,
        timeouts: TimeoutOverrides::default(),
        eventfd: None,
        secrets_fd: None,
        iscsi: None,
        url: None,
    }
}

/// systemd runs ExecStop also after the main process ended on its own (a crash), telling how
/// in `$SERVICE_RESULT` (systemd.exec(5)); "success" means the stop was asked for.
const SERVICE_RESULT_ENV: &str = "SERVICE_RESULT";

/// Whether `stop` must leave the device alone: the daemon died and the unit is on its way to
/// a restart, which recovers the device; deleting it would take a mounted file system's
/// device away.
fn left_for_the_restart(service_result: Option<&str>) -> bool {
    service_result.is_some_and(|result| result != "success")
}

fn stop(name: &Path, run_dir: &Path) -> Result<(), ServiceError> {
    let config = config::find(&config::dir(), name)?;
    admin::check_driver()?;
    let service_result = std::env::var(SERVICE_RESULT_ENV).ok();
    match device_of(&config, run_dir) {
        Some(id) if left_for_the_restart(service_result.as_deref()) => {
            eprintln!(
                "ublk.{TARGET_NAME} service: the daemon of device {id} ended on its own ({SERVICE_RESULT_ENV}={}): the device stays for the restart to recover",
                service_result.unwrap_or_default()
            );
            Ok(())
        }
        Some(id) => Ok(admin::del_one(id, run_dir)?),
        None => {
            eprintln!(
                "ublk.{TARGET_NAME} service: no device of {} to stop",
                config.display()
            );
            Ok(())
        }
    }
}

/// Tells systemd (when it started us with `Type=notify`) that device `dev_id` is live.
pub(crate) fn notify_ready(dev_id: u32) {
    let status = format!("serving /dev/ublkb{dev_id}");
    send(&[NotifyState::Ready, NotifyState::Status(&status)]);
}

/// A new status line for `systemctl status`.
pub(crate) fn notify_status(status: &str) {
    send(&[NotifyState::Status(status)]);
}

/// The daemon is stopping the device.
pub(crate) fn notify_stopping() {
    send(&[
        NotifyState::Stopping,
        NotifyState::Status("stopping: draining in-flight I/O, logging out"),
    ]);
}

/// Does nothing unless NOTIFY_SOCKET is set.
fn send(states: &[NotifyState]) {
    if let Err(error) = sd_notify::notify(states) {
        tracing::warn!(%error, "cannot notify the service manager");
    }
}
