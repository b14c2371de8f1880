use super::*;

#[test]
fn secret_never_prints() {
    let credentials = ChapCredentials::new("alice", "hunter2hunter2");
    assert_eq!(format!("{}", credentials.secret), "<redacted>");
    assert_eq!(format!("{:?}", credentials.secret), "<redacted>");
    let debug = format!("{credentials:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("alice"), "{debug}");
    assert_eq!(credentials.secret.expose(), b"hunter2hunter2");
}

#[test]
fn constant_time_eq_compares_contents_and_length() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
    assert!(constant_time_eq(b"", b""));
    assert_eq!(Secret::new("x"), Secret::new("x"));
    assert_ne!(Secret::new("x"), Secret::new("y"));
}
