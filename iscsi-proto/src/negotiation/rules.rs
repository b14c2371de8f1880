//! The per-key result functions of RFC 7143 §6.2, usable from either side of an exchange:
//! [`respond`] computes a responder's answer, [`check_answer`] checks it on the offerer's side.
//!
//! Values are passed in wire syntax, so a side's own preference is expressed exactly as it
//! would offer it (e.g. `"CRC32C,None"`, `"262144"`, `"Yes"`).

use super::error::{NegotiationError, Refusal};
use super::keys::{KeyDef, NegotiationKind};
use super::value::{parse_list, parse_value, Special, Value, ValueProblem};

/// The responder's conclusion about a key the peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Answer `key=<value>`; the value is also the negotiated result.
    Answer(Value),
    /// Answer `key=Reject`: the offer is malformed, obsolete or has nothing acceptable to us; the
    /// key keeps its default.
    Reject,
    /// Nothing to answer: the peer declared a value of its own.
    Declared(Value),
}

/// Computes the responder's reply to `offered`, given the values the responder itself accepts
/// (`ours`, in the same syntax as an offer: for a list key, every value it supports).
///
/// Malformed or out-of-range offers of negotiated keys are answered `Reject` (RFC 7143 §6.2); so
/// is everything when `ours` is itself not a valid value, since then nothing is acceptable. An
/// invalid declaration cannot be rejected by an answer, so it is an error.
pub(crate) fn respond(def: &KeyDef, offered: &str, ours: &str) -> Result<Reply, NegotiationError> {
    let reply = match def.kind {
        NegotiationKind::Declarative | NegotiationKind::Informational => {
            return parse_value(&def.value_type, offered)
                .map(Reply::Declared)
                .map_err(|problem| invalid(def, offered, problem));
        }
        NegotiationKind::Obsolete => None,
        NegotiationKind::List => first_common(offered, ours).map(|value| Value::Text(value.into())),
        NegotiationKind::NumericalMin => {
            numbers(def, offered, ours).map(|(theirs, ours)| Value::Number(theirs.min(ours)))
        }
        NegotiationKind::NumericalMax => {
            numbers(def, offered, ours).map(|(theirs, ours)| Value::Number(theirs.max(ours)))
        }
        NegotiationKind::BooleanAnd => {
            booleans(def, offered, ours).map(|(theirs, ours)| Value::Boolean(theirs && ours))
        }
        NegotiationKind::BooleanOr => {
            booleans(def, offered, ours).map(|(theirs, ours)| Value::Boolean(theirs || ours))
        }
    };
    Ok(reply.map_or(Reply::Reject, Reply::Answer))
}

/// Checks the responder's `answer` to our `offered` value and returns the negotiated result.
///
/// A special answer leaves the key at its RFC default: always for `Irrelevant` (the key has no
/// effect), and for `Reject` or `NotUnderstood` only if the default is something we would have
/// accepted as an answer; otherwise the negotiation fails with [`NegotiationError::Refused`].
pub(crate) fn check_answer(
    def: &KeyDef,
    offered: &str,
    answer: &str,
) -> Result<Value, NegotiationError> {
    if !def.kind.is_negotiated() {
        return Err(NegotiationError::NotNegotiated {
            key: def.name.into(),
        });
    }
    match Special::parse(answer) {
        Some(special) => fallback(def, offered, Refusal::Answered(special)),
        None => check_plain_answer(def, offered, answer),
    }
}

/// The result when the responder stays silent, which RFC 7143 §6.2 allows in exactly two cases:
/// an AND key offered No (the result is No) and an OR key offered Yes (the result is Yes).
/// `None` means an answer is required (or the key is not negotiated at all).
pub(crate) fn result_without_answer(def: &KeyDef, offered: &str) -> Option<Value> {
    let implied = match (def.kind, offered) {
        (NegotiationKind::BooleanAnd, "No") => false,
        (NegotiationKind::BooleanOr, "Yes") => true,
        _ => return None,
    };
    Some(Value::Boolean(implied))
}

/// The value a negotiated key takes when our offer got no usable answer: the RFC default when the
/// refusal is `Irrelevant` or when the default would have been an acceptable answer.
pub(crate) fn fallback(
    def: &KeyDef,
    offered: &str,
    refusal: Refusal,
) -> Result<Value, NegotiationError> {
    let refused = || NegotiationError::Refused {
        key: def.name.into(),
        offered: offered.into(),
        refusal,
    };
    let default = def.default.ok_or_else(refused)?;
    if refusal == Refusal::Answered(Special::Irrelevant) {
        return parse_value(&def.value_type, default).map_err(|_| refused());
    }
    check_plain_answer(def, offered, default).map_err(|_| refused())
}

/// Checks an ordinary (non-special) answer against the result function of a negotiated key.
fn check_plain_answer(
    def: &KeyDef,
    offered: &str,
    answer: &str,
) -> Result<Value, NegotiationError> {
    let key = || def.name.to_string();
    match def.kind {
        NegotiationKind::List => {
            let ours = parse_list(offered).map_err(|problem| invalid(def, offered, problem))?;
            if ours.contains(&answer) {
                Ok(Value::Text(answer.into()))
            } else {
                Err(NegotiationError::AnswerNotOffered {
                    key: key(),
                    answer: answer.into(),
                    offered: offered.into(),
                })
            }
        }
        NegotiationKind::NumericalMin | NegotiationKind::NumericalMax => {
            let ours = number(def, offered)?;
            let theirs = number(def, answer)?;
            match def.kind {
                NegotiationKind::NumericalMin if theirs > ours => {
                    Err(NegotiationError::AnswerAboveOffer {
                        key: key(),
                        answer: theirs,
                        offered: ours,
                    })
                }
                NegotiationKind::NumericalMax if theirs < ours => {
                    Err(NegotiationError::AnswerBelowOffer {
                        key: key(),
                        answer: theirs,
                        offered: ours,
                    })
                }
                _ => Ok(Value::Number(theirs)),
            }
        }
        NegotiationKind::BooleanAnd | NegotiationKind::BooleanOr => {
            let ours = boolean(def, offered)?;
            let theirs = boolean(def, answer)?;
            match def.kind {
                NegotiationKind::BooleanAnd if theirs && !ours => {
                    Err(NegotiationError::AndAnsweredYes { key: key() })
                }
                NegotiationKind::BooleanOr if ours && !theirs => {
                    Err(NegotiationError::OrAnsweredNo { key: key() })
                }
                _ => Ok(Value::Boolean(theirs)),
            }
        }
        NegotiationKind::Declarative
        | NegotiationKind::Informational
        | NegotiationKind::Obsolete => Err(NegotiationError::NotNegotiated { key: key() }),
    }
}

/// The first value of the offer, in the offerer's order, that `ours` also lists.
fn first_common<'a>(offered: &'a str, ours: &str) -> Option<&'a str> {
    let offered = parse_list(offered).ok()?;
    let ours = parse_list(ours).ok()?;
    // A special word (NotUnderstood, Irrelevant, Reject) answered would mean just that, so
    // it is never selected as a value.
    offered
        .into_iter()
        .find(|value| Special::parse(value).is_none() && ours.contains(value))
}

/// Both sides' numbers, or `None` if either is not a valid value for the key.
fn numbers(def: &KeyDef, offered: &str, ours: &str) -> Option<(u64, u64)> {
    Some((number(def, offered).ok()?, number(def, ours).ok()?))
}

/// Both sides' booleans, or `None` if either is not `Yes`/`No`.
fn booleans(def: &KeyDef, offered: &str, ours: &str) -> Option<(bool, bool)> {
    Some((boolean(def, offered).ok()?, boolean(def, ours).ok()?))
}

fn number(def: &KeyDef, raw: &str) -> Result<u64, NegotiationError> {
    match parse_value(&def.value_type, raw) {
        Ok(Value::Number(number)) => Ok(number),
        Ok(_) => Err(invalid(def, raw, ValueProblem::NotANumber)),
        Err(problem) => Err(invalid(def, raw, problem)),
    }
}

fn boolean(def: &KeyDef, raw: &str) -> Result<bool, NegotiationError> {
    match parse_value(&def.value_type, raw) {
        Ok(Value::Boolean(boolean)) => Ok(boolean),
        Ok(_) => Err(invalid(def, raw, ValueProblem::NotBoolean)),
        Err(problem) => Err(invalid(def, raw, problem)),
    }
}

fn invalid(def: &KeyDef, value: &str, problem: ValueProblem) -> NegotiationError {
    NegotiationError::InvalidValue {
        key: def.name.into(),
        value: value.into(),
        problem,
    }
}
