use super::*;

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

#[test]
fn takes_passwords_out_of_urls_only() {
    let mut args = os(&[
        "add",
        "-t",
        "cxgb3i",
        "iscsi://alice%s3cret-pw@127.0.0.1:3260/iqn.x:y/1?target_user=bob&target_password=t0p",
        "--initiator-name",
        "iqn.x:50%off",
    ]);
    let secrets = PipedSecrets::take_from(&mut args);
    assert_eq!(
        args[3],
        "iscsi://alice%@127.0.0.1:3260/iqn.x:y/1?target_user=bob&target_password="
    );
    assert_eq!(args[5], "iqn.x:50%off");
    assert_eq!(secrets.get(env_vars::CHAP_PASSWORD), Some("s3cret-pw"));
    assert_eq!(secrets.get(env_vars::CHAP_TARGET_PASSWORD), Some("t0p"));
    assert!(!format!("{secrets:?}").contains("s3cret"));

    let mut plain = os(&["add", "--iscsi=iscsi://alice@h/iqn.x:y/1"]);
    assert!(PipedSecrets::take_from(&mut plain).is_empty());
    assert_eq!(plain[1], "--iscsi=iscsi://alice@h/iqn.x:y/1");
}

#[test]
fn the_stripped_url_parses_back_with_the_piped_secrets() {
    let original = "iscsi://alice%s3cret-pw@h/iqn.x:y/1?target_user=bob&target_password=t0p";
    let mut args = os(&[original]);
    let secrets = PipedSecrets::take_from(&mut args);
    let mut bytes = Vec::new();
    secrets.write(&mut bytes).unwrap();
    let back = PipedSecrets::read(&bytes[..]).unwrap();
    let url = iscsi_proto::url::IscsiUrl::parse_with_env(args[0].to_str().unwrap(), |name| {
        back.get(name).map(str::to_owned)
    })
    .unwrap();
    assert_eq!(url, original.parse().unwrap());
}

#[test]
fn a_pipe_with_anything_else_is_refused() {
    assert!(PipedSecrets::read(&b"PATH=/bin\n"[..]).is_err());
    assert!(PipedSecrets::read(&b"garbage"[..]).is_err());
    assert!(PipedSecrets::read(&b""[..]).unwrap().is_empty());
}

#[test]
fn a_filled_pipe_reads_back() {
    let mut secrets = PipedSecrets::default();
    secrets
        .values
        .insert(env_vars::CHAP_PASSWORD, Zeroizing::new("pw".into()));
    let pipe = SecretPipe::filled(&secrets).unwrap();
    let back = PipedSecrets::read(File::from(pipe.read)).unwrap();
    assert_eq!(back.get(env_vars::CHAP_PASSWORD), Some("pw"));
}

#[test]
fn finds_the_argv_area() {
    let (start, end) = argv_area().unwrap();
    assert!(end > start);
    // SAFETY: as in `scrub_argv`: the argument area, only read.
    let area = unsafe { std::slice::from_raw_parts(start as *const u8, end - start) };
    let mut expected = Vec::new();
    for arg in std::env::args_os() {
        expected.extend_from_slice(arg.as_bytes());
        expected.push(0);
    }
    assert_eq!(area, &expected[..]);
    // A test binary's arguments hold no URL: nothing to overwrite.
    if std::env::args_os().all(|arg| !holds_url(arg.as_bytes())) {
        assert_eq!(scrub_argv().unwrap(), 0);
    }
}

#[test]
fn ranges_cover_only_passwords() {
    let arg = b"--iscsi=ISCSI://u%pw@h/iqn.x:y/1";
    let ranges = argument_password_ranges(arg);
    assert_eq!(ranges.len(), 1);
    assert_eq!(&arg[ranges[0].clone()], b"pw");
    assert!(argument_password_ranges(b"50%off@home").is_empty());
    assert!(argument_password_ranges(b"iscsi://u%@h/iqn.x:y/1").is_empty());
}
