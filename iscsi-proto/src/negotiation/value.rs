//! Values of text keys: parsing against a key's [`ValueType`] and the special answers.

use std::fmt;

use super::keys::ValueType;

/// A negotiated or declared value, typed by its key's [`ValueType`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Number(u64),
    Boolean(bool),
    /// A word or free text, e.g. `CRC32C` or a target alias.
    Text(String),
}

impl fmt::Display for Value {
    /// The wire form: numbers in decimal, booleans as `Yes`/`No`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(number) => write!(f, "{number}"),
            Self::Boolean(true) => f.write_str("Yes"),
            Self::Boolean(false) => f.write_str("No"),
            Self::Text(text) => f.write_str(text),
        }
    }
}

/// The constant answers of RFC 7143 §6.2 that say a key could not be negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// The responder does not know the key.
    NotUnderstood,
    /// The key has no meaning in this session (e.g. MaxBurstLength in a discovery session).
    Irrelevant,
    /// The offered value is malformed or unacceptable.
    Reject,
}

impl Special {
    /// Recognises a special answer; any other value is an ordinary one.
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "NotUnderstood" => Some(Self::NotUnderstood),
            "Irrelevant" => Some(Self::Irrelevant),
            "Reject" => Some(Self::Reject),
            _ => None,
        }
    }

    /// The wire form.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::NotUnderstood => "NotUnderstood",
            Self::Irrelevant => "Irrelevant",
            Self::Reject => "Reject",
        }
    }
}

impl fmt::Display for Special {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a value does not fit its key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueProblem {
    #[error("is not a decimal or 0x-hexadecimal number below 2^64")]
    NotANumber,
    #[error("is outside the range {min}..={max}")]
    OutOfRange { min: u64, max: u64 },
    #[error("is not Yes or No")]
    NotBoolean,
    #[error("is not one of {allowed:?}")]
    NotAllowed { allowed: &'static [&'static str] },
    #[error("is longer than {max_len} bytes")]
    TooLong { max_len: usize },
    #[error("has an empty element")]
    EmptyElement,
}

/// A single list element or word is a simple-value: at most 255 bytes (RFC 7143 §6.1).
const MAX_SIMPLE_VALUE_LEN: usize = 255;

/// Parses one value (not a list) of the given type.
pub(crate) fn parse_value(value_type: &ValueType, raw: &str) -> Result<Value, ValueProblem> {
    match *value_type {
        ValueType::Boolean => match raw {
            "Yes" => Ok(Value::Boolean(true)),
            "No" => Ok(Value::Boolean(false)),
            _ => Err(ValueProblem::NotBoolean),
        },
        ValueType::Number { min, max } => {
            let number = parse_number(raw)?;
            if (min..=max).contains(&number) {
                Ok(Value::Number(number))
            } else {
                Err(ValueProblem::OutOfRange { min, max })
            }
        }
        ValueType::Word(allowed) => {
            if allowed.contains(&raw) {
                Ok(Value::Text(raw.to_owned()))
            } else {
                Err(ValueProblem::NotAllowed { allowed })
            }
        }
        ValueType::Text { max_len } => {
            if raw.len() > max_len {
                Err(ValueProblem::TooLong { max_len })
            } else {
                Ok(Value::Text(raw.to_owned()))
            }
        }
    }
}

/// Splits a list-of-values into its elements, keeping the sender's order of preference.
///
/// Elements outside a key's vocabulary are kept (the responder skips what it does not support),
/// but each must be a non-empty simple-value.
pub(crate) fn parse_list(raw: &str) -> Result<Vec<&str>, ValueProblem> {
    raw.split(',')
        .map(|element| {
            if element.is_empty() {
                Err(ValueProblem::EmptyElement)
            } else if element.len() > MAX_SIMPLE_VALUE_LEN {
                Err(ValueProblem::TooLong {
                    max_len: MAX_SIMPLE_VALUE_LEN,
                })
            } else {
                Ok(element)
            }
        })
        .collect()
}

/// Parses a numerical-value: a decimal-constant, or a hex-constant with a `0x`/`0X` prefix
/// (RFC 7143 §6.1). Signs, spaces and values of 2^64 or more are refused.
pub(crate) fn parse_number(raw: &str) -> Result<u64, ValueProblem> {
    let (digits, radix) = match raw.strip_prefix("0x").or_else(|| raw.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (raw, 10),
    };
    // from_str_radix alone would accept a leading '+'.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(ValueProblem::NotANumber);
    }
    u64::from_str_radix(digits, radix).map_err(|_| ValueProblem::NotANumber)
}

#[cfg(test)]
mod tests;
