//! The state of a queue's iSCSI session over time: logging in, up, failed (its engine side
//! winding down), waiting to reconnect. ERL 0: a failed connection takes its session with it,
//! so recovery is a new login and every unfinished command is reissued.

use std::time::{Duration, Instant};

use t3_hw::initiator::IscsiConn;
use t3_hw::Tid;

/// How long a login may take (open-iscsi's login_timeout).
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(15);
/// Idle time after which a NOP-Out is sent (open-iscsi's noop_out_interval).
pub const NOP_INTERVAL: Duration = Duration::from_secs(5);
/// How long a NOP-Out may go unanswered before the connection is declared dead.
pub const NOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long I/O is held while the session is down before it fails with ENOLINK
/// (open-iscsi's replacement_timeout).
pub const REPLACEMENT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a failed connection's engine side may take to finish before its tasks are
/// reissued anyway.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait between reconnect attempts (libiscsi: +1 s per attempt, capped at 30 s).
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The wait before reconnect attempt `attempt` (1-based): none for the first, then one second
/// more for each, up to [`MAX_BACKOFF`].
pub fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(u64::from(attempt.saturating_sub(1))).min(MAX_BACKOFF)
}

/// Where the session stands.
#[derive(Debug)]
pub enum Link {
    /// Nothing yet, or shut down.
    Down,
    /// Connecting and logging in.
    Connecting { conn: IscsiConn, started: Instant },
    /// Logged in: commands flow.
    Up {
        conn: IscsiConn,
        /// Last time anything arrived on the connection.
        last_rx: Instant,
        /// When the outstanding NOP-Out was sent, if one is.
        ping_sent: Option<Instant>,
    },
    /// Failed; the engine may still be finishing with the connection, whose tasks are
    /// reissued once it has (or once `deadline` passes).
    Draining {
        conn: IscsiConn,
        tid: Option<Tid>,
        deadline: Instant,
    },
    /// Waiting to reconnect.
    Waiting { until: Instant },
    /// Logging out (shutdown).
    LoggingOut { conn: IscsiConn, deadline: Instant },
}

impl Link {
    /// The connection whose completions are handled normally, if any.
    pub fn conn_mut(&mut self) -> Option<&mut IscsiConn> {
        match self {
            Link::Connecting { conn, .. }
            | Link::Up { conn, .. }
            | Link::LoggingOut { conn, .. } => Some(conn),
            Link::Draining { .. } | Link::Waiting { .. } | Link::Down => None,
        }
    }

    pub fn is_up(&self) -> bool {
        matches!(self, Link::Up { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_a_second_and_caps() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::ZERO);
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(10), Duration::from_secs(9));
        assert_eq!(backoff(31), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX), Duration::from_secs(30));
    }
}
