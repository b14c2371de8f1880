//! RFC 1982 serial number arithmetic for 32-bit sequence numbers (CmdSN, StatSN, DataSN, R2TSN).
//!
//! Two numbers exactly 2^31 apart are incomparable: neither is less than the other.

/// A 32-bit serial number that compares the RFC 1982 way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct Sn(pub(crate) u32);

impl Sn {
    /// `self < other` in serial arithmetic.
    #[inline]
    pub(crate) fn lt(self, other: Sn) -> bool {
        let d = other.0.wrapping_sub(self.0);
        d != 0 && d < 1 << 31
    }

    /// `self > other` in serial arithmetic.
    #[inline]
    pub(crate) fn gt(self, other: Sn) -> bool {
        other.lt(self)
    }

    #[inline]
    pub(crate) fn next(self) -> Sn {
        Sn(self.0.wrapping_add(1))
    }

    #[inline]
    pub(crate) fn plus(self, n: u32) -> Sn {
        Sn(self.0.wrapping_add(n))
    }

    /// How far `self` is ahead of `earlier` (wrapping), for window sizes.
    #[inline]
    pub(crate) fn distance_from(self, earlier: Sn) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }
}

#[cfg(test)]
mod tests;
