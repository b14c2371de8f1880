//! Work-request credit accounting for one connection (cxgb3i `push_tx_frames` and libcxgbi
//! `cxgbi_sock_rcv_wr_ack`).
//!
//! The firmware accepts `FW_WR_NUM = 16` work requests per connection; the driver uses 15 credits.
//! A TX_DATA costs one credit per 15-flit (120-byte) work-request unit its gather list needs.
//! Credits come back with TX_DMA_ACK; the host asks for one (sets F_WR_COMPL) once half the
//! credits are unacknowledged, so a stalled connection always has an ACK on its way.

use std::collections::VecDeque;
use std::num::NonZeroU16;

use thiserror::Error;

/// Work requests the firmware queues per connection.
pub(crate) const FW_WR_NUM: u16 = 16;
/// Credits the host may have outstanding per connection (`wr_max_cred`).
pub(crate) const WR_MAX_CREDITS: u16 = FW_WR_NUM - 1;
const T3_MAX_CREDITS: NonZeroU16 = match NonZeroU16::new(WR_MAX_CREDITS) {
    Some(max) => max,
    None => panic!("WR_MAX_CREDITS is not zero"),
};
/// 8-byte flits in one work-request unit (`WR_FLITS = 16 + 1 - 2`).
pub(crate) const WR_FLITS: u32 = 15;
/// Bytes in one work-request unit.
pub(crate) const WR_LEN: u32 = WR_FLITS * 8;
/// Bytes of the `tx_data_wr` header in front of the data.
pub(crate) const TX_DATA_WR_HEADER_LEN: u32 = 24;

/// Credit accounting errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum CreditError {
    /// A TX_DATA always has at least one gather fragment (the header).
    #[error("a TX_DATA needs at least one gather fragment")]
    NoFragments,
    /// A request costing more than the connection's credit limit could never be sent.
    #[error("request needs {needed} credits, more than the limit of {max}")]
    ExceedsLimit {
        /// Credits it would cost.
        needed: u64,
        /// Credit limit.
        max: u16,
    },
    /// TX_DMA_ACK returned more credits than are outstanding; nothing was changed.
    #[error("ack returns {returned} credits but only {outstanding} are outstanding")]
    BogusAck {
        /// Credits in the ack.
        returned: u16,
        /// Credits outstanding before it.
        outstanding: u16,
    },
    /// Available plus pending credits no longer add up to the limit.
    #[error("credits {available} + pending {pending} != {max}")]
    InvariantBroken {
        /// Credits available.
        available: u16,
        /// Credits held by unacknowledged requests.
        pending: u32,
        /// Credit limit.
        max: u16,
    },
}

/// Not enough credits right now; retry after a TX_DMA_ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("request needs {needed} credits, {available} available")]
pub(crate) struct CreditStall {
    /// Credits the request costs.
    pub needed: u16,
    /// Credits available.
    pub available: u16,
}

/// Credits a TX_DATA costs: its gather list takes `floor(3i/2) + (i & 1) + 3` flits for `i`
/// fragments; up to 15 flits is one credit, beyond that `1 + (flits - 2) / 14`. A request whose
/// whole `len` bytes fit in one 120-byte unit with the 24-byte header costs one credit anyway.
pub(crate) fn tx_data_credits(fragments: u32, len: u32) -> Result<NonZeroU16, CreditError> {
    if fragments == 0 {
        return Err(CreditError::NoFragments);
    }
    let fragments = u64::from(fragments);
    let flits = 3 * fragments / 2 + (fragments & 1) + 3;
    let credits = if flits <= u64::from(WR_FLITS) {
        1
    } else {
        1 + (flits - 2) / u64::from(WR_FLITS - 1)
    };
    let fits_one_unit = u64::from(len) + u64::from(TX_DATA_WR_HEADER_LEN) <= u64::from(WR_LEN);
    let credits = if credits > 1 && fits_one_unit {
        1
    } else {
        credits
    };
    u16::try_from(credits)
        .ok()
        .filter(|&credits| credits <= WR_MAX_CREDITS)
        .and_then(NonZeroU16::new)
        .ok_or(CreditError::ExceedsLimit {
            needed: credits,
            max: WR_MAX_CREDITS,
        })
}

/// What a successful [`WrCredits::try_consume`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Consumed {
    /// Credits taken.
    pub credits: u16,
    /// Whether to set the completion flag on this request.
    pub request_completion: bool,
}

/// Credit state of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WrCredits {
    max: u16,
    available: u16,
    /// Credits consumed since the last requested completion (`wr_una_cred`).
    unacked_since_completion: u16,
    /// Credits still held by each unacknowledged request, oldest first.
    pending: VecDeque<u16>,
}

impl Default for WrCredits {
    /// The T3 limit of 15 credits.
    fn default() -> WrCredits {
        WrCredits::with_max(T3_MAX_CREDITS)
    }
}

impl WrCredits {
    /// A connection allowed `max` credits, all available.
    pub(crate) fn with_max(max: NonZeroU16) -> WrCredits {
        WrCredits {
            max: max.get(),
            available: max.get(),
            unacked_since_completion: 0,
            pending: VecDeque::new(),
        }
    }

    #[cfg(test)]
    /// Credits available now.
    pub(crate) fn available(&self) -> u16 {
        self.available
    }

    /// Credits held by unacknowledged requests.
    pub(crate) fn outstanding(&self) -> u16 {
        self.max - self.available
    }

    #[cfg(test)]
    /// Requests sent and not yet fully acknowledged.
    pub(crate) fn pending_requests(&self) -> usize {
        self.pending.len()
    }

    /// Takes `credits` for one request, or reports a stall without changing anything.
    ///
    /// A completion is requested when the caller asks for one and this request starts a new
    /// unacknowledged batch, or when half the limit is unacknowledged; either resets the count.
    pub(crate) fn try_consume(
        &mut self,
        credits: NonZeroU16,
        caller_wants_completion: bool,
    ) -> Result<Consumed, CreditStall> {
        let credits = credits.get();
        if credits > self.available {
            return Err(CreditStall {
                needed: credits,
                available: self.available,
            });
        }
        self.available -= credits;
        // Bounded by max: available dropped by the same amount.
        self.unacked_since_completion += credits;
        self.pending.push_back(credits);
        let request_completion = (caller_wants_completion
            && self.unacked_since_completion == credits)
            || self.unacked_since_completion >= self.max / 2;
        if request_completion {
            self.unacked_since_completion = 0;
        }
        Ok(Consumed {
            credits,
            request_completion,
        })
    }

    /// Applies a TX_DMA_ACK returning `returned` credits. Returns how many requests are now fully
    /// acknowledged (oldest first); an ack may also cover part of a request.
    pub(crate) fn on_ack(&mut self, returned: u16) -> Result<usize, CreditError> {
        let outstanding = self.outstanding();
        if returned > outstanding {
            return Err(CreditError::BogusAck {
                returned,
                outstanding,
            });
        }
        self.available += returned;
        self.unacked_since_completion =
            self.unacked_since_completion.min(self.max - self.available);
        let mut left = returned;
        let mut completed = 0;
        while left > 0 {
            let Some(front) = self.pending.front_mut() else {
                break;
            };
            if left < *front {
                *front -= left;
                break;
            }
            left -= *front;
            self.pending.pop_front();
            completed += 1;
        }
        self.check_invariant()?;
        Ok(completed)
    }

    /// Checks `available + pending == max`.
    pub(crate) fn check_invariant(&self) -> Result<(), CreditError> {
        let pending: u32 = self.pending.iter().map(|&credits| u32::from(credits)).sum();
        if u32::from(self.available) + pending != u32::from(self.max) {
            return Err(CreditError::InvariantBroken {
                available: self.available,
                pending,
                max: self.max,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
