use super::*;

#[test]
fn syslog_text_is_plain() {
    assert_eq!(
        plain_text(b"\x1b[32m INFO\x1b[0m queue=0 up\n"),
        b" INFO queue=0 up"
    );
    assert_eq!(plain_text(b"a\0b"), b"ab");
}
