//! Session supervision for one queue, as a deterministic state machine.
//!
//! The supervisor decides everything about time and failure; the queue loop executes its
//! decisions and tells it what happened. It never reads a clock and never touches a socket or
//! a ring: every call takes `now`, and the loop asks [`Supervisor::poll_timeout`] when to call
//! [`Supervisor::handle_timeout`] next and drains [`Supervisor::poll_action`] after every
//! call (quinn-proto's shape). Tests drive it with simulated time.
//!
//! What it owns:
//! - the path (the session's connection): connecting, up with keepalive, draining after a
//!   failure, waiting to reconnect with backoff, logging out;
//! - every request the queue took from the kernel, from arrival to commit: held while the
//!   session is down, in flight with a command deadline, backing off after a retriable status;
//! - the escalation of a command that does not complete: ABORT TASK, then LOGICAL UNIT RESET,
//!   then dropping the connection (open-iscsi's SCSI error handling, in that order);
//! - the replacement timeout that ends an outage by failing held requests, and the stop that
//!   fails them at once.
//!
//! ERL 0: a failed connection takes its session with it. Requests in flight on it are reissued
//! only after the engine has finished every operation that could touch their buffers
//! ([`Supervisor::drained`]), and on a new session that reinstated the old one (same ISID),
//! so no command of the old session can run after its reissued copy.

mod path;
mod settings;
mod timeouts;

#[cfg(test)]
mod tests;

pub(crate) use path::{DropReason, PathPhase};
pub(crate) use settings::{TimeoutOverrides, TimeoutSettings};
pub(crate) use timeouts::Timeouts;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use path::{Path, PathState};

/// Transport failure: what held requests fail with when the session stays down past the
/// replacement timeout or the device is stopped during an outage. The block layer maps it to
/// BLK_STS_TRANSPORT, as iscsi_tcp's DID_TRANSPORT_FAILFAST, which dm-multipath takes as a
/// path failure rather than a medium error.
pub(crate) const ENOLINK: i32 = -67;
/// A command that kept failing with a retriable status, or timing out, past its retry window.
pub(crate) const EIO: i32 = -5;

/// What the queue loop must do next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Action<R> {
    /// Open a connection and log in (the session's ISID stays the same on every login).
    Connect,
    /// The login finished: check the LU is still the device's (VPD 0x83, and its capacity)
    /// and report [`Supervisor::lu_verified`] or [`Supervisor::lu_mismatch`].
    VerifyLu,
    /// Send this tag's command on the session, then report [`Supervisor::submitted`].
    Submit(u16),
    /// Give the tag back to the kernel with this result; the request is the loop's again.
    Complete { tag: u16, result: i32, request: R },
    /// Send a NOP-Out; its answer is reported with [`Supervisor::ping_answered`].
    Ping,
    /// Send ABORT TASK for the tag's command; report the answer with
    /// [`Supervisor::abort_answered`].
    AbortTask(u16),
    /// Send LOGICAL UNIT RESET; report the answer with [`Supervisor::reset_answered`].
    LunReset,
    /// Reset the connection; report [`Supervisor::drained`] once the engine has finished
    /// every operation on it.
    Drop(DropReason),
    /// Log out (the session stays reinstatable); report [`Supervisor::logged_out`] or
    /// [`Supervisor::path_failed`].
    Logout,
}

/// How a command the session took back from the target ended, as the loop judged it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Judged {
    /// Commit with this result.
    Done(i32),
    /// Worth another try after a backoff; if the retry window is over, fail with `errno`.
    Retry { errno: i32 },
    /// Commit with this negative errno at once.
    Failed(i32),
}

/// What became of a [`Action::Submit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Submitted {
    /// The session took the command. If the connection cannot carry it after all, the
    /// connection fails ([`Supervisor::path_failed`]) and the command is reissued with the
    /// others.
    Taken,
    /// The session is not logged in after all: hold it.
    NotUp,
    /// Refused before the session took it: fail with this errno.
    Refused(i32),
}

/// Counters of the supervisor's decisions.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SupervisorStats {
    pub retries: u64,
    pub timeouts: u64,
    pub aborts_sent: u64,
    pub resets_sent: u64,
    pub reconnects: u64,
    pub failed: u64,
}

#[derive(Debug)]
enum SlotState {
    /// The kernel has the tag.
    Idle,
    /// Waiting for a session.
    Held,
    /// On the session; escalation starts at `deadline`.
    InFlight { deadline: Instant },
    /// ABORT TASK sent; LUN reset at `deadline`.
    Aborting { deadline: Instant },
    /// Covered by the LUN reset in progress.
    Resetting,
    /// On a failed connection whose engine side is still winding down.
    Orphaned,
    /// A retriable status came back; submit again at `until`.
    Backoff { until: Instant },
}

#[derive(Debug)]
struct Slot<R> {
    state: SlotState,
    request: Option<R>,
    /// Retries so far, and when they must stop.
    retries: u32,
    retry_deadline: Option<Instant>,
    /// What to fail with if the retry window closes while the request waits.
    retry_errno: i32,
}

impl<R> Slot<R> {
    fn idle() -> Slot<R> {
        Slot {
            state: SlotState::Idle,
            request: None,
            retries: 0,
            retry_deadline: None,
            retry_errno: EIO,
        }
    }
}

/// Supervision of one queue's session and requests. `R` is the loop's request (its plan).
#[derive(Debug)]
pub(crate) struct Supervisor<R> {
    timeouts: Timeouts,
    path: Path,
    slots: Vec<Slot<R>>,
    /// No slot's deadline comes before this (it may be earlier than the earliest, never
    /// later): the slots are scanned only once it has passed, not on every turn of the loop.
    slot_deadlines_from: Option<Instant>,
    /// Held tags, oldest first.
    held: VecDeque<u16>,
    /// When the LUN reset in progress gives up.
    reset_deadline: Option<Instant>,
    outage_since: Option<Instant>,
    /// The length of every outage that has ended, summed.
    outages_ended: Duration,
    /// Past the replacement timeout or stopping: new requests fail until the session is back.
    fail_fast: bool,
    stopping: bool,
    actions: VecDeque<Action<R>>,
    stats: SupervisorStats,
}

impl<R> Supervisor<R> {
    /// A supervisor for `depth` tags, the session not yet connected.
    pub(crate) fn new(depth: u16, timeouts: Timeouts) -> Supervisor<R> {
        Supervisor {
            timeouts,
            path: Path::new(),
            slots: (0..depth).map(|_| Slot::idle()).collect(),
            slot_deadlines_from: None,
            held: VecDeque::new(),
            reset_deadline: None,
            outage_since: None,
            outages_ended: Duration::ZERO,
            fail_fast: false,
            stopping: false,
            actions: VecDeque::new(),
            stats: SupervisorStats::default(),
        }
    }

    pub(crate) fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    pub(crate) fn stats(&self) -> SupervisorStats {
        self.stats
    }

    pub(crate) fn is_up(&self) -> bool {
        self.path.is_up()
    }

    /// Whether the path has nothing left to do (down for good or waiting to reconnect).
    pub(crate) fn is_settled(&self) -> bool {
        matches!(self.path.state, PathState::Down | PathState::Waiting { .. })
    }

    /// How long the session has been down, if it is.
    pub(crate) fn outage(&self, now: Instant) -> Option<Duration> {
        self.outage_since
            .map(|since| now.saturating_duration_since(since))
    }

    /// Since when the session has been down, if it is (the current outage).
    pub(crate) fn outage_started(&self) -> Option<Instant> {
        self.outage_since
    }

    /// The length of every outage that has ended, summed (the current one is not in it).
    pub(crate) fn outages_ended(&self) -> Duration {
        self.outages_ended
    }

    /// Where the session's connection is.
    pub(crate) fn phase(&self) -> PathPhase {
        self.path.phase()
    }

    /// The tags whose commands the LOGICAL UNIT RESET in progress covers.
    pub(crate) fn tags_in_reset(&self) -> impl Iterator<Item = u16> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| matches!(slot.state, SlotState::Resetting))
            .map(|(tag, _)| tag as u16)
    }

    /// Requests taken from the kernel and not committed.
    pub(crate) fn busy(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| !matches!(s.state, SlotState::Idle))
            .count()
    }

    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }

    /// The request behind a tag the supervisor has, for building its command.
    pub(crate) fn request(&self, tag: u16) -> Option<&R> {
        self.slots.get(usize::from(tag))?.request.as_ref()
    }

    pub(crate) fn poll_action(&mut self) -> Option<Action<R>> {
        self.actions.pop_front()
    }

    /// The next instant [`handle_timeout`](Self::handle_timeout) has something to do.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let replacement = self
            .outage_since
            .filter(|_| !self.fail_fast)
            .map(|since| since + self.timeouts.replacement);
        self.slot_deadlines_from
            .into_iter()
            .chain(self.path.deadline(&self.timeouts))
            .chain(self.reset_deadline)
            .chain(replacement)
            .min()
    }

    /// Starts the first connection.
    pub(crate) fn start(&mut self, now: Instant) {
        self.path.connect(now);
        self.actions.push_back(Action::Connect);
    }

    /// A new request from the kernel.
    pub(crate) fn request_arrived(&mut self, now: Instant, tag: u16, request: R) {
        let Some(slot) = self.slots.get_mut(usize::from(tag)) else {
            return;
        };
        *slot = Slot::idle();
        slot.request = Some(request);
        self.dispatch(now, tag);
    }

    /// Sends a request now, holds it for a session, or fails it during an outage.
    fn dispatch(&mut self, now: Instant, tag: u16) {
        if self.path.is_up() {
            self.set_state(
                tag,
                SlotState::InFlight {
                    deadline: now + self.timeouts.command,
                },
            );
            self.actions.push_back(Action::Submit(tag));
        } else if self.fail_fast {
            self.complete(tag, ENOLINK);
        } else {
            self.set_state(tag, SlotState::Held);
            self.held.push_back(tag);
        }
    }

    /// What became of a [`Action::Submit`].
    pub(crate) fn submitted(&mut self, tag: u16, result: Submitted) {
        match result {
            Submitted::Taken => {}
            Submitted::NotUp => {
                self.set_state(tag, SlotState::Held);
                self.held.push_back(tag);
            }
            Submitted::Refused(errno) => self.complete(tag, errno),
        }
    }

    /// A command finished on the session.
    pub(crate) fn finished(&mut self, now: Instant, tag: u16, judged: Judged) {
        let Some(slot) = self.slots.get_mut(usize::from(tag)) else {
            return;
        };
        if !matches!(
            slot.state,
            SlotState::InFlight { .. } | SlotState::Aborting { .. } | SlotState::Resetting
        ) {
            return;
        }
        match judged {
            Judged::Done(result) => self.complete(tag, result),
            Judged::Failed(errno) => {
                self.stats.failed += 1;
                self.complete(tag, errno);
            }
            Judged::Retry { errno } => {
                let deadline = *slot
                    .retry_deadline
                    .get_or_insert(now + self.timeouts.retry_window);
                slot.retry_errno = errno;
                if now >= deadline {
                    tracing::warn!(tag, retries = slot.retries, errno, "retry window over");
                    self.stats.failed += 1;
                    self.complete(tag, errno);
                    return;
                }
                let delay = self.timeouts.retry_delay(slot.retries);
                slot.retries = slot.retries.saturating_add(1);
                self.stats.retries += 1;
                if delay.is_zero() {
                    self.dispatch(now, tag);
                } else {
                    self.set_state(tag, SlotState::Backoff { until: now + delay });
                }
            }
        }
    }

    /// Anything arrived from the target: the connection is alive.
    pub(crate) fn received(&mut self, now: Instant) {
        self.path.received(now);
    }

    pub(crate) fn ping_answered(&mut self, now: Instant) {
        self.path.ping_answered(now);
    }

    /// The login finished: the LU is checked before any request goes.
    pub(crate) fn logged_in(&mut self, now: Instant) {
        if self.path.logged_in(now) {
            self.actions.push_back(Action::VerifyLu);
        }
    }

    /// The LU behind the new session is the device's: reissue what was held, oldest first.
    pub(crate) fn lu_verified(&mut self, now: Instant) {
        if !self.path.verified(now) {
            return;
        }
        if let Some(since) = self.outage_since.take() {
            self.stats.reconnects += 1;
            self.outages_ended += now.saturating_duration_since(since);
        }
        self.fail_fast = false;
        while let Some(tag) = self.held.pop_front() {
            if matches!(self.slot_state(tag), Some(SlotState::Held)) {
                self.dispatch(now, tag);
            }
        }
    }

    /// The LU behind the new session is not the device's: never send it a request. The
    /// connection is dropped and the queue keeps trying (the right LU may come back);
    /// held requests fail at the replacement timeout.
    pub(crate) fn lu_mismatch(&mut self, now: Instant) {
        if matches!(self.path.state, PathState::Verifying { .. }) {
            self.drop_connection(now, DropReason::WrongLu);
        }
    }

    /// The connection could not be opened at all: nothing to drain.
    pub(crate) fn connect_failed(&mut self, now: Instant) {
        self.path.failed();
        self.outage_since.get_or_insert(now);
        self.schedule_reconnect(now);
    }

    /// The connection failed (the target closed it, a protocol error, a socket error). Its
    /// commands wait for [`drained`](Self::drained).
    pub(crate) fn path_failed(&mut self, now: Instant) {
        if self.path.is_draining() {
            return;
        }
        self.path.drain(now, &self.timeouts);
        self.orphan_in_flight();
    }

    /// The engine has finished every operation on the failed connection: its commands can be
    /// reissued, on a new session.
    pub(crate) fn drained(&mut self, now: Instant) {
        if !self.path.is_draining() {
            return;
        }
        for tag in 0..self.slots.len() as u16 {
            if matches!(self.slot_state(tag), Some(SlotState::Orphaned)) {
                self.set_state(tag, SlotState::Held);
                self.held.push_back(tag);
            }
        }
        self.reset_deadline = None;
        self.path.failed();
        if self.stopping {
            self.fail_held();
            return;
        }
        self.outage_since.get_or_insert(now);
        self.schedule_reconnect(now);
    }

    /// The target asked for a logout (async event 1): hold new requests, log out, and log
    /// in again after Time2Wait.
    pub(crate) fn logout_requested(&mut self, now: Instant) {
        if self.path.is_up() && self.path.logout(now, &self.timeouts, true) {
            self.actions.push_back(Action::Logout);
        }
    }

    /// The target announced it will drop the connection: reconnect no sooner than
    /// `time2wait`.
    pub(crate) fn target_will_drop(&mut self, now: Instant, time2wait: Duration) {
        self.path.not_before = Some(now + time2wait);
    }

    /// Our logout finished; the connection closed cleanly. Commands still on it never ran
    /// to a status: they are reissued on the next session.
    pub(crate) fn logged_out(&mut self, now: Instant, time2wait: Duration) {
        if !self.path.reconnect_after_logout() {
            self.stopping = true;
        }
        self.path.not_before = Some(now + time2wait);
        self.orphan_in_flight();
        self.path.drain(now, &self.timeouts);
    }

    /// The device is being stopped (SIGTERM): the kernel drains what is in flight, so a
    /// live session keeps serving; but nothing waits for a session any more. Held requests
    /// fail at once, a login in progress is dropped, and no reconnect follows.
    pub(crate) fn stop(&mut self, now: Instant) {
        self.stopping = true;
        if self.path.is_starting() {
            self.drop_connection(now, DropReason::Stopping);
        } else if matches!(self.path.state, PathState::Waiting { .. }) {
            self.path.state = PathState::Down;
        }
        if !self.path.is_up() {
            tracing::warn!(
                held = self.held.len(),
                "the device is being stopped while the session is down: failing held I/O"
            );
            self.fail_held();
        }
    }

    /// The queue is down: log out if the session is up, else end whatever runs.
    pub(crate) fn shut_down(&mut self, now: Instant) {
        self.stop(now);
        if self.path.logout(now, &self.timeouts, false) {
            self.actions.push_back(Action::Logout);
        }
        self.fail_held();
    }

    /// Fails every held and backing-off request, and new ones, with ENOLINK: nothing will
    /// carry them (the device is stopping, or the outage outlasted the replacement timeout).
    /// Backing-off requests would otherwise be reissued on a session that no longer comes.
    fn fail_held(&mut self) {
        self.fail_fast = true;
        self.held.clear();
        for tag in 0..self.slots.len() as u16 {
            if matches!(
                self.slot_state(tag),
                Some(SlotState::Held | SlotState::Backoff { .. })
            ) {
                self.stats.failed += 1;
                self.complete(tag, ENOLINK);
            }
        }
    }

    /// The answer to ABORT TASK for `tag`: "function complete" (0) and "task does not
    /// exist" (1) end the task, which the session reports as finished (aborted); anything
    /// else escalates to a LUN reset.
    pub(crate) fn abort_answered(&mut self, now: Instant, tag: u16, response: u8) {
        if matches!(response, 0 | 1) {
            return;
        }
        if matches!(self.slot_state(tag), Some(SlotState::Aborting { .. })) {
            tracing::warn!(tag, response, "ABORT TASK refused; resetting the LU");
            self.lun_reset(now);
        }
    }

    /// The answer to LOGICAL UNIT RESET: done (0), or the connection goes.
    pub(crate) fn reset_answered(&mut self, now: Instant, response: u8) {
        if self.reset_deadline.is_none() {
            return;
        }
        if response != 0 {
            self.drop_connection(now, DropReason::ResetRefused(response));
            return;
        }
        // The session finished the reset tasks as aborted before this answer; any left were
        // never sent and wait in the session.
        self.reset_deadline = None;
        for tag in 0..self.slots.len() as u16 {
            if matches!(self.slot_state(tag), Some(SlotState::Resetting)) {
                self.set_state(
                    tag,
                    SlotState::InFlight {
                        deadline: now + self.timeouts.command,
                    },
                );
            }
        }
    }

    /// Moves every deadline that has passed.
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.slot_deadlines_from.is_some_and(|from| now >= from) {
            self.handle_slot_timeouts(now);
        }
        self.handle_path_timeouts(now);
    }

    fn handle_slot_timeouts(&mut self, now: Instant) {
        for tag in 0..self.slots.len() as u16 {
            match self.slot_state(tag) {
                Some(SlotState::InFlight { deadline }) if now >= *deadline => {
                    if !self.path.is_up() {
                        continue;
                    }
                    self.stats.timeouts += 1;
                    if self.reset_deadline.is_some() {
                        self.set_state(tag, SlotState::Resetting);
                        continue;
                    }
                    tracing::warn!(tag, "command timed out; aborting it");
                    self.stats.aborts_sent += 1;
                    self.set_state(
                        tag,
                        SlotState::Aborting {
                            deadline: now + self.timeouts.abort,
                        },
                    );
                    self.actions.push_back(Action::AbortTask(tag));
                }
                Some(SlotState::Aborting { deadline }) if now >= *deadline => {
                    tracing::warn!(tag, "ABORT TASK unanswered; resetting the LU");
                    self.lun_reset(now);
                }
                Some(SlotState::Backoff { until }) if now >= *until => {
                    let slot = &self.slots[usize::from(tag)];
                    if slot.retry_deadline.is_some_and(|d| now >= d) {
                        self.stats.failed += 1;
                        let errno = slot.retry_errno;
                        self.complete(tag, errno);
                    } else {
                        self.dispatch(now, tag);
                    }
                }
                _ => {}
            }
        }
        self.slot_deadlines_from = self
            .slots
            .iter()
            .filter_map(|slot| slot_deadline(&slot.state))
            .min();
    }

    fn handle_path_timeouts(&mut self, now: Instant) {
        if self.reset_deadline.is_some_and(|d| now >= d) {
            self.drop_connection(now, DropReason::ResetTimeout);
        }
        match self.path.poll(now, &self.timeouts) {
            path::Due::Nothing => {}
            path::Due::Connect => {
                let down_ms = self
                    .outage(now)
                    .map_or(0, |outage| outage.as_millis() as u64);
                tracing::info!(
                    attempt = self.path.attempts,
                    down_ms,
                    "reconnecting: attempt {} after {} ms down",
                    self.path.attempts,
                    down_ms
                );
                self.path.connect(now);
                self.actions.push_back(Action::Connect);
            }
            path::Due::Ping => self.actions.push_back(Action::Ping),
            path::Due::Drop(reason) => self.drop_connection(now, reason),
            path::Due::DrainOverdue => {
                // Never reissue while an operation may still write a buffer: keep waiting,
                // and say so.
                tracing::error!("the engine has not finished a failed connection; still waiting");
            }
        }
        if let Some(since) = self.outage_since {
            if !self.fail_fast && now >= since + self.timeouts.replacement {
                tracing::error!(
                    held = self.held.len(),
                    outage_ms = now.saturating_duration_since(since).as_millis() as u64,
                    "giving up on held I/O: the session stayed down past the replacement timeout ({} s); failing I/O with ENOLINK until it is back, still reconnecting",
                    self.timeouts.replacement.as_secs()
                );
                self.fail_held();
            }
        }
    }

    fn lun_reset(&mut self, now: Instant) {
        if self.reset_deadline.is_none() {
            self.reset_deadline = Some(now + self.timeouts.lu_reset);
            self.stats.resets_sent += 1;
            self.actions.push_back(Action::LunReset);
        }
        for slot in &mut self.slots {
            if matches!(slot.state, SlotState::Aborting { .. }) {
                slot.state = SlotState::Resetting;
            }
        }
    }

    fn drop_connection(&mut self, now: Instant, reason: DropReason) {
        if self.path.is_draining() || matches!(self.path.state, PathState::Down) {
            return;
        }
        tracing::warn!(%reason, "dropping the connection");
        self.path.drain(now, &self.timeouts);
        self.orphan_in_flight();
        self.actions.push_back(Action::Drop(reason));
    }

    fn orphan_in_flight(&mut self) {
        self.reset_deadline = None;
        for slot in &mut self.slots {
            if matches!(
                slot.state,
                SlotState::InFlight { .. } | SlotState::Aborting { .. } | SlotState::Resetting
            ) {
                slot.state = SlotState::Orphaned;
            }
        }
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        if self.stopping {
            self.path.state = PathState::Down;
            return;
        }
        self.path.wait(now, &self.timeouts);
        if self
            .path
            .deadline(&self.timeouts)
            .is_some_and(|at| at <= now)
        {
            self.handle_timeout(now);
        }
    }

    fn complete(&mut self, tag: u16, result: i32) {
        let Some(slot) = self.slots.get_mut(usize::from(tag)) else {
            return;
        };
        let request = slot.request.take();
        *slot = Slot::idle();
        if let Some(request) = request {
            self.actions.push_back(Action::Complete {
                tag,
                result,
                request,
            });
        }
    }

    fn slot_state(&self, tag: u16) -> Option<&SlotState> {
        self.slots.get(usize::from(tag)).map(|s| &s.state)
    }

    fn set_state(&mut self, tag: u16, state: SlotState) {
        if let Some(deadline) = slot_deadline(&state) {
            self.slot_deadlines_from = Some(
                self.slot_deadlines_from
                    .map_or(deadline, |from| from.min(deadline)),
            );
        }
        if let Some(slot) = self.slots.get_mut(usize::from(tag)) {
            slot.state = state;
        }
    }
}

/// When a slot in this state has something to do.
fn slot_deadline(state: &SlotState) -> Option<Instant> {
    match *state {
        SlotState::InFlight { deadline } | SlotState::Aborting { deadline } => Some(deadline),
        SlotState::Backoff { until } => Some(until),
        _ => None,
    }
}
