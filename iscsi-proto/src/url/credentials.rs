//! Where CHAP credentials come from: the URL first, then libiscsi's environment variables.
//!
//! As in libiscsi each of the four strings falls back on its own, so `iscsi://alice@host/…`
//! with `LIBISCSI_CHAP_PASSWORD` set is a complete login. An empty value counts as absent.
//! Unlike libiscsi, which silently drops half-given credentials and logs in without CHAP, a
//! user without a password (or the reverse) is an error here.

use crate::chap::{ChapCredentials, CredentialRole};

use super::{CredentialField, UrlError};

/// Environment variable names libiscsi reads, for callers that look them up.
pub mod env_vars {
    pub const CHAP_USERNAME: &str = "LIBISCSI_CHAP_USERNAME";
    pub const CHAP_PASSWORD: &str = "LIBISCSI_CHAP_PASSWORD";
    pub const CHAP_TARGET_USERNAME: &str = "LIBISCSI_CHAP_TARGET_USERNAME";
    pub const CHAP_TARGET_PASSWORD: &str = "LIBISCSI_CHAP_TARGET_PASSWORD";
}

/// Credentials as written in the URL, before the environment fills gaps.
#[derive(Default)]
pub(crate) struct UrlCredentials<'a> {
    pub initiator_user: Option<&'a str>,
    pub initiator_password: Option<&'a str>,
    pub target_user: Option<&'a str>,
    pub target_password: Option<&'a str>,
}

/// The initiator and (mutual) target credentials after the environment fallback.
pub(crate) struct ResolvedCredentials {
    pub initiator: Option<ChapCredentials>,
    pub target: Option<ChapCredentials>,
}

pub(crate) fn resolve(
    from_url: &UrlCredentials<'_>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<ResolvedCredentials, UrlError> {
    let initiator = resolve_role(
        CredentialRole::Initiator,
        pick(from_url.initiator_user, env, env_vars::CHAP_USERNAME),
        pick(from_url.initiator_password, env, env_vars::CHAP_PASSWORD),
    )?;
    let target = resolve_role(
        CredentialRole::Target,
        pick(from_url.target_user, env, env_vars::CHAP_TARGET_USERNAME),
        pick(
            from_url.target_password,
            env,
            env_vars::CHAP_TARGET_PASSWORD,
        ),
    )?;
    if target.is_some() && initiator.is_none() {
        return Err(UrlError::MutualWithoutInitiator);
    }
    Ok(ResolvedCredentials { initiator, target })
}

fn pick(
    from_url: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
    variable: &str,
) -> Option<String> {
    from_url
        .map(str::to_owned)
        .filter(|value| !value.is_empty())
        .or_else(|| env(variable).filter(|value| !value.is_empty()))
}

fn resolve_role(
    role: CredentialRole,
    user: Option<String>,
    password: Option<String>,
) -> Result<Option<ChapCredentials>, UrlError> {
    let (user_field, password_field) = match role {
        CredentialRole::Initiator => (
            CredentialField::InitiatorUser,
            CredentialField::InitiatorPassword,
        ),
        CredentialRole::Target => (CredentialField::TargetUser, CredentialField::TargetPassword),
    };
    match (user, password) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(UrlError::MissingChapPassword { role }),
        (None, Some(_)) => Err(UrlError::MissingChapUser { role }),
        (Some(user), Some(password)) => {
            // A control character (NUL above all) would corrupt the login text segment.
            for (field, value) in [(user_field, &user), (password_field, &password)] {
                if value.chars().any(char::is_control) {
                    return Err(UrlError::BadCredentialCharacter { field });
                }
            }
            Ok(Some(ChapCredentials::new(user, password)))
        }
    }
}

#[cfg(test)]
mod tests;
