//! Tokens: how the engine names each SQE it hands to the ring owner.
//!
//! A token is 24 bits so it fits what libublk leaves a target in a CQE's user data
//! (`build_user_data(tag, op: 8 bits, tgt_data: 16 bits, true)`: put `token & 0xff` in `op` and
//! `token >> 8` in `tgt_data`):
//!
//! ```text
//!  23 ........ 12 | 11 ...... 4 | 3 .. 0
//!  connection slot | generation  | op kind
//! ```
//!
//! The generation advances each time a slot is reused, so a late CQE of a closed connection can
//! never be taken for one of its successor's. The same slot and generation form the TID.

use crate::tid::Tid;

/// Bits a token occupies; every token is below `1 << TOKEN_BITS`.
pub const TOKEN_BITS: u32 = 24;
/// Connections one engine can hold at once.
pub(super) const MAX_CONNECTIONS: usize = 1 << SLOT_BITS;

const OP_BITS: u32 = 4;
const GEN_BITS: u32 = 8;
const SLOT_BITS: u32 = 12;
const OP_MASK: u64 = (1 << OP_BITS) - 1;
const GEN_MASK: u64 = (1 << GEN_BITS) - 1;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;

/// What an SQE does, so its CQE goes to the right handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpKind {
    /// IORING_OP_CONNECT of an active open.
    Connect = 1,
    /// A transmit op (SENDMSG or WRITE_FIXED) of the connection's send chain.
    Tx = 2,
    /// A receive op (RECV or READ_FIXED) of the connection's receive chain.
    Rx = 3,
    /// IORING_OP_SHUTDOWN(SHUT_WR) of a graceful close.
    Shutdown = 4,
    /// IORING_OP_ASYNC_CANCEL of every op on the connection's socket.
    Cancel = 5,
    /// A TCP_CORK setsockopt around a send chain.
    Cork = 6,
}

impl OpKind {
    fn from_bits(bits: u64) -> Option<OpKind> {
        match bits {
            1 => Some(OpKind::Connect),
            2 => Some(OpKind::Tx),
            3 => Some(OpKind::Rx),
            4 => Some(OpKind::Shutdown),
            5 => Some(OpKind::Cancel),
            6 => Some(OpKind::Cork),
            _ => None,
        }
    }
}

/// One use of a connection slot: the slot number and its generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ConnKey {
    pub slot: u16,
    pub generation: u8,
}

impl ConnKey {
    /// The TID the initiator knows this connection by: generation above the slot number.
    pub(super) fn tid(self) -> Tid {
        Tid::from_low_bits((u32::from(self.generation) << SLOT_BITS) | u32::from(self.slot))
    }

    /// The key a TID names, if it could be one of ours (the slot is in range).
    pub(super) fn from_tid(tid: Tid) -> Option<ConnKey> {
        let value = u64::from(tid.value());
        if value >> (SLOT_BITS + GEN_BITS) != 0 {
            return None;
        }
        Some(ConnKey {
            slot: (value & SLOT_MASK) as u16,
            generation: ((value >> SLOT_BITS) & GEN_MASK) as u8,
        })
    }

    /// The token for an op of this connection.
    pub(super) fn token(self, op: OpKind) -> u64 {
        (u64::from(self.slot) << (OP_BITS + GEN_BITS))
            | (u64::from(self.generation) << OP_BITS)
            | op as u64
    }
}

/// Splits a token back into its connection and op; `None` for anything the engine never issued.
pub(crate) fn decode_token(token: u64) -> Option<(ConnKey, OpKind)> {
    if token >> TOKEN_BITS != 0 {
        return None;
    }
    let op = OpKind::from_bits(token & OP_MASK)?;
    let key = ConnKey {
        slot: ((token >> (OP_BITS + GEN_BITS)) & SLOT_MASK) as u16,
        generation: ((token >> OP_BITS) & GEN_MASK) as u8,
    };
    Some((key, op))
}

#[cfg(test)]
mod tests;
