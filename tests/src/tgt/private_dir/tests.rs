use super::PrivateDir;

#[test]
fn directories_are_distinct_private_and_removed_on_drop() {
    let first = PrivateDir::create().expect("create first");
    let second = PrivateDir::create().expect("create second");
    assert_ne!(first.path(), second.path());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(first.path()).expect("stat").permissions(),
    );
    assert_eq!(mode & 0o777, 0o700);
    std::fs::write(first.path().join("file"), b"x").expect("write");
    let removed = first.path().to_path_buf();
    drop(first);
    assert!(!removed.exists());
    assert!(second.path().is_dir());
}
