//! `ublk.cxgb3i`: a userspace iSCSI initiator that serves ublk block devices, modelled on the
//! Chelsio T3 offload initiator. This file is only the command line: every subcommand is a
//! thin call into the libraries.

mod commands;
mod login;
mod size;

use std::process::ExitCode;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};

use commands::perf::Rw;
use size::Size;
use ublk_target::cli::{AddArgs, DelArgs, FeaturesArgs, ListArgs, RecoverArgs};
use ublk_target::device::TARGET_NAME;
use ublk_target::docs::{self, GenerateDocsArgs, ManPages};
use ublk_target::initiator_name;
use ublk_target::service::generator::GeneratorArgs;
use ublk_target::service::ServiceArgs;
use ublk_target::udev::{self, UdevIdArgs};

#[derive(Parser)]
#[command(
    name = "ublk.cxgb3i",
    version,
    about = "iSCSI initiator for ublk block devices (Chelsio T3 offload model, software engine)",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Identity {
    /// iSCSI initiator name (default: /etc/iscsi/initiatorname.iscsi, else generated).
    #[arg(long, global = true)]
    initiator_name: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Create /dev/ublkbN backed by an iSCSI LUN (ublksrv's options; `ublk add -t cxgb3i`).
    Add(AddArgs),
    /// Remove a device: drain I/O, log out, delete it.
    Del(DelArgs),
    /// List ublk devices with their targets.
    List(ListArgs),
    /// Reattach a new daemon to a device whose daemon died (created with -r 1).
    Recover(RecoverArgs),
    /// Show what ublk_drv supports.
    Features(FeaturesArgs),
    /// Run the device of a configuration file as a systemd service (what
    /// ublk-cxgb3i@NAME.service runs).
    Service(ServiceArgs),
    /// Show usage: of everything, of one command, or with -t cxgb3i the add options (what
    /// ublksrv's `ublk help -t cxgb3i` runs).
    Help {
        /// Target type whose add options to show (only cxgb3i).
        #[arg(short = 't', long = "type")]
        target_type: Option<String>,
        /// The command to describe.
        command: Option<String>,
    },
    /// List the targets a portal offers (SendTargets), like `iscsiadm -m discovery -t st`.
    Discover {
        /// `HOST[:PORT]`, IPv6 in brackets; port 3260 by default.
        portal: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
    /// Log in and describe a LUN: identity, capacity, block sizes, limits, caching.
    Probe {
        /// The LUN's URL (its form is in the help text: rustdoc would read brackets as links).
        #[arg(
            help = "iscsi://[user[%password]@]host[:port]/target-iqn/lun[?header_digest=crc32c|none&...]"
        )]
        url: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
    /// Load generator on the engine: IOPS, bandwidth, latency and initiator CPU time.
    Perf {
        url: String,
        #[arg(long, value_enum, default_value = "randread")]
        rw: Rw,
        /// Block size, fio-style (4k, 1M).
        #[arg(long, default_value = "4k")]
        bs: Size,
        #[arg(long, default_value_t = 32)]
        iodepth: u32,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        runtime: u64,
        /// iSCSI sessions (connections), each with --iodepth commands in flight.
        #[arg(long, default_value_t = 1)]
        sessions: u32,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
}

/// Commands for the install script, the udev rule and the systemd generator, kept out of the
/// usage, the man pages and the completions.
#[derive(Parser)]
#[command(name = "ublk.cxgb3i")]
enum Internal {
    /// Write the man pages and shell completions.
    GenerateDocs(GenerateDocsArgs),
    /// Print udev properties (stable names) for a ublk disk this program serves.
    UdevId(UdevIdArgs),
    /// The systemd generator: a unit for each `startup = "automatic"` configuration.
    SystemdGenerator(GeneratorArgs),
}

/// Runs `args` as an internal command if its first argument names one.
fn run_internal(args: &[std::ffi::OsString]) -> Option<ExitCode> {
    let name = args.get(1)?.to_str()?;
    Internal::command().find_subcommand(name)?;
    Some(match Internal::parse_from(args) {
        Internal::GenerateDocs(docs_args) => {
            docs::run_generate_docs(Cli::command(), ManPages::PerSubcommand, &docs_args)
        }
        Internal::UdevId(udev_args) => udev::run_udev_id(&udev_args),
        Internal::SystemdGenerator(generator_args) => {
            ublk_target::service::generator::run_generator(generator_args)
        }
    })
}

/// One line for an error and its causes. Library errors already carry their cause in their
/// message, so a cause is added only when the text so far does not contain it.
fn describe(error: &anyhow::Error) -> String {
    let mut line = error.to_string();
    for cause in error.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
    }
    line
}

/// `help [-t TYPE] [COMMAND]`: the usage asked for on stdout, or one line of error.
fn help(target_type: Option<String>, command: Option<String>) -> ExitCode {
    let topic = match target_type {
        Some(target_type) => match ublk_target::cli::check_type(&target_type) {
            Ok(()) => Some("add".to_owned()),
            Err(error) => {
                eprintln!("ublk.{TARGET_NAME} help: {error}");
                return ExitCode::FAILURE;
            }
        },
        None => command,
    };
    let mut cli = Cli::command();
    // Gives subcommands their full "ublk.cxgb3i add" usage line.
    cli.build();
    let text = match topic {
        None => cli.render_long_help(),
        Some(name) => match cli.find_subcommand_mut(&name) {
            Some(subcommand) => subcommand.render_long_help(),
            None => {
                eprintln!("ublk.{TARGET_NAME} help: no command {name}");
                return ExitCode::FAILURE;
            }
        },
    };
    print!("{text}");
    ExitCode::SUCCESS
}

/// Runs an engine tool: logging to stderr, its error as one line.
fn tool(run: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    ublk_target::logging::init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ublk.cxgb3i: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    // A password in a URL on the command line is overwritten in this process's argv (what
    // /proc/PID/cmdline shows) before anything else runs, the daemon's fork included; the
    // arguments are copied first.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Err(error) = ublk_target::secrets::scrub_argv() {
        eprintln!("ublk.{TARGET_NAME}: cannot hide the URL's password in the process's arguments: {error}");
    }
    if let Some(code) = run_internal(&args) {
        return code;
    }
    // The device subcommands report their own errors and choose their exit codes (ublksrv's).
    match Cli::parse_from(args).command {
        Command::Add(args) => ublk_target::cli::run_add(args),
        Command::Del(args) => ublk_target::cli::run_del(args),
        Command::List(args) => ublk_target::cli::run_list(args),
        Command::Recover(args) => ublk_target::cli::run_recover(args),
        Command::Features(args) => ublk_target::cli::run_features(args),
        Command::Service(args) => ublk_target::service::run_service(args),
        Command::Help {
            target_type,
            command,
        } => help(target_type, command),
        Command::Discover {
            portal,
            json,
            identity,
        } => tool(|| {
            let name = initiator_name::resolve(identity.initiator_name);
            commands::discover::run(&portal, &name, json)
        }),
        Command::Probe {
            url,
            json,
            identity,
        } => tool(|| {
            let name = initiator_name::resolve(identity.initiator_name);
            commands::probe::run(&url, &name, json)
        }),
        Command::Perf {
            url,
            rw,
            bs,
            iodepth,
            runtime,
            sessions,
            json,
            identity,
        } => tool(|| {
            let name = initiator_name::resolve(identity.initiator_name);
            let runtime = Duration::from_secs(runtime);
            commands::perf::run(&url, &name, rw, bs, iodepth, runtime, sessions, json)
        }),
    }
}
