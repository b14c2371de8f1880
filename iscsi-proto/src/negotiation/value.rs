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
mod tests {
    use super::*;

    #[test]
    fn numbers_in_decimal_and_hex() {
        assert_eq!(parse_number("0"), Ok(0));
        assert_eq!(parse_number("262144"), Ok(262_144));
        assert_eq!(parse_number("0x40000"), Ok(262_144));
        assert_eq!(parse_number("0XfF"), Ok(255));
        assert_eq!(parse_number("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn malformed_numbers() {
        for raw in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "0x",
            "0x+1",
            "abc",
            "18446744073709551616",
        ] {
            assert_eq!(parse_number(raw), Err(ValueProblem::NotANumber), "{raw:?}");
        }
    }

    #[test]
    fn number_range_is_inclusive() {
        let range = ValueType::Number {
            min: 512,
            max: 16_777_215,
        };
        assert_eq!(parse_value(&range, "512"), Ok(Value::Number(512)));
        assert_eq!(
            parse_value(&range, "16777215"),
            Ok(Value::Number(16_777_215))
        );
        assert_eq!(
            parse_value(&range, "511"),
            Err(ValueProblem::OutOfRange {
                min: 512,
                max: 16_777_215
            })
        );
        assert_eq!(
            parse_value(&range, "16777216"),
            Err(ValueProblem::OutOfRange {
                min: 512,
                max: 16_777_215
            })
        );
    }

    #[test]
    fn booleans_are_case_sensitive() {
        assert_eq!(
            parse_value(&ValueType::Boolean, "Yes"),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            parse_value(&ValueType::Boolean, "No"),
            Ok(Value::Boolean(false))
        );
        assert_eq!(
            parse_value(&ValueType::Boolean, "yes"),
            Err(ValueProblem::NotBoolean)
        );
    }

    #[test]
    fn words_and_text() {
        let words = ValueType::Word(&["Discovery", "Normal"]);
        assert_eq!(
            parse_value(&words, "Normal"),
            Ok(Value::Text("Normal".into()))
        );
        assert_eq!(
            parse_value(&words, "normal"),
            Err(ValueProblem::NotAllowed {
                allowed: &["Discovery", "Normal"]
            })
        );
        let text = ValueType::Text { max_len: 4 };
        assert_eq!(parse_value(&text, "disk"), Ok(Value::Text("disk".into())));
        assert_eq!(
            parse_value(&text, "disk0"),
            Err(ValueProblem::TooLong { max_len: 4 })
        );
    }

    #[test]
    fn lists_keep_order_and_refuse_empty_elements() {
        assert_eq!(parse_list("CRC32C,None"), Ok(vec!["CRC32C", "None"]));
        assert_eq!(parse_list("None"), Ok(vec!["None"]));
        assert_eq!(parse_list("CRC32C,,None"), Err(ValueProblem::EmptyElement));
        assert_eq!(parse_list(""), Err(ValueProblem::EmptyElement));
        let long = "x".repeat(256);
        assert_eq!(
            parse_list(&long),
            Err(ValueProblem::TooLong { max_len: 255 })
        );
    }

    #[test]
    fn values_print_in_wire_form() {
        assert_eq!(Value::Number(8192).to_string(), "8192");
        assert_eq!(Value::Boolean(true).to_string(), "Yes");
        assert_eq!(Value::Boolean(false).to_string(), "No");
        assert_eq!(Value::Text("CRC32C".into()).to_string(), "CRC32C");
    }

    #[test]
    fn special_values() {
        for special in [Special::NotUnderstood, Special::Irrelevant, Special::Reject] {
            assert_eq!(Special::parse(special.as_str()), Some(special));
        }
        assert_eq!(Special::parse("reject"), None);
    }
}
