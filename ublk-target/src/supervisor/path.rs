//! The state of the session's connection over time: connecting, up with keepalive, draining
//! after a failure, waiting to reconnect, logging out.

use std::fmt;
use std::time::Instant;

use super::timeouts::Timeouts;

/// Why the supervisor gave up on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropReason {
    LoginTimeout,
    NopTimeout,
    LogoutTimeout,
    /// LOGICAL UNIT RESET went unanswered.
    ResetTimeout,
    /// LOGICAL UNIT RESET was answered with this response.
    ResetRefused(u8),
    /// The device is stopping while the login was still running.
    Stopping,
    /// After a login, the LU did not answer the identity and capacity check in time.
    VerifyTimeout,
    /// After a login, the LU's identity (VPD 0x83) is not the device's.
    WrongLu,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::LoginTimeout => f.write_str("the login timed out"),
            DropReason::NopTimeout => f.write_str("no answer to a NOP-Out in time"),
            DropReason::LogoutTimeout => f.write_str("the logout timed out"),
            DropReason::ResetTimeout => f.write_str("LOGICAL UNIT RESET went unanswered"),
            DropReason::ResetRefused(response) => {
                write!(f, "LOGICAL UNIT RESET was refused (response {response})")
            }
            DropReason::Stopping => f.write_str("the device is stopping"),
            DropReason::VerifyTimeout => {
                f.write_str("the LU did not answer the identity check after the login")
            }
            DropReason::WrongLu => {
                f.write_str("the LU behind the target is not the device's (VPD 0x83 differs)")
            }
        }
    }
}

/// Where the session's connection is, for status reports: [`PathState`] without its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathPhase {
    /// Never connected, or stopped.
    Down,
    /// TCP connect and login.
    Connecting,
    /// Logged in; the LU check runs before any request goes.
    Verifying,
    /// Commands flow.
    Up,
    /// Logout sent.
    LoggingOut,
    /// Failed; the engine is finishing its operations on the connection.
    Draining,
    /// Waiting to reconnect (backoff, Time2Wait).
    Waiting,
}

impl PathPhase {
    /// Every phase, in the order of their numbers ([`PathPhase::number`]).
    pub(crate) const ALL: [PathPhase; 7] = [
        PathPhase::Down,
        PathPhase::Connecting,
        PathPhase::Verifying,
        PathPhase::Up,
        PathPhase::LoggingOut,
        PathPhase::Draining,
        PathPhase::Waiting,
    ];

    /// The phase's name in status reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PathPhase::Down => "down",
            PathPhase::Connecting => "connecting",
            PathPhase::Verifying => "verifying",
            PathPhase::Up => "up",
            PathPhase::LoggingOut => "logging_out",
            PathPhase::Draining => "draining",
            PathPhase::Waiting => "waiting",
        }
    }

    /// A small number for the phase, so a queue can publish it in an atomic.
    pub(crate) fn number(self) -> u8 {
        PathPhase::ALL
            .iter()
            .position(|phase| *phase == self)
            .unwrap_or(0) as u8
    }

    /// The phase with this [`number`](Self::number); `Down` for any other.
    pub(crate) fn from_number(number: u8) -> PathPhase {
        PathPhase::ALL
            .get(usize::from(number))
            .copied()
            .unwrap_or(PathPhase::Down)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PathState {
    /// Never connected, or stopped.
    Down,
    Connecting {
        started: Instant,
    },
    /// Logged in; checking that the LU is still the device's before any request goes.
    Verifying {
        started: Instant,
    },
    Up {
        last_rx: Instant,
        ping_sent: Option<Instant>,
    },
    LoggingOut {
        deadline: Instant,
    },
    /// Failed; the engine is finishing its operations on the connection.
    Draining {
        warn_at: Instant,
    },
    Waiting {
        until: Instant,
    },
}

/// What came due on the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    Nothing,
    Connect,
    Ping,
    Drop(DropReason),
    DrainOverdue,
}

#[derive(Debug)]
pub(super) struct Path {
    pub state: PathState,
    /// Reconnect attempts since the session was last up.
    pub attempts: u32,
    /// No reconnect before this (the target's Time2Wait).
    pub not_before: Option<Instant>,
    /// Whether the logout in progress is followed by a new login.
    reconnect_after_logout: bool,
}

impl Path {
    pub(super) fn new() -> Path {
        Path {
            state: PathState::Down,
            attempts: 0,
            not_before: None,
            reconnect_after_logout: false,
        }
    }

    pub(super) fn is_up(&self) -> bool {
        matches!(self.state, PathState::Up { .. })
    }

    pub(super) fn phase(&self) -> PathPhase {
        match self.state {
            PathState::Down => PathPhase::Down,
            PathState::Connecting { .. } => PathPhase::Connecting,
            PathState::Verifying { .. } => PathPhase::Verifying,
            PathState::Up { .. } => PathPhase::Up,
            PathState::LoggingOut { .. } => PathPhase::LoggingOut,
            PathState::Draining { .. } => PathPhase::Draining,
            PathState::Waiting { .. } => PathPhase::Waiting,
        }
    }

    pub(super) fn is_draining(&self) -> bool {
        matches!(self.state, PathState::Draining { .. })
    }

    pub(super) fn connect(&mut self, now: Instant) {
        self.state = PathState::Connecting { started: now };
    }

    /// The login finished; false if no login was running.
    pub(super) fn logged_in(&mut self, now: Instant) -> bool {
        if !matches!(self.state, PathState::Connecting { .. }) {
            return false;
        }
        self.state = PathState::Verifying { started: now };
        true
    }

    /// The LU passed its check; false if none was running.
    pub(super) fn verified(&mut self, now: Instant) -> bool {
        if !matches!(self.state, PathState::Verifying { .. }) {
            return false;
        }
        self.attempts = 0;
        self.state = PathState::Up {
            last_rx: now,
            ping_sent: None,
        };
        true
    }

    /// Connecting or verifying: a session that is not serving yet.
    pub(super) fn is_starting(&self) -> bool {
        matches!(
            self.state,
            PathState::Connecting { .. } | PathState::Verifying { .. }
        )
    }

    pub(super) fn received(&mut self, now: Instant) {
        if let PathState::Up { last_rx, .. } = &mut self.state {
            *last_rx = now;
        }
    }

    pub(super) fn ping_answered(&mut self, now: Instant) {
        if let PathState::Up { last_rx, ping_sent } = &mut self.state {
            *last_rx = now;
            *ping_sent = None;
        }
    }

    /// Starts a logout; false if the session is not up.
    pub(super) fn logout(&mut self, now: Instant, timeouts: &Timeouts, reconnect: bool) -> bool {
        match self.state {
            PathState::Up { .. } => {
                self.reconnect_after_logout = reconnect;
                self.state = PathState::LoggingOut {
                    deadline: now + timeouts.logout,
                };
                true
            }
            PathState::LoggingOut { .. } => {
                self.reconnect_after_logout &= reconnect;
                false
            }
            _ => false,
        }
    }

    /// Whether the logout that just finished is followed by a new login.
    pub(super) fn reconnect_after_logout(&mut self) -> bool {
        std::mem::take(&mut self.reconnect_after_logout)
    }

    pub(super) fn drain(&mut self, now: Instant, timeouts: &Timeouts) {
        self.state = PathState::Draining {
            warn_at: now + timeouts.drain_warning,
        };
    }

    /// The connection is gone (or could not be opened).
    pub(super) fn failed(&mut self) {
        self.state = PathState::Down;
    }

    /// Waits before the next reconnect attempt.
    pub(super) fn wait(&mut self, now: Instant, timeouts: &Timeouts) {
        self.attempts = self.attempts.saturating_add(1);
        let mut until = now + timeouts.reconnect_delay(self.attempts);
        if let Some(not_before) = self.not_before.take() {
            until = until.max(not_before);
        }
        self.state = PathState::Waiting { until };
    }

    /// The next instant something on the path comes due.
    pub(super) fn deadline(&self, timeouts: &Timeouts) -> Option<Instant> {
        match self.state {
            PathState::Down => None,
            PathState::Connecting { started } | PathState::Verifying { started } => {
                Some(started + timeouts.login)
            }
            PathState::Up {
                ping_sent: Some(sent),
                ..
            } => Some(sent + timeouts.nop_timeout),
            PathState::Up {
                last_rx,
                ping_sent: None,
            } => (!timeouts.nop_interval.is_zero()).then(|| last_rx + timeouts.nop_interval),
            PathState::LoggingOut { deadline } => Some(deadline),
            PathState::Draining { warn_at } => Some(warn_at),
            PathState::Waiting { until } => Some(until),
        }
    }

    /// What is due at `now`; a ping or an overdue drain is recorded as done.
    pub(super) fn poll(&mut self, now: Instant, timeouts: &Timeouts) -> Due {
        if self.deadline(timeouts).is_none_or(|at| now < at) {
            return Due::Nothing;
        }
        match &mut self.state {
            PathState::Down => Due::Nothing,
            PathState::Connecting { .. } => Due::Drop(DropReason::LoginTimeout),
            PathState::Verifying { .. } => Due::Drop(DropReason::VerifyTimeout),
            PathState::Up {
                ping_sent: Some(_), ..
            } => Due::Drop(DropReason::NopTimeout),
            PathState::Up { ping_sent, .. } => {
                *ping_sent = Some(now);
                Due::Ping
            }
            PathState::LoggingOut { .. } => Due::Drop(DropReason::LogoutTimeout),
            PathState::Draining { warn_at } => {
                *warn_at = now + timeouts.drain_warning;
                Due::DrainOverdue
            }
            PathState::Waiting { .. } => Due::Connect,
        }
    }
}
