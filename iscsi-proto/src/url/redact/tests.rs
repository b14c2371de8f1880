use super::*;

#[test]
fn hides_user_info_and_argument_passwords() {
    assert_eq!(
        redact_url_text("iscsi://alice%s3cr%et@host:99999/iqn/0?target_user=t&target_password=p&x"),
        "iscsi://alice%<redacted>@host:99999/iqn/0?target_user=t&target_password=<redacted>&x"
    );
    assert_eq!(
        redact_url_text("iscsi://alice:s3cret@host/iqn/0"),
        "iscsi://alice:<redacted>@host/iqn/0"
    );
}

#[test]
fn leaves_text_without_passwords_alone() {
    for text in [
        "iscsi://alice@host/iqn/0",
        "iscsi://host/iqn/0?header_digest=x",
        "",
        "no scheme",
    ] {
        assert_eq!(redact_url_text(text), text);
    }
}

#[test]
fn hides_a_password_whose_at_sign_is_missing() {
    assert_eq!(
        redact_url_text("iscsi://alice%s3cret/iqn/0"),
        "iscsi://alice%<redacted>/iqn/0"
    );
    assert_eq!(redact_host_text("alice%s3cret"), "alice%<redacted>");
    assert_eq!(redact_host_text("[fe80::1%25eth0]"), "[fe80::1%25eth0]");
    assert_eq!(redact_host_text("host"), "host");
}

#[test]
fn finds_each_password_and_whose_it_is() {
    let text = "--iscsi=iscsi://alice%s3cr%et@host/iqn/0?target_user=t&target_password=pw&x";
    let spans = password_spans(text);
    let found: Vec<(CredentialRole, &str)> = spans
        .iter()
        .map(|span| (span.role, &text[span.range.clone()]))
        .collect();
    assert_eq!(
        found,
        [
            (CredentialRole::Initiator, "s3cr%et"),
            (CredentialRole::Target, "pw")
        ]
    );
    let empty = password_spans("iscsi://alice%@host/iqn/0?target_password=");
    assert!(empty.iter().all(|span| span.range.is_empty()), "{empty:?}");
    assert_eq!(empty.len(), 2);
    assert!(password_spans("iscsi://alice@[fe80::1%25eth0]:3260/iqn/0").is_empty());
}

#[test]
fn handles_text_without_scheme() {
    assert_eq!(redact_url_text("a%b@c"), "a%<redacted>@c");
}
