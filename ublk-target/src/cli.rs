//! `ublk.cxgb3i` subcommands, with ublksrv's option names: the arguments (clap `Args`) and
//! what runs them. Each `run_*` reports its own errors (one line on stderr) and returns the
//! exit code.
//!
//! `add` and `recover` speak ublksrv's external-target protocol when given `--eventfd N`
//! (that is how `ublk add -t cxgb3i` runs us). Without it, `add` forks the daemon off and
//! returns once the device is live, printing `dev id N: /dev/ublkbN`; with `--foreground` it
//! stays in the foreground until the device is removed (SIGINT / SIGTERM remove it).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::admin::{self, AdminError};
use crate::config::{self, limits, CommandLine, Files};
use crate::daemon::{self, Forked, StartupReport};
use crate::device::{self, DeviceError, DeviceSpec, Notifier, TARGET_NAME};
use crate::secrets::PipedSecrets;
use crate::service;
use crate::supervisor::TimeoutOverrides;
use crate::{initiator_name, logging, pidfile};

/// `add -t cxgb3i [options] URL` or `add -t cxgb3i --config FILE [options]`. Options left
/// out come from the configuration files, then the defaults (see [`config`]).
#[derive(Args, Debug, Clone)]
pub struct AddArgs {
    /// Target type (only cxgb3i).
    #[arg(short = 't', long = "type", default_value = TARGET_NAME)]
    pub target_type: String,
    /// The device's configuration file: a path, or a name in /etc/ublk-cxgb3i
    /// (UBLK_CXGB3I_CONFIG_DIR) with or without its .toml. The options given here override
    /// it; /etc/ublk-cxgb3i/defaults.toml applies to what neither sets.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Device id; -1 lets the kernel pick (default -1).
    #[arg(short = 'n', long = "number", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-1..))]
    pub number: Option<i32>,
    /// Hardware queues: one iSCSI session (and thread) each (default 1, at most 32).
    #[arg(short = 'q', long = "queues",
          value_parser = clap::value_parser!(u16).range(1..=i64::from(limits::MAX_QUEUES)))]
    pub queues: Option<u16>,
    /// Requests per queue (default 128, at most 4096).
    #[arg(short = 'd', long = "depth",
          value_parser = clap::value_parser!(u16).range(1..=i64::from(limits::MAX_DEPTH)))]
    pub depth: Option<u16>,
    /// Keep the device across a daemon crash (recover with `ublk recover -n N`; default 0).
    #[arg(short = 'r', long = "user_recovery", visible_alias = "user-recovery",
          value_parser = clap::value_parser!(u8).range(0..=1))]
    pub user_recovery: Option<u8>,
    /// With -r 1: reissue the requests in flight at the crash instead of failing them
    /// (default 0).
    #[arg(short = 'i', long = "user_recovery_reissue", visible_alias = "user-recovery-reissue",
          value_parser = clap::value_parser!(u8).range(0..=1))]
    pub user_recovery_reissue: Option<u8>,
    /// Zero copy: the kernel registers each request's pages in the queue ring, and payload
    /// moves between them and the socket without a userspace copy.
    #[arg(short = 'z', long = "zerocopy", visible_alias = "zero-copy")]
    pub zero_copy: bool,
    /// Bytes of each request buffer: the largest I/O (also capped by the LUN's own limit).
    /// A multiple of 4096, at most 32 MiB (default 1 MiB). Copy mode allocates one buffer
    /// per request slot: queues x depth x this (the defaults, 1 queue x 128 x 1 MiB, take
    /// 128 MiB); zero copy (-z) allocates none.
    #[arg(long = "max_io_buf_bytes", visible_alias = "max-io-buf-bytes")]
    pub max_io_buf_bytes: Option<u32>,
    /// Stay in the foreground until the device is removed.
    #[arg(long)]
    pub foreground: bool,
    /// iSCSI initiator name (default: /etc/iscsi/initiatorname.iscsi, else one from the host
    /// name).
    #[arg(long = "initiator-name", visible_alias = "initiator_name")]
    pub initiator_name: Option<String>,
    #[command(flatten)]
    pub(crate) timeouts: TimeoutOverrides,
    /// Report the device id on this pipe (ublksrv's external-target protocol).
    #[arg(long = "eventfd", hide = true)]
    pub eventfd: Option<i32>,
    /// Read the URL's passwords from this pipe (the `ublk` front end's way of keeping them
    /// out of argv; see `secrets`).
    #[arg(long = "secrets-fd", hide = true)]
    pub secrets_fd: Option<i32>,
    /// The LUN, as for ublk.iscsi.
    #[arg(long = "iscsi", value_name = "URL", conflicts_with = "url")]
    pub iscsi: Option<String>,
    /// The LUN's URL (the help text, not this comment, shows its form: rustdoc would read
    /// its brackets as links).
    #[arg(
        value_name = "URL",
        required_unless_present_any = ["iscsi", "config"],
        help = "iscsi://[user[%password]@]host[:port]/target-iqn/lun[?header_digest=..&data_digest=..]"
    )]
    pub url: Option<String>,
}

/// `del -n N | -a`
#[derive(Args, Debug, Clone)]
pub struct DelArgs {
    /// Device id.
    #[arg(short = 'n', long = "number", required_unless_present = "all")]
    pub number: Option<u32>,
    /// Every ublk device.
    #[arg(short = 'a', long = "all", conflicts_with = "number")]
    pub all: bool,
    /// Send STOP_DEV and nothing else: no signal to the daemon, no wait, no DEL_DEV. What
    /// ublksrv's `ublk del` does first, for tests of a daemon stopped from outside.
    #[arg(
        long = "stop-only",
        hide = true,
        requires = "number",
        conflicts_with = "all"
    )]
    pub stop_only: bool,
}

/// `list [-n N] [-v | --json]`
#[derive(Args, Debug, Clone)]
pub struct ListArgs {
    /// Only this device.
    #[arg(short = 'n', long = "number")]
    pub number: Option<u32>,
    /// The whole record as JSON (secrets redacted).
    #[arg(short = 'v', long = "verbose", conflicts_with = "json")]
    pub verbose: bool,
    /// Every device with its live iSCSI status as one JSON document (docs/list-json.md).
    #[arg(long = "json")]
    pub json: bool,
}

/// `recover -n N`
#[derive(Args, Debug, Clone)]
pub struct RecoverArgs {
    /// Device id (created with -r 1, its daemon gone).
    #[arg(short = 'n', long = "number")]
    pub number: u32,
    /// Target type (only cxgb3i).
    #[arg(short = 't', long = "type", default_value = TARGET_NAME)]
    pub target_type: String,
    /// Where the CHAP secrets come from, besides LIBISCSI_CHAP_* (default: the configuration
    /// file the device was created with, if any). The record keeps no secret.
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Stay in the foreground until the device is removed.
    #[arg(long)]
    pub foreground: bool,
    /// Report the device id on this pipe (ublksrv's external-target protocol).
    #[arg(long = "eventfd", hide = true)]
    pub eventfd: Option<i32>,
}

/// `features`
#[derive(Args, Debug, Clone, Default)]
pub struct FeaturesArgs {}

/// The exit status of a device command that failed for good: the configuration, the
/// credentials or the LU are wrong (sysexits' EX_CONFIG). Other failures exit 1, and may
/// succeed when tried again; the systemd unit restarts after those only
/// (`RestartPreventExitStatus=78`).
pub const EXIT_PERMANENT_FAILURE: u8 = 78;

fn run_dir() -> PathBuf {
    PathBuf::from(pidfile::RUN_DIR)
}

fn fail(command: &str, error: impl std::fmt::Display) -> ExitCode {
    if logging::is_syslog() {
        tracing::error!("{command}: {error}");
    } else {
        eprintln!("ublk.{TARGET_NAME} {command}: {error}");
    }
    ExitCode::FAILURE
}

/// Where a daemon reports, and what happens to it once the device is live.
enum Launch {
    /// This process is the starter and the daemon has reported: exit with this.
    Done(ExitCode),
    /// This process serves the device.
    Serve(Notifier),
}

/// Sets up the daemon side: the parent's pipe (`--eventfd`), our own fork, or the
/// foreground.
fn launch(eventfd: Option<i32>, foreground: bool) -> Result<Launch, std::io::Error> {
    let detach = |notifier: Notifier| {
        notifier.then_on_live(|_| {
            logging::switch_to_syslog();
            if let Err(error) = daemon::detach_standard_fds() {
                tracing::warn!(%error, "cannot detach from the terminal");
            }
        })
    };
    if let Some(fd) = eventfd {
        // SAFETY: ublksrv's protocol hands us the pipe's write end as this descriptor; nothing
        // else in the process uses it.
        return Ok(Launch::Serve(detach(unsafe { Notifier::from_raw_fd(fd) })));
    }
    if foreground {
        // In the foreground we may be a systemd service's main process (`Type=notify`).
        return Ok(Launch::Serve(Notifier::none().then_on_live(|id| {
            println!("dev id {id}: /dev/ublkb{id}");
            service::notify_ready(id);
        })));
    }
    match daemon::fork_to_background()? {
        Forked::Parent(pipe) => Ok(Launch::Done(match daemon::read_startup_report(pipe) {
            StartupReport::Live(id) => {
                println!("dev id {id}: /dev/ublkb{id}");
                ExitCode::SUCCESS
            }
            // The daemon printed why.
            StartupReport::Failed | StartupReport::Silent => ExitCode::FAILURE,
        })),
        Forked::Daemon(pipe) => Ok(Launch::Serve(detach(Notifier::pipe(pipe)))),
    }
}

/// Refuses a target type other than ours.
pub fn check_type(target_type: &str) -> Result<(), String> {
    if target_type == TARGET_NAME {
        Ok(())
    } else {
        Err(format!(
            "this is the {TARGET_NAME} target; -t {target_type} is not it"
        ))
    }
}

/// The command line's part of the configuration, with the URL's passwords the front end
/// piped (read and closed here).
fn command_line(args: &AddArgs) -> Result<CommandLine, String> {
    let piped = match args.secrets_fd {
        // SAFETY: the front end hands us the pipe's read end as this descriptor; nothing else
        // in the process uses it.
        Some(fd) => unsafe { PipedSecrets::read_fd(fd) }
            .map_err(|error| format!("cannot read the secrets pipe: {error}"))?,
        None => PipedSecrets::default(),
    };
    Ok(CommandLine {
        url: args.url.clone().or(args.iscsi.clone()),
        piped,
        number: args.number,
        queues: args.queues,
        depth: args.depth,
        zero_copy: args.zero_copy,
        max_io_buf_bytes: args.max_io_buf_bytes,
        user_recovery: args.user_recovery.map(|value| value == 1),
        user_recovery_reissue: args.user_recovery_reissue.map(|value| value == 1),
        initiator_name: args.initiator_name.clone(),
        timeouts: args.timeouts,
    })
}

/// `add`: create /dev/ublkbN backed by the URL's LUN.
pub fn run_add(args: AddArgs) -> ExitCode {
    logging::init();
    if let Err(error) = daemon::ensure_standard_fds() {
        return fail("add", error);
    }
    // A failure before the device exists must still reach a waiting parent.
    let early_failure = |args: &AddArgs, error: String| {
        if let Some(fd) = args.eventfd {
            // SAFETY: as in `launch`.
            unsafe { Notifier::from_raw_fd(fd) }.failed();
        }
        fail("add", error)
    };
    let cli = match command_line(&args) {
        Ok(cli) => cli,
        Err(error) => return early_failure(&args, error),
    };
    if let Err(error) = check_type(&args.target_type) {
        return early_failure(&args, error);
    }
    let resolved = Files::load(args.config.as_deref())
        .and_then(|files| config::resolve_add(cli, &files, &|name: &str| std::env::var(name).ok()));
    let resolved = match resolved {
        Ok(resolved) => resolved,
        Err(error) => {
            early_failure(&args, error.to_string());
            return ExitCode::from(EXIT_PERMANENT_FAILURE);
        }
    };
    if let Err(error) = admin::check_driver() {
        return early_failure(&args, error.to_string());
    }
    let spec = DeviceSpec {
        dev_id: resolved.number,
        nr_queues: resolved.queues,
        depth: resolved.depth,
        io_buf_bytes: resolved.max_io_buf_bytes,
        user_recovery: resolved.user_recovery,
        user_recovery_reissue: resolved.user_recovery_reissue,
        zero_copy: resolved.zero_copy,
        url: resolved.url,
        initiator_name: initiator_name::resolve(resolved.initiator_name),
        timeouts: resolved.timeouts,
        config: resolved.config,
        secret_source: resolved.secret_source,
        run_dir: run_dir(),
    };
    let mut notifier = match launch(args.eventfd, args.foreground) {
        Ok(Launch::Done(code)) => return code,
        Ok(Launch::Serve(notifier)) => notifier,
        Err(error) => return early_failure(&args, format!("cannot start the daemon: {error}")),
    };
    run_device("add", &mut notifier, |notifier| device::add(spec, notifier))
}

/// Runs the device with the daemon's notifier, reporting failure to it.
fn run_device(
    command: &str,
    notifier: &mut Notifier,
    body: impl FnOnce(&mut Notifier) -> Result<(), DeviceError>,
) -> ExitCode {
    if let Err(error) = daemon::private_mount_namespace() {
        tracing::warn!(%error, "cannot create a private mount namespace");
    }
    match body(notifier) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            notifier.failed();
            let permanent = error.is_permanent();
            fail(command, error);
            if permanent {
                ExitCode::from(EXIT_PERMANENT_FAILURE)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// `recover -n N`: bring back a device created with `-r 1` whose daemon died.
pub fn run_recover(args: RecoverArgs) -> ExitCode {
    logging::init();
    if let Err(error) = daemon::ensure_standard_fds() {
        return fail("recover", error);
    }
    if let Err(error) = check_type(&args.target_type)
        .and_then(|()| admin::check_driver().map_err(|e| e.to_string()))
    {
        if let Some(fd) = args.eventfd {
            // SAFETY: as in `launch`.
            unsafe { Notifier::from_raw_fd(fd) }.failed();
        }
        return fail("recover", error);
    }
    let mut notifier = match launch(args.eventfd, args.foreground) {
        Ok(Launch::Done(code)) => return code,
        Ok(Launch::Serve(notifier)) => notifier,
        Err(error) => return fail("recover", format!("cannot start the daemon: {error}")),
    };
    let dir = run_dir();
    run_device("recover", &mut notifier, |notifier| {
        device::recover(args.number, &dir, args.config.as_deref(), notifier)
    })
}

fn admin_result(command: &str, result: Result<(), AdminError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(command, error),
    }
}

/// `list`: kernel state, the ublksrv record of each device (secrets redacted) and what its
/// daemon says of its sessions.
pub fn run_list(args: ListArgs) -> ExitCode {
    let dirs = admin::ListDirs::standard();
    let format = match (args.json, args.verbose) {
        (true, _) => admin::ListFormat::Json,
        (false, true) => admin::ListFormat::Verbose,
        (false, false) => admin::ListFormat::Plain,
    };
    admin_result(
        "list",
        admin::check_driver().and_then(|()| match args.number {
            Some(id) => admin::list_one(id, format, &dirs),
            None => admin::list_all(format, &dirs),
        }),
    )
}

/// `del`: stop, wait for the daemon, delete.
pub fn run_del(args: DelArgs) -> ExitCode {
    let dir = run_dir();
    admin_result(
        "del",
        admin::check_driver().and_then(|()| match (args.number, args.stop_only) {
            (Some(id), true) => admin::stop_only(id),
            (Some(id), false) => admin::del_one(id, &dir),
            (None, _) => admin::del_all(&dir),
        }),
    )
}

/// `features`: what ublk_drv supports.
pub fn run_features(_args: FeaturesArgs) -> ExitCode {
    admin_result(
        "features",
        admin::check_driver().and_then(|()| admin::features()),
    )
}
