//! The proxy's control channel: one-line text commands over a Unix socket, so that a shell
//! script can arm faults (`fault-proxy ctl PATH COMMAND`, or any tool that writes a line to a
//! Unix stream socket and reads one back).
//!
//! Commands (one per line; each gets one line back):
//!
//! | command                                   | effect                                   |
//! |-------------------------------------------|------------------------------------------|
//! | `drop-response [N] [itt=0xITT]`           | drop the next N SCSI Responses           |
//! | `drop-status-data-in [N] [itt=0xITT]`     | drop the next N Data-In with status      |
//! | `flip-data-in [N]`                        | flip a bit in the next N Data-In         |
//! | `reset-mid-pdu`                           | RST in the middle of the next target PDU |
//! | `stall SECONDS`                           | hold both directions for SECONDS         |
//! | `clear`                                   | disarm everything, end a stall           |
//! | `armed`                                   | the faults still armed, `;`-separated    |
//! | `stats`                                   | counters as `key=value` pairs            |
//! | `quit`                                    | stop serving (the binary exits)          |
//!
//! N defaults to 1. Arming answers `ok`; a bad command answers `error: ...`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use super::{Fault, Proxy};

/// A parsed control command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Arm(Fault),
    Clear,
    Armed,
    Stats,
    Quit,
}

/// What executing a command answers, and whether serving should stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub line: String,
    pub quit: bool,
}

fn parse_times(word: Option<&str>) -> Result<u32, String> {
    match word {
        None => Ok(1),
        Some(word) => word
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("count {word:?} is not a positive integer")),
    }
}

fn parse_itt(word: &str) -> Result<u32, String> {
    let hex = word
        .strip_prefix("itt=")
        .ok_or_else(|| format!("expected itt=0xITT, got {word:?}"))?;
    let digits = hex
        .strip_prefix("0x")
        .or_else(|| hex.strip_prefix("0X"))
        .unwrap_or(hex);
    u32::from_str_radix(digits, 16).map_err(|_| format!("ITT {hex:?} is not hexadecimal"))
}

/// `[N] [itt=0xITT]`, in either order.
fn parse_count_and_itt(words: &[&str]) -> Result<(u32, Option<u32>), String> {
    let (itts, counts): (Vec<&str>, Vec<&str>) =
        words.iter().partition(|word| word.starts_with("itt="));
    if itts.len() > 1 || counts.len() > 1 {
        return Err("expected at most a count and an itt=".into());
    }
    let itt = itts.first().map(|word| parse_itt(word)).transpose()?;
    Ok((parse_times(counts.first().copied())?, itt))
}

/// Parses one command line.
pub fn parse_command(line: &str) -> Result<Command, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&name, args)) = words.split_first() else {
        return Err("empty command".into());
    };
    let no_args = |command: Command| {
        if args.is_empty() {
            Ok(command)
        } else {
            Err(format!("{name} takes no arguments"))
        }
    };
    match name {
        "drop-response" => {
            let (times, itt) = parse_count_and_itt(args)?;
            Ok(Command::Arm(Fault::DropResponse { itt, times }))
        }
        "drop-status-data-in" => {
            let (times, itt) = parse_count_and_itt(args)?;
            Ok(Command::Arm(Fault::DropStatusDataIn { itt, times }))
        }
        "flip-data-in" => match args {
            [] | [_] => Ok(Command::Arm(Fault::FlipDataIn {
                times: parse_times(args.first().copied())?,
            })),
            _ => Err("flip-data-in takes at most a count".into()),
        },
        "reset-mid-pdu" => no_args(Command::Arm(Fault::ResetMidPdu)),
        "stall" => match args {
            [seconds] => {
                let seconds: f64 = seconds
                    .parse()
                    .map_err(|_| format!("stall needs seconds, got {seconds:?}"))?;
                Duration::try_from_secs_f64(seconds)
                    .map(|d| Command::Arm(Fault::Stall(d)))
                    .map_err(|_| format!("stall of {seconds} s is not a duration"))
            }
            _ => Err("usage: stall SECONDS".into()),
        },
        "clear" => no_args(Command::Clear),
        "armed" => no_args(Command::Armed),
        "stats" => no_args(Command::Stats),
        "quit" => no_args(Command::Quit),
        other => Err(format!("unknown command {other:?}")),
    }
}

/// Executes one command line against `proxy`.
pub fn execute(proxy: &Proxy, line: &str) -> Reply {
    let reply = |line: String| Reply { line, quit: false };
    match parse_command(line) {
        Err(error) => reply(format!("error: {error}")),
        Ok(Command::Arm(fault)) => {
            proxy.arm(fault);
            reply("ok".into())
        }
        Ok(Command::Clear) => {
            proxy.disarm_all();
            reply("ok".into())
        }
        Ok(Command::Armed) => reply(
            proxy
                .armed()
                .iter()
                .map(Fault::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Ok(Command::Stats) => reply(proxy.stats().to_string()),
        Ok(Command::Quit) => Reply {
            line: "ok".into(),
            quit: true,
        },
    }
}

/// Serves control connections on `listener` until a `quit` command; each connection may send
/// several lines and gets one line back for each.
pub fn serve_control(listener: &UnixListener, proxy: &Proxy) -> io::Result<()> {
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            continue;
        };
        // A client that stops reading must not wedge the proxy's control.
        let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        if serve_one(stream, proxy) {
            return Ok(());
        }
    }
    Ok(())
}

/// Answers the lines of one control connection; true after `quit`.
fn serve_one(stream: UnixStream, proxy: &Proxy) -> bool {
    let Ok(mut writer) = stream.try_clone() else {
        return false;
    };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else {
            return false;
        };
        if line.trim().is_empty() {
            continue;
        }
        let reply = execute(proxy, &line);
        if writeln!(writer, "{}", reply.line).is_err() || reply.quit {
            return reply.quit;
        }
    }
    false
}

/// Sends one command to the control socket at `path` and returns the reply line.
pub fn send_command(path: &Path, command: &str) -> io::Result<String> {
    let mut stream = UnixStream::connect(path)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    writeln!(stream, "{}", command.trim())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    Ok(reply.trim_end().to_owned())
}

#[cfg(test)]
mod tests;
