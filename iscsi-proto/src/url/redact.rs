//! Hiding passwords in URL text that failed to parse, so the error can quote the input.

use crate::chap::Secret;

/// Replaces the password in `user%password@` (or `user:password@`) and the value of any
/// `…password=` argument with `<redacted>`. Works on text that is not a valid URL, using the
/// same separators as the parser so that whatever the parser would take as a password is hidden.
pub(crate) fn redact_url_text(input: &str) -> String {
    let body_start = input.find("://").map_or(0, |scheme_end| scheme_end + 3);
    let (head, body) = input.split_at(body_start);
    let (location, query) = match body.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (body, None),
    };

    let mut redacted = String::with_capacity(input.len());
    redacted.push_str(head);
    match location.split_once('@') {
        Some((user_info, after)) => {
            match user_info.find('%').or_else(|| user_info.find(':')) {
                Some(separator) => {
                    redacted.push_str(&user_info[..=separator]);
                    redacted.push_str(Secret::REDACTED);
                }
                None => redacted.push_str(user_info),
            }
            redacted.push('@');
            redacted.push_str(after);
        }
        // No '@': `user%password/iqn/0` would parse as a host named `user%password`; hide what
        // follows a '%' in the authority (no host name or port holds one, and a bracketed IPv6
        // zone is written `%25` inside the brackets, which this leaves alone).
        None => {
            let authority_end = location.find('/').unwrap_or(location.len());
            let (authority, path) = location.split_at(authority_end);
            redacted.push_str(&redact_host_text(authority));
            redacted.push_str(path);
        }
    }

    if let Some(query) = query {
        redacted.push('?');
        for (index, argument) in query.split('&').enumerate() {
            if index > 0 {
                redacted.push('&');
            }
            match argument.split_once('=') {
                Some((name, _)) if name.to_ascii_lowercase().contains("password") => {
                    redacted.push_str(name);
                    redacted.push('=');
                    redacted.push_str(Secret::REDACTED);
                }
                _ => redacted.push_str(argument),
            }
        }
    }
    redacted
}

/// `host` text as an error may quote it: anything after a '%' outside IPv6 brackets is taken
/// for a password written without its '@' and replaced with `<redacted>`.
pub(crate) fn redact_host_text(host: &str) -> String {
    if host.starts_with('[') {
        return host.to_owned();
    }
    match host.find('%') {
        Some(separator) => format!("{}{}", &host[..=separator], Secret::REDACTED),
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_user_info_and_argument_passwords() {
        assert_eq!(
            redact_url_text(
                "iscsi://alice%s3cr%et@host:99999/iqn/0?target_user=t&target_password=p&x"
            ),
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
    fn handles_text_without_scheme() {
        assert_eq!(redact_url_text("a%b@c"), "a%<redacted>@c");
    }
}
