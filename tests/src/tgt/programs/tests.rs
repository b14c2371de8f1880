use super::locate;

#[test]
fn missing_program_names_the_fix() {
    let error = locate("no-such-tgt-program").expect_err("must not be found");
    assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
    assert!(error
        .to_string()
        .starts_with("no-such-tgt-program not found: run scripts/install-deps"));
}
