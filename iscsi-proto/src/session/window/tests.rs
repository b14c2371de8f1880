use super::*;

#[test]
fn opens_closes_and_ignores_bogus_updates() {
    let mut w = CmdWindow::new(10, 10, 11);
    assert_eq!(w.room(), 2);
    assert_eq!(w.take(), Some(Sn(10)));
    assert_eq!(w.take(), Some(Sn(11)));
    assert_eq!(w.take(), None);
    // A stale (smaller) MaxCmdSN does not shrink the window.
    w.update(11, 9);
    assert_eq!(w.room(), 0);
    w.update(12, 20);
    assert_eq!(w.room(), 9);
    // MaxCmdSN < ExpCmdSN - 1 is invalid and ignored.
    w.update(30, 5);
    assert_eq!(w.room(), 9);
}

#[test]
fn zero_window_at_login_and_wrap() {
    let mut w = CmdWindow::new(u32::MAX, u32::MAX, u32::MAX - 1);
    assert_eq!(w.room(), 0);
    w.update(u32::MAX, 2);
    assert_eq!(w.room(), 4);
    assert_eq!(w.take(), Some(Sn(u32::MAX)));
    assert_eq!(w.take(), Some(Sn(0)));
}
