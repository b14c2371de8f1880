//! iSCSI URLs as libiscsi writes them, and the portals inside them.
//!
//! ```text
//! iscsi://[<user>[%<password>]@]<host>[:<port>]/<target-iqn>/<lun>[?arg[&arg]*]
//! ```
//!
//! - `host` is a DNS name, an IPv4 address or an IPv6 address in brackets (`[::1]:3261`,
//!   `[fe80::1%eth0]`); the port defaults to 3260.
//! - Arguments: `header_digest=crc32c|none`, `data_digest=crc32c|none`, `target_user=`,
//!   `target_password=` (mutual CHAP). Unknown or repeated arguments are errors.
//! - The LUN is decimal, 0..=[`MAX_LUN`].
//!
//! Separators follow libiscsi's `iscsi_parse_url`, so URLs written for libiscsi mean the same
//! here: the URL is cut at the first `?`, user-info ends at the first `@`, and within it the
//! first `%` (or, failing that, the first `:`) separates user from password. Hence:
//!
//! - A user name cannot contain `%`, `@` or `?`. A password may contain `%` and `:` literally
//!   (`alice%50%off@host` is user `alice`, password `50%off`) but not `@` or `?`.
//! - User and password are **not** percent-decoded, as in libiscsi; `%41` in a password is the
//!   three characters `%41`. The target name **is** percent-decoded (`%2F` → `/`), strictly:
//!   a malformed escape is an error rather than libiscsi's silent garbage.
//! - Argument values are literal and cannot contain `&`.
//!
//! Credentials missing from the URL are looked up, one by one, in libiscsi's environment
//! variables through a lookup function the caller passes in ([`IscsiUrl::parse_with_env`]).
//!
//! [`IscsiUrl`]'s `Display` redacts passwords so a URL can be logged;
//! [`IscsiUrl::to_string_without_secrets`] leaves them out (the user names stay), for a record that must not hold them: parsed back
//! with [`IscsiUrl::parse_with_env`], the passwords come from the lookup.

mod credentials;
mod error;
mod percent;
mod portal;
mod redact;

use std::fmt;
use std::str::FromStr;

use crate::chap::{ChapCredentials, Secret};

pub use credentials::env_vars;
pub use error::{CredentialField, ParseError, UrlError};
pub use portal::Portal;
pub(crate) use portal::DEFAULT_PORT;
pub use redact::{password_spans, PasswordSpan};

pub(crate) use portal::{parse_host_port, write_host};

/// The largest LUN we accept: the top of SAM's single-level flat addressing (14 bits), which
/// covers every LUN tgtd and LIO hand out.
pub const MAX_LUN: u64 = 16383;

/// RFC 7143 §4.2.7.1: iSCSI names are at most 223 bytes.
pub(crate) const MAX_ISCSI_NAME_LEN: usize = 223;

const SCHEME: &str = "iscsi";

/// A digest the URL asks for. Absent from the URL means "use the default offer".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestChoice {
    /// `none`: no digest.
    Disabled,
    /// `crc32c`: CRC32C digest.
    Crc32c,
}

impl DigestChoice {
    /// The spelling in a URL argument.
    pub(crate) fn url_value(self) -> &'static str {
        match self {
            DigestChoice::Disabled => "none",
            DigestChoice::Crc32c => "crc32c",
        }
    }

    /// Accepts the URL spellings in any letter case.
    fn parse_url_value(argument: &'static str, value: &str) -> Result<Self, UrlError> {
        if value.eq_ignore_ascii_case("none") {
            Ok(DigestChoice::Disabled)
        } else if value.eq_ignore_ascii_case("crc32c") {
            Ok(DigestChoice::Crc32c)
        } else {
            Err(UrlError::BadDigest {
                argument,
                value: value.to_owned(),
            })
        }
    }
}

/// A parsed `iscsi://` URL: where to connect, which LU to serve, and how to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IscsiUrl {
    /// DNS name or IP address; an IPv6 literal is stored without brackets.
    pub host: String,
    pub port: u16,
    /// Target name (IQN/EUI/NAA), percent-decoded.
    pub target: String,
    pub lun: u64,
    /// Credentials we prove ourselves with.
    pub initiator_chap: Option<ChapCredentials>,
    /// Credentials the target must prove (mutual CHAP).
    pub target_chap: Option<ChapCredentials>,
    pub header_digest: Option<DigestChoice>,
    pub data_digest: Option<DigestChoice>,
}

impl FromStr for IscsiUrl {
    type Err = ParseError;

    /// Parses with no environment fallback.
    fn from_str(text: &str) -> Result<Self, ParseError> {
        IscsiUrl::parse_with_env(text, |_| None)
    }
}

impl IscsiUrl {
    /// Parses `text`, filling credentials the URL lacks from `env` (normally
    /// `|name| std::env::var(name).ok()`), which is asked for the [`env_vars`] names.
    pub fn parse_with_env(
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ParseError> {
        parse(text, &env).map_err(|reason| ParseError {
            input: redact::redact_url_text(text),
            reason: match reason {
                UrlError::BadHost { text } => UrlError::BadHost {
                    text: redact::redact_host_text(&text),
                },
                other => other,
            },
        })
    }

    /// The URL without its passwords: `user@host` (`user%@host` when the user name holds a
    /// `:`), and `target_user=` without `target_password=`. Parsing it back with a lookup
    /// that supplies the passwords ([`IscsiUrl::parse_with_env`]) gives this URL again. Fails on
    /// a user name the URL cannot carry.
    pub fn to_string_without_secrets(&self) -> Result<String, UrlError> {
        self.check_users_representable()?;
        Ok(UrlWriter {
            url: self,
            secrets: Secrets::Omitted,
        }
        .to_string())
    }

    fn check_users_representable(&self) -> Result<(), UrlError> {
        if let Some(initiator) = &self.initiator_chap {
            check_representable(
                initiator.user.as_bytes(),
                CredentialField::InitiatorUser,
                "%@?",
            )?;
        }
        if let Some(target) = &self.target_chap {
            check_representable(target.user.as_bytes(), CredentialField::TargetUser, "&")?;
        }
        Ok(())
    }
}

/// Writes with passwords as `<redacted>`; the result parses back to the same URL apart from
/// the passwords.
impl fmt::Display for IscsiUrl {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        UrlWriter {
            url: self,
            secrets: Secrets::Redacted,
        }
        .fmt(formatter)
    }
}

fn check_representable(
    value: &[u8],
    field: CredentialField,
    forbidden: &'static str,
) -> Result<(), UrlError> {
    let representable = std::str::from_utf8(value).is_ok_and(|text| {
        !text.is_empty()
            && !text
                .chars()
                .any(|c| c.is_control() || forbidden.contains(c))
    });
    if representable {
        Ok(())
    } else {
        Err(UrlError::UnrepresentableCredential { field, forbidden })
    }
}

/// How [`UrlWriter`] writes passwords.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Secrets {
    Redacted,
    Omitted,
}

struct UrlWriter<'a> {
    url: &'a IscsiUrl,
    secrets: Secrets,
}

impl UrlWriter<'_> {
    fn write_secret(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.secrets {
            Secrets::Redacted => formatter.write_str(Secret::REDACTED),
            Secrets::Omitted => Ok(()),
        }
    }
}

impl fmt::Display for UrlWriter<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.url;
        write!(formatter, "{SCHEME}://")?;
        if let Some(initiator) = &url.initiator_chap {
            formatter.write_str(&initiator.user)?;
            // Without a '%', the parser would take a ':' in the user name for the separator.
            if self.secrets != Secrets::Omitted || initiator.user.contains(':') {
                formatter.write_str("%")?;
                self.write_secret(formatter)?;
            }
            formatter.write_str("@")?;
        }
        write_host(formatter, &url.host)?;
        write!(formatter, ":{}/", url.port)?;
        percent::write_encoded(formatter, &url.target)?;
        write!(formatter, "/{}", url.lun)?;

        let mut separator = '?';
        let mut next_argument = |formatter: &mut fmt::Formatter<'_>, name: &str| {
            let written = write!(formatter, "{separator}{name}=");
            separator = '&';
            written
        };
        if let Some(digest) = url.header_digest {
            next_argument(formatter, arguments::HEADER_DIGEST)?;
            formatter.write_str(digest.url_value())?;
        }
        if let Some(digest) = url.data_digest {
            next_argument(formatter, arguments::DATA_DIGEST)?;
            formatter.write_str(digest.url_value())?;
        }
        if let Some(target) = &url.target_chap {
            next_argument(formatter, arguments::TARGET_USER)?;
            formatter.write_str(&target.user)?;
            if self.secrets != Secrets::Omitted {
                next_argument(formatter, arguments::TARGET_PASSWORD)?;
                self.write_secret(formatter)?;
            }
        }
        Ok(())
    }
}

/// URL argument names.
mod arguments {
    pub(crate) const HEADER_DIGEST: &str = "header_digest";
    pub(crate) const DATA_DIGEST: &str = "data_digest";
    pub(crate) const TARGET_USER: &str = "target_user";
    pub(crate) const TARGET_PASSWORD: &str = "target_password";
}

/// The `?…` part.
#[derive(Default)]
struct Arguments<'a> {
    header_digest: Option<DigestChoice>,
    data_digest: Option<DigestChoice>,
    target_user: Option<&'a str>,
    target_password: Option<&'a str>,
}

fn parse_arguments(query: &str) -> Result<Arguments<'_>, UrlError> {
    fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), UrlError> {
        if slot.replace(value).is_some() {
            return Err(UrlError::DuplicateArgument {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    let mut parsed = Arguments::default();
    // Empty pieces (`?`, `a=b&&c=d`) carry nothing and are skipped.
    for argument in query.split('&').filter(|argument| !argument.is_empty()) {
        let (name, value) =
            argument
                .split_once('=')
                .ok_or_else(|| UrlError::MissingArgumentValue {
                    name: argument.to_owned(),
                })?;
        match name {
            arguments::HEADER_DIGEST => set_once(
                &mut parsed.header_digest,
                name,
                DigestChoice::parse_url_value(arguments::HEADER_DIGEST, value)?,
            )?,
            arguments::DATA_DIGEST => set_once(
                &mut parsed.data_digest,
                name,
                DigestChoice::parse_url_value(arguments::DATA_DIGEST, value)?,
            )?,
            arguments::TARGET_USER => set_once(&mut parsed.target_user, name, value)?,
            arguments::TARGET_PASSWORD => set_once(&mut parsed.target_password, name, value)?,
            _ => {
                return Err(UrlError::UnknownArgument {
                    name: name.to_owned(),
                })
            }
        }
    }
    Ok(parsed)
}

fn parse(text: &str, env: &impl Fn(&str) -> Option<String>) -> Result<IscsiUrl, UrlError> {
    let (scheme, body) = text.split_once("://").ok_or(UrlError::MissingScheme)?;
    if !scheme.eq_ignore_ascii_case(SCHEME) {
        return Err(UrlError::BadScheme {
            found: scheme.to_owned(),
        });
    }
    let (location, arguments) = match body.split_once('?') {
        Some((location, query)) => (location, parse_arguments(query)?),
        None => (body, Arguments::default()),
    };
    let (user_info, location) = match location.split_once('@') {
        Some((user_info, rest)) => (Some(user_info), rest),
        None => (None, location),
    };
    let (initiator_user, initiator_password) = match user_info {
        None => (None, None),
        Some(user_info) => match user_info
            .split_once('%')
            .or_else(|| user_info.split_once(':'))
        {
            Some((user, password)) => (Some(user), Some(password)),
            None => (Some(user_info), None),
        },
    };

    let (authority, path) = location.split_once('/').ok_or(UrlError::MissingTarget)?;
    let (host, port) = parse_host_port(authority)?;
    if path.is_empty() {
        return Err(UrlError::MissingTarget);
    }
    let (target, lun) = path.split_once('/').ok_or(UrlError::MissingLun)?;
    let target = parse_target(target)?;
    let lun = parse_lun(lun)?;

    let resolved = credentials::resolve(
        &credentials::UrlCredentials {
            initiator_user,
            initiator_password,
            target_user: arguments.target_user,
            target_password: arguments.target_password,
        },
        env,
    )?;

    Ok(IscsiUrl {
        host,
        port: port.unwrap_or(DEFAULT_PORT),
        target,
        lun,
        initiator_chap: resolved.initiator,
        target_chap: resolved.target,
        header_digest: arguments.header_digest,
        data_digest: arguments.data_digest,
    })
}

fn parse_target(encoded: &str) -> Result<String, UrlError> {
    if encoded.is_empty() {
        return Err(UrlError::MissingTarget);
    }
    let target = percent::decode(encoded)?;
    if target.len() > MAX_ISCSI_NAME_LEN {
        return Err(UrlError::TargetNameTooLong {
            length: target.len(),
            max: MAX_ISCSI_NAME_LEN,
        });
    }
    if target.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(UrlError::BadTarget { text: target });
    }
    Ok(target)
}

fn parse_lun(text: &str) -> Result<u64, UrlError> {
    if text.is_empty() {
        return Err(UrlError::MissingLun);
    }
    if !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(UrlError::BadLun {
            text: text.to_owned(),
        });
    }
    let too_large = || UrlError::LunTooLarge {
        text: text.to_owned(),
        max: MAX_LUN,
    };
    // All digits, so the only way parse fails is overflow.
    let lun: u64 = text.parse().map_err(|_| too_large())?;
    if lun > MAX_LUN {
        return Err(too_large());
    }
    Ok(lun)
}

#[cfg(test)]
mod tests;
