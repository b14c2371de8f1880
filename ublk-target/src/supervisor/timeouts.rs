//! Every timer of supervision in one table, with open-iscsi's iscsid.conf defaults.

use std::time::Duration;

/// Supervision timeouts. The defaults are open-iscsi's shipped iscsid.conf values and the
/// SCSI midlayer's command timeout, so a device behaves like an iscsi_tcp disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// How long a login may take (node.conn[0].timeo.login_timeout).
    pub login: Duration,
    /// How long a logout may take before the connection is reset (logout_timeout).
    pub logout: Duration,
    /// Idle time after which a NOP-Out is sent; zero turns keepalive off
    /// (noop_out_interval).
    pub nop_interval: Duration,
    /// How long a NOP-Out may go unanswered (noop_out_timeout).
    pub nop_timeout: Duration,
    /// How long requests are held while the session is down before they fail
    /// (node.session.timeo.replacement_timeout).
    pub replacement: Duration,
    /// A command not finished after this long is aborted (/sys/block/sdX/device/timeout).
    pub command: Duration,
    /// How long ABORT TASK may go unanswered before the LU is reset (abort_timeout).
    pub abort: Duration,
    /// How long LOGICAL UNIT RESET may go unanswered before the connection is dropped
    /// (lu_reset_timeout).
    pub lu_reset: Duration,
    /// How long a command keeps being retried after its first retriable status (BUSY, TASK
    /// SET FULL, becoming ready, ALUA transition, an abort) before it fails.
    pub retry_window: Duration,
    /// The first delay of the retry backoff (the very first retry goes at once: a UNIT
    /// ATTENTION needs no wait), doubled each time up to `retry_delay_max`.
    pub retry_delay_min: Duration,
    pub retry_delay_max: Duration,
    /// The longest wait between reconnect attempts (libiscsi: one second more per attempt,
    /// capped at 30 s).
    pub reconnect_delay_max: Duration,
    /// How long a failed connection's engine side may take before the supervisor complains
    /// (it keeps waiting: a buffer is never reused while an operation may write it).
    pub drain_warning: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        let secs = Duration::from_secs;
        Timeouts {
            login: secs(15),
            logout: secs(15),
            nop_interval: secs(5),
            nop_timeout: secs(5),
            replacement: secs(120),
            command: secs(30),
            abort: secs(15),
            lu_reset: secs(30),
            retry_window: secs(60),
            retry_delay_min: Duration::from_millis(10),
            retry_delay_max: secs(1),
            reconnect_delay_max: secs(30),
            drain_warning: secs(5),
        }
    }
}

impl Timeouts {
    /// The wait before retry number `done + 1`: none for the first, then
    /// `retry_delay_min`, doubling, capped at `retry_delay_max`.
    pub(crate) fn retry_delay(&self, done: u32) -> Duration {
        if done == 0 {
            return Duration::ZERO;
        }
        let doublings = (done - 1).min(20);
        self.retry_delay_min
            .saturating_mul(1 << doublings)
            .min(self.retry_delay_max)
    }

    /// The wait before reconnect attempt `attempt` (1-based): none for the first, then one
    /// second more for each, up to `reconnect_delay_max`.
    pub(crate) fn reconnect_delay(&self, attempt: u32) -> Duration {
        Duration::from_secs(u64::from(attempt.saturating_sub(1))).min(self.reconnect_delay_max)
    }
}
