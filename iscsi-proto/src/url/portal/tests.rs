use super::*;

fn portal(host: &str, port: u16) -> Portal {
    Portal {
        host: host.to_owned(),
        port,
    }
}

#[test]
fn parses_names_ipv4_and_ipv6() {
    assert_eq!(
        Portal::parse("storage.example.com").unwrap(),
        portal("storage.example.com", 3260)
    );
    assert_eq!(
        Portal::parse("10.0.0.7:3261").unwrap(),
        portal("10.0.0.7", 3261)
    );
    assert_eq!(Portal::parse("[::1]").unwrap(), portal("::1", 3260));
    assert_eq!(Portal::parse("[::1]:3261").unwrap(), portal("::1", 3261));
    assert_eq!(
        Portal::parse("[fe80::1%eth0]:3260").unwrap(),
        portal("fe80::1%eth0", 3260)
    );
}

#[test]
fn displays_with_brackets_for_ipv6() {
    assert_eq!(portal("::1", 3261).to_string(), "[::1]:3261");
    assert_eq!(
        portal("fe80::1%eth0", 3260).to_string(),
        "[fe80::1%eth0]:3260"
    );
    assert_eq!(portal("10.0.0.7", 3260).to_string(), "10.0.0.7:3260");
}

#[test]
fn errors_name_the_bad_part() {
    let reason = |text: &str| Portal::parse(text).unwrap_err().reason;
    assert_eq!(reason(""), UrlError::MissingHost);
    assert_eq!(reason(":3260"), UrlError::MissingHost);
    assert_eq!(
        reason("host:99999"),
        UrlError::BadPort {
            text: "99999".into()
        }
    );
    assert_eq!(reason("host:0"), UrlError::BadPort { text: "0".into() });
    assert_eq!(reason("host:"), UrlError::BadPort { text: "".into() });
    assert_eq!(reason("host:+80"), UrlError::BadPort { text: "+80".into() });
    assert_eq!(
        reason("[::1"),
        UrlError::UnterminatedIpv6 {
            text: "[::1".into()
        }
    );
    assert_eq!(reason("[::g]"), UrlError::BadIpv6 { text: "::g".into() });
    assert_eq!(
        reason("[fe80::1%]"),
        UrlError::BadIpv6 {
            text: "fe80::1%".into()
        }
    );
    assert_eq!(
        reason("[10.0.0.1]"),
        UrlError::BadIpv6 {
            text: "10.0.0.1".into()
        }
    );
    assert_eq!(
        reason("[::1]3260"),
        UrlError::BadHost {
            text: "[::1]3260".into()
        }
    );
    assert_eq!(
        reason("::1"),
        UrlError::UnbracketedIpv6 { text: "::1".into() }
    );
    assert_eq!(
        reason("fe80::1:3260"),
        UrlError::UnbracketedIpv6 {
            text: "fe80::1:3260".into()
        }
    );
    assert_eq!(
        reason("bad host"),
        UrlError::BadHost {
            text: "bad host".into()
        }
    );
    assert_eq!(
        Portal::parse("host:99999").unwrap_err().to_string(),
        r#"bad port "99999" (expected 1..=65535) in host:99999"#
    );
}
