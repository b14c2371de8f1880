use super::*;

fn fixed_sense(key: u8, asc: u8, ascq: u8) -> Vec<u8> {
    let mut data = vec![0u8; 18];
    data[0] = 0x70;
    data[2] = key;
    data[7] = 10;
    data[12] = asc;
    data[13] = ascq;
    data
}

fn status(status: u8, sense: Option<Vec<u8>>, residual: Residual) -> TaskOutcome {
    TaskOutcome::Status {
        status,
        sense,
        residual,
    }
}

#[test]
fn good_reads_and_writes_return_bytes() {
    let good = status(0, None, Residual::None);
    assert_eq!(judge(PlanKind::Read, 4096, &good), Judged::Done(4096));
    assert_eq!(judge(PlanKind::Write, 512, &good), Judged::Done(512));
    assert_eq!(judge(PlanKind::Flush, 0, &good), Judged::Done(0));
    assert_eq!(judge(PlanKind::Discard, 24, &good), Judged::Done(0));
    assert_eq!(judge(PlanKind::WriteZeroes, 512, &good), Judged::Done(0));
}

#[test]
fn underflow_shortens_and_nothing_moved_is_eio() {
    let short = status(0, None, Residual::Underflow(1024));
    assert_eq!(judge(PlanKind::Read, 4096, &short), Judged::Done(3072));
    let empty = status(0, None, Residual::Underflow(4096));
    assert_eq!(judge(PlanKind::Read, 4096, &empty), Judged::Failed(-5));
    let over = status(0, None, Residual::Overflow(512));
    assert_eq!(judge(PlanKind::Write, 4096, &over), Judged::Done(4096));
}

#[test]
fn retryable_conditions() {
    let ua = status(2, Some(fixed_sense(0x06, 0x29, 0x00)), Residual::None);
    assert_eq!(judge(PlanKind::Read, 512, &ua), Judged::Retry { errno: -5 });
    let busy = status(0x08, None, Residual::None);
    assert_eq!(
        judge(PlanKind::Write, 512, &busy),
        Judged::Retry { errno: -5 }
    );
    let task_set_full = status(0x28, None, Residual::None);
    assert_eq!(
        judge(PlanKind::Write, 512, &task_set_full),
        Judged::Retry { errno: -5 }
    );
    assert_eq!(
        judge(PlanKind::Read, 512, &TaskOutcome::Aborted),
        Judged::Retry { errno: -5 }
    );
}

#[test]
fn failures_map_to_errnos() {
    let cases = [
        (fixed_sense(0x07, 0x27, 0x07), -28),
        (fixed_sense(0x03, 0x11, 0x00), -61),
        (fixed_sense(0x05, 0x24, 0x00), -121),
        (fixed_sense(0x05, 0x20, 0x00), -95),
        (fixed_sense(0x07, 0x27, 0x00), -30),
        (fixed_sense(0x02, 0x3a, 0x00), -5),
    ];
    for (sense, errno) in cases {
        let outcome = status(2, Some(sense), Residual::None);
        assert_eq!(judge(PlanKind::Write, 512, &outcome), Judged::Failed(errno));
    }
    let no_sense = status(2, None, Residual::None);
    assert_eq!(judge(PlanKind::Read, 512, &no_sense), Judged::Failed(-5));
    let garbage_sense = status(2, Some(vec![0x12, 0x34]), Residual::None);
    assert_eq!(
        judge(PlanKind::Read, 512, &garbage_sense),
        Judged::Failed(-5)
    );
    let conflict = status(0x18, None, Residual::None);
    assert_eq!(judge(PlanKind::Read, 512, &conflict), Judged::Failed(-52));
    assert_eq!(
        judge(
            PlanKind::Read,
            512,
            &TaskOutcome::TargetFailure { response: 1 }
        ),
        Judged::Failed(-5)
    );
    assert_eq!(
        judge(PlanKind::Read, 512, &TaskOutcome::Rejected { reason: 4 }),
        Judged::Failed(-5)
    );
}

#[test]
fn exhausted_retries() {
    let ua = status(2, Some(fixed_sense(0x06, 0x29, 0x00)), Residual::None);
    assert_eq!(exhausted(&ua), -5);
    let mut deferred_medium = fixed_sense(0x03, 0x11, 0x00);
    deferred_medium[0] = 0x71;
    assert_eq!(
        exhausted(&status(2, Some(deferred_medium), Residual::None)),
        -61
    );
    assert_eq!(exhausted(&status(0x08, None, Residual::None)), -5);
    assert_eq!(exhausted(&TaskOutcome::Aborted), -5);
}
