//! The `ublk` front end, compatible with ublksrv's: `add -t TYPE ...` and `recover -n N` run
//! the target program `ublk.TYPE` (found beside this executable, or `ublk-TYPE` as cargo
//! names it) in a new session with `--eventfd N` and wait for its report; `list`, `del` and
//! `features` work on any ublk device directly.
//!
//! A password in a URL is not passed on in the target program's argv: it goes through an
//! inherited pipe (`--secrets-fd N`, see [`crate::secrets`]), and this process overwrites it
//! in its own argv first thing.

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::FromArgMatches;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};

use crate::admin;
use crate::cli::{self, AddArgs, DelArgs, FeaturesArgs, ListArgs, RecoverArgs};
use crate::daemon::{self, StartupReport};
use crate::docs::{self, GenerateDocsArgs, ManPages};
use crate::pidfile::{self, DeviceRecord};
use crate::secrets::{self, PipedSecrets, SecretPipe};

/// ublksrv's exit status when the target closed the pipe without a word (-EINVAL).
const EXIT_SILENT: u8 = 234;
/// ublksrv's exit status when the target reported failure.
const EXIT_FAILED: u8 = 237;

const USAGE: &str = "\
usage: ublk add -t TYPE [-n ID] [-q QUEUES] [-d DEPTH] [-r 0|1] [-z] [TARGET OPTIONS]
       ublk del -n ID | -a
       ublk list [-n ID] [-v | --json]
       ublk recover -n ID
       ublk features
       ublk help [-t TYPE]
targets: cxgb3i (ublk add -t cxgb3i iscsi://HOST[:PORT]/IQN/LUN)
";

#[derive(clap::Parser, Debug)]
#[command(name = "ublk", disable_help_subcommand = true)]
enum Admin {
    /// Show devices.
    List(ListArgs),
    /// Remove devices.
    Del(DelArgs),
    /// Show ublk_drv's features.
    Features(FeaturesArgs),
}

/// What the front end accepts, described for its man page and shell completions only: `add`,
/// `recover` and `help` are parsed by hand above (they pass their options on to the target
/// program, as ublksrv's front end does), so this is never used to parse.
#[derive(clap::Parser, Debug)]
#[command(
    name = "ublk",
    disable_help_subcommand = true,
    about = "ublksrv-compatible front end for ublk block devices (targets: cxgb3i)",
    long_about = "ublksrv-compatible front end for ublk block devices. `ublk add -t TYPE` and \
`ublk recover` run the target program ublk.TYPE (found beside this program) with the same \
options, and wait until it reports the device live; list, del and features work on any ublk \
device directly. The only target here is cxgb3i: its options are those of `ublk.cxgb3i add`, \
see ublk.cxgb3i-add(8), and each other command takes the options of the ublk.cxgb3i command \
of the same name (ublk.cxgb3i(8))."
)]
enum Described {
    /// Create a device: runs ublk.TYPE add with these options (ublk.cxgb3i-add(8)).
    Add(AddArgs),
    /// Remove devices.
    Del(DelArgs),
    /// Show devices.
    List(ListArgs),
    /// Reattach a new daemon to a device whose daemon died (created with -r 1); the device's
    /// record names its target program.
    Recover(RecoverArgs),
    /// Show ublk_drv's features.
    Features(FeaturesArgs),
    /// Show usage, or with -t TYPE the target's add options.
    Help {
        /// Target type whose add options to show (cxgb3i).
        #[arg(short = 't', long = "type")]
        target_type: Option<String>,
    },
}

/// The front end as a clap command, for its man page and completions (not for parsing).
pub(crate) fn described_command() -> clap::Command {
    <Described as clap::CommandFactory>::command()
        .version(env!("CARGO_PKG_VERSION"))
        // The front end answers -v / --version, as ublksrv's does.
        .disable_version_flag(true)
        .arg(
            clap::Arg::new("version")
                .short('v')
                .long("version")
                .action(clap::ArgAction::Version)
                .help("Print version"),
        )
}

/// `ublk generate-docs --man DIR --completions DIR` (hidden: for the install script).
#[derive(clap::Parser, Debug)]
#[command(name = "ublk generate-docs")]
struct GenerateDocs {
    #[command(flatten)]
    args: GenerateDocsArgs,
}

/// `ublk ARGS...`
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if let Err(error) = secrets::scrub_argv() {
        eprintln!("ublk: cannot hide the URL's password in the process's arguments: {error}");
    }
    let Some(command) = args.get(1).and_then(|a| a.to_str()).map(str::to_owned) else {
        eprint!("ublk: missing command\n{USAGE}");
        return ExitCode::FAILURE;
    };
    match command.as_str() {
        "add" => match option_value(&args[2..], 't', "type") {
            Some(target) => run_target(&target, &args[1..], true),
            None => {
                eprintln!("no dev type specified");
                ExitCode::from(EXIT_SILENT)
            }
        },
        "recover" => recover(&args),
        "help" | "-h" | "--help" => match option_value(&args[2..], 't', "type") {
            Some(target) => run_target(&target, &args[1..], false),
            None => {
                print!("{USAGE}");
                ExitCode::SUCCESS
            }
        },
        "generate-docs" => match <GenerateDocs as clap::Parser>::try_parse_from(&args[1..]) {
            Ok(GenerateDocs { args }) => {
                docs::run_generate_docs(described_command(), ManPages::ProgramOnly, &args)
            }
            Err(error) => error.exit(),
        },
        "-v" | "--version" => {
            println!("ublk (ublk.cxgb3i) {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        "list" | "del" | "features" => {
            let matches =
                match <Admin as clap::CommandFactory>::command().try_get_matches_from(&args) {
                    Ok(matches) => matches,
                    Err(error) => error.exit(),
                };
            match Admin::from_arg_matches(&matches) {
                Ok(Admin::List(a)) => cli::run_list(a),
                Ok(Admin::Del(a)) => cli::run_del(a),
                Ok(Admin::Features(a)) => cli::run_features(a),
                Err(error) => error.exit(),
            }
        }
        other => {
            eprint!("unknown command: {other}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

/// The value of `-X VALUE`, `-XVALUE`, `--long VALUE` or `--long=VALUE`, as getopt finds it.
pub(crate) fn option_value(args: &[OsString], short: char, long: &str) -> Option<String> {
    let short_flag = format!("-{short}");
    let long_flag = format!("--{long}");
    let long_eq = format!("--{long}=");
    let mut iter = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = iter.next() {
        if arg == "--" {
            return None;
        }
        if arg == short_flag || arg == long_flag {
            return iter.next().map(str::to_owned);
        }
        if let Some(value) = arg.strip_prefix(&long_eq) {
            return Some(value.to_owned());
        }
        if let Some(value) = arg.strip_prefix(&short_flag) {
            if !value.is_empty() && !arg.starts_with("--") {
                return Some(value.to_owned());
            }
        }
    }
    None
}

/// `recover -n N`: the record names the target.
fn recover(args: &[OsString]) -> ExitCode {
    let Some(id) = option_value(&args[2..], 'n', "number").and_then(|n| n.parse::<u32>().ok())
    else {
        eprintln!("wrong dev_id provided for recover");
        return ExitCode::FAILURE;
    };
    let path = pidfile::path(Path::new(pidfile::RUN_DIR), id);
    let record = match DeviceRecord::read(&path) {
        Ok(record) => record,
        Err(error) => {
            eprintln!("get dev {id} data failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let Some(target) = record.target_name().map(str::to_owned) else {
        eprintln!("can't get target type for {id}");
        return ExitCode::FAILURE;
    };
    run_target(&target, &args[1..], true)
}

/// Where `ublk.TYPE` is: beside this executable as `<exe>.TYPE` (ublksrv's rule), `ublk.TYPE`
/// or `ublk-TYPE` (cargo cannot name a binary with a dot).
pub(crate) fn target_program(exe: &Path, target: &str) -> Vec<PathBuf> {
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let mut with_suffix = exe.as_os_str().to_owned();
    with_suffix.push(format!(".{target}"));
    let mut candidates = vec![
        PathBuf::from(with_suffix),
        dir.join(format!("ublk.{target}")),
        dir.join(format!("ublk-{target}")),
    ];
    candidates.dedup();
    candidates
}

/// Runs `ublk.TYPE ARGS` — in the background with the pipe protocol (`daemon`), or in the
/// foreground for `help`.
fn run_target(target: &str, args: &[OsString], daemon: bool) -> ExitCode {
    if args.iter().any(|a| a == "--eventfd" || a == "--secrets-fd") {
        eprintln!("--eventfd and --secrets-fd are for ublk itself to pass");
        return ExitCode::from(EXIT_SILENT);
    }
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/sbin/ublk"));
    let Some(program) = target_program(&exe, target)
        .into_iter()
        .find(|path| path.is_file())
    else {
        eprintln!(
            "Failed to find ublk.{target} beside {}: no such target",
            exe.display()
        );
        return ExitCode::from(EXIT_SILENT);
    };
    let mut args = args.to_vec();
    let piped = PipedSecrets::take_from(&mut args);
    let mut command = Command::new(&program);
    command.arg0(format!("ublk.{target}")).args(&args);
    // Kept open until the child has started: it inherits the read end.
    let mut secret_pipe = None;
    if daemon && !piped.is_empty() {
        match SecretPipe::filled(&piped) {
            Ok(pipe) => {
                command
                    .arg("--secrets-fd")
                    .arg(pipe.read.as_raw_fd().to_string());
                secret_pipe = Some(pipe);
            }
            Err(error) => {
                eprintln!("Failed to pass the URL's password on: {error}");
                return ExitCode::from(EXIT_SILENT);
            }
        }
    }
    if !daemon {
        return match command.status() {
            Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
            Err(error) => {
                eprintln!("Failed to execve() {}. {error}", program.display());
                ExitCode::FAILURE
            }
        };
    }
    let (read, write) = match nix::unistd::pipe2(OFlag::O_CLOEXEC) {
        Ok(pipe) => pipe,
        Err(error) => {
            eprintln!("Failed to create pipe {error}");
            return ExitCode::FAILURE;
        }
    };
    // The child inherits only the write end.
    if let Err(error) = fcntl(write.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty())) {
        eprintln!("Failed to set up the pipe: {error}");
        return ExitCode::FAILURE;
    }
    command
        .arg("--eventfd")
        .arg(write.as_raw_fd().to_string())
        // stderr stays: the target reports why it could not start there, and lets go of it
        // once the device is live.
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: setsid is async-signal-safe; the child gets a session of its own, away from
    // the terminal's signals.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()?;
            Ok(())
        });
    }
    if let Err(error) = command.spawn() {
        eprintln!("Failed to execve() {}. {error}", program.display());
        return ExitCode::from(EXIT_SILENT);
    }
    drop(write);
    drop(secret_pipe);
    match daemon::read_startup_report(std::fs::File::from(read)) {
        StartupReport::Live(id) => {
            if let Err(error) =
                admin::list_one(id, admin::ListFormat::Plain, &admin::ListDirs::standard())
            {
                eprintln!("{error}");
            }
            ExitCode::SUCCESS
        }
        StartupReport::Failed => ExitCode::from(EXIT_FAILED),
        StartupReport::Silent => ExitCode::from(EXIT_SILENT),
    }
}

#[cfg(test)]
mod tests;
