//! Finding passwords in URL text, valid or not: to hide them in an error that quotes the input,
//! to take them out of a command line, and to overwrite them in the process's own argv.

use std::ops::Range;

use crate::chap::{CredentialRole, Secret};

/// Where one password is in a URL's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSpan {
    /// Whose password it is: the initiator's (`user%password@`) or the target's
    /// (`target_password=`, mutual CHAP).
    pub role: CredentialRole,
    /// Its bytes in the text (possibly empty: `user%@host`).
    pub range: Range<usize>,
}

/// The passwords in `input`: the one in `user%password@` (or `user:password@`) and the value
/// of any `…password=` argument. Uses the parser's separators, so whatever the parser would
/// take as a password is found, also in text that is not a valid URL; text before the
/// scheme (`--iscsi=iscsi://…`) is skipped over with it.
pub fn password_spans(input: &str) -> Vec<PasswordSpan> {
    let body_start = input.find("://").map_or(0, |scheme_end| scheme_end + 3);
    let body = &input[body_start..];
    let (location, query_start) = match body.find('?') {
        Some(question) => (&body[..question], Some(body_start + question + 1)),
        None => (body, None),
    };
    let mut spans = Vec::new();
    match location.find('@') {
        Some(at) => {
            let user_info = &location[..at];
            if let Some(separator) = user_info.find('%').or_else(|| user_info.find(':')) {
                spans.push(PasswordSpan {
                    role: CredentialRole::Initiator,
                    range: body_start + separator + 1..body_start + at,
                });
            }
        }
        // No '@': `user%password/iqn/0` would parse as a host named `user%password`; what
        // follows a '%' in the authority is taken for a password (no host name or port holds
        // one, and a bracketed IPv6 zone is written `%25` inside the brackets, which this
        // leaves alone).
        None => {
            let authority = &location[..location.find('/').unwrap_or(location.len())];
            if let Some(separator) = host_password_separator(authority) {
                spans.push(PasswordSpan {
                    role: CredentialRole::Initiator,
                    range: body_start + separator + 1..body_start + authority.len(),
                });
            }
        }
    }
    if let Some(mut start) = query_start {
        for argument in input[start..].split('&') {
            if let Some((name, _)) = argument.split_once('=') {
                if name.to_ascii_lowercase().contains("password") {
                    spans.push(PasswordSpan {
                        role: CredentialRole::Target,
                        range: start + name.len() + 1..start + argument.len(),
                    });
                }
            }
            start += argument.len() + 1;
        }
    }
    spans
}

fn host_password_separator(host: &str) -> Option<usize> {
    if host.starts_with('[') {
        None
    } else {
        host.find('%')
    }
}

/// `input` with every password replaced by `<redacted>`.
pub(crate) fn redact_url_text(input: &str) -> String {
    let mut redacted = String::with_capacity(input.len());
    let mut copied = 0;
    for span in password_spans(input) {
        redacted.push_str(&input[copied..span.range.start]);
        redacted.push_str(Secret::REDACTED);
        copied = span.range.end;
    }
    redacted.push_str(&input[copied..]);
    redacted
}

/// `host` text as an error may quote it: anything after a '%' outside IPv6 brackets is taken
/// for a password written without its '@' and replaced with `<redacted>`.
pub(crate) fn redact_host_text(host: &str) -> String {
    match host_password_separator(host) {
        Some(separator) => format!("{}{}", &host[..=separator], Secret::REDACTED),
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests;
