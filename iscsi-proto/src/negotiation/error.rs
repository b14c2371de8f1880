//! Negotiation failures. Each names the key at fault so the login can report it.

use std::fmt;

use super::keys::Stage;
use super::value::{Special, ValueProblem};

/// Why an offer went unanswered in a usable way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The responder answered one of the special values.
    Answered(Special),
    /// The negotiation ended without an answer.
    NoAnswer,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Answered(special) => write!(f, "answered with {special}"),
            Self::NoAnswer => f.write_str("never answered"),
        }
    }
}

/// A negotiation that cannot go on: the login must fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    /// A value received from the peer does not fit its key.
    #[error("{key}={value:?} is invalid: the value {problem}")]
    InvalidValue {
        key: String,
        value: String,
        problem: ValueProblem,
    },
    /// A list answer is not one of the values we offered.
    #[error("{key}: the answer {answer:?} is not one of the values we offered ({offered:?})")]
    AnswerNotOffered {
        key: String,
        answer: String,
        offered: String,
    },
    /// A numerical-minimum answer is larger than our offer.
    #[error(
        "{key}: the answer {answer} exceeds our offer {offered} (the result function is minimum)"
    )]
    AnswerAboveOffer {
        key: String,
        answer: u64,
        offered: u64,
    },
    /// A numerical-maximum answer is smaller than our offer.
    #[error(
        "{key}: the answer {answer} is below our offer {offered} (the result function is maximum)"
    )]
    AnswerBelowOffer {
        key: String,
        answer: u64,
        offered: u64,
    },
    /// A Boolean-AND key answered Yes although we offered No.
    #[error("{key}: answered Yes although we offered No (the result function is AND)")]
    AndAnsweredYes { key: String },
    /// A Boolean-OR key answered No although we offered Yes.
    #[error("{key}: answered No although we offered Yes (the result function is OR)")]
    OrAnsweredNo { key: String },
    /// Our offer was refused and the RFC default is not acceptable in its place.
    #[error("{key}: our offer {offered:?} was {refusal} and the default is not acceptable")]
    Refused {
        key: String,
        offered: String,
        refusal: Refusal,
    },
    /// An answer was checked for a key that is declared, not negotiated.
    #[error("{key} is declared, not negotiated: it has no answer to check")]
    NotNegotiated { key: String },
    /// The target sent a key twice in one negotiation, or re-declared it with another value.
    #[error("{key} was sent more than once by the target")]
    Duplicate { key: String },
    /// The target sent a key only an initiator may send.
    #[error("{key} may only be sent by an initiator, but the target sent it")]
    NotATargetKey { key: String },
    /// The target sent a key that does not belong in the current stage.
    #[error("{key} is not allowed in the {stage} stage")]
    WrongStage { key: String, stage: Stage },
    /// Our own configuration cannot be offered.
    #[error("configured {key}={value} is invalid: the value {problem}")]
    InvalidConfig {
        key: String,
        value: String,
        problem: ValueProblem,
    },
}
