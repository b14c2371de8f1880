//! The supervision timeouts as a user sets them: whole seconds, open-iscsi's names, on the
//! command line and in the device's record (so `ublk recover` keeps them).

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::Timeouts;

/// Supervision timeouts in seconds; defaults as open-iscsi's iscsid.conf.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimeoutSettings {
    /// Seconds a login may take (node.conn[0].timeo.login_timeout).
    #[arg(long = "login-timeout", value_name = "SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub login: u32,
    /// Seconds a logout may take before the connection is reset.
    #[arg(long = "logout-timeout", value_name = "SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub logout: u32,
    /// Idle seconds before a NOP-Out keepalive; 0 turns keepalive off.
    #[arg(long = "noop-out-interval", value_name = "SECS", default_value_t = 5)]
    pub noop_out_interval: u32,
    /// Seconds a NOP-Out may go unanswered before the connection is dropped.
    #[arg(long = "noop-out-timeout", value_name = "SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub noop_out_timeout: u32,
    /// Seconds I/O is held while the session is down, then failed until it is back
    /// (node.session.timeo.replacement_timeout).
    #[arg(
        long = "replacement-timeout",
        value_name = "SECS",
        default_value_t = 120
    )]
    pub replacement: u32,
    /// Seconds a SCSI command may take before it is aborted (the SCSI disk timeout).
    #[arg(long = "command-timeout", value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub command: u32,
    /// Seconds ABORT TASK may go unanswered before the LU is reset.
    #[arg(long = "abort-timeout", value_name = "SECS", default_value_t = 15,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub abort: u32,
    /// Seconds LOGICAL UNIT RESET may go unanswered before the connection is dropped.
    #[arg(long = "lu-reset-timeout", value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub lu_reset: u32,
    /// Seconds a command keeps being retried (with backoff) after a retriable status.
    #[arg(long = "retry-window", value_name = "SECS", default_value_t = 60)]
    pub retry_window: u32,
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
    pub fn timeouts(&self) -> Timeouts {
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
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_supervisors() {
        assert_eq!(TimeoutSettings::default().timeouts(), Timeouts::default());
    }

    #[test]
    fn a_record_without_timeouts_gets_the_defaults() {
        let partial: TimeoutSettings = serde_json::from_str(r#"{"command": 5}"#).unwrap();
        assert_eq!(partial.command, 5);
        assert_eq!(partial.replacement, 120);
    }
}
