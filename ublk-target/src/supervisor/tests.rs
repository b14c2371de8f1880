//! Every behaviour of supervision, in simulated time: `now` is passed forward, nothing
//! sleeps.

use std::time::{Duration, Instant};

use super::*;

type Sup = Supervisor<u32>;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

fn actions(sup: &mut Sup) -> Vec<Action<u32>> {
    std::iter::from_fn(|| sup.poll_action()).collect()
}

/// The login finishes at `now` and the LU checks out.
fn log_in(sup: &mut Sup, now: Instant) {
    sup.logged_in(now);
    assert_eq!(actions(sup), [Action::VerifyLu]);
    sup.lu_verified(now);
}

/// A supervisor whose session is up at `t0`.
fn up(depth: u16) -> (Sup, Instant) {
    let t0 = Instant::now();
    let mut sup = Sup::new(depth, Timeouts::default());
    sup.start(t0);
    assert_eq!(actions(&mut sup), [Action::Connect]);
    log_in(&mut sup, t0);
    assert!(sup.is_up());
    (sup, t0)
}

/// Submits `tag` (request = tag) and reports it taken.
fn submit(sup: &mut Sup, now: Instant, tag: u16) {
    sup.request_arrived(now, tag, u32::from(tag));
    assert_eq!(actions(sup), [Action::Submit(tag)]);
    sup.submitted(tag, Submitted::Taken);
}

fn complete(tag: u16, result: i32) -> Action<u32> {
    Action::Complete {
        tag,
        result,
        request: u32::from(tag),
    }
}

/// Fails the connection at `now` and lets the engine finish with it.
fn fail_and_drain(sup: &mut Sup, now: Instant) {
    sup.path_failed(now);
    sup.drained(now);
}

#[test]
fn a_finished_command_completes_with_its_result() {
    let (mut sup, t0) = up(4);
    submit(&mut sup, t0, 2);
    sup.finished(t0, 2, Judged::Done(4096));
    assert_eq!(actions(&mut sup), [complete(2, 4096)]);
    assert_eq!(sup.busy(), 0);
}

#[test]
fn requests_wait_for_the_first_login_then_go_in_order() {
    let t0 = Instant::now();
    let mut sup = Sup::new(8, Timeouts::default());
    sup.start(t0);
    assert_eq!(actions(&mut sup), [Action::Connect]);
    for tag in [5, 1, 3] {
        sup.request_arrived(t0, tag, u32::from(tag));
    }
    assert!(actions(&mut sup).is_empty());
    assert_eq!(sup.held(), 3);
    log_in(&mut sup, t0 + ms(5));
    assert_eq!(
        actions(&mut sup),
        [Action::Submit(5), Action::Submit(1), Action::Submit(3)]
    );
}

#[test]
fn login_timeout_drops_the_connection() {
    let t0 = Instant::now();
    let mut sup = Sup::new(1, Timeouts::default());
    sup.start(t0);
    actions(&mut sup);
    assert_eq!(sup.poll_timeout(), Some(t0 + secs(15)));
    sup.handle_timeout(t0 + secs(14));
    assert!(actions(&mut sup).is_empty());
    sup.handle_timeout(t0 + secs(15));
    assert_eq!(actions(&mut sup), [Action::Drop(DropReason::LoginTimeout)]);
}

#[test]
fn keepalive_pings_when_idle_and_drops_when_unanswered() {
    let (mut sup, t0) = up(1);
    assert_eq!(sup.poll_timeout(), Some(t0 + secs(5)));
    sup.received(t0 + secs(3));
    sup.handle_timeout(t0 + secs(5));
    assert!(actions(&mut sup).is_empty(), "traffic postpones the ping");
    sup.handle_timeout(t0 + secs(8));
    assert_eq!(actions(&mut sup), [Action::Ping]);
    sup.ping_answered(t0 + secs(9));
    sup.handle_timeout(t0 + secs(13));
    assert!(actions(&mut sup).is_empty());
    sup.handle_timeout(t0 + secs(14));
    assert_eq!(actions(&mut sup), [Action::Ping]);
    sup.handle_timeout(t0 + secs(19));
    assert_eq!(actions(&mut sup), [Action::Drop(DropReason::NopTimeout)]);
}

#[test]
fn zero_nop_interval_turns_keepalive_off() {
    let t0 = Instant::now();
    let timeouts = Timeouts {
        nop_interval: Duration::ZERO,
        ..Timeouts::default()
    };
    let mut sup = Sup::new(1, timeouts);
    sup.start(t0);
    assert_eq!(actions(&mut sup), [Action::Connect]);
    log_in(&mut sup, t0);
    assert_eq!(sup.poll_timeout(), None);
    sup.handle_timeout(t0 + secs(3600));
    assert!(actions(&mut sup).is_empty());
}

#[test]
fn a_timed_out_command_is_aborted_and_reissued() {
    let (mut sup, t0) = up(4);
    submit(&mut sup, t0, 1);
    assert_eq!(sup.poll_timeout(), Some(t0 + secs(5)), "keepalive first");
    sup.received(t0 + secs(29));
    sup.handle_timeout(t0 + secs(29));
    assert!(actions(&mut sup).is_empty());
    let t30 = t0 + secs(30);
    sup.handle_timeout(t30);
    assert_eq!(actions(&mut sup), [Action::AbortTask(1)]);
    assert_eq!(sup.stats().aborts_sent, 1);
    // "Function complete": the session ends the task as aborted, then the TMF answer.
    sup.finished(t30, 1, Judged::Retry { errno: EIO });
    sup.abort_answered(t30, 1, 0);
    assert_eq!(actions(&mut sup), [Action::Submit(1)]);
    sup.submitted(1, Submitted::Taken);
    sup.finished(t30 + ms(1), 1, Judged::Done(512));
    assert_eq!(actions(&mut sup), [complete(1, 512)]);
}

#[test]
fn task_does_not_exist_also_reissues() {
    let (mut sup, t0) = up(2);
    submit(&mut sup, t0, 0);
    sup.received(t0 + secs(30));
    sup.handle_timeout(t0 + secs(30));
    assert_eq!(actions(&mut sup), [Action::AbortTask(0)]);
    sup.finished(t0 + secs(30), 0, Judged::Retry { errno: EIO });
    sup.abort_answered(t0 + secs(30), 0, 1);
    assert_eq!(actions(&mut sup), [Action::Submit(0)]);
}

#[test]
fn an_unanswered_abort_escalates_to_a_lun_reset_then_a_new_connection() {
    let (mut sup, t0) = up(4);
    submit(&mut sup, t0, 0);
    submit(&mut sup, t0 + secs(1), 1);
    let t30 = t0 + secs(30);
    sup.received(t30);
    sup.handle_timeout(t30);
    assert_eq!(actions(&mut sup), [Action::AbortTask(0)]);
    // Tag 1 times out while the abort of tag 0 is pending: its own abort.
    sup.received(t0 + secs(31));
    sup.handle_timeout(t0 + secs(31));
    assert_eq!(actions(&mut sup), [Action::AbortTask(1)]);
    let t45 = t30 + secs(15);
    sup.received(t45);
    sup.handle_timeout(t45);
    assert_eq!(actions(&mut sup), [Action::LunReset]);
    assert_eq!(sup.stats().resets_sent, 1);
    // The second abort's deadline passes while the reset runs: no second reset.
    sup.received(t0 + secs(46));
    sup.handle_timeout(t0 + secs(46));
    assert!(actions(&mut sup).is_empty());
    let t75 = t45 + secs(30);
    sup.received(t75);
    sup.handle_timeout(t75);
    assert_eq!(actions(&mut sup), [Action::Drop(DropReason::ResetTimeout)]);
    // Nothing is reissued until the engine has let go of the connection.
    sup.handle_timeout(t75 + secs(60));
    assert!(actions(&mut sup)
        .iter()
        .all(|a| !matches!(a, Action::Submit(_) | Action::Complete { .. })));
    sup.drained(t75 + secs(60));
    assert_eq!(actions(&mut sup), [Action::Connect]);
    log_in(&mut sup, t75 + secs(61));
    assert_eq!(actions(&mut sup), [Action::Submit(0), Action::Submit(1)]);
}

#[test]
fn a_completed_lun_reset_reissues_its_commands() {
    let (mut sup, t0) = up(4);
    submit(&mut sup, t0, 2);
    submit(&mut sup, t0, 3);
    sup.received(t0 + secs(30));
    sup.handle_timeout(t0 + secs(30));
    assert_eq!(
        actions(&mut sup),
        [Action::AbortTask(2), Action::AbortTask(3)]
    );
    // The target refuses the first abort: reset at once, which covers both.
    sup.abort_answered(t0 + secs(31), 2, 5);
    assert_eq!(actions(&mut sup), [Action::LunReset]);
    let t = t0 + secs(32);
    sup.finished(t, 2, Judged::Retry { errno: EIO });
    sup.finished(t, 3, Judged::Retry { errno: EIO });
    sup.reset_answered(t, 0);
    assert_eq!(actions(&mut sup), [Action::Submit(2), Action::Submit(3)]);
    assert_eq!(sup.poll_timeout(), Some(t0 + secs(35)), "keepalive next");
}

#[test]
fn a_refused_lun_reset_drops_the_connection() {
    let (mut sup, t0) = up(1);
    submit(&mut sup, t0, 0);
    sup.received(t0 + secs(30));
    sup.handle_timeout(t0 + secs(30));
    sup.abort_answered(t0 + secs(30), 0, 0xff);
    assert_eq!(actions(&mut sup), [Action::AbortTask(0), Action::LunReset]);
    sup.reset_answered(t0 + secs(31), 5);
    assert_eq!(
        actions(&mut sup),
        [Action::Drop(DropReason::ResetRefused(5))]
    );
}

#[test]
fn retriable_statuses_back_off_until_the_retry_window_closes() {
    let (mut sup, t0) = up(1);
    submit(&mut sup, t0, 0);
    let busy = Judged::Retry { errno: -16 };
    // The first retry goes at once.
    sup.finished(t0, 0, busy);
    assert_eq!(actions(&mut sup), [Action::Submit(0)]);
    let mut now = t0;
    let mut delays = Vec::new();
    loop {
        sup.submitted(0, Submitted::Taken);
        sup.finished(now, 0, busy);
        let acts = actions(&mut sup);
        if let [Action::Complete { result, .. }] = acts.as_slice() {
            assert_eq!(*result, -16);
            break;
        }
        assert!(acts.is_empty(), "{acts:?}");
        let due = sup.poll_timeout().expect("a backoff timer");
        delays.push(due - now);
        sup.received(due);
        now = due;
        sup.handle_timeout(now);
        let acts = actions(&mut sup);
        if let [Action::Complete { result, .. }] = acts.as_slice() {
            assert_eq!(*result, -16);
            break;
        }
        assert_eq!(acts, [Action::Submit(0)]);
    }
    assert_eq!(&delays[..4], [ms(10), ms(20), ms(40), ms(80)]);
    assert!(delays.iter().all(|d| *d <= secs(1)));
    assert!(
        now - t0 >= secs(60) && now - t0 <= secs(61),
        "{:?}",
        now - t0
    );
    assert!(sup.stats().retries > 60);
}

#[test]
fn hard_errors_fail_at_once() {
    let (mut sup, t0) = up(1);
    submit(&mut sup, t0, 0);
    sup.finished(t0, 0, Judged::Failed(-61));
    assert_eq!(actions(&mut sup), [complete(0, -61)]);
}

#[test]
fn a_failed_connection_holds_its_commands_until_the_engine_lets_go() {
    let (mut sup, t0) = up(4);
    submit(&mut sup, t0, 0);
    submit(&mut sup, t0, 3);
    sup.path_failed(t0 + secs(1));
    // Requests that arrive meanwhile are held too.
    sup.request_arrived(t0 + secs(1), 1, 1);
    for s in 2..30 {
        sup.handle_timeout(t0 + secs(s));
    }
    assert!(
        actions(&mut sup).is_empty(),
        "no reissue, completion or reconnect while the engine may write the buffers"
    );
    // A late completion for an orphaned command is ignored.
    sup.finished(t0 + secs(30), 0, Judged::Done(4096));
    assert!(actions(&mut sup).is_empty());
    sup.drained(t0 + secs(30));
    assert_eq!(actions(&mut sup), [Action::Connect]);
    log_in(&mut sup, t0 + secs(31));
    assert_eq!(
        actions(&mut sup),
        [Action::Submit(1), Action::Submit(0), Action::Submit(3)]
    );
    assert_eq!(sup.stats().reconnects, 1);
}

#[test]
fn reconnects_back_off_by_a_second_per_attempt() {
    let (mut sup, t0) = up(1);
    fail_and_drain(&mut sup, t0);
    assert_eq!(
        actions(&mut sup),
        [Action::Connect],
        "first attempt at once"
    );
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..35 {
        sup.connect_failed(now);
        let due = sup.poll_timeout().unwrap();
        waits.push((due - now).as_secs());
        now = due;
        sup.handle_timeout(now);
        assert_eq!(actions(&mut sup), [Action::Connect]);
    }
    assert_eq!(&waits[..4], [1, 2, 3, 4]);
    assert_eq!(*waits.last().unwrap(), 30);
}

#[test]
fn the_replacement_timeout_fails_held_io_and_the_device_serves_again_later() {
    let (mut sup, t0) = up(4);
    submit(&mut sup, t0, 0);
    fail_and_drain(&mut sup, t0);
    assert_eq!(actions(&mut sup), [Action::Connect]);
    sup.connect_failed(t0);
    let mut now = t0;
    while now < t0 + secs(119) {
        now += secs(1);
        sup.handle_timeout(now);
        for action in actions(&mut sup) {
            assert_eq!(action, Action::Connect);
            sup.connect_failed(now);
        }
    }
    sup.handle_timeout(t0 + secs(120));
    let acts = actions(&mut sup);
    assert!(acts.contains(&complete(0, ENOLINK)), "{acts:?}");
    if acts.contains(&Action::Connect) {
        sup.connect_failed(t0 + secs(120));
    }
    // New requests fail at once during the outage...
    sup.request_arrived(t0 + secs(121), 2, 2);
    assert_eq!(actions(&mut sup), [complete(2, ENOLINK)]);
    // ...and go to the target again once it is back.
    let back = sup.poll_timeout().expect("a reconnect attempt is due");
    sup.handle_timeout(back);
    assert_eq!(actions(&mut sup), [Action::Connect]);
    log_in(&mut sup, back);
    sup.request_arrived(back, 3, 3);
    assert_eq!(actions(&mut sup), [Action::Submit(3)]);
}

#[test]
fn stopping_during_an_outage_fails_held_io_at_once_and_never_reconnects() {
    let (mut sup, t0) = up(4);
    submit(&mut sup, t0, 1);
    fail_and_drain(&mut sup, t0);
    sup.handle_timeout(t0 + secs(1));
    actions(&mut sup);
    sup.connect_failed(t0 + secs(1));
    sup.stop(t0 + secs(2));
    assert_eq!(actions(&mut sup), [complete(1, ENOLINK)]);
    sup.request_arrived(t0 + secs(2), 0, 0);
    assert_eq!(actions(&mut sup), [complete(0, ENOLINK)]);
    sup.handle_timeout(t0 + secs(600));
    assert!(actions(&mut sup).is_empty());
    assert!(sup.is_settled());
}

#[test]
fn stopping_while_connecting_drops_the_login_and_fails_held_io() {
    let (mut sup, t0) = up(2);
    submit(&mut sup, t0, 0);
    fail_and_drain(&mut sup, t0);
    assert_eq!(actions(&mut sup), [Action::Connect]);
    sup.stop(t0 + secs(1));
    assert_eq!(
        actions(&mut sup),
        [Action::Drop(DropReason::Stopping), complete(0, ENOLINK)]
    );
    sup.drained(t0 + secs(1));
    assert!(actions(&mut sup).is_empty());
    assert!(sup.is_settled());
}

#[test]
fn stopping_while_up_keeps_serving_but_holds_nothing_after_a_failure() {
    let (mut sup, t0) = up(2);
    submit(&mut sup, t0, 0);
    sup.stop(t0);
    assert!(
        actions(&mut sup).is_empty(),
        "the kernel drains what is in flight"
    );
    sup.request_arrived(t0, 1, 1);
    assert_eq!(actions(&mut sup), [Action::Submit(1)]);
    sup.submitted(1, Submitted::Taken);
    sup.path_failed(t0 + secs(1));
    sup.drained(t0 + secs(1));
    let acts = actions(&mut sup);
    assert_eq!(acts, [complete(0, ENOLINK), complete(1, ENOLINK)]);
    assert!(sup.is_settled());
}

#[test]
fn shutting_down_while_up_logs_out_and_stays_down() {
    let (mut sup, t0) = up(1);
    sup.shut_down(t0);
    assert_eq!(actions(&mut sup), [Action::Logout]);
    sup.logged_out(t0 + ms(3), Duration::ZERO);
    sup.drained(t0 + ms(3));
    sup.handle_timeout(t0 + secs(60));
    assert!(actions(&mut sup).is_empty());
    assert!(sup.is_settled());
}

#[test]
fn a_logout_request_logs_out_and_back_in_after_time2wait() {
    let (mut sup, t0) = up(2);
    submit(&mut sup, t0, 0);
    sup.logout_requested(t0);
    assert_eq!(actions(&mut sup), [Action::Logout]);
    sup.request_arrived(t0, 1, 1);
    assert!(actions(&mut sup).is_empty(), "held while logging out");
    sup.logged_out(t0 + ms(5), secs(2));
    sup.drained(t0 + ms(5));
    assert!(actions(&mut sup).is_empty());
    assert_eq!(sup.poll_timeout(), Some(t0 + ms(5) + secs(2)));
    sup.handle_timeout(t0 + ms(5) + secs(2));
    assert_eq!(actions(&mut sup), [Action::Connect]);
    log_in(&mut sup, t0 + secs(3));
    assert_eq!(actions(&mut sup), [Action::Submit(1), Action::Submit(0)]);
}

#[test]
fn target_will_drop_waits_time2wait_before_reconnecting() {
    let (mut sup, t0) = up(1);
    sup.target_will_drop(t0, secs(4));
    fail_and_drain(&mut sup, t0 + secs(1));
    assert!(actions(&mut sup).is_empty());
    assert_eq!(sup.poll_timeout(), Some(t0 + secs(4)));
    sup.handle_timeout(t0 + secs(4));
    assert_eq!(actions(&mut sup), [Action::Connect]);
}

#[test]
fn a_logout_that_hangs_drops_the_connection() {
    let (mut sup, t0) = up(1);
    sup.shut_down(t0);
    assert_eq!(actions(&mut sup), [Action::Logout]);
    sup.handle_timeout(t0 + secs(15));
    assert_eq!(actions(&mut sup), [Action::Drop(DropReason::LogoutTimeout)]);
}

#[test]
fn a_command_taken_by_a_connection_that_fails_at_once_is_reissued() {
    let (mut sup, t0) = up(2);
    submit(&mut sup, t0, 0);
    // Its PDUs could not be queued: the connection fails as it takes the command.
    sup.path_failed(t0);
    assert!(actions(&mut sup).is_empty(), "nothing before the drain");
    sup.drained(t0);
    assert_eq!(actions(&mut sup), [Action::Connect]);
    log_in(&mut sup, t0);
    assert_eq!(actions(&mut sup), [Action::Submit(0)]);
}

#[test]
fn refused_and_not_up_submissions() {
    let (mut sup, t0) = up(2);
    sup.request_arrived(t0, 0, 0);
    actions(&mut sup);
    sup.submitted(0, Submitted::Refused(-5));
    assert_eq!(actions(&mut sup), [complete(0, -5)]);
    sup.request_arrived(t0, 1, 1);
    actions(&mut sup);
    sup.submitted(1, Submitted::NotUp);
    assert_eq!(sup.held(), 1);
}

#[test]
fn timers_do_not_run_while_the_session_is_not_up() {
    let (mut sup, t0) = up(1);
    submit(&mut sup, t0, 0);
    sup.logout_requested(t0 + secs(1));
    actions(&mut sup);
    // The command's deadline passes during the logout: no abort on a session going away.
    sup.handle_timeout(t0 + secs(31));
    assert!(actions(&mut sup)
        .iter()
        .all(|a| !matches!(a, Action::AbortTask(_))));
}

#[test]
fn nothing_goes_to_a_session_until_its_lu_checks_out() {
    let t0 = Instant::now();
    let mut sup = Sup::new(2, Timeouts::default());
    sup.start(t0);
    actions(&mut sup);
    sup.request_arrived(t0, 0, 0);
    sup.logged_in(t0 + ms(2));
    assert_eq!(actions(&mut sup), [Action::VerifyLu]);
    assert!(!sup.is_up());
    sup.lu_verified(t0 + ms(4));
    assert_eq!(actions(&mut sup), [Action::Submit(0)]);
}

#[test]
fn a_different_lu_gets_no_request_and_held_io_fails_at_the_replacement_timeout() {
    let (mut sup, t0) = up(2);
    submit(&mut sup, t0, 0);
    fail_and_drain(&mut sup, t0);
    assert_eq!(actions(&mut sup), [Action::Connect]);
    let mut now = t0;
    let mut mismatches = 0;
    while now < t0 + secs(130) {
        sup.logged_in(now);
        assert_eq!(actions(&mut sup), [Action::VerifyLu]);
        sup.lu_mismatch(now);
        mismatches += 1;
        let acts = actions(&mut sup);
        assert_eq!(acts[0], Action::Drop(DropReason::WrongLu));
        assert!(!acts.iter().any(|a| matches!(a, Action::Submit(_))));
        sup.drained(now);
        let mut acts = actions(&mut sup);
        while !acts.contains(&Action::Connect) {
            now = sup.poll_timeout().unwrap();
            sup.handle_timeout(now);
            acts.extend(actions(&mut sup));
        }
        if now >= t0 + secs(120) {
            assert!(acts.contains(&complete(0, ENOLINK)), "{acts:?}");
            break;
        }
    }
    assert!(mismatches > 5);
}

#[test]
fn an_lu_check_that_hangs_drops_the_connection() {
    let t0 = Instant::now();
    let mut sup = Sup::new(1, Timeouts::default());
    sup.start(t0);
    actions(&mut sup);
    sup.logged_in(t0);
    assert_eq!(actions(&mut sup), [Action::VerifyLu]);
    sup.handle_timeout(t0 + secs(15));
    assert_eq!(actions(&mut sup), [Action::Drop(DropReason::VerifyTimeout)]);
}

#[test]
fn outages_are_timed_and_summed_for_the_status() {
    let (mut sup, t0) = up(2);
    assert_eq!(sup.phase(), PathPhase::Up);
    assert_eq!(sup.outage_started(), None);
    assert_eq!(sup.outages_ended(), Duration::ZERO);
    // First outage: 3 s.
    fail_and_drain(&mut sup, t0 + secs(1));
    assert_eq!(sup.outage_started(), Some(t0 + secs(1)));
    assert!(matches!(
        sup.phase(),
        PathPhase::Waiting | PathPhase::Connecting
    ));
    sup.handle_timeout(t0 + secs(4));
    actions(&mut sup);
    assert_eq!(sup.phase(), PathPhase::Connecting);
    log_in(&mut sup, t0 + secs(4));
    assert_eq!(sup.outage_started(), None);
    assert_eq!(sup.outages_ended(), secs(3));
    assert_eq!(sup.stats().reconnects, 1);
    // Second outage: 500 ms, added to the first.
    fail_and_drain(&mut sup, t0 + secs(10));
    sup.handle_timeout(t0 + secs(10) + ms(500));
    actions(&mut sup);
    log_in(&mut sup, t0 + secs(10) + ms(500));
    assert_eq!(sup.outages_ended(), ms(3500));
    assert_eq!(sup.stats().reconnects, 2);
}

#[test]
fn the_tags_a_lun_reset_covers_are_known() {
    let (mut sup, t0) = up(4);
    submit(&mut sup, t0, 1);
    submit(&mut sup, t0, 3);
    let timeouts = Timeouts::default();
    let t = t0 + timeouts.command;
    let without_pings = |sup: &mut Sup| -> Vec<Action<u32>> {
        actions(sup)
            .into_iter()
            .filter(|action| *action != Action::Ping)
            .collect()
    };
    // The target answers its pings throughout: only the commands are stuck.
    sup.ping_answered(t);
    sup.handle_timeout(t);
    assert_eq!(
        without_pings(&mut sup),
        [Action::AbortTask(1), Action::AbortTask(3)]
    );
    assert_eq!(sup.tags_in_reset().count(), 0);
    sup.ping_answered(t + timeouts.abort);
    sup.handle_timeout(t + timeouts.abort);
    assert_eq!(without_pings(&mut sup), [Action::LunReset]);
    assert_eq!(sup.tags_in_reset().collect::<Vec<_>>(), [1, 3]);
}
