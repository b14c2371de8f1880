//! Errors for URLs and portals. None of them carries a password.

use std::fmt;

use thiserror::Error;

use crate::chap::CredentialRole;

/// What is wrong with an iSCSI URL or portal, naming the offending part.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    #[error("missing \"iscsi://\"")]
    MissingScheme,
    #[error("bad scheme \"{found}\" (expected \"iscsi\")")]
    BadScheme { found: String },
    #[error("missing host")]
    MissingHost,
    #[error("bad host \"{text}\"")]
    BadHost { text: String },
    #[error("IPv6 address \"{text}\" must be in brackets, as [{text}]")]
    UnbracketedIpv6 { text: String },
    #[error("unterminated IPv6 address \"{text}\" (missing ']')")]
    UnterminatedIpv6 { text: String },
    #[error("bad IPv6 address \"{text}\"")]
    BadIpv6 { text: String },
    #[error("bad port \"{text}\" (expected 1..=65535)")]
    BadPort { text: String },
    #[error("missing target name (iscsi://host/<target-iqn>/<lun>)")]
    MissingTarget,
    #[error("bad percent-encoding in \"{text}\"")]
    BadPercentEncoding { text: String },
    #[error("bad target name \"{text}\" (no spaces or control characters allowed)")]
    BadTarget { text: String },
    #[error("target name is {length} bytes long; iSCSI names are at most {max}")]
    TargetNameTooLong { length: usize, max: usize },
    #[error("missing LUN (iscsi://host/<target-iqn>/<lun>)")]
    MissingLun,
    #[error("bad LUN \"{text}\" (expected a decimal number)")]
    BadLun { text: String },
    #[error("LUN {text} is too large (at most {max})")]
    LunTooLarge { text: String, max: u64 },
    #[error("argument \"{name}\" has no value (expected {name}=…)")]
    MissingArgumentValue { name: String },
    #[error("unknown argument \"{name}\" (known: header_digest, data_digest, target_user, target_password)")]
    UnknownArgument { name: String },
    #[error("argument \"{name}\" given twice")]
    DuplicateArgument { name: String },
    #[error("bad {argument} \"{value}\" (expected crc32c or none)")]
    BadDigest {
        argument: &'static str,
        value: String,
    },
    #[error("{role} CHAP user given without a password ({hint})", hint = password_hint(.role))]
    MissingChapPassword { role: CredentialRole },
    #[error("{role} CHAP password given without a user name ({hint})", hint = user_hint(.role))]
    MissingChapUser { role: CredentialRole },
    #[error("target CHAP credentials (mutual CHAP) need initiator CHAP credentials too")]
    MutualWithoutInitiator,
    #[error("{field} contains a control character")]
    BadCredentialCharacter { field: CredentialField },
    #[error("{field} cannot be written in a URL: it is empty or contains one of {forbidden}")]
    UnrepresentableCredential {
        field: CredentialField,
        forbidden: &'static str,
    },
}

fn password_hint(role: &CredentialRole) -> &'static str {
    match role {
        CredentialRole::Initiator => "write user%password@host or set LIBISCSI_CHAP_PASSWORD",
        CredentialRole::Target => "add target_password= or set LIBISCSI_CHAP_TARGET_PASSWORD",
    }
}

fn user_hint(role: &CredentialRole) -> &'static str {
    match role {
        CredentialRole::Initiator => "write user%password@host or set LIBISCSI_CHAP_USERNAME",
        CredentialRole::Target => "add target_user= or set LIBISCSI_CHAP_TARGET_USERNAME",
    }
}

/// Which of the four CHAP strings an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialField {
    InitiatorUser,
    InitiatorPassword,
    TargetUser,
    TargetPassword,
}

impl fmt::Display for CredentialField {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            CredentialField::InitiatorUser => "initiator CHAP user",
            CredentialField::InitiatorPassword => "initiator CHAP password",
            CredentialField::TargetUser => "target CHAP user",
            CredentialField::TargetPassword => "target CHAP password",
        })
    }
}

/// A [`UrlError`] together with the input it was found in (passwords redacted), displayed as
/// `bad port "99999" in iscsi://host:99999/iqn.…/0`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{reason} in {input}")]
pub struct ParseError {
    /// The text that was parsed, with any password replaced by `<redacted>`.
    pub input: String,
    #[source]
    pub reason: UrlError,
}
