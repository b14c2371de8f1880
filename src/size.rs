//! Sizes written the way fio and ublk users write them: `4k`, `1M`, `512`, `2g` (binary units).

use std::fmt;

/// A byte count parsed from `NUMBER[k|m|g|t][i][b]`, case-insensitive, powers of 1024.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size(pub u64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SizeError(String);

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad size {:?}: expected a number with an optional k/m/g/t suffix, e.g. 4k or 1M",
            self.0
        )
    }
}

impl std::error::Error for SizeError {}

impl std::str::FromStr for Size {
    type Err = SizeError;

    fn from_str(text: &str) -> Result<Size, SizeError> {
        let bad = || SizeError(text.to_owned());
        let lower = text.trim().to_ascii_lowercase();
        let unit_start = lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len());
        let (digits, unit) = lower.split_at(unit_start);
        let number: u64 = digits.parse().map_err(|_| bad())?;
        let shift = match unit.trim_end_matches('b').trim_end_matches('i') {
            "" => 0,
            "k" => 10,
            "m" => 20,
            "g" => 30,
            "t" => 40,
            _ => return Err(bad()),
        };
        number.checked_mul(1 << shift).map(Size).ok_or_else(bad)
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let units = [(40, "T"), (30, "G"), (20, "M"), (10, "K")];
        for (shift, name) in units {
            if self.0 >= 1 << shift && self.0 % (1 << shift) == 0 {
                return write!(f, "{}{name}", self.0 >> shift);
            }
        }
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests;
