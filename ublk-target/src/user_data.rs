//! Who owns a CQE on a queue ring.
//!
//! One io_uring per queue carries three kinds of operations: libublk's FETCH /
//! COMMIT_AND_FETCH commands, the offload engine's socket operations, and the queue loop's own
//! tick timer. libublk marks everything that is not one of its commands with bit 63
//! (`UblkUringData::Target`) and counts only the rest as ublk commands, so every SQE we push
//! carries that bit. Below it:
//!
//! ```text
//!  63 | 62 .. 32 | 31 .. 24 | 23 ............ 0
//!   1 |    0     | source   | engine token (t3-hw TOKEN_BITS)
//! ```
//!
//! Source 1 is the engine (the token goes back to `Engine::on_cqe` unchanged), source 2 the
//! tick timer, source 3 the supervisor's wake-up timer. A ublk command's user data has bit 63 clear and its tag in bits 0..16
//! (libublk's `build_user_data`).

use t3_hw::TOKEN_BITS;

/// libublk's "target I/O" bit (`libublk::UblkUringData::Target`).
pub(crate) const TARGET_BIT: u64 = 1 << 63;
const SOURCE_SHIFT: u32 = 24;
const SOURCE_MASK: u64 = 0xff;
const TOKEN_MASK: u64 = (1 << TOKEN_BITS) - 1;
const ENGINE_SOURCE: u64 = 1;
const TICK_SOURCE: u64 = 2;
const WAKEUP_SOURCE: u64 = 3;
/// Bits 32..63 are never set by us; a CQE with any of them is not ours.
const RESERVED_MASK: u64 = !(TARGET_BIT | (SOURCE_MASK << SOURCE_SHIFT) | TOKEN_MASK);

/// What a CQE is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CqeOwner {
    /// A ublk FETCH / COMMIT_AND_FETCH completion for this tag.
    UblkCommand { tag: u16 },
    /// An offload engine operation: hand the token to `Engine::on_cqe`.
    Engine { token: u64 },
    /// The queue loop's tick timer.
    Tick,
    /// The queue loop's timer for the supervisor's next deadline.
    Wakeup,
    /// Target I/O we never issued.
    Foreign,
}

/// User data for an engine SQE; `token` must be below `1 << TOKEN_BITS` (the engine promises
/// it), anything above is masked off so the tag bits of libublk are never touched.
pub(crate) fn engine(token: u64) -> u64 {
    debug_assert!(
        token <= TOKEN_MASK,
        "engine token {token:#x} exceeds TOKEN_BITS"
    );
    TARGET_BIT | (ENGINE_SOURCE << SOURCE_SHIFT) | (token & TOKEN_MASK)
}

/// User data of the tick timer.
pub(crate) const fn tick() -> u64 {
    TARGET_BIT | (TICK_SOURCE << SOURCE_SHIFT)
}

/// User data of the supervisor's wake-up timer.
pub(crate) const fn wakeup() -> u64 {
    TARGET_BIT | (WAKEUP_SOURCE << SOURCE_SHIFT)
}

/// Decodes a CQE's user data.
pub(crate) fn owner(user_data: u64) -> CqeOwner {
    if user_data & TARGET_BIT == 0 {
        return CqeOwner::UblkCommand {
            tag: (user_data & 0xffff) as u16,
        };
    }
    if user_data & RESERVED_MASK != 0 {
        return CqeOwner::Foreign;
    }
    match (user_data >> SOURCE_SHIFT) & SOURCE_MASK {
        ENGINE_SOURCE => CqeOwner::Engine {
            token: user_data & TOKEN_MASK,
        },
        TICK_SOURCE if user_data & TOKEN_MASK == 0 => CqeOwner::Tick,
        WAKEUP_SOURCE if user_data & TOKEN_MASK == 0 => CqeOwner::Wakeup,
        _ => CqeOwner::Foreign,
    }
}

#[cfg(test)]
mod tests;
