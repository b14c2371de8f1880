use super::*;

#[test]
fn reads_open_iscsi_file() {
    let dir = std::env::temp_dir().join(format!("ublk-cxgb3i-iname-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("initiatorname.iscsi");
    std::fs::write(
        &file,
        "## DO NOT EDIT\n#InitiatorName=iqn.commented\nInitiatorName=iqn.1993-08.org.debian:01:abc\n",
    )
    .unwrap();
    assert_eq!(
        from_open_iscsi_file(&file).as_deref(),
        Some("iqn.1993-08.org.debian:01:abc")
    );
    std::fs::write(&file, "# nothing\n").unwrap();
    assert_eq!(from_open_iscsi_file(&file), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn generated_names_are_valid_iqns() {
    assert_eq!(generated("Box_1"), "iqn.2026-11.org.ublk-cxgb3i:box-1");
}
