//! Connection identifiers (TIDs).
//!
//! T3 names an offloaded connection by a 24-bit TID: CPL messages carry it in the low 24 bits of
//! their opcode/TID word, and a page pod's `vld_tid` word carries it in bits 0..23 next to the
//! valid flag. Making the width a type means a pod header or work request can never silently
//! truncate a TID.

use thiserror::Error;

/// Number of bits a TID occupies.
pub(crate) const TID_BITS: u32 = 24;
/// Largest representable TID.
pub(crate) const TID_MAX: u32 = (1 << TID_BITS) - 1;

/// A connection's hardware TID (24 bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tid(u32);

/// A value that does not fit the 24-bit TID field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("tid {tid:#x} does not fit in {TID_BITS} bits")]
pub struct TidOutOfRange {
    /// The rejected value.
    pub tid: u32,
}

impl Tid {
    /// TID 0.
    pub const ZERO: Tid = Tid(0);

    /// The TID in the low 24 bits of a word that carries other fields above it (a CPL's
    /// opcode/TID word, a pod's `vld_tid`).
    pub fn from_low_bits(word: u32) -> Tid {
        Tid(word & TID_MAX)
    }

    /// Validates `tid` against the 24-bit field.
    pub fn new(tid: u32) -> Result<Tid, TidOutOfRange> {
        if tid > TID_MAX {
            return Err(TidOutOfRange { tid });
        }
        Ok(Tid(tid))
    }

    /// The TID as a plain integer (always `<= TID_MAX`).
    pub fn value(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests;
