//! Login failures: the target's status classes with human text, and protocol faults.

use crate::chap::ChapError;
use crate::negotiation::NegotiationError;
use crate::text::TextError;
use thiserror::Error;

/// Why a login did not reach full-feature phase.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoginError {
    #[error("target redirects the login ({}) to {}", if *.temporary { "temporarily" } else { "permanently" }, .addresses.join(", "))]
    Redirected {
        temporary: bool,
        addresses: Vec<String>,
    },
    #[error("login refused: {} (status class 0x{class:02x}, detail 0x{detail:02x})", status_text(*.class, *.detail))]
    Refused { class: u8, detail: u8 },
    #[error("target answered AuthMethod={answer} to our offer {offered}")]
    AuthMethod { offered: String, answer: String },
    #[error("CHAP: {0}")]
    Chap(#[from] ChapError),
    #[error("negotiation: {0}")]
    Negotiation(#[from] NegotiationError),
    #[error("login text: {0}")]
    Text(#[from] TextError),
    #[error("protocol error during login: {0}")]
    Protocol(String),
    #[error("login not finished after {0} request/response exchanges")]
    TooManyExchanges(u32),
    #[error("a normal session needs a target name")]
    MissingTargetName,
    #[error("mutual CHAP needs the initiator's own CHAP credentials too")]
    MutualWithoutInitiator,
}

/// RFC 7143 §11.13.5 status text.
pub(crate) fn status_text(class: u8, detail: u8) -> &'static str {
    match (class, detail) {
        (0, _) => "success",
        (1, 1) => "target moved temporarily",
        (1, 2) => "target moved permanently",
        (1, _) => "redirection",
        (2, 0) => "initiator error",
        (2, 1) => "authentication failed",
        (2, 2) => "authorization failure: this initiator may not access the target",
        (2, 3) => "target not found",
        (2, 4) => "target removed",
        (2, 5) => "unsupported iSCSI version",
        (2, 6) => "too many connections",
        (2, 7) => "missing parameter",
        (2, 8) => "cannot include this connection in the session",
        (2, 9) => "session type not supported",
        (2, 10) => "session does not exist",
        (2, 11) => "invalid request during login",
        (2, _) => "initiator error",
        (3, 0) => "target error",
        (3, 1) => "service unavailable",
        (3, 2) => "target out of resources",
        (3, _) => "target error",
        _ => "unknown login status",
    }
}
