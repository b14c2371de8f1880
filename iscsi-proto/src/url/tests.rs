use super::*;
use crate::chap::CredentialRole;
use std::collections::HashMap;

fn parse(text: &str) -> IscsiUrl {
    text.parse()
        .unwrap_or_else(|error| panic!("{text}: {error}"))
}

fn reason(text: &str) -> UrlError {
    text.parse::<IscsiUrl>().unwrap_err().reason
}

fn plain(host: &str, port: u16, target: &str, lun: u64) -> IscsiUrl {
    IscsiUrl {
        host: host.to_owned(),
        port,
        target: target.to_owned(),
        lun,
        initiator_chap: None,
        target_chap: None,
        header_digest: None,
        data_digest: None,
    }
}

const IQN: &str = "iqn.2003-01.org.linux-iscsi.srv:disk1";

#[test]
fn minimal_url_uses_default_port() {
    assert_eq!(
        parse("iscsi://10.0.0.7/iqn.2003-01.org.linux-iscsi.srv:disk1/0"),
        plain("10.0.0.7", 3260, IQN, 0)
    );
}

#[test]
fn hosts_ports_and_ipv6() {
    assert_eq!(
        parse("iscsi://storage.example.com:3261/iqn.2003-01.org.linux-iscsi.srv:disk1/7"),
        plain("storage.example.com", 3261, IQN, 7)
    );
    let v6 = parse("iscsi://[::1]:3261/iqn.2003-01.org.linux-iscsi.srv:disk1/1");
    assert_eq!(v6, plain("::1", 3261, IQN, 1));
    assert_eq!(
        parse("iscsi://[fe80::1%eth0]/iqn.2003-01.org.linux-iscsi.srv:disk1/0").host,
        "fe80::1%eth0"
    );
}

#[test]
fn scheme_is_case_insensitive() {
    assert_eq!(
        parse("ISCSI://h/iqn.2003-01.org.linux-iscsi.srv:disk1/0"),
        plain("h", 3260, IQN, 0)
    );
}

#[test]
fn credentials_and_mutual_chap() {
    let url = parse(
        "iscsi://alice%50%off:x@10.0.0.7/iqn.2003-01.org.linux-iscsi.srv:disk1/3\
         ?target_user=iqn.tgt&target_password=p=q@r?s",
    );
    // Everything after the first '%' up to '@' is the password, literally.
    assert_eq!(
        url.initiator_chap,
        Some(ChapCredentials::new("alice", "50%off:x"))
    );
    assert_eq!(
        url.target_chap,
        Some(ChapCredentials::new("iqn.tgt", "p=q@r?s"))
    );
    assert_eq!(url.lun, 3);
}

#[test]
fn colon_separates_user_and_password_when_there_is_no_percent() {
    let url = parse("iscsi://alice:secret@h/iqn.2003-01.org.linux-iscsi.srv:disk1/0");
    assert_eq!(
        url.initiator_chap,
        Some(ChapCredentials::new("alice", "secret"))
    );
}

#[test]
fn user_and_password_are_not_percent_decoded_but_target_is() {
    let url = parse("iscsi://bob%p%41ss@h/iqn.2001-04.com.example:a%2Fb%3Fc/0");
    assert_eq!(
        url.initiator_chap,
        Some(ChapCredentials::new("bob", "p%41ss"))
    );
    assert_eq!(url.target, "iqn.2001-04.com.example:a/b?c");
}

#[test]
fn digests() {
    let url = parse(
        "iscsi://h/iqn.2003-01.org.linux-iscsi.srv:disk1/0?header_digest=crc32c&data_digest=NONE",
    );
    assert_eq!(url.header_digest, Some(DigestChoice::Crc32c));
    assert_eq!(url.data_digest, Some(DigestChoice::Disabled));
    assert_eq!(
        reason("iscsi://h/t/0?header_digest=md5"),
        UrlError::BadDigest {
            argument: "header_digest",
            value: "md5".into()
        }
    );
}

#[test]
fn empty_argument_pieces_are_skipped() {
    assert_eq!(
        parse("iscsi://h/iqn.2003-01.org.linux-iscsi.srv:disk1/0?&&"),
        plain("h", 3260, IQN, 0)
    );
}

#[test]
fn errors_point_at_the_bad_part() {
    let cases: Vec<(&str, UrlError)> = vec![
        ("h/t/0", UrlError::MissingScheme),
        (
            "http://h/t/0",
            UrlError::BadScheme {
                found: "http".into(),
            },
        ),
        (
            "iser://h/t/0",
            UrlError::BadScheme {
                found: "iser".into(),
            },
        ),
        ("iscsi:///t/0", UrlError::MissingHost),
        ("iscsi://h", UrlError::MissingTarget),
        ("iscsi://h/", UrlError::MissingTarget),
        ("iscsi://h//0", UrlError::MissingTarget),
        ("iscsi://h/t", UrlError::MissingLun),
        ("iscsi://h/t/", UrlError::MissingLun),
        ("iscsi://h/t/x", UrlError::BadLun { text: "x".into() }),
        ("iscsi://h/t/-1", UrlError::BadLun { text: "-1".into() }),
        ("iscsi://h/t/0/", UrlError::BadLun { text: "0/".into() }),
        (
            "iscsi://h/t/16384",
            UrlError::LunTooLarge {
                text: "16384".into(),
                max: MAX_LUN,
            },
        ),
        (
            "iscsi://h/t/99999999999999999999999",
            UrlError::LunTooLarge {
                text: "99999999999999999999999".into(),
                max: MAX_LUN,
            },
        ),
        (
            "iscsi://h:99999/t/0",
            UrlError::BadPort {
                text: "99999".into(),
            },
        ),
        ("iscsi://h:/t/0", UrlError::BadPort { text: "".into() }),
        (
            "iscsi://[::1/t/0",
            UrlError::UnterminatedIpv6 {
                text: "[::1".into(),
            },
        ),
        (
            "iscsi://::1/t/0",
            UrlError::UnbracketedIpv6 { text: "::1".into() },
        ),
        (
            "iscsi://[zz::1]/t/0",
            UrlError::BadIpv6 {
                text: "zz::1".into(),
            },
        ),
        ("iscsi://h h/t/0", UrlError::BadHost { text: "h h".into() }),
        (
            "iscsi://h/t%zz/0",
            UrlError::BadPercentEncoding {
                text: "t%zz".into(),
            },
        ),
        (
            "iscsi://h/a%20b/0",
            UrlError::BadTarget { text: "a b".into() },
        ),
        (
            "iscsi://h/t/0?lun=3",
            UrlError::UnknownArgument { name: "lun".into() },
        ),
        (
            "iscsi://h/t/0?iser",
            UrlError::MissingArgumentValue {
                name: "iser".into(),
            },
        ),
        (
            "iscsi://h/t/0?data_digest=none&data_digest=crc32c",
            UrlError::DuplicateArgument {
                name: "data_digest".into(),
            },
        ),
        (
            "iscsi://alice@h/t/0",
            UrlError::MissingChapPassword {
                role: CredentialRole::Initiator,
            },
        ),
        (
            "iscsi://%pw@h/t/0",
            UrlError::MissingChapUser {
                role: CredentialRole::Initiator,
            },
        ),
        (
            "iscsi://a%b@h/t/0?target_user=t",
            UrlError::MissingChapPassword {
                role: CredentialRole::Target,
            },
        ),
        (
            "iscsi://h/t/0?target_user=t&target_password=p",
            UrlError::MutualWithoutInitiator,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(reason(text), expected, "{text}");
    }
    let long_target = format!("iscsi://h/{}/0", "a".repeat(MAX_ISCSI_NAME_LEN + 1));
    assert_eq!(
        reason(&long_target),
        UrlError::TargetNameTooLong {
            length: MAX_ISCSI_NAME_LEN + 1,
            max: MAX_ISCSI_NAME_LEN
        }
    );
}

#[test]
fn error_messages_quote_the_input_without_passwords() {
    let error = "iscsi://alice%hunter2@host:99999/iqn.x/0?target_user=t&target_password=swordfish"
        .parse::<IscsiUrl>()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "bad port \"99999\" (expected 1..=65535) in iscsi://alice%<redacted>@host:99999/iqn.x/0\
         ?target_user=t&target_password=<redacted>"
    );
    let debug = format!("{error:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("swordfish"),
        "{debug}"
    );
}

#[test]
fn display_redacts_and_reparses() {
    let text = "iscsi://alice%hunter2@[::1]:3261/iqn.2001-04.com.example:a%2Fb/5\
                ?header_digest=crc32c&target_user=tgt&target_password=swordfish";
    let url = parse(text);
    let shown = url.to_string();
    assert_eq!(
        shown,
        "iscsi://alice%<redacted>@[::1]:3261/iqn.2001-04.com.example:a%2Fb/5\
         ?header_digest=crc32c&target_user=tgt&target_password=<redacted>"
    );
    assert!(!format!("{url:?}").contains("hunter2"));
    let reparsed = parse(&shown);
    assert_eq!(reparsed.target, url.target);
    assert_eq!(
        reparsed.initiator_chap.unwrap().secret.expose(),
        b"<redacted>"
    );
}

#[test]
fn without_secrets_keeps_the_user_names() {
    let url = parse(
        "iscsi://alice%hunter2@host/iqn.2026-11.x:y/3?data_digest=none&target_user=tgt&target_password=swordfish",
    );
    assert_eq!(
        url.to_string_without_secrets().unwrap(),
        "iscsi://alice@host:3260/iqn.2026-11.x:y/3?data_digest=none&target_user=tgt"
    );
    assert_eq!(
        plain("h", 3260, IQN, 0)
            .to_string_without_secrets()
            .unwrap(),
        format!("iscsi://h:3260/{IQN}/0")
    );
    let mut colon = plain("h", 3260, IQN, 0);
    colon.initiator_chap = Some(ChapCredentials::new("a:b", "pw"));
    let text = colon.to_string_without_secrets().unwrap();
    assert_eq!(text, format!("iscsi://a:b%@h:3260/{IQN}/0"));
    colon.initiator_chap = Some(ChapCredentials::new("a%b", "pw"));
    assert!(colon.to_string_without_secrets().is_err());
}

#[test]
fn a_password_without_its_at_sign_is_not_quoted_in_the_error() {
    let error =
        IscsiUrl::parse_with_env("iscsi://alice%s3cret/iqn.2026-11.x:y/0", |_| None).unwrap_err();
    let shown = error.to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert_eq!(
        shown,
        "bad host \"alice%<redacted>\" in iscsi://alice%<redacted>/iqn.2026-11.x:y/0"
    );
}

#[test]
fn to_string_without_secrets_refuses_a_user_name_that_would_not_reparse() {
    let mut url = plain("h", 3260, IQN, 0);
    url.initiator_chap = Some(ChapCredentials::new("a%b", "pw"));
    assert_eq!(
        url.to_string_without_secrets(),
        Err(UrlError::UnrepresentableCredential {
            field: CredentialField::InitiatorUser,
            forbidden: "%@?"
        })
    );
}

#[test]
fn environment_fills_missing_credentials() {
    let env: HashMap<&str, &str> = [
        (env_vars::CHAP_USERNAME, "env-user"),
        (env_vars::CHAP_PASSWORD, "env-secret"),
        (env_vars::CHAP_TARGET_USERNAME, "env-tgt"),
        (env_vars::CHAP_TARGET_PASSWORD, "env-tgt-secret"),
    ]
    .into_iter()
    .collect();
    let lookup = |name: &str| env.get(name).map(|value| value.to_string());

    let url = IscsiUrl::parse_with_env("iscsi://h/t/0", lookup).unwrap();
    assert_eq!(
        url.initiator_chap,
        Some(ChapCredentials::new("env-user", "env-secret"))
    );
    assert_eq!(
        url.target_chap,
        Some(ChapCredentials::new("env-tgt", "env-tgt-secret"))
    );

    let url = IscsiUrl::parse_with_env("iscsi://alice%pw@h/t/0?target_user=tgt", lookup).unwrap();
    assert_eq!(
        url.initiator_chap,
        Some(ChapCredentials::new("alice", "pw"))
    );
    assert_eq!(
        url.target_chap,
        Some(ChapCredentials::new("tgt", "env-tgt-secret"))
    );

    // Without the environment the same URL is a plain one.
    assert_eq!(parse("iscsi://h/t/0").initiator_chap, None);
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9-]{0,10}(\\.[a-z0-9]{1,6}){0,3}",
            any::<Ipv4Addr>().prop_map(|address| address.to_string()),
            any::<Ipv6Addr>().prop_map(|address| address.to_string()),
        ]
    }

    /// Secrets all contain '#', which nothing else in a displayed URL can (a '#' in the
    /// target is written %23), so "no '#' in the display" means "no secret in the display".
    fn secret() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9%:/=!*]{0,8}#[a-zA-Z0-9%:/=!*#]{0,8}"
    }

    prop_compose! {
        fn credentials(user: &'static str, secret_text: BoxedStrategy<String>)
            (user in user, secret in secret_text) -> ChapCredentials {
            ChapCredentials::new(user, secret)
        }
    }

    fn url() -> impl Strategy<Value = IscsiUrl> {
        let digest = prop::option::of(prop_oneof![
            Just(DigestChoice::Disabled),
            Just(DigestChoice::Crc32c)
        ]);
        let chap = prop::option::of((
            credentials("[a-zA-Z0-9._:/-]{1,12}", secret().boxed()),
            prop::option::of(credentials("[a-zA-Z0-9._:@?=-]{1,12}", secret().boxed())),
        ));
        (
            host(),
            1u16..,
            "iqn\\.[0-9]{4}-[0-9]{2}\\.[a-z.]{1,10}:[a-zA-Z0-9:._/%?@&#=é~-]{1,20}",
            0..=MAX_LUN,
            chap,
            digest.clone(),
            digest,
        )
            .prop_map(
                |(host, port, target, lun, chap, header_digest, data_digest)| {
                    let (initiator_chap, target_chap) = match chap {
                        Some((initiator, target)) => (Some(initiator), target),
                        None => (None, None),
                    };
                    IscsiUrl {
                        host,
                        port,
                        target,
                        lun,
                        initiator_chap,
                        target_chap,
                        header_digest,
                        data_digest,
                    }
                },
            )
    }

    fn redacted(credentials: &Option<ChapCredentials>) -> Option<ChapCredentials> {
        credentials
            .as_ref()
            .map(|credentials| ChapCredentials::new(credentials.user.clone(), Secret::REDACTED))
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = text.parse::<IscsiUrl>();
            let _ = Portal::parse(&text);
        }

        #[test]
        fn url_shaped_text_never_panics(
            text in "(iscsi://)?[a-z%:@\\[\\]0-9/?&=.é]{0,40}",
        ) {
            let _ = IscsiUrl::parse_with_env(&text, |_| Some("x".into()));
            let _ = Portal::parse(&text);
        }

        #[test]
        fn without_secrets_round_trips_with_the_passwords_looked_up(url in url()) {
            let text = url.to_string_without_secrets().unwrap();
            prop_assert!(!text.contains('#'), "secret leaked: {}", text);
            let secret = |chap: &Option<ChapCredentials>| {
                chap.as_ref().map(|c| String::from_utf8(c.secret.expose().to_vec()).unwrap())
            };
            let (initiator, target) = (secret(&url.initiator_chap), secret(&url.target_chap));
            let reparsed = IscsiUrl::parse_with_env(&text, |name| match name {
                env_vars::CHAP_PASSWORD => initiator.clone(),
                env_vars::CHAP_TARGET_PASSWORD => target.clone(),
                _ => None,
            })
            .unwrap();
            prop_assert_eq!(reparsed, url);
        }

        #[test]
        fn display_redacts_and_round_trips_the_rest(url in url()) {
            let shown = url.to_string();
            prop_assert!(!shown.contains('#'), "secret leaked: {}", shown);
            let reparsed: IscsiUrl = shown.parse().unwrap();
            let expected = IscsiUrl {
                initiator_chap: redacted(&url.initiator_chap),
                target_chap: redacted(&url.target_chap),
                ..url.clone()
            };
            prop_assert_eq!(reparsed, expected);
        }

        #[test]
        fn portal_display_round_trips(host in host(), port in 1u16..) {
            let portal = Portal { host, port };
            prop_assert_eq!(Portal::parse(&portal.to_string()).unwrap(), portal);
        }
    }
}
