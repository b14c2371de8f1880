//! The supervision timeouts as a user sets them: whole seconds, open-iscsi's names. They come
//! in layers (built-in defaults, the defaults file, the device's file, the command line:
//! [`TimeoutOverrides`], each field optional) and end as one [`TimeoutSettings`], which the
//! device's record keeps (so `ublk recover` uses the same ones).

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::Timeouts;

/// Supervision timeouts in seconds; defaults as open-iscsi's iscsid.conf. Its field names are
/// the keys of a configuration file's `[timeouts]` table and of the record's `timeouts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct TimeoutSettings {
    pub login: u32,
    pub logout: u32,
    pub noop_out_interval: u32,
    pub noop_out_timeout: u32,
    pub replacement: u32,
    pub command: u32,
    pub abort: u32,
    pub lu_reset: u32,
    pub retry_window: u32,
}

/// One layer of timeouts: what the command line or a configuration file's `[timeouts]` table
/// sets. The field names are [`TimeoutSettings`]'s.
#[derive(Args, Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutOverrides {
    /// Seconds a login may take (node.conn[0].timeo.login_timeout; default 15).
    #[arg(long = "login-timeout", value_name = "SECS")]
    pub login: Option<u32>,
    /// Seconds a logout may take before the connection is reset (default 15).
    #[arg(long = "logout-timeout", value_name = "SECS")]
    pub logout: Option<u32>,
    /// Idle seconds before a NOP-Out keepalive; 0 turns keepalive off (default 5).
    #[arg(long = "noop-out-interval", value_name = "SECS")]
    pub noop_out_interval: Option<u32>,
    /// Seconds a NOP-Out may go unanswered before the connection is dropped (default 5).
    #[arg(long = "noop-out-timeout", value_name = "SECS")]
    pub noop_out_timeout: Option<u32>,
    /// Seconds I/O is held while the session is down, then failed until it is back
    /// (node.session.timeo.replacement_timeout; default 120).
    #[arg(long = "replacement-timeout", value_name = "SECS")]
    pub replacement: Option<u32>,
    /// Seconds a SCSI command may take before it is aborted (the SCSI disk timeout; default
    /// 30).
    #[arg(long = "command-timeout", value_name = "SECS")]
    pub command: Option<u32>,
    /// Seconds ABORT TASK may go unanswered before the LU is reset (default 15).
    #[arg(long = "abort-timeout", value_name = "SECS")]
    pub abort: Option<u32>,
    /// Seconds LOGICAL UNIT RESET may go unanswered before the connection is dropped
    /// (default 30).
    #[arg(long = "lu-reset-timeout", value_name = "SECS")]
    pub lu_reset: Option<u32>,
    /// Seconds a command keeps being retried (with backoff) after a retriable status
    /// (default 60).
    #[arg(long = "retry-window", value_name = "SECS")]
    pub retry_window: Option<u32>,
}

/// A timeout set to a value it cannot have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimeoutValueError {
    /// The field's name (the configuration key).
    pub field: &'static str,
    /// The command line's option for it.
    pub option: &'static str,
}

impl TimeoutOverrides {
    /// The fields set here replace those of `base`.
    pub(crate) fn apply(&self, base: TimeoutSettings) -> TimeoutSettings {
        TimeoutSettings {
            login: self.login.unwrap_or(base.login),
            logout: self.logout.unwrap_or(base.logout),
            noop_out_interval: self.noop_out_interval.unwrap_or(base.noop_out_interval),
            noop_out_timeout: self.noop_out_timeout.unwrap_or(base.noop_out_timeout),
            replacement: self.replacement.unwrap_or(base.replacement),
            command: self.command.unwrap_or(base.command),
            abort: self.abort.unwrap_or(base.abort),
            lu_reset: self.lu_reset.unwrap_or(base.lu_reset),
            retry_window: self.retry_window.unwrap_or(base.retry_window),
        }
    }

    /// Every field set to 0 that must be at least one second (all but the keepalive interval,
    /// where 0 is "off", the replacement timeout and the retry window, where 0 is "fail at
    /// once").
    pub(crate) fn check(&self) -> Result<(), TimeoutValueError> {
        let at_least_one = [
            (self.login, "login", "--login-timeout"),
            (self.logout, "logout", "--logout-timeout"),
            (
                self.noop_out_timeout,
                "noop_out_timeout",
                "--noop-out-timeout",
            ),
            (self.command, "command", "--command-timeout"),
            (self.abort, "abort", "--abort-timeout"),
            (self.lu_reset, "lu_reset", "--lu-reset-timeout"),
        ];
        match at_least_one
            .into_iter()
            .find(|(value, _, _)| *value == Some(0))
        {
            Some((_, field, option)) => Err(TimeoutValueError { field, option }),
            None => Ok(()),
        }
    }
}

impl Default for TimeoutSettings {
    fn default() -> TimeoutSettings {
        let t = Timeouts::default();
        let secs = |d: Duration| d.as_secs() as u32;
        TimeoutSettings {
            login: secs(t.login),
            logout: secs(t.logout),
            noop_out_interval: secs(t.nop_interval),
            noop_out_timeout: secs(t.nop_timeout),
            replacement: secs(t.replacement),
            command: secs(t.command),
            abort: secs(t.abort),
            lu_reset: secs(t.lu_reset),
            retry_window: secs(t.retry_window),
        }
    }
}

impl TimeoutSettings {
    pub(crate) fn timeouts(&self) -> Timeouts {
        let secs = |s: u32| Duration::from_secs(u64::from(s));
        Timeouts {
            login: secs(self.login),
            logout: secs(self.logout),
            nop_interval: secs(self.noop_out_interval),
            nop_timeout: secs(self.noop_out_timeout),
            replacement: secs(self.replacement),
            command: secs(self.command),
            abort: secs(self.abort),
            lu_reset: secs(self.lu_reset),
            retry_window: secs(self.retry_window),
            ..Timeouts::default()
        }
    }
}

#[cfg(test)]
mod tests;
