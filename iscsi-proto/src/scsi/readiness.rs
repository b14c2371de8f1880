//! TEST UNIT READY (SPC-5 6.37): the command used while bringing a LUN up.

use super::cdb::{opcode, Cdb, ScsiRequest};

/// TEST UNIT READY: no data; GOOD when the LU can accept media-access commands, otherwise
/// CHECK CONDITION with the reason in the sense data.
pub fn test_unit_ready() -> ScsiRequest {
    ScsiRequest::no_data(Cdb::fixed([opcode::TEST_UNIT_READY, 0, 0, 0, 0, 0]))
}

#[cfg(test)]
mod tests;
