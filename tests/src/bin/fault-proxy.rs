//! `fault-proxy`: the fault-injecting iSCSI proxy of `cxgb3i_tests::proxy` as a program, for
//! VM scripts.
//!
//! ```text
//! fault-proxy --listen ADDR --target ADDR [--control PATH] [--digests MODE]
//! fault-proxy ctl PATH COMMAND [ARGS...]
//! ```
//!
//! The first form proxies `ADDR` (loopback, port 0 picks one) to the target and prints
//! `listening on ADDR` once it accepts. With `--control PATH` it serves the control commands
//! of `cxgb3i_tests::proxy::control` on a Unix socket at PATH and exits on `quit`; without
//! it, it runs until killed. `--digests` is `login` (default: learn them from each login),
//! `none`, `header`, `data` or `header,data`.
//!
//! The second form sends one command to a running proxy's control socket and prints the reply
//! (socat is not needed): `fault-proxy ctl /tmp/p.sock drop-response 2`.

use std::net::SocketAddr;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::process::ExitCode;

use cxgb3i_tests::proxy::{self, DigestMode, Proxy};
use iscsi_proto::digest::Digests;

const USAGE: &str = "usage: fault-proxy --listen ADDR --target ADDR [--control PATH] \
                     [--digests login|none|header|data|header,data]\n       \
                     fault-proxy ctl PATH COMMAND [ARGS...]";

struct Options {
    listen: SocketAddr,
    target: SocketAddr,
    control: Option<PathBuf>,
    digests: DigestMode,
}

fn parse_digests(value: &str) -> Result<DigestMode, String> {
    let mut digests = Digests::NONE;
    match value {
        "login" => return Ok(DigestMode::FromLogin),
        "none" => {}
        _ => {
            for part in value.split(',') {
                match part {
                    "header" => digests.header = true,
                    "data" => digests.data = true,
                    other => return Err(format!("unknown digest {other:?}")),
                }
            }
        }
    }
    Ok(DigestMode::Fixed(digests))
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let (mut listen, mut target, mut control) = (None, None, None);
    let mut digests = DigestMode::FromLogin;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value"))
                .cloned()
        };
        match flag.as_str() {
            "--listen" => {
                listen = Some(value()?.parse().map_err(|e| format!("--listen: {e}"))?);
            }
            "--target" => {
                target = Some(value()?.parse().map_err(|e| format!("--target: {e}"))?);
            }
            "--control" => control = Some(PathBuf::from(value()?)),
            "--digests" => digests = parse_digests(&value()?)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Options {
        listen: listen.ok_or("--listen is required")?,
        target: target.ok_or("--target is required")?,
        control,
        digests,
    })
}

fn run(options: Options) -> Result<(), String> {
    let proxy = Proxy::start_with(options.listen, options.target, options.digests)
        .map_err(|e| format!("cannot start the proxy on {}: {e}", options.listen))?;
    let listener = match &options.control {
        Some(path) => {
            // A stale socket from an earlier run would make bind fail.
            let _ = std::fs::remove_file(path);
            Some(
                UnixListener::bind(path)
                    .map_err(|e| format!("cannot bind {}: {e}", path.display()))?,
            )
        }
        None => None,
    };
    println!("listening on {}", proxy.addr());
    match listener {
        Some(listener) => {
            let served = proxy::serve_control(&listener, &proxy);
            if let Some(path) = &options.control {
                let _ = std::fs::remove_file(path);
            }
            served.map_err(|e| format!("control socket: {e}"))
        }
        None => loop {
            std::thread::park();
        },
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ctl") => match &args[1..] {
            [path, command @ ..] if !command.is_empty() => {
                proxy::send_command(path.as_ref(), &command.join(" "))
                    .map_err(|e| format!("{path}: {e}"))
                    .and_then(|reply| {
                        println!("{reply}");
                        match reply.strip_prefix("error: ") {
                            Some(error) => Err(error.to_owned()),
                            None => Ok(()),
                        }
                    })
            }
            _ => Err(USAGE.to_owned()),
        },
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => parse_options(&args)
            .map_err(|error| format!("{error}\n{USAGE}"))
            .and_then(run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("fault-proxy: {error}");
            ExitCode::FAILURE
        }
    }
}
