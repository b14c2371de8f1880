use super::*;

const UNIT: &str = "\
[Unit]
Description=x %I
StartLimitBurst=20
StartLimitIntervalSec=0

[Service]
Type=notify
NotifyAccess=main
ExecStartPre=-/sbin/modprobe -q ublk_drv
ExecStart=/usr/sbin/ublk.cxgb3i service start %I
ExecStop=/usr/sbin/ublk.cxgb3i service stop %i
Restart=on-failure
RestartSec=2s
RestartPreventExitStatus=78 79
TimeoutStartSec=2min
; a comment
";

#[test]
fn our_template_parses_with_its_instance() {
    let service = Service::parse(UNIT, "db\\x2d1").unwrap();
    assert_eq!(service.service_type, "notify");
    assert_eq!(service.notify_access, "main");
    assert_eq!(
        service.exec_start_pre,
        [Command {
            argv: vec!["/sbin/modprobe".into(), "-q".into(), "ublk_drv".into()],
            ignore_failure: true
        }]
    );
    assert_eq!(
        service.exec_start.argv,
        ["/usr/sbin/ublk.cxgb3i", "service", "start", "db-1"]
    );
    assert_eq!(
        service.exec_stop[0].argv,
        ["/usr/sbin/ublk.cxgb3i", "service", "stop", "db\\x2d1"]
    );
    assert_eq!(service.restart, Restart::OnFailure);
    assert_eq!(service.restart_sec, Duration::from_secs(2));
    assert_eq!(service.timeout_start, Duration::from_secs(120));
    assert_eq!(service.timeout_stop, Duration::from_secs(90));
    assert_eq!(service.start_limit_burst, None);
    assert_eq!(service.restart_prevent_exit_status, [78, 79]);
    let limited = Service::parse(&UNIT.replace("StartLimitIntervalSec=0\n", ""), "x");
    assert_eq!(limited.unwrap().start_limit_burst, Some(20));
}

#[test]
fn spans_and_escapes() {
    assert_eq!(parse_span("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_span("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_span("5min"), Some(Duration::from_secs(300)));
    assert_eq!(parse_span("soon"), None);
    assert_eq!(unescape_instance("a\\x20b-c"), "a b/c");
    assert_eq!(unescape_instance("\\x2ehidden"), ".hidden");
    assert_eq!(unescape_instance("trailing\\x2"), "trailing\\x2");
}

#[test]
fn a_unit_without_exec_start_or_with_garbage_is_refused() {
    assert_eq!(
        Service::parse("[Service]\nType=notify\n", "x"),
        Err(UnitError::Missing("ExecStart"))
    );
    assert!(matches!(
        Service::parse("[Service]\nnonsense\n", "x"),
        Err(UnitError::Syntax { line: 2, .. })
    ));
    assert!(matches!(
        Service::parse("[Service]\nExecStart=/bin/true\nRestart=sometimes\n", "x"),
        Err(UnitError::Value { key: "Restart", .. })
    ));
    assert!(matches!(
        Service::parse("[Service]\nExecStart=/bin/sh -c 'a b'\n", "x"),
        Err(UnitError::Value {
            key: "ExecStart",
            ..
        })
    ));
}
