//! Temporary stand-in for the `ublk-cxgb3i` binary until src/main.rs wires these
//! subcommands: `add`, `del`, `list`, `recover`, `features`.

use std::process::ExitCode;

use clap::Parser;
use ublk_target::cli;

#[derive(Parser)]
#[command(name = "ublk.cxgb3i")]
enum Command {
    Add(cli::AddArgs),
    Del(cli::DelArgs),
    List(cli::ListArgs),
    Recover(cli::RecoverArgs),
    Features(cli::FeaturesArgs),
}

fn main() -> ExitCode {
    match Command::parse() {
        Command::Add(args) => cli::run_add(args),
        Command::Del(args) => cli::run_del(args),
        Command::List(args) => cli::run_list(args),
        Command::Recover(args) => cli::run_recover(args),
        Command::Features(args) => cli::run_features(args),
    }
}
