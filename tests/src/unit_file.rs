//! The part of a systemd service unit that `unit-runner` executes: `[Service]`'s commands,
//! restart policy and timeouts, with the instance specifiers (`%i`, `%I`) filled in. Just
//! enough of systemd.service(5) to run our own template the way systemd would in a VM that
//! has no systemd as init.

use std::collections::HashMap;
use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum UnitError {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("[Service] has no {0}")]
    Missing(&'static str),
    #[error("{key}={value}: {message}")]
    Value {
        key: &'static str,
        value: String,
        message: String,
    },
}

/// A command line of the unit: `-` in front means its failure is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub argv: Vec<String>,
    pub ignore_failure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    No,
    OnFailure,
    Always,
}

/// What the runner needs of `[Service]` (and `[Unit]`'s start limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub service_type: String,
    pub notify_access: String,
    pub exec_start_pre: Vec<Command>,
    pub exec_start: Command,
    pub exec_stop: Vec<Command>,
    pub restart: Restart,
    pub restart_sec: Duration,
    pub timeout_start: Duration,
    pub timeout_stop: Duration,
    /// Starts allowed (StartLimitBurst); `None` when StartLimitIntervalSec=0 lifts the limit.
    pub start_limit_burst: Option<u32>,
    /// Exit statuses after which Restart= does not restart (RestartPreventExitStatus=).
    pub restart_prevent_exit_status: Vec<i32>,
}

/// `systemd-escape`'s inverse for an instance name: `\xNN` → the byte, `-` → `/`.
pub fn unescape_instance(escaped: &str) -> String {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 2..index + 4)
            .filter(|_| bytes[index..].starts_with(b"\\x"))
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u8::from_str_radix(digits, 16).ok());
        match (hex, bytes[index]) {
            (Some(byte), _) => {
                out.push(byte);
                index += 4;
            }
            (None, b'-') => {
                out.push(b'/');
                index += 1;
            }
            (None, byte) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A systemd time span: `90`, `2s`, `500ms`, `5min`, `1h`.
pub fn parse_span(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let millis = match unit.trim() {
        "" | "s" | "sec" => number.checked_mul(1000)?,
        "ms" | "msec" => number,
        "m" | "min" => number.checked_mul(60_000)?,
        "h" | "hr" => number.checked_mul(3_600_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(millis))
}

fn expand(word: &str, instance: &str) -> String {
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('i') => out.push_str(instance),
            Some('I') => out.push_str(&unescape_instance(instance)),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// A command line; quoting is not understood, so a quote is refused rather than misread.
fn command(key: &'static str, value: &str, instance: &str) -> Result<Command, UnitError> {
    if value.contains(['"', '\'']) {
        return Err(UnitError::Value {
            key,
            value: value.into(),
            message: "the runner does not take quoted words".into(),
        });
    }
    let (ignore_failure, rest) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    Ok(Command {
        argv: rest
            .split_whitespace()
            .map(|word| expand(word, instance))
            .collect(),
        ignore_failure,
    })
}

impl Service {
    /// Parses unit file `text` for `instance` (its escaped name, as in the unit's name).
    pub fn parse(text: &str, instance: &str) -> Result<Service, UnitError> {
        let mut section = String::new();
        let mut values: HashMap<(String, String), Vec<String>> = HashMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                continue;
            }
            let (key, value) = line.split_once('=').ok_or_else(|| UnitError::Syntax {
                line: index + 1,
                message: format!("not key=value: {line}"),
            })?;
            values
                .entry((section.clone(), key.trim().to_owned()))
                .or_default()
                .push(value.trim().to_owned());
        }
        let all = |section: &str, key: &str| {
            values
                .get(&(section.to_owned(), key.to_owned()))
                .cloned()
                .unwrap_or_default()
        };
        let last = |section: &str, key: &str| all(section, key).pop();
        let span = |key: &'static str, default: Duration| match last("Service", key) {
            None => Ok(default),
            Some(value) => parse_span(&value).ok_or(UnitError::Value {
                key,
                value,
                message: "not a time span".into(),
            }),
        };
        let restart = match last("Service", "Restart").as_deref() {
            None | Some("no") => Restart::No,
            Some("on-failure") => Restart::OnFailure,
            Some("always") => Restart::Always,
            Some(other) => {
                return Err(UnitError::Value {
                    key: "Restart",
                    value: other.into(),
                    message: "the runner knows no, on-failure and always".into(),
                })
            }
        };
        let start_limit_burst = match last("Unit", "StartLimitBurst") {
            None => 5,
            Some(value) => value.parse().map_err(|_| UnitError::Value {
                key: "StartLimitBurst",
                value,
                message: "not a number".into(),
            })?,
        };
        let unlimited = last("Unit", "StartLimitIntervalSec")
            .and_then(|value| parse_span(&value))
            .is_some_and(|interval| interval.is_zero());
        let restart_prevent_exit_status = all("Service", "RestartPreventExitStatus")
            .iter()
            .flat_map(|value| {
                value
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .map(|status| {
                status.parse().map_err(|_| UnitError::Value {
                    key: "RestartPreventExitStatus",
                    value: status.clone(),
                    message: "the runner takes exit status numbers".into(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Service {
            service_type: last("Service", "Type").unwrap_or_else(|| "simple".into()),
            notify_access: last("Service", "NotifyAccess").unwrap_or_else(|| "none".into()),
            exec_start_pre: all("Service", "ExecStartPre")
                .iter()
                .map(|value| command("ExecStartPre", value, instance))
                .collect::<Result<_, _>>()?,
            exec_start: command(
                "ExecStart",
                &last("Service", "ExecStart").ok_or(UnitError::Missing("ExecStart"))?,
                instance,
            )?,
            exec_stop: all("Service", "ExecStop")
                .iter()
                .map(|value| command("ExecStop", value, instance))
                .collect::<Result<_, _>>()?,
            restart,
            restart_sec: span("RestartSec", Duration::from_millis(100))?,
            timeout_start: span("TimeoutStartSec", Duration::from_secs(90))?,
            timeout_stop: span("TimeoutStopSec", Duration::from_secs(90))?,
            start_limit_burst: (!unlimited).then_some(start_limit_burst),
            restart_prevent_exit_status,
        })
    }
}

#[cfg(test)]
mod tests;
