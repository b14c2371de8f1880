//! `ublk.cxgb3i`: a userspace iSCSI initiator that serves ublk block devices, modelled on the
//! Chelsio T3 offload initiator. This file is only the command line: every subcommand is a
//! thin call into the libraries.

mod commands;
mod initiator_name;
mod login;
mod size;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use commands::perf::Rw;
use size::Size;

#[derive(Parser)]
#[command(
    name = "ublk.cxgb3i",
    version,
    about = "iSCSI initiator for ublk block devices (Chelsio T3 offload model, software engine)"
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
    /// List the targets a portal offers (SendTargets), like `iscsiadm -m discovery -t st`.
    Discover {
        /// HOST[:PORT], IPv6 in brackets; port 3260 by default.
        portal: String,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        identity: Identity,
    },
    /// Log in and describe a LUN: identity, capacity, block sizes, limits, caching.
    Probe {
        /// iscsi://[user[%password]@]host[:port]/target-iqn/lun[?header_digest=crc32c|none&...]
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

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Discover {
            portal,
            json,
            identity,
        } => commands::discover::run(
            &portal,
            &initiator_name::resolve(identity.initiator_name),
            json,
        ),
        Command::Probe {
            url,
            json,
            identity,
        } => commands::probe::run(
            &url,
            &initiator_name::resolve(identity.initiator_name),
            json,
        ),
        Command::Perf {
            url,
            rw,
            bs,
            iodepth,
            runtime,
            sessions,
            json,
            identity,
        } => commands::perf::run(
            &url,
            &initiator_name::resolve(identity.initiator_name),
            rw,
            bs,
            iodepth,
            Duration::from_secs(runtime),
            sessions,
            json,
        ),
    }
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

fn main() -> ExitCode {
    init_logging();
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ublk.cxgb3i: {}", describe(&error));
            ExitCode::FAILURE
        }
    }
}
